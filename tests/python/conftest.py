"""Shared fixtures for the Python package's tests: the package itself (built
into <build>/python, on PYTHONPATH), the command line to compare with
(PARAMDELTA_CLI), and small models written for each test."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any, Dict

import numpy as np
import pytest

import paramdelta

REPO = Path(__file__).resolve().parents[2]
TINY = REPO / "models" / "tiny"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "slow: builds the package from scratch (minutes)")


@pytest.fixture(scope="session")
def cli() -> Any:
    """Runs the paramdelta program; returns the CompletedProcess."""
    path = os.environ.get("PARAMDELTA_CLI")
    if not path or not Path(path).is_file():
        pytest.fail("set PARAMDELTA_CLI to the built paramdelta program")

    def run(*args: Any, check: bool = True) -> subprocess.CompletedProcess[str]:
        result = subprocess.run([path, *map(str, args)], capture_output=True, text=True, timeout=300)
        if check and result.returncode != 0:
            raise AssertionError(f"paramdelta {' '.join(map(str, args))} exited {result.returncode}: {result.stderr}")
        return result

    return run


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


@pytest.fixture()
def model_pair(tmp_path: Path) -> Any:
    """Writes base, post and new-base models of one dtype; returns their paths."""

    def make(dtype: str) -> Dict[str, Path]:
        paths = {}
        for role, tensors in (
            ("base", layered_model(dtype, 1)),
            ("post", layered_model(dtype, 2, noise_of=1)),
            ("new", layered_model(dtype, 3, noise_of=1)),
        ):
            paths[role] = tmp_path / f"{role}-{dtype}"
            paramdelta.save(tensors, paths[role])
        return paths

    return make
