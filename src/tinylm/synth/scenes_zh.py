"""Chinese situations for the arcs in ``plots_zh``: fears, skills, people in need, gifts,
mistakes, warnings, night noises and rainy-day fun.

Written directly in Chinese (not translated from ``scenes_en``), one word unit per space.
"""

from __future__ import annotations

from dataclasses import dataclass

from .lexicon_zh import ZH

T = ZH.t


@dataclass(frozen=True, slots=True)
class Fear:
    what: str  # after 怕: "黑"
    do: str  # what the fear stops the hero from doing
    did: str  # the same thing, done (with 了)
    event: tuple[str, ...]
    worry: tuple[str, ...]
    truth: tuple[str, ...]
    places: tuple[str, ...] = ()
    kids_only: bool = False
    twist: bool = False
    night: bool = False
    not_kinds: tuple[str, ...] = ()


FEARS: tuple[Fear, ...] = (
    Fear(
        ZH.w("黑"),
        ZH.w("关 着 灯 睡觉"),
        ZH.w("关 上 了 灯"),
        T(
            "{When} ， {name} 躺 在 床上 ， 怎么 也 睡不着 。 房间 里 黑黑 的 ， 静悄悄 的 。",
        ),
        T(
            "“ 床 底下 会 不会 有 怪物 ？ ” {name} 小声 地 问 。",
            "“ 我 不 喜欢 黑 ， 太 吓人 了 。 ” {name} 说 。",
        ),
        T(
            "床 底下 没有 怪物 ， 只有 {he} 的 玩具 和 一只 旧 袜子 。",
            "窗外 的 月亮 弯弯 的 ， 把 房间 照 得 亮亮 的 ， 一点儿 也 不 可怕 。",
        ),
        night=True,
    ),
    Fear(
        ZH.w("那个 高高 的 大 滑梯"),
        ZH.w("从 大 滑梯 上 滑 下来"),
        ZH.w("从 大 滑梯 上 滑 了 下来"),
        T(
            "{When} ， {who} 和 {helper} 去 了 游乐场 。 那里 有 一个 又 高 又 大 的 滑梯 。",
        ),
        T(
            "“ 我 要是 摔 下来 怎么办 ？ ” {name} 问 。",
            "“ 太 高 了 ！ 我 还 太 小 了 。 ” {name} 说 。",
        ),
        T(
            "滑梯 又 快 又 好玩 ！ {name} 一路 笑 着 滑 到 了 底 。",
            "呼 的 一下 ， {he} 就 滑 到 了 下面 。 一点儿 也 不 可怕 ， 真 好玩 ！",
        ),
        kids_only=True,
    ),
    Fear(
        ZH.w("水"),
        ZH.w("下 水 游泳"),
        ZH.w("慢慢 地 走 进 了 水 里"),
        T(
            "{When} ， {who} 和 {helper} 一起 去 了 {place} 。",
        ),
        T(
            "“ 水 会 不会 太 深 了 ？ ” {name} 问 。",
            "“ 水 太 多 了 ， 还 冷冰冰 的 。 ” {name} 说 。",
        ),
        T(
            "水 凉凉 的 ， 舒服 极了 ！ {name} 开心 地 踢 起 了 水花 。",
            "{he} 先 把 小脚 放 进 水 里 。 原来 水 一点儿 也 不 可怕 ， 还 很 好玩 ！",
        ),
        places=("海边", "湖边", "池塘边", "小河边"),
        not_kinds=("duck", "frog"),
    ),
    Fear(
        ZH.w("打雷"),
        ZH.w("一个人 睡觉"),
        ZH.w("自己 躺 回 了 床上"),
        T(
            "{When} ， 外面 下 起 了 大雨 。 轰隆隆 ！ 雷声 好 响 啊 ！",
        ),
        T(
            "“ 天空 是 不是 生气 了 ？ ” {name} 小声 问 。",
            "“ 声音 太 响 了 ！ 我 好 害怕 ！ ” {name} 哭 着 说 。",
        ),
        T(
            "雷声 虽然 很 响 ， 可是 它 伤害 不了 {he} 。 没过 多久 ， 雷声 就 越来越 远 了 。",
            "{he} 和 {helper} 一起 数 雷声 。 数 着 数 着 ， 雷声 就 变 小 了 。",
        ),
        night=True,
    ),
    Fear(
        ZH.w("邻居 家 的 大狗"),
        ZH.w("从 大狗 旁边 走 过去"),
        ZH.w("从 大狗 旁边 走 了 过去"),
        T(
            "{When} ， {who} 要 和 {helper} 一起 从 邻居 家 门口 走 过去 。",
            "{When} ， {who} 看见 那只 大狗 就 站 在 篱笆 旁边 。",
        ),
        T(
            "“ 它 会 不会 咬 我 ？ ” {name} 问 。",
            "“ 它 那么 大 ， 叫 得 那么 响 ！ ” {name} 说 。",
        ),
        T(
            "原来 大狗 只是 想 和 {he} 玩 ！ 它 摇着 尾巴 ， 还 舔 了 舔 {name} 的 手 。",
            "大狗 一点儿 也 不 凶 。 它 躺 在 地上 打 了 个 滚 ， 想 让 {name} 摸摸 它 的 肚子 ！",
        ),
        twist=True,
    ),
    Fear(
        ZH.w("高"),
        ZH.w("爬 上 那棵 大树"),
        ZH.w("爬 上 了 大树"),
        T(
            "{When} ， {who} 和 {helper} 去 了 {place} 。 那里 有 一棵 大树 。",
        ),
        T(
            "“ 我 要是 掉 下来 怎么办 ？ ” {name} 问 。",
            "“ 太 高 了 ， 我 不 敢 。 ” {name} 小声 地 说 。",
        ),
        T(
            "从 树上 往 下 看 ， 整个 {place} 都 能 看到 ， 真 漂亮 ！",
            "{he} 抓紧 树枝 ， 一步 一步 往上 爬 ， 一下子 就 爬 得 高高 的 了 ！",
        ),
        places=("公园", "花园", "森林", "草地", "后院", "小山坡"),
        not_kinds=("bird", "squirrel", "monkey"),
    ),
    Fear(
        ZH.w("蜜蜂"),
        ZH.w("从 花丛 旁边 走 过去"),
        ZH.w("从 花丛 旁边 走 了 过去"),
        T(
            "{When} ， {who} 和 {helper} 去 了 {place} 。 很多 蜜蜂 在 花丛 里 嗡嗡 地 飞 。",
        ),
        T(
            "“ 它们 会 不会 蜇 我 ？ ” {name} 问 。",
            "“ 蜜蜂 太 吵 了 ， 飞 得 又 那么 快 ！ ” {name} 说 。",
        ),
        T(
            "蜜蜂 们 都 在 忙着 采蜜 ， 根本 没有 理 {name} 。",
            "蜜蜂 从 一朵 花 飞 到 另 一朵 花 ， 它们 只 想 要 甜甜 的 花蜜 。",
        ),
        places=("花园", "草地", "公园", "农场"),
    ),
    Fear(
        ZH.w("大 海浪"),
        ZH.w("在 浪花 里 玩"),
        ZH.w("跑 进 了 浪花 里"),
        T(
            "{When} ， {who} 和 {helper} 去 了 海边 。 海浪 又 大 又 响 。",
        ),
        T(
            "“ 海浪 会 不会 把 我 冲倒 ？ ” {name} 问 。",
        ),
        T(
            "小 浪花 轻轻 地 挠 着 {he} 的 脚丫 ， 痒痒 的 ， 好玩 极了 ！",
            "浪花 来 了 又 走 ， 哗啦 ！ 凉凉 的 ， 真 好玩 ！",
        ),
        places=("海边",),
        not_kinds=("duck", "frog"),
    ),
)


