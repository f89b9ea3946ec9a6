"""Regularisers, label utilities and metrics for training loops."""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike


def l2_penalty(params, *, squared: bool = True) -> jax.Array:
    """TODO(stub): l2_penalty. Replaced by the family implementation."""
    raise NotImplementedError("l2_penalty is not implemented yet")


def l1_penalty(params) -> jax.Array:
    """TODO(stub): l1_penalty. Replaced by the family implementation."""
    raise NotImplementedError("l1_penalty is not implemented yet")


def one_hot(labels: ArrayLike, num_classes: int, *, axis: int = -1, dtype=jnp.float32) -> jax.Array:
    """TODO(stub): one_hot. Replaced by the family implementation."""
    raise NotImplementedError("one_hot is not implemented yet")


def smooth_labels(targets: ArrayLike, label_smoothing: ArrayLike, *, axis: int = -1) -> jax.Array:
    """TODO(stub): smooth_labels. Replaced by the family implementation."""
    raise NotImplementedError("smooth_labels is not implemented yet")


def accuracy(logits_or_probs: ArrayLike, labels: ArrayLike, *, axis: int = -1, weights: ArrayLike | None = None, where: ArrayLike | None = None, reduction: str = "mean") -> jax.Array:
    """TODO(stub): accuracy. Replaced by the family implementation."""
    raise NotImplementedError("accuracy is not implemented yet")


def binary_accuracy(scores: ArrayLike, targets: ArrayLike, *, threshold: ArrayLike = 0.5, weights: ArrayLike | None = None, where: ArrayLike | None = None, reduction: str = "mean") -> jax.Array:
    """TODO(stub): binary_accuracy. Replaced by the family implementation."""
    raise NotImplementedError("binary_accuracy is not implemented yet")
