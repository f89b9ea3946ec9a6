"""Property-based fuzz suite (issue #6): valid input never gives a silent wrong number.

For every loss of ``jaxloss.list_losses()`` a generator in ``tests/fuzz_strategies.py`` draws valid
inputs (random small shapes including size-1 and empty batches, float16 / bfloat16 / float32 /
float64, the extremes of API.md §1) and random options, plus random ``weights`` and ``where``
(all-False included). Properties, where they apply (``Case`` fields say which):

* value (``"none"``, ``"mean"``, ``"sum"``) and ``jax.grad`` of ``"mean"`` are finite; the loss
  dtype is the computation dtype and gradients come back in the input dtypes;
* ``"none"`` ≥ 0 for the non-negative losses (``nonneg``; a negative rounding tolerance only for
  the divergences, whose non-negativity needs inputs that sum to exactly 1);
* ``"mean"`` / ``"sum"`` equal the weighted mean / sum of the ``"none"`` output, computed in float64
  NumPy (normaliser ``norm`` for the class-weighted / ignore_index cross-entropies; root after the
  reduction for RMSE);
* ``jax.jit`` equals eager;
* ``where=False`` rows equal dropping those rows (``batched`` inputs sliced);
* integer labels equal one-hot targets; a perfect prediction gives the known minimum.

Profiles (tests/conftest.py): ``ci`` (default, derandomized, bounded) and ``long``
(``pytest -m fuzz --hypothesis-profile=long tests/test_fuzz.py``). The section "regressions" at the
end holds plain tests for every bug the fuzzer found, with the minimal failing example.
"""

from __future__ import annotations

import functools
import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import jaxloss
from tests import fuzz_strategies as fs
from tests.helpers import cover_once_params

LOSSES = sorted(jaxloss.list_losses())


# FUZZ_LOG names a file that gets one line per example run, to count examples per loss. (An
# earlier wall-time budget that skipped examples once spent made hypothesis replay a different
# test than it shrank — "inconsistent data generation" — and was removed: bound a run with
# --hypothesis-profile instead.)
def _logged(key_fn):
    """Decorator: logs one line per example to FUZZ_LOG, when set."""

    def deco(fn):
        @functools.wraps(fn)
        def wrapper(*a, **k):
            if os.environ.get("FUZZ_LOG"):
                with open(os.environ["FUZZ_LOG"], "a") as fh:
                    fh.write(key_fn(*a, **k) + "\n")
            fn(*a, **k)

        return wrapper

    return deco


def test_every_loss_has_a_generator():
    assert sorted(fs.GEN) == LOSSES


def _tol(dt):
    return 1e-9 if fs.cdt(dt) == jnp.float64 else 2e-5


def _np(x):
    return np.asarray(jnp.asarray(x, jnp.float64))


def _finite(x, what):
    for leaf in jax.tree_util.tree_leaves(x):
        a = _np(leaf)
        assert np.all(np.isfinite(a)), f"non-finite {what}: {a}"


def _kw(case, w, m):
    return dict(case.hyper, **case.static, weights=w, where=m)


def _run(args, hyper, w, m, *, name, static, diff):
    f = jaxloss.get(name)
    kw = dict(hyper, **dict(static), weights=w, where=m)
    none = f(*args, **kw, reduction="none")
    mean = f(*args, **kw, reduction="mean")
    total = f(*args, **kw, reduction="sum")

    def g(*xs):
        a = list(args)
        for i, x in zip(diff, xs, strict=False):
            a[i] = x
        return f(*a, **kw, reduction="mean")

    grads = jax.grad(g, argnums=tuple(range(len(diff))))(*[args[i] for i in diff])
    return none, mean, total, grads


@functools.lru_cache(maxsize=None)
def _jitted(name, static, diff):
    # one jitted function per (loss, static options); JAX caches it per shape / dtype
    return jax.jit(functools.partial(_run, name=name, static=dict(static), diff=diff))


def _draw_weights_where(d, case, dt):
    shape = case.lshape
    w = None
    if d.draw(st.booleans()):
        w = jnp.asarray(
            d.draw(
                hnp.arrays(
                    np.float64,
                    shape,
                    elements=st.one_of(st.sampled_from([0.0, 1.0, 2.0]), st.floats(0, 3)),
                )
            ),
            fs.cdt(dt),
        )
    m = d.draw(st.sampled_from([None, "random", "none_valid"]))
    if m == "random":
        m = jnp.asarray(d.draw(hnp.arrays(np.bool_, shape, elements=st.booleans())))
    elif m == "none_valid":
        m = jnp.zeros(shape, bool)
    return w, m


def _expected(case, none, w, m):
    """float64 NumPy "mean" and "sum" from the "none" output (weights already applied)."""
    v = _np(none)
    den = np.ones(case.lshape)
    if w is not None:
        den = den * _np(w)
    if m is not None:
        den = den * np.asarray(m)
    if case.norm is not None:
        den = den * np.asarray(case.norm, np.float64)
    if case.kind == "ntxent":  # "mean" counts positive pairs: |P(i)| among the valid samples
        y = np.asarray(case.args[1])
        valid = np.ones(y.shape, bool) if m is None else np.asarray(m)
        same = (y[:, None] == y[None, :]) & valid[None, :] & ~np.eye(len(y), dtype=bool)
        den = den * same.sum(1)
    if case.kind == "rmse":
        s = np.sum(v * v)
        return (np.sqrt(s / den.sum()) if den.sum() != 0 else 0.0), np.sqrt(s)
    s = np.sum(v)
    return (s / den.sum() if den.sum() != 0 else 0.0), s


