"""Recurrent language models (LSTM or GRU): the classic baseline the transformer has to beat.

embedding -> stacked recurrent cells (dropout between them) -> output layer tied to the
embedding (one width `dim` throughout, so tying always fits).

Training is truncated backpropagation through time with stateless windows: every window of
`max_seq_len` tokens starts from a zero state and backpropagates through the whole window. Why
not carry the state from one window to the next (classic stateful TBPTT)? (1) The batches stay
exactly those the transformers see (the same shuffled windows, BatchSampler), so a comparison
between families differs in the architecture only; (2) shuffled windows give decorrelated
batches, contiguous streams do not; (3) a TinyStories story is shorter than a 256-token window,
so a carried state would mostly cross an EOS/BOS boundary where it carries no information; (4)
`--resume` stays exact with nothing extra in the checkpoint, and evaluation uses the same
protocol as training. Generation, on the other hand, is stateful and unbounded: the "cache" is
the hidden state, so there is no context window to slide.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from tinylm.config import ModelConfig
from tinylm.models.llama import lm_head_and_loss


@dataclass
class RNNState:
    """The recurrent state carried through generation: h (and c for an LSTM), each
    [n_layers, B, dim]; None before the first token. `length` counts tokens consumed."""

    hidden: torch.Tensor | tuple[torch.Tensor, torch.Tensor] | None = None
    length: int = 0


class RNNBody(nn.Module):
    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.embed_tokens = nn.Embedding(cfg.vocab_size, cfg.dim)
        cell = {"lstm": nn.LSTM, "gru": nn.GRU}[cfg.rnn_cell]
        self.rnn = cell(
            cfg.dim,
            cfg.dim,
            num_layers=cfg.n_layers,
            batch_first=True,
            dropout=cfg.dropout if cfg.n_layers > 1 else 0.0,
        )


class RNNLM(nn.Module):
    # Generation needs no sliding window: the state summarises everything so far.
    context_length: int | None = None

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.config = cfg
        self.model = RNNBody(cfg)
        self.drop = nn.Dropout(cfg.dropout)
        self.lm_head = nn.Linear(cfg.dim, cfg.vocab_size, bias=False)
        # Inputs of O(0.1), as in Zaremba et al. / AWD-LSTM: with the transformers' 0.02 (where
        # RMSNorm rescales) the gates barely see the token at first, and a small LSTM sat on
        # unigram statistics for ~100 steps before it started to memorise a text.
        nn.init.normal_(self.model.embed_tokens.weight, mean=0.0, std=0.1)
        if cfg.tie_embeddings:
            self.lm_head.weight = self.model.embed_tokens.weight
        else:
            nn.init.normal_(self.lm_head.weight, mean=0.0, std=0.1)
        # PyTorch's default U(-1/sqrt(dim), 1/sqrt(dim)) for the cells; the LSTM forget gate
        # starts open (bias 1, Jozefowicz et al. 2015) so early gradients flow through time.
        if cfg.rnn_cell == "lstm":
            for name, p in self.model.rnn.named_parameters():
                if name.startswith("bias_ih"):
                    with torch.no_grad():
                        p[cfg.dim : 2 * cfg.dim].fill_(1.0)
                elif name.startswith("bias_hh"):
                    with torch.no_grad():
                        p[cfg.dim : 2 * cfg.dim].zero_()

    def forward(
        self,
        idx: torch.Tensor,
        targets: torch.Tensor | None = None,
        cache: RNNState | None = None,
        start: int = 0,
        last_only: bool = False,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """idx: [B, T]. Without `cache` every call starts from a zero state; with one, the
        state continues from the tokens it has seen (`start` must equal how many)."""
        if cache is not None and start != cache.length:
            raise ValueError(f"rnn state has seen {cache.length} tokens, asked to start at {start}")
        x = self.drop(self.model.embed_tokens(idx))  # [B, T, dim]
        hidden = cache.hidden if cache is not None else None
        x, hidden = self.model.rnn(x, hidden)  # [B, T, dim]
        if cache is not None:
            cache.hidden = hidden
            cache.length += idx.shape[1]
        return lm_head_and_loss(self.lm_head, self.drop(x), targets, last_only)

    def make_cache(self, batch_size: int, max_len: int | None = None) -> RNNState:
        return RNNState()
