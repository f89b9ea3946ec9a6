"""Hypothesis profiles for the property-based fuzz suite (tests/test_fuzz.py).

* ``ci`` (default): derandomized (fixed seed), 2 examples per test, no deadline (JAX compiles on
  the first call of each new shape / dtype); fits the default tier's time budget (every loss and
  every property still runs; 4 examples per test cost 220 s of CPU, 2 about half).
* ``medium``: 100 examples per loss, random seed (a shorter local run).
* ``long``: 500 examples per loss, random seed, for local runs and the exhaustive tier
  (``scripts/test_slow.sh``): ``pytest -m fuzz --hypothesis-profile=long tests/test_fuzz.py``.

The profile is chosen by ``--hypothesis-profile`` or the ``HYPOTHESIS_PROFILE`` environment
variable; ``ci`` otherwise.
"""

import os

from hypothesis import HealthCheck, settings

_SUPPRESS = [HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much]

settings.register_profile(
    "ci",
    derandomize=True,
    max_examples=2,
    deadline=None,
    print_blob=True,
    database=None,
    suppress_health_check=_SUPPRESS,
)
settings.register_profile(
    "long",
    derandomize=False,
    max_examples=500,
    deadline=None,
    print_blob=True,
    suppress_health_check=_SUPPRESS,
)
settings.register_profile(
    "medium",
    derandomize=False,
    max_examples=100,
    deadline=None,
    print_blob=True,
    suppress_health_check=_SUPPRESS,
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
