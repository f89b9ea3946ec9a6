"""The unchecked behaviour of every loss on invalid input (issue 6, API.md §1 and §5).

For each runtime check of :data:`jaxloss._checked.SPECS` there is one small case here: an input
that ``jaxloss.checked(loss)`` rejects with ``LossInputError``, and an assertion on what the
*unchecked* loss returns with ``reduction="none"`` -- the value its docstring states, computed
independently (closed form or plain float64 NumPy), including where it propagates (the offending
example only, or the whole row / batch where the loss couples them). So the unchecked value is a
documented choice, not an accident.

Cases marked ``xfail(strict=True)`` assert what the docstring (or the general NaN rule below)
promises where the code currently does something else; each reason names the actual value. They
are open findings for the maintainers (fix the code or document the value), not accepted
behaviour, and they turn into failures as soon as the code changes.

General rule for NaN (stated in the docstrings): a NaN entry in an input gives NaN for the example
(element, row, sequence or token) it belongs to and leaves the others unchanged; entries a loss
never reads (a log-probability other than the label's) have no effect.

``test_every_check_has_a_case`` walks ``SPECS`` so that a new loss or check cannot skip this table.
"""

from __future__ import annotations

import functools
import inspect
import math

import jax.numpy as jnp
import numpy as np
import pytest

import jaxloss
from jaxloss import _checked
from jaxloss._checked import SPECS
from tests.helpers import cover_once_params
from tests.test_sequence import ctc_forward_ref

F = jnp.float64
NAN, INF = float("nan"), float("inf")

# Small valid inputs (float64: the root conftest enables x64 with strict dtype promotion).
X = np.array([[0.3, -0.4, 2.0], [1.0, 0.5, -1.0]])  # scores / logits / predictions
Y = np.array([[0.1, 0.2, 1.5], [0.0, 0.5, 2.0]])  # regression targets
P = np.array([[0.2, 0.3, 0.5], [0.1, 0.8, 0.1]])  # probabilities (rows sum to 1)
Q = np.array([[0.6, 0.3, 0.1], [0.3, 0.3, 0.4]])  # soft targets (rows sum to 1)
PM = np.array([[1.0, -1.0, 1.0], [-1.0, 1.0, 1.0]])  # {-1, +1} targets
B01 = np.array([[1.0, 0.0, 1.0], [0.0, 1.0, 1.0]])  # {0, 1} targets / masks
LAB = np.array([2, 0])  # labels; row 0's label is class 2
T2 = np.array([1.0, -1.0])  # one ±1 target per row
W_LCE = np.array([[0.1, 0.2, 0.3], [0.4, -0.5, 0.6]])  # linear_cross_entropy weight [D=2, V=3]
E_NTX = np.concatenate([X, Y])  # ntxent embeddings [4, 3]
L_NTX = np.array([0, 1, 0, 1])
CTC_LOGITS = np.zeros((2, 4, 3)) + np.arange(3.0) / 3  # [B, T, K], blank 0
CTC_LABELS = np.array([[1, 2], [2, 1]])
ML_LAB = np.array([[2, 0, -1], [1, -1, 0]])  # multilabel_margin_loss: row 0 {2, 0}, row 1 {1}
E_CIRC = E_NTX / np.linalg.norm(E_NTX, axis=1, keepdims=True)  # circle_loss: unit rows [4, 3]


def _a(v):
    v = np.asarray(v)
    return jnp.asarray(v, F) if v.dtype.kind == "f" else jnp.asarray(v)


