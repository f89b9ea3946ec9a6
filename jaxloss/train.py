"""Training with jaxloss losses in Flax NNX + Optax (API.md §3).

Three public entry points:

* :func:`make_train_step` — a jitted ``step(model, optimizer, batch) -> dict`` built on
  ``nnx.value_and_grad`` and ``nnx.Optimizer(model, tx, wrt=nnx.Param)``. A batch whose loss or
  gradient is non-finite leaves the model and the optimizer state untouched and reports
  ``skipped = 1``.
* :func:`fit` — Keras-like training loop: shuffled mini-batches (32 by default, the last batch
  partial as in Keras), per-epoch train / validation loss and metrics in a :class:`History`, a
  progress bar, optional Orbax checkpoints each epoch that a re-run resumes from exactly.
* :func:`plot_history` — the learning-curve PNG (loss on top, metric below, train and validation).

The same code runs on CPU, GPU and TPU: nothing here names a device.

Batches are ``(inputs, targets)`` or ``(inputs, targets, weights)`` tuples, or dicts with keys
``inputs``/``x``, ``targets``/``y`` and optionally ``weights``. The loss is called as
``loss(model(inputs), targets, **loss_kwargs)`` (plus ``weights=`` when the batch has weights).

Metrics are callables ``metric(outputs, targets) -> scalar`` or names: ``"accuracy"`` (Keras'
choice: one output unit -> ``binary_accuracy``, integer labels -> ``sparse_categorical_accuracy``,
otherwise ``categorical_accuracy``), ``"binary_accuracy"`` (Keras: ``mean(round(output) ==
target)``; with a tanh output and targets in {-1, +1} this only counts ``|output| > 0.5``),
``"sign_accuracy"`` (``sign`` agreement, the natural accuracy for ±1 targets),
``"categorical_accuracy"``, ``"sparse_categorical_accuracy"``, ``"mse"``, ``"mae"``; any other
string resolves through :func:`jaxloss.get`.
"""

from __future__ import annotations

import dataclasses
import os
from typing import Any, Callable, Iterable, Mapping, Sequence

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

__all__ = [
    "History",
    "make_train_step",
    "fit",
    "evaluate",
    "plot_history",
    "resolve_loss",
    "resolve_metrics",
    "make_pure_step",
    "make_pure_epoch",
    "make_pure_eval",
    "keras_accuracy",
    "binary_accuracy_keras",
    "sign_accuracy",
    "categorical_accuracy",
    "sparse_categorical_accuracy",
]


# --------------------------------------------------------------------------------------------
# losses and metrics
# --------------------------------------------------------------------------------------------


def resolve_loss(loss: str | Callable) -> Callable:
    """A loss callable from a callable or a registry name (``"mse"``, ``"CrossEntropyLoss"`` …)."""
    if isinstance(loss, str):
        from ._registry import get

        return get(loss)
    if not callable(loss):
        raise TypeError(
            f"jaxloss.train: 'loss' must be a callable or a registry name, got {loss!r}"
        )
    return loss


def _mean_f32(x):
    return jnp.mean(jnp.asarray(x).astype(jnp.float32))


def _align(outputs, targets):
    """Targets shaped like ``outputs`` for the element-wise metrics (Keras squeezes a unit axis)."""
    targets = jnp.asarray(targets)
    if targets.ndim == outputs.ndim - 1 and outputs.shape[-1] == 1:
        targets = targets[..., None]
    return targets.astype(outputs.dtype) if jnp.issubdtype(outputs.dtype, jnp.floating) else targets


def binary_accuracy_keras(outputs, targets):
    """Keras' ``binary_accuracy`` (threshold 0.5): ``mean(round(outputs) == targets)``."""
    targets = _align(outputs, targets)
    return _mean_f32(jnp.round(outputs) == targets)


def sign_accuracy(outputs, targets):
    """Fraction of examples whose output lies on the target's side of 0 (targets in {-1, +1})."""
    targets = _align(outputs, targets)
    return _mean_f32((outputs > 0) == (targets > 0))


