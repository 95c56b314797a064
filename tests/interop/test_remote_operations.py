"""The product commands on object stores: compute, apply, inspect and cp with
models and deltas in Azure Blob Storage (a real Azurite on 127.0.0.1) and S3
(a real SeaweedFS on 127.0.0.1), read
by ranged requests and written by block uploads while the engine works,
compared bit for bit with the same commands on local paths, and checked with
the Azure SDK as a second client. A fault-injecting proxy shows that a run
that fails leaves nothing behind."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import numpy as np
import pytest
from safetensors.numpy import save_file

import seaweedfs_server as sw
import azurite_server
from azurite_server import ACCOUNT, KEY
from fault_proxy import Fault, FaultProxy

REPO = Path(__file__).resolve().parents[2]
TINY = REPO / "models" / "tiny"
CONTAINER = "models"


@pytest.fixture(scope="module")
def azurite(tmp_path_factory):
    with azurite_server.running(tmp_path_factory.mktemp("azurite"), CONTAINER) as server:
        yield server


@pytest.fixture
def container(azurite):
    return azurite.service().get_container_client(CONTAINER)


@pytest.fixture
def pd(paramdelta_cli, azurite, tmp_path):
    """Runs paramdelta in an empty directory with only the emulator's settings (or `settings`)."""

    def run(*args, settings: dict | None = None, check=True):
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AZURE_", "AWS_"))}
        env["TMPDIR"] = str(tmp_path / "tmp")
        (tmp_path / "tmp").mkdir(exist_ok=True)
        env.update(settings if settings is not None else {"AZURE_STORAGE_CONNECTION_STRING": azurite.connection_string()})
        result = subprocess.run([paramdelta_cli, *map(str, args)], capture_output=True, text=True, env=env,
                                cwd=tmp_path, timeout=300)
        if check and result.returncode != 0:
            raise AssertionError(f"paramdelta {' '.join(map(str, args))} exited {result.returncode}: {result.stderr}")
        return result

    return run


def download(container, prefix: str) -> dict[str, bytes]:
    return {b.name[len(prefix) + 1:]: container.download_blob(b.name).readall()
            for b in container.list_blobs(name_starts_with=prefix + "/")}


def local_files(directory: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in directory.iterdir() if p.is_file()}


def one_line_error(result) -> str:
    assert result.returncode == 1, result
    assert result.stderr.startswith("paramdelta: error: ") and result.stderr.count("\n") == 1, result.stderr
    assert KEY not in result.stderr and "paramdelta-remote-" not in result.stderr, result.stderr
    return result.stderr.strip()


def test_compute_and_apply_between_azure_locations_equal_the_local_commands(pd, container, tmp_path):
    for name in ("base-v1", "chat-v1", "base-v2"):
        pd("cp", TINY / name, f"az://{CONTAINER}/fam/{name}")
    pd("compute", "--base", f"az://{CONTAINER}/fam/base-v1", "--post", f"az://{CONTAINER}/fam/chat-v1",
       "-o", f"az://{CONTAINER}/fam/delta")
    pd("apply", "--base", f"az://{CONTAINER}/fam/base-v2", "--delta", f"az://{CONTAINER}/fam/delta",
       "-o", f"az://{CONTAINER}/fam/chat-v2")
    pd("compute", "--base", TINY / "base-v1", "--post", TINY / "chat-v1", "-o", tmp_path / "delta")
    pd("apply", "--base", TINY / "base-v2", "--delta", tmp_path / "delta", "-o", tmp_path / "chat-v2")
    assert download(container, "fam/chat-v2") == local_files(tmp_path / "chat-v2")
    remote_delta = download(container, "fam/delta")
    local_delta = local_files(tmp_path / "delta")
    assert remote_delta.keys() == local_delta.keys()
    for name in local_delta:
        if name != "paramdelta.json":  # which records the inputs' locations and the time
            assert remote_delta[name] == local_delta[name], name
    manifest = remote_delta["paramdelta.json"].decode()
    assert f'"source": "az://{CONTAINER}/fam/base-v1"' in manifest
    assert KEY not in manifest and "paramdelta-remote-" not in manifest
    # The remote result is what the delta promises, checked by verify against remote inputs.
    pd("verify", "--base", f"az://{CONTAINER}/fam/base-v1", "--delta", f"az://{CONTAINER}/fam/delta",
       "--expect", f"az://{CONTAINER}/fam/chat-v1")
    assert not any((tmp_path / "tmp").iterdir()), "temporary copies were left behind"


