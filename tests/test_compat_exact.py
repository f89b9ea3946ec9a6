"""Peer-exact options of the canonical losses, and the thin compat calls that use them (issue 10).

Each option is checked against an independent reference: float64 NumPy written from the formula,
and the peer library itself where it is installed (optax, PyTorch CPU; Keras on the JAX backend).

- ``smooth_numerator`` (dice / tversky / jaccard), and Keras' ``dice`` / ``tversky`` exact;
- ``activation`` and ``class_weighting``, and optax's ``dice_loss`` /
  ``multiclass_generalized_dice_loss`` / ``binary_dice_loss`` / ``l2_loss``;
- ``ctc_loss(log_epsilon=)`` and optax's ``ctc_loss`` on impossible alignments;
- ``smooth_labels(where=)`` and optax's;
- the unqualified registry names ``KLDivLoss`` and ``CTCLoss`` are PyTorch's classes.
"""

from __future__ import annotations

import os
import pathlib

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxloss

ROOT = pathlib.Path(__file__).resolve().parents[1]


def _peer(fn, *args, **kwargs):
    """A live peer call: optax / Keras are not written for strict dtype / rank promotion."""
    with jax.numpy_dtype_promotion("standard"), jax.numpy_rank_promotion("allow"):
        return fn(*args, **kwargs)


# ----------------------------------------------------------------------------------------------
# 1. smooth_numerator; Keras dice / tversky
# ----------------------------------------------------------------------------------------------


def _np_overlap(kind, p, t, s, axes, numerator, alpha=0.5, beta=0.5):
    """float64 reference of the three overlap losses, ``s`` in the numerator iff ``numerator``."""
    i = np.sum(p * t, axis=axes)
    sp, st = np.sum(p, axis=axes), np.sum(t, axis=axes)
    n = s if numerator else 0.0
    if kind == "dice":
        return 1 - (2 * i + n) / (sp + st + s)
    if kind == "tversky":
        fp, fn = np.sum(p * (1 - t), axis=axes), np.sum((1 - p) * t, axis=axes)
        return 1 - (i + n) / (i + alpha * fp + beta * fn + s)
    return 1 - (i + n) / (sp + st - i + s)


def _seg_inputs(seed=0, shape=(3, 4, 5)):
    r = np.random.default_rng(seed)
    p = r.uniform(0, 1, shape)
    t = (r.uniform(size=shape) < 0.4) * 1.0
    p[0], t[0] = 0.0, 0.0  # an empty row: where the smoothing placement matters most
    return p, t


@pytest.mark.parametrize("kind", ["dice", "tversky", "jaccard"])
def test_smooth_numerator_matches_numpy(kind):
    p, t = _seg_inputs()
    fn = {"dice": jaxloss.dice_loss, "tversky": jaxloss.tversky_loss}.get(
        kind, jaxloss.jaccard_loss
    )
    kw = {"alpha": 0.3, "beta": 0.7} if kind == "tversky" else {}
    for numerator in (True, False):
        got = fn(
            jnp.asarray(p),
            jnp.asarray(t),
            smooth=0.5,
            smooth_numerator=numerator,
            reduction="none",
            **kw,
        )
        want = _np_overlap(kind, p, t, 0.5, (1, 2), numerator, **kw)
        np.testing.assert_allclose(np.asarray(got), want, rtol=1e-13, atol=1e-15)
    # the default is unchanged: smooth in numerator and denominator (empty row: loss 0)
    default = fn(jnp.asarray(p), jnp.asarray(t), smooth=0.5, reduction="none", **kw)
    assert float(default[0]) == 0.0
    denominator_only = fn(
        jnp.asarray(p), jnp.asarray(t), smooth=0.5, smooth_numerator=False, reduction="none", **kw
    )
    assert float(denominator_only[0]) == 1.0  # 0 / s: Keras' value on empty masks


