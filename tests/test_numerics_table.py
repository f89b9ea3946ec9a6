"""The README's "Invalid and extreme input, per family" table (issue 11), cell by cell.

``test_readme_table_is_this_table`` parses the table from README.md and compares it with
:data:`TABLE` below, so the documentation and these tests cannot drift: change a cell in one
place and this file fails until the other agrees. Every other test pins the behaviour one column
states, for the representative losses the row names (``reduction="none"``, small eager float64
inputs unless the column is about float32; example 0 is perturbed and example 1 must not change).
"""

from __future__ import annotations

import functools
import re
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxloss
from jaxloss.sharding import sharded_cross_entropy

from .helpers import cover_once_params

ROOT = Path(__file__).resolve().parents[1]
NAN, INF = float("nan"), float("inf")

COLUMNS = (
    "NaN",
    "±inf",
    "overflow-scale (float32 ~1e38)",
    "out-of-range labels / targets",
    "out-of-range hyperparameters",
    "complex",
    "lists",
)
E = "NaN for that example"
H = "ValueError (concrete) / checked reports (traced)"
C = "TypeError naming loss & arg"
U = "unchecked value¹"
NAN_VG = "NaN for that example (value and gradient)"
NA01 = "n/a (inputs in [0, 1])"
CE_INF = "−inf: exact (masked class); +inf: NaN for that example²"

# family -> the seven cells, in COLUMNS order (the README's rows, without the losses named)
TABLE = {
    "Regression": (
        E,
        "+inf",
        "exact; +inf only where the value overflows",
        "n/a",
        H,
        C,
        "accepted",
    ),
    "Binary, probabilities": (E, U, NA01, U, H, C, "accepted"),
    "Binary, logits": (E, "exact limit", "exact", U, H, C, "accepted"),
    "Hinge family": (
        E,
        "exact limit",
        "exact",
        "±1 targets: unchecked value¹; class ids: NaN for that example",
        H,
        C,
        "accepted",
    ),
    "Softmax CE, logits": (E, CE_INF, "exact", NAN_VG, H, C, "accepted"),
    "Probability CE": (
        E,
        U,
        NA01,
        "class ids: NaN for that example (value and gradient); targets: unchecked value¹",
        H,
        C,
        "accepted",
    ),
    "Divergences": (
        E,
        "−inf: exact limit; +inf: unchecked value¹",
        "n/a (log-probabilities ≤ 0)",
        "unchecked value¹ (kl, negative targets: NaN for that example)",
        "n/a (none)",
        C,
        "accepted",
    ),
    "Segmentation": (E, E, NA01, U, H, C, "accepted"),
    "Metric / ranking": (
        E,
        "NaN for that example (ranking: exact limit)",
        "exact",
        U,
        H,
        C,
        "accepted",
    ),
    "Sequence": (
        E,
        "−inf: exact; +inf: NaN for that example",
        "exact",
        E,
        "ValueError (`blank_id`, static)",
        C,
        "accepted",
    ),
    "Linear CE": (E, E, "exact", NAN_VG, H, C, "accepted"),
    "Sharded CE": (E, CE_INF, "exact", NAN_VG, H, C, "accepted"),
    "Post-training": (
        E,
        "−inf: exact limit; +inf: not finite for that example (grpo: exact clipped limit)",
        "exact",
        E,
        H,
        C,
        "accepted",
    ),
}


def _readme_table():
    text = (ROOT / "README.md").read_text()
    lines = text.splitlines()
    start = next(i for i, ln in enumerate(lines) if ln.startswith("| Family (checked"))
    header = [c.strip() for c in lines[start].strip("|").split("|")]
    rows = {}
    for ln in lines[start + 2 :]:
        if not ln.startswith("|"):
            break
        cells = [c.strip() for c in ln.strip().strip("|").split("|")]
        family = re.sub(r"\s*\(.*$", "", cells[0])
        rows[family] = tuple(cells[1:])
    return header, rows


def test_readme_table_is_this_table():
    header, rows = _readme_table()
    assert tuple(header[1:]) == COLUMNS
    assert rows == TABLE


