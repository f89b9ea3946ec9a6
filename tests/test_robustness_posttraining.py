"""Issue 11, the open footnotes: the post-training losses and token_log_probs take lists and name
their bad inputs; checked mode covers kl_divergence's negative targets, token_log_probs' tokens,
GRPO's mask, ORPO's log-probabilities and a traced robust-DPO smoothing; checked sharded losses
report a traced hyperparameter (1x1 mesh); a +inf logit gives NaN for its row in every softmax
cross-entropy (sparse, dense, focal, poly-1).

Small eager float64 inputs; references are closed forms or the same loss on arrays.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxloss
from jaxloss.sharding import sharded_cross_entropy

INF = float("inf")
C, R = np.array([-1.0, -2.0]), np.array([-2.0, -1.5])
LP = np.array([[-1.0, -2.0, -0.5], [-0.3, -1.2, -0.7]])
X = np.array([[0.3, -0.4, 2.0], [1.0, 0.5, -1.0]])
LAB = np.array([2, 0])

# name -> (function, keyword inputs as NumPy arrays)
POST = {
    "dpo_loss": (jaxloss.dpo_loss, dict(
        chosen_logps=C, rejected_logps=R, ref_chosen_logps=R, ref_rejected_logps=C)),
    "simpo_loss": (jaxloss.simpo_loss, dict(chosen_logps=C, rejected_logps=R)),
    "orpo_loss": (jaxloss.orpo_loss, dict(chosen_logps=C, rejected_logps=R)),
    "kto_loss": (jaxloss.kto_loss, dict(logps=C, ref_logps=R, desirable=np.array([True, False]))),
    "grpo_loss": (jaxloss.grpo_loss, dict(
        logps=LP, old_logps=LP - 0.1, advantages=np.array([1.0, -0.5]),
        mask=np.array([[1.0, 1.0, 0.0], [1.0, 1.0, 1.0]]), ref_logps=LP + 0.2, beta=0.1)),
    "distillation_loss": (jaxloss.distillation_loss, dict(
        student_logits=X, teacher_logits=X[::-1].copy(), labels=np.array([1, 2]),
        ignore_index=2)),
    "token_log_probs": (jaxloss.token_log_probs, dict(logits=X, tokens=LAB)),
}  # fmt: skip
FLOAT_ARGS = {
    "dpo_loss": "chosen_logps",
    "simpo_loss": "rejected_logps",
    "orpo_loss": "chosen_logps",
    "kto_loss": "ref_logps",
    "grpo_loss": "advantages",
    "distillation_loss": "teacher_logits",
    "token_log_probs": "logits",
}


def _arrays(kw):
    return {k: jnp.asarray(v) if isinstance(v, np.ndarray) else v for k, v in kw.items()}


def _lists(kw):
    return {k: v.tolist() if isinstance(v, np.ndarray) else v for k, v in kw.items()}


# ------------------------------------------------------------------ footnote 4: lists, named errors
@pytest.mark.parametrize("name", list(POST))
def test_lists_equal_arrays(name):
    # was: TypeError "Cannot determine dtype of [...]" without the loss or the argument
    fn, kw = POST[name]
    np.testing.assert_array_equal(np.asarray(fn(**_lists(kw))), np.asarray(fn(**_arrays(kw))))


@pytest.mark.parametrize("name", list(POST))
def test_bad_inputs_name_the_loss_and_argument(name):
    fn, kw = POST[name]
    arg = FLOAT_ARGS[name]
    base = _arrays(kw)
    cplx = dict(base, **{arg: np.asarray(kw[arg]) + 0j})
    with pytest.raises(TypeError, match=f"^{name}: '{arg}' must be real"):
        fn(**cplx)
    ragged = dict(base, **{arg: [[1.0, 2.0], [3.0]]})
    with pytest.raises((TypeError, ValueError), match=f"^{name}: '{arg}' must be an array"):
        fn(**ragged)
    with pytest.raises(TypeError, match=f"^{name}: '{arg}' must be a numeric array"):
        fn(**dict(base, **{arg: "abc"}))
    integers = dict(base, **{arg: np.ones(np.shape(kw[arg]), np.int32)})
    with pytest.raises(TypeError, match=f"^{name}: '{arg}' must be a floating-point array"):
        fn(**integers)


def test_integer_argument_errors_are_named():
    with pytest.raises(TypeError, match="^token_log_probs: 'tokens' must be integer class ids"):
        jaxloss.token_log_probs(X, [2.0, 0.0])
    with pytest.raises(TypeError, match="^distillation_loss: 'labels' must be integer class ids"):
        jaxloss.distillation_loss(X, X, labels=[1.0, 0.0])
    with pytest.raises(TypeError, match="^kto_loss: 'desirable' must be a boolean array"):
        jaxloss.kto_loss(C, R, [1, 0])
    with pytest.raises(TypeError, match="^grpo_loss: 'mask' must be real"):
        jaxloss.grpo_loss(LP, LP, [1.0, 1.0], np.ones((2, 3)) + 0j)
    with pytest.raises(TypeError, match="^grpo_loss: 'where' must be a boolean mask"):
        jaxloss.grpo_loss(LP, LP, [1.0, 1.0], np.ones((2, 3)), where=[[1, 1, 1], [1, 1, 1]])


# ------------------------------------------------------------------ footnote 5: checked mode
@functools.cache
def _checked(fn):
    return jaxloss.checked(fn)


def test_checked_token_log_probs():
    f = _checked(jaxloss.token_log_probs)
    lp, h = f(jnp.asarray(X), jnp.asarray(LAB), return_entropy=True)
    want_lp, want_h = jaxloss.token_log_probs(jnp.asarray(X), jnp.asarray(LAB), return_entropy=True)
    np.testing.assert_array_equal(lp, want_lp)
    np.testing.assert_array_equal(h, want_h)
    for bad in (3, -1):
        with pytest.raises(
            jaxloss.LossInputError,
            match=rf"^token_log_probs: 'tokens' must be a class id in \[0, 3\); got {bad} at",
        ):
            f(jnp.asarray(X), jnp.asarray([bad, 0]))
    x = jnp.asarray(X).at[1, 1].set(jnp.nan)
    with pytest.raises(jaxloss.LossInputError, match="^token_log_probs: 'logits' must not be NaN"):
        f(x, jnp.asarray(LAB))
    # masked classes (-inf) are valid; the vocabulary axis is the one `axis` names
    ok = f(jnp.asarray(X.T).at[0, 0].set(-jnp.inf), jnp.asarray(LAB), axis=0)
    assert np.all(np.isfinite(np.asarray(ok)))
    with pytest.raises(jaxloss.LossInputError, match=r"class id in \[0, 3\); got 3 at index \[1\]"):
        f(jnp.asarray(X.T), jnp.asarray([0, 3]), axis=0)


def test_checked_grpo_mask_must_be_0_or_1():
    fn, kw = POST["grpo_loss"]
    f = _checked(fn)
    base = _arrays(kw)
    np.testing.assert_array_equal(f(**base), fn(**base))
    for bad in (0.5, -1.0, float("nan")):
        m = base["mask"].at[0, 1].set(bad)
        with pytest.raises(jaxloss.LossInputError, match="^grpo_loss: 'mask' must be 0 or 1; got"):
            f(**dict(base, mask=m))
        # unchecked: 0.5 weights the token (a plausible number), which is why checked reports it
        if bad == 0.5:
            out = fn(**dict(base, mask=m), reduction="none")
            full = fn(**base, reduction="none")
            np.testing.assert_allclose(out[0, 1], 0.5 * full[0, 1], rtol=1e-12)
    # a boolean mask is always valid; an entry dropped by `where` is not checked
    f(**dict(base, mask=base["mask"] > 0))
    m = base["mask"].at[0, 1].set(0.5)
    where = jnp.ones((2, 3), bool).at[0, 1].set(False)
    np.testing.assert_array_equal(
        f(**dict(base, mask=m), where=where), fn(**dict(base, mask=m), where=where)
    )


def test_checked_orpo_log_probabilities_above_zero():
    fn, kw = POST["orpo_loss"]
    f = _checked(fn)
    for arg in ("chosen_logps", "rejected_logps"):
        bad = dict(_arrays(kw), **{arg: jnp.asarray(kw[arg]).at[1].set(0.5)})
        assert np.isnan(np.asarray(fn(**bad, reduction="none"))[1])  # the unchecked value
        with pytest.raises(
            jaxloss.LossInputError, match=f"^orpo_loss: '{arg}' must be <= 0 .*got 0.5 at index"
        ):
            f(**bad, reduction="none")
    # 0 and -inf are valid log-probabilities
    ok = f(jnp.asarray([0.0, -INF]), jnp.asarray([-1.0, -1.0]), reduction="none")
    assert ok.shape == (2,)


def test_checked_robust_dpo_traced_label_smoothing():
    fn, kw = POST["dpo_loss"]
    base = _arrays(kw)
    with pytest.raises(ValueError, match="'label_smoothing' must be < 0.5 for loss_type='robust'"):
        fn(**base, loss_type="robust", label_smoothing=0.5)
    f = _checked(fn)
    with pytest.raises(
        jaxloss.LossInputError,
        match="^dpo_loss: 'label_smoothing' must be < 0.5 for loss_type='robust'.*; got 0.5",
    ):
        f(**base, loss_type="robust", label_smoothing=jnp.asarray(0.5))
    np.testing.assert_allclose(
        f(**base, loss_type="robust", label_smoothing=jnp.asarray(0.2)),
        fn(**base, loss_type="robust", label_smoothing=0.2),
        rtol=1e-12,
    )
    # the other loss types accept smoothing in [0, 1]
    f(**base, loss_type="sigmoid", label_smoothing=jnp.asarray(0.7))


def test_checked_kl_negative_targets_respects_where():
    p = np.array([[0.2, 0.3, 0.5], [0.1, 0.8, 0.1]])
    t = np.array([[-0.5, 1.2, 0.3], [0.3, 0.3, 0.4]])
    f = _checked(jaxloss.kl_divergence)
    args = (jnp.asarray(np.log(p)), jnp.asarray(t))
    with pytest.raises(jaxloss.LossInputError, match=r"'targets' must be non-negative; got -0.5"):
        f(*args, reduction="none")
    out = f(*args, where=jnp.asarray([False, True]), reduction="none")
    want = np.sum(t[1] * np.log(t[1] / p[1]))
    np.testing.assert_allclose(np.asarray(out), [0.0, want], rtol=1e-12)


# ------------------------------------------------------------------ checked sharded, 1x1 mesh
def test_checked_sharded_traced_hyperparameter_on_a_1x1_mesh():
    # was: IndexError inside checkify's Error.get (a check outside the shard_map, unbatched,
    # mixed with the per-device checks inside it)
    mesh = jax.make_mesh((1, 1), ("data", "model"), axis_types=(jax.sharding.AxisType.Auto,) * 2)
    f = jaxloss.checked(sharded_cross_entropy)
    kw = dict(mesh=mesh, vocab_axis="model", batch_axis="data", reduction="none")
    x, y = jnp.asarray(X), jnp.asarray(LAB)
    with pytest.raises(
        jaxloss.LossInputError,
        match=r"^sharded_cross_entropy: 'label_smoothing' must be in \[0, 1\]",
    ):
        f(x, y, label_smoothing=jnp.asarray(1.5), **kw)
    # a check inside the shard_map still reports, with a valid traced hyperparameter beside it
    with pytest.raises(jaxloss.LossInputError, match=r"'labels' must be a class id in \[0, 3\)"):
        f(x, jnp.asarray([2, 7]), label_smoothing=jnp.asarray(0.1), **kw)
    np.testing.assert_allclose(
        f(x, y, label_smoothing=jnp.asarray(0.1), **kw),
        jaxloss.sparse_softmax_cross_entropy(x, y, label_smoothing=0.1, reduction="none"),
        rtol=1e-12,
    )


# ------------------------------------------------------------------ +inf logits: one behaviour
@pytest.mark.parametrize("col", [2, 0])  # row 0's label class, another class
def test_plus_inf_logit_is_nan_for_its_row_in_every_softmax_ce(col):
    x = X.copy()
    x[0, col] = INF
    onehot = np.eye(3)[LAB]
    outs = {
        "sparse": jaxloss.sparse_softmax_cross_entropy(x, LAB, reduction="none"),
        "dense": jaxloss.softmax_cross_entropy(x, onehot, reduction="none"),
        "soft targets": jaxloss.softmax_cross_entropy(
            x, np.array([[0.5, 0.0, 0.5], [1.0, 0.0, 0.0]]), reduction="none"
        ),
        "z_loss": jaxloss.sparse_softmax_cross_entropy(x, LAB, z_loss=1e-4, reduction="none"),
        "focal": jaxloss.softmax_focal_loss(x, LAB, reduction="none"),
        "focal, gamma 0": jaxloss.softmax_focal_loss(x, LAB, gamma=0.0, reduction="none"),
        "poly1": jaxloss.poly1_cross_entropy(x, LAB, reduction="none"),
        "poly1, soft": jaxloss.poly1_cross_entropy(x, onehot, reduction="none"),
    }
    ref = jaxloss.sparse_softmax_cross_entropy(X, LAB, reduction="none")
    for what, out in outs.items():
        out = np.asarray(out)
        assert np.isnan(out[0]) and np.isfinite(out[1]), (what, out)
    np.testing.assert_array_equal(np.asarray(outs["sparse"])[1], np.asarray(ref)[1])
    # the gradient is NaN in that row (at the +inf logit), finite in the other
    g = jax.grad(lambda a: jaxloss.sparse_softmax_cross_entropy(a, jnp.asarray(LAB)))(
        jnp.asarray(x)
    )
    assert np.isnan(np.asarray(g)[0, col]) and np.all(np.isfinite(np.asarray(g)[1]))
    # where=False drops the row: exact 0
    m = jnp.asarray([False, True])
    assert float(jaxloss.sparse_softmax_cross_entropy(x, LAB, where=m, reduction="none")[0]) == 0
    assert float(jaxloss.softmax_focal_loss(x, LAB, where=m, reduction="none")[0]) == 0
