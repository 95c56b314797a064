"""Every kind of file paramdelta writes, read back with Hugging Face's own
safetensors library and checked against values computed here in NumPy.

Kinds: a delta directory (single weight file or shards + index, the
exceptions file, the manifest), a single-file delta (manifest and exceptions
inline), compact and combined deltas, and applied models (single file,
sharded with index, other output dtype)."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import numpy as np
import pytest
from safetensors import deserialize, safe_open, serialize_file

import make_llama

# ---------------------------------------------------------------- helpers

NUMPY_OF = {"F16": np.float16, "F32": np.float32, "F64": np.float64, "I64": np.int64, "U32": np.uint32,
            "I32": np.int32, "U8": np.uint8, "BOOL": np.bool_}


def bf16_bits_from_f32(x: np.ndarray) -> np.ndarray:
    """Round-to-nearest-even float32 -> bfloat16 bit patterns (NaN stays NaN)."""
    bits = np.ascontiguousarray(x, dtype=np.float32).view(np.uint32).astype(np.uint64)
    rounded = ((bits + 0x7FFF + ((bits >> 16) & 1)) >> 16).astype(np.uint16)
    nan = np.isnan(x)
    rounded[nan] = ((bits[nan] >> 16) | 0x40).astype(np.uint16)
    return rounded


def f32_from_bf16_bits(b: np.ndarray) -> np.ndarray:
    return (b.astype(np.uint32) << 16).view(np.float32)


def read_file_hf(path: Path) -> dict[str, dict]:
    """All tensors of one file via safetensors.deserialize: name -> {dtype, shape, data}."""
    return {name: info for name, info in deserialize(path.read_bytes())}


def metadata_hf(path: Path) -> dict[str, str]:
    with safe_open(str(path), framework="numpy") as f:
        return f.metadata() or {}


def read_dir_hf(directory: Path, prefix: str) -> dict[str, dict]:
    """Every tensor of a (possibly sharded) directory, checking the index against the shards."""
    index_path = directory / f"{prefix}.safetensors.index.json"
    single = directory / f"{prefix}.safetensors"
    if index_path.exists():
        assert not single.exists(), "a sharded output must not also have a single weight file"
        index = json.loads(index_path.read_text())
        weight_map = index["weight_map"]
        shards = sorted(set(weight_map.values()))
        assert len(shards) >= 2
        for i, name in enumerate(shards):
            assert name == f"{prefix}-{i + 1:05d}-of-{len(shards):05d}.safetensors"
        tensors: dict[str, dict] = {}
        for shard in shards:
            for name, info in read_file_hf(directory / shard).items():
                assert weight_map[name] == shard, f"{name} is in {shard} but the index says {weight_map[name]}"
                assert name not in tensors
                tensors[name] = info
        assert set(tensors) == set(weight_map)
        assert index["metadata"]["total_size"] == sum(len(t["data"]) for t in tensors.values())
        return tensors
    return read_file_hf(single)


def values(info: dict) -> np.ndarray:
    """Element values as float64 (bf16 decoded by bit manipulation), flat."""
    dtype, data = info["dtype"], bytes(info["data"])
    if dtype == "BF16":
        return f32_from_bf16_bits(np.frombuffer(data, dtype="<u2")).astype(np.float64)
    return np.frombuffer(data, dtype=NUMPY_OF[dtype]).astype(np.float64)


def bits(info: dict) -> np.ndarray:
    size = {"BF16": 2, "F16": 2, "F32": 4, "F64": 8}[info["dtype"]]
    return np.frombuffer(bytes(info["data"]), dtype={2: "<u2", 4: "<u4", 8: "<u8"}[size])


def as_f32(info: dict) -> np.ndarray:
    return values(info).astype(np.float32)


def round_to(dtype: str, x: np.ndarray) -> np.ndarray:
    """float32 -> stored bit patterns of `dtype`, round to nearest even."""
    x = np.asarray(x, dtype=np.float32)
    if dtype == "BF16":
        return bf16_bits_from_f32(x)
    if dtype == "F16":
        with np.errstate(over="ignore"):
            return x.astype(np.float16).view("<u2")
    return x.view("<u4")


def expected_lossless_delta(base: dict, post: dict):
    """The delta in the post dtype and its exception list, as the format defines them."""
    dtype = post["dtype"]
    b, p = as_f32(base), as_f32(post)
    with np.errstate(over="ignore", invalid="ignore"):
        delta_bits = round_to(dtype, p - b)
        stored = values({"dtype": dtype, "data": delta_bits.tobytes()}).astype(np.float32)
        rebuilt = round_to(dtype, b + stored)
    exceptions = np.nonzero(rebuilt != bits(post))[0]
    return delta_bits, exceptions


def write_adversarial(directory: Path, dtype: str, seed: int, noise: float):
    """A small Llama (written by HF's safetensors through tools/make_llama.py)."""
    make_llama.write_model(str(directory), seed, layers=1, hidden=32, intermediate=64, vocab=48, heads=2,
                           kv_heads=1, noise=noise, noise_seed=seed + 100, dtype=dtype)


def extreme_pairs(dtype: str):
    """(base, post) values that need exceptions: signed zeros, magnitudes far
    apart, the largest finite values with sign flips, subnormals."""
    big, gap, tiny = {"BF16": (3.3895313892515355e38, 2.0**40, 2.0**-133),
                      "F16": (65504.0, 2.0**14, 2.0**-24),
                      "F32": (3.4028234663852886e38, 2.0**40, 2.0**-149)}[dtype]
    base = [0.0, -0.0, 1.0, gap, big, -big, tiny, 3 * tiny]
    post = [-0.0, 0.0, gap, 1.0, -big, big, -tiny, 0.0]
    return base, post


def add_extreme_values(base_dir: Path, post_dir: Path, name: str):
    """Rewrites the start of one tensor of both models with the extreme pairs."""
    for directory, which in ((base_dir, 0), (post_dir, 1)):
        path = directory / "model.safetensors"
        tensors = read_file_hf(path)
        info = tensors[name]
        vals = extreme_pairs(info["dtype"])[which]
        arr = values(info)
        arr[: len(vals)] = vals
        if info["dtype"] == "BF16":
            # float64 -> float32 is exact for these values; then float32 -> bf16.
            info["data"] = bf16_bits_from_f32(arr.astype(np.float32)).tobytes()
        else:
            info["data"] = arr.astype(NUMPY_OF[info["dtype"]]).tobytes()
        names = {"BF16": "bfloat16", "F16": "float16", "F32": "float32"}
        serialize_file({k: {"dtype": names[v["dtype"]], "shape": v["shape"], "data": bytes(v["data"])}
                        for k, v in tensors.items()}, str(path), metadata={"format": "pt"})


ADV = "model.layers.0.self_attn.q_proj.weight"

# ---------------------------------------------------------------- fixtures


@pytest.fixture(scope="module", params=["BF16", "F16", "F32"])
def pair(request, tmp_path_factory):
    dtype = request.param
    root = tmp_path_factory.mktemp(f"pair_{dtype}")
    write_adversarial(root / "base", dtype, 1, 0.0)
    write_adversarial(root / "post", dtype, 1, 0.05)
    add_extreme_values(root / "base", root / "post", ADV)
    (root / "post" / "tokenizer.json").write_text('{"model": {}}')
    return dtype, root


@pytest.fixture(scope="module")
def outputs(pair, run_paramdelta):
    """Every kind of output for one model pair."""
    dtype, root = pair
    base, post = root / "base", root / "post"
    run_paramdelta("compute", "--base", base, "--post", post, "-o", root / "delta", "-q")
    run_paramdelta("compute", "--base", base, "--post", post, "-o", root / "delta_sharded", "--max-shard-size", "12kB",
                   "-q")
    run_paramdelta("compute", "--base", base, "--post", post, "-o", root / "delta.safetensors", "-q")
    run_paramdelta("apply", "--base", base, "--delta", root / "delta", "-o", root / "model_single", "-q")
    run_paramdelta("apply", "--base", base, "--delta", root / "delta_sharded", "-o", root / "model_sharded",
                   "--max-shard-size", "12kB", "-q")
    run_paramdelta("apply", "--base", base, "--delta", root / "delta.safetensors", "-o", root / "model.safetensors",
                   "-q")
    return root


# ---------------------------------------------------------------- tests


def test_delta_directory_holds_the_exact_delta_and_exceptions(pair, outputs):
    dtype, root = pair
    base = read_dir_hf(root / "base", "model")
    post = read_dir_hf(root / "post", "model")
    delta = read_dir_hf(root / "delta", "delta")
    assert set(delta) == set(post)
    exceptions = read_file_hf(root / "delta" / "exceptions.safetensors")
    manifest = json.loads((root / "delta" / "paramdelta.json").read_text())
    total_exceptions = 0
    for name, info in delta.items():
        assert info["dtype"] == post[name]["dtype"] == dtype
        assert info["shape"] == post[name]["shape"]
        want_bits, want_exc = expected_lossless_delta(base[name], post[name])
        np.testing.assert_array_equal(bits(info), want_bits, err_msg=name)
        entry = manifest["tensors"][name]
        assert entry["exceptions"] == len(want_exc), name
        total_exceptions += len(want_exc)
        if len(want_exc):
            idx = exceptions[f"{name}::exceptions.index"]
            assert idx["dtype"] == "U32" and idx["shape"] == [len(want_exc)]
            np.testing.assert_array_equal(np.frombuffer(bytes(idx["data"]), "<u4"), want_exc)
            for part, src in (("base", base[name]), ("post", post[name])):
                ex = exceptions[f"{name}::exceptions.{part}"]
                assert ex["dtype"] == dtype and ex["shape"] == [len(want_exc)]
                np.testing.assert_array_equal(bits(ex), bits(src)[want_exc])
        else:
            assert f"{name}::exceptions.index" not in exceptions
    assert manifest["tensors"][ADV]["exceptions"] > 0, "the extreme values must need exceptions"
    assert len(exceptions) == 3 * sum(1 for e in manifest["tensors"].values() if e["exceptions"])
    assert metadata_hf(root / "delta" / "delta.safetensors")["format"] == "pt"
    assert metadata_hf(root / "delta" / "exceptions.safetensors")["format"] == "pt"
    assert (root / "delta" / "tokenizer.json").read_text() == (root / "post" / "tokenizer.json").read_text()
    assert total_exceptions < sum(int(np.prod(i["shape"])) for i in post.values()) // 20


def test_sharded_delta_has_the_same_tensors_as_the_single_file_one(pair, outputs):
    _, root = pair
    sharded = read_dir_hf(root / "delta_sharded", "delta")
    single = read_dir_hf(root / "delta", "delta")
    assert len(list((root / "delta_sharded").glob("delta-*-of-*.safetensors"))) >= 2
    assert set(sharded) == set(single)
    for name in single:
        assert sharded[name]["dtype"] == single[name]["dtype"]
        assert sharded[name]["shape"] == single[name]["shape"]
        assert bytes(sharded[name]["data"]) == bytes(single[name]["data"]), name


def test_single_file_delta_has_inline_manifest_and_exceptions(pair, outputs):
    _, root = pair
    path = root / "delta.safetensors"
    tensors = read_file_hf(path)
    meta = metadata_hf(path)
    manifest = json.loads(meta["paramdelta.manifest"])
    assert manifest["format"] == "paramdelta.delta"
    assert manifest["encoding"]["exceptions"] == "inline"
    directory = read_dir_hf(root / "delta", "delta")
    side = read_file_hf(root / "delta" / "exceptions.safetensors")
    assert set(tensors) == set(directory) | set(side)
    for name, info in {**directory, **side}.items():
        assert tensors[name]["dtype"] == info["dtype"] and tensors[name]["shape"] == info["shape"]
        assert bytes(tensors[name]["data"]) == bytes(info["data"]), name
    with safe_open(str(path), framework="numpy") as f:
        assert set(f.keys()) == set(tensors)


def test_applied_models_equal_the_post_model_in_every_layout(pair, outputs):
    dtype, root = pair
    post = read_dir_hf(root / "post", "model")
    for model in (read_dir_hf(root / "model_single", "model"), read_dir_hf(root / "model_sharded", "model"),
                  read_file_hf(root / "model.safetensors")):
        assert set(model) == set(post)
        for name, info in post.items():
            assert model[name]["dtype"] == dtype and model[name]["shape"] == info["shape"]
            assert bytes(model[name]["data"]) == bytes(info["data"]), name
    assert len(list((root / "model_sharded").glob("model-*-of-*.safetensors"))) >= 2
    config = json.loads((root / "model_single" / "config.json").read_text())
    assert config == json.loads((root / "base" / "config.json").read_text())


def test_numpy_reader_loads_non_bf16_outputs(pair, outputs):
    dtype, root = pair
    if dtype == "BF16":
        pytest.skip("NumPy has no bfloat16")
    post = read_dir_hf(root / "post", "model")
    with safe_open(str(root / "model_single" / "model.safetensors"), framework="numpy") as f:
        for name in f.keys():
            arr = f.get_tensor(name)
            assert list(arr.shape) == post[name]["shape"]
            assert arr.dtype == NUMPY_OF[dtype]
            np.testing.assert_array_equal(arr.reshape(-1).view(f"<u{arr.itemsize}"), bits(post[name]))
    with safe_open(str(root / "delta" / "exceptions.safetensors"), framework="numpy") as f:
        for name in f.keys():
            if name.endswith("::exceptions.index"):
                assert f.get_tensor(name).dtype == np.uint32


# ---- compact, scaled/converted and combined outputs (one dtype pair suffices)


@pytest.fixture(scope="module")
def f32_pair(tmp_path_factory):
    root = tmp_path_factory.mktemp("f32pair")
    write_adversarial(root / "base", "F32", 3, 0.0)
    write_adversarial(root / "post", "F32", 3, 0.05)
    write_adversarial(root / "post2", "F32", 4, 0.0)
    return root


def test_compact_bf16_delta_is_the_rounded_difference(f32_pair, run_paramdelta):
    root = f32_pair
    run_paramdelta("compute", "--base", root / "base", "--post", root / "post", "-o", root / "compact",
                   "--delta-dtype", "bf16", "-q")
    base, post = read_dir_hf(root / "base", "model"), read_dir_hf(root / "post", "model")
    delta = read_dir_hf(root / "compact", "delta")
    assert not (root / "compact" / "exceptions.safetensors").exists()
    manifest = json.loads((root / "compact" / "paramdelta.json").read_text())
    assert manifest["encoding"]["name"] == "plain" and manifest["encoding"]["lossless"] is False
    for name, info in delta.items():
        assert info["dtype"] == "BF16"
        want = bf16_bits_from_f32(as_f32(post[name]) - as_f32(base[name]))
        np.testing.assert_array_equal(bits(info), want, err_msg=name)


def test_scaled_f32_output_is_base_plus_scale_times_delta(pair, outputs, run_paramdelta):
    dtype, root = pair
    out = root / "scaled"
    run_paramdelta("apply", "--base", root / "base", "--delta", root / "delta", "-o", out, "--scale", "0.5",
                   "--dtype", "f32", "-q")
    base = read_dir_hf(root / "base", "model")
    delta = read_dir_hf(root / "delta", "delta")
    exceptions = read_file_hf(root / "delta" / "exceptions.safetensors")
    model = read_dir_hf(out, "model")
    assert json.loads((out / "config.json").read_text())["torch_dtype"] == "float32"
    for name, info in model.items():
        assert info["dtype"] == "F32"
        got = np.frombuffer(bytes(info["data"]), "<f4")
        with np.errstate(over="ignore", invalid="ignore"):
            want = as_f32(base[name]) + np.float32(0.5) * as_f32(delta[name])
        exc = np.zeros(got.size, dtype=bool)
        if f"{name}::exceptions.index" in exceptions:
            idx = np.frombuffer(bytes(exceptions[f"{name}::exceptions.index"]["data"]), "<u4")
            exc[idx] = True
            b = values(exceptions[f"{name}::exceptions.base"])
            p = values(exceptions[f"{name}::exceptions.post"])
            exact = values(base[name])[idx] + 0.5 * (p - b)
            np.testing.assert_allclose(got[idx], exact.astype(np.float32), rtol=2**-23, err_msg=name)
        np.testing.assert_array_equal(got[~exc], want[~exc], err_msg=name)


def test_combined_delta_is_the_weighted_sum(f32_pair, run_paramdelta):
    root = f32_pair
    run_paramdelta("compute", "--base", root / "base", "--post", root / "post", "-o", root / "d1", "-q")
    run_paramdelta("compute", "--base", root / "base", "--post", root / "post2", "-o", root / "d2", "-q")
    run_paramdelta("combine", "--delta", root / "d1", "--delta", root / "d2", "--weight", "0.25", "--weight", "0.75",
                   "-o", root / "mix.safetensors", "-q")
    base = read_dir_hf(root / "base", "model")
    p1, p2 = read_dir_hf(root / "post", "model"), read_dir_hf(root / "post2", "model")
    mix = read_file_hf(root / "mix.safetensors")
    manifest = json.loads(metadata_hf(root / "mix.safetensors")["paramdelta.manifest"])
    assert manifest["operation"] == "combine" and manifest["combine_weights"] == [0.25, 0.75]
    for name, info in mix.items():
        assert info["dtype"] == "F32" and info["shape"] == base[name]["shape"]
        exact = 0.25 * (values(p1[name]) - values(base[name])) + 0.75 * (values(p2[name]) - values(base[name]))
        got = values(info)
        scale = np.abs(0.25 * (values(p1[name]) - values(base[name]))) + np.abs(0.75 * (values(p2[name]) - values(base[name])))
        assert np.all(np.abs(got - exact) <= scale * 2**-21 + 1e-45), name


def test_the_header_is_padded_to_eight_bytes(pair, outputs):
    _, root = pair
    # Only what paramdelta wrote (the input models come from HF's library).
    files = [p for p in root.rglob("*.safetensors") if p.parent.name not in ("base", "post")]
    assert len(files) > 8
    for path in files:
        with open(path, "rb") as f:
            (n,) = struct.unpack("<Q", f.read(8))
        assert (8 + n) % 8 == 0, path
