"""Tests of the regression losses against float64 NumPy references, PyTorch, finite differences."""

from __future__ import annotations

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

SHAPES = [(7,), (3, 4, 2)]


# ----------------------------------------------------------------------------------------------
# Plain float64 NumPy references: element-wise values and their derivative w.r.t. predictions.
# ----------------------------------------------------------------------------------------------


def ref_mse(p, t):
    return (p - t) ** 2, 2 * (p - t)


def ref_mae(p, t):
    return np.abs(p - t), np.sign(p - t)


def ref_msle(p, t):
    fp, ft = np.maximum(p, 1e-7), np.maximum(t, 1e-7)
    d = np.log(1.0 + fp) - np.log(1.0 + ft)
    return d**2, np.where(p > 1e-7, 2 * d / (1.0 + fp), 0.0)


def ref_mape(p, t, epsilon=1e-7):
    den = np.maximum(np.abs(t), epsilon)
    return 100.0 * np.abs(t - p) / den, 100.0 * np.sign(p - t) / den


def ref_huber(p, t, delta=1.0):
    r = p - t
    a = np.abs(r)
    return np.where(a <= delta, 0.5 * r**2, delta * (a - 0.5 * delta)), np.clip(r, -delta, delta)


def ref_smooth_l1(p, t, beta=1.0):
    r = p - t
    a = np.abs(r)
    if beta == 0:
        return a, np.sign(r)
    return np.where(a < beta, 0.5 * r**2 / beta, a - 0.5 * beta), np.clip(r / beta, -1, 1)


def ref_log_cosh(p, t):
    r = p - t
    return np.log(np.cosh(r)), np.tanh(r)


def ref_quantile(p, t, quantile=0.5):
    r = t - p
    return np.maximum(quantile * r, (quantile - 1) * r), np.where(r > 0, -quantile, 1 - quantile)


def ref_poisson(p, t, log_input=True, full=False, epsilon=1e-8):
    if log_input:
        v, g = np.exp(p) - t * p, np.exp(p) - t
    else:
        v, g = p - t * np.log(p + epsilon), 1 - t / (p + epsilon)
    if full:
        ts = np.where(t > 1, t, 1.0)
        v = v + np.where(t > 1, ts * np.log(ts) - ts + 0.5 * np.log(2 * np.pi * ts), 0.0)
    return v, g


def ref_gaussian(mu, t, var, full=False, epsilon=1e-6):
    """Values and gradients w.r.t. mean and variance (variance already broadcast)."""
    v = np.maximum(var, epsilon)
    r = mu - t
    val = 0.5 * (np.log(v) + r**2 / v) + (0.5 * np.log(2 * np.pi) if full else 0.0)
    return val, r / v, 0.5 * (1 / v - r**2 / v**2)


def gen_normal(shape, r):
    return r.normal(size=shape), r.normal(size=shape)


def gen_positive(shape, r):
    return r.uniform(0.0, 3.0, size=shape), r.uniform(0.0, 3.0, size=shape)


def gen_mape(shape, r):
    t = r.choice([-1.0, 1.0], size=shape) * r.uniform(0.5, 2.0, size=shape)
    return r.normal(size=shape), t


def gen_poisson_log(shape, r):
    return r.normal(size=shape), r.poisson(2.0, size=shape).astype(np.float64)


def gen_poisson_rate(shape, r):
    return r.uniform(0.1, 3.0, size=shape), r.poisson(2.0, size=shape).astype(np.float64)


# name, jax function, reference, generator, options (jax kwargs == reference kwargs)
CASES = [
    ("mse", jaxloss.mean_squared_error, ref_mse, gen_normal, {}),
    ("mae", jaxloss.mean_absolute_error, ref_mae, gen_normal, {}),
    ("msle", jaxloss.mean_squared_logarithmic_error, ref_msle, gen_positive, {}),
    ("mape", jaxloss.mean_absolute_percentage_error, ref_mape, gen_mape, {"epsilon": 1e-7}),
    ("huber", jaxloss.huber_loss, ref_huber, gen_normal, {"delta": 0.7}),
    ("smooth_l1", jaxloss.smooth_l1_loss, ref_smooth_l1, gen_normal, {"beta": 0.6}),
    ("smooth_l1_b0", jaxloss.smooth_l1_loss, ref_smooth_l1, gen_normal, {"beta": 0.0}),
    ("log_cosh", jaxloss.log_cosh, ref_log_cosh, gen_normal, {}),
    ("quantile", jaxloss.quantile_loss, ref_quantile, gen_normal, {"quantile": 0.8}),
    ("poisson_log", jaxloss.poisson_nll_loss, ref_poisson, gen_poisson_log, {"full": True}),
    (
        "poisson_rate",
        jaxloss.poisson_nll_loss,
        ref_poisson,
        gen_poisson_rate,
        {"log_input": False, "full": True, "epsilon": 1e-3},
    ),
]
CASE_IDS = [c[0] for c in CASES]


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
@pytest.mark.parametrize("shape", SHAPES)
def test_values_and_grad_match_numpy_reference(case, shape):
    _, fn, ref, gen, opts = case
    r = rng(hash((case[0], shape)) % 2**32)
    p, t = gen(shape, r)
    val, g = ref(p, t, **opts)

    @jax.jit
    def run(x, y):
        return (
            fn(x, y, reduction="none", **opts),
            fn(x, y, **opts),
            fn(x, y, reduction="sum", **opts),
            jax.grad(lambda z: fn(z, y, **opts))(x),
        )

    got, mean, total, grad = run(jnp.asarray(p), jnp.asarray(t))
    assert got.shape == shape and got.dtype == jnp.float64
    assert_close(got, val)
    assert_close(mean, val.mean())
    assert_close(total, val.sum())
    assert_close(grad, g / val.size)


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_weights_and_where(case):
    _, fn, ref, gen, opts = case
    r = rng(3)
    p, t = gen((4, 3), r)
    w = r.uniform(0.1, 2.0, size=(4, 1))
    m = r.uniform(size=(4, 3)) > 0.3
    val, g = ref(p, t, **opts)
    P, T, W, M = map(jnp.asarray, (p, t, w, m))

    @jax.jit
    def run(x):
        out = {
            red: fn(x, T, weights=W, where=M, reduction=red, **opts)
            for red in ("mean", "sum", "none")
        }
        return out, jax.grad(lambda z: fn(z, T, weights=W, where=M, **opts))(x)

    out, grad = run(P)
    for reduction in ("mean", "sum", "none"):
        assert_close(out[reduction], reduce_ref(val, w, m, reduction))
    assert np.all(np.asarray(out["none"])[~m] == 0.0)
    wb = np.broadcast_to(w, m.shape)
    assert_close(grad, np.where(m, wb * g, 0.0) / np.where(m, wb, 0.0).sum())


