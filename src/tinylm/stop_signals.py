"""Ctrl-C (and SIGTERM, which schedulers and torchrun send) as a request to stop at the next
safe point, a step boundary, rather than an exception in the middle of a checkpoint write; a
second Ctrl-C leaves at once.

The process's own handlers come back however the block is left, a second Ctrl-C included:
a notebook or any caller that trains in-process keeps a working Ctrl-C afterwards.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

SIGNALS = (signal.SIGINT, signal.SIGTERM)


@dataclass
class StopRequest:
    requested: bool = False


@contextmanager
def stop_requests() -> Iterator[StopRequest]:
    """Within the block, the first SIGINT/SIGTERM sets `.requested`; the second raises
    KeyboardInterrupt. Outside the main thread (where Python delivers no signals) the request
    is never set."""
    request = StopRequest()
    if threading.current_thread() is not threading.main_thread():
        yield request
        return
    previous = {sig: signal.getsignal(sig) for sig in SIGNALS}

    def restore() -> None:
        for sig, handler in previous.items():
            # None: a handler not set from Python; the default is the closest we can give back
            signal.signal(sig, signal.SIG_DFL if handler is None else handler)

    def on_signal(signum: int, frame: object) -> None:
        if request.requested:
            restore()  # before raising: an exception can land anywhere, even in a finally
            raise KeyboardInterrupt
        request.requested = True

    try:
        for sig in SIGNALS:
            signal.signal(sig, on_signal)
        yield request
    finally:
        restore()