def _first_of_each_family(names):
    """Default tier: the first loss of each family module (tests/TIERS.md, third pass); the other
    nodes run in the exhaustive tier (``-m slow``), and every loss in the long profile."""
    return cover_once_params(
        [pytest.param(n, id=n) for n in names], lambda p: {jaxloss.get(p.values[0]).__module__}
    )


@pytest.mark.fuzz
@pytest.mark.parametrize("name", _first_of_each_family(LOSSES))
@given(d=st.data())
@_logged(lambda name, d: "properties[" + name + "]")
def test_fuzz_properties(name, d):
    dt = d.draw(fs.dtypes, label="dtype")
    case = fs.GEN[name](d, dt, name)
    w, m = _draw_weights_where(d, case, dt)
    f = jaxloss.get(name)
    static = tuple(sorted(case.static.items()))
    none, mean, total, grads = _jitted(name, static, case.diff)(case.args, case.hyper, w, m)
    cd = fs.cdt(dt)
    tol = _tol(dt)

    # finite values and gradients; dtypes of API.md §1
    _finite((none, mean, total), "value")
    if jnp.dtype(dt) == jnp.float16 and not all(np.all(np.isfinite(_np(g))) for g in grads):
        # float16 holds only |g| < 65520: where the exact gradient is larger (e.g. -t/p at
        # p = 6e-8, or 1/epsilon at a zero vector) the cast back to float16 overflows. Allowed
        # only there: the same values in float32 give finite gradients above the float16 range.
        args32 = [a.astype(jnp.float32) if a.dtype == jnp.float16 else a for a in case.args]
        grads32 = _jitted(name, static, case.diff)(args32, case.hyper, w, m)[3]
        _finite(grads32, "float32 gradient")
        for g16, g32 in zip(grads, grads32, strict=False):
            bad = ~np.isfinite(_np(g16))
            assert np.all(np.abs(_np(g32)[bad]) >= 65504.0), (_np(g16), _np(g32))
    else:
        _finite(grads, "gradient")
    assert none.shape == case.lshape and mean.shape == () and total.shape == ()
    assert none.dtype == mean.dtype == cd
    for i, g in zip(case.diff, grads, strict=False):
        assert g.dtype == case.args[i].dtype and g.shape == case.args[i].shape

    # masked entries of "none" are exact zeros
    if m is not None:
        assert np.all(_np(none)[~np.asarray(m)] == 0.0)

    # non-negativity
    if case.nonneg is not None:
        assert np.all(_np(none) >= -case.nonneg), _np(none)

    # "mean" / "sum" against the float64 weighted reduction of "none"
    mean_ref, sum_ref = _expected(case, none, w, m)
    scale = 1.0 + np.sum(np.abs(_np(none)))
    np.testing.assert_allclose(_np(total), sum_ref, rtol=tol, atol=tol * scale)
    np.testing.assert_allclose(_np(mean), mean_ref, rtol=tol, atol=tol * scale)
    if m is not None and not np.any(np.asarray(m)):
        assert float(mean) == 0.0 and float(total) == 0.0
        for g in grads:
            assert np.all(_np(g) == 0.0)

    # jit equals eager (eager sees concrete hyperparameters: their validation runs too)
    eager = f(*case.args, **_kw(case, w, m), reduction="mean")
    assert eager.dtype == cd
    np.testing.assert_allclose(_np(eager), _np(mean), rtol=tol, atol=tol * scale)

    # where=False rows equal dropping those rows
    if case.batched and case.lshape and case.lshape[0] > 0 and m is not None and m.ndim == 1:
        keep = np.asarray(m)
        sub = [a[keep] if i in case.batched else a for i, a in enumerate(case.args)]
        wsub = None if w is None else w[keep]
        for red in ("sum", "mean"):
            dropped = f(*sub, **_kw(case, wsub, None), reduction=red)
            np.testing.assert_allclose(
                _np(dropped), _np(mean if red == "mean" else total), rtol=tol, atol=tol * scale
            )


# ------------------------------------------------------------- integer labels = one-hot targets
def _onehot(y, C):
    return (np.arange(C) == np.asarray(y)[..., None]).astype(np.float64)


def _close(a, b, dt, scale=1.0):
    tol = _tol(dt)
    np.testing.assert_allclose(_np(a), _np(b), rtol=tol, atol=tol * (1.0 + scale))