def categorical_accuracy(outputs, targets):
    """``mean(argmax(outputs) == argmax(targets))`` over the last axis (one-hot / soft targets)."""
    return _mean_f32(jnp.argmax(outputs, axis=-1) == jnp.argmax(targets, axis=-1))


def sparse_categorical_accuracy(outputs, labels):
    """``mean(argmax(outputs) == labels)`` over the last axis (integer labels)."""
    labels = jnp.asarray(labels)
    if labels.ndim == outputs.ndim:  # Keras accepts labels with a trailing unit axis
        labels = labels[..., 0]
    return _mean_f32(jnp.argmax(outputs, axis=-1).astype(jnp.int32) == labels.astype(jnp.int32))


def keras_accuracy(outputs, targets):
    """Keras' ``metrics=["accuracy"]``: picks binary / sparse / categorical accuracy by shape."""
    targets = jnp.asarray(targets)
    if outputs.shape[-1] == 1:
        return binary_accuracy_keras(outputs, targets)
    if jnp.issubdtype(targets.dtype, jnp.integer) or targets.ndim < outputs.ndim:
        return sparse_categorical_accuracy(outputs, targets)
    return categorical_accuracy(outputs, targets)


def mse_metric(outputs, targets):
    """Mean squared error as a metric (Keras ``"mse"``)."""
    targets = _align(outputs, targets)
    return jnp.mean(jnp.square(outputs - targets))


def mae_metric(outputs, targets):
    """Mean absolute error as a metric (Keras ``"mae"``)."""
    targets = _align(outputs, targets)
    return jnp.mean(jnp.abs(outputs - targets))


_BUILTIN_METRICS: dict[str, Callable] = {
    "accuracy": keras_accuracy,
    "acc": keras_accuracy,
    "binary_accuracy": binary_accuracy_keras,
    "sign_accuracy": sign_accuracy,
    "categorical_accuracy": categorical_accuracy,
    "sparse_categorical_accuracy": sparse_categorical_accuracy,
    "mse": mse_metric,
    "mean_squared_error": mse_metric,
    "mae": mae_metric,
    "mean_absolute_error": mae_metric,
}


def resolve_metrics(metrics: Iterable) -> tuple[tuple[str, Callable], ...]:
    """``(name, fn)`` pairs from names, callables or ``(name, fn)`` pairs."""
    if isinstance(metrics, (str, Mapping)) or callable(metrics):
        metrics = [metrics]
    out = []
    for m in metrics:
        if isinstance(m, tuple) and len(m) == 2 and isinstance(m[0], str):
            out.append((m[0], m[1]))
        elif isinstance(m, str):
            fn = _BUILTIN_METRICS.get(m.lower())
            out.append((m, fn if fn is not None else resolve_loss(m)))
        elif callable(m):
            out.append((getattr(m, "__name__", "metric"), m))
        else:
            raise TypeError(f"jaxloss.train: unknown metric {m!r}")
    names = [n for n, _ in out]
    if len(set(names)) != len(names) or {"loss", "skipped"} & set(names):
        raise ValueError(
            f"jaxloss.train: metric names must be unique and not 'loss'/'skipped': {names}"
        )
    return tuple(out)


# --------------------------------------------------------------------------------------------
# the step
# --------------------------------------------------------------------------------------------


def _unpack(batch):
    if isinstance(batch, Mapping):
        x = batch["inputs"] if "inputs" in batch else batch["x"]
        y = batch["targets"] if "targets" in batch else batch["y"]
        return x, y, batch.get("weights")
    if len(batch) == 2:
        return batch[0], batch[1], None
    if len(batch) == 3:
        return batch[0], batch[1], batch[2]
    raise ValueError("jaxloss.train: a batch is (inputs, targets[, weights]) or a dict")


def _all_finite(tree) -> jax.Array:
    ok = jnp.asarray(True)
    for leaf in jax.tree_util.tree_leaves(tree):
        if jnp.issubdtype(leaf.dtype, jnp.inexact):
            ok = ok & jnp.all(jnp.isfinite(leaf))
    return ok


