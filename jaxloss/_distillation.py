"""Knowledge distillation on logits: the generalized Jensen–Shannon divergence (GKD, API.md §7)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax import lax
from jax.typing import ArrayLike

from . import _validation as val
from ._alias import bind
from ._numerics import as_compute, as_hyper, compute_dtype, divide_logits, log_softmax
from ._reduction import apply_reduction
from ._validation import (
    check_axis,
    check_in_range,
    check_positive,
    check_rank,
    check_same_shape,
)


def _kl_log(log_p: jax.Array, log_q: jax.Array, axis: int) -> jax.Array:
    """KL(P ‖ Q) = Σ p·(log p − log q) from log-probabilities; classes with p = 0 give exactly 0.

    Double where: a ``-inf`` log p never meets its 0 factor, and its log q (possibly ``-inf``
    too: a class absent from both) is replaced before the subtraction. A class with p > 0 and
    q = 0 gives +inf with a zero gradient.
    """
    present = log_p != -jnp.inf
    # p > 0 where q = 0: the term is +inf (the true divergence), selected as a constant so that
    # its gradient is 0 rather than inf·0 = NaN (which would leak through an unselected branch)
    infinite = present & (log_q == -jnp.inf)
    ok = present & ~infinite
    lp = jnp.where(ok, log_p, jnp.zeros_like(log_p))
    lq = jnp.where(ok, log_q, jnp.zeros_like(log_q))
    terms = jnp.where(ok, jnp.exp(lp) * (lp - lq), jnp.zeros_like(lp))
    return jnp.sum(jnp.where(infinite, jnp.inf, terms), axis=axis)


def log_mixture(log_ps: jax.Array, log_pt: jax.Array, b: jax.Array) -> jax.Array:
    """log M, M = β·P_t + (1 − β)·P_s (0 < β < 1), in log space; 0 where both are absent."""
    absent = (log_ps == -jnp.inf) & (log_pt == -jnp.inf)
    a_t = jnp.where(absent, 0.0, log_pt + jnp.log(b))
    a_s = jnp.where(absent, 0.0, log_ps + jnp.log1p(-b))
    return jnp.logaddexp(a_t, a_s)


def beta_mode(beta) -> str | None:
    """The one branch of :func:`generalized_jsd` a concrete β needs (``None`` if traced)."""
    v = val.concrete_or_none(beta)
    if v is None or v.shape != ():
        return None
    v = float(v)
    return "forward" if v == 0 else "reverse" if v == 1 else "mixture"


def generalized_jsd(
    log_ps: jax.Array, log_pt: jax.Array, b: jax.Array, axis: int, mode: str | None = None
) -> jax.Array:
    """The per-token GKD divergence from student / teacher log-probabilities (``b`` = β).

    β = 0: KL(P_t ‖ P_s); β = 1: KL(P_s ‖ P_t); otherwise β·KL(P_t ‖ M) + (1 − β)·KL(P_s ‖ M),
    M = β·P_t + (1 − β)·P_s. The one copy of the formula: :func:`distillation_loss` and the fused
    :func:`jaxloss.linear_distillation_loss` (on each logit block) both call it. Autodiff-safe.
    ``mode`` (static, :func:`beta_mode`): compute only that branch (``None``: all three, selected
    by the traced β).
    """
    if mode == "forward":
        return _kl_log(log_pt, log_ps, axis)
    if mode == "reverse":
        return _kl_log(log_ps, log_pt, axis)
    forward = _kl_log(log_pt, log_ps, axis) if mode is None else None  # β = 0
    reverse = _kl_log(log_ps, log_pt, axis) if mode is None else None  # β = 1
    # mixture; log β and log(1 − β) taken on safe values, the ends are selected below
    interior = (b > 0) & (b < 1)
    b_safe = b if mode == "mixture" else jnp.where(interior, b, 0.5)
    log_m = log_mixture(log_ps, log_pt, b_safe)
    mixture = b_safe * _kl_log(log_pt, log_m, axis) + (1 - b_safe) * _kl_log(log_ps, log_m, axis)
    if mode == "mixture":
        return mixture
    return jnp.where(b == 0, forward, jnp.where(b == 1, reverse, mixture))


@val.declare_ranges(beta=val.UNIT_INTERVAL, temperature=val.POSITIVE)
def distillation_loss(
    student_logits: ArrayLike,
    teacher_logits: ArrayLike,
    *,
    beta: ArrayLike = 0.5,
    temperature: ArrayLike = 1.0,
    axis: int = -1,
    ignore_index: int | None = None,
    labels: ArrayLike | None = None,
    weights: ArrayLike | None = None,
    where: ArrayLike | None = None,
    reduction: str = "mean",
) -> jax.Array:
    r"""Generalized Jensen–Shannon divergence between teacher and student (GKD), per token.

    With :math:`P_s = \mathrm{softmax}(\mathrm{student\_logits}/\tau)`,
    :math:`P_t = \mathrm{softmax}(\mathrm{teacher\_logits}/\tau)` and :math:`\beta` = ``beta``:

    .. math::
       \ell = \begin{cases}
         \mathrm{KL}(P_t \,\|\, P_s) & \beta = 0 \ \text{(forward KL)} \\
         \mathrm{KL}(P_s \,\|\, P_t) & \beta = 1 \ \text{(reverse KL)} \\
         \beta\,\mathrm{KL}(P_t \,\|\, M) + (1-\beta)\,\mathrm{KL}(P_s \,\|\, M) & \text{otherwise,}
       \end{cases}
       \qquad M = \beta P_t + (1-\beta) P_s,

    each KL summed over ``axis``; :math:`\log M` is formed in log space,
    ``logaddexp(log P_t + log β, log P_s + log(1 − β))``. The teacher gets no gradient.

    Args:
      student_logits: ``[..., V]`` student logits (vocabulary along ``axis``).
      teacher_logits: teacher logits, same shape.
      beta: :math:`\beta \in [0, 1]` (may be traced; 0 and 1 select the two KLs exactly).
      temperature: :math:`\tau > 0`, applied to both models (may be traced).
      axis: the vocabulary axis (static).
      ignore_index: with ``labels``, positions whose label equals it are dropped (static);
        without ``labels`` nothing is dropped (TRL's ``labels=None``).
      labels: integer labels of the loss shape, read only to find ``ignore_index`` positions.
      weights: per-token weights broadcastable to the loss shape (input shape without ``axis``).
      where: boolean mask of the loss shape; ``False`` drops the token.
      reduction: ``"mean"`` (over valid tokens), ``"sum"`` or ``"none"``.

    Returns:
      A scalar, or for ``"none"`` an array of the input shape without ``axis``, in the
      computation dtype (float32 for half-precision inputs).

    Raises:
      ValueError: a concrete ``beta`` outside [0, 1] or ``temperature`` ≤ 0, or logits of
        different shapes.

    Traced hyperparameters are range-checked by ``jaxloss.checked`` only. A traced ``beta``
    outside [0, 1] gives a mixture M with a negative weight (NaN where M < 0); a traced
    ``temperature`` of 0 divides by zero (NaN / inf), and a negative one reverses both
    distributions.

    Examples:
      >>> import jax.numpy as jnp
      >>> import jaxloss
      >>> s = jnp.array([[1.0, 0.0, -1.0], [0.0, 2.0, -jnp.inf]])
      >>> t = jnp.array([[0.5, 0.5, -1.0], [0.0, 1.0, -jnp.inf]])
      >>> print(jaxloss.distillation_loss(s, t, reduction="none").round(5))
      [0.02598 0.01831]
      >>> print(jaxloss.distillation_loss(s, t, beta=0.0, reduction="none").round(5))
      [0.10869 0.08261]

    References:
      Agarwal et al., `On-Policy Distillation of Language Models: Learning from Self-Generated
      Mistakes <https://arxiv.org/abs/2306.13649>`_ (GKD), 2024; TRL's
      ``GKDTrainer.generalized_jsd_loss`` (alias ``generalized_jsd_loss``, which binds TRL's
      ``ignore_index=-100``).

    Notes:
      - Classes whose logit is ``-inf`` in both models are absent: they contribute exactly 0
        and keep values and gradients finite. A class masked in only one model gives the true
        (infinite) KL for ``beta`` 0 or 1 where the other model puts mass there, with a finite
        gradient (that class contributes 0 to it); the mixture divergence stays finite for
        ``0 < beta < 1``.
      - ``"mean"`` averages over valid tokens (TRL's ``"batchmean"`` with labels).
      - NaN logits give NaN for their token.
    """
    name = "distillation_loss"
    student_logits = val.as_float_array(name, "student_logits", student_logits)
    teacher_logits = val.as_float_array(name, "teacher_logits", teacher_logits)
    check_rank(name, "student_logits", student_logits, 1)
    check_same_shape(name, "student_logits", student_logits, "teacher_logits", teacher_logits)
    axis = check_axis(name, axis, jnp.ndim(student_logits))
    check_in_range(name, "beta", beta, 0.0, 1.0)
    check_positive(name, "temperature", temperature)
    dtype = compute_dtype(student_logits)
    s = as_compute(student_logits, dtype)
    t = lax.stop_gradient(as_compute(teacher_logits, dtype))
    tau = as_hyper(temperature, dtype)
    log_ps = log_softmax(divide_logits(s, tau), axis=axis)
    log_pt = log_softmax(divide_logits(t, tau), axis=axis)

    values = generalized_jsd(log_ps, log_pt, as_hyper(beta, dtype), axis)

    if labels is not None:
        labels = val.as_integer_array(name, "labels", labels)
        check_same_shape(name, "labels", labels, "the loss", values)
        if ignore_index is not None:
            keep = labels != ignore_index
            where = keep if where is None else jnp.logical_and(jnp.asarray(where), keep)
    return apply_reduction(name, values, weights, where, reduction)


LOSSES = (distillation_loss,)

ALIASES = {
    **{fn.__name__: fn for fn in LOSSES},
    # TRL GKDTrainer.generalized_jsd_loss: tokens labelled -100 are dropped
    "generalized_jsd_loss": bind(distillation_loss, "generalized_jsd_loss", ignore_index=-100),
    "gkd_loss": distillation_loss,
}
