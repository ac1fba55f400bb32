"""Data pipeline benchmark: synth -> clean -> prepare on a built-in corpus, MB/s and peak RSS.

    python benchmarks/data.py --stories 3000000    # ~2 GB of English stories
    python benchmarks/data.py --stories 100000 --workdir /tmp/bench

Each stage runs as the real `tinylm` command in a subprocess; peak RSS is the largest sum of
resident memory over the process and its workers, sampled every 0.1 s. Tokenizing throughput is
compared side by side, on the same text and tokenizer, with llama2.c's / nanoGPT's prepare
approach: `tokenizer.encode(story)` per story in a Python loop, tokens gathered in a list and
turned into a uint16 array at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import psutil


def run_measured(args: list[str]) -> tuple[float, int]:
    """Run `python -m tinylm ARGS`; returns (seconds, peak RSS bytes of the process tree)."""
    start = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "tinylm", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "COLUMNS": "100"},
    )
    peak = 0
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        root = psutil.Process(proc.pid)
        while not done.is_set():
            try:
                procs = [root, *root.children(recursive=True)]
                peak = max(peak, sum(p.memory_info().rss for p in procs))
            except psutil.Error:
                pass
            time.sleep(0.1)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    output, _ = proc.communicate()
    done.set()
    sampler.join()
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        sys.exit(f"tinylm {' '.join(args)} failed:\n{output}")
    print(output.strip().splitlines()[-1])
    return seconds, peak


def tokenize_comparison(text_path: Path, tokenizer_path: Path, out: Path, max_mb: float) -> dict:
    """tinylm prepare vs the per-story encode loop, same stories, same tokenizer."""
    from tinylm.data.prepare import prepare
    from tinylm.data.readers import read_stories
    from tinylm.tokenizer import Tokenizer

    sample = out / "tokenize-sample.txt"
    size = 0
    with open(sample, "w", encoding="utf-8") as f:
        for story in read_stories(text_path):
            f.write(f"{story}\n<|endoftext|>\n")
            size += len(story.encode())
            if size >= max_mb * 1e6:
                break
    stories = list(read_stories(sample))
    mb = sum(len(s.encode()) for s in stories) / 1e6

    start = time.perf_counter()
    prepare([str(sample)], out / "tok-tinylm", tokenizer_path=tokenizer_path, show_progress=False)
    ours = time.perf_counter() - start

    tok = Tokenizer.load(tokenizer_path)
    start = time.perf_counter()
    all_tokens: list[int] = []
    for story in read_stories(sample):  # llama2.c tinystories.py / nanoGPT prepare.py style
        all_tokens.extend(tok.encode(story, bos=True, eos=True))
    np.array(all_tokens, dtype=np.uint16).tofile(out / "tok-peer.bin")
    peer = time.perf_counter() - start
    ours_tokens = np.fromfile(out / "tok-tinylm" / "train.bin", dtype=np.uint16).size
    ours_tokens += np.fromfile(out / "tok-tinylm" / "val.bin", dtype=np.uint16).size
    assert ours_tokens == len(all_tokens), "both paths must produce the same tokens"
    return {"mb": mb, "tinylm_s": ours, "peer_s": peer, "tokens": len(all_tokens)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stories", type=int, default=100_000)
    parser.add_argument("--lang", default="en", choices=("en", "zh"))
    parser.add_argument("--workdir", default=None)
    parser.add_argument("--tokenize-mb", type=float, default=20.0)
    parser.add_argument("--json", help="also write the results here")
    args = parser.parse_args()
    work = Path(args.workdir or tempfile.mkdtemp(prefix="tinylm-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    corpus, cleaned, data = work / "synth.txt", work / "clean.txt", work / "data"
    rows = []

    t, rss = run_measured(
        ["data", "synth", "--lang", args.lang, "--stories", str(args.stories), "--out", str(corpus)]
    )
    mb = corpus.stat().st_size / 1e6
    rows.append(("synth", mb, t, rss))

    t, rss = run_measured(
        ["data", "clean", str(corpus), "--out", str(cleaned), "--report", str(work / "report.md")]
    )
    rows.append(("clean (all steps, 2 workers)", mb, t, rss))

    tokenizer = work / "tokenizer.json"
    sample = work / "tok-train.txt"
    with open(cleaned, "rb") as src, open(sample, "wb") as dst:
        dst.write(src.read(20_000_000))  # train the BPE on the first 20 MB
    run_measured(
        ["tokenizer", "train", str(sample), "--vocab-size", "4096", "--out", str(tokenizer)]
    )
    clean_mb = cleaned.stat().st_size / 1e6
    t, rss = run_measured(
        ["data", "prepare", str(cleaned), "--tokenizer", str(tokenizer), "--out", str(data)]
    )
    rows.append(("prepare (tokenize + shards)", clean_mb, t, rss))

    cmp = tokenize_comparison(cleaned, tokenizer, work, args.tokenize_mb)

    cpu = platform.processor() or platform.machine()
    print()
    print(
        f"machine: {cpu}, {os.cpu_count()} cores, {psutil.virtual_memory().total / 2**30:.0f} GiB, "
        f"load average {os.getloadavg()[0]:.1f}; {time.strftime('%Y-%m-%d')}"
    )
    print(f"{'stage':<32} {'MB':>9} {'seconds':>9} {'MB/s':>7} {'peak RSS':>10}")
    for name, size, seconds, peak in rows:
        rate = size / seconds
        print(f"{name:<32} {size:>9.1f} {seconds:>9.1f} {rate:>7.2f} {peak / 2**30:>8.2f} GB")
    ours, peer = cmp["mb"] / cmp["tinylm_s"], cmp["mb"] / cmp["peer_s"]
    print()
    print(f"tokenizing {cmp['mb']:.1f} MB ({cmp['tokens']:,} tokens), same tokenizer:")
    print(f"  tinylm prepare (batched, pipelined)   {ours:6.2f} MB/s")
    print(f"  per-story encode loop (llama2.c)      {peer:6.2f} MB/s")
    print(f"  ratio                                 {ours / peer:6.2f}x")
    if args.json:
        Path(args.json).write_text(
            json.dumps(
                {
                    "stages": [
                        dict(zip(("stage", "mb", "seconds", "peak_rss"), r, strict=True))
                        for r in rows
                    ],
                    "tokenize": cmp,
                    "load_average": os.getloadavg(),
                },
                indent=2,
            )
        )


if __name__ == "__main__":
    main()