def test_smooth_numerator_is_a_static_bool():
    p, t = _seg_inputs()
    with pytest.raises(TypeError, match="dice_loss: 'smooth_numerator' must be True or False"):
        jaxloss.dice_loss(jnp.asarray(p), jnp.asarray(t), smooth_numerator="no")
    # checked mode compiles it as a static option
    checked = jaxloss.checked(jaxloss.tversky_loss)
    got = checked(jnp.asarray(p), jnp.asarray(t), smooth_numerator=False)
    want = jaxloss.tversky_loss(jnp.asarray(p), jnp.asarray(t), smooth_numerator=False)
    np.testing.assert_allclose(float(got), float(want), rtol=1e-14)


def _keras():
    os.environ.setdefault("KERAS_BACKEND", "jax")
    keras = pytest.importorskip("keras")
    if keras.backend.backend() != "jax":
        pytest.skip("Keras is configured with a non-JAX backend")
    return keras


@pytest.mark.parametrize("name", ["dice", "tversky"])
def test_keras_dice_tversky_exact(name):
    """Keras' formula, ε = 1e-7 in the denominator only: NumPy float64 to 1e-13, and live Keras.

    The empty row is the case the old ``smooth = 1e-7`` in numerator and denominator got wrong
    (0 instead of Keras' 1).
    """
    from jaxloss.compat import keras as K

    p, t = _seg_inputs(1)
    kw = {"alpha": 0.3, "beta": 0.7} if name == "tversky" else {}
    fn = getattr(K, name)
    for axis, np_axes in ((None, None), ((1, 2), (1, 2))):
        got = np.asarray(fn(jnp.asarray(t), jnp.asarray(p), axis=axis, **kw))
        want = _np_overlap(name, p, t, 1e-7, np_axes, numerator=False, **kw)
        np.testing.assert_allclose(got, want, rtol=1e-13, atol=1e-15)
    per_row = np.asarray(fn(jnp.asarray(t), jnp.asarray(p), axis=(1, 2), **kw))
    assert per_row[0] == 1.0  # empty masks: 1 − 0/ε
    keras = _keras()
    # installed Keras 3.15.1 swaps Tversky's alpha and beta (fixed upstream, keras-team#23333)
    live_kw = {"alpha": kw["beta"], "beta": kw["alpha"]} if kw else {}
    for axis in (None, (1, 2)):
        want = np.asarray(
            _peer(getattr(keras.losses, name), t, p, axis=axis, **live_kw), np.float64
        )
        got = np.asarray(fn(jnp.asarray(t), jnp.asarray(p), axis=axis, **kw))
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-7)
    assert want[0] == 1.0


# ----------------------------------------------------------------------------------------------
# 3. activation, class_weighting; optax's dice family and l2_loss
# ----------------------------------------------------------------------------------------------


