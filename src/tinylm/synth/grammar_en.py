"""English agreement helpers: a/an, pronouns, verb and noun inflection.

Stories are assembled from word lists, so agreement cannot be typed into the templates; it is
decided here, once, when the lexicon and each story's context are built.
"""

from __future__ import annotations

from typing import NamedTuple

from .templates import words


class Pronouns(NamedTuple):
    he: str
    him: str
    his: str
    self: str


PRONOUNS: dict[str, Pronouns] = {
    "f": Pronouns("she", "her", "her", "herself"),
    "m": Pronouns("he", "him", "his", "himself"),
    "n": Pronouns("it", "it", "its", "itself"),
}

# Spelling-based a/an is wrong for these: "a unicorn", "an hour".
_A_DESPITE_VOWEL = ("uni", "use", "one", "eu")
_AN_DESPITE_CONSONANT = ("hour", "honest", "honor")


def article(phrase: str) -> str:
    """The indefinite article for a noun phrase, judged by how its first word sounds."""
    first = phrase.split(" ", 1)[0].lower()
    if first.startswith(_AN_DESPITE_CONSONANT):
        return "an"
    if first.startswith(_A_DESPITE_VOWEL):
        return "a"
    return "an" if first[:1] in "aeiou" else "a"


def a(phrase: str) -> str:
    """``phrase`` with its indefinite article: ``a("orange cat") == "an orange cat"``."""
    return f"{article(phrase)} {phrase}"


def cap(text: str) -> str:
    return text[:1].upper() + text[1:]


def possessive(name: str) -> str:
    return f"{name}'" if name.endswith("s") else f"{name}'s"


IRREGULAR_PAST: dict[str, str] = {
    "be": "was",
    "begin": "began",
    "bite": "bit",
    "blow": "blew",
    "break": "broke",
    "bring": "brought",
    "build": "built",
    "buy": "bought",
    "catch": "caught",
    "come": "came",
    "cut": "cut",
    "dig": "dug",
    "do": "did",
    "draw": "drew",
    "drink": "drank",
    "eat": "ate",
    "fall": "fell",
    "feed": "fed",
    "feel": "felt",
    "fight": "fought",
    "find": "found",
    "fly": "flew",
    "forget": "forgot",
    "get": "got",
    "give": "gave",
    "go": "went",
    "grow": "grew",
    "hang": "hung",
    "have": "had",
    "hear": "heard",
    "hide": "hid",
    "hit": "hit",
    "hold": "held",
    "hurt": "hurt",
    "keep": "kept",
    "know": "knew",
    "leave": "left",
    "let": "let",
    "light": "lit",
    "lose": "lost",
    "make": "made",
    "meet": "met",
    "put": "put",
    "read": "read",
    "ride": "rode",
    "ring": "rang",
    "run": "ran",
    "say": "said",
    "see": "saw",
    "sell": "sold",
    "send": "sent",
    "shake": "shook",
    "shine": "shone",
    "sing": "sang",
    "sit": "sat",
    "sleep": "slept",
    "slide": "slid",
    "speak": "spoke",
    "spin": "spun",
    "stand": "stood",
    "stick": "stuck",
    "sting": "stung",
    "sweep": "swept",
    "swim": "swam",
    "swing": "swung",
    "take": "took",
    "teach": "taught",
    "tear": "tore",
    "tell": "told",
    "think": "thought",
    "throw": "threw",
    "understand": "understood",
    "wake": "woke",
    "wear": "wore",
    "win": "won",
    "write": "wrote",
    "can": "could",
    "will": "would",
}
# Short verbs whose last consonant doubles before -ed/-ing ("stop" -> "stopped").
_DOUBLES = frozenset(
    words(
        "stop hop skip clap drop hug pat plan jog dig nap shop tap grab rub run swim sit get "
        "hit cut put let win begin spin chat trip wag hum nod pop step flap zip drip skid pet"
    )
)


def past(verb: str) -> str:
    """Simple past of a base verb."""
    if verb in IRREGULAR_PAST:
        return IRREGULAR_PAST[verb]
    if verb in _DOUBLES:
        return verb + verb[-1] + "ed"
    if verb.endswith("e"):
        return verb + "d"
    if verb.endswith("y") and verb[-2:-1] not in tuple("aeiou"):
        return verb[:-1] + "ied"
    return verb + "ed"


def ing(verb: str) -> str:
    """Present participle of a base verb."""
    if verb in ("be", "see", "flee", "agree"):
        return verb + "ing"
    if verb.endswith("ie"):
        return verb[:-2] + "ying"
    if verb in _DOUBLES:
        return verb + verb[-1] + "ing"
    if verb.endswith("e") and not verb.endswith(("ee", "oe", "ye")):
        return verb[:-1] + "ing"
    return verb + "ing"


def third(verb: str) -> str:
    """Third person singular present ("she runs")."""
    special = {"be": "is", "have": "has", "do": "does", "go": "goes", "can": "can"}
    if verb in special:
        return special[verb]
    if verb.endswith(("s", "sh", "ch", "x", "z", "o")):
        return verb + "es"
    if verb.endswith("y") and verb[-2:-1] not in tuple("aeiou"):
        return verb[:-1] + "ies"
    return verb + "s"


class VerbPhrase(NamedTuple):
    base: str  # "play on the swings"
    past: str  # "played on the swings"
    ing: str  # "playing on the swings"
    third: str  # "plays on the swings"
    head: str  # "play": the lemma, for Words: metadata


def vp(phrase: str) -> VerbPhrase:
    """Inflect a verb phrase on its first word: ``vp("go down the slide").past``."""
    head, _, rest = phrase.partition(" ")
    tail = f" {rest}" if rest else ""
    return VerbPhrase(phrase, past(head) + tail, ing(head) + tail, third(head) + tail, head)


IRREGULAR_PLURAL: dict[str, str] = {
    "mouse": "mice",
    "child": "children",
    "man": "men",
    "woman": "women",
    "foot": "feet",
    "tooth": "teeth",
    "sheep": "sheep",
    "fish": "fish",
    "leaf": "leaves",
    "wolf": "wolves",
    "deer": "deer",
    "goose": "geese",
    "person": "people",
    "scarf": "scarves",
}


def plural(noun: str) -> str:
    """Plural of a (possibly compound) noun; the last word carries the inflection."""
    head, _, last = noun.rpartition(" ")
    prefix = f"{head} " if head else ""
    if last in IRREGULAR_PLURAL:
        return prefix + IRREGULAR_PLURAL[last]
    if last.endswith(("s", "sh", "ch", "x", "z")):
        return prefix + last + "es"
    if last.endswith("y") and last[-2:-1] not in tuple("aeiou"):
        return prefix + last[:-1] + "ies"
    return prefix + last + "s"
