"""Hypothesis strategies and per-loss input generators for tests/test_fuzz.py.

Every generator ``GEN[name](d, dt)`` draws one VALID input for loss ``name`` in input dtype ``dt``
(``d`` is a ``hypothesis.strategies.DataObject``) and returns a :class:`Case` that also says which
properties apply. Values are drawn as float64 NumPy arrays from small shape sets (JAX compiles per
shape / dtype) mixing ordinary floats with the extremes of API.md §1 (±1e4 logits, ``-inf`` on
zero-target classes, ±inf binary logits whose sign agrees with a hard target, exact 0 / 1
probabilities, zero vectors), then cast to ``dt``.
"""

from __future__ import annotations

import dataclasses

import jax.numpy as jnp
import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

DTYPES = [jnp.float16, jnp.bfloat16, jnp.float32, jnp.float64]
dtypes = st.sampled_from(DTYPES)
INF = float("inf")


@dataclasses.dataclass
class Case:
    args: list  # positional inputs (jax arrays)
    hyper: dict  # traceable hyperparameters (python floats / arrays / None)
    static: dict  # static options (ignore_index, full, swap, ...)
    diff: tuple  # indices of the float args differentiated
    lshape: tuple  # shape of the reduction="none" output
    batched: tuple = ()  # args with a leading batch axis (rows droppable by `where`)
    nonneg: float | None = 0.0  # tolerated negative rounding of "none"; None: may be negative
    norm: np.ndarray | None = None  # per-entry normaliser of "mean" (times weights); None: ones
    kind: str = "plain"  # "rmse": the root is taken after the reduction


def cdt(dt):
    """Computation dtype of API.md §1."""
    return jnp.dtype(jnp.float64) if jnp.dtype(dt) == jnp.float64 else jnp.dtype(jnp.float32)


def arr(d, shape, lo, hi, specials=()):
    el = st.floats(lo, hi, allow_nan=False, allow_infinity=False)
    if specials:
        el = st.one_of(st.sampled_from(list(specials)), el)
    return d.draw(hnp.arrays(np.float64, shape, elements=el))


def ints(d, shape, lo, hi):
    return d.draw(hnp.arrays(np.int32, shape, elements=st.integers(lo, hi)))


def pm1(d, shape):
    return d.draw(hnp.arrays(np.float64, shape, elements=st.sampled_from([-1.0, 1.0])))


def probs01(d, shape, hard=False):
    if hard:
        return d.draw(hnp.arrays(np.float64, shape, elements=st.sampled_from([0.0, 1.0])))
    return arr(d, shape, 0.0, 1.0, (0.0, 1.0))


def simplex(d, shape):
    """Rows on the last axis that are probability distributions, with exact zeros and one-hots."""
    x = arr(d, shape, 0.0, 1.0, (0.0, 0.0, 1.0))
    s = x.sum(-1, keepdims=True)
    onehot = np.zeros(shape)
    if shape[-1]:
        onehot[..., 0] = 1.0
    return np.where(s > 0, x / np.where(s > 0, s, 1.0), onehot)


def class_weights(d, C, dt):
    """Per-class weights in [0, 3] with exact 0 and 1, as the loss sees them: rounded to the
    computation dtype (hyperparameters are cast to it, API.md §1) with subnormals flushed to 0 as
    XLA does. Positive weights below 1e-6 are drawn as 0: with PyTorch's class-weighted
    label-smoothed "mean", Σℓ / Σ w[y], a label weight w → 0⁺ leaves the smoothing term in the
    numerator, so the exact mean grows like 1/w and overflows — the definition's conditioning, not
    a defect (tests/test_fuzz.py has the w → 0 regression)."""
    w = arr(d, (C,), 0, 3, (0.0, 1.0))
    w = np.where(w < 1e-6, 0.0, w)
    return round_to(w, dt)


def round_to(x, dt):
    """float64 copy of ``x`` as the computation dtype of input dtype ``dt`` holds it."""
    c = cdt(dt)
    r = np.asarray(jnp.asarray(x, c), np.float64)
    return np.where(np.abs(r) < float(jnp.finfo(c).tiny), 0.0, r)


def pick(d, *options):
    return d.draw(st.sampled_from(list(options)))


def J(x, dt):
    return jnp.asarray(x, dt)


LOGIT_SPECIALS = (0.0, 1e4, -1e4, 1.0, -1.0)


def mask_nonlabel(d, logits, labels):
    """``-inf`` on some classes other than the label (masked vocabulary), rows ``[..., C]``."""
    C = logits.shape[-1]
    m = d.draw(hnp.arrays(np.bool_, logits.shape, elements=st.booleans()))
    m &= np.arange(C) != labels[..., None]
    return np.where(m, -INF, logits)


def mask_zero_target(d, logits, targets):
    m = d.draw(hnp.arrays(np.bool_, logits.shape, elements=st.booleans()))
    m &= targets == 0
    return np.where(m, -INF, logits)


# --------------------------------------------------------------------------------- generators
GEN = {}


def gen(*names):
    def deco(fn):
        for n in names:
            GEN[n] = fn
        return fn

    return deco


