"""Loading a quantized run's model (what `load_run` calls for a config with "quantization")."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from torch import nn

from tinylm.checkpoint import MODEL_FILE, check_model_tensors, read_tensors
from tinylm.config import ModelConfig
from tinylm.errors import TinylmError
from tinylm.quant.modules import QuantizedLlama
from tinylm.quant.scheme import (
    QuantSpec,
    check_group_size,
    check_scheme,
    choose_spec,
    quantized_widths,
)


def check_quantized_options(what: str, scheme: str, dtype: str, compile: bool) -> None:
    if dtype not in ("fp32", "auto"):
        raise TinylmError(
            f"--dtype {dtype}: {what} is quantized ({scheme}); it computes in fp32 with its own "
            "int8/int4 kernels, so drop --dtype (or use the float run it came from)"
        )
    if compile:
        raise TinylmError(
            f"--compile: {what} is quantized ({scheme}); it already decodes in one native call "
            "per token, so drop --compile"
        )


def quantize_in_memory(
    model: nn.Module, run: Path, config: dict[str, Any], scheme: str, dtype: str, compile: bool
) -> tuple[nn.Module, dict[str, Any]]:
    """`generate --quant`: a float run's model quantized in memory (default group size),
    nothing written; returns the model and the config it now has."""
    check_scheme(scheme)
    check_quantized_options(str(run), scheme, dtype, compile)
    spec = choose_spec(model.config, scheme, None)
    device = next(model.parameters()).device
    quantized = QuantizedLlama.from_float(model, spec).to(device).eval()
    return quantized, {**config, "quantization": spec.to_json(), "quantized_from": str(run)}


def load_quantized_model(
    run: Path, config: dict[str, Any], cfg: ModelConfig, dtype: str, compile: bool
) -> QuantizedLlama:
    where = str(run / "config.json")
    spec = QuantSpec.from_json(config["quantization"], where)
    check_quantized_options(str(run), spec.scheme, dtype, compile)
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
    return model
