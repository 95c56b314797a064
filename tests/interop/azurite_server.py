"""Azurite, Microsoft's Azure Storage emulator, on 127.0.0.1 for the tests.

tools/setup.sh installs the pinned version once per machine, outside the
clone, into ${XDG_CACHE_HOME:-~/.cache}/paramdelta/azurite-<AZURITE_VERSION>;
PARAMDELTA_AZURITE may name another azurite-blob program. The server keeps
its blobs in memory and stops with the fixture."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

AZURITE_VERSION = "3.35.0"  # the last 3.x that runs on Node 20; tools/setup.sh pins the same
ACCOUNT = "devstoreaccount1"
KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="


def azurite_program() -> Path | None:
    if os.environ.get("PARAMDELTA_AZURITE"):
        return Path(os.environ["PARAMDELTA_AZURITE"])
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    program = cache / "paramdelta" / f"azurite-{AZURITE_VERSION}" / "node_modules" / ".bin" / "azurite-blob"
    if program.exists():
        return program
    found = shutil.which("azurite-blob")
    return Path(found) if found else None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Azurite:
    def __init__(self, workdir: Path):
        program = azurite_program()
        if program is None:
            raise RuntimeError("azurite is not installed: run tools/setup.sh (or set PARAMDELTA_AZURITE)")
        self.port = free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}/{ACCOUNT}"
        self.log = workdir / "azurite.log"
        self.process = subprocess.Popen(
            [str(program), "--blobHost", "127.0.0.1", "--blobPort", str(self.port), "--inMemoryPersistence",
             "--silent", "--disableTelemetry", "--skipApiVersionCheck"],
            stdout=self.log.open("wb"), stderr=subprocess.STDOUT, cwd=workdir)
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                break
            except OSError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError(f"azurite did not start: {self.log.read_text(errors='replace')}")
                time.sleep(0.1)

    def connection_string(self, endpoint: str | None = None, key: str = KEY) -> str:
        return (f"DefaultEndpointsProtocol=http;AccountName={ACCOUNT};AccountKey={key};"
                f"BlobEndpoint={endpoint or self.endpoint};")

    def service(self):
        from azure.storage.blob import BlobServiceClient

        return BlobServiceClient.from_connection_string(self.connection_string())

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


@contextlib.contextmanager
def running(workdir: Path, container: str):
    """An Azurite with `container` created, stopped when the block ends (for module fixtures)."""
    server = Azurite(workdir)
    try:
        server.service().create_container(container)
        yield server
    finally:
        server.stop()
