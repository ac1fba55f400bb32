"""A training run's checkpoints as one component (torchtitan's checkpointer): it gathers the
state from every rank and saves it (`checkpoint.write_checkpoint` writes the folder whole or
not at all), and restores weights, optimizer moments, RNG streams and the loss scale from one."""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from tinylm.checkpoint import CHECKPOINTS_DIR, read_checkpoint, save_tensors, write_checkpoint
from tinylm.config import ModelConfig
from tinylm.distributed import DistContext, full_state, load_full_state
from tinylm.fileio import atomic_write_json
from tinylm.lora import adapter_state, apply_lora, merged_state
from tinylm.lora_spec import ADAPTER_CONFIG, ADAPTER_FILE, LoraSpec, adapter_config
from tinylm.models import build_model
from tinylm.train_state import TrainState


class Checkpointer:
    def __init__(
        self,
        out: Path,
        model: nn.Module,
        optimizer: torch.optim.Optimizer,
        scaler: torch.amp.GradScaler,
        dist: DistContext,
        device: torch.device,
        keep: int,
        lora: LoraSpec | None = None,
        base_model: str | None = None,
    ) -> None:
        """`lora`: the adapters the model carries (`tinylm.lora`); the run's model.safetensors
        then gets the merged weights and the adapters their own PEFT files, while checkpoints
        keep both for --resume. `base_model`: where the adapted weights came from."""
        self.out, self.model, self.optimizer, self.scaler = out, model, optimizer, scaler
        self.dist, self.device, self.keep = dist, device, keep
        self.model_cfg: ModelConfig = model.config
        self.lora, self.base_model = lora, base_model

    def save(self, state: TrainState) -> Path:
        """checkpoints/step-N/. Every rank takes part (the state is gathered from all of them);
        rank 0 writes."""
        model_state, optim_state = full_state(self.model, self.optimizer)
        rng_cpu = self.dist.gather(torch.get_rng_state())
        rng_cuda = self.dist.gather(
            torch.cuda.get_rng_state(self.device) if self.device.type == "cuda" else None
        )
        final = self.out / CHECKPOINTS_DIR / f"step-{state.step:08d}"
        if self.dist.is_main:
            extra = {f"rng.cpu.{rank}": rng for rank, rng in enumerate(rng_cpu)}
            extra.update(
                {f"rng.cuda.{r}": rng for r, rng in enumerate(rng_cuda) if rng is not None}
            )
            if self.scaler.is_enabled():
                extra["scaler.scale"] = self.scaler.get_scale() * torch.ones(1)
            final = write_checkpoint(
                self.out,
                state.step,
                self.model_cfg.arch,
                self.model_cfg.tie_embeddings,
                model_state,
                optim_state,
                extra,
                state.to_json(),
                self.keep,
                merged_state(model_state, self.lora) if self.lora is not None else None,
            )
            if self.lora is not None:
                self._write_adapters(model_state)
        self.dist.barrier()
        return final

    def _write_adapters(self, model_state: dict[str, torch.Tensor]) -> None:
        assert self.lora is not None
        adapters = {k: v.contiguous() for k, v in adapter_state(model_state).items()}
        save_tensors(self.out / ADAPTER_FILE, adapters, {"format": "pt"})
        atomic_write_json(
            self.out / ADAPTER_CONFIG, adapter_config(self.lora, self.base_model or "")
        )

    def load(self, path: Path) -> TrainState:
        """Weights, optimizer, this rank's RNG streams and the loss scale from `path`; returns
        the trainer state it saved. Weights of another model are refused in one line."""
        with torch.device("meta"):
            shape = build_model(self.model_cfg)
            if self.lora is not None:
                apply_lora(shape, self.lora)
            expected = shape.state_dict()
        weights, optim_state, tensors, saved = read_checkpoint(
            path, expected, self.model_cfg.tie_embeddings
        )
        load_full_state(self.model, self.optimizer, weights, optim_state)
        rank = self.dist.rank
        torch.set_rng_state(tensors.get(f"rng.cpu.{rank}", tensors["rng.cpu.0"]))
        cuda_rng = tensors.get(f"rng.cuda.{rank}", tensors.get("rng.cuda.0"))
        if self.device.type == "cuda" and cuda_rng is not None:
            torch.cuda.set_rng_state(cuda_rng, self.device)
        if "scaler.scale" in tensors and self.scaler.is_enabled():
            self.scaler.update(float(tensors["scaler.scale"]))
        return TrainState.from_dict(saved)
