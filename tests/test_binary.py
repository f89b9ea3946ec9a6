"""Tests of the binary / multi-label family (jaxloss/_binary.py).

References are written plainly in float64 NumPy (never by calling jaxloss); PyTorch CPU and optax
are oracles where they have the loss. jaxopt-style checks: exact limits at ±inf, grad = σ(x) − t,
vmap against a Python loop.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxloss

from .helpers import (
    assert_close,
    assert_finite,
    debug_nans,
    fd_check_order2,
    grads_f64,
    reduce_ref,
    rng,
    to_torch,
    torch_or_skip,
)

INF = np.inf


# Derivatives run under jax.jit, as users run them (one compilation instead of many eager op
# compilations also keeps the module fast).
def jgrad(f, **kwargs):
    return jax.jit(jax.grad(f, **kwargs))


def jvalue_and_grad(f):
    return jax.jit(jax.value_and_grad(f))


def jhessian(f):
    return jax.jit(jax.hessian(f))


def jjvp(f, x):
    return jax.jit(lambda a: jax.jvp(f, (a,), (jnp.ones_like(a),)))(x)


# ----------------------------------------------------------------------------------------------
# Plain float64 NumPy references (element-wise losses unless stated)
# ----------------------------------------------------------------------------------------------


def np_sigmoid(x):
    return 0.5 * (1 + np.tanh(0.5 * np.asarray(x, np.float64)))


def np_clog(p):
    with np.errstate(divide="ignore"):
        return np.maximum(np.log(p), -100.0)


def ref_bce(p, t, ls=0.0):
    t = t * (1 - ls) + 0.5 * ls
    return -(t * np_clog(p) + (1 - t) * np_clog(1 - p))


def ref_sbce(x, t, pos_weight=1.0, ls=0.0):
    t = t * (1 - ls) + 0.5 * ls
    # −log σ(x) = log(1 + e^{−x}); −log(1 − σ(x)) = log(1 + e^{x})
    return pos_weight * t * np.logaddexp(0, -x) + (1 - t) * np.logaddexp(0, x)


def ref_sigmoid_focal(x, t, alpha=0.25, gamma=2.0):
    p = np_sigmoid(x)
    p_t = p * t + (1 - p) * (1 - t)
    loss = ref_sbce(x, t) * (1 - p_t) ** gamma
    if alpha is not None:
        loss = (alpha * t + (1 - alpha) * (1 - t)) * loss
    return loss


def ref_binary_focal(p, t, alpha=None, gamma=2.0):
    p_t = p * t + (1 - p) * (1 - t)
    loss = ref_bce(p, t) * (1 - p_t) ** gamma
    if alpha is not None:
        loss = (alpha * t + (1 - alpha) * (1 - t)) * loss
    return loss


def ref_hinge(s, y, margin=1.0):
    return np.maximum(0.0, margin - y * s)


def ref_squared_hinge(s, y, margin=1.0):
    return np.maximum(0.0, margin - y * s) ** 2


def ref_soft_margin(s, y):
    return np.log1p(np.exp(-y * s))


def ref_multilabel(x, t, class_weights=None, axis=-1):
    terms = ref_sbce(x, t)
    if class_weights is not None:
        shape = [1] * x.ndim
        shape[axis] = -1
        terms = terms * np.reshape(class_weights, shape)
    return terms.mean(axis=axis)


def probs(r, shape):
    return r.uniform(0.02, 0.98, size=shape)


def bits(r, shape):
    return (r.uniform(size=shape) > 0.5).astype(np.float64)


def signs(r, shape):
    return np.where(r.uniform(size=shape) > 0.5, 1.0, -1.0)


def soft(r, shape):
    return r.uniform(size=shape)


# name -> (function, prediction generator, target generator, element-wise reference)
CASES = {
    "binary_cross_entropy": (jaxloss.binary_cross_entropy, probs, soft, ref_bce),
    "sigmoid_binary_cross_entropy": (
        jaxloss.sigmoid_binary_cross_entropy,
        lambda r, s: 3 * r.normal(size=s),
        soft,
        ref_sbce,
    ),
    "sigmoid_focal_loss": (
        jaxloss.sigmoid_focal_loss,
        lambda r, s: 3 * r.normal(size=s),
        bits,
        ref_sigmoid_focal,
    ),
    "binary_focal_loss": (jaxloss.binary_focal_loss, probs, soft, ref_binary_focal),
    "hinge_loss": (jaxloss.hinge_loss, lambda r, s: 2 * r.normal(size=s), signs, ref_hinge),
    "squared_hinge_loss": (
        jaxloss.squared_hinge_loss,
        lambda r, s: 2 * r.normal(size=s),
        signs,
        ref_squared_hinge,
    ),
    "soft_margin_loss": (
        jaxloss.soft_margin_loss,
        lambda r, s: 3 * r.normal(size=s),
        signs,
        ref_soft_margin,
    ),
    "multilabel_soft_margin_loss": (
        jaxloss.multilabel_soft_margin_loss,
        lambda r, s: 3 * r.normal(size=s),
        bits,
        ref_multilabel,
    ),
}
ELEMENTWISE = [n for n in CASES if n != "multilabel_soft_margin_loss"]


def inputs(name, shape, seed=0):
    _, gen_x, gen_t, _ = CASES[name]
    r = rng(seed)
    return gen_x(r, shape), gen_t(r, shape)


# ----------------------------------------------------------------------------------------------
# Values against the NumPy references, several shapes, every reduction
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(CASES))
@pytest.mark.parametrize("shape", [(7,), (3, 4, 5)])
def test_value_matches_numpy_reference(name, shape):
    fn, _, _, ref = CASES[name]
    x, t = inputs(name, shape, seed=len(shape))
    values = ref(x, t)
    assert_close(fn(jnp.asarray(x), jnp.asarray(t), reduction="none"), values)
    assert_close(fn(jnp.asarray(x), jnp.asarray(t)), values.mean())
    assert_close(fn(jnp.asarray(x), jnp.asarray(t), reduction="sum"), values.sum())


@pytest.mark.parametrize("name", list(CASES))
def test_weights_where_reductions(name):
    fn, _, _, ref = CASES[name]
    x, t = inputs(name, (4, 6), seed=3)
    values = ref(x, t)
    r = rng(4)
    w = r.uniform(0.5, 2.0, size=values.shape[:1] + (1,) * (values.ndim - 1))
    m = r.uniform(size=values.shape) > 0.3
    for reduction in ("mean", "sum", "none"):
        got = fn(
            jnp.asarray(x),
            jnp.asarray(t),
            weights=jnp.asarray(w),
            where=jnp.asarray(m),
            reduction=reduction,
        )
        assert_close(got, reduce_ref(values, w, m, reduction), err_msg=reduction)
    none = fn(jnp.asarray(x), jnp.asarray(t), where=jnp.asarray(m), reduction="none")
    assert np.all(np.asarray(none)[~m] == 0.0)


@pytest.mark.parametrize("name", list(CASES))
def test_all_masked_is_exact_zero_with_zero_grad(name):
    fn = CASES[name][0]
    x, t = inputs(name, (3, 4), seed=5)
    m = jnp.zeros((3,) if name == "multilabel_soft_margin_loss" else (3, 4), bool)
    f = lambda z: fn(z, jnp.asarray(t), where=m)
    assert float(f(jnp.asarray(x))) == 0.0
    g = jgrad(f)(jnp.asarray(x))
    assert np.all(np.asarray(g) == 0.0)


# ----------------------------------------------------------------------------------------------
# Gradients: closed forms, finite differences (order 2)
# ----------------------------------------------------------------------------------------------


def test_grads_closed_form():
    r = rng(6)
    x = 3 * r.normal(size=(5, 4))
    t = soft(r, (5, 4))
    pw = r.uniform(0.5, 3.0, size=(4,))
    s = np_sigmoid(x)
    g = jgrad(
        lambda z: jaxloss.sigmoid_binary_cross_entropy(
            z, jnp.asarray(t), pos_weight=jnp.asarray(pw), reduction="sum"
        )
    )(jnp.asarray(x))
    assert_close(g, pw * t * (s - 1) + (1 - t) * s)
    p = probs(r, (5, 4))
    g = jgrad(lambda z: jaxloss.binary_cross_entropy(z, jnp.asarray(t), reduction="sum"))(
        jnp.asarray(p)
    )
    assert_close(g, -t / p + (1 - t) / (1 - p))
    y = signs(r, (5, 4))
    g = jgrad(lambda z: jaxloss.soft_margin_loss(z, jnp.asarray(y), reduction="sum"))(
        jnp.asarray(x)
    )
    assert_close(g, -y * np_sigmoid(-y * x))
    g = jgrad(lambda z: jaxloss.hinge_loss(z, jnp.asarray(y), margin=0.5, reduction="sum"))(
        jnp.asarray(x)
    )
    assert_close(g, -y * (0.5 - y * x > 0))
    g = jgrad(lambda z: jaxloss.squared_hinge_loss(z, jnp.asarray(y), reduction="sum"))(
        jnp.asarray(x)
    )
    assert_close(g, -2 * y * np.maximum(0.0, 1 - y * x))
    cw = r.uniform(0.2, 2.0, size=(5,))
    g = jgrad(
        lambda z: jaxloss.multilabel_soft_margin_loss(
            z, jnp.asarray(t), class_weights=jnp.asarray(cw), axis=0, reduction="sum"
        )
    )(jnp.asarray(x))
    assert_close(g, cw[:, None] * (s - t) / 5)


def _naive_sigmoid_focal(x, t, alpha, gamma):
    # independent jnp re-implementation, the plain formula (fine on ordinary inputs)
    p = 1 / (1 + jnp.exp(-x))
    ce = -(t * jnp.log(p) + (1 - t) * jnp.log(1 - p))
    p_t = p * t + (1 - p) * (1 - t)
    return jnp.sum((alpha * t + (1 - alpha) * (1 - t)) * ce * (1 - p_t) ** gamma)


def _naive_binary_focal(p, t, alpha, gamma):
    ce = -(t * jnp.log(p) + (1 - t) * jnp.log(1 - p))
    p_t = p * t + (1 - p) * (1 - t)
    return jnp.sum((alpha * t + (1 - alpha) * (1 - t)) * ce * (1 - p_t) ** gamma)


@pytest.mark.parametrize("gamma", [2.0, 0.7])
def test_focal_grads_match_naive(gamma):
    r = rng(7)
    x = jnp.asarray(3 * r.normal(size=(6, 3)))
    t = jnp.asarray(soft(r, (6, 3)))
    p = jnp.asarray(probs(r, (6, 3)))
    g = jgrad(lambda z: jaxloss.sigmoid_focal_loss(z, t, alpha=0.3, gamma=gamma, reduction="sum"))(
        x
    )
    assert_close(g, jgrad(_naive_sigmoid_focal)(x, t, 0.3, gamma))
    g = jgrad(lambda z: jaxloss.binary_focal_loss(z, t, alpha=0.3, gamma=gamma, reduction="sum"))(p)
    assert_close(g, jgrad(_naive_binary_focal)(p, t, 0.3, gamma))
    # gradient with respect to the traced hyperparameters too
    ga = jgrad(
        lambda a, c: jaxloss.sigmoid_focal_loss(x, t, alpha=a, gamma=c, reduction="sum"),
        argnums=(0, 1),
    )(0.3, gamma)
    assert_close(
        ga, jgrad(lambda a, c: _naive_sigmoid_focal(x, t, a, c), argnums=(0, 1))(0.3, gamma)
    )


def _smooth_binary_sum():
    """(f, args): one order-2-differentiable sum of every smooth binary loss, and hinge's (x, y)."""
    r = rng(8)
    x = 2 * r.normal(size=(3, 4))
    t = soft(r, (3, 4))
    # away from 0 and 1: the third derivative of log p (2/p³) would swamp the central differences
    p = r.uniform(0.1, 0.9, size=(3, 4))
    y = signs(r, (3, 4))
    pw = r.uniform(0.5, 2.0, size=(4,))

    def smooth_losses(z, u, q):
        # one order-2 check of every twice-differentiable loss (one check per loss costs ~3x the
        # time)
        return (
            jaxloss.sigmoid_binary_cross_entropy(z, u, pos_weight=pw, label_smoothing=0.1)
            + 2 * jaxloss.binary_cross_entropy(q, u, label_smoothing=0.2)
            + 3 * jaxloss.sigmoid_focal_loss(z, u, gamma=1.5)
            + 5 * jaxloss.binary_focal_loss(q, u, alpha=0.4)
            + 7 * jaxloss.squared_hinge_loss(z, y)
            + 11 * jaxloss.soft_margin_loss(z, y)
            + 13 * jaxloss.multilabel_soft_margin_loss(z, u, class_weights=pw)
        )

    return smooth_losses, (x, t, p), y