ELEM_SHAPES = [(0,), (1,), (3,), (2, 3)]


def _elem(d, dt, name, p, t, hyper=None, static=None, nonneg=0.0, kind="plain"):
    return Case(
        [J(p, dt), J(t, dt)], hyper or {}, static or {}, (0, 1), p.shape, (0, 1), nonneg, kind=kind
    )


@gen(
    "mean_squared_error",
    "mean_absolute_error",
    "log_cosh",
    "root_mean_squared_error",
    "mean_squared_logarithmic_error",
)
def g_regression(d, dt, name):
    shape = pick(d, *ELEM_SHAPES)
    big = () if name == "log_cosh" else (1e4, -1e4)
    p = arr(d, shape, -100, 100, (0.0, 1.0) + big)
    t = arr(d, shape, -100, 100, (0.0,) + big)
    return _elem(d, dt, name, p, t, kind="rmse" if name == "root_mean_squared_error" else "plain")


@gen("mean_absolute_percentage_error")
def g_mape(d, dt, name):
    shape = pick(d, *ELEM_SHAPES)
    p = arr(d, shape, -100, 100, (0.0, 1e4))
    t = arr(d, shape, -100, 100, (0.0, 1e4))
    return _elem(d, dt, name, p, t, {"epsilon": pick(d, 1e-7, 1e-3, 1.0)})


@gen("huber_loss", "smooth_l1_loss", "quantile_loss")
def g_robust(d, dt, name):
    shape = pick(d, *ELEM_SHAPES)
    p = arr(d, shape, -100, 100, (0.0, 1e4, -1e4))
    t = arr(d, shape, -100, 100, (0.0,))
    hp = {
        "huber_loss": ("delta", (0.0, 0.5, 1.0, 2.0)),
        "smooth_l1_loss": ("beta", (0.0, 0.5, 1.0)),
        "quantile_loss": ("quantile", (0.0, 0.1, 0.5, 1.0)),
    }[name]
    return _elem(d, dt, name, p, t, {hp[0]: pick(d, *hp[1])})


@gen("poisson_nll_loss")
def g_poisson(d, dt, name):
    shape = pick(d, *ELEM_SHAPES)
    log_input = d.draw(st.booleans())
    if log_input:
        p = arr(d, shape, -20, 20, (0.0,))
    else:
        p = arr(d, shape, 0, 50, (0.0, 1.0))
    t = arr(d, shape, 0, 50, (0.0, 1.0))
    c = _elem(
        d,
        dt,
        name,
        p,
        t,
        {"epsilon": pick(d, 1e-8, 1e-3)},
        {"log_input": log_input, "full": d.draw(st.booleans())},
        nonneg=None,
    )
    c.diff = (0,)
    return c


@gen("gaussian_nll_loss")
def g_gauss(d, dt, name):
    B = pick(d, 0, 1, 3)
    D = pick(d, 1, 2)
    mu = arr(d, (B, D), -100, 100, (0.0,))
    y = arr(d, (B, D), -100, 100, (0.0,))
    vshape = pick(d, (B, D), (B,), (B, 1))
    var = arr(d, vshape, 0, 100, (0.0, 1e-3, 1.0))
    return Case(
        [J(mu, dt), J(y, dt), J(var, dt)],
        {"epsilon": pick(d, 1e-6, 1e-2)},
        {"full": d.draw(st.booleans())},
        (0, 1, 2),
        (B, D),
        (0, 1, 2),
        None,
    )


# binary ------------------------------------------------------------------------------------
def _binary_logits(d, shape, smoothing):
    """Logits with ±1e4 and ±inf; an infinite logit gets a hard target of the same sign."""
    x = arr(d, shape, -30, 30, LOGIT_SPECIALS + ((INF, -INF) if not smoothing else ()))
    t = probs01(d, shape)
    t = np.where(np.isinf(x), (x > 0).astype(np.float64), t)
    return x, t


BIN_SHAPES = [(0,), (1,), (3,), (2, 2)]


@gen("binary_cross_entropy")
def g_bce(d, dt, name):
    shape = pick(d, *BIN_SHAPES)
    p, t = probs01(d, shape), probs01(d, shape)
    return Case(
        [J(p, dt), J(t, dt)], {"label_smoothing": pick(d, 0.0, 0.1, 1.0)}, {}, (0, 1), shape, (0, 1)
    )


@gen("sigmoid_binary_cross_entropy")
def g_sbce(d, dt, name):
    shape = pick(d, *BIN_SHAPES)
    ls = pick(d, 0.0, 0.0, 0.2)
    x, t = _binary_logits(d, shape, ls)
    return Case(
        [J(x, dt), J(t, dt)],
        {"label_smoothing": ls, "pos_weight": pick(d, None, 0.5, 3.0)},
        {},
        (0, 1),
        shape,
        (0, 1),
    )


@gen("sigmoid_focal_loss")
def g_sfocal(d, dt, name):
    shape = pick(d, *BIN_SHAPES)
    x, t = _binary_logits(d, shape, 0.0)
    return Case(
        [J(x, dt), J(t, dt)],
        {"alpha": pick(d, None, 0.0, 0.25, 1.0), "gamma": pick(d, 0.0, 0.5, 2.0)},
        {},
        (0, 1),
        shape,
        (0, 1),
    )


