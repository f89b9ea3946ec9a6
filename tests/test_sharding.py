"""Runs the sharded-loss tests in one process of their own with 8 CPU devices:
tests/sharded_cases.py (the sharded losses equal single device, meshes x options, collectives),
tests/sharded_robustness_cases.py (issue 11: invalid input to the sharded losses) and
tests/sharded_post_training_cases.py (issue 13: vocabulary-parallel token log-probs and entropy
equal single device, gradients, label rule, collectives) and
tests/sharded_linear_options_cases.py (issue 13: vocab_parallel_linear_cross_entropy's bias and
method equal jaxloss.linear_cross_entropy on the gathered arrays).

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
    run_cases_on_8_host_devices(
        "tests/sharded_cases.py",
        "tests/sharded_robustness_cases.py",
        "tests/sharded_post_training_cases.py",
        "tests/sharded_linear_options_cases.py",
    )


def test_sharded_lm_head_example_runs():
    env = dict(os.environ)
    # the example sets its own device count; only the test tier's compile-speed flags carry over
    env["XLA_FLAGS"] = env.get("JAXLOSS_FAST_COMPILE_FLAGS", "")
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