def big_pair(directory: Path) -> tuple[Path, Path]:
    """Base and post of 6 x 4 MiB BF16-sized tensors (as uint16 bits of F16), several parts and shards."""
    rng = np.random.default_rng(3)
    base, post = directory / "base", directory / "post"
    for d in (base, post):
        d.mkdir()
        (d / "config.json").write_text('{"model_type": "llama", "architectures": ["LlamaForCausalLM"]}')
    tb, tp = {}, {}
    for i in range(6):
        b = rng.standard_normal((1024, 2048)).astype(np.float16)
        tb[f"model.layers.{i}.mlp.weight"] = b
        tp[f"model.layers.{i}.mlp.weight"] = (b + rng.standard_normal(b.shape).astype(np.float16) * 0.01).astype(np.float16)
    save_file(tb, str(base / "model.safetensors"))
    save_file(tp, str(post / "model.safetensors"))
    return base, post


def test_multi_part_multi_shard_outputs_round_trip(pd, container, tmp_path):
    base, post = big_pair(tmp_path)
    pd("cp", base, f"az://{CONTAINER}/big/base")
    pd("cp", post, f"az://{CONTAINER}/big/post")
    pd("compute", "--base", f"az://{CONTAINER}/big/base", "--post", f"az://{CONTAINER}/big/post",
       "-o", f"az://{CONTAINER}/big/delta", "--max-shard-size", "10MB")
    pd("compute", "--base", base, "--post", post, "-o", tmp_path / "delta", "--max-shard-size", "10MB")
    remote = download(container, "big/delta")
    local = local_files(tmp_path / "delta")
    assert "delta.safetensors.index.json" in local and len([n for n in local if n.endswith(".safetensors")]) >= 3
    assert {k: v for k, v in remote.items() if k != "paramdelta.json"} == \
        {k: v for k, v in local.items() if k != "paramdelta.json"}
    # And back again: cp to a local directory gives the same bytes.
    pd("cp", f"az://{CONTAINER}/big/delta", tmp_path / "copy")
    assert local_files(tmp_path / "copy") == remote


def test_inspect_reads_headers_only(pd, azurite, tmp_path):
    base, _ = big_pair(tmp_path)
    pd("cp", base, f"az://{CONTAINER}/hdr/base")
    with FaultProxy("127.0.0.1", azurite.port) as proxy:
        settings = {"AZURE_STORAGE_CONNECTION_STRING": azurite.connection_string(f"http://127.0.0.1:{proxy.port}/{ACCOUNT}")}
        out = pd("inspect", f"az://{CONTAINER}/hdr/base", "--json", settings=settings).stdout
        assert '"tensors"' in out
        weight_reads = [s for s in proxy.seen if s.method == "GET" and "model.safetensors" in s.target]
        assert weight_reads, proxy.seen
        for s in weight_reads:
            first, last = map(int, s.range.split("=")[1].split("-"))
            assert last - first < 64 << 10, s  # the header, never the 24 MiB of weights


