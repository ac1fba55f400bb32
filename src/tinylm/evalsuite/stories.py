"""Where the suite's stories come from: held-out stories (prompts, grammar pairs) and the
training stories (novelty), from a prepared data folder or raw story files."""

from __future__ import annotations

import hashlib
import itertools
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tinylm.data.dataset import load_meta, open_tokens
from tinylm.data.prepare import META_NAME
from tinylm.data.readers import expand_inputs, read_stories
from tinylm.errors import TinylmError
from tinylm.fileio import sha256_file
from tinylm.run import read_run_config
from tinylm.tokenizer import Tokenizer


def split_stories(data_dir: Path, split: str) -> Iterator[str]:
    """Decode the stories of a prepared folder's split back to text (one BOS..EOS run each)."""
    meta = load_meta(data_dir)
    if split not in meta.splits:
        raise TinylmError(f"{data_dir} has no '{split}' split")
    tokens = open_tokens(meta, split)
    tokenizer = Tokenizer.load(meta.tokenizer_path)
    # Scan in blocks so a multi-GB split never becomes one boolean array in memory.
    block = 1 << 24
    begin = None
    for offset in range(0, len(tokens), block):
        for pos in (
            np.flatnonzero(tokens[offset : offset + block] == meta.bos_id) + offset
        ).tolist():
            if begin is not None:
                yield _decode(tokenizer, tokens[begin:pos], meta.eos_id)
            begin = pos
    if begin is not None:
        yield _decode(tokenizer, tokens[begin:], meta.eos_id)


def _decode(tokenizer: Tokenizer, ids: np.ndarray, eos_id: int) -> str:
    ids_list = [int(t) for t in ids[1:] if int(t) != eos_id]
    return tokenizer.decode(ids_list).strip()


def held_out_stories(data: str | Path, n: int) -> list[str]:
    """The first `n` held-out stories: a prepared folder's validation split, or a story file."""
    path = Path(data)
    if path.is_dir() and (path / META_NAME).is_file():
        stories = split_stories(path, "val")
    elif path.exists():
        stories = (s for p in expand_inputs([str(path)]) for s in read_stories(p))
    else:
        raise TinylmError(f"held-out data not found: {path}")
    chosen = [s for s in itertools.islice((s for s in stories if s.strip()), n)]
    if not chosen:
        raise TinylmError(f"{path} has no held-out stories to evaluate on")
    return chosen


def run_data_folder(run_dir: Path) -> Path | None:
    """The prepared folder a run was trained on, when it still exists."""
    recorded = (read_run_config(run_dir).get("data") or {}).get("path")
    if recorded and (Path(recorded) / META_NAME).is_file():
        return Path(recorded)
    return None


@dataclass(frozen=True)
class TrainingCorpus:
    """The training stories of a run, named by a content hash so an index built from them is
    found again (and rebuilt when the data changes)."""

    sources: tuple[Path, ...]
    key: str
    # A prepared folder is ours: its index lives inside it. Raw files may sit somewhere
    # read-only (a shared data set), so theirs goes to the user cache.
    folder: Path | None

    def stories(self) -> Iterator[str]:
        if self.folder is not None:
            yield from split_stories(self.folder, "train")
            return
        for path in self.sources:
            for story in read_stories(path):
                if story.strip():
                    yield story

    @property
    def description(self) -> str:
        if self.folder is not None:
            return f"{self.folder} (train split)"
        return ", ".join(str(p) for p in self.sources)


def training_corpus(train_data: str | None, run_dir: Path) -> TrainingCorpus:
    """`--train-data` when given, else the data folder recorded in the run's config."""
    if train_data is not None:
        path = Path(train_data)
        if path.is_dir() and (path / META_NAME).is_file():
            return _folder_corpus(path)
        if not path.exists():
            raise TinylmError(f"training data not found: {path} (--train-data)")
        files = tuple(expand_inputs([str(path)]))
        digest = hashlib.sha256()
        for file in files:
            digest.update(f"{file.name}:{sha256_file(file)}\n".encode())
        return TrainingCorpus(files, digest.hexdigest()[:16], None)
    folder = run_data_folder(run_dir)
    if folder is None:
        recorded = (read_run_config(run_dir).get("data") or {}).get("path")
        raise TinylmError(
            f"no training data for the novelty scores of {run_dir}: its data folder "
            f"{recorded or '(not recorded)'} is gone; pass --train-data FILE or --no-novelty"
        )
    return _folder_corpus(folder)


def _folder_corpus(folder: Path) -> TrainingCorpus:
    meta = json.loads((folder / META_NAME).read_text(encoding="utf-8"))
    # meta.json carries the sha256 of every source and the split sizes: it names the content.
    key = hashlib.sha256(json.dumps(meta, sort_keys=True).encode()).hexdigest()[:16]
    return TrainingCorpus((folder,), key, folder)
