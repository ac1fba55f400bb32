"""The cleaning report: a Markdown page with PNG plots beside it, and the same numbers as JSON.

report.md                 summary table, one row per step (entered / removed / kept / modified),
                          examples per step, sources, encoding problems, vocabulary
report.json               the numbers, for scripts and tests
report-lengths.png        histogram of words per story in the output
report-top-words.png      the 30 most frequent words of the output
"""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only; never needs a display
import matplotlib.pyplot as plt
import numpy as np

from tinylm.data.clean.pipeline import CleanResult
from tinylm.fileio import atomic_write_json, atomic_write_text, temp_path_beside
from tinylm.plots import has_cjk, prepare_fonts


def write_report(result: CleanResult, path: str | Path) -> Path:
    path = Path(path)
    if path.suffix.lower() != ".md":
        path = path.with_suffix(".md")
    stem = path.with_suffix("")
    lengths_png = stem.parent / f"{stem.name}-lengths.png"
    words_png = stem.parent / f"{stem.name}-top-words.png"
    has_lengths = _plot_lengths(result, lengths_png)
    has_words = _plot_top_words(result, words_png)
    atomic_write_json(stem.with_suffix(".json"), result.as_dict())
    atomic_write_text(
        path,
        _markdown(result, lengths_png if has_lengths else None, words_png if has_words else None),
    )
    return path


def _save(fig, out: Path) -> None:
    tmp = temp_path_beside(out)
    try:
        fig.savefig(tmp, format="png")
        tmp.replace(out)
    finally:
        plt.close(fig)
        tmp.unlink(missing_ok=True)


def _plot_lengths(result: CleanResult, out: Path) -> bool:
    lengths = result.length_words
    if len(lengths) == 0:
        return False
    fig, ax = plt.subplots(figsize=(7, 4), dpi=110)
    ax.hist(lengths, bins=min(60, max(5, len(np.unique(lengths)))), color="#4878a8")
    ax.axvline(
        float(np.median(lengths)),
        color="#c44e52",
        linestyle="--",
        label=f"median {np.median(lengths):.0f}",
    )
    ax.set_xlabel("words per story (Chinese: characters)")
    ax.set_ylabel("stories")
    ax.set_title(f"story length, {len(lengths):,} stories kept")
    ax.legend()
    ax.grid(alpha=0.3)
    fig.tight_layout()
    _save(fig, out)
    return True


def _plot_top_words(result: CleanResult, out: Path, n: int = 30) -> bool:
    top = result.top_words[:n]
    if not top:
        return False
    words, counts = zip(*top, strict=True)
    if not prepare_fonts(*words):
        return False  # a chart of empty boxes; report.md lists the words (and stderr says why)
    fig, ax = plt.subplots(figsize=(7, max(3.0, 0.22 * len(top) + 1)), dpi=110)
    ax.barh(range(len(top))[::-1], counts, color="#55a868")
    ax.set_yticks(range(len(top))[::-1])
    ax.set_yticklabels(words, fontsize=8)
    ax.set_xlabel("occurrences")
    ax.set_title(f"top {len(top)} {_unit(result)} of {result.vocab_size:,}")
    ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    _save(fig, out)
    return True


def _unit(result: CleanResult) -> str:
    """What the top "words" are: Chinese has no spaces, and the counter takes each Han
    character as a word (no segmenter), so a Chinese corpus's top words are characters."""
    top = [w for w, _ in result.top_words[:30]]
    if sum(len(w) == 1 and has_cjk(w) for w in top) * 2 > len(top):
        return "words (Chinese: characters, each counted as a word)"
    return "words"


def _md(text: object) -> str:
    """One table cell: no pipes or newlines breaking the row."""
    return str(text).replace("|", "\\|").replace("\n", " ⏎ ")


def _markdown(result: CleanResult, lengths_png: Path | None, words_png: Path | None) -> str:
    r = result
    kept_pct = 100 * r.output_stories / r.input_stories if r.input_stories else 0.0
    lines = [
        "# Cleaning report",
        "",
        f"Output: `{r.out}`",
        "",
        "## Summary",
        "",
        "| | stories | MB |",
        "|---|---:|---:|",
        f"| input | {r.input_stories:,} | {r.input_bytes / 1e6:.2f} |",
        f"| removed | {r.input_stories - r.output_stories:,} | |",
        f"| output | {r.output_stories:,} ({kept_pct:.1f}%) | {r.output_bytes / 1e6:.2f} |",
        "",
        f"Vocabulary of the output: **{r.vocab_size:,}** distinct words "
        "(Chinese counted by character).",
        "",
        "## Steps",
        "",
        "Stories meet the steps in this order; each removed story is counted once, at the step "
        "that removed it, so `kept = entered - removed` and each step's kept is the next one's "
        "entered.",
        "",
        "| step | on | entered | removed | kept | modified | what |",
        "|---|:-:|---:|---:|---:|---:|---|",
    ]
    for s in r.steps:
        removed = f"{s.removed:,}" if s.kind != "fix" else ""
        modified = f"{s.modified:,}" if s.kind != "drop" else ""
        lines.append(
            f"| {s.name} | {'yes' if s.enabled else 'no'} | {s.entered:,} | {removed} | "
            f"{s.kept:,} | {modified} | {s.title} |"
        )
    cross = r.cross_source_duplicates
    if len(r.sources) > 1:
        lines += [
            "",
            f"Duplicates across sources: {cross.get('exact-dup', 0):,} exact, "
            f"{cross.get('near-dup', 0):,} near.",
        ]
    if r.bands:
        lines += [
            "",
            f"Near duplicates: estimated Jaccard >= {r.config.near_threshold} on word "
            f"{r.config.ngram}-grams, {r.config.num_perm} permutations, LSH {r.bands[0]} bands x "
            f"{r.bands[1]} rows.",
        ]
    if lengths_png or words_png:
        lines += ["", "## Plots", ""]
        if lengths_png:
            lines.append(f"![story lengths]({lengths_png.name})")
        if words_png:
            lines += ["", f"![top words]({words_png.name})"]
    if r.top_words:
        top = ", ".join(f"{w} ({c:,})" for w, c in r.top_words[:30])
        lines += ["", f"Top {_unit(r)}: {top}"]
    lines += ["", "## Examples", ""]
    for s in r.steps:
        if not s.examples:
            continue
        lines += [f"### {s.name}", ""]
        for ex in s.examples:
            if "before" in ex:
                lines.append(f"- {ex['where']}: `{_md(ex['before'])}` → `{_md(ex['after'])}`")
            else:
                lines.append(f"- {ex['where']} ({_md(ex['why'])}): {_md(ex['text'])}")
                if ex.get("duplicate_of"):
                    lines.append(f"  - kept instead: {_md(ex['duplicate_of'])}")
        lines.append("")
    lines += [
        "## Sources",
        "",
        "| file | stories | kept | MB | encoding problems |",
        "|---|---:|---:|---:|---:|",
    ]
    for src in r.sources:
        lines.append(
            f"| `{src.path}` | {src.stories:,} | {src.kept:,} | {src.bytes / 1e6:.2f} | "
            f"{src.encoding_problems:,} |"
        )
    problems = [p for src in r.sources for p in src.problem_offsets]
    if problems:
        lines += ["", "Undecodable bytes (each became U+FFFD; see the replacement step):", ""]
        lines += [f"- {p}" for p in problems]
    lines += [
        "",
        "## Settings",
        "",
        "```json",
        json.dumps(r.as_dict()["config"], indent=2),
        "```",
        "",
    ]
    return "\n".join(lines)
