"""Issue 11 (no silent wrong number): checked mode and input validation.

* checked mode raises at least what the plain loss raises, and checks *traced* hyperparameters
  against the ranges each loss declares once (``jaxloss._validation.RANGES``);
* complex inputs, string flags, non-converting lists, zero classes, hyperparameters of the wrong
  type or shape, ``gaussian_nll_loss(epsilon=0)``: errors naming the loss and the argument;
* issue 10 item 6: ``weights`` of a lower rank than the unreduced loss is a ``ValueError``.

Kept fast: plain-call errors are raised at trace time (no compilation); each checked call
compiles its loss once. The walk of every declared range in checked mode is marked slow.
"""

import inspect
import re

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxloss

X = np.array([[0.3, -0.4, 2.0], [1.0, 0.5, -1.0]])  # scores / logits / predictions
Y = np.array([[0.1, 0.2, 1.5], [0.0, 0.5, 2.0]])  # regression targets
P = np.array([[0.2, 0.3, 0.5], [0.1, 0.8, 0.1]])  # probabilities
Q = np.array([[0.6, 0.3, 0.1], [0.3, 0.3, 0.4]])  # soft targets
PM = np.array([[1.0, -1.0, 1.0], [-1.0, 1.0, 1.0]])  # {-1, +1} targets
B01 = np.array([[1.0, 0.0, 1.0], [0.0, 1.0, 1.0]])  # {0, 1} targets
LAB = np.array([2, 0])
ML_LAB = np.array([[2, 0, -1], [1, -1, 0]])  # multilabel_margin_loss: ids, -1 padding
E4, L4 = np.concatenate([X, Y]), np.array([0, 1, 0, 1])  # embeddings / labels of 4 samples

