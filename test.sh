#!/usr/bin/env bash
# The test command (README "Tests"; .ci/run runs exactly it): `bash test.sh [pytest arguments]`.
# Sets up .venv as quickstart.sh does, then runs pytest with .venv's Python; no venv needs to be active.
#   bash test.sh                  # everything
#   bash test.sh -m "not slow"    # the fast tier: unit tests, no subprocess training
set -euo pipefail
cd "$(dirname "$0")"
bash scripts/setup_venv.sh
# DeepSpeed JIT-builds its CPU ops once per cache: one cache per .venv, so a fresh venv never meets a
# half-written build or a stale lock that a killed process left in ~/.cache, and checkouts never race.
export TORCH_EXTENSIONS_DIR="${TORCH_EXTENSIONS_DIR:-$PWD/.venv/torch_extensions}"
exec .venv/bin/python -m pytest -q "$@"
