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

from pathlib import Path

import numpy as np
import torch
from torch import nn

from tinylm.config import ModelConfig
from tinylm.errors import TinylmError
from tinylm.fileio import atomic_open
from tinylm.framing import BOS
from tinylm.interop.llama2c_layout import (
    HEADER,
    checkpoint_arrays,
    file_version,
    read_header,
)
from tinylm.interop.llama2c_tokenizer import tokenizer_bin_bytes
from tinylm.interop.rope import interleaved_to_halves
from tinylm.interop.runs import check_tokenizer_fits, write_imported_run
from tinylm.interop.tokenizer_files import load_tokenizer_file
from tinylm.progress import Progress
from tinylm.tokenizer import Tokenizer


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
    unless `framing` says otherwise. A version-2 (int8) file becomes an int8 run of its own
    groups when they lie within rows (`llama2c_q80`), else a float run."""
    model_path = Path(model_path)
    spec = None
    if file_version(model_path) == 2:
        from tinylm.interop.llama2c_q80 import quantized_state, read_v2
        from tinylm.quant.scheme import QuantSpec

        cfg, group, tensors, aligned = read_v2(model_path)
        if aligned:
            spec = QuantSpec("int8", group)
            tensors = quantized_state(tensors)
    else:
        cfg, tensors = read_checkpoint(model_path)
    tokenizer = load_tokenizer_file(tokenizer_path)
    check_tokenizer_fits(tokenizer, cfg.vocab_size, str(model_path))
    source = {"format": "llama2c", "path": str(model_path), "tokenizer": str(tokenizer_path)}
    return write_imported_run(out, cfg, tensors, tokenizer, source, framing or BOS, spec)


def export_llama2c(
    model: nn.Module,
    tokenizer: Tokenizer,
    out: str | Path,
    tokenizer_out: str | Path,
    version: int = 0,
    group_size: int | None = None,
) -> int:
    """Version 0 (fp32, run.c) or 2 (int8, runq.c); returns the group size of a version 2."""
    vocab_size = model.config.vocab_size
    check_tokenizer_fits(tokenizer, vocab_size, str(out))
    group = 0
    if version == 2:
        from tinylm.interop.llama2c_q80 import choose_group_size, write_v2

        group = choose_group_size(model.config, group_size)
        checkpoint_arrays(model)  # refuses what llama2.c cannot run, before writing
        write_v2(out, model, group)
    else:
        write_checkpoint(out, model)
    with atomic_open(tokenizer_out, "wb") as f:
        f.write(tokenizer_bin_bytes(tokenizer, vocab_size))
    return group
