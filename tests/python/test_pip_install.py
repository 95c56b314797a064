"""`pip install .` in a fresh virtual environment builds the package from
this repository and installs the module and the program (slow: it compiles
the library; PARAMDELTA_SKIP_PIP_INSTALL=1 skips it)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import venv

import pytest

from package_support import REPO, TINY

pytestmark = pytest.mark.slow


@pytest.mark.skipif(os.environ.get("PARAMDELTA_SKIP_PIP_INSTALL") == "1", reason="PARAMDELTA_SKIP_PIP_INSTALL=1")
def test_pip_install_in_a_fresh_venv_gives_the_module_and_the_program(tmp_path):
    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=True).create(env_dir)
    python = env_dir / "bin" / "python"
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    if shutil.which("ccache"):
        env["CMAKE_ARGS"] = "-DCMAKE_CXX_COMPILER_LAUNCHER=ccache"
    env["CMAKE_BUILD_PARALLEL_LEVEL"] = str(os.cpu_count() or 2)
    start = time.monotonic()
    subprocess.run([str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check", str(REPO)],
                   check=True, env=env, timeout=3600, cwd=tmp_path)
    print(f"pip install . took {time.monotonic() - start:.0f} s", file=sys.stderr)
    check = ("import paramdelta, sys; r = paramdelta.inspect(sys.argv[1]); "
             "print(paramdelta.__file__, r.kind, r.parameters)")
    shown = subprocess.run([str(python), "-c", check, str(TINY / "base-v1")], check=True, env=env,
                           capture_output=True, text=True, cwd=tmp_path).stdout
    assert str(env_dir) in shown and " model " in shown
    program = env_dir / "bin" / "paramdelta"
    assert subprocess.run([str(program), "--version"], check=True, capture_output=True, text=True).stdout.startswith(
        "paramdelta ")
