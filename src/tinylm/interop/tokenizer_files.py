"""Tokenizers from other tools, by file type: sentencepiece `.model` and llama2.c
`tokenizer.bin` become an ordinary `tinylm.tokenizer.Tokenizer` (a `tokenizers` JSON inside)."""

from __future__ import annotations

from pathlib import Path

from tinylm.errors import TinylmError
from tinylm.tokenizer import Tokenizer


def load_foreign_tokenizer(path: str | Path) -> Tokenizer:
    path = Path(path)
    if path.suffix == ".model":
        from tinylm.interop.spm import load_model_file

        return load_model_file(path)
    if path.suffix == ".bin":
        from tinylm.interop.llama2c import load_tokenizer_bin

        return load_tokenizer_bin(path)
    raise TinylmError(
        f"{path}: unknown tokenizer file type; use a tokenizer.json, a sentencepiece .model or "
        "a llama2.c tokenizer.bin"
    )
