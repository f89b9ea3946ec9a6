"""Binary and multi-label losses: (logits or probabilities, targets).

Every loss here is element-wise (``reduction="none"`` keeps the input's shape) except
:func:`multilabel_soft_margin_loss`, which averages over its class ``axis`` and drops it. Each is a
single fused element-wise expression followed by the shared reduction, so under ``jax.jit`` XLA
emits one pass over the inputs for the value and one for the gradient.

Numerics (API.md §1):

* Logit losses are exact for every logit including ``±inf``: ``log σ(x) = −softplus(−x)`` and
  ``log(1 − σ(x)) = −softplus(x)`` are never rounded to ``log 0``, products ``0 · inf`` (a zero
  target times an infinite log-loss) are defined as 0, and the gradient is ``σ(x) − t`` everywhere.
* Probability losses clamp each ``log`` at ``-100`` (PyTorch's convention), so they are finite at
  ``p = 0`` and ``p = 1``; where the clamp is active the gradient is 0.
* The focal factor ``(1 − p_t)^γ`` is computed with a guarded power whose derivative is never
  ``inf`` or ``NaN`` (also for ``γ < 1`` at ``p_t = 1``, and for ``γ = 0``).
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax
from jax.typing import ArrayLike

from . import _validation as val
from ._alias import bind
from ._numerics import as_hyper, clamped_log, compute_dtype, log_sigmoid, softplus
from ._reduction import apply_reduction

# ---------------------------------------------------------------------------------------------
# Private helpers
# ---------------------------------------------------------------------------------------------


def _inputs(name: str, pred_name: str, predictions: ArrayLike, targets: ArrayLike):
    """(predictions, targets) as arrays of the computation dtype, with a same-shape check."""
    predictions = val.as_real_array(name, pred_name, predictions)
    targets = val.as_real_array(name, "targets", targets)
    val.check_same_shape(name, pred_name, predictions, "targets", targets)
    dtype = compute_dtype(predictions)
    return jnp.asarray(predictions).astype(dtype), jnp.asarray(targets).astype(dtype), dtype


def _hyper(name: str, arg: str, value: ArrayLike, dtype, shape) -> jax.Array:
    """A (possibly traced) hyperparameter cast to ``dtype`` and broadcast to the loss shape.

    Broadcasting explicitly lets per-class values (shape ``[C]``) work under
    ``jax_numpy_rank_promotion="raise"``.
    """
    val.check_broadcastable(name, arg, value, shape)
    return jnp.broadcast_to(as_hyper(value, dtype), shape)


def _is_zero(value: ArrayLike | None) -> bool:
    """True when ``value`` is known at trace time to be exactly 0 (the term can be skipped)."""
    c = val.concrete_or_none(value)
    return c is not None and not np.any(c)


def _mul0(a: jax.Array, b: jax.Array) -> jax.Array:
    """a · b with 0 · inf = 0 (and finite derivatives there), for b ≥ 0 possibly infinite."""
    # double where: b is replaced before the product, so neither the value nor ∂/∂a = b is inf·0
    return a * jnp.where(a == 0, jnp.zeros_like(b), b)


def _smooth(name: str, targets: jax.Array, label_smoothing: ArrayLike, dtype) -> jax.Array:
    """t·(1 − ls) + ls/2 (optax / Keras binary label smoothing); a concrete 0 is skipped."""
    if _is_zero(label_smoothing):
        return targets
    ls = _hyper(name, "label_smoothing", label_smoothing, dtype, targets.shape)
    return targets * (1 - ls) + 0.5 * ls


def _bce_with_logits(x: jax.Array, t: jax.Array, pos_weight: jax.Array | None = None) -> jax.Array:
    """−[w₊·t·log σ(x) + (1 − t)·log(1 − σ(x))], exact for any x including ±inf."""
    # log σ(x) = −softplus(−x) and log(1 − σ(x)) = −softplus(x); softplus is exact at ±inf and its
    # derivative is σ, so ∂/∂x = w₊·t·(σ(x) − 1) + (1 − t)·σ(x) (= σ(x) − t when w₊ = 1) everywhere
    pos = t if pos_weight is None else pos_weight * t
    # softplus(x) = max(x, 0) + lg and softplus(−x) = max(−x, 0) + lg with
    # lg = log1p(exp(−|x|)) ≤ log 2 computed once; m = |x| as a select so that its derivative at 0
    # is 1 on the x ≥ 0 side (the gradient there is then σ(0) − t, not 1 − t). The select comes
    # last so XLA fuses everything into one loop (one exp + one log1p per element, no intermediate
    # arrays).
    nonneg = x >= 0
    m = jnp.where(nonneg, x, -x)
    lg = jnp.log1p(jnp.exp(-m))
    # Each coefficient·(m + lg) product is a double where (_mul0) whose inner select also zeroes
    # m + lg in the branch the outer select drops: that branch can hold m + lg = inf (x = ∓inf), and
    # its zero cotangent times ∂/∂coefficient = inf would be NaN. ∂/∂targets at a right infinite
    # logit is thereby 0 (the exact one-sided limit is ∓inf; 0 keeps masked and zero-weight
    # entries NaN-free).
    q = 1 - t
    zero = jnp.zeros_like(m)
    return jnp.where(
        nonneg,
        pos * lg + q * jnp.where((q == 0) | ~nonneg, zero, m + lg),
        pos * jnp.where((pos == 0) | nonneg, zero, m + lg) + q * lg,
    )


def _bce_with_probabilities(p: jax.Array, t: jax.Array) -> jax.Array:
    """−[t·log p + (1 − t)·log(1 − p)] with each log clamped at −100 (PyTorch)."""
    return -(t * clamped_log(p) + (1 - t) * clamped_log(1 - p))


def _integer_gamma(gamma: ArrayLike) -> int | None:
    """γ as a small Python int when it is a concrete scalar in {0, 1, 2, 3, 4}, else None."""
    c = val.concrete_or_none(gamma)
    if c is None or c.ndim != 0 or not np.isfinite(c):
        return None
    g = float(c)
    return int(g) if g in (0.0, 1.0, 2.0, 3.0, 4.0) else None


def _modulating_factor(name: str, q: jax.Array, gamma: ArrayLike, dtype, log_q=None) -> jax.Array:
    """q^γ for q = 1 − p_t ∈ [0, 1], with finite derivatives in q and γ everywhere.

    ``q**γ`` differentiates to ``γ·q^(γ−1)``, which is inf at q = 0 for γ < 1 and NaN (0·inf) for
    γ = 0; the guarded form treats q below the smallest normal number as 0, where q^γ is 0 (γ > 0)
    or 1 (γ = 0, the convention 0⁰ = 1) with zero derivative. A concrete integer γ (the default
    2) uses an exact integer power instead. ``log_q`` (a callable giving log q, computed without
    forming q) replaces the guard for a non-integer γ: q^γ = exp(γ·log q) has derivatives
    γ·q^γ·(log q)′, finite wherever log q is, where ``log`` of a q near the smallest normal number
    overflows the second derivative (1/q² = inf: the Hessian was NaN).
    """
    n = _integer_gamma(gamma)
    if n is not None:
        return jnp.ones_like(q) if n == 0 else lax.integer_pow(q, n)
    g = _hyper(name, "gamma", gamma, dtype, q.shape)
    at_zero = jnp.where(g == 0, jnp.ones_like(q), jnp.zeros_like(q))
    if log_q is not None:
        lq = log_q()
        # q = 0 exactly (log q = −inf): q^γ is 0, or 1 for γ = 0 (double where: no 0·inf)
        none = lq == -jnp.inf
        return jnp.where(none, at_zero, jnp.exp(g * jnp.where(none, jnp.zeros_like(lq), lq)))
    positive = q > jnp.finfo(dtype).tiny
    # q^γ = exp(γ·log q); double where: log never sees 0 and 1/q stays below the largest float
    power = jnp.exp(g * jnp.log(jnp.where(positive, q, jnp.ones_like(q))))
    return jnp.where(positive, power, at_zero)


def _log_one_minus_p_t(x: jax.Array, t: jax.Array, q: jax.Array) -> jax.Array:
    """log(1 − p_t) = log(t·σ(−x) + (1 − t)·σ(x)) from log-sigmoids, exact for any x (±inf too).

    = logaddexp(log t + log σ(−x), log(1 − t) + log σ(x)) for t in [0, 1]; a hard target reads
    one log-sigmoid, −softplus(±x). Every derivative in x and t is finite (log t and log(1 − t)
    are −inf constants at t = 0 and 1: double where). Targets outside [0, 1] (invalid, unchecked)
    use ``log q`` of the given ``q`` (−inf where q ≤ 0, i.e. q^γ = 0 there); NaN propagates.
    """
    zero = jnp.zeros_like(t)
    neg_inf = jnp.full_like(t, -jnp.inf)
    no_t, no_1mt = t <= 0, t >= 1
    lt = jnp.where(no_t, neg_inf, jnp.log(jnp.where(no_t, jnp.ones_like(t), t)))
    l1mt = jnp.where(no_1mt, neg_inf, jnp.log1p(-jnp.where(no_1mt, zero, t)))
    a = lt + log_sigmoid(-x)
    b = l1mt + log_sigmoid(x)
    # logaddexp(a, b) = hi + log1p(exp(lo − hi)) with selects (exact derivatives at a = b); both
    # −inf (q = 0: t = 1, x = +inf or t = 0, x = −inf) gives −inf with zero derivatives
    a_hi = a >= b
    hi = jnp.where(a_hi, a, b)
    lo = jnp.where(a_hi, b, a)
    none = hi == -jnp.inf
    d = jnp.where(none, zero, lo - jnp.where(none, zero, hi))
    lq = jnp.where(none, neg_inf, hi + jnp.log1p(jnp.exp(d)))
    outside = (t < 0) | (t > 1)
    q_le0 = outside & (q <= 0)
    lq_given = jnp.where(q_le0, neg_inf, jnp.log(jnp.where(outside & ~q_le0, q, jnp.ones_like(q))))
    return jnp.where(outside, lq_given, lq)


def _alpha_t(name: str, alpha: ArrayLike, t: jax.Array, dtype) -> jax.Array:
    """α·t + (1 − α)·(1 − t): α weights the positive term, 1 − α the negative term."""
    a = _hyper(name, "alpha", alpha, dtype, t.shape)
    return a * t + (1 - a) * (1 - t)


# ---------------------------------------------------------------------------------------------
# Binary cross-entropy
# ---------------------------------------------------------------------------------------------


@val.declare_ranges(label_smoothing=val.UNIT_INTERVAL)
def binary_cross_entropy(
    probabilities: ArrayLike,
    targets: ArrayLike,
    *,
    label_smoothing: ArrayLike = 0.0,
    weights: ArrayLike | None = None,
    where: ArrayLike | None = None,
    reduction: str = "mean",
) -> jax.Array:
    r"""Binary cross-entropy on probabilities (PyTorch ``BCELoss``, Keras ``binary_crossentropy``).

    .. math::
       \ell = -\bigl[\tilde t \,\max(\log p, -100) + (1 - \tilde t)\,\max(\log(1 - p), -100)\bigr],
       \qquad \tilde t = t\,(1 - \mathrm{label\_smoothing}) + \tfrac12\,\mathrm{label\_smoothing}

    where ``p`` is ``probabilities`` and ``t`` is ``targets``.

    Args:
      probabilities: predicted probabilities of the positive class, in ``[0, 1]``, any shape.
      targets: targets in ``[0, 1]`` (hard or soft), same shape as ``probabilities``.
      label_smoothing: in ``[0, 1]``; pulls targets towards 1/2 as Keras / optax do. May be
        traced (``jax.vmap`` over it works).
      weights: per-element weights broadcastable to the loss shape; multiply ``ℓ``.
      where: boolean mask broadcastable to the loss shape; ``False`` ignores the element.
      reduction: ``"mean"`` (``Σ w·ℓ / Σ w`` over valid elements), ``"sum"`` or ``"none"``.

    Returns:
      A scalar, or for ``reduction="none"`` an array of ``probabilities``' shape, in the
      computation dtype (float32 for half-precision inputs).

    Raises:
      ValueError: a concrete ``label_smoothing`` outside [0, 1] (or a hyperparameter that does not
        broadcast to the loss shape).
      TypeError: complex or non-numeric inputs or hyperparameters (Python lists are converted).

    Traced hyperparameters are range-checked by ``jaxloss.checked`` only. A traced
    ``label_smoothing`` outside [0, 1] gives targets outside [0, 1], and a finite loss that may be
    negative.

    Examples:
      >>> import jax.numpy as jnp
      >>> import jaxloss
      >>> p = jnp.array([0.9, 0.2, 0.6])
      >>> t = jnp.array([1.0, 0.0, 1.0])
      >>> print(f"{float(jaxloss.binary_cross_entropy(p, t)):.4f}")
      0.2798
      >>> print(f"{float(jaxloss.binary_cross_entropy(jnp.array([0.0]), jnp.array([1.0]))):.4f}")
      100.0000

    References:
      PyTorch ``torch.nn.BCELoss``; Keras ``keras.losses.binary_crossentropy``.

    Notes:
      * Each log is clamped at ``-100``, so ``p = 0`` or ``p = 1`` gives a finite loss (at most
        100 per element). Where the clamp is active the gradient is 0; PyTorch's hand-written
        backward instead returns ``(p − t) / max(p·(1 − p), 1e-12)`` there. Everywhere else the
        gradients agree. Keras clips ``p`` to ``[1e-7, 1 − 1e-7]`` instead, which differs only
        for ``p`` within 1e-7 of 0 or 1.
      * Unchecked input: a finite ``p`` outside ``[0, 1]`` gives ``log`` of a negative number
        clamped to ``-100`` (the loss stays finite but meaningless); ``p = +inf`` gives ``-inf``
        and a NaN ``p`` gives NaN. Use ``jaxloss.checked`` to catch them.
      * For numerical stability prefer :func:`sigmoid_binary_cross_entropy` on logits.
      * Unchecked input: targets outside ``[0, 1]`` are used as given in the formula, and a NaN
        target gives NaN for that element; ``checked`` reports them.
    """
    name = "binary_cross_entropy"
    val.check_ranges(name, label_smoothing=label_smoothing)
    p, t, dtype = _inputs(name, "probabilities", probabilities, targets)
    t = _smooth(name, t, label_smoothing, dtype)
    return apply_reduction(name, _bce_with_probabilities(p, t), weights, where, reduction)


@val.declare_ranges(label_smoothing=val.UNIT_INTERVAL, pos_weight=val.REAL)
def sigmoid_binary_cross_entropy(
    logits: ArrayLike,
    targets: ArrayLike,
    *,
    pos_weight: ArrayLike | None = None,
    label_smoothing: ArrayLike = 0.0,
    weights: ArrayLike | None = None,
    where: ArrayLike | None = None,
    reduction: str = "mean",
) -> jax.Array:
    r"""Binary cross-entropy on logits, exact for any logit (PyTorch ``BCEWithLogitsLoss``).

    .. math::
       \ell = -\bigl[\mathrm{pos\_weight}\cdot \tilde t \log\sigma(x)
                     + (1 - \tilde t)\log(1 - \sigma(x))\bigr],
       \qquad \tilde t = t\,(1 - \mathrm{label\_smoothing}) + \tfrac12\,\mathrm{label\_smoothing}

    where ``x`` is ``logits`` and ``t`` is ``targets``. The gradient is
    ``∂ℓ/∂x = σ(x) − t̃`` (``pos_weight·t̃·(σ(x) − 1) + (1 − t̃)·σ(x)`` in general).

    Args:
      logits: real-valued scores (log-odds of the positive class), any shape; ``±inf`` allowed.
      targets: targets in ``[0, 1]`` (hard or soft), same shape as ``logits``.
      pos_weight: weight of the positive term, broadcastable to ``logits`` (a scalar, or one value
        per class ``[C]`` broadcast over the trailing class axis, as in PyTorch). Default 1.
        Applied after label smoothing. May be traced.
      label_smoothing: in ``[0, 1]``; ``t·(1 − ls) + ls/2`` as optax / Keras. May be traced.
      weights: per-element weights broadcastable to the loss shape; multiply ``ℓ``.
      where: boolean mask broadcastable to the loss shape; ``False`` ignores the element.
      reduction: ``"mean"`` (``Σ w·ℓ / Σ w`` over valid elements), ``"sum"`` or ``"none"``.

    Returns:
      A scalar, or for ``reduction="none"`` an array of ``logits``' shape, in the computation
      dtype (float32 for half-precision inputs).

    Raises:
      ValueError: a concrete ``label_smoothing`` outside [0, 1] or a NaN in ``pos_weight`` (or a
        hyperparameter that does not broadcast to the loss shape).
      TypeError: complex or non-numeric inputs or hyperparameters (Python lists are converted).

    Traced hyperparameters are range-checked by ``jaxloss.checked`` only. A traced
    ``label_smoothing`` outside [0, 1] gives targets outside [0, 1], and a finite loss that may be
    negative; a NaN ``pos_weight`` gives NaN.

    Examples:
      >>> import jax
      >>> import jax.numpy as jnp
      >>> import jaxloss
      >>> x = jnp.array([2.0, -1.0, 0.5])
      >>> t = jnp.array([1.0, 0.0, 1.0])
      >>> print(f"{float(jaxloss.sigmoid_binary_cross_entropy(x, t)):.4f}")
      0.3048
      >>> print(f"{float(jaxloss.sigmoid_binary_cross_entropy(x, t, pos_weight=3.0)):.4f}")
      0.7054
      >>> g = jax.grad(lambda z: jaxloss.sigmoid_binary_cross_entropy(z, t, reduction="sum"))
      >>> print(g(jnp.array([jnp.inf, -jnp.inf, 0.0])))  # σ(x) − t, also at ±inf
      [ 0.   0.  -0.5]

    References:
      PyTorch ``torch.nn.BCEWithLogitsLoss``; optax ``sigmoid_binary_cross_entropy``.

    Notes:
      * Exact limits at ``±inf``: the loss is 0 for a logit of ``+inf`` with target 1 (or
        ``-inf`` with target 0) and ``+inf`` when the target puts mass on the side the infinite
        logit rules out (``t > 0`` at ``-inf``, ``t < 1`` at ``+inf``); the gradient is
        ``σ(x) − t`` (finite) everywhere, including there. Computed with ``softplus`` in a single
        fused element-wise expression, with ``0·inf`` defined as 0 (double where).
      * Derivative in ``targets``: ``∂ℓ/∂t = (1 − ls)·(pos_weight·softplus(−x) − softplus(x))``,
        exact for finite logits. At an infinite logit whose sign agrees with a hard target (loss
        0) the exact one-sided limit is ``∓inf``; it is returned as 0, so that masked and
        zero-weight entries stay NaN-free (PyTorch returns ``∓inf`` there).
      * PyTorch's ``weight=`` argument multiplies each element like ``weights`` here, but its
        ``"mean"`` divides by the element count, whereas ``"mean"`` here divides by ``Σ weights``
        (API.md §1); ``reduction="sum"`` agrees.
      * Unchecked input: targets outside ``[0, 1]`` are used as given (the formula is linear in
        ``t``); ``checked`` reports them.
      * A NaN in either input gives NaN for that element (``±inf`` logits are valid).
    """
    name = "sigmoid_binary_cross_entropy"
    val.check_ranges(name, label_smoothing=label_smoothing, pos_weight=pos_weight)
    x, t, dtype = _inputs(name, "logits", logits, targets)
    t = _smooth(name, t, label_smoothing, dtype)
    pw = None if pos_weight is None else _hyper(name, "pos_weight", pos_weight, dtype, x.shape)
    return apply_reduction(name, _bce_with_logits(x, t, pw), weights, where, reduction)


# ---------------------------------------------------------------------------------------------
# Focal losses
# ---------------------------------------------------------------------------------------------


@val.declare_ranges(gamma=val.NONNEGATIVE, alpha=val.UNIT_INTERVAL)
def sigmoid_focal_loss(
    logits: ArrayLike,
    targets: ArrayLike,
    *,
    alpha: ArrayLike | None = 0.25,
    gamma: ArrayLike = 2.0,
    weights: ArrayLike | None = None,
    where: ArrayLike | None = None,
    reduction: str = "mean",
) -> jax.Array:
    r"""Sigmoid focal loss on logits (Lin et al. 2017; torchvision / optax ``sigmoid_focal_loss``).

    .. math::
       \ell = \alpha_t\,(1 - p_t)^{\gamma}\;\mathrm{BCE}(x, t),\qquad
       p = \sigma(x),\quad 1 - p_t = t\,(1 - p) + (1 - t)\,p,\quad
       \alpha_t = \mathrm{alpha}\cdot t + (1 - \mathrm{alpha})(1 - t)

    where ``x`` is ``logits``, ``t`` is ``targets`` and ``BCE`` is
    :func:`sigmoid_binary_cross_entropy`. With ``alpha=None``, ``α_t = 1``; with ``gamma=0`` and
    ``alpha=None`` the loss equals :func:`sigmoid_binary_cross_entropy` exactly.

    Args:
      logits: real-valued scores, any shape; ``±inf`` allowed.
      targets: targets in ``[0, 1]`` (hard or soft), same shape as ``logits``.
      alpha: weight of the positive term in ``[0, 1]`` (negatives get ``1 − alpha``); default
        0.25 as torchvision; ``None`` disables the balancing (optax's default). May be traced, a
        scalar or broadcastable (e.g. per class).
      gamma: focusing exponent ``≥ 0`` (default 2). May be traced.
      weights: per-element weights broadcastable to the loss shape; multiply ``ℓ``.
      where: boolean mask broadcastable to the loss shape; ``False`` ignores the element.
      reduction: ``"mean"`` (``Σ w·ℓ / Σ w`` over valid elements), ``"sum"`` or ``"none"``.

    Returns:
      A scalar, or for ``reduction="none"`` an array of ``logits``' shape, in the computation
      dtype (float32 for half-precision inputs).

    Raises:
      ValueError: a concrete ``gamma`` < 0 or ``alpha`` outside [0, 1] (or a hyperparameter that
        does not broadcast to the loss shape).
      TypeError: complex or non-numeric inputs or hyperparameters (Python lists are converted).

    Traced hyperparameters are range-checked by ``jaxloss.checked`` only. A traced ``gamma`` < 0 up-
    weights confident predictions: (1 − p_t)^γ grows without bound as p_t → 1 (the loss then tends
    to 0, ``α_t`` (1 without ``alpha``) or ``inf`` for γ > −1, γ = −1, γ < −1, and is 0 at
    p_t = 1 exactly); an ``alpha``
    outside [0, 1] gives a negative weight to one class (negative losses).

    Examples:
      >>> import jax.numpy as jnp
      >>> import jaxloss
      >>> x = jnp.array([2.0, -1.0, 0.5])
      >>> t = jnp.array([1.0, 0.0, 1.0])
      >>> print(f"{float(jaxloss.sigmoid_focal_loss(x, t)):.4f}")
      0.0114
      >>> print(f"{float(jaxloss.sigmoid_focal_loss(x, t, alpha=None, gamma=0.0)):.4f}")
      0.3048

    References:
      Lin et al., `Focal Loss for Dense Object Detection <https://arxiv.org/abs/1708.02002>`_,
      2017; ``torchvision.ops.sigmoid_focal_loss``.

    Notes:
      * ``1 − p_t = t·σ(−x) + (1 − t)·σ(x)`` is a sum of non-negative terms (no cancellation) and
        the cross-entropy uses ``softplus``, so the loss is accurate for large ``|x|`` and exact at
        ``±inf`` (0 where the infinite logit is right, ``inf·α_t`` where it is wrong). Gradients
        are finite at ``±inf`` logits and at ``p_t = 1`` for every ``gamma ≥ 0``, including
        ``gamma < 1``, where ``(1 − p_t)^γ`` itself has an infinite derivative (its product with
        the vanishing cross-entropy does not). In ``targets`` the derivative at a right infinite
        logit is 0, as for :func:`sigmoid_binary_cross_entropy`.
      * The alias ``sigmoid_focal_crossentropy`` (TensorFlow Addons' name) also takes *logits*;
        TF-Addons' function defaults to ``from_logits=False`` and sums over the last axis — apply
        ``jax.scipy.special.logit`` to probabilities, or use :func:`binary_focal_loss`.
      * A non-integer ``gamma`` computes ``(1 − p_t)^γ = exp(γ·log(1 − p_t))`` with
        ``log(1 − p_t)`` from log-sigmoids (never ``log`` of a rounded ``1 − p_t``), so the
        Hessian is finite and exact at confident logits too (``γ = 0.5``, ``|x|`` up to 87 in
        float32, where ``1/(1 − p_t)²`` overflows).
      * Unchecked input: a traced ``gamma < 0`` or ``alpha`` outside ``[0, 1]``: see *Raises*.
      * Unchecked input: targets outside ``[0, 1]`` are used as given (``α_t`` may then be
        negative: a target of 2 with ``alpha=0.25`` gives a negative loss); a NaN in either input
        gives NaN for that element. ``checked`` reports them.
    """
    name = "sigmoid_focal_loss"
    val.check_ranges(name, gamma=gamma, alpha=alpha)
    x, t, dtype = _inputs(name, "logits", logits, targets)
    bce = _bce_with_logits(x, t)
    # 1 − p_t = t·(1 − σ(x)) + (1 − t)·σ(x) = t·σ(−x) + (1 − t)·σ(x)
    q = t * jax.nn.sigmoid(-x) + (1 - t) * jax.nn.sigmoid(x)
    factor = _modulating_factor(name, q, gamma, dtype, log_q=lambda: _log_one_minus_p_t(x, t, q))
    # at x = ±inf the factor's derivative is exactly 0 while BCE may be inf: the double where keeps
    # inf·0 out of both the forward (jvp) and the reverse (grad) derivative
    infinite = jnp.isinf(x)
    loss = jnp.where(
        infinite,
        lax.stop_gradient(factor) * bce,
        factor * jnp.where(infinite, jnp.zeros_like(bce), bce),
    )
    if alpha is not None:
        # α_t may be exactly 0 (alpha ∈ {0, 1}) where the loss is inf
        loss = _mul0(_alpha_t(name, alpha, t, dtype), loss)
    return apply_reduction(name, loss, weights, where, reduction)


@val.declare_ranges(gamma=val.NONNEGATIVE, alpha=val.UNIT_INTERVAL)
def binary_focal_loss(
    probabilities: ArrayLike,
    targets: ArrayLike,
    *,
    alpha: ArrayLike | None = None,
    gamma: ArrayLike = 2.0,
    weights: ArrayLike | None = None,
    where: ArrayLike | None = None,
    reduction: str = "mean",
) -> jax.Array:
    r"""Binary focal loss on probabilities (Keras ``binary_focal_crossentropy``, Flux).

    .. math::
       \ell = \alpha_t\,(1 - p_t)^{\gamma}\;
              \bigl(-t \max(\log p, -100) - (1 - t)\max(\log(1 - p), -100)\bigr),\qquad
       1 - p_t = t\,(1 - p) + (1 - t)\,p

    with ``α_t = alpha·t + (1 − alpha)·(1 − t)``, or 1 when ``alpha=None`` (the default: Keras'
    ``apply_class_balancing=False``); ``p`` is ``probabilities`` and ``t`` is ``targets``.

    Args:
      probabilities: predicted probabilities of the positive class in ``[0, 1]``, any shape.
      targets: targets in ``[0, 1]`` (hard or soft), same shape as ``probabilities``.
      alpha: weight of the positive term in ``[0, 1]`` (negatives get ``1 − alpha``), or ``None``
        (default) for no balancing. May be traced.
      gamma: focusing exponent ``≥ 0`` (default 2). May be traced.
      weights: per-element weights broadcastable to the loss shape; multiply ``ℓ``.
      where: boolean mask broadcastable to the loss shape; ``False`` ignores the element.
      reduction: ``"mean"`` (``Σ w·ℓ / Σ w`` over valid elements), ``"sum"`` or ``"none"``.

    Returns:
      A scalar, or for ``reduction="none"`` an array of ``probabilities``' shape, in the
      computation dtype (float32 for half-precision inputs).

    Raises:
      ValueError: a concrete ``gamma`` < 0 or ``alpha`` outside [0, 1] (or a hyperparameter that
        does not broadcast to the loss shape).
      TypeError: complex or non-numeric inputs or hyperparameters (Python lists are converted).

    Traced hyperparameters are range-checked by ``jaxloss.checked`` only. A traced ``gamma`` < 0 up-
    weights confident predictions: (1 − p_t)^γ grows without bound as p_t → 1 (the loss then tends
    to 0, ``α_t`` (1 without ``alpha``) or ``inf`` for γ > −1, γ = −1, γ < −1, and is 0 at
    p_t = 1 exactly); an ``alpha``
    outside [0, 1] gives a negative weight to one class (negative losses).

    Examples:
      >>> import jax.numpy as jnp
      >>> import jaxloss
      >>> p = jnp.array([0.9, 0.2, 0.6])
      >>> t = jnp.array([1.0, 0.0, 1.0])
      >>> print(f"{float(jaxloss.binary_focal_loss(p, t)):.4f}")
      0.0306
      >>> print(f"{float(jaxloss.binary_focal_loss(p, t, gamma=0.0)):.4f}")  # = BCE
      0.2798

    References:
      Lin et al., `Focal Loss for Dense Object Detection <https://arxiv.org/abs/1708.02002>`_,
      2017; Keras ``binary_focal_crossentropy``; Flux ``binary_focal_loss``.

    Notes:
      * Keras' formula (the focal factor times the soft-target BCE). Flux computes
        ``−(1 − p_t)^γ log p_t``, which agrees for hard targets; Flux adds ``eps`` to ``p`` and
        Keras clips ``p`` to ``[1e-7, 1 − 1e-7]``, where this function clamps each log at -100.
      * Finite at ``p = 0`` and ``p = 1`` (values and gradients, any ``gamma ≥ 0``; 0⁰ = 1).
      * Unchecked input: ``p`` outside ``[0, 1]`` is not meaningful (clamped logs keep the value
        finite); a traced ``gamma < 0``: see *Raises*.
      * Unchecked input: outside ``[0, 1]`` the value is the formula's with clamped logs and
        targets used as given; a NaN in either input gives NaN for that element. ``checked``
        reports them.
    """
    name = "binary_focal_loss"
    val.check_ranges(name, gamma=gamma, alpha=alpha)
    p, t, dtype = _inputs(name, "probabilities", probabilities, targets)
    bce = _bce_with_probabilities(p, t)
    # 1 − p_t = t·(1 − p) + (1 − t)·p, a sum of non-negative terms
    q = t * (1 - p) + (1 - t) * p
    loss = _modulating_factor(name, q, gamma, dtype) * bce
    if alpha is not None:
        loss = _alpha_t(name, alpha, t, dtype) * loss
    return apply_reduction(name, loss, weights, where, reduction)


# ---------------------------------------------------------------------------------------------
# Margin losses, targets in {−1, +1}
# ---------------------------------------------------------------------------------------------


def _hinge(name: str, scores: ArrayLike, targets: ArrayLike, margin: ArrayLike) -> jax.Array:
    if name in val.RANGES:  # perceptron_loss has no margin hyperparameter (fixed at 0)
        val.check_ranges(name, margin=margin)
    s, y, dtype = _inputs(name, "scores", scores, targets)
    m = _hyper(name, "margin", margin, dtype, s.shape)
    return jnp.maximum(m - y * s, jnp.zeros_like(s))


@val.declare_ranges(margin=val.NONNEGATIVE)
def hinge_loss(
    scores: ArrayLike,
    targets: ArrayLike,
    *,
    margin: ArrayLike = 1.0,
    weights: ArrayLike | None = None,
    where: ArrayLike | None = None,
    reduction: str = "mean",
) -> jax.Array:
    r"""Hinge loss for binary classification with targets in ``{−1, +1}``.

    .. math::
       \ell = \max(0,\ \mathrm{margin} - t\,s)

    where ``s`` is ``scores`` and ``t`` is ``targets``.

    Args:
      scores: real-valued decision-function outputs, any shape.
      targets: labels in ``{−1, +1}``, same shape as ``scores``.
      margin: margin ``≥ 0`` (default 1). May be traced, a scalar or broadcastable.
      weights: per-element weights broadcastable to the loss shape; multiply ``ℓ``.
      where: boolean mask broadcastable to the loss shape; ``False`` ignores the element.
      reduction: ``"mean"`` (``Σ w·ℓ / Σ w`` over valid elements), ``"sum"`` or ``"none"``.

    Returns:
      A scalar, or for ``reduction="none"`` an array of ``scores``' shape, in the computation
      dtype (float32 for half-precision inputs).

    Raises:
      ValueError: a concrete ``margin`` < 0 (or a hyperparameter that does not broadcast to the loss
        shape).
      TypeError: complex or non-numeric inputs or hyperparameters (Python lists are converted).

    Traced hyperparameters are range-checked by ``jaxloss.checked`` only. A traced ``margin`` < 0 is
    evaluated as written (a loss ≥ 0 that vanishes inside the negative margin).

    Examples:
      >>> import jax.numpy as jnp
      >>> import jaxloss
      >>> s = jnp.array([0.3, -2.0, 1.5])
      >>> t = jnp.array([1.0, -1.0, -1.0])
      >>> print(f"{float(jaxloss.hinge_loss(s, t)):.4f}")
      1.0667
      >>> print(f"{float(jaxloss.get('hinge')(s, jnp.array([1, 0, 0]))):.4f}")  # Keras: 0/1 → ∓1
      1.0667

    References:
      optax ``hinge_loss``; Keras ``keras.losses.hinge``.

    Notes:
      * At the kink ``t·s = margin`` the gradient is the average of the one-sided derivatives
        (``−t/2``, as ``jnp.maximum`` and optax give).
      * The Keras alias ``hinge`` converts ``{0, 1}`` targets to ``{−1, +1}`` when *every* target
        is 0 or 1 (a global check, as Keras does; under ``jax.vmap`` it is per mapped slice);
        ``hinge_loss`` itself never converts.
      * Unchecked input: a target of 0 gives ``ℓ = margin`` with zero gradient; other values are
        used as given. ``checked`` reports targets outside ``{−1, +1}``.
      * A NaN score or target gives NaN for that element; a score of ``±inf`` gives the formula's
        limit (0 or ``+inf``). ``checked`` reports them.
    """
    name = "hinge_loss"
    return apply_reduction(name, _hinge(name, scores, targets, margin), weights, where, reduction)


def perceptron_loss(
    scores: ArrayLike,
    targets: ArrayLike,
    *,
    weights: ArrayLike | None = None,
    where: ArrayLike | None = None,
    reduction: str = "mean",
) -> jax.Array:
    r"""Perceptron loss for binary classification with targets in ``{−1, +1}``.

    .. math::
       \ell = \max(0,\ -t\,s)

    where ``s`` is ``scores`` and ``t`` is ``targets``: :func:`hinge_loss` with ``margin=0``
    (zero once the sign is right, however small the score).

    Args:
      scores: real-valued decision-function outputs, any shape.
      targets: labels in ``{−1, +1}``, same shape as ``scores``.
      weights: per-element weights broadcastable to the loss shape; multiply ``ℓ``.
      where: boolean mask broadcastable to the loss shape; ``False`` ignores the element.
      reduction: ``"mean"`` (``Σ w·ℓ / Σ w`` over valid elements), ``"sum"`` or ``"none"``.

    Returns:
      A scalar, or for ``reduction="none"`` an array of ``scores``' shape, in the computation
      dtype (float32 for half-precision inputs).

    Examples:
      >>> import jax.numpy as jnp
      >>> import jaxloss
      >>> s = jnp.array([0.3, -2.0, 1.5])
      >>> t = jnp.array([1.0, -1.0, -1.0])
      >>> print(jaxloss.perceptron_loss(s, t, reduction="none"))
      [0.  0.  1.5]

    References:
      Rosenblatt, *The perceptron*, 1958; optax ``perceptron_loss``.

    Notes:
      At the kink ``t·s = 0`` the gradient is ``−t/2`` (as :func:`hinge_loss`). Unchecked input:
      targets outside ``{−1, +1}`` are used as given; ``checked`` reports them.
    """
    name = "perceptron_loss"
    return apply_reduction(name, _hinge(name, scores, targets, 0.0), weights, where, reduction)


@val.declare_ranges(margin=val.NONNEGATIVE)
def squared_hinge_loss(
    scores: ArrayLike,
    targets: ArrayLike,
    *,
    margin: ArrayLike = 1.0,
    weights: ArrayLike | None = None,
    where: ArrayLike | None = None,
    reduction: str = "mean",
) -> jax.Array:
    r"""Squared hinge loss for binary classification with targets in ``{−1, +1}``.

    .. math::
       \ell = \max(0,\ \mathrm{margin} - t\,s)^2

    where ``s`` is ``scores`` and ``t`` is ``targets``.

    Args:
      scores: real-valued decision-function outputs, any shape.
      targets: labels in ``{−1, +1}``, same shape as ``scores``.
      margin: margin ``≥ 0`` (default 1). May be traced, a scalar or broadcastable.
      weights: per-element weights broadcastable to the loss shape; multiply ``ℓ``.
      where: boolean mask broadcastable to the loss shape; ``False`` ignores the element.
      reduction: ``"mean"`` (``Σ w·ℓ / Σ w`` over valid elements), ``"sum"`` or ``"none"``.

    Returns:
      A scalar, or for ``reduction="none"`` an array of ``scores``' shape, in the computation
      dtype (float32 for half-precision inputs).

    Raises:
      ValueError: a concrete ``margin`` < 0 (or a hyperparameter that does not broadcast to the loss
        shape).
      TypeError: complex or non-numeric inputs or hyperparameters (Python lists are converted).

    Traced hyperparameters are range-checked by ``jaxloss.checked`` only. A traced ``margin`` < 0 is
    evaluated as written (a loss ≥ 0 that vanishes inside the negative margin).

    Examples:
      >>> import jax.numpy as jnp
      >>> import jaxloss
      >>> s = jnp.array([0.3, -2.0, 1.5])
      >>> t = jnp.array([1.0, -1.0, -1.0])
      >>> print(f"{float(jaxloss.squared_hinge_loss(s, t)):.4f}")
      2.2467

    References:
      Keras ``keras.losses.squared_hinge``.

    Notes:
      * Differentiable everywhere (the gradient ``−2·t·max(0, margin − t·s)`` is continuous).
      * The Keras alias ``squared_hinge`` converts ``{0, 1}`` targets to ``{−1, +1}`` when every
        target is 0 or 1, as Keras does; ``squared_hinge_loss`` itself never converts.
      * Unchecked input: a target of 0 gives ``ℓ = margin²``; ``checked`` reports it.
      * A NaN score or target gives NaN for that element; ``±inf`` scores give 0 or ``+inf``.
    """
    name = "squared_hinge_loss"
    return apply_reduction(
        name, jnp.square(_hinge(name, scores, targets, margin)), weights, where, reduction
    )


def soft_margin_loss(
    scores: ArrayLike,
    targets: ArrayLike,
    *,
    weights: ArrayLike | None = None,
    where: ArrayLike | None = None,
    reduction: str = "mean",
) -> jax.Array:
    r"""Soft-margin (logistic) loss with targets in ``{−1, +1}`` (PyTorch ``SoftMarginLoss``).

    .. math::
       \ell = \log\bigl(1 + e^{-t\,s}\bigr) = \mathrm{softplus}(-t\,s)

    where ``s`` is ``scores`` and ``t`` is ``targets``.

    Args:
      scores: real-valued scores, any shape; ``±inf`` allowed.
      targets: labels in ``{−1, +1}``, same shape as ``scores``.
      weights: per-element weights broadcastable to the loss shape; multiply ``ℓ``.
      where: boolean mask broadcastable to the loss shape; ``False`` ignores the element.
      reduction: ``"mean"`` (``Σ w·ℓ / Σ w`` over valid elements, PyTorch's mean over all
        elements when unweighted), ``"sum"`` or ``"none"``.

    Returns:
      A scalar, or for ``reduction="none"`` an array of ``scores``' shape, in the computation
      dtype (float32 for half-precision inputs).

    Examples:
      >>> import jax.numpy as jnp
      >>> import jaxloss
      >>> s = jnp.array([0.3, -2.0, 1.5])
      >>> t = jnp.array([1.0, -1.0, -1.0])
      >>> print(f"{float(jaxloss.soft_margin_loss(s, t)):.4f}")
      0.7942

    References:
      PyTorch ``torch.nn.SoftMarginLoss``.

    Notes:
      * Overflow-free through ``softplus``: exact for any score including ``±inf`` (0 for a right
        infinite score, ``inf`` for a wrong one), gradient ``−t·σ(−t·s)`` finite everywhere.
      * It equals :func:`sigmoid_binary_cross_entropy` with targets ``(t + 1)/2``.
      * Unchecked input: a target of 0 gives ``log 2`` (and ``NaN`` with an infinite score);
        ``checked`` reports targets outside ``{−1, +1}``.
      * A NaN score or target gives NaN for that element.
    """
    name = "soft_margin_loss"
    s, y, _ = _inputs(name, "scores", scores, targets)
    # log(1 + exp(−y·s)) = softplus(−y·s), exact for any s
    return apply_reduction(name, softplus(-(y * s)), weights, where, reduction)


@val.declare_ranges(class_weights=val.REAL)
def multilabel_soft_margin_loss(
    logits: ArrayLike,
    targets: ArrayLike,
    *,
    class_weights: ArrayLike | None = None,
    axis: int = -1,
    weights: ArrayLike | None = None,
    where: ArrayLike | None = None,
    reduction: str = "mean",
) -> jax.Array:
    r"""Multi-label one-vs-all loss (PyTorch ``MultiLabelSoftMarginLoss``).

    .. math::
       \ell = -\frac{1}{C}\sum_{c=1}^{C} \mathrm{class\_weights}_c
              \bigl[t_c \log\sigma(x_c) + (1 - t_c)\log(1 - \sigma(x_c))\bigr]

    over the ``C`` classes along ``axis``, where ``x`` is ``logits`` and ``t`` is ``targets``. The
    divisor is ``C`` whatever the class weights (PyTorch).

    Args:
      logits: real-valued scores, shape ``[..., C, ...]`` with the classes along ``axis``;
        ``±inf`` allowed.
      targets: multi-hot targets in ``[0, 1]`` (1 = the label applies), same shape.
      class_weights: optional ``[C]`` weights; ``class_weights[c]`` multiplies class ``c``'s term.
        May be traced.
      axis: the class axis (default -1); it is reduced, so ``"none"`` drops it.
      weights: per-example weights broadcastable to the per-example loss shape (``logits`` shape
        without ``axis``).
      where: boolean mask of the per-example loss shape; ``False`` ignores the example.
      reduction: ``"mean"`` (over examples, ``Σ w·ℓ / Σ w``), ``"sum"`` or ``"none"``.

    Returns:
      A scalar, or for ``reduction="none"`` one value per example (``logits``' shape without
      ``axis``), in the computation dtype (float32 for half-precision inputs).

    Raises:
      ValueError: a concrete a NaN in ``class_weights`` (or a hyperparameter that does not broadcast
        to the loss shape).
      TypeError: complex or non-numeric inputs or hyperparameters (Python lists are converted).

    Traced hyperparameters are range-checked by ``jaxloss.checked`` only. A traced NaN in
    ``class_weights`` gives NaN.

    Examples:
      >>> import jax.numpy as jnp
      >>> import jaxloss
      >>> x = jnp.array([[2.0, -1.0, 0.5], [0.0, 1.0, -3.0]])
      >>> t = jnp.array([[1.0, 0.0, 1.0], [0.0, 1.0, 0.0]])
      >>> print(jaxloss.multilabel_soft_margin_loss(x, t, reduction="none").round(4))
      [0.3048 0.3517]

    References:
      PyTorch ``torch.nn.MultiLabelSoftMarginLoss``.

    Notes:
      * Each term is :func:`sigmoid_binary_cross_entropy`'s, exact for ``±inf`` logits; a class
        weight of 0 on an infinite term contributes 0.
      * Unchecked input: targets outside ``[0, 1]`` are used as given.
      * A NaN in either input gives NaN for its row (``±inf`` logits are valid); ``checked``
        reports NaN and targets outside ``[0, 1]``.
    """
    name = "multilabel_soft_margin_loss"
    val.check_ranges(name, class_weights=class_weights)
    x, t, dtype = _inputs(name, "logits", logits, targets)
    if x.ndim == 0:
        raise ValueError(f"{name}: 'logits' must have rank >= 1 (a class axis), got shape ()")
    ax = val.check_axis(name, axis, x.ndim)
    val.check_nonempty_axis(name, "logits", x.shape, ax, "classes")
    terms = _bce_with_logits(x, t)
    if class_weights is not None:
        val.check_class_weights(name, class_weights, x.shape[ax])
        shape = [1] * x.ndim
        shape[ax] = x.shape[ax]
        cw = jnp.broadcast_to(as_hyper(class_weights, dtype).reshape(shape), x.shape)
        terms = _mul0(cw, terms)
    # PyTorch divides by C, not by Σ class_weights
    return apply_reduction(name, jnp.mean(terms, axis=ax), weights, where, reduction)


# ---------------------------------------------------------------------------------------------
# Aliases
# ---------------------------------------------------------------------------------------------


def _keras_hinge_targets(scores: ArrayLike, targets: ArrayLike, name: str = "hinge") -> jax.Array:
    """Keras' ``convert_binary_labels_to_hinge``: 2t − 1 if every target is 0 or 1, else t."""
    scores = val.as_real_array(name, "scores", scores)
    t = val.as_real_array(name, "targets", targets).astype(compute_dtype(scores))
    is_binary = jnp.all((t == 0) | (t == 1))
    return jnp.where(is_binary, 2 * t - 1, t)


def _keras_hinge_alias(fn, name: str):
    @functools.wraps(fn)
    def aliased(scores, targets, **kwargs):
        return fn(scores, _keras_hinge_targets(scores, targets, name), **kwargs)

    aliased.__name__ = aliased.__qualname__ = name
    aliased.__doc__ = (
        f"Keras' ``{name}``: :func:`jaxloss.{fn.__name__}` after converting ``{{0, 1}}`` "
        "targets to ``{-1, +1}`` when every target is 0 or 1 "
        "(Keras ``convert_binary_labels_to_hinge``)."
    )
    aliased.canonical = fn
    aliased.bound_options = {}
    return aliased


# Losses of this family, canonical names (the registry lists these).
LOSSES = (
    binary_cross_entropy,
    sigmoid_binary_cross_entropy,
    sigmoid_focal_loss,
    binary_focal_loss,
    hinge_loss,
    squared_hinge_loss,
    soft_margin_loss,
    multilabel_soft_margin_loss,
    perceptron_loss,
)

# Every name `jaxloss.get` resolves for this family (case-insensitive), canonical names included.
ALIASES = {
    **{fn.__name__: fn for fn in LOSSES},
    "BCELoss": binary_cross_entropy,
    "binary_crossentropy": binary_cross_entropy,
    "binarycrossentropy": binary_cross_entropy,
    "binary_cross_entropy_with_logits": sigmoid_binary_cross_entropy,
    "BCEWithLogitsLoss": sigmoid_binary_cross_entropy,
    "logitbinarycrossentropy": sigmoid_binary_cross_entropy,
    # TF-Addons' name; stays on logits (API.md §2), see sigmoid_focal_loss's notes
    "sigmoid_focal_crossentropy": sigmoid_focal_loss,
    # Keras: probabilities in, apply_class_balancing=False, gamma=2
    "binary_focal_crossentropy": bind(
        binary_focal_loss, "binary_focal_crossentropy", alpha=None, gamma=2.0
    ),
    # Keras: {0, 1} targets are converted to {-1, +1}
    "hinge": _keras_hinge_alias(hinge_loss, "hinge"),
    "squared_hinge": _keras_hinge_alias(squared_hinge_loss, "squared_hinge"),
    "SoftMarginLoss": soft_margin_loss,
    "MultiLabelSoftMarginLoss": multilabel_soft_margin_loss,
}
