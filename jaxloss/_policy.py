"""Policy-gradient losses on per-token log-probabilities: GRPO and its normalisations (§7)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

from . import _validation as val
from ._numerics import as_compute, as_hyper, compute_dtype
from ._validation import (
    check_broadcastable,
    check_in_range,
    check_nonnegative,
    check_reduction,
    check_same_shape,
    concrete_or_none,
)

_GRPO_TYPES = ("grpo", "bnpo", "dapo", "dr_grpo")


def _safe_div(num: jax.Array, den: jax.Array) -> jax.Array:
    """num / den, exactly 0 (with a zero gradient) where den = 0: never 0/0 (double where)."""
    nonzero = den != 0
    return jnp.where(nonzero, num / jnp.where(nonzero, den, jnp.ones_like(den)), 0)


@val.declare_ranges(beta=val.NONNEGATIVE)
def grpo_loss(
    logps: ArrayLike,
    old_logps: ArrayLike,
    advantages: ArrayLike,
    mask: ArrayLike,
    *,
    ref_logps: ArrayLike | None = None,
    beta: ArrayLike = 0.0,
    epsilon_low: ArrayLike = 0.2,
    epsilon_high: ArrayLike | None = None,
    loss_type: str = "grpo",
    max_completion_length: int | None = None,
    weights: ArrayLike | None = None,
    where: ArrayLike | None = None,
    reduction: str = "mean",
) -> jax.Array:
    r"""Group Relative Policy Optimization: a clipped surrogate with a k3 KL penalty, per token.

    Per token, with :math:`\rho = e^{\mathrm{logps} - \mathrm{old\_logps}}`, :math:`A` the
    sequence's advantage and :math:`d = \mathrm{ref\_logps} - \mathrm{logps}`:

    .. math::
       \ell = -\min\bigl(\rho A,\ \mathrm{clip}(\rho, 1 - \varepsilon_{low}, 1 + \varepsilon_{high})
       A\bigr) + \beta\,(e^{d} - d - 1),

    with :math:`\varepsilon_{high} = \varepsilon_{low}` when ``epsilon_high`` is ``None`` (the KL
    term is absent without ``ref_logps``). With :math:`m` = ``mask`` (times ``weights``, and 0
    where ``where`` is ``False``), :math:`B` sequences of :math:`T` tokens, ``"mean"`` is

    .. math::
       \text{grpo: } \frac1B \sum_b \frac{\sum_t m_{bt}\ell_{bt}}{\sum_t m_{bt}}, \quad
       \text{bnpo, dapo: } \frac{\sum_{bt} m\ell}{\sum_{bt} m}, \quad
       \text{dr\_grpo: } \frac{\sum_{bt} m\ell}{B\,T_{max}},

    :math:`T_{max}` = ``max_completion_length`` or :math:`T`. A sequence with an empty mask
    contributes 0 (never 0/0); :math:`B` counts the sequences not entirely dropped by ``where``.

    Args:
      logps: ``[B, T]`` per-token log-probabilities under the current policy.
      old_logps: ``[B, T]`` under the policy that sampled the completions (equal to
        ``stop_gradient(logps)`` for a single update per batch).
      advantages: ``[B]`` per-sequence advantages (or ``[B, T]`` per token).
      mask: ``[B, T]`` completion mask (bool or 0 / 1 floats).
      ref_logps: ``[B, T]`` under the reference model, or ``None`` (no KL term).
      beta: :math:`\beta \ge 0`, the KL weight (may be traced).
      epsilon_low: :math:`\varepsilon_{low} \ge 0` (may be traced).
      epsilon_high: :math:`\varepsilon_{high}` (DAPO's clip-higher), or ``None``.
      loss_type: ``"grpo"``, ``"bnpo"``, ``"dapo"`` or ``"dr_grpo"`` (static).
      max_completion_length: :math:`T_{max}` of ``"dr_grpo"`` (static int), default :math:`T`.
      weights: per-token weights broadcastable to ``[B, T]``; they multiply the mask, in the
        numerator and in the normaliser (so per-sequence weights cancel under ``"grpo"``).
      where: boolean mask broadcastable to ``[B, T]``; ``False`` drops the token (``[B, 1]``
        drops whole sequences).
      reduction: ``"mean"`` (the ``loss_type`` normalisation), ``"sum"`` (:math:`\sum m\ell`)
        or ``"none"`` (:math:`m\ell`, ``[B, T]``, exact 0 on masked tokens).

    Returns:
      A scalar, or ``[B, T]`` for ``"none"``, in the computation dtype.

    Raises:
      ValueError: a concrete ``beta`` < 0, an unknown ``loss_type``, or inputs of mismatched
        shapes.

    Traced hyperparameters are range-checked by ``jaxloss.checked`` only. A traced ``beta`` < 0 is
    used as given: the k3 KL term is then a reward for moving away from the reference policy.

    Examples:
      >>> import jax.numpy as jnp
      >>> import jaxloss
      >>> lp = jnp.array([[-1.0, -2.0, -0.5], [-1.5, -1.0, 0.0]])
      >>> old = lp + jnp.array([[0.0, 0.5, -0.1], [0.2, 0.0, 0.0]])
      >>> adv = jnp.array([1.0, -0.5])
      >>> mask = jnp.array([[True, True, True], [True, True, False]])
      >>> print(f"{float(jaxloss.grpo_loss(lp, old, adv, mask)):.4f}")
      -0.2246
      >>> print(f"{float(jaxloss.grpo_loss(lp, old, adv, mask, loss_type='bnpo')):.4f}")
      -0.3605

    References:
      Shao et al., `DeepSeekMath <https://arxiv.org/abs/2402.03300>`_ (GRPO), 2024; Yu et al.,
      `DAPO <https://arxiv.org/abs/2503.14476>`_, 2025; Liu et al., `Understanding R1-Zero-Like
      Training: A Critical Perspective <https://arxiv.org/abs/2503.20783>`_ (Dr. GRPO), 2025.

    Notes:
      - The normalisations are those of TRL's ``GRPOTrainer`` on one device (``"dapo"``
        normalises by the global token count, which equals ``"bnpo"`` here).
      - Masked tokens are replaced before ``exp`` (double where): padding may hold any value,
        including ``-inf`` or NaN, and contributes exactly 0 to the value and the gradients.
      - A NaN in an unmasked token gives NaN for that token (and its sequence's advantage NaN
        for the whole sequence).
    """
    name = "grpo_loss"
    if loss_type not in _GRPO_TYPES:
        raise ValueError(
            f"{name}: 'loss_type' must be one of {', '.join(map(repr, _GRPO_TYPES))}, "
            f"got {loss_type!r}"
        )
    check_reduction(name, reduction)
    check_nonnegative(name, "beta", beta)
    check_in_range(name, "epsilon_low", epsilon_low, 0.0, 1.0)
    if epsilon_high is not None:
        check_nonnegative(name, "epsilon_high", epsilon_high)
    if max_completion_length is not None and (
        isinstance(max_completion_length, bool)
        or not isinstance(max_completion_length, (int, np.integer))
        or max_completion_length <= 0
    ):
        raise ValueError(
            f"{name}: 'max_completion_length' must be a positive int, got {max_completion_length!r}"
        )
    logps = val.as_float_array(name, "logps", logps)
    if jnp.ndim(logps) != 2:
        raise ValueError(f"{name}: 'logps' must be [B, T], got shape {jnp.shape(logps)}")
    old_logps = val.as_float_array(name, "old_logps", old_logps)
    check_same_shape(name, "logps", logps, "old_logps", old_logps)
    mask = val.as_real_array(name, "mask", mask)
    check_same_shape(name, "logps", logps, "mask", mask)
    if ref_logps is not None:
        ref_logps = val.as_float_array(name, "ref_logps", ref_logps)
        check_same_shape(name, "logps", logps, "ref_logps", ref_logps)
    else:
        b_value = concrete_or_none(beta)
        if b_value is not None and np.any(b_value != 0):
            raise ValueError(f"{name}: 'beta' is {b_value} but no 'ref_logps' was given")
    advantages = val.as_float_array(name, "advantages", advantages)
    shape = jnp.shape(logps)
    adv_shape = jnp.shape(advantages)
    if adv_shape not in (shape[:1], shape):
        raise ValueError(
            f"{name}: 'advantages' must be [B] = {shape[:1]} (or [B, T] = {shape}), got {adv_shape}"
        )
    if weights is not None:
        weights = val.as_real_array(name, "weights", weights)
    if where is not None:
        where = val.as_real_array(name, "where", where)
    for arg, value in (("weights", weights), ("where", where)):
        # rank 0 or 2: a [B] array would broadcast along T (right-aligned), silently wrong
        if value is not None and jnp.ndim(value) not in (0, 2):
            raise ValueError(
                f"{name}: '{arg}' must be a scalar or [B, T] (use [B, 1] per sequence), "
                f"got shape {jnp.shape(value)}"
            )
    if weights is not None:
        check_broadcastable(name, "weights", weights, shape)
    if where is not None:
        check_broadcastable(name, "where", where, shape)
        if jnp.result_type(where) != jnp.bool_:
            raise TypeError(f"{name}: 'where' must be a boolean mask, got {jnp.result_type(where)}")

    dtype = compute_dtype(logps)
    lp, old = as_compute(logps, dtype), as_compute(old_logps, dtype)
    adv = as_compute(advantages, dtype)
    if adv.ndim == 1:
        adv = adv[:, None]
    m = jnp.asarray(mask)
    token = m if m.dtype == jnp.bool_ else (m.astype(dtype) != 0)
    m = m.astype(dtype)
    if where is not None:
        keep = jnp.broadcast_to(jnp.asarray(where), shape)
        token = token & keep
        m = jnp.where(keep, m, 0)
    if weights is not None:
        m = m * jnp.broadcast_to(as_compute(weights, dtype), shape)

    # double where: padded tokens never reach exp (their logps may be anything, -inf or NaN)
    zero = jnp.zeros(shape, dtype)
    lp_s, old_s = jnp.where(token, lp, zero), jnp.where(token, old, zero)
    ratio = jnp.exp(lp_s - old_s)
    eps_low = as_hyper(epsilon_low, dtype)
    eps_high = eps_low if epsilon_high is None else as_hyper(epsilon_high, dtype)
    clipped = jnp.clip(ratio, 1 - eps_low, 1 + eps_high)
    per_token = -jnp.minimum(ratio * adv, clipped * adv)
    if ref_logps is not None:
        d = jnp.where(token, as_compute(ref_logps, dtype), zero) - lp_s
        per_token = per_token + as_hyper(beta, dtype) * (jnp.expm1(d) - d)
    # select, never multiply: masked tokens contribute exactly 0
    weighted = jnp.where(token, m * jnp.where(token, per_token, zero), zero)
    if reduction == "none":
        return weighted
    total = jnp.sum(weighted)
    if reduction == "sum":
        return total
    if loss_type in ("bnpo", "dapo"):
        return _safe_div(total, jnp.sum(jnp.where(token, m, zero)))
    if where is None:
        num_seq = jnp.asarray(shape[0], dtype)
    else:
        num_seq = jnp.sum(jnp.any(keep, axis=1)).astype(dtype)
    if loss_type == "dr_grpo":
        t_max = shape[1] if max_completion_length is None else max_completion_length
        return _safe_div(total, num_seq * t_max)
    per_seq = _safe_div(jnp.sum(weighted, axis=1), jnp.sum(jnp.where(token, m, zero), axis=1))
    return _safe_div(jnp.sum(per_seq), num_seq)


LOSSES = (grpo_loss,)

ALIASES = {
    **{fn.__name__: fn for fn in LOSSES},
    "grpo": grpo_loss,
}
