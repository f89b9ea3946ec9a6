"""Metric-learning and ranking losses.

Cosine losses, embedding / ranking hinges, the siamese contrastive loss, the triplet margin loss
and NT-Xent. Losses over a feature axis (cosine, triplet, NT-Xent) drop that axis: their
``reduction="none"`` output has one value per example. The element-wise ranking losses
(``margin_ranking_loss``, ``hinge_embedding_loss``, ``contrastive_loss``) keep the input's shape.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

from . import _numerics as nx
from . import _validation as val
from ._reduction import apply_reduction

__all__ = [
    "cosine_distance",
    "cosine_similarity_loss",
    "cosine_embedding_loss",
    "triplet_margin_loss",
    "triplet_margin_with_distance_loss",
    "margin_ranking_loss",
    "hinge_embedding_loss",
    "contrastive_loss",
    "ntxent_loss",
    "circle_loss",
]


# ----------------------------------------------------------------------------------------------
# helpers
# ----------------------------------------------------------------------------------------------


def _unit(x: jax.Array, axis: int, epsilon: jax.Array) -> jax.Array:
    """x / max(‖x‖₂, epsilon) along ``axis``; a zero vector gives 0 (also with epsilon = 0).

    Overflow-free in value and gradient for any finite x (:func:`_numerics.safe_normalize`)."""
    return nx.safe_normalize(x, axis=axis, min_norm=epsilon)


def _cosine(a: jax.Array, b: jax.Array, axis: int, epsilon: jax.Array) -> jax.Array:
    """cos(a, b) = ⟨a, b⟩ / (max(‖a‖, ε) · max(‖b‖, ε)); normalising first avoids overflow."""
    return jnp.sum(_unit(a, axis, epsilon) * _unit(b, axis, epsilon), axis=axis)


def _pnorm(
    d: jax.Array, p: jax.Array, axis: int, p_value=None, offset: jax.Array | None = None
) -> jax.Array:
    """(Σ |d|^p)^(1/p) along ``axis`` for p > 0 (``p = inf``: max |d|), with finite (zero)
    derivatives at d = 0; overflow-free (|d|^p is taken of d / max|d|). With ``offset``:
    (Σ |d|^p + offset)^(1/p), optax's triplet distance, computed unscaled as optax does."""
    a = jnp.abs(d)
    # ‖d‖_p = s·(Σ (|d|/s)^p)^(1/p) with s = max |d| a constant for AD (the same function of d and
    # p for any fixed s): Σ |d|^p overflows already for |d| ≳ 1.8e19 at p = 2 and |d| ≳ 7e3 at
    # p = 10 in float32, Σ (|d|/s)^p is in [1, n]
    # p = inf: max |d|, whose gradient splits evenly between tied maxima (as PyTorch's); a
    # concrete p takes one branch only, a traced p both (the power branch then sees p = 1 where
    # p = inf: double where, r^inf has NaN derivatives)
    pc = None if p_value is None else val.concrete_or_none(p_value)  # the user's p
    if pc is not None and pc.shape == () and np.isposinf(pc):
        return jnp.max(a, axis=axis)
    if offset is None:
        s = nx.max_abs_scale(d, axis=axis)
    else:  # optax's (Σ |d|^p + offset)^(1/p): the offset does not scale with d
        s = jnp.ones_like(jnp.max(a, axis=axis, keepdims=True))
    r = a / s
    if pc is not None and pc.shape == () and np.isfinite(pc):
        is_inf = None
    else:
        is_inf = p == jnp.inf
    pf = p if is_inf is None else jnp.where(is_inf, jnp.ones_like(p), p)
    # double where: r^p never sees 0 (d/dp and, for p < 1, d/dr of 0^p are not finite); the
    # predicates test "= 0" (not "> 0") so that a NaN coordinate propagates instead of vanishing
    zero = r <= 0
    rp = jnp.where(zero, jnp.zeros_like(r), jnp.power(jnp.where(zero, jnp.ones_like(r), r), pf))
    q = jnp.sum(rp, axis=axis)  # ≥ 1 unless d = 0
    if offset is not None:  # unscaled (s = 1 below): Σ |d|^p + offset
        q = q + offset
    qzero = q <= 0
    inv_p = jnp.ones_like(pf) / pf
    norm = jnp.squeeze(s, axis=axis) * jnp.where(
        qzero, jnp.zeros_like(q), jnp.power(jnp.where(qzero, jnp.ones_like(q), q), inv_p)
    )
    return norm if is_inf is None else jnp.where(is_inf, jnp.max(a, axis=axis), norm)


def _clamp_min0(x: jax.Array) -> jax.Array:
    """max(x, 0) with PyTorch's ``clamp_min`` subgradient: 1 at x = 0 (``jnp.maximum`` gives ½)."""
    # ("x < 0" rather than "x ≥ 0": a NaN x propagates instead of becoming 0)
    return jnp.where(x < 0, jnp.zeros_like(x), x)


def _check_pair(name: str, a_name: str, a, b_name: str, b, axis: int):
    """(axis, a, b): both inputs real floating arrays of the same shape, the axis in range."""
    a = val.as_float_array(name, a_name, a)
    b = val.as_float_array(name, b_name, b)
    val.check_same_shape(name, a_name, a, b_name, b)
    val.check_rank(name, a_name, a, 1)
    return val.check_axis(name, axis, jnp.ndim(a)), a, b


def _reduced_shape(shape: tuple[int, ...], axis: int) -> tuple[int, ...]:
    return tuple(s for i, s in enumerate(shape) if i != axis)


# ----------------------------------------------------------------------------------------------
# cosine losses
# ----------------------------------------------------------------------------------------------


