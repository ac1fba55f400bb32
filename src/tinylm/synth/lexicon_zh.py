"""Chinese word lists: names, characters, things and places, written in word units.

Strings are written with a space between words ("红色 的 皮球"); :data:`ZH` keeps the units
for ``vocabulary("zh")`` and returns the rendered text without spaces.  Words are kept to
what a three-to-four-year-old hears in picture books.
"""

from __future__ import annotations

from dataclasses import dataclass

from .templates import WordBook, words

ZH = WordBook("zh", spaced=True)

GIRL_NAMES = ZH.ws(
    words(
        "小红 小丽 小美 小雨 小雪 小月 小兰 小芳 朵朵 甜甜 妞妞 果果 笑笑 丫丫 佳佳 婷婷 莉莉 菲菲 "
        "静静 萌萌 圆圆 欣欣 可可 小花 小玲 小燕"
    )
)
BOY_NAMES = ZH.ws(
    words(
        "小明 小军 小刚 小强 小东 小华 小龙 小虎 小宝 小杰 豆豆 亮亮 阳阳 天天 丁丁 冬冬 壮壮 "
        "牛牛 乐乐 浩浩 磊磊 明明 飞飞 小林 小海 小山"
    )
)
PET_NAMES = ZH.ws(
    words(
        "小白 小黄 花花 咪咪 旺旺 球球 毛毛 点点 跳跳 皮皮 胖胖 灰灰 黑黑 豆包 团团 嘟嘟 蹦蹦 贝贝 "
        "咕咕 闹闹 憨憨 雪球 小黑 小灰"
    )
)


@dataclass(frozen=True, slots=True)
class Kind:
    noun: str  # "小狗"
    mw: str  # measure word: "只"
    animal: bool
    colors: tuple[str, ...] = ()  # modifiers: "白色 的" rendered "白色的"
    homes: tuple[str, ...] = ()  # "一棵 大树 下面 的 小洞 里" (after 在)
    acts: tuple[str, ...] = ()  # favourite things to do


def _kind(noun: str, mw: str, colors: str, homes: str, acts: str) -> Kind:
    return Kind(
        ZH.w(noun),
        ZH.w(mw),
        bool(colors),
        tuple(ZH.w(f"{c} 的") for c in colors.split()),
        ZH.ws(homes.split(",")),
        ZH.ws(acts.split(",")),
    )


_KID_HOMES = "一个 小 村子 里,一座 小 房子 里,一个 热闹 的 小镇 上,一条 小河 边 的 房子 里"
_KID_ACTS = (
    "画画,唱歌,看 图画书,跳舞,搭 积木,踩 水坑,玩 捉迷藏,吹 泡泡,骑 小车,"
    "看 星星,帮 妈妈 浇花,在 院子 里 跑来跑去"
)

