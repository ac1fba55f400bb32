"""Model families behind one interface: `model(idx, targets)` -> (logits, loss)."""

from __future__ import annotations

from pathlib import Path

from torch import nn

from tinylm.config import ModelConfig
from tinylm.errors import TinylmError
from tinylm.tokenizer import Tokenizer


def build_model(cfg: ModelConfig) -> nn.Module:
    cfg.validate()
    if cfg.arch == "llama":
        from tinylm.models.llama import Llama

        return Llama(cfg)
    if cfg.arch == "rnn":
        from tinylm.models.rnn import RNNLM

        return RNNLM(cfg)
    if cfg.arch == "megabyte":
        from tinylm.models.megabyte import Megabyte

        return Megabyte(cfg)
    raise AssertionError(f"validate() admitted unknown arch {cfg.arch}")


BYTE_LEVEL_ARCHES = ("megabyte",)


def check_data_fits_family(cfg: ModelConfig, tokenizer: Tokenizer, data_dir: Path) -> None:
    """A byte-level family trains on byte shards only (its patches are patches of bytes)."""
    if cfg.arch in BYTE_LEVEL_ARCHES and not tokenizer.bytes_only:
        raise TinylmError(
            f"{data_dir} holds {tokenizer.vocab_size}-token shards, but {cfg.arch} is a "
            f"byte-level model; prepare byte shards with `tinylm data prepare --bytes`"
        )


def count_parameters(model: nn.Module, non_embedding: bool = False) -> int:
    """Unique parameters (tied embeddings counted once); optionally without the embedding table,
    the count that scaling laws and llama2.c's model zoo use."""
    seen: set[int] = set()
    total = 0
    for name, p in model.named_parameters():
        if id(p) in seen:
            continue
        seen.add(id(p))
        if non_embedding and "embed_tokens" in name:
            continue
        total += p.numel()
    return total
