"""The S3 store against a real S3 server (SeaweedFS on loopback), through
paramdelta-object-tool, the seam's command-line client: SigV4-signed round
trips, multipart uploads in concurrent parts committed last, ranged reads,
paged listings, and the one-line errors for wrong keys, missing buckets,
missing permissions and unreachable endpoints."""

from __future__ import annotations

import hashlib
import os
import random
import subprocess
from pathlib import Path

import pytest

import seaweedfs_server as sw

BUCKET = "models"
MIB = 1 << 20


@pytest.fixture(scope="session")
def object_tool(paramdelta_cli) -> str:
    tool = Path(paramdelta_cli).parent / "paramdelta-object-tool"
    if not tool.is_file():
        pytest.fail(f"build the paramdelta-object-tool target ({tool} is missing)")
    return str(tool)


@pytest.fixture(scope="session")
def seaweed(tmp_path_factory):
    server = sw.start(tmp_path_factory.mktemp("seaweedfs"), [BUCKET])
    yield server
    server.stop()


@pytest.fixture()
def s3(object_tool, seaweed, tmp_path):
    """Runs the tool; returns the CompletedProcess (bytes). No .env is read: the cwd is empty."""

    def run(*args, data: bytes = b"", credentials=sw.ADMIN, env=None, check=True):
        environment = seaweed.environment(credentials)
        environment.update(env or {})
        result = subprocess.run(
            [object_tool, *map(str, args)], input=data, capture_output=True, env=environment, cwd=tmp_path, timeout=120
        )
        if check and result.returncode != 0:
            raise AssertionError(f"object-tool {' '.join(map(str, args))}: {result.stderr.decode()}")
        return result

    return run


def error_line(result) -> str:
    assert result.returncode == 1, result
    text = result.stderr.decode()
    lines = text.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), text
    for _, secret in (sw.ADMIN, sw.READER):
        assert secret not in text
    return lines[0]


def url(key: str, bucket: str = BUCKET) -> str:
    return f"s3://{bucket}/{key}"


def payload(size: int, seed: int) -> bytes:
    return random.Random(seed).randbytes(size)


def test_put_stat_read_and_remove_a_small_object(s3):
    data = b'{"architectures": ["LlamaForCausalLM"]}\n'
    s3("put", url("small/config.json"), data=data)
    assert s3("stat", url("small/config.json")).stdout == b"%d\n" % len(data)
    assert s3("read", url("small/config.json"), 0, len(data)).stdout == data
    assert s3("read", url("small/config.json"), 3, 9).stdout == data[3:12]
    s3("rm", url("small/config.json"))
    assert s3("stat", url("small/config.json")).stdout == b"missing\n"
    s3("rm", url("small/config.json"))  # removing what is gone is no error


def test_keys_with_spaces_and_symbols_round_trip(s3):
    key = "odd names/a b+c=d&e(1)~.safetensors"
    s3("put", url(key), data=b"bytes")
    assert s3("read", url(key), 0, 5).stdout == b"bytes"
    assert s3("list", url("odd names/")).stdout.decode() == f"5 {key}\n"


def test_multipart_upload_in_concurrent_parts_then_ranged_reads(s3, seaweed):
    data = payload(3 * 5 * MIB + 12345, seed=1)  # three full parts and a short last one
    s3("upload", url("big/model.safetensors"), 5 * MIB, 4, data=data)
    assert s3("stat", url("big/model.safetensors")).stdout == b"%d\n" % len(data)
    whole = s3("read", url("big/model.safetensors"), 0, len(data)).stdout
    assert hashlib.sha256(whole).digest() == hashlib.sha256(data).digest()
    for offset, length in [(1, 7), (5 * MIB - 3, 10), (10 * MIB - 1, 2 * MIB + 5), (len(data) - 1, 1), (12345, 0)]:
        assert s3("read", url("big/model.safetensors"), offset, length).stdout == data[offset : offset + length]
    assert "big/model.safetensors" not in seaweed.pending_uploads(BUCKET)


def test_uploading_again_replaces_the_object(s3):
    s3("upload", url("replace/x"), 5 * MIB, 2, data=payload(6 * MIB, seed=2))
    second = payload(100, seed=3)
    s3("upload", url("replace/x"), 5 * MIB, 2, data=second)  # one short part: a plain PUT
    assert s3("read", url("replace/x"), 0, 100).stdout == second
    assert s3("stat", url("replace/x")).stdout == b"100\n"
    s3("upload", url("replace/empty"), 5 * MIB, 1, data=b"")
    assert s3("stat", url("replace/empty")).stdout == b"0\n"


def test_a_read_past_the_end_is_an_error(s3):
    s3("put", url("short/x"), data=b"0123456789")
    line = error_line(s3("read", url("short/x"), 8, 5, check=False))
    assert "s3://models/short/x" in line and "shorter" in line, line
    line = error_line(s3("read", url("short/x"), 20, 1, check=False))
    assert "s3://models/short/x" in line, line


