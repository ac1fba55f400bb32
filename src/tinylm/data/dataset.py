"""Memory-mapped token shards and the batches training draws from them.

A batch is a pure function of (seed, step, micro-step, rank): windows of the flat token stream
are visited in a fresh random order each epoch (without replacement, unlike nanoGPT's random
offsets), and the position in that order follows from the step. So `--resume` continues with
exactly the batches an uninterrupted run would have seen, with nothing replayed or skipped,
and each data-parallel rank reads its own disjoint slice.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from tinylm.data.prepare import FORMAT, META_NAME, TOKENIZER_NAME
from tinylm.errors import TinylmError


@dataclass
class DataMeta:
    path: Path
    vocab_size: int
    bos_id: int
    eos_id: int
    dtype: np.dtype
    tokenizer_sha256: str
    splits: dict[str, dict[str, int]]
    # TinyStories-Instruct data (`data prepare --instruct`): loss-mask files, sample prompt...
    instruct: dict[str, Any] | None = None
    # where the stories came from: path, sha256 and story count per source file
    sources: list[dict[str, Any]] = field(default_factory=list)

    @property
    def has_mask(self) -> bool:
        return bool(self.instruct and self.instruct.get("loss_mask"))

    @property
    def tokenizer_path(self) -> Path:
        return self.path / TOKENIZER_NAME


def load_meta(data_dir: str | Path) -> DataMeta:
    path = Path(data_dir)
    if not path.is_dir():
        raise TinylmError(f"data folder not found: {path}; create it with `tinylm data prepare`")
    meta_path = path / META_NAME
    if not meta_path.is_file():
        raise TinylmError(
            f"{path} is not a prepared dataset (no {META_NAME}); "
            "create it with `tinylm data prepare`"
        )
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise TinylmError(f"{meta_path} is corrupt; re-run `tinylm data prepare`") from None
    if meta.get("format") != FORMAT:
        raise TinylmError(f"{meta_path} is not a tinylm dataset description")
    if not (path / TOKENIZER_NAME).is_file():
        raise TinylmError(f"{path} has no {TOKENIZER_NAME}; re-run `tinylm data prepare`")
    return DataMeta(
        path=path,
        vocab_size=int(meta["vocab_size"]),
        bos_id=int(meta["bos_id"]),
        eos_id=int(meta["eos_id"]),
        dtype=np.dtype(meta["dtype"]),
        tokenizer_sha256=meta["tokenizer_sha256"],
        splits=meta["splits"],
        instruct=meta.get("instruct"),
        sources=list(meta.get("sources") or []),
    )


def open_tokens(meta: DataMeta, split: str) -> np.ndarray:
    return _open_flat(meta.path / f"{split}.bin", meta.dtype, meta.splits[split]["tokens"])


def open_mask(meta: DataMeta, split: str) -> np.ndarray | None:
    """The split's loss mask (uint8, 1 = the token counts as a target), None without one."""
    if not meta.has_mask:
        return None
    assert meta.instruct is not None
    path = meta.path / meta.instruct["loss_mask"][split]
    return _open_flat(path, np.dtype(np.uint8), meta.splits[split]["tokens"])


def _open_flat(path: Path, dtype: np.dtype, count: int) -> np.ndarray:
    """A memory-mapped flat array of `count` items, checked against its expected size."""
    if not path.is_file():
        raise TinylmError(f"{path} is missing; re-run `tinylm data prepare`")
    expected = count * dtype.itemsize
    if path.stat().st_size != expected:
        raise TinylmError(
            f"{path} has {path.stat().st_size} bytes, meta.json says {expected}; "
            "the dataset is damaged, re-run `tinylm data prepare`"
        )
    if expected == 0:
        return np.zeros(0, dtype=dtype)
    return np.memmap(path, dtype=dtype, mode="r")


class BatchSampler:
    """Windows of `seq_len + 1` tokens (inputs and shifted targets) in a seeded per-epoch order.

    With a loss `mask` (same length as `tokens`), targets whose mask is 0 become -100, which the
    model's cross-entropy ignores: instruction tuning learns the story, not the prompt."""

    def __init__(
        self,
        tokens: np.ndarray,
        seq_len: int,
        batch_size: int,
        seed: int,
        rank: int = 0,
        world_size: int = 1,
        mask: np.ndarray | None = None,
    ) -> None:
        self.tokens = tokens
        self.mask = mask
        self.seq_len = seq_len
        self.batch_size = batch_size
        self.seed = seed
        self.rank = rank
        self.world_size = world_size
        # One window of slack lets each epoch shift the grid of cut points by a random offset,
        # so no token is stuck at a window start (without context) in every epoch.
        self.shiftable = len(tokens) >= 2 * seq_len + 1
        self.windows = (
            (len(tokens) - seq_len) // seq_len if self.shiftable else (len(tokens) - 1) // seq_len
        )
        if self.windows < 1:
            raise TinylmError(
                f"the training split has {len(tokens)} tokens, fewer than one context window "
                f"of {seq_len + 1}; add data or lower max_seq_len"
            )
        self._epoch = -1
        self._order: np.ndarray | None = None
        self._shift = 0

    def _order_for(self, epoch: int) -> tuple[np.ndarray, int]:
        if epoch != self._epoch:
            rng = np.random.default_rng([self.seed, epoch])
            self._order = rng.permutation(self.windows)
            self._shift = int(rng.integers(self.seq_len)) if self.shiftable else 0
            self._epoch = epoch
        assert self._order is not None
        return self._order, self._shift

    def batch(self, step: int, micro: int, grad_accum: int) -> tuple[torch.Tensor, torch.Tensor]:
        """x, y: int64 [batch_size, seq_len] for one micro-step of one optimizer step."""
        per_step = self.batch_size * self.world_size * grad_accum
        first = step * per_step + (micro * self.world_size + self.rank) * self.batch_size
        starts = np.empty(self.batch_size, dtype=np.int64)
        for i in range(self.batch_size):
            epoch, pos = divmod(first + i, self.windows)
            order, shift = self._order_for(epoch)
            starts[i] = order[pos] * self.seq_len + shift
        idx = starts[:, None] + np.arange(self.seq_len + 1)[None, :]
        window = torch.from_numpy(self.tokens[idx].astype(np.int64))
        x, y = window[:, :-1], window[:, 1:]
        if self.mask is not None:
            ignored = torch.from_numpy(self.mask[idx[:, 1:]] == 0)
            y = y.masked_fill(ignored, -100)
        return x, y


def eval_windows(tokens: np.ndarray, seq_len: int, max_windows: int | None = None) -> np.ndarray:
    """Start offsets of consecutive windows that overlap by one token, so every token after the
    first is predicted exactly once; `max_windows` spreads a subset evenly over the split."""
    count = (len(tokens) - 1) // seq_len
    starts = np.arange(count, dtype=np.int64) * seq_len
    if max_windows is not None and count > max_windows:
        pick = np.linspace(0, count - 1, max_windows).round().astype(np.int64)
        starts = starts[pick]
    return starts
