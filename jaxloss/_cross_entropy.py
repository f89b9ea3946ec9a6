"""Cross-entropy family: softmax / probability / log-probability inputs over a class axis.

Every softmax cross-entropy here (dense and sparse) is built on one private per-row core,
:func:`_ce_rows`, which reads the logits for the row maximum and then once more for the
shifted sum-of-exponentials together with everything else the loss needs (the target logit, the
smoothing sums, the target mass).

Derivatives: the core is a ``jax.custom_jvp`` (:func:`_ce_fast`) whose rule gives the tangent
with respect to the logits in closed form, ``Σ_c g_c ẋ_c`` with ``g = softmax · coef − hot``.
Reverse mode is that rule's transpose: the forward keeps only per-row statistics (max and
``log Σ exp``), and the gradient is written in one fused pass over the logits together with the
one-hot (an iota compare, never an array), smoothing and class-weight terms. The softmax in that
pass is ``exp(x − m − log s)`` recomputed from the logits, except for the sparse loss without
smoothing, where the forward's ``exp(x − m)`` is reused (XLA writes it into the gradient's own
buffer, which is then rewritten in place: faster on CPU, see ``_GRAD_FROM_E``). Forward mode
(``jvp``, ``jacfwd``) and second order (``hessian``) differentiate the rule itself, which is plain
``jnp``, so they work on every public function; no reverse-only path or fallback is needed: under
``jit(value_and_grad)`` the transpose compiles (``compiled.as_text()``) to the three passes a
``custom_vjp`` would do at best (row max, exp-sum, gradient) with no ``[N, C]`` temporary in the
sparse path. Tangents of targets, class weights, ε and z go through plain autodiff of the
reference core :func:`_ce_rows_ref`.

Shared conventions (API.md §1):

* the class axis is ``axis`` (any axis); it is moved last internally and dropped from the
  unreduced (``"none"``) output; ``"mean"`` is over all remaining positions;
* float16 / bfloat16 inputs compute in float32 and the loss is float32; float64 stays float64;
* ``-inf`` logits mark classes that do not exist for that row (masked vocabulary);
* integer labels have the logits' shape without the class axis. Labels outside ``[0, C)`` that
  are not ``ignore_index`` are invalid and not checked at run time: such an example's loss is
  ``nan`` (and so is any reduction that includes it). Use :func:`jaxloss.checked` to report them.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax
from jax.custom_derivatives import SymbolicZero
from jax.typing import ArrayLike

from . import _numerics as num
from . import _validation as val
from ._alias import bind
from ._numerics import as_hyper, clamped_log, class_sum_scale, compute_dtype, nan_where
from ._reduction import apply_reduction

# ----------------------------------------------------------------------------------------------
# Private helpers
# ----------------------------------------------------------------------------------------------


def _is_zero(value) -> bool:
    """True when ``value`` is known at trace time to be exactly 0 (so its term can be skipped)."""
    v = val.concrete_or_none(value)
    return v is not None and v.size > 0 and bool(np.all(v == 0))


def _class_last(name: str, arg: str, x: ArrayLike, axis: int) -> tuple[jax.Array, int]:
    """``x`` in its computation dtype with the class axis moved last, and the canonical axis."""
    x = val.as_float_array(name, arg, x)
    val.check_rank(name, arg, x, 1)
    ax = val.check_axis(name, axis, x.ndim)
    val.check_nonempty_axis(name, arg, x.shape, ax, "classes")
    x = x.astype(compute_dtype(x))
    return jnp.moveaxis(x, ax, -1), ax


def _check_labels(
    name: str, labels: ArrayLike, pred_arg: str, pred_shape: tuple[int, ...], ax: int
) -> jax.Array:
    labels = val.as_integer_array(name, "labels", labels)
    expected = tuple(pred_shape[:ax]) + tuple(pred_shape[ax + 1 :])
    if labels.shape != expected:
        raise ValueError(
            f"{name}: 'labels' must have the shape of '{pred_arg}' without the class axis "
            f"(axis={ax}), i.e. {expected}, got {labels.shape}"
        )
    return labels


def _check_ignore_index(name: str, ignore_index) -> None:
    if ignore_index is not None and (
        isinstance(ignore_index, bool) or not isinstance(ignore_index, (int, np.integer))
    ):
        raise TypeError(f"{name}: 'ignore_index' must be an int or None, got {ignore_index!r}")


def _label_masks(labels: jax.Array, num_classes: int, ignore_index):
    """(valid, in_range): valid = not ignored; in_range = 0 <= label < C."""
    in_range = (labels >= 0) & (labels < num_classes)
    if ignore_index is None:
        valid = jnp.ones(labels.shape, bool)
    else:
        valid = labels != ignore_index
    return valid, in_range


def _take_label(values: jax.Array, labels: jax.Array) -> jax.Array:
    """``values[..., label]`` along the last axis; an out-of-range label reads class 0 instead.

    (The callers turn out-of-range examples into ``nan``.) A gather, whose gradient is a sparse
    scatter: on CPU this is markedly faster under ``grad`` than a compare-and-sum over classes.
    """
    num_classes = values.shape[-1]
    safe = jnp.where((labels >= 0) & (labels < num_classes), labels, 0).astype(jnp.int32)
    if all(d == 1 for d in values.shape[:-1]):  # a per-class vector, e.g. class weights
        return jnp.take(values.reshape(num_classes), safe, mode="clip")
    return jnp.take_along_axis(values, safe[..., None], axis=-1, mode="promise_in_bounds")[..., 0]


def _class_weight_row(name: str, class_weights, num_classes: int, ndim: int, dtype):
    """Class weights as an array of shape ``(1, ..., 1, C)`` (rank ``ndim``), or None."""
    if class_weights is None:
        return None
    val.check_ranges(name, class_weights=class_weights)
    val.check_class_weights(name, class_weights, num_classes)
    return as_hyper(class_weights, dtype).reshape((1,) * (ndim - 1) + (num_classes,))


def _hyper(name: str, arg: str, value, dtype) -> jax.Array | None:
    """A hyperparameter as a computation-dtype array, or None when it is a concrete 0."""
    val.check_ranges(name, **{arg: value})
    if _is_zero(value):
        return None
    v = as_hyper(value, dtype)
    if v.ndim != 0:
        raise ValueError(f"{name}: '{arg}' must be a scalar, got shape {v.shape}")
    return v


def _normalizer_with_weights(name, base, weights, shape, dtype):
    """Per-example denominator terms ``base · weights`` for :func:`apply_reduction`."""
    if weights is None:
        return base
    weights = val.check_weights(name, weights, shape)
    return base * jnp.broadcast_to(weights.astype(dtype), shape)


def _softcap(x: jax.Array, cap: jax.Array) -> jax.Array:
    """cap·tanh(x / cap); ``-inf`` stays ``-inf`` so masked classes stay masked."""
    masked = x == -jnp.inf
    # double where: tanh never sees -inf, whose derivative would be 0 · inf in the hessian
    capped = cap * jnp.tanh(jnp.where(masked, jnp.zeros_like(x), x) / cap)
    return jnp.where(masked, x, capped)


def _ce_rows_ref(
    x: jax.Array,
    *,
    labels: jax.Array | None = None,
    targets: jax.Array | None = None,
    class_weights: jax.Array | None = None,
    label_smoothing: jax.Array | None = None,
    z_loss: jax.Array | None = None,
    active: jax.Array | None = None,
    stats: bool = False,
) -> tuple[jax.Array, jax.Array | None]:
    r"""Per-row softmax cross-entropy over the last axis, plain autodiff (the reference core).

    Args:
      x: logits ``[..., C]`` in the computation dtype; ``-inf`` = class absent from the row.
      labels: integer class ids ``[...]`` (sparse mode); an out-of-range label reads class 0.
      targets: target distributions ``[..., C]`` (dense mode); exactly one of labels/targets.
      class_weights: ``(1, ..., 1, C)`` or None.
      label_smoothing: scalar ε or None (= 0); its mass ε goes uniformly to the K finite classes.
      z_loss: scalar coefficient or None (= 0).
      active: optional boolean ``[...]`` (sparse mode): rows whose label is used; other rows
        (ignored / out of range, masked by the caller) read a target logit of 0 instead, so that
        a ``-inf`` logit at the placeholder class cannot create ``0 · inf`` there.

    Returns:
      ``(loss [...], w_label [...] or None)`` (and, with ``stats=True``, also the row
      maximum ``m [..., 1]`` and ``log_s = lse − m [...]`` for the fast rule). Sparse mode, with
      ``w = class_weights``:

      .. math::
         \ell = w_y\,[(1-ε)(\mathrm{lse} - x_y) + z\,\mathrm{lse}^2]
                + \tfrac{ε}{K}\textstyle\sum_{c\ \mathrm{finite}} w_c (\mathrm{lse} - x_c)

      Dense mode: :math:`\ell = \sum_c w_c t'_c (\mathrm{lse} - x_c) + z\,\mathrm{lse}^2` with
      :math:`t' = (1-ε)t + ε[x_c > -\infty]/K`; positive target mass on a ``-inf`` class gives
      ``+inf``. ``w_label`` is :math:`w_y` in sparse mode.
    """
    dtype = x.dtype
    m_raw = lax.stop_gradient(jnp.max(x, axis=-1, keepdims=True))
    # lse = m + log Σ exp(x − m) for any m; m is a constant for AD, and 0 on all-masked rows
    m = jnp.where(jnp.isfinite(m_raw), m_raw, jnp.zeros_like(m_raw))
    z = x - m  # ≤ 0; -inf on masked classes
    # the sum shifts by m_raw clipped to the finite floats instead: equal to m wherever the row's
    # maximum is finite, still s = 0 on an all-masked row, and s = exp(inf − max float) = inf (so
    # lse = +inf, not NaN) on a row with a +inf logit; a NaN logit makes m_raw NaN (max and clip
    # propagate it), hence s NaN. A select here would stop XLA (CPU) from fusing the subtraction
    # into the exp-sum reduction (an extra [N, C] write and read)
    finfo = jnp.finfo(dtype)
    m_sum = jnp.minimum(
        jnp.maximum(m_raw, jnp.asarray(finfo.min, dtype)), jnp.asarray(finfo.max, dtype)
    )
    e = jnp.exp(x - m_sum)  # = exp(x − m) = s · softmax(x); 0 on masked classes
    s = jnp.sum(e, axis=-1)
    # double where: log never sees 0 (a row with no finite logit is invalid input; its loss is inf);
    # the predicate is "no mass" (not "s > 0") so that a NaN logit, which makes s NaN, propagates
    no_mass = s == 0
    log_s = jnp.log(jnp.where(no_mass, jnp.ones_like(s), s))  # = lse − m ≥ 0
    lse = m[..., 0] + log_s
    # a +inf logit (lse = +inf, and only then) is invalid input with no defined softmax: NaN for
    # that row, wherever the +inf is (on the label's class the value would be inf − inf, elsewhere
    # +inf) and in sparse and dense mode alike (the NaN-input rule; README numerics table)
    posinf = nan_where(lse == jnp.inf, dtype)

    finite = None
    h = 1
    if label_smoothing is not None or targets is not None:
        # a class exists where its *logit* is finite (not z = x − m, which overflows to −inf for
        # a gap above the largest float: logits ±3.4e38 read as masked, the loss was log 2)
        finite = jnp.isfinite(x)
        # the class sums use h·(x − m) = h·x − h·m with h = class_sum_scale(C) a power of two: exact
        # (no rounding change) and no overflow, since each term is in [−2·max/(2C), 0] and the
        # sum of C of them in [−max, 0]; 1/h is folded into the coefficient. Masked logits become
        # 0 before any product, so 0 · (−inf) never happens
        h = class_sum_scale(x.shape[-1], dtype)
        z_safe = jnp.where(finite, x * h - m * h, jnp.zeros_like(z))

    k = None
    if label_smoothing is not None:
        k = jnp.sum(finite, axis=-1).astype(dtype)
        k = jnp.where(k > 0, k, jnp.ones_like(k))
        eps_over_k = label_smoothing / k

    w_label = None
    if labels is not None:
        # gather x, not z: a gathered z would make XLA materialise z = x − m as an [N, C] array
        z_label = _take_label(x, labels) - m[..., 0]  # x_y − m
        if active is not None:
            z_label = jnp.where(active, z_label, jnp.zeros_like(z_label))
        ce = log_s - z_label  # −log softmax(x)_y = lse − x_y
        if class_weights is not None:
            w_label = _take_label(class_weights, labels)
        smooth_h = None
        if label_smoothing is not None:
            # h·S, S = Σ_{c finite} w_c (lse − x_c) = W_f·(lse − m) − Σ w_c (x_c − m), both terms
            # ≥ 0; the second is summed scaled by h (z_safe) and the sum enters as ε/(K·h) · h·S,
            # finite whenever the exact value is (2.27e37 for logits ±3.4e38, ε = 0.1, C = 3)
            if class_weights is None:  # w = 1: W_f = K (saves a multiply per logit)
                smooth_h = k * log_s * h - jnp.sum(z_safe, axis=-1)
            else:
                wf = jnp.where(finite, class_weights, jnp.zeros_like(class_weights))
                smooth_h = jnp.sum(wf, axis=-1) * log_s * h - jnp.sum(wf * z_safe, axis=-1)
        loss, _, _ = num.sparse_ce_row(
            ce, lse, w_y=w_label, eps=label_smoothing, z_loss=z_loss, smooth_h=smooth_h, k=k, h=h
        )
        loss = loss * posinf
        return (loss, w_label, m, log_s, e, s) if stats else (loss, w_label)

    t = targets
    if label_smoothing is not None:
        # t' = (1 − ε) t + ε/K on the K finite classes only
        t = (1 - label_smoothing) * t + eps_over_k[..., None] * finite.astype(dtype)
    a = t if class_weights is None else class_weights * t
    # Σ_c a_c (lse − x_c) = A·(lse − m) − Σ a_c (x_c − m), with A = Σ a_c; no cancellation (the
    # second sum scaled by h, see above)
    loss = jnp.sum(a, axis=-1) * log_s - jnp.sum(a * z_safe, axis=-1) / h
    # target mass on a masked (−inf) class: the cross-entropy is +inf (invalid input)
    bad = jnp.any(jnp.logical_and(~finite, a != 0), axis=-1)
    loss = loss + jnp.where(bad, jnp.asarray(jnp.inf, dtype), jnp.asarray(0, dtype))
    if z_loss is not None:
        loss = loss + z_loss * lse * lse
    loss = loss * posinf
    return (loss, None, m, log_s, e, s) if stats else (loss, None)


def _ce_rows(
    x: jax.Array,
    *,
    labels: jax.Array | None = None,
    targets: jax.Array | None = None,
    class_weights: jax.Array | None = None,
    label_smoothing: jax.Array | None = None,
    z_loss: jax.Array | None = None,
    active: jax.Array | None = None,
) -> tuple[jax.Array, jax.Array | None]:
    """The core every softmax CE shares: :func:`_ce_rows_ref`'s value with a fast derivative.

    Same arguments and result as :func:`_ce_rows_ref`. The loss goes through :func:`_ce_fast`, a
    ``jax.custom_jvp`` whose rule computes the tangent with respect to the logits in closed form
    (below), so that reverse mode (its transpose) keeps no softmax-sized residual and writes the
    gradient in one fused pass over the logits that recomputes ``exp(x − m − log_s)``; forward
    mode and second order differentiate the rule itself (plain ``jnp``), so ``jvp``, ``jacfwd``
    and ``hessian`` work on every public function.
    """
    w_label = None
    if labels is not None and class_weights is not None:
        w_label = _take_label(class_weights, labels)
    loss = _ce_fast(x, labels, targets, class_weights, label_smoothing, z_loss, active)
    return loss, w_label


# Private switch (for the benchmark). True: the gradient reuses the forward's e = exp(x − m)
# (one exp per logit; XLA writes e into the gradient's own output buffer, then the gradient
# pass rewrites it in place). False: the gradient pass recomputes exp(x − m − log s) from x
# (one fewer [N, C] read and write, but a second exp and the output's fresh pages touched in
# the compute-heavy pass). On the shared 2-core CPU, where the first write of a fresh output
# buffer costs ~7x a warm copy (page faults), True measured faster (bench/CE_KERNEL_NOTES.md).
# Used for the sparse loss without label smoothing only (elsewhere e would be a temporary).
_GRAD_FROM_E = True


@jax.custom_jvp
def _ce_fast(x, labels, targets, class_weights, label_smoothing, z_loss, active):
    """Per-row loss of :func:`_ce_rows_ref` (positional arguments; ``None`` = option off)."""
    return _ce_rows_ref(
        x,
        labels=labels,
        targets=targets,
        class_weights=class_weights,
        label_smoothing=label_smoothing,
        z_loss=z_loss,
        active=active,
    )[0]


def _ce_fast_jvp(primals, tangents):
    r"""Closed-form tangent of :func:`_ce_fast` with respect to the logits.

    With :math:`p = \mathrm{softmax}(x) = \exp(x - m - \log s)` (0 on ``-inf`` classes) and
    :math:`f_c = [x_c > -\infty]`, the gradient of the per-row loss is

    * sparse: :math:`g = p\,(w_y(1-ε) + 2 z\,w_y\,\mathrm{lse} + ε W_f / K)
      - w_y (1-ε)[c = y][\text{active}] - (ε/K)\, w_c f_c` with :math:`W_f = \sum_c w_c f_c`;
    * dense: :math:`g = p\,(A + 2 z\,\mathrm{lse}) - a_c f_c` with
      :math:`a = w\,((1-ε)t + ε f / K)` and :math:`A = \sum_c a_c`;

    and the tangent is :math:`\sum_c g_c\,\dot x_c`: linear in :math:`\dot x`, so its transpose
    (reverse mode) is ``ct · g`` — one elementwise fusion that XLA merges with the recomputation
    of ``p`` (no ``[N, C]`` residual, no one-hot array). Tangents of the other float arguments
    (targets, class weights, ε, z) go through plain ``jax.jvp`` of the reference core, and only
    when they are not symbolic zeros.
    """
    x, labels, targets, cw, eps, zl, active = primals
    dx = tangents[0]
    loss, _, m, log_s, e, s = _ce_rows_ref(
        x,
        labels=labels,
        targets=targets,
        class_weights=cw,
        label_smoothing=eps,
        z_loss=zl,
        active=active,
        stats=True,
    )
    dtype = x.dtype
    out_t = jnp.zeros_like(loss)
    if not isinstance(dx, SymbolicZero):
        z = x - m  # ≤ 0, -inf on masked classes; m is 0 on an all-masked row
        # reuse e only where XLA can place it in the gradient's own buffer (sparse, no smoothing:
        # measured); with smoothing or dense targets e would become one more [N, C] temporary
        if _GRAD_FROM_E and labels is not None and eps is None:
            p = None
        else:
            p = jnp.exp(z - log_s[..., None])  # softmax; exactly 0 on -inf classes
        lse = m[..., 0] + log_s
        finite = None
        if eps is not None or targets is not None:
            finite = jnp.isfinite(x)  # as in _ce_rows_ref: the logit, not x − m
        if eps is not None:
            k = jnp.sum(finite, axis=-1).astype(dtype)
            k = jnp.where(k > 0, k, jnp.ones_like(k))
        if labels is not None:
            w_y = wf = w_f = None
            if cw is not None:
                w_y = _take_label(cw, labels)
                if eps is not None:
                    wf = jnp.where(finite, cw, jnp.zeros_like(cw))
                    w_f = jnp.sum(wf, axis=-1)
            coef, hot, unit = num.sparse_ce_grad_coefs(
                lse, w_y=w_y, eps=eps, z_loss=zl, w_f=w_f, k=None if eps is None else k
            )
            if active is not None:
                hot = jnp.where(active, hot, jnp.zeros_like(hot))
            lab = labels if jnp.iinfo(labels.dtype).bits >= 32 else labels.astype(jnp.int32)
            iota = lax.broadcasted_iota(lab.dtype, x.shape, x.ndim - 1)
            if p is None:
                # softmax · coef = e · (coef / s); s ≥ 1 on any row with a finite logit;
                # "s == 0" (not "s > 0") so that a NaN s (NaN logit) is not silently replaced by 1
                p, coef = e, coef / jnp.where(s == 0, jnp.ones_like(s), s)
            # the one-hot is a compare fused into the gradient pass, never an array
            g = num.sparse_ce_grad(p, coef, hot, unit, iota == lab[..., None], finite, cw)
        else:
            eps_over_k = None if eps is None else eps / k
            a = targets
            if eps is not None:
                a = (1 - eps) * a + eps_over_k[..., None] * finite.astype(dtype)
            if cw is not None:
                a = cw * a
            coef = jnp.sum(a, axis=-1)
            if zl is not None:
                coef = coef + 2 * zl * lse
            # masked logits carry no gradient from the a·x term (their loss is +inf if a ≠ 0)
            g = p * coef[..., None] - jnp.where(finite, a, jnp.zeros_like(a))
        out_t = out_t + jnp.sum(g * dx, axis=-1)
    # the other float arguments (rarely differentiated): plain jvp of the reference core
    others = [
        i
        for i in (2, 3, 4, 5)
        if primals[i] is not None and not isinstance(tangents[i], SymbolicZero)
    ]
    if others:

        def partial_loss(*vals):
            args = list(primals)
            for i, v in zip(others, vals, strict=False):
                args[i] = v
            x_, lb, tg, w, e, z_, act = args
            return _ce_rows_ref(
                x_, labels=lb, targets=tg, class_weights=w, label_smoothing=e, z_loss=z_, active=act
            )[0]

        _, t_other = jax.jvp(
            partial_loss, tuple(primals[i] for i in others), tuple(tangents[i] for i in others)
        )
        out_t = out_t + t_other
    return loss, out_t


_ce_fast.defjvp(_ce_fast_jvp, symbolic_zeros=True)


# ----------------------------------------------------------------------------------------------
# Public losses
# ----------------------------------------------------------------------------------------------


@val.declare_ranges(
    label_smoothing=val.UNIT_INTERVAL, z_loss=val.NONNEGATIVE, class_weights=val.REAL
)
def softmax_cross_entropy(
    logits: ArrayLike,
    targets: ArrayLike,
    *,
    axis: int = -1,
    label_smoothing: ArrayLike = 0.0,
    class_weights: ArrayLike | None = None,
    z_loss: ArrayLike = 0.0,
    weights: ArrayLike | None = None,
    where: ArrayLike | None = None,
    reduction: str = "mean",
) -> jax.Array:
    r"""Softmax cross-entropy against target distributions (one-hot or soft).

    .. math::
       \ell = -\sum_c w_c\, t'_c \log \mathrm{softmax}(\mathrm{logits})_c
              + \mathrm{z\_loss}\cdot \mathrm{logsumexp}(\mathrm{logits})^2,
       \qquad t' = (1 - \varepsilon)\,\mathrm{targets}
                   + \frac{\varepsilon}{K}\,[\mathrm{logits}_c > -\infty]

    with :math:`\varepsilon` = ``label_smoothing``, :math:`w` = ``class_weights`` (default 1) and
    :math:`K` the number of classes with a finite logit in that row (all ``C`` of them unless some
    logits are ``-inf``). This is PyTorch's ``F.cross_entropy`` with probability targets
    (``weight``, ``label_smoothing``) and optax's ``softmax_cross_entropy`` when the options are
    off; it is always safe with ``-inf`` logits (optax's ``safe_softmax_cross_entropy``).

    Args:
      logits: unnormalised scores ``[..., C, ...]`` with the class axis at ``axis``. ``-inf``
        marks a class that does not exist for that row (masked vocabulary).
      targets: target distributions, same shape as ``logits`` (each row sums to 1; cast to the
        computation dtype). Targets may be differentiated (e.g. distillation).
      axis: the class axis (any axis, default -1).
      label_smoothing: ε in [0, 1] (may be traced); mixes ``targets`` with the uniform
        distribution over the finite-logit classes.
      class_weights: ``(C,)`` weights multiplying each class term *inside* the class sum. As in
        PyTorch with probability targets, ``"mean"`` still divides by the number of valid examples
        (not by a sum of class weights).
      z_loss: coefficient of the auxiliary ``logsumexp(logits)²`` term (PaLM), added per example.
      weights: per-example weights broadcastable to the loss shape (``logits`` without ``axis``).
      where: boolean mask of the same broadcast shape; ``False`` drops the example.
      reduction: ``"mean"``, ``"sum"`` or ``"none"``.

    Returns:
      For ``"none"``, the per-example losses with the class axis dropped; else a scalar. Float32
      for float16 / bfloat16 / float32 logits, float64 for float64.

    Raises:
      ValueError: a concrete ``label_smoothing`` outside [0, 1], ``z_loss`` < 0 or a NaN in
        ``class_weights`` (or a hyperparameter that does not broadcast to the loss shape).
      TypeError: complex or non-numeric inputs or hyperparameters (Python lists are converted).

    Traced hyperparameters are range-checked by ``jaxloss.checked`` only. A traced
    ``label_smoothing`` outside [0, 1] puts a negative weight on the target (ε > 1) or on the other
    classes (ε < 0): a finite value that may be negative; a traced ``z_loss`` < 0 subtracts λ·lse²,
    also possibly negative; a NaN in ``class_weights`` gives NaN.

    Examples:
      >>> import jax.numpy as jnp
      >>> import jaxloss
      >>> logits = jnp.array([[-1.90, -0.29, -2.30], [-0.29, -1.90, -2.30]])
      >>> targets = jnp.array([[0., 1., 0.], [1., 0., 0.]])
      >>> print(f"{float(jaxloss.softmax_cross_entropy(logits, targets)):.3f}")
      0.288
      >>> masked = jnp.array([[2.0, -jnp.inf, 0.0]])
      >>> onehot = jnp.array([[1., 0., 0.]])
      >>> loss = jaxloss.softmax_cross_entropy(masked, onehot, label_smoothing=0.2)
      >>> print(f"{float(loss):.4f}")
      0.3269

    References:
      Szegedy et al., *Rethinking the Inception Architecture* (label smoothing), 2016;
      Chowdhery et al., *PaLM* (z-loss), 2022.

    Notes:
      Stable for logits of any magnitude (computed relative to the row maximum) and for ``-inf``
      logits whose target (after smoothing) is 0: value, ``grad``, ``jvp`` and ``hessian`` stay
      finite, and a traced ``label_smoothing`` of 0 gives exactly the unsmoothed loss. Unchecked
      invalid input: positive target mass on a ``-inf`` class gives ``+inf``; a row whose logits
      are all ``-inf`` gives ``+inf`` (or ``nan`` with ``z_loss``). Derivatives use the same
      closed-form ``jax.custom_jvp`` rule as :func:`sparse_softmax_cross_entropy` (no
      softmax-sized float residual under ``grad``; ``jvp`` and ``hessian`` work).

      Unchecked input: targets outside ``[0, 1]`` are used as given (the loss is linear in them)
      and a NaN target gives NaN for its row; a NaN or ``+inf`` logit gives NaN for its row (a
      ``+inf`` logit has no defined softmax), as in the sparse loss. ``checked`` reports them.
    """
    name = "softmax_cross_entropy"
    x, ax = _class_last(name, "logits", logits, axis)
    targets = val.as_real_array(name, "targets", targets)
    val.check_same_shape(name, "logits", logits, "targets", targets)
    dtype = x.dtype
    t = jnp.moveaxis(targets.astype(dtype), ax, -1)
    cw = _class_weight_row(name, class_weights, x.shape[-1], x.ndim, dtype)
    eps = _hyper(name, "label_smoothing", label_smoothing, dtype)
    zl = _hyper(name, "z_loss", z_loss, dtype)
    loss, _ = _ce_rows(x, targets=t, class_weights=cw, label_smoothing=eps, z_loss=zl)
    return apply_reduction(name, loss, weights, where, reduction)


@val.declare_ranges(
    label_smoothing=val.UNIT_INTERVAL,
    z_loss=val.NONNEGATIVE,
    logit_softcap=val.POSITIVE,
    class_weights=val.REAL,
)
def sparse_softmax_cross_entropy(
    logits: ArrayLike,
    labels: ArrayLike,
    *,
    axis: int = -1,
    ignore_index: int | None = None,
    label_smoothing: ArrayLike = 0.0,
    class_weights: ArrayLike | None = None,
    z_loss: ArrayLike = 0.0,
    logit_softcap: ArrayLike | None = None,
    weights: ArrayLike | None = None,
    where: ArrayLike | None = None,
    reduction: str = "mean",
) -> jax.Array:
    r"""Softmax cross-entropy against integer class labels (PyTorch ``F.cross_entropy``).

    With :math:`x` = ``logits`` (after the optional soft cap), :math:`y` = ``labels``,
    :math:`w` = ``class_weights`` (default 1), :math:`\varepsilon` = ``label_smoothing``,
    :math:`K` the number of finite logits in the row (``C`` unless some are ``-inf``) and
    :math:`\mathrm{lse} = \log\sum_c e^{x_c}`:

    .. math::
       \ell = w_y\big[(1-\varepsilon)(\mathrm{lse} - x_y) + \mathrm{z\_loss}\cdot\mathrm{lse}^2\big]
              + \frac{\varepsilon}{K}\sum_{c:\,x_c > -\infty} w_c\,(\mathrm{lse} - x_c)

    and ``"mean"`` is :math:`\sum_i v_i \ell_i / \sum_i v_i w_{y_i}` over the valid examples
    (:math:`v_i` = ``weights``, 0 where ``where`` is False or the label is ``ignore_index``).
    Without ``class_weights`` this is the plain mean over the non-ignored examples.

    This is exactly PyTorch's formula, including the combination of ``weight`` with
    ``label_smoothing``: the smoothing term weights each class ``c`` by :math:`w_c` (it is not
    multiplied by :math:`w_y`), while the denominator of ``"mean"`` is :math:`\sum w_{y_i}`. The
    z-loss term (absent from PyTorch) is multiplied by :math:`w_y` like the likelihood term.

    Args:
      logits: unnormalised scores ``[..., C, ...]`` with the class axis at ``axis``; ``-inf``
        marks a class absent from that row (masked vocabulary).
      labels: integer class ids in ``[0, C)``, shape of ``logits`` without the class axis.
      axis: the class axis (default -1; ``axis=1`` reads PyTorch's ``[B, C, T]`` layout).
      ignore_index: a label value (static int) whose examples contribute nothing to the loss, the
        gradient or the normaliser; ``None`` disables. ``jaxloss.get("CrossEntropyLoss")`` binds
        PyTorch's ``-100``.
      label_smoothing: ε in [0, 1] (may be traced); its mass goes uniformly to the finite classes.
      class_weights: ``(C,)`` per-class weights (see the formula for which term each multiplies).
      z_loss: coefficient of ``logsumexp(logits)²`` added to each example (PaLM / T5).
      logit_softcap: ``s``: logits ← ``s·tanh(logits / s)`` before everything else (Gemma 2);
        ``-inf`` logits stay ``-inf``. ``None`` disables.
      weights: per-example weights broadcastable to the loss shape; they scale both the numerator
        and the ``"mean"`` denominator.
      where: boolean mask of the loss shape; ``False`` drops the example.
      reduction: ``"mean"``, ``"sum"`` or ``"none"``.

    Returns:
      For ``"none"``, per-example losses (``logits``' shape without ``axis``; exactly 0 at ignored
      or masked examples); else a scalar. Float32 for half and float32 logits, float64 for float64.

    Raises:
      ValueError: a concrete ``label_smoothing`` outside [0, 1], ``z_loss`` < 0, ``logit_softcap`` ≤
        0 or a NaN in ``class_weights`` (or a hyperparameter that does not broadcast to the loss
        shape).
      TypeError: complex or non-numeric inputs or hyperparameters (Python lists are converted).

    Traced hyperparameters are range-checked by ``jaxloss.checked`` only. A traced
    ``label_smoothing`` outside [0, 1] puts a negative weight on the label (ε > 1) or on the other
    classes (ε < 0): a finite value that may be negative (ε = 1.5 on uniform logits over 3 classes
    gives 1.0986, as if unsmoothed); a traced ``z_loss`` < 0 subtracts λ·lse²; a traced
    ``logit_softcap`` < 0 acts as ``|cap|`` and 0 makes every logit 0 (a uniform prediction); a
    NaN in ``class_weights`` gives NaN.

    Examples:
      >>> import jax.numpy as jnp
      >>> import jaxloss
      >>> logits = jnp.array([[-1.90, -0.29, -2.30], [-0.29, -1.90, -2.30]])
      >>> print(f"{float(jaxloss.sparse_softmax_cross_entropy(logits, jnp.array([1, 0]))):.3f}")
      0.288
      >>> labels = jnp.array([1, -100])  # the second example is ignored
      >>> loss = jaxloss.sparse_softmax_cross_entropy(logits, labels, ignore_index=-100)
      >>> print(f"{float(loss):.4f}")
      0.2881

    References:
      PyTorch ``torch.nn.functional.cross_entropy``; Szegedy et al. 2016 (label smoothing);
      Chowdhery et al. 2022 (z-loss); Gemma Team 2024 (logit soft-capping).

    Notes:
      Stable for logits of any magnitude and for ``-inf`` logits on classes other than the label
      (value, ``grad``, ``jvp``, ``hessian`` finite, with or without smoothing; a traced
      ``label_smoothing`` of 0 is exact). If nothing is valid, ``"mean"`` is exactly 0 with a zero
      gradient. With ``class_weights`` and ``label_smoothing`` the numerator keeps the smoothing
      term when the label weights vanish: as :math:`\sum_i v_i w_{y_i} \to 0^+` ``"mean"`` grows
      like its inverse (PyTorch's value; it overflows to ``inf`` once the exact value does), and at
      exactly 0 — including a weight that underflows to 0 in the computation dtype — ``"mean"``
      is 0 by the nothing-valid rule, where PyTorch gives ``nan``. Unchecked invalid input: a
      label outside ``[0, C)`` that is not ``ignore_index`` (including negative labels, which
      are *not* wrapped) gives a ``nan`` loss and a ``nan`` gradient (its whole logit row) for
      that example — ``weights`` of 0 do not hide it (0 · NaN), ``where=False`` drops it (exact
      0); a label whose logit is ``-inf`` gives ``+inf``. A NaN or ``+inf`` logit gives NaN for
      its example, wherever the ``+inf`` is (no defined softmax; the same in the dense loss; with
      ``logit_softcap`` it is capped like any logit). ``checked`` reports them.

      Derivatives use a closed-form rule (``jax.custom_jvp``): under ``grad`` only per-row
      statistics are kept and the gradient is written in one fused pass over the logits
      (``softmax`` recomputed, one-hot never materialised); ``jvp`` and ``hessian`` work.
    """
    name = "sparse_softmax_cross_entropy"
    _check_ignore_index(name, ignore_index)
    x, ax = _class_last(name, "logits", logits, axis)
    labels = _check_labels(name, labels, "logits", np.shape(logits), ax)
    dtype, num_classes = x.dtype, x.shape[-1]
    cw = _class_weight_row(name, class_weights, num_classes, x.ndim, dtype)
    eps = _hyper(name, "label_smoothing", label_smoothing, dtype)
    zl = _hyper(name, "z_loss", z_loss, dtype)
    if logit_softcap is not None:
        val.check_ranges(name, logit_softcap=logit_softcap)
        x = _softcap(x, as_hyper(logit_softcap, dtype))
    valid, in_range = _label_masks(labels, num_classes, ignore_index)
    loss, w_label = _ce_rows(
        x, labels=labels, class_weights=cw, label_smoothing=eps, z_loss=zl, active=valid & in_range
    )
    return _reduce_sparse(
        name, loss, w_label, labels, num_classes, ignore_index, weights, where, reduction
    )


def _out_of_range_factor(name, labels, num_classes, ignore_index, where, dtype):
    """Per example: NaN where the label is out of range on a kept example, else exactly 1.

    Multiplying an example's loss (or the entry it reads) by this makes its value *and* its
    gradient NaN (the cotangent that reaches the example is NaN), never the finite softmax / N of a
    placeholder class. Kept = not ``ignore_index`` and ``where`` True: a dropped example stays
    exactly 0 in value and gradient. inf − inf creates the NaN only on those examples, so valid
    input never produces one (even under ``jax_debug_nans``).
    """
    valid, in_range = _label_masks(labels, num_classes, ignore_index)
    bad = valid & ~in_range
    if where is not None:
        # the "none" reduction of a boolean: validates ``where`` (shape, dtype) and applies it
        bad = apply_reduction(name, bad, None, where, "none")
    return nan_where(bad, dtype)


def _reduce_sparse(
    name, loss, w_label, labels, num_classes, ignore_index, weights, where, reduction
):
    """Masks ignored / out-of-range examples and reduces with PyTorch's normaliser."""
    dtype = loss.dtype
    valid, _ = _label_masks(labels, num_classes, ignore_index)
    # out-of-range labels are invalid input: value and gradient NaN, never a plausible number
    # (a product, not a sum: the example's cotangent becomes NaN, hence its whole gradient)
    loss = loss * _out_of_range_factor(name, labels, num_classes, ignore_index, where, dtype)
    # select, never multiply: an ignored example contributes exactly 0 to value and gradient
    loss = jnp.where(valid, loss, jnp.zeros_like(loss))
    normalizer = None
    if w_label is not None or ignore_index is not None:
        base = (
            valid.astype(dtype)
            if w_label is None
            else jnp.where(valid, w_label, jnp.zeros_like(w_label))
        )
        normalizer = _normalizer_with_weights(name, base, weights, loss.shape, dtype)
    return apply_reduction(name, loss, weights, where, reduction, normalizer=normalizer)


@val.declare_ranges(label_smoothing=val.UNIT_INTERVAL)
def categorical_cross_entropy(
    probabilities: ArrayLike,
    targets: ArrayLike,
    *,
    axis: int = -1,
    label_smoothing: ArrayLike = 0.0,
    weights: ArrayLike | None = None,
    where: ArrayLike | None = None,
    reduction: str = "mean",
) -> jax.Array:
    r"""Cross-entropy of probability predictions (e.g. a softmax output) against distributions.

    .. math::
       \ell = -\sum_c t'_c\, \max(\log p_c, -100), \qquad
       t' = (1 - \varepsilon)\,\mathrm{targets} + \varepsilon / C

    with :math:`p` = ``probabilities`` and :math:`\varepsilon` = ``label_smoothing`` (Keras'
    smoothing, uniform over all ``C`` classes).

    The probabilities are used as given: unlike Keras' ``categorical_crossentropy``, they are
    *not* renormalised to sum to 1 along ``axis`` (for a valid softmax output the two agree; for
    anything else renormalising would hide the bug). Each ``log p`` is clamped at -100 (PyTorch's
    convention) instead of Keras' clipping of ``p`` to ``[1e-7, 1 - 1e-7]``.

    Args:
      probabilities: predicted class probabilities ``[..., C, ...]``, class axis at ``axis``.
      targets: target distributions, same shape.
      axis: the class axis (default -1).
      label_smoothing: ε in [0, 1] (may be traced).
      weights, where, reduction: as in every loss (per example, class axis dropped).

    Returns:
      Per-example losses (class axis dropped) for ``"none"``, else a scalar; float32 for half /
      float32 inputs, float64 for float64.

    Raises:
      ValueError: a concrete ``label_smoothing`` outside [0, 1] (or a hyperparameter that does not
        broadcast to the loss shape).
      TypeError: complex or non-numeric inputs or hyperparameters (Python lists are converted).

    Traced hyperparameters are range-checked by ``jaxloss.checked`` only. A traced
    ``label_smoothing`` outside [0, 1] gives targets with negative entries: a finite value that may
    be negative.

    Examples:
      >>> import jax.numpy as jnp
      >>> import jaxloss
      >>> p = jnp.array([[0.15, 0.75, 0.10], [0.75, 0.15, 0.10]])
      >>> t = jnp.array([[0., 1., 0.], [1., 0., 0.]])
      >>> print(f"{float(jaxloss.categorical_cross_entropy(p, t)):.3f}")
      0.288

    Notes:
      Finite, with finite gradients, at ``p = 0`` and ``p = 1`` (the clamp's gradient is 0 where
      it is active, as in PyTorch). Values outside [0, 1] are not checked: ``log`` of a negative
      or zero probability is clamped to -100.
      Probabilities are used as given (not renormalised), targets outside ``[0, 1]`` too, and a
      NaN target gives NaN for its row; ``checked`` reports them.
    """
    name = "categorical_cross_entropy"
    p, ax = _class_last(name, "probabilities", probabilities, axis)
    targets = val.as_real_array(name, "targets", targets)
    val.check_same_shape(name, "probabilities", probabilities, "targets", targets)
    dtype = p.dtype
    t = jnp.moveaxis(targets.astype(dtype), ax, -1)
    eps = _hyper(name, "label_smoothing", label_smoothing, dtype)
    if eps is not None:
        # Keras: t' = (1 − ε) t + ε / C
        t = (1 - eps) * t + eps / p.shape[-1]
    loss = -jnp.sum(t * clamped_log(p), axis=-1)
    return apply_reduction(name, loss, weights, where, reduction)


def sparse_categorical_cross_entropy(
    probabilities: ArrayLike,
    labels: ArrayLike,
    *,
    axis: int = -1,
    ignore_index: int | None = None,
    weights: ArrayLike | None = None,
    where: ArrayLike | None = None,
    reduction: str = "mean",
) -> jax.Array:
    r"""Cross-entropy of probability predictions against integer labels.

    .. math::
       \ell = -\max(\log p_y, -100)

    with :math:`p` = ``probabilities`` and :math:`y` = ``labels``; ``"mean"`` is over the
    non-ignored examples (weighted by ``weights``). As in :func:`categorical_cross_entropy`, the
    probabilities are not renormalised (Keras renormalises), and ``log p`` is clamped at -100.

    Args:
      probabilities: predicted class probabilities ``[..., C, ...]``, class axis at ``axis``.
      labels: integer class ids in ``[0, C)``, shape of ``probabilities`` without the class axis.
      axis: the class axis (default -1).
      ignore_index: label value (static int) whose examples contribute nothing to the loss, the
        gradient or the normaliser; ``None`` disables.
      weights, where, reduction: as in every loss.

    Returns:
      Per-example losses for ``"none"`` (exactly 0 at ignored examples), else a scalar; float32
      for half / float32 inputs, float64 for float64.

    Examples:
      >>> import jax.numpy as jnp
      >>> import jaxloss
      >>> p = jnp.array([[0.15, 0.75, 0.10], [0.75, 0.15, 0.10]])
      >>> print(f"{float(jaxloss.sparse_categorical_cross_entropy(p, jnp.array([1, 0]))):.3f}")
      0.288

    Notes:
      Finite with finite gradients at ``p_y = 0`` (loss 100, gradient 0) and ``p_y = 1``.
      Unchecked invalid input: a label outside ``[0, C)`` that is not ``ignore_index`` gives a
      ``nan`` loss for that example and a ``nan`` gradient (at the entry it reads, class 0).
      Only the label's probability is read: above 1 it gives ``-log p`` (negative), below 0 it
      gives 100, and the other entries, valid or not, have no effect; ``checked`` reports them.
    """
    name = "sparse_categorical_cross_entropy"
    _check_ignore_index(name, ignore_index)
    p, ax = _class_last(name, "probabilities", probabilities, axis)
    labels = _check_labels(name, labels, "probabilities", np.shape(probabilities), ax)
    # an out-of-range label poisons the entry read before the clamp (whose select would drop a
    # NaN cotangent where p is below the clamp): value and gradient NaN
    factor = _out_of_range_factor(name, labels, p.shape[-1], ignore_index, where, p.dtype)
    p_label = _take_label(p, labels) * factor
    loss = -clamped_log(p_label)
    return _reduce_sparse(
        name, loss, None, labels, p.shape[-1], ignore_index, weights, where, reduction
    )


@val.declare_ranges(class_weights=val.REAL)
def nll_loss(
    log_probabilities: ArrayLike,
    labels: ArrayLike,
    *,
    axis: int = -1,
    class_weights: ArrayLike | None = None,
    ignore_index: int | None = None,
    weights: ArrayLike | None = None,
    where: ArrayLike | None = None,
    reduction: str = "mean",
) -> jax.Array:
    r"""Negative log-likelihood of log-probabilities at integer labels (PyTorch ``NLLLoss``).

    .. math::
       \ell = -w_y\, \mathrm{log\_probabilities}_y, \qquad
       \mathrm{mean} = \frac{\sum_i v_i \ell_i}{\sum_i v_i w_{y_i}}

    with :math:`w` = ``class_weights`` (default 1) and :math:`v_i` = ``weights`` (0 where
    ``where`` is False or the label is ``ignore_index``), exactly PyTorch's normaliser.

    Args:
      log_probabilities: log-probabilities ``[..., C, ...]`` (e.g. ``log_softmax`` output), class
        axis at ``axis`` (``axis=1`` for PyTorch's ``[B, C, T]`` layout).
      labels: integer class ids in ``[0, C)``, shape of ``log_probabilities`` without the axis.
      axis: the class axis (default -1).
      class_weights: ``(C,)`` per-class weights.
      ignore_index: label value (static int) whose examples contribute nothing; ``None``
        disables. ``jaxloss.get("NLLLoss")`` binds PyTorch's ``-100``.
      weights, where, reduction: as in every loss.

    Returns:
      Per-example losses for ``"none"`` (``w_y``-weighted, exactly 0 at ignored examples), else a
      scalar; float32 for half / float32 inputs, float64 for float64.

    Raises:
      ValueError: a concrete a NaN in ``class_weights`` (or a hyperparameter that does not broadcast
        to the loss shape).
      TypeError: complex or non-numeric inputs or hyperparameters (Python lists are converted).

    Traced hyperparameters are range-checked by ``jaxloss.checked`` only. A traced NaN in
    ``class_weights`` gives NaN.

    Examples:
      >>> import jax
      >>> import jax.numpy as jnp
      >>> import jaxloss
      >>> logits = jnp.array([[-1.90, -0.29, -2.30], [-0.29, -1.90, -2.30]])
      >>> lp = jax.nn.log_softmax(logits)
      >>> print(f"{float(jaxloss.nll_loss(lp, jnp.array([1, 0]))):.3f}")
      0.288

    Notes:
      ``-inf`` log-probabilities on classes other than the label are fine (value and gradient).
      Unchecked invalid input: a label outside ``[0, C)`` that is not ``ignore_index`` gives a
      ``nan`` loss for that example and a ``nan`` gradient (at the entry it reads, class 0);
      ``-inf`` at the label gives ``+inf``.
      Only the label's entry is read: a NaN there gives NaN for that example; a NaN or ``+inf``
      elsewhere has no effect. ``checked`` reports both.
    """
    name = "nll_loss"
    _check_ignore_index(name, ignore_index)
    lp, ax = _class_last(name, "log_probabilities", log_probabilities, axis)
    labels = _check_labels(name, labels, "log_probabilities", np.shape(log_probabilities), ax)
    dtype, num_classes = lp.dtype, lp.shape[-1]
    cw = _class_weight_row(name, class_weights, num_classes, lp.ndim, dtype)
    valid, _ = _label_masks(labels, num_classes, ignore_index)
    lp_label = _take_label(lp, labels)
    # ignored rows read a placeholder class whose log-probability may be -inf: never 0 · inf (an
    # out-of-range row is kept: _reduce_sparse makes its value and gradient NaN)
    loss = -jnp.where(valid, lp_label, jnp.zeros_like(lp_label))
    w_label = None
    if cw is not None:
        w_label = _take_label(cw, labels)
        loss = w_label * loss
    return _reduce_sparse(
        name, loss, w_label, labels, num_classes, ignore_index, weights, where, reduction
    )


def z_loss(
    logits: ArrayLike,
    *,
    axis: int = -1,
    weights: ArrayLike | None = None,
    where: ArrayLike | None = None,
    reduction: str = "mean",
) -> jax.Array:
    r"""The z-loss auxiliary term: the squared log-partition function of the logits.

    .. math::
       \ell = \Big(\log \sum_c e^{\mathrm{logits}_c}\Big)^2

    It pushes the softmax normaliser towards 1 (log Z → 0) for numerical stability of large
    models; multiply it by a small coefficient (PaLM uses 1e-4), or use the ``z_loss`` option of
    the softmax cross-entropies.

    Args:
      logits: ``[..., C, ...]`` with the class axis at ``axis``; ``-inf`` entries are fine.
      axis: the class axis (default -1).
      weights, where, reduction: as in every loss.

    Returns:
      Per-example values (class axis dropped) for ``"none"``, else a scalar; float32 for half /
      float32 logits, float64 for float64.

    Examples:
      >>> import jax.numpy as jnp
      >>> import jaxloss
      >>> print(f"{float(jaxloss.z_loss(jnp.array([[0.0, 0.0], [1.0, -jnp.inf]]))):.4f}")
      0.7402

    References:
      Chowdhery et al., *PaLM: Scaling Language Modeling with Pathways*, 2022.

    Notes:
      Stable for logits of any size; an all-``-inf`` row is invalid and gives ``+inf``.
      Unchecked input: a NaN logit gives NaN for its row and a ``+inf`` logit gives ``+inf``;
      ``checked`` reports them.
    """
    name = "z_loss"
    x, _ = _class_last(name, "logits", logits, axis)
    m = jnp.max(x, axis=-1, keepdims=True)
    # lse = m + log Σ exp(x − m); m is a constant for AD
    m = lax.stop_gradient(jnp.where(jnp.isfinite(m), m, jnp.zeros_like(m)))
    s = jnp.sum(jnp.exp(x - m), axis=-1)
    # double where: log never sees 0; the predicate is "no mass" (not "s > 0") so that a NaN logit,
    # which makes s NaN, propagates instead of taking the all-masked (-inf) branch
    no_mass = s == 0
    lse = jnp.where(
        no_mass,
        jnp.asarray(-jnp.inf, x.dtype),
        m[..., 0] + jnp.log(jnp.where(no_mass, jnp.ones_like(s), s)),
    )
    return apply_reduction(name, lse * lse, weights, where, reduction)


# Losses of this family, canonical names (the registry lists these).
LOSSES = (
    softmax_cross_entropy,
    sparse_softmax_cross_entropy,
    categorical_cross_entropy,
    sparse_categorical_cross_entropy,
    nll_loss,
    z_loss,
)

# Every name `jaxloss.get` resolves for this family (case-insensitive), canonical names included.
ALIASES = {
    **{fn.__name__: fn for fn in LOSSES},
    "logitcrossentropy": softmax_cross_entropy,
    "categorical_crossentropy_from_logits": softmax_cross_entropy,
    "cross_entropy": bind(sparse_softmax_cross_entropy, "cross_entropy", ignore_index=-100),
    "CrossEntropyLoss": bind(sparse_softmax_cross_entropy, "CrossEntropyLoss", ignore_index=-100),
    "softmax_cross_entropy_with_integer_labels": bind(
        sparse_softmax_cross_entropy, "softmax_cross_entropy_with_integer_labels", reduction="none"
    ),
    "sparse_categorical_crossentropy_from_logits": sparse_softmax_cross_entropy,
    "categorical_crossentropy": categorical_cross_entropy,
    "crossentropy": categorical_cross_entropy,
    "sparse_categorical_crossentropy": sparse_categorical_cross_entropy,
    "NLLLoss": bind(nll_loss, "NLLLoss", ignore_index=-100),
}