@pytest.mark.fuzz
@given(d=st.data())
@_logged(lambda d: "sparse_equals_dense_softmax")
def test_fuzz_sparse_equals_dense_softmax(d):
    """sparse_softmax_cross_entropy(x, y) == softmax_cross_entropy(x, one_hot(y)).

    Options included.
    """
    dt = d.draw(fs.dtypes, label="dtype")
    B, C = fs._bc(d)
    y = fs.ints(d, (B,), 0, C - 1)
    x = fs.mask_nonlabel(d, fs.arr(d, (B, C), -30, 30, fs.LOGIT_SPECIALS), y)
    ls = fs.pick(d, 0.0, 0.1, 1.0)
    zl = fs.pick(d, 0.0, 1e-4)
    cw = None
    if ls == 0.0 and zl == 0.0 and d.draw(st.booleans()):
        cw = fs.class_weights(d, C, dt)  # one-hot: Σ_c w_c t_c ℓ_c = w_y ℓ_y
    X = jnp.asarray(x, dt)
    kw = dict(label_smoothing=ls, z_loss=zl, class_weights=cw)
    a = jaxloss.sparse_softmax_cross_entropy(X, jnp.asarray(y), **kw, reduction="none")
    b = jaxloss.softmax_cross_entropy(X, jnp.asarray(_onehot(y, C), dt), **kw, reduction="none")
    _close(a, b, dt, np.abs(_np(b)).sum())
    if cw is None:
        _close(
            jaxloss.sparse_softmax_cross_entropy(X, jnp.asarray(y), **kw),
            jaxloss.softmax_cross_entropy(X, jnp.asarray(_onehot(y, C), dt), **kw),
            dt,
            np.abs(_np(b)).sum(),
        )


@pytest.mark.fuzz
@given(d=st.data())
@_logged(lambda d: "sparse_equals_dense_probabilities")
def test_fuzz_sparse_equals_dense_probabilities(d):
    """sparse_categorical_cross_entropy(p, y) == categorical_cross_entropy(p, one_hot(y));
    softmax_focal_loss(x, y) == categorical_focal_loss(softmax(x), one_hot(y))."""
    dt = d.draw(fs.dtypes, label="dtype")
    B, C = fs._bc(d)
    y = fs.ints(d, (B,), 0, C - 1)
    p = fs.simplex(d, (B, C))
    P = jnp.asarray(p, dt)
    a = jaxloss.sparse_categorical_cross_entropy(P, jnp.asarray(y), reduction="none")
    b = jaxloss.categorical_cross_entropy(P, jnp.asarray(_onehot(y, C), dt), reduction="none")
    _close(a, b, dt, np.abs(_np(b)).sum())
    x = fs.arr(d, (B, C), -10, 10, (0.0,))
    sm = np.exp(x - x.max(-1, keepdims=True))
    sm = sm / sm.sum(-1, keepdims=True)
    g = fs.pick(d, 0.0, 0.5, 2.0)
    a = jaxloss.softmax_focal_loss(jnp.asarray(x), jnp.asarray(y), gamma=g, reduction="none")
    b = jaxloss.categorical_focal_loss(
        jnp.asarray(sm), jnp.asarray(_onehot(y, C)), gamma=g, reduction="none"
    )
    _close(a, b, jnp.float64, np.abs(_np(b)).sum())


@pytest.mark.fuzz
@given(d=st.data())
@_logged(lambda d: "nll_and_linear_equal_sparse_softmax")
def test_fuzz_nll_and_linear_equal_sparse_softmax(d):
    """nll_loss(log_softmax(x)) and linear_cross_entropy(h, W, bias) equal the sparse softmax
    cross-entropy of the same logits, with class_weights / ignore_index / where, every reduction."""
    dt = d.draw(st.sampled_from([jnp.float32, jnp.float64]), label="dtype")
    B, C = fs._bc(d)
    y = fs.ints(d, (B,), 0, C - 1)
    x = fs.mask_nonlabel(d, fs.arr(d, (B, C), -30, 30, fs.LOGIT_SPECIALS), y)
    ig, y = fs._ignore(d, y, C)
    cw = None if d.draw(st.booleans()) else fs.class_weights(d, C, dt)
    m = jnp.asarray(d.draw(hnp.arrays(np.bool_, (B,), elements=st.booleans())))
    X, Y = jnp.asarray(x, dt), jnp.asarray(y)
    kw = dict(class_weights=cw, ignore_index=ig, where=m)
    for red in ("none", "sum", "mean"):
        ref = jaxloss.sparse_softmax_cross_entropy(X, Y, **kw, reduction=red)
        got = jaxloss.nll_loss(jax.nn.log_softmax(X, axis=-1), Y, **kw, reduction=red)
        _close(got, ref, dt, np.abs(_np(ref)).sum())
    # linear: logits = h @ W + bias with a one-hot h picking a row of W
    D = C
    h = np.eye(D)[np.clip(y, 0, C - 1)] if B else np.zeros((0, D))
    W = fs.arr(d, (D, C), -10, 10, (0.0,))
    bias = fs.arr(d, (C,), -10, 10, (0.0,))
    ls = fs.pick(d, 0.0, 0.1)
    logits = jnp.asarray(h, dt) @ jnp.asarray(W, dt) + jnp.asarray(bias, dt)[None, :]
    for red in ("none", "sum", "mean"):
        ref = jaxloss.sparse_softmax_cross_entropy(
            logits, Y, **kw, label_smoothing=ls, reduction=red
        )
        got = jaxloss.linear_cross_entropy(
            jnp.asarray(h, dt),
            jnp.asarray(W, dt),
            Y,
            bias=jnp.asarray(bias, dt),
            **kw,
            label_smoothing=ls,
            chunk_size=2,
            reduction=red,
        )
        _close(got, ref, dt, np.abs(_np(ref)).sum())


