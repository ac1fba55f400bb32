"""PNG plots a person would rather look at than read: loss curves of a run."""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only; never needs a display
from matplotlib.figure import Figure


def read_metrics(path: str | Path) -> list[dict]:
    path = Path(path)
    if not path.is_file():
        return []
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:
            continue  # a line cut by a crash is not worth failing a plot for
    return rows


def plot_losses(metrics_path: str | Path, out_png: str | Path, title: str = "") -> bool:
    fig = loss_figure(read_metrics(metrics_path), title or Path(metrics_path).parent.name)
    if fig is None:
        return False
    tmp = Path(out_png).with_name(f".{Path(out_png).name}.tmp.png")
    try:
        fig.savefig(tmp)
        tmp.replace(out_png)
    except OSError:  # a picture is not worth failing a training run over (e.g. a full disk)
        tmp.unlink(missing_ok=True)
        return False
    return True


def loss_figure(rows: list[dict], title: str) -> Figure | None:
    """Train and validation loss against step, or None when there is nothing to plot yet.

    A bare Figure, not pyplot: pyplot's global state is not safe in the GUI's worker threads."""
    train = [(r["step"], r["train_loss"]) for r in rows if "train_loss" in r]
    val = [(r["step"], r["val_loss"]) for r in rows if "val_loss" in r]
    if not train and not val:
        return None
    fig = Figure(figsize=(7, 4), dpi=110)
    ax = fig.subplots()
    if train:
        ax.plot(*zip(*train, strict=True), label="train", linewidth=1, alpha=0.8)
    if val:
        ax.plot(*zip(*val, strict=True), label="validation", marker="o", markersize=3)
    ax.set_xlabel("step")
    ax.set_ylabel("loss (nats/token)")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    return fig


def compare_figure(runs: dict[str, list[dict]]) -> Figure | None:
    """Validation loss of several runs against training time, one line per run: runs of other
    sizes and batch sizes line up by what a person waits, not by step. None until one of them
    has a validation loss."""
    curves = {
        name: [
            (r["elapsed"] / 60, r["val_loss"]) for r in rows if "val_loss" in r and "elapsed" in r
        ]
        for name, rows in runs.items()
    }
    curves = {name: points for name, points in curves.items() if points}
    if not curves:
        return None
    fig = Figure(figsize=(7, 4), dpi=110)
    ax = fig.subplots()
    for name, points in curves.items():
        ax.plot(*zip(*points, strict=True), label=name, marker="o", markersize=3)
    ax.set_xlabel("minutes of training")
    ax.set_ylabel("validation loss (nats/token)")
    ax.set_title("validation loss by run")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    return fig
