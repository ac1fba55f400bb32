"""Model families behind one interface, and the registry of them (`FAMILIES`).

The contract every family's model meets (what the trainer, evaluation, generation, FSDP
wrapping, Muon grouping and the exports rely on; `tests/test_architecture.py` checks it for
every registered family):

- `model.config` is the ModelConfig it was built from;
- `model(idx, targets=None, cache=None, start=0, last_only=False) -> (logits, loss)`: idx
  [B, T] token ids; with targets [B, T] (-100: not scored) a scalar mean cross-entropy (the
  [B, T, V] logits may be skipped then); without, logits [B, T, V], or [B, 1, V] with
  `last_only` (generation's prefill);
- `model.make_cache(batch, max_len=None)`: the state generation fills step by step (`start` is
  the position of idx[:, 0]);
- its `ModelFamily` says which blocks FSDP shards one by one (`blocks`) and which parameters are
  hidden matrices for Muon (`hidden_matrices`; the rest, embeddings and heads, get AdamW).

Adding a family is one module with its model plus one `Family(...)` line in `FAMILIES`.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable

from torch import nn

from tinylm.config import ModelConfig
from tinylm.errors import TinylmError
from tinylm.tokenizer import Tokenizer


@runtime_checkable
class ModelFamily(Protocol):
    name: str  # the `arch` of a ModelConfig
    byte_level: bool  # trains on byte shards (`data prepare --bytes`), not on token shards

    def build(self, cfg: ModelConfig) -> nn.Module: ...

    def blocks(self, model: nn.Module) -> list[nn.Module]:
        """The repeated blocks FSDP shards one by one (none: it shards the whole model)."""
        ...

    def hidden_matrices(self, model: nn.Module) -> list[nn.Parameter]:
        """The 2-D transforms of the hidden state, which Muon orthogonalises."""
        ...


@dataclass(frozen=True)
class Family:
    name: str
    module: str  # where the model class lives (imported on first use: torch code is heavy)
    cls: str
    block_lists: tuple[str, ...] = ()  # attribute paths of the nn.ModuleLists of blocks
    byte_level: bool = False

    def build(self, cfg: ModelConfig) -> nn.Module:
        return getattr(importlib.import_module(self.module), self.cls)(cfg)

    def blocks(self, model: nn.Module) -> list[nn.Module]:
        out: list[nn.Module] = []
        for path in self.block_lists:
            holder: object = model
            for attr in path.split("."):
                holder = getattr(holder, attr)
            out.extend(holder)  # type: ignore[call-overload]
        return out

    def hidden_matrices(self, model: nn.Module) -> list[nn.Parameter]:
        # Embeddings and output heads are lookup tables / classifiers, not transforms of the
        # hidden state. named_parameters lists a tied lm_head once, under the embedding's name.
        return [
            p
            for name, p in model.named_parameters()
            if p.requires_grad and p.dim() == 2 and "embed" not in name and "lm_head" not in name
        ]


FAMILIES: dict[str, ModelFamily] = {
    f.name: f
    for f in (
        Family("llama", "tinylm.models.llama", "Llama", ("model.layers",)),
        Family("rnn", "tinylm.models.rnn", "RNNLM"),
        Family(
            "megabyte",
            "tinylm.models.megabyte",
            "Megabyte",
            ("global_model.layers", "local_model.layers"),
            byte_level=True,
        ),
    )
}
BYTE_LEVEL_ARCHES = tuple(name for name, f in FAMILIES.items() if f.byte_level)


def family_of(model: nn.Module) -> ModelFamily:
    return FAMILIES[model.config.arch]


def build_model(cfg: ModelConfig) -> nn.Module:
    cfg.validate()
    return FAMILIES[cfg.arch].build(cfg)


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


def matmul_parameters(model: nn.Module) -> int:
    """Weights of the nn.Linear layers (a tied output layer once): the ones a token's forward
    and backward pass multiply by, 6 FLOPs each."""
    seen: set[int] = set()
    total = 0
    for module in model.modules():
        if isinstance(module, nn.Linear) and id(module.weight) not in seen:
            seen.add(id(module.weight))
            total += module.weight.numel()
    return total


def flops_per_token(model: nn.Module, seq_len: int) -> float:
    """Training FLOPs per token (forward + backward) as PaLM's appendix B counts them: 6 per
    matmul weight, plus attention's 12 * layers * heads * head size * context. What MFU
    divides by."""
    cfg = model.config
    attention = 0
    if cfg.n_heads is not None:
        attention = 12 * cfg.n_layers * cfg.n_heads * cfg.head_dim * seq_len
    return float(6 * matmul_parameters(model) + attention)
