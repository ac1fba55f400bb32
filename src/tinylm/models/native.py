"""tinylm's CPU kernels: one C++ library, built on first use.

Its kernels: attention for heads of size 8 and 16 (`small_head_attention.cpp`), the softmax
cross-entropy of the output layer (`cross_entropy.cpp`), and for quantized runs the int8/int4
matrix product (`quant_matmul.cpp`) and the one-call decoding step (`llama_decode.cpp`). They
are plain C++ with vector extensions (intrinsics for the int8 dot products) and OpenMP (no
PyTorch headers), compiled with the machine's C++ compiler for its own SIMD width (about 5 s)
and cached in `$TINYLM_CACHE/kernels` (default
~/.cache/tinylm). They run on PyTorch's own OpenMP threads, as many as torch.get_num_threads().
Without a compiler, `library()` is None after one line on stderr, and the callers keep
PyTorch's own operators.
"""

from __future__ import annotations

import ctypes
import functools
import hashlib
import os
import platform
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import torch

from tinylm.device import cpu_identity
from tinylm.fileio import fsync_replace, temp_path_beside, tinylm_cache

HERE = Path(__file__).parent
SOURCES = (
    HERE / "small_head_attention.cpp",
    HERE / "cross_entropy.cpp",
    HERE / "quant_matmul.cpp",
    HERE / "llama_decode.cpp",
)
HEADERS = (HERE / "tinylm_simd.h", HERE / "quant_matmul.h")
LIBRARY_NAME = "tinylm_kernels.so"

_ptr, _i64, _f32 = ctypes.c_void_p, ctypes.c_int64, ctypes.c_float
# Every kernel ends with (tasks, threads) but the last, which ends with (n, threads).
SIGNATURES = {
    "tinylm_attention_forward": [_ptr] * 5 + [_i64] * 4 + [_f32, _i64, _i64],
    "tinylm_attention_backward": [_ptr] * 9 + [_i64] * 4 + [_f32, _i64, _i64],
    "tinylm_cross_entropy_rows_bf16": [_ptr] * 4 + [_i64] * 3,
    "tinylm_cross_entropy_rows_f32": [_ptr] * 4 + [_i64] * 3,
    "tinylm_add_bf16_into_f32": [_ptr] * 2 + [_i64] * 2,
    "tinylm_quant_matmul": [_ptr] * 4 + [_i64] * 6,
    "tinylm_llama_decode": [_ptr] * 8 + [_f32] + [_i64] * 3,
}


# -march=native: the machine's SIMD width; without it (SSE2 on x86-64) the attention kernel
# measured slower than SDPA, so a compiler that refuses it means PyTorch's operators. -fopenmp
# links libgomp.so.1, which resolves to the copy PyTorch already loaded (the same soname): one
# OpenMP runtime, one team of threads.
COMPILE_FLAGS = ("-O3", "-march=native", "-fopenmp", "-std=c++17", "-shared", "-fPIC")
# A process held to a lower instruction set (ATEN_CPU_CAPABILITY, what `make test`'s second
# dispatch sets) holds tinylm's kernels to it too, so that run also tests their AVX2 paths (no
# AVX-512, no VNNI: the AMD Zen 2/3 and older Intel a user may have). TINYLM_KERNEL_MARCH
# names any -march directly.
DISPATCH_MARCH = {"avx2": "x86-64-v3", "default": "x86-64-v2"}


def compile_flags() -> tuple[str, ...]:
    march = os.environ.get("TINYLM_KERNEL_MARCH")
    if not march and platform.machine().lower() in ("x86_64", "amd64"):
        march = DISPATCH_MARCH.get(os.environ.get("ATEN_CPU_CAPABILITY", "").lower())
    if not march:
        return COMPILE_FLAGS
    return tuple(f"-march={march}" if f == "-march=native" else f for f in COMPILE_FLAGS)


