"""English word lists: characters, things, places and activities, with their inflections.

Everything here is registered in :data:`EN`, the English :class:`WordBook`, so that
``vocabulary("en")`` knows every form a story can contain.  Words are kept to what a
three-to-four-year-old knows (the TinyStories restriction).
"""

from __future__ import annotations

from dataclasses import dataclass

from .grammar_en import PRONOUNS, VerbPhrase, a, possessive, vp
from .templates import WordBook, words

EN = WordBook("en", spaced=False)

GIRL_NAMES = EN.ws(
    words(
        "Lily Sue Mia Anna Emma Lucy Sara Amy Kim Zoe Ella Ruby Rose Jane Mary Molly Katie Lisa "
        "Nina Ava Chloe Grace Ivy Jenny Hannah Julia Sophie Olivia Alice Ellie Maya Lena Sally "
        "Emily Kate"
    )
)
BOY_NAMES = EN.ws(
    words(
        "Tom Tim Ben Sam Jack Leo Jake Joe Finn Bob Dan Mark Luke Adam Ryan Noah Eli Andy Billy "
        "Peter Paul Mike Nick Ted Jim Henry Oliver Jacob Ethan Owen Kevin Danny Timmy Sammy "
        "Alex"
    )
)
# Pet names with the gender a story may give them ("" = either).
PET_NAMES: tuple[tuple[str, str], ...] = tuple(
    (EN.w(n), g)
    for n, g in (
        ("Max", "m"),
        ("Spot", ""),
        ("Buddy", "m"),
        ("Rex", "m"),
        ("Coco", "f"),
        ("Fluffy", ""),
        ("Bella", "f"),
        ("Pip", ""),
        ("Sunny", ""),
        ("Ollie", "m"),
        ("Rosie", "f"),
        ("Teddy", "m"),
        ("Milo", "m"),
        ("Lulu", "f"),
        ("Peanut", ""),
        ("Patch", ""),
        ("Snowy", ""),
        ("Ginger", "f"),
        ("Benny", "m"),
        ("Hoppy", ""),
        ("Goldie", "f"),
        ("Tiny", ""),
        ("Button", ""),
        ("Muffin", ""),
        ("Pepper", ""),
        ("Dot", "f"),
        ("Ziggy", "m"),
        ("Daisy", "f"),
        ("Luna", "f"),
        ("Charlie", "m"),
        ("Bruno", "m"),
        ("Penny", "f"),
        ("Toby", "m"),
        ("Mimi", "f"),
        ("Fuzzy", ""),
        ("Sparky", "m"),
        ("Honey", "f"),
        ("Bingo", "m"),
    )
)
POSSESSIVE: dict[str, str] = {
    n: EN.w(possessive(n)) for n in (*GIRL_NAMES, *BOY_NAMES, *(p for p, _ in PET_NAMES))
}


@dataclass(frozen=True, slots=True)
class Kind:
    """What a character is: a child or an animal, and what fits such a character."""

    noun: str
    animal: bool
    colors: tuple[str, ...] = ()
    homes: tuple[str, ...] = ()  # noun phrases with article: "a nest in a tall tree"
    acts: tuple[VerbPhrase, ...] = ()  # favourite things to do, beyond ANY_ACTS


def _acts(*phrases: str, forms: str = "base past ing") -> tuple[VerbPhrase, ...]:
    """Inflect verb phrases, registering only the ``forms`` the templates actually use, so
    that vocabulary("en") lists no word a story can never contain."""
    out = []
    for p in phrases:
        v = vp(p)
        for form in forms.split():
            EN.w(getattr(v, form))
        out.append(v)
    return tuple(out)


def _kind(noun: str, colors: str, homes: tuple[str, ...], acts: tuple[str, ...]) -> Kind:
    return Kind(
        EN.w(noun), bool(colors), EN.ws(colors.split()), EN.ws(homes), _acts(*acts, forms="base")
    )


