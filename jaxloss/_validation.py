"""Trace-time validation shared by every loss (API.md §5, first bullet).

Every message names the loss, the argument and the problem, e.g.
``huber_loss: 'delta' must be non-negative, got -1.0``. Checks on *values* run only when the
value is concrete (a Python number or a NumPy / committed array); traced hyperparameters are
checked at run time by :func:`jaxloss.checked` instead.
"""

from __future__ import annotations

from typing import Sequence

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

REDUCTIONS = ("mean", "sum", "none")


def check_reduction(name: str, reduction: str, allowed: Sequence[str] = REDUCTIONS) -> None:
    if not isinstance(reduction, str) or reduction not in allowed:
        raise ValueError(
            f"{name}: 'reduction' must be one of {', '.join(repr(r) for r in allowed)}, "
            f"got {reduction!r}"
        )


def check_axis(name: str, axis: int, ndim: int, arg: str = "axis") -> int:
    """Returns ``axis`` as a non-negative int, or raises a ``ValueError`` naming the loss."""
    if isinstance(axis, bool) or not isinstance(axis, (int, np.integer)):
        raise TypeError(f"{name}: '{arg}' must be an int, got {type(axis).__name__}")
    if not -ndim <= axis < ndim:
        raise ValueError(f"{name}: '{arg}'={axis} is out of range for an input of rank {ndim}")
    return int(axis) % ndim


def check_same_shape(name: str, a_name: str, a: ArrayLike, b_name: str, b: ArrayLike) -> None:
    a_shape, b_shape = jnp.shape(a), jnp.shape(b)
    if a_shape != b_shape:
        raise ValueError(
            f"{name}: '{a_name}' and '{b_name}' must have the same shape, got {a_shape} and {b_shape}"
        )


def check_broadcastable(name: str, arg: str, value: ArrayLike, shape: tuple[int, ...]) -> None:
    """``value`` must broadcast to exactly ``shape`` (it may not enlarge it)."""
    vshape = jnp.shape(value)
    try:
        out = np.broadcast_shapes(vshape, shape)
    except ValueError:
        out = None
    if out != tuple(shape):
        raise ValueError(
            f"{name}: '{arg}' of shape {vshape} does not broadcast to the loss shape {tuple(shape)}"
        )


def check_floating(name: str, arg: str, x: ArrayLike) -> None:
    dtype = jnp.result_type(x)
    if not jnp.issubdtype(dtype, jnp.floating):
        raise TypeError(f"{name}: '{arg}' must be a floating-point array, got dtype {dtype}")


def check_integer(name: str, arg: str, x: ArrayLike) -> None:
    dtype = jnp.result_type(x)
    if not jnp.issubdtype(dtype, jnp.integer):
        raise TypeError(
            f"{name}: '{arg}' must be integer class ids, got dtype {dtype}"
            + (
                " (for one-hot or soft targets use the non-sparse loss)"
                if jnp.issubdtype(dtype, jnp.floating)
                else ""
            )
        )


def check_rank(name: str, arg: str, x: ArrayLike, min_rank: int) -> None:
    if jnp.ndim(x) < min_rank:
        raise ValueError(f"{name}: '{arg}' must have rank >= {min_rank}, got shape {jnp.shape(x)}")


def concrete_or_none(value: ArrayLike):
    """The value as a NumPy array when known at trace time, else ``None``."""
    if value is None or isinstance(value, jax.core.Tracer):
        return None
    try:
        return np.asarray(value)
    except Exception:  # pragma: no cover - exotic array types
        return None


def check_nonnegative(name: str, arg: str, value: ArrayLike) -> None:
    v = concrete_or_none(value)
    if v is not None and np.any(v < 0):
        raise ValueError(
            f"{name}: '{arg}' must be non-negative, got {v.min().item() if v.size else v}"
        )


def check_positive(name: str, arg: str, value: ArrayLike) -> None:
    v = concrete_or_none(value)
    if v is not None and np.any(v <= 0):
        raise ValueError(f"{name}: '{arg}' must be positive, got {v.min().item() if v.size else v}")


def check_in_range(name: str, arg: str, value: ArrayLike, lo: float, hi: float) -> None:
    """``lo <= value <= hi`` for concrete values."""
    v = concrete_or_none(value)
    if v is not None and (np.any(v < lo) or np.any(v > hi)):
        bad = v[(v < lo) | (v > hi)].ravel()[0] if v.ndim else v
        raise ValueError(f"{name}: '{arg}' must be in [{lo}, {hi}], got {bad.item()}")


def check_label_smoothing(name: str, value: ArrayLike) -> None:
    check_in_range(name, "label_smoothing", value, 0.0, 1.0)


def check_class_weights(name: str, class_weights: ArrayLike | None, num_classes: int) -> None:
    if class_weights is None:
        return
    shape = jnp.shape(class_weights)
    if len(shape) != 1 or shape[0] != num_classes:
        raise ValueError(
            f"{name}: 'class_weights' must have shape ({num_classes},) (one weight per class), "
            f"got {shape}"
        )


def check_ignore_index(name: str, ignore_index) -> None:
    """``ignore_index`` is an int (not a bool, not a float) or None."""
    if ignore_index is not None and (
        isinstance(ignore_index, bool) or not isinstance(ignore_index, (int, np.integer))
    ):
        raise TypeError(f"{name}: 'ignore_index' must be an int or None, got {ignore_index!r}")


def check_where(name: str, where: ArrayLike | None, shape: tuple[int, ...]) -> None:
    """``where`` is None or a boolean mask broadcastable to the loss shape ``shape``."""
    if where is None:
        return
    check_broadcastable(name, "where", where, shape)
    if jnp.result_type(where) != jnp.bool_:
        raise TypeError(
            f"{name}: 'where' must be a boolean mask, got dtype {jnp.result_type(where)}"
        )


def check_scalar(name: str, arg: str, value: ArrayLike) -> None:
    """A hyperparameter that must be a scalar (sweep it with ``jax.vmap`` instead)."""
    if jnp.ndim(value) != 0:
        raise ValueError(f"{name}: '{arg}' must be a scalar, got shape {jnp.shape(value)}")
