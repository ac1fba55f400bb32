"""PNG plots a person would rather look at than read: loss curves of a run, and the fonts every
tinylm plot draws its text with.

matplotlib's default font (DejaVu Sans) has no Chinese, Japanese or Korean glyphs: without help
every such label becomes an empty box. `prepare_fonts(texts)` puts an installed CJK font behind
DejaVu Sans (matplotlib falls back per glyph) when the texts need it, or says in one line that
none is installed and what to install.
"""

from __future__ import annotations

import functools
import json
import re
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only; never needs a display
from matplotlib.figure import Figure

# Families with CJK glyphs, most preferred first: Debian's fonts-noto-cjk and
# fonts-wqy-microhei (what `make` installs), then what macOS and Windows ship.
CJK_FONTS = (
    "Noto Sans CJK SC",
    "Noto Sans CJK JP",
    "Noto Sans CJK TC",
    "Source Han Sans SC",
    "WenQuanYi Micro Hei",
    "WenQuanYi Zen Hei",
    "Droid Sans Fallback",
    "AR PL UMing CN",
    "PingFang SC",
    "Hiragino Sans GB",
    "Microsoft YaHei",
    "SimHei",
    "Arial Unicode MS",
)
# Font files of those families, for fonts installed after matplotlib cached its font list.
_CJK_FILE = re.compile(r"(?i)(notosanscjk|notoserifcjk|sourcehan|wqy|droidsansfallback|uming)")
_CJK_TEXT = re.compile("[\u2e80-\u9fff\uac00-\ud7af\uf900-\ufaff\uff00-\uffef]")
NO_CJK_FONT = (
    "tinylm: no font with Chinese/Japanese/Korean glyphs is installed, so such text in PNG plots "
    "would show as empty boxes; install one (Debian/Ubuntu: apt-get install fonts-wqy-microhei)"
)


def has_cjk(*texts: str) -> bool:
    return any(_CJK_TEXT.search(text) for text in texts)


@functools.cache
def cjk_font() -> str | None:
    """The installed CJK font family matplotlib will use, or None."""
    from matplotlib import font_manager

    def installed() -> str | None:
        names = {font.name for font in font_manager.fontManager.ttflist}
        return next((name for name in CJK_FONTS if name in names), None)

    found = installed()
    if found is None:
        for path in font_manager.findSystemFonts():
            if _CJK_FILE.search(Path(path).name):
                try:
                    font_manager.fontManager.addfont(path)
                except (OSError, RuntimeError, ValueError):
                    continue  # a broken font file is not worth failing a plot for
        found = installed()
    return found


@functools.cache
def _say_no_cjk_font() -> None:
    print(NO_CJK_FONT, file=sys.stderr)


def prepare_fonts(*texts: str) -> bool:
    """Make matplotlib able to draw `texts`: True when it can (a CJK font is put behind the
    default one if they need it), False after one line on stderr when they need a CJK font
    and none is installed."""
    if not has_cjk(*texts):
        return True
    font = cjk_font()
    if font is None:
        _say_no_cjk_font()
        return False
    families = matplotlib.rcParams["font.family"]
    if font not in families:
        # A list of families, not the generic "sans-serif": only a list falls back per glyph.
        first = matplotlib.rcParams["font.sans-serif"][0]
        matplotlib.rcParams["font.family"] = [first, font]
    return True


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
    prepare_fonts(title)
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
    prepare_fonts(*curves)
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
