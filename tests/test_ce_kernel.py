"""Tests of the fast cross-entropy kernel (the custom_jvp core of jaxloss/_cross_entropy.py).

The fast core ``_ce_rows`` must be the same function as the plain autodiff reference
``_ce_rows_ref`` (values, gradients, jvp, hessian) for every option combination, and the public
functions must keep forward mode and second order.
"""

import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxloss
from jaxloss import _cross_entropy as ce

from .helpers import assert_close, assert_finite, debug_nans, grads_f64, rng

sparse_ce = jaxloss.sparse_softmax_cross_entropy
soft_ce = jaxloss.softmax_cross_entropy

N, C = 5, 6


def _inputs(seed=0, dtype=np.float64):
    r = rng(seed)
    x = r.normal(size=(N, C)) * 2.0
    x[0, 3] = -np.inf  # masked classes (never the label)
    x[2, 5] = -np.inf
    y = np.array([0, 1, 2, 4, 5])
    t = r.uniform(0.1, 1.0, size=(N, C))
    t[0, 3] = 0.0
    t[2, 5] = 0.0
    t = t / t.sum(-1, keepdims=True)
    w = r.uniform(0.5, 2.0, size=C)
    return (jnp.asarray(x, dtype), jnp.asarray(y), jnp.asarray(t, dtype), jnp.asarray(w, dtype))


def _core_kwargs(sparse, use_w, use_eps, use_z, use_active, y, t, w, dtype):
    return dict(
        labels=y if sparse else None,
        targets=None if sparse else t,
        class_weights=w[None] if use_w else None,
        label_smoothing=jnp.asarray(0.15, dtype) if use_eps else None,
        z_loss=jnp.asarray(0.05, dtype) if use_z else None,
        active=jnp.asarray([True, True, False, True, True]) if use_active else None,
    )


COMBOS = [
    c for c in itertools.product([True, False], [0, 1], [0, 1], [0, 1], [0, 1]) if c[0] or not c[4]
]  # dense mode has no `active`


def test_fast_core_equals_reference_for_every_option_combination():
    x, y, t, w = _inputs()
    r = rng(1)
    ct = jnp.asarray(r.normal(size=N))
    dx = jnp.asarray(r.normal(size=(N, C)))
    for combo in COMBOS:
        kw = _core_kwargs(*combo, y, t, w, jnp.float64)
        fast = lambda z: jnp.sum(ct * ce._ce_rows(z, **kw)[0])
        ref = lambda z: jnp.sum(ct * ce._ce_rows_ref(z, **kw)[0])
        v1, g1 = jax.value_and_grad(fast)(x)
        v2, g2 = jax.value_and_grad(ref)(x)
        assert_finite(g1)
        np.testing.assert_allclose(float(v1), float(v2), rtol=1e-13, err_msg=str(combo))
        np.testing.assert_allclose(
            np.asarray(g1), np.asarray(g2), rtol=1e-12, atol=1e-14, err_msg=str(combo)
        )
        j1 = jax.jvp(fast, (x,), (dx,))[1]
        j2 = jax.jvp(ref, (x,), (dx,))[1]
        np.testing.assert_allclose(float(j1), float(j2), rtol=1e-12, atol=1e-14, err_msg=str(combo))
        # the reduced per-row output of the core ("none") is identical too
        np.testing.assert_allclose(
            np.asarray(ce._ce_rows(x, **kw)[0]), np.asarray(ce._ce_rows_ref(x, **kw)[0]), rtol=1e-14
        )


def test_fast_core_hessian_equals_reference_with_masked_logits():
    x, y, t, w = _inputs(2)
    for combo in [(True, 1, 1, 1, 1), (False, 1, 1, 1, False)]:
        kw = _core_kwargs(*combo, y, t, w, jnp.float64)
        h1 = jax.jit(jax.hessian(lambda z: jnp.sum(ce._ce_rows(z, **kw)[0])))(x)
        h2 = jax.jit(jax.hessian(lambda z: jnp.sum(ce._ce_rows_ref(z, **kw)[0])))(x)
        assert_finite(h1)
        np.testing.assert_allclose(np.asarray(h1), np.asarray(h2), rtol=1e-12, atol=1e-14)


