"""What a training run is before its first step: its final configs (a new run, a resumed one,
one started from another run's weights), its autocast precision, and the config.json it
records. `tinylm.trainer.Trainer` calls these; the loop itself lives there."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch import nn

from tinylm.config import ModelConfig, TrainConfig, model_config_from_dict, resolve_configs
from tinylm.data.dataset import BatchSampler, DataMeta
from tinylm.device import autocast, dtype_name, matmul_peak_flops, resolve_dtype
from tinylm.errors import TinylmError
from tinylm.framing import BOS_EOS
from tinylm.lora_spec import LoraSpec, spec_from
from tinylm.models import check_data_fits_family, count_parameters, flops_per_token
from tinylm.precision import auto_candidates, fastest
from tinylm.run import (
    CONFIG_FILE,
    TOKENIZER_FILE,
    check_run,
    read_run_config,
    run_model_config,
    write_run_config,
)
from tinylm.schedule import effective_warmup
from tinylm.tokenizer import Tokenizer
from tinylm.train_state import TrainState


def resumed_configs(
    out: Path, meta: DataMeta, overrides: dict[str, Any]
) -> tuple[ModelConfig, TrainConfig]:
    """A run's own configs when it resumes (`resolve_configs(saved=...)`): its model, its
    settings with the flags given now on top. The data must be its data, the optimizer its
    optimizer (the checkpoint holds that optimizer's state)."""
    config = read_run_config(out)
    model_cfg = model_config_from_dict(config["model"], str(out / CONFIG_FILE))
    saved_optimizer = (config.get("train") or {}).get("optimizer", "adamw")
    asked = overrides.get("optimizer")
    if asked is not None and asked != saved_optimizer:
        raise TinylmError(
            f"{out} was trained with --optimizer {saved_optimizer} and its checkpoint holds "
            f"that optimizer's state; resume without --optimizer {asked}, or start a new run "
            f"from it with --init-from {out} --optimizer {asked}"
        )
    data_sha = config.get("data", {}).get("tokenizer_sha256")
    if data_sha and data_sha != meta.tokenizer_sha256:
        raise TinylmError(
            f"{meta.path} was tokenized with another tokenizer than the run {out}; resume with "
            "the data it was trained on"
        )
    _, train_cfg = resolve_configs(flag_train=overrides, saved=config)
    return model_cfg, train_cfg


def init_model_config(run_dir: Path, meta: DataMeta) -> ModelConfig:
    """The model of a finished (or imported) run to start from; its tokenizer must be the
    data's, or the token ids would mean different things."""
    check_run(run_dir)
    config = read_run_config(run_dir)
    if "quantization" in config:
        raise TinylmError(
            f"--init-from {run_dir} is a quantized run ({config['quantization'].get('scheme')}), "
            f"for inference only; start from the float run it came from "
            f"({config.get('quantized_from', 'the run it was quantized from')})"
        )
    run_tok = Tokenizer.load(run_dir / TOKENIZER_FILE)
    if run_tok.sha256() != meta.tokenizer_sha256:
        raise TinylmError(
            f"{meta.path} was tokenized with another tokenizer than --init-from {run_dir}; "
            f"prepare it with --tokenizer {run_dir / TOKENIZER_FILE}"
        )
    return run_model_config(config, str(run_dir / CONFIG_FILE))


def fit_to_data(
    model_cfg: ModelConfig,
    train_cfg: TrainConfig,
    meta: DataMeta,
    tokenizer: Tokenizer,
    init_from: Path | None,
    checkpoint: Path | None,
) -> list[str]:
    """Check the configs against the data (in place: the vocabulary follows the data's
    tokenizer, except for a model that already has weights, fine-tuned or resumed, which may
    have more rows than the tokenizer has ids); returns the notes to print."""
    notes = []
    if init_from is not None and meta.vocab_size > model_cfg.vocab_size:
        raise TinylmError(
            f"{meta.path} has {meta.vocab_size} token ids, the model to fine-tune only "
            f"{model_cfg.vocab_size}; prepare the data with the model's tokenizer.json"
        )
    fixed_vocab = init_from is not None or checkpoint is not None
    if not fixed_vocab and model_cfg.vocab_size != meta.vocab_size:
        notes.append(
            f"vocab_size {meta.vocab_size} from the data's tokenizer "
            f"(the preset suggests {model_cfg.vocab_size})"
        )
        model_cfg.vocab_size = meta.vocab_size
    if init_from is not None and checkpoint is None:
        notes.append(f"starting from the weights in {init_from}")
    if meta.instruct is not None:
        notes.append(
            "instruct data: loss on the stories only"
            if train_cfg.loss_mask
            else "instruct data: loss on every token (--no-mask)"
        )
    model_cfg.validate()
    check_data_fits_family(model_cfg, tokenizer, meta.path)
    train_cfg.validate()
    if train_cfg.max_steps is None and train_cfg.time_budget is None:
        raise TinylmError("say how long to train: --max-steps N or --time-budget 10m")
    return notes


def training_dtype(
    cfg: TrainConfig,
    model: nn.Module,
    sampler: BatchSampler,
    device: torch.device,
    broadcast: Callable[[Any], Any],
) -> tuple[torch.dtype, str | None]:
    """The autocast precision, and a note when `auto` measured it. Where bf16 might win (a CPU
    with bf16 hardware) a few training steps of this model and batch are timed in each
    precision (`broadcast`: rank 0 decides for all). The choice is written into `cfg`, so the
    run's config.json records it and --resume continues in it."""
    if cfg.dtype != "auto":
        return resolve_dtype(cfg.dtype, device), None
    dtypes = auto_candidates(device)
    choice = 0
    if len(dtypes) > 1:
        rng = torch.get_rng_state()
        x, y = (t.to(device) for t in sampler.batch(0, 0, 1))

        def train_step(dtype: torch.dtype) -> Callable[[], None]:
            def run() -> None:
                with autocast(device, dtype):
                    _, loss = model(x, y)
                loss.backward()

            return run

        shape = f"{model.config} batch {cfg.batch_size}"
        chosen = fastest("train", shape, {d: train_step(d) for d in dtypes})
        model.zero_grad(set_to_none=True)
        torch.set_rng_state(rng)
        choice = broadcast(dtypes.index(chosen))
    cfg.dtype = dtype_name(dtypes[choice])
    note = f"--dtype auto: {cfg.dtype}, the faster here (measured)" if len(dtypes) > 1 else None
    return dtypes[choice], note


def write_training_config(
    out: Path,
    model_cfg: ModelConfig,
    cfg: TrainConfig,
    meta: DataMeta,
    train_tokens: int,
    parameters: int,
    init_from: str | None,
    hardware: str,
) -> None:
    """config.json of a training run: both configs, its data (with the sources and story
    counts of its meta.json, so a model card can name them after the data folder is gone), the
    hardware, size and story framing."""
    write_run_config(
        out,
        model_cfg,
        cfg,
        {
            "data": {
                "path": str(meta.path.resolve()),
                "tokenizer_sha256": meta.tokenizer_sha256,
                "train_tokens": train_tokens,
                "instruct": meta.instruct is not None,
                "sources": meta.sources,
                "splits": meta.splits,
            },
            "hardware": hardware,
            "parameters": parameters,
            "framing": BOS_EOS,  # prepared shards frame every story as BOS + story + EOS
            **({"init_from": init_from} if init_from else {}),
        },
    )


def announcement(
    out: Path,
    model_cfg: ModelConfig,
    cfg: TrainConfig,
    state: TrainState,
    resumed: bool,
    where: str,
    world: int,
    parameters: int,
    train_tokens: int,
) -> list[str]:
    """What `tinylm train` says before the first step: the run, the model, where it trains and
    how long; then (after the trainer's notes) a shortened warm-up, if any."""
    what = f"resuming {out} at step {state.step}" if resumed else f"training {out}"
    if world > 1:
        where = f"{world} processes ({cfg.parallel}) on {where}"
    tokens_per_step = cfg.batch_size * world * cfg.grad_accum * model_cfg.max_seq_len
    lines = [
        f"{what}: {parameters / 1e6:.2f}M parameters ({model_cfg.describe()}) on {where}"
        f"{' compiled' if cfg.compile else ''}; {state.max_steps} steps of {tokens_per_step:,} "
        f"tokens ({cfg.batch_size} x {world} x {cfg.grad_accum} x {model_cfg.max_seq_len}), "
        f"{train_tokens:,} training tokens"
    ]
    assert state.max_steps is not None
    warmup = effective_warmup(cfg.warmup, state.max_steps)
    if warmup != cfg.warmup:
        lines.append(f"note: warm-up shortened to {warmup} steps (a fifth of the run)")
    return lines


def lora_of(cfg: TrainConfig, init_from: Path | None, checkpoint: Path | None) -> LoraSpec | None:
    """The run's LoRA, if any; adapters need trained weights under them."""
    spec = spec_from(cfg)
    if spec is not None and init_from is None and checkpoint is None:
        raise TinylmError(
            "--lora-rank adapts a trained model; start from one with `tinylm finetune RUN "
            "--lora-rank N` (or --init-from RUN)"
        )
    return spec


def add_lora(model: nn.Module, spec: LoraSpec) -> str:
    """Freeze `model` and put the adapters on; the line that says what trains."""
    from tinylm.lora import apply_lora

    trainable = apply_lora(model, spec)
    total = count_parameters(model)
    return (
        f"LoRA rank {spec.rank}, alpha {spec.alpha:g} on {','.join(spec.targets)}: "
        f"{trainable:,} trainable parameters of {total:,} ({100 * trainable / total:.2f} %)"
    )


def mfu_factor(model: nn.Module, device: torch.device, dtype: torch.dtype, world: int) -> float:
    """What turns a run's tokens/s into MFU: FLOPs per token over the devices' matmul peak in
    the training dtype, measured now (half a second)."""
    peak = matmul_peak_flops(device, dtype) * world
    return flops_per_token(model, model.config.max_seq_len) / peak
