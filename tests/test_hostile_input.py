"""Hostile input, the 22 ways it once lost work, printed numbers that were not true, or crashed:
each refused in one line (exit 2) with nothing lost, or handled correctly.

Most commands run in this process through `tinylm.cli.main` (what `tinylm` runs); the ones whose
point is a separate process (a lock held by another PID, bytes a shell passes) run the real
entry point."""

from __future__ import annotations

import gzip
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
from conftest import run_cli, shared_file, tmpfs

from tinylm.cli import main
from tinylm.errors import TinylmError

TRACEBACK = "Traceback (most recent call last)"


def cli(capsys, *args: object) -> tuple[int, str, str]:
    """`tinylm ARGS` in this process: exit code, stdout, stderr."""
    try:
        code = main([str(a) for a in args])
    except SystemExit as exc:  # argparse: a bad flag value
        code = exc.code if isinstance(exc.code, int) else 2
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def refused(capsys, *args: object, says: str) -> str:
    """The command exits 2 with one error line (argparse: usage + error) holding `says`."""
    code, out, err = cli(capsys, *args)
    assert code == 2, (out, err)
    assert TRACEBACK not in out + err
    errors = [line for line in err.splitlines() if "error:" in line]
    assert len(errors) == 1, err
    assert says in errors[0], err
    return errors[0]


def tree(folder: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()
    }


def read_only_place(tmp_path: Path) -> Path:
    """A folder nobody may write in: chmod where that binds (not root), else a read-only
    mount the machine has."""
    folder = tmp_path / "read-only"
    folder.mkdir()
    folder.chmod(0o555)
    for place in (folder, Path("/sys/fs"), Path("/proc/sys")):
        try:
            fd, probe = tempfile.mkstemp(dir=place)
        except OSError:
            return place
        os.close(fd)
        os.unlink(probe)
    pytest.skip("no read-only folder on this machine (root, and no read-only mount)")


TINY_MODEL = "[model]\ndim = 32\nn_layers = 1\nn_heads = 2\nn_kv_heads = 2\nmax_seq_len = 32\n"


@pytest.fixture
def tiny_train(tmp_path, en_data, capsys):
    """Train a 1-layer model a few steps into a folder: `tiny_train(out, *more_flags)`."""
    config = tmp_path / "tiny.toml"
    config.write_text(TINY_MODEL)

    def train(out: Path, *flags: object, data: Path = en_data) -> tuple[int, str, str]:
        return cli(
            capsys, "train", "--data", data, "--out", out, "--config", config,
            "--max-steps", 4, "--batch-size", 2, "--eval-every", 2, "--eval-batches", 1,
            "--save-every", 2, "--sample-tokens", 8, "--dtype", "fp32", *flags,
        )  # fmt: skip

    return train


# -- work lost or mixed up -----------------------------------------------------------------


def test_resume_into_a_folder_that_is_not_a_run_is_refused_and_touches_nothing(
    tmp_path, capsys, tiny_train
) -> None:
    mine = tmp_path / "my-stuff"
    mine.mkdir()
    for name in ("loss.png", "samples.jsonl", "tokenizer.json", "notes.txt"):
        (mine / name).write_text(f"the user's own {name}")
    before = tree(mine)
    code, _, err = tiny_train(mine, "--resume")
    assert code == 2 and "holds other files, not a run" in err, err
    assert tree(mine) == before
    # A mistyped --out with --resume starts nothing from step 0 and makes no folder.
    typo = tmp_path / "runs" / "tyop"
    code, _, err = tiny_train(typo, "--resume")
    assert code == 2 and "no such folder" in err, err
    assert not typo.exists()


