"""Regression losses: (predictions, targets) -> element-wise loss.

Every loss here is element-wise: ``reduction="none"`` returns an array of the predictions' shape
(for :func:`root_mean_squared_error`, see its docstring). Targets must have the predictions' shape
(a trace-time ``ValueError`` otherwise); the computation dtype follows the predictions (float16 /
bfloat16 are raised to float32) and targets are cast to it.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from . import _validation as val
from ._alias import bind
from ._numerics import as_hyper, compute_dtype, max_abs_scale
from ._reduction import apply_reduction
from ._validation import check_same_shape

__all__ = [
    "mean_squared_error",
    "mean_absolute_error",
    "root_mean_squared_error",
    "mean_squared_logarithmic_error",
    "mean_absolute_percentage_error",
    "huber_loss",
    "smooth_l1_loss",
    "log_cosh",
    "quantile_loss",
    "poisson_nll_loss",
    "gaussian_nll_loss",
]

_LOG_2 = math.log(2.0)
_HALF_LOG_2PI = 0.5 * math.log(2.0 * math.pi)


def _inputs(
    name: str, predictions: ArrayLike, targets: ArrayLike, a_name: str = "predictions"
) -> tuple[jax.Array, jax.Array, jnp.dtype]:
    """(predictions, targets) in the computation dtype, after the type and shape checks."""
    predictions = val.as_real_array(name, a_name, predictions)
    targets = val.as_real_array(name, "targets", targets)
    check_same_shape(name, a_name, predictions, "targets", targets)
    dtype = compute_dtype(predictions)
    return jnp.asarray(predictions).astype(dtype), jnp.asarray(targets).astype(dtype), dtype


def _safe_sqrt(x: jax.Array) -> jax.Array:
    """sqrt(x) for x >= 0 whose derivatives at x = 0 are 0 (not inf, and never NaN)."""
    # double where: sqrt never sees 0, whose derivative 1/(2·sqrt(0)) is inf; the predicate is
    # "x ≤ 0" so that NaN propagates instead of taking the 0 branch
    small = x <= 0
    return jnp.where(small, jnp.zeros_like(x), jnp.sqrt(jnp.where(small, jnp.ones_like(x), x)))


def _abs(r: jax.Array) -> jax.Array:
    """|r| whose derivative at r = 0 is 0 (``sign(0)``, as PyTorch), not ``jnp.abs``' 1."""
    # |r| = r·sign(r), and sign has a zero derivative, so d|r|/dr = sign(r)
    return r * jnp.sign(r)


def mean_squared_error(
    predictions: ArrayLike,
    targets: ArrayLike,
    *,
    weights: ArrayLike | None = None,
    where: ArrayLike | None = None,
    reduction: str = "mean",
) -> jax.Array:
    r"""Squared error (L2 loss), PyTorch ``MSELoss`` / Keras ``mean_squared_error``.

    .. math::
       \ell_i = (\mathrm{predictions}_i - \mathrm{targets}_i)^2

    Args:
      predictions: predicted values, any shape ``[...]``.
      targets: true values, the same shape.
      weights: per-element weights broadcastable to ``[...]`` (default 1).
      where: boolean mask broadcastable to ``[...]``; ``False`` drops the element.
      reduction: ``"mean"`` (``Σ w·ℓ / Σ w`` over valid elements), ``"sum"`` or ``"none"``.

    Returns:
      A scalar, or for ``"none"`` an array of shape ``[...]``, in the computation dtype (float32 for
      half-precision inputs).

    Examples:
      >>> import jax.numpy as jnp
      >>> import jaxloss
      >>> p, t = jnp.array([1.0, 2.0]), jnp.array([0.0, 4.0])
      >>> print(f"{float(jaxloss.mean_squared_error(p, t)):.4f}")
      2.5000

    The alias ``"squared_error"`` (``jaxloss.get("squared_error")``) is optax's unreduced squared
    error: it binds ``reduction="none"``.

    Unchecked input: a NaN in ``predictions`` or ``targets`` gives NaN for that element and
    ``±inf`` gives ``+inf``; the other elements are unchanged. ``checked`` reports both.
    """
    name = "mean_squared_error"
    p, t, _ = _inputs(name, predictions, targets)
    r = p - t
    return apply_reduction(name, r * r, weights, where, reduction)


