"""Model families at matched size and matched wall-clock: llama vs rnn (LSTM) vs megabyte.

    python benchmarks/families.py                       # 3 min per model, both corpora
    python benchmarks/families.py --minutes 10 --corpus tinystories

For each corpus (the built-in story generator, `tinylm data synth`, and the real TinyStories
head in ../shared/data) the same text is prepared twice, as 1024-token BPE shards (llama, rnn)
and as byte shards (megabyte), and each family's ~1M preset (`1m`, `rnn-1m`, `megabyte-1m`)
trains for the same wall-clock (`--time-budget`) with the real `tinylm` command. Tokens differ
between families, so the yardstick is bits per byte on the held-out split (`tinylm eval`).
Prints a markdown table (params, tokens/s, bytes/s, validation bpb, a sample) and writes a
train-bpb-vs-time PNG per corpus into --docs.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import subprocess
import sys
import tempfile
from pathlib import Path

import matplotlib
import numpy as np

matplotlib.use("Agg")
import matplotlib.pyplot as plt

ROOT = Path(__file__).resolve().parent.parent
SHARED_TINYSTORIES = ROOT.parent / "shared" / "data" / "tinystories" / "v1-train-head.txt"
BATCH = ("batch_size", "grad_accum")
FAMILIES = (("llama", "1m", "bpe"), ("rnn", "rnn-1m", "bpe"), ("megabyte", "megabyte-1m", "bytes"))


def tinylm(*args: str) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "tinylm", *args],
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": "100"},
    )
    if result.returncode != 0:
        raise SystemExit(f"tinylm {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return result.stdout


def train_for_time_and_score(
    data: Path, out: Path, preset: str, seconds: int, flags: list[str]
) -> dict:
    """`tinylm train` for a fixed wall-clock budget, then `tinylm eval` on the held-out split
    (outside the budget); returns eval's JSON scores."""
    tinylm(
        "train",
        "--data",
        str(data),
        "--out",
        str(out),
        "--preset",
        preset,
        "--time-budget",
        f"{seconds}s",
        "--eval-every",
        "100000",  # evaluation is the final `tinylm eval`, outside the timed budget
        *flags,
    )
    return json.loads(tinylm("eval", str(out), "--data", str(data), "--json").splitlines()[-1])


def bytes_per_token(data_dir: Path, split: str) -> float:
    stats = json.loads((data_dir / "meta.json").read_text())["splits"][split]
    return stats["bytes"] / stats["tokens"]


def run_family(
    work: Path, corpus: str, family: str, preset: str, data: Path, seconds: int, batch: list[str]
):
    from tinylm import load
    from tinylm.models import count_parameters
    from tinylm.plots import read_metrics

    out = work / f"{corpus}-{family}"
    scores = train_for_time_and_score(data, out, preset, seconds, batch)
    metrics = read_metrics(out / "metrics.jsonl")
    rows = [r for r in metrics if "train_loss" in r]
    # Wall-clock is logged every few steps; steps in between are placed by interpolation.
    clock = [(0, 0.0)] + [(r["step"], r["elapsed"]) for r in metrics if "tokens_per_s" in r]
    (s0, t0), (s1, t1) = clock[-2:]
    if rows[-1]["step"] > s1:  # the steps after the last log, at the last logged pace
        clock.append((rows[-1]["step"], t1 + (rows[-1]["step"] - s1) * (t1 - t0) / (s1 - s0)))
    elapsed = np.interp([r["step"] for r in rows], *zip(*clock, strict=True))
    to_bpb = 1 / (math.log(2) * bytes_per_token(data, "train"))
    lm = load(str(out))
    sample = lm.generate("Once upon a time", max_new_tokens=300, temperature=0.8, top_k=40, seed=0)
    tokens_per_s = rows[-1]["tokens"] / elapsed[-1]
    return {
        "family": family,
        "preset": preset,
        "params": count_parameters(lm.model),
        "steps": rows[-1]["step"],
        "tokens_per_s": tokens_per_s,
        "bytes_per_s": tokens_per_s * bytes_per_token(data, "train"),
        "val_bpb": scores["bits_per_byte"],
        "sample": " ".join(sample.split())[:160],
        "curve": [(t, r["train_loss"] * to_bpb) for t, r in zip(elapsed, rows, strict=True)],
    }


def plot_curves(results: list[dict], corpus: str, png: Path) -> None:
    fig, ax = plt.subplots(figsize=(7, 4), dpi=110)
    for r in results:
        t, bpb = zip(*r["curve"], strict=True)
        ax.plot(t, bpb, linewidth=1, label=f"{r['family']} ({r['params'] / 1e6:.2f}M)")
    ax.set_xlabel("seconds of training")
    ax.set_ylabel("train loss (bits/byte)")
    ax.set_ylim(top=min(8.0, ax.get_ylim()[1]))
    ax.set_title(f"families at matched size and time: {corpus}")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(png)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=3.0, help="training time per model")
    parser.add_argument("--corpus", choices=["synth", "tinystories", "both"], default="both")
    parser.add_argument("--synth-stories", type=int, default=5000)
    parser.add_argument(
        "--batch-size", type=int, help="for every family (default: each preset's own)"
    )
    parser.add_argument("--grad-accum", type=int, help="for every family (default: the preset's)")
    parser.add_argument("--workdir", help="keep data and runs here (default: a temp folder)")
    parser.add_argument("--docs", default=str(ROOT / "docs"), help="where the PNGs go")
    args = parser.parse_args()
    work = Path(args.workdir or tempfile.mkdtemp(prefix="tinylm-families-"))
    work.mkdir(parents=True, exist_ok=True)
    seconds = round(args.minutes * 60)
    batch = [f"--{k.replace('_', '-')}={v}" for k, v in vars(args).items() if k in BATCH and v]
    print(f"{platform.machine()}, {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}; {work}")

    corpora = ["synth", "tinystories"] if args.corpus == "both" else [args.corpus]
    for corpus in corpora:
        if corpus == "synth":
            text = work / "synth.txt"
            tinylm("data", "synth", "--stories", str(args.synth_stories), "--out", str(text))
        else:
            text = SHARED_TINYSTORIES
            if not text.is_file():
                print(f"skipping tinystories: {text} not found")
                continue
        data = {"bpe": work / f"{corpus}-bpe", "bytes": work / f"{corpus}-bytes"}
        tinylm("data", "prepare", str(text), "--vocab-size", "1024", "--out", str(data["bpe"]))
        tinylm("data", "prepare", str(text), "--bytes", "--out", str(data["bytes"]))
        results = []
        for family, preset, shards in FAMILIES:
            results.append(run_family(work, corpus, family, preset, data[shards], seconds, batch))
            r = results[-1]
            print(f"  {corpus} {family}: {r['steps']} steps, val {r['val_bpb']:.3f} bpb")
        png = Path(args.docs) / f"families-{corpus}.png"
        plot_curves(results, corpus, png)
        load = os.getloadavg()[0]
        print(f"\n{corpus}, {seconds} s per model {' '.join(batch)} (load {load:.1f}); {png}\n")
        print("| family | preset | params | steps | tokens/s | bytes/s | val bpb | sample |")
        print("|---|---|---:|---:|---:|---:|---:|---|")
        for r in results:
            print(
                f"| {r['family']} | {r['preset']} | {r['params'] / 1e6:.2f}M | {r['steps']} | "
                f"{r['tokens_per_s']:,.0f} | {r['bytes_per_s']:,.0f} | {r['val_bpb']:.3f} | "
                f"{r['sample']} |"
            )
        print(flush=True)


if __name__ == "__main__":
    main()