def test_a_second_writer_of_a_run_is_refused_naming_the_first(tmp_path, tiny_train) -> None:
    out = tmp_path / "run"
    out.mkdir()
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from pathlib import Path; from tinylm.locks import Lock\n"
            f"lock = Lock(Path({str(out)!r}), '--out').acquire(); print('held', flush=True)\n"
            "time.sleep(120)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        code, _, err = tiny_train(out)
        assert code == 2, err
        assert f"is being written by PID {holder.pid}" in err and TRACEBACK not in err
        assert not (out / "metrics.jsonl").exists()
    finally:
        holder.kill()
        holder.wait()
    # The holder died (SIGKILL): its lock file is stale and the next run takes it over.
    code, _, err = tiny_train(out)
    assert code == 0, err
    records = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    steps = [r["step"] for r in records if "train_loss" in r]
    assert steps == [1, 2, 3, 4]  # one curve, not two interleaved
    assert not (out / ".tinylm.lock").exists()


def test_the_runs_weights_are_a_file_of_their_own(tmp_path, tiny_train) -> None:
    out = tmp_path / "run"
    assert tiny_train(out)[0] == 0
    checkpoint = sorted((out / "checkpoints").iterdir())[-1]
    weights, kept = out / "model.safetensors", checkpoint / "model.safetensors"
    assert weights.read_bytes() == kept.read_bytes()
    assert os.stat(weights).st_ino != os.stat(kept).st_ino
    # The user replaces the run's weights (`cp other.safetensors ...`): the checkpoint is whole.
    saved = kept.read_bytes()
    weights.write_bytes(b"not the model any more")
    assert kept.read_bytes() == saved
    code, _, err = tiny_train(out, "--resume", "--max-steps", 6)
    assert code == 0, err
    assert json.loads((out / "metrics.jsonl").read_text().splitlines()[-1])["step"] == 6


def _truncated(path: Path, data: bytes, keep: float) -> Path:
    path.write_bytes(data[: int(len(data) * keep)])
    return path


