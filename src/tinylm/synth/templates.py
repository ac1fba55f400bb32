"""The tiny template language shared by the English and Chinese generators.

A template source is a string with ``{slot}`` references (filled with ``str.format_map``) and
``[a|b|]`` alternations.  Alternations are expanded once, at import time, into a tuple of plain
format strings, so rendering a sentence at generation time is one ``rng.choice`` plus one
``format_map`` -- that is what keeps the generator at tens of thousands of stories per second.

Every source and every lexicon string goes through a :class:`WordBook`, which is how
``vocabulary()`` can be *true* by construction: the generator can only emit words that were
registered here.  Chinese sources are written with spaces between words (``"有 一天 ，"``); the
spaces mark the word units for the vocabulary and are removed before rendering.
"""

from __future__ import annotations

import itertools
import random
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

_T = TypeVar("_T")

_ALT = re.compile(r"\[([^\[\]]*)\]")
_SLOT = re.compile(r"\{[A-Za-z_][A-Za-z0-9_]*\}")
# English word forms, as counted by vocabulary("en"): letters with an optional clitic ("don't",
# "lily's"); digits never appear in the stories.
EN_WORD = re.compile(r"[a-z]+(?:'[a-z]+)?")
ZH_PUNCT = frozenset("，。！？：；“”‘’、…—《》（）")
# Combinatorial blow-up guard: a source with more variants than this is a typo, not a template.
_MAX_VARIANTS = 4096


def words(text: str) -> tuple[str, ...]:
    """Whitespace-separated word list: keeps long lexicon tables readable."""
    return tuple(text.split())


def tokenize_en(text: str) -> list[str]:
    """Lower-cased English word forms of ``text`` (the unit ``vocabulary("en")`` is made of)."""
    return EN_WORD.findall(text.lower())


def expand(source: str) -> list[str]:
    """All strings described by ``source``'s ``[a|b|c]`` alternations (no nesting)."""
    groups = _ALT.findall(source)
    if not groups:
        return [source]
    options = [g.split("|") for g in groups]
    total = 1
    for opt in options:
        total *= len(opt)
    if total > _MAX_VARIANTS:
        raise ValueError(f"template expands to {total} variants: {source!r}")
    pieces = _ALT.split(source)  # literal, group, literal, group, ..., literal
    literals = pieces[0::2]
    out = []
    for combo in itertools.product(*options):
        parts = [literals[0]]
        for choice, lit in zip(combo, literals[1:], strict=True):
            parts.append(choice)
            parts.append(lit)
        out.append("".join(parts))
    return out


class WordBook:
    """Registry of every template and lexicon string one language can emit.

    ``spaced`` books (Chinese) take word units separated by spaces and strip the spaces for
    rendering; unspaced books (English) keep text as written and find words with a regex.
    """

    def __init__(self, lang: str, spaced: bool) -> None:
        self.lang = lang
        self.spaced = spaced
        self._texts: list[str] = []  # raw registered text, tokenised lazily by words()
        self._extra: set[str] = set()
        self._cache: frozenset[str] | None = None

    # -- registration -------------------------------------------------------------------------
    def t(self, *sources: str) -> tuple[str, ...]:
        """Compile template sources into a tuple of ready-to-format variants."""
        out: list[str] = []
        for src in sources:
            for variant in expand(src):
                self._texts.append(_SLOT.sub(" ", variant))
                out.append(self._render_form(variant, src))
        self._cache = None
        return tuple(out)

    def w(self, text: str) -> str:
        """Register a lexicon string and return its rendered form.

        A lexicon string may itself contain slots ("tie {his} shoes"); they are formatted when
        the story's context is built, so slot names must not count as words.
        """
        self._texts.append(_SLOT.sub(" ", text))
        self._cache = None
        return self._render_form(text, text)

    def ws(self, texts: Iterable[str]) -> tuple[str, ...]:
        return tuple(self.w(x) for x in texts)

    def extra(self, words: Iterable[str]) -> None:
        """Register words that are emitted without being part of a template (metadata)."""
        self._extra.update(words)
        self._cache = None

    def _render_form(self, variant: str, src: str) -> str:
        if self.spaced:
            return variant.replace(" ", "")
        # Cheap structural checks that turn authoring slips into import-time errors.
        if "  " in variant or variant != variant.strip():
            raise ValueError(f"bad spacing in template variant {variant!r} of {src!r}")
        return variant

    # -- queries ------------------------------------------------------------------------------
    def words(self) -> frozenset[str]:
        if self._cache is None:
            found: set[str] = set(self._extra)
            for text in self._texts:
                if self.spaced:
                    found.update(u for u in text.split() if u not in ZH_PUNCT)
                else:
                    found.update(tokenize_en(text))
            self._cache = frozenset(found)
        return self._cache


