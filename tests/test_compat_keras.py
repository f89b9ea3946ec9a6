"""``jaxloss.compat.keras`` against the numeric cases of Keras' own ``losses_test.py``.

``tests/data/keras_loss_cases.json`` holds the inputs, constructor options and expected numbers of
every numeric assertion in Keras 3.15's ``keras/src/losses/losses_test.py`` (extracted by
``scripts/extract_keras_loss_cases.py``); this file replays them against our compat layer with the
tolerance each Keras test uses. The cases Keras runs only on its torch backend (class axis != -1)
and its ``assertEqual`` cases are carried over by hand below. Where installed Keras 3.15.1 has a
bug fixed upstream (Tversky's alpha / beta swap, keras-team/keras#23333), the expected number is
the fixed one, computed by an independent NumPy reference here. Keras itself is not needed.
"""

from __future__ import annotations

import json
import pathlib

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxloss.compat import keras as K

from .helpers import cover_once_params

DATA = json.loads((pathlib.Path(__file__).parent / "data" / "keras_loss_cases.json").read_text())
CASES = DATA["cases"]


def _array(rec):
    if rec is None:
        return None
    a = np.asarray(rec["value"], dtype=rec["dtype"])
    # float inputs in float64: Keras computed its expected numbers in float32 and asserts them
    # with a tolerance that covers float32 rounding
    return a.astype(np.float64) if a.dtype.kind == "f" else a


def _tversky_fixed(y_true, y_pred, alpha, beta, axis):
    """Independent reference of the upstream-fixed Keras Tversky (alpha: FP, beta: FN)."""
    axis = None if axis is None else tuple(np.atleast_1d(axis))
    tp = np.sum(y_true * y_pred, axis=axis)
    fp = np.sum((1 - y_true) * y_pred, axis=axis)
    fn = np.sum(y_true * (1 - y_pred), axis=axis)
    return 1 - tp / (tp + alpha * fp + beta * fn + 1e-7)


def _expected(case):
    expected = np.asarray(case["expected"], np.float64)
    if case["name"] == "Tversky":
        kw = case["kwargs"]
        alpha, beta = kw.get("alpha", 0.5), kw.get("beta", 0.5)
        if alpha != beta:  # Keras 3.15.1 swaps them; upstream (and we) do not
            fixed = _tversky_fixed(
                _array(case["y_true"]), _array(case["y_pred"]), alpha, beta, kw.get("axis")
            )
            red = kw.get("reduction", "sum_over_batch_size")
            return np.asarray(fixed if red in (None, "none") else np.mean(fixed))
    return expected


def _run(case):
    y_true, y_pred = _array(case["y_true"]), _array(case["y_pred"])
    if case["kind"] == "class":
        loss = getattr(K, case["name"])(*case["args"], **case["kwargs"])
        sw = _array(case["sample_weight"])
        return loss(y_true, y_pred) if sw is None else loss(y_true, y_pred, sample_weight=sw)
    return getattr(K, case["name"])(y_true, y_pred, *case["args"], **case["kwargs"])


def _check(actual, expected, tol):
    actual = np.asarray(actual)
    if "decimal" in tol:
        np.testing.assert_almost_equal(actual, expected, decimal=tol["decimal"])
    else:
        np.testing.assert_allclose(actual, expected, atol=tol["atol"], rtol=tol["rtol"])


def _case_features(c):
    """What a Keras case exercises: its loss as class or function, each constructor option, the
    sample-weight form and the input rank."""
    out = {(c["name"], c["kind"]), (c["name"], "rank", np.ndim(c["y_pred"]))}
    out |= {(c["name"], k) for k in c["kwargs"]}
    if c["sample_weight"] is not None:
        out.add((c["name"], "sample_weight", np.ndim(c["sample_weight"])))
    return out


# Default tier: the 55 of 164 cases that first exercise a feature above; all 164 in the slow tier.
_CASE_PARAMS = cover_once_params(
    [pytest.param(c, id=f"{i}-{c['test']}") for i, c in enumerate(CASES)],
    lambda p: _case_features(p.values[0]),
)


@pytest.mark.parametrize("case", _CASE_PARAMS)
def test_keras_losses_test_case(case):
    _check(_run(case), _expected(case), case["tolerance"])


def test_tversky_fixed_differs_from_installed_keras_where_alpha_ne_beta():
    # the fixed expectation really is a change from 3.15.1 for these cases (not a no-op)
    changed = [
        c
        for c in CASES
        if c["name"] == "Tversky" and c["kwargs"].get("alpha", 0.5) != c["kwargs"].get("beta", 0.5)
    ]
    assert changed
    for c in changed:
        assert not np.allclose(_expected(c), np.asarray(c["keras_value"]), atol=1e-4)


# ----------------------------------------------------------------------------------------------
# carried over by hand: cases Keras asserts with assertEqual or only on its torch backend
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("cls", [K.Hinge, K.SquaredHinge, K.CategoricalHinge])
def test_zero_sample_weight_gives_zero(cls):
    y_true = np.array([[0.0, 1.0], [0.0, 0.0]])
    y_pred = np.array([[0.6, 0.4], [0.4, 0.6]])
    assert float(cls()(y_true, y_pred, sample_weight=0.0)) == 0.0


def test_base_function_reduction_shape():
    out = K.mean_squared_error(np.array([4, 8, 12]), np.array([[3], [0], [1]]))
    assert out.shape == (3,)


_SEG_TRUE = np.array([[0, 1, 1, 0], [1, 0, 1, 0], [0, 0, 1, 1], [1, 1, 0, 1]])


