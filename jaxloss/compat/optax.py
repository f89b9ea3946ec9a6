"""``optax.losses`` (0.2.8) computed by jaxloss: optax's names, signatures, defaults and outputs.

Every function here is a skin over a canonical jaxloss loss: it converts optax's conventions
(argument names and order, defaults, per-element ``where`` masks, int / tuple / ``None``
``axis``, unreduced outputs) and calls the canonical loss with ``reduction="none"`` (optax's
losses return per-example values). No loss formula lives here.

Differences from optax, all where optax returns NaN / inf or an approximation for valid input:

- ``softmax_cross_entropy`` and ``poly_loss_cross_entropy`` are exact with ``-inf`` logits on
  zero-label classes (optax: NaN), like ``safe_softmax_cross_entropy``.
- ``softmax_cross_entropy_with_integer_labels`` with a per-class ``where`` that masks the label's
  own class returns ``+inf`` (the label has probability 0); optax returns a finite number.
- ``ctc_loss`` / ``ctc_loss_with_forward_probs`` run :func:`jaxloss.ctc_loss` with optax's
  ``log_epsilon`` lattice (impossible alignments give optax's large finite value), and clamp the
  loss at 0 (optax can round a near-certain alignment below 0).
- ``cosine_distance`` is clamped at 0 (optax can round to ``-1e-7``).
- ``triplet_margin_loss`` raises ``|u − v|`` to ``norm_degree`` (optax raises the signed
  difference, which differs only for odd degrees, where optax' "distance" can be negative).
"""

from __future__ import annotations

import warnings
from typing import Callable

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

import jaxloss as jl

__all__ = [
    "binary_dice_loss",
    "convex_kl_divergence",
    "cosine_distance",
    "cosine_similarity",
    "ctc_loss",
    "ctc_loss_with_forward_probs",
    "dice_loss",
    "generalized_kl_divergence",
    "hinge_loss",
    "huber_loss",
    "kl_divergence",
    "kl_divergence_with_log_targets",
    "l2_loss",
    "log_cosh",
    "make_fenchel_young_loss",
    "multiclass_generalized_dice_loss",
    "multiclass_hinge_loss",
    "multiclass_perceptron_loss",
    "multiclass_sparsemax_loss",
    "ntxent",
    "perceptron_loss",
    "poly_loss_cross_entropy",
    "ranking_softmax_loss",
    "safe_softmax_cross_entropy",
    "sigmoid_binary_cross_entropy",
    "sigmoid_focal_loss",
    "smooth_labels",
    "softmax_cross_entropy",
    "softmax_cross_entropy_with_integer_labels",
    "sparsemax_loss",
    "squared_error",
    "triplet_margin_loss",
]

_NONE = "none"


# ------------------------------------------------------------------------- convention helpers
def _axes(axis, ndim: int) -> tuple[int, ...]:
    if axis is None:
        return tuple(range(ndim))
    if isinstance(axis, int):
        axis = (axis,)
    elif not isinstance(axis, tuple):
        raise ValueError(
            f"'axis' must be an int, a tuple of ints or None, got {type(axis).__name__}"
        )
    out = []
    for a in axis:
        if not -ndim <= a < ndim:
            raise ValueError(f"axis {a} is out of bounds for array of dimension {ndim}")
        out.append(a % ndim)
    return tuple(out)


def _to_last(x: jax.Array, axes: tuple[int, ...]) -> jax.Array:
    """``x`` with ``axes`` moved to the end (in the given order) and flattened into one axis."""
    rest = tuple(i for i in range(x.ndim) if i not in axes)
    x = jnp.transpose(x, rest + axes)
    return x.reshape(x.shape[: len(rest)] + (-1,))


def _class_inputs(a, b, axis, where, *, expand_where: bool):
    """optax's (a, b, axis, where) as class-last arrays and a class-last boolean mask (or None).

    ``where`` is per element; with ``expand_where`` (the cross-entropies) a ``where`` of lower
    rank is per example and gains the class axis, as in optax.
    """
    a = jnp.asarray(a)
    b = jnp.asarray(b)
    a, b = jnp.broadcast_arrays(a, b)
    axes = _axes(axis, a.ndim)
    mask = None
    if where is not None:
        where = jnp.asarray(where, bool)
        if expand_where and where.ndim != a.ndim:
            where = jnp.expand_dims(where, axis)
        mask = _to_last(jnp.broadcast_to(where, a.shape), axes)
    return _to_last(a, axes), _to_last(b, axes), mask


