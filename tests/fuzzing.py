"""The fuzzing harness: hostile argv for every `tinylm` verb, built from the verb's own parser
(each flag's declared type gives its edge values), run in this process through
`tinylm.cli.main`, and the invariant every case must keep:

- exit 0 (done), 2 (refused, in exactly one `error:` line) or 130 (interrupted: a case that
  would run long is stopped with the Ctrl-C a user would press); never an exception, never a
  traceback;
- the inputs (real stories, a run, prepared data, tokenizers) are never changed;
- a refused command leaves nothing behind in the places it was given to write; a finished or
  interrupted one leaves no temp file, and what it wrote loads (JSON parses, a run loads).

Used by tests/test_fuzz.py: a fixed-seed slice in the default suite, 10,000 cases when slow.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import io
import json
import shutil
import signal
import sys
import time
import traceback
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from hypothesis import strategies as st

from tinylm.cli import build_parser, main

TRACEBACK = "Traceback (most recent call last)"
# Verbs that serve forever, or reach the network: fuzzed through their own entry points (the
# HTTP API, the GUI's handlers) instead. `demo` is `data synth` + `train` + `generate`, each
# fuzzed here. `push` would reach the real hub with a logged-in token: tests/test_push.py
# drives it against a local hub, bad input included.
NOT_FUZZED_HERE = {"serve", "gui", "demo", "data download", "push"}
# Flags whose work leaves the process (inductor's compile workers, a judge on the network,
# lm-eval's harness) and so cannot be cut short cleanly by an in-process Ctrl-C.
SKIPPED_FLAGS = {"--compile", "--judge-url", "--lm-eval", "--embedder"}

INTS = ["0", "1", "2", "3", "-1", "7", "64", str(2**31), str(2**63), str(2**64), "9" * 40,
        "1e3", "0x10", "1_000", "", " 1", "٣", "nan"]  # fmt: skip
NUMBERS = ["0", "-0", "1", "0.5", "1e-9", "3e-3", "-3", "1e309", "nan", "inf", "-inf", "NaN",
           "", "0x1p-3", "1/2", "٣"]  # fmt: skip
TEXTS = st.one_of(
    st.sampled_from(["", " ", "Once upon a time", "从前", "\x00", "a" * 5000, "\udcff\udcfe"]),
    st.text(max_size=30),  # any code point, lone surrogates included (what a shell passes)
)


@dataclass
class World:
    """The places a case may name: real inputs (never to change) and, per case, fresh
    candidates for its outputs."""

    inputs: dict[str, Path]
    outputs: Path  # where each case's output candidates are made
    locked: Path  # a folder another process holds the lock of, for the whole session
    read_only: Path | None
    run_template: Path  # copied as the case's "existing run" output candidate
    checksums: dict[str, str] = field(default_factory=dict)

    def output_candidates(self, case: Path) -> dict[str, Path]:
        case.mkdir(parents=True)
        (case / "empty-dir").mkdir()
        (case / "a-file.txt").write_text("the user's own file\n")
        (case / "foreign-dir").mkdir()
        (case / "foreign-dir" / "notes.txt").write_text("mine\n")
        shutil.copytree(self.run_template, case / "run-copy")
        places = {
            "new": case / "new",
            "new.json": case / "new.json",
            "new.gguf": case / "new.gguf",
            "nested": case / "missing" / "deeper" / "out",
            "empty-dir": case / "empty-dir",
            "a-file": case / "a-file.txt",
            "under-a-file": case / "a-file.txt" / "out",
            "foreign-dir": case / "foreign-dir",
            "run-copy": case / "run-copy",
            "locked": self.locked,
        }
        if self.read_only is not None:
            places["read-only"] = self.read_only / "out"
        return places


@dataclass
class Verb:
    path: list[str]
    actions: list[argparse.Action]


def verbs() -> list[Verb]:
    """Every leaf command of the real parser, with its arguments."""
    found: list[Verb] = []

    def walk(parser: argparse.ArgumentParser, path: list[str]) -> None:
        subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
        if not subs:
            actions = [a for a in parser._actions if not isinstance(a, argparse._HelpAction)]
            found.append(Verb(path, actions))
            return
        for name, sub in subs[0].choices.items():
            walk(sub, [*path, name])

    walk(build_parser(), [])
    return [v for v in found if " ".join(v.path) not in NOT_FUZZED_HERE]


OUTPUT_DESTS = {"out", "report", "tokenizer_out", "judge_cache"}
INPUT_DESTS = {
    "inputs", "data", "run", "runs", "source", "tokenizer", "config", "init_from", "baseline",
    "train_data", "offensive_words", "vocab_file", "from_",
}  # fmt: skip


# What a user who means well passes: half the values are drawn from these, so that cases get
# past the first check and reach the work (and its checks) too.
GOOD_INPUTS = {
    "inputs": ["stories.txt", "stories.jsonl", "stories-crlf.txt"],
    "data": ["data"],
    "run": ["run"],
    "runs": ["run"],
    "init_from": ["run"],
    "baseline": ["run"],
    "train_data": ["data", "stories.txt"],
    "source": ["stories260K.bin", "run"],
    "tokenizer": ["tokenizer.json", "tok512.model"],
    "config": ["tiny.toml"],
}
GOOD_OUTPUTS = ["new", "new.json", "new.gguf", "run-copy", "empty-dir"]
GOOD_INTS = ["1", "2", "3", "8", "300"]
GOOD_NUMBERS = ["0.5", "1", "0.001", "0.1"]


def _value(draw: st.DrawFn, action: argparse.Action, world: World, outputs: dict[str, Path]):
    dest = action.dest
    good = draw(st.booleans())
    if dest in OUTPUT_DESTS:
        names = GOOD_OUTPUTS if good else sorted(outputs)
        return str(outputs[draw(st.sampled_from(names))])
    if dest in INPUT_DESTS:
        if good and dest in GOOD_INPUTS:
            return str(world.inputs[draw(st.sampled_from(GOOD_INPUTS[dest]))])
        names = [*sorted(world.inputs), "<output>"]
        name = draw(st.sampled_from(names))
        if name == "<output>":  # an output place given as an input: a folder, a missing file
            return str(outputs[draw(st.sampled_from(sorted(outputs)))])
        return str(world.inputs[name])
    if action.choices:
        hostile = ["", "NOPE", "Fp32"]
        return draw(st.sampled_from([*map(str, action.choices), *([] if good else hostile)]))
    kind = getattr(action.type, "__name__", "")
    if kind in ("positive_int", "non_negative_int", "seed", "int", "_port"):
        return draw(st.sampled_from(GOOD_INTS if good else INTS))
    if kind in ("number", "float", "_positive", "_fraction"):
        return draw(st.sampled_from(GOOD_NUMBERS if good else NUMBERS))
    if kind == "parse":  # settings-derived: the setting's own parser decides; try both kinds
        if good:
            return draw(st.sampled_from([*GOOD_INTS, *GOOD_NUMBERS]))
        return draw(st.sampled_from([*INTS, *NUMBERS, "10s", "2h", "adamw", "skip", "bf16"]))
    return draw(TEXTS) if not good else draw(st.sampled_from(["Once upon a time", "from"]))


@st.composite
def argv_for(draw: st.DrawFn, verb: Verb, world: World, outputs: dict[str, Path]) -> list[str]:
    """A command line for `verb`: its required arguments (almost always), some optional ones,
    each with a value drawn from its type's edge cases."""
    argv = list(verb.path)
    for action in verb.actions:
        if any(flag in SKIPPED_FLAGS for flag in action.option_strings):
            continue
        required = action.required or (not action.option_strings and action.nargs != "?")
        # required: almost always; optional: one in four, so a case is not all hostile flags
        if not draw(
            st.sampled_from([True] * 9 + [False] if required else [True, False, False, False])
        ):
            continue
        flag = action.option_strings[0] if action.option_strings else None
        if action.nargs == 0:  # store_true / --x/--no-x
            argv.append(draw(st.sampled_from(action.option_strings)))
            continue
        count = draw(st.integers(1, 2)) if action.nargs == "+" else 1
        values = [_value(draw, action, world, outputs) for _ in range(count)]
        if flag:
            for value in values:
                argv.extend([flag, value])
        else:
            argv.extend(values)
    return argv