# valid inputs for every loss that declares a hyperparameter range
GOOD = {
    **{
        n: dict(predictions=X, targets=Y)
        for n in ("huber_loss", "smooth_l1_loss", "quantile_loss", "poisson_nll_loss")
    },
    "mean_absolute_percentage_error": dict(predictions=X, targets=Y + 0.5),
    "gaussian_nll_loss": dict(mean=X, targets=Y, variance=P),
    "binary_cross_entropy": dict(probabilities=P, targets=Q),
    "binary_focal_loss": dict(probabilities=P, targets=Q),
    "sigmoid_binary_cross_entropy": dict(logits=X, targets=Q),
    "sigmoid_focal_loss": dict(logits=X, targets=Q),
    "hinge_loss": dict(scores=X, targets=PM),
    "squared_hinge_loss": dict(scores=X, targets=PM),
    "multilabel_soft_margin_loss": dict(logits=X, targets=B01),
    "softmax_cross_entropy": dict(logits=X, targets=Q),
    "sparse_softmax_cross_entropy": dict(logits=X, labels=LAB),
    "categorical_cross_entropy": dict(probabilities=P, targets=Q),
    "nll_loss": dict(log_probabilities=np.log(P), labels=LAB),
    "softmax_focal_loss": dict(logits=X, labels=LAB),
    "categorical_focal_loss": dict(probabilities=P, targets=Q),
    "categorical_focal_crossentropy": dict(probabilities=P, targets=Q),
    "poly1_cross_entropy": dict(logits=X, labels=LAB),
    "multiclass_hinge_loss": dict(scores=X, labels=LAB),
    "categorical_hinge": dict(scores=X, targets=B01),
    "multi_margin_loss": dict(scores=X, labels=LAB),
    "multilabel_margin_loss": dict(scores=X, labels=ML_LAB),
    "generalized_cross_entropy": dict(probabilities=P, labels=LAB),
    "kl_divergence_from_probabilities": dict(predictions=P, targets=Q),
    **{
        n: dict(probabilities=P, targets=B01)
        for n in ("dice_loss", "tversky_loss", "jaccard_loss", "generalized_dice_loss")
    },
    "cosine_distance": dict(predictions=X, targets=Y),
    "cosine_similarity_loss": dict(predictions=X, targets=Y),
    "cosine_embedding_loss": dict(x1=X, x2=Y, targets=np.array([1.0, -1.0])),
    "triplet_margin_loss": dict(anchor=X, positive=Y, negative=P),
    "triplet_margin_with_distance_loss": dict(anchor=X, positive=Y, negative=P),
    "circle_loss": dict(embeddings=E4 / np.linalg.norm(E4, axis=1, keepdims=True), labels=L4),
    "margin_ranking_loss": dict(x1=X, x2=Y, targets=PM),
    "hinge_embedding_loss": dict(distances=np.abs(X), targets=PM),
    "contrastive_loss": dict(distances=np.abs(X), targets=B01),
    "ntxent_loss": dict(embeddings=np.concatenate([X, Y]), labels=np.array([0, 1, 0, 1])),
    "linear_cross_entropy": dict(hidden=X[:, :2], weight=X[:, :3] * 0.1, labels=LAB),
    # post-training: sequence log-probs [2], GRPO per-token [2, 3]
    "dpo_loss": dict(
        chosen_logps=-P[:, 0],
        rejected_logps=-Q[:, 0],
        ref_chosen_logps=-P[:, 1],
        ref_rejected_logps=-Q[:, 1],
    ),
    "simpo_loss": dict(chosen_logps=-P[:, 0], rejected_logps=-Q[:, 0]),
    "orpo_loss": dict(chosen_logps=-P[:, 0], rejected_logps=-Q[:, 0]),
    "kto_loss": dict(logps=-P[:, 0], ref_logps=-Q[:, 0], desirable=np.array([True, False])),
    "grpo_loss": dict(
        logps=-P, old_logps=-Q, advantages=np.array([1.0, -0.5]), mask=np.ones(P.shape, bool)
    ),
    "distillation_loss": dict(student_logits=X, teacher_logits=Y),
    # CTC (log_epsilon, issue 10): [B=2, T=2, K=3] logits, labels (1, 2) and (1,)
    "ctc_loss": dict(
        logits=np.stack([X, Y]),
        logit_paddings=np.zeros((2, 2)),
        labels=np.array([[1, 2], [1, 0]]),
        label_paddings=np.array([[0.0, 0.0], [0.0, 1.0]]),
    ),
    "linear_distillation_loss": dict(
        student_hidden=X, student_weight=Y.T, teacher_hidden=Y, teacher_weight=X.T, labels=LAB % 2
    ),
}


def _fn(name):
    return getattr(jaxloss, name, None) or jaxloss.get(name)


def _call(fn, name, **kw):
    g = GOOD[name]
    return fn(*g.values(), **kw)


# ---------------------------------------------------------------------------------------------
# Item 2: checked mode raises what the plain loss raises (the issue's list), traced values too
# ---------------------------------------------------------------------------------------------

ISSUE_CASES = [
    ("sparse_softmax_cross_entropy", "label_smoothing", 1.5),
    ("sparse_softmax_cross_entropy", "z_loss", -1.0),
    ("huber_loss", "delta", -1.0),
    ("dice_loss", "smooth", -1.0),
    ("triplet_margin_loss", "margin", -1.0),
    ("binary_cross_entropy", "label_smoothing", 2.0),
    ("ntxent_loss", "temperature", 0.0),
    ("quantile_loss", "quantile", 1.5),
    ("sigmoid_focal_loss", "gamma", -1.0),
]


@pytest.mark.parametrize("name,arg,bad", ISSUE_CASES, ids=[f"{c[0]}-{c[1]}" for c in ISSUE_CASES])
def test_checked_raises_what_the_plain_call_raises(name, arg, bad):
    fn = _fn(name)
    with pytest.raises(ValueError, match=f"^{name}: '{arg}' must be"):
        _call(fn, name, **{arg: bad})
    # the checked call traces the hyperparameter (it compiles the loss): the range is checked
    # at run time and reported with the offending value
    with pytest.raises(jaxloss.LossInputError, match=f"^{name}: '{arg}' must be .*got {bad:g}"):
        _call(jaxloss.checked(fn), name, **{arg: bad})