_KID_HOMES = (
    "a little house",
    "a small house",
    "a big house",
    "a yellow house",
    "a house near the woods",
    "a house with a red door",
    "a little house on a hill",
)
_KID_ACTS = (
    "draw pictures",
    "sing songs",
    "read books",
    "dance",
    "climb trees",
    "build towers with blocks",
    "jump in puddles",
    "make mud pies",
    "play hide and seek",
    "bake cookies",
    "play dress up",
    "look at the stars",
    "help in the garden",
    "blow bubbles",
    "ride bikes",
)

KINDS: dict[str, Kind] = {
    "girl": _kind("girl", "", _KID_HOMES, _KID_ACTS),
    "boy": _kind("boy", "", _KID_HOMES, _KID_ACTS),
    "dog": _kind(
        "dog",
        "brown black white spotted",
        ("a little house with a big yard", "a red dog house", "a big house on a farm"),
        ("chase balls", "dig holes", "roll in the grass", "play fetch"),
    ),
    "puppy": _kind(
        "puppy",
        "brown black white spotted",
        ("a little house with a big yard", "a cozy house"),
        ("chase balls", "dig holes", "roll in the grass", "play fetch"),
    ),
    "cat": _kind(
        "cat",
        "orange black white gray",
        ("a cozy house", "a little house with a blue door", "a big red barn"),
        ("chase mice", "sleep in the sun", "play with yarn", "climb trees"),
    ),
    "kitten": _kind(
        "kitten",
        "orange black white gray",
        ("a cozy house", "a little house with a blue door"),
        ("chase butterflies", "sleep in the sun", "play with yarn"),
    ),
    "bunny": _kind(
        "bunny",
        "white brown gray",
        ("a hole under a big tree", "a cozy hole in the garden"),
        ("hop in the grass", "eat carrots", "hop and play"),
    ),
    "bear": _kind(
        "bear",
        "brown black",
        ("a big cave in the woods", "a warm cave near the river"),
        ("eat honey", "catch fish", "climb trees", "roll in the grass"),
    ),
    "bird": _kind(
        "bird",
        "blue red yellow brown",
        ("a nest in a tall tree", "a little nest in an old tree"),
        ("sing songs", "fly high in the sky", "hop on the grass"),
    ),
    "duck": _kind(
        "duck",
        "yellow white brown",
        ("a nest by the pond", "a cozy nest near the lake"),
        ("swim in the pond", "splash in the water", "eat bugs"),
    ),
    "frog": _kind(
        "frog",
        "green",
        ("a small pond", "a pond full of lily pads"),
        ("jump high", "catch bugs", "swim in the pond", "sit on lily pads"),
    ),
    "fox": _kind(
        "fox",
        "red orange",
        ("a den in the forest", "a cozy den under a tree"),
        ("run in the forest", "play in the leaves", "chase butterflies"),
    ),
    "mouse": _kind(
        "mouse",
        "gray brown white",
        ("a tiny hole in the wall", "a little hole under the stairs"),
        ("eat cheese", "run and hide", "play with crumbs"),
    ),
    "pig": _kind(
        "pig",
        "pink spotted",
        ("a barn on a big farm", "a little barn"),
        ("roll in the mud", "eat apples", "play in the mud"),
    ),
    "lamb": _kind(
        "lamb",
        "white fluffy",
        ("a barn on a big farm", "a green field near a farm"),
        ("jump in the grass", "eat grass", "run in the field"),
    ),
    "squirrel": _kind(
        "squirrel",
        "brown gray red",
        ("a tall tree in the park", "a hole in an old tree"),
        ("climb trees", "hide nuts", "jump from tree to tree"),
    ),
    "owl": _kind(
        "owl",
        "brown white gray",
        ("a hole in an old tree", "a tall tree in the forest"),
        ("look at the stars", "fly at night", "read books"),
    ),
    "monkey": _kind(
        "monkey",
        "brown",
        ("a tall tree in the jungle", "a big tree by the river"),
        ("swing from trees", "eat bananas", "climb trees"),
    ),
    "elephant": _kind(
        "elephant",
        "gray",
        ("a big green jungle", "a field near the river"),
        ("splash in the water", "eat peanuts", "play in the mud"),
    ),
}
for _g in "fm":
    EN.ws(PRONOUNS[_g])
