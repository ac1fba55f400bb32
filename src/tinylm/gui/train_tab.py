"""Train tab: start a run in the background and watch it (progress, loss plot, samples, log),
stop it (a checkpoint is saved) and resume it. Several runs can be watched side by side in the
jobs table; the details below follow the one that is selected."""

from __future__ import annotations

import html
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gradio as gr

from tinylm.errors import TinylmError
from tinylm.gui.context import (
    GuiContext,
    Refresher,
    choices_update,
    optional_number,
    status_html,
    user_errors,
)
from tinylm.gui.jobs import DEFAULT_VOCAB, GUI_TRAIN_SETTINGS, JobStatus, TrainRequest
from tinylm.plots import compare_figure, loss_figure
from tinylm.presets import PRESETS

REFRESH_S = 2.0
SOURCES = {
    "built-in stories": "builtin",
    "prepared data folder": "prepared",
    "upload a file": "upload",
}
JOB_HEADERS = ["run", "state", "progress"]


@dataclass
class TrainTab:
    refreshers: list[Refresher]


def progress_html(status: JobStatus) -> str:
    percent = 100 * status.fraction
    state = html.escape(status.state)
    return (
        f'<div class="tl-progress" data-state="{state}" data-step="{status.step}" '
        f'data-max-steps="{status.max_steps or 0}">'
        f'<div class="tl-progress-head"><b>{html.escape(status.run_id)}</b> '
        f'<span class="tl-badge tl-{state}">{state}</span> {html.escape(status.label)}</div>'
        f'<div class="tl-bar"><div class="tl-fill" style="width:{percent:.1f}%"></div></div>'
        f'<div class="tl-progress-text">{html.escape(status.summary())}</div></div>'
    )


def samples_markdown(rows: list[dict]) -> str:
    if not rows:
        return "*No samples yet: the trainer writes one at every evaluation.*"
    parts = []
    for row in rows:
        text = str(row.get("text", "")).replace("\n", "  \n")
        parts.append(f"**step {row.get('step', '?')}**  \n{html.escape(text)}")
    return "\n\n".join(parts)


# Where the tab puts the training settings it offers (GUI_TRAIN_SETTINGS, from TrainConfig's
# declarations, give their labels, parsing and flags); "context" is the model's max_seq_len.
# max_steps and time_budget sit in the "train for" row.
HYPER_ROWS = (
    ("batch_size", "grad_accum", "lr"),
    ("warmup", "eval_every", "context"),
    ("seed", "device", "log_to"),
    ("lora_rank",),
)
NEW_MODEL = "(a new model: the preset)"
CONTEXT_LABEL = "context length"


def setting_box(name: str, value: str | None = None, **kwargs: Any) -> Any:
    """The form field of one setting: its declared label, a list where it offers values."""
    kwargs.setdefault("elem_id", f"train-{name.replace('_', '-')}")
    if name == "context":
        return gr.Textbox(label=CONTEXT_LABEL, value=value, **kwargs)
    s = GUI_TRAIN_SETTINGS[name]
    if s.offered or s.choices:
        options = list(s.offered or s.choices)
        return gr.Dropdown(options, value=value or options[0], label=s.gui, **kwargs)
    return gr.Textbox(label=s.gui, value=value, **kwargs)


def default_run_name(preset: str) -> str:
    return f"{preset}-{time.strftime('%m%d-%H%M%S')}"