def mean_absolute_error(
    predictions: ArrayLike,
    targets: ArrayLike,
    *,
    weights: ArrayLike | None = None,
    where: ArrayLike | None = None,
    reduction: str = "mean",
) -> jax.Array:
    r"""Absolute error (L1 loss), PyTorch ``L1Loss`` / Keras ``mean_absolute_error``.

    .. math::
       \ell_i = |\mathrm{predictions}_i - \mathrm{targets}_i|

    Args:
      predictions: predicted values, any shape ``[...]``.
      targets: true values, the same shape.
      weights: per-element weights broadcastable to ``[...]`` (default 1).
      where: boolean mask broadcastable to ``[...]``; ``False`` drops the element.
      reduction: ``"mean"``, ``"sum"`` or ``"none"``.

    Returns:
      A scalar, or for ``"none"`` an array of shape ``[...]``, in the computation dtype.

    Examples:
      >>> import jax.numpy as jnp
      >>> import jaxloss
      >>> p, t = jnp.array([1.0, 2.0]), jnp.array([0.0, 4.0])
      >>> print(f"{float(jaxloss.mean_absolute_error(p, t)):.4f}")
      1.5000

    Notes:
      The gradient at a zero error is 0 (the subgradient ``sign(0) = 0``), as in PyTorch.
      Unchecked input: a NaN in either input gives NaN for that element and ``±inf`` gives
      ``+inf``; ``checked`` reports both.
    """
    name = "mean_absolute_error"
    p, t, _ = _inputs(name, predictions, targets)
    return apply_reduction(name, _abs(p - t), weights, where, reduction)


def root_mean_squared_error(
    predictions: ArrayLike,
    targets: ArrayLike,
    *,
    weights: ArrayLike | None = None,
    where: ArrayLike | None = None,
    reduction: str = "mean",
) -> jax.Array:
    r"""Root of the reduced squared error; the square root is applied *after* the reduction.

    .. math::
       \mathrm{rmse} = \sqrt{\mathrm{reduce}\big(w_i\,
                       (\mathrm{predictions}_i - \mathrm{targets}_i)^2\big)}

    so that ``root_mean_squared_error(...) ** 2 == mean_squared_error(...)`` for every
    ``reduction``, ``weights`` and ``where``:

    * ``"mean"``: :math:`\sqrt{\sum_i w_i r_i^2 / \sum_i w_i}` over valid elements (the usual RMSE);
    * ``"sum"``: :math:`\sqrt{\sum_i w_i r_i^2}` (the Euclidean norm of the weighted error);
    * ``"none"``: :math:`\sqrt{w_i r_i^2} = \sqrt{w_i}\,|r_i|` element-wise, i.e. ``|r|`` without
      weights, with exact zeros at masked elements.

    Args:
      predictions: predicted values, any shape ``[...]``.
      targets: true values, the same shape.
      weights: per-element non-negative weights broadcastable to ``[...]`` (default 1); they weight
        the squared errors under the root.
      where: boolean mask broadcastable to ``[...]``; ``False`` drops the element.
      reduction: ``"mean"``, ``"sum"`` or ``"none"``.

    Returns:
      A scalar, or for ``"none"`` an array of shape ``[...]``, in the computation dtype.

    Examples:
      >>> import jax.numpy as jnp
      >>> import jaxloss
      >>> p, t = jnp.array([1.0, 2.0]), jnp.array([0.0, 4.0])
      >>> print(f"{float(jaxloss.root_mean_squared_error(p, t)):.4f}")
      1.5811
      >>> per_element = jaxloss.root_mean_squared_error(p, t, reduction="none")
      >>> print([f"{float(v):.4f}" for v in per_element])
      ['1.0000', '2.0000']

    Notes:
      The derivative of ``sqrt`` at 0 is infinite; when the reduced squared error is exactly 0
      (a perfect fit, or everything masked), the gradient returned is exactly 0 (a subgradient),
      never ``inf`` or NaN. Negative weights are invalid (unchecked: a negative reduced value gives
      0). Computed as ``s·sqrt(reduce((r/s)²))`` with ``s = max |r|`` over the kept elements
      (per element for ``"none"``), so any finite error works: ``r²`` overflows float32 from
      ``|r| ≈ 1.8e19`` (``root_mean_squared_error([1e20], [0])`` is ``1e20``, not ``inf``).
      Unchecked input: ``±inf`` in either input gives ``+inf`` (``reduction="none"``: for that
      element); ``checked`` reports it.
    """
    name = "root_mean_squared_error"
    p, t, _ = _inputs(name, predictions, targets)
    r = p - t
    # rmse = s·sqrt(reduce((r/s)²)) with s a constant for AD (the same function of r for any
    # fixed s): r² overflows from |r| ≈ 1.8e19 in float32 (rmse([1e20], [0]) was inf). s = max |r|
    # over the kept elements ("none": per element, so no small element underflows); the "none"
    # reduction of |r| applies (and validates) ``where``, so a masked inf / NaN cannot reach s
    kept_abs = apply_reduction(name, jnp.abs(r), None, where, "none")
    if reduction == "none":
        s = max_abs_scale(kept_abs[..., None], axis=-1, keepdims=False)
    else:
        s = max_abs_scale(kept_abs, axis=None, keepdims=False)
    rs = r / s
    return s * _safe_sqrt(apply_reduction(name, rs * rs, weights, where, reduction))