# Valid arguments of every checked loss, by parameter name.
GOOD = {
    **{
        n: dict(predictions=X, targets=Y)
        for n in (
            "mean_squared_error",
            "mean_absolute_error",
            "root_mean_squared_error",
            "huber_loss",
            "smooth_l1_loss",
            "log_cosh",
            "quantile_loss",
        )
    },
    "mean_squared_logarithmic_error": dict(predictions=np.abs(X), targets=np.abs(Y)),
    "mean_absolute_percentage_error": dict(predictions=X, targets=Y + 0.5),
    "poisson_nll_loss": dict(predictions=X, targets=np.abs(Y)),
    "gaussian_nll_loss": dict(mean=X, targets=Y, variance=P),
    "binary_cross_entropy": dict(probabilities=P, targets=Q),
    "binary_focal_loss": dict(probabilities=P, targets=Q),
    "sigmoid_binary_cross_entropy": dict(logits=X, targets=Q),
    "sigmoid_focal_loss": dict(logits=X, targets=Q),
    "hinge_loss": dict(scores=X, targets=PM),
    "squared_hinge_loss": dict(scores=X, targets=PM),
    "soft_margin_loss": dict(scores=X, targets=PM),
    "multilabel_soft_margin_loss": dict(logits=X, targets=B01),
    "softmax_cross_entropy": dict(logits=X, targets=Q),
    "sparse_softmax_cross_entropy": dict(logits=X, labels=LAB),
    "categorical_cross_entropy": dict(probabilities=P, targets=Q),
    "sparse_categorical_cross_entropy": dict(probabilities=P, labels=LAB),
    "nll_loss": dict(log_probabilities=np.log(P), labels=LAB),
    "z_loss": dict(logits=X),
    "softmax_focal_loss": dict(logits=X, labels=LAB),
    "categorical_focal_loss": dict(probabilities=P, targets=Q),
    "poly1_cross_entropy": dict(logits=X, labels=LAB),
    "multiclass_hinge_loss": dict(scores=X, labels=LAB),
    "multi_margin_loss": dict(scores=X, labels=LAB),
    "multilabel_margin_loss": dict(scores=X, labels=ML_LAB),
    "generalized_cross_entropy": dict(probabilities=P, labels=LAB),
    "kl_divergence": dict(log_predictions=np.log(P), targets=Q),
    "kl_divergence_from_probabilities": dict(predictions=P, targets=Q),
    "js_divergence": dict(log_predictions=np.log(P), targets=Q),
    **{
        n: dict(probabilities=P, targets=B01)
        for n in ("dice_loss", "tversky_loss", "jaccard_loss", "generalized_dice_loss")
    },
    "cosine_distance": dict(predictions=X, targets=Y),
    "cosine_similarity_loss": dict(predictions=X, targets=Y),
    "cosine_embedding_loss": dict(x1=X, x2=Y, targets=T2),
    "triplet_margin_loss": dict(anchor=X, positive=Y, negative=P),
    "triplet_margin_with_distance_loss": dict(anchor=X, positive=Y, negative=P),
    "circle_loss": dict(embeddings=E_CIRC, labels=L_NTX),
    "margin_ranking_loss": dict(x1=X, x2=Y, targets=PM),
    "hinge_embedding_loss": dict(distances=np.abs(X), targets=PM),
    "contrastive_loss": dict(distances=np.abs(X), targets=B01),
    "ntxent_loss": dict(embeddings=E_NTX, labels=L_NTX),
    "ctc_loss": dict(
        logits=CTC_LOGITS,
        logit_paddings=np.zeros((2, 4)),
        labels=CTC_LABELS,
        label_paddings=np.zeros((2, 2)),
    ),
    "linear_cross_entropy": dict(hidden=X[:, :2], weight=W_LCE, labels=LAB, bias=np.zeros(3)),
    "linear_distillation_loss": dict(
        student_hidden=X[:, :2],
        student_weight=W_LCE,
        teacher_hidden=Y[:, :2],
        teacher_weight=-W_LCE,
        labels=LAB,
        student_bias=np.zeros(3),
        teacher_bias=np.zeros(3),
        hard_weight=0.5,
    ),
    # post-training (API.md §7): sequence log-probs [2], GRPO per-token [2, 3]
    "dpo_loss": dict(
        chosen_logps=X[0] - 3,
        rejected_logps=Y[0] - 3,
        ref_chosen_logps=X[1] - 3,
        ref_rejected_logps=Y[1] - 3,
    ),
    "simpo_loss": dict(chosen_logps=X[0] - 3, rejected_logps=Y[0] - 3),
    "orpo_loss": dict(chosen_logps=-P[0], rejected_logps=-Q[0]),
    "kto_loss": dict(logps=X[0] - 3, ref_logps=Y[0] - 3, desirable=np.array([True, False, True])),
    "grpo_loss": dict(
        logps=-P, old_logps=-Q, advantages=T2, mask=np.ones((2, 3), bool), ref_logps=-P - Y / 10
    ),
    "distillation_loss": dict(student_logits=X, teacher_logits=Y),
    # optax-parity losses
    "perceptron_loss": dict(scores=X, targets=PM),
    "multiclass_perceptron_loss": dict(scores=X, labels=LAB),
    "sparsemax_loss": dict(logits=X, targets=Q),
    "multiclass_sparsemax_loss": dict(scores=X, labels=LAB),
    "generalized_kl_divergence": dict(log_predictions=np.log(P), targets=Q),
    "ranking_softmax_loss": dict(scores=X, relevance=Q),
    # Keras compat wrappers with checks of their own
    "hinge": dict(scores=X, targets=PM),
    "squared_hinge": dict(scores=X, targets=PM),
    "categorical_hinge": dict(scores=X, targets=Q),
    "categorical_focal_crossentropy": dict(probabilities=P, targets=Q),
}


def _fn(name):
    return getattr(jaxloss, name, None) or jaxloss.get(name)


def _call(name, fn, args, **kw):
    return np.asarray(fn(**{k: _a(v) for k, v in args.items()}, reduction="none", **kw))


@functools.cache
def _checked_fn(name):
    # one checked wrapper per loss, so its compiled program is reused across cases (same shapes)
    return jaxloss.checked(_fn(name))


def _run(name, args, **kw):
    """Unchecked value (reduction="none"), after asserting that checked mode rejects the input."""
    fn = _fn(name)
    with pytest.raises(jaxloss.LossInputError):
        _call(name, _checked_fn(name), args, **kw)
    return _call(name, fn, args, **kw)


def _with(name, arg, index, value):
    args = {k: np.array(v, copy=True) for k, v in GOOD[name].items()}
    args[arg] = args[arg].astype(np.float64) if args[arg].dtype.kind == "f" else args[arg]
    args[arg][index] = value
    return args


def _assert_only(out, base, index, expected):
    """``out`` equals ``expected`` at ``index`` (NaN matches NaN) and ``base`` everywhere else."""
    out, base = np.asarray(out), np.asarray(base)
    assert out.shape == base.shape
    mask = np.zeros(out.shape, bool)
    mask[index] = True
    # rtol 1e-9, not 1e-12: e.g. gaussian_nll_loss clamps by var + (max(var, eps) - var), which
    # differs from eps by a rounding of var (relative 3e-11 at var = -0.5)
    np.testing.assert_allclose(
        out[mask], np.broadcast_to(expected, out[mask].shape), rtol=1e-9, atol=0, equal_nan=True
    )
    np.testing.assert_array_equal(out[~mask], base[~mask])  # the other examples: bit-identical
    if not np.any(np.isnan(expected)):
        assert not np.any(np.isnan(out)), out


