"""llama2.c's version-2 files: int8 weights in Q8_0 groups, what its runq.c runs.

Layout (llama2.c export.py `version2_export`, runq.c `read_checkpoint`): a 256-byte header
(uint32 magic "ak42", int32 version 2, the 7 int32 of the legacy header with a positive vocab
size, uint8 shared classifier, int32 group size, zero padding), then fp32 norms (attention
norms [L, D], ffn norms [L, D], final norm [D]), then each quantized weight as its int8 values
followed by its fp32 scales, one per group of the flattened tensor: token embeddings, wq x L,
wk x L, wv x L, wo x L, w1 x L, w2 x L, w3 x L, and the classifier unless shared. wq/wk rows
are in the interleaved RoPE layout, as in version 0.

Export picks the group size as export.py does (64, halved until it divides dim), and also
until it divides hidden_dim: runq.c's matmul steps through each row in whole groups and
silently skips a remainder, so a group that does not divide hidden_dim would drop weights.
Import gives an int8 run of the same groups (exact: the values and scales are kept) when every
group lies within a row, else a float run of the dequantized weights.
"""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import torch
from torch import nn

from tinylm.config import ModelConfig
from tinylm.errors import TinylmError
from tinylm.fileio import atomic_open
from tinylm.interop.llama2c_layout import MAGIC, Header, check_header, checkpoint_arrays
from tinylm.interop.rope import interleaved_to_halves
from tinylm.progress import Progress
from tinylm.quant.tensors import quantize_int8

HEADER_SIZE = 256
VERSION = 2
FIELDS = struct.Struct("<Ii7iBi")  # magic, version, 7 dims, shared classifier, group size


def choose_group_size(cfg: ModelConfig, asked: int | None) -> int:
    assert cfg.hidden_dim is not None
    if asked is not None:
        for name, width in (("dim", cfg.dim), ("hidden_dim", cfg.hidden_dim)):
            if asked <= 0 or width % asked:
                raise TinylmError(
                    f"--group-size {asked} does not divide the model's {name} {width}; runq.c "
                    "reads whole groups along each row (drop --group-size to let tinylm choose)"
                )
        return asked
    group = 64
    while group > 1 and (cfg.dim % group or cfg.hidden_dim % group):
        group //= 2
    return group


def _v2_weights(model: nn.Module) -> tuple[Header, list[torch.Tensor], list[torch.Tensor], bool]:
    """(header, fp32 norms, weights to quantize, shared classifier) in file order."""
    header, arrays = checkpoint_arrays(model)  # the legacy file's arrays, layouts converted
    L = header.n_layers
    # legacy order: embedding, L att norms, L wq, L wk, L wv, L wo, L ffn norms, L w1, L w2,
    # L w3, final norm, cos, sin, [classifier]
    embedding = arrays[0]
    att_norms = arrays[1 : 1 + L]
    wq, wk, wv, wo = (arrays[1 + L * i : 1 + L * (i + 1)] for i in range(1, 5))
    ffn_norms = arrays[1 + 5 * L : 1 + 6 * L]
    w1, w2, w3 = (arrays[1 + L * i : 1 + L * (i + 1)] for i in range(6, 9))
    final_norm = arrays[1 + 9 * L]
    shared = header.vocab_size > 0
    weights = [embedding, *wq, *wk, *wv, *wo, *w1, *w2, *w3]
    if not shared:
        weights.append(arrays[-1])
    return header, [*att_norms, *ffn_norms, final_norm], weights, shared