def mean_squared_logarithmic_error(
    predictions: ArrayLike,
    targets: ArrayLike,
    *,
    weights: ArrayLike | None = None,
    where: ArrayLike | None = None,
    reduction: str = "mean",
) -> jax.Array:
    r"""Squared logarithmic error, the Keras ``mean_squared_logarithmic_error`` formula.

    .. math::
       \ell_i = \big(\log(1 + \max(\mathrm{predictions}_i, 10^{-7}))
                    - \log(1 + \max(\mathrm{targets}_i, 10^{-7}))\big)^2

    Args:
      predictions: predicted values (meant to be non-negative), any shape ``[...]``.
      targets: true values (meant to be non-negative), the same shape.
      weights: per-element weights broadcastable to ``[...]`` (default 1).
      where: boolean mask broadcastable to ``[...]``; ``False`` drops the element.
      reduction: ``"mean"``, ``"sum"`` or ``"none"``.

    Returns:
      A scalar, or for ``"none"`` an array of shape ``[...]``, in the computation dtype.

    Examples:
      >>> import jax.numpy as jnp
      >>> import jaxloss
      >>> p, t = jnp.array([1.0, 3.0]), jnp.array([0.0, 7.0])
      >>> print(f"{float(jaxloss.mean_squared_logarithmic_error(p, t)):.4f}")
      0.4805

    Notes:
      As in Keras, inputs below ``1e-7`` (including negative ones) are floored at ``1e-7``, so the
      loss is finite for any real input and the gradient is 0 where the floor is active. With
      ``reduction="mean"`` this equals Keras' loss (mean over the last axis, then over the batch)
      for unweighted, unmasked inputs.
      Unchecked input: a NaN gives NaN for that element and ``+inf`` gives ``+inf``; ``-inf`` is
      floored at ``1e-7`` like any other input below it (a finite value). ``checked`` reports
      all three.
    """
    name = "mean_squared_logarithmic_error"
    p, t, dtype = _inputs(name, predictions, targets)
    floor = jnp.asarray(1e-7, dtype)
    d = jnp.log1p(jnp.maximum(p, floor)) - jnp.log1p(jnp.maximum(t, floor))
    return apply_reduction(name, d * d, weights, where, reduction)


@val.declare_ranges(epsilon=val.NONNEGATIVE)
def mean_absolute_percentage_error(
    predictions: ArrayLike,
    targets: ArrayLike,
    *,
    epsilon: ArrayLike = 1e-7,
    weights: ArrayLike | None = None,
    where: ArrayLike | None = None,
    reduction: str = "mean",
) -> jax.Array:
    r"""Absolute percentage error, the Keras ``mean_absolute_percentage_error`` formula.

    .. math::
       \ell_i = 100\,\frac{|\mathrm{targets}_i - \mathrm{predictions}_i|}
                          {\max(|\mathrm{targets}_i|, \mathrm{epsilon})}

    Args:
      predictions: predicted values, any shape ``[...]``.
      targets: true values, the same shape.
      epsilon: floor of the denominator (Keras' ``backend.epsilon()`` = ``1e-7``); may be traced.
        A concrete negative value raises ``ValueError``.
      weights: per-element weights broadcastable to ``[...]`` (default 1).
      where: boolean mask broadcastable to ``[...]``; ``False`` drops the element.
      reduction: ``"mean"``, ``"sum"`` or ``"none"``.

    Returns:
      A scalar, or for ``"none"`` an array of shape ``[...]``, in percent, in the computation dtype.

    Raises:
      ValueError: a concrete ``epsilon`` < 0 (or a hyperparameter that does not broadcast to the
        loss shape).
      TypeError: complex or non-numeric inputs or hyperparameters (Python lists are converted).

    Traced hyperparameters are range-checked by ``jaxloss.checked`` only. A traced ``epsilon`` < 0
    acts as ``epsilon = 0`` (a zero target gives ``inf``, or NaN for a zero error).

    Examples:
      >>> import jax.numpy as jnp
      >>> import jaxloss
      >>> p, t = jnp.array([1.5, 3.0]), jnp.array([2.0, 4.0])
      >>> print(f"{float(jaxloss.mean_absolute_percentage_error(p, t)):.4f}")
      25.0000

    Notes:
      A zero target gives ``100·|predictions| / epsilon`` (large but finite for ``epsilon > 0``);
      ``epsilon = 0`` with a zero target is unchecked and gives ``inf`` (or NaN for a zero error).
      Unchecked input: a NaN gives NaN for that element; an infinite prediction gives ``+inf``,
      an infinite target NaN (``inf / inf``). ``checked`` reports them.
    """
    name = "mean_absolute_percentage_error"
    val.check_ranges(name, epsilon=epsilon)
    p, t, dtype = _inputs(name, predictions, targets)
    val.check_broadcastable(name, "epsilon", epsilon, p.shape)
    eps = as_hyper(epsilon, dtype)
    values = 100.0 * _abs(t - p) / jnp.maximum(_abs(t), eps)
    return apply_reduction(name, values, weights, where, reduction)


