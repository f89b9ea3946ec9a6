"""Cross-entropy family: softmax / probability / log-probability inputs over a class axis."""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from ._alias import bind


def softmax_cross_entropy(logits: ArrayLike, targets: ArrayLike, *, axis: int = -1, label_smoothing: ArrayLike = 0.0, class_weights: ArrayLike | None = None, z_loss: ArrayLike = 0.0, weights: ArrayLike | None = None, where: ArrayLike | None = None, reduction: str = "mean") -> jax.Array:
    """TODO(stub): softmax_cross_entropy. Replaced by the family implementation."""
    raise NotImplementedError("softmax_cross_entropy is not implemented yet")


def sparse_softmax_cross_entropy(logits: ArrayLike, labels: ArrayLike, *, axis: int = -1, ignore_index: int | None = None, label_smoothing: ArrayLike = 0.0, class_weights: ArrayLike | None = None, z_loss: ArrayLike = 0.0, logit_softcap: ArrayLike | None = None, weights: ArrayLike | None = None, where: ArrayLike | None = None, reduction: str = "mean") -> jax.Array:
    """TODO(stub): sparse_softmax_cross_entropy. Replaced by the family implementation."""
    raise NotImplementedError("sparse_softmax_cross_entropy is not implemented yet")


def categorical_cross_entropy(probabilities: ArrayLike, targets: ArrayLike, *, axis: int = -1, label_smoothing: ArrayLike = 0.0, weights: ArrayLike | None = None, where: ArrayLike | None = None, reduction: str = "mean") -> jax.Array:
    """TODO(stub): categorical_cross_entropy. Replaced by the family implementation."""
    raise NotImplementedError("categorical_cross_entropy is not implemented yet")


def sparse_categorical_cross_entropy(probabilities: ArrayLike, labels: ArrayLike, *, axis: int = -1, ignore_index: int | None = None, weights: ArrayLike | None = None, where: ArrayLike | None = None, reduction: str = "mean") -> jax.Array:
    """TODO(stub): sparse_categorical_cross_entropy. Replaced by the family implementation."""
    raise NotImplementedError("sparse_categorical_cross_entropy is not implemented yet")


def nll_loss(log_probabilities: ArrayLike, labels: ArrayLike, *, axis: int = -1, class_weights: ArrayLike | None = None, ignore_index: int | None = None, weights: ArrayLike | None = None, where: ArrayLike | None = None, reduction: str = "mean") -> jax.Array:
    """TODO(stub): nll_loss. Replaced by the family implementation."""
    raise NotImplementedError("nll_loss is not implemented yet")


def z_loss(logits: ArrayLike, *, axis: int = -1, weights: ArrayLike | None = None, where: ArrayLike | None = None, reduction: str = "mean") -> jax.Array:
    """TODO(stub): z_loss. Replaced by the family implementation."""
    raise NotImplementedError("z_loss is not implemented yet")


# Losses of this family, canonical names (the registry lists these).
LOSSES = (softmax_cross_entropy, sparse_softmax_cross_entropy, categorical_cross_entropy, sparse_categorical_cross_entropy, nll_loss, z_loss,)

# Every name `jaxloss.get` resolves for this family (case-insensitive), canonical names included.
ALIASES = {
    **{fn.__name__: fn for fn in LOSSES},
    "logitcrossentropy": softmax_cross_entropy,
    "categorical_crossentropy_from_logits": softmax_cross_entropy,
    "cross_entropy": bind(sparse_softmax_cross_entropy, "cross_entropy", ignore_index=-100),
    "CrossEntropyLoss": bind(sparse_softmax_cross_entropy, "CrossEntropyLoss", ignore_index=-100),
    "softmax_cross_entropy_with_integer_labels": bind(sparse_softmax_cross_entropy, "softmax_cross_entropy_with_integer_labels", reduction='none'),
    "sparse_categorical_crossentropy_from_logits": sparse_softmax_cross_entropy,
    "categorical_crossentropy": categorical_cross_entropy,
    "crossentropy": categorical_cross_entropy,
    "sparse_categorical_crossentropy": sparse_categorical_cross_entropy,
    "NLLLoss": bind(nll_loss, "NLLLoss", ignore_index=-100),
}
