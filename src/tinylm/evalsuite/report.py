"""The evaluation report: report.md and report.html (the same content), PNG plots, results.json
and completions.jsonl, all in one folder.

The document is built once as a list of blocks and rendered twice, so the Markdown and the HTML
never disagree."""

from __future__ import annotations

import html
import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

from tinylm.evalsuite.judge import AGE_GROUPS, CATEGORIES
from tinylm.evalsuite.suite import REFERENCE, RunReport
from tinylm.fileio import atomic_open, atomic_write_json, atomic_write_text
from tinylm.plots import read_metrics

Block = tuple[Any, ...]  # ("h", level, text) | ("p", text) | ("table", header, rows) | ...
EXAMPLES_PER_RUN = 3

LIKELIHOOD_ROWS = [
    ("loss", "loss (nats/token)", "{:.4f}"),
    ("perplexity", "perplexity", "{:.3f}"),
    ("bits_per_byte", "bits per byte", "{:.4f}"),
    ("tokens", "tokens", "{:,}"),
    ("framing", "stories scored as", "{}"),
]
COMPLETION_ROWS = [
    ("completions", "completions", "{:,}"),
    ("ended", "finished (wrote EOS)", "{:.0%}"),
    ("words", "words per completion", "{:.0f}"),
]
NOVELTY_ROWS = [
    ("novelty", "novelty (1 − max cosine), higher = more original", "{:.3f}"),
    ("max_cosine", "cosine to nearest training story", "{:.3f}"),
    ("rouge2_precision", "ROUGE-2 precision vs nearest story", "{:.3f}"),
    ("rouge3_precision", "ROUGE-3 precision vs nearest story", "{:.3f}"),
    ("longest_shared_chars", "longest substring shared with training (chars, mean)", "{:.1f}"),
    ("longest_shared_chars_max", "longest substring shared with training (chars, max)", "{:.0f}"),
    ("longest_shared_words", "longest substring shared with training (words, mean)", "{:.1f}"),
    ("distinct_1", "distinct-1", "{:.3f}"),
    ("distinct_2", "distinct-2", "{:.3f}"),
    ("distinct_3", "distinct-3", "{:.3f}"),
]
GRAMMAR_ROWS = [
    ("overall", "minimal pairs right (chance = 50%)", "{:.1%}"),
    ("agreement", "… agreement (was/were, is/are)", "{:.1%}"),
    ("article", "… article (a/an)", "{:.1%}"),
    ("word order", "… word order", "{:.1%}"),
    ("pairs", "pairs", "{:,}"),
]
JUDGE_ROWS = [(c, f"{c} (1-10)", "{:.2f}") for c in CATEGORIES] + [
    ("unparsed", "answers without all grades", "{:,}"),
    ("cached", "answers from the cache", "{:,}"),
    ("requests", "requests sent", "{:,}"),
    ("retries", "retried requests", "{:,}"),
]


def _fmt(template: str, value: Any) -> str:
    if value is None:
        return "–"
    try:
        return template.format(value)
    except (ValueError, TypeError):
        return str(value)


def _table(
    reports: list[RunReport], section: str, rows: list[tuple[str, str, str]]
) -> Block | None:
    shown = [r for r in reports if getattr(r, section)]
    if not shown:
        return None
    header = ["", *[r.name for r in shown]]
    body = []
    for key, label, template in rows:
        values = [getattr(r, section).get(key) for r in shown]
        if all(v is None for v in values):
            continue
        body.append([label, *[_fmt(template, v) for v in values]])
    return ("table", header, body)