def test_finite_difference_grads_order2():
    # default tier: gradient and Hessian-vector product (jitted) against central differences
    smooth_losses, args, y = _smooth_binary_sum()
    fd_check_order2(smooth_losses, args, rtol=1e-5, atol=1e-5)
    grads_f64(jax.jit(lambda z: jaxloss.hinge_loss(z, y)), args[:1], order=1)


@pytest.mark.slow
def test_finite_difference_grads_check_grads_order2():
    # exhaustive: jax.test_util.check_grads, forward and reverse, every order-2 combination
    smooth_losses, args, y = _smooth_binary_sum()
    grads_f64(smooth_losses, args)
    grads_f64(lambda z: jaxloss.hinge_loss(z, y), args[:1], order=1)


# ----------------------------------------------------------------------------------------------
# PyTorch oracle: values and gradients
# ----------------------------------------------------------------------------------------------


def _torch_value_grad(torch, f, x, *args):
    xt = to_torch(x, torch).requires_grad_(True)
    out = f(xt, *[to_torch(a, torch) for a in args])
    out.backward()
    return out.detach().numpy(), xt.grad.numpy()


def _jax_value_grad(f, x):
    return jvalue_and_grad(f)(jnp.asarray(x))


def test_torch_binary_cross_entropy():
    torch = torch_or_skip()
    F = torch.nn.functional
    r = rng(9)
    p, t, w = probs(r, (4, 5)), soft(r, (4, 5)), r.uniform(0.5, 2, size=(4, 5))
    tv, tg = _torch_value_grad(torch, lambda a, b: F.binary_cross_entropy(a, b), p, t)
    jv, jg = _jax_value_grad(lambda z: jaxloss.get("BCELoss")(z, jnp.asarray(t)), p)
    assert_close(jv, tv)
    assert_close(jg, tg)
    tv, tg = _torch_value_grad(
        torch, lambda a, b, c: F.binary_cross_entropy(a, b, weight=c, reduction="sum"), p, t, w
    )
    jv, jg = _jax_value_grad(
        lambda z: jaxloss.binary_cross_entropy(
            z, jnp.asarray(t), weights=jnp.asarray(w), reduction="sum"
        ),
        p,
    )
    assert_close(jv, tv)
    assert_close(jg, tg)
    # probabilities exactly 0 and 1: the same clamped values (-100 per log)
    pe = np.array([0.0, 1.0, 0.0, 1.0, 0.5])
    te = np.array([1.0, 0.0, 0.0, 1.0, 0.3])
    tv = F.binary_cross_entropy(to_torch(pe, torch), to_torch(te, torch), reduction="none").numpy()
    assert_close(
        jaxloss.binary_cross_entropy(jnp.asarray(pe), jnp.asarray(te), reduction="none"), tv
    )


