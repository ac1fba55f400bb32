"""Data-parallel training with real `torchrun` processes (gloo on CPU)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import run_cli

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="torchrun tests need Linux")

COMMON = [
    "--dtype",
    "fp32",
    "--max-steps",
    "20",
    "--eval-every",
    "10",
    "--save-every",
    "10",
    "--keep-checkpoints",
    "5",
    "--lr",
    "3e-3",
    "--warmup",
    "4",
]


def short_config(tmp_path: Path) -> Path:
    path = tmp_path / "short.toml"
    path.write_text("[model]\nmax_seq_len = 64\n[train]\neval_batches = 2\n")
    return path


def torchrun(*args: str, nproc: int = 2, timeout: float = 600) -> subprocess.CompletedProcess:
    command = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        f"--nproc_per_node={nproc}",
        "-m",
        "tinylm",
        *args,
    ]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout, env=env)


def curve(run: Path, first: int = 0) -> tuple[list[float], list[float]]:
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    train = [r["train_loss"] for r in rows if "train_loss" in r and r["step"] > first]
    val = [r["val_loss"] for r in rows if "val_loss" in r and r["step"] > first]
    return train, val


def assert_same_curve(a: tuple[list, list], b: tuple[list, list]) -> None:
    assert len(a[0]) == len(b[0]) > 0 and len(a[1]) == len(b[1]) > 0
    for x, y in zip(a[0] + a[1], b[0] + b[1], strict=True):
        assert abs(x - y) < 2e-4 * max(1.0, abs(x)), (a, b)


def single(tmp_path, data, out: Path, *extra: str) -> None:
    result = run_cli(
        "train",
        "--data",
        str(data),
        "--out",
        str(out),
        "--preset",
        "260k",
        "--config",
        str(short_config(tmp_path)),
        "--batch-size",
        "8",
        "--grad-accum",
        "1",
        *COMMON,
        *extra,
    )
    assert result.returncode == 0, result.stderr


def parallel(tmp_path, data, out: Path, *extra: str) -> subprocess.CompletedProcess:
    result = torchrun(
        "train",
        "--data",
        str(data),
        "--out",
        str(out),
        "--preset",
        "260k",
        "--config",
        str(short_config(tmp_path)),
        "--batch-size",
        "4",
        "--grad-accum",
        "1",
        *COMMON,
        *extra,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result


def test_ddp_on_two_processes_gives_the_single_process_curve(tmp_path, en_data) -> None:
    single(tmp_path, en_data, tmp_path / "one")
    result = parallel(tmp_path, en_data, tmp_path / "two")
    assert "2 processes (ddp)" in result.stdout
    assert_same_curve(curve(tmp_path / "one"), curve(tmp_path / "two"))
    # only rank 0 wrote: one line per step, not two
    assert len(curve(tmp_path / "two")[0]) == 20


@pytest.mark.slow
def test_checkpoints_move_between_one_and_two_processes(tmp_path, en_data) -> None:
    single(tmp_path, en_data, tmp_path / "one")
    parallel(tmp_path, en_data, tmp_path / "two")
    for source, resume in (("one", "parallel"), ("two", "single")):
        copy = tmp_path / f"{source}-resumed-{resume}"
        shutil.copytree(tmp_path / source, copy)
        shutil.rmtree(copy / "checkpoints" / "step-00000020")  # back to step 10
        if resume == "parallel":
            parallel(tmp_path, en_data, copy, "--resume")
        else:
            single(tmp_path, en_data, copy, "--resume")
        assert_same_curve(curve(tmp_path / source, first=10), curve(copy, first=10))


@pytest.mark.slow
def test_fsdp_gives_the_single_process_curve_and_a_plain_checkpoint(tmp_path, en_data) -> None:
    single(tmp_path, en_data, tmp_path / "one")
    result = parallel(tmp_path, en_data, tmp_path / "fsdp", "--parallel", "fsdp")
    assert "2 processes (fsdp)" in result.stdout
    assert_same_curve(curve(tmp_path / "one"), curve(tmp_path / "fsdp"))
    generated = run_cli(
        "generate",
        str(tmp_path / "fsdp"),
        "--prompt",
        "Once",
        "--temperature",
        "0",
        "--max-new-tokens",
        "10",
    )
    assert generated.returncode == 0 and generated.stdout.startswith("Once")
