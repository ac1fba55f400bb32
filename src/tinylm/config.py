"""Model and training configuration: dataclasses, presets, TOML files and validation.

Precedence is preset < config file < command-line flags, so a preset is only ever a starting point.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from tinylm.errors import TinylmError, did_you_mean

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


@dataclass
class TrainConfig:
    batch_size: int = 32
    grad_accum: int = 4
    lr: float = 5e-4
    min_lr: float | None = None  # None: lr / 10, the Chinchilla/llama2.c convention
    warmup: int = 1000
    weight_decay: float = 0.1
    optimizer: str = "adamw"  # or muon: Muon for hidden matrices, AdamW for the rest
    beta1: float = 0.9
    beta2: float = 0.95
    grad_clip: float = 1.0
    max_steps: int | None = None
    time_budget: float | None = None  # seconds; turned into max_steps after timing a few steps
    eval_every: int = 250
    eval_batches: int = 20
    save_every: int = 500
    sample_every: int | None = None  # None: every eval
    sample_tokens: int = 120
    log_every: int = 10
    device: str = "auto"
    dtype: str = "auto"
    compile: bool = False
    seed: int = 1337
    parallel: str = "ddp"  # under torchrun: ddp, or fsdp to shard model and optimizer state
    keep_checkpoints: int = 1
    on_nan: str = "skip"  # a NaN/Inf loss or gradient: skip the update, rollback, or stop
    max_bad_steps: int = 10  # consecutive skipped steps (or rollbacks) before giving up
    # Instruct data (`data prepare --instruct`) carries a loss mask; True trains on the stories
    # only, False on everything (prompts included). Data without a mask ignores this.
    loss_mask: bool = True

    def __post_init__(self) -> None:
        if self.min_lr is None:
            self.min_lr = self.lr / 10

    def validate(self) -> None:
        for name in (
            "batch_size",
            "grad_accum",
            "eval_every",
            "eval_batches",
            "save_every",
            "keep_checkpoints",
            "max_bad_steps",
        ):
            if getattr(self, name) <= 0:
                raise TinylmError(f"train {name} must be positive, got {getattr(self, name)}")
        if self.lr <= 0:
            raise TinylmError(f"--lr must be positive, got {self.lr}")
        if self.min_lr < 0 or self.min_lr > self.lr:
            raise TinylmError(f"--min-lr must be in [0, lr={self.lr}], got {self.min_lr}")
        if self.warmup < 0:
            raise TinylmError(f"--warmup must be >= 0, got {self.warmup}")
        if self.grad_clip < 0:
            raise TinylmError(f"--grad-clip must be >= 0 (0 disables), got {self.grad_clip}")
        if self.max_steps is not None and self.max_steps <= 0:
            raise TinylmError(f"--max-steps must be positive, got {self.max_steps}")
        if self.time_budget is not None and self.time_budget <= 0:
            raise TinylmError(f"--time-budget must be positive, got {self.time_budget}")
        if self.device not in ("auto", "cpu", "cuda", "mps") and not self.device.startswith(
            "cuda:"
        ):
            raise TinylmError(f"--device must be auto, cpu, cuda or cuda:N, got '{self.device}'")
        if self.parallel not in ("ddp", "fsdp"):
            raise TinylmError(
                f"--parallel must be ddp or fsdp, got '{self.parallel}'"
                f"{did_you_mean(self.parallel, ('ddp', 'fsdp'))}"
            )
        if self.optimizer not in OPTIMIZERS:
            raise TinylmError(
                f"--optimizer must be one of {', '.join(OPTIMIZERS)}, got '{self.optimizer}'"
                f"{did_you_mean(self.optimizer, OPTIMIZERS)}"
            )
        if self.optimizer == "muon" and self.parallel == "fsdp":
            raise TinylmError(
                "--optimizer muon orthogonalises whole matrices, which FSDP shards across "
                "processes; use --parallel ddp with muon"
            )
        if self.on_nan not in NAN_POLICIES:
            raise TinylmError(
                f"--on-nan must be one of {', '.join(NAN_POLICIES)}, got '{self.on_nan}'"
                f"{did_you_mean(self.on_nan, NAN_POLICIES)}"
            )
        if self.dtype not in DTYPES:
            raise TinylmError(
                f"--dtype must be one of {', '.join(DTYPES)}, got '{self.dtype}'"
                f"{did_you_mean(self.dtype, DTYPES)}"
            )


DTYPES = ("auto", "fp32", "bf16", "fp16")
OPTIMIZERS = ("adamw", "muon")
NAN_POLICIES = ("skip", "rollback", "stop")


@dataclass
class Preset:
    description: str
    model: dict[str, Any]
    train: dict[str, Any] = field(default_factory=dict)


PRESETS: dict[str, Preset] = {
    "260k": Preset(
        "llama2.c's stories260K shape",
        dict(
            dim=64,
            n_layers=5,
            n_heads=8,
            n_kv_heads=4,
            vocab_size=512,
            max_seq_len=512,
            multiple_of=4,
        ),
        # benchmarks/recipe.py: within 2- and 10-minute CPU budgets, batch 16 without
        # accumulation at 3x llama2.c's lr reaches 0.9-1.8 nats lower held-out loss than
        # llama2.c's batch 32 x 4 at 1e-3 (more, smaller steps); docs/benchmarks.md.
        dict(batch_size=16, grad_accum=1, lr=3e-3, warmup=200),
    ),
    "1m": Preset(
        "about 1M parameters, the student-project scale",
        dict(
            dim=128,
            n_layers=5,
            n_heads=8,
            n_kv_heads=4,
            vocab_size=1024,
            max_seq_len=256,
            multiple_of=8,
        ),
        # benchmarks/recipe.py, 6 CPU minutes: 1.791 nats held-out against 2.644 with the
        # batch 32 x 2 at 1e-3 this preset had (937 steps against 208); docs/benchmarks.md.
        dict(batch_size=16, grad_accum=1, lr=3e-3, warmup=200),
    ),
    "15m": Preset(
        "llama2.c's stories15M shape",
        dict(dim=288, n_layers=6, n_heads=6, vocab_size=32000, max_seq_len=256),
        # benchmarks/recipe.py, 6 CPU minutes: 2.009 nats held-out against 3.799 with
        # llama2.c's batch 32 x 4 at 5e-4 (318 steps against 43); docs/benchmarks.md.
        dict(batch_size=16, grad_accum=1, lr=1.5e-3, warmup=1000),
    ),
    "42m": Preset(
        "llama2.c's stories42M shape",
        dict(dim=512, n_layers=8, n_heads=8, vocab_size=32000, max_seq_len=1024),
        dict(batch_size=16, grad_accum=8, lr=5e-4, warmup=1000),
    ),
    "110m": Preset(
        "llama2.c's stories110M shape",
        dict(dim=768, n_layers=12, n_heads=12, vocab_size=32000, max_seq_len=1024),
        dict(batch_size=8, grad_accum=16, lr=5e-4, warmup=1000),
    ),
    "zh-110m": Preset(
        "TinyStoriesChinese-110M recipe (vocab 5000)",
        dict(dim=768, n_layers=12, n_heads=12, vocab_size=5000, max_seq_len=1024, dropout=0.0),
        dict(batch_size=4, grad_accum=128, lr=5e-4, warmup=1000, grad_clip=1.0),
    ),
    "rnn-1m": Preset(
        "LSTM baseline, matched to 1m",
        dict(arch="rnn", rnn_cell="lstm", dim=224, n_layers=2, vocab_size=1024, max_seq_len=256),
        dict(batch_size=32, grad_accum=2, lr=2e-3, warmup=100),
    ),
    "gru-1m": Preset(
        "GRU baseline, matched to 1m",
        dict(arch="rnn", rnn_cell="gru", dim=256, n_layers=2, vocab_size=1024, max_seq_len=256),
        dict(batch_size=32, grad_accum=2, lr=2e-3, warmup=100),
    ),
    "megabyte-1m": Preset(
        "bytes, patch 4; global dim 128 x 5, local 64 x 2; matched to 1m",
        dict(
            arch="megabyte",
            dim=128,
            n_layers=5,
            n_heads=8,
            n_kv_heads=4,
            multiple_of=8,
            patch_size=4,
            local_dim=64,
            local_layers=2,
            local_heads=4,
            vocab_size=260,
            max_seq_len=1024,
        ),
        dict(batch_size=32, grad_accum=2, lr=1e-3, warmup=200),
    ),
    "megabyte-10m": Preset(
        "bytes, patch 4; global dim 384 x 5, local 192 x 3",
        dict(
            arch="megabyte",
            dim=384,
            n_layers=5,
            n_heads=6,
            patch_size=4,
            local_dim=192,
            local_layers=3,
            local_heads=6,
            vocab_size=260,
            max_seq_len=1024,
        ),
        dict(batch_size=16, grad_accum=4, lr=6e-4, warmup=500),
    ),
    "megabyte-40m": Preset(
        "bytes, patch 8; global dim 512 x 10, local 384 x 5 (the blog scale)",
        dict(
            arch="megabyte",
            dim=512,
            n_layers=10,
            n_heads=8,
            patch_size=8,
            local_dim=384,
            local_layers=5,
            local_heads=6,
            vocab_size=260,
            max_seq_len=2048,
        ),
        dict(batch_size=8, grad_accum=8, lr=4e-4, warmup=1000),
    ),
}


def preset(name: str) -> Preset:
    if name not in PRESETS:
        raise TinylmError(
            f"unknown preset '{name}'{did_you_mean(name, PRESETS)}; "
            f"choose one of {', '.join(PRESETS)}"
        )
    return PRESETS[name]


def _field_names(cls: type) -> list[str]:
    return [f.name for f in fields(cls)]


def check_keys(values: dict[str, Any], cls: type, where: str) -> None:
    """Reject unknown keys with a suggestion; a typo must never be silently ignored."""
    names = _field_names(cls)
    for key in values:
        if key not in names:
            raise TinylmError(f"unknown key '{key}' in {where}{did_you_mean(key, names)}")


def _coerce(cls: type, values: dict[str, Any], where: str) -> dict[str, Any]:
    """Check each value's type against the dataclass annotation (ints may stand for floats)."""
    out: dict[str, Any] = {}
    types = {f.name: f.type for f in fields(cls)}
    for key, value in values.items():
        hint = str(types[key])
        ok: bool
        if value is None:
            ok = "None" in hint
        elif "bool" in hint:
            ok = isinstance(value, bool)
        elif "float" in hint:
            ok = isinstance(value, int | float) and not isinstance(value, bool)
            value = float(value) if ok else value
        elif "int" in hint:
            ok = isinstance(value, int) and not isinstance(value, bool)
        elif "str" in hint:
            ok = isinstance(value, str)
        else:
            ok = True
        if not ok:
            raise TinylmError(f"{where}: '{key}' should be {hint}, got {value!r}")
        out[key] = value
    return out


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
    return _coerce(ModelConfig, model, str(path)), _coerce(TrainConfig, train, str(path))


