"""Tensors read in place (views into the file mapping, no copies) and
tensors written as models that Hugging Face's own reader loads."""

from __future__ import annotations

import json

import ml_dtypes
import numpy as np
import pytest
import safetensors.numpy

import paramdelta
from package_support import TINY


def rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096


def test_open_lists_tensors_in_file_order_with_dtypes_shapes_and_metadata():
    checkpoint = paramdelta.open(TINY / "base-v1")
    names = list(checkpoint.keys())
    assert names == [t["name"] for t in paramdelta.inspect(TINY / "base-v1").tensors]
    assert "model.embed_tokens.weight" in checkpoint and len(checkpoint) == len(names)
    assert checkpoint.dtype("model.embed_tokens.weight") == "BF16"
    assert checkpoint.metadata == paramdelta.inspect(TINY / "base-v1").metadata


def test_a_tensor_is_a_read_only_view_into_the_mapping():
    checkpoint = paramdelta.open(TINY / "base-v1")
    name = "model.embed_tokens.weight"
    first, second = checkpoint[name], checkpoint[name]
    address, size = checkpoint._core.address(name)
    assert first.ctypes.data == address and first.nbytes == size
    assert np.shares_memory(first, second)
    assert not first.flags.writeable
    with pytest.raises(ValueError):
        first[0, 0] = 1


def test_bf16_reads_as_ml_dtypes_bfloat16_with_the_files_values():
    name = "model.norm.weight"
    got = paramdelta.open(TINY / "base-v1")[name]
    assert got.dtype == np.dtype(ml_dtypes.bfloat16)
    raw = paramdelta.open(TINY / "base-v1").tensor(name, raw=True)
    assert raw.dtype == np.uint16
    # Hugging Face's NumPy reader has no bf16: compare with the file's bits.
    with open(TINY / "base-v1" / "model.safetensors", "rb") as f:
        header_len = int.from_bytes(f.read(8), "little")
        header = json.loads(f.read(header_len))
        begin, end = header[name]["data_offsets"]
        f.seek(8 + header_len + begin)
        file_bits = np.frombuffer(f.read(end - begin), dtype=np.uint16)
    assert np.array_equal(raw, file_bits)
    assert np.array_equal(got.view(np.uint16), file_bits)


def test_without_ml_dtypes_bf16_asks_for_it_or_raw(monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_ml_dtypes(name, *args, **kwargs):
        if name == "ml_dtypes":
            raise ImportError("no ml_dtypes")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_ml_dtypes)
    checkpoint = paramdelta.open(TINY / "base-v1")
    with pytest.raises(paramdelta.UsageError) as caught:
        checkpoint["model.norm.weight"]
    assert "ml_dtypes" in str(caught.value) and "raw=True" in str(caught.value)
    assert checkpoint.tensor("model.norm.weight", raw=True).dtype == np.uint16


def test_reading_a_large_tensor_does_not_grow_the_resident_set(tmp_path):
    big = np.zeros(64 * 1024 * 1024, dtype=np.float32)  # 256 MiB
    path = tmp_path / "big.safetensors"
    paramdelta.save({"big": big}, path)
    del big
    before = rss_bytes()
    checkpoint = paramdelta.open(path)
    array = checkpoint["big"]
    assert array.nbytes == 256 * 1024 * 1024
    assert rss_bytes() - before < 32 * 1024 * 1024
    assert array[-1] == 0.0  # readable to the end


def test_a_closed_checkpoint_says_so(tmp_path):
    paramdelta.save({"w": np.zeros(2, np.float32)}, tmp_path / "m")
    with paramdelta.open(tmp_path / "m") as checkpoint:
        assert checkpoint["w"].tolist() == [0, 0]
    with pytest.raises(paramdelta.UsageError) as caught:
        checkpoint["w"]
    assert "closed" in str(caught.value)