@dataclass(frozen=True, slots=True)
class Skill:
    do: str
    kinds: tuple[str, ...]
    fail: tuple[str, ...]
    tip: tuple[str, ...]
    win: tuple[str, ...]


_KIDS = ("kid",)
SKILLS: tuple[Skill, ...] = (
    Skill(
        ZH.w("骑 自行车"),
        _KIDS,
        T(
            "{he} 摇摇晃晃 的 ， 一下子 摔 在 了 草地 上 。",
        ),
        T(
            "“ 眼睛 看 前面 ， 脚 用力 蹬 。 ” {hhe} 说 。",
        ),
        T("{he} 一口气 骑 到 了 路 的 尽头 ！", "{he} 骑着 自行车 绕 了 一圈 又 一圈 ！"),
    ),
    Skill(
        ZH.w("游泳"),
        ("kid", "dog", "bear"),
        T("{he} 扑腾 了 半天 ， 还是 在 原地 。", "{he} 一 蹬腿 ， 水 就 呛 进 了 鼻子 。"),
        T(
            "“ 像 小青蛙 一样 ， 蹬 腿 ， 划 手 。 ” {hhe} 说 。",
        ),
        T("{he} 一下子 游 到 了 {helper} 身边 ！", "{he} 划 着 水 ， 游 得 越来越 远 ！"),
    ),
    Skill(
        ZH.w("系 鞋带"),
        _KIDS,
        T("鞋带 绕 来 绕 去 ， 就是 系 不 成 蝴蝶结 。", "鞋带 打 成 了 一个 大 疙瘩 。"),
        T(
            "“ 先 做 两个 兔子 耳朵 ， 再 把 它们 交叉 起来 。 ” {hhe} 说 。",
        ),
        T("{he} 系 出 了 一个 漂亮 的 蝴蝶结 ！", "{he} 自己 把 鞋带 系 好 了 ！"),
    ),
    Skill(
        ZH.w("飞"),
        ("bird",),
        T(
            "{he} 拍拍 翅膀 ， 可是 扑通 一声 掉 在 了 软软 的 草地 上 。",
        ),
        T(
            "“ 翅膀 拍 快 一点 ， 眼睛 看着 天空 。 ” {hhe} 说 。",
        ),
        T("{he} 飞 起来 了 ， 越 飞 越 高 ！", "{he} 飞 过 了 大树 ， 飞 过 了 房子 ！"),
    ),
    Skill(
        ZH.w("跳绳"),
        _KIDS,
        T("绳子 一下 就 绊住 了 {he} 的 脚 。", "{he} 跳 早 了 ， 绳子 打 在 了 腿 上 。"),
        T(
            "“ 绳子 落 下来 的 时候 再 跳 。 ” {hhe} 说 。",
        ),
        T("{he} 一口气 跳 了 十 下 ！", "一下 ， 两下 ， 三下 ， {he} 一直 跳 个 不停 ！"),
    ),
    Skill(
        ZH.w("爬树"),
        ("kid", "cat", "squirrel", "monkey", "bear"),
        T(
            "{he} 刚 爬 上去 一点点 ， 就 滑 了 下来 。",
        ),
        T(
            "“ 抓紧 树枝 ， 一步 一步 来 。 ” {hhe} 说 。",
        ),
        T("{he} 一直 爬 到 了 树顶 ！", "{he} 坐 在 高高 的 树枝 上 ， 开心 地 挥手 ！"),
    ),
    Skill(
        ZH.w("接球"),
        ("kid", "dog"),
        T("球 一下子 打 在 了 {he} 的 鼻子 上 。", "球 每次 都 从 {he} 手 边 弹 走 了 。"),
        T(
            "“ 眼睛 要 一直 看着 球 。 ” {hhe} 说 。",
        ),
        T("{he} 稳稳 地 接住 了 球 ！", "{he} 一连 接住 了 三次 ！"),
    ),
    Skill(
        ZH.w("吹 口哨"),
        _KIDS,
        T(
            "只有 风 呼呼 地 出来 ， 一点儿 声音 也 没有 。",
        ),
        T(
            "“ 嘴巴 圆圆 的 ， 轻轻 地 吹 。 ” {hhe} 说 。",
        ),
        T("{he} 吹 出 了 一声 响亮 的 口哨 ！", "{he} 用 口哨 吹 了 一首 快乐 的 歌 ！"),
    ),
    Skill(
        ZH.w("自己 读 故事书"),
        _KIDS,
        T(
            "有些 字 太 难 了 ， {he} 读 着 读 着 就 卡住 了 。",
        ),
        T(
            "“ 一个 字 一个 字 慢慢 读 。 ” {hhe} 说 。",
        ),
        T(
            "{he} 自己 读 完 了 一整本 故事书 ！",
        ),
    ),
    Skill(
        ZH.w("写 自己 的 名字"),
        _KIDS,
        T(
            "写 出来 的 字 歪歪扭扭 的 。",
        ),
        T(
            "“ 慢慢 写 ， 看清楚 每 一笔 。 ” {hhe} 说 。",
        ),
        T(
            "{he} 把 自己 的 名字 写 得 又 大 又 清楚 ！",
        ),
    ),
    Skill(
        ZH.w("跳过 那根 木头"),
        ("bunny", "frog", "lamb", "fox", "dog"),
        T(
            "{he} 跳 了 一下 ， 却 撞 在 了 木头 上 。",
        ),
        T(
            "“ 先 跑 快 一点 ， 再 用力 往 上 跳 。 ” {hhe} 说 。",
        ),
        T(
            "{he} 一下子 就 跳 过 了 木头 ！",
        ),
    ),
)


