#!/usr/bin/env bash
# Installs jaxloss with its test extras (and PyTorch CPU as a test oracle) into a fresh virtual
# environment and runs the whole test suite (unit tests, doctests, fuzz in its CI profile; the slow
# benchmarks are excluded). This is the README's test command and what .ci/run calls.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="${JAXLOSS_VENV:-$(mktemp -d)/venv}"
python3 -m venv "$VENV"
"$VENV/bin/python" -m pip install -q --upgrade pip
"$VENV/bin/python" -m pip install -q -e ".[test]" "torch==2.13.0"
export PYTHONUNBUFFERED=1
"$VENV/bin/python" -m pytest -m "not slow" -q -p no:randomly --durations=15 "$@"
