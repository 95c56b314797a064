"""Azure Blob Storage through the storage seam, against a real Azurite on
127.0.0.1 (tests/interop/azurite_server.py), with the Azure SDK for Python
(azure-storage-blob) as the second client and a fault-injecting proxy
(tests/interop/fault_proxy.py) between us and the server. The store is driven
through paramdelta-object-tool, the test client of the seam."""

from __future__ import annotations

import datetime
import os
import random
import subprocess
import time
from pathlib import Path

import pytest
from azure.storage.blob import BlobSasPermissions, ContainerSasPermissions, generate_container_sas

import azurite_server
from azurite_server import ACCOUNT, KEY, free_port
from fault_proxy import Fault, FaultProxy

CONTAINER = "models"


@pytest.fixture(scope="module")
def azurite(tmp_path_factory):
    with azurite_server.running(tmp_path_factory.mktemp("azurite"), CONTAINER) as server:
        yield server


@pytest.fixture(scope="session")
def tool() -> Path:
    cli = os.environ.get("PARAMDELTA_CLI")
    if not cli:
        pytest.fail("set PARAMDELTA_CLI to the built paramdelta program")
    path = Path(cli).parent / "paramdelta-object-tool"
    if not path.is_file():
        pytest.fail(f"build paramdelta-object-tool next to {cli}")
    return path


@pytest.fixture
def run(tool, azurite, tmp_path):
    """Runs the tool in an empty directory (no .env) with only the given Azure settings."""

    def run(*args, stdin: bytes = b"", settings: dict | None = None, check=True):
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AZURE_", "PARAMDELTA_AZURE"))}
        env.update(settings if settings is not None else {"AZURE_STORAGE_CONNECTION_STRING": azurite.connection_string()})
        result = subprocess.run([str(tool), *map(str, args)], input=stdin, capture_output=True, env=env,
                                cwd=tmp_path, timeout=120)
        if check and result.returncode != 0:
            raise AssertionError(f"object-tool {args} exited {result.returncode}: {result.stderr.decode()}")
        return result

    return run


@pytest.fixture
def sdk(azurite):
    return azurite.service().get_container_client(CONTAINER)


def blob_name() -> str:
    return f"t/{random.randrange(1 << 40):x}.bin"


def payload(size: int, seed: int = 1) -> bytes:
    return random.Random(seed).randbytes(size)


def one_line_error(result, *secrets: str) -> str:
    assert result.returncode == 1, result
    text = result.stderr.decode()
    assert text.startswith("error: ") and text.count("\n") == 1, text
    for secret in (KEY, "sig=", *secrets):
        assert secret not in text, text
    return text.strip()


def sas_settings(azurite, permission, expiry) -> dict:
    token = generate_container_sas(ACCOUNT, CONTAINER, account_key=KEY, permission=permission, expiry=expiry)
    return {"AZURE_STORAGE_CONNECTION_STRING": f"BlobEndpoint={azurite.endpoint};SharedAccessSignature={token}"}, token


def in_one_hour():
    return datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(hours=1)


# Round trips ------------------------------------------------------------------


def test_put_stat_read_list_rm(run, sdk):
    name = blob_name()
    data = payload(100_003)
    run("put", f"az://{CONTAINER}/{name}", stdin=data)
    assert sdk.download_blob(name).readall() == data
    assert run("stat", f"az://{CONTAINER}/{name}").stdout == b"100003\n"
    assert run("read", f"az://{CONTAINER}/{name}", 0, len(data)).stdout == data
    assert f"100003 {name}".encode() in run("list", f"az://{CONTAINER}/t/").stdout
    sdk.get_blob_client(name).create_snapshot()
    run("rm", f"az://{CONTAINER}/{name}")
    assert run("stat", f"az://{CONTAINER}/{name}").stdout == b"missing\n"
    run("rm", f"az://{CONTAINER}/{name}")  # deleting what is gone is not an error


