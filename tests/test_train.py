"""jaxloss.train: the guarded step, fit (History, shuffling, resume), metrics, plot_history."""

from __future__ import annotations

import os

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from flax import nnx

from jaxloss import train


def _sq(p, t):
    return jnp.mean(jnp.square(p - t))


class _MLP(nnx.Module):
    def __init__(self, rngs):
        self.l1 = nnx.Linear(3, 8, rngs=rngs)
        self.l2 = nnx.Linear(8, 1, rngs=rngs)

    def __call__(self, x):
        return self.l2(nnx.relu(self.l1(x)))


def _data(n=70, seed=0):
    r = np.random.default_rng(seed)
    x = r.normal(size=(n, 3)).astype(np.float32)
    y = (x @ np.asarray([1.0, -2.0, 0.5], np.float32))[:, None]
    return x, y


def _make(lr=0.01):
    model = _MLP(nnx.Rngs(0))
    return model, nnx.Optimizer(model, optax.sgd(lr, momentum=0.9), wrt=nnx.Param)


def _leaves(tree):
    return [np.asarray(a) for a in jax.tree_util.tree_leaves(tree)]


@pytest.mark.parametrize("loss", [_sq, "mse"])
def test_step_decreases_loss(loss):
    x, y = _data()
    model, opt = _make()
    step = train.make_train_step(loss, metrics=["mse"])
    losses = [float(step(model, opt, (x, y))["loss"]) for _ in range(30)]
    assert losses[-1] < 0.5 * losses[0]
    logs = step(model, opt, (x, y))
    assert set(logs) == {"loss", "mse", "skipped"} and int(logs["skipped"]) == 0
    np.testing.assert_allclose(float(logs["loss"]), float(logs["mse"]), rtol=1e-6)


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_nonfinite_batch_is_skipped_and_counted(bad):
    x, y = _data(32)
    model, opt = _make()
    step = train.make_train_step(_sq)
    step(model, opt, (x, y))
    params, opt_state = _leaves(nnx.state(model, nnx.Param)), _leaves(nnx.state(opt))
    xb = x.copy()
    xb[3, 1] = bad
    logs = step(model, opt, (xb, y))
    assert int(logs["skipped"]) == 1
    for a, b in zip(params, _leaves(nnx.state(model, nnx.Param)), strict=False):
        np.testing.assert_array_equal(a, b)
    for a, b in zip(
        opt_state, _leaves(nnx.state(opt)), strict=False
    ):  # momentum and step count untouched
        np.testing.assert_array_equal(a, b)
    assert int(step(model, opt, (x, y))["skipped"]) == 0


def test_finite_loss_with_nonfinite_gradient_is_skipped():
    # sqrt at 0 has an infinite derivative: a finite loss whose gradient is not finite
    loss = lambda p, t: jnp.mean(jnp.sqrt(jnp.abs(p - p)) + jnp.square(p - t))  # noqa: E731
    x, y = _data(8)
    model, opt = _make()
    before = _leaves(nnx.state(model, nnx.Param))
    logs = train.make_train_step(loss)(model, opt, (x, y))
    assert np.isfinite(float(logs["loss"])) and int(logs["skipped"]) == 1
    for a, b in zip(before, _leaves(nnx.state(model, nnx.Param)), strict=False):
        np.testing.assert_array_equal(a, b)


def test_fit_history_counts_skipped_batches():
    x, y = _data(70)
    x[40, 0] = np.nan  # batch 2 of 3 (unshuffled: 32, 32, 6)
    model, opt = _make()
    h = train.fit(
        model,
        opt,
        (x, y),
        loss=_sq,
        epochs=3,
        shuffle=False,
        progress=False,
        metrics=["mae"],
        validation_data=_data(20, seed=1),
    )
    assert h["skipped"] == [1, 1, 1] and h.skipped_batches == 3
    assert set(h.history) == {"loss", "mae", "skipped", "val_loss", "val_mae"}
    assert h.epoch == [0, 1, 2]
    assert all(np.isfinite(h["loss"])) and all(np.isfinite(h["val_loss"]))
    assert all(np.all(np.isfinite(a)) for a in _leaves(nnx.state(model)))


def test_fit_batch_mean_is_keras_running_average():
    # one epoch, no shuffling, lr = 0: the epoch loss is the size-weighted mean of batch losses
    x, y = _data(70)
    model, opt = _make(lr=0.0)
    out = np.asarray(model(jnp.asarray(x)))
    h = train.fit(
        model, opt, (x, y), loss=_sq, epochs=1, batch_size=32, shuffle=False, progress=False
    )
    sq = (out.astype(np.float64) - y) ** 2
    np.testing.assert_allclose(h["loss"][0], sq.mean(), rtol=1e-5)


