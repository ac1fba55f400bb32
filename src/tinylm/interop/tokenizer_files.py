"""Tokenizer files a user hands tinylm, whatever made them: a `tokenizers` JSON (tinylm's own,
or a Hugging Face `tokenizer.json`), a sentencepiece `.model`, or llama2.c's `tokenizer.bin`.
Each becomes an ordinary `tinylm.tokenizer.Tokenizer` (a `tokenizers` JSON inside).
`Tokenizer.load` itself reads only `tokenizer.json`, the format every run and data folder holds;
the commands that take a user's file (`data prepare --tokenizer`, `import --tokenizer`) come
here."""

from __future__ import annotations

from pathlib import Path

from tinylm.errors import TinylmError
from tinylm.tokenizer import Tokenizer

FOREIGN_SUFFIXES = (".model", ".bin")


def load_tokenizer_file(path: str | Path) -> Tokenizer:
    path = Path(path)
    if not path.is_file():
        raise TinylmError(f"tokenizer file not found: {path}")
    if path.suffix == ".model":
        from tinylm.interop.spm import load_model_file

        return load_model_file(path)
    if path.suffix == ".bin":
        from tinylm.interop.llama2c_tokenizer import load_tokenizer_bin

        return load_tokenizer_bin(path)
    return Tokenizer.load(path)