def _select(pred, new, old):
    return jax.tree_util.tree_map(lambda a, b: jnp.where(pred, a, b), new, old)


def _step_impl(model, optimizer, batch, loss_fn, metric_fns, loss_kwargs):
    """One guarded update in place on ``model``/``optimizer``; returns the batch's logs."""
    x, y, w = _unpack(batch)
    extra = dict(loss_kwargs)
    if w is not None:
        extra["weights"] = w

    def objective(m):
        out = m(x)
        return loss_fn(out, y, **extra), out

    (loss, out), grads = nnx.value_and_grad(objective, has_aux=True)(model)
    finite = jnp.isfinite(loss) & _all_finite(grads)
    # nnx.state holds references to the Variables: snapshot the values before the update
    params_before = jax.tree_util.tree_map(jnp.asarray, nnx.state(model, nnx.Param))
    opt_before = jax.tree_util.tree_map(jnp.asarray, nnx.state(optimizer))
    # zeroed gradients keep NaN out of the (discarded) update arithmetic
    safe = jax.tree_util.tree_map(lambda g: jnp.where(finite, g, jnp.zeros_like(g)), grads)
    optimizer.update(model, safe)
    nnx.update(model, _select(finite, nnx.state(model, nnx.Param), params_before))
    nnx.update(optimizer, _select(finite, nnx.state(optimizer), opt_before))
    logs = {"loss": loss, "skipped": (~finite).astype(jnp.int32)}
    out = jax.lax.stop_gradient(out)
    for name, fn in metric_fns:
        logs[name] = fn(out, y)
    return logs


def make_train_step(
    loss: str | Callable, *, metrics: Sequence = (), check: bool = False, **loss_kwargs
) -> Callable:
    """A jitted training step ``step(model, optimizer, batch) -> dict`` for a jaxloss loss.

    The step computes ``loss(model(inputs), targets, **loss_kwargs)`` and its gradient with
    ``nnx.value_and_grad`` and applies ``optimizer.update(model, grads)`` for an
    ``nnx.Optimizer(model, tx, wrt=nnx.Param)``. If the loss or any gradient entry is NaN or
    infinite, the parameters and the optimizer state (step count included) are left exactly as
    they were and the returned ``skipped`` is 1, so one bad batch never corrupts the model.

    Args:
      loss: a callable ``loss(outputs, targets, **kw)`` or a registry name (``"mse"``,
        ``"binary_crossentropy"``, ``"CrossEntropyLoss"`` …).
      metrics: names or callables ``metric(outputs, targets)`` evaluated on the batch outputs
        (before the update); see the module docstring for the built-in names.
      check: run the loss in checked mode (:func:`jaxloss.checked`) inside the jitted step: a
        batch with invalid values (labels out of range, probabilities outside [0, 1], NaN inputs,
        …) raises :class:`jaxloss.LossInputError` naming the loss, argument, value and index, and
        the model and optimizer are left untouched. ``loss`` must then be a jaxloss loss or name.
      **loss_kwargs: options passed to the loss (``label_smoothing=0.1`` …); arrays are fine.

    Returns:
      ``step(model, optimizer, batch)`` returning ``{"loss", "skipped", <metrics>}`` as arrays.

    Examples:
      >>> import jax.numpy as jnp, optax
      >>> from flax import nnx
      >>> from jaxloss.train import make_train_step
      >>> model = nnx.Linear(2, 1, rngs=nnx.Rngs(0))
      >>> opt = nnx.Optimizer(model, optax.sgd(0.1), wrt=nnx.Param)
      >>> sq = lambda p, t: jnp.mean((p - t) ** 2)
      >>> step = make_train_step(sq)
      >>> x, y = jnp.ones((4, 2), jnp.float32), jnp.zeros((4, 1), jnp.float32)
      >>> first = float(step(model, opt, (x, y))["loss"])
      >>> second = float(step(model, opt, (x, y))["loss"])
      >>> second < first
      True
    """
    loss_fn = resolve_loss(loss)
    metric_fns = resolve_metrics(metrics)
    if check:
        return _checked_step(loss_fn, metrics, loss_kwargs)

    @nnx.jit
    def step(model, optimizer, batch):
        return _step_impl(model, optimizer, batch, loss_fn, metric_fns, loss_kwargs)

    return step