@functools.cache
def _base_cached(name):
    return _call(name, _fn(name), GOOD[name])


def _base(name):
    return _base_cached(name).copy()


def _describe(check):
    """(kind, argument, allows +inf) for one check of SPECS."""
    if check is _checked._ctc_checks:
        return "ctc", "labels", None
    if check is _checked._multilabel_targets:
        return "multilabel", "labels", None
    owner = check.__qualname__.split(".")[0]
    cv = inspect.getclosurevars(check).nonlocals
    if owner == "finite":
        return "finite", cv["arg"], cv["allow_inf"]
    if owner == "_value_check":
        kind = {
            "must be in [0, 1]": "unit",
            "must be -1 or +1": "pm1",
            "must be 0 or 1": "01",
            "must be <= 0 (a log-probability)": "nonpositive",
        }[cv["what"]]
        return kind, cv["arg"], None
    if owner == "completion_mask":
        return "mask01", cv["arg"], None
    if owner == "nonnegative":
        return "nonnegative", cv["arg"], None
    if owner == "class_labels":
        return "labels", cv["arg"], None
    if owner == "hinge_targets_keras":
        return "keras_pm1", cv["arg"], None
    raise AssertionError(f"unknown check {check.__qualname__}: add it to test_unchecked.py")


# ---------------------------------------------------------------------------------------------
# NaN in an input: NaN for its example, the others unchanged
# ---------------------------------------------------------------------------------------------


def _float_args_checked_for_nan(name):
    """Arguments whose NaN ``checked`` rejects: finite / [0, 1] / ±1 / {0, 1} checks."""
    out = []
    for check in SPECS[name]:
        kind, arg, _ = _describe(check)
        if kind in ("finite", "unit", "pm1", "01", "keras_pm1") and arg not in out:
            out.append(arg)
    return out


# (loss, arg) -> what the offending example gets instead of NaN, when the docstring says so.
NAN_OTHER = {
    # only the label's entry is read (index (0, 0) is not row 0's label, 2)
    ("nll_loss", "log_probabilities"): "unread",
    ("sparse_categorical_cross_entropy", "probabilities"): "unread",
    ("generalized_cross_entropy", "probabilities"): "unread",
    # a target neither 1 nor -1 contributes 0 (PyTorch)
    ("cosine_embedding_loss", "targets"): 0.0,
    # a target neither 1 nor -1 gets both terms: d + max(0, margin - d), d = 0.3
    ("hinge_embedding_loss", "targets"): 0.3 + (1.0 - 0.3),
}

# (loss, arg) -> the value the code gives instead of the NaN rule: open findings (see module doc).
NAN_XFAIL: dict = {}  # every finding so far is fixed; an entry here marks a new one

# Where a NaN at the first entry of ``arg`` lands: the affected examples of the "none" output.
NAN_WHERE = {
    ("linear_cross_entropy", "weight"): np.s_[:],  # the shared weight couples every token
    ("linear_cross_entropy", "bias"): np.s_[:],
    **{("linear_distillation_loss", a): np.s_[:] for a in ("student_weight", "student_bias")},
    **{("linear_distillation_loss", a): np.s_[:] for a in ("teacher_weight", "teacher_bias")},
    ("ntxent_loss", "embeddings"): np.s_[:],  # embedding 0 is in every row's denominator
    ("circle_loss", "embeddings"): np.s_[:],  # embedding 0 is in every anchor's P or N set
    ("grpo_loss", "advantages"): np.s_[0],  # the advantage of sequence 0 is in all its tokens
}


def _nan_params():
    out = []
    for name in SPECS:
        for arg in _float_args_checked_for_nan(name):
            marks = ()
            if (name, arg) in NAN_XFAIL:
                marks = pytest.mark.xfail(strict=True, reason=NAN_XFAIL[(name, arg)])
            out.append(pytest.param(name, arg, id=f"{name}-{arg}", marks=marks))
    return out


# Default tier: the first float argument of each loss, and every (loss, argument) whose NaN spreads
# differently (NAN_WHERE); every (loss, argument) in the slow tier.
NAN_PARAMS = cover_once_params(
    _nan_params(), lambda p: {p.values[0], p.values if p.values in NAN_WHERE else None} - {None}
)


@pytest.mark.parametrize("name,arg", NAN_PARAMS)
def test_nan_input_gives_nan_for_its_example(name, arg):
    good = GOOD[name]
    base = _base(name)
    out = _run(name, _with(name, arg, (0,) * np.ndim(good[arg]), NAN))
    where = NAN_WHERE.get((name, arg))
    if where is None:
        where = (
            0,
        ) * base.ndim  # element (0, 0) for element-wise losses, row / sequence 0 otherwise
    expected = NAN_OTHER.get((name, arg), NAN)
    if expected == "unread":
        np.testing.assert_array_equal(out, base)
    else:
        _assert_only(out, base, where, expected)


@pytest.mark.parametrize(
    "name,arg",
    [
        ("nll_loss", "log_probabilities"),
        ("sparse_categorical_cross_entropy", "probabilities"),
        ("generalized_cross_entropy", "probabilities"),
    ],
)
def test_nan_at_the_label_entry_gives_nan(name, arg):
    # nll_loss / sparse_categorical_cross_entropy read only the label's entry (row 0: class 2)
    out = _run(name, _with(name, arg, (0, 2), NAN))
    _assert_only(out, _base(name), (0,), NAN)


