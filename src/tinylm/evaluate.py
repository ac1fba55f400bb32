"""Likelihood evaluation: loss, perplexity and bits per byte.

Bits per byte divides the total negative log-likelihood by the UTF-8 size of the text, so models
with different tokenizers (or none, byte-level) compare on the same scale. Each model is scored in
its own story framing (`tinylm.framing`): a llama2.c model sees BOS + story, as it was trained.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from tinylm.data.dataset import eval_windows, load_meta, open_tokens
from tinylm.data.readers import expand_inputs, read_stories
from tinylm.device import autocast
from tinylm.errors import TinylmError
from tinylm.framing import BOS_EOS, reframe, uses_bos, uses_eos
from tinylm.progress import Progress
from tinylm.tokenizer import Tokenizer


@dataclass
class EvalResult:
    loss: float
    tokens: int
    bytes: int | None
    framing: str = BOS_EOS

    @property
    def perplexity(self) -> float:
        return math.exp(min(self.loss, 700))

    @property
    def bits_per_byte(self) -> float | None:
        if not self.bytes:
            return None
        return self.loss * self.tokens / math.log(2) / self.bytes

    def as_dict(self) -> dict[str, float | int | None]:
        return {
            "loss": self.loss,
            "perplexity": self.perplexity,
            "bits_per_byte": self.bits_per_byte,
            "tokens": self.tokens,
            "bytes": self.bytes,
            "framing": self.framing,
        }


@torch.no_grad()  # not inference_mode: FSDP's unsharding does not work on inference tensors
def token_nll(
    model: nn.Module,
    tokens: np.ndarray,
    batch_size: int,
    device: torch.device,
    dtype: torch.dtype,
    max_windows: int | None = None,
    progress: Progress | None = None,
    shard: tuple[int, int] = (0, 1),
    mask: np.ndarray | None = None,
) -> tuple[float, int]:
    """Summed NLL (nats) and number of predicted tokens over `tokens` in context-size windows.

    With `max_windows`, an evenly spread subset (periodic validation during training); without,
    every token after the first, including the short tail window. `shard` = (rank, world) takes
    every world-th window, so data-parallel ranks split the work and sum their results. With a
    loss `mask`, only tokens whose mask is 1 are scored (the stories of instruct data)."""
    seq_len = model.config.max_seq_len
    was_training = model.training
    model.eval()
    total, count = 0.0, 0
    rank, world = shard
    starts = eval_windows(tokens, seq_len, max_windows)
    # Equal shares: under FSDP every rank must make the same number of forward calls.
    starts = starts[: len(starts) - len(starts) % world][rank::world]
    if progress is not None:
        progress.update(total=len(starts) + 1)
    try:
        for i in range(0, len(starts), batch_size):
            chunk = starts[i : i + batch_size]
            idx = chunk[:, None] + np.arange(seq_len + 1)[None, :]
            window = torch.from_numpy(tokens[idx].astype(np.int64)).to(device)
            scored = None if mask is None else torch.from_numpy(mask[idx[:, 1:]] != 0).to(device)
            total_batch, n = _window_nll(model, window, device, dtype, scored)
            total += total_batch
            count += n
            if progress is not None:
                progress.advance(len(chunk))
        full_windows = len(eval_windows(tokens, seq_len))
        # The tail after the last full window; a split shorter than one window (a small
        # validation set) is all tail, and scored during training too. Every rank runs that
        # forward (FSDP's is collective), rank 0 counts it.
        tail_start = full_windows * seq_len
        wanted = (max_windows is None and rank == 0) or full_windows == 0
        if wanted and len(tokens) - tail_start >= 2:
            tail = torch.from_numpy(tokens[tail_start:].astype(np.int64)).to(device)[None]
            scored = None
            if mask is not None:
                scored = torch.from_numpy(mask[tail_start + 1 :] != 0).to(device)[None]
            total_batch, n = _window_nll(model, tail, device, dtype, scored)
            if rank == 0:
                total += total_batch
                count += n
    finally:
        model.train(was_training)
    return total, count


def _window_nll(
    model: nn.Module,
    window: torch.Tensor,
    device: torch.device,
    dtype: torch.dtype,
    scored: torch.Tensor | None = None,
) -> tuple[float, int]:
    x, y = window[:, :-1], window[:, 1:]
    if scored is not None:
        y = y.masked_fill(~scored, -100)
    with autocast(device, dtype):
        logits, _ = model(x)
    nll = torch.nn.functional.cross_entropy(
        logits.float().reshape(-1, logits.size(-1)), y.reshape(-1), reduction="sum"
    )
    return float(nll), y.numel() if scored is None else int(scored.sum())


def evaluate(
    model: nn.Module,
    tokenizer: Tokenizer,
    data: str | Path,
    device: torch.device,
    dtype: torch.dtype,
    batch_size: int = 16,
    split: str = "val",
    show_progress: bool = True,
    framing: str = BOS_EOS,
) -> EvalResult:
    """Evaluate on a prepared data folder (its val split) or on raw story files, every story
    framed as `framing` says (the run's own: `tinylm.framing.run_framing`)."""
    path = Path(data)
    if path.is_dir() and (path / "meta.json").is_file():
        meta = load_meta(path)
        if meta.tokenizer_sha256 != tokenizer.sha256():
            raise TinylmError(
                f"{path} was tokenized with a different tokenizer than this model's; pass the "
                "raw text file instead (eval tokenizes it) or prepare the data with the run's "
                "tokenizer.json"
            )
        if split not in meta.splits:
            raise TinylmError(f"{path} has no '{split}' split")
        tokens, _ = reframe(open_tokens(meta, split), None, meta.bos_id, meta.eos_id, framing)
        n_bytes = meta.splits[split].get("bytes")
    else:
        tokens, n_bytes = _tokenize_files(tokenizer, [str(path)], framing)
    if len(tokens) < 2:
        raise TinylmError(f"{path}: not enough text to evaluate (need at least two tokens)")
    with Progress("evaluating", total=None, unit="batches", enabled=show_progress) as bar:
        total, count = token_nll(model, tokens, batch_size, device, dtype, progress=bar)
    return EvalResult(loss=total / count, tokens=count, bytes=n_bytes, framing=framing)


def _tokenize_files(
    tokenizer: Tokenizer, inputs: list[str], framing: str = BOS_EOS
) -> tuple[np.ndarray, int]:
    bos, eos = uses_bos(framing), uses_eos(framing)
    ids: list[int] = []
    n_bytes = 0
    batch: list[str] = []
    for path in expand_inputs(inputs):
        for story in read_stories(path):
            batch.append(story)
            n_bytes += len(story.encode("utf-8"))
            if len(batch) == 1024:
                ids.extend(
                    t for row in tokenizer.encode_batch(batch, bos=bos, eos=eos) for t in row
                )
                batch = []
    if batch:
        ids.extend(t for row in tokenizer.encode_batch(batch, bos=bos, eos=eos) for t in row)
    if not ids:
        raise TinylmError(f"no stories found in {', '.join(inputs)}")
    return np.asarray(ids, dtype=np.int64), n_bytes
