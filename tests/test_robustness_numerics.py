"""Issue 11 ("No silent wrong number"), numerical items: one regression test per item, each against
an independent reference (float64 NumPy closed forms, PyTorch CPU).

3  out-of-range labels: NaN value *and* NaN gradient on kept examples (was softmax/N, finite)
4  overflow of squared norms (cosine, NT-Xent, triplet) for |x| ≳ 1.8e19 in float32
5  label smoothing with logits ±3.4e38 (a gap that overflows x − m)
6  triplet_margin_loss(p=inf)
12 root_mean_squared_error([1e20], [0])
16 sigmoid_focal_loss Hessian for a non-integer gamma at confident logits
17 the three fuzz findings: pinned in tests/test_fuzz.py (regressions section) and re-run here
18 sigmoid_focal_loss with a traced gamma < 0: the documented value
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxloss

F32_MAX = float(np.finfo(np.float32).max)


def _np(x):
    return np.asarray(x, np.float64)


def _softmax64(x):
    x = np.asarray(x, np.float64)
    e = np.exp(x - x.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


# ------------------------------------------------------------------------------------------------
# item 3: out-of-range labels
# ------------------------------------------------------------------------------------------------

X3 = np.array(
    [[0.3, -1.2, 2.0, 0.5], [1.0, 0.1, -0.7, 0.2], [-0.4, 0.9, 0.0, 1.5], [0.8, -0.2, 0.6, -1.1]]
)
Y3 = np.array([2, 4, -1, 0])  # rows 1 and 2 are out of range (C = 4), negatives are not wrapped
GOOD, BAD = np.array([0, 3]), np.array([1, 2])


def _ce_grad_ref(x, y, rows, n):
    """d mean CE / dx on ``rows`` (float64): (softmax − one-hot) / n."""
    g = _softmax64(x[rows])
    g[np.arange(len(rows)), y[rows]] -= 1.0
    return g / n


@pytest.mark.parametrize(
    "opts",
    [{}, {"label_smoothing": 0.1}, {"class_weights": jnp.ones(4)}, {"z_loss": 1e-3}],
    ids=["plain", "smoothing", "class_weights", "z_loss"],
)
def test_item3_sparse_ce_out_of_range_value_and_gradient_are_nan(opts):
    x, y = jnp.asarray(X3), jnp.asarray(Y3)

    def f(z, **kw):
        return jaxloss.sparse_softmax_cross_entropy(z, y, **opts, **kw)

    value, g = jax.value_and_grad(f)(x)
    g = _np(g)
    assert np.isnan(float(value))
    # the bad rows: NaN everywhere (was softmax/N: finite, non-zero — a silent number)
    assert np.all(np.isnan(g[BAD]))
    # the good rows: the exact gradient of the mean over all 4 examples
    assert np.all(np.isfinite(g[GOOD]))
    if not opts or "class_weights" in opts:
        np.testing.assert_allclose(g[GOOD], _ce_grad_ref(X3, Y3, GOOD, 4), rtol=1e-12)
    # forward mode agrees
    _, jt = jax.jvp(f, (x,), (jnp.ones_like(x),))
    assert np.isnan(float(jt))
    # weights of 0 do not hide it (0 · NaN), value and gradient
    w0 = jnp.asarray([1.0, 0.0, 0.0, 1.0])
    v0, g0 = jax.value_and_grad(lambda z: f(z, weights=w0))(x)
    assert np.isnan(float(v0)) and np.all(np.isnan(_np(g0)[BAD]))
    # where=False drops them: value and gradient exact, gradient exactly 0 there
    keep = jnp.asarray([True, False, False, True])
    vk, gk = jax.value_and_grad(lambda z: f(z, where=keep))(x)
    gk = _np(gk)
    assert np.isfinite(float(vk)) and np.all(gk[BAD] == 0.0)
    if not opts or "class_weights" in opts:
        p = _softmax64(X3[GOOD])
        want = -np.log(p[np.arange(2), Y3[GOOD]]).mean()
        np.testing.assert_allclose(float(vk), want, rtol=1e-12)
        np.testing.assert_allclose(gk[GOOD], _ce_grad_ref(X3, Y3, GOOD, 2), rtol=1e-12)
    # "none": per example
    none = _np(f(x, reduction="none"))
    assert np.all(np.isnan(none[BAD])) and np.all(np.isfinite(none[GOOD]))


def test_item3_ignore_index_is_not_out_of_range():
    x, y = jnp.asarray(X3), jnp.asarray(np.array([2, -100, -100, 0]))
    v, g = jax.value_and_grad(
        lambda z: jaxloss.sparse_softmax_cross_entropy(z, y, ignore_index=-100)
    )(x)
    assert np.isfinite(float(v)) and np.all(_np(g)[BAD] == 0.0)


def test_item3_nll_and_sparse_categorical_gradient_is_nan_at_the_entry_read():
    y = jnp.asarray(Y3)
    lp = jnp.asarray(np.log(_softmax64(X3)))
    p = jnp.asarray(_softmax64(X3))
    p = p.at[1, 0].set(0.0)  # below the -100 clamp: its select must not drop the NaN
    for fn, inp in ((jaxloss.nll_loss, lp), (jaxloss.sparse_categorical_cross_entropy, p)):
        v, g = jax.value_and_grad(lambda z, fn=fn: fn(z, y))(inp)
        g = _np(g)
        assert np.isnan(float(v))
        assert np.all(np.isnan(g[BAD, 0])), fn.__name__  # the placeholder entry read
        assert np.all(np.isfinite(g[GOOD])), fn.__name__
        keep = jnp.asarray([True, False, False, True])
        gk = _np(jax.grad(lambda z, fn=fn: fn(z, y, where=keep))(inp))
        assert np.all(gk[BAD] == 0.0)


@pytest.mark.parametrize("fn", [jaxloss.softmax_focal_loss, jaxloss.poly1_cross_entropy])
def test_item3_classification_sparse_losses_gradient_is_nan(fn):
    x, y = jnp.asarray(X3), jnp.asarray(Y3)
    v, g = jax.value_and_grad(lambda z: fn(z, y))(x)
    g = _np(g)
    assert np.isnan(float(v))
    assert np.all(np.isnan(g[BAD]).any(axis=-1)) and np.all(np.isfinite(g[GOOD]))


def _lce_ref_grad(h, w, y, rows):
    """float64 d(Σ_rows CE(h W))/dh, dW over ``rows`` only."""
    z = h @ w
    g = np.zeros_like(z)
    p = _softmax64(z[rows])
    p[np.arange(len(rows)), y[rows]] -= 1.0
    g[rows] = p
    return g @ w.T, h.T @ g


@pytest.mark.parametrize("method", ["forward_grad", "recompute", "checkpoint"])
def test_item3_linear_ce_out_of_range_value_and_gradient_are_nan(method):
    r = np.random.default_rng(3)
    h, w = r.normal(size=(5, 3)), r.normal(size=(3, 4))
    y = np.array([1, 4, 0, -2, 3])  # tokens 1 and 3 out of range (V = 4)
    bad, good = np.array([1, 3]), np.array([0, 2, 4])
    hj, wj, yj = jnp.asarray(h), jnp.asarray(w), jnp.asarray(y)

    def f(a, b, **kw):
        return jaxloss.linear_cross_entropy(a, b, yj, chunk_size=2, method=method, **kw)

    red = "sum"
    v, (gh, gw) = jax.value_and_grad(lambda a, b: f(a, b, reduction=red), argnums=(0, 1))(hj, wj)
    gh = _np(gh)
    assert np.isnan(float(v))
    # was 0: a finite gradient for a NaN value. Now the token's row of d hidden is NaN, and so is
    # d weight (every entry sums over tokens); the other tokens' rows are untouched
    assert np.all(np.isnan(gh[bad])) and np.all(np.isfinite(gh[good]))
    assert np.all(np.isnan(_np(gw)))
    ref_h, _ = _lce_ref_grad(h, w, y, good)
    np.testing.assert_allclose(gh[good], ref_h[good], rtol=1e-10)
    # where=False drops them exactly
    keep = jnp.asarray([True, False, True, False, True])
    vk, (ghk, gwk) = jax.value_and_grad(
        lambda a, b: f(a, b, where=keep, reduction=red), argnums=(0, 1)
    )(hj, wj)
    ref_h, ref_w = _lce_ref_grad(h, w, y, good)
    z = h[good] @ w
    want = (np.log(np.exp(z).sum(-1)) - z[np.arange(3), y[good]]).sum()
    np.testing.assert_allclose(float(vk), want, rtol=1e-10)
    np.testing.assert_allclose(_np(ghk), ref_h, rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(_np(gwk), ref_w, rtol=1e-10, atol=1e-14)
    # weights of 0 do not hide it; the hyperparameter gradients are NaN too
    if method != "recompute":
        w0 = jnp.asarray([1.0, 0.0, 1.0, 0.0, 1.0])
        g0, geps = jax.grad(lambda a, e: f(a, wj, weights=w0, label_smoothing=e), argnums=(0, 1))(
            hj, 0.1
        )
        assert np.all(np.isnan(_np(g0)[bad])) and np.isnan(float(geps))


# ------------------------------------------------------------------------------------------------
# item 4: no overflow in squared norms (float32, |x| ≳ 1.8e19)
# ------------------------------------------------------------------------------------------------

SCALES = [1e20, 1e25, 1e30, 1e36]


def _cos64(a, b):
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return (a * b).sum(-1) / (np.linalg.norm(a, axis=-1) * np.linalg.norm(b, axis=-1))


@pytest.mark.parametrize("scale", SCALES)
def test_item4_cosine_losses_at_huge_magnitudes(scale):
    r = np.random.default_rng(4)
    a = (r.normal(size=(3, 5)) * scale).astype(np.float32)
    b = (r.normal(size=(3, 5)) * scale).astype(np.float32)
    a32, b32 = jnp.asarray(a), jnp.asarray(b)
    cos = _cos64(a, b)
    # identical vectors: distance 0 (was 1.0), embedding loss 0 (was NaN)
    np.testing.assert_allclose(
        _np(jaxloss.cosine_distance(a32, a32, reduction="none")), 0.0, atol=1e-6
    )
    ones = jnp.ones((3,), jnp.int32)
    np.testing.assert_allclose(
        _np(jaxloss.cosine_embedding_loss(a32, a32, ones, reduction="none")), 0.0, atol=1e-6
    )
    np.testing.assert_allclose(
        _np(jaxloss.cosine_distance(a32, b32, reduction="none")), 1 - cos, rtol=1e-5, atol=1e-6
    )
    np.testing.assert_allclose(
        _np(jaxloss.cosine_similarity_loss(a32, b32, reduction="none")), -cos, rtol=1e-5, atol=1e-6
    )
    t = jnp.asarray([1, -1, -1])
    want = np.where([True, False, False], 1 - cos, np.maximum(cos - 0.1, 0.0))
    np.testing.assert_allclose(
        _np(jaxloss.cosine_embedding_loss(a32, b32, t, margin=0.1, reduction="none")),
        want,
        rtol=1e-5,
        atol=1e-6,
    )
    # gradients: finite and 1/scale times those of the unit-scale inputs (cos is scale-free);
    # at 1e36 the exact gradient (~1e-38) is itself below float32's normal range
    if scale > 1e30:
        return
    g = jax.grad(lambda p: jaxloss.cosine_distance(p, b32))(a32)
    g1 = jax.grad(lambda p: jaxloss.cosine_distance(p, jnp.asarray(b / scale)))(
        jnp.asarray(a / scale)
    )
    np.testing.assert_allclose(_np(g) * scale, _np(g1), rtol=1e-4, atol=1e-7)


def test_item4_cosine_embedding_small_vectors_unchanged():
    # |x| ≤ 1 is not rescaled: PyTorch's exact arithmetic, including the 1e-12 of zero vectors
    torch = pytest.importorskip("torch")
    r = np.random.default_rng(5)
    a = (r.normal(size=(4, 3)) * 0.1).astype(np.float32)
    b = (r.normal(size=(4, 3)) * 0.1).astype(np.float32)
    a[0] = 0.0
    t = np.array([1, -1, 1, -1])
    want = torch.nn.functional.cosine_embedding_loss(
        torch.tensor(a), torch.tensor(b), torch.tensor(t), margin=0.2, reduction="none"
    ).numpy()
    got = jaxloss.cosine_embedding_loss(
        jnp.asarray(a), jnp.asarray(b), jnp.asarray(t), margin=0.2, reduction="none"
    )
    np.testing.assert_allclose(_np(got), want, rtol=1e-6, atol=1e-7)


def _ntxent64(e, labels, temp):
    e = np.asarray(e, np.float64)
    u = e / np.linalg.norm(e, axis=1, keepdims=True)
    s = u @ u.T / temp
    n = len(labels)
    total, count = 0.0, 0
    for i in range(n):
        negs = [k for k in range(n) if labels[k] != labels[i]]
        for j in range(n):
            if j != i and labels[j] == labels[i]:
                den = np.logaddexp.reduce(np.r_[s[i, j], s[i, negs]])
                total += den - s[i, j]
                count += 1
    return total / count


@pytest.mark.parametrize("scale", SCALES)
def test_item4_ntxent_at_huge_magnitudes(scale):
    r = np.random.default_rng(6)
    e = (r.normal(size=(6, 4)) * scale).astype(np.float32)
    labels = np.array([0, 0, 1, 1, 2, 2])
    got = jaxloss.ntxent_loss(jnp.asarray(e), jnp.asarray(labels), temperature=0.5)
    np.testing.assert_allclose(float(got), _ntxent64(e, labels, 0.5), rtol=1e-5)
    assert np.all(np.isfinite(_np(jax.grad(jaxloss.ntxent_loss)(jnp.asarray(e), labels))))


@pytest.mark.parametrize("scale", SCALES)
@pytest.mark.parametrize("p", [1.0, 2.0, 3.0])
def test_item4_triplet_at_huge_magnitudes(scale, p):
    r = np.random.default_rng(7)
    a, pos, neg = ((r.normal(size=(4, 5)) * scale).astype(np.float32) for _ in range(3))

    def d64(u, v):
        return (np.abs(u.astype(np.float64) - v.astype(np.float64)) ** p).sum(-1) ** (1 / p)

    margin = 0.5 * scale
    want = np.maximum(margin + d64(a, pos) - d64(a, neg), 0.0)
    got = jaxloss.triplet_margin_loss(
        jnp.asarray(a),
        jnp.asarray(pos),
        jnp.asarray(neg),
        margin=margin,
        p=p,
        epsilon=0.0,
        reduction="none",
    )
    np.testing.assert_allclose(_np(got), want, rtol=1e-5, atol=1e-5 * scale)


def test_item4_triplet_large_p_does_not_overflow():
    # Σ|d|^10 overflows float32 from |d| ≈ 7e3 already
    a = jnp.zeros((1, 3), jnp.float32)
    pos = jnp.asarray([[1e4, 2e4, 0.0]], jnp.float32)
    want = (1e4**10 + 2e4**10) ** 0.1  # d(anchor, negative) = 0 below: the loss is d_pos
    got = jaxloss.triplet_margin_loss(a, pos, a, margin=0.0, p=10.0, epsilon=0.0)
    np.testing.assert_allclose(float(got), want, rtol=1e-6)


def test_item4_safe_norm_tiny_vectors_do_not_underflow():
    # Σ x² underflows to 0 for |x| ≲ 1e-19 in float32: with epsilon = 0 the cosine was 0
    x = jnp.asarray([[3e-25, 4e-25]], jnp.float32)
    y = jnp.asarray([[4e-25, 3e-25]], jnp.float32)
    got = jaxloss.cosine_distance(x, y, epsilon=0.0)
    np.testing.assert_allclose(float(got), 1 - 24 / 25, rtol=1e-5)


# ------------------------------------------------------------------------------------------------
# item 5: label smoothing at the float32 limit
# ------------------------------------------------------------------------------------------------


def _smoothed_ce64(x, y, eps, w=None):
    """float64 sparse CE with PyTorch's smoothing term (x may be ±3.4e38: no overflow in f64)."""
    x = np.asarray(x, np.float64)
    w = np.ones(x.shape[-1]) if w is None else np.asarray(w, np.float64)
    lse = x.max() + np.log(np.exp(x - x.max()).sum())
    k = x.shape[-1]
    return w[y] * (1 - eps) * (lse - x[y]) + eps / k * (w * (lse - x)).sum()


