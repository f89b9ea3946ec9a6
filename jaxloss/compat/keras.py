"""Keras' loss API over jaxloss: the functions and classes of ``keras.losses`` (3.15).

A drop-in for code written against Keras 3 (API.md §6): ``(y_true, y_pred)`` argument order, the
functions' per-sample outputs (mean over the last axis where Keras takes it), the classes'
constructor options, ``__call__(y_true, y_pred, sample_weight=None)`` and Keras' reductions:
``"sum_over_batch_size"`` (default) and ``"mean"`` divide the weighted sum by the *number of
values*, ``"mean_with_sample_weight"`` by ``Σ sample_weight``, ``"sum"`` sums, ``"none"`` / ``None``
return the weighted values. Keras' probability clipping (``1e-7``) and renormalisation are kept.

Each function is a skin over a canonical jaxloss loss (called with ``reduction="none"``); the
reduction conventions are converted here. Where installed Keras 3.15.1 has a bug fixed upstream,
the fixed behaviour is implemented: ``Tversky``'s ``alpha`` weights false positives and ``beta``
false negatives (keras-team/keras#23333), and label smoothing counts the classes on ``axis``
(keras-team/keras#23437). The functions compute in ``y_pred``'s float dtype; the classes in their
``dtype``, by default float32 (Keras' ``floatx``).

Examples:
  >>> import jax.numpy as jnp
  >>> from jaxloss.compat import keras as losses
  >>> y_true = jnp.array([[0.0, 1.0], [0.0, 0.0]])
  >>> y_pred = jnp.array([[0.6, 0.4], [0.4, 0.6]])
  >>> print(losses.mean_squared_error(y_true, y_pred))
  [0.36 0.26]
  >>> print(f"{float(losses.MeanSquaredError()(y_true, y_pred)):.2f}")
  0.31
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from .. import (
    _binary,
    _classification,
    _cross_entropy,
    _divergence,
    _metric,
    _regression,
    _segmentation,
    _sequence,
)

__all__ = [
    "BinaryCrossentropy",
    "BinaryFocalCrossentropy",
    "CTC",
    "CategoricalCrossentropy",
    "CategoricalFocalCrossentropy",
    "CategoricalGeneralizedCrossEntropy",
    "CategoricalHinge",
    "Circle",
    "CosineSimilarity",
    "Dice",
    "Hinge",
    "Huber",
    "KLDivergence",
    "LogCosh",
    "Loss",
    "MeanAbsoluteError",
    "MeanAbsolutePercentageError",
    "MeanSquaredError",
    "MeanSquaredLogarithmicError",
    "Poisson",
    "SparseCategoricalCrossentropy",
    "SquaredHinge",
    "Tversky",
    "binary_crossentropy",
    "binary_focal_crossentropy",
    "categorical_crossentropy",
    "categorical_focal_crossentropy",
    "categorical_generalized_cross_entropy",
    "categorical_hinge",
    "circle",
    "cosine_similarity",
    "ctc",
    "dice",
    "hinge",
    "huber",
    "kl_divergence",
    "log_cosh",
    "mean_absolute_error",
    "mean_absolute_percentage_error",
    "mean_squared_error",
    "mean_squared_logarithmic_error",
    "poisson",
    "sparse_categorical_crossentropy",
    "squared_hinge",
    "tversky",
]

EPSILON = 1e-7  # keras.backend.epsilon()
_REDUCTIONS = ("sum_over_batch_size", "sum", None, "none", "mean", "mean_with_sample_weight")


# ----------------------------------------------------------------------------------------------
# Conventions: dtypes, Keras' rank matching, explicit broadcasting, the reductions
# ----------------------------------------------------------------------------------------------


def _float(x, dtype=None):
    x = jnp.asarray(x)
    if dtype is None:
        dtype = x.dtype if jnp.issubdtype(x.dtype, jnp.floating) else jnp.result_type(float)
    return x.astype(dtype)


def _inputs(y_true, y_pred):
    """``y_pred`` as floats, ``y_true`` cast to its dtype (Keras' first lines)."""
    y_pred = _float(y_pred)
    return _float(y_true, y_pred.dtype), y_pred


def _same_rank(x1, x2, expand_rank_1=True):
    """Keras' ``squeeze_or_expand_to_same_rank``: ranks differing by a trailing 1 are matched."""
    r1, r2 = x1.ndim, x2.ndim
    if r1 == r2 + 1 and x1.shape[-1] == 1:
        if r2 == 1 and expand_rank_1:
            x2 = x2[..., None]
        else:
            x1 = jnp.squeeze(x1, -1)
    elif r2 == r1 + 1 and x2.shape[-1] == 1:
        if r1 == 1 and expand_rank_1:
            x1 = x1[..., None]
        else:
            x2 = jnp.squeeze(x2, -1)
    return x1, x2


def _broadcast(*xs):
    """NumPy broadcasting made explicit (the library runs under rank promotion "raise")."""
    shape = np.broadcast_shapes(*(jnp.shape(x) for x in xs))
    return [jnp.broadcast_to(x, shape) for x in xs]


def _matched(y_true, y_pred):
    y_true, y_pred = _inputs(y_true, y_pred)
    return _broadcast(*_same_rank(y_true, y_pred))


def _divide_no_nan(a, b):
    zero = b == 0
    return jnp.where(zero, jnp.zeros_like(a), a / jnp.where(zero, jnp.ones_like(b), b))


def _reduce(values, sample_weight=None, mask=None, reduction="sum_over_batch_size"):
    """Keras' ``reduce_weighted_values``: the mask and ``sample_weight`` merge into one weight."""
    values = jnp.asarray(values)
    dtype = values.dtype
    if sample_weight is not None:
        sample_weight = _float(sample_weight, dtype)
    if mask is not None:
        mask = jnp.asarray(mask, bool)
        if reduction in ("mean", "sum_over_batch_size"):
            # valid entries weigh total / valid, so that dividing by the total gives the mean
            # over the valid entries
            total = jnp.asarray(mask.size, dtype)
            mask_weight = _divide_no_nan(total, jnp.sum(mask.astype(dtype)))
            float_mask = jnp.where(mask, mask_weight, jnp.zeros((), dtype))
        else:
            float_mask = mask.astype(dtype)
        if sample_weight is None:
            sample_weight = float_mask
        else:
            float_mask, sample_weight = _same_rank(float_mask, sample_weight)
            sample_weight = jnp.multiply(*_broadcast(sample_weight, float_mask))
    if sample_weight is not None:
        values, sample_weight = _same_rank(values, sample_weight)
        values = jnp.multiply(*_broadcast(values, sample_weight))
    if reduction in (None, "none") or values.shape in ((), (0,)):
        return values
    loss = jnp.sum(values)
    if reduction == "sum":
        return loss
    if reduction == "mean_with_sample_weight" and sample_weight is not None:
        divisor = jnp.sum(sample_weight)
    else:
        divisor = jnp.asarray(values.size, dtype)
    return _divide_no_nan(loss, divisor)


def _smooth(y_true, label_smoothing, num_classes):
    if not label_smoothing:
        return y_true
    return y_true * (1.0 - label_smoothing) + label_smoothing / num_classes


def _clip(p):
    return jnp.clip(p, EPSILON, 1.0 - EPSILON)


def _axis_tuple(axis, ndim):
    if axis is None:
        return tuple(range(ndim))
    return tuple(a % ndim for a in (axis if isinstance(axis, (tuple, list)) else (axis,)))


def _hinge_targets(y_true):
    """Keras: labels that are all 0 or 1 become -1 / +1; anything else is used as given."""
    binary = jnp.all((y_true == 0) | (y_true == 1))
    return jnp.where(binary, 2.0 * y_true - 1.0, y_true)


# ----------------------------------------------------------------------------------------------
# keras.losses functions: (y_true, y_pred) -> per-sample losses
# ----------------------------------------------------------------------------------------------


def mean_squared_error(y_true, y_pred):
    """``keras.losses.mean_squared_error``: ``mean((y_true − y_pred)², axis=-1)``."""
    y_true, y_pred = _matched(y_true, y_pred)
    return jnp.mean(_regression.mean_squared_error(y_pred, y_true, reduction="none"), axis=-1)


def mean_absolute_error(y_true, y_pred):
    """``keras.losses.mean_absolute_error``: ``mean(|y_true − y_pred|, axis=-1)``."""
    y_true, y_pred = _matched(y_true, y_pred)
    return jnp.mean(_regression.mean_absolute_error(y_pred, y_true, reduction="none"), axis=-1)


def mean_absolute_percentage_error(y_true, y_pred):
    """``keras.losses.mean_absolute_percentage_error``."""
    y_true, y_pred = _matched(y_true, y_pred)
    values = _regression.mean_absolute_percentage_error(
        y_pred, y_true, epsilon=EPSILON, reduction="none"
    )
    return jnp.mean(values, axis=-1)


def mean_squared_logarithmic_error(y_true, y_pred):
    """``keras.losses.mean_squared_logarithmic_error``."""
    y_true, y_pred = _matched(y_true, y_pred)
    values = _regression.mean_squared_logarithmic_error(y_pred, y_true, reduction="none")
    return jnp.mean(values, axis=-1)


def cosine_similarity(y_true, y_pred, axis=-1):
    """``keras.losses.cosine_similarity``: ``−cos(y_true, y_pred)`` (norms clipped at 1e-7)."""
    y_true, y_pred = _matched(y_true, y_pred)
    return _metric.cosine_similarity_loss(
        y_pred, y_true, axis=axis, epsilon=EPSILON, reduction="none"
    )


def huber(y_true, y_pred, delta=1.0):
    """``keras.losses.huber``."""
    y_true, y_pred = _matched(y_true, y_pred)
    return jnp.mean(_regression.huber_loss(y_pred, y_true, delta=delta, reduction="none"), -1)


def log_cosh(y_true, y_pred):
    """``keras.losses.log_cosh``."""
    y_true, y_pred = _matched(y_true, y_pred)
    return jnp.mean(_regression.log_cosh(y_pred, y_true, reduction="none"), axis=-1)


def hinge(y_true, y_pred):
    """``keras.losses.hinge``: 0/1 labels are mapped to -1/+1 first."""
    y_true, y_pred = _inputs(y_true, y_pred)
    y_true, y_pred = _broadcast(_hinge_targets(y_true), y_pred)
    return jnp.mean(_binary.hinge_loss(y_pred, y_true, reduction="none"), axis=-1)


def squared_hinge(y_true, y_pred):
    """``keras.losses.squared_hinge``: 0/1 labels are mapped to -1/+1 first."""
    y_true, y_pred = _inputs(y_true, y_pred)
    y_true, y_pred = _broadcast(_hinge_targets(y_true), y_pred)
    return jnp.mean(_binary.squared_hinge_loss(y_pred, y_true, reduction="none"), axis=-1)


def categorical_hinge(y_true, y_pred):
    """``keras.losses.categorical_hinge``: ``max(0, 1 + max((1 − t)·s) − Σ t·s)``."""
    y_true, y_pred = _inputs(y_true, y_pred)
    return _classification.categorical_hinge(y_pred, y_true, reduction="none")


def kl_divergence(y_true, y_pred):
    """``keras.losses.kl_divergence``: both inputs clipped to ``[1e-7, 1]``, summed over -1."""
    y_true, y_pred = _inputs(y_true, y_pred)
    y_true, y_pred = _broadcast(y_true, y_pred)
    return _divergence.kl_divergence_from_probabilities(
        y_pred, y_true, epsilon=EPSILON, reduction="none"
    )


def poisson(y_true, y_pred):
    """``keras.losses.poisson``: ``mean(y_pred − y_true·log(y_pred + 1e-7), axis=-1)``."""
    y_true, y_pred = _inputs(y_true, y_pred)
    y_true, y_pred = _broadcast(y_true, y_pred)
    values = _regression.poisson_nll_loss(
        y_pred, y_true, log_input=False, epsilon=EPSILON, reduction="none"
    )
    return jnp.mean(values, axis=-1)


def categorical_crossentropy(y_true, y_pred, from_logits=False, label_smoothing=0.0, axis=-1):
    """``keras.losses.categorical_crossentropy``: probabilities are renormalised over ``axis`` and
    clipped to ``[1e-7, 1 − 1e-7]``; smoothing spreads over the classes on ``axis``."""
    if isinstance(axis, bool):
        raise ValueError(f"`axis` must be of type `int`. Received: axis={axis}")
    y_true, y_pred = _inputs(y_true, y_pred)
    if y_true.shape != y_pred.shape:
        raise ValueError(
            "categorical_crossentropy: `y_true` and `y_pred` must have the same shape, got "
            f"{y_true.shape} and {y_pred.shape}"
        )
    y_true = _smooth(y_true, label_smoothing, y_pred.shape[axis])
    if from_logits:
        return _cross_entropy.softmax_cross_entropy(y_pred, y_true, axis=axis, reduction="none")
    p = _clip(y_pred / jnp.sum(y_pred, axis=axis, keepdims=True))
    return _cross_entropy.categorical_cross_entropy(p, y_true, axis=axis, reduction="none")


def _sparse_ce(y_true, y_pred, from_logits=False, ignore_class=None, axis=-1):
    """Per-example values and the Keras mask (``None`` without ``ignore_class``)."""
    y_pred = _float(y_pred)
    y_true = jnp.asarray(y_true)
    if y_true.ndim == y_pred.ndim and y_true.shape[axis] == 1:
        y_true = jnp.squeeze(y_true, axis)
    if y_true.ndim == y_pred.ndim and y_true.shape[-1] == 1:
        y_true = jnp.squeeze(y_true, -1)
    labels = y_true.astype(jnp.int32)
    if ignore_class is not None:
        ignore_class = int(ignore_class)
    if from_logits:
        values = _cross_entropy.sparse_softmax_cross_entropy(
            y_pred, labels, axis=axis, ignore_index=ignore_class, reduction="none"
        )
    else:
        p = _clip(y_pred / jnp.sum(y_pred, axis=axis, keepdims=True))
        values = _cross_entropy.sparse_categorical_cross_entropy(
            p, labels, axis=axis, ignore_index=ignore_class, reduction="none"
        )
    mask = None if ignore_class is None else labels != ignore_class
    return values, mask


def sparse_categorical_crossentropy(y_true, y_pred, from_logits=False, ignore_class=None, axis=-1):
    """``keras.losses.sparse_categorical_crossentropy`` (exactly 0 at ``ignore_class``)."""
    return _sparse_ce(y_true, y_pred, from_logits, ignore_class, axis)[0]


def binary_crossentropy(y_true, y_pred, from_logits=False, label_smoothing=0.0, axis=-1):
    """``keras.losses.binary_crossentropy``: probabilities clipped to ``[1e-7, 1 − 1e-7]``,
    smoothing toward 0.5, mean over ``axis``."""
    y_true, y_pred = _inputs(y_true, y_pred)
    y_true = _smooth(y_true, label_smoothing, 2.0)
    if from_logits:
        values = _binary.sigmoid_binary_cross_entropy(y_pred, y_true, reduction="none")
    else:
        values = _binary.binary_cross_entropy(_clip(y_pred), y_true, reduction="none")
    return jnp.mean(values, axis=axis)


def binary_focal_crossentropy(
    y_true,
    y_pred,
    apply_class_balancing=False,
    alpha=0.25,
    gamma=2.0,
    from_logits=False,
    label_smoothing=0.0,
    axis=-1,
):
    """``keras.losses.binary_focal_crossentropy`` (probabilities clipped to ``[ε, 1 − ε]``)."""
    y_true, y_pred = _inputs(y_true, y_pred)
    y_true = _smooth(y_true, label_smoothing, 2.0)
    p = jax.nn.sigmoid(y_pred) if from_logits else y_pred
    values = _binary.binary_focal_loss(
        _clip(p),
        y_true,
        alpha=alpha if apply_class_balancing else None,
        gamma=gamma,
        reduction="none",
    )
    return jnp.mean(values, axis=axis)


def categorical_focal_crossentropy(
    y_true, y_pred, alpha=0.25, gamma=2.0, from_logits=False, label_smoothing=0.0, axis=-1
):
    """``keras.losses.categorical_focal_crossentropy`` (renormalised, clipped probabilities)."""
    if isinstance(axis, bool):
        raise ValueError(f"`axis` must be of type `int`. Received: axis={axis}")
    y_true, y_pred = _inputs(y_true, y_pred)
    y_true = _smooth(y_true, label_smoothing, y_pred.shape[axis])
    p = jax.nn.softmax(y_pred, axis=axis) if from_logits else y_pred
    return _classification.categorical_focal_crossentropy(
        p, y_true, axis=axis, gamma=gamma, alpha=alpha, reduction="none"
    )


def categorical_generalized_cross_entropy(y_true, y_pred, q):
    """``keras.losses.categorical_generalized_cross_entropy``: ``(1 − p_y^q) / q``."""
    y_pred = _float(y_pred)
    labels = jnp.asarray(y_true).astype(jnp.int32)
    return _classification.generalized_cross_entropy(y_pred, labels, q=q, reduction="none")


def ctc(y_true, y_pred):
    """``keras.losses.ctc``: ``y_true`` ``[B, S]`` labels padded with 0 (the blank), ``y_pred``
    ``[B, T, K]`` logits, every input step used."""
    y_pred = _float(y_pred)
    labels = jnp.asarray(y_true).astype(jnp.int32)
    if labels.ndim != 2 or y_pred.ndim != 3:
        raise ValueError(
            f"ctc: expected y_true [B, S] and y_pred [B, T, K], got {labels.shape}, {y_pred.shape}"
        )
    lengths = jnp.sum(labels != 0, axis=-1)
    label_paddings = (jnp.arange(labels.shape[1])[None, :] >= lengths[:, None]).astype(y_pred.dtype)
    logit_paddings = jnp.zeros(y_pred.shape[:2], y_pred.dtype)
    return _sequence.ctc_loss(
        y_pred, logit_paddings, labels, label_paddings, blank_id=0, reduction="none"
    )


def dice(y_true, y_pred, axis=None):
    """``keras.losses.dice``: ``1 − 2Σ y·p / (Σ y + Σ p + ε)`` over ``axis`` (``None``: all).

    :func:`jaxloss.dice_loss` with ``smooth=1e-7`` in the denominator only
    (``smooth_numerator=False``), Keras' formula exactly.
    """
    y_true, y_pred = _inputs(y_true, y_pred)
    axes = _axis_tuple(axis, y_pred.ndim)
    return _segmentation.dice_loss(
        y_pred, y_true, smooth=EPSILON, smooth_numerator=False, axis=axes, reduction="none"
    )


def tversky(y_true, y_pred, alpha=0.5, beta=0.5, axis=None):
    """``keras.losses.tversky`` as fixed upstream: ``alpha`` weights false positives
    ``Σ p·(1 − y)``, ``beta`` false negatives ``Σ (1 − p)·y`` (3.15.1 swaps them); ``1 − TP /
    (TP + α·FP + β·FN + ε)``: :func:`jaxloss.tversky_loss` with ``smooth=1e-7`` in the
    denominator only (``smooth_numerator=False``)."""
    y_true, y_pred = _inputs(y_true, y_pred)
    axes = _axis_tuple(axis, y_pred.ndim)
    return _segmentation.tversky_loss(
        y_pred,
        y_true,
        alpha=alpha,
        beta=beta,
        smooth=EPSILON,
        smooth_numerator=False,
        axis=axes,
        reduction="none",
    )


def _circle(
    y_true, y_pred, ref_labels=None, ref_embeddings=None, remove_diagonal=True, gamma=80, margin=0.4
):
    y_pred = _float(y_pred)
    values = _metric.circle_loss(
        y_pred,
        jnp.asarray(y_true).astype(jnp.int32),
        ref_embeddings=None if ref_embeddings is None else _float(ref_embeddings, y_pred.dtype),
        ref_labels=None if ref_labels is None else jnp.asarray(ref_labels).astype(jnp.int32),
        gamma=gamma,
        margin=margin,
        remove_diagonal=remove_diagonal,
        reduction="none",
    )
    return values, values > 0


def circle(
    y_true,
    y_pred,
    ref_labels=None,
    ref_embeddings=None,
    remove_diagonal=True,
    gamma=80,
    margin=0.4,
):
    """``keras.losses.circle``: per-anchor Circle loss on L2-normalised embeddings ``y_pred``."""
    return _circle(y_true, y_pred, ref_labels, ref_embeddings, remove_diagonal, gamma, margin)[0]


# ----------------------------------------------------------------------------------------------
# keras.losses classes
# ----------------------------------------------------------------------------------------------


class Loss:
    """``keras.losses.Loss``: subclass and implement ``call(y_true, y_pred)``; ``__call__`` applies
    ``sample_weight`` and the reduction."""

    def __init__(self, name=None, reduction="sum_over_batch_size", dtype=None):
        if reduction not in _REDUCTIONS:
            raise ValueError(
                f"Invalid value for argument `reduction`. Expected one of {_REDUCTIONS}. "
                f"Received: reduction={reduction}"
            )
        self.name = name or type(self).__name__
        self.reduction = reduction
        # Keras computes a loss object in its dtype, ``keras.backend.floatx()`` ("float32") unless
        # given: the clip at 1 − 1e-7, for one, rounds differently in float32 and float64
        self.dtype = jnp.dtype(dtype or "float32")

    def _values(self, y_true, y_pred):
        return self.call(y_true, y_pred), None

    def __call__(self, y_true, y_pred, sample_weight=None):
        y_pred = _float(y_pred, self.dtype)
        y_true = _float(y_true, y_pred.dtype)
        values, mask = self._values(y_true, y_pred)
        return _reduce(values, sample_weight, mask, self.reduction)

    def call(self, y_true, y_pred):
        raise NotImplementedError

    def get_config(self):
        return {"name": self.name, "reduction": self.reduction}


class _Wrapper(Loss):
    _fn = None  # the per-sample function, with its options in ``self._kwargs``
    _masked = False  # the function returns (values, mask)

    def __init__(self, reduction="sum_over_batch_size", name=None, dtype=None, **kwargs):
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        self._kwargs = kwargs

    def _values(self, y_true, y_pred):
        y_true, y_pred = _same_rank(y_true, y_pred)
        out = type(self)._fn(y_true, y_pred, **self._kwargs)
        return out if self._masked else (out, None)

    def call(self, y_true, y_pred):
        return self._values(y_true, y_pred)[0]

    def get_config(self):
        return {**super().get_config(), **self._kwargs}


def _plain(cls_name, fn, default_name):
    def __init__(self, reduction="sum_over_batch_size", name=default_name, dtype=None):
        _Wrapper.__init__(self, reduction=reduction, name=name, dtype=dtype)

    return type(
        cls_name,
        (_Wrapper,),
        {
            "_fn": staticmethod(fn),
            "__init__": __init__,
            "__doc__": f"``keras.losses.{cls_name}`` (see :func:`{fn.__name__}`).",
            "__module__": __name__,
        },
    )


MeanSquaredError = _plain("MeanSquaredError", mean_squared_error, "mean_squared_error")
MeanAbsoluteError = _plain("MeanAbsoluteError", mean_absolute_error, "mean_absolute_error")
MeanAbsolutePercentageError = _plain(
    "MeanAbsolutePercentageError",
    mean_absolute_percentage_error,
    "mean_absolute_percentage_error",
)
MeanSquaredLogarithmicError = _plain(
    "MeanSquaredLogarithmicError",
    mean_squared_logarithmic_error,
    "mean_squared_logarithmic_error",
)
LogCosh = _plain("LogCosh", log_cosh, "log_cosh")
Hinge = _plain("Hinge", hinge, "hinge")
SquaredHinge = _plain("SquaredHinge", squared_hinge, "squared_hinge")
CategoricalHinge = _plain("CategoricalHinge", categorical_hinge, "categorical_hinge")
KLDivergence = _plain("KLDivergence", kl_divergence, "kl_divergence")
Poisson = _plain("Poisson", poisson, "poisson")
CTC = _plain("CTC", ctc, "ctc")


class CosineSimilarity(_Wrapper):
    """``keras.losses.CosineSimilarity``."""

    _fn = staticmethod(cosine_similarity)

    def __init__(
        self, axis=-1, reduction="sum_over_batch_size", name="cosine_similarity", dtype=None
    ):
        super().__init__(reduction=reduction, name=name, dtype=dtype, axis=axis)


class Huber(_Wrapper):
    """``keras.losses.Huber``."""

    _fn = staticmethod(huber)

    def __init__(self, delta=1.0, reduction="sum_over_batch_size", name="huber_loss", dtype=None):
        super().__init__(reduction=reduction, name=name, dtype=dtype, delta=delta)


class BinaryCrossentropy(_Wrapper):
    """``keras.losses.BinaryCrossentropy``."""

    _fn = staticmethod(binary_crossentropy)

    def __init__(
        self,
        from_logits=False,
        label_smoothing=0.0,
        axis=-1,
        reduction="sum_over_batch_size",
        name="binary_crossentropy",
        dtype=None,
    ):
        super().__init__(
            reduction=reduction,
            name=name,
            dtype=dtype,
            from_logits=from_logits,
            label_smoothing=label_smoothing,
            axis=axis,
        )


class BinaryFocalCrossentropy(_Wrapper):
    """``keras.losses.BinaryFocalCrossentropy``."""

    _fn = staticmethod(binary_focal_crossentropy)

    def __init__(
        self,
        apply_class_balancing=False,
        alpha=0.25,
        gamma=2.0,
        from_logits=False,
        label_smoothing=0.0,
        axis=-1,
        reduction="sum_over_batch_size",
        name="binary_focal_crossentropy",
        dtype=None,
    ):
        super().__init__(
            reduction=reduction,
            name=name,
            dtype=dtype,
            apply_class_balancing=apply_class_balancing,
            alpha=alpha,
            gamma=gamma,
            from_logits=from_logits,
            label_smoothing=label_smoothing,
            axis=axis,
        )


class CategoricalCrossentropy(_Wrapper):
    """``keras.losses.CategoricalCrossentropy``."""

    _fn = staticmethod(categorical_crossentropy)

    def __init__(
        self,
        from_logits=False,
        label_smoothing=0.0,
        axis=-1,
        reduction="sum_over_batch_size",
        name="categorical_crossentropy",
        dtype=None,
    ):
        super().__init__(
            reduction=reduction,
            name=name,
            dtype=dtype,
            from_logits=from_logits,
            label_smoothing=label_smoothing,
            axis=axis,
        )


class CategoricalFocalCrossentropy(_Wrapper):
    """``keras.losses.CategoricalFocalCrossentropy``."""

    _fn = staticmethod(categorical_focal_crossentropy)

    def __init__(
        self,
        alpha=0.25,
        gamma=2.0,
        from_logits=False,
        label_smoothing=0.0,
        axis=-1,
        reduction="sum_over_batch_size",
        name="categorical_focal_crossentropy",
        dtype=None,
    ):
        super().__init__(
            reduction=reduction,
            name=name,
            dtype=dtype,
            alpha=alpha,
            gamma=gamma,
            from_logits=from_logits,
            label_smoothing=label_smoothing,
            axis=axis,
        )


class SparseCategoricalCrossentropy(_Wrapper):
    """``keras.losses.SparseCategoricalCrossentropy``: with ``ignore_class``, the ignored
    entries are masked out of the reduction (``"sum_over_batch_size"`` averages the others)."""

    _fn = staticmethod(_sparse_ce)
    _masked = True

    def __init__(
        self,
        from_logits=False,
        ignore_class=None,
        reduction="sum_over_batch_size",
        axis=-1,
        name="sparse_categorical_crossentropy",
        dtype=None,
    ):
        super().__init__(
            reduction=reduction,
            name=name,
            dtype=dtype,
            from_logits=from_logits,
            ignore_class=ignore_class,
            axis=axis,
        )

    def _values(self, y_true, y_pred):
        # no rank matching of (y_true, y_pred): the labels have one axis fewer
        return type(self)._fn(y_true, y_pred, **self._kwargs)


class Dice(_Wrapper):
    """``keras.losses.Dice``."""

    _fn = staticmethod(dice)

    def __init__(self, reduction="sum_over_batch_size", name="dice", axis=None, dtype=None):
        super().__init__(reduction=reduction, name=name, dtype=dtype, axis=axis)


class Tversky(_Wrapper):
    """``keras.losses.Tversky`` (``alpha`` weights false positives, as fixed upstream)."""

    _fn = staticmethod(tversky)

    def __init__(
        self,
        alpha=0.5,
        beta=0.5,
        reduction="sum_over_batch_size",
        name="tversky",
        axis=None,
        dtype=None,
    ):
        super().__init__(
            reduction=reduction, name=name, dtype=dtype, alpha=alpha, beta=beta, axis=axis
        )


class Circle(_Wrapper):
    """``keras.losses.Circle``: anchors whose loss is 0 are masked out of the reduction."""

    _fn = staticmethod(_circle)
    _masked = True

    def __init__(
        self,
        gamma=80.0,
        margin=0.4,
        remove_diagonal=True,
        reduction="sum_over_batch_size",
        name="circle",
        dtype=None,
    ):
        super().__init__(
            reduction=reduction,
            name=name,
            dtype=dtype,
            gamma=gamma,
            margin=margin,
            remove_diagonal=remove_diagonal,
        )

    def _values(self, y_true, y_pred):
        return type(self)._fn(y_true, y_pred, **self._kwargs)


class CategoricalGeneralizedCrossEntropy(_Wrapper):
    """``keras.losses.CategoricalGeneralizedCrossEntropy``."""

    _fn = staticmethod(categorical_generalized_cross_entropy)

    def __init__(
        self,
        q=0.5,
        reduction="sum_over_batch_size",
        name="categorical_generalized_cross_entropy",
        dtype=None,
    ):
        if not 0 < q <= 1:
            raise ValueError(f"q must be in the interval (0, 1]. Received: q={q}")
        super().__init__(reduction=reduction, name=name, dtype=dtype, q=q)

    def _values(self, y_true, y_pred):
        return type(self)._fn(y_true, y_pred, **self._kwargs), None