def build(ctx: GuiContext) -> TrainTab:
    with gr.Row():
        with gr.Column(scale=2):
            gr.Markdown("### New run")
            name = gr.Textbox(
                label="run name", value=lambda: default_run_name("1m"), elem_id="train-name"
            )
            source = gr.Radio(
                list(SOURCES), value="built-in stories", label="data", elem_id="train-source"
            )
            with gr.Group(visible=True) as builtin_box, gr.Row():
                lang = gr.Radio(["en", "zh"], value="en", label="language")
                stories = gr.Number(
                    value=20_000, precision=0, label="stories", minimum=100, maximum=2_000_000
                )
            with gr.Group(visible=False) as prepared_box:
                data_id = gr.Dropdown(
                    label="prepared data folder", choices=ctx.ws.data_ids(), elem_id="train-data"
                )
            with gr.Group(visible=False) as upload_box:
                upload = gr.File(
                    label="stories file (txt, jsonl, json, csv, tsv)",
                    file_types=[".txt", ".jsonl", ".json", ".csv", ".tsv"],
                    type="filepath",
                )
            vocab = gr.Number(
                value=DEFAULT_VOCAB["en"],
                precision=0,
                label="tokenizer vocabulary (new data only)",
                minimum=260,
                maximum=65536,
            )
            preset = gr.Dropdown(
                list(PRESETS), value="1m", label="model preset", elem_id="train-preset"
            )
            init_from = gr.Dropdown(
                [NEW_MODEL, *ctx.model_choices()],
                value=NEW_MODEL,
                label="start from (fine-tune a run: its model and tokenizer; data prepared "
                "with that tokenizer)",
                elem_id="train-init-from",
            )
            fields: dict[str, Any] = {}
            with gr.Row():
                length_kind = gr.Radio(
                    ["max steps", "time budget"], value="time budget", label="train for"
                )
                fields["max_steps"] = setting_box(
                    "max_steps", value="2000", visible=False, elem_id="train-max-steps"
                )
                fields["time_budget"] = setting_box("time_budget", value="10m")
            with gr.Accordion("hyper-parameters (blank: the preset's)", open=False):
                for row in HYPER_ROWS:
                    with gr.Row():
                        for setting_name in row:
                            fields[setting_name] = setting_box(setting_name)
            start = gr.Button("Start training", variant="primary", elem_id="train-start")
            start_status = gr.HTML(elem_id="train-start-status")
        with gr.Column(scale=3):
            gr.Markdown("### Watch")
            jobs_table = gr.Dataframe(
                headers=JOB_HEADERS, interactive=False, elem_id="jobs-table", max_height=220
            )
            watched = gr.Dropdown(
                label="run to watch", choices=ctx.jobs.job_ids(), elem_id="train-watch"
            )
            progress = gr.HTML(elem_id="train-progress")
            plot = gr.Plot(label="loss", elem_id="train-plot")
            with gr.Row():
                stop = gr.Button("Stop (saves a checkpoint)", variant="stop", elem_id="train-stop")
                until = gr.Textbox(label="resume: train until step (blank: as planned)")
                resume = gr.Button("Resume", elem_id="train-resume")
            action_status = gr.HTML(elem_id="train-action-status")
            with gr.Accordion("sample stories", open=True):
                samples = gr.Markdown(elem_id="train-samples")
            with gr.Accordion("log", open=False):
                log = gr.Textbox(lines=12, max_lines=12, show_label=False, elem_id="train-log")
            with gr.Accordion("compare runs", open=False):
                compared = gr.Dropdown(
                    label="runs to compare (validation loss against training time)",
                    choices=ctx.ws.run_ids(),
                    multiselect=True,
                    elem_id="train-compare",
                )
                compare_plot = gr.Plot(label="validation loss by run", elem_id="train-compare-plot")
    timer = gr.Timer(REFRESH_S)

    def show_source(choice: str) -> tuple[Any, Any, Any]:
        kind = SOURCES[choice]
        return (
            gr.update(visible=kind == "builtin"),
            gr.update(visible=kind == "prepared", choices=ctx.ws.data_ids()),
            gr.update(visible=kind == "upload"),
        )

    source.change(show_source, inputs=source, outputs=[builtin_box, data_id, upload_box])
    source.change(
        lambda c: (
            gr.update(visible=SOURCES[c] == "prepared"),
            gr.update(visible=SOURCES[c] != "prepared"),
        ),
        inputs=source,
        outputs=[prepared_box, vocab],
    )
    lang.change(lambda lg: DEFAULT_VOCAB[lg], inputs=lang, outputs=vocab)
    length_kind.change(
        lambda k: (gr.update(visible=k == "max steps"), gr.update(visible=k == "time budget")),
        inputs=length_kind,
        outputs=[fields["max_steps"], fields["time_budget"]],
    )

    setting_names = ["max_steps", "time_budget", *(n for row in HYPER_ROWS for n in row)]

    @user_errors(3, status_index=1)
    def do_start(
        name: str,
        source: str,
        lang: str,
        stories: float | None,
        data_id: str | None,
        upload: str | None,
        vocab: float | None,
        preset: str,
        length_kind: str,
        *values: str,
    ) -> tuple[Any, str, Any]:
        *values, base = values  # the last input: the run to fine-tune, if any
        given = dict(zip(setting_names, values, strict=True))
        by_steps = length_kind == "max steps"
        if by_steps and not (given["max_steps"] or "").strip():
            raise TinylmError("set max steps (or train for a time budget)")
        given["max_steps" if not by_steps else "time_budget"] = None
        context = given.pop("context")
        request = TrainRequest(
            name=name,
            preset=preset,
            source=SOURCES.get(source, source),
            lang=lang,
            stories=int(stories or 0),
            data_id=data_id,
            upload_path=upload,
            upload_name=_upload_name(upload),
            vocab_size=int(vocab) if vocab else None,
            context=optional_number(context, "context length"),
            init_from=base if base and base != NEW_MODEL else None,
            **given,  # text as typed: parsed and checked by the settings' declarations
        )
        run_id = ctx.jobs.start(request)
        text = f"started {run_id}; it trains in the background (closing this tab does not stop it)"
        watch = gr.update(choices=ctx.jobs.job_ids(), value=run_id)
        return gr.update(value=default_run_name(preset)), status_html(text, "ok"), watch

    start.click(
        do_start,
        inputs=[
            name,
            source,
            lang,
            stories,
            data_id,
            upload,
            vocab,
            preset,
            length_kind,
            *(fields[n] for n in setting_names),
            init_from,  # last, so scripts that name the inputs before it keep working
        ],
        outputs=[name, start_status, watched],
        api_name="start_training",
    )

    shown_plot = gr.State("")  # which run and how many metric rows this browser's plot shows

    def figure_for(run_id: str, shown: str) -> tuple[Any, str]:
        """The loss figure, or no update when this browser already shows the same curve."""
        rows = ctx.jobs.metrics(ctx.ws.run_path(run_id))
        key = f"{run_id}:{len(rows)}"
        if key == shown:
            return gr.update(), shown
        return loss_figure(rows, run_id), key

    def refresh(run_id: str | None, shown: str) -> tuple[Any, ...]:
        table = []
        for job_id in ctx.jobs.job_ids():
            try:
                st = ctx.jobs.status(job_id)
            except TinylmError:
                continue
            table.append([job_id, st.state, st.summary()])
        if not run_id:
            return table, "", None, "", "", ""
        try:
            status = ctx.jobs.status(run_id)
            figure, shown = figure_for(run_id, shown)
            sample_rows = ctx.jobs.samples(run_id)
            log_text = ctx.jobs.log_tail(run_id)
        except TinylmError as exc:
            return table, status_html(str(exc), "error"), None, "", "", ""
        page = progress_html(status)
        return table, page, figure, samples_markdown(sample_rows), log_text, shown

    outputs = [jobs_table, progress, plot, samples, log, shown_plot]
    for event in (timer.tick, watched.change):
        event(refresh, inputs=[watched, shown_plot], outputs=outputs, show_progress="hidden")

    shown_compare = gr.State("")

    def refresh_compare(run_ids: list[str] | None, shown: str) -> tuple[Any, str]:
        """Redrawn only when the selection or one of its metrics files has grown."""
        runs = {}
        for run_id in run_ids or []:
            try:
                runs[run_id] = ctx.jobs.metrics(ctx.ws.run_path(run_id))
            except TinylmError:  # deleted since it was chosen
                continue
        key = ",".join(f"{run_id}:{len(rows)}" for run_id, rows in runs.items())
        if key == shown:
            return gr.update(), shown
        return compare_figure(runs), key

    for event in (timer.tick, compared.change):
        event(
            refresh_compare,
            inputs=[compared, shown_compare],
            outputs=[compare_plot, shown_compare],
            show_progress="hidden",
        )

    @user_errors(1)
    def do_stop(run_id: str | None) -> str:
        if not run_id:
            raise TinylmError("choose a run to stop")
        ctx.jobs.stop(run_id)
        return status_html(f"stopping {run_id}: it saves a checkpoint after this step", "ok")

    stop.click(do_stop, inputs=watched, outputs=action_status, api_name="stop_training")

    @user_errors(1)
    def do_resume(run_id: str | None, until: str) -> str:
        if not run_id:
            raise TinylmError("choose a run to resume")
        ctx.jobs.resume(run_id, max_steps=optional_number(until, "train until step"))
        return status_html(f"resumed {run_id}", "ok")

    resume.click(do_resume, inputs=[watched, until], outputs=action_status)
    refreshers: list[Refresher] = [
        (watched, lambda current: choices_update(ctx.jobs.job_ids(), current, True)),
        (compared, lambda current: choices_update(ctx.ws.run_ids(), current, True)),
        (data_id, lambda current: choices_update(ctx.ws.data_ids(), current, True)),
        (
            init_from,
            lambda current: choices_update([NEW_MODEL, *ctx.model_choices()], current, True),
        ),
    ]
    return TrainTab(refreshers=refreshers)


def _upload_name(path: str | None) -> str | None:
    """Gradio keeps an upload's original file name as the last part of its temp path."""
    return Path(path).name if path else None
