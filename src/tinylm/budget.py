"""A time budget (`--time-budget 10m`) becomes a number of steps, so the cosine schedule ends
when the time does and `--resume` stays exact (the planned length is saved): a first guess from
a few timed steps before training, then once more from the measured step and evaluation times."""

from __future__ import annotations

import time
from collections.abc import Callable

from tinylm.config import TrainConfig

# A step is the micro-batches' time plus the optimizer update and logging.
STEP_OVERHEAD = 1.08
SECONDS_PER_SAMPLE_TOKEN = 0.01  # decoding the sample story at each evaluation, a rough figure
REPLAN_AFTER_STEPS = 10


def time_it(run: Callable[[], None], reps: int = 2) -> float:
    """Seconds per call of `run`, after one untimed call (warm-up, compilation)."""
    run()
    start = time.perf_counter()
    for _ in range(reps):
        run()
    return (time.perf_counter() - start) / reps


def first_plan(cfg: TrainConfig, budget: float, micro_seconds: float) -> int:
    """Steps that fit `budget` seconds, from the time of one forward + backward micro-batch."""
    step_time = micro_seconds * cfg.grad_accum * STEP_OVERHEAD
    eval_time = micro_seconds / 3 * cfg.eval_batches  # no backward, no optimizer
    per_eval = eval_time + cfg.sample_tokens * SECONDS_PER_SAMPLE_TOKEN
    steps = (budget - per_eval) / (step_time + per_eval / cfg.eval_every)
    return max(1, int(steps))


def replan(
    cfg: TrainConfig,
    budget: float,
    step: int,
    elapsed: float,
    step_seconds: float,
    steps_timed: int,
    eval_seconds: float,
) -> int | None:
    """The run's new length from measured times, or None while too few steps are timed (the
    first tenth of the budget, at most 30 s, and REPLAN_AFTER_STEPS steps)."""
    if steps_timed < REPLAN_AFTER_STEPS or elapsed < min(30.0, 0.1 * budget):
        return None
    per_step = step_seconds / steps_timed
    per_eval = eval_seconds / (1 + step // cfg.eval_every)
    remaining = budget - elapsed - per_eval  # the final evaluation
    steps_left = remaining / (per_step + per_eval / cfg.eval_every)
    return max(step + 1, step + int(steps_left))
