"""Runs tests/sharded_post_training_cases.py (issue 13: vocabulary-parallel token
log-probs and entropy equal to single device, gradients, label rule, collectives) in its own
process with 8 CPU devices.

The rest of the suite keeps a single device; XLA's host device count must be fixed before JAX
starts, hence the separate process.
"""

from .helpers import run_cases_on_8_host_devices


def test_sharded_post_training_cases_on_8_host_devices():
    run_cases_on_8_host_devices("tests/sharded_post_training_cases.py")
