"""Drive the GUI in a real headless browser: the shared setup of the browser tests and of
docs/make_screenshots.py. Debian's Chromium (`apt-get install chromium`) through Playwright's
Python package; nothing is downloaded (never `playwright install`).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

CHROMIUM = os.environ.get("TINYLM_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def browser_missing() -> str | None:
    """Why the browser cannot run here, or None when it can."""
    if not Path(CHROMIUM).is_file():
        return f"no Chromium at {CHROMIUM} (apt-get install chromium, or set TINYLM_CHROMIUM)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright Python package is not installed (pip install -e .[dev])"
    return None


@contextlib.contextmanager
def chromium_page(width: int = 1280, height: int = 900) -> Iterator[Any]:
    """A fresh headless Chromium (its own new profile folder) with one page."""
    with chromium_pages(1, width, height) as pages:
        yield pages[0]


@contextlib.contextmanager
def chromium_pages(n: int, width: int = 1280, height: int = 900) -> Iterator[list[Any]]:
    """`n` pages, each in a headless Chromium of its own (own profile folder: own cookies and
    Gradio session), as `n` people at `n` computers; one Playwright drives them all."""
    from playwright.sync_api import sync_playwright

    profiles = [tempfile.mkdtemp(prefix="tinylm-chromium-") for _ in range(n)]
    try:
        with sync_playwright() as pw:
            contexts = []
            try:
                for profile in profiles:
                    contexts.append(
                        pw.chromium.launch_persistent_context(
                            profile,
                            executable_path=CHROMIUM,
                            headless=True,
                            args=CHROMIUM_ARGS,
                            viewport={"width": width, "height": height},
                        )
                    )
                yield [c.pages[0] if c.pages else c.new_page() for c in contexts]
            finally:
                for context in contexts:
                    context.close()
    finally:
        for profile in profiles:
            shutil.rmtree(profile, ignore_errors=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until_up(url: str, proc: subprocess.Popen, log: Path, timeout: float = 120.0) -> None:
    """Wait for `url` to answer 200, failing early (with the log) if the server process died."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            output = log.read_text(encoding="utf-8", errors="replace")
            raise RuntimeError(f"the server exited with code {proc.returncode}:\n{output}")
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise TimeoutError(f"{url} did not answer within {timeout:.0f}s")


def start_tinylm(args: list[str], log: Path, env: dict[str, str] | None = None) -> subprocess.Popen:
    """`tinylm ARGS` as a real subprocess (a server), output to `log`."""
    handle = open(log, "w", encoding="utf-8")  # noqa: SIM115 - lives as long as the process
    return subprocess.Popen(
        [sys.executable, "-m", "tinylm", *args],
        stdout=handle,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})},
    )


@contextlib.contextmanager
def running_gui(
    runs: Path, data: Path, log: Path, *extra: str
) -> Iterator[tuple[str, subprocess.Popen]]:
    """`tinylm gui` over `runs` and `data` on a free port, on the CPU, one thread per process
    (the GUI, its trainers and the tests share few cores); yields (its URL, the process) once it
    answers, and stops it and the training jobs it started afterwards."""
    port = free_port()
    args = ["gui", "--runs", str(runs), "--data", str(data), "--port", str(port), "--device", "cpu"]
    proc = start_tinylm([*args, *extra], log, {"OMP_NUM_THREADS": "1"})
    url = f"http://127.0.0.1:{port}/"
    try:
        wait_until_up(url, proc, log)
        yield url, proc
    finally:
        stop_process(proc)
        stop_training_jobs(runs)


def stop_training_jobs(runs: Path) -> None:
    """Ctrl-C every GUI training job still running under `runs` (they outlive the GUI)."""
    from tinylm.gui.jobfile import JOB_FILE, read_job

    for job_file in runs.glob(f"*/{JOB_FILE}"):
        job = read_job(job_file.parent) or {}
        if job.get("pid") and job.get("state") in ("running", "stopping", "starting"):
            with contextlib.suppress(ProcessLookupError):
                os.kill(job["pid"], signal.SIGINT)


def stop_process(proc: subprocess.Popen, timeout: float = 20.0) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


# -- driving the page (Playwright `page` objects) -------------------------------------------------


def field(page: Any, elem_id: str) -> Any:
    """The text box (or number box) of the Gradio component with this elem_id."""
    return page.locator(f"#{elem_id} textarea, #{elem_id} input").first


def choose(page: Any, elem_id: str, value: str) -> None:
    """Pick `value` in a Gradio dropdown."""
    page.locator(f"#{elem_id} input").first.click()
    page.get_by_role("option", name=value, exact=True).filter(visible=True).first.click()


def set_slider(page: Any, elem_id: str, value: float) -> None:
    box = page.locator(f"#{elem_id} input[type=number]").first
    box.fill(str(value))
    box.press("Enter")


def wait_for_text(page: Any, selector: str, needle: str, timeout: float = 60.0) -> str:
    deadline = time.monotonic() + timeout
    text = ""
    while time.monotonic() < deadline:
        text = page.inner_text(selector)
        if needle in text:
            return text
        page.wait_for_timeout(200)
    raise AssertionError(f"{selector} never showed {needle!r}; it shows {text!r}")


def start_training(
    page: Any, name: str, data: str, preset: str, max_steps: int, **hyper: int
) -> None:
    """Fill the Train tab's form (a prepared data folder, max steps, hyper-parameters by field
    name: batch_size, context, eval_every...) and press Start."""
    page.get_by_role("tab", name="Train").click()
    page.get_by_label("prepared data folder").check()
    choose(page, "train-data", data)
    field(page, "train-name").fill(name)
    choose(page, "train-preset", preset)
    page.get_by_label("max steps").check()
    field(page, "train-max-steps").fill(str(max_steps))
    page.get_by_text("hyper-parameters").click()
    for key, value in hyper.items():
        field(page, f"train-{key.replace('_', '-')}").fill(str(value))
    page.click("#train-start")
    wait_for_text(page, "#train-start-status", f"started {name}")