@pytest.mark.fuzz
@given(d=st.data())
@_logged(lambda d: "kl_log_equals_probabilities")
def test_fuzz_kl_log_equals_probabilities(d):
    """kl_divergence(log p, t) == kl_divergence_from_probabilities(p, t) (t = 0 where p = 0)."""
    dt = d.draw(fs.dtypes, label="dtype")
    B, C = fs._bc(d)
    p, t = fs.simplex(d, (B, C)), fs.simplex(d, (B, C))
    # both losses must see the same distribution: log p rounded once to dt (a log taken in float16
    # is off by float16 rounding), p = exp of that in the computation dtype, and t = 0 wherever
    # log p < -100 *after* rounding: p = 0 there (8.9e-167 in float16) is an infinite, true KL,
    # and below e^-100 the probability form clamps log p at -100 by design (PyTorch's convention;
    # p = 1.1e-308 gives 100, not 709)
    with np.errstate(divide="ignore"):
        L = fs.J(np.log(_np(fs.J(p, dt))), dt)
    P = jnp.asarray(np.exp(_np(L)), fs.cdt(dt))
    # (and where exp(log p) is subnormal in the computation dtype, which XLA flushes to 0)
    floor = max(-100.0, float(np.log(jnp.finfo(fs.cdt(dt)).tiny)))
    t = _np(fs.J(np.where(_np(L) >= floor, t, 0.0), dt))
    a = jaxloss.kl_divergence(L, fs.J(t, dt), reduction="none")
    b = jaxloss.kl_divergence_from_probabilities(P, jnp.asarray(t, fs.cdt(dt)), reduction="none")
    _close(a, b, dt, np.abs(_np(b)).sum())


