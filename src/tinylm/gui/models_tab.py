"""Models tab: every run under the runs folder; select, load, delete (with confirmation), export."""

from __future__ import annotations

import subprocess
import sys
import time
from dataclasses import dataclass
from typing import Any

import gradio as gr

from tinylm.errors import TinylmError
from tinylm.gui.context import (
    GuiContext,
    Refresher,
    choices_update,
    status_html,
    user_errors,
    wire_refresh,
)
from tinylm.gui.workspace import RunInfo
from tinylm.interop.formats import EXPORT_FORMATS

HEADERS = [
    "run",
    "family",
    "parameters",
    "tokenizer",
    "language",
    "data",
    "best val loss",
    "steps",
    "date",
    "status",
]


@dataclass
class ModelsTab:
    loaded: gr.Textbox  # the run most recently loaded; other tabs follow it
    refreshers: list[Refresher]


def _row(info: RunInfo, training: bool) -> list[Any]:
    params = f"{info.parameters / 1e6:.2f}M" if info.parameters else ""
    loss = f"{info.best_val_loss:.3f}" if info.best_val_loss is not None else ""
    if training:
        state = "training"
    elif info.has_weights:
        state = "ready"
    else:
        state = "no weights yet"
    family = info.arch + (" (instruct)" if info.instruct else "")
    return [
        info.id,
        family,
        params,
        info.tokenizer,
        info.language,
        info.data,
        loss,
        info.steps,
        info.date,
        state,
    ]


def runs_table(ctx: GuiContext) -> list[list[Any]]:
    return [_row(info, ctx.jobs.is_active(info.id)) for info in ctx.ws.runs_info()]


# -- export hook ----------------------------------------------------------------------------------


def export_formats() -> list[str]:
    """The formats the export buttons offer: the same registry as `tinylm export --format`."""
    return list(EXPORT_FORMATS)


def run_export(ctx: GuiContext, run_id: str, fmt: str) -> str:
    run_dir = ctx.ws.run_path(run_id)
    if fmt not in export_formats():
        raise TinylmError(f"unknown export format '{fmt}'")
    out = run_dir / "export" / EXPORT_FORMATS[fmt].suggested_out
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "tinylm",
            "export",
            str(run_dir),
            "--format",
            fmt,
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=3600,
    )
    if proc.returncode != 0:
        lines = (proc.stderr or proc.stdout).strip().splitlines()
        raise TinylmError(lines[-1] if lines else f"export failed (exit {proc.returncode})")
    return f"exported {run_id} as {fmt} to {ctx.ws.run_id(out)} (inside the runs folder)"


# -- tab --------------------------------------------------------------------------------------


def build(ctx: GuiContext) -> ModelsTab:
    gr.Markdown(
        f"Runs in `{ctx.ws.runs}`. Pick one to load it for **Generate** and **Evaluate**, or "
        "delete it."
    )
    table = gr.Dataframe(
        value=lambda: runs_table(ctx),
        headers=HEADERS,
        interactive=False,
        wrap=True,
        elem_id="runs-table",
    )
    with gr.Row():
        run = gr.Dropdown(
            label="run",
            choices=ctx.ws.run_ids(),
            value=None,
            interactive=True,
            elem_id="models-run",
            scale=3,
        )
        refresh = gr.Button("Refresh", scale=1)
        load = gr.Button("Load", variant="primary", scale=1, elem_id="models-load")
        delete = gr.Button("Delete…", variant="stop", scale=1, elem_id="models-delete")
    with gr.Group(visible=False, elem_id="delete-confirm") as confirm_box:
        confirm_text = gr.Markdown()
        with gr.Row():
            confirm = gr.Button("Yes, delete it", variant="stop", elem_id="delete-yes")
            cancel = gr.Button("Cancel", elem_id="delete-cancel")
    formats = export_formats()
    with gr.Row(visible=bool(formats)):
        export_format = gr.Dropdown(label="export format", choices=formats, scale=3)
        export = gr.Button("Export", scale=1, elem_id="models-export")
    status = gr.HTML(elem_id="models-status")
    loaded = gr.Textbox(visible=False)
    pending_delete = gr.State(None)  # the run the confirmation question names, and only it

    refreshers: list[Refresher] = [
        (table, lambda _: runs_table(ctx)),
        (run, lambda current: choices_update(ctx.ws.run_ids(), current)),
    ]
    wire_refresh(refresh.click, refreshers)

    def pick(evt: gr.SelectData) -> Any:
        row = evt.row_value
        return gr.update(value=row[0]) if row else gr.update()

    table.select(pick, outputs=run, api_visibility="private")  # a click, never an API call

    @user_errors(2)
    def do_load(run_id: str | None) -> tuple[str, str]:
        if not run_id:
            raise TinylmError("choose a run first")
        path = ctx.ws.run_path(run_id)
        started = time.perf_counter()
        lm = ctx.engine.load(path)
        took = time.perf_counter() - started
        params = lm.num_parameters()
        weights = f", {lm.quantization} weights" if lm.quantization else ""
        text = (
            f"loaded {run_id}: {params / 1e6:.2f}M parameters{weights} on {lm.device} in "
            f"{took:.1f}s; "
            "it is selected in Generate and Evaluate"
        )
        return run_id, status_html(text, "ok")

    load.click(do_load, inputs=run, outputs=[loaded, status], api_name="load_run")

    @user_errors(4, status_index=2)
    def ask_delete(run_id: str | None) -> tuple[Any, Any, str, str]:
        if not run_id:
            raise TinylmError("choose a run first")
        path = ctx.ws.run_path(run_id)
        if ctx.jobs.is_active(run_id):
            raise TinylmError(f"'{run_id}' is training; stop it in the Train tab first")
        question = f"Delete **{run_id}** (`{path}`) and everything in it? This cannot be undone."
        return gr.update(visible=True), question, "", run_id

    delete.click(
        ask_delete, inputs=run, outputs=[confirm_box, confirm_text, status, pending_delete]
    )
    run.change(lambda: (gr.update(visible=False), None), outputs=[confirm_box, pending_delete])

    @user_errors(4, status_index=3)
    def do_delete(run_id: str | None) -> tuple[Any, Any, Any, str]:
        if not run_id:
            raise TinylmError("nothing to delete: press Delete… first")
        if ctx.jobs.is_active(run_id):
            raise TinylmError(f"'{run_id}' is training; stop it in the Train tab first")
        ctx.ws.delete_run(run_id)
        dropdown = choices_update(ctx.ws.run_ids(), None)
        return gr.update(visible=False), runs_table(ctx), dropdown, status_html(f"deleted {run_id}")

    confirm.click(
        do_delete,
        inputs=pending_delete,
        outputs=[confirm_box, table, run, status],
        api_name="delete_run",
    )
    cancel.click(lambda: (gr.update(visible=False), None), outputs=[confirm_box, pending_delete])

    @user_errors(1)
    def do_export(run_id: str | None, fmt: str | None) -> str:
        if not run_id or not fmt:
            raise TinylmError("choose a run and a format first")
        return status_html(run_export(ctx, run_id, fmt), "ok")

    export.click(do_export, inputs=[run, export_format], outputs=status)
    return ModelsTab(loaded=loaded, refreshers=refreshers)