@val.declare_ranges(epsilon=val.NONNEGATIVE)
def cosine_distance(
    predictions: ArrayLike,
    targets: ArrayLike,
    *,
    axis: int = -1,
    epsilon: ArrayLike = 1e-8,
    weights: ArrayLike | None = None,
    where: ArrayLike | None = None,
    reduction: str = "mean",
) -> jax.Array:
    r"""Cosine distance, one minus the cosine similarity along a feature axis.

    .. math::
       \ell = 1 - \frac{\langle \mathrm{predictions}, \mathrm{targets}\rangle}
                      {\max(\lVert \mathrm{predictions}\rVert_2, \epsilon)\,
                       \max(\lVert \mathrm{targets}\rVert_2, \epsilon)}

    The norms are clamped separately at ``epsilon`` (as PyTorch's ``F.cosine_similarity`` and
    optax's ``cosine_distance`` do), so the value is in ``[0, 2]``.

    Args:
      predictions: float array ``[..., D, ...]``; the feature axis is ``axis``.
      targets: same shape as ``predictions`` (cast to its computation dtype).
      axis: the feature axis (dropped from the per-example loss).
      epsilon: lower bound of each norm (traceable).
      weights: per-example weights broadcastable to the loss shape (``predictions`` without
        ``axis``); they multiply each example's loss.
      where: boolean mask of that shape; ``False`` ignores the example.
      reduction: ``"mean"``, ``"sum"`` or ``"none"``.

    Returns:
      A scalar, or for ``"none"`` an array of ``predictions.shape`` without ``axis``; float32 for
      half-precision inputs, else the input's float dtype.

    Raises:
      ValueError: a concrete ``epsilon`` < 0 (or a hyperparameter that does not broadcast to the
        loss shape).
      TypeError: complex or non-numeric inputs or hyperparameters (Python lists are converted).

    Traced hyperparameters are range-checked by ``jaxloss.checked`` only. A traced ``epsilon`` < 0
    acts as ``epsilon = 0`` for non-zero vectors and gives the zero vector a norm of ``|ε|``
    (cos = 0).

    Examples:
      >>> import jax.numpy as jnp
      >>> import jaxloss
      >>> x = jnp.array([[1.0, 0.0], [1.0, 1.0]])
      >>> y = jnp.array([[0.0, 1.0], [2.0, 2.0]])
      >>> print(f"{float(jaxloss.cosine_distance(x, y)):.4f}")
      0.5000
      >>> print(jaxloss.cosine_distance(x, y, reduction="none").round(4))
      [1. 0.]

    References:
      optax ``cosine_distance``; PyTorch ``torch.nn.functional.cosine_similarity``.

    Numerics and edge cases: a zero vector has cosine 0 (distance 1) with a finite gradient,
    of size up to ``1 / epsilon`` (the gradient of ``x / epsilon``); the gradient of the clamped
    norm itself is 0 below ``epsilon``. ``epsilon = 0`` is allowed: a zero vector still gives 0.
    Each vector is normalised as ``(x/s) / ‖x/s‖`` with ``s = max |x|``, so value and gradient
    are exact for any finite magnitude (``Σ x²`` overflows from ``|x| ≈ 1.8e19`` in float32 and
    underflows below ``1e-19``).

    Unchecked input: a NaN or infinite entry gives NaN for its row (``inf / inf``); ``checked``
    reports it.
    """
    name = "cosine_distance"
    ax, predictions, targets = _check_pair(
        name, "predictions", predictions, "targets", targets, axis
    )
    val.check_ranges(name, epsilon=epsilon)
    _check_hyper_shapes(name, _reduced_shape(jnp.shape(predictions), ax), epsilon=epsilon)
    dtype = nx.compute_dtype(predictions)
    p, t = nx.as_compute(predictions, dtype), nx.as_compute(targets, dtype)
    eps = nx.as_hyper(epsilon, dtype)
    # 1 − cos ≥ 0: rounding can put cos a few ulp above 1 for identical vectors (found by fuzzing)
    values = jnp.maximum(jnp.ones((), dtype) - _cosine(p, t, ax, eps), jnp.zeros((), dtype))
    return apply_reduction(name, values, weights, where, reduction)


@val.declare_ranges(epsilon=val.NONNEGATIVE)
def cosine_similarity_loss(
    predictions: ArrayLike,
    targets: ArrayLike,
    *,
    axis: int = -1,
    epsilon: ArrayLike = 1e-8,
    weights: ArrayLike | None = None,
    where: ArrayLike | None = None,
    reduction: str = "mean",
) -> jax.Array:
    r"""Negative cosine similarity along a feature axis (Keras' ``cosine_similarity`` loss).

    .. math::
       \ell = -\frac{\langle \mathrm{predictions}, \mathrm{targets}\rangle}
                    {\max(\lVert \mathrm{predictions}\rVert_2, \epsilon)\,
                     \max(\lVert \mathrm{targets}\rVert_2, \epsilon)}

    The value is in ``[-1, 1]``; ``-1`` means the vectors point the same way. This equals
    ``cosine_distance - 1``, so both have the same gradient.

    Args:
      predictions: float array ``[..., D, ...]``; the feature axis is ``axis``.
      targets: same shape as ``predictions`` (cast to its computation dtype).
      axis: the feature axis (dropped from the per-example loss).
      epsilon: lower bound of each norm (traceable). tf.keras normalises with
        ``tf.nn.l2_normalize``, ``x / sqrt(max(Σx², 1e-12))``; the two agree unless a norm is
        below ``1e-6``.
      weights: per-example weights broadcastable to the loss shape; they multiply each loss.
      where: boolean mask of the loss shape; ``False`` ignores the example.
      reduction: ``"mean"``, ``"sum"`` or ``"none"``.

    Returns:
      A scalar, or for ``"none"`` an array of ``predictions.shape`` without ``axis``; float32 for
      half-precision inputs, else the input's float dtype.

    Raises:
      ValueError: a concrete ``epsilon`` < 0 (or a hyperparameter that does not broadcast to the
        loss shape).
      TypeError: complex or non-numeric inputs or hyperparameters (Python lists are converted).

    Traced hyperparameters are range-checked by ``jaxloss.checked`` only. A traced ``epsilon`` < 0
    acts as ``epsilon = 0`` for non-zero vectors and gives the zero vector a norm of ``|ε|``
    (cos = 0).

    Examples:
      >>> import jax.numpy as jnp
      >>> import jaxloss
      >>> y_true = jnp.array([[0.0, 1.0], [1.0, 1.0], [1.0, 1.0]])
      >>> y_pred = jnp.array([[1.0, 0.0], [1.0, 1.0], [-1.0, -1.0]])
      >>> print(jaxloss.cosine_similarity_loss(y_pred, y_true, reduction="none").round(4))
      [-0. -1.  1.]

    References:
      Keras ``keras.losses.cosine_similarity``.

    Numerics and edge cases: if either vector is zero the loss is 0 (as in Keras), with a finite
    gradient (see :func:`cosine_distance`).

    Unchecked input: a NaN or infinite entry gives NaN for its row; ``checked`` reports it.
    """
    name = "cosine_similarity_loss"
    ax, predictions, targets = _check_pair(
        name, "predictions", predictions, "targets", targets, axis
    )
    val.check_ranges(name, epsilon=epsilon)
    _check_hyper_shapes(name, _reduced_shape(jnp.shape(predictions), ax), epsilon=epsilon)
    dtype = nx.compute_dtype(predictions)
    p, t = nx.as_compute(predictions, dtype), nx.as_compute(targets, dtype)
    eps = nx.as_hyper(epsilon, dtype)
    values = -_cosine(p, t, ax, eps)
    return apply_reduction(name, values, weights, where, reduction)


# PyTorch's cosine_embedding_loss adds this to each squared norm (aten/src/ATen/native/Loss.cpp,
# ``constexpr float EPSILON = 1e-12``): the float32 value, which matters for zero vectors.
_TORCH_COSINE_EMBEDDING_EPS = 9.999999960041972e-13  # float(np.float32(1e-12))


