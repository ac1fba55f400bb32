"""Causal self-attention for heads of size 8 and 16 on the CPU, through our own kernel.

PyTorch's CPU flash attention is built from GEMMs, and with 8 numbers per head every GEMM has
an inner dimension of 8: on the 260k preset (llama2.c's stories260K) attention was 81 % of a
training step. `small_head_attention.cpp` walks each query row over its keys in SIMD-width
blocks instead: forward + backward of one 260k layer at batch 32 x 512 takes 64 busy ms
against SDPA's 265 in bf16 (`benchmarks/attention.py`), and 260k trains at 2.6x transformers.

The kernel is plain C++ (vector extensions, no PyTorch headers), compiled on first use with
the machine's C++ compiler for its own SIMD width (about 2 s) and cached in
`$TINYLM_CACHE/kernels` (default ~/.cache/tinylm). Without a compiler, `available()` is False
and the model keeps using SDPA, after one line on stderr saying so. Its inputs and outputs are
fp32 (exact to float rounding against SDPA in fp32); bf16 callers pay one conversion of q, k
and v, which is small next to the T x T work.

Eager calls go through a plain autograd.Function; under torch.compile the same functions are a
`torch.library` custom op, one opaque call in the graph. Work is split over (batch, head) pairs
into as many parts as torch has intra-op threads.
"""

from __future__ import annotations

import ctypes
import functools
import hashlib
import itertools
import os
import platform
import shutil
import subprocess
import sys
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import torch

from tinylm.fileio import fsync_replace, temp_path_beside, tinylm_cache

HEAD_DIMS = (8, 16)
SOURCE = Path(__file__).with_name("small_head_attention.cpp")

_ptr, _i64, _f32 = ctypes.c_void_p, ctypes.c_int64, ctypes.c_float


def _cpu_identity() -> str:
    """What `-march=native` compiled for: a library built on one CPU may not run on another
    sharing the same home directory."""
    model = platform.processor()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            model += "".join({line: None for line in f if line.startswith(("model name", "flags"))})
    except OSError:
        pass
    return f"{platform.machine()} {torch.backends.cpu.get_cpu_capability()} {model}"


def _compile(compiler: str, target: Path) -> None:
    """Build under a temporary name and rename: concurrent processes (torchrun ranks) never
    load a half-written library. -march=native gives the machine's SIMD width; without it
    (SSE2 on x86-64) the kernel measured slower than SDPA, so a compiler that refuses it means
    SDPA."""
    tmp = temp_path_beside(target)
    try:
        command = [compiler, "-O3", "-march=native", "-std=c++17", "-shared", "-fPIC"]
        result = subprocess.run(
            [*command, str(SOURCE), "-o", str(tmp)], capture_output=True, text=True, check=False
        )
        if result.returncode != 0:
            lines = (result.stderr or result.stdout).strip().splitlines()
            raise OSError(lines[-1] if lines else f"exit code {result.returncode}")
        fsync_replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


@functools.cache
def _library() -> ctypes.CDLL | None:
    compiler = os.environ.get("CXX", "c++")
    if shutil.which(compiler) is None:
        _say(f"no C++ compiler ('{compiler}') found")
        return None
    key = hashlib.sha256(
        SOURCE.read_bytes() + compiler.encode() + _cpu_identity().encode()
    ).hexdigest()[:16]
    target = tinylm_cache("kernels") / key / "small_head_attention.so"
    try:
        if not target.exists():
            _compile(compiler, target)
    except OSError as err:
        _say(f"building {SOURCE.name} failed ({err})")
        return None
    try:
        lib = ctypes.CDLL(str(target))
    except OSError as err:
        _say(f"loading {target} failed ({err}); deleting it builds it again")
        return None
    lib.tinylm_attention_forward.argtypes = [_ptr] * 5 + [_i64] * 4 + [_f32, _i64, _i64]
    lib.tinylm_attention_backward.argtypes = [_ptr] * 9 + [_i64] * 4 + [_f32, _i64, _i64]
    return lib


def _say(why: str) -> None:
    print(
        f"tinylm: {why}; attention with head size 8 or 16 uses PyTorch SDPA on the CPU "
        "(about 2.5x slower to train). Install a C++ compiler (g++ or clang) to build the kernel.",
        file=sys.stderr,
    )


def available() -> bool:
    return _library() is not None


def usable(q: torch.Tensor, dropout: float) -> bool:
    """Whether `causal_attention` can take this query: CPU, a supported head size, no
    attention dropout, and a kernel that built."""
    return q.device.type == "cpu" and q.shape[-1] in HEAD_DIMS and dropout == 0.0 and available()


_pool: tuple[int, ThreadPoolExecutor] | None = None


def _helpers() -> ThreadPoolExecutor:
    """One pool per process, made once: a pool made per call (or per thread count, which
    OpenMP may report differently in each of a server's threads) started new threads, each
    with its own malloc arena, and `tinylm serve` grew by 84 MB under a small load. A forked
    child (a DataLoader worker) inherits a pool whose threads did not survive the fork, so it
    makes its own."""
    global _pool
    if _pool is None or _pool[0] != os.getpid():
        _pool = (os.getpid(), ThreadPoolExecutor(os.cpu_count() or 1, "tinylm-attention"))
    return _pool[1]


