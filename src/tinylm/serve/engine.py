"""Loading models and generating text, shared by `tinylm serve` and `tinylm gui`.

There is one way to generate here: take a slot (`engine.reserve()`, at most `max_concurrent` at
once, `Busy` otherwise), then stream from it. A stream yields, per step, the new text of every
sample, and knows when and why each sample ended (`"stop"`: end of story or a stop string,
`"length"`: the token limit) and how many tokens each one took. Requests are checked against
`Limits` first, so a browser or an HTTP client cannot ask for a 1 MB prompt or a million tokens.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from tinylm.checkpoint import MODEL_FILE
from tinylm.errors import TinylmError
from tinylm.generate import SamplingOptions
from tinylm.run import LoadedRun, load_run
from tinylm.serve.limits import Limits
from tinylm.tokenizer import StreamDecoder

__all__ = ["Busy", "Engine", "GenerationStream", "Limits", "Slot", "StopMatcher"]


class Busy(TinylmError):
    """All generation slots are taken; try again shortly (HTTP 429)."""


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
        run: LoadedRun,
        prompt: str,
        options: SamplingOptions,
        n: int,
        stop: Sequence[str],
    ) -> None:
        self.run = run
        prompt_ids = run.prompt_ids(prompt)
        self.prompt_tokens = len(prompt_ids)
        self.texts = [""] * n
        self.finish_reasons: list[str | None] = [None] * n
        self.completion_tokens = [0] * n
        self._decoders = [StreamDecoder(run.tokenizer) for _ in range(n)]
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


class Slot:
    """One of the engine's generation slots; release it (or leave the `with`) when done."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._released = False

    def stream(
        self,
        run: LoadedRun,
        prompt: str,
        options: SamplingOptions,
        n: int = 1,
        stop: Sequence[str] = (),
    ) -> GenerationStream:
        if self._released:
            raise RuntimeError("this generation slot was already released")
        self.engine.limits.check(prompt, options, n, stop)
        return GenerationStream(run, prompt, options, n, stop)

    def release(self) -> None:
        if not self._released:
            self._released = True
            self.engine._slots.release()

    def __enter__(self) -> Slot:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()

    def __del__(self) -> None:
        self.release()  # a stream abandoned by a closed browser tab must not leak its slot


@dataclass
class Engine:
    """Loaded models (a few, least recently used dropped first) and the generation slots."""

    limits: Limits = field(default_factory=Limits)
    device: str = "cpu"
    max_loaded: int = 4

    def __post_init__(self) -> None:
        self._slots = threading.BoundedSemaphore(self.limits.max_concurrent)
        self._loaded: OrderedDict[Path, tuple[int, LoadedRun]] = OrderedDict()
        self._lock = threading.Lock()

    def reserve(self) -> Slot:
        if not self._slots.acquire(blocking=False):
            raise Busy(
                f"busy: {self.limits.max_concurrent} generations are running already; "
                "try again in a moment"
            )
        return Slot(self)

    def load(self, run_dir: str | Path) -> LoadedRun:
        """The run's model, loaded once; loaded again when its weights file has changed (a run
        still training saves new weights)."""
        path = Path(run_dir).resolve()
        weights = path / MODEL_FILE
        stamp = weights.stat().st_mtime_ns if weights.is_file() else -1
        with self._lock:
            cached = self._loaded.get(path)
            if cached is not None and cached[0] == stamp:
                self._loaded.move_to_end(path)
                return cached[1]
            run = load_run(path, device=self.device)
            self._loaded[path] = (stamp, run)
            self._loaded.move_to_end(path)
            while len(self._loaded) > self.max_loaded:
                self._loaded.popitem(last=False)
            return run

    def is_loaded(self, run_dir: str | Path) -> bool:
        return Path(run_dir).resolve() in self._loaded
