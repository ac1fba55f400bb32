"""`tinylm gui` end to end in a real headless Chromium: load a model, watch a story stream in
and stop one, train from the browser and watch progress and the loss plot move, stop, delete.
Screenshots of every step land in a pytest temp folder (printed; `pytest -s` shows the path)."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tinylm.generate import SamplingOptions
from tinylm.gui.browser import (
    browser_missing,
    choose,
    chromium_page,
    field,
    free_port,
    running_gui,
    set_slider,
    start_tinylm,
    start_training,
    stop_process,
    wait_for_text,
    wait_until_up,
)
from tinylm.gui.jobfile import read_job
from tinylm.run import load_run
from tinylm.serve.engine import Engine

pytestmark = pytest.mark.skipif(browser_missing() is not None, reason=str(browser_missing()))

PROMPT = "Once upon a time"
GUI_MAX_TOKENS = 4000
LONG_TOKENS = 400
LONG_TEMPERATURE = 2.0


@pytest.fixture(scope="module")
def gui(trained_run, en_data, tmp_path_factory):
    """`tinylm gui` over a runs folder holding a copy of the trained run and a data folder
    holding the prepared TinyStories shards; yields (url, runs, data, shots folder)."""
    root = tmp_path_factory.mktemp("gui")
    runs, data, shots = root / "runs", root / "data", root / "screenshots"
    shutil.copytree(trained_run, runs / "tiny")
    shutil.copytree(en_data, data / "tinystories")
    shots.mkdir()
    with running_gui(runs, data, root / "gui.log", "--max-tokens", str(GUI_MAX_TOKENS)) as (
        url,
        _,
    ):
        print(f"\nGUI screenshots: {shots}")
        yield url, runs, data, shots


def _long_story(lm) -> tuple[int, str]:
    """A seed whose story (at LONG_TEMPERATURE) runs past LONG_TOKENS tokens without ending, so the
    Stop button has something to stop even on a fast machine; and that story's beginning."""
    for seed in range(60):
        options = SamplingOptions(
            max_new_tokens=LONG_TOKENS, temperature=LONG_TEMPERATURE, top_p=0.95, seed=seed
        )
        with Engine().reserve() as slot:
            stream = slot.stream(lm, PROMPT, options)
            stream.collect()
        if stream.finish_reasons[0] == "length":
            return seed, PROMPT + stream.texts[0]
    raise AssertionError(f"no seed in 0..59 gives a story longer than {LONG_TOKENS} tokens")


def record_lengths(page, selector: str) -> None:
    """Sample the length of a text box every 10 ms inside the page (window.tlLengths), which
    sees streamed updates that polling from the test process would miss."""
    page.evaluate(
        """(selector) => {
            window.tlLengths = [];
            window.tlTimer = setInterval(() => {
                const box = document.querySelector(selector);
                window.tlLengths.push(box ? box.value.length : -1);
            }, 10);
        }""",
        selector,
    )


def open_app(page, url: str) -> None:
    page.goto(url)
    page.wait_for_selector("#runs-table", timeout=60_000)


