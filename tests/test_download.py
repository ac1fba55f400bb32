"""`tinylm data download` against a real local HTTP server speaking the hub's resolve protocol,
serving copies of ../shared/data files (no network here)."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import pytest
from conftest import first_stories, run_cli
from hub_server import FakeHub

CHUNK = 10 * 1024 * 1024  # huggingface_hub writes downloads in 10 MiB chunks
V2_REPO = "roneneldan/TinyStories"
TRAIN, VALID = "TinyStoriesV2-GPT4-train.txt", "TinyStoriesV2-GPT4-valid.txt"


def hub_env(tmp_path: Path, endpoint: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HF_")}
    return {**env, "HF_ENDPOINT": endpoint, "HF_HOME": str(tmp_path / "hf-home"), **extra}


def download(env: dict[str, str], out: Path, *extra: str) -> subprocess.CompletedProcess:
    return cli(env, "data", "download", "tinystories-v2", "--out", str(out), *extra)


def file_gets(hub: FakeHub) -> int:
    return sum(1 for method, path, _ in hub.requests if method == "GET" and "/resolve/" in path)


def cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "tinylm", *args],
        capture_output=True,
        text=True,
        timeout=300,
        env={**env, "PYTHONUNBUFFERED": "1"},
    )


@pytest.fixture()
def big_train(tinystories_v2) -> bytes:
    """Real V2 text, repeated past one 10 MiB chunk so a cut can fall after a whole chunk."""
    data = tinystories_v2.read_bytes()
    return data * (CHUNK // len(data) + 2)


@pytest.fixture()
def hub(tinystories_v1, big_train):
    with FakeHub() as server:
        server.add(V2_REPO, TRAIN, big_train)
        server.add(V2_REPO, VALID, tinystories_v1)
        yield server


def test_download_verifies_sha256_and_is_idempotent(tmp_path, hub, big_train, tinystories_v1):
    env = hub_env(tmp_path, hub.url)
    out = tmp_path / "raw"
    result = cli(env, "data", "download", "tinystories-v2", "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert (out / TRAIN).read_bytes() == big_train
    assert (out / VALID).read_bytes() == tinystories_v1.read_bytes()
    assert result.stdout.count("hub checksum") == 2
    manifest = json.loads((out / ".tinylm-download" / "manifest.json").read_text())
    assert manifest["files"][TRAIN]["sha256"] == hashlib.sha256(big_train).hexdigest()
    assert not list((out / ".tinylm-download").glob("*.part"))
    # A second run finds both files in place and fetches nothing.
    gets = file_gets(hub)
    again = cli(env, "data", "download", "tinystories-v2", "--out", str(out))
    assert again.returncode == 0, again.stderr
    assert again.stdout.count("present") == 2
    assert file_gets(hub) == gets
    # The downloaded folder is a valid input (the state folder is hidden from readers).
    stories = first_stories(out / VALID, 1)
    assert stories[0].startswith("One day, a little girl named Lily")


def test_dropped_connection_resumes_with_a_range_request(tmp_path, hub, big_train):
    hub.cut_after[TRAIN] = CHUNK + 123_456  # one whole chunk on disk, then the line drops
    out = tmp_path / "raw"
    result = download(hub_env(tmp_path, hub.url), out, "--split", "train")
    assert result.returncode == 0, result.stderr
    assert (out / TRAIN).read_bytes() == big_train
    ranges = [r for method, path, r in hub.requests if method == "GET" and path.endswith(TRAIN)]
    assert ranges == [None, f"bytes={CHUNK}-"]
    assert not (out / VALID).exists()  # --split train only


def test_killed_download_resumes_on_the_next_run(tmp_path, hub, big_train):
    hub.stall_after[TRAIN] = CHUNK + 1000
    out = tmp_path / "raw"
    env = hub_env(tmp_path, hub.url)
    args = [
        sys.executable,
        "-m",
        "tinylm",
        "data",
        "download",
        "tinystories-v2",
        "--out",
        str(out),
        "--split",
        "train",
    ]
    proc = subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    state = out / ".tinylm-download"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        parts = list(state.glob("*.part")) if state.is_dir() else []
        if parts and parts[0].stat().st_size >= CHUNK:
            break
        time.sleep(0.1)
    proc.kill()  # like a closed laptop lid: no cleanup runs
    proc.communicate()
    assert parts and parts[0].stat().st_size == CHUNK
    result = cli(env, "data", "download", "tinystories-v2", "--out", str(out), "--split", "train")
    assert result.returncode == 0, result.stderr
    assert f"resuming {TRAIN} at {CHUNK:,} bytes" in result.stderr
    assert "resumed" in result.stdout
    assert (out / TRAIN).read_bytes() == big_train
    last_range = [
        r for method, path, r in hub.requests if method == "GET" and path.endswith(TRAIN)
    ][-1]
    assert last_range == f"bytes={CHUNK}-"


def test_sha256_mismatch_is_refused_and_cleaned_up(tmp_path, hub):
    hub.advertise_sha[VALID] = hashlib.sha256(b"some other file").hexdigest()
    out = tmp_path / "raw"
    result = download(hub_env(tmp_path, hub.url), out, "--split", "valid")
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "does not match the hub sha256" in lines[0], result.stderr
    assert "Traceback" not in result.stderr
    assert not (out / VALID).exists()
    assert not list((out / ".tinylm-download").glob("*.part"))


def test_offline_says_which_files_to_place_where(tmp_path):
    out = tmp_path / "raw"
    env = hub_env(tmp_path, "https://huggingface.co", HF_HUB_OFFLINE="1")
    result = cli(env, "data", "download", "tinystories-instruct", "--out", str(out))
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    line = lines[0]
    assert "cannot reach the Hugging Face hub" in line
    for name in ("TinyStories-Instruct-train.txt", "TinyStories-Instruct-valid.txt"):
        assert (
            f"https://huggingface.co/datasets/roneneldan/TinyStoriesInstruct/resolve/main/{name}"
            in line
        )
    assert f"into {out}/" in line and "--from FOLDER" in line
    # An unreachable endpoint (connection refused) reads the same way.
    refused = cli(
        hub_env(tmp_path, "http://127.0.0.1:9"),
        "data",
        "download",
        "tinystories-v2",
        "--out",
        str(out),
    )
    assert refused.returncode == 2 and "cannot reach the Hugging Face hub" in refused.stderr


def test_hand_placed_files_are_registered_with_the_same_checks(
    tmp_path, hub, big_train, tinystories_v1
):
    manual = tmp_path / "manual"
    manual.mkdir()
    (manual / VALID).write_bytes(tinystories_v1.read_bytes())
    out = tmp_path / "raw"
    # Online: checked against the hub's sha256.
    env = hub_env(tmp_path, hub.url)
    ok = download(env, out, "--split", "valid", "--from", str(manual))
    assert ok.returncode == 0, ok.stderr
    assert "hub checksum" in ok.stdout
    assert (out / VALID).read_bytes() == tinystories_v1.read_bytes()
    assert file_gets(hub) == 0
    # A damaged copy is refused.
    (manual / VALID).write_bytes(tinystories_v1.read_bytes()[:-10])
    bad = download(env, tmp_path / "other", "--split", "valid", "--from", str(manual))
    assert bad.returncode == 2 and "does not match the hub sha256" in bad.stderr
    # Offline: registered, but the user is told it could not be verified.
    offline = hub_env(tmp_path, "https://huggingface.co", HF_HUB_OFFLINE="1")
    (manual / VALID).write_bytes(tinystories_v1.read_bytes())
    reg = download(offline, tmp_path / "off", "--split", "valid", "--from", str(manual))
    assert reg.returncode == 0, reg.stderr
    assert "NOT verified" in reg.stdout and "not checked" in reg.stderr
    missing = download(offline, tmp_path / "off", "--from", str(manual))
    assert missing.returncode == 2 and f"lacks {TRAIN}" in missing.stderr


def _tar_gz(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def test_chinese_archive_unpacks_and_cleans_to_simplified(tmp_path, chinese_csv):
    with open(chinese_csv, encoding="utf-8", newline="") as f:
        rows = list(csv.reader(f, skipinitialspace=True))[1:201]
    lines = [
        json.dumps({"story": "An English story.", "story_zh": r[3]}, ensure_ascii=False)
        for r in rows
    ]
    archive = _tar_gz({"data00.jsonl": ("\n".join(lines) + "\n").encode()})
    with FakeHub() as hub:
        hub.add("adam89/TinyStoriesChinese", "TinyStories_all_data_zh.tar.gz", archive)
        out = tmp_path / "zh"
        result = cli(
            hub_env(tmp_path, hub.url), "data", "download", "tinystories-zh", "--out", str(out)
        )
    assert result.returncode == 0, result.stderr
    folder = out / "TinyStories_all_data_zh"
    assert (folder / "data00.jsonl").is_file()
    assert "--field story_zh" in result.stdout  # the next command printed is runnable
    cleaned = tmp_path / "zh-clean.txt"
    clean = run_cli(
        "data",
        "clean",
        str(out),
        "--field",
        "story_zh",
        "--to-simplified",
        "--script",
        "han",
        "--out",
        str(cleaned),
        "--workers",
        "1",
    )
    assert clean.returncode == 0, clean.stderr
    text = cleaned.read_text(encoding="utf-8")
    assert "在一片远离世界的小岛上" in text and "遠離" not in text