def _softmax(x):
    e = np.exp(x - x.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def test_activation_and_class_weighting_match_numpy():
    r = np.random.default_rng(2)
    x = r.standard_normal((2, 6, 3))
    t = np.eye(3)[r.integers(0, 3, (2, 6))]
    got = jaxloss.tversky_loss(
        jnp.asarray(x),
        jnp.asarray(t),
        activation="softmax",
        class_weighting="inverse_square_frequency",
        axis=1,
        reduction="none",
    )
    loss = _np_overlap("tversky", _softmax(x), t, 1.0, (1,), True)  # [B, C]
    v = 1.0 / (t.sum(axis=(0, 1)) ** 2 + 1e-7)
    want = loss * (v / v.sum() * 3)
    np.testing.assert_allclose(np.asarray(got), want, rtol=1e-13)
    got = jaxloss.dice_loss(jnp.asarray(x), jnp.asarray(t), activation="sigmoid", axis=(1, 2))
    want = np.mean(_np_overlap("dice", 1 / (1 + np.exp(-x)), t, 1.0, (1, 2), True))
    np.testing.assert_allclose(float(got), want, rtol=1e-13)
    with pytest.raises(ValueError, match="class_weighting.*last axis"):
        jaxloss.dice_loss(
            jnp.asarray(x), jnp.asarray(t), class_weighting="inverse_square_frequency"
        )
    with pytest.raises(ValueError, match="jaccard_loss: 'activation' must be"):
        jaxloss.jaccard_loss(jnp.asarray(x), jnp.asarray(t), activation="relu")
    # checked mode: with an activation the first input holds logits, not probabilities
    checked = jaxloss.checked(jaxloss.dice_loss)
    assert np.isfinite(float(checked(jnp.asarray(x), jnp.asarray(t), activation="softmax")))
    with pytest.raises(jaxloss.LossInputError, match="must be in \\[0, 1\\]"):
        checked(jnp.asarray(x), jnp.asarray(t))


def _optax():
    return pytest.importorskip("optax")


def _seg_logits(seed=3):
    r = np.random.default_rng(seed)
    x = r.standard_normal((2, 5, 5, 3))
    t = np.eye(3)[r.integers(0, 3, (2, 5, 5))]
    t[1, ..., 2] = 0.0  # class 2 absent from row 1
    t[1, ..., 0] = 1.0 - t[1, ..., 1]
    return x, t


def test_optax_dice_family_and_l2_loss_match_optax():
    optax = _optax()
    from jaxloss.compat import optax as jo

    x, t = _seg_logits()
    probs = _softmax(x)
    cases = [
        ("dice_loss", (x, t), {}),
        ("dice_loss", (x, t), {"alpha": 0.7, "beta": 0.2, "reduction": "none"}),
        ("dice_loss", (x, t), {"class_weights": np.array([1.0, 2.0, 0.5]), "reduction": "sum"}),
        ("dice_loss", (probs, t), {"apply_softmax": False, "ignore_background": True}),
        ("dice_loss", (x[..., :1], t[..., :1]), {"smooth": 0.1}),  # one channel: sigmoid
        ("multiclass_generalized_dice_loss", (x, t), {}),
        ("multiclass_generalized_dice_loss", (x, t), {"ignore_background": True, "smooth": 0.2}),
        ("binary_dice_loss", (x[..., 0], t[..., 0]), {}),
        ("l2_loss", (x,), {}),
        ("l2_loss", (x, probs), {}),
    ]
    for name, args, kw in cases:
        jargs = [jnp.asarray(a) for a in args]
        want = _peer(getattr(optax.losses, name), *jargs, **kw)
        got = getattr(jo, name)(*jargs, **kw)
        assert np.shape(got) == np.shape(want), (name, kw)
        np.testing.assert_allclose(np.asarray(got), np.asarray(want), rtol=1e-12, err_msg=name)
    # probabilities that do not sum to 1 on the class axis: both raise
    for mod in (optax.losses, jo):
        with pytest.raises(ValueError, match="sum to 1"):
            _peer(mod.binary_dice_loss, jnp.asarray(probs[..., 0]), t[..., 0], apply_sigmoid=False)


@pytest.mark.slow
def test_optax_dice_family_and_l2_loss_gradients_match_optax():
    optax = _optax()
    from jaxloss.compat import optax as jo

    x, t = _seg_logits()
    probs = _softmax(x)
    # the gradients (the class weights depend on the targets only through the frequencies)
    for name in ("multiclass_generalized_dice_loss", "l2_loss"):
        args = (x, t) if name != "l2_loss" else (x, probs)
        g_want = jax.grad(lambda a, n=name: jnp.sum(_peer(getattr(optax.losses, n), a, args[1])))(
            jnp.asarray(args[0])
        )
        g_got = jax.grad(lambda a, n=name: jnp.sum(getattr(jo, n)(a, jnp.asarray(args[1]))))(
            jnp.asarray(args[0])
        )
        np.testing.assert_allclose(np.asarray(g_got), np.asarray(g_want), rtol=1e-10, atol=1e-14)


def test_compat_optax_holds_no_formula():
    """The arithmetic that lived in compat.optax is a canonical option now (issue 10, item 3):
    no activation, no power, no float factor, no ε constant in its code (docstrings aside)."""
    import ast

    tree = ast.parse((ROOT / "jaxloss" / "compat" / "optax.py").read_text())
    # one parameter conversion, not a loss formula: optax floors ‖x‖² at ε, jaxloss ‖x‖ at √ε
    tree.body = [n for n in tree.body if getattr(n, "name", None) != "_norm_floor"]
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr in ("sigmoid", "softmax", "log_softmax"):
            found.append(node.attr)
        if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Pow, ast.Mult, ast.Div)):
            sides = (node.left, node.right)
            if isinstance(node.op, ast.Pow) or any(
                isinstance(x, ast.Constant) and isinstance(x.value, float) for x in sides
            ):
                found.append(ast.unparse(node))
        if isinstance(node, ast.Constant) and node.value == 1e-7:
            found.append("1e-7")
    assert found == [], found


