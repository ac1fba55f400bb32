"""The counters a training run carries across a stop and `--resume`, with one owner: they are
saved and loaded from this one dataclass (torchtitan's Stateful idea), so a counter cannot be
added to the save and forgotten in the load. A checkpoint holds them as JSON in its
trainer_state.safetensors metadata."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields
from typing import Any

# What a rollback to a checkpoint restores; the clock, the plan and the fault counters of the
# run going on stay as they are.
ROLLBACK_FIELDS = ("step", "tokens_seen", "last_val_loss")


@dataclass
class TrainState:
    step: int = 0
    max_steps: int | None = None  # planned length (a time budget sets and replans it)
    elapsed: float = 0.0  # wall-clock seconds of the loop: training, evaluation, saving
    tokens_seen: int = 0
    first_val_loss: float | None = None
    last_val_loss: float | None = None
    replanned: bool = True  # a time budget's length was re-measured once steps were timed
    world_size: int = 1  # processes that wrote it
    bad_steps: int = 0  # NaN/Inf steps, skipped or rolled back
    rollbacks: int = 0
    lr_scale: float = 1.0  # halved at each rollback

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_dict(cls, saved: dict[str, Any]) -> TrainState:
        """A saved state; counters an older checkpoint did not record keep their defaults."""
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in saved.items() if k in known})

    def roll_back_to(self, saved: TrainState) -> None:
        for name in ROLLBACK_FIELDS:
            setattr(self, name, getattr(saved, name))
