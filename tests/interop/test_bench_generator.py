"""The benchmark's model generator writes real, deterministic Hugging Face
model directories, checked with Hugging Face's own safetensors library."""

from __future__ import annotations

import json
import shutil
import struct
import sys
from collections import namedtuple
from pathlib import Path

import numpy as np
import pytest
from safetensors import safe_open

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
import generate_trio  # noqa: E402


def read_tensors(model_dir: Path) -> dict[str, np.ndarray]:
    """Every tensor of a model directory as float32, read from the raw bf16 bytes."""
    out: dict[str, np.ndarray] = {}
    for f in sorted(model_dir.glob("*.safetensors")):
        raw = f.read_bytes()
        (n,) = struct.unpack("<Q", raw[:8])
        header = json.loads(raw[8:8 + n])
        for name, info in header.items():
            if name == "__metadata__":
                continue
            begin, end = info["data_offsets"]
            bits = np.frombuffer(raw[8 + n + begin:8 + n + end], dtype="<u2")
            out[name] = (bits.astype(np.uint32) << 16).view(np.float32).reshape(info["shape"])
    return out


@pytest.fixture(scope="module")
def trio(tmp_path_factory) -> Path:
    return generate_trio.generate("tiny", tmp_path_factory.mktemp("data"), models=list(generate_trio.ROLES),
                                  log=lambda _: None)


def test_writes_a_sharded_model_directory_like_the_hub(trio):
    spec = generate_trio.llama_tensors(generate_trio.PRESETS["tiny"])
    for role in generate_trio.ROLES:
        model = trio / role
        index = json.loads((model / "model.safetensors.index.json").read_text())
        shards = sorted(p.name for p in model.glob("*.safetensors"))
        assert len(shards) > 1, "the tiny preset's shard size should force several shards"
        assert shards == generate_trio.shard_file_names(len(shards))
        assert set(index["weight_map"]) == {t.name for t in spec}
        assert set(index["weight_map"].values()) == set(shards)
        assert index["metadata"]["total_size"] == sum(t.nbytes for t in spec)
        config = json.loads((model / "config.json").read_text())
        assert config["model_type"] == "llama" and config["torch_dtype"] == "bfloat16"
        assert config["num_key_value_heads"] == generate_trio.PRESETS["tiny"].kv_heads
        for shard in shards:
            # Hugging Face's reader validates the header against the file.
            with safe_open(str(model / shard), framework="numpy") as f:
                assert set(f.keys()) == {n for n, s in index["weight_map"].items() if s == shard}
                assert f.metadata() == {"format": "pt"}


def test_tensor_shapes_are_llamas(trio):
    tensors = read_tensors(trio / "base")
    s = generate_trio.PRESETS["tiny"]
    head_dim = s.hidden // s.heads
    assert tensors["model.embed_tokens.weight"].shape == (s.vocab, s.hidden)
    assert tensors["lm_head.weight"].shape == (s.vocab, s.hidden)
    assert tensors["model.layers.1.self_attn.k_proj.weight"].shape == (s.kv_heads * head_dim, s.hidden)
    assert tensors["model.layers.0.mlp.down_proj.weight"].shape == (s.hidden, s.intermediate)
    assert tensors["model.norm.weight"].shape == (s.hidden,)


def test_post_and_newbase_are_small_different_perturbations_of_base(trio):
    base, post, newbase = (read_tensors(trio / r) for r in ("base", "post", "newbase"))
    name = "model.layers.0.mlp.up_proj.weight"
    for role, model in (("post", post), ("newbase", newbase)):
        diff = model[name] - base[name]
        relative = diff.std() / base[name].std()
        # Uniform noise of standard deviation NOISE_RELATIVE·a/√3 over weights of std a/√3, plus bf16 rounding.
        assert 0.5 * generate_trio.NOISE_RELATIVE[role] < relative < 2 * generate_trio.NOISE_RELATIVE[role]
        assert (diff != 0).mean() > 0.3
    assert not np.array_equal(post[name], newbase[name])
    # Uniform within nn.Linear's bound (norms around 1), give or take bf16 rounding.
    bound = 1 / np.sqrt(base[name].shape[1])
    assert np.all(np.isfinite(base[name])) and np.abs(base[name]).max() <= bound * (1 + 2**-8)
    assert np.abs(base[name]).max() > 0.9 * bound
    assert np.all(np.abs(base["model.norm.weight"] - 1) <= 0.1 + 2**-8)


