"""Near-duplicate detection with MinHash LSH in bounded memory.

Signatures: each story's word n-grams (shingles) are hashed to 32 bits and pushed through
`num_perm` universal hash functions h(x) = ((a*x + b) mod 2^64) >> 32 (multiply-shift, a and b
random 64-bit, a odd), whose wrap-around arithmetic numpy does at full speed; the signature is
the minimum of each over the story's shingles, and the share of equal positions between two
signatures estimates the Jaccard similarity of their shingle sets. This is datasketch's
MinHash (with a faster hash family), computed for a whole batch of stories in a few numpy
operations: one datasketch object per story costs ~0.4 ms in Python overhead, 15 CPU-minutes on
full TinyStories; the tests check that both estimate the same similarities.

Index: datasketch's in-memory MinHashLSH keeps a dict of sets per band, ~400 bytes per story and
band, ~9 GB for full TinyStories. Here each story keeps one 64-bit hash per band in a numpy
array (2.1M stories x 9 bands = 150 MB); candidates are stories sharing a band hash (found by
sorting each band column), every candidate pair is confirmed by its estimated Jaccard similarity
from the full signatures (a disk-backed memmap), and confirmed pairs are joined with union-find.
In each group of near duplicates the earliest story is kept.
"""

from __future__ import annotations

import itertools
import mmap
import zlib
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np

SHIFT = np.uint64(32)
CHUNK_SHINGLES = 8192  # rows of the [shingles, num_perm] uint64 matrix computed at once (8 MB)


def optimal_bands(threshold: float, num_perm: int) -> tuple[int, int]:
    """(bands, rows) minimising false positives + false negatives around `threshold`, the
    standard LSH S-curve trade-off (as datasketch's MinHashLSH chooses it)."""
    grid = np.linspace(0.0, 1.0, 1001)
    best, best_err = (1, num_perm), float("inf")
    for b in range(1, num_perm + 1):
        r = num_perm // b
        if r < 1:
            break
        prob = 1.0 - (1.0 - grid**r) ** b  # chance two sets of similarity s share a band
        below, above = grid <= threshold, grid >= threshold
        fp = np.trapezoid(prob[below], grid[below])
        fn = np.trapezoid(1.0 - prob[above], grid[above])
        if fp + fn < best_err:
            best, best_err = (b, r), fp + fn
    return best


_WORD_HASHES: dict[str, int] = {}
_MAX_CACHED_WORDS = 1 << 21


def _word_hashes(batch_words: list[list[str]], total: int) -> np.ndarray:
    """uint64 crc32 of every word (C speed, and the same in every process, unlike hash()),
    through a cache: a corpus repeats a small vocabulary millions of times."""
    cache = _WORD_HASHES
    new = set(itertools.chain.from_iterable(batch_words)).difference(cache)
    if len(cache) + len(new) > _MAX_CACHED_WORDS:
        cache.clear()
        new = set(itertools.chain.from_iterable(batch_words))
    for word in new:
        cache[word] = zlib.crc32(word.encode("utf-8"))
    words = itertools.chain.from_iterable(batch_words)
    return np.fromiter(map(cache.__getitem__, words), np.uint64, count=total)


@dataclass(frozen=True)
class MinHasher:
    num_perm: int
    ngram: int
    bands: int
    rows: int
    seed: int = 1
    a: np.ndarray = field(repr=False, compare=False, default=None)  # type: ignore[assignment]
    b: np.ndarray = field(repr=False, compare=False, default=None)  # type: ignore[assignment]

    @classmethod
    def create(cls, num_perm: int, ngram: int, threshold: float, seed: int = 1) -> MinHasher:
        bands, rows = optimal_bands(threshold, num_perm)
        rng = np.random.default_rng(seed)
        a = rng.integers(0, 1 << 63, size=num_perm, dtype=np.uint64) * np.uint64(2) + np.uint64(1)
        b = rng.integers(0, 1 << 63, size=num_perm, dtype=np.uint64) * np.uint64(2)
        return cls(num_perm, ngram, bands, rows, seed, a, b)

    def signatures(self, batch_words: list[list[str]]) -> np.ndarray:
        """uint32 [stories, num_perm]: the MinHash of each story's word n-grams (of the whole
        story when it is shorter than n words)."""
        flat, lengths = self._shingles(batch_words)
        starts = np.r_[0, np.cumsum(lengths)[:-1]].astype(np.int64)
        out = np.empty((len(batch_words), self.num_perm), dtype=np.uint32)
        # Chunk on story boundaries so the [num_perm, shingles] matrix stays small; permutation-
        # major layout makes the per-story minimum a reduction along contiguous rows.
        buffer = np.empty((self.num_perm, CHUNK_SHINGLES), dtype=np.uint64)
        i = 0
        while i < len(batch_words):
            j, total = i, 0
            while j < len(batch_words) and (total == 0 or total + lengths[j] <= CHUNK_SHINGLES):
                total += int(lengths[j])
                j += 1
            lo = starts[i]
            if total <= CHUNK_SHINGLES:
                work = buffer[:, :total]
            else:  # one story longer than a chunk
                work = np.empty((self.num_perm, total), dtype=np.uint64)
            with np.errstate(over="ignore"):
                np.multiply(self.a[:, None], flat[None, lo : lo + total], out=work)
                np.add(work, self.b[:, None], out=work)
            np.right_shift(work, SHIFT, out=work)
            out[i:j] = np.minimum.reduceat(work, starts[i:j] - lo, axis=1).T
            i = j
        return out

    def _shingles(self, batch_words: list[list[str]]) -> tuple[np.ndarray, np.ndarray]:
        """32-bit hashes of every story's n-grams, concatenated, and how many each story has."""
        n = self.ngram
        counts = np.fromiter(map(len, batch_words), dtype=np.int64, count=len(batch_words))
        total = int(counts.sum())
        h = _word_hashes(batch_words, total)
        coeff = _ngram_coefficients(n)
        # Mix every window of n consecutive words, then keep the windows inside one story.
        windows = max(0, total - n + 1)
        mixed = np.zeros(windows, dtype=np.uint64)
        with np.errstate(over="ignore"):  # wrap-around mixing is intended
            for k in range(n):
                mixed += h[k : k + windows] * coeff[k]
        ends = np.cumsum(counts)
        starts = ends - counts
        per_story = np.maximum(counts - n + 1, 1)
        parts = []
        for s, c in zip(starts.tolist(), counts.tolist(), strict=True):
            if c >= n:
                parts.append(mixed[s : s + c - n + 1])
            else:  # shorter than one n-gram: the whole story is its single shingle
                with np.errstate(over="ignore"):
                    parts.append(np.array([(h[s : s + c] * coeff[:c]).sum(dtype=np.uint64)]))
        flat = np.concatenate(parts) if parts else np.zeros(0, np.uint64)
        return flat >> SHIFT, per_story

    def band_hashes(self, signatures: np.ndarray) -> np.ndarray:
        """uint64 [n, bands]: each band's rows folded into one 64-bit value."""
        n = signatures.shape[0]
        used = signatures[:, : self.bands * self.rows].astype(np.uint64)
        coeff = _band_coefficients(self.rows)
        with np.errstate(over="ignore"):  # wrap-around multiply is the point
            return (used.reshape(n, self.bands, self.rows) * coeff).sum(axis=2, dtype=np.uint64)