def _masked(x: jax.Array, mask, fill) -> jax.Array:
    return x if mask is None else jnp.where(mask, x, jnp.full_like(x, fill))


def _any(mask):
    return None if mask is None else jnp.any(mask, axis=-1)


def _zeros_if_none(predictions, targets):
    predictions = jnp.asarray(predictions)
    return predictions, (jnp.zeros_like(predictions) if targets is None else targets)


# ------------------------------------------------------------------------------ classification
def sigmoid_binary_cross_entropy(logits: ArrayLike, labels: ArrayLike) -> jax.Array:
    """optax ``sigmoid_binary_cross_entropy`` → :func:`jaxloss.sigmoid_binary_cross_entropy`."""
    logits, labels = jnp.broadcast_arrays(jnp.asarray(logits), jnp.asarray(labels))
    return jl.sigmoid_binary_cross_entropy(logits, labels, reduction=_NONE)


def hinge_loss(predictor_outputs: ArrayLike, targets: ArrayLike) -> jax.Array:
    """optax ``hinge_loss`` (targets in {−1, +1}) → :func:`jaxloss.hinge_loss`."""
    s, t = jnp.broadcast_arrays(jnp.asarray(predictor_outputs), jnp.asarray(targets))
    return jl.hinge_loss(s, t, reduction=_NONE)


def perceptron_loss(predictor_outputs: ArrayLike, targets: ArrayLike) -> jax.Array:
    """optax ``perceptron_loss`` (targets in {−1, +1}) → :func:`jaxloss.perceptron_loss`."""
    return jl.perceptron_loss(predictor_outputs, targets, reduction=_NONE)


def sparsemax_loss(logits: ArrayLike, labels: ArrayLike) -> jax.Array:
    """optax ``sparsemax_loss`` (labels read as truth values) → :func:`jaxloss.sparsemax_loss`."""
    logits, labels = jnp.broadcast_arrays(jnp.asarray(logits), jnp.asarray(labels))
    return jl.sparsemax_loss(logits, (labels != 0).astype(logits.dtype), reduction=_NONE)


def multiclass_sparsemax_loss(scores: ArrayLike, labels: ArrayLike) -> jax.Array:
    """optax ``multiclass_sparsemax_loss`` → :func:`jaxloss.multiclass_sparsemax_loss`."""
    return jl.multiclass_sparsemax_loss(scores, labels, reduction=_NONE)


def multiclass_hinge_loss(scores: ArrayLike, labels: ArrayLike) -> jax.Array:
    """optax ``multiclass_hinge_loss`` → :func:`jaxloss.multiclass_hinge_loss` (margin 1)."""
    return jl.multiclass_hinge_loss(scores, labels, reduction=_NONE)


def multiclass_perceptron_loss(scores: ArrayLike, labels: ArrayLike) -> jax.Array:
    """optax ``multiclass_perceptron_loss`` → :func:`jaxloss.multiclass_perceptron_loss`."""
    return jl.multiclass_perceptron_loss(scores, labels, reduction=_NONE)


def safe_softmax_cross_entropy(logits: ArrayLike, labels: ArrayLike) -> jax.Array:
    """optax ``safe_softmax_cross_entropy`` → :func:`jaxloss.softmax_cross_entropy`."""
    logits, labels = jnp.broadcast_arrays(jnp.asarray(logits), jnp.asarray(labels))
    return jl.softmax_cross_entropy(logits, labels, reduction=_NONE)


def softmax_cross_entropy(
    logits: ArrayLike,
    labels: ArrayLike,
    axis: int | tuple[int, ...] | None = -1,
    where: ArrayLike | None = None,
) -> jax.Array:
    """optax ``softmax_cross_entropy`` → :func:`jaxloss.softmax_cross_entropy`.

    Classes outside ``where`` become ``-inf`` logits with zero labels (absent classes).
    """
    x, t, m = _class_inputs(logits, labels, axis, where, expand_where=True)
    x, t = _masked(x, m, -jnp.inf), _masked(t, m, 0)
    return jl.softmax_cross_entropy(x, t, where=_any(m), reduction=_NONE)


