"""Chinese stories (简体中文): the words and templates the arcs say, and who the story is about.

Same design as ``plots_en``: a cast, a thing and a place fill a context dict, then one of the
arcs in ``arcs`` (written once for both languages) says this module's templates in order, with
random optional sentences.  So both languages cover the same kinds of plot, but every sentence
is written as Chinese, with Chinese sentence patterns: 从前，有一个叫小明的小男孩…, measure words
(一只风筝), 把-sentences, 了/着 aspect, “…” quotes and full-width punctuation.  ``KNOBS`` and the
beats set to ``None`` below are where the Chinese arcs differ from the English ones.
"""

from __future__ import annotations

import itertools
import random
import sys
from collections.abc import Callable

from . import arcs
from . import scenes_zh as S
from .arcs import Knobs
from .lexicon_zh import (
    ANIMAL_KINDS,
    ANY_ACTS,
    BOY_NAMES,
    GIRL_NAMES,
    KID_ADJS,
    KINDS,
    PARENTS,
    PET_NAMES,
    PLACES,
    PRONOUN,
    THINGS,
    ZH,
    Place,
    Thing,
)
from .scenes import Gift
from .templates import Builder, Draft, pick, pick_name, words

T = ZH.t
BOOK = ZH  # the vocabulary of everything this module can write

WHEN = ZH.ws(
    (
        "有 一天",
        "一天 早上",
        "一个 晴朗 的 早上",
        "一个 暖洋洋 的 下午",
        "星期六 的 早上",
        "一个 阳光明媚 的 日子",
        "这天",
    )
)
FOODS = ZH.ws(
    (
        "苹果",
        "香蕉",
        "饼干",
        "冰淇淋",
        "蛋糕",
        "面条",
        "饺子",
        "西瓜",
        "草莓",
        "葡萄",
        "包子",
        "胡萝卜",
        "蜂蜜",
    )
)
_PAWS = frozenset(("dog", "cat", "bear", "fox", "mouse", "bunny", "squirrel"))
_FEET = {True: ZH.w("爪子"), False: ZH.w("脚")}
THIEVES = ((ZH.w("小狗"), ZH.w("一阵 汪汪 的 叫声")), (ZH.w("小猫"), ZH.w("一声 喵喵 的 叫声")))
_TAGS = ZH.ws(("叫", "名叫", "的", "好朋友", "一个", "一只", "一头", "他们", "她们"))
# Adjectives that attach without 的 ("大皮球", "木头小船"); the rest take 的 ("红色的皮球").
_NO_DE = frozenset(("大", "小", "新", "旧", "花", "木头"))
# After a possessive a second 的 is clumsy ("她的红色的雨伞"): colours shrink to one character
# ("她的红雨伞"), other adjectives are dropped ("她的布娃娃").
_SHORT = {
    k: ZH.w(v)
    for k, v in (
        ("红色", "红"),
        ("蓝色", "蓝"),
        ("黄色", "黄"),
        ("绿色", "绿"),
        ("粉色", "粉"),
        ("白色", "白"),
        ("棕色", "棕"),
        ("银色", "银"),
        ("金色", "金"),
    )
}

# -- shared steps (said by arcs.beats) and this language's knobs ------------------------------

INTRO = T(
    "从前 ， 有 {np} 。",
    "很久 很久 以前 ， 有 {np} 。",
    "从前 ， 有 {npb} 。",
    "很久 很久 以前 ， 在 一个 [小 村子|小镇] 里 ， 住着 {np} 。",
)
INTRO_HOME = T("在 {home} ， 住着 {npb} 。", "从前 ， 在 {home} ， 住着 {np} 。")
TRAIT_KIND = T(
    "{name} 是 {mw1} [很 有 礼貌|爱 帮助 别人|爱 笑] 的 {kind} ， 大家 都 很 喜欢 {he} 。",
    "{name} 总是 有 问 不 完 的 问题 ， 什么 都 想 知道 。",
)
TRAIT_ACT = T(
    "{he} 最 喜欢 {act} 了 。", "{he} 每天 都 喜欢 {act} 。", "{name} 最 开心 的 事 就是 {act} 。"
)
TRAIT_HOME = T(
    "{name} 和 {parent} 一起 住 在 {home} 。",
)
TRAIT_LIKES = T("{he} 最 爱 吃 {food} 了 。", "{name} 特别 喜欢 吃 {food} 。")
TRAIT_FRIEND = T("{he} 最 好 的 朋友 是 {fnp} 。", "{name} 有 一个 好朋友 ， 名叫 {fname} 。")
SCENERY = T(
    "太阳 暖暖 的 ， 小鸟 在 树上 唱歌 。",
    "天空 蓝蓝 的 ， 小草 绿绿 的 。",
    "微风 轻轻 地 吹 着 ， 树叶 沙沙 地 响 。",
    "到处 都 是 五颜六色 的 花 ， 漂亮 极了 。",
)
END_HAPPY = T(
    "{name} 开开心心 地 回 家 了 。",
    "这 真是 最 快乐 的 一天 ！",
    "那天 晚上 ， {name} 带着 笑容 睡着 了 。",
    "{name} 心里 暖暖 的 ， 开心 极了 。",
)
END_FRIENDS = T(
    "{name} 和 {fname} 一直 玩到 太阳 下山 。",
    "从此 以后 ， {name} 和 {fname} 成了 最 好 的 朋友 。",
    "{they} 一起 笑 啊 ， 玩 啊 ， 度过 了 快乐 的 一天 。",
)
EPILOGUE = T(
    "第二天 早上 ， 太阳 又 出来 了 ， {name} 高高兴兴 地 跑 出去 玩 。",
    "那天 晚上 ， {name} 做 了 一个 甜甜 的 梦 。",
    "后来 ， {name} 把 这件 事 讲 给 {parent} 听 ， {theyp} 都 笑 了 。",
    "从 那 以后 ， {name} 变得 更 爱 笑 了 。",
)
KNOBS = Knobs(
    cased=False,
    helper_pronouns=("he",),
    parent_ref="{parent}",
    friend_of="{he}的好朋友{fname}",
    epilogue_p=0.35,
    epilogue_tail=END_HAPPY,
    epilogue_tail_p=0.4,
    lost_check_p=0.5,
    fear_shaky_p=0.4,
    rain_ready_p=0.5,
)
# Beats only the English arcs have: absent here, so the arcs skip them without a random draw.
END_MORE = CLOSING = None
LOST_SAD_2 = LOST_BIRD = HELP_THINK = GIFT_BEST = None
WARN_FUN = WARN_HUG = WARN_RELIEF = NOISE_MORAL = RACE_READY = EGG_GROW = None


def traits(b: Builder, at_home: bool) -> None:
    """After the opening line: a few optional lines about the hero, each on its own chance."""
    b.maybe(TRAIT_KIND, 0.3)
    b.maybe(TRAIT_ACT, 0.85)
    b.maybe(TRAIT_LIKES, 0.25)
    if not at_home:
        b.maybe(TRAIT_HOME, 0.3)


# -- arc: a lost thing is found ---------------------------------------------------------------

