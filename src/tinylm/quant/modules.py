"""The quantized layers and the quantized Llama.

A `QuantizedLinear` holds `qweight` (int8 [N, K], or int4 nibbles packed as uint8 [N, K/2]) and
`scales` (fp32 [N, K/G]) as buffers, the names its state dict is saved under. On the CPU its
product runs in tinylm's native kernel (models/quant_matmul.cpp: activations quantized to int8
per group, integer dot products); elsewhere, or without a C++ compiler, it dequantizes the
weight and calls F.linear (correct everywhere, not fast).

`QuantizedLlama` is a `Llama` with those layers, and one more path: a one-token step with a KV
cache on the CPU runs the whole model in one native call (`native_decode`), which is what makes
decoding fast; prompts and evaluation go through the layers.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from tinylm.config import ModelConfig
from tinylm.errors import TinylmError
from tinylm.models import native
from tinylm.models.llama import KVCache, Llama
from tinylm.quant.scheme import QuantSpec
from tinylm.quant.tensors import dequantize, quantize


class QuantizedLinear(nn.Module):
    def __init__(self, in_features: int, out_features: int, bits: int, group: int) -> None:
        super().__init__()
        self.in_features, self.out_features = in_features, out_features
        self.bits, self.group = bits, group
        shape = (out_features, in_features if bits == 8 else in_features // 2)
        dtype = torch.int8 if bits == 8 else torch.uint8
        self.register_buffer("qweight", torch.zeros(shape, dtype=dtype))
        self.register_buffer("scales", torch.zeros(out_features, in_features // group))

    @classmethod
    def from_weight(cls, weight: torch.Tensor, bits: int, group: int) -> QuantizedLinear:
        out_features, in_features = weight.shape
        layer = cls(in_features, out_features, bits, group)
        layer.qweight, layer.scales = quantize(weight, bits, group)
        return layer

    def dequantized(self) -> torch.Tensor:
        return dequantize(self.qweight, self.scales, self.bits)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        lib = native.library() if x.device.type == "cpu" else None
        if lib is None or (torch.is_grad_enabled() and x.requires_grad):
            return F.linear(x, self.dequantized().to(x.dtype))
        shape = x.shape
        rows = x.reshape(-1, self.in_features).float().contiguous()  # [M, K]
        y = torch.empty(rows.shape[0], self.out_features)  # [M, N]
        args = (rows.data_ptr(), self.qweight.data_ptr(), self.scales.data_ptr(), y.data_ptr())
        sizes = (self.bits, self.out_features, self.in_features, self.group)
        native.run(lib.tinylm_quant_matmul, (*args, *sizes), rows.shape[0], "quantized matmul")
        return y.view(*shape[:-1], self.out_features).to(x.dtype)

    def extra_repr(self) -> str:
        return f"{self.in_features}, {self.out_features}, int{self.bits}, group {self.group}"


class QuantizedEmbedding(nn.Module):
    """Token embeddings stored like a QuantizedLinear's weight [V, D]; a lookup dequantizes the
    rows it reads."""

    def __init__(self, num_embeddings: int, dim: int, bits: int, group: int) -> None:
        super().__init__()
        self.table = QuantizedLinear(dim, num_embeddings, bits, group)

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        rows = self.table.qweight[idx.reshape(-1)]
        scales = self.table.scales[idx.reshape(-1)]
        return dequantize(rows, scales, self.table.bits).view(*idx.shape, -1)


class TiedHead(nn.Module):
    """The output layer of a tied model whose embeddings are quantized: the embedding's own
    table as a linear layer, stored once (under model.embed_tokens)."""

    def __init__(self, embedding: QuantizedEmbedding) -> None:
        super().__init__()
        self._embedding = [embedding]  # a list: not a submodule, so not saved twice

    @property
    def linear(self) -> QuantizedLinear:
        return self._embedding[0].table

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear(x)


LINEAR_NAMES = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")


class QuantizedLlama(Llama):
    """A Llama whose linear layers (and, by choice, embeddings and output) are quantized."""

    def __init__(self, cfg: ModelConfig, spec: QuantSpec) -> None:
        super().__init__(cfg)
        self.quantization = spec
        self._decoder = None
        self._swap_layers(quantize_weights=False)

    @classmethod
    def from_float(cls, model: Llama, spec: QuantSpec) -> QuantizedLlama:
        """`model`'s weights, quantized by `spec`."""
        quantized = cls.__new__(cls)
        Llama.__init__(quantized, quantized_config(model.config, spec))
        quantized.load_state_dict(model.state_dict())
        quantized.quantization = spec
        quantized._decoder = None
        quantized._swap_layers(quantize_weights=True)
        return quantized

    def _swap_layers(self, quantize_weights: bool) -> None:
        """Replace the float layers by quantized ones: quantizing their weights, or empty (to
        load a saved quantized run into). A tied model whose embeddings and output are
        quantized differently has its config untied (`quantized_config`)."""
        spec, cfg = self.quantization, self.config

        def make(linear: nn.Module) -> QuantizedLinear:
            group = spec.group_for(linear.in_features)
            if not quantize_weights:
                return QuantizedLinear(linear.in_features, linear.out_features, spec.bits, group)
            return QuantizedLinear.from_weight(linear.weight, spec.bits, group)

        for layer in self.model.layers:
            for parent in (layer.self_attn, layer.mlp):
                for name in LINEAR_NAMES:
                    if hasattr(parent, name):
                        setattr(parent, name, make(getattr(parent, name)))
        embed_weight = self.model.embed_tokens.weight
        if spec.embeddings:
            embedding = QuantizedEmbedding(
                cfg.vocab_size, cfg.dim, spec.bits, spec.group_for(cfg.dim)
            )
            if quantize_weights:
                embedding.table = QuantizedLinear.from_weight(
                    embed_weight, spec.bits, spec.group_for(cfg.dim)
                )
            self.model.embed_tokens = embedding
        head = nn.Linear(cfg.dim, cfg.vocab_size, bias=False)
        head.weight = self.lm_head.weight
        if spec.output and spec.embeddings and cfg.tie_embeddings:
            self.lm_head = TiedHead(self.model.embed_tokens)
        elif spec.output:
            self.lm_head = make(head)
        elif spec.embeddings and self.lm_head.weight is embed_weight:
            # the output stays float while the embedding is quantized: a float copy of its own
            self.lm_head = nn.Linear(cfg.dim, cfg.vocab_size, bias=False)
            self.lm_head.weight = nn.Parameter(embed_weight.detach().clone())

    def dequantized(self) -> Llama:
        """A float Llama holding the weights this model computes with (q * scale): what the
        float export formats write for a quantized run."""
        cfg = self.config
        model = Llama(cfg)
        state = {}
        for name, module in self.named_modules():
            if isinstance(module, QuantizedLinear) and not name.endswith(".table"):
                state[f"{name}.weight"] = module.dequantized()
            elif isinstance(module, QuantizedEmbedding):
                state[f"{name}.weight"] = module.table.dequantized()
        for name, tensor in self.state_dict().items():
            if not name.endswith((".qweight", ".scales")):
                state[name] = tensor.float()
        if isinstance(self.lm_head, TiedHead) or cfg.tie_embeddings:
            state.pop("lm_head.weight", None)
        model.load_state_dict(state, strict=not cfg.tie_embeddings)
        return model.to(self.model.norm.weight.device).eval()

    @property
    def head_linear(self) -> nn.Module:
        return self.lm_head.linear if isinstance(self.lm_head, TiedHead) else self.lm_head

    def forward(
        self,
        idx: torch.Tensor,
        targets: torch.Tensor | None = None,
        cache: KVCache | None = None,
        start: int | torch.Tensor = 0,
        last_only: bool = False,
    ) -> tuple[torch.Tensor | None, torch.Tensor | None]:
        if targets is not None and torch.is_grad_enabled():
            raise TinylmError(
                "a quantized run is for inference; train or fine-tune the float run it was "
                "quantized from"
            )
        if cache is not None and idx.shape[1] == 1 and isinstance(start, int):
            decoder = self.native_decoder()
            if decoder is not None and cache.dtype == torch.float32:
                return decoder.step(idx[:, 0], start, cache)[:, None, :], None
        return super().forward(idx, targets, cache, start, last_only)

    def native_decoder(self):
        if self.model.norm.weight.device.type != "cpu" or native.library() is None:
            return None
        if self._decoder is None:
            from tinylm.quant.native_decode import NativeDecoder

            self._decoder = NativeDecoder(self)
        return self._decoder

    def _apply(self, fn, recurse=True):  # .to(): the decoder's pointers would go stale
        self._decoder = None
        return super()._apply(fn, recurse)


def quantized_config(cfg: ModelConfig, spec: QuantSpec) -> ModelConfig:
    """The config a quantized run records: a tied model stays tied only when its embeddings and
    output are quantized alike (otherwise they are two tensors, and saved as two)."""
    from dataclasses import replace

    return replace(cfg, tie_embeddings=cfg.tie_embeddings and spec.embeddings == spec.output)
