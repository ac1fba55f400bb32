"""Attention formulations for tiny heads (the 260k preset: head size 8, 8 query / 4 kv heads,
512 positions; 1m: head size 16), forward + backward, side by side in one process.

    python benchmarks/attention.py                  # batch 32, the preset's training shape
    python benchmarks/attention.py --batch 8 --rounds 5
    python benchmarks/attention.py --preset 1m --batch 16
    python benchmarks/attention.py --batch 2 --seq-len 4096 --no-compile   # a long context
    python benchmarks/attention.py --decode --preset 15m   # one new token over a KV cache

With head size 8 the score matmuls have an inner dimension of 8: every score costs as much
softmax work as matmul work, so the contest is between kernels that avoid materialising the
[T, T] scores (PyTorch's CPU flash kernel behind SDPA) and formulations that hand big batched
matmuls to BLAS (explicit q @ k^T, masked softmax, @ v) in fp32, in bf16, or fused by
torch.compile. FlexAttention has no CPU backward (torch 2.13), so it cannot train here.
What tinylm runs for head sizes 8 and 16 is neither: its own kernel
(src/tinylm/models/small_head_attention.cpp), one query row against SIMD-width blocks of keys.

`--decode` times what decoding runs instead: SDPA for one new query token over `--cached`
positions of a KV cache, with the cache in bf16 and in fp32 (tinylm keeps it fp32 on the CPU,
`cache_dtype` in src/tinylm/models/llama.py), at batch 1 and 16.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

import torch
import torch.nn.functional as F
from common import machine_info, paired_times, print_machine, print_table

from tinylm.config import build_configs
from tinylm.models import small_head_attention

Attend = Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]


def sdpa_gqa(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """PyTorch's flash kernel, kv heads shared through enable_gqa (tinylm for larger heads)."""
    return F.scaled_dot_product_attention(q, k, v, is_causal=True, enable_gqa=True)


def sdpa_repeated(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """What transformers runs: kv heads copied to every query head first."""
    rep = q.shape[1] // k.shape[1]
    k, v = k.repeat_interleave(rep, 1), v.repeat_interleave(rep, 1)
    return F.scaled_dot_product_attention(q, k, v, is_causal=True)


def explicit(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """Scores materialised: two batched BLAS matmuls and a masked fp32 softmax."""
    T, rep = q.shape[2], q.shape[1] // k.shape[1]
    k, v = k.repeat_interleave(rep, 1), v.repeat_interleave(rep, 1)
    scores = (q @ k.transpose(-1, -2)) * q.shape[-1] ** -0.5  # [B, H, T, T]
    future = torch.ones(T, T, dtype=torch.bool, device=q.device).triu(1)
    scores = scores.masked_fill(future, float("-inf"))
    return torch.softmax(scores, -1, dtype=torch.float32).to(q.dtype) @ v


def fwd_bwd(fn: Attend, inputs: list[torch.Tensor]) -> Callable[[], None]:
    return lambda: fn(*inputs).float().sum().backward()


def decode_table(preset: str, cached: int, rounds: int, device: torch.device) -> None:
    cfg, _ = build_configs(preset)
    H, kv, hd = cfg.n_heads, cfg.n_kv_heads, cfg.head_dim
    calls = 100  # one call takes tens of microseconds: time a hundred
    rows = []
    for B in (1, 16):
        fns = {}
        for dtype in (torch.bfloat16, torch.float32):
            q = torch.randn(B, H, 1, hd, dtype=dtype)
            k, v = (torch.randn(B, kv, cached, hd, dtype=dtype) for _ in range(2))

            def attend(q=q, k=k, v=v) -> None:
                for _ in range(calls):
                    F.scaled_dot_product_attention(q, k, v, enable_gqa=kv != H)

            fns[str(dtype).removeprefix("torch.")] = attend
        paired_times(fns, device, rounds=1)  # warm-up
        times = paired_times(fns, device, rounds=rounds)
        for name, t in times.items():
            speed = times["bfloat16"].busy / t.busy
            rows.append([str(B), name, f"{t.wall / calls * 1e6:,.0f}",
                         f"{t.busy / calls * 1e6:,.0f}", f"{speed:.2f}x"])  # fmt: skip
    print_table(
        ["batch", "cache dtype", "µs per call", "busy µs", "busy speed vs bf16"],
        rows,
        title=f"{preset} decoding: one query token, {H} heads / {kv} kv heads, head size {hd}, "
        f"{cached} cached positions; load average now {machine_info(device)['load_average']}",
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--preset", default="260k")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--seq-len", type=int, default=None, help="default: the preset's context")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--no-compile", action="store_true", help="skip the compiled variant")
    parser.add_argument("--decode", action="store_true", help="one token over a KV cache")
    parser.add_argument("--cached", type=int, default=200, help="--decode: cached positions")
    args = parser.parse_args()
    device = torch.device("cpu")
    info = machine_info(device)
    print_machine(info)
    if args.decode:
        decode_table(args.preset, args.cached, args.rounds, device)
        return
    cfg, _ = build_configs(args.preset)
    B, T, hd = args.batch, args.seq_len or cfg.max_seq_len, cfg.head_dim
    shapes = [(B, cfg.n_heads, T, hd), (B, cfg.n_kv_heads, T, hd), (B, cfg.n_kv_heads, T, hd)]
    contenders: dict[str, Attend] = {"SDPA flash, enable_gqa": sdpa_gqa}
    if small_head_attention.usable(torch.empty(1, 1, 1, hd), dropout=0.0):
        contenders["tinylm kernel"] = small_head_attention.causal_attention
    contenders |= {
        "SDPA flash, kv repeated (HF)": sdpa_repeated,
        "explicit matmul + softmax": explicit,
    }
    if not args.no_compile:
        contenders["explicit, torch.compile"] = torch.compile(explicit)
    rows = []
    for dtype in (torch.float32, torch.bfloat16):
        torch.manual_seed(0)
        inputs = [torch.randn(s, dtype=dtype, requires_grad=True) for s in shapes]
        reference = sdpa_gqa(*(t.detach().float() for t in inputs))

        fns = {name: fwd_bwd(fn, inputs) for name, fn in contenders.items()}
        paired_times(fns, device, rounds=1)  # warm-up (and compilation)
        times = paired_times(fns, device, rounds=args.rounds)
        base = times["SDPA flash, enable_gqa"]
        for name, fn in contenders.items():
            with torch.no_grad():
                err = (fn(*inputs).float() - reference).abs().max().item()
            t = times[name]
            rows.append(
                [
                    name,
                    str(dtype).removeprefix("torch."),
                    f"{t.wall * 1e3:,.0f}",
                    f"{t.busy * 1e3:,.0f}",
                    f"{base.busy / t.busy:.2f}x",
                    f"{err:.1e}",
                ]
            )
    print_table(
        ["attention, fwd+bwd", "dtype", "ms", "busy ms", "busy speed vs SDPA", "max |diff| fp32"],
        rows,
        title=f"{args.preset}: batch {B}, {cfg.n_heads} heads / {cfg.n_kv_heads} kv heads, "
        f"head size {hd}, {T} positions, causal; load average now "
        f"{machine_info(device)['load_average']}",
    )


if __name__ == "__main__":
    main()
