"""Shared test helpers: float64 NumPy references, tolerances, optional PyTorch oracle."""

from __future__ import annotations

import contextlib

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.test_util import check_grads

# Tolerances per computation dtype, for comparisons against a float64 reference.
RTOL = {np.dtype(np.float64): 1e-10, np.dtype(np.float32): 2e-5}
ATOL = {np.dtype(np.float64): 1e-12, np.dtype(np.float32): 2e-6}


def rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


def reduce_ref(values, weights=None, where=None, reduction="mean", normalizer=None):
    """Plain float64 NumPy reduction of API.md §1 (independent of jaxloss.reduce_loss)."""
    values = np.asarray(values, np.float64)
    w = (
        np.ones_like(values)
        if weights is None
        else np.broadcast_to(np.asarray(weights, np.float64), values.shape)
    )
    m = (
        np.ones(values.shape, bool)
        if where is None
        else np.broadcast_to(np.asarray(where, bool), values.shape)
    )
    contrib = np.where(m, w * values, 0.0)
    if reduction == "none":
        return contrib
    if reduction == "sum":
        return contrib.sum()
    den_terms = (
        w
        if normalizer is None
        else np.broadcast_to(np.asarray(normalizer, np.float64), values.shape)
    )
    den = np.where(m, den_terms, 0.0).sum()
    return contrib.sum() / den if den != 0 else 0.0


def assert_close(actual, desired, dtype=np.float64, rtol=None, atol=None, err_msg=""):
    dtype = np.dtype(dtype)
    np.testing.assert_allclose(
        np.asarray(actual, np.float64),
        np.asarray(desired, np.float64),
        rtol=RTOL.get(dtype, 1e-5) if rtol is None else rtol,
        atol=ATOL.get(dtype, 1e-6) if atol is None else atol,
        err_msg=err_msg,
    )


def assert_finite(tree, what=""):
    for leaf in jax.tree_util.tree_leaves(tree):
        arr = np.asarray(
            jnp.asarray(leaf, jnp.float64)
            if jnp.issubdtype(jnp.result_type(leaf), jnp.floating)
            else leaf
        )
        assert np.all(np.isfinite(arr)), f"non-finite values {what}: {arr}"


def grads_f64(f, args, order=2, modes=("fwd", "rev"), eps=1e-4, rtol=1e-5, atol=1e-5):
    """Finite-difference check of derivatives in float64 (``jax.test_util.check_grads``)."""
    args = tuple(jnp.asarray(a, jnp.float64) for a in args)
    check_grads(f, args, order=order, modes=modes, eps=eps, rtol=rtol, atol=atol)


def torch_or_skip():
    """PyTorch (CPU) as an oracle, or skip the test cleanly where it is absent."""
    return pytest.importorskip("torch")


def to_torch(x, torch, dtype=None):
    x = np.asarray(x)
    t = torch.from_numpy(np.array(x))
    if dtype is not None:
        t = t.to(dtype)
    return t


@contextlib.contextmanager
def debug_nans():
    """Runs the block with ``jax_debug_nans`` on (raises on the first NaN produced)."""
    prev = jax.config.jax_debug_nans
    jax.config.update("jax_debug_nans", True)
    try:
        yield
    finally:
        jax.config.update("jax_debug_nans", prev)
