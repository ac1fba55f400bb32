"""`tinylm demo`: the main job, end to end, offline."""

from __future__ import annotations

import re

import pytest
from conftest import run_cli

import tinylm
from tinylm.synth import vocabulary


def _stories(stdout: str) -> list[str]:
    parts = re.split(r"^story \d\s*$", stdout, flags=re.M)[1:]
    return [p.split("─")[0].strip() for p in parts]


def test_short_demo_runs_every_stage(tmp_path) -> None:
    out = tmp_path / "demo"
    result = run_cli(
        "demo", "--out", str(out), "--stories", "3000", "--time-budget", "40s", timeout=400
    )
    assert result.returncode == 0, result.stderr
    for stage in ("1/5", "2/5", "3/5", "4/5", "5/5"):
        assert stage in result.stdout
    stories = _stories(result.stdout)
    assert len(stories) == 3
    assert stories[0].startswith("Once upon a time, there was a little girl named")
    assert re.search(r"validation loss [\d.]+, perplexity [\d.]+", result.stdout)
    assert (out / "stories.txt").is_file() and (out / "data" / "meta.json").is_file()
    lm = tinylm.load(str(out / "run"))
    assert lm.generate("Once", max_new_tokens=5, temperature=0).startswith("Once")


def test_demo_never_deletes_a_folder_it_did_not_make(tmp_path) -> None:
    (tmp_path / "precious.txt").write_text("keep me")
    result = run_cli("demo", "--out", str(tmp_path), "--stories", "100", "--time-budget", "5s")
    assert result.returncode == 2 and "not a tinylm demo" in result.stderr
    assert (tmp_path / "precious.txt").read_text() == "keep me"


@pytest.mark.slow
def test_full_demo_tells_stories(tmp_path) -> None:
    """The README's `make demo` job with its defaults: 15 minutes at most on two cores."""
    result = run_cli("demo", "--out", str(tmp_path / "demo"), timeout=15 * 60)
    assert result.returncode == 0, result.stderr
    perplexity = float(re.search(r"perplexity ([\d.]+), ", result.stdout).group(1))
    assert perplexity < 2.0
    words = set(vocabulary("en"))
    for story in _stories(result.stdout):
        tokens = re.findall(r"[a-z']+", story.lower())
        known = sum(t in words for t in tokens) / len(tokens)
        assert known > 0.97, story  # corpus words, not noise
        assert len(re.findall(r"[.!?]", story)) >= 4, story  # several sentences
        assert story.rstrip().endswith((".", "!", '"', "?")), story  # ends by itself