@gen("binary_focal_loss")
def g_bfocal(d, dt, name):
    shape = pick(d, *BIN_SHAPES)
    p, t = probs01(d, shape), probs01(d, shape)
    return Case(
        [J(p, dt), J(t, dt)],
        {"alpha": pick(d, None, 0.25), "gamma": pick(d, 0.0, 0.5, 2.0)},
        {},
        (0, 1),
        shape,
        (0, 1),
    )


@gen("hinge_loss", "squared_hinge_loss", "soft_margin_loss")
def g_hinge(d, dt, name):
    shape = pick(d, *BIN_SHAPES)
    s = arr(d, shape, -30, 30, LOGIT_SPECIALS)
    y = pm1(d, shape)
    hyper = {} if name == "soft_margin_loss" else {"margin": pick(d, 0.0, 1.0, 2.0)}
    return Case([J(s, dt), J(y, dt)], hyper, {}, (0,), shape, (0, 1))


@gen("multilabel_soft_margin_loss")
def g_mlsm(d, dt, name):
    B, C = pick(d, 0, 1, 3), pick(d, 1, 3)
    x = arr(d, (B, C), -30, 30, LOGIT_SPECIALS)
    t = probs01(d, (B, C))
    cw = pick(d, None, "w")
    cw = None if cw is None else class_weights(d, C, dt)
    return Case([J(x, dt), J(t, dt)], {"class_weights": cw}, {}, (0, 1), (B,), (0, 1))


# multi-class -------------------------------------------------------------------------------
MC = dict(B=(0, 1, 3), C=(1, 3))


def _bc(d):
    return pick(d, *MC["B"]), pick(d, *MC["C"])


def _ignore(d, labels, C):
    ig = pick(d, None, -100, 0)
    if ig == -100:
        hit = d.draw(hnp.arrays(np.bool_, labels.shape, elements=st.booleans()))
        labels = np.where(hit, -100, labels).astype(np.int32)
    return ig, labels


def _valid(labels, ig):
    return np.ones(labels.shape) if ig is None else (labels != ig).astype(np.float64)


@gen("softmax_cross_entropy")
def g_sce(d, dt, name):
    B, C = _bc(d)
    t = simplex(d, (B, C))
    x = mask_zero_target(d, arr(d, (B, C), -30, 30, LOGIT_SPECIALS), t)
    cw = None if d.draw(st.booleans()) else class_weights(d, C, dt)
    hyper = {
        "label_smoothing": pick(d, 0.0, 0.1, 1.0),
        "class_weights": cw,
        "z_loss": pick(d, 0.0, 1e-4),
    }
    return Case([J(x, dt), J(t, dt)], hyper, {}, (0, 1), (B,), (0, 1))


@gen("sparse_softmax_cross_entropy")
def g_ssce(d, dt, name):
    B, C = _bc(d)
    y = ints(d, (B,), 0, C - 1)
    x = mask_nonlabel(d, arr(d, (B, C), -30, 30, LOGIT_SPECIALS), y)
    ig, y = _ignore(d, y, C)
    cw = None if d.draw(st.booleans()) else class_weights(d, C, dt)
    hyper = {
        "label_smoothing": pick(d, 0.0, 0.1, 1.0),
        "class_weights": cw,
        "z_loss": pick(d, 0.0, 1e-4),
        "logit_softcap": pick(d, None, 5.0, 30.0),
    }
    norm = _valid(y, ig) * (1.0 if cw is None else np.asarray(cw)[np.clip(y, 0, C - 1)])
    return Case(
        [J(x, dt), J(y, jnp.int32)], hyper, {"ignore_index": ig}, (0,), (B,), (0, 1), norm=norm
    )


@gen("linear_cross_entropy")
def g_lce(d, dt, name):
    B, V, D = pick(d, 0, 1, 3), pick(d, 1, 4), 2
    h = arr(d, (B, D), -10, 10, (0.0, 100.0, -100.0))
    w = arr(d, (D, V), -10, 10, (0.0, 100.0))
    y = ints(d, (B,), 0, V - 1)
    bias = None
    if d.draw(st.booleans()):
        bias = arr(d, (V,), -10, 10, (0.0,))
        drop = d.draw(hnp.arrays(np.bool_, (V,), elements=st.booleans()))
        drop &= ~np.isin(np.arange(V), y)
        bias = np.where(drop, -INF, bias)
    ig, y = _ignore(d, y, V)
    cw = None if d.draw(st.booleans()) else class_weights(d, V, dt)
    hyper = {
        "label_smoothing": pick(d, 0.0, 0.1),
        "class_weights": cw,
        "z_loss": pick(d, 0.0, 1e-4),
        "logit_softcap": pick(d, None, 30.0),
        "bias": None if bias is None else J(bias, dt),
    }
    norm = _valid(y, ig) * (1.0 if cw is None else np.asarray(cw)[np.clip(y, 0, V - 1)])
    return Case(
        [J(h, dt), J(w, dt), J(y, jnp.int32)],
        hyper,
        {"ignore_index": ig, "chunk_size": pick(d, None, 2)},
        (0, 1),
        (B,),
        (0, 2),
        norm=norm,
    )


