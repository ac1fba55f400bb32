"""Arcs where the hero grows or meets someone: a fear faced, a skill learnt, someone helped, a
present made, a strange noise, a new friend, a race, an egg that hatches."""

from __future__ import annotations

from types import ModuleType

from ..scenes import Fear, Gift, Need, Noise, Skill
from ..templates import Builder
from .beats import epilogue, event, intro, met, moral, opt, set_twins, use_helper, watch_friend


def arc_fear(b: Builder, L: ModuleType) -> None:
    """A fear overcome with a helper's support."""
    c = b.ctx
    fear: Fear[object] = b.scene
    intro(b, L, direct_ok=False)
    b.say(L.FEAR_IS)
    b.maybe(L.FEAR_WONT, 0.7)
    b.maybe(L.FEAR_SHAKY, L.KNOBS.fear_shaky_p)
    if fear.when:
        c["When"] = fear.when
    by_friend = not fear.when and b.chance(0.4)
    use_helper(b, L, "friend" if by_friend else "parent")
    b.para()
    event(b, fear.event)
    b.say(fear.worry)
    if b.maybe(L.FEAR_NO, 0.4):
        b.say(L.FEAR_WAIT)
        b.say(L.FEAR_HELP_LATER)
    else:
        b.say(L.FEAR_HELP)
    b.maybe(L.FEAR_TRY, 0.7)
    b.say(L.FEAR_DO)
    b.say(fear.truth)
    if fear.twist:
        b.flag("Twist")
    b.para()
    b.maybe(L.FEAR_AFTER, 0.8)
    b.say(L.FEAR_PROUD)
    moral(b, L.FEAR_MORAL, 0.6)
    opt(b, L.CLOSING, 0.4)
    epilogue(b, L)
    b.summary(L.FEAR_SUM)


def arc_help(b: Builder, L: ModuleType) -> None:
    """Helping someone in need (who sometimes turns out to be someone else)."""
    c = b.ctx
    need: Need = b.scene
    intro(b, L)
    c["need"] = b.pick(need.see).format_map(c)
    event(b, L.HELP_SEE)
    b.maybe(L.HELP_LOOK, 0.5)
    b.maybe(L.HELP_FEEL_IT if need.gender == "n" else L.HELP_FEEL, 0.7)
    b.para()
    opt(b, L.HELP_THINK, 0.4)
    for step in need.steps:
        b.say(step)
    b.para()
    b.say(need.thanks)
    twist = bool(need.twist) and b.chance(0.4)
    if twist:
        b.say(need.twist)
        b.flag("Twist")
    b.say(L.HELP_WARM)
    b.maybe(L.HELP_TELL, 0.5)
    moral(b, L.HELP_MORAL, 0.5)
    epilogue(b, L)
    b.summary(need.twist_summary if twist else need.summary)
    b.draft.cast["needer"] = need.gender


def arc_skill(b: Builder, L: ModuleType) -> None:
    """Learning a skill by trying again and again."""
    skill: Skill[object] = b.scene
    by_friend = b.chance(0.4)
    use_helper(b, L, "friend" if by_friend else "parent")
    if intro(b, L) and b.chance(0.5):
        b.say(L.SKILL_WANT)
    else:
        event(b, L.SKILL_SEE)
    b.para()
    b.say(L.SKILL_TRY)
    b.say(skill.fail)
    b.say(L.SKILL_SAD)
    b.maybe(L.SKILL_SAD_2, 0.4)
    b.say(L.SKILL_CHEER)
    b.say(skill.tip)
    b.para()
    b.say(L.SKILL_PRACTICE)
    b.maybe(L.SKILL_DAY2, 0.5)
    b.maybe(L.SKILL_AGAIN, 0.6)
    b.say(L.SKILL_WIN)
    b.say(skill.win)
    b.say(L.SKILL_JOY)
    b.maybe(L.SKILL_SMILE, 0.5)
    moral(b, L.SKILL_MORAL, 0.5)
    opt(b, L.CLOSING, 0.3)
    epilogue(b, L)
    b.summary(L.SKILL_SUM)


def arc_gift(b: Builder, L: ModuleType) -> None:
    """A home-made birthday present, or a surprise party for the hero."""
    c = b.ctx
    if b.chance(0.25):
        intro(b, L)
        event(b, L.PARTY_SAD)
        b.say(L.PARTY_SAD_2)
        b.para()
        b.say(L.PARTY_ASK)
        b.say(L.PARTY_SURPRISE)
        b.say(L.PARTY_THERE)
        b.say(L.PARTY_JOY)
        b.flag("Twist")
        b.summary(L.PARTY_SUM)
        return
    gift: Gift = b.scene
    to_friend = b.chance(0.5)
    L.gift_keys(c, gift, to_friend)
    use_helper(b, L, "parent" if to_friend else "friend")
    intro(b, L, friend=to_friend)
    event(b, L.GIFT_KNOW)
    if to_friend:
        met(b, L)
    b.say(L.GIFT_WANT)
    b.maybe(L.GIFT_WONDER, 0.5)
    b.say(L.GIFT_IDEA)
    b.say(gift.make)
    b.maybe(L.GIFT_WORK, 0.6)
    b.para()
    b.maybe(L.GIFT_HIDE, 0.5)
    b.say(L.GIFT_GIVE)
    b.say(L.GIFT_REACT)
    opt(b, L.GIFT_BEST, 0.5)
    b.maybe(L.GIFT_AFTER, 0.5)
    moral(b, L.GIFT_MORAL, 0.5)
    epilogue(b, L)
    b.summary(L.GIFT_SUM)


