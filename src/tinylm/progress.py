"""Progress display: a live rich bar on a terminal, a plain status line every few seconds
elsewhere (CI logs, pipes), so long jobs are never silent and logs never fill with redraws."""

from __future__ import annotations

import sys
import time
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.progress import Progress as RichProgress

console = Console(stderr=False, highlight=False)
err_console = Console(stderr=True, highlight=False)
# Into a log or a pipe, a message stays one line (rich would break it at 80 columns, and a grep
# for "2 processes (ddp)" then missed it); a terminal wraps long lines itself.
for _c in (console, err_console):
    _c.soft_wrap = not _c.is_terminal

PLAIN_INTERVAL_S = 10.0


def format_duration(seconds: float) -> str:
    seconds = max(0, int(seconds))
    h, rem = divmod(seconds, 3600)
    m, s = divmod(rem, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m:02d}:{s:02d}"


class Progress:
    """`with Progress("tokenizing", total=n, unit="B") as bar: bar.advance(k)`.

    `status` is a free-form text shown after the bar (loss, tokens/s...)."""

    def __init__(
        self,
        description: str,
        total: float | None,
        unit: str = "",
        enabled: bool = True,
        start: float = 0,
    ) -> None:
        self.description = description
        self.total = total
        self.unit = unit
        self.enabled = enabled
        self.completed = start
        self.status = ""
        self.live = enabled and console.is_terminal
        self._rich: RichProgress | None = None
        self._task: Any = None
        self._started = time.monotonic()
        self._last_plain = self._started

    def __enter__(self) -> Progress:
        if self.live:
            columns = [TextColumn("[bold]{task.description}"), BarColumn()]
            if self.total is not None and self.unit in ("steps", "stories", "samples", "batches"):
                columns.append(MofNCompleteColumn())
            elif self.total is not None:
                columns.append(TaskProgressColumn())
            columns += [
                TextColumn("{task.fields[status]}"),
                TimeElapsedColumn(),
                TextColumn("ETA"),
                TimeRemainingColumn(),
            ]
            self._rich = RichProgress(*columns, console=console, transient=False)
            self._rich.__enter__()
            self._task = self._rich.add_task(
                self.description, total=self.total, completed=self.completed, status=""
            )
        return self

    def __exit__(self, *exc: object) -> None:
        if self._rich is not None:
            self._rich.__exit__(*exc)
        elif self.enabled and exc[0] is None:
            self._plain(final=True)

    def advance(self, amount: float = 1) -> None:
        self.update(completed=self.completed + amount)

    def update(
        self, completed: float | None = None, status: str | None = None, total: float | None = None
    ) -> None:
        if completed is not None:
            self.completed = completed
        if status is not None:
            self.status = status
        if total is not None:
            self.total = total
        if self._rich is not None:
            self._rich.update(
                self._task, completed=self.completed, status=self.status, total=self.total
            )
        elif self.enabled and time.monotonic() - self._last_plain >= PLAIN_INTERVAL_S:
            self._plain()

    def log(self, message: str) -> None:
        """Print above the bar (a sample, an eval result) without breaking it."""
        if self._rich is not None:
            self._rich.console.print(message, markup=False, highlight=False)
        elif self.enabled:
            print(message, flush=True)

    def _plain(self, final: bool = False) -> None:
        self._last_plain = time.monotonic()
        elapsed = self._last_plain - self._started
        if self.total:
            frac = min(1.0, self.completed / self.total) if self.total else 0
            eta = elapsed / frac - elapsed if frac > 0 else 0
            amount = f"{_human(self.completed, self.unit)}/{_human(self.total, self.unit)}"
            where = f"{amount} ({100 * frac:.0f}%)"
            timing = f"elapsed {format_duration(elapsed)}"
            if not final:
                timing += f" ETA {format_duration(eta)}"
        else:
            where = _human(self.completed, self.unit)
            timing = f"elapsed {format_duration(elapsed)}"
        status = f" {self.status}" if self.status else ""
        print(f"{self.description}: {where}{status} {timing}", file=sys.stdout, flush=True)


def _human(value: float, unit: str) -> str:
    if unit == "B":
        for scale, suffix in ((1 << 30, "GiB"), (1 << 20, "MiB"), (1 << 10, "KiB")):
            if value >= scale:
                return f"{value / scale:.1f} {suffix}"
        return f"{int(value)} B"
    return f"{int(value):,}"