def test_a_multi_block_upload_is_what_the_sdk_downloads(run, sdk):
    name = blob_name()
    data = payload(13 * 65_536 + 1234, seed=2)
    run("upload", f"az://{CONTAINER}/{name}", 65_536, 8, stdin=data)
    assert sdk.download_blob(name).readall() == data
    committed, uncommitted = sdk.get_blob_client(name).get_block_list("all")
    assert len(committed) == 14 and not uncommitted
    assert len({len(b.id) for b in committed}) == 1


def test_ranged_reads_at_odd_offsets_of_what_the_sdk_uploaded(run, sdk):
    name = blob_name()
    data = payload(1_000_001, seed=3)
    sdk.upload_blob(name, data, max_concurrency=4)
    url = f"az://{CONTAINER}/{name}"
    assert run("stat", url).stdout == b"1000001\n"
    for offset, length in [(0, 1), (1, 7), (12345, 99_991), (999_999, 2), (333_333, 666_668), (0, 1_000_001)]:
        assert run("read", url, offset, length).stdout == data[offset:offset + length], (offset, length)
    beyond = one_line_error(run("read", url, 999_990, 20, check=False))
    assert url in beyond and "1000001 bytes" in beyond


def test_the_account_url_forms_and_the_default_container(run, azurite, sdk):
    name = blob_name()
    sdk.upload_blob(name, b"hello")
    path_style = f"{azurite.endpoint}/{CONTAINER}/{name}"
    assert run("read", path_style, 0, 5).stdout == b"hello"
    # Account name and key as separate settings, the emulator's URL naming the account.
    separate = {"AZURE_STORAGE_ACCOUNT_NAME": ACCOUNT, "AZURE_STORAGE_ACCOUNT_KEY": KEY}
    assert run("stat", path_style, settings=separate).stdout == b"5\n"
    with_default = {"AZURE_STORAGE_CONNECTION_STRING": azurite.connection_string(),
                    "AZURE_STORAGE_CONTAINER_NAME": CONTAINER}
    assert run("read", f"az:///{name}", 1, 3, settings=with_default).stdout == b"ell"


def test_settings_come_from_a_dotenv_file(run, azurite, sdk, tmp_path):
    name = blob_name()
    sdk.upload_blob(name, b"dotenv")
    (tmp_path / ".env").write_text(f'AZURE_STORAGE_CONNECTION_STRING="{azurite.connection_string()}"\n')
    assert run("read", f"az://{CONTAINER}/{name}", 0, 6, settings={}).stdout == b"dotenv"


def test_listing_reads_every_page_in_key_order(run, azurite, sdk):
    base = f"list-{random.randrange(1 << 30):x}/"
    names = [f"{base}{i:02d}.bin" for i in range(11)]
    for i, n in enumerate(reversed(names)):
        sdk.upload_blob(n, b"x" * i)
    sdk.upload_blob("other-" + base + "00.bin", b"no")  # not under the prefix
    with FaultProxy("127.0.0.1", azurite.port) as proxy:
        settings = {"AZURE_STORAGE_CONNECTION_STRING": azurite.connection_string(f"http://127.0.0.1:{proxy.port}/{ACCOUNT}"),
                    "PARAMDELTA_AZURE_LIST_PAGE_SIZE": "3"}
        out = run("list", f"az://{CONTAINER}/{base}", settings=settings).stdout.decode().splitlines()
        pages = [s for s in proxy.seen if "comp=list" in s.target]
    assert [line.split(" ", 1)[1] for line in out] == names
    assert [int(line.split(" ", 1)[0]) for line in out] == list(range(10, -1, -1))
    assert len(pages) == 4 and all("maxresults=3" in p.target for p in pages)
    assert sum("marker=" in p.target for p in pages) == 3


def test_an_aborted_upload_leaves_no_blob_and_keeps_an_old_one(run, sdk):
    name = blob_name()
    run("upload-abort", f"az://{CONTAINER}/{name}", 1000, stdin=payload(5000))
    assert not sdk.get_blob_client(name).exists()
    sdk.upload_blob(name, b"old content", overwrite=True)
    run("upload-abort", f"az://{CONTAINER}/{name}", 1000, stdin=payload(5000))
    assert sdk.download_blob(name).readall() == b"old content"