@gen("categorical_cross_entropy")
def g_cce(d, dt, name):
    B, C = _bc(d)
    p, t = simplex(d, (B, C)), simplex(d, (B, C))
    return Case(
        [J(p, dt), J(t, dt)], {"label_smoothing": pick(d, 0.0, 0.1, 1.0)}, {}, (0, 1), (B,), (0, 1)
    )


@gen("sparse_categorical_cross_entropy")
def g_scce(d, dt, name):
    B, C = _bc(d)
    p, y = simplex(d, (B, C)), ints(d, (B,), 0, C - 1)
    ig, y = _ignore(d, y, C)
    return Case(
        [J(p, dt), J(y, jnp.int32)],
        {},
        {"ignore_index": ig},
        (0,),
        (B,),
        (0, 1),
        norm=_valid(y, ig),
    )


def _log_softmax(x):
    m = np.max(x, -1, keepdims=True)
    m = np.where(np.isfinite(m), m, 0.0)
    with np.errstate(divide="ignore"):
        return x - m - np.log(np.sum(np.exp(x - m), -1, keepdims=True))


@gen("nll_loss")
def g_nll(d, dt, name):
    B, C = _bc(d)
    y = ints(d, (B,), 0, C - 1)
    lp = _log_softmax(mask_nonlabel(d, arr(d, (B, C), -30, 30, LOGIT_SPECIALS), y))
    ig, y = _ignore(d, y, C)
    cw = None if d.draw(st.booleans()) else class_weights(d, C, dt)
    norm = _valid(y, ig) * (1.0 if cw is None else np.asarray(cw)[np.clip(y, 0, C - 1)])
    return Case(
        [J(lp, dt), J(y, jnp.int32)],
        {"class_weights": cw},
        {"ignore_index": ig},
        (0,),
        (B,),
        (0, 1),
        norm=norm,
    )


def _div_tol(dt):
    # the property holds for exact distributions; rounding the inputs to dt breaks Σ = 1 by ~eps
    return 20 * float(jnp.finfo(dt).eps)


@gen("kl_divergence", "js_divergence")
def g_kl(d, dt, name):
    B, C = _bc(d)
    p, t = simplex(d, (B, C)), simplex(d, (B, C))
    if name == "kl_divergence":
        t = np.where(p > 0, t, 0.0)  # t > 0 where p = 0 is an infinite (true) KL: keep it out
        s = t.sum(-1, keepdims=True)
        t = np.where(s > 0, t / np.where(s > 0, s, 1.0), p)
    with np.errstate(divide="ignore"):
        lp = np.log(p)
    static = {}
    if name == "kl_divergence" and d.draw(st.booleans()):
        static["log_targets"] = True
        with np.errstate(divide="ignore"):
            t = np.log(t)
    return Case([J(lp, dt), J(t, dt)], {}, static, (0, 1), (B,), (0, 1), _div_tol(dt))


@gen("kl_divergence_from_probabilities")
def g_klp(d, dt, name):
    B, C = _bc(d)
    p, t = simplex(d, (B, C)), simplex(d, (B, C))
    eps = pick(d, None, 1e-7)
    # with the -100 log clamp a p = 0, t > 0 term is 100·t, still ≥ t·log t: non-negative
    return Case(
        [J(p, dt), J(t, dt)],
        {"epsilon": eps},
        {},
        (0, 1),
        (B,),
        (0, 1),
        _div_tol(dt) if eps is None else None,
    )


@gen("softmax_focal_loss")
def g_sfl(d, dt, name):
    B, C = _bc(d)
    y = ints(d, (B,), 0, C - 1)
    x = mask_nonlabel(d, arr(d, (B, C), -30, 30, LOGIT_SPECIALS), y)
    ig, y = _ignore(d, y, C)
    alpha = pick(d, None, 0.25, "v")
    if alpha == "v":
        alpha = arr(d, (C,), 0, 1, (0.0, 1.0))
    return Case(
        [J(x, dt), J(y, jnp.int32)],
        {"gamma": pick(d, 0.0, 0.5, 2.0), "alpha": alpha},
        {"ignore_index": ig},
        (0,),
        (B,),
        (0, 1),
        norm=_valid(y, ig),
    )


@gen("categorical_focal_loss")
def g_cfl(d, dt, name):
    B, C = _bc(d)
    p, t = simplex(d, (B, C)), simplex(d, (B, C))
    return Case(
        [J(p, dt), J(t, dt)],
        {"gamma": pick(d, 0.0, 0.5, 2.0), "alpha": pick(d, None, 0.25)},
        {},
        (0, 1),
        (B,),
        (0, 1),
    )


@gen("poly1_cross_entropy")
def g_poly(d, dt, name):
    B, C = _bc(d)
    y = ints(d, (B,), 0, C - 1)
    x = mask_nonlabel(d, arr(d, (B, C), -30, 30, LOGIT_SPECIALS), y)
    ig, y = _ignore(d, y, C)
    # CE ≥ 1 − p_y, so CE + ε(1 − p_y) ≥ 0 for ε ≥ −1
    return Case(
        [J(x, dt), J(y, jnp.int32)],
        {"epsilon": pick(d, -1.0, 0.0, 1.0, 2.0)},
        {"ignore_index": ig},
        (0,),
        (B,),
        (0, 1),
        norm=_valid(y, ig),
    )


