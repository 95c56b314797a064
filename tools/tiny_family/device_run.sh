#!/usr/bin/env bash
# Trains the full tiny model family on a machine with one CUDA GPU and packs
# what comes back into OUTDIR (seven files, each well under 16 MiB):
#   base-v1.tar chat-v1.tar base-v2.tar chat-v2.tar   one model directory each
#   extras.tar     data/ (evaluation sets, worlds), golden/, results.json
#   results.json   configuration, versions, timings, scores, sweeps
#   train.log      everything train.py printed
# Usage: tools/tiny_family/device_run.sh OUTDIR
#   PYTHON=... picks the interpreter; SCALE=tiny DEVICE=cpu try the packing on a CPU;
#   DATA_CACHE=FILE uses data made beforehand by `train.py --prepare-data --data-cache FILE`.
#   SWEEP_FROM=models/tiny trains only drift-sweep points from that family's
#   base-v1 and chat-v1 (DRIFT_POINTS='0.3;0.1;1,0.5' overrides the preset's);
#   only results.json and train.log come back. Needs the family's DATA_CACHE.
#
# The whole command is meant to end within about 8 minutes: train.py measures
# the GPU first and shortens every stage by one recorded factor if its
# estimate would not fit TRAIN_BUDGET_S, skips drift-sweep points that would
# end after DEADLINE_S, and is stopped at HARD_LIMIT_S; models are saved as
# soon as each is trained, so whatever finished is packed in any case.
set -uo pipefail

OUTDIR=${1:?usage: device_run.sh OUTDIR}
HERE=$(cd "$(dirname "$0")" && pwd)
PYTHON=${PYTHON:-python3}
SCALE=${SCALE:-full}
DEVICE=${DEVICE:-cuda}
TRAIN_BUDGET_S=${TRAIN_BUDGET_S:-240}
DEADLINE_S=${DEADLINE_S:-390}
HARD_LIMIT_S=${HARD_LIMIT_S:-450}

mkdir -p "$OUTDIR"
OUTDIR=$(cd "$OUTDIR" && pwd)
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

# DATA_CACHE: data prepared on another machine (train.py --prepare-data); its
# streams fix the steps factor, so the speed probe and auto-fit are skipped.
if [ -n "${DATA_CACHE:-}" ]; then
  fit=(--data-cache "$DATA_CACHE" --steps-factor "${STEPS_FACTOR:-1.0}")
else
  fit=(--budget-s "$TRAIN_BUDGET_S")
fi
if [ -n "${SWEEP_FROM:-}" ]; then
  fit+=(--sweep-from "$SWEEP_FROM")
  [ -n "${DRIFT_POINTS:-}" ] && fit+=(--drift-points "$DRIFT_POINTS")
fi
timeout "$HARD_LIMIT_S" "$PYTHON" -u "$HERE/train.py" --scale "$SCALE" --device "$DEVICE" \
  --out "$WORK/family" "${fit[@]}" --deadline-s "$DEADLINE_S" \
  2>&1 | tee "$OUTDIR/train.log"
rc=${PIPESTATUS[0]}

# Reproducible archives: sorted names, fixed owner and timestamps.
pack() {
  local name=$1; shift
  tar --sort=name --mtime='2025-01-01 00:00:00' --owner=0 --group=0 --numeric-owner \
    -C "$WORK/family" -cf "$OUTDIR/$name" "$@"
}
if [ -d "$WORK/family" ]; then
  for m in base-v1 chat-v1 base-v2 chat-v2; do
    [ -d "$WORK/family/$m" ] && pack "$m.tar" "$m"
  done
  extras=()
  for e in data golden results.json; do
    [ -e "$WORK/family/$e" ] && extras+=("$e")
  done
  ((${#extras[@]})) && pack extras.tar "${extras[@]}"
  [ -f "$WORK/family/results.json" ] && cp "$WORK/family/results.json" "$OUTDIR/results.json"
fi
ls -l "$OUTDIR"
echo "train.py exit status: $rc"
exit "$rc"