CACHE_DIR = "eval-index"


def checksum_tree(paths: dict[str, Path]) -> dict[str, str]:
    sums: dict[str, str] = {}
    for name, path in paths.items():
        files = sorted(path.rglob("*")) if path.is_dir() else [path]
        # the novelty index `eval --train-data` caches in a prepared folder it may write to
        files = [f for f in files if CACHE_DIR not in f.relative_to(path.parent).parts]
        digest = hashlib.sha256()
        for f in files:
            if f.is_file():
                digest.update(str(f.relative_to(path.parent)).encode() + f.read_bytes())
        sums[name] = digest.hexdigest()
    return sums


def listing(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*")}


class _Interrupted:
    """Press Ctrl-C (SIGINT, as a terminal does) `after` seconds into the case."""

    def __init__(self, after: float) -> None:
        self.after = after

    def __enter__(self) -> None:
        # Ctrl-C as a terminal's foreground process has it: a harness started in the background
        # (`pytest ... &` from a script) inherits SIGINT ignored, and no case would be stopped
        signal.signal(signal.SIGINT, signal.default_int_handler)
        signal.signal(signal.SIGALRM, lambda *_: signal.raise_signal(signal.SIGINT))
        # and again every second: an interrupt raised where Python drops it (a gc callback)
        # is pressed again, as a user would
        signal.setitimer(signal.ITIMER_REAL, self.after, 1.0)

    def __exit__(self, *exc: object) -> None:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, signal.SIG_DFL)


@dataclass
class Outcome:
    argv: list[str]
    code: int
    out: str
    err: str
    seconds: float
    sigint_kept: bool = True  # the case left Ctrl-C as it found it (callers in-process rely on it)


