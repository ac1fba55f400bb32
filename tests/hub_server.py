"""A real HTTP server speaking the part of the Hugging Face hub protocol that downloads use:
`HEAD/GET {endpoint}/datasets/{repo}/resolve/{revision}/{filename}` with the hub's headers
(X-Repo-Commit, X-Linked-Etag = the LFS sha256, X-Linked-Size, ETag, Content-Length) and
`Range: bytes=N-` requests answered with 206. Point HF_ENDPOINT at `server.url`.

Faults to inject, per filename: `cut_after[name] = n` sends n bytes of the body and then drops
the connection (once), `stall_after[name] = n` sends n bytes and then hangs (once), and
`advertise_sha[name] = hex` announces a sha256 other than the file's.
"""

from __future__ import annotations

import hashlib
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

COMMIT = "0123456789abcdef0123456789abcdef01234567"


class FakeHub:
    def __init__(self) -> None:
        self.files: dict[tuple[str, str], bytes] = {}
        self.cut_after: dict[str, int] = {}
        self.stall_after: dict[str, int] = {}
        self.advertise_sha: dict[str, str] = {}
        self.requests: list[tuple[str, str, str | None]] = []  # (method, path, Range header)
        self.sent: dict[str, int] = {}
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

    def __enter__(self) -> FakeHub:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        hub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

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

        return Handler
