"""Training speed: tokens/s and MFU of tinylm against Hugging Face `LlamaForCausalLM`.

    python benchmarks/train.py                          # 260k, 15m, 15m-v4096, 42m
    python benchmarks/train.py --presets 15m --steps 5 --batch 8

Both contenders get the same weights (tinylm's HF export), the same batch, the same optimizer
step as `tinylm train` (fused AdamW, bf16 autocast, grad-norm clipping) and their own best
CPU settings (transformers: attn_implementation="sdpa"), in one process set up as `tinylm
train` sets it up (`configure_backends`: on the CPU, glibc keeps freed memory, which spares
both contenders the page faults of re-allocating every step's activations). Steps alternate
between them, so both see the same machine load; the ratio column is what to read on a
shared machine.

MFU = (6 N + 12 L d T) x tokens/s / measured bf16 matmul peak, with N the parameters that take
part in matmuls (every Linear, the tied lm_head counted once; the embedding lookup is not a
matmul) and 12 L d T the attention scores and values forward+backward (nanoGPT/PaLM convention,
no causal discount). The peak is a third contender in the same alternation (64 products of
1024^3, about 0.2 s): this VM's matmul speed moves by 2x within an hour, so a peak measured
once at the start made MFU meaningless (97 % in one run).
"""

from __future__ import annotations

import argparse
import tempfile
from collections.abc import Callable
from pathlib import Path

import torch
import torch.nn.functional as F
from common import (
    add_machine_args,
    bench_tokenizer,
    hf_twin,
    machine_info,
    matmul_probe,
    measure_peaks,
    paired_times,
    print_machine,
    print_table,
    setup_device,
    tinylm_model,
    write_json,
)
from torch import nn

from tinylm.device import autocast, configure_backends, hardware_half_dtype, resolve_dtype
from tinylm.models import flops_per_token

# name -> (preset, vocab override)
CASES: dict[str, tuple[str, int | None]] = {
    "260k": ("260k", None),
    "1m": ("1m", None),
    "15m": ("15m", None),
    "15m-v4096": ("15m", 4096),
    "42m": ("42m", None),
    "110m": ("110m", None),
}


def make_step(
    forward: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    model: nn.Module,
    batches: list[tuple[torch.Tensor, torch.Tensor]],
    device: torch.device,
    dtype: torch.dtype,
) -> Callable[[], None]:
    """One optimizer step the way tinylm's Trainer does it (see Trainer._train_step)."""
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4, fused=True)
    index = 0

    def step() -> None:
        nonlocal index
        x, y = batches[index % len(batches)]
        index += 1
        with autocast(device, dtype):
            loss = forward(x, y)
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    return step


