#!/usr/bin/env bash
# Builds everything with AddressSanitizer + UndefinedBehaviorSanitizer in
# build-asan and runs the whole test suite (C++ suites and interop tests)
# against that build. Any sanitizer report fails the run.
#
#   tools/run_sanitizers.sh [BUILD_DIR]      (default build-asan)
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD="${1:-build-asan}"
JOBS="${JOBS:-$(nproc)}"

cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPARAMDELTA_SANITIZE=ON >/dev/null
cmake --build "$BUILD" -j "$JOBS"

# halt_on_error/abort: a report is a failure, never a warning scrolled past.
# detect_leaks: the command-line program and the tests must not leak.
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:strict_string_checks=1:detect_stack_use_after_return=1:check_initialization_order=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}"
tools/run_tests.sh "$BUILD"
