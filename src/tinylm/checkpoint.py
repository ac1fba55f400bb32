"""Safetensors checkpoints: model weights, and the optimizer/RNG state needed to resume.

Nothing here unpickles: weights and optimizer moments are tensors in safetensors files, and the
rest of the trainer state is JSON in the safetensors metadata. Every file is written to a temp
name, fsynced and renamed, so a crash leaves the previous file intact.
"""

from __future__ import annotations

import errno
import json
import os
import re
import shutil
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file
from torch import nn

from tinylm.errors import TinylmError
from tinylm.fileio import (
    atomic_copy,
    atomic_write_json,
    check_free_space,
    fsync_dir,
    fsync_replace,
    sha256_file,
    temp_path_beside,
)

MODEL_FILE = "model.safetensors"
TRAINER_STATE_FILE = "trainer_state.safetensors"
MANIFEST_FILE = "manifest.json"


def model_tensors(state: dict[str, torch.Tensor], tied: bool) -> dict[str, torch.Tensor]:
    """A state dict ready for safetensors: no tied duplicate (safetensors refuses shared storage;
    HF omits lm_head.weight for tied models too), contiguous CPU tensors."""
    return {
        k: v.detach().contiguous().cpu()
        for k, v in state.items()
        if not (tied and k == "lm_head.weight")
    }


def save_tensors(
    path: str | Path, tensors: dict[str, torch.Tensor], metadata: dict[str, str]
) -> None:
    path = Path(path)
    tmp = temp_path_beside(path)
    try:
        mode = tmp.stat().st_mode  # save_file recreates the file as 0600; keep the usual mode
        try:
            save_file(tensors, str(tmp), metadata=metadata)
        except SafetensorError as exc:
            # The Rust writer reports a full disk as its own error type; callers deal in OSError.
            found = re.search(r"os error (\d+)", str(exc))
            code = int(found.group(1)) if found else errno.EIO
            raise OSError(code, os.strerror(code), str(tmp)) from exc
        tmp.chmod(mode)
        fsync_replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _model_arch(model: nn.Module) -> str | None:
    return getattr(getattr(model, "config", None), "arch", None)


def save_model(path: str | Path, model: nn.Module, metadata: dict[str, str] | None = None) -> None:
    tied = getattr(getattr(model, "config", None), "tie_embeddings", False)
    tensors = model_tensors(model.state_dict(), tied)
    # The family travels with the weights, so another family's run can name the mismatch.
    arch = {"arch": _model_arch(model)} if _model_arch(model) else {}
    save_tensors(path, tensors, {"format": "pt", **arch, **(metadata or {})})


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


def check_model_tensors(
    path: str | Path,
    tensors: dict[str, torch.Tensor],
    expected: dict[str, torch.Tensor],
    tied: bool,
    why: str = "it comes from another architecture or config",
) -> None:
    """Refuse, in one clear line, weights whose names or shapes do not fit the model (`why`:
    the likely reason, for the message)."""
    if tied:
        expected = {k: v for k, v in expected.items() if k != "lm_head.weight"}
        tensors = {k: v for k, v in tensors.items() if k != "lm_head.weight"}
    missing = sorted(set(expected) - set(tensors))
    unexpected = sorted(set(tensors) - set(expected))
    if missing or unexpected:
        detail = f"missing {missing[0]}" if missing else f"unexpected {unexpected[0]}"
        raise TinylmError(
            f"{path} does not fit this model ({detail}, {len(missing)} missing, "
            f"{len(unexpected)} unexpected tensors); {why}"
        )
    for name, tensor in tensors.items():
        if tuple(tensor.shape) != tuple(expected[name].shape):
            raise TinylmError(
                f"{path} does not fit this model: {name} has shape {tuple(tensor.shape)}, "
                f"the config needs {tuple(expected[name].shape)}; {why}"
            )


def load_model_weights(path: str | Path, model: nn.Module) -> dict[str, str]:
    """Load weights into `model`, refusing a checkpoint of another shape with one clear line."""
    tensors, metadata = read_tensors(path)
    saved_arch, arch = metadata.get("arch"), _model_arch(model)
    if saved_arch and arch and saved_arch != arch:
        raise TinylmError(
            f"{path} holds weights of arch {saved_arch} but the config is for {arch}; "
            "the checkpoint belongs to another run"
        )
    tied = getattr(getattr(model, "config", None), "tie_embeddings", False)
    check_model_tensors(path, tensors, model.state_dict(), tied)
    if tied:
        tensors.pop("lm_head.weight", None)
    model.load_state_dict(tensors, strict=False)
    return metadata


