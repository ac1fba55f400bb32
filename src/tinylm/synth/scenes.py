"""The situations the story arcs draw from, declared once for every language.

``scenes_en`` and ``scenes_zh`` fill these records with their own words (each written in its
language, not translated); the arcs in ``arcs`` read the same fields in both.  ``V`` is how a
language writes a verb phrase: English keeps a ``VerbPhrase`` (its forms are built per story,
"tie {his} shoes"), Chinese a plain string.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, TypeVar

V = TypeVar("V")


@dataclass(frozen=True, slots=True)
class Fear(Generic[V]):
    what: str  # "the dark"; Chinese: what follows 怕 ("黑")
    do: V  # what the fear stops the character from doing
    event: tuple[str, ...]  # first event sentence, uses {When} and {who}
    worry: tuple[str, ...]
    truth: tuple[str, ...]
    places: tuple[str, ...] = ()  # place nouns where it can happen ("" = no place)
    kids_only: bool = False
    twist: bool = False  # the scary thing turns out to be something else entirely
    # Fixed time of day ("One night"); "" = any day.  A fixed time also means the grown-up, not
    # the friend, is there to help.
    when: str = ""
    not_kinds: tuple[str, ...] = ()  # animals for which this fear makes no sense
    did: str = ""  # ``do``, done, where a language does not derive it (Chinese: with 了)


@dataclass(frozen=True, slots=True)
class Skill(Generic[V]):
    do: V
    kinds: tuple[str, ...]  # character kinds that can learn it ("kid" = girl or boy)
    fail: tuple[str, ...]
    tip: tuple[str, ...]
    win: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Need:
    """Someone the hero helps: a little script plus the pronoun gender of that someone."""

    see: tuple[str, ...]  # "...when {he} saw <see>": a noun phrase
    steps: tuple[tuple[str, ...], ...]
    thanks: tuple[str, ...]
    summary: tuple[str, ...]
    gender: str
    twist: tuple[str, ...] = ()
    twist_summary: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Gift:
    make: tuple[str, ...]  # sentences saying how the gift is made
    noun: str  # "picture": "gave her the picture"
    places: tuple[str, ...] = ()
    it: str = "it"  # English pronoun for the gift ("them" for flowers); Chinese needs none


@dataclass(frozen=True, slots=True)
class Mistake:
    steps: tuple[tuple[str, ...], ...]
    hide: tuple[str, ...]  # how the hero hides it (lie branch)
    fix: tuple[str, ...]
    summary: tuple[str, ...]
    conflict: bool = False
    foreshadow: bool = False  # the first step is a warning that comes true


@dataclass(frozen=True, slots=True)
class Hazard:
    """A warning the hero ignores, for the disobey arc."""

    warn: tuple[str, ...]
    disobey: tuple[str, ...]
    accident: tuple[str, ...]
    bad: tuple[str, ...]  # sad ending
    saved: tuple[str, ...]  # happy ending after all
    summary_bad: tuple[str, ...]
    summary_saved: tuple[str, ...]
    needs: str = ""  # "water", "wind" or "" (what the place/thing must allow)
    places: tuple[str, ...] = ()  # place nouns where it can happen (empty = any)


@dataclass(frozen=True, slots=True)
class Noise:
    when: str  # "One night" / "One afternoon"
    hear: tuple[str, ...]
    reveal: tuple[str, ...]
    after: tuple[str, ...]
    # What it really was, for the summary: one noun phrase, or variants of one (one is drawn
    # per story, so the phrase can name the hero: "{he}的小猫").
    what: str | tuple[str, ...]
    omen: tuple[str, ...] = ()  # foreshadowing sentence
    places: tuple[str, ...] = ()  # outdoor noises: where (empty = at home)
    by_parent: bool = False  # the grown-up is the noise, so the hero cannot fetch them