def softmax_cross_entropy_with_integer_labels(
    logits: ArrayLike,
    labels: ArrayLike,
    axis: int | tuple[int, ...] = -1,
    where: ArrayLike | None = None,
) -> jax.Array:
    """optax ``softmax_cross_entropy_with_integer_labels`` → ``sparse_softmax_cross_entropy``.

    A tuple ``axis`` flattens those axes into one class axis (labels are flat indices).
    """
    if not isinstance(axis, (int, tuple)):
        raise ValueError(
            "Keyword argument 'axis' must be of type 'int' or 'tuple[int, ...]' but actual type "
            f"is {type(axis)}."
        )
    x = jnp.asarray(logits)
    x, _, m = _class_inputs(x, x, axis, where, expand_where=True)
    x = _masked(x, m, -jnp.inf)
    return jl.sparse_softmax_cross_entropy(x, labels, where=_any(m), reduction=_NONE)


def poly_loss_cross_entropy(
    logits: ArrayLike,
    labels: ArrayLike,
    *,
    epsilon: ArrayLike = 2.0,
    axis: int | tuple[int, ...] | None = -1,
    where: ArrayLike | None = None,
) -> jax.Array:
    """optax ``poly_loss_cross_entropy`` (soft labels, ε = 2) → jaxloss ``poly1_cross_entropy``."""
    x, t, m = _class_inputs(logits, labels, axis, where, expand_where=True)
    x, t = _masked(x, m, -jnp.inf), _masked(t, m, 0)
    return jl.poly1_cross_entropy(x, t, epsilon=epsilon, where=_any(m), reduction=_NONE)


def sigmoid_focal_loss(
    logits: ArrayLike,
    labels: ArrayLike,
    *,
    alpha: ArrayLike | None = None,
    gamma: ArrayLike = 2.0,
) -> jax.Array:
    """optax ``sigmoid_focal_loss`` (``alpha=None``) → :func:`jaxloss.sigmoid_focal_loss`."""
    logits, labels = jnp.broadcast_arrays(jnp.asarray(logits), jnp.asarray(labels))
    return jl.sigmoid_focal_loss(logits, labels, alpha=alpha, gamma=gamma, reduction=_NONE)


# --------------------------------------------------------------------------------- divergences
def kl_divergence(
    log_predictions: ArrayLike,
    targets: ArrayLike,
    axis: int | tuple[int, ...] | None = -1,
    where: ArrayLike | None = None,
) -> jax.Array:
    """optax ``kl_divergence`` → :func:`jaxloss.kl_divergence` (masked entries: zero targets)."""
    lp, t, m = _class_inputs(log_predictions, targets, axis, where, expand_where=False)
    return jl.kl_divergence(_masked(lp, m, 0), _masked(t, m, 0), reduction=_NONE)


def kl_divergence_with_log_targets(
    log_predictions: ArrayLike,
    log_targets: ArrayLike,
    axis: int | tuple[int, ...] | None = -1,
    where: ArrayLike | None = None,
) -> jax.Array:
    """optax ``kl_divergence_with_log_targets`` → :func:`jaxloss.kl_divergence` (log targets)."""
    lp, lt, m = _class_inputs(log_predictions, log_targets, axis, where, expand_where=False)
    lp, lt = _masked(lp, m, 0), _masked(lt, m, -jnp.inf)
    return jl.kl_divergence(lp, lt, log_targets=True, reduction=_NONE)


def generalized_kl_divergence(
    log_predictions: ArrayLike,
    targets: ArrayLike,
    axis: int | tuple[int, ...] | None = -1,
    where: ArrayLike | None = None,
) -> jax.Array:
    """optax ``generalized_kl_divergence`` → :func:`jaxloss.generalized_kl_divergence`."""
    lp, t, m = _class_inputs(log_predictions, targets, axis, where, expand_where=False)
    lp, t = _masked(lp, m, -jnp.inf), _masked(t, m, 0)
    return jl.generalized_kl_divergence(lp, t, reduction=_NONE)


def convex_kl_divergence(
    log_predictions: ArrayLike,
    targets: ArrayLike,
    axis: int | tuple[int, ...] | None = -1,
    where: ArrayLike | None = None,
) -> jax.Array:
    """optax's deprecated ``convex_kl_divergence``: :func:`generalized_kl_divergence`."""
    warnings.warn(
        "convex_kl_divergence is deprecated: use generalized_kl_divergence instead.",
        DeprecationWarning,
        stacklevel=2,
    )
    return generalized_kl_divergence(log_predictions, targets, axis=axis, where=where)


