"""N-gram overlap: ROUGE-n precision of a completion against a story, and distinct-n of a set
of completions. Units are lower-cased words (English) or characters (Chinese), as in
`tinylm.adherence`."""

from __future__ import annotations

from collections import Counter

from tinylm.adherence import text_lang, units


def ngrams(units: list[str], n: int) -> Counter[tuple[str, ...]]:
    return Counter(tuple(units[i : i + n]) for i in range(len(units) - n + 1))


def rouge_precision(candidate: str, reference: str, n: int, lang: str | None = None) -> float:
    """Share of the candidate's n-grams (with multiplicity) that the reference also has: 1.0 means
    every n-word phrase of the completion appears in that training story."""
    lang = lang or text_lang(reference)
    cand = ngrams(units(candidate, lang), n)
    total = sum(cand.values())
    if total == 0:
        return 0.0
    ref = ngrams(units(reference, lang), n)
    return sum(min(count, ref[gram]) for gram, count in cand.items()) / total


def distinct_n(texts: list[str], n: int, lang: str | None = None) -> float | None:
    """Distinct n-grams / all n-grams over `texts` (Li et al., 2016): low means repetitive."""
    lang = lang or text_lang(*texts[:20])
    counts: Counter[tuple[str, ...]] = Counter()
    for text in texts:
        counts.update(ngrams(units(text, lang), n))
    total = sum(counts.values())
    return len(counts) / total if total else None