def test_a_run_that_fails_leaves_nothing_and_an_existing_output_needs_force(pd, azurite, container, tmp_path):
    pd("cp", TINY / "base-v1", f"az://{CONTAINER}/f/base")
    pd("cp", TINY / "chat-v1", f"az://{CONTAINER}/f/chat")
    with FaultProxy("127.0.0.1", azurite.port) as proxy:
        settings = {"AZURE_STORAGE_CONNECTION_STRING": azurite.connection_string(f"http://127.0.0.1:{proxy.port}/{ACCOUNT}")}
        proxy.add(Fault("status", method="PUT", path="comp=block&", count=1000, status=503, retry_after="0"))
        line = one_line_error(pd("compute", "--base", f"az://{CONTAINER}/f/base", "--post", f"az://{CONTAINER}/f/chat",
                                 "-o", f"az://{CONTAINER}/f/delta", settings=settings, check=False))
        assert "503" in line, line
    assert [b.name for b in container.list_blobs(name_starts_with="f/delta")] == []
    pd("compute", "--base", f"az://{CONTAINER}/f/base", "--post", f"az://{CONTAINER}/f/chat", "-o", f"az://{CONTAINER}/f/delta")
    line = one_line_error(pd("compute", "--base", f"az://{CONTAINER}/f/base", "--post", f"az://{CONTAINER}/f/chat",
                             "-o", f"az://{CONTAINER}/f/delta", check=False))
    assert f"az://{CONTAINER}/f/delta: output already exists" in line and "--force" in line, line
    # A stale shard from an earlier, differently sharded output goes with --force.
    container.upload_blob("f/delta/delta-00002-of-00002.safetensors", b"old")
    pd("compute", "--base", f"az://{CONTAINER}/f/base", "--post", f"az://{CONTAINER}/f/chat",
       "-o", f"az://{CONTAINER}/f/delta", "--force")
    names = sorted(b.name for b in container.list_blobs(name_starts_with="f/delta/"))
    assert "f/delta/delta-00002-of-00002.safetensors" not in names and "f/delta/delta.safetensors" in names
    # What paramdelta does not write is never replaced.
    container.upload_blob("f/notes/README.md", b"mine")
    line = one_line_error(pd("cp", TINY / "base-v1", f"az://{CONTAINER}/f/notes", "--force", check=False))
    assert "README.md" in line, line


def test_missing_inputs_are_named(pd):
    line = one_line_error(pd("inspect", f"az://{CONTAINER}/no/such/model", check=False))
    assert f"az://{CONTAINER}/no/such/model" in line and "no objects under this prefix" in line, line
    line = one_line_error(pd("inspect", "az://nocontainer/x", check=False))
    assert "nocontainer" in line, line


def test_a_model_the_sdk_uploaded_is_read(pd, container, tmp_path):
    for name in ("base-v1", "chat-v1"):
        for f in (TINY / name).iterdir():
            container.upload_blob(f"sdk/{name}/{f.name}", f.read_bytes(), overwrite=True)
    pd("compute", "--base", f"az://{CONTAINER}/sdk/base-v1", "--post", f"az://{CONTAINER}/sdk/chat-v1",
       "-o", tmp_path / "remote-inputs")
    pd("compute", "--base", TINY / "base-v1", "--post", TINY / "chat-v1", "-o", tmp_path / "local-inputs")
    assert (tmp_path / "remote-inputs/delta.safetensors").read_bytes() == \
        (tmp_path / "local-inputs/delta.safetensors").read_bytes()


def test_eval_reads_models_from_object_storage(pd, tmp_path):
    pd("cp", TINY / "chat-v1", f"az://{CONTAINER}/ev/chat-v1")
    remote = pd("eval", "--model", f"az://{CONTAINER}/ev/chat-v1", "--metric", "perplexity",
                "--data", TINY / "eval" / "ppl_old.txt", "--limit", "256", "--json").stdout
    local = pd("eval", "--model", TINY / "chat-v1", "--metric", "perplexity",
               "--data", TINY / "eval" / "ppl_old.txt", "--limit", "256", "--json").stdout
    import json
    r, l = json.loads(remote), json.loads(local)
    assert r["models"][0]["perplexity"] == l["models"][0]["perplexity"]
    assert r["models"][0]["tokens_scored"] == l["models"][0]["tokens_scored"] > 0
    assert r["models"][0]["model"] == f"az://{CONTAINER}/ev/chat-v1"


# S3, and both stores in one command ------------------------------------------

BUCKET = "ops"


@pytest.fixture(scope="module")
def seaweed(tmp_path_factory):
    server = sw.start(tmp_path_factory.mktemp("seaweedfs"), [BUCKET])
    yield server
    server.stop()