# ---------------------------------------------------------------------------------------------
# +inf / -inf where checked mode rejects it: the formula's limit for that example
# ---------------------------------------------------------------------------------------------

# (loss, arg, value at the first entry, expected value at the offending example)
INF_CASES = [
    # +inf student logit: log-softmax of its row is inf - inf
    ("distillation_loss", "student_logits", INF, NAN),
    ("linear_distillation_loss", "student_hidden", INF, NAN),  # logits ±inf: inf - inf
    ("mean_squared_error", "predictions", INF, INF),
    ("mean_squared_error", "targets", -INF, INF),
    ("mean_absolute_error", "predictions", -INF, INF),
    ("root_mean_squared_error", "predictions", INF, INF),
    ("mean_squared_logarithmic_error", "predictions", INF, INF),
    # -inf is floored at 1e-7 like every input below it: (log1p(1e-7) - log1p(0.1))²
    ("mean_squared_logarithmic_error", "targets", -INF, (math.log1p(0.3) - math.log1p(1e-7)) ** 2),
    ("mean_absolute_percentage_error", "predictions", INF, INF),
    ("mean_absolute_percentage_error", "targets", INF, NAN),  # 100·inf / inf
    ("huber_loss", "predictions", INF, INF),
    ("smooth_l1_loss", "targets", -INF, INF),
    ("log_cosh", "predictions", -INF, INF),
    ("quantile_loss", "predictions", INF, INF),
    ("poisson_nll_loss", "predictions", INF, NAN),  # exp(inf) - y·inf
    ("poisson_nll_loss", "predictions", -INF, INF),  # 0 - y·(-inf), y = 0.1 > 0
    ("gaussian_nll_loss", "mean", INF, INF),
    ("gaussian_nll_loss", "variance", INF, NAN),
    ("gaussian_nll_loss", "variance", -INF, NAN),
    ("gaussian_nll_loss", "targets", -INF, INF),
    ("hinge_loss", "scores", INF, 0.0),  # max(0, 1 - (+1)·inf)
    ("hinge_loss", "scores", -INF, INF),
    ("squared_hinge_loss", "scores", -INF, INF),
    ("hinge", "scores", -INF, INF),
    ("squared_hinge", "scores", INF, 0.0),
    ("categorical_hinge", "scores", INF, NAN),  # neg - pos = inf - inf
    # a +inf logit has no defined softmax: NaN for its row wherever it is (README ²)
    ("softmax_cross_entropy", "logits", INF, NAN),
    ("z_loss", "logits", INF, INF),
    ("sparse_softmax_cross_entropy", "logits", INF, NAN),  # +inf off the label: NaN too
    ("softmax_focal_loss", "logits", INF, NAN),
    ("poly1_cross_entropy", "logits", INF, NAN),
    ("multiclass_hinge_loss", "scores", INF, INF),
    ("multi_margin_loss", "scores", INF, INF),
    # row 0's targets {2, 0}: s_0 = +inf is a target, every hinge with it is max(0, 1 - inf) = 0,
    # and the other pair (j = 2, i = 1) is max(0, 1 - 2.0 + (-0.4)) = 0
    ("multilabel_margin_loss", "scores", INF, 0.0),
    ("multilabel_margin_loss", "scores", -INF, INF),  # max(0, 1 - (-inf) + s_1)
    ("nll_loss", "log_probabilities", INF, "unread"),  # not the label's entry
    ("kl_divergence", "log_predictions", INF, -INF),  # t·(log t - inf)
    ("kl_divergence", "targets", INF, INF),
    ("js_divergence", "log_predictions", INF, NAN),  # p·(log p - log m) = inf·(inf - inf)
    ("cosine_distance", "predictions", INF, NAN),  # inf / inf
    ("cosine_similarity_loss", "targets", -INF, NAN),
    ("cosine_embedding_loss", "x1", INF, NAN),
    ("triplet_margin_loss", "positive", INF, INF),  # d(a, p) = inf
    ("triplet_margin_with_distance_loss", "positive", INF, INF),  # d(a, p) = inf
    ("triplet_margin_with_distance_loss", "negative", -INF, 0.0),  # max(0, 1 + d(a, p) - inf)
    ("margin_ranking_loss", "x2", INF, INF),  # max(0, -(+1)·(0.3 - inf))
    ("hinge_embedding_loss", "distances", INF, INF),  # target +1: the distance
    ("contrastive_loss", "distances", INF, INF),  # target 1: d²
    ("linear_cross_entropy", "hidden", INF, NAN),  # logits ±inf: inf - inf
    ("perceptron_loss", "scores", -INF, INF),  # max(0, -(+1)·(-inf))
    ("multiclass_perceptron_loss", "scores", INF, INF),  # +inf off the label
    ("multiclass_sparsemax_loss", "scores", INF, NAN),  # the simplex projection: inf - inf
    ("generalized_kl_divergence", "log_predictions", INF, NAN),  # e^inf - t·inf
    ("ranking_softmax_loss", "scores", INF, NAN),  # a softmax cross-entropy: +inf score, NaN
]


def _values(c):
    return c.values if hasattr(c, "values") else c


