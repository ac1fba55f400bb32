"""Order-preserving parallel map over a stream, with bounded memory.

`multiprocessing.Pool.imap` drains its whole input iterator into a task queue as fast as it can,
so feeding it a 2 GB corpus buffers the corpus. Here at most `window` tasks are in flight: the
reader blocks until results are taken, keeping memory flat whatever the input size.
"""

from __future__ import annotations

import multiprocessing
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")
R = TypeVar("R")


class OrderedPool:
    """`with OrderedPool(workers, init, args) as pool: for r in pool.map(fn, items): ...`.

    workers == 1 runs in this process (no pickling, easy to debug). Workers are spawned, not
    forked: a fork would copy this process's threads' locks (progress bars) and large state."""

    def __init__(
        self,
        workers: int,
        initializer: Callable[..., None] | None = None,
        initargs: tuple = (),
        window: int | None = None,
    ) -> None:
        self.workers = workers
        self.initializer = initializer
        self.initargs = initargs
        self.window = window or 2 * workers + 1
        self._executor: ProcessPoolExecutor | None = None

    def __enter__(self) -> OrderedPool:
        if self.workers > 1:
            self._executor = ProcessPoolExecutor(
                self.workers,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=self.initializer,
                initargs=self.initargs,
            )
        elif self.initializer is not None:
            self.initializer(*self.initargs)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._executor is not None:
            # On an error (Ctrl-C included) do not wait for queued work.
            self._executor.shutdown(wait=exc[0] is None, cancel_futures=True)
            self._executor = None

    def map(self, fn: Callable[[T], R], items: Iterable[T], *extra: Any) -> Iterator[R]:
        if self._executor is None:
            for item in items:
                yield fn(item, *extra)
            return
        pending: deque[Future] = deque()
        for item in items:
            pending.append(self._executor.submit(fn, item, *extra))
            if len(pending) >= self.window:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