def test_checkpoint_resume_equals_uninterrupted(tmp_path):
    x, y = _data(70)
    model, opt = _make()
    h_full = train.fit(model, opt, (x, y), loss=_sq, epochs=4, progress=False, seed=3)
    d = os.fspath(tmp_path / "ckpt")
    m1, o1 = _make()
    train.fit(m1, o1, (x, y), loss=_sq, epochs=2, progress=False, seed=3, checkpoint_dir=d)
    m2, o2 = _make()  # a fresh process would start from a fresh model
    h_res = train.fit(m2, o2, (x, y), loss=_sq, epochs=4, progress=False, seed=3, checkpoint_dir=d)
    for a, b in zip(_leaves(nnx.state((model, opt))), _leaves(nnx.state((m2, o2))), strict=False):
        np.testing.assert_array_equal(a, b)
    assert h_res.epoch == [0, 1, 2, 3]
    np.testing.assert_array_equal(h_full["loss"], h_res["loss"])


def test_metrics_follow_keras():
    out = jnp.asarray([[0.3], [-0.7], [0.8], [-0.2]], jnp.float32)
    t = jnp.asarray([[1.0], [-1.0], [1.0], [1.0]], jnp.float32)
    # Keras' one-unit accuracy rounds the tanh output: 0.3 -> 0 is wrong, -0.2 -> 0 is wrong
    assert float(train.keras_accuracy(out, t)) == 0.5
    assert float(train.sign_accuracy(out, t)) == 0.75
    probs = jnp.asarray([[0.2, 0.7, 0.1], [0.5, 0.3, 0.2]], jnp.float32)
    assert float(train.keras_accuracy(probs, jnp.asarray([1, 1], jnp.int32))) == 0.5
    assert (
        float(train.keras_accuracy(probs, jnp.asarray([[0, 1.0, 0], [1.0, 0, 0]], jnp.float32)))
        == 1.0
    )
    with pytest.raises(ValueError, match="unique"):
        train.resolve_metrics(["mse", "mse"])


def test_evaluate_and_plot_history(tmp_path):
    x, y = _data(40)
    model, opt = _make()
    h = train.fit(
        model,
        opt,
        (x, y),
        loss="mse",
        epochs=2,
        metrics=["mae"],
        validation_data=(x, y),
        progress=False,
    )
    ev = train.evaluate(model, (x, y), loss="mse", metrics=["mae"])
    np.testing.assert_allclose(ev["loss"], h["val_loss"][-1], rtol=1e-6)
    path = train.plot_history(h, tmp_path / "h.png")
    assert os.path.getsize(path) > 1000
    seeds = {"loss": np.ones((3, 5)), "val_loss": np.ones((3, 5)), "acc": np.ones((3, 5))}
    assert os.path.getsize(train.plot_history(seeds, tmp_path / "s.png")) > 1000


def test_checked_train_step_raises_and_leaves_the_model_untouched():
    import jaxloss

    model = nnx.Linear(3, 4, rngs=nnx.Rngs(0))
    opt = nnx.Optimizer(model, optax.sgd(0.1), wrt=nnx.Param)
    step = train.make_train_step("sparse_softmax_cross_entropy", check=True, label_smoothing=0.1)
    x = jnp.ones((5, 3), jnp.float32)
    good = jnp.asarray([0, 1, 2, 3, 0])
    first = float(step(model, opt, (x, good))["loss"])
    second = float(step(model, opt, (x, good))["loss"])
    assert second < first
    before = jax.tree_util.tree_map(np.asarray, nnx.state(model, nnx.Param))
    with pytest.raises(
        jaxloss.LossInputError,
        match=(
            r"sparse_softmax_cross_entropy: 'labels' must be a class id in \[0, 4\); "
            r"got 9 at index \[2\]"
        ),
    ):
        step(model, opt, (x, jnp.asarray([0, 1, 9, 3, 0])))
    after = jax.tree_util.tree_map(np.asarray, nnx.state(model, nnx.Param))
    jax.tree_util.tree_map(np.testing.assert_array_equal, before, after)
    with pytest.raises(ValueError, match="no runtime checks"):
        train.make_train_step(lambda p, t: jnp.mean(p), check=True)
