"""The examples run as a user would run them, and do what they say."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import paramdelta
from package_support import REPO, TINY


def test_basic_usage_runs_and_writes_the_delta_the_model_and_the_page(tmp_path):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    result = subprocess.run([sys.executable, str(REPO / "examples" / "basic_usage.py"), str(tmp_path)],
                            capture_output=True, text=True, env=env, timeout=300)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("delta: ")
    assert (tmp_path / "analysis_results" / "analysis.html").is_file()
    # The saved delta is one the program reads, and the model is base-v2 + delta.
    assert paramdelta.inspect(tmp_path / "model_delta.safetensors").kind == "delta"
    applied = paramdelta.open(tmp_path / "base-v2-paramdelta.safetensors")
    assert set(applied.keys()) == set(paramdelta.open(TINY / "base-v2").keys())
