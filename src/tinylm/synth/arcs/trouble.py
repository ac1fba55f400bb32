"""Arcs where something goes wrong: a thing lost or broken, a plan spoilt by rain, a quarrel
over sharing or a game, a mistake owned up to, a warning ignored."""

from __future__ import annotations

from types import ModuleType

from ..scenes import Hazard, Mistake
from ..templates import Builder
from .beats import KIDS, epilogue, event, intro, met, moral, opt


def arc_lost(b: Builder, L: ModuleType) -> None:
    """A lost thing is found (by a friend, a grown-up, the hero...) or, rarely, never."""
    c = b.ctx
    if intro(b, L):
        b.say(L.LOST_HAVE)
        if b.maybe(L.LOST_WARN, 0.4):
            b.flag("Foreshadowing")
    event(b, L.LOST_GO)
    b.maybe(L.SCENERY, 0.5)
    b.maybe(L.LOST_PLAY, 0.9)
    b.say(L.LOST_GONE)
    b.say(L.LOST_SAD)
    opt(b, L.LOST_SAD_2, 0.4)
    b.para()
    b.maybe(L.LOST_SEARCH, 0.8)
    opt(b, L.LOST_BIRD, 0.3)
    r = b.rand()
    if r < 0.35:
        way = "friend"
        b.say(L.LOST_FRIEND)
        met(b, L)
        if b.maybe(L.LOST_ASK, 0.7):
            b.say(L.LOST_TELL)
        b.say(L.LOST_OFFER)
        b.say(L.LOST_FOUND_F)
    elif r < 0.55:
        way = "parent"
        b.say(L.LOST_PARENT)
        b.say(L.LOST_FOUND_P)
    elif r < 0.67:
        way = "alone"
        b.say(L.LOST_ALONE)
    elif r < 0.79:
        way = "thief"
        b.say(L.LOST_THIEF)
        b.say(L.LOST_THIEF_2)
        b.flag("Twist")
    elif r < 0.88 and c["kkey"] in KIDS and c["small"]:
        way = "pocket"
        b.say(L.LOST_POCKET)
        b.maybe(L.LOST_POCKET_2, 0.8)
        b.flag("Twist")
    else:
        b.say(L.LOST_NEVER)
        b.say(L.LOST_NEVER_2)
        b.flag("BadEnding")
        moral(b, L.LOST_MORAL_BAD, 0.4)
        b.summary(L.LOST_SUM["bad"])
        return
    b.para()
    b.say(L.LOST_JOY)
    b.maybe(L.LOST_CHECK, L.KNOBS.lost_check_p)
    if way == "friend":
        b.maybe(L.LOST_THANK, 0.8)
        moral(b, L.LOST_MORAL_F, 0.3)
    moral(b, L.LOST_MORAL, 0.5 * b.detail)
    b.maybe(L.END_HAPPY, 0.6)
    opt(b, L.END_MORE, 0.3)
    epilogue(b, L)
    b.summary(L.LOST_SUM[way])


def arc_share(b: Builder, L: ModuleType) -> None:
    """Learning to share (or, rarely, ending up alone)."""
    if intro(b, L):
        b.maybe(L.SHARE_HAVE, 0.8)
    event(b, L.SHARE_PLAY)
    b.maybe(L.SCENERY, 0.4)
    b.maybe(L.SHARE_FUN, 0.7)
    b.say(L.SHARE_ASK)
    met(b, L)
    b.say(L.SHARE_NO)
    b.flag("Conflict")
    b.say(L.SHARE_HURT)
    b.para()
    if b.chance(0.1):
        b.say(L.SHARE_BAD)
        b.maybe(L.SHARE_BAD_2, 0.7)
        b.flag("BadEnding")
        b.summary(L.SHARE_SUM_BAD)
        return
    b.say(L.SHARE_ALONE)
    if b.chance(0.35):
        b.say(L.SHARE_PARENT)
        b.maybe(L.SHARE_THINK, 0.6)
    b.say(L.SHARE_YES)
    b.say(L.SHARE_HAPPY)
    b.para()
    b.maybe(L.SHARE_TURNS, 0.6)
    b.say(L.SHARE_TOGETHER)
    moral(b, L.SHARE_MORAL, 0.6)
    b.maybe(L.END_FRIENDS, 0.6)
    opt(b, L.CLOSING, 0.3)
    epilogue(b, L)
    b.summary(L.SHARE_SUM)


def arc_fight(b: Builder, L: ModuleType) -> None:
    """A fight over a thing or a game, and making up."""
    intro(b, L, friend=True)
    event(b, L.FIGHT_START)
    met(b, L)
    b.maybe(L.SCENERY, 0.4)
    b.maybe(L.FIGHT_FUN, 0.6)
    about_obj = b.chance(0.6)
    broke = False
    if about_obj:
        b.say(L.FIGHT_FIND)
        b.say(L.FIGHT_GRAB)
        broke = bool(b.ctx["brk"]) and b.chance(0.6)
        b.say(L.FIGHT_PULL if broke else L.FIGHT_FALL)
    else:
        b.say(L.FIGHT_GAME)
        b.maybe(L.FIGHT_ARGUE, 0.8)
    b.flag("Conflict")
    b.say(L.FIGHT_APART)
    b.para()
    b.say(L.FIGHT_MISS)
    b.maybe(L.FIGHT_ADVICE, 0.5)
    b.say(L.FIGHT_SORRY)
    b.say(L.FIGHT_SORRY_2)
    b.para()
    if about_obj:
        b.say(L.FIGHT_FIX if broke else L.FIGHT_SHARE)
    else:
        b.say(L.FIGHT_BOTH)
    b.say(L.FIGHT_END)
    moral(b, L.FIGHT_MORAL, 0.5)
    b.maybe(L.END_FRIENDS, 0.5)
    opt(b, L.CLOSING, 0.3)
    epilogue(b, L)
    b.summary(L.FIGHT_SUM_OBJ if about_obj else L.FIGHT_SUM_GAME)


