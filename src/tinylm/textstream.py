"""Generated token ids to text: the one decoding path behind `LoadedRun.stream` and `generate`
(the library and `tinylm generate`), the HTTP server and the GUI, so all of them write the same
text for the same model, prompt and seed.

The prompt's ids are decoded along with the new ones (`StreamDecoder`'s prefix): sentencepiece
decoders drop the first space of a decode, so a continuation decoded on its own would glue its
first word to the prompt ("a little dog" + "named" instead of " named").
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Protocol

import torch

from tinylm.generate import SamplingOptions
from tinylm.tokenizer import StreamDecoder, Tokenizer


class Sampler(Protocol):
    """What a stream needs of a loaded run (`tinylm.run.LoadedRun`)."""

    tokenizer: Tokenizer

    @property
    def stop_ids(self) -> frozenset[int]: ...

    def prompt_ids(self, prompt: str) -> list[int]: ...

    def sample_ids(
        self, prompt_ids: list[int], options: SamplingOptions, num_samples: int = 1
    ) -> Iterator[torch.Tensor]: ...


class StopMatcher:
    """Cuts a text stream at the first stop string, holding back a tail that might be the start
    of one, so a streamed reply never shows part of a stop string."""

    def __init__(self, stops: Sequence[str]) -> None:
        self.stops = list(stops)
        self.pending = ""
        self.hit = False

    def push(self, text: str) -> str:
        if self.hit or not self.stops:
            return "" if self.hit else text
        self.pending += text
        cut = min((i for i in (self.pending.find(s) for s in self.stops) if i >= 0), default=-1)
        if cut >= 0:
            self.hit = True
            out, self.pending = self.pending[:cut], ""
            return out
        hold = max((_overlap(self.pending, s) for s in self.stops), default=0)
        out = self.pending[: len(self.pending) - hold]
        self.pending = self.pending[len(out) :]
        return out

    def flush(self) -> str:
        out, self.pending = ("" if self.hit else self.pending), ""
        return out


def _overlap(text: str, stop: str) -> int:
    """Length of the longest end of `text` that is a proper beginning of `stop`."""
    for k in range(min(len(text), len(stop) - 1), 0, -1):
        if text.endswith(stop[:k]):
            return k
    return 0


class GenerationStream:
    """Iterate for the new text of each sample per step; afterwards `texts`, `finish_reasons`
    and `completion_tokens` say what each sample became."""

    def __init__(
        self,
        run: Sampler,
        prompt: str,
        options: SamplingOptions,
        n: int,
        stop: Sequence[str] = (),
    ) -> None:
        self.run = run
        prompt_ids = run.prompt_ids(prompt)
        self.prompt_tokens = len(prompt_ids)
        self.texts = [""] * n
        self.finish_reasons: list[str | None] = [None] * n
        self.completion_tokens = [0] * n
        self._decoders = [StreamDecoder(run.tokenizer, prefix=prompt_ids) for _ in range(n)]
        self._stops = [StopMatcher(stop) for _ in range(n)]
        self._tokens = run.sample_ids(prompt_ids, options, n)
        self._steps = self._run()

    def __iter__(self) -> Iterator[list[str]]:
        return self

    def __next__(self) -> list[str]:
        return next(self._steps)

    def close(self) -> None:
        self._steps.close()
        self._tokens.close()

    def collect(self) -> list[str]:
        for _ in self:
            pass
        return self.texts

    @property
    def usage(self) -> dict[str, int]:
        done = sum(self.completion_tokens)
        return {
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": done,
            "total_tokens": self.prompt_tokens + done,
        }

    def _end(self, i: int, reason: str) -> str:
        """Finish sample i: the decoder's held-back bytes and the stop matcher's tail."""
        tail = self._stops[i].push(self._decoders[i].flush()) + self._stops[i].flush()
        self.finish_reasons[i] = "stop" if self._stops[i].hit else reason
        return tail

    def _emit(self, i: int, text: str, pieces: list[str]) -> None:
        self.texts[i] += text
        pieces.append(text)

    def _run(self) -> Iterator[list[str]]:
        stops = self.run.stop_ids
        try:
            for tokens in self._tokens:
                pieces: list[str] = []
                for i, token in enumerate(tokens.tolist()):
                    if self.finish_reasons[i] is not None:
                        pieces.append("")
                    elif token in stops:
                        self._emit(i, self._end(i, "stop"), pieces)
                    else:
                        self.completion_tokens[i] += 1
                        self._emit(i, self._stops[i].push(self._decoders[i].push(token)), pieces)
                        if self._stops[i].hit:
                            self.finish_reasons[i] = "stop"
                yield pieces
                if all(r is not None for r in self.finish_reasons):
                    return
            pieces = []
            for i, reason in enumerate(self.finish_reasons):
                self._emit(i, "" if reason else self._end(i, "length"), pieces)
            if any(pieces):
                yield pieces
        finally:
            self._tokens.close()