@lru_cache(maxsize=16)
def _odd_coefficients(n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.integers(1, 2**63, size=n, dtype=np.uint64) * np.uint64(2) + np.uint64(1)


def _ngram_coefficients(n: int) -> np.ndarray:
    return _odd_coefficients(n, 0x5EED)


def _band_coefficients(rows: int) -> np.ndarray:
    return _odd_coefficients(rows, 0x7E57)


def estimated_jaccard(a: np.ndarray, b: np.ndarray) -> float:
    return float((a == b).mean())


class _UnionFind:
    def __init__(self) -> None:
        self.parent: dict[int, int] = {}

    def find(self, x: int) -> int:
        root = x
        while self.parent.get(root, root) != root:
            root = self.parent[root]
        while x != root:  # path compression
            self.parent[x], x = root, self.parent.get(x, x)
        return root

    def union(self, a: int, b: int) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            lo, hi = min(ra, rb), max(ra, rb)
            self.parent[hi] = lo  # the earliest story stays the representative


def _drop_resident_pages(array: np.ndarray) -> None:
    """Unmap the pages of a file-backed memmap that reading made resident. They count in the
    process's RSS although the kernel could drop them, and confirming every candidate pair
    touches the whole file (1.5 GB of signatures for 3M stories: the 2 GB benchmark peaked at
    2.5 GB RSS before this). Reading them again comes from the page cache."""
    handle = getattr(array, "_mmap", None)
    if isinstance(handle, mmap.mmap) and hasattr(mmap, "MADV_DONTNEED"):
        handle.madvise(mmap.MADV_DONTNEED)


def find_near_duplicates(
    bands: np.ndarray,
    signatures: np.ndarray,
    threshold: float,
    progress=None,
    chunk: int = 65536,
) -> np.ndarray:
    """For n stories, int64 [n]: -1 for stories to keep, else the index of the earlier story
    each one duplicates."""
    n = bands.shape[0]
    uf = _UnionFind()
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    for band in range(bands.shape[1]):
        column = bands[:, band]
        order = np.argsort(column, kind="stable")  # equal hashes: ascending story index
        ordered = column[order]
        starts = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]])
        sizes = np.diff(np.r_[starts, n])
        head = np.repeat(order[starts], sizes)  # first (earliest) story of each bucket
        members = order[head != order]
        heads = head[head != order]
        for lo in range(0, len(members), chunk):
            a, b = heads[lo : lo + chunk], members[lo : lo + chunk]
            similarity = (signatures[a] == signatures[b]).mean(axis=1)
            for i, j in zip(
                a[similarity >= threshold].tolist(),
                b[similarity >= threshold].tolist(),
                strict=True,
            ):
                uf.union(i, j)
            _drop_resident_pages(signatures)
        if progress is not None:
            progress(1)
    result = np.full(n, -1, dtype=np.int64)
    for x in list(uf.parent):
        root = uf.find(x)
        if root != x:
            result[x] = root
    return result


class SignatureStore:
    """Append-only uint32 signature rows on disk, read back as a memmap: the full signatures of
    2M stories (1 GB at 128 permutations) never have to sit in memory."""

    def __init__(self, path: Path, num_perm: int) -> None:
        self.path = path
        self.num_perm = num_perm
        self.rows = 0
        self._file = open(path, "wb")  # noqa: SIM115 - closed in finish()

    def append(self, signatures: np.ndarray) -> None:
        self._file.write(np.ascontiguousarray(signatures, dtype=np.uint32).tobytes())
        self.rows += signatures.shape[0]

    def finish(self) -> np.ndarray:
        self._file.close()
        if self.rows == 0:
            return np.zeros((0, self.num_perm), dtype=np.uint32)
        return np.memmap(self.path, dtype=np.uint32, mode="r", shape=(self.rows, self.num_perm))
