"""Model and training configuration: the dataclasses, TOML files, validation, and the one
resolver (`resolve_configs`) that turns preset, base run, saved run, config file and flags into
the final configs."""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from tinylm.errors import TinylmError, did_you_mean
from tinylm.lora_spec import DEFAULT_TARGETS, parse_targets
from tinylm.presets import check_preset_arch, preset
from tinylm.settings import MAX_SEED, check_all, check_keys, coerce, setting
from tinylm.tracking import NONE, parse_trackers

ARCHES = ("llama", "rnn", "megabyte")
RNN_CELLS = ("lstm", "gru")

# Which fields each family reads. A field set for a family that does not read it is an error,
# never silently ignored; family-specific fields default to None and get their family's default
# in __post_init__ (ARCH_DEFAULTS), so a llama config.json written before the families existed
# loads unchanged.
_COMMON_FIELDS = (
    "arch",
    "dim",
    "n_layers",
    "vocab_size",
    "max_seq_len",
    "tie_embeddings",
    "dropout",
)
_TRANSFORMER_FIELDS = (
    "n_heads",
    "n_kv_heads",
    "hidden_dim",
    "multiple_of",
    "norm_eps",
    "rope_theta",
)
ARCH_FIELDS: dict[str, tuple[str, ...]] = {
    "llama": (*_COMMON_FIELDS, *_TRANSFORMER_FIELDS),
    "rnn": (*_COMMON_FIELDS, "rnn_cell"),
    # The global transformer uses the llama fields; the local one local_*.
    "megabyte": (
        *_COMMON_FIELDS,
        *_TRANSFORMER_FIELDS,
        "patch_size",
        "local_dim",
        "local_layers",
        "local_heads",
    ),
}
_TRANSFORMER_DEFAULTS: dict[str, Any] = dict(
    n_heads=6, multiple_of=32, norm_eps=1e-5, rope_theta=10000.0
)
ARCH_DEFAULTS: dict[str, dict[str, Any]] = {
    "llama": _TRANSFORMER_DEFAULTS,
    "rnn": dict(rnn_cell="lstm"),
    "megabyte": dict(
        _TRANSFORMER_DEFAULTS, patch_size=4, local_dim=128, local_layers=2, local_heads=4
    ),
}


_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|sec|m|min|h|hr|d)?\s*$")


