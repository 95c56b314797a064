#!/usr/bin/env bash
# Builds the libFuzzer targets (clang, AddressSanitizer + UndefinedBehaviorSanitizer)
# in build-fuzz and runs each for a bounded time. Fails on any crash, sanitizer
# report, leak, timeout or memory blow-up, leaving the input in
# build-fuzz/artifacts/<target>/.
#
#   tools/run_fuzz.sh [SECONDS] [TARGET...]
#
# SECONDS per target (default 60); 0 replays the seed corpora once (fast, for CI).
# New inputs found go to build-fuzz/corpus/<target>/; the seeds in
# fuzz/corpus/<target>/ are only read. To keep an input as a seed, copy it there.
set -euo pipefail
cd "$(dirname "$0")/.."

SECONDS_PER_TARGET="${1:-60}"
shift || true
BUILD="${FUZZ_BUILD_DIR:-build-fuzz}"
JOBS="${JOBS:-2}"
RSS_LIMIT_MB="${FUZZ_RSS_LIMIT_MB:-2048}"
TIMEOUT_S="${FUZZ_TIMEOUT_S:-10}"

ALL_TARGETS=(fuzz_safetensors_header fuzz_safetensors_file fuzz_index_json fuzz_manifest
             fuzz_tokenizer fuzz_model_config fuzz_chat_template fuzz_hub_listing fuzz_http_headers
             fuzz_azure_listing fuzz_env_file fuzz_s3_listing fuzz_option_text)
if [[ $# -gt 0 ]]; then TARGETS=("$@"); else TARGETS=("${ALL_TARGETS[@]}"); fi

cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_COMPILER=clang++ \
  -DPARAMDELTA_FUZZ=ON -DPARAMDELTA_SANITIZE=ON -DPARAMDELTA_TESTS=OFF >/dev/null
# Only targets the build defines (the tokenizer and config parsers may not exist yet).
AVAILABLE=$(cmake --build "$BUILD" --target help | sed -n 's/^\(fuzz_[a-z0-9_]*\):.*/\1/p')
BUILT=()
for t in "${TARGETS[@]}"; do
  if grep -qx "$t" <<<"$AVAILABLE"; then BUILT+=("$t"); else echo "run_fuzz: skipping $t (not defined in this build)"; fi
done
cmake --build "$BUILD" --target "${BUILT[@]}" -j "$JOBS"

export ASAN_OPTIONS="detect_leaks=1:allocator_may_return_null=0:abort_on_error=1:symbolize=1"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1"

failed=()
summary=()
for t in "${BUILT[@]}"; do
  work="$BUILD/corpus/$t"
  artifacts="$BUILD/artifacts/$t/"
  seeds="fuzz/corpus/$t"
  mkdir -p "$work" "$artifacts" "$seeds"
  # A fixed seed: the same binary explores the same inputs first, so a CI failure reproduces.
  args=(-seed="${FUZZ_SEED:-1}" -timeout="$TIMEOUT_S" -rss_limit_mb="$RSS_LIMIT_MB" -malloc_limit_mb="$RSS_LIMIT_MB"
        -max_len=65536 -artifact_prefix="$artifacts" -print_final_stats=1)
  [[ -f "fuzz/dict/$t.dict" ]] && args+=(-dict="fuzz/dict/$t.dict")
  if [[ "$SECONDS_PER_TARGET" == 0 ]]; then
    args+=(-runs=0)
  else
    args+=(-max_total_time="$SECONDS_PER_TARGET")
  fi
  log="$BUILD/fuzz-$t.log"
  echo "run_fuzz: $t for ${SECONDS_PER_TARGET}s (log: $log)"
  if "$BUILD/fuzz/$t" "${args[@]}" "$work" "$seeds" >"$log" 2>&1; then
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 || true)
    summary+=("$t: ok, ${execs:-?} executions, ${cov:-cov: ?}, corpus $(ls "$work" | wc -l) + $(ls "$seeds" | wc -l) seeds")
  else
    failed+=("$t")
    summary+=("$t: FAILED (see $log and $artifacts)")
    grep -E "ERROR|FUZZ FAILURE|SUMMARY|runtime error|Test unit written" "$log" | head -8 | sed 's/^/    /'
  fi
done

printf '%s\n' "${summary[@]}"
if [[ ${#failed[@]} -gt 0 ]]; then
  echo "run_fuzz: ${#failed[@]} target(s) failed: ${failed[*]}"
  exit 1
fi