@pytest.mark.parametrize("case", ["plain", "class_weights", "dense"])
def test_item5_label_smoothing_with_logits_at_the_float32_limit(case):
    big = np.float32(3.4e38)
    x = np.array([[big, -big, big]], np.float32)
    w = np.array([1.0, 2.0, 0.5], np.float32) if case == "class_weights" else None
    want = _smoothed_ce64(x[0], 0, 0.1, w)  # 2.27e37 (was 0.693: -3.4e38 read as masked)
    assert 1e37 < want < F32_MAX
    if case == "dense":
        got = jaxloss.softmax_cross_entropy(
            jnp.asarray(x), jnp.asarray([[1.0, 0.0, 0.0]]), label_smoothing=0.1
        )
    else:
        got = jaxloss.sparse_softmax_cross_entropy(
            jnp.asarray(x),
            jnp.asarray([0]),
            label_smoothing=0.1,
            class_weights=None if w is None else jnp.asarray(w),
            reduction="sum",
        )
    np.testing.assert_allclose(float(got), want, rtol=1e-6)
    # gradient: p − t' (p = [½, 0, ½], t' = 0.9·onehot + 0.1/3), finite
    if case != "class_weights":
        g = jax.grad(
            lambda z: jaxloss.sparse_softmax_cross_entropy(z, jnp.asarray([0]), label_smoothing=0.1)
        )(jnp.asarray(x))
        np.testing.assert_allclose(
            _np(g)[0], np.array([0.5, 0.0, 0.5]) - (0.9 * np.eye(3)[0] + 0.1 / 3), atol=1e-7
        )


