"""The run directory, the unit users pass around:

runs/NAME/
  config.json              model + training config, data source, tinylm version
  tokenizer.json           the tokenizer the model was trained with (HF tokenizers format)
  model.safetensors        latest weights
  metrics.jsonl            one JSON line per log/eval step
  samples.jsonl            periodic samples written during training
  loss.png                 train/validation loss curves
  checkpoints/step-N/      resumable state: model.safetensors + trainer_state.safetensors
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import torch
from torch import nn

from tinylm.checkpoint import (
    CHECKPOINTS_DIR,
    MODEL_FILE,
    checkpoint_dirs,
    load_model_weights,
    resumable_checkpoint,
)
from tinylm.config import ModelConfig, TrainConfig, model_config_from_dict
from tinylm.device import resolve_device, resolve_dtype
from tinylm.errors import TinylmError
from tinylm.fileio import atomic_write_json
from tinylm.framing import run_framing
from tinylm.generate import SamplingOptions, generate_tokens
from tinylm.locks import LOCK_NAME
from tinylm.lora_spec import ADAPTER_CONFIG, ADAPTER_FILE
from tinylm.models import build_model, count_parameters
from tinylm.textstream import GenerationStream
from tinylm.tokenizer import Tokenizer
from tinylm.tracking import TENSORBOARD_DIR, WANDB_DIR
from tinylm.version import __version__

CONFIG_FILE = "config.json"
TOKENIZER_FILE = "tokenizer.json"
METRICS_FILE = "metrics.jsonl"
SAMPLES_FILE = "samples.jsonl"
# What a run's sample stories (samples.jsonl) and the GUI's prompt start with, per language.
SAMPLE_PROMPTS = {"en": "Once upon a time", "zh": "从前"}
LOSS_PLOT = "loss.png"
# What a launcher (the GUI) may put in a new run folder before training starts: its job record,
# the log it sends our output to, and a config file with the chosen hyper-parameters.
LAUNCHER_FILES = ("job.json", "train.log", "train.toml", LOCK_NAME)
# (and the --log-to trackers' folders, `tinylm.tracking`; a LoRA run's adapters, `tinylm.lora`)
RUN_FILES = (
    TOKENIZER_FILE,
    METRICS_FILE,
    SAMPLES_FILE,
    LOSS_PLOT,
    CHECKPOINTS_DIR,
    MODEL_FILE,
    TENSORBOARD_DIR,
    WANDB_DIR,
    ADAPTER_FILE,
    ADAPTER_CONFIG,
)


def write_run_config(
    run_dir: Path, model_cfg: ModelConfig, train_cfg: TrainConfig | None, extra: dict[str, Any]
) -> None:
    atomic_write_json(
        run_dir / CONFIG_FILE,
        {
            "tinylm_version": __version__,
            "model": asdict(model_cfg),
            "train": asdict(train_cfg) if train_cfg is not None else None,
            **extra,
        },
    )


def check_out_dir(
    out: Path, resume: bool, say: Callable[[str], None]
) -> tuple[Path | None, list[str]]:
    """What training may do with `out`: the checkpoint to resume from (or None for a new run)
    and notes on checkpoints skipped as damaged. A run is never overwritten, and a folder of
    other files is never written into."""
    if out.exists() and not out.is_dir():
        raise TinylmError(f"--out {out} exists and is not a folder")
    has_run = (out / CONFIG_FILE).is_file()
    names = [p.name for p in out.iterdir()] if out.is_dir() else []
    foreign = any(name not in LAUNCHER_FILES for name in names)
    # what a run writes before its config.json: a run killed then is still ours to restart
    not_ours = any(name not in (*LAUNCHER_FILES, *RUN_FILES) for name in names)
    checkpoint, notes = None, []
    if has_run and resume:
        checkpoint, notes = resumable_checkpoint(out)
    if resume:
        if checkpoint is None and has_run and (out / MODEL_FILE).is_file():
            raise TinylmError(
                f"{out} has weights but no resumable checkpoint; train into a new --out"
            )
        if not out.is_dir():  # a mistyped --out must not start a new run from step 0
            raise TinylmError(
                f"--resume: there is no run in {out} (no such folder); check --out, or drop "
                "--resume to start a new run"
            )
        if not has_run and not_ours:
            raise TinylmError(
                f"--resume: {out} holds other files, not a run; check --out (nothing was "
                "written there)"
            )
        if checkpoint is None:
            # our own folder: a run stopped before its first checkpoint, or a launcher's
            say(f"nothing to resume in {out} yet; starting the run from step 0")
        return checkpoint, notes
    if has_run or checkpoint_dirs(out):
        raise TinylmError(
            f"{out} already holds a run; pass --resume to continue it or choose another --out"
        )
    if foreign:
        raise TinylmError(f"--out {out} is not empty and not a run; choose a new folder")
    return None, notes


def append_jsonl(path: Path, record: dict[str, Any]) -> None:
    """One line of a run's metrics.jsonl or samples.jsonl."""
    with open(path, "a", encoding="utf-8") as f:
        f.write(json.dumps(record, ensure_ascii=False) + "\n")


