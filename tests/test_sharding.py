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

from .helpers import run_cases_on_8_host_devices, run_example


def test_sharded_cases_on_8_host_devices():
    run_cases_on_8_host_devices(
        "tests/sharded_cases.py",
        "tests/sharded_robustness_cases.py",
        "tests/sharded_post_training_cases.py",
        "tests/sharded_linear_options_cases.py",
    )


def test_sharded_lm_head_example_runs():
    # the example sets its own device count; only the test tier's compile-speed flags carry over
    args = ["--tokens", "256", "--vocab", "512", "--hidden", "16", "--steps", "4"]
    args += ["--chunk-size", "64"]
    flags = os.environ.get("JAXLOSS_FAST_COMPILE_FLAGS", "")
    out = run_example("sharded_lm_head.py", *args, xla_flags=flags)
    assert "loss curves agree and per-device memory drops with the mesh size" in out