def build_blocks(
    reports: list[RunReport],
    prompts: list[str],
    data: str,
    plots: dict[str, str],
    settings: dict[str, Any],
    extra: list[Block],
) -> list[Block]:
    runs = [r for r in reports if r.name != REFERENCE]
    blocks: list[Block] = [
        ("h", 1, "Evaluation report"),
        (
            "p",
            f"Runs: {', '.join(f'`{r.path}`' for r in runs)}. Held-out data: `{data}`. "
            f"{len(prompts)} story beginnings, {settings['samples']} completions each at "
            f"temperature 1 (at most {settings['max_new_tokens']} new tokens, prompt i sampled "
            f"with seed {settings['seed']} + i for every run). The last column, where shown, "
            "scores the real endings of the same held-out stories: what unseen "
            "human-written text looks like on each measure.",
        ),
        (
            "table",
            ["run", "parameters", "path"],
            [[r.name, _fmt("{:,}", r.parameters), f"`{r.path}`"] for r in runs],
        ),
    ]
    sections = [
        (
            "Likelihood on held-out text",
            "likelihood",
            LIKELIHOOD_ROWS,
            "Lower is better. Bits per byte compares models with different tokenizers. Each "
            "model is scored with the story framing it was trained on (llama2.c's models never "
            "saw an EOS; tinylm's runs end every story with one).",
        ),
        ("Story completion", "completion", COMPLETION_ROWS, ""),
        (
            "Novelty and memorisation",
            "novelty",
            NOVELTY_ROWS,
            "Each completion is compared with its nearest training story (sentence-embedding "
            "cosine; see docs/evaluation.md). Low novelty with high ROUGE and a long shared "
            "substring means the model is reciting its training data; distinct-n near the "
            "reference means it is not repeating itself.",
        ),
        (
            "Grammar (minimal pairs)",
            "grammar",
            GRAMMAR_ROWS,
            "Share of sentence pairs (a held-out sentence and a copy broken in one way) where the "
            "model prefers the grammatical one.",
        ),
        ("LLM judge (TinyStories rubric)", "judge", JUDGE_ROWS, ""),
    ]
    for title, section, rows, text in sections:
        table = _table(reports, section, rows)
        if table is None:
            continue
        blocks += [("h", 2, title), table]
        if text:
            blocks.append(("p", text))
        if section == "novelty":
            embedders = {r.novelty["embedder"] for r in reports if r.novelty}
            sources = {r.novelty["training_data"] for r in reports if r.novelty}
            blocks.append(
                (
                    "p",
                    f"Embedder: {', '.join(sorted(embedders))}; training data: "
                    f"{'; '.join(sorted(sources))}.",
                )
            )
        if section == "judge":
            ages = [r for r in reports if r.judge]
            blocks.append(
                (
                    "table",
                    ["age group", *[r.name for r in ages]],
                    [
                        [f"{a}: {span}", *[str(r.judge["age_groups"].get(a, 0)) for r in ages]]
                        for a, span in AGE_GROUPS.items()
                    ],
                )
            )
        for key in PLOT_SECTIONS.get(section, ()):
            if key in plots:
                blocks.append(("img", plots[key], PLOT_TITLES[key]))
    if "loss" in plots:
        blocks += [("h", 2, "Training curves"), ("img", plots["loss"], PLOT_TITLES["loss"])]
    blocks += extra
    notes = sorted({f"{r.name}: {n}" for r in reports for n in r.notes})
    if notes:
        blocks += [("h", 2, "Notes"), *[("p", n) for n in notes]]
    blocks.append(("h", 2, "Sample completions"))
    for i, prompt in enumerate(prompts[:EXAMPLES_PER_RUN]):
        blocks += [("h", 3, f"Beginning {i + 1}"), ("quote", prompt)]
        for r in reports:
            row = next((c for c in r.completions if c["prompt_index"] == i), None)
            if row is None:
                continue
            facts = []
            if "novelty" in row:
                facts.append(
                    f"novelty {row['novelty']:.3f}, ROUGE-3 {row['rouge3']:.2f}, "
                    f"longest shared: “{row['longest_shared'].strip()}”"
                )
            if "judge" in row:
                g = row["judge"]
                facts.append(
                    "judge: "
                    + ", ".join(f"{c} {_fmt('{:g}', g.get(c))}" for c in CATEGORIES)
                    + f", age {g.get('age_group') or '–'}"
                )
            blocks.append(
                ("p", f"**{r.name}**" + (f" ({'; '.join(facts)})" if facts else "") + ":")
            )
            blocks.append(("quote", row["text"] or "(empty)"))
    return blocks


PLOT_SECTIONS = {"novelty": ("novelty", "overlap"), "judge": ("judge",), "grammar": ("grammar",)}
PLOT_TITLES = {
    "loss": "Training and validation loss of each run (from metrics.jsonl)",
    "novelty": "Novelty of completions (1 − cosine to the nearest training story)",
    "overlap": "Overlap with the nearest training story, per completion",
    "grammar": "Minimal pairs right, by kind",
    "judge": "Judge grades, per completion",
}