@pytest.mark.parametrize(
    "case",
    CASES + [("rmse", jaxloss.root_mean_squared_error, None, gen_normal, {})],
    ids=CASE_IDS + ["rmse"],
)
def test_all_masked_is_exact_zero_with_zero_grad(case):
    _, fn, _, gen, opts = case
    p, t = gen((3, 2), rng(4))
    P, T = jnp.asarray(p), jnp.asarray(t)
    m = jnp.zeros((3, 2), bool)
    run = jax.jit(
        lambda x: (
            fn(x, T, where=m, **opts),
            jax.grad(lambda z: fn(z, T, where=m, **opts))(x),
            fn(x, T, where=m, reduction="none", **opts),
        )
    )
    value, g, none = run(P)
    assert float(value) == 0.0
    assert np.all(np.asarray(g) == 0.0)
    assert np.all(np.asarray(none) == 0.0)


# Twice-differentiable losses, at points away from kinks: finite differences, order 2, fwd and rev.
# All losses are checked in one call (one output per loss, one input per loss) to compile once.
SMOOTH = [c for c in CASES if c[0] not in ("mae", "quantile", "smooth_l1_b0")]


def _smooth_regression_sum():
    """(f, args): every twice-differentiable regression loss, stacked, away from its kinks."""
    xs, ts = [], []
    for i, (name, _, _, gen, opts) in enumerate(SMOOTH):
        p, t = gen((4,), rng(50 + i))
        if name in ("huber", "smooth_l1"):  # keep |r| away from the threshold, where f'' jumps
            thr = opts.get("delta", opts.get("beta"))
            p = np.where(np.abs(np.abs(p - t) - thr) < 0.05, p + 0.2, p)
        if name == "msle":
            p = p + 0.05  # away from the 1e-7 floor
        xs.append(p)
        ts.append(jnp.asarray(t))
    r = rng(49)
    y = jnp.asarray(r.normal(size=(4,)))
    xs += [r.normal(size=(4,)), r.normal(size=(4,)), r.uniform(0.2, 2.0, size=(4,))]

    def f(*args):
        out = [
            fn(x, t, **opts) for (_, fn, _, _, opts), x, t in zip(SMOOTH, args, ts, strict=False)
        ]
        rmse_x, mu, var = args[len(SMOOTH) :]
        out.append(jaxloss.root_mean_squared_error(rmse_x, y))
        out.append(jaxloss.gaussian_nll_loss(mu, y, var, full=True))
        return jnp.stack(out)

    return f, xs


def test_finite_difference_grads():
    # default tier: value, gradient and Hessian-vector product against central differences
    f, xs = _smooth_regression_sum()
    fd_check_order2(f, xs, rtol=1e-5, atol=1e-5)


@pytest.mark.slow
def test_finite_difference_grads_check_grads_order2():
    # exhaustive: jax.test_util.check_grads, forward and reverse, every order-2 combination
    f, xs = _smooth_regression_sum()
    grads_f64(jax.jit(f), xs, order=2)


def test_finite_difference_grads_first_order_kinked_losses_and_hyperparameters():
    p, t = gen_normal((5,), rng(6))
    T = jnp.asarray(t)

    def f(x, d, b, q):
        return jnp.stack(
            [
                jaxloss.mean_absolute_error(x, T),
                jaxloss.quantile_loss(x, T, quantile=q),
                jaxloss.smooth_l1_loss(x, T, beta=0.0),
                jaxloss.huber_loss(x, T, delta=d),
                jaxloss.smooth_l1_loss(x, T, beta=b),
            ]
        )

    grads_f64(jax.jit(f), (p, 0.5, 0.7, 0.3), order=1)


# ----------------------------------------------------------------------------------------------
# root_mean_squared_error
# ----------------------------------------------------------------------------------------------


