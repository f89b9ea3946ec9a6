#!/usr/bin/env bash
# Builds the documentation into docs/_build/html with Sphinx, warnings as errors: generates the
# catalog, the alias table and the API reference from the registry (docs/gen_catalog.py, which
# also rewrites README.md's catalog table), then sphinx-build -W. .ci/run calls it.
#   JAXLOSS_DOCS_VENV=/path   use (and if needed complete) that venv instead of a fresh one;
#                             a venv that already has sphinx, myst-parser, furo and jax is reused
#                             as it is (nothing installed).
#   JAXLOSS_DOCS_MATHJAX=URL  a local MathJax for offline viewing (see docs/conf.py).
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="${JAXLOSS_DOCS_VENV:-$(mktemp -d)/venv}"
if ! "$VENV/bin/python" -c "import sphinx, myst_parser, furo, jax, optax, flax" 2>/dev/null; then
  [ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
  "$VENV/bin/python" -m pip install -q --upgrade pip
  "$VENV/bin/python" -m pip install -q -e ".[docs]"
fi
start=$(date +%s)
# This checkout's jaxloss, whatever the venv has installed (conf.py puts it first on sys.path too).
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
"$VENV/bin/python" docs/gen_catalog.py
rm -rf docs/_build/html docs/_build/doctrees
"$VENV/bin/python" -m sphinx -W --keep-going -q -b html docs docs/_build/html
echo "docs: built docs/_build/html in $(( $(date +%s) - start )) s"
