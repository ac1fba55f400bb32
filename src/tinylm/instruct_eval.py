"""`tinylm eval RUN --instruct`: does the model write the story it is asked for?

Prompts come from instruct records (a raw TinyStories-Instruct file, the validation split of a
prepared instruct folder) or from the built-in generator (held-out seed). Each run writes one
story per prompt with the same sampling seeds, each story is scored by `tinylm.adherence`, and
the scores of a base and a fine-tuned run land side by side in a Markdown table, next to the
dataset's own stories as a reference ceiling.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from tinylm.adherence import Adherence, score, text_lang
from tinylm.data.instruct import InstructRecord, parse_record, prompt_ids, read_instruct
from tinylm.errors import TinylmError
from tinylm.generate import SamplingOptions
from tinylm.progress import Progress
from tinylm.run import LoadedRun

# Built-in prompts come from this seed of the story generator, which training data made with
# the default seeds (0, 1, ...) never uses.
EVAL_SEED = 9_000_001
EXAMPLES_IN_REPORT = 3


def synth_prompts(lang: str, n: int, seed: int = EVAL_SEED) -> list[InstructRecord]:
    """Held-out prompts from the story generator: words and features always (what `generate
    --words --features` asks for), summary and sentence as often as in its instruct data; the
    generated story is kept as the reference."""
    from tinylm.synth import generate_stories, instruct_fields

    records = []
    for index, story in enumerate(generate_stories(lang, n, seed)):  # type: ignore[arg-type]
        shown = instruct_fields(lang, seed, index)  # type: ignore[arg-type]
        records.append(
            InstructRecord(
                story=story.text,
                words=story.words,
                features=story.features,
                summary=story.summary if "summary" in shown else None,
                sentence=story.sentence if "sentence" in shown else None,
            )
        )
    return records


def data_prompts(data: str | Path, n: int) -> tuple[list[InstructRecord], Any]:
    """The first `n` records with instructions from a raw instruct file, or from the
    validation split of a prepared instruct folder (then also its metadata)."""
    path = Path(data)
    if path.is_dir():
        from tinylm.data.dataset import load_meta, open_tokens
        from tinylm.tokenizer import Tokenizer

        meta = load_meta(path)
        if meta.instruct is None:
            raise TinylmError(
                f"{path} holds plain stories, not instruct records; prepare it with "
                "`tinylm data prepare FILE --instruct`"
            )
        tokens = open_tokens(meta, "val")
        tokenizer = Tokenizer.load(meta.tokenizer_path)
        starts = [*np.flatnonzero(tokens == meta.bos_id).tolist(), len(tokens)]
        records = []
        for begin, end in itertools.pairwise(starts):
            record = parse_record(tokenizer.decode(tokens[begin:end].tolist()))
            if record is not None and record.has_instructions:
                records.append(record)
                if len(records) == n:
                    break
        return records, meta
    records = [r for r in read_instruct(path) if r.has_instructions][:n]
    return records, None


@dataclass
class RunScores:
    """Adherence of one set of stories (one run, or the reference stories)."""

    name: str
    scores: list[Adherence]
    stories: list[str]
    ended: list[bool] = field(default_factory=list)
    story_loss: float | None = None

    def metrics(self) -> dict[str, float | None]:
        out: dict[str, float | None] = {}
        words = [ok for s in self.scores for ok in s.words.values()]
        with_words = [s for s in self.scores if s.words]
        out["words_used"] = _mean(words)
        out["all_words_used"] = _mean([all(s.words.values()) for s in with_words])
        features = [ok for s in self.scores for ok in s.features.values()]
        out["features_present"] = _mean(features)
        for name in sorted({f for s in self.scores for f in s.features}):
            out[f"feature:{name}"] = _mean(
                [s.features[name] for s in self.scores if name in s.features]
            )
        out["summary_rouge_l"] = _mean(
            [s.summary_f1 for s in self.scores if s.summary_f1 is not None]
        )
        out["summary_recall"] = _mean(
            [s.summary_recall for s in self.scores if s.summary_recall is not None]
        )
        out["sentence_included"] = _mean(
            [s.sentence for s in self.scores if s.sentence is not None]
        )
        out["story_words"] = _mean([len(story.split()) for story in self.stories])
        out["ended"] = _mean(self.ended) if self.ended else None
        out["story_loss"] = self.story_loss
        return out


def _mean(values: list[Any]) -> float | None:
    return float(sum(values)) / len(values) if values else None


def write_stories(
    run: LoadedRun,
    records: list[InstructRecord],
    options: SamplingOptions,
    show_progress: bool = True,
) -> tuple[list[str], list[bool]]:
    """One story per prompt; prompt i is sampled with seed options.seed + i, so two runs get
    the same random stream for the same prompt. Also reports which stories ended with EOS."""
    stories, ended = [], []
    stops = run.stop_ids
    with Progress(
        f"writing stories ({run.path.name})",
        total=len(records),
        unit="stories",
        enabled=show_progress,
    ) as bar:
        for i, record in enumerate(records):
            opts = SamplingOptions(**{**vars(options), "seed": (options.seed or 0) + i})
            ids: list[int] = []
            finished = False
            for token in run.sample_ids(prompt_ids(run.tokenizer, record), opts):
                if int(token[0]) in stops:
                    finished = True
                    break
                ids.append(int(token[0]))
            stories.append(run.tokenizer.decode(ids).strip())
            ended.append(finished)
            bar.advance(1)
    return stories, ended


def story_loss(run: LoadedRun, meta: Any, batch_size: int = 16) -> float | None:
    """Mean loss (nats/token) on the stories of a prepared instruct folder's validation split,
    when it was tokenized with this run's tokenizer."""
    import torch

    from tinylm.data.dataset import open_mask, open_tokens
    from tinylm.evaluate import token_nll

    if meta is None or meta.tokenizer_sha256 != run.tokenizer.sha256():
        return None
    total, count = token_nll(
        run.model,
        open_tokens(meta, "val"),
        batch_size,
        run.device,
        torch.float32,
        mask=open_mask(meta, "val"),
    )
    return total / count if count else None


