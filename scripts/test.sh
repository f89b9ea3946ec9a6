#!/usr/bin/env bash
# Installs jaxloss with its test extras (and PyTorch CPU as a test oracle) into a fresh virtual
# environment and runs the default test tier: unit tests, doctests, the fuzz suite in its CI
# profile; `-m "not slow"` leaves out the exhaustive tier (scripts/test_slow.sh). This is the
# README's test command and what .ci/run calls. Prints the 15 slowest tests and the pytest wall
# time. JAXLOSS_TEST_WORKERS sets the pytest-xdist worker count (default 2; 0 = no xdist).
# Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="${JAXLOSS_VENV:-$(mktemp -d)/venv}"
python3 -m venv "$VENV"
"$VENV/bin/python" -m pip install -q --upgrade pip
"$VENV/bin/python" -m pip install -q -e ".[test]" "torch==2.13.0"
export PYTHONUNBUFFERED=1
WORKERS="${JAXLOSS_TEST_WORKERS:-2}"
XDIST=()
if [ "$WORKERS" != "0" ]; then
  XDIST=(-n "$WORKERS" --dist loadfile)
fi
start=$(date +%s)
status=0
"$VENV/bin/python" -m pytest -m "not slow" -q -p no:randomly --durations=15 ${XDIST[@]+"${XDIST[@]}"} "$@" \
  || status=$?
echo "pytest wall time: $(( $(date +%s) - start )) s"
exit "$status"