def test_sparse_ce_binary_segmentation_class_axis_0_and_1():
    y_pred = np.array(
        [
            [[1.0, 0.0], [0.0, 1.0], [0.0, 1.0], [0.2, 0.8]],
            [[0.0, 1.0], [1.0, 0.0], [0.0, 1.0], [1.0, 0.0]],
            [[1.0, 0.0], [1.0, 0.0], [0.0, 1.0], [0.0, 1.0]],
            [[0.0, 1.0], [0.0, 1.0], [1.0, 0.0], [0.6, 0.4]],
        ]
    )
    expected = (-np.log(0.2) - np.log(0.4)) / 16.0
    moved = np.moveaxis(y_pred, 2, 0)
    out = K.SparseCategoricalCrossentropy(axis=0)(_SEG_TRUE, moved)
    np.testing.assert_allclose(out, expected, atol=1e-6, rtol=1e-6)
    out = K.SparseCategoricalCrossentropy(axis=1)(np.array([_SEG_TRUE] * 3), np.array([moved] * 3))
    np.testing.assert_allclose(out, expected, atol=1e-6, rtol=1e-6)
    # all correct: 0 (the clip at 1e-7 leaves ~1e-7 per entry)
    exact = np.moveaxis(np.eye(2)[_SEG_TRUE], 2, 0)
    np.testing.assert_allclose(
        K.SparseCategoricalCrossentropy(axis=0)(_SEG_TRUE, exact), 0.0, atol=1e-6
    )


def test_sparse_ce_multi_class_segmentation_class_axis_0_and_1():
    y_true = np.array([[0, 1, 2, 0], [1, 0, 1, 0], [0, 0, 1, 1], [1, 1, 0, 1]])
    y_pred = np.eye(3)[y_true]
    y_pred[0, 3] = [0.2, 0.0, 0.8]  # true class 0: -log(0.2)
    y_pred[1, 3] = [0.3, 0.7, 0.0]  # true class 0: -log(0.3)
    y_pred[3, 2] = [0.5, 0.5, 0.0]  # true class 0: -log(0.5)
    expected = -(np.log(0.2) + np.log(0.3) + np.log(0.5)) / 16.0
    moved = np.moveaxis(y_pred, 2, 0)
    out = K.SparseCategoricalCrossentropy(axis=0)(y_true, moved)
    np.testing.assert_allclose(out, expected, atol=1e-6, rtol=1e-6)
    out = K.SparseCategoricalCrossentropy(axis=1)(np.array([y_true] * 3), np.array([moved] * 3))
    np.testing.assert_allclose(out, expected, atol=1e-6, rtol=1e-6)


def test_label_smoothing_counts_classes_on_axis():
    # keras-team/keras#23437: with axis=1 on [B, C, T], smoothing spreads over C, not T
    r = np.random.default_rng(0)
    y_true = np.eye(3)[r.integers(0, 3, (2, 5))].transpose(0, 2, 1)  # [2, 3, 5]
    logits = r.standard_normal((2, 3, 5))
    eps = 0.2
    smoothed = y_true * (1 - eps) + eps / 3
    logp = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
    expected = -(smoothed * logp).sum(axis=1)
    out = K.categorical_crossentropy(y_true, logits, from_logits=True, label_smoothing=eps, axis=1)
    np.testing.assert_allclose(out, expected, rtol=1e-12)
    p = np.exp(logp)
    focal = -(0.25 * (1 - p) ** 2 * smoothed * logp).sum(axis=1)
    out = K.categorical_focal_crossentropy(y_true, p, label_smoothing=eps, axis=1)
    np.testing.assert_allclose(out, focal, rtol=1e-9)


def test_reductions_and_masks():
    y_true = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    y_pred = np.array([[0.5, 0.5], [0.2, 0.1], [0.9, 0.3]])
    per = K.mean_squared_error(y_true, y_pred)
    sw = np.array([1.0, 0.0, 2.0])
    for red, want in (
        ("sum_over_batch_size", (per * sw).sum() / 3),
        ("mean", (per * sw).sum() / 3),
        ("mean_with_sample_weight", (per * sw).sum() / 3.0),
        ("sum", (per * sw).sum()),
        ("none", per * sw),
        (None, per * sw),
    ):
        got = K.MeanSquaredError(reduction=red, dtype="float64")(y_true, y_pred, sample_weight=sw)
        np.testing.assert_allclose(got, want, rtol=1e-12)
    # ignore_class: "sum_over_batch_size" averages over the valid entries only
    labels = np.array([0, 2, 1, 2])
    probs = np.array([[0.7, 0.2, 0.1], [0.1, 0.1, 0.8], [0.3, 0.6, 0.1], [0.2, 0.2, 0.6]])
    got = K.SparseCategoricalCrossentropy(ignore_class=2, dtype="float64")(labels, probs)
    np.testing.assert_allclose(got, -(np.log(0.7) + np.log(0.6)) / 2, rtol=1e-12)
    with pytest.raises(ValueError, match="reduction"):
        K.MeanSquaredError(reduction="batchmean")


def test_jit_and_grad():
    loss = K.CategoricalCrossentropy(from_logits=True, label_smoothing=0.1)
    y = jnp.eye(4)[jnp.array([0, 3, 1])]
    x = jnp.asarray(np.random.default_rng(1).standard_normal((3, 4)))
    g = jax.jit(jax.grad(lambda x: loss(y, x)))(x)
    assert g.shape == x.shape and bool(jnp.all(jnp.isfinite(g)))