@val.declare_ranges(margin=val.REAL)
def cosine_embedding_loss(
    x1: ArrayLike,
    x2: ArrayLike,
    targets: ArrayLike,
    *,
    margin: ArrayLike = 0.0,
    axis: int = -1,
    weights: ArrayLike | None = None,
    where: ArrayLike | None = None,
    reduction: str = "mean",
) -> jax.Array:
    r"""Cosine embedding loss (PyTorch ``CosineEmbeddingLoss``).

    .. math::
       \cos = \frac{\langle x_1, x_2\rangle}
                   {\sqrt{(\lVert x_1\rVert^2 + 10^{-12})(\lVert x_2\rVert^2 + 10^{-12})}},\qquad
       \ell = \begin{cases} 1 - \cos & \mathrm{targets} = 1 \\
                             \max(0, \cos - \mathrm{margin}) & \mathrm{targets} = -1 \end{cases}

    Args:
      x1: float array ``[..., D, ...]``; the feature axis is ``axis``.
      x2: same shape as ``x1``.
      targets: ``+1`` (similar pair) or ``-1`` (dissimilar pair), shape of ``x1`` without
        ``axis``; float or integer.
      margin: margin of the dissimilar pairs (traceable). PyTorch suggests ``[0, 0.5]``; any value
        in ``[-1, 1]`` is meaningful, so its sign is not checked.
      axis: the feature axis (dropped from the per-example loss).
      weights: per-pair weights broadcastable to the loss shape; they multiply each loss.
      where: boolean mask of the loss shape; ``False`` ignores the pair.
      reduction: ``"mean"``, ``"sum"`` or ``"none"``.

    Returns:
      A scalar, or for ``"none"`` an array of ``x1.shape`` without ``axis``; float32 for
      half-precision inputs, else the input's float dtype.

    Raises:
      ValueError: a concrete a NaN in ``margin`` (or a hyperparameter that does not broadcast to the
        loss shape).
      TypeError: complex or non-numeric inputs or hyperparameters (Python lists are converted).

    Traced hyperparameters are range-checked by ``jaxloss.checked`` only. A traced NaN ``margin``
    gives NaN for the targets of −1.

    Examples:
      >>> import jax.numpy as jnp
      >>> import jaxloss
      >>> x1 = jnp.array([[1.0, 0.0], [1.0, 1.0]])
      >>> x2 = jnp.array([[1.0, 1.0], [1.0, 1.0]])
      >>> y = jnp.array([1, -1])
      >>> print(jaxloss.cosine_embedding_loss(x1, x2, y, margin=0.5, reduction="none").round(4))
      [0.2929 0.5   ]

    References:
      PyTorch ``torch.nn.CosineEmbeddingLoss``.

    Numerics and edge cases: the ``1e-12`` added to each squared norm keeps zero vectors finite
    (cos = 0) with finite gradients, exactly as PyTorch; at ``cos = margin`` the subgradient is
    that of the active branch, as PyTorch's ``clamp_min``. Vectors with ``max |x| > 1`` are
    divided by ``max |x|`` first (the ``1e-12`` by its square), the same number without the
    overflow of ``‖x‖²`` (``|x| ≳ 1.8e19`` in float32 gave NaN). Unchecked behaviour: a target
    that is
    neither ``1`` nor ``-1`` contributes 0 (as in PyTorch); :func:`jaxloss.checked` reports it.
    A NaN or infinite entry of ``x1`` or ``x2`` gives NaN for its row.
    """
    name = "cosine_embedding_loss"
    ax, x1, x2 = _check_pair(name, "x1", x1, "x2", x2, axis)
    targets = val.as_real_array(name, "targets", targets)
    val.check_ranges(name, margin=margin)
    loss_shape = _reduced_shape(jnp.shape(x1), ax)
    _check_hyper_shapes(name, loss_shape, margin=margin)
    if jnp.shape(targets) != loss_shape:
        raise ValueError(
            f"{name}: 'targets' must have the shape of 'x1' without axis {axis}, {loss_shape}, "
            f"got {jnp.shape(targets)}"
        )
    dtype = nx.compute_dtype(x1)
    a, b = nx.as_compute(x1, dtype), nx.as_compute(x2, dtype)
    t = nx.as_compute(targets, dtype)
    m = nx.as_hyper(margin, dtype)
    eps = jnp.asarray(_TORCH_COSINE_EMBEDDING_EPS, dtype)
    # cos = ⟨a, b⟩ / sqrt((‖a‖² + ε)(‖b‖² + ε)) computed on a/sa and b/sb, sa = max(max|a|, 1)
    # (a constant for AD): the same number, but ‖a‖² no longer overflows (|a| ≳ 1.8e19 in float32
    # made cos(v, v) = inf/inf = NaN); for |a| ≤ 1 nothing is scaled (PyTorch's exact arithmetic)
    one = jnp.ones((), dtype)
    sa = jnp.maximum(nx.max_abs_scale(a, axis=ax), one)
    sb = jnp.maximum(nx.max_abs_scale(b, axis=ax), one)
    an, bn = a / sa, b / sb
    sa, sb = jnp.squeeze(sa, axis=ax), jnp.squeeze(sb, axis=ax)
    prod = jnp.sum(an * bn, axis=ax)
    # sqrt((‖a/sa‖² + ε/sa²)(‖b/sb‖² + ε/sb²)) > 0 always, so the division and sqrt are finite and
    # smooth
    qa = jnp.sum(an * an, axis=ax) + eps / (sa * sa)
    qb = jnp.sum(bn * bn, axis=ax) + eps / (sb * sb)
    cos = prod / jnp.sqrt(qa * qb)
    zeros = jnp.zeros_like(cos)
    pos = jnp.where(t == 1, jnp.ones_like(cos) - cos, zeros)
    neg = jnp.where(t == -1, _clamp_min0(cos - m), zeros)
    return apply_reduction(name, pos + neg, weights, where, reduction)


# ----------------------------------------------------------------------------------------------
# triplet and ranking losses
# ----------------------------------------------------------------------------------------------


