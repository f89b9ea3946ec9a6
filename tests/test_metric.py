"""Tests of the metric-learning and ranking losses (jaxloss/_metric.py)."""

import functools
import inspect

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
    reduce_ref,
    rng,
    to_torch,
    torch_or_skip,
)

# ------------------------------------------------------------------------------------------------
# Plain references, written with an array module `xp` (NumPy for values in float64, jax.numpy to
# differentiate them). They never call jaxloss.
# ------------------------------------------------------------------------------------------------


def cos_ref(xp, a, b, axis=-1, eps=1e-8):
    na = xp.maximum(xp.sqrt(xp.sum(a * a, axis=axis, keepdims=True)), eps)
    nb = xp.maximum(xp.sqrt(xp.sum(b * b, axis=axis, keepdims=True)), eps)
    return xp.sum(a * b, axis=axis) / (xp.squeeze(na, axis) * xp.squeeze(nb, axis))


def cosine_distance_ref(xp, a, b, axis=-1, eps=1e-8):
    return 1.0 - cos_ref(xp, a, b, axis, eps)


def cosine_similarity_ref(xp, a, b, axis=-1, eps=1e-8):
    return -cos_ref(xp, a, b, axis, eps)


def cosine_embedding_ref(xp, a, b, t, margin=0.0, axis=-1):
    eps = float(np.float32(1e-12))  # PyTorch's `constexpr float EPSILON = 1e-12`
    cos = xp.sum(a * b, axis=axis) / xp.sqrt(
        (xp.sum(a * a, axis=axis) + eps) * (xp.sum(b * b, axis=axis) + eps)
    )
    return xp.where(t == 1, 1.0 - cos, 0.0) + xp.where(t == -1, xp.maximum(cos - margin, 0.0), 0.0)


def pdist_ref(xp, u, v, p, eps, axis=-1):
    return xp.sum(xp.abs(u - v + eps) ** p, axis=axis) ** (1.0 / p)


def triplet_ref(xp, a, pos, neg, margin=1.0, p=2.0, eps=1e-6, swap=False, axis=-1):
    dp = pdist_ref(xp, a, pos, p, eps, axis)
    dn = pdist_ref(xp, a, neg, p, eps, axis)
    if swap:
        dn = xp.minimum(dn, pdist_ref(xp, pos, neg, p, eps, axis))
    return xp.maximum(margin + dp - dn, 0.0)


def margin_ranking_ref(xp, a, b, t, margin=0.0):
    return xp.maximum(-t * (a - b) + margin, 0.0)


def hinge_embedding_ref(xp, d, t, margin=1.0):
    return xp.where(t == 1, d, xp.maximum(margin - d, 0.0))


def contrastive_ref(xp, d, t, margin=1.0):
    return t * d**2 + (1.0 - t) * xp.maximum(margin - d, 0.0) ** 2


def ntxent_pairs_ref(e, labels, temperature):
    """Per-anchor sums of pair losses and positive counts, with explicit loops (NumPy only)."""
    e = np.asarray(e, np.float64)
    n = e.shape[0]
    u = e / np.maximum(np.linalg.norm(e, axis=1, keepdims=True), np.sqrt(np.finfo(np.float64).eps))
    s = u @ u.T / temperature
    sums, counts = np.zeros(n), np.zeros(n)
    for i in range(n):
        negs = [k for k in range(n) if labels[k] != labels[i]]
        for j in range(n):
            if j == i or labels[j] != labels[i]:
                continue
            denom = np.exp(s[i, j]) + sum(np.exp(s[i, k]) for k in negs)
            sums[i] += -np.log(np.exp(s[i, j]) / denom)
            counts[i] += 1
    return sums, counts


def ntxent_jnp_ref(e, labels, temperature):
    """Plain jnp re-implementation for gradients (no masking subtleties: every anchor has both)."""
    u = e / jnp.linalg.norm(e, axis=1, keepdims=True)
    s = u @ u.T / temperature
    same = labels[:, None] == labels[None, :]
    pos = same & ~jnp.eye(e.shape[0], dtype=bool)
    neg_sum = jnp.sum(jnp.where(same, 0.0, jnp.exp(s)), axis=1, keepdims=True)
    pair = jnp.log(jnp.exp(s) + neg_sum) - s
    return jnp.sum(jnp.where(pos, pair, 0.0)) / jnp.sum(pos).astype(e.dtype)


# ------------------------------------------------------------------------------------------------
# Cases. Every jaxloss call below goes through jax.jit: it is how users run the losses, and one
# compilation is far cheaper than compiling each primitive of an eager call.
# ------------------------------------------------------------------------------------------------

STATIC = ("reduction", "axis", "swap")


