"""`tinylm export` and `tinylm import`: pick the format (`interop.formats` for export), check
the paths, report what was written in a line a user can act on."""

from __future__ import annotations

from pathlib import Path

from tinylm.errors import TinylmError
from tinylm.fileio import check_output_file, check_output_folder, disk_full, disk_full_message
from tinylm.framing import DESCRIPTIONS, check_framing, run_framing
from tinylm.interop.formats import export_format
from tinylm.run import load_run


def export_run(
    run_dir: str,
    fmt: str,
    out: str,
    dtype: str = "fp32",
    tokenizer_out: str | None = None,
    group_size: int | None = None,
    report: str | None = None,
) -> list[str]:
    """Write `run_dir` in format `fmt` (a name in `interop.formats.EXPORT_FORMATS`);
    `report`: an evaluation report folder for the model card (hf)."""
    target = export_format(fmt)
    out_path = Path(out)
    if target.single_file and out_path.is_dir():
        raise TinylmError(
            f"--out {out_path} is a folder; {target.title} export writes one file "
            f"(e.g. --out {out_path / target.suggested_out})"
        )
    if target.single_file:
        check_output_file(out_path)
    else:
        check_output_folder(out_path)
    for extra in target.extra_files(out_path, Path(tokenizer_out) if tokenizer_out else None):
        check_output_file(extra, "the tokenizer file")
    if dtype not in target.dtypes:
        raise TinylmError(
            f"{target.title} export writes {', '.join(target.dtypes)} weights, not {dtype}; "
            f"drop --dtype or choose one of those"
        )
    run = load_run(run_dir)
    try:
        tok = Path(tokenizer_out) if tokenizer_out else None
        return target.write(run, out_path, dtype, tok, group_size, Path(report) if report else None)
    except OSError as exc:
        if disk_full(exc, out_path):
            raise TinylmError(disk_full_message(out_path)) from None
        raise


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
        from tinylm.interop.gguf_import import import_gguf

        if tokenizer is not None:
            raise TinylmError(f"{path}: a GGUF file carries its own tokenizer; drop --tokenizer")
        run = import_gguf(path, out, framing)
        what = "GGUF"
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
