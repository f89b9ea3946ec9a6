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
# The default tier compiles ~2000 small XLA programs and compiling is ~75% of its CPU time. LLVM
# code generation at -O0 (XLA's HLO passes, hence every numerical rewrite, are unchanged) cuts the
# suite's CPU time by about a fifth; the exhaustive tier (scripts/test_slow.sh) keeps XLA's default
# flags, so the optimised code generation is tested there. JAXLOSS_TEST_FAST_COMPILE=0 turns it off.
if [ "${JAXLOSS_TEST_FAST_COMPILE:-1}" != "0" ]; then
  export XLA_FLAGS="${XLA_FLAGS:-} --xla_backend_optimization_level=0 --xla_llvm_disable_expensive_passes=true"
fi
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