@functools.cache
def J(fn):
    """``fn`` under jax.jit (cached per function), its mode-like options static."""
    params = inspect.signature(fn).parameters
    return jax.jit(fn, static_argnames=tuple(n for n in STATIC if n in params))


def _pm1(r, shape):
    return np.where(r.uniform(size=shape) > 0.5, 1.0, -1.0)


def make_inputs(name, r, shape, axis=-1):
    """float64 inputs for the loss ``name``; features on ``axis`` for feature-axis losses."""
    loss_shape = tuple(s for i, s in enumerate(shape) if i != axis % len(shape))
    if name in ("cosine_distance", "cosine_similarity_loss"):
        return (r.normal(size=shape), r.normal(size=shape))
    if name == "cosine_embedding_loss":
        return (r.normal(size=shape), r.normal(size=shape), _pm1(r, loss_shape))
    if name == "triplet_margin_loss":
        return (r.normal(size=shape), r.normal(size=shape), r.normal(size=shape))
    if name == "margin_ranking_loss":
        return (r.normal(size=shape), r.normal(size=shape), _pm1(r, shape))
    if name == "hinge_embedding_loss":
        return (r.uniform(0.0, 2.0, size=shape), _pm1(r, shape))
    if name == "contrastive_loss":
        return (r.uniform(0.0, 2.0, size=shape), (r.uniform(size=shape) > 0.5).astype(np.float64))
    raise AssertionError(name)


# name -> (function, reference, hyperparameter name, a test value of it, has a feature axis,
#          number of leading float inputs that are differentiated)
CASES = {
    "cosine_distance": (jaxloss.cosine_distance, cosine_distance_ref, "epsilon", 0.1, True, 2),
    "cosine_similarity_loss": (
        jaxloss.cosine_similarity_loss,
        cosine_similarity_ref,
        "epsilon",
        0.1,
        True,
        2,
    ),
    "cosine_embedding_loss": (
        jaxloss.cosine_embedding_loss,
        cosine_embedding_ref,
        "margin",
        0.2,
        True,
        2,
    ),
    "triplet_margin_loss": (jaxloss.triplet_margin_loss, triplet_ref, "margin", 0.5, True, 3),
    "margin_ranking_loss": (
        jaxloss.margin_ranking_loss,
        margin_ranking_ref,
        "margin",
        0.3,
        False,
        2,
    ),
    "hinge_embedding_loss": (
        jaxloss.hinge_embedding_loss,
        hinge_embedding_ref,
        "margin",
        1.5,
        False,
        1,
    ),
    "contrastive_loss": (jaxloss.contrastive_loss, contrastive_ref, "margin", 1.2, False, 1),
}


def _ref_kw(name, hyper, axis):
    fn, ref, hname, _, feat, _ = CASES[name]
    kw = {"eps" if hname == "epsilon" else "margin": hyper}
    if feat:
        kw["axis"] = axis
    return kw


def _loss_kw(name, hyper, axis):
    _, _, hname, _, feat, _ = CASES[name]
    kw = {hname: hyper}
    if feat:
        kw["axis"] = axis
    return kw


@pytest.mark.parametrize("name", sorted(CASES))
@pytest.mark.parametrize("shape,axis", [((6, 5), -1), ((3, 4, 2), 1)])
def test_value_against_numpy_reference(name, shape, axis):
    fn, ref, hname, hyper, feat, _ = CASES[name]
    r = rng(sum(map(ord, name)) + len(shape))
    args = make_inputs(name, r, shape, axis)
    want = ref(np, *args, **_ref_kw(name, hyper, axis))
    w = r.uniform(0.5, 2.0, size=want.shape)
    m = r.uniform(size=want.shape) > 0.3
    kw = _loss_kw(name, hyper, axis)
    kw.pop(hname)
    reductions = ("mean", "sum", "none")

    @jax.jit
    def all_reductions(xs, h, w, m):
        kwh = {hname: h, **kw}
        plain = (fn(*xs, **kwh, reduction="none"), fn(*xs, **kwh))
        return plain, [fn(*xs, **kwh, weights=w, where=m, reduction=red) for red in reductions]

    (got_none, got_mean), got = all_reductions(
        [jnp.asarray(a) for a in args], hyper, jnp.asarray(w), jnp.asarray(m)
    )
    assert got_none.shape == want.shape and got_none.dtype == jnp.float64
    assert_close(got_none, want)
    assert_close(got_mean, want.mean())
    for red, g in zip(reductions, got, strict=False):
        assert_close(g, reduce_ref(want, w, m, red), err_msg=red)
    assert np.all(np.asarray(got[2])[~m] == 0.0)


