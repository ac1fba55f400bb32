"""Experiment trackers: `tinylm train --log-to tensorboard,wandb` sends what the run writes to
metrics.jsonl and samples.jsonl (losses, learning rate, tokens/s, MFU, gradient norm, sample
stories), its config as hyper-parameters and the loss plot to TensorBoard and/or Weights &
Biases, as it trains. Both are optional installs, imported only when asked for.

TensorBoard's event files go to RUN/tensorboard, so `tensorboard --logdir runs` lists every
run. W&B writes RUN/wandb offline unless WANDB_MODE says otherwise: nothing leaves the machine
until the user runs `wandb sync` (or sets WANDB_MODE=online after `wandb login`). A resumed run
continues the same TensorBoard curve (events past the checkpoint are purged) and the same W&B
run id.
"""

from __future__ import annotations

import os
import secrets
import string
from pathlib import Path
from typing import Any, Protocol

from tinylm.errors import TinylmError, did_you_mean

TRACKERS = ("tensorboard", "wandb")
NONE = "none"
TENSORBOARD_DIR = "tensorboard"
WANDB_DIR = "wandb"
WANDB_ID_FILE = "run-id.txt"  # inside RUN/wandb: the id a resumed run continues
_PIP = {"tensorboard": "pip install tensorboard", "wandb": "pip install wandb"}

# metrics.jsonl key -> the tag trackers show it under
SCALAR_TAGS = {
    "train_loss": "train/loss",
    "lr": "train/lr",
    "grad_norm": "train/grad_norm",
    "tokens_per_s": "train/tokens_per_s",
    "mfu": "train/mfu",
    "val_loss": "val/loss",
    "val_ppl": "val/perplexity",
}


def parse_trackers(text: str) -> str:
    """'wandb, tensorboard' -> 'tensorboard,wandb'; 'none' or '' -> 'none'. Unknown names are
    refused with a suggestion."""
    names = [n.strip().lower() for n in str(text).split(",") if n.strip()]
    if not names or names == [NONE]:
        return NONE
    for name in names:
        if name not in TRACKERS:
            raise TinylmError(
                f"unknown tracker '{name}'{did_you_mean(name, TRACKERS)}; choose from "
                f"{', '.join(TRACKERS)} (several with commas) or {NONE}"
            )
    return ",".join(t for t in TRACKERS if t in names)


def tracker_names(value: str) -> list[str]:
    return [] if value == NONE else value.split(",")


def check_trackers_installed(value: str) -> None:
    """Before training starts: a tracker that is not installed is one line with the pip
    command, not an ImportError after the first steps."""
    import importlib

    for name in tracker_names(value):
        try:
            importlib.import_module(name)
        except ImportError:
            raise TinylmError(
                f"--log-to {name} needs the {name} package, which is not installed: "
                f"{_PIP[name]} (or drop --log-to {name})"
            ) from None


def flat_config(config: dict[str, Any]) -> dict[str, Any]:
    """config.json's model and train tables as one level of 'model.dim'-style keys, the form
    hyper-parameter tables take (None becomes 'none'; lists become text)."""
    out: dict[str, Any] = {}
    for table in ("model", "train"):
        for key, value in (config.get(table) or {}).items():
            if value is None:
                value = "none"
            elif not isinstance(value, bool | int | float | str):
                value = str(value)
            out[f"{table}.{key}"] = value
    return out


class Tracker(Protocol):
    def scalars(self, step: int, values: dict[str, float]) -> None: ...
    def text(self, step: int, tag: str, text: str) -> None: ...
    def image(self, step: int, tag: str, png: Path) -> None: ...
    def close(self) -> None: ...


class TensorBoardTracker:
    def __init__(self, run_dir: Path, config: dict[str, Any], first_step: int | None) -> None:
        from torch.utils.tensorboard import SummaryWriter

        # purge_step (the first step a resumed run logs): readers drop the events a stopped
        # run wrote past its checkpoint, so the curve has each step once, as metrics.jsonl.
        self.writer = SummaryWriter(str(run_dir / TENSORBOARD_DIR), purge_step=first_step)
        if first_step is None:
            self._hparams(flat_config(config))
            self.writer.add_text("config", _config_markdown(config), 0)

    def _hparams(self, params: dict[str, Any]) -> None:
        # Written into this run's own event file (SummaryWriter.add_hparams would start a
        # sub-run), so TensorBoard's HPARAMS tab lists the run with its losses.
        from torch.utils.tensorboard.summary import hparams

        metrics = {"val/loss": float("nan"), "train/loss": float("nan")}
        writer = self.writer._get_file_writer()
        for summary in hparams(params, metrics):
            writer.add_summary(summary)

    def scalars(self, step: int, values: dict[str, float]) -> None:
        for tag, value in values.items():
            self.writer.add_scalar(tag, value, step)

    def text(self, step: int, tag: str, text: str) -> None:
        self.writer.add_text(tag, text, step)

    def image(self, step: int, tag: str, png: Path) -> None:
        import matplotlib.image

        pixels = matplotlib.image.imread(png)[..., :3]  # [H, W, 3] floats in 0..1
        self.writer.add_image(tag, pixels, step, dataformats="HWC")

    def close(self) -> None:
        self.writer.close()