def test_torch_bce_with_logits_pos_weight_and_weights():
    torch = torch_or_skip()
    F = torch.nn.functional
    r = rng(10)
    x, t = 3 * r.normal(size=(6, 4)), soft(r, (6, 4))
    pw, w = r.uniform(0.5, 4.0, size=(4,)), r.uniform(0.5, 2.0, size=(6, 1))
    tv, tg = _torch_value_grad(
        torch, lambda a, b, c: F.binary_cross_entropy_with_logits(a, b, pos_weight=c), x, t, pw
    )
    jv, jg = _jax_value_grad(
        lambda z: jaxloss.get("BCEWithLogitsLoss")(z, jnp.asarray(t), pos_weight=jnp.asarray(pw)), x
    )
    assert_close(jv, tv)
    assert_close(jg, tg)
    # PyTorch's weight= with "sum" (its "mean" divides by the element count; ours by Σw)
    tv, tg = _torch_value_grad(
        torch,
        lambda a, b, c, d: F.binary_cross_entropy_with_logits(
            a, b, weight=c, pos_weight=d, reduction="sum"
        ),
        x,
        t,
        w,
        pw,
    )
    jv, jg = _jax_value_grad(
        lambda z: jaxloss.sigmoid_binary_cross_entropy(
            z, jnp.asarray(t), pos_weight=jnp.asarray(pw), weights=jnp.asarray(w), reduction="sum"
        ),
        x,
    )
    assert_close(jv, tv)
    assert_close(jg, tg)
    # extreme finite logits
    xe = np.array([1e4, -1e4, 30.0, -30.0, 0.0])
    te = np.array([0.0, 1.0, 1.0, 0.0, 1.0])
    tv = F.binary_cross_entropy_with_logits(
        to_torch(xe, torch), to_torch(te, torch), reduction="none"
    ).numpy()
    assert_close(
        jaxloss.sigmoid_binary_cross_entropy(jnp.asarray(xe), jnp.asarray(te), reduction="none"), tv
    )


