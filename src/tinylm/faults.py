"""Numerical faults: what a NaN/Inf training step leads to (`--on-nan`), and fault injection
for reliability testing: `TINYLM_FAULTS="nan_loss@5,nan_loss@12"` makes the
training loss NaN at those steps, once each per process, so the NaN handling is exercised
through the real training path (a healthy fp32/bf16 run with RMSNorm rarely produces one on
demand). Unset in normal use; unknown fault names are an error, not silently ignored."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from tinylm.errors import TinylmError

if TYPE_CHECKING:
    from tinylm.config import TrainConfig

ENV = "TINYLM_FAULTS"
KINDS = ("nan_loss",)


class Faults:
    def __init__(self, spec: str | None = None) -> None:
        spec = os.environ.get(ENV, "") if spec is None else spec
        self._pending: set[tuple[str, int]] = set()
        for item in filter(None, (part.strip() for part in spec.split(","))):
            kind, _, step = item.partition("@")
            if kind not in KINDS or not step.isdigit():
                raise TinylmError(f"{ENV}: cannot read '{item}'; use e.g. nan_loss@5")
            self._pending.add((kind, int(step)))

    def fire(self, kind: str, step: int) -> bool:
        """True the first time (kind, step) comes up; later replays of the step run clean."""
        key = (kind, step)
        if key in self._pending:
            self._pending.discard(key)
            return True
        return False


def bad_step_action(policy: str, consecutive: int, rollbacks: int, cfg: TrainConfig) -> str:
    """What a NaN/Inf loss or gradient (the update was not applied) leads to: "skip" the batch,
    "rollback" to the last checkpoint with half the learning rate, or "stop", as `--on-nan`
    says, until `--max-bad-steps` skips in a row or rollbacks have happened."""
    if policy == "skip" and consecutive <= cfg.max_bad_steps:
        return "skip"
    if policy == "rollback" and rollbacks < cfg.max_bad_steps:
        return "rollback"
    return "stop"
