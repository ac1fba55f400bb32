"""A real HTTP server speaking the parts of the Hugging Face hub protocol that tinylm uses. Point
HF_ENDPOINT at `server.url`.

Downloads: `HEAD/GET {endpoint}/datasets/{repo}/resolve/{revision}/{filename}` with the hub's
headers (X-Repo-Commit, X-Linked-Etag = the LFS sha256, X-Linked-Size, ETag, Content-Length) and
`Range: bytes=N-` requests answered with 206. Faults to inject, per filename: `cut_after[name] =
n` sends n bytes of the body and then drops the connection (once), `stall_after[name] = n` sends
n bytes and then hangs (once), and `advertise_sha[name] = hex` announces a sha256 other than the
file's.

Uploads, as huggingface_hub's `HfApi.create_repo` + `upload_folder` drive them without hf_xet
(run the client with HF_HUB_DISABLE_XET=1: with hf_xet installed it would upload to a Xet CAS
server, which this is not):
- `POST /api/repos/create` makes a model repo with the hub's initial commit (.gitattributes);
  409 with the repo's url when it exists (what `exist_ok=True` relies on), 403 outside the
  token's own namespace.
- `GET /api/models/{repo}[/revision/{rev}]` (repo_info), `GET /api/whoami-v2`, and the
  `GET /api/agent-harnesses` registry huggingface_hub reads for its user agent (empty here).
- `POST /api/validate-yaml`: a README.md's YAML header must parse as a mapping.
- `POST /api/models/{repo}/preupload/{rev}`: "lfs" for paths .gitattributes sends to LFS
  (*.safetensors ...), for binary samples and for files of 10 MiB or more, "regular" for small
  text; with the oid of the file the branch holds, so the client leaves unchanged files out.
- `POST /{repo}.git/info/lfs/objects/batch`: the LFS batch API, "basic" transfer only (no xet),
  an upload action that PUTs to this server (the sha256 is checked) and a verify action.
- `POST /api/models/{repo}/commit/{rev}`: the ndjson commit (header, file = base64, lfsFile =
  an uploaded LFS object, deletedFile, deletedFolder); a new commit on the branch.
- `POST /api/models/{repo}/branch/{branch}`: a branch from the default one.
- Not served: `GET /api/models/{repo}/xet-write-token/{rev}` (404), where a client with hf_xet
  fails, as it would when the hub refuses it a Xet token.

Write routes want `Authorization: Bearer <token>` with a token in `tokens` (token -> user;
`TOKEN` is USER's); an unknown token gets the hub's 401 "Invalid credentials in Authorization
header" on every API route. `claim(repo, owner)` makes a repo that belongs to someone else:
creating or committing to it answers 403, as the hub does. What arrived is in `repos`: per
repo, per branch, the list of commits, each with the whole tree (`tree()` and `commits()` read
them).
"""

from __future__ import annotations

import base64
import fnmatch
import hashlib
import json
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

COMMIT = "0123456789abcdef0123456789abcdef01234567"
TOKEN = "hf_fakehub_alice_write_token"
USER = "alice"
MAIN = "main"
INVALID_CREDENTIALS = "Invalid credentials in Authorization header"  # the hub's words
LFS_THRESHOLD = 10 * 1024 * 1024  # the hub sends files this large to LFS whatever their name
# The .gitattributes the hub's initial commit holds (the LFS part of it).
LFS_PATTERNS = (
    "*.7z", "*.arrow", "*.bin", "*.bz2", "*.ckpt", "*.ftz", "*.gguf", "*.gz", "*.h5",
    "*.joblib", "*.lfs", "*.mlmodel", "*.model", "*.msgpack", "*.npy", "*.npz", "*.onnx",
    "*.ot", "*.parquet", "*.pb", "*.pickle", "*.pkl", "*.pt", "*.pth", "*.rar",
    "*.safetensors", "*.tar", "*.tflite", "*.tgz", "*.wasm", "*.xz", "*.zip", "*.zst",
    "*tfevents*",
)  # fmt: skip
GITATTRIBUTES = "".join(f"{p} filter=lfs diff=lfs merge=lfs -text\n" for p in LFS_PATTERNS)


