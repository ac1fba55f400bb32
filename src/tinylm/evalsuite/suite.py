"""`tinylm eval RUN... --report DIR`: every measurement for several runs on the same held-out
stories, then the report."""

from __future__ import annotations

import sys
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch

from tinylm.evalsuite.completion import Completion, complete, story_beginning
from tinylm.evalsuite.grammar import build_pairs, grammar_scores
from tinylm.evalsuite.index import TrainingIndex
from tinylm.evalsuite.judge import AGE_GROUPS, CATEGORIES, Judge
from tinylm.evalsuite.novelty import choose_embedder, score_novelty, summarise
from tinylm.evalsuite.stories import held_out_stories, training_corpus
from tinylm.generate import SamplingOptions
from tinylm.run import LoadedRun

REFERENCE = "held-out stories (reference)"


@dataclass
class SuiteOptions:
    data: str
    prompts: int = 20
    samples: int = 4
    max_new_tokens: int = 200
    seed: int = 0
    prompt_fraction: float = 0.4
    novelty: bool = True
    train_data: str | None = None
    embedder: str = "auto"
    grammar_pairs: int = 300
    judge: Judge | None = None
    batch_size: int = 16
    show_progress: bool = True


@dataclass
class RunReport:
    name: str
    path: str
    parameters: int | None
    metrics_file: str | None
    likelihood: dict[str, Any] | None = None
    completion: dict[str, Any] = field(default_factory=dict)
    novelty: dict[str, Any] | None = None
    grammar: dict[str, Any] | None = None
    judge: dict[str, Any] | None = None
    completions: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def note(message: str) -> None:
    print(f"tinylm: {message}", file=sys.stderr)


def run_suite(runs: list[LoadedRun], opts: SuiteOptions) -> tuple[list[RunReport], list[str]]:
    """Reports for each run, then one for the held-out stories' own endings (a reference for
    what unseen human-written text scores), and the prompts used."""
    stories = held_out_stories(opts.data, max(opts.prompts, 200))
    prompt_stories = stories[: opts.prompts]
    prompts = [story_beginning(s, opts.prompt_fraction) for s in prompt_stories]
    endings = [s[len(p) :].strip() for s, p in zip(prompt_stories, prompts, strict=True)]
    pairs = build_pairs(stories, opts.grammar_pairs, opts.seed) if opts.grammar_pairs else []
    sampling = SamplingOptions(
        max_new_tokens=opts.max_new_tokens, temperature=1.0, top_k=None, top_p=None, seed=opts.seed
    )
    indexes: dict[str, TrainingIndex] = {}
    if opts.novelty:  # resolved first: a missing training set fails before hours of sampling
        run_index = {run.path: _index_for(run, opts, indexes) for run in runs}
    reports = []
    for run, name in zip(runs, column_names([run.path for run in runs]), strict=True):
        report = RunReport(
            name=name,
            path=str(run.path),
            parameters=run.num_parameters(),
            metrics_file=str(run.path / "metrics.jsonl")
            if (run.path / "metrics.jsonl").is_file()
            else None,
        )
        report.likelihood = likelihood(run, opts)
        completions = complete(run, prompts, opts.samples, sampling, opts.show_progress)
        report.completion = completion_summary(completions)
        report.completions = [asdict(c) for c in completions]
        texts = [c.text for c in completions]
        if opts.novelty:
            add_novelty(report, run_index[run.path], texts, opts, str(run.device))
        if pairs:
            scores = grammar_scores(run.model, run.tokenizer, pairs, run.device, opts.show_progress)
            report.grammar = {"pairs": len(pairs), **scores}
        if opts.judge is not None:
            add_judge(report, opts.judge, [prompts[c.prompt_index] for c in completions], texts)
        reports.append(report)
    reference = RunReport(name=REFERENCE, path=str(opts.data), parameters=None, metrics_file=None)
    reference.completions = [
        {"prompt_index": i, "sample": 0, "text": t, "ended": True} for i, t in enumerate(endings)
    ]
    reference.completion = completion_summary(
        [Completion(i, 0, t, True) for i, t in enumerate(endings)]
    )
    if opts.novelty and indexes:
        add_novelty(reference, next(iter(indexes.values())), endings, opts, str(runs[0].device))
    if opts.judge is not None:
        add_judge(reference, opts.judge, prompts, endings)
    return [*reports, reference], prompts


