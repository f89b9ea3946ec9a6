"""Repository-wide pytest configuration (applies to tests/ and to the doctests in jaxloss/).

Strict promotion makes a silent broadcast or a silent dtype promotion fail loudly, and the float64
lane gives exact references. Library code must therefore pass under both settings.
"""

import jax

jax.config.update("jax_enable_x64", True)
jax.config.update("jax_numpy_rank_promotion", "raise")
jax.config.update("jax_numpy_dtype_promotion", "strict")


# The test files with the most work, in decreasing order of measured CPU seconds (tests/TIERS.md).
# scripts/test.sh runs pytest-xdist with ``--dist loadfile --no-loadscope-reorder``, which hands
# out whole files in collection order: starting with the longest (longest-processing-time-first)
# keeps a long file, e.g. the 8-device subprocess, from being the last one a worker runs while
# the other idles. (xdist's default reorders files by their number of tests, which put the
# two-test, 30-second sharding file near the end.) Order within a file is unchanged.
HEAVY_FIRST = (
    "tests/test_fuzz.py",
    "tests/test_classification.py",
    "tests/test_linear_ce.py",
    "tests/test_cross_entropy.py",
    "tests/test_sharding.py",
    "tests/test_registry_peers.py",
    "tests/test_binary.py",
    "tests/test_ce_kernel.py",
    "tests/test_unchecked.py",
    "tests/test_robustness_numerics.py",
    "tests/test_regression.py",
    "tests/test_numerics_table.py",
    "tests/test_examples.py",
    "tests/test_metric.py",
    "tests/test_peer_losses.py",
    "tests/test_compat_optax.py",
    "tests/test_train_robust.py",
    "tests/test_divergence.py",
)


def pytest_collection_modifyitems(session, config, items):
    rank = {path: i for i, path in enumerate(HEAVY_FIRST)}
    items.sort(key=lambda item: rank.get(item.nodeid.split("::")[0], len(rank)))


def pytest_runtest_teardown(item, nextitem):
    # Between test files, drop JAX's compiled-program and tracing caches. A worker that has run
    # a few hundred tests compiles and traces measurably slower (tests/test_ce_kernel.py's first
    # test: 3.0 s alone, 4.8 s after three other family files in the same process; those four
    # files: 79 s -> 69 s with this). Within a file the caches stay, so programs a file shares
    # between its tests compile once; clearing more often (every 25 tests) was slower.
    if nextitem is None or getattr(nextitem, "module", None) is not getattr(item, "module", None):
        jax.clear_caches()