# ---------------------------------------------------------------------------------------------
# Cases: one or more representative losses per family
# ---------------------------------------------------------------------------------------------

X = np.array([[0.3, -0.4, 2.0], [1.0, 0.5, -1.0]])
Y = np.array([[0.1, 0.2, 1.5], [0.0, 0.5, 2.0]])
P = np.array([[0.2, 0.3, 0.5], [0.1, 0.8, 0.1]])
Q = np.array([[0.6, 0.3, 0.1], [0.3, 0.3, 0.4]])
PM = np.array([[1.0, -1.0, 1.0], [-1.0, 1.0, 1.0]])
B01 = np.array([[1.0, 0.0, 1.0], [0.0, 1.0, 1.0]])
LAB = np.array([2, 0])
W_LCE = np.array([[0.1, 0.2, 0.3], [0.4, -0.5, 0.6]])
CTC = dict(
    logits=np.zeros((2, 4, 3)) + np.arange(3.0) / 3,
    logit_paddings=np.zeros((2, 4)),
    labels=np.array([[1, 2], [2, 1]]),
    label_paddings=np.zeros((2, 2)),
)
MESH = jax.make_mesh((1, 1), ("data", "model"), axis_types=(jax.sharding.AxisType.Auto,) * 2)


def sharded_ce(logits, labels, **kw):
    return sharded_cross_entropy(
        logits, labels, mesh=MESH, vocab_axis="model", batch_axis="data", **kw
    )


def token_lp(logits, tokens, reduction=None, **kw):
    return jaxloss.token_log_probs(logits, tokens, **kw)


class Case:
    """A loss with valid inputs; ``arg`` is the main float input, ``at`` an entry of example 0
    (its output example is ``out[0]``)."""

    def __init__(self, family, fn, kwargs, arg, at, name=None):
        self.family, self.fn, self.kwargs, self.arg, self.at = family, fn, kwargs, arg, at
        self.name = name or fn.__name__

    def __repr__(self):
        return self.name

    def call(self, fn=None, **over):
        kw = {k: jnp.asarray(v) for k, v in {**self.kwargs, **over}.items()}
        return np.asarray((fn or self.fn)(**kw, reduction="none"))

    def with_entry(self, value, arg=None):
        arg = arg or self.arg
        a = np.array(self.kwargs[arg], dtype=np.float64, copy=True)
        a[self.at] = value
        return {arg: a}


