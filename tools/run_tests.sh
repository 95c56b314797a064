#!/usr/bin/env bash
# Runs every test: the C++ suites through ctest, then the interoperability
# tests (Hugging Face's own Python libraries reading what we write) with pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD="${1:-build}"
export PARAMDELTA_CLI="$PWD/$BUILD/paramdelta"
ctest --test-dir "$BUILD" --output-on-failure -j "$(nproc)" --timeout 600
.venv/bin/python -m pytest -q tests/interop
