"""With torch installed: state dicts of torch tensors give the program's
numbers bit for bit (BF16, F16, F32), tensors read from a model are views of
its mapping (no copy), and torch tensors save as models. Skipped where torch
is not installed; tools/run_tests.sh runs these tests in an environment with
torch too."""

from __future__ import annotations

import numpy as np
import pytest

import paramdelta
from package_support import TINY
from paramdelta.compat import ModelFormatHandler, ParamDelta

torch = pytest.importorskip("torch")

DTYPES = [("BF16", "bf16", torch.bfloat16), ("F16", "f16", torch.float16), ("F32", "f32", torch.float32)]


def raw(tensor):
    """The tensor's bytes, whatever its dtype (NumPy has no bfloat16)."""
    return tensor.detach().contiguous().reshape(-1).view(torch.uint8).numpy().tobytes()


def same_state_dicts(ours, program):
    assert list(ours) == list(program)
    for name, value in ours.items():
        assert isinstance(value, torch.Tensor), name
        assert value.dtype == program[name].dtype and value.shape == program[name].shape, name
        assert raw(value) == raw(program[name]), name


def load(path):
    return ModelFormatHandler.load_state_dict(path, framework="pt")


def test_torch_is_the_default_framework_of_load_state_dict():
    state_dict = ModelFormatHandler.load_state_dict(TINY / "base-v1")
    assert all(isinstance(t, torch.Tensor) for t in state_dict.values())


@pytest.mark.parametrize("dtype,flag,torch_dtype", DTYPES)
def test_calculate_delta_of_torch_tensors_is_the_programs_delta(tmp_path, model_pair, cli, dtype, flag, torch_dtype):
    m = model_pair(dtype)
    delta = ParamDelta().calculate_delta(load(m["post"]), load(m["base"]))
    assert {t.dtype for t in delta.values()} == {torch_dtype}
    cli("compute", "--base", m["base"], "--post", m["post"], "-o", tmp_path / "d", "--delta-dtype", flag)
    same_state_dicts(delta, load(tmp_path / "d"))


@pytest.mark.parametrize("dtype,flag,torch_dtype", DTYPES)
def test_apply_delta_of_torch_tensors_is_the_programs_model(tmp_path, model_pair, cli, dtype, flag, torch_dtype):
    m = model_pair(dtype)
    cli("compute", "--base", m["base"], "--post", m["post"], "-o", tmp_path / "d", "--delta-dtype", flag)
    cli("apply", "--base", m["new"], "--delta", tmp_path / "d", "-o", tmp_path / "out", "--scale", "0.3")
    result = ParamDelta().apply_delta(load(m["new"]), load(tmp_path / "d"), scale=0.3)
    same_state_dicts(result, load(tmp_path / "out"))


@pytest.mark.parametrize("dtype,flag,torch_dtype", DTYPES)
def test_combine_deltas_of_torch_tensors_is_the_programs_sum(tmp_path, model_pair, cli, dtype, flag, torch_dtype):
    m = model_pair(dtype)
    for name, post in (("d1", m["post"]), ("d2", m["new"])):
        cli("compute", "--base", m["base"], "--post", post, "-o", tmp_path / name, "--delta-dtype", flag)
    cli("combine", "--delta", tmp_path / "d1", "--delta", tmp_path / "d2", "--weight", "0.7", "--weight", "-0.2",
        "-o", tmp_path / "sum")
    combined = ParamDelta().combine_deltas([load(tmp_path / "d1"), load(tmp_path / "d2")], weights=[0.7, -0.2])
    same_state_dicts(combined, load(tmp_path / "sum"))