@val.declare_ranges(margin=val.NONNEGATIVE, p=val.POSITIVE, epsilon=val.NONNEGATIVE)
def triplet_margin_loss(
    anchor: ArrayLike,
    positive: ArrayLike,
    negative: ArrayLike,
    *,
    margin: ArrayLike = 1.0,
    p: ArrayLike = 2,
    epsilon: ArrayLike = 1e-6,
    swap: bool = False,
    epsilon_inside_root: bool = False,
    axis: int = -1,
    weights: ArrayLike | None = None,
    where: ArrayLike | None = None,
    reduction: str = "mean",
) -> jax.Array:
    r"""Triplet margin loss (PyTorch ``TripletMarginLoss``).

    .. math::
       d(u, v) = \lVert u - v + \epsilon \rVert_p,\qquad
       \ell = \max\bigl(0,\ \mathrm{margin} + d(\mathrm{anchor}, \mathrm{positive})
                          - d(\mathrm{anchor}, \mathrm{negative})\bigr)

    ``d`` is PyTorch's ``pairwise_distance``: ``epsilon`` is *added to the difference* (not to
    the norm). With ``swap=True`` (Balntas et al. 2016) the negative distance is
    ``min(d(anchor, negative), d(positive, negative))``. With ``epsilon_inside_root=True``
    (optax's ``triplet_margin_loss``) the distance is
    :math:`d(u, v) = (\sum |u - v|^p + \epsilon)^{1/p}` instead.

    Args:
      anchor: float array ``[..., D, ...]``; the feature axis is ``axis``.
      positive: same shape as ``anchor``.
      negative: same shape as ``anchor``.
      margin: non-negative margin (traceable).
      p: order of the norm, a positive real or ``inf`` (max-norm, as PyTorch); traceable.
      epsilon: added to each difference before the norm (traceable).
      swap: use the distance swap.
      epsilon_inside_root: add ``epsilon`` to the sum of powers, inside the root (optax), instead
        of to each difference (PyTorch); static.
      axis: the feature axis (dropped from the per-triplet loss).
      weights: per-triplet weights broadcastable to the loss shape; they multiply each loss.
      where: boolean mask of the loss shape; ``False`` ignores the triplet.
      reduction: ``"mean"``, ``"sum"`` or ``"none"``.

    Returns:
      A scalar, or for ``"none"`` an array of ``anchor.shape`` without ``axis``; float32 for
      half-precision inputs, else the input's float dtype.

    Raises:
      ValueError: a concrete ``margin`` < 0, ``p`` ≤ 0 or ``epsilon`` < 0 (or a hyperparameter that
        does not broadcast to the loss shape).
      TypeError: complex or non-numeric inputs or hyperparameters (Python lists are converted), or
        ``swap`` not a bool.

    Traced hyperparameters are range-checked by ``jaxloss.checked`` only. A traced ``margin`` < 0 or
    ``epsilon`` < 0 is evaluated as written (a loss ≥ 0).

    Examples:
      >>> import jax.numpy as jnp
      >>> import jaxloss
      >>> a = jnp.array([[0.0, 0.0], [0.0, 0.0]])
      >>> pos = jnp.array([[1.0, 0.0], [0.0, 3.0]])
      >>> neg = jnp.array([[0.0, 3.0], [1.0, 0.0]])
      >>> print(jaxloss.triplet_margin_loss(a, pos, neg, epsilon=0.0, reduction="none").round(4))
      [0. 3.]

    References:
      PyTorch ``torch.nn.TripletMarginLoss``; V. Balntas et al., "Learning local feature
      descriptors with triplets and shallow convolutional neural networks", BMVC 2016.

    Numerics and edge cases: the norm has a zero (finite) gradient where the difference is
    exactly 0 (e.g. ``anchor == positive`` with ``epsilon = 0``); with the default ``epsilon``
    the difference is ``epsilon`` there, as in PyTorch. The norm is ``s·(Σ (|d|/s)^p)^(1/p)``
    with ``s = max |d|``: no overflow of ``|d|^p`` (float32: from ``|d| ≈ 1.8e19`` at ``p = 2``,
    ``7e3`` at ``p = 10``). ``p = inf`` is ``max |d|`` (its gradient is split between tied
    maxima, as PyTorch's). Exactly at the hinge
    (``margin + d_pos - d_neg = 0``) the subgradient is that of the active branch, as PyTorch's
    ``clamp_min``.

    Unchecked input: an infinite ``positive`` entry gives ``+inf`` for its row; ``checked``
    reports it.
    """
    name = "triplet_margin_loss"
    ax, anchor, positive = _check_pair(name, "anchor", anchor, "positive", positive, axis)
    negative = val.as_float_array(name, "negative", negative)
    val.check_same_shape(name, "anchor", anchor, "negative", negative)
    swap = val.check_bool_flag(name, "swap", swap)
    epsilon_inside_root = val.check_bool_flag(name, "epsilon_inside_root", epsilon_inside_root)
    val.check_ranges(name, margin=margin, p=p, epsilon=epsilon)
    pc = val.concrete_or_none(p)
    if epsilon_inside_root and pc is not None and np.any(np.isposinf(pc)):
        raise ValueError(f"{name}: 'epsilon_inside_root=True' needs a finite 'p'; got p = inf")
    _check_hyper_shapes(name, _reduced_shape(jnp.shape(anchor), ax), margin=margin, p=p)
    _check_hyper_shapes(name, jnp.shape(anchor), epsilon=epsilon)
    dtype = nx.compute_dtype(anchor)
    a = nx.as_compute(anchor, dtype)
    pos = nx.as_compute(positive, dtype)
    neg = nx.as_compute(negative, dtype)
    m = nx.as_hyper(margin, dtype)
    pp = nx.as_hyper(p, dtype)
    eps = nx.as_hyper(epsilon, dtype)

    def dist(u, v):
        if epsilon_inside_root:
            return _pnorm(u - v, pp, ax, p, offset=eps)
        return _pnorm(u - v + eps, pp, ax, p)

    d_pos = dist(a, pos)
    d_neg = dist(a, neg)
    if swap:
        d_neg = jnp.minimum(d_neg, dist(pos, neg))
    values = _clamp_min0(m + d_pos - d_neg)
    return apply_reduction(name, values, weights, where, reduction)


@val.declare_ranges(margin=val.NONNEGATIVE)
def triplet_margin_with_distance_loss(
    anchor: ArrayLike,
    positive: ArrayLike,
    negative: ArrayLike,
    *,
    distance_function=None,
    margin: ArrayLike = 1.0,
    swap: bool = False,
    weights: ArrayLike | None = None,
    where: ArrayLike | None = None,
    reduction: str = "mean",
) -> jax.Array:
    r"""Triplet margin loss with any distance (PyTorch's ``TripletMarginWithDistanceLoss``).

    .. math::
       \ell = \max(0,\ \mathrm{margin} + d(a, p) - d(a, n)),

    with :math:`d` = ``distance_function``, and with ``swap=True`` :math:`d(a, n)` replaced by
    :math:`\min(d(a, n), d(p, n))`.

    Args:
      anchor: float array, the anchors (the feature axis last for the default distance).
      positive: float array of ``anchor``'s shape, the positives.
      negative: float array of ``anchor``'s shape, the negatives.
      distance_function: a callable ``d(x1, x2)`` of JAX arrays returning the per-triplet
        distances (e.g. ``1 - cosine``); ``None`` is PyTorch's ``pairwise_distance``,
        :math:`\lVert x_1 - x_2 + 10^{-6} \rVert_2` over the last axis.
      margin: a scalar ``≥ 0`` (may be traced).
      swap: use the distance swap (static).
      weights: per-triplet weights broadcastable to the loss shape.
      where: boolean mask of the loss shape; ``False`` ignores the triplet.
      reduction: ``"mean"``, ``"sum"`` or ``"none"``.

    Returns:
      A scalar, or for ``"none"`` the distances' shape; float32 for half-precision inputs, else
      the input's float dtype.

    Raises:
      ValueError: a concrete ``margin`` < 0, or inputs of different shapes.
      TypeError: complex, integer or non-numeric inputs (Python lists are converted), ``swap`` not
        a bool, or ``distance_function`` not callable.

    Traced hyperparameters are range-checked by ``jaxloss.checked`` only. A traced ``margin`` < 0 is
    evaluated as written (a loss ≥ 0).

    Examples:
      >>> import jax.numpy as jnp
      >>> import jaxloss
      >>> a = jnp.zeros((2, 2))
      >>> pos = jnp.array([[1.0, 0.0], [0.0, 3.0]])
      >>> neg = jnp.array([[0.0, 3.0], [1.0, 0.0]])
      >>> l1 = lambda x, y: jnp.sum(jnp.abs(x - y), axis=-1)
      >>> out = jaxloss.triplet_margin_with_distance_loss(
      ...     a, pos, neg, distance_function=l1, reduction="none")
      >>> print(out)
      [0. 3.]

    References:
      PyTorch ``torch.nn.TripletMarginWithDistanceLoss``.

    Notes:
      With the default distance this equals :func:`triplet_margin_loss` with ``p=2``. At the hinge
      the subgradient is that of the active branch (PyTorch's ``clamp_min``).
    """
    name = "triplet_margin_with_distance_loss"
    _, anchor, positive = _check_pair(name, "anchor", anchor, "positive", positive, -1)
    negative = val.as_float_array(name, "negative", negative)
    val.check_same_shape(name, "anchor", anchor, "negative", negative)
    val.check_ranges(name, margin=margin)
    swap = val.check_bool_flag(name, "swap", swap)
    dtype = nx.compute_dtype(anchor)
    a = nx.as_compute(anchor, dtype)
    pos = nx.as_compute(positive, dtype)
    neg = nx.as_compute(negative, dtype)
    if distance_function is None:
        eps = jnp.asarray(1e-6, dtype)
        two = jnp.asarray(2.0, dtype)

        def distance_function(x1, x2):
            return _pnorm(x1 - x2 + eps, two, -1)

    elif not callable(distance_function):
        raise TypeError(f"{name}: 'distance_function' must be callable or None")
    d_pos = jnp.asarray(distance_function(a, pos)).astype(dtype)
    d_neg = jnp.asarray(distance_function(a, neg)).astype(dtype)
    if swap:
        d_neg = jnp.minimum(d_neg, jnp.asarray(distance_function(pos, neg)).astype(dtype))
    values = _clamp_min0(nx.as_hyper(margin, dtype) + d_pos - d_neg)
    return apply_reduction(name, values, weights, where, reduction)