@val.declare_ranges(delta=val.NONNEGATIVE)
def huber_loss(
    predictions: ArrayLike,
    targets: ArrayLike,
    *,
    delta: ArrayLike = 1.0,
    weights: ArrayLike | None = None,
    where: ArrayLike | None = None,
    reduction: str = "mean",
) -> jax.Array:
    r"""Huber loss, PyTorch ``HuberLoss`` / Keras ``huber`` / optax ``huber_loss``.

    With :math:`r_i = \mathrm{predictions}_i - \mathrm{targets}_i`,

    .. math::
       \ell_i = \begin{cases} \tfrac12 r_i^2 & |r_i| \le \delta \\
                              \delta\,(|r_i| - \tfrac12\delta) & \text{otherwise} \end{cases}

    computed as a single select (``|r| <= delta`` picks the quadratic side), which is exact for
    every :math:`\delta \ge 0` (``delta = 0`` gives exactly 0 with a zero gradient).

    Args:
      predictions: predicted values, any shape ``[...]``.
      targets: true values, the same shape.
      delta: the threshold :math:`\delta \ge 0` between the quadratic and the linear part; may be
        traced (``jax.vmap`` over it works). A concrete negative value raises ``ValueError``.
      weights: per-element weights broadcastable to ``[...]`` (default 1).
      where: boolean mask broadcastable to ``[...]``; ``False`` drops the element.
      reduction: ``"mean"``, ``"sum"`` or ``"none"``.

    Returns:
      A scalar, or for ``"none"`` an array of shape ``[...]``, in the computation dtype.

    Raises:
      ValueError: a concrete ``delta`` < 0 (or a hyperparameter that does not broadcast to the loss
        shape).
      TypeError: complex or non-numeric inputs or hyperparameters (Python lists are converted).

    Traced hyperparameters are range-checked by ``jaxloss.checked`` only. A traced ``delta`` < 0
    gives the negative loss ``δ(|r| − δ/2)`` for every element (``|r| ≤ δ`` never holds).

    Examples:
      >>> import jax.numpy as jnp
      >>> import jaxloss
      >>> p, t = jnp.array([0.5, 3.0]), jnp.array([0.0, 0.0])
      >>> print(f"{float(jaxloss.huber_loss(p, t)):.4f}")
      1.3125

    References:
      Huber, *Robust Estimation of a Location Parameter*, 1964.

    Notes:
      The gradient w.r.t. predictions is ``clip(r, -delta, delta)``. A traced negative
      ``delta``: see *Raises*.
      Unchecked input: a NaN in either input gives NaN for that element and ``±inf`` gives
      ``+inf``; ``checked`` reports both.
    """
    name = "huber_loss"
    val.check_ranges(name, delta=delta)
    p, t, dtype = _inputs(name, predictions, targets)
    val.check_broadcastable(name, "delta", delta, p.shape)
    d = as_hyper(delta, dtype)
    r = p - t
    a = jnp.abs(r)
    # ½r² if |r| ≤ δ else δ(|r| − ½δ). The select comes last so that XLA fuses the whole
    # expression into one loop (no intermediate arrays); autodiff through it gives r on the
    # quadratic side (so 0 at r = 0, also for δ = 0, as PyTorch) and δ·sign(r) on the linear side.
    return apply_reduction(
        name, jnp.where(a <= d, 0.5 * r * r, d * (a - 0.5 * d)), weights, where, reduction
    )


@val.declare_ranges(beta=val.NONNEGATIVE)
def smooth_l1_loss(
    predictions: ArrayLike,
    targets: ArrayLike,
    *,
    beta: ArrayLike = 1.0,
    weights: ArrayLike | None = None,
    where: ArrayLike | None = None,
    reduction: str = "mean",
) -> jax.Array:
    r"""Smooth L1 loss, PyTorch ``SmoothL1Loss`` semantics (``huber_loss`` with δ = β, divided by β).

    With :math:`r_i = \mathrm{predictions}_i - \mathrm{targets}_i`,

    .. math::
       \ell_i = \begin{cases} \tfrac12 r_i^2 / \beta & |r_i| < \beta \\
                              |r_i| - \tfrac12\beta & \text{otherwise} \end{cases}

    computed as :math:`\tfrac12 q^2/\beta + (|r| - q)` with :math:`q = \min(|r|, \beta)`; for
    ``beta = 0`` this is exactly the L1 loss :math:`|r|` (as in PyTorch), with no division by 0
    even when ``beta`` is traced.

    Args:
      predictions: predicted values, any shape ``[...]``.
      targets: true values, the same shape.
      beta: the threshold :math:`\beta \ge 0`; may be traced. A concrete negative value raises
        ``ValueError``.
      weights: per-element weights broadcastable to ``[...]`` (default 1).
      where: boolean mask broadcastable to ``[...]``; ``False`` drops the element.
      reduction: ``"mean"``, ``"sum"`` or ``"none"``.

    Returns:
      A scalar, or for ``"none"`` an array of shape ``[...]``, in the computation dtype.

    Raises:
      ValueError: a concrete ``beta`` < 0 (or a hyperparameter that does not broadcast to the loss
        shape).
      TypeError: complex or non-numeric inputs or hyperparameters (Python lists are converted).

    Traced hyperparameters are range-checked by ``jaxloss.checked`` only. A traced ``beta`` < 0
    gives ``|r| − β = |r| + |β|``, the L1 loss shifted up by ``|β|``.

    Examples:
      >>> import jax.numpy as jnp
      >>> import jaxloss
      >>> p, t = jnp.array([0.5, 3.0]), jnp.array([0.0, 0.0])
      >>> print(f"{float(jaxloss.smooth_l1_loss(p, t)):.4f}")
      1.3125
      >>> print(f"{float(jaxloss.smooth_l1_loss(p, t, beta=0.0)):.4f}")
      1.7500

    References:
      Girshick, *Fast R-CNN*, 2015.

    Notes:
      The gradient w.r.t. predictions is ``clip(r / beta, -1, 1)`` (``sign(r)`` for ``beta = 0``).
      Unchecked input: a NaN in either input gives NaN for that element and ``±inf`` gives
      ``+inf``; ``checked`` reports both.
    """  # noqa: E501 -- the one-line summary is the README catalog entry (docs/gen_catalog.py)
    name = "smooth_l1_loss"
    val.check_ranges(name, beta=beta)
    p, t, dtype = _inputs(name, predictions, targets)
    val.check_broadcastable(name, "beta", beta, p.shape)
    b = as_hyper(beta, dtype)
    a = _abs(p - t)
    q = jnp.minimum(a, b)
    positive = b > 0
    # double where: ½q²/β with q = 0 whenever β = 0, so the β = 0 term is exactly 0 (no 0/0)
    quad = jnp.where(
        positive, 0.5 * q * q / jnp.where(positive, b, jnp.ones_like(b)), jnp.zeros_like(q)
    )
    # ½r²/β if |r| < β else |r| − ½β  ==  ½q²/β + (|r| − q)
    return apply_reduction(name, quad + (a - q), weights, where, reduction)