# ------------------------------------------------------------------------------------ sequence
def ctc_loss_with_forward_probs(
    logits: ArrayLike,
    logit_paddings: ArrayLike,
    labels: ArrayLike,
    label_paddings: ArrayLike,
    *,
    blank_id: int = 0,
    log_epsilon: ArrayLike = -1e5,
) -> tuple[jax.Array, jax.Array, jax.Array]:
    """optax ``ctc_loss_with_forward_probs`` → :func:`jaxloss.ctc_loss_with_forward_probs`
    (``log_epsilon`` passed through: optax's lattice)."""
    return jl.ctc_loss_with_forward_probs(
        logits,
        logit_paddings,
        labels,
        label_paddings,
        blank_id=blank_id,
        log_epsilon=log_epsilon,
        reduction=_NONE,
    )


def ctc_loss(
    logits: ArrayLike,
    logit_paddings: ArrayLike,
    labels: ArrayLike,
    label_paddings: ArrayLike,
    *,
    blank_id: int = 0,
    log_epsilon: ArrayLike = -1e5,
) -> jax.Array:
    """optax ``ctc_loss`` → :func:`jaxloss.ctc_loss` (``log_epsilon`` passed through)."""
    return jl.ctc_loss(
        logits,
        logit_paddings,
        labels,
        label_paddings,
        blank_id=blank_id,
        log_epsilon=log_epsilon,
        reduction=_NONE,
    )


# -------------------------------------------------------------------------- Fenchel-Young, ranking
def make_fenchel_young_loss(max_fun: Callable) -> Callable:
    """optax ``make_fenchel_young_loss`` → :func:`jaxloss.make_fenchel_young_loss` (unreduced)."""
    loss = jl.make_fenchel_young_loss(max_fun)

    def fenchel_young_loss(scores, targets, *args, **kwargs):
        return loss(scores, targets, *args, reduction=_NONE, **kwargs)

    return fenchel_young_loss


_REDUCE_FNS = {jnp.mean: "mean", jnp.sum: "sum", None: _NONE}


def ranking_softmax_loss(
    logits: ArrayLike,
    labels: ArrayLike,
    *,
    where: ArrayLike | None = None,
    weights: ArrayLike | None = None,
    reduce_fn: Callable[..., ArrayLike] | None = jnp.mean,
) -> jax.Array:
    """optax ``ranking_softmax_loss`` → :func:`jaxloss.ranking_softmax_loss`.

    optax's per-item ``where`` / ``weights`` are jaxloss' ``item_where`` / ``item_weights``;
    ``reduce_fn`` ``jnp.mean`` / ``jnp.sum`` / ``None`` are ``"mean"`` / ``"sum"`` / ``"none"``
    (any other function is applied to the unreduced losses with the lists' ``where``).
    """
    logits = jnp.asarray(logits)
    labels = jnp.asarray(labels).astype(logits.dtype)
    kw = dict(item_where=where, item_weights=weights)
    if reduce_fn in _REDUCE_FNS:
        return jl.ranking_softmax_loss(logits, labels, **kw, reduction=_REDUCE_FNS[reduce_fn])
    values = jl.ranking_softmax_loss(logits, labels, **kw, reduction=_NONE)
    return reduce_fn(values, where=None if where is None else jnp.any(where, axis=-1))


# ---------------------------------------------------------------------------------- regression
def squared_error(predictions: ArrayLike, targets: ArrayLike | None = None) -> jax.Array:
    """optax ``squared_error`` → :func:`jaxloss.mean_squared_error` (targets default to 0)."""
    return jl.mean_squared_error(*_zeros_if_none(predictions, targets), reduction=_NONE)


def l2_loss(predictions: ArrayLike, targets: ArrayLike | None = None) -> jax.Array:
    """optax ``l2_loss`` (½ of the squared error) → :func:`jaxloss.mean_squared_error` with the
    scalar weight ½ (``reduction="none"`` multiplies each value by its weight)."""
    return jl.mean_squared_error(
        *_zeros_if_none(predictions, targets), weights=0.5, reduction=_NONE
    )


def huber_loss(
    predictions: ArrayLike, targets: ArrayLike | None = None, *, delta: ArrayLike = 1.0
) -> jax.Array:
    """optax ``huber_loss`` → :func:`jaxloss.huber_loss`."""
    p, t = jnp.broadcast_arrays(*_zeros_if_none(predictions, targets))
    return jl.huber_loss(p, t, delta=delta, reduction=_NONE)


def log_cosh(predictions: ArrayLike, targets: ArrayLike | None = None) -> jax.Array:
    """optax ``log_cosh`` → :func:`jaxloss.log_cosh`."""
    p, t = jnp.broadcast_arrays(*_zeros_if_none(predictions, targets))
    return jl.log_cosh(p, t, reduction=_NONE)


