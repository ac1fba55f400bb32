"""Long runs survive faults: kills at any moment, NaNs, damaged checkpoints, full or read-only
disks; and nothing a user hands tinylm is ever unpickled."""

from __future__ import annotations

import contextlib
import json
import os
import pickle
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from conftest import run_cli, tmpfs
from safetensors import safe_open

from tinylm.checkpoint import checkpoint_problem

SMALL = [
    "--preset",
    "260k",
    "--batch-size",
    "8",
    "--grad-accum",
    "1",
    "--dtype",
    "fp32",
    "--lr",
    "3e-3",
    "--warmup",
    "4",
]


def short_config(tmp_path: Path) -> Path:
    path = tmp_path / "short.toml"
    path.write_text("[model]\nmax_seq_len = 64\n[train]\neval_batches = 2\n")
    return path


def train_args(tmp_path, data, out, *extra) -> list[str]:
    return [
        "train",
        "--data",
        str(data),
        "--out",
        str(out),
        *SMALL,
        "--config",
        str(short_config(tmp_path)),
        *extra,
    ]


def metrics(run: Path) -> list[dict]:
    rows = []
    for line in (run / "metrics.jsonl").read_text().splitlines():
        with contextlib.suppress(json.JSONDecodeError):
            rows.append(json.loads(line))
    return rows


