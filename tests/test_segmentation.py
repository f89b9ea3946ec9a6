"""Tests of the segmentation overlap losses against plain float64 NumPy references."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxloss

from .helpers import assert_close, assert_finite, debug_nans, grads_f64, reduce_ref, rng

# ----------------------------------------------------------------------------------------------
# Plain float64 NumPy references: per-row values and the gradient of their sum w.r.t. p.
# ----------------------------------------------------------------------------------------------


def _axes(ndim, axis):
    if axis is None:
        return tuple(range(1, ndim))
    return tuple(a % ndim for a in ((axis,) if isinstance(axis, int) else axis))


def _expand(x, axes):
    return np.expand_dims(x, axes)


def ref_dice(p, t, smooth=1.0, axis=None):
    ax = _axes(p.ndim, axis)
    n = 2 * (p * t).sum(ax) + smooth
    d = p.sum(ax) + t.sum(ax) + smooth
    grad = -(2 * t * _expand(d, ax) - _expand(n, ax)) / _expand(d, ax) ** 2
    return 1 - n / d, grad


def ref_tversky(p, t, alpha=0.5, beta=0.5, smooth=1.0, axis=None):
    ax = _axes(p.ndim, axis)
    tp, fp, fn = (p * t).sum(ax), (p * (1 - t)).sum(ax), ((1 - p) * t).sum(ax)
    n = tp + smooth
    d = tp + alpha * fp + beta * fn + smooth
    dd = t + alpha * (1 - t) - beta * t
    grad = -(t * _expand(d, ax) - _expand(n, ax) * dd) / _expand(d, ax) ** 2
    return 1 - n / d, grad


def ref_jaccard(p, t, smooth=1.0, axis=None):
    ax = _axes(p.ndim, axis)
    i = (p * t).sum(ax)
    n = i + smooth
    d = p.sum(ax) + t.sum(ax) - i + smooth
    grad = -(t * _expand(d, ax) - _expand(n, ax) * (1 - t)) / _expand(d, ax) ** 2
    return 1 - n / d, grad


def ref_gdl(p, t, epsilon=1e-6, class_axis=-1):
    """Sudre et al. with the NiftyNet guard, written with the *unnormalised* weights 1/T²."""
    p, t = np.moveaxis(p, class_axis, -1), np.moveaxis(t, class_axis, -1)
    ax = tuple(range(1, p.ndim - 1))
    i, ps, ts = (p * t).sum(ax), p.sum(ax), t.sum(ax)  # [B, C]
    out, grads = [], []
    for b in range(p.shape[0]):
        present = ts[b] > 0
        with np.errstate(divide="ignore"):
            w = 1.0 / ts[b] ** 2
        wmax = w[present].max() if present.any() else 1.0
        w = np.where(present, w, wmax)  # absent classes get the largest weight present
        n = 2 * (w * i[b]).sum() + epsilon * wmax
        d = (w * (ps[b] + ts[b])).sum() + epsilon * wmax
        out.append(1 - n / d)
        g = -(2 * w * t[b] * d - n * w) / d**2  # broadcast over the class axis
        grads.append(g)
    return np.asarray(out), np.moveaxis(np.asarray(grads), -1, class_axis)


def gen(shape, r, binary_targets=True):
    p = r.uniform(size=shape)
    t = (
        (r.uniform(size=shape) > 0.6).astype(np.float64)
        if binary_targets
        else r.uniform(size=shape)
    )
    return p, t


def gen_onehot(shape, r, class_axis=-1):
    """Softmax probabilities and one-hot targets with classes on ``class_axis``."""
    logits = r.normal(size=shape)
    p = np.exp(logits) / np.exp(logits).sum(class_axis, keepdims=True)
    labels = r.integers(
        0, shape[class_axis], size=np.delete(np.asarray(shape), class_axis % len(shape))
    )
    t = np.moveaxis(np.eye(shape[class_axis])[labels], -1, class_axis)
    return p, t


CASES = [
    ("dice", jaxloss.dice_loss, ref_dice, {"smooth": 0.5}),
    ("dice_s0", jaxloss.dice_loss, ref_dice, {"smooth": 0.0}),
    ("tversky", jaxloss.tversky_loss, ref_tversky, {"alpha": 0.3, "beta": 0.7, "smooth": 1.0}),
    ("jaccard", jaxloss.jaccard_loss, ref_jaccard, {"smooth": 1.0}),
]
CASE_IDS = [c[0] for c in CASES]

# (shape, axis, unreduced shape)
LAYOUTS = [
    ((3, 5), None, (3,)),
    ((2, 4, 3, 2), None, (2,)),
    ((2, 4, 3, 2), (1, 2), (2, 2)),
    ((3, 4, 2), 1, (3, 2)),
    ((2, 4, 3), (-1, 0), (4,)),
]


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
@pytest.mark.parametrize("layout", LAYOUTS, ids=[f"{s}-{a}" for s, a, _ in LAYOUTS])
def test_values_and_grad_match_numpy_reference(case, layout):
    _, fn, ref, opts = case
    shape, axis, out_shape = layout
    p, t = gen(
        shape, rng(len(shape) * 7 + (0 if axis is None else 1)), binary_targets=len(shape) != 3
    )
    val, g = ref(p, t, axis=axis, **opts)

    @jax.jit
    def run(x, y):
        return (
            fn(x, y, axis=axis, reduction="none", **opts),
            fn(x, y, axis=axis, **opts),
            fn(x, y, axis=axis, reduction="sum", **opts),
            jax.grad(lambda z: fn(z, y, axis=axis, reduction="sum", **opts))(x),
        )

    none, mean, total, grad = run(jnp.asarray(p), jnp.asarray(t))
    assert none.shape == out_shape and none.dtype == jnp.float64
    assert_close(none, val)
    assert_close(mean, val.mean())
    assert_close(total, val.sum())
    assert_close(grad, g)


@pytest.mark.parametrize("shape,class_axis", [((3, 5, 4), -1), ((2, 3, 4, 3), 1), ((4, 3), -1)])
def test_generalized_dice_matches_numpy_reference(shape, class_axis):
    r = rng(21)
    p, t = gen_onehot(shape, r, class_axis)
    t_absent = t.copy()
    # make class 0 absent from row 0: its targets move to class 1
    idx = [slice(None)] * len(shape)
    idx[0] = 0
    row = np.moveaxis(t_absent[tuple(idx)], class_axis if class_axis < 0 else class_axis - 1, -1)
    row[..., 1] += row[..., 0]
    row[..., 0] = 0.0
    t_absent[tuple(idx)] = np.moveaxis(row, -1, class_axis if class_axis < 0 else class_axis - 1)
    for tt, eps in ((t, 1e-6), (t_absent, 1e-6), (t_absent, 0.5)):
        val, g = ref_gdl(p, tt, epsilon=eps, class_axis=class_axis)

        @jax.jit
        def run(x, y):
            f = lambda z, red: jaxloss.generalized_dice_loss(
                z, y, class_axis=class_axis, epsilon=eps, reduction=red
            )
            return f(x, "none"), f(x, "mean"), jax.grad(lambda z: f(z, "sum"))(x)

        none, mean, grad = run(jnp.asarray(p), jnp.asarray(tt))
        assert none.shape == (shape[0],)
        assert_close(none, val)
        assert_close(mean, val.mean())
        assert_close(grad, g)


def test_generalized_dice_weights_are_inverse_squared_volume():
    # two classes with volumes 1 and 3 (the docstring example), by hand:
    # w = (1, 1/9): 1 − 2(0.6 + 2.4/9) / ((1.2 + 1) + (2.8 + 3)/9)
    t = jnp.asarray([[[1.0, 0.0], [0.0, 1.0], [0.0, 1.0], [0.0, 1.0]]])
    p = jnp.asarray([[[0.6, 0.4], [0.1, 0.9], [0.2, 0.8], [0.3, 0.7]]])
    expect = 1 - 2 * (0.6 + 2.4 / 9) / (2.2 + 5.8 / 9)
    assert_close(jaxloss.generalized_dice_loss(p, t, epsilon=0.0), expect)
    # perfect prediction gives 0; an absent class with predicted mass costs like the rarest class
    assert float(jaxloss.generalized_dice_loss(t, t, epsilon=0.0)) == 0.0
    t3 = jnp.concatenate([t, jnp.zeros((1, 4, 1))], axis=-1)
    p3 = jnp.concatenate([t, jnp.asarray([[[0.0], [0.0], [0.0], [0.5]]])], axis=-1)
    # weights (1, 1/9, 1): 1 − 2(1 + 3/9) / ((1 + 1) + 6/9 + 0.5)
    assert_close(
        jaxloss.generalized_dice_loss(p3, t3, epsilon=0.0), 1 - 2 * (1 + 3 / 9) / (2 + 6 / 9 + 0.5)
    )


def test_tversky_alpha_weights_false_positives_beta_false_negatives():
    t = jnp.asarray([[1.0, 1.0, 0.0, 0.0]])
    fp_only = jnp.asarray([[1.0, 1.0, 1.0, 0.0]])  # TP = 2, FP = 1, FN = 0
    fn_only = jnp.asarray([[1.0, 0.0, 0.0, 0.0]])  # TP = 1, FP = 0, FN = 1
    f = lambda p, a, b: float(jaxloss.tversky_loss(p, t, alpha=a, beta=b, smooth=0.0))
    assert_close(f(fp_only, 0.9, 0.1), 1 - 2 / (2 + 0.9))
    assert_close(f(fp_only, 0.1, 0.9), 1 - 2 / (2 + 0.1))
    assert_close(f(fn_only, 0.9, 0.1), 1 - 1 / (1 + 0.1))
    assert_close(f(fn_only, 0.1, 0.9), 1 - 1 / (1 + 0.9))
    # a false positive costs nothing with alpha = 0, a false negative nothing with beta = 0
    assert f(fp_only, 0.0, 1.0) == 0.0
    assert f(fn_only, 1.0, 0.0) == 0.0
    # special cases: (½, ½) is Dice with twice the smoothing, (1, 1) is Jaccard
    p, tt = (jnp.asarray(a) for a in gen((3, 6), rng(22)))
    assert_close(
        jaxloss.tversky_loss(p, tt, smooth=0.5, reduction="none"),
        jaxloss.dice_loss(p, tt, smooth=1.0, reduction="none"),
    )
    assert_close(
        jaxloss.tversky_loss(p, tt, alpha=1.0, beta=1.0, reduction="none"),
        jaxloss.jaccard_loss(p, tt, reduction="none"),
    )


def test_finite_difference_grads():
    """Order-2 finite differences (fwd and rev) of every loss, w.r.t. inputs and hyperparameters.

    One stacked check (one output per loss) so that it compiles once.
    """
    p, t = gen((2, 5), rng(23))
    pg, tg = gen_onehot((2, 4, 3), rng(24))
    T, TG = jnp.asarray(t), jnp.asarray(tg)

    def f(x, xg, s, a, b, e):
        out = [fn(x, T, **opts) for _, fn, _, opts in CASES]
        out += [
            jaxloss.generalized_dice_loss(xg, TG),
            jaxloss.dice_loss(x, T, smooth=s),
            jaxloss.tversky_loss(x, T, alpha=a, beta=b, smooth=s),
            jaxloss.generalized_dice_loss(xg, TG, epsilon=e),
        ]
        return jnp.stack(out)

    grads_f64(jax.jit(f), (p, pg, 0.7, 0.3, 0.6, 0.2), order=2)


# ----------------------------------------------------------------------------------------------
# Reductions, jit and vmap
# ----------------------------------------------------------------------------------------------

ALL = CASES + [("gdl", jaxloss.generalized_dice_loss, None, {})]
ALL_IDS = [c[0] for c in ALL]


@pytest.mark.parametrize("case", ALL, ids=ALL_IDS)
def test_weights_where_and_all_masked(case):
    _, fn, _, opts = case
    r = rng(25)
    p, t = gen_onehot((4, 3, 2), r)
    P, T = jnp.asarray(p), jnp.asarray(t)
    w = r.uniform(0.1, 2.0, size=(4,))
    m = np.asarray([True, False, True, True])
    none_mask = jnp.zeros(4, bool)

    @jax.jit
    def run(x):
        out = {
            red: fn(x, T, weights=jnp.asarray(w), where=jnp.asarray(m), reduction=red, **opts)
            for red in ("mean", "sum", "none")
        }
        masked = fn(x, T, where=none_mask, **opts)
        masked_grad = jax.grad(lambda z: fn(z, T, where=none_mask, **opts))(x)
        return out, fn(x, T, reduction="none", **opts), masked, masked_grad

    out, plain, masked, masked_grad = run(P)
    for reduction in ("mean", "sum", "none"):
        assert_close(out[reduction], reduce_ref(np.asarray(plain), w, m, reduction))
    assert float(out["none"][1]) == 0.0
    assert float(masked) == 0.0
    assert np.all(np.asarray(masked_grad) == 0.0)


@pytest.mark.parametrize("case", ALL, ids=ALL_IDS)
def test_jit_and_vmap_over_batch_equal_loop(case):
    _, fn, _, opts = case
    p, t = gen_onehot((3, 2, 4, 2), rng(26))
    P, T = jnp.asarray(p), jnp.asarray(t)
    f = lambda a, b: fn(a, b, reduction="none", **opts)
    loop = np.stack([np.asarray(f(P[i], T[i])) for i in range(3)])
    assert_close(jax.jit(jax.vmap(f))(P, T), loop)


@pytest.mark.parametrize(
    "fn,hp,values",
    [
        (jaxloss.dice_loss, "smooth", [0.0, 0.5, 2.0]),
        (jaxloss.jaccard_loss, "smooth", [0.0, 0.5, 2.0]),
        (jaxloss.tversky_loss, "smooth", [0.0, 0.5, 2.0]),
        (jaxloss.tversky_loss, "alpha", [0.0, 0.3, 1.0]),
        (jaxloss.tversky_loss, "beta", [0.0, 0.3, 1.0]),
        (jaxloss.generalized_dice_loss, "epsilon", [0.0, 1e-6, 1.0]),
    ],
    ids=[
        "dice-smooth",
        "jaccard-smooth",
        "tversky-smooth",
        "tversky-alpha",
        "tversky-beta",
        "gdl-epsilon",
    ],
)
def test_vmap_over_hyperparameter_equals_loop(fn, hp, values):
    p, t = gen_onehot((3, 4, 2), rng(27))
    P, T = jnp.asarray(p), jnp.asarray(t)
    f = lambda v: fn(P, T, reduction="none", **{hp: v})
    loop = np.stack([np.asarray(f(v)) for v in values])
    assert_close(jax.jit(jax.vmap(f))(jnp.asarray(values)), loop)


# ----------------------------------------------------------------------------------------------
# Edge cases
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("case", ALL, ids=ALL_IDS)
def test_empty_rows_and_exact_probabilities(case):
    _, fn, _, opts = case
    z = jnp.zeros((2, 3, 2))
    for s_opts in (
        {},
        {"smooth": 0.0} if "smooth" in opts or case[0] in ("dice", "jaccard") else {"epsilon": 0.0},
    ):
        kw = {**opts, **s_opts}

        @jax.jit
        def run(x, y):
            g = jax.grad(lambda a: fn(a, y, **kw))(x)
            h = jax.jit(jax.hessian(lambda a: fn(a, y, **kw)))(x)
            tangent = jax.jvp(lambda a: fn(a, y, **kw), (x,), (jnp.ones_like(x),))[1]
            return fn(x, y, reduction="none", **kw), g, h, tangent

        v, g, h, tangent = run(z, z)
        assert np.all(np.asarray(v) == 0.0), (kw, v)  # two empty masks agree perfectly
        assert_finite((g, h, tangent), f"{case[0]} {kw}")
    # probabilities exactly 0 and 1; a perfect prediction has loss 0
    t = jnp.asarray([[[1.0, 0.0], [0.0, 1.0], [1.0, 0.0]], [[0.0, 1.0], [0.0, 1.0], [0.0, 1.0]]])
    assert np.all(np.asarray(fn(t, t, reduction="none", **opts)) < 1e-6)
    wrong = 1.0 - t
    v, g = jax.jit(
        lambda x: (fn(x, t, reduction="none", **opts), jax.grad(lambda a: fn(a, t, **opts))(x))
    )(wrong)
    assert_finite((v, g))
    assert np.all(np.asarray(v) > 0.5)


def test_dice_smooth_one_on_empty_masks_and_integer_targets():
    z = jnp.zeros((2, 4))
    assert float(jaxloss.dice_loss(z, z)) == 0.0
    assert np.all(
        np.asarray(jax.grad(lambda a: jaxloss.dice_loss(a, z))(z)) > 0
    )  # predicting mass is penalised
    p, t = gen((3, 5), rng(28))
    ti = jnp.asarray(t, jnp.int32)
    tb = jnp.asarray(t > 0.5)
    for fn in (
        jaxloss.dice_loss,
        jaxloss.jaccard_loss,
        jaxloss.tversky_loss,
        jaxloss.generalized_dice_loss,
    ):
        ref = fn(jnp.asarray(p), jnp.asarray(t), reduction="none")
        assert_close(fn(jnp.asarray(p), ti, reduction="none"), ref)
        assert_close(fn(jnp.asarray(p), tb, reduction="none"), ref)


@pytest.mark.parametrize("dtype", [jnp.bfloat16, jnp.float16])
@pytest.mark.parametrize("case", ALL, ids=ALL_IDS)
def test_half_precision_inputs(dtype, case):
    _, fn, ref, opts = case
    p, t = gen_onehot((3, 4, 2), rng(29))
    P, T = jnp.asarray(p, dtype), jnp.asarray(t, dtype)
    pr, tr = np.asarray(P, np.float64), np.asarray(T, np.float64)
    val, g = ref(pr, tr, **opts) if ref is not None else ref_gdl(pr, tr)
    got, grad = jax.jit(
        lambda x: (
            fn(x, T, reduction="none", **opts),
            jax.grad(lambda a: fn(a, T, reduction="sum", **opts))(x),
        )
    )(P)
    assert got.dtype == jnp.float32
    assert_close(got, val, dtype=np.float32)
    assert grad.dtype == dtype
    assert_close(grad, g.astype(dtype), dtype=dtype, rtol=1e-2, atol=1e-2)


def test_edge_cases_under_debug_nans():
    z = jnp.zeros((2, 3, 2))
    o = jnp.ones((2, 3, 2))
    with debug_nans():
        for f in (
            lambda x: jaxloss.dice_loss(x, z, smooth=0.0),
            lambda x: jaxloss.jaccard_loss(x, z, smooth=0.0),
            lambda x: jaxloss.tversky_loss(x, z, alpha=0.0, beta=0.0, smooth=0.0),
            lambda x: jaxloss.generalized_dice_loss(x, z, epsilon=0.0),
            lambda x: jaxloss.generalized_dice_loss(x, o - x, epsilon=0.0),
        ):
            for x in (z, o):
                jax.block_until_ready(f(x))
                jax.block_until_ready(jax.grad(f)(x))


# ----------------------------------------------------------------------------------------------
# Trace-time errors and aliases
# ----------------------------------------------------------------------------------------------


def test_trace_time_errors():
    a = jnp.ones((2, 3))
    with pytest.raises(ValueError, match="dice_loss: 'probabilities' and 'targets'"):
        jaxloss.dice_loss(a, jnp.ones((2, 4)))
    with pytest.raises(ValueError, match="dice_loss: 'smooth'"):
        jaxloss.dice_loss(a, a, smooth=-1.0)
    with pytest.raises(ValueError, match="jaccard_loss: 'smooth'"):
        jaxloss.jaccard_loss(a, a, smooth=-1.0)
    for arg in ("alpha", "beta", "smooth"):
        with pytest.raises(ValueError, match=f"tversky_loss: '{arg}'"):
            jaxloss.tversky_loss(a, a, **{arg: -0.5})
    with pytest.raises(ValueError, match="generalized_dice_loss: 'epsilon'"):
        jaxloss.generalized_dice_loss(a, a, epsilon=-1.0)
    with pytest.raises(ValueError, match="dice_loss: 'axis'"):
        jaxloss.dice_loss(a, a, axis=2)
    with pytest.raises(ValueError, match="jaccard_loss: 'axis'"):
        jaxloss.jaccard_loss(a, a, axis=(1, -1))
    with pytest.raises(
        ValueError, match="dice_loss: 'probabilities' must have a leading batch axis"
    ):
        jaxloss.dice_loss(jnp.ones(3), jnp.ones(3))
    with pytest.raises(ValueError, match="generalized_dice_loss: 'class_axis'"):
        jaxloss.generalized_dice_loss(a, a, class_axis=0)
    with pytest.raises(ValueError, match="generalized_dice_loss: 'class_axis'"):
        jaxloss.generalized_dice_loss(a, a, class_axis=3)
    with pytest.raises(ValueError, match="generalized_dice_loss: 'probabilities'"):
        jaxloss.generalized_dice_loss(jnp.ones(3), jnp.ones(3))
    with pytest.raises(ValueError, match="tversky_loss: 'reduction'"):
        jaxloss.tversky_loss(a, a, reduction="batchmean")
    with pytest.raises(ValueError, match="dice_loss: 'weights'"):
        jaxloss.dice_loss(a, a, weights=jnp.ones(3))
    # traced hyperparameters are not checked at trace time
    jax.jit(lambda s: jaxloss.dice_loss(a, a, smooth=s))(1.0)


def test_every_alias_resolves():
    from jaxloss import _segmentation

    for name, fn in _segmentation.ALIASES.items():
        assert jaxloss.get(name) is fn
        assert jaxloss.get(name.upper()) is fn
    assert jaxloss.get("dice") is jaxloss.dice_loss
    assert jaxloss.get("dice_coeff_loss") is jaxloss.dice_loss
    assert jaxloss.get("tversky") is jaxloss.tversky_loss
    assert jaxloss.get("iou_loss") is jaxloss.jaccard_loss
    assert jaxloss.get("generalized_dice_loss") is jaxloss.generalized_dice_loss
