"""Divergences between distributions over a class axis.

All three losses sum over the distribution axis ``axis`` and then reduce the remaining positions
with :func:`jaxloss.reduce_loss`'s rule, so ``"mean"`` is the mean over every remaining position
(for 2-D ``[batch, classes]`` inputs this is PyTorch's ``reduction="batchmean"``).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from . import _validation as val
from ._alias import bind
from ._numerics import as_compute, as_hyper, clamped_log, compute_dtype
from ._reduction import apply_reduction
from ._validation import check_axis, check_rank, check_same_shape


def _prepare(name: str, pred_name: str, predictions: ArrayLike, targets: ArrayLike, axis: int):
    """Shapes checked, both inputs cast to the computation dtype, axis made non-negative."""
    predictions = val.as_real_array(name, pred_name, predictions)
    targets = val.as_real_array(name, "targets", targets)
    check_rank(name, pred_name, predictions, 1)
    check_same_shape(name, pred_name, predictions, "targets", targets)
    axis = check_axis(name, axis, jnp.ndim(predictions))
    val.check_nonempty_axis(name, pred_name, jnp.shape(predictions), axis, "classes")
    dtype = compute_dtype(predictions)
    return as_compute(predictions, dtype), as_compute(targets, dtype), axis


def _t_log_t_over(t: jax.Array, log_q: jax.Array) -> jax.Array:
    """t·(log t − log q) with 0·(…) = 0: double where, so t = 0 never meets log 0 or −inf·0."""
    nonzero = t != 0
    t_safe = jnp.where(nonzero, t, jnp.ones_like(t))
    log_q_safe = jnp.where(nonzero, log_q, jnp.zeros_like(log_q))
    return jnp.where(nonzero, t * (jnp.log(t_safe) - log_q_safe), jnp.zeros_like(t))


def kl_divergence(
    log_predictions: ArrayLike,
    targets: ArrayLike,
    *,
    axis: int = -1,
    log_targets: bool = False,
    weights: ArrayLike | None = None,
    where: ArrayLike | None = None,
    reduction: str = "mean",
) -> jax.Array:
    r"""Kullback–Leibler divergence KL(targets ‖ predictions), predictions as log-probabilities.

    .. math::
       \ell = \sum_{c} t_c \,(\log t_c - \mathrm{log\_predictions}_c), \qquad 0 \cdot \log 0 = 0,

    summed over ``axis``. With ``log_targets=True`` the targets are given as log-probabilities
    :math:`s = \log t` and the term is :math:`e^{s_c}(s_c - \mathrm{log\_predictions}_c)`. The
    element-wise term is PyTorch's ``KLDivLoss`` (``input`` = ``log_predictions``, ``target`` =
    ``targets``, ``log_target`` = ``log_targets``).

    Args:
      log_predictions: log-probabilities :math:`\log p` (e.g. a ``log_softmax`` output), any shape
        with the distribution along ``axis``. ``-inf`` is allowed (and exact) on classes whose
        target is 0.
      targets: probabilities :math:`t` (or log-probabilities with ``log_targets=True``), same shape.
      axis: the distribution axis (summed over).
      log_targets: whether ``targets`` are log-probabilities (static).
      weights: per-position weights broadcastable to the loss shape (the input shape without
        ``axis``); each multiplies that position's whole divergence.
      where: boolean mask of the loss shape; ``False`` drops the position.
      reduction: ``"mean"`` (over the remaining positions, i.e. ``Σ w·ℓ / Σ w``), ``"sum"`` or
        ``"none"``.

    Returns:
      A scalar, or for ``"none"`` an array of the input shape without ``axis``, in the
      computation dtype (float32 for half-precision inputs).

    Examples:
      >>> import jax, jax.numpy as jnp
      >>> import jaxloss
      >>> log_p = jax.nn.log_softmax(jnp.array([[1.0, 2.0, 0.5], [0.0, 0.0, 0.0]]))
      >>> t = jnp.array([[0.2, 0.8, 0.0], [1 / 3, 1 / 3, 1 / 3]])
      >>> print(f"{float(jaxloss.kl_divergence(log_p, t)):.4f}")
      0.0820
      >>> kl = jaxloss.kl_divergence(log_p, jnp.log(t), log_targets=True, reduction="none")
      >>> print(kl.round(4))
      [0.164 0.   ]

    References:
      Kullback and Leibler, `On information and sufficiency
      <https://doi.org/10.1214/aoms/1177729694>`_, 1951.

    Notes:
      - ``"mean"`` here divides by the number of remaining positions (PyTorch's ``"batchmean"``
        for ``[batch, classes]`` inputs). PyTorch's own ``reduction="mean"`` divides by the
        number of *elements* (``batch × classes``), which is not the KL divergence; to reproduce
        it, use ``reduction="sum"`` and divide by ``log_predictions.size``. The ``kl_div`` alias
        keeps this ``"mean"`` (``"batchmean"``); ``jaxloss.get("KLDivLoss")`` is PyTorch's class
        in full (its element-count ``"mean"``, ``"batchmean"``, ``log_target``), computed by
        ``jaxloss.compat.torch``.
      - Where PyTorch's element-wise term forms ``0·(−inf)`` (a zero target on a ``-inf``
        log-prediction) and returns NaN, jaxloss returns the exact 0.
      - Numerics: zero targets contribute exactly 0 and ``-inf`` log-predictions there give a
        finite value and finite ``grad`` / ``jvp`` / ``hessian`` (double ``where``). A positive
        target on a ``-inf`` log-prediction gives ``+inf`` (the true divergence) with a finite
        gradient ``-t``. The gradient with respect to a target of exactly 0 (``log_targets=False``)
        is taken as 0 rather than the ``-inf`` of ``d(t log t)/dt``.
      - Unchecked on invalid input: negative targets give NaN (``log`` of a negative number);
        targets or predictions that do not sum to 1 are used as given (no normalisation).
      - A NaN in either input gives NaN for its row; a ``+inf`` log-prediction gives ``-inf``
        and a ``+inf`` target ``+inf``. ``checked`` reports them.
    """
    name = "kl_divergence"
    log_targets = val.check_bool_flag(name, "log_targets", log_targets)
    log_p, t, axis = _prepare(name, "log_predictions", log_predictions, targets, axis)
    if log_targets:
        present = t != -jnp.inf
        log_t = jnp.where(present, t, jnp.zeros_like(t))
        log_p_safe = jnp.where(present, log_p, jnp.zeros_like(log_p))
        # e^{s}·(s − log p), with e^{−inf}·(…) := 0 selected, never computed as 0·inf
        elementwise = jnp.where(present, jnp.exp(log_t) * (log_t - log_p_safe), jnp.zeros_like(t))
    else:
        elementwise = _t_log_t_over(t, log_p)
    values = jnp.sum(elementwise, axis=axis)
    return apply_reduction(name, values, weights, where, reduction)


@val.declare_ranges(epsilon=val.POSITIVE)
def kl_divergence_from_probabilities(
    predictions: ArrayLike,
    targets: ArrayLike,
    *,
    axis: int = -1,
    epsilon: ArrayLike | None = None,
    weights: ArrayLike | None = None,
    where: ArrayLike | None = None,
    reduction: str = "mean",
) -> jax.Array:
    r"""KL(targets ‖ predictions), both arguments given as probabilities (Keras / Flux call shape).

    .. math::
       \ell = \sum_{c} t_c \,\bigl(\log t_c - \max(\log p_c, -100)\bigr), \qquad 0 \cdot \log 0 = 0,

    summed over ``axis``: the same as :func:`kl_divergence` applied to the log of ``predictions``,
    with the log clamped at ``-100`` as every probability-input loss of jaxloss does (the PyTorch
    convention), so ``predictions`` of exactly 0 give a finite value and gradient.

    With ``epsilon`` set (the Keras formula, bound by the ``kullback_leibler_divergence`` alias with
    ``epsilon=1e-7``), both inputs are first clipped to ``[epsilon, 1]``:

    .. math::
       \ell = \sum_c \tilde t_c \log(\tilde t_c / \tilde p_c), \quad
       \tilde t = \mathrm{clip}(t, \epsilon, 1),\ \tilde p = \mathrm{clip}(p, \epsilon, 1).

    Args:
      predictions: probabilities :math:`p` (e.g. a softmax output), distribution along ``axis``.
      targets: probabilities :math:`t`, same shape.
      axis: the distribution axis (summed over).
      epsilon: ``None`` (default: exact ``0·log 0 = 0`` and the ``-100`` log clamp) or the Keras
        clip value (may be traced).
      weights: per-position weights broadcastable to the loss shape (input shape without ``axis``).
      where: boolean mask of the loss shape; ``False`` drops the position.
      reduction: ``"mean"`` (over the remaining positions), ``"sum"`` or ``"none"``.

    Returns:
      A scalar, or for ``"none"`` an array of the input shape without ``axis``, in the
      computation dtype.

    Raises:
      ValueError: a concrete ``epsilon`` ≤ 0 (or a hyperparameter that does not broadcast to the
        loss shape).
      TypeError: complex or non-numeric inputs or hyperparameters (Python lists are converted).

    Traced hyperparameters are range-checked by ``jaxloss.checked`` only. A traced ``epsilon`` ≤ 0
    no longer bounds the clipped values away from 0: a zero target or prediction gives NaN or
    ``inf``.

    Examples:
      >>> import jax.numpy as jnp
      >>> import jaxloss
      >>> p = jnp.array([[0.25, 0.75, 0.0], [0.5, 0.25, 0.25]])
      >>> t = jnp.array([[0.5, 0.5, 0.0], [0.5, 0.25, 0.25]])
      >>> print(f"{float(jaxloss.kl_divergence_from_probabilities(p, t)):.4f}")
      0.0719
      >>> keras_kl = jaxloss.get("kullback_leibler_divergence")
      >>> print(f"{float(keras_kl(p, t, reduction='sum')):.4f}")
      0.1438

    Notes:
      - ``"mean"`` is the mean over the remaining positions (Keras' ``"sum_over_batch_size"``,
        PyTorch's ``"batchmean"``).
      - The ``kldivergence`` alias (Flux) is this canonical form. Flux computes
        ``Σ xlogx(t) − Σ xlogy(t, p + ϵ)`` with ``ϵ = eps(eltype(p))``; the two agree up to a
        relative ``ϵ/p`` on each term and differ only where ``p`` is below about ``1e-6``.
      - The gradient with respect to ``predictions`` is 0 where the clamp (or Keras clip) is
        active. Unchecked on invalid input: negative targets give NaN (canonical form).
      - Predictions outside ``[0, 1]`` are used as given with the log clamped at -100
        (``p > 1`` lowers the loss); a NaN target gives NaN for its row. ``checked``
        reports them.
    """
    name = "kl_divergence_from_probabilities"
    p, t, axis = _prepare(name, "predictions", predictions, targets, axis)
    if epsilon is None:
        elementwise = _t_log_t_over(t, clamped_log(p))
    else:
        val.check_ranges(name, epsilon=epsilon)
        eps = as_hyper(epsilon, p.dtype)
        one = jnp.ones((), p.dtype)
        t_c = jnp.clip(t, eps, one)
        p_c = jnp.clip(p, eps, one)
        elementwise = t_c * jnp.log(t_c / p_c)
    values = jnp.sum(elementwise, axis=axis)
    return apply_reduction(name, values, weights, where, reduction)


def js_divergence(
    log_predictions: ArrayLike,
    targets: ArrayLike,
    *,
    axis: int = -1,
    weights: ArrayLike | None = None,
    where: ArrayLike | None = None,
    reduction: str = "mean",
) -> jax.Array:
    r"""Jensen–Shannon divergence between predictions (as log-probabilities) and targets.

    .. math::
       \ell = \tfrac12 \mathrm{KL}(t \,\|\, m) + \tfrac12 \mathrm{KL}(p \,\|\, m), \qquad
       m = \tfrac12 (p + t), \quad p = \exp(\mathrm{log\_predictions}),

    each KL summed over ``axis`` with :math:`0 \cdot \log 0 = 0`. It is symmetric in ``p`` and
    ``t``, non-negative, and bounded by :math:`\log 2` (natural log; reached for disjoint
    supports), and finite wherever ``p`` or ``t`` has zeros.

    Args:
      log_predictions: log-probabilities :math:`\log p` (e.g. ``log_softmax`` output); ``-inf``
        is allowed on any class.
      targets: probabilities :math:`t` (as in :func:`kl_divergence`), same shape.
      axis: the distribution axis (summed over).
      weights: per-position weights broadcastable to the loss shape (input shape without ``axis``).
      where: boolean mask of the loss shape; ``False`` drops the position.
      reduction: ``"mean"`` (over the remaining positions), ``"sum"`` or ``"none"``.

    Returns:
      A scalar, or for ``"none"`` an array of the input shape without ``axis``, in the
      computation dtype.

    Examples:
      >>> import jax.numpy as jnp
      >>> import jaxloss
      >>> log_p = jnp.log(jnp.array([[1.0, 0.0], [0.5, 0.5]]))
      >>> t = jnp.array([[0.0, 1.0], [0.5, 0.5]])
      >>> print(jaxloss.js_divergence(log_p, t, reduction="none").round(4))
      [0.6931 0.    ]

    References:
      Lin, `Divergence measures based on the Shannon entropy
      <https://doi.org/10.1109/18.61115>`_, 1991.

    Notes:
      - Targets are probabilities (not log-probabilities), consistent with :func:`kl_divergence`.
        SciPy's ``scipy.spatial.distance.jensenshannon`` returns the square root of this value.
      - Numerics: ``m`` is formed in probability space; every ``t·log`` / ``p·log`` term with a
        zero factor is selected to 0 before any ``log 0`` is taken, so values, ``grad``, ``jvp``
        and ``hessian`` are finite, including at ``-inf`` log-predictions. Rounding may leave a
        value of order ``-1e-16`` for identical distributions (not clamped).
      - Unchecked on invalid input: negative targets give NaN.
      - Targets above 1 are used as given; a NaN target gives NaN for its row and a ``+inf``
        log-prediction NaN. ``checked`` reports them.
    """
    name = "js_divergence"
    log_p, t, axis = _prepare(name, "log_predictions", log_predictions, targets, axis)
    p = jnp.exp(log_p)  # exp(−inf) = 0 with derivative 0
    m = 0.5 * (p + t)
    # the double wheres below test "= 0" (not "> 0") so that a NaN input propagates
    m_zero = m <= 0
    log_m = jnp.log(jnp.where(m_zero, jnp.ones_like(m), m))  # double where: log never sees m = 0
    kl_t = _t_log_t_over(t, log_m)  # t·(log t − log m), 0 where t = 0
    p_zero = p <= 0
    # p·(log p − log m) with log p taken from log_predictions (exact even where p underflows)
    kl_p = jnp.where(
        p_zero,
        jnp.zeros_like(p),
        p
        * (
            jnp.where(p_zero, jnp.zeros_like(log_p), log_p)
            - jnp.where(p_zero, jnp.zeros_like(log_m), log_m)
        ),
    )
    values = 0.5 * jnp.sum(kl_t + kl_p, axis=axis)
    return apply_reduction(name, values, weights, where, reduction)


# Losses of this family, canonical names (the registry lists these).
def generalized_kl_divergence(
    log_predictions: ArrayLike,
    targets: ArrayLike,
    *,
    axis: int = -1,
    weights: ArrayLike | None = None,
    where: ArrayLike | None = None,
    reduction: str = "mean",
) -> jax.Array:
    r"""Generalized KL divergence of unnormalised measures, predictions given as logs.

    .. math::
       \ell = \sum_{c} \bigl[t_c \,(\log t_c - \mathrm{log\_predictions}_c)
               + e^{\mathrm{log\_predictions}_c} - t_c\bigr], \qquad 0 \cdot \log 0 = 0,

    summed over ``axis``: the Bregman divergence of :math:`f(x) = x \log x - x`. Each term is
    :math:`\ge 0`; for distributions (both summing to 1) it equals :func:`kl_divergence`.

    Args:
      log_predictions: logs :math:`\log p` of non-negative (not necessarily normalised)
        predictions, distribution along ``axis``; ``-inf`` is allowed (a zero prediction).
      targets: non-negative targets :math:`t`, same shape.
      axis: the summed axis.
      weights: per-position weights broadcastable to the loss shape (the input shape without
        ``axis``).
      where: boolean mask of the loss shape; ``False`` drops the position.
      reduction: ``"mean"`` (over the remaining positions), ``"sum"`` or ``"none"``.

    Returns:
      A scalar, or for ``"none"`` an array of the input shape without ``axis``, in the
      computation dtype (float32 for half-precision inputs).

    Examples:
      >>> import jax.numpy as jnp
      >>> import jaxloss
      >>> log_p = jnp.log(jnp.array([[0.5, 1.0], [0.25, 0.25]]))
      >>> t = jnp.array([[1.0, 1.0], [0.5, 0.0]])
      >>> print(jaxloss.generalized_kl_divergence(log_p, t, reduction="none").round(4))
      [0.1931 0.3466]

    References:
      Bregman, 1967; Boyd and Vandenberghe, *Convex Optimization*, p. 90; optax
      ``generalized_kl_divergence`` (formerly ``convex_kl_divergence``).

    Notes:
      Zero targets contribute :math:`p_c` exactly (double ``where``, no ``0·(−inf)``); a positive
      target on a ``-inf`` log-prediction gives ``+inf``. Negative targets give NaN (unchecked).
    """
    name = "generalized_kl_divergence"
    log_p, t, axis = _prepare(name, "log_predictions", log_predictions, targets, axis)
    elementwise = _t_log_t_over(t, log_p) + jnp.exp(log_p) - t
    values = jnp.sum(elementwise, axis=axis)
    return apply_reduction(name, values, weights, where, reduction)


LOSSES = (
    kl_divergence,
    kl_divergence_from_probabilities,
    js_divergence,
    generalized_kl_divergence,
)

# Every name `jaxloss.get` resolves for this family (case-insensitive), canonical names included.
ALIASES = {
    **{fn.__name__: fn for fn in LOSSES},
    "kl_div": kl_divergence,
    # the registry replaces this entry by PyTorch's class (element-count "mean", "batchmean",
    # log_target) computed by jaxloss.compat.torch
    "KLDivLoss": kl_divergence,
    # Keras `kl_divergence`: both inputs clipped to [1e-7, 1] (keras.backend.epsilon())
    "kullback_leibler_divergence": bind(
        kl_divergence_from_probabilities, "kullback_leibler_divergence", epsilon=1e-7
    ),
    "kldivergence": kl_divergence_from_probabilities,
    "jensen_shannon": js_divergence,
    # optax's deprecated name of the same loss
    "convex_kl_divergence": generalized_kl_divergence,
}
