"""``fit``: the Keras-like loop (arrays or iterables of batches, per-step or scanned execution,
validation in inference mode, callbacks, checked resume)."""

from __future__ import annotations

import dataclasses
import json
import warnings
from typing import Any, Mapping, Sequence

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from ._callbacks import Callback, Trainer
from ._checkpoint import Checkpointer, CheckpointMismatchError, compare, state_spec
from ._metrics import resolve_metrics
from ._step import (
    Objective,
    acc_counts,
    accumulate,
    check_metrics,
    core_step,
    empty_acc,
    evaluate_state,
    finish,
    merge_options,
    scan_epoch,
    unpack,
)

__all__ = ["History", "fit"]

_RESUME = ("auto", "allow_config_change", "restart")
_EXECUTION = ("auto", "step", "scan")
# "auto" scans the epoch when one step costs less than this many flops: below it the per-step
# dispatch dominates; above it XLA:CPU runs the step faster outside a while loop.
SCAN_FLOPS_THRESHOLD = 2e6


@dataclasses.dataclass
class History:
    """Keras-like training history.

    ``history`` maps ``"loss"``, each metric name, ``"val_loss"``, ``"val_<metric>"`` and
    ``"skipped"`` (batches skipped by the non-finite guard) to per-epoch lists; ``epoch`` lists
    the epoch indices. ``history["loss"]`` is the running (batch-size weighted) mean over the
    epoch's applied batches, as Keras reports it; validation values are computed at the end of
    each epoch, in inference mode.
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


# --------------------------------------------------------------------------------------------
# data sources
# --------------------------------------------------------------------------------------------


def _is_arrays(data) -> bool:
    """``(x, y[, w])`` / dict of arrays, as opposed to an iterable of batches."""
    if isinstance(data, Mapping):
        return True
    if isinstance(data, tuple) and len(data) in (2, 3):
        return True
    if isinstance(data, list) and len(data) in (2, 3):
        return all(hasattr(a, "shape") or a is None for a in data)
    return False


class _Batches:
    """An iterable-of-batches source: a callable (called each epoch), a re-iterable (iterated
    each epoch) or a one-shot iterator (``steps_per_epoch`` batches per epoch)."""

    def __init__(self, data, steps_per_epoch, epochs_left):
        self.data = data
        self.steps = steps_per_epoch
        self.one_shot = not callable(data) and iter(data) is data
        if self.one_shot and epochs_left > 1 and steps_per_epoch is None:
            raise ValueError(
                "jaxloss.fit: train_data is a one-shot iterator (e.g. a generator) and epochs > 1: "
                "pass steps_per_epoch=, a list, or a callable returning a fresh iterable per epoch"
            )
        self._it = iter(data) if self.one_shot else None

    def epoch(self):
        if self.one_shot:
            it = self._it
        else:
            it = iter(self.data() if callable(self.data) else self.data)
        n = 0
        for batch in it:
            yield batch
            n += 1
            if self.steps is not None and n >= self.steps:
                return
        if self.steps is not None and n < self.steps:
            warnings.warn(
                f"jaxloss.fit: train_data ran out after {n} of steps_per_epoch={self.steps} "
                "batches",
                RuntimeWarning,
                stacklevel=4,
            )


def _as_arrays(data, where):
    x, y, w = unpack(data)
    x = jax.tree_util.tree_map(jnp.asarray, x)
    y = jnp.asarray(y)
    w = None if w is None else jnp.asarray(w)
    n = int(jax.tree_util.tree_leaves(x)[0].shape[0])
    lens = {int(a.shape[0]) for a in jax.tree_util.tree_leaves(x)} | {int(y.shape[0])}
    if w is not None:
        lens.add(int(w.shape[0]))
    if n == 0 or len(lens) != 1:
        raise ValueError(
            f"jaxloss.fit: {where} inputs, targets (and weights) need the same non-zero length "
            f"on axis 0, got lengths {sorted(lens)}"
        )
    return x, y, w, n


def _int_arg(name, value, minimum, allow_none=False):
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"jaxloss.fit: {name!r} must be an int >= {minimum}, got {value!r}")
    return int(value)


# --------------------------------------------------------------------------------------------
# fit
# --------------------------------------------------------------------------------------------


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
    callbacks: Sequence[Callback] = (),
    execution: str = "auto",
    steps_per_epoch: int | None = None,
    validation_batch_size: int | None = None,
    head=None,
    compute_dtype=None,
    resume: str = "auto",
    **options,
) -> History:
    """Trains ``model`` in place, Keras style, and returns its :class:`History`.

    Each epoch shuffles the training set with the key ``fold_in(PRNGKey(seed), epoch)`` (so an
    epoch's order depends only on ``seed`` and its index), runs mini-batches of ``batch_size``
    (the last one partial, as Keras) through the guarded step of :func:`make_train_step` and
    evaluates ``validation_data`` at the end of the epoch with the model in inference mode
    (``model.eval()`` on a copy: Dropout off, BatchNorm running statistics; the caller's model
    keeps its mode). A batch whose loss, gradients or resulting state is not finite is skipped
    (all state kept), counted in ``history["skipped"]``, shown in the progress bar and reported by
    a ``RuntimeWarning``.

    Args:
      model: an ``nnx.Module`` called as ``model(inputs)``.
      optimizer: ``nnx.Optimizer(model, tx, wrt=nnx.Param)``.
      train_data: ``(inputs, targets)`` or ``(inputs, targets, sample_weights)`` arrays with the
        examples on axis 0 (weights are passed to the loss as ``weights=``); or an iterable of
        such batches: a list or other re-iterable (iterated each epoch), a callable returning a
        fresh iterable each epoch, or a one-shot iterator such as a generator (then
        ``steps_per_epoch`` batches make an epoch). Batches from an iterable are used as given
        (``batch_size`` and ``shuffle`` do not apply).
      loss: a callable or a registry name.
      epochs: total number of epochs (a resumed run trains the remaining ones).
      batch_size: mini-batch size (default 32, as Keras).
      validation_data: optional ``(inputs, targets[, weights])`` or a re-iterable of batches,
        evaluated after every epoch in inference mode.
      metrics: names (:func:`list_metrics`) or callables.
      checkpoint_dir: if set, an Orbax checkpoint of the model, the optimizer and the history is
        written after every epoch; calling :func:`fit` again with the same directory restores the
        newest complete one and continues, giving the same final state as an uninterrupted run.
        The checkpoint must match the model and optimizer (structure, shapes, dtypes) and the
        training configuration (loss, loss options, head, compute dtype, seed, batch size,
        shuffle), else :class:`CheckpointMismatchError` names the differences.
      seed: seed of the shuffling.
      progress: show a tqdm progress bar over epochs.
      shuffle: shuffle every epoch (Keras' default).
      loss_kwargs: loss options as a mapping; the same as passing them as keywords (``**options``).
      callbacks: :class:`Callback` objects (``EarlyStopping``, ``LearningRateLogger``,
        ``TimeLogger``, ``LambdaCallback``, your own).
      execution: ``"step"`` (one compiled step per batch, driven from Python), ``"scan"`` (one
        compiled program per epoch, the batches in a ``lax.scan``) or ``"auto"`` (``"scan"``
        when a step is cheap enough that dispatch would dominate, else ``"step"``). Both give
        the same result.
      steps_per_epoch: batches per epoch when ``train_data`` is a one-shot iterator.
      validation_batch_size: evaluate the validation set in batches of this size (default: all
        at once).
      head: a fused LM head, as in :func:`make_train_step`.
      compute_dtype: e.g. ``jnp.bfloat16``, as in :func:`make_train_step`.
      resume: ``"auto"`` (resume a matching checkpoint; any difference is an error),
        ``"allow_config_change"`` (resume although loss options / seed / batch size changed —
        structure, shapes and dtypes must still match) or ``"restart"`` (delete the directory's
        checkpoints and train from the given model).
      **options: loss options (``label_smoothing=0.1`` …); unknown ones are a ``TypeError``.

    Returns:
      The :class:`History` (the whole run's, including epochs restored from a checkpoint).
    """
    options = merge_options("fit", loss_kwargs, options)
    obj = Objective(loss, options, head=head, compute_dtype=compute_dtype, where="fit")
    metric_fns = resolve_metrics(metrics)
    check_metrics(metric_fns, obj, "fit")
    epochs = _int_arg("epochs", epochs, 0)
    batch_size = _int_arg("batch_size", batch_size, 1)
    steps_per_epoch = _int_arg("steps_per_epoch", steps_per_epoch, 1, allow_none=True)
    validation_batch_size = _int_arg("validation_batch_size", validation_batch_size, 1, True)
    if execution not in _EXECUTION:
        raise ValueError(f"jaxloss.fit: 'execution' must be one of {_EXECUTION}, got {execution!r}")
    if resume not in _RESUME:
        raise ValueError(f"jaxloss.fit: 'resume' must be one of {_RESUME}, got {resume!r}")
    callbacks = list(callbacks or ())
    for cb in callbacks:
        if not isinstance(cb, Callback):
            raise TypeError(f"jaxloss.fit: callbacks must be Callback instances, got {cb!r}")

    arrays = _is_arrays(train_data)
    if arrays:
        x, y, w, n = _as_arrays(train_data, "train_data")
    val = None
    if validation_data is not None:
        val = (
            _as_arrays(validation_data, "validation_data")[:3]
            if _is_arrays(validation_data)
            else validation_data
        )

    graphdef, state = nnx.split((model, optimizer))
    names = ["loss"] + [nm for nm, _ in metric_fns]
    config = {
        **obj.fingerprint(),
        "seed": int(seed),
        "batch_size": batch_size if arrays else None,
        "shuffle": bool(shuffle) if arrays else None,
    }
    config = json.loads(json.dumps(config))

    history, start = History(), 0
    ckpt = Checkpointer(checkpoint_dir) if checkpoint_dir is not None else None
    bar = None
    try:
        if ckpt is not None:
            if resume == "restart":
                ckpt.clear()
            else:
                found = ckpt.latest_valid(
                    lambda meta: _check_resume(meta, state, config, epochs, resume, ckpt.dir),
                    state,
                )
                if found is not None:
                    last, state, meta = found
                    history = History.from_dict(meta["history"])
                    start = last + 1

        source = None if arrays else _Batches(train_data, steps_per_epoch, epochs - start)
        run_epoch = None
        if start < epochs:
            if arrays:
                mode = execution
                if mode == "auto":
                    mode = _cached(
                        ("auto", graphdef, obj.key(), metric_fns, batch_size, _shapes((x, y, w))),
                        lambda: _auto_mode(graphdef, state, obj, metric_fns, x, y, w, batch_size),
                    )
                run_epoch = _array_epoch_runner(
                    mode, graphdef, obj, metric_fns, names, x, y, w, n, batch_size, shuffle
                )
            else:
                run_epoch = _iter_epoch_runner(graphdef, obj, metric_fns, names, source)

        trainer = Trainer(graphdef, state, history)
        for cb in callbacks:
            cb.trainer = trainer
            cb.on_train_begin()
        base = jax.random.PRNGKey(seed)
        if progress:
            from tqdm.auto import tqdm

            bar = tqdm(total=epochs, initial=min(start, epochs), desc="fit", unit="epoch")
        total_skipped = 0
        for ep in range(start, epochs):
            trainer.epoch = ep
            for cb in callbacks:
                cb.on_epoch_begin(ep)
            trainer.state, acc = run_epoch(trainer.state, jax.random.fold_in(base, ep))
            acc = np.asarray(acc)
            logs = {k: float(v) for k, v in finish(acc, names).items() if k != "skipped"}
            skipped, n_batches = acc_counts(acc)
            if val is not None:
                vlogs = _validate(
                    graphdef, trainer.state, val, obj, metric_fns, validation_batch_size
                )
                logs.update({f"val_{k}": float(v) for k, v in vlogs.items()})
            if skipped:
                total_skipped += skipped
                warnings.warn(
                    f"jaxloss.fit: epoch {ep + 1}: {skipped} of {n_batches} batches skipped (non-"
                    "finite loss, gradient or updated state); the model and optimizer state were "
                    "left unchanged for those batches",
                    RuntimeWarning,
                    stacklevel=2,
                )
            for cb in callbacks:
                cb.on_epoch_end(ep, logs)
            logs["skipped"] = skipped
            history.append(ep, logs)
            if ckpt is not None:
                ckpt.save(
                    ep,
                    trainer.state,
                    {"history": history.to_dict(), "spec": _spec(trainer.state), "config": config},
                )
            if bar is not None:
                post = {k: f"{v:.4g}" for k, v in logs.items() if k != "skipped"}
                if total_skipped:
                    post["skipped"] = total_skipped
                bar.update(1)
                bar.set_postfix(post)
            if trainer.stop_training:
                break
        for cb in callbacks:
            cb.on_train_end()
        state = trainer.state
    finally:
        if bar is not None:
            bar.close()
        if ckpt is not None:
            ckpt.close()
    nnx.update((model, optimizer), state)
    return history


def _spec(state):
    return {"model": state_spec(state[0]), "optimizer": state_spec(state[1])}


def _check_resume(meta, state, config, epochs, resume, directory):
    spec = _spec(state)
    diffs = compare(meta["spec"].get("model", {}), spec["model"], "model")
    diffs += compare(meta["spec"].get("optimizer", {}), spec["optimizer"], "optimizer state")
    if diffs:
        raise CheckpointMismatchError(
            f"jaxloss.fit: the checkpoint in {directory!r} (epoch {meta['epoch']}) was written for "
            "a different model or optimizer: " + "; ".join(diffs) + ". Use another checkpoint_dir, "
            "or resume='restart' to discard it."
        )
    cdiffs = compare(meta["config"], config, "config")
    if cdiffs and resume != "allow_config_change":
        raise CheckpointMismatchError(
            f"jaxloss.fit: the checkpoint in {directory!r} (epoch {meta['epoch']}) was written "
            "with a different training configuration: " + "; ".join(cdiffs) + ". Pass "
            "resume='allow_config_change' to continue it anyway, or resume='restart' to discard it."
        )
    if meta["epoch"] + 1 > epochs:
        raise CheckpointMismatchError(
            f"jaxloss.fit: the checkpoint in {directory!r} has {meta['epoch'] + 1} epochs, more "
            f"than epochs={epochs}; pass epochs >= {meta['epoch'] + 1} or resume='restart'"
        )


def _validate(graphdef, state, val, obj, metric_fns, batch_size):
    if isinstance(val, tuple):
        x, y, w = val
        data = (x, y) if w is None else (x, y, w)
        return evaluate_state(graphdef, state, data, obj, metric_fns, batch_size=batch_size)
    from ._step import _eval_fn

    fn = _eval_fn(graphdef, obj, metric_fns)
    totals = None
    for batch in val:
        raw = fn(state, batch)
        totals = (
            raw
            if totals is None
            else {k: (totals[k][0] + v[0], totals[k][1] + v[1]) for k, v in raw.items()}
        )
    if totals is None:
        raise ValueError("jaxloss.fit: validation_data yielded no batches")
    return {k: t / c for k, (t, c) in totals.items()}


def _shapes(tree):
    return tuple((a.shape, a.dtype.str) for a in jax.tree_util.tree_leaves(tree))


def _on_cpu() -> bool:
    return jax.default_backend() == "cpu"


def _auto_mode(graphdef, state, obj, metric_fns, x, y, w, batch_size) -> str:
    """``"scan"`` when one step is cheap (dispatch-bound), else ``"step"``."""
    n = int(jax.tree_util.tree_leaves(x)[0].shape[0])
    size = min(batch_size, n)
    sl = lambda a: jax.ShapeDtypeStruct((size,) + a.shape[1:], a.dtype)  # noqa: E731
    batch = (jax.tree_util.tree_map(sl, x), sl(y)) + (() if w is None else (sl(w),))
    try:
        lowered = jax.jit(lambda s, b: core_step(graphdef, s, b, obj, metric_fns)).lower(
            state, batch
        )
        cost = lowered.cost_analysis()
        if isinstance(cost, (list, tuple)):
            cost = cost[0] if cost else {}
        flops = float((cost or {}).get("flops", np.inf))
    except Exception:  # noqa: BLE001 — no estimate: per-step execution is always fine
        return "step"
    return "scan" if flops < SCAN_FLOPS_THRESHOLD else "step"


_CACHE: dict = {}


def _cached(key, build):
    """Compiled programs shared by ``fit`` calls on the same structure / loss / metrics."""
    fn = _CACHE.get(key)
    if fn is None:
        if len(_CACHE) > 64:
            _CACHE.clear()
        fn = _CACHE[key] = build()
    return fn


def _leaf_step(kind, graphdef, treedef, obj, metric_fns):
    """A jitted guarded step on the flat list of state leaves (cheap to dispatch).

    ``kind == "slice"``: ``step(leaves, acc, xs, ys, ws, start, size)`` takes the batch
    ``[start, start + size)`` of device-resident arrays; ``"batch"``: ``step(leaves, acc, batch)``.
    """
    donate = () if _on_cpu() else (0, 1)

    def build():
        def apply(leaves, acc, batch):
            state = jax.tree_util.tree_unflatten(treedef, leaves)
            state, raw = core_step(graphdef, state, batch, obj, metric_fns)
            return jax.tree_util.tree_leaves(state), accumulate(acc, raw)

        if kind == "batch":
            return jax.jit(apply, donate_argnums=donate)

        def sliced(leaves, acc, xs, ys, ws, start, size):
            sl = lambda a: jax.lax.dynamic_slice_in_dim(a, start, size, axis=0)  # noqa: E731
            xb = jax.tree_util.tree_map(sl, xs)
            return apply(leaves, acc, (xb, sl(ys)) if ws is None else (xb, sl(ys), sl(ws)))

        return jax.jit(sliced, static_argnums=(6,), donate_argnums=donate)

    return _cached((kind, graphdef, treedef, obj.key(), metric_fns, donate), build)


def _array_epoch_runner(mode, graphdef, obj, metric_fns, names, x, y, w, n, batch_size, shuffle):
    """``run(state, key) -> (state, acc)`` for in-memory arrays."""
    if mode == "scan":
        epoch = _cached(
            ("scan", graphdef, obj.key(), metric_fns, n, batch_size, shuffle),
            lambda: jax.jit(
                scan_epoch(
                    graphdef,
                    obj,
                    metric_fns,
                    num_examples=n,
                    batch_size=batch_size,
                    shuffle=shuffle,
                )
            ),
        )

        def run_scan(state, key):
            return epoch(state, x, y, w, key)

        return run_scan

    n_full, rem = divmod(n, batch_size)

    def run_steps(state, key):
        leaves, treedef = _own_leaves(state)
        step = _leaf_step("slice", graphdef, treedef, obj, metric_fns)
        xs, ys, ws = _permute(key, x, y, w) if shuffle else (x, y, w)
        acc = empty_acc(names)
        for i in range(n_full):
            leaves, acc = step(leaves, acc, xs, ys, ws, i * batch_size, batch_size)
        if rem:
            leaves, acc = step(leaves, acc, xs, ys, ws, n_full * batch_size, rem)
        return jax.tree_util.tree_unflatten(treedef, leaves), acc

    return run_steps


def _own_leaves(state):
    """Flat leaves the steps may donate: copies where donation is on (the caller's model keeps
    valid arrays even if training stops with an exception)."""
    leaves, treedef = jax.tree_util.tree_flatten(state)
    if not _on_cpu():
        leaves = [jnp.copy(a) for a in leaves]
    return leaves, treedef


@jax.jit
def _permute(key, x, y, w):
    idx = jax.random.permutation(key, y.shape[0])
    take = lambda a: jnp.take(a, idx, axis=0)  # noqa: E731
    return jax.tree_util.tree_map(take, x), take(y), None if w is None else take(w)


def _iter_epoch_runner(graphdef, obj, metric_fns, names, source: _Batches):
    def run(state, key):
        del key
        leaves, treedef = _own_leaves(state)
        step = _leaf_step("batch", graphdef, treedef, obj, metric_fns)
        acc = empty_acc(names)
        n_batches = 0
        for batch in source.epoch():
            unpack(batch)  # a clear error for a malformed batch
            batch = jax.tree_util.tree_map(jnp.asarray, batch)
            leaves, acc = step(leaves, acc, batch)
            n_batches += 1
        if n_batches == 0:  # counted here: no device read before fit reads the epoch's acc
            raise ValueError("jaxloss.fit: train_data yielded no batches for this epoch")
        return jax.tree_util.tree_unflatten(treedef, leaves), acc

    return run
