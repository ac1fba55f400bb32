"""The story arcs, written once for every language: what happens, in what order, how likely.

An arc is a plain function ``arc(b, L)``: ``b`` is the story's :class:`Builder`, ``L`` the
language module (``plots_en`` or ``plots_zh``) that holds the words.  The arc says ``L``'s
templates by name (``L.LOST_GONE``), draws every random choice itself, and sets the narrative
feature flags, because only it knows whether, say, the warning at the start really came true.
``trouble`` and ``growing`` hold the fifteen arcs, ``beats`` the steps they share (opening,
meeting the friend, the helper, the moral, the epilogue); this module picks and runs one.

A language module provides:

* every template the arcs name (a tuple of variants), or ``None`` for a beat the language does
  not have: ``beats.opt`` skips an absent beat without a random draw;
* ``KNOBS``, a :class:`Knobs`: the probabilities and forms in which the languages differ;
* ``S``, its scenes module (records from ``synth.scenes``, plus ``RAINY_FUN`` and ``BABIES``);
* two grammar steps: ``traits(b, at_home)``, the hero's everyday life after the opening line,
  and ``gift_keys(ctx, gift, to_friend)``, the gift and who receives it in all their forms.

The two languages had drifted apart before their arcs were merged; every difference is kept as
a knob or an absent beat, so a seed still writes the corpus it wrote before
(``tests/test_synth_parity.py`` pins it).
"""

from __future__ import annotations

import bisect
import itertools
import random
from collections.abc import Callable
from types import ModuleType

from ..templates import Builder, Draft
from .beats import Knobs, watch_friend
from .growing import (
    arc_egg,
    arc_fear,
    arc_gift,
    arc_help,
    arc_newfriend,
    arc_noise,
    arc_race,
    arc_skill,
)
from .trouble import arc_broken, arc_fight, arc_lost, arc_mistake, arc_rain, arc_share, arc_warning

__all__ = ["ARCS", "Knobs", "choose", "tell"]

# -- dispatch ---------------------------------------------------------------------------------

ArcFn = Callable[[Builder, ModuleType], None]

ARCS: dict[str, tuple[ArcFn, float]] = {  # name: (function, how often)
    "lost": (arc_lost, 1.3),
    "share": (arc_share, 1.0),
    "fight": (arc_fight, 1.0),
    "fear": (arc_fear, 1.0),
    "help": (arc_help, 1.0),
    "broken": (arc_broken, 1.0),
    "rain": (arc_rain, 0.9),
    "skill": (arc_skill, 1.0),
    "gift": (arc_gift, 0.9),
    "mistake": (arc_mistake, 0.9),
    "warning": (arc_warning, 0.9),
    "noise": (arc_noise, 0.8),
    "newfriend": (arc_newfriend, 0.8),
    "race": (arc_race, 0.7),
    "egg": (arc_egg, 0.5),
}
_NAMES = tuple(ARCS)
_CUM = tuple(itertools.accumulate(w for _, w in ARCS.values()))


def choose(rng: random.Random) -> str:
    """The arc of a new story (the story's first draw)."""
    return _NAMES[bisect.bisect(_CUM, rng.random() * _CUM[-1])]


def tell(b: Builder, L: ModuleType) -> Draft:
    """Run the draft's arc in language ``L`` and return the finished draft."""
    watch_friend(b, L)
    ARCS[b.draft.arc][0](b, L)
    return b.finish()
