"""PyTorch's loss API over jaxloss: ``torch.nn.functional`` losses and ``torch.nn`` loss classes.

A drop-in for code written against PyTorch 2.13 (API.md §6): the same names, argument order
(``input`` first), defaults and semantics — class dimension 1 on ``[N, C, d1, ...]`` inputs,
``ignore_index=-100``, probability targets in :func:`cross_entropy`, ``reduction="batchmean"`` in
:func:`kl_div`, PyTorch's normaliser for each ``weight`` — with JAX arrays in and out, under
``jit`` / ``vmap`` / ``grad``. Each function here is a skin: it converts the signature and the
reduction convention and calls a canonical jaxloss loss (no loss math lives in this module).

Examples:
  >>> import jax.numpy as jnp
  >>> from jaxloss.compat import torch as F
  >>> logits = jnp.array([[2.0, 0.5, -1.0], [0.1, 0.2, 3.0]])
  >>> print(f"{float(F.cross_entropy(logits, jnp.array([0, 2]))):.4f}")
  0.1755
  >>> loss = F.CrossEntropyLoss(label_smoothing=0.1)
  >>> print(f"{float(loss(logits, jnp.array([0, 2]))):.4f}")
  0.3455
"""

from __future__ import annotations

from typing import Callable

import jax.numpy as jnp
import numpy as np

from .. import (
    _binary,
    _classification,
    _cross_entropy,
    _divergence,
    _metric,
    _regression,
    _sequence,
)

__all__ = [
    "binary_cross_entropy",
    "binary_cross_entropy_with_logits",
    "cosine_embedding_loss",
    "cross_entropy",
    "ctc_loss",
    "gaussian_nll_loss",
    "hinge_embedding_loss",
    "huber_loss",
    "kl_div",
    "l1_loss",
    "margin_ranking_loss",
    "mse_loss",
    "multi_margin_loss",
    "multilabel_margin_loss",
    "multilabel_soft_margin_loss",
    "nll_loss",
    "poisson_nll_loss",
    "smooth_l1_loss",
    "soft_margin_loss",
    "triplet_margin_loss",
    "triplet_margin_with_distance_loss",
    "BCELoss",
    "BCEWithLogitsLoss",
    "CTCLoss",
    "CosineEmbeddingLoss",
    "CrossEntropyLoss",
    "GaussianNLLLoss",
    "HingeEmbeddingLoss",
    "HuberLoss",
    "KLDivLoss",
    "L1Loss",
    "MSELoss",
    "MarginRankingLoss",
    "MultiLabelMarginLoss",
    "MultiLabelSoftMarginLoss",
    "MultiMarginLoss",
    "NLLLoss",
    "PoissonNLLLoss",
    "SmoothL1Loss",
    "SoftMarginLoss",
    "TripletMarginLoss",
    "TripletMarginWithDistanceLoss",
]

_REDUCTIONS = ("none", "mean", "sum")


# ----------------------------------------------------------------------------------------------
# Signature and reduction conversion (the only logic of this module)
# ----------------------------------------------------------------------------------------------


def _reduction(name, size_average, reduce, reduction, allowed=_REDUCTIONS) -> str:
    """PyTorch's legacy ``size_average`` / ``reduce`` flags mapped to ``reduction``."""
    if size_average is not None or reduce is not None:
        size_average = True if size_average is None else size_average
        reduce = True if reduce is None else reduce
        reduction = ("mean" if size_average else "sum") if reduce else "none"
    if reduction not in allowed:
        raise ValueError(
            f"jaxloss.compat.torch.{name}: 'reduction' must be one of {allowed}, got {reduction!r}"
        )
    return reduction


def _class_axis(x) -> int:
    """PyTorch's class dimension: 0 for an unbatched ``[C]`` input, else 1."""
    return 0 if jnp.ndim(x) == 1 else 1


def _full(weight, x):
    """An element-wise ``weight`` broadcast (PyTorch-style, right-aligned) to ``x``'s shape."""
    return None if weight is None else jnp.broadcast_to(jnp.asarray(weight), jnp.shape(x))


