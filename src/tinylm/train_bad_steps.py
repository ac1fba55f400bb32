"""What the training loop does with a bad step: a NaN/Inf loss or gradient whose update was
not applied. `--on-nan` chooses: skip the batch, roll back to the last checkpoint with half the
learning rate, or stop (after a clean save). Each is written to metrics.jsonl and said in the
progress log; too many in a row stops the run."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from tinylm.checkpoint import resumable_checkpoint
from tinylm.config import TrainConfig
from tinylm.distributed import DistContext
from tinylm.errors import TinylmError
from tinylm.faults import bad_step_action
from tinylm.progress import Progress
from tinylm.train_state import TrainState


class BadSteps:
    """The loop's answer to bad steps. `write` appends to metrics.jsonl, `roll_back(path)`
    restores a checkpoint's state in place, `save()` writes a checkpoint."""

    def __init__(
        self,
        cfg: TrainConfig,
        out: Path,
        dist: DistContext,
        write: Callable[[dict[str, Any]], None],
        roll_back: Callable[[Path], None],
        save: Callable[[], Path],
    ) -> None:
        self.cfg, self.out, self.dist = cfg, out, dist
        self.write, self.roll_back, self.save = write, roll_back, save
        self.consecutive = 0

    def ok(self) -> None:
        """A healthy step: the count of bad ones in a row starts again."""
        self.consecutive = 0

    def handle(self, state: TrainState, bar: Progress) -> bool:
        """A NaN/Inf loss or gradient: the update was not applied. Skip the batch, roll back
        to the last checkpoint with half the learning rate, or stop, as --on-nan says. Returns
        True after a rollback (the step counter moved back)."""
        step = state.step + 1
        state.bad_steps += 1
        self.consecutive += 1
        policy = self.cfg.on_nan
        action = bad_step_action(policy, self.consecutive, state.rollbacks, self.cfg)
        record: dict[str, Any] = {"step": step, "bad_step": True, "bad_steps": state.bad_steps}
        if action == "skip":
            self.write({**record, "action": "skipped"})
            bar.log(
                f"step {step}: NaN/Inf loss or gradient; update skipped "
                f"({state.bad_steps} skipped so far)"
            )
            return False
        if action == "rollback":
            target, _ = resumable_checkpoint(self.out) if self.dist.is_main else (None, [])
            target = self.dist.broadcast(target)
            if target is not None:
                state.rollbacks += 1
                state.lr_scale *= 0.5
                self.roll_back(target)
                self.write(
                    {
                        **record,
                        "step": state.step,
                        "from_step": step,
                        "action": "rollback",
                        "rollbacks": state.rollbacks,
                        "lr_scale": state.lr_scale,
                    }
                )
                bar.log(
                    f"step {step}: NaN/Inf loss or gradient; rolled back to step {state.step} "
                    f"with the learning rate x{state.lr_scale:g}"
                )
                return True
        self.write({**record, "action": "stopped"})
        self.save()  # the state is clean: the bad update was never applied
        why = "too many in a row" if policy != "stop" else "--on-nan stop"
        raise TinylmError(
            f"training stopped at step {step}: the loss or gradients became NaN/Inf ({why}); "
            f"a clean checkpoint of step {state.step} is saved; resume with a lower --lr or "
            "--dtype fp32"
        )