# ----------------------------------------------------------------------------------------------
# 4. ctc_loss(log_epsilon=); smooth_labels(where=)
# ----------------------------------------------------------------------------------------------


def _ctc_case():
    r = np.random.default_rng(0)
    x = r.standard_normal((3, 5, 4))
    labels = np.array([[1, 2, 0, 0], [3, 3, 3, 1], [1, 1, 2, 2]])
    # row 1 (3, 3, 3, 1) needs 6 frames, it has 5: impossible; row 2 is 1, 1, 2 in 4 frames
    label_paddings = np.array([[0, 0, 1, 1], [0, 0, 0, 0], [0, 0, 0, 1]], np.float64)
    logit_paddings = np.zeros((3, 5))
    logit_paddings[2, 4] = 1.0
    return x, logit_paddings, labels, label_paddings


def test_ctc_log_epsilon_matches_optax_on_impossible_alignments():
    """log_epsilon = -5: e^ε does not underflow, so every ε term of optax's lattice counts."""
    optax = _optax()
    from jaxloss.compat import optax as jo

    args = [jnp.asarray(a) for a in _ctc_case()]
    want, ob, oe = _peer(optax.losses.ctc_loss_with_forward_probs, *args, log_epsilon=-5.0)
    got, jb, je = jo.ctc_loss_with_forward_probs(*args, log_epsilon=-5.0)
    assert np.all(np.isfinite(np.asarray(got))) and float(got[1]) > 5.0  # row 1: impossible
    np.testing.assert_allclose(np.asarray(got), np.asarray(want), rtol=1e-13)
    # the forward variables of every state up to each label length
    for b, n in enumerate((2, 4, 3)):
        np.testing.assert_allclose(np.asarray(jb)[:, b, : n + 1], np.asarray(ob)[:, b, : n + 1])
        np.testing.assert_allclose(np.asarray(je)[:, b, :n], np.asarray(oe)[:, b, :n])


@pytest.mark.slow
def test_ctc_log_epsilon_default_and_gradients_match_optax():
    optax = _optax()
    from jaxloss.compat import optax as jo

    args = [jnp.asarray(a) for a in _ctc_case()]
    exact = jaxloss.ctc_loss(*args, reduction="none")  # canonical default: exact -inf lattice
    assert np.isinf(float(exact[1])) and np.all(np.isfinite(np.asarray(exact)[[0, 2]]))
    want = _peer(optax.losses.ctc_loss, *args)  # optax's default log_epsilon = -1e5
    got = jo.ctc_loss(*args)
    np.testing.assert_allclose(np.asarray(got), np.asarray(want), rtol=1e-13)
    assert 1e5 < float(got[1]) < np.inf
    # possible alignments: the exact value (e^-1e5 underflows)
    np.testing.assert_allclose(np.asarray(got)[[0, 2]], np.asarray(exact)[[0, 2]], rtol=1e-14)
    # the gradient, the impossible row included
    for log_epsilon in (-1e5, -5.0):
        f_want = lambda a, e=log_epsilon: jnp.sum(
            _peer(optax.losses.ctc_loss, a, *args[1:], log_epsilon=e)
        )
        f_got = lambda a, e=log_epsilon: jnp.sum(jo.ctc_loss(a, *args[1:], log_epsilon=e))
        g_want, g_got = jax.grad(f_want)(args[0]), jax.grad(f_got)(args[0])
        np.testing.assert_allclose(np.asarray(g_got), np.asarray(g_want), rtol=1e-9, atol=1e-12)


