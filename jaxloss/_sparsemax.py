"""Sparsemax losses: the Fenchel–Young losses of the sparse sigmoid and of sparsemax.

Both are zero exactly when the sparse prediction equals the target (Blondel, Martins and Niculae,
*Learning with Fenchel-Young Losses*, JMLR 2020), and their gradient is "prediction − target".
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from ._binary import _inputs, _mul0
from ._classification import _finish, _is_label, _sparse_setup
from ._reduction import apply_reduction

__all__ = ["sparsemax_loss", "multiclass_sparsemax_loss"]


def _sparse_plus(x: jax.Array) -> jax.Array:
    """0 for x ≤ −1, (x + 1)²/4 for |x| < 1, x for x ≥ 1 (the conjugate of p² − p on [0, 1]).

    Written as ((clip(x, −1, 1) + 1)²/4 + max(x − 1, 0)) so that values and derivatives are
    finite (and exact) at x = ±inf: no unselected branch ever sees an infinite argument.
    """
    c = jnp.clip(x, -1.0, 1.0)
    return 0.25 * jnp.square(c + 1.0) + jnp.maximum(x - 1.0, jnp.zeros_like(x))


def sparsemax_loss(
    logits: ArrayLike,
    targets: ArrayLike,
    *,
    weights: ArrayLike | None = None,
    where: ArrayLike | None = None,
    reduction: str = "mean",
) -> jax.Array:
    r"""Binary sparsemax loss: the Fenchel–Young loss of the sparse sigmoid.

    With :math:`s` = ``logits``, :math:`t` = ``targets`` and
    :math:`\operatorname{sparseplus}(x) = 0` for :math:`x \le -1`, :math:`(x + 1)^2/4` for
    :math:`|x| < 1`, :math:`x` for :math:`x \ge 1`,

    .. math::
       \ell = t\,\operatorname{sparseplus}(-s) + (1 - t)\,\operatorname{sparseplus}(s)
            = \operatorname{sparseplus}(s) - t\,s - t\,(1 - t),

    which for hard targets :math:`t \in \{0, 1\}` is
    :math:`\operatorname{sparseplus}(\pm s)` (optax's ``sparsemax_loss``). It is zero exactly when
    :math:`\operatorname{sparse\_sigmoid}(s) = \operatorname{clip}((s + 1)/2, 0, 1) = t`, and its
    gradient is :math:`\operatorname{sparse\_sigmoid}(s) - t`.

    Args:
      logits: real scores, any shape.
      targets: targets in ``[0, 1]`` (hard ``{0, 1}`` or soft), same shape as ``logits``.
      weights: per-element weights broadcastable to the loss shape; multiply ``ℓ``.
      where: boolean mask broadcastable to the loss shape; ``False`` ignores the element.
      reduction: ``"mean"`` (``Σ w·ℓ / Σ w`` over valid elements), ``"sum"`` or ``"none"``.

    Returns:
      A scalar, or for ``reduction="none"`` an array of ``logits``' shape, in the computation
      dtype (float32 for half-precision inputs).

    Examples:
      >>> import jax.numpy as jnp
      >>> import jaxloss
      >>> s = jnp.array([10.0, 0.0, -0.5, 3.0])
      >>> t = jnp.array([1.0, 1.0, 0.0, 0.0])
      >>> print(jaxloss.sparsemax_loss(s, t, reduction="none"))
      [0.     0.25   0.0625 3.    ]

    References:
      Blondel, Martins and Niculae, `Learning with Fenchel-Young Losses
      <https://arxiv.org/abs/1901.02324>`_, JMLR 2020 (Sec. 4.4).

    Notes:
      Exact limits at ``±inf`` logits (0 when the sign agrees with a hard target, ``+inf``
      otherwise) with finite gradients: the terms with a zero coefficient are selected out, never
      formed as ``0·inf``. Targets outside ``[0, 1]`` are unchecked; ``checked`` reports them.
    """
    name = "sparsemax_loss"
    s, t, _ = _inputs(name, "logits", logits, targets)
    # t·sp(−s) + (1 − t)·sp(s): each product is 0 where its coefficient is 0 (even at s = ±inf)
    values = _mul0(t, _sparse_plus(-s)) + _mul0(1.0 - t, _sparse_plus(s))
    values = values - t * (1.0 - t)
    # ℓ ≥ 0 exactly (a Fenchel–Young loss): rounding below 0 for soft targets is clamped
    values = jnp.where(values < 0, jnp.zeros_like(values), values)
    return apply_reduction(name, values, weights, where, reduction)


def sparsemax(x: jax.Array) -> jax.Array:
    """Euclidean projection of each row (last axis) onto the probability simplex.

    sparsemax(x) = max(x − τ, 0) with τ such that the result sums to 1 (Martins and Astudillo,
    2016); sort-based, ``-inf`` entries get probability 0.
    """
    # shift by the row max: the support lies within 1 of it, so the sums below stay O(1) and exact
    top = jnp.max(x, axis=-1, keepdims=True)
    x = x - jnp.where(jnp.isfinite(top), top, jnp.zeros_like(top))
    z = -jnp.sort(-x, axis=-1)  # descending
    k = jnp.arange(1, x.shape[-1] + 1, dtype=x.dtype).reshape((1,) * (x.ndim - 1) + (-1,))
    finite = jnp.isfinite(z)
    cs = jnp.cumsum(jnp.where(finite, z, jnp.zeros_like(z)), axis=-1)
    # the support is {1..k*}: the largest k with 1 + k·z_k > Σ_{j≤k} z_j (−inf entries never are)
    support = finite & (1.0 + k * jnp.where(finite, z, jnp.zeros_like(z)) > cs)
    k_star = jnp.maximum(jnp.sum(support, axis=-1, keepdims=True), 1)
    tau = (jnp.take_along_axis(cs, k_star - 1, axis=-1) - 1.0) / k_star.astype(x.dtype)
    return jnp.maximum(x - tau, jnp.zeros_like(x))


@jax.custom_jvp
def _sparsemax_fy(x: jax.Array, onehot: jax.Array) -> jax.Array:
    """⟨p, x − x_y⟩ + ½(1 − ‖p‖²) with p = sparsemax(x), per row (last axis)."""
    p = sparsemax(x)
    x_y = jnp.sum(jnp.where(onehot > 0, x, jnp.zeros_like(x)), axis=-1, keepdims=True)
    # shifted by the label's score (no cancellation at large scores); p = 0 entries (possibly
    # −inf scores) are selected out, never multiplied
    z = jnp.where(p > 0, x - x_y, jnp.zeros_like(x))
    value = jnp.sum(p * z, axis=-1) + 0.5 * (1.0 - jnp.sum(p * p, axis=-1))
    # ℓ ≥ 0 exactly (a Fenchel–Young loss): rounding below 0 is clamped ("< 0": NaN propagates)
    return jnp.where(value < 0, jnp.zeros_like(value), value)


@_sparsemax_fy.defjvp
def _sparsemax_fy_jvp(primals, tangents):
    x, onehot = primals
    dx, _ = tangents  # the one-hot labels are constants
    # Danskin: ∇ℓ = sparsemax(x) − onehot(y); −inf scores (p = 0, not the label) get weight 0
    g = sparsemax(x) - onehot
    dx = jnp.where(g != 0, dx, jnp.zeros_like(dx))
    return _sparsemax_fy(x, onehot), jnp.sum(g * dx, axis=-1)


def multiclass_sparsemax_loss(
    scores: ArrayLike,
    labels: ArrayLike,
    *,
    axis: int = -1,
    weights: ArrayLike | None = None,
    where: ArrayLike | None = None,
    reduction: str = "mean",
) -> jax.Array:
    r"""Multi-class sparsemax loss: the Fenchel–Young loss of sparsemax, integer labels.

    With :math:`s` = ``scores``, :math:`y` = ``labels`` and
    :math:`p = \operatorname{sparsemax}(s) = \arg\min_{q \in \Delta} \lVert q - s \rVert^2`
    (the Euclidean projection onto the simplex, along ``axis``),

    .. math::
       \ell = \langle p, s \rangle - s_y + \tfrac12\bigl(1 - \lVert p \rVert^2\bigr),

    zero exactly when :math:`p` is the one-hot of :math:`y`; the gradient is
    :math:`p - e_y`.

    Args:
      scores: real scores with the classes on ``axis``; ``-inf`` on classes other than the label
        is fine (probability 0).
      labels: integer class ids in ``[0, C)``, shape of ``scores`` without ``axis``.
      axis: the class axis (static).
      weights: per-example weights, broadcastable to the shape of ``labels``.
      where: boolean mask of that shape; ``False`` drops the example.
      reduction: ``"mean"``, ``"sum"`` or ``"none"``.

    Returns:
      A scalar, or for ``"none"`` an array of the shape of ``labels``; float32 for half-precision
      scores, otherwise the scores' dtype.

    Examples:
      >>> import jax.numpy as jnp
      >>> import jaxloss
      >>> scores = jnp.array([[0.0, 3.0, 0.0], [0.5, 0.2, 0.0]])
      >>> labels = jnp.array([1, 0])
      >>> print(jaxloss.multiclass_sparsemax_loss(scores, labels, reduction="none").round(4))
      [0.   0.13]

    References:
      Martins and Astudillo, `From Softmax to Sparsemax
      <https://arxiv.org/abs/1602.02068>`_, ICML 2016; Blondel, Martins and Niculae, JMLR 2020.

    Notes:
      The value is computed with the scores shifted by the label's score (no cancellation at
      large scores) and the gradient :math:`p - e_y` is given directly (custom JVP), so it is
      exact and finite for ``±1e4`` and ``-inf`` scores. Out-of-range labels give NaN
      (unchecked); ``checked`` reports them.
    """
    name = "multiclass_sparsemax_loss"
    x, safe, _, bad, mask = _sparse_setup(name, "scores", scores, labels, axis, None, where)
    onehot = _is_label(safe, x.shape[-1]).astype(x.dtype)
    return _finish(name, _sparsemax_fy(x, onehot), bad, mask, weights, reduction)


# Losses of this family, canonical names (the registry lists these).
LOSSES = (sparsemax_loss, multiclass_sparsemax_loss)
# Every name `jaxloss.get` resolves for this family (case-insensitive), canonical names included.
ALIASES = {
    **{fn.__name__: fn for fn in LOSSES},
    "binary_sparsemax_loss": sparsemax_loss,
}