def test_load_a_model_and_watch_a_story_stream_then_stop_one(gui, trained_run) -> None:
    url, _, _, shots = gui
    lm = load_run(trained_run)
    params = json.loads((trained_run / "config.json").read_text())["parameters"]
    long_seed, long_text = _long_story(lm)
    with chromium_page() as page:
        open_app(page, url)
        table = page.inner_text("#runs-table")
        assert "tiny" in table and f"{params / 1e6:.2f}M" in table and "ready" in table
        assert f"BPE {lm.tokenizer.vocab_size}" in table
        page.screenshot(path=shots / "models.png", full_page=True)
        choose(page, "models-run", "tiny")
        page.click("#models-load")
        wait_for_text(page, "#models-status", "loaded tiny")

        # A story with the default settings: exactly what the library writes with them.
        page.get_by_role("tab", name="Generate").click()
        assert field(page, "gen-model").input_value() == "tiny"
        field(page, "gen-seed").fill("1")
        page.click("#gen-go")
        status = wait_for_text(page, "#gen-status", "tokens in", timeout=120)
        assert "ended by itself" in status or "token limit" in status
        story = field(page, "gen-output").input_value()
        assert story == lm.generate(PROMPT, max_new_tokens=300, temperature=0.8, top_p=0.95, seed=1)
        page.screenshot(path=shots / "generate.png", full_page=True)

        # A long story: watch it grow, then stop it.
        set_slider(page, "gen-temperature", LONG_TEMPERATURE)
        set_slider(page, "gen-max-tokens", GUI_MAX_TOKENS)
        field(page, "gen-seed").fill(str(long_seed))
        record_lengths(page, "#gen-output textarea")
        page.click("#gen-go")
        deadline = time.monotonic() + 120
        while len({n for n in page.evaluate("window.tlLengths") if n > len(PROMPT)}) < 3:
            assert time.monotonic() < deadline, page.evaluate("window.tlLengths")
            page.wait_for_timeout(20)
        page.click("#gen-stop")  # the text grew in several steps (it streams); now stop it
        wait_for_text(page, "#gen-status", "stopped by you")
        page.wait_for_timeout(1000)
        stopped = field(page, "gen-output").input_value()
        page.wait_for_timeout(1500)
        assert field(page, "gen-output").input_value() == stopped  # nothing more arrives
        # Cut short: a strict beginning of the story that runs on for over LONG_TOKENS tokens.
        assert long_text.startswith(stopped) and len(PROMPT) < len(stopped) < len(long_text)
        # The stopped generation gave its slot back: the next one runs.
        set_slider(page, "gen-max-tokens", 20)
        page.click("#gen-go")
        wait_for_text(page, "#gen-status", "tokens in")

        # Compare: the same model twice with one seed writes the same story twice.
        choose(page, "cmp-a", "tiny")
        choose(page, "cmp-b", "tiny")
        page.click("#cmp-go")
        wait_for_text(page, "#cmp-status", "B:")
        a, b = field(page, "cmp-out-a").input_value(), field(page, "cmp-out-b").input_value()
        assert a == b and a.startswith(PROMPT) and len(a) > len(PROMPT)


@contextlib.contextmanager
def _removed_after(folder: Path):
    """The other tests of this module see the runs folder as the fixture made it."""
    try:
        yield
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def test_a_quantized_run_loads_and_writes_in_the_browser(gui, trained_run) -> None:
    """An int8 run in the runs folder is listed, loads (the status names its weights) and
    writes in the Generate tab what the library writes with it."""
    from tinylm.quant.command import quantize_run

    url, runs, _, shots = gui
    quantized = quantize_run(trained_run, runs / "tiny-int8", "int8", say=lambda *_: None)
    lm = load_run(quantized)
    with chromium_page() as page, _removed_after(quantized):
        open_app(page, url)
        wait_for_text(page, "#runs-table", "tiny-int8")
        choose(page, "models-run", "tiny-int8")
        page.click("#models-load")
        wait_for_text(page, "#models-status", "int8 weights")
        page.get_by_role("tab", name="Generate").click()
        choose(page, "gen-model", "tiny-int8")
        field(page, "gen-seed").fill("3")
        page.click("#gen-go")
        wait_for_text(page, "#gen-status", "tokens in", timeout=120)
        story = field(page, "gen-output").input_value()
        page.screenshot(path=shots / "generate-int8.png", full_page=True)
    assert story == lm.generate(PROMPT, max_new_tokens=300, temperature=0.8, top_p=0.95, seed=3)


