"""Causal self-attention for heads of size 8 and 16 on the CPU, through our own kernel.

PyTorch's CPU flash attention is built from GEMMs, and with 8 numbers per head every GEMM has
an inner dimension of 8: on the 260k preset (llama2.c's stories260K) attention was 81 % of a
training step. `small_head_attention.cpp` walks each query row over its keys in SIMD-width
blocks instead: forward + backward of one 260k layer at batch 32 x 512 takes 35 busy ms
against SDPA's 184 in bf16 on a 2-core Zen 5 (`benchmarks/attention.py`), and 260k trains at
3.5x transformers.

The kernel is part of tinylm's C++ library (`native`), built on first use. Without a
compiler, `available()` is False and the model keeps using SDPA, after one line on stderr
saying so. Its inputs and outputs are fp32 (exact to float rounding against SDPA in fp32);
bf16 callers pay one conversion of q, k and v, which is small next to the T x T work.

Eager calls go through a plain autograd.Function; under torch.compile the same functions are a
`torch.library` custom op, one opaque call in the graph. Work is (batch, head) pairs, taken one
at a time by as many threads as torch has intra-op threads.
"""

from __future__ import annotations

import torch

from tinylm.models import native

HEAD_DIMS = (8, 16)
WHAT = "small-head attention"


def available() -> bool:
    return native.available()


def usable(q: torch.Tensor, dropout: float) -> bool:
    """Whether `causal_attention` can take this query: CPU, a supported head size, no
    attention dropout, and a kernel that built."""
    return q.device.type == "cpu" and q.shape[-1] in HEAD_DIMS and dropout == 0.0 and available()


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
    lib = native.library()
    assert lib is not None
    args = (q.data_ptr(), k.data_ptr(), v.data_ptr(), o.data_ptr(), lse.data_ptr())
    dims = (D, H, k.shape[1], T, D**-0.5)
    native.run(lib.tinylm_attention_forward, (*args, *dims), B * H, WHAT)
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
    lib = native.library()
    assert lib is not None
    args = (q, k, v, o, grad_o, lse, dq, dk, dv)
    native.run(
        lib.tinylm_attention_backward,
        (*(t.data_ptr() for t in args), D, H, KV, T, D**-0.5),
        B * KV,
        WHAT,
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
