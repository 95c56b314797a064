"""The package's annotations and the extension module's stubs hold up under
mypy --strict, on the package and on the examples a user would write."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from package_support import REPO


def test_the_package_and_the_examples_pass_mypy_strict(tmp_path):
    pytest.importorskip("mypy")
    env = dict(os.environ, MYPYPATH=str(REPO / "python"))
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--cache-dir", str(tmp_path / "cache"),
         "--config-file", str(REPO / "pyproject.toml"), str(REPO / "python" / "paramdelta"),
         str(REPO / "examples")],
        capture_output=True, text=True, env=env, cwd=REPO, timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr
