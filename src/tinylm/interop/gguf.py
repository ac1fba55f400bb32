"""GGUF for llama.cpp / Ollama, written with the `gguf` package the way llama.cpp's own
convert_hf_to_gguf.py writes a Llama: architecture "llama", tensors `token_embd`,
`blk.N.attn_q` ..., `output_norm`, `output` (left out when tied; llama.cpp then reuses
`token_embd`), and wq/wk rows permuted back to the interleaved RoPE layout that llama.cpp's
"llama" architecture rotates.

The tokenizer goes in as `tokenizer.ggml.model = "llama"` (sentencepiece-style: pieces with `▁`
for spaces, scores, types, byte-fallback `<0xXX>` tokens). That is the model llama.cpp has for
byte-fallback vocabularies, which tinylm's own BPE is (same id layout as Llama's). The "gpt2"
alternative does not fit: it expects GPT-2's byte-to-unicode alphabet with a token for every
byte and a pre-tokenizer llama.cpp knows by name; tinylm's pieces are plain UTF-8 and its bytes
are `<0xXX>` tokens, so non-ASCII text would not tokenize. With "llama", detokenisation is exact
(`▁` -> space, byte tokens -> bytes); `add_space_prefix` is false for tinylm's tokenizers (they
add no dummy space) and true for converted sentencepiece ones. llama.cpp encodes by merging the
best-scoring pair, the sentencepiece way; scores -rank follow tinylm's merge order, which gives
tinylm's tokens for ordinary text (see the tests for what is compared).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import nn

from tinylm.config import ModelConfig
from tinylm.errors import TinylmError
from tinylm.fileio import fsync_replace, temp_path_beside
from tinylm.interop import require
from tinylm.interop.rope import halves_to_interleaved
from tinylm.interop.runs import check_tokenizer_fits
from tinylm.interop.vocab import spm_vocab
from tinylm.tokenizer import Tokenizer

# tinylm/HF parameter name (after `model.layers.N.`) -> GGUF tensor name (after `blk.N.`)
LAYER_TENSORS = {
    "input_layernorm.weight": "attn_norm.weight",
    "self_attn.q_proj.weight": "attn_q.weight",
    "self_attn.k_proj.weight": "attn_k.weight",
    "self_attn.v_proj.weight": "attn_v.weight",
    "self_attn.o_proj.weight": "attn_output.weight",
    "post_attention_layernorm.weight": "ffn_norm.weight",
    "mlp.gate_proj.weight": "ffn_gate.weight",
    "mlp.up_proj.weight": "ffn_up.weight",
    "mlp.down_proj.weight": "ffn_down.weight",
}
GLOBAL_TENSORS = {
    "model.embed_tokens.weight": "token_embd.weight",
    "model.norm.weight": "output_norm.weight",
    "lm_head.weight": "output.weight",
}


def gguf_tensors(model: nn.Module) -> dict[str, torch.Tensor]:
    """GGUF name -> fp32 tensor, q/k in llama.cpp's interleaved layout."""
    cfg: ModelConfig = model.config
    state = {k: v.detach().float().cpu() for k, v in model.state_dict().items()}
    if cfg.tie_embeddings:
        state.pop("lm_head.weight")
    out: dict[str, torch.Tensor] = {}
    for name, tensor in state.items():
        if name in GLOBAL_TENSORS:
            out[GLOBAL_TENSORS[name]] = tensor
            continue
        _, _, layer, rest = name.split(".", 3)  # model.layers.N.rest
        if rest == "self_attn.q_proj.weight":
            tensor = halves_to_interleaved(tensor, cfg.n_heads)
        elif rest == "self_attn.k_proj.weight":
            tensor = halves_to_interleaved(tensor, cfg.n_kv_heads)
        out[f"blk.{layer}.{LAYER_TENSORS[rest]}"] = tensor
    return out


def export_gguf(
    model: nn.Module, tokenizer: Tokenizer, out: str | Path, dtype: str = "fp32", name: str = ""
) -> Path:
    gguf = require("gguf", "GGUF export")
    cfg: ModelConfig = model.config
    if cfg.arch != "llama":
        raise TinylmError(f"GGUF export covers Llama models; this run is '{cfg.arch}'")
    check_tokenizer_fits(tokenizer, cfg.vocab_size, "of this run")
    qtypes = {
        "fp32": (gguf.GGMLQuantizationType.F32, gguf.LlamaFileType.ALL_F32),
        "fp16": (gguf.GGMLQuantizationType.F16, gguf.LlamaFileType.MOSTLY_F16),
        "bf16": (gguf.GGMLQuantizationType.BF16, gguf.LlamaFileType.MOSTLY_BF16),
        "q8_0": (gguf.GGMLQuantizationType.Q8_0, gguf.LlamaFileType.MOSTLY_Q8_0),
        "q4_0": (gguf.GGMLQuantizationType.Q4_0, gguf.LlamaFileType.MOSTLY_Q4_0),
    }
    block = gguf.GGML_QUANT_SIZES[qtypes[dtype][0]][0]  # weights per block along a row
    qtype, file_type = qtypes[dtype]
    vocab = spm_vocab(tokenizer, cfg.vocab_size)
    out = Path(out)
    tmp = temp_path_beside(out)
    try:
        writer = gguf.GGUFWriter(str(tmp), "llama")
        writer.add_name(name or out.stem)
        writer.add_context_length(cfg.max_seq_len)
        writer.add_embedding_length(cfg.dim)
        writer.add_block_count(cfg.n_layers)
        writer.add_feed_forward_length(cfg.hidden_dim)
        writer.add_head_count(cfg.n_heads)
        writer.add_head_count_kv(cfg.n_kv_heads)
        writer.add_rope_dimension_count(cfg.head_dim)
        writer.add_rope_freq_base(cfg.rope_theta)
        writer.add_layer_norm_rms_eps(cfg.norm_eps)
        writer.add_vocab_size(cfg.vocab_size)
        writer.add_file_type(file_type)

        writer.add_tokenizer_model("llama")
        writer.add_tokenizer_pre("default")
        writer.add_token_list([p.text for p in vocab.pieces])
        writer.add_token_scores([p.score for p in vocab.pieces])
        writer.add_token_types([p.kind for p in vocab.pieces])
        for token, add in (
            (vocab.bos_id, writer.add_bos_token_id),
            (vocab.eos_id, writer.add_eos_token_id),
            (vocab.unk_id, writer.add_unk_token_id),
            (vocab.pad_id, writer.add_pad_token_id),
        ):
            if token is not None:
                add(token)
        writer.add_add_bos_token(vocab.bos_id is not None)
        writer.add_add_eos_token(False)
        writer.add_add_space_prefix(vocab.add_space_prefix)

        for tensor_name, tensor in gguf_tensors(model).items():
            data = tensor.numpy()
            if data.ndim == 1 or qtype == gguf.GGMLQuantizationType.F32:
                writer.add_tensor(tensor_name, data)  # norms stay fp32, as llama.cpp wants
            elif qtype == gguf.GGMLQuantizationType.F16 or data.shape[-1] % block:
                # a row that is not whole blocks cannot be Q8_0/Q4_0: fp16, as llama.cpp's
                # converter falls back (260k's hidden_dim 172, say)
                writer.add_tensor(tensor_name, data.astype(np.float16))
            else:
                packed = gguf.quants.quantize(data, qtype)
                writer.add_tensor(tensor_name, packed, raw_dtype=qtype)
        writer.write_header_to_file()
        writer.write_kv_data_to_file()
        writer.write_tensors_to_file(progress=False)
        writer.close()
        fsync_replace(tmp, out)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return out
