"""Loading a quantized run's model (what `load_run` calls for a config with "quantization")."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from tinylm.checkpoint import MODEL_FILE, check_model_tensors, read_tensors
from tinylm.config import ModelConfig
from tinylm.errors import TinylmError
from tinylm.quant.modules import QuantizedLlama
from tinylm.quant.scheme import QuantSpec, check_group_size, quantized_widths


def load_quantized_model(
    run: Path, config: dict[str, Any], cfg: ModelConfig, dtype: str, compile: bool
) -> QuantizedLlama:
    where = str(run / "config.json")
    spec = QuantSpec.from_json(config["quantization"], where)
    if dtype not in ("fp32", "auto"):
        raise TinylmError(
            f"--dtype {dtype}: {run} is quantized ({spec.scheme}); it computes in fp32 with its "
            "own int8/int4 kernels, so drop --dtype (or use the float run it came from)"
        )
    if compile:
        raise TinylmError(
            f"--compile: {run} is quantized; it already decodes in one native call per token, "
            "so drop --compile"
        )
    if cfg.arch != "llama":
        raise TinylmError(f"{where}: a quantized run must be a Llama, this one says '{cfg.arch}'")
    check_group_size(spec, quantized_widths(cfg))
    model = QuantizedLlama(cfg, spec)
    path = run / MODEL_FILE
    tensors, _ = read_tensors(path)
    expected = model.state_dict()
    why = f"it is not the {spec.describe()} quantization config.json describes"
    check_model_tensors(path, tensors, expected, cfg.tie_embeddings, why)
    for name, tensor in tensors.items():
        want = expected[name].dtype
        if tensor.dtype != want and not (want.is_floating_point and tensor.is_floating_point()):
            raise TinylmError(
                f"{path}: {name} is {tensor.dtype} but {spec.scheme} stores {want}; {why}"
            )
    model.load_state_dict(
        {k: v if not v.is_floating_point() else v.float() for k, v in tensors.items()}, strict=False
    )
    _ = torch
    return model