@pytest.mark.parametrize("name", sorted(CASES))
def test_grad_against_reference(name):
    fn, ref, hname, hyper, feat, n_float = CASES[name]
    args = make_inputs(name, rng(7), (4, 3))
    xs = tuple(jnp.asarray(a) for a in args[:n_float])
    fixed = tuple(jnp.asarray(a) for a in args[n_float:])
    argnums = tuple(range(n_float))
    got = jax.jit(jax.grad(lambda *x: fn(*x, *fixed, **{hname: hyper}), argnums=argnums))(*xs)
    want = jax.jit(
        jax.grad(
            lambda *x: jnp.mean(ref(jnp, *x, *fixed, **_ref_kw(name, hyper, -1))), argnums=argnums
        )
    )(*xs)
    for g, w in zip(got, want, strict=False):
        assert_close(g, w)


def test_second_order_finite_differences():
    """Derivatives up to second order of every loss of this family against finite differences,
    on their sum (one compilation instead of one per loss; a wrong derivative in any term makes
    the sum's wrong). Random inputs lie away from the hinges, where each loss is twice
    differentiable."""
    r = rng(8)
    a, b, c = (r.normal(size=(3, 4)) for _ in range(3))
    d = r.uniform(0.2, 2.0, size=(3, 4))
    y_row, y_el = jnp.asarray(_pm1(r, (3,))), jnp.asarray(_pm1(r, (3, 4)))
    t01 = jnp.asarray((r.uniform(size=(3, 4)) > 0.5) * 1.0)
    labels = jnp.asarray([0, 1, 0])

    def total(a, b, c, d):
        return (
            jaxloss.cosine_distance(a, b, epsilon=0.1)
            + jaxloss.cosine_similarity_loss(b, c)
            + jaxloss.cosine_embedding_loss(a, c, y_row, margin=0.1)
            + jaxloss.triplet_margin_loss(a, b, c, margin=0.5)
            + jaxloss.triplet_margin_loss(a, b, c, p=3.0, swap=True)
            + jaxloss.margin_ranking_loss(a, b, y_el, margin=0.2)
            + jaxloss.hinge_embedding_loss(d, y_el, margin=1.1)
            + jaxloss.contrastive_loss(d, t01, margin=1.3)
            + jaxloss.ntxent_loss(a, labels, temperature=0.5)
        )

    fd_check_order2(total, (a, b, c, d))


# ------------------------------------------------------------------------------------------------
# PyTorch oracle: values and gradients
# ------------------------------------------------------------------------------------------------


def _torch_value_and_grads(torch, fn, arrays, n_grad):
    ts = [to_torch(a, torch) for a in arrays]
    for t in ts[:n_grad]:
        t.requires_grad_(True)
    out = fn(*ts)
    out.sum().backward()
    return out.detach().numpy(), [t.grad.numpy() for t in ts[:n_grad]]


@functools.cache
def _value_and_grads_fn(fn, n_grad):
    """jit of (output, gradient of its sum w.r.t. the first ``n_grad`` inputs); hyperparameters
    traced, so one compilation serves every margin / p of a test."""

    @jax.jit
    def vg(xs, hyper):
        def f(*g):
            out = fn(*g, *xs[n_grad:], **hyper)
            return jnp.sum(out), out

        (_, out), grads = jax.value_and_grad(f, argnums=tuple(range(n_grad)), has_aux=True)(
            *xs[:n_grad]
        )
        return out, grads

    return vg


def _jax_value_and_grads(fn, arrays, n_grad, **hyper):
    return _value_and_grads_fn(fn, n_grad)([jnp.asarray(a) for a in arrays], hyper)


def _compare(torch_out, jax_out):
    assert_close(jax_out[0], torch_out[0])
    for gj, gt in zip(jax_out[1], torch_out[1], strict=False):
        assert_close(gj, gt)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_cosine_embedding_loss_against_torch(reduction):
    torch = torch_or_skip()
    F = torch.nn.functional
    r = rng(11)
    x1, x2 = r.normal(size=(7, 5)), r.normal(size=(7, 5))
    x1[0] = 0.0  # a zero vector
    y = _pm1(r, (7,))
    y[0] = -1.0  # cos = 0 = margin: the hinge's subgradient must be PyTorch's
    fn = functools.partial(jaxloss.cosine_embedding_loss, reduction=reduction)
    for margin in (0.0, 0.3, -0.2):
        tout = _torch_value_and_grads(
            torch,
            lambda a, b, t: F.cosine_embedding_loss(a, b, t, margin=margin, reduction=reduction),
            (x1, x2, y),
            2,
        )
        _compare(tout, _jax_value_and_grads(fn, (x1, x2, y), 2, margin=margin))


