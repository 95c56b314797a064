"""A reverse proxy on 127.0.0.1 that misbehaves on purpose, in front of any
HTTP/1.1 server on loopback (Azurite, an S3 server): for the first N requests
that match a method and a path pattern it can

  - "drop":      forward the request, then close the connection without answering;
  - "drop_body": forward, answer the status and headers and half the body, then close;
  - "truncate":  the same, but only `keep` bytes of the body;
  - "corrupt":   forward, then answer with one byte of the body changed;
  - "status":    answer `status` (503 by default) with Retry-After, not forwarding.

Everything else is forwarded unchanged. It records every request (method,
path, query, what it did) so that tests can see what was retried.

    with FaultProxy("127.0.0.1", upstream_port) as proxy:
        proxy.add(Fault("drop_body", method="GET", count=2))
        ... talk to proxy.port ...
"""

from __future__ import annotations

import http.client
import re
import socket
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade", "proxy-connection"}


@dataclass
class Fault:
    action: str  # "drop", "drop_body", "truncate", "corrupt", "status"
    method: str | None = None  # None: any method
    path: str = ".*"  # a regular expression searched in "path?query"
    count: int = 1  # how many matching requests misbehave
    status: int = 503
    retry_after: str | None = "1"
    keep: int = 0  # bytes of the body kept by "truncate"

    def matches(self, method: str, target: str) -> bool:
        return self.count > 0 and (self.method is None or self.method == method) and re.search(self.path, target)


@dataclass
class Seen:
    method: str
    target: str
    action: str  # "forward" or a Fault's action
    status: int | None
    range: str | None = None  # the Range or x-ms-range header


class FaultProxy:
    def __init__(self, upstream_host: str, upstream_port: int):
        self.upstream = (upstream_host, upstream_port)
        self.faults: list[Fault] = []
        self.seen: list[Seen] = []
        self.lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # quiet
                pass

            def range(self):
                return self.headers.get("x-ms-range") or self.headers.get("Range")

            def handle_any(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                fault = proxy.take_fault(self.command, self.path)
                action = fault.action if fault else "forward"
                if fault and fault.action == "status":
                    proxy.record(self.command, self.path, action, fault.status, self.range())
                    payload = b'<?xml version="1.0" encoding="utf-8"?><Error><Code>ServerBusy</Code></Error>'
                    self.send_response(fault.status)
                    if fault.retry_after is not None:
                        self.send_header("Retry-After", fault.retry_after)
                    self.send_header("x-ms-error-code", "ServerBusy")
                    self.send_header("Content-Type", "application/xml")
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    if self.command != "HEAD":
                        self.wfile.write(payload)
                    return
                upstream = http.client.HTTPConnection(*proxy.upstream, timeout=60)
                headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
                upstream.request(self.command, self.path, body=body if self.command in ("PUT", "POST") else None,
                                 headers=headers)
                response = upstream.getresponse()
                data = response.read()
                upstream.close()
                proxy.record(self.command, self.path, action, response.status, self.range())
                if action == "drop":
                    self.close_connection = True
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return
                self.send_response_only(response.status, response.reason)
                for k, v in response.getheaders():
                    if k.lower() not in HOP_BY_HOP and (k.lower() != "content-length" or self.command == "HEAD"):
                        self.send_header(k, v)
                if self.command != "HEAD":
                    self.send_header("Content-Length", str(len(data)))
                if action in ("drop_body", "truncate"):
                    self.end_headers()
                    keep = len(data) // 2 if action == "drop_body" else min(fault.keep, len(data))
                    self.wfile.write(data[:keep])
                    self.wfile.flush()
                    self.close_connection = True
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return
                self.end_headers()
                if action == "corrupt" and data:
                    middle = len(data) // 2
                    data = data[:middle] + bytes([data[middle] ^ 0x5A]) + data[middle + 1:]
                if self.command != "HEAD":
                    self.wfile.write(data)

            do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = handle_any

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def add(self, fault: Fault) -> Fault:
        with self.lock:
            self.faults.append(fault)
        return fault

    def take_fault(self, method: str, target: str) -> Fault | None:
        with self.lock:
            for fault in self.faults:
                if fault.matches(method, target):
                    fault.count -= 1
                    return fault
        return None

    def record(self, method: str, target: str, action: str, status: int | None, range_: str | None = None) -> None:
        with self.lock:
            self.seen.append(Seen(method, target, action, status, range_))

    def clear(self) -> None:
        with self.lock:
            self.faults.clear()
            self.seen.clear()

    def __enter__(self) -> "FaultProxy":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()
