"""User-facing errors.

Anything a user can cause (a missing file, a typo in a flag, an empty corpus) raises `TinylmError`
with one line that names the thing and the fix. The CLI prints that line and exits non-zero; only
genuine bugs produce a traceback.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class TinylmError(Exception):
    """An error caused by user input; its message is shown as-is, without a traceback."""


def did_you_mean(name: str, choices: Iterable[str]) -> str:
    """' (did you mean 'x'?)' when a close match exists, else ''."""
    match = difflib.get_close_matches(name, list(choices), n=1, cutoff=0.6)
    return f" (did you mean '{match[0]}'?)" if match else ""