@pytest.mark.parametrize("swap", [False, True])
@pytest.mark.parametrize("reduction", ["mean", "none"])
def test_triplet_margin_loss_against_torch(swap, reduction):
    torch = torch_or_skip()
    F = torch.nn.functional
    r = rng(12)
    a, pos, neg = (r.normal(size=(8, 4)) for _ in range(3))
    pos[0] = a[0]  # anchor == positive: PyTorch's eps shift keeps the gradient finite
    fn = functools.partial(jaxloss.triplet_margin_loss, swap=swap, reduction=reduction)
    for p in (1.0, 2.0, 3.0):
        for margin in (1.0, 0.3):
            tout = _torch_value_and_grads(
                torch,
                lambda x, y, z: F.triplet_margin_loss(
                    x, y, z, margin=margin, p=p, swap=swap, reduction=reduction
                ),
                (a, pos, neg),
                3,
            )
            _compare(tout, _jax_value_and_grads(fn, (a, pos, neg), 3, margin=margin, p=p))


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_ranking_and_hinge_embedding_against_torch(reduction):
    torch = torch_or_skip()
    F = torch.nn.functional
    r = rng(13)
    x1, x2, y = r.normal(size=(3, 6)), r.normal(size=(3, 6)), _pm1(r, (3, 6))
    x2[0, 0] = x1[0, 0]  # exactly at the hinge with margin 0
    d = r.uniform(0.0, 2.0, size=(3, 6))
    d[1, 0] = 1.0  # exactly at the hinge with margin 1
    yh = _pm1(r, (3, 6))
    yh[1, 0] = -1.0
    yh[0, :2] = 0.0  # neither +1 nor -1: PyTorch applies both terms
    mr = functools.partial(jaxloss.margin_ranking_loss, reduction=reduction)
    he = functools.partial(jaxloss.hinge_embedding_loss, reduction=reduction)
    for margin in (0.0, 0.5):
        tout = _torch_value_and_grads(
            torch,
            lambda a, b, t: F.margin_ranking_loss(a, b, t, margin=margin, reduction=reduction),
            (x1, x2, y),
            2,
        )
        _compare(tout, _jax_value_and_grads(mr, (x1, x2, y), 2, margin=margin))
    for margin in (1.0, 0.5):
        tout = _torch_value_and_grads(
            torch,
            lambda x, t: F.hinge_embedding_loss(x, t, margin=margin, reduction=reduction),
            (d, yh),
            1,
        )
        _compare(tout, _jax_value_and_grads(he, (d, yh), 1, margin=margin))


def test_cosine_losses_against_torch_cosine_similarity():
    torch = torch_or_skip()
    F = torch.nn.functional
    r = rng(15)
    a, b = r.normal(size=(3, 6, 4)), r.normal(size=(3, 6, 4))
    a[0, 0] = 0.0

    def ours(x, y, epsilon):
        sim = -jaxloss.cosine_similarity_loss(x, y, axis=1, epsilon=epsilon, reduction="none")
        dist = jaxloss.cosine_distance(x, y, axis=1, epsilon=epsilon, reduction="none")
        return jnp.stack([sim, 1.0 - dist])

    for eps in (1e-8, 0.5):
        tout = _torch_value_and_grads(
            torch, lambda x, y: F.cosine_similarity(x, y, dim=1, eps=eps), (a, b), 2
        )
        val, grads = _jax_value_and_grads(ours, (a, b), 2, epsilon=eps)
        for k in range(2):
            assert_close(val[k], tout[0])
        for gj, gt in zip(grads, tout[1], strict=False):
            assert_close(gj, 2.0 * gt)  # both rows carry the same gradient


def test_contrastive_loss_known_values():
    # t·d² + (1 − t)·max(0, m − d)², no ½ factor (TF Addons); Hadsell et al. is half of this
    d = jnp.asarray([0.0, 0.5, 0.5, 1.5, 0.25])
    t = jnp.asarray([1.0, 1.0, 0.0, 0.0, 0.5])
    got = J(jaxloss.contrastive_loss)(d, t, margin=1.0, reduction="none")
    assert_close(got, [0.0, 0.25, 0.25, 0.0, 0.5 * 0.0625 + 0.5 * 0.5625])