def _checked_step(loss_fn: Callable, metrics: Sequence, loss_kwargs: dict) -> Callable:
    """``make_train_step(..., check=True)``: the pure step under jit + checkify, applied in place.

    The checks of the checked loss are ``checkify.debug_check``s inside the traced step; running
    the pure step through ``checkify`` surfaces them, and the new state is written back only when
    no check failed.
    """
    from ._checked import checked, checkify

    checked_loss = checked(loss_fn)
    compiled: dict = {}

    def step(model, optimizer, batch):
        graphdef, state = nnx.split((model, optimizer))
        fn = compiled.get(graphdef)
        if fn is None:
            pure = make_pure_step(graphdef, checked_loss, metrics=metrics, **loss_kwargs)
            fn = compiled[graphdef] = checkify(jax.jit(pure))
        new_state, logs = fn(state, batch)  # raises LossInputError before anything is written
        nnx.update((model, optimizer), new_state)
        return logs

    return step


# --------------------------------------------------------------------------------------------
# functional epoch / evaluation (shared with the vectorised examples)
# --------------------------------------------------------------------------------------------


def make_pure_step(graphdef, loss, *, metrics=(), **loss_kwargs):
    """``step(state, batch) -> (state, logs)`` on ``nnx.split((model, optimizer))`` states.

    The pure form of :func:`make_train_step`, for ``jax.vmap`` / ``lax.scan`` (vectorised seeds
    and sweeps). Not jitted: the caller jits the program it builds.
    """
    loss_fn = resolve_loss(loss)
    metric_fns = resolve_metrics(metrics)

    def step(state, batch):
        model, optimizer = nnx.merge(graphdef, state)
        logs = _step_impl(model, optimizer, batch, loss_fn, metric_fns, loss_kwargs)
        return nnx.state((model, optimizer)), logs

    return step


def make_pure_epoch(
    graphdef, loss, *, num_examples, batch_size=32, shuffle=True, metrics=(), **loss_kwargs
):
    """``epoch(state, x, y, key) -> (state, logs)``: one Keras epoch as a pure function.

    Shuffles with ``jax.random.permutation(key, num_examples)`` when ``shuffle``, runs the full
    batches in a ``lax.scan`` and the last partial batch (if any) as one more step, like Keras.
    ``logs`` holds the batch-size-weighted mean of the loss and metrics over the batches that
    were applied (Keras' running average) and ``skipped``, the number of skipped batches.
    """
    step = make_pure_step(graphdef, loss, metrics=metrics, **loss_kwargs)
    n_full, rem = divmod(num_examples, batch_size)

    def epoch(state, x, y, key):
        idx = jax.random.permutation(key, num_examples) if shuffle else jnp.arange(num_examples)
        xs, ys = jnp.take(x, idx, axis=0), jnp.take(y, idx, axis=0)
        totals, weight, skipped = None, jnp.zeros((), jnp.float32), jnp.zeros((), jnp.int32)

        def acc(totals, weight, skipped, logs, size):
            ok = logs["skipped"] == 0
            vals = {k: v for k, v in logs.items() if k != "skipped"}
            add = {
                k: jnp.where(ok, jnp.asarray(v, jnp.float32) * size, 0.0) for k, v in vals.items()
            }
            totals = add if totals is None else {k: totals[k] + add[k] for k in totals}
            return (
                totals,
                weight + jnp.where(ok, float(size), 0.0),
                skipped + logs["skipped"].astype(jnp.int32),
            )

        if n_full:
            head = n_full * batch_size
            xb = xs[:head].reshape((n_full, batch_size) + xs.shape[1:])
            yb = ys[:head].reshape((n_full, batch_size) + ys.shape[1:])
            state, logs = jax.lax.scan(lambda s, b: step(s, b), state, (xb, yb))
            ok = logs["skipped"] == 0
            totals = {
                k: jnp.sum(jnp.where(ok, jnp.asarray(v, jnp.float32), 0.0)) * batch_size
                for k, v in logs.items()
                if k != "skipped"
            }
            weight = jnp.sum(ok).astype(jnp.float32) * batch_size
            skipped = jnp.sum(logs["skipped"]).astype(jnp.int32)
        if rem:
            state, logs = step(state, (xs[n_full * batch_size :], ys[n_full * batch_size :]))
            totals, weight, skipped = acc(totals, weight, skipped, logs, rem)
        means = {
            k: jnp.where(weight > 0, v / jnp.maximum(weight, 1.0), jnp.nan)
            for k, v in totals.items()
        }
        means["skipped"] = skipped
        return state, means

    return epoch


