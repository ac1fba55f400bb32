"""Public API of the story generator: seeding, story records, corpus files, vocabulary.

Story ``index`` of ``seed`` is written by a ``random.Random`` seeded from a BLAKE2 hash of
(language, seed, index).  Nothing else feeds the generator, so any story can be produced on its
own, in any order, in any process, on any machine, with the same text every time.
"""

from __future__ import annotations

import hashlib
import importlib
import os
import random
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Literal

from tinylm.data.instruct import FEATURES, FIELD_ORDER, InstructRecord, render_record
from tinylm.data.readers import story_record
from tinylm.fileio import atomic_open

from .templates import Draft

Lang = Literal["en", "zh"]
LANGUAGES: tuple[str, ...] = ("en", "zh")
# Chance that an instruct record shows each of its instruction fields: TinyStories-Instruct
# gives every story a random subset, so a model learns to follow any combination of them.
INSTRUCT_KEEP = 0.75

_PLOTS = {"en": "tinylm.synth.plots_en", "zh": "tinylm.synth.plots_zh"}
_QUOTE = {"en": '"', "zh": "“"}
# Sentence boundaries inside one rendered unit, for the "Random sentence:" field.
_SPLIT = {"en": re.compile(r"(?<=[.!?])\s+(?=[A-Z])"), "zh": re.compile(r"(?<=[。！？])")}


@dataclass(frozen=True)
class SynthStory:
    """One generated story and what the generator knows about it (TinyStories-Instruct)."""

    text: str  # paragraphs separated by "\n", no trailing whitespace
    words: tuple[str, str, str]  # noun, verb (base form), adjective that appear in the story
    features: tuple[str, ...]  # subset of FEATURES, in FEATURES order
    summary: str
    sentence: str  # one sentence copied from text


def _lang(lang: object) -> str:
    if lang not in LANGUAGES:
        raise ValueError(f"unknown language {lang!r}; expected one of {', '.join(LANGUAGES)}")
    return str(lang)


