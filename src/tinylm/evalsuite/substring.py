"""Longest substring a completion shares with any training story, via suffix arrays.

The training text (UTF-8, stories separated by a NUL byte, which no completion contains, so no
match crosses a story boundary) is cut into shards at story boundaries; each shard gets its own
suffix array (int32 offsets, 4 bytes per byte of text), built once and cached. Memory is bounded
by one shard, whatever the corpus size: building peaks near 40 bytes per shard byte (prefix
doubling with numpy sorts), querying memory-maps the shard and its array.

Query: the longest match L only grows, so for each start position we ask one question, "does
text[i : i + L + 1] occur?" (a binary search over the suffix array), and extend L while it does.
That is O((n + L) log N) byte-string comparisons per completion and shard.
"""

from __future__ import annotations

import numpy as np

# Sorting suffixes by their first 2**12 bytes is enough: a shared substring longer than that is
# reported as that length (and it is memorisation by any measure).
MAX_MATCH_BYTES = 4096


def suffix_array(text: np.ndarray) -> np.ndarray:
    """Offsets of the suffixes of `text` (uint8 [N]) in sorted order, as int32 [N], compared
    on their first MAX_MATCH_BYTES bytes (prefix doubling: rank pairs sorted each round)."""
    n = len(text)
    if n == 0:
        return np.zeros(0, dtype=np.int32)
    rank = text.astype(np.int64)
    base = max(n, 256) + 2  # ranks (bytes in round one) and "past the end" fit below it
    k = 1
    while True:
        second = np.zeros(n, dtype=np.int64)
        second[: n - k] = rank[k:] + 1  # 0 = past the end, sorts first
        key = rank * base + second  # [N] int64, < base**2
        del second
        order = np.argsort(key, kind="stable")
        sorted_key = key[order]
        del key
        new_rank = np.empty(n, dtype=np.int64)
        distinct = np.empty(n, dtype=np.int64)
        distinct[0] = 0
        np.cumsum(sorted_key[1:] != sorted_key[:-1], out=distinct[1:])
        del sorted_key
        new_rank[order] = distinct
        rank = new_rank
        k *= 2
        if distinct[-1] == n - 1 or k >= MAX_MATCH_BYTES:
            return order.astype(np.int32)


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
