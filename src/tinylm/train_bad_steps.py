"""What the training loop does with a bad step: a NaN/Inf loss or gradient whose update was
not applied. `--on-nan` chooses: skip the batch, roll back to the last checkpoint with half the
learning rate, or stop (after a clean save). Each is written to metrics.jsonl and said in the
progress log; too many in a row stops the run."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tinylm.checkpoint import resumable_checkpoint
from tinylm.errors import TinylmError
from tinylm.faults import bad_step_action
from tinylm.progress import Progress

if TYPE_CHECKING:
    from tinylm.trainer import Trainer


def on_bad_step(trainer: Trainer, bar: Progress) -> bool:
    """A NaN/Inf loss or gradient: the update was not applied. Skip the batch, roll back to
    the last checkpoint with half the learning rate, or stop, as --on-nan says. Returns True
    after a rollback (the step counter moved back)."""
    step = trainer.state.step + 1
    trainer.state.bad_steps += 1
    trainer.consecutive_bad += 1
    policy = trainer.cfg.on_nan
    action = bad_step_action(policy, trainer.consecutive_bad, trainer.state.rollbacks, trainer.cfg)
    record: dict[str, Any] = {"step": step, "bad_step": True, "bad_steps": trainer.state.bad_steps}
    if action == "skip":
        trainer._write_metrics({**record, "action": "skipped"})
        bar.log(
            f"step {step}: NaN/Inf loss or gradient; update skipped "
            f"({trainer.state.bad_steps} skipped so far)"
        )
        return False
    if action == "rollback":
        target, _ = resumable_checkpoint(trainer.out) if trainer.dist.is_main else (None, [])
        target = trainer.dist.broadcast(target)
        if target is not None:
            trainer.state.rollbacks += 1
            trainer.state.lr_scale *= 0.5
            trainer._load_checkpoint(target, rollback=True)
            trainer._write_metrics(
                {
                    **record,
                    "step": trainer.state.step,
                    "from_step": step,
                    "action": "rollback",
                    "rollbacks": trainer.state.rollbacks,
                    "lr_scale": trainer.state.lr_scale,
                }
            )
            bar.log(
                f"step {step}: NaN/Inf loss or gradient; rolled back to step {trainer.state.step} "
                f"with the learning rate x{trainer.state.lr_scale:g}"
            )
            return True
    trainer._write_metrics({**record, "action": "stopped"})
    trainer.save_checkpoint()  # the state is clean: the bad update was never applied
    why = "too many in a row" if policy != "stop" else "--on-nan stop"
    raise TinylmError(
        f"training stopped at step {step}: the loss or gradients became NaN/Inf ({why}); "
        f"a clean checkpoint of step {trainer.state.step} is saved; resume with a lower --lr or "
        "--dtype fp32"
    )