def optimizer_tensors(optim_state: dict[str, Any]) -> tuple[dict[str, torch.Tensor], str]:
    """Flatten a parameter-name keyed optimizer state dict (torch.distributed.checkpoint's full
    form, the same for 1 or N processes) into tensors plus JSON for the param groups."""
    tensors: dict[str, torch.Tensor] = {}
    scalars: dict[str, dict[str, Any]] = {}
    for name, entry in optim_state["state"].items():
        for key, value in entry.items():
            if isinstance(value, torch.Tensor):
                tensors[f"optim.{name}.{key}"] = value.detach().contiguous().cpu()
            else:
                scalars.setdefault(name, {})[key] = value
    return tensors, json.dumps({"param_groups": optim_state["param_groups"], "scalars": scalars})


def optimizer_state_from(tensors: dict[str, torch.Tensor], groups_json: str) -> dict[str, Any]:
    info = json.loads(groups_json)
    state: dict[str, dict[str, Any]] = {}
    for name, tensor in tensors.items():
        if name.startswith("optim."):
            param, key = name[len("optim.") :].rsplit(".", 1)
            state.setdefault(param, {})[key] = tensor
    for param, values in info["scalars"].items():
        state.setdefault(param, {}).update(values)
    return {"state": state, "param_groups": info["param_groups"]}


def write_manifest(checkpoint_dir: Path, step: int) -> None:
    """Sizes and sha256 of every file, written last: a checkpoint whose files do not match its
    manifest (a torn write, bit rot, a copy cut short) is never resumed from."""
    files = {}
    for name in (MODEL_FILE, TRAINER_STATE_FILE):
        path = checkpoint_dir / name
        files[name] = {"bytes": path.stat().st_size, "sha256": sha256_file(path)}
    atomic_write_json(checkpoint_dir / MANIFEST_FILE, {"step": step, "files": files})


def checkpoint_problem(checkpoint_dir: Path) -> str | None:
    """Why this checkpoint cannot be trusted, or None if every file matches its manifest."""
    manifest_path = checkpoint_dir / MANIFEST_FILE
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        files = manifest["files"]
    except (OSError, ValueError, KeyError, TypeError):
        return f"no readable {MANIFEST_FILE}"
    for name, expected in files.items():
        path = checkpoint_dir / name
        if not path.is_file():
            return f"{name} is missing"
        if path.stat().st_size != expected.get("bytes"):
            return (
                f"{name} has {path.stat().st_size} bytes, the manifest says {expected.get('bytes')}"
            )
        if sha256_file(path) != expected.get("sha256"):
            return f"{name} does not match its sha256 in the manifest"
    return None


# -- checkpoint folders: RUN/checkpoints/step-N/ ----------------------------------------------

CHECKPOINTS_DIR = "checkpoints"


def checkpoint_dirs(run_dir: Path) -> list[Path]:
    """Complete checkpoint folders of a run, newest first (temp folders of a save cut short are
    not among them)."""
    root = run_dir / CHECKPOINTS_DIR
    if not root.is_dir():
        return []
    done = [p for p in root.glob("step-*") if p.is_dir() and not p.name.endswith(".tmp")]
    return sorted(done, reverse=True)


def resumable_checkpoint(run_dir: Path) -> tuple[Path | None, list[str]]:
    """The newest checkpoint whose files match their manifest, and notes on any skipped."""
    notes = []
    candidates = checkpoint_dirs(run_dir)
    for path in candidates:
        problem = checkpoint_problem(path)
        if problem is None:
            return path, notes
        notes.append(f"checkpoint {path.name} is damaged ({problem}); skipped")
    if candidates:
        raise TinylmError(
            f"no intact checkpoint in {run_dir / CHECKPOINTS_DIR} ({notes[0]}); "
            "the run cannot be resumed, start a new one"
        )
    return None, notes


