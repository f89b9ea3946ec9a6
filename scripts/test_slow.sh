#!/usr/bin/env bash
# The exhaustive test tier, the complement of scripts/test.sh: every test marked `slow`
# (second-order finite differences over every loss and option, the long option grids and dtype
# sweeps, the benchmark suite at its quick size), then the fuzz suite in its `long` hypothesis
# profile (500 examples per loss, random seed). Long: expect an hour or more on 2 cores.
# Uses the active Python environment (after `pip install -e ".[test]" torch==2.13.0`); set
# JAXLOSS_VENV to a virtual environment to use that one instead. Extra arguments go to both pytest
# runs.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=python3
if [ -n "${JAXLOSS_VENV:-}" ]; then
  PY="$JAXLOSS_VENV/bin/python"
fi
export PYTHONUNBUFFERED=1
start=$(date +%s)
status=0
"$PY" -m pytest -m slow -q -p no:randomly --durations=15 "$@" || status=$?
"$PY" -m pytest -m fuzz --hypothesis-profile=long -q -p no:randomly tests/test_fuzz.py "$@" \
  || status=$?
echo "pytest wall time (slow tier): $(( $(date +%s) - start )) s"
exit "$status"
