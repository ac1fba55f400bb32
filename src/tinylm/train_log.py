"""What the training loop writes as it goes: every step's loss and gradient norm in
metrics.jsonl (the loss averaged over ranks), and per log window the tokens/s. Losses stay on
the device until a window ends, so a window costs one sync, yet every step gets its line and a
resumed curve matches exactly."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import torch


class StepLog:
    def __init__(
        self,
        write: Callable[[dict[str, Any]], None],
        mean: Callable[[torch.Tensor], torch.Tensor],
        tokens_per_step: int,
    ) -> None:
        self.write, self.mean, self.tokens_per_step = write, mean, tokens_per_step
        self.pending: list[tuple[int, torch.Tensor, float, torch.Tensor]] = []
        self.window_seconds, self.window_tokens = 0.0, 0

    def step(
        self, step: int, loss: torch.Tensor | None, lr: float, grad_norm: torch.Tensor
    ) -> None:
        """A step done (its loss None when the update was skipped); `grad_norm` is the norm
        before clipping, the same on every rank."""
        if loss is not None:
            self.pending.append((step, loss, lr, grad_norm))
        self.window_tokens += self.tokens_per_step

    def add_time(self, seconds: float) -> None:
        self.window_seconds += seconds

    def flush(self) -> float:
        """Write the pending steps' losses; returns their mean (NaN when none)."""
        if not self.pending:
            return float("nan")
        losses = self.mean(torch.stack([loss for _, loss, _, _ in self.pending])).tolist()
        norms = torch.stack([norm.float() for *_, norm in self.pending]).tolist()
        for (step, _, lr, _), value, norm in zip(self.pending, losses, norms, strict=True):
            tokens = step * self.tokens_per_step
            self.write(
                {"step": step, "train_loss": value, "lr": lr, "tokens": tokens, "grad_norm": norm}
            )
        self.pending = []
        return sum(losses) / len(losses)

    def end_window(self, record: dict[str, Any], step_start: float) -> tuple[float, float]:
        """Flush, then one line with `record` and the window's tokens/s, the sync included in
        the time of its last step (which began at `step_start`); returns (mean loss, tokens/s)
        for the progress bar."""
        train_loss = self.flush()
        seconds = self.window_seconds + time.perf_counter() - step_start
        rate = self.window_tokens / max(1e-9, seconds)
        self.write({"step": record["step"], "tokens_per_s": rate, **record})
        self.window_seconds, self.window_tokens = 0.0, 0
        return train_loss, rate