EN.ws(("it", "its"))
ANIMAL_KINDS = tuple(k for k, v in KINDS.items() if v.animal)

# Adjectives that describe a character in the opening ("a curious little girl").
KID_ADJS = EN.ws(
    words(
        "kind happy curious brave shy sweet clever friendly cheerful silly gentle smart funny "
        "busy playful good lively helpful quiet"
    )
)
ANIMAL_ADJS = EN.ws(words("happy curious brave shy friendly playful silly clever fluffy lazy"))

PARENTS: dict[str, tuple[str, str]] = {  # word -> (capitalised form used as a name, gender)
    "mom": (EN.w("Mom"), "f"),
    "dad": (EN.w("Dad"), "m"),
    "grandma": (EN.w("Grandma"), "f"),
    "grandpa": (EN.w("Grandpa"), "m"),
}


@dataclass(frozen=True, slots=True)
class Thing:
    """A thing a character owns and plays with; the flags say which plots it can be in."""

    noun: str
    adjs: tuple[str, ...]
    uses: tuple[VerbPhrase, ...]  # "kick" -> "kicked her ball"
    small: bool = False  # fits in a pocket
    floats: bool = False
    flies: bool = False  # the wind can take it away
    # (what went wrong, simple past clause; how it is mended, base verb phrase)
    breaks: tuple[tuple[str, VerbPhrase], ...] = ()
    a_noun: str = ""


def _thing(
    noun: str,
    adjs: str,
    uses: str,
    *,
    small: bool = False,
    floats: bool = False,
    flies: bool = False,
    breaks: tuple[tuple[str, str], ...] = (),
) -> Thing:
    return Thing(
        noun=EN.w(noun),
        adjs=EN.ws(adjs.split()),
        uses=_acts(*uses.split(",")),
        small=small,
        floats=floats,
        flies=flies,
        breaks=tuple((EN.w(b), _acts(f, forms="past")[0]) for b, f in breaks),
        a_noun=EN.w(a(noun)),
    )