def parse_duration(text: str) -> float:
    """'90', '90s', '10m', '1.5h' -> seconds."""
    match = _DURATION.match(text)
    if not match:
        raise TinylmError(f"'{text}' is not a duration; use e.g. 90s, 10m or 2h")
    scale = {None: 1, "s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600, "hr": 3600, "d": 86400}
    seconds = float(match.group(1)) * scale[match.group(2)]
    if seconds <= 0:
        raise TinylmError(f"a duration must be positive, got '{text}'")
    return seconds


def swiglu_hidden_dim(dim: int, multiple_of: int) -> int:
    """llama2.c's rule: 2/3 of 4*dim, rounded up to a multiple of `multiple_of`."""
    hidden = int(2 * (4 * dim) / 3)
    return multiple_of * ((hidden + multiple_of - 1) // multiple_of)


@dataclass
class ModelConfig:
    arch: str = "llama"
    dim: int = 288
    n_layers: int = 6
    n_heads: int | None = None  # None: 6 (transformers; does not apply to rnn)
    n_kv_heads: int | None = None  # None: same as n_heads (plain multi-head attention)
    vocab_size: int = 32000
    hidden_dim: int | None = None  # None: llama2.c's rule, 2/3 of 4*dim rounded up to multiple_of
    multiple_of: int | None = None  # None: 32
    max_seq_len: int = 256
    norm_eps: float | None = None  # None: 1e-5
    rope_theta: float | None = None  # None: 10000
    tie_embeddings: bool = True
    dropout: float = 0.0
    # rnn: the recurrent cell, lstm or gru
    rnn_cell: str | None = None
    # megabyte: bytes per patch, and the width / depth / heads of the local (in-patch) model
    patch_size: int | None = None
    local_dim: int | None = None
    local_layers: int | None = None
    local_heads: int | None = None

    def __post_init__(self) -> None:
        for name, value in ARCH_DEFAULTS.get(self.arch, {}).items():
            if getattr(self, name) is None:
                setattr(self, name, value)
        if self.arch in ("llama", "megabyte"):
            if self.n_kv_heads is None:
                self.n_kv_heads = self.n_heads
            if self.hidden_dim is None:
                self.hidden_dim = swiglu_hidden_dim(self.dim, self.multiple_of)

    @property
    def head_dim(self) -> int:
        return self.dim // self.n_heads

    def describe(self) -> str:
        """The shape in one phrase, for logs: what `tinylm train` announces."""
        tail = f"vocab {self.vocab_size}, context {self.max_seq_len}"
        if self.arch == "rnn":
            return f"{self.rnn_cell.upper()}, dim {self.dim}, {self.n_layers} layers, {tail}"
        shape = (
            f"dim {self.dim}, {self.n_layers} layers, {self.n_heads} heads, "
            f"{self.n_kv_heads} kv heads"
        )
        if self.arch == "megabyte":
            return (
                f"megabyte, patch {self.patch_size}: global {shape}; local dim {self.local_dim}, "
                f"{self.local_layers} layers, {self.local_heads} heads; {tail} bytes"
            )
        return f"{shape}, {tail}"

    def validate(self) -> None:
        if self.arch not in ARCHES:
            raise TinylmError(
                f"unknown model arch '{self.arch}'{did_you_mean(self.arch, ARCHES)}; "
                f"choose one of {', '.join(ARCHES)}"
            )
        used = ARCH_FIELDS[self.arch]
        for f in fields(self):
            if f.name not in used and getattr(self, f.name) is not None:
                raise TinylmError(
                    f"model field '{f.name}' does not apply to arch '{self.arch}' (it uses "
                    f"{', '.join(used[1:])}); remove it or choose another --arch"
                )
        for name in ("dim", "n_layers", "vocab_size", "max_seq_len"):
            if getattr(self, name) <= 0:
                raise TinylmError(f"model {name} must be positive, got {getattr(self, name)}")
        if not 0.0 <= self.dropout < 1.0:
            raise TinylmError(f"dropout must be in [0, 1), got {self.dropout}")
        if self.arch == "rnn":
            if self.rnn_cell not in RNN_CELLS:
                raise TinylmError(
                    f"unknown rnn_cell '{self.rnn_cell}'{did_you_mean(self.rnn_cell, RNN_CELLS)}; "
                    f"choose one of {', '.join(RNN_CELLS)}"
                )
            return
        self._validate_transformer()
        if self.arch == "megabyte":
            self._validate_megabyte()

    def _validate_transformer(self) -> None:
        for name in ("n_heads", "n_kv_heads"):
            if getattr(self, name) <= 0:
                raise TinylmError(f"model {name} must be positive, got {getattr(self, name)}")
        if self.dim % self.n_heads:
            raise TinylmError(
                f"model dim {self.dim} is not divisible by n_heads {self.n_heads}; "
                "pick n_heads that divides dim"
            )
        if self.n_heads % self.n_kv_heads:
            raise TinylmError(
                f"n_heads {self.n_heads} is not divisible by n_kv_heads {self.n_kv_heads}; "
                "n_kv_heads must divide n_heads"
            )
        if self.head_dim % 2:
            raise TinylmError(
                f"head size dim/n_heads = {self.head_dim} must be even for rotary embeddings"
            )

    def _validate_megabyte(self) -> None:
        for name in ("patch_size", "local_dim", "local_layers", "local_heads"):
            if getattr(self, name) <= 0:
                raise TinylmError(f"model {name} must be positive, got {getattr(self, name)}")
        p = self.patch_size
        if p < 2:
            raise TinylmError("megabyte patch_size must be at least 2 (1 is a byte-level llama)")
        if self.dim % p:
            raise TinylmError(
                f"megabyte dim {self.dim} is not divisible by patch_size {p}: the global model "
                "concatenates patch_size byte embeddings of dim/patch_size each"
            )
        if self.max_seq_len % p:
            raise TinylmError(
                f"megabyte max_seq_len {self.max_seq_len} is not a multiple of patch_size {p}"
            )
        if self.local_dim % self.local_heads or (self.local_dim // self.local_heads) % 2:
            raise TinylmError(
                f"megabyte local_dim {self.local_dim} must split into local_heads "
                f"{self.local_heads} heads of an even size (rotary embeddings)"
            )


DTYPES = ("auto", "fp32", "bf16", "fp16")
OPTIMIZERS = ("adamw", "muon")
NAN_POLICIES = ("skip", "rollback", "stop")
PARALLEL = ("ddp", "fsdp")
_DEVICE = re.compile(r"^(auto|cpu|cuda|mps|cuda:\d+)$")


@dataclass
class TrainConfig:
    """Every training setting, declared once (`tinylm.settings`): the flags of `tinylm train`
    and `finetune`, the [train] keys of a TOML file, the GUI's fields and what config.json
    records all come from these fields."""

    batch_size: int = setting(
        32, "sequences per micro-batch (per process)", above=0, gui="batch size"
    )
    grad_accum: int = setting(
        4, "micro-batches per optimizer step", above=0, gui="grad accumulation"
    )
    lr: float = setting(5e-4, "peak learning rate", above=0, gui="learning rate")
    min_lr: float | None = setting(
        None, "learning rate the cosine decay ends at (default: lr / 10)", minimum=0
    )
    warmup: int = setting(1000, "linear warm-up", unit="steps", minimum=0, gui="warm-up steps")
    weight_decay: float = setting(0.1, "AdamW weight decay", minimum=0)
    optimizer: str = setting(
        "adamw",
        "muon: Muon for the hidden matrices, AdamW for the rest",
        choices=OPTIMIZERS,
    )
    beta1: float = setting(0.9, "AdamW beta1", minimum=0, maximum=0.999999)
    beta2: float = setting(0.95, "AdamW beta2", minimum=0, maximum=0.999999)
    grad_clip: float = setting(1.0, "clip the gradient norm to this (0: off)", minimum=0)
    max_steps: int | None = setting(None, "optimizer steps to train", above=0, gui="max steps")
    time_budget: float | None = setting(
        None,
        "train for this long, e.g. 90s, 10m, 2h (a few steps are timed to size the run; a "
        "config file may give seconds)",
        above=0,
        parse=parse_duration,
        gui="time budget (90s, 10m, 2h)",
    )
    eval_every: int = setting(
        250, "validate every N steps", unit="steps", above=0, gui="evaluate every"
    )
    eval_batches: int = setting(20, "batches per validation", above=0)
    save_every: int = setting(500, "checkpoint every N steps", unit="steps", above=0)
    sample_every: int | None = setting(
        None, "write a sample story every N steps (default: at every validation)", above=0
    )
    sample_tokens: int = setting(120, "new tokens per sample story", minimum=0)
    log_every: int = setting(10, "progress line every N steps", unit="steps", above=0)
    log_to: str = setting(
        NONE,
        "experiment trackers besides metrics.jsonl: tensorboard, wandb (offline unless "
        "WANDB_MODE says otherwise), several with commas, or none",
        parse=parse_trackers,
        metavar="{tensorboard,wandb,none}",
        gui="log to",
        offered=(NONE, "tensorboard", "wandb", "tensorboard,wandb"),
    )
    device: str = setting(
        "auto", "auto, cpu, cuda, cuda:N or mps", gui="device", offered=("auto", "cpu", "cuda")
    )
    dtype: str = setting("auto", "precision (auto: measured, see README)", choices=DTYPES)
    compile: bool = setting(False, "torch.compile the model")
    seed: int = setting(1337, "random seed", minimum=0, maximum=MAX_SEED, gui="seed")
    parallel: str = setting(
        "ddp", "under torchrun: fsdp shards model and optimizer state", choices=PARALLEL
    )
    keep_checkpoints: int = setting(1, "how many checkpoints to keep", above=0)
    on_nan: str = setting(
        "skip",
        "a NaN/Inf loss or gradient: skip the update, roll back to the last checkpoint with "
        "half the LR, or stop",
        choices=NAN_POLICIES,
    )
    max_bad_steps: int = setting(10, "consecutive skips or rollbacks before giving up", above=0)
    # LoRA (`tinylm.lora`): adapters on a trained model's linears, the rest frozen; finetune
    # (or train --init-from) only, since adapters of random weights would learn nothing useful.
    lora_rank: int | None = setting(
        None,
        "LoRA: train rank-r adapters only, the base model frozen (finetune)",
        above=0,
        gui="LoRA rank (fine-tuning; blank: all weights)",
    )
    lora_alpha: float | None = setting(
        None, "LoRA: the adapters' scale is alpha / rank (default: 2 x rank)", above=0
    )
    lora_targets: str = setting(
        DEFAULT_TARGETS, "LoRA: the layers to adapt, from q,k,v,o,gate,up,down"
    )
    lora_dropout: float = setting(
        0.0, "LoRA: dropout on the adapters' input", minimum=0, maximum=0.9
    )
    # Instruct data (`data prepare --instruct`) carries a loss mask; True trains on the stories
    # only, False on everything (prompts included). Data without a mask ignores this.
    loss_mask: bool = setting(
        True,
        "on instruct data, train on every token, not only the stories",
        flag="--no-mask",
        flag_sets=False,
    )

    def __post_init__(self) -> None:
        if self.min_lr is None:
            self.min_lr = self.lr / 10
        if self.lora_rank is not None and self.lora_alpha is None:
            self.lora_alpha = 2.0 * self.lora_rank  # config.json records the scale used

    def validate(self) -> None:
        check_all(self)
        self.log_to = parse_trackers(self.log_to)
        if self.min_lr > self.lr:
            raise TinylmError(f"--min-lr must be in [0, lr={self.lr}], got {self.min_lr}")
        if not _DEVICE.match(self.device):
            raise TinylmError(f"--device must be auto, cpu, cuda or cuda:N, got '{self.device}'")
        lora_only = {
            "--lora-alpha": self.lora_alpha is not None,
            "--lora-dropout": self.lora_dropout > 0,
            "--lora-targets": self.lora_targets != DEFAULT_TARGETS,
        }
        if self.lora_rank is None and any(lora_only.values()):
            given = next(flag for flag, set_ in lora_only.items() if set_)
            raise TinylmError(f"{given} shapes LoRA adapters; add --lora-rank N to train them")
        if self.lora_rank is not None:
            self.lora_targets = ",".join(parse_targets(self.lora_targets))
            if self.optimizer == "muon":
                raise TinylmError(
                    "--lora-rank trains small adapters with AdamW; drop --optimizer muon"
                )
            if self.parallel == "fsdp":
                raise TinylmError(
                    "--lora-rank keeps the base model frozen and whole on every process; use "
                    "--parallel ddp (the default) with LoRA"
                )
        if self.optimizer == "muon" and self.parallel == "fsdp":
            raise TinylmError(
                "--optimizer muon orthogonalises whole matrices, which FSDP shards across "
                "processes; use --parallel ddp with muon"
            )


def _field_names(cls: type) -> list[str]:
    return [f.name for f in fields(cls)]


def read_toml(path: str | Path) -> dict[str, Any]:
    """A TOML file as a dict; a missing or malformed file is a one-line user error."""
    path = Path(path)
    if not path.is_file():
        raise TinylmError(f"config file not found: {path}")
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise TinylmError(f"config file {path} is not valid TOML: {exc}") from None


def load_toml(path: str | Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """Read a config file with optional [model] and [train] tables; returns (model, train) dicts.

    Top-level keys are routed to whichever table defines them, so a flat file works too.
    """
    path = Path(path)
    raw = read_toml(path)
    model: dict[str, Any] = {}
    train: dict[str, Any] = {}
    model_names, train_names = _field_names(ModelConfig), _field_names(TrainConfig)
    for key, value in raw.items():
        if key == "model" and isinstance(value, dict):
            check_keys(value, ModelConfig, f"[model] of {path}")
            model.update(value)
        elif key == "train" and isinstance(value, dict):
            check_keys(value, TrainConfig, f"[train] of {path}")
            train.update(value)
        elif key in model_names:
            model[key] = value
        elif key in train_names:
            train[key] = value
        else:
            raise TinylmError(
                f"unknown key '{key}' in {path}"
                f"{did_you_mean(key, [*model_names, *train_names, 'model', 'train'])}"
            )
    return coerce(ModelConfig, model, str(path)), coerce(TrainConfig, train, str(path))


# Fine-tuning (`tinylm finetune`) starts from the base run's training settings but not its
# schedule, which means nothing for a new, shorter run on other data; a lower peak lr and a short
# warm-up instead, so the model adapts without forgetting how to write.
FINETUNE_DEFAULTS: dict[str, Any] = {"lr": 1e-4, "warmup": 20}
BASE_SCHEDULE_KEYS = ("lr", "min_lr", "warmup", "max_steps", "time_budget")
# Nor its LoRA: a fine-tune of a LoRA run starts from its merged weights, adapters chosen anew.
BASE_LORA_KEYS = ("lora_rank", "lora_alpha", "lora_targets", "lora_dropout")


def resolve_configs(
    preset_name: str | None = None,
    file_model: dict[str, Any] | None = None,
    file_train: dict[str, Any] | None = None,
    flag_model: dict[str, Any] | None = None,
    flag_train: dict[str, Any] | None = None,
    base: dict[str, Any] | None = None,
    saved: dict[str, Any] | None = None,
) -> tuple[ModelConfig, TrainConfig]:
    """The final (model, training) configs, from every layer a setting can come from. The one
    precedence rule, lowest first:

    1. the dataclasses' defaults;
    2. the preset (`--preset`);
    3. `base`, the config.json of the run a fine-tune starts from: its model, and its training
       settings except the schedule (BASE_SCHEDULE_KEYS), then FINETUNE_DEFAULTS;
       or `saved`, the run's own config.json when it resumes: its model and every setting
       (a resumed run ignores the preset and the config file: it continues as it was);
    4. the config file (`--config`: [model] and [train]);
    5. the flags.

    A value of None in a layer means "not given there". A --time-budget flag without
    --max-steps drops a max_steps from the layers below (the budget sizes the run), except on
    resume, where the run keeps the length it planned. Unknown keys, wrong types and values out
    of range are one-line errors."""
    model: dict[str, Any] = {}
    train: dict[str, Any] = {}
    if preset_name is not None and saved is None:
        p = preset(preset_name)
        model.update(p.model)
        train.update(p.train)
    if base is not None:
        model.update(base["model"])
        known = {f.name for f in fields(TrainConfig)}  # another tinylm version may know others
        train.update(
            {
                k: v
                for k, v in (base.get("train") or {}).items()
                if k in known and k not in (*BASE_SCHEDULE_KEYS, *BASE_LORA_KEYS)
            }
        )
        train.update(FINETUNE_DEFAULTS)
    layers = [(file_model, file_train), (flag_model, flag_train)]
    if saved is not None:
        model = dict(saved["model"])
        train = dict(saved.get("train") or {})
        layers = [({}, flag_train)]
    for layer_model, layer_train in layers:
        model.update({k: v for k, v in (layer_model or {}).items() if v is not None})
        train.update({k: v for k, v in (layer_train or {}).items() if v is not None})
    flags = flag_train or {}
    if saved is None and flags.get("time_budget") is not None and flags.get("max_steps") is None:
        train["max_steps"] = None
    check_keys(model, ModelConfig, "model config")
    check_keys(train, TrainConfig, "train config")
    if preset_name is not None and saved is None:
        check_preset_arch(preset_name, model.get("arch", "llama"))
    # min_lr defaults from the *final* lr, so `--lr` alone also moves the floor.
    model_cfg = ModelConfig(**model)
    train_cfg = TrainConfig(**train)
    model_cfg.validate()
    train_cfg.validate()
    return model_cfg, train_cfg


def build_configs(
    preset_name: str | None,
    file_model: dict[str, Any] | None = None,
    file_train: dict[str, Any] | None = None,
    flag_model: dict[str, Any] | None = None,
    flag_train: dict[str, Any] | None = None,
) -> tuple[ModelConfig, TrainConfig]:
    """A new run's configs: preset < config file < flags (`resolve_configs`)."""
    return resolve_configs(preset_name, file_model, file_train, flag_model, flag_train)


def model_config_from_dict(values: dict[str, Any], where: str) -> ModelConfig:
    check_keys(values, ModelConfig, where)
    cfg = ModelConfig(**coerce(ModelConfig, values, where))
    cfg.validate()
    return cfg
