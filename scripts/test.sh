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
# The default tier compiles ~2000 small XLA programs and compiling is most of its CPU time. These
# XLA CPU flags change only how the HLO is turned into machine code, never the HLO pipeline where
# every numerical rewrite happens: LLVM code generation at -O0 without its expensive passes, XLA's
# loop emitters instead of the MLIR fusion emitters, and one code-generation module per program
# (tests/TIERS.md has the measurements). The exhaustive tier (scripts/test_slow.sh) keeps XLA's
# defaults, so the default code generation stays tested there. JAXLOSS_TEST_FAST_COMPILE=0 turns
# them off; tests that must see XLA's default code generation strip JAXLOSS_FAST_COMPILE_FLAGS.
if [ "${JAXLOSS_TEST_FAST_COMPILE:-1}" != "0" ]; then
  export JAXLOSS_FAST_COMPILE_FLAGS="--xla_backend_optimization_level=0 --xla_llvm_disable_expensive_passes=true --xla_cpu_use_fusion_emitters=false --xla_cpu_parallel_codegen_split_count=1"
  export XLA_FLAGS="${XLA_FLAGS:-} $JAXLOSS_FAST_COMPILE_FLAGS"
fi
WORKERS="${JAXLOSS_TEST_WORKERS:-2}"
XDIST=()
if [ "$WORKERS" != "0" ]; then
  XDIST=(-n "$WORKERS" --dist loadfile --no-loadscope-reorder)  # heaviest files first: conftest.py
fi
start=$(date +%s)
status=0
"$VENV/bin/python" -m pytest -m "not slow" -q -p no:randomly --durations=15 ${XDIST[@]+"${XDIST[@]}"} "$@" \
  || status=$?
echo "pytest wall time: $(( $(date +%s) - start )) s"
exit "$status"
