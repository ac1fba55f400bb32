"""Imported weights become an ordinary run folder (config.json, tokenizer.json,
model.safetensors), so `generate`, `eval`, `export` and `train --init-from` treat it like one
tinylm trained. Nothing appears under the final name until every file is written."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from tinylm.checkpoint import MODEL_FILE, check_model_tensors, save_model
from tinylm.config import ModelConfig
from tinylm.errors import TinylmError
from tinylm.fileio import atomic_folder, check_output_folder
from tinylm.framing import check_framing
from tinylm.models import build_model
from tinylm.quant.scheme import QuantSpec
from tinylm.run import TOKENIZER_FILE, write_run_config
from tinylm.tokenizer import Tokenizer


def check_tokenizer_fits(tokenizer: Tokenizer, vocab_size: int, model_source: str) -> None:
    if tokenizer.vocab_size > vocab_size:
        raise TinylmError(
            f"tokenizer {tokenizer.source} has {tokenizer.vocab_size} tokens but the model "
            f"{model_source} only {vocab_size}; pass the tokenizer the model was trained with"
        )
    for name in ("bos_id", "eos_id"):
        token = getattr(tokenizer, name)
        if token is not None and token >= vocab_size:
            raise TinylmError(
                f"tokenizer {tokenizer.source}: {name[:3].upper()} id {token} is outside the "
                f"model's {vocab_size}-token vocabulary; it belongs to another model"
            )


def build_imported_model(
    cfg: ModelConfig,
    tensors: dict[str, torch.Tensor],
    source: str,
    quantization: QuantSpec | None = None,
) -> torch.nn.Module:
    """The tinylm model holding `tensors` (HF names; a QuantizedLlama's with `quantization`),
    refusing anything that does not fit."""
    cfg.validate()
    if quantization is not None:
        from tinylm.quant.modules import QuantizedLlama

        model = QuantizedLlama(cfg, quantization)
    else:
        model = build_model(cfg)
    if cfg.tie_embeddings:
        tensors = {k: v for k, v in tensors.items() if k != "lm_head.weight"}
    why = "tinylm imports plain Llama weights, with the config they came with"
    check_model_tensors(source, tensors, model.state_dict(), cfg.tie_embeddings, why)
    loaded = {k: v.float() if v.is_floating_point() else v for k, v in tensors.items()}
    model.load_state_dict(loaded, strict=False)
    return model


def write_imported_run(
    out: str | Path,
    cfg: ModelConfig,
    tensors: dict[str, torch.Tensor],
    tokenizer: Tokenizer,
    source: dict[str, Any],
    framing: str,
    quantization: QuantSpec | None = None,
) -> Path:
    """`framing`: how the model's own training data framed each story (`tinylm.framing`), so
    `tinylm eval` scores it the way it learned. `quantization`: the tensors are a quantized
    model's (an int8 llama2.c file)."""
    out = Path(out)
    check_output_folder(out)
    check_tokenizer_fits(tokenizer, cfg.vocab_size, source["path"])
    model = build_imported_model(cfg, tensors, source["path"], quantization)
    extra: dict[str, Any] = {"source": source, "framing": check_framing(framing)}
    if quantization is not None:
        extra["quantization"] = quantization.to_json()
    with atomic_folder(out, "import") as tmp:
        save_model(tmp / MODEL_FILE, model, {"tinylm": "imported", "source": source["format"]})
        tokenizer.save(tmp / TOKENIZER_FILE)
        write_run_config(tmp, cfg, None, extra)
    return out
