"""The per-story work of `tinylm data clean`, done in worker processes: rewrite and judge
each story of a batch (the `STEPS` in pipeline order up to the offensive-word list), hash it and
compute its MinHash signature; and, in pass 2, the vocabulary check and output statistics."""

from __future__ import annotations

import hashlib
from collections import Counter, defaultdict
from dataclasses import dataclass

import numpy as np

from tinylm.data.clean import text as T
from tinylm.data.clean.config import CleanConfig, enabled_steps
from tinylm.data.clean.dedup import MinHasher


@dataclass
class _WorkerState:
    config: CleanConfig
    hasher: MinHasher | None
    offensive: T.OffensiveWords | None


_STATE: _WorkerState | None = None


def init_worker(config: CleanConfig) -> None:
    global _STATE
    hasher = (
        MinHasher.create(config.num_perm, config.ngram, config.near_threshold)
        if config.near_dedup
        else None
    )
    offensive = T.OffensiveWords.load(config.offensive_words) if config.offensive else None
    _STATE = _WorkerState(config, hasher, offensive)


@dataclass
class BatchOut:
    outcomes: list[tuple[str | None, str | None, tuple[str, ...]]]  # (dropped by, why, fixed by)
    texts: list[str]  # the kept stories, cleaned
    hashes: list[int]
    signatures: np.ndarray | None  # uint32 [len(texts), num_perm]
    fixes: dict[str, list[tuple[int, str, str]]]  # step -> (index in batch, before, after)
    word_counts: Counter | None


def clean_batch(batch: list[tuple[str, bool]]) -> BatchOut:
    assert _STATE is not None
    cfg, hasher = _STATE.config, _STATE.hasher
    on = enabled_steps(cfg)
    outcomes: list[tuple[str | None, str | None, tuple[str, ...]]] = []
    texts: list[str] = []
    hashes: list[int] = []
    fixes: dict[str, list[tuple[int, str, str]]] = defaultdict(list)
    counts: Counter | None = Counter() if cfg.vocab_top is not None else None
    rewrites = (
        ("ftfy", T.fix_mojibake),
        ("nfc", T.normalize_nfc),
        ("whitespace", T.normalize_whitespace),
        ("quotes", T.straighten_quotes),
        ("simplified", T.to_simplified),
    )
    kept_words: list[list[str]] = []
    for i, (story, closed) in enumerate(batch):
        fixed: list[str] = []

        def note(step: str, before: str, after: str, i: int = i, fixed: list = fixed) -> None:
            fixed.append(step)
            if len(fixes[step]) < cfg.examples:
                fixes[step].append((i, *T.first_difference(before, after)))

        problem: tuple[str, str] | None = None
        for name, rewrite in rewrites:
            if on[name]:
                new = rewrite(story)
                if new != story:
                    note(name, story, new)
                    story = new
        if on["replacement"] and "\ufffd" in story:
            problem = ("replacement", f"U+FFFD at character {story.index(chr(0xFFFD))}")
        if problem is None and on["incomplete"]:
            why = T.incomplete_problem(story, closed)
            problem = ("incomplete", why) if why else None
        if problem is None and on["script"]:
            assert cfg.script is not None
            new, why = T.script_filter(story, cfg.script, cfg.script_min_fraction)
            if why:
                problem = ("script", why)
            elif new != story:
                note("script", story, new)
                story = new
        story_words: list[str] | None = None
        if problem is None and on["length"]:
            # Characters first: a 50 MB line is refused before it is split into words.
            why = T.length_problem(story, cfg.min_chars, cfg.max_chars, 0, None)
            if why is None and (cfg.min_words or cfg.max_words is not None):
                story_words = T.words(story)
                why = T.word_count_problem(len(story_words), cfg.min_words, cfg.max_words)
            problem = ("length", why) if why else None
        if problem is None and _STATE.offensive is not None:
            why = T.offensive_problem(story, _STATE.offensive)
            problem = ("offensive", why) if why else None
        if problem is not None:
            outcomes.append((problem[0], problem[1], tuple(fixed)))
            continue
        if story_words is None:
            story_words = T.words(story)
        if counts is not None:
            counts.update(story_words)
        if hasher is not None:
            kept_words.append(story_words)
        hashes.append(int.from_bytes(hashlib.blake2b(story.encode(), digest_size=8).digest()))
        texts.append(story)
        outcomes.append((None, None, tuple(fixed)))
    sig = hasher.signatures(kept_words) if hasher is not None and kept_words else None
    return BatchOut(outcomes, texts, hashes, sig, dict(fixes), counts)


def finish_batch(
    texts: list[str], allowed: frozenset[str] | None, max_oov: float
) -> tuple[list[tuple[bool, str | None, int]], Counter]:
    """Vocabulary check and output statistics: (keep, why, word count) per story."""
    results: list[tuple[bool, str | None, int]] = []
    counts: Counter = Counter()
    for story in texts:
        story_words = T.words(story)
        if allowed is not None:
            outside = [w for w in story_words if w not in allowed]
            if len(outside) > max_oov * max(1, len(story_words)):
                shown = ", ".join(sorted(set(outside))[:5])
                results.append(
                    (False, f"{len(outside)} of {len(story_words)} words outside: {shown}", 0)
                )
                continue
        counts.update(story_words)
        results.append((True, None, len(story_words)))
    return results, counts
