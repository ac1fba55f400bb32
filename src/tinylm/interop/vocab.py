"""Any tokenizer seen the way sentencepiece, llama2.c and llama.cpp see one: a list of pieces
with a score and a type per id.

Two kinds of tokenizer reach this: sentencepiece-style ones (converted from a `.model`, or a Llama
tokenizer.json), whose pieces spell spaces as `▁` and whose encoder puts a dummy `▁` in front of
the text; and tinylm's own byte-fallback BPE, whose pieces hold real spaces and which adds
nothing. Both come out with `▁` for spaces and `add_space_prefix` saying which kind it was.

Scores: sentencepiece BPE gives the n-th learned piece the score -n, and llama2.c / llama.cpp
merge the adjacent pair with the best score; ids follow the merge order in both kinds, so -rank
by id reproduces the original scores of a sentencepiece model exactly.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from tinylm.interop.spm import BYTE, CONTROL, NORMAL, SPACE, UNKNOWN, UNUSED, USER_DEFINED, Piece
from tinylm.tokenizer import Tokenizer

BYTE_PIECE = re.compile(r"<0x[0-9A-F]{2}>")


@dataclass
class SpmVocab:
    pieces: list[Piece]  # one per model id (padded with unused pieces past the tokenizer)
    add_space_prefix: bool
    bos_id: int | None
    eos_id: int | None
    unk_id: int | None
    pad_id: int | None


def _nodes(tree: Any) -> list[dict[str, Any]]:
    """Every JSON object in a tokenizer.json subtree (normalizers and decoders nest)."""
    if isinstance(tree, dict):
        return [tree, *(n for value in tree.values() for n in _nodes(value))]
    if isinstance(tree, list):
        return [n for item in tree for n in _nodes(item)]
    return []


def spm_vocab(tokenizer: Tokenizer, vocab_size: int) -> SpmVocab:
    spec = json.loads(tokenizer.hf.to_str())
    pipeline = _nodes([spec.get("normalizer"), spec.get("pre_tokenizer"), spec.get("decoder")])
    metaspace = any(
        node.get("type") == "Metaspace" or SPACE in (node.get("content"), node.get("prepend"))
        for node in pipeline
    )
    add_prefix = any(
        (node.get("type") == "Prepend" and node.get("prepend") == SPACE)
        or (
            node.get("type") == "Metaspace"
            and (node.get("prepend_scheme") in ("always", "first") or node.get("add_prefix_space"))
        )
        for node in pipeline
    )
    added = {t["id"]: t for t in spec.get("added_tokens", [])}
    unk_token = (spec.get("model") or {}).get("unk_token")
    byte_ids = set(tokenizer.byte_ids or ())
    pieces: list[Piece] = []
    rank = 0
    unk_id = None
    for i in range(vocab_size):
        text = tokenizer.hf.id_to_token(i) if i < tokenizer.vocab_size else None
        if text is None:
            pieces.append(Piece(f"<unused{i}>", 0.0, UNUSED))
        elif text == unk_token:
            unk_id = i
            pieces.append(Piece(text, 0.0, UNKNOWN))
        elif i in added:
            kind = CONTROL if added[i].get("special") else USER_DEFINED
            pieces.append(Piece(text, 0.0, kind))
        elif i in byte_ids and BYTE_PIECE.fullmatch(text):
            pieces.append(Piece(text, 0.0, BYTE))
        else:
            spelled = text if metaspace else text.replace(" ", SPACE)
            pieces.append(Piece(spelled, -float(rank), NORMAL))
            rank += 1
    return SpmVocab(
        pieces=pieces,
        add_space_prefix=add_prefix,
        bos_id=tokenizer.bos_id,
        eos_id=tokenizer.eos_id,
        unk_id=unk_id,
        pad_id=tokenizer.pad_id,
    )
