#!/usr/bin/env bash
# The Python package's benchmark (bench/python_api.py; arguments go to it):
#   bench/python_api.sh files [--preset 120m|1.1b] [--runs N]   paramdelta.compute/apply vs the program
#   bench/python_api.sh memory [--runs N]                        compat deltas in memory vs PyTorch (1.1B)
# It runs in tools/setup.sh's PyTorch environment with the package built into
# BUILD/python (BUILD: the CMake build directory, default build).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD="${BUILD:-build}"
tools/setup.sh
cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release -DPARAMDELTA_PYTHON=ON \
  -DPython_EXECUTABLE="$PWD/.venv/bin/python" >/dev/null
cmake --build "$BUILD" --target paramdelta-cli paramdelta_python -j "$(nproc)"
torch_venv="$(tools/torch_venv.sh)"
PYTHONPATH="$PWD/$BUILD/python" exec "$torch_venv/bin/python" bench/python_api.py --build "$BUILD" "$@"
