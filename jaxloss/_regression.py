"""Regression losses: (predictions, targets) -> element-wise loss."""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from ._alias import bind


def mean_squared_error(predictions: ArrayLike, targets: ArrayLike, *, weights: ArrayLike | None = None, where: ArrayLike | None = None, reduction: str = "mean") -> jax.Array:
    """TODO(stub): mean_squared_error. Replaced by the family implementation."""
    raise NotImplementedError("mean_squared_error is not implemented yet")


def mean_absolute_error(predictions: ArrayLike, targets: ArrayLike, *, weights: ArrayLike | None = None, where: ArrayLike | None = None, reduction: str = "mean") -> jax.Array:
    """TODO(stub): mean_absolute_error. Replaced by the family implementation."""
    raise NotImplementedError("mean_absolute_error is not implemented yet")


def root_mean_squared_error(predictions: ArrayLike, targets: ArrayLike, *, weights: ArrayLike | None = None, where: ArrayLike | None = None, reduction: str = "mean") -> jax.Array:
    """TODO(stub): root_mean_squared_error. Replaced by the family implementation."""
    raise NotImplementedError("root_mean_squared_error is not implemented yet")


def mean_squared_logarithmic_error(predictions: ArrayLike, targets: ArrayLike, *, weights: ArrayLike | None = None, where: ArrayLike | None = None, reduction: str = "mean") -> jax.Array:
    """TODO(stub): mean_squared_logarithmic_error. Replaced by the family implementation."""
    raise NotImplementedError("mean_squared_logarithmic_error is not implemented yet")


def mean_absolute_percentage_error(predictions: ArrayLike, targets: ArrayLike, *, epsilon: ArrayLike = 1e-7, weights: ArrayLike | None = None, where: ArrayLike | None = None, reduction: str = "mean") -> jax.Array:
    """TODO(stub): mean_absolute_percentage_error. Replaced by the family implementation."""
    raise NotImplementedError("mean_absolute_percentage_error is not implemented yet")


def huber_loss(predictions: ArrayLike, targets: ArrayLike, *, delta: ArrayLike = 1.0, weights: ArrayLike | None = None, where: ArrayLike | None = None, reduction: str = "mean") -> jax.Array:
    """TODO(stub): huber_loss. Replaced by the family implementation."""
    raise NotImplementedError("huber_loss is not implemented yet")


def smooth_l1_loss(predictions: ArrayLike, targets: ArrayLike, *, beta: ArrayLike = 1.0, weights: ArrayLike | None = None, where: ArrayLike | None = None, reduction: str = "mean") -> jax.Array:
    """TODO(stub): smooth_l1_loss. Replaced by the family implementation."""
    raise NotImplementedError("smooth_l1_loss is not implemented yet")


def log_cosh(predictions: ArrayLike, targets: ArrayLike, *, weights: ArrayLike | None = None, where: ArrayLike | None = None, reduction: str = "mean") -> jax.Array:
    """TODO(stub): log_cosh. Replaced by the family implementation."""
    raise NotImplementedError("log_cosh is not implemented yet")


def quantile_loss(predictions: ArrayLike, targets: ArrayLike, *, quantile: ArrayLike = 0.5, weights: ArrayLike | None = None, where: ArrayLike | None = None, reduction: str = "mean") -> jax.Array:
    """TODO(stub): quantile_loss. Replaced by the family implementation."""
    raise NotImplementedError("quantile_loss is not implemented yet")


def poisson_nll_loss(predictions: ArrayLike, targets: ArrayLike, *, log_input: bool = True, full: bool = False, epsilon: ArrayLike = 1e-8, weights: ArrayLike | None = None, where: ArrayLike | None = None, reduction: str = "mean") -> jax.Array:
    """TODO(stub): poisson_nll_loss. Replaced by the family implementation."""
    raise NotImplementedError("poisson_nll_loss is not implemented yet")


def gaussian_nll_loss(mean: ArrayLike, targets: ArrayLike, variance: ArrayLike, *, full: bool = False, epsilon: ArrayLike = 1e-6, weights: ArrayLike | None = None, where: ArrayLike | None = None, reduction: str = "mean") -> jax.Array:
    """TODO(stub): gaussian_nll_loss. Replaced by the family implementation."""
    raise NotImplementedError("gaussian_nll_loss is not implemented yet")


# Losses of this family, canonical names (the registry lists these).
LOSSES = (mean_squared_error, mean_absolute_error, root_mean_squared_error, mean_squared_logarithmic_error, mean_absolute_percentage_error, huber_loss, smooth_l1_loss, log_cosh, quantile_loss, poisson_nll_loss, gaussian_nll_loss,)

# Every name `jaxloss.get` resolves for this family (case-insensitive), canonical names included.
ALIASES = {
    **{fn.__name__: fn for fn in LOSSES},
    "mse": mean_squared_error,
    "MSELoss": mean_squared_error,
    "mse_loss": mean_squared_error,
    "squared_error": bind(mean_squared_error, "squared_error", reduction='none'),
    "mae": mean_absolute_error,
    "L1Loss": mean_absolute_error,
    "l1_loss": mean_absolute_error,
    "rmse": root_mean_squared_error,
    "msle": mean_squared_logarithmic_error,
    "mape": mean_absolute_percentage_error,
    "huber": huber_loss,
    "HuberLoss": huber_loss,
    "SmoothL1Loss": smooth_l1_loss,
    "logcosh": log_cosh,
    "pinball_loss": quantile_loss,
    "PoissonNLLLoss": poisson_nll_loss,
    "poisson": bind(poisson_nll_loss, "poisson", log_input=False, epsilon=1e-07),
    "poisson_loss": bind(poisson_nll_loss, "poisson_loss", log_input=False, epsilon=0.0),
    "GaussianNLLLoss": gaussian_nll_loss,
}