def _check_elementwise(name: str, names: tuple[str, ...], arrays: tuple) -> tuple:
    """The inputs as arrays: the first floating, the others real, all of the first's shape."""
    out = [val.as_float_array(name, names[0], arrays[0])]
    for n, x in zip(names[1:], arrays[1:], strict=False):
        out.append(val.as_real_array(name, n, x))
        val.check_same_shape(name, names[0], out[0], n, out[-1])
    return tuple(out)


def _check_hyper_shapes(name: str, loss_shape, **hypers) -> None:
    """Each hyperparameter broadcasts to the loss shape (one value per example at most)."""
    for arg, value in hypers.items():
        val.check_broadcastable(name, arg, value, tuple(loss_shape))


@val.declare_ranges(margin=val.NONNEGATIVE)
def margin_ranking_loss(
    x1: ArrayLike,
    x2: ArrayLike,
    targets: ArrayLike,
    *,
    margin: ArrayLike = 0.0,
    weights: ArrayLike | None = None,
    where: ArrayLike | None = None,
    reduction: str = "mean",
) -> jax.Array:
    r"""Margin ranking loss (PyTorch ``MarginRankingLoss``).

    .. math::
       \ell = \max\bigl(0,\ -\mathrm{targets}\cdot(x_1 - x_2) + \mathrm{margin}\bigr)

    ``targets = 1`` means ``x1`` should rank higher than ``x2``; ``-1`` the reverse.

    Args:
      x1: float scores, any shape.
      x2: float scores, same shape.
      targets: ``+1`` / ``-1``, same shape (float or integer).
      margin: non-negative margin (traceable).
      weights: per-element weights broadcastable to ``x1.shape``; they multiply each loss.
      where: boolean mask of ``x1.shape``; ``False`` ignores the element.
      reduction: ``"mean"``, ``"sum"`` or ``"none"``.

    Returns:
      A scalar, or for ``"none"`` an array of ``x1.shape``; float32 for half-precision inputs,
      else the input's float dtype.

    Raises:
      ValueError: a concrete ``margin`` < 0 (or a hyperparameter that does not broadcast to the loss
        shape).
      TypeError: complex or non-numeric inputs or hyperparameters (Python lists are converted).

    Traced hyperparameters are range-checked by ``jaxloss.checked`` only. A traced ``margin`` < 0 is
    evaluated as written (a loss ≥ 0 that ignores small violations).

    Examples:
      >>> import jax.numpy as jnp
      >>> import jaxloss
      >>> x1 = jnp.array([1.0, 0.2, -1.0])
      >>> x2 = jnp.array([0.5, 0.5, 0.0])
      >>> y = jnp.array([1.0, 1.0, -1.0])
      >>> print(jaxloss.margin_ranking_loss(x1, x2, y, margin=0.1, reduction="none").round(4))
      [0.  0.4 0. ]

    References:
      PyTorch ``torch.nn.MarginRankingLoss``.

    Numerics and edge cases: exactly at the hinge the subgradient is that of the active branch
    (PyTorch's ``clamp_min``). Unchecked behaviour: targets other
    than ``±1`` scale the score difference (the formula above is applied as written).
    An infinite score is evaluated as written (``+inf`` when it ranks the pair wrongly);
    ``checked`` reports it.
    """
    name = "margin_ranking_loss"
    x1, x2, targets = _check_elementwise(name, ("x1", "x2", "targets"), (x1, x2, targets))
    val.check_ranges(name, margin=margin)
    _check_hyper_shapes(name, jnp.shape(x1), margin=margin)
    dtype = nx.compute_dtype(x1)
    a, b, t = nx.as_compute(x1, dtype), nx.as_compute(x2, dtype), nx.as_compute(targets, dtype)
    m = nx.as_hyper(margin, dtype)
    values = _clamp_min0(m - t * (a - b))
    return apply_reduction(name, values, weights, where, reduction)