# ----------------------------------------------------------------- perfect prediction = minimum
def _perfect(d, dt, name):
    """(args, kwargs, minimum of each "none" entry, absolute tolerance) for a perfect prediction."""
    if name in fs.PERFECT:  # the optax-parity losses keep their cases next to their generators
        return fs.PERFECT[name](d, dt, name)
    B = fs.pick(d, 1, 3)
    C = fs.pick(d, 1, 3)
    J = fs.J
    y = fs.ints(d, (B,), 0, C - 1)
    oh = _onehot(y, C)
    pm = fs.pm1(d, (B,))
    big = np.where(oh > 0, 1e4, fs.pick(d, 0.0, -1e4, -np.inf))
    v = fs.arr(d, (B, C), -10, 10, (0.0,))
    eps32 = 4 * float(jnp.finfo(fs.cdt(dt)).eps)
    if name in (
        "mean_squared_error",
        "mean_absolute_error",
        "root_mean_squared_error",
        "log_cosh",
        "huber_loss",
        "smooth_l1_loss",
        "quantile_loss",
        "mean_squared_logarithmic_error",
        "mean_absolute_percentage_error",
    ):
        return [J(v, dt), J(v, dt)], {}, 0.0, 0.0
    if name in ("hinge_loss", "squared_hinge_loss"):
        margin = fs.pick(d, 0.0, 1.0)
        return [J(pm * (margin + np.abs(v[:, 0])), dt), J(pm, dt)], {"margin": margin}, 0.0, 0.0
    if name == "soft_margin_loss":
        return [J(pm * 1e4, dt), J(pm, dt)], {}, 0.0, 0.0
    if name in (
        "sigmoid_binary_cross_entropy",
        "sigmoid_focal_loss",
        "multilabel_soft_margin_loss",
    ):
        hard = fs.probs01(d, (B, C), hard=True)
        s = fs.pick(d, 1e4, np.inf) if name != "multilabel_soft_margin_loss" else 1e4
        return [J(np.where(hard > 0, s, -s), dt), J(hard, dt)], {}, 0.0, 0.0
    if name in (
        "binary_cross_entropy",
        "binary_focal_loss",
        "dice_loss",
        "jaccard_loss",
        "tversky_loss",
    ):
        hard = fs.probs01(d, (B, C), hard=True)
        return [J(hard, dt), J(hard, dt)], {}, 0.0, 0.0
    if name == "softmax_cross_entropy":
        return [J(big, dt), J(oh, dt)], {}, 0.0, 0.0
    if name in ("sparse_softmax_cross_entropy", "softmax_focal_loss", "poly1_cross_entropy"):
        return [J(big, dt), jnp.asarray(y)], {}, 0.0, 0.0
    if name in ("multiclass_hinge_loss", "multi_margin_loss"):
        return [J(np.where(oh > 0, 5.0, np.minimum(v, 3.0)), dt), jnp.asarray(y)], {}, 0.0, 0.0
    if name == "nll_loss":
        return [J(np.where(oh > 0, 0.0, -np.inf), dt), jnp.asarray(y)], {}, 0.0, 0.0
    if name == "multilabel_margin_loss":  # targets {y} (then -1 padding) 5, the others ≤ 3
        ids = np.where(np.arange(C) == 0, y[:, None], -1).astype(np.int32)
        return [J(np.where(oh > 0, 5.0, np.minimum(v, 3.0)), dt), jnp.asarray(ids)], {}, 0.0, 0.0
    if name == "generalized_cross_entropy":
        return [J(oh, dt), jnp.asarray(y)], {"q": fs.pick(d, 0.1, 0.5, 1.0)}, 0.0, 0.0
    if name in (
        "categorical_cross_entropy",
        "categorical_focal_loss",
        "kl_divergence_from_probabilities",
    ):
        return [J(oh, dt), J(oh, dt)], {}, 0.0, 0.0
    if name == "sparse_categorical_cross_entropy":
        return [J(oh, dt), jnp.asarray(y)], {}, 0.0, 0.0
    if name in ("kl_divergence", "js_divergence"):
        t = J(fs.simplex(d, (B, C)), dt)  # p = t exactly: log-predictions in the compute dtype
        return [jnp.log(t.astype(fs.cdt(dt))), t], {}, 0.0, eps32
    if name == "generalized_dice_loss":
        return [J(oh[:, None, :], dt), J(oh[:, None, :], dt)], {}, 0.0, eps32
    if name == "z_loss":
        return [J(np.where(oh > 0, 0.0, -np.inf), dt)], {}, 0.0, 0.0
    if name in ("cosine_distance", "cosine_similarity_loss", "cosine_embedding_loss"):
        # nonzero rows *in the input dtype* (4.9e-129 is 0 in float16: a zero vector, cos = 0)
        v = _np(J(v, dt))
        x = np.where(np.abs(v) > 0, v, 1.0)
        if name == "cosine_embedding_loss":
            # PyTorch's ε = 1e-12 inside the norms: 1 − ‖x‖²/(‖x‖² + ε) = ε/(‖x‖² + ε), not 0
            # ε is float32(1e-12) = 9.99999996e-13, as PyTorch's value shows (0.99990000999860 at
            # x = [1e-8] in float64, not the 0.99990000999900 of an exact 1e-12)
            e12 = float(np.float32(1e-12))
            sq = np.sum(x * x, axis=-1)
            return [J(x, dt), J(x, dt), J(np.ones(B), dt)], {}, e12 / (sq + e12), eps32
        # cos(x, x) = ‖x‖² / max(‖x‖, ε)² with ε = 1e-8: 1 unless ‖x‖ < ε (5.6e-230 in float64)
        sq = np.sum(x * x, axis=-1)
        cos = np.where(sq >= 1e-16, 1.0, sq / 1e-16)
        return [J(x, dt), J(x, dt)], {}, (1.0 - cos if name == "cosine_distance" else -cos), eps32
    if name == "triplet_margin_loss":
        return [J(v, dt), J(v, dt), J(v + 10.0, dt)], {"epsilon": 0.0}, 0.0, 0.0
    if name == "triplet_margin_with_distance_loss":  # d(a, p) = √D·1e-6, d(a, n) ≈ 10√D
        return [J(v, dt), J(v, dt), J(v + 10.0, dt)], {}, 0.0, 0.0
    if name == "circle_loss":
        # positives identical (d = 0), negatives opposite (d = 2 ≥ 1 + m: weight 0, logit 0): the
        # loss is positive for every γ; ℓ_i = softplus(log|P_i| + log|N_i| − γ m²), 0 if a set is
        # empty (γ = 80, m = 0.4 by default)
        lab = fs.ints(d, (fs.pick(d, 2, 4),), 0, 1)
        e = np.where(lab[:, None] == 0, [[1.0, 0.0]], [[-1.0, 0.0]])
        npos = (lab[:, None] == lab[None, :]).sum(1) - 1
        nneg = (lab[:, None] != lab[None, :]).sum(1)
        with np.errstate(divide="ignore"):
            z = np.log(npos) + np.log(nneg) - 80.0 * 0.4**2
        minimum = np.where((npos > 0) & (nneg > 0), np.logaddexp(0.0, z), 0.0)
        return [J(e, dt), jnp.asarray(lab)], {}, minimum, eps32
    if name == "margin_ranking_loss":
        return [J(pm * 2.0, dt), J(-pm * 2.0, dt), J(pm, dt)], {"margin": 1.0}, 0.0, 0.0
    if name == "hinge_embedding_loss":
        return [J(np.where(pm > 0, 0.0, 2.0), dt), J(pm, dt)], {}, 0.0, 0.0
    if name == "contrastive_loss":
        t = (pm > 0).astype(np.float64)
        return [J(np.where(t > 0, 0.0, 2.0), dt), J(t, dt)], {}, 0.0, 0.0
    if name == "linear_cross_entropy":
        lab = np.full((B,), y[0], np.int32)
        bias = np.where(np.arange(C) == y[0], 0.0, -np.inf)
        h = fs.arr(d, (B, 2), -10, 10, (0.0,))
        return [J(h, dt), J(np.ones((2, C)), dt), jnp.asarray(lab)], {"bias": J(bias, dt)}, 0.0, 0.0
    if name == "dpo_loss":  # Δ = 1e4: the margin saturates the loss at its infimum 0
        z, lo = J(np.zeros(B), dt), J(np.full(B, -1e4), dt)
        return [z, lo, lo, z], {"beta": 1.0}, 0.0, 0.0
    if name == "simpo_loss":
        return [J(np.zeros(B), dt), J(np.full(B, -1e4), dt)], {}, 0.0, 0.0
    if name == "orpo_loss":  # chosen log-prob 0: NLL 0, odds ratio saturated
        return [J(np.zeros(B), dt), J(np.full(B, -1e4), dt)], {}, 0.0, 0.0
    if name == "kto_loss":
        good = pm > 0
        lp = np.where(good, 0.0, -1e4)
        return [J(lp, dt), J(-1e4 - lp, dt), jnp.asarray(good)], {}, 0.0, 0.0
    if name == "distillation_loss":  # teacher = student
        return [J(v, dt), J(v, dt)], {}, 0.0, eps32
    if name == "linear_distillation_loss":  # teacher head = student head
        h, w = fs.arr(d, (B, 2), -10, 10, (0.0,)), fs.arr(d, (2, C), -3, 3, (0.0,))
        return [J(h, dt), J(w, dt), J(h, dt), J(w, dt)], {}, 0.0, eps32
    if name == "ctc_loss":
        x = np.full((B, 1, 3), -1e4)
        x[:, 0, 1] = 1e4
        return (
            [
                J(x, dt),
                J(np.zeros((B, 1)), dt),
                jnp.ones((B, 1), jnp.int32),
                J(np.zeros((B, 1)), dt),
            ],
            {},
            0.0,
            0.0,
        )
    return None


