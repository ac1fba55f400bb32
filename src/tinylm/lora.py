"""LoRA (Hu et al. 2021): fine-tune a large imported model by training low-rank adapters only.

Each targeted nn.Linear W [out, in] keeps its weight frozen and gains A [r, in] and B [out, r]
(B starts at zero, so step 0 is the base model): y = x W^T + (alpha / r) * dropout(x) A^T B^T.
Only A and B get gradients and AdamW moments, which is where the memory goes on a 135M+ model.

Names follow PEFT's, so the adapters load in `peft` as written: the modules stay where they
were (`...self_attn.q_proj`), the base weight is `q_proj.weight` as before, and the adapters
are `q_proj.lora_A.weight` / `q_proj.lora_B.weight`. PEFT's adapter file prefixes every key
with `base_model.model.`; `adapter_state` writes that form with an `adapter_config.json`.

The run folder of a LoRA fine-tune keeps the merged weights (W + alpha/r * B A) in its
model.safetensors, so it is an ordinary run for generate, eval, serve, the GUI and export; the
checkpoints hold base + adapters for an exact --resume, and adapter_model.safetensors +
adapter_config.json hold the adapters alone."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from tinylm.errors import TinylmError
from tinylm.lora_spec import PEFT_PREFIX, LoraSpec


class LoraLinear(nn.Linear):
    """An nn.Linear whose weight is frozen, plus a trainable low-rank update."""

    def __init__(self, base: nn.Linear, spec: LoraSpec) -> None:
        nn.Module.__init__(self)
        self.in_features, self.out_features = base.in_features, base.out_features
        self.weight = base.weight
        self.weight.requires_grad_(False)
        self.bias = base.bias
        if self.bias is not None:
            self.bias.requires_grad_(False)
        device, dtype = base.weight.device, base.weight.dtype
        self.lora_A = nn.Linear(base.in_features, spec.rank, bias=False, device=device, dtype=dtype)
        self.lora_B = nn.Linear(
            spec.rank, base.out_features, bias=False, device=device, dtype=dtype
        )
        # PEFT's initialisation: A like nn.Linear's default (Kaiming uniform), B zero
        if device.type != "meta":
            nn.init.kaiming_uniform_(self.lora_A.weight, a=math.sqrt(5))
            nn.init.zeros_(self.lora_B.weight)
        self.scale = spec.scale
        self.dropout = nn.Dropout(spec.dropout) if spec.dropout > 0 else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, self.weight, self.bias) + self.lora_B(self.lora_A(self.dropout(x))) * (
            self.scale
        )


def apply_lora(model: nn.Module, spec: LoraSpec) -> int:
    """Freeze every parameter of `model` and put adapters on the targeted linears, in place;
    returns the number of trainable parameters."""
    if model.config.arch != "llama":
        raise TinylmError(
            f"LoRA adapts Llama models (q/k/v/o and MLP projections); this run is "
            f"'{model.config.arch}': fine-tune it without --lora-rank"
        )
    for p in model.parameters():
        p.requires_grad_(False)
    replaced = 0
    for holder in list(model.modules()):
        for name, child in list(holder.named_children()):
            if name in spec.targets and type(child) is nn.Linear:
                setattr(holder, name, LoraLinear(child, spec))
                replaced += 1
    if not replaced:
        raise TinylmError(f"--lora-targets {','.join(spec.targets)} matched no layer")
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def is_adapter_key(name: str) -> bool:
    return ".lora_A." in name or ".lora_B." in name


def merged_state(state: dict[str, torch.Tensor], spec: LoraSpec) -> dict[str, torch.Tensor]:
    """A base + adapters state dict as the plain model's: W + alpha/r * B @ A per adapted layer
    (in fp32, then the weight's dtype), adapter tensors dropped."""
    out = {k: v for k, v in state.items() if not is_adapter_key(k)}
    for key in state:
        if key.endswith(".lora_A.weight"):
            layer = key[: -len(".lora_A.weight")]
            a, b = state[key].float(), state[f"{layer}.lora_B.weight"].float()
            base = state[f"{layer}.weight"]
            out[f"{layer}.weight"] = (base.float() + spec.scale * (b @ a)).to(base.dtype)
    return out


def adapter_state(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The adapters of a state dict under PEFT's key names."""
    return {PEFT_PREFIX + k: v for k, v in state.items() if is_adapter_key(k)}