def log_cosh(
    predictions: ArrayLike,
    targets: ArrayLike,
    *,
    weights: ArrayLike | None = None,
    where: ArrayLike | None = None,
    reduction: str = "mean",
) -> jax.Array:
    r"""Logarithm of the hyperbolic cosine of the error, overflow-free (Keras ``log_cosh``).

    .. math::
       \ell_i = \log\cosh(\mathrm{predictions}_i - \mathrm{targets}_i)

    It behaves like :math:`r^2/2` for small errors and like :math:`|r| - \log 2` for large ones.

    Args:
      predictions: predicted values, any shape ``[...]``.
      targets: true values, the same shape.
      weights: per-element weights broadcastable to ``[...]`` (default 1).
      where: boolean mask broadcastable to ``[...]``; ``False`` drops the element.
      reduction: ``"mean"``, ``"sum"`` or ``"none"``.

    Returns:
      A scalar, or for ``"none"`` an array of shape ``[...]``, in the computation dtype.

    Examples:
      >>> import jax.numpy as jnp
      >>> import jaxloss
      >>> p, t = jnp.array([0.5, 1e4]), jnp.array([0.0, 0.0])
      >>> print([f"{float(v):.4f}" for v in jaxloss.log_cosh(p, t, reduction="none")])
      ['0.1201', '9999.3069']

    Notes:
      ``cosh`` overflows for ``|r| > 710`` (float64) or ``> 89`` (float32); this never forms it:
      for ``|r| >= 1`` it uses :math:`\log\cosh r = |r| - \mathrm{log1p}(\tanh|r|)` (exactly
      ``|r| - log 2`` once ``tanh`` rounds to 1), and for ``|r| < 1`` the cancellation-free
      :math:`\log\cosh r = -\tfrac12\mathrm{log1p}(-\tanh^2 r)`, which keeps full relative
      precision near 0. A ``jax.custom_jvp`` gives the derivative as ``tanh(r)`` (differentiable
      again: the Hessian is ``1 - tanh² r``, exactly 1 at ``r = 0``), so the backward pass is one
      ``tanh`` per element rather than autodiff through both branches; forward and backward are
      each one fused loop (one ``tanh`` + one ``log1p`` forward).
      Unchecked input: a NaN in either input gives NaN for that element and ``±inf`` gives
      ``+inf``; ``checked`` reports both.
    """
    name = "log_cosh"
    p, t, _ = _inputs(name, predictions, targets)
    return apply_reduction(name, _log_cosh(p - t), weights, where, reduction)


@jax.custom_jvp
def _log_cosh(r: jax.Array) -> jax.Array:
    """log cosh r from one tanh and one log1p; its derivative rule is tanh r (see defjvp)."""
    a = jnp.abs(r)
    th = jnp.tanh(a)
    small = a < 1.0
    # near 0: log cosh r = −½ log1p(−tanh² r)  (1 − tanh² = sech²; full relative precision at 0)
    # far:    log cosh r = |r| − log1p(tanh|r|)
    #         (1 + tanh a = eᵃ / cosh a; → |r| − log 2, no overflow)
    # One select feeds one log1p and the result ends in a select, so XLA emits a single fused loop
    # (tanh has one consumer) instead of materialising intermediate arrays.
    log1p_term = jnp.log1p(jnp.where(small, -th * th, th))
    return jnp.where(small, -0.5 * log1p_term, a - log1p_term)