def test_traced_label_smoothing_is_reported_inside_a_users_jit():
    # a jitted label_smoothing=1.5 used to give 1.13 silently; under checkify it is reported
    ce = jaxloss.checked(jaxloss.sparse_softmax_cross_entropy)
    step = jax.jit(lambda ls: ce(X, LAB, label_smoothing=ls))
    assert np.isfinite(step(0.1))  # the unchecked program still runs
    run = jaxloss.checkify(step)
    np.testing.assert_allclose(run(0.1), step(0.1))
    with pytest.raises(
        jaxloss.LossInputError,
        match=r"sparse_softmax_cross_entropy: 'label_smoothing' must be in \[0, 1\]; got 1.5",
    ):
        run(1.5)


def test_traced_hyperparameter_sweep_reports_the_offending_entry():
    sweep = jaxloss.checkify(
        jax.jit(jax.vmap(lambda d: jaxloss.checked(jaxloss.huber_loss)(X, Y, delta=d)))
    )
    assert np.all(np.isfinite(sweep(jnp.array([0.5, 1.0]))))
    with pytest.raises(jaxloss.LossInputError, match="huber_loss: 'delta' must be non-negative"):
        sweep(jnp.array([0.5, -2.0]))


def test_nan_hyperparameter_is_out_of_range():
    with pytest.raises(ValueError, match="tversky_loss: 'alpha' must be non-negative, got nan"):
        jaxloss.tversky_loss(P, B01, alpha=float("nan"))


def test_every_declared_range_is_enforced_by_the_plain_call():
    from jaxloss._validation import RANGES

    missing = set(RANGES) - set(GOOD)
    assert not missing, f"add valid inputs for {sorted(missing)}"
    for name, ranges in RANGES.items():
        for arg, valid in ranges.items():
            with pytest.raises(
                ValueError, match=f"^{name}: '{arg}' must be {re.escape(str(valid))}, got"
            ):
                _call(_fn(name), name, **{arg: _bad_value(name, arg, valid)})


def test_every_hyperparameter_of_a_loss_declares_its_range():
    from jaxloss._validation import RANGES

    hypers = {
        "delta", "beta", "gamma", "alpha", "margin", "label_smoothing", "z_loss", "temperature",
        "epsilon", "quantile", "pos_weight", "class_weights", "smooth", "logit_softcap",
    }  # fmt: skip
    undeclared = []
    for name in list(jaxloss.list_losses()) + [
        "categorical_focal_crossentropy",
        "categorical_hinge",
    ]:
        params = inspect.signature(_fn(name)).parameters
        for arg in hypers & set(params):
            if arg not in RANGES.get(name, {}):
                undeclared.append((name, arg))
    assert not undeclared, f"hyperparameters without a declared range: {undeclared}"


def _bad_value(name, arg, valid):
    if valid.lo > -np.inf:
        v = valid.lo if valid.lo_open else valid.lo - 1.0
    elif valid.hi < np.inf:
        v = valid.hi + 1.0
    else:
        v = float("nan")
    if arg == "class_weights":
        return np.array([1.0, v, 1.0])
    return v


def _traced_cases():
    from jaxloss._checked import _STATIC
    from jaxloss._validation import RANGES

    return [
        (name, arg, valid)
        for name, ranges in sorted(RANGES.items())
        for arg, valid in sorted(ranges.items())
        if arg not in _STATIC
    ]


@pytest.mark.slow
def test_every_declared_range_is_checked_in_checked_mode():
    for name, arg, valid in _traced_cases():
        bad = _bad_value(name, arg, valid)
        with pytest.raises(
            jaxloss.LossInputError, match=f"^{name}: '{arg}' must be {re.escape(str(valid))}"
        ):
            _call(jaxloss.checked(_fn(name)), name, **{arg: bad})