def test_listing_reads_every_page(s3):
    keys = [f"paged/shard-{i:02d}.safetensors" for i in range(7)]
    for i, key in enumerate(keys):
        s3("put", url(key), data=b"x" * i)
    s3("put", url("unpaged/not-listed"), data=b"y")
    listed = s3("list", url("paged/"), env={"PARAMDELTA_S3_LIST_PAGE_SIZE": "2"}).stdout.decode().splitlines()
    assert listed == [f"{i} {key}" for i, key in enumerate(keys)]
    assert s3("list", url("paged/shard-03")).stdout.decode() == "3 paged/shard-03.safetensors\n"
    assert s3("list", url("paged/nothing-here")).stdout == b""


def test_pending_uploads_are_visible_to_the_check(seaweed):
    # The check the abort tests rely on sees an upload begun and not finished.
    status, body = sw.signed_request("POST", f"{seaweed.endpoint}/{BUCKET}/pending/probe?uploads=", sw.ADMIN)
    assert status == 200, body
    assert "pending/probe" in seaweed.pending_uploads(BUCKET)
    upload_id = body.split(b"<UploadId>")[1].split(b"</UploadId>")[0].decode()
    status, _ = sw.signed_request("DELETE", f"{seaweed.endpoint}/{BUCKET}/pending/probe?uploadId={upload_id}", sw.ADMIN)
    assert status == 204
    assert "pending/probe" not in seaweed.pending_uploads(BUCKET)


def test_upload_abort_leaves_no_object_and_no_pending_upload(s3, seaweed):
    s3("upload-abort", url("aborted/model.safetensors"), 5 * MIB, 3, data=payload(11 * MIB, seed=4))
    assert s3("stat", url("aborted/model.safetensors")).stdout == b"missing\n"
    assert "aborted/model.safetensors" not in seaweed.pending_uploads(BUCKET)


def test_a_small_part_that_is_not_the_last_is_refused_and_nothing_is_left(s3, seaweed):
    line = error_line(s3("upload", url("smallparts/x"), MIB, 2, data=payload(3 * MIB, seed=5), check=False))
    assert "5 MiB" in line and "s3://models/smallparts/x" in line, line
    assert s3("stat", url("smallparts/x")).stdout == b"missing\n"
    assert "smallparts/x" not in seaweed.pending_uploads(BUCKET)


def test_a_missing_object(s3):
    assert s3("stat", url("nothing/here")).stdout == b"missing\n"
    line = error_line(s3("read", url("nothing/here"), 0, 4, check=False))
    assert "s3://models/nothing/here" in line and "no such object" in line, line


def test_a_missing_bucket_is_named(s3):
    for args in (("stat", url("x", "no-such-bucket")), ("list", url("", "no-such-bucket")),
                 ("read", url("x", "no-such-bucket"), 0, 1)):
        line = error_line(s3(*args, check=False))
        assert "bucket 'no-such-bucket' does not exist" in line, line


def test_a_wrong_secret_is_a_clear_error(s3):
    s3("put", url("auth/x"), data=b"x")
    wrong = (sw.ADMIN[0], "definitely-not-the-secret")
    for args in (("list", url("auth/")), ("read", url("auth/x"), 0, 1), ("stat", url("auth/x")),
                 ("put", url("auth/y"))):
        result = s3(*args, credentials=wrong, check=False)
        line = error_line(result)
        assert "AWS_SECRET_ACCESS_KEY" in line and "signature" in line, line
        assert "definitely-not-the-secret" not in result.stderr.decode()


def test_an_unknown_access_key_is_a_clear_error(s3):
    line = error_line(s3("list", url("auth/"), credentials=("NOSUCHKEYID", "whatever-secret"), check=False))
    assert "AWS_ACCESS_KEY_ID" in line and "access key" in line, line


def test_a_read_only_identity_reads_but_may_not_write(s3, seaweed):
    s3("put", url("readonly/x"), data=b"readable")
    assert s3("read", url("readonly/x"), 0, 8, credentials=sw.READER).stdout == b"readable"
    assert s3("list", url("readonly/"), credentials=sw.READER).stdout == b"8 readonly/x\n"
    for args, data in ((("put", url("readonly/y")), b"y"), (("upload", url("readonly/z"), 5 * MIB, 2), payload(6 * MIB, 6)),
                       (("rm", url("readonly/x")), b"")):
        line = error_line(s3(*args, data=data, credentials=sw.READER, check=False))
        assert "access denied" in line and "bucket 'models'" in line, line
    assert s3("read", url("readonly/x"), 0, 8).stdout == b"readable"
    assert s3("stat", url("readonly/y")).stdout == b"missing\n"
    assert "readonly/z" not in seaweed.pending_uploads(BUCKET)


def test_an_unreachable_endpoint_names_host_and_port(s3):
    port = sw.free_ports(1)[0]
    result = s3("stat", url("x"), env={"AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}"}, check=False)
    line = error_line(result)
    assert f"127.0.0.1:{port}" in line and "AWS_ENDPOINT_URL" in line, line