@dataclass(frozen=True, slots=True)
class Need:
    see: tuple[str, ...]
    steps: tuple[tuple[str, ...], ...]
    thanks: tuple[str, ...]
    summary: tuple[str, ...]
    gender: str
    twist: tuple[str, ...] = ()
    twist_summary: tuple[str, ...] = ()


NEEDS: tuple[Need, ...] = (
    Need(
        T(
            "一只 翅膀 受伤 的 小鸟",
        ),
        (
            T(
                "小鸟 飞 不 起来 了 ， 看起来 很 害怕 。",
            ),
            T(
                "{name} 轻轻 地 捧起 小鸟 ， 把 它 带 回 了 家 。",
            ),
            T(
                "{name} 和 {parent} 用 小 盒子 给 小鸟 做 了 一个 软软 的 小窝 。",
            ),
            T(
                "每天 ， {name} 都 给 小鸟 喂水 、 喂 小米 。",
            ),
            T(
                "几天 以后 ， 小鸟 的 翅膀 好 了 。",
            ),
        ),
        T(
            "小鸟 飞 上 了 天空 ， 还 为 {name} 唱 了 一首 快乐 的 歌 。",
        ),
        T(
            "{name} 救 了 一只 受伤 的 小鸟 ， 照顾 它 直到 它 能 再 飞 起来 。",
        ),
        "n",
        T(
            "第二天 早上 ， 小鸟 又 飞 回来 了 ， 嘴 里 还 叼着 一朵 小花 ， 放 在 了 {name} 的 "
            "手 里 。",
        ),
        T(
            "{name} 救 了 一只 受伤 的 小鸟 ， 小鸟 后来 飞 回来 给 {he} 送 了 一朵 花 。",
        ),
    ),
    Need(
        T(
            "一只 被 困 在 树上 的 小猫",
        ),
        (
            T(
                "小猫 害怕 得 喵喵 直 叫 。",
            ),
            T(
                "{name} 赶紧 跑 去 叫 {parent} 。 {parent} 搬来 梯子 ， 爬 上 了 树 。",
            ),
            T(
                "{parent} 把 小猫 抱 了 下来 ， 小猫 一点儿 也 没 受伤 。",
            ),
        ),
        T(
            "小猫 用 头 蹭 了 蹭 {name} 的 手 ， 呼噜 呼噜 地 叫 。",
        ),
        T(
            "{name} 和 {parent} 一起 救 下 了 一只 困 在 树上 的 小猫 。",
        ),
        "n",
        T(
            "小猫 没有 家 ， 于是 {name} 收养 了 它 ， 它 成了 {name} 最 好 的 朋友 ！",
        ),
        T(
            "{name} 救 下 了 树上 的 小猫 ， 小猫 成了 {he} 的 新 朋友 。",
        ),
    ),
    Need(
        T(
            "一位 老爷爷 的 苹果 撒 了 一地",
        ),
        (
            T(
                "苹果 滚 得 到处 都 是 。",
            ),
            T(
                "“ 哎呀 ， 我 的 苹果 ！ ” 老爷爷 说 。",
            ),
            T(
                "{name} 赶紧 跑 过去 ， 帮 老爷爷 把 苹果 一个 一个 地 捡 了 起来 。",
            ),
        ),
        T(
            "“ 谢谢 你 ， 好 孩子 ！ ” 老爷爷 笑着 说 ， 还 送 给 {name} 一个 又 大 又 红 的 "
            "苹果 。",
        ),
        T(
            "{name} 帮 一位 老爷爷 捡起 了 撒 了 一地 的 苹果 。",
        ),
        "m",
    ),
    Need(
        T(
            "一位 找不到 眼镜 的 老奶奶",
        ),
        (
            T(
                "“ 没有 眼镜 ， 我 什么 也 看不清 。 ” 老奶奶 说 。",
            ),
            T(
                "{name} 帮 老奶奶 在 {spot2} 找 ， 又 在 {spot3} 找 。",
            ),
        ),
        T(
            "“ 谢谢 你 ， 好 孩子 。 ” 老奶奶 摸了摸 {name} 的 头 说 。",
        ),
        T(
            "{name} 帮 一位 老奶奶 找 眼镜 。",
        ),
        "f",
        T(
            "这时 ， {name} 抬头 一看 ， 忍不住 笑 了 ： 眼镜 原来 一直 戴 在 老奶奶 的 头上 ！",
        ),
        T(
            "{name} 帮 老奶奶 找 眼镜 ， 原来 眼镜 一直 在 老奶奶 的 头上 。",
        ),
    ),
    Need(
        T(
            "一只 迷路 的 小鸭子",
        ),
        (
            T(
                "小鸭子 找不到 妈妈 了 ， 嘎嘎 地 叫 。",
            ),
            T(
                "{name} 轻轻 地 抱起 小鸭子 ， 把 它 送到 了 池塘 边 。",
            ),
            T(
                "鸭 妈妈 就 在 那儿 ！ 小鸭子 摇摇摆摆 地 游 向 了 妈妈 。",
            ),
        ),
        T(
            "鸭 妈妈 嘎嘎 地 叫 了 两声 ， 好像 在 说 谢谢 。",
        ),
        T(
            "{name} 把 一只 迷路 的 小鸭子 送 回 了 妈妈 身边 。",
        ),
        "n",
    ),
    Need(
        T(
            "一只 小 蚂蚁 正在 搬 一块 大 面包 屑",
        ),
        (
            T(
                "面包 屑 太 大 了 ， 小 蚂蚁 怎么 也 搬 不 动 。",
            ),
            T(
                "{name} 把 面包 屑 轻轻 地 放 到 了 蚂蚁 洞口 。",
            ),
            T(
                "好多 小 蚂蚁 跑 出来 ， 一起 把 面包 屑 搬 进 了 洞 里 。",
            ),
        ),
        T(
            "小 蚂蚁 挥了挥 触角 ， 好像 在 说 谢谢 。",
        ),
        T(
            "{name} 帮 小 蚂蚁 把 一块 大 面包 屑 搬 回 了 家 。",
        ),
        "n",
    ),
    Need(
        T(
            "一个 摔倒 的 小男孩",
        ),
        (
            T(
                "小男孩 的 膝盖 摔 红 了 ， 正在 哭 。",
            ),
            T(
                "“ 你 没事 吧 ？ ” {name} 问 ， 一边 把 他 扶 了 起来 。",
            ),
            T(
                "{name} 陪着 他 去 找 他 的 妈妈 ， 他 妈妈 抱了抱 他 。",
            ),
        ),
        T(
            "小男孩 笑 了 ： “ 谢谢 你 ， 你 真 是 个 好 朋友 。 ”",
        ),
        T(
            "{name} 帮助 了 一个 摔倒 的 小男孩 。",
        ),
        "m",
    ),
)


