"""MEGABYTE (Yu et al. 2023, arXiv 2305.07185): a byte-level model that needs no tokenizer.

The byte stream is cut into patches of P bytes. A *global* transformer runs once per patch over
patch embeddings (the P byte embeddings of dim/P concatenated into one vector of `dim`), and a
small *local* transformer runs within each patch, byte by byte, starting from the global
model's output for that patch. Attention cost is (T/P)^2 globally plus T*P locally instead of
T^2, and the big model runs T/P times instead of T.

Alignment with the `forward(idx) -> next-token logits` interface every tinylm model shares:
patch k's global input is the previous patch (bytes (k-1)P .. kP-1; a learned start vector for
k = 0), and local position t = kP + p reads byte t itself plus slice p of the global output, so
the logits at t see exactly bytes 0..t: patches before k through the global model, the rest of
patch k through causal local attention.

Both levels are stacks of the project's Llama blocks (DecoderLayer: RMSNorm, RoPE, SwiGLU, GQA)
with rotary positions over patch index (global) and byte-in-patch index (local). Generation has
a KV cache at both levels: the global cache advances once per patch, the local cache restarts
with every patch, so each new byte costs one local step plus, every P bytes, one global step.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from tinylm.config import ModelConfig
from tinylm.models.llama import (
    DecoderLayer,
    KVCache,
    Llama,
    LlamaBody,
    RMSNorm,
    cache_dtype,
    lm_head_and_loss,
    rope_tables,
)


def stack_config(cfg: ModelConfig, level: str) -> ModelConfig:
    """The llama-shaped config of one level's transformer stack."""
    p = cfg.patch_size
    if level == "global":
        shape = dict(
            dim=cfg.dim,
            n_layers=cfg.n_layers,
            n_heads=cfg.n_heads,
            n_kv_heads=cfg.n_kv_heads,
            hidden_dim=cfg.hidden_dim,
            max_seq_len=cfg.max_seq_len // p,
        )
    else:
        shape = dict(
            dim=cfg.local_dim,
            n_layers=cfg.local_layers,
            n_heads=cfg.local_heads,
            max_seq_len=p,
        )
    return ModelConfig(
        arch="llama",
        vocab_size=cfg.vocab_size,
        multiple_of=cfg.multiple_of,
        norm_eps=cfg.norm_eps,
        rope_theta=cfg.rope_theta,
        dropout=cfg.dropout,
        **shape,
    )


