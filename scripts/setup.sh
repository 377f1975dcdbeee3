#!/usr/bin/env bash
# Create (or reuse) .venv and install the project into it: torch==2.13.0 first (a CPU wheel;
# an unpinned torch would pull GBs of CUDA packages), then the project with its test extra.
# Re-running is cheap: the install is skipped while pyproject.toml is unchanged.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PY" -m venv .venv
stamp=.venv/.tv2tv-installed
want=$(sha256sum pyproject.toml | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    .venv/bin/python -m pip install -q --upgrade pip
    .venv/bin/python -m pip install -q torch==2.13.0
    .venv/bin/python -m pip install -q -e ".[test]"
    echo "$want" > "$stamp"
fi