def column_names(paths: list[Path]) -> list[str]:
    """Each run's folder name, with its parent folder when two runs share a name."""
    names = [p.name for p in paths]
    return [f"{p.parent.name}/{p.name}" if names.count(p.name) > 1 else p.name for p in paths]


def _index_for(
    run: LoadedRun, opts: SuiteOptions, cache: dict[str, TrainingIndex]
) -> TrainingIndex:
    corpus = training_corpus(opts.train_data, run.path)
    if corpus.key not in cache:
        cache[corpus.key] = TrainingIndex(corpus, opts.show_progress)
    return cache[corpus.key]


def likelihood(run: LoadedRun, opts: SuiteOptions) -> dict[str, Any]:
    """Loss, perplexity and bits per byte on the held-out data. A prepared folder made with
    another tokenizer is scored through its decoded text, so runs with different tokenizers
    still compare (bits per byte)."""
    from tinylm.data.dataset import load_meta
    from tinylm.data.readers import story_record
    from tinylm.evalsuite.stories import split_stories
    from tinylm.evaluate import evaluate
    from tinylm.framing import DESCRIPTIONS

    data = Path(opts.data)
    if data.is_dir() and load_meta(data).tokenizer_sha256 != run.tokenizer.sha256():
        with tempfile.TemporaryDirectory() as tmp:
            text = Path(tmp) / "val.txt"
            text.write_text("".join(map(story_record, split_stories(data, "val"))))
            result = evaluate(
                run.model,
                run.tokenizer,
                text,
                run.device,
                torch.float32,
                opts.batch_size,
                show_progress=opts.show_progress,
                framing=run.framing,
            )
    else:
        result = evaluate(
            run.model,
            run.tokenizer,
            data,
            run.device,
            torch.float32,
            opts.batch_size,
            show_progress=opts.show_progress,
            framing=run.framing,
        )
    return {**result.as_dict(), "framing": DESCRIPTIONS[result.framing]}


def completion_summary(completions: list[Completion]) -> dict[str, Any]:
    n = len(completions)
    return {
        "completions": n,
        "ended": sum(c.ended for c in completions) / n if n else None,
        "words": sum(len(c.text.split()) for c in completions) / n if n else None,
    }


def add_novelty(
    report: RunReport, index: TrainingIndex, texts: list[str], opts: SuiteOptions, device: str
) -> None:
    """Novelty scores of `texts`; MiniLM runs on the run's device (a GPU embeds a full-size
    training set in minutes, a laptop CPU in days)."""
    embedder, why = choose_embedder(
        opts.embedder, [index.story(i) for i in range(min(50, len(index)))]
    )
    if why:
        report.notes.append(why)
    scores = score_novelty(index, embedder, texts, opts.show_progress, device)
    report.novelty = {
        "embedder": embedder,
        "training_stories": len(index),
        "training_data": index.corpus.description,
        **summarise(scores, texts),
    }
    for row, score in zip(report.completions, scores, strict=True):
        row.update(
            novelty=score.novelty,
            max_cosine=score.max_cosine,
            nearest_index=score.nearest_index,
            nearest_story=score.nearest_story,
            rouge2=score.rouge2,
            rouge3=score.rouge3,
            longest_shared=score.longest_shared,
        )


def add_judge(report: RunReport, judge: Judge, beginnings: list[str], texts: list[str]) -> None:
    from tinylm.progress import Progress

    before = (judge.stats.unparsed, judge.stats.cached, judge.stats.retries, judge.stats.requests)
    with Progress(f"judging ({report.name})", len(texts), "completions") as bar:
        results = judge.grade_all(
            list(zip(beginnings, texts, strict=True)), on_done=lambda: bar.advance(1)
        )
    grades = []
    for row, (g, answer) in zip(report.completions, results, strict=True):
        row["judge"] = {**asdict(g), "answer": answer}
        grades.append(g)
    summary: dict[str, Any] = {"model": judge.model, "graded": len(grades)}
    for c in CATEGORIES:
        values = [getattr(g, c) for g in grades if getattr(g, c) is not None]
        summary[c] = sum(values) / len(values) if values else None
    ages = [g.age_group for g in grades if g.age_group]
    summary["age_groups"] = {a: ages.count(a) for a in AGE_GROUPS if a in ages}
    summary["unparsed"] = judge.stats.unparsed - before[0]
    summary["cached"] = judge.stats.cached - before[1]
    summary["retries"] = judge.stats.retries - before[2]
    summary["requests"] = judge.stats.requests - before[3]
    report.judge = summary