# minimum depends on the data (GRPO: a signed surrogate, bounded below by −(1 + ε_high)·max A)
NO_MINIMUM = {"poisson_nll_loss", "gaussian_nll_loss", "ntxent_loss", "grpo_loss"}


@pytest.mark.fuzz
@pytest.mark.parametrize("name", _first_of_each_family([n for n in LOSSES if n not in NO_MINIMUM]))
@given(d=st.data())
@_logged(lambda name, d: "perfect[" + name + "]")
def test_fuzz_perfect_prediction(name, d):
    dt = d.draw(fs.dtypes, label="dtype")
    args, kw, minimum, atol = _perfect(d, dt, name)
    f = jaxloss.get(name)
    out = f(*args, **kw, reduction="none")
    np.testing.assert_allclose(_np(out), minimum, rtol=0, atol=atol)
    g = jax.grad(lambda a: f(a, *args[1:], **kw))(args[0])
    _finite(g, "gradient at the minimum")


# ------------------------------------------------------------------ regressions
# Plain tests (no hypothesis) with the minimal failing example of every bug the fuzzer found.


def test_regression_ntxent_empty_batch():
    e, y = jnp.zeros((0, 2)), jnp.zeros((0,), jnp.int32)
    for red, shape in (("mean", ()), ("sum", ()), ("none", (0,))):
        out = jaxloss.ntxent_loss(e, y, reduction=red)
        assert out.shape == shape and np.all(_np(out) == 0.0)
    assert jax.grad(jaxloss.ntxent_loss)(e, y).shape == (0, 2)


def test_regression_circle_empty_batch():
    # B = 0 (or no references) raised "zero-size array to reduction operation" in the max
    e, y = jnp.zeros((0, 2)), jnp.zeros((0,), jnp.int32)
    for red in ("mean", "sum"):
        assert float(jaxloss.circle_loss(e, y, reduction=red)) == 0.0
    assert jaxloss.circle_loss(e, y, reduction="none").shape == (0,)
    assert jax.grad(jaxloss.circle_loss)(e, y).shape == (0, 2)
    out = jaxloss.circle_loss(
        jnp.ones((2, 2)), jnp.zeros(2, jnp.int32), ref_embeddings=e, ref_labels=y, reduction="none"
    )
    np.testing.assert_array_equal(out, [0.0, 0.0])


def test_regression_float16_gradient_overflow_is_the_exact_gradient():
    """Found by the fuzzer (float16, p = [6e-8, 1, 6e-8], t = [1, 0, 0]): the gradient -t/p =
    -1.7e7 overflows float16 on the cast back to the input dtype. Not a formula bug: float32
    gives the exact finite value (the fuzz property allows exactly this case)."""
    p = jnp.array([[5.96e-08, 1.0, 5.96e-08]], jnp.float16)
    t = jnp.array([[1.0, 0.0, 0.0]], jnp.float16)
    g32 = jax.grad(jaxloss.categorical_cross_entropy)(p.astype(jnp.float32), t)
    assert np.isfinite(_np(g32)).all() and abs(float(g32[0, 0])) > 65504.0
    g16 = jax.grad(jaxloss.categorical_cross_entropy)(p, t)
    assert g16.dtype == jnp.float16 and np.isneginf(_np(g16)[0, 0])


def test_regression_cosine_distance_identical_vectors_nonnegative():
    x = jnp.array([[100.0, 0.0, 1.0]], jnp.float32)
    assert float(jaxloss.cosine_distance(x, x, reduction="none")[0]) >= 0.0


