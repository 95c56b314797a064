"""Helpers of the Python package's tests (shared by conftest and the tests)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Dict

import numpy as np

import paramdelta

REPO = Path(__file__).resolve().parents[2]
TINY = REPO / "models" / "tiny"


def cli_json(cli: Any, *args: Any) -> Dict[str, Any]:
    return json.loads(cli(*args, "--json").stdout)


def without_timing(d: Dict[str, Any]) -> Dict[str, Any]:
    """A summary without the fields that differ from run to run."""
    return {k: v for k, v in d.items() if k not in ("seconds", "throughput_gb_per_s")}


def layered_model(dtype: str, seed: int, *, noise_of: int | None = None, rows: int = 64, cols: int = 48) -> Dict[str, np.ndarray]:
    """A small model's tensors in `dtype` ("BF16", "F16", "F32"): three
    matrices and a vector, values from `seed`, or (noise_of) the model of
    seed `noise_of` plus small noise."""
    rng = np.random.default_rng(seed)
    names = {"model.embed_tokens.weight": (rows, cols), "model.layers.0.mlp.up_proj.weight": (cols, cols),
             "model.layers.0.input_layernorm.weight": (cols,), "lm_head.weight": (rows, cols)}
    base_rng = np.random.default_rng(noise_of if noise_of is not None else seed)
    out = {}
    for name, shape in names.items():
        values = base_rng.standard_normal(shape).astype(np.float32) * 0.05
        if noise_of is not None:
            values = values + rng.standard_normal(shape).astype(np.float32) * 0.002
        out[name] = values.astype(paramdelta._dtypes.numpy_dtype(dtype))
    return out
