"""Data-parallel training with real `torchrun` processes (gloo on CPU)."""

from __future__ import annotations

import json
import os
import shutil
import socket
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


TORCHRUN_ENV = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}


def torchrun_command(launch: list[str], args: tuple[str, ...]) -> list[str]:
    return [sys.executable, "-m", "torch.distributed.run", *launch, "-m", "tinylm", *args]


def torchrun(*args: str, nproc: int = 2, timeout: float = 600) -> subprocess.CompletedProcess:
    command = torchrun_command(["--standalone", f"--nproc_per_node={nproc}"], args)
    return subprocess.run(
        command, capture_output=True, text=True, timeout=timeout, env=TORCHRUN_ENV
    )


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


def parallel_args(tmp_path, data, out: Path, *extra: str) -> tuple[str, ...]:
    """Two processes of batch 4: the global batch of `single`'s 8."""
    return (
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


def parallel(tmp_path, data, out: Path, *extra: str) -> subprocess.CompletedProcess:
    result = torchrun(*parallel_args(tmp_path, data, out, *extra))
    assert result.returncode == 0, result.stdout + result.stderr
    return result


def test_ddp_on_two_processes_gives_the_single_process_curve(tmp_path, en_data) -> None:
    single(tmp_path, en_data, tmp_path / "one")
    result = parallel(tmp_path, en_data, tmp_path / "two")
    assert "2 processes (ddp)" in result.stdout
    assert_same_curve(curve(tmp_path / "one"), curve(tmp_path / "two"))
    # only rank 0 wrote: one line per step, not two
    assert len(curve(tmp_path / "two")[0]) == 20


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_two_nodes_meeting_by_rendezvous_give_the_single_process_curve(tmp_path, en_data) -> None:
    """The README's multi-node command with both "machines" on this one: two separate torchrun
    agents, one process each, find each other through the c10d rendezvous at an address (no
    --standalone), and train as one run."""
    single(tmp_path, en_data, tmp_path / "one")
    launch = [
        "--nnodes=2",
        "--nproc_per_node=1",
        "--rdzv_backend=c10d",
        f"--rdzv_endpoint=127.0.0.1:{free_port()}",
        f"--rdzv_id=tinylm-test-{os.getpid()}",
    ]
    command = torchrun_command(launch, parallel_args(tmp_path, en_data, tmp_path / "nodes"))
    agents = [
        subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=TORCHRUN_ENV
        )
        for _ in range(2)
    ]
    outputs = [agent.communicate(timeout=600) for agent in agents]
    for agent, (out, err) in zip(agents, outputs, strict=True):
        assert agent.returncode == 0, out + err
    assert any("2 processes (ddp)" in out for out, _ in outputs)
    assert_same_curve(curve(tmp_path / "one"), curve(tmp_path / "nodes"))


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
