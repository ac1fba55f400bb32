"""`tinylm train`: the training loop.

AdamW (fused where supported) with warm-up + cosine decay, gradient accumulation and clipping,
bf16 autocast (CPU too), optional torch.compile, periodic validation and samples, metrics.jsonl,
and resumable safetensors checkpoints. Batches are a function of the step (see data.dataset) and
the checkpoint holds the optimizer and RNG state, so stop + `--resume` reproduces the loss curve
of a run that never stopped. Under `torchrun` the same loop runs data-parallel (DDP or FSDP2);
rank 0 alone writes files.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from tinylm.checkpoint import (
    MODEL_FILE,
    TRAINER_STATE_FILE,
    check_model_tensors,
    checkpoint_problem,
    load_model_weights,
    model_tensors,
    optimizer_state_from,
    optimizer_tensors,
    read_tensors,
    save_tensors,
    write_manifest,
)
from tinylm.config import ModelConfig, TrainConfig, model_config_from_dict
from tinylm.data.dataset import BatchSampler, load_meta, open_mask, open_tokens
from tinylm.device import (
    autocast,
    compile_cache_for_this_cpu,
    configure_backends,
    dtype_name,
    resolve_device,
    resolve_dtype,
)
from tinylm.distributed import (
    full_state,
    gradient_sync,
    init_distributed,
    load_full_state,
    wrap_model,
)
from tinylm.errors import TinylmError
from tinylm.evaluate import token_nll
from tinylm.faults import Faults
from tinylm.fileio import atomic_copy, atomic_open, fsync_dir
from tinylm.framing import BOS_EOS
from tinylm.models import build_model, check_data_fits_family, count_parameters
from tinylm.optim import make_optimizer
from tinylm.plots import plot_losses
from tinylm.precision import auto_candidates, fastest
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

# What a launcher (the GUI) may put in a new run folder before training starts: its job record,
# the log it sends our output to, and a config file with the chosen hyper-parameters.
LAUNCHER_FILES = ("job.json", "train.log", "train.toml")
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


def checkpoint_dirs(run_dir: Path) -> list[Path]:
    """Complete checkpoint folders, newest first (temp folders of an interrupted save excluded)."""
    root = run_dir / CHECKPOINTS_DIR
    if not root.is_dir():
        return []
    done = [p for p in root.glob("step-*") if p.is_dir() and not p.name.endswith(".tmp")]
    return sorted(done, reverse=True)


def resumable_checkpoint(run_dir: Path) -> tuple[Path | None, list[str]]:
    """The newest checkpoint whose files match their manifest, and notes on any skipped."""
    notes = []
    candidates = checkpoint_dirs(run_dir)
    for path in candidates:
        problem = checkpoint_problem(path)
        if problem is None:
            return path, notes
        notes.append(f"checkpoint {path.name} is damaged ({problem}); skipped")
    if candidates:
        raise TinylmError(
            f"no intact checkpoint in {run_dir / CHECKPOINTS_DIR} ({notes[0]}); "
            "the run cannot be resumed, start a new one"
        )
    return None, notes


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
        self.checkpoint = self._check_out_dir(resume)
        if self.checkpoint is not None:
            model_cfg, train_cfg = self._configs_from_run(train_overrides or {})
        self.init_from = Path(init_from) if init_from is not None else None
        if self.init_from is not None and self.checkpoint is None:
            model_cfg = self._config_from_init_run(self.init_from)
        self.model_cfg = model_cfg
        self.cfg = train_cfg
        self.faults = Faults()
        if self.init_from is not None and self.meta.vocab_size > model_cfg.vocab_size:
            raise TinylmError(
                f"{self.data_dir} has {self.meta.vocab_size} token ids, the model to fine-tune "
                f"only {model_cfg.vocab_size}; prepare the data with the model's tokenizer.json"
            )
        # The vocabulary follows the data's tokenizer, except for a model that already has
        # weights (fine-tuning, resuming): it may have more rows than the tokenizer has ids.
        fixed_vocab = self.init_from is not None or self.checkpoint is not None
        if not fixed_vocab and model_cfg.vocab_size != self.meta.vocab_size:
            self.notes.append(
                f"vocab_size {self.meta.vocab_size} from the data's tokenizer "
                f"(the preset suggests {model_cfg.vocab_size})"
            )
            model_cfg.vocab_size = self.meta.vocab_size
        if self.init_from is not None and self.checkpoint is None:
            self.notes.append(f"starting from the weights in {self.init_from}")
        if self.meta.instruct is not None:
            self.notes.append(
                "instruct data: loss on the stories only"
                if train_cfg.loss_mask
                else "instruct data: loss on every token (--no-mask)"
            )
        model_cfg.validate()
        check_data_fits_family(model_cfg, self.tokenizer, self.data_dir)
        train_cfg.validate()
        if train_cfg.max_steps is None and train_cfg.time_budget is None:
            raise TinylmError("say how long to train: --max-steps N or --time-budget 10m")
        # Every rank has looked at --out before rank 0 starts writing into it.
        self.dist.barrier()

    def _say(self, message: str) -> None:
        if self.dist.is_main:
            console.print(message, highlight=False)

    # -- setup -------------------------------------------------------------------------------

    def _check_out_dir(self, resume: bool) -> Path | None:
        out = self.out
        if out.exists() and not out.is_dir():
            raise TinylmError(f"--out {out} exists and is not a folder")
        has_run = (out / CONFIG_FILE).is_file()
        checkpoint = None
        if has_run and resume:
            checkpoint, skipped = resumable_checkpoint(out)
            self.notes.extend(skipped)
        if resume:
            if checkpoint is None and has_run and (out / MODEL_FILE).is_file():
                raise TinylmError(
                    f"{out} has weights but no resumable checkpoint; train into a new --out"
                )
            if checkpoint is None:
                self._say(f"nothing to resume in {out}; starting a new run")
            return checkpoint
        if has_run or checkpoint_dirs(out):
            raise TinylmError(
                f"{out} already holds a run; pass --resume to continue it or choose another --out"
            )
        if out.is_dir() and any(p.name not in LAUNCHER_FILES for p in out.iterdir()):
            raise TinylmError(f"--out {out} is not empty and not a run; choose a new folder")
        return None

    def _configs_from_run(self, overrides: dict[str, Any]) -> tuple[ModelConfig, TrainConfig]:
        config = read_run_config(self.out)
        model_cfg = model_config_from_dict(config["model"], str(self.out / CONFIG_FILE))
        train_values = dict(config.get("train") or {})
        saved_optimizer = train_values.get("optimizer", "adamw")
        asked = overrides.get("optimizer")
        if asked is not None and asked != saved_optimizer:
            raise TinylmError(
                f"{self.out} was trained with --optimizer {saved_optimizer} and its checkpoint "
                f"holds that optimizer's state; resume without --optimizer {asked}, or start a "
                f"new run from it with --init-from {self.out} --optimizer {asked}"
            )
        train_values.update({k: v for k, v in overrides.items() if v is not None})
        data_sha = config.get("data", {}).get("tokenizer_sha256")
        if data_sha and data_sha != self.meta.tokenizer_sha256:
            raise TinylmError(
                f"{self.data_dir} was tokenized with another tokenizer than the run {self.out}; "
                "resume with the data it was trained on"
            )
        return model_cfg, TrainConfig(**train_values)

    def _config_from_init_run(self, run_dir: Path) -> ModelConfig:
        """The model of a finished (or imported) run to start from; its tokenizer must be the
        data's, or the token ids would mean different things."""
        from tinylm.run import check_run, run_model_config

        check_run(run_dir)
        run_tok = Tokenizer.load(run_dir / TOKENIZER_FILE)
        if run_tok.sha256() != self.meta.tokenizer_sha256:
            raise TinylmError(
                f"{self.data_dir} was tokenized with another tokenizer than --init-from "
                f"{run_dir}; prepare it with --tokenizer {run_dir / TOKENIZER_FILE}"
            )
        return run_model_config(read_run_config(run_dir), str(run_dir / CONFIG_FILE))

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
        self.dtype = self._resolve_dtype()  # before wrapping: auto times the plain model
        # `self.model` keeps the plain API (generation, state); the step calls `self.forward`.
        self.train_module = wrap_model(self.model, cfg.parallel, self.dist, self.device)
        self.optimizer = self._make_optimizer()
        self.scaler = torch.amp.GradScaler(self.device.type, enabled=self.dtype == torch.float16)
        if cfg.compile:
            compile_cache_for_this_cpu()
        self.forward = torch.compile(self.train_module) if cfg.compile else self.train_module
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
        # Numerical faults: updates skipped, rollbacks made, and the LR scale rollbacks leave.
        self.bad_steps = 0
        self.rollbacks = 0
        self.lr_scale = 1.0
        self.consecutive_bad = 0

    def _resolve_dtype(self) -> torch.dtype:
        """The autocast precision. `auto` where bf16 might win (a CPU with bf16 hardware) times
        a few training steps of this model and batch in each precision (rank 0 decides for
        all) and records the faster in the config, so --resume continues in it."""
        cfg = self.cfg
        if cfg.dtype != "auto":
            return resolve_dtype(cfg.dtype, self.device)
        dtypes = auto_candidates(self.device)
        choice = 0
        if len(dtypes) > 1:
            rng = torch.get_rng_state()
            x, y = (t.to(self.device) for t in self.sampler.batch(0, 0, 1))

            def train_step(dtype: torch.dtype) -> Callable[[], None]:
                def run() -> None:
                    with autocast(self.device, dtype):
                        _, loss = self.model(x, y)
                    loss.backward()

                return run

            shape = f"{self.model_cfg} batch {cfg.batch_size}"
            chosen = fastest("train", shape, {d: train_step(d) for d in dtypes})
            self.model.zero_grad(set_to_none=True)
            torch.set_rng_state(rng)
            choice = self.dist.broadcast(dtypes.index(chosen))
        cfg.dtype = dtype_name(dtypes[choice])
        if len(dtypes) > 1:
            self.notes.append(f"--dtype auto: {cfg.dtype}, the faster here (measured)")
        return dtypes[choice]

    def _make_optimizer(self) -> torch.optim.Optimizer:
        cfg = self.cfg
        return make_optimizer(
            self.model, cfg.optimizer, cfg.lr, cfg.weight_decay, (cfg.beta1, cfg.beta2)
        )

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
                "world_size": self.dist.world_size,
                "bad_steps": self.bad_steps,
                "rollbacks": self.rollbacks,
                "lr_scale": self.lr_scale,
            }
        )

    def save_checkpoint(self) -> Path:
        """Write checkpoints/step-N/ under a temp name, rename it into place (atomic), then point
        the run's top-level model.safetensors at it and drop older checkpoints.

        Every rank takes part (the state is gathered from all of them); rank 0 writes."""
        model_state, optim_state = full_state(self.model, self.optimizer)
        rng_cpu = self.dist.gather(torch.get_rng_state())
        rng_cuda = self.dist.gather(
            torch.cuda.get_rng_state(self.device) if self.device.type == "cuda" else None
        )
        root = self.out / CHECKPOINTS_DIR
        final = root / f"step-{self.step:08d}"
        if self.dist.is_main:
            self._write_checkpoint(root, final, model_state, optim_state, rng_cpu, rng_cuda)
        self.dist.barrier()
        return final

    def _write_checkpoint(
        self,
        root: Path,
        final: Path,
        model_state: dict[str, torch.Tensor],
        optim_state: dict[str, Any],
        rng_cpu: list[torch.Tensor],
        rng_cuda: list[torch.Tensor | None],
    ) -> None:
        tmp = root / f".{final.name}.tmp"
        try:
            root.mkdir(parents=True, exist_ok=True)
            shutil.rmtree(tmp, ignore_errors=True)
            tmp.mkdir()
            meta = {"step": str(self.step), "tinylm": "checkpoint", "arch": self.model_cfg.arch}
            save_tensors(
                tmp / MODEL_FILE,
                model_tensors(model_state, self.model_cfg.tie_embeddings),
                {"format": "pt", **meta},
            )
            tensors, groups = optimizer_tensors(optim_state)
            for rank, state in enumerate(rng_cpu):
                tensors[f"rng.cpu.{rank}"] = state
            for rank, state in enumerate(rng_cuda):
                if state is not None:
                    tensors[f"rng.cuda.{rank}"] = state
            if self.scaler.is_enabled():
                tensors["scaler.scale"] = self.scaler.get_scale() * torch.ones(1)
            save_tensors(
                tmp / TRAINER_STATE_FILE,
                tensors,
                {"optimizer": groups, "trainer": self._state_json(), **meta},
            )
            write_manifest(tmp, self.step)
            fsync_dir(tmp)
            if final.exists():
                shutil.rmtree(final)
            os.replace(tmp, final)  # the moment the checkpoint exists, whole
            fsync_dir(root)
            link_tmp = self.out / f".{MODEL_FILE}.tmp"
            link_tmp.unlink(missing_ok=True)
            try:
                os.link(final / MODEL_FILE, link_tmp)  # same bytes, no extra disk
            except OSError:
                shutil.copyfile(final / MODEL_FILE, link_tmp)
            os.replace(link_tmp, self.out / MODEL_FILE)
        except OSError as exc:
            shutil.rmtree(tmp, ignore_errors=True)
            previous = next((p.name for p in checkpoint_dirs(self.out) if p != final), None)
            kept = f"the previous checkpoint {previous} is intact" if previous else "none saved yet"
            raise TinylmError(
                f"could not save checkpoint step {self.step} in {root} "
                f"({exc.strerror or exc}); {kept}; free space and continue with --resume"
            ) from None
        older = [p for p in checkpoint_dirs(self.out) if p != final]
        for old in older[self.cfg.keep_checkpoints - 1 :]:
            shutil.rmtree(old, ignore_errors=True)

    def _check_disk(self) -> None:
        """Refuse to start a run that could not save: an unwritable folder or too little space."""
        out = self.out
        probe = out / ".tinylm-write-test"
        try:
            out.mkdir(parents=True, exist_ok=True)
            probe.write_bytes(b"\0" * 4096)
            probe.unlink()
        except OSError as exc:
            raise TinylmError(
                f"cannot write to --out {out} ({exc.strerror or exc}); choose a writable folder"
            ) from None
        # weights + two AdamW moments in fp32; while saving, one more checkpoint than kept
        per_checkpoint = count_parameters(self.model) * 4 * 3 + (1 << 20)
        footprint = per_checkpoint * (self.cfg.keep_checkpoints + 1)
        existing = sum(f.stat().st_size for d in checkpoint_dirs(out) for f in d.iterdir())
        need = max(per_checkpoint, footprint - existing)
        free = shutil.disk_usage(out).free
        if free < need:
            raise TinylmError(
                f"not enough free space in {out}: saving needs about {need / 1e6:,.0f} MB more "
                f"({self.cfg.keep_checkpoints + 1} checkpoints of {per_checkpoint / 1e6:,.0f} MB),"
                f" {free / 1e6:,.0f} MB are free; free space or choose another --out"
            )

    def _load_checkpoint(self, path: Path, rollback: bool = False) -> None:
        weights, _ = read_tensors(path / MODEL_FILE)
        with torch.device("meta"):
            expected = build_model(self.model_cfg).state_dict()
        check_model_tensors(path / MODEL_FILE, weights, expected, self.model_cfg.tie_embeddings)
        tensors, meta = read_tensors(path / TRAINER_STATE_FILE)
        try:
            optim_state = optimizer_state_from(tensors, meta["optimizer"])
            state = json.loads(meta["trainer"])
        except (KeyError, ValueError) as exc:
            raise TinylmError(
                f"{path} holds a damaged trainer state ({exc}); cannot resume"
            ) from None
        load_full_state(self.model, self.optimizer, weights, optim_state)
        rank = self.dist.rank
        torch.set_rng_state(tensors.get(f"rng.cpu.{rank}", tensors["rng.cpu.0"]))
        cuda_rng = tensors.get(f"rng.cuda.{rank}", tensors.get("rng.cuda.0"))
        if self.device.type == "cuda" and cuda_rng is not None:
            torch.cuda.set_rng_state(cuda_rng, self.device)
        if "scaler.scale" in tensors and self.scaler.is_enabled():
            self.scaler.update(float(tensors["scaler.scale"]))
        self.step = state["step"]
        self.tokens_seen = state["tokens_seen"]
        self.last_val_loss = state["last_val_loss"]
        if rollback:
            return  # keep the clock, the plan and the fault counters of the run going on
        self.max_steps = state["max_steps"] if self.cfg.max_steps is None else self.cfg.max_steps
        self.elapsed = state["elapsed"]
        self.first_val_loss = state["first_val_loss"]
        self.replanned = state.get("replanned", True) or self.cfg.max_steps is not None
        self.bad_steps = state.get("bad_steps", 0)
        self.rollbacks = state.get("rollbacks", 0)
        self.lr_scale = state.get("lr_scale", 1.0)
        saved_world = state.get("world_size", 1)
        if saved_world != self.dist.world_size:
            self.notes.append(
                f"checkpoint written by {saved_world} process(es), resumed on "
                f"{self.dist.world_size}; batches follow the global batch size"
            )
        if self.dist.is_main:
            self._truncate_metrics()
        self.dist.barrier()

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
        """Validation loss on a fixed, evenly spread subset of windows, split across ranks."""
        total, count = token_nll(
            self.model,
            self.val_tokens,
            self.cfg.batch_size,
            self.device,
            self.dtype,
            # sized by the global batch: 1 or N processes evaluate the same windows
            max_windows=self.cfg.eval_batches * self.cfg.batch_size * self.dist.world_size,
            shard=(self.dist.rank, self.dist.world_size),
            mask=self.val_mask,
        )
        sums = self.dist.sum(torch.tensor([total, float(count)], dtype=torch.float64))
        return float(sums[0] / max(1.0, float(sums[1])))

    def sample(self) -> str:
        """A sample story (every rank runs it in lockstep: FSDP's forward is collective)."""
        lang = "zh" if _looks_chinese(self.tokenizer) else "en"
        run = LoadedRun(self.out, self.model, self.tokenizer, {}, self.device)
        options = dict(
            max_new_tokens=self.cfg.sample_tokens, temperature=0.8, top_p=0.95, seed=self.step
        )
        # Instruct data: sample with the prompt of a held-out record, in the training format.
        prompt = (self.meta.instruct or {}).get("sample_prompt") or SAMPLE_PROMPTS[lang]
        return str(run.generate(prompt, **options))

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
        return self.dist.broadcast(max(1, int(steps)))

    def _replan(self) -> bool:
        """Once enough steps are timed, re-size the run so it ends when the budget does.
        Rank 0 decides and everyone follows, so all ranks keep the same schedule."""
        budget = self.cfg.time_budget
        assert budget is not None and self.max_steps is not None
        decision: int | None = None
        if self.steps_timed >= 10 and self.elapsed >= min(30.0, 0.1 * budget):
            per_step = self.step_seconds / self.steps_timed
            evals_so_far = 1 + self.step // self.cfg.eval_every
            per_eval = self.eval_seconds / evals_so_far
            remaining = budget - self.elapsed - per_eval  # the final evaluation
            steps_left = remaining / (per_step + per_eval / self.cfg.eval_every)
            decision = max(self.step + 1, self.step + int(steps_left))
        decision = self.dist.broadcast(decision)
        if decision is None:
            return False
        self.max_steps = decision
        self.replanned = True
        return True

    # -- loop ------------------------------------------------------------------------------

    def _write_metrics(self, record: dict[str, Any]) -> None:
        if self.dist.is_main:
            with open(self.out / METRICS_FILE, "a", encoding="utf-8") as f:
                f.write(json.dumps(record) + "\n")

    def fit(self) -> TrainResult:
        self._setup()
        resumed = self.checkpoint is not None
        if self.dist.is_main:
            self._check_disk()
            if not resumed:
                (self.out / METRICS_FILE).unlink(missing_ok=True)
                (self.out / SAMPLES_FILE).unlink(missing_ok=True)
                atomic_copy(self.meta.tokenizer_path, self.out / TOKENIZER_FILE)
        if resumed:
            assert self.checkpoint is not None
            self._load_checkpoint(self.checkpoint)
        if self.max_steps is None:
            assert self.cfg.time_budget is not None
            self.max_steps = self._estimate_max_steps(self.cfg.time_budget)
            self.notes.append(
                f"time budget {format_duration(self.cfg.time_budget)} -> {self.max_steps} steps"
            )
        if self.dist.is_main:
            write_run_config(
                self.out,
                self.model_cfg,
                self.cfg,
                {
                    "data": {
                        "path": str(self.data_dir.resolve()),
                        "tokenizer_sha256": self.meta.tokenizer_sha256,
                        "train_tokens": len(self.train_tokens),
                        "instruct": self.meta.instruct is not None,
                    },
                    "parameters": count_parameters(self.model),
                    # prepared shards frame every story as BOS + story + EOS
                    "framing": BOS_EOS,
                    **self._init_note(),
                },
            )
        self._announce(resumed)
        if self.cfg.on_nan == "rollback" and self.step == 0:
            self.save_checkpoint()  # something to roll back to before the first regular save
        try:
            interrupted = self._loop()
            if self.step > 0 or resumed:
                self.save_checkpoint()
        except OSError as exc:  # metrics, samples or logs could not be written: disk full, gone
            last = next(iter(checkpoint_dirs(self.out)), None)
            kept = f"the last checkpoint {last.name} is intact" if last else "no checkpoint yet"
            raise TinylmError(
                f"could not write to {self.out} at step {self.step} ({exc.strerror or exc}); "
                f"{kept}; free space and continue with --resume"
            ) from None
        if self.dist.is_main:
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

    def _init_note(self) -> dict[str, Any]:
        """Where a fine-tuned run's first weights came from (kept across resumes)."""
        if self.init_from is not None:
            return {"init_from": str(self.init_from.resolve())}
        if self.checkpoint is not None:
            previous = read_run_config(self.out).get("init_from")
            return {"init_from": previous} if previous else {}
        return {}

    def _announce(self, resumed: bool) -> None:
        cfg, m = self.cfg, self.model_cfg
        world = self.dist.world_size
        params = count_parameters(self.model)
        what = f"resuming {self.out} at step {self.step}" if resumed else f"training {self.out}"
        where = f"{self.device.type} {dtype_name(self.dtype)}"
        if world > 1:
            where = f"{world} processes ({cfg.parallel}) on {where}"
        self._say(
            f"{what}: {params / 1e6:.2f}M parameters ({m.describe()}) on {where}"
            f"{' compiled' if cfg.compile else ''}; "
            f"{self.max_steps} steps of {self._tokens_per_step:,} tokens ({cfg.batch_size} x "
            f"{world} x {cfg.grad_accum} x {m.max_seq_len}), "
            f"{len(self.train_tokens):,} training tokens"
        )
        for note in self.notes:
            self._say(f"note: {note}")
        assert self.max_steps is not None
        warmup = effective_warmup(cfg.warmup, self.max_steps)
        if warmup != cfg.warmup:
            self._say(f"note: warm-up shortened to {warmup} steps (a fifth of the run)")

    @property
    def _tokens_per_step(self) -> int:
        cfg = self.cfg
        return cfg.batch_size * self.dist.world_size * cfg.grad_accum * self.model_cfg.max_seq_len

    def _loop(self) -> bool:
        cfg = self.cfg
        assert self.max_steps is not None
        warmup = effective_warmup(cfg.warmup, self.max_steps)
        tokens_per_step = self._tokens_per_step
        stop = {"requested": False}
        pending: list[tuple[int, torch.Tensor, float]] = []

        def on_signal(signum: int, frame: object) -> None:
            if stop["requested"]:
                raise KeyboardInterrupt  # second Ctrl-C: leave now
            stop["requested"] = True

        handlers = {}
        if threading.current_thread() is threading.main_thread():
            # SIGTERM too: schedulers and torchrun stop workers with it; save like Ctrl-C.
            for sig in (signal.SIGINT, signal.SIGTERM):
                handlers[sig] = signal.signal(sig, on_signal)
        self.model.train()
        interrupted = False
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
                while self.step < self.max_steps:
                    over_budget = (
                        cfg.time_budget is not None and self.elapsed > cfg.time_budget * 1.15
                    )
                    # 2: someone asked to stop, 1: out of time; one collective per step.
                    verdict = self.dist.max(
                        2 if stop["requested"] else int(over_budget), self.device
                    )
                    if verdict == 2:
                        interrupted = True
                        break
                    if verdict == 1:
                        bar.log(f"time budget used up at step {self.step}; stopping early")
                        break
                    lr = self.lr_scale * lr_at(
                        self.step, cfg.lr, cfg.min_lr, warmup, self.max_steps
                    )
                    for group in self.optimizer.param_groups:
                        group["lr"] = lr
                    step_start = time.perf_counter()
                    loss, healthy = self._train_step()
                    self.step_seconds += time.perf_counter() - step_start
                    self.steps_timed += 1
                    if not healthy:
                        self._flush_losses(pending)
                        pending = []
                        if self._on_bad_step(bar):  # rolled back: the clock runs on
                            now = time.perf_counter()
                            self.elapsed += now - last_tick
                            last_tick = now
                            continue
                    else:
                        self.consecutive_bad = 0
                    self.step += 1
                    self.tokens_seen += tokens_per_step
                    window_tokens += tokens_per_step
                    if healthy:
                        pending.append((self.step, loss, lr))
                    if pending and (self.step % cfg.log_every == 0 or self.step == self.max_steps):
                        train_loss = self._flush_losses(pending)
                        window_time += time.perf_counter() - step_start  # includes the sync
                        rate = window_tokens / max(1e-9, window_time)
                        self._write_metrics(
                            {
                                "step": self.step,
                                "tokens_per_s": rate,
                                "elapsed": self.elapsed,
                                "max_steps": self.max_steps,  # moves once a time budget replans
                            }
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
            finally:
                for sig, previous in handlers.items():
                    signal.signal(sig, previous)
        if pending:
            self._flush_losses(pending)
        if interrupted:
            self._say(
                f"interrupted at step {self.step}; continue with the same command plus --resume"
            )
        return interrupted

    def _on_bad_step(self, bar: Progress) -> bool:
        """A NaN/Inf loss or gradient: the update was not applied. Skip the batch, roll back to
        the last checkpoint with half the learning rate, or stop, as --on-nan says. Returns True
        after a rollback (the step counter moved back)."""
        step = self.step + 1
        self.bad_steps += 1
        self.consecutive_bad += 1
        policy = self.cfg.on_nan
        limit = self.cfg.max_bad_steps
        record: dict[str, Any] = {"step": step, "bad_step": True, "bad_steps": self.bad_steps}
        if policy == "skip" and self.consecutive_bad <= limit:
            self._write_metrics({**record, "action": "skipped"})
            bar.log(
                f"step {step}: NaN/Inf loss or gradient; update skipped "
                f"({self.bad_steps} skipped so far)"
            )
            return False
        if policy == "rollback" and self.rollbacks < limit:
            target, _ = resumable_checkpoint(self.out) if self.dist.is_main else (None, [])
            target = self.dist.broadcast(target)
            if target is not None:
                self.rollbacks += 1
                self.lr_scale *= 0.5
                self._load_checkpoint(target, rollback=True)
                self._write_metrics(
                    {
                        **record,
                        "step": self.step,
                        "from_step": step,
                        "action": "rollback",
                        "rollbacks": self.rollbacks,
                        "lr_scale": self.lr_scale,
                    }
                )
                bar.log(
                    f"step {step}: NaN/Inf loss or gradient; rolled back to step {self.step} "
                    f"with the learning rate x{self.lr_scale:g}"
                )
                return True
        self._write_metrics({**record, "action": "stopped"})
        self.save_checkpoint()  # the state is clean: the bad update was never applied
        why = "too many in a row" if policy != "stop" else "--on-nan stop"
        raise TinylmError(
            f"training stopped at step {step}: the loss or gradients became NaN/Inf ({why}); "
            f"a clean checkpoint of step {self.step} is saved; resume with a lower --lr or "
            "--dtype fp32"
        )

    def _flush_losses(self, pending: list[tuple[int, torch.Tensor, float]]) -> float:
        """Write one metrics line per step (averaged over ranks); returns the window's mean."""
        if not pending:
            return float("nan")
        losses = self.dist.mean(torch.stack([loss for _, loss, _ in pending])).tolist()
        for (step, _, lr), value in zip(pending, losses, strict=True):
            self._write_metrics(
                {
                    "step": step,
                    "train_loss": value,
                    "lr": lr,
                    "tokens": step * self._tokens_per_step,
                }
            )
        return sum(losses) / len(losses)

    def _train_step(self) -> tuple[torch.Tensor, bool]:
        """One optimizer step; returns the mean loss and whether the update was applied (it is
        not when the loss or the gradient norm is NaN/Inf on any rank)."""
        cfg = self.cfg
        total = torch.zeros((), device=self.device)
        for micro in range(cfg.grad_accum):
            x, y = self.sampler.batch(self.step, micro, cfg.grad_accum)
            # All prompt, nothing to learn: a mean over no targets is NaN. The forward/backward
            # still runs (with a zero loss) so data-parallel ranks stay in step.
            empty = self.train_mask is not None and not bool((y != -100).any())
            x, y = x.to(self.device, non_blocking=True), y.to(self.device, non_blocking=True)
            with gradient_sync(self.train_module, micro == cfg.grad_accum - 1):
                with autocast(self.device, self.dtype):
                    logits, loss = self.forward(x, None if empty else y)
                if empty:
                    loss = logits.float().sum() * 0.0
                if micro == 0 and self.faults.fire("nan_loss", self.step + 1):
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
        return total / cfg.grad_accum, healthy

    def _eval_and_sample(self, bar: Progress) -> None:
        started = time.perf_counter()
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
            if self.dist.is_main:
                with open(self.out / SAMPLES_FILE, "a", encoding="utf-8") as f:
                    record = {"step": self.step, "text": text}
                    f.write(json.dumps(record, ensure_ascii=False) + "\n")
            bar.log(f"sample: {text}")
        if self.dist.is_main:
            plot_losses(self.out / METRICS_FILE, self.out / "loss.png")
        self.eval_seconds += time.perf_counter() - started


def _looks_chinese(tokenizer: Tokenizer) -> bool:
    vocab = tokenizer.hf.get_vocab()
    han = sum(1 for piece in vocab if any("\u4e00" <= ch <= "\u9fff" for ch in piece))
    return han > len(vocab) * 0.2