THINGS: tuple[Thing, ...] = (
    _thing(
        "ball", "red blue big bouncy yellow green shiny orange", "play with,throw,kick", floats=True
    ),
    _thing(
        "doll",
        "pretty soft little old pink new",
        "play with,hug",
        breaks=(("the doll's arm came off", "sew the arm back on"),),
    ),
    _thing(
        "kite",
        "red blue big yellow green orange",
        "fly",
        flies=True,
        breaks=(
            ("the kite got a big hole", "fix the hole with some tape"),
            ("the string of the kite broke", "tie the string back on"),
        ),
    ),
    _thing(
        "teddy bear",
        "soft brown fluffy little old",
        "hug,play with",
        breaks=(
            ("one of the teddy bear's eyes came off", "sew the eye back on"),
            ("the teddy bear's ear tore", "sew the ear back on"),
        ),
    ),
    _thing(
        "toy car",
        "red blue fast little shiny green",
        "play with,push",
        breaks=(("a wheel came off the toy car", "put the wheel back on"),),
    ),
    _thing(
        "toy train",
        "red blue long little shiny wooden",
        "play with,push",
        breaks=(("a wheel came off the toy train", "put the wheel back on"),),
    ),
    _thing(
        "toy boat",
        "little red blue white wooden yellow",
        "sail,play with",
        floats=True,
        breaks=(("the sail of the toy boat tore", "sew the sail"),),
    ),
    _thing(
        "balloon",
        "red blue big yellow pink orange green",
        "play with,hold",
        flies=True,
        floats=True,
    ),
    _thing(
        "hat",
        "red blue big funny new yellow warm",
        "wear",
        flies=True,
        breaks=(("the hat got a hole", "sew up the hole"),),
    ),
    _thing(
        "book",
        "big new old red blue",
        "read,look at",
        breaks=(("a page tore out of the book", "tape the page back in"),),
    ),
    _thing("drum", "little red new loud big shiny", "play"),
    _thing(
        "robot",
        "little shiny blue new big silver",
        "play with",
        breaks=(("the robot's arm came off", "put the arm back on"),),
    ),
    _thing(
        "toy truck",
        "big red yellow blue green",
        "play with,push",
        breaks=(("a wheel came off the toy truck", "put the wheel back on"),),
    ),
    _thing(
        "scarf",
        "warm soft red blue long pink",
        "wear",
        flies=True,
        breaks=(("the scarf got a hole", "sew up the hole"),),
    ),
    _thing("shell", "pretty pink white shiny little big", "look at,hold", small=True),
    _thing("bell", "little shiny gold silver", "ring", small=True),
    _thing("whistle", "little shiny red blue", "blow", small=True),
    _thing("bucket", "red blue yellow big little green", "play with,fill", floats=True),
    _thing(
        "toy plane",
        "little red white blue fast",
        "fly,play with",
        breaks=(("a wing came off the toy plane", "glue the wing back on"),),
    ),
    _thing(
        "blanket",
        "soft warm blue pink old fuzzy",
        "hug",
        breaks=(("the blanket got a big hole", "sew up the hole"),),
    ),
    _thing(
        "necklace",
        "pretty shiny pink gold blue",
        "wear",
        small=True,
        breaks=(("the string of the necklace broke", "put the beads on a new string"),),
    ),
    _thing("crown", "shiny gold little pretty", "wear"),
    _thing("umbrella", "red yellow big blue pink little green", "hold,open", flies=True),
    _thing("marble", "blue shiny green little red", "roll,play with", small=True),
    _thing(
        "toy rocket",
        "red shiny silver big",
        "play with,fly",
        breaks=(("the toy rocket's nose came off", "glue the nose back on"),),
    ),
    _thing(
        "wagon",
        "red little old big wooden",
        "pull,ride in",
        breaks=(("a wheel came off the wagon", "put the wheel back on"),),
    ),
    _thing(
        "toy horse",
        "little brown white wooden",
        "ride,play with",
        breaks=(("the toy horse's leg came off", "glue the leg back on"),),
    ),
    _thing("ring", "pretty shiny little gold", "wear", small=True),
    _thing("backpack", "red blue new big green", "wear,carry"),
    _thing(
        "guitar",
        "little red blue new",
        "play",
        breaks=(("a string of the guitar broke", "put on a new string"),),
    ),
    _thing("toy duck", "yellow little rubber", "play with,squeeze", floats=True, small=True),
    _thing(
        "toy dinosaur",
        "green big little",
        "play with",
        breaks=(("the toy dinosaur's tail came off", "glue the tail back on"),),
    ),
    _thing(
        "bunny toy",
        "soft white pink little",
        "hug,play with",
        breaks=(("the bunny toy's ear came off", "sew the ear back on"),),
    ),
    _thing("jump rope", "red long pink blue", "play with,jump with"),
    _thing("puzzle", "big new", "play with,work on"),
)


@dataclass(frozen=True, slots=True)
class Place:
    """An outdoor place a story can happen in."""

    noun: str
    the: str  # "the park"
    at: str  # "in the park"
    to: str  # "to the park"
    spots: tuple[str, ...]  # where a lost thing can turn up
    acts: tuple[VerbPhrase, ...]  # what children do there
    water: bool = False


