"""What every arc is made of: the language knobs and the shared steps (opening, first event,
meeting the friend, the helper, the moral, the epilogue).

The steps take the story's :class:`Builder` and the language module ``L``; where the two
languages' grammar differs (English keeps capitalised twins of names, {F1}; its helper has four
pronoun slots, Chinese one), ``L.KNOBS`` says how.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from types import ModuleType

from ..templates import Builder

KIDS = ("girl", "boy")


@dataclass(frozen=True, slots=True)
class Knobs:
    """Where one language's arcs differ from the other's."""

    # Names and the helper have a capitalised twin in the context ({F1}, {Helper}), for
    # sentence starts: English yes, Chinese no.
    cased: bool
    helper_pronouns: tuple[str, ...]  # the helper's pronoun slots ({hhe}...) the templates use
    parent_ref: str  # the grown-up as helper or gift receiver: "{his} {parent}", "{parent}"
    friend_of: str  # how the noise arc names the friend: "{his} friend {fname}"
    epilogue_p: float  # chance of a closing paragraph after a happy ending (times detail)
    epilogue_tail: tuple[str, ...]  # and of one more line in it
    epilogue_tail_p: float
    lost_check_p: float  # the lost thing, once found, is looked over ("It was fine.")
    fear_shaky_p: float  # the hero feels shaky before facing the fear
    rain_ready_p: float  # getting ready for the day out that the rain spoils


def opt(b: Builder, variants: Sequence[str] | None, p: float = 0.5) -> bool:
    """``b.maybe`` for a beat some language lacks (``None``): absent, it draws nothing."""
    return variants is not None and b.maybe(variants, p)


def _twins(L: ModuleType, key: str) -> tuple[str, ...]:
    return (key, key[:1].upper() + key[1:]) if L.KNOBS.cased else (key,)


def set_twins(
    c: dict[str, str], L: ModuleType, key: str, value: str, capital: str | None = None
) -> None:
    """``c[key] = value``, and in a cased language its twin (``F1``) the capitalised value."""
    c[key] = value
    if L.KNOBS.cased:
        c[key[:1].upper() + key[1:]] = value[:1].upper() + value[1:] if capital is None else capital


# -- shared steps -----------------------------------------------------------------------------


def intro(b: Builder, L: ModuleType, *, direct_ok: bool = True, friend: bool = False) -> bool:
    """Open the story.  Returns False when the opening is left to the first event sentence
    ("One day, a little girl named Lily..."), the other TinyStories opening style."""
    if direct_ok and b.chance(0.35):
        b.ctx["who"] = b.ctx["np"]
        return False
    at_home = b.chance(0.15)
    b.say(L.INTRO_HOME if at_home else L.INTRO)
    L.traits(b, at_home)
    if friend and b.chance(0.5):
        b.say(L.TRAIT_FRIEND)
        met(b, L)
    return True


def event(b: Builder, variants: Sequence[str]) -> None:
    """The first event; after it the hero is simply called by name."""
    b.say(variants)
    b.ctx["who"] = b.ctx["name"]


def met(b: Builder, L: ModuleType) -> None:
    """The friend has been introduced: from now on, just the name."""
    c = b.ctx
    name = c["fname"]
    if c.get("helper") == c["f1"]:
        set_twins(c, L, "helper", name, name)
    set_twins(c, L, "f1", name, name)
    b.pending.clear()


def watch_friend(b: Builder, L: ModuleType) -> None:
    """Once the friend's introducing phrase ({f1}) is said, call the friend by name."""
    c = b.ctx
    name = c["fname"]
    keys = _twins(L, "f1")
    updates = dict.fromkeys(keys, name)
    if c.get("helper") == c["f1"]:
        updates.update(dict.fromkeys(_twins(L, "helper"), name))
    for text in {c[k] for k in keys} - {name}:
        b.first_mention(text, **updates)


def moral(b: Builder, variants: Sequence[str], p: float = 1.0) -> None:
    if b.chance(p):
        b.say(variants)
        b.flag("MoralValue")


def epilogue(b: Builder, L: ModuleType) -> None:
    """An optional closing paragraph for happy endings (TinyStories often has one)."""
    k = L.KNOBS
    if b.chance(k.epilogue_p * b.detail):
        b.para()
        b.say(L.EPILOGUE)
        b.maybe(k.epilogue_tail, k.epilogue_tail_p)


def use_helper(b: Builder, L: ModuleType, who: str) -> None:
    """Point the {helper} slots at the grown-up ("parent") or at the friend ("friend")."""
    c = b.ctx
    if who == "parent":
        set_twins(c, L, "helper", L.KNOBS.parent_ref.format_map(c))
    else:
        set_twins(c, L, "helper", c["f1"], c.get("F1"))
    src = "p" if who == "parent" else "f"
    for slot in L.KNOBS.helper_pronouns:
        c["h" + slot] = c[src + slot]
    if who != "parent":
        watch_friend(b, L)
