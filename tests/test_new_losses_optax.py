"""The losses added for optax parity, against float64 NumPy references written plainly.

perceptron_loss, multiclass_perceptron_loss, sparsemax_loss, multiclass_sparsemax_loss,
generalized_kl_divergence, ranking_softmax_loss, ctc_loss_with_forward_probs,
make_fenchel_young_loss, and poly1_cross_entropy with soft labels.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.scipy.special import logsumexp
from jax.test_util import check_grads

import jaxloss

RNG = np.random.default_rng(0)


def _np(x):
    return np.asarray(x, np.float64)


# ------------------------------------------------------------------------ float64 references
def ref_perceptron(s, t):
    return np.maximum(0.0, -t * s)


def ref_multiclass_perceptron(s, y):
    return np.array([row.max() - row[k] for row, k in zip(s, y, strict=True)])


def ref_sparse_plus(x):
    if x <= -1:
        return 0.0
    if x >= 1:
        return x
    return (x + 1) ** 2 / 4


def ref_sparsemax_loss(s, t):
    # t·sparseplus(−s) + (1 − t)·sparseplus(s); for hard t: sparseplus of ∓s
    return np.array(
        [
            ti * ref_sparse_plus(-si) + (1 - ti) * ref_sparse_plus(si)
            for si, ti in zip(s, t, strict=True)
        ]
    )


def ref_sparsemax(z):
    """Projection onto the simplex by bisection on τ (independent of the sort-based kernel)."""
    lo, hi = z.max() - 1.0, z.max()
    for _ in range(200):
        tau = (lo + hi) / 2
        if np.maximum(z - tau, 0).sum() > 1:
            lo = tau
        else:
            hi = tau
    return np.maximum(z - (lo + hi) / 2, 0)


def ref_multiclass_sparsemax(s, y):
    out = []
    for row, k in zip(s, y, strict=True):
        p = ref_sparsemax(row)
        out.append(p @ row - row[k] + 0.5 * (1 - p @ p))
    return np.array(out)


def ref_generalized_kl(log_p, t):
    p = np.exp(log_p)
    safe = np.where(t > 0, t, 1.0)
    return np.sum(np.where(t > 0, t * (np.log(safe) - log_p), 0.0) + p - t, axis=-1)


def ref_ranking_softmax(s, y, valid):
    out = []
    for si, yi, vi in zip(s, y, valid, strict=True):
        if not vi.any():
            out.append(0.0)
            continue
        lse = np.log(np.sum(np.exp(si[vi])))
        out.append(-np.sum(yi[vi] * (si[vi] - lse)))
    return np.array(out)


def ref_ctc_alphas(logits, labels, blank=0):
    """Plain forward algorithm (probabilities, float64) on the blank-extended sequence."""
    lp = logits - np.log(np.sum(np.exp(logits), -1, keepdims=True))
    p = np.exp(lp)
    ext = [blank]
    for lab in labels:
        ext += [lab, blank]
    S, T = len(ext), p.shape[0]
    alpha = np.zeros((T, S))
    alpha[0, 0] = p[0, ext[0]]
    alpha[0, 1] = p[0, ext[1]]
    for t in range(1, T):
        for s in range(S):
            a = alpha[t - 1, s] + (alpha[t - 1, s - 1] if s >= 1 else 0.0)
            if s >= 2 and ext[s] != blank and ext[s] != ext[s - 2]:
                a += alpha[t - 1, s - 2]
            alpha[t, s] = a * p[t, ext[s]]
    return alpha


# ---------------------------------------------------------------------------------- values
def test_perceptron_values():
    s = RNG.normal(size=(4, 3))
    t = np.where(RNG.random((4, 3)) > 0.5, 1.0, -1.0)
    out = jax.jit(lambda a, b: jaxloss.perceptron_loss(a, b, reduction="none"))(s, t)
    np.testing.assert_allclose(_np(out), ref_perceptron(s, t), rtol=1e-12)


def test_multiclass_perceptron_values():
    s = RNG.normal(size=(5, 4))
    y = RNG.integers(0, 4, 5)
    out = jaxloss.multiclass_perceptron_loss(s, y, reduction="none")
    np.testing.assert_allclose(_np(out), ref_multiclass_perceptron(s, y), rtol=1e-12)


def test_sparsemax_binary_values_hard_and_soft():
    s = np.array([-3.0, -1.0, -0.4, 0.0, 0.3, 1.0, 2.5, 0.7])
    t = np.array([1.0, 0.0, 1.0, 1.0, 0.0, 1.0, 0.0, 0.25])
    out = jaxloss.sparsemax_loss(s, t, reduction="none")
    ref = ref_sparsemax_loss(s, t) - t * (1 - t)
    np.testing.assert_allclose(_np(out), ref, rtol=1e-12, atol=1e-15)
    # zero exactly where sparse_sigmoid(s) = clip((s + 1)/2, 0, 1) equals the target
    z = jaxloss.sparsemax_loss(
        jnp.array([0.5, 3.0, -2.0]), jnp.array([0.75, 1.0, 0.0]), reduction="none"
    )
    np.testing.assert_allclose(_np(z), 0.0, atol=1e-15)


def test_sparsemax_binary_infinite_logits_exact():
    s = jnp.array([jnp.inf, -jnp.inf, jnp.inf, -jnp.inf])
    t = jnp.array([1.0, 0.0, 0.0, 1.0])
    out = jaxloss.sparsemax_loss(s, t, reduction="none")
    np.testing.assert_array_equal(_np(out), [0.0, 0.0, np.inf, np.inf])
    g = jax.grad(lambda a: jaxloss.sparsemax_loss(a, t[:2], reduction="sum"))(s[:2])
    np.testing.assert_array_equal(_np(g), [0.0, 0.0])


def test_multiclass_sparsemax_values_and_gradient():
    s = RNG.normal(size=(6, 5)) * 2
    y = RNG.integers(0, 5, 6)
    out = jaxloss.multiclass_sparsemax_loss(s, y, reduction="none")
    np.testing.assert_allclose(_np(out), ref_multiclass_sparsemax(s, y), rtol=1e-9, atol=1e-12)
    g = jax.grad(lambda a: jaxloss.multiclass_sparsemax_loss(a, y, reduction="sum"))(s)
    ref_g = np.stack([ref_sparsemax(r) for r in s]) - np.eye(5)[y]
    np.testing.assert_allclose(_np(g), ref_g, atol=1e-9)


def test_multiclass_sparsemax_large_and_masked_scores():
    s = jnp.array([[0.0, 1e4, -jnp.inf], [1e4, 0.0, 0.0]])
    y = jnp.array([1, 0])
    out = jaxloss.multiclass_sparsemax_loss(s, y, reduction="none")
    np.testing.assert_array_equal(_np(out), [0.0, 0.0])
    g = jax.grad(lambda a: jaxloss.multiclass_sparsemax_loss(a, y))(s)
    assert np.all(np.isfinite(_np(g)))


def test_generalized_kl_values():
    log_p = RNG.normal(size=(3, 4))
    t = RNG.random((3, 4))
    t[0, 1] = 0.0
    out = jaxloss.generalized_kl_divergence(log_p, t, reduction="none")
    np.testing.assert_allclose(_np(out), ref_generalized_kl(log_p, t), rtol=1e-12)
    # normalised inputs: equals the KL divergence
    lp = np.log(np.full((1, 4), 0.25))
    q = np.array([[0.1, 0.2, 0.3, 0.4]])
    np.testing.assert_allclose(
        _np(jaxloss.generalized_kl_divergence(lp, q)), _np(jaxloss.kl_divergence(lp, q)), rtol=1e-12
    )
    assert jaxloss.get("convex_kl_divergence") is jaxloss.generalized_kl_divergence


def test_ranking_softmax_values():
    s = RNG.normal(size=(4, 5))
    y = RNG.integers(0, 3, (4, 5)).astype(np.float64)
    valid = RNG.random((4, 5)) > 0.3
    valid[2] = False
    out = jaxloss.ranking_softmax_loss(s, y, item_where=valid, reduction="none")
    np.testing.assert_allclose(_np(out), ref_ranking_softmax(s, y, valid), rtol=1e-12)
    mean = jaxloss.ranking_softmax_loss(s, y, item_where=valid)
    ref = ref_ranking_softmax(s, y, valid)[valid.any(-1)].mean()
    np.testing.assert_allclose(float(mean), ref, rtol=1e-12)
    w = RNG.random((4, 5))
    out_w = jaxloss.ranking_softmax_loss(s, y, item_weights=w, reduction="none")
    np.testing.assert_allclose(
        _np(out_w), ref_ranking_softmax(s, y * w, np.ones_like(valid)), rtol=1e-12
    )


def test_ctc_forward_probs_against_plain_forward_algorithm():
    T, K = 6, 4
    logits = RNG.normal(size=(2, T, K))
    labels = np.array([[1, 2, 2], [3, 1, 0]])
    lengths = [3, 2]
    label_pad = np.array([[0.0, 0, 0], [0, 0, 1]])
    loss, blank, lab = jaxloss.ctc_loss_with_forward_probs(
        logits, np.zeros((2, T)), labels, label_pad, reduction="none"
    )
    np.testing.assert_allclose(
        _np(loss),
        _np(jaxloss.ctc_loss(logits, np.zeros((2, T)), labels, label_pad, reduction="none")),
    )
    for b in range(2):
        L = lengths[b]
        alpha = ref_ctc_alphas(logits[b], labels[b, :L])
        with np.errstate(divide="ignore"):
            la = np.log(alpha)
        np.testing.assert_allclose(_np(blank[:-1, b, : L + 1]), la[:-1, 0::2], rtol=1e-10)
        np.testing.assert_allclose(_np(lab[:, b, :L]), la[:, 1::2], rtol=1e-10)
        end = alpha[-1, 2 * L] + alpha[-1, 2 * L - 1]
        np.testing.assert_allclose(float(blank[-1, b, L]), np.log(end), rtol=1e-10)
        np.testing.assert_allclose(float(loss[b]), -np.log(end), rtol=1e-10)


def test_fenchel_young_logsumexp_is_softmax_cross_entropy():
    fy = jaxloss.make_fenchel_young_loss(logsumexp)
    s = RNG.normal(size=(3, 5))
    y = RNG.integers(0, 5, 3)
    onehot = np.eye(5)[y]
    np.testing.assert_allclose(
        _np(fy(s, onehot, reduction="none")),
        _np(jaxloss.sparse_softmax_cross_entropy(s, y, reduction="none")),
        rtol=1e-12,
    )
    # the gradient is softmax(s) − t
    g = jax.grad(lambda a: fy(a, onehot, reduction="sum"))(s)
    p = np.exp(s) / np.exp(s).sum(-1, keepdims=True)
    np.testing.assert_allclose(_np(g), p - onehot, rtol=1e-10)
    # axis
    np.testing.assert_allclose(
        _np(fy(s.T, onehot.T, axis=0, reduction="none")), _np(fy(s, onehot, reduction="none"))
    )


def test_poly1_soft_labels_values_and_one_hot_consistency():
    x = RNG.normal(size=(4, 3))
    t = RNG.dirichlet(np.ones(3), 4)
    eps = 1.5
    p = np.exp(x) / np.exp(x).sum(-1, keepdims=True)
    ref = -(t * np.log(p)).sum(-1) + eps * (t * (1 - p)).sum(-1)
    out = jaxloss.poly1_cross_entropy(x, t, epsilon=eps, reduction="none")
    np.testing.assert_allclose(_np(out), ref, rtol=1e-12)
    y = RNG.integers(0, 3, 4)
    np.testing.assert_allclose(
        _np(jaxloss.poly1_cross_entropy(x, np.eye(3)[y], epsilon=eps, reduction="none")),
        _np(jaxloss.poly1_cross_entropy(x, y, epsilon=eps, reduction="none")),
        rtol=1e-12,
    )


# ------------------------------------------------------------------------------- gradients
GRAD_CASES = {
    "perceptron_loss": lambda: (
        lambda s: jaxloss.perceptron_loss(s, jnp.array([1.0, -1.0, 1.0])),
        (jnp.array([-0.7, -0.3, -1.2]),),
    ),
    "multiclass_perceptron_loss": lambda: (
        lambda s: jaxloss.multiclass_perceptron_loss(s, jnp.array([0, 2])),
        (jnp.array([[0.1, 0.9, 0.3], [1.0, 0.2, -0.4]]),),
    ),
    "sparsemax_loss": lambda: (
        lambda s: jaxloss.sparsemax_loss(s, jnp.array([1.0, 0.0, 0.3])),
        (jnp.array([0.2, -0.4, 2.0]),),
    ),
    "multiclass_sparsemax_loss": lambda: (
        lambda s: jaxloss.multiclass_sparsemax_loss(s, jnp.array([0, 2])),
        (jnp.array([[0.1, 0.5, 0.3], [1.0, 0.2, -0.4]]),),
    ),
    "generalized_kl_divergence": lambda: (
        lambda a, b: jaxloss.generalized_kl_divergence(a, b),
        (jnp.array([[-1.0, 0.3, -0.2]]), jnp.array([[0.2, 0.5, 0.9]])),
    ),
    "ranking_softmax_loss": lambda: (
        lambda s, y: jaxloss.ranking_softmax_loss(s, y),
        (jnp.array([[0.3, -1.0, 2.0]]), jnp.array([[1.0, 0.0, 2.0]])),
    ),
    "ctc_loss_with_forward_probs": lambda: (
        lambda x: jaxloss.ctc_loss_with_forward_probs(
            x, jnp.zeros((1, 4)), jnp.array([[1, 2]]), jnp.zeros((1, 2))
        )[0],
        (jnp.asarray(np.random.default_rng(1).normal(size=(1, 4, 3))),),
    ),
    "make_fenchel_young_loss": lambda: (
        lambda s: jaxloss.make_fenchel_young_loss(logsumexp)(s, jnp.array([[0.2, 0.8, 0.0]])),
        (jnp.array([[0.3, -1.0, 2.0]]),),
    ),
    "poly1_soft": lambda: (
        lambda x, t: jaxloss.poly1_cross_entropy(x, t, epsilon=2.0),
        (jnp.array([[0.3, -1.0, 2.0]]), jnp.array([[0.2, 0.3, 0.5]])),
    ),
}


@pytest.mark.parametrize("name", sorted(GRAD_CASES))
def test_gradients_order1(name):
    f, args = GRAD_CASES[name]()
    check_grads(jax.jit(f), args, order=1, modes=("rev", "fwd"))


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(GRAD_CASES))
def test_gradients_order2(name):
    if name in ("perceptron_loss", "multiclass_perceptron_loss", "multiclass_sparsemax_loss"):
        pytest.skip("piecewise linear / custom first-order rule: no second derivative checked")
    f, args = GRAD_CASES[name]()
    check_grads(f, args, order=2, modes=("rev",))


# ------------------------------------------------------------------------- conventions
@pytest.mark.parametrize(
    "fn, args",
    [
        (jaxloss.perceptron_loss, (np.ones((2, 3)), -np.ones((2, 3)))),
        (jaxloss.sparsemax_loss, (np.ones((2, 3)), np.zeros((2, 3)))),
        (jaxloss.multiclass_perceptron_loss, (np.ones((2, 3)), np.array([0, 1]))),
        (jaxloss.multiclass_sparsemax_loss, (np.ones((2, 3)), np.array([0, 1]))),
        (jaxloss.generalized_kl_divergence, (np.zeros((2, 3)), np.ones((2, 3)))),
        (jaxloss.ranking_softmax_loss, (np.ones((2, 3)), np.ones((2, 3)))),
    ],
)
def test_half_precision_and_masking(fn, args):
    half = [jnp.asarray(a, jnp.bfloat16) if a.dtype == np.float64 else jnp.asarray(a) for a in args]
    assert fn(*half).dtype == jnp.float32
    none = fn(*args, reduction="none")
    m = np.zeros(none.shape, bool)
    m[0] = True
    out = fn(*args, where=jnp.asarray(m), reduction="none")
    assert np.all(_np(out)[~m] == 0.0)
    assert float(fn(*args, where=jnp.zeros(none.shape, bool))) == 0.0


def test_new_losses_are_registered():
    names = set(jaxloss.list_losses())
    for n in (
        "perceptron_loss",
        "multiclass_perceptron_loss",
        "sparsemax_loss",
        "multiclass_sparsemax_loss",
        "generalized_kl_divergence",
        "ranking_softmax_loss",
    ):
        assert n in names


@pytest.mark.parametrize("dtype", [jnp.float32, jnp.float64])
def test_regression_sigmoid_focal_hessian_finite_at_large_logits(dtype):
    """optax' test_extreme_logits_finite_gradients: γ = 0.5, soft and hard labels, |x| ≤ 100.

    q = 1 − p_t underflows (σ(−50) ≈ 2e-22, q² below float32's range), so q^γ's second derivative
    formed from q overflowed; computed from log q (log space) it is finite.
    """
    x = jnp.array([100.0, -100.0, 75.0, -75.0, 50.0, -50.0], dtype)
    t = jnp.array([0.9, 0.1, 0.8, 0.2, 1.0, 0.0], dtype)

    def f(a):
        return jaxloss.sigmoid_focal_loss(a, t, alpha=None, gamma=0.5, reduction="sum")

    assert np.isfinite(float(f(x)))
    assert np.all(np.isfinite(_np(jax.grad(f)(x))))
    assert np.all(np.isfinite(_np(jax.jit(jax.hessian(f))(x))))


def test_triplet_epsilon_inside_root_option():
    a, p, n = (RNG.normal(size=(3, 4)) for _ in range(3))
    eps = 1e-3

    def d(u, v):
        return (np.sum(np.abs(u - v) ** 2, -1) + eps) ** 0.5

    ref = np.maximum(0.0, 1.0 + d(a, p) - d(a, n))
    out = jaxloss.triplet_margin_loss(
        a, p, n, epsilon=eps, epsilon_inside_root=True, reduction="none"
    )
    np.testing.assert_allclose(_np(out), ref, rtol=1e-12)
    check_grads(
        lambda x: jaxloss.triplet_margin_loss(x, p, n, epsilon=eps, epsilon_inside_root=True),
        (a,),
        order=1,
    )
