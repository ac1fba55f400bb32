"""Rate tab: blind human evaluation. Two stories for the same prompt from two of the chosen
runs, side by side in random order with the names hidden; the rater picks the better one (or a
tie, or both bad), optionally per rubric dimension. Every choice is appended to the workspace's
ratings.jsonl (`tinylm.ratings`: locked single-write appends, so raters in several tabs never
lose a line); the results panel ranks the runs from that file."""

from __future__ import annotations

import html
import random
from dataclasses import dataclass
from typing import Any

import gradio as gr

from tinylm.errors import TinylmError
from tinylm.generate import SamplingOptions
from tinylm.gui.context import GuiContext, Refresher, choices_update, status_html
from tinylm.ratings import (
    DIMENSIONS,
    RATINGS_FILE,
    append_rating,
    read_ratings,
    standings,
    standings_markdown,
)

PROMPT_SOURCES = {
    "built-in generator's prompts": "synth",
    "held-out story beginnings": "held-out",
    "my own prompts": "own",
}
CHOICE_BUTTONS = {"A is better": "a", "B is better": "b", "Tie": "tie", "Both bad": "both bad"}
# How rated stories are sampled (stated in each rating, so a rating can be reproduced).
RATE_SAMPLING = dict(max_new_tokens=160, temperature=0.8, top_p=0.95)
PROMPTS_PER_SESSION = 200


@dataclass
class RateTab:
    refreshers: list[Refresher]


def session_prompts(
    ctx: GuiContext, source: str, data_id: str | None, own: str, lang: str
) -> list[str]:
    """The prompts a rating session draws from."""
    kind = PROMPT_SOURCES.get(source)
    if kind == "own":
        prompts = [line.strip() for line in (own or "").splitlines() if line.strip()]
        if not prompts:
            raise TinylmError("write one prompt per line, or choose another prompt source")
        return prompts
    from tinylm.evalsuite.completion import story_beginning

    if kind == "held-out":
        from tinylm.evalsuite.stories import held_out_stories

        if not data_id:
            raise TinylmError("choose the prepared data folder whose held-out stories to use")
        stories = held_out_stories(ctx.ws.data_path(data_id), PROMPTS_PER_SESSION)
    else:
        from tinylm.synth import generate_stories

        stories = [s.text for s in generate_stories(lang, PROMPTS_PER_SESSION, seed=7)]
    return [story_beginning(s, 0.25) for s in stories]


def new_pair(ctx: GuiContext, session: dict[str, Any]) -> dict[str, Any]:
    """The next pair: a prompt, two different runs in random order, a seed; both stories
    written now (each run at the same seed, so a story depends on its model only)."""
    rng = random.Random(session["seed"] * 1_000_003 + session["count"])
    prompt = rng.choice(session["prompts"])
    run_a, run_b = rng.sample(session["runs"], 2)
    seed = rng.randrange(2**31)
    options = SamplingOptions(**RATE_SAMPLING, seed=seed)
    stories = []
    for run_id in (run_a, run_b):
        lm = ctx.engine.load(ctx.ws.run_path(run_id))
        with ctx.engine.reserve() as slot:
            text = prompt
            for pieces in slot.stream(lm, prompt, options):
                text += pieces[0]
        stories.append(text)
    return {"prompt": prompt, "run_a": run_a, "run_b": run_b, "seed": seed,
            "story_a": stories[0], "story_b": stories[1]}  # fmt: skip


def story_html(text: str, side: str) -> str:
    return f'<div class="tl-story" id="rate-story-{side}">{html.escape(text)}</div>'