def weights(run: Path) -> dict[str, torch.Tensor]:
    with safe_open(str(run / "model.safetensors"), "pt") as f:
        return {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118


def run_with_faults(args: list[str], faults: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "TINYLM_FAULTS": faults, "PYTHONUNBUFFERED": "1"}
    return subprocess.run(
        [sys.executable, "-m", "tinylm", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )


# -- kill anywhere -------------------------------------------------------------------------------


def _kill_repeatedly(tmp_path, data, kills: int, seed: int) -> None:
    args = train_args(
        tmp_path,
        data,
        tmp_path / "killed",
        "--max-steps",
        "30",
        "--eval-every",
        "10",
        "--save-every",
        "1",
    )
    straight = run_cli(
        *train_args(
            tmp_path,
            data,
            tmp_path / "straight",
            "--max-steps",
            "30",
            "--eval-every",
            "10",
            "--save-every",
            "1",
        )
    )
    assert straight.returncode == 0, straight.stderr
    rng = random.Random(seed)
    killed_mid_save = 0
    for _ in range(kills):
        # --resume once the run folder exists (a kill before that leaves nothing to resume, and
        # --resume on a folder that is not there is refused as a mistyped --out)
        started = (tmp_path / "killed").exists()
        cmd = [sys.executable, "-m", "tinylm", *args] + (["--resume"] if started else [])
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        # random moments: during start-up, training, or (save-every 1) writing a checkpoint
        time.sleep(rng.uniform(1.0, 6.0))
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
        proc.wait()
        root = tmp_path / "killed" / "checkpoints"
        if root.is_dir() and any(p.name.endswith(".tmp") for p in root.iterdir()):
            killed_mid_save += 1
        # whatever survived is either intact or invisible to --resume
        for ckpt in root.glob("step-*") if root.is_dir() else []:
            assert checkpoint_problem(ckpt) is None, ckpt
    final = run_cli(*args, "--resume")
    assert final.returncode == 0, final.stderr
    a, b = weights(tmp_path / "straight"), weights(tmp_path / "killed")
    assert a.keys() == b.keys()
    for name in a:
        assert torch.equal(a[name], b[name]), name
    print(f"{kills} kills, {killed_mid_save} in the middle of writing a checkpoint")


def test_sigkill_a_few_times_then_resume_equals_uninterrupted(tmp_path, en_data) -> None:
    _kill_repeatedly(tmp_path, en_data, kills=3, seed=1)


@pytest.mark.slow
def test_sigkill_many_times_then_resume_equals_uninterrupted(tmp_path, en_data) -> None:
    _kill_repeatedly(tmp_path, en_data, kills=20, seed=2)


# -- numerical faults ----------------------------------------------------------------------------


def test_nan_steps_are_skipped_and_counted(tmp_path, en_data) -> None:
    out = tmp_path / "r"
    result = run_with_faults(
        train_args(tmp_path, en_data, out, "--max-steps", "20", "--eval-every", "20"),
        "nan_loss@5,nan_loss@6",
    )
    assert result.returncode == 0, result.stderr
    assert "step 5: NaN/Inf loss or gradient; update skipped" in result.stdout
    rows = metrics(out)
    bad = [r for r in rows if r.get("bad_step")]
    assert [(r["step"], r["action"], r["bad_steps"]) for r in bad] == [
        (5, "skipped", 1),
        (6, "skipped", 2),
    ]
    losses = {r["step"]: r["train_loss"] for r in rows if "train_loss" in r}
    assert sorted(losses) == [s for s in range(1, 21) if s not in (5, 6)]
    val = [r["val_loss"] for r in rows if "val_loss" in r]
    assert val[-1] < val[0] - 0.5  # it kept learning


def test_nan_rolls_back_to_the_last_checkpoint_with_half_the_lr(tmp_path, en_data) -> None:
    out = tmp_path / "r"
    args = train_args(
        tmp_path, en_data, out, "--max-steps", "20", "--eval-every", "10", "--save-every", "10"
    )
    clean = run_cli(
        *train_args(
            tmp_path,
            en_data,
            tmp_path / "clean",
            "--max-steps",
            "20",
            "--eval-every",
            "10",
            "--save-every",
            "10",
        )
    )
    assert clean.returncode == 0
    result = run_with_faults([*args, "--on-nan", "rollback"], "nan_loss@15")
    assert result.returncode == 0, result.stderr
    assert "rolled back to step 10 with the learning rate x0.5" in result.stdout
    rows = metrics(out)
    event = next(r for r in rows if r.get("action") == "rollback")
    assert (event["step"], event["from_step"], event["lr_scale"]) == (10, 15, 0.5)
    lr = {r["step"]: r["lr"] for r in rows if "lr" in r}
    clean_lr = {r["step"]: r["lr"] for r in metrics(tmp_path / "clean") if "lr" in r}
    assert lr[10] == clean_lr[10] and lr[11] == pytest.approx(clean_lr[11] / 2)
    assert sorted(s for s in lr if s > 10) == list(range(11, 21))  # steps 11-20 retrained once


def test_on_nan_stop_saves_a_clean_checkpoint_and_says_so(tmp_path, en_data) -> None:
    out = tmp_path / "r"
    args = train_args(tmp_path, en_data, out, "--max-steps", "12", "--eval-every", "6")
    result = run_with_faults([*args, "--on-nan", "stop"], "nan_loss@5")
    assert result.returncode == 2
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "training stopped at step 5" in lines[0]
    assert "checkpoint of step 4 is saved" in lines[0]
    assert checkpoint_problem(out / "checkpoints" / "step-00000004") is None
    resumed = run_cli(*args, "--resume")
    assert resumed.returncode == 0, resumed.stderr
    assert "resuming" in resumed.stdout and "at step 4" in resumed.stdout


# -- damaged checkpoints ---------------------------------------------------------------------


def test_damaged_newest_checkpoint_falls_back_to_the_previous(tmp_path, en_data) -> None:
    out = tmp_path / "r"
    args = train_args(
        tmp_path,
        en_data,
        out,
        "--max-steps",
        "20",
        "--eval-every",
        "10",
        "--save-every",
        "5",
        "--keep-checkpoints",
        "2",
    )
    interrupted = run_with_faults([*args, "--on-nan", "stop"], "nan_loss@13")
    assert interrupted.returncode == 2  # stopped with checkpoints at steps 10 and 12
    newest = out / "checkpoints" / "step-00000012"
    with open(newest / "model.safetensors", "r+b") as f:  # one flipped byte deep in the weights
        f.seek(-100, os.SEEK_END)
        byte = f.read(1)
        f.seek(-100, os.SEEK_END)
        f.write(bytes([byte[0] ^ 0xFF]))
    result = run_cli(*args, "--resume")
    assert result.returncode == 0, result.stderr
    assert "checkpoint step-00000012 is damaged" in result.stdout
    assert "does not match its sha256" in result.stdout and "at step 10" in result.stdout
    for ckpt in (out / "checkpoints").iterdir():
        with open(ckpt / "trainer_state.safetensors", "r+b") as f:
            f.truncate(100)
    refused = run_cli(*args, "--resume")
    assert refused.returncode == 2 and "no intact checkpoint" in refused.stderr


# -- disks ---------------------------------------------------------------------------------------


def test_read_only_output_folder_is_refused_before_training(tmp_path, en_data) -> None:
    with tmpfs(tmp_path / "ro", "4m", readonly=True) as ro:
        result = run_cli(*train_args(tmp_path, en_data, ro / "run", "--max-steps", "5"))
    assert result.returncode == 2
    assert "cannot write to --out" in result.stderr and "Read-only file system" in result.stderr


def test_too_little_space_is_refused_before_training(tmp_path, en_data) -> None:
    with tmpfs(tmp_path / "tiny", "1m") as tiny:
        result = run_cli(*train_args(tmp_path, en_data, tiny / "run", "--max-steps", "5"))
    assert result.returncode == 2 and "not enough free space" in result.stderr


def test_disk_filling_up_at_save_time_keeps_the_previous_checkpoint(tmp_path, en_data) -> None:
    with tmpfs(tmp_path / "small", "16m") as small:
        out = small / "run"
        args = train_args(
            tmp_path,
            en_data,
            out,
            "--max-steps",
            "20",
            "--eval-every",
            "10",
            "--save-every",
            "5",
            "--keep-checkpoints",
            "2",
        )
        filler = None
        proc = subprocess.Popen(
            [sys.executable, "-m", "tinylm", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        # once the first checkpoint exists, fill the disk like another program would
        deadline = time.time() + 300
        while time.time() < deadline and not (out / "checkpoints" / "step-00000005").is_dir():
            time.sleep(0.05)
        filler = small / "filler.bin"
        with open(filler, "wb") as f, contextlib.suppress(OSError):
            while True:
                f.write(b"\0" * (1 << 16))
        stdout, stderr = proc.communicate(timeout=300)
        assert proc.returncode == 2, stdout + stderr
        lines = [line for line in stderr.splitlines() if line.strip()]
        # the disk may run out while saving a checkpoint or while logging metrics
        assert len(lines) == 1 and "could not" in lines[0], stderr
        assert "No space left on device" in lines[0] and "is intact" in lines[0]
        survivors = sorted((out / "checkpoints").glob("step-*"))
        assert survivors and all(checkpoint_problem(p) is None for p in survivors)
        assert not list((out / "checkpoints").glob(".*.tmp"))
        filler.unlink()
        resumed = run_cli(*args, "--resume")
        assert resumed.returncode == 0, resumed.stderr


# -- untrusted files -----------------------------------------------------------------------------


class _Payload:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.mkdir, (str(self.marker),))


def test_no_loader_unpickles_what_it_is_given(tmp_path, trained_run, en_data) -> None:
    marker = tmp_path / "PWNED"
    evil = pickle.dumps(_Payload(marker))
    targets = {
        "model.safetensors": trained_run,
        "tokenizer.json": trained_run,
        "config.json": trained_run,
        "meta.json": en_data,
        "tokenizer.json ": en_data,
    }
    for name, source in targets.items():
        name = name.strip()
        copy = tmp_path / f"{source.name}-{name}"
        shutil.copytree(source, copy)
        (copy / name).write_bytes(evil)
        if source == trained_run:
            results = [
                run_cli("generate", str(copy), "--max-new-tokens", "3"),
                run_cli("eval", str(copy), "--data", str(en_data)),
            ]
        else:
            results = [
                run_cli("eval", str(trained_run), "--data", str(copy)),
                run_cli(
                    "train",
                    "--data",
                    str(copy),
                    "--out",
                    str(tmp_path / "x"),
                    *SMALL,
                    "--max-steps",
                    "1",
                ),
            ]
        if source == en_data and name == "tokenizer.json":
            # eval identifies the data's tokenizer by the hash in meta.json and never opens the
            # file, so it may succeed; training must read it and refuse
            assert results[0].returncode in (0, 2), results[0].stderr
            results = results[1:]
        for result in results:
            assert result.returncode == 2, (name, result.stderr)
            assert "Traceback" not in result.stderr
        assert not marker.exists(), f"unpickled {name}"
    # a checkpoint's trainer state handed over for --resume
    run = tmp_path / "resumable"
    ok = run_cli(*train_args(tmp_path, en_data, run, "--max-steps", "4", "--save-every", "2"))
    assert ok.returncode == 0
    ckpt = next((run / "checkpoints").glob("step-*"))
    (ckpt / "trainer_state.safetensors").write_bytes(evil)
    result = run_cli(*train_args(tmp_path, en_data, run, "--max-steps", "8"), "--resume")
    assert result.returncode == 2 and not marker.exists()
    # and the source says so: nothing calls pickle or an unrestricted torch.load
    src = Path(__file__).resolve().parents[1] / "src" / "tinylm"
    for path in src.rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        assert "pickle.load" not in text and "import pickle" not in text, path
        for line in text.splitlines():
            if "torch.load(" in line:
                assert "weights_only=True" in line, f"{path}: {line.strip()}"
