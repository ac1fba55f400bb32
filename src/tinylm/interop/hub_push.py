"""`tinylm push RUN --repo user/name`: a run on the Hugging Face hub, as `tinylm export --format
hf` writes it.

The repo is created when it is new (so a bad token, someone else's namespace or an unreachable
hub is known before anything is exported), the run is exported into a fresh temporary folder
(whatever the export writes goes up, model card included), and the folder becomes one commit
through huggingface_hub's `HfApi.upload_folder`: weights through LFS (or Xet, where hf_xet is
installed), small text files inline, and files the hub already holds unchanged are left out, so
pushing the same export twice makes no empty commit. The token and the endpoint are
huggingface_hub's own (HF_TOKEN or the file `hf auth login` writes; HF_ENDPOINT): tinylm keeps
no credentials.

Everything a user can get wrong (the repo id, the run, the token, rights on the namespace, the
network) ends in one `TinylmError` line; the local checks run before anything is sent.
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from http import HTTPStatus
from pathlib import Path
from typing import TYPE_CHECKING

from tinylm.errors import TinylmError
from tinylm.interop.formats import export_format

if TYPE_CHECKING:
    from huggingface_hub import HfApi
    from huggingface_hub.errors import HfHubHTTPError

DEFAULT_REVISION = "main"
EXAMPLE_REPO = "alice/tiny-stories"

# One half of a hub id, as huggingface_hub's validate_repo_id and the hub itself take it: ASCII
# letters, digits, '-', '_' and '.', at most 96, starting and ending with a letter, digit or '_'.
_ID_PART = re.compile(r"[A-Za-z0-9_](?:[A-Za-z0-9_.-]{0,94}[A-Za-z0-9_])?")


def check_repo_id(repo: str) -> str:
    """`repo` as the hub names a model: namespace (user or organization) / name."""
    namespace, slash, name = repo.partition("/")
    problem = None
    if not slash or not namespace or not name or "/" in name:
        # a bare name would go to whichever account the token belongs to: say which, always
        problem = "it needs a namespace and a name with one slash between"
    elif not (_ID_PART.fullmatch(namespace) and _ID_PART.fullmatch(name)):
        problem = (
            "each half takes only letters, digits, '-', '_' and '.' (at most 96), and cannot "
            "start or end with '-' or '.'"
        )
    elif "--" in repo or ".." in repo:
        problem = "'--' and '..' are not allowed in it"
    elif name.endswith(".git"):
        problem = "the name cannot end in .git"
    if problem is not None:
        raise TinylmError(
            f"--repo {repo!r} is not a hub repo id ({problem}); give it as user/name or "
            f"org/name, e.g. --repo {EXAMPLE_REPO}"
        )
    return repo


def hub_token() -> str:
    """The token huggingface_hub would send (HF_TOKEN, else `hf auth login`'s token file)."""
    from huggingface_hub import get_token

    token = get_token()
    if not token:
        raise TinylmError(
            "no Hugging Face token found: log in with `hf auth login` (it saves one), or set "
            "HF_TOKEN to a write token from https://huggingface.co/settings/tokens"
        )
    return token


def push_run(
    run_dir: str,
    repo: str,
    *,
    private: bool = False,
    revision: str = DEFAULT_REVISION,
    message: str | None = None,
    dtype: str = "fp32",
) -> str:
    """Export `run_dir` as a Hugging Face folder and commit it to `repo` at `revision`; the line
    that names the repo's URL and the commit."""
    # Local mistakes first, before a byte is exported or sent (and before torch is imported).
    check_repo_id(repo)
    if not revision.strip():
        raise TinylmError(f"--revision is empty; name a branch, or drop it ({DEFAULT_REVISION})")
    if message is not None and not message.strip():
        raise TinylmError("--message is empty; give the commit a summary, or drop --message")
    hf_dtypes = export_format("hf").dtypes
    if dtype not in hf_dtypes:
        raise TinylmError(f"--dtype {dtype}: a Hugging Face export is {', '.join(hf_dtypes)}")
    from tinylm.interop.commands import export_run
    from tinylm.run import check_run

    check_run(run_dir)  # the message every verb gives for a folder that is not a run
    token = hub_token()

    from huggingface_hub import HfApi

    api = HfApi(token=token)
    summary = message or f"Upload {Path(run_dir).resolve().name} ({dtype}) with tinylm push"
    with _hub_errors(api.endpoint, repo):
        # The hub's answers before the export: a bad token, someone else's namespace or an
        # unreachable endpoint costs no export (a 110M model takes a while to write).
        # private=None, not False: a new repo of an organization whose repos are private by
        # default stays private unless asked otherwise.
        url = str(api.create_repo(repo, private=True if private else None, exist_ok=True))
        head = _prepare_branch(api, repo, revision, private)
    with tempfile.TemporaryDirectory(prefix="tinylm-push-") as tmp:
        folder = Path(tmp) / "hf"
        export_run(str(run_dir), "hf", str(folder), dtype)
        with _hub_errors(api.endpoint, repo):
            commit = api.upload_folder(
                repo_id=repo, folder_path=folder, revision=revision, commit_message=summary
            )
    where = url if revision == DEFAULT_REVISION else f"{url}/tree/{revision}"
    if commit.oid == head:
        # upload_folder left every file out as unchanged and made no commit
        return (
            f"{where} already holds this export of {run_dir} ({revision}, commit {commit.oid}); "
            "nothing to push"
        )
    return f"pushed {run_dir} to {where} ({revision}, commit {commit.oid})"


def _prepare_branch(api: HfApi, repo: str, revision: str, private: bool) -> str | None:
    """The head commit of `revision` before the push (None for a branch made now: like `hf
    upload`, a missing branch is created from the default one). Refuses --private for a repo
    that exists and is public: the hub ignores the flag then, and the weights would be public."""
    from huggingface_hub.errors import RevisionNotFoundError

    info = api.repo_info(repo)
    if private and not info.private:
        raise TinylmError(
            f"--private: {repo} already exists and is public, and the hub keeps an existing "
            f"repo's visibility; make it private first (`hf repos settings {repo} --private` or "
            "its Settings page), or drop --private"
        )
    if revision == DEFAULT_REVISION:
        return info.sha
    try:
        return api.repo_info(repo, revision=revision).sha
    except RevisionNotFoundError:
        api.create_branch(repo, branch=revision, exist_ok=True)
        return None


@contextmanager
def _hub_errors(endpoint: str, repo: str) -> Iterator[None]:
    """Turn the hub's refusals and an unreachable endpoint into one TinylmError line. The LFS
    upload wraps its failures in a RuntimeError (`raise ... from exc`), so the causes are
    searched too; anything else is a bug and keeps its traceback."""
    try:
        yield
    except Exception as exc:
        line = _explain(exc, endpoint, repo)
        if line is None:
            raise
        raise TinylmError(line) from None


def _explain(exc: BaseException, endpoint: str, repo: str) -> str | None:
    import httpx2
    from huggingface_hub.errors import HfHubHTTPError, OfflineModeIsEnabled

    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, OfflineModeIsEnabled):
            return "HF_HUB_OFFLINE is set, so huggingface_hub sends nothing; unset it to push"
        if isinstance(seen, HfHubHTTPError) and seen.response is not None:
            return _refusal(seen, endpoint, repo)
        if isinstance(seen, httpx2.TransportError):
            detail = _one_line(str(seen)) or "no answer"
            return (
                f"cannot reach the Hugging Face hub at {endpoint} ({type(seen).__name__}: "
                f"{detail}); check the network, or HF_ENDPOINT if you set it"
            )
        if isinstance(seen, ConnectionError):
            # hf_xet reports its failures (a refused Xet token, an unreachable storage server)
            # as a plain ConnectionError; the hub still takes the same files through LFS.
            return (
                f"the upload to {repo} failed in the Xet transfer (hf_xet: "
                f"{_one_line(str(seen)) or 'no detail'}); push again, or set "
                "HF_HUB_DISABLE_XET=1 to upload through plain LFS"
            )
        seen = seen.__cause__
    return None


