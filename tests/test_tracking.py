"""`tinylm train --log-to tensorboard,wandb`: what a run logs is read back with TensorBoard's own
event reader and W&B's own offline run-file reader, after a real training command."""

from __future__ import annotations

import json
import os
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import pytest

from tests.conftest import interrupt_run, run_cli

pytest.importorskip("tensorboard")

TRAIN_FLAGS = [
    "--preset",
    "260k",
    "--batch-size",
    "8",
    "--grad-accum",
    "1",
    "--eval-every",
    "10",
    "--eval-batches",
    "2",
    "--log-every",
    "5",
    "--sample-tokens",
    "16",
    "--dtype",
    "fp32",
    "--warmup",
    "2",
    "--lr",
    "3e-3",
]


def flags(tmp_path: Path) -> list[str]:
    """TRAIN_FLAGS with a 64-token context (a [model] table: no flag sets it)."""
    path = tmp_path / "short.toml"
    path.write_text("[model]\nmax_seq_len = 64\n")
    return [*TRAIN_FLAGS, "--config", str(path)]


def metrics(run: Path) -> list[dict]:
    return [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]


def event_scalars(run: Path) -> tuple[dict[str, list[tuple[int, float]]], object]:
    """Every scalar in RUN/tensorboard, read by TensorBoard's own EventAccumulator (which
    applies a resumed run's purge of the steps past its checkpoint)."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(run / "tensorboard"), size_guidance={"scalars": 0, "tensors": 0})
    acc.Reload()
    scalars = {tag: [(e.step, e.value) for e in acc.Scalars(tag)] for tag in acc.Tags()["scalars"]}
    return scalars, acc


def wandb_records(path: Path) -> list[bytes]:
    """The records of a .wandb transaction log: W&B's header (":W&B", magic 0xBEE1, version 0)
    then LevelDB's log format (32 KiB blocks of chunks: crc32, length, type), checksums checked.
    W&B reads these files in Go (wandb-core) since 0.19, with no Python reader left to call."""
    data = path.read_bytes()
    assert data[:4] == b":W&B" and int.from_bytes(data[4:6], "little") == 0xBEE1
    block, pos, records, partial = 32768, 7, [], b""
    while pos + 7 <= len(data):
        if block - pos % block < 7:  # a block's tail too short for a header is padding
            pos += block - pos % block
            continue
        crc, length, kind = struct.unpack("<IHB", data[pos : pos + 7])
        if kind == 0 and length == 0:
            break
        chunk = data[pos + 7 : pos + 7 + length]
        assert zlib.crc32(bytes([kind]) + chunk) == crc, f"bad checksum at {pos}"
        pos += 7 + length
        partial = chunk if kind in (1, 2) else partial + chunk
        if kind in (1, 4):  # FULL or LAST
            records.append(partial)
    return records


def offline_wandb_history(run: Path) -> tuple[list[dict], dict]:
    """(history rows, config) of the offline W&B runs under RUN/wandb, decoded with W&B's own
    record protobufs: what `wandb sync` would upload."""
    from wandb.proto import wandb_internal_pb2

    rows, config = [], {}
    for path in sorted((run / "wandb").glob("offline-run-*/run-*.wandb")):
        for data in wandb_records(path):
            record = wandb_internal_pb2.Record()
            record.ParseFromString(data)
            kind = record.WhichOneof("record_type")
            if kind == "history":
                row: dict = {}
                for item in record.history.item:
                    *parents, key = list(item.nested_key) or [item.key]
                    holder = row
                    for parent in parents:  # a logged object's fields: samples/_type
                        holder = holder.setdefault(parent, {})
                    holder[key] = json.loads(item.value_json)
                rows.append(row)
            elif kind in ("run", "config"):
                updates = record.run.config.update if kind == "run" else record.config.update
                for item in updates:
                    config[item.key] = json.loads(item.value_json)
    return rows, config


def test_tensorboard_and_wandb_get_the_runs_curves_config_and_samples(
    tmp_path, en_data, monkeypatch
):
    run = tmp_path / "runs" / "tracked"
    monkeypatch.delenv("WANDB_MODE", raising=False)  # offline is the default
    result = run_cli(
        "train", "--data", str(en_data), "--out", str(run), "--max-steps", "20",
        "--log-to", "wandb,tensorboard", *flags(tmp_path),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    lines = metrics(run)
    losses = {r["step"]: r["train_loss"] for r in lines if "train_loss" in r}
    assert sorted(losses) == list(range(1, 21))
    assert all(r["grad_norm"] > 0 for r in lines if "train_loss" in r)

    scalars, acc = event_scalars(run)
    assert [s for s, _ in scalars["train/loss"]] == list(range(1, 21))
    for step, value in scalars["train/loss"]:
        assert value == pytest.approx(losses[step], rel=1e-6)
    for tag in ("train/lr", "train/grad_norm", "train/tokens_per_s", "val/loss", "val/perplexity"):
        assert scalars[tag], tag
    mfu = [v for _, v in scalars["train/mfu"]]
    assert mfu and all(0 < v < 1.5 for v in mfu)  # a fraction of the measured matmul peak
    vals = {r["step"]: r["val_loss"] for r in lines if "val_loss" in r}
    assert [s for s, _ in scalars["val/loss"]] == sorted(vals)
    tags = acc.Tags()
    assert "loss_plot" in tags["images"]
    samples = [t for t in tags["tensors"] if t.startswith("samples")]
    assert samples, tags["tensors"]
    text = acc.Tensors(samples[0])[-1].tensor_proto.string_val[0].decode()
    last_sample = json.loads((run / "samples.jsonl").read_text().splitlines()[-1])["text"]
    assert text == last_sample
    # the config as hyper-parameters, in the run's own event file (TensorBoard's HPARAMS tab)
    from tensorboard.plugins.hparams import plugin_data_pb2

    content = acc.PluginTagToContent("hparams")["_hparams_/session_start_info"]
    hparams = plugin_data_pb2.HParamsPluginData.FromString(content).session_start_info.hparams
    assert hparams["model.dim"].number_value == 64
    assert hparams["train.lr"].number_value == pytest.approx(3e-3)

    rows, config = offline_wandb_history(run)
    wandb_losses = {r["_step"]: r["train/loss"] for r in rows if "train/loss" in r}
    assert wandb_losses == pytest.approx(losses, rel=1e-6)
    assert any("val/loss" in r for r in rows) and any("train/mfu" in r for r in rows)
    assert any(r.get("samples", {}).get("_type") == "table-file" for r in rows)
    assert any(r.get("loss_plot", {}).get("_type") == "image-file" for r in rows)
    assert config["model.n_layers"] == 5
    assert config["train.batch_size"] == 8


def test_resumed_run_continues_the_same_curve_once(tmp_path, en_data, monkeypatch):
    """Ctrl-C at step ~12, then --resume to 30: TensorBoard's reader shows each step once,
    with the values metrics.jsonl has; W&B continues the same run id."""
    run = tmp_path / "resumed"
    args = [
        "train", "--data", str(en_data), "--out", str(run), "--max-steps", "30",
        "--save-every", "5", "--log-to", "tensorboard,wandb", *flags(tmp_path),
    ]  # fmt: skip
    monkeypatch.delenv("WANDB_MODE", raising=False)
    interrupt_run(args, run, after_step=12)
    run_id = (run / "wandb" / "run-id.txt").read_text().strip()
    result = run_cli(*args, "--resume")
    assert result.returncode == 0, result.stderr
    losses = {r["step"]: r["train_loss"] for r in metrics(run) if "train_loss" in r}
    scalars, _ = event_scalars(run)
    steps = [s for s, _ in scalars["train/loss"]]
    assert steps == list(range(1, 31))
    for step, value in scalars["train/loss"]:
        assert value == pytest.approx(losses[step], rel=1e-6)
    assert (run / "wandb" / "run-id.txt").read_text().strip() == run_id
    offline = list((run / "wandb").glob("offline-run-*"))
    assert len(offline) == 2 and all(run_id in p.name for p in offline)


def test_missing_tracker_package_and_unknown_tracker_are_one_line(tmp_path, en_data):
    result = run_cli(
        "train", "--data", str(en_data), "--out", str(tmp_path / "r"), "--max-steps", "2",
        "--log-to", "tensorbord", *flags(tmp_path),
    )  # fmt: skip
    assert result.returncode != 0
    assert "unknown tracker 'tensorbord'" in result.stderr and "tensorboard" in result.stderr
    assert "Traceback" not in result.stderr
    # A Python that cannot import wandb: the flag names the pip command, nothing is written.
    blocker = tmp_path / "block"
    blocker.mkdir()
    (blocker / "sitecustomize.py").write_text(
        "import sys\n"
        "class _Block:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name == 'wandb':\n"
        "            raise ModuleNotFoundError(name)\n"
        "sys.meta_path.insert(0, _Block())\n"
    )
    out = tmp_path / "r2"
    path = f"{blocker}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"
    proc = subprocess.run(
        [sys.executable, "-m", "tinylm", "train", "--data", str(en_data), "--out", str(out),
         "--max-steps", "2", "--log-to", "wandb", *flags(tmp_path)],
        capture_output=True, text=True, timeout=300,
        env={**os.environ, "PYTHONPATH": path},
    )  # fmt: skip
    assert proc.returncode != 0
    assert "pip install wandb" in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr
    assert not (out / "metrics.jsonl").exists()