def render_markdown(blocks: list[Block]) -> str:
    out = []
    for block in blocks:
        kind = block[0]
        if kind == "h":
            out.append("#" * block[1] + " " + block[2])
        elif kind == "p":
            out.append(block[1])
        elif kind == "table":
            header, rows = block[1], block[2]
            out.append("| " + " | ".join(header) + " |")
            out.append("|" + "---|" * len(header))
            out += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
        elif kind == "img":
            out.append(f"![{block[2]}]({block[1]})")
        elif kind == "quote":
            out.append("> " + block[1].strip().replace("\n", "\n> "))
        elif kind == "raw_md":
            out.append(block[1].rstrip())
        out.append("")
    return "\n".join(out)


def _cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _inline_html(text: str) -> str:
    import re

    escaped = html.escape(text, quote=False)
    escaped = re.sub(r"\*\*(.+?)\*\*", r"<strong>\1</strong>", escaped)
    return re.sub(r"`(.+?)`", r"<code>\1</code>", escaped)


def render_html(blocks: list[Block], title: str = "tinylm evaluation report") -> str:
    body = []
    for block in blocks:
        kind = block[0]
        if kind == "h":
            body.append(f"<h{block[1]}>{_inline_html(block[2])}</h{block[1]}>")
        elif kind == "p":
            body.append(f"<p>{_inline_html(block[1])}</p>")
        elif kind == "table":
            head = "".join(f"<th>{_inline_html(h)}</th>" for h in block[1])
            rows = "".join(
                "<tr>" + "".join(f"<td>{_inline_html(str(c))}</td>" for c in row) + "</tr>"
                for row in block[2]
            )
            body.append(f"<table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>")
        elif kind == "img":
            src, alt = html.escape(block[1]), html.escape(block[2])
            body.append(
                f'<figure><img src="{src}" alt="{alt}"><figcaption>{alt}</figcaption></figure>'
            )
        elif kind == "quote":
            body.append(f"<blockquote>{html.escape(block[1].strip())}</blockquote>")
        elif kind == "raw_md":
            body.append(f"<pre>{html.escape(block[1])}</pre>")
    style = (
        "body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;"
        "line-height:1.45}table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;"
        "padding:.3em .6em;text-align:left}th{background:#f3f3f3}td:not(:first-child){"
        "font-variant-numeric:tabular-nums}blockquote{white-space:pre-wrap;border-left:4px solid "
        "#ccc;margin:.5em 0;padding:.3em 1em;color:#333}img{max-width:100%}code{background:#f3f3f3}"
    )
    return (
        f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}'
        f"</title><style>{style}</style></head><body>\n" + "\n".join(body) + "\n</body></html>\n"
    )


# -- plots ------------------------------------------------------------------------------------


def _save(fig: Any, path: Path) -> None:
    with atomic_open(path, "wb", encoding=None) as f:
        fig.savefig(f, format="png")


def _short(name: str) -> str:
    return "reference" if name == REFERENCE else name if len(name) <= 18 else name[:17] + "…"