def test_item5_many_classes_and_float64():
    # the scaled class sum also holds for C = 1000 with half the logits at −max (float32), and
    # float64 at its own limit
    for dt, big in ((np.float32, np.float32(3.4e38)), (np.float64, 1.7e308)):
        x = np.full((1, 1000), -big, dt)
        x[0, :500] = big
        # closed form: lse = big + log 500; (1 − ε)(lse − x_0) + ε/K Σ_c (lse − x_c)
        # = (1 − ε) log 500 + ε (log 500 + big)   (K = 1000, Σ_c x_c = 0)
        big64, eps = float(big), 0.05
        want = np.log(500.0) + eps * big64
        got = jaxloss.sparse_softmax_cross_entropy(
            jnp.asarray(x), jnp.asarray([0]), label_smoothing=eps
        )
        np.testing.assert_allclose(float(got), want, rtol=1e-5)


# ------------------------------------------------------------------------------------------------
# item 6: triplet_margin_loss(p=inf)
# ------------------------------------------------------------------------------------------------


def test_item6_triplet_p_inf_matches_pytorch():
    torch = pytest.importorskip("torch")
    r = np.random.default_rng(8)
    a, pos, neg = (r.normal(size=(5, 4)) for _ in range(3))
    a[0], pos[0], neg[0] = [0.0, 0.0, 0.0, 0.0], [1.0, 0.5, 0, 0], [0.5, 0.5, 0, 0]  # issue: 1.5
    ta, tp, tn = (torch.tensor(v, requires_grad=True) for v in (a, pos, neg))
    for swap in (False, True):
        want = torch.nn.functional.triplet_margin_loss(
            ta, tp, tn, margin=1.0, p=float("inf"), eps=1e-6, swap=swap, reduction="none"
        )
        (want_ga,) = torch.autograd.grad(want.sum(), ta)

        def f(x, pp, swap=swap):
            return jaxloss.triplet_margin_loss(
                x, jnp.asarray(pos), jnp.asarray(neg), p=pp, swap=swap, reduction="none"
            )

        got = f(jnp.asarray(a), jnp.inf)
        np.testing.assert_allclose(_np(got), want.detach().numpy(), rtol=1e-12)
        if not swap:
            assert abs(float(got[0]) - 1.5) < 1e-5
        # traced p, and the gradient
        got_t = jax.jit(f)(jnp.asarray(a), jnp.asarray(jnp.inf))
        np.testing.assert_allclose(_np(got_t), want.detach().numpy(), rtol=1e-12)
        ga = jax.grad(lambda x: f(x, jnp.inf).sum())(jnp.asarray(a))
        np.testing.assert_allclose(_np(ga), want_ga.numpy(), rtol=1e-12, atol=1e-15)