def test_arrays_keep_the_mapping_alive_after_the_checkpoint_is_gone(tmp_path):
    paramdelta.save({"w": np.arange(10, dtype=np.float32)}, tmp_path / "m")
    checkpoint = paramdelta.open(tmp_path / "m")
    array = checkpoint["w"]
    checkpoint.close()
    del checkpoint
    import gc

    gc.collect()
    assert array.tolist() == list(range(10))


@pytest.mark.parametrize("dtype", [np.float32, np.float16, np.float64, np.int64, np.int8, np.bool_, ml_dtypes.bfloat16])
def test_save_writes_what_hugging_faces_reader_loads(tmp_path, dtype):
    values = (np.arange(24).reshape(2, 3, 4) % 5).astype(dtype)
    path = tmp_path / "m.safetensors"
    result = paramdelta.save({"x": values, "scalar": np.array(3, dtype=np.float32)}, path, metadata={"k": "v"})
    assert result.tensor_count == 2
    again = paramdelta.open(path)
    assert again["x"].dtype == values.dtype and np.array_equal(again["x"], values)
    assert again.metadata == {"format": "pt", "k": "v"}
    if dtype is not ml_dtypes.bfloat16:
        loaded = safetensors.numpy.load_file(str(path))
        assert np.array_equal(loaded["x"], values) and loaded["scalar"] == 3


def test_save_shards_a_directory_with_an_index(tmp_path):
    tensors = {f"layer.{i}.weight": np.full((64, 64), i, np.float32) for i in range(6)}
    paramdelta.save(tensors, tmp_path / "model", max_shard_size="40KB")
    index = json.loads((tmp_path / "model" / "model.safetensors.index.json").read_text())
    assert set(index["weight_map"]) == set(tensors)
    assert len(set(index["weight_map"].values())) > 1
    again = paramdelta.open(tmp_path / "model")
    for name, value in tensors.items():
        assert np.array_equal(again[name], value)


def test_save_takes_non_contiguous_arrays(tmp_path):
    value = np.arange(12, dtype=np.float32).reshape(3, 4).T
    paramdelta.save({"t": value}, tmp_path / "m.safetensors")
    assert np.array_equal(paramdelta.open(tmp_path / "m.safetensors")["t"], value)


def test_save_refuses_an_existing_output_unless_forced(tmp_path):
    path = tmp_path / "m.safetensors"
    paramdelta.save({"a": np.zeros(2, np.float32)}, path)
    with pytest.raises(paramdelta.ExistsError):
        paramdelta.save({"a": np.ones(2, np.float32)}, path)
    assert paramdelta.open(path)["a"].tolist() == [0, 0]
    paramdelta.save({"a": np.ones(2, np.float32)}, path, force=True)
    assert paramdelta.open(path)["a"].tolist() == [1, 1]


def test_a_delta_opens_with_its_tensors_under_the_models_names(tmp_path):
    paramdelta.compute(TINY / "base-v1", TINY / "chat-v1", tmp_path / "d")
    delta = paramdelta.open(tmp_path / "d")
    assert set(delta.keys()) == set(paramdelta.open(TINY / "chat-v1").keys())


def test_torch_tensors_share_the_mapping():
    torch = pytest.importorskip("torch")
    checkpoint = paramdelta.open(TINY / "base-v1")
    name = "model.norm.weight"
    t = checkpoint.tensor(name, framework="pt")
    assert t.dtype == torch.bfloat16
    assert t.data_ptr() == checkpoint._core.address(name)[0]
    assert torch.equal(t.view(torch.int16), torch.from_numpy(checkpoint.tensor(name, raw=True).view(np.int16).copy()))


def test_save_takes_torch_tensors(tmp_path):
    torch = pytest.importorskip("torch")
    value = torch.arange(6, dtype=torch.bfloat16).reshape(2, 3)
    paramdelta.save({"t": value}, tmp_path / "m.safetensors")
    assert torch.equal(paramdelta.open(tmp_path / "m.safetensors").tensor("t", framework="pt"), value)
