"""Segmentation overlap losses: (probabilities, targets), one value per batch row."""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from ._alias import bind


def dice_loss(probabilities: ArrayLike, targets: ArrayLike, *, smooth: ArrayLike = 1.0, axis: int | tuple[int, ...] | None = None, weights: ArrayLike | None = None, where: ArrayLike | None = None, reduction: str = "mean") -> jax.Array:
    """TODO(stub): dice_loss. Replaced by the family implementation."""
    raise NotImplementedError("dice_loss is not implemented yet")


def tversky_loss(probabilities: ArrayLike, targets: ArrayLike, *, alpha: ArrayLike = 0.5, beta: ArrayLike = 0.5, smooth: ArrayLike = 1.0, axis: int | tuple[int, ...] | None = None, weights: ArrayLike | None = None, where: ArrayLike | None = None, reduction: str = "mean") -> jax.Array:
    """TODO(stub): tversky_loss. Replaced by the family implementation."""
    raise NotImplementedError("tversky_loss is not implemented yet")


def jaccard_loss(probabilities: ArrayLike, targets: ArrayLike, *, smooth: ArrayLike = 1.0, axis: int | tuple[int, ...] | None = None, weights: ArrayLike | None = None, where: ArrayLike | None = None, reduction: str = "mean") -> jax.Array:
    """TODO(stub): jaccard_loss. Replaced by the family implementation."""
    raise NotImplementedError("jaccard_loss is not implemented yet")


def generalized_dice_loss(probabilities: ArrayLike, targets: ArrayLike, *, class_axis: int = -1, epsilon: ArrayLike = 1e-6, weights: ArrayLike | None = None, where: ArrayLike | None = None, reduction: str = "mean") -> jax.Array:
    """TODO(stub): generalized_dice_loss. Replaced by the family implementation."""
    raise NotImplementedError("generalized_dice_loss is not implemented yet")


# Losses of this family, canonical names (the registry lists these).
LOSSES = (dice_loss, tversky_loss, jaccard_loss, generalized_dice_loss,)

# Every name `jaxloss.get` resolves for this family (case-insensitive), canonical names included.
ALIASES = {
    **{fn.__name__: fn for fn in LOSSES},
    "dice": dice_loss,
    "dice_coeff_loss": dice_loss,
    "tversky": tversky_loss,
    "iou_loss": jaccard_loss,
}