def test_evaluate_tab_shows_the_eval_report(gui, en_data) -> None:
    url, _, _, shots = gui
    with chromium_page() as page:
        open_app(page, url)
        page.get_by_role("tab", name="Evaluate").click()
        choose(page, "eval-run", "tiny")
        choose(page, "eval-data", "tinystories")
        page.click("#eval-go")
        report = wait_for_text(page, "#eval-report", "perplexity", timeout=180)
        assert page.inner_text("#eval-status") == "tiny on tinystories"
        page.screenshot(path=shots / "evaluate.png", full_page=True)
    assert "bits per byte" in report
    loss = float(report.split("loss (nats/token)")[1].split()[0])
    assert 1.0 < loss < 6.0  # trained: well below ln(1024) = 6.93


@pytest.mark.slow
def test_evaluate_tab_writes_and_shows_the_full_report(gui) -> None:
    url, runs, _, shots = gui
    with chromium_page() as page:
        open_app(page, url)
        page.get_by_role("tab", name="Evaluate").click()
        choose(page, "eval-run", "tiny")
        choose(page, "eval-data", "tinystories")
        page.locator("#eval-full input").check()
        page.click("#eval-go")
        status = wait_for_text(page, "#eval-status", "report in", timeout=900)
        report = page.inner_text("#eval-report")
        page.wait_for_selector("#eval-plots img", timeout=30_000)
        shown_plots = page.locator("#eval-plots img").count()
        page.screenshot(path=shots / "evaluate-report.png", full_page=True)
    folder = runs / status.split("report in ")[1].strip()
    assert folder.parent == runs / "tiny" / "reports" and (folder / "report.md").is_file()
    assert "Evaluation report" in report and "Sample completions" in report
    assert shown_plots >= len(list(folder.glob("*.png"))) >= 1


@pytest.mark.slow
def test_train_in_the_browser_watch_progress_and_plot_stop_and_delete(gui) -> None:
    url, runs, _, shots = gui
    with chromium_page() as page:
        open_app(page, url)
        start_training(
            page, "web", "tinystories", "260k", 400, batch_size=8, context=64, eval_every=10
        )
        progress = wait_for_text(page, "#train-progress", "tok/s", timeout=180)
        assert "step " in progress and "/400" in progress and "ETA" in progress
        first_plot = page.locator("#train-plot img").first.get_attribute("src")
        first_step = int(page.get_attribute("#train-progress .tl-progress", "data-step"))
        deadline = time.monotonic() + 180
        while True:
            page.wait_for_timeout(1000)
            step = int(page.get_attribute("#train-progress .tl-progress", "data-step"))
            plot = page.locator("#train-plot img").first.get_attribute("src")
            if step >= first_step + 10 and plot != first_plot:
                break
            assert time.monotonic() < deadline, "progress or plot never moved"
        assert "web" in page.inner_text("#jobs-table")
        page.get_by_text("log", exact=True).click()
        page.screenshot(path=shots / "train.png", full_page=True)
        page.click("#train-stop")
        wait_for_text(page, "#train-progress", "stopped", timeout=120)
        job = read_job(runs / "web")
        assert job["state"] == "stopped" and job["returncode"] == 130
        assert any((runs / "web" / "checkpoints").iterdir())

        # Several runs' validation curves on one plot (the tab lists runs as it opens).
        page.get_by_role("tab", name="Models").click()
        page.get_by_role("tab", name="Train").click()
        page.get_by_text("compare runs", exact=True).click()
        choose(page, "train-compare", "tiny")
        choose(page, "train-compare", "web")
        page.wait_for_selector("#train-compare-plot img", timeout=30_000)
        page.screenshot(path=shots / "train-compare.png", full_page=True)

        # Delete asks first, and only the confirmed run goes.
        page.get_by_role("tab", name="Models").click()
        wait_for_text(page, "#runs-table", "web")
        choose(page, "models-run", "web")
        page.click("#models-delete")
        wait_for_text(page, "#delete-confirm", "cannot be undone")
        assert (runs / "web").is_dir()
        page.click("#delete-yes")
        wait_for_text(page, "#models-status", "deleted web")
        assert not (runs / "web").exists() and (runs / "tiny").is_dir()
        assert "web" not in page.inner_text("#runs-table")


