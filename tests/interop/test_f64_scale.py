"""apply --scale on an F64 model: the scale stays a double down to the kernel,
so the result is base + scale·Δ computed in double, as NumPy computes it, bit
for bit (not base + float32(scale)·Δ)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from safetensors.numpy import load_file, save_file


def _models(work: Path) -> dict:
    rng = np.random.default_rng(11)
    # Multiples of 2^-20 below 2^20: post - base is exact in double, so the
    # lossless delta holds it without exceptions and the reference is plain.
    grid = 2.0**-20

    def tensor(shape):
        return (rng.integers(-(2**30), 2**30, size=shape) * grid).astype(np.float64)

    shapes = {"model.embed_tokens.weight": (64, 16), "model.layers.0.mlp.up_proj.weight": (48, 16), "norm": (16,)}
    base = {name: tensor(shape) for name, shape in shapes.items()}
    post = {name: base[name] + rng.integers(-5000, 5000, size=shape) * grid for name, shape in shapes.items()}
    new_base = {name: tensor(shape) for name, shape in shapes.items()}
    for name, values in (("base", base), ("post", post), ("new_base", new_base)):
        save_file(values, str(work / f"{name}.safetensors"))
    return {"base": base, "post": post, "new_base": new_base}


def _bits(a: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(a, dtype=np.float64).view(np.uint64)


@pytest.mark.parametrize("scale", ["0.1", "-0.3", "0.7"])
def test_apply_scales_an_f64_model_in_double(tmp_path, run_paramdelta, scale):
    m = _models(tmp_path)
    run_paramdelta("compute", "--base", tmp_path / "base.safetensors", "--post", tmp_path / "post.safetensors",
                   "-o", tmp_path / "delta", "-q")
    out = tmp_path / "out.safetensors"
    run_paramdelta("apply", "--base", tmp_path / "new_base.safetensors", "--delta", tmp_path / "delta", "-o", out,
                   "--scale", scale, "-q")
    got = load_file(str(out))
    s = float(scale)
    assert s != float(np.float32(s))  # the test means something only where float32 rounds the scale
    for name, new in m["new_base"].items():
        delta = m["post"][name] - m["base"][name]  # exact (see _models)
        want = new + s * delta  # double, two roundings, as the kernel computes
        assert got[name].dtype == np.float64
        differing = int(np.count_nonzero(_bits(got[name]) != _bits(want)))
        assert differing == 0, f"{name}: {differing} of {want.size} elements differ from base + {scale}*delta"
        narrowed = new + np.float64(np.float32(s)) * delta
        assert np.count_nonzero(_bits(narrowed) != _bits(want)) > 0  # the reference tells the two apart
