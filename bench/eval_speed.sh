#!/usr/bin/env bash
# Evaluation speed benchmark (run on demand, not by the tests): builds
# eval_speed in Release and runs it. The first run writes a random 1.1B-shaped
# BF16 model (about 2.2 GB) to bench/data/eval-1.1b (git-ignored); loading it
# needs about 4.5 GB of memory (weights are widened to fp32).
#
#   bench/eval_speed.sh                                  # 512-token prompt, 32 generated tokens
#   bench/eval_speed.sh --prompt-tokens 1024 --gen-tokens 64 --threads 2
#   BUILD=build-release bench/eval_speed.sh --layers 2   # quick smoke run on a 2-layer cut
#
# Results go to standard output and, as JSON, to bench/out/eval_speed-<time>.json.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD="${BUILD:-build}"
cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$BUILD" --target eval_speed -j"$(nproc)"
mkdir -p bench/out
"$BUILD/bench/eval_speed" --json "bench/out/eval_speed-$(date +%Y%m%d-%H%M%S).json" "$@"