def write_v2(path: str | Path, model: nn.Module, group_size: int) -> int:
    """Write `model` (float; a quantized run is dequantized by the caller) as a version-2 file."""
    header, norms, weights, shared = _v2_weights(model)
    total = HEADER_SIZE + sum(4 * n.numel() for n in norms)
    total += sum(w.numel() + 4 * (w.numel() // group_size) for w in weights)
    with (
        atomic_open(path, "wb") as f,
        Progress("writing llama2.c int8 checkpoint", total=total, unit="B") as bar,
    ):
        dims = (header.dim, header.hidden_dim, header.n_layers, header.n_heads)
        dims += (header.n_kv_heads, abs(header.vocab_size), header.seq_len)
        head = FIELDS.pack(MAGIC, VERSION, *dims, int(shared), group_size)
        f.write(head + b"\0" * (HEADER_SIZE - len(head)))
        for norm in norms:
            f.write(norm.contiguous().numpy().astype("<f4").tobytes())
        bar.advance(HEADER_SIZE + sum(4 * n.numel() for n in norms))
        for weight in weights:
            # export.py's quantize_q80: groups of the flattened tensor (rows here, as the
            # group divides every row)
            q, scale = quantize_int8(weight.reshape(-1, group_size), group_size)
            f.write(q.numpy().tobytes())
            f.write(scale.reshape(-1).numpy().astype("<f4").tobytes())
            bar.advance(weight.numel() + 4 * scale.numel())
    return total


def read_v2(path: str | Path) -> tuple[ModelConfig, int, dict[str, torch.Tensor], bool]:
    """(config, group size, tensors, row-aligned). Tensors under tinylm/HF names in the
    rotate-half layout: norms fp32; each weight as `name.qweight` int8 [N, K] and `name.scales`
    fp32 [N, K/G] when row-aligned (every group within a row), else dequantized `name.weight`."""
    path = Path(path)
    size = path.stat().st_size
    with open(path, "rb") as f:
        raw = f.read(HEADER_SIZE)
    if len(raw) < FIELDS.size:
        raise TinylmError(f"{path} is too short to be a llama2.c version-2 file ({size} bytes)")
    magic, version, *dims, shared, group = FIELDS.unpack_from(raw)
    if magic != MAGIC or version != VERSION:
        raise TinylmError(f"{path} is not a llama2.c version-2 (int8) file")
    header = Header(*dims)
    if header.vocab_size <= 0 or not 0 < group <= 1 << 16:
        raise TinylmError(
            f"{path}: its header is damaged (vocab {header.vocab_size}, group {group})"
        )
    check_header(path, header)
    if not shared:
        header = Header(*dims[:5], -dims[5], dims[6])
    V, D, L, Hd = abs(header.vocab_size), header.dim, header.n_layers, header.hidden_dim
    KV = header.n_kv_heads * header.head_dim
    shapes = [("embed", (V, D))]
    for name, shape in (("wq", (D, D)), ("wk", (KV, D)), ("wv", (KV, D)), ("wo", (D, D))):
        shapes += [(f"{name}.{i}", shape) for i in range(L)]
    for name, shape in (("w1", (Hd, D)), ("w2", (D, Hd)), ("w3", (Hd, D))):
        shapes += [(f"{name}.{i}", shape) for i in range(L)]
    if not shared:
        shapes.append(("wcls", (V, D)))
    norms_size = 4 * (2 * L * D + D)
    for name, (n, k) in shapes:
        if (n * k) % group:
            raise TinylmError(
                f"{path}: {name} has {n * k} weights, not a multiple of its group size {group}; "
                "the file is damaged"
            )
    expected = HEADER_SIZE + norms_size + sum(n * k + 4 * (n * k // group) for _, (n, k) in shapes)
    if size != expected:
        what = "truncated" if size < expected else "longer than its header says"
        raise TinylmError(
            f"{path} is {what}: its header (dim {D}, {L} layers, vocab {V}, group {group}) needs "
            f"{expected:,} bytes, the file has {size:,}; re-download or re-export it"
        )
    data = np.memmap(path, dtype=np.uint8, mode="r")
    norms = np.frombuffer(data, dtype="<f4", count=norms_size // 4, offset=HEADER_SIZE)
    offset = HEADER_SIZE + norms_size
    aligned = D % group == 0 and Hd % group == 0
    raw_weights: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}
    for name, (n, k) in shapes:
        count = n * k
        q = torch.from_numpy(np.frombuffer(data, np.int8, count, offset).copy())
        offset += count
        s = torch.from_numpy(np.frombuffer(data, "<f4", count // group, offset).copy())
        offset += 4 * (count // group)
        # -128 is outside Q8_0's range (export.py never writes it); the kernels assume so
        raw_weights[name] = (q.clamp_(-127, 127).view(n, k), s)

    tensors: dict[str, torch.Tensor] = {}

    def put(hf_name: str, name: str, heads: int | None = None) -> None:
        q, s = raw_weights[name]
        n, k = q.shape
        if aligned:
            scales = s.view(n, k // group)
            if heads is not None:  # the row permutation moves whole rows with their scales
                q = interleaved_to_halves(q, heads)
                scales = interleaved_to_halves(scales, heads)
            tensors[f"{hf_name}.qweight"] = q.contiguous()
            tensors[f"{hf_name}.scales"] = scales.contiguous()
        else:
            w = (q.float().view(-1, group) * s[:, None]).view(n, k)
            tensors[f"{hf_name}.weight"] = interleaved_to_halves(w, heads) if heads else w

    norms_t = torch.from_numpy(norms.copy())
    for i in range(L):
        p = f"model.layers.{i}."
        tensors[p + "input_layernorm.weight"] = norms_t[i * D : (i + 1) * D]
        tensors[p + "post_attention_layernorm.weight"] = norms_t[(L + i) * D : (L + i + 1) * D]
        put(p + "self_attn.q_proj", f"wq.{i}", header.n_heads)
        put(p + "self_attn.k_proj", f"wk.{i}", header.n_kv_heads)
        put(p + "self_attn.v_proj", f"wv.{i}")
        put(p + "self_attn.o_proj", f"wo.{i}")
        put(p + "mlp.gate_proj", f"w1.{i}")
        put(p + "mlp.down_proj", f"w2.{i}")
        put(p + "mlp.up_proj", f"w3.{i}")
    tensors["model.norm.weight"] = norms_t[2 * L * D :]
    put("model.embed_tokens", "embed")
    if "wcls" in raw_weights:
        put("lm_head", "wcls")
    return header.model_config(), group, tensors, aligned


def quantized_state(tensors: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """read_v2's row-aligned tensors under a QuantizedLlama's state-dict names (its embedding
    table lives at model.embed_tokens.table)."""
    out = {}
    for name, tensor in tensors.items():
        if name.startswith("model.embed_tokens."):
            name = name.replace("model.embed_tokens.", "model.embed_tokens.table.")
        out[name] = tensor
    return out
