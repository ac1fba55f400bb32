"""Byte-fallback BPE tokenizers (HF `tokenizers`), trained on the user's own text.

Layout follows Llama/sentencepiece so files exchange cleanly with llama2.c and transformers:
id 0 `<unk>`, 1 `<s>` (BOS), 2 `</s>` (EOS), 3..258 the byte tokens `<0x00>`..`<0xFF>`,
259 `<pad>`, then learned merges. llama2.c's C encoder hard-codes bytes at id = byte + 3.

No normaliser and a GPT-2 style split that keeps the space in front of a word, so every string
(Chinese, emoji, runs of spaces, newlines) decodes back to exactly itself and text comes out
formatted as written: no spaces between tokens, capitals kept.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Iterable, Iterator
from pathlib import Path

from tokenizers import Regex, decoders, models, pre_tokenizers, processors, trainers
from tokenizers import Tokenizer as HFTokenizer

from tinylm.errors import TinylmError

UNK, BOS, EOS, PAD = "<unk>", "<s>", "</s>", "<pad>"
SPECIAL_TOKENS = (UNK, BOS, EOS, PAD)
BYTE_TOKENS = tuple(f"<0x{b:02X}>" for b in range(256))
# Ids taken before any learned token: 3 specials, 256 bytes, <pad>.
RESERVED = len(SPECIAL_TOKENS) + len(BYTE_TOKENS)
BYTE_OFFSET = 3  # id of <0x00>
# The largest vocabulary tinylm trains: 4x Gemma's. Asking the trainer for a billion made it
# allocate tens of GB and abort.
MAX_VOCAB = 1 << 20
MIN_VOCAB = RESERVED + 16

# GPT-2's split: contractions, an optional space glued to the following word / number / symbol
# run, and whitespace runs. \p{L}+ keeps Han runs whole so BPE can learn multi-character words.
SPLIT_PATTERN = r"'(?:[sdmt]|ll|ve|re)| ?\p{L}+| ?\p{N}| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"

BOS_NAMES = ("<s>", "<|begin_of_text|>", "<bos>", "<|bos|>", "[BOS]")
EOS_NAMES = ("</s>", "<|endoftext|>", "<|end_of_text|>", "<eos>", "<|eos|>", "[EOS]")
PAD_NAMES = ("<pad>", "<|pad|>", "[PAD]")


class Tokenizer:
    """A thin wrapper that knows the special ids and never adds tokens behind the caller's back."""

    def __init__(self, hf: HFTokenizer, source: str = "<memory>") -> None:
        self.hf = hf
        # "<s>" typed in a prompt or found in a story is text, not a control token; otherwise
        # decode(encode(s)) == s would fail for such strings. (Runtime flag, not serialized:
        # transformers keeps its own convention of parsing them.)
        hf.encode_special_tokens = True
        self.source = source
        vocab = hf.get_vocab(with_added_tokens=True)
        self.vocab_size = hf.get_vocab_size(with_added_tokens=True)
        self.bos_id = _first_id(vocab, BOS_NAMES)
        self.eos_id = _first_id(vocab, EOS_NAMES)
        self.pad_id = _first_id(vocab, PAD_NAMES)
        byte_ids = [vocab.get(piece) for piece in BYTE_TOKENS]
        # All 256 or nothing: a partial byte table cannot spell arbitrary text anyway.
        self.byte_ids: list[int] | None = None if None in byte_ids else byte_ids  # type: ignore[assignment]
        if self.eos_id is None:
            raise TinylmError(
                f"tokenizer {source} has no end-of-story token (one of {', '.join(EOS_NAMES)}); "
                "train one with `tinylm tokenizer train`"
            )
        # The byte tokenizer's ids are just byte + 3: encode them without the BPE machinery
        # (~30x faster data preparation for byte-level models, same ids).
        self.bytes_only = self.vocab_size == RESERVED and self.sha256() == _byte_tokenizer_sha256()

    @property
    def kind(self) -> str:
        """What a person calls it: 'bytes', or the algorithm and its size ('BPE 1024')."""
        if self.bytes_only:
            return "bytes"
        return f"{type(self.hf.model).__name__} {self.vocab_size}"

    @property
    def language(self) -> str:
        """'zh' when a fifth of the vocabulary holds Han characters, else 'en': which sample
        prompt and which built-in prompts suit a model of this tokenizer."""
        vocab = self.hf.get_vocab()
        han = sum(1 for piece in vocab if any("\u4e00" <= ch <= "\u9fff" for ch in piece))
        return "zh" if han > len(vocab) * 0.2 else "en"

    @classmethod
    def load(cls, path: str | Path) -> Tokenizer:
        path = Path(path)
        if not path.is_file():
            raise TinylmError(f"tokenizer file not found: {path}")
        if path.suffix in (".model", ".bin"):
            raise TinylmError(
                f"{path} is not a tokenizer.json; a sentencepiece .model or a llama2.c "
                "tokenizer.bin is read by tinylm.interop.tokenizer_files.load_tokenizer_file"
            )
        try:
            hf = HFTokenizer.from_file(str(path))
        except Exception as exc:  # the Rust side raises a bare Exception with a parse message
            raise TinylmError(
                f"{path} is not a Hugging Face tokenizer.json ({str(exc).splitlines()[0]}); "
                "train one with `tinylm tokenizer train`"
            ) from None
        return cls(hf, source=str(path))

    def save(self, path: str | Path) -> None:
        from tinylm.fileio import atomic_write_text

        atomic_write_text(path, self.hf.to_str(pretty=True))

    def encode(self, text: str, bos: bool = False, eos: bool = False) -> list[int]:
        if self.bytes_only:
            return self._wrap([b + BYTE_OFFSET for b in text.encode("utf-8")], bos, eos)
        ids = self.hf.encode(text, add_special_tokens=False).ids
        return self._wrap(ids, bos, eos)

    def encode_batch(
        self, texts: list[str], bos: bool = False, eos: bool = False
    ) -> list[list[int]]:
        if self.bytes_only:
            return [self.encode(text, bos, eos) for text in texts]
        # Rust-parallel over the batch: this is where data preparation spends its time.
        encodings = self.hf.encode_batch(texts, add_special_tokens=False)
        return [self._wrap(e.ids, bos, eos) for e in encodings]

    def _wrap(self, ids: list[int], bos: bool, eos: bool) -> list[int]:
        if bos and self.bos_id is not None:
            ids = [self.bos_id, *ids]
        if eos:
            ids = [*ids, self.eos_id]
        return ids

    def decode(self, ids: Iterable[int]) -> str:
        """Decode text tokens; BOS/EOS/PAD ids are dropped, everything else is kept verbatim."""
        skip = {self.bos_id, self.eos_id, self.pad_id}
        return self.hf.decode([i for i in ids if i not in skip], skip_special_tokens=False)

    def sha256(self) -> str:
        return hashlib.sha256(self.hf.to_str().encode("utf-8")).hexdigest()


