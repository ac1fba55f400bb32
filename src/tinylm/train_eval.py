"""What a training run measures as it goes: the validation loss on a fixed, evenly spread
subset of the held-out windows (split across ranks), and a sample story."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from tinylm.config import TrainConfig
from tinylm.data.dataset import DataMeta
from tinylm.distributed import DistContext
from tinylm.evaluate import token_nll
from tinylm.run import SAMPLE_PROMPTS, LoadedRun
from tinylm.tokenizer import Tokenizer


@dataclass
class Validator:
    model: nn.Module
    tokenizer: Tokenizer
    meta: DataMeta
    tokens: np.ndarray  # the validation split
    mask: np.ndarray | None  # its loss mask (instruct data)
    cfg: TrainConfig
    dist: DistContext
    device: torch.device
    dtype: torch.dtype

    def loss(self) -> float | None:
        """The validation loss, or None when there is no held-out text to score (a data
        folder prepared with --val-fraction 0)."""
        if len(self.tokens) < 2:
            return None
        total, count = token_nll(
            self.model,
            self.tokens,
            self.cfg.batch_size,
            self.device,
            self.dtype,
            # sized by the global batch: 1 or N processes evaluate the same windows
            max_windows=self.cfg.eval_batches * self.cfg.batch_size * self.dist.world_size,
            shard=(self.dist.rank, self.dist.world_size),
            mask=self.mask,
        )
        sums = self.dist.sum(torch.tensor([total, float(count)], dtype=torch.float64))
        if float(sums[1]) == 0:
            return None
        return float(sums[0] / float(sums[1]))

    def sample(self, out: Path, step: int) -> str:
        """A sample story at temperature 0.8, seeded by the step (every rank runs it in
        lockstep: FSDP's forward is collective). Instruct data: the prompt of a held-out record,
        in the training format."""
        run = LoadedRun(out, self.model, self.tokenizer, {}, self.device)
        prompt = (self.meta.instruct or {}).get("sample_prompt")
        prompt = prompt or SAMPLE_PROMPTS[self.tokenizer.language]
        text = run.generate(
            prompt, max_new_tokens=self.cfg.sample_tokens, temperature=0.8, top_p=0.95, seed=step
        )
        return str(text)