def test_rmse_is_sqrt_after_reduction():
    r = rng(7)
    p, t = r.normal(size=(4, 3)), r.normal(size=(4, 3))
    w = r.uniform(0.1, 2.0, size=(4, 1))
    m = r.uniform(size=(4, 3)) > 0.3
    P, T, W, M = map(jnp.asarray, (p, t, w, m))
    sq = (p - t) ** 2

    @jax.jit
    def run(x):
        rm = {
            red: jaxloss.root_mean_squared_error(x, T, weights=W, where=M, reduction=red)
            for red in ("mean", "sum", "none")
        }
        ms = {
            red: jaxloss.mean_squared_error(x, T, weights=W, where=M, reduction=red)
            for red in ("mean", "sum", "none")
        }
        plain = (
            jaxloss.root_mean_squared_error(x, T),
            jaxloss.root_mean_squared_error(x, T, reduction="none"),
        )
        return (
            rm,
            ms,
            plain,
            jax.grad(lambda z: jaxloss.root_mean_squared_error(z, T, weights=W, where=M))(x),
        )

    rm, ms, (mean, none), g = run(P)
    assert_close(mean, np.sqrt(sq.mean()))
    for reduction in ("mean", "sum", "none"):
        assert_close(rm[reduction], np.sqrt(reduce_ref(sq, w, m, reduction)))
        assert_close(rm[reduction] ** 2, ms[reduction])
    assert none.shape == (4, 3)
    assert_close(none, np.abs(p - t))
    # gradient: d sqrt(M)/dp = w r / (Σw · sqrt(M))
    wb = np.where(m, np.broadcast_to(w, m.shape), 0.0)
    mse = (wb * sq).sum() / wb.sum()
    assert_close(g, wb * (p - t) / (wb.sum() * np.sqrt(mse)))


def test_rmse_zero_error_has_finite_zero_gradient():
    x = jnp.asarray([1.0, -2.0, 3.0])

    @jax.jit
    def run(z):
        out = []
        for reduction in ("mean", "sum"):
            f = lambda a: jaxloss.root_mean_squared_error(a, x, reduction=reduction)
            out.append(
                (
                    f(z),
                    jax.grad(f)(z),
                    jax.jit(jax.hessian(f))(z),
                    jax.jvp(f, (z,), (jnp.ones_like(z),))[1],
                )
            )
        g = jax.grad(lambda a: jnp.sum(jaxloss.root_mean_squared_error(a, x, reduction="none")))(z)
        return out, g

    out, g = run(x)
    for value, grad, hess, tangent in out:
        assert float(value) == 0.0
        assert np.all(np.asarray(grad) == 0.0)
        assert float(tangent) == 0.0
        assert_finite(hess)
    assert np.all(np.asarray(g) == 0.0)


# ----------------------------------------------------------------------------------------------
# PyTorch oracle
# ----------------------------------------------------------------------------------------------

TORCH_CASES = [
    ("MSELoss", {}, jaxloss.mean_squared_error, {}),
    ("L1Loss", {}, jaxloss.mean_absolute_error, {}),
    ("HuberLoss", {}, jaxloss.huber_loss, {}),
    ("HuberLoss", {"delta": 0.4}, jaxloss.huber_loss, {"delta": 0.4}),
    ("SmoothL1Loss", {}, jaxloss.smooth_l1_loss, {}),
    ("SmoothL1Loss", {"beta": 0.3}, jaxloss.smooth_l1_loss, {"beta": 0.3}),
    ("SmoothL1Loss", {"beta": 0.0}, jaxloss.smooth_l1_loss, {"beta": 0.0}),
    ("PoissonNLLLoss", {}, jaxloss.poisson_nll_loss, {}),
    ("PoissonNLLLoss", {"full": True}, jaxloss.poisson_nll_loss, {"full": True}),
    ("PoissonNLLLoss", {"log_input": False}, jaxloss.poisson_nll_loss, {"log_input": False}),
    (
        "PoissonNLLLoss",
        {"log_input": False, "full": True, "eps": 1e-2},
        jaxloss.poisson_nll_loss,
        {"log_input": False, "full": True, "epsilon": 1e-2},
    ),
]


@pytest.mark.parametrize("case", TORCH_CASES, ids=[f"{c[0]}-{c[1]}" for c in TORCH_CASES])
def test_against_pytorch(case):
    torch = torch_or_skip()
    tname, topts, fn, opts = case
    r = rng(8)
    if tname == "PoissonNLLLoss":
        p = (
            r.uniform(0.05, 3.0, size=(3, 5))
            if not topts.get("log_input", True)
            else r.normal(size=(3, 5))
        )
        t = r.poisson(2.0, size=(3, 5)).astype(np.float64)
    else:
        p, t = r.normal(size=(3, 5)), r.normal(size=(3, 5))
        p[0, 0] = t[0, 0]  # an exact zero error
    for reduction in ("mean", "sum", "none"):
        tp = to_torch(p, torch).requires_grad_(True)
        out = getattr(torch.nn, tname)(reduction=reduction, **topts)(tp, to_torch(t, torch))
        out.sum().backward()
        f = lambda x: jnp.sum(fn(x, jnp.asarray(t), reduction=reduction, **opts))
        assert_close(
            fn(jnp.asarray(p), jnp.asarray(t), reduction=reduction, **opts),
            out.detach().numpy(),
            err_msg=f"{tname} {reduction}",
        )
        assert_close(
            jax.grad(f)(jnp.asarray(p)), tp.grad.numpy(), err_msg=f"{tname} {reduction} grad"
        )


