"""llama2.c's `tokenizer.bin`: uint32 max_token_length, then per id: float32 score, int32
length, bytes. Spaces are stored as ' ' (not '▁'), BOS as "\\n<s>\\n" and EOS as "\\n</s>\\n"
(llama2.c's tokenizer.py). The file does not record sentencepiece's normaliser flags; see
`load_tokenizer_bin` for how they are inferred. Prefer the `.model` file when you have it."""

from __future__ import annotations

import struct
from pathlib import Path

from tinylm.errors import TinylmError
from tinylm.interop.spm import (
    BYTE,
    CONTROL,
    NORMAL,
    SPACE,
    UNKNOWN,
    Piece,
    SpmSettings,
    build_tokenizer,
)
from tinylm.interop.vocab import BYTE_PIECE, spm_vocab
from tinylm.tokenizer import Tokenizer

BOS_PIECE, EOS_PIECE = "\n<s>\n", "\n</s>\n"


def read_tokenizer_bin(path: str | Path) -> list[tuple[bytes, float]]:
    path = Path(path)
    if not path.is_file():
        raise TinylmError(f"tokenizer file not found: {path}")
    data = path.read_bytes()
    if len(data) < 4:
        raise TinylmError(f"{path} is too short to be a llama2.c tokenizer.bin")
    (max_len,) = struct.unpack_from("<I", data)
    entries: list[tuple[bytes, float]] = []
    offset = 4
    while offset < len(data):
        if offset + 8 > len(data):
            raise TinylmError(f"{path} is truncated after {len(entries)} tokens")
        score, length = struct.unpack_from("<fi", data, offset)
        offset += 8
        if not 0 < length <= max_len or offset + length > len(data):
            raise TinylmError(
                f"{path} is not a llama2.c tokenizer.bin (token {len(entries)} claims "
                f"{length} bytes; longest allowed {max_len}) or it is truncated"
            )
        entries.append((data[offset : offset + length], score))
        offset += length
    if not entries:
        raise TinylmError(f"{path} holds no tokens")
    return entries


def tokenizer_bin_pieces(entries: list[tuple[bytes, float]], source: str) -> list[Piece]:
    pieces = []
    for i, (raw, score) in enumerate(entries):
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise TinylmError(
                f"{source}: token {i} is not valid UTF-8; not a llama2.c tokenizer.bin"
            ) from None
        if text == BOS_PIECE:
            pieces.append(Piece("<s>", score, CONTROL))
        elif text == EOS_PIECE:
            pieces.append(Piece("</s>", score, CONTROL))
        elif text == "<unk>":
            pieces.append(Piece(text, score, UNKNOWN))
        elif BYTE_PIECE.fullmatch(text):
            pieces.append(Piece(text, score, BYTE))
        else:
            pieces.append(Piece(text.replace(" ", SPACE), score, NORMAL))
    return pieces


def load_tokenizer_bin(path: str | Path) -> Tokenizer:
    pieces = tokenizer_bin_pieces(read_tokenizer_bin(path), str(path))
    # The file does not say whether sentencepiece squeezed repeated spaces. A tokenizer trained
    # on squeezed text cannot have learned a "▁▁" piece; Meta's Llama 2 tokenizer (which does
    # not squeeze) has many. Otherwise assume sentencepiece's default, which llama2.c's
    # train_vocab keeps: squeeze.
    squeezed = not any(SPACE * 2 in p.text for p in pieces if p.kind == NORMAL)
    settings = SpmSettings(add_dummy_prefix=True, remove_extra_whitespaces=squeezed)
    return Tokenizer(build_tokenizer(pieces, settings, str(path)), source=str(path))


def tokenizer_bin_bytes(tokenizer: Tokenizer, vocab_size: int) -> bytes:
    vocab = spm_vocab(tokenizer, vocab_size)
    entries: list[tuple[bytes, float]] = []
    for i, piece in enumerate(vocab.pieces):
        if i == vocab.bos_id:
            text = BOS_PIECE
        elif i == vocab.eos_id:
            text = EOS_PIECE
        elif piece.kind == NORMAL:
            text = piece.text.replace(SPACE, " ")
        else:
            text = piece.text
        entries.append((text.encode("utf-8"), piece.score))
    max_len = max(len(raw) for raw, _ in entries)
    out = [struct.pack("<I", max_len)]
    for raw, score in entries:
        out.append(struct.pack("<fi", score, len(raw)))
        out.append(raw)
    return b"".join(out)
