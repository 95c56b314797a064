#!/usr/bin/env bash
# Prints where tools/setup.sh keeps the virtual environment with PyTorch:
# the user's cache, named after a digest of its requirements.
set -euo pipefail
cd "$(dirname "$0")/.."
digest="$(cat tools/requirements-torch.txt tools/requirements.txt | sha256sum | cut -c1-16)"
echo "${XDG_CACHE_HOME:-$HOME/.cache}/paramdelta/venv-torch-$digest"
