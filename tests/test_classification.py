"""Tests of the other multi-class losses: focal, poly-1, Crammer–Singer / Keras hinge, MultiMargin.

References are plain float64 NumPy written from the formulas (never calling jaxloss); PyTorch
(`F.multi_margin_loss`, `F.cross_entropy`) and optax are oracles where they have the loss.
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

# ----------------------------------------------------------------------------------------------
# float64 NumPy references (per example; class axis moved last)
# ----------------------------------------------------------------------------------------------


def np_log_softmax(x):
    m = x.max(-1, keepdims=True)
    return x - m - np.log(np.exp(x - m).sum(-1, keepdims=True))


def np_pick(a, y):
    return np.take_along_axis(a, y[..., None], -1)[..., 0]


def ref_softmax_focal(x, y, gamma=2.0, alpha=None):
    lp = np_pick(np_log_softmax(x), y)
    p = np.exp(lp)
    out = -((1.0 - p) ** gamma) * lp
    if alpha is not None:
        a = np.asarray(alpha, np.float64)
        out = (a if a.ndim == 0 else a[y]) * out
    return out


def ref_categorical_focal(p, t, gamma=2.0, alpha=None):
    logp = np.maximum(np.log(np.where(p > 0, p, 1.0)), -100.0)
    logp = np.where(p > 0, logp, -100.0)
    a = 1.0 if alpha is None else np.asarray(alpha, np.float64)
    return -(a * t * (1.0 - p) ** gamma * logp).sum(-1)


def ref_keras_cfc(p, t, alpha=0.25, gamma=2.0):
    # keras.losses.categorical_focal_crossentropy, from_logits=False
    p = p / p.sum(-1, keepdims=True)
    p = np.clip(p, 1e-7, 1 - 1e-7)
    return (-(alpha * (1 - p) ** gamma) * t * np.log(p)).sum(-1)


def ref_poly1(x, y, epsilon=1.0):
    lp = np_pick(np_log_softmax(x), y)
    return -lp + epsilon * (1.0 - np.exp(lp))


def ref_cs_hinge(s, y, margin=1.0):
    out = np.zeros(y.shape)
    for idx in np.ndindex(*y.shape):
        row, lab = s[idx], y[idx]
        others = np.delete(row, lab)
        out[idx] = max(0.0, margin + others.max() - row[lab]) if others.size else 0.0
    return out


def ref_keras_hinge(s, t):
    # keras.losses.categorical_hinge
    pos = (t * s).sum(-1)
    neg = ((1.0 - t) * s).max(-1)
    return np.maximum(neg - pos + 1.0, 0.0)


def ref_multi_margin(s, y, p=1, margin=1.0, w=None):
    out = np.zeros(y.shape)
    n_cls = s.shape[-1]
    for idx in np.ndindex(*y.shape):
        row, lab = s[idx], y[idx]
        tot = sum(max(0.0, margin - row[lab] + row[j]) ** p for j in range(n_cls) if j != lab)
        out[idx] = tot / n_cls * (1.0 if w is None else w[lab])
    return out


def moved(x, axis):
    return np.moveaxis(np.asarray(x, np.float64), axis, -1)


def rand_case(seed, shape, axis, n_cls_scale=2.0):
    r = rng(seed)
    x = r.normal(size=shape) * n_cls_scale
    n_cls = shape[axis]
    lshape = tuple(d for i, d in enumerate(shape) if i != axis % len(shape))
    y = r.integers(0, n_cls, size=lshape)
    return x, y


def rand_probs(seed, shape, axis, soft=False, scale=1.5):
    r = rng(seed)
    z = r.normal(size=shape) * scale
    p = np.exp(z) / np.exp(z).sum(axis, keepdims=True)
    if soft:
        t = r.uniform(size=shape)
        t = t / t.sum(axis, keepdims=True)
    else:
        y = r.integers(
            0, shape[axis], size=tuple(d for i, d in enumerate(shape) if i != axis % len(shape))
        )
        t = np.moveaxis(np.eye(shape[axis])[y], -1, axis)
    return p, t


SHAPES = [((6, 5), -1), ((3, 4, 2), 1)]

# sparse losses: (fn, reference(x_last, y, **opts), options)
SPARSE = {
    "focal": (jaxloss.softmax_focal_loss, ref_softmax_focal, dict(gamma=2.0)),
    "focal_g05_alpha_vec": (
        jaxloss.softmax_focal_loss,
        ref_softmax_focal,
        dict(gamma=0.5, alpha="vec"),
    ),
    "focal_alpha_scalar": (
        jaxloss.softmax_focal_loss,
        ref_softmax_focal,
        dict(gamma=1.5, alpha=0.25),
    ),
    "poly1": (jaxloss.poly1_cross_entropy, ref_poly1, dict(epsilon=1.0)),
    "poly1_neg": (jaxloss.poly1_cross_entropy, ref_poly1, dict(epsilon=-0.7)),
    "cs_hinge": (jaxloss.multiclass_hinge_loss, ref_cs_hinge, dict(margin=1.0)),
    "cs_hinge_m2": (jaxloss.multiclass_hinge_loss, ref_cs_hinge, dict(margin=2.5)),
    "multi_margin_p1": (jaxloss.multi_margin_loss, ref_multi_margin, dict(p=1, margin=1.0)),
    "multi_margin_p2_w": (
        jaxloss.multi_margin_loss,
        ref_multi_margin,
        dict(p=2, margin=0.7, class_weights="vec"),
    ),
}


def _opts(opts, n_cls, seed=7):
    """Materialises the "vec" placeholders as per-class vectors; returns (jax opts, ref opts)."""
    jopts, ropts = {}, {}
    for k, v in opts.items():
        if isinstance(v, str) and v == "vec":
            v = rng(seed).uniform(0.2, 2.0, size=n_cls)
        jopts[k] = jnp.asarray(v) if isinstance(v, np.ndarray) else v
        ropts["w" if k == "class_weights" else k] = v
    return jopts, ropts


@pytest.mark.parametrize("case", list(SPARSE))
@pytest.mark.parametrize("shape,axis", SHAPES)
def test_sparse_values_match_numpy(case, shape, axis):
    fn, ref, opts = SPARSE[case]
    x, y = rand_case(10 * list(SPARSE).index(case) + len(shape) + axis, shape, axis)
    jopts, ropts = _opts(opts, shape[axis])
    want = ref(moved(x, axis), y, **ropts)
    got = fn(jnp.asarray(x), jnp.asarray(y), axis=axis, reduction="none", **jopts)
    assert got.shape == y.shape and got.dtype == jnp.float64
    assert_close(got, want)
    r = rng(3)
    w = r.uniform(0.5, 2.0, size=y.shape)
    m = r.uniform(size=y.shape) > 0.3
    for red in ("mean", "sum"):
        got = fn(
            jnp.asarray(x),
            jnp.asarray(y),
            axis=axis,
            weights=jnp.asarray(w),
            where=jnp.asarray(m),
            reduction=red,
            **jopts,
        )
        assert_close(got, reduce_ref(want, w, m, red))


@pytest.mark.parametrize("shape,axis", SHAPES[:2])
@pytest.mark.parametrize("soft", [False, True])
@pytest.mark.parametrize("gamma,alpha", [(2.0, None), (0.5, 0.25), (1.0, "vec")])
def test_categorical_focal_matches_numpy(shape, axis, soft, gamma, alpha):
    p, t = rand_probs(11, shape, axis, soft)
    jopts, ropts = _opts(dict(gamma=gamma, alpha=alpha), shape[axis])
    want = ref_categorical_focal(moved(p, axis), moved(t, axis), **ropts)
    got = jaxloss.categorical_focal_loss(
        jnp.asarray(p), jnp.asarray(t), axis=axis, reduction="none", **jopts
    )
    assert_close(got, want)
    assert_close(
        jaxloss.categorical_focal_loss(jnp.asarray(p), jnp.asarray(t), axis=axis, **jopts),
        want.mean(),
    )


# ----------------------------------------------------------------------------------------------
# PyTorch and optax oracles
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "p,margin,weighted", [(1, 1.0, False), (2, 1.0, False), (1, 0.3, True), (2, 2.0, True)]
)
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_multi_margin_matches_torch(p, margin, weighted, reduction):
    torch = torch_or_skip()
    F = torch.nn.functional
    x, y = rand_case(5, (6, 5), -1, n_cls_scale=0.7)
    w = rng(9).uniform(0.2, 3.0, size=5) if weighted else None
    xt = to_torch(x, torch).requires_grad_(True)
    out_t = F.multi_margin_loss(
        xt,
        to_torch(y, torch),
        p=p,
        margin=margin,
        weight=None if w is None else to_torch(w, torch),
        reduction=reduction,
    )
    (out_t.sum()).backward()

    def f(z):
        return jaxloss.multi_margin_loss(
            z,
            jnp.asarray(y),
            p=p,
            margin=margin,
            class_weights=None if w is None else jnp.asarray(w),
            reduction=reduction,
        )

    assert_close(f(jnp.asarray(x)), out_t.detach().numpy())
    assert_close(jax.grad(lambda z: jnp.sum(f(z)))(jnp.asarray(x)), xt.grad.numpy())
    # the registry's PyTorch name is the same function
    assert jaxloss.get("MultiMarginLoss") is jaxloss.multi_margin_loss


def test_multi_margin_weighted_mean_divides_by_n_like_torch():
    torch = torch_or_skip()
    x, y = rand_case(6, (6, 5), -1)
    w = np.array([0.1, 5.0, 1.0, 2.0, 0.3])
    got = jaxloss.multi_margin_loss(jnp.asarray(x), jnp.asarray(y), class_weights=jnp.asarray(w))
    per = ref_multi_margin(x, y, w=w)
    assert_close(got, per.sum() / 6)  # not / Σ w[y]
    want = torch.nn.functional.multi_margin_loss(
        to_torch(x, torch), to_torch(y, torch), weight=to_torch(w, torch)
    )
    assert_close(got, want.numpy())


@pytest.mark.parametrize("ignore_index", [None, 2])
def test_gamma0_and_epsilon0_equal_torch_cross_entropy(ignore_index):
    torch = torch_or_skip()
    F = torch.nn.functional
    x, y = rand_case(12, (3, 4, 5), 1)  # (N, C, d) — torch's class axis is 1
    xt = to_torch(x, torch).requires_grad_(True)
    kw = {} if ignore_index is None else dict(ignore_index=ignore_index)
    ce_t = F.cross_entropy(xt, to_torch(y, torch), **kw)
    ce_t.backward()
    for fn, opt in (
        (jaxloss.softmax_focal_loss, dict(gamma=0.0)),
        (jaxloss.poly1_cross_entropy, dict(epsilon=0.0)),
    ):
        f = lambda z: fn(z, jnp.asarray(y), axis=1, ignore_index=ignore_index, **opt)  # noqa: E731
        assert_close(f(jnp.asarray(x)), ce_t.detach().numpy())
        assert_close(jax.grad(f)(jnp.asarray(x)), xt.grad.numpy())


def test_focal_alpha_vector_gamma0_is_torch_weighted_ce_per_example():
    torch = torch_or_skip()
    x, y = rand_case(13, (6, 5), -1)
    a = np.array([0.5, 2.0, 1.0, 0.25, 1.5])
    want = torch.nn.functional.cross_entropy(
        to_torch(x, torch), to_torch(y, torch), weight=to_torch(a, torch), reduction="none"
    ).numpy()
    got = jaxloss.softmax_focal_loss(
        jnp.asarray(x), jnp.asarray(y), gamma=0.0, alpha=jnp.asarray(a), reduction="none"
    )
    assert_close(got, want)
    # alpha is a factor, not a weight of the mean: "mean" divides by N (documented)
    got_mean = jaxloss.softmax_focal_loss(
        jnp.asarray(x), jnp.asarray(y), gamma=0.0, alpha=jnp.asarray(a)
    )
    assert_close(got_mean, want.mean())


def test_poly1_matches_optax_and_focal_gamma0_matches_optax_ce():
    import optax

    x, y = rand_case(14, (6, 5), -1)
    onehot = jnp.asarray(np.eye(5)[y])
    for eps in (1.0, 2.0, -0.5):
        want = optax.losses.poly_loss_cross_entropy(jnp.asarray(x), onehot, epsilon=eps)
        got = jaxloss.poly1_cross_entropy(
            jnp.asarray(x), jnp.asarray(y), epsilon=eps, reduction="none"
        )
        assert_close(got, want)
    want = optax.losses.softmax_cross_entropy(jnp.asarray(x), onehot)
    assert_close(
        jaxloss.softmax_focal_loss(jnp.asarray(x), jnp.asarray(y), gamma=0.0, reduction="none"),
        want,
    )


# ----------------------------------------------------------------------------------------------
# gradients
# ----------------------------------------------------------------------------------------------


def _naive_focal(x, y, gamma):
    # plain jnp re-implementation (not jaxloss): −(1 − p)^γ log p
    lp = jnp.take_along_axis(jax.nn.log_softmax(x, -1), y[..., None], -1)[..., 0]
    return jnp.mean(-((1 - jnp.exp(lp)) ** gamma) * lp)


def _naive_poly(x, y, eps):
    lp = jnp.take_along_axis(jax.nn.log_softmax(x, -1), y[..., None], -1)[..., 0]
    return jnp.mean(-lp + eps * (1 - jnp.exp(lp)))


@pytest.mark.parametrize("gamma", [0.0, 0.5, 3.7])
def test_focal_grad_matches_naive_and_finite_differences(gamma):
    x, y = rand_case(21, (6, 5), -1)
    xj, yj = jnp.asarray(x), jnp.asarray(y)
    f = lambda z, g: jaxloss.softmax_focal_loss(z, yj, gamma=g)  # noqa: E731
    gx, gg = jax.grad(f, argnums=(0, 1))(xj, jnp.asarray(gamma))
    nx_, ng_ = jax.grad(_naive_focal, argnums=(0, 2))(xj, yj, jnp.asarray(gamma))
    assert_close(gx, nx_)
    assert_close(gg, ng_)
    if gamma == 0.5:  # the hard case (γ < 1); γ = 0 would step below 0 in a finite difference
        # check_grads (both modes, every order-2 combination): the slow test below
        fd_check_order2(f, (x, gamma), rtol=1e-5, atol=1e-5)


@pytest.mark.slow
def test_focal_check_grads_order2():
    x, y = rand_case(21, (6, 5), -1)
    yj = jnp.asarray(y)
    grads_f64(jax.jit(lambda z, g: jaxloss.softmax_focal_loss(z, yj, gamma=g)), (x, 0.5), order=2)


def test_poly1_and_categorical_focal_grads():
    x, y = rand_case(22, (6, 5), -1)
    xj, yj = jnp.asarray(x), jnp.asarray(y)
    g = jax.grad(lambda z, e: jaxloss.poly1_cross_entropy(z, yj, epsilon=e), argnums=(0, 1))(
        xj, jnp.asarray(0.8)
    )
    n = jax.grad(_naive_poly, argnums=(0, 2))(xj, yj, jnp.asarray(0.8))
    assert_close(g[0], n[0])
    assert_close(g[1], n[1])
    # check_grads (both modes, every order-2 combination) of both losses: the slow test below
    fd_check_order2(
        lambda z, e: jaxloss.poly1_cross_entropy(z, yj, epsilon=e), (x, 0.8), rtol=1e-5, atol=1e-5
    )

    p, t = rand_probs(23, (6, 5), -1, soft=True)
    a = jnp.asarray([0.5, 1.0, 2.0, 0.3, 1.2])

    def naive(q, gm):
        return jnp.mean(-jnp.sum(a[None, :] * t * (1 - q) ** gm * jnp.log(q), -1))

    g = jax.grad(
        lambda q, gm: jaxloss.categorical_focal_loss(q, jnp.asarray(t), gamma=gm, alpha=a),
        argnums=(0, 1),
    )(jnp.asarray(p), jnp.asarray(1.5))
    n = jax.grad(naive, argnums=(0, 1))(jnp.asarray(p), jnp.asarray(1.5))
    assert_close(g[0], n[0])
    assert_close(g[1], n[1])
    # finite differences of log p need p away from 0 (third derivative ~ 1/p³)
    p_fd, _ = rand_probs(24, (6, 5), -1, scale=0.3)
    fd_check_order2(
        lambda q, gm: jaxloss.categorical_focal_loss(q, jnp.asarray(t), gamma=gm, alpha=a),
        (p_fd, 1.5),
        rtol=1e-5,
        atol=1e-5,
    )


@pytest.mark.slow
def test_poly1_and_categorical_focal_check_grads_order2():
    x, y = rand_case(22, (6, 5), -1)
    yj = jnp.asarray(y)
    grads_f64(
        jax.jit(lambda z, e: jaxloss.poly1_cross_entropy(z, yj, epsilon=e)), (x, 0.8), order=2
    )
    _, t = rand_probs(23, (6, 5), -1, soft=True)
    a = jnp.asarray([0.5, 1.0, 2.0, 0.3, 1.2])
    p_fd, _ = rand_probs(24, (6, 5), -1, scale=0.3)
    grads_f64(
        jax.jit(lambda q, gm: jaxloss.categorical_focal_loss(q, jnp.asarray(t), gamma=gm, alpha=a)),
        (p_fd, 1.5),
        order=2,
    )


def test_hinge_family_grads_match_finite_differences():
    # piecewise linear (p=1) or quadratic (p=2): first order, away from the kinks
    x, y = rand_case(24, (6, 5), -1)
    yj = jnp.asarray(y)
    w = jnp.asarray([1.0, 0.5, 2.0, 1.5, 0.7])
    grads_f64(
        jax.jit(lambda z, m: jaxloss.multiclass_hinge_loss(z, yj, margin=m)), (x, 1.3), order=1
    )
    grads_f64(
        jax.jit(lambda z, m: jaxloss.multi_margin_loss(z, yj, margin=m, p=1, class_weights=w)),
        (x, 1.3),
        order=1,
    )
    # check_grads to order 2 (both modes): the slow test below
    fd_check_order2(
        lambda z, m: jaxloss.multi_margin_loss(z, yj, margin=m, p=2, class_weights=w),
        (x, 1.3),
        rtol=1e-5,
        atol=1e-5,
    )
    t = jnp.asarray(np.eye(5)[y])
    grads_f64(jax.jit(lambda z: jaxloss.get("categorical_hinge")(z, t)), (x,), order=1)


@pytest.mark.slow
def test_squared_multi_margin_check_grads_order2():
    x, y = rand_case(24, (6, 5), -1)
    yj = jnp.asarray(y)
    w = jnp.asarray([1.0, 0.5, 2.0, 1.5, 0.7])
    grads_f64(
        jax.jit(lambda z, m: jaxloss.multi_margin_loss(z, yj, margin=m, p=2, class_weights=w)),
        (x, 1.3),
        order=2,
    )


# ----------------------------------------------------------------------------------------------
# jit / vmap
# ----------------------------------------------------------------------------------------------


def test_jit_and_vmap_over_batch_equal_python_loop():
    x, y = rand_case(31, (6, 5), -1)
    xj, yj = jnp.asarray(x), jnp.asarray(y)
    for fn in (
        jaxloss.softmax_focal_loss,
        jaxloss.poly1_cross_entropy,
        jaxloss.multiclass_hinge_loss,
        jaxloss.multi_margin_loss,
    ):
        loop = jnp.stack([fn(xj[i], yj[i]) for i in range(6)])
        assert_close(jax.vmap(fn)(xj, yj), loop)
        assert_close(jax.jit(fn)(xj, yj), fn(xj, yj))
    p, t = rand_probs(32, (6, 5), -1)
    for fn, z in (
        (jaxloss.categorical_focal_loss, p),
        (jaxloss.get("categorical_focal_crossentropy"), p),
        (jaxloss.get("categorical_hinge"), x),
    ):
        loop = jnp.stack([fn(jnp.asarray(z[i]), jnp.asarray(t[i])) for i in range(6)])
        assert_close(jax.vmap(fn)(jnp.asarray(z), jnp.asarray(t)), loop)
        assert_close(
            jax.jit(fn)(jnp.asarray(z), jnp.asarray(t)), fn(jnp.asarray(z), jnp.asarray(t))
        )


def test_vmap_over_hyperparameters_equals_loop():
    x, y = rand_case(33, (6, 5), -1)
    xj, yj = jnp.asarray(x), jnp.asarray(y)
    p, t = rand_probs(34, (6, 5), -1, soft=True)
    pj, tj = jnp.asarray(p), jnp.asarray(t)
    sweeps = {
        "focal gamma": (lambda g: jaxloss.softmax_focal_loss(xj, yj, gamma=g), [0.0, 0.5, 2.0]),
        "focal alpha": (lambda a: jaxloss.softmax_focal_loss(xj, yj, alpha=a), [0.25, 1.0, 3.0]),
        "focal alpha vec": (
            lambda a: jaxloss.softmax_focal_loss(xj, yj, alpha=a),
            [[1.0, 2.0, 0.5, 0.1, 1.0], [0.3, 0.3, 0.3, 3.0, 0.1]],
        ),
        "cat focal gamma": (
            lambda g: jaxloss.categorical_focal_loss(pj, tj, gamma=g),
            [0.0, 0.5, 2.0],
        ),
        "cat focal alpha": (
            lambda a: jaxloss.categorical_focal_loss(pj, tj, alpha=a),
            [[1.0, 2.0, 0.5, 0.1, 1.0], [2.0, 1.0, 1.0, 1.0, 0.0]],
        ),
        "poly epsilon": (
            lambda e: jaxloss.poly1_cross_entropy(xj, yj, epsilon=e),
            [-1.0, 0.0, 2.0],
        ),
        "hinge margin": (
            lambda m: jaxloss.multiclass_hinge_loss(xj, yj, margin=m),
            [0.0, 1.0, 3.0],
        ),
        "mm margin": (lambda m: jaxloss.multi_margin_loss(xj, yj, margin=m, p=2), [0.0, 1.0, 3.0]),
        "mm class_weights": (
            lambda w: jaxloss.multi_margin_loss(xj, yj, class_weights=w),
            [[1.0, 2.0, 0.5, 0.1, 1.0], [0.3, 0.3, 0.3, 3.0, 0.1]],
        ),
    }
    for name, (f, vals) in sweeps.items():
        vals = jnp.asarray(vals, jnp.float64)
        assert_close(jax.vmap(f)(vals), jnp.stack([f(v) for v in vals]), err_msg=name)


# ----------------------------------------------------------------------------------------------
# reductions, masking, ignore_index, invalid labels
# ----------------------------------------------------------------------------------------------

SPARSE_FNS = [
    jaxloss.softmax_focal_loss,
    jaxloss.poly1_cross_entropy,
    jaxloss.multiclass_hinge_loss,
    jaxloss.multi_margin_loss,
]


@pytest.mark.parametrize("fn", SPARSE_FNS, ids=lambda f: f.__name__)
def test_all_masked_is_exact_zero_with_zero_grad(fn):
    x, y = rand_case(41, (6, 5), -1)
    m = jnp.zeros(6, bool)
    f = lambda z: fn(z, jnp.asarray(y), where=m)  # noqa: E731
    assert float(f(jnp.asarray(x))) == 0.0
    assert np.all(np.asarray(jax.grad(f)(jnp.asarray(x))) == 0.0)
    none = fn(
        jnp.asarray(x),
        jnp.asarray(y),
        where=jnp.asarray([True, False, True, True, True, True]),
        reduction="none",
    )
    assert float(none[1]) == 0.0 and float(none[0]) != 0.0


def test_categorical_focal_all_masked_and_none_zeros():
    p, t = rand_probs(42, (6, 5), -1)
    m = jnp.zeros(6, bool)
    f = lambda q: jaxloss.categorical_focal_loss(q, jnp.asarray(t), where=m)  # noqa: E731
    assert float(f(jnp.asarray(p))) == 0.0
    assert np.all(np.asarray(jax.grad(f)(jnp.asarray(p))) == 0.0)


@pytest.mark.parametrize(
    "fn,ref",
    [(jaxloss.softmax_focal_loss, ref_softmax_focal), (jaxloss.poly1_cross_entropy, ref_poly1)],
)
def test_ignore_index_drops_examples_from_value_grad_and_normaliser(fn, ref):
    x, y = rand_case(43, (6, 5), -1)
    y = y.copy()
    y[[1, 4]] = -100
    x[1, 0] = -np.inf  # an ignored row whose (stand-in) class 0 is masked: still finite
    keep = y != -100
    xj, yj = jnp.asarray(x), jnp.asarray(y)
    want = ref(x[keep], y[keep])
    none = fn(xj, yj, ignore_index=-100, reduction="none")
    assert np.all(np.asarray(none)[~keep] == 0.0)
    assert_close(np.asarray(none)[keep], want)
    w = rng(1).uniform(0.5, 2.0, size=6)
    assert_close(
        fn(xj, yj, ignore_index=-100, weights=jnp.asarray(w)),
        (w[keep] * want).sum() / w[keep].sum(),
    )
    g = jax.grad(lambda z: fn(z, yj, ignore_index=-100))(xj)
    assert_finite(g)
    assert np.all(np.asarray(g)[~keep] == 0.0)
    # all ignored: exactly 0 with zero gradient
    yall = jnp.full((6,), -100)
    assert float(fn(xj, yall, ignore_index=-100)) == 0.0
    assert np.all(np.asarray(jax.grad(lambda z: fn(z, yall, ignore_index=-100))(xj)) == 0.0)


@pytest.mark.parametrize("fn", SPARSE_FNS, ids=lambda f: f.__name__)
def test_out_of_range_labels_give_nan_value_but_finite_masked_grad(fn):
    x, y = rand_case(44, (6, 5), -1)
    y = y.copy()
    y[4] = 7
    y[5] = -1
    xj, yj = jnp.asarray(x), jnp.asarray(y)
    none = np.asarray(fn(xj, yj, reduction="none"))
    assert np.all(np.isnan(none[4:])) and np.all(np.isfinite(none[:4]))
    m = jnp.asarray([True, True, True, True, False, False])
    assert np.isfinite(float(fn(xj, yj, where=m)))
    g = jax.grad(lambda z: fn(z, yj, where=m))(xj)
    assert_finite(g)
    assert np.all(np.asarray(g)[4:] == 0.0)


# ----------------------------------------------------------------------------------------------
# edge cases of API.md §1
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [jnp.float32, jnp.float64])
def test_focal_finite_gradients_as_p_y_goes_to_one(dtype):
    # p_y exactly 1 (1e4 gap, or a single finite class), p_y = 1 − tiny, and a hopeless row
    # (p_y = 0)
    x = jnp.asarray(
        [
            [1e4, -1e4, 0.0],
            [0.0, -jnp.inf, -jnp.inf],
            [50.0, 0.0, 0.0],
            [100.0, 0.0, -jnp.inf],
            [-1e4, 1e4, 0.0],
            [9.0, 0.0, -2.0],
        ],
        dtype,
    )
    y = jnp.asarray([0, 0, 0, 0, 0, 0])
    f = lambda z, g: jaxloss.softmax_focal_loss(z, y, gamma=g, reduction="none")  # noqa: E731

    @jax.jit
    def all_derivatives(z, g):
        total = lambda z_, g_: jnp.sum(f(z_, g_))  # noqa: E731
        return (
            f(z, g),
            jax.grad(total, argnums=(0, 1))(z, g),
            jax.jvp(total, (z, g), (jnp.ones_like(z), jnp.ones_like(g)))[1],
        )

    for gamma in (0.0, 0.3, 1.0, 2.0):
        val, (gx, gg), tangent = all_derivatives(x, jnp.asarray(gamma, dtype))
        assert_finite((val, gx, gg, tangent), f"gamma={gamma}")
        # the hopeless row: loss 2e4 and d/dz = −(e_y − softmax) = (−1, 1, 0) for every γ
        assert_close(gx[4], [-1.0, 1.0, 0.0], dtype=np.float32)
        assert float(gx[1, 1]) == 0.0 and float(gx[1, 2]) == 0.0
        # rows 0–3 have p_y = 1 up to rounding: their loss is 0 up to (1 − p_y)^(γ+1) < 1e-20
        assert np.all(np.asarray(val[:4]) >= 0) and np.all(np.asarray(val[:4]) < 1e-20)
        # an ordinary row follows the formula (float64 reference on the same values)
        lp = np_log_softmax(np.asarray(x[5:], np.float64))[0, 0]
        assert_close(val[5], -((1 - np.exp(lp)) ** gamma) * lp, dtype=dtype)


def test_focal_and_poly_masked_vocabulary_value_grad_jvp_hessian_finite():
    x = jnp.asarray(
        [[0.5, -jnp.inf, 2.0, 1e4], [1e4, -1e4, -jnp.inf, 0.0], [-jnp.inf, 0.3, 0.1, -jnp.inf]]
    )
    y = jnp.asarray([2, 0, 1])
    for f in (
        lambda z: jaxloss.softmax_focal_loss(z, y, gamma=2.0),
        lambda z: jaxloss.softmax_focal_loss(z, y, gamma=0.0, alpha=0.5),
        lambda z: jaxloss.poly1_cross_entropy(z, y, epsilon=-1.0),
        lambda z: jaxloss.multiclass_hinge_loss(z, y),
        lambda z: jaxloss.multi_margin_loss(z, y, p=2),
    ):
        assert_finite(
            jax.jit(
                lambda z: (
                    f(z),
                    jax.grad(f)(z),
                    jax.jvp(f, (z,), (jnp.ones_like(z),)),
                    jax.jit(jax.hessian(f))(z),
                )
            )(x)
        )
    # -inf logits are exact: they equal dropping the class
    xs = np.array([[0.5, 2.0, 1.3]])
    xm = jnp.asarray([[0.5, -jnp.inf, 2.0, 1.3]])
    assert_close(
        jaxloss.softmax_focal_loss(xm, jnp.asarray([2])),
        ref_softmax_focal(xs, np.array([1])).mean(),
    )
    assert_close(
        jaxloss.poly1_cross_entropy(xm, jnp.asarray([2])), ref_poly1(xs, np.array([1])).mean()
    )
    assert_close(
        jaxloss.multiclass_hinge_loss(xm, jnp.asarray([2])), ref_cs_hinge(xs, np.array([1])).mean()
    )


def test_categorical_focal_probabilities_exactly_zero_and_one():
    p = jnp.asarray([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.5, 0.5, 0.0]])
    t = jnp.asarray([[1.0, 0.0, 0.0], [1.0, 0.0, 0.0], [0.3, 0.3, 0.4]])
    f = lambda q, g: jaxloss.categorical_focal_loss(q, t, gamma=g, reduction="sum")  # noqa: E731
    derivs = jax.jit(
        lambda q, g: (
            f(q, g),
            jax.grad(f, argnums=(0, 1))(q, g),
            jax.jvp(f, (q, g), (jnp.ones_like(q), jnp.ones_like(g)))[1],
        )
    )
    hess = jax.jit(jax.hessian(f))
    for gamma in (0.0, 0.5, 2.0):
        val, (g, g_gamma), tangent = derivs(p, jnp.asarray(gamma))
        assert_finite((val, g, g_gamma, tangent))
        # row 0: 0; row 1: −log 0 → 100; row 2: −Σ t (1−p)^γ log p with log 0 → −100
        row2 = -(0.3 * 0.5**gamma * np.log(0.5)) * 2 + 0.4 * 100.0
        assert_close(val, 100.0 + row2)
        # at p = 1 the derivative is −t for γ = 0 and 0 for γ > 0 (the limit of −(1−p)^γ log p)
        assert float(g[0, 0]) == (-1.0 if gamma == 0.0 else 0.0)
        if gamma != 0.5:  # (1 − p)^0.5 is not twice differentiable at p = 1
            assert_finite(hess(p, jnp.asarray(gamma)))


def test_edge_cases_under_debug_nans():
    with debug_nans():
        x = jnp.asarray([[1e4, -1e4, -jnp.inf], [0.0, 0.0, -jnp.inf]])
        y = jnp.asarray([0, 1])
        jax.grad(lambda z: jaxloss.softmax_focal_loss(z, y, gamma=0.5))(x).block_until_ready()
        jax.grad(lambda z: jaxloss.poly1_cross_entropy(z, y))(x).block_until_ready()
        p = jnp.asarray([[1.0, 0.0, 0.0]])
        t = jnp.asarray([[0.0, 1.0, 0.0]])
        jax.grad(lambda q: jaxloss.categorical_focal_loss(q, t, gamma=0.5))(p).block_until_ready()
        jax.grad(lambda q: jaxloss.get("categorical_focal_crossentropy")(q, t))(
            p
        ).block_until_ready()
        jax.grad(lambda z: jaxloss.softmax_focal_loss(z, y, where=jnp.zeros(2, bool)))(
            x
        ).block_until_ready()


@pytest.mark.parametrize("half", [jnp.bfloat16, jnp.float16])
def test_half_precision_inputs_compute_in_float32(half):
    x, y = rand_case(51, (6, 5), -1)
    xh = jnp.asarray(x, half)
    x64 = np.asarray(xh.astype(jnp.float64))  # the same rounded values
    yj = jnp.asarray(y)
    cases = [
        (jaxloss.softmax_focal_loss, ref_softmax_focal),
        (jaxloss.poly1_cross_entropy, ref_poly1),
        (jaxloss.multiclass_hinge_loss, ref_cs_hinge),
        (jaxloss.multi_margin_loss, ref_multi_margin),
    ]
    for fn, ref in cases:
        # jitted: one compiled program per loss and dtype instead of one per primitive
        out = jax.jit(fn)(xh, yj)
        assert out.dtype == jnp.float32
        assert_close(out, ref(x64, y).mean(), dtype=np.float32)
        grad = jax.jit(jax.grad(lambda z, fn=fn: fn(z, yj)))
        g = grad(xh)
        assert g.dtype == half
        g64 = grad(jnp.asarray(x64))
        assert_close(g.astype(jnp.float64), g64, rtol=1e-2, atol=1e-2)
    p, t = rand_probs(52, (6, 5), -1)
    ph = jnp.asarray(p, half)
    out = jaxloss.categorical_focal_loss(ph, jnp.asarray(t))
    assert out.dtype == jnp.float32
    assert_close(
        out, ref_categorical_focal(np.asarray(ph.astype(jnp.float64)), t).mean(), dtype=np.float32
    )
    assert jax.grad(lambda q: jaxloss.categorical_focal_loss(q, jnp.asarray(t)))(ph).dtype == half


def test_float32_stays_float32():
    x, y = rand_case(53, (6, 5), -1)
    for fn in SPARSE_FNS:
        assert fn(jnp.asarray(x, jnp.float32), jnp.asarray(y)).dtype == jnp.float32


# ----------------------------------------------------------------------------------------------
# trace-time errors
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("fn", SPARSE_FNS, ids=lambda f: f.__name__)
def test_sparse_errors(fn):
    name = fn.__name__
    x = jnp.zeros((3, 4))
    y = jnp.asarray([0, 1, 2])
    with pytest.raises(TypeError, match=f"{name}: 'labels'"):
        fn(x, jnp.zeros(3))
    with pytest.raises(ValueError, match=f"{name}: 'labels'"):
        fn(x, jnp.asarray([0, 1]))
    with pytest.raises(ValueError, match=f"{name}: 'axis'"):
        fn(x, y, axis=2)
    with pytest.raises(ValueError, match=f"{name}: 'reduction'"):
        fn(x, y, reduction="avg")
    with pytest.raises(ValueError, match=f"{name}: 'weights'"):
        fn(x, y, weights=jnp.ones(4))
    with pytest.raises(TypeError, match=f"{name}: 'where'"):
        fn(x, y, where=jnp.ones(3))


def test_hyperparameter_errors():
    x = jnp.zeros((3, 4))
    y = jnp.asarray([0, 1, 2])
    p = jnp.full((3, 4), 0.25)
    with pytest.raises(ValueError, match="softmax_focal_loss: 'gamma'"):
        jaxloss.softmax_focal_loss(x, y, gamma=-1.0)
    with pytest.raises(ValueError, match="softmax_focal_loss: 'alpha'"):
        jaxloss.softmax_focal_loss(x, y, alpha=jnp.ones(3))
    with pytest.raises(ValueError, match="categorical_focal_loss: 'alpha'"):
        jaxloss.categorical_focal_loss(p, p, alpha=jnp.ones(5))
    with pytest.raises(ValueError, match="categorical_focal_loss: 'probabilities' and 'targets'"):
        jaxloss.categorical_focal_loss(p, p[:2])
    with pytest.raises(ValueError, match="categorical_focal_loss: 'gamma'"):
        jaxloss.categorical_focal_loss(p, p, gamma=-0.5)
    with pytest.raises(ValueError, match="poly1_cross_entropy: 'epsilon'"):
        jaxloss.poly1_cross_entropy(x, y, epsilon=-1.5)
    with pytest.raises(ValueError, match="multiclass_hinge_loss: 'margin'"):
        jaxloss.multiclass_hinge_loss(x, y, margin=-1.0)
    with pytest.raises(ValueError, match="multi_margin_loss: 'margin'"):
        jaxloss.multi_margin_loss(x, y, margin=-1.0)
    with pytest.raises(ValueError, match="multi_margin_loss: 'p'"):
        jaxloss.multi_margin_loss(x, y, p=3)
    with pytest.raises(ValueError, match="multi_margin_loss: 'class_weights'"):
        jaxloss.multi_margin_loss(x, y, class_weights=jnp.ones(3))
    with pytest.raises(ValueError, match="categorical_hinge: 'scores' and 'targets'"):
        jaxloss.get("categorical_hinge")(x, x[:, :2])
    # negative values are checked only when concrete: a traced gamma passes
    jax.jit(lambda g: jaxloss.softmax_focal_loss(x, y, gamma=g))(-1.0)


# ----------------------------------------------------------------------------------------------
# registry aliases and library semantics
# ----------------------------------------------------------------------------------------------


def test_aliases_resolve():
    for alias in (
        "softmax_focal_loss",
        "sparse_focal_loss",
        "categorical_focal_loss",
        "categorical_focal_crossentropy",
        "focal_loss",
        "poly1_cross_entropy",
        "poly_loss",
        "multiclass_hinge_loss",
        "categorical_hinge",
        "multi_margin_loss",
        "MultiMarginLoss",
        "multimarginloss",
        "POLY_LOSS",
    ):
        assert callable(jaxloss.get(alias))
    assert jaxloss.get("sparse_focal_loss") is jaxloss.softmax_focal_loss
    assert jaxloss.get("poly_loss") is jaxloss.poly1_cross_entropy
    assert jaxloss.get("focal_loss") is jaxloss.categorical_focal_loss


def test_keras_categorical_focal_crossentropy():
    f = jaxloss.get("categorical_focal_crossentropy")
    # Keras' own docstring example (keras.losses.categorical_focal_crossentropy)
    y_true = jnp.asarray([[0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
    y_pred = jnp.asarray([[0.05, 0.9, 0.05], [0.1, 0.85, 0.05]])
    assert_close(
        f(y_pred, y_true, reduction="none"), [2.63401289e-04, 6.75912094e-01], rtol=1e-6, atol=0
    )
    # unnormalised probabilities, exact 0 and 1, soft targets, axis 0
    p = np.array([[0.2, 0.6, 0.0], [1.0, 0.3, 0.5], [0.0, 0.1, 0.5]])  # columns are examples
    t = np.array([[0.0, 0.5, 0.0], [1.0, 0.5, 0.0], [0.0, 0.0, 1.0]])
    want = ref_keras_cfc(p.T, t.T)
    assert_close(f(jnp.asarray(p), jnp.asarray(t), axis=0, reduction="none"), want)
    assert_close(
        f(jnp.asarray(p), jnp.asarray(t), axis=0, alpha=1.0, gamma=0.5, reduction="none"),
        ref_keras_cfc(p.T, t.T, alpha=1.0, gamma=0.5),
    )
    assert_finite(jax.grad(lambda q: f(q, jnp.asarray(t), axis=0))(jnp.asarray(p)))


def test_flux_focal_loss_has_no_alpha():
    f = jaxloss.get("focal_loss")
    p, t = rand_probs(61, (6, 5), -1)
    # Flux: sum(-y .* (1 .- ŷ).^γ .* log.(ŷ); dims) with γ = 2, mean over the batch
    want = (-(t * (1 - p) ** 2 * np.log(p))).sum(-1).mean()
    assert_close(f(jnp.asarray(p), jnp.asarray(t)), want)


def test_keras_categorical_hinge_differs_from_crammer_singer():
    kh = jaxloss.get("categorical_hinge")
    x, y = rand_case(62, (6, 5), -1)
    x = x.copy()
    x[0] = [
        0.5,
        -1.0,
        -2.0,
        -0.3,
        -0.8,
    ]  # every other score negative: Keras' max picks the zeroed true class
    y[0] = 0
    t = np.eye(5)[y]
    got = kh(jnp.asarray(x), jnp.asarray(t), reduction="none")
    assert_close(got, ref_keras_hinge(x, t))
    assert_close(got[0], 0.5)
    assert_close(
        jaxloss.multiclass_hinge_loss(jnp.asarray(x), jnp.asarray(y), reduction="none")[0], 0.2
    )
    # where some other score is positive, the two agree
    pos_other = np.array([np.delete(x[i], y[i]).max() > 0 for i in range(6)])
    cs = jaxloss.multiclass_hinge_loss(jnp.asarray(x), jnp.asarray(y), reduction="none")
    assert_close(np.asarray(got)[pos_other], np.asarray(cs)[pos_other])
    # axis != -1
    assert_close(
        kh(jnp.asarray(x.T), jnp.asarray(t.T), axis=0, reduction="none"), ref_keras_hinge(x, t)
    )
