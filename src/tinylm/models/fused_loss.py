"""Cross-entropy of a linear output layer without the [N, V] logits tensor (the "fused linear
cross-entropy" of Liger-Kernel, in plain PyTorch).

The forward pass walks the rows in chunks: logits of one chunk, its log-sum-exp and loss, and
right away its gradients (softmax - one-hot) with respect to the hidden states and the output
weight. Backward only scales the stored gradients. On a CPU with a 32k vocabulary this halves
the time of the output layer plus loss (measured at 8192 x 288 -> 32000, bf16: 4.5 s -> 2.2 s),
because the full logits never go through memory several times and no GB-sized buffer is
allocated each step. Used for training on the CPU; on CUDA, where memory bandwidth is plentiful
and torch.compile fuses the plain loss, the plain path stays.
"""

from __future__ import annotations

import torch

# Rows per chunk: about 8M logits (32 MB in fp32) at any vocabulary size.
CHUNK_LOGITS = 1 << 23
IGNORE_INDEX = -100


class _LinearCrossEntropy(torch.autograd.Function):
    @staticmethod
    def forward(  # type: ignore[override]
        ctx: torch.autograd.function.FunctionCtx,
        x: torch.Tensor,  # [N, D]
        weight: torch.Tensor,  # [V, D]
        targets: torch.Tensor,  # [N], IGNORE_INDEX entries ignored
        compute_dtype: torch.dtype,
    ) -> torch.Tensor:
        n, vocab = x.shape[0], weight.shape[0]
        rows = max(64, CHUNK_LOGITS // vocab)
        xc, wc = x.to(compute_dtype), weight.to(compute_dtype)
        valid = targets != IGNORE_INDEX
        scale = 1.0 / valid.sum().float()  # mean over real targets (inf, then NaN, if none)
        safe = targets.clamp(min=0)
        grad_x = torch.empty(x.shape, dtype=x.dtype, device=x.device)
        grad_w = torch.zeros(weight.shape, dtype=torch.float32, device=x.device)
        total = torch.zeros((), dtype=torch.float32, device=x.device)
        for begin in range(0, n, rows):
            end = min(n, begin + rows)
            logits = (xc[begin:end] @ wc.T).float()  # [C, V]
            lse = torch.logsumexp(logits, dim=-1)  # [C]
            target_logit = logits.gather(1, safe[begin:end, None]).squeeze(1)
            keep = valid[begin:end].float()
            total += ((lse - target_logit) * keep).sum()
            # d(loss)/d(logits) = (softmax - one_hot) * keep / count, built in place.
            probs = logits.sub_(lse[:, None]).exp_()
            probs[torch.arange(end - begin, device=x.device), safe[begin:end]] -= 1.0
            grad_logits = probs.mul_((keep * scale)[:, None]).to(compute_dtype)
            grad_x[begin:end] = (grad_logits @ wc).to(x.dtype)
            grad_w += (grad_logits.T @ xc[begin:end]).float()
        ctx.save_for_backward(grad_x, grad_w.to(weight.dtype))
        return total * scale

    @staticmethod
    def backward(  # type: ignore[override]
        ctx: torch.autograd.function.FunctionCtx, grad_loss: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, None, None]:
        grad_x, grad_w = ctx.saved_tensors  # type: ignore[attr-defined]
        return grad_x * grad_loss, grad_w * grad_loss, None, None


def linear_cross_entropy(
    x: torch.Tensor, weight: torch.Tensor, targets: torch.Tensor
) -> torch.Tensor:
    """Mean cross-entropy of `x @ weight.T` against `targets`: x [..., D], weight [V, D],
    targets [...]. Matmuls run in the autocast dtype when autocast is on, softmax in fp32."""
    device = x.device.type
    dtype = torch.get_autocast_dtype(device) if torch.is_autocast_enabled(device) else x.dtype
    with torch.autocast(device, enabled=False):
        return _LinearCrossEntropy.apply(
            x.reshape(-1, x.shape[-1]), weight, targets.reshape(-1), dtype
        )
