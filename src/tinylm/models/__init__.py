"""Model families behind one interface: `model(idx, targets)` -> (logits, loss)."""

from __future__ import annotations

from torch import nn

from tinylm.config import ModelConfig


def build_model(cfg: ModelConfig) -> nn.Module:
    cfg.validate()
    if cfg.arch == "llama":
        from tinylm.models.llama import Llama

        return Llama(cfg)
    raise AssertionError(f"validate() admitted unknown arch {cfg.arch}")


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