@pytest.mark.parametrize(
    "var_shape", [(3, 4), (3,), (3, 1)], ids=["same", "one-fewer", "trailing-1"]
)
@pytest.mark.parametrize("full", [False, True])
def test_gaussian_nll_against_pytorch(var_shape, full):
    torch = torch_or_skip()
    r = rng(9)
    mu, t = r.normal(size=(3, 4)), r.normal(size=(3, 4))
    var = r.uniform(0.2, 2.0, size=var_shape)
    var.flat[0] = 1e-9  # below epsilon: clamped in the value, gradient passes through
    eps = 1e-3
    for reduction in ("mean", "sum", "none"):
        tm = to_torch(mu, torch).requires_grad_(True)
        tv = to_torch(var, torch).requires_grad_(True)
        out = torch.nn.GaussianNLLLoss(full=full, eps=eps, reduction=reduction)(
            tm, to_torch(t, torch), tv
        )
        out.sum().backward()
        f = lambda m, v: jnp.sum(
            jaxloss.gaussian_nll_loss(
                m, jnp.asarray(t), v, full=full, epsilon=eps, reduction=reduction
            )
        )
        got = jaxloss.gaussian_nll_loss(
            jnp.asarray(mu),
            jnp.asarray(t),
            jnp.asarray(var),
            full=full,
            epsilon=eps,
            reduction=reduction,
        )
        assert got.shape == tuple(out.shape)
        assert_close(got, out.detach().numpy())
        gm, gv = jax.grad(f, argnums=(0, 1))(jnp.asarray(mu), jnp.asarray(var))
        assert_close(gm, tm.grad.numpy())
        assert_close(gv, tv.grad.numpy())


def test_gaussian_nll_matches_numpy_reference():
    r = rng(10)
    for shape, vshape, axis_bcast in [
        ((6,), (6,), None),
        ((2, 3, 4), (2, 1, 4), 1),
        ((2, 3, 4), (2, 3), -1),
    ]:
        mu, t = r.normal(size=shape), r.normal(size=shape)
        var = r.uniform(0.1, 2.0, size=vshape)
        vb = np.broadcast_to(var[..., None] if len(vshape) < len(shape) else var, shape)
        val, gm, gv = ref_gaussian(mu, t, vb, full=True, epsilon=1e-6)
        run = jax.jit(
            lambda m, y, v: (
                jaxloss.gaussian_nll_loss(m, y, v, full=True, reduction="none"),
                jax.grad(lambda a, b: jaxloss.gaussian_nll_loss(a, y, b), argnums=(0, 1))(m, v),
            )
        )
        got, (gmu, gvar) = run(jnp.asarray(mu), jnp.asarray(t), jnp.asarray(var))
        assert got.shape == shape
        assert_close(got, val)
        assert_close(gmu, gm / val.size)
        # the variance gradient sums over the broadcast positions
        gv_sum = gv / val.size
        if len(vshape) < len(shape):
            gv_sum = gv_sum.sum(-1)
        elif axis_bcast is not None:
            gv_sum = gv_sum.sum(axis_bcast, keepdims=True)
        assert_close(gvar, gv_sum)


def test_gaussian_nll_weights_where_and_all_masked():
    r = rng(19)
    mu, t, var = r.normal(size=(4, 3)), r.normal(size=(4, 3)), r.uniform(0.2, 2.0, size=(4,))
    w = r.uniform(0.1, 2.0, size=(4, 1))
    m = r.uniform(size=(4, 3)) > 0.3
    M, T, V, W, K = map(jnp.asarray, (mu, t, var, w, m))
    val, _, _ = ref_gaussian(mu, t, np.broadcast_to(var[:, None], (4, 3)))
    none_mask = jnp.zeros((4, 3), bool)

    @jax.jit
    def run(a, v):
        out = {
            red: jaxloss.gaussian_nll_loss(a, T, v, weights=W, where=K, reduction=red)
            for red in ("mean", "sum", "none")
        }
        f = lambda x, y: jaxloss.gaussian_nll_loss(x, T, y, where=none_mask)
        return out, f(a, v), jax.grad(f, argnums=(0, 1))(a, v)

    out, masked, (gm, gv) = run(M, V)
    for reduction in ("mean", "sum", "none"):
        assert_close(out[reduction], reduce_ref(val, w, m, reduction))
    assert np.all(np.asarray(out["none"])[~m] == 0.0)
    assert float(masked) == 0.0
    assert np.all(np.asarray(gm) == 0.0) and np.all(np.asarray(gv) == 0.0)


# ----------------------------------------------------------------------------------------------
# jit and vmap
# ----------------------------------------------------------------------------------------------

ALL_FNS = [(c[0], c[1], c[4]) for c in CASES] + [("rmse", jaxloss.root_mean_squared_error, {})]


@pytest.mark.parametrize("name,fn,opts", ALL_FNS, ids=[a[0] for a in ALL_FNS])
def test_jit_and_vmap_over_batch_equal_loop(name, fn, opts):
    gen = dict((c[0], c[3]) for c in CASES).get(name, gen_normal)
    p, t = gen((3, 4), rng(11))
    P, T = jnp.asarray(p), jnp.asarray(t)
    f = lambda a, b: fn(a, b, **opts)
    assert_close(jax.jit(f)(P, T), f(P, T))
    loop = np.stack([np.asarray(f(P[i], T[i])) for i in range(3)])
    assert_close(jax.vmap(f)(P, T), loop)
    assert_close(jax.jit(jax.vmap(f))(P, T), loop)


