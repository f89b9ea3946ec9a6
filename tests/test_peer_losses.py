"""The canonical losses added for the peer namespaces: float64 NumPy references and gradients.

``multilabel_margin_loss`` and ``triplet_margin_with_distance_loss`` (PyTorch), ``circle_loss`` and
``generalized_cross_entropy`` (Keras). The compat wrappers are tested against the libraries in
``test_compat_torch.py`` / ``test_compat_keras.py``; here the formulas are checked on their own.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.test_util import check_grads

import jaxloss

RNG = np.random.default_rng(0)


# ---------------------------------------------------------------------------------------------
# references, written plainly
# ---------------------------------------------------------------------------------------------


def _mlm_ref(x, y, margin=1.0):
    out = np.zeros(x.shape[0])
    for n in range(x.shape[0]):
        targets = []
        for label in y[n]:
            if label < 0:
                break
            targets.append(label)
        others = [i for i in range(x.shape[1]) if i not in targets]
        out[n] = sum(max(0.0, margin - (x[n, j] - x[n, i])) for j in targets for i in others)
        out[n] /= x.shape[1]
    return out


def _circle_ref(e, y, r=None, ry=None, gamma=80.0, m=0.4, remove_diagonal=True):
    r = e if r is None else r
    ry = y if ry is None else ry
    out = np.zeros(len(e))
    for i in range(len(e)):
        pos, neg = [], []
        for j in range(len(r)):
            d = max(0.0, 1.0 - e[i] @ r[j])
            if y[i] == ry[j]:
                if remove_diagonal and i == j:
                    continue
                pos.append(-gamma * max(0.0, m + d) * (m - d))
            else:
                neg.append(gamma * max(0.0, 1 + m - d) * (1 - m - d))
        if pos and neg:
            z = np.logaddexp.reduce(pos) + np.logaddexp.reduce(neg)
            out[i] = np.logaddexp(0.0, z)
    return out


def _unit(x):
    return x / np.linalg.norm(x, axis=-1, keepdims=True)


# ---------------------------------------------------------------------------------------------
# multilabel_margin_loss
# ---------------------------------------------------------------------------------------------


def _mlm_inputs():
    x = RNG.standard_normal((5, 4))
    y = np.array([[3, 0, -1, 1], [0, 1, 2, 3], [-1, 2, 2, 2], [2, -1, -1, -1], [1, 1, -1, 0]])
    return x, y


@pytest.mark.parametrize("margin", [1.0, 0.3])
def test_multilabel_margin_loss_matches_reference(margin):
    x, y = _mlm_inputs()
    f = jax.jit(jaxloss.multilabel_margin_loss, static_argnames="reduction")
    want = _mlm_ref(x, y, margin)
    got = f(jnp.asarray(x), jnp.asarray(y), margin=margin, reduction="none")
    np.testing.assert_allclose(got, want, rtol=1e-12)
    np.testing.assert_allclose(
        f(jnp.asarray(x), jnp.asarray(y), margin=margin), want.mean(), rtol=1e-12
    )
    # class axis 0
    got0 = jaxloss.multilabel_margin_loss(
        jnp.asarray(x.T), jnp.asarray(y.T), axis=0, margin=margin, reduction="none"
    )
    np.testing.assert_allclose(got0, want, rtol=1e-12)


def test_multilabel_margin_loss_gradient_and_reduction_options():
    x, y = _mlm_inputs()
    check_grads(lambda z: jaxloss.multilabel_margin_loss(z, jnp.asarray(y)), (jnp.asarray(x),), 2)
    w = jnp.asarray([1.0, 2.0, 0.0, 1.0, 1.0])
    where = jnp.asarray([True, True, True, False, True])
    got = jaxloss.multilabel_margin_loss(jnp.asarray(x), jnp.asarray(y), weights=w, where=where)
    ref = _mlm_ref(x, y)
    keep = np.asarray(where)
    np.testing.assert_allclose(got, (ref * w)[keep].sum() / np.asarray(w)[keep].sum(), rtol=1e-12)
    bad = jaxloss.multilabel_margin_loss(
        jnp.asarray(x), jnp.asarray(y).at[0, 0].set(7), reduction="none"
    )
    assert np.isnan(bad[0]) and np.all(np.isfinite(bad[1:]))


# ---------------------------------------------------------------------------------------------
# triplet_margin_with_distance_loss
# ---------------------------------------------------------------------------------------------


def test_triplet_with_default_distance_is_triplet_margin_loss():
    a, p, n = (jnp.asarray(RNG.standard_normal((6, 3))) for _ in range(3))
    for swap in (False, True):
        got = jaxloss.triplet_margin_with_distance_loss(a, p, n, swap=swap, reduction="none")
        want = jaxloss.triplet_margin_loss(a, p, n, swap=swap, reduction="none")
        np.testing.assert_allclose(got, want, rtol=1e-12)


def test_triplet_with_custom_distance_matches_reference():
    a, p, n = (RNG.standard_normal((6, 3)) for _ in range(3))

    def l1(x, y):
        return jnp.sum(jnp.abs(x - y), axis=-1)

    for swap, margin in ((False, 1.0), (True, 0.5)):
        d_an = np.abs(a - n).sum(-1)
        if swap:
            d_an = np.minimum(d_an, np.abs(p - n).sum(-1))
        want = np.maximum(margin + np.abs(a - p).sum(-1) - d_an, 0)
        got = jaxloss.triplet_margin_with_distance_loss(
            jnp.asarray(a),
            jnp.asarray(p),
            jnp.asarray(n),
            distance_function=l1,
            swap=swap,
            margin=margin,
            reduction="none",
        )
        np.testing.assert_allclose(got, want, rtol=1e-12)
    check_grads(
        lambda x: jaxloss.triplet_margin_with_distance_loss(x, jnp.asarray(p), jnp.asarray(n)),
        (jnp.asarray(a),),
        1,
    )
    with pytest.raises(TypeError, match="distance_function"):
        jaxloss.triplet_margin_with_distance_loss(
            jnp.asarray(a), jnp.asarray(p), jnp.asarray(n), distance_function=3
        )


# ---------------------------------------------------------------------------------------------
# circle_loss
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("remove_diagonal", [True, False])
@pytest.mark.parametrize(("gamma", "margin"), [(80.0, 0.4), (4.0, 0.25)])
def test_circle_loss_matches_reference(remove_diagonal, gamma, margin):
    e = _unit(RNG.standard_normal((7, 4)))
    y = np.array([0, 0, 1, 1, 1, 2, 3])  # class 3 has no positive: loss 0
    got = jaxloss.circle_loss(
        jnp.asarray(e),
        jnp.asarray(y),
        gamma=gamma,
        margin=margin,
        remove_diagonal=remove_diagonal,
        reduction="none",
    )
    want = _circle_ref(e, y, gamma=gamma, m=margin, remove_diagonal=remove_diagonal)
    np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)
    r = _unit(RNG.standard_normal((5, 4)))
    ry = np.array([0, 1, 2, 2, 3])
    got = jaxloss.circle_loss(
        jnp.asarray(e),
        jnp.asarray(y),
        ref_embeddings=jnp.asarray(r),
        ref_labels=jnp.asarray(ry),
        gamma=gamma,
        margin=margin,
        remove_diagonal=False,
        reduction="none",
    )
    want = _circle_ref(e, y, r, ry, gamma=gamma, m=margin, remove_diagonal=False)
    np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)


def test_circle_loss_gradients_finite_with_empty_sets():
    e = jnp.asarray(_unit(RNG.standard_normal((5, 3))))
    y = jnp.asarray([0, 0, 1, 1, 2])  # anchor 4 has no positive
    g = jax.grad(lambda z: jaxloss.circle_loss(z, y, gamma=4.0))(e)
    assert np.all(np.isfinite(g))
    check_grads(lambda z: jaxloss.circle_loss(z, y, gamma=4.0), (e,), 1)
    # every anchor alone in its class: exactly 0 with a zero gradient
    y1 = jnp.arange(5)
    v, g = jax.value_and_grad(lambda z: jaxloss.circle_loss(z, y1))(e)
    assert float(v) == 0.0 and np.all(np.asarray(g) == 0.0)


# ---------------------------------------------------------------------------------------------
# generalized_cross_entropy
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("q", [0.5, 0.7, 1.0])
def test_generalized_cross_entropy_matches_reference(q):
    p = RNG.uniform(0.05, 1.0, (6, 4))
    p /= p.sum(-1, keepdims=True)
    y = RNG.integers(0, 4, 6)
    want = (1 - p[np.arange(6), y] ** q) / q
    got = jaxloss.generalized_cross_entropy(jnp.asarray(p), jnp.asarray(y), q=q, reduction="none")
    np.testing.assert_allclose(got, want, rtol=1e-12)
    got = jaxloss.generalized_cross_entropy(
        jnp.asarray(p.T), jnp.asarray(y), q=q, axis=0, reduction="sum"
    )
    np.testing.assert_allclose(got, want.sum(), rtol=1e-12)
    check_grads(
        lambda z: jaxloss.generalized_cross_entropy(z, jnp.asarray(y), q=q), (jnp.asarray(p),), 2
    )


def test_generalized_cross_entropy_edges():
    p = jnp.asarray([[0.0, 1.0], [0.5, 0.5]])
    y = jnp.asarray([0, -100])
    v, g = jax.value_and_grad(
        lambda z: jaxloss.generalized_cross_entropy(z, y, q=0.5, ignore_index=-100)
    )(p)
    assert float(v) == pytest.approx(2.0)  # 1/q at p_y = 0, the ignored row counts nothing
    assert np.all(np.isfinite(g)) and np.all(np.asarray(g)[1] == 0)
    # q → 0 approaches the cross-entropy
    pp = jnp.asarray([[0.3, 0.7]])
    np.testing.assert_allclose(
        jaxloss.generalized_cross_entropy(pp, jnp.asarray([0]), q=1e-6), -np.log(0.3), rtol=1e-5
    )


def test_new_losses_are_in_the_catalog_and_registry():
    for name in (
        "multilabel_margin_loss",
        "triplet_margin_with_distance_loss",
        "circle_loss",
        "generalized_cross_entropy",
    ):
        assert name in jaxloss.list_losses()
        assert jaxloss.get(name) is getattr(jaxloss, name)
    assert jaxloss.get("MultiLabelMarginLoss") is jaxloss.multilabel_margin_loss
    assert jaxloss.get("TripletMarginWithDistanceLoss") is jaxloss.triplet_margin_with_distance_loss
