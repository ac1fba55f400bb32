"""Longest substring a completion shares with any training story, via suffix arrays.

The training text (UTF-8, stories separated by a NUL byte, which no completion contains, so no
match crosses a story boundary) is cut into shards at story boundaries; each shard gets its own
suffix array (int32 offsets, 4 bytes per byte of text), built once and cached. Memory is bounded
by one shard, whatever the corpus size: libdivsufsort (pydivsufsort) builds in place next to the
text, 5 bytes per shard byte, at about 8 MB/s on one core; querying memory-maps the shard and its
array.

Query: the longest match L only grows, so for each start position we ask one question, "does
text[i : i + L + 1] occur?" (a binary search over the suffix array), and extend L while it does.
That is O((n + L) log N) byte-string comparisons per completion and shard, against the brute
force's O(n + L) scans of the whole text (benchmarks/novelty_index.py measures the crossover).
"""

from __future__ import annotations

import numpy as np
from pydivsufsort import divsufsort

# A shared substring longer than this is reported as this length (memorisation by any measure);
# it caps the per-query work on a story copied whole.
MAX_MATCH_BYTES = 4096


def suffix_array(text: np.ndarray) -> np.ndarray:
    """Offsets of the suffixes of `text` (uint8 [N]) in sorted order, as int32 [N]."""
    if len(text) == 0:
        return np.zeros(0, dtype=np.int32)
    # libdivsufsort writes through ctypes, which refuses read-only buffers (memmaps, bytes).
    return divsufsort(np.require(text, np.uint8, ["C_CONTIGUOUS", "WRITEABLE"]))


def _occurs(pattern: bytes, text: memoryview, sa: np.ndarray) -> bool:
    """Whether `pattern` is a prefix of some suffix (binary search over the suffix array)."""
    m = len(pattern)
    lo, hi = 0, len(sa)
    while lo < hi:
        mid = (lo + hi) // 2
        start = int(sa[mid])
        if bytes(text[start : start + m]) < pattern:
            lo = mid + 1
        else:
            hi = mid
    if lo == len(sa):
        return False
    start = int(sa[lo])
    return bytes(text[start : start + m]) == pattern


def longest_match(
    query: bytes, shards: list[tuple[np.ndarray, np.ndarray]], at_least: int = 0
) -> tuple[int, int]:
    """(length, start in `query`) of the longest substring of `query` found in any shard, given
    as (text uint8 [N], suffix array int32 [N]) pairs. Lengths are in bytes; callers trim to
    whole characters."""
    best, where = at_least, 0
    for text, sa in shards:
        view = memoryview(text)
        for i in range(len(query) - best):
            while i + best < len(query) and best < MAX_MATCH_BYTES:
                if not _occurs(query[i : i + best + 1], view, sa):
                    break
                best += 1
                where = i
    return best, where


def matched_text(query: str, length: int, start: int) -> str:
    """The characters of `query` covered by the byte span [start, start + length)."""
    raw = query.encode("utf-8")[start : start + length]
    return raw.decode("utf-8", errors="ignore")
