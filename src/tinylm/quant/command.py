"""`tinylm quantize RUN --out RUN-int8 --scheme int8|int4`: a quantized copy of a run, as an
ordinary run folder (config.json with a "quantization" record, the run's own tokenizer.json,
model.safetensors with the quantized tensors). The source run is only read. Nothing appears
under --out until every file is written."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

from tinylm.checkpoint import MODEL_FILE, save_model
from tinylm.errors import TinylmError
from tinylm.fileio import atomic_folder, atomic_write_json, check_output_folder
from tinylm.quant.modules import QuantizedLlama
from tinylm.quant.scheme import choose_spec
from tinylm.run import CONFIG_FILE, TOKENIZER_FILE, load_run, read_run_config


def _folder_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def quantize_run(
    run_dir: str | Path,
    out: str | Path,
    scheme: str,
    group_size: int | None = None,
    keep_embeddings: bool = False,
    keep_output: bool = False,
    say: Callable[[str], None] = print,
) -> Path:
    run_dir, out = Path(run_dir), Path(out)
    config = read_run_config(run_dir)
    if "quantization" in config:
        source = config.get("quantized_from", "its float run")
        raise TinylmError(
            f"{run_dir} is already quantized ({config['quantization'].get('scheme')}); quantize "
            f"the float run it came from ({source})"
        )
    check_output_folder(out)
    run = load_run(run_dir)
    spec = choose_spec(run.model_config, scheme, group_size, keep_embeddings, keep_output)
    quantized = QuantizedLlama.from_float(run.model, spec)
    with atomic_folder(out, "quantize") as tmp:
        save_model(tmp / MODEL_FILE, quantized, {"tinylm": "quantized", "quantization": scheme})
        shutil.copyfile(run_dir / TOKENIZER_FILE, tmp / TOKENIZER_FILE)
        record = {key: value for key, value in config.items() if key != "model"}
        from dataclasses import asdict

        atomic_write_json(
            tmp / CONFIG_FILE,
            {
                "tinylm_version": config.get("tinylm_version"),
                "model": asdict(quantized.config),
                **{k: v for k, v in record.items() if k != "tinylm_version"},
                "quantization": spec.to_json(),
                "quantized_from": str(run_dir),
            },
        )
    before = (run_dir / MODEL_FILE).stat().st_size
    after = (out / MODEL_FILE).stat().st_size
    say(
        f"quantized {run_dir} to {out} ({spec.describe()}): weights {before / 1e6:.1f} MB -> "
        f"{after / 1e6:.1f} MB"
    )
    say(
        f"use it like any run: tinylm generate {out}; compare: tinylm eval {run_dir} {out} "
        "--data HELD_OUT"
    )
    return out
