"""`tinylm demo`: the main job, end to end, offline."""

from __future__ import annotations

import re

import pytest
from conftest import run_cli

import tinylm
from tinylm.demo import PROMPTS
from tinylm.generate import SamplingOptions
from tinylm.serve.engine import Engine
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
    # The three printed stories are the model's own (same weights, prompts and seeds) ...
    lm = tinylm.load(str(tmp_path / "demo" / "run"))
    settings = dict(max_new_tokens=300, temperature=0.7, top_p=0.9)
    printed = _stories(result.stdout)
    for i, (prompt, story) in enumerate(zip(PROMPTS["en"], printed, strict=True), start=1):
        assert story == lm.generate(prompt, seed=i, **settings).strip()
    # ... and what they show holds over many: statistics of 24 stories, not one sampled text.
    words = set(vocabulary("en"))
    ended, sentences, known, total = 0, [], 0, 0
    with Engine().reserve() as slot:
        for seed in range(8):
            for prompt in PROMPTS["en"]:
                stream = slot.stream(lm, prompt, SamplingOptions(seed=seed, **settings))
                story = stream.collect()[0]
                ended += stream.finish_reasons[0] == "stop"  # wrote EOS by itself
                sentences.append(len(re.findall(r"[.!?]", story)))
                tokens = re.findall(r"[a-z']+", story.lower())
                known += sum(t in words for t in tokens)
                total += len(tokens)
    assert known / total > 0.97  # corpus words, not noise
    assert ended >= 18, ended  # most stories end by themselves within 300 tokens
    assert sorted(sentences)[len(sentences) // 2] >= 4, sentences  # several sentences
