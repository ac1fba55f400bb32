"""The two RoPE layouts and the q/k row permutation between them.

Meta's original Llama code, llama2.c and llama.cpp rotate *interleaved* pairs of a head's
dimensions (0,1), (2,3), ...; Hugging Face (and tinylm) rotate the two *halves* (i, i + hd/2).
Both compute the same attention if the rows of wq and wk are reordered within every head, which
is what transformers' convert_llama_weights_to_hf.py (`permute`) and llama.cpp's
convert_hf_to_gguf.py (`LlamaModel.permute`) do. These are exact inverses of each other.
"""

from __future__ import annotations

import torch


def interleaved_to_halves(weight: torch.Tensor, n_heads: int) -> torch.Tensor:
    """[n_heads * hd, dim] rows in interleaved-pair order -> rotate-half order."""
    rows, cols = weight.shape
    return weight.view(n_heads, rows // n_heads // 2, 2, cols).transpose(1, 2).reshape(rows, cols)


def halves_to_interleaved(weight: torch.Tensor, n_heads: int) -> torch.Tensor:
    """[n_heads * hd, dim] rows in rotate-half order -> interleaved-pair order."""
    rows, cols = weight.shape
    return weight.view(n_heads, 2, rows // n_heads // 2, cols).transpose(1, 2).reshape(rows, cols)