LOST_HAVE = T(
    "{he} 有 {a_mod_obj} ， 那 是 {he} 最 喜欢 的 东西 。",
    "{name} 有 {a_mod_obj} ， 走 到 哪里 都 带着 它 。",
    "{name} 非常 喜欢 {he} 的 {pobj} ， 每天 都 和 它 一起 玩 。",
)
LOST_WARN = T(
    "{parent} 常常 说 ： “ {name} ， 要 把 {obj} 放 好 哦 。 ”",
    "可是 ， {name} 常常 忘记 把 东西 放 在 哪儿 。",
)
LOST_GO = T(
    "{When} ， {who} 带着 {he} 的 {pobj} 去 {place} 玩 。",
    "{When} ， {who} 和 {parent} 一起 去 {place} ， 还 带上 了 {he} 的 {pobj} 。",
)
LOST_PLAY = T(
    "{he} {use} 着 {obj} ， 玩 得 可 开心 了 。",
    "{name} {at_place} 玩 了 很久 很久 。",
    "{he} 把 {obj} 放 在 一边 ， 跑 去 {pact} 了 。",
)
LOST_GONE = T(
    "该 回家 的 时候 ， {name} 去 找 {he} 的 {obj} ， 可是 {obj} 不见 了 ！",
    "过了 一会儿 ， {name} 回来 找 {obj} ， 可是 它 不见 了 ！",
    "{name} 突然 发现 ， {he} 的 {obj} 不见 了 ！",
)
LOST_SAD = T(
    "{name} 难过 极了 。",
    "{he} 难过 得 哭 了 起来 。",
    "“ 我 的 {obj} 呢 ？ ” {name} 着急 地 说 。",
    "“ 我 的 {obj} 不见 了 ！ ” {name} 哭 着 说 。",
)
LOST_SEARCH = T(
    "{he} 在 {spot2} 找 了 找 ， 没有 。",
    "{he} 在 {spot2} 找 了 找 ， 又 到 {spot3} 看 了 看 ， 还是 没有 找到 。",
)
LOST_FRIEND = T("这时 ， {f1} 走 了 过来 。", "正 在 这时 ， {f1} 来 了 。")
LOST_ASK = T(
    "“ {name} ， 你 怎么 了 ？ ” {fname} 问 。", "“ 你 为什么 不 开心 呀 ？ ” {fname} 问 。"
)
LOST_TELL = T(
    "“ 我 的 {obj} 不见 了 。 ” {name} 说 。",
)
LOST_OFFER = T(
    "“ 别 着急 ， 我 帮 你 一起 找 ！ ” {fname} 说 。", "“ 我们 一起 找 吧 ！ ” {fname} 说 。"
)
LOST_FOUND_F = T(
    "{they} 找 啊 找 ， 最后 ， {fname} 在 {spot} 找到 了 {obj} ！",
    "{they} 一起 找 。 忽然 ， {fname} 大声 喊 ： “ 找到 了 ！ ” {obj} 就 在 {spot} 。",
)
LOST_PARENT = T(
    "{name} 跑 到 {parent} 身边 ， 说 ： “ {parent} ， 我 的 {obj} 不见 了 ！ ”",
    "{parent} 看到 {name} 很 难过 ， 就 问 {he} 怎么 了 。",
)
LOST_FOUND_P = T(
    "“ 我们 一起 找 找 看 。 ” {parent} 说 。 没 多久 ， {phe} 就 在 {spot} 找到 了 {obj} 。",
    "{parent} 抱了抱 {name} ， 帮 {he} 一起 找 。 最后 ， {theyp} 在 {spot} 找到 了 {obj} ！",
)
LOST_ALONE = T(
    "可是 {name} 没有 放弃 。 {he} 又 到 {spot} 去 看 了 看 ， {obj} 就 在 那里 ！",
)
LOST_THIEF = T(
    "这时 ， {name} 听到 了 {thief_sound} 。 一只 {thief} 跑 了 过来 ， 嘴 里 正 "
    "叼着 {he} "
    "的 {obj} ！",
)
LOST_THIEF_2 = T(
    "原来 ， {thief} 只是 想 和 {he} 一起 玩 ！",
)
LOST_POCKET = T(
    "这时 ， {name} 把 手 伸 进 口袋 里 。 咦 ？ {obj} 原来 一直 在 口袋 里 ！",
)
LOST_POCKET_2 = T(
    "{name} 忍不住 笑 了 。 {he} 找 遍 了 所有 地方 ， 就是 忘 了 看看 自己 的 口袋 ！",
)
LOST_JOY = T("{name} 高兴 得 跳 了 起来 ！", "{name} 紧紧 地 抱住 了 {he} 的 {obj} 。")
LOST_CHECK = T(
    "{obj} 好好 的 ， 一点儿 也 没 坏 。",
)
LOST_THANK = T(
    "“ 谢谢 你 ， {fname} ！ ” {name} 说 ， 还 给 了 {fname} 一个 大大 的 拥抱 。",
)
LOST_MORAL = T(
    "从 那 以后 ， {name} 总是 把 {he} 的 {obj} 放 得 好好 的 。",
    "{name} 明白 了 ， 要 好好 爱护 自己 的 东西 。",
)
LOST_MORAL_BAD = T(
    "{name} 明白 了 ， 以后 一定 要 看 好 自己 的 东西 。",
)
LOST_MORAL_F = T(
    "{name} 明白 了 ， 好 朋友 就是 要 互相 帮助 。",
)
LOST_NEVER = T(
    "{name} 一直 找 到 天黑 ， 还是 没有 找到 {obj} 。",
    "{name} 和 {parent} 找 了 很久 很久 ， 可是 怎么 也 找不到 {obj} 。",
)
LOST_NEVER_2 = T(
    "{name} 只好 难过 地 回家 了 。 {he} 再 也 没有 见到 那 {mw} {obj} 。",
)
LOST_SUM = {
    "friend": T(
        "{name} 在 {place} 弄丢 了 {obj} ， {fname} 帮 {he} 找 了 回来 。",
    ),
    "parent": T(
        "{name} 弄丢 了 {mod_obj} ， {parent} 帮 {he} 找到 了 。",
    ),
    "alone": T(
        "{name} 弄丢 了 {obj} ， 但 {he} 一直 找 ， 终于 找到 了 。",
    ),
    "thief": T(
        "{name} 的 {obj} 不见 了 ， 原来 是 一只 调皮 的 {thief} 把 它 叼走 了 。",
    ),
    "pocket": T(
        "{name} 到处 找 丢 了 的 {obj} ， 原来 它 一直 在 自己 的 口袋 里 。",
    ),
    "bad": T(
        "{name} 在 {place} 弄丢 了 {obj} ， 再 也 没有 找到 。",
    ),
}


# -- arc: learning to share -------------------------------------------------------------------

SHARE_HAVE = T(
    "{name} 有 {a_mod_obj} ， {he} 非常 喜欢 ， 谁 也 不 让 碰 。",
    "{name} 最 宝贝 {he} 的 {pobj} 了 。",
)
SHARE_PLAY = T(
    "{When} ， {who} {at_place} {use} {he} 的 {pobj} 。",
    "{When} ， {who} 带着 {he} 的 {pobj} 去 了 {place} 。",
)
SHARE_FUN = T(
    "{he} 玩 得 可 开心 了 。",
)
SHARE_ASK = T(
    "{f1} 走 过来 问 ： “ 我 可以 和 你 一起 玩 吗 ？ ”",
    "“ 能 让 我 也 玩 一下 你 的 {obj} 吗 ？ ” {f1} 问 。",
)
SHARE_NO = T(
    "“ 不 行 ！ 这 是 我 的 {obj} ！ ” {name} 说 。",
    "{name} 紧紧 地 抱着 {obj} ， 说 ： “ 不 给 ， 这 是 我 的 ！ ”",
    "可是 {name} 不 想 分享 。 “ 你 走 开 ！ ” {he} 说 。",
)
SHARE_HURT = T("{fname} 很 难过 ， 低着 头 走 开 了 。", "{fname} 伤心 地 坐 在 一边 。")
SHARE_ALONE = T(
    "{name} 一个人 {use} 着 {obj} ， 可是 一点儿 也 不 好玩 了 。",
    "没过 多久 ， {name} 就 觉得 一个人 玩 没 意思 。",
    "{name} 看看 {fname} ， 心里 有点儿 不 舒服 。",
)
SHARE_PARENT = T(
    "{parent} 看到 了 ， 问 {name} ： “ 如果 {fname} 不 和 你 分享 ， 你 会 开心 吗 ？ ”",
    "{parent} 说 ： “ {name} ， 好 东西 要 和 朋友 一起 分享 才 快乐 。 ”",
)
SHARE_THINK = T("{name} 想 了 想 。", "{name} 想 了 好 一会儿 。")
SHARE_YES = T(
    "{name} 跑 到 {fname} 身边 ， 说 ： “ 对不起 ， 我们 一起 玩 吧 ！ ”",
    "{name} 把 {obj} 递给 {fname} ， 说 ： “ 给 你 ， 你 先 玩 吧 。 ”",
)
SHARE_HAPPY = T(
    "{fname} 笑 了 ， 说 ： “ 谢谢 你 ， {name} ！ ”",
    "{fname} 高兴 极了 ， 给 了 {name} 一个 大大 的 拥抱 。",
)
SHARE_TURNS = T(
    "{fname} 玩 一会儿 ， {name} 再 玩 一会儿 。", "{they} 轮流 玩 {obj} ， 笑 个 不停 。"
)
SHARE_TOGETHER = T(
    "{they} 一起 玩 了 一下午 。", "后来 ， {fname} 还 把 自己 的 饼干 分给 了 {name} 。"
)
SHARE_MORAL = T(
    "{name} 明白 了 ， 分享 让 大家 都 快乐 。",
    "原来 ， 和 朋友 一起 玩 比 一个人 玩 开心 多 了 。",
)
SHARE_BAD = T(
    "{fname} 回家 了 ， {name} 只好 一个人 玩 。 太阳 下山 了 ， 没有 人 陪 {he} 玩 。",
)
SHARE_BAD_2 = T(
    "第二天 ， {fname} 和 别的 小朋友 一起 玩 ， {name} 只能 抱着 {obj} 坐 在 一边 。",
)
SHARE_SUM = T(
    "{name} 一开始 不 愿意 把 {obj} 分享 给 {fname} ， 后来 {he} 明白 了 一起 玩 更 开心 。",
)
SHARE_SUM_BAD = T(
    "{name} 不 肯 和 {fname} 分享 {obj} ， 最后 只能 一个人 玩 。",
)


