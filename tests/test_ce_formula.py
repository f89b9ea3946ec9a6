"""The one per-row sparse cross-entropy formula (``_numerics.sparse_ce_*``, issue 13).

The logits-level, fused linear and vocabulary-parallel cross-entropies compute their row
statistics their own way and the loss / logit gradient here; their own tests compare each public
function with references. This checks the shared core itself against float64 NumPy: the value
(PyTorch's smoothing term, class weights, z-loss, a masked class) and that the gradient block is
the derivative of the value.
"""

import warnings

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.sharding import PartitionSpec as P

import jaxloss
from jaxloss._numerics import sparse_ce_grad, sparse_ce_grad_coefs, sparse_ce_row
from jaxloss.sharding import _check_logits_labels, vocab_parallel_cross_entropy

EPS, ZL = 0.2, 0.03


def _case(weighted):
    rng = np.random.default_rng(1)
    x = rng.normal(size=(3, 5)) * 2
    x[1, 2] = -np.inf  # a masked class
    y = np.array([0, 3, 4])
    cw = rng.uniform(0.5, 2.0, size=5) if weighted else np.ones(5)
    return x, y, cw


def _numpy_loss(x, y, cw):
    fin = np.isfinite(x)
    lse = np.log(np.sum(np.where(fin, np.exp(np.where(fin, x, 0)), 0), axis=1))
    rows = np.arange(len(y))
    k = fin.sum(axis=1)
    smooth = np.sum(np.where(fin, cw * (lse[:, None] - np.where(fin, x, 0)), 0), axis=1)
    wy = cw[y]
    return wy * ((1 - EPS) * (lse - x[rows, y]) + ZL * lse**2) + EPS / k * smooth, lse


@pytest.mark.parametrize("weighted", [False, True])
def test_value_and_gradient_block(weighted):
    x, y, cw = _case(weighted)
    want, lse = _numpy_loss(x, y, cw)
    fin = np.isfinite(x)
    k = fin.sum(axis=1).astype(float)
    w_f = np.sum(np.where(fin, cw, 0), axis=1)
    w_y = cw[y] if weighted else None
    x_f = np.where(fin, x, 0)
    smooth_h = (w_f if weighted else k) * lse - np.sum(np.where(fin, cw * x_f, 0), axis=1)
    ce = lse - x[np.arange(3), y]
    wy_arg = None if w_y is None else jnp.asarray(w_y)
    loss, d_eps, d_z = sparse_ce_row(
        jnp.asarray(ce), jnp.asarray(lse), eps=EPS, z_loss=ZL, smooth_h=jnp.asarray(smooth_h),
        k=jnp.asarray(k), w_y=wy_arg,
    )  # fmt: skip
    np.testing.assert_allclose(np.asarray(loss), want, rtol=1e-12)
    # ℓ is linear in ε and λ: ∂ℓ/∂ε = S/K − w_y·ce, ∂ℓ/∂λ = w_y·lse²
    wy = cw[y]
    np.testing.assert_allclose(np.asarray(d_eps), smooth_h / k - wy * ce, rtol=1e-12)
    np.testing.assert_allclose(np.asarray(d_z), wy * lse**2, rtol=1e-12)

    # gradient block: p·coef − hot·onehot − unit·w·[exists] equals the derivative of the NumPy
    # loss (central differences on the finite logits), times a per-row cotangent g
    g = np.array([0.5, -1.0, 2.0])
    coef, hot, unit = sparse_ce_grad_coefs(
        jnp.asarray(lse), g=jnp.asarray(g), eps=EPS, z_loss=ZL, k=jnp.asarray(k),
        w_f=jnp.asarray(w_f) if weighted else None, w_y=wy_arg,
    )  # fmt: skip
    p = np.where(fin, np.exp(x_f - lse[:, None]), 0)
    onehot = np.arange(5)[None, :] == y[:, None]
    dz = sparse_ce_grad(
        jnp.asarray(p), coef, hot, unit, jnp.asarray(onehot), jnp.asarray(fin),
        jnp.asarray(cw)[None, :] if weighted else None,
    )  # fmt: skip
    num = np.zeros_like(x_f)
    step = 1e-6
    for i in range(3):
        for c in range(5):
            if not fin[i, c]:
                continue
            xp, xm = x.copy(), x.copy()
            xp[i, c] += step
            xm[i, c] -= step
            num[i, c] = g[i] * (_numpy_loss(xp, y, cw)[0][i] - _numpy_loss(xm, y, cw)[0][i])
    np.testing.assert_allclose(np.asarray(dz), num / (2 * step), rtol=1e-6, atol=1e-8)
    assert np.all(np.asarray(dz)[~fin] == 0)


def test_vocab_parallel_weighted_posinf_row_is_nan_like_single_device():
    """Regression: with class weights the vocabulary-parallel loss gave +inf (not NaN) on a row
    with a +inf logit; the single-device loss (and the unweighted rule) give NaN."""
    mesh = jax.make_mesh((1,), ("model",), axis_types=(jax.sharding.AxisType.Auto,))
    x = jnp.asarray([[1.0, np.inf, 0.5, 2.0], [0.1, 0.2, 0.3, 0.4]])
    y = jnp.asarray([0, 2])
    cw = jnp.asarray([1.0, 2.0, 0.5, 1.5])

    @jax.jit
    def both(x):
        fn = jax.shard_map(
            lambda a, b: vocab_parallel_cross_entropy(
                a, b, axis_name="model", class_weights=cw, label_smoothing=0.1, reduction="none"
            ),
            mesh=mesh,
            in_specs=(P(None, "model"), P()),
            out_specs=P(),
        )
        single = jaxloss.sparse_softmax_cross_entropy(
            x, y, class_weights=cw, label_smoothing=0.1, reduction="none"
        )
        return fn(x, y), single

    got, want = both(x)
    assert np.isnan(np.asarray(got)[0]) and np.isnan(np.asarray(want)[0])
    np.testing.assert_allclose(np.asarray(got)[1], np.asarray(want)[1], rtol=1e-12)


def test_vocab_parallel_checks_take_python_lists_without_deprecation_warning():
    """Regression: the shape checks called ``jnp.shape`` on Python lists (a DeprecationWarning,
    a future JAX error); the lists column of the numerics table reached them."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", DeprecationWarning)
        _check_logits_labels("vocab_parallel_cross_entropy", [[1.0, 2.0], [0.5, 0.1]], [0, 1])
        with pytest.raises(ValueError, match="'labels' must have the shape"):
            _check_logits_labels("vocab_parallel_cross_entropy", [[1.0, 2.0]], [0, 1])