def test_ctc_log_epsilon_is_traceable_and_checked():
    args = [jnp.asarray(a) for a in _ctc_case()]
    eager = jaxloss.ctc_loss(*args, log_epsilon=-5.0, reduction="none")
    traced = jax.jit(lambda e: jaxloss.ctc_loss(*args, log_epsilon=e, reduction="none"))(-5.0)
    np.testing.assert_allclose(np.asarray(traced), np.asarray(eager), rtol=1e-14)
    with pytest.raises(ValueError, match="ctc_loss: 'log_epsilon'"):
        jaxloss.ctc_loss(*args, log_epsilon=1.0)


def test_smooth_labels_where_matches_optax():
    optax = _optax()
    from jaxloss.compat import optax as jo

    r = np.random.default_rng(0)
    y = np.eye(5)[r.integers(0, 5, (3, 4))]
    m = r.random((3, 4, 5)) > 0.3
    m[0, 0] = False  # a row with no included class: α / 0 = inf, as optax
    for kw in ({"where": m}, {"where": m, "axis": (1, 2)}, {"where": m, "axis": 0}, {}):
        want = _peer(optax.losses.smooth_labels, jnp.asarray(y), 0.1, **kw)
        got = jo.smooth_labels(jnp.asarray(y), 0.1, **kw)
        np.testing.assert_allclose(np.asarray(got), np.asarray(want), rtol=1e-13)
    # canonical, against the formula: C counts the included classes of each row
    got = jaxloss.smooth_labels(jnp.asarray(y[1]), 0.2, where=jnp.asarray(m[1]))
    np.testing.assert_allclose(np.asarray(got), 0.8 * y[1] + 0.2 / m[1].sum(-1, keepdims=True))
    with pytest.raises(TypeError, match="smooth_labels: 'where' must be a boolean mask"):
        jaxloss.smooth_labels(jnp.asarray(y), 0.1, where=jnp.ones((3, 4, 5)))


# ----------------------------------------------------------------------------------------------
# 2. unqualified KLDivLoss and CTCLoss are PyTorch's classes
# ----------------------------------------------------------------------------------------------


def _torch_vs_jax(t_fn, j_fn, x, rest, grad=False, rtol=1e-10, atol=1e-12):
    """PyTorch's value (and with ``grad`` the gradient of its sum w.r.t. ``x``) vs jaxloss'."""
    torch = pytest.importorskip("torch")
    tx = torch.tensor(x, requires_grad=grad)
    t_out = t_fn(tx, *[torch.tensor(a) for a in rest])
    j_rest = [jnp.asarray(a) for a in rest]
    j_out = j_fn(jnp.asarray(x), *j_rest)
    np.testing.assert_allclose(np.asarray(j_out), t_out.detach().numpy(), rtol=rtol, atol=atol)
    if grad:
        (t_grad,) = torch.autograd.grad(t_out.sum(), tx)
        j_grad = jax.grad(lambda a: jnp.sum(j_fn(a, *j_rest)))(jnp.asarray(x))
        np.testing.assert_allclose(np.asarray(j_grad), t_grad.numpy(), rtol=rtol, atol=atol)


def _kl_case():
    r = np.random.default_rng(4)
    x = np.log(_softmax(r.standard_normal((3, 4, 2))))
    t = _softmax(r.standard_normal((3, 4, 2)))
    return x, t


_KL_OPTIONS = (
    {},
    {"reduction": "batchmean"},
    {"reduction": "sum"},
    {"reduction": "none"},
    {"log_target": True},
)


