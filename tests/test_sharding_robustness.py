"""Runs tests/sharded_robustness_cases.py (issue 11: invalid input to the sharded losses) in its
own process with 8 CPU devices.

The rest of the suite keeps a single device; XLA's host device count must be fixed before JAX
starts, hence the separate process.
"""

from .helpers import run_cases_on_8_host_devices


def test_sharded_robustness_cases_on_8_host_devices():
    run_cases_on_8_host_devices("tests/sharded_robustness_cases.py")