def test_torch_soft_margin_and_multilabel():
    torch = torch_or_skip()
    F = torch.nn.functional
    r = rng(11)
    x, y = 3 * r.normal(size=(5, 3)), signs(r, (5, 3))
    tv, tg = _torch_value_grad(torch, F.soft_margin_loss, x, y)
    jv, jg = _jax_value_grad(lambda z: jaxloss.get("SoftMarginLoss")(z, jnp.asarray(y)), x)
    assert_close(jv, tv)
    assert_close(jg, tg)
    t, cw = bits(r, (5, 3)), r.uniform(0.2, 2.0, size=(3,))
    tv, tg = _torch_value_grad(
        torch, lambda a, b, c: F.multilabel_soft_margin_loss(a, b, weight=c), x, t, cw
    )
    jv, jg = _jax_value_grad(
        lambda z: jaxloss.get("MultiLabelSoftMarginLoss")(
            z, jnp.asarray(t), class_weights=jnp.asarray(cw)
        ),
        x,
    )
    assert_close(jv, tv)
    assert_close(jg, tg)
    tv = F.multilabel_soft_margin_loss(
        to_torch(x, torch), to_torch(t, torch), reduction="none"
    ).numpy()
    assert_close(
        jaxloss.multilabel_soft_margin_loss(jnp.asarray(x), jnp.asarray(t), reduction="none"), tv
    )


def test_multilabel_axis_not_last():
    r = rng(12)
    x, t = 3 * r.normal(size=(2, 5, 3)), bits(r, (2, 5, 3))
    cw = r.uniform(0.2, 2.0, size=(5,))
    got = jaxloss.multilabel_soft_margin_loss(
        jnp.asarray(x), jnp.asarray(t), class_weights=jnp.asarray(cw), axis=1, reduction="none"
    )
    assert got.shape == (2, 3)
    assert_close(got, ref_multilabel(x, t, cw, axis=1))
    moved = jaxloss.multilabel_soft_margin_loss(
        jnp.moveaxis(jnp.asarray(x), 1, -1),
        jnp.moveaxis(jnp.asarray(t), 1, -1),
        class_weights=jnp.asarray(cw),
        reduction="none",
    )
    assert_close(got, moved)


# ----------------------------------------------------------------------------------------------
# optax on ordinary inputs
# ----------------------------------------------------------------------------------------------


def test_matches_optax():
    optax = pytest.importorskip("optax")
    r = rng(13)
    x, t, b, y = 3 * r.normal(size=(4, 5)), soft(r, (4, 5)), bits(r, (4, 5)), signs(r, (4, 5))
    X, T, B, Y = map(jnp.asarray, (x, t, b, y))
    assert_close(
        jaxloss.sigmoid_binary_cross_entropy(X, T, reduction="none"),
        optax.losses.sigmoid_binary_cross_entropy(X, T),
    )
    for alpha in (0.25, None):
        for tt in (T, B):
            assert_close(
                jaxloss.sigmoid_focal_loss(X, tt, alpha=alpha, gamma=2.0, reduction="none"),
                optax.losses.sigmoid_focal_loss(X, tt, alpha=alpha, gamma=2.0),
            )
    assert_close(
        jaxloss.sigmoid_focal_loss(X, B, alpha=None, gamma=0.5, reduction="none"),
        optax.losses.sigmoid_focal_loss(X, B, gamma=0.5),
    )
    assert_close(jaxloss.hinge_loss(X, Y, reduction="none"), optax.losses.hinge_loss(X, Y))


# ----------------------------------------------------------------------------------------------
# Edge cases: ±inf logits (exact limits, grad = σ(x) − t), p ∈ {0, 1}, focal at p_t = 1
# ----------------------------------------------------------------------------------------------

XE = np.array([INF, -INF, INF, -INF, INF, -INF, 1e4, -1e4, 0.0])
TE = np.array([1.0, 0.0, 0.0, 1.0, 0.5, 0.25, 1.0, 1.0, 1.0])


def test_sigmoid_bce_exact_limits_and_grad_at_inf():
    f = lambda z: jaxloss.sigmoid_binary_cross_entropy(z, jnp.asarray(TE), reduction="none")
    val = np.asarray(f(jnp.asarray(XE)))
    np.testing.assert_array_equal(val[:6], [0.0, 0.0, INF, INF, INF, INF])
    assert val[6] == 0.0 and val[7] == 1e4 and val[8] == np.log(2.0)
    g = jgrad(
        lambda z: jnp.sum(
            jaxloss.sigmoid_binary_cross_entropy(z, jnp.asarray(TE), reduction="none")
        )
    )(jnp.asarray(XE))
    np.testing.assert_array_equal(np.asarray(g), np_sigmoid(XE) - TE)
    # grad = σ(x) − t̃ also with label smoothing; pos_weight scales the positive part
    g = jgrad(
        lambda z: jaxloss.sigmoid_binary_cross_entropy(
            z, jnp.asarray(TE), label_smoothing=0.2, reduction="sum"
        )
    )(jnp.asarray(XE))
    assert_close(g, np_sigmoid(XE) - (TE * 0.8 + 0.1))
    g = jgrad(
        lambda z: jaxloss.sigmoid_binary_cross_entropy(
            z, jnp.asarray(TE), pos_weight=2.0, reduction="sum"
        )
    )(jnp.asarray(XE))
    assert_close(g, 2.0 * TE * (np_sigmoid(XE) - 1) + (1 - TE) * np_sigmoid(XE))
    # multilabel and soft margin share the exact core
    gm = jgrad(lambda z: jaxloss.multilabel_soft_margin_loss(z, jnp.asarray(TE), reduction="sum"))(
        jnp.asarray(XE)
    )
    np.testing.assert_array_equal(np.asarray(gm), (np_sigmoid(XE) - TE) / XE.size)
    ys = 2 * np.round(TE) - 1
    vs = jaxloss.soft_margin_loss(jnp.asarray(XE[:4]), jnp.asarray(ys[:4]), reduction="none")
    np.testing.assert_array_equal(np.asarray(vs), [0.0, 0.0, INF, INF])
    gs = jgrad(lambda z: jaxloss.soft_margin_loss(z, jnp.asarray(ys), reduction="sum"))(
        jnp.asarray(XE)
    )
    np.testing.assert_array_equal(np.asarray(gs), -ys * np_sigmoid(-ys * XE))


