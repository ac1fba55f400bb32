"""`--dtype auto`: the precision that is fastest here, measured on this machine, not guessed.

A CPU flag says whether bf16 matrix products are fast (AVX512-BF16, AMX), not whether a job
gains from them. Decoding one token at a time is a chain of matrix-vector products, and on an
Intel Xeon with AMX eager bf16 decoding of the 15m shape ran at 216 tok/s against fp32's 299
(batch 1), while bf16 training steps on the same machine were several times faster than fp32.
So where bf16 might win (a CPU that does bf16 matmul in hardware), auto times both precisions
on the job itself (a few decoding steps of the model, or a few training steps) and keeps the
faster. The answer is cached per CPU, torch version, model shape and batch in
$TINYLM_CACHE/precision.json, so the measurement costs seconds once.

What auto picks, per device:
- CUDA: bf16 where the GPU supports it, else fp16 (tensor cores; not measured).
- CPU without bf16 hardware: fp32 (bf16 would be emulated; not measured).
- CPU with bf16 hardware: whichever of fp32 and bf16 measured faster for this job.
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
import json
import statistics
import time
from collections.abc import Callable

import torch
from torch import nn

from tinylm.device import cpu_identity, hardware_half_dtype
from tinylm.fileio import atomic_write_json, tinylm_cache

CACHE_FILE = "precision.json"
ROUNDS = 3  # alternations of the candidates; the median of each is compared


def auto_candidates(device: torch.device) -> tuple[torch.dtype, ...]:
    """The precisions worth timing on `device` (one: nothing to measure)."""
    half = hardware_half_dtype(device)
    if device.type == "cpu" and half != torch.float32:
        return (torch.float32, half)
    return (half,)


def _cache_path():
    return tinylm_cache("") / CACHE_FILE


def _read_cache() -> dict:
    try:
        data = json.loads(_cache_path().read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _key(job: str, shape: str) -> str:
    what = f"{cpu_identity()}|{torch.__version__}|{torch.get_num_threads()}|{job}|{shape}"
    return hashlib.sha256(what.encode()).hexdigest()[:20]


def fastest(job: str, shape: str, candidates: dict[torch.dtype, Callable[[], None]]) -> torch.dtype:
    """The candidate whose run is fastest, by the median of ROUNDS alternating timings after a
    warm-up of each; remembered under (this CPU, torch, threads, job, shape)."""
    names = {dtype: str(dtype).removeprefix("torch.") for dtype in candidates}
    if len(candidates) == 1:
        return next(iter(candidates))
    key = _key(job, shape)
    cached = _read_cache().get(key)
    if isinstance(cached, dict):
        chosen = next((d for d, n in names.items() if n == cached.get("dtype")), None)
        if chosen is not None:
            return chosen
    for run in candidates.values():
        run()  # warm-up: first calls allocate, pick kernels, pack weights
    seconds: dict[torch.dtype, list[float]] = {dtype: [] for dtype in candidates}
    for _ in range(ROUNDS):
        for dtype, run in candidates.items():
            start = time.perf_counter()
            run()
            seconds[dtype].append(time.perf_counter() - start)
    medians = {dtype: statistics.median(times) for dtype, times in seconds.items()}
    chosen = min(medians, key=medians.__getitem__)
    cache = _read_cache()
    cache[key] = {
        "job": job,
        "shape": shape,
        "dtype": names[chosen],
        "seconds": {names[d]: round(s, 6) for d, s in medians.items()},
    }
    with contextlib.suppress(OSError):  # a read-only cache costs the measurement next time
        atomic_write_json(_cache_path(), cache)
    return chosen


def decoding_dtype(
    model: nn.Module, device: torch.device, batch: int = 1, compile: bool = False
) -> torch.dtype:
    """The weight type that decodes `model` fastest here for `batch` streams, eager or through
    the compiled step (the answer differs: on the Xeon eager 15m decoded faster in fp32 at
    batch 1, compiled faster in bf16): a short greedy generation of each candidate on a copy of
    the model. With `compile` each candidate is compiled once (inductor caches it)."""
    from tinylm.generate import SamplingOptions, generate_tokens

    dtypes = auto_candidates(device)
    if len(dtypes) == 1:
        return dtypes[0]
    cfg = model.config
    prompt = [1 + i % (cfg.vocab_size - 1) for i in range(16)]
    options = SamplingOptions(max_new_tokens=min(32, max(1, cfg.max_seq_len - 16)), temperature=0)

    def decoder(dtype: torch.dtype) -> Callable[[], None]:
        copy_ = copy.deepcopy(model).to(device=device, dtype=dtype).eval()

        def run() -> None:
            for _ in generate_tokens(copy_, prompt, options, None, batch, compile=compile):
                pass

        return run

    shape = f"{cfg.arch} {cfg.dim}x{cfg.n_layers} vocab {cfg.vocab_size} batch {batch}"
    job = "decode compiled" if compile else "decode"
    return fastest(job, shape, {dtype: decoder(dtype) for dtype in dtypes})


def scoring_dtype(model: nn.Module, device: torch.device, batch: int) -> torch.dtype:
    """The autocast type that scores `model` fastest here (`tinylm eval`): forward passes over
    a batch of full context windows."""
    from tinylm.device import autocast

    dtypes = auto_candidates(device)
    if len(dtypes) == 1:
        return dtypes[0]
    cfg = model.config
    idx = torch.randint(3, cfg.vocab_size, (batch, cfg.max_seq_len), device=device)

    def forward(dtype: torch.dtype) -> Callable[[], None]:
        @torch.no_grad()
        def run() -> None:
            with autocast(device, dtype):
                model(idx)

        return run

    shape = f"{cfg.arch} {cfg.dim}x{cfg.n_layers} vocab {cfg.vocab_size} {batch}x{cfg.max_seq_len}"
    return fastest("score", shape, {dtype: forward(dtype) for dtype in dtypes})