def test_range_docs_say_what_a_traced_out_of_range_value_does():
    from jaxloss._validation import RANGES

    for name, ranges in RANGES.items():
        doc = inspect.getdoc(_fn(name))
        assert "Raises:" in doc, f"{name}: no Raises section"
        raises = doc[doc.index("Raises:") : doc.index("Examples:")]
        assert "traced" in raises and "jaxloss.checked" in raises, name
        for arg in ranges:
            assert f"``{arg}``" in raises, f"{name}: Raises does not name {arg!r}"


# ---------------------------------------------------------------------------------------------
# Item 9: gaussian_nll_loss(epsilon=0) gave NaN
# ---------------------------------------------------------------------------------------------


def test_gaussian_nll_epsilon_must_be_positive():
    zero_var = np.zeros_like(P)
    with pytest.raises(ValueError, match="gaussian_nll_loss: 'epsilon' must be positive, got 0"):
        jaxloss.gaussian_nll_loss(X, Y, zero_var, epsilon=0.0)
    with pytest.raises(jaxloss.LossInputError, match="gaussian_nll_loss: 'epsilon' must be"):
        jaxloss.checked(jaxloss.gaussian_nll_loss)(X, Y, zero_var, epsilon=0.0)
    assert np.isfinite(jaxloss.gaussian_nll_loss(X, Y, zero_var, epsilon=1e-6))


# ---------------------------------------------------------------------------------------------
# Item 7: complex inputs are a TypeError (the imaginary part was dropped)
# ---------------------------------------------------------------------------------------------

C = (X + 1j * Y).astype(np.complex128)
COMPLEX_CASES = [
    ("mean_squared_error", lambda: jaxloss.mean_squared_error(C, Y), "predictions"),
    ("mean_squared_error", lambda: jaxloss.mean_squared_error(X, C), "targets"),
    ("binary_cross_entropy", lambda: jaxloss.binary_cross_entropy(P + 0j, Q), "probabilities"),
    ("huber_loss", lambda: jaxloss.huber_loss(X, C), "targets"),
    ("dice_loss", lambda: jaxloss.dice_loss(P, B01 + 0j), "targets"),
    ("softmax_cross_entropy", lambda: jaxloss.softmax_cross_entropy(X, Q + 1j), "targets"),
    ("kl_divergence", lambda: jaxloss.kl_divergence(np.log(P), Q + 0j), "targets"),
    ("cosine_distance", lambda: jaxloss.cosine_distance(C, X), "predictions"),
    (
        "ctc_loss",
        lambda: jaxloss.ctc_loss(
            np.zeros((1, 3, 4)) + 0j, np.zeros((1, 3)), np.array([[1, 2]]), np.zeros((1, 2))
        ),
        "logits",
    ),
    ("huber_loss", lambda: jaxloss.huber_loss(X, Y, delta=1 + 1j), "delta"),
    ("multilabel_margin_loss", lambda: jaxloss.multilabel_margin_loss(C, ML_LAB), "scores"),
    (
        "multilabel_margin_loss",
        lambda: jaxloss.multilabel_margin_loss(X, ML_LAB, margin=1 + 1j),
        "margin",
    ),
    (
        "generalized_cross_entropy",
        lambda: jaxloss.generalized_cross_entropy(P + 0j, LAB),
        "probabilities",
    ),
    ("generalized_cross_entropy", lambda: jaxloss.generalized_cross_entropy(P, LAB, q=0.5j), "q"),
    (
        "triplet_margin_with_distance_loss",
        lambda: jaxloss.triplet_margin_with_distance_loss(X, Y, C),
        "negative",
    ),
    (
        "triplet_margin_with_distance_loss",
        lambda: jaxloss.triplet_margin_with_distance_loss(C, Y, P),
        "anchor",
    ),
    ("circle_loss", lambda: jaxloss.circle_loss(E4 + 0j, L4), "embeddings"),
    (
        "circle_loss",
        lambda: jaxloss.circle_loss(X, LAB, ref_embeddings=E4 + 0j, ref_labels=L4),
        "ref_embeddings",
    ),
    ("circle_loss", lambda: jaxloss.circle_loss(E4, L4, gamma=2 + 0j), "gamma"),
    ("mean_squared_error", lambda: jaxloss.mean_squared_error(X, Y, weights=X + 0j), "weights"),
]


