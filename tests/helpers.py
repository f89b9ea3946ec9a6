"""Shared test helpers: float64 NumPy references, tolerances, optional PyTorch oracle."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from pathlib import Path

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


def fd_check_order2(f, args, seed=0, eps=1e-4, rtol=1e-6, atol=1e-8):
    """First and second derivatives of ``f`` against central finite differences, float64.

    The same check as ``grads_f64(f, args, order=2)`` along random directions, but every
    evaluation is one of three jitted functions (f, ∇f, Hessian-vector product): check_grads
    re-linearises at each finite-difference point, which costs 6-7x the CPU time (18 s instead of
    2.8 s for the binary family's sum). The default test tier uses this one; the full
    ``check_grads`` (forward and reverse, every order-2 combination) runs in the slow tier. A
    non-scalar ``f`` is projected on a fixed random cotangent first.
    """
    r = rng(seed)
    args = tuple(jnp.asarray(a, jnp.float64) for a in args)
    argnums = tuple(range(len(args)))
    shape = jax.eval_shape(f, *args).shape
    if shape:
        w = jnp.asarray(r.normal(size=shape))
        f0 = f
        f = lambda *a: jnp.vdot(w, f0(*a))
    v = tuple(jnp.asarray(r.normal(size=a.shape)) for a in args)
    u = tuple(jnp.asarray(r.normal(size=a.shape)) for a in args)  # a second direction to project on
    f_j = jax.jit(f)
    grad_j = jax.jit(jax.grad(f, argnums=argnums))
    # Hessian-vector product, forward over reverse (what jax.hessian does)
    hvp_fwd = jax.jit(lambda x, t: jax.jvp(lambda *y: jax.grad(f, argnums=argnums)(*y), x, t)[1])
    plus = tuple(a + eps * d for a, d in zip(args, v, strict=False))
    minus = tuple(a - eps * d for a, d in zip(args, v, strict=False))
    dot = lambda xs, ys: sum(float(jnp.vdot(x, y)) for x, y in zip(xs, ys, strict=False))
    g = grad_j(*args)
    assert_close(
        dot(g, v), (float(f_j(*plus)) - float(f_j(*minus))) / (2 * eps), rtol=rtol, atol=atol
    )
    fd_hv = [(gp - gm) / (2 * eps) for gp, gm in zip(grad_j(*plus), grad_j(*minus), strict=False)]
    assert_close(dot(fd_hv, u), dot(hvp_fwd(args, v), u), rtol=rtol, atol=atol)


def tiered(grid, default):
    """``pytest.param`` of every tuple in ``grid``: those in ``default`` run in the default tier,
    the rest are marked ``slow`` (the exhaustive tier, ``scripts/test_slow.sh``)."""
    default = [tuple(d) for d in default]
    missing = [d for d in default if d not in [tuple(g) for g in grid]]
    assert not missing, f"default-tier cases not in the grid: {missing}"
    return [pytest.param(*g, marks=() if tuple(g) in default else pytest.mark.slow) for g in grid]


def cover_once(cases, features):
    """Split ``cases`` into (default, rest): a case goes to the default tier when it brings a
    feature (``features(case)``: a set of hashables, e.g. the loss name and each option it sets)
    that no earlier default case had; the rest go to the exhaustive (slow) tier. Every feature is
    therefore exercised at least once in the default tier."""
    seen, default, rest = set(), [], []
    for case in cases:
        new = set(features(case)) - seen
        (default if new else rest).append(case)
        seen |= new
    return default, rest


def cover_once_params(params, features):
    """``cover_once`` over ``pytest.param`` objects, as one parameter list in the original order:
    the cases outside the default tier get the ``slow`` mark added to their marks."""
    default, _ = cover_once(params, features)
    keep = {id(p) for p in default}
    return [
        p if id(p) in keep else pytest.param(*p.values, marks=(*p.marks, pytest.mark.slow), id=p.id)
        for p in params
    ]


# Pairwise covering rows for four two-level factors: every pair of levels of every two factors
# occurs in one of these 5 rows (16 rows for the full product).
PAIRWISE_2x4 = [(0, 0, 0, 0), (0, 1, 1, 1), (1, 0, 1, 1), (1, 1, 0, 1), (1, 1, 1, 0)]


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


def count_hlo_op(hlo: str, op: str) -> int:
    """How many ``op`` instructions (e.g. ``"all-reduce"``, async ``-start`` forms included) a
    compiled HLO text has (the collective counts of the sharded tests)."""
    return sum(
        1
        for line in hlo.splitlines()
        if f" {op}(" in line
        or f"={op}(" in line
        or line.strip().startswith(f"{op}(")
        or f" {op}-start(" in line
    )


def run_example(script: str, *args: str, xla_flags: str) -> str:
    """Runs ``examples/<script>`` with ``args`` in a fresh process (CPU, ``XLA_FLAGS=xla_flags``),
    asserts that it exits 0 and returns its output (stdout + stderr)."""
    env = dict(os.environ)
    env["XLA_FLAGS"] = xla_flags
    env["JAX_PLATFORMS"] = "cpu"
    root = Path(__file__).resolve().parents[1]
    proc = subprocess.run(
        [sys.executable, os.fspath(root / "examples" / script), *args],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-4000:]
    return out


def run_cases_on_8_host_devices(*cases_files: str) -> None:
    """Runs ``pytest cases_files...`` in one process of its own with 8 CPU devices and asserts that
    it passed with nothing skipped (XLA's host device count must be fixed before JAX starts; the
    rest of the suite keeps a single device). One process for all the files: JAX and pytest start
    once."""
    env = dict(os.environ)
    env["XLA_FLAGS"] = (
        env.get("XLA_FLAGS", "") + " --xla_force_host_platform_device_count=8"
    ).strip()
    env["JAX_PLATFORMS"] = "cpu"
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *cases_files],
        cwd=Path(__file__).resolve().parents[1],
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    tail = (proc.stdout + proc.stderr)[-6000:]
    print(tail)
    assert proc.returncode == 0, tail
    assert " passed" in proc.stdout and "skipped" not in proc.stdout.splitlines()[-1], tail
