"""Runs the sharded-loss tests (tests/sharded_cases.py) in their own process with 8 CPU devices.

The rest of the suite keeps a single device; XLA's host device count must be fixed before JAX
starts, hence the separate process.
"""

import os
import subprocess
import sys
from pathlib import Path

from .helpers import run_cases_on_8_host_devices

ROOT = Path(__file__).resolve().parents[1]


def test_sharded_cases_on_8_host_devices():
    run_cases_on_8_host_devices("tests/sharded_cases.py")


def test_sharded_lm_head_example_runs():
    env = dict(os.environ)
    env.pop("XLA_FLAGS", None)
    env["JAX_PLATFORMS"] = "cpu"
    proc = subprocess.run(
        [
            sys.executable,
            "examples/sharded_lm_head.py",
            "--tokens",
            "256",
            "--vocab",
            "512",
            "--hidden",
            "16",
            "--steps",
            "4",
            "--chunk-size",
            "64",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-4000:]
    assert "loss curves agree and per-device memory drops with the mesh size" in out
