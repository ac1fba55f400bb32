"""Atomic file writes: a crash or Ctrl-C never leaves a half-written file under the real name."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _make_temp(path: Path) -> Path:
    """mkstemp creates 0600 files; give them the permissions a plain open() would."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.fchmod(fd, 0o666 & ~_umask())
    os.close(fd)
    return Path(tmp)


@contextlib.contextmanager
def atomic_open(path: str | Path, mode: str = "w", encoding: str | None = "utf-8") -> Iterator[IO]:
    """Write to a temp file beside `path`, fsync, then rename over `path` on success only."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _make_temp(path)
    try:
        with open(tmp, mode, encoding=None if "b" in mode else encoding) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def atomic_write_text(path: str | Path, text: str) -> None:
    with atomic_open(path, "w") as f:
        f.write(text)


def atomic_write_json(path: str | Path, obj: Any) -> None:
    atomic_write_text(path, json.dumps(obj, indent=2, ensure_ascii=False) + "\n")


def atomic_copy(source: str | Path, dest: str | Path) -> None:
    dest = Path(dest)
    tmp = temp_path_beside(dest)
    try:
        shutil.copyfile(source, tmp)
        fsync_replace(tmp, dest)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def tinylm_cache(name: str) -> Path:
    """A folder under $TINYLM_CACHE (default ~/.cache/tinylm) for what tinylm can rebuild:
    judge answers, the novelty index, compiled kernels."""
    return Path(os.environ.get("TINYLM_CACHE", Path.home() / ".cache" / "tinylm")) / name


def temp_path_beside(path: str | Path) -> Path:
    """A fresh temp name in the same folder, for writers (safetensors) that want a filename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    return _make_temp(path)


def fsync_replace(tmp: Path, path: Path) -> None:
    with open(tmp, "rb") as f:
        os.fsync(f.fileno())
    os.replace(tmp, path)
    fsync_dir(path.parent)


def fsync_dir(path: Path) -> None:
    """Make a rename inside `path` durable (a crash right after must not undo it)."""
    with contextlib.suppress(OSError):  # directory fsync is not supported everywhere
        dir_fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()