def _mean_over_count(fn, x, *args, weight=None, reduction="mean", **kw):
    """Element-wise losses whose ``"mean"`` divides ``Σ w·ℓ`` by the number of elements."""
    if reduction == "mean" and weight is not None:
        total = fn(x, *args, weights=_full(weight, x), reduction="sum", **kw)
        return total / jnp.asarray(jnp.size(x), total.dtype)
    return fn(x, *args, weights=_full(weight, x), reduction=reduction, **kw)


# ----------------------------------------------------------------------------------------------
# torch.nn.functional
# ----------------------------------------------------------------------------------------------


def l1_loss(input, target, size_average=None, reduce=None, reduction="mean", weight=None):
    """``torch.nn.functional.l1_loss``: ``"mean"`` with ``weight`` is ``Σ w·|x − y| / Σ w``."""
    reduction = _reduction("l1_loss", size_average, reduce, reduction)
    return _regression.mean_absolute_error(
        input, target, weights=_full(weight, input), reduction=reduction
    )


def mse_loss(input, target, size_average=None, reduce=None, reduction="mean", weight=None):
    """``torch.nn.functional.mse_loss``: ``"mean"`` with ``weight`` is ``Σ w·(x − y)² / Σ w``."""
    reduction = _reduction("mse_loss", size_average, reduce, reduction)
    return _regression.mean_squared_error(
        input, target, weights=_full(weight, input), reduction=reduction
    )


def huber_loss(input, target, reduction="mean", delta=1.0, weight=None):
    """``torch.nn.functional.huber_loss``: ``"mean"`` with ``weight`` is ``Σ w·ℓ / numel``."""
    reduction = _reduction("huber_loss", None, None, reduction)
    return _mean_over_count(
        _regression.huber_loss, input, target, weight=weight, reduction=reduction, delta=delta
    )


def smooth_l1_loss(input, target, size_average=None, reduce=None, reduction="mean", beta=1.0):
    """``torch.nn.functional.smooth_l1_loss``."""
    reduction = _reduction("smooth_l1_loss", size_average, reduce, reduction)
    return _regression.smooth_l1_loss(input, target, beta=beta, reduction=reduction)


def poisson_nll_loss(
    input,
    target,
    log_input=True,
    full=False,
    size_average=None,
    eps=1e-8,
    reduce=None,
    reduction="mean",
):
    """``torch.nn.functional.poisson_nll_loss``."""
    reduction = _reduction("poisson_nll_loss", size_average, reduce, reduction)
    return _regression.poisson_nll_loss(
        input, target, log_input=log_input, full=full, epsilon=eps, reduction=reduction
    )


def gaussian_nll_loss(input, target, var, full=False, eps=1e-6, reduction="mean"):
    """``torch.nn.functional.gaussian_nll_loss`` (``var`` may be a float, as in PyTorch)."""
    reduction = _reduction("gaussian_nll_loss", None, None, reduction)
    if isinstance(var, (int, float)):
        var = jnp.full(jnp.shape(input), var, jnp.result_type(input))
    return _regression.gaussian_nll_loss(
        input, target, var, full=full, epsilon=eps, reduction=reduction
    )


def binary_cross_entropy(
    input, target, weight=None, size_average=None, reduce=None, reduction="mean"
):
    """``torch.nn.functional.binary_cross_entropy``: logs clamped at -100; ``"mean"`` is over
    all elements, ``weight`` (broadcast to ``input``) multiplies each term."""
    reduction = _reduction("binary_cross_entropy", size_average, reduce, reduction)
    return _mean_over_count(
        _binary.binary_cross_entropy, input, target, weight=weight, reduction=reduction
    )


def binary_cross_entropy_with_logits(
    input,
    target,
    weight=None,
    size_average=None,
    reduce=None,
    reduction="mean",
    pos_weight=None,
):
    """``torch.nn.functional.binary_cross_entropy_with_logits`` (``pos_weight`` broadcast over the
    last dimension, ``"mean"`` over all elements)."""
    reduction = _reduction("binary_cross_entropy_with_logits", size_average, reduce, reduction)
    return _mean_over_count(
        _binary.sigmoid_binary_cross_entropy,
        input,
        target,
        weight=weight,
        reduction=reduction,
        pos_weight=_full(pos_weight, input),
    )