def truncate_logs(out: Path, step: int) -> None:
    """Drop metric and sample lines past `step`: a resumed run writes them again."""
    from tinylm.fileio import atomic_open

    for name in (METRICS_FILE, SAMPLES_FILE):
        path = out / name
        if not path.is_file():
            continue
        kept = []
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                if json.loads(line).get("step", 0) <= step:
                    kept.append(line)
            except json.JSONDecodeError:
                continue
        with atomic_open(path) as f:
            f.write("".join(line + "\n" for line in kept))


def read_run_config(run_dir: str | Path) -> dict[str, Any]:
    run = Path(run_dir)
    if not run.is_dir():
        raise TinylmError(f"run folder not found: {run}")
    path = run / CONFIG_FILE
    if not path.is_file():
        raise TinylmError(
            f"{run} is not a tinylm run (no {CONFIG_FILE}); train one with `tinylm train`"
        )
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise TinylmError(f"{path} is not valid JSON; the run is damaged") from None
    if not isinstance(config, dict) or "model" not in config:
        raise TinylmError(f"{path} is not a tinylm run config (no 'model' section)")
    return config


def check_resume_model(run_dir: str | Path, asked: ModelConfig, asked_by: str) -> None:
    """Resuming keeps the run's own model: refuse, up front, a preset, config file or flag that
    asks for another (another family, or another shape; the vocabulary follows the data)."""
    if not (Path(run_dir) / CONFIG_FILE).is_file():
        return
    saved = read_run_config(run_dir)["model"]
    run_arch = saved.get("arch", "llama")
    flag = asked_by.split()[0]
    if run_arch != asked.arch:
        raise TinylmError(
            f"{run_dir} is a run of arch {run_arch} but {asked_by} asks for {asked.arch}; drop "
            f"{flag} to resume it, or train into a new --out"
        )
    mine = run_model_config({"model": saved}, str(Path(run_dir) / CONFIG_FILE))
    for name, value in asdict(asked).items():
        if name != "vocab_size" and getattr(mine, name) != value:
            raise TinylmError(
                f"{run_dir} is a run of {mine.describe()}, but {asked_by} asks for {name} "
                f"{value} (the run has {getattr(mine, name)}); resuming continues the run's own "
                f"model: drop {flag} to resume it, or train into a new --out"
            )


def run_model_config(config: dict[str, Any], where: str) -> ModelConfig:
    return model_config_from_dict(config["model"], f"'model' in {where}")


@dataclass
class LoadedRun:
    """A trained model ready to use: `tinylm.load(RUN).generate("Once upon a time")`."""

    path: Path
    model: nn.Module
    tokenizer: Tokenizer
    config: dict[str, Any]
    device: torch.device
    compile: bool = False  # decode through torch.compile (a CUDA graph on GPUs)

    @property
    def framing(self) -> str:
        """How stories were framed in the stream it learned from (`tinylm.framing`)."""
        return run_framing(self.config)

    @property
    def model_config(self) -> ModelConfig:
        return self.model.config

    def num_parameters(self) -> int:
        """The model's parameters as trained (a quantized run's weights are buffers)."""
        with torch.device("meta"):
            return count_parameters(build_model(self.model_config))

    @property
    def quantization(self) -> str | None:
        """The scheme of a quantized run (int8, int4), None for a float one."""
        return (self.config.get("quantization") or {}).get("scheme")

    def prompt_ids(self, prompt: str) -> list[int]:
        return self.tokenizer.encode(prompt, bos=True)

    @property
    def stop_ids(self) -> frozenset[int]:
        """Tokens that end a story: EOS, and BOS, which starts another one (llama2.c's models
        separate stories with BOS alone, never EOS, and its run.c stops there too)."""
        bos = self.tokenizer.bos_id
        return frozenset({self.tokenizer.eos_id} | ({bos} if bos is not None else set()))

    def sample_ids(
        self, prompt_ids: list[int], options: SamplingOptions, num_samples: int = 1
    ) -> Iterator[torch.Tensor]:
        """Per step, the next token of each sample [num_samples]; a sample that met one of
        `stop_ids` yields it once and then EOS. Every sampler (library, server, evaluation)
        goes through here so they all stop at the same tokens."""
        eos = self.tokenizer.eos_id
        return generate_tokens(
            self.model,
            prompt_ids,
            options,
            eos,
            num_samples,
            self.tokenizer.byte_ids,
            stop_ids=tuple(self.stop_ids - {eos}),
            compile=self.compile,
        )

    def stream(self, prompt: str = "", num_samples: int = 1, **options: Any) -> Iterator[list[str]]:
        """Yield, per step, the new text of each sample (empty once a sample has ended)."""
        stream = GenerationStream(self, prompt, SamplingOptions(**options), num_samples)
        try:
            yield from stream
        finally:
            stream.close()

    def generate(self, prompt: str = "", num_samples: int = 1, **options: Any) -> str | list[str]:
        """The prompt plus its continuation; a list when num_samples > 1."""
        texts = [prompt] * num_samples
        for pieces in self.stream(prompt, num_samples=num_samples, **options):
            texts = [t + p for t, p in zip(texts, pieces, strict=True)]
        return texts[0] if num_samples == 1 else texts

    def generate_instruct(
        self,
        words: Iterable[str] | str = (),
        features: Iterable[str] | str = (),
        summary: str | None = None,
        sentence: str | None = None,
        num_samples: int = 1,
        **options: Any,
    ) -> str | list[str]:
        """A story written to order (TinyStories-Instruct): the prompt is built in the format
        instruct data is prepared in; returns only the story (a list when num_samples > 1).

        >>> lm.generate_instruct(words=["dog", "ball"], features=["Dialogue"], seed=0)"""
        from tinylm.data.instruct import make_record, render_prompt

        prompt = render_prompt(make_record(words, features, summary, sentence))
        texts = [""] * num_samples
        for pieces in self.stream(prompt, num_samples=num_samples, **options):
            texts = [t + p for t, p in zip(texts, pieces, strict=True)]
        stories = [text.strip() for text in texts]
        return stories[0] if num_samples == 1 else stories