@_log_cosh.defjvp
def _log_cosh_jvp(primals, tangents):
    (r,), (dr,) = primals, tangents
    y = _log_cosh(r)
    # d log cosh r / dr = tanh r; differentiable again (second derivative sech² r = 1 − tanh² r).
    # y ≥ 0 always, so the select never fires: it only makes the backward loop read y, which lets
    # XLA write the gradient into y's buffer (temp memory 0, as optax) instead of keeping both
    # alive.
    return y, jnp.where(y < 0, jnp.zeros_like(r), jnp.tanh(r)) * dr


@val.declare_ranges(quantile=val.UNIT_INTERVAL)
def quantile_loss(
    predictions: ArrayLike,
    targets: ArrayLike,
    *,
    quantile: ArrayLike = 0.5,
    weights: ArrayLike | None = None,
    where: ArrayLike | None = None,
    reduction: str = "mean",
) -> jax.Array:
    r"""Quantile (pinball) loss, whose minimiser is the ``quantile``-th quantile of the targets.

    With :math:`r_i = \mathrm{targets}_i - \mathrm{predictions}_i` and :math:`q` = ``quantile``,

    .. math::
       \ell_i = \max(q\,r_i,\ (q - 1)\,r_i)

    Args:
      predictions: predicted quantiles, any shape ``[...]``.
      targets: true values, the same shape.
      quantile: :math:`q \in [0, 1]`; may be traced. A concrete value outside ``[0, 1]`` raises
        ``ValueError``. ``q = 0.5`` gives half the absolute error.
      weights: per-element weights broadcastable to ``[...]`` (default 1).
      where: boolean mask broadcastable to ``[...]``; ``False`` drops the element.
      reduction: ``"mean"``, ``"sum"`` or ``"none"``.

    Returns:
      A scalar, or for ``"none"`` an array of shape ``[...]``, in the computation dtype.

    Raises:
      ValueError: a concrete ``quantile`` outside [0, 1] (or a hyperparameter that does not
        broadcast to the loss shape).
      TypeError: complex or non-numeric inputs or hyperparameters (Python lists are converted).

    Traced hyperparameters are range-checked by ``jaxloss.checked`` only. A traced ``quantile``
    outside [0, 1] gives negative losses: for q > 1 over-predictions cost (q − 1)·r < 0, for q < 0
    under-predictions cost q·r < 0.

    Examples:
      >>> import jax.numpy as jnp
      >>> import jaxloss
      >>> p, t = jnp.array([1.0, 1.0]), jnp.array([3.0, 0.0])
      >>> per_element = jaxloss.quantile_loss(p, t, quantile=0.9, reduction="none")
      >>> print([f"{float(v):.4f}" for v in per_element])
      ['1.8000', '0.1000']

    References:
      Koenker and Bassett, *Regression Quantiles*, Econometrica 1978.

    Notes:
      Under-prediction (``targets > predictions``) costs ``q·r``, over-prediction ``(1 − q)·|r|``.
      At ``r = 0`` the gradient is the average of the two one-sided slopes, ``q − ½`` w.r.t.
      ``targets``.
      Unchecked input: a NaN in either input gives NaN for that element and ``±inf`` gives
      ``+inf``; ``checked`` reports both.
    """
    name = "quantile_loss"
    val.check_ranges(name, quantile=quantile)
    p, t, dtype = _inputs(name, predictions, targets)
    val.check_broadcastable(name, "quantile", quantile, p.shape)
    q = as_hyper(quantile, dtype)
    r = t - p
    return apply_reduction(name, jnp.maximum(q * r, (q - 1.0) * r), weights, where, reduction)


