"""What a LoRA fine-tune adapts (`tinylm.lora` does it): the rank, scale and layers, parsed
and checked without torch, so configs and --help stay light; and PEFT's adapter_config.json."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tinylm.errors import TinylmError, did_you_mean

# short name -> the Llama module it adapts (HF's names); all by default, as QLoRA found best
TARGET_MODULES = {
    "q": "q_proj",
    "k": "k_proj",
    "v": "v_proj",
    "o": "o_proj",
    "gate": "gate_proj",
    "up": "up_proj",
    "down": "down_proj",
}
DEFAULT_TARGETS = "q,k,v,o,gate,up,down"
ADAPTER_FILE = "adapter_model.safetensors"
ADAPTER_CONFIG = "adapter_config.json"
PEFT_PREFIX = "base_model.model."


@dataclass(frozen=True)
class LoraSpec:
    rank: int
    alpha: float
    targets: tuple[str, ...]  # module names, e.g. ("q_proj", "v_proj")
    dropout: float = 0.0

    @property
    def scale(self) -> float:
        return self.alpha / self.rank


def parse_targets(text: str) -> tuple[str, ...]:
    """'q,v' or 'q_proj,v_proj' -> ('q_proj', 'v_proj'); an unknown name is one line listing
    the ones a Llama has."""
    names = []
    for raw in str(text).split(","):
        name = raw.strip()
        if not name:
            continue
        module = TARGET_MODULES.get(name, name)
        if module not in TARGET_MODULES.values():
            known = [*TARGET_MODULES, *TARGET_MODULES.values()]
            raise TinylmError(
                f"--lora-targets: the model has no '{name}' layer{did_you_mean(name, known)}; "
                f"choose from {', '.join(TARGET_MODULES)} (or their _proj names)"
            )
        if module not in names:
            names.append(module)
    if not names:
        raise TinylmError(f"--lora-targets is empty; e.g. {DEFAULT_TARGETS}")
    return tuple(names)


def adapter_config(spec: LoraSpec, base_model: str) -> dict[str, Any]:
    """PEFT's adapter_config.json for these adapters (LoraConfig's fields)."""
    return {
        "peft_type": "LORA",
        "task_type": "CAUSAL_LM",
        "base_model_name_or_path": base_model,
        "r": spec.rank,
        "lora_alpha": spec.alpha,
        "lora_dropout": spec.dropout,
        "target_modules": list(spec.targets),
        "bias": "none",
        "fan_in_fan_out": False,
        "inference_mode": True,
        "init_lora_weights": True,
        "modules_to_save": None,
        "use_rslora": False,
        "use_dora": False,
    }


def spec_from(train: Any) -> LoraSpec | None:
    """The LoRA of a TrainConfig (or a config.json train table), None for full training."""
    get = train.get if isinstance(train, dict) else lambda k, d=None: getattr(train, k, d)
    rank = get("lora_rank")
    if not rank:
        return None
    alpha = get("lora_alpha")
    return LoraSpec(
        rank=int(rank),
        alpha=float(alpha if alpha is not None else 2 * rank),
        targets=parse_targets(get("lora_targets") or DEFAULT_TARGETS),
        dropout=float(get("lora_dropout") or 0.0),
    )