@dataclass
class Draft:
    """A story under construction plus everything the generator knows about it."""

    arc: str
    paras: list[list[str]] = field(default_factory=list)
    flags: set[str] = field(default_factory=set)
    summary: str = ""
    # name -> "f"/"m"/"n" for every character a pronoun may refer to (used by tests).
    cast: dict[str, str] = field(default_factory=dict)


def pick(rand: Callable[[], float], seq: Sequence[_T]) -> _T:
    """``random.choice`` without its pure-Python rejection sampling: one C call to
    ``random()``.  Generation speed is dominated by choices, and this is ~10x cheaper."""
    return seq[int(rand() * len(seq))]


def pick_name(rand: Callable[[], float], names: Sequence[_T]) -> _T:
    """A name, the first ones in the list much more often than the last (P(first of 36) is
    about 1/6), as in TinyStories where a few names (Lily, Tim, Tom...) dominate: a small model
    learns to carry one name through a story far more easily when names repeat across stories."""
    r = rand()
    return names[int(len(names) * r * r)]


class Builder:
    """Assembles one story: renders sentences from a context dict into paragraphs."""

    __slots__ = ("ctx", "cur", "detail", "draft", "pending", "rand", "rng", "scene")

    def __init__(
        self, rng: random.Random, ctx: dict[str, str], arc: str, detail: float, scene: Any = None
    ) -> None:
        self.rng = rng
        self.rand = rng.random
        self.ctx = ctx
        self.scene = scene  # the arc's situation record (a fear, a skill...), if it has one
        # Probability multiplier for optional sentences: some stories terse, some chatty.
        self.detail = detail
        self.draft = Draft(arc=arc)
        self.cur: list[str] = []
        # First mentions still to happen: once ``text`` is said, apply the context updates
        # ("a boy named Tom" becomes plain "Tom" afterwards).
        self.pending: dict[str, dict[str, str]] = {}

    def say(self, variants: Sequence[str]) -> str:
        s = variants[int(self.rand() * len(variants))].format_map(self.ctx)
        self.cur.append(s)
        if self.pending:
            for text in [t for t in self.pending if t in s]:
                self.ctx.update(self.pending.pop(text))
        return s

    def first_mention(self, text: str, **updates: str) -> None:
        """After ``text`` first appears in the story, update the context with ``updates``."""
        if text in self.pending:
            self.pending[text].update(updates)
        else:
            self.pending[text] = dict(updates)

    def maybe(self, variants: Sequence[str], p: float = 0.5) -> bool:
        """Say one of ``variants`` with probability ``p`` scaled by the story's detail level."""
        if self.rand() < p * self.detail:
            self.say(variants)
            return True
        return False

    def chance(self, p: float) -> bool:
        return self.rand() < p

    def pick(self, seq: Sequence[_T]) -> _T:
        return seq[int(self.rand() * len(seq))]

    def para(self) -> None:
        if self.cur:
            self.draft.paras.append(self.cur)
            self.cur = []

    def flag(self, *names: str) -> None:
        self.draft.flags.update(names)

    def summary(self, variants: Sequence[str]) -> None:
        self.draft.summary = self.pick(variants).format_map(self.ctx)

    def finish(self) -> Draft:
        self.para()
        return self.draft
