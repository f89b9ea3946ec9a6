"""Regularisers, label utilities and metrics for training loops.

These are exported from :mod:`jaxloss` but are not losses of the registry (``jaxloss.get`` does
not resolve them).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from . import _numerics as nx
from . import _validation as val
from ._reduction import apply_reduction

__all__ = ["l2_penalty", "l1_penalty", "one_hot", "smooth_labels", "accuracy", "binary_accuracy"]


# ----------------------------------------------------------------------------------------------
# regularisers
# ----------------------------------------------------------------------------------------------


def _float_leaves(params) -> tuple[list[jax.Array], jnp.dtype]:
    """The floating-point leaves of ``params`` and the dtype their sums accumulate in."""
    leaves = [
        jnp.asarray(x)
        for x in jax.tree_util.tree_leaves(params)
        if jnp.issubdtype(jnp.result_type(x), jnp.floating)
    ]
    dtype = jnp.dtype(jnp.float32)
    for leaf in leaves:
        if nx.compute_dtype(leaf) == jnp.dtype(jnp.float64):
            dtype = jnp.dtype(jnp.float64)
    return leaves, dtype


def l2_penalty(params, *, squared: bool = True) -> jax.Array:
    r"""L2 penalty of a pytree of parameters: the sum of squares, or the global L2 norm.

    .. math::
       \mathrm{squared}:\ \sum_{\text{leaves}} \sum_i w_i^2 \qquad
       \text{else}:\ \sqrt{\sum_{\text{leaves}} \sum_i w_i^2}

    There is **no** ½ factor (as in PyTorch's ``weight_decay`` convention of ``λ‖w‖²`` written
    out by hand and Keras' ``L2`` regulariser, ``l2 * sum(square(w))``); multiply by your own
    coefficient, e.g. ``loss + 1e-4 * l2_penalty(params)``.

    Args:
      params: any pytree (dict, list, Flax ``nnx.State``, …) whose leaves are arrays. Only
        floating-point leaves are counted; integer and boolean leaves (step counters, RNG
        state) are skipped.
      squared: ``True`` for the sum of squares, ``False`` for its square root (the global norm,
        as in ``optax.global_norm``).

    Returns:
      A scalar, float64 if any counted leaf is float64, else float32 (half-precision leaves are
      accumulated in float32). ``0.0`` for a pytree without floating leaves.

    Examples:
      >>> import jax.numpy as jnp
      >>> import jaxloss
      >>> params = {"w": jnp.array([[1.0, 2.0]]), "b": jnp.array([2.0]), "step": jnp.array(3)}
      >>> print(f"{float(jaxloss.l2_penalty(params)):.4f}")
      9.0000
      >>> print(f"{float(jaxloss.l2_penalty(params, squared=False)):.4f}")
      3.0000

    Numerics: the norm (``squared=False``) has a zero, finite gradient when every parameter is 0.
    """
    squared = val.check_bool_flag("l2_penalty", "squared", squared)
    leaves, dtype = _float_leaves(params)
    total = jnp.zeros((), dtype)
    for leaf in leaves:
        x = nx.as_compute(leaf).astype(dtype)
        total = total + jnp.sum(x * x)
    if squared:
        return total
    positive = total > 0
    # double where: sqrt never sees 0, whose derivative is inf
    return jnp.where(
        positive, jnp.sqrt(jnp.where(positive, total, jnp.ones_like(total))), jnp.zeros_like(total)
    )


def l1_penalty(params) -> jax.Array:
    r"""L1 penalty of a pytree of parameters: the sum of absolute values.

    .. math::  \sum_{\text{leaves}} \sum_i |w_i|

    Args:
      params: any pytree whose leaves are arrays; only floating-point leaves are counted.

    Returns:
      A scalar, float64 if any counted leaf is float64, else float32. ``0.0`` for a pytree
      without floating leaves.

    Examples:
      >>> import jax.numpy as jnp
      >>> import jaxloss
      >>> print(f"{float(jaxloss.l1_penalty([jnp.array([1.0, -2.0]), jnp.array(-0.5)])):.4f}")
      3.5000

    Numerics: the subgradient at ``w = 0`` is 0 (as PyTorch's ``abs``; ``jnp.abs`` gives 1).
    """
    leaves, dtype = _float_leaves(params)
    total = jnp.zeros((), dtype)
    for leaf in leaves:
        x = nx.as_compute(leaf).astype(dtype)
        # |w| = sign(w)·w: the subgradient at w = 0 is sign(0) = 0 (PyTorch's); jnp.abs's is 1
        total = total + jnp.sum(jnp.sign(x) * x)
    return total


# ----------------------------------------------------------------------------------------------
# label utilities
# ----------------------------------------------------------------------------------------------


def one_hot(labels: ArrayLike, num_classes: int, *, axis: int = -1, dtype=jnp.float32) -> jax.Array:
    r"""One-hot encoding of integer labels (Flux's ``onehotbatch``).

    .. math::  \mathrm{out}[\dots, c, \dots] = [\mathrm{labels}[\dots] = c],\quad c \in [0, C)

    Args:
      labels: integer class ids, any shape, in ``[0, num_classes)``.
      num_classes: the number of classes ``C`` (a Python int).
      axis: where the new class axis goes in the output (``-1``: last). Flux's ``onehotbatch``
        puts classes first (Julia is column-major); use ``axis=0`` for that layout.
      dtype: output dtype (default float32).

    Returns:
      An array of ``labels.shape`` with a class axis of size ``num_classes`` inserted at
      ``axis``.

    Examples:
      >>> import jax.numpy as jnp
      >>> import jaxloss
      >>> print(jaxloss.one_hot(jnp.array([0, 2, 5]), 3))
      [[1. 0. 0.]
       [0. 0. 1.]
       [0. 0. 0.]]

    Unchecked behaviour: labels outside ``[0, num_classes)`` (including negative ones, e.g. an
    ``ignore_index`` of ``-100``) give an all-zero row, as ``jax.nn.one_hot`` does; Flux raises
    an error instead.
    """
    name = "one_hot"
    val.check_integer(name, "labels", labels)
    if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 1:
        raise ValueError(
            f"{name}: 'num_classes' must be a positive Python int, got {num_classes!r}"
        )
    ax = val.check_axis(name, axis, jnp.ndim(labels) + 1)
    return jax.nn.one_hot(jnp.asarray(labels), num_classes, dtype=dtype, axis=ax)


def smooth_labels(
    targets: ArrayLike,
    label_smoothing: ArrayLike,
    *,
    axis: int = -1,
    where: ArrayLike | None = None,
) -> jax.Array:
    r"""Label smoothing of one-hot or soft targets (Flux's ``label_smoothing``).

    .. math::
       \mathrm{out} = (1 - \mathrm{label\_smoothing})\cdot \mathrm{targets}
                      + \frac{\mathrm{label\_smoothing}}{C},\qquad C = \mathrm{targets.shape[axis]}

    With ``where``, :math:`C = \sum_{\mathrm{axis}} \mathrm{where}` counts the included classes
    of each row (optax's ``smooth_labels(where=)``): the smoothing mass goes to those classes.
    The formula is applied to every entry, included or not; entries outside ``where`` are not part
    of the row's distribution (zero them with ``jnp.where`` if needed). A row with no included
    class has :math:`C = 0` and gives ``inf`` (``label_smoothing / 0``), as optax.

    Args:
      targets: one-hot or soft targets ``[..., C, ...]``, class axis ``axis`` (float or integer).
      label_smoothing: in ``[0, 1]`` (traceable).
      axis: the class axis.
      where: optional boolean mask broadcastable to ``targets``; ``True`` marks the classes that
        count in :math:`C`.

    Returns:
      An array of ``targets.shape`` in the computation dtype (float32 for integer and
      half-precision targets, else the targets' dtype). Each row still sums to 1 when the input
      row does (over the included classes, with ``where``, when the row's mass is there).

    Examples:
      >>> import jax.numpy as jnp
      >>> import jaxloss
      >>> print(jaxloss.smooth_labels(jnp.array([[0.0, 1.0, 0.0, 0.0]]), 0.2))
      [[0.05 0.85 0.05 0.05]]
      >>> keep = jnp.array([[True, True, False, False]])  # two classes exist in this row
      >>> print(jaxloss.smooth_labels(jnp.array([[0.0, 1.0, 0.0, 0.0]]), 0.2, where=keep)[:, :2])
      [[0.1 0.9]]

    References:
      C. Szegedy et al., "Rethinking the Inception Architecture for Computer Vision", CVPR 2016.
    """
    name = "smooth_labels"
    val.check_rank(name, "targets", targets, 1)
    ax = val.check_axis(name, axis, jnp.ndim(targets))
    val.check_label_smoothing(name, label_smoothing)
    dtype = nx.compute_dtype(targets)
    t = nx.as_compute(targets, dtype)
    ls = nx.as_hyper(label_smoothing, dtype)
    if where is None:
        num_classes = jnp.shape(targets)[ax]
    else:
        val.check_where(name, where, jnp.shape(targets))
        mask = jnp.broadcast_to(jnp.asarray(where), jnp.shape(targets))
        num_classes = jnp.sum(mask, axis=ax, keepdims=True, dtype=dtype)
    return (jnp.ones_like(ls) - ls) * t + ls / num_classes


# ----------------------------------------------------------------------------------------------
# metrics
# ----------------------------------------------------------------------------------------------


def accuracy(
    logits_or_probs: ArrayLike,
    labels: ArrayLike,
    *,
    axis: int = -1,
    weights: ArrayLike | None = None,
    where: ArrayLike | None = None,
    reduction: str = "mean",
) -> jax.Array:
    r"""Classification accuracy: the fraction of examples whose arg-max class is the label.

    .. math::  a = [\operatorname{argmax}_{\mathrm{axis}}\ \mathrm{logits\_or\_probs} = y]

    **Target rule**: if ``labels`` has one dimension fewer than ``logits_or_probs`` it holds
    integer class ids ``y``; if it has the same shape, it is one-hot (or soft) targets and
    ``y = argmax(labels, axis)`` (Keras' ``categorical_accuracy``). Ties resolve to the first
    maximal class, for predictions and targets alike.

    Args:
      logits_or_probs: float scores ``[..., C, ...]``, class axis ``axis`` (logits or
        probabilities give the same arg-max).
      labels: integer class ids of the shape without ``axis``, or targets of the full shape.
      axis: the class axis.
      weights: per-example weights broadcastable to the shape without ``axis``.
      where: boolean mask of that shape; ``False`` ignores the example (e.g. padding or an
        ``ignore_index``).
      reduction: ``"mean"`` (weighted fraction correct), ``"sum"`` (weighted count) or
        ``"none"`` (1.0 / 0.0 per example, 0 at masked positions).

    Returns:
      A scalar, or for ``"none"`` an array without ``axis``; float32 (float64 for float64
      inputs). Not differentiable: its gradient is 0.

    Examples:
      >>> import jax.numpy as jnp
      >>> import jaxloss
      >>> logits = jnp.array([[2.0, 1.0, 0.0], [0.0, 1.0, 3.0], [1.0, 0.0, 0.0]])
      >>> print(f"{float(jaxloss.accuracy(logits, jnp.array([0, 2, 1]))):.4f}")
      0.6667
      >>> print(f"{float(jaxloss.accuracy(logits, jaxloss.one_hot(jnp.array([0, 2, 1]), 3))):.4f}")
      0.6667

    Unchecked behaviour: an out-of-range class id never matches (counts as wrong).
    """
    name = "accuracy"
    val.check_rank(name, "logits_or_probs", logits_or_probs, 1)
    ndim = jnp.ndim(logits_or_probs)
    ax = val.check_axis(name, axis, ndim)
    shape = jnp.shape(logits_or_probs)
    reduced = tuple(s for i, s in enumerate(shape) if i != ax)
    dtype = nx.compute_dtype(logits_or_probs)
    pred = jnp.argmax(jnp.asarray(logits_or_probs), axis=ax)
    if jnp.shape(labels) == shape:
        target = jnp.argmax(jnp.asarray(labels), axis=ax)
    elif jnp.shape(labels) == reduced:
        val.check_integer(name, "labels", labels)
        target = jnp.asarray(labels)
    else:
        raise ValueError(
            f"{name}: 'labels' must be class ids of shape {reduced} or targets of shape {shape}, "
            f"got {jnp.shape(labels)}"
        )
    values = (pred == target.astype(pred.dtype)).astype(dtype)
    return apply_reduction(name, values, weights, where, reduction)


def binary_accuracy(
    scores: ArrayLike,
    targets: ArrayLike,
    *,
    threshold: ArrayLike = 0.5,
    weights: ArrayLike | None = None,
    where: ArrayLike | None = None,
    reduction: str = "mean",
) -> jax.Array:
    r"""Binary accuracy (Keras' ``binary_accuracy``): prediction ``scores > threshold`` vs target.

    .. math::  a = \bigl[\,[\mathrm{scores} > \mathrm{threshold}] = \mathrm{targets}\,\bigr]

    Args:
      scores: probabilities (``threshold=0.5``) or logits (use ``threshold=0.0``), any shape.
      targets: ``{0, 1}`` targets (float, integer or bool), same shape.
      threshold: decision threshold (traceable); ``scores`` equal to it predict 0.
      weights: per-element weights broadcastable to ``scores.shape``.
      where: boolean mask of ``scores.shape``; ``False`` ignores the element.
      reduction: ``"mean"``, ``"sum"`` or ``"none"`` (element-wise 1.0 / 0.0).

    Returns:
      A scalar, or for ``"none"`` an array of ``scores.shape``; float32 (float64 for float64
      inputs). Its gradient is 0.

    Examples:
      >>> import jax.numpy as jnp
      >>> import jaxloss
      >>> p = jnp.array([0.9, 0.4, 0.6, 0.5])
      >>> y = jnp.array([1.0, 0.0, 0.0, 1.0])
      >>> print(f"{float(jaxloss.binary_accuracy(p, y)):.4f}")
      0.5000

    Unchecked behaviour: as in Keras, the comparison is an exact equality with the target, so a
    soft target such as 0.7 never counts as correct.
    """
    name = "binary_accuracy"
    val.check_same_shape(name, "scores", scores, "targets", targets)
    dtype = nx.compute_dtype(scores)
    s = nx.as_compute(scores, dtype)
    t = nx.as_compute(targets, dtype)
    th = nx.as_hyper(threshold, dtype)
    pred = (s > th).astype(dtype)
    values = (pred == t).astype(dtype)
    return apply_reduction(name, values, weights, where, reduction)
