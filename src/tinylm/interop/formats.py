"""The export formats, one registry that the command line (`tinylm export --format`), the
GUI's export buttons and the dispatcher (`interop.commands.export_run`) all read.

A format is an `ExportFormat`: its name and title, whether it writes one file or a folder (and
the file name to suggest), the weight types it can write, and `write(run, out, dtype, extra)`,
which writes it and returns the lines to show the user. Adding a format is one class in its own
module plus one line in `EXPORT_FORMATS`; `tests/test_contracts.py` holds every registered
format to the protocol.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from tinylm.errors import TinylmError

if TYPE_CHECKING:
    from tinylm.run import LoadedRun


@runtime_checkable
class ExportFormat(Protocol):
    name: str  # the --format value
    title: str  # what a person calls it
    single_file: bool  # one file (--out FILE) or a folder (--out DIR)
    suggested_out: str  # a file or folder name to write into a run's export/ folder
    dtypes: tuple[str, ...]  # weight types it writes; the first is the default

    def extra_files(self, out: Path, tokenizer_out: Path | None) -> list[Path]:
        """Files it writes besides `out` (checked as new files before anything is written)."""
        ...

    def write(
        self,
        run: LoadedRun,
        out: Path,
        dtype: str,
        tokenizer_out: Path | None,
        group_size: int | None = None,
        report: Path | None = None,
    ) -> list[str]:
        """Write `run` to `out` (`group_size`: of a quantized dtype where the format has a
        choice; `report`: an evaluation report folder whose numbers a model card quotes); the
        lines that say what was written and how to use it."""
        ...


def float_model(run: LoadedRun):
    """The run's model as float weights: a quantized run's are dequantized (q * scale), so a
    float format holds exactly what the quantized run computes with."""
    model = run.model
    return model.dequantized() if hasattr(model, "dequantized") else model


def _size(path: Path) -> str:
    total = sum(p.stat().st_size for p in path.rglob("*")) if path.is_dir() else path.stat().st_size
    return f"{total / 1e6:.1f} MB"


@dataclass(frozen=True)
class HuggingFace:
    name: str = "hf"
    title: str = "Hugging Face"
    single_file: bool = False
    suggested_out: str = "hf"
    dtypes: tuple[str, ...] = ("fp32", "fp16", "bf16")

    def extra_files(self, out: Path, tokenizer_out: Path | None) -> list[Path]:
        return []

    def write(
        self,
        run: LoadedRun,
        out: Path,
        dtype: str,
        tokenizer_out: Path | None,
        group_size: int | None = None,
        report: Path | None = None,
    ) -> list[str]:
        from tinylm.interop.hf import export_hf
        from tinylm.interop.model_card import model_card

        card = model_card(run, dtype, report)  # before writing: a bad --report stops it
        export_hf(float_model(run), run.tokenizer, out, dtype, run.framing, card)
        return [
            f"exported {run.path} to {out} (LlamaForCausalLM, {dtype}, {_size(out)})",
            f"use it: transformers.pipeline('text-generation', model='{out}')",
        ]


@dataclass(frozen=True)
class Llama2c:
    name: str = "llama2c"
    title: str = "llama2.c"
    single_file: bool = True
    suggested_out: str = "model.bin"
    # fp32: the legacy version 0, what run.c reads; q8_0: version 2, runq.c's int8
    dtypes: tuple[str, ...] = ("fp32", "q8_0")

    def extra_files(self, out: Path, tokenizer_out: Path | None) -> list[Path]:
        return [tokenizer_out or out.with_name("tokenizer.bin")]

    def write(
        self,
        run: LoadedRun,
        out: Path,
        dtype: str,
        tokenizer_out: Path | None,
        group_size: int | None = None,
        report: Path | None = None,
    ) -> list[str]:
        from tinylm.interop.llama2c import export_llama2c

        (tok_path,) = self.extra_files(out, tokenizer_out)
        if tok_path.resolve() == out.resolve():
            raise TinylmError(f"--out {out} and the tokenizer file are the same path")
        version = 2 if dtype == "q8_0" else 0
        group = export_llama2c(float_model(run), run.tokenizer, out, tok_path, version, group_size)
        if version == 2:
            what, runner = f"llama2.c version 2, int8 in groups of {group}", "./runq"
        else:
            what, runner = "llama2.c legacy format", "./run"
        return [
            f"exported {run.path} to {out} ({what}, {_size(out)}) and {tok_path}",
            f"use it: {runner} {out} -z {tok_path}",
        ]


@dataclass(frozen=True)
class Gguf:
    name: str = "gguf"
    title: str = "GGUF"
    single_file: bool = True
    suggested_out: str = "model.gguf"
    # q8_0 / q4_0: GGUF's own blocks of 32 (gguf-py's quantizers)
    dtypes: tuple[str, ...] = ("fp32", "fp16", "bf16", "q8_0", "q4_0")

    def extra_files(self, out: Path, tokenizer_out: Path | None) -> list[Path]:
        return []

    def write(
        self,
        run: LoadedRun,
        out: Path,
        dtype: str,
        tokenizer_out: Path | None,
        group_size: int | None = None,
        report: Path | None = None,
    ) -> list[str]:
        from tinylm.interop.gguf import export_gguf

        if group_size is not None and dtype.startswith("q"):
            raise TinylmError(f"GGUF's {dtype} has a fixed block of 32 weights; drop --group-size")
        export_gguf(float_model(run), run.tokenizer, out, dtype, name=run.path.name)
        return [
            f"exported {run.path} to {out} (GGUF, llama architecture, {dtype}, {_size(out)})",
            f"use it: llama-cli -m {out} -p 'Once upon a time'",
        ]


EXPORT_FORMATS: dict[str, ExportFormat] = {f.name: f for f in (HuggingFace(), Llama2c(), Gguf())}
# Every weight type some format writes: the --dtype choices of `tinylm export`.
EXPORT_DTYPES = tuple(dict.fromkeys(d for f in EXPORT_FORMATS.values() for d in f.dtypes))


def export_format(name: str) -> ExportFormat:
    if name not in EXPORT_FORMATS:
        raise TinylmError(
            f"unknown export format '{name}'; choose one of {', '.join(EXPORT_FORMATS)}"
        )
    return EXPORT_FORMATS[name]
