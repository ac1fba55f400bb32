"""`tinylm data download NAME --out DIR`: the public TinyStories corpora from the Hugging Face hub.

Each file is fetched through `huggingface_hub` (hub URL, metadata HEAD, its retrying HTTP GET)
into a `.part` file kept under DIR/.tinylm-download/, so an interrupted download, whether a
dropped connection (huggingface_hub retries with a Range request) or a killed process (the next
run asks for the missing bytes only), resumes instead of starting over. A finished file is
checked against the sha256 the hub publishes for it (the LFS object id, sent as X-Linked-Etag)
before it is renamed into place; archives are then unpacked next to it.

Without network the command fails in one line naming the URLs to fetch by hand and where to put
them; `--from FOLDER` registers such hand-placed files with the same checks (against the hub
when it is reachable, else against the sha256 pinned here when known).
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tarfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from tinylm.errors import TinylmError, did_you_mean
from tinylm.fileio import atomic_write_json, fsync_replace, sha256_file

HUB = "https://huggingface.co"
STATE_DIR = ".tinylm-download"  # hidden: folder expansion in the readers skips it
MANIFEST = "manifest.json"
SPLITS = ("train", "valid")


@dataclass(frozen=True)
class RemoteFile:
    filename: str
    split: str  # "train", "valid", or "all" for archives holding everything
    approx_size: str
    archive: bool = False  # a .tar.gz unpacked into DIR/<name without .tar.gz>/
    # The hub's sha256 of the file where we know it offline; None: checked against the hub only.
    sha256: str | None = None

    @property
    def unpacked_name(self) -> str:
        return self.filename.removesuffix(".tar.gz")


@dataclass(frozen=True)
class DatasetSpec:
    name: str
    repo_id: str
    description: str
    files: tuple[RemoteFile, ...]
    read_hint: str = ""  # flags `data clean` / `data prepare` need for these files


DATASETS: dict[str, DatasetSpec] = {
    spec.name: spec
    for spec in (
        DatasetSpec(
            "tinystories",
            "roneneldan/TinyStories",
            "TinyStories V1 (GPT-3.5 + GPT-4), stories separated by <|endoftext|>",
            (
                RemoteFile("TinyStories-train.txt", "train", "1.9 GB"),
                RemoteFile("TinyStories-valid.txt", "valid", "19 MB"),
            ),
        ),
        DatasetSpec(
            "tinystories-v2",
            "roneneldan/TinyStories",
            "TinyStories V2, GPT-4 stories only (curly quotes, trailing spaces: clean them)",
            (
                RemoteFile("TinyStoriesV2-GPT4-train.txt", "train", "2.2 GB"),
                RemoteFile("TinyStoriesV2-GPT4-valid.txt", "valid", "22 MB"),
            ),
        ),
        DatasetSpec(
            "tinystories-all-data",
            "roneneldan/TinyStories",
            "TinyStories as 50 JSON arrays with instruction (prompt, words, features), "
            "summary and source per story",
            (RemoteFile("TinyStories_all_data.tar.gz", "all", "1.5 GB", archive=True),),
            read_hint="--field story",
        ),
        DatasetSpec(
            "tinystories-instruct",
            "roneneldan/TinyStoriesInstruct",
            "TinyStories-Instruct: Summary / Words / Features / Random sentence, then Story",
            (
                RemoteFile("TinyStories-Instruct-train.txt", "train", "2.7 GB"),
                RemoteFile("TinyStories-Instruct-valid.txt", "valid", "27 MB"),
            ),
        ),
        DatasetSpec(
            "tinystories-zh",
            "adam89/TinyStoriesChinese",
            "TinyStories machine-translated to Chinese (jsonl shards, text in 'story_zh'), "
            "as used by chinese-llama2.c",
            (RemoteFile("TinyStories_all_data_zh.tar.gz", "all", "1.1 GB", archive=True),),
            read_hint="--field story_zh",
        ),
    )
}


@dataclass
class FileResult:
    filename: str
    path: Path
    size: int
    sha256: str
    verified: str  # "hub", "pinned" or "unverified"
    action: str  # "downloaded", "resumed", "present", "copied"
    unpacked: Path | None = None


@dataclass
class DownloadResult:
    spec: DatasetSpec
    out: Path
    files: list[FileResult] = field(default_factory=list)


@dataclass(frozen=True)
class _Remote:
    url: str
    sha256: str | None  # None: not an LFS file, the hub publishes a git hash only
    size: int | None
    commit: str | None


def dataset_names() -> list[str]:
    return list(DATASETS)


def get_spec(name: str) -> DatasetSpec:
    if name not in DATASETS:
        raise TinylmError(
            f"unknown dataset '{name}'{did_you_mean(name, DATASETS)}; "
            f"choose from {', '.join(DATASETS)}"
        )
    return DATASETS[name]


def resolve_url(spec: DatasetSpec, filename: str, revision: str = "main") -> str:
    from huggingface_hub import hf_hub_url

    return hf_hub_url(spec.repo_id, filename, repo_type="dataset", revision=revision)


def download(
    name: str,
    out_dir: str | Path,
    split: str | None = None,
    from_dir: str | Path | None = None,
    revision: str = "main",
    log: Callable[[str], None] | None = None,
) -> DownloadResult:
    spec = get_spec(name)
    if split is not None and split not in SPLITS:
        raise TinylmError(f"--split must be one of {', '.join(SPLITS)}, got '{split}'")
    files = [f for f in spec.files if split is None or f.split in (split, "all")]
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise TinylmError(f"--out {out} exists and is not a folder")
    source = Path(from_dir) if from_dir is not None else None
    if source is not None:
        if not source.is_dir():
            raise TinylmError(f"--from {source} is not a folder")
        missing = [f.filename for f in files if not (source / f.filename).is_file()]
        if missing:
            raise TinylmError(
                f"--from {source} lacks {', '.join(missing)}; download "
                + ", ".join(resolve_url(spec, f, revision) for f in missing)
                + " and put them there"
            )
    say = log or (lambda message: print(message, file=sys.stderr))
    out.mkdir(parents=True, exist_ok=True)
    state = out / STATE_DIR
    state.mkdir(exist_ok=True)
    manifest = _load_manifest(state / MANIFEST)

    remotes, offline_reason = _fetch_metadata(spec, files, revision)
    if offline_reason is not None:
        have = [f for f in files if (source or out).joinpath(f.filename).is_file()]
        if len(have) < len(files):
            absent = [f for f in files if f not in have]
            raise TinylmError(
                f"cannot reach the Hugging Face hub ({offline_reason}); download "
                + ", ".join(resolve_url(spec, f.filename, revision) for f in absent)
                + f" by hand into {out}/ and run this command again "
                f"(or pass --from FOLDER where you saved them)"
            )

    result = DownloadResult(spec=spec, out=out)
    for remote_file in files:
        remote = remotes.get(remote_file.filename)
        if source is not None:
            item = _register(remote_file, source, out, remote, manifest)
        else:
            item = _fetch_one(spec, remote_file, out, state, remote, manifest, say)
        if item.verified == "unverified":
            say(
                f"warning: {remote_file.filename}: sha256 {item.sha256[:16]}... recorded but not "
                "checked (hub unreachable, no pinned checksum); run the command again online "
                "to verify it"
            )
        if remote_file.archive:
            item.unpacked = _unpack(out / remote_file.filename, out, remote_file, item, manifest)
        manifest["files"][remote_file.filename] = {
            "repo_id": spec.repo_id,
            "revision": remote.commit if remote else None,
            "size": item.size,
            "sha256": item.sha256,
            "verified": item.verified,
            "mtime_ns": item.path.stat().st_mtime_ns,
            **({"unpacked": item.unpacked.name} if item.unpacked else {}),
        }
        atomic_write_json(state / MANIFEST, manifest)
        result.files.append(item)
    return result


def _load_manifest(path: Path) -> dict:
    if path.is_file():
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            if isinstance(data, dict) and isinstance(data.get("files"), dict):
                return data
        except (json.JSONDecodeError, UnicodeDecodeError):
            pass  # a damaged manifest only costs re-hashing the files
    return {"format": "tinylm-download", "files": {}}


def _fetch_metadata(
    spec: DatasetSpec, files: list[RemoteFile], revision: str
) -> tuple[dict[str, _Remote], str | None]:
    """The hub's sha256 / size / commit per file, or the reason the hub cannot be reached."""
    import httpx2
    from huggingface_hub import get_hf_file_metadata
    from huggingface_hub.errors import (
        GatedRepoError,
        HfHubHTTPError,
        OfflineModeIsEnabled,
        RemoteEntryNotFoundError,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    remotes: dict[str, _Remote] = {}
    for remote_file in files:
        url = resolve_url(spec, remote_file.filename, revision)
        try:
            meta = get_hf_file_metadata(url)
        except OfflineModeIsEnabled:
            return {}, "HF_HUB_OFFLINE is set"
        except (httpx2.ConnectError, httpx2.TimeoutException, httpx2.ProxyError) as exc:
            return (
                {},
                f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else 'no reply'}",
            )
        except GatedRepoError:
            raise TinylmError(
                f"{spec.repo_id} is gated on the hub; accept its terms on {HUB}/datasets/"
                f"{spec.repo_id} and log in with `hf auth login`"
            ) from None
        except RemoteEntryNotFoundError:
            raise TinylmError(
                f"the hub has no {remote_file.filename} in {spec.repo_id} at revision {revision}"
            ) from None
        except RevisionNotFoundError:
            raise TinylmError(f"{spec.repo_id} has no revision '{revision}'") from None
        except RepositoryNotFoundError:
            raise TinylmError(f"the hub has no dataset {spec.repo_id}") from None
        except HfHubHTTPError as exc:
            status = exc.response.status_code if exc.response is not None else "?"
            return {}, f"HTTP {status} from {url}"
        etag = (meta.etag or "").lower()
        sha = etag if len(etag) == 64 and all(c in "0123456789abcdef" for c in etag) else None
        remotes[remote_file.filename] = _Remote(meta.location, sha, meta.size, meta.commit_hash)
    return remotes, None


