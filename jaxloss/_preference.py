"""Preference-optimisation losses on sequence log-probabilities: DPO, SimPO, ORPO, KTO (API.md §7).

Every input is a per-sequence log-probability (a sum or, for SimPO / ORPO, a per-token mean of
:func:`jaxloss.token_log_probs` over a completion), any shape, usually ``[B]``. The loss is
element-wise in those inputs and reduced with the rule of API.md §1 (``weights``, ``where``,
``reduction``).
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax
from jax.typing import ArrayLike

from . import _validation as val
from ._numerics import as_compute, as_hyper, compute_dtype, log_sigmoid
from ._reduction import apply_reduction
from ._validation import (
    check_in_range,
    check_nonnegative,
    check_positive,
    check_same_shape,
    concrete_or_none,
)

_DPO_TYPES = ("sigmoid", "hinge", "ipo", "robust")


def _inputs(name: str, **arrays: ArrayLike) -> list[jax.Array]:
    """Float inputs of one shape, cast to the computation dtype of the first.

    Lists are converted; complex, integer, boolean or non-numeric inputs are a ``TypeError``
    naming the loss and the argument.
    """
    items = [(arg, val.as_float_array(name, arg, x)) for arg, x in arrays.items()]
    first_name, first = items[0]
    for arg, x in items[1:]:
        check_same_shape(name, first_name, first, arg, x)
    dtype = compute_dtype(first)
    return [as_compute(x, dtype) for _, x in items]


def _smoothed_logistic(z: jax.Array, eps: jax.Array) -> jax.Array:
    """−(1−ε)·log σ(z) − ε·log σ(−z): the label-smoothed logistic loss (conservative DPO)."""
    return -(1 - eps) * log_sigmoid(z) - eps * log_sigmoid(-z)


def log1mexp(x: jax.Array) -> jax.Array:
    """log(1 − eˣ) for x ≤ 0, stable at both ends (Mächler's switch at x = −log 2).

    ``log(−expm1(x))`` near 0⁻ and ``log1p(−exp(x))`` below −log 2; each branch sees only inputs
    of its own side (double where), so values and gradients are finite for every x < 0, including
    x → −∞ (value → 0). x in ``(−tiny, 0]`` (0 and the subnormals) is taken as ``−tiny``, the
    smallest normal number below 0, so the value is large negative but finite (the limit at 0 is
    −∞) and the gradient, about ``1/tiny``, finite too. x > 0 gives NaN (invalid input).
    """
    tiny = jnp.finfo(x.dtype).tiny
    x = jnp.where((x > -tiny) & (x <= 0), -tiny, x)
    near_zero = x > -math.log(2.0)
    a = jnp.where(near_zero, x, -jnp.ones_like(x))
    b = jnp.where(near_zero, -jnp.ones_like(x), x)
    return jnp.where(near_zero, jnp.log(-jnp.expm1(a)), jnp.log1p(-jnp.exp(b)))


@val.declare_ranges(beta=val.POSITIVE, label_smoothing=val.UNIT_INTERVAL)
def dpo_loss(
    chosen_logps: ArrayLike,
    rejected_logps: ArrayLike,
    ref_chosen_logps: ArrayLike,
    ref_rejected_logps: ArrayLike,
    *,
    beta: ArrayLike = 0.1,
    loss_type: str = "sigmoid",
    label_smoothing: ArrayLike = 0.0,
    weights: ArrayLike | None = None,
    where: ArrayLike | None = None,
    reduction: str = "mean",
) -> jax.Array:
    r"""Direct Preference Optimization and its variants (IPO, hinge / SLiC, robust DPO).

    With the implicit reward margin
    :math:`\Delta = (\mathrm{chosen} - \mathrm{rejected}) - (\mathrm{ref\_chosen} -
    \mathrm{ref\_rejected})` and :math:`\varepsilon` = ``label_smoothing``:

    .. math::
       \text{sigmoid:}\ -(1-\varepsilon)\log\sigma(\beta\Delta)
       - \varepsilon\log\sigma(-\beta\Delta)
       \qquad \text{hinge:}\ \max(0,\ 1 - \beta\Delta)

    .. math::
       \text{ipo:}\ \Bigl(\Delta - \frac{1}{2\beta}\Bigr)^2 \qquad
       \text{robust:}\ \frac{(1-\varepsilon)\,(-\log\sigma(\beta\Delta))
       + \varepsilon\log\sigma(-\beta\Delta)}{1 - 2\varepsilon}

    Args:
      chosen_logps: policy log-probabilities of the chosen completions, e.g. ``[B]``.
      rejected_logps: policy log-probabilities of the rejected completions, same shape.
      ref_chosen_logps: reference-model log-probabilities of the chosen completions, same shape.
      ref_rejected_logps: reference-model log-probabilities of the rejected ones, same shape.
      beta: :math:`\beta > 0`, the inverse KL strength (may be traced).
      loss_type: ``"sigmoid"`` (DPO), ``"hinge"``, ``"ipo"`` or ``"robust"`` (static).
      label_smoothing: :math:`\varepsilon \in [0, 1]` (``[0, 0.5)`` for ``"robust"``): the
        assumed probability that a preference label is flipped; used by ``"sigmoid"`` (cDPO) and
        ``"robust"``, ignored by the others.
      weights: per-pair weights broadcastable to the input shape.
      where: boolean mask of the input shape; ``False`` drops the pair.
      reduction: ``"mean"``, ``"sum"`` or ``"none"``.

    Returns:
      A scalar, or for ``"none"`` the per-pair losses, in the computation dtype.

    Raises:
      ValueError: a concrete ``beta`` ≤ 0 or ``label_smoothing`` outside [0, 1] (``"robust"``
        also needs ``label_smoothing`` < 0.5), an unknown ``loss_type``, or inputs of different
        shapes.

    Traced hyperparameters are range-checked by ``jaxloss.checked`` only. A traced ``beta`` ≤ 0 is
    used as given (``beta`` = 0: every pair gives log 2 under ``"sigmoid"``; ``beta`` < 0 rewards
    the rejected response); a traced ``label_smoothing`` outside [0, 1] gives one of the two terms a
    negative weight (the loss may be negative), and 0.5 under ``"robust"`` divides by zero.

    Examples:
      >>> import jax.numpy as jnp
      >>> import jaxloss
      >>> c, r = jnp.array([-10.0, -12.0]), jnp.array([-11.0, -11.0])
      >>> rc, rr = jnp.array([-10.5, -12.0]), jnp.array([-10.5, -11.5])
      >>> print(jaxloss.dpo_loss(c, r, rc, rr, reduction="none").round(4))
      [0.6444 0.7185]
      >>> print(jaxloss.dpo_loss(c, r, rc, rr, beta=0.5, loss_type="ipo", reduction="none"))
      [0.   2.25]

    References:
      Rafailov et al., `Direct Preference Optimization <https://arxiv.org/abs/2305.18290>`_, 2023;
      Azar et al., `A General Theoretical Paradigm to Understand Learning from Human Preferences
      <https://arxiv.org/abs/2310.12036>`_ (IPO), 2023; Chowdhury et al., `Provably Robust DPO
      <https://arxiv.org/abs/2403.00409>`_, 2024; Zhao et al., `SLiC-HF
      <https://arxiv.org/abs/2305.10425>`_ (hinge), 2023.

    Notes:
      - The formulas are those of TRL's ``DPOTrainer`` for these ``loss_type`` values; TRL's
        ``"ipo"`` averages the log-probabilities per token first (pass such inputs for that).
      - ``"robust"`` can be negative (it is an unbiased estimate of the clean loss).
      - Numerics: ``log σ`` is overflow-free, so any finite margin gives a finite value and
        gradient; a NaN input gives NaN for its pair.
    """
    name = "dpo_loss"
    if loss_type not in _DPO_TYPES:
        raise ValueError(
            f"{name}: 'loss_type' must be one of {', '.join(map(repr, _DPO_TYPES))}, "
            f"got {loss_type!r}"
        )
    check_positive(name, "beta", beta)
    check_in_range(name, "label_smoothing", label_smoothing, 0.0, 1.0)
    eps_value = concrete_or_none(label_smoothing)
    robust_eps = "must be < 0.5 for loss_type='robust' (it divides by 1 - 2·label_smoothing)"
    if loss_type == "robust" and eps_value is not None and np.any(eps_value >= 0.5):
        raise ValueError(f"{name}: 'label_smoothing' {robust_eps}, got {eps_value.max().item()}")
    if loss_type == "robust" and eps_value is None:  # traced: reported in checked mode
        eps_traced = jnp.asarray(label_smoothing)
        val.report(name, "label_smoothing", eps_traced >= 0.5, eps_traced, robust_eps)
    c, r, rc, rr = _inputs(
        name,
        chosen_logps=chosen_logps,
        rejected_logps=rejected_logps,
        ref_chosen_logps=ref_chosen_logps,
        ref_rejected_logps=ref_rejected_logps,
    )
    b = as_hyper(beta, c.dtype)
    eps = as_hyper(label_smoothing, c.dtype)
    delta = (c - r) - (rc - rr)
    z = b * delta
    if loss_type == "sigmoid":
        values = _smoothed_logistic(z, eps)
    elif loss_type == "hinge":
        values = jax.nn.relu(1 - z)
    elif loss_type == "ipo":
        values = jnp.square(delta - 1 / (2 * b))
    else:  # robust
        values = ((1 - eps) * -log_sigmoid(z) + eps * log_sigmoid(-z)) / (1 - 2 * eps)
    return apply_reduction(name, values, weights, where, reduction)


@val.declare_ranges(beta=val.POSITIVE, gamma=val.REAL, label_smoothing=val.UNIT_INTERVAL)
def simpo_loss(
    chosen_logps: ArrayLike,
    rejected_logps: ArrayLike,
    *,
    beta: ArrayLike = 2.0,
    gamma: ArrayLike = 0.5,
    label_smoothing: ArrayLike = 0.0,
    weights: ArrayLike | None = None,
    where: ArrayLike | None = None,
    reduction: str = "mean",
) -> jax.Array:
    r"""Simple Preference Optimization: a reference-free margin on length-normalised log-probs.

    .. math::
       z = \beta\,(\mathrm{chosen} - \mathrm{rejected}) - \gamma, \qquad
       \ell = -(1-\varepsilon)\log\sigma(z) - \varepsilon\log\sigma(-z),

    with :math:`\varepsilon` = ``label_smoothing``.

    Args:
      chosen_logps: mean per-token log-probabilities of the chosen completions, e.g. ``[B]``.
      rejected_logps: the same for the rejected completions, same shape.
      beta: :math:`\beta > 0`, the reward scale (may be traced).
      gamma: :math:`\gamma`, the target reward margin (may be traced).
      label_smoothing: :math:`\varepsilon \in [0, 1]`.
      weights: per-pair weights broadcastable to the input shape.
      where: boolean mask of the input shape; ``False`` drops the pair.
      reduction: ``"mean"``, ``"sum"`` or ``"none"``.

    Returns:
      A scalar, or for ``"none"`` the per-pair losses, in the computation dtype.

    Raises:
      ValueError: a concrete ``beta`` ≤ 0, ``label_smoothing`` outside [0, 1] or a NaN ``gamma``,
        or inputs of different shapes.

    Traced hyperparameters are range-checked by ``jaxloss.checked`` only. A traced ``beta`` ≤ 0 is
    used as given (``beta`` < 0 rewards the rejected response); a traced ``label_smoothing``
    outside [0, 1] gives one term a negative weight (the loss may be negative); a NaN ``gamma``
    gives NaN.

    Examples:
      >>> import jax.numpy as jnp
      >>> import jaxloss
      >>> c, r = jnp.array([-1.0, -2.0]), jnp.array([-1.5, -1.0])
      >>> print(jaxloss.simpo_loss(c, r, reduction="none").round(4))
      [0.4741 2.5789]

    References:
      Meng, Xia and Chen, `SimPO: Simple Preference Optimization with a Reference-Free Reward
      <https://arxiv.org/abs/2405.14734>`_, 2024.

    Notes:
      - ``gamma`` is the margin itself (the paper's γ). TRL's ``CPOTrainer`` takes
        ``simpo_gamma`` and subtracts ``simpo_gamma / beta`` inside :math:`\beta(\cdot)`, which
        is the same loss: pass ``gamma`` = TRL's ``simpo_gamma``.
      - Numerics: overflow-free ``log σ``; a NaN input gives NaN for its pair.
    """
    name = "simpo_loss"
    check_positive(name, "beta", beta)
    check_in_range(name, "label_smoothing", label_smoothing, 0.0, 1.0)
    val.check_ranges(name, gamma=gamma)
    c, r = _inputs(name, chosen_logps=chosen_logps, rejected_logps=rejected_logps)
    z = as_hyper(beta, c.dtype) * (c - r) - as_hyper(gamma, c.dtype)
    values = _smoothed_logistic(z, as_hyper(label_smoothing, c.dtype))
    return apply_reduction(name, values, weights, where, reduction)


@val.declare_ranges(beta=val.NONNEGATIVE)
def orpo_loss(
    chosen_logps: ArrayLike,
    rejected_logps: ArrayLike,
    *,
    beta: ArrayLike = 0.1,
    weights: ArrayLike | None = None,
    where: ArrayLike | None = None,
    reduction: str = "mean",
) -> jax.Array:
    r"""Odds-Ratio Preference Optimization: the chosen NLL plus a log-odds-ratio penalty.

    .. math::
       L = (\mathrm{chosen} - \mathrm{rejected})
           - \bigl(\log(1 - e^{\mathrm{chosen}}) - \log(1 - e^{\mathrm{rejected}})\bigr), \qquad
       \ell = -\mathrm{chosen} - \beta \log\sigma(L).

    Args:
      chosen_logps: mean per-token log-probabilities (``< 0``) of the chosen completions,
        e.g. ``[B]``.
      rejected_logps: the same for the rejected completions, same shape.
      beta: :math:`\beta \ge 0`, the weight of the odds-ratio term (may be traced).
      weights: per-pair weights broadcastable to the input shape.
      where: boolean mask of the input shape; ``False`` drops the pair.
      reduction: ``"mean"``, ``"sum"`` or ``"none"``.

    Returns:
      A scalar, or for ``"none"`` the per-pair losses, in the computation dtype.

    Raises:
      ValueError: a concrete ``beta`` < 0, or inputs of different shapes.

    Traced hyperparameters are range-checked by ``jaxloss.checked`` only. A traced ``beta`` < 0 is
    used as given: the odds-ratio term then rewards a *lower* chosen-vs-rejected odds ratio.

    Examples:
      >>> import jax.numpy as jnp
      >>> import jaxloss
      >>> c, r = jnp.array([-0.5, -1e-9]), jnp.array([-1.0, -30.0])
      >>> print(jaxloss.orpo_loss(c, r, reduction="none").round(4))
      [0.532 0.   ]

    References:
      Hong, Lee and Thorne, `ORPO: Monolithic Preference Optimization without Reference Model
      <https://arxiv.org/abs/2403.07691>`_, 2024.

    Notes:
      - :math:`\log(1 - e^x)` is computed as ``log(-expm1(x))`` above :math:`-\log 2` and
        ``log1p(-exp(x))`` below, so the value and gradient are finite for :math:`x \to 0^-`
        and :math:`x \to -\infty`. A log-probability of exactly 0 (or a subnormal one) is
        taken as ``-tiny``, the smallest normal float below 0 (the odds are then huge but
        finite).
      - Unchecked on invalid input: a log-probability above 0 gives NaN; a NaN input gives NaN
        for its pair.
    """
    name = "orpo_loss"
    check_nonnegative(name, "beta", beta)
    c, r = _inputs(name, chosen_logps=chosen_logps, rejected_logps=rejected_logps)
    log_odds = (c - r) - (log1mexp(c) - log1mexp(r))
    values = -c - as_hyper(beta, c.dtype) * log_sigmoid(log_odds)
    return apply_reduction(name, values, weights, where, reduction)


@val.declare_ranges(beta=val.POSITIVE)
def kto_loss(
    logps: ArrayLike,
    ref_logps: ArrayLike,
    desirable: ArrayLike,
    *,
    beta: ArrayLike = 0.1,
    kl: ArrayLike = 0.0,
    desirable_weight: ArrayLike = 1.0,
    undesirable_weight: ArrayLike = 1.0,
    weights: ArrayLike | None = None,
    where: ArrayLike | None = None,
    reduction: str = "mean",
) -> jax.Array:
    r"""Kahneman–Tversky Optimization: an unpaired loss on desirable / undesirable completions.

    With :math:`r` = ``logps − ref_logps`` and the reference point :math:`z = \max(\mathrm{kl}, 0)`
    (no gradient):

    .. math::
       \ell = \begin{cases}
         w_d\,\bigl(1 - \sigma(\beta(r - z))\bigr) & \text{desirable} \\
         w_u\,\bigl(1 - \sigma(\beta(z - r))\bigr) & \text{otherwise}
       \end{cases}

    with :math:`w_d` = ``desirable_weight`` and :math:`w_u` = ``undesirable_weight``.

    Args:
      logps: policy log-probabilities of the completions, e.g. ``[B]``.
      ref_logps: reference-model log-probabilities, same shape.
      desirable: boolean, same shape: ``True`` for desirable completions.
      beta: :math:`\beta > 0` (may be traced).
      kl: the KL estimate used as the reference point (scalar or broadcastable; TRL estimates
        it from mismatched prompt / completion pairs). It receives no gradient.
      desirable_weight: :math:`w_d \ge 0`.
      undesirable_weight: :math:`w_u \ge 0`.
      weights: per-example weights broadcastable to the input shape.
      where: boolean mask of the input shape; ``False`` drops the example.
      reduction: ``"mean"``, ``"sum"`` or ``"none"``.

    Returns:
      A scalar, or for ``"none"`` the per-example losses, in the computation dtype.

    Raises:
      ValueError: a concrete ``beta`` ≤ 0 or a negative ``desirable_weight`` /
        ``undesirable_weight``, or inputs of different shapes.

    Traced hyperparameters are range-checked by ``jaxloss.checked`` only. A traced ``beta`` ≤ 0 is
    used as given (``beta`` = 0: every row gives half its weight, with zero gradient; ``beta`` < 0
    reverses which responses are rewarded).

    Examples:
      >>> import jax.numpy as jnp
      >>> import jaxloss
      >>> lp, ref = jnp.array([-5.0, -5.0]), jnp.array([-6.0, -6.0])
      >>> print(jaxloss.kto_loss(lp, ref, jnp.array([True, False]), reduction="none").round(4))
      [0.475 0.525]

    References:
      Ethayarajh et al., `KTO: Model Alignment as Prospect Theoretic Optimization
      <https://arxiv.org/abs/2402.01306>`_, 2024.

    Notes:
      - ``"mean"`` averages over all examples, desirable and undesirable together (TRL).
      - Numerics: :math:`1 - \sigma(a)` is computed as :math:`\sigma(-a)` (no cancellation);
        a NaN input gives NaN for its example.
    """
    name = "kto_loss"
    check_positive(name, "beta", beta)
    check_nonnegative(name, "desirable_weight", desirable_weight)
    check_nonnegative(name, "undesirable_weight", undesirable_weight)
    lp, ref = _inputs(name, logps=logps, ref_logps=ref_logps)
    desirable = val.as_real_array(name, "desirable", desirable)
    check_same_shape(name, "logps", logps, "desirable", desirable)
    if desirable.dtype != jnp.bool_:
        raise TypeError(f"{name}: 'desirable' must be a boolean array, got dtype {desirable.dtype}")
    dtype = lp.dtype
    z = lax.stop_gradient(jnp.maximum(as_hyper(kl, dtype), 0))
    b = as_hyper(beta, dtype)
    r = lp - ref
    good = jnp.asarray(desirable)
    values = jnp.where(
        good,
        as_hyper(desirable_weight, dtype) * jax.nn.sigmoid(-b * (r - z)),
        as_hyper(undesirable_weight, dtype) * jax.nn.sigmoid(-b * (z - r)),
    )
    return apply_reduction(name, values, weights, where, reduction)


LOSSES = (dpo_loss, simpo_loss, orpo_loss, kto_loss)

ALIASES = {
    **{fn.__name__: fn for fn in LOSSES},
    "dpo": dpo_loss,
    "simpo": simpo_loss,
    "orpo": orpo_loss,
    "kto": kto_loss,
}