# ------------------------------------------------------------------------------------------------
# item 12: root_mean_squared_error at large magnitudes
# ------------------------------------------------------------------------------------------------


def test_item12_rmse_large_magnitudes():
    one = jnp.asarray([1e20], jnp.float32)
    np.testing.assert_allclose(
        float(jaxloss.root_mean_squared_error(one, jnp.zeros(1, jnp.float32))), 1e20, rtol=1e-6
    )
    r = np.random.default_rng(12)
    p = (r.normal(size=(3, 4)) * 1e30).astype(np.float32)
    t = (r.normal(size=(3, 4)) * 1e30).astype(np.float32)
    d = p.astype(np.float64) - t.astype(np.float64)
    w = r.uniform(0.5, 2.0, size=(3, 4))
    keep = r.uniform(size=(3, 4)) > 0.3
    pj, tj = jnp.asarray(p), jnp.asarray(t)
    p_masked = pj.at[~keep].set(jnp.inf)  # masked entries may hold anything
    for red, want in (
        ("mean", np.sqrt((w * d * d)[keep].sum() / w[keep].sum())),
        ("sum", np.sqrt((w * d * d)[keep].sum())),
        ("none", np.where(keep, np.sqrt(w) * np.abs(d), 0.0)),
    ):
        got = jaxloss.root_mean_squared_error(
            p_masked, tj, weights=jnp.asarray(w, jnp.float32), where=keep, reduction=red
        )
        np.testing.assert_allclose(_np(got), want, rtol=2e-6)
    # mixed scales in "none": a small element is not flushed by the big one
    got = jaxloss.root_mean_squared_error(
        jnp.asarray([1e30, 1.0], jnp.float32), jnp.zeros(2, jnp.float32), reduction="none"
    )
    np.testing.assert_allclose(_np(got), [1e30, 1.0], rtol=1e-6)
    # gradient: r / (N · rmse), finite
    g = jax.grad(jaxloss.root_mean_squared_error)(pj, tj)
    rmse = np.sqrt((d * d).mean())
    np.testing.assert_allclose(_np(g), d / (d.size * rmse), rtol=1e-5)
    # perfect fit: 0 with a zero gradient; inf still gives inf
    assert float(jaxloss.root_mean_squared_error(pj, pj)) == 0.0
    assert np.all(_np(jax.grad(jaxloss.root_mean_squared_error)(pj, pj)) == 0.0)
    assert np.isposinf(float(jaxloss.root_mean_squared_error(p_masked, tj)))