def _expected_sha(remote_file: RemoteFile, remote: _Remote | None) -> tuple[str | None, str]:
    if remote is not None and remote.sha256 is not None:
        return remote.sha256, "hub"
    if remote_file.sha256 is not None:
        return remote_file.sha256, "pinned"
    return None, "unverified"


def _known_sha(path: Path, filename: str, manifest: dict) -> str:
    """sha256 of a file, reusing the manifest's value while size and mtime are unchanged (a
    2 GB file takes a while to hash)."""
    entry = manifest["files"].get(filename)
    stat = path.stat()
    if entry and entry.get("size") == stat.st_size and entry.get("mtime_ns") == stat.st_mtime_ns:
        return entry["sha256"]
    return sha256_file(path)


def _register(
    remote_file: RemoteFile,
    source: Path,
    out: Path,
    remote: _Remote | None,
    manifest: dict,
) -> FileResult:
    """Check a hand-downloaded file and put it in place (hard link when possible)."""
    src = source / remote_file.filename
    dest = out / remote_file.filename
    sha = sha256_file(src)
    expected, how = _expected_sha(remote_file, remote)
    if expected is not None and sha != expected:
        raise TinylmError(
            f"{src}: sha256 {sha} does not match the {how} sha256 {expected}; "
            "the file is damaged or a different version, download it again"
        )
    if src.resolve() != dest.resolve():
        tmp = out / STATE_DIR / f"{remote_file.filename}.copy"
        tmp.unlink(missing_ok=True)
        try:
            os.link(src, tmp)
        except OSError:
            shutil.copyfile(src, tmp)
        fsync_replace(tmp, dest)
    return FileResult(remote_file.filename, dest, dest.stat().st_size, sha, how, "copied")