@pytest.mark.filterwarnings("ignore:reduction. 'mean' divides")
def test_unqualified_kldivloss_is_pytorch():
    torch = pytest.importorskip("torch")
    x, t = _kl_case()
    loss = jaxloss.get("KLDivLoss")
    for kw in _KL_OPTIONS:
        target = np.log(t) if kw.get("log_target") else t
        _torch_vs_jax(
            lambda a, b, kw=kw: torch.nn.KLDivLoss(**kw)(a, b),
            lambda a, b, kw=kw: loss(a, b, **kw),
            x,
            (target,),
        )
    # default "mean": PyTorch's element count, not jaxloss' "mean" (the batchmean)
    mean = float(loss(jnp.asarray(x), jnp.asarray(t)))
    np.testing.assert_allclose(mean, np.sum(t * (np.log(t) - x)) / t.size, rtol=1e-12)
    # jaxloss-only options keep the canonical loss, on dimension 1
    got = loss(jnp.asarray(x), jnp.asarray(t), where=jnp.ones((3, 2), bool))
    np.testing.assert_allclose(float(got), np.sum(t * (np.log(t) - x)) / 6, rtol=1e-12)
    # kl_div (the functional name) keeps jaxloss' meaning, as the README says
    assert jaxloss.get("kl_div") is jaxloss.kl_divergence


def _ctc_torch_case():
    r = np.random.default_rng(5)
    steps, n, c = 6, 3, 5
    log_probs = np.log(_softmax(r.standard_normal((steps, n, c))))
    targets = np.array([[1, 2, 2], [3, 4, 0], [2, 2, 2]])
    input_lengths = np.array([6, 5, 4])  # row 2 (2, 2, 2) needs 5 frames: impossible
    target_lengths = np.array([3, 2, 3])
    return log_probs, targets, input_lengths, target_lengths


_CTC_OPTIONS = (
    {"zero_infinity": True},  # reduction "mean": each loss over its target length
    {"reduction": "sum", "zero_infinity": True},
    {"reduction": "none"},  # the impossible row: +inf, as PyTorch
)


def test_unqualified_ctcloss_is_pytorch():
    torch = pytest.importorskip("torch")
    log_probs, targets, input_lengths, target_lengths = _ctc_torch_case()
    loss = jaxloss.get("CTCLoss")
    assert loss.__name__ == "CTCLoss"
    rest = (targets, input_lengths, target_lengths)
    for kw in _CTC_OPTIONS:
        _torch_vs_jax(
            lambda a, *r, kw=kw: torch.nn.CTCLoss(**kw)(a, *r),
            lambda a, *r, kw=kw: loss(a, *r, **kw),
            log_probs,
            rest,
        )
    assert np.isinf(float(loss(*[jnp.asarray(a) for a in (log_probs, *rest)])))  # "mean", inf
    # concatenated 1-D targets; another blank
    flat, lengths = np.array([1, 2, 2, 3, 4, 2, 2]), np.array([3, 2, 2])
    _torch_vs_jax(
        lambda a, *r: torch.nn.CTCLoss()(a, *r),
        lambda a, *r: loss(a, *r),
        log_probs,
        (flat, input_lengths, lengths),
    )
    shifted = np.where(targets == 0, 4, targets - 1)  # labels in 0..3, blank 4
    _torch_vs_jax(
        lambda a, *r: torch.nn.CTCLoss(blank=4, zero_infinity=True)(a, *r),
        lambda a, *r: loss(a, *r, blank=4, zero_infinity=True),
        log_probs,
        (shifted, input_lengths, target_lengths),
    )


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore:reduction. 'mean' divides")
def test_unqualified_kldivloss_gradients_are_pytorch():
    torch = pytest.importorskip("torch")
    x, t = _kl_case()
    for kw in _KL_OPTIONS:
        target = np.log(t) if kw.get("log_target") else t
        _torch_vs_jax(
            lambda a, b, kw=kw: torch.nn.KLDivLoss(**kw)(a, b),
            lambda a, b, kw=kw: jaxloss.get("KLDivLoss")(a, b, **kw),
            x,
            (target,),
            grad=True,
        )


@pytest.mark.slow
def test_unqualified_ctcloss_gradients_are_pytorch():
    torch = pytest.importorskip("torch")
    log_probs, *rest = _ctc_torch_case()
    loss = jaxloss.get("CTCLoss")
    for kw in _CTC_OPTIONS[:2]:
        _torch_vs_jax(
            lambda a, *r, kw=kw: torch.nn.CTCLoss(**kw)(a, *r),
            lambda a, *r, kw=kw: loss(a, *r, **kw),
            log_probs,
            rest,
            grad=True,
        )