def _norm_floor(epsilon):
    # optax clamps the squared norm at ε; jaxloss clamps the norm: max(‖x‖², ε) = max(‖x‖, √ε)²
    return epsilon**0.5 if isinstance(epsilon, (int, float)) else jnp.sqrt(epsilon)


def cosine_similarity(
    predictions: ArrayLike,
    targets: ArrayLike,
    *,
    epsilon: ArrayLike = 0.0,
    axis: int | tuple[int, ...] | None = -1,
    where: ArrayLike | None = None,
) -> jax.Array:
    """optax ``cosine_similarity`` (+cos) → −:func:`jaxloss.cosine_similarity_loss` (−cos)."""
    p, t, m = _class_inputs(predictions, targets, axis, where, expand_where=False)
    p, t = _masked(p, m, 0), _masked(t, m, 0)
    return -jl.cosine_similarity_loss(p, t, epsilon=_norm_floor(epsilon), reduction=_NONE)


def cosine_distance(
    predictions: ArrayLike,
    targets: ArrayLike,
    *,
    epsilon: ArrayLike = 0.0,
    axis: int | tuple[int, ...] | None = -1,
    where: ArrayLike | None = None,
) -> jax.Array:
    """optax ``cosine_distance`` (1 − cos) → :func:`jaxloss.cosine_distance`."""
    p, t, m = _class_inputs(predictions, targets, axis, where, expand_where=False)
    p, t = _masked(p, m, 0), _masked(t, m, 0)
    return jl.cosine_distance(p, t, epsilon=_norm_floor(epsilon), reduction=_NONE)


# -------------------------------------------------------------------------------- segmentation
def _reduce_classes(loss: jax.Array, reduction: str) -> jax.Array:
    if reduction == "mean":
        return jnp.mean(loss, axis=-1)
    if reduction == "sum":
        return jnp.sum(loss, axis=-1)
    if reduction == "none":
        return loss
    raise ValueError(f"Unsupported reduction: {reduction}")


def dice_loss(
    predictions: ArrayLike,
    targets: ArrayLike,
    *,
    class_weights: ArrayLike | None = None,
    smooth: ArrayLike = 1.0,
    alpha: ArrayLike = 0.5,
    beta: ArrayLike = 0.5,
    apply_softmax: bool = True,
    reduction: str = "mean",
    ignore_background: bool = False,
    axis: ArrayLike | None = None,
) -> jax.Array:
    """optax ``dice_loss`` → :func:`jaxloss.tversky_loss` per class, then optax's class reduction.

    optax's per-class ratio (I + s)/(I + α·FP + β·FN + s) is jaxloss' Tversky ratio with the
    same smoothing; with ``apply_softmax`` the canonical loss takes logits
    (``activation="sigmoid"`` for one channel, else ``"softmax"``).
    """
    return _dice(
        predictions,
        targets,
        class_weights=class_weights,
        smooth=smooth,
        alpha=alpha,
        beta=beta,
        apply_softmax=apply_softmax,
        reduction=reduction,
        ignore_background=ignore_background,
        axis=axis,
    )


def _dice(
    predictions,
    targets,
    *,
    class_weights=None,
    smooth=1.0,
    alpha=0.5,
    beta=0.5,
    apply_softmax=True,
    reduction="mean",
    ignore_background=False,
    axis=None,
    class_weighting=None,
):
    p, t = jnp.asarray(predictions), jnp.asarray(targets)
    if p.ndim == t.ndim - 1:
        p = p[..., None]
    if t.ndim == p.ndim - 1:
        t = t[..., None]
    if p.shape != t.shape:
        raise ValueError(
            f"dice_loss: shapes {p.shape} and {t.shape} of predictions and targets differ"
        )
    if not apply_softmax:
        sums = jnp.sum(p, axis=-1)
        if not jnp.allclose(sums, 1.0, rtol=1e-5):
            raise ValueError(
                "When apply_softmax=False, predictions must be valid probability distributions "
                f"that sum to 1 along the class axis. Found sum range: [{jnp.min(sums):.6f}, "
                f"{jnp.max(sums):.6f}]"
            )
    activation = None if not apply_softmax else "sigmoid" if p.shape[-1] == 1 else "softmax"
    axis = tuple(range(1, p.ndim - 1)) if axis is None else axis
    loss = jl.tversky_loss(
        p,
        t,
        alpha=alpha,
        beta=beta,
        smooth=smooth,
        activation=activation,
        class_weighting=class_weighting,
        axis=axis,
        reduction=_NONE,
    )  # [..., classes]
    if class_weights is not None:
        if jnp.ndim(class_weights) != 1:
            raise ValueError("dice_loss: 'class_weights' must have rank 1")
        loss = loss * jnp.broadcast_to(class_weights, loss.shape)
    if ignore_background and p.shape[-1] > 1:
        loss = loss[..., 1:]
    return _reduce_classes(loss, reduction)


