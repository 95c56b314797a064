#!/usr/bin/env bash
# ParamΔ as a merge of two deltas, on the tiny model family: base-v2 + Δchat
# is base-v1 + Δcpt + Δchat, with Δcpt = base-v2 − base-v1 (the continued
# pre-training) and Δchat = chat-v1 − base-v1. This script merges the two
# deltas with each method of `paramdelta combine`, applies the result to
# base-v1, and measures the instruction task (as a share of chat-v2's score)
# and the perplexity on text of the new facts. Prints the README's table.
#
#   tools/merge_comparison.sh [PARAMDELTA_BINARY]      (MERGE_DIR=... picks the work folder)
set -euo pipefail
cd "$(dirname "$0")/.."
PARAMDELTA="${1:-build/paramdelta}"
WORK="${MERGE_DIR:-build/merge-comparison}"
MODELS=models/tiny
DATA=$MODELS/eval
rm -rf "$WORK"
mkdir -p "$WORK/eval"

run() { "$PARAMDELTA" "$@" --quiet; }
# f32 deltas: the merges, not the deltas' rounding, are what is compared.
run compute --base $MODELS/base-v1 --post $MODELS/base-v2 --delta-dtype f32 -o "$WORK/cpt"
run compute --base $MODELS/base-v1 --post $MODELS/chat-v1 --delta-dtype f32 -o "$WORK/chat"

# name, combine flags, apply scale
variants=(
  "sum||1"
  "ties-1|--method ties --density 1|1"
  "ties-1-x2|--method ties --density 1|2"
  "ties-0.5|--method ties --density 0.5|1"
  "ties-0.5-x2|--method ties --density 0.5|2"
  "ties-0.2|--method ties --density 0.2|1"
  "dare-0.5|--method dare --density 0.5|1"
  "dare-ties-0.5|--method dare-ties --density 0.5|1"
  "dare-ties-0.5-x2|--method dare-ties --density 0.5|2"
)
models=()
for v in "${variants[@]}"; do
  IFS='|' read -r name flags scale <<<"$v"
  merged="$WORK/merged-${name%-x2}"
  # shellcheck disable=SC2086  # flags are words
  [ -d "$merged" ] || run combine --delta "$WORK/cpt" --delta "$WORK/chat" $flags --delta-dtype f32 -o "$merged"
  run apply --base $MODELS/base-v1 --delta "$merged" --scale "$scale" -o "$WORK/model-$name"
  models+=(--model "$WORK/model-$name")
  echo "merged and applied: $name"
done

common=(--model $MODELS/chat-v2 --model $MODELS/base-v2 "${models[@]}" --reference $MODELS/chat-v2 --threads 1 --json)
"$PARAMDELTA" eval "${common[@]}" --metric accuracy --chat-template --no-stop --max-new-tokens 32 \
  --data $DATA/instruct.jsonl >"$WORK/eval/instruct.json" &
"$PARAMDELTA" eval "${common[@]}" --metric perplexity --context 256 --stride 256 \
  --data $DATA/ppl_new.txt >"$WORK/eval/ppl_new.json"
wait
python3 tools/merge_comparison_report.py "$WORK" "${variants[@]}" | tee "$WORK/results.md"