@dataclass(frozen=True, slots=True)
class Gift:
    make: tuple[str, ...]
    noun: str
    places: tuple[str, ...] = ()


GIFTS: tuple[Gift, ...] = (
    Gift(
        T(
            "{he} 拿出 蜡笔 ， 画 了 一幅 画 ， 上面 有 好多 爱心 。",
            "{he} 画 了 一幅 大大 的 画 ， 画 上 是 {he} 和 {rname} 手拉手 站 在 太阳 下 。",
        ),
        ZH.w("画"),
    ),
    Gift(
        T(
            "{he} 去 {place} 摘 了 一束 最 漂亮 的 花 。",
        ),
        ZH.w("花"),
        ("花园", "草地", "公园", "农场"),
    ),
    Gift(
        T(
            "{he} 做 了 一张 贺卡 ， 上面 画满 了 爱心 和 星星 。",
        ),
        ZH.w("贺卡"),
    ),
    Gift(
        T(
            "{he} 请 {helper} 帮忙 ， 一起 做 了 一个 小 蛋糕 。",
        ),
        ZH.w("蛋糕"),
    ),
    Gift(
        T(
            "{he} 在 海边 捡 了 好多 漂亮 的 贝壳 ， 串 成 了 一条 项链 。",
        ),
        ZH.w("项链"),
        ("海边",),
    ),
    Gift(
        T(
            "{he} 找到 一块 圆圆 的 石头 ， 在 上面 画 上 了 漂亮 的 颜色 。",
        ),
        ZH.w("石头"),
    ),
)


