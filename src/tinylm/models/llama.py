"""Llama-2 decoder: RMSNorm, rotary embeddings, SwiGLU, grouped-query attention, optional tied
embeddings, a static KV cache for generation.

Parameter names match Hugging Face's `LlamaForCausalLM` (model.layers.N.self_attn.q_proj...) and
RoPE uses HF's rotate-half layout, so exporting to transformers is a plain copy; llama2.c's
interleaved layout is converted by permuting q/k rows at import/export time.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from tinylm.config import ModelConfig
from tinylm.models import small_head_attention
from tinylm.models.fused_loss import linear_cross_entropy

# `enable_gqa` arrived in torch 2.5; older builds get the kv heads repeated explicitly.
_SDPA_HAS_GQA = "enable_gqa" in (F.scaled_dot_product_attention.__doc__ or "")


class RMSNorm(nn.Module):
    def __init__(self, dim: int, eps: float) -> None:
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # Normalise in fp32 like HF/Meta: bf16 mean-of-squares loses too much precision.
        xf = x.float()
        xf = xf * torch.rsqrt(xf.pow(2).mean(-1, keepdim=True) + self.eps)
        return self.weight * xf.type_as(x)


def cos_sin(angles: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """cos and sin of fp32 angles, the same in every process. PyTorch's fp32 cos on the CPU
    (MKL's vector math, split over the intra-op threads) gave a different last bit in one
    process out of four on an Intel Xeon, so two runs of one command, or a run and its resumed
    copy, drifted apart. On one thread it is stable and equals what PyTorch users get there."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return angles.cos(), angles.sin()
    finally:
        torch.set_num_threads(threads)


def rope_tables(head_dim: int, max_len: int, theta: float) -> tuple[torch.Tensor, torch.Tensor]:
    """cos, sin: [max_len, head_dim] in fp32, halves duplicated for the rotate-half layout."""
    inv_freq = 1.0 / (theta ** (torch.arange(0, head_dim, 2, dtype=torch.float32) / head_dim))
    t = torch.arange(max_len, dtype=torch.float32)
    freqs = torch.outer(t, inv_freq)  # [max_len, head_dim/2]
    return cos_sin(torch.cat((freqs, freqs), dim=-1))


def rotate_half(x: torch.Tensor) -> torch.Tensor:
    x1, x2 = x.chunk(2, dim=-1)
    return torch.cat((-x2, x1), dim=-1)


def apply_rope(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """x: [B, H, T, hd]; cos/sin: [T, hd]."""
    return (x * cos + rotate_half(x) * sin).type_as(x)


class KVCache:
    """Preallocated keys/values, one [B, n_kv_heads, max_len, head_dim] tensor per layer.

    One allocation for the whole generation; each step writes its slice in place. Positions
    are only ever read after being written, so the memory starts uninitialised. Separate
    tensors per layer (not one [n_layers, ...] block) let a compiled step write each in place;
    an in-place write into a view of one big block made inductor copy the whole block."""

    def __init__(
        self,
        cfg: ModelConfig,
        batch_size: int,
        max_len: int,
        device: torch.device,
        dtype: torch.dtype,
    ) -> None:
        shape = (batch_size, cfg.n_kv_heads, max_len, cfg.head_dim)
        self.k = [torch.empty(shape, device=device, dtype=dtype) for _ in range(cfg.n_layers)]
        self.v = [torch.empty(shape, device=device, dtype=dtype) for _ in range(cfg.n_layers)]
        self.max_len = max_len
        self.dtype = dtype

    def update(
        self, layer: int, start: int, k: torch.Tensor, v: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        end = start + k.shape[2]
        self.k[layer][:, :, start:end] = k
        self.v[layer][:, :, start:end] = v
        return self.k[layer][:, :, :end], self.v[layer][:, :, :end]

    def write(
        self, layer: int, positions: torch.Tensor, k: torch.Tensor, v: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The fixed-shape twin of `update` for compiled decoding: positions is a [T] tensor,
        and the whole cache comes back (the caller masks what is not written yet), so no shape
        depends on where generation is."""
        self.k[layer].index_copy_(2, positions, k)
        self.v[layer].index_copy_(2, positions, v)
        return self.k[layer], self.v[layer]

    def prepare_fixed_shape(self) -> None:
        """Ready the cache for `write`: zero it (masked slots still meet the values in a
        matmul, and uninitialised memory may hold NaN, which a zero weight does not cancel),
        and tell torch.compile the buffers never move, so a CUDA graph may write into them in
        place (otherwise it refuses to graph a step that mutates its inputs)."""
        for tensor in (*self.k, *self.v):
            tensor.zero_()
            torch._dynamo.mark_static_address(tensor)


def cache_dtype(weight: torch.Tensor) -> torch.dtype:
    """The KV cache's dtype for a model whose weights are `weight`'s: theirs on a GPU, fp32 on
    the CPU. There the weights stay bf16 (half the bytes to read per token), but attention
    over the cache runs 3-5x faster in fp32: SDPA took 1.05 ms per layer in bf16 against 0.21
    in fp32 for one token of 16 samples over 200 cached positions (15m's heads;
    `benchmarks/attention.py --decode`)."""
    return torch.float32 if weight.device.type == "cpu" else weight.dtype


class Attention(nn.Module):
    def __init__(self, cfg: ModelConfig, layer: int) -> None:
        super().__init__()
        self.layer = layer
        self.n_heads = cfg.n_heads
        self.n_kv_heads = cfg.n_kv_heads
        self.head_dim = cfg.head_dim
        self.dropout = cfg.dropout
        self.q_proj = nn.Linear(cfg.dim, cfg.n_heads * cfg.head_dim, bias=False)
        self.k_proj = nn.Linear(cfg.dim, cfg.n_kv_heads * cfg.head_dim, bias=False)
        self.v_proj = nn.Linear(cfg.dim, cfg.n_kv_heads * cfg.head_dim, bias=False)
        self.o_proj = nn.Linear(cfg.n_heads * cfg.head_dim, cfg.dim, bias=False)

    def forward(
        self,
        x: torch.Tensor,
        cos: torch.Tensor,
        sin: torch.Tensor,
        cache: KVCache | None = None,
        start: int | torch.Tensor = 0,
    ) -> torch.Tensor:
        B, T, _ = x.shape
        q = self.q_proj(x).view(B, T, self.n_heads, self.head_dim).transpose(1, 2)
        dtype = q.dtype  # the attention output goes back to it (a no-op unless a cache differs)
        k = self.k_proj(x).view(B, T, self.n_kv_heads, self.head_dim).transpose(1, 2)
        v = self.v_proj(x).view(B, T, self.n_kv_heads, self.head_dim).transpose(1, 2)
        q, k = apply_rope(q, cos, sin), apply_rope(k, cos, sin)  # [B, H|KV, T, hd]
        if isinstance(start, torch.Tensor):  # fixed-shape decoding: [T] positions, see Llama
            assert cache is not None
            positions = start
            k, v = cache.write(self.layer, positions, k.to(cache.dtype), v.to(cache.dtype))
            mask = torch.arange(k.shape[2], device=x.device) <= positions[:, None]  # [T, S]
            y = self._attend(q.to(cache.dtype), k, v, 0, mask)
        else:
            if cache is not None:
                # The query meets the cache in the cache's dtype: converting one token's
                # query is cheap, converting the whole cache every step is not.
                k, v = cache.update(self.layer, start, k.to(cache.dtype), v.to(cache.dtype))
                q = q.to(cache.dtype)
            y = self._attend(q, k, v, start)  # [B, H, T, hd]
        y = y.to(dtype).transpose(1, 2).reshape(B, T, self.n_heads * self.head_dim)
        return self.o_proj(y)

    def _attend(
        self,
        q: torch.Tensor,
        k: torch.Tensor,
        v: torch.Tensor,
        start: int,
        mask: torch.Tensor | None = None,
    ) -> torch.Tensor:
        T, S = q.shape[2], k.shape[2]
        dropout = self.dropout if self.training else 0.0
        kwargs: dict = {}
        if self.n_kv_heads != self.n_heads:
            if _SDPA_HAS_GQA:
                kwargs["enable_gqa"] = True
            else:
                rep = self.n_heads // self.n_kv_heads
                k, v = k.repeat_interleave(rep, dim=1), v.repeat_interleave(rep, dim=1)
        if mask is not None:
            return F.scaled_dot_product_attention(q, k, v, attn_mask=mask, **kwargs)
        if T == 1:  # one new token attends to everything cached: no mask at all
            return F.scaled_dot_product_attention(q, k, v, dropout_p=dropout, **kwargs)
        if start == 0 and S == T:
            if small_head_attention.usable(q, dropout):
                return small_head_attention.causal_attention(q, k, v)
            return F.scaled_dot_product_attention(
                q, k, v, is_causal=True, dropout_p=dropout, **kwargs
            )
        # A chunk appended after cached tokens: query i sees keys up to start + i.
        mask = torch.ones(T, S, dtype=torch.bool, device=q.device).tril(diagonal=start)
        return F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=dropout, **kwargs)


class MLP(nn.Module):
    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        assert cfg.hidden_dim is not None
        self.gate_proj = nn.Linear(cfg.dim, cfg.hidden_dim, bias=False)
        self.up_proj = nn.Linear(cfg.dim, cfg.hidden_dim, bias=False)
        self.down_proj = nn.Linear(cfg.hidden_dim, cfg.dim, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))


class DecoderLayer(nn.Module):
    def __init__(self, cfg: ModelConfig, layer: int) -> None:
        super().__init__()
        self.input_layernorm = RMSNorm(cfg.dim, cfg.norm_eps)
        self.self_attn = Attention(cfg, layer)
        self.post_attention_layernorm = RMSNorm(cfg.dim, cfg.norm_eps)
        self.mlp = MLP(cfg)
        self.resid_dropout = nn.Dropout(cfg.dropout)

    def forward(
        self,
        x: torch.Tensor,
        cos: torch.Tensor,
        sin: torch.Tensor,
        cache: KVCache | None,
        start: int | torch.Tensor,
    ) -> torch.Tensor:
        x = x + self.resid_dropout(self.self_attn(self.input_layernorm(x), cos, sin, cache, start))
        return x + self.resid_dropout(self.mlp(self.post_attention_layernorm(x)))


class LlamaBody(nn.Module):
    """The `model.` prefix of HF's state dict: embeddings, layers, final norm."""

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.embed_tokens = nn.Embedding(cfg.vocab_size, cfg.dim)
        self.layers = nn.ModuleList(DecoderLayer(cfg, i) for i in range(cfg.n_layers))
        self.norm = RMSNorm(cfg.dim, cfg.norm_eps)


def lm_head_and_loss(
    lm_head: nn.Linear, x: torch.Tensor, targets: torch.Tensor | None, last_only: bool
) -> tuple[torch.Tensor | None, torch.Tensor | None]:
    """Every family's output: hidden states x [B, T, dim] -> logits [B, T, V] (only the last
    position, [B, 1, V], with `last_only` and no targets) and the mean cross-entropy against
    `targets` [B, T] when given (-100 entries are ignored).

    Training on the CPU (targets given, gradients wanted) takes the fused chunked loss and
    returns no logits: the [B, T, V] tensor is never built."""
    if targets is not None and x.device.type == "cpu" and x.requires_grad:
        return None, linear_cross_entropy(x, lm_head.weight, targets)
    if targets is not None:
        logits = lm_head(x)
        loss = F.cross_entropy(
            logits.float().view(-1, logits.size(-1)), targets.reshape(-1), ignore_index=-100
        )
        return logits, loss
    if last_only:
        x = x[:, -1:, :]
    return lm_head(x), None


class Llama(nn.Module):
    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.config = cfg
        self.model = LlamaBody(cfg)
        self.drop = nn.Dropout(cfg.dropout)
        self.lm_head = nn.Linear(cfg.dim, cfg.vocab_size, bias=False)
        if cfg.tie_embeddings:
            self.lm_head.weight = self.model.embed_tokens.weight
        cos, sin = rope_tables(cfg.head_dim, cfg.max_seq_len, cfg.rope_theta)
        self.register_buffer("rope_cos", cos, persistent=False)
        self.register_buffer("rope_sin", sin, persistent=False)
        self.apply(self._init_weights)
        # GPT-2/llama2.c: shrink residual-branch outputs so the residual stream's variance does
        # not grow with depth at initialisation.
        for name, p in self.named_parameters():
            if name.endswith(("o_proj.weight", "down_proj.weight")):
                nn.init.normal_(p, mean=0.0, std=0.02 / math.sqrt(2 * cfg.n_layers))

    @staticmethod
    def _init_weights(module: nn.Module) -> None:
        if isinstance(module, nn.Linear | nn.Embedding):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)

    def forward(
        self,
        idx: torch.Tensor,
        targets: torch.Tensor | None = None,
        cache: KVCache | None = None,
        start: int | torch.Tensor = 0,
        last_only: bool = False,
    ) -> tuple[torch.Tensor | None, torch.Tensor | None]:
        """idx: [B, T] token ids starting at absolute position `start`.

        Returns logits [B, T, V] (or [B, 1, V] with `last_only`; None when training on the CPU
        with targets, see lm_head_and_loss) and the mean cross-entropy against `targets`
        [B, T] when given (-100 entries are ignored).

        A 1-element tensor `start` (with a cache) selects fixed-shape decoding: every shape is
        the same at every position (the whole cache is attended, unwritten slots masked), so
        torch.compile traces the step once and CUDA can replay it as one graph."""
        T = idx.shape[1]
        if isinstance(start, torch.Tensor):
            # The layers get the [T] positions themselves, computed once here.
            start = start + torch.arange(T, device=idx.device)
            cos, sin = self.rope_cos[start], self.rope_sin[start]
        else:
            if start + T > self.config.max_seq_len:
                raise ValueError(
                    f"sequence of {start + T} tokens exceeds max_seq_len {self.config.max_seq_len}"
                )
            cos = self.rope_cos[start : start + T]
            sin = self.rope_sin[start : start + T]
        x = self.drop(self.model.embed_tokens(idx))  # [B, T, dim]
        for layer in self.model.layers:
            x = layer(x, cos, sin, cache, start)
        x = self.model.norm(x)
        return lm_head_and_loss(self.lm_head, x, targets, last_only)

    def make_cache(
        self, batch_size: int, max_len: int | None = None, dtype: torch.dtype | None = None
    ) -> KVCache:
        # the final norm: a float parameter in every variant (a quantized model's output layer
        # holds int8 buffers, not a weight)
        ref = self.model.norm.weight
        return KVCache(
            self.config,
            batch_size,
            max_len or self.config.max_seq_len,
            ref.device,
            dtype or cache_dtype(ref),
        )