def write_checkpoint(
    run_dir: Path,
    step: int,
    arch: str,
    tied: bool,
    model_state: dict[str, torch.Tensor],
    optim_state: dict[str, Any],
    extra: dict[str, torch.Tensor],
    trainer_json: str,
    keep: int,
    run_weights: dict[str, torch.Tensor] | None = None,
) -> Path:
    """checkpoints/step-N/ (weights; optimizer state, `extra` tensors such as RNG states and the
    trainer's JSON; a manifest) under a temp name, renamed into place whole, then the run's own
    model.safetensors refreshed from it (a copy; or `run_weights`, when the run's model is not
    the checkpoint's, as a LoRA run's merged weights) and older checkpoints beyond `keep`
    dropped. A full disk is one line naming the checkpoint that is intact."""
    root = run_dir / CHECKPOINTS_DIR
    final = root / f"step-{step:08d}"
    tmp = root / f".{final.name}.tmp"
    try:
        root.mkdir(parents=True, exist_ok=True)
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir()
        meta = {"step": str(step), "tinylm": "checkpoint", "arch": arch}
        save_tensors(tmp / MODEL_FILE, model_tensors(model_state, tied), {"format": "pt", **meta})
        tensors, groups = optimizer_tensors(optim_state)
        tensors.update(extra)
        save_tensors(
            tmp / TRAINER_STATE_FILE,
            tensors,
            {"optimizer": groups, "trainer": trainer_json, **meta},
        )
        write_manifest(tmp, step)
        fsync_dir(tmp)
        if final.exists():
            shutil.rmtree(final)
        os.replace(tmp, final)  # the moment the checkpoint exists, whole
        fsync_dir(root)
        # The run's own weights are a file of their own, not a link into the checkpoint: a
        # user who replaces model.safetensors must not damage the checkpoint with it.
        if run_weights is None:
            atomic_copy(final / MODEL_FILE, run_dir / MODEL_FILE)
        else:
            save_tensors(run_dir / MODEL_FILE, model_tensors(run_weights, tied), {"format": "pt"})
    except OSError as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        previous = next((p.name for p in checkpoint_dirs(run_dir) if p != final), None)
        kept = f"the previous checkpoint {previous} is intact" if previous else "none saved yet"
        raise TinylmError(
            f"could not save checkpoint step {step} in {root} "
            f"({exc.strerror or exc}); {kept}; free space and continue with --resume"
        ) from None
    older = [p for p in checkpoint_dirs(run_dir) if p != final]
    for old in older[keep - 1 :]:
        shutil.rmtree(old, ignore_errors=True)
    return final


def read_checkpoint(
    path: Path, expected: dict[str, torch.Tensor], tied: bool
) -> tuple[dict[str, torch.Tensor], dict[str, Any], dict[str, torch.Tensor], dict[str, Any]]:
    """A checkpoint folder's (weights, optimizer state, other tensors, trainer JSON); weights
    of another model (`expected`: the state dict it must fit) are refused in one line."""
    weights, _ = read_tensors(path / MODEL_FILE)
    check_model_tensors(path / MODEL_FILE, weights, expected, tied)
    tensors, meta = read_tensors(path / TRAINER_STATE_FILE)
    try:
        optim_state = optimizer_state_from(tensors, meta["optimizer"])
        state = json.loads(meta["trainer"])
    except (KeyError, ValueError) as exc:
        raise TinylmError(f"{path} holds a damaged trainer state ({exc}); cannot resume") from None
    return weights, optim_state, tensors, state


def check_checkpoint_room(run_dir: Path, parameters: int, keep: int) -> None:
    """Refuse to start a run that could not save: an unwritable folder or too little space."""
    probe = run_dir / ".tinylm-write-test"
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
        probe.write_bytes(b"\0" * 4096)
        probe.unlink()
    except OSError as exc:
        raise TinylmError(
            f"cannot write to --out {run_dir} ({exc.strerror or exc}); choose a writable folder"
        ) from None
    # weights + two AdamW moments in fp32; while saving, one more checkpoint than kept; and the
    # run's own copy of the weights
    per_checkpoint = parameters * 4 * 3 + (1 << 20)
    footprint = per_checkpoint * (keep + 1) + parameters * 4
    existing = sum(f.stat().st_size for d in checkpoint_dirs(run_dir) for f in d.iterdir())
    need = max(per_checkpoint, footprint - existing)
    what = f"saving ({keep + 1} checkpoints of {per_checkpoint / 1e6:,.0f} MB)"
    check_free_space(run_dir, need, what)