@pytest.mark.parametrize(
    "name,call,arg", COMPLEX_CASES, ids=[f"{c[0]}-{c[2]}" for c in COMPLEX_CASES]
)
def test_complex_input_is_a_type_error(name, call, arg):
    with pytest.raises(TypeError, match=f"{name}: '{arg}' must be real"):
        call()


# ---------------------------------------------------------------------------------------------
# Item 10: string values for boolean flags were taken as True
# ---------------------------------------------------------------------------------------------

FLAG_CASES = [
    ("poisson_nll_loss", "log_input", lambda v: jaxloss.poisson_nll_loss(P, Y, log_input=v)),
    ("poisson_nll_loss", "full", lambda v: jaxloss.poisson_nll_loss(X, Y, full=v)),
    ("gaussian_nll_loss", "full", lambda v: jaxloss.gaussian_nll_loss(X, Y, P, full=v)),
    ("kl_divergence", "log_targets", lambda v: jaxloss.kl_divergence(X, Q, log_targets=v)),
    ("triplet_margin_loss", "swap", lambda v: jaxloss.triplet_margin_loss(X, Y, P, swap=v)),
    (
        "triplet_margin_with_distance_loss",
        "swap",
        lambda v: jaxloss.triplet_margin_with_distance_loss(X, Y, P, swap=v),
    ),
    ("circle_loss", "remove_diagonal", lambda v: jaxloss.circle_loss(E4, L4, remove_diagonal=v)),
    (
        "ctc_loss",
        "zero_infinity",
        lambda v: jaxloss.ctc_loss(
            np.zeros((1, 3, 4)),
            np.zeros((1, 3)),
            np.array([[1, 2]]),
            np.zeros((1, 2)),
            zero_infinity=v,
        ),
    ),
]


@pytest.mark.parametrize("name,arg,call", FLAG_CASES, ids=[f"{c[0]}-{c[1]}" for c in FLAG_CASES])
def test_string_flag_is_a_type_error(name, arg, call):
    with pytest.raises(TypeError, match=f"{name}: '{arg}' must be True or False.*'no'"):
        call("no")
    assert np.isfinite(call(False))


def test_string_flag_of_l2_penalty_is_a_type_error():
    params = {"w": np.array([3.0, 4.0])}
    with pytest.raises(TypeError, match="l2_penalty: 'squared' must be True or False"):
        jaxloss.l2_penalty(params, squared="no")
    np.testing.assert_allclose(jaxloss.l2_penalty(params, squared=False), 5.0)


def test_string_flag_is_a_type_error_in_checked_mode():
    with pytest.raises(TypeError, match="poisson_nll_loss: 'log_input' must be True or False"):
        jaxloss.checked(jaxloss.poisson_nll_loss)(X, Y, log_input="no")


# ---------------------------------------------------------------------------------------------
# Item 13: Python lists
# ---------------------------------------------------------------------------------------------


def test_python_lists_are_accepted():
    np.testing.assert_allclose(
        jaxloss.mean_squared_error(X.tolist(), Y.tolist()), jaxloss.mean_squared_error(X, Y)
    )
    np.testing.assert_allclose(
        jaxloss.sparse_softmax_cross_entropy(X.tolist(), LAB.tolist()),
        jaxloss.sparse_softmax_cross_entropy(X, LAB),
    )
    np.testing.assert_allclose(
        jaxloss.cosine_distance(X.tolist(), Y.tolist()), jaxloss.cosine_distance(X, Y)
    )
    for name in (
        "multilabel_margin_loss",
        "generalized_cross_entropy",
        "triplet_margin_with_distance_loss",
        "circle_loss",
    ):
        g = GOOD[name]
        np.testing.assert_allclose(
            _fn(name)(*[v.tolist() for v in g.values()]), _fn(name)(*g.values()), err_msg=name
        )