@dataclass(frozen=True, slots=True)
class Mistake:
    steps: tuple[tuple[str, ...], ...]
    hide: tuple[str, ...]
    fix: tuple[str, ...]
    summary: tuple[str, ...]
    conflict: bool = False
    foreshadow: bool = False


MISTAKES: tuple[Mistake, ...] = (
    Mistake(
        (
            T(
                "{parent} 为 聚会 烤 了 一盘 饼干 。 “ 现在 先 别 吃 哦 。 ” {phe} 说 。",
            ),
            T(
                "可是 饼干 太 香 了 。 {name} 吃 了 一块 ， 又 吃 了 一块 ， 还 想 再 吃 一块 ！",
            ),
            T(
                "没过 多久 ， 盘子 里 的 饼干 全 被 吃光 了 。",
            ),
        ),
        T(
            "{he} 把 空 盘子 藏 到 了 床 底下 。",
        ),
        T(
            "后来 ， {theyp} 一起 重新 烤 了 一盘 饼干 ， {name} 一块 也 没有 偷吃 。",
        ),
        T(
            "{name} 偷吃 了 为 聚会 准备 的 饼干 ， 后来 说出 了 实话 ， 还 帮忙 烤 了 新 的 "
            "饼干 。",
        ),
        foreshadow=True,
    ),
    Mistake(
        (
            T(
                "{name} 在 屋 里 玩 皮球 ， 可是 这 是 不 允许 的 。",
            ),
            T(
                "{he} 把 球 一扔 ， 正好 砸 到 了 {parent} 最 喜欢 的 花瓶 。",
            ),
            T(
                "哐当 ！ 花瓶 摔 成 了 好 几 块 。",
            ),
        ),
        T(
            "{he} 把 碎片 推 到 了 地毯 下面 。",
        ),
        T(
            "后来 ， {theyp} 一起 把 花瓶 一块 一块 地 粘 了 起来 。",
        ),
        T(
            "{name} 在 屋 里 玩 球 打碎 了 花瓶 ， 最后 学会 了 说 实话 。",
        ),
    ),
    Mistake(
        (
            T(
                "{name} 找到 了 一盒 蜡笔 。",
            ),
            T(
                "{he} 在 墙上 画 了 好多 红红 绿绿 的 线条 。",
            ),
            T(
                "很快 ， 白白 的 墙 就 变成 了 花 墙 。",
            ),
        ),
        T(
            "{he} 搬 了 一把 大 椅子 挡 在 墙 前面 。",
        ),
        T(
            "后来 ， {theyp} 一起 用 水 和 肥皂 把 墙 擦 干净 了 。",
        ),
        T(
            "{name} 在 墙上 乱 画 ， 后来 道 了 歉 ， 还 帮忙 把 墙 擦 干净 。",
        ),
    ),
    Mistake(
        (
            T(
                "{f1} 有 {a_mod_obj} ， {name} 非常 喜欢 。",
            ),
            T(
                "趁 {fname} 没 注意 ， {name} 把 {obj} 放 进 了 自己 的 包 里 。",
            ),
            T(
                "回到 家 ， {name} 玩着 {obj} ， 心里 却 一点儿 也 不 开心 。",
            ),
        ),
        T(
            "{he} 把 {obj} 藏 在 了 枕头 下面 。",
        ),
        T(
            "第二天 ， {name} 把 {obj} 还给 了 {fname} ， 还 说 了 对不起 。 {fname} 原谅 了 "
            "{he} ， {they} 又 一起 玩 了 起来 。",
        ),
        T(
            "{name} 没 经过 同意 就 拿走 了 {fname} 的 {obj} ， 后来 道歉 并 还 了 回去 。",
        ),
        conflict=True,
    ),
    Mistake(
        (
            T(
                "{name} 在 外面 玩 了 一下午 泥巴 。",
            ),
            T(
                "然后 ， {he} 带着 一 {feet} 泥巴 跑 进 了 屋 里 。",
            ),
            T(
                "干干净净 的 地板 上 全是 泥巴 印 ！",
            ),
        ),
        T(
            "{he} 跑 回 自己 的 房间 ， 躲 进 了 被子 里 。",
        ),
        T(
            "后来 ， {name} 帮着 把 地板 擦 得 亮亮 的 。",
        ),
        T(
            "{name} 把 干净 的 地板 踩 脏 了 ， 后来 帮忙 擦 干净 。",
        ),
    ),
)


