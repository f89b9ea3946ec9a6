"""Tests of the cross-entropy family (jaxloss/_cross_entropy.py)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxloss

from .helpers import (
    PAIRWISE_2x4,
    assert_close,
    assert_finite,
    debug_nans,
    fd_check_order2,
    grads_f64,
    reduce_ref,
    rng,
    tiered,
    to_torch,
    torch_or_skip,
)

sparse_ce = jaxloss.sparse_softmax_cross_entropy
soft_ce = jaxloss.softmax_cross_entropy


# ------------------------------------------------------------------------------------------------
# Independent float64 NumPy references (written plainly, one row at a time)
# ------------------------------------------------------------------------------------------------


def _rows(x, axis):
    x = np.moveaxis(np.asarray(x, np.float64), axis, -1)
    return x.reshape(-1, x.shape[-1]), x.shape[:-1]


def _lse(row):
    f = row[np.isfinite(row)]
    mx = f.max()
    return mx + np.log(np.sum(np.exp(f - mx)))


def ref_sparse(
    logits,
    labels,
    axis=-1,
    ignore_index=None,
    label_smoothing=0.0,
    class_weights=None,
    z_loss=0.0,
    logit_softcap=None,
):
    """Per-example loss and per-example normaliser term (w_y, 0 when ignored)."""
    x, shape = _rows(logits, axis)
    y = np.asarray(labels).reshape(-1)
    c = x.shape[-1]
    w = np.ones(c) if class_weights is None else np.asarray(class_weights, np.float64)
    losses, norms = [], []
    for row, lab in zip(x, y, strict=False):
        if ignore_index is not None and lab == ignore_index:
            losses.append(0.0)
            norms.append(0.0)
            continue
        if logit_softcap is not None:
            row = np.where(np.isneginf(row), row, logit_softcap * np.tanh(row / logit_softcap))
        lse = _lse(row)
        fin = np.isfinite(row)
        k = fin.sum()
        nll = lse - row[lab]
        smooth = sum(w[j] * (lse - row[j]) for j in range(c) if fin[j])
        losses.append(
            w[lab] * ((1 - label_smoothing) * nll + z_loss * lse**2) + label_smoothing / k * smooth
        )
        norms.append(w[lab])
    return np.array(losses).reshape(shape), np.array(norms).reshape(shape)


def ref_soft(logits, targets, axis=-1, label_smoothing=0.0, class_weights=None, z_loss=0.0):
    x, shape = _rows(logits, axis)
    t, _ = _rows(targets, axis)
    c = x.shape[-1]
    w = np.ones(c) if class_weights is None else np.asarray(class_weights, np.float64)
    out = []
    for row, trow in zip(x, t, strict=False):
        lse = _lse(row)
        fin = np.isfinite(row)
        k = fin.sum()
        total = 0.0
        for j in range(c):
            tj = (1 - label_smoothing) * trow[j] + (label_smoothing / k if fin[j] else 0.0)
            if fin[j]:
                total += w[j] * tj * (lse - row[j])
        out.append(total + z_loss * lse**2)
    return np.array(out).reshape(shape)


def ref_categorical(p, t, axis=-1, label_smoothing=0.0):
    p, shape = _rows(p, axis)
    t, _ = _rows(t, axis)
    t = (1 - label_smoothing) * t + label_smoothing / p.shape[-1]
    with np.errstate(divide="ignore"):
        logp = np.maximum(np.log(p), -100.0)
    return (-(t * logp).sum(-1)).reshape(shape)


def ref_pick(values, labels, axis=-1):
    v, shape = _rows(values, axis)
    y = np.asarray(labels).reshape(-1)
    return np.array([row[lab] for row, lab in zip(v, y, strict=False)]).reshape(shape)


def ref_z(logits, axis=-1):
    x, shape = _rows(logits, axis)
    return np.array([_lse(r) ** 2 for r in x]).reshape(shape)


def _logits(shape, seed=0, scale=2.0):
    return rng(seed).normal(size=shape) * scale


def _labels(shape, c, seed=1):
    return rng(seed).integers(0, c, size=shape)


def _dist(shape, axis, seed=2):
    t = rng(seed).uniform(size=shape)
    return t / t.sum(axis=axis, keepdims=True)


# Few distinct shapes keep the number of compiled programs (and the test time) small: the 3-D
# layouts put the class axis at 1 (PyTorch [B, C, T]) and at 0, both [2, 3] examples of 5 classes.
SHAPES = [((4, 5), -1), ((2, 5, 3), 1), ((5, 2, 3), 0)]


# ------------------------------------------------------------------------------------------------
# Values against the NumPy references
# ------------------------------------------------------------------------------------------------

SPARSE_OPTIONS = [
    {},
    {"label_smoothing": 0.1},
    {"class_weights": "w"},
    {"ignore_index": 1},
    {"z_loss": 0.01, "logit_softcap": 3.0},
    {
        "label_smoothing": 0.2,
        "class_weights": "w",
        "ignore_index": 0,
        "z_loss": 1e-3,
        "logit_softcap": 5.0,
    },
]


# default tier: every option set on the first layout, every layout with all options at once; the
# other (layout, options) pairs run in the slow tier
@pytest.mark.parametrize(
    "shape,axis,opts",
    tiered(
        [(s, a, o) for o in SPARSE_OPTIONS for s, a in SHAPES],
        [(*SHAPES[0], o) for o in SPARSE_OPTIONS] + [(s, a, SPARSE_OPTIONS[-1]) for s, a in SHAPES],
    ),
    ids=[f"{s}-{a}-{'-'.join(o) or 'plain'}" for o in SPARSE_OPTIONS for s, a in SHAPES],
)
def test_sparse_softmax_ce_matches_numpy(shape, axis, opts):
    x = _logits(shape)
    c = shape[axis]
    lab_shape = tuple(d for i, d in enumerate(shape) if i != axis % len(shape))
    y = _labels(lab_shape, c)
    opts = dict(opts)
    if opts.get("class_weights") == "w":
        opts["class_weights"] = rng(3).uniform(0.2, 2.0, size=c)
    loss, norm = ref_sparse(x, y, axis, **opts)
    jopts = {k: (jnp.asarray(v) if isinstance(v, np.ndarray) else v) for k, v in opts.items()}
    for reduction in ("none", "sum", "mean"):
        got = sparse_ce(jnp.asarray(x), jnp.asarray(y), axis=axis, reduction=reduction, **jopts)
        assert got.dtype == jnp.float64
        assert_close(got, reduce_ref(loss, reduction=reduction, normalizer=norm), err_msg=reduction)
    # per-example weights scale numerator and denominator; `where` drops examples
    wts = rng(4).uniform(0.5, 1.5, size=lab_shape)
    msk = rng(5).uniform(size=lab_shape) > 0.3
    got = sparse_ce(
        jnp.asarray(x),
        jnp.asarray(y),
        axis=axis,
        weights=jnp.asarray(wts),
        where=jnp.asarray(msk),
        **jopts,
    )
    assert_close(got, reduce_ref(loss, wts, msk, "mean", normalizer=norm * wts))


SOFT_OPTIONS = [
    {},
    {"label_smoothing": 0.15},
    {"class_weights": "w"},
    {"z_loss": 0.01, "label_smoothing": 0.05, "class_weights": "w"},
]


@pytest.mark.parametrize("shape,axis", SHAPES)
@pytest.mark.parametrize("opts", SOFT_OPTIONS, ids=lambda o: "-".join(o) or "plain")
def test_softmax_ce_matches_numpy(shape, axis, opts):
    x = _logits(shape)
    t = _dist(shape, axis)
    opts = dict(opts)
    if opts.get("class_weights") == "w":
        opts["class_weights"] = rng(3).uniform(0.2, 2.0, size=shape[axis])
    loss = ref_soft(x, t, axis, **opts)
    jopts = {k: (jnp.asarray(v) if isinstance(v, np.ndarray) else v) for k, v in opts.items()}
    for reduction in ("none", "sum", "mean"):
        got = soft_ce(jnp.asarray(x), jnp.asarray(t), axis=axis, reduction=reduction, **jopts)
        # soft targets: "mean" divides by the number of examples even with class weights
        assert_close(got, reduce_ref(loss, reduction=reduction), err_msg=reduction)


@pytest.mark.parametrize("shape,axis", SHAPES[:2])
def test_probability_and_log_probability_losses_match_numpy(shape, axis):
    r = rng(7)
    p = _dist(shape, axis, seed=8)
    t = _dist(shape, axis, seed=9)
    c = shape[axis]
    lab_shape = tuple(d for i, d in enumerate(shape) if i != axis % len(shape))
    y = _labels(lab_shape, c)
    for eps in (0.0, 0.1):
        got = jaxloss.categorical_cross_entropy(
            jnp.asarray(p), jnp.asarray(t), axis=axis, label_smoothing=eps, reduction="none"
        )
        assert_close(got, ref_categorical(p, t, axis, eps))
    got = jaxloss.sparse_categorical_cross_entropy(
        jnp.asarray(p), jnp.asarray(y), axis=axis, reduction="none"
    )
    assert_close(got, -np.log(ref_pick(p, y, axis)))
    lp = np.log(p)
    w = r.uniform(0.5, 2.0, size=c)
    got = jaxloss.nll_loss(jnp.asarray(lp), jnp.asarray(y), axis=axis, class_weights=jnp.asarray(w))
    wy = w[y]
    assert_close(got, np.sum(-wy * ref_pick(lp, y, axis)) / np.sum(wy))
    got = jaxloss.z_loss(jnp.asarray(p * 5), axis=axis, reduction="none")
    assert_close(got, ref_z(p * 5, axis))


def test_categorical_is_not_renormalised_and_is_finite_at_0_and_1():
    # documented choice: probabilities are used as given (Keras would divide by their sum)
    p = jnp.asarray([[0.2, 0.2, 0.1]])
    t = jnp.asarray([[1.0, 0.0, 0.0]])
    assert_close(jaxloss.categorical_cross_entropy(p, t), -np.log(0.2))
    p = jnp.asarray([[0.0, 1.0, 0.0], [1.0, 0.0, 0.0]])
    t = jnp.asarray([[1.0, 0.0, 0.0], [1.0, 0.0, 0.0]])
    f = lambda q: jaxloss.categorical_cross_entropy(q, t, label_smoothing=0.3, reduction="sum")
    assert_close(f(p), ref_categorical(np.asarray(p), np.asarray(t), -1, 0.3).sum())
    _assert_all_derivatives_finite(f, p)
    g = jax.grad(lambda q: jaxloss.sparse_categorical_cross_entropy(q, jnp.asarray([0, 0])))(p)
    assert_finite(g)
    assert_close(
        jaxloss.sparse_categorical_cross_entropy(p, jnp.asarray([0, 0]), reduction="none"),
        [100.0, 0.0],
    )


# ------------------------------------------------------------------------------------------------
# PyTorch, optax and the seed document
# ------------------------------------------------------------------------------------------------


def _torch_ce(torch, x, target, **kw):
    xt = to_torch(x, torch).requires_grad_(True)
    kw = {k: (to_torch(v, torch) if isinstance(v, np.ndarray) else v) for k, v in kw.items()}
    out = torch.nn.functional.cross_entropy(xt, to_torch(target, torch), **kw)
    out.sum().backward()
    return out.detach().numpy(), xt.grad.numpy()


TORCH_GRID = [
    (lay, w, ign, e)
    for e in (0.0, 0.2)
    for ign in (False, True)
    for w in (False, True)
    for lay in ("2d", "bct")
]
_LEVELS = (("2d", "bct"), (False, True), (False, True), (0.0, 0.2))


# default tier: a pairwise covering subset (5 of 16: every pair of option values occurs); the full
# product runs in the slow tier
@pytest.mark.parametrize(
    "layout,use_weight,use_ignore,eps",
    tiered(
        TORCH_GRID,
        [tuple(lv[i] for lv, i in zip(_LEVELS, row, strict=True)) for row in PAIRWISE_2x4],
    ),
)
def test_sparse_ce_matches_torch(layout, use_weight, use_ignore, eps):
    torch = torch_or_skip()
    shape, axis = ((4, 5), -1) if layout == "2d" else ((2, 5, 3), 1)
    x = _logits(shape)
    lab_shape = (4,) if layout == "2d" else (2, 3)
    y = _labels(lab_shape, 5)
    if use_ignore:
        y.reshape(-1)[[0, 3]] = -100
    w = rng(3).uniform(0.2, 2.0, size=shape[axis]) if use_weight else None
    for reduction in ("mean", "sum", "none"):
        kw = {"label_smoothing": eps, "reduction": reduction}
        if w is not None:
            kw["weight"] = w
        want, want_g = _torch_ce(torch, x, y, **kw)
        f = lambda z: sparse_ce(
            z,
            jnp.asarray(y),
            axis=axis,
            label_smoothing=eps,
            class_weights=None if w is None else jnp.asarray(w),
            ignore_index=-100 if use_ignore else None,
            reduction=reduction,
        )
        assert_close(f(jnp.asarray(x)), want, err_msg=reduction)
        assert_close(jax.grad(lambda z: jnp.sum(f(z)))(jnp.asarray(x)), want_g, err_msg=reduction)


@pytest.mark.parametrize("layout", ["2d", "bct"])
@pytest.mark.parametrize("use_weight", [False, True])
@pytest.mark.parametrize("eps", [0.0, 0.2])
def test_soft_ce_matches_torch_probability_targets(layout, use_weight, eps):
    torch = torch_or_skip()
    shape, axis = ((4, 5), -1) if layout == "2d" else ((2, 5, 3), 1)
    x = _logits(shape)
    t = _dist(shape, axis)
    w = rng(3).uniform(0.2, 2.0, size=shape[axis]) if use_weight else None
    for reduction in ("mean", "sum", "none"):
        kw = {"label_smoothing": eps, "reduction": reduction}
        if w is not None:
            kw["weight"] = w
        want, want_g = _torch_ce(torch, x, t, **kw)
        f = lambda z: soft_ce(
            z,
            jnp.asarray(t),
            axis=axis,
            label_smoothing=eps,
            class_weights=None if w is None else jnp.asarray(w),
            reduction=reduction,
        )
        assert_close(f(jnp.asarray(x)), want, err_msg=reduction)
        assert_close(jax.grad(lambda z: jnp.sum(f(z)))(jnp.asarray(x)), want_g, err_msg=reduction)


@pytest.mark.parametrize("layout", ["2d", "bct"])
@pytest.mark.parametrize("use_weight", [False, True])
def test_nll_loss_matches_torch(layout, use_weight):
    torch = torch_or_skip()
    shape, axis = ((4, 5), -1) if layout == "2d" else ((2, 5, 3), 1)
    lp = np.asarray(jax.nn.log_softmax(jnp.asarray(_logits(shape)), axis=axis))
    y = _labels((4,) if layout == "2d" else (2, 3), 5)
    y.reshape(-1)[[1, 2]] = -100
    w = rng(3).uniform(0.2, 2.0, size=shape[axis]) if use_weight else None
    for reduction in ("mean", "sum", "none"):
        lpt = to_torch(lp, torch).requires_grad_(True)
        out = torch.nn.functional.nll_loss(
            lpt,
            to_torch(y, torch),
            reduction=reduction,
            weight=None if w is None else to_torch(w, torch),
        )
        out.sum().backward()
        nll = jaxloss.get("NLLLoss")  # binds ignore_index=-100, as PyTorch
        f = lambda z: nll(
            z,
            jnp.asarray(y),
            axis=axis,
            reduction=reduction,
            class_weights=None if w is None else jnp.asarray(w),
        )
        assert_close(f(jnp.asarray(lp)), out.detach().numpy(), err_msg=reduction)
        assert_close(jax.grad(lambda z: jnp.sum(f(z)))(jnp.asarray(lp)), lpt.grad.numpy())


def test_matches_optax_on_ordinary_inputs():
    import optax

    x = jnp.asarray(_logits((4, 5)))
    y = jnp.asarray(_labels((4,), 5))
    t = jnp.asarray(_dist((4, 5), -1))
    assert_close(soft_ce(x, t, reduction="none"), optax.softmax_cross_entropy(x, t))
    assert_close(
        sparse_ce(x, y, reduction="none"), optax.softmax_cross_entropy_with_integer_labels(x, y)
    )
    alias = jaxloss.get("softmax_cross_entropy_with_integer_labels")  # optax: unreduced
    assert_close(alias(x, y), optax.softmax_cross_entropy_with_integer_labels(x, y))
    g = jax.grad(lambda z: jnp.mean(optax.softmax_cross_entropy_with_integer_labels(z, y)))(x)
    assert_close(jax.grad(lambda z: sparse_ce(z, y))(x), g)
    # optax with the class axis elsewhere
    x3 = jnp.asarray(_logits((2, 5, 3)))
    y3 = jnp.asarray(_labels((2, 3), 5))
    assert_close(
        sparse_ce(x3, y3, axis=1, reduction="none"),
        optax.softmax_cross_entropy_with_integer_labels(x3, y3, axis=1),
    )


def test_seed_document_worked_example_0_288():
    """The CrossEntropyLoss / NLLLoss worked example of the seed tutorial gives 0.288."""
    logits = jnp.asarray([[-1.90, -0.29, -2.30], [-0.29, -1.90, -2.30]], jnp.float32)
    target = jnp.asarray([[0.0, 1.0, 0.0], [1.0, 0.0, 0.0]], jnp.float32)
    indices = jnp.asarray([1, 0])
    ce = jaxloss.get("CrossEntropyLoss")
    assert f"{float(ce(logits, indices)):.3f}" == "0.288"
    assert f"{float(soft_ce(logits, target)):.3f}" == "0.288"
    assert (
        f"{float(jaxloss.get('NLLLoss')(jax.nn.log_softmax(logits, axis=1), indices)):.3f}"
        == "0.288"
    )
    # "... which is -log 0.75"
    assert abs(float(ce(logits, indices)) + np.log(0.75)) < 1e-3


# ------------------------------------------------------------------------------------------------
# Derivatives
# ------------------------------------------------------------------------------------------------


def _second_order_cases():
    """(f, args, modes) of the order-2 checks, and the data of the order-1 ones."""
    x = _logits((4, 5), scale=1.0)
    y = jnp.asarray(_labels((4,), 5))
    t = _dist((4, 5), -1)
    w = jnp.asarray([0.5, 1.0, 2.0, 1.5, 0.8])
    # probabilities away from 0, so that finite differences of log p are accurate
    p = rng(11).uniform(1.0, 2.0, size=(4, 5))
    p = p / p.sum(-1, keepdims=True)
    cases = [
        (
            lambda z: sparse_ce(
                z, y, label_smoothing=0.1, class_weights=w, z_loss=0.05, logit_softcap=2.5
            ),
            (x,),
            ("fwd", "rev"),
        ),
        (
            lambda z, s: soft_ce(z, s, label_smoothing=0.1, class_weights=w, z_loss=0.05),
            (x, t),
            ("fwd", "rev"),
        ),
        (
            lambda q, s: jaxloss.categorical_cross_entropy(q, s, label_smoothing=0.1),
            (p, t),
            ("fwd",),
        ),
    ]
    return cases, (x, y, p, w)


def _first_order_checks(x, y, p, w):
    # z-loss's second order is also covered by the hessian tests; nll is linear in its input
    grads_f64(jax.jit(lambda z: jaxloss.z_loss(z, axis=0)), (x,), order=1)
    grads_f64(jax.jit(lambda q: jaxloss.sparse_categorical_cross_entropy(q, y)), (p,), order=1)
    grads_f64(jax.jit(lambda q: jaxloss.nll_loss(q, y, class_weights=w)), (np.log(p),), order=1)


def test_second_order_finite_differences():
    # default tier: gradient and Hessian-vector product (jitted) against central differences;
    # check_grads in both modes to order 2: the slow test below
    cases, data = _second_order_cases()
    for f, args, _ in cases:
        fd_check_order2(f, args, rtol=1e-5, atol=1e-5)
    _first_order_checks(*data)


@pytest.mark.slow
def test_second_order_finite_differences_check_grads():
    cases, data = _second_order_cases()
    for f, args, modes in cases:
        grads_f64(jax.jit(f), args, modes=modes)  # jit: compiled once instead of op-by-op dispatch
    _first_order_checks(*data)


def _plain_sparse(z, y, eps, w, zl, cap):
    """Independent jnp re-implementation (PyTorch's formula) for gradient comparisons."""
    z = cap * jnp.tanh(z / cap)
    lp = jax.nn.log_softmax(z, axis=-1)
    lse = jax.nn.logsumexp(z, axis=-1)
    onehot = jax.nn.one_hot(y, z.shape[-1], dtype=z.dtype)
    wy = w[y]
    per = wy * (-(1 - eps) * jnp.sum(onehot * lp, -1) + zl * lse**2) - eps / z.shape[-1] * jnp.sum(
        w[None, :] * lp, -1
    )
    return jnp.sum(per) / jnp.sum(wy)


def test_gradient_matches_independent_reimplementation_and_closed_form():
    x = jnp.asarray(_logits((4, 5)))
    y = jnp.asarray(_labels((4,), 5))
    w = jnp.asarray(rng(3).uniform(0.2, 2.0, size=5))
    kw = dict(label_smoothing=0.15, class_weights=w, z_loss=0.02, logit_softcap=4.0)
    g = jax.grad(lambda z: sparse_ce(z, y, **kw))(x)
    assert_close(g, jax.grad(_plain_sparse)(x, y, 0.15, w, 0.02, 4.0))
    # closed form of the plain loss: (softmax − onehot) / B
    sm = np.exp(np.asarray(x)) / np.exp(np.asarray(x)).sum(-1, keepdims=True)
    closed = (sm - np.eye(5)[np.asarray(y)]) / 4
    assert_close(jax.grad(lambda z: sparse_ce(z, y))(x), closed)
    t = jnp.asarray(_dist((4, 5), -1))
    assert_close(jax.grad(lambda z: soft_ce(z, t))(x), (sm - np.asarray(t)) / 4)
    # gradient with respect to the targets (distillation): lse − x
    gt = jax.grad(lambda s: soft_ce(x, s, reduction="sum"), argnums=0)(t)
    lse = np.log(np.exp(np.asarray(x)).sum(-1, keepdims=True))
    assert_close(gt, lse - np.asarray(x))


# ------------------------------------------------------------------------------------------------
# jit / vmap
# ------------------------------------------------------------------------------------------------


def test_jit_and_vmap_equal_python_loop():
    x = jnp.asarray(_logits((3, 4, 5)))
    y = jnp.asarray(_labels((3, 4), 5))
    t = jnp.asarray(_dist((3, 4, 5), -1))
    w = jnp.asarray(rng(3).uniform(0.5, 2.0, size=5))
    f = lambda a, b: sparse_ce(a, b, label_smoothing=0.1, class_weights=w, ignore_index=2)
    loop = [f(x[i], y[i]) for i in range(3)]
    assert_close(jax.vmap(f)(x, y), loop)
    assert_close(jax.jit(f)(x[0], y[0]), loop[0])
    g = lambda a, b: soft_ce(a, b, label_smoothing=0.1, z_loss=0.01)
    assert_close(jax.vmap(g)(x, t), [g(x[i], t[i]) for i in range(3)])

    # vmap over every hyperparameter at once (each one batched), against a loop
    xs, ys, ts = x[0], y[0], t[0]
    hyper = (
        jnp.asarray([0.0, 0.1, 0.5]),
        jnp.asarray([0.0, 1e-2, 1.0]),
        jnp.asarray([1.0, 3.0, 30.0]),
        jnp.asarray(rng(4).uniform(0.5, 2.0, size=(3, 5))),
    )
    h = lambda e, z, c, w: sparse_ce(
        xs, ys, ignore_index=1, label_smoothing=e, z_loss=z, logit_softcap=c, class_weights=w
    )
    assert_close(jax.vmap(h)(*hyper), [h(*(v[i] for v in hyper)) for i in range(3)])
    k = lambda e, z, w: soft_ce(xs, ts, label_smoothing=e, z_loss=z, class_weights=w)
    assert_close(
        jax.vmap(k)(hyper[0], hyper[1], hyper[3]),
        [k(hyper[0][i], hyper[1][i], hyper[3][i]) for i in range(3)],
    )
    c = lambda e: jaxloss.categorical_cross_entropy(jax.nn.softmax(xs), ts, label_smoothing=e)
    assert_close(jax.vmap(c)(hyper[0]), [c(e) for e in hyper[0]])


# ------------------------------------------------------------------------------------------------
# Reductions and masking
# ------------------------------------------------------------------------------------------------


def test_all_masked_and_all_ignored_are_exact_zero_with_zero_gradient():
    x = jnp.asarray(_logits((4, 5)))
    y = jnp.asarray([-100, -100, -100, -100])
    w = jnp.asarray([1.0, 2.0, 3.0, 4.0, 5.0])
    for kw in ({}, {"class_weights": w}, {"label_smoothing": 0.2, "z_loss": 0.1}):
        f = lambda z: jaxloss.get("CrossEntropyLoss")(z, y, **kw)
        v, g = jax.value_and_grad(f)(x)
        assert float(v) == 0.0 and np.all(np.asarray(g) == 0.0), kw
    f = lambda z: jaxloss.nll_loss(z, y, ignore_index=-100, class_weights=w)
    v, g = jax.value_and_grad(f)(x)
    assert float(v) == 0.0 and np.all(np.asarray(g) == 0.0)
    none = jnp.zeros(4, bool)
    yv = jnp.asarray(_labels((4,), 5))
    t = jnp.asarray(_dist((4, 5), -1))
    p = jax.nn.softmax(x)
    for f in (
        lambda z: sparse_ce(z, yv, where=none),
        lambda z: soft_ce(z, t, where=none),
        lambda z: jaxloss.categorical_cross_entropy(jax.nn.softmax(z), t, where=none),
        lambda z: jaxloss.sparse_categorical_cross_entropy(jax.nn.softmax(z), yv, where=none),
        lambda z: jaxloss.z_loss(z, where=none),
    ):
        v, g = jax.value_and_grad(f)(x)
        assert float(v) == 0.0 and np.all(np.asarray(g) == 0.0)
    # "none": exact zeros at masked and ignored positions
    y2 = jnp.asarray([0, -100, 2, 3])
    m = jnp.asarray([True, True, False, True])
    out = sparse_ce(x, y2, ignore_index=-100, where=m, reduction="none", label_smoothing=0.1)
    assert np.all(np.asarray(out)[[1, 2]] == 0.0) and np.all(np.asarray(out)[[0, 3]] > 0)
    out = jaxloss.sparse_categorical_cross_entropy(p, y2, ignore_index=-100, reduction="none")
    assert float(out[1]) == 0.0
    # an ignored example gets exactly zero gradient
    g = jax.grad(lambda z: sparse_ce(z, y2, ignore_index=-100, label_smoothing=0.1))(x)
    assert np.all(np.asarray(g)[1] == 0.0)


def test_out_of_range_labels_give_documented_nan():
    x = jnp.asarray(_logits((4, 5)))
    y = jnp.asarray([0, 5, -1, 2])  # 5 and -1 are out of range (negative labels are not wrapped)
    out = sparse_ce(x, y, reduction="none")
    assert np.isfinite(np.asarray(out)[[0, 3]]).all() and np.isnan(np.asarray(out)[[1, 2]]).all()
    assert np.isnan(float(sparse_ce(x, y)))
    assert np.isnan(float(sparse_ce(x, y, class_weights=jnp.ones(5))))
    lp = jax.nn.log_softmax(x)
    assert np.isnan(np.asarray(jaxloss.nll_loss(lp, y, reduction="none"))[1:3]).all()
    assert np.isnan(
        np.asarray(jaxloss.sparse_categorical_cross_entropy(jnp.exp(lp), y, reduction="none"))[1:3]
    ).all()
    # the ignore_index itself is not out of range
    assert np.isfinite(float(sparse_ce(x, y, ignore_index=-1, reduction="none")[2]))


# ------------------------------------------------------------------------------------------------
# Edge cases: masked vocabulary, huge logits, half precision
# ------------------------------------------------------------------------------------------------

MASKED = np.array(
    [
        [1.0, -np.inf, 0.5, -np.inf, 2.0],
        [-np.inf, 3.0, -1.0, 0.0, -np.inf],
        [0.3, 0.2, -np.inf, 1.0, 0.0],
        [0.1, -0.4, 0.7, 1.3, -2.0],
    ]
)
MASKED_LABELS = np.array([4, 1, 3, 2])


def _assert_all_derivatives_finite(f, x):
    # one compiled program instead of hundreds of eagerly dispatched ops
    @jax.jit
    def all_derivatives(z):
        return (
            f(z),
            jax.grad(f)(z),
            jax.jvp(f, (z,), (jnp.ones_like(z),)),
            jax.jit(jax.hessian(f))(z),
        )

    for what, value in zip(("value", "grad", "jvp", "hessian"), all_derivatives(x), strict=False):
        assert_finite(value, what)


@pytest.mark.parametrize("eps", [0.0, 0.1])
def test_masked_vocabulary_finite_and_smoothing_over_finite_classes(eps):
    x = jnp.asarray(MASKED)
    y = jnp.asarray(MASKED_LABELS)
    t = jnp.asarray(np.eye(5)[MASKED_LABELS])
    w = jnp.asarray([1.0, 0.5, 2.0, 1.5, 0.7])
    fs = [
        lambda z: sparse_ce(z, y, label_smoothing=eps),
        lambda z: sparse_ce(
            z, y, label_smoothing=eps, class_weights=w, z_loss=0.01, logit_softcap=2.0
        ),
        lambda z: soft_ce(z, t, label_smoothing=eps, class_weights=w, z_loss=0.01),
    ]
    if eps == 0:
        fs.append(lambda z: jaxloss.z_loss(z))
    for f in fs:
        _assert_all_derivatives_finite(f, x)
    # smoothing mass only on the finite classes: same as dropping the masked columns
    for i in range(4):
        keep = np.isfinite(MASKED[i])
        row, lab = MASKED[i][keep][None], np.searchsorted(np.flatnonzero(keep), MASKED_LABELS[i])
        want = ref_sparse(row, np.array([lab]), label_smoothing=eps)[0][0]
        assert_close(sparse_ce(x[i : i + 1], y[i : i + 1], label_smoothing=eps), want)
        assert_close(soft_ce(x[i : i + 1], t[i : i + 1], label_smoothing=eps), want)
    assert_close(
        sparse_ce(x, y, label_smoothing=eps, reduction="none"),
        ref_sparse(MASKED, MASKED_LABELS, label_smoothing=eps)[0],
    )
    # gradients on masked classes are exactly 0
    g = jax.grad(lambda z: sparse_ce(z, y, label_smoothing=eps))(x)
    assert np.all(np.asarray(g)[~np.isfinite(MASKED)] == 0.0)


def test_traced_zero_label_smoothing_with_masked_logits_is_exact():
    x = jnp.asarray(MASKED)
    y = jnp.asarray(MASKED_LABELS)
    t = jnp.asarray(np.eye(5)[MASKED_LABELS])
    for f, plain in (
        (lambda z, e: sparse_ce(z, y, label_smoothing=e), sparse_ce(x, y)),
        (lambda z, e: soft_ce(z, t, label_smoothing=e), soft_ce(x, t)),
    ):

        @jax.jit
        def everything(z, e):
            return (
                f(z, e),
                jax.grad(f, argnums=(0, 1))(z, e),
                jax.jit(jax.hessian(f))(z, e),
                jax.jvp(lambda u: f(u, e), (z,), (jnp.ones_like(z),)),
            )

        v, *derivatives = everything(x, jnp.asarray(0.0))
        assert float(v) == float(plain)  # exact, not merely close
        assert_finite(derivatives)


def test_mass_on_masked_class_is_documented_inf():
    x = jnp.asarray([[0.0, -jnp.inf, 1.0]])
    assert np.isposinf(float(soft_ce(x, jnp.asarray([[0.5, 0.5, 0.0]]))))
    assert np.isposinf(float(sparse_ce(x, jnp.asarray([1]))))


def test_huge_logits():
    x = np.array(
        [
            [1e4, -1e4, 0.0, 5e3, 1.0],
            [-1e4, -1e4, 1e4, 1e4 - 1.0, -1e4],
            [1e4, 1e4, 1e4, 1e4, 1e4],
            [-1e4, -1e4, -1e4, -1e4, 0.0],
        ]
    )
    y = np.array([3, 2, 0, 1])
    t = np.eye(5)[y] * 0.75 + 0.05
    for dtype in (jnp.float32, jnp.float64):
        xd = jnp.asarray(x, dtype)
        xr = np.asarray(xd, np.float64)
        for eps in (0.0, 0.1):
            got = sparse_ce(xd, jnp.asarray(y), label_smoothing=eps, z_loss=1e-4, reduction="none")
            assert_close(got, ref_sparse(xr, y, label_smoothing=eps, z_loss=1e-4)[0], dtype)
            assert_close(
                soft_ce(xd, jnp.asarray(t, dtype), label_smoothing=eps, reduction="none"),
                ref_soft(xr, t, label_smoothing=eps),
                dtype,
            )
        g = jax.grad(lambda z: sparse_ce(z, jnp.asarray(y)))(xd)
        sm = np.exp(xr - xr.max(-1, keepdims=True))
        sm /= sm.sum(-1, keepdims=True)
        assert_close(g, (sm - np.eye(5)[y]) / 4, dtype)
        _assert_all_derivatives_finite(lambda z: soft_ce(z, jnp.asarray(t, dtype)), xd)
        assert_close(jaxloss.z_loss(xd, reduction="none"), ref_z(xr), dtype)


@pytest.mark.parametrize("dtype", [jnp.bfloat16, jnp.float16])
def test_half_precision_computes_in_float32(dtype):
    x = jnp.asarray(_logits((4, 5)), dtype)
    xr = np.asarray(x.astype(jnp.float64))
    y = jnp.asarray(_labels((4,), 5))
    t = jnp.asarray(_dist((4, 5), -1), dtype)
    tr = np.asarray(t.astype(jnp.float64))
    p = jax.nn.softmax(x.astype(jnp.float32)).astype(dtype)
    pr = np.asarray(p.astype(jnp.float64))
    cases = [
        (
            lambda z: sparse_ce(z, y, label_smoothing=0.1),
            x,
            ref_sparse(xr, np.asarray(y), label_smoothing=0.1)[0].mean(),
        ),
        (lambda z: soft_ce(z, t), x, ref_soft(xr, tr).mean()),
        (lambda q: jaxloss.categorical_cross_entropy(q, t), p, ref_categorical(pr, tr).mean()),
        (
            lambda q: jaxloss.sparse_categorical_cross_entropy(q, y),
            p,
            -np.log(ref_pick(pr, np.asarray(y))).mean(),
        ),
        (lambda q: jaxloss.nll_loss(q, y), x, -ref_pick(xr, np.asarray(y)).mean()),
        (lambda z: jaxloss.z_loss(z), x, ref_z(xr).mean()),
    ]
    for f, inp, want in cases:
        v, g = jax.value_and_grad(f)(inp)
        assert v.dtype == jnp.float32 and g.dtype == dtype
        assert_close(v, want, jnp.float32)
        assert_finite(g)


def test_edge_cases_under_debug_nans():
    x = jnp.asarray(MASKED)
    y = jnp.asarray(MASKED_LABELS)
    t = jnp.asarray(np.eye(5)[MASKED_LABELS])
    with debug_nans():
        jax.grad(
            lambda z: sparse_ce(
                z, y, label_smoothing=0.1, class_weights=jnp.ones(5), z_loss=0.1, logit_softcap=3.0
            )
        )(x)
        jax.hessian(lambda z: soft_ce(z, t, label_smoothing=0.1))(x)
        jax.grad(lambda z: jaxloss.get("cross_entropy")(z, jnp.full((4,), -100)))(x)
        jax.grad(lambda q: jaxloss.categorical_cross_entropy(q, t))(
            jnp.asarray(np.eye(5)[[0, 1, 2, 2]])
        )
        jax.grad(lambda z: jaxloss.z_loss(z))(x)
        # float32, eagerly, with ignored labels (PyTorch's -100) and masked classes
        x32 = x.astype(jnp.float32)
        ignored = jnp.asarray([0, -100, 3, -100])
        # class 0 (the placeholder an ignored row reads) is -inf in row 1 and has weight 0
        x32 = x32.at[1, 0].set(-jnp.inf)
        w0 = jnp.asarray([0.0, 1.0, 1.0, 2.0, 1.0])
        for alias in ("CrossEntropyLoss", "NLLLoss"):
            v, g = jax.value_and_grad(lambda z: jaxloss.get(alias)(z, ignored, class_weights=w0))(
                x32
            )
            assert_finite((v, g))
            v = (
                jaxloss.get(alias)(x32, ignored, class_weights=w0, label_smoothing=0.1)
                if alias == "CrossEntropyLoss"
                else v
            )
            assert_finite(v)
        jax.value_and_grad(
            lambda q: jaxloss.sparse_categorical_cross_entropy(q, ignored, ignore_index=-100)
        )(jax.nn.softmax(x32))


# ------------------------------------------------------------------------------------------------
# Trace-time errors and the registry
# ------------------------------------------------------------------------------------------------


def test_trace_time_errors_name_the_loss_and_argument():
    x = jnp.zeros((3, 4))
    y = jnp.zeros((3,), jnp.int32)
    n = "sparse_softmax_cross_entropy"
    with pytest.raises(ValueError, match=f"{n}: 'labels'"):
        sparse_ce(x, jnp.zeros((4,), jnp.int32))
    with pytest.raises(ValueError, match=f"{n}: 'labels'"):
        sparse_ce(x, y, axis=0)
    with pytest.raises(TypeError, match=f"{n}: 'labels'"):
        sparse_ce(x, jnp.zeros((3,)))
    with pytest.raises(ValueError, match=f"{n}: 'reduction'"):
        sparse_ce(x, y, reduction="avg")
    with pytest.raises(ValueError, match=f"{n}: 'class_weights'"):
        sparse_ce(x, y, class_weights=jnp.ones(3))
    with pytest.raises(ValueError, match=f"{n}: 'label_smoothing'"):
        sparse_ce(x, y, label_smoothing=1.5)
    with pytest.raises(ValueError, match=f"{n}: 'axis'"):
        sparse_ce(x, y, axis=2)
    with pytest.raises(ValueError, match=f"{n}: 'z_loss'"):
        sparse_ce(x, y, z_loss=-1.0)
    with pytest.raises(ValueError, match=f"{n}: 'logit_softcap'"):
        sparse_ce(x, y, logit_softcap=0.0)
    with pytest.raises(TypeError, match=f"{n}: 'ignore_index'"):
        sparse_ce(x, y, ignore_index=1.0)
    with pytest.raises(ValueError, match=f"{n}: 'weights'"):
        sparse_ce(x, y, weights=jnp.ones(4), ignore_index=0)
    with pytest.raises(ValueError, match="softmax_cross_entropy: 'logits' and 'targets'"):
        soft_ce(x, jnp.zeros((3, 5)))
    with pytest.raises(ValueError, match="softmax_cross_entropy: 'label_smoothing'"):
        soft_ce(x, x, label_smoothing=-0.1)
    with pytest.raises(ValueError, match="softmax_cross_entropy: 'class_weights'"):
        soft_ce(x, x, class_weights=jnp.ones((2, 2)))
    with pytest.raises(ValueError, match="categorical_cross_entropy: 'label_smoothing'"):
        jaxloss.categorical_cross_entropy(x, x, label_smoothing=2.0)
    with pytest.raises(ValueError, match="sparse_categorical_cross_entropy: 'labels'"):
        jaxloss.sparse_categorical_cross_entropy(x, jnp.zeros((3, 4), jnp.int32))
    with pytest.raises(TypeError, match="nll_loss: 'labels'"):
        jaxloss.nll_loss(x, jnp.zeros((3,), jnp.float32))
    with pytest.raises(ValueError, match="nll_loss: 'class_weights'"):
        jaxloss.nll_loss(x, y, class_weights=jnp.ones(5))
    with pytest.raises(ValueError, match="z_loss: 'axis'"):
        jaxloss.z_loss(x, axis=-3)
    with pytest.raises(TypeError, match="softmax_cross_entropy: 'logits'"):
        soft_ce(jnp.zeros((3, 4), jnp.int32), x)


ALIASES = {
    "logitcrossentropy": "softmax_cross_entropy",
    "categorical_crossentropy_from_logits": "softmax_cross_entropy",
    "cross_entropy": "sparse_softmax_cross_entropy",
    "CrossEntropyLoss": "sparse_softmax_cross_entropy",
    "softmax_cross_entropy_with_integer_labels": "sparse_softmax_cross_entropy",
    "sparse_categorical_crossentropy_from_logits": "sparse_softmax_cross_entropy",
    "categorical_crossentropy": "categorical_cross_entropy",
    "crossentropy": "categorical_cross_entropy",
    "sparse_categorical_crossentropy": "sparse_categorical_cross_entropy",
    "NLLLoss": "nll_loss",
    "z_loss": "z_loss",
}


def test_aliases_resolve_and_bind_their_library_defaults():
    for alias, canonical in ALIASES.items():
        fn = jaxloss.get(alias)
        assert getattr(fn, "canonical", fn) is getattr(jaxloss, canonical), alias
        assert jaxloss.get(alias.upper()) is fn
    torch = torch_or_skip()
    x = _logits((4, 5))
    y = np.array([0, -100, 3, -100])
    want, want_g = _torch_ce(torch, x, y)  # PyTorch default ignore_index=-100
    for alias in ("CrossEntropyLoss", "cross_entropy"):
        v, g = jax.value_and_grad(jaxloss.get(alias))(jnp.asarray(x), jnp.asarray(y))
        assert_close(v, want)
        assert_close(g, want_g)
    # the canonical name has no ignore_index: -100 is an out-of-range label there
    assert np.isnan(float(sparse_ce(jnp.asarray(x), jnp.asarray(y))))
    assert jaxloss.get("softmax_cross_entropy_with_integer_labels")(
        jnp.asarray(x), jnp.asarray([0, 1, 3, 2])
    ).shape == (4,)