@pytest.mark.parametrize(
    "fn,hp,values,gen",
    [
        (jaxloss.huber_loss, "delta", [0.0, 0.3, 1.0], gen_normal),
        (jaxloss.smooth_l1_loss, "beta", [0.0, 0.3, 1.0], gen_normal),
        (jaxloss.quantile_loss, "quantile", [0.0, 0.3, 1.0], gen_normal),
        (jaxloss.mean_absolute_percentage_error, "epsilon", [1e-7, 0.5, 2.0], gen_mape),
        (jaxloss.poisson_nll_loss, "epsilon", [0.0, 1e-3, 0.5], gen_poisson_rate),
    ],
    ids=["huber-delta", "smooth_l1-beta", "quantile", "mape-epsilon", "poisson-epsilon"],
)
def test_vmap_over_hyperparameter_equals_loop(fn, hp, values, gen):
    p, t = gen((2, 3), rng(12))
    P, T = jnp.asarray(p), jnp.asarray(t)
    extra = {"log_input": False} if fn is jaxloss.poisson_nll_loss else {}
    f = lambda v: fn(P, T, **{hp: v}, **extra)
    loop = np.stack([np.asarray(f(v)) for v in values])
    assert_close(jax.vmap(f)(jnp.asarray(values)), loop)
    g = jax.vmap(jax.grad(lambda x, v: fn(x, T, **{hp: v}, **extra)), in_axes=(None, 0))(
        P, jnp.asarray(values)
    )
    assert_finite(g)


def test_vmap_over_gaussian_epsilon_and_batch():
    r = rng(13)
    mu, t, var = r.normal(size=(3, 4)), r.normal(size=(3, 4)), r.uniform(0.0, 1.0, size=(3, 4))
    M, T, V = map(jnp.asarray, (mu, t, var))
    eps = jnp.asarray([1e-6, 0.1, 0.5])
    f = lambda e: jaxloss.gaussian_nll_loss(M, T, V, epsilon=e)
    assert_close(jax.vmap(f)(eps), np.stack([np.asarray(f(e)) for e in eps]))
    fb = lambda m, y, v: jaxloss.gaussian_nll_loss(m, y, v)
    assert_close(
        jax.vmap(fb)(M, T, V), np.stack([np.asarray(fb(M[i], T[i], V[i])) for i in range(3)])
    )


# ----------------------------------------------------------------------------------------------
# Edge cases
# ----------------------------------------------------------------------------------------------


def test_huber_delta_zero_and_smooth_l1_beta_zero():
    p, t = gen_normal((6,), rng(14))
    P, T = jnp.asarray(p), jnp.asarray(t)
    z = jnp.zeros(3)
    hub = lambda x, y, d: jaxloss.huber_loss(x, y, delta=d)
    sl1 = lambda x, y, b: jaxloss.smooth_l1_loss(x, y, beta=b)

    @jax.jit
    def run(x, b):  # b is a traced 0
        return dict(
            huber=hub(x, T, b),
            huber_grad=jax.grad(hub)(x, T, b),
            l1=jaxloss.mean_absolute_error(x, T, reduction="none"),
            sl1=jaxloss.smooth_l1_loss(x, T, beta=b, reduction="none"),
            sl1_grad=jax.grad(lambda a: jaxloss.smooth_l1_loss(a, T, beta=b, reduction="sum"))(x),
            # zero error with a zero threshold
            at_zero=[(jax.grad(f)(z, z, b), jax.jit(jax.hessian(f))(z, z, b)) for f in (hub, sl1)],
            # derivative w.r.t. the threshold is finite at 0
            d_threshold=[jax.grad(f, argnums=2)(x, T, b) for f in (hub, sl1)],
        )

    out = run(P, 0.0)
    assert float(out["huber"]) == 0.0
    assert np.all(np.asarray(out["huber_grad"]) == 0.0)
    # β = 0 is exactly L1, also with a traced β, and with the L1 gradient sign(r)
    assert np.array_equal(np.asarray(out["sl1"]), np.asarray(out["l1"]))
    assert np.array_equal(
        np.asarray(jaxloss.smooth_l1_loss(P, T, beta=0.0, reduction="none")), np.asarray(out["l1"])
    )
    assert_close(out["sl1_grad"], np.sign(p - t))
    assert_finite((out["at_zero"], out["d_threshold"]))


@pytest.mark.parametrize("dtype", [jnp.float32, jnp.float64])
def test_log_cosh_no_overflow_and_exact_near_zero(dtype):
    r = jnp.asarray(
        [-1e4, -100.0, -3.0, -1.0, -1e-3, 0.0, 1e-6, 0.999, 1.0, 5.0, 800.0, 1e4], dtype
    )
    z = jnp.zeros_like(r)
    got = jaxloss.log_cosh(r, z, reduction="none")
    assert got.dtype == dtype
    x = np.asarray(r, np.float64)
    # reference with np.logaddexp: log cosh x = logaddexp(x, −x) − log 2 (fine for any x in
    # float64), and the Taylor series x²/2 − x⁴/12 + x⁶/45 near 0 where that form cancels (next
    # term 17x⁸/2520)
    ref = np.where(
        np.abs(x) < 1e-2, x**2 / 2 - x**4 / 12 + x**6 / 45, np.logaddexp(x, -x) - np.log(2.0)
    )
    np.testing.assert_allclose(
        np.asarray(got, np.float64), ref, rtol=1e-6 if dtype == jnp.float32 else 1e-14, atol=0
    )
    g = jax.jit(jax.grad(lambda a: jaxloss.log_cosh(a, z, reduction="sum")))(r)
    assert_close(g, np.tanh(x), dtype=dtype)
    h = jax.jit(jax.vmap(jax.hessian(lambda a: jaxloss.log_cosh(a, jnp.zeros((), dtype)))))(r)
    assert float(h[5]) == 1.0  # sech²(0)
    assert_close(h, 1.0 - np.tanh(x) ** 2, dtype=dtype)  # sech² = 1 − tanh²


