"""Listwise ranking losses: (scores, relevance) over the items of a list (last axis)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from . import _validation as val
from ._cross_entropy import softmax_cross_entropy
from ._numerics import as_compute, compute_dtype
from ._reduction import apply_reduction

__all__ = ["ranking_softmax_loss"]


def ranking_softmax_loss(
    scores: ArrayLike,
    relevance: ArrayLike,
    *,
    axis: int = -1,
    item_where: ArrayLike | None = None,
    item_weights: ArrayLike | None = None,
    weights: ArrayLike | None = None,
    where: ArrayLike | None = None,
    reduction: str = "mean",
) -> jax.Array:
    r"""Listwise softmax (ListNet-style) ranking loss.

    For one list with item scores :math:`s`, relevance labels :math:`y \ge 0`, item weights
    :math:`u` (default 1) and the valid items :math:`V` (``item_where``, default all),

    .. math::
       \ell = -\sum_{i \in V} u_i\,y_i \log \frac{e^{s_i}}{\sum_{j \in V} e^{s_j}},

    the softmax cross-entropy of the scores against the (unnormalised) weighted relevance, with
    invalid items removed from both the list and the softmax. A list without valid items has
    loss 0 and is dropped from ``"mean"`` (as if ``where`` were ``False`` for it).

    Args:
      scores: item scores ``[..., list_size]`` (items along ``axis``).
      relevance: non-negative relevance labels of the same shape (graded or binary).
      axis: the item axis (static).
      item_where: boolean ``[..., list_size]`` mask of the valid items, or ``None``.
      item_weights: per-item weights ``[..., list_size]`` multiplying the relevance, or ``None``.
      weights: per-list weights broadcastable to the loss shape (the input shape without
        ``axis``).
      where: boolean per-list mask of that shape; ``False`` drops the list.
      reduction: ``"mean"`` (over the lists that are valid and have a valid item), ``"sum"`` or
        ``"none"``.

    Returns:
      A scalar, or for ``"none"`` an array of the input shape without ``axis``, in the
      computation dtype (float32 for half-precision inputs).

    Examples:
      >>> import jax.numpy as jnp
      >>> import jaxloss
      >>> scores = jnp.array([[2.0, 1.0, 3.0], [1.0, 0.5, 1.5]])
      >>> relevance = jnp.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])
      >>> print(jaxloss.ranking_softmax_loss(scores, relevance, reduction="none").round(4))
      [1.4076 0.6803]
      >>> valid = jnp.array([[True, True, False], [True, True, True]])
      >>> print(f"{float(jaxloss.ranking_softmax_loss(scores, relevance, item_where=valid)):.4f}")
      0.4968

    References:
      Cao et al., `Learning to Rank: From Pairwise Approach to Listwise Approach
      <https://doi.org/10.1145/1273496.1273513>`_, ICML 2007; Bruch et al., *An Analysis of the
      Softmax Cross Entropy Loss for Learning-to-Rank with Binary Relevance*, ICTIR 2019; optax
      ``ranking_softmax_loss``.

    Notes:
      Invalid items become ``-inf`` scores with zero relevance, which the cross-entropy core
      treats exactly (no NaN, zero gradient to them). A relevant item with a ``-inf`` score gives
      ``+inf``; a ``+inf`` score gives NaN for its list (no defined softmax, as in
      :func:`jaxloss.softmax_cross_entropy`).
    """
    name = "ranking_softmax_loss"
    val.check_floating(name, "scores", scores)
    val.check_same_shape(name, "scores", scores, "relevance", relevance)
    val.check_rank(name, "scores", scores, 1)
    dtype = compute_dtype(scores)
    s = as_compute(scores, dtype)
    y = as_compute(relevance, dtype)
    ax = val.check_axis(name, axis, s.ndim)
    if item_weights is not None:
        val.check_broadcastable(name, "item_weights", item_weights, s.shape)
        y = y * jnp.broadcast_to(as_compute(item_weights, dtype), s.shape)
    if item_where is not None:
        val.check_broadcastable(name, "item_where", item_where, s.shape)
        valid = jnp.broadcast_to(jnp.asarray(item_where, bool), s.shape)
        s = jnp.where(valid, s, jnp.full_like(s, -jnp.inf))
        y = jnp.where(valid, y, jnp.zeros_like(y))
        has_item = jnp.any(valid, axis=ax)
        if where is not None:
            val.check_broadcastable(name, "where", where, has_item.shape)
        where = has_item if where is None else jnp.broadcast_to(where, has_item.shape) & has_item
    values = softmax_cross_entropy(s, y, axis=ax, reduction="none")
    return apply_reduction(name, values, weights, where, reduction)


# Losses of this family, canonical names (the registry lists these).
LOSSES = (ranking_softmax_loss,)
# Every name `jaxloss.get` resolves for this family (case-insensitive), canonical names included.
ALIASES = {
    **{fn.__name__: fn for fn in LOSSES},
    "listnet_loss": ranking_softmax_loss,
}