def soft_margin_loss(input, target, size_average=None, reduce=None, reduction="mean"):
    """``torch.nn.functional.soft_margin_loss``."""
    reduction = _reduction("soft_margin_loss", size_average, reduce, reduction)
    return _binary.soft_margin_loss(input, target, reduction=reduction)


def multilabel_soft_margin_loss(
    input, target, weight=None, size_average=None, reduce=None, reduction="mean"
):
    """``torch.nn.functional.multilabel_soft_margin_loss`` (``[N, C]`` input)."""
    reduction = _reduction("multilabel_soft_margin_loss", size_average, reduce, reduction)
    return _binary.multilabel_soft_margin_loss(
        input, target, class_weights=weight, axis=-1, reduction=reduction
    )


def multilabel_margin_loss(input, target, size_average=None, reduce=None, reduction="mean"):
    """``torch.nn.functional.multilabel_margin_loss``: ``target`` holds class ids, ended by -1."""
    reduction = _reduction("multilabel_margin_loss", size_average, reduce, reduction)
    return _classification.multilabel_margin_loss(input, target, axis=-1, reduction=reduction)


def multi_margin_loss(
    input,
    target,
    p=1,
    margin=1.0,
    weight=None,
    size_average=None,
    reduce=None,
    reduction="mean",
):
    """``torch.nn.functional.multi_margin_loss``."""
    reduction = _reduction("multi_margin_loss", size_average, reduce, reduction)
    return _classification.multi_margin_loss(
        input,
        target,
        axis=_class_axis(input),
        p=p,
        margin=margin,
        class_weights=weight,
        reduction=reduction,
    )


def nll_loss(
    input,
    target,
    weight=None,
    size_average=None,
    ignore_index=-100,
    reduce=None,
    reduction="mean",
):
    """``torch.nn.functional.nll_loss``: class dimension 1; ``"mean"`` divides by ``Σ w[y]``."""
    reduction = _reduction("nll_loss", size_average, reduce, reduction)
    return _cross_entropy.nll_loss(
        input,
        target,
        axis=_class_axis(input),
        class_weights=weight,
        ignore_index=ignore_index,
        reduction=reduction,
    )


def cross_entropy(
    input,
    target,
    weight=None,
    size_average=None,
    ignore_index=-100,
    reduce=None,
    reduction="mean",
    label_smoothing=0.0,
):
    """``torch.nn.functional.cross_entropy``: class dimension 1; ``target`` holds class ids
    (``ignore_index``, ``weight`` normaliser ``Σ w[target]``) or class probabilities of
    ``input``'s shape (``weight`` inside the class sum, ``"mean"`` over the examples)."""
    reduction = _reduction("cross_entropy", size_average, reduce, reduction)
    axis = _class_axis(input)
    if jnp.issubdtype(jnp.result_type(target), jnp.floating):
        return _cross_entropy.softmax_cross_entropy(
            input,
            target,
            axis=axis,
            label_smoothing=label_smoothing,
            class_weights=weight,
            reduction=reduction,
        )
    return _cross_entropy.sparse_softmax_cross_entropy(
        input,
        target,
        axis=axis,
        ignore_index=ignore_index,
        label_smoothing=label_smoothing,
        class_weights=weight,
        reduction=reduction,
    )


def kl_div(input, target, size_average=None, reduce=None, reduction="mean", log_target=False):
    """``torch.nn.functional.kl_div``: point-wise ``target·(log target − input)``; ``"mean"`` is
    over all elements, ``"batchmean"`` divides the sum by ``input.shape[0]``."""
    reduction = _reduction(
        "kl_div", size_average, reduce, reduction, allowed=(*_REDUCTIONS, "batchmean")
    )
    # a trailing class axis of size 1 makes jaxloss' KL (a sum over that axis) point-wise
    pointwise = _divergence.kl_divergence(
        jnp.asarray(input)[..., None],
        jnp.asarray(target)[..., None],
        log_targets=log_target,
        reduction="sum" if reduction == "batchmean" else reduction,
    )
    if reduction == "batchmean":
        size = jnp.shape(input)[0] if jnp.ndim(input) else 1
        return pointwise / jnp.asarray(size, pointwise.dtype)
    return pointwise


