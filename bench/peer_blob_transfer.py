#!/usr/bin/env python3
"""The remote benchmark's peer: the Azure SDK for Python (azure-storage-blob)
merely moving the bytes of an operation, nothing computed: it downloads every
blob under the input prefixes into a sink that keeps nothing, then uploads
blobs of the given sizes (the sizes paramdelta's output had), each with
`max_concurrency` connections. What paramdelta does remotely cannot take less
time than this transfer, unless it overlaps downloading with uploading.

The connection string comes from AZURE_STORAGE_CONNECTION_STRING.

    peer_blob_transfer.py --container bench --download 1.1b/base --download 1.1b/post \\
        --upload out/peer/model.safetensors:2200000000 --max-concurrency 8
"""

from __future__ import annotations

import argparse
import io
import os
import sys

from azure.storage.blob import BlobServiceClient

PATTERN_BYTES = 64 << 20


class NullSink(io.RawIOBase):
    """A seekable, writable stream that keeps nothing (the SDK's parallel
    download wants to seek)."""

    def __init__(self) -> None:
        self.pos = 0
        self.total = 0

    def writable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        self.pos = offset if whence == io.SEEK_SET else self.pos + offset
        return self.pos

    def tell(self) -> int:
        return self.pos

    def write(self, b) -> int:
        n = len(b)
        self.pos += n
        self.total += n
        return n


class PatternSource(io.RawIOBase):
    """`size` bytes of a repeated pseudo-random pattern, seekable, without
    holding more than the pattern in memory."""

    def __init__(self, size: int, pattern: bytes) -> None:
        self.size = size
        self.pattern = pattern
        self.pos = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self.pos, io.SEEK_END: self.size}[whence]
        self.pos = max(0, min(self.size, base + offset))
        return self.pos

    def tell(self) -> int:
        return self.pos

    def read(self, n: int = -1) -> bytes:
        left = self.size - self.pos
        n = left if n is None or n < 0 else min(n, left)
        out = bytearray()
        while len(out) < n:
            start = self.pos % len(self.pattern)
            take = min(n - len(out), len(self.pattern) - start)
            out += self.pattern[start:start + take]
            self.pos += take
        return bytes(out)

    def readinto(self, b) -> int:
        data = self.read(len(b))
        b[:len(data)] = data
        return len(data)


def parse_upload(text: str) -> tuple[str, int]:
    key, sep, size = text.rpartition(":")
    if not sep or not key or not size.isdigit():
        raise argparse.ArgumentTypeError(f"expected KEY:BYTES, got {text}")
    return key, int(size)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--container", required=True)
    parser.add_argument("--download", action="append", default=[], help="a prefix whose blobs are downloaded")
    parser.add_argument("--upload", action="append", default=[], type=parse_upload, help="KEY:BYTES to upload")
    parser.add_argument("--max-concurrency", type=int, default=8)
    args = parser.parse_args(argv)

    conn = os.environ.get("AZURE_STORAGE_CONNECTION_STRING")
    if not conn:
        print("peer_blob_transfer: AZURE_STORAGE_CONNECTION_STRING is not set", file=sys.stderr)
        return 2
    container = BlobServiceClient.from_connection_string(conn).get_container_client(args.container)
    downloaded = 0
    for prefix in args.download:
        for blob in container.list_blobs(name_starts_with=prefix.rstrip("/") + "/"):
            sink = NullSink()
            container.download_blob(blob.name, max_concurrency=args.max_concurrency).readinto(sink)
            if sink.total != blob.size:
                print(f"peer_blob_transfer: {blob.name}: got {sink.total} bytes of {blob.size}", file=sys.stderr)
                return 1
            downloaded += sink.total
    pattern = os.urandom(PATTERN_BYTES) if args.upload else b""
    uploaded = 0
    for key, size in args.upload:
        container.upload_blob(key, PatternSource(size, pattern), length=size, overwrite=True,
                              max_concurrency=args.max_concurrency)
        uploaded += size
    print(f"downloaded {downloaded} uploaded {uploaded}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
