"""The folders the GUI may touch: a runs folder and a data folder, and nothing outside them.

Every name that arrives from a browser (a run, a data folder, an upload) is resolved here, and
only ever to a real folder strictly inside one of the two roots: no `..`, no absolute paths, no
symlink that leads out. Runs and data folders are named by their path relative to their root
(`demo/run`, `synth-en-20000`), which is what the UI shows and sends back.
"""

from __future__ import annotations

import json
import re
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from tinylm.checkpoint import CHECKPOINTS_DIR, MODEL_FILE
from tinylm.data.prepare import META_NAME
from tinylm.errors import TinylmError
from tinylm.fileio import atomic_copy
from tinylm.gui.jobfile import JOB_FILE
from tinylm.locks import describe, is_locked
from tinylm.plots import read_metrics
from tinylm.run import CONFIG_FILE, METRICS_FILE, TOKENIZER_FILE

UPLOADS_DIR = "uploads"
MAX_DEPTH = 3  # runs/demo/run is two deep; deeper trees are not scanned
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,79}$")


def check_name(name: str, what: str) -> str:
    """A new folder name chosen in the UI: letters, digits, '.', '_', '-' only."""
    name = name.strip()
    if not NAME_RE.match(name):
        raise TinylmError(
            f"{what} name '{name}' is not allowed; use letters, digits, '.', '_' or '-' "
            "(at most 80, starting with a letter or digit)"
        )
    return name


def safe_file_name(name: str) -> str:
    """An uploaded file's name made safe to store: its last component, odd characters -> '_'."""
    base = PurePosixPath(name.replace("\\", "/")).name
    cleaned = re.sub(r"[^A-Za-z0-9._-]", "_", base).lstrip(".")
    return cleaned[:120] or "upload.txt"


@dataclass
class RunInfo:
    """What the Models tab shows about one run folder."""

    id: str
    path: Path
    arch: str
    parameters: int | None
    vocab_size: int | None
    tokenizer: str  # e.g. "BPE 1024", "bytes" ('' before the run has one)
    language: str
    data: str
    best_val_loss: float | None
    steps: int
    date: str
    has_weights: bool
    config: dict[str, Any]

    @property
    def instruct(self) -> bool:
        from tinylm.serve.prompts import supports_instruct

        return supports_instruct(self.config)


