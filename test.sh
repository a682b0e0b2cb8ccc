#!/usr/bin/env bash
# The test command (README "Tests"; .ci/run runs exactly it): `bash test.sh [pytest arguments]`.
# Sets up .venv as quickstart.sh does, then runs pytest with .venv's Python; no venv needs to be active.
#   bash test.sh                  # everything
#   bash test.sh -m "not slow"    # the fast tier: unit tests, no subprocess training
#   bash test.sh -n 0 -x tests/x  # without the two xdist workers (one process, e.g. to debug)
set -euo pipefail
cd "$(dirname "$0")"
bash scripts/setup_venv.sh
# DeepSpeed JIT-builds its CPU ops once per cache: one cache per .venv, so a fresh venv never meets a
# half-written build or a stale lock that a killed process left in ~/.cache, and checkouts never race.
export TORCH_EXTENSIONS_DIR="${TORCH_EXTENSIONS_DIR:-$PWD/.venv/torch_extensions}"
# Two pytest-xdist workers: the fast tier runs while training subprocesses wait, and slow modules run side
# by side (a module stays on one worker; tests/conftest.py hands out the costliest first). `-n 0`: one process.
exec .venv/bin/python -m pytest -q -n 2 --dist loadfile --no-loadscope-reorder "$@"