def test_sigmoid_bce_jvp_hessian_finite_at_edges():
    t = jnp.asarray(TE)
    f = lambda z: jaxloss.sigmoid_binary_cross_entropy(z, t, pos_weight=1.5)
    x = jnp.asarray(XE)
    assert_finite(jjvp(f, x)[1])
    h = jhessian(f)(x)
    assert_finite(h)
    assert_close(jnp.diag(h), np_sigmoid(XE) * np_sigmoid(-XE) * (1.5 * TE + 1 - TE) / XE.size)


@pytest.mark.parametrize("gamma", [2.0, 0.5, 0.0])
def test_sigmoid_focal_edges(gamma):
    x, t = jnp.asarray(XE), jnp.asarray(TE)
    val = np.asarray(jaxloss.sigmoid_focal_loss(x, t, gamma=gamma, reduction="none"))
    # right infinite logit: exactly 0; wrong infinite logit: inf
    np.testing.assert_array_equal(val[:2], [0.0, 0.0])
    assert np.all(np.isposinf(val[2:6]))
    assert_close(val[6:], ref_sigmoid_focal(XE[6:], TE[6:], gamma=gamma))
    f = lambda z, c: jaxloss.sigmoid_focal_loss(z, t, gamma=c, reduction="sum")
    gx = np.asarray(jgrad(lambda z: f(z, gamma))(x))
    assert_finite(gx)
    # at a wrong infinite logit with a hard target the focal factor is 1: grad = α_t·(σ(x) − t)
    assert_close(gx[2:4], (0.25 * TE[2:4] + 0.75 * (1 - TE[2:4])) * (np_sigmoid(XE[2:4]) - TE[2:4]))
    np.testing.assert_array_equal(gx[:2], [0.0, 0.0])
    # forward mode and second order too (a select after inf·0 would leak NaN into the jvp)
    assert_finite(jjvp(lambda z: f(z, gamma), x)[1])
    assert_finite(jhessian(lambda z: f(z, gamma))(x))
    # alpha at its ends: α_t = 0 on a wrong infinite logit gives exactly 0, not 0·inf
    for alpha in (0.0, 1.0):
        va = np.asarray(
            jaxloss.sigmoid_focal_loss(x, t, alpha=alpha, gamma=gamma, reduction="none")
        )
        a_t = alpha * TE + (1 - alpha) * (1 - TE)
        np.testing.assert_array_equal(va[2:6] == 0.0, a_t[2:6] == 0.0)
        assert_finite(
            jgrad(lambda z: jaxloss.sigmoid_focal_loss(z, t, alpha=alpha, gamma=gamma))(x)
        )
    # traced gamma: finite gradients also with respect to gamma on the finite entries
    fin = jnp.asarray(XE[6:])
    gg = jgrad(lambda c: jaxloss.sigmoid_focal_loss(fin, t[6:], gamma=c, reduction="sum"))(
        jnp.float64(gamma)
    )
    assert_finite(gg)
    # p_t = 1 with γ < 1: large finite logits on the right side
    xr = jnp.asarray([40.0, -40.0, 800.0, -800.0])
    tr = jnp.asarray([1.0, 0.0, 1.0, 0.0])
    assert_finite(
        jgrad(
            lambda z: jaxloss.sigmoid_focal_loss(z, tr, gamma=jnp.float64(gamma), reduction="sum")
        )(xr)
    )


def test_focal_gamma_zero_equals_bce():
    r = rng(14)
    x = np.concatenate([3 * r.normal(size=6), XE])
    t = np.concatenate([soft(r, 6), TE])
    X, T = jnp.asarray(x), jnp.asarray(t)
    bce = jaxloss.sigmoid_binary_cross_entropy(X, T, reduction="none")
    for g in (0.0, jnp.float64(0.0)):  # concrete and traced-like array
        np.testing.assert_array_equal(
            jaxloss.sigmoid_focal_loss(X, T, alpha=None, gamma=g, reduction="none"), bce
        )
    gamma0 = jax.jit(
        lambda c: jaxloss.sigmoid_focal_loss(X, T, alpha=None, gamma=c, reduction="none")
    )(0.0)
    np.testing.assert_array_equal(gamma0, bce)
    p = np.concatenate([probs(r, 6), [0.0, 1.0, 0.0, 1.0]])
    tp = np.concatenate([soft(r, 6), [0.0, 1.0, 1.0, 0.0]])
    bce_p = jaxloss.binary_cross_entropy(jnp.asarray(p), jnp.asarray(tp), reduction="none")
    np.testing.assert_array_equal(
        jaxloss.binary_focal_loss(jnp.asarray(p), jnp.asarray(tp), gamma=0.0, reduction="none"),
        bce_p,
    )


