"""Training metrics and their registry (separate from the loss registry).

A metric is ``metric(outputs, targets) -> scalar`` (the batch mean), averaged over an epoch with
the batch sizes as weights (Keras' running average). A metric may instead return a pair
``(total, count)``, marked by ``metric.returns_total = True``: the epoch value is then
``Σ total / Σ count`` (e.g. token accuracy, whose count is the number of non-padding tokens).

With a fused language-model head (:class:`FusedOutputs`) the logits never exist; a metric that
sets ``metric.fused = True`` accepts a :class:`FusedOutputs` in place of the logits and computes
its value chunk by chunk (:func:`token_accuracy` and :func:`top_k_accuracy` do).
"""

from __future__ import annotations

import difflib
from typing import Any, Callable, Iterable, Mapping, NamedTuple

import jax
import jax.numpy as jnp

__all__ = [
    "FusedOutputs",
    "register_metric",
    "get_metric",
    "list_metrics",
    "resolve_metrics",
    "keras_accuracy",
    "binary_accuracy_keras",
    "sign_accuracy",
    "categorical_accuracy",
    "sparse_categorical_accuracy",
    "token_accuracy",
    "top_k_accuracy",
    "mse_metric",
    "mae_metric",
]


class FusedOutputs(NamedTuple):
    """What a fused head produces instead of logits: ``logits = hidden @ weight (+ bias)``."""

    hidden: Any
    weight: Any
    bias: Any = None


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


# ---- top-k / token accuracy (also on a fused head, chunk by chunk) ---------------------------

_FUSED_CHUNK = 1024


def _hits(logits, labels, k):
    """``labels`` among the ``k`` largest logits (ties broken towards the label: rank < k)."""
    logits = logits.astype(jnp.float32)
    zy = jnp.take_along_axis(logits, jnp.clip(labels, 0, logits.shape[-1] - 1)[..., None], -1)
    rank = jnp.sum((logits > zy).astype(jnp.int32), axis=-1)
    return rank < k


def _fused_hits(fo: FusedOutputs, labels, k):
    h = jnp.asarray(fo.hidden)
    lead = h.shape[:-1]
    h = h.reshape(-1, h.shape[-1])
    y = jnp.asarray(labels).reshape(-1)
    n = h.shape[0]
    chunk = min(_FUSED_CHUNK, max(n, 1))
    pad = (-n) % chunk
    h = jnp.pad(h, ((0, pad), (0, 0)))
    y = jnp.pad(y, (0, pad))
    w = jnp.asarray(fo.weight)

    def one(args):
        hc, yc = args
        z = hc @ w.astype(hc.dtype)
        if fo.bias is not None:
            z = z + jnp.asarray(fo.bias).astype(z.dtype)[None, :]
        return _hits(z, yc, k)

    hits = jax.lax.map(one, (h.reshape(-1, chunk, h.shape[-1]), y.reshape(-1, chunk)))
    return hits.reshape(-1)[:n].reshape(lead)


def _valid(labels, ignore_index):
    labels = jnp.asarray(labels)
    if ignore_index is None:
        return jnp.ones(labels.shape, bool)
    return labels != ignore_index


def token_accuracy(outputs, labels, *, ignore_index: int | None = -100, k: int = 1):
    """``(correct, valid)`` token counts: ``labels`` among the top ``k`` logits, padding ignored.

    ``outputs`` are ``[..., V]`` logits or a :class:`FusedOutputs`; tokens whose label equals
    ``ignore_index`` count neither as correct nor in the denominator. As a metric, the epoch value
    is ``Σ correct / Σ valid`` over the batches.
    """
    if isinstance(outputs, FusedOutputs):
        hits = _fused_hits(outputs, labels, k)
    else:
        hits = _hits(jnp.asarray(outputs), jnp.asarray(labels).astype(jnp.int32), k)
    valid = _valid(labels, ignore_index)
    return (
        jnp.sum((hits & valid).astype(jnp.float32)),
        jnp.sum(valid.astype(jnp.float32)),
    )


token_accuracy.returns_total = True
token_accuracy.fused = True