def test_tangents_of_the_other_arguments_go_through_the_reference():
    """Targets, class weights, ε and z are differentiable (and traced) through the fast core."""
    x, y, t, w = _inputs(3)
    args = (t, w, jnp.asarray(0.1), jnp.asarray(0.02))

    def both(core):
        def f(tt, ww, e, zz):
            s = core(x, labels=y, class_weights=ww[None], label_smoothing=e, z_loss=zz)[0]
            d = core(x, targets=tt, class_weights=ww[None], label_smoothing=e, z_loss=zz)[0]
            return jnp.sum(s * jnp.arange(1.0, N + 1)) + jnp.sum(d * jnp.arange(2.0, N + 2))

        return f

    g1 = jax.grad(both(ce._ce_rows), argnums=(0, 1, 2, 3))(*args)
    g2 = jax.grad(both(ce._ce_rows_ref), argnums=(0, 1, 2, 3))(*args)
    for a, b in zip(g1, g2, strict=False):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-12, atol=1e-14)
    tangents = tuple(jnp.asarray(rng(4).normal(size=np.shape(a))) for a in args)
    j1 = jax.jvp(both(ce._ce_rows), args, tangents)[1]
    j2 = jax.jvp(both(ce._ce_rows_ref), args, tangents)[1]
    np.testing.assert_allclose(float(j1), float(j2), rtol=1e-12)


def _plain_public(z, y, t, w, eps, zl):
    """Plain jnp formula (PyTorch's), all classes finite: sparse + dense, for jvp/hessian checks."""
    lp = jax.nn.log_softmax(z, axis=-1)
    lse = jax.nn.logsumexp(z, axis=-1)
    onehot = jax.nn.one_hot(y, z.shape[-1], dtype=z.dtype)
    wy = w[y]
    sp = wy * (-(1 - eps) * jnp.sum(onehot * lp, -1) + zl * lse**2) - eps / z.shape[-1] * jnp.sum(
        w[None, :] * lp, -1
    )
    tt = (1 - eps) * t + eps / z.shape[-1]
    de = -jnp.sum(w[None, :] * tt * lp, -1) + zl * lse**2
    return jnp.sum(sp) / jnp.sum(wy) + jnp.mean(de)


def test_public_jvp_and_hessian_against_plain_formula_and_finite_differences():
    r = rng(5)
    x = jnp.asarray(r.normal(size=(3, 4)))
    y = jnp.asarray([0, 3, 1])
    t = jnp.asarray(r.dirichlet(np.ones(4), size=3))
    w = jnp.asarray(r.uniform(0.5, 2.0, size=4))
    kw = dict(label_smoothing=0.1, class_weights=w, z_loss=0.03)
    f = jax.jit(lambda z: sparse_ce(z, y, **kw) + soft_ce(z, t, **kw))
    plain = lambda z: _plain_public(z, y, t, w, 0.1, 0.03)
    dx = jnp.asarray(r.normal(size=(3, 4)))
    assert_close(jax.jvp(f, (x,), (dx,))[1], jax.jvp(plain, (x,), (dx,))[1])
    assert_close(jax.jit(jax.hessian(f))(x), jax.jit(jax.hessian(plain))(x))
    assert_close(jax.jit(jax.jacfwd(f))(x), jax.grad(plain)(x))
    # finite differences in float64, forward-over-forward (reverse mode's second order is in
    # tests/test_cross_entropy.py::test_second_order_finite_differences)
    grads_f64(f, (x,), modes=("fwd",))


def test_masked_logits_public_jvp_hessian_finite_and_exact_zero_on_masked_classes():
    x, y, t, w = _inputs(6)
    for f in (
        lambda z: sparse_ce(
            z, y, label_smoothing=0.1, class_weights=w, z_loss=0.01, logit_softcap=5.0
        ),
        lambda z: soft_ce(z, t, label_smoothing=0.1, class_weights=w, z_loss=0.01),
    ):
        g = jax.grad(f)(x)
        h = jax.jit(jax.hessian(f))(x)
        jv = jax.jvp(f, (x,), (jnp.ones_like(x),))[1]
        assert_finite(g), assert_finite(h), assert_finite(jv)
        assert float(g[0, 3]) == 0.0 and float(g[2, 5]) == 0.0
        assert np.all(np.asarray(h)[0, 3] == 0.0)


