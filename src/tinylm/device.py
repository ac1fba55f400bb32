"""Picking the device and the precision: bf16 autocast wherever the hardware does bf16 matmul
fast (CUDA Ampere+, and CPUs with AVX512-BF16/AMX, where it is ~3-4x fp32)."""

from __future__ import annotations

import contextlib
import ctypes
import functools
import hashlib
import os
import platform
import statistics
import sys
import time
from collections.abc import Iterator

import torch

from tinylm.errors import TinylmError

DTYPE_NAMES = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}


def resolve_device(name: str = "auto") -> torch.device:
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        return torch.device("cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise TinylmError(f"--device {name}: no CUDA GPU is visible to PyTorch; use --device cpu")
    if name == "mps" and not torch.backends.mps.is_available():
        raise TinylmError("--device mps: Apple MPS is not available here; use --device cpu")
    try:
        device = torch.device(name)
    except (RuntimeError, TypeError):
        device = None
    if device is None or device.type not in ("cpu", "cuda", "mps"):
        raise TinylmError(f"--device must be auto, cpu, cuda, cuda:N or mps, got '{name}'")
    return device


def cpu_has_fast_bf16() -> bool:
    checks = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")
    return any(getattr(torch.cpu, c, lambda: False)() for c in checks)


def hardware_half_dtype(device: torch.device) -> torch.dtype:
    """The half type `device` does matrix products in natively, else fp32. A capability, not a
    verdict on speed: `--dtype auto` measures (`tinylm.precision`)."""
    if device.type == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    if device.type == "cpu" and cpu_has_fast_bf16():
        return torch.bfloat16
    return torch.float32


def resolve_dtype(name: str, device: torch.device) -> torch.dtype:
    """An explicit --dtype (fp32, bf16, fp16); `auto` is measured per job by
    `tinylm.precision`, not resolved here."""
    if name == "auto":
        raise ValueError("resolve 'auto' with tinylm.precision (it is measured per job)")
    if name not in DTYPE_NAMES:
        raise TinylmError(f"--dtype must be auto, fp32, bf16 or fp16, got '{name}'")
    if name == "fp16" and device.type == "cpu":
        raise TinylmError("--dtype fp16 is GPU-only; use bf16 or fp32 on the CPU")
    return DTYPE_NAMES[name]


def dtype_name(dtype: torch.dtype) -> str:
    return {v: k for k, v in DTYPE_NAMES.items()}[dtype]


@contextlib.contextmanager
def autocast(device: torch.device, dtype: torch.dtype) -> Iterator[None]:
    """Mixed precision for the forward pass; weights and optimizer state stay fp32."""
    if dtype == torch.float32:
        yield
        return
    with torch.autocast(device_type=device.type, dtype=dtype):
        yield


def cpu_identity() -> str:
    """This CPU as compiled code sees it: its model and feature flags, and the instruction set
    PyTorch dispatches to (ATEN_CPU_CAPABILITY can lower it). Code built with -march=native or
    generated for one CPU must not be loaded on another sharing a home folder or a cache."""
    model = platform.processor()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            model += "".join({line: None for line in f if line.startswith(("model name", "flags"))})
    except OSError:
        pass
    return f"{platform.machine()} {torch.backends.cpu.get_cpu_capability()} {model}"


@functools.cache
def compile_cache_for_this_cpu() -> None:
    """Give torch.compile a cache folder of this CPU and instruction set (unless the user chose
    one with TORCHINDUCTOR_CACHE_DIR). Inductor's cache key leaves the dispatch out: on one
    machine, kernels cached under AVX-512 and loaded under ATEN_CPU_CAPABILITY=avx2 trained to
    NaN, and the reverse crashed in malloc."""
    if "TORCHINDUCTOR_CACHE_DIR" in os.environ:
        return
    try:
        from torch._inductor.runtime.cache_dir_utils import default_cache_dir

        base = default_cache_dir()
    except ImportError:  # a torch that moved it: its usual place
        import tempfile

        base = os.path.join(tempfile.gettempdir(), f"torchinductor_{os.getuid()}")
    what = f"{cpu_identity()} {os.environ.get('ONEDNN_MAX_CPU_ISA', '')} {torch.__version__}"
    key = hashlib.sha256(what.encode()).hexdigest()[:12]
    os.environ["TORCHINDUCTOR_CACHE_DIR"] = os.path.join(base, f"tinylm-{key}")


def configure_backends(device: torch.device) -> None:
    """Settings for training on `device`."""
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    if device.type == "cpu":
        keep_freed_memory()


# glibc's mallopt parameters (malloc.h)
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3


@functools.cache
def keep_freed_memory() -> None:
    """Keep the memory of freed tensors in the process for the next training step.

    glibc gives a block above its mmap threshold (a few MB) back to the kernel when it is
    freed, so every step's activations came back as fresh pages: 15m at batch 32 x 256
    page-faulted 2.1 GB a step (540k faults, 1.7 s of kernel time in a 4.8 s step). With the
    threshold at glibc's maximum (32 MB) and freed memory trimmed only above 1 GB, the same step
    took 3.0 s (1,228 faults), timed alone on a Zen 5 CPU. The price: the process keeps its peak
    heap, which a training run reaches every step anyway. Not glibc (macOS, musl): nothing to
    do."""
    if not sys.platform.startswith("linux"):
        return
    mallopt = getattr(ctypes.CDLL(None), "mallopt", None)
    if mallopt is None:
        return
    mallopt(_M_MMAP_THRESHOLD, 32 << 20)
    mallopt(_M_TRIM_THRESHOLD, 1 << 30)


def matmul_peak_flops(device: torch.device, dtype: torch.dtype, seconds: float = 0.5) -> float:
    """This device's matmul FLOP/s in `dtype`, measured: the median of short bursts of square
    products. What the MFU a tracker logs is taken against, because a CPU has no datasheet
    peak worth using (a VM's cores, AMX or not, turbo and neighbours decide it)."""
    n = 4096 if device.type == "cuda" else 1024
    a = torch.randn(n, n, device=device).to(dtype)
    b = torch.randn(n, n, device=device).to(dtype)
    synchronize = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    a @ b
    synchronize()
    rates: list[float] = []
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline or len(rates) < 3:
        start = time.perf_counter()
        a @ b
        synchronize()
        rates.append(2 * n**3 / max(time.perf_counter() - start, 1e-9))
    return statistics.median(rates)


def cpu_model() -> str:
    """The CPU's model name as `lscpu` shows it ('AMD EPYC'), or the platform's word for it."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def device_description(device: torch.device, processes: int = 1) -> str:
    """The hardware a run trained on, in words for a model card: 'NVIDIA H100 80GB HBM3' or
    'AMD EPYC, 2 cores', times the processes, with the torch build."""
    if device.type == "cuda":
        what = torch.cuda.get_device_name(device)
    else:
        what = f"{cpu_model()}, {torch.get_num_threads()} threads"
        if device.type == "mps":
            what = f"Apple GPU (mps), {what}"
    many = f"{processes} processes on " if processes > 1 else ""
    return f"{many}{what}; torch {torch.__version__}"