GRPO = dict(logps=-P, old_logps=-Q, advantages=np.array([1.0, -1.0]), mask=np.ones((2, 3), bool))
DPO = dict(
    chosen_logps=X[0] - 3,
    rejected_logps=Y[0] - 3,
    ref_chosen_logps=X[1] - 3,
    ref_rejected_logps=Y[1] - 3,
)
CASES = [
    Case(
        "Regression",
        jaxloss.mean_squared_error,
        dict(predictions=X, targets=Y),
        "predictions",
        (0, 0),
    ),
    Case("Regression", jaxloss.huber_loss, dict(predictions=X, targets=Y), "predictions", (0, 0)),
    Case(
        "Binary, probabilities",
        jaxloss.binary_cross_entropy,
        dict(probabilities=P, targets=Q),
        "probabilities",
        (0, 0),
    ),
    Case(
        "Binary, logits",
        jaxloss.sigmoid_binary_cross_entropy,
        dict(logits=X, targets=B01),
        "logits",
        (0, 0),
    ),
    Case(
        "Binary, logits", jaxloss.sigmoid_focal_loss, dict(logits=X, targets=B01), "logits", (0, 0)
    ),
    Case("Hinge family", jaxloss.hinge_loss, dict(scores=X, targets=PM), "scores", (0, 0)),
    Case(
        "Hinge family", jaxloss.multiclass_hinge_loss, dict(scores=X, labels=LAB), "scores", (0, 0)
    ),
    Case(
        "Softmax CE, logits",
        jaxloss.sparse_softmax_cross_entropy,
        dict(logits=X, labels=LAB),
        "logits",
        (0, 0),
    ),
    Case(
        "Softmax CE, logits",
        jaxloss.softmax_cross_entropy,
        dict(logits=X, targets=np.eye(3)[LAB]),
        "logits",
        (0, 0),
    ),
    Case(
        "Softmax CE, logits",
        jaxloss.softmax_focal_loss,
        dict(logits=X, labels=LAB),
        "logits",
        (0, 0),
    ),
    Case(
        "Probability CE",
        jaxloss.categorical_cross_entropy,
        dict(probabilities=P, targets=Q),
        "probabilities",
        (0, 0),
    ),
    Case(
        "Probability CE",
        jaxloss.nll_loss,
        dict(log_probabilities=np.log(P), labels=LAB),
        "log_probabilities",
        (0, 2),
    ),
    Case(
        "Divergences",
        jaxloss.kl_divergence,
        dict(log_predictions=np.log(P), targets=Q),
        "log_predictions",
        (0, 0),
    ),
    Case(
        "Divergences",
        jaxloss.js_divergence,
        dict(log_predictions=np.log(P), targets=Q),
        "log_predictions",
        (0, 0),
    ),
    Case(
        "Segmentation",
        jaxloss.dice_loss,
        dict(probabilities=P, targets=B01),
        "probabilities",
        (0, 0),
    ),
    Case(
        "Metric / ranking",
        jaxloss.cosine_distance,
        dict(predictions=X, targets=Y),
        "predictions",
        (0, 0),
    ),
    Case(
        "Metric / ranking",
        jaxloss.triplet_margin_loss,
        dict(anchor=X, positive=Y, negative=P),
        "anchor",
        (0, 0),
    ),
    Case(
        "Metric / ranking", jaxloss.margin_ranking_loss, dict(x1=X, x2=Y, targets=PM), "x1", (0, 0)
    ),
    Case("Sequence", jaxloss.ctc_loss, CTC, "logits", (0, 0, 2)),
    Case(
        "Linear CE",
        jaxloss.linear_cross_entropy,
        dict(hidden=X[:, :2], weight=W_LCE, labels=LAB),
        "hidden",
        (0, 0),
    ),
    Case(
        "Sharded CE",
        sharded_ce,
        dict(logits=X, labels=LAB),
        "logits",
        (0, 0),
        "sharded_cross_entropy",
    ),
    Case(
        "Post-training", token_lp, dict(logits=X, tokens=LAB), "logits", (0, 0), "token_log_probs"
    ),
    Case("Post-training", jaxloss.dpo_loss, DPO, "chosen_logps", (0,)),
    Case("Post-training", jaxloss.grpo_loss, GRPO, "logps", (0, 0)),
    Case(
        "Post-training",
        jaxloss.distillation_loss,
        dict(student_logits=X, teacher_logits=Y),
        "student_logits",
        (0, 0),
    ),
]
BY_NAME = {c.name: c for c in CASES}


def test_every_family_has_a_case():
    assert {c.family for c in CASES} == set(TABLE)


def _row0(out):
    return np.asarray(out)[0]


def _others_unchanged(out, base):
    np.testing.assert_allclose(np.asarray(out)[1:], np.asarray(base)[1:], rtol=1e-12)


@functools.cache
def _checked(fn):
    # one wrapper per loss: its compiled program is reused across the cases (same shapes)
    return jaxloss.checked(fn)


def _checked_rejects(case, **over):
    fn = sharded_cross_entropy if case.name == "sharded_cross_entropy" else case.fn
    kw = {k: jnp.asarray(v) for k, v in {**case.kwargs, **over}.items()}
    extra = (
        dict(mesh=MESH, vocab_axis="model", batch_axis="data")
        if case.name == "sharded_cross_entropy"
        else {}
    )
    red = {} if case.name == "token_log_probs" else dict(reduction="none")
    if case.name == "token_log_probs":
        fn = jaxloss.token_log_probs
    with pytest.raises(jaxloss.LossInputError):
        _checked(fn)(**kw, **extra, **red)