def bench_case(
    name: str, args: argparse.Namespace, tokenizer, device: torch.device, dtype: torch.dtype
) -> dict:
    preset, vocab = CASES[name]
    ours = tinylm_model(preset, vocab).to(device)
    with tempfile.TemporaryDirectory() as tmp:
        theirs = hf_twin(ours, tokenizer, Path(tmp) / "hf").to(device)
    cfg = ours.config
    seq = args.seq_len or cfg.max_seq_len
    batch = args.batch or {"260k": 32, "1m": 32, "15m": 32, "42m": 8, "110m": 4}[preset]
    gen = torch.Generator().manual_seed(0)
    batches = []
    for _ in range(2):
        x = torch.randint(0, cfg.vocab_size, (batch, seq + 1), generator=gen).to(device)
        batches.append((x[:, :-1], x[:, 1:]))
    if args.compile:
        ours_fwd: Callable = torch.compile(ours)
        theirs_fwd: Callable = torch.compile(theirs)
    else:
        ours_fwd, theirs_fwd = ours, theirs

    def tinylm_loss(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return ours_fwd(x, y)[1]

    def hf_loss(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        # The loss as transformers computes it from `labels` (fp32 logits, mean CE), on targets
        # already shifted, so both contenders score the same T positions.
        logits = theirs_fwd(input_ids=x).logits
        return F.cross_entropy(logits.float().view(-1, logits.size(-1)), y.reshape(-1))

    probe, probe_gflop = matmul_probe(dtype, device, reps=64 if device.type == "cpu" else 500)
    steps = {
        "tinylm": make_step(tinylm_loss, ours, batches, device, dtype),
        "hf": make_step(hf_loss, theirs, batches, device, dtype),
        "peak": probe,
    }
    paired_times(steps, device, rounds=args.warmup)
    seconds = paired_times(steps, device, rounds=args.steps)
    peak = seconds.pop("peak")
    tokens = batch * seq
    per_token = flops_per_token(ours, seq)
    result = {"case": name, "batch": batch, "seq_len": seq, "flops_per_token": per_token}
    result["peak_gflops"] = {"wall": probe_gflop / peak.wall, "busy": probe_gflop / peak.busy}
    for who, t in seconds.items():
        result[f"{who}_tok_s"] = tokens / t.wall
        result[f"{who}_busy_tok_s"] = tokens / t.busy
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--presets", default="260k,15m,15m-v4096,42m")
    parser.add_argument("--steps", type=int, default=4, help="timed steps per contender")
    parser.add_argument("--warmup", type=int, default=2, help="untimed steps per contender")
    parser.add_argument("--batch", type=int, default=None, help="default: per preset")
    parser.add_argument("--seq-len", type=int, default=None, help="default: the preset's")
    add_machine_args(parser)
    parser.add_argument(
        "--dtype", default="auto", help="autocast dtype (auto: the hardware's bf16)"
    )
    parser.add_argument("--compile", action="store_true", help="torch.compile both models")
    args = parser.parse_args()
    device = setup_device(args)
    # As `tinylm train` sets it up, for both contenders: the same process, the same allocator.
    configure_backends(device)
    # Both contenders in the half type the hardware runs natively: MFU is against its peak.
    dtype = (
        hardware_half_dtype(device) if args.dtype == "auto" else resolve_dtype(args.dtype, device)
    )
    names = args.presets.split(",")
    for name in names:
        if name not in CASES:
            parser.error(f"unknown preset {name}; choose from {', '.join(CASES)}")
    info = machine_info(device)
    print_machine(info)
    peaks = measure_peaks(device)
    tokenizer, _ = bench_tokenizer()
    results = []
    for name in names:
        results.append(bench_case(name, args, tokenizer, device, dtype))
        r = results[-1]
        print(f"  {name}: tinylm {r['tinylm_tok_s']:,.0f} tok/s, HF {r['hf_tok_s']:,.0f} tok/s")

    def mfu(tok_s: float, r: dict) -> str:
        return f"{tok_s * r['flops_per_token'] / (r['peak_gflops']['busy'] * 1e9):.1%}"

    rows = []
    for r in results:
        ours, theirs = r["tinylm_tok_s"], r["hf_tok_s"]
        ours_busy, theirs_busy = r["tinylm_busy_tok_s"], r["hf_busy_tok_s"]
        rows.append(
            [
                r["case"],
                f"{r['batch']}x{r['seq_len']}",
                f"{ours:,.0f}",
                f"{theirs:,.0f}",
                f"{ours / theirs:.2f}x",
                f"{ours_busy:,.0f}",
                mfu(ours_busy, r),
                f"{theirs_busy:,.0f}",
                mfu(theirs_busy, r),
                f"{r['peak_gflops']['busy']:,.0f}",
                f"{ours_busy / theirs_busy:.2f}x",
            ]
        )
    print_table(
        [
            "preset",
            "batch",
            "tinylm tok/s",
            "HF tok/s",
            "ratio",
            "tinylm busy tok/s",
            "MFU",
            "HF busy tok/s",
            "HF MFU",
            "peak GFLOP/s",
            "busy ratio",
        ],
        rows,
        title=f"training step, {str(dtype).removeprefix('torch.')} autocast"
        f"{', compiled' if args.compile else ''}; MFU from busy time vs the busy "
        f"{str(dtype).removeprefix('torch.')} matmul peak timed alongside each case; "
        f"load average now {machine_info(device)['load_average']}",
    )
    if args.json:
        write_json(args.json, info, peaks, results)


if __name__ == "__main__":
    main()
