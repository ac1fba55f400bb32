"""Optimizers for `tinylm train --optimizer adamw|muon`.

Muon (Jordan et al., 2024) orthogonalises the momentum of each hidden weight matrix with a few
Newton-Schulz iterations, so every direction of the matrix moves at the same rate. It is meant
for the matrices inside the network only: embeddings, the output head and the 1-D gains keep
AdamW, as in the modded-nanoGPT speedruns. `MuonWithAdamW` is one torch Optimizer holding both
kinds of group, so the LR schedule, gradient scaling, clipping and checkpoints (saved by
parameter name through torch.distributed.checkpoint) treat it like AdamW. The Muon update is
scaled to AdamW's update RMS (Moonshot's `match_rms_adamw`, also torch.optim.Muon's option), so
both groups share one learning rate and schedule.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import torch
from torch import nn

from tinylm.models import family_of

# Keller Jordan's quintic coefficients: converge fast, not exactly to 1 (fine for an update).
NS_COEFFICIENTS = (3.4445, -4.7750, 2.0315)
NS_STEPS = 5


def orthogonalise(g: torch.Tensor, eps: float = 1e-7) -> torch.Tensor:
    """The nearest semi-orthogonal matrix to g [m, n] (approximately U V^T of its SVD), by
    Newton-Schulz iterations in bf16."""
    a, b, c = NS_COEFFICIENTS
    x = g.bfloat16()
    tall = x.size(0) > x.size(1)
    if tall:
        x = x.T  # iterate on the wide side: the [m, m] products are the smaller ones
    x = x / (x.norm() + eps)
    for _ in range(NS_STEPS):
        xxt = x @ x.T
        x = a * x + (b * xxt + c * xxt @ xxt) @ x
    return (x.T if tall else x).to(g.dtype)


def muon_parameters(model: nn.Module) -> tuple[list[nn.Parameter], list[nn.Parameter]]:
    """(hidden matrices for Muon, everything else for AdamW). Embeddings and output heads are
    lookup tables / classifiers, not transforms of the hidden state: AdamW. named_parameters
    lists a tied lm_head once, under the embedding's name."""
    hidden = family_of(model).hidden_matrices(model)
    chosen = {id(p) for p in hidden}
    other = [p for p in model.parameters() if p.requires_grad and id(p) not in chosen]
    return hidden, other


class MuonWithAdamW(torch.optim.Optimizer):
    """Muon for groups with `muon=True`, AdamW for the others; lr/weight_decay per group."""

    def __init__(
        self,
        groups: Iterable[dict],
        lr: float,
        betas: tuple[float, float] = (0.9, 0.95),
        eps: float = 1e-8,
        momentum: float = 0.95,
    ) -> None:
        defaults = dict(lr=lr, betas=betas, eps=eps, momentum=momentum, weight_decay=0.0,
                        muon=False)  # fmt: skip
        super().__init__(list(groups), defaults)

    @torch.no_grad()
    def step(self, closure=None):  # type: ignore[override]
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            lr, wd = group["lr"], group["weight_decay"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                state = self.state[p]
                if group["muon"]:
                    self._muon(p, state, lr, wd, group["momentum"])
                else:
                    self._adamw(p, state, lr, wd, group["betas"], group["eps"])
        return loss

    @staticmethod
    def _muon(p: torch.Tensor, state: dict, lr: float, wd: float, momentum: float) -> None:
        grad = p.grad
        if "momentum_buffer" not in state:
            state["momentum_buffer"] = torch.zeros_like(p)
        buf = state["momentum_buffer"]
        buf.lerp_(grad, 1 - momentum)
        update = orthogonalise(grad.lerp(buf, momentum))  # Nesterov
        # An orthogonal [m, n] update has RMS 1/sqrt(max(m, n)); 0.2 * sqrt(max) brings it to
        # AdamW's typical 0.2, so AdamW's learning rate carries over.
        scale = 0.2 * math.sqrt(max(p.shape))
        p.mul_(1 - lr * wd)
        p.add_(update, alpha=-lr * scale)

    @staticmethod
    def _adamw(
        p: torch.Tensor,
        state: dict,
        lr: float,
        wd: float,
        betas: tuple[float, float],
        eps: float,
    ) -> None:
        grad = p.grad
        if "step" not in state:
            state["step"] = torch.zeros((), dtype=torch.float32)
            state["exp_avg"] = torch.zeros_like(p)
            state["exp_avg_sq"] = torch.zeros_like(p)
        state["step"] += 1
        step = float(state["step"])
        beta1, beta2 = betas
        state["exp_avg"].lerp_(grad, 1 - beta1)
        state["exp_avg_sq"].mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
        denom = (state["exp_avg_sq"] / (1 - beta2**step)).sqrt_().add_(eps)
        p.mul_(1 - lr * wd)
        p.addcdiv_(state["exp_avg"], denom, value=-lr / (1 - beta1**step))


def _decay_groups(params: list[nn.Parameter], weight_decay: float) -> list[dict]:
    """Weight decay on matrices and embeddings only; norms' gains stay free (nanoGPT /
    llama2.c)."""
    return [
        {"params": [p for p in params if p.dim() >= 2], "weight_decay": weight_decay},
        {"params": [p for p in params if p.dim() < 2], "weight_decay": 0.0},
    ]


def make_optimizer(
    model: nn.Module, name: str, lr: float, weight_decay: float, betas: tuple[float, float]
) -> torch.optim.Optimizer:
    """AdamW (fused where supported) or Muon + AdamW."""
    if name == "muon":
        hidden, other = muon_parameters(model)
        groups = [
            {"params": hidden, "weight_decay": weight_decay, "muon": True},
            *_decay_groups(other, weight_decay),
        ]
        return MuonWithAdamW([g for g in groups if g["params"]], lr=lr, betas=betas)
    groups = _decay_groups([p for p in model.parameters() if p.requires_grad], weight_decay)
    kwargs = dict(lr=lr, betas=betas, eps=1e-8)
    try:
        return torch.optim.AdamW(groups, fused=True, **kwargs)
    except (RuntimeError, TypeError):
        return torch.optim.AdamW(groups, **kwargs)