def top_k_accuracy(k: int = 5, *, ignore_index: int | None = None) -> Callable:
    """A metric: the fraction of examples whose integer label is among the ``k`` largest outputs.

    Works on logits ``[..., V]`` and on a fused head; ``ignore_index`` drops padding labels.
    """
    if not isinstance(k, int) or isinstance(k, bool) or k < 1:
        raise ValueError(f"jaxloss.train.top_k_accuracy: 'k' must be an int >= 1, got {k!r}")

    def metric(outputs, labels):
        return token_accuracy(outputs, labels, ignore_index=ignore_index, k=k)

    metric.__name__ = f"top_{k}_accuracy"
    metric.returns_total = True
    metric.fused = True
    return metric


# ---- the registry ----------------------------------------------------------------------------

_METRICS: dict[str, Callable] = {}


def register_metric(name: str, fn: Callable, *, overwrite: bool = False) -> None:
    """Adds ``fn`` to the metric registry under ``name`` (case-insensitive)."""
    if not isinstance(name, str) or not name:
        raise TypeError(f"jaxloss.train.register_metric: 'name' must be a string, got {name!r}")
    if not callable(fn):
        raise TypeError(f"jaxloss.train.register_metric: {name!r} is not callable: {fn!r}")
    key = name.lower()
    if key in _METRICS and not overwrite:
        raise ValueError(
            f"jaxloss.train.register_metric: {name!r} is already registered (overwrite=True)"
        )
    _METRICS[key] = fn


def list_metrics() -> list[str]:
    """The registered metric names."""
    return sorted(_METRICS)


def get_metric(name: str) -> Callable:
    """The registered metric ``name``; an unknown name lists the closest *metric* names.

    A loss of the catalog can be used as a metric by its exact registry name, or ``"loss:<name>"``.
    """
    if not isinstance(name, str):
        raise TypeError(f"jaxloss.train: a metric name must be a string, got {name!r}")
    key = name.lower()
    if key in _METRICS:
        return _METRICS[key]
    from .. import _registry

    loss_name = name[5:] if key.startswith("loss:") else name
    try:
        return _registry.get(loss_name)
    except ValueError:
        pass
    close = difflib.get_close_matches(key, list(_METRICS), n=5, cutoff=0.5)
    hint = ", ".join(repr(c) for c in close) if close else "none"
    raise ValueError(
        f"jaxloss.train: unknown metric {name!r}; closest metric names: {hint} "
        f"(see jaxloss.train.list_metrics(); a loss is usable as a metric by its exact name)"
    )


for _name, _fn in {
    "accuracy": keras_accuracy,
    "acc": keras_accuracy,
    "binary_accuracy": binary_accuracy_keras,
    "sign_accuracy": sign_accuracy,
    "categorical_accuracy": categorical_accuracy,
    "sparse_categorical_accuracy": sparse_categorical_accuracy,
    "token_accuracy": token_accuracy,
    "top_5_accuracy": top_k_accuracy(5),
    "mse": mse_metric,
    "mean_squared_error": mse_metric,
    "mae": mae_metric,
    "mean_absolute_error": mae_metric,
}.items():
    register_metric(_name, _fn)


def resolve_metrics(metrics: Iterable) -> tuple[tuple[str, Callable], ...]:
    """``(name, fn)`` pairs from names, callables or ``(name, fn)`` pairs."""
    if isinstance(metrics, (str, Mapping)) or callable(metrics):
        metrics = [metrics]
    out = []
    for m in metrics:
        if isinstance(m, tuple) and len(m) == 2 and isinstance(m[0], str):
            if not callable(m[1]):
                raise TypeError(f"jaxloss.train: metric {m[0]!r} is not callable: {m[1]!r}")
            out.append((m[0], m[1]))
        elif isinstance(m, str):
            out.append((m, get_metric(m)))
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


def metric_total(fn: Callable, outputs, targets, size) -> tuple[jax.Array, jax.Array]:
    """``(total, count)`` of one metric on one batch of ``size`` examples."""
    if getattr(fn, "returns_total", False):
        total, count = fn(outputs, targets)
        return jnp.asarray(total, jnp.float32), jnp.asarray(count, jnp.float32)
    value = jnp.asarray(fn(outputs, targets), jnp.float32)
    return value * size, jnp.asarray(size, jnp.float32)