# -- arc: a fight and making up ---------------------------------------------------------------

FIGHT_START = T(
    "{When} ， {who} 和 {f1} {at_place} 玩 。", "{When} ， {who} 和 {f1} 一起 去 {place} 玩 。"
)
FIGHT_FUN = T(
    "一开始 ， {they} 玩 得 很 开心 。",
)
FIGHT_FIND = T(
    "{they} 在 {spot} 发现 了 {a_mod_obj} ， 两个人 都 想要 。",
    "{spot} 有 {a_mod_obj} ， {name} 和 {fname} 都 想 拿 。",
)
FIGHT_GRAB = T(
    "“ 是 我 的 ！ ” {name} 说 。 “ 不 ， 是 我 的 ！ ” {fname} 说 。",
    "“ 给 我 ！ ” {name} 大声 喊 。 “ 不 ， 是 我 先 看到 的 ！ ” {fname} 也 大声 喊 。",
)
FIGHT_PULL = T(
    "{they} 你 拉 我 扯 ， 结果 ， {brk} ！",
)
FIGHT_FALL = T(
    "{they} 你 拉 我 扯 ， 结果 两个人 都 摔倒 了 。",
)
FIGHT_GAME = T(
    "{name} 想 玩 {game1} ， 可是 {fname} 想 玩 {game2} 。",
    "“ 我们 玩 {game1} 吧 ！ ” {name} 说 。 “ 不 ， {game2} 更 好玩 ！ ” {fname} 说 。",
)
FIGHT_ARGUE = T(
    "“ 你 的 游戏 一点 也 不 好玩 ！ ” {name} 说 。 “ 你 的 才 不 好玩 呢 ！ ” {fname} 说 。",
    "{they} 谁 也 不 让 谁 ， 吵 了 起来 。",
)
FIGHT_APART = T(
    "两个人 都 生气 了 ， 各自 回 了 家 。",
    "{name} 气呼呼 地 跑 回 了 家 ， {fname} 一个人 留 在 {place} 。",
)
FIGHT_MISS = T(
    "回到 家 ， {name} 心里 很 难过 ， {he} 想 {fname} 了 。",
    "那天 晚上 ， {name} 一直 在 想 {fname} 。",
    "第二天 ， {name} 一个人 玩 ， 一点儿 也 不 开心 。",
)
FIGHT_ADVICE = T(
    "{parent} 说 ： “ 好 朋友 有时候 也 会 吵架 。 你 可以 去 说 声 对不起 。 ”",
    "“ 你 为什么 不 去 找 {fname} 聊聊 呢 ？ ” {parent} 说 。",
)
FIGHT_SORRY = T(
    "{name} 来到 {fname} 家 ， 说 ： “ 对不起 ， 我 错 了 。 ”",
    "{name} 找到 {fname} ， 小声 地 说 ： “ 对不起 ， 我 刚才 不 应该 那样 。 ”",
)
FIGHT_SORRY_2 = T(
    "“ 我 也 有 不 对 ， 对不起 ！ ” {fname} 说 。",
    "{fname} 笑 了 ： “ 没关系 ， 我 也 想 你 了 ！ ”",
)
FIGHT_FIX = T("{they} 一起 {fix} 。", "{they} 一起 {fix} ， {obj} 又 和 新 的 一样 了 。")
FIGHT_SHARE = T("{they} 决定 轮流 玩 {obj} 。", "{they} 一起 玩 {obj} ， 再 也 不 抢 了 。")
FIGHT_BOTH = T(
    "{they} 先 玩 {game1} ， 再 玩 {game2} 。",
    "{they} 先 玩 了 {game1} ， 又 玩 了 {game2} ， 两个 游戏 都 很 好玩 ！",
)
FIGHT_END = T("{they} 又 成了 好 朋友 。", "{name} 和 {fname} 和好 了 。")
FIGHT_MORAL = T(
    "{they} 明白 了 ， 分享 比 争抢 好 。",
    "{they} 明白 了 ， 说 一声 对不起 ， 就 能 让 事情 变好 。",
)
FIGHT_SUM_OBJ = T(
    "{name} 和 {fname} 为了 {a_obj} 吵架 ， 后来 互相 道歉 ， 又 成了 好 朋友 。",
)
FIGHT_SUM_GAME = T(
    "{name} 和 {fname} 为了 玩 什么 游戏 吵 了 起来 ， 后来 互相 道歉 ， 轮流 玩 。",
)


# -- arc: a fear overcome ---------------------------------------------------------------------

FEAR_IS = T("{name} 很 怕 {fear} 。", "{name} 什么 都 不 怕 ， 就是 怕 {fear} 。")
FEAR_WONT = T(
    "{he} 从来 不 敢 {fear_do} 。",
)
FEAR_SHAKY = T(
    "{name} 想 勇敢 一点 ， 可是 心里 还是 怦怦 直 跳 。",
)
FEAR_NO = T(
    "“ 不 ， 我 不 行 。 ” {name} 往 后 退 了 一步 。",
)
FEAR_WAIT = T(
    "“ 没关系 ， 等 你 准备 好 了 再说 。 ” {helper} 说 。",
)
FEAR_HELP = T(
    "“ 别 怕 ， 我 就 在 这儿 。 ” {helper} 说 。",
    "{helper} 拉着 {name} 的 手 说 ： “ 我们 一起 来 。 ”",
    "“ 你 比 你 想 的 更 勇敢 。 ” {helper} 说 。",
)
FEAR_HELP_LATER = T(
    "过了 一会儿 ， {helper} 拉着 {name} 的 手 说 ： “ 我们 一起 来 ， 好 吗 ？ ”",
)
FEAR_TRY = T("{name} 深深 地 吸 了 一 口气 。", "{name} 闭上 眼睛 ， 数 了 一 、 二 、 三 。")
FEAR_DO = T("{he} 鼓起 勇气 ， {fear_did} 。", "然后 ， {name} {fear_did} 。")
FEAR_AFTER = T("“ 我 不 害怕 了 ！ ” {name} 说 。", "{name} 笑 了 ： “ 原来 一点儿 也 不 可怕 ！ ”")
FEAR_PROUD = T(
    "{name} 觉得 自己 棒 极了 。", "{helper} 抱了抱 {name} ， 说 ： “ 我 为 你 骄傲 ！ ”"
)
FEAR_MORAL = T(
    "从 那 以后 ， {name} 再 也 不 怕 {fear} 了 。",
    "{name} 明白 了 ， 勇敢 不是 不 害怕 ， 而是 害怕 的 时候 也 敢 去 试一试 。",
)
FEAR_SUM = T(
    "{name} 很 怕 {fear} ， 在 {helper} 的 帮助 下 ， {he} 终于 鼓起 勇气 {fear_did} 。",
)