# ------------------------------------------------------------------------------------------------
# item 16: sigmoid focal Hessian for a non-integer gamma; item 18: traced gamma < 0
# ------------------------------------------------------------------------------------------------


def _focal64(x, t, g, alpha=0.25):
    """Value, first and second derivative in x (float64 closed forms, hard targets).

    For t = 1: q = σ(−x), L = softplus(−x), u = q^γ; f = α·u·L,
    f' = α·u·(−γ(1−q)L − q), f'' = α·u·(γ(1−q)(γ(1−q) − q)L + 2γ(1−q)q + q(1−q)).
    t = 0 is the mirror image (x → −x, α → 1 − α).
    """
    x = np.asarray(x, np.float64)
    s = 1.0 if t == 1 else -1.0
    a = alpha if t == 1 else 1 - alpha
    xs = s * x
    q = 1.0 / (1.0 + np.exp(xs))
    omq = 1.0 / (1.0 + np.exp(-xs))  # 1 − q without cancellation
    L = np.logaddexp(0.0, -xs)
    u = q**g
    f = a * u * L
    f1 = a * u * (-g * omq * L - q) * s
    f2 = a * u * (g * omq * (g * omq - q) * L + 2 * g * omq * q + q * omq)
    return f, f1, f2


@pytest.mark.parametrize("dtype", [jnp.float32, jnp.float64])
@pytest.mark.parametrize("t", [1, 0])
def test_item16_focal_hessian_non_integer_gamma_at_confident_logits(dtype, t):
    xs = np.array([44.0, 50.0, 60.0, 87.0, -50.0, 3.0, -0.5])
    if t == 0:
        xs = -xs
    x = jnp.asarray(xs, dtype)
    tt = jnp.full(x.shape, float(t), dtype)

    def f(z):
        return jaxloss.sigmoid_focal_loss(z, tt, gamma=0.5, reduction="sum")

    h = _np(jnp.diag(jax.jit(jax.hessian(f))(x)))
    g = _np(jax.jit(jax.grad(f))(x))
    _, f1, f2 = _focal64(xs, t, 0.5)
    assert np.all(np.isfinite(h)), h  # was NaN at 44 ≤ |x| ≤ 87 (float32)
    rtol = 1e-5 if dtype == jnp.float32 else 1e-10
    tiny = float(jnp.finfo(dtype).tiny)  # float32 flushes the 1e-57 of x = 87 to 0
    np.testing.assert_allclose(h, f2, rtol=rtol, atol=tiny)
    np.testing.assert_allclose(g, f1, rtol=rtol, atol=tiny)