@pytest.mark.parametrize(
    "name,arg,value,expected",
    INF_CASES,
    ids=[f"{_values(c)[0]}-{_values(c)[1]}-{_values(c)[2]}" for c in INF_CASES],
)
def test_infinite_input(name, arg, value, expected):
    base = _base(name)
    out = _run(name, _with(name, arg, (0,) * np.ndim(GOOD[name][arg]), value))
    if expected == "unread":
        np.testing.assert_array_equal(out, base)
    else:
        _assert_only(out, base, (0,) * base.ndim, expected)


def test_ntxent_infinite_embedding():
    # ntxent couples the batch: embedding 0 is in every other row's softmax denominator
    out = _run("ntxent_loss", _with("ntxent_loss", "embeddings", (0, 0), INF))
    _assert_only(out, _base("ntxent_loss"), np.s_[:], NAN)


def _circle_ref(e, y, gamma=80.0, m=0.4):
    """Plain float64 NumPy circle loss of the docstring (remove_diagonal, references = e)."""
    e = np.asarray(e, np.float64)
    with np.errstate(invalid="ignore"):
        d = np.maximum(1 - e @ e.T, 0.0)  # NaN stays NaN (np.maximum propagates it)
    out = []
    for i in range(len(y)):
        pos = [j for j in range(len(y)) if y[j] == y[i] and j != i]
        neg = [j for j in range(len(y)) if y[j] != y[i]]
        if not pos or not neg:
            out.append(0.0)
            continue
        lp = [
            -gamma * max(m + d[i, j], 0.0) * (m - d[i, j]) if d[i, j] == d[i, j] else NAN
            for j in pos
        ]
        ln = [
            gamma * max(1 + m - d[i, j], 0.0) * (1 - m - d[i, j]) if d[i, j] == d[i, j] else NAN
            for j in neg
        ]
        with np.errstate(invalid="ignore"):  # NaN distances propagate
            out.append(softplus(np.logaddexp.reduce(lp) + np.logaddexp.reduce(ln)))
    return np.array(out)


def test_circle_infinite_embedding():
    # +inf in e_0: <e_0, e_j> is +inf (d = max(0, 1 - inf) = 0) where e_j[0] > 0, and inf·0 = NaN
    # with e_3 = Y[1] / ‖Y[1]‖ (first entry 0): anchors 0 and 3 get NaN, 1 and 2 the formula at d=0
    args = _with("circle_loss", "embeddings", (0, 0), INF)
    expected = _circle_ref(args["embeddings"], L_NTX)
    assert np.isnan(expected[[0, 3]]).all() and np.isfinite(expected[[1, 2]]).all()
    out = _run("circle_loss", args)
    np.testing.assert_allclose(out, expected, rtol=1e-12, equal_nan=True)
    # and the reference reproduces the valid input's value
    np.testing.assert_allclose(_base("circle_loss"), _circle_ref(E_CIRC, L_NTX), rtol=1e-12)


def test_ctc_infinite_logit():
    # +inf in a logit gives NaN for its sequence (the log-softmax of that frame is inf - inf)
    out = _run("ctc_loss", _with("ctc_loss", "logits", (0, 0, 1), INF))
    _assert_only(out, _base("ctc_loss"), (0,), NAN)


# ---------------------------------------------------------------------------------------------
# Out-of-range values: [0, 1], {-1, +1}, {0, 1}, non-negative, class ids, CTC labels
# ---------------------------------------------------------------------------------------------