# -- arc: helping someone ---------------------------------------------------------------------

HELP_SEE = T(
    "{When} ， {who} {at_place} {pact} 的 时候 ， 看见 了 {need} 。",
    "{When} ， {who} 去 {place} 玩 ， 在 那里 看见 了 {need} 。",
)
HELP_LOOK = T(
    "{name} 停 下来 ， 走 近 看 了 看 。",
)
HELP_FEEL = T("“ 别 怕 ， 我 来 帮 你 ！ ” {name} 说 。", "{name} 决定 帮忙 。")
HELP_FEEL_IT = T("{name} 觉得 它 好 可怜 。", "“ 别 怕 ， 我 来 帮 你 ！ ” {name} 说 。")
HELP_WARM = T("{name} 心里 暖暖 的 。", "帮助 别人 让 {name} 觉得 很 快乐 。")
HELP_TELL = T(
    "那天 晚上 ， {name} 把 这件 事 告诉 了 {parent} 。 “ 我 为 你 骄傲 ！ ” {parent} 说 。",
)
HELP_MORAL = T(
    "{name} 明白 了 ， 帮助 别人 ， 自己 也 会 很 快乐 。",
    "{name} 明白 了 ， 一点点 帮助 也 能 带来 很 大 的 改变 。",
)


# -- arc: something broken is fixed -----------------------------------------------------------

BROKEN_HAVE = T(
    "{name} 有 {a_mod_obj} ， 那 是 {he} 最 喜欢 的 东西 。",
    "{he} 爱 {he} 的 {pobj} ， 比 什么 都 爱 。",
)
BROKEN_WARN = T(
    "{parent} 常常 说 ： “ 玩 {obj} 的 时候 要 小心 哦 。 ”",
)
BROKEN_PLAY = T(
    "{When} ， {who} {at_place} 玩 {he} 的 {pobj} 。",
    "{When} ， {who} 带着 {he} 的 {pobj} 去 了 {place} 。",
)
BROKEN_FUN = T(
    "{he} 玩 得 可 开心 了 。",
)
BROKEN_HOW = T(
    "{he} 一 不 小心 ， {obj} 掉 在 了 地上 。 哎呀 ！ {brk} 。",
    "{name} 被 一块 石头 绊 了 一下 ， {obj} 摔 在 地上 ， {brk} 。",
    "{name} 玩 得 太 用力 了 ， 结果 {brk} 。",
)
BROKEN_SAD = T(
    "“ 哎呀 ！ 我 的 {obj} ！ ” {name} 叫 了 起来 。", "{name} 哭 了 ， {he} 的 {obj} 坏 了 。"
)
BROKEN_HELP = T(
    "{name} 拿着 坏 了 的 {obj} 跑 去 找 {parent} 。", "{parent} 听到 哭声 ， 赶紧 走 了 过来 。"
)
BROKEN_CALM = T(
    "“ 别 哭 ， 我们 能 把 它 修 好 。 ” {parent} 说 。",
    "{parent} 看了看 {obj} ， 笑着 说 ： “ 别 担心 ， 这个 能 修 。 ”",
)
BROKEN_FIX = T("{parent} 慢慢 地 、 仔细 地 {fix} 。", "{parent} 和 {name} 一起 {fix} 。")
BROKEN_OK = T(
    "很快 ， {obj} 就 和 新 的 一样 了 ！",
    "{obj} 虽然 看起来 有点儿 不 一样 了 ， 可是 {name} 更 喜欢 它 了 。",
)
BROKEN_THANK = T(
    "“ 谢谢 {parent} ！ ” {name} 说 ， 紧紧 地 抱住 了 {parent} 。",
    "“ {parent} ， 你 真 厉害 ！ ” {name} 说 。",
)
BROKEN_AGAIN = T(
    "从 那 以后 ， {name} 玩 {obj} 的 时候 总是 小心翼翼 的 。",
)
BROKEN_MORAL = T(
    "{name} 明白 了 ， 要 爱护 自己 的 东西 。",
    "{name} 明白 了 ， 东西 坏 了 不要 紧 ， 大家 一起 想 办法 就 能 修 好 。",
)
BROKEN_BAD = T(
    "{parent} 试 了 又 试 ， 可是 {obj} 再 也 修 不 好 了 。",
)
BROKEN_BAD_2 = T(
    "{name} 难过 了 很 久 。 {he} 真 希望 自己 当时 能 小心 一点儿 。",
)
BROKEN_SUM = T(
    "{name} 不 小心 弄坏 了 {he} 的 {obj} ， {parent} 帮 {he} 修 好 了 。",
)
BROKEN_SUM_BAD = T(
    "{name} 弄坏 了 {he} 的 {obj} ， 再 也 修 不 好 了 。",
)


# -- arc: the weather spoils a plan -----------------------------------------------------------

RAIN_PLAN = T(
    "{When} ， {parent} 对 {who} 说 ： “ 明天 我们 去 {place} 野餐 吧 ！ ”",
    "{When} ， {who} 和 {parent} 说好 ， 第二天 一起 去 {place} 玩 。",
)
RAIN_EXCITED = T(
    "{name} 高兴 得 跳 了 起来 ， {he} 想 去 {pact} 。",
    "那天 晚上 ， {name} 兴奋 得 睡不着 ， 一直 想着 明天 的 事 。",
    "{name} 把 {he} 的 {obj} 也 准备 好 了 ， 想 带着 一起 去 。",
)
RAIN_READY = T(
    "{he} 帮 {parent} 做 了 好多 三明治 。",
)
RAIN_OMEN = T(
    "睡觉 前 ， {name} 看见 天上 有 好多 乌云 。", "风 越来越 凉 ， 天 也 变得 灰蒙蒙 的 。"
)
RAIN_COMES = T(
    "可是 第二天 早上 ， 下 起 了 大雨 ！",
    "第二天 早上 ， {name} 往 窗外 一看 ， 天上 全是 乌云 ， 外面 正 下着 雨 。",
    "可是 到了 早上 ， 刮 起 了 大风 ， 下 起 了 大雨 。",
)
RAIN_SAD = T(
    "“ 哎呀 ， 我们 去 不 成 了 ！ ” {name} 难过 地 说 。",
    "{name} 坐 在 窗边 ， 一脸 不 高兴 。",
    "{name} 难过 得 快要 哭 了 。",
)
RAIN_WATCH = T(
    "{he} 趴 在 窗户 上 ， 看着 雨点 滴滴答答 地 落 下来 。",
)
RAIN_IDEA = T(
    "这时 ， {parent} 想到 了 一个 好 主意 ： “ 我们 来 {fun} 吧 ！ ”",
    "“ 有 了 ！ ” {parent} 说 ， “ 我们 可以 {fun} ！ ”",
)
RAIN_FUN = T(
    "{name} 笑 个 不停 ， 真 是 太 好玩 了 ！",
    "虽然 没有 去 成 {place} ， 可是 这 一天 还是 非常 快乐 。",
)
RAIN_RAINBOW = T(
    "下午 ， 雨 停 了 ， 天上 出现 了 一道 彩虹 。",
    "后来 ， 太阳 出来 了 ， 天边 挂 起 了 一道 美丽 的 彩虹 ！",
)
RAIN_AFTER = T(
    "第二天 ， 天气 晴朗 ， {theyp} 终于 去 了 {place} 。",
)
RAIN_MORAL = T(
    "{name} 明白 了 ， 下雨 天 也 可以 很 快乐 。",
    "{name} 明白 了 ， 计划 变 了 也 没关系 ， 快乐 还 在 。",
)
RAIN_BAD = T(
    "雨 一整天 都 没 停 。 {name} 只能 待 在 家 里 ， 看着 灰蒙蒙 的 天空 。",
)
RAIN_BAD_2 = T(
    "那个 星期 ， {he} 都 没能 去 成 {place} ， 心里 难过 极了 。",
)
RAIN_SUM = T(
    "{name} 想 去 {place} ， 可是 下雨 了 ， 于是 {he} 和 {parent} 找到 了 别的 好玩 的 事情 。",
)
RAIN_SUM_BAD = T(
    "下雨 打乱 了 {name} 去 {place} 的 计划 ， {he} 只好 难过 地 待 在 家 里 。",
)


