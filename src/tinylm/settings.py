"""Settings declared once.

A setting is a dataclass field whose metadata (`setting(...)`) carries its help text, unit,
bounds and choices. Everything that takes a setting from a user is derived from that one
declaration: the command-line flags (`add_flags`, `given_flags`), the TOML keys and their type
checks (`coerce`), the range checks every value passes (`check`), the GUI's fields and the
argv the GUI hands to `tinylm train` (`to_argv`). Adding a setting is one field.

The argparse value types for flags that are not settings (`positive_int`, `number`, ...) live
here too, so every parser shares one wording of "not a number" and "must be positive".
"""

from __future__ import annotations

import argparse
import math
import re
from collections.abc import Callable, Iterable
from dataclasses import MISSING, Field, dataclass, field, fields
from typing import Any

from tinylm.errors import TinylmError, did_you_mean

MAX_SEED = 2**63 - 1  # what torch.manual_seed and numpy's generators take


@dataclass(frozen=True)
class Setting:
    """What a user is told about a setting and what it may be."""

    help: str
    unit: str = ""  # shown with the help: "tokens", "seconds"
    minimum: float | None = None  # inclusive
    above: float | None = None  # exclusive lower bound ("must be positive": above=0)
    maximum: float | None = None  # inclusive
    choices: tuple[str, ...] = ()
    # text -> value for settings with a syntax of their own (durations); also the TOML value
    parse: Callable[[str], Any] | None = None
    # the command-line flag: None derives --name-with-dashes, "" means none; a bool setting's
    # flag switches it on ("--compile"), or off when `flag_sets` is False ("--no-mask")
    flag: str | None = None
    flag_sets: bool = True
    gui: str = ""  # the GUI's label for it, when the GUI offers it
    offered: tuple[str, ...] = ()  # values a form offers in a list (the setting may take others)
    metavar: str = ""  # the flag's value placeholder in --help, when the type's is not right


def setting(default: Any, help: str, **details: Any) -> Any:
    """A dataclass field declared as a setting: `lr: float = setting(5e-4, "peak lr", above=0)`."""
    return field(default=default, metadata={"setting": Setting(help, **details)})


def declared(cls: type) -> list[tuple[Field, Setting]]:
    """The settings of a dataclass, in declaration order."""
    return [(f, f.metadata["setting"]) for f in fields(cls) if "setting" in f.metadata]


def kind_of(f: Field) -> type:
    """The value type a field's annotation names (bool, int, float or str)."""
    hint = str(f.type)
    for kind in (bool, int, float, str):
        if re.search(rf"\b{kind.__name__}\b", hint):
            return kind
    return object


def optional(f: Field) -> bool:
    return "None" in str(f.type)


def flag_name(f: Field, s: Setting) -> str:
    return s.flag if s.flag is not None else "--" + f.name.replace("_", "-")


def default_of(f: Field) -> Any:
    return f.default if f.default is not MISSING else None


# -- checking values ------------------------------------------------------------------------


def _bound(x: float) -> str:
    return f"{x:,}" if float(x).is_integer() and abs(x) >= 1e6 else f"{x:g}"


def _range_problem(value: float, s: Setting) -> str | None:
    if s.above is not None and not value > s.above:
        return "must be positive" if s.above == 0 else f"must be above {_bound(s.above)}"
    if s.minimum is not None and value < s.minimum:
        return f"must be >= {_bound(s.minimum)}"
    if s.maximum is not None and value > s.maximum:
        return f"must be <= {_bound(s.maximum)}"
    return None


def check(f: Field, s: Setting, value: Any, name: str) -> Any:
    """`value` as the setting's type and within its range, or a one-line TinylmError that
    starts with `name` (a flag, or a file and key)."""
    if value is None:
        if optional(f):
            return None
        raise TinylmError(f"{name} needs a value")
    kind = kind_of(f)
    numeric = isinstance(value, int | float) and not isinstance(value, bool)
    wrong_type = (
        (kind is bool and not isinstance(value, bool))
        or (kind in (int, float) and not numeric)
        or (kind is int and not isinstance(value, int))
        or (kind is str and not isinstance(value, str))
    )
    if wrong_type:
        raise TinylmError(f"{name} should be {f.type}, got {value!r}")
    if kind is float:
        value = float(value)
        if not math.isfinite(value):
            raise TinylmError(f"{name} must be a finite number, got {value}")
    if kind in (int, float):
        problem = _range_problem(value, s)
        if problem:
            raise TinylmError(f"{name} {problem}, got {_bound(value)}")
    if kind is str and s.choices and value not in s.choices:
        raise TinylmError(
            f"{name} must be one of {', '.join(s.choices)}, got '{value}'"
            f"{did_you_mean(value, s.choices)}"
        )
    return value


def check_all(obj: Any) -> None:
    """Every declared setting of a dataclass instance, in place (ints become floats), each
    named by its flag in a message."""
    for f, s in declared(type(obj)):
        label = flag_name(f, s) or f.name
        setattr(obj, f.name, check(f, s, getattr(obj, f.name), label))