@gen("multiclass_hinge_loss", "multi_margin_loss")
def g_mch(d, dt, name):
    B, C = _bc(d)
    y = ints(d, (B,), 0, C - 1)
    x = mask_nonlabel(d, arr(d, (B, C), -30, 30, LOGIT_SPECIALS), y)
    hyper = {"margin": pick(d, 0.0, 1.0, 2.0)}
    static = {}
    if name == "multi_margin_loss":
        hyper["class_weights"] = None if d.draw(st.booleans()) else class_weights(d, C, dt)
        static["p"] = pick(d, 1, 2)
    return Case([J(x, dt), J(y, jnp.int32)], hyper, static, (0,), (B,), (0, 1))


def _multilabel_ids(d, B, C):
    """[B, C] class-id lists: each row some ids in [0, C) (repeats allowed, as PyTorch), then -1
    padding from a random position on, then ignored junk in [-1, C)."""
    y = ints(d, (B, C), 0, C - 1)
    stop = ints(d, (B, 1), 0, C)  # position of the first -1 (C: no padding)
    junk = ints(d, (B, C), -1, C - 1)
    pos = np.arange(C)[None, :]
    return np.where(pos < stop, y, np.where(pos == stop, -1, junk)).astype(np.int32)


@gen("multilabel_margin_loss")
def g_mlm(d, dt, name):
    B, C = _bc(d)
    y = _multilabel_ids(d, B, C)
    x = arr(d, (B, C), -30, 30, LOGIT_SPECIALS)
    return Case(
        [J(x, dt), J(y, jnp.int32)], {"margin": pick(d, 0.0, 1.0, 2.0)}, {}, (0,), (B,), (0, 1)
    )


@gen("generalized_cross_entropy")
def g_gce(d, dt, name):
    B, C = _bc(d)
    p, y = simplex(d, (B, C)), ints(d, (B,), 0, C - 1)
    ig, y = _ignore(d, y, C)
    return Case(
        [J(p, dt), J(y, jnp.int32)],
        {"q": pick(d, 0.1, 0.5, 1.0)},
        {"ignore_index": ig},
        (0,),
        (B,),
        (0, 1),
        norm=_valid(y, ig),
    )


@gen("z_loss")
def g_z(d, dt, name):
    B, C = _bc(d)
    x = arr(d, (B, C), -30, 30, LOGIT_SPECIALS)
    keep = ints(d, (B,), 0, C - 1)
    x = mask_nonlabel(d, x, keep)
    return Case([J(x, dt)], {}, {}, (0,), (B,), (0,))


# segmentation ------------------------------------------------------------------------------
@gen("dice_loss", "jaccard_loss", "tversky_loss")
def g_seg(d, dt, name):
    shape = pick(d, (0, 4), (1, 4), (3, 4), (2, 2, 2))
    hard = d.draw(st.booleans())
    p, t = probs01(d, shape), probs01(d, shape, hard)
    hyper = {"smooth": pick(d, 0.0, 1.0)}
    if name == "tversky_loss":
        hyper.update(alpha=pick(d, 0.3, 0.5, 0.7), beta=pick(d, 0.3, 0.5, 0.7))
    return Case([J(p, dt), J(t, dt)], hyper, {}, (0, 1), shape[:1], (0, 1))


@gen("generalized_dice_loss")
def g_gdice(d, dt, name):
    B, C = pick(d, 0, 1, 3), pick(d, 1, 3)
    p, t = simplex(d, (B, 4, C)), simplex(d, (B, 4, C))
    return Case([J(p, dt), J(t, dt)], {"epsilon": pick(d, 0.0, 1e-6)}, {}, (0, 1), (B,), (0, 1))


# metric learning ---------------------------------------------------------------------------
def _vecs(d, B, D):
    x = arr(d, (B, D), -10, 10, (0.0, 1.0, 100.0))
    zero = d.draw(hnp.arrays(np.bool_, (B, 1), elements=st.booleans()))
    return np.where(zero, 0.0, x)


@gen("cosine_distance", "cosine_similarity_loss")
def g_cos(d, dt, name):
    B, D = pick(d, 0, 1, 3), pick(d, 1, 3)
    x, y = _vecs(d, B, D), _vecs(d, B, D)
    if d.draw(st.booleans()):
        y = x.copy()
    nonneg = 0.0 if name == "cosine_distance" else None
    return Case(
        [J(x, dt), J(y, dt)], {"epsilon": pick(d, 1e-8, 1e-3)}, {}, (0, 1), (B,), (0, 1), nonneg
    )


@gen("cosine_embedding_loss")
def g_cemb(d, dt, name):
    B, D = pick(d, 0, 1, 3), pick(d, 1, 3)
    x, y = _vecs(d, B, D), _vecs(d, B, D)
    if d.draw(st.booleans()):
        y = x.copy()
    return Case(
        [J(x, dt), J(y, dt), J(pm1(d, (B,)), dt)],
        {"margin": pick(d, -0.5, 0.0, 0.5)},
        {},
        (0, 1),
        (B,),
        (0, 1, 2),
    )


