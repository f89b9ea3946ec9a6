"""Tests of the shared cores: numerics, reduction, registry, validation."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxloss
from jaxloss import _numerics as nx

from .helpers import assert_close, assert_finite, reduce_ref, rng


def test_logsumexp_matches_numpy_and_handles_masks():
    x = rng(0).normal(size=(4, 7))
    ref = np.log(np.exp(x).sum(-1))
    assert_close(nx.logsumexp(jnp.asarray(x)), ref)
    xm = x.copy()
    xm[:, :3] = -np.inf
    assert_close(nx.logsumexp(jnp.asarray(xm)), np.log(np.exp(x[:, 3:]).sum(-1)))
    allmasked = jnp.full((2, 3), -jnp.inf)
    assert np.all(np.isneginf(nx.logsumexp(allmasked)))
    g = jax.grad(lambda z: jnp.sum(jnp.where(jnp.isfinite(nx.logsumexp(z)), nx.logsumexp(z), 0.0)))(
        allmasked
    )
    assert_finite(g)


def test_log_softmax_masked_finite_derivatives():
    x = jnp.asarray([[0.5, -jnp.inf, 2.0], [1e4, -1e4, -jnp.inf]])
    t = jnp.asarray([[0.3, 0.0, 0.7], [1.0, 0.0, 0.0]])

    def f(z):
        lp = nx.log_softmax(z)
        return -jnp.sum(jnp.where(t > 0, t * lp, 0.0))

    assert_finite(f(x))
    assert_finite(jax.grad(f)(x))
    assert_finite(jax.jvp(f, (x,), (jnp.ones_like(x),)))
    assert_finite(jax.jit(jax.hessian(f))(x))


def test_clamped_log_and_safe_norm():
    p = jnp.asarray([0.0, 1e-50, 0.5, 1.0])
    assert_close(nx.clamped_log(p), [-100.0, -100.0, np.log(0.5), 0.0])
    assert_finite(jax.grad(lambda q: jnp.sum(nx.clamped_log(q)))(p))
    z = jnp.zeros((3,))
    assert float(nx.safe_norm(z)) == 0.0
    assert_finite(jax.grad(lambda v: nx.safe_norm(v))(z))


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_reduce_loss_matches_reference(reduction):
    r = rng(1)
    v = r.normal(size=(5, 3))
    w = r.uniform(size=(5, 1))
    m = r.uniform(size=(5, 3)) > 0.3
    got = jaxloss.reduce_loss(
        jnp.asarray(v), weights=jnp.asarray(w), where=jnp.asarray(m), reduction=reduction
    )
    assert_close(got, reduce_ref(v, w, m, reduction))


def test_reduce_loss_all_masked_is_exact_zero_with_zero_grad():
    v = jnp.asarray([jnp.nan, 1.0, jnp.inf])
    m = jnp.zeros(3, bool)
    assert float(jaxloss.reduce_loss(v, where=m)) == 0.0
    g = jax.grad(lambda x: jaxloss.reduce_loss(x, where=m))(jnp.ones(3))
    assert np.all(np.asarray(g) == 0.0)


def test_reduce_loss_errors():
    with pytest.raises(ValueError, match="reduce_loss: 'reduction'"):
        jaxloss.reduce_loss(jnp.ones(3), reduction="avg")
    with pytest.raises(ValueError, match="'weights' of shape"):
        jaxloss.reduce_loss(jnp.ones(3), weights=jnp.ones(4))
    with pytest.raises(TypeError, match="'where' must be a boolean"):
        jaxloss.reduce_loss(jnp.ones(3), where=jnp.ones(3))


def test_registry_case_insensitive_and_suggestions():
    assert jaxloss.get("mse") is jaxloss.get("MSE")
    with pytest.raises(ValueError, match="closest matches: .*huber"):
        jaxloss.get("hubber_loss")
    assert "sparse_softmax_cross_entropy" in jaxloss.list_losses()
    assert len(jaxloss.list_losses()) >= 45