@val.declare_ranges(epsilon=val.NONNEGATIVE)
def poisson_nll_loss(
    predictions: ArrayLike,
    targets: ArrayLike,
    *,
    log_input: bool = True,
    full: bool = False,
    epsilon: ArrayLike = 1e-8,
    weights: ArrayLike | None = None,
    where: ArrayLike | None = None,
    reduction: str = "mean",
) -> jax.Array:
    r"""Poisson negative log-likelihood, PyTorch ``PoissonNLLLoss`` semantics.

    With :math:`x` = ``predictions`` and :math:`y` = ``targets`` (counts),

    .. math::
       \ell_i = \begin{cases} e^{x_i} - y_i\,x_i & \text{log\_input} \\
                              x_i - y_i \log(x_i + \epsilon) & \text{otherwise} \end{cases}
                \; + \; [\text{full}]\,[y_i > 1]\,
                \big(y_i\log y_i - y_i + \tfrac12\log(2\pi y_i)\big)

    The last term is Stirling's approximation of :math:`\log(y!)`, added only where ``full`` and
    only for :math:`y > 1` (PyTorch).

    Args:
      predictions: log-rates (``log_input=True``) or rates :math:`\ge 0` (``log_input=False``), any
        shape ``[...]``.
      targets: observed counts :math:`\ge 0` (non-integers allowed), the same shape.
      log_input: static; whether ``predictions`` are log-rates.
      full: static; whether to add the Stirling term.
      epsilon: added to the rate inside the log when ``log_input=False`` (PyTorch's ``eps``); may be
        traced. A concrete negative value raises ``ValueError``.
      weights: per-element weights broadcastable to ``[...]`` (default 1).
      where: boolean mask broadcastable to ``[...]``; ``False`` drops the element.
      reduction: ``"mean"``, ``"sum"`` or ``"none"``.

    Returns:
      A scalar, or for ``"none"`` an array of shape ``[...]``, in the computation dtype.

    Raises:
      ValueError: a concrete ``epsilon`` < 0 (or a hyperparameter that does not broadcast to the
        loss shape).
      TypeError: complex or non-numeric inputs or hyperparameters (Python lists are converted), or
        ``log_input`` / ``full`` not a bool.

    Traced hyperparameters are range-checked by ``jaxloss.checked`` only. A traced ``epsilon`` < 0
    with ``log_input=False`` gives NaN where ``predictions + epsilon < 0`` and a positive count.

    Examples:
      >>> import jax.numpy as jnp
      >>> import jaxloss
      >>> x, y = jnp.array([0.0, 1.0]), jnp.array([1.0, 3.0])
      >>> print(f"{float(jaxloss.poisson_nll_loss(x, y)):.4f}")
      0.3591

    Aliases: ``"PoissonNLLLoss"`` (PyTorch, these defaults); ``"poisson"`` (Keras:
    ``y_pred − y_true·log(y_pred + 1e-7)``, bound as ``log_input=False, epsilon=1e-7``);
    ``"poisson_loss"`` (Flux: ``ŷ − xlogy(y, ŷ)``, bound as ``log_input=False, epsilon=0``).

    Notes:
      The product :math:`y\log(x + \epsilon)` is an ``xlogy``: it is exactly 0 where ``y = 0``, even
      at ``x + ε = 0`` (where PyTorch would give NaN), with finite gradients. A zero rate with a
      positive count gives ``+inf`` (the true NLL). Negative rates or counts are invalid input and
      unchecked.
      Unchecked input: a NaN gives NaN for that element; infinite inputs are evaluated as
      written, e.g. a log-rate of ``+inf`` gives NaN (``inf − y·inf``) and ``-inf`` gives
      ``+inf`` for a positive count. ``checked`` reports them.
    """
    name = "poisson_nll_loss"
    log_input = val.check_bool_flag(name, "log_input", log_input)
    full = val.check_bool_flag(name, "full", full)
    val.check_ranges(name, epsilon=epsilon)
    p, t, dtype = _inputs(name, predictions, targets)
    val.check_broadcastable(name, "epsilon", epsilon, p.shape)
    if log_input:
        values = jnp.exp(p) - t * p
    else:
        x = p + as_hyper(epsilon, dtype)
        # xlogy: y·log(x) with 0·log(0) = 0; log sees 1 only where y = 0 and x <= 0 (never selected)
        safe_x = jnp.where((t == 0) & (x <= 0), jnp.ones_like(x), x)
        values = p - t * jnp.log(safe_x)
    if full:
        big = t > 1
        ts = jnp.where(big, t, jnp.ones_like(t))
        # Stirling: log(y!) ≈ y log y − y + ½ log(2π y), only for y > 1 (PyTorch)
        stirling = ts * jnp.log(ts) - ts + 0.5 * jnp.log(ts) + _HALF_LOG_2PI
        values = values + jnp.where(big, stirling, jnp.zeros_like(stirling))
    return apply_reduction(name, values, weights, where, reduction)


