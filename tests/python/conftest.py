"""Shared fixtures for the Python package's tests: the package itself (built
into <build>/python, on PYTHONPATH), the command line to compare with
(PARAMDELTA_CLI), and small models written for each test."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any, Dict

import numpy as np
import pytest

import paramdelta

from package_support import layered_model


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
