"""TinyStories-Instruct records: reading them, and the one prompt format tinylm trains on.

A record in the wild is a block of text between '<|endoftext|>' lines with labelled fields:

    Features: Dialogue, Twist
    Words: dog, run, happy
    Summary: Tom's dog runs away and comes back.
    Random sentence: The dog ran to the gate.
    Story:

    Tom had a dog...

The real dataset varies: fields come in any order, any of them may be missing, the summary may
follow the story, and 'Story:' is followed by a blank line. The reader accepts all of that. Every
record is then *rendered* in one canonical layout (`FIELD_ORDER`, fields one per line, 'Story: '
on its own line, the story right after it), and the same functions turn a record into tokens for
data preparation, fine-tuning, generation and evaluation, so the prompt a model sees at
generation time is, token for token, the prompt it was trained on.

Token layout of one example: BOS, prompt tokens, story tokens, EOS. The prompt and the story are
tokenized separately (a BPE merge across the boundary would make the training prompt differ
from the generation prompt), and the loss mask is 1 exactly on the story tokens and the EOS.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from tinylm.errors import TinylmError, did_you_mean

if TYPE_CHECKING:
    from tinylm.tokenizer import Tokenizer

# Canonical field order of the rendered prompt; the story always comes last.
FIELD_ORDER = ("features", "words", "summary", "sentence")
LABELS = {
    "features": "Features",
    "words": "Words",
    "summary": "Summary",
    "sentence": "Random sentence",
    "story": "Story",
}
# Named in meta.json of prepared data, so a later change of the layout is detectable.
PROMPT_FORMAT = "tinylm-instruct-1"
STORY_MARKER = "Story: \n"  # as in TinyStories-Instruct: label, a space, a line break
FEATURES = ("Dialogue", "BadEnding", "MoralValue", "Twist", "Foreshadowing", "Conflict")

_FIELD_LINE = re.compile(
    r"^(" + "|".join(re.escape(label) for label in LABELS.values()) + r"):[ \t]?(.*)$",
    re.IGNORECASE,
)
_BY_LABEL = {label.lower(): name for name, label in LABELS.items()}
_LIST_SPLIT = re.compile(r"[,，、]")


@dataclass(frozen=True)
class InstructRecord:
    """One instruction-tuning example; `story` is empty for a bare prompt."""

    story: str = ""
    words: tuple[str, ...] = ()
    features: tuple[str, ...] = ()
    summary: str | None = None
    sentence: str | None = None

    @property
    def has_instructions(self) -> bool:
        return bool(self.words or self.features or self.summary or self.sentence)


# -- the format -------------------------------------------------------------------------------


def render_prompt(record: InstructRecord) -> str:
    """The instruction part, ending where the story starts ('...\\nStory: \\n')."""
    lines = []
    for name in FIELD_ORDER:
        value = getattr(record, name)
        if isinstance(value, tuple):
            value = ", ".join(value)
        if value:
            lines.append(f"{LABELS[name]}: {value}")
    return "".join(line + "\n" for line in lines) + STORY_MARKER


def render_record(record: InstructRecord) -> str:
    """A whole record as text: the prompt followed by the story."""
    return render_prompt(record) + record.story


def make_record(
    words: Iterable[str] | str = (),
    features: Iterable[str] | str = (),
    summary: str | None = None,
    sentence: str | None = None,
    story: str = "",
) -> InstructRecord:
    """A record from user input: 'dog,ball' or ['dog', 'ball']; feature names are checked
    (case-insensitively) against `FEATURES`, with a suggestion for a typo."""
    word_list = split_list(words) if isinstance(words, str) else [w.strip() for w in words]
    feature_list = split_list(features) if isinstance(features, str) else list(features)
    checked = []
    for name in feature_list:
        name = name.strip()
        known = canonical_feature(name)
        if known is None:
            raise TinylmError(
                f"unknown story feature '{name}'{did_you_mean(name, FEATURES)}; "
                f"choose from {', '.join(FEATURES)}"
            )
        if known not in checked:
            checked.append(known)
    return InstructRecord(
        story=story,
        words=tuple(w for w in word_list if w),
        features=tuple(f for f in FEATURES if f in checked),
        summary=_clean(summary),
        sentence=_clean(sentence),
    )


def split_list(text: str) -> list[str]:
    """'dog, ball' -> ['dog', 'ball']; Chinese commas separate too."""
    return [item.strip() for item in _LIST_SPLIT.split(text) if item.strip()]


def canonical_feature(name: str) -> str | None:
    folded = name.replace(" ", "").lower()
    for feature in FEATURES:
        if feature.lower() == folded:
            return feature
    return None


def _clean(text: str | None) -> str | None:
    if text is None:
        return None
    text = " ".join(text.split())
    return text or None


# -- tokens -------------------------------------------------------------------------------------


def prompt_ids(tokenizer: Tokenizer, record: InstructRecord) -> list[int]:
    """BOS + the prompt: what generation feeds the model."""
    return tokenizer.encode(render_prompt(record), bos=True)


def encode_examples(
    tokenizer: Tokenizer,
    records: Sequence[InstructRecord],
) -> list[tuple[list[int], list[int]]]:
    """(ids, loss mask) per record: BOS + prompt (mask 0), story + EOS (mask 1)."""
    prompts = tokenizer.encode_batch([render_prompt(r) for r in records], bos=True)
    stories = tokenizer.encode_batch([r.story for r in records], eos=True)
    return [
        (prompt + story, [0] * len(prompt) + [1] * len(story))
        for prompt, story in zip(prompts, stories, strict=True)
    ]


# -- reading ------------------------------------------------------------------------------------


def parse_record(text: str) -> InstructRecord | None:
    """Parse one record; None when the text has no field labels at all (a plain story).

    Fields may come in any order. 'Story:' takes every following line up to the next field label
    (so a summary after the story is still a summary); any other field takes its own line plus
    continuation lines. Unlabelled text before the first label is the story when there is no
    'Story:' field."""
    values: dict[str, list[str]] = {}
    preamble: list[str] = []
    current: str | None = None
    for line in text.splitlines():
        match = _FIELD_LINE.match(line)
        if match:
            current = _BY_LABEL[match.group(1).lower()]
            values[current] = [match.group(2)]  # a repeated field: the last one counts
        elif current is None:
            preamble.append(line)
        else:
            values[current].append(line)
    if not values:
        return None
    story_lines = values.get("story", preamble)
    features = []
    for item in split_list(" ".join(values.get("features", []))):
        known = canonical_feature(item)
        features.append(known or item)  # keep features tinylm does not know, as written
    return InstructRecord(
        story="\n".join(story_lines).strip(),
        words=tuple(split_list(" ".join(values.get("words", [])))),
        features=tuple(dict.fromkeys(features)),
        summary=_clean(" ".join(values["summary"])) if "summary" in values else None,
        sentence=_clean(" ".join(values["sentence"])) if "sentence" in values else None,
    )


def _blocks(path: Path, field: str | None, column: str | None) -> Iterator[str]:
    from tinylm.data.readers import detect_format, read_separated, read_stories

    if detect_format(path) == "txt":
        return read_separated(path)
    return read_stories(path, field=field, column=column)


def read_instruct(
    path: str | Path, field: str | None = None, column: str | None = None
) -> Iterator[InstructRecord]:
    """Records of one file: a '<|endoftext|>'-separated txt file, or a jsonl/json/csv file whose
    text field holds whole records. Blocks without any field label become story-only records."""
    path = Path(path)
    if not path.is_file():
        raise TinylmError(f"input file not found: {path}")
    for block in _blocks(path, field, column):
        yield parse_record(block) or InstructRecord(story=block)


def looks_instruct(path: str | Path, field: str | None = None, column: str | None = None) -> bool:
    """True when most of the file's first records carry TinyStories-Instruct field labels."""
    from tinylm.data.readers import STORY_SEPARATOR, detect_format

    path = Path(path)
    if detect_format(path) == "txt":
        # Only the head: a plain corpus without separators must not be read whole.
        with open(path, "rb") as f:
            head = f.read(1 << 20).decode("utf-8", errors="ignore")
        blocks: Iterable[str] = [b for b in head.split(STORY_SEPARATOR)[:21] if b.strip()][:20]
    else:
        blocks = _blocks(path, field, column)
    seen = labelled = 0
    for block in blocks:
        seen += 1
        record = parse_record(block)
        labelled += record is not None and record.has_instructions
        if seen == 20:
            break
    return seen > 0 and labelled * 2 > seen