def compiler_identity(compiler: str) -> str:
    """The compiler's resolved file, size and time: another compiler (or an upgrade) at the
    same name builds another library, without running it on every start."""
    found = shutil.which(compiler)
    if found is None:
        return compiler
    real = Path(found).resolve()
    stat = real.stat()
    return f"{real} {stat.st_size} {stat.st_mtime_ns}"


def build_key(compiler: str, flags: tuple[str, ...], cpu: str) -> str:
    """The cache folder's name: everything the built library depends on (sources, compiler,
    flags, CPU), so a cache shared between machines never hands one CPU another's build."""
    digest = hashlib.sha256()
    for source in (*SOURCES, *HEADERS):
        digest.update(source.read_bytes())
    for part in (compiler_identity(compiler), " ".join(flags), cpu):
        digest.update(b"\0" + part.encode())
    return digest.hexdigest()[:16]


def _compile(compiler: str, target: Path) -> None:
    """Build under a temporary name and rename: concurrent processes (torchrun ranks) never
    load a half-written library."""
    tmp = temp_path_beside(target)
    try:
        command = [compiler, *compile_flags()]
        result = subprocess.run(
            [*command, *map(str, SOURCES), "-o", str(tmp)],
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            lines = (result.stderr or result.stdout).strip().splitlines()
            raise OSError(lines[-1] if lines else f"exit code {result.returncode}")
        fsync_replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


@functools.cache
def library() -> ctypes.CDLL | None:
    compiler = os.environ.get("CXX", "c++")
    if shutil.which(compiler) is None:
        _say(f"no C++ compiler ('{compiler}') found")
        return None
    key = build_key(compiler, compile_flags(), cpu_identity())
    target = tinylm_cache("kernels") / key / LIBRARY_NAME
    try:
        if not target.exists():
            _compile(compiler, target)
    except OSError as err:
        _say(f"building tinylm's kernels ({', '.join(s.name for s in SOURCES)}) failed ({err})")
        return None
    try:
        lib = ctypes.CDLL(str(target))
    except OSError as err:
        _say(f"loading {target} failed ({err}); deleting it builds it again")
        return None
    for name, argtypes in SIGNATURES.items():
        getattr(lib, name).argtypes = argtypes
    return lib


def _say(why: str) -> None:
    print(
        f"tinylm: {why}; CPU training falls back to PyTorch ops (slower) for attention with "
        "head size 8 or 16 and for the output layer's loss, and quantized runs decode by "
        "dequantizing their weights (much slower). Install a C++ compiler with "
        "OpenMP (g++, or clang with libomp) to build tinylm's kernels.",
        file=sys.stderr,
    )


def available() -> bool:
    return library() is not None


# A constant to torch.compile, which would otherwise trace into library() (files, hashing) and
# break the graph there: what torch.compiler.assume_constant_result sets, without the import of
# torch._dynamo that the decorator makes (over a second and 70 MB for `tinylm generate`).
available._dynamo_marked_constant = True  # type: ignore[attr-defined]


# What the kernels' nonzero return codes mean (-1, out of memory, is a MemoryError).
ERRORS = {
    -2: "a head size it was not built for",
    -3: "a target id outside [0, vocab size)",
    -4: "a group size the weight's layout does not allow",
    -5: "a position past the KV cache",
    -6: "a token id outside [0, vocab size)",
}


def run(function: Callable[..., int], args: tuple, tasks: int, what: str) -> None:
    """Call `function(*args, tasks, threads)`: the kernel splits its tasks over torch's intra-op
    thread count (ctypes lets go of the GIL meanwhile). `tasks` may be a size the kernel splits
    itself."""
    code = function(*args, tasks, torch.get_num_threads())
    if code == -1:
        raise MemoryError(f"{what} kernel: out of memory")
    if code != 0:
        raise RuntimeError(f"{what} kernel failed: {ERRORS.get(code, f'code {code}')}")
