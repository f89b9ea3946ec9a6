"""Regression tests for issue 12: training helpers a Flax user can trust.

Inference-mode evaluation, checked resume, the all-state non-finite guard, checkpoint I/O errors
and damaged steps, one options API, metrics registry, iterables, sample weights, callbacks, the
bf16 policy, the fused head, and CLI argument errors / exit codes. Tiny models, few steps.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from contextlib import nullcontext

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from flax import nnx

import jaxloss
from jaxloss import train

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _np(a):
    if jnp.issubdtype(a.dtype, jax.dtypes.prng_key):
        a = jax.random.key_data(a)
    return np.asarray(a)


def _leaves(tree):
    return [_np(a) for a in jax.tree_util.tree_leaves(tree)]


def _equal_trees(a, b):
    for u, v in zip(_leaves(a), _leaves(b), strict=True):
        np.testing.assert_array_equal(u, v)


class _Net(nnx.Module):
    """Linear -> BatchNorm -> relu -> Dropout -> Linear."""

    def __init__(self, n_in=3, n_out=1, *, rngs, dropout=0.5):
        self.l1 = nnx.Linear(n_in, 8, rngs=rngs)
        self.bn = nnx.BatchNorm(8, rngs=rngs)
        self.drop = nnx.Dropout(dropout, rngs=rngs)
        self.l2 = nnx.Linear(8, n_out, rngs=rngs)

    def __call__(self, x):
        return self.l2(self.drop(nnx.relu(self.bn(self.l1(x)))))


def _data(n=40, seed=0, n_in=3):
    r = np.random.default_rng(seed)
    x = r.normal(size=(n, n_in)).astype(np.float32)
    y = (x @ r.normal(size=(n_in, 1))).astype(np.float32)
    return x, y


_TX = optax.sgd(1e-2, momentum=0.9)  # one object: equal graphdefs share compiled programs


def _make(tx=None, **kw):
    model = _Net(rngs=nnx.Rngs(0, dropout=1), **kw)
    return model, nnx.Optimizer(model, tx or _TX, wrt=nnx.Param)


def _sq(p, t):
    return jnp.mean(jnp.square(p - t))


# ---- 1. inference mode, compiled once ----------------------------------------------------------


def test_evaluate_runs_in_inference_mode_and_restores_mode():
    x, y = _data()
    model, opt = _make()
    train.fit(model, opt, (x, y), loss="mse", epochs=1, batch_size=8, progress=False)
    assert model.drop.deterministic is False and model.bn.use_running_average is False
    a = train.evaluate(model, (x, y), loss="mse")
    b = train.evaluate(model, (x, y), loss="mse")
    assert a == b  # Dropout off: the same every call
    assert model.drop.deterministic is False and model.bn.use_running_average is False
    # reference: Flax's own inference mode, running statistics, NumPy mean squared error
    model.eval()
    out = np.asarray(model(jnp.asarray(x)), np.float64)
    model.train()
    np.testing.assert_allclose(a["loss"], np.mean((out - y) ** 2), rtol=1e-5)


def test_validation_uses_running_statistics():
    x, y = _data()
    model, opt = _make(dropout=0.0)
    h = train.fit(
        model, opt, (x, y), loss="mse", epochs=2, batch_size=8, validation_data=(x, y),
        progress=False,
    )  # fmt: skip
    model.eval()
    out = np.asarray(model(jnp.asarray(x)), np.float64)
    np.testing.assert_allclose(h["val_loss"][-1], np.mean((out - y) ** 2), rtol=1e-5)
    # batch statistics of the whole validation set would give a different number
    model.train()
    out_batch = np.asarray(nnx.clone(model)(jnp.asarray(x)), np.float64)
    assert abs(np.mean((out_batch - y) ** 2) - h["val_loss"][-1]) > 1e-4


def test_evaluate_compiles_once():
    traces = []

    def loss(p, t):
        traces.append(1)
        return jnp.mean(jnp.square(p - t))

    x, y = _data()
    model, _ = _make()
    for _ in range(3):
        train.evaluate(model, (x, y), loss=loss)
    assert len(traces) == 1
    train.evaluate(model, (x, y), loss=loss, batch_size=16)  # 16 and the partial 8
    assert len(traces) == 3


def test_evaluate_batched_equals_whole():
    x, y = _data()
    model, _ = _make()
    whole = train.evaluate(model, (x, y), loss="mse", metrics=["mae"])
    parts = train.evaluate(model, (x, y), loss="mse", metrics=["mae"], batch_size=15)
    for k in whole:
        np.testing.assert_allclose(parts[k], whole[k], rtol=1e-5)


# ---- 3. the guard covers every state leaf ------------------------------------------------------


def test_nan_batch_leaves_batch_norm_statistics_and_rng_untouched():
    x, y = _data(16)
    model, opt = _make()
    step = train.make_train_step("mse")
    step(model, opt, (x, y))
    before = jax.tree_util.tree_map(_np, nnx.state((model, opt)))
    xb = x.copy()
    xb[0, 0] = np.nan
    assert int(step(model, opt, (xb, y))["skipped"]) == 1
    _equal_trees(before, nnx.state((model, opt)))  # BatchNorm mean/var, RNG counts, Adam, step
    assert np.isfinite(np.asarray(model.bn.mean[...])).all()


def test_guard_predicate_against_numpy():
    # the step's check (one max/min reduction per dtype) is np.isfinite(...).all() over every
    # float leaf: one bad value anywhere, of either sign, in any dtype, scalar or not, complex
    # parts included; huge finite values are not a false alarm; integer leaves are ignored
    from jaxloss.train._step import _all_finite

    check = jax.jit(_all_finite)
    r = np.random.default_rng(0)
    tree = {
        "w": r.normal(size=(3, 4)).astype(np.float32),
        "b": np.float32(3e38) * np.ones(5, np.float32),
        "loss": np.float32(-3e38),
        "h": r.normal(size=7).astype(jnp.bfloat16),
        "z": (r.normal(size=2) + 1j * r.normal(size=2)).astype(np.complex64),
        "n": np.arange(3, dtype=np.int32),
        "e": np.zeros((0, 2), np.float32),
    }
    assert bool(check(tree))
    for key in ("w", "b", "loss", "h", "z"):
        for bad in (np.nan, np.inf, -np.inf):
            for pos in (0, -1):
                t = {k: np.array(v) for k, v in tree.items()}
                flat = t[key].reshape(-1)
                if key == "z":
                    flat[pos] = complex(0.5, bad) if pos else complex(bad, 0.5)
                else:
                    flat[pos] = bad
                want = all(np.isfinite(v.astype(np.complex128)).all() for v in t.values())
                assert bool(check(t)) is want is False, (key, bad, pos)
    rows = np.array([[1.0, 2.0], [1.0, np.nan], [np.inf, 0.0], [3e38, -3e38]], np.float32)
    np.testing.assert_array_equal(jax.vmap(_all_finite)(rows), np.isfinite(rows).all(1))


@jax.numpy_dtype_promotion("standard")  # optax.adam mixes a Python float and an int32 count
def test_huge_batch_with_adam_is_skipped_not_frozen():
    # finite loss and gradients (~1e30) whose square overflows Adam's second moment to inf
    x, y = _data(16)
    model = nnx.Sequential(nnx.Linear(3, 4, rngs=nnx.Rngs(0)), nnx.Linear(4, 1, rngs=nnx.Rngs(1)))
    opt = nnx.Optimizer(model, optax.adam(1e-2), wrt=nnx.Param)
    step = train.make_train_step(lambda p, t: jnp.mean(jnp.abs(p - t)))
    before = jax.tree_util.tree_map(_np, nnx.state((model, opt)))
    logs = step(model, opt, (x * np.float32(1e30), y))
    assert np.isfinite(float(logs["loss"])) and int(logs["skipped"]) == 1
    _equal_trees(before, nnx.state((model, opt)))
    k0 = np.asarray(model.layers[0].kernel[...]).copy()
    assert int(step(model, opt, (x, y))["skipped"]) == 0
    assert not np.array_equal(k0, np.asarray(model.layers[0].kernel[...]))  # still learning


def test_fit_warns_and_shows_skips():
    x, y = _data(24)
    x[5, 1] = np.inf
    model, opt = _make()
    with pytest.warns(RuntimeWarning, match=r"epoch 1: 1 of 3 batches skipped"):
        h = train.fit(model, opt, (x, y), loss="mse", epochs=1, batch_size=8, shuffle=False,
                      progress=False)  # fmt: skip
    assert h["skipped"] == [1]
    assert all(np.isfinite(a).all() for a in _leaves(nnx.state((model, opt))))


# ---- 2. resume checks structure and configuration; damaged steps; I/O errors -------------------


def _lin_fit(d, n_out=3, epochs=2, **kw):
    x, _ = _data(20, n_in=4)
    y = np.zeros((20, n_out), np.float32)
    model = nnx.Linear(4, n_out, rngs=nnx.Rngs(0))
    opt = nnx.Optimizer(model, optax.sgd(0.1), wrt=nnx.Param)
    kw.setdefault("loss", "mse")
    h = train.fit(model, opt, (x, y), epochs=epochs, progress=False, checkpoint_dir=d, **kw)
    return model, h


def test_resume_rejects_another_model(tmp_path):
    d = os.fspath(tmp_path / "ck")
    _lin_fit(d, n_out=3)
    with pytest.raises(train.CheckpointMismatchError, match=r"model 'kernel': shape \(4, 3\)"):
        _lin_fit(d, n_out=5, epochs=3)


def test_resume_rejects_changed_configuration(tmp_path):
    d = os.fspath(tmp_path / "ck")
    _lin_fit(d, loss="huber_loss", delta=1.0)
    with pytest.raises(train.CheckpointMismatchError, match=r"loss_options: \{'delta': 1.0\}"):
        _lin_fit(d, epochs=3, loss="huber_loss", delta=2.0)
    with pytest.raises(train.CheckpointMismatchError, match="seed: 0 in the checkpoint, 1 now"):
        _lin_fit(d, epochs=3, loss="huber_loss", delta=1.0, seed=1)
    with pytest.raises(train.CheckpointMismatchError, match="more than epochs=1"):
        _lin_fit(d, epochs=1, loss="huber_loss", delta=1.0)
    # the explicit override continues the run; restart trains from scratch
    _, h = _lin_fit(d, epochs=3, loss="huber_loss", delta=2.0, resume="allow_config_change")
    assert h.epoch == [0, 1, 2] and len(h["loss"]) == 3
    _, h = _lin_fit(d, epochs=1, loss="huber_loss", delta=2.0, resume="restart")
    assert h.epoch == [0]


def test_damaged_steps_fall_back_to_newest_complete(tmp_path):
    d = tmp_path / "ck"
    _lin_fit(os.fspath(d), epochs=2)
    os.makedirs(d / "7")  # a stray empty step directory
    (d / "1" / "meta.json").write_text("{not json")  # corrupt newest step
    with pytest.warns(RuntimeWarning, match="step 1 .* incomplete or damaged .*JSONDecodeError"):
        _, h = _lin_fit(os.fspath(d), epochs=3)
    assert h.epoch == [0, 1, 2]  # resumed from step 0, retrained 1 and 2
    meta = json.loads((d / "2" / "meta.json").read_text())
    assert meta["epoch"] == 2 and meta["history"]["epoch"] == [0, 1, 2]
    assert sorted(os.listdir(d)) == ["1", "2"]  # the damaged and stray steps are gone


def test_unwritable_checkpoint_dir_raises_and_exits_promptly(tmp_path):
    d = tmp_path / "locked"
    d.mkdir()
    if subprocess.run(["chattr", "+i", os.fspath(d)], capture_output=True).returncode != 0:
        pytest.skip("chattr +i is not available here")
    try:
        if os.access(d, os.W_OK) and _can_write(d):
            pytest.skip("an immutable directory is still writable here")
        script = textwrap.dedent(
            f"""
            import numpy as np, optax
            from flax import nnx
            from jaxloss import train
            m = nnx.Linear(3, 1, rngs=nnx.Rngs(0))
            o = nnx.Optimizer(m, optax.sgd(0.1), wrt=nnx.Param)
            x, y = np.ones((8, 3), np.float32), np.ones((8, 1), np.float32)
            train.fit(m, o, (x, y), loss="mse", epochs=1, progress=False,
                      checkpoint_dir={os.fspath(d)!r})
            """
        )
        t0 = time.perf_counter()
        env = dict(os.environ, PYTHONPATH=ROOT, JAX_PLATFORMS="cpu")
        proc = subprocess.run(
            [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, env=env
        )
        elapsed = time.perf_counter() - t0
    finally:
        subprocess.run(["chattr", "-i", os.fspath(d)], check=False)
    assert proc.returncode == 1
    assert "PermissionError" in proc.stderr and "cannot write checkpoints" in proc.stderr
    assert elapsed < 60  # it used to hang forever on Orbax's background threads


def _can_write(d):
    try:
        (d / "probe").write_text("x")
    except OSError:
        return False
    (d / "probe").unlink()
    return True


# ---- 6. options API, metrics registry, iterables, sample weights, callbacks, bf16 --------------


def test_one_options_api():
    x = jnp.ones((6, 3), jnp.float32)
    labels = jnp.asarray([0, 1, 2, 3, 0, 1])

    def fresh():
        m = nnx.Linear(3, 4, rngs=nnx.Rngs(0))
        return m, nnx.Optimizer(m, optax.sgd(0.1), wrt=nnx.Param)

    loss = "sparse_softmax_cross_entropy"
    m1, o1 = fresh()
    a = train.make_train_step(loss, label_smoothing=0.1)(m1, o1, (x, labels))
    m2, o2 = fresh()
    b = train.make_train_step(loss, loss_kwargs={"label_smoothing": 0.1})(m2, o2, (x, labels))
    assert float(a["loss"]) == float(b["loss"])
    _equal_trees(nnx.state(m1), nnx.state(m2))
    m3, o3 = fresh()
    h = train.fit(m3, o3, (x, labels), loss=loss, label_smoothing=0.1, epochs=1, progress=False)
    np.testing.assert_allclose(h["loss"][0], float(a["loss"]), rtol=1e-6)
    ev = train.evaluate(m3, (x, labels), loss=loss, label_smoothing=0.1)
    ref = jaxloss.sparse_softmax_cross_entropy(m3(x), labels, label_smoothing=0.1)
    np.testing.assert_allclose(ev["loss"], float(ref), rtol=1e-6)
    for build in (
        lambda: train.make_train_step(loss, label_smothing=0.1),
        lambda: train.make_train_step(loss, loss_kwargs={"label_smothing": 0.1}),
        lambda: train.evaluate(m3, (x, labels), loss=loss, label_smothing=0.1),
        lambda: train.fit(m3, o3, (x, labels), loss=loss, label_smothing=0.1, progress=False),
    ):
        with pytest.raises(TypeError, match=f"loss '{loss}' has no option.*label_smothing"):
            build()


def test_metric_registry_is_separate_from_losses():
    with pytest.raises(ValueError, match="unknown metric 'acuracy'; closest metric names: 'acc"):
        train.resolve_metrics(["acuracy"])
    assert "token_accuracy" in train.list_metrics() and "mse" in train.list_metrics()
    train.register_metric("my_zero_metric", lambda o, t: jnp.zeros(()), overwrite=True)
    assert train.resolve_metrics(["my_zero_metric"])[0][0] == "my_zero_metric"
    assert train.get_metric("huber_loss") is jaxloss.huber_loss  # a loss by its exact name


def test_token_and_top_k_accuracy_against_numpy():
    r = np.random.default_rng(0)
    logits = r.normal(size=(3, 5, 7)).astype(np.float32)
    labels = r.integers(0, 7, size=(3, 5))
    labels[0, :2] = -100
    correct, valid = train.token_accuracy(jnp.asarray(logits), jnp.asarray(labels))
    keep = labels != -100
    assert float(valid) == keep.sum()
    assert float(correct) == (logits.argmax(-1) == labels)[keep].sum()
    t3 = train.top_k_accuracy(3, ignore_index=-100)(jnp.asarray(logits), jnp.asarray(labels))
    top3 = np.argsort(-logits, axis=-1)[..., :3]
    ref = (top3 == labels[..., None]).any(-1)[keep].sum()
    assert float(t3[0]) == ref and float(t3[1]) == keep.sum()


def test_iterables_and_step_vs_scan_agree():
    x, y = _data(16)
    batches = [(x[i : i + 8], y[i : i + 8]) for i in range(0, 16, 8)]
    results = []
    for data, kw in (
        ((x, y), {"execution": "step"}),
        ((x, y), {"execution": "scan"}),
        (batches, {}),  # a re-iterable list
        (lambda: iter(batches), {}),  # a callable: a fresh iterable per epoch
        ((b for _ in range(2) for b in batches), {"steps_per_epoch": 2}),  # a generator
    ):
        model, opt = _make(dropout=0.0)
        h = train.fit(model, opt, data, loss="mse", epochs=2, batch_size=8, shuffle=False,
                      progress=False, **kw)  # fmt: skip
        results.append((h["loss"], jax.tree_util.tree_map(_np, nnx.state(model))))
    for losses, state in results[1:]:
        np.testing.assert_allclose(losses, results[0][0], rtol=1e-5)
        for a, b in zip(_leaves(state), _leaves(results[0][1]), strict=True):
            np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    model, opt = _make()
    with pytest.raises(ValueError, match="one-shot iterator"):
        train.fit(model, opt, iter(batches), loss="mse", epochs=2, progress=False)
    # a source whose epoch yields nothing is an error, not an epoch of NaN means
    calls = iter([lambda: iter(batches), lambda: iter(())])
    with pytest.raises(ValueError, match="yielded no batches for this epoch"):
        train.fit(model, opt, lambda: next(calls)(), loss="mse", epochs=2, progress=False)


@pytest.mark.filterwarnings("error:Some donated buffers")  # donation must really happen
def test_donating_steps_match_and_leave_the_callers_model_valid(monkeypatch):
    # Off CPU, fit's per-step programs donate the state leaves and the accumulator (the copies
    # _own_leaves makes, never the caller's arrays). JAX on CPU honours donation too, so the
    # GPU/TPU path runs here by telling fit it is not on CPU: same numbers, bit for bit, as the
    # undonated path, a NaN batch still skipped, and after an exception mid-epoch the caller's
    # model is untouched and readable.
    from jaxloss.train import _fit

    x, y = _data(24)
    bad = x.copy()
    bad[10, 0] = np.nan
    batches = [(x[:8], y[:8]), (bad[8:16], y[8:16]), (x[16:], y[16:])]

    def run(data, **kw):
        model, opt = _make(dropout=0.0)
        with pytest.warns(RuntimeWarning, match="skipped") if data is batches else nullcontext():
            h = train.fit(model, opt, data, loss="mse", epochs=2, batch_size=8, shuffle=False,
                          progress=False, **kw)  # fmt: skip
        return h, jax.tree_util.tree_map(_np, nnx.state((model, opt)))

    plain = [run((x, y), execution="step"), run(batches)]
    monkeypatch.setattr(_fit, "_on_cpu", lambda: False)
    donated = [run((x, y), execution="step"), run(batches)]
    for (h0, s0), (h1, s1) in zip(plain, donated, strict=True):
        assert h0["loss"] == h1["loss"] and h0["skipped"] == h1["skipped"]
        _equal_trees(s0, s1)
    assert donated[1][0]["skipped"] == [1, 1]
    assert (0, 1) in {k[-1] for k in _fit._CACHE if k[0] in ("slice", "batch")}

    def failing():
        yield batches[0]
        raise RuntimeError("data source failed")

    model, opt = _make(dropout=0.0)
    before = jax.tree_util.tree_map(_np, nnx.state((model, opt)))
    calls = iter([lambda: iter(batches), failing])
    with pytest.raises(RuntimeError, match="data source failed"), pytest.warns(RuntimeWarning):
        train.fit(model, opt, lambda: next(calls)(), loss="mse", epochs=2, progress=False)
    _equal_trees(before, nnx.state((model, opt)))  # readable: nothing of the caller's donated
    model(jnp.asarray(x))


def test_sample_weights_reach_the_loss():
    x, y = _data(16)
    w = np.zeros(16, np.float32)
    w[:8] = 1.0
    lin = lambda: nnx.Linear(3, 1, rngs=nnx.Rngs(0))  # noqa: E731
    m1 = lin()
    out = np.asarray(m1(jnp.asarray(x)))
    h = train.fit(m1, nnx.Optimizer(m1, optax.sgd(0.0), wrt=nnx.Param), (x, y, w[:, None]),
                  loss="mse", epochs=1, batch_size=16, shuffle=False, progress=False)  # fmt: skip
    ref = np.sum(w[:, None] * (out - y) ** 2) / np.sum(w)
    np.testing.assert_allclose(h["loss"][0], ref, rtol=1e-5)


def test_callbacks_early_stopping_and_loggers():
    x, y = _data(16)
    seen = []
    model, opt = _make(tx=optax.inject_hyperparams(optax.sgd)(learning_rate=0.0))
    stop = train.EarlyStopping("loss", patience=1, restore_best_weights=True)
    h = train.fit(
        model, opt, (x, y), loss="mse", epochs=10, batch_size=8, progress=False,
        callbacks=[stop, train.LearningRateLogger(), train.TimeLogger(),
                   train.LambdaCallback(on_epoch_end=lambda e, logs: seen.append(e))],
    )  # fmt: skip
    # lr = 0 (but dropout and BatchNorm statistics move): never better than epoch 0 by much
    assert len(h.epoch) < 10 and seen == h.epoch
    assert h["lr"] == [0.0] * len(h.epoch) and all(t > 0 for t in h["epoch_seconds"])
    assert stop.best_epoch is not None and stop.stopped_epoch == h.epoch[-1]


def test_sweep_argument_errors():
    from jaxloss.sweep import grid, run_loop

    with pytest.raises(ValueError, match="at least one named axis"):
        grid()
    with pytest.raises(ValueError, match=r"axes \['b'\] have no values"):
        grid(a=[1.0], b=[])
    with pytest.raises(ValueError, match="indices must be a non-empty list"):
        run_loop(lambda c: c["a"], grid(a=[1.0, 2.0]), indices=[5])


def test_bf16_compute_keeps_f32_master_parameters():
    x, y = _data(32)
    model = nnx.Sequential(nnx.Linear(3, 16, rngs=nnx.Rngs(0)), nnx.relu,
                           nnx.Linear(16, 1, rngs=nnx.Rngs(1)))  # fmt: skip
    opt = nnx.Optimizer(model, optax.sgd(1e-2, momentum=0.9), wrt=nnx.Param)
    h = train.fit(model, opt, (x, y), loss="mse", epochs=5, batch_size=8, progress=False,
                  compute_dtype=jnp.bfloat16)  # fmt: skip
    assert all(a.dtype == np.float32 for a in _leaves(nnx.state(model, nnx.Param)))
    assert h["loss"][-1] < h["loss"][0]


# ---- 5. the fused head ---------------------------------------------------------------------


class _LM(nnx.Module):
    def __init__(self, vocab=11, dim=6, *, rngs):
        self.embed = nnx.Embed(vocab, dim, rngs=rngs)
        self.head = nnx.Linear(dim, vocab, rngs=rngs)

    def hidden(self, tokens):
        return nnx.tanh(self.embed(tokens))

    def __call__(self, tokens):
        return self.head(self.hidden(tokens))


class _Fused(_LM):
    def __call__(self, tokens):
        return self.hidden(tokens)


def test_fused_head_trains_like_the_unfused_model():
    r = np.random.default_rng(0)
    tokens = r.integers(0, 11, size=(4, 5))
    labels = r.integers(0, 11, size=(4, 5))
    labels[0, :3] = -100
    ref_model, fused_model = _LM(rngs=nnx.Rngs(0)), _Fused(rngs=nnx.Rngs(0))
    ref_opt = nnx.Optimizer(ref_model, optax.sgd(0.5), wrt=nnx.Param)
    fused_opt = nnx.Optimizer(fused_model, optax.sgd(0.5), wrt=nnx.Param)
    ref_step = train.make_train_step("sparse_softmax_cross_entropy", ignore_index=-100,
                                     metrics=["token_accuracy"])  # fmt: skip
    fused_step = train.make_train_step("linear_cross_entropy", head="head", ignore_index=-100,
                                       metrics=["token_accuracy"])  # fmt: skip
    for _ in range(3):
        a = ref_step(ref_model, ref_opt, (tokens, labels))
        b = fused_step(fused_model, fused_opt, (tokens, labels))
        np.testing.assert_allclose(float(b["loss"]), float(a["loss"]), rtol=1e-5)
        np.testing.assert_allclose(float(b["token_accuracy"]), float(a["token_accuracy"]))
    for u, v in zip(_leaves(nnx.state(ref_model)), _leaves(nnx.state(fused_model)), strict=True):
        np.testing.assert_allclose(u, v, rtol=1e-4, atol=1e-6)
    top3 = [train.top_k_accuracy(3, ignore_index=-100)]
    ev = train.evaluate(fused_model, (tokens, labels), loss="linear_cross_entropy", head="head",
                        ignore_index=-100, metrics=top3)  # fmt: skip
    ev_ref = train.evaluate(ref_model, (tokens, labels), loss="sparse_softmax_cross_entropy",
                            ignore_index=-100, metrics=top3)  # fmt: skip
    for k in ev_ref:
        np.testing.assert_allclose(ev[k], ev_ref[k], rtol=1e-5)
    with pytest.raises(ValueError, match="need logits"):
        train.make_train_step("linear_cross_entropy", head="head", metrics=["accuracy"])


# ---- 7. plots and the CLI ------------------------------------------------------------------


def test_plot_history_labels_validation(tmp_path, monkeypatch):
    import matplotlib.axes

    labels = []
    orig = matplotlib.axes.Axes.legend
    monkeypatch.setattr(
        matplotlib.axes.Axes,
        "legend",
        lambda self, *a, **k: (
            labels.extend(t.get_label() for t in self.get_lines()),
            orig(self, *a, **k),
        )[1],
    )
    train.plot_history({"loss": [1, 0.5], "val_loss": [1.1, 0.7]}, tmp_path / "h.png")
    assert labels == ["train", "validation"]


@pytest.mark.parametrize(
    "argv, message",
    [
        (["demo", "--seeds", "0"], "--seeds: must be a positive integer, got 0"),
        (["demo", "--epochs", "-3"], "--epochs: must be a positive integer, got -3"),
        (["sweep", "--epochs", "0"], "--epochs: must be a positive integer, got 0"),
        (["bench", "--reps", "x"], "--reps: expected a positive integer"),
    ],
)
def test_cli_argument_errors(argv, message, capsys):
    from jaxloss import cli

    if not os.path.exists(os.path.join(ROOT, "examples", "seed_experiments.py")):
        pytest.skip("needs the source tree")
    with pytest.raises(SystemExit) as e:
        cli.main(argv)
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_cli_unwritable_outputs(tmp_path, capsys):
    from jaxloss import cli

    afile = tmp_path / "afile"
    afile.write_text("")
    for argv in (["demo", "--json", os.fspath(afile / "x.json")],
                 ["tour", "--out", os.fspath(afile / "png")]):  # fmt: skip
        with pytest.raises(SystemExit) as e:
            cli.main(argv)
        assert e.value.code == 2
        assert "is not a directory" in capsys.readouterr().err


def test_cli_exit_status_of_a_script_returning_results(tmp_path, monkeypatch):
    # bench/run.py's main() returns its results dict: that is success (it was `int(dict)`)
    from jaxloss import cli

    (tmp_path / "bench").mkdir()
    (tmp_path / "bench" / "run.py").write_text("def main(argv=None):\n    return {'rows': []}\n")
    monkeypatch.setattr(cli, "_repo_root", lambda: os.fspath(tmp_path))
    assert cli.main(["bench", "--smoke"]) == 0
    (tmp_path / "bench" / "run.py").write_text("def main(argv=None):\n    return 3\n")
    assert cli.main(["bench"]) == 3
