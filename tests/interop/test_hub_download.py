"""Hub ids downloaded through the real command line from a Hub written for
the tests (hub_server.py): the cache layout huggingface_hub shares, the
resolve protocol with its redirect to another host, resumed and retried
downloads, tokens, and one-line errors that leave nothing under a final name."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
from pathlib import Path

import pytest

import make_llama
from hub_server import SIGNED_QUERY, HubServer

TOKEN = "hf_secret_token_for_tests"
SMALL = dict(layers=2, hidden=32, intermediate=64, vocab=64, heads=2, kv_heads=1)


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    root = tmp_path_factory.mktemp("hub_models")
    make_llama.write_model(str(root / "base"), 1, **SMALL, max_shard_bytes=10000)
    make_llama.write_model(str(root / "post"), 1, **SMALL, noise=0.02, noise_seed=5, max_shard_bytes=10000)
    (root / "post" / "tokenizer_config.json").write_text(json.dumps({"chat_template": "{{ messages }}"}))
    (root / "post" / "tokenizer.json").write_text(json.dumps({"version": "1.0"}))
    (root / "post" / "README.md").write_text("not needed by paramdelta")
    return root


@pytest.fixture
def hub(models):
    server = HubServer()
    server.add_directory("org/base", models / "base")
    server.add_directory("org/post", models / "post")
    yield server
    server.close()


@pytest.fixture
def cache(tmp_path) -> Path:
    return tmp_path / "hf" / "hub"


@pytest.fixture
def run(paramdelta_cli, hub, cache, tmp_path):
    """Runs paramdelta with the test Hub as HF_ENDPOINT and a fresh cache."""

    def run(*args, env=None):
        environment = {k: v for k, v in os.environ.items()
                       if not k.startswith("HF_") and k.lower() not in ("http_proxy", "https_proxy", "all_proxy")}
        environment.update(HF_HOME=str(tmp_path / "hf"), HF_HUB_CACHE=str(cache), HF_ENDPOINT=hub.endpoint)
        environment.update(env or {})
        return subprocess.run([paramdelta_cli, *map(str, args)], capture_output=True, text=True, timeout=120,
                              env=environment)

    return run


def one_line_error(result) -> str:
    assert result.returncode == 1, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("paramdelta: error: "), result.stderr
    return lines[0]


def weights_of(directory: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(directory.glob("*.safetensors"))}


def final_names(cache: Path) -> list[str]:
    """Everything under the cache but the in-progress files and locks."""
    return sorted(str(p.relative_to(cache)) for p in cache.rglob("*")
                  if not p.name.endswith(".incomplete") and ".locks" not in p.parts and not p.is_dir())


def test_compute_from_hub_ids_equals_compute_on_local_copies(run, models, tmp_path):
    local = run("compute", "--base", models / "base", "--post", models / "post", "-o", tmp_path / "local")
    assert local.returncode == 0, local.stderr
    remote = run("compute", "--base", "hf://org/base", "--post", "hf://org/post", "-o", tmp_path / "remote")
    assert remote.returncode == 0, remote.stderr
    assert weights_of(tmp_path / "remote") == weights_of(tmp_path / "local")
    assert len(weights_of(tmp_path / "remote")) >= 1
    assert (tmp_path / "remote" / "tokenizer_config.json").read_bytes() == \
        (models / "post" / "tokenizer_config.json").read_bytes()


def test_the_manifest_records_the_commit_and_no_secret(run, hub, tmp_path):
    hub.repos["org/base"].token = TOKEN
    r = run("compute", "--base", "org/base", "--post", "hf://org/post@main", "-o", tmp_path / "d",
            env={"HF_TOKEN": TOKEN})
    assert r.returncode == 0, r.stderr
    manifest = (tmp_path / "d" / "paramdelta.json").read_text()
    assert f"hf://org/base@{hub.repos['org/base'].commit}" in manifest
    assert f"hf://org/post@{hub.repos['org/post'].commit}" in manifest
    assert TOKEN not in manifest and "Signature" not in manifest


def test_only_the_files_a_model_needs_are_downloaded(run, hub, cache, models, tmp_path):
    r = run("inspect", "hf://org/post")
    assert r.returncode == 0, r.stderr
    snapshot = cache / "models--org--post" / "snapshots" / hub.repos["org/post"].commit
    assert sorted(p.name for p in snapshot.iterdir()) == sorted(
        p.name for p in (models / "post").iterdir() if p.name != "README.md")
    assert "README.md" not in {r.file for r in hub.requests()}


def test_the_cache_has_the_layout_huggingface_hub_reads(run, hub, cache, models):
    from huggingface_hub import hf_hub_download, scan_cache_dir

    assert run("inspect", "hf://org/base").returncode == 0
    commit = hub.repos["org/base"].commit
    repo_dir = cache / "models--org--base"
    assert (repo_dir / "refs" / "main").read_text() == commit
    for f in (models / "base").iterdir():
        link = repo_dir / "snapshots" / commit / f.name
        assert link.is_symlink() and os.readlink(link).startswith("../../blobs/")
        cached = hf_hub_download("org/base", f.name, revision="main", cache_dir=str(cache), local_files_only=True)
        assert Path(cached).read_bytes() == f.read_bytes()
    info = scan_cache_dir(cache)
    assert not info.warnings
    (repo,) = [r for r in info.repos if r.repo_id == "org/base"]
    assert repo.repo_type == "model"
    assert {rev.commit_hash for rev in repo.revisions} == {commit}
    assert {f.file_name for rev in repo.revisions for f in rev.files} == {f.name for f in (models / "base").iterdir()}


def test_a_second_run_makes_no_request(run, hub, tmp_path):
    assert run("inspect", "hf://org/base").returncode == 0
    hub.clear_log()
    assert run("inspect", "hf://org/base").returncode == 0
    assert hub.requests() == []


def test_offline_reads_the_cache_and_makes_no_request(run, hub):
    assert run("inspect", "hf://org/base").returncode == 0
    hub.clear_log()
    r = run("inspect", "hf://org/base", env={"HF_HUB_OFFLINE": "1"})
    assert r.returncode == 0, r.stderr
    assert hub.requests() == []


def test_offline_without_the_files_is_one_line_and_makes_no_request(run, hub, cache):
    line = one_line_error(run("inspect", "hf://org/base", env={"HF_HUB_OFFLINE": "1"}))
    assert "HF_HUB_OFFLINE" in line and "hf://org/base" in line
    assert hub.requests() == []


def test_large_files_come_from_another_host_which_never_sees_the_token(run, hub, tmp_path):
    hub.repos["org/base"].token = TOKEN
    r = run("inspect", "hf://org/base", "--json", env={"HF_TOKEN": TOKEN})
    assert r.returncode == 0, r.stderr
    assert {x.authorization for x in hub.requests("hub")} == {f"Bearer {TOKEN}"}
    cdn = hub.requests("cdn")
    assert cdn and all(x.authorization is None for x in cdn)
    assert TOKEN not in r.stdout + r.stderr and "Signature" not in r.stdout + r.stderr


def test_the_token_file_is_used_when_HF_TOKEN_is_unset(run, hub, tmp_path):
    hub.repos["org/base"].token = TOKEN
    (tmp_path / "hf").mkdir(exist_ok=True)
    (tmp_path / "hf" / "token").write_text(TOKEN + "\n")
    r = run("inspect", "hf://org/base")
    assert r.returncode == 0, r.stderr


def test_a_private_repo_without_a_token_asks_for_HF_TOKEN(run, hub, cache):
    hub.repos["org/base"].token = TOKEN
    line = one_line_error(run("inspect", "hf://org/base"))
    assert "hf://org/base" in line and "HF_TOKEN" in line and "401" in line
    assert final_names(cache) == []


def test_a_wrong_token_is_refused_without_showing_it(run, hub):
    hub.repos["org/base"].token = TOKEN
    line = one_line_error(run("inspect", "hf://org/base", env={"HF_TOKEN": "hf_wrong_token"}))
    assert "refused the token" in line and "hf_wrong_token" not in line


def test_a_gated_repo_says_to_accept_its_conditions(run, hub):
    hub.repos["org/base"].token = TOKEN
    hub.repos["org/base"].gated = True
    line = one_line_error(run("inspect", "hf://org/base"))
    assert "gated" in line and "HF_TOKEN" in line


def test_a_missing_revision_is_named(run, hub, cache):
    line = one_line_error(run("inspect", "hf://org/base@v9"))
    assert "no revision 'v9'" in line and "404" in line
    assert final_names(cache) == []


def test_a_revision_that_would_leave_the_cache_is_refused_before_any_request(run, hub, tmp_path):
    target = tmp_path / "elsewhere"
    r = run("inspect", f"hf://org/base@{target}")
    assert r.returncode == 2 and "is not a revision name" in r.stderr, r.stderr
    assert hub.requests() == [] and not target.exists()


def test_a_missing_repo_is_named(run, hub):
    line = one_line_error(run("inspect", "hf://org/nothing"))
    assert "no repository 'org/nothing'" in line


def test_a_missing_local_path_that_looks_like_a_hub_id_says_both(run, hub):
    line = one_line_error(run("inspect", "org/nothing"))
    assert "no such local path" in line and "no repository 'org/nothing'" in line


def test_a_dropped_download_resumes_from_the_incomplete_file_with_a_range_request(run, hub, cache, models):
    shard = sorted(p.name for p in (models / "base").glob("*.safetensors"))[0]
    hub.drop_once.add(shard)
    r = run("inspect", "hf://org/base")
    assert r.returncode == 0, r.stderr
    bodies = [x for x in hub.requests("cdn") if x.file == shard and x.body_start == 0 and x.range is None]
    assert len(bodies) == 1 and 0 < bodies[0].body_bytes < (models / "base" / shard).stat().st_size
    resumed = [x for x in hub.requests("cdn") if x.file == shard and x.range == f"bytes={bodies[0].body_bytes}-"]
    assert len(resumed) == 1 and resumed[0].status == 206
    snapshot = cache / "models--org--base" / "snapshots" / hub.repos["org/base"].commit
    assert (snapshot / shard).read_bytes() == (models / "base" / shard).read_bytes()


def test_an_incomplete_file_left_by_an_earlier_run_is_resumed(run, hub, cache, models):
    import hashlib

    shard = sorted(p.name for p in (models / "base").glob("*.safetensors"))[0]
    data = (models / "base" / shard).read_bytes()
    blobs = cache / "models--org--base" / "blobs"
    blobs.mkdir(parents=True)
    (blobs / (hashlib.sha256(data).hexdigest() + ".incomplete")).write_bytes(data[:1000])
    r = run("inspect", "hf://org/base")
    assert r.returncode == 0, r.stderr
    asked = [x for x in hub.requests("cdn") if x.file == shard and x.body_start + x.body_bytes == len(data)]
    assert [x.range for x in asked] == ["bytes=1000-"]
    assert (blobs / hashlib.sha256(data).hexdigest()).read_bytes() == data


def test_a_server_that_ignores_range_gets_the_file_from_the_start(run, hub, cache, models):
    import hashlib

    hub.ignore_range = True
    shard = sorted(p.name for p in (models / "base").glob("*.safetensors"))[0]
    data = (models / "base" / shard).read_bytes()
    blobs = cache / "models--org--base" / "blobs"
    blobs.mkdir(parents=True)
    (blobs / (hashlib.sha256(data).hexdigest() + ".incomplete")).write_bytes(b"x" * 1000)
    r = run("inspect", "hf://org/base")
    assert r.returncode == 0, r.stderr
    assert (blobs / hashlib.sha256(data).hexdigest()).read_bytes() == data


def test_a_busy_server_is_asked_again_after_retry_after(run, hub):
    hub.busy_once["config.json"] = 1
    r = run("inspect", "hf://org/base")
    assert r.returncode == 0, r.stderr
    asked = [x for x in hub.requests("hub") if x.file == "config.json"]
    assert [x.status for x in asked][:2] == [503, 200]
    assert asked[1].at - asked[0].at >= 0.9


def test_retries_that_run_out_are_one_line_and_leave_nothing(run, hub, cache):
    hub.always_busy = True
    line = one_line_error(run("inspect", "hf://org/base"))
    assert "503" in line and "5 attempts" in line
    assert len(hub.requests("hub")) == 5
    assert final_names(cache) == []


def test_an_unreachable_endpoint_names_host_and_port(run, cache):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    line = one_line_error(run("inspect", "hf://org/base", env={"HF_ENDPOINT": f"http://127.0.0.1:{port}"}))
    assert f"127.0.0.1:{port}" in line and "cannot connect" in line
    assert final_names(cache) == []


def test_an_index_naming_a_missing_shard_fails_before_any_weight_is_downloaded(run, hub, models, cache):
    files = {p.name: p.read_bytes() for p in (models / "base").iterdir()}
    index = json.loads(files["model.safetensors.index.json"])
    tensor = next(iter(index["weight_map"]))
    index["weight_map"][tensor] = "model-00009-of-00009.safetensors"
    files["model.safetensors.index.json"] = json.dumps(index).encode()
    hub.add_repo("org/broken", files)
    line = one_line_error(run("inspect", "hf://org/broken"))
    assert "model.safetensors.index.json" in line and "model-00009-of-00009.safetensors" in line
    assert hub.requests("cdn") == []
    assert not any(x.file.endswith(".safetensors") for x in hub.requests("hub"))
    assert not (cache / "models--org--broken" / "refs").exists()


def test_a_shard_whose_header_disagrees_with_the_index_fails_before_its_data_is_downloaded(run, hub, models):
    files = {p.name: p.read_bytes() for p in (models / "base").iterdir()}
    index = json.loads(files["model.safetensors.index.json"])
    shards = sorted(set(index["weight_map"].values()))
    moved = next(t for t, s in index["weight_map"].items() if s == shards[0])
    index["weight_map"][moved] = shards[1]
    files["model.safetensors.index.json"] = json.dumps(index).encode()
    hub.add_repo("org/misindexed", files)
    line = one_line_error(run("inspect", "hf://org/misindexed"))
    assert moved in line and "weight_map" in line
    for x in hub.requests("cdn"):
        data = files[x.file]
        header_end = 8 + int.from_bytes(data[:8], "little")
        assert x.body_start + x.body_bytes <= header_end, "a weight's data was downloaded"


def test_a_corrupted_download_is_rejected_by_its_sha256(run, hub, models, cache):
    shard = sorted(p.name for p in (models / "base").glob("*.safetensors"))[-1]
    hub.corrupt.add(shard)
    line = one_line_error(run("inspect", "hf://org/base"))
    assert "sha256" in line and shard in line
    assert not any(n.endswith(shard) for n in final_names(cache))
    hub.corrupt.clear()
    assert run("inspect", "hf://org/base").returncode == 0


def test_a_commit_hash_revision_is_downloaded_without_a_ref(run, hub, cache):
    commit = hub.repos["org/base"].commit
    r = run("inspect", f"hf://org/base@{commit}")
    assert r.returncode == 0, r.stderr
    assert not (cache / "models--org--base" / "refs").exists()
    assert (cache / "models--org--base" / "snapshots" / commit / "config.json").is_symlink()


def test_a_snapshot_huggingface_hub_downloaded_is_read_with_no_request(run, hub, cache, models):
    from huggingface_hub import snapshot_download

    path = snapshot_download("org/base", cache_dir=str(cache), endpoint=hub.endpoint)
    assert Path(path).parent.parent.name == "models--org--base"
    hub.clear_log()
    r = run("inspect", "org/base", "--json")
    assert r.returncode == 0, r.stderr
    assert hub.requests() == []
    assert len(json.loads(r.stdout)["tensors"]) == len(make_llama.llama_shapes(**SMALL, tied=False))