def test_same_seed_gives_the_same_bytes_and_another_seed_does_not(trio, tmp_path):
    again = generate_trio.generate("tiny", tmp_path, models=["base", "post"], log=lambda _: None)
    other = generate_trio.generate("tiny", tmp_path, seed=1, models=["base"], log=lambda _: None)
    for shard in (trio / "base").glob("*.safetensors"):
        assert (again / "base" / shard.name).read_bytes() == shard.read_bytes()
        assert (other / "base" / shard.name).read_bytes() != shard.read_bytes()
    for shard in (trio / "post").glob("*.safetensors"):
        assert (again / "post" / shard.name).read_bytes() == shard.read_bytes()


def test_a_cached_model_is_reused_and_force_rewrites_it(tmp_path):
    messages: list[str] = []
    generate_trio.generate("tiny", tmp_path, models=["base"], log=messages.append)
    generate_trio.generate("tiny", tmp_path, models=["base"], log=messages.append)
    assert len(messages) == 1
    generate_trio.generate("tiny", tmp_path, models=["base", "post"], log=messages.append)
    assert "post" in messages[-1] and "base" not in messages[-1].split(" of ")[0]
    generate_trio.generate("tiny", tmp_path, models=["base"], force=True, log=messages.append)
    assert len(messages) == 3


def test_a_half_written_model_is_not_taken_from_the_cache(tmp_path):
    trio = generate_trio.generate("tiny", tmp_path, models=["base"], log=lambda _: None)
    (trio / "base" / generate_trio.MARKER).unlink()
    messages: list[str] = []
    generate_trio.generate("tiny", tmp_path, models=["base"], log=messages.append)
    assert messages, "a model directory without its completion marker must be regenerated"


def test_shards_split_where_the_next_tensor_would_pass_the_shard_size():
    T = generate_trio.TensorSpec
    tensors = [T("a", (10,), "norm"), T("b", (20,), "norm"), T("c", (100,), "norm"), T("d", (5,), "norm")]
    shards = generate_trio.shard_tensors(tensors, 60)  # bytes: 20, 40, 200, 10
    assert [[t.name for t in s] for s in shards] == [["a", "b"], ["c"], ["d"]]


def test_refuses_to_fill_the_disk(tmp_path, monkeypatch):
    Usage = namedtuple("Usage", "total used free")
    monkeypatch.setattr(shutil, "disk_usage", lambda _: Usage(10**12, 10**12 - 10**9, 10**9))
    with pytest.raises(SystemExit, match="GB free"):
        generate_trio.generate("7b", tmp_path, log=lambda _: None)
    assert not any(tmp_path.rglob("*.safetensors"))


def test_a_larger_post_noise_is_a_trio_of_its_own_with_more_exception_elements(trio, tmp_path):
    noisy = generate_trio.generate("tiny", tmp_path, models=["base", "post"], log=lambda _: None, post_noise=0.15)
    assert noisy.name == "tiny-seed0-post-noise0.15"
    assert generate_trio.NOISE_RELATIVE["post"] == 1e-2  # restored
    assert json.loads((noisy / "post" / generate_trio.MARKER).read_text())["noise_relative"] == 0.15
    base = read_tensors(noisy / "base")
    assert all(np.array_equal(base[k], v) for k, v in read_tensors(trio / "base").items())

    def exception_fraction(post: dict[str, np.ndarray]) -> float:
        # Elements where base + round_bf16(post - base), rounded to bf16, is not post.
        missed = total = 0
        for name, p in post.items():
            b = base[name]
            d = generate_trio.bf16_bits_to_f32(generate_trio.round_to_bf16_bits((p - b).astype(np.float32)))
            r = generate_trio.bf16_bits_to_f32(generate_trio.round_to_bf16_bits((b + d).astype(np.float32)))
            missed += int(np.count_nonzero(r != p))
            total += p.size
        return missed / total

    assert exception_fraction(read_tensors(trio / "post")) < 0.01
    assert 0.02 < exception_fraction(read_tensors(noisy / "post")) < 0.08
