"""Stable numerical cores shared by every loss family.

Everything here is written so that no NaN is ever *created* and then masked away: masked entries
are replaced before ``exp`` / ``log`` / ``sqrt`` (the "double where"), so values, gradients, JVPs
and Hessians stay finite on valid input, including ``-inf`` logits on masked classes and ``±inf``
logits in the binary losses.

Dtype policy (API.md §1): float16 / bfloat16 are computed in float32 and the loss is returned in
float32; float32 and float64 are kept. Gradients flow back through ``astype`` and therefore arrive
in the input's dtype.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax import lax
from jax.typing import ArrayLike

__all__ = [
    "nan_where",
    "compute_dtype",
    "as_compute",
    "as_hyper",
    "shifted_logsumexp",
    "logsumexp",
    "log_softmax",
    "log_softmax_given_lse",
    "softmax",
    "divide_logits",
    "log_sigmoid",
    "softplus",
    "xlogy",
    "xlog1py",
    "max_abs_scale",
    "scaled_sq_norm",
    "safe_norm",
    "safe_normalize",
    "class_sum_scale",
    "clamped_log",
    "canonical_axis",
    "sparse_ce_row",
    "sparse_ce_grad_coefs",
    "sparse_ce_grad",
]


def compute_dtype(x: ArrayLike) -> jnp.dtype:
    """The dtype a loss computes in for input ``x``: float32 or float64 (never a half type).

    Integer and boolean inputs compute in float32; float64 stays float64 (with ``jax_enable_x64``).
    """
    dtype = jnp.result_type(x)
    if jnp.issubdtype(dtype, jnp.floating) and jnp.finfo(dtype).bits >= 32:
        return jnp.dtype(dtype)
    return jnp.dtype(jnp.float32)


def as_compute(x: ArrayLike, dtype=None) -> jax.Array:
    """``x`` cast to ``dtype`` (default: :func:`compute_dtype` of ``x``)."""
    x = jnp.asarray(x)
    dtype = compute_dtype(x) if dtype is None else dtype
    return x.astype(dtype)


def as_hyper(value: ArrayLike, dtype) -> jax.Array:
    """A (possibly traced) hyperparameter as an array of the computation dtype.

    Casting explicitly keeps ``jax_numpy_dtype_promotion="strict"`` happy when a float32
    hyperparameter meets float64 inputs, and keeps ``jax.vmap`` over hyperparameters working.
    """
    return jnp.asarray(value).astype(dtype)


def canonical_axis(axis: int, ndim: int) -> int:
    """``axis`` as a non-negative int.

    Raises ``ValueError`` if out of range (the caller adds context).
    """
    if not -ndim <= axis < ndim:
        raise ValueError(f"axis {axis} is out of range for an input of rank {ndim}")
    return axis % ndim


def shifted_logsumexp(x: jax.Array, axis: int = -1) -> tuple[jax.Array, jax.Array]:
    """``(m, s)`` with log Σ exp(x) = m + s along ``axis`` (both with ``keepdims``).

    m = max(x) (0 on a row without a finite entry; a constant for AD), s = log Σ exp(x − m) in
    [0, log n] (``-inf`` on a row without mass). Sums taken relative to the max (label smoothing,
    entropy) use ``s`` directly and stay exact for huge logits. The one log-sum-exp core of the
    library: :func:`logsumexp` here and the fused engine's blocks (``_engine.block_lse``).
    """
    # logsumexp(x) = m + log Σ exp(x − m), m = max(x), with m := 0 on rows that have no finite entry
    m = jnp.max(x, axis=axis, keepdims=True)
    m = lax.stop_gradient(jnp.where(jnp.isfinite(m), m, jnp.zeros_like(m)))
    s = jnp.sum(jnp.exp(x - m), axis=axis, keepdims=True)
    # double where: log never sees 0; the predicate is "no mass" (not "s > 0") so that a NaN
    # entry, which makes s NaN, propagates instead of taking the -inf branch
    no_mass = s == 0
    return m, jnp.where(no_mass, -jnp.inf, jnp.log(jnp.where(no_mass, jnp.ones_like(s), s)))


def logsumexp(x: jax.Array, axis: int = -1, keepdims: bool = False) -> jax.Array:
    """log Σ exp(x) along ``axis``; ``-inf`` entries are fine; an all-``-inf`` row gives ``-inf``.

    Gradients are finite everywhere, including on all-``-inf`` rows (where they are 0).
    """
    m, s = shifted_logsumexp(x, axis=axis)
    out = m + s
    return out if keepdims else jnp.squeeze(out, axis=axis)


def log_softmax(x: jax.Array, axis: int = -1) -> jax.Array:
    """x − logsumexp(x); ``-inf`` logits give ``-inf`` (never NaN), with finite derivatives."""
    return log_softmax_given_lse(x, logsumexp(x, axis=axis, keepdims=True))


def log_softmax_given_lse(x: jax.Array, lse: jax.Array) -> jax.Array:
    """:func:`log_softmax` from a known ``lse = logsumexp(x)`` (``keepdims``), e.g. a residual."""
    # masked means x = −inf exactly: a NaN logit is not masked, it propagates
    masked = x == -jnp.inf
    # log softmax(x)_j = x_j − logsumexp(x); masked (−inf) entries stay −inf
    # instead of −inf − (−inf)
    return jnp.where(
        masked, -jnp.inf, jnp.where(masked, jnp.zeros_like(x), x) - jnp.where(masked, 0, lse)
    )


def divide_logits(x: jax.Array, tau: jax.Array) -> jax.Array:
    """x / τ with masked (``-inf``) logits kept ``-inf`` and out of the derivative w.r.t. τ.

    ``-inf / τ`` is ``-inf`` too, but its derivative w.r.t. τ (``inf/τ²``) times the zero
    cotangent of a masked class is NaN; the double where keeps d/dτ finite.
    """
    masked = x == -jnp.inf
    return jnp.where(masked, -jnp.inf, jnp.where(masked, jnp.zeros_like(x), x) / tau)


def softmax(x: jax.Array, axis: int = -1) -> jax.Array:
    """exp(log_softmax(x)); exactly 0 on ``-inf`` logits and on all-``-inf`` rows."""
    return jnp.exp(log_softmax(x, axis=axis))


def softplus(x: jax.Array) -> jax.Array:
    """log(1 + exp(x)), exact for any x including ±inf (softplus(−inf) = 0, softplus(inf) = inf)."""
    # softplus(x) = max(x, 0) + log1p(exp(−|x|)); the gradient is σ(x), exact at ±inf
    return jax.nn.softplus(x)


def log_sigmoid(x: jax.Array) -> jax.Array:
    """log σ(x), exact for any x including ±inf."""
    # log σ(x) = −softplus(−x)
    return -softplus(-x)


def xlogy(x: jax.Array, y: jax.Array) -> jax.Array:
    """x·log(y) with 0·log(0) = 0 (and finite derivatives there)."""
    return jax.scipy.special.xlogy(x, y)


def xlog1py(x: jax.Array, y: jax.Array) -> jax.Array:
    """x·log(1 + y) with 0·log(0) = 0."""
    return jax.scipy.special.xlog1py(x, y)


def clamped_log(p: jax.Array, floor: float = -100.0) -> jax.Array:
    """max(log p, floor): the PyTorch convention that keeps probability losses finite at p = 0.

    The gradient is 0 where the clamp is active (as in PyTorch), never inf or NaN.
    """
    tiny = jnp.finfo(p.dtype).tiny
    # double where: log never sees 0 (whose gradient would be inf · 0 = NaN); the predicate is
    # "p ≤ tiny" so that a NaN p propagates (log NaN = NaN, and max keeps NaN) instead of -> floor
    small = p <= tiny
    return jnp.where(
        small, floor, jnp.maximum(jnp.log(jnp.where(small, jnp.ones_like(p), p)), floor)
    )


def max_abs_scale(x: jax.Array, axis=-1, keepdims: bool = True) -> jax.Array:
    """A constant (for AD) scale ``s`` with ``x / s`` in ``[-1, 1]``: ``max |x|`` along ``axis``.

    It is 1 where ``max |x|`` is 0 (a zero vector) or not finite (``±inf`` / NaN entries then
    propagate through ``x / 1`` exactly as without scaling). Dividing by ``s`` before squaring or
    raising to a power keeps ``Σ (x/s)²`` in ``[1, n]``: no overflow for ``|x|`` up to the largest
    float and no underflow for tiny ones. ``s`` is a ``stop_gradient`` constant: ``s·f(x/s)`` is the
    same function of ``x`` for any fixed ``s`` when ``f`` is homogeneous, so every derivative is
    exact.
    """
    s = lax.stop_gradient(jnp.max(jnp.abs(x), axis=axis, keepdims=keepdims, initial=0))
    usable = jnp.logical_and(s > 0, s < jnp.inf)
    # at most 1/tiny (2**126 in float32): XLA divides as x·(1/s), and a subnormal 1/s would be
    # flushed to 0 on CPU (s ≳ 8.5e37 in float32); x/s is then at most 4, its square still finite
    cap = jnp.asarray(1.0 / jnp.finfo(s.dtype).tiny, s.dtype)
    return jnp.where(usable, jnp.minimum(s, cap), jnp.ones_like(s))


def scaled_sq_norm(
    x: jax.Array, axis: int | tuple[int, ...] | None = -1, keepdims: bool = False
) -> tuple[jax.Array, jax.Array]:
    """``(s, q)`` with ``‖x‖₂² = s²·q`` along ``axis``, overflow- and underflow-free.

    ``s`` = :func:`max_abs_scale` (a constant for AD) and ``q = Σ (x/s)²`` (in ``[1, n]`` for a
    non-zero finite ``x``, 0 for a zero vector). ``‖x‖ = s·sqrt(q)`` is exact where ``Σ x²``
    overflows (``|x| ≳ 1.8e19`` in float32) or underflows (``|x| ≲ 1e-19``).
    """
    s = max_abs_scale(x, axis=axis, keepdims=True)
    xs = x / s
    q = jnp.sum(xs * xs, axis=axis, keepdims=keepdims)
    return (s if keepdims else jnp.squeeze(s, axis=axis)), q


def safe_norm(
    x: jax.Array,
    axis: int | tuple[int, ...] | None = -1,
    keepdims: bool = False,
    min_norm: ArrayLike = 0.0,
) -> jax.Array:
    """max(‖x‖₂, min_norm) along ``axis`` with a finite (zero) gradient at x = 0.

    Computed as ``s·sqrt(Σ (x/s)²)`` (:func:`scaled_sq_norm`), so the norm is exact for any
    finite ``x`` (``Σ x²`` would overflow to ``inf`` from ``|x| ≈ 1.8e19`` in float32).
    """
    s, q = scaled_sq_norm(x, axis=axis, keepdims=keepdims)
    min_norm = jnp.asarray(min_norm).astype(q.dtype)
    # double where: sqrt never sees 0, whose derivative is inf; q ≥ 1 unless x = 0. "small" rather
    # than "positive" so that a NaN entry propagates instead of returning min_norm
    zero = q <= 0
    norm = s * jnp.sqrt(jnp.where(zero, jnp.ones_like(q), q))
    small = jnp.logical_or(zero, norm <= min_norm)
    return jnp.where(small, min_norm, norm)


def safe_normalize(x: jax.Array, axis: int = -1, min_norm: ArrayLike = 0.0) -> jax.Array:
    """x / max(‖x‖₂, min_norm) along ``axis``; a zero vector gives 0 (also with ``min_norm = 0``).

    Computed in the scaled domain, ``(x/s) / max(sqrt(q), min_norm/s)`` with ``(s, q)`` of
    :func:`scaled_sq_norm`: every intermediate is O(1), so neither the value nor the gradient
    overflows (``x / ‖x‖`` differentiates through ``‖x‖²``, which is ``inf`` from ``|x| ≈ 1.8e19``
    in float32: the gradient lost its radial term). The gradient of the clamped norm is 0 below
    ``min_norm``.
    """
    s, q = scaled_sq_norm(x, axis=axis, keepdims=True)
    xs = x / s
    min_norm = jnp.asarray(min_norm).astype(q.dtype) / s
    # double where: sqrt never sees 0 (q ≥ 1 unless x = 0); "small" rather than "positive" so that
    # a NaN entry propagates
    zero = q <= 0
    n = jnp.sqrt(jnp.where(zero, jnp.ones_like(q), q))
    small = jnp.logical_or(zero, n <= min_norm)
    den = jnp.where(small, min_norm, n)
    # the division never sees 0: min_norm = 0 and x = 0 give the zero vector
    den_zero = den <= 0
    return jnp.where(
        den_zero, jnp.zeros_like(xs), xs / jnp.where(den_zero, jnp.ones_like(den), den)
    )


def class_sum_scale(num_classes: int, dtype) -> jax.Array:
    """h = 2^−e with 2^e ≥ 2·C (``C`` static): Σ over C classes of h·(x_c − m) cannot overflow.

    Each term of a row's ``Σ_c (x_c − m)`` (m = the row max) lies in ``[−2·max, 0]`` and overflows
    for logits of opposite sign near the float limit; ``h·x_c − h·m`` is exact (a power of two, no
    rounding change away from the subnormal range) and the C scaled terms sum to ``[−max, 0]``.
    Callers fold ``1/h`` into a coefficient (``ε/K · 1/h``), so the product is finite whenever the
    exact value is.
    """
    e = max(1, int(num_classes)).bit_length() + 1
    return jnp.asarray(2.0**-e, dtype)


def nan_where(bad: jax.Array, dtype) -> jax.Array:
    """NaN where ``bad``, exactly 1 elsewhere: the factor of the library's invalid-label rule.

    Multiplying a per-example value by it makes that example's value *and* gradient NaN (the
    cotangent reaching it is NaN) and leaves every other example exactly unchanged (``× 1``).
    inf − inf creates the NaN only where ``bad``, so valid input never produces one (even under
    ``jax_debug_nans``); the factor is a constant for AD.
    """
    inf_or_zero = jnp.where(bad, jnp.asarray(jnp.inf, dtype), jnp.zeros((), dtype))
    return 1 + (inf_or_zero - inf_or_zero)


# ------------------------------------------------------------------------------------------------
# Sparse softmax cross-entropy from per-row statistics (one formula for every CE of the library)
# ------------------------------------------------------------------------------------------------


def sparse_ce_row(ce, lse, *, w_y=None, eps=None, z_loss=None, smooth_h=None, k=None, h=1):
    r"""Per-row sparse softmax cross-entropy from its statistics, and its ``∂/∂ε``, ``∂/∂λ``.

    .. math::
       \ell = w_y\big[(1-\varepsilon)\,\mathrm{ce} + \lambda\,\mathrm{lse}^2\big]
              + \tfrac{\varepsilon}{K}\,S,\qquad
       S = \textstyle\sum_{c\ \mathrm{exists}} w_c\,(\mathrm{lse} - x_c)

    with ``ce = lse − x_y``, ``ε = eps``, ``λ = z_loss``, ``w_y`` the label's class weight (1 if
    ``None``) and ``K`` the number of existing (finite-logit) classes, ``K ≥ 1`` (the caller
    clamps an all-masked row to 1). The smoothing sum is given scaled, ``smooth_h = h·S`` (``h``:
    :func:`class_sum_scale`, or 1), so that ``ε/(K·h)·smooth_h`` is finite whenever ``ε/K·S`` is.
    ``eps`` / ``z_loss`` ``None``: that term is absent (not ``0·∞``). The same statistics feed
    :func:`sparse_ce_grad_coefs`; every cross-entropy of the library (logits level, fused linear,
    vocabulary-parallel) computes its statistics its own way and its loss here.

    Returns ``(loss, ∂ℓ/∂ε, ∂ℓ/∂λ)`` per row: ``−w_y·ce + S/K`` and ``w_y·lse²`` (the last two
    ``None`` where their term is absent); plain ``jnp``, autodiff-safe.
    """
    loss = ce
    if eps is not None:
        loss = (1 - eps) * loss
    if z_loss is not None:
        loss = loss + z_loss * lse * lse
    if w_y is not None:
        loss = w_y * loss
    d_eps = d_z = None
    if eps is not None:
        # ε/(K·h) first: h·S is finite where S itself may overflow (S/K = 4.5e38 for logits
        # ±3.4e38, C = 3), while ε/K·S is the finite loss term
        loss = loss + eps / (k * h) * smooth_h
        d_eps = smooth_h / (k * h) - (ce if w_y is None else w_y * ce)
    if z_loss is not None:
        d_z = lse * lse if w_y is None else w_y * lse * lse
    return loss, d_eps, d_z


def sparse_ce_grad_coefs(lse, *, g=None, w_y=None, eps=None, z_loss=None, w_f=None, k=None):
    r"""Per-row coefficients of the logit gradient of ``g·ℓ`` (:func:`sparse_ce_row`).

    .. math::
       \frac{\partial (g\ell)}{\partial x_c} = p_c\,\mathrm{coef} - \mathrm{hot}\,[c = y]
           - \mathrm{unit}\cdot w_c\,[x_c\ \mathrm{exists}]

    with ``p = softmax(x)``, ``hot = g·w_y(1−ε)``, ``coef = hot + 2λ·g·w_y·lse + ε·g·W_f/K``
    (``W_f = w_f = Σ_{c exists} w_c``; without class weights ``W_f = K`` and the smoothing parts
    fold to ``coef = g(1 + 2λ·lse)``, so a row's gradient sums to 0 exactly as its softmax does)
    and ``unit = ε·g/K``. ``g`` ``None`` reads as 1 (a tangent rule). Returns
    ``(coef, hot, unit)`` (``unit`` ``None`` without smoothing); :func:`sparse_ce_grad` builds
    the block.
    """
    gw = w_y if g is None else (g if w_y is None else g * w_y)
    if w_y is None and w_f is None:
        # unweighted: p·(1−ε) + p·ε·K/K = p exactly
        one = jnp.ones_like(lse) if g is None else g
        coef = one if z_loss is None else one + 2 * z_loss * one * lse
        hot = one if eps is None else (1 - eps) * one
        unit = None if eps is None else eps / k * one
        return coef, hot, unit
    hot = gw if eps is None else (1 - eps) * gw
    coef = hot
    if z_loss is not None:
        coef = coef + 2 * z_loss * gw * lse
    unit = None
    if eps is not None:
        unit = eps / k if g is None else eps / k * g
        coef = coef + unit * w_f
    return coef, hot, unit


def sparse_ce_grad(p, coef, hot, unit, is_label, exists, class_weights=None):
    """The logit-gradient block of :func:`sparse_ce_grad_coefs`: ``p·coef − hot·[label] −
    unit·w·[exists]`` (``coef``, ``hot``, ``unit`` per row; ``is_label`` / ``exists`` boolean
    blocks, the one-hot an iota comparison fused into the pass, never an array)."""
    zero = jnp.zeros((), p.dtype)
    dz = p * coef[..., None] - jnp.where(is_label, hot[..., None], zero)
    if unit is not None:
        per_class = unit[..., None]
        if class_weights is not None:
            per_class = per_class * class_weights
        dz = dz - jnp.where(exists, per_class, zero)
    return dz