def hinge_embedding_loss(
    input, target, margin=1.0, size_average=None, reduce=None, reduction="mean"
):
    """``torch.nn.functional.hinge_embedding_loss``."""
    reduction = _reduction("hinge_embedding_loss", size_average, reduce, reduction)
    return _metric.hinge_embedding_loss(input, target, margin=margin, reduction=reduction)


def margin_ranking_loss(
    input1, input2, target, margin=0.0, size_average=None, reduce=None, reduction="mean"
):
    """``torch.nn.functional.margin_ranking_loss``."""
    reduction = _reduction("margin_ranking_loss", size_average, reduce, reduction)
    return _metric.margin_ranking_loss(input1, input2, target, margin=margin, reduction=reduction)


def cosine_embedding_loss(
    input1, input2, target, margin=0.0, size_average=None, reduce=None, reduction="mean"
):
    """``torch.nn.functional.cosine_embedding_loss``."""
    reduction = _reduction("cosine_embedding_loss", size_average, reduce, reduction)
    return _metric.cosine_embedding_loss(
        input1, input2, target, margin=margin, axis=-1, reduction=reduction
    )


def triplet_margin_loss(
    anchor,
    positive,
    negative,
    margin=1.0,
    p=2,
    eps=1e-6,
    swap=False,
    size_average=None,
    reduce=None,
    reduction="mean",
):
    """``torch.nn.functional.triplet_margin_loss``."""
    reduction = _reduction("triplet_margin_loss", size_average, reduce, reduction)
    return _metric.triplet_margin_loss(
        anchor, positive, negative, margin=margin, p=p, epsilon=eps, swap=swap, reduction=reduction
    )


def triplet_margin_with_distance_loss(
    anchor,
    positive,
    negative,
    *,
    distance_function: Callable | None = None,
    margin=1.0,
    swap=False,
    reduction="mean",
):
    """``torch.nn.functional.triplet_margin_with_distance_loss`` (``distance_function`` takes and
    returns JAX arrays; ``None`` is PyTorch's ``pairwise_distance``)."""
    reduction = _reduction("triplet_margin_with_distance_loss", None, None, reduction)
    return _metric.triplet_margin_with_distance_loss(
        anchor,
        positive,
        negative,
        distance_function=distance_function,
        margin=margin,
        swap=swap,
        reduction=reduction,
    )


def ctc_loss(
    log_probs,
    targets,
    input_lengths,
    target_lengths,
    blank=0,
    reduction="mean",
    zero_infinity=False,
):
    """``torch.nn.functional.ctc_loss``: ``log_probs`` ``[T, N, C]`` (or ``[T, C]``), ``targets``
    padded ``[N, S]`` (or concatenated 1-D), lengths ``[N]``; ``"mean"`` divides each sequence's
    loss by its target length, then averages (PyTorch).

    ``log_probs`` go through jaxloss' CTC, which applies ``log_softmax``: for normalised
    ``log_probs`` (what PyTorch requires) the values are PyTorch's, and so are the gradients
    through the caller's ``log_softmax``. Concatenated 1-D targets need concrete
    ``target_lengths`` (their layout is resolved outside ``jit``); padded targets are traceable.
    """
    reduction = _reduction("ctc_loss", None, None, reduction)
    log_probs = jnp.asarray(log_probs)
    unbatched = log_probs.ndim == 2
    if unbatched:
        log_probs = log_probs[:, None, :]
        targets = jnp.asarray(targets)[None]
        input_lengths = jnp.reshape(jnp.asarray(input_lengths), (1,))
        target_lengths = jnp.reshape(jnp.asarray(target_lengths), (1,))
    targets = jnp.asarray(targets)
    input_lengths = jnp.asarray(input_lengths)
    target_lengths = jnp.asarray(target_lengths)
    if targets.ndim == 1:  # concatenated targets: pad them to [N, max target length]
        lengths = np.asarray(target_lengths)
        starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
        width = max(int(lengths.max(initial=0)), 1)
        idx = starts[:, None] + np.arange(width)[None, :]
        keep = np.arange(width)[None, :] < lengths[:, None]
        targets = jnp.where(keep, targets[np.where(keep, idx, 0)], 0)
    steps, width = log_probs.shape[0], targets.shape[1]
    logit_paddings = (jnp.arange(steps)[None, :] >= input_lengths[:, None]).astype(log_probs.dtype)
    label_paddings = (jnp.arange(width)[None, :] >= target_lengths[:, None]).astype(log_probs.dtype)
    out = _sequence.ctc_loss(
        jnp.swapaxes(log_probs, 0, 1),
        logit_paddings,
        targets,
        label_paddings,
        blank_id=blank,
        zero_infinity=zero_infinity,
        reduction="mean_per_label" if reduction == "mean" else reduction,
    )
    return out[0] if unbatched and reduction == "none" else out