@val.declare_ranges(epsilon=val.POSITIVE)
def gaussian_nll_loss(
    mean: ArrayLike,
    targets: ArrayLike,
    variance: ArrayLike,
    *,
    full: bool = False,
    epsilon: ArrayLike = 1e-6,
    weights: ArrayLike | None = None,
    where: ArrayLike | None = None,
    reduction: str = "mean",
) -> jax.Array:
    r"""Gaussian negative log-likelihood, PyTorch ``GaussianNLLLoss`` semantics.

    .. math::
       \ell_i = \tfrac12\Big(\log \max(\mathrm{variance}_i, \epsilon)
                 + \frac{(\mathrm{mean}_i - \mathrm{targets}_i)^2}{
                         \max(\mathrm{variance}_i, \epsilon)}\Big)
                 + [\text{full}]\,\tfrac12\log(2\pi)

    Args:
      mean: predicted means, shape ``[..., D]``.
      targets: observations, the same shape.
      variance: predicted variances :math:`\ge 0`, broadcast as PyTorch does: the same shape as
        ``mean``; or ``mean.shape[:-1]`` (one variance per row, homoscedastic over the last axis);
        or the same rank with exactly one axis of size 1 where ``mean``'s is not (e.g.
        ``[..., 1]``). Anything else raises ``ValueError``.
      full: static; whether to add the constant :math:`\tfrac12\log(2\pi)`.
      epsilon: the variance is clamped at ``epsilon`` for stability; may be traced. A concrete
        negative value raises ``ValueError``.
      weights: per-element weights broadcastable to ``[..., D]`` (default 1).
      where: boolean mask broadcastable to ``[..., D]``; ``False`` drops the element.
      reduction: ``"mean"`` (over all elements of ``mean``'s shape, as PyTorch), ``"sum"`` or
        ``"none"``.

    Returns:
      A scalar, or for ``"none"`` an array of ``mean``'s shape, in the computation dtype.

    Raises:
      ValueError: a concrete ``epsilon`` ≤ 0 (or a hyperparameter that does not broadcast to the
        loss shape).
      TypeError: complex or non-numeric inputs or hyperparameters (Python lists are converted), or
        ``full`` not a bool.

    Traced hyperparameters are range-checked by ``jaxloss.checked`` only. A traced ``epsilon`` ≤ 0
    no longer bounds the variance away from 0: a zero variance gives NaN (``-inf`` for a zero
    error).

    Examples:
      >>> import jax.numpy as jnp
      >>> import jaxloss
      >>> mu, y, var = jnp.array([0.0, 1.0]), jnp.array([1.0, 1.0]), jnp.array([1.0, 2.0])
      >>> print(f"{float(jaxloss.gaussian_nll_loss(mu, y, var)):.4f}")
      0.4233

    References:
      Nix and Weigend, *Estimating the mean and variance of the target probability distribution*,
      1994.

    Notes:
      As in PyTorch (which clamps under ``no_grad``), the clamp acts on the value only: the
      gradient w.r.t. ``variance`` is that of the formula evaluated at the clamped variance, passed
      straight through to ``variance`` even where the clamp is active, so it is finite at
      ``variance = 0``. Negative variances are invalid input; unchecked, they are clamped to
      ``epsilon`` like small ones (this PyTorch version does not check them either).
      Unchecked input: a NaN in any input gives NaN for that element; an infinite mean or
      target gives ``+inf`` and an infinite variance (either sign) NaN. ``checked`` reports them
      and negative variances.
    """
    name = "gaussian_nll_loss"
    full = val.check_bool_flag(name, "full", full)
    val.check_ranges(name, epsilon=epsilon)
    mu, t, dtype = _inputs(name, mean, targets, a_name="mean")
    val.check_broadcastable(name, "epsilon", epsilon, mu.shape)
    shape = mu.shape
    variance = val.as_real_array(name, "variance", variance)
    vshape = jnp.shape(variance)
    var = variance.astype(dtype)
    if vshape != shape:
        if len(shape) >= 1 and vshape == shape[:-1]:
            var = var[..., None]
        elif not (
            len(vshape) == len(shape)
            and sum(v for s, v in zip(shape, vshape, strict=False) if s != v) == 1
        ):
            raise ValueError(
                f"{name}: 'variance' of shape {vshape} does not match 'mean' of shape {shape}; it "
                f"must have the same shape, the shape without the last axis {shape[:-1]}, or the "
                f"same rank with exactly one axis of size 1"
            )
        var = jnp.broadcast_to(var, shape)
    eps = as_hyper(epsilon, dtype)
    # PyTorch clamps under no_grad: the forward value is max(var, ε), the backward is
    # straight-through
    var = var + jax.lax.stop_gradient(jnp.maximum(var, eps) - var)
    r = mu - t
    values = 0.5 * (jnp.log(var) + r * r / var)
    if full:
        values = values + _HALF_LOG_2PI
    return apply_reduction(name, values, weights, where, reduction)


# Losses of this family, canonical names (the registry lists these).
LOSSES = (
    mean_squared_error,
    mean_absolute_error,
    root_mean_squared_error,
    mean_squared_logarithmic_error,
    mean_absolute_percentage_error,
    huber_loss,
    smooth_l1_loss,
    log_cosh,
    quantile_loss,
    poisson_nll_loss,
    gaussian_nll_loss,
)

# Every name `jaxloss.get` resolves for this family (case-insensitive), canonical names included.
ALIASES = {
    **{fn.__name__: fn for fn in LOSSES},
    "mse": mean_squared_error,
    "MSELoss": mean_squared_error,
    "mse_loss": mean_squared_error,
    "squared_error": bind(mean_squared_error, "squared_error", reduction="none"),
    "mae": mean_absolute_error,
    "L1Loss": mean_absolute_error,
    "l1_loss": mean_absolute_error,
    "rmse": root_mean_squared_error,
    "msle": mean_squared_logarithmic_error,
    "mape": mean_absolute_percentage_error,
    "huber": huber_loss,
    "HuberLoss": huber_loss,
    "SmoothL1Loss": smooth_l1_loss,
    "logcosh": log_cosh,
    "pinball_loss": quantile_loss,
    "PoissonNLLLoss": poisson_nll_loss,
    "poisson": bind(poisson_nll_loss, "poisson", log_input=False, epsilon=1e-07),
    "poisson_loss": bind(poisson_nll_loss, "poisson_loss", log_input=False, epsilon=0.0),
    "GaussianNLLLoss": gaussian_nll_loss,
}
