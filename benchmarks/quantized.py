"""Quantized decoding: tinylm fp32 / bf16 / int8 / int4 against llama2.c's run.c (fp32) and
runq.c (int8) and llama.cpp (q8_0 / q4_0 GGUF), the same weights, the same prompt.

    python benchmarks/quantized.py                      # 15m and 110m, batch 1 and 16
    python benchmarks/quantized.py --presets 15m --rounds 5
    python benchmarks/quantized.py --quality RUN... --held-out stories.txt   # bits per byte

Random weights of each preset (speed does not depend on what they say), written as a tinylm run
and handed to the others the way a user would: `tinylm quantize` for int8 / int4, `tinylm
export --format llama2c [--version 2]` for run.c / runq.c, `--format gguf --dtype q8_0|q4_0`
for llama.cpp. Greedy decoding from "Once upon a time", EOS and BOS not stopping anyone, so all
write --new-tokens tokens. The number is decoding speed after the prompt, as run.c reports it
(its "achieved tok/s" counts from the second token on); tinylm's is timed from its first new
token to its last, llama.cpp's the same (llama-cpp-python, one token per batch: see
tests/test_quantize.py for why). run.c and runq.c are built from tests/fixtures/llama2c with
`gcc -Ofast -march=native -fopenmp` (llama2.c's `make runomp`) and run on 2 OpenMP threads.
Contenders alternate within each round, so a change in load hits them alike; the table shows
medians, and each tinylm row's ratio to run.c and runq.c.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import common
import torch

from tinylm.checkpoint import save_model
from tinylm.generate import SamplingOptions, generate_tokens
from tinylm.interop.commands import export_run
from tinylm.quant.command import quantize_run
from tinylm.run import MODEL_FILE, TOKENIZER_FILE, load_run, write_run_config

FIXTURES = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "llama2c"
PROMPT = "Once upon a time"
LLAMA_CPP = """
import json, sys, time, llama_cpp
llm = llama_cpp.Llama(model_path=sys.argv[1], n_ctx=int(sys.argv[4]), n_threads=2, n_batch=1,
                      n_ubatch=1, verbose=False)
prompt, n, rounds = json.loads(sys.argv[2]), int(sys.argv[3]), int(sys.argv[5])
speeds = []
for _ in range(rounds + 1):  # the first is a warm-up
    llm.reset()
    count, start = 0, None
    for token in llm.generate(prompt, temp=0.0, top_k=1, top_p=1.0, repeat_penalty=1.0,
                              reset=True):
        count += 1
        if count == 1:
            start = time.perf_counter()
        if count == n:
            break
    speeds.append((count - 1) / (time.perf_counter() - start))
