"""Shared by the speed benchmarks: the machine's own matmul peak, a description of the machine,
paired timing and table printing.

Absolute times on a shared machine drift with the load, so every benchmark (1) measures this
machine's bf16 and fp32 matmul peak first, (2) times tinylm and its peer alternately in the same
process, so both see the same load, and (3) reports their ratio.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import torch

from tinylm.device import cpu_model


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "absent"


def machine_info(device: torch.device) -> dict[str, Any]:
    """What a reader needs to judge a number: hardware, software, date and how busy it was."""
    info: dict[str, Any] = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "python": sys.version.split()[0],
        "torch": torch.__version__,
        "transformers": _version("transformers"),
        "tinylm": _version("tinylm"),
        "load_average": [round(x, 1) for x in os.getloadavg()],
    }
    if device.type == "cuda":
        info["gpu"] = torch.cuda.get_device_name(device)
    return info


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


@dataclass
class Timing:
    """Seconds of one run: `wall` is what a user waits; `busy` is the process's CPU seconds
    divided by its threads, the wall time it would take with the cores to itself. On a machine
    shared with other jobs `busy` is the stable one (OpenMP spin-waits count as busy, so it
    errs on the slow side)."""

    wall: float
    busy: float


def timed(fn: Callable[[], Any], device: torch.device) -> Timing:
    sync(device)
    wall, cpu = time.perf_counter(), time.process_time()
    fn()
    sync(device)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    # On a GPU the host thread mostly waits: wall time is the measure there.
    busy = cpu / torch.get_num_threads() if device.type == "cpu" else wall
    return Timing(wall, busy)


def matmul_probe(
    dtype: torch.dtype, device: torch.device, reps: int | None = None
) -> tuple[Callable[[], Any], float]:
    """(a function running `reps` n x n @ n x n matmuls, its GFLOP). A GPU needs a big product
    to reach its peak (8192^3 on an H100), a 2-core CPU only 1024^3."""
    n = 8192 if device.type == "cuda" else 1024
    reps = reps or (4 if device.type == "cpu" else 50)
    a = torch.randn(n, n, device=device).to(dtype)
    b = torch.randn(n, n, device=device).to(dtype)
    for _ in range(3):
        a @ b
    return (lambda: [a @ b for _ in range(reps)]), reps * 2 * n**3 / 1e9


def matmul_peak_gflops(
    dtype: torch.dtype, device: torch.device, seconds: float = 2.0
) -> tuple[Timing, Timing]:
    """(median, best) GFLOP/s of a matmul in `dtype` over short bursts, by wall and by busy
    time. On this shared VM the best burst sits up to 40 % above the median (434 bursts of
    1024^3 in bf16: median 698 GFLOP/s, best 906-977), and the median itself moved from 392 to
    738 GFLOP/s between two runs an hour apart: MFU is therefore taken against a probe timed
    in the same rounds as the steps (train.py), and this table only describes the machine."""
    probe, gflop = matmul_probe(dtype, device)
    walls, busys = [], []
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        t = timed(probe, device)
        walls.append(gflop / t.wall)
        busys.append(gflop / max(t.busy, 1e-9))
    median = Timing(statistics.median(walls), statistics.median(busys))
    return median, Timing(max(walls), max(busys))


def measure_peaks(device: torch.device) -> dict[str, Timing]:
    """The machine's median matmul GFLOP/s per dtype (see matmul_peak_gflops)."""
    peaks, rows = {}, []
    for name, dtype in (("bf16", torch.bfloat16), ("fp32", torch.float32)):
        median, best = matmul_peak_gflops(dtype, device)
        peaks[name] = median
        rows.append([name, f"{median.wall:,.0f}", f"{median.busy:,.0f}", f"{best.busy:,.0f}"])
    size = 8192 if device.type == "cuda" else 1024
    print_table(
        [f"matmul {size}^3", "GFLOP/s (wall)", "GFLOP/s (busy)", "best burst (busy)"],
        rows,
        title="machine peak (median of 2 s of bursts)",
    )
    return peaks