# ---------------------------------------------------------------------------------------------
# Column "NaN": NaN for that example, the others unchanged
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("case", CASES, ids=repr)
def test_nan_column(case):
    assert TABLE[case.family][0] == E
    base = case.call()
    out = case.call(**case.with_entry(NAN))
    assert np.all(np.isnan(_row0(out)[..., :1] if out.ndim > 1 else _row0(out)))
    _others_unchanged(out, base)


# ---------------------------------------------------------------------------------------------
# Column "±inf"
# ---------------------------------------------------------------------------------------------

# per loss: (value of example 0 with +inf, with -inf) at case.at; "nan", "nonfinite",
# "unchecked" (checked mode rejects it; no error, other examples unchanged), or a number / ±INF
# (the exact limit; "at ±1e4" = the float64 value at a logit of ±1e4, where exp underflows to 0)
INF_EXPECT = {
    "mean_squared_error": (INF, INF),
    "huber_loss": (INF, INF),
    "binary_cross_entropy": ("unchecked", "unchecked"),
    "sigmoid_binary_cross_entropy": (0.0, INF),  # target 1 at that entry
    "sigmoid_focal_loss": (0.0, INF),
    "hinge_loss": (0.0, INF),  # target +1
    "multiclass_hinge_loss": (INF, "at -1e4"),  # class 0 is not the label
    "sparse_softmax_cross_entropy": ("nan", "at -1e4"),  # +inf: no defined softmax (²)
    "softmax_cross_entropy": ("nan", "at -1e4"),
    "softmax_focal_loss": ("nan", "at -1e4"),
    "categorical_cross_entropy": ("unchecked", "unchecked"),
    "nll_loss": ("unchecked", INF),  # the label's log-probability: -inf is the exact +inf
    "kl_divergence": ("unchecked", INF),  # target 0.6 > 0 on a class predicted impossible
    "js_divergence": ("unchecked", "at -1e4"),
    "dice_loss": ("nan", "nan"),
    "cosine_distance": ("nan", "nan"),
    "triplet_margin_loss": ("nan", "nan"),
    "margin_ranking_loss": (0.0, INF),  # target +1: x1 = +inf ranks right
    "ctc_loss": ("nan", "at -1e4"),
    "linear_cross_entropy": ("nan", "nan"),
    "sharded_cross_entropy": ("nan", "at -1e4"),
    "token_log_probs": (-INF, "at -1e4"),  # log p of the token: exact limit
    "dpo_loss": ("nonfinite", INF),
    "grpo_loss": (-1.2, 0.0),  # advantage +1: -min(r·A, clip(r, 0.8, 1.2)·A) at r = inf, 0
    "distillation_loss": ("nonfinite", "at -1e4"),
}


@pytest.mark.parametrize("case", CASES, ids=repr)
def test_inf_column(case):
    base = case.call()
    for sign, want in zip((1.0, -1.0), INF_EXPECT[case.name], strict=True):
        out = case.call(**case.with_entry(sign * INF))
        got = _row0(out)[..., 0] if out.ndim > 1 else _row0(out)
        _others_unchanged(out, base)
        if want == "nan":
            assert np.isnan(got)
        elif want == "nonfinite":
            assert not np.isfinite(got)
        elif want == "unchecked":
            _checked_rejects(case, **case.with_entry(sign * INF))
        elif isinstance(want, str):  # "at ±1e4"
            ref = case.call(**case.with_entry(float(want[3:])))
            ref = _row0(ref)[..., 0] if out.ndim > 1 else _row0(ref)
            assert np.isfinite(got)
            np.testing.assert_allclose(got, ref, rtol=1e-12)
        else:
            assert got == want, (sign, got, want)


def test_inf_column_cells():
    # the cells above, in words: regression +inf, binary logits / hinge exact limits, ...
    assert TABLE["Regression"][1] == "+inf"
    assert TABLE["Softmax CE, logits"][1] == TABLE["Sharded CE"][1] == CE_INF
    assert TABLE["Segmentation"][1] == TABLE["Linear CE"][1] == E


# ---------------------------------------------------------------------------------------------
# Column "overflow-scale": float32 inputs near the float32 limit; "exact" = the float64 value of
# the same float32 inputs, rounded to float32 (+inf only where it exceeds float32's range)
# ---------------------------------------------------------------------------------------------