def multiclass_generalized_dice_loss(
    predictions: ArrayLike,
    targets: ArrayLike,
    *,
    smooth: ArrayLike = 1.0,
    apply_softmax: bool = True,
    ignore_background: bool = False,
) -> jax.Array:
    """optax ``multiclass_generalized_dice_loss``: :func:`dice_loss` with optax's class weights,
    the canonical ``class_weighting="inverse_square_frequency"``, averaged."""
    if jnp.shape(predictions) != jnp.shape(targets):
        raise ValueError(
            "multiclass_generalized_dice_loss: predictions and targets differ in shape"
        )
    loss = _dice(
        predictions,
        targets,
        smooth=smooth,
        apply_softmax=apply_softmax,
        reduction="none",
        ignore_background=ignore_background,
        class_weighting="inverse_square_frequency",
    )
    return jnp.mean(loss)


def binary_dice_loss(
    predictions: ArrayLike,
    targets: ArrayLike,
    *,
    smooth: ArrayLike = 1.0,
    apply_sigmoid: bool = True,
) -> jax.Array:
    """optax ``binary_dice_loss``: :func:`dice_loss` on one (sigmoid) channel."""
    p, t = jnp.asarray(predictions), jnp.asarray(targets)
    if p.ndim == t.ndim and p.shape[-1] != 1:
        p, t = p[..., None], t[..., None]
    return dice_loss(p, t, smooth=smooth, apply_softmax=apply_sigmoid, reduction="mean")


# ----------------------------------------------------------------------------- self-supervised
def ntxent(embeddings: ArrayLike, labels: ArrayLike, temperature: ArrayLike = 0.07) -> jax.Array:
    """optax ``ntxent`` (mean over positive pairs) → :func:`jaxloss.ntxent_loss`."""
    if jnp.shape(labels)[0] != jnp.shape(embeddings)[0]:
        raise ValueError(
            "Labels and embeddings must have the same leading dimension, found "
            f"{jnp.shape(labels)[0]} for labels and {jnp.shape(embeddings)[0]} for embeddings."
        )
    return jl.ntxent_loss(embeddings, labels, temperature=temperature)


def triplet_margin_loss(
    anchors: ArrayLike,
    positives: ArrayLike,
    negatives: ArrayLike,
    axis: int = -1,
    norm_degree: ArrayLike = 2,
    margin: ArrayLike = 1.0,
    eps: ArrayLike = 1e-6,
) -> jax.Array:
    """optax ``triplet_margin_loss`` → :func:`jaxloss.triplet_margin_loss` (ε inside the root)."""
    return jl.triplet_margin_loss(
        anchors,
        positives,
        negatives,
        margin=margin,
        p=norm_degree,
        epsilon=eps,
        epsilon_inside_root=True,
        axis=axis,
        reduction=_NONE,
    )


# ----------------------------------------------------------------------------------- smoothing
def smooth_labels(
    labels: ArrayLike,
    alpha: ArrayLike,
    *,
    axis: int | tuple[int, ...] | None = -1,
    where: ArrayLike | None = None,
) -> jax.Array:
    """optax ``smooth_labels`` → :func:`jaxloss.smooth_labels` ((1 − α)·y + α / K; with ``where``,
    K counts the included entries along ``axis`` and every entry gets the formula)."""
    y = jnp.asarray(labels)
    axes = _axes(axis, y.ndim)
    flat = _to_last(y, axes)
    mask = None if where is None else _to_last(jnp.broadcast_to(jnp.asarray(where), y.shape), axes)
    out = jl.smooth_labels(flat, alpha, axis=-1, where=mask)
    # undo the flattening: unflatten the class axes, then invert the transpose
    rest = tuple(i for i in range(y.ndim) if i not in axes)
    out = out.reshape(tuple(y.shape[i] for i in rest + axes))
    return jnp.transpose(out, tuple(sorted(range(y.ndim), key=lambda i: (rest + axes)[i])))