def test_ui_reaches_nothing_outside_its_folders(gui) -> None:
    """Through Gradio's own API, as a script (not the page) could call it."""
    from gradio_client import Client
    from gradio_client.exceptions import AppError

    url, runs, data, _ = gui
    secret = runs.parent / "secret"
    secret.mkdir(exist_ok=True)
    (secret / "config.json").write_text('{"model": {}}')
    api = Client(url, verbose=False)
    for name in ("../secret", str(secret), "tiny/../../secret", ".."):
        # Gradio refuses a value its dropdown never offered; were it not to, the workspace would.
        with pytest.raises(AppError, match="not in the list of choices"):
            api.predict(name, api_name="/load_run")
        with pytest.raises(AppError, match="not in the list of choices"):
            api.predict(name, "(the data it was trained on)", None, False, api_name="/evaluate")
    # A free-text name cannot place a run outside the runs folder either.
    _, status, _ = api.predict(
        "../escaped", "prepared data folder", "en", 20000, "tinystories", None, 1024, "260k",
        "max steps", "10", "", "", "", "", "", "", "", "", "cpu", "none", "",
        "(a new model: the preset)", api_name="/start_training",
    )  # fmt: skip
    assert "name &#x27;../escaped&#x27; is not allowed" in status
    assert not (runs.parent / "escaped").exists() and not (runs / "escaped").exists()
    # Gradio serves none of the folders' files by path.
    for target in (runs / "tiny" / "config.json", data / "tinystories" / "meta.json"):
        try:
            with urllib.request.urlopen(f"{url}gradio_api/file={target}", timeout=30) as r:
                code = r.status
        except urllib.error.HTTPError as err:
            code = err.code
        assert code in (403, 404), (target, code)


@pytest.mark.slow
def test_training_survives_the_gui_restarting(trained_run, en_data, tmp_path: Path) -> None:
    """Start a run, kill the GUI, start a new GUI: it still shows the run training and stops it."""
    runs, data = tmp_path / "runs", tmp_path / "data"
    shutil.copytree(en_data, data / "ts")
    runs.mkdir()
    env = {"OMP_NUM_THREADS": "1"}

    def start_gui() -> tuple[object, str]:
        port = free_port()
        log = tmp_path / f"gui-{port}.log"
        proc = start_tinylm(
            ["gui", "--runs", str(runs), "--data", str(data), "--port", str(port)], log, env
        )
        wait_until_up(f"http://127.0.0.1:{port}/", proc, log)
        return proc, f"http://127.0.0.1:{port}/"

    from gradio_client import Client

    first, url = start_gui()
    try:
        Client(url, verbose=False).predict(
            "bg", "prepared data folder", "en", 20000, "ts", None, 1024, "260k", "max steps",
            "2000", "", "8", "", "", "", "10", "64", "", "cpu", "none", "",
            "(a new model: the preset)", api_name="/start_training"
        )  # fmt: skip
    finally:
        first.send_signal(signal.SIGINT)  # Ctrl-C in the GUI's terminal
        first.wait(timeout=180)  # 60 s was not always enough with the cores busy
    deadline = time.monotonic() + 180
    while not (runs / "bg" / "metrics.jsonl").is_file():
        assert time.monotonic() < deadline, (runs / "bg" / "train.log").read_text()
        time.sleep(0.5)
    job = read_job(runs / "bg")
    assert job["state"] == "running" and os.getsid(job["pid"]) == job["pid"]
    second, url = start_gui()
    try:
        with chromium_page() as page:
            open_app(page, url)
            page.get_by_role("tab", name="Train").click()
            choose(page, "train-watch", "bg")
            wait_for_text(page, "#train-progress", "running", timeout=60)
            page.click("#train-stop")
            wait_for_text(page, "#train-progress", "stopped", timeout=180)
    finally:
        stop_process(second)
    assert read_job(runs / "bg")["returncode"] == 130
