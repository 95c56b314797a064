"""Library errors arrive as paramdelta.Error subclasses, one per kind, with
the file, tensor, field and hint, and the command line's one line as str()."""

from __future__ import annotations

import math
import numpy as np
import pytest

import paramdelta
from paramdelta import _core

KINDS = {
    "usage": paramdelta.UsageError,
    "invalid_input": paramdelta.InvalidInputError,
    "mismatch": paramdelta.MismatchError,
    "non_finite": paramdelta.NonFiniteError,
    "io": paramdelta.IoError,
    "exists": paramdelta.ExistsError,
    "not_found": paramdelta.NotFoundError,
    "cancelled": paramdelta.CancelledError,
    "internal": paramdelta.InternalError,
}


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_each_error_kind_becomes_its_own_class_with_its_context(kind):
    with pytest.raises(KINDS[kind]) as caught:
        _core._raise_error(kind, "went wrong", "f.safetensors", "w", "dtype", "do this")
    error = caught.value
    assert isinstance(error, paramdelta.Error)
    assert (error.file, error.tensor, error.field, error.hint, error.message) == (
        "f.safetensors", "w", "dtype", "do this", "went wrong")
    assert str(error) == "f.safetensors: tensor 'w': field 'dtype': went wrong (do this)"


def test_a_missing_input_is_a_not_found_error_naming_it(tmp_path):
    with pytest.raises(paramdelta.Error) as caught:
        paramdelta.inspect(tmp_path / "nothing-here")
    assert "nothing-here" in str(caught.value)


def test_an_existing_output_is_an_exists_error_and_is_kept(tmp_path, model_pair):
    m = model_pair("F32")
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "mine.txt").write_text("keep")
    with pytest.raises(paramdelta.ExistsError) as caught:
        paramdelta.compute(m["base"], m["post"], tmp_path / "taken")
    assert caught.value.file.endswith("taken")
    assert (tmp_path / "taken" / "mine.txt").read_text() == "keep"


def test_a_bad_option_value_is_a_usage_error_naming_the_field(model_pair, tmp_path):
    m = model_pair("F32")
    with pytest.raises(paramdelta.UsageError) as caught:
        paramdelta.compute(m["base"], m["post"], tmp_path / "d", vocab_mismatch="sometimes")
    assert caught.value.field == "vocab_mismatch"
    with pytest.raises(paramdelta.UsageError) as caught:
        paramdelta.compute(m["base"], m["post"], tmp_path / "d", max_shard_size="lots")
    assert caught.value.field == "max_shard_size"
    with pytest.raises(paramdelta.UsageError) as caught:
        paramdelta.apply(m["base"], m["post"], tmp_path / "d", dtype="int8")
    assert caught.value.field == "dtype"
    assert isinstance(caught.value, ValueError)
    assert not (tmp_path / "d").exists()


def test_models_that_do_not_fit_are_a_mismatch_error_naming_the_tensor(tmp_path):
    paramdelta.save({"w": np.zeros((2, 3), np.float32)}, tmp_path / "a")
    paramdelta.save({"w": np.zeros((3, 2), np.float32)}, tmp_path / "b")
    with pytest.raises(paramdelta.MismatchError) as caught:
        paramdelta.compute(tmp_path / "a", tmp_path / "b", tmp_path / "d")
    assert caught.value.tensor == "w"
    assert "[2, 3]" in str(caught.value) and "[3, 2]" in str(caught.value)


def test_a_nan_weight_is_a_non_finite_error_naming_the_tensor(tmp_path):
    paramdelta.save({"w": np.zeros(4, np.float32)}, tmp_path / "a")
    paramdelta.save({"w": np.array([0, math.nan, 0, 0], np.float32)}, tmp_path / "b")
    with pytest.raises(paramdelta.NonFiniteError) as caught:
        paramdelta.compute(tmp_path / "a", tmp_path / "b", tmp_path / "d")
    assert caught.value.tensor == "w"
    assert not (tmp_path / "d").exists()


def test_a_broken_file_is_an_invalid_input_error_naming_it(tmp_path):
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json at all")
    with pytest.raises(paramdelta.InvalidInputError) as caught:
        paramdelta.open(bad)
    assert "bad.safetensors" in caught.value.file


def test_an_unknown_tensor_is_a_not_found_error_and_a_key_error(tmp_path):
    paramdelta.save({"w": np.zeros(4, np.float32)}, tmp_path / "m")
    checkpoint = paramdelta.open(tmp_path / "m")
    with pytest.raises(KeyError):
        checkpoint["nope"]
    with pytest.raises(paramdelta.NotFoundError) as caught:
        checkpoint.tensor("nope")
    assert caught.value.tensor == "nope"


def test_an_output_the_system_refuses_is_an_io_error(tmp_path):
    # sysfs refuses new files even to root.
    with pytest.raises(paramdelta.IoError) as caught:
        paramdelta.save({"w": np.zeros(4, np.float32)}, "/sys/paramdelta-test.safetensors")
    assert "cannot create file" in str(caught.value)
