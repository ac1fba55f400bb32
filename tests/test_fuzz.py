"""Fuzzing every entry point with tools made for it (the invariant: tests/fuzzing.py):

- the CLI: hypothesis builds argv for every verb from its own parser;
- the HTTP API: schemathesis generates requests, valid and not, from the server's OpenAPI
  schema; every answer must be 2xx or a 4xx JSON error, and the server healthy at the end;
- the GUI: Gradio's own client calls every named handler with hostile values; every call
  answers or raises Gradio's error with a message, and the GUI logs no traceback.

A fixed-seed slice runs in the default suite; `-m slow` runs 10,000 cases per entry point.
TINYLM_FUZZ_REPORT=FILE writes the counts (docs/reliability.md records them)."""

from __future__ import annotations

import gzip
import itertools
import json
import os
import pickle
import shutil
import time
from pathlib import Path

import pytest
from conftest import first_stories, shared_file
from fuzzing import (
    TRACEBACK,
    Tally,
    World,
    check_outcome,
    checksum_tree,
    fresh_case,
    listing,
    run_case,
    verbs,
    warm_up,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

SLICE = 300  # default suite: a fixed-seed sample over all verbs (about a minute)
FULL = int(os.environ.get("TINYLM_FUZZ_CASES", 10_000))  # -m slow: per entry point
CASE_SECONDS = 2.0  # a case still working then gets Ctrl-C (exit 130, and must leave it tidy)
TINY = "[model]\ndim = 32\nn_layers = 1\nn_heads = 2\nn_kv_heads = 2\nmax_seq_len = 32\n"
UNPICKLED = Path(os.environ.get("TMPDIR", "/tmp")) / "tinylm-fuzz-unpickled"


class _Booby:
    """A pickle that leaves a file behind if anyone ever unpickles it."""

    def __reduce__(self):
        return (Path.touch, (UNPICKLED,))


def _report(name: str, tally: Tally, elapsed: float) -> None:
    summary = {"entry_point": name, "wall_seconds": round(elapsed, 1), **tally.summary()}
    print(f"\nfuzz {name}: {json.dumps(summary)}")
    target = os.environ.get("TINYLM_FUZZ_REPORT")
    if target:
        with open(target, "a", encoding="utf-8") as f:
            f.write(json.dumps(summary) + "\n")


@pytest.fixture(scope="module")
def world(tmp_path_factory, tinystories_v1) -> World:
    """Real inputs, good and broken, a prepared data folder and a trained run."""
    from tinylm.cli import main
    from tinylm.locks import Lock

    root = tmp_path_factory.mktemp("fuzz")
    inputs = root / "inputs"
    inputs.mkdir()
    stories = first_stories(tinystories_v1, 60)
    text = "".join(f"{s}\n<|endoftext|>\n" for s in stories)
    files = {
        "stories.txt": text.encode(),
        "stories-crlf.txt": text.replace("\n", "\r\n").encode(),
        "stories-utf16.txt": text.encode("utf-16"),
        "stories.jsonl": "".join(json.dumps({"text": s}) + "\n" for s in stories).encode(),
        "csv-named.jsonl": b"text\n" + "\n".join(s.replace("\n", " ") for s in stories).encode(),
        "broken-utf8.txt": text.encode()[:3000] + b"\xff\xfe\xc3" + text.encode()[3000:6000],
        "one-story.txt": stories[0].encode(),
        "empty.txt": b"",
        "junk.parquet": os.urandom(4096),
        "cut.txt.gz": gzip.compress(text.encode())[:2000],
        "plain.txt.gz": text.encode()[:2000],
        "model.pt": pickle.dumps(_Booby()),
        "garbage.json": b'{"model": {"vocab": ',
        "tiny.toml": (TINY + "[train]\nmax_steps = 2\nbatch_size = 2\n").encode(),
        "typo.toml": b"[train]\nlearning_rate = 0.1\n",
        "nan.toml": b"[train]\nlr = nan\n",
        "broken.toml": b"[model\ndim = ",
    }
    try:
        import zstandard

        files["cut.txt.zst"] = zstandard.ZstdCompressor().compress(text.encode())[:1500]
    except ImportError:
        pass
    for name, data in files.items():
        (inputs / name).write_bytes(data)
    assert main(["data", "prepare", str(inputs / "stories.txt"), "--out", str(root / "data"),
                 "--vocab-size", "300"]) == 0  # fmt: skip
    run = root / "run"
    assert main(["train", "--data", str(root / "data"), "--out", str(run), "--config",
                 str(inputs / "tiny.toml"), "--dtype", "fp32"]) == 0  # fmt: skip
    paths = {name: inputs / name for name in files}
    paths |= {"data": root / "data", "run": run, "missing": inputs / "no-such-file.txt"}
    paths |= {"tokenizer.json": run / "tokenizer.json", "inputs-dir": inputs}
    paths["tok512.model"] = shared_file("llama2c/tok512.model")
    paths["stories260K.bin"] = shared_file("llama2c/stories260K.bin")
    locked = root / "locked"
    holder = Lock(locked, "--out").acquire()  # held while the module runs
    read_only = root / "read-only"
    read_only.mkdir()
    read_only.chmod(0o555)
    writable = os.access(read_only, os.W_OK)  # root writes anywhere
    template = root / "run-template"
    shutil.copytree(run, template)
    world = World(
        inputs={k: v for k, v in paths.items() if k != "missing"},
        outputs=root / "cases",
        locked=locked,
        read_only=None if writable else read_only,
        run_template=template,
    )
    world.inputs["missing"] = paths["missing"]
    warm_up(world, root / "warm-up")
    world.checksums = checksum_tree(world.inputs)
    world.holder = holder  # type: ignore[attr-defined]
    return world


VERBS = verbs()


def _fuzz_cli(world: World, examples: int, derandomize: bool) -> Tally:
    tally = Tally()
    counter = itertools.count()
    from fuzzing import argv_for

    @settings(
        max_examples=examples,
        derandomize=derandomize,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(st.data())
    def case(data: st.DataObject) -> None:
        verb = data.draw(st.sampled_from(VERBS), label="verb")
        folder, outputs = fresh_case(world, counter)
        argv = data.draw(argv_for(verb, world, outputs), label="argv")
        before = listing(folder)
        outcome = run_case(argv, CASE_SECONDS)
        tally.add(verb, outcome)
        try:
            check_outcome(outcome, folder, before, world)
            assert not UNPICKLED.exists(), f"tinylm {argv}: unpickled a user's file"
        finally:
            shutil.rmtree(folder, ignore_errors=True)

    case()
    return tally


def test_every_verb_is_fuzzed() -> None:
    names = {" ".join(v.path) for v in VERBS}
    assert {"train", "finetune", "generate", "eval", "export", "import", "quantize",
            "data prepare", "data clean", "data synth", "tokenizer train"} <= names  # fmt: skip


def test_cli_fuzz_slice(world) -> None:
    started = time.monotonic()
    tally = _fuzz_cli(world, SLICE, derandomize=True)
    _report("cli-slice", tally, time.monotonic() - started)
    assert tally.by_exit[2] > 0 and tally.by_exit[0] > 0  # both refusals and real work


@pytest.mark.slow
def test_cli_fuzz_full(world) -> None:
    started = time.monotonic()
    tally = _fuzz_cli(world, FULL, derandomize=False)
    _report("cli", tally, time.monotonic() - started)
    assert tally.cases >= FULL


# -- the HTTP API -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def api_app(world):
    from tinylm.serve.engine import Engine
    from tinylm.serve.limits import Limits
    from tinylm.serve.openai_api import create_app, served_models

    # Small limits, so a valid request is cheap and thousands of them run in minutes.
    engine = Engine(limits=Limits(max_new_tokens=16, max_request_tokens=256, max_concurrent=2))
    app = create_app(served_models([str(world.inputs["run"])], engine), engine)
    return app, engine, world.inputs["run"].name


def _fuzz_api(api_app, examples: int, derandomize: bool) -> Tally:
    import schemathesis
    from schemathesis.generation import GenerationMode

    app, engine, served = api_app
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert {op.path for op in operations} >= {"/v1/completions", "/v1/chat/completions"}
    strategy = st.one_of(
        *[op.as_strategy(generation_mode=mode) for op in operations for mode in GenerationMode]
    )
    tally = Tally()

    @settings(
        max_examples=examples,
        derandomize=derandomize,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(strategy, st.booleans())
    def case(case, name_the_model: bool) -> None:
        if name_the_model and isinstance(case.body, dict) and "model" in case.body:
            case.body["model"] = served  # get past the model lookup to the generation
            for key in ("frequency_penalty", "presence_penalty", "echo", "suffix", "best_of",
                        "logit_bias", "logprobs", "top_logprobs"):  # fmt: skip
                case.body.pop(key, None)  # OpenAI's, refused by tinylm with a 400
            for key in ("max_tokens", "max_completion_tokens", "n"):
                if isinstance(case.body.get(key), int) and case.body[key] > 0:
                    case.body[key] = 1 + case.body[key] % 8  # within the small limits
        started = time.perf_counter()
        response = case.call()
        tally.cases += 1
        tally.seconds += time.perf_counter() - started
        tally.by_verb[f"{case.method} {case.path}"] += 1
        tally.by_exit[response.status_code] += 1
        what = f"{case.method} {case.formatted_path} {case.body!r:.300}"
        assert response.status_code < 500, f"{what}: {response.status_code} {response.text:.500}"
        if response.status_code >= 400:
            error = response.json()["error"]
            assert error["message"] and error["type"], what
            if os.environ.get("TINYLM_FUZZ_DEBUG"):
                print(response.status_code, error["message"][:100])
        assert engine.free_slots() == engine.limits.max_concurrent, f"{what}: kept a slot"

    case()
    return tally


def test_api_fuzz_slice(api_app) -> None:
    started = time.monotonic()
    tally = _fuzz_api(api_app, SLICE, derandomize=True)
    _report("http-slice", tally, time.monotonic() - started)
    assert sum(n for code, n in tally.by_exit.items() if code < 300) > 0
    assert sum(n for code, n in tally.by_exit.items() if 400 <= code < 500) > 0


@pytest.mark.slow
def test_api_fuzz_full(api_app) -> None:
    started = time.monotonic()
    tally = _fuzz_api(api_app, FULL, derandomize=False)
    _report("http", tally, time.monotonic() - started)
    assert tally.cases >= FULL


# -- the GUI ------------------------------------------------------------------------------------

GUI_EDGE_TEXTS = [
    "",
    "tiny",
    "../secret",
    "/etc",
    "tiny/../..",
    "从前",
    "a" * 3000,
    "nan",
    "-1",
    "1e309",
    "\x00",
]  # fmt: skip (the client sends no lone surrogate)
GUI_TEXTS = st.one_of(
    st.sampled_from(GUI_EDGE_TEXTS),
    st.text(max_size=20),
)
GUI_NUMBERS = st.one_of(
    st.sampled_from([0, -1, 1, 2**63, 2**64, -(2**63), 1e300, -1e300, 0.5, 5e-324]),
    st.floats(allow_nan=False, allow_infinity=False),  # JSON carries neither
    st.integers(),
)


def _hostile(parameter: dict) -> st.SearchStrategy:
    kind = str(parameter.get("python_type", {}).get("type", "str"))
    if "Literal" in kind:
        choices = [c.strip(" '\"") for c in kind[kind.index("[") + 1 : -1].split(",")]
        return st.one_of(st.sampled_from(choices), GUI_TEXTS)
    if kind in ("float", "int"):
        return st.one_of(GUI_NUMBERS, GUI_TEXTS)
    if kind == "bool":
        return st.one_of(st.booleans(), GUI_TEXTS)
    if kind.startswith("list") or kind.startswith("List"):
        return st.lists(GUI_TEXTS, max_size=3)
    return st.one_of(GUI_TEXTS, GUI_NUMBERS, st.none())


@pytest.fixture(scope="module")
def gui(world, tmp_path_factory):
    from tinylm.gui.browser import running_gui

    root = tmp_path_factory.mktemp("fuzz-gui")
    runs, data = root / "runs", root / "data"
    shutil.copytree(world.inputs["run"], runs / "tiny")
    shutil.copytree(world.inputs["data"], data / "tiny")
    log = root / "gui.log"
    with running_gui(runs, data, log, "--max-tokens", "16") as (url, proc):
        yield url, proc, log, runs


def _crashes(log: str) -> list[str]:
    """The tracebacks in a GUI's log that pass through tinylm's code (their last line). Gradio
    prints a traceback of its own when it refuses a value on the wire (a choice its dropdown
    never offered, a string for a file), then answers with the message: tinylm never ran."""
    import tinylm

    ours = str(Path(tinylm.__file__).parent)
    found = []
    lines = log.splitlines()
    for i, line in enumerate(lines):
        if line.strip() == TRACEBACK + ":":
            end = next((j for j in range(i + 1, len(lines)) if not lines[j].startswith(" ")), None)
            frames = lines[i + 1 : end]
            if any(ours in frame for frame in frames if frame.strip().startswith("File ")):
                found.append(lines[end] if end is not None else "(cut short)")
    return found


# Handlers that start background work (a training job) run in every case too, but their value
# is bounded: the fuzz asks for a tiny run; "delete_run" is called last so the others have a run.
def _fuzz_gui(gui, examples: int, derandomize: bool) -> Tally:
    from gradio_client import Client
    from gradio_client.exceptions import AppError

    url, proc, log, _ = gui
    client = Client(url, verbose=False)
    endpoints = client.view_api(print_info=False, return_format="dict")["named_endpoints"]
    names = sorted(endpoints)
    assert {"/generate", "/load_run", "/start_training", "/evaluate"} <= set(names)
    tally = Tally()

    @settings(
        max_examples=examples,
        derandomize=derandomize,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(st.data())
    def case(data: st.DataObject) -> None:
        name = data.draw(st.sampled_from(names), label="endpoint")
        values = [data.draw(_hostile(p), label=p["parameter_name"])
                  for p in endpoints[name]["parameters"]]  # fmt: skip
        seen = log.stat().st_size
        started = time.perf_counter()
        try:
            client.predict(*values, api_name=name)
            outcome = "ok"
        except AppError as exc:  # Gradio's error: a message for the user, not a crash
            outcome = "refused"
            assert str(exc).strip(), f"{name}{values!r:.300}: an error without a message"
        tally.cases += 1
        tally.seconds += time.perf_counter() - started
        tally.by_verb[name] += 1
        tally.by_exit[outcome] += 1
        assert proc.poll() is None, f"the GUI died on {name}{values!r:.300}"
        with open(log, "rb") as f:
            f.seek(seen)
            crashes = _crashes(f.read().decode(errors="replace"))
        assert not crashes, f"{name}{values!r:.300}: the GUI logged a traceback: {crashes[-1]}"

    case()
    return tally


def test_gui_fuzz_slice(gui) -> None:
    started = time.monotonic()
    tally = _fuzz_gui(gui, SLICE // 2, derandomize=True)
    _report("gui-slice", tally, time.monotonic() - started)
    assert tally.by_exit["refused"] > 0


@pytest.mark.slow
def test_gui_fuzz_full(gui) -> None:
    started = time.monotonic()
    tally = _fuzz_gui(gui, FULL, derandomize=False)
    _report("gui", tally, time.monotonic() - started)
    assert tally.cases >= FULL
