"""Quantizing one weight matrix [N, K] along its rows, in groups of G values with one fp32 scale
each (symmetric, no zero point), with GGUF's arithmetic so that exports are exact:

- int8 = Q8_0 (llama2.c's version-2 files too): s = max|w| / 127, q = round(w / s) in
  [-127, 127], w ~ q * s.
- int4 = Q4_0: s = m / -8 where m is the group's value of largest magnitude (its sign kept), an
  unsigned nibble u = clamp(trunc(w / s + 8.5), 0, 15), w ~ (u - 8) * s; 32 values in 16 bytes,
  byte j of a block holding value j in its low nibble and value j + 16 in its high one.

An all-zero group gets scale 0 and zeros.
"""

from __future__ import annotations

import torch

from tinylm.quant.scheme import INT4_BLOCK


def _groups(weight: torch.Tensor, group: int) -> torch.Tensor:
    n, k = weight.shape
    return weight.detach().float().reshape(n, k // group, group)  # [N, K/G, G]


def quantize_int8(weight: torch.Tensor, group: int) -> tuple[torch.Tensor, torch.Tensor]:
    """[N, K] -> int8 values [N, K] and fp32 scales [N, K/G]."""
    blocks = _groups(weight, group)
    scale = blocks.abs().amax(dim=-1) / 127.0
    inverse = torch.where(scale > 0, 1.0 / scale, torch.zeros_like(scale))
    q = torch.round(blocks * inverse[..., None]).clamp(-127, 127).to(torch.int8)
    return q.reshape(weight.shape), scale.contiguous()


def quantize_int4(weight: torch.Tensor, group: int) -> tuple[torch.Tensor, torch.Tensor]:
    """[N, K] -> packed nibbles uint8 [N, K/2] and fp32 scales [N, K/G]."""
    n, k = weight.shape
    blocks = _groups(weight, group)
    largest = blocks.gather(-1, blocks.abs().argmax(dim=-1, keepdim=True)).squeeze(-1)
    scale = largest / -8.0
    inverse = torch.where(scale != 0, 1.0 / scale, torch.zeros_like(scale))
    u = torch.trunc(blocks * inverse[..., None] + 8.5).clamp(0, 15).to(torch.uint8)
    u = u.reshape(n, k // INT4_BLOCK, 2, INT4_BLOCK // 2)  # [N, blocks, low|high, 16]
    packed = u[:, :, 0] | (u[:, :, 1] << 4)
    return packed.reshape(n, k // 2).contiguous(), scale.contiguous()


def unpack_int4(packed: torch.Tensor) -> torch.Tensor:
    """uint8 [N, K/2] -> the signed values u - 8 as int8 [N, K]."""
    n, half = packed.shape
    blocks = packed.reshape(n, half // (INT4_BLOCK // 2), 1, INT4_BLOCK // 2)
    u = torch.cat((blocks & 0x0F, blocks >> 4), dim=2)  # [N, blocks, 2, 16]
    return (u.reshape(n, half * 2).to(torch.int16) - 8).to(torch.int8)


def dequantize(data: torch.Tensor, scale: torch.Tensor, bits: int) -> torch.Tensor:
    """The fp32 weight [N, K] the quantized values stand for."""
    values = data if bits == 8 else unpack_int4(data)
    n, k = values.shape
    groups = scale.shape[1]
    w = values.float().reshape(n, groups, k // groups) * scale.float()[..., None]
    return w.reshape(n, k)


def quantize(weight: torch.Tensor, bits: int, group: int) -> tuple[torch.Tensor, torch.Tensor]:
    return quantize_int8(weight, group) if bits == 8 else quantize_int4(weight, group)