def _run_split(function: Callable[..., int], args: tuple, tasks: int) -> None:
    """Call `function(*args, begin, end)` over [0, tasks) in torch.get_num_threads() parts in
    parallel, the first on this thread: ctypes lets go of the GIL during the call."""
    parts = max(1, min(torch.get_num_threads(), tasks))
    bounds = [tasks * n // parts for n in range(parts + 1)]
    others = [_helpers().submit(function, *args, *pair) for pair in itertools.pairwise(bounds[1:])]
    codes = [function(*args, bounds[0], bounds[1]), *(other.result() for other in others)]
    for code in codes:
        if code == -1:
            raise MemoryError("small-head attention kernel: out of memory")
        if code != 0:
            raise RuntimeError(f"small-head attention kernel failed with code {code}")


def _check_layout(*tensors: torch.Tensor) -> None:
    """The kernel reads raw pointers: anything but contiguous fp32 CPU memory would be read
    wrongly, not refused."""
    for t in tensors:
        if t.device.type != "cpu" or t.dtype != torch.float32 or not t.is_contiguous():
            raise ValueError(
                f"small-head attention wants contiguous fp32 CPU tensors, got {t.dtype} "
                f"on {t.device} (contiguous: {t.is_contiguous()})"
            )
    q, k, v = tensors[:3]
    shapes_fit = (
        q.dim() == 4
        and k.shape == v.shape
        and (q.shape[0], *q.shape[2:]) == (k.shape[0], *k.shape[2:])
        and q.shape[1] % k.shape[1] == 0
        and q.shape[-1] in HEAD_DIMS
    )
    if not shapes_fit:
        raise ValueError(
            f"small-head attention: q {list(q.shape)} and k/v {list(k.shape)} "
            f"are not [B, H, T, D] / [B, KV, T, D] with D in {HEAD_DIMS}"
        )


def attention_forward(
    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """The kernel's forward pass: o [B, H, T, D] and the log-sum-exp of each score row
    [B, H, T], which the backward pass needs."""
    _check_layout(q, k, v)
    B, H, T, D = q.shape
    o = torch.empty_like(q)
    lse = torch.empty(B, H, T, dtype=torch.float32)
    lib = _library()
    assert lib is not None
    args = (q.data_ptr(), k.data_ptr(), v.data_ptr(), o.data_ptr(), lse.data_ptr())
    dims = (D, H, k.shape[1], T, D**-0.5)
    _run_split(lib.tinylm_attention_forward, (*args, *dims), B * H)
    return o, lse


def attention_backward(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    o: torch.Tensor,
    grad_o: torch.Tensor,
    lse: torch.Tensor,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    _check_layout(q, k, v, o, grad_o, lse)
    B, H, T, D = q.shape
    KV = k.shape[1]
    dq, dk, dv = torch.empty_like(q), torch.empty_like(k), torch.empty_like(v)
    lib = _library()
    assert lib is not None
    args = (q, k, v, o, grad_o, lse, dq, dk, dv)
    _run_split(
        lib.tinylm_attention_backward,
        (*(t.data_ptr() for t in args), D, H, KV, T, D**-0.5),
        B * KV,
    )
    return dq, dk, dv


class _EagerAttention(torch.autograd.Function):
    """The kernel in eager mode. The custom op below does the same, but its first call
    imports torch._dynamo: over a second and 70 MB, which `tinylm generate` and `tinylm serve`
    would pay for nothing (serve's memory test caught it)."""

    @staticmethod
    def forward(  # type: ignore[override]
        ctx: torch.autograd.function.FunctionCtx,
        q: torch.Tensor,
        k: torch.Tensor,
        v: torch.Tensor,
    ) -> torch.Tensor:
        o, lse = attention_forward(q, k, v)
        ctx.save_for_backward(q, k, v, o, lse)
        return o

    @staticmethod
    def backward(  # type: ignore[override]
        ctx: torch.autograd.function.FunctionCtx, grad_o: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        q, k, v, o, lse = ctx.saved_tensors  # type: ignore[attr-defined]
        return attention_backward(q, k, v, o, grad_o.contiguous(), lse)


# The same two functions as torch.library custom ops, for torch.compile: one opaque call each
# in the compiled graph, with fake-tensor shapes and the autograd formula registered.
_forward = torch.library.custom_op("tinylm::small_head_attention", mutates_args=())(
    attention_forward
)
_backward = torch.library.custom_op("tinylm::small_head_attention_backward", mutates_args=())(
    attention_backward
)


@_forward.register_fake
def _(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    return torch.empty_like(q), q.new_empty(q.shape[:3])


@_backward.register_fake
def _(
    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, *_rest: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    return torch.empty_like(q), torch.empty_like(k), torch.empty_like(v)


def _setup_context(ctx: torch.autograd.function.FunctionCtx, inputs: tuple, output: tuple) -> None:
    ctx.save_for_backward(*inputs, *output)


def _grad(
    ctx: torch.autograd.function.FunctionCtx, grad_o: torch.Tensor, _grad_lse: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    q, k, v, o, lse = ctx.saved_tensors  # type: ignore[attr-defined]
    return _backward(q, k, v, o, grad_o.contiguous(), lse)


_forward.register_autograd(_grad, setup_context=_setup_context)


def causal_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """q [B, H, T, D], k and v [B, KV, T, D] with KV dividing H -> [B, H, T, D] in q's dtype;
    query i sees keys 0..i, scaled by 1/sqrt(D), as SDPA's is_causal with enable_gqa."""
    dtype = q.dtype
    q, k, v = (t.float().contiguous() for t in (q, k, v))
    if torch.compiler.is_compiling():
        o, _ = _forward(q, k, v)
    else:
        o = _EagerAttention.apply(q, k, v)
    return o.to(dtype)