# ------------------------------------------------------------------------------------------------
# NT-Xent
# ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("labels", [[0, 0, 1, 1, 2, 2], [0, 1, 0, 1, 1, 2, 2, 0]])
def test_ntxent_against_numpy_and_optax(labels):
    """Uneven groups included: "mean" is optax's mean over positive pairs for any labels."""
    optax = pytest.importorskip("optax")
    labels = np.asarray(labels)
    r = rng(len(labels))
    e = r.normal(size=(len(labels), 5))
    lab = jnp.asarray(labels)

    @jax.jit
    def ours(e, t):
        return [
            jaxloss.ntxent_loss(e, lab, temperature=t, reduction=red)
            for red in ("none", "mean", "sum")
        ]

    with jax.numpy_dtype_promotion("standard"):  # optax.ntxent mixes bool and int
        theirs = jax.jit(optax.ntxent)
        for dtype in (jnp.float64, jnp.float32):
            for temperature in (0.07, 0.5):
                x = jnp.asarray(e, dtype)
                none, mean, total = ours(x, temperature)
                want = theirs(x, lab, temperature)
                assert_close(mean, want, dtype=dtype, rtol=1e-5 if dtype == jnp.float32 else None)
                if dtype == jnp.float64:
                    sums, counts = ntxent_pairs_ref(e, labels, temperature)
                    assert_close(none, sums)
                    assert_close(mean, sums.sum() / counts.sum())
                    assert_close(total, sums.sum())


def test_ntxent_weights_where_and_grads():
    r = rng(21)
    labels = np.asarray([0, 0, 1, 1, 1, 2, 2])
    e = r.normal(size=(7, 3))
    w = r.uniform(0.5, 2.0, size=7)
    f = J(jaxloss.ntxent_loss)
    sums, counts = ntxent_pairs_ref(e, labels, 0.3)
    got = f(jnp.asarray(e), jnp.asarray(labels), temperature=0.3, weights=jnp.asarray(w))
    assert_close(got, (w * sums).sum() / (w * counts).sum())
    # where=False removes a sample everywhere: the same as dropping it from the batch
    keep = np.ones(7, bool)
    keep[[1, 4]] = False
    sub_sums, sub_counts = ntxent_pairs_ref(e[keep], labels[keep], 0.3)
    got_none = f(
        jnp.asarray(e),
        jnp.asarray(labels),
        temperature=0.3,
        where=jnp.asarray(keep),
        reduction="none",
    )
    assert_close(np.asarray(got_none)[keep], sub_sums)
    assert np.all(np.asarray(got_none)[~keep] == 0.0)
    got = f(jnp.asarray(e), jnp.asarray(labels), temperature=0.3, where=jnp.asarray(keep))
    assert_close(got, sub_sums.sum() / sub_counts.sum())
    # gradients (embeddings and temperature) against a plain jnp re-implementation
    lab = jnp.asarray(labels)
    g = jax.jit(jax.grad(lambda x, t: jaxloss.ntxent_loss(x, lab, temperature=t), argnums=(0, 1)))(
        jnp.asarray(e), 0.3
    )
    g_ref = jax.jit(jax.grad(lambda x, t: ntxent_jnp_ref(x, lab, t), argnums=(0, 1)))(
        jnp.asarray(e), 0.3
    )
    assert_close(g[0], g_ref[0])
    assert_close(g[1], g_ref[1])


def test_ntxent_edge_cases():
    labels = jnp.asarray([0, 0, 1, 1])
    e = jnp.asarray([[0.0, 0.0], [1.0, 2.0], [1e4, -1e4], [-3.0, 1.0]])
    r = jnp.asarray(rng(3).normal(size=(4, 2)))

    @jax.jit
    def run(x, labels, where):
        v, g = jax.value_and_grad(
            lambda z: jaxloss.ntxent_loss(z, labels, temperature=0.05, where=where)
        )(x)
        return v, g

    with debug_nans():
        everything = jnp.ones(4, bool)
        v, g = run(e, labels, everything)  # a zero embedding and huge ones
        assert_finite((v, g))
        # one class: no negatives, every pair loss is exactly 0
        v, g = run(r, jnp.zeros(4, labels.dtype), everything)
        assert float(v) == 0.0
        assert_finite(g)
        # all labels distinct: no positive pair, nothing valid -> exactly 0 with a zero gradient
        v, g = run(r, jnp.arange(4, dtype=labels.dtype), everything)
        assert float(v) == 0.0 and np.all(np.asarray(g) == 0.0)
        # all masked
        v, g = run(r, labels, jnp.zeros(4, bool))
        assert float(v) == 0.0 and np.all(np.asarray(g) == 0.0)


def test_ntxent_vmap_over_temperature_and_batch():
    r = rng(5)
    labels = jnp.asarray([0, 0, 1, 1, 2])
    e = jnp.asarray(r.normal(size=(3, 5, 4)))
    temps = jnp.asarray([0.07, 0.2, 1.0])
    f = J(jaxloss.ntxent_loss)
    loop = np.asarray([f(e[0], labels, temperature=t) for t in temps])
    assert_close(
        jax.jit(jax.vmap(lambda t: jaxloss.ntxent_loss(e[0], labels, temperature=t)))(temps), loop
    )
    loop = np.asarray([f(e[i], labels, temperature=0.07) for i in range(3)])
    assert_close(jax.jit(jax.vmap(lambda x: jaxloss.ntxent_loss(x, labels)))(e), loop)


