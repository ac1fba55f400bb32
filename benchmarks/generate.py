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
import tempfile
from pathlib import Path

import common
import torch
import transformers
from torch import nn

from tinylm.device import DTYPE_NAMES
from tinylm.generate import SamplingOptions, generate_tokens

SHORT_PROMPT = 16
PROMPT = 200


# --compile: tinylm's compiled fixed-shape step (a CUDA graph on GPUs) against transformers'
# own compiled path, its static cache (generate compiles the forward for it by itself).
COMPILE = False


def tinylm_generate(model: nn.Module, prompt: list[int], new: int, batch: int) -> int:
    options = SamplingOptions(max_new_tokens=new, temperature=0.0)
    produced = 0
    steps = generate_tokens(model, prompt, options, eos_id=None, num_samples=batch, compile=COMPILE)
    for _ in steps:
        produced += 1
    return produced


def hf_generate(model: nn.Module, prompt: list[int], new: int, batch: int) -> int:
    ids = torch.tensor([prompt] * batch, device=model.device)
    extra = {"cache_implementation": "static"} if COMPILE else {}
    with torch.inference_mode():
        out = model.generate(
            ids,
            attention_mask=torch.ones_like(ids),
            max_new_tokens=new,
            do_sample=False,
            eos_token_id=None,
            pad_token_id=0,
            **extra,
        )
    return out.shape[1] - ids.shape[1]


def first_token(model: nn.Module, prompt: list[int], hf: bool) -> None:
    if hf:
        hf_generate(model, prompt, 1, 1)
    else:
        next(iter(generate_tokens(model, prompt, SamplingOptions(1, 0.0), eos_id=None)))


def bench_preset(
    preset: str, args: argparse.Namespace, tokenizer, prompt: list[int], device: torch.device
) -> dict:
    ours = common.tinylm_model(preset).to(device)
    with tempfile.TemporaryDirectory() as tmp:
        theirs = common.hf_twin(ours, tokenizer, Path(tmp) / "hf").to(device)
    dtype = DTYPE_NAMES[args.dtype]
    ours.to(dtype).eval()
    theirs.to(dtype).eval()
    max_len = ours.config.max_seq_len
    long_prompt = prompt[: min(PROMPT, max_len - 1)]
    short = prompt[:SHORT_PROMPT]
    new = min(args.new_tokens, max_len - len(short))

    # Both must produce the same greedy tokens from the same weights (bf16 may drift late).
    a = torch.stack(list(generate_tokens(ours, short, SamplingOptions(8, 0.0), None)), dim=1)
    b = theirs.generate(
        torch.tensor([short], device=device), max_new_tokens=8, do_sample=False, eos_token_id=None
    )[:, len(short) :]
    same = bool((a.cpu() == b.cpu()).all())

    ttft = {
        "tinylm": lambda: first_token(ours, long_prompt, hf=False),
        "hf": lambda: first_token(theirs, long_prompt, hf=True),
    }
    common.paired_times(ttft, device, rounds=1)  # warm-up
    ttft_times = common.paired_times(ttft, device, rounds=args.rounds)
    result: dict = {"preset": preset, "greedy_match_8": same, "new_tokens": new}
    for who, t in ttft_times.items():
        result[f"ttft_{who}"] = vars(t)
    print(
        f"  {preset} first token: tinylm {ttft_times['tinylm'].wall * 1e3:,.0f} ms "
        f"(busy {ttft_times['tinylm'].busy * 1e3:,.0f}), HF {ttft_times['hf'].wall * 1e3:,.0f} ms "
        f"(busy {ttft_times['hf'].busy * 1e3:,.0f})",
        flush=True,
    )
    for batch in args.batch_sizes:
        runs = {
            "tinylm": lambda b=batch: tinylm_generate(ours, short, new, b),
            "hf": lambda b=batch: hf_generate(theirs, short, new, b),
        }
        common.paired_times(runs, device, rounds=1)  # warm-up
        seconds = common.paired_times(runs, device, rounds=args.rounds)
        for who, t in seconds.items():
            result[f"{who}_b{batch}"] = {"wall": batch * new / t.wall, "busy": batch * new / t.busy}
        mine, peer = result[f"tinylm_b{batch}"], result[f"hf_b{batch}"]
        print(
            f"  {preset} batch {batch}: tinylm {mine['wall']:,.0f} tok/s "
            f"(busy {mine['busy']:,.0f}), HF {peer['wall']:,.0f} tok/s (busy {peer['busy']:,.0f})",
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
    parser.add_argument(
        "--compile",
        action="store_true",
        help="tinylm's compiled decoding step vs transformers' static cache (compiled by it)",
    )
    common.add_machine_args(parser)
    args = parser.parse_args()
    global COMPILE
    COMPILE = args.compile
    args.batch_sizes = [int(b) for b in args.batches.split(",")]
    transformers.logging.set_verbosity_error()  # max_length vs max_new_tokens chatter
    device = common.setup_device(args)
    info = common.machine_info(device)
    common.print_machine(info)
    peaks = common.measure_peaks(device)
    tokenizer, stories = common.bench_tokenizer()
    prompt = tokenizer.encode(" ".join(stories[:20]), bos=True)
    results = [bench_preset(p, args, tokenizer, prompt, device) for p in args.presets.split(",")]

    rows = []
    for r in results:
        ours, theirs = r["ttft_tinylm"], r["ttft_hf"]
        rows.append(
            [
                r["preset"],
                "yes" if r["greedy_match_8"] else "NO",
                f"{ours['wall'] * 1e3:.0f}",
                f"{theirs['wall'] * 1e3:.0f}",
                f"{theirs['wall'] / ours['wall']:.2f}x",
                f"{ours['busy'] * 1e3:.0f}",
                f"{theirs['busy'] * 1e3:.0f}",
                f"{theirs['busy'] / ours['busy']:.2f}x",
            ]
        )
    common.print_table(
        [
            "preset",
            "same greedy",
            "tinylm ms",
            "HF ms",
            "speed-up",
            "tinylm busy ms",
            "HF busy ms",
            "busy speed-up",
        ],
        rows,
        title=f"time to first token, {PROMPT}-token prompt, {args.dtype} weights",
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
                    f"{ours['wall']:,.0f}",
                    f"{theirs['wall']:,.0f}",
                    f"{ours['wall'] / theirs['wall']:.2f}x",
                    f"{ours['busy']:,.0f}",
                    f"{theirs['busy']:,.0f}",
                    f"{ours['busy'] / theirs['busy']:.2f}x",
                ]
            )
    common.print_table(
        [
            "preset",
            "batch",
            "new tokens",
            "tinylm tok/s",
            "HF tok/s",
            "ratio",
            "tinylm busy tok/s",
            "HF busy tok/s",
            "busy ratio",
        ],
        rows,
        title=f"greedy decoding throughput (aggregate over the batch), {args.dtype} weights"
        f"{', compiled (tinylm --compile, HF static cache)' if args.compile else ''}; "
        f"load average now {common.machine_info(device)['load_average']}",
    )
    if args.json:
        common.write_json(args.json, info, peaks, results)


if __name__ == "__main__":
    main()