@gen("triplet_margin_loss")
def g_trip(d, dt, name):
    B, D = pick(d, 0, 1, 3), pick(d, 1, 3)
    a, p, n = _vecs(d, B, D), _vecs(d, B, D), _vecs(d, B, D)
    if d.draw(st.booleans()):
        p = a.copy()
    hyper = {"margin": pick(d, 0.0, 1.0), "p": pick(d, 1.0, 2.0), "epsilon": pick(d, 0.0, 1e-6)}
    return Case(
        [J(a, dt), J(p, dt), J(n, dt)],
        hyper,
        {"swap": d.draw(st.booleans())},
        (0, 1, 2),
        (B,),
        (0, 1, 2),
    )


@gen("triplet_margin_with_distance_loss")
def g_tripd(d, dt, name):
    B, D = pick(d, 0, 1, 3), pick(d, 1, 3)
    a, p, n = _vecs(d, B, D), _vecs(d, B, D), _vecs(d, B, D)
    if d.draw(st.booleans()):
        p = a.copy()
    return Case(
        [J(a, dt), J(p, dt), J(n, dt)],
        {"margin": pick(d, 0.0, 1.0)},
        {"swap": d.draw(st.booleans())},
        (0, 1, 2),
        (B,),
        (0, 1, 2),
    )


@gen("circle_loss")
def g_circle(d, dt, name):
    # L2-normalised rows (the documented input) and zero rows; the batch is coupled (every
    # embedding is a reference of every anchor), so `where` drops anchors, not rows: batched=()
    B, D = pick(d, 0, 1, 4), pick(d, 2, 3)
    e = _vecs(d, B, D)
    n = np.linalg.norm(e, axis=1, keepdims=True)
    e = np.where(n > 0, e / np.where(n > 0, n, 1.0), 0.0)
    y = ints(d, (B,), 0, 1)
    hyper = {"gamma": pick(d, 2.0, 80.0), "margin": pick(d, 0.25, 0.4)}
    return Case([J(e, dt), J(y, jnp.int32)], hyper, {}, (0,), (B,), ())


@gen("margin_ranking_loss")
def g_mrank(d, dt, name):
    B = pick(d, 0, 1, 3)
    x1, x2 = arr(d, (B,), -100, 100, (0.0, 1e4)), arr(d, (B,), -100, 100, (0.0, -1e4))
    return Case(
        [J(x1, dt), J(x2, dt), J(pm1(d, (B,)), dt)],
        {"margin": pick(d, 0.0, 1.0)},
        {},
        (0, 1),
        (B,),
        (0, 1, 2),
    )


@gen("hinge_embedding_loss", "contrastive_loss")
def g_dist(d, dt, name):
    B = pick(d, 0, 1, 3)
    dist = arr(d, (B,), 0, 100, (0.0, 1.0, 1e4))
    t = pm1(d, (B,)) if name == "hinge_embedding_loss" else probs01(d, (B,), hard=True)
    return Case([J(dist, dt), J(t, dt)], {"margin": pick(d, 0.0, 1.0, 2.0)}, {}, (0,), (B,), (0, 1))


@gen("ntxent_loss")
def g_ntx(d, dt, name):
    B, D = pick(d, 0, 1, 4), pick(d, 2, 3)
    e = _vecs(d, B, D)
    y = ints(d, (B,), 0, 1)
    return Case(
        [J(e, dt), J(y, jnp.int32)],
        {"temperature": pick(d, 0.07, 1.0)},
        {},
        (0,),
        (B,),
        (0, 1),
        kind="ntxent",
    )


# sequence ----------------------------------------------------------------------------------
@gen("ctc_loss")
def g_ctc(d, dt, name):
    B, T, K, N = pick(d, 0, 1, 3), 4, 3, 2
    zero_inf = d.draw(st.booleans())
    x = arr(d, (B, T, K), -30, 30, LOGIT_SPECIALS + ((-INF,) if zero_inf else ()))
    tlen = ints(d, (B,), 0, T)
    labels = ints(d, (B, N), 1, K - 1)
    llen = ints(d, (B,), 0, N)
    # a feasible target: L labels plus one blank between each repeated pair fit in T frames
    for b in range(B):
        while (
            llen[b] > 0
            and llen[b] + int(np.sum(labels[b, 1 : llen[b]] == labels[b, : llen[b] - 1])) > tlen[b]
        ):
            llen[b] -= 1
    lpad = (np.arange(T)[None, :] >= tlen[:, None]).astype(np.float64)
    ypad = (np.arange(N)[None, :] >= llen[:, None]).astype(np.float64)
    return Case(
        [J(x, dt), J(lpad, dt), J(labels, jnp.int32), J(ypad, dt)],
        {},
        {"zero_infinity": zero_inf},
        (0,),
        (B,),
        (0, 1, 2, 3),
    )


# post-training (API.md §7) ----------------------------------------------------------------
LOGP_SPECIALS = (0.0, -1e-8, -1e4, -1.0, -0.6931471805599453)