OVERFLOW_SCALE = {
    "mean_squared_error": 1e38,  # (1e38)² overflows: +inf is the rounded exact value
    "huber_loss": 1e38,
    "sigmoid_binary_cross_entropy": 1e38,
    "sigmoid_focal_loss": 1e38,
    "hinge_loss": 1e38,
    "multiclass_hinge_loss": 1e38,
    "sparse_softmax_cross_entropy": 1.7e38,  # logits up to ±3.4e38
    "softmax_cross_entropy": 1.7e38,
    "softmax_focal_loss": 1.7e38,
    "cosine_distance": 3e37,
    "triplet_margin_loss": 3e37,
    "margin_ranking_loss": 1e38,
    "ctc_loss": 1e38,
    "linear_cross_entropy": 1e37,
    "sharded_cross_entropy": 1.7e38,
    "token_log_probs": 1.7e38,
    "dpo_loss": 1e37,
    "grpo_loss": 1e37,
    "distillation_loss": 1e38,
}


@pytest.mark.parametrize("case", [c for c in CASES if c.name in OVERFLOW_SCALE], ids=repr)
def test_overflow_scale_column(case):
    assert TABLE[case.family][2].startswith("exact")
    x32 = (np.asarray(case.kwargs[case.arg]) * OVERFLOW_SCALE[case.name]).astype(np.float32)
    rest = {
        k: (np.asarray(v, np.float32) if np.asarray(v).dtype.kind == "f" else v)
        for k, v in case.kwargs.items()
        if k != case.arg
    }
    got = case.call(**rest, **{case.arg: x32})
    assert got.dtype == np.float32
    ref = case.call(
        **{k: (np.float64(v) if np.asarray(v).dtype.kind == "f" else v) for k, v in rest.items()},
        **{case.arg: x32.astype(np.float64)},
    )
    with np.errstate(over="ignore"):
        ref32 = ref.astype(np.float32)
    np.testing.assert_allclose(got, ref32, rtol=2e-6, atol=1e-6)
    if case.name == "mean_squared_error":
        assert np.isinf(got).any()


def test_overflow_scale_not_applicable_rows():
    for family in ("Binary, probabilities", "Probability CE", "Segmentation", "Divergences"):
        assert TABLE[family][2].startswith("n/a")
    applicable = {c.name for c in CASES if not TABLE[c.family][2].startswith("n/a")}
    assert applicable == set(OVERFLOW_SCALE)


# formerly footnote ³: XLA CPU divides x / s as x·(1/s), and 1/s is subnormal (flushed to 0)
# for s ≳ 8.5e37 in float32; max_abs_scale caps s at 1/tiny
def test_cosine_above_8_5e37_float32():
    a = (X * 1e38).astype(np.float32)
    np.testing.assert_allclose(jaxloss.cosine_distance(a, a, reduction="none"), 0.0, atol=1e-6)


# ---------------------------------------------------------------------------------------------
# Column "out-of-range labels / targets"
# ---------------------------------------------------------------------------------------------

# class ids outside [0, C): NaN for that example ("value and gradient": the gradient too)
LABEL_NAN = {
    "multiclass_hinge_loss": ("labels", False),
    "sparse_softmax_cross_entropy": ("labels", True),
    "softmax_focal_loss": ("labels", True),
    "nll_loss": ("labels", True),
    "ctc_loss": ("labels", False),
    "linear_cross_entropy": ("labels", True),
    "sharded_cross_entropy": ("labels", True),
    "token_log_probs": ("tokens", False),
}
# targets outside their domain: the unchecked value (no error, the others unchanged), checked
# mode rejects it
TARGET_BAD = {
    "binary_cross_entropy": ("targets", (0, 0), 2.0),
    "sigmoid_binary_cross_entropy": ("targets", (0, 0), 2.0),
    "sigmoid_focal_loss": ("targets", (0, 0), -1.0),
    "hinge_loss": ("targets", (0, 0), 0.5),
    "categorical_cross_entropy": ("targets", (0, 0), -1.0),
    "js_divergence": ("targets", (0, 0), -1.0),
    "dice_loss": ("targets", (0, 0), 2.0),
    "triplet_margin_loss": None,  # no targets
    "margin_ranking_loss": ("targets", (0, 0), 0.0),
}