# ----------------------------------------------------------------------------------------------
# torch.nn loss classes: options in the constructor, ``loss(input, target)`` calls the function
# ----------------------------------------------------------------------------------------------


class _Loss:
    """Base of the ``torch.nn`` loss classes: stores the options, ``__call__`` / ``forward``."""

    _fn: Callable
    _inputs = 2

    def __init__(self, **options):
        self._options = options

    def __call__(self, *inputs):
        if len(inputs) != self._inputs:
            raise TypeError(
                f"jaxloss.compat.torch.{type(self).__name__}: expected {self._inputs} inputs, "
                f"got {len(inputs)}"
            )
        return type(self)._fn(*inputs, **self._options)

    forward = __call__

    def __getattr__(self, item):
        options = self.__dict__.get("_options", {})
        if item in options:
            return options[item]
        raise AttributeError(item)

    def __repr__(self):
        opts = ", ".join(f"{k}={v!r}" for k, v in self._options.items() if v is not None)
        return f"{type(self).__name__}({opts})"


def _loss_class(name: str, fn: Callable, inputs: int, init: Callable) -> type:
    """A ``torch.nn`` loss class whose constructor is ``init`` and whose call is ``fn``."""

    def __init__(self, *args, **kwargs):
        _Loss.__init__(self, **init(*args, **kwargs))

    cls = type(
        name,
        (_Loss,),
        {
            "_fn": staticmethod(fn),
            "_inputs": inputs,
            "__init__": __init__,
            "__doc__": f"``torch.nn.{name}``: constructed with its options, called as "
            f"``loss({', '.join(['input', 'target', '...'][: max(inputs, 2)])})`` "
            f"(see :func:`{fn.__name__}`).",
        },
    )
    cls.__module__ = __name__
    return cls


def _legacy(size_average=None, reduce=None, reduction="mean"):
    return {"reduction": _reduction("loss", size_average, reduce, reduction, _REDUCTIONS)}


def _legacy_kl(size_average=None, reduce=None, reduction="mean", log_target=False):
    allowed = (*_REDUCTIONS, "batchmean")
    return {
        "reduction": _reduction("KLDivLoss", size_average, reduce, reduction, allowed),
        "log_target": log_target,
    }


def _weighted(weight=None, size_average=None, reduce=None, reduction="mean"):
    return {"weight": weight, **_legacy(size_average, reduce, reduction)}


def _bce_logits(weight=None, size_average=None, reduce=None, reduction="mean", pos_weight=None):
    return {**_weighted(weight, size_average, reduce, reduction), "pos_weight": pos_weight}


def _ce(
    weight=None,
    size_average=None,
    ignore_index=-100,
    reduce=None,
    reduction="mean",
    label_smoothing=0.0,
):
    return {
        **_weighted(weight, size_average, reduce, reduction),
        "ignore_index": ignore_index,
        "label_smoothing": label_smoothing,
    }


def _nll(weight=None, size_average=None, ignore_index=-100, reduce=None, reduction="mean"):
    return {**_weighted(weight, size_average, reduce, reduction), "ignore_index": ignore_index}