def _fetch_one(
    spec: DatasetSpec,
    remote_file: RemoteFile,
    out: Path,
    state: Path,
    remote: _Remote | None,
    manifest: dict,
    say: Callable[[str], None],
) -> FileResult:
    dest = out / remote_file.filename
    expected, how = _expected_sha(remote_file, remote)
    if dest.is_file():
        sha = _known_sha(dest, remote_file.filename, manifest)
        if expected is None or sha == expected:
            return FileResult(remote_file.filename, dest, dest.stat().st_size, sha, how, "present")
        if remote is None:
            raise TinylmError(
                f"{dest}: sha256 {sha} does not match the {how} sha256 {expected}; delete it "
                "and download it again"
            )
        say(f"{dest} differs from the hub's file (sha256 {sha[:16]}...); downloading it again")
    assert remote is not None  # offline with the file absent was refused in download()
    # One .part per hub object: a new upload on the hub never resumes an old partial file.
    tag = (remote.sha256 or remote.commit or "unknown")[:16]
    part = state / f"{remote_file.filename}.{tag}.part"
    resumed = part.is_file() and part.stat().st_size > 0
    if resumed:
        say(f"resuming {remote_file.filename} at {part.stat().st_size:,} bytes")
    _http_download(remote, part)
    sha = sha256_file(part)
    if expected is not None and sha != expected:
        part.unlink(missing_ok=True)
        raise TinylmError(
            f"{remote_file.filename} from {spec.repo_id}: downloaded sha256 {sha} does not match "
            f"the {how} sha256 {expected}; the damaged download was deleted, run the command again"
        )
    fsync_replace(part, dest)
    return FileResult(
        remote_file.filename,
        dest,
        dest.stat().st_size,
        sha,
        how,
        "resumed" if resumed else "downloaded",
    )


