"""Divergences between distributions over a class axis."""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from ._alias import bind


def kl_divergence(log_predictions: ArrayLike, targets: ArrayLike, *, axis: int = -1, log_targets: bool = False, weights: ArrayLike | None = None, where: ArrayLike | None = None, reduction: str = "mean") -> jax.Array:
    """TODO(stub): kl_divergence. Replaced by the family implementation."""
    raise NotImplementedError("kl_divergence is not implemented yet")


def kl_divergence_from_probabilities(predictions: ArrayLike, targets: ArrayLike, *, axis: int = -1, weights: ArrayLike | None = None, where: ArrayLike | None = None, reduction: str = "mean") -> jax.Array:
    """TODO(stub): kl_divergence_from_probabilities. Replaced by the family implementation."""
    raise NotImplementedError("kl_divergence_from_probabilities is not implemented yet")


def js_divergence(log_predictions: ArrayLike, targets: ArrayLike, *, axis: int = -1, weights: ArrayLike | None = None, where: ArrayLike | None = None, reduction: str = "mean") -> jax.Array:
    """TODO(stub): js_divergence. Replaced by the family implementation."""
    raise NotImplementedError("js_divergence is not implemented yet")


# Losses of this family, canonical names (the registry lists these).
LOSSES = (kl_divergence, kl_divergence_from_probabilities, js_divergence,)

# Every name `jaxloss.get` resolves for this family (case-insensitive), canonical names included.
ALIASES = {
    **{fn.__name__: fn for fn in LOSSES},
    "kl_div": kl_divergence,
    "KLDivLoss": kl_divergence,
    "kullback_leibler_divergence": kl_divergence_from_probabilities,
    "kldivergence": kl_divergence_from_probabilities,
    "jensen_shannon": js_divergence,
}
