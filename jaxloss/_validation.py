"""Trace-time validation shared by every loss (API.md §5, first bullet).

Every message names the loss, the argument and the problem, e.g.
``huber_loss: 'delta' must be non-negative, got -1.0``.

* Inputs go through :func:`as_real_array` / :func:`as_float_array` / :func:`as_integer_array`
  (lists are converted, strings and complex numbers are a ``TypeError`` naming the loss and the
  argument), flags through :func:`check_bool_flag`, ``weights`` through :func:`check_weights`
  (full rank or a scalar, API.md §1), class axes through :func:`check_nonempty_axis`.
* Hyperparameter ranges are declared once per loss with :func:`declare_ranges` (a decorator on the
  loss); :func:`check_ranges` then checks them. A *concrete* out-of-range value (a Python number,
  a NumPy or an eager array) raises ``ValueError`` at trace time. A *traced* value (a swept
  hyperparameter under ``jax.jit`` / ``jax.vmap``) cannot raise there: the same range becomes a
  ``checkify.debug_check`` that costs nothing in a plain program and is reported, naming the loss,
  the argument and the offending value, when the program runs under :func:`jaxloss.checked` /
  :func:`jaxloss.checkify`. :data:`RANGES` holds every declaration.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Callable, Sequence

import jax
import jax.numpy as jnp
import numpy as np
from jax.experimental import checkify as _checkify
from jax.typing import ArrayLike

REDUCTIONS = ("mean", "sum", "none")


# ---------------------------------------------------------------------------------------------
# Inputs and flags
# ---------------------------------------------------------------------------------------------


def _as_array(name: str, arg: str, x: ArrayLike) -> jax.Array:
    """``x`` as a JAX array; a list that does not convert (ragged, strings) is a named error."""
    if isinstance(x, (str, bytes)):
        raise TypeError(f"{name}: '{arg}' must be a numeric array, got the string {x!r}")
    if isinstance(x, (jax.Array, np.ndarray, np.generic, bool, int, float)):
        arr = x if isinstance(x, jax.Array) else jnp.asarray(x)
    else:
        try:
            arr = jnp.asarray(x)
        except (TypeError, ValueError) as e:
            raise type(e)(
                f"{name}: '{arg}' must be an array or a (nested, rectangular) list of numbers, "
                f"got a {type(x).__name__} that does not convert: {e}"
            ) from e
    if not (
        jnp.issubdtype(arr.dtype, jnp.number) or jnp.issubdtype(arr.dtype, jnp.bool_)
    ):  # pragma: no cover - jnp.asarray accepts numbers only
        raise TypeError(f"{name}: '{arg}' must be a numeric array, got dtype {arr.dtype}")
    return arr


def _reject_complex(name: str, arg: str, dtype) -> None:
    if jnp.issubdtype(dtype, jnp.complexfloating):
        raise TypeError(
            f"{name}: '{arg}' must be real, got complex dtype {dtype} (the imaginary part would "
            f"be dropped silently; pass jnp.real(x) or jnp.abs(x) explicitly)"
        )


def as_real_array(name: str, arg: str, x: ArrayLike) -> jax.Array:
    """A real input (float, integer or boolean) as a JAX array; complex is a ``TypeError``.

    Python lists and tuples are converted; one that does not convert (ragged, or holding strings)
    raises an error naming the loss and the argument. The dtype is kept (the loss casts to its
    computation dtype).
    """
    arr = _as_array(name, arg, x)
    _reject_complex(name, arg, arr.dtype)
    return arr


def as_float_array(name: str, arg: str, x: ArrayLike) -> jax.Array:
    """A floating-point input (logits, probabilities, embeddings) as a JAX array.

    Like :func:`as_real_array`, and integer or boolean dtypes are a ``TypeError`` too.
    """
    arr = as_real_array(name, arg, x)
    check_floating(name, arg, arr)
    return arr


def as_integer_array(name: str, arg: str, x: ArrayLike) -> jax.Array:
    """Integer class ids as a JAX array (lists converted); anything else is a ``TypeError``."""
    arr = _as_array(name, arg, x)
    check_integer(name, arg, arr)
    return arr


def check_bool_flag(name: str, arg: str, value) -> bool:
    """A static boolean option (``log_input``, ``full``, ``swap``, ...) as a Python bool.

    Only ``True`` / ``False`` (or NumPy booleans) are accepted: a string such as ``"no"`` is
    truthy and would silently select the other branch, so it is a ``TypeError``.
    """
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    raise TypeError(
        f"{name}: '{arg}' must be True or False (a static Python bool), got {value!r} "
        f"of type {type(value).__name__}"
    )


def check_nonempty_axis(name: str, arg: str, shape: Sequence[int], axis: int, what: str) -> None:
    """``shape[axis]`` (the class / vocabulary axis) must not be 0."""
    if shape[axis] == 0:
        raise ValueError(
            f"{name}: '{arg}' of shape {tuple(shape)} has no {what} (axis {axis} has size 0); "
            f"a loss over 0 {what} is undefined"
        )


def check_weights(name: str, weights: ArrayLike, shape: Sequence[int]) -> jax.Array:
    """``weights`` for an unreduced loss of ``shape``: real, broadcastable, and of full rank.

    API.md §1: ``weights`` has the rank of the unreduced loss or is a scalar. A lower-rank array
    is a ``ValueError``: NumPy's right-aligned broadcasting would weight the trailing axis, which
    for per-example weights on a ``[B, D]`` loss with ``B == D`` is silently the wrong one.
    """
    w = as_real_array(name, "weights", weights)
    shape = tuple(shape)
    if w.ndim not in (0, len(shape)):
        hint = ""
        if w.ndim == 1:
            options = [
                tuple(w.shape[0] if i == j else 1 for i in range(len(shape)))
                for j in range(len(shape))
                if shape[j] == w.shape[0]
            ]
            if options:
                hint = " (reshape it to " + " or ".join(str(o) for o in options) + ")"
        raise ValueError(
            f"{name}: 'weights' of shape {w.shape} must have the rank of the unreduced loss "
            f"{shape} or be a scalar; a lower-rank array would broadcast along the trailing axes "
            f"(per-example weights on a [B, D] loss are [B, 1], per-feature weights [1, D])" + hint
        )
    check_broadcastable(name, "weights", w, shape)
    return w


# ---------------------------------------------------------------------------------------------
# Hyperparameter ranges: declared once per loss, checked at trace time or in checked mode
# ---------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Range:
    """The valid values of a hyperparameter: ``lo <= v <= hi`` (ends open where marked).

    NaN is never valid; infinities are valid where the interval includes them.
    """

    lo: float = -math.inf
    hi: float = math.inf
    lo_open: bool = False
    hi_open: bool = False

    def valid(self, v):
        """Element-wise validity of ``v`` (a NumPy or JAX array of a real dtype)."""
        ok = (v > self.lo) if self.lo_open else (v >= self.lo)
        return ok & ((v < self.hi) if self.hi_open else (v <= self.hi))

    def __str__(self) -> str:
        lo, hi = f"{self.lo:g}", f"{self.hi:g}"
        if self.hi == math.inf and not self.hi_open:
            if self.lo == -math.inf:
                return "a real number (not NaN)"
            if self.lo == 0:
                return "positive" if self.lo_open else "non-negative"
            return f"> {lo}" if self.lo_open else f">= {lo}"
        return f"in {'(' if self.lo_open else '['}{lo}, {hi}{')' if self.hi_open else ']'}"


REAL = Range()
NONNEGATIVE = Range(0.0)
POSITIVE = Range(0.0, lo_open=True)
UNIT_INTERVAL = Range(0.0, 1.0)

# loss name -> {hyperparameter: Range}: every declaration of :func:`declare_ranges`.
RANGES: dict[str, dict[str, Range]] = {}


def declare_ranges(**ranges: Range) -> Callable:
    """Decorator: declares the valid range of each hyperparameter of a loss, once.

    The loss then calls :func:`check_ranges` with its name and the values; the declaration is
    also what the docs and the tests read (``RANGES[loss name]``).
    """

    def register(fn: Callable) -> Callable:
        RANGES.setdefault(fn.__name__, {}).update(ranges)
        return fn

    return register


def report(name: str, arg: str, bad: jax.Array, x: jax.Array, what: str) -> None:
    """One ``checkify.debug_check``: fails iff any ``bad``; names an offending value (and index).

    Free in a plain program; reported under :func:`jaxloss.checked` / :func:`jaxloss.checkify`.
    """
    if bad.ndim == 0:
        _checkify.debug_check(~bad, f"{name}: '{arg}' {what}; got {{value:.7g}}", value=x)
        return
    flat = jnp.argmax(bad.reshape(-1))
    index = jnp.stack(jnp.unravel_index(flat, bad.shape))
    _checkify.debug_check(
        ~jnp.any(bad),
        f"{name}: '{arg}' {what}; got {{value:.7g}} at index {{index}}",
        value=x.reshape(-1)[flat],
        index=index,
    )


def check_range(name: str, arg: str, value: ArrayLike, valid: Range) -> None:
    """``value`` is a real number / array inside ``valid``.

    Strings and complex values are a ``TypeError``. A concrete value outside the range is a
    ``ValueError``; a traced one becomes a ``debug_check`` (reported in checked mode).
    """
    if isinstance(value, (str, bytes)):
        raise TypeError(f"{name}: '{arg}' must be a real number or array, got the string {value!r}")
    v = concrete_or_none(value)
    if v is not None:
        _reject_complex(name, arg, v.dtype)
        if v.dtype.kind not in "biuf":
            raise TypeError(
                f"{name}: '{arg}' must be a real number or array, got {value!r} (dtype {v.dtype})"
            )
        bad = ~valid.valid(v.astype(np.float64))
        if np.any(bad):
            first = v[bad].ravel()[0] if v.ndim else v
            raise ValueError(f"{name}: '{arg}' must be {valid}, got {first.item()}")
        return
    x = jnp.asarray(value)
    _reject_complex(name, arg, x.dtype)
    xf = x if jnp.issubdtype(x.dtype, jnp.floating) else x.astype(jnp.float32)
    report(name, arg, ~valid.valid(xf), x, f"must be {valid}")


def check_ranges(name: str, **values: ArrayLike) -> None:
    """Checks each ``values[arg]`` (``None`` skipped) against ``RANGES[name][arg]``."""
    table = RANGES[name]
    for arg, value in values.items():
        if value is not None:
            check_range(name, arg, value, table[arg])


# ---------------------------------------------------------------------------------------------
# Shapes, dtypes and options
# ---------------------------------------------------------------------------------------------


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
    a_shape, b_shape = np.shape(a), np.shape(b)
    if a_shape != b_shape:
        raise ValueError(
            f"{name}: '{a_name}' and '{b_name}' must have the same shape, "
            f"got {a_shape} and {b_shape}"
        )


def check_broadcastable(name: str, arg: str, value: ArrayLike, shape: tuple[int, ...]) -> None:
    """``value`` must broadcast to exactly ``shape`` (it may not enlarge it)."""
    vshape = np.shape(value)
    try:
        out = np.broadcast_shapes(vshape, shape)
    except ValueError:
        out = None
    if out != tuple(shape):
        raise ValueError(
            f"{name}: '{arg}' of shape {vshape} does not broadcast to the loss shape {tuple(shape)}"
        )


def check_floating(name: str, arg: str, x: ArrayLike) -> None:
    dtype = _as_array(name, arg, x).dtype  # lists convert, as elsewhere
    if not jnp.issubdtype(dtype, jnp.floating):
        raise TypeError(f"{name}: '{arg}' must be a floating-point array, got dtype {dtype}")


def check_integer(name: str, arg: str, x: ArrayLike) -> None:
    dtype = _as_array(name, arg, x).dtype  # lists convert, as elsewhere
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
    if np.ndim(x) < min_rank:
        raise ValueError(f"{name}: '{arg}' must have rank >= {min_rank}, got shape {np.shape(x)}")


def concrete_or_none(value: ArrayLike):
    """The value as a NumPy array when known at trace time, else ``None``."""
    if value is None or isinstance(value, jax.core.Tracer):
        return None
    try:
        return np.asarray(value)
    except Exception:  # pragma: no cover - exotic array types
        return None


def check_nonnegative(name: str, arg: str, value: ArrayLike) -> None:
    """``value >= 0`` (see :func:`check_range`: concrete raises, traced is a checked-mode check)."""
    check_range(name, arg, value, NONNEGATIVE)


def check_positive(name: str, arg: str, value: ArrayLike) -> None:
    """``value > 0`` (see :func:`check_range`)."""
    check_range(name, arg, value, POSITIVE)


def check_in_range(name: str, arg: str, value: ArrayLike, lo: float, hi: float) -> None:
    """``lo <= value <= hi`` (see :func:`check_range`)."""
    check_range(name, arg, value, Range(lo, hi))


def check_label_smoothing(name: str, value: ArrayLike) -> None:
    check_range(name, "label_smoothing", value, UNIT_INTERVAL)


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
