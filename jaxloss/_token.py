"""Per-token quantities of a language-model head computed from its logits (API.md §7).

:func:`token_log_probs` is the building block of every post-training loss: the log-probability of
the sampled / target token under ``softmax(logits / temperature)`` (and optionally the entropy of
that distribution). It is not a loss (nothing is reduced), so it is exported from ``jaxloss`` but
not listed in the loss registry.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from ._numerics import as_compute, as_hyper, compute_dtype, divide_logits, log_softmax, nan_where
from ._validation import (
    as_float_array,
    as_integer_array,
    check_axis,
    check_positive,
    check_rank,
)


def out_of_range_nan(tokens: jax.Array, num_classes: int, dtype) -> jax.Array:
    """``1`` where ``0 <= tokens < num_classes``, NaN elsewhere (the library's label rule).

    Multiplying a per-token value by this factor makes it NaN on out-of-range tokens, value *and*
    gradient (the cotangent ``ct · NaN``), while in-range tokens get an exact ``× 1``; NaN is only
    created on the bad tokens (a constant select, no gradient flows into it).
    """
    return nan_where((tokens < 0) | (tokens >= num_classes), dtype)


def _entropy(logp: jax.Array, axis: int) -> jax.Array:
    """−Σ p·log p over ``axis`` with 0·(−inf) = 0 (double where: no −inf meets a 0 factor)."""
    present = logp != -jnp.inf
    safe = jnp.where(present, logp, jnp.zeros_like(logp))
    terms = jnp.where(present, jnp.exp(safe) * safe, jnp.zeros_like(logp))
    return -jnp.sum(terms, axis=axis)


def token_log_probs(
    logits: ArrayLike,
    tokens: ArrayLike,
    *,
    temperature: ArrayLike = 1.0,
    axis: int = -1,
    return_entropy: bool = False,
) -> jax.Array | tuple[jax.Array, jax.Array]:
    r"""Log-probability of each token under ``softmax(logits / temperature)``.

    .. math::
       \mathrm{out} = \frac{x_{\mathrm{tokens}}}{\tau} - \log \sum_c e^{x_c / \tau},
       \qquad H = -\sum_c p_c \log p_c, \quad p = \mathrm{softmax}(x / \tau),

    with :math:`x` = ``logits`` and :math:`\tau` = ``temperature``. TRL calls this
    ``selective_log_softmax`` (also exported under that name).

    Args:
      logits: ``[..., V]`` (the vocabulary along ``axis``); ``-inf`` marks masked classes.
      tokens: integer token ids, the shape of ``logits`` without ``axis``.
      temperature: :math:`\tau > 0` (may be traced).
      axis: the vocabulary axis (static).
      return_entropy: also return the entropy :math:`H` of each position's distribution.

    Returns:
      ``log_probs`` of shape ``tokens.shape`` in the computation dtype (float32 for half-precision
      logits), or the tuple ``(log_probs, entropy)`` with ``return_entropy=True``.

    Examples:
      >>> import jax.numpy as jnp
      >>> import jaxloss
      >>> logits = jnp.array([[1.0, 2.0, 0.5], [0.0, 0.0, -jnp.inf]])
      >>> print(jaxloss.token_log_probs(logits, jnp.array([1, 0])).round(4))
      [-0.4644 -0.6931]
      >>> lp, h = jaxloss.token_log_probs(logits, jnp.array([1, 0]), temperature=2.0,
      ...                                 return_entropy=True)
      >>> print(lp.round(4), h.round(4))
      [-0.7318 -0.6931] [1.0481 0.6931]

    Notes:
      - Numerics: the stable log-softmax core (max-shifted log-sum-exp). ``-inf`` logits are
        masked classes: they have probability 0, contribute exactly 0 to the entropy, and keep
        values and gradients finite; a token on a masked class gets ``-inf``.
      - Unchecked on invalid input: a token outside ``[0, V)`` gives NaN (value and gradient),
        the library's out-of-range label rule; NaN logits give NaN for their row.
    """
    name = "token_log_probs"
    logits = as_float_array(name, "logits", logits)
    tokens = as_integer_array(name, "tokens", tokens)
    check_rank(name, "logits", logits, 1)
    ndim = jnp.ndim(logits)
    axis = check_axis(name, axis, ndim)
    x = jnp.moveaxis(as_compute(logits, compute_dtype(logits)), axis, -1)
    if tokens.shape != x.shape[:-1]:
        raise ValueError(
            f"{name}: 'tokens' must have the shape of 'logits' without axis {axis}, "
            f"{x.shape[:-1]}, got {tokens.shape}"
        )
    check_positive(name, "temperature", temperature)
    x = divide_logits(x, as_hyper(temperature, x.dtype))
    logp = log_softmax(x, axis=-1)
    num_classes = x.shape[-1]
    idx = jnp.clip(tokens, 0, max(num_classes - 1, 0))[..., None]
    out = jnp.take_along_axis(logp, idx.astype(jnp.int32), axis=-1)[..., 0]
    out = out * out_of_range_nan(tokens, num_classes, out.dtype)
    if return_entropy:
        return out, _entropy(logp, axis=-1)
    return out


#: TRL's name for :func:`token_log_probs`.
selective_log_softmax = token_log_probs
