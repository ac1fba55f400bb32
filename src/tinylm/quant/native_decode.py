"""The one-call decoding step of a quantized Llama (models/llama_decode.cpp) and the pointer
table it reads the model's weights from.

The table, in order: embedding (data, scales or null), then per layer 16 entries (attn norm;
q, k, v, o as data + scales; ffn norm; gate, up, down as data + scales), then the final norm
and the output layer (data, scales or null). A layer kept in float has null scales and fp32
data. The tensors are the model's own buffers (no copies); the decoder keeps them alive and is
rebuilt when the model moves (`QuantizedLlama._apply`).
"""

from __future__ import annotations

import ctypes
import weakref

import torch
from torch import nn

from tinylm.models import native
from tinylm.models.llama import KVCache


def _weight(module: nn.Module) -> tuple[torch.Tensor, torch.Tensor | None, int]:
    """(data, scales, bits) of a linear or embedding layer, quantized or float."""
    table = getattr(module, "table", None) or getattr(module, "linear", None) or module
    if hasattr(table, "qweight"):
        return table.qweight, table.scales, table.bits
    return table.weight.detach().float().contiguous(), None, 32


class NativeDecoder:
    def __init__(self, model: nn.Module) -> None:
        cfg, spec = model.config, model.quantization
        self.lib = native.library()
        keep: list[torch.Tensor] = []

        def pointer(tensor: torch.Tensor | None) -> int | None:
            if tensor is None:
                return None
            tensor = tensor.detach().contiguous()
            assert tensor.device.type == "cpu"
            if tensor.is_floating_point():
                tensor = tensor.float().contiguous()
            keep.append(tensor)
            return tensor.data_ptr()

        entries: list[int | None] = []
        embed_data, embed_scales, embed_bits = _weight(model.model.embed_tokens)
        entries += [pointer(embed_data), pointer(embed_scales)]
        for layer in model.model.layers:
            attn, mlp = layer.self_attn, layer.mlp
            entries.append(pointer(layer.input_layernorm.weight))
            for linear in (attn.q_proj, attn.k_proj, attn.v_proj, attn.o_proj):
                data, scales, _ = _weight(linear)
                entries += [pointer(data), pointer(scales)]
            entries.append(pointer(layer.post_attention_layernorm.weight))
            for linear in (mlp.gate_proj, mlp.up_proj, mlp.down_proj):
                data, scales, _ = _weight(linear)
                entries += [pointer(data), pointer(scales)]
        entries.append(pointer(model.model.norm.weight))
        head_data, head_scales, head_bits = _weight(model.lm_head)
        entries += [pointer(head_data), pointer(head_scales)]
        self.table = (ctypes.c_void_p * len(entries))(*entries)
        self.cos, self.sin = (pointer(t) for t in (model.rope_cos, model.rope_sin))
        assert cfg.hidden_dim is not None and cfg.n_kv_heads is not None
        dims = [
            cfg.dim,
            cfg.hidden_dim,
            cfg.n_layers,
            cfg.n_heads,
            cfg.n_kv_heads,
            cfg.head_dim,
            cfg.vocab_size,
            spec.bits,
            spec.group_size,  # 0: per channel, each product's own row width
            0,  # the KV cache's length, set per step
            embed_bits,
            head_bits,
        ]
        self.dims = (ctypes.c_int64 * len(dims))(*dims)
        self.eps = cfg.norm_eps
        self.vocab_size = cfg.vocab_size
        self._keep = keep
        # The pointers of the cache of the generation under way, and a weak reference to it:
        # holding the cache itself would keep its memory (1.2 GB for 110m x 16 streams) after
        # the generation ended.
        self._cache_pointers: tuple[weakref.ref, object, object] | None = None

    def _caches(self, cache: KVCache) -> tuple[object, object]:
        if self._cache_pointers is None or self._cache_pointers[0]() is not cache:
            for tensor in (*cache.k, *cache.v):
                assert tensor.is_contiguous() and tensor.dtype == torch.float32
            k = (ctypes.c_void_p * len(cache.k))(*(t.data_ptr() for t in cache.k))
            v = (ctypes.c_void_p * len(cache.v))(*(t.data_ptr() for t in cache.v))
            self._cache_pointers = (weakref.ref(cache), k, v)
        return self._cache_pointers[1], self._cache_pointers[2]

    def step(self, tokens: torch.Tensor, pos: int, cache: KVCache) -> torch.Tensor:
        """tokens [B] at position `pos` -> logits [B, V]; the cache gets their keys/values."""
        if pos >= cache.max_len:
            raise ValueError(f"position {pos} is past the KV cache ({cache.max_len})")
        ids = tokens.to(torch.int64).contiguous()
        logits = torch.empty(ids.shape[0], self.vocab_size)
        k, v = self._caches(cache)
        self.dims[9] = cache.max_len
        args = (self.dims, ids.data_ptr(), self.table, self.cos, self.sin, k, v)
        native.run(
            self.lib.tinylm_llama_decode,
            (*args, logits.data_ptr(), self.eps, pos),
            ids.shape[0],
            "quantized decoding step",
        )
        return logits
