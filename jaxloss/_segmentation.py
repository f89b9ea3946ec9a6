r"""Segmentation overlap losses: (probabilities, targets), one value per batch row.

Inputs are soft masks with a leading batch axis, e.g. ``[batch, height, width]`` or
``[batch, height, width, classes]``. By default (``axis=None``) the overlap sums run over every
axis but the first, so ``reduction="none"`` returns one loss per batch row; an explicit ``axis``
(an int or a tuple of ints) chooses the summed axes instead, and ``"none"`` then returns the
remaining axes (e.g. ``axis=(1, 2)`` on ``[B, H, W, C]`` gives a per-class loss of shape
``[B, C]``). ``weights`` and ``where`` broadcast to that per-row shape.

Every ratio below is guarded: a row whose denominator is exactly 0 (possible only with
``smooth = 0`` and an empty prediction and target) has ratio 1, hence loss 0 (two empty masks
agree perfectly), with a zero gradient — never 0/0.

Options shared by :func:`dice_loss`, :func:`tversky_loss` and :func:`jaccard_loss` (all static):

- ``smooth_numerator`` (default ``True``): ``smooth`` is added to numerator and denominator of the
  ratio; ``False`` adds it to the denominator only (Keras' ``backend.epsilon()`` convention),
  so an empty row has ratio 0, loss 1 (for ``smooth > 0``).
- ``activation`` (default ``None``: the inputs are probabilities): ``"sigmoid"`` applies σ to each
  element, ``"softmax"`` a softmax over the last axis (the class axis) — the inputs are logits.
- ``class_weighting`` (default ``None``): ``"inverse_square_frequency"`` multiplies each class's
  loss by :math:`\hat w_c = C\,v_c / \sum_{c'} v_{c'}`, :math:`v_c = 1/(T_c^2 + 10^{-7})`, where
  :math:`T_c` is the target volume of class ``c`` (the last axis, not summed) over the whole batch
  and :math:`C` the number of classes (the weights average to 1; optax's generalized-Dice
  weighting).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from . import _validation as val
from ._numerics import as_hyper, compute_dtype, softmax
from ._reduction import apply_reduction
from ._validation import check_axis, check_same_shape

__all__ = ["dice_loss", "tversky_loss", "jaccard_loss", "generalized_dice_loss"]


_ACTIVATIONS = (None, "sigmoid", "softmax")
_CLASS_WEIGHTINGS = (None, "inverse_square_frequency")


def _check_options(name: str, smooth_numerator, activation, class_weighting) -> bool:
    """The static options shared by dice / tversky / jaccard; returns ``smooth_numerator``."""
    if activation not in _ACTIVATIONS:
        raise ValueError(
            f"{name}: 'activation' must be None, 'sigmoid' or 'softmax', got {activation!r}"
        )
    if class_weighting not in _CLASS_WEIGHTINGS:
        raise ValueError(
            f"{name}: 'class_weighting' must be None or 'inverse_square_frequency', "
            f"got {class_weighting!r}"
        )
    return val.check_bool_flag(name, "smooth_numerator", smooth_numerator)


def _inputs(
    name: str,
    probabilities: ArrayLike,
    targets: ArrayLike,
    axis: int | tuple[int, ...] | None,
    activation: str | None = None,
) -> tuple[jax.Array, jax.Array, tuple[int, ...], jnp.dtype]:
    """(probabilities, targets) in the computation dtype and the summed axes, after the checks.

    With ``activation``, ``probabilities`` holds logits and is mapped through σ or the softmax
    over the last axis.
    """
    probabilities = val.as_real_array(name, "probabilities", probabilities)
    targets = val.as_real_array(name, "targets", targets)
    check_same_shape(name, "probabilities", probabilities, "targets", targets)
    dtype = compute_dtype(probabilities)
    p = probabilities.astype(dtype)
    t = targets.astype(dtype)
    if activation == "sigmoid":
        p = jax.nn.sigmoid(p)
    elif activation == "softmax":
        if p.ndim == 0:
            raise ValueError(f"{name}: activation='softmax' needs a class axis, got a scalar")
        p = softmax(p, axis=-1)
    ndim = p.ndim
    if axis is None:
        if ndim < 2:
            raise ValueError(
                f"{name}: 'probabilities' must have a leading batch axis and at least one more "
                f"axis when 'axis' is None, got shape {p.shape}"
            )
        axes = tuple(range(1, ndim))
    else:
        axes = tuple(
            check_axis(name, a, ndim) for a in ((axis,) if isinstance(axis, int) else axis)
        )
        if len(set(axes)) != len(axes):
            raise ValueError(f"{name}: 'axis' has a repeated axis, got {axis}")
    return p, t, axes, dtype


def _class_weighted(
    name: str, values: jax.Array, t: jax.Array, axes: tuple[int, ...], class_weighting
) -> jax.Array:
    """``values`` (the per-row loss) times the class weights of ``class_weighting`` (or as is)."""
    if class_weighting is None:
        return values
    if t.ndim - 1 in axes:
        raise ValueError(
            f"{name}: class_weighting={class_weighting!r} weights the classes on the last axis, "
            f"which must not be summed; got the summed axes {axes}"
        )
    # v_c = 1 / (T_c² + 1e-7) with T_c the batch-wide target volume; ŵ = C·v / Σv (mean 1)
    volume = jnp.sum(t, axis=tuple(range(t.ndim - 1)))
    v = 1.0 / (volume * volume + 1e-7)
    w = v / jnp.sum(v) * v.shape[0]
    return values * jnp.reshape(w, (1,) * (values.ndim - 1) + w.shape)


def _check_hyper_shapes(name: str, shape, axes, **hypers) -> None:
    """Each hyperparameter broadcasts to the per-row loss shape (``shape`` without ``axes``)."""
    loss_shape = tuple(s for i, s in enumerate(shape) if i not in axes)
    for arg, value in hypers.items():
        val.check_broadcastable(name, arg, value, loss_shape)


@jax.custom_jvp
def _ratio(numerator: jax.Array, denominator: jax.Array) -> jax.Array:
    """numerator / denominator, defined as 1 where the denominator is exactly 0.

    The derivative is written as d(n/d) = (dn − r·dd)/d with r = n/d: autodiff's −n·dd/d² squares
    a tiny denominator (d = 1e-36 → d² = 0 in float32) and forms 0/0 = NaN where n = 0, although
    the exact derivative is finite (the fuzzer found this with targets of 8.8e-37).
    """
    ok = denominator != 0
    # double where: 0/0 is never formed, so values and gradients stay finite
    return jnp.where(
        ok,
        numerator / jnp.where(ok, denominator, jnp.ones_like(denominator)),
        jnp.ones_like(denominator),
    )


@_ratio.defjvp
def _ratio_jvp(primals, tangents):
    n, d = primals
    dn, dd = tangents
    r = _ratio(n, d)
    ok = d != 0
    d_safe = jnp.where(ok, d, jnp.ones_like(d))
    # d(n/d) = (dn − r·dd)/d; 0 where the ratio is the constant 1 (d = 0)
    return r, jnp.where(ok, (dn - r * dd) / d_safe, jnp.zeros_like(r))


@val.declare_ranges(smooth=val.NONNEGATIVE)
def dice_loss(
    probabilities: ArrayLike,
    targets: ArrayLike,
    *,
    smooth: ArrayLike = 1.0,
    smooth_numerator: bool = True,
    activation: str | None = None,
    class_weighting: str | None = None,
    axis: int | tuple[int, ...] | None = None,
    weights: ArrayLike | None = None,
    where: ArrayLike | None = None,
    reduction: str = "mean",
) -> jax.Array:
    r"""Soft Dice loss, one minus the smoothed Sørensen–Dice coefficient.

    With :math:`p` = ``probabilities``, :math:`t` = ``targets``, :math:`s` = ``smooth`` and the
    sums over ``axis`` (default: every axis but the batch axis 0),

    .. math::
       \ell = 1 - \frac{2\sum p\,t + [n]\,s}{\sum p + \sum t + s}

    with :math:`[n] = 1` (``smooth_numerator=True``, the default) or 0 (``smooth`` in the
    denominator only: Keras' ``dice``, whose ε = 1e-7 is ``smooth=1e-7,
    smooth_numerator=False``).

    Args:
      probabilities: predicted foreground probabilities in ``[0, 1]``, shape ``[B, ...]``
        (logits with ``activation``).
      targets: ground-truth masks in ``[0, 1]`` (binary or soft; bool / int masks are cast), the
        same shape.
      smooth: additive smoothing :math:`s \ge 0` of numerator and denominator; may be traced.
        A concrete negative value raises ``ValueError``.
      smooth_numerator: static; ``True`` adds ``smooth`` to numerator and denominator, ``False``
        to the denominator only (:math:`[\cdot]` in the formula; Keras' convention).
      activation: static; ``None`` (inputs are probabilities), ``"sigmoid"`` (element-wise σ of
        logits) or ``"softmax"`` (softmax of logits over the last axis, the class axis).
      class_weighting: static; ``None`` or ``"inverse_square_frequency"``: each class's loss (the
        last axis, which must not be summed) times
        :math:`C\,v_c/\sum v`, :math:`v_c = 1/(T_c^2 + 10^{-7})`, :math:`T_c` the target
        volume of class ``c`` over the whole batch (optax's generalized-Dice weights).
      axis: the summed axes (int or tuple); ``None`` means all axes but 0.
      weights: per-row weights broadcastable to the unreduced loss shape (``[B]`` by default).
      where: boolean mask of the same broadcast shape; ``False`` drops the row.
      reduction: ``"mean"``, ``"sum"`` or ``"none"``.

    Returns:
      A scalar, or for ``"none"`` the loss per row (shape ``[B]`` by default: the input shape
      without the summed axes), in the computation dtype.

    Raises:
      ValueError: a concrete ``smooth`` < 0 (or a hyperparameter that does not broadcast to the loss
        shape).
      TypeError: complex or non-numeric inputs or hyperparameters (Python lists are converted).

    Traced hyperparameters are range-checked by ``jaxloss.checked`` only. A traced ``smooth`` < 0 is
    evaluated as written: the loss can leave [0, 1] and is exactly 0 where the sums equal −smooth
    (``smooth = -1`` with empty masks gives 0).

    Examples:
      >>> import jax.numpy as jnp
      >>> import jaxloss
      >>> p = jnp.array([[0.9, 0.8, 0.1, 0.0], [0.0, 0.0, 0.0, 0.0]])
      >>> t = jnp.array([[1.0, 1.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0]])
      >>> print([f"{float(v):.4f}" for v in jaxloss.dice_loss(p, t, reduction="none")])
      ['0.0833', '0.0000']

    References:
      Milletari et al., *V-Net*, 2016.

    Notes:
      An empty row (``p`` and ``t`` all 0) has loss 0 for any ``smooth > 0``; with ``smooth = 0``
      the ratio 0/0 is defined as 1 (loss 0) with a zero gradient. Probabilities or targets
      outside ``[0, 1]`` are unchecked: the formula is evaluated as written.
      A NaN in either input gives NaN for its row (the sums couple the row); ``checked`` reports
      NaN and values outside ``[0, 1]``.
    """
    name = "dice_loss"
    val.check_ranges(name, smooth=smooth)
    in_numerator = _check_options(name, smooth_numerator, activation, class_weighting)
    p, t, axes, dtype = _inputs(name, probabilities, targets, axis, activation)
    _check_hyper_shapes(name, p.shape, axes, smooth=smooth)
    s = as_hyper(smooth, dtype)
    intersection = jnp.sum(p * t, axis=axes)
    total = jnp.sum(p, axis=axes) + jnp.sum(t, axis=axes)
    numerator = 2.0 * intersection + s if in_numerator else 2.0 * intersection
    values = 1.0 - _ratio(numerator, total + s)
    values = _class_weighted(name, values, t, axes, class_weighting)
    return apply_reduction(name, values, weights, where, reduction)


@val.declare_ranges(alpha=val.NONNEGATIVE, beta=val.NONNEGATIVE, smooth=val.NONNEGATIVE)
def tversky_loss(
    probabilities: ArrayLike,
    targets: ArrayLike,
    *,
    alpha: ArrayLike = 0.5,
    beta: ArrayLike = 0.5,
    smooth: ArrayLike = 1.0,
    smooth_numerator: bool = True,
    activation: str | None = None,
    class_weighting: str | None = None,
    axis: int | tuple[int, ...] | None = None,
    weights: ArrayLike | None = None,
    where: ArrayLike | None = None,
    reduction: str = "mean",
) -> jax.Array:
    r"""Tversky loss: Dice with separate weights on false positives and false negatives.

    With :math:`p` = ``probabilities``, :math:`t` = ``targets`` and the sums over ``axis``,

    .. math::
       \mathrm{TP} = \sum p\,t, \quad \mathrm{FP} = \sum p\,(1 - t), \quad
       \mathrm{FN} = \sum (1 - p)\,t, \qquad
       \ell = 1 - \frac{\mathrm{TP} + [n]\,s}{\mathrm{TP} + \alpha\,\mathrm{FP} + \beta\,\mathrm{FN}
       + s}

    with :math:`[n] = 1` (``smooth_numerator=True``, the default) or 0 (denominator only, Keras).

    **``alpha`` multiplies the false positives** :math:`\sum p(1 - t)` (predicted foreground
    where the target is background) and **``beta`` multiplies the false negatives**
    :math:`\sum (1 - p)t` (missed foreground). Raise ``beta`` to favour recall, ``alpha`` to favour
    precision. ``alpha = beta = 0.5`` is :func:`dice_loss` with twice the smoothing
    (``dice_loss(..., smooth=2 * smooth)``; identical for ``smooth = 0``); ``alpha = beta = 1`` is
    :func:`jaccard_loss` with the same smoothing.

    Args:
      probabilities: predicted foreground probabilities in ``[0, 1]``, shape ``[B, ...]``
        (logits with ``activation``).
      targets: ground-truth masks in ``[0, 1]``, the same shape.
      alpha: weight :math:`\alpha \ge 0` of the false positives; may be traced.
      beta: weight :math:`\beta \ge 0` of the false negatives; may be traced.
      smooth: additive smoothing :math:`s \ge 0`; may be traced.
      smooth_numerator: static; ``True`` adds ``smooth`` to numerator and denominator, ``False``
        to the denominator only (:math:`[\cdot]` in the formula; Keras' convention).
      activation: static; ``None`` (inputs are probabilities), ``"sigmoid"`` (element-wise σ of
        logits) or ``"softmax"`` (softmax of logits over the last axis, the class axis).
      class_weighting: static; ``None`` or ``"inverse_square_frequency"``: each class's loss (the
        last axis, which must not be summed) times
        :math:`C\,v_c/\sum v`, :math:`v_c = 1/(T_c^2 + 10^{-7})`, :math:`T_c` the target
        volume of class ``c`` over the whole batch (optax's generalized-Dice weights).
      axis: the summed axes (int or tuple); ``None`` means all axes but 0.
      weights: per-row weights broadcastable to the unreduced loss shape (``[B]`` by default).
      where: boolean mask of the same broadcast shape; ``False`` drops the row.
      reduction: ``"mean"``, ``"sum"`` or ``"none"``.

    Concrete negative ``alpha``, ``beta`` or ``smooth`` raise ``ValueError``.

    Returns:
      A scalar, or for ``"none"`` the loss per row (shape ``[B]`` by default), in the computation
      dtype.

    Raises:
      ValueError: a concrete ``alpha`` < 0, ``beta`` < 0 or ``smooth`` < 0 (or a hyperparameter that
        does not broadcast to the loss shape).
      TypeError: complex or non-numeric inputs or hyperparameters (Python lists are converted).

    Traced hyperparameters are range-checked by ``jaxloss.checked`` only. Traced ``alpha`` /
    ``beta`` < 0 can shrink the denominator below the numerator: the index then exceeds 1 and the
    loss is negative; a traced ``smooth`` < 0 behaves as in :func:`dice_loss`.

    Examples:
      >>> import jax.numpy as jnp
      >>> import jaxloss
      >>> p = jnp.array([[1.0, 1.0, 0.0, 0.0]])  # one false positive (position 1)
      >>> t = jnp.array([[1.0, 0.0, 0.0, 0.0]])
      >>> print(f"{float(jaxloss.tversky_loss(p, t, alpha=0.9, beta=0.1, smooth=0.0)):.4f}")
      0.4737
      >>> print(f"{float(jaxloss.tversky_loss(p, t, alpha=0.1, beta=0.9, smooth=0.0)):.4f}")
      0.0909

    References:
      Salehi, Erdogmus and Gholipour, *Tversky loss function for image segmentation using 3D fully
      convolutional deep networks*, 2017.

    Notes:
      A row whose denominator is exactly 0 (e.g. empty masks with ``smooth = 0``) has loss 0 and
      a zero gradient.
      Unchecked input: probabilities or targets outside ``[0, 1]`` are used as written in the
      formula, and a NaN gives NaN for its row; ``checked`` reports them.
    """
    name = "tversky_loss"
    val.check_ranges(name, alpha=alpha, beta=beta, smooth=smooth)
    in_numerator = _check_options(name, smooth_numerator, activation, class_weighting)
    p, t, axes, dtype = _inputs(name, probabilities, targets, axis, activation)
    _check_hyper_shapes(name, p.shape, axes, alpha=alpha, beta=beta, smooth=smooth)
    a, b, s = as_hyper(alpha, dtype), as_hyper(beta, dtype), as_hyper(smooth, dtype)
    tp = jnp.sum(p * t, axis=axes)
    fp = jnp.sum(p * (1.0 - t), axis=axes)
    fn = jnp.sum((1.0 - p) * t, axis=axes)
    values = 1.0 - _ratio(tp + s if in_numerator else tp, tp + a * fp + b * fn + s)
    values = _class_weighted(name, values, t, axes, class_weighting)
    return apply_reduction(name, values, weights, where, reduction)


@val.declare_ranges(smooth=val.NONNEGATIVE)
def jaccard_loss(
    probabilities: ArrayLike,
    targets: ArrayLike,
    *,
    smooth: ArrayLike = 1.0,
    smooth_numerator: bool = True,
    activation: str | None = None,
    class_weighting: str | None = None,
    axis: int | tuple[int, ...] | None = None,
    weights: ArrayLike | None = None,
    where: ArrayLike | None = None,
    reduction: str = "mean",
) -> jax.Array:
    r"""Soft Jaccard (IoU) loss, one minus the smoothed soft intersection over union.

    With :math:`p` = ``probabilities``, :math:`t` = ``targets``, :math:`s` = ``smooth`` and the
    sums over ``axis`` (default: every axis but the batch axis 0),

    .. math::
       \ell = 1 - \frac{\sum p\,t + [n]\,s}{\sum p + \sum t - \sum p\,t + s}

    with :math:`[n] = 1` (``smooth_numerator=True``, the default) or 0 (denominator only).

    Args:
      probabilities: predicted foreground probabilities in ``[0, 1]``, shape ``[B, ...]``
        (logits with ``activation``).
      targets: ground-truth masks in ``[0, 1]``, the same shape.
      smooth: additive smoothing :math:`s \ge 0`; may be traced. A concrete negative value raises
        ``ValueError``.
      smooth_numerator: static; ``True`` adds ``smooth`` to numerator and denominator, ``False``
        to the denominator only (:math:`[\cdot]` in the formula; Keras' convention).
      activation: static; ``None`` (inputs are probabilities), ``"sigmoid"`` (element-wise σ of
        logits) or ``"softmax"`` (softmax of logits over the last axis, the class axis).
      class_weighting: static; ``None`` or ``"inverse_square_frequency"``: each class's loss (the
        last axis, which must not be summed) times
        :math:`C\,v_c/\sum v`, :math:`v_c = 1/(T_c^2 + 10^{-7})`, :math:`T_c` the target
        volume of class ``c`` over the whole batch (optax's generalized-Dice weights).
      axis: the summed axes (int or tuple); ``None`` means all axes but 0.
      weights: per-row weights broadcastable to the unreduced loss shape (``[B]`` by default).
      where: boolean mask of the same broadcast shape; ``False`` drops the row.
      reduction: ``"mean"``, ``"sum"`` or ``"none"``.

    Returns:
      A scalar, or for ``"none"`` the loss per row (shape ``[B]`` by default), in the computation
      dtype.

    Raises:
      ValueError: a concrete ``smooth`` < 0 (or a hyperparameter that does not broadcast to the loss
        shape).
      TypeError: complex or non-numeric inputs or hyperparameters (Python lists are converted).

    Traced hyperparameters are range-checked by ``jaxloss.checked`` only. A traced ``smooth`` < 0 is
    evaluated as written: the loss can leave [0, 1] and is exactly 0 where the union equals −smooth.

    Examples:
      >>> import jax.numpy as jnp
      >>> import jaxloss
      >>> p = jnp.array([[1.0, 1.0, 0.0, 0.0]])
      >>> t = jnp.array([[1.0, 0.0, 0.0, 0.0]])
      >>> print(f"{float(jaxloss.jaccard_loss(p, t, smooth=0.0)):.4f}")
      0.5000

    References:
      Rahman and Wang, *Optimizing Intersection-Over-Union in Deep Neural Networks for Image
      Segmentation*, 2016.

    Notes:
      An empty row has loss 0 (for ``smooth = 0`` the ratio 0/0 is defined as 1, with a zero
      gradient). For inputs in ``[0, 1]`` the denominator is at least the smoothing.
      Unchecked input: probabilities or targets outside ``[0, 1]`` are used as written in the
      formula, and a NaN gives NaN for its row; ``checked`` reports them.
    """
    name = "jaccard_loss"
    val.check_ranges(name, smooth=smooth)
    in_numerator = _check_options(name, smooth_numerator, activation, class_weighting)
    p, t, axes, dtype = _inputs(name, probabilities, targets, axis, activation)
    _check_hyper_shapes(name, p.shape, axes, smooth=smooth)
    s = as_hyper(smooth, dtype)
    intersection = jnp.sum(p * t, axis=axes)
    union = jnp.sum(p, axis=axes) + jnp.sum(t, axis=axes) - intersection
    values = 1.0 - _ratio(intersection + s if in_numerator else intersection, union + s)
    values = _class_weighted(name, values, t, axes, class_weighting)
    return apply_reduction(name, values, weights, where, reduction)


@val.declare_ranges(epsilon=val.NONNEGATIVE)
def generalized_dice_loss(
    probabilities: ArrayLike,
    targets: ArrayLike,
    *,
    class_axis: int = -1,
    epsilon: ArrayLike = 1e-6,
    weights: ArrayLike | None = None,
    where: ArrayLike | None = None,
    reduction: str = "mean",
) -> jax.Array:
    r"""Generalized Dice loss (Sudre et al. 2017): multi-class Dice with class weights 1/volume².

    For each batch row, with sums over every axis but the batch axis 0 and ``class_axis``, let
    :math:`I_c = \sum p_c t_c`, :math:`P_c = \sum p_c`, :math:`T_c = \sum t_c` and
    :math:`w_c = 1 / T_c^2`. Then

    .. math::
       \ell = 1 - \frac{2\sum_c \hat w_c I_c + \epsilon}{\sum_c \hat w_c (P_c + T_c) + \epsilon},
       \qquad \hat w_c = \frac{w_c}{\max_{c'} w_{c'}} = \Big(\frac{\min_{c'} T_{c'}}{T_c}\Big)^2

    Guard for absent classes: a class with :math:`T_c = 0` would get an infinite weight; as in
    the reference implementation (NiftyNet, also MONAI) it gets the largest weight among the
    classes present in the row (:math:`\hat w_c = 1`), so predicted mass on an absent class
    costs as much as on the rarest present class. A row with no class present gives every class
    weight 1. The weights are normalised by their maximum (which leaves the ratio unchanged for
    ``epsilon = 0``) so that they lie in ``(0, 1]``: no overflow for small volumes, and
    ``epsilon`` is a smoothing on the scale of the rarest present class's voxel count.

    Args:
      probabilities: per-class probabilities (e.g. a softmax output), shape ``[B, ..., C]`` with
        the classes on ``class_axis``.
      targets: one-hot (or soft) targets, the same shape.
      class_axis: the class axis (static); must not be the batch axis 0.
      epsilon: smoothing :math:`\epsilon \ge 0` of numerator and denominator; may be traced. An
        empty row (all ``p`` and ``t`` zero) has loss 0. A concrete negative value raises
        ``ValueError``.
      weights: per-row weights broadcastable to ``[B]``.
      where: boolean mask broadcastable to ``[B]``; ``False`` drops the row.
      reduction: ``"mean"``, ``"sum"`` or ``"none"``.

    Returns:
      A scalar, or for ``"none"`` one loss per batch row (shape ``[B]``), in the computation dtype.

    Raises:
      ValueError: a concrete ``epsilon`` < 0 (or a hyperparameter that does not broadcast to the
        loss shape).
      TypeError: complex or non-numeric inputs or hyperparameters (Python lists are converted).

    Traced hyperparameters are range-checked by ``jaxloss.checked`` only. A traced ``epsilon`` < 0
    is evaluated as written: the loss can leave [0, 1].

    Examples:
      >>> import jax.numpy as jnp
      >>> import jaxloss
      >>> t = jnp.array([[[1.0, 0.0], [0.0, 1.0], [0.0, 1.0], [0.0, 1.0]]])  # [B=1, 4 pixels, C=2]
      >>> p = jnp.array([[[0.6, 0.4], [0.1, 0.9], [0.2, 0.8], [0.3, 0.7]]])
      >>> print(f"{float(jaxloss.generalized_dice_loss(p, t)):.4f}")
      0.3906

    References:
      Sudre et al., *Generalised Dice overlap as a deep learning loss function for highly
      unbalanced segmentations*, DLMIA 2017.

    Notes:
      The weights depend on ``targets`` only. With ``epsilon = 0``, a row whose denominator is 0 has
      loss 0 and a zero gradient. Inputs outside ``[0, 1]`` are unchecked.
      Unchecked, the formula is evaluated as written (a non-positive target sum counts as an
      absent class) and a NaN gives NaN for its row; ``checked`` reports them.
    """
    name = "generalized_dice_loss"
    val.check_ranges(name, epsilon=epsilon)
    probabilities = val.as_real_array(name, "probabilities", probabilities)
    check_same_shape(name, "probabilities", probabilities, "targets", targets)
    ndim = jnp.ndim(probabilities)
    if ndim < 2:
        raise ValueError(
            f"{name}: 'probabilities' must have shape [batch, ..., classes] (rank >= 2), got shape "
            f"{jnp.shape(probabilities)}"
        )
    ca = check_axis(name, class_axis, ndim, "class_axis")
    if ca == 0:
        raise ValueError(f"{name}: 'class_axis' must not be the batch axis 0")
    val.check_nonempty_axis(name, "probabilities", jnp.shape(probabilities), ca, "classes")
    _check_hyper_shapes(
        name, jnp.shape(probabilities), tuple(i for i in range(1, ndim)), epsilon=epsilon
    )
    p, t, _, dtype = _inputs(name, probabilities, targets, None)
    p = jnp.moveaxis(p, ca, -1)
    t = jnp.moveaxis(t, ca, -1)
    axes = tuple(range(1, ndim - 1))
    intersection = jnp.sum(p * t, axis=axes)  # [B, C]
    psum = jnp.sum(p, axis=axes)
    tsum = jnp.sum(t, axis=axes)
    present = tsum > 0
    any_present = jnp.any(present, axis=-1, keepdims=True)
    tmin = jnp.min(jnp.where(present, tsum, jnp.full_like(tsum, jnp.inf)), axis=-1, keepdims=True)
    tmin = jnp.where(any_present, tmin, jnp.ones_like(tmin))
    # ŵ_c = w_c / max w = (min T / T_c)² ∈ (0, 1]; absent classes (T_c = 0) get the max weight, 1
    # _ratio's derivative (dn − r·dd)/d: autodiff's −n·dd/d² underflows d² at T_c ~ 1e-227 (float64)
    ratio_c = _ratio(tmin, jnp.where(present, tsum, jnp.ones_like(tsum)))
    w = jnp.where(present, ratio_c * ratio_c, jnp.ones_like(tsum))
    eps = as_hyper(epsilon, dtype)
    numerator = 2.0 * jnp.sum(w * intersection, axis=-1) + eps
    denominator = jnp.sum(w * (psum + tsum), axis=-1) + eps
    values = 1.0 - _ratio(numerator, denominator)
    return apply_reduction(name, values, weights, where, reduction)


# Losses of this family, canonical names (the registry lists these).
LOSSES = (
    dice_loss,
    tversky_loss,
    jaccard_loss,
    generalized_dice_loss,
)

# Every name `jaxloss.get` resolves for this family (case-insensitive), canonical names included.
ALIASES = {
    **{fn.__name__: fn for fn in LOSSES},
    "dice": dice_loss,
    "dice_coeff_loss": dice_loss,
    "tversky": tversky_loss,
    "iou_loss": jaccard_loss,
}