@dataclass(frozen=True)
class HubCommit:
    oid: str
    summary: str
    description: str
    files: dict[str, bytes]  # the whole tree at this commit
    lfs: frozenset[str]  # the paths of `files` stored as LFS objects
    changed: tuple[str, ...]  # what this commit added, replaced or deleted


@dataclass
class HubRepo:
    owner: str
    private: bool
    branches: dict[str, list[HubCommit]] = field(default_factory=dict)

    def head(self, revision: str = MAIN) -> HubCommit:
        return self.branches[revision][-1]


class _Reply(Exception):
    """A response a route gives instead of going on (an error, usually)."""

    def __init__(self, status: int, body: Any = None, headers: dict[str, str] | None = None):
        super().__init__(status)
        self.status, self.body, self.headers = status, body, headers or {}


def _error(status: int, message: str, code: str | None = None, **extra: Any) -> _Reply:
    headers = {"X-Error-Message": message}
    if code is not None:
        headers["X-Error-Code"] = code
    return _Reply(status, {"error": message, **extra}, headers)


def git_blob_oid(data: bytes) -> str:
    """The git sha1 of a regular file, what the hub (and huggingface_hub) call its oid."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


class FakeHub:
    def __init__(self) -> None:
        self.files: dict[tuple[str, str], bytes] = {}
        self.cut_after: dict[str, int] = {}
        self.stall_after: dict[str, int] = {}
        self.advertise_sha: dict[str, str] = {}
        self.requests: list[tuple[str, str, str | None]] = []  # (method, path, Range header)
        self.sent: dict[str, int] = {}
        # upload side
        self.tokens: dict[str, str] = {TOKEN: USER}
        self.repos: dict[str, HubRepo] = {}
        self.lfs: dict[str, bytes] = {}  # sha256 -> bytes, as PUT to the upload action
        self.lfs_puts: list[str] = []  # the sha256 of each PUT, in order
        self.created: list[dict[str, Any]] = []  # the payloads of POST /api/repos/create
        self.lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def add(self, repo_id: str, filename: str, data: bytes | Path) -> str:
        blob = data.read_bytes() if isinstance(data, Path) else data
        self.files[(repo_id, filename)] = blob
        return hashlib.sha256(blob).hexdigest()

    def claim(self, repo_id: str, owner: str = "bob", private: bool = False) -> HubRepo:
        """A model repo that exists and belongs to `owner` (someone else, for USER's token)."""
        with self.lock:
            return self._create(repo_id, owner, private)

    def tree(self, repo_id: str, revision: str = MAIN) -> dict[str, bytes]:
        """The files of `repo_id` at the head of `revision`."""
        return dict(self.repos[repo_id].head(revision).files)

    def commits(self, repo_id: str, revision: str = MAIN) -> list[HubCommit]:
        return list(self.repos[repo_id].branches[revision])

    def __enter__(self) -> FakeHub:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    # --- the hub's state, changed under self.lock ---

    def _create(self, repo_id: str, owner: str, private: bool) -> HubRepo:
        repo = HubRepo(owner, private)
        files = {".gitattributes": GITATTRIBUTES.encode()}
        initial = self._commit_object(repo_id, None, "initial commit", "", files, set(), files)
        repo.branches[MAIN] = [initial]
        self.repos[repo_id] = repo
        return repo

    def _commit_object(
        self,
        repo_id: str,
        parent: HubCommit | None,
        summary: str,
        description: str,
        files: dict[str, bytes],
        lfs: set[str],
        changed: Iterable[str],
    ) -> HubCommit:
        digest = hashlib.sha1(f"{repo_id}\0{parent.oid if parent else ''}\0{summary}".encode())
        for path in sorted(files):
            digest.update(f"\0{path}\0{git_blob_oid(files[path])}".encode())
        digest.update(str(time.time_ns()).encode())  # two equal commits are two commits
        return HubCommit(
            digest.hexdigest(), summary, description, files, frozenset(lfs), tuple(changed)
        )

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        hub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            # --- downloads (datasets/.../resolve/...) ---

            def _lookup(self) -> tuple[str, bytes] | None:
                # /datasets/{owner}/{name}/resolve/{revision}/{filename}
                parts = self.path.split("?")[0].strip("/").split("/")
                if len(parts) < 6 or parts[0] != "datasets" or parts[3] != "resolve":
                    return None
                repo_id, filename = f"{parts[1]}/{parts[2]}", "/".join(parts[5:])
                blob = hub.files.get((repo_id, filename))
                return (filename, blob) if blob is not None else None

            def _headers(self, filename: str, blob: bytes) -> None:
                sha = hub.advertise_sha.get(filename, hashlib.sha256(blob).hexdigest())
                self.send_header("X-Repo-Commit", COMMIT)
                self.send_header("X-Linked-Etag", f'"{sha}"')
                self.send_header("X-Linked-Size", str(len(blob)))
                self.send_header("ETag", f'"{sha}"')
                self.send_header("Accept-Ranges", "bytes")

            def _missing(self) -> None:
                self.send_response(404)
                self.send_header("X-Error-Code", "EntryNotFound")
                self.send_header("X-Repo-Commit", COMMIT)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def do_HEAD(self) -> None:
                hub.requests.append(("HEAD", self.path, None))
                found = self._lookup()
                if found is None:
                    self._missing()
                    return
                filename, blob = found
                self.send_response(200)
                self._headers(filename, blob)
                self.send_header("Content-Length", str(len(blob)))
                self.end_headers()

            def do_GET(self) -> None:
                range_header = self.headers.get("Range")
                hub.requests.append(("GET", self.path, range_header))
                if self.path.startswith("/api/"):
                    self._api("GET", b"")
                    return
                found = self._lookup()
                if found is None:
                    self._missing()
                    return
                filename, blob = found
                start = 0
                if range_header and range_header.startswith("bytes="):
                    start = int(range_header[6:].split("-")[0])
                body = blob[start:]
                self.send_response(206 if start else 200)
                self._headers(filename, blob)
                if start:
                    self.send_header("Content-Range", f"bytes {start}-{len(blob) - 1}/{len(blob)}")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                cut = hub.cut_after.pop(filename, None)
                stall = hub.stall_after.pop(filename, None)
                limit = cut if cut is not None else stall
                if limit is not None:
                    self.wfile.write(body[:limit])
                    self.wfile.flush()
                    hub.sent[filename] = hub.sent.get(filename, 0) + min(limit, len(body))
                    if stall is not None:
                        time.sleep(3600)  # until the client gives up or is killed
                    self.close_connection = True
                    self.connection.shutdown(2)
                    return
                self.wfile.write(body)
                hub.sent[filename] = hub.sent.get(filename, 0) + len(body)

            # --- uploads ---

            def do_POST(self) -> None:
                hub.requests.append(("POST", self.path, None))
                self._api("POST", self._body())

            def do_PUT(self) -> None:
                hub.requests.append(("PUT", self.path, None))
                self._api("PUT", self._body())

            def _body(self) -> bytes:
                """The request body, sized or chunked: always read whole, so an error answer
                leaves the kept-alive connection clean for the next request."""
                if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
                    chunks = []
                    while True:
                        size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                        if size == 0:
                            while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                                pass  # trailers
                            return b"".join(chunks)
                        chunks.append(self.rfile.read(size))
                        self.rfile.readline()
                return self.rfile.read(int(self.headers.get("Content-Length") or 0))

            def _send(self, status: int, body: Any, headers: dict[str, str]) -> None:
                data = b"" if body is None else json.dumps(body).encode()
                self.send_response(status)
                for key, value in headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Type", headers.get("Content-Type", "application/json"))
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _api(self, method: str, body: bytes) -> None:
                url = urlsplit(self.path)
                # split before unquoting: a revision is sent quoted whole (refs%2Fpr%2F1)
                segments = [unquote(s) for s in url.path.strip("/").split("/")]
                query = parse_qs(url.query)
                try:
                    user = self._user()
                    with hub.lock:
                        answer = self._route(method, segments, query, body, user)
                except _Reply as reply:
                    self._send(reply.status, reply.body, reply.headers)
                else:
                    self._send(200, answer, {})

            def _user(self) -> str | None:
                """The token's user; None without a token; 401 for a token the hub does not
                know (on every route, as the hub answers)."""
                auth = self.headers.get("Authorization")
                if auth is None:
                    return None
                scheme, _, token = auth.partition(" ")
                if scheme.lower() != "bearer" or token.strip() not in hub.tokens:
                    raise _error(401, INVALID_CREDENTIALS)
                return hub.tokens[token.strip()]

            def _route(
                self,
                method: str,
                seg: list[str],
                query: dict[str, list[str]],
                body: bytes,
                user: str | None,
            ) -> Any:
                if method == "GET" and seg == ["api", "whoami-v2"]:
                    return self._whoami(user)
                if method == "GET" and seg == ["api", "agent-harnesses"]:
                    # huggingface_hub fetches this registry for its user agent: an empty one
                    return {"standardEnvVars": [], "harnesses": {}}
                if method == "POST" and seg == ["api", "repos", "create"]:
                    return self._create_repo(_json(body), user)
                if method == "POST" and seg == ["api", "validate-yaml"]:
                    return self._validate_yaml(_json(body))
                if method == "PUT" and seg[:2] == ["_fakehub", "lfs"] and len(seg) == 3:
                    return self._lfs_put(seg[2], body)
                if seg[:2] == ["api", "models"] and len(seg) >= 4:
                    repo_id, rest = f"{seg[2]}/{seg[3]}", seg[4:]
                    if method == "GET" and not rest:
                        return self._repo_info(repo_id, MAIN, user)
                    if method == "GET" and rest[:1] == ["revision"] and len(rest) == 2:
                        return self._repo_info(repo_id, rest[1], user)
                    if method == "POST" and len(rest) == 2:
                        if rest[0] == "preupload":
                            return self._preupload(repo_id, rest[1], _json(body), user)
                        if rest[0] == "commit":
                            return self._commit(repo_id, rest[1], body, query, user)
                        if rest[0] == "branch":
                            return self._branch(repo_id, rest[1], _json(body), user)
                if (
                    method == "POST"
                    and len(seg) == 6
                    and seg[1].endswith(".git")
                    and seg[2:5] == ["info", "lfs", "objects"]
                ):
                    repo_id = f"{seg[0]}/{seg[1][: -len('.git')]}"
                    if seg[5] == "batch":
                        return self._lfs_batch(repo_id, _json(body), user)
                    if seg[5] == "verify":
                        return self._lfs_verify(_json(body), user)
                raise _error(404, f"no route for {method} {self.path}")

            # --- repos and auth ---

            def _whoami(self, user: str | None) -> Any:
                if user is None:
                    raise _error(401, "Invalid username or password.")
                return {
                    "type": "user",
                    "name": user,
                    "fullname": user,
                    "orgs": [],
                    "auth": {"type": "access_token", "accessToken": {"role": "write"}},
                }

            def _writer(self, user: str | None) -> str:
                if user is None:
                    raise _error(401, "Invalid username or password.")
                return user

            def _visible(self, repo_id: str, user: str | None) -> HubRepo:
                repo = hub.repos.get(repo_id)
                if repo is None or (repo.private and repo.owner != user):
                    raise _error(404, "Repository not found", "RepoNotFound")
                return repo

            def _writable(self, repo_id: str, user: str | None, revision: str) -> HubRepo:
                writer = self._writer(user)
                repo = self._visible(repo_id, writer)
                if repo.owner != writer:
                    raise _error(403, f"You don't have the rights to write to {repo_id}")
                if revision not in repo.branches:
                    raise _error(404, f"Invalid rev id: {revision}", "RevisionNotFound")
                return repo

            def _create_repo(self, payload: dict[str, Any], user: str | None) -> Any:
                writer = self._writer(user)
                hub.created.append(payload)
                if payload.get("type") not in (None, "model"):
                    raise _error(400, "this fake hub holds model repos only")
                name = payload.get("name")
                namespace = payload.get("organization") or writer
                if not isinstance(name, str) or not name:
                    raise _error(400, "a repo needs a name")
                repo_id = f"{namespace}/{name}"
                if namespace != writer:
                    raise _error(
                        403,
                        f"You don't have the rights to create a model under the namespace "
                        f'"{namespace}"',
                    )
                url = f"{hub.url}/{repo_id}"
                if repo_id in hub.repos:
                    raise _error(409, "You already created this model repo", url=url)
                hub._create(repo_id, writer, payload.get("visibility") == "private")
                return {"url": url, "name": repo_id, "id": repo_id}

            def _repo_info(self, repo_id: str, revision: str, user: str | None) -> Any:
                repo = self._visible(repo_id, user)
                if revision not in repo.branches:
                    raise _error(404, f"Invalid rev id: {revision}", "RevisionNotFound")
                head = repo.head(revision)
                return {
                    "id": repo_id,
                    "modelId": repo_id,
                    "author": repo.owner,
                    "sha": head.oid,
                    "private": repo.private,
                    "disabled": False,
                    "gated": False,
                    "tags": [],
                    "siblings": [{"rfilename": path} for path in sorted(head.files)],
                }

            def _branch(
                self, repo_id: str, branch: str, payload: dict[str, Any], user: str | None
            ) -> Any:
                repo = self._writable(repo_id, user, MAIN)
                if branch in repo.branches:
                    raise _error(409, "Reference already exists")
                start = payload.get("startingPoint") or MAIN
                if start not in repo.branches:
                    raise _error(404, f"Invalid rev id: {start}", "RevisionNotFound")
                repo.branches[branch] = [repo.head(start)]
                return {}

            # --- README.md metadata ---

            def _validate_yaml(self, payload: dict[str, Any]) -> Any:
                import yaml

                content = payload.get("content")
                if not isinstance(content, str):
                    raise _error(400, "no content to validate")
                if not content.startswith("---"):
                    return {"errors": [], "warnings": []}
                end = content.find("\n---", 3)
                problem = None
                if end < 0:
                    problem = "the YAML header has no closing ---"
                else:
                    try:
                        meta = yaml.safe_load(content[3:end])
                    except yaml.YAMLError as exc:
                        problem = f"the YAML header does not parse: {exc}"
                    else:
                        if meta is not None and not isinstance(meta, dict):
                            problem = "the YAML header is not a mapping"
                if problem is not None:
                    raise _Reply(400, {"errors": [{"message": problem}]})
                return {"errors": [], "warnings": []}

            # --- preupload, LFS, commit ---

            def _preupload(
                self, repo_id: str, revision: str, payload: dict[str, Any], user: str | None
            ) -> Any:
                repo = self._writable(repo_id, user, revision)
                head = repo.head(revision)
                patterns = _lfs_patterns(head.files.get(".gitattributes", b""))
                files = []
                for item in payload.get("files", []):
                    path, size = item["path"], int(item["size"])
                    sample = base64.b64decode(item.get("sample", ""))
                    lfs = _matches(path, patterns) or size >= LFS_THRESHOLD or b"\0" in sample
                    oid = None
                    if path in head.files:
                        stored = head.files[path]
                        in_lfs = path in head.lfs
                        oid = hashlib.sha256(stored).hexdigest() if in_lfs else git_blob_oid(stored)
                    files.append(
                        {
                            "path": path,
                            "uploadMode": "lfs" if lfs else "regular",
                            "shouldIgnore": False,
                            "oid": oid,
                        }
                    )
                return {"files": files, "commitOid": head.oid}

            def _lfs_batch(self, repo_id: str, payload: dict[str, Any], user: str | None) -> Any:
                revision = (payload.get("ref") or {}).get("name") or MAIN
                self._writable(repo_id, user, revision)
                if payload.get("operation") != "upload" or "basic" not in payload.get(
                    "transfers", ["basic"]
                ):
                    raise _Reply(422, {"message": "only basic uploads are served here"})
                objects = []
                for obj in payload.get("objects", []):
                    oid, size = obj["oid"], int(obj["size"])
                    entry: dict[str, Any] = {"oid": oid, "size": size, "authenticated": True}
                    stored = hub.lfs.get(oid)
                    if stored is None or len(stored) != size:
                        entry["actions"] = {
                            "upload": {"href": f"{hub.url}/_fakehub/lfs/{oid}"},
                            "verify": {"href": f"{hub.url}/{repo_id}.git/info/lfs/objects/verify"},
                        }
                    objects.append(entry)
                # "basic" only: never "xet", so the client PUTs the bytes here
                return {"transfer": "basic", "objects": objects, "hash_algo": "sha256"}

            def _lfs_put(self, oid: str, body: bytes) -> Any:
                # the pre-signed storage URL of the real hub: no Authorization header comes
                if hashlib.sha256(body).hexdigest() != oid:
                    raise _Reply(400, {"message": f"the body's sha256 is not {oid}"})
                hub.lfs[oid] = body
                hub.lfs_puts.append(oid)
                return None

            def _lfs_verify(self, payload: dict[str, Any], user: str | None) -> Any:
                self._writer(user)
                stored = hub.lfs.get(payload.get("oid", ""))
                if stored is None or len(stored) != payload.get("size"):
                    raise _Reply(404, {"message": "Object not found"})
                return {}

            def _commit(
                self,
                repo_id: str,
                revision: str,
                body: bytes,
                query: dict[str, list[str]],
                user: str | None,
            ) -> Any:
                repo = self._writable(repo_id, user, revision)
                if query.get("create_pr"):
                    raise _error(400, "this fake hub does not open pull requests")
                lines = [json.loads(line) for line in body.splitlines() if line.strip()]
                if not lines or lines[0].get("key") != "header":
                    raise _error(400, "a commit starts with its header line")
                header = lines[0]["value"]
                head = repo.head(revision)
                parent = header.get("parentCommit")
                if parent is not None and not head.oid.startswith(parent):
                    raise _error(412, "A commit has happened since. Please refresh and try again.")
                files, lfs, changed = dict(head.files), set(head.lfs), []
                for line in lines[1:]:
                    key, value = line["key"], line["value"]
                    path = value["path"]
                    if key == "file":
                        if value.get("encoding") != "base64":
                            raise _error(400, f"{path}: only base64 content is accepted")
                        files[path] = base64.b64decode(value["content"])
                        lfs.discard(path)
                    elif key == "lfsFile":
                        blob = hub.lfs.get(value["oid"])
                        if blob is None:
                            raise _error(
                                400,
                                f"Your push was rejected because an LFS pointer ({path}) "
                                "pointed to a file that does not exist",
                            )
                        files[path] = blob
                        lfs.add(path)
                    elif key == "deletedFile":
                        if path not in files:
                            missing = "A file with this name doesn't exist"
                            raise _error(404, missing, "EntryNotFound")
                        del files[path]
                        lfs.discard(path)
                    elif key == "deletedFolder":
                        prefix = path.rstrip("/") + "/"
                        for name in [n for n in files if n.startswith(prefix)]:
                            del files[name]
                            lfs.discard(name)
                    else:
                        raise _error(400, f"unknown commit line {key!r}")
                    changed.append(path)
                commit = hub._commit_object(
                    repo_id,
                    head,
                    header.get("summary", ""),
                    header.get("description", ""),
                    files,
                    lfs,
                    changed,
                )
                repo.branches[revision].append(commit)
                return {
                    "success": True,
                    "commitOid": commit.oid,
                    "commitUrl": f"{hub.url}/{repo_id}/commit/{commit.oid}",
                    "commitMessage": commit.summary,
                    "hookOutput": "",
                    "pullRequestUrl": None,
                }

        return Handler


def _json(body: bytes) -> dict[str, Any]:
    try:
        value = json.loads(body or b"{}")
    except json.JSONDecodeError:
        raise _error(400, "the body is not JSON") from None
    if not isinstance(value, dict):
        raise _error(400, "the body is not a JSON object")
    return value


def _lfs_patterns(gitattributes: bytes) -> list[str]:
    """The patterns a .gitattributes sends through the LFS filter."""
    patterns = []
    for line in gitattributes.decode(errors="replace").splitlines():
        parts = line.split()
        if len(parts) > 1 and "filter=lfs" in parts[1:]:
            patterns.append(parts[0])
    return patterns


def _matches(path: str, patterns: list[str]) -> bool:
    """git's rule: a pattern without a slash matches the file name in any folder."""
    name = path.rsplit("/", 1)[-1]
    return any(fnmatch.fnmatchcase(path if "/" in p else name, p) for p in patterns)