# ------------------------------------------------------------------------------------------------
# vmap / masking / edge cases shared by the other losses
# ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(CASES))
def test_vmap_over_batch_and_hyperparameter_equals_loop(name):
    fn, _, hname, hyper, feat, _ = CASES[name]
    args = [jnp.asarray(a) for a in make_inputs(name, rng(9), (3, 4, 3))]
    hs = jnp.asarray([hyper, 0.5 * hyper, 2.0 * hyper])

    @jax.jit
    def vmapped(xs, hs):
        over_batch = jax.vmap(lambda *x: fn(*x, **{hname: hyper}))(*xs)
        over_hyper = jax.vmap(lambda h: fn(*xs, **{hname: h}))(hs)
        return over_batch, over_hyper

    over_batch, over_hyper = vmapped(args, hs)
    f = J(fn)
    assert_close(over_batch, [f(*(a[i] for a in args), **{hname: hyper}) for i in range(3)])
    assert_close(over_hyper, [f(*args, **{hname: h}) for h in hs])


def test_triplet_vmap_over_p_and_epsilon():
    r = rng(10)
    a, pos, neg = (jnp.asarray(r.normal(size=(5, 3))) for _ in range(3))
    ps = jnp.asarray([1.0, 1.5, 2.0])
    eps = jnp.asarray([0.0, 1e-6, 1e-2])
    f = J(jaxloss.triplet_margin_loss)
    got = jax.jit(jax.vmap(lambda p, e: f(a, pos, neg, p=p, epsilon=e)))(ps, eps)
    assert_close(got, [f(a, pos, neg, p=p, epsilon=e) for p, e in zip(ps, eps, strict=False)])
    assert_close(
        got,
        [
            triplet_ref(
                np, np.asarray(a), np.asarray(pos), np.asarray(neg), p=float(p), eps=float(e)
            ).mean()
            for p, e in zip(ps, eps, strict=False)
        ],
    )


@pytest.mark.parametrize("name", sorted(CASES))
def test_all_masked_is_exact_zero_with_zero_grad(name):
    fn, _, hname, hyper, feat, _ = CASES[name]
    args = [jnp.asarray(a) for a in make_inputs(name, rng(4), (3, 4))]
    m = jnp.zeros((3,) if feat else (3, 4), bool)

    @jax.jit
    def run(xs, m):
        v, g = jax.value_and_grad(lambda x: fn(x, *xs[1:], where=m))(xs[0])
        return v, g, fn(*xs, where=m, reduction="none"), fn(*xs, where=m, reduction="sum")

    v, g, none, total = run(args, m)
    assert float(v) == 0.0 and float(total) == 0.0
    assert np.all(np.asarray(g) == 0.0) and np.all(np.asarray(none) == 0.0)


def test_zero_vectors_and_coincident_points_are_finite():
    z = jnp.zeros((2, 3))
    x = jnp.asarray([[1.0, 2.0, 3.0], [0.0, 0.0, 0.0]])
    y = jnp.asarray([1, -1])

    @jax.jit
    def cosine_cases(z, x, eps):
        out = []
        for fn in (jaxloss.cosine_distance, jaxloss.cosine_similarity_loss):
            out.append(fn(z, x, epsilon=eps, reduction="none"))
            out.append(jax.grad(lambda a, b: fn(a, b, epsilon=eps), argnums=(0, 1))(z, x))
            out.append(jax.jit(jax.hessian(lambda a: fn(a, x + 1.0, epsilon=eps)))(x))
        out.append(jaxloss.cosine_embedding_loss(z, x, y, reduction="none"))
        out.append(
            jax.grad(lambda a, b: jaxloss.cosine_embedding_loss(a, b, y), argnums=(0, 1))(z, x)
        )
        return out

    @jax.jit
    def triplet_cases(x, p, eps):
        f = lambda a, q: jaxloss.triplet_margin_loss(a, q, x + 1.0, p=p, epsilon=eps, margin=10.0)
        return (
            f(x, x),
            jax.grad(f, argnums=(0, 1))(x, x),
            jax.jvp(lambda a: f(a, x), (x,), (jnp.ones_like(x),)),
            jax.jit(jax.hessian(lambda a: f(a, x)))(x),
        )

    with debug_nans():
        for eps in (1e-8, 0.0):
            out = cosine_cases(z, x, eps)
            assert_finite(out)
            assert_close(out[0], [1.0, 1.0])  # cosine distance of a zero vector
            assert_close(out[3], [0.0, 0.0])  # cosine similarity loss of a zero vector (Keras)
            assert_close(out[6], [1.0, 0.0])  # cosine embedding: 1 − 0 and max(0, 0 − 0)
        for eps in (1e-6, 0.0):  # anchor == positive, with and without PyTorch's eps shift
            for p in (1.0, 2.0, 0.5):
                assert_finite(triplet_cases(x, p, eps))
        big = jnp.asarray([[1e4, -1e4, 3.0]])
        f = J(jaxloss.cosine_distance)
        assert_close(f(big, big), 0.0, atol=1e-12)
        assert_finite(jax.jit(jax.grad(lambda a: jaxloss.cosine_distance(a, 2.0 * big)))(big))


