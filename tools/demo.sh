#!/usr/bin/env bash
# The main job on bundled data: compute a delta between a base and its
# post-trained version, apply it to a newer base, and check the result.
set -euo pipefail
cd "$(dirname "$0")/.."
PARAMDELTA="${1:-build/paramdelta}"
WORK="${DEMO_DIR:-build/demo}"
PY=.venv/bin/python
rm -rf "$WORK"
mkdir -p "$WORK"

echo "== generating a small Llama-shaped model trio (bf16) in $WORK"
# base-v1, its post-trained version, and base-v2 (a continued pre-training of base-v1).
$PY tools/make_llama.py "$WORK/base-v1" --seed 1 --layers 4 --hidden 256 --intermediate 688 --vocab 2048
$PY tools/make_llama.py "$WORK/chat-v1" --seed 1 --layers 4 --hidden 256 --intermediate 688 --vocab 2048 \
  --noise 0.05 --noise-seed 2 --max-shard-bytes 4000000
$PY tools/make_llama.py "$WORK/base-v2" --seed 1 --layers 4 --hidden 256 --intermediate 688 --vocab 2048 \
  --noise 0.03 --noise-seed 3

echo
echo "== paramdelta compute: delta = chat-v1 - base-v1 (lossless)"
"$PARAMDELTA" compute --base "$WORK/base-v1" --post "$WORK/chat-v1" -o "$WORK/delta"
echo
echo "== paramdelta verify: base-v1 + delta reproduces chat-v1 bit for bit"
"$PARAMDELTA" verify --base "$WORK/base-v1" --delta "$WORK/delta" --expect "$WORK/chat-v1"
echo
echo "== paramdelta apply: chat-v2 (ParamΔ) = base-v2 + delta"
"$PARAMDELTA" apply --base "$WORK/base-v2" --delta "$WORK/delta" -o "$WORK/chat-v2-paramdelta"
echo
echo "== paramdelta inspect"
"$PARAMDELTA" inspect "$WORK/chat-v2-paramdelta" | tail -n 3
echo
echo "demo: done; outputs are in $WORK"
