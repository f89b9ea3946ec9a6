"""Other multi-class losses: focal, poly-1 and the margin (hinge) family.

Every loss here reduces over a class axis (``axis=-1`` by default, any axis allowed): with
``reduction="none"`` the result has the input's shape without that axis. The sparse losses take
integer ``labels`` of exactly that shape.

Shared conventions of the sparse (integer-label) losses in this module:

* ``ignore_index`` (static int or ``None``): matching labels contribute nothing to the loss, the
  gradient or the ``"mean"`` normaliser, and ``"none"`` returns exactly 0 there.
* Labels outside ``[0, C)`` that are not ``ignore_index`` are invalid input. Unchecked, the loss
  value *and* gradient at such a position are NaN (so the reduction is NaN unless ``where`` masks
  it; ``weights`` of 0 do not, 0 · NaN), as in the softmax cross-entropies. ``jaxloss.checked``
  reports them.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

from . import _validation as val
from ._cross_entropy import softmax_cross_entropy
from ._numerics import as_compute, as_hyper, clamped_log, log_softmax, nan_where
from ._reduction import apply_reduction

__all__ = [
    "softmax_focal_loss",
    "categorical_focal_loss",
    "categorical_focal_crossentropy",
    "poly1_cross_entropy",
    "multiclass_hinge_loss",
    "categorical_hinge",
    "multi_margin_loss",
    "multilabel_margin_loss",
    "generalized_cross_entropy",
    "multiclass_perceptron_loss",
]


# ---------------------------------------------------------------------------------------------
# Plumbing shared by the losses of this module
# ---------------------------------------------------------------------------------------------


def _class_last(name: str, arg: str, x: ArrayLike, axis: int, dtype=None) -> jax.Array:
    """``x`` in the computation dtype with the class axis moved last (validates rank and axis)."""
    x = as_compute(val.as_real_array(name, arg, x), dtype)
    val.check_rank(name, arg, x, 1)
    ax = val.check_axis(name, axis, x.ndim)
    val.check_nonempty_axis(name, arg, x.shape, ax, "classes")
    return jnp.moveaxis(x, ax, -1)


def _check_where(name: str, where: ArrayLike | None, shape: tuple[int, ...]) -> None:
    """The checks :func:`apply_reduction` runs, done before ``where`` is combined with a mask."""
    if where is None:
        return
    val.check_broadcastable(name, "where", where, shape)
    if jnp.result_type(where) != jnp.bool_:
        raise TypeError(
            f"{name}: 'where' must be a boolean mask, got dtype {jnp.result_type(where)}"
        )


def _sparse_setup(
    name: str,
    arg: str,
    scores: ArrayLike,
    labels: ArrayLike,
    axis: int,
    ignore_index: int | None,
    where: ArrayLike | None,
):
    """Validates and prepares ``(scores, labels)`` of a sparse loss.

    Returns ``(x, safe_labels, ok, bad, mask)``: ``x`` with the class axis last (computation
    dtype); ``safe_labels`` with every unusable label replaced by 0 (so gathers stay finite); ``ok``
    where the label is a usable class id; ``bad`` where it is out of range and not ignored (the
    value there becomes NaN); ``mask`` the ``where`` for :func:`apply_reduction` (user ``where``
    and not ignored), or ``None``.
    """
    x = _class_last(name, arg, scores, axis)
    labels = val.as_integer_array(name, "labels", labels)
    shape = x.shape[:-1]
    if labels.shape != shape:
        ax = axis % jnp.ndim(scores)
        raise ValueError(
            f"{name}: 'labels' must have the shape of '{arg}' without the class axis {ax}, "
            f"i.e. {shape}, got {labels.shape}"
        )
    if ignore_index is not None and (
        isinstance(ignore_index, bool) or not isinstance(ignore_index, (int, np.integer))
    ):
        raise TypeError(f"{name}: 'ignore_index' must be an int or None, got {ignore_index!r}")
    _check_where(name, where, shape)

    num_classes = x.shape[-1]
    in_range = (labels >= 0) & (labels < num_classes)
    if ignore_index is None:
        ok, bad, mask = in_range, ~in_range, where
    else:
        kept = labels != ignore_index
        ok = in_range & kept
        bad = ~in_range & kept
        mask = kept if where is None else jnp.broadcast_to(jnp.asarray(where), shape) & kept
    safe_labels = jnp.where(ok, labels, jnp.zeros_like(labels))
    # a kept example with an invalid label: its scores become NaN (× NaN), so its gradient is NaN
    # whatever selects the loss applies downstream (the transpose of the product is ct · NaN)
    x = x * nan_where(_kept_bad(bad, mask), x.dtype)[..., None]
    return x, safe_labels, ok, bad, mask


def _kept_bad(bad: jax.Array, mask) -> jax.Array:
    return bad if mask is None else bad & jnp.broadcast_to(jnp.asarray(mask), bad.shape)


def _pick(x: jax.Array, safe_labels: jax.Array) -> jax.Array:
    """``x[..., label]`` along the (last) class axis."""
    return jnp.take_along_axis(x, safe_labels[..., None], axis=-1)[..., 0]


def _is_label(safe_labels: jax.Array, num_classes: int) -> jax.Array:
    """One-hot boolean ``[..., C]`` of the labels (rank-matched: strict rank promotion)."""
    classes = jnp.arange(num_classes, dtype=safe_labels.dtype).reshape(
        (1,) * safe_labels.ndim + (num_classes,)
    )
    return safe_labels[..., None] == classes


def _posinf_rows(x: jax.Array) -> jax.Array:
    """NaN on rows (class axis last) holding a ``+inf`` logit, exactly 1 elsewhere.

    A ``+inf`` logit has no defined softmax (inf − inf): NaN for that row wherever the ``+inf``
    is, as in :func:`jaxloss.sparse_softmax_cross_entropy` (the NaN-input rule).
    """
    return nan_where(jnp.any(x == jnp.inf, axis=-1), x.dtype)


def _finish(
    name: str, values: jax.Array, bad: jax.Array, mask, weights, reduction: str
) -> jax.Array:
    # invalid (out-of-range, not ignored) labels on kept examples: value NaN (their scores are
    # NaN too, see _sparse_setup: the gradient is NaN); dropped examples keep an exact 0
    values = values * nan_where(_kept_bad(bad, mask), values.dtype)
    return apply_reduction(name, values, weights, mask, reduction)


def _class_factor(name: str, arg: str, value: ArrayLike, num_classes: int, dtype) -> jax.Array:
    """A scalar or per-class ``[C]`` hyperparameter as an array of ``dtype`` (shape () or (C,))."""
    shape = jnp.shape(value)
    if len(shape) > 1 or (len(shape) == 1 and shape[0] != num_classes):
        raise ValueError(
            f"{name}: '{arg}' must be a scalar or have shape ({num_classes},) (one factor per "
            f"class), got shape {shape}"
        )
    val.check_ranges(name, **{arg: value})
    return as_hyper(value, dtype)


def _check_scalar(name: str, arg: str, value: ArrayLike) -> None:
    if jnp.ndim(value) != 0:
        raise ValueError(
            f"{name}: '{arg}' must be a scalar (use jax.vmap to sweep it), got shape "
            f"{jnp.shape(value)}"
        )


def _modulator(q: jax.Array, gamma: jax.Array) -> jax.Array:
    """q**gamma for q ≥ 0, with 0**0 = 1 and finite derivatives at q = 0 (where they are 0)."""
    pos = q > 0
    q_safe = jnp.where(pos, q, jnp.ones_like(q))
    # double where: the power (and its derivative γ·q^(γ−1)) only ever sees q > 0
    at_zero = jnp.where(gamma == 0, jnp.ones_like(gamma), jnp.zeros_like(gamma))
    return jnp.where(pos, jnp.exp(gamma * jnp.log(q_safe)), at_zero)


def _x_over_expm1(x: jax.Array) -> jax.Array:
    """x / expm1(x), equal to 1 at x = 0 and smooth (all derivatives finite) for finite x."""
    small = jnp.abs(x) < 1e-4
    x_big = jnp.where(small, jnp.ones_like(x), x)
    # x/(eˣ − 1) = 1 − x/2 + x²/12 − x⁴/720 + …: the series below |x| < 1e-4 is exact to < 2e-19
    return jnp.where(small, 1 - x / 2 + x * x / 12, x_big / jnp.expm1(x_big))


@jax.custom_jvp
def _focal_nll(logp: jax.Array, gamma: jax.Array) -> jax.Array:
    """−(1 − p)^γ · log p from log p ≤ 0, with finite first derivatives at p → 1 for any γ ≥ 0."""
    q = -jnp.expm1(logp)  # 1 − p, accurate near p = 1
    return -_modulator(q, gamma) * logp


@_focal_nll.defjvp
def _focal_nll_jvp(primals, tangents):
    logp, gamma = primals
    dlogp, dgamma = tangents
    q = -jnp.expm1(logp)
    m = _modulator(q, gamma)
    pos = q > 0
    log_q = jnp.log(jnp.where(pos, q, jnp.ones_like(q)))  # 0 where q = 0 (then m·log q → 0)
    p = jnp.exp(logp)
    # d/dℓ[−q^γ ℓ] = −q^γ + γ p ℓ q^(γ−1) = −q^γ (1 + γ p s), s = ℓ/expm1(ℓ) = −ℓ/q ∈ [1, ∞):
    # the ratio ℓ/q is formed without dividing by a vanishing q, so q^(γ−1) never appears
    d_logp = -m * (1 + gamma * p * _x_over_expm1(logp))
    # d/dγ[−q^γ ℓ] = −ℓ q^γ log q
    d_gamma = -logp * m * log_q
    out = -m * logp
    return out, d_logp * dlogp + d_gamma * dgamma


# ---------------------------------------------------------------------------------------------
# Focal losses
# ---------------------------------------------------------------------------------------------


@val.declare_ranges(gamma=val.NONNEGATIVE, alpha=val.NONNEGATIVE)
def softmax_focal_loss(
    logits: ArrayLike,
    labels: ArrayLike,
    *,
    axis: int = -1,
    gamma: ArrayLike = 2.0,
    alpha: ArrayLike | None = None,
    ignore_index: int | None = None,
    weights: ArrayLike | None = None,
    where: ArrayLike | None = None,
    reduction: str = "mean",
) -> jax.Array:
    r"""Multi-class focal loss on logits and integer labels (Lin et al. 2017).

    .. math::
       \ell = -\alpha_{y}\,(1 - p_{y})^{\gamma}\,\log p_{y},
       \qquad \log p = \operatorname{log\_softmax}(\mathrm{logits}),\ y = \mathrm{labels}

    With ``gamma=0`` and ``alpha=None`` this is exactly the sparse softmax cross-entropy.

    Args:
      logits: unnormalised scores, shape ``[..., C, ...]`` with the classes on ``axis``. Logits of
        ``-inf`` mark classes that do not exist for that row (masked vocabulary); they are fine
        as long as the label's own logit is finite.
      labels: integer class ids in ``[0, C)``, shape of ``logits`` without ``axis``.
      axis: the class axis (static).
      gamma: focusing parameter ``γ ≥ 0``, a scalar (may be traced; sweep it with ``jax.vmap``).
      alpha: ``None`` (no factor), a scalar that multiplies every example, or a per-class vector
        of shape ``[C]`` whose entry ``alpha[labels]`` multiplies the example. Unlike the binary
        focal loss there is no ``1 − α`` term. ``alpha`` is a factor of the loss value, not a
        weight of the mean: ``"mean"`` divides by the number (or ``weights``-sum) of valid
        examples, not by the summed ``alpha`` of their labels.
      ignore_index: a label value that is ignored (static), or ``None``.
      weights: per-example weights, broadcastable to the shape of ``labels``.
      where: boolean mask of that shape; ``False`` drops the example.
      reduction: ``"mean"``, ``"sum"`` or ``"none"``.

    Returns:
      A scalar, or for ``"none"`` an array of the shape of ``labels`` (0 at ignored and masked
      positions); float32 for half-precision logits, otherwise the logits' dtype.

    Raises:
      ValueError: a concrete ``gamma`` < 0 or ``alpha`` < 0 (or a hyperparameter that does not
        broadcast to the loss shape).
      TypeError: complex or non-numeric inputs or hyperparameters (Python lists are converted).

    Traced hyperparameters are range-checked by ``jaxloss.checked`` only. A traced ``gamma`` < 0 up-
    weights confident predictions: (1 − p_t)^γ grows without bound as p_t → 1 (the loss then tends
    to 0, 1 or ``inf`` for γ > −1, γ = −1, γ < −1, and is 0 at p_t = 1 exactly); a negative
    ``alpha`` gives negative losses.

    Examples:
      >>> import jax.numpy as jnp
      >>> import jaxloss
      >>> logits = jnp.array([[2.0, 0.5, -1.0], [0.1, 0.2, 0.3]])
      >>> labels = jnp.array([0, 2])
      >>> print(f"{float(jaxloss.softmax_focal_loss(logits, labels)):.4f}")
      0.2062
      >>> ce = jaxloss.softmax_focal_loss(logits, labels, gamma=0.0)  # = cross-entropy
      >>> print(f"{float(ce):.4f}")
      0.6216

    References:
      Lin et al., `Focal Loss for Dense Object Detection <https://arxiv.org/abs/1708.02002>`_, 2017.

    Notes:
      ``1 − p_y`` is computed as ``−expm1(log p_y)`` and the derivative is written in a form that
      never evaluates ``(1 − p_y)^(γ−1)``, so gradients (and ``jvp``) are finite as ``p_y → 1``
      for every ``γ ≥ 0``, including ``0 < γ < 1``, where the loss is not twice differentiable at
      ``p_y = 1``. A concrete negative ``gamma`` or ``alpha`` raises ``ValueError``; a traced one
      is checked by ``jaxloss.checked`` (see *Raises*). A label whose own logit is ``-inf``
      gives ``+inf``.
      Unchecked input: a NaN or ``+inf`` logit gives NaN for its row (a ``+inf`` logit has no
      defined softmax); ``checked`` reports them (labels: see the module notes).
    """
    name = "softmax_focal_loss"
    x, safe, ok, bad, mask = _sparse_setup(
        name, "logits", logits, labels, axis, ignore_index, where
    )
    dtype = x.dtype
    _check_scalar(name, "gamma", gamma)
    val.check_ranges(name, gamma=gamma)
    g = as_hyper(gamma, dtype)
    logp_y = _pick(log_softmax(x, axis=-1), safe)
    # unusable rows read log p = 0 (a finite stand-in; their value is masked or set to NaN)
    logp_y = jnp.where(ok, logp_y, jnp.zeros_like(logp_y))
    values = _focal_nll(logp_y, g) * _posinf_rows(x)
    if alpha is not None:
        a = _class_factor(name, "alpha", alpha, x.shape[-1], dtype)
        values = (a if a.ndim == 0 else jnp.take(a, safe)) * values
    return _finish(name, values, bad, mask, weights, reduction)


def _categorical_focal(
    name: str, p: jax.Array, targets: ArrayLike, axis: int, gamma, alpha, weights, where, reduction
) -> jax.Array:
    """−Σ_c α_c t_c (1 − p_c)^γ clamped_log(p_c); ``p`` already in the computation dtype."""
    dtype = p.dtype
    targets = val.as_real_array(name, "targets", targets)
    val.check_same_shape(name, "probabilities", p, "targets", targets)
    p = _class_last(name, "probabilities", p, axis)
    t = _class_last(name, "targets", targets, axis, dtype)
    _check_scalar(name, "gamma", gamma)
    val.check_ranges(name, gamma=gamma)
    g = as_hyper(gamma, dtype)
    # (1 − p)^γ with finite derivatives at p = 1 for γ < 1; log clamped at −100 (PyTorch)
    terms = t * _modulator(1 - p, g) * clamped_log(p)
    if alpha is not None:
        a = _class_factor(name, "alpha", alpha, p.shape[-1], dtype)
        terms = (a if a.ndim == 0 else a.reshape((1,) * (p.ndim - 1) + a.shape)) * terms
    values = -jnp.sum(terms, axis=-1)
    return apply_reduction(name, values, weights, where, reduction)


@val.declare_ranges(gamma=val.NONNEGATIVE, alpha=val.NONNEGATIVE)
def categorical_focal_loss(
    probabilities: ArrayLike,
    targets: ArrayLike,
    *,
    axis: int = -1,
    gamma: ArrayLike = 2.0,
    alpha: ArrayLike | None = None,
    weights: ArrayLike | None = None,
    where: ArrayLike | None = None,
    reduction: str = "mean",
) -> jax.Array:
    r"""Multi-class focal loss on probabilities and one-hot or soft targets.

    .. math::
       \ell = -\sum_c \alpha_c\, t_c\, (1 - p_c)^{\gamma} \max(\log p_c, -100),
       \qquad p = \mathrm{probabilities},\ t = \mathrm{targets}

    Args:
      probabilities: class probabilities (e.g. a softmax output), shape ``[..., C, ...]`` with
        the classes on ``axis``; used as given (not renormalised).
      targets: one-hot or soft targets, the same shape (cast to the computation dtype).
      axis: the class axis (static).
      gamma: focusing parameter ``γ ≥ 0``, a scalar (may be traced).
      alpha: ``None`` (factor 1), a scalar, or a per-class vector ``[C]`` multiplying the term
        of class ``c`` inside the class sum. It is a factor of the loss, not a weight of the mean.
      weights: per-example weights, broadcastable to the shape without ``axis``.
      where: boolean mask of that shape; ``False`` drops the example.
      reduction: ``"mean"``, ``"sum"`` or ``"none"``.

    Returns:
      A scalar, or for ``"none"`` an array of the input's shape without ``axis``; float32 for
      half-precision inputs, otherwise the probabilities' dtype.

    Raises:
      ValueError: a concrete ``gamma`` < 0 or ``alpha`` < 0 (or a hyperparameter that does not
        broadcast to the loss shape).
      TypeError: complex or non-numeric inputs or hyperparameters (Python lists are converted).

    Traced hyperparameters are range-checked by ``jaxloss.checked`` only. A traced ``gamma`` < 0 up-
    weights confident predictions: (1 − p_t)^γ grows without bound as p_t → 1 (the loss then tends
    to 0, 1 or ``inf`` for γ > −1, γ = −1, γ < −1, and is 0 at p_t = 1 exactly); a negative
    ``alpha`` gives negative losses.

    Examples:
      >>> import jax.numpy as jnp
      >>> import jaxloss
      >>> probs = jnp.array([[0.05, 0.9, 0.05], [0.1, 0.85, 0.05]])
      >>> targets = jnp.array([[0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
      >>> print(f"{float(jaxloss.categorical_focal_loss(probs, targets)):.4f}")
      1.3524

    References:
      Lin et al., `Focal Loss for Dense Object Detection <https://arxiv.org/abs/1708.02002>`_, 2017.

    Notes:
      ``log p`` is clamped at ``-100`` (the PyTorch convention), so ``p = 0`` gives a finite value
      and a zero gradient there; ``(1 − p)^γ`` has finite derivatives at ``p = 1`` for any
      ``γ ≥ 0``. Probabilities outside ``[0, 1]`` are invalid and unchecked: ``p > 1`` uses the
      factor ``0`` (``γ > 0``) or ``1`` (``γ = 0``).

      The alias ``focal_loss`` is Flux's ``focal_loss`` (no alpha, ``γ = 2``); Flux adds
      ``eps(Float32)`` to ``ŷ`` instead of clamping the log, which changes values by ~1e-7.
      The alias ``categorical_focal_crossentropy`` is Keras' (see
      :func:`jaxloss._classification.categorical_focal_crossentropy`).

      Unchecked input: targets outside ``[0, 1]`` are used as given and a NaN target gives NaN
      for its row; ``checked`` reports them.
    """
    p = as_compute(val.as_real_array("categorical_focal_loss", "probabilities", probabilities))
    return _categorical_focal(
        "categorical_focal_loss", p, targets, axis, gamma, alpha, weights, where, reduction
    )


@val.declare_ranges(gamma=val.NONNEGATIVE, alpha=val.NONNEGATIVE)
def categorical_focal_crossentropy(
    probabilities: ArrayLike,
    targets: ArrayLike,
    *,
    axis: int = -1,
    gamma: ArrayLike = 2.0,
    alpha: ArrayLike | None = 0.25,
    weights: ArrayLike | None = None,
    where: ArrayLike | None = None,
    reduction: str = "mean",
) -> jax.Array:
    r"""Keras' ``categorical_focal_crossentropy``: :func:`categorical_focal_loss` on Keras' inputs.

    Reproduces ``keras.losses.categorical_focal_crossentropy(targets, probabilities)`` (with
    ``from_logits=False``): the probabilities are first renormalised to sum to 1 along ``axis``
    and clipped to ``[1e-7, 1 − 1e-7]`` (Keras' ``epsilon``), then

    .. math::
       \ell = -\sum_c \alpha\, t_c\, (1 - \hat p_c)^{\gamma} \log \hat p_c,
       \qquad \hat p = \operatorname{clip}(p / \textstyle\sum_c p_c,\ 10^{-7},\ 1 - 10^{-7})

    with Keras' defaults ``alpha=0.25``, ``gamma=2.0``. The clip has a zero gradient outside its
    range, as in Keras. A row of all-zero probabilities (NaN in Keras) is not renormalised here.
    ``"mean"`` with ``weights`` is ``Σ w·ℓ / Σ w`` (API.md §1), whereas Keras'
    ``"sum_over_batch_size"`` divides by the batch size.

    Raises:
      ValueError: a concrete ``gamma`` < 0 or ``alpha`` < 0 (or a hyperparameter that does not
        broadcast to the loss shape).
      TypeError: complex or non-numeric inputs or hyperparameters (Python lists are converted).

    Traced hyperparameters are range-checked by ``jaxloss.checked`` only. A traced ``gamma`` < 0 or
    a negative ``alpha`` are evaluated as written (larger or negative losses).

    Examples:
      >>> import jax.numpy as jnp
      >>> import jaxloss
      >>> keras_cfc = jaxloss.get("categorical_focal_crossentropy")
      >>> probs = jnp.array([[0.05, 0.9, 0.05], [0.1, 0.85, 0.05]])
      >>> targets = jnp.array([[0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
      >>> [f"{float(v):.6f}" for v in keras_cfc(probs, targets, reduction="none")]
      ['0.000263', '0.675912']

    Unchecked input: probabilities outside ``[0, 1]`` are renormalised and clipped like valid
    ones and targets are used as given; a NaN target gives NaN for its row. ``checked``
    reports them.
    """
    name = "categorical_focal_crossentropy"
    p = as_compute(val.as_real_array(name, "probabilities", probabilities))
    val.check_rank(name, "probabilities", p, 1)
    ax = val.check_axis(name, axis, p.ndim)
    total = jnp.sum(p, axis=ax, keepdims=True)
    pos = total > 0
    # Keras: output / Σ output, then clip to [ε, 1 − ε]; double where guards the all-zero row
    p = p / jnp.where(pos, total, jnp.ones_like(total))
    eps = 1e-7
    p = jnp.clip(p, eps, 1 - eps)
    return _categorical_focal(name, p, targets, axis, gamma, alpha, weights, where, reduction)


# ---------------------------------------------------------------------------------------------
# PolyLoss
# ---------------------------------------------------------------------------------------------


@val.declare_ranges(epsilon=val.Range(-1.0))
def poly1_cross_entropy(
    logits: ArrayLike,
    labels: ArrayLike,
    *,
    axis: int = -1,
    epsilon: ArrayLike = 1.0,
    ignore_index: int | None = None,
    weights: ArrayLike | None = None,
    where: ArrayLike | None = None,
    reduction: str = "mean",
) -> jax.Array:
    r"""Poly-1 cross-entropy (PolyLoss, Leng et al. 2022) on logits and integer labels.

    .. math::
       \ell = -\log p_{y} + \epsilon\,(1 - p_{y}),
       \qquad \log p = \operatorname{log\_softmax}(\mathrm{logits}),\ y = \mathrm{labels}

    ``epsilon=0`` is the sparse softmax cross-entropy. Since ``−log p ≥ 1 − p``, the loss is
    non-negative for every ``epsilon ≥ −1``.

    With floating ``labels`` (distributions over the classes, the shape of ``logits``: one-hot
    or soft, as optax's ``poly_loss_cross_entropy``) the terms are summed against them:

    .. math::
       \ell = -\sum_c t_c \log p_c + \epsilon \sum_c t_c\,(1 - p_c)

    where classes with :math:`t_c = 0` contribute exactly 0 (their logits may be ``-inf``).

    Args:
      logits: unnormalised scores with the classes on ``axis``; ``-inf`` logits on classes other
        than the label are fine.
      labels: integer class ids in ``[0, C)``, shape of ``logits`` without ``axis``; or
        floating targets of the shape of ``logits`` (distributions along ``axis``).
      axis: the class axis (static).
      epsilon: the coefficient of the first polynomial term, ``≥ −1``; a scalar (may be traced).
        A concrete value below −1 raises ``ValueError``.
      ignore_index: a label value that is ignored (static), or ``None``.
      weights: per-example weights, broadcastable to the shape of ``labels``.
      where: boolean mask of that shape; ``False`` drops the example.
      reduction: ``"mean"``, ``"sum"`` or ``"none"``.

    Returns:
      A scalar, or for ``"none"`` an array of the shape of ``labels``; float32 for
      half-precision logits, otherwise the logits' dtype.

    Raises:
      ValueError: a concrete ``epsilon`` < −1 (or a hyperparameter that does not broadcast to the
        loss shape).
      TypeError: complex or non-numeric inputs or hyperparameters (Python lists are converted).

    Traced hyperparameters are range-checked by ``jaxloss.checked`` only. A traced ``epsilon`` < −1
    gives negative losses for poorly predicted labels.

    Examples:
      >>> import jax.numpy as jnp
      >>> import jaxloss
      >>> logits = jnp.array([[2.0, 0.5, -1.0], [0.1, 0.2, 0.3]])
      >>> labels = jnp.array([0, 2])
      >>> print(f"{float(jaxloss.poly1_cross_entropy(logits, labels)):.4f}")
      1.0452
      >>> soft = jnp.array([[1.0, 0.0, 0.0], [0.0, 0.2, 0.8]])
      >>> print(jaxloss.poly1_cross_entropy(logits, soft, reduction="none").round(4))
      [0.4557 1.6618]

    References:
      Leng et al., `PolyLoss: A Polynomial Expansion Perspective of Classification Loss
      Functions <https://arxiv.org/abs/2204.12511>`_, ICLR 2022.

    Notes:
      Optax's ``poly_loss_cross_entropy`` computes the same with one-hot labels (its default
      ``epsilon`` is 2.0; here it is 1.0, the paper's Poly-1 default).
      Unchecked input: a ``+inf`` logit gives NaN for its row (no defined softmax, as in
      :func:`jaxloss.sparse_softmax_cross_entropy`); ``checked`` reports it (labels: see the module
      notes).
    """
    name = "poly1_cross_entropy"
    # floating labels of the logits' shape are distributions; of any other shape, the integer
    # path reports the integer-vs-float confusion
    soft = jnp.shape(labels) == jnp.shape(logits) and jnp.ndim(logits) >= 1
    if soft and jnp.issubdtype(jnp.result_type(labels), jnp.floating):
        return _poly1_soft(
            name, logits, labels, axis, epsilon, ignore_index, weights, where, reduction
        )
    x, safe, ok, bad, mask = _sparse_setup(
        name, "logits", logits, labels, axis, ignore_index, where
    )
    dtype = x.dtype
    _check_scalar(name, "epsilon", epsilon)
    val.check_ranges(name, epsilon=epsilon)
    eps = as_hyper(epsilon, dtype)
    logp_y = _pick(log_softmax(x, axis=-1), safe)
    logp_y = jnp.where(ok, logp_y, jnp.zeros_like(logp_y))
    # 1 − p_y = −expm1(log p_y), accurate near p_y = 1
    values = (-logp_y - eps * jnp.expm1(logp_y)) * _posinf_rows(x)
    return _finish(name, values, bad, mask, weights, reduction)


def _poly1_soft(name, logits, targets, axis, epsilon, ignore_index, weights, where, reduction):
    """Poly-1 with distribution targets: CE(t, softmax x) + ε·Σ_c t_c (1 − p_c)."""
    if ignore_index is not None:
        raise ValueError(f"{name}: 'ignore_index' needs integer labels, got floating 'labels'")
    x = _class_last(name, "logits", logits, axis)
    val.check_same_shape(name, "logits", logits, "labels", targets)
    t = _class_last(name, "labels", targets, axis, x.dtype)
    _check_where(name, where, x.shape[:-1])
    _check_scalar(name, "epsilon", epsilon)
    val.check_in_range(name, "epsilon", epsilon, -1.0, np.inf)
    eps = as_hyper(epsilon, x.dtype)
    ce = softmax_cross_entropy(x, t, reduction="none")
    present = t != 0
    # 1 − p_c = −expm1(log p_c); classes with t_c = 0 (e.g. -inf logits) contribute exactly 0
    logp = jnp.where(present, log_softmax(x, axis=-1), jnp.zeros_like(x))
    one_minus_pt = jnp.sum(jnp.where(present, -t * jnp.expm1(logp), jnp.zeros_like(t)), axis=-1)
    return apply_reduction(name, ce + eps * one_minus_pt, weights, where, reduction)


# ---------------------------------------------------------------------------------------------
# Margin (hinge) family
# ---------------------------------------------------------------------------------------------


def _positive_part(z: jax.Array) -> jax.Array:
    # max(0, z) with the subgradient 0 at z = 0 (PyTorch's convention)
    # ("z ≤ 0" rather than "z > 0": a NaN z propagates instead of becoming 0)
    return jnp.where(z <= 0, jnp.zeros_like(z), z)


@val.declare_ranges(margin=val.NONNEGATIVE)
def multiclass_hinge_loss(
    scores: ArrayLike,
    labels: ArrayLike,
    *,
    axis: int = -1,
    margin: ArrayLike = 1.0,
    weights: ArrayLike | None = None,
    where: ArrayLike | None = None,
    reduction: str = "mean",
) -> jax.Array:
    r"""Crammer–Singer multi-class hinge loss on scores and integer labels.

    .. math::
       \ell = \max\bigl(0,\ \mathrm{margin} + \max_{j \ne y} s_j - s_y\bigr),
       \qquad s = \mathrm{scores},\ y = \mathrm{labels}

    Args:
      scores: real scores with the classes on ``axis``; ``-inf`` scores on classes other than the
        label are fine (they never win the max).
      labels: integer class ids in ``[0, C)``, shape of ``scores`` without ``axis``.
      axis: the class axis (static).
      margin: a scalar ``≥ 0`` (may be traced); a concrete negative value raises ``ValueError``.
      weights: per-example weights, broadcastable to the shape of ``labels``.
      where: boolean mask of that shape; ``False`` drops the example.
      reduction: ``"mean"``, ``"sum"`` or ``"none"``.

    Returns:
      A scalar, or for ``"none"`` an array of the shape of ``labels``; float32 for half-precision
      scores, otherwise the scores' dtype.

    Raises:
      ValueError: a concrete ``margin`` < 0 (or a hyperparameter that does not broadcast to the loss
        shape).
      TypeError: complex or non-numeric inputs or hyperparameters (Python lists are converted).

    Traced hyperparameters are range-checked by ``jaxloss.checked`` only. A traced ``margin`` < 0 is
    evaluated as written (a loss ≥ 0 that ignores small violations).

    Examples:
      >>> import jax.numpy as jnp
      >>> import jaxloss
      >>> scores = jnp.array([[2.0, 1.5, -1.0], [0.1, 0.2, 0.3]])
      >>> labels = jnp.array([0, 1])
      >>> print(jaxloss.multiclass_hinge_loss(scores, labels, reduction="none"))
      [0.5 1.1]

    References:
      Crammer and Singer, `On the Algorithmic Implementation of Multiclass Kernel-based Vector
      Machines <https://jmlr.org/papers/v2/crammer01a.html>`_, JMLR 2001.

    Notes:
      The (sub)gradient is 0 at the hinge (``margin + max − s_y = 0``) as in PyTorch, and ties in
      the max share the gradient equally. With a single class the loss is 0.

      The alias ``categorical_hinge`` is *not* this function: it is Keras' ``categorical_hinge``
      on one-hot targets, :func:`jaxloss._classification.categorical_hinge`, whose max includes
      the (zeroed) true class.

      Unchecked input: a ``+inf`` score off the label gives ``+inf`` for its row; ``checked``
      reports it (labels: see the module notes).
    """
    name = "multiclass_hinge_loss"
    return _crammer_singer(name, scores, labels, axis, margin, weights, where, reduction)


def _crammer_singer(name, scores, labels, axis, margin, weights, where, reduction) -> jax.Array:
    """max(0, margin + max_{j≠y} s_j − s_y), reduced (multiclass hinge and perceptron)."""
    x, safe, ok, bad, mask = _sparse_setup(name, "scores", scores, labels, axis, None, where)
    dtype = x.dtype
    _check_scalar(name, "margin", margin)
    if name in val.RANGES:  # multiclass_perceptron_loss: no margin hyperparameter (0)
        val.check_ranges(name, margin=margin)
    mrg = as_hyper(margin, dtype)
    is_label = _is_label(safe, x.shape[-1])
    # max over j ≠ y: the label's own score is replaced (select, no arithmetic on -inf) by -inf
    best_other = jnp.max(jnp.where(is_label, jnp.full_like(x, -jnp.inf), x), axis=-1)
    values = _positive_part(mrg + best_other - _pick(x, safe))
    return _finish(name, values, bad, mask, weights, reduction)


def multiclass_perceptron_loss(
    scores: ArrayLike,
    labels: ArrayLike,
    *,
    axis: int = -1,
    weights: ArrayLike | None = None,
    where: ArrayLike | None = None,
    reduction: str = "mean",
) -> jax.Array:
    r"""Multi-class perceptron loss (Collins 2002) on scores and integer labels.

    .. math::
       \ell = \max_j s_j - s_y = \max\bigl(0,\ \max_{j \ne y} s_j - s_y\bigr),
       \qquad s = \mathrm{scores},\ y = \mathrm{labels}

    :func:`multiclass_hinge_loss` with ``margin=0``: zero once the label has the top score.

    Args:
      scores: real scores with the classes on ``axis``; ``-inf`` scores on classes other than the
        label are fine.
      labels: integer class ids in ``[0, C)``, shape of ``scores`` without ``axis``.
      axis: the class axis (static).
      weights: per-example weights, broadcastable to the shape of ``labels``.
      where: boolean mask of that shape; ``False`` drops the example.
      reduction: ``"mean"``, ``"sum"`` or ``"none"``.

    Returns:
      A scalar, or for ``"none"`` an array of the shape of ``labels``; float32 for half-precision
      scores, otherwise the scores' dtype.

    Examples:
      >>> import jax.numpy as jnp
      >>> import jaxloss
      >>> scores = jnp.array([[2.0, 1.5, -1.0], [0.1, 0.2, 0.3]])
      >>> labels = jnp.array([0, 1])
      >>> print(jaxloss.multiclass_perceptron_loss(scores, labels, reduction="none"))
      [0.  0.1]

    References:
      Collins, `Discriminative Training Methods for Hidden Markov Models
      <https://aclanthology.org/W02-1001/>`_, EMNLP 2002; optax ``multiclass_perceptron_loss``.

    Notes:
      The (sub)gradient is 0 where the label ties with the best other class (as
      :func:`multiclass_hinge_loss` at its hinge). Out-of-range labels give NaN (unchecked);
      ``checked`` reports them.
    """
    name = "multiclass_perceptron_loss"
    return _crammer_singer(name, scores, labels, axis, 0.0, weights, where, reduction)


@val.declare_ranges(margin=val.NONNEGATIVE)
def categorical_hinge(
    scores: ArrayLike,
    targets: ArrayLike,
    *,
    axis: int = -1,
    margin: ArrayLike = 1.0,
    weights: ArrayLike | None = None,
    where: ArrayLike | None = None,
    reduction: str = "mean",
) -> jax.Array:
    r"""Keras' ``categorical_hinge`` on scores and one-hot targets.

    .. math::
       \ell = \max\Bigl(0,\ \mathrm{margin} + \max_j\,(1 - t_j)\,s_j - \sum_j t_j s_j\Bigr)

    Keras' formula exactly (its margin is fixed at 1). With one-hot targets the max runs over
    *all* classes, the true one contributing ``0``, so it differs from the Crammer–Singer
    :func:`jaxloss.multiclass_hinge_loss` when every other score is negative: here the max is then
    0, there it is the (negative) best other score.

    Args:
      scores: real scores with the classes on ``axis``.
      targets: one-hot (or soft) targets, the same shape.
      axis: the class axis (static).
      margin: a scalar (may be traced), Keras' 1 by default.
      weights, where, reduction: as in every loss (API.md §1), over the shape without ``axis``.

    Raises:
      ValueError: a concrete ``margin`` < 0 (or a hyperparameter that does not broadcast to the loss
        shape).
      TypeError: complex or non-numeric inputs or hyperparameters (Python lists are converted).

    Traced hyperparameters are range-checked by ``jaxloss.checked`` only. A traced ``margin`` < 0 is
    evaluated as written (a loss ≥ 0 that ignores small violations).

    Examples:
      >>> import jax.numpy as jnp
      >>> import jaxloss
      >>> keras_hinge = jaxloss.get("categorical_hinge")
      >>> scores = jnp.array([[0.5, -1.0, -2.0]])
      >>> targets = jnp.array([[1.0, 0.0, 0.0]])
      >>> print(f"{float(keras_hinge(scores, targets)):.4f}")
      0.5000
      >>> print(f"{float(jaxloss.multiclass_hinge_loss(scores, jnp.array([0]))):.4f}")
      0.0000

    Unchecked input: targets outside ``[0, 1]`` are used as given in the formula; a NaN score
    or target gives NaN for its row and a ``+inf`` score NaN (``inf − inf``). ``checked``
    reports them.
    """
    name = "categorical_hinge"
    s = as_compute(val.as_real_array(name, "scores", scores))
    val.check_same_shape(name, "scores", s, "targets", targets)
    s = _class_last(name, "scores", s, axis)
    t = _class_last(name, "targets", targets, axis, s.dtype)
    _check_scalar(name, "margin", margin)
    val.check_ranges(name, margin=margin)
    mrg = as_hyper(margin, s.dtype)
    pos = jnp.sum(t * s, axis=-1)
    neg = jnp.max((1 - t) * s, axis=-1)
    values = jnp.maximum(neg - pos + mrg, jnp.zeros_like(pos))
    return apply_reduction(name, values, weights, where, reduction)


@val.declare_ranges(margin=val.NONNEGATIVE, class_weights=val.REAL)
def multi_margin_loss(
    scores: ArrayLike,
    labels: ArrayLike,
    *,
    axis: int = -1,
    p: int = 1,
    margin: ArrayLike = 1.0,
    class_weights: ArrayLike | None = None,
    weights: ArrayLike | None = None,
    where: ArrayLike | None = None,
    reduction: str = "mean",
) -> jax.Array:
    r"""PyTorch's ``MultiMarginLoss`` (Weston–Watkins multi-class hinge) on scores and labels.

    .. math::
       \ell = \frac{w_{y}}{C} \sum_{j \ne y} \max(0,\ \mathrm{margin} - s_y + s_j)^{p},
       \qquad s = \mathrm{scores},\ y = \mathrm{labels},\ w = \mathrm{class\_weights}

    Exactly ``torch.nn.functional.multi_margin_loss``: the sum is divided by the number of
    classes ``C`` (the true class included), and with ``class_weights`` the ``"mean"`` still
    divides by the number of valid examples (``N``, or ``Σ weights``), not by ``Σ w[y]`` as the
    class-weighted cross-entropy does.

    Args:
      scores: real scores with the classes on ``axis``; ``-inf`` scores on classes other than the
        label are fine (they contribute 0).
      labels: integer class ids in ``[0, C)``, shape of ``scores`` without ``axis``.
      axis: the class axis (static).
      p: 1 or 2 (static); any other value raises ``ValueError``.
      margin: a scalar ``≥ 0`` (may be traced); a concrete negative value raises ``ValueError``.
      class_weights: ``None`` or a vector ``[C]``; ``class_weights[labels]`` multiplies the example.
      weights: per-example weights, broadcastable to the shape of ``labels``.
      where: boolean mask of that shape; ``False`` drops the example.
      reduction: ``"mean"``, ``"sum"`` or ``"none"``.

    Returns:
      A scalar, or for ``"none"`` an array of the shape of ``labels``; float32 for half-precision
      scores, otherwise the scores' dtype.

    Raises:
      ValueError: a concrete ``margin`` < 0 or a NaN in ``class_weights`` (or a hyperparameter that
        does not broadcast to the loss shape).
      TypeError: complex or non-numeric inputs or hyperparameters (Python lists are converted).

    Traced hyperparameters are range-checked by ``jaxloss.checked`` only. A traced ``margin`` < 0 is
    evaluated as written (a loss ≥ 0 that ignores small violations); a NaN in ``class_weights``
    gives NaN.

    Examples:
      >>> import jax.numpy as jnp
      >>> import jaxloss
      >>> scores = jnp.array([[0.1, 0.2, 0.4, 0.8]])
      >>> print(f"{float(jaxloss.multi_margin_loss(scores, jnp.array([3]))):.4f}")
      0.3250

    References:
      Weston and Watkins, `Support Vector Machines for Multi-Class Pattern Recognition
      <https://www.esann.org/sites/default/files/proceedings/legacy/es1999-461.pdf>`_, ESANN 1999;
      PyTorch ``torch.nn.MultiMarginLoss``.

    Notes:
      The subgradient is 0 at the hinge (PyTorch's convention).
      Unchecked input: a ``+inf`` score off the label gives ``+inf`` for its row; ``checked``
      reports it (labels: see the module notes).
    """
    name = "multi_margin_loss"
    if isinstance(p, bool) or p not in (1, 2):
        raise ValueError(f"{name}: 'p' must be 1 or 2 (static), got {p!r}")
    x, safe, ok, bad, mask = _sparse_setup(name, "scores", scores, labels, axis, None, where)
    dtype = x.dtype
    num_classes = x.shape[-1]
    _check_scalar(name, "margin", margin)
    val.check_ranges(name, margin=margin)
    mrg = as_hyper(margin, dtype)
    s_y = _pick(x, safe)
    h = _positive_part(mrg - s_y[..., None] + x)
    if p == 2:
        h = h * h
    is_label = _is_label(safe, num_classes)
    values = jnp.sum(jnp.where(is_label, jnp.zeros_like(h), h), axis=-1) / num_classes
    if class_weights is not None:
        val.check_ranges(name, class_weights=class_weights)
        val.check_class_weights(name, class_weights, num_classes)
        values = jnp.take(as_hyper(class_weights, dtype), safe) * values
    return _finish(name, values, bad, mask, weights, reduction)


@val.declare_ranges(margin=val.NONNEGATIVE)
def multilabel_margin_loss(
    scores: ArrayLike,
    labels: ArrayLike,
    *,
    axis: int = -1,
    margin: ArrayLike = 1.0,
    weights: ArrayLike | None = None,
    where: ArrayLike | None = None,
    reduction: str = "mean",
) -> jax.Array:
    r"""PyTorch's ``MultiLabelMarginLoss``: a multi-label hinge between target and other classes.

    With :math:`s` = ``scores`` (``C`` classes), the target set :math:`Y` = the entries of
    ``labels`` before the first negative one, and :math:`m` = ``margin``:

    .. math::
       \ell = \frac{1}{C} \sum_{j \in Y} \sum_{i \notin Y} \max(0,\ m - (s_j - s_i))

    Exactly ``torch.nn.functional.multilabel_margin_loss`` (which fixes ``m = 1``): ``labels`` has
    the shape of ``scores`` and lists class ids, padded with ``-1`` after the last one; a class
    listed twice counts twice in the outer sum, as in PyTorch.

    Args:
      scores: real scores with the classes on ``axis``, shape ``[..., C]``.
      labels: integer class ids in ``[0, C)`` followed by ``-1`` padding, same shape as
        ``scores``; everything from the first negative entry on is ignored.
      axis: the class axis (static), dropped from the per-example loss.
      margin: a scalar ``≥ 0`` (may be traced).
      weights: per-example weights, broadcastable to the per-example loss shape.
      where: boolean mask of that shape; ``False`` drops the example.
      reduction: ``"mean"``, ``"sum"`` or ``"none"``.

    Returns:
      A scalar, or for ``"none"`` an array of ``scores``' shape without ``axis``; float32 for
      half-precision scores, otherwise the scores' dtype.

    Raises:
      ValueError: a concrete ``margin`` < 0, ``labels`` not of the shape of ``scores``, or zero
        classes.
      TypeError: complex or non-numeric inputs or hyperparameters (Python lists are converted), or
        non-integer ``labels``.

    Traced hyperparameters are range-checked by ``jaxloss.checked`` only. A traced ``margin`` < 0 is
    evaluated as written (a loss ≥ 0 that ignores small violations).

    Examples:
      >>> import jax.numpy as jnp
      >>> import jaxloss
      >>> scores = jnp.array([[0.1, 0.2, 0.4, 0.8]])
      >>> labels = jnp.array([[3, 0, -1, 1]])  # targets {3, 0}; the 1 after -1 is ignored
      >>> print(f"{float(jaxloss.multilabel_margin_loss(scores, labels)):.4f}")
      0.8500

    References:
      PyTorch ``torch.nn.MultiLabelMarginLoss``.

    Notes:
      The subgradient is 0 at the hinge (PyTorch's convention). Unchecked input: a label
      ``≥ C`` before the padding gives ``nan`` for its example (PyTorch raises).
    """
    name = "multilabel_margin_loss"
    x = _class_last(name, "scores", scores, axis)
    labels = val.as_integer_array(name, "labels", labels)
    labels = jnp.moveaxis(labels, axis % max(labels.ndim, 1), -1)
    if labels.shape != x.shape:
        raise ValueError(
            f"{name}: 'labels' must have the shape of 'scores' ({jnp.shape(scores)}), "
            f"got {jnp.shape(labels)}"
        )
    _check_scalar(name, "margin", margin)
    val.check_ranges(name, margin=margin)
    dtype, num_classes = x.dtype, x.shape[-1]
    mrg = as_hyper(margin, dtype)
    # listed[..., j]: position j is before the first negative label
    listed = jnp.cumprod((labels >= 0).astype(jnp.int32), axis=-1) > 0
    bad = jnp.any(listed & (labels >= num_classes), axis=-1)
    safe = jnp.where(listed & (labels < num_classes), labels, jnp.zeros_like(labels))
    in_y = jnp.any(listed[..., None] & _is_label(safe, num_classes), axis=-2)  # [..., C]
    s_y = jnp.take_along_axis(x, safe, axis=-1)  # [..., J]
    h = _positive_part(mrg - s_y[..., :, None] + x[..., None, :])  # [..., J, C]
    h = jnp.where(listed[..., :, None] & ~in_y[..., None, :], h, jnp.zeros_like(h))
    values = jnp.sum(h, axis=(-2, -1)) / num_classes
    _check_where(name, where, values.shape)
    return _finish(name, values, bad, where, weights, reduction)


@val.declare_ranges(q=val.Range(0.0, 1.0, lo_open=True))
def generalized_cross_entropy(
    probabilities: ArrayLike,
    labels: ArrayLike,
    *,
    q: ArrayLike = 0.5,
    axis: int = -1,
    ignore_index: int | None = None,
    weights: ArrayLike | None = None,
    where: ArrayLike | None = None,
    reduction: str = "mean",
) -> jax.Array:
    r"""Generalized cross-entropy (Zhang & Sabuncu 2018), robust to noisy labels.

    .. math::
       \ell = \frac{1 - p_y^{\,q}}{q}, \qquad p = \mathrm{probabilities},\ y = \mathrm{labels}

    :math:`q \to 0` gives the cross-entropy :math:`-\log p_y`, :math:`q = 1` the mean absolute
    error :math:`1 - p_y`. Keras' ``CategoricalGeneralizedCrossEntropy`` (``q=0.5``).

    Args:
      probabilities: class probabilities (e.g. a softmax output) with the classes on ``axis``.
      labels: integer class ids in ``[0, C)``, shape of ``probabilities`` without ``axis``.
      q: the exponent in ``(0, 1]`` (may be traced).
      axis: the class axis (static).
      ignore_index: a label value whose examples contribute nothing; ``None`` disables.
      weights: per-example weights, broadcastable to the shape of ``labels``.
      where: boolean mask of that shape; ``False`` drops the example.
      reduction: ``"mean"``, ``"sum"`` or ``"none"``.

    Returns:
      A scalar, or for ``"none"`` an array of the shape of ``labels``; float32 for half-precision
      inputs, otherwise the input's dtype.

    Raises:
      ValueError: a concrete ``q`` outside ``(0, 1]``, mismatched shapes, or zero classes.
      TypeError: complex or non-numeric inputs or hyperparameters (Python lists are converted), or
        non-integer ``labels``.

    Traced hyperparameters are range-checked by ``jaxloss.checked`` only. A traced ``q`` outside
    ``(0, 1]`` is evaluated as written (``q = 0`` gives NaN).

    Examples:
      >>> import jax.numpy as jnp
      >>> import jaxloss
      >>> p = jnp.array([[0.7, 0.2, 0.1], [0.25, 0.25, 0.5]])
      >>> out = jaxloss.generalized_cross_entropy(p, jnp.array([0, 2]), reduction="none")
      >>> print(out.round(4))
      [0.3267 0.5858]

    References:
      Z. Zhang and M. R. Sabuncu, `Generalized Cross Entropy Loss for Training Deep Neural
      Networks with Noisy Labels <https://arxiv.org/abs/1805.07836>`_, NeurIPS 2018.

    Notes:
      At :math:`p_y = 0` the value is :math:`1/q` and, for :math:`q < 1`, the exact derivative
      :math:`-p_y^{q-1}` is :math:`-\infty`; the gradient returned there is 0 (finite), where
      Keras returns ``-inf``. Unchecked input: a label outside ``[0, C)`` gives ``nan``; a
      probability ``p_y < 0`` counts as 0 (value :math:`1/q`), one above 1 is used as given.
    """
    name = "generalized_cross_entropy"
    x, safe, ok, bad, mask = _sparse_setup(
        name, "probabilities", probabilities, labels, axis, ignore_index, where
    )
    _check_scalar(name, "q", q)
    val.check_ranges(name, q=q)
    qq = as_hyper(q, x.dtype)
    p_y = _pick(x, safe)
    # double where: p^q never sees 0, whose derivative q·p^(q−1) is infinite for q < 1
    zero = p_y <= 0
    p_q = jnp.where(
        zero, jnp.zeros_like(p_y), jnp.power(jnp.where(zero, jnp.ones_like(p_y), p_y), qq)
    )
    values = (1 - p_q) / qq
    return _finish(name, values, bad, mask, weights, reduction)


# Losses of this family, canonical names (the registry lists these).
LOSSES = (
    softmax_focal_loss,
    categorical_focal_loss,
    poly1_cross_entropy,
    multiclass_hinge_loss,
    multi_margin_loss,
    multilabel_margin_loss,
    generalized_cross_entropy,
    multiclass_perceptron_loss,
)

# Every name `jaxloss.get` resolves for this family (case-insensitive), canonical names included.
ALIASES = {
    **{fn.__name__: fn for fn in LOSSES},
    "sparse_focal_loss": softmax_focal_loss,
    # Keras: renormalise, clip to [1e-7, 1 − 1e-7], alpha=0.25, gamma=2.0 (a compat wrapper)
    "categorical_focal_crossentropy": categorical_focal_crossentropy,
    # Flux: focal_loss(ŷ, y; gamma=2), no alpha — the canonical defaults
    "focal_loss": categorical_focal_loss,
    "poly_loss": poly1_cross_entropy,
    # Keras: one-hot targets, max over (1 − t)·s (a compat wrapper, not Crammer–Singer)
    "categorical_hinge": categorical_hinge,
    "MultiMarginLoss": multi_margin_loss,
    "MultiLabelMarginLoss": multilabel_margin_loss,
    "gce": generalized_cross_entropy,
}