class GlobalBody(nn.Module):
    """Byte embeddings of dim/P (P of them make one patch vector), the start patch, the stack."""

    def __init__(self, cfg: ModelConfig, stack: ModelConfig) -> None:
        super().__init__()
        self.embed_tokens = nn.Embedding(cfg.vocab_size, cfg.dim // cfg.patch_size)
        self.start_patch = nn.Parameter(torch.zeros(cfg.dim))
        self.layers = nn.ModuleList(DecoderLayer(stack, i) for i in range(stack.n_layers))
        self.norm = RMSNorm(cfg.dim, cfg.norm_eps)


class MegabyteCache:
    """Generation state: both KV caches, the bytes so far, and the global model's output for
    every patch begun so far, projected to the local width ([B, K, P, local_dim])."""

    def __init__(self, model: Megabyte, batch_size: int) -> None:
        cfg = model.config
        ref = model.lm_head.weight
        device, dtype, kv_dtype = ref.device, ref.dtype, cache_dtype(ref)
        self.global_kv = KVCache(model.global_cfg, batch_size, model.n_patches, device, kv_dtype)
        self.local_kv = KVCache(model.local_cfg, batch_size, cfg.patch_size, device, kv_dtype)
        self.tokens = torch.zeros(batch_size, cfg.max_seq_len, dtype=torch.long, device=device)
        self.patch_context = torch.zeros(
            batch_size, model.n_patches, cfg.patch_size, cfg.local_dim, device=device, dtype=dtype
        )
        self.length = 0


class Megabyte(nn.Module):
    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.config = cfg
        self.patch_size = cfg.patch_size
        self.n_patches = cfg.max_seq_len // cfg.patch_size
        self.global_cfg = stack_config(cfg, "global")
        self.local_cfg = stack_config(cfg, "local")
        self.global_model = GlobalBody(cfg, self.global_cfg)
        # The global output of a patch, read as P slices of dim/P, one per byte position.
        self.global_to_local = nn.Linear(cfg.dim // cfg.patch_size, cfg.local_dim, bias=False)
        self.local_model = LlamaBody(self.local_cfg)
        self.drop = nn.Dropout(cfg.dropout)
        self.lm_head = nn.Linear(cfg.local_dim, cfg.vocab_size, bias=False)
        if cfg.tie_embeddings:
            self.lm_head.weight = self.local_model.embed_tokens.weight
        for level, stack in (("global", self.global_cfg), ("local", self.local_cfg)):
            cos, sin = rope_tables(stack.head_dim, stack.max_seq_len, stack.rope_theta)
            self.register_buffer(f"{level}_rope_cos", cos, persistent=False)
            self.register_buffer(f"{level}_rope_sin", sin, persistent=False)
        self.apply(Llama._init_weights)
        nn.init.normal_(self.global_model.start_patch, mean=0.0, std=0.02)
        # Residual-branch outputs shrink with each stack's own depth, as in Llama.
        for prefix, depth in (("global_model.", cfg.n_layers), ("local_model.", cfg.local_layers)):
            for name, p in self.named_parameters():
                if name.startswith(prefix) and name.endswith(("o_proj.weight", "down_proj.weight")):
                    nn.init.normal_(p, mean=0.0, std=0.02 / math.sqrt(2 * depth))

    # -- the two levels --------------------------------------------------------------------

    def _global(
        self, patch_inputs: torch.Tensor, cache: KVCache | None, start: int
    ) -> torch.Tensor:
        """patch_inputs: [B, n, dim] for patches start..start+n-1 -> [B, n, P, local_dim]."""
        B, n, _ = patch_inputs.shape
        cos = self.global_rope_cos[start : start + n]
        sin = self.global_rope_sin[start : start + n]
        x = self.drop(patch_inputs)
        for layer in self.global_model.layers:
            x = layer(x, cos, sin, cache, start)
        x = self.global_model.norm(x)  # [B, n, dim]
        return self.global_to_local(x.view(B, n, self.patch_size, -1))

    def _patch_vectors(self, byte_ids: torch.Tensor) -> torch.Tensor:
        """[B, n*P] byte ids -> [B, n, dim] concatenated byte embeddings."""
        B, T = byte_ids.shape
        return self.global_model.embed_tokens(byte_ids).view(
            B, T // self.patch_size, self.config.dim
        )

    def _local(
        self, byte_ids: torch.Tensor, context: torch.Tensor, cache: KVCache | None, start: int
    ) -> torch.Tensor:
        """byte_ids: [N, t], context: [N, t, local_dim] for in-patch positions start..start+t-1
        -> hidden states [N, t, local_dim]."""
        t = byte_ids.shape[1]
        cos = self.local_rope_cos[start : start + t]
        sin = self.local_rope_sin[start : start + t]
        x = self.drop(self.local_model.embed_tokens(byte_ids)) + context
        for layer in self.local_model.layers:
            x = layer(x, cos, sin, cache, start)
        return self.local_model.norm(x)

    # -- the shared interface -------------------------------------------------------------

    def forward(
        self,
        idx: torch.Tensor,
        targets: torch.Tensor | None = None,
        cache: MegabyteCache | None = None,
        start: int = 0,
        last_only: bool = False,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """idx: [B, T] byte ids from absolute position `start`; logits [B, T, V] (or [B, 1, V]
        with `last_only`) predict the byte after each position. Any T works: a partial last
        patch is padded on the right, which cannot change earlier logits (causality)."""
        if start + idx.shape[1] > self.config.max_seq_len:
            raise ValueError(
                f"sequence of {start + idx.shape[1]} bytes exceeds max_seq_len "
                f"{self.config.max_seq_len}"
            )
        if cache is not None:
            # already only the last position with `last_only`
            x = self._forward_cached(idx, cache, start, last_only)
            return lm_head_and_loss(self.lm_head, x, targets, last_only=False)
        if start != 0:
            raise ValueError("megabyte without a cache starts at position 0")
        return lm_head_and_loss(self.lm_head, self._forward_full(idx), targets, last_only)

    def _forward_full(self, idx: torch.Tensor) -> torch.Tensor:
        B, T = idx.shape
        P = self.patch_size
        padded = F.pad(idx, (0, -T % P))  # [B, K*P]
        K = padded.shape[1] // P
        patches = self._patch_vectors(padded)  # [B, K, dim]
        start = self.global_model.start_patch.to(patches.dtype).expand(B, 1, -1)
        shifted = torch.cat([start, patches[:, :-1]], dim=1)  # patch k sees patches < k
        context = self._global(shifted, None, 0)  # [B, K, P, local_dim]
        h = self._local(
            padded.view(B * K, P), context.reshape(B * K, P, -1), None, 0
        )  # [B*K, P, local_dim]
        return h.view(B, K * P, -1)[:, :T]

    def _forward_cached(
        self, idx: torch.Tensor, cache: MegabyteCache, start: int, last_only: bool
    ) -> torch.Tensor:
        if start == 0:
            cache.length = 0  # a refill (generation slid past the context): all recomputed
        elif start != cache.length:
            raise ValueError(f"megabyte cache holds {cache.length} bytes, asked for {start}")
        B, T = idx.shape
        P = self.patch_size
        end = start + T
        cache.tokens[:, start:end] = idx
        # Global step for every patch whose first byte arrives now, batched in one call.
        first, stop = -(-start // P), -(-end // P)
        if stop > first:
            prev = cache.tokens[:, max(0, first - 1) * P : (stop - 1) * P]  # [B, <= n*P]
            inputs = self._patch_vectors(prev)
            if first == 0:  # patch 0 reads the start vector (alone for a prompt of <= P bytes)
                begin = self.global_model.start_patch.to(inputs.dtype).expand(B, 1, -1)
                inputs = torch.cat([begin, inputs], dim=1)
            context = self._global(inputs, cache.global_kv, first)
            cache.patch_context[:, first:stop] = context.to(cache.patch_context.dtype)
        # Local steps, one patch segment at a time; the local cache restarts with each patch.
        # Only the last segment matters for `last_only` (and for the state left behind).
        segments = []
        pos = start
        while pos < end:
            k = pos // P
            seg_end = min(end, (k + 1) * P)
            segments.append((k, pos, seg_end))
            pos = seg_end
        if last_only:
            k, _, seg_end = segments[-1]
            segments = [(k, max(start, k * P), seg_end)]
        outputs = []
        for k, s, e in segments:
            h = self._local(
                cache.tokens[:, s:e],
                cache.patch_context[:, k, s - k * P : e - k * P],
                cache.local_kv,
                s - k * P,
            )
            outputs.append(h)
        cache.length = end
        out = torch.cat(outputs, dim=1)
        return out[:, -1:] if last_only else out

    def make_cache(self, batch_size: int, max_len: int | None = None) -> MegabyteCache:
        # Whole patches: the cache always spans the full context (`max_len` is a hint only).
        return MegabyteCache(self, batch_size)