def build(ctx: GuiContext) -> RateTab:
    ratings_path = ctx.ws.runs / RATINGS_FILE
    gr.Markdown(
        "Blind comparison: two stories for the same prompt, from two of the runs you pick, in "
        "random order and with the names hidden. Choices go to "
        f"`{RATINGS_FILE}` in the runs folder; `tinylm eval --ratings` reads it too."
    )
    with gr.Row():
        runs = gr.Dropdown(
            ctx.model_choices(), multiselect=True, label="runs to compare (two or more)",
            elem_id="rate-runs",
        )  # fmt: skip
        rater = gr.Textbox(label="your name", elem_id="rate-rater")
    with gr.Row():
        source = gr.Radio(
            list(PROMPT_SOURCES), value="built-in generator's prompts", label="prompts",
            elem_id="rate-source",
        )  # fmt: skip
        lang = gr.Radio(["en", "zh"], value="en", label="language (built-in prompts)")
        data_id = gr.Dropdown(ctx.ws.data_ids(), label="data folder (held-out beginnings)")
    own = gr.Textbox(label="my own prompts, one per line", lines=3, elem_id="rate-own")
    by_dimension = gr.Checkbox(
        label="also rate each rubric dimension (grammar, consistency, creativity, plot)",
        elem_id="rate-dimensions",
    )
    start = gr.Button("Start rating", variant="primary", elem_id="rate-start")
    status = gr.HTML(elem_id="rate-status")
    prompt_box = gr.Markdown(elem_id="rate-prompt")
    with gr.Row():
        with gr.Column():
            gr.Markdown("**Story A**")
            story_a = gr.HTML(elem_id="rate-a")
        with gr.Column():
            gr.Markdown("**Story B**")
            story_b = gr.HTML(elem_id="rate-b")
    with gr.Row(visible=False) as dims_row:
        dims = {
            d: gr.Radio(list(CHOICE_BUTTONS.values()), label=d, elem_id=f"rate-dim-{d}")
            for d in DIMENSIONS
        }
    with gr.Row():
        buttons = {
            label: gr.Button(
                label, interactive=False, elem_id=f"rate-choose-{choice.replace(' ', '-')}"
            )
            for label, choice in CHOICE_BUTTONS.items()
        }
    gr.Markdown("### Results")
    results_button = gr.Button("Show results", elem_id="rate-results-button")
    results = gr.Markdown(elem_id="rate-results")
    session = gr.State(None)

    button_list = list(buttons.values())

    def show(pair: dict[str, Any], count: int, note: str) -> tuple[Any, ...]:
        return (
            f"**Prompt {count + 1}:** {html.escape(pair['prompt'])}",
            story_html(pair["story_a"], "a"),
            story_html(pair["story_b"], "b"),
            status_html(note, "ok"),
            *[gr.update(interactive=True) for _ in button_list],
            *[gr.update(value=None) for _ in dims],
        )

    outputs = [prompt_box, story_a, story_b, status, *button_list, *dims.values()]

    def begin(picked, who, src, language, data, own_text, dimensional) -> tuple[Any, ...]:
        try:
            picked = list(picked or [])
            if len(picked) < 2:
                raise TinylmError("choose at least two runs to compare")
            if not (who or "").strip():
                raise TinylmError("type your name: each rating records its rater")
            prompts = session_prompts(ctx, src, data, own_text, language)
            state = {"runs": picked, "rater": who.strip(), "prompts": prompts,
                     "seed": random.SystemRandom().randrange(2**31), "count": 0,
                     "dimensions": bool(dimensional)}  # fmt: skip
            state["pair"] = new_pair(ctx, state)
        except TinylmError as exc:
            error = status_html(str(exc), "error")
            return (None, gr.update(visible=bool(dimensional)), *[gr.update()] * 3, error,
                    *[gr.update()] * (len(outputs) - 4))  # fmt: skip
        return (state, gr.update(visible=state["dimensions"]),
                *show(state["pair"], 0, "which story is better?"))  # fmt: skip

    start.click(
        begin,
        inputs=[runs, rater, source, lang, data_id, own, by_dimension],
        outputs=[session, dims_row, *outputs],
        concurrency_limit=None,
    )

    def choose(choice: str):
        def handler(state: dict[str, Any] | None, *dim_values: str | None) -> tuple[Any, ...]:
            if not state:
                return (state, *[gr.update()] * 3, status_html("press Start rating first", "error"),
                        *[gr.update()] * (len(outputs) - 4))  # fmt: skip
            pair = state["pair"]
            record = {"rater": state["rater"], **pair, "choice": choice}
            if state["dimensions"]:
                chosen = {d: v for d, v in zip(dims, dim_values, strict=True) if v}
                if chosen:
                    record["dimensions"] = chosen
            try:
                append_rating(ratings_path, record)
            except OSError as exc:
                return (state, *[gr.update()] * 3,
                        status_html(f"could not save the rating in {ratings_path}: {exc}", "error"),
                        *[gr.update()] * (len(outputs) - 4))  # fmt: skip
            state = {**state, "count": state["count"] + 1}
            state["pair"] = new_pair(ctx, state)
            note = f"saved ({state['count']} rated this session); which story is better?"
            return (state, *show(state["pair"], state["count"], note))

        return handler

    for label, button in buttons.items():
        button.click(
            choose(CHOICE_BUTTONS[label]),
            inputs=[session, *dims.values()],
            outputs=[session, *outputs],
            concurrency_limit=None,
        )

    def show_results() -> str:
        try:
            rated = read_ratings(ratings_path)
        except TinylmError as exc:
            return f"*{exc}*"
        return standings_markdown(standings(rated.ratings), rated.skipped)

    results_button.click(show_results, outputs=results)
    refreshers: list[Refresher] = [
        (runs, lambda current: choices_update(ctx.model_choices(), current)),
        (data_id, lambda current: choices_update(ctx.ws.data_ids(), current)),
    ]
    return RateTab(refreshers=refreshers)