def test_an_empty_upload_is_an_empty_blob(run, sdk):
    name = blob_name()
    run("upload", f"az://{CONTAINER}/{name}", 1000, stdin=b"")
    assert sdk.download_blob(name).readall() == b""
    name2 = blob_name()
    run("put", f"az://{CONTAINER}/{name2}", stdin=b"")
    assert run("stat", f"az://{CONTAINER}/{name2}").stdout == b"0\n"


# Errors -----------------------------------------------------------------------


def test_a_wrong_key_is_one_line_naming_the_setting(run, azurite):
    wrong = "d3Jvbmcgd3Jvbmcgd3Jvbmcgd3Jvbmcgd3Jvbmcgd3Jvbmc="
    settings = {"AZURE_STORAGE_CONNECTION_STRING": azurite.connection_string(key=wrong)}
    for args in (("stat", f"az://{CONTAINER}/x"), ("list", f"az://{CONTAINER}/")):
        line = one_line_error(run(*args, settings=settings, check=False), wrong)
        assert "refused the request's signature" in line and "AZURE_STORAGE_ACCOUNT_KEY" in line, line
    line = one_line_error(run("put", f"az://{CONTAINER}/x", stdin=b"1", settings=settings, check=False), wrong)
    assert f"az://{CONTAINER}/x:" in line


def test_a_read_only_sas_reads_but_cannot_write(run, azurite, sdk):
    name = blob_name()
    sdk.upload_blob(name, b"readable")
    settings, token = sas_settings(azurite, ContainerSasPermissions(read=True, list=True), in_one_hour())
    signature = [p for p in token.split("&") if p.startswith("sig=")][0][4:]
    assert run("read", f"az://{CONTAINER}/{name}", 0, 8, settings=settings).stdout == b"readable"
    line = one_line_error(run("put", f"az://{CONTAINER}/{blob_name()}", stdin=b"1", settings=settings, check=False),
                          signature)
    assert "SAS token" in line and "w (write)" in line, line
    line = one_line_error(run("upload", f"az://{CONTAINER}/{blob_name()}", 3, stdin=b"1234567", settings=settings,
                              check=False), signature)
    assert "SAS token" in line, line


def test_an_expired_sas_says_so(run, azurite, sdk):
    name = blob_name()
    sdk.upload_blob(name, b"x")
    past = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(hours=1)
    settings, token = sas_settings(azurite, BlobSasPermissions(read=True), past)
    line = one_line_error(run("read", f"az://{CONTAINER}/{name}", 0, 1, settings=settings, check=False))
    assert "expired" in line and "AZURE_STORAGE_SAS_TOKEN" in line, line


def test_a_missing_container_or_blob_is_named(run):
    line = one_line_error(run("read", "az://no-such-container/a/b", 0, 1, check=False))
    assert line.startswith("error: az://no-such-container/a/b: container 'no-such-container' does not exist"), line
    line = one_line_error(run("stat", "az://no-such-container/a", check=False))
    assert "container 'no-such-container' does not exist" in line, line
    line = one_line_error(run("read", f"az://{CONTAINER}/no/such/blob", 0, 1, check=False))
    assert f"az://{CONTAINER}/no/such/blob: no such blob" in line, line


def test_an_unreachable_endpoint_names_host_and_port(run):
    port = free_port()
    settings = {"AZURE_STORAGE_CONNECTION_STRING": f"DefaultEndpointsProtocol=http;AccountName={ACCOUNT};"
                f"AccountKey={KEY};BlobEndpoint=http://127.0.0.1:{port}/{ACCOUNT}"}
    line = one_line_error(run("stat", f"az://{CONTAINER}/x", settings=settings, check=False))
    assert f"127.0.0.1:{port}" in line and "attempts" in line, line


def test_no_account_configured_is_a_usage_error(run):
    line = one_line_error(run("stat", f"az://{CONTAINER}/x", settings={}, check=False))
    assert "AZURE_STORAGE_CONNECTION_STRING" in line


# Faults between us and the server ---------------------------------------------


@pytest.fixture
def proxy(azurite):
    with FaultProxy("127.0.0.1", azurite.port) as p:
        p.settings = {"AZURE_STORAGE_CONNECTION_STRING": azurite.connection_string(f"http://127.0.0.1:{p.port}/{ACCOUNT}")}
        yield p