def test_poisson_edges_and_stirling_only_above_one():
    # y = 0, x = 0, eps = 0 (the Flux alias): 0·log 0 = 0, finite gradient 1
    x = jnp.asarray([0.0, 2.0])
    y = jnp.asarray([0.0, 0.0])
    t = jnp.asarray([0.0, 0.5, 1.0, 1.5, 4.0])
    p = jnp.zeros(5)
    rate = lambda a, b, red="mean": jaxloss.poisson_nll_loss(
        a, b, log_input=False, epsilon=0.0, reduction=red
    )

    @jax.jit
    def run(x, y, p, t):
        return dict(
            v=rate(x, y, "none"),
            g=jax.grad(rate)(x, y),
            h=jax.jit(jax.hessian(rate))(x, y),
            # zero rate, positive count: the true NLL, +inf
            inf=rate(jnp.zeros(1), jnp.ones(1)),
            stirling=jaxloss.poisson_nll_loss(p, t, full=True, reduction="none")
            - jaxloss.poisson_nll_loss(p, t, reduction="none"),
            dt=jax.grad(lambda a: jaxloss.poisson_nll_loss(p, a, full=True))(t),
        )

    out = run(x, y, p, t)
    assert_close(out["v"], [0.0, 2.0])
    assert_close(out["g"], [0.5, 0.5])
    assert_finite(out["h"])
    assert float(out["inf"]) == np.inf
    # Stirling term: added only where y > 1
    tt = np.asarray(t)
    ts = np.maximum(tt, 1)
    assert_close(
        out["stirling"], np.where(tt > 1, ts * np.log(ts) - ts + 0.5 * np.log(2 * np.pi * ts), 0.0)
    )
    assert_finite(out["dt"])


def test_gaussian_nll_zero_variance_finite_and_pass_through():
    mu, t = jnp.asarray([0.0, 1.0, 2.0]), jnp.asarray([0.5, 1.0, -1.0])
    var = jnp.asarray([0.0, 0.0, 1.0])
    f = lambda m, v: jaxloss.gaussian_nll_loss(m, t, v, epsilon=1e-2)
    value, (gm, gv), hess = jax.jit(
        lambda m, v: (
            f(m, v),
            jax.grad(f, argnums=(0, 1))(m, v),
            jax.jit(jax.hessian(f, argnums=(0, 1)))(m, v),
        )
    )(mu, var)
    assert_finite((value, gm, gv, hess))
    vc = np.maximum(np.asarray(var), 1e-2)
    r = np.asarray(mu - t)
    assert_close(gv, 0.5 * (1 / vc - r**2 / vc**2) / 3)  # straight-through at the clamp


def test_msle_mape_edges():
    p = jnp.asarray([-5.0, 0.0, 1e-9, 2.0])
    t = jnp.asarray([0.0, -1.0, 0.0, 3.0])
    msle = jaxloss.mean_squared_logarithmic_error
    mape = jaxloss.mean_absolute_percentage_error
    v, g, z, gz = jax.jit(
        lambda a, b: (
            msle(a, b, reduction="none"),
            jax.grad(msle)(a, b),
            mape(jnp.asarray([0.5, 0.0]), jnp.zeros(2), reduction="none"),
            jax.grad(mape)(jnp.zeros(2), jnp.zeros(2)),
        )
    )(p, t)
    ref, _ = ref_msle(np.asarray(p), np.asarray(t))
    assert_close(v, ref)
    assert_finite(g)
    assert np.all(np.asarray(g)[:3] == 0.0)  # the 1e-7 floor is active: no gradient
    assert_close(z, [100 * 0.5 / 1e-7, 0.0])
    assert_finite(gz)


@pytest.mark.parametrize("dtype", [jnp.bfloat16, jnp.float16])
@pytest.mark.parametrize(
    "case",
    [c for c in CASES if c[0] in ("mse", "huber", "log_cosh", "poisson_log", "msle")],
    ids=["mse", "msle", "huber", "log_cosh", "poisson_log"],
)
def test_half_precision_inputs(dtype, case):
    _, fn, ref, gen, opts = case
    p, t = gen((4, 3), rng(15))
    P, T = jnp.asarray(p, dtype), jnp.asarray(t, dtype)
    pr, tr = np.asarray(P, np.float64), np.asarray(T, np.float64)
    val, g = ref(pr, tr, **opts)
    got, grad = jax.jit(lambda x: (fn(x, T, **opts), jax.grad(lambda a: fn(a, T, **opts))(x)))(P)
    assert got.dtype == jnp.float32
    assert_close(got, val.mean(), dtype=np.float32, rtol=1e-5, atol=1e-6)
    assert grad.dtype == dtype
    assert_close(grad, (g / val.size).astype(dtype), dtype=dtype, rtol=1e-2, atol=1e-3)


def test_half_precision_gaussian():
    r = rng(16)
    mu, t, var = (
        jnp.asarray(a, jnp.bfloat16)
        for a in (r.normal(size=6), r.normal(size=6), r.uniform(0.2, 2, size=6))
    )
    got = jaxloss.gaussian_nll_loss(mu, t, var)
    assert got.dtype == jnp.float32
    val, _, _ = ref_gaussian(*(np.asarray(a, np.float64) for a in (mu, t, var)))
    assert_close(got, val.mean(), dtype=np.float32)
    gm, gv = jax.grad(lambda m, v: jaxloss.gaussian_nll_loss(m, t, v), argnums=(0, 1))(mu, var)
    assert gm.dtype == gv.dtype == jnp.bfloat16


