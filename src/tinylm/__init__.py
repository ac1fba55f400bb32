"""tinylm: a laptop-scale lab to train, evaluate, sample and ship tiny language models."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tinylm.version import __version__

if TYPE_CHECKING:
    from tinylm.run import LoadedRun


def load(run_dir: str, device: str = "cpu") -> LoadedRun:
    """Load a run directory (or any folder with config.json, model.safetensors, tokenizer.json).

    >>> lm = tinylm.load("runs/demo")
    >>> print(lm.generate("Once upon a time", max_new_tokens=100, seed=0))
    """
    from tinylm.run import load_run

    return load_run(run_dir, device=device)


__all__ = ["__version__", "load"]