def test_reads_survive_dropped_and_truncated_bodies_and_resume(run, sdk, proxy):
    name = blob_name()
    data = payload(400_000, seed=4)
    sdk.upload_blob(name, data)
    proxy.add(Fault("drop_body", method="GET", path=name, count=2))
    assert run("read", f"az://{CONTAINER}/{name}", 17, 399_000, settings=proxy.settings).stdout == data[17:399_017]
    proxy.clear()
    proxy.add(Fault("truncate", method="GET", path=name, count=1, keep=1000))
    proxy.add(Fault("drop", method="GET", path=name, count=1))
    assert run("read", f"az://{CONTAINER}/{name}", 5, 300_000, settings=proxy.settings).stdout == data[5:300_005]
    gets = [s for s in proxy.seen if s.method == "GET"]
    assert [s.action for s in gets] == ["truncate", "drop", "forward"]
    # The retries resumed after the 1000 bytes that arrived, never re-reading them.
    assert [s.range for s in gets] == ["bytes=5-300004", "bytes=1005-300004", "bytes=1005-300004"]


def test_a_corrupted_body_is_caught_by_the_range_md5(run, sdk, proxy):
    name = blob_name()
    data = payload(200_000, seed=7)
    sdk.upload_blob(name, data)
    proxy.add(Fault("corrupt", method="GET", path=name, count=1))
    assert run("read", f"az://{CONTAINER}/{name}", 3, 150_000, settings=proxy.settings).stdout == data[3:150_003]
    assert [s.action for s in proxy.seen if s.method == "GET"] == ["corrupt", "forward"]
    proxy.add(Fault("corrupt", method="GET", path=name, count=2))
    line = one_line_error(run("read", f"az://{CONTAINER}/{name}", 3, 150_000, settings=proxy.settings, check=False))
    assert "differ from the MD5" in line, line


def test_retry_after_is_honoured(run, sdk, proxy):
    name = blob_name()
    sdk.upload_blob(name, b"slow")
    proxy.add(Fault("status", method="HEAD", path=name, count=1, status=503, retry_after="2"))
    started = time.monotonic()
    assert run("stat", f"az://{CONTAINER}/{name}", settings=proxy.settings).stdout == b"4\n"
    assert time.monotonic() - started >= 1.9
    assert [s.action for s in proxy.seen] == ["status", "forward"]


def test_uploads_survive_dropped_connections_and_throttling(run, sdk, proxy):
    name = blob_name()
    data = payload(12 * 10_000 + 7, seed=5)
    proxy.add(Fault("drop", method="PUT", path="comp=block&", count=3))
    proxy.add(Fault("status", method="PUT", path="comp=blocklist", count=2, status=429, retry_after="0"))
    proxy.add(Fault("status", method="PUT", path="comp=block&", count=2, status=500, retry_after=None))
    run("upload", f"az://{CONTAINER}/{name}", 10_000, 6, stdin=data, settings=proxy.settings)
    assert sdk.download_blob(name).readall() == data
    put = payload(3000, seed=6)
    proxy.add(Fault("drop", method="PUT", path=name, count=1))
    run("put", f"az://{CONTAINER}/{name}", stdin=put, settings=proxy.settings)
    assert sdk.download_blob(name).readall() == put


def test_throttling_that_outlasts_the_retries_fails_cleanly_with_nothing_committed(run, sdk, proxy):
    name = blob_name()
    proxy.add(Fault("status", method="PUT", path="comp=blocklist", count=100, status=503, retry_after="0"))
    line = one_line_error(run("upload", f"az://{CONTAINER}/{name}", 1000, 2, stdin=payload(5000),
                              settings=proxy.settings, check=False))
    assert "503 (ServerBusy) after 5 attempts" in line and f"az://{CONTAINER}/{name}" in line, line
    assert not sdk.get_blob_client(name).exists()
    proxy.add(Fault("status", method="GET", count=100, status=503, retry_after="0"))
    line = one_line_error(run("read", f"az://{CONTAINER}/{name}", 0, 1, settings=proxy.settings, check=False))
    assert "after 5 attempts" in line
