"""The llama2.c file layout shared by its two formats (`llama2c`: version 0, fp32, run.c;
`llama2c_q80`: version 2, int8, runq.c): the 7-int header, its checks, and a model's arrays in
llama2.c's order and RoPE layout."""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from tinylm.config import ModelConfig
from tinylm.errors import TinylmError
from tinylm.interop.rope import halves_to_interleaved
from tinylm.models.llama import cos_sin

HEADER = struct.Struct("<7i")
MAGIC = 0x616B3432  # "ak42": llama2.c's versioned export (version 1 fp32, 2 int8)
RUN_C_THETA = 10000.0
RUN_C_EPS = 1e-5
MAX_DIM = 1 << 16  # sanity bound for header fields, so garbage is refused before allocating


@dataclass(frozen=True)
class Header:
    dim: int
    hidden_dim: int
    n_layers: int
    n_heads: int
    n_kv_heads: int
    vocab_size: int  # negative: untied classifier stored at the end
    seq_len: int

    @property
    def head_dim(self) -> int:
        return self.dim // self.n_heads

    def shapes(self) -> list[tuple[str, tuple[int, ...]]]:
        """The fp32 arrays of the file, in order."""
        V, D, L, H = abs(self.vocab_size), self.dim, self.n_layers, self.hidden_dim
        KV = self.n_kv_heads * self.head_dim
        rope = (self.seq_len, self.head_dim // 2)
        shapes = [
            ("token_embedding", (V, D)),
            ("rms_att", (L, D)),
            ("wq", (L, D, D)),
            ("wk", (L, KV, D)),
            ("wv", (L, KV, D)),
            ("wo", (L, D, D)),
            ("rms_ffn", (L, D)),
            ("w1", (L, H, D)),
            ("w2", (L, D, H)),
            ("w3", (L, H, D)),
            ("rms_final", (D,)),
            ("freq_cis_real", rope),
            ("freq_cis_imag", rope),
        ]
        if self.vocab_size < 0:
            shapes.append(("wcls", (V, D)))
        return shapes

    def file_size(self) -> int:
        return HEADER.size + 4 * sum(int(np.prod(shape)) for _, shape in self.shapes())

    def model_config(self) -> ModelConfig:
        return ModelConfig(
            dim=self.dim,
            n_layers=self.n_layers,
            n_heads=self.n_heads,
            n_kv_heads=self.n_kv_heads,
            vocab_size=abs(self.vocab_size),
            hidden_dim=self.hidden_dim,
            max_seq_len=self.seq_len,
            norm_eps=RUN_C_EPS,
            rope_theta=RUN_C_THETA,
            tie_embeddings=self.vocab_size > 0,
        )


def file_version(path: Path) -> int:
    """0 for a legacy file (no magic), else the version its "ak42" header says."""
    if not path.is_file():
        raise TinylmError(f"llama2.c checkpoint not found: {path}")
    with open(path, "rb") as f:
        raw = f.read(8)
    if len(raw) >= 8 and struct.unpack_from("<I", raw)[0] == MAGIC:
        return struct.unpack_from("<i", raw, 4)[0]
    return 0


def read_header(path: Path) -> Header:
    version = file_version(path)
    if version != 0:
        raise TinylmError(
            f"{path} is a llama2.c version-{version} export; tinylm reads the legacy format "
            "run.c uses (version 0) and runq.c's int8 one (version 2); export it again with "
            "`python export.py --version 0` or `--version 2`"
        )
    with open(path, "rb") as f:
        raw = f.read(HEADER.size)
    if len(raw) < HEADER.size:
        raise TinylmError(f"{path} is too short to be a llama2.c checkpoint ({len(raw)} bytes)")
    header = Header(*HEADER.unpack(raw))
    check_header(path, header)
    return header


def check_header(path: Path, header: Header) -> None:
    """Refuse header fields no model has, before anything is allocated from them."""
    fields = (header.dim, header.hidden_dim, header.n_layers, header.n_heads, header.n_kv_heads)
    sane = (
        all(0 < v <= MAX_DIM for v in fields)
        and 0 < abs(header.vocab_size) <= 1 << 22
        and 0 < header.seq_len <= 1 << 20
        and header.dim % header.n_heads == 0
        and header.n_heads % header.n_kv_heads == 0
        and header.head_dim % 2 == 0
    )
    if not sane:
        raise TinylmError(
            f"{path} does not look like a llama2.c checkpoint (header "
            f"{tuple(vars(header).values())}); "
            "pass a model .bin written by llama2.c's export.py"
        )


def checkpoint_arrays(model: nn.Module) -> tuple[Header, list[torch.Tensor]]:
    """The header and the fp32 arrays of a legacy llama2.c file, in file order."""
    cfg: ModelConfig = model.config
    if cfg.arch != "llama":
        raise TinylmError(f"llama2.c holds Llama models only; this run is '{cfg.arch}'")
    if cfg.rope_theta != RUN_C_THETA or cfg.norm_eps != RUN_C_EPS:
        raise TinylmError(
            f"run.c hard-codes rope_theta {RUN_C_THETA:g} and norm_eps {RUN_C_EPS:g}; this model "
            f"uses {cfg.rope_theta:g} and {cfg.norm_eps:g}, so llama2.c would compute something "
            "else (export it as --format hf or gguf instead)"
        )
    assert cfg.hidden_dim is not None and cfg.n_kv_heads is not None
    header = Header(
        dim=cfg.dim,
        hidden_dim=cfg.hidden_dim,
        n_layers=cfg.n_layers,
        n_heads=cfg.n_heads,
        n_kv_heads=cfg.n_kv_heads,
        vocab_size=cfg.vocab_size if cfg.tie_embeddings else -cfg.vocab_size,
        seq_len=cfg.max_seq_len,
    )
    state = {k: v.detach().float().cpu() for k, v in model.state_dict().items()}
    layers = [f"model.layers.{i}." for i in range(cfg.n_layers)]

    def stack(name: str) -> list[torch.Tensor]:
        return [state[p + name] for p in layers]

    cos, sin = legacy_rope_tables(cfg.head_dim, cfg.max_seq_len, cfg.rope_theta)
    arrays = [
        state["model.embed_tokens.weight"],
        *stack("input_layernorm.weight"),
        *(halves_to_interleaved(w, cfg.n_heads) for w in stack("self_attn.q_proj.weight")),
        *(halves_to_interleaved(w, cfg.n_kv_heads) for w in stack("self_attn.k_proj.weight")),
        *stack("self_attn.v_proj.weight"),
        *stack("self_attn.o_proj.weight"),
        *stack("post_attention_layernorm.weight"),
        *stack("mlp.gate_proj.weight"),
        *stack("mlp.down_proj.weight"),
        *stack("mlp.up_proj.weight"),
        state["model.norm.weight"],
        cos,
        sin,
    ]
    if not cfg.tie_embeddings:
        arrays.append(state["lm_head.weight"])
    return header, arrays


def legacy_rope_tables(
    head_dim: int, max_len: int, theta: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """The two RoPE tables [max_len, head_dim / 2] a version-0 file carries (run.c ignores
    them), as llama2.c's export.py computes them, so that exporting an imported file gives
    back its bytes."""
    inv_freq = 1.0 / (theta ** (torch.arange(0, head_dim, 2)[: head_dim // 2].float() / head_dim))
    return cos_sin(torch.outer(torch.arange(max_len), inv_freq).float())