@val.declare_ranges(margin=val.NONNEGATIVE)
def hinge_embedding_loss(
    distances: ArrayLike,
    targets: ArrayLike,
    *,
    margin: ArrayLike = 1.0,
    weights: ArrayLike | None = None,
    where: ArrayLike | None = None,
    reduction: str = "mean",
) -> jax.Array:
    r"""Hinge embedding loss (PyTorch ``HingeEmbeddingLoss``).

    .. math::
       \ell = \begin{cases} \mathrm{distances} & \mathrm{targets} = 1 \\
                             \max(0, \mathrm{margin} - \mathrm{distances}) & \mathrm{targets} = -1
              \end{cases}

    Args:
      distances: float array (typically non-negative distances, e.g. an L1 distance), any shape.
      targets: ``+1`` (similar) or ``-1`` (dissimilar), same shape (float or integer).
      margin: non-negative margin (traceable).
      weights: per-element weights broadcastable to ``distances.shape``; they multiply each loss.
      where: boolean mask of ``distances.shape``; ``False`` ignores the element.
      reduction: ``"mean"``, ``"sum"`` or ``"none"``.

    Returns:
      A scalar, or for ``"none"`` an array of ``distances.shape``; float32 for half-precision
      inputs, else the input's float dtype.

    Raises:
      ValueError: a concrete ``margin`` < 0 (or a hyperparameter that does not broadcast to the loss
        shape).
      TypeError: complex or non-numeric inputs or hyperparameters (Python lists are converted).

    Traced hyperparameters are range-checked by ``jaxloss.checked`` only. A traced ``margin`` < 0
    makes the dissimilar-pair term 0 (evaluated as written).

    Examples:
      >>> import jax.numpy as jnp
      >>> import jaxloss
      >>> d = jnp.array([0.3, 0.3, 2.0])
      >>> y = jnp.array([1, -1, -1])
      >>> print(jaxloss.hinge_embedding_loss(d, y, reduction="none").round(4))
      [0.3 0.7 0. ]

    References:
      PyTorch ``torch.nn.HingeEmbeddingLoss``.

    Unchecked behaviour: exactly as PyTorch, a target that is neither ``1`` nor ``-1`` gets both
    terms, ``distances + max(0, margin - distances)``.
    A NaN distance gives NaN for that element and ``+inf`` gives ``+inf`` (target 1);
    ``checked`` reports them.
    """
    name = "hinge_embedding_loss"
    distances, targets = _check_elementwise(name, ("distances", "targets"), (distances, targets))
    val.check_ranges(name, margin=margin)
    _check_hyper_shapes(name, jnp.shape(distances), margin=margin)
    dtype = nx.compute_dtype(distances)
    x, t = nx.as_compute(distances, dtype), nx.as_compute(targets, dtype)
    m = nx.as_hyper(margin, dtype)
    zeros = jnp.zeros_like(x)
    # PyTorch: where(t != 1, clamp_min(margin − x, 0), 0) + where(t != −1, x, 0)
    values = jnp.where(t != 1, _clamp_min0(m - x), zeros) + jnp.where(t != -1, x, zeros)
    return apply_reduction(name, values, weights, where, reduction)


@val.declare_ranges(margin=val.NONNEGATIVE)
def contrastive_loss(
    distances: ArrayLike,
    targets: ArrayLike,
    *,
    margin: ArrayLike = 1.0,
    weights: ArrayLike | None = None,
    where: ArrayLike | None = None,
    reduction: str = "mean",
) -> jax.Array:
    r"""Siamese contrastive loss on pair distances, targets in {0, 1} (1 = similar pair).

    .. math::
       \ell = \mathrm{targets}\cdot \mathrm{distances}^2
              + (1 - \mathrm{targets})\cdot \max(0, \mathrm{margin} - \mathrm{distances})^2

    This is the convention of TensorFlow Addons' ``tfa.losses.contrastive_loss`` (the Keras
    ecosystem's contrastive loss): label 1 for similar pairs and **no** ½ factor. Hadsell et al.
    (2006) write the same loss with a ½ on each term and the label reversed (0 = similar); their
    value is half of this one.

    Args:
      distances: float pair distances (e.g. Euclidean distances of embeddings), any shape.
      targets: 1 for similar, 0 for dissimilar pairs, same shape (soft values in ``[0, 1]``
        interpolate the two terms).
      margin: non-negative margin below which dissimilar pairs are penalised (traceable).
      weights: per-pair weights broadcastable to ``distances.shape``; they multiply each loss.
      where: boolean mask of ``distances.shape``; ``False`` ignores the pair.
      reduction: ``"mean"``, ``"sum"`` or ``"none"``.

    Returns:
      A scalar, or for ``"none"`` an array of ``distances.shape``; float32 for half-precision
      inputs, else the input's float dtype.

    Raises:
      ValueError: a concrete ``margin`` < 0 (or a hyperparameter that does not broadcast to the loss
        shape).
      TypeError: complex or non-numeric inputs or hyperparameters (Python lists are converted).

    Traced hyperparameters are range-checked by ``jaxloss.checked`` only. A traced ``margin`` < 0
    makes the dissimilar-pair term 0 (evaluated as written).

    Examples:
      >>> import jax.numpy as jnp
      >>> import jaxloss
      >>> d = jnp.array([0.5, 0.5, 2.0])
      >>> y = jnp.array([1.0, 0.0, 0.0])
      >>> print(jaxloss.contrastive_loss(d, y, reduction="none").round(4))
      [0.25 0.25 0.  ]

    References:
      R. Hadsell, S. Chopra, Y. LeCun, "Dimensionality reduction by learning an invariant
      mapping", CVPR 2006; TensorFlow Addons ``tfa.losses.contrastive_loss``.

    Numerics: smooth in ``distances`` except at ``distances = margin`` for dissimilar pairs, where
    the squared hinge is still once differentiable. Unchecked behaviour: negative distances are
    used as given.
    Targets outside ``{0, 1}`` are used as given in ``t·d² + (1 − t)·max(0, margin − d)²``;
    a NaN gives NaN for that element and a ``+inf`` distance ``+inf`` for a similar pair.
    ``checked`` reports them.
    """
    name = "contrastive_loss"
    distances, targets = _check_elementwise(name, ("distances", "targets"), (distances, targets))
    val.check_ranges(name, margin=margin)
    _check_hyper_shapes(name, jnp.shape(distances), margin=margin)
    dtype = nx.compute_dtype(distances)
    d, t = nx.as_compute(distances, dtype), nx.as_compute(targets, dtype)
    m = nx.as_hyper(margin, dtype)
    hinge = jnp.maximum(m - d, jnp.zeros_like(d))
    values = t * d * d + (jnp.ones_like(t) - t) * hinge * hinge
    return apply_reduction(name, values, weights, where, reduction)


# ----------------------------------------------------------------------------------------------
# NT-Xent
# ----------------------------------------------------------------------------------------------