def make_pure_eval(graphdef, loss, *, metrics=(), **loss_kwargs):
    """``evaluate(state, x, y) -> logs``: loss and metrics of the model on a whole data set."""
    loss_fn = resolve_loss(loss)
    metric_fns = resolve_metrics(metrics)

    def evaluate(state, x, y):
        model, _ = nnx.merge(graphdef, state)
        out = model(x)
        logs = {"loss": loss_fn(out, y, **loss_kwargs)}
        for name, fn in metric_fns:
            logs[name] = fn(out, y)
        return logs

    return evaluate


def evaluate(model, data, *, loss, metrics=(), **loss_kwargs) -> dict[str, float]:
    """Loss and metrics of ``model`` on ``data = (inputs, targets)`` (Keras ``model.evaluate``)."""
    loss_fn = resolve_loss(loss)
    metric_fns = resolve_metrics(metrics)
    x, y, _ = _unpack(data)

    @nnx.jit
    def run(model, x, y):
        out = model(x)
        logs = {"loss": loss_fn(out, y, **loss_kwargs)}
        for name, fn in metric_fns:
            logs[name] = fn(out, y)
        return logs

    return {k: float(v) for k, v in run(model, jnp.asarray(x), jnp.asarray(y)).items()}


# --------------------------------------------------------------------------------------------
# History, checkpoints, fit
# --------------------------------------------------------------------------------------------


@dataclasses.dataclass
class History:
    """Keras-like training history.

    ``history`` maps ``"loss"``, each metric name, ``"val_loss"``, ``"val_<metric>"`` and
    ``"skipped"`` (batches skipped by the non-finite guard) to per-epoch lists; ``epoch`` lists
    the epoch indices. ``history["loss"]`` is the running (batch-size weighted) mean over the
    epoch's applied batches, as Keras reports it; validation values are computed at the end of
    each epoch.
    """

    history: dict[str, list] = dataclasses.field(default_factory=dict)
    epoch: list[int] = dataclasses.field(default_factory=list)

    def __getitem__(self, key):
        return self.history[key]

    @property
    def skipped_batches(self) -> int:
        """Total number of batches skipped by the non-finite guard."""
        return int(sum(self.history.get("skipped", [])))

    def append(self, epoch: int, logs: Mapping[str, Any]) -> None:
        self.epoch.append(int(epoch))
        for k, v in logs.items():
            v = np.asarray(v)
            self.history.setdefault(k, []).append(v.tolist())

    def to_dict(self) -> dict:
        return {"history": self.history, "epoch": self.epoch}

    @classmethod
    def from_dict(cls, d: Mapping) -> "History":
        return cls(history={k: list(v) for k, v in d["history"].items()}, epoch=list(d["epoch"]))


def _to_storable(state):
    """Pure dict of numpy arrays; typed PRNG keys become their key data."""
    pure = nnx.to_pure_dict(state) if hasattr(nnx, "to_pure_dict") else state.to_pure_dict()

    def conv(a):
        a = jnp.asarray(a)
        if jnp.issubdtype(a.dtype, jax.dtypes.prng_key):
            a = jax.random.key_data(a)
        return np.asarray(a)

    return jax.tree_util.tree_map(conv, pure)


