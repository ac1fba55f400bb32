"""The text-level steps of `tinylm data clean`: each one a small function that either rewrites a
story (returns the new text) or judges it (returns why it should go, or None)."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from functools import lru_cache
from importlib import resources
from pathlib import Path

from tinylm.errors import TinylmError

HAN = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
# A word: one Han character (Chinese has no spaces; characters are the unit a child learns), or
# a run of letters from any other script with inner apostrophes ("didn't", "Lily's").
WORD_RE = re.compile(rf"[{HAN}]|[^\W\d_{HAN}]+(?:['’][^\W\d_{HAN}]+)*")
HAN_RE = re.compile(f"[{HAN}]")
LATIN_RE = re.compile(r"[A-Za-z\u00c0-\u024f]")

# Where a finished story may end: sentence punctuation, closing quotes and brackets, in English
# and Chinese typography.
TERMINALS = frozenset(".!?。！？…~～\"'”’»」』）)】*")
ENDINGS = ("the end",)  # TinyStories often closes with a bare "The End"

_DOUBLE_QUOTES = str.maketrans({c: '"' for c in "“”„‟″〃"})
_SINGLE_QUOTES = str.maketrans({c: "'" for c in "‘’‚‛′"})
# Spaces that look like ' ' but tokenize differently; U+3000 (ideographic space) is kept, it is
# proper Chinese typography. Zero-width characters are invisible noise.
_SPACES = str.maketrans(
    {
        **{c: " " for c in "\u00a0\u202f\u205f\t"},
        **{chr(c): " " for c in range(0x2000, 0x200B)},
        **{c: None for c in "\u200b\u200c\u200d\u2060\ufeff"},
    }
)
_TRAILING = re.compile(r"[ \t]+$", re.MULTILINE)
_INNER_SPACES = re.compile(r"(?<=\S) {2,}(?=\S)")
_BLANK_LINES = re.compile(r"\n{3,}")


# ASCII fast path: letters and apostrophes stay, everything else splits (3x faster than the regex).
_ASCII_WORD_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz'")
_ASCII_SPLIT = str.maketrans({chr(i): " " for i in range(128) if chr(i) not in _ASCII_WORD_CHARS})


def words(text: str) -> list[str]:
    """Lower-cased words (Han characters one by one), as used for vocabulary, dedup and length."""
    lowered = text.lower()
    if lowered.isascii():
        return [w.strip("'") for w in lowered.translate(_ASCII_SPLIT).split() if w.strip("'")]
    return WORD_RE.findall(lowered.replace("’", "'"))


def is_cjk(text: str, sample: int = 400) -> bool:
    """Mostly Han? Checked on a prefix: stories do not switch script halfway."""
    head = text[:sample]
    han = len(HAN_RE.findall(head))
    return han > 0 and han >= len(LATIN_RE.findall(head))


# -- rewriting steps ------------------------------------------------------------------------------


@lru_cache(maxsize=1)
def _ftfy_config():
    try:
        import ftfy
    except ImportError:
        raise TinylmError(
            "data clean needs ftfy, datasketch and opencc: pip install 'tinylm[clean]'"
        ) from None
    # Encoding repair only: quotes, widths, line breaks and normalisation are separate
    # switchable steps, so each change is counted under its own name.
    return ftfy, ftfy.TextFixerConfig(
        unescape_html=False,
        remove_terminal_escapes=False,
        fix_latin_ligatures=False,
        fix_character_width=False,
        uncurl_quotes=False,
        fix_line_breaks=False,
        remove_control_chars=False,
        normalization=None,
        explain=False,
    )


def fix_mojibake(text: str) -> str:
    if text.isascii():
        return text  # mojibake is non-ASCII by construction; skip the expensive check
    ftfy, config = _ftfy_config()
    return ftfy.fix_text(text, config)


def normalize_nfc(text: str) -> str:
    if text.isascii() or unicodedata.is_normalized("NFC", text):
        return text
    return unicodedata.normalize("NFC", text)


def normalize_whitespace(text: str) -> str:
    """One newline style, plain spaces, no trailing or doubled spaces, at most one blank line."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").translate(_SPACES)
    text = _TRAILING.sub("", text)
    text = _INNER_SPACES.sub(" ", text)
    return _BLANK_LINES.sub("\n\n", text).strip()


def straighten_quotes(text: str) -> str:
    """Curly quotes to ASCII ones, as in most of TinyStories V1. Chinese stories keep their
    “ ” (the standard there), so a mixed corpus stays consistent per language."""
    if text.isascii() or is_cjk(text):
        return text
    return text.translate(_DOUBLE_QUOTES).translate(_SINGLE_QUOTES)


@lru_cache(maxsize=1)
def _opencc():
    try:
        import opencc
    except ImportError:
        raise TinylmError(
            "data clean needs ftfy, datasketch and opencc: pip install 'tinylm[clean]'"
        ) from None
    return opencc.OpenCC("t2s")