def _margin(default):
    def init(margin=default, size_average=None, reduce=None, reduction="mean"):
        return {"margin": margin, **_legacy(size_average, reduce, reduction)}

    return init


def _smooth_l1(size_average=None, reduce=None, reduction="mean", beta=1.0):
    return {**_legacy(size_average, reduce, reduction), "beta": beta}


def _huber(reduction="mean", delta=1.0):
    return {"reduction": reduction, "delta": delta}


def _poisson(
    log_input=True, full=False, size_average=None, eps=1e-8, reduce=None, reduction="mean"
):
    return {
        "log_input": log_input,
        "full": full,
        "eps": eps,
        **_legacy(size_average, reduce, reduction),
    }


def _gaussian(*, full=False, eps=1e-6, reduction="mean"):
    return {"full": full, "eps": eps, "reduction": reduction}


def _multi_margin(p=1, margin=1.0, weight=None, size_average=None, reduce=None, reduction="mean"):
    return {"p": p, "margin": margin, **_weighted(weight, size_average, reduce, reduction)}


def _triplet(
    margin=1.0, p=2.0, eps=1e-6, swap=False, size_average=None, reduce=None, reduction="mean"
):
    return {
        "margin": margin,
        "p": p,
        "eps": eps,
        "swap": swap,
        **_legacy(size_average, reduce, reduction),
    }


def _triplet_distance(*, distance_function=None, margin=1.0, swap=False, reduction="mean"):
    return {
        "distance_function": distance_function,
        "margin": margin,
        "swap": swap,
        "reduction": reduction,
    }


def _ctc(blank=0, reduction="mean", zero_infinity=False):
    return {"blank": blank, "reduction": reduction, "zero_infinity": zero_infinity}


L1Loss = _loss_class("L1Loss", l1_loss, 2, _legacy)
MSELoss = _loss_class("MSELoss", mse_loss, 2, _legacy)
HuberLoss = _loss_class("HuberLoss", huber_loss, 2, _huber)
SmoothL1Loss = _loss_class("SmoothL1Loss", smooth_l1_loss, 2, _smooth_l1)
PoissonNLLLoss = _loss_class("PoissonNLLLoss", poisson_nll_loss, 2, _poisson)
GaussianNLLLoss = _loss_class("GaussianNLLLoss", gaussian_nll_loss, 3, _gaussian)
BCELoss = _loss_class("BCELoss", binary_cross_entropy, 2, _weighted)
BCEWithLogitsLoss = _loss_class(
    "BCEWithLogitsLoss", binary_cross_entropy_with_logits, 2, _bce_logits
)
SoftMarginLoss = _loss_class("SoftMarginLoss", soft_margin_loss, 2, _legacy)
MultiLabelSoftMarginLoss = _loss_class(
    "MultiLabelSoftMarginLoss", multilabel_soft_margin_loss, 2, _weighted
)
MultiLabelMarginLoss = _loss_class("MultiLabelMarginLoss", multilabel_margin_loss, 2, _legacy)
MultiMarginLoss = _loss_class("MultiMarginLoss", multi_margin_loss, 2, _multi_margin)
NLLLoss = _loss_class("NLLLoss", nll_loss, 2, _nll)
CrossEntropyLoss = _loss_class("CrossEntropyLoss", cross_entropy, 2, _ce)
KLDivLoss = _loss_class("KLDivLoss", kl_div, 2, _legacy_kl)
HingeEmbeddingLoss = _loss_class("HingeEmbeddingLoss", hinge_embedding_loss, 2, _margin(1.0))
MarginRankingLoss = _loss_class("MarginRankingLoss", margin_ranking_loss, 3, _margin(0.0))
CosineEmbeddingLoss = _loss_class("CosineEmbeddingLoss", cosine_embedding_loss, 3, _margin(0.0))
TripletMarginLoss = _loss_class("TripletMarginLoss", triplet_margin_loss, 3, _triplet)
TripletMarginWithDistanceLoss = _loss_class(
    "TripletMarginWithDistanceLoss", triplet_margin_with_distance_loss, 3, _triplet_distance
)
CTCLoss = _loss_class("CTCLoss", ctc_loss, 4, _ctc)