def _first_id(vocab: dict[str, int], names: tuple[str, ...]) -> int | None:
    for name in names:
        if name in vocab:
            return vocab[name]
    return None


class StreamDecoder:
    """Turns a growing list of ids into text increments for streaming to a terminal.

    Decoding the whole sequence each time (not token by token) is what keeps multi-byte
    characters split across byte-fallback tokens intact; a trailing U+FFFD means the character
    is not complete yet, so it is held back until the next token arrives.

    `prefix` (the prompt's ids) is decoded along with the new ids and its text left out of the
    output: sentencepiece decoders strip the first space of a decode, so a continuation decoded
    on its own would lose the space between the prompt and its first word.
    """

    def __init__(self, tokenizer: Tokenizer, prefix: Iterable[int] = ()) -> None:
        self.tokenizer = tokenizer
        self.ids: list[int] = list(prefix)
        self.emitted = len(tokenizer.decode(self.ids)) if self.ids else 0

    def push(self, token_id: int) -> str:
        self.ids.append(token_id)
        text = self.tokenizer.decode(self.ids)
        if text.endswith("\ufffd"):
            return ""
        new = text[self.emitted :]
        self.emitted = len(text)
        return new

    def flush(self) -> str:
        """The rest, at the end of a generation. A character cut off by the token limit (a lead
        byte whose continuation bytes never came) is left out rather than printed as U+FFFD."""
        ids = self.ids[: len(self.ids) - _incomplete_utf8_tail(self.ids, self.tokenizer)]
        text = self.tokenizer.decode(ids)
        new = text[self.emitted :]
        self.emitted = max(self.emitted, len(text))
        return new


def _incomplete_utf8_tail(ids: list[int], tokenizer: Tokenizer) -> int:
    """How many trailing byte tokens of `ids` start a UTF-8 character they do not finish."""
    if not tokenizer.byte_ids:
        return 0
    byte_of = {token: value for value, token in enumerate(tokenizer.byte_ids)}
    tail: list[int] = []
    for token in reversed(ids[-4:]):
        if token not in byte_of:
            break
        tail.insert(0, byte_of[token])
    for i in range(len(tail) - 1, -1, -1):
        lead = tail[i]
        if lead & 0xC0 == 0x80:  # a continuation byte: the lead is further back
            continue
        length = 1 if lead < 0x80 else 2 if lead >> 5 == 0b110 else 3 if lead >> 4 == 0b1110 else 4
        have = len(tail) - i
        return have if have < length else 0
    return 0