def test_a_truncated_or_corrupt_compressed_file_is_never_read_as_complete(
    tmp_path, tinystories_v1
) -> None:
    import zstandard

    from tinylm.data.readers import read_stories

    text = tinystories_v1.read_bytes()
    whole = len(list(read_stories(tinystories_v1)))
    zst = zstandard.ZstdCompressor().compress(text)
    gz = gzip.compress(text)
    (tmp_path / "whole.txt.zst").write_bytes(zst)
    assert len(list(read_stories(tmp_path / "whole.txt.zst"))) == whole
    # Two members one after another are one file, as gzip defines it.
    (tmp_path / "two.txt").write_bytes(text + text)
    (tmp_path / "two.txt.gz").write_bytes(gz + gz)
    assert list(read_stories(tmp_path / "two.txt.gz")) == list(read_stories(tmp_path / "two.txt"))
    for name, data in (("cut.txt.zst", zst), ("cut.txt.gz", gz)):
        path = _truncated(tmp_path / name, data, 0.4)
        with pytest.raises(TinylmError, match="cut short") as cut:
            list(read_stories(path))
        assert str(path) in str(cut.value) and "compressed byte" in str(cut.value)
    damaged = bytearray(gz)
    damaged[len(gz) // 2 : len(gz) // 2 + 64] = bytes(64)
    (tmp_path / "damaged.txt.gz").write_bytes(bytes(damaged))
    with pytest.raises(TinylmError, match="damaged"):
        list(read_stories(tmp_path / "damaged.txt.gz"))
    (tmp_path / "plain.txt.gz").write_bytes(text[:5000])
    with pytest.raises(TinylmError, match="not gzip-compressed"):
        list(read_stories(tmp_path / "plain.txt.gz"))


def test_every_command_reading_compressed_text_reports_damage_in_one_line(
    tmp_path, capsys, tinystories_v1, trained_run
) -> None:
    gz = gzip.compress(tinystories_v1.read_bytes())
    cut = _truncated(tmp_path / "cut.txt.gz", gz, 0.5)
    plain = tmp_path / "plain.txt.gz"
    plain.write_bytes(tinystories_v1.read_bytes()[:20_000])
    for bad, says in ((cut, "cut short"), (plain, "not gzip-compressed")):
        commands = [
            ("data", "prepare", bad, "--out", tmp_path / "prep", "--vocab-size", 300),
            ("tokenizer", "train", bad, "--vocab-size", 300, "--out", tmp_path / "t.json"),
            ("data", "clean", bad, "--out", tmp_path / "clean.txt"),
            ("eval", trained_run, "--data", bad),
        ]
        for args in commands:
            refused(capsys, *args, says=says)
        assert not (tmp_path / "prep").exists() and not (tmp_path / "t.json").exists()
        assert not (tmp_path / "clean.txt").exists()


def test_prepare_never_replaces_data_of_another_tokenizer_and_a_failure_leaves_nothing(
    tmp_path, capsys, tinystories_v1, en_tokenizer
) -> None:
    data = tmp_path / "data"
    assert cli(capsys, "data", "prepare", tinystories_v1, "--out", data,
               "--tokenizer", en_tokenizer)[0] == 0  # fmt: skip
    before = tree(data)
    refused(capsys, "data", "prepare", tinystories_v1, "--out", data, "--bytes",
            says="prepared with another tokenizer")  # fmt: skip
    assert tree(data) == before
    # The same tokenizer again is a rebuild of the same data: allowed.
    assert cli(capsys, "data", "prepare", tinystories_v1, "--out", data,
               "--tokenizer", en_tokenizer)[0] == 0  # fmt: skip
    # Someone's non-empty folder is refused; a preparation that fails leaves no --out behind.
    other = tmp_path / "other"
    other.mkdir()
    (other / "thesis.tex").write_text("mine")
    refused(capsys, "data", "prepare", tinystories_v1, "--out", other, "--bytes",
            says="not a prepared data folder")  # fmt: skip
    empty = tmp_path / "empty.txt"
    empty.write_text("")
    new = tmp_path / "new" / "data"
    refused(capsys, "data", "prepare", empty, "--out", new, "--bytes", says="empty")
    assert not new.exists()


def test_export_never_overwrites_a_file(tmp_path, capsys, trained_run) -> None:
    for fmt, name in (("gguf", "model.gguf"), ("llama2c", "model.bin")):
        target = tmp_path / name
        target.write_bytes(b"the user's own file")
        refused(capsys, "export", trained_run, "--format", fmt, "--out", target,
                says="already exists")  # fmt: skip
        assert target.read_bytes() == b"the user's own file"
    # llama2c writes tokenizer.bin beside the model: an unrelated one there is kept too.
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    (fresh / "tokenizer.bin").write_bytes(b"another model's tokenizer")
    refused(capsys, "export", trained_run, "--format", "llama2c", "--out", fresh / "m.bin",
            says="tokenizer.bin")  # fmt: skip
    assert (fresh / "tokenizer.bin").read_bytes() == b"another model's tokenizer"
    assert not (fresh / "m.bin").exists()
    refused(capsys, "export", trained_run, "--format", "gguf", "--out", tmp_path,
            says="is a folder")  # fmt: skip


# -- numbers that are not true --------------------------------------------------------------


def test_a_validation_split_shorter_than_one_window_gets_its_real_loss(
    tmp_path, capsys, tinystories_v1, en_tokenizer, tiny_train
) -> None:
    from tinylm.data.readers import read_stories

    stories = list(read_stories(tinystories_v1))[:39]
    # Story 0 of 40 is the whole validation split: a short one, then 39 to train on.
    source = tmp_path / "stories.txt"
    source.write_text("".join(f"{s}\n<|endoftext|>\n" for s in ["Tom had a red ball.", *stories]))
    data = tmp_path / "data"
    code, _, err = cli(capsys, "data", "prepare", source, "--out", data,
                       "--tokenizer", en_tokenizer, "--val-fraction", 0.025)  # fmt: skip
    assert code == 0, err
    val_tokens = (data / "val.bin").stat().st_size // 2
    assert 2 < val_tokens < 32  # shorter than the 32-token window of the tiny model
    out = tmp_path / "run"
    code, text, err = tiny_train(out, data=data)
    assert code == 0, err
    losses = [
        json.loads(line)["val_loss"]
        for line in (out / "metrics.jsonl").read_text().splitlines()
        if "val_loss" in line
    ]
    assert losses and all(loss > 2.0 for loss in losses), losses  # not 0.0000, perplexity 1
    assert "validation loss 0.0000" not in text


def test_resume_with_another_model_is_refused(tmp_path, tiny_train) -> None:
    out = tmp_path / "run"
    assert tiny_train(out)[0] == 0
    before = (out / "metrics.jsonl").read_text()
    for flags, says in ((("--preset", "260k"), "asks for"), (("--arch", "rnn"), "arch")):
        config = tmp_path / "plain.toml"  # the preset alone, no [model] table beside it
        config.write_text("[train]\n")
        code, _, err = main_train_resume(out, config, *flags)
        assert code == 2 and says in err, err
    bigger = tmp_path / "bigger.toml"
    bigger.write_text(TINY_MODEL.replace("n_layers = 1", "n_layers = 2"))
    code, _, err = main_train_resume(out, bigger)
    assert code == 2 and "n_layers 2 (the run has 1)" in err, err
    assert (out / "metrics.jsonl").read_text() == before


def main_train_resume(out: Path, config: Path, *flags: str) -> tuple[int, str, str]:
    data = json.loads((out / "config.json").read_text())["data"]["path"]
    result = run_cli(
        "train", "--data", data, "--out", str(out), "--resume", "--config", str(config),
        "--max-steps", "6", *flags,
    )  # fmt: skip
    return result.returncode, result.stdout, result.stderr


def test_a_run_with_a_foreign_tokenizer_is_refused(tmp_path, capsys, trained_run) -> None:
    run = tmp_path / "run"
    shutil.copytree(trained_run, run)
    from tinylm.tokenizer import byte_tokenizer

    byte_tokenizer().save(run / "tokenizer.json")
    refused(capsys, "generate", run, "--max-new-tokens", 5, says="is not the tokenizer")


def test_vocab_size_is_what_was_asked_or_says_why_not(tmp_path, capsys, tinystories_v1) -> None:
    from tinylm.data.readers import read_stories
    from tinylm.tokenizer import MIN_VOCAB, train_tokenizer

    stories = list(read_stories(tinystories_v1))[:300]
    for asked in (MIN_VOCAB, 300, 700):
        assert train_tokenizer(stories, asked, show_progress=False).vocab_size == asked
    code, out, err = cli(capsys, "tokenizer", "train", tinystories_v1, "--vocab-size", 70_000,
                         "--out", tmp_path / "big.json")  # fmt: skip
    assert code == 0, err
    got = json.loads((tmp_path / "big.json").read_text())
    assert len(got["model"]["vocab"]) < 70_000
    assert "note: the text gave" in out and "of the 70,000 asked for" in out
    refused(capsys, "tokenizer", "train", tinystories_v1, "--vocab-size", 1_000_000_000,
            "--out", tmp_path / "huge.json", says="at most 1,048,576")  # fmt: skip
    assert not (tmp_path / "huge.json").exists()


# -- tracebacks where one line belongs ------------------------------------------------------


def test_outputs_in_read_only_missing_or_wrong_places_are_refused_before_any_work(
    tmp_path, capsys, trained_run, tinystories_v1
) -> None:
    llama2c, tok512 = shared_file("llama2c/stories260K.bin"), shared_file("llama2c/tok512.model")
    locked_out = read_only_place(tmp_path)
    a_file = tmp_path / "a-file"
    a_file.write_text("x")
    for place, says in ((locked_out, "cannot write"), (a_file, "is a file")):
        commands = [
            ("export", trained_run, "--format", "gguf", "--out", place / "m.gguf"),
            ("export", trained_run, "--format", "llama2c", "--out", place / "m.bin"),
            ("export", trained_run, "--format", "hf", "--out", place / "hf"),
            ("import", llama2c, "--tokenizer", tok512, "--out", place / "imported"),
            ("data", "prepare", tinystories_v1, "--out", place / "data", "--bytes"),
            ("tokenizer", "train", tinystories_v1, "--vocab-size", 300, "--out", place / "t"),
            ("data", "synth", "--stories", 10, "--out", place / "synth.txt"),
            ("data", "clean", tinystories_v1, "--out", place / "clean.txt"),
            ("eval", trained_run, "--report", place / "report"),
        ]
        for args in commands:
            refused(capsys, *args, says=says)
    if locked_out.is_relative_to(tmp_path):
        locked_out.chmod(0o755)


@pytest.mark.parametrize(
    "flags, says",
    [
        (("--lr", "nan"), "not a finite number"),
        (("--lr", "inf"), "not a finite number"),
        (("--weight-decay", "nan"), "not a finite number"),
        (("--grad-clip", "nan"), "not a finite number"),
        (("--seed", str(2**64)), "--seed"),
        (("--seed", "-1"), "--seed"),
    ],
)
def test_train_refuses_non_finite_and_out_of_range_numbers(
    tmp_path, capsys, en_data, flags, says
) -> None:
    out = tmp_path / "run"
    refused(capsys, "train", "--data", en_data, "--out", out, "--preset", "260k", *flags,
            says=says)  # fmt: skip
    assert not out.exists()


@pytest.mark.parametrize("value", ["nan", "inf", "-inf"])
def test_a_config_file_with_a_non_finite_number_is_refused(
    tmp_path, capsys, en_data, value
) -> None:
    config = tmp_path / "c.toml"
    config.write_text(f"[train]\nlr = {value}\n")
    refused(capsys, "train", "--data", en_data, "--out", tmp_path / "run", "--config", config,
            says="finite")  # fmt: skip


def test_generate_checks_every_flag_before_it_prints_anything(capsys, trained_run) -> None:
    for flags in (
        ("--temperature", "nan"),
        ("--temperature", "inf"),
        ("--temperature", "-1"),
        ("--top-p", "0"),
        ("--seed", str(2**63)),
    ):
        code, out, err = cli(capsys, "generate", trained_run, "--prompt", "Once", *flags)
        assert code == 2 and out == "", (flags, out, err)
        assert TRACEBACK not in err


def test_a_prompt_that_is_not_utf8_is_refused_in_one_line(trained_run) -> None:
    # What a shell passes for bytes that are not UTF-8: Python sees lone surrogates.
    result = subprocess.run(
        [sys.executable, "-m", "tinylm", "generate", str(trained_run), "--prompt", b"Once \xff"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 2, result.stderr
    assert "not valid UTF-8" in result.stderr and TRACEBACK not in result.stderr
    assert result.stdout == ""


# -- smaller ---------------------------------------------------------------------------------


def test_a_one_story_file_says_its_story_went_to_validation(
    tmp_path, capsys, tinystories_v1
) -> None:
    from tinylm.data.readers import read_stories

    one = tmp_path / "one.txt"
    one.write_text(next(iter(read_stories(tinystories_v1))) + "\n")
    line = refused(capsys, "data", "prepare", one, "--out", tmp_path / "d", "--bytes",
                   says="holds 1 story, all held out for validation")  # fmt: skip
    assert "--val-fraction 0" in line
    assert cli(capsys, "data", "prepare", one, "--out", tmp_path / "d", "--bytes",
               "--val-fraction", 0)[0] == 0  # fmt: skip


def test_a_book_sized_story_is_refused_while_reading(tmp_path, capsys) -> None:
    import tracemalloc

    from tinylm.data.readers import MAX_STORY_CHARS, read_stories

    book = tmp_path / "book.txt"
    line = "The cat sat on the mat and looked at the dog. " * 20 + "\n"
    with open(book, "w") as f:  # 60 MB, no blank line, no separator
        for _ in range(60_000_000 // len(line)):
            f.write(line)
    tracemalloc.start()
    with pytest.raises(TinylmError, match="not split into stories"):
        for _ in read_stories(book):
            pass
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    # Read up to the limit and stopped: less than the file itself (it was 150 times the file).
    assert MAX_STORY_CHARS < peak < book.stat().st_size
    refused(capsys, "data", "prepare", book, "--out", tmp_path / "d", "--bytes",
            says="not split into stories")  # fmt: skip
    assert not (tmp_path / "d").exists()


def test_windows_line_ends_do_not_reach_the_tokens(tmp_path, tinystories_v1) -> None:
    from tinylm.data.readers import read_stories

    unix = tinystories_v1.read_text(encoding="utf-8")[:50_000]
    (tmp_path / "unix.txt").write_text(unix, newline="\n")
    (tmp_path / "dos.txt").write_text(unix, newline="\r\n")
    dos = list(read_stories(tmp_path / "dos.txt"))
    assert dos and not any("\r" in story for story in dos)
    assert dos == list(read_stories(tmp_path / "unix.txt"))
    (tmp_path / "dos.jsonl").write_text(
        "".join(json.dumps({"text": s.replace("\n", "\r\n")}) + "\n" for s in dos[:5])
    )
    assert list(read_stories(tmp_path / "dos.jsonl")) == dos[:5]


def test_stdout_of_a_refused_generate_holds_no_story(tmp_path, trained_run) -> None:
    story = tmp_path / "story.txt"
    with open(story, "w") as f:
        result = subprocess.run(
            [sys.executable, "-m", "tinylm", "generate", str(trained_run), "--prompt",
             "Once upon a time", "--top-k", "0"],
            stdout=f, stderr=subprocess.PIPE, text=True, timeout=300,
        )  # fmt: skip
    assert result.returncode == 2 and "--top-k" in result.stderr
    assert story.read_text() == ""


@pytest.mark.slow
def test_ctrl_c_while_tokenizing_a_big_file_stops_within_seconds(tmp_path, tinystories_v1) -> None:
    import signal

    text = tinystories_v1.read_text(encoding="utf-8")
    big = tmp_path / "big.txt"
    with open(big, "w", encoding="utf-8") as f:
        while f.tell() < 60_000_000:
            f.write(text)
    proc = subprocess.Popen(
        [sys.executable, "-m", "tinylm", "data", "prepare", str(big), "--out",
         str(tmp_path / "d"), "--vocab-size", "512"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    time.sleep(8)  # well into reading and tokenizing
    pressed = time.monotonic()
    proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=120)
    waited = time.monotonic() - pressed
    assert proc.returncode == 130, out
    assert TRACEBACK not in out and "interrupted" in out
    assert waited < 15, waited  # it was 56 s for one huge story
    assert not (tmp_path / "d").exists()


# -- the server -------------------------------------------------------------------------------


def _post(base: str, path: str, body: dict | bytes, timeout: float = 60) -> tuple[int, dict]:
    import urllib.error
    import urllib.request

    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    request = urllib.request.Request(
        f"{base}{path}", data=data, headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as reply:
            return reply.status, json.loads(reply.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def _get(base: str, path: str) -> dict:
    import urllib.request

    with urllib.request.urlopen(f"{base}{path}", timeout=30) as reply:
        return json.loads(reply.read())


@pytest.fixture
def small_server(trained_run):
    from test_serve import _in_process_server

    from tinylm.serve.limits import Limits

    base, engine, server, thread = _in_process_server(
        trained_run, Limits(max_concurrent=1, max_new_tokens=2048, max_request_tokens=4096)
    )
    try:
        yield base, engine, trained_run.name
    finally:
        server.should_exit = True
        thread.join(timeout=30)


def test_the_server_bounds_the_work_of_one_request(small_server) -> None:
    base, _, name = small_server
    many = {"model": name, "prompt": ["Once"] * 2000, "max_tokens": 4}
    status, reply = _post(base, "/v1/completions", many)
    assert status == 400 and "prompts per request" in reply["error"]["message"]
    big = {"model": name, "prompt": ["Once"] * 4, "n": 8, "max_tokens": 1024}
    status, reply = _post(base, "/v1/completions", big)
    assert status == 400 and "32,768 tokens" in reply["error"]["message"]
    for bad in ({"seed": 2**64}, {"seed": -1}, {"prompt": "Once \udc80"}):
        body = {"model": name, "prompt": "Once", "max_tokens": 4, **bad}
        raw = json.dumps(body).encode()  # ensure_ascii: the lone surrogate travels as \udc80
        status, reply = _post(base, "/v1/completions", raw)
        assert status == 400 and reply["error"]["type"] == "invalid_request_error", (bad, reply)
    status, reply = _post(base, "/v1/chat/completions", json.dumps({
        "model": name, "messages": [{"role": "user", "content": "hi \ud800"}], "max_tokens": 4,
    }).encode())  # fmt: skip
    assert status == 400 and "UTF-8" in reply["error"]["message"]
    assert _get(base, "/health") == {"status": "ok", "slots": 1, "free_slots": 1}


def test_a_client_that_hangs_up_frees_the_server_and_health_tells_the_truth(
    tmp_path, tiny_train
) -> None:
    import socket
    from urllib.parse import urlparse

    from test_serve import _in_process_server

    from tinylm.serve.limits import Limits

    # A model trained 4 steps: next to random, it writes all 2,048 tokens (no early end).
    run = tmp_path / "run"
    assert tiny_train(run)[0] == 0
    limits = Limits(max_concurrent=1, max_new_tokens=2048, max_request_tokens=16_384)
    base, engine, server, thread = _in_process_server(run, limits)
    # Greedy: a near-random model repeats itself and never ends early.
    ask = {"model": run.name, "prompt": "Once", "max_tokens": 2048, "n": 8, "temperature": 0}
    try:
        held = engine.reserve()
        assert _get(base, "/health") == {"status": "busy", "slots": 1, "free_slots": 0}
        held.release()
        started = time.monotonic()
        status, reply = _post(base, "/v1/completions", ask, timeout=300)
        whole = time.monotonic() - started  # the work a client that stays asks for
        assert status == 200 and reply["usage"]["completion_tokens"] > 8 * 1024
        # The same request, and the client hangs up as soon as it has started.
        url = urlparse(base)
        body = json.dumps(ask).encode()
        conn = socket.create_connection((url.hostname, url.port))
        conn.sendall(
            b"POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            + f"Content-Length: {len(body)}\r\n\r\n".encode()
            + body
        )
        deadline = time.monotonic() + 30
        while engine.free_slots() and time.monotonic() < deadline:
            time.sleep(0.005)
        assert _get(base, "/health")["status"] == "busy"
        conn.close()
        hung_up = time.monotonic()
        while not engine.free_slots() and time.monotonic() - hung_up < whole:
            time.sleep(0.01)
        freed = time.monotonic() - hung_up
        # Freed at the next model step, not when all 16,384 tokens would have been written.
        assert engine.free_slots() == 1 and freed < whole / 3, (freed, whole)
        assert _get(base, "/health")["status"] == "ok"
        status, reply = _post(base, "/v1/completions", {**ask, "n": 1, "max_tokens": 8})
        assert status == 200 and reply["choices"][0]["text"]
    finally:
        server.should_exit = True
        thread.join(timeout=30)


def test_read_stories_survives_utf16_with_one_line(tmp_path, tinystories_v1) -> None:
    from tinylm.data.readers import read_stories

    text = tinystories_v1.read_text(encoding="utf-8")[:10_000]
    (tmp_path / "wide.txt").write_bytes(text.encode("utf-16"))
    with pytest.raises(TinylmError) as bad:
        list(read_stories(tmp_path / "wide.txt"))
    assert "wide.txt" in str(bad.value) and "\n" not in str(bad.value)


# -- found by the fuzzer ------------------------------------------------------------------------


def test_stories_that_would_not_fit_on_the_disk_are_refused_before_writing(
    tmp_path, capsys
) -> None:
    # (a fuzz case asked for 10^10 stories and filled 9 GB before anyone noticed)
    with tmpfs(tmp_path / "small", "1m") as small:
        line = refused(
            capsys, "data", "synth", "--stories", 20_000, "--out", small / "s.txt",
            says="not enough free space",
        )  # fmt: skip
        assert "--stories 20,000" in line and list(small.iterdir()) == []
    started = time.monotonic()
    refused(capsys, "data", "synth", "--stories", 10**15, "--out", tmp_path / "s.txt",
            says="not enough free space")  # fmt: skip
    assert time.monotonic() - started < 30  # measured, not written first
    assert list(tmp_path.glob("*s.txt*")) == []


def test_a_disk_that_fills_up_while_writing_is_one_line_and_leaves_nothing(
    tmp_path, capsys, trained_run
) -> None:
    with tmpfs(tmp_path / "full", "256k") as full:
        for fmt, name in (("gguf", "m.gguf"), ("llama2c", "m.bin")):
            line = refused(
                capsys, "export", trained_run, "--format", fmt, "--out", full / "a" / "b" / name,
                says="the disk is full",
            )  # fmt: skip
            assert "run the command again" in line
            assert list(full.iterdir()) == []


def test_ctrl_c_works_again_after_training_in_process_was_interrupted() -> None:
    """A second Ctrl-C leaves training at once; the caller's own Ctrl-C comes back (a notebook
    that trained in-process must still be interruptible)."""
    import signal

    from tinylm.stop_signals import stop_requests

    before = signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)
    with pytest.raises(KeyboardInterrupt), stop_requests() as stop:
        signal.raise_signal(signal.SIGINT)
        assert stop.requested  # the first press: stop at the next step
        signal.raise_signal(signal.SIGINT)  # the second: now
        pytest.fail("the second Ctrl-C did not interrupt")
    assert (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)) == before
    with pytest.raises(KeyboardInterrupt):
        signal.raise_signal(signal.SIGINT)  # Python's own handler again


def test_more_samples_than_memory_holds_are_refused_before_loading(capsys, trained_run) -> None:
    # (the fuzzer's --num-samples 2^31 grew to 13 GB and was killed by the kernel)
    for flags in ((), ("--words", "dog,ball")):
        line = refused(capsys, "generate", trained_run, "--num-samples", 2**31, *flags,
                       says="--num-samples must be 1..1,024")  # fmt: skip
        assert "2,147,483,648" in line
    code, out, err = cli(capsys, "generate", trained_run, "--num-samples", 3,
                         "--max-new-tokens", 5)  # fmt: skip
    assert code == 0 and out.count("--- sample") == 3, err


def test_a_vanishing_temperature_samples_like_greedy(capsys, trained_run) -> None:
    # temperatures 2e-42 and 7e-304 once made the logits infinite or NaN and the sampler raise
    # (HTTP 500)
    args = ("generate", trained_run, "--prompt", "Once upon a time", "--max-new-tokens", 40)
    code, greedy, err = cli(capsys, *args, "--temperature", 0)
    assert code == 0, err
    for temperature in ("7.3e-304", "2.1e-42", "1e-30"):
        code, tiny, err = cli(capsys, *args, "--temperature", temperature, "--seed", 3)
        assert code == 0 and TRACEBACK not in err, err
        assert tiny == greedy and len(greedy) > len("Once upon a time") + 20


def test_a_refused_command_leaves_none_of_the_folders_it_made(tmp_path, capsys) -> None:
    # (the fuzzer: `data prepare broken.txt --out missing/deeper/out --bytes` left missing/deeper)
    broken = tmp_path / "broken.txt"
    broken.write_bytes(b"Once upon a time there was a cat.\n<|endoftext|>\nIt ran \xff away.\n")
    work = tmp_path / "work"
    work.mkdir()
    refused(capsys, "data", "prepare", broken, "--out", work / "missing" / "deeper" / "out",
            "--bytes", says="broken.txt")  # fmt: skip
    refused(capsys, "tokenizer", "train", broken, "--vocab-size", 300, "--out",
            work / "x" / "y" / "t.json", says="broken.txt")  # fmt: skip
    assert list(work.iterdir()) == []
