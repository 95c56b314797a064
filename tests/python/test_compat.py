"""The reference implementation's names: state dicts in memory, computed by
the library's kernels with the command line's rounding."""

from __future__ import annotations

import numpy as np
import pytest

import paramdelta
from package_support import TINY
from paramdelta.compat import ModelFormatHandler, ParamDelta, create_analysis_plots


def bits(array):
    return np.ascontiguousarray(array).view(np.uint8).tobytes()


def same_state_dicts(a, b):
    assert list(a) == list(b)
    for name in a:
        assert a[name].dtype == b[name].dtype, name
        assert a[name].shape == b[name].shape, name
        assert bits(a[name]) == bits(b[name]), name


@pytest.mark.parametrize("dtype,flag", [("BF16", "bf16"), ("F16", "f16"), ("F32", "f32")])
def test_calculate_delta_is_the_programs_delta_bit_for_bit(tmp_path, model_pair, cli, dtype, flag):
    m = model_pair(dtype)
    pd = ParamDelta(device="cpu")
    base = ModelFormatHandler.load_state_dict(m["base"], framework="np")
    post = ModelFormatHandler.load_state_dict(m["post"], framework="np")
    delta = pd.calculate_delta(post, base)
    # The program's delta tensors in the post dtype, without the exception list.
    cli("compute", "--base", m["base"], "--post", m["post"], "-o", tmp_path / "d", "--delta-dtype", flag)
    same_state_dicts(delta, ModelFormatHandler.load_state_dict(tmp_path / "d", framework="np"))


@pytest.mark.parametrize("dtype,flag", [("BF16", "bf16"), ("F16", "f16"), ("F32", "f32")])
def test_apply_delta_with_a_scale_is_the_programs_result_bit_for_bit(tmp_path, model_pair, cli, dtype, flag):
    m = model_pair(dtype)
    pd = ParamDelta()
    cli("compute", "--base", m["base"], "--post", m["post"], "-o", tmp_path / "d", "--delta-dtype", flag)
    cli("apply", "--base", m["new"], "--delta", tmp_path / "d", "-o", tmp_path / "out", "--scale", "0.5")
    new_base = ModelFormatHandler.load_state_dict(m["new"], framework="np")
    delta = ModelFormatHandler.load_state_dict(tmp_path / "d", framework="np")
    same_state_dicts(pd.apply_delta(new_base, delta, scale=0.5),
                     ModelFormatHandler.load_state_dict(tmp_path / "out", framework="np"))


def test_combine_deltas_with_weights_is_the_programs_sum_bit_for_bit(tmp_path, model_pair, cli):
    m = model_pair("BF16")
    for name, post in (("d1", m["post"]), ("d2", m["new"])):
        cli("compute", "--base", m["base"], "--post", post, "-o", tmp_path / name, "--delta-dtype", "bf16")
    cli("combine", "--delta", tmp_path / "d1", "--delta", tmp_path / "d2", "--weight", "0.7", "--weight", "0.3",
        "-o", tmp_path / "sum")
    d1 = ModelFormatHandler.load_state_dict(tmp_path / "d1", framework="np")
    d2 = ModelFormatHandler.load_state_dict(tmp_path / "d2", framework="np")
    same_state_dicts(ParamDelta().combine_deltas([d1, d2], weights=[0.7, 0.3]),
                     ModelFormatHandler.load_state_dict(tmp_path / "sum", framework="np"))


@pytest.mark.parametrize("name", ["model_delta.safetensors", "model_delta"])
def test_a_saved_delta_is_one_the_program_applies_like_apply_delta(tmp_path, cli, name):
    pd = ParamDelta()
    base = ModelFormatHandler.load_state_dict(TINY / "base-v1", framework="np")
    post = ModelFormatHandler.load_state_dict(TINY / "chat-v1", framework="np")
    delta = pd.calculate_delta(post, base)
    ModelFormatHandler.save_state_dict(delta, tmp_path / name)
    same_state_dicts(delta, ModelFormatHandler.load_state_dict(tmp_path / name, framework="np"))
    assert paramdelta.inspect(tmp_path / name).kind == "delta"
    cli("apply", "--base", TINY / "base-v2", "--delta", tmp_path / name, "-o", tmp_path / "out", "--scale", "0.5")
    new_base = ModelFormatHandler.load_state_dict(TINY / "base-v2", framework="np")
    same_state_dicts(pd.apply_delta(new_base, delta, scale=0.5),
                     ModelFormatHandler.load_state_dict(tmp_path / "out", framework="np"))


def test_a_plain_state_dict_is_saved_as_a_model(tmp_path):
    ModelFormatHandler.save_state_dict({"w": np.ones(3, np.float32)}, tmp_path / "m.safetensors")
    assert paramdelta.inspect(tmp_path / "m.safetensors").kind == "model"


