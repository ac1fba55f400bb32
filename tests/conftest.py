"""Shared fixtures. Real data comes from ../shared/data (or $TINYLM_SHARED_DATA); tests that
need it skip when it is absent, as in a user's fresh clone."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tinylm.device import compile_cache_for_this_cpu

# As tinylm does before it compiles: the tests that call torch.compile themselves (and every
# process they start) use inductor's cache of this CPU dispatch, never one filled under another.
compile_cache_for_this_cpu()

# Ctrl-C as a terminal gives it. A suite started in the background (`pytest ... &` from a
# script or some CI runners) inherits SIGINT ignored, and so would every tinylm process it
# starts: the tests that press Ctrl-C would test nothing. Python's own handler here makes the
# children start with the default again.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("TINYLM_SHARED_DATA", ROOT.parent / "shared" / "data"))


def shared_file(relative: str) -> Path:
    path = SHARED / relative
    if not path.is_file():
        pytest.skip(f"shared data not available: {path}")
    return path


@pytest.fixture(scope="session")
def tinystories_v1() -> Path:
    return shared_file("tinystories/v1-train-head.txt")


@pytest.fixture(scope="session")
def tinystories_v2() -> Path:
    return shared_file("tinystories/v2-gpt4-train-head.txt")


@pytest.fixture(scope="session")
def chinese_csv() -> Path:
    return shared_file("zh/tiny-chinese-stories.csv")


@pytest.fixture(scope="session")
def stories260k(tmp_path_factory) -> Path:
    """llama2.c's stories260K imported with its sentencepiece model, through the CLI (tests
    read it, never write into it)."""
    run = tmp_path_factory.mktemp("llama2c") / "stories260k"
    result = run_cli(
        "import",
        str(shared_file("llama2c/stories260K.bin")),
        "--tokenizer",
        str(shared_file("llama2c/tok512.model")),
        "--out",
        str(run),
    )
    assert result.returncode == 0, result.stderr
    assert "dim 64, 5 layers, 8 heads, 4 kv heads, vocab 512, context 512" in result.stdout
    return run


def run_cli(
    *args: str, cwd: Path | None = None, timeout: float = 600
) -> subprocess.CompletedProcess:
    """Run the real `tinylm` entry point in a subprocess, as a user would."""
    return subprocess.run(
        [sys.executable, "-m", "tinylm", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "PYTHONUNBUFFERED": "1", "COLUMNS": "120"},
    )


def interrupt_run(args: list[str], run_dir: Path, after_step: int, timeout: float = 300) -> str:
    """Start `tinylm *args` (a training command writing `run_dir`), press Ctrl-C once its
    metrics.jsonl has reached `after_step`, and return its output; it must exit with 130."""
    import json
    import signal
    import time

    proc = subprocess.Popen(
        [sys.executable, "-m", "tinylm", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )

    def reached() -> bool:
        path = run_dir / "metrics.jsonl"
        for line in path.read_text().splitlines() if path.exists() else []:
            try:
                if json.loads(line).get("step", 0) >= after_step:
                    return True
            except json.JSONDecodeError:  # a line being written right now
                continue
        return False

    deadline = time.time() + timeout
    while time.time() < deadline and not reached():
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)  # Ctrl-C: finish the step, save, exit
    out, _ = proc.communicate(timeout=timeout)
    assert proc.returncode == 130, out
    return out


def first_stories(path: Path, n: int) -> list[str]:
    from tinylm.data.readers import read_stories

    out = []
    for story in read_stories(path):
        out.append(story)
        if len(out) == n:
            break
    return out


@pytest.fixture(scope="session")
def en_tokenizer(tmp_path_factory, tinystories_v1):
    """A real 1024-token BPE trained on real TinyStories text."""
    from tinylm.data.readers import read_stories
    from tinylm.tokenizer import train_tokenizer

    tok = train_tokenizer(read_stories(tinystories_v1), 1024, show_progress=False)
    path = tmp_path_factory.mktemp("tok") / "tokenizer.json"
    tok.save(path)
    return path


@pytest.fixture(scope="session")
def en_data(tmp_path_factory, tinystories_v1, en_tokenizer) -> Path:
    from tinylm.data.prepare import prepare

    out = tmp_path_factory.mktemp("data") / "en"
    prepare([str(tinystories_v1)], out, tokenizer_path=en_tokenizer, show_progress=False)
    return out


@pytest.fixture(scope="session")
def trained_run(tmp_path_factory, en_data) -> Path:
    """The 260k preset trained 150 steps on real TinyStories: shared by generate/eval tests."""
    from tinylm.config import build_configs
    from tinylm.trainer import Trainer

    out = tmp_path_factory.mktemp("runs") / "tiny"
    model_cfg, train_cfg = build_configs(
        "260k",
        flag_model={"max_seq_len": 128},
        flag_train={
            "max_steps": 150,
            "batch_size": 16,
            "grad_accum": 1,
            "eval_every": 50,
            "eval_batches": 4,
            "save_every": 100,
            "dtype": "fp32",
            "lr": 3e-3,
            "warmup": 10,
        },
    )
    Trainer(en_data, out, model_cfg, train_cfg, show_progress=False).fit()
    return out


@contextlib.contextmanager
def tmpfs(path: Path, size: str, readonly: bool = False):
    """A small filesystem of its own at `path` (root only; the test skips elsewhere): a full
    or read-only disk that is real to every program."""
    path.mkdir(parents=True, exist_ok=True)
    options = f"size={size}" + (",ro" if readonly else "")
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(path)], capture_output=True
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({mounted.stderr.decode().strip()})")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)
