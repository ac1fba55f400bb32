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
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from tinylm.checkpoint import MODEL_FILE
from tinylm.errors import TinylmError
from tinylm.generate import SamplingOptions
from tinylm.run import LoadedRun, load_run
from tinylm.serve.limits import Limits
from tinylm.textstream import GenerationStream, StopMatcher

__all__ = ["Busy", "Engine", "GenerationStream", "Limits", "Slot", "StopMatcher"]


class Busy(TinylmError):
    """All generation slots are taken; try again shortly (HTTP 429)."""


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
            self.engine._release()

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
        self._busy = 0
        self._busy_lock = threading.Lock()
        self._loaded: OrderedDict[Path, tuple[int, LoadedRun]] = OrderedDict()
        self._lock = threading.Lock()

    def reserve(self) -> Slot:
        if not self._slots.acquire(blocking=False):
            raise Busy(
                f"busy: {self.limits.max_concurrent} generations are running already; "
                "try again in a moment"
            )
        with self._busy_lock:
            self._busy += 1
        return Slot(self)

    def free_slots(self) -> int:
        with self._busy_lock:
            return self.limits.max_concurrent - self._busy

    def _release(self) -> None:
        with self._busy_lock:
            self._busy -= 1
        self._slots.release()

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
