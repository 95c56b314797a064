"""Deltas as the Python implementation writes them, made here with Hugging
Face's own safetensors library: post - base in NumPy, saved under the
model's names with no paramdelta manifest, as one delta.safetensors, a
sharded directory with its index, or a loose file. apply must add them as
stored (NumPy's float32 sum, bit for bit), keep the base's integer tensors,
and say that the delta's provenance and exactness are unknown."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from safetensors import deserialize
from safetensors.numpy import save_file

SHAPES = {"model.embed_tokens.weight": (16, 8), "model.layers.0.mlp.up_proj.weight": (12, 8),
          "model.norm.weight": (8,)}


def model(seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    tensors = {name: rng.normal(0, 0.02, shape).astype(np.float32) for name, shape in SHAPES.items()}
    tensors["model.position_ids"] = np.arange(4, dtype=np.int64) + seed
    return tensors


def read(path: Path) -> dict[str, np.ndarray]:
    out = {}
    for f in sorted(path.glob("*.safetensors")) if path.is_dir() else [path]:
        for name, info in deserialize(f.read_bytes()):
            dtype = {"F32": np.float32, "I64": np.int64}[info["dtype"]]
            out[name] = np.frombuffer(bytes(info["data"]), dtype=dtype).reshape(info["shape"])
    return out


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    root = tmp_path_factory.mktemp("pydelta")
    base, post = model(1), model(1)
    for name in SHAPES:
        post[name] = post[name] + np.random.default_rng(7).normal(0, 0.003, SHAPES[name]).astype(np.float32)
    post["model.position_ids"] = post["model.position_ids"] + 100
    (root / "base").mkdir()
    save_file(base, str(root / "base" / "model.safetensors"), metadata={"format": "pt"})
    (root / "base" / "config.json").write_text(json.dumps({"model_type": "llama"}))
    delta = {name: post[name] - base[name] for name in post}  # what the Python implementation computes
    return root, base, delta


def expect_applied(out: Path, base: dict[str, np.ndarray], delta: dict[str, np.ndarray]) -> None:
    got = read(out)
    for name in SHAPES:
        np.testing.assert_array_equal(got[name], base[name] + delta[name], err_msg=name)
    np.testing.assert_array_equal(got["model.position_ids"], base["model.position_ids"])


def test_apply_adds_a_delta_directory_written_by_the_python_implementation(pair, run_paramdelta, tmp_path):
    root, base, delta = pair
    (tmp_path / "delta").mkdir()
    save_file(delta, str(tmp_path / "delta" / "delta.safetensors"), metadata={"format": "pt"})
    r = run_paramdelta("apply", "--base", root / "base", "--delta", tmp_path / "delta", "-o", tmp_path / "out")
    assert "no paramdelta manifest" in r.stderr and "provenance and exactness unknown" in r.stderr, r.stderr
    expect_applied(tmp_path / "out", base, delta)


def test_apply_adds_a_sharded_delta_written_by_the_python_implementation(pair, run_paramdelta, tmp_path):
    root, base, delta = pair
    directory = tmp_path / "delta"
    directory.mkdir()
    names = sorted(delta)
    shards = {"delta-00001-of-00002.safetensors": names[:2], "delta-00002-of-00002.safetensors": names[2:]}
    weight_map = {}
    for file, members in shards.items():
        save_file({n: delta[n] for n in members}, str(directory / file), metadata={"format": "pt"})
        weight_map.update({n: file for n in members})
    (directory / "delta.safetensors.index.json").write_text(json.dumps({"metadata": {}, "weight_map": weight_map}))
    run_paramdelta("apply", "--base", root / "base", "--delta", directory, "-o", tmp_path / "out", "-q")
    expect_applied(tmp_path / "out", base, delta)


def test_apply_and_inspect_take_a_loose_delta_file(pair, run_paramdelta, tmp_path):
    root, base, delta = pair
    save_file(delta, str(tmp_path / "chat_delta.safetensors"), metadata={"format": "pt"})
    run_paramdelta("apply", "--base", root / "base", "--delta", tmp_path / "chat_delta.safetensors",
                   "-o", tmp_path / "out.safetensors", "-q")
    expect_applied(tmp_path / "out.safetensors", base, delta)
    report = json.loads(run_paramdelta("inspect", "--json", tmp_path / "chat_delta.safetensors").stdout)
    assert report["kind"] == "delta" and report["manifest"] is None
    assert {t["name"]: t["kind"] for t in report["tensors"]}["model.position_ids"] == "carry"