KINDS: dict[str, Kind] = {
    "girl": _kind("小女孩", "个", "", _KID_HOMES, _KID_ACTS),
    "boy": _kind("小男孩", "个", "", _KID_HOMES, _KID_ACTS),
    "dog": _kind(
        "小狗",
        "只",
        "白色 黑色 黄色 棕色",
        "一个 有 大 院子 的 家 里,一个 温暖 的 小 狗窝 里",
        "追 皮球,在 草地 上 打滚,挖 小洞,摇 尾巴",
    ),
    "cat": _kind(
        "小猫",
        "只",
        "白色 黑色 橘色 灰色",
        "一座 温暖 的 小 房子 里,一个 安静 的 小 院子 里",
        "晒 太阳,玩 毛线球,抓 蝴蝶,爬 树",
    ),
    "bunny": _kind(
        "小兔子",
        "只",
        "白色 灰色 棕色",
        "一棵 大树 下面 的 小洞 里,菜园 旁边 的 小洞 里",
        "吃 胡萝卜,在 草地 上 蹦蹦跳跳,采 蘑菇",
    ),
    "bear": _kind(
        "小熊",
        "只",
        "棕色 黑色",
        "森林 里 的 一个 山洞 里,小河 边 的 一个 山洞 里",
        "吃 蜂蜜,在 河 里 抓 鱼,爬 树",
    ),
    "bird": _kind(
        "小鸟",
        "只",
        "蓝色 黄色 红色",
        "一棵 高高 的 大树 上,一个 小小 的 鸟窝 里",
        "唱歌,在 天上 飞来飞去,在 树枝 上 跳来跳去",
    ),
    "duck": _kind(
        "小鸭子",
        "只",
        "黄色 白色",
        "池塘 边 的 一个 小窝 里,小河 边 的 草丛 里",
        "在 水 里 游泳,在 池塘 里 玩水,捉 小虫子",
    ),
    "frog": _kind(
        "小青蛙",
        "只",
        "绿色",
        "一个 长满 荷叶 的 池塘 里,一个 小小 的 池塘 里",
        "跳 得 高高 的,捉 虫子,在 荷叶 上 唱歌",
    ),
    "fox": _kind(
        "小狐狸",
        "只",
        "红色 橘色",
        "森林 深处 的 一个 小洞 里,一棵 老树 下面",
        "在 森林 里 跑来跑去,在 落叶 里 玩,追 蝴蝶",
    ),
    "mouse": _kind(
        "小老鼠",
        "只",
        "灰色 白色",
        "墙角 的 一个 小洞 里,楼梯 下面 的 一个 小洞 里",
        "吃 奶酪,玩 捉迷藏,搬 面包 屑",
    ),
    "pig": _kind(
        "小猪",
        "只",
        "粉色",
        "一个 大 农场 里,一个 小小 的 猪圈 里",
        "在 泥巴 里 打滚,吃 苹果,睡 大觉",
    ),
    "lamb": _kind(
        "小羊",
        "只",
        "白色",
        "一个 大 农场 里,山坡 下 的 羊圈 里",
        "在 草地 上 吃草,在 山坡 上 跑,晒 太阳",
    ),
    "squirrel": _kind(
        "小松鼠",
        "只",
        "棕色 灰色",
        "公园 里 一棵 高高 的 树 上,一棵 老树 的 树洞 里",
        "爬 树,藏 松果,在 树枝 间 跳来跳去",
    ),
    "monkey": _kind(
        "小猴子",
        "只",
        "棕色",
        "森林 里 一棵 大树 上,小河 边 的 一棵 树 上",
        "荡 秋千,吃 香蕉,爬 树",
    ),
    "elephant": _kind(
        "小象",
        "头",
        "灰色",
        "一片 大 森林 里,小河 边 的 草地 上",
        "用 鼻子 喷水,在 泥巴 里 玩,吃 香蕉",
    ),
}
ANIMAL_KINDS = tuple(k for k, v in KINDS.items() if v.animal)
KID_ADJS = ZH.ws(words("可爱 快乐 聪明 勇敢 害羞 善良 活泼 好奇 懂事 爱笑 调皮 乖巧"))
PARENTS: dict[str, str] = {  # word -> gender
    ZH.w("妈妈"): "f",
    ZH.w("爸爸"): "m",
    ZH.w("奶奶"): "f",
    ZH.w("爷爷"): "m",
}
PRONOUN = {"f": ZH.w("她"), "m": ZH.w("他")}


@dataclass(frozen=True, slots=True)
class Thing:
    noun: str  # "皮球"
    mw: str  # "个"
    adjs: tuple[str, ...]  # bare adjective units ("红色"); rendered with 的 when modifying
    uses: tuple[str, ...]  # verbs taking the thing as object: 踢 / 拍
    small: bool = False
    floats: bool = False
    flies: bool = False
    breaks: tuple[tuple[str, str], ...] = ()  # (what happened, 把…字 fix phrase)


def _thing(
    noun: str,
    mw: str,
    adjs: str,
    uses: str,
    *,
    small: bool = False,
    floats: bool = False,
    flies: bool = False,
    breaks: tuple[tuple[str, str], ...] = (),
) -> Thing:
    return Thing(
        ZH.w(noun),
        ZH.w(mw),
        ZH.ws(adjs.split()),
        ZH.ws(uses.split()),
        small,
        floats,
        flies,
        tuple((ZH.w(b), ZH.w(f)) for b, f in breaks),
    )