def _from_storable(state, stored):
    template = nnx.to_pure_dict(state) if hasattr(nnx, "to_pure_dict") else state.to_pure_dict()

    def conv(t, s):
        t = jnp.asarray(t)
        if jnp.issubdtype(t.dtype, jax.dtypes.prng_key):
            return jax.random.wrap_key_data(jnp.asarray(s), impl=jax.random.key_impl(t))
        return jnp.asarray(s, dtype=t.dtype)

    restored = jax.tree_util.tree_map(conv, template, stored)
    nnx.replace_by_pure_dict(state, restored)
    return state


class _Checkpointer:
    """Orbax ``CheckpointManager`` holding ``{"state": model+optimizer, "meta": history}``."""

    def __init__(self, directory):
        import orbax.checkpoint as ocp

        self._ocp = ocp
        self.mngr = ocp.CheckpointManager(
            os.path.abspath(os.fspath(directory)),
            options=ocp.CheckpointManagerOptions(max_to_keep=2, create=True),
        )

    def latest(self):
        return self.mngr.latest_step()

    def save(self, epoch, state, meta):
        ocp = self._ocp
        self.mngr.save(
            epoch,
            args=ocp.args.Composite(
                state=ocp.args.StandardSave(_to_storable(state)), meta=ocp.args.JsonSave(meta)
            ),
        )
        self.mngr.wait_until_finished()

    def restore(self, epoch, state):
        ocp = self._ocp
        target = _to_storable(state)
        abstract = jax.tree_util.tree_map(ocp.utils.to_shape_dtype_struct, target)
        got = self.mngr.restore(
            epoch,
            args=ocp.args.Composite(
                state=ocp.args.StandardRestore(abstract), meta=ocp.args.JsonRestore()
            ),
        )
        return _from_storable(state, got["state"]), got["meta"]

    def close(self):
        self.mngr.close()


def fit(
    model,
    optimizer,
    train_data,
    *,
    loss,
    epochs: int = 1,
    batch_size: int = 32,
    validation_data=None,
    metrics: Sequence = (),
    checkpoint_dir=None,
    seed: int = 0,
    progress: bool = True,
    shuffle: bool = True,
    loss_kwargs: Mapping | None = None,
) -> History:
    """Trains ``model`` in place, Keras style, and returns its :class:`History`.

    Each epoch shuffles the training set with the key ``fold_in(PRNGKey(seed), epoch)`` (so an
    epoch's order depends only on ``seed`` and its index), runs mini-batches of ``batch_size``
    (the last one partial, as Keras) through the guarded step of :func:`make_train_step` — one
    jitted program per epoch — and evaluates ``validation_data`` at the end of the epoch.

    Args:
      model: an ``nnx.Module`` called as ``model(inputs)``.
      optimizer: ``nnx.Optimizer(model, tx, wrt=nnx.Param)``.
      train_data: ``(inputs, targets)`` arrays with the examples on axis 0.
      loss: a callable or a registry name.
      epochs: total number of epochs (a resumed run trains the remaining ones).
      batch_size: mini-batch size (default 32, as Keras).
      validation_data: optional ``(inputs, targets)`` evaluated after every epoch.
      metrics: names or callables, see the module docstring.
      checkpoint_dir: if set, an Orbax checkpoint of the model, the optimizer and the history is
        written after every epoch; calling :func:`fit` again with the same directory restores the
        latest one and continues, giving the same final parameters as an uninterrupted run.
      seed: seed of the shuffling.
      progress: show a tqdm progress bar over epochs.
      shuffle: shuffle every epoch (Keras' default).
      loss_kwargs: options passed to the loss.

    Returns:
      The :class:`History` (the whole run's, including epochs restored from a checkpoint).
    """
    loss_kwargs = dict(loss_kwargs or {})
    x, y, w = _unpack(train_data)
    if w is not None:
        raise ValueError(
            "jaxloss.fit: per-example weights are not supported; pass (inputs, targets)"
        )
    x, y = jnp.asarray(x), jnp.asarray(y)
    n = int(x.shape[0])
    if n == 0 or int(y.shape[0]) != n:
        raise ValueError(
            f"jaxloss.fit: inputs and targets need the same non-zero length, got {x.shape[0]} and {y.shape[0]}"
        )
    graphdef, state = nnx.split((model, optimizer))
    epoch_fn = jax.jit(
        make_pure_epoch(
            graphdef,
            loss,
            num_examples=n,
            batch_size=batch_size,
            shuffle=shuffle,
            metrics=metrics,
            **loss_kwargs,
        )
    )
    eval_fn = None
    if validation_data is not None:
        vx, vy, _ = _unpack(validation_data)
        vx, vy = jnp.asarray(vx), jnp.asarray(vy)
        eval_fn = jax.jit(make_pure_eval(graphdef, loss, metrics=metrics, **loss_kwargs))

    history, start = History(), 0
    ckpt = _Checkpointer(checkpoint_dir) if checkpoint_dir is not None else None
    try:
        if ckpt is not None and ckpt.latest() is not None:
            last = ckpt.latest()
            state, meta = ckpt.restore(last, state)
            history = History.from_dict(meta["history"])
            start = last + 1
        base = jax.random.PRNGKey(seed)
        bar = None
        if progress:
            from tqdm.auto import tqdm

            bar = tqdm(total=epochs, initial=min(start, epochs), desc="fit", unit="epoch")
        for ep in range(start, epochs):
            state, logs = epoch_fn(state, x, y, jax.random.fold_in(base, ep))
            logs = {k: np.asarray(v) for k, v in logs.items()}
            if eval_fn is not None:
                vlogs = eval_fn(state, vx, vy)
                logs.update({f"val_{k}": np.asarray(v) for k, v in vlogs.items()})
            history.append(ep, logs)
            if ckpt is not None:
                ckpt.save(ep, state, {"history": history.to_dict(), "seed": seed})
            if bar is not None:
                bar.update(1)
                bar.set_postfix({k: f"{float(v):.4g}" for k, v in logs.items() if k != "skipped"})
        if bar is not None:
            bar.close()
    finally:
        if ckpt is not None:
            ckpt.close()
    nnx.update((model, optimizer), state)
    return history