def _empty_bpe_tokenizer(vocab: dict[str, int], merges: list[tuple[str, str]]) -> HFTokenizer:
    tok = HFTokenizer(models.BPE(vocab=vocab, merges=merges, unk_token=UNK, byte_fallback=True))
    tok.pre_tokenizer = pre_tokenizers.Split(Regex(SPLIT_PATTERN), behavior="isolated")
    tok.decoder = decoders.Sequence([decoders.ByteFallback(), decoders.Fuse()])
    tok.add_special_tokens(list(SPECIAL_TOKENS))
    # BOS in front when a library encodes with special tokens (transformers' pipeline does),
    # matching the BOS that starts every story in the training data.
    tok.post_processor = processors.TemplateProcessing(
        single=f"{BOS} $A", pair=f"{BOS} $A {BOS} $B", special_tokens=[(BOS, 1)]
    )
    return tok


def _reserved_vocab() -> dict[str, int]:
    """The ids every tinylm tokenizer starts with: <unk> <s> </s>, the 256 bytes, <pad>."""
    vocab: dict[str, int] = {UNK: 0, BOS: 1, EOS: 2}
    for piece in BYTE_TOKENS:
        vocab[piece] = len(vocab)
    vocab[PAD] = len(vocab)
    return vocab


def byte_tokenizer() -> Tokenizer:
    """The byte-level "tokenizer" (vocab 260): our usual layout with zero learned merges, so
    every character falls back to its UTF-8 bytes (id = byte + 3). Byte-level models such as
    megabyte then use the same shards, run files, decoders and UTF-8 guard as every other."""
    return Tokenizer(_empty_bpe_tokenizer(_reserved_vocab(), []))


@functools.cache
def _byte_tokenizer_sha256() -> str:
    hf = _empty_bpe_tokenizer(_reserved_vocab(), [])
    return hashlib.sha256(hf.to_str().encode("utf-8")).hexdigest()


def train_tokenizer(
    texts: Iterable[str], vocab_size: int, length: int | None = None, show_progress: bool = True
) -> Tokenizer:
    """Train a byte-fallback BPE tokenizer of exactly `vocab_size` ids (fewer only if the text
    has too few distinct pairs to fill it)."""
    if not MIN_VOCAB <= vocab_size <= MAX_VOCAB:
        raise TinylmError(
            f"--vocab-size must be at least {MIN_VOCAB} (256 byte tokens + specials) and at "
            f"most {MAX_VOCAB:,}, got {vocab_size:,}"
        )
    learned = vocab_size - len(BYTE_TOKENS)
    # Rare characters fall back to bytes instead of crowding out merges; half the learned slots
    # at most go to single characters (Chinese needs many, English needs ~100), and never more
    # than there are slots: the alphabet is added whole, so a larger one overshot the size asked
    # for (300 gave 314 tokens).
    room = learned - len(SPECIAL_TOKENS)
    limit_alphabet = min(room, max(64, room // 2))
    trainer = trainers.BpeTrainer(
        vocab_size=learned,
        min_frequency=2,
        special_tokens=list(SPECIAL_TOKENS),
        limit_alphabet=limit_alphabet,
        show_progress=show_progress,
    )
    base = HFTokenizer(models.BPE(unk_token=UNK, byte_fallback=True))
    base.pre_tokenizer = pre_tokenizers.Split(Regex(SPLIT_PATTERN), behavior="isolated")
    counted = _CountingIterator(texts)
    base.train_from_iterator(counted, trainer=trainer, length=length)
    if counted.count == 0 or counted.chars == 0:
        raise TinylmError("no text to train the tokenizer on: the input holds no stories")

    import json

    trained = json.loads(base.to_str())["model"]
    trained_vocab: dict[str, int] = trained["vocab"]
    merges = [tuple(m.split(" ", 1)) if isinstance(m, str) else tuple(m) for m in trained["merges"]]

    vocab = _reserved_vocab()
    for piece, _ in sorted(trained_vocab.items(), key=lambda kv: kv[1]):
        if piece not in vocab:
            vocab[piece] = len(vocab)
    return Tokenizer(_empty_bpe_tokenizer(vocab, merges))


class _CountingIterator(Iterator[str]):
    """Counts what the trainer consumed so an empty corpus is reported, not silently accepted."""

    def __init__(self, texts: Iterable[str]) -> None:
        self._it = iter(texts)
        self.count = 0
        self.chars = 0

    def __next__(self) -> str:
        text = next(self._it)
        self.count += 1
        self.chars += len(text)
        return text