def arc_noise(b: Builder, L: ModuleType) -> None:
    """A scary noise that turns out to be something else."""
    c = b.ctx
    nz: Noise = b.scene
    c["noise"] = nz.what if isinstance(nz.what, str) else b.pick(nz.what).format_map(c)
    set_twins(c, L, "f1", L.KNOBS.friend_of.format_map(c))
    b.pending.clear()
    watch_friend(b, L)
    intro(b, L, direct_ok=False)
    if nz.omen and b.chance(0.5):
        b.say(nz.omen)
        b.flag("Foreshadowing")
    b.para()
    b.say(L.NOISE_WHEN_OUT if nz.places else L.NOISE_WHEN)
    b.say(nz.hear)
    b.say(L.NOISE_SCARED if nz.places or b.chance(0.6) else L.NOISE_SCARED_IN)
    b.maybe(L.NOISE_AGAIN, 0.5)
    b.say(L.NOISE_LOOK if nz.by_parent or b.chance(0.5) else L.NOISE_LOOK_P)
    b.para()
    b.say(nz.reveal)
    met(b, L)
    b.flag("Twist")
    b.maybe(L.NOISE_LAUGH, 0.7)
    b.say(nz.after)
    if opt(b, L.NOISE_MORAL, 0.4):
        b.flag("MoralValue")
    b.summary(L.NOISE_SUM)


def arc_newfriend(b: Builder, L: ModuleType) -> None:
    """A lonely newcomer says hello and makes a friend."""
    c = b.ctx
    c["f1"] = c["fnp"]
    intro(b, L, direct_ok=False)
    b.say(L.NEW_MOVE)
    b.say(L.NEW_LONELY)
    b.para()
    b.say(L.NEW_GO)
    b.maybe(L.NEW_KIDS, 0.5)
    c["who"] = c["name"]
    b.say(L.NEW_SEE)
    met(b, L)
    b.say(L.NEW_SHY)
    b.maybe(L.NEW_PUSH, 0.5)
    b.say(L.NEW_HELLO)
    b.say(L.NEW_YES)
    b.para()
    b.say(L.NEW_PLAY)
    b.maybe(L.NEW_TALK, 0.6)
    b.say(L.NEW_END)
    if b.chance(0.25):
        b.say(L.NEW_TWIST)
        b.flag("Twist")
    moral(b, L.NEW_MORAL, 0.4)
    b.maybe(L.END_FRIENDS, 0.5)
    epilogue(b, L)
    b.summary(L.NEW_SUM)


def arc_race(b: Builder, L: ModuleType) -> None:
    """A race lost in anger, or won no longer because the friend falls."""
    intro(b, L, friend=True)
    event(b, L.RACE_START)
    met(b, L)
    b.maybe(L.SCENERY, 0.4)
    opt(b, L.RACE_READY, 0.5)
    b.say(L.RACE_GO)
    b.maybe(L.RACE_WIND, 0.5)
    b.para()
    if b.chance(0.6):
        b.say(L.RACE_LOSE)
        b.say(L.RACE_MAD)
        b.flag("Conflict")
        b.say(L.RACE_KIND)
        b.say(L.RACE_SORRY)
        b.say(L.RACE_AGAIN)
        b.summary(L.RACE_SUM_LOSE)
    else:
        b.say(L.RACE_LEAD)
        b.say(L.RACE_FALL)
        b.flag("Twist")
        b.say(L.RACE_STOP)
        b.say(L.RACE_TOGETHER)
        b.maybe(L.RACE_WHY, 0.7)
        b.summary(L.RACE_SUM_HELP)
    b.para()
    moral(b, L.RACE_MORAL, 0.6)
    b.maybe(L.END_FRIENDS, 0.5)


def arc_egg(b: Builder, L: ModuleType) -> None:
    """A mysterious egg, kept warm, hatches."""
    b.ctx["baby"] = b.pick(L.S.BABIES)
    intro(b, L)
    event(b, L.EGG_FIND)
    b.maybe(L.EGG_WONDER, 0.7)
    b.maybe(L.EGG_ASK, 0.5)
    b.say(L.EGG_CARE)
    b.para()
    b.say(L.EGG_WAIT)
    if b.maybe(L.EGG_SHAKE, 0.5):
        b.flag("Foreshadowing")
    b.say(L.EGG_HATCH)
    b.flag("Twist")
    b.para()
    b.maybe(L.EGG_MOM, 0.7)
    opt(b, L.EGG_GROW, 0.6)
    b.say(L.EGG_END)
    b.maybe(L.END_HAPPY, 0.4)
    epilogue(b, L)
    b.summary(L.EGG_SUM)