def test_tensors_made_by_torch_transposed_or_with_gradients_give_the_programs_delta(tmp_path, cli):
    generator = torch.Generator().manual_seed(7)
    base = {"w": torch.randn(48, 32, generator=generator).to(torch.bfloat16).t(),  # not contiguous
            "b": torch.randn(32, generator=generator, requires_grad=True)}
    post = {"w": (base["w"].float() + 0.01 * torch.randn(32, 48, generator=generator)).to(torch.bfloat16),
            "b": (base["b"] * 1.01).detach().requires_grad_()}
    delta = ParamDelta().calculate_delta(post, base)
    paramdelta.save(base, tmp_path / "base")
    paramdelta.save(post, tmp_path / "post")
    cli("compute", "--base", tmp_path / "base", "--post", tmp_path / "post", "-o", tmp_path / "d",
        "--delta-dtype", "bf16")
    program = load(tmp_path / "d")
    assert raw(delta["w"]) == raw(program["w"])
    # "b" is F32: the program's compact F32 delta is the same subtraction.
    cli("compute", "--base", tmp_path / "base", "--post", tmp_path / "post", "-o", tmp_path / "d32",
        "--delta-dtype", "f32", "--force")
    assert raw(delta["b"]) == raw(load(tmp_path / "d32")["b"])


@pytest.mark.parametrize("dtype,flag,torch_dtype", DTYPES)
def test_tensors_of_a_model_are_views_of_its_mapping(model_pair, dtype, flag, torch_dtype):
    m = model_pair(dtype)
    checkpoint = paramdelta.open(m["base"])
    for name in checkpoint:
        tensor = checkpoint.tensor(name, framework="pt")
        address, size = checkpoint._core.address(name)
        assert tensor.dtype == torch_dtype
        assert tensor.data_ptr() == address and tensor.numel() * tensor.element_size() == size, name


@pytest.mark.parametrize("dtype", ["F16", "F32"])
def test_numpy_arrays_of_a_model_reach_torch_through_dlpack_without_a_copy(model_pair, dtype):
    checkpoint = paramdelta.open(model_pair(dtype)["base"])
    for name in checkpoint:
        tensor = torch.from_dlpack(checkpoint[name])
        assert tensor.data_ptr() == checkpoint._core.address(name)[0], name


def test_the_delta_of_mapped_tensors_does_not_copy_its_inputs(model_pair):
    # The kernels read the inputs where they are: a tensor that is a view of
    # the mapping stays one (nothing replaced it with a contiguous copy).
    m = model_pair("BF16")
    base, post = load(m["base"]), load(m["post"])
    before = {name: t.data_ptr() for name, t in post.items()}
    ParamDelta().calculate_delta(post, base)
    assert {name: t.data_ptr() for name, t in post.items()} == before


@pytest.mark.parametrize("dtype,flag,torch_dtype", DTYPES)
def test_torch_tensors_save_as_the_model_they_came_from(tmp_path, model_pair, dtype, flag, torch_dtype):
    m = model_pair(dtype)
    original = load(m["base"])
    paramdelta.save(original, tmp_path / "copy")
    same_state_dicts(original, load(tmp_path / "copy"))
    assert paramdelta.inspect(tmp_path / "copy").parameters == paramdelta.inspect(m["base"]).parameters


def test_a_tensor_on_another_device_or_of_another_dtype_is_refused():
    with pytest.raises(paramdelta.UsageError) as caught:
        ParamDelta().calculate_delta({"w": torch.zeros(2, dtype=torch.complex64)},
                                     {"w": torch.zeros(2, dtype=torch.complex64)})
    assert caught.value.tensor == "w"
    if hasattr(torch, "device"):
        meta = torch.zeros(2, device="meta")
        with pytest.raises(paramdelta.UsageError) as caught:
            ParamDelta().calculate_delta({"w": meta}, {"w": meta})
        assert "meta" in str(caught.value)


def test_a_state_dict_of_torch_and_numpy_mixed_gives_numbers_of_both(model_pair):
    m = model_pair("F32")
    post = load(m["post"])
    base = ModelFormatHandler.load_state_dict(m["base"], framework="np")
    delta = ParamDelta().calculate_delta(post, base)
    expected = ParamDelta().calculate_delta(ModelFormatHandler.load_state_dict(m["post"], framework="np"), base)
    for name in delta:
        assert isinstance(delta[name], torch.Tensor)
        assert raw(delta[name]) == np.ascontiguousarray(expected[name]).tobytes()