def _refusal(exc: HfHubHTTPError, endpoint: str, repo: str) -> str:
    """One line for an HTTP error from the hub: the status, what it means here, the fix."""
    status = exc.response.status_code
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        phrase = "error"
    said = _one_line(exc.server_message or "")
    code = f"HTTP {status} {phrase}" + (f": {said}" if said else "")
    namespace, _, name = repo.partition("/")
    if status == 401:
        return (
            f"the hub at {endpoint} refused the token for {repo} ({code}): it is invalid or "
            "expired; log in again with `hf auth login`, or set HF_TOKEN to a valid write token"
        )
    if status == 403:
        return (
            f"the hub refused to write {repo} ({code}): '{namespace}' is another user's or an "
            "organization this token cannot write to, or the token is read-only; push to your "
            f"own namespace (--repo YOUR-NAME/{name}) or use a token with write access"
        )
    if status == 404:
        return (
            f"the hub at {endpoint} has no {repo} for this token ({code}); if HF_ENDPOINT is "
            "set, check that it points at a Hugging Face hub"
        )
    if status == 409:
        return (
            f"the hub reported a conflict on {repo} ({code}); another push to it may be under "
            "way: wait for it and push again"
        )
    if status == 429:
        return f"the hub is rate-limiting pushes to {repo} ({code}); wait a minute and push again"
    if status >= 500:
        return f"the hub at {endpoint} failed while pushing {repo} ({code}); try again later"
    return f"the hub refused the push to {repo} ({code})"


def _one_line(text: str) -> str:
    """The first non-blank line of a server's message, so the error stays one line."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[0][:300] if lines else ""
