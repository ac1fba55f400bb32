"""`tinylm train`: the training loop.

AdamW (fused where supported) with warm-up + cosine decay, gradient accumulation and clipping,
bf16 autocast (CPU too), optional torch.compile, periodic validation and samples, metrics.jsonl,
and resumable safetensors checkpoints. Batches are a function of the step (see data.dataset) and
the checkpoint holds the optimizer and RNG state, so stop + `--resume` reproduces the loss curve
of a run that never stopped.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import signal
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from tinylm.checkpoint import (
    MODEL_FILE,
    TRAINER_STATE_FILE,
    load_model_weights,
    optimizer_tensors,
    read_tensors,
    restore_optimizer,
    save_model,
    save_tensors,
)
from tinylm.config import ModelConfig, TrainConfig, model_config_from_dict
from tinylm.data.dataset import BatchSampler, load_meta, open_tokens
from tinylm.device import autocast, configure_backends, dtype_name, resolve_device, resolve_dtype
from tinylm.errors import TinylmError
from tinylm.evaluate import token_nll
from tinylm.fileio import atomic_open
from tinylm.models import build_model, check_tokenizer_fits, count_parameters
from tinylm.plots import plot_losses
from tinylm.progress import Progress, console, format_duration
from tinylm.run import (
    CHECKPOINTS_DIR,
    CONFIG_FILE,
    METRICS_FILE,
    SAMPLES_FILE,
    TOKENIZER_FILE,
    LoadedRun,
    read_run_config,
    write_run_config,
)
from tinylm.schedule import effective_warmup, lr_at
from tinylm.tokenizer import Tokenizer

KEEP_CHECKPOINTS = 1
SAMPLE_PROMPTS = {"en": "Once upon a time", "zh": "从前"}


@dataclass
class TrainResult:
    run_dir: Path
    step: int
    max_steps: int
    val_loss: float | None
    first_val_loss: float | None
    elapsed: float
    interrupted: bool


def latest_checkpoint(run_dir: Path) -> Path | None:
    root = run_dir / CHECKPOINTS_DIR
    if not root.is_dir():
        return None
    done = sorted(p for p in root.glob("step-*") if p.is_dir() and not p.name.endswith(".tmp"))
    return done[-1] if done else None


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
    ) -> None:
        self.data_dir = Path(data_dir)
        self.out = Path(out_dir)
        self.show_progress = show_progress
        self.meta = load_meta(self.data_dir)
        self.tokenizer = Tokenizer.load(self.meta.tokenizer_path)
        self.checkpoint = self._check_out_dir(resume)
        if self.checkpoint is not None:
            model_cfg, train_cfg = self._configs_from_run(train_overrides or {})
        self.model_cfg = model_cfg
        self.cfg = train_cfg
        self.notes: list[str] = []
        if model_cfg.vocab_size != self.meta.vocab_size:
            self.notes.append(
                f"vocab_size {self.meta.vocab_size} from the data's tokenizer "
                f"(the preset suggests {model_cfg.vocab_size})"
            )
            model_cfg.vocab_size = self.meta.vocab_size
        model_cfg.validate()
        check_tokenizer_fits(model_cfg, self.tokenizer, self.data_dir)
        train_cfg.validate()
        if train_cfg.max_steps is None and train_cfg.time_budget is None:
            raise TinylmError("say how long to train: --max-steps N or --time-budget 10m")

    # -- setup -------------------------------------------------------------------------------

    def _check_out_dir(self, resume: bool) -> Path | None:
        out = self.out
        if out.exists() and not out.is_dir():
            raise TinylmError(f"--out {out} exists and is not a folder")
        has_run = (out / CONFIG_FILE).is_file()
        checkpoint = latest_checkpoint(out) if has_run else None
        if resume:
            if checkpoint is None and has_run and (out / MODEL_FILE).is_file():
                raise TinylmError(
                    f"{out} has weights but no resumable checkpoint; train into a new --out"
                )
            if checkpoint is None:
                console.print(f"nothing to resume in {out}; starting a new run")
            return checkpoint
        if has_run:
            raise TinylmError(
                f"{out} already holds a run; pass --resume to continue it or choose another --out"
            )
        if out.is_dir() and any(out.iterdir()):
            raise TinylmError(f"--out {out} is not empty and not a run; choose a new folder")
        return None

    def _configs_from_run(self, overrides: dict[str, Any]) -> tuple[ModelConfig, TrainConfig]:
        config = read_run_config(self.out)
        model_cfg = model_config_from_dict(config["model"], str(self.out / CONFIG_FILE))
        train_values = dict(config.get("train") or {})
        train_values.update({k: v for k, v in overrides.items() if v is not None})
        data_sha = config.get("data", {}).get("tokenizer_sha256")
        if data_sha and data_sha != self.meta.tokenizer_sha256:
            raise TinylmError(
                f"{self.data_dir} was tokenized with another tokenizer than the run {self.out}; "
                "resume with the data it was trained on"
            )
        return model_cfg, TrainConfig(**train_values)

    def _setup(self) -> None:
        cfg = self.cfg
        self.device = resolve_device(cfg.device)
        self.dtype = resolve_dtype(cfg.dtype, self.device)
        configure_backends(self.device)
        torch.manual_seed(cfg.seed)
        self.model = build_model(self.model_cfg).to(self.device)
        self.optimizer = self._make_optimizer()
        self.scaler = torch.amp.GradScaler(self.device.type, enabled=self.dtype == torch.float16)
        self.forward = self.model
        if cfg.compile:
            self.forward = torch.compile(self.model)
        self.train_tokens = open_tokens(self.meta, "train")
        self.val_tokens = open_tokens(self.meta, "val")
        self.sampler = BatchSampler(
            self.train_tokens, self.model_cfg.max_seq_len, cfg.batch_size, cfg.seed
        )
        self.step = 0
        self.elapsed = 0.0
        self.tokens_seen = 0
        self.max_steps = cfg.max_steps
        self.first_val_loss: float | None = None
        self.last_val_loss: float | None = None
        # Time-budget runs size themselves twice: a rough guess before step 0, then once more
        # from measured step and eval times (saved, so resume stays exact).
        self.replanned = cfg.time_budget is None or cfg.max_steps is not None
        self.step_seconds = 0.0
        self.steps_timed = 0
        self.eval_seconds = 0.0

    def _make_optimizer(self) -> torch.optim.Optimizer:
        cfg = self.cfg
        params = [p for p in self.model.parameters() if p.requires_grad]
        # Decay matrices and embeddings only; norms' gains stay free (nanoGPT / llama2.c).
        decay = [p for p in params if p.dim() >= 2]
        no_decay = [p for p in params if p.dim() < 2]
        groups = [
            {"params": decay, "weight_decay": cfg.weight_decay},
            {"params": no_decay, "weight_decay": 0.0},
        ]
        kwargs = dict(lr=cfg.lr, betas=(cfg.beta1, cfg.beta2), eps=1e-8)
        try:
            return torch.optim.AdamW(groups, fused=True, **kwargs)
        except (RuntimeError, TypeError):
            return torch.optim.AdamW(groups, **kwargs)

    # -- checkpoints -------------------------------------------------------------------------

    def _state_json(self) -> str:
        return json.dumps(
            {
                "step": self.step,
                "max_steps": self.max_steps,
                "elapsed": self.elapsed,
                "tokens_seen": self.tokens_seen,
                "first_val_loss": self.first_val_loss,
                "last_val_loss": self.last_val_loss,
                "replanned": self.replanned,
            }
        )

    def save_checkpoint(self) -> Path:
        """Write checkpoints/step-N/ under a temp name, rename it into place (atomic), then point
        the run's top-level model.safetensors at it and drop older checkpoints."""
        root = self.out / CHECKPOINTS_DIR
        root.mkdir(parents=True, exist_ok=True)
        final = root / f"step-{self.step:08d}"
        tmp = root / f".step-{self.step:08d}.tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir()
        meta = {"step": str(self.step), "tinylm": "checkpoint"}
        save_model(tmp / MODEL_FILE, self.model, meta)
        tensors, groups = optimizer_tensors(self.optimizer)
        tensors["rng.cpu"] = torch.get_rng_state()
        if self.device.type == "cuda":
            tensors["rng.cuda"] = torch.cuda.get_rng_state(self.device)
        if self.scaler.is_enabled():
            tensors["scaler.scale"] = self.scaler.get_scale() * torch.ones(1)
        save_tensors(
            tmp / TRAINER_STATE_FILE,
            tensors,
            {"optimizer": groups, "trainer": self._state_json(), **meta},
        )
        if final.exists():
            shutil.rmtree(final)
        os.replace(tmp, final)
        link_tmp = self.out / f".{MODEL_FILE}.tmp"
        link_tmp.unlink(missing_ok=True)
        try:
            os.link(final / MODEL_FILE, link_tmp)  # same bytes, no extra disk
        except OSError:
            shutil.copyfile(final / MODEL_FILE, link_tmp)
        os.replace(link_tmp, self.out / MODEL_FILE)
        older = sorted(p for p in root.glob("step-*") if p != final)
        for old in older[: max(0, len(older) - (KEEP_CHECKPOINTS - 1))]:
            shutil.rmtree(old, ignore_errors=True)
        return final

    def _load_checkpoint(self, path: Path) -> None:
        load_model_weights(path / MODEL_FILE, self.model)
        tensors, meta = read_tensors(path / TRAINER_STATE_FILE)
        try:
            restore_optimizer(self.optimizer, tensors, meta["optimizer"])
            state = json.loads(meta["trainer"])
        except (KeyError, ValueError) as exc:
            raise TinylmError(
                f"{path} holds a damaged trainer state ({exc}); cannot resume"
            ) from None
        torch.set_rng_state(tensors["rng.cpu"])
        if self.device.type == "cuda" and "rng.cuda" in tensors:
            torch.cuda.set_rng_state(tensors["rng.cuda"], self.device)
        if "scaler.scale" in tensors and self.scaler.is_enabled():
            self.scaler.update(float(tensors["scaler.scale"]))
        self.step = state["step"]
        self.max_steps = state["max_steps"] if self.cfg.max_steps is None else self.cfg.max_steps
        self.elapsed = state["elapsed"]
        self.tokens_seen = state["tokens_seen"]
        self.first_val_loss = state["first_val_loss"]
        self.last_val_loss = state["last_val_loss"]
        self.replanned = state.get("replanned", True) or self.cfg.max_steps is not None
        self._truncate_metrics()

    def _truncate_metrics(self) -> None:
        """Drop metric/sample lines past the checkpoint: the resumed run rewrites them."""
        for name in (METRICS_FILE, SAMPLES_FILE):
            path = self.out / name
            if not path.is_file():
                continue
            kept = []
            for line in path.read_text(encoding="utf-8").splitlines():
                try:
                    if json.loads(line).get("step", 0) <= self.step:
                        kept.append(line)
                except json.JSONDecodeError:
                    continue
            with atomic_open(path) as f:
                f.write("".join(line + "\n" for line in kept))

    # -- measurements --------------------------------------------------------------------------

    def evaluate(self) -> float:
        total, count = token_nll(
            self.model,
            self.val_tokens,
            self.cfg.batch_size,
            self.device,
            self.dtype,
            max_windows=self.cfg.eval_batches * self.cfg.batch_size,
        )
        return total / max(1, count)

    def sample(self) -> str:
        lang = "zh" if _looks_chinese(self.tokenizer) else "en"
        run = LoadedRun(self.out, self.model, self.tokenizer, {}, self.device)
        options = dict(
            max_new_tokens=self.cfg.sample_tokens, temperature=0.8, top_p=0.95, seed=self.step
        )
        return str(run.generate(SAMPLE_PROMPTS[lang], **options))

    def _estimate_max_steps(self, budget: float) -> int:
        """Time a few real optimizer-free steps and size the run to fit the budget, so the
        cosine schedule ends when the time does (and resume is exact: max_steps is saved)."""
        rng = torch.get_rng_state()
        x, y = self.sampler.batch(0, 0, 1)
        x, y = x.to(self.device), y.to(self.device)

        def one() -> None:
            with autocast(self.device, self.dtype):
                _, loss = self.forward(x, y)
            loss.backward()

        one()  # warm-up (and compilation)
        start = time.perf_counter()
        reps = 2
        for _ in range(reps):
            one()
        micro = (time.perf_counter() - start) / reps
        self.model.zero_grad(set_to_none=True)
        torch.set_rng_state(rng)
        step_time = micro * self.cfg.grad_accum * 1.08  # + optimizer step and logging
        eval_time = micro / 3 * self.cfg.eval_batches
        sample_time = self.cfg.sample_tokens * 0.01
        per_eval = eval_time + sample_time
        steps = (budget - per_eval) / (step_time + per_eval / self.cfg.eval_every)
        return max(1, int(steps))

    # -- loop ------------------------------------------------------------------------------

    def _write_metrics(self, record: dict[str, Any]) -> None:
        with open(self.out / METRICS_FILE, "a", encoding="utf-8") as f:
            f.write(json.dumps(record) + "\n")

    def fit(self) -> TrainResult:
        self._setup()
        self.out.mkdir(parents=True, exist_ok=True)
        resumed = self.checkpoint is not None
        if resumed:
            assert self.checkpoint is not None
            self._load_checkpoint(self.checkpoint)
        else:
            (self.out / METRICS_FILE).unlink(missing_ok=True)
            (self.out / SAMPLES_FILE).unlink(missing_ok=True)
            shutil.copyfile(self.meta.tokenizer_path, self.out / TOKENIZER_FILE)
        if self.max_steps is None:
            assert self.cfg.time_budget is not None
            self.max_steps = self._estimate_max_steps(self.cfg.time_budget)
            self.notes.append(
                f"time budget {format_duration(self.cfg.time_budget)} -> {self.max_steps} steps"
            )
        write_run_config(
            self.out,
            self.model_cfg,
            self.cfg,
            {
                "data": {
                    "path": str(self.data_dir.resolve()),
                    "tokenizer_sha256": self.meta.tokenizer_sha256,
                    "train_tokens": len(self.train_tokens),
                },
                "parameters": count_parameters(self.model),
            },
        )
        self._announce(resumed)
        interrupted = self._loop()
        if self.step > 0 or resumed:
            self.save_checkpoint()
        plot_losses(self.out / METRICS_FILE, self.out / "loss.png")
        return TrainResult(
            run_dir=self.out,
            step=self.step,
            max_steps=self.max_steps,
            val_loss=self.last_val_loss,
            first_val_loss=self.first_val_loss,
            elapsed=self.elapsed,
            interrupted=interrupted,
        )

    def _announce(self, resumed: bool) -> None:
        cfg, m = self.cfg, self.model_cfg
        tokens_per_step = cfg.batch_size * cfg.grad_accum * m.max_seq_len
        params = count_parameters(self.model)
        what = f"resuming {self.out} at step {self.step}" if resumed else f"training {self.out}"
        console.print(
            f"{what}: {params / 1e6:.2f}M parameters ({m.describe()}) on {self.device.type} "
            f"{dtype_name(self.dtype)}"
            f"{' compiled' if cfg.compile else ''}; {self.max_steps} steps of "
            f"{tokens_per_step:,} tokens ({cfg.batch_size} x {cfg.grad_accum} x {m.max_seq_len}), "
            f"{len(self.train_tokens):,} training tokens",
            highlight=False,
        )
        for note in self.notes:
            console.print(f"note: {note}", highlight=False)
        warmup = effective_warmup(cfg.warmup, self.max_steps)
        if warmup != cfg.warmup:
            console.print(
                f"note: warm-up shortened to {warmup} steps (a fifth of the run)", highlight=False
            )

    @property
    def _tokens_per_step(self) -> int:
        return self.cfg.batch_size * self.cfg.grad_accum * self.model_cfg.max_seq_len

    def _loop(self) -> bool:
        cfg = self.cfg
        assert self.max_steps is not None
        warmup = effective_warmup(cfg.warmup, self.max_steps)
        tokens_per_step = self._tokens_per_step
        stop = {"requested": False}
        pending: list[tuple[int, torch.Tensor, float]] = []

        def on_sigint(signum: int, frame: object) -> None:
            if stop["requested"]:
                raise KeyboardInterrupt  # second Ctrl-C: leave now
            stop["requested"] = True

        previous = signal.signal(signal.SIGINT, on_sigint) if _main_thread() else None
        self.model.train()
        with Progress(
            "training",
            total=self.max_steps,
            unit="steps",
            enabled=self.show_progress,
            start=self.step,
        ) as bar:
            try:
                if self.step == 0:
                    self._eval_and_sample(bar)
                window_time, window_tokens = 0.0, 0
                # Per-step losses stay on the device until a log boundary: one sync per window,
                # yet metrics.jsonl gets every step, so a resumed curve matches exactly.
                last_tick = time.perf_counter()
                while self.step < self.max_steps and not stop["requested"]:
                    lr = lr_at(self.step, cfg.lr, cfg.min_lr, warmup, self.max_steps)
                    for group in self.optimizer.param_groups:
                        group["lr"] = lr
                    step_start = time.perf_counter()
                    loss = self._train_step()
                    self.step_seconds += time.perf_counter() - step_start
                    self.steps_timed += 1
                    self.step += 1
                    self.tokens_seen += tokens_per_step
                    window_tokens += tokens_per_step
                    pending.append((self.step, loss, lr))
                    if self.step % cfg.log_every == 0 or self.step == self.max_steps:
                        train_loss = self._flush_losses(pending)
                        window_time += time.perf_counter() - step_start  # includes the sync
                        rate = window_tokens / max(1e-9, window_time)
                        self._write_metrics(
                            {"step": self.step, "tokens_per_s": rate, "elapsed": self.elapsed}
                        )
                        pending = []
                        val = f" | val {self.last_val_loss:.3f}" if self.last_val_loss else ""
                        bar.update(
                            completed=self.step,
                            status=f"loss {train_loss:.3f}{val} | {rate:,.0f} tok/s | lr {lr:.1e}",
                        )
                        window_time, window_tokens = 0.0, 0
                    else:
                        window_time += time.perf_counter() - step_start
                    if self.step % cfg.eval_every == 0 or self.step == self.max_steps:
                        self._eval_and_sample(bar)
                    if self.step % cfg.save_every == 0 and self.step < self.max_steps:
                        self.save_checkpoint()
                    if not self.replanned and self._replan():
                        warmup = effective_warmup(cfg.warmup, self.max_steps)
                        bar.update(total=self.max_steps)
                        bar.log(f"measured speed: {self.max_steps} steps fit the time budget")
                    # Wall-clock, eval and saving included: this is what the budget limits.
                    now = time.perf_counter()
                    self.elapsed += now - last_tick
                    last_tick = now
                    if cfg.time_budget is not None and self.elapsed > cfg.time_budget * 1.15:
                        bar.log(f"time budget used up at step {self.step}; stopping early")
                        break
            finally:
                if previous is not None:
                    signal.signal(signal.SIGINT, previous)
        if pending:
            self._flush_losses(pending)
        if stop["requested"]:
            console.print(
                f"interrupted at step {self.step}; continue with the same command plus --resume",
                highlight=False,
            )
        return stop["requested"]

    def _flush_losses(self, pending: list[tuple[int, torch.Tensor, float]]) -> float:
        """Write one metrics line per step; returns the window's mean loss."""
        losses = torch.stack([loss for _, loss, _ in pending]).tolist()
        for (step, _, lr), value in zip(pending, losses, strict=True):
            if not math.isfinite(value):
                raise TinylmError(
                    f"training loss became {value} at step {step}; lower --lr or use --dtype fp32"
                )
            self._write_metrics(
                {
                    "step": step,
                    "train_loss": value,
                    "lr": lr,
                    "tokens": step * self._tokens_per_step,
                }
            )
        return sum(losses) / len(losses)

    def _train_step(self) -> torch.Tensor:
        cfg = self.cfg
        total = torch.zeros((), device=self.device)
        for micro in range(cfg.grad_accum):
            x, y = self.sampler.batch(self.step, micro, cfg.grad_accum)
            x, y = x.to(self.device, non_blocking=True), y.to(self.device, non_blocking=True)
            with autocast(self.device, self.dtype):
                _, loss = self.forward(x, y)
            self.scaler.scale(loss / cfg.grad_accum).backward()
            total += loss.detach()
        if cfg.grad_clip > 0:
            self.scaler.unscale_(self.optimizer)
            nn.utils.clip_grad_norm_(self.model.parameters(), cfg.grad_clip)
        self.scaler.step(self.optimizer)
        self.scaler.update()
        self.optimizer.zero_grad(set_to_none=True)
        return total / cfg.grad_accum

    def _replan(self) -> bool:
        """Once enough steps are timed, re-size the run so it ends when the budget does."""
        budget = self.cfg.time_budget
        assert budget is not None and self.max_steps is not None
        if self.steps_timed < 10 or self.elapsed < min(30.0, 0.1 * budget):
            return False
        per_step = self.step_seconds / self.steps_timed
        evals_so_far = 1 + self.step // self.cfg.eval_every
        per_eval = self.eval_seconds / evals_so_far
        remaining = budget - self.elapsed - per_eval  # the final evaluation
        steps_left = remaining / (per_step + per_eval / self.cfg.eval_every)
        self.max_steps = max(self.step + 1, self.step + int(steps_left))
        self.replanned = True
        return True

    def _eval_and_sample(self, bar: Progress) -> None:
        started = time.perf_counter()
        self._evaluate_and_sample(bar)
        self.eval_seconds += time.perf_counter() - started

    def _evaluate_and_sample(self, bar: Progress) -> None:
        val = self.evaluate()
        if self.first_val_loss is None:
            self.first_val_loss = val
        self.last_val_loss = val
        self._write_metrics(
            {
                "step": self.step,
                "val_loss": val,
                "val_ppl": math.exp(min(val, 700)),
                "elapsed": self.elapsed,
            }
        )
        bar.log(f"step {self.step}: validation loss {val:.4f}, perplexity {math.exp(val):.2f}")
        every = self.cfg.sample_every or self.cfg.eval_every
        if self.step % every == 0 or self.step == self.max_steps:
            text = self.sample()
            with open(self.out / SAMPLES_FILE, "a", encoding="utf-8") as f:
                f.write(json.dumps({"step": self.step, "text": text}, ensure_ascii=False) + "\n")
            bar.log(f"sample: {text}")
        plot_losses(self.out / METRICS_FILE, self.out / "loss.png")


def _main_thread() -> bool:
    import threading

    return threading.current_thread() is threading.main_thread()


def _looks_chinese(tokenizer: Tokenizer) -> bool:
    vocab = tokenizer.hf.get_vocab()
    han = sum(1 for piece in vocab if any("\u4e00" <= ch <= "\u9fff" for ch in piece))
    return han > len(vocab) * 0.2