HALF_CASES = (
    ("cosine_distance", jaxloss.cosine_distance, ("a", "b")),
    ("cosine_similarity_loss", jaxloss.cosine_similarity_loss, ("a", "b")),
    ("cosine_embedding_loss", jaxloss.cosine_embedding_loss, ("a", "b", "y_row")),
    ("triplet_margin_loss", jaxloss.triplet_margin_loss, ("a", "b", "c")),
    ("margin_ranking_loss", jaxloss.margin_ranking_loss, ("a", "b", "y_el")),
    ("hinge_embedding_loss", jaxloss.hinge_embedding_loss, ("d", "y_el")),
    ("contrastive_loss", jaxloss.contrastive_loss, ("d", "t01")),
    ("ntxent_loss", functools.partial(jaxloss.ntxent_loss, temperature=0.5), ("a", "labels")),
)


@jax.jit
def _half_values_and_grads(arrays):
    out = {}
    for name, fn, keys in HALF_CASES:
        args = [arrays[k] for k in keys]
        out[name] = jax.value_and_grad(lambda x: fn(x, *args[1:]))(args[0])
    return out


@pytest.mark.parametrize("dtype", [jnp.bfloat16, jnp.float16])
def test_half_precision_inputs(dtype):
    r = rng(17)
    arrays = {k: jnp.asarray(r.normal(size=(4, 6)), dtype) for k in "abc"}
    arrays["d"] = jnp.asarray(r.uniform(0, 2, size=(4, 6)), dtype)
    arrays["y_row"] = jnp.asarray(_pm1(r, (4,)))
    arrays["y_el"] = jnp.asarray(_pm1(r, (4, 6)))
    arrays["t01"] = (arrays["y_el"] + 1.0) / 2.0
    arrays["labels"] = jnp.asarray([0, 0, 1, 1])
    got = _half_values_and_grads(arrays)
    # float64 on the same rounded values
    want = _half_values_and_grads(
        {k: jnp.asarray(x, jnp.float64) if x.dtype == dtype else x for k, x in arrays.items()}
    )
    for name, _, _ in HALF_CASES:
        (v, g), (w, gw) = got[name], want[name]
        assert v.dtype == jnp.float32, name
        assert g.dtype == dtype, name
        assert_close(
            v, w, dtype=np.float32, rtol=1e-4 if name == "ntxent_loss" else None, err_msg=name
        )
        # the gradient is the float32 gradient rounded to the input's dtype
        assert_close(g, gw, rtol=1e-2, atol=1e-2 * float(jnp.max(jnp.abs(gw))), err_msg=name)


def test_float32_stays_float32():
    a = jnp.ones((2, 3), jnp.float32)
    assert J(jaxloss.cosine_distance)(a, a).dtype == jnp.float32
    assert J(jaxloss.triplet_margin_loss)(a, a, a).dtype == jnp.float32
    assert J(jaxloss.contrastive_loss)(a, a).dtype == jnp.float32


# ------------------------------------------------------------------------------------------------
# trace-time errors and registry
# ------------------------------------------------------------------------------------------------


