"""The training-set index behind the novelty scores, built once per (data, embedder) and cached.

Layout (`<cache>/<data key>/`):
  corpus.bin, offsets.npy   the training stories as UTF-8, NUL-separated; story i is
                            corpus[offsets[i] : offsets[i + 1] - 1]
  shards.json, sa-NNNNN.npy suffix arrays of ~128 MiB slices cut at story boundaries
  <embedder>/NNNNN.npy      float16 embeddings, 8192 stories per chunk

Every file is written atomically and each shard/chunk is skipped when already there, so an
interrupted build resumes. A prepared data folder keeps its index inside itself
(`eval-index/`) when writable; raw story files (and read-only folders) use
`$TINYLM_CACHE` (default ~/.cache/tinylm)/eval-index.

Memory stays bounded for any corpus size: corpus text is streamed, one suffix-array shard is
built at a time (5 bytes per shard byte: ~640 MB), embeddings are computed and searched
one chunk at a time (8192 x 384 float16 = 6 MB) with only a running best per query kept.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from tinylm.errors import TinylmError
from tinylm.evalsuite.embed import MINILM, TFIDF, Embedder, HashedTfidf, MiniLM
from tinylm.evalsuite.stories import TrainingCorpus
from tinylm.evalsuite.substring import longest_match, matched_text, suffix_array
from tinylm.fileio import atomic_open, atomic_write_json, tinylm_cache
from tinylm.progress import Progress

SHARD_BYTES = 128 << 20
CHUNK_STORIES = 8192
INDEX_DIR = "eval-index"
SEPARATOR = b"\x00"


def cache_root() -> Path:
    return tinylm_cache(INDEX_DIR)


def _save_npy(path: Path, array: np.ndarray) -> None:
    with atomic_open(path, "wb", encoding=None) as f:
        np.save(f, array)


class TrainingIndex:
    def __init__(self, corpus: TrainingCorpus, show_progress: bool = True) -> None:
        self.corpus = corpus
        folder = corpus.folder
        beside = folder is not None and os.access(folder, os.W_OK)
        base = folder / INDEX_DIR if folder is not None and beside else cache_root()
        self.dir = base / corpus.key
        self.show_progress = show_progress
        self._text: np.ndarray | None = None
        self._offsets: np.ndarray | None = None

    # -- corpus text -----------------------------------------------------------------------
    def build_text(self) -> None:
        if (self.dir / "offsets.npy").is_file() and (self.dir / "corpus.bin").is_file():
            return
        try:
            self.dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise TinylmError(f"cannot create the novelty index at {self.dir}: {exc}") from None
        offsets = [0]
        with (
            atomic_open(self.dir / "corpus.bin", "wb", encoding=None) as out,
            Progress("indexing training stories", None, "stories", self.show_progress) as bar,
        ):
            for story in self.corpus.stories():
                raw = story.replace("\x00", " ").encode("utf-8") + SEPARATOR
                out.write(raw)
                offsets.append(offsets[-1] + len(raw))
                bar.advance(1)
        if len(offsets) == 1:
            (self.dir / "corpus.bin").unlink(missing_ok=True)
            raise TinylmError(f"no training stories in {self.corpus.description}")
        _save_npy(self.dir / "offsets.npy", np.asarray(offsets, dtype=np.int64))

    @property
    def text(self) -> np.ndarray:
        if self._text is None:
            self.build_text()
            self._text = np.memmap(self.dir / "corpus.bin", dtype=np.uint8, mode="r")
        return self._text

    @property
    def offsets(self) -> np.ndarray:
        if self._offsets is None:
            self.build_text()
            self._offsets = np.load(self.dir / "offsets.npy")
        return self._offsets

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def story(self, i: int) -> str:
        begin, end = int(self.offsets[i]), int(self.offsets[i + 1]) - 1
        return bytes(self.text[begin:end]).decode("utf-8")

    def stories(self, begin: int, end: int) -> list[str]:
        return [self.story(i) for i in range(begin, min(end, len(self)))]

    # -- suffix arrays ---------------------------------------------------------------------
    def shard_bounds(self) -> list[tuple[int, int]]:
        path = self.dir / "shards.json"
        if path.is_file():
            return [tuple(b) for b in json.loads(path.read_text())]
        offsets = self.offsets
        bounds, begin = [], 0
        while begin < offsets[-1]:
            # The last story boundary at most SHARD_BYTES on (or the next one, for a huge story).
            cut = int(np.searchsorted(offsets, begin + SHARD_BYTES, side="right")) - 1
            end = int(offsets[cut]) if offsets[cut] > begin else int(offsets[cut + 1])
            bounds.append((begin, end))
            begin = end
        atomic_write_json(path, bounds)
        return bounds

    def build_suffix_arrays(self) -> None:
        bounds = self.shard_bounds()
        todo = [i for i in range(len(bounds)) if not (self.dir / f"sa-{i:05d}.npy").is_file()]
        if not todo:
            return
        with Progress("suffix arrays", len(todo), "shards", self.show_progress) as bar:
            for i in todo:
                begin, end = bounds[i]
                _save_npy(
                    self.dir / f"sa-{i:05d}.npy", suffix_array(np.array(self.text[begin:end]))
                )
                bar.advance(1)

    def shards(self) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        self.build_suffix_arrays()
        for i, (begin, end) in enumerate(self.shard_bounds()):
            yield self.text[begin:end], np.load(self.dir / f"sa-{i:05d}.npy", mmap_mode="r")

    def longest_shared(self, query: str) -> str:
        """The longest substring of `query` that appears in some training story."""
        clean = query.replace("\x00", " ")
        length, start = longest_match(clean.encode("utf-8"), list(self.shards()))
        return matched_text(clean, length, start)

    # -- embeddings ------------------------------------------------------------------------
    def embedder(self, name: str, device: str = "cpu") -> Embedder:
        if name == MINILM:
            return MiniLM(device)
        if name == TFIDF:
            df_path = self.dir / "tfidf-df.npy"
            if not df_path.is_file():
                doc_freq = np.zeros(HashedTfidf.DF_BUCKETS, dtype=np.int64)
                with Progress("TF-IDF counts", len(self), "stories", self.show_progress) as bar:
                    for begin in range(0, len(self), CHUNK_STORIES):
                        batch = self.stories(begin, begin + CHUNK_STORIES)
                        HashedTfidf.count_doc_freq(batch, doc_freq)
                        bar.advance(len(batch))
                _save_npy(df_path, doc_freq)
            return HashedTfidf(np.load(df_path), len(self))
        raise TinylmError(f"unknown embedder {name!r}")

    def build_embeddings(self, embedder: Embedder) -> Path:
        folder = self.dir / embedder.name
        folder.mkdir(parents=True, exist_ok=True)
        chunks = range(0, len(self), CHUNK_STORIES)
        todo = [c for c in chunks if not (folder / f"{c // CHUNK_STORIES:05d}.npy").is_file()]
        if todo:
            left = sum(min(CHUNK_STORIES, len(self) - c) for c in todo)
            with Progress(
                f"embedding training stories ({embedder.name})",
                len(self),
                "stories",
                self.show_progress,
                start=len(self) - left,
            ) as bar:
                for begin in todo:
                    batch = self.stories(begin, begin + CHUNK_STORIES)
                    vectors = embedder.encode(batch).astype(np.float16)
                    _save_npy(folder / f"{begin // CHUNK_STORIES:05d}.npy", vectors)
                    bar.advance(len(batch))
        return folder

    def nearest(self, embedder: Embedder, queries: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """(cosine similarity, story index) of each query's nearest training story."""
        folder = self.build_embeddings(embedder)
        q = embedder.encode(queries)  # [n, dim]
        best = np.full(len(queries), -np.inf, dtype=np.float32)
        where = np.zeros(len(queries), dtype=np.int64)
        for begin in range(0, len(self), CHUNK_STORIES):
            chunk = np.load(folder / f"{begin // CHUNK_STORIES:05d}.npy").astype(np.float32)
            sims = q @ chunk.T  # [n, chunk]
            top = sims.argmax(axis=1)
            value = sims[np.arange(len(queries)), top]
            better = value > best
            best[better] = value[better]
            where[better] = begin + top[better]
        return np.clip(best, -1.0, 1.0), where
