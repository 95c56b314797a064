"""Shared fixtures for the interoperability tests: the built paramdelta
program (PARAMDELTA_CLI) and the repository's tools directory on sys.path."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
if str(REPO / "tools") not in sys.path:
    sys.path.insert(0, str(REPO / "tools"))


@pytest.fixture(scope="session")
def paramdelta_cli() -> str:
    path = os.environ.get("PARAMDELTA_CLI")
    if not path or not Path(path).is_file():
        pytest.fail("set PARAMDELTA_CLI to the built paramdelta program")
    return path


@pytest.fixture(scope="session")
def run_paramdelta(paramdelta_cli):
    """Runs the program with arguments; returns the CompletedProcess (text mode)."""

    def run(*args, check=True):
        result = subprocess.run([paramdelta_cli, *map(str, args)], capture_output=True, text=True, timeout=300)
        if check and result.returncode != 0:
            raise AssertionError(f"paramdelta {' '.join(map(str, args))} exited {result.returncode}: {result.stderr}")
        return result

    return run