def run_case(argv: list[str], budget: float) -> Outcome:
    stdout, stderr = io.StringIO(), io.StringIO()
    started = time.perf_counter()
    with (
        contextlib.redirect_stdout(stdout),
        contextlib.redirect_stderr(stderr),
        _Interrupted(budget),
    ):
        try:
            code = main(argv)
        except SystemExit as exc:  # argparse: --help (0) or a bad value (2)
            code = exc.code if isinstance(exc.code, int) else 2
        except BaseException:  # what a user would see as a traceback
            code = -1
            print(traceback.format_exc(), file=sys.stderr)
    kept = signal.getsignal(signal.SIGINT) is signal.default_int_handler
    seconds = time.perf_counter() - started
    return Outcome(argv, code, stdout.getvalue(), stderr.getvalue(), seconds, kept)


_CANDIDATE_FILES = ("new.json", "new.gguf", "a-file.txt")


def check_outcome(outcome: Outcome, case: Path, before: set[str], world: World) -> None:
    """The invariant; an AssertionError names the command line that broke it."""
    what = f"tinylm {' '.join(map(repr, outcome.argv))}"
    text = outcome.out + outcome.err
    assert outcome.code in (0, 2, 130), f"{what}: exit {outcome.code}\n{text[-3000:]}"
    assert TRACEBACK not in text, f"{what}: a traceback\n{text[-3000:]}"
    assert outcome.sigint_kept, f"{what}: left Ctrl-C changed for the rest of the process"
    if outcome.code == 2:
        errors = [line for line in outcome.err.splitlines() if "error:" in line]
        assert len(errors) == 1, f"{what}: {len(errors)} error lines\n{outcome.err[-3000:]}"
    now = checksum_tree(world.inputs)
    changed = sorted(k for k in now if now[k] != world.checksums.get(k))
    assert not changed, f"{what}: changed the inputs {changed}"
    after = listing(case)
    new = after - before
    if outcome.code == 2:
        assert not new, f"{what}: refused, but left {sorted(new)[:5]}"
    leftovers = [n for n in after if n.endswith(".tmp") or ".tmp." in n or "tinylm.lock" in n]
    assert not leftovers, f"{what}: left {leftovers[:5]}"
    for name in new:
        path = case / name
        # JSON tinylm writes inside the folders it makes (a file the user named x.json may
        # hold whatever format was asked for)
        inside = len(Path(name).parts) > 1 and Path(name).parts[0] not in _CANDIDATE_FILES
        if inside and path.suffix == ".json" and path.is_file() and path.stat().st_size:
            json.loads(path.read_text(encoding="utf-8"))  # written whole, or not at all
    for config in [case / n for n in new if n.endswith("config.json")]:
        run = config.parent
        if (
            "model" in json.loads(config.read_text(encoding="utf-8"))
            and (run / "model.safetensors").is_file()
        ):  # a tinylm run (an HF export has a config.json of another kind)
            from tinylm.run import load_run

            load_run(run)  # a folder that looks like a run is one


@dataclass
class Tally:
    cases: int = 0
    seconds: float = 0.0
    by_verb: Counter = field(default_factory=Counter)
    by_exit: Counter = field(default_factory=Counter)

    def add(self, verb: Verb, outcome: Outcome) -> None:
        self.cases += 1
        self.seconds += outcome.seconds
        self.by_verb[" ".join(verb.path)] += 1
        self.by_exit[outcome.code] += 1

    def summary(self) -> dict:
        return {
            "cases": self.cases,
            "seconds": round(self.seconds, 1),
            "by_exit": dict(sorted(self.by_exit.items())),
            "by_verb": dict(sorted(self.by_verb.items())),
        }


def warm_up(world: World, scratch: Path) -> None:
    """One command of each kind that finishes, before any case: every module the verbs import
    lazily is imported whole. (A Ctrl-C that lands inside an import leaves a half-made module
    behind in this process; a user's process ends there, the harness's goes on.)"""
    inputs, out = world.inputs, scratch
    out.mkdir()
    commands = [
        ["eval", inputs["run"], "--report", out / "report", "--baseline", inputs["run"],
         "--train-data", inputs["data"], "--json"],
        ["data", "clean", inputs["stories.txt"], "--out", out / "clean.txt", "--report",
         out / "clean.json"],
        ["export", inputs["run"], "--format", "gguf", "--out", out / "m.gguf"],
        ["export", inputs["run"], "--format", "hf", "--out", out / "hf"],
        ["export", inputs["run"], "--format", "llama2c", "--out", out / "m.bin"],
        ["import", out / "hf", "--out", out / "imported"],
        ["tokenizer", "train", inputs["stories.txt"], "--vocab-size", "300", "--out",
         out / "t.json"],
        ["data", "synth", "--stories", "3", "--out", out / "synth.txt"],
        ["generate", inputs["run"], "--max-new-tokens", "4"],
    ]  # fmt: skip
    for argv in commands:
        outcome = run_case([str(a) for a in argv], budget=600)
        assert outcome.code == 0, f"warm-up {argv}: {outcome.err[-2000:]}"
    shutil.rmtree(out)


def fresh_case(world: World, counter: Iterator[int]) -> tuple[Path, dict[str, Path]]:
    case = world.outputs / f"case-{next(counter):06d}"
    return case, world.output_candidates(case)
