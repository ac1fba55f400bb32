"""Novelty index benchmark: build time and peak memory of the training-set index, and the cost
of one longest-shared-substring query, side by side with the obvious peer.

    python benchmarks/novelty_index.py                      # ../shared/data TinyStories head
    python benchmarks/novelty_index.py --data train.txt --minilm

Stages: corpus text, suffix arrays, TF-IDF (or MiniLM) embeddings; each reports seconds and the
process's peak RSS after it (ru_maxrss: a high-water mark, so each row includes those before).
The query peer is a brute force a user would write first: for each start position, grow the
match while `bytes.find` finds it in the whole corpus text (the same greedy algorithm, linear
scans instead of binary searches over the suffix array).
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from tinylm.evalsuite.index import TrainingIndex  # noqa: E402
from tinylm.evalsuite.stories import training_corpus  # noqa: E402
from tinylm.evalsuite.substring import longest_match  # noqa: E402


def peak_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2


def brute_longest(query: bytes, corpus: bytes) -> int:
    best = 0
    for i in range(len(query) - best):
        while i + best < len(query) and corpus.find(query[i : i + best + 1]) >= 0:
            best += 1
    return best


def main() -> None:
    parser = argparse.ArgumentParser()
    default = ROOT.parent / "shared" / "data" / "tinystories" / "v1-train-head.txt"
    parser.add_argument("--data", default=str(default))
    parser.add_argument("--minilm", action="store_true", help="also embed with MiniLM")
    parser.add_argument("--queries", type=int, default=20)
    args = parser.parse_args()
    os.environ["TINYLM_CACHE"] = tempfile.mkdtemp(prefix="tinylm-bench-")
    index = TrainingIndex(training_corpus(args.data, Path(".")), show_progress=False)
    rows = []

    def stage(name: str, fn) -> None:
        start = time.perf_counter()
        fn()
        rows.append((name, time.perf_counter() - start, peak_gb()))

    stage("corpus text", index.build_text)
    stage("suffix arrays", index.build_suffix_arrays)
    stage("TF-IDF embeddings", lambda: index.build_embeddings(index.embedder("tfidf")))
    if args.minilm:
        stage("MiniLM embeddings", lambda: index.build_embeddings(index.embedder(MINILM)))
    size_mb = index.text.nbytes / 1e6
    machine = platform.processor() or platform.machine()
    print(f"{len(index):,} stories, {size_mb:.1f} MB of text; {machine}, {os.cpu_count()} cores, "
          f"load {os.getloadavg()[0]:.1f}")  # fmt: skip
    print("| stage | seconds | stories/s | peak RSS |\n|---|---:|---:|---:|")
    for name, seconds, peak in rows:
        print(f"| {name} | {seconds:.1f} | {len(index) / seconds:,.0f} | {peak:.2f} GB |")
    # Queries: held-out-like text = the second half of each of the first stories, shuffled a bit.
    queries = [index.story(i)[::-1][:300][::-1].encode() for i in range(args.queries)]
    shards = list(index.shards())
    corpus = bytes(index.text)
    start = time.perf_counter()
    ours = [longest_match(q, shards)[0] for q in queries]
    ours_s = (time.perf_counter() - start) / len(queries)
    start = time.perf_counter()
    theirs = [brute_longest(q, corpus) for q in queries]
    brute_s = (time.perf_counter() - start) / len(queries)
    assert ours == theirs, "the suffix-array search and the brute force disagree"
    print("\n| longest shared substring, per 300-byte query | ms |\n|---|---:|")
    print(f"| suffix arrays (tinylm) | {1000 * ours_s:.1f} |")
    print(f"| `bytes.find` over the corpus (brute force) | {1000 * brute_s:.1f} |")
    print(f"| **ratio** | **{brute_s / ours_s:.1f}x** |")


MINILM = "all-MiniLM-L6-v2"

if __name__ == "__main__":
    main()
