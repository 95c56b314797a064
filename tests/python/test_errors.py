"""Library errors arrive as paramdelta.Error subclasses, one per kind, with
the file, tensor, field and hint, and the command line's one line as str()."""

from __future__ import annotations

import math
import re

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


def test_a_bad_option_value_is_a_usage_error_naming_the_keyword(model_pair, tmp_path):
    m = model_pair("F32")
    with pytest.raises(paramdelta.UsageError) as caught:
        paramdelta.compute(m["base"], m["post"], tmp_path / "d", vocab_mismatch="sometimes")
    assert caught.value.option == "vocab_mismatch"
    assert str(caught.value) == "vocab_mismatch 'sometimes' is not a policy (use 'error' or 'overlap')"
    with pytest.raises(paramdelta.UsageError) as caught:
        paramdelta.compute(m["base"], m["post"], tmp_path / "d", max_shard_size="lots")
    assert caught.value.option == "max_shard_size"
    assert str(caught.value).startswith("max_shard_size 'lots' is not a size")
    with pytest.raises(paramdelta.UsageError) as caught:
        paramdelta.apply(m["base"], m["post"], tmp_path / "d", dtype="int8")
    assert caught.value.option == "dtype"
    assert str(caught.value).startswith("dtype 'int8' is not supported")
    assert isinstance(caught.value, ValueError)
    assert not (tmp_path / "d").exists()


def _no_flag(text: str) -> bool:
    return re.search(r"--[a-z]", text) is None


def test_the_librarys_options_are_named_as_keyword_arguments(model_pair, tmp_path):
    """What the command line prints as flags (--allow-non-finite, --method ties)
    reads here as the keyword arguments that set them."""
    m = model_pair("F32")
    paramdelta.compute(m["base"], m["post"], tmp_path / "d1")
    cases = [
        (lambda: paramdelta.apply(m["base"], tmp_path / "d1", tmp_path / "o", scale=math.inf),
         "scale", "scale must be a finite number"),
        (lambda: paramdelta.combine([tmp_path / "d1", tmp_path / "d1"], tmp_path / "o", density=0.5),
         "density", "add method='ties' (or dare, dare-ties), or drop density"),
        (lambda: paramdelta.combine([tmp_path / "d1", tmp_path / "d1"], tmp_path / "o", weights=[1.0]),
         "weights", "got 1 weights (weights) for 2 deltas"),
        (lambda: paramdelta.combine([tmp_path / "d1", tmp_path / "d1"], tmp_path / "o", method="mean"),
         "method", "method 'mean' is not a method"),
        (lambda: paramdelta.analyze(tmp_path / "d1", new_base=m["post"]),
         "base", "give base, the model the delta was computed from, with new_base"),
        (lambda: paramdelta.apply(m["base"], m["post"], tmp_path / "o"),
         "base", "a model is given as the base (base)"),
    ]
    for call, option, expected in cases:
        with pytest.raises(paramdelta.UsageError) as caught:
            call()
        error = caught.value
        assert error.option == option, str(error)
        assert expected in str(error)
        assert _no_flag(str(error)) and _no_flag(error.message) and _no_flag(error.hint), str(error)
    assert not (tmp_path / "o").exists()


def test_a_library_error_about_an_option_spells_a_setting_as_python_does():
    with pytest.raises(paramdelta.UsageError) as caught:
        _core._raise_error("usage", "is wrong", "", "", "", "", "vocab_mismatch")
    assert caught.value.option == "vocab_mismatch"
    assert str(caught.value) == "vocab_mismatch is wrong"


def test_models_that_do_not_fit_are_a_mismatch_error_naming_the_tensor(tmp_path):
    paramdelta.save({"w": np.zeros((2, 3), np.float32)}, tmp_path / "a")
    paramdelta.save({"w": np.zeros((3, 2), np.float32)}, tmp_path / "b")
    with pytest.raises(paramdelta.MismatchError) as caught:
        paramdelta.compute(tmp_path / "a", tmp_path / "b", tmp_path / "d")
    assert caught.value.tensor == "w"
    assert "[2, 3]" in str(caught.value) and "[3, 2]" in str(caught.value)


def test_a_nan_weight_is_a_non_finite_error_naming_the_tensor_and_the_keyword_that_allows_it(tmp_path):
    paramdelta.save({"w": np.zeros(4, np.float32)}, tmp_path / "a")
    paramdelta.save({"w": np.array([0, math.nan, 0, 0], np.float32)}, tmp_path / "b")
    with pytest.raises(paramdelta.NonFiniteError) as caught:
        paramdelta.compute(tmp_path / "a", tmp_path / "b", tmp_path / "d")
    assert caught.value.tensor == "w"
    assert caught.value.option == "allow_non_finite"
    assert "pass allow_non_finite=True" in caught.value.hint and _no_flag(str(caught.value))
    assert not (tmp_path / "d").exists()
    paramdelta.compute(tmp_path / "a", tmp_path / "b", tmp_path / "d", allow_non_finite=True)
    assert (tmp_path / "d").exists()


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