def evaluate_instruct(
    runs: list[LoadedRun],
    records: list[InstructRecord],
    options: SamplingOptions,
    meta: Any = None,
    show_progress: bool = True,
) -> list[RunScores]:
    """Scores of each run's stories, then of the records' own stories (when they have them)."""
    if not records:
        raise TinylmError(
            "no instruct prompts to evaluate: the data has no records with instructions"
        )
    lang = text_lang(*(" ".join(r.words) + (r.summary or "") + r.story for r in records[:20]))
    results = []
    for run in runs:
        stories, ended = write_stories(run, records, options, show_progress)
        scores = [score(r, s, lang) for r, s in zip(records, stories, strict=True)]
        results.append(RunScores(str(run.path), scores, stories, ended, story_loss(run, meta)))
    if all(r.story for r in records):
        references = [r.story for r in records]
        scores = [score(r, r.story, lang) for r in records]
        results.append(RunScores("reference stories", scores, references))
    return results


METRIC_LABELS = {
    "words_used": "requested words used",
    "all_words_used": "prompts with every word used",
    "features_present": "requested features present",
    "summary_rouge_l": "summary ROUGE-L F1",
    "summary_recall": "summary ROUGE-L recall",
    "sentence_included": "random sentence included",
    "story_words": "story length (words)",
    "ended": "stories that ended (EOS)",
    "story_loss": "story loss (nats/token)",
}
_PERCENT = {"words_used", "all_words_used", "features_present", "sentence_included", "ended"}


def _label(key: str) -> str:
    if key.startswith("feature:"):
        return f"feature {key.split(':', 1)[1]}"
    return METRIC_LABELS[key]


def _fmt(key: str, value: float | None) -> str:
    if value is None:
        return "–"
    if key in _PERCENT or key.startswith("feature:"):
        return f"{100 * value:.1f}%"
    if key == "story_words":
        return f"{value:.0f}"
    return f"{value:.3f}"


def _change(key: str, before: float | None, after: float | None) -> str:
    if before is None or after is None:
        return "–"
    delta = after - before
    if key in _PERCENT or key.startswith("feature:"):
        return f"{100 * delta:+.1f} pts"
    if key == "story_words":
        return f"{delta:+.0f}"
    return f"{delta:+.3f}"


def markdown_report(
    results: list[RunScores],
    records: list[InstructRecord],
    source: str,
    options: SamplingOptions,
    compare: bool,
) -> str:
    """The report: a table (runs side by side, change between the first two when `compare`),
    how the scores are computed, and a few prompts with each run's story."""
    runs = [r for r in results if r.name != "reference stories"]
    reference = [r for r in results if r.name == "reference stories"]
    metrics = [r.metrics() for r in results]
    keys = [k for k in metrics[0] if any(m.get(k) is not None for m in metrics)]
    names = [f"`{r.name}`" for r in runs] + (["reference stories"] if reference else [])
    if compare:
        names[0] = f"before: {names[0]}"
        names[1] = f"after: {names[1]}"
    header = ["metric", *names] + (["change"] if compare else [])
    if options.temperature == 0:
        sampling = f"greedy decoding, at most {options.max_new_tokens} new tokens"
    else:
        sampling = (
            f"sampling: temperature {options.temperature}, top-p {options.top_p}, top-k "
            f"{options.top_k}, at most {options.max_new_tokens} new tokens, prompt i sampled "
            f"with seed {options.seed or 0} + i (the same for every run)"
        )
    lines = [
        "# Instruction following" + (" before and after fine-tuning" if compare else ""),
        "",
        f"{len(records)} prompts from {source}; {sampling}.",
        "",
        "| " + " | ".join(header) + " |",
        "|" + "---|" * len(header),
    ]
    for key in keys:
        row = [_label(key)] + [_fmt(key, m.get(key)) for m in metrics]
        if compare:
            row.append(_change(key, metrics[0].get(key), metrics[1].get(key)))
        lines.append("| " + " | ".join(row) + " |")
    lines += [
        "",
        "Words count when any inflection appears (dog/dogs, run/ran); features are cue-phrase "
        "heuristics (see the README section 'Instruction tuning'); ROUGE-L compares the story "
        "with the requested summary; story loss is measured on the stories of the prepared "
        "validation split only.",
        "",
        "## Examples",
    ]
    for i, record in enumerate(records[:EXAMPLES_IN_REPORT]):
        asked = ", ".join(
            part
            for part in (
                f"words: {', '.join(record.words)}" if record.words else "",
                f"features: {', '.join(record.features)}" if record.features else "",
                f"summary: {record.summary}" if record.summary else "",
                f"sentence: {record.sentence}" if record.sentence else "",
            )
            if part
        )
        lines += ["", f"### Prompt {i + 1}", "", f"Asked for {asked}."]
        for result in runs:
            words = result.scores[i].words
            used = ", ".join(w for w, ok in words.items() if ok) or "none"
            lines += [
                "",
                f"**`{result.name}`** (words used: {used}):",
                "",
                "> " + result.stories[i].replace("\n", "\n> "),
            ]
    return "\n".join(lines) + "\n"
