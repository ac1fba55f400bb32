"""Every PNG tinylm draws shows Chinese as Chinese: a CJK font behind matplotlib's default one,
or one line saying none is installed (never a picture of empty boxes without a word)."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
from conftest import run_cli
from PIL import Image

from tinylm import plots
from tinylm.plots import NO_CJK_FONT, cjk_font, plot_losses

needs_cjk_font = pytest.mark.skipif(
    cjk_font() is None, reason="no CJK font installed (make test installs fonts-wqy-microhei)"
)


def _loss_png(tmp_path, title: str):
    metrics = tmp_path / "metrics.jsonl"
    rows = [{"step": step, "train_loss": 5 - step / 10} for step in (1, 2, 3)]
    metrics.write_text("".join(json.dumps(row) + "\n" for row in rows))
    out = tmp_path / f"{len(list(tmp_path.glob('*.png')))}.png"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert plot_losses(metrics, out, title=title)
    return np.asarray(Image.open(out).convert("L")), [str(w.message) for w in caught]


@needs_cjk_font
def test_chinese_titles_are_drawn_with_real_glyphs(tmp_path) -> None:
    first, said = _loss_png(tmp_path, "发现 story")
    assert not [w for w in said if "missing from font" in w], said
    second, _ = _loss_png(tmp_path, "故事 story")
    # Missing glyphs all draw the same box: two different titles would give the same picture.
    assert (first != second).sum() > 50


def test_without_a_cjk_font_it_says_so_in_one_line(tmp_path, monkeypatch, capsys) -> None:
    monkeypatch.setattr(plots, "cjk_font", lambda: None)
    plots._say_no_cjk_font.cache_clear()
    assert plots.prepare_fonts("从前") is False
    assert plots.prepare_fonts("从前") is False  # said once per process
    assert plots.prepare_fonts("Once upon a time") is True
    assert capsys.readouterr().err.splitlines() == [NO_CJK_FONT]


@needs_cjk_font
def test_clean_report_on_chinese_stories_draws_readable_top_characters(tmp_path, chinese_csv):
    result = run_cli(
        "data", "clean", str(chinese_csv), "--out", str(tmp_path / "zh.txt"),
        "--report", str(tmp_path / "report.md"),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "missing from font" not in result.stderr and "Glyph" not in result.stderr
    md = (tmp_path / "report.md").read_text(encoding="utf-8")
    assert "Top words (Chinese: characters, each counted as a word):" in md
    assert "![top words](report-top-words.png)" in md
    assert (tmp_path / "report-top-words.png").read_bytes()[:4] == b"\x89PNG"
