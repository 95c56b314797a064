#!/usr/bin/env bash
# Runs every test: the C++ suites through ctest, then the interoperability
# tests (Hugging Face's own Python libraries reading what we write) with pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD="${1:-build}"
export PARAMDELTA_CLI="$PWD/$BUILD/paramdelta"
ctest --test-dir "$BUILD" --output-on-failure -j "$(nproc)" --timeout 600
.venv/bin/python -m pytest -q tests/interop
# The Python package, built into the same directory (target paramdelta_python).
# A sanitized build cannot be loaded into an uninstrumented Python: skipped there.
if grep -q '^PARAMDELTA_SANITIZE:BOOL=ON' "$BUILD/CMakeCache.txt"; then
  echo "run_tests: tests/python skipped in a sanitizer build"
else
  cmake -S . -B "$BUILD" -DPARAMDELTA_PYTHON=ON -DPython_EXECUTABLE="$PWD/.venv/bin/python" >/dev/null
  cmake --build "$BUILD" --target paramdelta_python -j "$(nproc)"
  PYTHONPATH="$PWD/$BUILD/python" .venv/bin/python -m pytest -q tests/python
  # Again with PyTorch installed (tools/setup.sh's second environment): the
  # torch paths that skip above run here; the same module, built for the same
  # interpreter. `pip install .` (compiling the library again) ran above once.
  torch_venv="$(tools/torch_venv.sh)"
  if [ ! -f "$torch_venv/.complete" ]; then
    echo "run_tests: no PyTorch environment at $torch_venv: run tools/setup.sh (make setup) first" >&2
    exit 1
  fi
  echo "run_tests: tests/python with torch"
  PARAMDELTA_SKIP_PIP_INSTALL=1 PYTHONPATH="$PWD/$BUILD/python" "$torch_venv/bin/python" -m pytest -q tests/python
fi