class Workspace:
    def __init__(self, runs_dir: str | Path, data_dir: str | Path) -> None:
        self.runs = Path(runs_dir).resolve()
        self.data = Path(data_dir).resolve()
        for root, flag in ((self.runs, "--runs"), (self.data, "--data")):
            if root.exists() and not root.is_dir():
                raise TinylmError(f"{flag} {root} is not a folder")
            root.mkdir(parents=True, exist_ok=True)
        self._tokenizer_cache: dict[tuple[str, int], tuple[str, str]] = {}

    # -- resolving names from the UI ----------------------------------------------------------

    @staticmethod
    def _inside(root: Path, name: str, what: str) -> Path:
        if not isinstance(name, str) or not name.strip():
            raise TinylmError(f"choose a {what} first")
        parts = PurePosixPath(name.strip()).parts
        if (
            "\x00" in name
            or "\\" in name
            or name.startswith("/")
            or not parts
            or any(p in ("", ".", "..") or p.startswith(".") for p in parts)
        ):
            raise TinylmError(f"'{name}' is not a {what} name")
        path = (root / Path(*parts)).resolve()
        if not path.is_relative_to(root) or path == root:
            raise TinylmError(f"'{name}' is not inside the {what}s folder {root}")
        return path

    def run_path(self, run_id: str) -> Path:
        """An existing run (it has a config.json or a job record) inside the runs folder."""
        path = self._inside(self.runs, run_id, "run")
        if not ((path / CONFIG_FILE).is_file() or (path / JOB_FILE).is_file()):
            raise TinylmError(f"no run '{run_id}' in {self.runs}")
        return path

    def new_run_path(self, name: str) -> Path:
        path = self._inside(self.runs, check_name(name, "run"), "run")
        if path.exists():
            raise TinylmError(f"a run named '{name}' already exists; choose another name")
        return path

    def data_path(self, data_id: str) -> Path:
        """An existing prepared data folder (it has meta.json) inside the data folder."""
        path = self._inside(self.data, data_id, "data folder")
        if not (path / META_NAME).is_file():
            raise TinylmError(f"no prepared data '{data_id}' in {self.data}")
        return path

    def data_id(self, path: str | Path) -> str | None:
        """The name of `path` inside the data folder, or None when it lies elsewhere."""
        resolved = Path(path).resolve()
        if not resolved.is_relative_to(self.data) or resolved == self.data:
            return None
        return resolved.relative_to(self.data).as_posix()

    def run_id(self, path: Path) -> str:
        return path.resolve().relative_to(self.runs).as_posix()

    # -- listing ------------------------------------------------------------------------------

    def _walk(self, root: Path, marker: tuple[str, ...]) -> Iterator[Path]:
        def visit(folder: Path, depth: int) -> Iterator[Path]:
            try:
                children = sorted(p for p in folder.iterdir() if p.is_dir())
            except OSError:
                return
            for child in children:
                if child.name.startswith(".") or child.name == CHECKPOINTS_DIR:
                    continue
                if not child.resolve().is_relative_to(root):
                    continue  # a symlink out of the root
                if any((child / m).is_file() for m in marker):
                    yield child
                elif depth < MAX_DEPTH:
                    yield from visit(child, depth + 1)

        yield from visit(root, 1)

    def run_ids(self, with_weights: bool = False) -> list[str]:
        found = []
        for path in self._walk(self.runs, (CONFIG_FILE, JOB_FILE)):
            if with_weights and not (path / MODEL_FILE).is_file():
                continue
            found.append(self.run_id(path))
        return found

    def data_ids(self) -> list[str]:
        return [p.relative_to(self.data).as_posix() for p in self._walk(self.data, (META_NAME,))]

    def runs_info(self) -> list[RunInfo]:
        return [self.run_info(run_id) for run_id in self.run_ids()]

    def run_info(self, run_id: str) -> RunInfo:
        path = self.run_path(run_id)
        config = read_json_dict(path / CONFIG_FILE)
        model = config.get("model") or {}
        data = config.get("data") or {}
        data_path = data.get("path")
        data_name = (self.data_id(data_path) or Path(data_path).name) if data_path else ""
        rows = read_metrics(path / METRICS_FILE)
        val = [r["val_loss"] for r in rows if "val_loss" in r]
        steps = max((r.get("step", 0) for r in rows), default=0)
        weights = path / MODEL_FILE
        stamp_file = weights if weights.is_file() else path / CONFIG_FILE
        if not stamp_file.is_file():
            stamp_file = path / JOB_FILE
        date = time.strftime("%Y-%m-%d %H:%M", time.localtime(stamp_file.stat().st_mtime))
        return RunInfo(
            id=run_id,
            path=path,
            arch=str(model.get("arch", "?")),
            parameters=config.get("parameters"),
            vocab_size=model.get("vocab_size"),
            tokenizer=self._tokenizer_facts(path)[1],
            language=self.language(path),
            data=data_name,
            best_val_loss=min(val) if val else None,
            steps=steps,
            date=date,
            has_weights=weights.is_file(),
            config=config,
        )

    def language(self, run: Path) -> str:
        """'en' or 'zh' by the run's tokenizer ('' when it has none yet)."""
        return self._tokenizer_facts(run)[0]

    def _tokenizer_facts(self, run: Path) -> tuple[str, str]:
        """(language, kind) of the run's tokenizer, read once per version of the file."""
        tok = run / TOKENIZER_FILE
        if not tok.is_file():
            return "", ""
        key = (str(tok), tok.stat().st_mtime_ns)
        if key not in self._tokenizer_cache:
            from tinylm.tokenizer import Tokenizer

            try:
                tokenizer = Tokenizer.load(tok)
            except TinylmError:
                return "", ""
            self._tokenizer_cache[key] = (tokenizer.language, tokenizer.kind)
        return self._tokenizer_cache[key]

    # -- changing -----------------------------------------------------------------------------

    def delete_run(self, run_id: str) -> Path:
        """Delete one run folder inside the runs folder (the caller has asked for confirmation
        and checked that no training job is writing to it)."""
        path = self.run_path(run_id)
        if path.is_symlink():
            raise TinylmError(f"'{run_id}' is a link, not a run folder; remove it by hand")
        holder = is_locked(path)
        if holder is not None:  # training started from the command line, say
            raise TinylmError(f"'{run_id}' is being written by {describe(holder)}; stop it first")
        shutil.rmtree(path)
        return path

    def store_upload(self, source: str | Path, original_name: str) -> Path:
        """Copy a file the browser uploaded into data/uploads/ under a safe, unused name."""
        folder = self.data / UPLOADS_DIR
        folder.mkdir(parents=True, exist_ok=True)
        name = safe_file_name(original_name)
        target = folder / name
        stem, suffix = target.stem, target.suffix
        n = 1
        while target.exists():
            n += 1
            target = folder / f"{stem}-{n}{suffix}"
        atomic_copy(source, target)
        return target


def read_json_dict(path: Path) -> dict[str, Any]:
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}
