"""`tinylm eval RUN... --report DIR` (and `--instruct --report DIR`) from parsed flags."""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

from tinylm.errors import TinylmError
from tinylm.evalsuite.report import Block, render_html, write_report
from tinylm.fileio import atomic_write_text, check_writable_place


def _report_dir(value: str) -> Path:
    out = Path(value)
    if out.exists() and not out.is_dir():
        raise TinylmError(
            f"--report takes a folder (report.md, report.html and plots go in it); {out} is a file"
        )
    check_writable_place(out / "report.md", "--report")  # before any model is loaded
    return out


def make_judge(args: argparse.Namespace):  # -> Judge | None
    from tinylm.evalsuite.judge import Judge

    if args.judge_url is None and args.judge_model is None:
        return None
    if args.judge_url is None or args.judge_model is None:
        raise TinylmError("the judge needs both --judge-url and --judge-model")
    return Judge(
        args.judge_url,
        args.judge_model,
        key_env=args.judge_key_env,
        cache_dir=Path(args.judge_cache) if args.judge_cache else None,
        requests_per_minute=args.judge_rpm,
        retries=args.judge_retries,
        backoff_s=args.judge_backoff,
        max_tokens=args.judge_max_tokens,
        workers=args.judge_workers,
    )


def eval_report(args: argparse.Namespace) -> None:
    from tinylm.evalsuite.stories import run_data_folder
    from tinylm.evalsuite.suite import SuiteOptions, run_suite
    from tinylm.run import check_run, load_run

    out = _report_dir(args.report)
    for path in args.runs:
        check_run(path)
    data = args.data
    if data is None:
        folder = run_data_folder(Path(args.runs[0]))
        if folder is None:
            raise TinylmError(
                f"--report needs held-out stories: pass --data (a prepared folder or a story "
                f"file); {args.runs[0]}'s own data folder is gone"
            )
        data = str(folder)
    if args.lm_eval:
        from tinylm.evalsuite.harness import require_lm_eval

        require_lm_eval()
    judge = make_judge(args)
    if judge is not None:
        judge.preflight()
    opts = SuiteOptions(
        data=data,
        prompts=args.prompts or 20,
        samples=args.samples,
        max_new_tokens=args.max_new_tokens or 200,
        seed=args.seed,
        prompt_fraction=args.prompt_fraction,
        novelty=not args.no_novelty,
        train_data=args.train_data,
        embedder=args.embedder,
        grammar_pairs=args.grammar_pairs,
        judge=judge,
        batch_size=args.batch_size,
    )
    runs = [load_run(path, device=args.device) for path in args.runs]
    reports, prompts = run_suite(runs, opts)
    extra: list[Block] = []
    if args.lm_eval:
        from tinylm.evalsuite.harness import harness_section

        extra = harness_section(runs, data, out, limit=200)
    settings = {
        "samples": opts.samples,
        "max_new_tokens": opts.max_new_tokens,
        "seed": opts.seed,
        "prompt_fraction": opts.prompt_fraction,
        "embedder": opts.embedder,
    }
    path = write_report(out, reports, prompts, data, settings, extra)
    if args.json:
        results = json.loads((out / "results.json").read_text(encoding="utf-8"))
        print(json.dumps({"report": str(path), **results}, ensure_ascii=False))
    else:
        summary = path.read_text(encoding="utf-8").split("\n## Sample completions")[0]
        print(summary.rstrip())
    print(f"report written to {path} and {path.with_suffix('.html')}", file=sys.stderr)


def markdown_blocks(markdown: str) -> list[Block]:
    """Blocks of a Markdown text in the subset our reports use (headings, tables, quotes,
    paragraphs), so a report written as Markdown renders to the same HTML."""
    blocks: list[Block] = []
    lines = markdown.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        if not line.strip():
            i += 1
        elif m := re.match(r"(#+) (.*)", line):
            blocks.append(("h", len(m.group(1)), m.group(2)))
            i += 1
        elif line.startswith("|"):
            rows = []
            while i < len(lines) and lines[i].startswith("|"):
                if not re.match(r"\|(-+\|)+$", lines[i].replace(":", "-").replace(" ", "")):
                    rows.append([c.strip() for c in lines[i].strip().strip("|").split("|")])
                i += 1
            blocks.append(("table", rows[0], rows[1:]))
        elif line.startswith(">"):
            quoted = []
            while i < len(lines) and lines[i].startswith(">"):
                quoted.append(lines[i][1:].lstrip())
                i += 1
            blocks.append(("quote", "\n".join(quoted)))
        else:
            para = []
            while i < len(lines) and lines[i].strip() and not re.match(r"[#|>]", lines[i]):
                para.append(lines[i])
                i += 1
            blocks.append(("p", " ".join(para)))
    return blocks


def write_instruct_report(report: str, markdown: str) -> Path:
    """`eval --instruct --report DIR`: the instruction-following report as DIR/report.md and
    DIR/report.html."""
    out = _report_dir(report)
    atomic_write_text(out / "report.md", markdown)
    atomic_write_text(out / "report.html", render_html(markdown_blocks(markdown)))
    return out / "report.md"