def test_a_tensor_missing_on_one_side_is_a_mismatch_error_naming_it():
    pd = ParamDelta()
    with pytest.raises(paramdelta.MismatchError) as caught:
        pd.calculate_delta({"a": np.zeros(2, np.float32), "b": np.zeros(2, np.float32)}, {"a": np.zeros(2, np.float32)})
    assert caught.value.tensor == "b" and "post" in str(caught.value)


def test_shapes_that_differ_are_a_mismatch_error_naming_the_tensor_and_both_shapes():
    pd = ParamDelta()
    with pytest.raises(paramdelta.MismatchError) as caught:
        pd.calculate_delta({"w": np.zeros((2, 3), np.float32)}, {"w": np.zeros((3, 2), np.float32)})
    assert caught.value.tensor == "w"
    assert str(caught.value) == ("tensor 'w': shape mismatch: base [3, 2] vs post [2, 3] (the two models have "
                                 "different architectures; a delta needs identical shapes)")
    with pytest.raises(paramdelta.MismatchError) as caught:
        pd.apply_delta({"w": np.zeros((2, 3), np.float32)}, {"w": np.zeros(6, np.float32)})
    assert "new base [2, 3] vs delta [6]" in str(caught.value)


def test_integer_tensors_are_refused_naming_the_tensor():
    with pytest.raises(paramdelta.MismatchError) as caught:
        ParamDelta().calculate_delta({"ids": np.zeros(2, np.int64)}, {"ids": np.zeros(2, np.int64)})
    assert caught.value.tensor == "ids"


def test_a_nan_is_refused_unless_allowed():
    post = {"w": np.array([1.0, np.nan], np.float32)}
    base = {"w": np.zeros(2, np.float32)}
    with pytest.raises(paramdelta.NonFiniteError):
        ParamDelta().calculate_delta(post, base)
    assert np.isnan(ParamDelta(allow_non_finite=True).calculate_delta(post, base)["w"][1])


def test_a_difference_beyond_the_dtypes_range_is_an_error_naming_the_element():
    post = {"w": np.array([1.0, 3.0e38], np.float32)}
    base = {"w": np.array([0.0, -3.0e38], np.float32)}
    with pytest.raises(paramdelta.NonFiniteError) as caught:
        ParamDelta().calculate_delta(post, base)
    assert caught.value.tensor == "w"
    assert "element 1: post - base = 6e+38" in str(caught.value)
    assert "overflows F32" in str(caught.value)


def test_only_the_cpu_is_a_device():
    with pytest.raises(paramdelta.UsageError):
        ParamDelta(device="cuda")


def test_weights_must_match_the_deltas():
    with pytest.raises(paramdelta.UsageError) as caught:
        ParamDelta().combine_deltas([{"w": np.zeros(2, np.float32)}], weights=[0.5, 0.5])
    assert caught.value.option == "weights"


def test_large_tensors_are_computed_on_several_threads_with_the_same_bits():
    rng = np.random.default_rng(0)
    base = {"w": rng.standard_normal(3_000_000).astype(np.float32)}
    post = {"w": base["w"] + rng.standard_normal(3_000_000).astype(np.float32) * 1e-3}
    one = ParamDelta(threads=1).calculate_delta(post, base)
    many = ParamDelta(threads=4).calculate_delta(post, base)
    assert bits(one["w"]) == bits(many["w"])
    assert np.array_equal(one["w"], post["w"] - base["w"])  # f32: one rounding of the exact difference


def test_create_analysis_plots_writes_the_analysis_page(tmp_path):
    paramdelta.compute(TINY / "base-v1", TINY / "chat-v1", tmp_path / "d")
    page = create_analysis_plots(delta_path=tmp_path / "d", output_dir=tmp_path / "analysis_results")
    assert page == tmp_path / "analysis_results" / "analysis.html"
    assert "model.layers.0" in page.read_text()


def test_state_dicts_of_torch_tensors_give_torch_tensors():
    torch = pytest.importorskip("torch")
    post = {"w": torch.tensor([1.5, 2.5], dtype=torch.bfloat16)}
    base = {"w": torch.tensor([1.0, 2.0], dtype=torch.bfloat16)}
    delta = ParamDelta().calculate_delta(post, base)
    assert isinstance(delta["w"], torch.Tensor) and delta["w"].dtype == torch.bfloat16
    assert delta["w"].tolist() == [0.5, 0.5]


def test_plots_need_matplotlib_or_write_a_png(tmp_path):
    paramdelta.compute(TINY / "base-v1", TINY / "chat-v1", tmp_path / "d")
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        with pytest.raises(paramdelta.UsageError) as caught:
            create_analysis_plots(delta_path=tmp_path / "d", output_dir=tmp_path / "out", plots=True)
        assert "matplotlib" in str(caught.value)
        return
    create_analysis_plots(delta_path=tmp_path / "d", output_dir=tmp_path / "out", plots=True)
    assert (tmp_path / "out" / "block_norms.png").read_bytes()[:4] == b"\x89PNG"