def build_configs(
    preset_name: str | None,
    file_model: dict[str, Any] | None = None,
    file_train: dict[str, Any] | None = None,
    flag_model: dict[str, Any] | None = None,
    flag_train: dict[str, Any] | None = None,
) -> tuple[ModelConfig, TrainConfig]:
    model: dict[str, Any] = {}
    train: dict[str, Any] = {}
    if preset_name is not None:
        p = preset(preset_name)
        model.update(p.model)
        train.update(p.train)
    for layer_model, layer_train in ((file_model, file_train), (flag_model, flag_train)):
        model.update({k: v for k, v in (layer_model or {}).items() if v is not None})
        train.update({k: v for k, v in (layer_train or {}).items() if v is not None})
    check_keys(model, ModelConfig, "model config")
    check_keys(train, TrainConfig, "train config")
    if preset_name is not None:
        _check_preset_arch(preset_name, model.get("arch", "llama"))
    # min_lr defaults from the *final* lr, so `--lr` alone also moves the floor.
    model_cfg = ModelConfig(**model)
    train_cfg = TrainConfig(**train)
    model_cfg.validate()
    train_cfg.validate()
    return model_cfg, train_cfg


def _check_preset_arch(name: str, arch: str) -> None:
    """`--arch rnn --preset 1m` asks for two different models: say so instead of failing on
    the first llama field an rnn does not read."""
    preset_arch = PRESETS[name].model.get("arch", "llama")
    if arch != preset_arch:
        same = [n for n, p in PRESETS.items() if p.model.get("arch", "llama") == arch]
        raise TinylmError(
            f"preset '{name}' is a {preset_arch} model, not {arch}; "
            + (f"{arch} presets: {', '.join(same)}" if same else "drop --preset")
        )


def model_config_from_dict(values: dict[str, Any], where: str) -> ModelConfig:
    check_keys(values, ModelConfig, where)
    cfg = ModelConfig(**_coerce(ModelConfig, values, where))
    cfg.validate()
    return cfg


_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|sec|m|min|h|hr|d)?\s*$")


def parse_duration(text: str) -> float:
    """'90', '90s', '10m', '1.5h' -> seconds."""
    match = _DURATION.match(text)
    if not match:
        raise TinylmError(f"--time-budget '{text}' is not a duration; use e.g. 90s, 10m or 2h")
    scale = {None: 1, "s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600, "hr": 3600, "d": 86400}
    seconds = float(match.group(1)) * scale[match.group(2)]
    if seconds <= 0:
        raise TinylmError(f"--time-budget must be positive, got '{text}'")
    return seconds
