"""Generate tab: a prompt, sampling settings, a story that streams in and ends by itself at the
end of the story (EOS) or when Stop is pressed; instruct fields for instruct-tuned models; and
two models side by side on one prompt."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import gradio as gr

from tinylm.errors import TinylmError
from tinylm.generate import SamplingOptions
from tinylm.gui.context import (
    GuiContext,
    Refresher,
    choices_update,
    optional_number,
    status_html,
    wire_refresh,
)
from tinylm.gui.workspace import read_json_dict
from tinylm.run import CONFIG_FILE, SAMPLE_PROMPTS
from tinylm.serve.engine import GenerationStream
from tinylm.serve.prompts import INSTRUCT_FEATURES, instruct_prompt, supports_instruct

DEFAULT_PROMPT = SAMPLE_PROMPTS["en"]
YIELD_EVERY_S = 0.05  # the browser does not need every token as its own message
ENDINGS = {"stop": "ended by itself (end of story)", "length": "reached the token limit"}


@dataclass
class GenerateTab:
    model: gr.Dropdown
    refreshers: list[Refresher]


def _options(
    temperature: float, top_k: float, top_p: float, max_tokens: float, seed: str
) -> SamplingOptions:
    return SamplingOptions(
        max_new_tokens=int(max_tokens),
        temperature=float(temperature),
        top_k=int(top_k) if top_k else None,
        top_p=float(top_p) if top_p < 1 else None,
        seed=optional_number(seed, "seed"),
    )


def _ending(stream: GenerationStream, index: int, seconds: float) -> str:
    tokens = stream.completion_tokens[index]
    reason = ENDINGS.get(stream.finish_reasons[index] or "", "stopped")
    rate = tokens / seconds if seconds > 0 else 0.0
    return f"{tokens} tokens in {seconds:.1f}s ({rate:.0f} tokens/s) · {reason}"


def build(ctx: GuiContext, max_tokens_limit: int) -> GenerateTab:
    choices = ctx.model_choices()
    with gr.Row():
        model = gr.Dropdown(
            label="model",
            choices=choices,
            value=choices[0] if choices else None,
            elem_id="gen-model",
            scale=4,
        )
        refresh = gr.Button("Refresh", scale=1, elem_id="gen-refresh")
    with gr.Row():
        with gr.Column(scale=3):
            prompt = gr.Textbox(
                label="story beginning", value=DEFAULT_PROMPT, lines=3, elem_id="gen-prompt"
            )
            with gr.Group(visible=False, elem_id="gen-instruct") as instruct_box:
                gr.Markdown("**Instructions** (this model was tuned to follow them)")
                words = gr.Textbox(label="words to use (comma separated)")
                features = gr.CheckboxGroup(list(INSTRUCT_FEATURES), label="features")
                summary = gr.Textbox(label="summary", lines=2)
            with gr.Row():
                generate = gr.Button("Generate", variant="primary", elem_id="gen-go")
                stop = gr.Button("Stop", variant="stop", elem_id="gen-stop")
            output = gr.Textbox(
                label="story", lines=14, max_lines=30, interactive=False, elem_id="gen-output"
            )
            status = gr.HTML(elem_id="gen-status")
        with gr.Column(scale=1):
            temperature = gr.Slider(
                0,
                2,
                value=0.8,
                step=0.05,
                label="temperature (0: greedy)",
                elem_id="gen-temperature",
            )
            top_k = gr.Slider(0, 200, value=0, step=1, label="top-k (0: off)")
            top_p = gr.Slider(0.05, 1, value=0.95, step=0.01, label="top-p (1: off)")
            max_tokens = gr.Slider(
                1,
                max_tokens_limit,
                value=min(300, max_tokens_limit),
                step=1,
                label="max tokens",
                elem_id="gen-max-tokens",
            )
            seed = gr.Textbox(label="seed (blank: random)", elem_id="gen-seed")
    sampling = [temperature, top_k, top_p, max_tokens, seed]

    gr.Markdown("### Compare two models on one prompt (same settings and seed)")
    with gr.Row():
        model_a = gr.Dropdown(label="model A", choices=choices, elem_id="cmp-a")
        model_b = gr.Dropdown(label="model B", choices=choices, elem_id="cmp-b")
    cmp_prompt = gr.Textbox(label="story beginning", value=DEFAULT_PROMPT, elem_id="cmp-prompt")
    with gr.Row():
        compare = gr.Button("Compare", variant="primary", elem_id="cmp-go")
        cmp_stop = gr.Button("Stop", variant="stop")
    with gr.Row():
        out_a = gr.Textbox(label="A", lines=10, interactive=False, elem_id="cmp-out-a")
        out_b = gr.Textbox(label="B", lines=10, interactive=False, elem_id="cmp-out-b")
    cmp_status = gr.HTML(elem_id="cmp-status")

    refreshers: list[Refresher] = [
        (model, ctx.model_dropdown_update),
        (model_a, lambda current: choices_update(ctx.model_choices(), current)),
        (model_b, lambda current: choices_update(ctx.model_choices(), current)),
    ]
    wire_refresh(refresh.click, refreshers)

    def follow_model(run_id: str | None, text: str) -> tuple[Any, Any]:
        """Instruct fields for instruct-tuned models; the default prompt in the model's language
        (a prompt the user typed stays)."""
        if not run_id:
            return gr.update(visible=False), gr.update()
        try:
            run_dir = ctx.ws.run_path(run_id)
        except TinylmError:
            return gr.update(visible=False), gr.update()
        instruct = supports_instruct(read_json_dict(run_dir / CONFIG_FILE))
        lang = ctx.ws.language(run_dir)
        prompt = gr.update()
        if lang in SAMPLE_PROMPTS and text in SAMPLE_PROMPTS.values():
            prompt = gr.update(value=SAMPLE_PROMPTS[lang])
        return gr.update(visible=instruct), prompt

    model.change(follow_model, inputs=[model, prompt], outputs=[instruct_box, prompt])

    def run_generate(
        run_id: str | None,
        text: str,
        words: str,
        features: list[str],
        summary: str,
        *settings: Any,
    ) -> Iterator[tuple[Any, str]]:
        try:
            if not run_id:
                raise TinylmError("choose a model first (train one in the Train tab)")
            lm = ctx.engine.load(ctx.ws.run_path(run_id))
            full = text
            if supports_instruct(lm.config) and (words.strip() or features or summary.strip()):
                full = instruct_prompt(words, features, summary) + text
            slot = ctx.engine.reserve()
        except TinylmError as exc:
            yield gr.update(), status_html(str(exc), "error")
            return
        with slot:
            try:
                stream = slot.stream(lm, full, _options(*settings))
            except TinylmError as exc:
                yield gr.update(), status_html(str(exc), "error")
                return
            started = last = time.perf_counter()
            story = text
            yield story, status_html("writing…")
            try:
                for pieces in stream:
                    story += pieces[0]
                    now = time.perf_counter()
                    if now - last >= YIELD_EVERY_S:
                        last = now
                        tokens = stream.completion_tokens[0]
                        yield story, status_html(f"writing… {tokens} tokens")
            finally:
                stream.close()
            yield story, status_html(_ending(stream, 0, time.perf_counter() - started), "ok")

    gen_event = generate.click(
        run_generate,
        inputs=[model, prompt, words, features, summary, *sampling],
        outputs=[output, status],
        api_name="generate",
        concurrency_limit=None,  # the engine's slots are the limit (a clear 'busy' message)
    )
    # Cancel first, then say so: the cancelled event's last state must not hide the message.
    stop.click(None, cancels=[gen_event]).then(
        lambda: status_html("stopped by you"), outputs=status, show_progress="hidden"
    )

    def run_compare(
        a: str | None, b: str | None, text: str, *settings: Any
    ) -> Iterator[tuple[Any, Any, str]]:
        try:
            if not a or not b:
                raise TinylmError("choose two models to compare")
            runs = [ctx.engine.load(ctx.ws.run_path(r)) for r in (a, b)]
            slot = ctx.engine.reserve()
        except TinylmError as exc:
            yield gr.update(), gr.update(), status_html(str(exc), "error")
            return
        with slot:
            try:
                streams = [slot.stream(lm, text, _options(*settings)) for lm in runs]
            except TinylmError as exc:
                yield gr.update(), gr.update(), status_html(str(exc), "error")
                return
            stories = [text, text]
            started = last = time.perf_counter()
            live = [True, True]
            try:
                while any(live):
                    # One step of each in turn, so both appear to write at once.
                    for i, stream in enumerate(streams):
                        if live[i]:
                            pieces = next(stream, None)
                            if pieces is None:
                                live[i] = False
                            else:
                                stories[i] += pieces[0]
                    now = time.perf_counter()
                    if now - last >= YIELD_EVERY_S:
                        last = now
                        yield stories[0], stories[1], status_html("writing…")
            finally:
                for stream in streams:
                    stream.close()
            took = time.perf_counter() - started
            ends = " | ".join(
                f"{n}: {_ending(s, 0, took)}" for n, s in zip("AB", streams, strict=True)
            )
            yield stories[0], stories[1], status_html(ends, "ok")

    cmp_event = compare.click(
        run_compare,
        inputs=[model_a, model_b, cmp_prompt, *sampling],
        outputs=[out_a, out_b, cmp_status],
        concurrency_limit=None,
    )
    cmp_stop.click(None, cancels=[cmp_event]).then(
        lambda: status_html("stopped by you"), outputs=cmp_status, show_progress="hidden"
    )
    return GenerateTab(model=model, refreshers=refreshers)