THINGS: tuple[Thing, ...] = (
    _thing("皮球", "个", "红色 蓝色 黄色 绿色 大 漂亮", "拍 踢 玩", floats=True),
    _thing(
        "布娃娃",
        "个",
        "漂亮 可爱 粉色 软软",
        "抱 玩",
        breaks=(("布娃娃 的 胳膊 掉 了", "把 胳膊 缝 好 了"),),
    ),
    _thing(
        "风筝",
        "只",
        "红色 蓝色 黄色 漂亮 大",
        "放",
        flies=True,
        breaks=(
            ("风筝 破 了 一个 大洞", "用 胶带 把 洞 粘 好 了"),
            ("风筝 的 线 断 了", "把 线 重新 接 好 了"),
        ),
    ),
    _thing(
        "玩具熊",
        "只",
        "棕色 软软 可爱 毛茸茸",
        "抱 玩",
        breaks=(("玩具熊 的 耳朵 破 了", "把 耳朵 缝 好 了"),),
    ),
    _thing(
        "玩具车",
        "辆",
        "红色 蓝色 黄色 新 小",
        "玩 推",
        breaks=(("玩具车 的 一个 轮子 掉 了", "把 轮子 装 了 回去"),),
    ),
    _thing(
        "小火车",
        "列",
        "红色 蓝色 绿色 长长",
        "玩",
        breaks=(("小火车 的 一个 轮子 掉 了", "把 轮子 装 了 回去"),),
    ),
    _thing(
        "小船",
        "只",
        "白色 红色 蓝色 木头",
        "玩",
        floats=True,
        breaks=(("小船 的 帆 破 了", "把 帆 缝 好 了"),),
    ),
    _thing("气球", "个", "红色 蓝色 黄色 粉色 大", "玩 拿着", flies=True, floats=True),
    _thing(
        "帽子",
        "顶",
        "红色 蓝色 黄色 新 漂亮",
        "戴",
        flies=True,
        breaks=(("帽子 破 了 一个 洞", "把 洞 补 好 了"),),
    ),
    _thing(
        "图画书",
        "本",
        "新 漂亮 厚厚",
        "看",
        breaks=(("图画书 撕 破 了 一页", "用 胶带 把 书页 粘 好 了"),),
    ),
    _thing("小鼓", "面", "红色 新 漂亮", "敲"),
    _thing(
        "机器人",
        "个",
        "银色 蓝色 新 小",
        "玩",
        breaks=(("机器人 的 手臂 掉 了", "把 手臂 装 了 回去"),),
    ),
    _thing(
        "围巾",
        "条",
        "红色 粉色 长长 暖和",
        "戴",
        flies=True,
        breaks=(("围巾 破 了 一个 洞", "把 洞 补 好 了"),),
    ),
    _thing("贝壳", "个", "漂亮 粉色 白色 亮晶晶", "看 玩", small=True),
    _thing("小铃铛", "个", "金色 亮晶晶", "摇", small=True),
    _thing("口哨", "个", "红色 蓝色 小", "吹", small=True),
    _thing("小桶", "个", "红色 黄色 蓝色", "玩", floats=True),
    _thing(
        "玩具飞机",
        "架",
        "白色 红色 蓝色 小",
        "玩",
        breaks=(("玩具飞机 的 翅膀 断 了", "用 胶水 把 翅膀 粘 好 了"),),
    ),
    _thing(
        "小毯子",
        "条",
        "软软 暖和 粉色 蓝色",
        "抱",
        breaks=(("小毯子 破 了 一个 洞", "把 洞 补 好 了"),),
    ),
    _thing(
        "项链",
        "条",
        "漂亮 亮晶晶 粉色",
        "戴",
        small=True,
        breaks=(("项链 的 绳子 断 了", "用 新 绳子 把 珠子 串 好 了"),),
    ),
    _thing("雨伞", "把", "红色 黄色 蓝色 花", "打", flies=True),
    _thing("弹珠", "颗", "蓝色 绿色 亮晶晶 小", "玩", small=True),
    _thing(
        "小木马",
        "匹",
        "棕色 白色 漂亮",
        "骑",
        breaks=(("小木马 的 一条 腿 掉 了", "用 胶水 把 腿 粘 好 了"),),
    ),
    _thing("书包", "个", "红色 蓝色 新", "背"),
    _thing(
        "小吉他",
        "把",
        "红色 蓝色 新",
        "弹",
        breaks=(("小吉他 的 一根 弦 断 了", "换 上 了 一根 新 弦"),),
    ),
    _thing("小黄鸭", "只", "可爱 胖胖", "玩", small=True, floats=True),
    _thing(
        "玩具恐龙",
        "只",
        "绿色 大 小",
        "玩",
        breaks=(("玩具恐龙 的 尾巴 掉 了", "用 胶水 把 尾巴 粘 好 了"),),
    ),
    _thing("跳绳", "根", "红色 粉色 长长", "玩"),
)