def test_edge_cases_under_debug_nans():
    z = jnp.zeros(3)
    big = jnp.asarray([1e4, -1e4, 0.0])
    with debug_nans():
        for f in (
            lambda x: jaxloss.root_mean_squared_error(x, z),
            lambda x: jaxloss.log_cosh(x, z),
            lambda x: jaxloss.smooth_l1_loss(x, z, beta=0.0),
            lambda x: jaxloss.huber_loss(x, z, delta=0.0),
            lambda x: jaxloss.poisson_nll_loss(jnp.abs(x) * 0.0, z, log_input=False, epsilon=0.0),
            lambda x: jaxloss.gaussian_nll_loss(x, z, jnp.zeros(3)),
            lambda x: jaxloss.mean_squared_logarithmic_error(x, z),
        ):
            for x in (z, big):
                jax.block_until_ready(f(x))
                jax.block_until_ready(jax.grad(f)(x))


# ----------------------------------------------------------------------------------------------
# Trace-time errors
# ----------------------------------------------------------------------------------------------


def test_trace_time_errors():
    a, b = jnp.ones(3), jnp.ones(4)
    with pytest.raises(ValueError, match="mean_squared_error: 'predictions' and 'targets'"):
        jaxloss.mean_squared_error(a, b)
    with pytest.raises(ValueError, match="huber_loss: 'delta'"):
        jaxloss.huber_loss(a, a, delta=-1.0)
    with pytest.raises(ValueError, match="smooth_l1_loss: 'beta'"):
        jaxloss.smooth_l1_loss(a, a, beta=-0.1)
    with pytest.raises(ValueError, match="quantile_loss: 'quantile'"):
        jaxloss.quantile_loss(a, a, quantile=1.5)
    with pytest.raises(ValueError, match="poisson_nll_loss: 'epsilon'"):
        jaxloss.poisson_nll_loss(a, a, epsilon=-1.0)
    with pytest.raises(ValueError, match="mean_absolute_percentage_error: 'epsilon'"):
        jaxloss.mean_absolute_percentage_error(a, a, epsilon=-1.0)
    with pytest.raises(ValueError, match="log_cosh: 'reduction'"):
        jaxloss.log_cosh(a, a, reduction="avg")
    with pytest.raises(ValueError, match="root_mean_squared_error: 'weights'"):
        jaxloss.root_mean_squared_error(a, a, weights=jnp.ones(2))
    m = jnp.ones((2, 3))
    with pytest.raises(ValueError, match="gaussian_nll_loss: 'variance'"):
        jaxloss.gaussian_nll_loss(m, m, jnp.ones((3,)))
    with pytest.raises(ValueError, match="gaussian_nll_loss: 'variance'"):
        jaxloss.gaussian_nll_loss(m, m, jnp.ones((1, 1)))
    with pytest.raises(ValueError, match="gaussian_nll_loss: 'mean' and 'targets'"):
        jaxloss.gaussian_nll_loss(m, jnp.ones((2,)), m)
    with pytest.raises(ValueError, match="gaussian_nll_loss: 'epsilon'"):
        jaxloss.gaussian_nll_loss(m, m, m, epsilon=-1.0)
    # traced hyperparameters are not checked at trace time
    jax.jit(lambda d: jaxloss.huber_loss(a, a, delta=d))(1.0)


# ----------------------------------------------------------------------------------------------
# Aliases
# ----------------------------------------------------------------------------------------------


def test_every_alias_resolves():
    for name in jaxloss._regression.ALIASES:
        assert jaxloss.get(name) is jaxloss._regression.ALIASES[name]
        assert jaxloss.get(name.upper()) is jaxloss._regression.ALIASES[name]
    for name in ("mse", "MSELoss", "mse_loss"):
        assert jaxloss.get(name) is jaxloss.mean_squared_error
    for name, canon in [
        ("mae", "mean_absolute_error"),
        ("L1Loss", "mean_absolute_error"),
        ("l1_loss", "mean_absolute_error"),
        ("rmse", "root_mean_squared_error"),
        ("msle", "mean_squared_logarithmic_error"),
        ("mape", "mean_absolute_percentage_error"),
        ("huber", "huber_loss"),
        ("HuberLoss", "huber_loss"),
        ("SmoothL1Loss", "smooth_l1_loss"),
        ("logcosh", "log_cosh"),
        ("pinball_loss", "quantile_loss"),
        ("PoissonNLLLoss", "poisson_nll_loss"),
        ("GaussianNLLLoss", "gaussian_nll_loss"),
    ]:
        assert jaxloss.get(name) is getattr(jaxloss, canon)


