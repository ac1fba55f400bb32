"""Learning-rate schedule: linear warm-up, then cosine decay to min_lr (llama2.c / nanoGPT)."""

from __future__ import annotations

import math


def effective_warmup(warmup: int, max_steps: int) -> int:
    """A preset's warm-up (1,000 steps for 110M) must not eat a short run whole: cap it at a
    fifth of the run so the cosine phase still happens."""
    return min(warmup, max(1, max_steps // 5))


def lr_at(step: int, lr: float, min_lr: float, warmup: int, max_steps: int) -> float:
    """LR for optimizer step `step` (0-based); warmup is the already-capped number of steps."""
    if step < warmup:
        return lr * (step + 1) / (warmup + 1)
    if step >= max_steps:
        return min_lr
    progress = (step - warmup) / max(1, max_steps - warmup)
    return min_lr + 0.5 * (1.0 + math.cos(math.pi * progress)) * (lr - min_lr)