@pytest.mark.parametrize("name", ["sigmoid_binary_cross_entropy", "sigmoid_focal_loss"])
@pytest.mark.parametrize("dt", [jnp.float16, jnp.float32])
def test_regression_target_gradient_at_infinite_logit(name, dt):
    """Found by the fuzzer (float16, logits [+inf], targets [1]): the value was 0 and ∂/∂logits 0,
    but ∂/∂targets was NaN — an inf from the unselected x < 0 branch met a zero cotangent. Now the
    derivative in the targets is 0 at an infinite logit whose sign agrees with a hard target (the
    exact one-sided limit is ∓inf; 0 keeps masked and zero-weight entries NaN-free), in reverse
    and forward mode, with the options that reach that code."""
    f = jaxloss.get(name)
    x = jnp.array([jnp.inf, -jnp.inf, 2.0], dt)
    t = jnp.array([1.0, 0.0, 1.0], dt)
    opts = (
        [{}, {"pos_weight": 3.0}]
        if name.startswith("sigmoid_b")
        else [{}, {"alpha": None, "gamma": 0.5}]
    )
    for kw in opts:
        for red_kw in (
            {},
            {"where": jnp.array([False, True, True])},
            {"weights": jnp.array([0.0, 0.0, 1.0], dt)},
        ):
            loss = lambda a, b: f(a, b, **kw, **red_kw, reduction="sum")
            assert np.all(_np(f(x, t, **kw, reduction="none"))[:2] == 0.0)
            gx, gt = jax.grad(loss, argnums=(0, 1))(x, t)
            assert np.all(_np(gx)[:2] == 0.0) and np.all(_np(gt)[:2] == 0.0), (kw, red_kw, gx, gt)
            assert np.all(np.isfinite(_np(gx))) and np.all(np.isfinite(_np(gt)))
            # forward mode: the same directional derivatives
            _, jt = jax.jvp(loss, (x, t), (jnp.zeros_like(x), jnp.ones_like(t)))
            np.testing.assert_allclose(float(jt), float(_np(gt).sum()), rtol=1e-3)


def test_regression_label_weight_vanishing_with_smoothing():
    """Found by the fuzzer (float16 logits [[0, 0, 0]], label 1, class_weights [1, 2.2e-313, 1],
    label_smoothing 0.1): the float64 reference kept the denormal weight while the float32
    computation holds 0 — a test defect (the generator now rounds hyperparameters to the
    computation dtype). The loss's behaviour there is PyTorch's definition, pinned here in closed
    form (all logits 0: lse − x_c = log 3): mean = [w_y·0.9 + 0.1/3·Σw]·log 3 / w_y, which grows
    like 1/w_y, and exactly 0 once Σ w_y is 0 (the nothing-valid rule; PyTorch gives nan)."""
    x = jnp.zeros((1, 3))
    for wy in (1.0, 1e-3, 1e-30):
        w = jnp.array([1.0, wy, 1.0])
        got = jaxloss.sparse_softmax_cross_entropy(
            x, jnp.array([1]), class_weights=w, label_smoothing=0.1
        )
        want = (wy * 0.9 + 0.1 / 3 * (2.0 + wy)) * np.log(3.0) / wy
        np.testing.assert_allclose(float(got), want, rtol=1e-12)
    x16 = jnp.zeros((1, 3), jnp.float16)
    w = jnp.array([1.0, 2.2250738585e-313, 1.0])
    out = jaxloss.sparse_softmax_cross_entropy(
        x16, jnp.array([1]), class_weights=w, label_smoothing=0.1
    )
    assert out.dtype == jnp.float32 and float(out) == 0.0
    g = jax.grad(
        lambda a: jaxloss.sparse_softmax_cross_entropy(
            a, jnp.array([1]), class_weights=w, label_smoothing=0.1
        )
    )(x16)
    assert np.all(_np(g) == 0.0)


@pytest.mark.parametrize("method", ["forward_grad", "recompute", "checkpoint"])
def test_regression_linear_ce_fully_masked_vocabulary_without_valid_tokens(method):
    """Found by the fuzzer (float16, hidden [0, 2], weight [[0], [0]], bias [-inf], no labels, a
    traced label_smoothing of 0): the value was 0 but ∂/∂weight and ∂/∂bias were NaN. The padding
    row's statistics were lse = z_y = −inf, and K (existing classes) = 0 gave ε/K = 0/0. A batch
    with no valid token is valid whatever the bias masks: gradients are exact zeros. Also with
    tokens that are all dropped by ``where``, and with smoothing and z-loss traced."""
    for B, where in ((0, None), (3, jnp.zeros((3,), bool))):
        h = jnp.ones((B, 2), jnp.float16)
        w = jnp.zeros((2, 1), jnp.float16)
        bias = jnp.array([-jnp.inf], jnp.float16)
        y = jnp.zeros((B,), jnp.int32)

        def f(h, w, bias, ls, zl):
            return jaxloss.linear_cross_entropy(
                h,
                w,
                y,
                bias=bias,
                where=where,
                label_smoothing=ls,
                z_loss=zl,
                chunk_size=2,
                method=method,
            )

        args = (h, w, bias, jnp.float32(0.0), jnp.float32(1e-4))
        assert float(jax.jit(f)(*args)) == 0.0
        for g in jax.jit(jax.grad(f, argnums=(0, 1, 2, 3, 4)))(*args):
            assert np.all(_np(g) == 0.0), (B, g)


@pytest.mark.parametrize("method", ["forward_grad", "recompute", "checkpoint"])
def test_regression_linear_ce_one_class_smoothing_is_exactly_zero(method):
    """Found by the fuzzer (float16, hidden [[100, 0]], weight [[-1], [0]], one class, class_weights
    [0.07], label_smoothing 0.1): the loss was -2.98e-9 < 0. The smoothing sum was computed as
    W_f·lse − Σ w_c z_c, whose rounding residue at lse = z = -100 is negative; it is now taken
    relative to the row max, which makes a one-class row exactly 0."""
    h = jnp.array([[100.0, 0.0]], jnp.float16)
    w = jnp.array([[-1.0], [0.0]], jnp.float16)
    out = jaxloss.linear_cross_entropy(
        h,
        w,
        jnp.array([0]),
        class_weights=jnp.array([0.07]),
        label_smoothing=0.1,
        method=method,
        reduction="none",
    )
    assert float(out[0]) == 0.0


