"""Grammar as minimal pairs (in the manner of BLiMP): a sentence from a held-out story and a copy
broken in one controlled way. A model that knows the grammar gives the original a higher
likelihood. The score is the share of pairs it gets right: 50% is chance, 100% is perfect.

Pairs are built from the evaluation stories themselves, so they use the corpus' own words:
- agreement (English): one verb flipped between singular and plural: was/were, is/are,
  has/have, does/do ("The dog were happy.").
- article (English): a/an swapped before a word ("She ate a apple.").
- word order (any language): two neighbouring words swapped, not at the sentence start
  ("Tom went the to park."); for Chinese, two neighbouring characters.
Sentence log-likelihood is summed over tokens after BOS; both sentences of a pair contain the
same words (or one word in a different form), so length bias is small.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass

import torch
from torch import nn

from tinylm.adherence import sentences, text_lang
from tinylm.device import autocast
from tinylm.progress import Progress
from tinylm.tokenizer import Tokenizer

AGREEMENT = {
    "was": "were",
    "were": "was",
    "is": "are",
    "are": "is",
    "has": "have",
    "have": "has",
    "does": "do",
    "do": "does",
}
KINDS = ("agreement", "article", "word order")
MIN_WORDS, MAX_WORDS = 4, 25


@dataclass
class MinimalPair:
    kind: str
    good: str
    bad: str


def _swap_case(template: str, word: str) -> str:
    return word.capitalize() if template[:1].isupper() else word


def _agreement(sentence: str, rng: random.Random) -> str | None:
    spots = [m for m in re.finditer(r"\b[A-Za-z]+\b", sentence) if m.group().lower() in AGREEMENT]
    if not spots:
        return None
    m = rng.choice(spots)
    swapped = _swap_case(m.group(), AGREEMENT[m.group().lower()])
    return sentence[: m.start()] + swapped + sentence[m.end() :]


def _article(sentence: str, rng: random.Random) -> str | None:
    spots = [m for m in re.finditer(r"\b(a|an|A|An)\b(?= [A-Za-z])", sentence)]
    if not spots:
        return None
    m = rng.choice(spots)
    word = m.group()
    swapped = {"a": "an", "an": "a", "A": "An", "An": "A"}[word]
    return sentence[: m.start()] + swapped + sentence[m.end() :]


def _word_order(sentence: str, rng: random.Random, lang: str) -> str | None:
    if lang == "zh":
        spots = [
            i
            for i in range(1, len(sentence) - 2)
            if sentence[i] != sentence[i + 1]
            and sentence[i].isalnum()
            and sentence[i + 1].isalnum()
        ]
        if not spots:
            return None
        i = rng.choice(spots)
        return sentence[:i] + sentence[i + 1] + sentence[i] + sentence[i + 2 :]
    words = list(re.finditer(r"[A-Za-z']+", sentence))
    spots = [i for i in range(1, len(words) - 1) if words[i].group() != words[i + 1].group()]
    if not spots:
        return None
    i = rng.choice(spots)
    a, b = words[i], words[i + 1]
    return (
        sentence[: a.start()]
        + b.group()
        + sentence[a.end() : b.start()]
        + a.group()
        + sentence[b.end() :]
    )


def build_pairs(stories: list[str], n: int, seed: int = 0) -> list[MinimalPair]:
    """Up to `n` pairs, as evenly spread over the kinds as the text allows."""
    lang = text_lang(*stories[:20])
    rng = random.Random(seed)
    candidates = []
    for story in stories:
        for s in sentences(story, lang):
            size = len(s) // 2 if lang == "zh" else len(s.split())
            if MIN_WORDS <= size <= MAX_WORDS:
                candidates.append(s)
    rng.shuffle(candidates)
    kinds = KINDS if lang == "en" else ("word order",)
    per_kind = {k: [] for k in kinds}
    for sentence in candidates:
        for kind in kinds:
            if len(per_kind[kind]) >= -(-n // len(kinds)):
                continue
            if kind == "agreement":
                bad = _agreement(sentence, rng)
            elif kind == "article":
                bad = _article(sentence, rng)
            else:
                bad = _word_order(sentence, rng, lang)
            if bad is not None and bad != sentence:
                per_kind[kind].append(MinimalPair(kind, sentence, bad))
                break
    pairs = [p for kind in kinds for p in per_kind[kind]]
    return pairs[:n] if len(pairs) > n else pairs


@torch.no_grad()
def sentence_logprobs(
    model: nn.Module,
    tokenizer: Tokenizer,
    texts: list[str],
    device: torch.device,
    batch_size: int = 32,
    progress: Progress | None = None,
) -> list[float]:
    """Summed log-probability (nats) of each text's tokens after BOS."""
    was_training = model.training
    model.eval()
    out: list[float] = []
    limit = model.config.max_seq_len + 1
    try:
        for begin in range(0, len(texts), batch_size):
            rows = [
                ids[:limit]
                for ids in tokenizer.encode_batch(
                    texts[begin : begin + batch_size], bos=True, eos=False
                )
            ]
            width = max(len(r) for r in rows)
            # Right padding: a causal model never looks at the pads after a row's end.
            batch = torch.full((len(rows), width), tokenizer.pad_id or 0, dtype=torch.long)
            for i, r in enumerate(rows):
                batch[i, : len(r)] = torch.tensor(r)
            batch = batch.to(device)
            with autocast(device, torch.float32):
                logits, _ = model(batch[:, :-1])
            logp = torch.log_softmax(logits.float(), dim=-1)  # [B, T-1, V]
            picked = logp.gather(-1, batch[:, 1:, None]).squeeze(-1)  # [B, T-1]
            lengths = torch.tensor([len(r) - 1 for r in rows], device=device)
            valid = torch.arange(width - 1, device=device)[None, :] < lengths[:, None]
            out.extend((picked * valid).sum(dim=1).tolist())
            if progress is not None:
                progress.advance(len(rows))
    finally:
        model.train(was_training)
    return out


def grammar_scores(
    model: nn.Module,
    tokenizer: Tokenizer,
    pairs: list[MinimalPair],
    device: torch.device,
    show_progress: bool = True,
) -> dict[str, float]:
    """Accuracy on the pairs, overall and per kind (keys 'overall' and each kind present)."""
    texts = [t for p in pairs for t in (p.good, p.bad)]
    with Progress("grammar pairs", len(texts), "sentences", show_progress) as bar:
        scores = sentence_logprobs(model, tokenizer, texts, device, progress=bar)
    right = [scores[2 * i] > scores[2 * i + 1] for i in range(len(pairs))]
    result = {"overall": sum(right) / len(right)} if right else {}
    for kind in KINDS:
        mine = [ok for ok, p in zip(right, pairs, strict=True) if p.kind == kind]
        if mine:
            result[kind] = sum(mine) / len(mine)
    return result
