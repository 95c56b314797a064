#!/usr/bin/env bash
# The benchmark in one command: set up, build paramdelta and the I/O floor in
# Release, generate the model trios (cached in bench/data), measure, and write
# the report to bench/results/. Arguments go to run_bench.py, e.g.
#   bench/run.sh --sizes 120m --runs 7
# BUILD names the CMake build directory (default: build).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD="${BUILD:-build}"

bench/setup.sh
cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$BUILD" --target paramdelta-cli io_floor -j "$(nproc)"
exec bench/.venv/bin/python bench/run_bench.py --build "$BUILD" "$@"