def arc_broken(b: Builder, L: ModuleType) -> None:
    """Something broken is fixed (or, rarely, cannot be)."""
    # the warning needs the hero already introduced, so only with the classic opening
    if intro(b, L):
        b.say(L.BROKEN_HAVE)
        if b.maybe(L.BROKEN_WARN, 0.4):
            b.flag("Foreshadowing")
    event(b, L.BROKEN_PLAY)
    b.maybe(L.SCENERY, 0.4)
    b.maybe(L.BROKEN_FUN, 0.6)
    b.say(L.BROKEN_HOW)
    b.say(L.BROKEN_SAD)
    b.para()
    b.say(L.BROKEN_HELP)
    if b.chance(0.1):
        b.say(L.BROKEN_BAD)
        b.say(L.BROKEN_BAD_2)
        b.flag("BadEnding")
        b.summary(L.BROKEN_SUM_BAD)
        return
    b.say(L.BROKEN_CALM)
    b.say(L.BROKEN_FIX)
    b.say(L.BROKEN_OK)
    b.para()
    b.maybe(L.BROKEN_THANK, 0.7)
    b.maybe(L.BROKEN_AGAIN, 0.5)
    moral(b, L.BROKEN_MORAL, 0.5)
    opt(b, L.CLOSING, 0.4)
    epilogue(b, L)
    b.summary(L.BROKEN_SUM)


def arc_rain(b: Builder, L: ModuleType) -> None:
    """The weather spoils a plan, and a grown-up finds another fun thing to do."""
    c = b.ctx
    intro(b, L)
    event(b, L.RAIN_PLAN)
    b.say(L.RAIN_EXCITED)
    b.maybe(L.RAIN_READY, L.KNOBS.rain_ready_p)
    if b.maybe(L.RAIN_OMEN, 0.4):
        b.flag("Foreshadowing")
    b.para()
    b.say(L.RAIN_COMES)
    b.say(L.RAIN_SAD)
    b.maybe(L.RAIN_WATCH, 0.4)
    if b.chance(0.08):
        b.say(L.RAIN_BAD)
        b.say(L.RAIN_BAD_2)
        b.flag("BadEnding")
        b.summary(L.RAIN_SUM_BAD)
        return
    fun, did = b.pick(L.S.RAINY_FUN)
    c["fun"] = fun
    b.say(L.RAIN_IDEA)
    b.say(did)
    b.para()
    b.maybe(L.RAIN_FUN, 0.8)
    if b.chance(0.5):
        b.say(L.RAIN_RAINBOW)
        b.maybe(L.RAIN_AFTER, 0.5)
    moral(b, L.RAIN_MORAL, 0.5)
    opt(b, L.CLOSING, 0.3)
    epilogue(b, L)
    b.summary(L.RAIN_SUM)


def arc_mistake(b: Builder, L: ModuleType) -> None:
    """A mistake (sometimes hidden by a lie), owned up to and made right."""
    m: Mistake = b.scene
    if intro(b, L, direct_ok=False, friend=m.conflict):
        b.para()
    b.say(m.steps[0])
    met(b, L)
    for step in m.steps[1:]:
        b.say(step)
    if m.foreshadow:
        b.flag("Foreshadowing")
    if m.conflict:
        b.flag("Conflict")
    b.say(L.MISTAKE_BAD)
    b.maybe(L.MISTAKE_WORRY, 0.5)
    b.para()
    if b.chance(0.4):
        b.say(m.hide)
        if not m.conflict:
            b.say(L.MISTAKE_ASK)
            b.say(L.MISTAKE_LIE)
        b.say(L.MISTAKE_GUILT)
    if m.conflict:
        b.say(L.MISTAKE_TELL_F)
    else:
        b.say(L.MISTAKE_TELL)
        b.say(L.MISTAKE_FORGIVE)
    b.para()
    b.say(m.fix)
    moral(b, L.MISTAKE_MORAL, 0.6)
    b.summary(m.summary)


def arc_warning(b: Builder, L: ModuleType) -> None:
    """A warning is ignored: usually a bad ending, sometimes a lucky escape."""
    hz: Hazard = b.scene
    intro(b, L)
    event(b, L.WARN_GO)
    b.maybe(L.SCENERY, 0.4)
    opt(b, L.WARN_FUN, 0.6)
    b.say(hz.warn)
    b.maybe(L.WARN_OK, 0.4)
    b.flag("Foreshadowing")
    b.para()
    b.say(hz.disobey)
    b.say(hz.accident)
    b.maybe(L.WARN_CRY, 0.6)
    b.para()
    if b.chance(0.7):
        b.say(hz.bad)
        opt(b, L.WARN_HUG, 0.6)
        b.flag("BadEnding")
        moral(b, L.WARN_MORAL, 0.5)
        b.summary(hz.summary_bad)
    else:
        b.say(hz.saved)
        opt(b, L.WARN_RELIEF, 0.7)
        moral(b, L.WARN_MORAL_OK, 0.8)
        b.summary(hz.summary_saved)