def make_plots(reports: list[RunReport], out: Path) -> dict[str, str]:
    from matplotlib.figure import Figure

    from tinylm.plots import prepare_fonts  # (importing it selects the Agg backend)

    prepare_fonts(*(r.name for r in reports))  # run names label every plot
    plots: dict[str, str] = {}
    curves = [(r, read_metrics(r.metrics_file)) for r in reports if r.metrics_file]
    curves = [
        (r, rows) for r, rows in curves if any("train_loss" in x or "val_loss" in x for x in rows)
    ]
    if curves:
        fig = Figure(figsize=(8, 4.5), dpi=110)
        ax = fig.subplots()
        for i, (r, rows) in enumerate(curves):
            color = f"C{i}"
            train = [(x["step"], x["train_loss"]) for x in rows if "train_loss" in x]
            val = [(x["step"], x["val_loss"]) for x in rows if "val_loss" in x]
            if train:
                ax.plot(*zip(*train, strict=True), color=color, alpha=0.35, linewidth=1)
            if val:
                ax.plot(
                    *zip(*val, strict=True),
                    color=color,
                    marker="o",
                    markersize=3,
                    label=f"{r.name} (validation; faint: train)",
                )
            elif train:
                ax.lines[-1].set_label(f"{r.name} (train)")
        ax.set_xlabel("step")
        ax.set_ylabel("loss (nats/token)")
        ax.grid(alpha=0.3)
        ax.legend()
        fig.tight_layout()
        _save(fig, out / "loss-curves.png")
        plots["loss"] = "loss-curves.png"
    scored = [r for r in reports if r.novelty]
    if scored:
        fig = Figure(figsize=(8, 4.5), dpi=110)
        ax = fig.subplots()
        values = [[c["novelty"] for c in r.completions] for r in scored]
        ax.hist(values, bins=20, label=[r.name for r in scored], alpha=0.8)
        ax.set_xlabel("novelty = 1 − cosine to nearest training story")
        ax.set_ylabel("completions")
        ax.legend()
        fig.tight_layout()
        _save(fig, out / "novelty.png")
        plots["novelty"] = "novelty.png"
        fig = Figure(figsize=(11, 4), dpi=110)
        axes = fig.subplots(1, 3)
        for ax, key, label in zip(
            axes,
            ("rouge2", "rouge3", "longest_shared"),
            ("ROUGE-2 precision", "ROUGE-3 precision", "longest shared substring (chars)"),
            strict=True,
        ):
            data = [
                [len(c[key]) if key == "longest_shared" else c[key] for c in r.completions]
                for r in scored
            ]
            ax.boxplot(data, tick_labels=[_short(r.name) for r in scored])
            ax.set_title(label, fontsize=10)
            ax.tick_params(axis="x", labelrotation=20, labelsize=8)
        fig.tight_layout()
        _save(fig, out / "overlap.png")
        plots["overlap"] = "overlap.png"
    graded = [r for r in reports if r.grammar]
    if graded:
        kinds = [
            k
            for k in ("overall", "agreement", "article", "word order")
            if any(k in r.grammar for r in graded)
        ]
        fig = Figure(figsize=(8, 4), dpi=110)
        ax = fig.subplots()
        width = 0.8 / len(graded)
        for i, r in enumerate(graded):
            xs = [k + i * width for k in range(len(kinds))]
            ax.bar(xs, [100 * r.grammar.get(k, 0) for k in kinds], width, label=r.name)
        ax.axhline(50, color="grey", linestyle="--", linewidth=1, label="chance")
        ax.set_xticks([k + width * (len(graded) - 1) / 2 for k in range(len(kinds))], kinds)
        ax.set_ylabel("% pairs right")
        ax.set_ylim(0, 100)
        ax.legend()
        fig.tight_layout()
        _save(fig, out / "grammar.png")
        plots["grammar"] = "grammar.png"
    # Only runs with at least one readable grade: an empty box would read as a zero.
    judged = [r for r in reports if r.judge and any(r.judge.get(c) is not None for c in CATEGORIES)]
    if judged:
        fig = Figure(figsize=(11, 4), dpi=110)
        axes = fig.subplots(1, len(CATEGORIES))
        for ax, c in zip(axes, CATEGORIES, strict=True):
            data = [
                [c_["judge"][c] for c_ in r.completions if c_["judge"].get(c) is not None]
                for r in judged
            ]
            ax.boxplot(
                [d or [float("nan")] for d in data], tick_labels=[_short(r.name) for r in judged]
            )
            ax.set_title(c, fontsize=10)
            ax.set_ylim(0, 10.5)
            ax.tick_params(axis="x", labelrotation=20, labelsize=8)
        fig.tight_layout()
        _save(fig, out / "judge-grades.png")
        plots["judge"] = "judge-grades.png"
    return plots


def write_report(
    out: Path,
    reports: list[RunReport],
    prompts: list[str],
    data: str,
    settings: dict[str, Any],
    extra: list[Block] | None = None,
) -> Path:
    """Write the folder; returns the path of report.md."""
    out.mkdir(parents=True, exist_ok=True)
    plots = make_plots(reports, out)
    blocks = build_blocks(reports, prompts, data, plots, settings, extra or [])
    atomic_write_json(
        out / "results.json",
        {
            "data": data,
            "settings": settings,
            "prompts": prompts,
            "runs": [{k: v for k, v in asdict(r).items() if k != "completions"} for r in reports],
        },
    )
    with atomic_open(out / "completions.jsonl") as f:
        for r in reports:
            for row in r.completions:
                f.write(json.dumps({"run": r.name, **row}, ensure_ascii=False) + "\n")
    atomic_write_text(out / "report.html", render_html(blocks))
    atomic_write_text(out / "report.md", render_markdown(blocks))
    return out / "report.md"
