"""`tinylm push` against a real local HTTP server speaking the hub's upload protocol
(tests/hub_server.py): a trained run goes up as its Hugging Face export, byte for byte, and every
way the hub or the user can say no is one line."""

from __future__ import annotations

import hashlib
import os
import re
import socket
import subprocess
from pathlib import Path

import pytest
from conftest import run_cli
from hub_server import TOKEN, USER, FakeHub

REPO = f"{USER}/tiny-stories"
# A model card may stamp the day it was written; nothing else may differ from a local export.
DATE = re.compile(rb"\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?Z?)?")


@pytest.fixture()
def hub(monkeypatch, tmp_path):
    """The fake hub, with the environment huggingface_hub reads pointed at it: its endpoint,
    USER's token, an empty HF_HOME (no token file, no cache), and no other HF_ setting."""
    for name in list(os.environ):
        if name.startswith(("HF_", "HUGGING_FACE")):
            monkeypatch.delenv(name)
    with FakeHub() as server:
        monkeypatch.setenv("HF_ENDPOINT", server.url)
        monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))
        monkeypatch.setenv("HF_TOKEN", TOKEN)
        # plain LFS uploads: with hf_xet installed the client would look for a Xet CAS server
        monkeypatch.setenv("HF_HUB_DISABLE_XET", "1")
        monkeypatch.setenv("HF_HUB_DISABLE_TELEMETRY", "1")
        yield server


@pytest.fixture(scope="module")
def exports(trained_run, tmp_path_factory) -> dict[str, Path]:
    """What `tinylm export RUN --format hf` writes here, per dtype: what a push must deliver."""
    out = {}
    for dtype in ("fp32", "fp16"):
        folder = tmp_path_factory.mktemp("export") / dtype
        result = run_cli(
            "export", str(trained_run), "--format", "hf", "--out", str(folder), "--dtype", dtype
        )
        assert result.returncode == 0, result.stderr
        out[dtype] = folder
    return out


def push(run: Path | str, *args: str, repo: str = REPO) -> subprocess.CompletedProcess:
    return run_cli("push", str(run), "--repo", repo, *args, timeout=300)