# --------------------------------------------------------------------------------------------
# plotting
# --------------------------------------------------------------------------------------------


def _curve(ax, values, label):
    v = np.asarray(values, dtype=np.float64)
    if v.ndim == 2:  # [seeds, epochs]: mean line and min-max band
        epochs = np.arange(1, v.shape[1] + 1)
        (line,) = ax.plot(epochs, v.mean(0), label=label)
        ax.fill_between(epochs, v.min(0), v.max(0), color=line.get_color(), alpha=0.2, lw=0)
    else:
        ax.plot(np.arange(1, v.shape[0] + 1), v, label=label)


def plot_history(history, path, *, metric: str | None = None, title: str | None = None) -> str:
    """Writes the tutorial's learning-curve figure as PNG: loss on top, ``metric`` below.

    Args:
      history: a :class:`History` or a mapping ``name -> values`` (values per epoch, or
        ``[seeds, epochs]`` arrays, drawn as the seed mean with a min–max band).
      path: where to write the PNG (folders are created).
      metric: the metric of the lower panel; default the first key that is neither a loss nor
        ``skipped``; no lower panel when there is none.
      title: optional figure title.

    Returns:
      ``path``.
    """
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    h = history.history if isinstance(history, History) else dict(history)
    if metric is None:
        cands = [k for k in h if not k.startswith("val_") and k not in ("loss", "skipped")]
        metric = cands[0] if cands else None
    panels = [("loss", "Loss")] + ([(metric, metric)] if metric else [])
    fig, axes = plt.subplots(len(panels), 1, figsize=(6.4, 2.6 * len(panels) + 0.4), squeeze=False)
    for ax, (key, label) in zip(axes[:, 0], panels, strict=False):
        if key in h:
            _curve(ax, h[key], "train")
        if f"val_{key}" in h:
            _curve(ax, h[f"val_{key}"], "test")
        ax.set_title(label)
        ax.legend()
    axes[-1, 0].set_xlabel("epoch")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    os.makedirs(os.path.dirname(os.path.abspath(os.fspath(path))), exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return os.fspath(path)
