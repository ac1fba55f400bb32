"""`tinylm export` and `tinylm import`: pick the format, check the paths, report what was
written in a line a user can act on."""

from __future__ import annotations

from pathlib import Path

from tinylm.errors import TinylmError
from tinylm.framing import DESCRIPTIONS, check_framing, run_framing
from tinylm.run import load_run

FORMAT_NAMES = {"hf": "Hugging Face", "llama2c": "llama2.c", "gguf": "GGUF"}


def _size(path: Path) -> str:
    total = sum(p.stat().st_size for p in path.rglob("*")) if path.is_dir() else path.stat().st_size
    return f"{total / 1e6:.1f} MB"


def export_run(
    run_dir: str, fmt: str, out: str, dtype: str = "fp32", tokenizer_out: str | None = None
) -> list[str]:
    out_path = Path(out)
    if fmt in ("llama2c", "gguf") and out_path.is_dir():
        example = out_path / ("model.bin" if fmt == "llama2c" else "model.gguf")
        raise TinylmError(
            f"--out {out_path} is a folder; {FORMAT_NAMES[fmt]} export writes one file "
            f"(e.g. --out {example})"
        )
    run = load_run(run_dir)
    if fmt == "hf":
        from tinylm.interop.hf import export_hf

        export_hf(run.model, run.tokenizer, out_path, dtype, run.framing)
        return [
            f"exported {run.path} to {out_path} (LlamaForCausalLM, {dtype}, {_size(out_path)})",
            f"use it: transformers.pipeline('text-generation', model='{out_path}')",
        ]
    if fmt == "llama2c":
        from tinylm.interop.llama2c import export_llama2c

        if dtype != "fp32":
            raise TinylmError("llama2.c's run.c reads fp32 weights only; drop --dtype")
        tok_path = Path(tokenizer_out) if tokenizer_out else out_path.with_name("tokenizer.bin")
        if tok_path.resolve() == out_path.resolve():
            raise TinylmError(f"--out {out_path} and the tokenizer file are the same path")
        export_llama2c(run.model, run.tokenizer, out_path, tok_path)
        return [
            f"exported {run.path} to {out_path} (llama2.c legacy format, {_size(out_path)}) "
            f"and {tok_path}",
            f"use it: ./run {out_path} -z {tok_path}",
        ]
    if fmt == "gguf":
        from tinylm.interop.gguf import export_gguf

        export_gguf(run.model, run.tokenizer, out_path, dtype, name=run.path.name)
        return [
            f"exported {run.path} to {out_path} (GGUF, llama architecture, {dtype}, "
            f"{_size(out_path)})",
            f"use it: llama-cli -m {out_path} -p 'Once upon a time'",
        ]
    raise TinylmError(f"unknown export format '{fmt}'; choose one of {', '.join(FORMAT_NAMES)}")


def import_model(
    source: str, out: str, tokenizer: str | None = None, framing: str | None = None
) -> str:
    """`framing` overrides the story framing the format implies (`tinylm.framing`)."""
    path = Path(source)
    if framing is not None:
        check_framing(framing)
    if path.is_dir():
        from tinylm.interop.hf import import_hf

        run = import_hf(path, out, tokenizer, framing)
        what = "Hugging Face Llama"
    elif not path.exists():
        raise TinylmError(f"nothing to import: {path} does not exist")
    elif path.suffix == ".gguf":
        raise TinylmError(
            f"{path}: importing GGUF is not supported; import the Hugging Face folder or "
            "llama2.c .bin it was made from"
        )
    elif path.suffix in (".safetensors", ".json"):
        raise TinylmError(
            f"{path}: pass the Hugging Face folder that holds it (with config.json), not the file"
        )
    else:
        from tinylm.interop.llama2c import import_llama2c

        if tokenizer is None:
            raise TinylmError(
                f"{path}: a llama2.c checkpoint carries no tokenizer; pass --tokenizer "
                "tok.model or tokenizer.bin (the one it was trained with)"
            )
        run = import_llama2c(path, tokenizer, out, framing)
        what = "llama2.c"
    from tinylm.config import ModelConfig
    from tinylm.run import read_run_config, run_model_config

    config = read_run_config(run)
    cfg: ModelConfig = run_model_config(config, str(run))
    return (
        f"imported {what} model {path} -> {run} (dim {cfg.dim}, {cfg.n_layers} layers, "
        f"{cfg.n_heads} heads, {cfg.n_kv_heads} kv heads, vocab {cfg.vocab_size}, context "
        f"{cfg.max_seq_len}; stories framed {DESCRIPTIONS[run_framing(config)]}); "
        f"try: tinylm generate {run} --prompt 'Once upon a time'"
    )