@val.declare_ranges(temperature=val.POSITIVE)
def ntxent_loss(
    embeddings: ArrayLike,
    labels: ArrayLike,
    *,
    temperature: ArrayLike = 0.07,
    weights: ArrayLike | None = None,
    where: ArrayLike | None = None,
    reduction: str = "mean",
) -> jax.Array:
    r"""NT-Xent / InfoNCE: normalised temperature-scaled cross-entropy (as ``optax.ntxent``).

    With :math:`s_{ij} = \cos(e_i, e_j) / \mathrm{temperature}`, the positives :math:`P(i)` of
    anchor ``i`` are the *other* samples with the same label and its negatives :math:`N(i)` the
    samples with a different label. Each positive pair contributes

    .. math::
       \ell_{ij} = -\log \frac{\exp s_{ij}}{\exp s_{ij} + \sum_{k \in N(i)} \exp s_{ik}}

    (the denominator holds that one positive and all negatives, as in optax and
    pytorch-metric-learning's ``NTXentLoss``). Anchor ``i``'s loss is
    :math:`L_i = \sum_{j\in P(i)} \ell_{ij}` and the reduction counts positive pairs:

    .. math::
       \mathrm{mean} = \frac{\sum_i w_i L_i}{\sum_i w_i\,|P(i)|},\qquad
       \mathrm{sum} = \sum_i w_i L_i,\qquad \mathrm{none}_i = w_i L_i .

    With unit weights ``"mean"`` is the mean over all positive pairs, exactly ``optax.ntxent``.
    Anchors without a positive contribute nothing (neither to the numerator nor the count).

    Args:
      embeddings: float array ``[batch, dim]``.
      labels: integer group ids ``[batch]``; equal labels mark positive pairs (e.g.
        ``[0, 0, 1, 1]`` for two views of two images).
      temperature: positive temperature (traceable).
      weights: per-anchor weights ``[batch]``; they multiply the anchor's pair losses, in the sum
        and in the pair count of ``"mean"``.
      where: boolean ``[batch]``; ``False`` removes the sample entirely: it is neither an anchor
        nor a positive or negative of another anchor (use it for padded batches).
      reduction: ``"mean"``, ``"sum"`` or ``"none"`` (per-anchor sums ``w_i L_i``, ``[batch]``;
        divide by the number of positives for a per-anchor mean).

    Returns:
      A scalar, or ``[batch]`` for ``"none"``; float32 for half-precision inputs, else the
      input's float dtype.

    Raises:
      ValueError: a concrete ``temperature`` ≤ 0 (or a hyperparameter that does not broadcast to the
        loss shape).
      TypeError: complex or non-numeric inputs or hyperparameters (Python lists are converted).

    Traced hyperparameters are range-checked by ``jaxloss.checked`` only. A traced ``temperature`` <
    0 flips every similarity (the loss rewards dissimilar positives) and 0 gives NaN.

    Examples:
      >>> import jax.numpy as jnp
      >>> import jaxloss
      >>> e = jnp.array([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0], [0.1, 0.9]])
      >>> labels = jnp.array([0, 0, 1, 1])
      >>> print(f"{float(jaxloss.ntxent_loss(e, labels, temperature=0.5)):.4f}")
      0.2965

    References:
      T. Chen et al., "A Simple Framework for Contrastive Learning of Visual Representations",
      ICML 2020; A. van den Oord et al., "Representation Learning with Contrastive Predictive
      Coding", 2018; optax ``ntxent``.

    Numerics: cosine similarities clamp each squared norm at ``finfo(dtype).eps`` as optax does
    (zero embeddings give similarity 0, finite gradients), and normalise ``e / max|e|`` first, so
    any finite magnitude works (``‖e‖²`` overflows from ``|e| ≈ 1.8e19`` in float32); the
    log-denominator is a stable logsumexp over ``-inf``-masked negatives (an anchor without
    negatives has loss 0 per pair).
    Unchecked behaviour: labels are only compared for equality, any integers work.
    """
    name = "ntxent_loss"
    embeddings = val.as_float_array(name, "embeddings", embeddings)
    labels = val.as_integer_array(name, "labels", labels)
    if jnp.ndim(embeddings) != 2:
        raise ValueError(
            f"{name}: 'embeddings' must have shape [batch, dim], got {jnp.shape(embeddings)}"
        )
    if jnp.ndim(labels) != 1 or jnp.shape(labels)[0] != jnp.shape(embeddings)[0]:
        raise ValueError(
            f"{name}: 'labels' must have shape [batch] = ({jnp.shape(embeddings)[0]},), "
            f"got {jnp.shape(labels)}"
        )
    val.check_ranges(name, temperature=temperature)
    _check_hyper_shapes(name, (), temperature=temperature)
    n = jnp.shape(embeddings)[0]
    if where is not None:
        val.check_broadcastable(name, "where", where, (n,))
        if jnp.result_type(where) != jnp.bool_:
            raise TypeError(
                f"{name}: 'where' must be a boolean mask, got dtype {jnp.result_type(where)}"
            )
    if weights is not None:
        weights = val.check_weights(name, weights, (n,))

    dtype = nx.compute_dtype(embeddings)
    e = nx.as_compute(embeddings, dtype)
    temp = nx.as_hyper(temperature, dtype)
    labels = jnp.asarray(labels)
    # optax clamps each squared norm at eps: max(‖e‖², eps) = max(‖e‖, sqrt(eps))²
    min_norm = jnp.asarray(float(jnp.finfo(dtype).eps) ** 0.5, dtype)
    u = _unit(e, -1, min_norm)
    s = (u @ u.T) / temp  # [n, n] similarities

    same = labels[:, None] == labels[None, :]
    valid_col = (
        jnp.ones((1, n), bool)
        if where is None
        else jnp.broadcast_to(jnp.asarray(where), (n,))[None, :]
    )
    eye = jnp.eye(n, dtype=bool)
    pos = same & ~eye & valid_col
    neg = ~same & valid_col
    # log Σ_{k∈N(i)} exp s_ik over −inf-masked negatives (−inf when there are none)
    if n == 0:  # empty batch: a max over a zero-size axis has no identity (found by fuzzing)
        lse_neg = jnp.zeros((0,), dtype)
    else:
        lse_neg = nx.logsumexp(jnp.where(neg, s, -jnp.inf), axis=1)  # [n]
    # ℓ_ij = log(exp s_ij + exp lse_neg_i) − s_ij = softplus(lse_neg_i − s_ij) ≥ 0;
    # 0 with no negatives
    pair = nx.softplus(jnp.broadcast_to(lse_neg[:, None], (n, n)) - s)
    zeros = jnp.zeros_like(pair)
    per_anchor = jnp.sum(jnp.where(pos, pair, zeros), axis=1)  # L_i
    n_pos = jnp.sum(pos, axis=1).astype(dtype)  # |P(i)|
    w = (
        jnp.ones((n,), dtype)
        if weights is None
        else jnp.broadcast_to(jnp.asarray(weights).astype(dtype), (n,))
    )
    return apply_reduction(name, per_anchor, weights, where, reduction, normalizer=w * n_pos)


def _masked_logsumexp(x: jax.Array, mask: jax.Array, axis: int) -> jax.Array:
    """log Σ_mask exp(x) along ``axis``; ``-inf`` (zero gradient) where the mask is empty."""
    # initial=-inf: an empty batch (a [0, 0] or [B, 0] pair matrix) reduces without error
    m = jnp.max(jnp.where(mask, x, -jnp.inf), axis=axis, keepdims=True, initial=-jnp.inf)
    m = jnp.where(jnp.isfinite(m), m, jnp.zeros_like(m))
    s = jnp.sum(jnp.where(mask, jnp.exp(jnp.where(mask, x, m) - m), 0), axis=axis)
    # double where: log never sees 0 (an empty set)
    empty = s <= 0
    return jnp.where(
        empty,
        jnp.full_like(s, -jnp.inf),
        jnp.squeeze(m, axis) + jnp.log(jnp.where(empty, jnp.ones_like(s), s)),
    )


