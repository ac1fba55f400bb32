"""`tinylm train`: the training loop.

AdamW (fused where supported) with warm-up + cosine decay, gradient accumulation and clipping,
bf16 autocast (CPU too), optional torch.compile, periodic validation and samples, metrics.jsonl,
and resumable safetensors checkpoints. Batches are a function of the step (see data.dataset) and
the checkpoint holds the optimizer and RNG state, so stop + `--resume` reproduces the loss curve
of a run that never stopped. Under `torchrun` the same loop runs data-parallel (DDP or FSDP2);
rank 0 alone writes files.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from tinylm import budget as budget_plan
from tinylm.checkpoint import (
    MODEL_FILE,
    check_checkpoint_room,
    checkpoint_dirs,
    load_model_weights,
)
from tinylm.config import ModelConfig, TrainConfig
from tinylm.data.dataset import BatchSampler, load_meta, open_mask, open_tokens
from tinylm.device import (
    autocast,
    compile_cache_for_this_cpu,
    configure_backends,
    device_description,
    dtype_name,
    resolve_device,
)
from tinylm.distributed import (
    gradient_sync,
    init_distributed,
    wrap_model,
)
from tinylm.errors import TinylmError
from tinylm.faults import Faults
from tinylm.fileio import atomic_copy
from tinylm.locks import Lock
from tinylm.models import build_model, count_parameters
from tinylm.optim import make_optimizer
from tinylm.plots import plot_losses
from tinylm.progress import Progress, console, format_duration
from tinylm.run import (
    LOSS_PLOT,
    METRICS_FILE,
    SAMPLES_FILE,
    TOKENIZER_FILE,
    append_jsonl,
    check_out_dir,
    read_run_config,
    truncate_logs,
)
from tinylm.schedule import effective_warmup, lr_at
from tinylm.stop_signals import stop_requests
from tinylm.tokenizer import Tokenizer
from tinylm.tracking import Trackers, check_trackers_installed
from tinylm.train_bad_steps import BadSteps
from tinylm.train_checkpoint import Checkpointer
from tinylm.train_eval import Validator
from tinylm.train_log import StepLog
from tinylm.train_setup import (
    add_lora,
    announcement,
    fit_to_data,
    init_model_config,
    lora_of,
    mfu_factor,
    resumed_configs,
    training_dtype,
    write_training_config,
)
from tinylm.train_state import TrainState


@dataclass
class TrainResult:
    run_dir: Path
    step: int
    max_steps: int
    val_loss: float | None
    first_val_loss: float | None
    elapsed: float
    interrupted: bool


class Trainer:
    def __init__(
        self,
        data_dir: str | Path,
        out_dir: str | Path,
        model_cfg: ModelConfig,
        train_cfg: TrainConfig,
        resume: bool = False,
        train_overrides: dict[str, Any] | None = None,
        show_progress: bool = True,
        init_from: str | Path | None = None,
    ) -> None:
        """`init_from`: a model.safetensors whose weights a new run starts from (fine-tuning);
        ignored when resuming, where the checkpoint holds the weights."""
        self.data_dir = Path(data_dir)
        self.out = Path(out_dir)
        self.dist = init_distributed(train_cfg.device)
        self.show_progress = show_progress and self.dist.is_main
        self.meta = load_meta(self.data_dir)
        self.tokenizer = Tokenizer.load(self.meta.tokenizer_path)
        self.notes: list[str] = []
        self.checkpoint, skipped = check_out_dir(self.out, resume, self._say)
        self.notes.extend(skipped)
        if self.checkpoint is not None:
            model_cfg, train_cfg = resumed_configs(self.out, self.meta, train_overrides or {})
        self.init_from = Path(init_from) if init_from is not None else None
        if self.init_from is not None and self.checkpoint is None:
            model_cfg = init_model_config(self.init_from, self.meta)
        self.model_cfg = model_cfg
        self.cfg = train_cfg
        check_trackers_installed(train_cfg.log_to)
        self.lora = lora_of(train_cfg, self.init_from, self.checkpoint)
        self.trackers = Trackers([])
        self.faults = Faults()
        self.notes += fit_to_data(
            model_cfg, train_cfg, self.meta, self.tokenizer, self.init_from, self.checkpoint
        )
        # Every rank has looked at --out before rank 0 starts writing into it.
        self.dist.barrier()

    def _say(self, message: str) -> None:
        if self.dist.is_main:
            console.print(message, highlight=False)

    # -- setup -------------------------------------------------------------------------------

    def _setup(self) -> None:
        cfg = self.cfg
        self.device = resolve_device(cfg.device)
        if self.dist.enabled and self.device.type == "cuda":
            self.device = torch.device("cuda", self.dist.local_rank)
        configure_backends(self.device)
        torch.manual_seed(cfg.seed)
        self.model = build_model(self.model_cfg).to(self.device)
        if self.init_from is not None and self.checkpoint is None:
            # before wrapping: FSDP shards the parameters in place
            load_model_weights(self.init_from / MODEL_FILE, self.model)
        if self.lora is not None:  # adapters on the loaded base (a resume loads both after)
            self.notes.append(add_lora(self.model, self.lora))
        self.train_tokens = open_tokens(self.meta, "train")
        self.val_tokens = open_tokens(self.meta, "val")
        self.train_mask = open_mask(self.meta, "train") if cfg.loss_mask else None
        self.val_mask = open_mask(self.meta, "val") if cfg.loss_mask else None
        self.sampler = BatchSampler(
            self.train_tokens,
            self.model_cfg.max_seq_len,
            cfg.batch_size,
            cfg.seed,
            rank=self.dist.rank,
            world_size=self.dist.world_size,
            mask=self.train_mask,
        )
        # before wrapping: auto times the plain model
        self.dtype, note = training_dtype(
            cfg, self.model, self.sampler, self.device, self.dist.broadcast
        )
        self.notes += [note] if note else []
        # `self.model` keeps the plain API (generation, state); the step calls `self.forward`.
        self.train_module = wrap_model(self.model, cfg.parallel, self.dist, self.device)
        self.optimizer = self._make_optimizer()
        self.scaler = torch.amp.GradScaler(self.device.type, enabled=self.dtype == torch.float16)
        if cfg.compile:
            compile_cache_for_this_cpu()
        self.forward = torch.compile(self.train_module) if cfg.compile else self.train_module
        self.validator = Validator(
            self.model,
            self.tokenizer,
            self.meta,
            self.val_tokens,
            self.val_mask,
            cfg,
            self.dist,
            self.device,
            self.dtype,
        )
        self.checkpoints = Checkpointer(
            self.out,
            self.model,
            self.optimizer,
            self.scaler,
            self.dist,
            self.device,
            cfg.keep_checkpoints,
            self.lora,
            self._init_from_note(),
        )
        # What a checkpoint saves and --resume restores (`tinylm.train_state`). A time budget's
        # run sizes itself twice: a first guess before step 0 (`budget.first_plan`), then once
        # more from the measured step and evaluation times (`budget.replan`).
        self.state = TrainState(
            max_steps=cfg.max_steps,
            replanned=cfg.time_budget is None or cfg.max_steps is not None,
            world_size=self.dist.world_size,
        )
        # This process's own measurements, not saved.
        self.step_seconds = 0.0
        self.steps_timed = 0
        self.eval_seconds = 0.0
        self.bad_steps = BadSteps(
            cfg,
            self.out,
            self.dist,
            self._write_metrics,
            lambda path: self._load_checkpoint(path, rollback=True),
            self.save_checkpoint,
        )

    def _make_optimizer(self) -> torch.optim.Optimizer:
        cfg = self.cfg
        return make_optimizer(
            self.model, cfg.optimizer, cfg.lr, cfg.weight_decay, (cfg.beta1, cfg.beta2)
        )

    # -- checkpoints -------------------------------------------------------------------------

    def save_checkpoint(self) -> Path:
        return self.checkpoints.save(self.state)

    def _load_checkpoint(self, path: Path, rollback: bool = False) -> None:
        state = self.checkpoints.load(path)
        if rollback:
            self.state.roll_back_to(state)
            return
        if state.world_size != self.dist.world_size:
            self.notes.append(
                f"checkpoint written by {state.world_size} process(es), resumed on "
                f"{self.dist.world_size}; batches follow the global batch size"
            )
        # A --max-steps given on resume moves the end (the schedule stretches to it).
        if self.cfg.max_steps is not None:
            state.max_steps, state.replanned = self.cfg.max_steps, True
        state.world_size = self.dist.world_size
        self.state = state
        if self.dist.is_main:
            truncate_logs(self.out, self.state.step)
        self.dist.barrier()

    # -- measurements --------------------------------------------------------------------------

    def _estimate_max_steps(self, budget: float) -> int:
        """Time a few real optimizer-free micro-steps and size the run to fit the budget."""
        rng = torch.get_rng_state()
        x, y = (t.to(self.device) for t in self.sampler.batch(0, 0, 1))

        def one() -> None:
            with autocast(self.device, self.dtype):
                _, loss = self.forward(x, y)
            loss.backward()

        micro = budget_plan.time_it(one)
        self.model.zero_grad(set_to_none=True)
        torch.set_rng_state(rng)
        return self.dist.broadcast(budget_plan.first_plan(self.cfg, budget, micro))

    def _replan(self) -> bool:
        """Once enough steps are timed, re-size the run so it ends when the budget does.
        Rank 0 decides and everyone follows, so all ranks keep the same schedule."""
        budget = self.cfg.time_budget
        assert budget is not None and self.state.max_steps is not None
        decision = budget_plan.replan(
            self.cfg,
            budget,
            self.state.step,
            self.state.elapsed,
            self.step_seconds,
            self.steps_timed,
            self.eval_seconds,
        )
        decision = self.dist.broadcast(decision)
        if decision is None:
            return False
        self.state.max_steps = decision
        self.state.replanned = True
        return True

    # -- loop ------------------------------------------------------------------------------

    def _write_metrics(self, record: dict[str, Any]) -> None:
        if self.dist.is_main:
            append_jsonl(self.out / METRICS_FILE, record)
            self.trackers.record(record)

    def _open_trackers(self, resumed: bool) -> None:
        """The --log-to trackers, on rank 0, once config.json is written (their hyper-parameters
        are what it records). MFU is taken against this device's matmul peak, measured now."""
        if self.dist.is_main and self.cfg.log_to != "none":
            self.trackers = Trackers.open(
                self.cfg.log_to,
                self.out,
                read_run_config(self.out),
                self.state.step + 1 if resumed else None,  # the first step this process logs
                mfu_factor(self.model, self.device, self.dtype, self.dist.world_size),
            )

    def fit(self) -> TrainResult:
        """Train, holding the run folder's lock throughout: a second process training into
        the same --out (the CLI, or the GUI) is refused in one line naming the first."""
        lock, problem = Lock(self.out, "--out"), None
        if self.dist.is_main:
            try:
                lock.acquire()
            except TinylmError as exc:
                problem = str(exc)
        problem = self.dist.broadcast(problem)  # every rank stops if rank 0 may not write
        if problem is not None:
            raise TinylmError(problem)
        try:
            return self._fit()
        finally:
            lock.release()  # and a folder it made for a run that never began is gone

    def _fit(self) -> TrainResult:
        self._setup()
        resumed = self.checkpoint is not None
        if self.dist.is_main:
            check_checkpoint_room(self.out, count_parameters(self.model), self.cfg.keep_checkpoints)
            if not resumed:
                (self.out / METRICS_FILE).unlink(missing_ok=True)
                (self.out / SAMPLES_FILE).unlink(missing_ok=True)
                atomic_copy(self.meta.tokenizer_path, self.out / TOKENIZER_FILE)
        if resumed:
            assert self.checkpoint is not None
            self._load_checkpoint(self.checkpoint)
        if self.state.max_steps is None:
            assert self.cfg.time_budget is not None
            self.state.max_steps = self._estimate_max_steps(self.cfg.time_budget)
            budget = format_duration(self.cfg.time_budget)
            self.notes.append(f"time budget {budget} -> {self.state.max_steps} steps")
        if self.dist.is_main:
            write_training_config(
                self.out,
                self.model_cfg,
                self.cfg,
                self.meta,
                len(self.train_tokens),
                count_parameters(self.model),
                self._init_from_note(),
                device_description(self.device, self.dist.world_size),
            )
        self._announce(resumed)
        self._open_trackers(resumed)
        if self.cfg.on_nan == "rollback" and self.state.step == 0:
            self.save_checkpoint()  # something to roll back to before the first regular save
        try:
            interrupted = self._loop()
            if self.state.step > 0 or resumed:
                self.save_checkpoint()
            if self.dist.is_main:
                plot_losses(self.out / METRICS_FILE, self.out / LOSS_PLOT)
                self.trackers.loss_plot(self.out / LOSS_PLOT)
        except OSError as exc:  # metrics, samples or logs could not be written: disk full, gone
            last = next(iter(checkpoint_dirs(self.out)), None)
            kept = f"the last checkpoint {last.name} is intact" if last else "no checkpoint yet"
            raise TinylmError(
                f"could not write to {self.out} at step {self.state.step} ({exc.strerror or exc}); "
                f"{kept}; free space and continue with --resume"
            ) from None
        finally:
            self.trackers.close()
        return TrainResult(
            run_dir=self.out,
            step=self.state.step,
            max_steps=self.state.max_steps,
            val_loss=self.state.last_val_loss,
            first_val_loss=self.state.first_val_loss,
            elapsed=self.state.elapsed,
            interrupted=interrupted,
        )

    def _init_from_note(self) -> str | None:
        """Where a fine-tuned run's first weights came from (kept across resumes)."""
        if self.init_from is not None:
            return str(self.init_from.resolve())
        if self.checkpoint is not None:
            return read_run_config(self.out).get("init_from")
        return None

    def _announce(self, resumed: bool) -> None:
        lines = announcement(
            self.out,
            self.model_cfg,
            self.cfg,
            self.state,
            resumed,
            f"{self.device.type} {dtype_name(self.dtype)}",
            self.dist.world_size,
            count_parameters(self.model),
            len(self.train_tokens),
        )
        for line in [*lines[:1], *(f"note: {n}" for n in self.notes), *lines[1:]]:
            self._say(line)

    @property
    def _tokens_per_step(self) -> int:
        cfg = self.cfg
        return cfg.batch_size * self.dist.world_size * cfg.grad_accum * self.model_cfg.max_seq_len

    def _loop(self) -> bool:
        cfg, state = self.cfg, self.state  # (a rollback changes the state in place)
        assert state.max_steps is not None
        warmup = effective_warmup(cfg.warmup, state.max_steps)
        tokens_per_step = self._tokens_per_step
        log = StepLog(self._write_metrics, self.dist.mean, tokens_per_step)
        self.model.train()
        interrupted = False
        with (
            stop_requests() as stop,
            Progress(
                "training",
                total=state.max_steps,
                unit="steps",
                enabled=self.show_progress,
                start=state.step,
            ) as bar,
        ):
            if state.step == 0:
                self._eval_and_sample(bar)
            last_tick = time.perf_counter()
            while state.step < state.max_steps:
                over_budget = cfg.time_budget is not None and state.elapsed > cfg.time_budget * 1.15
                # 2: someone asked to stop, 1: out of time; one collective per step.
                verdict = self.dist.max(2 if stop.requested else int(over_budget), self.device)
                if verdict == 2:
                    interrupted = True
                    break
                if verdict == 1:
                    bar.log(f"time budget used up at step {state.step}; stopping early")
                    break
                lr = state.lr_scale * lr_at(state.step, cfg.lr, cfg.min_lr, warmup, state.max_steps)
                for group in self.optimizer.param_groups:
                    group["lr"] = lr
                step_start = time.perf_counter()
                loss, healthy, grad_norm = self._train_step()
                self.step_seconds += time.perf_counter() - step_start
                self.steps_timed += 1
                if not healthy:
                    log.flush()
                    if self.bad_steps.handle(state, bar):  # rolled back: the clock runs on
                        now = time.perf_counter()
                        state.elapsed += now - last_tick
                        last_tick = now
                        continue
                else:
                    self.bad_steps.ok()
                state.step += 1
                state.tokens_seen += tokens_per_step
                log.step(state.step, loss if healthy else None, lr, grad_norm)
                if log.pending and (
                    state.step % cfg.log_every == 0 or state.step == state.max_steps
                ):
                    # max_steps: it moves once a time budget replans
                    record = {"elapsed": state.elapsed, "max_steps": state.max_steps}
                    train_loss, rate = log.end_window({"step": state.step, **record}, step_start)
                    val = f" | val {state.last_val_loss:.3f}" if state.last_val_loss else ""
                    bar.update(
                        completed=state.step,
                        status=f"loss {train_loss:.3f}{val} | {rate:,.0f} tok/s | lr {lr:.1e}",
                    )
                else:
                    log.add_time(time.perf_counter() - step_start)
                if state.step % cfg.eval_every == 0 or state.step == state.max_steps:
                    self._eval_and_sample(bar)
                if state.step % cfg.save_every == 0 and state.step < state.max_steps:
                    self.save_checkpoint()
                if not state.replanned and self._replan():
                    warmup = effective_warmup(cfg.warmup, state.max_steps)
                    bar.update(total=state.max_steps)
                    bar.log(f"measured speed: {state.max_steps} steps fit the time budget")
                # Wall-clock, eval and saving included: this is what the budget limits.
                now = time.perf_counter()
                state.elapsed += now - last_tick
                last_tick = now
        log.flush()
        if interrupted:
            self._say(
                f"interrupted at step {state.step}; continue with the same command plus --resume"
            )
        return interrupted

    def _train_step(self) -> tuple[torch.Tensor, bool, torch.Tensor]:
        """One optimizer step; returns the mean loss, whether the update was applied (it is
        not when the loss or the gradient norm is NaN/Inf on any rank) and the gradient norm
        before clipping."""
        cfg = self.cfg
        total = torch.zeros((), device=self.device)
        for micro in range(cfg.grad_accum):
            x, y = self.sampler.batch(self.state.step, micro, cfg.grad_accum)
            # All prompt, nothing to learn: a mean over no targets is NaN. The forward/backward
            # still runs (with a zero loss) so data-parallel ranks stay in step.
            empty = self.train_mask is not None and not bool((y != -100).any())
            x, y = x.to(self.device, non_blocking=True), y.to(self.device, non_blocking=True)
            with gradient_sync(self.train_module, micro == cfg.grad_accum - 1):
                with autocast(self.device, self.dtype):
                    logits, loss = self.forward(x, None if empty else y)
                if empty:
                    loss = logits.float().sum() * 0.0
                if micro == 0 and self.faults.fire("nan_loss", self.state.step + 1):
                    loss = loss * float("nan")
                self.scaler.scale(loss / cfg.grad_accum).backward()
            total += loss.detach()
        self.scaler.unscale_(self.optimizer)
        # The norm is needed anyway to notice a bad step; max_norm=inf measures without clipping.
        max_norm = cfg.grad_clip if cfg.grad_clip > 0 else float("inf")
        norm = nn.utils.clip_grad_norm_(self.model.parameters(), max_norm)
        finite = bool(torch.isfinite(norm)) and bool(torch.isfinite(total))
        healthy = self.dist.max(0 if finite else 1, self.device) == 0
        if healthy:
            self.scaler.step(self.optimizer)
        self.scaler.update()
        self.optimizer.zero_grad(set_to_none=True)
        return total / cfg.grad_accum, healthy, norm.detach()

    def _eval_and_sample(self, bar: Progress) -> None:
        started = time.perf_counter()
        val = self.validator.loss()  # None without held-out text: no made-up number
        if val is not None:
            if self.state.first_val_loss is None:
                self.state.first_val_loss = val
            self.state.last_val_loss = val
            ppl, step = math.exp(min(val, 700)), self.state.step
            record = {"step": step, "val_loss": val, "val_ppl": ppl, "elapsed": self.state.elapsed}
            self._write_metrics(record)
            bar.log(f"step {self.state.step}: validation loss {val:.4f}, perplexity {ppl:.2f}")
        every = self.cfg.sample_every or self.cfg.eval_every
        if self.state.step % every == 0 or self.state.step == self.state.max_steps:
            text = self.validator.sample(self.out, self.state.step)
            if self.dist.is_main:
                append_jsonl(self.out / SAMPLES_FILE, {"step": self.state.step, "text": text})
                self.trackers.sample(self.state.step, text)
            bar.log(f"sample: {text}")
        if self.dist.is_main:
            plot_losses(self.out / METRICS_FILE, self.out / LOSS_PLOT)
        self.eval_seconds += time.perf_counter() - started