BAD_LISTS = {
    "strings": (lambda: jaxloss.mean_squared_error([1.0, "a"], [1.0, 2.0]), "'predictions'"),
    "ragged": (
        lambda: jaxloss.mean_squared_error([[1.0], [2.0, 3.0]], [1.0, 2.0]),
        "'predictions'",
    ),
    "bce-targets": (lambda: jaxloss.binary_cross_entropy([0.5, 0.5], ["x", "y"]), "'targets'"),
    "labels": (lambda: jaxloss.sparse_softmax_cross_entropy(X, ["a", "b"]), "'labels'"),
    "weights": (lambda: jaxloss.mean_squared_error([1.0], [1.0], weights=["a"]), "'weights'"),
    "multilabel-labels": (
        lambda: jaxloss.multilabel_margin_loss(X, [[0, -1], [1, 2, -1]]),
        "'labels'",
    ),
    "gce-probabilities": (
        lambda: jaxloss.generalized_cross_entropy([[0.5], [0.2, 0.8]], LAB),
        "'probabilities'",
    ),
    "triplet-negative": (
        lambda: jaxloss.triplet_margin_with_distance_loss(X, Y, [["a", "b", "c"]] * 2),
        "'negative'",
    ),
    "circle-labels": (lambda: jaxloss.circle_loss(E4, ["a", "b", "a", "b"]), "'labels'"),
}


@pytest.mark.parametrize("case", list(BAD_LISTS))
def test_lists_that_do_not_convert_name_the_loss_and_argument(case):
    call, arg = BAD_LISTS[case]
    with pytest.raises((TypeError, ValueError), match=rf"^\w+: {arg} must be an array"):
        call()


# ---------------------------------------------------------------------------------------------
# Item 14: zero classes
# ---------------------------------------------------------------------------------------------

Z = np.zeros((2, 0))
ZERO_CLASS_CASES = [
    ("sparse_softmax_cross_entropy", lambda: jaxloss.sparse_softmax_cross_entropy(Z, LAB)),
    ("softmax_cross_entropy", lambda: jaxloss.softmax_cross_entropy(Z, Z)),
    ("categorical_cross_entropy", lambda: jaxloss.categorical_cross_entropy(Z, Z)),
    ("nll_loss", lambda: jaxloss.nll_loss(Z, LAB)),
    ("z_loss", lambda: jaxloss.z_loss(Z)),
    ("softmax_focal_loss", lambda: jaxloss.softmax_focal_loss(Z, LAB)),
    ("poly1_cross_entropy", lambda: jaxloss.poly1_cross_entropy(Z, LAB)),
    ("multiclass_hinge_loss", lambda: jaxloss.multiclass_hinge_loss(Z, LAB)),
    ("multi_margin_loss", lambda: jaxloss.multi_margin_loss(Z, LAB)),
    ("multilabel_margin_loss", lambda: jaxloss.multilabel_margin_loss(Z, Z.astype(int))),
    ("generalized_cross_entropy", lambda: jaxloss.generalized_cross_entropy(Z, LAB)),
    ("kl_divergence", lambda: jaxloss.kl_divergence(Z, Z)),
    ("multilabel_soft_margin_loss", lambda: jaxloss.multilabel_soft_margin_loss(Z, Z)),
    (
        "linear_cross_entropy",
        lambda: jaxloss.linear_cross_entropy(np.ones((2, 4)), np.zeros((4, 0)), LAB),
    ),
]


@pytest.mark.parametrize("name,call", ZERO_CLASS_CASES, ids=[c[0] for c in ZERO_CLASS_CASES])
def test_zero_classes_is_a_named_value_error(name, call):
    with pytest.raises(ValueError, match=f"{name}: '.*' of shape .* has no classes"):
        call()


