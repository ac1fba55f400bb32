"""What every tab shares: the workspace (the only folders the GUI touches), the background
training jobs, and the model engine that `tinylm serve` uses too."""

from __future__ import annotations

import html
from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from typing import Any

import gradio as gr

from tinylm.errors import TinylmError
from tinylm.gui.jobs import Jobs
from tinylm.gui.workspace import Workspace
from tinylm.serve.engine import Engine


@dataclass
class GuiContext:
    ws: Workspace
    jobs: Jobs
    engine: Engine

    def model_choices(self) -> list[str]:
        """Runs that have weights, i.e. can generate (a run still training has them after its
        first checkpoint)."""
        return self.ws.run_ids(with_weights=True)

    def model_dropdown_update(self, current: str | None) -> Any:
        return choices_update(self.model_choices(), current, first_by_default=True)


# A component whose contents follow the folders, and how to recompute it from its current value.
Refresher = tuple[Any, Callable[[Any], Any]]


def choices_update(choices: list[str], current: Any, first_by_default: bool = False) -> Any:
    """New dropdown choices, keeping the current pick when it still exists (for a multiselect,
    the picks that still exist)."""
    if isinstance(current, list):
        return gr.update(choices=choices, value=[c for c in current if c in choices])
    if current in choices:
        return gr.update(choices=choices, value=current)
    return gr.update(choices=choices, value=choices[0] if first_by_default and choices else None)


def wire_refresh(event: Callable, refreshers: list[Refresher]) -> None:
    """On `event` (a page load, a tab opened), recompute every refresher's component."""
    components = [component for component, _ in refreshers]

    def refresh(*current: Any) -> Any:
        updates = tuple(fn(value) for (_, fn), value in zip(refreshers, current, strict=True))
        return updates[0] if len(updates) == 1 else updates

    event(refresh, inputs=components, outputs=components, show_progress="hidden")


def error_text(exc: Exception) -> str:
    return f"⚠️ {exc}"


def status_html(text: str, kind: str = "info") -> str:
    return f'<div class="tl-status tl-{kind}">{html.escape(text)}</div>'


def user_errors(n_outputs: int, status_index: int = -1) -> Callable:
    """Turn a TinylmError from a handler into a one-line message in its status output, leaving
    the other outputs as they are (the browser shows the user's mistake, not a traceback)."""

    def decorate(fn: Callable) -> Callable:
        @wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            try:
                return fn(*args, **kwargs)
            except TinylmError as exc:
                outputs = [gr.update() for _ in range(n_outputs)]
                outputs[status_index] = status_html(str(exc), "error")
                return outputs[0] if n_outputs == 1 else tuple(outputs)

        return wrapper

    return decorate


def optional_number(text: str | float | None, label: str, kind: type = int) -> Any:
    """A number typed into a text box that may be left blank (None: use the default)."""
    cleaned = "" if text is None else str(text).strip().replace(",", "").replace("_", "")
    if not cleaned:
        return None
    try:
        return kind(cleaned)
    except ValueError:
        what = "a whole number" if kind is int else "a number"
        raise TinylmError(f"{label}: '{text}' is not {what}") from None
