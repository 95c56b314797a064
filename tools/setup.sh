#!/usr/bin/env bash
# Installs what building and testing paramdelta needs on Debian 12, once:
# the C++ libraries from Debian's packages and the Python interoperability
# tools (Hugging Face's own safetensors and tokenizers) into .venv.
#
#   tools/setup.sh           everything: build, tests, sanitizers, fuzzing, and
#                            Azurite (the Azure Storage emulator, npm) for the
#                            object store tests
#   tools/setup.sh --build   only what building the paramdelta program needs
#                            (make demo)
set -euo pipefail
cd "$(dirname "$0")/.."

# Building the library and the paramdelta program.
BUILD_PACKAGES=(
  build-essential cmake ninja-build pkg-config
  nlohmann-json3-dev libcli11-dev libxxhash-dev
  libopenblas-dev libpcre2-dev
  # HTTP (HTTP/2, connection reuse, TLS) and digests for Hub downloads.
  libcurl4-openssl-dev libssl-dev
  # The object stores' XML answers (Azure Blob and S3 listings, errors, uploads).
  libpugixml-dev
  # The demo's report (tools/demo_report.py: the standard library only).
  python3
)
# Building and running the tests.
TEST_PACKAGES=(
  libgtest-dev
  time python3-venv
  # Headers for the Python extension module (pip install ., tests/python).
  python3-dev
  # Sanitizers and fuzzing (make test-asan, make fuzz): clang with libFuzzer's
  # runtime, and llvm-symbolizer for readable stack traces in their reports.
  clang libclang-rt-14-dev llvm
  # The code's layout (.clang-format; make format, make format-check).
  clang-format-14
  # A real browser for the HTML report's tests (headless: --dump-dom).
  chromium
)

DEBIAN_PACKAGES=("${BUILD_PACKAGES[@]}")
[ "${1:-}" = "--build" ] || DEBIAN_PACKAGES+=("${TEST_PACKAGES[@]}")

missing=()
for p in "${DEBIAN_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup: installing Debian packages: ${missing[*]}"
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi

[ "${1:-}" = "--build" ] && exit 0

PYTHON="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ] || ! .venv/bin/python -c "import sys" 2>/dev/null; then
  "$PYTHON" -m venv .venv
fi

# A second environment with PyTorch, for the Python package's tests that need
# it (tools/run_tests.sh runs tests/python in both). It is large, so it lives
# in the user's cache, outside the clone, named after a digest of its
# requirements: created when missing (or left half-made), never updated in place.
torch_venv="$(tools/torch_venv.sh)"
if [ ! -f "$torch_venv/.complete" ]; then
  echo "setup: installing PyTorch into $torch_venv (a few GB, once)"
  rm -rf "$torch_venv"
  mkdir -p "$(dirname "$torch_venv")"
  .venv/bin/python -m venv "$torch_venv"
  "$torch_venv/bin/python" -m pip install -q --disable-pip-version-check -r tools/requirements-torch.txt
  touch "$torch_venv/.complete"
fi

stamp=.venv/.requirements-installed
if [ ! -f "$stamp" ] || [ tools/requirements.txt -nt "$stamp" ]; then
  echo "setup: installing Python test tools into .venv"
  .venv/bin/python -m pip install -q --disable-pip-version-check -r tools/requirements.txt
  touch "$stamp"
fi

# Azurite, the Azure Storage emulator that tests/interop/test_azure_blob.py
# starts on 127.0.0.1: installed once per machine, outside the clone, keyed by
# its version (tests/interop/azurite_server.py computes the same path; set
# PARAMDELTA_AZURITE to use another azurite-blob). 3.35.0 is the last 3.x that
# runs on Node 20.
AZURITE_VERSION=3.35.0
AZURITE_DIR="${XDG_CACHE_HOME:-$HOME/.cache}/paramdelta/azurite-$AZURITE_VERSION"
if [ ! -x "$AZURITE_DIR/node_modules/.bin/azurite-blob" ]; then
  if ! command -v npm >/dev/null; then
    echo "setup: npm (Node.js 20) is needed to install Azurite for the Azure Blob tests" >&2
    exit 1
  fi
  echo "setup: installing azurite@$AZURITE_VERSION into $AZURITE_DIR"
  mkdir -p "$AZURITE_DIR"
  npm install --prefix "$AZURITE_DIR" --no-audit --no-fund --silent "azurite@$AZURITE_VERSION"
fi