# ---------------------------------------------------------------------------------------------
# Item 15: hyperparameters of the wrong shape or type
# ---------------------------------------------------------------------------------------------


def test_huber_delta_of_the_wrong_shape_or_type():
    with pytest.raises(ValueError, match=r"huber_loss: 'delta' of shape \(2,\) does not broadcast"):
        jaxloss.huber_loss(X, Y, delta=np.ones(2))
    with pytest.raises(TypeError, match="huber_loss: 'delta' must be a real number or array"):
        jaxloss.huber_loss(X, Y, delta="1")
    # per-element (broadcastable) deltas stay supported
    d = np.array([[0.5], [2.0]])
    r = X - Y
    ref = np.where(np.abs(r) <= d, 0.5 * r * r, d * (np.abs(r) - 0.5 * d))
    np.testing.assert_allclose(jaxloss.huber_loss(X, Y, delta=d, reduction="none"), ref)


def test_other_hyperparameters_of_the_wrong_shape_or_type():
    with pytest.raises(ValueError, match="dice_loss: 'smooth' of shape"):
        jaxloss.dice_loss(P, B01, smooth=np.ones(3))
    with pytest.raises(TypeError, match="quantile_loss: 'quantile' must be a real number"):
        jaxloss.quantile_loss(X, Y, quantile="0.5")
    with pytest.raises(TypeError, match="ntxent_loss: 'temperature' must be a real number"):
        jaxloss.ntxent_loss(np.concatenate([X, Y]), np.array([0, 1, 0, 1]), temperature="hot")


# ---------------------------------------------------------------------------------------------
# Issue 10 item 6: weights of a lower rank than the unreduced loss
# ---------------------------------------------------------------------------------------------


def test_lower_rank_weights_are_a_value_error():
    s = np.arange(9.0).reshape(3, 3) / 9
    w = np.array([1.0, 2.0, 3.0])
    # B == D: NumPy broadcasting would weight the features, not the examples
    with pytest.raises(
        ValueError, match=r"mean_squared_error: 'weights' of shape \(3,\).*\[B, 1\]"
    ):
        jaxloss.mean_squared_error(s, np.zeros((3, 3)), weights=w)
    with pytest.raises(ValueError, match=r"binary_cross_entropy: 'weights'.*\(3, 1\) or \(1, 3\)"):
        jaxloss.binary_cross_entropy(s, s, weights=w)
    with pytest.raises(ValueError, match="reduce_loss: 'weights'"):
        jaxloss.reduce_loss(s, weights=w)
    # per-example weights spelled [B, 1]: the weighted mean of the row means
    got = jaxloss.mean_squared_error(s, np.zeros((3, 3)), weights=w[:, None])
    np.testing.assert_allclose(got, np.sum(w[:, None] * s * s) / (3 * np.sum(w)))
    # scalars and full-rank weights stay fine
    np.testing.assert_allclose(
        jaxloss.mean_squared_error(s, np.zeros((3, 3)), weights=2.0), np.mean(s * s)
    )


def test_lower_rank_weights_on_per_example_losses():
    x3 = np.zeros((2, 4, 3))
    lab2 = np.zeros((2, 4), int)
    # the per-token loss is [2, 4]: a [4] weight array is rejected, [2, 4] and [2, 1] are fine
    with pytest.raises(ValueError, match="sparse_softmax_cross_entropy: 'weights'"):
        jaxloss.sparse_softmax_cross_entropy(x3, lab2, weights=np.ones(4))
    with pytest.raises(ValueError, match="linear_cross_entropy: 'weights'"):
        jaxloss.linear_cross_entropy(np.ones((2, 4, 2)), np.ones((2, 3)), lab2, weights=np.ones(4))
    np.testing.assert_allclose(
        jaxloss.sparse_softmax_cross_entropy(x3, lab2, weights=np.array([[1.0], [3.0]])),
        np.log(3.0),
    )
