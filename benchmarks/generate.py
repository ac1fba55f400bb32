"""Generation speed: tinylm's sampler against Hugging Face `generate`, same weights.

    python benchmarks/generate.py                        # 260k, 15m, 42m, 110m
    python benchmarks/generate.py --presets 15m --dtype bf16 --batches 1,16

Greedy decoding, random weights (speed does not depend on what the weights say), EOS disabled so
both produce exactly the requested number of tokens. Per preset:
- time to first token for a 200-token prompt of real TinyStories text (prefill + one token);
- single-stream tokens/s: a 16-token prompt, then as many new tokens as the context allows
  (at most --new-tokens);
- batched throughput: the same at batch 1, 4, 16, 64, aggregate tokens/s.
tinylm runs `tinylm.generate.generate_tokens` (what `tinylm generate` runs); transformers runs
`LlamaForCausalLM.generate` (attn_implementation="sdpa", its default dynamic KV cache) on the
weights tinylm exports. Runs alternate between the two so both see the same machine load.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import torch
from common import (
    bench_tokenizer,
    hf_twin,
    machine_info,
    measure_peaks,
    paired_times,
    print_machine,
    print_table,
    tinylm_model,
)
from torch import nn

from tinylm.device import DTYPE_NAMES, resolve_device
from tinylm.generate import SamplingOptions, generate_tokens

SHORT_PROMPT = 16


def tinylm_generate(model: nn.Module, prompt: list[int], new: int, batch: int) -> int:
    options = SamplingOptions(max_new_tokens=new, temperature=0.0)
    produced = 0
    for _ in generate_tokens(model, prompt, options, eos_id=None, num_samples=batch):
        produced += 1
    return produced


def hf_generate(model: nn.Module, prompt: list[int], new: int, batch: int) -> int:
    ids = torch.tensor([prompt] * batch, device=model.device)
    with torch.inference_mode():
        out = model.generate(
            ids,
            attention_mask=torch.ones_like(ids),
            max_new_tokens=new,
            do_sample=False,
            eos_token_id=None,
            pad_token_id=0,
        )
    return out.shape[1] - ids.shape[1]


def first_token_seconds(model: nn.Module, prompt: list[int], hf: bool) -> float:
    start = time.perf_counter()
    if hf:
        hf_generate(model, prompt, 1, 1)
    else:
        next(iter(generate_tokens(model, prompt, SamplingOptions(1, 0.0), eos_id=None)))
    return time.perf_counter() - start


def bench_preset(
    preset: str, args: argparse.Namespace, tokenizer, prompt: list[int], device: torch.device
) -> dict:
    ours = tinylm_model(preset).to(device)
    with tempfile.TemporaryDirectory() as tmp:
        theirs = hf_twin(ours, tokenizer, Path(tmp) / "hf").to(device)
    dtype = DTYPE_NAMES[args.dtype]
    ours.to(dtype).eval()
    theirs.to(dtype).eval()
    max_len = ours.config.max_seq_len
    long_prompt = prompt[: min(200, max_len - 1)]
    short = prompt[:SHORT_PROMPT]
    new = min(args.new_tokens, max_len - len(short))

    # Both must produce the same greedy tokens from the same weights (bf16 may drift late).
    a = torch.stack(list(generate_tokens(ours, short, SamplingOptions(8, 0.0), None)), dim=1)
    b = theirs.generate(
        torch.tensor([short], device=device), max_new_tokens=8, do_sample=False, eos_token_id=None
    )[:, len(short) :]
    same = bool((a.cpu() == b.cpu()).all())

    ttft = {"tinylm": [], "hf": []}
    for _ in range(args.rounds + 1):
        ttft["tinylm"].append(first_token_seconds(ours, long_prompt, hf=False))
        ttft["hf"].append(first_token_seconds(theirs, long_prompt, hf=True))
    result: dict = {
        "preset": preset,
        "greedy_match_8": same,
        "new_tokens": new,
        "ttft_tinylm": sorted(ttft["tinylm"][1:])[args.rounds // 2],
        "ttft_hf": sorted(ttft["hf"][1:])[args.rounds // 2],
    }
    for batch in args.batch_sizes:
        runs = {
            "tinylm": lambda b=batch: tinylm_generate(ours, short, new, b),
            "hf": lambda b=batch: hf_generate(theirs, short, new, b),
        }
        paired_times(runs, device, rounds=1)  # warm-up
        seconds = paired_times(runs, device, rounds=args.rounds)
        for who, s in seconds.items():
            result[f"{who}_b{batch}"] = batch * new / s
        print(
            f"  {preset} batch {batch}: tinylm {result[f'tinylm_b{batch}']:,.0f} tok/s, "
            f"HF {result[f'hf_b{batch}']:,.0f} tok/s",
            flush=True,
        )
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--presets", default="260k,15m,42m,110m")
    parser.add_argument("--batches", default="1,4,16,64", help="batch sizes, comma separated")
    parser.add_argument("--new-tokens", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3, help="timed runs per contender")
    parser.add_argument("--dtype", default="fp32", choices=["fp32", "bf16"], help="weights")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--json", help="also write the results here")
    args = parser.parse_args()
    args.batch_sizes = [int(b) for b in args.batches.split(",")]
    device = resolve_device(args.device)
    info = machine_info(device)
    print_machine(info)
    peaks = measure_peaks(device)
    tokenizer, stories = bench_tokenizer()
    prompt = tokenizer.encode(" ".join(stories[:20]), bos=True)
    results = [bench_preset(p, args, tokenizer, prompt, device) for p in args.presets.split(",")]

    rows = []
    for r in results:
        rows.append(
            [
                r["preset"],
                "yes" if r["greedy_match_8"] else "NO",
                f"{r['ttft_tinylm'] * 1e3:.0f}",
                f"{r['ttft_hf'] * 1e3:.0f}",
                f"{r['ttft_hf'] / r['ttft_tinylm']:.2f}x",
            ]
        )
    print_table(
        ["preset", "same greedy", "TTFT tinylm ms", "TTFT HF ms", "ratio"],
        rows,
        title=f"time to first token, 200-token prompt, {args.dtype} weights",
    )
    rows = []
    for r in results:
        for b in args.batch_sizes:
            ours, theirs = r[f"tinylm_b{b}"], r[f"hf_b{b}"]
            rows.append(
                [
                    r["preset"],
                    b,
                    r["new_tokens"],
                    f"{ours:,.0f}",
                    f"{theirs:,.0f}",
                    f"{ours / theirs:.2f}x",
                ]
            )
    print_table(
        ["preset", "batch", "new tokens", "tinylm tok/s", "HF tok/s", "ratio"],
        rows,
        title=f"greedy decoding throughput (aggregate over the batch), {args.dtype} weights; "
        f"load average now {machine_info(device)['load_average']}",
    )
    if args.json:
        Path(args.json).write_text(
            json.dumps({"machine": info, "peaks": peaks, "results": results}, indent=2)
        )


if __name__ == "__main__":
    main()
