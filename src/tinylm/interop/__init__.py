"""Exchange models with the rest of the ecosystem, one module per format:

- `hf`: Hugging Face `LlamaForCausalLM` folders, in (`tinylm import DIR`) and out
  (`tinylm export RUN --format hf`).
- `llama2c`: llama2.c `.bin` checkpoints and `tokenizer.bin` files, in and out.
- `spm`: sentencepiece `.model` tokenizers, converted to a `tokenizers` JSON so they work
  everywhere a tinylm tokenizer does.
- `gguf`: GGUF files for llama.cpp / Ollama (out).

`runs` turns imported weights into an ordinary run folder; `vocab` gives any tokenizer the
sentencepiece view (pieces, scores, types) that llama2.c and llama.cpp want; `rope` holds the
q/k row permutation between the interleaved and rotate-half RoPE layouts.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from tinylm.errors import TinylmError


def require(module: str, purpose: str) -> ModuleType:
    """Import an optional dependency or say in one line how to install it."""
    try:
        return importlib.import_module(module)
    except ImportError:
        package = {"sentencepiece.sentencepiece_model_pb2": "sentencepiece protobuf"}.get(
            module, module
        )
        raise TinylmError(
            f"{purpose} needs the '{package}' package: pip install 'tinylm[interop]'"
        ) from None