@dataclass(frozen=True, slots=True)
class Hazard:
    warn: tuple[str, ...]
    disobey: tuple[str, ...]
    accident: tuple[str, ...]
    bad: tuple[str, ...]
    saved: tuple[str, ...]
    summary_bad: tuple[str, ...]
    summary_saved: tuple[str, ...]
    needs: str = ""
    places: tuple[str, ...] = ()


HAZARDS: tuple[Hazard, ...] = (
    Hazard(
        T(
            "“ 不要 拿着 {obj} 到 水 边 去 玩 。 ” {parent} 说 。",
            "“ 离 水 远 一点 ， 水 很 深 。 ” {parent} 说 。",
        ),
        T(
            "可是 {name} 很 想 到 水 边 看看 ， 就 拿着 {obj} 跑 了 过去 。",
            "可是 {name} 没有 听 。 {he} 拿着 {obj} 跑 到 了 水 边 。",
        ),
        T(
            "{he} 脚 下 一滑 ， {obj} 掉进 了 水 里 ！ 水 把 它 冲 走 了 。",
        ),
        T(
            "{name} 眼睁睁 地 看着 {obj} 越 漂 越 远 ， 再 也 看不见 了 。",
            "{obj} 不见 了 。 {name} 哭 着 回 了 家 。",
        ),
        T(
            "{parent} 找来 一根 长长 的 树枝 ， 把 {obj} 捞 了 上来 。",
        ),
        T(
            "{name} 不 听 {parent} 的 话 ， {obj} 掉进 水 里 被 冲走 了 。",
        ),
        T(
            "{name} 不 听 话 ， {obj} 差点儿 被 水 冲走 。",
        ),
        needs="water",
    ),
    Hazard(
        T(
            "“ 今天 风 很 大 ， 要 拿 好 你 的 {obj} 。 ” {parent} 说 。",
        ),
        T(
            "可是 {name} 想 让 {obj} 飞 得 高高 的 。",
            "可是 {name} 松开 一只 手 ， 去 和 小鸟 打招呼 。",
        ),
        T(
            "一阵 大风 吹 来 ， {obj} 飞 走 了 ！ 它 越 飞 越 高 ， 一直 飞 到 了 天上 。",
        ),
        T(
            "{name} 看着 它 变成 一个 小 点 ， 最后 不见 了 。",
            "{obj} 飞 过 了 大树 ， 再 也 没有 回来 。",
        ),
        T(
            "{obj} 挂 在 了 一棵 树 上 ， {parent} 爬 上去 帮 {he} 拿 了 下来 。",
        ),
        T(
            "{name} 没有 拿 好 {obj} ， 大风 把 它 吹走 了 。",
        ),
        T(
            "大风 吹走 了 {name} 的 {obj} ， 还好 {parent} 从 树上 把 它 拿 了 回来 。",
        ),
        needs="wind",
    ),
    Hazard(
        T(
            "“ 不要 爬 那棵 高高 的 树 ， 太 危险 了 。 ” {parent} 说 。",
        ),
        T(
            "可是 趁 {parent} 没 注意 ， {name} 偷偷 地 爬 了 上去 ， 越 爬 越 高 。",
        ),
        T(
            "突然 ， 树枝 断 了 ， {name} 摔 了 下来 ！ {he} 的 腿 摔伤 了 。",
        ),
        T(
            "{he} 在 床上 躺 了 好 多 天 ， 不能 出去 跑 ， 也 不能 出去 玩 。",
        ),
        T(
            "{parent} 赶紧 跑 过来 抱住 {he} 。 还好 ， 只是 擦破 了 一点儿 皮 。",
        ),
        T(
            "{name} 不 听 话 去 爬 高高 的 树 ， 摔 下来 伤 了 腿 。",
        ),
        T(
            "{name} 不 听 话 去 爬 树 ， 摔 了 下来 ， 还好 只是 擦破 了 一点儿 皮 。",
        ),
        places=("公园", "花园", "森林", "草地", "后院", "小山坡", "农场"),
    ),
    Hazard(
        T(
            "{parent} 给 了 {name} 一袋 糖果 。 “ 只 能 吃 一点点 哦 。 ” {phe} 说 。",
        ),
        T(
            "可是 糖果 太 甜 太 好吃 了 ， {name} 一下子 全 吃光 了 。",
        ),
        T(
            "那天 晚上 ， {he} 的 肚子 疼 得 厉害 。",
        ),
        T(
            "第二天 ， {he} 只能 躺 在 床上 ， 哪儿 也 去 不 了 。",
        ),
        T(
            "{parent} 给 {he} 喝 了 一杯 温水 ， 没过 多久 ， {he} 就 好 多 了 。",
        ),
        T(
            "{name} 一下子 吃 了 太多 糖果 ， 肚子 疼 ， 只能 躺 在 床上 。",
        ),
        T(
            "{name} 吃 了 太多 糖果 ， 肚子 疼 了 起来 。",
        ),
    ),
    Hazard(
        T(
            "“ 离 蜜蜂 远 一点 ， 它们 会 蜇 人 。 ” {parent} 说 。",
        ),
        T(
            "可是 {name} 想 近 一点儿 看看 蜜蜂 ， 还 用 小 棍子 去 捅 蜂窝 。",
        ),
        T(
            "蜜蜂 生气 了 ， 一只 蜜蜂 蜇 了 {name} 的 鼻子 ！",
        ),
        T(
            "{he} 的 鼻子 又 红 又 肿 ， 疼 了 好 几 天 。",
        ),
        T(
            "{parent} 给 {he} 敷 了 冰块 ， 很快 就 不 疼 了 。",
        ),
        T(
            "{name} 用 棍子 捅 蜂窝 ， 鼻子 被 蜜蜂 蜇 了 。",
        ),
        T(
            "{name} 被 蜜蜂 蜇 了 ， 还好 {parent} 帮 {he} 敷 了 冰块 。",
        ),
        places=("花园", "草地", "公园", "农场", "森林"),
    ),
)