def _int(name: str, value: object, minimum: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{name} must be an integer, got {value!r}")
    if minimum is not None and value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return value


def _plots(lang: str) -> ModuleType:
    # Imported on first use: compiling a language's templates costs a little import time.
    return importlib.import_module(_PLOTS[lang])


def story_rng(lang: str, seed: int, index: int) -> random.Random:
    """The generator for story ``index`` of ``seed``: a stable hash, never Python's salted
    ``hash()``, so the stream is identical across processes and machines."""
    key = f"tinylm.synth/{lang}/{seed}/{index}".encode()
    digest = hashlib.blake2b(key, digest_size=16).digest()
    return random.Random(int.from_bytes(digest, "big"))


def _pick_sentence(rng: random.Random, lang: str, draft: Draft) -> str:
    units = [u for p in draft.paras for u in p]
    quote = _QUOTE[lang]
    plain = [u for u in units if quote not in u] or units
    unit = rng.choice(plain)
    if quote in unit:
        return unit
    parts = [s.strip() for s in _SPLIT[lang].split(unit) if s.strip()]
    # prefer a real sentence to an exclamation such as "Crack!"
    full = [p for p in parts if len(p) >= (16 if lang == "en" else 6)] or parts
    return rng.choice(full) if full else unit


def _make(lang: str, plots: ModuleType, rng: random.Random) -> tuple[SynthStory, Draft]:
    draft, text, words = plots.compose(rng)
    # Dialogue is read off the text itself, so the flag cannot disagree with the story.
    flags = draft.flags | {"Dialogue"} if _QUOTE[lang] in text else draft.flags
    story = SynthStory(
        text=text,
        words=words,
        features=tuple(f for f in FEATURES if f in flags),
        summary=draft.summary,
        sentence=_pick_sentence(rng, lang, draft),
    )
    return story, draft


def compose(lang: str, seed: int, index: int) -> tuple[SynthStory, Draft]:
    """The story plus the generator's working record (arc name, cast genders), for tests and
    tools that want to look behind the text."""
    lang = _lang(lang)
    seed = _int("seed", seed)
    index = _int("index", index, 0)
    return _make(lang, _plots(lang), story_rng(lang, seed, index))


def generate_story(lang: Lang, seed: int, index: int) -> SynthStory:
    """Story number ``index`` (>= 0) of the stream ``seed``, in ``lang``."""
    return compose(lang, seed, index)[0]


def generate_stories(lang: Lang, n: int, seed: int = 0, start: int = 0) -> Iterator[SynthStory]:
    """Stories ``start .. start+n-1`` of the stream ``seed``; each is independent of the rest."""
    lang_ = _lang(lang)
    n = _int("n", n, 0)
    seed = _int("seed", seed)
    start = _int("start", start, 0)
    plots = _plots(lang_)

    # Arguments are checked above, eagerly; only the stories themselves are lazy.
    def run() -> Iterator[SynthStory]:
        for index in range(start, start + n):
            yield _make(lang_, plots, story_rng(lang_, seed, index))[0]

    return run()


def vocabulary(lang: Lang) -> list[str]:
    """Every word the generator can emit in ``lang``, sorted.

    English: lower-cased word forms as found by ``[a-z]+(?:'[a-z]+)?`` (so inflections such as
    "ran" and "dogs", contractions such as "don't" and possessives such as "lily's" are entries
    of their own).  Chinese: the word units (词) the templates and the lexicon are written in;
    punctuation is not included.  Both cover story text, summaries and the Words: field.
    """
    lang = _lang(lang)
    return sorted(_plots(lang).BOOK.words())


def write_corpus(
    path: str | os.PathLike[str],
    lang: Lang,
    n: int,
    seed: int = 0,
    progress: Callable[[int], object] | None = None,
    instruct: bool = False,
) -> int:
    """Write n stories in the TinyStories text format: each story followed by a line
    '<|endoftext|>' (exactly how TinyStories-train.txt is laid out: story text, newline,
    '<|endoftext|>', newline; `story_record`), whole or not at all. `progress`, if given, is a
    callable(advance: int) called as stories are written. Returns bytes written.

    With `instruct`, each story is a TinyStories-Instruct record instead (`format_instruct`)
    showing a random subset of its instruction fields (`instruct_fields`)."""
    lang_ = _lang(lang)
    n = _int("n", n, 0)
    seed = _int("seed", seed)
    target = Path(path)
    if target.is_dir():
        raise ValueError(f"output path is a directory: {target}")
    written = 0
    chunk = 512  # stories per write and per progress call
    # Under a temp name, renamed into place: an interrupted run never leaves a half file.
    with atomic_open(target, "wb") as fh:
        batch: list[str] = []
        for index, record in enumerate(corpus_records(lang_, n, seed, instruct)):
            batch.append(record)
            if len(batch) == chunk or index == n - 1:
                data = "".join(batch).encode("utf-8")
                fh.write(data)
                written += len(data)
                if progress is not None:
                    progress(len(batch))
                batch.clear()
    return written


def corpus_records(lang: Lang, n: int, seed: int = 0, instruct: bool = False) -> Iterator[str]:
    """The records `write_corpus` writes, one story (or instruct record) each."""
    lang_ = _lang(lang)
    for index, story in enumerate(generate_stories(lang_, n, seed)):  # type: ignore[arg-type]
        if instruct:
            fields = instruct_fields(lang_, seed, index)
            text = format_instruct(story, lang_, fields)  # type: ignore[arg-type]
        else:
            text = story.text
        yield story_record(text)


def estimate_corpus_bytes(lang: Lang, n: int, seed: int = 0, instruct: bool = False) -> int:
    """About how many bytes `write_corpus` writes for n stories, from the first 256."""
    sample = min(n, 256)
    if not sample:
        return 0
    size = sum(len(r.encode("utf-8")) for r in corpus_records(lang, sample, seed, instruct))
    return size * n // sample


def instruct_fields(lang: Lang, seed: int, index: int) -> tuple[str, ...]:
    """The instruction fields record ``index`` of ``seed`` shows: each of features, words,
    summary and sentence with probability INSTRUCT_KEEP, from a stream of its own so the story
    text does not change."""
    key = f"tinylm.synth/instruct/{_lang(lang)}/{seed}/{index}".encode()
    rng = random.Random(int.from_bytes(hashlib.blake2b(key, digest_size=16).digest(), "big"))
    return tuple(name for name in FIELD_ORDER if rng.random() < INSTRUCT_KEEP)


def format_instruct(story: SynthStory, lang: Lang, fields: tuple[str, ...] | None = None) -> str:
    """TinyStories-Instruct record: 'Features: Dialogue, Twist\\nWords: dog, run, happy\\n
    Summary: ...\\nRandom sentence: ...\\nStory: \\n<text>' (English field names for both
    languages, as the Chinese instruct datasets keep them).  A story without features has no
    Features line, as in TinyStories-Instruct.  `fields` (names from
    ``tinylm.data.instruct.FIELD_ORDER``) limits the instructions shown; the layout itself is
    tinylm's one instruct format, ``tinylm.data.instruct.render_record``."""
    _lang(lang)
    if not isinstance(story, SynthStory):
        raise ValueError(f"expected a SynthStory, got {type(story).__name__}")
    shown = FIELD_ORDER if fields is None else fields
    unknown = [name for name in shown if name not in FIELD_ORDER]
    if unknown:
        raise ValueError(f"unknown instruct field {unknown[0]!r}; expected {FIELD_ORDER}")
    record = InstructRecord(
        story=story.text,
        words=story.words if "words" in shown else (),
        features=story.features if "features" in shown else (),
        summary=story.summary if "summary" in shown else None,
        sentence=story.sentence if "sentence" in shown else None,
    )
    return render_record(record)