def _logps(d, shape):
    return arr(d, shape, -50, 0, LOGP_SPECIALS)


@gen("dpo_loss")
def g_dpo(d, dt, name):
    B = pick(d, 0, 1, 3)
    xs = [_logps(d, (B,)) for _ in range(4)]
    lt = pick(d, "sigmoid", "hinge", "ipo", "robust")
    hyper = {"beta": pick(d, 0.1, 1.0), "label_smoothing": pick(d, 0.0, 0.1, 0.3)}
    nonneg = None if lt == "robust" else 0.0  # robust DPO is an unbiased, signed estimate
    return Case(
        [J(x, dt) for x in xs], hyper, {"loss_type": lt}, (0, 1, 2, 3), (B,), (0, 1, 2, 3), nonneg
    )


@gen("simpo_loss", "orpo_loss")
def g_simpo_orpo(d, dt, name):
    B = pick(d, 0, 1, 3)
    c, r = _logps(d, (B,)), _logps(d, (B,))
    if name == "simpo_loss":
        hyper = {
            "beta": pick(d, 2.0, 0.5),
            "gamma": pick(d, 0.0, 0.5, 1.4),
            "label_smoothing": pick(d, 0.0, 0.2),
        }
    else:
        hyper = {"beta": pick(d, 0.0, 0.1, 1.0)}
    return Case([J(c, dt), J(r, dt)], hyper, {}, (0, 1), (B,), (0, 1))


@gen("kto_loss")
def g_kto(d, dt, name):
    B = pick(d, 0, 1, 3)
    lp, ref = _logps(d, (B,)), _logps(d, (B,))
    good = d.draw(hnp.arrays(np.bool_, (B,), elements=st.booleans()))
    hyper = {
        "beta": pick(d, 0.1, 1.0),
        "kl": pick(d, 0.0, 0.5, -1.0),
        "desirable_weight": pick(d, 1.0, 1.5),
        "undesirable_weight": pick(d, 1.0, 0.5),
    }
    return Case([J(lp, dt), J(ref, dt), jnp.asarray(good)], hyper, {}, (0, 1), (B,), (0, 1, 2))


@gen("grpo_loss")
def g_grpo(d, dt, name):
    B, T = pick(d, 0, 1, 3), pick(d, 1, 4)
    lp = arr(d, (B, T), -20, 0, (0.0, -20.0))
    old = lp + arr(d, (B, T), -3, 3, (0.0,))
    ref = lp + arr(d, (B, T), -3, 3, (0.0,))
    adv = arr(d, (B,), -10, 10, (0.0,))
    mask = d.draw(hnp.arrays(np.bool_, (B, T), elements=st.booleans()))
    lp = np.where(mask, lp, pick(d, 0.0, -INF))  # padding may hold anything
    hyper = {
        "ref_logps": J(ref, dt),
        "beta": pick(d, 0.0, 0.04),
        "epsilon_low": pick(d, 0.2, 0.1),
        "epsilon_high": pick(d, None, 0.28),
    }
    # "grpo" / "dr_grpo" normalise per sequence / by B·T: only the token-level normalisation is
    # the weighted mean of "none" that the fuzz property checks (tests/test_post_training.py
    # covers the others)
    static = {"loss_type": pick(d, "bnpo", "dapo")}
    return Case(
        [J(lp, dt), J(old, dt), J(adv, dt), jnp.asarray(mask)],
        hyper,
        static,
        (0, 1, 2),
        (B, T),
        (),
        None,
        norm=mask.astype(np.float64),
    )


@gen("distillation_loss")
def g_distill(d, dt, name):
    B, C = _bc(d)
    s = arr(d, (B, C), -30, 30, LOGIT_SPECIALS)
    t = arr(d, (B, C), -30, 30, LOGIT_SPECIALS)
    absent = d.draw(hnp.arrays(np.bool_, (B, C), elements=st.booleans()))
    absent[:, :1] = False  # classes masked in both models; class 0 stays
    s, t = np.where(absent, -INF, s), np.where(absent, -INF, t)
    hyper = {"beta": pick(d, 0.0, 0.3, 0.5, 1.0), "temperature": pick(d, 1.0, 2.0)}
    return Case([J(s, dt), J(t, dt)], hyper, {}, (0,), (B,), (0, 1), _div_tol(dt))