def check_run(run_dir: str | Path) -> Path:
    run = Path(run_dir)
    read_run_config(run)
    for name in (MODEL_FILE, TOKENIZER_FILE):
        if not (run / name).is_file():
            raise TinylmError(
                f"{run} has no {name}: training has not saved a checkpoint yet "
                "(wait for the first save or use `tinylm train --resume`)"
            )
    return run


def load_run(
    run_dir: str | Path,
    device: str = "cpu",
    dtype: str = "fp32",
    compile: bool = False,
    batch: int = 1,
    quant: str | None = None,
) -> LoadedRun:
    """The run's model and tokenizer on `device`, weights in `dtype` (fp32, bf16, fp16: half
    the memory traffic per decoded token; auto: what decodes this model fastest here, measured
    by `tinylm.precision` for `batch` streams); `compile` makes generation use a compiled
    step; `quant` (int8, int4) quantizes a float run in memory, as `tinylm quantize` would."""
    run = check_run(run_dir)
    config = read_run_config(run)
    if quant is not None:
        from tinylm.quant.load import quantize_in_memory

        if "quantization" in config:
            raise TinylmError(f"--quant {quant}: {run} is quantized already; drop --quant")
        base = load_run(run, device, "fp32", False, batch)
        model, config = quantize_in_memory(base.model, run, base.config, quant, dtype, compile)
        return replace(base, model=model, config=config, compile=False)
    model_cfg = run_model_config(config, str(run / CONFIG_FILE))
    tokenizer = Tokenizer.load(run / TOKENIZER_FILE)
    trained_with = (config.get("data") or {}).get("tokenizer_sha256")
    if trained_with and tokenizer.sha256() != trained_with:
        raise TinylmError(
            f"{run / TOKENIZER_FILE} is not the tokenizer {run} was trained with (config.json "
            f"records sha256 {trained_with[:12]}..., the file's is {tokenizer.sha256()[:12]}...); "
            f"put the run's own back (its data folder {config['data'].get('path', '')} has a "
            "copy)"
        )
    if tokenizer.vocab_size > model_cfg.vocab_size:
        raise TinylmError(
            f"{run}: tokenizer.json has {tokenizer.vocab_size} tokens but the model only "
            f"{model_cfg.vocab_size}; the tokenizer belongs to another model"
        )
    dev = resolve_device(device)
    if "quantization" in config:
        from tinylm.quant.load import load_quantized_model

        model = load_quantized_model(run, config, model_cfg, dtype, compile)
        return LoadedRun(run, model.to(device=dev).eval(), tokenizer, config, dev)
    model = build_model(model_cfg)
    load_model_weights(run / MODEL_FILE, model)
    model.to(device=dev).eval()
    if dtype == "auto":
        from tinylm.precision import decoding_dtype

        model.to(dtype=decoding_dtype(model, dev, batch, compile))
    else:
        model.to(dtype=resolve_dtype(dtype, dev))
    return LoadedRun(run, model, tokenizer, config, dev, compile=compile)