@val.declare_ranges(gamma=val.POSITIVE, margin=val.REAL)
def circle_loss(
    embeddings: ArrayLike,
    labels: ArrayLike,
    *,
    ref_embeddings: ArrayLike | None = None,
    ref_labels: ArrayLike | None = None,
    gamma: ArrayLike = 80.0,
    margin: ArrayLike = 0.4,
    remove_diagonal: bool = True,
    weights: ArrayLike | None = None,
    where: ArrayLike | None = None,
    reduction: str = "mean",
) -> jax.Array:
    r"""Circle loss (Sun et al. 2020) on cosine distances, as Keras' ``Circle``.

    With :math:`d_{ij} = \max(0, 1 - \langle e_i, r_j\rangle)` (``embeddings`` :math:`e` are
    expected L2-normalised; references :math:`r` default to the embeddings), :math:`m` =
    ``margin``, :math:`\gamma` = ``gamma``, positives :math:`P_i = \{j: y_j = y_i\}` (without
    :math:`j = i` when ``remove_diagonal``) and negatives :math:`N_i = \{j: y_j \ne y_i\}`:

    .. math::
       \ell_i = \operatorname{softplus}\Big(
         \log\!\sum_{j \in P_i} e^{-\gamma\,\max(0, m + d_{ij})\,(m - d_{ij})}
         + \log\!\sum_{j \in N_i} e^{\gamma\,\max(0, 1 + m - d_{ij})\,(1 - m - d_{ij})}\Big)

    An anchor without positives or without negatives has :math:`\ell_i = 0`.

    Args:
      embeddings: ``[B, D]`` float embeddings (L2-normalised by the caller).
      labels: ``[B]`` integer class ids.
      ref_embeddings: ``[R, D]`` reference embeddings; ``None`` uses ``embeddings``.
      ref_labels: ``[R]`` integer ids of the references; ``None`` uses ``labels``.
      gamma: the scale :math:`\gamma > 0` (may be traced).
      margin: the relaxation :math:`m` (may be traced).
      remove_diagonal: drop the pair ``(i, i)`` from the positives (static; for self-reference).
      weights: per-anchor weights broadcastable to ``[B]``.
      where: boolean ``[B]`` mask; ``False`` drops the anchor.
      reduction: ``"mean"``, ``"sum"`` or ``"none"``.

    Returns:
      A scalar, or for ``"none"`` the ``[B]`` per-anchor losses.

    Raises:
      ValueError: a concrete ``gamma`` ≤ 0 or a NaN ``margin``, or inputs of the wrong shapes.
      TypeError: complex, integer or non-numeric embeddings, non-integer labels (Python lists are
        converted), or ``remove_diagonal`` not a bool.

    Traced hyperparameters are range-checked by ``jaxloss.checked`` only. A traced ``gamma`` ≤ 0 is
    evaluated as written.

    Examples:
      >>> import jax.numpy as jnp
      >>> import jaxloss
      >>> e = jnp.array([[1.0, 0.0], [0.6, 0.8], [0.0, 1.0]])
      >>> out = jaxloss.circle_loss(e, jnp.array([0, 0, 1]), gamma=2.0, reduction="none")
      >>> print(out.round(4))
      [0.5459 1.2842 0.    ]

    References:
      Y. Sun et al., `Circle Loss: A Unified Perspective of Pair Similarity Optimization
      <https://arxiv.org/abs/2002.10857>`_, CVPR 2020; Keras ``keras.losses.Circle``.

    Notes:
      As in Keras, the pair weights :math:`\max(0, m + d)` and :math:`\max(0, 1 + m - d)` are
      differentiated (not treated as constants). Empty positive or negative sets give exactly 0
      with a zero gradient (no ``-inf − -inf``). Unchecked input: a NaN embedding gives NaN for
      every anchor whose positive or negative set contains it (and for its own row).
    """
    name = "circle_loss"
    embeddings = val.as_float_array(name, "embeddings", embeddings)
    labels = val.as_integer_array(name, "labels", labels)
    if ref_embeddings is not None:
        ref_embeddings = val.as_float_array(name, "ref_embeddings", ref_embeddings)
    if ref_labels is not None:
        ref_labels = val.as_integer_array(name, "ref_labels", ref_labels)
    val.check_ranges(name, gamma=gamma, margin=margin)
    remove_diagonal = val.check_bool_flag(name, "remove_diagonal", remove_diagonal)
    dtype = nx.compute_dtype(embeddings)
    e = nx.as_compute(embeddings, dtype)
    if e.ndim != 2:
        raise ValueError(f"{name}: 'embeddings' must be [B, D], got shape {e.shape}")
    if labels.shape != e.shape[:1]:
        raise ValueError(f"{name}: 'labels' must have shape {e.shape[:1]}, got {labels.shape}")
    r = e if ref_embeddings is None else nx.as_compute(ref_embeddings, dtype)
    if r.ndim != 2 or r.shape[1] != e.shape[1]:
        raise ValueError(f"{name}: 'ref_embeddings' must be [R, {e.shape[1]}], got {r.shape}")
    ref = labels if ref_labels is None else ref_labels
    if ref.shape != r.shape[:1]:
        raise ValueError(f"{name}: 'ref_labels' must have shape {r.shape[:1]}, got {ref.shape}")
    g = nx.as_hyper(gamma, dtype)
    m = nx.as_hyper(margin, dtype)
    dist = jnp.maximum(1 - e @ r.T, 0)
    same = labels[:, None] == ref[None, :]
    pos = same
    if remove_diagonal:
        pos = pos & ~jnp.eye(e.shape[0], r.shape[0], dtype=bool)
    neg = ~same
    pos_logits = -g * jnp.maximum(m + dist, 0) * (m - dist)
    neg_logits = g * jnp.maximum(1 + m - dist, 0) * (1 - m - dist)
    total = _masked_logsumexp(pos_logits, pos, 1) + _masked_logsumexp(neg_logits, neg, 1)
    # an anchor without positives or negatives gives 0 with a zero gradient (the select); decided
    # from the sets, not from the value, so that a NaN (or +inf) input still propagates
    empty = ~(jnp.any(pos, axis=1) & jnp.any(neg, axis=1))
    values = jnp.where(empty, 0, jax.nn.softplus(jnp.where(empty, 0, total)))
    return apply_reduction(name, values, weights, where, reduction)


# Losses of this family, canonical names (the registry lists these).
LOSSES = (
    cosine_distance,
    cosine_similarity_loss,
    cosine_embedding_loss,
    triplet_margin_loss,
    triplet_margin_with_distance_loss,
    margin_ranking_loss,
    hinge_embedding_loss,
    contrastive_loss,
    ntxent_loss,
    circle_loss,
)

# Every name `jaxloss.get` resolves for this family (case-insensitive), canonical names included.
ALIASES = {
    **{fn.__name__: fn for fn in LOSSES},
    "cosine_similarity": cosine_similarity_loss,
    "CosineEmbeddingLoss": cosine_embedding_loss,
    "TripletMarginLoss": triplet_margin_loss,
    "TripletMarginWithDistanceLoss": triplet_margin_with_distance_loss,
    "MarginRankingLoss": margin_ranking_loss,
    "HingeEmbeddingLoss": hinge_embedding_loss,
    "siamese_contrastive_loss": contrastive_loss,
    "ntxent": ntxent_loss,
    "info_nce": ntxent_loss,
}