@dataclass(frozen=True, slots=True)
class Noise:
    when: str
    hear: tuple[str, ...]
    reveal: tuple[str, ...]
    after: tuple[str, ...]
    what: tuple[str, ...]
    omen: tuple[str, ...] = ()
    places: tuple[str, ...] = ()
    by_parent: bool = False


NOISES: tuple[Noise, ...] = (
    Noise(
        ZH.w("一天 晚上"),
        T(
            "{he} 听到 门 外 有 沙沙 的 声音 。",
            "忽然 ， 门口 传来 一阵 奇怪 的 声音 ， 沙沙 ， 沙沙 ！",
        ),
        T(
            "原来 是 一只 湿漉漉 的 小猫 ！ 它 迷路 了 ， 又 冷 又 饿 。",
        ),
        T(
            "{name} 给 小猫 倒 了 一碗 温 牛奶 ， 还 给 它 找 了 一条 软软 的 毯子 。 后来 ， 小猫 "
            "就 成了 {name} 家 的 一员 。",
        ),
        T(
            "一只 迷路 的 小猫",
        ),
        T(
            "外面 下着 雨 ， 风 冷冷 的 。",
        ),
    ),
    Noise(
        ZH.w("一天 晚上"),
        T(
            "{he} 听到 窗户 上 嗒嗒嗒 地 响 。",
        ),
        T(
            "原来 只是 窗外 那棵 老树 的 树枝 ， 被 风 吹 得 敲 着 窗户 ！",
        ),
        T(
            "{name} 笑 了 ， 又 回到 床上 。 原来 大树 是 在 跟 {he} 说 晚安 呢 。",
        ),
        T(
            "被 风 吹动 的 树枝",
        ),
        T(
            "那天 晚上 ， 风 刮 得 很 大 。",
        ),
    ),
    Noise(
        ZH.w("一天 晚上"),
        T(
            "{he} 听到 床 底下 有 小小 的 声音 ， 咔嚓 ， 咔嚓 ！",
        ),
        T(
            "原来 是 一只 小 老鼠 ， 正在 吃 饼干 渣 ！",
        ),
        T(
            "小 老鼠 叼着 饼干 渣 跑 出 了 门 。 从 那 以后 ， {name} 总是 在 桌子 上 吃 饼干 。",
        ),
        T(
            "一只 正在 吃 饼干 渣 的 小 老鼠",
        ),
        T(
            "睡觉 前 ， {name} 在 房间 里 吃 了 一块 饼干 ， 掉 了 好多 渣 。",
        ),
    ),
    Noise(
        ZH.w("一天 下午"),
        T(
            "{he} 听到 旁边 的 草丛 里 有 东西 在 动 ， 沙沙 沙 ！",
        ),
        T(
            "原来 是 {f1} ！ {fhe} 躲 在 那里 ， 想 给 {name} 一个 惊喜 。",
        ),
        T(
            "{they} 哈哈 大笑 ， 然后 一起 玩 捉迷藏 ， 一直 玩到 吃 晚饭 。",
        ),
        T(
            "躲 起来 的 好朋友",
        ),
        T(
            "{f1} 说过 ： “ 今天 我 要 给 你 一个 惊喜 ！ ”",
        ),
        places=("公园", "花园", "后院", "森林", "草地"),
    ),
    Noise(
        ZH.w("一天 晚上"),
        T(
            "{he} 听到 厨房 里 哐当 一声 。",
        ),
        T(
            "原来 是 {parent} 在 做 夜宵 ， 不 小心 把 锅 掉 在 了 地上 ！",
        ),
        T(
            "{theyp} 都 笑 了 ， 然后 一起 吃 了 热乎乎 的 面包 。",
        ),
        T(
            "在 厨房 做 夜宵 的 {parent}",
        ),
        T(
            "那天 晚上 ， {parent} 还 在 厨房 里 忙 着 。",
        ),
        by_parent=True,
    ),
    Noise(
        ZH.w("一天 下午"),
        T(
            "{he} 听到 一棵 老树 上 传来 咕咕 咕咕 的 声音 。",
        ),
        T(
            "原来 是 一只 小 猫头鹰 ， 正 坐 在 树洞 里 ！",
        ),
        T(
            "猫头鹰 妈妈 飞 回来 了 ， 小 猫头鹰 高兴 极了 。 {name} 挥挥 手 和 它们 说 再见 。",
        ),
        T(
            "一只 小 猫头鹰",
        ),
        T(
            "{parent} 说过 ， 那里 的 老树 上 住着 很多 鸟 。",
        ),
        places=("公园", "花园", "森林", "后院"),
    ),
)