def test_item16_focal_soft_targets_and_traced_gamma():
    # soft targets: value and gradient against float64 (q = t σ(−x) + (1 − t) σ(x))
    xs = np.array([-30.0, -2.0, 0.0, 0.5, 4.0, 40.0])
    ts = np.array([0.2, 0.7, 0.5, 1.0, 0.0, 0.9])
    sig = lambda v: 1 / (1 + np.exp(-v))  # noqa: E731
    q = ts * sig(-xs) + (1 - ts) * sig(xs)
    bce = ts * np.logaddexp(0, -xs) + (1 - ts) * np.logaddexp(0, xs)
    alpha_t = 0.25 * ts + 0.75 * (1 - ts)
    for gamma in (0.5, 1.5):
        want = alpha_t * q**gamma * bce
        got = jax.jit(lambda x, t, g: jaxloss.sigmoid_focal_loss(x, t, gamma=g, reduction="none"))(
            jnp.asarray(xs), jnp.asarray(ts), gamma
        )
        np.testing.assert_allclose(_np(got), want, rtol=1e-12)


def test_item18_focal_traced_negative_gamma_is_used_as_given():
    # documented: (1 − p_t)^γ up-weights correct predictions; γ = −1, x = 10, t = 1 gives ≈ α
    f = jax.jit(lambda x, g: jaxloss.sigmoid_focal_loss(x, jnp.ones_like(x), gamma=g))
    want, _, _ = _focal64(np.array([10.0]), 1, -1.0)
    np.testing.assert_allclose(float(f(jnp.asarray([10.0]), -1.0)), want[0], rtol=1e-12)
    assert abs(want[0] - 0.25) < 1e-4
    # an exactly right infinite logit gives 0
    assert float(f(jnp.asarray([jnp.inf]), -1.0)) == 0.0


