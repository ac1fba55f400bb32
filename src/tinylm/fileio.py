"""Atomic file writes: a crash or Ctrl-C never leaves a half-written file under the real name."""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from tinylm.errors import TinylmError


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


@contextlib.contextmanager
def atomic_folder(out: Path, what: str) -> Iterator[Path]:
    """Fill a temp folder beside `out` (`.NAME.WHAT.tmp`), then rename it to `out` whole, on
    success only: a reader never sees half an export, import or quantized run. `out` must be
    absent or empty (`check_output_folder`)."""
    tmp = out.with_name(f".{out.name}.{what}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    try:
        yield tmp
        if out.is_dir():
            out.rmdir()  # checked empty before
        os.replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
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


# -- output locations -------------------------------------------------------------------------


def _existing_place(path: Path) -> Path:
    """The nearest existing folder above `path` (where its missing folders will be made)."""
    place = path.parent
    while not place.exists():
        if place.parent == place:
            break
        place = place.parent
    return place


def _folder_for(path: Path) -> Path:
    """The existing folder whose disk `path` (a folder, or a file to be written) lives on."""
    return path if path.is_dir() else _existing_place(path)


def check_free_space(path: Path, need: int, what: str) -> None:
    """Refuse work whose output would not fit: better a line now than a full disk later (which
    other programs feel too) and the work lost with the half-written file."""
    place = _folder_for(path)
    free = shutil.disk_usage(place).free
    if free < need:
        raise TinylmError(
            f"not enough free space in {place}: {what} needs about {need / 1e6:,.0f} MB, "
            f"{free / 1e6:,.0f} MB are free; free space or choose another --out"
        )


def disk_full(exc: OSError, path: Path | None = None) -> bool:
    """`exc` means the disk ran out of room: ENOSPC/EDQUOT, or a short write that says no
    errno (numpy's `tofile`, under the GGUF writer) where the disk at `path` is full."""
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return True
    if exc.errno is None and path is not None:
        with contextlib.suppress(OSError):
            return shutil.disk_usage(_folder_for(path)).free < (1 << 20)
    return False


def disk_full_message(path: object) -> str:
    # every writer writes under a temp name and removes it when the write fails
    return (
        f"the disk is full writing {path}; nothing half-written was kept: free space (or "
        "choose another --out) and run the command again"
    )


# Folders the output checks found missing: the work makes them, and a command that fails or
# is refused removes those still empty (`remove_planned_folders`, called by `cli.main`), so a
# mistyped --out a/b/c leaves no a/b behind.
_PLANNED: set[Path] = set()


def remove_planned_folders() -> None:
    """Remove the planned folders that are (still) empty, deepest first; forget them all."""
    for folder in sorted(_PLANNED, key=lambda p: len(p.parts), reverse=True):
        with contextlib.suppress(OSError):
            folder.rmdir()
    _PLANNED.clear()


def forget_planned_folders() -> None:
    _PLANNED.clear()


def check_writable_place(path: Path, what: str) -> None:
    """The nearest existing folder above `path` must take new files (its missing folders are
    made when the work is written). Probed by writing, which also catches read-only mounts."""
    place = _existing_place(path)
    _PLANNED.update(p for p in (path.parent, *path.parent.parents) if not p.exists())
    if not place.is_dir():
        raise TinylmError(f"{what} {path}: {place} is a file, not a folder; choose another path")
    try:
        fd, probe = tempfile.mkstemp(prefix=".tinylm-write-test.", dir=place)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise TinylmError(
            f"{what} {path}: cannot write in {place} ({exc.strerror or exc}); choose a "
            "writable place"
        ) from None


def check_output_file(path: str | Path, what: str = "--out") -> Path:
    """Before any work: `path` is a new file tinylm may write. Not a folder; not an existing
    file (someone's: tinylm does not overwrite what it was not asked to replace); not locked
    by a tinylm process writing it; in a writable place."""
    from tinylm.locks import describe, is_locked

    path = Path(path)
    if path.is_dir():
        raise TinylmError(f"{what} {path} is a folder; give a file name (e.g. {path / 'out'})")
    holder = is_locked(path, folder=False)
    if holder is not None:
        raise TinylmError(f"{what} {path} is being written by {describe(holder)}; wait for it")
    if path.exists() or path.is_symlink():
        raise TinylmError(
            f"{what} {path} already exists; tinylm does not overwrite files: delete it or "
            "choose another name"
        )
    check_writable_place(path, what)
    return path


def check_output_folder(
    path: str | Path, what: str = "--out", allowed: tuple[str, ...] = ()
) -> Path:
    """Before any work: `path` is a folder tinylm may fill. Not a file; absent or empty (apart
    from names in `allowed`, the command's own), so nobody's files are written over; not locked
    by a tinylm process writing it; in a writable place."""
    from tinylm.locks import LOCK_NAME, describe, is_locked

    path = Path(path)
    if path.exists() and not path.is_dir():
        raise TinylmError(f"{what} {path} is a file; give a folder for it to create")
    if path.is_dir():
        holder = is_locked(path)
        if holder is not None:
            raise TinylmError(f"{what} {path} is being written by {describe(holder)}; wait for it")
        others = [p.name for p in path.iterdir() if p.name not in (*allowed, LOCK_NAME)]
        if others:
            raise TinylmError(
                f"{what} {path} is not empty ({', '.join(sorted(others)[:3])}"
                f"{', ...' if len(others) > 3 else ''}); choose a new folder"
            )
        check_writable_place(path / "x", what)
    else:
        check_writable_place(path, what)
    return path
