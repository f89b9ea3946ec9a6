"""The reduction every loss shares: ``weights``, ``where`` and ``reduction`` (API.md §1)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from ._validation import as_real_array, check_broadcastable, check_reduction, check_weights

__all__ = ["reduce_loss", "apply_reduction"]


def apply_reduction(
    name: str,
    values: jax.Array,
    weights: ArrayLike | None = None,
    where: ArrayLike | None = None,
    reduction: str = "mean",
    normalizer: jax.Array | None = None,
) -> jax.Array:
    """The reduction of API.md §1, with error messages that name the calling loss.

    Args:
      name: the loss's name, used in error messages.
      values: the unreduced losses (any shape).
      weights: per-example weights of ``values``' rank (or a scalar), broadcastable to
        ``values.shape``; a lower-rank array is a ``ValueError`` (API.md §1).
      where: boolean mask broadcastable to ``values.shape``; ``False`` drops the entry.
      reduction: ``"mean"``, ``"sum"`` or ``"none"``.
      normalizer: optional per-entry weight used in the *denominator* of ``"mean"`` instead of
        ``weights`` (class-weighted cross-entropy divides by the summed weight of the target
        classes). Broadcastable to ``values.shape``.

    ``"none"`` returns ``weights * values`` with exact zeros at masked entries; ``"sum"`` is
    ``Σ w·l`` over valid entries; ``"mean"`` is ``Σ w·l / Σ w`` over valid entries, exactly 0
    (with an exactly-zero gradient) when nothing is valid.
    """
    check_reduction(name, reduction)
    values = jnp.asarray(values)
    shape = values.shape
    dtype = values.dtype
    if weights is not None:
        weights = check_weights(name, weights, shape)
    if where is not None:
        where = as_real_array(name, "where", where)
        check_broadcastable(name, "where", where, shape)
        if jnp.result_type(where) != jnp.bool_:
            raise TypeError(
                f"{name}: 'where' must be a boolean mask, got dtype {jnp.result_type(where)}"
            )
    if normalizer is not None:
        check_broadcastable(name, "normalizer", normalizer, shape)

    mask = None if where is None else jnp.broadcast_to(jnp.asarray(where), shape)
    w = None if weights is None else jnp.broadcast_to(jnp.asarray(weights).astype(dtype), shape)
    weighted = values if w is None else w * values
    if mask is not None:
        # select, never multiply: a masked entry may hold any value and must contribute exactly 0
        weighted = jnp.where(mask, weighted, jnp.zeros_like(weighted))

    if reduction == "none":
        return weighted
    total = jnp.sum(weighted)
    if reduction == "sum":
        return total

    if normalizer is not None:
        denom_terms = jnp.broadcast_to(jnp.asarray(normalizer).astype(dtype), shape)
    elif w is not None:
        denom_terms = w
    else:
        denom_terms = jnp.ones(shape, dtype)
    if mask is not None:
        denom_terms = jnp.where(mask, denom_terms, jnp.zeros_like(denom_terms))
    denom = jnp.sum(denom_terms)
    nonzero = denom != 0
    # double where: Σw = 0 (nothing valid) gives exactly 0 and a zero gradient, never 0/0
    return jnp.where(
        nonzero, total / jnp.where(nonzero, denom, jnp.ones_like(denom)), jnp.zeros_like(total)
    )


def reduce_loss(
    values: ArrayLike,
    weights: ArrayLike | None = None,
    where: ArrayLike | None = None,
    reduction: str = "mean",
) -> jax.Array:
    r"""Reduces unreduced losses with optional per-example weights and a validity mask.

    .. math::
       \mathrm{mean} = \frac{\sum_i [\mathrm{where}_i]\, w_i \ell_i}{
                             \sum_i [\mathrm{where}_i]\, w_i},
       \qquad \mathrm{sum} = \sum_i [\mathrm{where}_i]\, w_i \ell_i

    Args:
      values: unreduced losses ``ℓ``, any shape.
      weights: per-example weights ``w`` of ``values``' rank (or a scalar), broadcastable to
        ``values.shape`` (default 1): for per-row weights on ``[B, D]`` values pass ``[B, 1]``.
      where: boolean mask broadcastable to ``values.shape``; ``False`` ignores the entry.
      reduction: ``"mean"``, ``"sum"`` or ``"none"``.

    Returns:
      A scalar for ``"mean"`` / ``"sum"``; for ``"none"``, ``w·ℓ`` with exact zeros at masked
      entries, in ``values``' dtype. If no entry is valid, ``"mean"`` is exactly ``0.0``.

    Raises:
      ValueError: ``weights`` of a lower rank than ``values`` (other than a scalar), or
        ``weights`` / ``where`` that do not broadcast to ``values.shape``.
      TypeError: complex ``values`` or ``weights``, or a non-boolean ``where``.

    Examples:
      >>> import jax.numpy as jnp
      >>> from jaxloss import reduce_loss
      >>> l = jnp.array([1.0, 2.0, 3.0, 4.0])
      >>> print(reduce_loss(l, weights=jnp.array([1.0, 1.0, 2.0, 0.0])))
      2.25
      >>> print(reduce_loss(l, where=jnp.array([True, False, True, False]), reduction="sum"))
      4.0
      >>> print(reduce_loss(l, where=jnp.zeros(4, bool)))
      0.0
    """
    return apply_reduction(
        "reduce_loss", as_real_array("reduce_loss", "values", values), weights, where, reduction
    )