# Default tier: every loss of the column once, each bad label (5 and -1) at least once; the full
# product in the slow tier.
@pytest.mark.parametrize(
    "name,bad",
    cover_once_params(
        [pytest.param(n, b, id=f"{b}-{n}") for n in LABEL_NAN for b in (5, -1)],
        lambda p: set(p.values),
    ),
)
def test_label_column_class_ids(name, bad):
    case = BY_NAME[name]
    arg, grad_too = LABEL_NAN[name]
    cell = TABLE[case.family][3]
    assert "NaN for that example" in cell and (grad_too == ("gradient" in cell) or not grad_too)
    labels = np.array(case.kwargs[arg], copy=True)
    labels.flat[0] = bad
    base = case.call()
    out = case.call(**{arg: labels})
    assert np.isnan(out[0]).all()
    _others_unchanged(out, base)
    _checked_rejects(case, **{arg: labels})
    if grad_too:
        # NaN in example 0's gradient (nll: at the entry read), example 1's stays finite
        g = jax.grad(lambda x: jnp.sum(_plain(case, x, labels, arg)))(
            jnp.asarray(case.kwargs[case.arg])
        )
        assert np.isnan(np.asarray(g)[0]).any() and np.isfinite(np.asarray(g)[1]).all()


def _plain(case, x, labels, arg):
    kw = {k: jnp.asarray(v) for k, v in case.kwargs.items()}
    kw[case.arg], kw[arg] = x, jnp.asarray(labels)
    return case.fn(**kw, reduction="none")


@pytest.mark.parametrize("name", [n for n, v in TARGET_BAD.items() if v])
def test_label_column_targets(name):
    case = BY_NAME[name]
    assert "unchecked value¹" in TABLE[case.family][3]
    arg, at, value = TARGET_BAD[name]
    t = np.array(case.kwargs[arg], dtype=np.float64, copy=True)
    t[at] = value
    base = case.call()
    out = case.call(**{arg: t})
    _others_unchanged(out, base)
    _checked_rejects(case, **{arg: t})


def test_label_column_not_applicable():
    assert TABLE["Regression"][3] == "n/a"


# ---------------------------------------------------------------------------------------------
# Column "out-of-range hyperparameters"
# ---------------------------------------------------------------------------------------------

HYPER = {  # family -> (loss, kwargs, hyperparameter, bad value)
    "Regression": ("huber_loss", "delta", -1.0),
    "Binary, probabilities": ("binary_focal_loss", "gamma", -1.0),
    "Binary, logits": ("sigmoid_focal_loss", "alpha", 2.0),
    "Hinge family": ("multi_margin_loss", "margin", -1.0),
    "Softmax CE, logits": ("sparse_softmax_cross_entropy", "label_smoothing", 2.0),
    "Probability CE": ("categorical_cross_entropy", "label_smoothing", -0.5),
    "Segmentation": ("dice_loss", "smooth", -1.0),
    "Metric / ranking": ("triplet_margin_loss", "margin", -1.0),
    "Linear CE": ("linear_cross_entropy", "label_smoothing", 2.0),
    "Sharded CE": ("sharded_cross_entropy", "label_smoothing", 2.0),
    "Post-training": ("dpo_loss", "beta", -1.0),
}
HYPER_ARGS = {
    "huber_loss": dict(predictions=X, targets=Y),
    "binary_focal_loss": dict(probabilities=P, targets=Q),
    "sigmoid_focal_loss": dict(logits=X, targets=Q),
    "multi_margin_loss": dict(scores=X, labels=LAB),
    "sparse_softmax_cross_entropy": dict(logits=X, labels=LAB),
    "categorical_cross_entropy": dict(probabilities=P, targets=Q),
    "dice_loss": dict(probabilities=P, targets=B01),
    "triplet_margin_loss": dict(anchor=X, positive=Y, negative=P),
    "linear_cross_entropy": dict(hidden=X[:, :2], weight=W_LCE, labels=LAB),
    "sharded_cross_entropy": dict(logits=X, labels=LAB),
    "dpo_loss": DPO,
}


