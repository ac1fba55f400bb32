"""The model presets: a shape and the training settings that suit it (`tinylm presets` prints
them). A preset is only ever the lowest layer of a config (`tinylm.config.resolve_configs`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from tinylm.errors import TinylmError, did_you_mean


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


def check_preset_arch(name: str, arch: str) -> None:
    """`--arch rnn --preset 1m` asks for two different models: say so instead of failing on
    the first llama field an rnn does not read."""
    preset_arch = PRESETS[name].model.get("arch", "llama")
    if arch != preset_arch:
        same = [n for n, p in PRESETS.items() if p.model.get("arch", "llama") == arch]
        raise TinylmError(
            f"preset '{name}' is a {preset_arch} model, not {arch}; "
            + (f"{arch} presets: {', '.join(same)}" if same else "drop --preset")
        )
