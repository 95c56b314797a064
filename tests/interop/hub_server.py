"""A small Hugging Face Hub for the tests, on 127.0.0.1: the revision listing
(/api/models/{repo}/revision/{revision}), the resolve protocol
(/{repo}/resolve/{revision}/{file} with X-Repo-Commit, ETag, X-Linked-Etag and
X-Linked-Size), and large files answered with a 302 to a second server (the
"CDN", another port) that serves byte ranges. It records every request and can
misbehave on purpose: drop a connection mid-body, answer 503 with Retry-After,
corrupt a body."""

from __future__ import annotations

import hashlib
import json
import socket
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

SIGNED_QUERY = "X-Amz-Signature=cdn-signature-secret&Expires=9999999999"


def git_blob_sha1(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def is_lfs(name: str) -> bool:
    return name.endswith(".safetensors")


@dataclass
class Repo:
    repo_id: str
    files: dict[str, bytes]
    commit: str
    branches: dict[str, str] = field(default_factory=dict)
    token: str | None = None  # required as "Authorization: Bearer <token>" when set
    gated: bool = False


@dataclass
class Logged:
    server: str  # "hub" or "cdn"
    method: str
    path: str
    file: str | None
    range: str | None
    authorization: str | None
    status: int
    body_start: int = 0
    body_bytes: int = 0
    at: float = 0.0


class HubServer:
    def __init__(self):
        self.repos: dict[str, Repo] = {}
        self.log: list[Logged] = []
        self.lock = threading.Lock()
        # One-shot or lasting faults, keyed by file name ("*" for the listing).
        self.drop_once: set[str] = set()  # the CDN closes the connection halfway through a whole body
        self.busy_once: dict[str, int] = {}  # the hub answers 503 with this Retry-After, once
        self.always_busy = False  # every hub request answers 503 (Retry-After: 0)
        self.corrupt: set[str] = set()  # the CDN flips the last byte of a whole body
        self.ignore_range = False  # the CDN answers every request with the whole file
        self.blobs: dict[str, bytes] = {}
        self.hub = self._serve("hub")
        self.cdn = self._serve("cdn")

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.hub.server_port}"

    @property
    def cdn_endpoint(self) -> str:
        return f"http://127.0.0.1:{self.cdn.server_port}"

    def add_repo(self, repo_id: str, files: dict[str, bytes], token: str | None = None, gated=False) -> Repo:
        commit = hashlib.sha1(repo_id.encode() + b"".join(n.encode() + files[n] for n in sorted(files))).hexdigest()
        repo = Repo(repo_id, dict(files), commit, {"main": commit}, token, gated)
        self.repos[repo_id] = repo
        for data in files.values():
            self.blobs[hashlib.sha256(data).hexdigest()] = data
        return repo

    def add_directory(self, repo_id: str, directory: Path, **kwargs) -> Repo:
        files = {p.name: p.read_bytes() for p in sorted(directory.iterdir()) if p.is_file()}
        return self.add_repo(repo_id, files, **kwargs)

    def requests(self, server: str | None = None) -> list[Logged]:
        with self.lock:
            return [r for r in self.log if server is None or r.server == server]

    def clear_log(self):
        with self.lock:
            self.log.clear()

    def close(self):
        for s in (self.hub, self.cdn):
            s.shutdown()
            s.server_close()

    def _record(self, entry: Logged):
        entry.at = time.monotonic()
        with self.lock:
            self.log.append(entry)

    def _serve(self, role: str) -> ThreadingHTTPServer:
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_HEAD(self):
                self.handle_any(head=True)

            def do_GET(self):
                self.handle_any(head=False)

            def handle_any(self, head: bool):
                if role == "hub":
                    owner._hub(self, head)
                else:
                    owner._cdn(self, head)

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, daemon=True).start()
        return server

    # ---- the hub -----------------------------------------------------------

    def _reply(self, h, status, headers=None, body=b"", head=False, log: Logged | None = None):
        h.send_response(status)
        for k, v in (headers or {}).items():
            h.send_header(k, v)
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        if not head:
            h.wfile.write(body)
        if log is not None:
            log.status = status
            log.body_bytes = 0 if head else len(body)
            self._record(log)

    def _error(self, h, status, code, head, log):
        self._reply(h, status, {"X-Error-Code": code, "Content-Type": "application/json"},
                    json.dumps({"error": code}).encode(), head, log)

    def _hub(self, h, head: bool):
        url = urllib.parse.urlsplit(h.path)
        parts = url.path.split("/")
        log = Logged("hub", h.command, h.path, None, h.headers.get("Range"), h.headers.get("Authorization"), 0)
        # /api/models/{org}/{name}/revision/{revision}
        if len(parts) >= 7 and parts[1] == "api" and parts[2] == "models" and parts[5] == "revision":
            repo_id, revision, file = f"{parts[3]}/{parts[4]}", urllib.parse.unquote("/".join(parts[6:])), "*"
        # /{org}/{name}/resolve/{revision}/{file}
        elif len(parts) >= 6 and parts[3] == "resolve":
            repo_id, revision = f"{parts[1]}/{parts[2]}", urllib.parse.unquote(parts[4])
            file = urllib.parse.unquote("/".join(parts[5:]))
        else:
            return self._error(h, 404, "NotFound", head, log)
        log.file = file
        if self.always_busy:
            return self._reply(h, 503, {"Retry-After": "0"}, b"busy", head, log)
        if file in self.busy_once:
            retry_after = self.busy_once.pop(file)
            return self._reply(h, 503, {"Retry-After": str(retry_after)}, b"busy", head, log)
        repo = self.repos.get(repo_id)
        if repo is None:
            return self._error(h, 404, "RepoNotFound", head, log)
        if repo.token is not None and h.headers.get("Authorization") != f"Bearer {repo.token}":
            if repo.gated:
                return self._error(h, 403, "GatedRepo", head, log)
            return self._error(h, 401, "RepoNotFound", head, log)
        commit = repo.branches.get(revision, revision if revision == repo.commit else None)
        if commit is None:
            return self._error(h, 404, "RevisionNotFound", head, log)
        if file == "*":
            listing = {"id": repo_id, "sha": commit, "siblings": [{"rfilename": n} for n in sorted(repo.files)]}
            return self._reply(h, 200, {"Content-Type": "application/json"}, json.dumps(listing).encode(), head, log)
        data = repo.files.get(file)
        if data is None:
            return self._error(h, 404, "EntryNotFound", head, log)
        common = {"X-Repo-Commit": commit}
        if is_lfs(file):
            sha256 = hashlib.sha256(data).hexdigest()
            location = f"{self.cdn_endpoint}/blobs/{sha256}?{SIGNED_QUERY}"
            headers = {**common, "ETag": f'"{git_blob_sha1(b"pointer " + data[:16])}"',
                       "X-Linked-Etag": f'"{sha256}"', "X-Linked-Size": str(len(data)), "Location": location}
            return self._reply(h, 302, headers, b"Found", head, log)
        headers = {**common, "ETag": f'"{git_blob_sha1(data)}"', "Content-Type": "application/octet-stream"}
        return self._reply(h, 200, headers, data, head, log)

    # ---- the CDN -------------------------------------------------------------

    def _cdn(self, h, head: bool):
        url = urllib.parse.urlsplit(h.path)
        sha256 = url.path.rsplit("/", 1)[-1]
        log = Logged("cdn", h.command, url.path, None, h.headers.get("Range"), h.headers.get("Authorization"), 0)
        data = self.blobs.get(sha256)
        if data is None or url.query != SIGNED_QUERY:
            return self._reply(h, 403, {}, b"denied", head, log)
        log.file = next((n for r in self.repos.values() for n, d in r.files.items() if d is data), sha256)
        start, end, status = 0, len(data), 200
        rng = None if self.ignore_range else h.headers.get("Range")
        headers = {"Accept-Ranges": "bytes", "Content-Type": "application/octet-stream"}
        if rng:
            first, _, last = rng.removeprefix("bytes=").partition("-")
            start = int(first)
            end = min(int(last) + 1, len(data)) if last else len(data)
            if start >= len(data):
                return self._reply(h, 416, {"Content-Range": f"bytes */{len(data)}"}, b"", head, log)
            status = 206
            headers["Content-Range"] = f"bytes {start}-{end - 1}/{len(data)}"
        body = data[start:end]
        whole = rng is None
        if log.file in self.corrupt and whole:
            body = body[:-1] + bytes([body[-1] ^ 1])
        h.send_response(status)
        for k, v in headers.items():
            h.send_header(k, v)
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        log.status, log.body_start = status, start
        if head:
            return self._record(log)
        if log.file in self.drop_once and whole:
            self.drop_once.discard(log.file)
            half = len(body) // 2
            h.wfile.write(body[:half])
            h.wfile.flush()
            log.body_bytes = half
            self._record(log)
            h.close_connection = True
            h.connection.shutdown(socket.SHUT_RDWR)
            return
        h.wfile.write(body)
        log.body_bytes = len(body)
        self._record(log)