def test_bound_aliases_behave_as_their_source_library():
    r = rng(17)
    p, t = r.uniform(0.0, 3.0, size=(4, 3)), r.poisson(1.0, size=(4, 3)).astype(np.float64)
    p[0, 0], t[0, 0] = 0.0, 0.0
    P, T = jnp.asarray(p), jnp.asarray(t)
    # Keras poisson: mean(y_pred − y_true·log(y_pred + 1e-7))
    assert_close(jaxloss.get("poisson")(P, T), np.mean(p - t * np.log(p + 1e-7)))
    # Flux poisson_loss: mean(ŷ − xlogy(y, ŷ)), with 0·log 0 = 0
    xlogy = np.where(t == 0, 0.0, t * np.log(np.where(t == 0, 1.0, p)))
    assert_close(jaxloss.get("poisson_loss")(P, T), np.mean(p - xlogy))
    assert_finite(jax.grad(jaxloss.get("poisson_loss"))(P, T))
    # optax.squared_error: unreduced (p − t)²
    optax = pytest.importorskip("optax")
    q, y = r.normal(size=(2, 3)), r.normal(size=(2, 3))
    assert_close(
        jaxloss.get("squared_error")(jnp.asarray(q), jnp.asarray(y)),
        optax.squared_error(jnp.asarray(q), jnp.asarray(y)),
    )
    assert_close(
        jaxloss.get("huber")(jnp.asarray(q), jnp.asarray(y), delta=0.5, reduction="none"),
        optax.huber_loss(jnp.asarray(q), jnp.asarray(y), delta=0.5),
    )
    assert_close(
        jaxloss.get("log_cosh")(jnp.asarray(q), jnp.asarray(y), reduction="none"),
        optax.log_cosh(jnp.asarray(q), jnp.asarray(y)),
    )


def test_poisson_alias_against_pytorch():
    torch = torch_or_skip()
    r = rng(18)
    p, t = r.uniform(0.05, 3.0, size=(4, 3)), r.poisson(1.0, size=(4, 3)).astype(np.float64)
    out = torch.nn.PoissonNLLLoss(log_input=False, eps=1e-7)(to_torch(p, torch), to_torch(t, torch))
    assert_close(jaxloss.get("poisson")(jnp.asarray(p), jnp.asarray(t)), out.numpy())
    out = torch.nn.PoissonNLLLoss()(to_torch(p, torch), to_torch(t, torch))
    assert_close(jaxloss.get("PoissonNLLLoss")(jnp.asarray(p), jnp.asarray(t)), out.numpy())


def test_log_cosh_custom_jvp_rule():
    # the custom derivative rule (tanh r, then 1 − tanh² r) against jax.grad / jax.hessian of an
    # independent float64 reference, finite differences to second order on both sides of the |r| = 1
    # branch switch, and finite jvp / hessian at the edge cases
    ref = lambda r: jnp.sum(jnp.logaddexp(r, -r) - np.log(2.0))
    r = jnp.asarray([-3.0, -1.2, -0.8, -1e-3, 0.3, 0.95, 1.05, 2.5], jnp.float64)
    f = lambda x: jaxloss.log_cosh(x, jnp.zeros_like(x), reduction="sum")
    assert_close(jax.grad(f)(r), jax.grad(ref)(r), dtype=jnp.float64)
    assert_close(jax.jit(jax.hessian(f))(r), jax.jit(jax.hessian(ref))(r), dtype=jnp.float64)
    fd_check_order2(f, (r,), rtol=1e-5, atol=1e-5)  # check_grads: the slow test below
    edges = jnp.asarray([-1e4, -1.0, 0.0, 1.0, 1e4], jnp.float32)
    one = lambda x: jaxloss.log_cosh(x, jnp.zeros((), x.dtype))
    _, tan = jax.jvp(jax.vmap(one), (edges,), (jnp.ones_like(edges),))
    h = jax.vmap(jax.jit(jax.hessian(one)))(edges)
    assert_finite((tan, h))
    assert_close(tan, np.tanh(np.asarray(edges, np.float64)), dtype=jnp.float32)


@pytest.mark.slow
def test_log_cosh_custom_jvp_rule_check_grads_order2():
    # finite differences to second order (check_grads, both modes) on both sides of |r| = 1
    r = jnp.asarray([-3.0, -1.2, -0.8, -1e-3, 0.3, 0.95, 1.05, 2.5], jnp.float64)
    f = lambda x: jaxloss.log_cosh(x, jnp.zeros_like(x), reduction="sum")
    grads_f64(f, (r,), order=2)


def test_huber_select_form_gradients():
    # the select form's derivatives: ∂/∂r = clip(r, −δ, δ) (0 at r = 0, also for δ = 0) and
    # ∂/∂δ = |r| − min(|r|, δ), against the closed forms in float64; jvp / hessian finite at the
    # edges
    r = jnp.asarray([-3.0, -0.9, -0.2, 0.0, 0.4, 0.69, 0.71, 2.0, 1e4], jnp.float64)
    for d in (0.0, 0.7):
        f = lambda x, dd: jaxloss.huber_loss(x, jnp.zeros_like(x), delta=dd, reduction="sum")
        gr, gd = jax.grad(f, argnums=(0, 1))(r, jnp.float64(d))
        x = np.asarray(r)
        assert_close(gr, np.clip(x, -d, d), dtype=jnp.float64)
        assert_close(gd, np.sum(np.abs(x) - np.minimum(np.abs(x), d)), dtype=jnp.float64)
        one = lambda x: jaxloss.huber_loss(x, jnp.zeros((), x.dtype), delta=d)
        _, tan = jax.jvp(jax.vmap(one), (r,), (jnp.ones_like(r),))
        assert_finite((tan, jax.vmap(jax.jit(jax.hessian(one)))(r)))
    fd_check_order2(
        lambda x: jaxloss.huber_loss(x, jnp.zeros_like(x), delta=0.7),
        (jnp.asarray([-2.0, -0.3, 0.25, 1.5]),),
        rtol=1e-5,
        atol=1e-5,
    )  # check_grads: the slow test below


@pytest.mark.slow
def test_huber_select_form_check_grads_order2():
    grads_f64(
        lambda x: jaxloss.huber_loss(x, jnp.zeros_like(x), delta=0.7),
        (jnp.asarray([-2.0, -0.3, 0.25, 1.5]),),
        order=2,
    )