def coerce(cls: type, values: dict[str, Any], where: str) -> dict[str, Any]:
    """Values from a file (TOML, config.json) checked against `cls`'s fields: unknown keys are
    refused with a suggestion, each value has its declared type (and, for a setting, range); a
    setting with a syntax of its own (a duration) may be given as text."""
    check_keys(values, cls, where)
    by_name = {f.name: f for f in fields(cls)}
    out: dict[str, Any] = {}
    for key, value in values.items():
        f = by_name[key]
        s = f.metadata.get("setting") or Setting("")
        if s.parse is not None and isinstance(value, str):
            try:
                value = s.parse(value)
            except TinylmError as exc:
                raise TinylmError(f"{where}: '{key}': {exc}") from None
        out[key] = check(f, s, value, f"{where}: '{key}'")
    return out


def check_keys(values: dict[str, Any], cls: type, where: str) -> None:
    """Reject unknown keys with a suggestion; a typo must never be silently ignored."""
    names = [f.name for f in fields(cls)]
    for key in values:
        if key not in names:
            raise TinylmError(f"unknown key '{key}' in {where}{did_you_mean(key, names)}")


_SURROGATE = re.compile("[\ud800-\udfff]")


def check_text(text: str, what: str) -> str:
    """Text a user hands in (a prompt, a chat message): bytes that were not UTF-8 reach Python
    as lone surrogates (a shell's surrogate escapes, a JSON "\\udc80"), which no tokenizer can
    encode; refused in one line with where the first one is."""
    bad = _SURROGATE.search(text)
    if bad:
        raise TinylmError(
            f"{what} holds bytes that are not valid UTF-8 (at character {bad.start()}); pass "
            "UTF-8 text"
        )
    return text


# -- argparse value types -----------------------------------------------------------------


def whole_number(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a whole number") from None


def number(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a number") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"'{text}' is not a finite number")
    return value


def positive_int(text: str) -> int:
    value = whole_number(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be positive, got {value}")
    return value


def non_negative_int(text: str) -> int:
    value = whole_number(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {value}")
    return value


def seed(text: str) -> int:
    value = whole_number(text)
    if not 0 <= value <= MAX_SEED:
        raise argparse.ArgumentTypeError(f"a seed must be in 0..2^63-1, got {value}")
    return value


def _flag_type(f: Field, s: Setting) -> Callable[[str], Any]:
    kind = kind_of(f)

    def parse(text: str) -> Any:
        if s.parse is not None:
            try:
                return s.parse(text)
            except TinylmError as exc:
                raise argparse.ArgumentTypeError(str(exc)) from None
        if kind not in (int, float):
            return text  # choices are checked with the rest of the config, with a suggestion
        value: float = whole_number(text) if kind is int else number(text)
        problem = _range_problem(value, s)
        if problem:
            raise argparse.ArgumentTypeError(f"{problem}, got {text}")
        return value

    return parse


def describe(s: Setting) -> str:
    """The help line of a flag: the text, then its unit."""
    return f"{s.help} [{s.unit}]" if s.unit else s.help


def metavar(f: Field, s: Setting) -> str:
    if s.metavar:
        return s.metavar
    if s.choices:
        return "{" + ",".join(s.choices) + "}"
    if s.parse is not None:
        return "TIME"
    return {int: "N", float: "X"}.get(kind_of(f), "TEXT")


def add_flags(parser: argparse.ArgumentParser, cls: type, skip: Iterable[str] = ()) -> list[str]:
    """One flag per declared setting of `cls` that has one; returns the dests added. A flag's
    value is None unless given, so layers below it (preset, file) show through."""
    skip = set(skip)
    added = []
    for f, s in declared(cls):
        flag = flag_name(f, s)
        if not flag or f.name in skip:
            continue
        if kind_of(f) is bool:
            action = "store_true" if s.flag_sets else "store_false"
            parser.add_argument(flag, dest=f.name, action=action, default=None, help=describe(s))
        else:
            parser.add_argument(
                flag, dest=f.name, type=_flag_type(f, s), metavar=metavar(f, s), help=describe(s)
            )
        added.append(f.name)
    return added


def given_flags(args: argparse.Namespace, cls: type) -> dict[str, Any]:
    """The settings of `cls` given on the command line (absent ones are left out)."""
    return {
        f.name: getattr(args, f.name)
        for f, s in declared(cls)
        if flag_name(f, s) and getattr(args, f.name, None) is not None
    }


def to_argv(cls: type, values: dict[str, Any]) -> list[str]:
    """The command-line flags that give `values` (the inverse of `given_flags`): what the GUI
    hands to `tinylm train`."""
    by_name = {f.name: (f, s) for f, s in declared(cls)}
    argv: list[str] = []
    for name, value in values.items():
        if value is None:
            continue
        f, s = by_name[name]
        flag = flag_name(f, s)
        if not flag:
            raise ValueError(f"setting {name} has no command-line flag")
        if kind_of(f) is bool:
            if value == s.flag_sets:
                argv.append(flag)
        else:
            argv += [flag, f"{value:g}" if isinstance(value, float) else str(value)]
    return argv


def gui_settings(cls: type) -> dict[str, Setting]:
    """The settings the GUI offers, by name."""
    return {f.name: s for f, s in declared(cls) if s.gui}


def parse_text(cls: type, name: str, text: str) -> Any:
    """A value typed into a form field (the GUI): blank is None; else parsed and checked as the
    flag would be, with the field's label in the message."""
    text = (text or "").strip()
    if not text:
        return None
    f = next(f for f in fields(cls) if f.name == name)
    s = f.metadata["setting"]
    try:
        return _flag_type(f, s)(text)
    except argparse.ArgumentTypeError as exc:
        raise TinylmError(f"{s.gui or name}: {exc}") from None