def add_machine_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--device", default="auto")
    parser.add_argument(
        "--threads", type=int, help="torch CPU threads (default: all cores; 1 on a busy machine)"
    )
    parser.add_argument("--json", help="also write the results here")


def setup_device(args: argparse.Namespace) -> torch.device:
    from tinylm.device import compile_cache_for_this_cpu, resolve_device

    if args.threads:
        torch.set_num_threads(args.threads)
    compile_cache_for_this_cpu()  # --compile: never kernels cached under another CPU dispatch
    return resolve_device(args.device)


def write_json(
    path: str, info: dict[str, Any], peaks: dict[str, Timing], results: list[dict]
) -> None:
    payload = {"machine": info, "peaks": {k: vars(v) for k, v in peaks.items()}, "results": results}
    Path(path).write_text(json.dumps(payload, indent=2), encoding="utf-8")


def print_machine(info: dict[str, Any]) -> None:
    print(
        f"{info['date']}: {info['cpu']}, {info['cores']} cores ({info['torch_threads']} torch "
        f"threads){', ' + info['gpu'] if 'gpu' in info else ''}; python {info['python']}, "
        f"torch {info['torch']}, transformers {info['transformers']}; "
        f"load average {' '.join(str(x) for x in info['load_average'])}"
    )


def paired_times(
    fns: dict[str, Callable[[], Any]], device: torch.device, rounds: int
) -> dict[str, Timing]:
    """Median wall and busy seconds per call of each function, run in alternation (A B A B ...)
    so that a change in machine load hits every contender alike."""
    times: dict[str, list[Timing]] = {name: [] for name in fns}
    for _ in range(rounds):
        for name, fn in fns.items():
            times[name].append(timed(fn, device))
    return {
        name: Timing(
            statistics.median(t.wall for t in values), statistics.median(t.busy for t in values)
        )
        for name, values in times.items()
    }


def print_table(headers: Sequence[str], rows: Sequence[Sequence[str]], title: str = "") -> None:
    """A Markdown table (pastes straight into docs/benchmarks.md)."""
    if title:
        print(f"\n{title}")
    widths = [max(len(str(h)), *(len(str(r[i])) for r in rows)) for i, h in enumerate(headers)]
    print("| " + " | ".join(str(h).ljust(w) for h, w in zip(headers, widths, strict=True)) + " |")
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for row in rows:
        print("| " + " | ".join(str(c).rjust(w) for c, w in zip(row, widths, strict=True)) + " |")


# -- contenders -------------------------------------------------------------------------------

STORIES = "../shared/data/tinystories/v1-train-head.txt"


def bench_tokenizer(max_stories: int = 2000):  # -> tinylm.tokenizer.Tokenizer
    """A real 512-id BPE trained on real TinyStories text: its ids fit every preset's vocab, and
    it gives the prompts real token statistics."""
    from tinylm.data.readers import read_stories
    from tinylm.tokenizer import train_tokenizer

    stories = [s for _, s in zip(range(max_stories), read_stories(STORIES), strict=False)]
    if not stories:
        sys.exit(f"no stories in {STORIES}: run from the repository root next to ../shared")
    return train_tokenizer(stories, 512, show_progress=False), stories


def tinylm_model(preset: str, vocab_size: int | None = None, seed: int = 0) -> torch.nn.Module:
    from tinylm.config import build_configs
    from tinylm.models import build_model

    cfg, _ = build_configs(preset, flag_model={"vocab_size": vocab_size})
    torch.manual_seed(seed)
    return build_model(cfg)


def hf_twin(model: torch.nn.Module, tokenizer, folder) -> torch.nn.Module:
    """The same weights as a transformers `LlamaForCausalLM` (attn_implementation="sdpa"),
    through tinylm's own Hugging Face export: the path a user takes."""
    from transformers import LlamaForCausalLM

    from tinylm.interop.hf import export_hf

    export_hf(model, tokenizer, folder)
    return LlamaForCausalLM.from_pretrained(folder, attn_implementation="sdpa")