@pytest.mark.parametrize("gamma", [2.0, 0.5, 0.0])
def test_probability_losses_at_zero_and_one(gamma):
    p = jnp.asarray([0.0, 1.0, 0.0, 1.0, 0.0, 1.0])
    t = jnp.asarray([0.0, 1.0, 1.0, 0.0, 0.5, 0.5])
    bce = np.asarray(jaxloss.binary_cross_entropy(p, t, reduction="none"))
    np.testing.assert_array_equal(bce, [0.0, 0.0, 100.0, 100.0, 50.0, 50.0])
    assert_finite(jgrad(lambda z: jaxloss.binary_cross_entropy(z, t))(p))
    foc = jaxloss.binary_focal_loss(p, t, gamma=gamma, alpha=0.25, reduction="none")
    assert_close(foc, ref_binary_focal(np.asarray(p), np.asarray(t), alpha=0.25, gamma=gamma))
    g = jgrad(lambda z, c: jaxloss.binary_focal_loss(z, t, gamma=c), argnums=(0, 1))(p, gamma)
    assert_finite(g)
    # p_t → 1 with γ < 1 (the power's derivative is unbounded): still finite
    pn = jnp.asarray([1e-300, 1 - 1e-16, 1e-30])
    tn = jnp.asarray([0.0, 1.0, 0.0])
    assert_finite(jgrad(lambda z: jaxloss.binary_focal_loss(z, tn, gamma=jnp.float64(gamma)))(pn))


def test_edge_cases_under_debug_nans():
    x, t = jnp.asarray(XE), jnp.asarray(TE)
    p = jnp.asarray([0.0, 1.0, 0.5, 1.0, 0.0])
    tp = jnp.asarray([1.0, 0.0, 0.5, 1.0, 0.0])
    with debug_nans():
        jax.grad(
            lambda z: jaxloss.sigmoid_binary_cross_entropy(
                z, t, pos_weight=2.0, label_smoothing=0.1
            )
        )(x)
        jax.grad(lambda z: jaxloss.sigmoid_focal_loss(z, t, gamma=jnp.float64(0.5)))(x)
        jax.grad(lambda z: jaxloss.sigmoid_focal_loss(z, t))(x)
        jax.grad(lambda z: jaxloss.multilabel_soft_margin_loss(z, t, class_weights=jnp.zeros(9)))(x)
        jax.grad(lambda z: jaxloss.binary_cross_entropy(z, tp))(p)
        jax.grad(lambda z: jaxloss.binary_focal_loss(z, tp, gamma=jnp.float64(0.3), alpha=0.5))(p)
        jax.grad(lambda z: jaxloss.soft_margin_loss(z, 2 * jnp.round(t) - 1))(x)


# ----------------------------------------------------------------------------------------------
# jit, vmap over the batch and over every hyperparameter
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(CASES))
def test_jit_and_vmap_over_batch(name):
    fn = CASES[name][0]
    x, t = inputs(name, (3, 2, 4), seed=15)
    X, T = jnp.asarray(x), jnp.asarray(t)
    assert_close(jax.jit(fn)(X, T), fn(X, T))
    got = jax.vmap(fn)(X, T)
    assert_close(got, np.stack([np.asarray(fn(X[i], T[i])) for i in range(3)]))


HYPER_SWEEPS = [
    ("sigmoid_binary_cross_entropy", "pos_weight", [0.5, 1.0, 3.0]),
    ("sigmoid_binary_cross_entropy", "label_smoothing", [0.0, 0.1, 0.5]),
    ("binary_cross_entropy", "label_smoothing", [0.0, 0.2, 1.0]),
    ("sigmoid_focal_loss", "gamma", [0.0, 0.5, 2.0]),
    ("sigmoid_focal_loss", "alpha", [0.0, 0.25, 0.9]),
    ("binary_focal_loss", "gamma", [0.0, 1.0, 3.5]),
    ("binary_focal_loss", "alpha", [0.1, 0.5, 1.0]),
    ("hinge_loss", "margin", [0.0, 0.5, 2.0]),
    ("squared_hinge_loss", "margin", [0.0, 1.0, 1.5]),
]


@pytest.mark.parametrize("name,arg,values", HYPER_SWEEPS)
def test_vmap_over_hyperparameter(name, arg, values):
    fn = CASES[name][0]
    x, t = inputs(name, (4, 3), seed=16)
    X, T = jnp.asarray(x), jnp.asarray(t)
    swept = jax.vmap(lambda h: fn(X, T, **{arg: h}))(jnp.asarray(values))
    loop = [float(fn(X, T, **{arg: h})) for h in values]
    assert_close(swept, loop)


def test_class_weights_and_pos_weight_traced():
    r = rng(17)
    x, t = jnp.asarray(3 * r.normal(size=(4, 3))), jnp.asarray(bits(r, (4, 3)))
    cws = jnp.asarray(r.uniform(0.1, 2.0, size=(2, 3)))
    got = jax.vmap(lambda c: jaxloss.multilabel_soft_margin_loss(x, t, class_weights=c))(cws)
    assert_close(
        got, [ref_multilabel(np.asarray(x), np.asarray(t), np.asarray(c)).mean() for c in cws]
    )
    pws = jnp.asarray(r.uniform(0.1, 2.0, size=(2, 3)))
    got = jax.vmap(lambda c: jaxloss.sigmoid_binary_cross_entropy(x, t, pos_weight=c))(pws)
    assert_close(got, [ref_sbce(np.asarray(x), np.asarray(t), np.asarray(c)).mean() for c in pws])


# ----------------------------------------------------------------------------------------------
# Dtypes
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [jnp.bfloat16, jnp.float16])
@pytest.mark.parametrize("name", list(CASES))
def test_half_precision_inputs(name, dtype):
    fn, _, _, ref = CASES[name]
    x, t = inputs(name, (4, 5), seed=18)
    xh = jnp.asarray(x).astype(dtype)
    th = jnp.asarray(t).astype(dtype)
    val, g = jvalue_and_grad(lambda z: fn(z, th))(xh)
    assert val.dtype == jnp.float32
    assert g.dtype == dtype
    desired = ref(np.asarray(xh, np.float64), np.asarray(th, np.float64)).mean()
    assert_close(val, desired, dtype=np.float32)
    assert fn(jnp.asarray(x, jnp.float32), jnp.asarray(t, jnp.float32)).dtype == jnp.float32
    assert fn(jnp.asarray(x), jnp.asarray(t)).dtype == jnp.float64


