"""Safetensors checkpoints: model weights, and the optimizer/RNG state needed to resume.

Nothing here unpickles: weights and optimizer moments are tensors in safetensors files, and the
rest of the trainer state is JSON in the safetensors metadata. Every file is written to a temp
name, fsynced and renamed, so a crash leaves the previous file intact.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file
from torch import nn

from tinylm.errors import TinylmError
from tinylm.fileio import fsync_replace, temp_path_beside

MODEL_FILE = "model.safetensors"
TRAINER_STATE_FILE = "trainer_state.safetensors"


def model_tensors(model: nn.Module) -> dict[str, torch.Tensor]:
    """State dict without tied duplicates (safetensors refuses shared storage; HF omits
    lm_head.weight for tied models too)."""
    state = model.state_dict()
    tied = getattr(getattr(model, "config", None), "tie_embeddings", False)
    if tied:
        state.pop("lm_head.weight", None)
    return {k: v.detach().contiguous().cpu() for k, v in state.items()}


def save_tensors(
    path: str | Path, tensors: dict[str, torch.Tensor], metadata: dict[str, str]
) -> None:
    path = Path(path)
    tmp = temp_path_beside(path)
    try:
        save_file(tensors, str(tmp), metadata=metadata)
        fsync_replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _model_arch(model: nn.Module) -> str | None:
    return getattr(getattr(model, "config", None), "arch", None)


def save_model(path: str | Path, model: nn.Module, metadata: dict[str, str] | None = None) -> None:
    # The family travels with the weights, so another family's run can name the mismatch.
    arch = {"arch": _model_arch(model)} if _model_arch(model) else {}
    save_tensors(path, model_tensors(model), {"format": "pt", **arch, **(metadata or {})})


def read_tensors(path: str | Path) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    path = Path(path)
    if not path.is_file():
        raise TinylmError(f"checkpoint not found: {path}")
    try:
        with safe_open(str(path), framework="pt") as f:
            metadata = f.metadata() or {}
            tensors = {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118 (safe_open is not a dict)
    except (SafetensorError, OSError, ValueError) as exc:
        raise TinylmError(
            f"{path} is not a readable safetensors file ({exc}); it may be truncated or from "
            "another tool"
        ) from None
    return tensors, metadata


def load_model_weights(path: str | Path, model: nn.Module) -> dict[str, str]:
    """Load weights into `model`, refusing a checkpoint of another shape with one clear line."""
    tensors, metadata = read_tensors(path)
    saved_arch, arch = metadata.get("arch"), _model_arch(model)
    if saved_arch and arch and saved_arch != arch:
        raise TinylmError(
            f"{path} holds weights of arch {saved_arch} but the config is for {arch}; "
            "the checkpoint belongs to another run"
        )
    expected = model.state_dict()
    tied = getattr(getattr(model, "config", None), "tie_embeddings", False)
    if tied:
        expected = {k: v for k, v in expected.items() if k != "lm_head.weight"}
        tensors.pop("lm_head.weight", None)
    missing = sorted(set(expected) - set(tensors))
    unexpected = sorted(set(tensors) - set(expected))
    if missing or unexpected:
        detail = f"missing {missing[0]}" if missing else f"unexpected {unexpected[0]}"
        raise TinylmError(
            f"{path} does not fit this model ({detail}, {len(missing)} missing, "
            f"{len(unexpected)} unexpected tensors); it comes from another architecture or config"
        )
    for name, tensor in tensors.items():
        if tuple(tensor.shape) != tuple(expected[name].shape):
            raise TinylmError(
                f"{path} does not fit this model: {name} has shape {tuple(tensor.shape)}, "
                f"the config needs {tuple(expected[name].shape)}"
            )
    model.load_state_dict(tensors, strict=False)
    return metadata


def optimizer_tensors(optimizer: torch.optim.Optimizer) -> tuple[dict[str, torch.Tensor], str]:
    """Flatten `optimizer.state_dict()` into named tensors plus JSON for the param groups."""
    state = optimizer.state_dict()
    tensors: dict[str, torch.Tensor] = {}
    scalars: dict[str, dict[str, Any]] = {}
    for index, entry in state["state"].items():
        for key, value in entry.items():
            if isinstance(value, torch.Tensor):
                tensors[f"optim.{index}.{key}"] = value.detach().contiguous().cpu()
            else:
                scalars.setdefault(str(index), {})[key] = value
    return tensors, json.dumps({"param_groups": state["param_groups"], "scalars": scalars})


def restore_optimizer(
    optimizer: torch.optim.Optimizer, tensors: dict[str, torch.Tensor], groups_json: str
) -> None:
    info = json.loads(groups_json)
    state: dict[int, dict[str, Any]] = {}
    for name, tensor in tensors.items():
        if not name.startswith("optim."):
            continue
        _, index, key = name.split(".", 2)
        state.setdefault(int(index), {})[key] = tensor
    for index, values in info["scalars"].items():
        state.setdefault(int(index), {}).update(values)
    optimizer.load_state_dict({"state": state, "param_groups": info["param_groups"]})