@pytest.mark.parametrize("family", list(HYPER))
def test_hyperparameter_column(family):
    assert TABLE[family][4] == H
    name, hp, bad = HYPER[family]
    fn = sharded_cross_entropy if name == "sharded_cross_entropy" else getattr(jaxloss, name)
    extra = dict(mesh=MESH, vocab_axis="model") if name == "sharded_cross_entropy" else {}
    kw = {k: jnp.asarray(v) for k, v in HYPER_ARGS[name].items()}
    with pytest.raises(ValueError, match=f"^{name}: '{hp}' must be"):
        fn(**kw, **extra, **{hp: bad})
    # traced (a jnp array stands for a traced value): checked mode reports it (the sharded loss
    # too: its range check outside the shard_map and the per-device checks inside it are mixed)
    with pytest.raises(jaxloss.LossInputError, match=f"{name}: '{hp}'"):
        jaxloss.checked(fn)(**kw, **extra, **{hp: jnp.asarray(bad)})


def test_hyperparameter_column_ctc_and_divergences():
    assert TABLE["Divergences"][4] == "n/a (none)"
    assert TABLE["Sequence"][4] == "ValueError (`blank_id`, static)"
    with pytest.raises(ValueError, match="^ctc_loss: 'blank_id'"):
        jaxloss.ctc_loss(**{k: jnp.asarray(v) for k, v in CTC.items()}, blank_id=5)


# ---------------------------------------------------------------------------------------------
# Columns "complex" and "lists"
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("case", CASES, ids=repr)
def test_complex_column(case):
    assert TABLE[case.family][5] == C
    with pytest.raises(TypeError, match=f"^{case.name}: '{case.arg}' must be"):
        case.call(**{case.arg: np.asarray(case.kwargs[case.arg]) + 0j})


@pytest.mark.parametrize("case", CASES, ids=repr)
def test_lists_column(case):
    cell = TABLE[case.family][6]
    lists = {k: np.asarray(v).tolist() for k, v in case.kwargs.items()}
    red = {} if case.name == "token_log_probs" else dict(reduction="none")
    assert cell == "accepted"
    np.testing.assert_array_equal(np.asarray(case.fn(**lists, **red)), case.call())


def test_kl_negative_targets_are_nan_and_reported():
    # formerly footnote ⁵: checked mode checked kl_divergence's targets for NaN / inf only
    case = BY_NAME["kl_divergence"]
    assert TABLE["Divergences"][3].startswith(U)
    t = np.array(Q, copy=True)
    t[0, 0] = -1.0
    out = case.call(targets=t)
    assert np.isnan(out[0])
    _others_unchanged(out, case.call())
    with pytest.raises(jaxloss.LossInputError, match="kl_divergence: 'targets' must be non-neg"):
        _checked(case.fn)(jnp.asarray(np.log(P)), jnp.asarray(t), reduction="none")


def test_footnote_2_plus_inf_logit():
    # a +inf logit: NaN for that example wherever it is, sparse and dense (and sharded) alike
    sparse = jaxloss.sparse_softmax_cross_entropy
    for col in (2, 0):  # row 0's label class, another class
        x = np.array(X, copy=True)
        x[0, col] = INF
        for ls in (0.0, 0.1):
            outs = [
                sparse(x, LAB, label_smoothing=ls, reduction="none"),
                jaxloss.softmax_cross_entropy(
                    x, np.eye(3)[LAB], label_smoothing=ls, reduction="none"
                ),
                sharded_ce(jnp.asarray(x), jnp.asarray(LAB), label_smoothing=ls, reduction="none"),
            ]
            for out in outs:
                assert np.isnan(out[0]) and np.isfinite(out[1]), (col, ls, out)
    with pytest.raises(jaxloss.LossInputError, match="'logits'"):
        _checked(sparse)(jnp.asarray(x), jnp.asarray(LAB), reduction="none")
