"""Metric-learning and ranking losses."""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from ._alias import bind


def cosine_distance(predictions: ArrayLike, targets: ArrayLike, *, axis: int = -1, epsilon: ArrayLike = 1e-8, weights: ArrayLike | None = None, where: ArrayLike | None = None, reduction: str = "mean") -> jax.Array:
    """TODO(stub): cosine_distance. Replaced by the family implementation."""
    raise NotImplementedError("cosine_distance is not implemented yet")


def cosine_similarity_loss(predictions: ArrayLike, targets: ArrayLike, *, axis: int = -1, epsilon: ArrayLike = 1e-8, weights: ArrayLike | None = None, where: ArrayLike | None = None, reduction: str = "mean") -> jax.Array:
    """TODO(stub): cosine_similarity_loss. Replaced by the family implementation."""
    raise NotImplementedError("cosine_similarity_loss is not implemented yet")


def cosine_embedding_loss(x1: ArrayLike, x2: ArrayLike, targets: ArrayLike, *, margin: ArrayLike = 0.0, axis: int = -1, weights: ArrayLike | None = None, where: ArrayLike | None = None, reduction: str = "mean") -> jax.Array:
    """TODO(stub): cosine_embedding_loss. Replaced by the family implementation."""
    raise NotImplementedError("cosine_embedding_loss is not implemented yet")


def triplet_margin_loss(anchor: ArrayLike, positive: ArrayLike, negative: ArrayLike, *, margin: ArrayLike = 1.0, p: ArrayLike = 2, epsilon: ArrayLike = 1e-6, swap: bool = False, axis: int = -1, weights: ArrayLike | None = None, where: ArrayLike | None = None, reduction: str = "mean") -> jax.Array:
    """TODO(stub): triplet_margin_loss. Replaced by the family implementation."""
    raise NotImplementedError("triplet_margin_loss is not implemented yet")


def margin_ranking_loss(x1: ArrayLike, x2: ArrayLike, targets: ArrayLike, *, margin: ArrayLike = 0.0, weights: ArrayLike | None = None, where: ArrayLike | None = None, reduction: str = "mean") -> jax.Array:
    """TODO(stub): margin_ranking_loss. Replaced by the family implementation."""
    raise NotImplementedError("margin_ranking_loss is not implemented yet")


def hinge_embedding_loss(distances: ArrayLike, targets: ArrayLike, *, margin: ArrayLike = 1.0, weights: ArrayLike | None = None, where: ArrayLike | None = None, reduction: str = "mean") -> jax.Array:
    """TODO(stub): hinge_embedding_loss. Replaced by the family implementation."""
    raise NotImplementedError("hinge_embedding_loss is not implemented yet")


def contrastive_loss(distances: ArrayLike, targets: ArrayLike, *, margin: ArrayLike = 1.0, weights: ArrayLike | None = None, where: ArrayLike | None = None, reduction: str = "mean") -> jax.Array:
    """TODO(stub): contrastive_loss. Replaced by the family implementation."""
    raise NotImplementedError("contrastive_loss is not implemented yet")


def ntxent_loss(embeddings: ArrayLike, labels: ArrayLike, *, temperature: ArrayLike = 0.07, weights: ArrayLike | None = None, where: ArrayLike | None = None, reduction: str = "mean") -> jax.Array:
    """TODO(stub): ntxent_loss. Replaced by the family implementation."""
    raise NotImplementedError("ntxent_loss is not implemented yet")


# Losses of this family, canonical names (the registry lists these).
LOSSES = (cosine_distance, cosine_similarity_loss, cosine_embedding_loss, triplet_margin_loss, margin_ranking_loss, hinge_embedding_loss, contrastive_loss, ntxent_loss,)

# Every name `jaxloss.get` resolves for this family (case-insensitive), canonical names included.
ALIASES = {
    **{fn.__name__: fn for fn in LOSSES},
    "cosine_similarity": cosine_similarity_loss,
    "CosineEmbeddingLoss": cosine_embedding_loss,
    "TripletMarginLoss": triplet_margin_loss,
    "MarginRankingLoss": margin_ranking_loss,
    "HingeEmbeddingLoss": hinge_embedding_loss,
    "siamese_contrastive_loss": contrastive_loss,
    "ntxent": ntxent_loss,
    "info_nce": ntxent_loss,
}