def s3_settings(seaweed, endpoint: str | None = None) -> dict:
    env = seaweed.environment()
    settings = {k: env[k] for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_REGION", "AWS_ENDPOINT_URL")}
    if endpoint:
        settings["AWS_ENDPOINT_URL"] = endpoint
    return settings


def test_apply_from_azure_and_s3_to_azure_equals_the_local_command(pd, azurite, seaweed, container, tmp_path):
    both = {"AZURE_STORAGE_CONNECTION_STRING": azurite.connection_string(), **s3_settings(seaweed)}
    pd("cp", TINY / "base-v1", f"s3://{BUCKET}/fam/base-v1", settings=both)
    pd("cp", TINY / "chat-v1", f"s3://{BUCKET}/fam/chat-v1", settings=both)
    pd("cp", TINY / "base-v2", f"az://{CONTAINER}/x/base-v2", settings=both)
    pd("compute", "--base", f"s3://{BUCKET}/fam/base-v1", "--post", f"s3://{BUCKET}/fam/chat-v1",
       "-o", f"s3://{BUCKET}/fam/delta", settings=both)
    pd("apply", "--base", f"az://{CONTAINER}/x/base-v2", "--delta", f"s3://{BUCKET}/fam/delta",
       "-o", f"az://{CONTAINER}/x/chat-v2", settings=both)
    pd("compute", "--base", TINY / "base-v1", "--post", TINY / "chat-v1", "-o", tmp_path / "delta", settings=both)
    pd("apply", "--base", TINY / "base-v2", "--delta", tmp_path / "delta", "-o", tmp_path / "chat-v2", settings=both)
    assert download(container, "x/chat-v2") == local_files(tmp_path / "chat-v2")
    pd("cp", f"s3://{BUCKET}/fam/delta", tmp_path / "delta-back", settings=both)
    back, local = local_files(tmp_path / "delta-back"), local_files(tmp_path / "delta")
    assert {k: v for k, v in back.items() if k != "paramdelta.json"} == \
        {k: v for k, v in local.items() if k != "paramdelta.json"}
    assert seaweed.pending_uploads(BUCKET) == []


def test_s3_multi_part_output_and_a_failed_run_leaves_nothing(pd, seaweed, tmp_path):
    settings = s3_settings(seaweed)
    base, post = big_pair(tmp_path)
    pd("cp", base, f"s3://{BUCKET}/big/base", settings=settings)
    pd("cp", post, f"s3://{BUCKET}/big/post", settings=settings)
    host, port = seaweed.endpoint.removeprefix("http://").split(":")
    with FaultProxy(host, int(port)) as proxy:
        proxy.add(Fault("status", method="PUT", path="partNumber=3", count=1000, status=500, retry_after="0"))
        line = one_line_error(pd("compute", "--base", f"s3://{BUCKET}/big/base", "--post", f"s3://{BUCKET}/big/post",
                                 "-o", f"s3://{BUCKET}/big/delta",
                                 settings=s3_settings(seaweed, f"http://127.0.0.1:{proxy.port}"), check=False))
        assert "500" in line and settings["AWS_SECRET_ACCESS_KEY"] not in line, line
    listed = pd("cp", f"s3://{BUCKET}/big/delta", tmp_path / "nothing", settings=settings, check=False)
    assert "no objects under this prefix" in one_line_error(listed)
    assert seaweed.pending_uploads(BUCKET) == []
    pd("compute", "--base", f"s3://{BUCKET}/big/base", "--post", f"s3://{BUCKET}/big/post",
       "-o", f"s3://{BUCKET}/big/delta", settings=settings)
    pd("compute", "--base", base, "--post", post, "-o", tmp_path / "delta", settings=settings)
    pd("cp", f"s3://{BUCKET}/big/delta", tmp_path / "delta-back", settings=settings)
    assert (tmp_path / "delta-back/delta.safetensors").read_bytes() == (tmp_path / "delta/delta.safetensors").read_bytes()