class WandbTracker:
    def __init__(self, run_dir: Path, config: dict[str, Any], first_step: int | None) -> None:
        import wandb

        folder = run_dir / WANDB_DIR
        folder.mkdir(parents=True, exist_ok=True)
        id_file = folder / WANDB_ID_FILE
        run_id = id_file.read_text().strip() if id_file.is_file() and first_step else None
        if run_id is None:
            # W&B's own form of id: 8 lowercase letters and digits
            alphabet = string.ascii_lowercase + string.digits
            run_id = "".join(secrets.choice(alphabet) for _ in range(8))
            id_file.write_text(run_id + "\n")
        self.wandb = wandb
        self.samples: list[list[Any]] = []
        self.run = wandb.init(
            project=os.environ.get("WANDB_PROJECT", "tinylm"),
            name=run_dir.name,
            id=run_id,
            resume="allow",
            dir=str(run_dir),
            config=flat_config(config),
            mode=os.environ.get("WANDB_MODE", "offline"),  # nothing leaves unless asked
            settings=wandb.Settings(silent=True, console="off"),
        )

    def scalars(self, step: int, values: dict[str, float]) -> None:
        self.run.log(values, step=step)

    def text(self, step: int, tag: str, text: str) -> None:
        # a table of every sample so far: W&B shows the latest table of a key
        self.samples.append([step, text])
        table = self.wandb.Table(columns=["step", "text"], data=list(self.samples))
        self.run.log({tag: table}, step=step)

    def image(self, step: int, tag: str, png: Path) -> None:
        self.run.log({tag: self.wandb.Image(str(png))}, step=step)

    def close(self) -> None:
        self.run.finish()


_CLASSES: dict[str, type] = {"tensorboard": TensorBoardTracker, "wandb": WandbTracker}


class Trackers:
    """Every tracker a run logs to (none: each call does nothing). `mfu_per_token_rate`: the
    factor that turns tokens/s into MFU (FLOPs per token / peak FLOP/s), or None."""

    def __init__(self, trackers: list[Tracker], mfu_per_token_rate: float | None = None) -> None:
        self.trackers = trackers
        self.mfu_per_token_rate = mfu_per_token_rate
        self.last_step = 0

    @classmethod
    def open(
        cls,
        value: str,
        run_dir: Path,
        config: dict[str, Any],
        first_step: int | None,
        mfu_per_token_rate: float | None = None,
    ) -> Trackers:
        opened: list[Tracker] = []
        try:
            for name in tracker_names(value):
                opened.append(_CLASSES[name](run_dir, config, first_step))
        except Exception as exc:
            for tracker in opened:
                tracker.close()
            raise TinylmError(f"--log-to: could not start {name}: {exc}") from None
        return cls(opened, mfu_per_token_rate)

    def __bool__(self) -> bool:
        return bool(self.trackers)

    def record(self, record: dict[str, Any]) -> None:
        """One metrics.jsonl line, as scalars under their SCALAR_TAGS."""
        if not self.trackers or "step" not in record:
            return
        values = {
            tag: float(record[key])
            for key, tag in SCALAR_TAGS.items()
            if isinstance(record.get(key), int | float)
        }
        if "tokens_per_s" in record and self.mfu_per_token_rate is not None:
            values[SCALAR_TAGS["mfu"]] = record["tokens_per_s"] * self.mfu_per_token_rate
        if values:
            self.last_step = max(self.last_step, int(record["step"]))
            for tracker in self.trackers:
                tracker.scalars(int(record["step"]), values)

    def sample(self, step: int, text: str) -> None:
        for tracker in self.trackers:
            tracker.text(step, "samples", text)

    def loss_plot(self, png: Path) -> None:
        if png.is_file():
            for tracker in self.trackers:
                tracker.image(self.last_step, "loss_plot", png)

    def close(self) -> None:
        for tracker in self.trackers:
            tracker.close()
        self.trackers = []


def _config_markdown(config: dict[str, Any]) -> str:
    rows = ["| setting | value |", "|---|---|"]
    rows += [f"| {k} | {v} |" for k, v in flat_config(config).items()]
    return "\n".join(rows)
