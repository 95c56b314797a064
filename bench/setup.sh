#!/usr/bin/env bash
# Installs what the benchmark needs besides the project's own set-up, once:
# GNU time (peak RSS), util-linux's fincore (page-cache residency), Debian's
# PyTorch for the whole-state-dict peer, and bench/.venv (Debian's Python with
# its site packages, so torch and numpy come from Debian, plus the pinned
# safetensors from bench/requirements.txt).
set -euo pipefail
cd "$(dirname "$0")/.."

DEBIAN_PACKAGES=(time util-linux python3-venv python3-torch python3-numpy)
missing=()
for p in "${DEBIAN_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "bench/setup: installing Debian packages: ${missing[*]}"
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# Debian's interpreter, on purpose: python3-torch is built for it.
SYSTEM_PYTHON=/usr/bin/python3
if [ ! -x bench/.venv/bin/python ] || ! bench/.venv/bin/python -c "import torch" 2>/dev/null; then
  rm -rf bench/.venv
  "$SYSTEM_PYTHON" -m venv --system-site-packages bench/.venv
fi
stamp=bench/.venv/.requirements-installed
if [ ! -f "$stamp" ] || [ bench/requirements.txt -nt "$stamp" ]; then
  echo "bench/setup: installing Python packages into bench/.venv"
  bench/.venv/bin/python -m pip install -q --disable-pip-version-check -r bench/requirements.txt
  touch "$stamp"
fi