@gen("linear_distillation_loss")
def g_linear_distill(d, dt, name):
    B, V, D = pick(d, 0, 1, 3), pick(d, 1, 4), 2
    hs = arr(d, (B, D), -10, 10, (0.0, 100.0, -100.0))
    ws = arr(d, (D, V), -10, 10, (0.0, 10.0))
    ht = arr(d, (B, 3), -10, 10, (0.0, 100.0))
    wt = arr(d, (3, V), -10, 10, (0.0,))
    y = ints(d, (B,), 0, V - 1)
    bs = bt = None
    if d.draw(st.booleans()):  # classes masked in both heads (never the labels)
        drop = d.draw(hnp.arrays(np.bool_, (V,), elements=st.booleans()))
        drop &= ~np.isin(np.arange(V), y)
        bs = np.where(drop, -INF, arr(d, (V,), -10, 10, (0.0,)))
        bt = np.where(drop, -INF, arr(d, (V,), -10, 10, (0.0,)))
    ig, y = _ignore(d, y, V)
    hyper = {
        "beta": pick(d, 0.0, 0.3, 0.5, 1.0),
        "temperature": pick(d, 1.0, 2.0),
        "hard_weight": pick(d, 0.0, 0.5),
        "student_bias": None if bs is None else J(bs, dt),
        "teacher_bias": None if bt is None else J(bt, dt),
    }
    return Case(
        [J(hs, dt), J(ws, dt), J(ht, dt), J(wt, dt), J(y, jnp.int32)],
        hyper,
        {"ignore_index": ig, "chunk_size": pick(d, None, 2)},
        (0, 1),
        (B,),
        (0, 2, 4),
        _div_tol(dt),
        norm=_valid(y, ig),
    )


# optax-parity losses -------------------------------------------------------------------------
@gen("perceptron_loss")
def g_perceptron(d, dt, name):
    shape = pick(d, *BIN_SHAPES)
    s = arr(d, shape, -30, 30, LOGIT_SPECIALS)
    return Case([J(s, dt), J(pm1(d, shape), dt)], {}, {}, (0,), shape, (0, 1))


@gen("sparsemax_loss")
def g_sparsemax(d, dt, name):
    shape = pick(d, *BIN_SHAPES)
    x, t = _binary_logits(d, shape, 0.0)
    return Case([J(x, dt), J(t, dt)], {}, {}, (0,), shape, (0, 1))


@gen("multiclass_perceptron_loss", "multiclass_sparsemax_loss")
def g_mc_fy(d, dt, name):
    B, C = _bc(d)
    y = ints(d, (B,), 0, C - 1)
    x = mask_nonlabel(d, arr(d, (B, C), -30, 30, LOGIT_SPECIALS), y)
    return Case([J(x, dt), J(y, jnp.int32)], {}, {}, (0,), (B,), (0, 1))


@gen("generalized_kl_divergence")
def g_gkl(d, dt, name):
    B, C = _bc(d)
    p = arr(d, (B, C), 0.0, 3.0, (0.0, 1.0))
    t = np.where(p > 0, arr(d, (B, C), 0.0, 3.0, (0.0, 1.0)), 0.0)  # t > 0 at p = 0: +inf
    with np.errstate(divide="ignore"):
        lp = np.log(p)
    # rounding of e^{log p} − t can leave the (exact) minimum 0 slightly below
    return Case([J(lp, dt), J(t, dt)], {}, {}, (0, 1), (B,), (0, 1), nonneg=None)


@gen("ranking_softmax_loss")
def g_ranking(d, dt, name):
    B, C = _bc(d)
    y = arr(d, (B, C), 0.0, 3.0, (0.0, 1.0))
    s = mask_zero_target(d, arr(d, (B, C), -30, 30, LOGIT_SPECIALS), y)
    return Case([J(s, dt), J(y, dt)], {}, {}, (0, 1), (B,), (0, 1))


def _onehot(y, C):
    return (np.arange(C) == np.asarray(y)[..., None]).astype(np.float64)


def _perfect_cases(d, dt, name):
    """(args, kwargs, minimum, atol) at a perfect prediction for the optax-parity losses."""
    B, C = pick(d, 1, 3), pick(d, 1, 3)
    y = ints(d, (B,), 0, C - 1)
    oh = _onehot(y, C)
    pm = pm1(d, (B,))
    v = arr(d, (B,), 0, 10, (0.0,))
    if name == "perceptron_loss":
        return [J(pm * v, dt), J(pm, dt)], {}, 0.0, 0.0
    if name == "sparsemax_loss":
        hard = probs01(d, (B, C), hard=True)
        s = pick(d, 1.0, 1e4, INF)
        return [J(np.where(hard > 0, s, -s), dt), J(hard, dt)], {}, 0.0, 0.0
    if name in ("multiclass_perceptron_loss", "multiclass_sparsemax_loss"):
        x = np.where(oh > 0, pick(d, 1.0, 1e4), pick(d, 0.0, -1e4, -INF))
        return [J(x, dt), jnp.asarray(y)], {}, 0.0, 0.0
    if name == "generalized_kl_divergence":
        t = J(arr(d, (B, C), 0.0, 3.0, (0.0, 1.0)), dt).astype(cdt(dt))
        eps = 8 * float(jnp.finfo(cdt(dt)).eps) * max(1.0, float(jnp.max(t, initial=0.0)) * C)
        return [jnp.log(t), t], {}, 0.0, eps
    if name == "ranking_softmax_loss":
        s = np.where(oh > 0, 1e4, pick(d, -1e4, -INF))
        return [J(s, dt), J(oh, dt)], {}, 0.0, 0.0
    return None


PERFECT = {
    n: _perfect_cases
    for n in (
        "perceptron_loss",
        "sparsemax_loss",
        "multiclass_perceptron_loss",
        "multiclass_sparsemax_loss",
        "generalized_kl_divergence",
        "ranking_softmax_loss",
    )
}
