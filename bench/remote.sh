#!/usr/bin/env bash
# The remote benchmark in one command: build paramdelta in Release, start
# Azurite on 127.0.0.1 with its blobs on disk, generate (or reuse) the model
# trio, upload it, and measure paramdelta compute/apply between az://
# locations next to the Azure SDK for Python merely moving the same bytes.
# Arguments go to remote_bench.py, e.g.
#   bench/remote.sh --runs 5 --concurrency 8,16
# BUILD names the CMake build directory (default: build). Azurite comes from
# tools/setup.sh; the SDK from the project's .venv (tools/requirements.txt).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD="${BUILD:-build}"
PYTHON="${PYTHON:-.venv/bin/python}"

command -v /usr/bin/time >/dev/null || { echo "bench/remote: install Debian's 'time' (bench/setup.sh does)" >&2; exit 1; }
"$PYTHON" -c "import azure.storage.blob, numpy" 2>/dev/null ||
  { echo "bench/remote: $PYTHON lacks azure-storage-blob or numpy: run tools/setup.sh" >&2; exit 1; }
cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$BUILD" --target paramdelta-cli -j "$(nproc)"
exec "$PYTHON" bench/remote_bench.py --build "$BUILD" "$@"
