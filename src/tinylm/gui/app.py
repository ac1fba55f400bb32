"""`tinylm gui`: the Gradio app. Builds the five tabs, wires the few links between them (a model
loaded in Models is selected in Generate and Evaluate) and serves it on 127.0.0.1 by default."""

from __future__ import annotations

import os
from pathlib import Path

from tinylm.serve.engine import Engine
from tinylm.version import __version__

# Gradio reads these at import: no telemetry, no update check (the GUI is private by default).
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import gradio as gr

from tinylm.gui import evaluate_tab, generate_tab, models_tab, rate_tab, train_tab
from tinylm.gui.context import GuiContext, wire_refresh
from tinylm.gui.jobs import Jobs
from tinylm.gui.workspace import Workspace

MAX_UPLOAD = "500mb"
# System fonts only: the browser fetches nothing from the internet.
THEME = gr.themes.Soft(
    primary_hue="indigo",
    font=["ui-sans-serif", "system-ui", "sans-serif"],
    font_mono=["ui-monospace", "monospace"],
)
CSS = """
.tl-status { padding: 4px 2px; }
.tl-error { color: #b91c1c; }
.tl-ok { color: #166534; }
.tl-progress { margin: 4px 0 8px; }
.tl-bar { height: 14px; background: #e5e7eb; border-radius: 7px; overflow: hidden; margin: 6px 0; }
.tl-fill { height: 100%; background: #4f46e5; transition: width 0.6s; }
.tl-badge { padding: 1px 8px; border-radius: 9px; background: #e0e7ff; font-size: 0.85em; }
.tl-finished { background: #dcfce7; } .tl-failed, .tl-died { background: #fee2e2; }
.tl-stopped { background: #fef9c3; }
.tl-story { white-space: pre-wrap; padding: 8px; border: 1px solid #e5e7eb; border-radius: 6px;
  min-height: 6em; }
"""


API_ENDPOINTS = (
    "load_run",
    "delete_run",
    "start_training",
    "stop_training",
    "generate",
    "evaluate",
)


def build_app(ctx: GuiContext) -> gr.Blocks:
    with gr.Blocks(title="tinylm", analytics_enabled=False) as app:
        gr.Markdown(f"## tinylm {__version__} · tiny language models, trained here")
        with gr.Tabs():
            with gr.Tab("Models", id="models") as models_page:
                models = models_tab.build(ctx)
            with gr.Tab("Train", id="train") as train_page:
                train = train_tab.build(ctx)
            with gr.Tab("Generate", id="generate") as generate_page:
                generate = generate_tab.build(ctx, ctx.engine.limits.max_new_tokens)
            with gr.Tab("Evaluate", id="evaluate") as evaluate_page:
                evaluate = evaluate_tab.build(ctx)
            with gr.Tab("Rate", id="rate") as rate_page:
                rate = rate_tab.build(ctx)

        # A model loaded in Models becomes the one Generate and Evaluate use.
        def follow(run_id: str) -> tuple[object, object]:
            choices = ctx.model_choices()
            if run_id not in choices:
                return gr.update(), gr.update()
            pick = gr.update(choices=choices, value=run_id)
            return pick, pick

        models.loaded.change(follow, inputs=models.loaded, outputs=[generate.model, evaluate.run])

        # Lists follow the folders: each browser session reads them when it opens the page, and
        # again when it opens a tab (runs appear as training saves them, jobs as they start).
        pages = (
            (models_page, models.refreshers),
            (train_page, train.refreshers),
            (generate_page, generate.refreshers),
            (evaluate_page, evaluate.refreshers),
            (rate_page, rate.refreshers),
        )
        wire_refresh(app.load, [r for _, refreshers in pages for r in refreshers])
        for page, refreshers in pages:
            wire_refresh(page.select, refreshers)
    # The API is the named actions a script may call (and the tests fuzz); the page's own
    # wiring (clicks in a table, refreshes, showing a box) is not offered to clients.
    for fn in app.fns.values():
        if fn.api_name not in API_ENDPOINTS:
            fn.api_visibility = "private"
    return app


def launch(
    runs_dir: str | Path,
    data_dir: str | Path,
    host: str,
    port: int,
    engine: Engine,
    block: bool = True,
) -> gr.Blocks:
    ws = Workspace(runs_dir, data_dir)
    ctx = GuiContext(ws=ws, jobs=Jobs(ws), engine=engine)
    app = build_app(ctx)
    app.queue(default_concurrency_limit=4)
    print(f"tinylm gui: runs {ws.runs}, data {ws.data}", flush=True)
    app.launch(
        server_name=host,
        server_port=port,
        theme=THEME,
        css=CSS,
        max_file_size=MAX_UPLOAD,
        prevent_thread_lock=not block,
        show_error=False,
        inbrowser=False,
        share=False,
        ssr_mode=False,
        footer_links=[],
        run_history=False,
        quiet=False,
    )
    return app