@dataclass(frozen=True, slots=True)
class Place:
    noun: str  # 公园 (used after 去)
    at: str  # 在公园里
    spots: tuple[str, ...]  # after 在: "长椅 下面"
    acts: tuple[str, ...]  # what children do there (verb phrases)
    water: bool = False


def _place(noun: str, at: str, spots: str, acts: str, water: bool = False) -> Place:
    return Place(ZH.w(noun), ZH.w(at), ZH.ws(spots.split(",")), ZH.ws(acts.split(",")), water)


PLACES: tuple[Place, ...] = (
    _place(
        "公园",
        "在 公园 里",
        "长椅 下面,大树 后面,草丛 里,滑梯 旁边,秋千 下面",
        "荡 秋千,滑 滑梯,喂 小鸭子,在 草地 上 跑",
    ),
    _place(
        "花园",
        "在 花园 里",
        "一片 大 叶子 下面,花丛 后面,花盆 旁边,篱笆 旁边,小树 下面",
        "闻 花香,给 花 浇水,找 小虫子,捉 蝴蝶",
    ),
    _place(
        "海边",
        "在 海边",
        "沙子 里,一块 大 石头 后面,毛巾 下面,小 沙堡 旁边",
        "堆 沙堡,捡 贝壳,在 浅水 里 玩,挖 沙子",
        water=True,
    ),
    _place(
        "森林",
        "在 森林 里",
        "一堆 落叶 下面,一根 木头 后面,小 树丛 里,一棵 老树 旁边",
        "找 蘑菇,摘 野果,听 小鸟 唱歌,捡 松果",
    ),
    _place(
        "农场",
        "在 农场 里",
        "干草 堆 里,谷仓 后面,猪圈 旁边,一辆 旧 小车 下面",
        "喂 小鸡,看 奶牛,在 干草 堆 上 玩,摘 苹果",
    ),
    _place(
        "湖边",
        "在 湖边",
        "水 边,一块 石头 后面,一棵 树 下面,草丛 里",
        "喂 鸭子,往 水 里 扔 小石子,看 小鱼,在 水 边 玩",
        water=True,
    ),
    _place(
        "后院",
        "在 后院 里",
        "草丛 里,小树 下面,篱笆 后面,台阶 下面",
        "吹 泡泡,玩 接球,捉 蝴蝶,找 小虫子",
    ),
    _place("动物园", "在 动物园 里", "猴子 山 旁边,长椅 下面,大门 旁边", "看 大象,看 猴子,喂 小羊"),
    _place(
        "游乐场",
        "在 游乐场 里",
        "滑梯 下面,秋千 后面,沙坑 里,大门 旁边",
        "滑 滑梯,荡 秋千,玩 沙子,玩 捉迷藏",
    ),
    _place(
        "草地",
        "在 草地 上",
        "高高 的 草丛 里,一块 大 石头 后面,野花 下面",
        "摘 野花,追 蝴蝶,在 草地 上 打滚,看 白云",
    ),
    _place(
        "小河边",
        "在 小河边",
        "一块 大 石头 后面,水 边,一根 木头 下面,草丛 里",
        "往 水 里 扔 小石子,看 小鱼,找 小青蛙",
        water=True,
    ),
    _place(
        "池塘边",
        "在 池塘边",
        "水 边,草丛 里,一根 木头 下面,一块 石头 后面",
        "喂 鸭子,找 小青蛙,看 小鱼",
        water=True,
    ),
    _place(
        "小山坡",
        "在 小山坡 上",
        "一块 大 石头 后面,草丛 里,一棵 小树 下面",
        "从 山坡 上 滚 下来,看 白云,放 风筝",
    ),
)
WATER_PLACES = tuple(p for p in PLACES if p.water)
ANY_ACTS = ZH.ws(("在 外面 玩", "跑跑跳跳", "和 朋友 一起 玩", "看 天上 的 白云", "唱歌"))