def test_all_ignored_all_masked_rows_exact_zero_value_and_gradient():
    x, _, _, w = _inputs(7)
    x = x.at[1].set(-jnp.inf)  # a row with no finite logit, ignored
    y = jnp.asarray([-100, -100, -100, -100, -100])
    for kw in (
        {},
        {"class_weights": w},
        {"label_smoothing": 0.2, "z_loss": 0.1},
        {"label_smoothing": 0.2, "class_weights": w, "z_loss": 0.1, "logit_softcap": 3.0},
    ):
        f = lambda z: sparse_ce(z, y, ignore_index=-100, **kw)
        with debug_nans():
            v, g = jax.value_and_grad(f)(x)
            h = jax.jit(jax.hessian(f))(x)
        assert float(v) == 0.0 and np.all(np.asarray(g) == 0.0) and np.all(np.asarray(h) == 0.0)
    # ignored all-masked row among valid rows: the valid rows are unaffected, the row gets 0
    y2 = jnp.asarray([0, -100, 2, 4, 5])
    x2 = x.at[0, 3].set(0.5).at[2, 5].set(0.5)
    g = jax.grad(lambda z: sparse_ce(z, y2, ignore_index=-100, label_smoothing=0.1))(x2)
    assert np.all(np.asarray(g)[1] == 0.0) and np.isfinite(np.asarray(g)).all()


def test_traced_zero_smoothing_is_exact_through_the_fast_rule():
    x, y, t, w = _inputs(8)
    f0 = jax.jit(lambda z: sparse_ce(z, y, class_weights=w))
    fe = jax.jit(lambda z, e: sparse_ce(z, y, class_weights=w, label_smoothing=e))
    assert float(fe(x, 0.0)) == float(f0(x))  # the value is exact
    # the gradient adds exact zeros (ε/K terms), so only the compiled op order may differ
    np.testing.assert_allclose(
        np.asarray(jax.jit(jax.grad(fe))(x, 0.0)),
        np.asarray(jax.jit(jax.grad(f0))(x)),
        rtol=1e-15,
        atol=1e-16,
    )


@pytest.mark.parametrize("dtype", [jnp.bfloat16, jnp.float16])
def test_half_precision_fast_path_equals_float32_reference(dtype):
    x, y, t, w = _inputs(9, np.float32)
    xh = x.astype(dtype)
    x32 = xh.astype(jnp.float32)
    for combo in [(True, 1, 1, 1, 0), (False, 1, 1, 1, False)]:
        sparse = combo[0]
        kw = dict(label_smoothing=0.1, class_weights=w.astype(jnp.float32), z_loss=0.01)
        f = (lambda z: sparse_ce(z, y, **kw)) if sparse else (lambda z: soft_ce(z, t, **kw))
        v, g = jax.value_and_grad(f)(xh)
        assert v.dtype == jnp.float32 and g.dtype == dtype
        ck = _core_kwargs(*combo, y, t.astype(jnp.float32), w.astype(jnp.float32), jnp.float32)
        ck.update(label_smoothing=jnp.float32(0.1), z_loss=jnp.float32(0.01))
        ref = lambda z: jnp.mean(ce._ce_rows_ref(z, **ck)[0]) if not sparse else None
        if sparse:
            wy = w.astype(jnp.float32)[y]
            ref = lambda z: jnp.sum(ce._ce_rows_ref(z, **ck)[0]) / jnp.sum(wy)
        v2, g2 = jax.value_and_grad(ref)(x32)
        np.testing.assert_allclose(float(v), float(v2), rtol=1e-6)
        np.testing.assert_allclose(
            np.asarray(g, np.float32),
            np.asarray(g2.astype(dtype), np.float32),
            rtol=1e-2,
            atol=1e-3,
        )


def test_no_softmax_sized_temporary_under_value_and_grad():
    """The reverse pass keeps per-row statistics only: temporary memory far below one [N, C]."""
    x = jnp.asarray(rng(10).normal(size=(64, 1000)), jnp.float32)
    y = jnp.asarray(rng(10).integers(0, 1000, size=64))
    t = jax.nn.softmax(x)
    for f in (
        lambda z, yy, tt: sparse_ce(z, yy),
        lambda z, yy, tt: soft_ce(z, tt),
        lambda z, yy, tt: sparse_ce(
            z, yy, class_weights=jnp.ones(1000), z_loss=1e-4, ignore_index=3
        ),
    ):
        compiled = jax.jit(jax.value_and_grad(f)).lower(x, y, t).compile()
        mem = compiled.memory_analysis()
        if mem is None:
            pytest.skip("no memory analysis on this backend")
        # sparse: per-row vectors only; dense: at most a 1-byte finite-mask of [N, C] (< 1/2 a
        # float32 [N, C] array) — never a float softmax-sized residual
        assert mem.temp_size_in_bytes < x.size * 4 // 2, mem.temp_size_in_bytes
