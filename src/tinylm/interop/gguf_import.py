"""`tinylm import MODEL.gguf`: a Llama-architecture GGUF file (llama.cpp's, Ollama's, the Hub's)
as a float run. Quantized tensors are dequantized with gguf-py's own readers (Q4_0, Q4_1, Q8_0,
K-quants, ...); q/k rows go back from llama.cpp's interleaved RoPE layout to tinylm's
rotate-half one (the inverse of `interop.gguf`).

The tokenizer is rebuilt from the file's `tokenizer.ggml.*` fields:
- "gpt2" (byte-level BPE: SmolLM, Llama 3, Qwen...): the vocabulary is already spelled in
  GPT-2's byte alphabet, and the merges are given. The pre-tokenizer follows
  `tokenizer.ggml.pre` as llama.cpp's llama-vocab.cpp does for the names listed in
  `PRE_TOKENIZERS` ("smollm" splits every digit off first, as SmolLM's own tokenizer.json).
  Tokens typed CONTROL become special tokens, so `<|im_start|>` stays one token.
- "llama" (sentencepiece-style pieces with scores): the same conversion as a sentencepiece
  .model file (`interop.spm`), with `add_space_prefix` for the dummy prefix.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
from tokenizers import AddedToken, Regex, decoders, models, pre_tokenizers
from tokenizers import Tokenizer as HFTokenizer

from tinylm.config import ModelConfig
from tinylm.errors import TinylmError
from tinylm.framing import BOS_EOS
from tinylm.interop import require
from tinylm.interop.gguf import GLOBAL_TENSORS, LAYER_TENSORS
from tinylm.interop.rope import interleaved_to_halves
from tinylm.interop.runs import write_imported_run
from tinylm.interop.spm import CONTROL, Piece, SpmSettings, build_tokenizer
from tinylm.tokenizer import Tokenizer

_LLAMA3_SPLIT = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}"
    r"| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
)


def _pre_tokenizer(pre: str) -> pre_tokenizers.PreTokenizer | None:
    """tokenizer.ggml.pre -> the splits before byte-level BPE, as llama.cpp's llama-vocab.cpp
    makes them (None: a name tinylm does not know)."""
    gpt2 = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    if pre in ("default", "gpt2"):
        return gpt2
    if pre == "smollm":  # every digit on its own, then GPT-2's split
        return pre_tokenizers.Sequence([pre_tokenizers.Digits(individual_digits=True), gpt2])
    if pre in ("llama3", "llama-v3", "llama-bpe"):
        split = pre_tokenizers.Split(Regex(_LLAMA3_SPLIT), behavior="isolated")
        return pre_tokenizers.Sequence(
            [split, pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)]
        )
    return None


PRE_TOKENIZER_NAMES = ("default", "gpt2", "smollm", "llama3", "llama-v3", "llama-bpe")
GGUF_NAMES = {v: k for k, v in GLOBAL_TENSORS.items()}
GGUF_LAYER_NAMES = {v: k for k, v in LAYER_TENSORS.items()}


def _field(reader: Any, key: str, default: Any = None) -> Any:
    field = reader.fields.get(key)
    return default if field is None else field.contents()


def read_gguf(path: Path) -> Any:
    gguf = require("gguf", "GGUF import")
    try:
        return gguf.GGUFReader(str(path))
    except Exception as exc:  # the reader raises ValueError, struct.error, IndexError...
        raise TinylmError(
            f"{path} is not a readable GGUF file ({type(exc).__name__}: {exc}); it may be "
            "truncated or not GGUF at all"
        ) from None


def gguf_config(reader: Any, path: Path) -> ModelConfig:
    arch = _field(reader, "general.architecture")
    if arch != "llama":
        raise TinylmError(
            f"{path} is a GGUF of architecture '{arch}'; tinylm imports Llama-architecture GGUF "
            "files (general.architecture = llama)"
        )
    if _field(reader, "llama.rope.scaling.type") not in (None, "none"):
        raise TinylmError(
            f"{path} uses RoPE scaling ({_field(reader, 'llama.rope.scaling.type')}), which "
            "tinylm's Llama does not compute; import its unscaled original instead"
        )
    try:
        dim = int(_field(reader, "llama.embedding_length"))
        heads = int(_field(reader, "llama.attention.head_count"))
        tokens = _field(reader, "tokenizer.ggml.tokens") or []
        cfg = ModelConfig(
            dim=dim,
            n_layers=int(_field(reader, "llama.block_count")),
            n_heads=heads,
            n_kv_heads=int(_field(reader, "llama.attention.head_count_kv", heads)),
            vocab_size=int(_field(reader, "llama.vocab_size", len(tokens))),
            hidden_dim=int(_field(reader, "llama.feed_forward_length")),
            max_seq_len=int(_field(reader, "llama.context_length")),
            rope_theta=float(_field(reader, "llama.rope.freq_base", 10000.0)),
            norm_eps=float(_field(reader, "llama.attention.layer_norm_rms_epsilon", 1e-5)),
            tie_embeddings="output.weight" not in {t.name for t in reader.tensors},
        )
    except (TypeError, ValueError):
        raise TinylmError(
            f"{path}: its llama.* metadata is incomplete (embedding_length, block_count, "
            "head_count, feed_forward_length and context_length are needed)"
        ) from None
    rope_dims = _field(reader, "llama.rope.dimension_count", cfg.head_dim)
    if rope_dims != cfg.head_dim:
        raise TinylmError(
            f"{path} rotates {rope_dims} of each head's {cfg.head_dim} dimensions; tinylm's "
            "Llama rotates them all"
        )
    cfg.validate()
    return cfg


def gguf_tensors(reader: Any, cfg: ModelConfig, path: Path) -> dict[str, torch.Tensor]:
    """tinylm/HF name -> fp32 tensor, dequantized, q/k in the rotate-half layout."""
    gguf = require("gguf", "GGUF import")
    out: dict[str, torch.Tensor] = {}
    for tensor in reader.tensors:
        try:
            data = gguf.quants.dequantize(tensor.data, tensor.tensor_type)
        except NotImplementedError:
            raise TinylmError(
                f"{path}: {tensor.name} is {tensor.tensor_type.name}, a type gguf-py cannot "
                "dequantize; re-quantize the file to Q8_0, Q4_K or F16 with llama.cpp"
            ) from None
        weight = torch.from_numpy(np.array(data, dtype=np.float32))  # a writable copy
        if tensor.name in GGUF_NAMES:
            out[GGUF_NAMES[tensor.name]] = weight
            continue
        parts = tensor.name.split(".", 2)  # blk.N.rest
        if len(parts) != 3 or parts[0] != "blk" or parts[2] not in GGUF_LAYER_NAMES:
            raise TinylmError(
                f"{path} holds a tensor tinylm's Llama has no place for ({tensor.name}); it is "
                "not a plain Llama"
            )
        rest = GGUF_LAYER_NAMES[parts[2]]
        if rest == "self_attn.q_proj.weight":
            weight = interleaved_to_halves(weight, cfg.n_heads)
        elif rest == "self_attn.k_proj.weight":
            weight = interleaved_to_halves(weight, cfg.n_kv_heads)
        out[f"model.layers.{parts[1]}.{rest}"] = weight
    return out


def gguf_tokenizer(reader: Any, path: Path) -> Tokenizer:
    kind = _field(reader, "tokenizer.ggml.model")
    tokens = _field(reader, "tokenizer.ggml.tokens")
    if not tokens:
        raise TinylmError(f"{path} carries no tokenizer (tokenizer.ggml.tokens is missing)")
    types = _field(reader, "tokenizer.ggml.token_type") or [1] * len(tokens)
    if kind == "gpt2":
        hf = _byte_level_bpe(reader, tokens, types, path)
    elif kind == "llama":
        scores = _field(reader, "tokenizer.ggml.scores") or [0.0] * len(tokens)
        pieces = [Piece(t, float(s), int(k)) for t, s, k in zip(tokens, scores, types, strict=True)]
        prefix = bool(_field(reader, "tokenizer.ggml.add_space_prefix", True))
        settings = SpmSettings(add_dummy_prefix=prefix)
        hf = build_tokenizer(pieces, settings, str(path))
    else:
        raise TinylmError(
            f"{path}: tokenizer model '{kind}' is not one tinylm converts (gpt2 and llama are)"
        )
    return Tokenizer(hf, source=f"{path} (tokenizer.ggml)")


def _byte_level_bpe(reader: Any, tokens: list[str], types: list[int], path: Path) -> HFTokenizer:
    pre = _field(reader, "tokenizer.ggml.pre", "default")
    pre_tokenizer = _pre_tokenizer(pre)
    if pre_tokenizer is None:
        raise TinylmError(
            f"{path}: its pre-tokenizer '{pre}' is not one tinylm knows "
            f"({', '.join(PRE_TOKENIZER_NAMES)}); import the model's Hugging Face folder "
            "instead, whose tokenizer.json spells it out"
        )
    merges = [tuple(m.split(" ", 1)) for m in _field(reader, "tokenizer.ggml.merges") or []]
    vocab = {token: i for i, token in enumerate(tokens)}
    hf = HFTokenizer(models.BPE(vocab=vocab, merges=merges, fuse_unk=False, byte_fallback=False))
    hf.pre_tokenizer = pre_tokenizer
    hf.decoder = decoders.ByteLevel()
    control = [t for t, k in zip(tokens, types, strict=True) if k == CONTROL]
    hf.add_special_tokens([AddedToken(t, special=True, normalized=False) for t in control])
    return hf


def import_gguf(path: str | Path, out: str | Path, framing: str | None = None) -> Path:
    """Models shipped as GGUF end a document with EOS: "bos+eos" unless `framing` says so."""
    path = Path(path)
    reader = read_gguf(path)
    cfg = gguf_config(reader, path)
    tokenizer = gguf_tokenizer(reader, path)
    tensors = gguf_tensors(reader, cfg, path)
    types = sorted({t.tensor_type.name for t in reader.tensors})
    source = {"format": "gguf", "path": str(path), "tensor_types": types}
    return write_imported_run(out, cfg, tensors, tokenizer, source, framing or BOS_EOS)