# -- arc: learning a skill --------------------------------------------------------------------

SKILL_WANT = T("{name} 很 想 学会 {skill} 。", "{name} 做梦 都 想 学会 {skill} 。")
SKILL_SEE = T(
    "{When} ， {who} 看到 {helper} 在 {skill} ， {he} 也 想 学 。",
    "{When} ， {who} 对 {helper} 说 ： “ 我 想 学 {skill} ！ ”",
)
SKILL_TRY = T("{he} 试着 {skill} ， 可是 好 难 啊 。", "第一次 试 的 时候 ， 一点儿 也 不 顺利 。")
SKILL_SAD = T("“ 我 学 不 会 ！ ” {name} 哭 着 说 。", "{name} 有点儿 想 放弃 了 。")
SKILL_SAD_2 = T(
    "{he} 坐 在 地上 ， 低着 头 不 说话 。",
)
SKILL_CHEER = T(
    "“ 别 放弃 ， ” {helper} 说 ， “ 每个 人 都 要 练 很多 次 才 能 学会 。 ”",
    "{helper} 坐 到 {name} 身边 ， 说 ： “ 我们 再 试 一次 吧 。 ”",
)
SKILL_PRACTICE = T("{name} 每天 都 认真 地 练习 。", "{he} 试 了 一次 又 一次 。")
SKILL_DAY2 = T(
    "第二天 ， {he} 又 试 了 试 ， 比 昨天 好 了 一点儿 。",
)
SKILL_AGAIN = T(
    "{he} 还是 会 出错 ， 可是 {he} 没有 停 下来 。",
)
SKILL_WIN = T("终于 ， {he} 成功 了 ！", "有一天 ， {name} 终于 学会 了 ！")
SKILL_JOY = T("“ 我 会 {skill} 了 ！ ” {name} 高兴 地 喊 。", "{helper} 拍着 手 为 {name} 加油 。")
SKILL_SMILE = T("{name} 笑 得 合不拢 嘴 。", "{name} 骄傲 极了 ， 还 想 再 来 一次 。")
SKILL_MORAL = T(
    "{name} 明白 了 ， 只要 不 放弃 ， 难 的 事情 也 能 做到 。",
    "{name} 明白 了 ， 坚持 就 是 胜利 。",
)
SKILL_SUM = T(
    "{name} 想 学会 {skill} ， {he} 一次 又 一次 地 练习 ， 终于 学会 了 。",
)


# -- arc: a gift, or a surprise party ---------------------------------------------------------

GIFT_KNOW = T(
    "{When} ， {who} 想起来 ， 明天 就 是 {r_s} 生日 了 。",
    "{When} ， {who} 知道 了 {r_s} 生日 快 到 了 。",
)
GIFT_WANT = T(
    "{he} 想 送 {rname} 一份 特别 的 礼物 。", "{name} 想 让 {rname} 开心 ， 可是 {he} 没有 钱 。"
)
GIFT_WONDER = T(
    "“ 送 什么 好 呢 ？ ” {name} 想 。",
)
GIFT_IDEA = T(
    "忽然 ， {he} 想到 了 一个 好 主意 ！", "{name} 想 啊 想 ， 终于 想到 了 一个 好 办法 ！"
)
GIFT_WORK = T(
    "{he} 做 得 可 认真 了 。",
)
GIFT_HIDE = T("{he} 把 {gift} 藏 在 身后 。", "{he} 一整天 都 没有 告诉 别人 这个 秘密 。")
GIFT_GIVE = T(
    "“ 生日 快乐 ！ ” {name} 说 着 ， 把 {gift} 送给 了 {rname} 。",
    "{name} 把 {gift} 递给 {rname} ， 说 ： “ 这 是 送给 你 的 ！ ”",
)
GIFT_REACT = T(
    "{rname} 笑 得 可 开心 了 ： “ 这 是 我 收到 的 最 好 的 礼物 ！ ”",
    "{rname} 紧紧 地 抱住 了 {name} ： “ 谢谢 你 ， 我 太 喜欢 了 ！ ”",
)
GIFT_AFTER = T(
    "{name} 开心 得 一直 笑 。", "那 一天 ， {name} 觉得 送 礼物 比 收 礼物 还要 快乐 。"
)
GIFT_MORAL = T(
    "{name} 明白 了 ， 用 心 准备 的 礼物 才 是 最 好 的 礼物 。",
    "送 礼物 让 {name} 的 心里 暖暖 的 。",
)
GIFT_SUM = T(
    "{name} 为 {rname} 的 生日 亲手 准备 了 一份 礼物 ， {rname} 非常 喜欢 。",
)
PARTY_SAD = T(
    "{When} ， 是 {name} 的 生日 ， 可是 谁 也 没有 提 这件 事 。",
    "{When} ， {who} 醒 来 了 。 今天 是 {he} 的 生日 ， 可是 家 里 静悄悄 的 。",
)
PARTY_SAD_2 = T(
    "{parent} 没有 说 生日 快乐 ， {f1} 也 没有 来 找 {he} 玩 。",
    "“ 大家 是 不是 都 忘 了 ？ ” {name} 小声 地 问 。",
)
PARTY_ASK = T(
    "下午 ， {parent} 说 ： “ 跟 我 去 {place} 吧 。 ”",
)
PARTY_SURPRISE = T(
    "刚 到 那里 ， 大家 一下子 跳 了 出来 ， 大声 喊 ： “ 生日 快乐 ！ ”",
)
PARTY_THERE = T(
    "{he} 所有 的 朋友 都 来 了 ， {f1} 也 来 了 。 那里 还 有 一个 插着 蜡烛 的 大 蛋糕 。",
)
PARTY_JOY = T(
    "“ 原来 你们 没有 忘记 ！ ” {name} 说 。 这 是 最 棒 的 生日 ！",
    "{name} 开心 地 拍着 手 。 大家 一起 吃 蛋糕 、 玩 游戏 ， 一直 玩到 太阳 下山 。",
)
PARTY_SUM = T(
    "{name} 以为 大家 都 忘 了 {he} 的 生日 ， 原来 大家 在 为 {he} 准备 一个 惊喜 派对 。",
)


def gift_keys(c: dict[str, str], gift: Gift, to_friend: bool) -> None:
    """The gift, and who receives it (the friend, or the grown-up)."""
    if to_friend:
        c.update(rname=c["fname"], r_s=c["fname"] + "的")
    else:
        c.update(rname=c["parent"], r_s=c["parent"] + "的")
    c["gift"] = gift.noun


# -- arc: a mistake and an apology ------------------------------------------------------------

MISTAKE_BAD = T(
    "{name} 心里 很 不 舒服 。", "{name} 的 肚子 怪怪 的 ， {he} 知道 自己 做 错 了 事 。"
)
MISTAKE_WORRY = T("{he} 怕 {parent} 会 生气 。", "{name} 不 知道 该 怎么办 。")
MISTAKE_ASK = T(
    "后来 ， {parent} 问 ： “ 这 是 谁 干 的 ？ ”",
)
MISTAKE_LIE = T("“ 不 是 我 ！ ” {name} 说 。", "{name} 说 ： “ 我 不 知道 。 ”")
MISTAKE_GUILT = T(
    "可是 那天 晚上 ， {name} 怎么 也 睡不着 。 说谎 让 {he} 心里 很 难受 。",
    "可是 {name} 一点儿 也 不 开心 ， 说谎 的 滋味 真 不 好受 。",
)
MISTAKE_TELL = T(
    "{name} 走 到 {parent} 面前 ， 说 ： “ 对不起 ， 是 我 做 的 。 ”",
    "{name} 深深 地 吸 了 一 口气 ： “ 是 我 做 的 ， 对不起 。 ”",
)
MISTAKE_TELL_F = T(
    "{name} 把 事情 告诉 了 {parent} 。 “ 你 要 把 东西 还给 {fname} ， 再 跟 "
    "{fhe} 说 声 "
    "对不起 。 ” {parent} 说 。",
)
MISTAKE_FORGIVE = T(
    "{parent} 抱了抱 {name} ： “ 谢谢 你 告诉 我 实话 。 ”",
    "{parent} 笑 了 ： “ 每个 人 都 会 犯错 ， 我 很 高兴 你 说 了 实话 。 ”",
)
MISTAKE_MORAL = T(
    "{name} 明白 了 ， 诚实 是 最 重要 的 。",
    "{name} 明白 了 ， 做错 了 事 ， 说 一声 对不起 就 能 让 事情 变好 。",
)


