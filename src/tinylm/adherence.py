"""How well a story follows its instructions (TinyStories-Instruct): words, features, summary.

Everything here is a cheap, transparent heuristic over the text, with no model in the loop, so
scores are exactly reproducible and comparable between runs:

- words: a requested word counts as used when any of its inflections appears as a whole word
  ("dog" ~ "dogs", "run" ~ "ran"/"running", "happy" ~ "happier"/"happily"); the irregular forms
  come from the story generator's grammar tables. Chinese has no inflection: the word must
  appear as written.
- features: one cue-phrase check per feature (see `FEATURE_CUES` and README "Instruction
  tuning"). Dialogue looks for a quoted utterance; BadEnding for a sad cue and no happy cue in
  the last two sentences; MoralValue for a stated lesson; Twist for a surprise marker;
  Foreshadowing for a warning or hint in the first half; Conflict for a quarrel or refusal.
- summary: ROUGE-L F1 (longest common subsequence of words; of characters in Chinese) between
  the story and the requested summary. A story is much longer than its summary, so recall
  (how much of the summary the story covers) is reported too.
- sentence: whether the requested sentence appears in the story (case, quotes and spacing
  ignored).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from tinylm.data.instruct import FEATURES, InstructRecord
from tinylm.synth.grammar_en import IRREGULAR_PAST, IRREGULAR_PLURAL

_HAN = re.compile(r"[\u3400-\u9fff]")
_EN_WORD = re.compile(r"[a-z]+")
_SENTENCE_END = {"en": re.compile(r"(?<=[.!?])[\"”']?\s+"), "zh": re.compile(r"(?<=[。！？])")}

IRREGULAR_PARTICIPLE = {
    "be": "been",
    "begin": "begun",
    "bite": "bitten",
    "blow": "blown",
    "break": "broken",
    "choose": "chosen",
    "do": "done",
    "draw": "drawn",
    "drink": "drunk",
    "drive": "driven",
    "eat": "eaten",
    "fall": "fallen",
    "fly": "flown",
    "forget": "forgotten",
    "freeze": "frozen",
    "give": "given",
    "go": "gone",
    "grow": "grown",
    "hide": "hidden",
    "know": "known",
    "ride": "ridden",
    "ring": "rung",
    "rise": "risen",
    "see": "seen",
    "shake": "shaken",
    "show": "shown",
    "sing": "sung",
    "speak": "spoken",
    "steal": "stolen",
    "swim": "swum",
    "take": "taken",
    "tear": "torn",
    "throw": "thrown",
    "wake": "woken",
    "wear": "worn",
    "write": "written",
}
# Forms the generator's tables do not cover: other irregular pasts, suppletive comparatives.
IRREGULAR_EXTRA = {
    "be": ("am", "is", "are", "was", "were"),
    "have": ("has", "had"),
    "choose": ("chose",),
    "drive": ("drove",),
    "freeze": ("froze",),
    "rise": ("rose",),
    "steal": ("stole",),
    "spend": ("spent",),
    "lend": ("lent",),
    "bend": ("bent",),
    "good": ("better", "best"),
    "bad": ("worse", "worst"),
    "far": ("farther", "further", "farthest", "furthest"),
    "little": ("less", "least"),
    "many": ("more", "most"),
    "much": ("more", "most"),
}

# Cue phrases per feature and language, matched as whole words (en) or substrings (zh).
FEATURE_CUES: dict[str, dict[str, tuple[str, ...]]] = {
    "MoralValue": {
        "en": (
            "learned",
            "learnt",
            "lesson",
            "moral",
            "remember to",
            "it is important",
            "it's important",
            "should always",
            "always be",
            "never again",
            "realized",
            "understood",
            "from then on",
            "from that day on",
        ),
        "zh": (
            "明白了",
            "学会了",
            "懂得",
            "道理",
            "从那以后",
            "下次",
        ),
    },
    "Twist": {
        "en": (
            "suddenly",
            "but then",
            "surprise",
            "surprised",
            "turned out",
            "all along",
            "to everyone's",
            "instead",
            "at all",
            "out came",
            "it was only",
            "it was just",
            "unexpected",
            "what a",
        ),
        "zh": ("突然", "原来", "没想到", "竟然", "想不到", "意外", "其实"),
    },
    "Foreshadowing": {
        "en": (
            "warned",
            "careful",
            "stay away",
            "had a feeling",
            "strange",
            "little did",
            "what if",
            "dark clouds",
            "surprise for you",
            "something",
            "do not",
            "don't",
        ),
        "zh": (
            "小心",
            "提醒",
            "奇怪",
            "不知道",
            "预感",
            "千万",
            "不要",
            "危险",
            "乌云",
        ),
    },
    "Conflict": {
        "en": (
            "argue",
            "argued",
            "fight",
            "fought",
            "angry",
            "mine",
            "grabbed",
            "refused",
            "would not share",
            "did not want to share",
            "didn't want to share",
            "both wanted",
            "not fair",
            "yelled",
            "took it",
        ),
        "zh": (
            "吵",
            "抢",
            "生气",
            "不肯",
            "争",
            "打架",
            "不让",
            "不给",
            "不行",
            "是我的",
            "偷",
        ),
    },
}
SAD_CUES = {
    "en": (
        "sad",
        "cried",
        "cry",
        "crying",
        "tears",
        "hurt",
        "lost",
        "never",
        "broken",
        "broke",
        "gone",
        "alone",
        "scared",
        "died",
        "angry",
        "upset",
        "nowhere",
        "could not",
        "couldn't",
        "no more",
        "lonely",
        "wished",
        "did not smile",
        "didn't smile",
    ),
    "zh": ("难过", "伤心", "哭", "再也没", "没有找到", "后悔", "疼", "孤单", "害怕", "生气"),
}
HAPPY_CUES = {
    "en": (
        "happy",
        "smiled",
        "smile",
        "laughed",
        "glad",
        "fun",
        "hug",
        "hugged",
        "love",
        "loved",
        "joy",
        "safe",
        "best friends",
        "happily",
    ),
    "zh": ("开心", "高兴", "笑", "快乐", "幸福", "好朋友"),
}
_QUOTED = {
    "en": re.compile(r"\"[^\"\n]*[A-Za-z][^\"\n]*\"|“[^”\n]*[A-Za-z][^”\n]*”"),
    "zh": re.compile(r"“[^”\n]+”|「[^」\n]+」|\"[^\"\n]+\""),
}


def text_lang(*texts: str) -> str:
    """'zh' when the text is mostly Han characters, else 'en'."""
    joined = "".join(texts)
    han = len(_HAN.findall(joined))
    letters = sum(ch.isalpha() for ch in joined)
    return "zh" if letters and han * 2 >= letters else "en"


def word_forms(word: str) -> frozenset[str]:
    """Inflections of an English word: plural, past, participles, -ing, third person,
    comparative, superlative, -ly adverb. Over-generating is harmless (a form that is not a
    word never appears in a story); missing one would under-count."""
    w = word.lower()
    forms = {w}
    if not w.isalpha():
        return frozenset(forms)
    last, double = w[-1], w + w[-1]
    forms |= {w + "s", w + "es", w + "ed", w + "d", w + "ing", double + "ed", double + "ing"}
    forms |= {w + "er", w + "est", w + "r", w + "st", double + "er", double + "est", w + "ly"}
    if last == "e":
        forms |= {w[:-1] + "ing", w[:-1] + "ly"}
    if w.endswith("ie"):
        forms.add(w[:-2] + "ying")
    if last == "y":
        stem = w[:-1]
        forms |= {stem + "ies", stem + "ied", stem + "ier", stem + "iest", stem + "ily"}
    if last == "f":
        forms.add(w[:-1] + "ves")
    if w.endswith("fe"):
        forms.add(w[:-2] + "ves")
    if w.endswith("le"):
        forms.add(w[:-1] + "y")  # gentle -> gently
    for table in (IRREGULAR_PAST, IRREGULAR_PLURAL, IRREGULAR_PARTICIPLE):
        if w in table:
            forms.add(table[w])
    forms.update(IRREGULAR_EXTRA.get(w, ()))
    return frozenset(forms)


def _en_words(text: str) -> list[str]:
    return _EN_WORD.findall(text.lower())


def word_used(word: str, story: str, lang: str | None = None) -> bool:
    """Whether `story` uses `word` (any inflection; a phrase word by word, its last word
    inflected)."""
    lang = lang or text_lang(word)
    if lang == "zh":
        return word.strip() in story
    parts = _en_words(word)
    if not parts:
        return False
    tokens = _en_words(story)
    head, last = parts[:-1], word_forms(parts[-1])
    n = len(head)
    return any(tokens[i + n] in last and tokens[i : i + n] == head for i in range(len(tokens) - n))


def _count_cues(text: str, cues: Iterable[str], lang: str) -> int:
    """How many of `cues` occur in `text` (whole words and phrases in English)."""
    if lang == "zh":
        return sum(cue in text for cue in cues)
    lowered = " ".join(re.findall(r"[a-z']+|[!?]", text.lower().replace("’", "'")))
    lowered = re.sub(r" ([!?])", r"\1", lowered)
    return sum(bool(re.search(rf"(?<![a-z']){re.escape(cue)}(?![a-z'])", lowered)) for cue in cues)


def _has_cue(text: str, cues: Iterable[str], lang: str) -> bool:
    return _count_cues(text, cues, lang) > 0


def sentences(text: str, lang: str) -> list[str]:
    return [s.strip() for s in _SENTENCE_END[lang].split(text) if s.strip()]


def has_feature(feature: str, story: str, lang: str | None = None) -> bool:
    """The heuristic check for one feature (see the module docstring)."""
    lang = lang or text_lang(story)
    if feature == "Dialogue":
        return bool(_QUOTED[lang].search(story))
    if feature == "BadEnding":
        # "gave her a hug, but she was sad": a sad cue wins a tie with a happy one.
        ending = " ".join(sentences(story, lang)[-2:])
        sad = _count_cues(ending, SAD_CUES[lang], lang)
        return sad > 0 and sad >= _count_cues(ending, HAPPY_CUES[lang], lang)
    if feature == "Foreshadowing":
        return _has_cue(story[: max(1, len(story) // 2)], FEATURE_CUES[feature][lang], lang)
    if feature in FEATURE_CUES:
        return _has_cue(story, FEATURE_CUES[feature][lang], lang)
    raise ValueError(f"no check for feature {feature!r}")


def units(text: str, lang: str) -> list[str]:
    if lang == "zh":
        return [ch for ch in text if _HAN.match(ch) or ch.isalnum()]
    return _en_words(text)


def _lcs(a: list[str], b: list[str]) -> int:
    previous = [0] * (len(b) + 1)
    for x in a:
        current = [0]
        for j, y in enumerate(b):
            current.append(previous[j] + 1 if x == y else max(previous[j + 1], current[j]))
        previous = current
    return previous[-1]


def rouge_l(candidate: str, reference: str, lang: str | None = None) -> tuple[float, float]:
    """(F1, recall) of ROUGE-L between a candidate text and a reference."""
    lang = lang or text_lang(reference)
    cand, ref = units(candidate, lang), units(reference, lang)
    if not cand or not ref:
        return 0.0, 0.0
    lcs = _lcs(cand, ref)
    if lcs == 0:
        return 0.0, 0.0
    precision, recall = lcs / len(cand), lcs / len(ref)
    return 2 * precision * recall / (precision + recall), recall


def _normal(text: str) -> str:
    return " ".join(re.sub(r"[\"'“”‘’「」]", "", text).lower().split())


@dataclass
class Adherence:
    """Scores of one story against the record that asked for it (None: not requested)."""

    words: dict[str, bool] = field(default_factory=dict)
    features: dict[str, bool] = field(default_factory=dict)
    summary_f1: float | None = None
    summary_recall: float | None = None
    sentence: bool | None = None

    @property
    def words_share(self) -> float | None:
        return sum(self.words.values()) / len(self.words) if self.words else None


def score(record: InstructRecord, story: str, lang: str | None = None) -> Adherence:
    """Check `story` against the instructions of `record`."""
    lang = lang or text_lang(" ".join(record.words), record.summary or "", story)
    result = Adherence()
    result.words = {w: word_used(w, story, lang) for w in record.words}
    result.features = {f: has_feature(f, story, lang) for f in record.features if f in FEATURES}
    if record.summary:
        result.summary_f1, result.summary_recall = rouge_l(story, record.summary, lang)
    if record.sentence:
        result.sentence = _normal(record.sentence) in _normal(story)
    return result