# ------------------------------------------------------------------------------------------------
# item 17: the fuzz findings are pinned in tests/test_fuzz.py; the focal one again through the
# new log-sigmoid path (non-integer gamma), float16 included
# ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("dt", [jnp.float16, jnp.float32])
def test_item17_focal_target_gradient_at_infinite_logit_non_integer_gamma(dt):
    x = jnp.asarray([jnp.inf, -jnp.inf, 2.0], dt)
    t = jnp.asarray([1.0, 0.0, 1.0], dt)
    for gamma in (0.5, 2.5):
        loss = lambda a, b, gamma=gamma: jaxloss.sigmoid_focal_loss(  # noqa: E731
            a, b, gamma=gamma, reduction="sum"
        )
        gx, gt = jax.grad(loss, argnums=(0, 1))(x, t)
        assert np.all(_np(gx)[:2] == 0.0) and np.all(_np(gt)[:2] == 0.0)
        assert np.all(np.isfinite(_np(gx))) and np.all(np.isfinite(_np(gt)))


@pytest.mark.parametrize("method", ["forward_grad", "recompute", "checkpoint"])
def test_item5_linear_ce_label_smoothing_at_the_float32_limit(method):
    # logits h·W = ±3.4e38: z − m overflowed in the smoothing sum (the loss was +inf)
    big = np.float32(3.4e38)
    h = jnp.ones((1, 1), jnp.float32)
    w = jnp.asarray([[big, -big, big]], jnp.float32)
    y = jnp.asarray([0])
    want = _smoothed_ce64(np.array([big, -big, big]), 0, 0.1)
    got = jaxloss.linear_cross_entropy(h, w, y, label_smoothing=0.1, method=method)
    np.testing.assert_allclose(float(got), want, rtol=1e-6)
    # d/dε = −(lse − z_y) + S/K, S = Σ_c (lse − z_c): float64 closed form
    deps = jax.grad(
        lambda e: jaxloss.linear_cross_entropy(h, w, y, label_smoothing=e, method=method)
    )(0.1)
    lse = float(big) + np.log(2.0)
    want_deps = -(lse - float(big)) + (3 * lse - float(big)) / 3
    np.testing.assert_allclose(float(deps), want_deps, rtol=1e-6)
