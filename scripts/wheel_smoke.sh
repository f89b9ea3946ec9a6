#!/usr/bin/env bash
# Builds the wheel (failing on any warning line), checks that it holds only the jaxloss package,
# installs it alone into a fresh virtual environment and, from a directory outside the source tree,
# checks `import jaxloss`, `jaxloss list` and that a sub-command needing the source tree says so in
# one line and exits non-zero. .ci/run calls it after the tests.
#   JAXLOSS_WHEEL_VENV=/path  reuse (or create) that venv instead of a fresh temporary one.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT

# Build. Stale build/ or egg-info folders would leak removed files into the wheel: start clean.
# PYTHONDONTWRITEBYTECODE makes setuptools print "byte-compiling is disabled" warnings: unset it.
# The `build` frontend lives in a small venv of its own (the system Python may not have it).
python3 -m venv "$WORK/tools"
"$WORK/tools/bin/python" -m pip install -q "build>=1.0"
rm -rf build jaxloss.egg-info
env -u PYTHONDONTWRITEBYTECODE "$WORK/tools/bin/python" -m build --wheel --outdir "$WORK/dist" >"$WORK/build.log" 2>&1 \
  || { cat "$WORK/build.log"; echo "wheel_smoke: the build failed"; exit 1; }
rm -rf build jaxloss.egg-info
warnings="$(grep -icE 'warn|deprecat' "$WORK/build.log" || true)"
if [ "$warnings" != 0 ]; then
  grep -iE -B2 -A8 'warn|deprecat' "$WORK/build.log"
  echo "wheel_smoke: the wheel build printed $warnings warning line(s)"
  exit 1
fi
WHEEL="$(ls "$WORK"/dist/jaxloss-*.whl)"
echo "wheel_smoke: built $(basename "$WHEEL") with 0 warning lines"

# Contents: only jaxloss/ and the wheel's own metadata folder.
python3 - "$WHEEL" <<'EOF'
import sys, zipfile
names = zipfile.ZipFile(sys.argv[1]).namelist()
bad = [n for n in names if not (n.startswith("jaxloss/") or n.split("/")[0].endswith(".dist-info"))]
if bad:
    sys.exit(f"wheel_smoke: the wheel holds files outside jaxloss/: {bad}")
py = [n for n in names if n.startswith("jaxloss/")]
print(f"wheel_smoke: {len(names)} files, {len(py)} under jaxloss/, the rest *.dist-info")
EOF

# A fresh environment with the wheel only (its dependencies come from pip's index / cache).
VENV="${JAXLOSS_WHEEL_VENV:-$WORK/venv}"
[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
"$VENV/bin/python" -m pip install -q --force-reinstall --no-deps "$WHEEL"
"$VENV/bin/python" -m pip install -q "$WHEEL"

# Smoke, from outside the source tree.
cd "$WORK"
"$VENV/bin/python" - "$ROOT" <<'EOF'
import os, sys
import jaxloss
root = os.path.realpath(sys.argv[1])
where = os.path.realpath(jaxloss.__file__)
assert not where.startswith(root + os.sep), f"imported the source tree, not the wheel: {where}"
print(f"wheel_smoke: import jaxloss {jaxloss.__version__} from {where}")
EOF
n="$("$VENV/bin/jaxloss" list | wc -l)"
[ "$n" -gt 0 ] || { echo "wheel_smoke: jaxloss list printed nothing"; exit 1; }
echo "wheel_smoke: jaxloss list printed $n losses"
for cmd in demo tour sweep bench; do
  set +e
  "$VENV/bin/jaxloss" "$cmd" >"$WORK/out.txt" 2>&1
  rc=$?
  set -e
  lines="$(wc -l <"$WORK/out.txt")"
  if [ "$rc" = 0 ] || [ "$lines" != 1 ] || ! grep -q "needs the source tree" "$WORK/out.txt"; then
    cat "$WORK/out.txt"
    echo "wheel_smoke: jaxloss $cmd should say in one line that it needs the source tree (rc=$rc)"
    exit 1
  fi
done
echo "wheel_smoke: demo/tour/sweep/bench each say in one line that they need the source tree"
echo "wheel_smoke: OK"
