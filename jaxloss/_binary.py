"""Binary and multi-label losses: (logits or probabilities, targets)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from ._alias import bind


def binary_cross_entropy(probabilities: ArrayLike, targets: ArrayLike, *, label_smoothing: ArrayLike = 0.0, weights: ArrayLike | None = None, where: ArrayLike | None = None, reduction: str = "mean") -> jax.Array:
    """TODO(stub): binary_cross_entropy. Replaced by the family implementation."""
    raise NotImplementedError("binary_cross_entropy is not implemented yet")


def sigmoid_binary_cross_entropy(logits: ArrayLike, targets: ArrayLike, *, pos_weight: ArrayLike | None = None, label_smoothing: ArrayLike = 0.0, weights: ArrayLike | None = None, where: ArrayLike | None = None, reduction: str = "mean") -> jax.Array:
    """TODO(stub): sigmoid_binary_cross_entropy. Replaced by the family implementation."""
    raise NotImplementedError("sigmoid_binary_cross_entropy is not implemented yet")


def sigmoid_focal_loss(logits: ArrayLike, targets: ArrayLike, *, alpha: ArrayLike | None = 0.25, gamma: ArrayLike = 2.0, weights: ArrayLike | None = None, where: ArrayLike | None = None, reduction: str = "mean") -> jax.Array:
    """TODO(stub): sigmoid_focal_loss. Replaced by the family implementation."""
    raise NotImplementedError("sigmoid_focal_loss is not implemented yet")


def binary_focal_loss(probabilities: ArrayLike, targets: ArrayLike, *, alpha: ArrayLike | None = None, gamma: ArrayLike = 2.0, weights: ArrayLike | None = None, where: ArrayLike | None = None, reduction: str = "mean") -> jax.Array:
    """TODO(stub): binary_focal_loss. Replaced by the family implementation."""
    raise NotImplementedError("binary_focal_loss is not implemented yet")


def hinge_loss(scores: ArrayLike, targets: ArrayLike, *, margin: ArrayLike = 1.0, weights: ArrayLike | None = None, where: ArrayLike | None = None, reduction: str = "mean") -> jax.Array:
    """TODO(stub): hinge_loss. Replaced by the family implementation."""
    raise NotImplementedError("hinge_loss is not implemented yet")


def squared_hinge_loss(scores: ArrayLike, targets: ArrayLike, *, margin: ArrayLike = 1.0, weights: ArrayLike | None = None, where: ArrayLike | None = None, reduction: str = "mean") -> jax.Array:
    """TODO(stub): squared_hinge_loss. Replaced by the family implementation."""
    raise NotImplementedError("squared_hinge_loss is not implemented yet")


def soft_margin_loss(scores: ArrayLike, targets: ArrayLike, *, weights: ArrayLike | None = None, where: ArrayLike | None = None, reduction: str = "mean") -> jax.Array:
    """TODO(stub): soft_margin_loss. Replaced by the family implementation."""
    raise NotImplementedError("soft_margin_loss is not implemented yet")


def multilabel_soft_margin_loss(logits: ArrayLike, targets: ArrayLike, *, class_weights: ArrayLike | None = None, axis: int = -1, weights: ArrayLike | None = None, where: ArrayLike | None = None, reduction: str = "mean") -> jax.Array:
    """TODO(stub): multilabel_soft_margin_loss. Replaced by the family implementation."""
    raise NotImplementedError("multilabel_soft_margin_loss is not implemented yet")


# Losses of this family, canonical names (the registry lists these).
LOSSES = (binary_cross_entropy, sigmoid_binary_cross_entropy, sigmoid_focal_loss, binary_focal_loss, hinge_loss, squared_hinge_loss, soft_margin_loss, multilabel_soft_margin_loss,)

# Every name `jaxloss.get` resolves for this family (case-insensitive), canonical names included.
ALIASES = {
    **{fn.__name__: fn for fn in LOSSES},
    "BCELoss": binary_cross_entropy,
    "binary_crossentropy": binary_cross_entropy,
    "binarycrossentropy": binary_cross_entropy,
    "binary_cross_entropy_with_logits": sigmoid_binary_cross_entropy,
    "BCEWithLogitsLoss": sigmoid_binary_cross_entropy,
    "logitbinarycrossentropy": sigmoid_binary_cross_entropy,
    "sigmoid_focal_crossentropy": sigmoid_focal_loss,
    "binary_focal_crossentropy": bind(binary_focal_loss, "binary_focal_crossentropy", alpha=None, gamma=2.0),
    "hinge": hinge_loss,
    "squared_hinge": squared_hinge_loss,
    "SoftMarginLoss": soft_margin_loss,
    "MultiLabelSoftMarginLoss": multilabel_soft_margin_loss,
}
