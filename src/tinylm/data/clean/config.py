"""What `tinylm data clean` does, as one dataclass: defaults < TOML file < command-line flags.

Every step has a switch. A TOML file holds the same names, flat or under a [clean] table:

    near_threshold = 0.7
    script = "han"
    to_simplified = true
    vocab_file = "words.txt"
"""

from __future__ import annotations

import os
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

from tinylm.config import read_toml
from tinylm.errors import TinylmError
from tinylm.settings import check_keys, coerce

SCRIPTS = ("latin", "han")


@dataclass(frozen=True)
class CleanConfig:
    # rewriting steps
    ftfy: bool = True  # repair mojibake ("donâ€™t" -> "don’t")
    nfc: bool = True  # Unicode NFC normalisation
    whitespace: bool = True  # newline style, odd spaces, trailing/double spaces, blank lines
    quotes: bool = True  # curly quotes -> straight (non-Chinese stories)
    to_simplified: bool = False  # Traditional -> Simplified Chinese (OpenCC t2s)
    # dropping steps
    drop_replacement: bool = True  # stories still holding U+FFFD after repair
    drop_incomplete: bool = True  # cut mid-sentence, or the unclosed last story of a file
    min_chars: int = 0
    max_chars: int | None = 20_000
    min_words: int = 20
    max_words: int | None = None
    script: str | None = None  # "latin" or "han": drop other-script lines, then stories
    script_min_fraction: float = 0.5
    offensive: bool = True
    offensive_words: str | None = None  # word list file; None: the packaged default
    exact_dedup: bool = True
    near_dedup: bool = True
    near_threshold: float = 0.8  # estimated Jaccard similarity of word 5-gram sets
    ngram: int = 5
    num_perm: int = 128
    vocab_top: int | None = None  # keep stories within the N most frequent words
    vocab_file: str | None = None  # ... or within this word list
    vocab_max_oov: float = 0.0  # share of a story's words allowed outside the vocabulary
    # running
    workers: int | None = None  # None: every core
    examples: int = 3  # examples per step in the report

    def validate(self) -> CleanConfig:
        if self.script is not None and self.script not in SCRIPTS:
            raise TinylmError(f"script must be one of {', '.join(SCRIPTS)}, got '{self.script}'")
        if not 0.0 < self.near_threshold <= 1.0:
            raise TinylmError(f"near_threshold must be in (0, 1], got {self.near_threshold}")
        if not 0.0 <= self.script_min_fraction <= 1.0:
            raise TinylmError(
                f"script_min_fraction must be in [0, 1], got {self.script_min_fraction}"
            )
        if not 0.0 <= self.vocab_max_oov < 1.0:
            raise TinylmError(f"vocab_max_oov must be in [0, 1), got {self.vocab_max_oov}")
        if self.vocab_top is not None and self.vocab_file is not None:
            raise TinylmError("give either vocab_top (--vocab-top) or vocab_file, not both")
        for name in ("ngram", "num_perm"):
            if getattr(self, name) < 1:
                raise TinylmError(f"{name} must be at least 1, got {getattr(self, name)}")
        if self.vocab_top is not None and self.vocab_top < 1:
            raise TinylmError(f"vocab_top must be at least 1, got {self.vocab_top}")
        for low, high in (("min_chars", "max_chars"), ("min_words", "max_words")):
            lo, hi = getattr(self, low), getattr(self, high)
            if lo < 0:
                raise TinylmError(f"{low} must be >= 0, got {lo}")
            if hi is not None and hi < lo:
                raise TinylmError(f"{high} ({hi}) is below {low} ({lo})")
        if self.workers is not None and self.workers < 1:
            raise TinylmError(f"workers must be at least 1, got {self.workers}")
        return self

    @property
    def worker_count(self) -> int:
        return self.workers or os.cpu_count() or 1

    @property
    def vocab_filter(self) -> bool:
        return self.vocab_top is not None or self.vocab_file is not None


FIELD_NAMES = tuple(f.name for f in fields(CleanConfig))


def load_clean_toml(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    raw = read_toml(path)
    if isinstance(raw.get("clean"), dict) and len(raw) == 1:
        raw = raw["clean"]
        where = f"[clean] of {path}"
    else:
        where = str(path)
    check_keys(raw, CleanConfig, where)
    values = coerce(CleanConfig, raw, where)
    # Paths in the file are relative to the file, not to wherever the command runs.
    for key in ("offensive_words", "vocab_file"):
        if isinstance(values.get(key), str):
            values[key] = str((path.parent / values[key]).resolve())
    return values


def build_clean_config(
    file_path: str | Path | None = None, flags: dict[str, Any] | None = None
) -> CleanConfig:
    """Defaults, then the TOML file, then the flags given (only keys present in `flags`)."""
    config = CleanConfig()
    if file_path is not None:
        config = replace(config, **load_clean_toml(file_path))
    given = dict(flags or {})
    check_keys(given, CleanConfig, "flags")
    return replace(config, **given).validate()


def enabled_steps(config: CleanConfig) -> dict[str, bool]:
    """Which of the pipeline's steps (pipeline.STEPS, by name) this config runs."""
    return {
        "length": bool(
            config.min_chars or config.max_chars is not None or config.min_words or config.max_words
        ),
        "ftfy": config.ftfy,
        "nfc": config.nfc,
        "whitespace": config.whitespace,
        "quotes": config.quotes,
        "simplified": config.to_simplified,
        "replacement": config.drop_replacement,
        "incomplete": config.drop_incomplete,
        "script": config.script is not None,
        "offensive": config.offensive,
        "exact-dup": config.exact_dedup,
        "near-dup": config.near_dedup,
        "vocabulary": config.vocab_filter,
    }
