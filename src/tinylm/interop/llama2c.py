"""llama2.c checkpoints (`.bin`, legacy version 0, what run.c reads).

Model file: 7 int32 (dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size, seq_len; a
negative vocab_size means a separate classifier), then fp32 arrays: token_embedding [V, D],
rms_att [L, D], wq [L, D, D], wk [L, KV, D], wv [L, KV, D], wo [L, D, D], rms_ffn [L, D],
w1 [L, H, D], w2 [L, D, H], w3 [L, H, D], rms_final [D], two RoPE tables [seq_len, hd/2]
(cos, sin; run.c recomputes nothing from them in newer versions, older ones read them), and the
classifier [V, D] when untied. RoPE rotates interleaved pairs with theta 10000 and run.c's
RMSNorm eps is 1e-5; wq/wk rows are permuted to tinylm's rotate-half layout on the way in and
back on the way out, so an imported file exports to the same bytes.

Its tokenizer file is `tinylm.interop.llama2c_tokenizer`.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from tinylm.config import ModelConfig
from tinylm.errors import TinylmError
from tinylm.fileio import atomic_open
from tinylm.framing import BOS
from tinylm.interop.llama2c_tokenizer import tokenizer_bin_bytes
from tinylm.interop.rope import halves_to_interleaved, interleaved_to_halves
from tinylm.interop.runs import check_tokenizer_fits, write_imported_run
from tinylm.interop.tokenizer_files import load_tokenizer_file
from tinylm.models.llama import cos_sin
from tinylm.progress import Progress
from tinylm.tokenizer import Tokenizer

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


def read_header(path: Path) -> Header:
    if not path.is_file():
        raise TinylmError(f"llama2.c checkpoint not found: {path}")
    with open(path, "rb") as f:
        raw = f.read(HEADER.size)
    if len(raw) >= 4 and struct.unpack_from("<I", raw)[0] == MAGIC:
        version = struct.unpack_from("<i", raw, 4)[0] if len(raw) >= 8 else "?"
        raise TinylmError(
            f"{path} is a llama2.c version-{version} export; tinylm reads the legacy format "
            "run.c uses (export it with `python export.py --version 0`)"
        )
    if len(raw) < HEADER.size:
        raise TinylmError(f"{path} is too short to be a llama2.c checkpoint ({len(raw)} bytes)")
    header = Header(*HEADER.unpack(raw))
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
            f"{path} does not look like a llama2.c checkpoint (header {HEADER.unpack(raw)}); "
            "pass a model .bin written by llama2.c's export.py"
        )
    return header


def read_checkpoint(path: str | Path) -> tuple[ModelConfig, dict[str, torch.Tensor]]:
    """The model config and its weights under tinylm/HF names, in the rotate-half layout."""
    path = Path(path)
    header = read_header(path)
    size, expected = path.stat().st_size, header.file_size()
    if size != expected:
        what = "truncated" if size < expected else "longer than its header says"
        raise TinylmError(
            f"{path} is {what}: its header (dim {header.dim}, {header.n_layers} layers, vocab "
            f"{abs(header.vocab_size)}) needs {expected:,} bytes, the file has {size:,}; "
            "re-download or re-export it"
        )
    flat = np.fromfile(path, dtype="<f4", offset=HEADER.size)
    arrays: dict[str, torch.Tensor] = {}
    offset = 0
    for name, shape in header.shapes():
        count = int(np.prod(shape))
        arrays[name] = torch.from_numpy(flat[offset : offset + count].reshape(shape).copy())
        offset += count
    cfg = header.model_config()
    tensors = {"model.embed_tokens.weight": arrays["token_embedding"]}
    for i in range(header.n_layers):
        p = f"model.layers.{i}."
        tensors[p + "input_layernorm.weight"] = arrays["rms_att"][i]
        tensors[p + "self_attn.q_proj.weight"] = interleaved_to_halves(
            arrays["wq"][i], header.n_heads
        )
        tensors[p + "self_attn.k_proj.weight"] = interleaved_to_halves(
            arrays["wk"][i], header.n_kv_heads
        )
        tensors[p + "self_attn.v_proj.weight"] = arrays["wv"][i]
        tensors[p + "self_attn.o_proj.weight"] = arrays["wo"][i]
        tensors[p + "post_attention_layernorm.weight"] = arrays["rms_ffn"][i]
        tensors[p + "mlp.gate_proj.weight"] = arrays["w1"][i]
        tensors[p + "mlp.down_proj.weight"] = arrays["w2"][i]
        tensors[p + "mlp.up_proj.weight"] = arrays["w3"][i]
    tensors["model.norm.weight"] = arrays["rms_final"]
    if "wcls" in arrays:
        tensors["lm_head.weight"] = arrays["wcls"]
    return cfg, tensors


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


def write_checkpoint(path: str | Path, model: nn.Module) -> int:
    header, arrays = checkpoint_arrays(model)
    total = header.file_size()
    with (
        atomic_open(path, "wb") as f,
        Progress("writing llama2.c checkpoint", total=total, unit="B") as bar,
    ):
        f.write(HEADER.pack(*vars(header).values()))
        for array in arrays:
            data = array.contiguous().numpy().astype("<f4", copy=False).tobytes()
            f.write(data)
            bar.advance(len(data))
    return total


# -- import / export --------------------------------------------------------------------------


def import_llama2c(
    model_path: str | Path, tokenizer_path: str | Path, out: str | Path, framing: str | None = None
) -> Path:
    """llama2.c's pretokenizer writes BOS + story and never an EOS: the run's framing is "bos"
    unless `framing` says otherwise."""
    model_path = Path(model_path)
    cfg, tensors = read_checkpoint(model_path)
    tokenizer = load_tokenizer_file(tokenizer_path)
    check_tokenizer_fits(tokenizer, cfg.vocab_size, str(model_path))
    source = {"format": "llama2c", "path": str(model_path), "tokenizer": str(tokenizer_path)}
    return write_imported_run(out, cfg, tensors, tokenizer, source, framing or BOS)


def export_llama2c(
    model: nn.Module, tokenizer: Tokenizer, out: str | Path, tokenizer_out: str | Path
) -> None:
    vocab_size = model.config.vocab_size
    check_tokenizer_fits(tokenizer, vocab_size, str(out))
    write_checkpoint(out, model)
    with atomic_open(tokenizer_out, "wb") as f:
        f.write(tokenizer_bin_bytes(tokenizer, vocab_size))
