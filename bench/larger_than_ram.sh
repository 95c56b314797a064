#!/usr/bin/env bash
# A run on a model trio whose files together exceed this machine's memory:
# generates it (7B shapes if the disk has ~62 GB free, else 3B; check `df -h`
# first), runs compute and apply under /usr/bin/time -v next to their I/O
# floors, reports time, throughput and peak RSS, and deletes everything.
# Arguments go to larger_than_ram.py, e.g. `bench/larger_than_ram.sh --preset 3b`.
# BUILD names the CMake build directory (default: build).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD="${BUILD:-build}"

df -h bench
bench/setup.sh
cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$BUILD" --target paramdelta-cli io_floor -j "$(nproc)"
exec bench/.venv/bin/python bench/larger_than_ram.py --build "$BUILD" "$@"