def clog(p):
    """log p clamped at -100 (p <= 0 gives -100), the PyTorch convention."""
    p = np.asarray(p, np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(p > 0, np.maximum(np.log(np.where(p > 0, p, 1.0)), -100.0), -100.0)


def softplus(z):
    return np.logaddexp(0.0, z)


def sigmoid_bce(x, t):
    return softplus(x) - x * t  # max(x, 0) - x·t + log1p(exp(-|x|)), linear in t


def log_softmax(x):
    m = np.max(x)
    return x - m - np.log(np.sum(np.exp(x - m)))


def _segment(name, p, t, smooth=1.0):
    tp, sp, st = np.sum(p * t), np.sum(p), np.sum(t)
    if name == "dice_loss":
        return 1 - (2 * tp + smooth) / (sp + st + smooth)
    if name == "jaccard_loss":
        return 1 - (tp + smooth) / (sp + st - tp + smooth)
    if name == "tversky_loss":
        fp, fn = np.sum(p * (1 - t)), np.sum((1 - p) * t)
        return 1 - (tp + smooth) / (tp + 0.5 * fp + 0.5 * fn + smooth)
    # generalized dice, no spatial axes: T_c = t_c; weights (min T / T_c)² on present classes,
    # 1 on absent ones (the docstring's normalised 1/T_c²), epsilon 1e-6
    present = t > 0
    tmin = np.min(t[present])
    w = np.where(present, (tmin / np.where(present, t, 1.0)) ** 2, 1.0)
    return 1 - (2 * np.sum(w * p * t) + 1e-6) / (np.sum(w * (p + t)) + 1e-6)


def _row0(name, args):
    """Row-0 reference for the losses below, on the (modified) numpy arguments."""
    a = args
    if name in ("dice_loss", "jaccard_loss", "tversky_loss", "generalized_dice_loss"):
        return _segment(name, a["probabilities"][0], a["targets"][0])
    raise KeyError(name)


def _ctc_forward(logits, labels, blank=0):
    """-log p(labels | logits), tests/test_sequence.py's textbook forward recursion: every label
    position is a symbol (skips allowed between distinct symbols), whatever its id — a label equal
    to ``blank`` is treated as an ordinary symbol, as the docstring states."""
    return ctc_forward_ref(np.array([log_softmax(f) for f in logits]), list(labels), blank)


def _value_cases():
    """(loss, arg, index, bad value, expected value at the offending example)."""
    x0, p0, q0 = X[0, 0], P[0, 0], Q[0, 0]
    sq = lambda v: v * v
    cases = [
        # gaussian_nll_loss: a negative variance is clamped to epsilon = 1e-6 like a small one
        (
            "gaussian_nll_loss",
            "variance",
            (0, 0),
            -0.5,
            0.5 * (math.log(1e-6) + sq(X[0, 0] - Y[0, 0]) / 1e-6),
        ),
        # BCE on probabilities: each log clamped at -100 (log of a negative number -> -100)
        (
            "binary_cross_entropy",
            "probabilities",
            (0, 0),
            1.5,
            -(q0 * math.log(1.5) + (1 - q0) * -100.0),
        ),
        (
            "binary_cross_entropy",
            "targets",
            (0, 0),
            1.5,  # used as given
            -(1.5 * math.log(p0) + (1 - 1.5) * math.log(1 - p0)),
        ),
        # binary focal: (1 - p_t)^γ · BCE with 1 - p_t = t(1 - p) + (1 - t)p, clamped logs
        (
            "binary_focal_loss",
            "probabilities",
            (0, 0),
            1.5,
            sq(q0 * (1 - 1.5) + (1 - q0) * 1.5) * -(q0 * math.log(1.5) + (1 - q0) * -100.0),
        ),
        (
            "binary_focal_loss",
            "targets",
            (0, 0),
            -0.5,
            sq(-0.5 * (1 - p0) + 1.5 * p0) * -(-0.5 * math.log(p0) + 1.5 * math.log(1 - p0)),
        ),
        # logit losses: the formula is linear in t, used as given
        ("sigmoid_binary_cross_entropy", "targets", (0, 0), 2.0, sigmoid_bce(x0, 2.0)),
        (
            "sigmoid_focal_loss",
            "targets",
            (0, 0),
            2.0,  # α_t = αt + (1-α)(1-t) < 0 here
            (0.25 * 2 + 0.75 * (1 - 2))
            * sq(1 - (2 * (1 / (1 + math.exp(-x0))) + (1 - 2) * (1 - 1 / (1 + math.exp(-x0)))))
            * sigmoid_bce(x0, 2.0),
        ),
        (
            "multilabel_soft_margin_loss",
            "targets",
            (0, 0),
            2.0,
            np.mean(sigmoid_bce(X[0], np.array([2.0, 0.0, 1.0]))),
        ),
        # hinge family: a target of 0 gives margin (margin² squared), soft margin log 2
        ("hinge_loss", "targets", (0, 0), 0.0, 1.0),
        ("hinge_loss", "targets", (0, 0), 2.0, max(0.0, 1 - 2 * x0)),
        ("squared_hinge_loss", "targets", (0, 0), 0.0, 1.0),
        ("soft_margin_loss", "targets", (0, 0), 0.0, math.log(2.0)),
        ("hinge", "targets", (0, 0), 0.0, 1.0),  # mixed {0, ±1}: no conversion
        ("squared_hinge", "targets", (0, 0), 0.0, 1.0),
        # Keras' categorical hinge: max(0, max((1 - t)·s) - Σ t·s + 1), t used as given
        (
            "categorical_hinge",
            "targets",
            (0, 0),
            2.0,
            max(
                0.0,
                np.max((1 - np.array([2.0, 0.3, 0.1])) * X[0])
                - np.sum(np.array([2.0, 0.3, 0.1]) * X[0])
                + 1,
            ),
        ),
        # soft-target cross-entropy: -Σ t·log_softmax(x), t used as given
        (
            "softmax_cross_entropy",
            "targets",
            (0, 0),
            1.2,
            -np.sum(np.array([1.2, 0.3, 0.1]) * log_softmax(X[0])),
        ),
        # probabilities used as given (not renormalised), logs clamped at -100
        (
            "categorical_cross_entropy",
            "probabilities",
            (0, 0),
            1.5,
            -np.sum(Q[0] * clog(np.array([1.5, 0.3, 0.5]))),
        ),
        (
            "categorical_cross_entropy",
            "probabilities",
            (0, 0),
            -0.5,
            -np.sum(Q[0] * clog(np.array([-0.5, 0.3, 0.5]))),
        ),
        (
            "categorical_cross_entropy",
            "targets",
            (0, 0),
            1.5,
            -np.sum(np.array([1.5, 0.3, 0.1]) * np.log(P[0])),
        ),
        ("sparse_categorical_cross_entropy", "probabilities", (0, 2), 1.5, -math.log(1.5)),
        ("sparse_categorical_cross_entropy", "probabilities", (0, 2), -0.5, 100.0),
        # categorical focal: p > 1 uses the factor (1 - p)^γ -> 0 for γ > 0 (documented)
        (
            "categorical_focal_loss",
            "probabilities",
            (0, 0),
            1.5,
            -np.sum(Q[0, 1:] * (1 - P[0, 1:]) ** 2 * np.log(P[0, 1:])),
        ),
        (
            "categorical_focal_loss",
            "targets",
            (0, 0),
            1.5,
            -np.sum(np.array([1.5, 0.3, 0.1]) * (1 - P[0]) ** 2 * np.log(P[0])),
        ),
        # Keras: renormalise, clip to [1e-7, 1 - 1e-7], alpha 0.25
        (
            "categorical_focal_crossentropy",
            "probabilities",
            (0, 0),
            1.5,
            -0.25
            * np.sum(
                Q[0]
                * (1 - np.array([1.5, 0.3, 0.5]) / 2.3) ** 2
                * np.log(np.array([1.5, 0.3, 0.5]) / 2.3)
            ),
        ),
        (
            "categorical_focal_crossentropy",
            "targets",
            (0, 0),
            1.5,
            -0.25 * np.sum(np.array([1.5, 0.3, 0.1]) * (1 - P[0]) ** 2 * np.log(P[0])),
        ),
        # generalized cross-entropy (q = 0.5): p_y above 1 used as given, below 0 counts as 0
        ("generalized_cross_entropy", "probabilities", (0, 2), 1.5, (1 - math.sqrt(1.5)) / 0.5),
        ("generalized_cross_entropy", "probabilities", (0, 2), -0.5, 1 / 0.5),
        ("generalized_cross_entropy", "probabilities", (0, 0), 1.5, (1 - math.sqrt(0.5)) / 0.5),
        # divergences: negative targets give NaN; other values are used as given
        ("kl_divergence", "targets", (0, 0), -0.5, NAN),  # t·log t of a negative t
        ("kl_divergence_from_probabilities", "targets", (0, 0), -0.5, NAN),
        (
            "kl_divergence_from_probabilities",
            "predictions",
            (0, 0),
            1.5,
            np.sum(Q[0] * (np.log(Q[0]) - np.log(np.array([1.5, 0.3, 0.5])))),
        ),
        ("js_divergence", "targets", (0, 0), -0.5, NAN),
        (
            "js_divergence",
            "targets",
            (0, 0),
            1.5,
            0.5
            * np.sum(
                np.array([1.5, 0.3, 0.1])
                * np.log(np.array([1.5, 0.3, 0.1]) / ((P[0] + [1.5, 0.3, 0.1]) / 2))
                + P[0] * np.log(P[0] / ((P[0] + [1.5, 0.3, 0.1]) / 2))
            ),
        ),
        # metric learning
        ("cosine_embedding_loss", "targets", (0,), 0.0, 0.0),  # neither ±1: contributes 0
        ("margin_ranking_loss", "targets", (0, 0), 3.0, max(0.0, -3.0 * (X[0, 0] - Y[0, 0]))),
        ("hinge_embedding_loss", "targets", (0, 0), 0.0, 0.3 + max(0.0, 1.0 - 0.3)),
        ("contrastive_loss", "distances", (0, 0), -0.5, 0.25),  # target 1: d² as given
        ("contrastive_loss", "distances", (0, 1), -0.5, sq(1.0 - -0.5)),  # target 0: max(0, 1 - d)²
        ("contrastive_loss", "targets", (0, 0), 0.5, 0.5 * 0.09 + 0.5 * sq(1 - 0.3)),
        # orpo: log(1 - e^x) of a log-probability x > 0 is NaN
        ("orpo_loss", "chosen_logps", (0,), 0.5, NAN),
        ("orpo_loss", "rejected_logps", (0,), 0.5, NAN),
        # optax-parity losses: the formulas as written
        ("perceptron_loss", "targets", (0, 0), 0.0, 0.0),  # neither ±1: max(0, -0·s)
        # t·sp(-s) + (1 - t)·sp(s) - t(1 - t) at s = 0.3, t = 1.5
        ("sparsemax_loss", "targets", (0, 0), 1.5, 1.5 * 0.49 / 4 - 0.5 * 1.69 / 4 + 0.75),
        ("generalized_kl_divergence", "targets", (0, 0), -0.5, NAN),  # log of a negative target
        (
            "ranking_softmax_loss",
            "relevance",
            (0, 0),
            -0.5,
            -np.sum(np.array([-0.5, 0.3, 0.1]) * (X[0] - np.log(np.sum(np.exp(X[0]))))),
        ),
    ]
    for name in ("dice_loss", "jaccard_loss", "tversky_loss", "generalized_dice_loss"):
        for arg, value in (("probabilities", 1.5), ("targets", -0.5)):
            a = _with(name, arg, (0, 0), value)
            cases.append((name, arg, (0, 0), value, _row0(name, a)))
    return cases


VALUE_CASES = _value_cases()


@pytest.mark.parametrize(
    "name,arg,index,value,expected", VALUE_CASES, ids=[f"{c[0]}-{c[1]}={c[3]}" for c in VALUE_CASES]
)
def test_out_of_range_value(name, arg, index, value, expected):
    base = _base(name)
    out = _run(name, _with(name, arg, index, value))
    where = index if base.shape == np.shape(GOOD[name][arg]) else (index[0],)
    _assert_only(out, base, where, expected)


# class labels: a label outside [0, C) that is not ignore_index gives NaN for that example
LABEL_LOSSES = [
    "sparse_softmax_cross_entropy",
    "sparse_categorical_cross_entropy",
    "nll_loss",
    "softmax_focal_loss",
    "poly1_cross_entropy",
    "multiclass_hinge_loss",
    "multi_margin_loss",
    "multiclass_perceptron_loss",
    "multiclass_sparsemax_loss",
    "generalized_cross_entropy",
    "linear_distillation_loss",  # the hard cross-entropy term (hard_weight=0.5)
]


@pytest.mark.parametrize("bad", [3, -1, 1000])
@pytest.mark.parametrize("name", LABEL_LOSSES)
def test_out_of_range_label_gives_nan(name, bad):
    args = _with(name, "labels", (0,), bad)
    _assert_only(_run(name, args), _base(name), (0,), NAN)


def test_out_of_range_label_with_ignore_index_still_nan():
    # ignore_index only exempts its own value; -1 is still out of range
    name = "sparse_softmax_cross_entropy"
    args = _with(name, "labels", (0,), -1)
    out = _run(name, args, ignore_index=-100)
    _assert_only(out, _base(name), (0,), NAN)


@pytest.mark.parametrize("bad", [3, 1000])
def test_multilabel_margin_label_out_of_range_gives_nan(bad):
    # a class id >= C before the -1 padding: NaN for that example (docstring; PyTorch raises)
    name = "multilabel_margin_loss"
    args = _with(name, "labels", (0, 1), bad)
    _assert_only(_run(name, args), _base(name), (0,), NAN)


def test_multilabel_margin_label_after_the_padding_is_ignored():
    # an out-of-range id after the first negative entry is padding: not checked, not read
    name = "multilabel_margin_loss"
    args = _with(name, "labels", (1, 2), 1000)
    out = jaxloss.checked(_fn(name))(**{k: _a(v) for k, v in args.items()}, reduction="none")
    np.testing.assert_array_equal(np.asarray(out), _base(name))
    # and the base value is the docstring's formula: (1/C) Σ_{j∈Y} Σ_{i∉Y} max(0, 1 - s_j + s_i)
    ref = [
        sum(max(0.0, 1 - X[r, j] + X[r, i]) for j in ys for i in range(3) if i not in ys) / 3
        for r, ys in ((0, (2, 0)), (1, (1,)))
    ]
    np.testing.assert_allclose(_base(name), ref, rtol=1e-12)


def test_linear_cross_entropy_out_of_range_label_gives_nan():
    # NaN for that token only, like sparse_softmax_cross_entropy
    for bad in (-1, 3, 1000):
        args = _with("linear_cross_entropy", "labels", (0,), bad)
        _assert_only(_run("linear_cross_entropy", args), _base("linear_cross_entropy"), (0,), NAN)


def test_ctc_out_of_range_label_gives_nan():
    for bad in (3, -1):
        args = _with("ctc_loss", "labels", (0, 1), bad)
        _assert_only(_run("ctc_loss", args), _base("ctc_loss"), (0,), NAN)


def test_ctc_blank_label_is_an_ordinary_symbol():
    args = _with("ctc_loss", "labels", (0, 1), 0)
    expected = _ctc_forward(CTC_LOGITS[0], [1, 0])
    _assert_only(_run("ctc_loss", args), _base("ctc_loss"), (0,), expected)
    # and the reference reproduces a valid sequence's value
    np.testing.assert_allclose(
        _base("ctc_loss")[0], _ctc_forward(CTC_LOGITS[0], [1, 2]), rtol=1e-12
    )


def test_ctc_labels_longer_than_the_logits_give_inf():
    # 2 labels need 2 frames; only 1 is unpadded. Documented: +inf, as PyTorch
    args = dict(GOOD["ctc_loss"])
    args["logit_paddings"] = np.array([[0.0, 1.0, 1.0, 1.0], [0.0, 0.0, 0.0, 0.0]])
    _assert_only(_run("ctc_loss", args), _base("ctc_loss"), (0,), INF)


# ---------------------------------------------------------------------------------------------
# Every check of SPECS has a case in the tables above
# ---------------------------------------------------------------------------------------------


def _covered():
    keys = set()
    for p in NAN_PARAMS:
        name, arg = p.values
        keys.add((name, "finite", arg))
    for c in INF_CASES:
        keys.add((_values(c)[0], "inf", None))
    keys.add(("ctc_loss", "inf", None))
    keys.add(("ntxent_loss", "inf", None))  # test_ntxent_infinite_embedding
    for name, arg, _, _, _ in VALUE_CASES:
        for kind in ("unit", "pm1", "01", "nonnegative", "keras_pm1", "nonpositive"):
            keys.add((name, kind, arg))
    for name in LABEL_LOSSES:
        keys.add((name, "labels", "labels"))
    keys.add(("linear_cross_entropy", "labels", "labels"))
    keys.add(("multilabel_margin_loss", "multilabel", "labels"))  # test_multilabel_margin_label_*
    keys.add(("circle_loss", "inf", None))  # test_circle_infinite_embedding
    keys.add(("ctc_loss", "ctc", "labels"))
    # grpo's mask is boolean here: tests/test_robustness_posttraining.py has the float-mask cases
    keys.add(("grpo_loss", "mask01", "mask"))
    return keys


def test_every_check_has_a_case():
    covered = _covered()
    missing = []
    canonical = set(jaxloss.list_losses())
    assert canonical <= set(SPECS)
    for name, checks in SPECS.items():
        assert name in GOOD, f"{name}: no valid inputs in GOOD"
        needs_inf = False
        for check in checks:
            kind, arg, allow_inf = _describe(check)
            if kind == "finite":
                if np.asarray(GOOD[name].get(arg, 0.0)).dtype.kind == "f":
                    if (name, "finite", arg) not in covered:
                        missing.append((name, "NaN", arg))
                needs_inf |= not allow_inf
            elif (name, kind, arg) not in covered:
                missing.append((name, kind, arg))
        if needs_inf and (name, "inf", None) not in covered:
            missing.append((name, "inf", None))
    assert not missing, f"invalid-input classes without an unchecked-behaviour case: {missing}"
