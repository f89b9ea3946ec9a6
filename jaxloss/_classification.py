"""Other multi-class losses: focal, poly-1 and the margin (hinge) family."""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from ._alias import bind


def softmax_focal_loss(logits: ArrayLike, labels: ArrayLike, *, axis: int = -1, gamma: ArrayLike = 2.0, alpha: ArrayLike | None = None, ignore_index: int | None = None, weights: ArrayLike | None = None, where: ArrayLike | None = None, reduction: str = "mean") -> jax.Array:
    """TODO(stub): softmax_focal_loss. Replaced by the family implementation."""
    raise NotImplementedError("softmax_focal_loss is not implemented yet")


def categorical_focal_loss(probabilities: ArrayLike, targets: ArrayLike, *, axis: int = -1, gamma: ArrayLike = 2.0, alpha: ArrayLike | None = None, weights: ArrayLike | None = None, where: ArrayLike | None = None, reduction: str = "mean") -> jax.Array:
    """TODO(stub): categorical_focal_loss. Replaced by the family implementation."""
    raise NotImplementedError("categorical_focal_loss is not implemented yet")


def poly1_cross_entropy(logits: ArrayLike, labels: ArrayLike, *, axis: int = -1, epsilon: ArrayLike = 1.0, ignore_index: int | None = None, weights: ArrayLike | None = None, where: ArrayLike | None = None, reduction: str = "mean") -> jax.Array:
    """TODO(stub): poly1_cross_entropy. Replaced by the family implementation."""
    raise NotImplementedError("poly1_cross_entropy is not implemented yet")


def multiclass_hinge_loss(scores: ArrayLike, labels: ArrayLike, *, axis: int = -1, margin: ArrayLike = 1.0, weights: ArrayLike | None = None, where: ArrayLike | None = None, reduction: str = "mean") -> jax.Array:
    """TODO(stub): multiclass_hinge_loss. Replaced by the family implementation."""
    raise NotImplementedError("multiclass_hinge_loss is not implemented yet")


def multi_margin_loss(scores: ArrayLike, labels: ArrayLike, *, axis: int = -1, p: int = 1, margin: ArrayLike = 1.0, class_weights: ArrayLike | None = None, weights: ArrayLike | None = None, where: ArrayLike | None = None, reduction: str = "mean") -> jax.Array:
    """TODO(stub): multi_margin_loss. Replaced by the family implementation."""
    raise NotImplementedError("multi_margin_loss is not implemented yet")


# Losses of this family, canonical names (the registry lists these).
LOSSES = (softmax_focal_loss, categorical_focal_loss, poly1_cross_entropy, multiclass_hinge_loss, multi_margin_loss,)

# Every name `jaxloss.get` resolves for this family (case-insensitive), canonical names included.
ALIASES = {
    **{fn.__name__: fn for fn in LOSSES},
    "sparse_focal_loss": softmax_focal_loss,
    "categorical_focal_crossentropy": bind(categorical_focal_loss, "categorical_focal_crossentropy", alpha=0.25, gamma=2.0),
    "focal_loss": categorical_focal_loss,
    "poly_loss": poly1_cross_entropy,
    "categorical_hinge": multiclass_hinge_loss,
    "MultiMarginLoss": multi_margin_loss,
}