def to_simplified(text: str) -> str:
    if text.isascii():
        return text
    return _opencc().convert(text)


# -- judging steps --------------------------------------------------------------------------------


def length_problem(
    text: str,
    min_chars: int,
    max_chars: int | None,
    min_words: int = 0,
    max_words: int | None = None,
) -> str | None:
    n = len(text)
    if n < min_chars:
        return f"{n} characters < {min_chars}"
    if max_chars is not None and n > max_chars:
        return f"{n:,} characters > {max_chars:,}"
    if min_words or max_words is not None:
        return word_count_problem(len(words(text)), min_words, max_words)
    return None


def word_count_problem(count: int, min_words: int, max_words: int | None) -> str | None:
    if count < min_words:
        return f"{count} words < {min_words}"
    if max_words is not None and count > max_words:
        return f"{count:,} words > {max_words:,}"
    return None


def incomplete_problem(text: str, closed: bool) -> str | None:
    if not closed:
        return "last story of a file cut short (no closing <|endoftext|>)"
    end = text.rstrip()
    if not end:
        return "empty"
    if end[-1] in TERMINALS or end.lower().endswith(ENDINGS):
        return None
    return f"ends mid-sentence: ...{end[-30:]!r}"


def script_filter(text: str, script: str, min_fraction: float) -> tuple[str, str | None]:
    """Drop lines written wholly in another script (an English line in a Chinese story), then
    judge the story by the share of its letters in `script`. Returns (text, problem)."""
    target = HAN_RE if script == "han" else LATIN_RE
    kept = []
    for line in text.split("\n"):
        letters = sum(1 for c in line if c.isalpha())
        if letters and not target.search(line):
            continue
        kept.append(line)
    new = "\n".join(kept).strip()
    letters = sum(1 for c in new if c.isalpha())
    if not letters:
        return new, f"no {script} text"
    share = len(target.findall(new)) / letters
    if share < min_fraction:
        return new, f"{share:.0%} of letters are {script} (< {min_fraction:.0%})"
    return new, None


def offensive_problem(text: str, word_list: OffensiveWords) -> str | None:
    hit = word_list.find(text)
    return f"contains '{hit}'" if hit else None


class OffensiveWords:
    """A replaceable block list: whole-word matches for spaced scripts, substring matches for
    entries in scripts without spaces (Chinese)."""

    def __init__(self, entries: Iterable[str]) -> None:
        spaced: set[str] = set()
        phrases: list[str] = []
        for entry in entries:
            entry = entry.strip().lower()
            if not entry or entry.startswith("#"):
                continue
            if HAN_RE.search(entry) or " " in entry:
                phrases.append(entry)
            else:
                spaced.add(entry)
        self.words = frozenset(spaced)
        self.phrases = tuple(phrases)

    @classmethod
    def load(cls, path: str | Path | None) -> OffensiveWords:
        if path is None:
            text = (
                resources.files("tinylm.data.clean")
                .joinpath("offensive_words.txt")
                .read_text(encoding="utf-8")
            )
        else:
            path = Path(path)
            if not path.is_file():
                raise TinylmError(f"offensive word list not found: {path}")
            text = path.read_text(encoding="utf-8")
        return cls(text.splitlines())

    def find(self, text: str) -> str | None:
        lowered = text.lower()
        for word in WORD_RE.findall(lowered):
            if word in self.words:
                return word
        for phrase in self.phrases:
            if phrase in lowered:
                return phrase
        return None

    def __len__(self) -> int:
        return len(self.words) + len(self.phrases)


def load_word_list(path: str | Path) -> frozenset[str]:
    """One word per line (`tinylm data synth --print-vocab` output works); '#' lines ignored."""
    path = Path(path)
    if not path.is_file():
        raise TinylmError(f"vocabulary file not found: {path}")
    entries = set()
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip().lower()
        if line and not line.startswith("#"):
            # A multi-character Chinese entry (一下午) contributes its characters, the unit
            # `words()` counts in.
            entries.update(words(line) if HAN_RE.search(line) else [line])
    if not entries:
        raise TinylmError(f"vocabulary file {path} lists no words")
    return frozenset(entries)


def first_difference(before: str, after: str, context: int = 30, span: int = 80) -> tuple[str, str]:
    """The first changed region with a little context, for showing a rewrite in the report."""
    start = 0
    limit = min(len(before), len(after))
    while start < limit and before[start] == after[start]:
        start += 1
    end_b, end_a = len(before), len(after)
    while end_b > start and end_a > start and before[end_b - 1] == after[end_a - 1]:
        end_b -= 1
        end_a -= 1
    lo = max(0, start - context)
    end_b = min(end_b + context, start + span)
    end_a = min(end_a + context, start + span)
    return before[lo:end_b], after[lo:end_a]
