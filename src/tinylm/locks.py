"""Advisory locks on what a process writes (a run folder, a data folder, an output file), so two
`tinylm` processes never write one place at once: the second is refused in one line naming the
first (host, PID, command, since when).

A lock is a file `.tinylm.lock` in the folder (or `.NAME.tinylm.lock` beside an output file)
holding its owner as JSON, and an `fcntl.flock` on it, which the kernel releases when the owner
dies however it dies (SIGKILL included): a lock file whose flock is free is stale, and the next
process takes it over. The file is removed when the owner lets go.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import socket
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from tinylm.errors import TinylmError

LOCK_NAME = ".tinylm.lock"


def lock_path(target: Path, folder: bool) -> Path:
    """Where the lock of `target` lives: inside a folder, beside a file."""
    return target / LOCK_NAME if folder else target.with_name(f".{target.name}{LOCK_NAME}")


def _holder(handle: IO[str]) -> dict[str, Any]:
    handle.seek(0)
    try:
        holder = json.loads(handle.read() or "{}")
    except ValueError:
        return {}
    return holder if isinstance(holder, dict) else {}


def describe(holder: dict[str, Any]) -> str:
    since = holder.get("since")
    when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(since)) if since else "?"
    command = holder.get("command") or "another tinylm process"
    return f"PID {holder.get('pid', '?')} on {holder.get('host', '?')} (`{command}`, since {when})"


class Lock:
    """Held while a process writes `target`; `release()` (or the end of a `with`) lets go."""

    def __init__(self, target: Path, what: str, folder: bool = True) -> None:
        self.target, self.what = target, what
        self.path = lock_path(target, folder)
        self._handle: IO[str] | None = None
        self._made: list[Path] = []  # folders acquire() created, innermost first

    def acquire(self) -> Lock:
        try:
            return self._acquire()
        except OSError as exc:
            raise TinylmError(
                f"cannot write to {self.what} {self.target} ({exc.strerror or exc}); choose a "
                "writable folder"
            ) from None

    def _acquire(self) -> Lock:
        folder = self.path.parent
        self._made = [p for p in (folder, *folder.parents) if not p.exists()]
        folder.mkdir(parents=True, exist_ok=True)
        while True:
            handle = open(self.path, "a+", encoding="utf-8")  # noqa: SIM115 - held until release
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                holder = _holder(handle)
                handle.close()
                raise TinylmError(
                    f"{self.what} {self.target} is being written by {describe(holder)}; wait "
                    "for it to finish or stop it, then try again"
                ) from None
            # The owner before us may have removed the file between our open and our flock:
            # then we hold a lock on a file nobody else sees. Start again on the current one.
            try:
                same = os.stat(self.path).st_ino == os.fstat(handle.fileno()).st_ino
            except FileNotFoundError:
                same = False
            if same:
                break
            handle.close()
        handle.seek(0)
        handle.truncate()
        owner = {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "command": " ".join(["tinylm", *sys.argv[1:]])[:300],
            "since": time.time(),
        }
        handle.write(json.dumps(owner))
        handle.flush()
        self._handle = handle
        return self

    def release(self) -> None:
        if self._handle is None:
            return
        with contextlib.suppress(OSError):
            self.path.unlink()
        self._handle.close()  # closing drops the flock
        self._handle = None
        # Folders made only to hold the lock go with it, when the work wrote nothing there
        # (a command refused after it took the lock leaves no empty --out behind).
        for made in self._made:
            try:
                made.rmdir()
            except OSError:
                break

    def __enter__(self) -> Lock:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()


@contextlib.contextmanager
def locked(target: Path, what: str, folder: bool = True) -> Iterator[Lock]:
    lock = Lock(target, what, folder).acquire()
    try:
        yield lock
    finally:
        lock.release()


def is_locked(target: Path, folder: bool = True) -> dict[str, Any] | None:
    """The holder of `target`'s lock when a live process holds it, else None."""
    path = lock_path(target, folder)
    if not path.is_file():
        return None
    with open(path, "a+", encoding="utf-8") as handle:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            return _holder(handle)
        fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
    return None