def test_float32_edges_finite():
    x = jnp.asarray(XE, jnp.float32)
    t = jnp.asarray(TE, jnp.float32)
    for f in (
        lambda z: jaxloss.sigmoid_binary_cross_entropy(z, t, reduction="sum"),
        lambda z: jaxloss.sigmoid_focal_loss(z, t, gamma=jnp.float32(0.3), reduction="sum"),
        lambda z: jaxloss.sigmoid_focal_loss(z, t, reduction="sum"),
    ):
        assert_finite(jgrad(f)(x))
    g = jgrad(lambda z: jaxloss.sigmoid_binary_cross_entropy(z, t, reduction="sum"))(x)
    np.testing.assert_array_equal(np.asarray(g), (np_sigmoid(XE) - TE).astype(np.float32))
    xr = jnp.asarray([30.0, 90.0, 104.0, -104.0], jnp.float32)
    tr = jnp.asarray([1.0, 1.0, 1.0, 0.0], jnp.float32)
    assert_finite(
        jgrad(lambda z: jaxloss.sigmoid_focal_loss(z, tr, gamma=jnp.float32(0.1), reduction="sum"))(
            xr
        )
    )
    pr = jnp.asarray([1e-40, 1e-30, 1 - 1e-7, 0.0], jnp.float32)
    tq = jnp.asarray([0.0, 0.0, 1.0, 0.0], jnp.float32)
    assert_finite(
        jgrad(lambda z: jaxloss.binary_focal_loss(z, tq, gamma=jnp.float32(0.1), reduction="sum"))(
            pr
        )
    )


# ----------------------------------------------------------------------------------------------
# Trace-time errors
# ----------------------------------------------------------------------------------------------


def test_trace_time_errors():
    x, t = jnp.zeros((3, 4)), jnp.zeros((3, 4))
    for name in CASES:
        with pytest.raises(
            ValueError, match=f"{name}: '(logits|probabilities|scores)' and 'targets'"
        ):
            CASES[name][0](x, jnp.zeros((3, 5)))
        with pytest.raises(ValueError, match=f"{name}: 'reduction'"):
            CASES[name][0](x, t, reduction="avg")
    with pytest.raises(ValueError, match="binary_cross_entropy: 'label_smoothing'"):
        jaxloss.binary_cross_entropy(x, t, label_smoothing=1.5)
    with pytest.raises(ValueError, match="sigmoid_binary_cross_entropy: 'label_smoothing'"):
        jaxloss.sigmoid_binary_cross_entropy(x, t, label_smoothing=-0.1)
    with pytest.raises(ValueError, match="sigmoid_binary_cross_entropy: 'pos_weight'"):
        jaxloss.sigmoid_binary_cross_entropy(x, t, pos_weight=jnp.ones(3))
    with pytest.raises(ValueError, match="sigmoid_focal_loss: 'gamma'"):
        jaxloss.sigmoid_focal_loss(x, t, gamma=-1.0)
    with pytest.raises(ValueError, match="sigmoid_focal_loss: 'alpha'"):
        jaxloss.sigmoid_focal_loss(x, t, alpha=1.5)
    with pytest.raises(ValueError, match="binary_focal_loss: 'gamma'"):
        jaxloss.binary_focal_loss(x, t, gamma=-0.5)
    with pytest.raises(ValueError, match="hinge_loss: 'margin'"):
        jaxloss.hinge_loss(x, t, margin=-1.0)
    with pytest.raises(ValueError, match="squared_hinge_loss: 'margin'"):
        jaxloss.squared_hinge_loss(x, t, margin=-1.0)
    with pytest.raises(ValueError, match="multilabel_soft_margin_loss: 'class_weights'"):
        jaxloss.multilabel_soft_margin_loss(x, t, class_weights=jnp.ones(3))
    with pytest.raises(ValueError, match="multilabel_soft_margin_loss: 'axis'"):
        jaxloss.multilabel_soft_margin_loss(x, t, axis=2)
    with pytest.raises(ValueError, match="multilabel_soft_margin_loss: 'weights'"):
        jaxloss.multilabel_soft_margin_loss(x, t, weights=jnp.ones(4))


# ----------------------------------------------------------------------------------------------
# Registry aliases
# ----------------------------------------------------------------------------------------------

ALIAS_NAMES = {
    "BCELoss": "binary_cross_entropy",
    "binary_crossentropy": "binary_cross_entropy",
    "binarycrossentropy": "binary_cross_entropy",
    "binary_cross_entropy_with_logits": "sigmoid_binary_cross_entropy",
    "BCEWithLogitsLoss": "sigmoid_binary_cross_entropy",
    "logitbinarycrossentropy": "sigmoid_binary_cross_entropy",
    "sigmoid_focal_crossentropy": "sigmoid_focal_loss",
    "binary_focal_crossentropy": "binary_focal_loss",
    "binary_focal_loss": "binary_focal_loss",
    "hinge": "hinge_loss",
    "squared_hinge": "squared_hinge_loss",
    "SoftMarginLoss": "soft_margin_loss",
    "MultiLabelSoftMarginLoss": "multilabel_soft_margin_loss",
}


