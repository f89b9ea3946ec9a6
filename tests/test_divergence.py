"""Tests of the divergences: kl_divergence, kl_divergence_from_probabilities, js_divergence."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxloss

from .helpers import (
    assert_close,
    assert_finite,
    debug_nans,
    grads_f64,
    reduce_ref,
    rng,
    to_torch,
    torch_or_skip,
)

# ---------------------------------------------------------------------------------------------
# float64 NumPy references, written plainly (never calling jaxloss)


def np_log_softmax(x, axis):
    x = np.asarray(x, np.float64)
    m = np.max(x, axis=axis, keepdims=True)
    return x - m - np.log(np.sum(np.exp(x - m), axis=axis, keepdims=True))


def kl_ref(log_p, t, axis=-1, log_targets=False):
    log_p, t = np.asarray(log_p, np.float64), np.asarray(t, np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        if log_targets:
            term = np.where(np.isneginf(t), 0.0, np.exp(t) * (t - log_p))
        else:
            term = np.where(t == 0, 0.0, t * (np.log(t) - log_p))
    return term.sum(axis=axis)


def kl_prob_ref(p, t, axis=-1):
    p, t = np.asarray(p, np.float64), np.asarray(t, np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        log_p = np.maximum(np.log(p), -100.0)
        term = np.where(t == 0, 0.0, t * (np.log(t) - log_p))
    return term.sum(axis=axis)


def keras_kl_ref(p, t, eps=1e-7, axis=-1):
    """keras.losses.kl_divergence, transcribed into NumPy."""
    t = np.clip(np.asarray(t, np.float64), eps, 1)
    p = np.clip(np.asarray(p, np.float64), eps, 1)
    return np.sum(t * np.log(t / p), axis=axis)


def js_ref(p, t, axis=-1):
    p, t = np.asarray(p, np.float64), np.asarray(t, np.float64)
    m = 0.5 * (p + t)
    with np.errstate(divide="ignore", invalid="ignore"):
        a = np.where(t > 0, t * np.log(t / m), 0.0)
        b = np.where(p > 0, p * np.log(p / m), 0.0)
    return 0.5 * (a + b).sum(axis=axis)


def random_dists(seed, shape, axis, zeros=False):
    """(log_p, p, t): log-softmax predictions and target distributions along ``axis``."""
    r = rng(seed)
    log_p = np_log_softmax(r.normal(size=shape) * 2, axis)
    t = r.uniform(size=shape)
    if zeros:
        t = np.where(r.uniform(size=shape) < 0.3, 0.0, t)
        first = [slice(None)] * len(shape)
        first[axis] = slice(0, 1)
        t[tuple(first)] += 0.1  # every distribution keeps some mass
    t = t / t.sum(axis=axis, keepdims=True)
    return log_p, np.exp(log_p), t


SHAPES = [((5, 4), -1), ((3, 4, 6), 1), ((4, 2, 3), 0)]


# ---------------------------------------------------------------------------------------------
# values against the NumPy references


@pytest.mark.parametrize("shape,axis", SHAPES)
def test_values_match_numpy(shape, axis):
    log_p, p, t = random_dists(1, shape, axis, zeros=True)
    got = jaxloss.kl_divergence(jnp.asarray(log_p), jnp.asarray(t), axis=axis, reduction="none")
    assert_close(got, kl_ref(log_p, t, axis))
    with np.errstate(divide="ignore"):
        log_t = np.log(t)
    got = jaxloss.kl_divergence(
        jnp.asarray(log_p), jnp.asarray(log_t), axis=axis, log_targets=True, reduction="none"
    )
    assert_close(got, kl_ref(log_p, log_t, axis, log_targets=True))
    got = jaxloss.kl_divergence_from_probabilities(
        jnp.asarray(p), jnp.asarray(t), axis=axis, reduction="none"
    )
    assert_close(got, kl_prob_ref(p, t, axis))
    got = jaxloss.js_divergence(jnp.asarray(log_p), jnp.asarray(t), axis=axis, reduction="none")
    assert_close(got, js_ref(p, t, axis))
    # the default reduction is the mean over the remaining positions
    assert_close(
        jaxloss.kl_divergence(jnp.asarray(log_p), jnp.asarray(t), axis=axis),
        kl_ref(log_p, t, axis).mean(),
    )


def test_values_float32():
    log_p, p, t = random_dists(2, (6, 5), -1, zeros=True)
    f32 = lambda a: jnp.asarray(a, jnp.float32)
    got = jaxloss.kl_divergence(f32(log_p), f32(t), reduction="none")
    assert got.dtype == jnp.float32
    ref = kl_ref(np.float32(log_p), np.float32(t))
    assert_close(got, ref, np.float32, atol=1e-6)
    got = jaxloss.js_divergence(f32(log_p), f32(t), reduction="none")
    assert got.dtype == jnp.float32
    assert_close(
        got,
        js_ref(np.exp(np.float32(log_p).astype(np.float64)), np.float32(t)),
        np.float32,
        atol=1e-6,
    )


def test_js_against_scipy_and_properties():
    spatial = pytest.importorskip("scipy.spatial")
    log_p, p, t = random_dists(3, (7, 5), -1, zeros=True)
    got = np.asarray(jaxloss.js_divergence(jnp.asarray(log_p), jnp.asarray(t), reduction="none"))
    want = np.array([spatial.distance.jensenshannon(p[i], t[i]) ** 2 for i in range(7)])
    assert_close(got, want, rtol=1e-9, atol=1e-12)
    # symmetric: JS(p, t) = JS(t, p)
    with np.errstate(divide="ignore"):
        swapped = jaxloss.js_divergence(jnp.log(jnp.asarray(t)), jnp.asarray(p), reduction="none")
    assert_close(swapped, got)
    # bounded by log 2, reached on disjoint supports; 0 on identical distributions
    disjoint_p = jnp.log(jnp.asarray([[0.5, 0.5, 0.0, 0.0]]))
    disjoint_t = jnp.asarray([[0.0, 0.0, 0.3, 0.7]])
    assert_close(jaxloss.js_divergence(disjoint_p, disjoint_t), np.log(2.0))
    assert np.all(got <= np.log(2.0)) and np.all(got >= -1e-15)
    assert abs(float(jaxloss.js_divergence(jnp.asarray(log_p), jnp.asarray(p)))) < 1e-15


# ---------------------------------------------------------------------------------------------
# PyTorch: KLDivLoss


@pytest.mark.parametrize("log_targets", [False, True])
def test_kl_against_torch_values_and_grads(log_targets):
    torch = torch_or_skip()
    log_p, _, t = random_dists(4, (6, 5), -1, zeros=not log_targets)
    tt = np.log(t) if log_targets else t
    x = to_torch(log_p, torch).requires_grad_(True)
    y = to_torch(tt, torch).requires_grad_(True)
    for red in ("batchmean", "sum", "none"):
        tl = torch.nn.functional.kl_div(x, y, reduction=red, log_target=log_targets)
        ours = "mean" if red == "batchmean" else red
        f = lambda a, b: jaxloss.kl_divergence(a, b, log_targets=log_targets, reduction=ours)
        got = f(jnp.asarray(log_p), jnp.asarray(tt))
        want = tl.detach().numpy()
        if red == "none":
            want = want.sum(-1)  # PyTorch keeps the class axis
        assert_close(got, want)
        if red != "none":
            gx, gy = torch.autograd.grad(tl, (x, y))
            jx, jy = jax.grad(f, argnums=(0, 1))(jnp.asarray(log_p), jnp.asarray(tt))
            assert_close(jx, gx.numpy())
            gy = gy.numpy()
            if not log_targets:
                # at t = 0, d(t log t)/dt = −inf: PyTorch's xlogy backward gives NaN there,
                # jaxloss takes 0 (documented); elsewhere the two agree
                assert np.all(np.isnan(gy[tt == 0])) and np.all(np.asarray(jy)[tt == 0] == 0.0)
                gy = np.where(tt == 0, 0.0, gy)
            assert_close(jy, gy)
    # PyTorch's own "mean" divides by the element count (documented): sum / size reproduces it
    tl = torch.nn.functional.kl_div(x, y, reduction="mean", log_target=log_targets)
    got = (
        jaxloss.kl_divergence(
            jnp.asarray(log_p), jnp.asarray(tt), log_targets=log_targets, reduction="sum"
        )
        / log_p.size
    )
    assert_close(got, float(tl))


def test_zero_target_on_neg_inf_is_exact_zero_where_torch_gives_nan():
    torch = torch_or_skip()
    log_p = np.array([[-np.inf, 0.0]])
    t = np.array([[0.0, 1.0]])
    tl = torch.nn.functional.kl_div(to_torch(log_p, torch), to_torch(t, torch), reduction="none")
    assert np.isnan(tl.numpy()[0, 0])  # documented difference
    assert float(jaxloss.kl_divergence(jnp.asarray(log_p), jnp.asarray(t))) == 0.0
    with np.errstate(divide="ignore"):
        log_t = np.log(t)
    assert (
        float(jaxloss.kl_divergence(jnp.asarray(log_p), jnp.asarray(log_t), log_targets=True))
        == 0.0
    )


@pytest.mark.filterwarnings("ignore:reduction. 'mean' divides")
def test_kldivloss_alias_is_pytorchs_class():
    # get("KLDivLoss") is PyTorch's class in full (issue 10): element-count "mean", "batchmean"
    torch = torch_or_skip()
    log_p, _, t = random_dists(5, (4, 3), -1)
    for kw in ({}, {"reduction": "batchmean"}):
        want = torch.nn.KLDivLoss(**kw)(to_torch(log_p, torch), to_torch(t, torch))
        got = jaxloss.get("KLDivLoss")(jnp.asarray(log_p), jnp.asarray(t), **kw)
        assert_close(got, float(want))
    # kl_div keeps jaxloss' "mean", the batchmean
    want = torch.nn.KLDivLoss(reduction="batchmean")(to_torch(log_p, torch), to_torch(t, torch))
    assert_close(jaxloss.get("kl_div")(jnp.asarray(log_p), jnp.asarray(t)), float(want))


# ---------------------------------------------------------------------------------------------
# gradients: finite differences and closed forms


def test_grads_finite_differences():
    # well-conditioned distributions (every entry ≥ 0.1) so finite differences with eps=1e-4 hold
    r = rng(6)
    p = r.uniform(0.5, 1.5, size=(2, 4))
    p /= p.sum(-1, keepdims=True)
    t = r.uniform(0.5, 1.5, size=(2, 4))
    t /= t.sum(-1, keepdims=True)
    log_p = np.log(p)
    grads_f64(lambda a, b: jaxloss.kl_divergence(a, b), (log_p, t))
    grads_f64(lambda a, b: jaxloss.kl_divergence(a, b, log_targets=True), (log_p, np.log(t)))
    grads_f64(lambda a, b: jaxloss.kl_divergence_from_probabilities(a, b), (p, t))
    grads_f64(lambda a, b: jaxloss.js_divergence(a, b, reduction="sum"), (log_p, t))


def test_grads_closed_form():
    log_p, p, t = random_dists(7, (3, 4), -1, zeros=True)
    lp_j, p_j, t_j = jnp.asarray(log_p), jnp.asarray(p), jnp.asarray(t)
    # ∂/∂log p Σ t (log t − log p) = −t
    assert_close(jax.grad(lambda a: jaxloss.kl_divergence(a, t_j, reduction="sum"))(lp_j), -t)
    # ∂/∂p Σ t (log t − log p) = −t / p
    assert_close(
        jax.grad(lambda a: jaxloss.kl_divergence_from_probabilities(a, t_j, reduction="sum"))(p_j),
        -t / p,
    )
    # ∂/∂log p JS = ½ p (log p − log m), m = (p + t)/2
    m = 0.5 * (p + t)
    assert_close(
        jax.grad(lambda a: jaxloss.js_divergence(a, t_j, reduction="sum"))(lp_j),
        0.5 * p * (log_p - np.log(m)),
    )
    # ∂/∂t JS = ½ (log t − log m) where t > 0; at t = 0 the −inf of d(t log t)/dt is dropped
    # (documented), leaving the finite part −½ p / (p + t) = −½
    with np.errstate(divide="ignore"):
        want_t = np.where(t > 0, 0.5 * (np.log(t) - np.log(m)), -0.5)
    assert_close(jax.grad(lambda b: jaxloss.js_divergence(lp_j, b, reduction="sum"))(t_j), want_t)


# ---------------------------------------------------------------------------------------------
# Keras alias


def test_keras_alias_matches_keras_formula():
    r = rng(8)
    p = r.uniform(size=(5, 4))
    p[0, 1] = 0.0
    p[1, 2] = 1.0
    p = p / p.sum(-1, keepdims=True)
    t = r.uniform(size=(5, 4))
    t[2, 0] = 0.0
    t = t / t.sum(-1, keepdims=True)
    keras_kl = jaxloss.get("kullback_leibler_divergence")
    assert keras_kl.bound_options == {"epsilon": 1e-7}
    assert_close(keras_kl(jnp.asarray(p), jnp.asarray(t), reduction="none"), keras_kl_ref(p, t))
    assert_close(keras_kl(jnp.asarray(p), jnp.asarray(t)), keras_kl_ref(p, t).mean())
    # Keras' clip: the gradient with respect to predictions is −t̃/p̃ inside (ε, 1), 0 where clipped
    g = jax.grad(lambda a: keras_kl(a, jnp.asarray(t), reduction="sum"))(jnp.asarray(p))
    tc, pc = np.clip(t, 1e-7, 1), np.clip(p, 1e-7, 1)
    assert_close(g, np.where((p > 1e-7) & (p < 1), -tc / pc, 0.0))
    # the canonical form uses the exact 0·log 0 and the −100 log clamp instead
    assert_close(
        jaxloss.get("kldivergence")(jnp.asarray(p), jnp.asarray(t), reduction="none"),
        kl_prob_ref(p, t),
    )


def test_vmap_over_epsilon_and_jit():
    p = jnp.asarray([[0.0, 0.3, 0.7], [0.2, 0.2, 0.6]])
    t = jnp.asarray([[0.1, 0.0, 0.9], [0.5, 0.25, 0.25]])
    eps = jnp.asarray([1e-7, 1e-3, 0.05])
    f = lambda e: jaxloss.kl_divergence_from_probabilities(p, t, epsilon=e)
    got = jax.vmap(f)(eps)
    assert_close(got, [keras_kl_ref(p, t, float(e)).mean() for e in eps])
    assert_close(jax.jit(f)(eps[1]), got[1])


# ---------------------------------------------------------------------------------------------
# jit / vmap against a Python loop


@pytest.mark.parametrize(
    "fn", ["kl_divergence", "kl_divergence_from_probabilities", "js_divergence"]
)
def test_jit_and_vmap_match_loop(fn):
    log_p, p, t = random_dists(9, (3, 2, 4), -1, zeros=True)
    x = p if fn == "kl_divergence_from_probabilities" else log_p
    loss = getattr(jaxloss, fn)
    f = lambda a, b: loss(a, b, reduction="sum")
    loop = np.array([float(f(jnp.asarray(x[i]), jnp.asarray(t[i]))) for i in range(3)])
    assert_close(jax.vmap(f)(jnp.asarray(x), jnp.asarray(t)), loop)
    assert_close(
        jax.jit(lambda a, b: loss(a, b, reduction="none"))(jnp.asarray(x), jnp.asarray(t)),
        loss(jnp.asarray(x), jnp.asarray(t), reduction="none"),
    )


# ---------------------------------------------------------------------------------------------
# reductions


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_reductions_weights_where(reduction):
    log_p, p, t = random_dists(10, (4, 3, 5), -1)
    r = rng(11)
    w = r.uniform(size=(4, 1))
    m = r.uniform(size=(4, 3)) > 0.3
    for fn, x, ref in (
        (jaxloss.kl_divergence, log_p, kl_ref(log_p, t)),
        (jaxloss.js_divergence, log_p, js_ref(p, t)),
        (jaxloss.kl_divergence_from_probabilities, p, kl_prob_ref(p, t)),
    ):
        got = fn(
            jnp.asarray(x),
            jnp.asarray(t),
            weights=jnp.asarray(w),
            where=jnp.asarray(m),
            reduction=reduction,
        )
        assert_close(got, reduce_ref(ref, w, m, reduction))
        if reduction == "none":
            assert np.all(np.asarray(got)[~m] == 0.0)


def test_all_masked_is_exact_zero_with_zero_grad():
    log_p, p, t = random_dists(12, (3, 4), -1)
    m = jnp.zeros((3,), bool)
    for fn, x in (
        (jaxloss.kl_divergence, log_p),
        (jaxloss.js_divergence, log_p),
        (jaxloss.kl_divergence_from_probabilities, p),
    ):
        f = lambda a: fn(a, jnp.asarray(t), where=m)
        assert float(f(jnp.asarray(x))) == 0.0
        assert np.all(np.asarray(jax.grad(f)(jnp.asarray(x))) == 0.0)


# ---------------------------------------------------------------------------------------------
# edge cases


def _masked_vocab():
    logits = jnp.asarray([[2.0, -jnp.inf, 0.5, -1.0], [1e4, -1e4, -jnp.inf, 0.0]])
    log_p = jax.nn.log_softmax(logits)
    t = jnp.asarray([[0.7, 0.0, 0.3, 0.0], [0.5, 0.5, 0.0, 0.0]])
    return logits, log_p, t


def test_neg_inf_log_predictions_on_zero_targets():
    logits, log_p, t = _masked_vocab()
    ref_kl = kl_ref(np.asarray(log_p), np.asarray(t))
    assert_close(jaxloss.kl_divergence(log_p, t, reduction="none"), ref_kl)
    ref_js = js_ref(np.exp(np.asarray(log_p)), np.asarray(t))
    assert_close(jaxloss.js_divergence(log_p, t, reduction="none"), ref_js)
    log_t = jnp.log(t)
    assert_close(jaxloss.kl_divergence(log_p, log_t, log_targets=True, reduction="none"), ref_kl)
    for f in (
        lambda z: jaxloss.kl_divergence(jax.nn.log_softmax(z), t),
        lambda z: jaxloss.kl_divergence(jax.nn.log_softmax(z), log_t, log_targets=True),
        lambda z: jaxloss.js_divergence(jax.nn.log_softmax(z), t),
    ):
        assert_finite(f(logits))
        assert_finite(jax.grad(f)(logits))
        assert_finite(jax.jvp(f, (logits,), (jnp.ones_like(logits),)))
        assert_finite(jax.jit(jax.hessian(f))(logits))
    # gradients with respect to targets are finite too (0 at t = 0 for log_targets=False)
    assert_finite(
        jax.grad(
            lambda b: jaxloss.kl_divergence(log_p, b),
        )(t)
    )
    assert_finite(jax.grad(lambda b: jaxloss.js_divergence(log_p, b))(t))
    assert_finite(jax.grad(lambda b: jaxloss.kl_divergence(log_p, b, log_targets=True))(log_t))


def test_js_neg_inf_where_target_positive():
    # p = 0 where t > 0 (and vice versa): JS stays finite, KL is +inf with a finite gradient
    log_p = jnp.log(jnp.asarray([[0.0, 0.4, 0.6]]))
    t = jnp.asarray([[0.5, 0.5, 0.0]])
    assert_close(jaxloss.js_divergence(log_p, t), js_ref(np.exp(np.asarray(log_p)), np.asarray(t)))
    assert_finite(jax.grad(lambda a: jaxloss.js_divergence(a, t))(log_p))
    assert_finite(jax.jit(jax.hessian(lambda a: jaxloss.js_divergence(a, t)))(log_p))
    assert float(jaxloss.kl_divergence(log_p, t)) == np.inf
    assert_close(jax.grad(lambda a: jaxloss.kl_divergence(a, t))(log_p), -np.asarray(t))


def test_probabilities_exactly_zero_and_one():
    p = jnp.asarray([[0.0, 1.0, 0.0], [0.5, 0.5, 0.0]])
    t = jnp.asarray([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
    f = lambda a, b: jaxloss.kl_divergence_from_probabilities(a, b, reduction="none")
    assert_close(f(p, t), [100.0, np.log(2.0)])  # log 0 clamped at −100
    assert_finite(jax.grad(lambda a: jnp.sum(f(a, t)))(p))
    assert_finite(jax.grad(lambda b: jnp.sum(f(p, b)))(t))
    keras_kl = jaxloss.get("kullback_leibler_divergence")
    assert_close(keras_kl(p, t, reduction="none"), keras_kl_ref(np.asarray(p), np.asarray(t)))
    assert_finite(jax.grad(lambda a: keras_kl(a, t))(p))


def test_edge_cases_under_debug_nans():
    logits, log_p, t = _masked_vocab()
    with debug_nans():
        jax.grad(lambda z: jaxloss.kl_divergence(jax.nn.log_softmax(z), t))(logits)
        jax.grad(lambda z: jaxloss.js_divergence(jax.nn.log_softmax(z), t))(logits)
        jax.grad(lambda a: jaxloss.kl_divergence_from_probabilities(a, t))(jnp.exp(log_p))
        jax.grad(lambda a: jaxloss.kl_divergence(a, t, where=jnp.zeros(2, bool)))(log_p)


@pytest.mark.parametrize("dtype", [jnp.bfloat16, jnp.float16])
def test_half_precision(dtype):
    log_p, p, t = random_dists(13, (3, 4), -1, zeros=True)
    lp_h, p_h, t_h = (jnp.asarray(a, dtype) for a in (log_p, p, t))
    lp64, p64, t64 = (np.asarray(a.astype(jnp.float64)) for a in (lp_h, p_h, t_h))
    for fn, x, _x64, ref in (
        (jaxloss.kl_divergence, lp_h, lp64, kl_ref(lp64, t64)),
        (jaxloss.js_divergence, lp_h, lp64, js_ref(np.exp(lp64), t64)),
        (jaxloss.kl_divergence_from_probabilities, p_h, p64, kl_prob_ref(p64, t64)),
    ):
        got = fn(x, t_h, reduction="none")
        assert got.dtype == jnp.float32
        assert_close(got, ref, np.float32, rtol=1e-5, atol=1e-6)
        g = jax.grad(lambda a: fn(a, t_h))(x)
        assert g.dtype == dtype
        assert_finite(g)


# ---------------------------------------------------------------------------------------------
# trace-time errors and registry


def test_errors():
    a, b = jnp.zeros((2, 3)), jnp.zeros((2, 4))
    for fn, arg in (
        (jaxloss.kl_divergence, "log_predictions"),
        (jaxloss.js_divergence, "log_predictions"),
        (jaxloss.kl_divergence_from_probabilities, "predictions"),
    ):
        name = fn.__name__
        with pytest.raises(ValueError, match=f"{name}: '{arg}' and 'targets'"):
            fn(a, b)
        with pytest.raises(ValueError, match=f"{name}: 'axis'"):
            fn(a, a, axis=2)
        with pytest.raises(ValueError, match=f"{name}: 'reduction'"):
            fn(a, a, reduction="batchmean")
        with pytest.raises(ValueError, match=f"{name}: 'weights'"):
            fn(a, a, weights=jnp.ones(3))
    with pytest.raises(ValueError, match="kl_divergence_from_probabilities: 'epsilon'"):
        jaxloss.kl_divergence_from_probabilities(a, a, epsilon=-1e-7)


def test_aliases_resolve():
    assert jaxloss.get("kl_div") is jaxloss.kl_divergence
    # the PyTorch class name (any case) carries PyTorch's semantics (issue 10), over kl_divergence
    assert jaxloss.get("kldivloss") is jaxloss.get("KLDivLoss")
    assert jaxloss.get("kldivloss").canonical is jaxloss.kl_divergence
    assert jaxloss.get("kldivergence") is jaxloss.kl_divergence_from_probabilities
    assert jaxloss.get("jensen_shannon") is jaxloss.js_divergence
    assert (
        jaxloss.get("kullback_leibler_divergence").canonical
        is jaxloss.kl_divergence_from_probabilities
    )
    for name in ("kl_divergence", "kl_divergence_from_probabilities", "js_divergence"):
        assert name in jaxloss.list_losses()
