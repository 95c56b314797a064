"""The command line end to end on Llama-shaped models written by Hugging
Face's own safetensors library (tools/make_llama.py): sharded and tied
inputs, JSON summaries, exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from safetensors import deserialize

import make_llama


def tensors_of(directory: Path) -> dict[str, bytes]:
    out = {}
    for f in sorted(directory.glob("*.safetensors")):
        for name, info in deserialize(f.read_bytes()):
            out[name] = (info["dtype"], tuple(info["shape"]), bytes(info["data"]))
    return out


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    root = tmp_path_factory.mktemp("e2e")
    small = dict(layers=2, hidden=32, intermediate=64, vocab=64, heads=2, kv_heads=1)
    make_llama.write_model(str(root / "base"), 1, **small, max_shard_bytes=10000)
    make_llama.write_model(str(root / "post"), 1, **small, noise=0.02, noise_seed=5, max_shard_bytes=10000)
    make_llama.write_model(str(root / "tied_base"), 1, **small, tied=True)
    (root / "post" / "tokenizer_config.json").write_text(json.dumps({"chat_template": "{{ messages }}"}))
    return root


def test_compute_apply_verify_on_hub_written_sharded_models(models, run_paramdelta, tmp_path):
    assert (models / "base" / "model.safetensors.index.json").exists()
    c = run_paramdelta("compute", "--base", models / "base", "--post", models / "post", "-o", tmp_path / "d", "--json")
    summary = json.loads(c.stdout)
    assert summary["operation"] == "compute" and summary["lossless"] is True
    post_bytes = sum(len(t[2]) for t in tensors_of(models / "post").values())
    assert summary["post_bytes"] == post_bytes
    written = sum(p.stat().st_size for p in (tmp_path / "d").glob("*.safetensors"))
    assert summary["bytes_written"] == written
    assert summary["delta_to_post_size"] == pytest.approx(written / post_bytes)
    run_paramdelta("apply", "--base", models / "base", "--delta", tmp_path / "d", "-o", tmp_path / "out", "-q")
    assert tensors_of(tmp_path / "out") == tensors_of(models / "post")
    assert (tmp_path / "out" / "tokenizer_config.json").read_text() == (models / "post" / "tokenizer_config.json").read_text()
    v = run_paramdelta("verify", "--base", models / "base", "--delta", tmp_path / "d", "--expect", models / "post",
                       "--json")
    report = json.loads(v.stdout)
    assert report["exact"] is True and report["differing_elements"] == 0
    assert report["total_elements"] == sum(len(t[2]) // 2 for t in tensors_of(models / "post").values())


def test_tied_new_base_gets_an_untied_head(models, run_paramdelta, tmp_path):
    run_paramdelta("compute", "--base", models / "base", "--post", models / "post", "-o", tmp_path / "d", "-q")
    run_paramdelta("apply", "--base", models / "tied_base", "--delta", tmp_path / "d", "-o", tmp_path / "out", "-q")
    out = tensors_of(tmp_path / "out")
    assert "lm_head.weight" in out
    assert out["lm_head.weight"][1] == out["model.embed_tokens.weight"][1]
    assert json.loads((tmp_path / "out" / "config.json").read_text())["tie_word_embeddings"] is False


def test_aliases_of_the_reference_scripts(models, run_paramdelta, tmp_path):
    run_paramdelta("compute-delta", "--base-model", models / "base", "--post-model", models / "post", "--output",
                   tmp_path / "d")
    run_paramdelta("apply-delta", "--base-model", models / "base", "--delta-path", tmp_path / "d", "--output",
                   tmp_path / "out", "--scale", "1.0")
    assert tensors_of(tmp_path / "out") == tensors_of(models / "post")


def test_bad_input_is_one_line_and_exit_code_one(models, run_paramdelta, tmp_path):
    broken = tmp_path / "broken"
    broken.mkdir()
    data = (models / "tied_base" / "model.safetensors").read_bytes()
    (broken / "model.safetensors").write_bytes(data[:-3])
    r = run_paramdelta("compute", "--base", broken, "--post", models / "post", "-o", tmp_path / "d", check=False)
    assert r.returncode == 1
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and str(broken / "model.safetensors") in lines[0]
    assert not (tmp_path / "d").exists()


def test_usage_errors_exit_with_two(run_paramdelta, tmp_path):
    assert run_paramdelta("compute", "--base", tmp_path, check=False).returncode == 2
    assert run_paramdelta("apply", "--nope", check=False).returncode == 2
