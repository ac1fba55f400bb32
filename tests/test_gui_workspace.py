"""The GUI's folders and background jobs: nothing outside the runs/data folders is reachable,
deletion only ever removes a run inside the runs folder, and a training job is a real detached
`tinylm train` that any GUI (a new one included) can watch, stop and resume."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import first_stories

from tinylm.errors import TinylmError
from tinylm.gui.browser import free_port, wait_until_up
from tinylm.gui.jobfile import read_job
from tinylm.gui.jobs import Jobs, TrainRequest
from tinylm.gui.workspace import Workspace, safe_file_name
from tinylm.serve.prompts import chat_prompt, instruct_prompt, supports_instruct
from tinylm.tokenizer import byte_tokenizer, train_tokenizer


def make_run(path: Path) -> Path:
    path.mkdir(parents=True)
    (path / "config.json").write_text(json.dumps({"model": {"arch": "llama"}}))
    return path


@pytest.fixture
def ws(tmp_path: Path) -> Workspace:
    make_run(tmp_path / "runs" / "a")
    make_run(tmp_path / "runs" / "demo" / "run")
    make_run(tmp_path / "outside")
    (tmp_path / "runs" / "escape").symlink_to(tmp_path / "outside")
    return Workspace(tmp_path / "runs", tmp_path / "data")


@pytest.mark.parametrize(
    "name",
    ["../outside", "/etc", "a/../../outside", "..", ".", "", "escape", ".hidden", "a\\..\\b"],
)
def test_names_that_leave_the_runs_folder_are_refused(ws: Workspace, name: str) -> None:
    with pytest.raises(TinylmError):
        ws.run_path(name)
    with pytest.raises(TinylmError):
        ws.delete_run(name)
    assert (ws.runs.parent / "outside" / "config.json").is_file()


def test_runs_are_found_nested_and_symlinks_out_are_not_listed(ws: Workspace) -> None:
    assert ws.run_ids() == ["a", "demo/run"]
    assert ws.run_path("demo/run") == ws.runs / "demo" / "run"
    with pytest.raises(TinylmError, match="no run 'demo'"):
        ws.run_path("demo")  # a folder holding a run is not itself a run


def test_models_table_names_each_runs_tokenizer(ws: Workspace, tinystories_v1) -> None:
    train_tokenizer(first_stories(tinystories_v1, 300), 400, show_progress=False).save(
        ws.runs / "a" / "tokenizer.json"
    )
    byte_tokenizer().save(ws.runs / "demo" / "run" / "tokenizer.json")
    info = {i.id: i for i in ws.runs_info()}
    assert (info["a"].tokenizer, info["a"].language) == ("BPE 400", "en")
    assert info["demo/run"].tokenizer == "bytes"


def test_delete_removes_only_that_run(ws: Workspace) -> None:
    ws.delete_run("demo/run")
    assert not (ws.runs / "demo" / "run").exists()
    assert (ws.runs / "demo").is_dir() and (ws.runs / "a" / "config.json").is_file()
    with pytest.raises(TinylmError, match="no run 'demo'"):
        ws.delete_run("demo")


def test_uploads_land_in_the_data_folder_under_a_safe_name(ws: Workspace, tmp_path: Path) -> None:
    source = tmp_path / "in.txt"
    source.write_text("Once upon a time.")
    stored = ws.store_upload(source, "../../etc/pass wd.txt")
    assert stored == ws.data / "uploads" / "pass_wd.txt"
    again = ws.store_upload(source, "pass wd.txt")
    assert again.name == "pass_wd-2.txt" and again.read_text() == "Once upon a time."
    assert safe_file_name("..\\..\\x.csv") == "x.csv" and safe_file_name("...") == "upload.txt"


def test_new_run_names_are_checked(ws: Workspace) -> None:
    for bad in ("../x", "a/b", "", " ", "x" * 81, "-x"):
        with pytest.raises(TinylmError):
            ws.new_run_path(bad)
    with pytest.raises(TinylmError, match="already exists"):
        ws.new_run_path("a")
    assert ws.new_run_path("fresh-1.0") == ws.runs / "fresh-1.0"


def test_chat_and_instruct_prompts() -> None:
    messages = [
        {"role": "system", "content": "be nice"},
        {"role": "user", "content": "first"},
        {"role": "assistant", "content": "reply"},
        {"role": "user", "content": [{"type": "text", "text": "Once upon"}, {"type": "text", "text": " a time"}]},  # noqa: E501
    ]  # fmt: skip
    assert chat_prompt(messages) == "Once upon a time"
    with pytest.raises(TinylmError, match="role 'user'"):
        chat_prompt([{"role": "system", "content": "x"}])
    prompt = instruct_prompt("dog, run，happy", ["Dialogue", "Twist"], "A dog runs.")
    assert prompt == (
        "Features: Dialogue, Twist\nWords: dog, run, happy\nSummary: A dog runs.\nStory: \n"
    )
    assert supports_instruct({"instruct": True})
    assert supports_instruct({"data": {"format": "instruct"}})
    assert not supports_instruct({"data": {"path": "x"}})


def _wait(predicate, timeout: float, what: str, log: Path) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            tail = log.read_text()[-3000:] if log.is_file() else ""
            raise AssertionError(f"timed out waiting for {what}; log:\n{tail}")
        time.sleep(0.3)


def test_background_training_is_detached_stops_with_a_checkpoint_and_resumes(
    tmp_path: Path, en_data: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    runs, data = tmp_path / "runs", tmp_path / "data"
    shutil.copytree(en_data, data / "ts")
    jobs = Jobs(Workspace(runs, data))
    request = TrainRequest(
        name="bg",
        preset="260k",
        source="prepared",
        data_id="ts",
        max_steps=1000,
        batch_size=8,
        context=64,
        eval_every=10,
        device="cpu",
        extra_args=["--grad-accum", "1", "--eval-batches", "2", "--dtype", "fp32"],
    )
    monkeypatch.setenv("OMP_NUM_THREADS", "1")  # the trainer shares the cores with the tests
    run_id = jobs.start(request)
    run = runs / "bg"
    log = run / "train.log"
    assert run_id == "bg" and (run / "train.toml").read_text() == "[model]\nmax_seq_len = 64\n"
    _wait(lambda: jobs.status("bg").step >= 10, 240, "ten steps", log)
    job = read_job(run)
    assert os.getsid(job["pid"]) == job["pid"]  # its own session: the GUI's Ctrl-C spares it

    # A GUI started later (a new Jobs over the same folders) sees it and stops it.
    other = Jobs(Workspace(runs, data))
    status = other.status("bg")
    assert status.state == "running" and status.max_steps == 1000 and status.tokens_per_s > 0
    assert "ETA" in status.summary() and "step" in status.summary()
    other.stop("bg")
    _wait(lambda: other.status("bg").state == "stopped", 180, "the stop", log)
    stopped_at = other.status("bg").step
    assert read_job(run)["returncode"] == 130
    assert "interrupted at step" in log.read_text()
    assert any((run / "checkpoints").iterdir())
    with pytest.raises(TinylmError, match="not training"):
        other.stop("bg")

    # Resume, with a new end: it continues from the checkpoint to the new last step.
    jobs.resume("bg", max_steps=stopped_at + 5)
    _wait(lambda: jobs.status("bg").state == "finished", 240, "the resumed run", log)
    assert "--resume" in read_job(run)["steps"][-1]["args"]
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    steps = [r["step"] for r in rows if "train_loss" in r]
    assert steps == list(range(1, stopped_at + 6))  # nothing lost, nothing repeated
    with pytest.raises(TinylmError, match="has finished"):
        jobs.resume("bg")  # finished: further training needs a new last step


def test_a_bad_request_starts_nothing(tmp_path: Path) -> None:
    jobs = Jobs(Workspace(tmp_path / "runs", tmp_path / "data"))
    bad = [
        dict(preset="15M", source="builtin", max_steps=10),
        dict(preset="1m", source="builtin", max_steps=10, time_budget="5m"),
        dict(preset="1m", source="builtin", time_budget="5 parsecs"),
        dict(preset="1m", source="prepared", data_id="../../etc", max_steps=10),
        dict(preset="1m", source="upload", max_steps=10),
        dict(preset="1m", source="builtin", lang="fr", max_steps=10),
    ]
    for fields in bad:
        with pytest.raises(TinylmError):
            jobs.start(TrainRequest(name="x", **fields))
    assert not (tmp_path / "runs" / "x").exists()


@pytest.mark.slow
@pytest.mark.parametrize(
    ("preset", "data_name"),
    [("260k", "synth-en-300-v300"), ("megabyte-1m", "synth-en-300-bytes")],  # bytes: no BPE
)
def test_built_in_stories_are_made_prepared_and_trained_on(
    tmp_path: Path, preset: str, data_name: str
) -> None:
    runs, data = tmp_path / "runs", tmp_path / "data"
    jobs = Jobs(Workspace(runs, data))
    request = TrainRequest(
        name="synth",
        preset=preset,
        source="builtin",
        stories=300,
        vocab_size=300,
        max_steps=3,
        batch_size=4,
        context=32,
        eval_every=3,
        device="cpu",
        extra_args=["--eval-batches", "1", "--dtype", "fp32", "--grad-accum", "1"],
    )
    jobs.start(request)
    log = runs / "synth" / "train.log"
    _wait(lambda: jobs.status("synth").state not in ("starting", "running"), 240, "the job", log)
    assert jobs.status("synth").state == "finished", log.read_text()
    assert (data / data_name / "meta.json").is_file()
    assert [s["label"] for s in read_job(runs / "synth")["steps"]] == [
        "writing built-in stories",
        "preparing data",
        "training",
    ]
    assert (runs / "synth" / "model.safetensors").is_file()


def test_ctrl_c_stops_a_gui_a_script_started_in_the_background(tmp_path: Path) -> None:
    """A script's `tinylm gui &` runs with SIGINT ignored (POSIX, for background jobs), and
    Gradio's server thread installs no handler of its own: Ctrl-C / `kill -INT` must still
    stop it, as in a terminal."""
    port = free_port()
    log = tmp_path / "gui.log"
    command = [sys.executable, "-m", "tinylm", "gui", "--port", str(port)]
    command += ["--runs", str(tmp_path / "runs"), "--data", str(tmp_path / "data")]
    with open(log, "w") as out:
        proc = subprocess.Popen(
            command,
            stdout=out,
            stderr=subprocess.STDOUT,
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN),
        )
    try:
        wait_until_up(f"http://127.0.0.1:{port}/", proc, log)
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            raise AssertionError(f"the GUI ignored SIGINT:\n{log.read_text()}")