# -- arc: a warning is ignored ----------------------------------------------------------------

WARN_GO = T(
    "{When} ， {who} 和 {parent} 一起 去 {place} 。",
    "{When} ， {who} 和 {parent} 去 了 {place} ， {name} 还 带上 了 {he} 的 {pobj} 。",
)
WARN_OK = T(
    "“ 知道 了 。 ” {name} 说 ， 可是 {he} 根本 没 在 听 。",
)
WARN_CRY = T("{name} 哭 了 起来 。", "“ 救命 啊 ！ ” {name} 大叫 。")
WARN_MORAL = T(
    "{name} 明白 了 ， 要 听 {parent} 的 话 。", "{name} 真 后悔 没有 听 {parent} 的 话 。"
)
WARN_MORAL_OK = T(
    "从 那 以后 ， {name} 总是 认真 听 {parent} 的 话 。",
)


# -- arc: a scary noise -----------------------------------------------------------------------

NOISE_WHEN = T("{When} ， {name} 正 躺 在 床上 。", "{When} ， 屋子 里 静悄悄 的 。")
NOISE_WHEN_OUT = T("{When} ， {name} 正 {at_place} {pact} 。", "{When} ， {name} 去 {place} 玩 。")
NOISE_SCARED = T(
    "{name} 有点儿 害怕 。 “ 会 不会 是 怪物 ？ ” {he} 小声 地 说 。",
    "{name} 的 心 怦怦 直 跳 ： 那 会 是 什么 呢 ？",
)
NOISE_SCARED_IN = T(
    "{name} 躲 进 被子 里 ， {he} 以为 是 一只 大 狗熊 ！",
)
NOISE_AGAIN = T(
    "过了 一会儿 ， 声音 又 响 起来 了 ， 而且 更 响 了 。",
)
NOISE_LOOK = T(
    "{name} 深深 地 吸 了 一 口气 ， 走 过去 看看 。",
    "{name} 拿 起 手电筒 ， 一步 一步 地 走 过去 。",
)
NOISE_LOOK_P = T(
    "{name} 叫 来 了 {parent} ， {theyp} 一起 去 看看 。",
)
NOISE_LAUGH = T("{name} 笑 了 ， 原来 根本 不是 怪物 ！", "{name} 一点儿 也 不 害怕 了 。")
NOISE_SUM = T(
    "{name} 听到 奇怪 的 声音 ， 以为 是 怪物 ， 原来 只是 {noise} 。",
)


# -- arc: a new friend ------------------------------------------------------------------------

NEW_MOVE = T(
    "{name} 和 {parent} 搬 到 了 一个 新 的 地方 。", "{name} 刚 搬 到 这里 ， 还 没有 一个 朋友 。"
)
NEW_LONELY = T("{name} 觉得 很 孤单 。", "每天 ， {name} 都 一个人 玩 ， 心里 很 孤单 。")
NEW_GO = T(
    "{When} ， {name} 去 了 {place} 。", "{When} ， {name} 和 {parent} 一起 去 了 {place} 。"
)
NEW_KIDS = T(
    "那里 有 很多 小朋友 在 玩 ， 可是 {name} 一个 也 不 认识 。",
)
NEW_SEE = T(
    "在 那里 ， {he} 看见 {fnp} 正 一个人 {pact} 。", "{he} 看见 {fnp} 一个人 坐 在 那里 。"
)
NEW_SHY = T(
    "{name} 很 想 去 打招呼 ， 可是 {he} 有点儿 害羞 。", "{name} 很 害羞 ， 脸 都 红 了 。"
)
NEW_PUSH = T(
    "{parent} 说 ： “ 去 吧 ， 跟 {fhe} 说 声 你好 。 ”",
)
NEW_HELLO = T(
    "“ 你好 ， 我 叫 {name} 。 ” {he} 说 ， “ 我 可以 和 你 一起 玩 吗 ？ ”",
    "{name} 走 过去 说 ： “ 你好 ！ 我们 一起 玩 好 吗 ？ ”",
)
NEW_YES = T(
    "{fname} 笑 了 ： “ 好 呀 ！ 我们 一起 {pact} 吧 ！ ”",
    "“ 好 啊 ！ ” {fname} 说 。 原来 {fhe} 也 很 孤单 。",
)
NEW_PLAY = T("{they} 一起 玩 了 一下午 。", "{they} 一起 {pact} ， 后来 又 玩 了 捉迷藏 。")
NEW_TALK = T(
    "{they} 聊 起 了 自己 最 喜欢 的 东西 ， 笑 个 不停 。",
)
NEW_END = T("现在 ， {name} 有 了 一个 新 朋友 。", "{name} 再 也 不 孤单 了 。")
NEW_TWIST = T(
    "第二天 ， {name} 发现 ， {fname} 原来 就 住 在 {he} 家 隔壁 ！",
)
NEW_MORAL = T(
    "{name} 明白 了 ， 一个 微笑 、 一声 你好 ， 就 能 交到 新 朋友 。",
)
NEW_SUM = T(
    "{name} 在 新 的 地方 很 孤单 ， 直到 {he} 主动 跟 {fname} 打招呼 ， {they} 成了 好 朋友 。",
)


# -- arc: a race ------------------------------------------------------------------------------

RACE_START = T(
    "{When} ， {who} 和 {f1} {at_place} 玩 。 “ 我们 来 比赛 ， 看 谁 先 跑 到 {goal} ！ ” "
    "{fname} 说 。",
    "{When} ， {who} 和 {f1} 去 {place} 玩 ， {they} 想 比一比 谁 先 跑 到 {goal} 。",
)
RACE_GO = T(
    "“ 预备 ， 开始 ！ ” {fname} 喊 道 ， {they} 一起 跑 了 出去 。",
    "{they} 用 最 快 的 速度 往前 跑 。",
)
RACE_WIND = T(
    "风 吹 着 {they} 的 头发 ， {they} 一边 跑 一边 笑 。",
)
RACE_LOSE = T("{fname} 先 跑 到 了 {goal} 。", "{fname} 跑 得 更 快 ， 赢 了 比赛 。")
RACE_MAD = T("{name} 生气 了 ： “ 这 不 公平 ！ ”", "{name} 跺着 脚 说 ： “ 我 不 玩 了 ！ ”")
RACE_KIND = T(
    "{fname} 说 ： “ 这 只是 个 游戏 嘛 ， 我们 再 比 一次 吧 ！ ”",
    "{parent} 说 ： “ 输赢 不 重要 ， 一起 玩 才 最 重要 。 ”",
)
RACE_SORRY = T("{name} 跟 {fname} 说 了 对不起 。", "{name} 觉得 不 好意思 ， 说 了 声 对不起 。")
RACE_AGAIN = T(
    "{they} 又 比 了 一次 ， 这 一次 ， {they} 一路 都 在 笑 。",
)
RACE_LEAD = T(
    "{name} 跑 在 最 前面 ， 眼看 就要 赢 了 ！",
)
RACE_FALL = T(
    "可是 这时 ， {he} 听到 后面 有人 在 哭 。 原来 {fname} 摔倒 了 ， 膝盖 也 摔 破 了 。",
)
RACE_STOP = T(
    "{name} 马上 停 下来 ， 跑 回去 扶起 了 {fname} 。",
)
RACE_TOGETHER = T(
    "{they} 手拉手 ， 一起 走 到 了 {goal} 。",
)
RACE_WHY = T(
    "“ 你 本来 可以 赢 的 。 ” {fname} 说 。 “ 帮助 你 更 重要 。 ” {name} 说 。",
)
RACE_MORAL = T(
    "{name} 明白 了 ， 和 朋友 一起 开心 地 玩 ， 比 赢 更 重要 。",
    "{name} 明白 了 ， 善良 比 赢 更 重要 。",
)
RACE_SUM_LOSE = T(
    "{name} 比赛 输给 了 {fname} ， 很 生气 ， 后来 明白 了 一起 玩 比 输赢 更 重要 。",
)
RACE_SUM_HELP = T(
    "{name} 眼看 就要 赢 了 ， 却 停 下来 帮助 摔倒 的 {fname} 。",
)