def _place(
    noun: str, at: str, spots: tuple[str, ...], acts: tuple[str, ...], water: bool = False
) -> Place:
    return Place(
        EN.w(noun),
        EN.w(f"the {noun}"),
        EN.w(f"{at} the {noun}"),
        EN.w(f"to the {noun}"),
        EN.ws(spots),
        _acts(*acts),
        water,
    )


PLACES: tuple[Place, ...] = (
    _place(
        "park",
        "in",
        (
            "under a bench",
            "behind a big tree",
            "in the tall grass",
            "near the slide",
            "under the swings",
            "in the sandbox",
        ),
        ("play on the swings", "go down the slide", "play in the sandbox", "feed the ducks"),
    ),
    _place(
        "garden",
        "in",
        (
            "under a big leaf",
            "behind the flowers",
            "in a flower pot",
            "next to the fence",
            "under a bush",
            "near the carrots",
        ),
        ("pick flowers", "water the plants", "look for bugs", "dig in the dirt"),
    ),
    _place(
        "beach",
        "at",
        (
            "in the sand",
            "behind a big rock",
            "under a towel",
            "near the water",
            "next to a sand castle",
        ),
        ("build a sand castle", "look for shells", "splash in the water", "dig in the sand"),
        water=True,
    ),
    _place(
        "forest",
        "in",
        (
            "under a pile of leaves",
            "behind a log",
            "in a bush",
            "near an old tree",
            "under a big rock",
        ),
        ("look for bugs", "pick berries", "climb over logs", "listen to the birds"),
    ),
    _place(
        "farm",
        "on",
        (
            "in the hay",
            "behind the barn",
            "near the pigs",
            "under an old cart",
            "next to the big red barn",
        ),
        ("feed the chickens", "pet the cows", "play in the hay", "ride on the tractor"),
    ),
    _place(
        "lake",
        "by",
        ("near the water", "behind a rock", "under a tree", "in the tall grass"),
        ("feed the ducks", "throw stones in the water", "splash in the water", "watch the fish"),
        water=True,
    ),
    _place(
        "backyard",
        "in",
        (
            "in the grass",
            "under a bush",
            "behind the fence",
            "next to the dog house",
            "under the steps",
        ),
        ("blow bubbles", "play catch", "run through the sprinkler", "look for bugs"),
    ),
    _place(
        "zoo",
        "at",
        ("near the monkeys", "under a bench", "by the gate", "next to the lions"),
        ("look at the lions", "watch the monkeys", "see the elephants", "feed the goats"),
    ),
    _place(
        "playground",
        "at",
        ("under the slide", "behind the swings", "in the sandbox", "near the gate"),
        ("go down the slide", "swing on the swings", "play tag", "climb the ladder"),
    ),
    _place(
        "meadow",
        "in",
        ("in the tall grass", "behind a big rock", "under some flowers", "near a little stream"),
        ("pick flowers", "chase butterflies", "roll in the grass", "look at the clouds"),
    ),
    _place(
        "river",
        "by",
        ("behind a big rock", "near the water", "under a log", "in the tall grass"),
        ("throw stones in the water", "watch the fish", "look for frogs"),
        water=True,
    ),
    _place(
        "pond",
        "by",
        ("near the water", "in the tall grass", "under a log", "behind a big rock"),
        ("feed the ducks", "look for frogs", "watch the fish"),
        water=True,
    ),
    _place(
        "hill",
        "on",
        ("behind a big rock", "in the grass", "under a tree"),
        ("roll down the hill", "look at the clouds", "run up and down"),
    ),
)
WATER_PLACES = tuple(p for p in PLACES if p.water)

# Favourite activities any character can have.
ANY_ACTS = _acts(
    "play outside",
    "run and jump",
    "play with friends",
    "laugh and play",
    "explore",
    "play games",
    "look at the clouds",
    "sing",
    forms="base",
)

# Words that only reach a story through metadata (the verb lemma in ``Words:``) are added
# where the metadata is chosen, see plots_en.
