#!/usr/bin/env bash
# The README's main job: installs jaxloss with its example extras into a fresh virtual environment
# and reproduces the Keras loss-function tutorial's nine experiments (5 seeds each, one vectorised
# program per experiment) on CPU, printing the table beside the published figures and writing the
# learning curves to examples/out/ and the table to examples/out/seed_experiments.json.
# Extra arguments go to the script, e.g. `scripts/main.sh --no-plots`.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="${JAXLOSS_VENV:-$(mktemp -d)/venv}"
python3 -m venv "$VENV"
"$VENV/bin/python" -m pip install -q --upgrade pip
"$VENV/bin/python" -m pip install -q -e ".[examples]"
export PYTHONUNBUFFERED=1 JAX_PLATFORMS=cpu
mkdir -p examples/out
"$VENV/bin/python" examples/seed_experiments.py --seeds 5 --json examples/out/seed_experiments.json "$@"