print(json.dumps(speeds[1:]))
"""


def build_runner(source: str, out: Path) -> Path | None:
    compiler = shutil.which("gcc") or shutil.which("cc")
    if compiler is None:
        print(f"no C compiler: {source} left out", file=sys.stderr)
        return None
    binary = out / source.removesuffix(".c")
    flags = ["-Ofast", "-march=native", "-fopenmp"]
    subprocess.run([compiler, *flags, "-o", str(binary), str(FIXTURES / source), "-lm"], check=True)
    return binary


def run_c(binary: Path, model: Path, tokenizer: Path, steps: int) -> float:
    """One run of run.c / runq.c; its own "achieved tok/s"."""
    env = {**os.environ, "OMP_NUM_THREADS": "2"}
    done = subprocess.run(
        [str(binary), str(model), "-z", str(tokenizer), "-t", "0", "-n", str(steps), "-i", PROMPT],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    return float(re.search(r"achieved tok/s: ([\d.]+)", done.stderr + done.stdout).group(1))


def tinylm_speed(model, prompt: list[int], new: int, batch: int) -> float:
    options = SamplingOptions(max_new_tokens=new, temperature=0.0)
    count, start = 0, 0.0
    for _ in generate_tokens(model, prompt, options, eos_id=None, num_samples=batch):
        count += 1
        if count == 1:
            start = time.perf_counter()
    return batch * (count - 1) / (time.perf_counter() - start)


def make_run(preset: str, tokenizer, folder: Path) -> Path:
    model = common.tinylm_model(preset)
    run = folder / preset
    run.mkdir()
    save_model(run / MODEL_FILE, model)
    tokenizer.save(run / TOKENIZER_FILE)
    write_run_config(run, model.config, None, {})
    return run


def bench_preset(preset: str, args: argparse.Namespace, tokenizer, work: Path) -> dict:
    run = make_run(preset, tokenizer, work)
    quiet = lambda *_: None  # noqa: E731
    int8 = quantize_run(run, work / f"{preset}-int8", "int8", say=quiet)
    int4 = quantize_run(run, work / f"{preset}-int4", "int4", say=quiet)
    files = {
        "run.c": (work / f"{preset}.bin", "fp32"),
        "runq.c": (work / f"{preset}-q80.bin", "q8_0"),
    }
    tok_bin = work / f"{preset}-tokenizer.bin"
    for name, (path, dtype) in files.items():
        tok = tok_bin if name == "run.c" else work / f"{preset}-tokenizer-q.bin"
        export_run(str(run), "llama2c", str(path), dtype, str(tok))
    ggufs = {}
    for dtype in ("q8_0", "q4_0"):
        ggufs[dtype] = work / f"{preset}-{dtype}.gguf"
        export_run(str(run if dtype == "q8_0" else int4), "gguf", str(ggufs[dtype]), dtype)

    models = {
        "fp32": load_run(run).model,
        "bf16": load_run(run, dtype="bf16").model,
        "int8": load_run(int8).model,
        "int4": load_run(int4).model,
    }
    lm = load_run(run)
    prompt = lm.prompt_ids(PROMPT)
    steps = min(args.new_tokens + len(prompt), lm.model_config.max_seq_len)
    new = steps - len(prompt)
    runners = {name: build_runner(name, work) for name in ("run.c", "runq.c")}
    speeds: dict[str, dict[int, list[float]]] = {}

    for batch in args.batches:
        for model in models.values():
            tinylm_speed(model, prompt, 8, batch)  # warm-up (and the kernels' first build)
        for _ in range(args.rounds):
            for name, model in models.items():
                speed = tinylm_speed(model, prompt, new, batch)
                speeds.setdefault(f"tinylm {name}", {}).setdefault(batch, []).append(speed)
            if batch != 1:
                continue
            for name, runner in runners.items():
                if runner is not None:
                    path = files[name][0]
                    tok = tok_bin if name == "run.c" else work / f"{preset}-tokenizer-q.bin"
                    speed = run_c(runner, path, tok, steps)
                    speeds.setdefault(name, {}).setdefault(1, []).append(speed)
    try:
        import llama_cpp  # noqa: F401

        for dtype, path in ggufs.items():
            done = subprocess.run(
                [
                    sys.executable,
                    "-c",
                    LLAMA_CPP,
                    str(path),
                    json.dumps(prompt),
                    str(new + 1),
                    str(steps),
                    str(args.rounds),
                ],
                capture_output=True,
                text=True,
            )
            if done.returncode != 0:
                print(f"llama.cpp {dtype}: exit {done.returncode} {done.stderr[-300:]}")
                continue
            speeds[f"llama.cpp {dtype}"] = {1: json.loads(done.stdout.strip().splitlines()[-1])}
    except ImportError:
        print("llama-cpp-python not installed: llama.cpp left out")
    medians = {
        who: {b: statistics.median(v) for b, v in per_batch.items()}
        for who, per_batch in speeds.items()
    }
    return {"preset": preset, "new_tokens": new, "tok_s": medians}


def print_results(results: list[dict], batches: list[int]) -> None:
    for result in results:
        med = result["tok_s"]
        runc, runq = med.get("run.c", {}).get(1), med.get("runq.c", {}).get(1)
        rows = []
        for who, per_batch in med.items():
            row = [who, *(f"{per_batch[b]:,.0f}" if b in per_batch else "" for b in batches)]
            one = per_batch.get(1)
            row.append(f"{one / runc:.2f}x" if one and runc else "")
            row.append(f"{one / runq:.2f}x" if one and runq else "")
            rows.append(row)
        headers = ["", *(f"batch {b} tok/s" for b in batches), "vs run.c", "vs runq.c"]
        title = f"{result['preset']}, {result['new_tokens']} greedy tokens after the prompt"
        common.print_table(headers, rows, title=title)


def quality(runs: list[str], held_out: str, work: Path) -> None:
    """Bits per byte on held-out text of each trained run, quantized both ways (where its widths
    take the scheme's groups), with the change against the float run."""
    from tinylm.errors import TinylmError
    from tinylm.evaluate import evaluate

    rows = []
    for path in runs:
        lm = load_run(path)
        row = [Path(path).name, f"{lm.num_parameters() / 1e6:.2f}M"]

        def score(run) -> float:
            result = evaluate(
                run.model, run.tokenizer, held_out, run.device, torch.float32, 16,
                framing=run.framing,
            )  # fmt: skip
            return result.bits_per_byte

        base = score(lm)
        row.append(f"{base:.4f}")
        for scheme in ("int8", "int4"):
            out = work / f"{Path(path).name}-{scheme}"
            try:
                quantize_run(path, out, scheme, say=lambda *_: None)
            except TinylmError as exc:
                row.append(f"n/a ({exc})"[:60])
                continue
            run = load_run(out)
            bpb = score(run)
            spec = run.config["quantization"]
            row.append(f"{bpb:.4f} ({100 * (bpb - base) / base:+.2f} %, g{spec['group_size']})")
        rows.append(row)
    headers = ["run", "params", "float bpb", "int8 bpb (change)", "int4 bpb (change)"]
    common.print_table(headers, rows, title=f"bits per byte on {held_out}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--presets", default="15m,110m")
    parser.add_argument("--batches", default="1,16")
    parser.add_argument("--new-tokens", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3)
    common.add_machine_args(parser)
    parser.add_argument("--quality", nargs="+", metavar="RUN", help="trained runs to score")
    parser.add_argument("--held-out", help="--quality: held-out text file")
    args = parser.parse_args()
    if args.quality:
        with tempfile.TemporaryDirectory() as tmp:
            quality(args.quality, args.held_out, Path(tmp))
        return
    args.batches = [int(b) for b in args.batches.split(",")]
    device = common.setup_device(args)
    info = common.machine_info(device)
    common.print_machine(info)
    tokenizer, _ = common.bench_tokenizer()
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for preset in args.presets.split(","):
            print(f"{preset}: preparing the files and timing...", flush=True)
            results.append(bench_preset(preset, args, tokenizer, Path(tmp)))
    print_results(results, args.batches)
    if args.json:
        common.write_json(args.json, info, {}, results)


if __name__ == "__main__":
    torch.set_grad_enabled(False)
    main()
