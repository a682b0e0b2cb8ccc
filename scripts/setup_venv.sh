#!/usr/bin/env bash
# Create or update .venv: openpretrain (editable, with the test tools) and the CPU build of torch.
# Shared by quickstart.sh, test.sh and .ci/run, so the three always agree on the environment.
#   bash scripts/setup_venv.sh          # create if missing; reinstall only when pyproject.toml/setup.py changed
#   bash scripts/setup_venv.sh --fresh  # delete .venv first (CI: install everything from nothing)
# Uses only the system python3 (no venv needs to be active); everything afterwards runs .venv/bin/python.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "${1:-}" = "--fresh" ]; then
  rm -rf .venv
fi
if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi

# The install is redone when the package definition changed since the last one (or a module is missing).
stamp=.venv/.openpretrain-installed
wanted="$(cat pyproject.toml setup.py | sha256sum | cut -d' ' -f1)"
if [ "$(cat "$stamp" 2>/dev/null)" = "$wanted" ] \
  && .venv/bin/python -c "import openpretrain, torch, deepspeed, hydra, pytest" 2>/dev/null; then
  exit 0
fi
echo "setting up .venv (the first time takes a few minutes) ..." >&2
.venv/bin/python -m pip install --quiet --upgrade pip
# CPU build of torch first: a plain `torch` requirement would otherwise pull the multi-GB CUDA build.
.venv/bin/python -m pip install --quiet torch==2.13.0
.venv/bin/python -m pip install --quiet -e ".[test]"
echo "$wanted" > "$stamp"