def test_trace_time_errors():
    a = jnp.ones((3, 4))
    with pytest.raises(ValueError, match="cosine_distance: 'predictions' and 'targets'"):
        jaxloss.cosine_distance(a, jnp.ones((3, 5)))
    with pytest.raises(ValueError, match="cosine_similarity_loss: 'axis'"):
        jaxloss.cosine_similarity_loss(a, a, axis=2)
    with pytest.raises(ValueError, match="cosine_distance: 'epsilon'"):
        jaxloss.cosine_distance(a, a, epsilon=-1.0)
    with pytest.raises(ValueError, match="cosine_embedding_loss: 'targets'"):
        jaxloss.cosine_embedding_loss(a, a, jnp.ones((4,)))
    with pytest.raises(ValueError, match="triplet_margin_loss: 'margin'"):
        jaxloss.triplet_margin_loss(a, a, a, margin=-0.5)
    with pytest.raises(ValueError, match="triplet_margin_loss: 'p'"):
        jaxloss.triplet_margin_loss(a, a, a, p=0)
    with pytest.raises(ValueError, match="triplet_margin_loss: 'anchor' and 'negative'"):
        jaxloss.triplet_margin_loss(a, a, jnp.ones((3, 3)))
    with pytest.raises(TypeError, match="triplet_margin_loss: 'anchor'"):
        jaxloss.triplet_margin_loss(jnp.ones((3, 4), jnp.int32), a, a)
    with pytest.raises(ValueError, match="margin_ranking_loss: 'margin'"):
        jaxloss.margin_ranking_loss(a, a, a, margin=-1.0)
    with pytest.raises(ValueError, match="margin_ranking_loss: 'x1' and 'targets'"):
        jaxloss.margin_ranking_loss(a, a, jnp.ones(3))
    with pytest.raises(ValueError, match="hinge_embedding_loss: 'margin'"):
        jaxloss.hinge_embedding_loss(a, a, margin=-1.0)
    with pytest.raises(ValueError, match="contrastive_loss: 'distances' and 'targets'"):
        jaxloss.contrastive_loss(a, jnp.ones(4))
    with pytest.raises(ValueError, match="contrastive_loss: 'reduction'"):
        jaxloss.contrastive_loss(a, a, reduction="avg")
    with pytest.raises(ValueError, match="contrastive_loss: 'weights'"):
        jaxloss.contrastive_loss(a, a, weights=jnp.ones(3))
    with pytest.raises(TypeError, match="ntxent_loss: 'labels'"):
        jaxloss.ntxent_loss(a, jnp.ones(3))
    with pytest.raises(ValueError, match="ntxent_loss: 'labels'"):
        jaxloss.ntxent_loss(a, jnp.ones(4, jnp.int32))
    with pytest.raises(ValueError, match="ntxent_loss: 'temperature'"):
        jaxloss.ntxent_loss(a, jnp.ones(3, jnp.int32), temperature=0.0)
    with pytest.raises(ValueError, match="ntxent_loss: 'embeddings'"):
        jaxloss.ntxent_loss(jnp.ones((2, 3, 4)), jnp.ones(2, jnp.int32))
    with pytest.raises(ValueError, match="ntxent_loss: 'weights'"):
        jaxloss.ntxent_loss(a, jnp.ones(3, jnp.int32), weights=jnp.ones(4))
    with pytest.raises(TypeError, match="ntxent_loss: 'where'"):
        jaxloss.ntxent_loss(a, jnp.ones(3, jnp.int32), where=jnp.ones(3))


@pytest.mark.parametrize(
    "alias,canonical",
    [
        ("cosine_distance", "cosine_distance"),
        ("cosine_similarity", "cosine_similarity_loss"),
        ("CosineEmbeddingLoss", "cosine_embedding_loss"),
        ("TripletMarginLoss", "triplet_margin_loss"),
        ("MarginRankingLoss", "margin_ranking_loss"),
        ("HingeEmbeddingLoss", "hinge_embedding_loss"),
        ("siamese_contrastive_loss", "contrastive_loss"),
        ("ntxent", "ntxent_loss"),
        ("info_nce", "ntxent_loss"),
        ("INFO_NCE", "ntxent_loss"),
    ],
)
def test_aliases_resolve(alias, canonical):
    assert jaxloss.get(alias) is getattr(jaxloss, canonical)
    assert canonical in jaxloss.list_losses()


def test_edge_cases_eagerly_under_debug_nans():
    """Op by op (no jit), so jax_debug_nans sees every intermediate: no NaN is created and then
    masked away (the jitted edge-case tests above only see the outputs)."""
    x = jnp.asarray([[0.0, 0.0, 0.0], [1.0, -2.0, 0.5]])
    labels = jnp.asarray([0, 0])
    with debug_nans(), jax.disable_jit():
        for fn, args in (
            (lambda a, b: jaxloss.cosine_distance(a, b, epsilon=0.0), (x, x[::-1])),
            (
                lambda a, b: jaxloss.triplet_margin_loss(
                    a, b, x + 1.0, epsilon=0.0, p=0.5, margin=10.0
                ),
                (x, x),
            ),
            (lambda a, b: jaxloss.ntxent_loss(a, labels) + jaxloss.ntxent_loss(b, labels), (x, x)),
        ):
            value, grads = jax.value_and_grad(fn, argnums=(0, 1))(*args)
            assert_finite((value, grads))
