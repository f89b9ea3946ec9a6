"""Repository-wide pytest configuration (applies to tests/ and to the doctests in jaxloss/).

Strict promotion makes a silent broadcast or a silent dtype promotion fail loudly, and the float64
lane gives exact references. Library code must therefore pass under both settings.
"""

import jax

jax.config.update("jax_enable_x64", True)
jax.config.update("jax_numpy_rank_promotion", "raise")
jax.config.update("jax_numpy_dtype_promotion", "strict")


# The test files with the most compile work, in decreasing order (measured CPU seconds per file,
# tests/TIERS.md). pytest-xdist's ``--dist loadfile`` hands out files in collection order, so
# starting with the longest keeps a long file from being the last one a worker runs while the
# other worker idles (longest-processing-time-first scheduling). Order within a file is unchanged.
HEAVY_FIRST = (
    "tests/test_fuzz.py",
    "tests/test_sharding.py",
    "tests/test_classification.py",
    "tests/test_linear_ce.py",
    "tests/test_cross_entropy.py",
    "tests/test_registry_peers.py",
    "tests/test_binary.py",
    "tests/test_ce_kernel.py",
)


def pytest_collection_modifyitems(session, config, items):
    rank = {path: i for i, path in enumerate(HEAVY_FIRST)}
    items.sort(key=lambda item: rank.get(item.nodeid.split("::")[0], len(rank)))
