"""Evaluate tab: run the real `tinylm eval` on a chosen run and data, and show its report."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gradio as gr

from tinylm.errors import TinylmError
from tinylm.framing import DESCRIPTIONS
from tinylm.gui.context import GuiContext, Refresher, choices_update, status_html, wire_refresh
from tinylm.gui.workspace import read_json_dict
from tinylm.run import CONFIG_FILE

OWN_DATA = "(the data it was trained on)"
EVAL_TIMEOUT_S = 3600
LABELS = {
    "loss": "loss (nats/token)",
    "perplexity": "perplexity",
    "bits_per_byte": "bits per byte",
    "tokens": "tokens",
    "bytes": "bytes",
    "framing": "stories scored as",
}


@dataclass
class EvaluateTab:
    run: gr.Dropdown
    refreshers: list[Refresher]


def eval_command(run_dir: Path, data: Path, device: str, report: Path | None = None) -> list[str]:
    """`tinylm eval` as the command line runs it: the numbers as one JSON line, or with
    `report` the full report (story completion, novelty, grammar, plots) written there."""
    command = ["eval", str(run_dir), "--data", str(data), "--device", device]
    return [*command, "--report", str(report)] if report else [*command, "--json"]


def report_folder(run_dir: Path) -> Path:
    """A new folder inside the run for each report: deleting the run deletes its reports, and
    nothing is written outside the runs folder."""
    return run_dir / "reports" / time.strftime("%Y%m%d-%H%M%S")


def read_written_report(folder: Path) -> tuple[str, list[Any]]:
    """The report's Markdown without its image lines, and its plots as images for a gallery
    (the browser cannot fetch files from the runs folder; the gallery serves copies)."""
    from PIL import Image

    markdown = (folder / "report.md").read_text(encoding="utf-8")
    markdown = re.sub(r"^!\[[^\]]*\]\([^)]*\)\s*$", "", markdown, flags=re.MULTILINE)
    plots = [(Image.open(png).copy(), png.stem) for png in sorted(folder.glob("*.png"))]
    return markdown, plots


def render_report(result: dict[str, Any]) -> str:
    rows = ["| metric | value |", "|---|---|"]
    for key, value in result.items():
        if key in ("run", "data"):
            continue
        if key == "framing":
            shown = DESCRIPTIONS.get(value, str(value))
        elif isinstance(value, float):
            shown = f"{value:.4f}"
        elif isinstance(value, int):
            shown = f"{value:,}"
        elif isinstance(value, dict | list):
            shown = f"`{json.dumps(value, ensure_ascii=False)}`"
        else:
            shown = str(value) if value is not None else "n/a"
        rows.append(f"| {LABELS.get(key, key)} | {shown} |")
    return "\n".join(rows)


def resolve_eval_data(ctx: GuiContext, run_id: str, choice: str | None, upload: str | None) -> Path:
    if upload:
        return ctx.ws.store_upload(upload, Path(upload).name)
    if not choice:
        raise TinylmError("choose data to evaluate on, or upload a text file")
    if choice == OWN_DATA:
        config = read_json_dict(ctx.ws.run_path(run_id) / CONFIG_FILE)
        recorded = (config.get("data") or {}).get("path")
        data_id = ctx.ws.data_id(recorded) if recorded else None
        if data_id is None:
            raise TinylmError(
                f"'{run_id}' was trained on data outside the data folder {ctx.ws.data}; "
                "pick a data folder or upload a file"
            )
        return ctx.ws.data_path(data_id)
    return ctx.ws.data_path(choice)


def build(ctx: GuiContext) -> EvaluateTab:
    gr.Markdown(
        "Loss, perplexity and bits per byte on held-out text (the validation split of a "
        "prepared folder, or a text file you upload). Bits per byte compare models across "
        "tokenizers."
    )
    choices = ctx.model_choices()
    with gr.Row():
        run = gr.Dropdown(
            label="run", choices=choices, value=choices[0] if choices else None, elem_id="eval-run"
        )
        data = gr.Dropdown(
            label="data",
            choices=[OWN_DATA, *ctx.ws.data_ids()],
            value=OWN_DATA,
            elem_id="eval-data",
        )
        refresh = gr.Button("Refresh")
    upload = gr.File(
        label="or upload a text file (txt, jsonl, json, csv, tsv)",
        file_types=[".txt", ".jsonl", ".json", ".csv", ".tsv"],
        type="filepath",
    )
    full = gr.Checkbox(
        label="full report: story completion, novelty against the training set, grammar and "
        "plots (takes minutes; saved in the run's reports folder)",
        value=False,
        elem_id="eval-full",
    )
    go = gr.Button("Evaluate", variant="primary", elem_id="eval-go")
    status = gr.HTML(elem_id="eval-status")
    report = gr.Markdown(elem_id="eval-report")
    plots = gr.Gallery(label="plots", columns=2, height="auto", visible=False, elem_id="eval-plots")
    no_plots = gr.update(value=None, visible=False)

    refreshers: list[Refresher] = [
        (run, ctx.model_dropdown_update),
        (data, lambda current: choices_update([OWN_DATA, *ctx.ws.data_ids()], current, True)),
    ]
    wire_refresh(refresh.click, refreshers)

    def evaluate(
        run_id: str | None, choice: str | None, upload: str | None, full_report: bool
    ) -> Iterator[tuple[str, Any, Any]]:
        try:
            if not run_id:
                raise TinylmError("choose a run first")
            run_dir = ctx.ws.run_path(run_id)
            data_path = resolve_eval_data(ctx, run_id, choice, upload)
        except TinylmError as exc:
            yield status_html(str(exc), "error"), gr.update(), gr.update()
            return
        shown = ctx.ws.data_id(data_path) or data_path.name
        folder = report_folder(run_dir) if full_report else None
        what = "writing the full report for" if folder else "evaluating"
        yield status_html(f"{what} {run_id} on {shown}…"), "", no_plots
        command = eval_command(run_dir, data_path, ctx.engine.device, folder)
        proc = subprocess.run(
            [sys.executable, "-m", "tinylm", *command],
            capture_output=True,
            text=True,
            timeout=EVAL_TIMEOUT_S,
        )
        if proc.returncode != 0:
            lines = (proc.stderr or proc.stdout).strip().splitlines()
            message = lines[-1] if lines else f"tinylm eval failed (exit {proc.returncode})"
            yield status_html(message.removeprefix("tinylm: error: "), "error"), "", no_plots
            return
        if folder is not None:
            markdown, images = read_written_report(folder)
            where = folder.relative_to(ctx.ws.runs).as_posix()
            done = status_html(f"{run_id} on {shown}: report in {where}", "ok")
            yield done, markdown, gr.update(value=images, visible=bool(images))
            return
        result = json.loads(proc.stdout.strip().splitlines()[-1])
        yield status_html(f"{run_id} on {shown}", "ok"), render_report(result), no_plots

    go.click(
        evaluate,
        inputs=[run, data, upload, full],
        outputs=[status, report, plots],
        api_name="evaluate",
    )
    return EvaluateTab(run=run, refreshers=refreshers)