def _http_download(remote: _Remote, part: Path) -> None:
    import httpx2
    from huggingface_hub.errors import HfHubHTTPError
    from huggingface_hub.file_download import http_get
    from huggingface_hub.utils import build_hf_headers

    resume = part.stat().st_size if part.is_file() else 0
    if remote.size is not None and resume > remote.size:
        part.unlink()  # longer than the file: not a prefix of it
        resume = 0
    with open(part, "ab") as f:
        try:
            # http_get sends `Range: bytes=resume-` and retries dropped connections from
            # where they stopped; the bytes already on disk stay.
            http_get(
                remote.url,
                f,
                resume_size=resume,
                headers=build_hf_headers(),
                expected_size=remote.size,
                displayed_filename=part.name.rsplit(".", 2)[0],
            )
        except (httpx2.HTTPError, HfHubHTTPError, OSError) as exc:
            f.flush()
            got = f.tell()
            raise TinylmError(
                f"download of {remote.url} failed after {got:,} bytes "
                f"({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}); "
                "run the same command again to resume"
            ) from None


def _unpack(
    archive: Path, out: Path, remote_file: RemoteFile, item: FileResult, manifest: dict
) -> Path:
    """Unpack a .tar.gz once per archive version, through a temp folder renamed at the end."""
    target = out / remote_file.unpacked_name
    entry = manifest["files"].get(remote_file.filename, {})
    if (
        target.is_dir()
        and entry.get("unpacked") == target.name
        and entry.get("sha256") == item.sha256
    ):
        return target
    tmp = out / STATE_DIR / f"{target.name}.unpacking"
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        with tarfile.open(archive, "r:*") as tar:
            # filter="data" refuses absolute paths, links out of the folder and device files.
            tar.extractall(tmp, filter="data")
    except (tarfile.TarError, OSError, EOFError) as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        raise TinylmError(
            f"{archive}: cannot unpack ({exc}); delete it and download again"
        ) from None
    shutil.rmtree(target, ignore_errors=True)
    os.replace(tmp, target)
    return target