@pytest.mark.parametrize("name", ["tversky_loss", "dice_loss", "jaccard_loss"])
def test_regression_segmentation_gradient_with_a_tiny_denominator(name):
    """Found by the fuzzer (bfloat16 probabilities [[0, 0, 0, 0]], targets 8.8e-37 each, smooth 0,
    tversky alpha = beta = 0.3): the gradient was NaN. Autodiff of n/d forms −n/d², and d² = 1e-72
    underflows to 0 in float32 (0/0 = NaN at n = 0); the exact gradient is finite. The same holds
    for dice and jaccard; the reference is the float64 derivative of the same formula."""
    p = jnp.zeros((1, 4), jnp.bfloat16)
    t = jnp.full((1, 4), 8.84436922e-37, jnp.bfloat16)
    kw = {"alpha": 0.3, "beta": 0.3} if name == "tversky_loss" else {}
    f = jaxloss.get(name)
    g = jax.grad(lambda a: f(a, t, smooth=0.0, **kw))(p)
    g64 = jax.grad(lambda a: f(a, t.astype(jnp.float64), smooth=0.0, **kw))(p.astype(jnp.float64))
    assert np.all(np.isfinite(_np(g)))
    np.testing.assert_allclose(_np(g), _np(g64), rtol=1e-2)


def test_regression_cosine_perfect_prediction_references():
    """Found by the fuzzer's perfect-prediction test — reference defects, not loss bugs: (1) a row
    drawn as 4.9e-129 is a zero vector in float16, whose cosine is 0 by convention (distance 1),
    so the generator now tests "nonzero" in the input dtype; (2) cosine_embedding_loss(x, x, +1)
    is ε/(‖x‖² + ε) with PyTorch's ε = float32(1e-12) inside the norms (1e-12 at x = [1] in
    float64), not 0."""
    z16 = jnp.array([[4.9e-129]], jnp.float16)
    assert float(jaxloss.cosine_distance(z16, z16, reduction="none")[0]) == 1.0
    # likewise below ε = 1e-8: cos(x, x) = ‖x‖²/ε², e.g. 0 for x = 5.6e-230 (‖x‖² underflows)
    tiny = jnp.array([[5.57997213e-230]])
    assert float(jaxloss.cosine_distance(tiny, tiny, reduction="none")[0]) == 1.0
    x = jnp.array([[1.0]])
    out = jaxloss.cosine_embedding_loss(x, x, jnp.array([1.0]), reduction="none")
    np.testing.assert_allclose(_np(out), [1e-12 / (1.0 + 1e-12)], rtol=1e-3)
    torch = pytest.importorskip("torch")  # the same value in PyTorch, where installed
    tx = torch.tensor([[1.0]], dtype=torch.float64)
    want = torch.nn.functional.cosine_embedding_loss(
        tx, tx, torch.tensor([1.0], dtype=torch.float64), reduction="none"
    )
    np.testing.assert_allclose(_np(out), want.numpy(), rtol=1e-3)


def test_regression_kl_log_and_probability_forms_differ_only_by_the_clamp():
    """Found by the fuzzer's "log form = probability form" test — reference defects: the test took
    log p in float16 (off by float16 rounding) and kept t > 0 where p rounds to 0. The one real
    difference between the forms is documented: below e^-100 the probability form clamps log p at
    -100 (PyTorch), so p = 1.1e-308 with t = 1 gives 100 there and log(1/p) = 709.09 in log form."""
    p = jnp.array([[1.1125369292536007e-308, 0.5, 0.5]])
    t = jnp.array([[1.0, 0.0, 0.0]])
    a = jaxloss.kl_divergence(jnp.asarray(np.log(_np(p))), t, reduction="none")  # NumPy log: no FTZ
    b = jaxloss.kl_divergence_from_probabilities(p, t, reduction="none")
    np.testing.assert_allclose(_np(a), [-np.log(1.1125369292536007e-308)], rtol=1e-12)
    np.testing.assert_allclose(_np(b), [100.0], rtol=1e-12)


def test_regression_generalized_dice_target_gradient_with_a_denormal_class_volume():
    # long-profile finding: a present class of volume 1.7e-227 (float64) gave a NaN target
    # gradient (d(min T / T_c)/dT_c = -min T / T_c², and T_c² underflows to 0)
    p = np.zeros((1, 4, 3))
    t = np.zeros((1, 4, 3))
    t[0, 2, 0], t[0, 2, 1] = 1.0, 1.71188121e-227

    def f(p, t):
        return jaxloss.generalized_dice_loss(p, t, epsilon=0.0)

    gp, gt = jax.jit(jax.grad(f, argnums=(0, 1)))(jnp.asarray(p), jnp.asarray(t))
    assert np.all(np.isfinite(np.asarray(gp))) and np.all(np.isfinite(np.asarray(gt)))
    assert float(f(jnp.asarray(p), jnp.asarray(t))) == 1.0  # nothing predicted: Dice 0
