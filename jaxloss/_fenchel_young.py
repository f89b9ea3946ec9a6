"""Fenchel–Young losses built from a max (regularised maximum) function."""

from __future__ import annotations

from typing import Callable

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from . import _validation as val
from ._numerics import as_compute, compute_dtype
from ._reduction import apply_reduction

__all__ = ["make_fenchel_young_loss"]


def make_fenchel_young_loss(max_fun: Callable, *, name: str = "fenchel_young_loss") -> Callable:
    r"""The Fenchel–Young loss of a convex "max function" :math:`\Omega^*`.

    .. math::
       \ell(s, t) = \Omega^*(s) - \langle t, s \rangle,

    with :math:`\Omega^*` = ``max_fun`` applied to each vector along ``axis`` (the last by
    default): ``max_fun=jax.scipy.special.logsumexp`` gives the softmax cross-entropy against
    one-hot targets, ``max`` the perceptron loss, the sparsemax value function the sparsemax loss.
    The gradient with respect to the scores is :math:`\nabla\Omega^*(s) - t` (the regularised
    prediction minus the target). The constant :math:`\Omega(t)` of the full Fenchel–Young loss
    is not added (it does not depend on the scores), as in optax and jaxopt.

    Args:
      max_fun: a function of one score vector ``[n]`` (plus any extra arguments) returning a
        scalar; it is vectorised over the leading axes.
      name: the loss's name in error messages.

    Returns:
      ``loss(scores, targets, *args, axis=-1, weights=None, where=None, reduction="mean",
      **kwargs)``: ``scores`` and ``targets`` of the same shape with the vectors along ``axis``;
      ``*args`` and ``**kwargs`` are passed to ``max_fun``. ``"none"`` returns the input shape
      without ``axis``, in the computation dtype (float32 for half-precision inputs).

    Examples:
      >>> import jax.numpy as jnp
      >>> import jaxloss
      >>> from jax.scipy.special import logsumexp
      >>> fy = jaxloss.make_fenchel_young_loss(logsumexp)
      >>> s = jnp.array([[2.0, 1.0, 0.0], [0.0, 0.0, 0.0]])
      >>> t = jnp.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])
      >>> print(fy(s, t, reduction="none").round(4))  # = softmax cross-entropy
      [0.4076 1.0986]

    References:
      Blondel, Martins and Niculae, `Learning with Fenchel-Young Losses
      <https://arxiv.org/abs/1901.02324>`_, JMLR 2020.
    """

    def fenchel_young_loss(
        scores: ArrayLike,
        targets: ArrayLike,
        *args,
        axis: int = -1,
        weights: ArrayLike | None = None,
        where: ArrayLike | None = None,
        reduction: str = "mean",
        **kwargs,
    ) -> jax.Array:
        val.check_floating(name, "scores", scores)
        val.check_same_shape(name, "scores", scores, "targets", targets)
        val.check_rank(name, "scores", scores, 1)
        dtype = compute_dtype(scores)
        s = as_compute(scores, dtype)
        t = as_compute(targets, dtype)
        ax = val.check_axis(name, axis, s.ndim)
        s, t = jnp.moveaxis(s, ax, -1), jnp.moveaxis(t, ax, -1)
        max_value = jnp.vectorize(lambda v: max_fun(v, *args, **kwargs), signature="(n)->()")(s)
        # ⟨t, s⟩ with 0·s := 0 (double where: a -inf score on a zero-target entry stays finite)
        nz = t != 0
        ts = jnp.where(nz, t * jnp.where(nz, s, jnp.zeros_like(s)), jnp.zeros_like(s))
        values = jnp.asarray(max_value, dtype) - jnp.sum(ts, axis=-1)
        return apply_reduction(name, values, weights, where, reduction)

    fenchel_young_loss.__name__ = fenchel_young_loss.__qualname__ = name
    return fenchel_young_loss
