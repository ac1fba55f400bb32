"""Novelty index benchmark: build time and peak memory of the training-set index, and the cost
of one longest-shared-substring query, side by side with the obvious peer.

    python benchmarks/novelty_index.py                      # ../shared/data TinyStories head
    python benchmarks/novelty_index.py --data train.txt --minilm
    python benchmarks/novelty_index.py --crossover 2,16,128,512 [--crossover-text synth]

Stages: corpus text, suffix arrays, TF-IDF (or MiniLM) embeddings; each reports seconds and the
process's peak RSS after it (ru_maxrss: a high-water mark, so each row includes those before).
The query peer is a brute force a user would write first: for each start position, grow the
match while `bytes.find` finds it in the whole corpus text (the same greedy algorithm, linear
scans instead of binary searches over the suffix array).

--crossover builds indexes of `tinylm data synth` stories of the given sizes (MB) and times the
suffix-array build and both query methods on each, with real TinyStories endings as queries (text
the corpus does not contain, as a model's completion): where the brute force stops winning.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from tinylm.evalsuite.index import TrainingIndex  # noqa: E402
from tinylm.evalsuite.stories import training_corpus  # noqa: E402
from tinylm.evalsuite.substring import longest_match  # noqa: E402


def peak_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2


class AnonPeak:
    """Peak anonymous memory (RssAnon), sampled every 50 ms. RSS also counts the pages of the
    memory-mapped index a query touched: clean file pages the kernel drops under pressure, so
    the bound that matters is the anonymous part."""

    def __init__(self) -> None:
        self.peak = 0
        threading.Thread(target=self._sample, daemon=True).start()

    def _sample(self) -> None:
        while True:
            status = Path("/proc/self/status").read_text()
            anon = next(line for line in status.splitlines() if line.startswith("RssAnon:"))
            self.peak = max(self.peak, int(anon.split()[1]))
            time.sleep(0.05)

    def gb(self) -> float:
        return self.peak / 1024**2


ANON = AnonPeak()


def brute_longest(query: bytes, corpus: bytes) -> int:
    best = 0
    for i in range(len(query) - best):
        while i + best < len(query) and corpus.find(query[i : i + best + 1]) >= 0:
            best += 1
    return best


def timed_queries(fn, queries: list[bytes], budget_s: float) -> tuple[list[int], float]:
    """fn over the queries until `budget_s` is spent (at least one): results and s/query."""
    out, start = [], time.perf_counter()
    for q in queries:
        out.append(fn(q))
        if time.perf_counter() - start > budget_s:
            break
    return out, (time.perf_counter() - start) / len(out)


def novel_queries(held_out: Path, n: int) -> list[str]:
    """300-character endings of stories the index does not hold, as a model's completions."""
    stories = [s.strip() for s in held_out.read_text(encoding="utf-8").split("<|endoftext|>")]
    return [s[len(s) // 2 :][:300] for s in stories if len(s) > 200][:n]


def copied_queries(index: TrainingIndex, n: int) -> tuple[range, list[str]]:
    """(story ids, their last 300 characters): n stories spread over the index, as a model
    that recites."""
    spread = range(0, len(index), max(1, len(index) // n))[:n]
    return spread, [index.story(i)[::-1][:300][::-1] for i in spread]


def crossover(sizes_mb: list[float], n_queries: int, text_kind: str) -> None:
    """Two kinds of query: novel text (stories the corpus does not hold, as a model's own
    completion) and copied text (endings of the corpus' own stories, as a model that recites).

    The brute force's cost depends on the text: `find` skips ahead by up to the needle's length,
    so a probe costs about corpus / match length. `synth`: a `tinylm data synth` corpus, queried
    with real TinyStories endings (short matches, since the vocabularies differ). `real`: the
    TinyStories head in ../shared/data repeated to the size, queried with GPT-4 TinyStories
    endings (long matches: the brute force's best case)."""
    work = Path(os.environ["TINYLM_CACHE"])
    data = ROOT.parent / "shared" / "data" / "tinystories"
    held_out = data / ("v1-train-head.txt" if text_kind == "synth" else "v2-gpt4-train-head.txt")
    novel = [q.encode() for q in novel_queries(held_out, n_queries)]
    print("| corpus | stories | SA build MB/s | query | suffix arrays ms | brute force ms "
          "| brute / SA |")  # fmt: skip
    print("|---|---:|---:|---|---:|---:|---:|")
    for mb in sizes_mb:
        corpus = work / f"{text_kind}-{mb:g}MB.txt"
        if text_kind == "synth":
            # ~700 bytes per synth story
            command = [sys.executable, "-m", "tinylm", "data", "synth", "--stories",
                       str(int(mb * 1e6 / 700) + 1), "--out", str(corpus)]  # fmt: skip
            subprocess.run(command, check=True, capture_output=True)
        else:
            head = (data / "v1-train-head.txt").read_bytes()
            head = head[: head.rindex(b"<|endoftext|>")] + b"<|endoftext|>\n"
            with corpus.open("wb") as f:
                for _ in range(max(1, round(mb * 1e6 / len(head)))):
                    f.write(head)
        index = TrainingIndex(training_corpus(str(corpus), Path(".")), show_progress=False)
        index.build_text()
        start = time.perf_counter()
        index.build_suffix_arrays()
        size = index.text.nbytes / 1e6
        build = size / (time.perf_counter() - start)
        copied = [q.encode() for q in copied_queries(index, n_queries)[1]]
        shards = list(index.shards())
        text = bytes(index.text)
        for kind, queries in (("novel", novel), ("copied", copied)):
            ours, ours_s = timed_queries(lambda q, sh=shards: longest_match(q, sh)[0], queries, 60)
            theirs, brute_s = timed_queries(lambda q, t=text: brute_longest(q, t), queries, 60)
            assert ours[: len(theirs)] == theirs, "suffix arrays and brute force disagree"
            print(f"| {size:,.1f} MB | {len(index):,} | {build:.1f} | {kind} "
                  f"| {1000 * ours_s:.1f} | {1000 * brute_s:.1f} | {brute_s / ours_s:.2f}x |",
                  flush=True)  # fmt: skip
        del text, shards
        corpus.unlink()
    print(f"peak RSS {peak_gb():.2f} GB, peak anonymous {ANON.gb():.2f} GB")


def folder_gb(paths) -> float:
    return sum(p.stat().st_size for p in paths if p.is_file()) / 1e9


def main() -> None:
    parser = argparse.ArgumentParser()
    default = ROOT.parent / "shared" / "data" / "tinystories" / "v1-train-head.txt"
    parser.add_argument("--data", default=str(default))
    parser.add_argument("--embedders", default="tfidf", help="tfidf and/or minilm, comma-separated")
    parser.add_argument("--device", default="cpu", help="where MiniLM runs (cpu, cuda)")
    parser.add_argument("--index-dir", help="keep the index here (an interrupted build resumes)")
    parser.add_argument("--queries", type=int, default=20)
    parser.add_argument("--brute-max-mb", type=float, default=256, help="skip the peer above this")
    parser.add_argument("--crossover", help="comma-separated corpus sizes in MB")
    parser.add_argument("--crossover-text", choices=("synth", "real"), default="real")
    args = parser.parse_args()
    os.environ["TINYLM_CACHE"] = args.index_dir or tempfile.mkdtemp(prefix="tinylm-bench-")
    machine = platform.processor() or platform.machine()
    if args.crossover:
        print(f"{machine}, {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}")
        print(f"corpus text: {args.crossover_text}")
        crossover([float(x) for x in args.crossover.split(",")], args.queries, args.crossover_text)
        return
    index = TrainingIndex(training_corpus(args.data, Path(".")), show_progress=True)
    rows = []

    def stage(name: str, fn) -> None:
        start = time.perf_counter()
        fn()
        rows.append((name, time.perf_counter() - start, peak_gb(), ANON.gb()))

    stage("corpus text", index.build_text)
    stage("suffix arrays", index.build_suffix_arrays)
    embedders = {}
    for name in args.embedders.split(","):
        key = {"tfidf": "tfidf", "minilm": MINILM}[name]
        embedder = index.embedder(key, args.device) if key == MINILM else index.embedder(key)
        embedders[name] = embedder
        stage(f"{name} embeddings", lambda e=embedder: index.build_embeddings(e))
    size_mb = index.text.nbytes / 1e6
    print(f"{len(index):,} stories, {size_mb:,.1f} MB of text; {machine}, {os.cpu_count()} "
          f"cores, load {os.getloadavg()[0]:.1f}; MiniLM on {args.device}")  # fmt: skip
    print("| stage | seconds | stories/s | peak RSS | peak anonymous |\n|---|---:|---:|---:|---:|")
    for name, seconds, peak, anon in rows:
        print(f"| {name} | {seconds:.1f} | {len(index) / seconds:,.0f} | {peak:.2f} GB "
              f"| {anon:.2f} GB |")  # fmt: skip
    print("\n| index part | on disk |\n|---|---:|")
    print(f"| corpus text + offsets | {folder_gb(index.dir.glob('corpus.bin')):.2f} GB |")
    print(f"| suffix arrays | {folder_gb(index.dir.glob('sa-*.npy')):.2f} GB |")
    for name, embedder in embedders.items():
        print(f"| {name} embeddings | {folder_gb((index.dir / embedder.name).glob('*')):.2f} GB |")

    # Novel text: GPT-4 TinyStories endings, which no corpus built from v1 stories or synth holds.
    gpt4 = ROOT.parent / "shared" / "data" / "tinystories" / "v2-gpt4-train-head.txt"
    novel = novel_queries(gpt4, args.queries)
    spread, copied = copied_queries(index, args.queries)
    shards = list(index.shards())
    print("\n| per 300-byte query | novel text ms | copied text ms |\n|---|---:|---:|")
    times = {}
    for kind, queries in (("novel", novel), ("copied", copied)):
        raw = [q.encode() for q in queries]
        times[kind] = timed_queries(lambda q: longest_match(q, shards)[0], raw, 120)
    print(f"| longest shared substring, suffix arrays (tinylm) | {1000 * times['novel'][1]:.1f} "
          f"| {1000 * times['copied'][1]:.1f} |")  # fmt: skip
    if size_mb <= args.brute_max_mb:
        text = bytes(index.text)
        brute = {}
        for kind, queries in (("novel", novel), ("copied", copied)):
            raw = [q.encode() for q in queries]
            brute[kind] = timed_queries(lambda q, t=text: brute_longest(q, t), raw, 60)
            ours = times[kind][0]
            assert ours[: len(brute[kind][0])] == brute[kind][0], "methods disagree"
        print(f"| longest shared substring, `bytes.find` (brute force) | "
              f"{1000 * brute['novel'][1]:.1f} | {1000 * brute['copied'][1]:.1f} |")  # fmt: skip
    for name, embedder in embedders.items():
        per = {}
        for kind, queries in (("novel", novel), ("copied", copied)):
            start = time.perf_counter()
            _, where = index.nearest(embedder, queries)
            per[kind] = (time.perf_counter() - start) / len(queries)
            if kind == "copied":  # each copied ending's nearest story is its own
                found = sum(int(w) == i for w, i in zip(where, spread, strict=True))
                print(f"({name}: {found}/{len(queries)} copied endings found their story)")
        print(f"| nearest story, {name} ({len(index):,} stories) | {1000 * per['novel']:.1f} "
              f"| {1000 * per['copied']:.1f} |")  # fmt: skip
    print(f"peak RSS {peak_gb():.2f} GB, peak anonymous {ANON.gb():.2f} GB")


MINILM = "all-MiniLM-L6-v2"

if __name__ == "__main__":
    main()
