"""Tests of the regularisers, label utilities and metrics (jaxloss/_utilities.py)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxloss

from .helpers import assert_close, assert_finite, reduce_ref, rng

# ------------------------------------------------------------------------------------------------
# l2_penalty / l1_penalty
# ------------------------------------------------------------------------------------------------


def _params(r):
    return {
        "dense": {"w": jnp.asarray(r.normal(size=(3, 2))), "b": jnp.asarray(r.normal(size=(2,)))},
        "blocks": [jnp.asarray(r.normal(size=(4,)), jnp.float32), (jnp.asarray(r.normal()),)],
        "step": jnp.asarray(7),  # integer leaves are skipped
        "flag": jnp.asarray(True),
    }


def _float_leaves_np(params):
    return [
        np.asarray(x, np.float64)
        for x in jax.tree_util.tree_leaves(params)
        if jnp.issubdtype(jnp.result_type(x), jnp.floating)
    ]


def test_penalties_values_against_numpy():
    params = _params(rng(0))
    leaves = _float_leaves_np(params)
    sq = sum((x**2).sum() for x in leaves)
    l2 = jax.jit(jaxloss.l2_penalty, static_argnames="squared")
    assert_close(l2(params), sq)
    assert_close(l2(params, squared=False), np.sqrt(sq))
    assert_close(jax.jit(jaxloss.l1_penalty)(params), sum(np.abs(x).sum() for x in leaves))
    # a float64 leaf makes the result float64; float32 (and half) leaves accumulate in float32
    assert l2(params).dtype == jnp.float64
    only32 = {"w": jnp.ones((2, 2), jnp.float32), "h": jnp.ones(3, jnp.bfloat16)}
    assert jaxloss.l2_penalty(only32).dtype == jnp.float32
    assert_close(jaxloss.l2_penalty(only32), 7.0)
    assert jaxloss.l1_penalty(only32).dtype == jnp.float32


def test_penalties_gradients():
    params = _params(rng(1))
    float_only = {"dense": params["dense"], "blocks": params["blocks"]}
    norm = float(np.sqrt(sum((x**2).sum() for x in _float_leaves_np(float_only))))
    g2 = jax.grad(jaxloss.l2_penalty)(float_only)
    gn = jax.grad(lambda p: jaxloss.l2_penalty(p, squared=False))(float_only)
    g1 = jax.grad(jaxloss.l1_penalty)(float_only)
    for w, a, b, c in zip(
        jax.tree_util.tree_leaves(float_only),
        jax.tree_util.tree_leaves(g2),
        jax.tree_util.tree_leaves(gn),
        jax.tree_util.tree_leaves(g1),
        strict=False,
    ):
        w = np.asarray(w, np.float64)
        assert_close(a, 2.0 * w, dtype=a.dtype)  # no ½ factor: d/dw Σw² = 2w
        assert_close(b, w / norm, dtype=b.dtype)
        assert_close(c, np.sign(w), dtype=c.dtype)
        assert a.dtype == b.dtype == c.dtype  # gradients keep each leaf's dtype


def test_penalties_edge_cases():
    zeros = {"w": jnp.zeros((2, 3)), "b": jnp.zeros(3)}
    assert float(jaxloss.l2_penalty(zeros, squared=False)) == 0.0
    g = jax.grad(lambda p: jaxloss.l2_penalty(p, squared=False))(zeros)
    assert_finite(g)
    assert all(np.all(np.asarray(x) == 0.0) for x in jax.tree_util.tree_leaves(g))
    g1 = jax.grad(jaxloss.l1_penalty)(zeros)
    assert all(np.all(np.asarray(x) == 0.0) for x in jax.tree_util.tree_leaves(g1))
    # no floating leaves at all
    assert float(jaxloss.l2_penalty({})) == 0.0
    assert float(jaxloss.l1_penalty([jnp.asarray(3)])) == 0.0
    half = jnp.asarray([1.0, -2.0], jnp.bfloat16)
    assert jax.grad(jaxloss.l2_penalty)(half).dtype == jnp.bfloat16


def test_penalties_on_a_flax_nnx_model():
    nnx = pytest.importorskip("flax.nnx")
    model = nnx.Linear(3, 2, rngs=nnx.Rngs(0))
    state = nnx.state(model, nnx.Param)
    want = float(
        np.sum(np.asarray(model.kernel[...], np.float64) ** 2)
        + np.sum(np.asarray(model.bias[...], np.float64) ** 2)
    )
    assert_close(jaxloss.l2_penalty(state), want, dtype=np.float32)


# ------------------------------------------------------------------------------------------------
# one_hot / smooth_labels
# ------------------------------------------------------------------------------------------------


def test_one_hot_against_numpy():
    labels = rng(2).integers(0, 4, size=(3, 5))
    want = np.eye(4)[labels]  # [3, 5, 4]
    assert_close(jaxloss.one_hot(jnp.asarray(labels), 4), want)
    assert jaxloss.one_hot(jnp.asarray(labels), 4).dtype == jnp.float32
    assert_close(
        jaxloss.one_hot(jnp.asarray(labels), 4, axis=0), np.moveaxis(want, -1, 0)
    )  # Flux layout
    assert_close(jaxloss.one_hot(jnp.asarray(labels), 4, axis=1), np.moveaxis(want, -1, 1))
    got = jaxloss.one_hot(jnp.asarray(labels), 4, dtype=jnp.int32)
    assert got.dtype == jnp.int32
    f = jax.jit(jaxloss.one_hot, static_argnames=("num_classes", "axis", "dtype"))
    assert_close(f(jnp.asarray(labels), num_classes=4), want)


def test_one_hot_out_of_range_gives_zero_rows():
    got = jaxloss.one_hot(jnp.asarray([0, 3, -1, -100, 2]), 3)
    assert_close(got, [[1, 0, 0], [0, 0, 0], [0, 0, 0], [0, 0, 0], [0, 0, 1]])


def test_one_hot_errors():
    with pytest.raises(TypeError, match="one_hot: 'labels'"):
        jaxloss.one_hot(jnp.asarray([0.0, 1.0]), 3)
    with pytest.raises(ValueError, match="one_hot: 'num_classes'"):
        jaxloss.one_hot(jnp.asarray([0, 1]), 0)
    with pytest.raises(ValueError, match="one_hot: 'axis'"):
        jaxloss.one_hot(jnp.asarray([0, 1]), 3, axis=2)


def test_smooth_labels_against_formula_and_optax():
    optax = pytest.importorskip("optax")
    r = rng(3)
    t = np.eye(5)[r.integers(0, 5, size=(4,))]
    for ls in (0.0, 0.1, 1.0):
        want = (1 - ls) * t + ls / 5
        got = jaxloss.smooth_labels(jnp.asarray(t), ls)
        assert_close(got, want)
        assert_close(got.sum(-1), np.ones(4))
        assert_close(got, optax.smooth_labels(jnp.asarray(t), ls))
    # class axis first (Flux layout), soft targets
    soft = r.dirichlet(np.ones(3), size=6).T  # [3, 6]
    assert_close(jaxloss.smooth_labels(jnp.asarray(soft), 0.3, axis=0), 0.7 * soft + 0.1)
    # integer one-hot targets compute in float32
    got = jaxloss.smooth_labels(jnp.asarray([[0, 1]]), 0.5)
    assert got.dtype == jnp.float32
    assert_close(got, [[0.25, 0.75]])


def test_smooth_labels_traced_and_vmapped():
    t = jnp.eye(3)
    lss = jnp.asarray([0.0, 0.2, 0.9])
    got = jax.jit(jax.vmap(lambda ls: jaxloss.smooth_labels(t, ls)))(lss)
    for k, ls in enumerate(np.asarray(lss)):
        assert_close(got[k], (1 - ls) * np.eye(3) + ls / 3)
    g = jax.grad(lambda ls: jaxloss.smooth_labels(t, ls)[0, 0])(0.2)
    assert_close(g, -1.0 + 1.0 / 3)


def test_smooth_labels_errors():
    with pytest.raises(ValueError, match="smooth_labels: 'label_smoothing'"):
        jaxloss.smooth_labels(jnp.eye(3), 1.5)
    with pytest.raises(ValueError, match="smooth_labels: 'label_smoothing'"):
        jaxloss.smooth_labels(jnp.eye(3), -0.1)
    with pytest.raises(ValueError, match="smooth_labels: 'axis'"):
        jaxloss.smooth_labels(jnp.eye(3), 0.1, axis=2)


# ------------------------------------------------------------------------------------------------
# accuracy / binary_accuracy
# ------------------------------------------------------------------------------------------------

ACC = jax.jit(jaxloss.accuracy, static_argnames=("axis", "reduction"))
BACC = jax.jit(jaxloss.binary_accuracy, static_argnames=("reduction",))


@pytest.mark.parametrize("shape,axis", [((8, 4), -1), ((3, 4, 5), 1)])
def test_accuracy_against_numpy(shape, axis):
    r = rng(4)
    logits = r.normal(size=shape)
    ax = axis % len(shape)
    red_shape = tuple(s for i, s in enumerate(shape) if i != ax)
    labels = r.integers(0, shape[ax], size=red_shape)
    correct = (np.argmax(logits, axis=ax) == labels).astype(np.float64)
    w = r.uniform(0.5, 2.0, size=red_shape)
    m = r.uniform(size=red_shape) > 0.3
    for reduction in ("mean", "sum", "none"):
        got = ACC(
            jnp.asarray(logits),
            jnp.asarray(labels),
            axis=axis,
            weights=jnp.asarray(w),
            where=jnp.asarray(m),
            reduction=reduction,
        )
        assert_close(got, reduce_ref(correct, w, m, reduction))
    assert_close(ACC(jnp.asarray(logits), jnp.asarray(labels), axis=axis), correct.mean())
    # one-hot targets (same shape as the logits) give the same answer
    onehot = np.moveaxis(np.eye(shape[ax])[labels], -1, ax)
    assert_close(ACC(jnp.asarray(logits), jnp.asarray(onehot), axis=axis), correct.mean())
    # probabilities give the same arg-max as logits
    probs = jax.nn.softmax(jnp.asarray(logits), axis=axis)
    assert_close(ACC(probs, jnp.asarray(labels), axis=axis), correct.mean())


def test_accuracy_details():
    logits = jnp.asarray([[1.0, 1.0, 0.0], [0.0, 2.0, 2.0]])  # ties: the first maximal class wins
    assert_close(ACC(logits, jnp.asarray([0, 1]), reduction="none"), [1.0, 1.0])
    assert_close(ACC(logits, jnp.asarray([1, 2]), reduction="none"), [0.0, 0.0])
    # out-of-range labels never match; all-masked is exactly 0
    assert_close(ACC(logits, jnp.asarray([5, -1]), reduction="none"), [0.0, 0.0])
    assert float(ACC(logits, jnp.asarray([0, 1]), where=jnp.zeros(2, bool))) == 0.0
    # dtypes and a zero gradient
    assert ACC(logits.astype(jnp.float32), jnp.asarray([0, 1])).dtype == jnp.float32
    assert ACC(logits.astype(jnp.bfloat16), jnp.asarray([0, 1])).dtype == jnp.float32
    assert ACC(logits, jnp.asarray([0, 1])).dtype == jnp.float64
    g = jax.grad(lambda x: jaxloss.accuracy(x, jnp.asarray([0, 1])))(logits)
    assert np.all(np.asarray(g) == 0.0)
    # vmap over a batch of logits equals a loop
    batch = jnp.asarray(rng(5).normal(size=(3, 4, 3)))
    labels = jnp.asarray([0, 1, 2, 1])
    assert_close(jax.vmap(lambda x: ACC(x, labels))(batch), [ACC(x, labels) for x in batch])


def test_accuracy_errors():
    logits = jnp.ones((4, 3))
    with pytest.raises(TypeError, match="accuracy: 'labels'"):
        jaxloss.accuracy(logits, jnp.ones(4))
    with pytest.raises(ValueError, match="accuracy: 'labels'"):
        jaxloss.accuracy(logits, jnp.ones(3, jnp.int32))
    with pytest.raises(ValueError, match="accuracy: 'axis'"):
        jaxloss.accuracy(logits, jnp.ones(4, jnp.int32), axis=3)
    with pytest.raises(ValueError, match="accuracy: 'reduction'"):
        jaxloss.accuracy(logits, jnp.ones(4, jnp.int32), reduction="avg")


def test_binary_accuracy_against_numpy():
    r = rng(6)
    p = r.uniform(size=(5, 4))
    y = (r.uniform(size=(5, 4)) > 0.5).astype(np.float64)
    correct = ((p > 0.5).astype(np.float64) == y).astype(np.float64)
    w = r.uniform(0.5, 2.0, size=(5, 1))
    m = r.uniform(size=(5, 4)) > 0.2
    for reduction in ("mean", "sum", "none"):
        got = BACC(
            jnp.asarray(p),
            jnp.asarray(y),
            weights=jnp.asarray(w),
            where=jnp.asarray(m),
            reduction=reduction,
        )
        assert_close(got, reduce_ref(correct, w, m, reduction))
    assert_close(BACC(jnp.asarray(p), jnp.asarray(y)), correct.mean())
    # bool and integer targets; logits with threshold 0
    assert_close(BACC(jnp.asarray(p), jnp.asarray(y > 0.5)), correct.mean())
    assert_close(BACC(jnp.asarray(p), jnp.asarray(y.astype(np.int32))), correct.mean())
    logits = np.log(p) - np.log1p(-p)
    assert_close(BACC(jnp.asarray(logits), jnp.asarray(y), threshold=0.0), correct.mean())


def test_binary_accuracy_details():
    s = jnp.asarray([0.5, 0.5, 0.7, 0.2])
    y = jnp.asarray([0.0, 1.0, 0.7, 0.0])
    # a score equal to the threshold predicts 0; a soft target never matches (Keras)
    assert_close(BACC(s, y, reduction="none"), [1.0, 0.0, 0.0, 1.0])
    ths = jnp.asarray([0.1, 0.5, 0.9])
    got = jax.jit(jax.vmap(lambda t: jaxloss.binary_accuracy(s, y, threshold=t)))(ths)
    assert_close(got, [BACC(s, y, threshold=t) for t in ths])
    assert float(BACC(s, y, where=jnp.zeros(4, bool))) == 0.0
    assert BACC(s.astype(jnp.float16), y).dtype == jnp.float32
    with pytest.raises(ValueError, match="binary_accuracy: 'scores' and 'targets'"):
        jaxloss.binary_accuracy(s, jnp.ones(3))


def test_utilities_are_exported_but_not_registered():
    for name in (
        "l2_penalty",
        "l1_penalty",
        "one_hot",
        "smooth_labels",
        "accuracy",
        "binary_accuracy",
    ):
        assert callable(getattr(jaxloss, name))
        assert name not in jaxloss.list_losses(aliases=True)
        with pytest.raises(ValueError):
            jaxloss.get(name)
