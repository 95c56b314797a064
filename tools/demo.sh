#!/usr/bin/env bash
# The main job, on the tiny model family bundled in models/tiny (trained from
# scratch by tools/tiny_family/train.py): compute Δ = chat-v1 − base-v1, check
# it, apply it to base-v2 (a continued pre-training of base-v1 on new facts),
# then measure base-v2, chat-v1, chat-v2 (base-v2 post-trained like chat-v1,
# the reference) and the ParamΔ model with the evaluation engine, and sweep
# the scale α; measure how far base-v2 moved from base-v1 against Δ. Prints
# the tables that the README shows; writes them to $WORK/results.md, the raw
# evaluator output to $WORK/eval/*.json and the analysis to
# $WORK/analysis.json and $WORK/analysis.html.
#
#   tools/demo.sh [PARAMDELTA_BINARY]          (DEMO_DIR=... picks the work folder)
set -euo pipefail
cd "$(dirname "$0")/.."
PARAMDELTA="${1:-build/paramdelta}"
WORK="${DEMO_DIR:-build/demo}"
MODELS=models/tiny
DATA=$MODELS/eval
ALPHAS=(0 0.25 0.5 0.75 1 1.25 1.5)
rm -rf "$WORK"
mkdir -p "$WORK/eval" "$WORK/sweep"

step() { printf '\n== %s\n' "$*"; }

step "paramdelta compute: Δ = chat-v1 − base-v1 (lossless)"
"$PARAMDELTA" compute --base $MODELS/base-v1 --post $MODELS/chat-v1 -o "$WORK/delta"
step "paramdelta verify: base-v1 + Δ gives back chat-v1 bit for bit"
"$PARAMDELTA" verify --base $MODELS/base-v1 --delta "$WORK/delta" --expect $MODELS/chat-v1
step "paramdelta analyze: how far base-v2 moved from base-v1, against Δ"
"$PARAMDELTA" analyze --delta "$WORK/delta" --base $MODELS/base-v1 --new-base $MODELS/base-v2 --top 5 \
  --html "$WORK/analysis.html"
"$PARAMDELTA" analyze --delta "$WORK/delta" --base $MODELS/base-v1 --new-base $MODELS/base-v2 --json \
  >"$WORK/analysis.json"
step "paramdelta apply: ParamΔ model = base-v2 + Δ"
"$PARAMDELTA" apply --base $MODELS/base-v2 --delta "$WORK/delta" -o "$WORK/paramdelta"
for a in "${ALPHAS[@]}"; do
  [ "$a" = 1 ] && continue  # α = 1 is the ParamΔ model itself
  "$PARAMDELTA" apply --quiet --base $MODELS/base-v2 --delta "$WORK/delta" --scale "$a" -o "$WORK/sweep/alpha-$a"
done
ln -s ../paramdelta "$WORK/sweep/alpha-1"
echo "also applied at α = ${ALPHAS[*]} for the sweep"

step "paramdelta eval: base-v2, chat-v1, chat-v2 (reference), ParamΔ; and base-v2 + α·Δ"
# One thread per evaluation and two evaluations at a time: these models are
# far too small for a multi-threaded BLAS to pay off.
family=(--model $MODELS/base-v2 --model $MODELS/chat-v1 --model $MODELS/chat-v2 --model "$WORK/paramdelta"
        --reference $MODELS/chat-v2 --threads 1 --json)
sweep=()
for a in "${ALPHAS[@]}"; do sweep+=(--model "$WORK/sweep/alpha-$a"); done
sweep+=(--threads 1 --json)
# Chat tasks: the prompt rendered with each model's chat template, greedy
# generation until its end-of-turn token, exact match (models/tiny/eval/conventions.json).
chat=(--metric accuracy --chat-template --no-stop --max-new-tokens 32)
# Perplexity as the training script measures it: consecutive 256-token windows.
ppl=(--metric perplexity --context 256 --stride 256)
evaluate() {
  local out=$1; shift
  "$PARAMDELTA" eval "$@" >"$WORK/eval/$out.json" 2>"$WORK/eval/$out.log" || { cat "$WORK/eval/$out.log" >&2; return 1; }
  echo "evaluated: $out"
}
(
  evaluate instruct "${family[@]}" "${chat[@]}" --data $DATA/instruct.jsonl
  evaluate knowledge_new "${family[@]}" "${chat[@]}" --data $DATA/knowledge_new.jsonl
  evaluate ppl_old "${family[@]}" "${ppl[@]}" --data $DATA/ppl_old.txt
) &
first=$!
evaluate ppl_new "${family[@]}" "${ppl[@]}" --data $DATA/ppl_new.txt
evaluate sweep_instruct "${sweep[@]}" "${chat[@]}" --data $DATA/instruct.jsonl
evaluate sweep_ppl_new "${sweep[@]}" "${ppl[@]}" --data $DATA/ppl_new.txt
wait "$first"

step "results"
python3 tools/demo_report.py "$WORK" | tee "$WORK/results.md"
echo
echo "demo: done; outputs are in $WORK"
