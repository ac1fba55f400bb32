"""Blind human ratings of stories: a JSONL file of pairwise choices, and what they say about
the runs (Bradley-Terry strengths on the Elo scale with bootstrap intervals, win rates, and
how often an LLM judge agrees with the people).

One line per rating: the rater, the time, the prompt, the two stories, the two runs (in the
order shown: "a" was on the left), the seed, the choice ("a", "b", "tie" or "both bad") and,
optionally, a choice per rubric dimension. Lines are appended under an exclusive lock with one
write and an fsync, so two raters (two browser tabs, two processes) never interleave a line
and a crash never costs an earlier one; a half-written last line (power cut) is skipped and
counted on reading.

Bradley-Terry (Zermelo; Hunter 2004's MM iterations): P(i beats j) = p_i / (p_i + p_j); a tie
is half a win for each side, "both bad" says nothing about the order and is left out of the
fit (but counted). Strengths are shown as Elo, 1000 + 400 log10(p_i / geometric mean p), and
each run's 95 % interval comes from refitting on ratings resampled with replacement.
"""

from __future__ import annotations

import fcntl
import json
import math
import os
import random
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tinylm.errors import TinylmError
from tinylm.evalsuite.judge import CATEGORIES, Judge

RATINGS_FILE = "ratings.jsonl"
CHOICES = ("a", "b", "tie", "both bad")
DIMENSIONS = CATEGORIES  # the judge's rubric: people and the judge grade the same things
BOOTSTRAP_ROUNDS = 1000
ELO_BASE, ELO_SCALE = 1000.0, 400.0


def append_rating(path: Path, record: dict[str, Any]) -> None:
    """One rating, appended whole: a lock for concurrent raters, one write, fsync."""
    check_record(record, str(path))
    line = (json.dumps({"time": time.time(), **record}, ensure_ascii=False) + "\n").encode()
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        os.write(fd, line)
        os.fsync(fd)
    finally:
        os.close(fd)  # closing drops the lock


def check_record(record: dict[str, Any], where: str) -> None:
    for key in ("prompt", "story_a", "story_b", "run_a", "run_b", "choice"):
        if not isinstance(record.get(key), str):
            raise TinylmError(f"{where}: a rating needs '{key}' (text)")
    if record["choice"] not in CHOICES:
        raise TinylmError(f"{where}: choice must be one of {', '.join(CHOICES)}")
    for dim, choice in (record.get("dimensions") or {}).items():
        if dim not in DIMENSIONS or choice not in CHOICES:
            raise TinylmError(f"{where}: dimension '{dim}': '{choice}' is not a choice")


@dataclass
class RatingsFile:
    ratings: list[dict[str, Any]]
    skipped: int = 0  # lines that were not a whole rating (a crash mid-write, a hand edit)


def read_ratings(path: str | Path) -> RatingsFile:
    path = Path(path)
    if not path.is_file():
        raise TinylmError(
            f"no ratings file {path}; rate stories in the GUI's Rate tab first (`tinylm gui`), "
            "which writes it"
        )
    ratings, skipped = [], 0
    with open(path, "rb") as f:
        for raw in f:
            try:
                record = json.loads(raw.decode("utf-8"))
                check_record(record, str(path))
            except (UnicodeDecodeError, json.JSONDecodeError, TinylmError, TypeError):
                skipped += 1
                continue
            ratings.append(record)
    if not ratings:
        raise TinylmError(
            f"{path} holds no ratings yet"
            + (f" ({skipped} damaged lines skipped)" if skipped else "")
            + "; rate some stories in the GUI's Rate tab"
        )
    return RatingsFile(ratings, skipped)


# -- the statistics -----------------------------------------------------------------------------


Outcome = tuple[str, str, float]  # (run i, run j, i's score: 1 win, 0.5 tie, 0 loss)


def outcomes(ratings: Iterable[dict[str, Any]], dimension: str | None = None) -> list[Outcome]:
    out = []
    for r in ratings:
        choice = r["choice"] if dimension is None else (r.get("dimensions") or {}).get(dimension)
        if choice is None or choice == "both bad" or r["run_a"] == r["run_b"]:
            continue
        score = {"a": 1.0, "b": 0.0, "tie": 0.5}[choice]
        out.append((r["run_a"], r["run_b"], score))
    return out


def bradley_terry(games: list[Outcome], runs: list[str], iterations: int = 500) -> dict[str, float]:
    """Maximum-likelihood strengths (MM updates over the pairs' game counts). Each run also
    plays half a win and half a loss against a virtual opponent of strength 1: a weak prior
    that keeps a run that never won (or never lost) finite, as chess ratings do."""
    wins = {run: 0.5 for run in runs}
    pairs: dict[tuple[str, str], int] = {}
    for i, j, s in games:
        wins[i] += s
        wins[j] += 1.0 - s
        key = (i, j) if i < j else (j, i)
        pairs[key] = pairs.get(key, 0) + 1
    p = {run: 1.0 for run in runs}
    for _ in range(iterations):
        denominator = {run: 1.0 / (p[run] + 1.0) for run in runs}
        for (i, j), n in pairs.items():
            d = n / (p[i] + p[j])
            denominator[i] += d
            denominator[j] += d
        new = {run: wins[run] / denominator[run] for run in runs}
        mean = math.exp(sum(math.log(v) for v in new.values()) / len(new))
        new = {r: v / mean for r, v in new.items()}
        converged = all(abs(new[r] - p[r]) < 1e-9 * p[r] for r in runs)
        p = new
        if converged:
            break
    return p