# -- arc: a mysterious egg --------------------------------------------------------------------

EGG_FIND = T(
    "{When} ， {who} {at_place} 玩 ， 在 {spot} 发现 了 一个 大大 的 白 蛋 。",
    "{When} ， {who} 在 {place} 的 {spot} 看见 了 一个 蛋 。",
)
EGG_WONDER = T(
    "“ 里面 会 是 什么 呢 ？ ” {name} 好奇 地 想 。",
)
EGG_ASK = T(
    "“ 这 是 谁 的 蛋 呀 ？ ” {name} 问 {parent} 。 “ 我们 等等 看 吧 。 ” {parent} 说 。",
    "{parent} 说 ： “ 我们 要 让 它 暖暖 的 。 ”",
)
EGG_CARE = T(
    "{he} 把 蛋 带 回 家 ， 用 软软 的 毯子 把 它 包 了 起来 。",
    "{name} 和 {parent} 把 蛋 放 进 一个 铺着 毯子 的 小 盒子 里 。",
)
EGG_WAIT = T("每天 ， {name} 都 去 看看 那个 蛋 。", "{name} 等 啊 等 ， 等 啊 等 。")
EGG_SHAKE = T("蛋 好像 在 轻轻 地 动 。", "有时候 ， {name} 能 听到 蛋 里面 有 小小 的 敲 壳 声 。")
EGG_HATCH = T(
    "一天 早上 ， 蛋 开始 晃动 起来 。 咔嚓 ！ 一只 {baby} 钻 了 出来 ！",
)
EGG_MOM = T(
    "{baby} 看着 {name} ， 还 以为 {name} 是 它 的 妈妈 呢 ！",
    "{baby} 走 到 哪儿 都 跟着 {name} ， 好像 {name} 就 是 它 的 妈妈 。",
)
EGG_END = T(
    "{name} 好好 地 照顾 {baby} ， 直到 它 长 得 又 大 又 壮 。",
    "等 {baby} 长大 了 ， {name} 把 它 送 回 了 {place} ， 让 它 去 找 自己 的 家人 。",
)
EGG_SUM = T(
    "{name} 在 {place} 捡到 一个 蛋 ， 把 它 捂 得 暖暖 的 ， 结果 孵 出 了 一只 {baby} 。",
)


# -- cast, context and story ------------------------------------------------------------------

_KIDS = ("girl", "boy")


def _mod(adj: str, noun: str) -> str:
    return f"{adj}{noun}" if adj in _NO_DE else f"{adj}的{noun}"


def _thing_keys(t: Thing) -> tuple[dict[str, str], ...]:
    out = []
    for adj in t.adjs:
        for use in t.uses:
            mod = _mod(adj, t.noun)
            short = _SHORT.get(adj, adj if adj in _NO_DE else "")
            out.append(
                {
                    "obj": t.noun,
                    "mw": t.mw,
                    "oadj": adj,
                    "mod_obj": mod,
                    "pobj": short + t.noun,
                    "a_obj": f"一{t.mw}{t.noun}",
                    "a_mod_obj": f"一{t.mw}{mod}",
                    "use": use,
                    "small": "yes" if t.small else "",
                    "brk": "",
                }
            )
    return tuple(out)


def _place_keys(p: Place) -> tuple[dict[str, str], ...]:
    return tuple(
        {"place": p.noun, "at_place": p.at, "spot": s1, "spot2": s2, "spot3": s3, "pact": act}
        for s1, s2, s3 in itertools.permutations(p.spots, 3)
        for act in p.acts
    )