@pytest.mark.parametrize("alias", sorted(ALIAS_NAMES))
def test_alias_resolves(alias):
    fn = jaxloss.get(alias)
    assert jaxloss.get(alias.upper()) is fn
    canonical = getattr(jaxloss, ALIAS_NAMES[alias])
    assert fn is canonical or fn.canonical is canonical
    name = ALIAS_NAMES[alias]
    x, t = inputs(name, (3, 4), seed=19)
    if alias in ("hinge", "squared_hinge"):
        t = (t + 1) / 2  # Keras {0, 1} labels
    assert_close(
        fn(jnp.asarray(x), jnp.asarray(t)),
        CASES[name][3](x, 2 * t - 1 if alias in ("hinge", "squared_hinge") else t).mean(),
    )


def test_keras_aliases():
    r = rng(20)
    s = 2 * r.normal(size=(4, 3))
    y01 = bits(r, (4, 3))
    hinge = jaxloss.get("hinge")
    # {0, 1} labels (ints, bools or floats) are converted to {-1, +1}, as Keras does
    for labels in (y01, y01.astype(np.int32), y01.astype(bool)):
        assert_close(hinge(jnp.asarray(s), jnp.asarray(labels)), ref_hinge(s, 2 * y01 - 1).mean())
    # {-1, +1} labels pass unchanged; the canonical loss never converts
    y = signs(r, (4, 3))
    assert_close(hinge(jnp.asarray(s), jnp.asarray(y)), ref_hinge(s, y).mean())
    assert_close(jaxloss.hinge_loss(jnp.asarray(s), jnp.asarray(y01)), ref_hinge(s, y01).mean())
    assert_close(
        jaxloss.get("squared_hinge")(jnp.asarray(s), jnp.asarray(y01), margin=0.5),
        ref_squared_hinge(s, 2 * y01 - 1, 0.5).mean(),
    )
    assert_close(jax.jit(hinge)(jnp.asarray(s), jnp.asarray(y01)), ref_hinge(s, 2 * y01 - 1).mean())
    # Keras binary_focal_crossentropy: probabilities, apply_class_balancing=False, gamma=2
    p, t = probs(r, (4, 3)), soft(r, (4, 3))
    bfc = jaxloss.get("binary_focal_crossentropy")
    assert bfc.bound_options == {"alpha": None, "gamma": 2.0}
    assert_close(
        bfc(jnp.asarray(p), jnp.asarray(t)), ref_binary_focal(p, t, alpha=None, gamma=2.0).mean()
    )
    # Keras' apply_class_balancing=True, alpha=0.25 is alpha=0.25 here
    assert_close(
        bfc(jnp.asarray(p), jnp.asarray(t), alpha=0.25), ref_binary_focal(p, t, alpha=0.25).mean()
    )
    # TF-Addons' name stays on logits
    x = 3 * r.normal(size=(4, 3))
    assert_close(
        jaxloss.get("sigmoid_focal_crossentropy")(jnp.asarray(x), jnp.asarray(y01)),
        ref_sigmoid_focal(x, y01).mean(),
    )


def test_sigmoid_bce_select_form_derivatives():
    # the one-exp / one-log1p select form: ∂/∂x = pos_weight·t·(σ(x) − 1) + (1 − t)·σ(x) (σ(x) − t
    # for pos_weight = 1, also at x = 0 and ±inf), against a plain float64 reference; second-order
    # finite differences on both sides of x = 0; jvp and hessian finite at the edges
    x = jnp.asarray([-jnp.inf, -1e4, -3.0, -0.5, 0.0, 0.0, 0.7, 4.0, 1e4, jnp.inf], jnp.float64)
    t = jnp.asarray([0.0, 1.0, 0.3, 1.0, 1.0, 0.0, 0.5, 0.0, 1.0, 1.0], jnp.float64)
    with np.errstate(over="ignore"):
        sig = 1.0 / (1.0 + np.exp(-np.asarray(x)))
    for pw in (None, 2.5):
        f = lambda z: jaxloss.sigmoid_binary_cross_entropy(z, t, pos_weight=pw, reduction="sum")
        w = 1.0 if pw is None else pw
        assert_close(
            jax.jit(jax.grad(f))(x),
            w * np.asarray(t) * (sig - 1) + (1 - np.asarray(t)) * sig,
            dtype=jnp.float64,
        )
        ref = lambda z: jnp.sum(
            w * t[2:8] * jnp.logaddexp(0.0, -z) + (1 - t[2:8]) * jnp.logaddexp(0.0, z)
        )
        g = lambda z: jaxloss.sigmoid_binary_cross_entropy(
            z, t[2:8], pos_weight=pw, reduction="sum"
        )
        hess = jax.jit(jax.hessian(g))(x[2:8])
        assert_close(hess, jax.jit(jax.hessian(ref))(x[2:8]), dtype=jnp.float64)
        # check_grads (both modes, every order-2 combination): the slow test below
        fd_check_order2(g, (jnp.asarray([-3.0, -0.5, -0.1, 0.7, 0.2, 4.0]),), rtol=1e-5, atol=1e-5)
    one = lambda z, y: jaxloss.sigmoid_binary_cross_entropy(z, y)
    _, tan = jax.jvp(lambda z: jax.vmap(one)(z, t), (x,), (jnp.ones_like(x),))
    assert_finite((tan, jax.vmap(jax.jit(jax.hessian(one)))(x, t)))
    assert np.all(np.asarray(tan) == np.asarray(jax.vmap(jax.grad(one))(x, t)))


@pytest.mark.slow
@pytest.mark.parametrize("pw", [None, 2.5])
def test_sigmoid_bce_select_form_check_grads_order2(pw):
    # second-order finite differences on both sides of x = 0 (check_grads, both modes)
    t = jnp.asarray([0.3, 1.0, 1.0, 0.0, 0.5, 0.0], jnp.float64)
    g = lambda z: jaxloss.sigmoid_binary_cross_entropy(z, t, pos_weight=pw, reduction="sum")
    grads_f64(g, (jnp.asarray([-3.0, -0.5, -0.1, 0.7, 0.2, 4.0]),), order=2)