RAINY_FUN: tuple[tuple[str, tuple[str, ...]], ...] = (
    (
        ZH.w("在 家 里 野餐"),
        T(
            "{theyp} 在 客厅 的 地板 上 铺 了 一块 大 毯子 ， 在 家 里 野餐 。",
        ),
    ),
    (
        ZH.w("搭 一个 小 帐篷"),
        T(
            "{theyp} 用 毯子 和 枕头 搭 了 一个 小 帐篷 ， 里面 又 暖和 又 舒服 。",
        ),
    ),
    (
        ZH.w("一起 烤 饼干"),
        T(
            "{theyp} 一起 烤 了 饼干 ， 整个 屋子 都 香香 的 。",
        ),
    ),
    (
        ZH.w("画画"),
        T(
            "{theyp} 一起 画 了 太阳 、 彩虹 和 {place} 。",
        ),
    ),
    (
        ZH.w("穿 上 雨靴 去 踩 水坑"),
        T(
            "{theyp} 穿 上 雨靴 和 雨衣 ， 到 外面 踩 水坑 。 啪嗒 ！ 水花 溅 得 老高 ！",
        ),
    ),
    (
        ZH.w("玩 游戏"),
        T(
            "{theyp} 玩 游戏 、 讲 故事 ， 度过 了 一个 快乐 的 下午 。",
        ),
    ),
)
GAMES = ZH.ws(("捉迷藏", "过家家", "老鹰 捉 小鸡", "跳房子", "丢手绢", "开火车"))
RACE_GOALS = ZH.ws(("那棵 大树", "那块 大 石头", "篱笆 那儿", "大门 口"))
BABIES = ZH.ws(("小鸭子", "小鸡", "小鸟", "小乌龟"))