def _np_options(kind: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """("一只叫{name}的小猫" forms, "一只白色的小猫，名叫{name}" forms) for a kind."""
    k = KINDS[kind]
    mw1 = f"一{k.mw}"
    plain = (f"{mw1}叫{{name}}的{k.noun}",)
    mods = k.colors if k.animal else tuple(f"{x}的" for x in KID_ADJS)
    rich = tuple(f"{mw1}{m}{k.noun}，名叫{{name}}" for m in mods)
    return plain, rich


_NP = {k: _np_options(k) for k in KINDS}
_THING_KEYS = {t.noun: _thing_keys(t) for t in THINGS}
_THING_BY_NOUN = {t.noun: t for t in THINGS}
_PLACE_KEYS = {p.noun: _place_keys(p) for p in PLACES}
_PLACE_NOUNS = tuple(p.noun for p in PLACES)
_THINGS_BY = {
    "any": tuple(t.noun for t in THINGS),
    "breaks": tuple(t.noun for t in THINGS if t.breaks),
    "floats": tuple(t.noun for t in THINGS if t.floats),
    "flies": tuple(t.noun for t in THINGS if t.flies),
}
_WATER = tuple(p.noun for p in PLACES if p.water)
_FEARS_FOR = {
    k: tuple(f for f in S.FEARS if k not in f.not_kinds and (not f.kids_only or k in _KIDS))
    for k in KINDS
}
_SKILLS_FOR = {
    k: tuple(s for s in S.SKILLS if ("kid" if k in _KIDS else k) in s.kinds)
    or tuple(s for s in S.SKILLS if "kid" in s.kinds)
    for k in KINDS
}
_ACTS_FOR = {k: v.acts + ANY_ACTS for k, v in KINDS.items()}
_PARENT_WORDS = tuple(PARENTS)


def _character(r: Callable[[], float], animal: bool, avoid: str) -> tuple[str, str, str]:
    while True:
        if animal:
            kind = pick(r, ANIMAL_KINDS)
            name = pick_name(r, PET_NAMES)
            gender = "f" if r() < 0.5 else "m"
        elif r() < 0.5:
            kind, gender, name = "girl", "f", pick_name(r, GIRL_NAMES)
        else:
            kind, gender, name = "boy", "m", pick_name(r, BOY_NAMES)
        if name != avoid:
            return kind, gender, name


def _set_thing(r: Callable[[], float], ctx: dict[str, str], noun: str) -> None:
    ctx.update(pick(r, _THING_KEYS[noun]))
    t = _THING_BY_NOUN[noun]
    if t.breaks:
        ctx["brk"], ctx["fix"] = pick(r, t.breaks)


def _context(rng: random.Random, arc: str) -> tuple[dict[str, str], dict[str, str]]:
    r = rng.random
    hero_animal = r() < 0.35
    kind, g, name = _character(r, hero_animal, "")
    fkind, fg, fname = _character(r, r() < (0.65 if hero_animal else 0.2), name)
    plain, rich = _NP[kind]
    np = pick(r, plain).format(name=name)
    npb = pick(r, rich).format(name=name)
    fplain, frich = _NP[fkind]
    fnp = pick(r, frich if r() < 0.3 else fplain).format(name=fname)
    parent = pick(r, _PARENT_WORDS)
    pg = PARENTS[parent]
    he, fhe, phe = PRONOUN[g], PRONOUN[fg], PRONOUN[pg]
    ctx: dict[str, str] = {
        "name": name,
        "he": he,
        "kind": KINDS[kind].noun,
        "kkey": kind,
        "mw1": f"一{KINDS[kind].mw}",
        "np": np,
        "npb": npb,
        "who": name,
        "home": pick(r, KINDS[kind].homes),
        "act": pick(r, _ACTS_FOR[kind]),
        "food": pick(r, FOODS),
        "feet": _FEET[kind in _PAWS],
        "fname": fname,
        "fhe": fhe,
        "fnp": fnp,
        "they": "她们" if g == fg == "f" else "他们",
        "parent": parent,
        "phe": phe,
        "theyp": "她们" if g == pg == "f" else "他们",
        "When": pick(r, WHEN),
    }
    if r() < 0.5:
        f1 = fnp
    elif fkind in _KIDS:
        f1 = f"{he}的好朋友{fname}"
    else:
        f1 = f"{he}的好朋友{KINDS[fkind].noun}{fname}"
    ctx["f1"] = f1
    _set_thing(r, ctx, pick(r, _THINGS_BY["breaks" if arc == "broken" else "any"]))
    ctx.update(pick(r, _PLACE_KEYS[pick(r, _PLACE_NOUNS)]))
    thief = THIEVES[1] if kind == "dog" else THIEVES[0]
    ctx["thief"], ctx["thief_sound"] = thief
    g1 = pick(r, S.GAMES)
    ctx.update(game1=g1, game2=pick(r, [x for x in S.GAMES if x != g1]), goal=pick(r, S.RACE_GOALS))
    return ctx, {name: g, fname: fg, parent: pg}


def _fit_scene(rng: random.Random, arc: str, ctx: dict[str, str]) -> object:
    r = rng.random
    kind = ctx["kkey"]
    scene: object = None
    if arc == "fear":
        fear = pick(r, _FEARS_FOR[kind])
        ctx.update(fear=fear.what, fear_do=fear.do, fear_did=fear.did)
        if fear.places:
            ctx.update(pick(r, _PLACE_KEYS[pick(r, fear.places)]))
        scene = fear
    elif arc == "help":
        scene = pick(r, S.NEEDS)
    elif arc == "skill":
        skill = pick(r, _SKILLS_FOR[kind])
        ctx["skill"] = skill.do
        scene = skill
    elif arc == "gift":
        gift = pick(r, S.GIFTS)
        if gift.places:
            ctx.update(pick(r, _PLACE_KEYS[pick(r, gift.places)]))
        scene = gift
    elif arc == "mistake":
        scene = pick(r, S.MISTAKES)
    elif arc == "warning":
        hz = pick(r, S.HAZARDS)
        if hz.needs == "water":
            ctx.update(pick(r, _PLACE_KEYS[pick(r, _WATER)]))
            _set_thing(r, ctx, pick(r, _THINGS_BY["floats"]))
        elif hz.needs == "wind":
            _set_thing(r, ctx, pick(r, _THINGS_BY["flies"]))
        if hz.places:
            ctx.update(pick(r, _PLACE_KEYS[pick(r, hz.places)]))
        scene = hz
    elif arc == "noise":
        nz = pick(r, S.NOISES)
        ctx["When"] = nz.when
        if nz.places:
            ctx.update(pick(r, _PLACE_KEYS[pick(r, nz.places)]))
        scene = nz
    return scene


# Candidate Words: per arc (nouns, verbs, adjectives), tried after the story's own words.
_ARC_WORDS: dict[str, tuple[str, str, str]] = {
    "lost": ("", "找 找到 帮 哭", "难过 开心 着急"),
    "share": ("朋友", "分享 玩 递给", "难过 开心 快乐"),
    "fight": ("游戏 朋友", "吵架 拉 道歉", "生气 难过"),
    "fear": ("滑梯 雷声 大狗 大树 蜜蜂 浪花", "怕 试 鼓起", "勇敢 害怕 骄傲"),
    "help": ("小鸟 小猫 苹果 眼镜 小鸭子 蚂蚁 膝盖", "帮 帮助 救", "可怜 快乐"),
    "broken": ("", "修 哭", "小心 难过"),
    "rain": ("大雨 彩虹 野餐 窗外", "下雨 烤 画 踩", "难过 快乐"),
    "skill": ("", "学会 练习 试", "骄傲 厉害"),
    "gift": ("生日 礼物", "送 画 做 摘", "特别 开心"),
    "mistake": ("饼干 花瓶 墙上 地板 蜡笔", "说 藏 擦 道歉", "诚实 难受"),
    "warning": ("大风 大树 糖果 蜜蜂 树枝", "听 爬 吃 摔", "后悔 难过"),
    "noise": ("声音 怪物 小猫 老鼠 窗户", "听到 看看 笑", "害怕 奇怪"),
    "newfriend": ("朋友 小朋友", "打招呼 玩 笑", "孤单 害羞"),
    "race": ("比赛", "跑 赢 比赛", "生气 开心"),
    "egg": ("蛋", "等 照顾 钻", "暖暖 好奇"),
}
ZH.extra(w for triple in _ARC_WORDS.values() for part in triple for w in part.split())


def _rotated(r: Callable[[], float], items: list[str]) -> list[str]:
    i = int(r() * len(items))
    return items[i:] + items[:i]


def _pick_words(
    rng: random.Random, arc: str, ctx: dict[str, str], text: str
) -> tuple[str, str, str]:
    """Noun, verb, adjective found in ``text`` (substring test: Chinese has no inflection)."""
    r = rng.random
    nouns_arc, verbs_arc, adjs_arc = _ARC_WORDS[arc]
    nouns = [ctx["obj"]] if r() < 0.6 else []
    nouns += _rotated(r, [ctx["obj"], ctx["place"], ctx["kind"], *nouns_arc.split()])
    nouns += ["朋友", ctx["parent"]]
    noun = next((n for n in nouns if n in text), ctx["kind"])
    verbs = [*_rotated(r, [ctx["use"], *verbs_arc.split()]), *_FALLBACK_VERBS]
    verb = next((v for v in verbs if v in text), "")
    # the thing's adjective counts only where it describes the thing ("红色的皮球"): a bare
    # "小" or "大" would be found inside names and nouns (小丽, 大家)
    own = ctx["oadj"] if ctx["mod_obj"] in text or ctx["pobj"] in text else ""
    adjs = [own] if own and r() < 0.4 else []
    adjs += [*_rotated(r, [own, *adjs_arc.split()]), *_FALLBACK_ADJS]
    adj = next((x for x in adjs if x and x in text), "")
    return noun, verb, adj


# Common enough that one of each is in (practically) every story.
_FALLBACK_VERBS = words("玩 说 看 喜欢 想 找 走 跑 笑 哭 吃 去 听到 看见 帮")
_FALLBACK_ADJS = words("开心 难过 高兴 快乐 害怕 漂亮 可爱 暖暖 软软 大大 高高 孤单 勇敢 着急 好玩")
ZH.extra(("朋友", *_FALLBACK_VERBS, *_FALLBACK_ADJS))
FEEL_HAPPY = T(
    "{name} 开心 地 笑 了 。",
)
FEEL_SAD = T(
    "{name} 难过 地 哭 了 。",
)


def compose(rng: random.Random) -> tuple[Draft, str, tuple[str, str, str]]:
    """Write one Chinese story.  Returns the draft, its text and the Words: triple."""
    arc = arcs.choose(rng)
    ctx, cast = _context(rng, arc)
    scene = _fit_scene(rng, arc, ctx)
    detail = 0.45 + 0.9 * rng.random()
    d = arcs.tell(Builder(rng, ctx, arc, detail, scene), _LANGUAGE)
    d.cast = {**cast, **d.cast}  # hero first
    text = "\n".join("".join(p) for p in d.paras)
    noun, verb, adj = _pick_words(rng, arc, ctx, text)
    if not (verb and adj):
        # A rare story without a usable verb or adjective: close it with a feeling, so that the
        # Words: field names words that are really in the text.
        sad = "BadEnding" in d.flags
        d.paras[-1].append(pick(rng.random, FEEL_SAD if sad else FEEL_HAPPY).format_map(ctx))
        text = "\n".join("".join(p) for p in d.paras)
        verb, adj = verb or ("哭" if sad else "笑"), adj or ("难过" if sad else "开心")
    return d, text, (noun, verb, adj)


_LANGUAGE = sys.modules[__name__]  # what the arcs read this language's words from