def elo(strength: float) -> float:
    return ELO_BASE + ELO_SCALE * math.log10(strength)


@dataclass
class RunStanding:
    run: str
    elo: float
    low: float  # 95 % bootstrap interval
    high: float
    games: int  # ratings that ranked it against another run
    wins: float  # ties count half
    both_bad: int

    @property
    def win_rate(self) -> float | None:
        return self.wins / self.games if self.games else None


@dataclass
class Standings:
    rows: list[RunStanding]
    ratings: int
    raters: list[str]
    ties: int
    both_bad: int
    dimensions: dict[str, list[RunStanding]] = field(default_factory=dict)
    judge_agreement: dict[str, Any] | None = None


def _standings(
    ratings: list[dict[str, Any]], runs: list[str], dimension: str | None, seed: int
) -> list[RunStanding]:
    games = outcomes(ratings, dimension)
    fit = bradley_terry(games, runs)
    rng = random.Random(seed)
    samples: dict[str, list[float]] = {run: [] for run in runs}
    for _ in range(BOOTSTRAP_ROUNDS if games else 0):
        resampled = [games[rng.randrange(len(games))] for _ in games]
        for run, p in bradley_terry(resampled, runs, iterations=100).items():
            samples[run].append(elo(p))
    rows = []
    for run in runs:
        mine = [(i, j, s) for i, j, s in games if run in (i, j)]
        wins = sum(s if i == run else 1.0 - s for i, j, s in mine)
        draws = sorted(samples[run]) or [elo(fit[run])]
        low = draws[int(0.025 * (len(draws) - 1))]
        high = draws[math.ceil(0.975 * (len(draws) - 1))]
        bad = sum(
            1
            for r in ratings
            if (dimension is None and r["choice"] == "both bad") and run in (r["run_a"], r["run_b"])
        )
        rows.append(RunStanding(run, elo(fit[run]), low, high, len(mine), wins, bad))
    return sorted(rows, key=lambda r: -r.elo)


def standings(ratings: list[dict[str, Any]], seed: int = 0) -> Standings:
    runs = sorted({r["run_a"] for r in ratings} | {r["run_b"] for r in ratings})
    rated = [d for d in DIMENSIONS if any((r.get("dimensions") or {}).get(d) for r in ratings)]
    return Standings(
        rows=_standings(ratings, runs, None, seed),
        ratings=len(ratings),
        raters=sorted({str(r.get("rater") or "anonymous") for r in ratings}),
        ties=sum(r["choice"] == "tie" for r in ratings),
        both_bad=sum(r["choice"] == "both bad" for r in ratings),
        dimensions={d: _standings(ratings, runs, d, seed) for d in rated},
    )


def judge_grades(judge: Judge, ratings: list[dict[str, Any]]) -> dict[tuple[str, str], float]:
    """The judge's mean grade of each rated story, graded once per (prompt, story) as a
    completion of its prompt; stories whose answer lacked a grade are left out."""
    stories = sorted({(r["prompt"], r[k]) for r in ratings for k in ("story_a", "story_b")})
    pairs = [(p, s[len(p) :] if s.startswith(p) else s) for p, s in stories]
    grades = {}
    for story, (g, _) in zip(stories, judge.grade_all(pairs), strict=True):
        values = [getattr(g, c) for c in CATEGORIES]
        if all(v is not None for v in values):
            grades[story] = sum(values) / len(values)
    return grades


def judge_agreement(
    ratings: list[dict[str, Any]], grade: dict[tuple[str, str], float]
) -> dict[str, Any]:
    """How often the judge's grades order a pair as the rater did: `grade[(prompt, story)]` is
    the judge's mean grade of a story; pairs the person called a tie or both bad, and pairs
    the judge graded equal or not at all, are left out (and counted)."""
    agree = compared = unjudged = 0
    for r in ratings:
        if r["choice"] not in ("a", "b"):
            continue
        a, b = grade.get((r["prompt"], r["story_a"])), grade.get((r["prompt"], r["story_b"]))
        if a is None or b is None or a == b:
            unjudged += 1
            continue
        compared += 1
        agree += (a > b) == (r["choice"] == "a")
    return {
        "compared": compared,
        "agree": agree,
        "rate": agree / compared if compared else None,
        "not_compared": unjudged,
    }


def standings_markdown(s: Standings, skipped: int = 0) -> str:
    lines = [
        f"{s.ratings} ratings by {len(s.raters)} rater(s) ({', '.join(s.raters)}): "
        f"{s.ties} ties, {s.both_bad} 'both bad'"
        + (f"; {skipped} damaged lines skipped" if skipped else ""),
        "",
        "| run | Elo (Bradley-Terry) | 95 % interval | win rate | rated pairs |",
        "|---|---:|---:|---:|---:|",
    ]
    for r in s.rows:
        rate = f"{r.win_rate:.0%}" if r.win_rate is not None else "n/a"
        lines.append(f"| {r.run} | {r.elo:.0f} | {r.low:.0f} - {r.high:.0f} | {rate} | {r.games} |")
    for dim, rows in s.dimensions.items():
        ranked = ", ".join(f"{r.run} {r.elo:.0f}" for r in rows)
        lines += ["", f"**{dim}**: {ranked}"]
    if s.judge_agreement is not None:
        j = s.judge_agreement
        rate = f"{j['rate']:.0%}" if j["rate"] is not None else "n/a"
        lines += [
            "",
            f"LLM judge vs people: agrees on {j['agree']} of {j['compared']} pairs ({rate}); "
            f"{j['not_compared']} pairs not compared (graded equal, or not graded)",
        ]
    return "\n".join(lines)