def error_line(result: subprocess.CompletedProcess) -> str:
    """The one line a user mistake must give: exit 2, no traceback, nothing else on stderr."""
    assert result.returncode == 2, (result.returncode, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("tinylm: error: "), lines[0]
    return lines[0]


def assert_same_files(pushed: dict[str, bytes], folder: Path) -> None:
    """The hub holds exactly the export's files (and the .gitattributes of its first commit),
    byte for byte; a model card may differ only in a generated date."""
    local = {p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*")}
    local = {name: data for name, data in local.items() if (folder / name).is_file()}
    assert set(pushed) - {".gitattributes"} == set(local)
    for name, data in local.items():
        if name == "README.md" and pushed[name] != data:
            assert DATE.sub(b"DATE", pushed[name]) == DATE.sub(b"DATE", data)
        else:
            assert pushed[name] == data, f"{name} differs from the local export"


def test_push_uploads_the_export_and_a_second_push_is_a_new_commit(
    trained_run, exports, hub: FakeHub, monkeypatch
):
    first = push(trained_run)
    assert first.returncode == 0, first.stderr
    commits = hub.commits(REPO)
    assert [c.summary for c in commits] == [
        "initial commit",
        f"Upload {trained_run.name} (fp32) with tinylm push",
    ]
    tree = hub.tree(REPO)
    assert {"config.json", "model.safetensors", "tokenizer.json"} <= set(tree)
    assert_same_files(tree, exports["fp32"])
    # the weights went through the LFS batch API and a PUT (sha256 checked), text inline
    head = commits[-1]
    assert "model.safetensors" in head.lfs
    assert not {"config.json", "tokenizer.json"} & head.lfs
    assert hub.lfs_puts == [hashlib.sha256(tree["model.safetensors"]).hexdigest()]
    assert first.stdout.strip().splitlines() == [
        f"pushed {trained_run} to {hub.url}/{REPO} (main, commit {head.oid})"
    ]
    # no --private: the hub's default visibility (public for a user), nothing forced
    assert "visibility" not in hub.created[0] and not hub.repos[REPO].private

    # Again, in fp16, with the token from the file `hf auth login` writes instead of HF_TOKEN.
    monkeypatch.delenv("HF_TOKEN")
    token_file = Path(os.environ["HF_HOME"]) / "token"
    token_file.parent.mkdir(parents=True, exist_ok=True)
    token_file.write_text(TOKEN)
    second = push(trained_run, "--dtype", "fp16", "--message", "fp16 weights")
    assert second.returncode == 0, second.stderr
    commits = hub.commits(REPO)
    assert [c.summary for c in commits][1:] == [
        f"Upload {trained_run.name} (fp32) with tinylm push",
        "fp16 weights",
    ]
    assert list(hub.repos) == [REPO]
    assert_same_files(hub.tree(REPO), exports["fp16"])
    # only what changed went into the commit: the tokenizer is the same file
    assert "model.safetensors" in commits[-1].changed
    assert "tokenizer.json" not in commits[-1].changed
    assert f"commit {commits[-1].oid}" in second.stdout

    # The same export once more: the hub already holds every file, so no empty commit.
    third = push(trained_run, "--dtype", "fp16", "--message", "fp16 weights")
    assert third.returncode == 0, third.stderr
    assert len(hub.commits(REPO)) == len(commits)
    assert "nothing to push" in third.stdout and commits[-1].oid in third.stdout


def test_private_reaches_the_hub_and_a_public_repo_is_not_pushed_as_private(
    trained_run, hub: FakeHub
):
    result = push(trained_run, "--private", repo=f"{USER}/secret-stories")
    assert result.returncode == 0, result.stderr
    assert hub.created[-1]["visibility"] == "private"
    assert hub.repos[f"{USER}/secret-stories"].private
    # An existing public repo keeps its visibility on the hub: --private must not upload there.
    hub.claim(f"{USER}/open-stories", owner=USER)
    line = error_line(push(trained_run, "--private", repo=f"{USER}/open-stories"))
    assert "public" in line and f"{USER}/open-stories" in line and "--private" in line
    assert len(hub.commits(f"{USER}/open-stories")) == 1


def test_revision_is_a_branch_created_from_main(trained_run, exports, hub: FakeHub):
    result = push(trained_run, "--revision", "dev")
    assert result.returncode == 0, result.stderr
    assert_same_files(hub.tree(REPO, "dev"), exports["fp32"])
    assert set(hub.tree(REPO)) == {".gitattributes"}  # main as the repo was created
    assert f"{hub.url}/{REPO}/tree/dev (dev, commit {hub.commits(REPO, 'dev')[-1].oid})" in (
        result.stdout
    )


def test_no_token_says_how_to_log_in(trained_run, hub: FakeHub, monkeypatch):
    monkeypatch.delenv("HF_TOKEN")
    line = error_line(push(trained_run))
    assert "no Hugging Face token" in line
    assert "hf auth login" in line and "HF_TOKEN" in line
    assert hub.requests == []  # found out before anything was sent


def test_wrong_token_is_a_401_line(trained_run, hub: FakeHub, monkeypatch):
    monkeypatch.setenv("HF_TOKEN", "hf_not_a_token_this_hub_knows")
    line = error_line(push(trained_run))
    assert "401" in line and "token" in line and REPO in line and "hf auth login" in line
    assert REPO not in hub.repos


@pytest.mark.parametrize("claimed", [True, False], ids=["repo-of-another-user", "their-namespace"])
def test_a_name_of_another_user_is_a_403_line(trained_run, hub: FakeHub, claimed):
    repo = "bob/tiny-stories"
    if claimed:
        # create_repo's 403 falls back to repo_info, which finds bob's public repo; the
        # preupload then refuses the write
        hub.claim(repo, owner="bob")
    line = error_line(push(trained_run, repo=repo))
    assert "403" in line and repo in line and "write" in line
    if claimed:
        assert len(hub.commits(repo)) == 1
    else:
        assert repo not in hub.repos
    assert hub.lfs_puts == []


@pytest.mark.parametrize(
    "repo",
    ["tiny-stories", "alice/tiny/stories", "alice/tiny stories", "alice/-stories", "alice/a..b"],
)
def test_a_bad_repo_id_is_refused_before_anything_else(tmp_path, hub: FakeHub, repo):
    # RUN does not exist either: the repo id is checked first, before any export
    line = error_line(push(tmp_path / "no-such-run", repo=repo))
    assert "--repo" in line and repo in line and "user/name" in line
    assert hub.requests == []


def test_an_unreachable_hub_names_the_endpoint(trained_run, hub: FakeHub, monkeypatch):
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        endpoint = f"http://127.0.0.1:{sock.getsockname()[1]}"
    monkeypatch.setenv("HF_ENDPOINT", endpoint)
    line = error_line(push(trained_run))
    assert "cannot reach" in line and endpoint in line


def test_a_failing_xet_transfer_is_one_line_naming_the_lfs_switch(
    trained_run, hub: FakeHub, monkeypatch
):
    """huggingface_hub's default path when hf_xet is installed: this hub refuses the Xet token
    (it serves no Xet storage), as the real one can; the line says how to use plain LFS."""
    pytest.importorskip("hf_xet")
    monkeypatch.delenv("HF_HUB_DISABLE_XET")
    line = error_line(push(trained_run))
    assert "Xet" in line and "HF_HUB_DISABLE_XET=1" in line and REPO in line
    assert len(hub.commits(REPO)) == 1 and hub.lfs_puts == []


def test_a_folder_that_is_not_a_run_gives_the_run_message(tmp_path, hub: FakeHub):
    folder = tmp_path / "not-a-run"
    folder.mkdir()
    pushed = error_line(push(folder))
    exported = error_line(
        run_cli("export", str(folder), "--format", "hf", "--out", str(tmp_path / "x"))
    )
    assert pushed == exported and str(folder) in pushed
    assert hub.requests == []
