"""Human ratings: the file (appends from concurrent raters never lose or mix a line), the
statistics (Bradley-Terry / Elo with bootstrap intervals, win rates, judge agreement) and
`tinylm eval --ratings`."""

from __future__ import annotations

import json
import math
import multiprocessing
import random
from pathlib import Path

import pytest

from tests.conftest import run_cli
from tinylm.errors import TinylmError
from tinylm.ratings import (
    append_rating,
    bradley_terry,
    judge_agreement,
    outcomes,
    read_ratings,
    standings,
)


def rating(run_a: str, run_b: str, choice: str, i: int = 0, **extra) -> dict:
    return {"rater": extra.pop("rater", "ann"), "prompt": f"p{i}", "story_a": f"a{i}",
            "story_b": f"b{i}", "run_a": run_a, "run_b": run_b, "seed": i, "choice": choice,
            **extra}  # fmt: skip


def _hammer(args: tuple[str, str, int]) -> None:
    path, rater, n = args
    for i in range(n):
        # long lines (several KB, past PIPE_BUF) are where unlocked appends interleave
        append_rating(Path(path), rating("x", "y", "a", i, rater=rater, story_a="é" * 3000))


def test_concurrent_raters_never_lose_or_mix_a_line(tmp_path):
    path = tmp_path / "ratings.jsonl"
    with multiprocessing.get_context("spawn").Pool(2) as pool:
        pool.map(_hammer, [(str(path), "ann", 150), (str(path), "bob", 150)])
    lines = path.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 300
    records = [json.loads(line) for line in lines]  # every line whole
    assert sorted(r["rater"] for r in records).count("ann") == 150
    # a power cut mid-line: the half line is skipped and counted, the rest kept
    with open(path, "a", encoding="utf-8") as f:
        f.write('{"rater": "cut", "prompt": "p", "sto')
    read = read_ratings(path)
    assert len(read.ratings) == 300 and read.skipped == 1


def test_bradley_terry_recovers_known_strengths():
    """Simulated raters with true Elo 1200 / 1000 / 800: the fit orders them, lands near the
    truth, and each true value lies inside its bootstrap interval."""
    rng = random.Random(0)
    truth = {"big": 1200.0, "mid": 1000.0, "small": 800.0}
    ratings = []
    for i in range(600):
        a, b = rng.sample(sorted(truth), 2)
        p_a = 1 / (1 + 10 ** ((truth[b] - truth[a]) / 400))
        ratings.append(rating(a, b, "a" if rng.random() < p_a else "b", i))
    table = {r.run: r for r in standings(ratings).rows}
    assert [r.run for r in standings(ratings).rows] == ["big", "mid", "small"]
    spread = table["big"].elo - table["small"].elo
    assert 300 < spread < 500  # truth 400 (the prior pulls a little towards the middle)
    for run in truth:  # both scales have their mean at 1000
        assert table[run].low <= truth[run] <= table[run].high, table[run]
        assert table[run].low < table[run].elo < table[run].high
    assert table["big"].win_rate > 0.6 > table["small"].win_rate


def test_ties_both_bad_and_dimensions():
    ratings = [
        rating("x", "y", "tie", 0),
        rating("x", "y", "both bad", 1),
        rating("y", "x", "a", 2, dimensions={"grammar": "b", "plot": "a"}),
    ]
    games = outcomes(ratings)
    assert games == [("x", "y", 0.5), ("y", "x", 1.0)]  # both bad says nothing of the order
    s = standings(ratings)
    assert s.ties == 1 and s.both_bad == 1 and s.ratings == 3
    assert set(s.dimensions) == {"grammar", "plot"}
    grammar = {r.run: r.elo for r in s.dimensions["grammar"]}
    assert grammar["x"] > grammar["y"]  # on grammar the rater preferred x (shown as b)
    p = bradley_terry(games, ["x", "y"])
    assert math.isclose(math.log(p["x"]) + math.log(p["y"]), 0, abs_tol=1e-9)


def test_judge_agreement_counts_only_comparable_pairs():
    ratings = [rating("x", "y", "a", i) for i in range(4)] + [rating("x", "y", "tie", 9)]
    grades = {("p0", "a0"): 8, ("p0", "b0"): 5, ("p1", "a1"): 3, ("p1", "b1"): 6,
              ("p2", "a2"): 7, ("p2", "b2"): 7}  # fmt: skip
    result = judge_agreement(ratings, grades)
    assert result == {"compared": 2, "agree": 1, "rate": 0.5, "not_compared": 2}


def test_eval_ratings_prints_the_table_and_refuses_bad_files(tmp_path):
    path = tmp_path / "ratings.jsonl"
    for i in range(12):
        append_rating(path, rating("good", "bad", "a" if i < 10 else "b", i, rater="ann"))
    result = run_cli("eval", "--ratings", str(path))
    assert result.returncode == 0, result.stderr
    assert "12 ratings by 1 rater(s) (ann): 0 ties" in result.stdout
    rows = [line for line in result.stdout.splitlines() if line.startswith("| good")]
    assert rows and "| 83% | 12 |" in rows[0]
    js = run_cli("eval", "--ratings", str(path), "--json")
    data = json.loads(js.stdout)
    assert [r["run"] for r in data["rows"]] == ["good", "bad"]

    for args, needle in (
        (["eval", "--ratings", str(tmp_path / "none.jsonl")], "no ratings file"),
        (["eval", "--ratings", str(path), "some-run"], "drop the RUN"),
        (["eval"], "needs a RUN"),
    ):
        bad = run_cli(*args)
        assert bad.returncode != 0 and "Traceback" not in bad.stderr
        assert needle in bad.stderr, bad.stderr
    empty = tmp_path / "empty.jsonl"
    empty.write_bytes(b"\xff\xfe not json\n")
    bad = run_cli("eval", "--ratings", str(empty))
    assert "holds no ratings yet (1 damaged lines skipped)" in bad.stderr
    with pytest.raises(TinylmError, match="choice must be one of"):
        append_rating(path, rating("x", "y", "maybe"))
