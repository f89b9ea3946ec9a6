"""Vocabulary-parallel cross-entropy and token log-probs over a JAX mesh (API.md §4, §7).

Everything here is plain JAX: :func:`jax.shard_map`, :mod:`jax.sharding` meshes and the
collective :func:`jax.lax.psum`. There is no distribution layer of our own,
so the same code runs on CPU test meshes (``--xla_force_host_platform_device_count``), one or many
GPUs, and multi-host TPU slices (``jax.distributed.initialize()`` plus a global mesh).

The vocabulary-parallel algorithm is Megatron-LM's, with its two all-reduces (the row max, then the
sums) merged into one. Device ``k`` of the ``axis_name`` axis holds the
classes ``[k·V/n, (k+1)·V/n)`` of every row:

1. each shard computes its local row max ``m_k`` and, relative to it, ``[m_k, Σ exp(x_j − m_k),
   x_y, Σ_finite x_j, #finite]`` — the sum of exponentials, the target logit (0 on the shards that
   do not own the label), and the two sums label smoothing needs (only with smoothing);
2. **one** all-reduce: a ``psum`` of an ``[n, 3 or 5, R]`` array in which shard ``k`` fills slot
   ``k`` and leaves zeros elsewhere (an all-gather as a single exact all-reduce);
3. every shard merges the ``n`` slots: ``m = max_k m_k``, ``Σ exp(x − m) = Σ_k e^{m_k − m}·Σ
   exp(x − m_k)``, the rest summed (:func:`jaxloss._engine.row_stats`); ``lse = m + log Σ exp``
   and the loss are then known on every shard. The gradient of the local
   logit slice, ``softmax·(1 + 2·z_loss·lse) − (1 − ε)·onehot − ε/K·[finite]``, needs only local
   data plus ``lse``: the backward pass has **no collective** for the logits gradient.

With ``batch_axis_name``, ``"mean"`` is global — ``Σ w·ℓ / Σ w`` over every valid token of the
whole batch, exactly the single-device value — through one more all-reduce of two floats (the local
sum and the local count) over the batch axis.

Communication per token (float32 statistics, ``n`` vocabulary shards): forward, one all-reduce of
``n × 12`` bytes (``n × 20`` with label smoothing) over the vocabulary axis — a larger payload than
a ``pmax`` followed by a ``psum``, but one collective latency instead of two; backward, nothing for
:func:`vocab_parallel_cross_entropy`. :func:`vocab_parallel_linear_cross_entropy` also all-reduces
the hidden-state gradient, ``D`` floats per token (as Megatron's column-parallel output layer
does), since ``hidden`` is replicated along the vocabulary axis: in the backward pass with
``method="recompute"``, at the end of the forward pass with ``"forward_grad"``.
With class weights the all-reduce also carries ``w_y`` (and ``W_f = Σ_finite w_c`` with
smoothing).

One engine: every function here is a rule on :mod:`jaxloss._engine` with the engine's vocabulary
axis (``Head.axis``): the row statistics and their one all-reduce are
:func:`jaxloss._engine.row_stats` (the same code the single-device token log-probs use), the
custom VJPs, chunking and scan are :func:`jaxloss._engine.logits_rows` (given logits) and
:func:`jaxloss._engine.rows` / :func:`jaxloss._engine.total` (``hidden @ weight``, recompute /
forward-gradient, which also all-reduce the hidden gradient).
:func:`vocab_parallel_token_log_probs` / :func:`vocab_parallel_linear_token_log_probs` use the
token rule of :func:`jaxloss.linear_token_log_probs`: one ``psum`` of every shard's ``[row max,
Σ exp, target logit (, entropy term)]``.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax
from jax.sharding import AxisType, Mesh, NamedSharding
from jax.sharding import PartitionSpec as P
from jax.typing import ArrayLike

from . import _engine as eng
from . import _numerics as num
from . import _validation as val
from ._linear_post import _is_static_one, _scalar_hyper, _TokenRule, token_log_probs_core
from ._numerics import as_compute, as_hyper, compute_dtype, nan_where
from ._validation import (
    check_broadcastable,
    check_class_weights,
    check_floating,
    check_ignore_index,
    check_integer,
    check_label_smoothing,
    check_nonnegative,
    check_rank,
    check_reduction,
    check_scalar,
    check_where,
    concrete_or_none,
)

__all__ = [
    "vocab_parallel_cross_entropy",
    "vocab_parallel_linear_cross_entropy",
    "sharded_cross_entropy",
    "vocab_parallel_token_log_probs",
    "vocab_parallel_linear_token_log_probs",
]


# ---------------------------------------------------------------------------------------------
# Per-row statistics over a vocabulary split along `axis_name`
# ---------------------------------------------------------------------------------------------


def _row_stats(x, local_idx, owned, axis_name, smooth, cw=None):
    """Global per-row statistics of logits ``x`` [R, V/n] (float32 or float64).

    Returns ``(lse, target, smooth_h, K, w_y, W_f)``: the logsumexp over the whole vocabulary, the
    target logit, and — only when ``smooth`` (label smoothing may be non-zero) — the smoothing
    sum ``S = Σ_finite w_c (lse − x_c) = W_f·lse − Σ_finite w_c x_c`` (``h = 1`` in
    :func:`jaxloss._numerics.sparse_ce_row`) and ``K``, the number of finite logits of the row
    clamped to ≥ 1 (else ``None``); with class weights ``cw`` (this device's ``[V/n]`` slice) also
    the label's weight ``w_y`` and, with smoothing, ``W_f = Σ_finite w_c`` (else ``None``). The
    statistics and their collective are the engine's (:func:`jaxloss._engine.row_stats`: one
    ``psum`` gathering every shard's ``[row max, Σ exp, target logit (, w_y) (, Σ_finite w·x,
    #finite (, W_f))]``; the extra sums here do not depend on the shift). Non-finite rows follow
    the single-device loss exactly: ``lse`` is 0 on a row with no finite logit (all ``-inf``; its
    loss is then ``+inf`` through the target logit), ``+inf`` on a row with a ``+inf`` logit, and
    NaN on a row with a NaN logit.
    """

    def sums(z):
        out = ()
        if cw is not None:
            picked = jnp.take_along_axis(cw[None, :], local_idx[:, None], axis=-1)[:, 0]
            out += (jnp.where(owned, picked, jnp.zeros_like(picked)),)
        if smooth:
            finite = jnp.isfinite(z)
            zf = jnp.where(finite, z, 0.0)
            if cw is None:
                out += (jnp.sum(zf, axis=-1), jnp.sum(finite, axis=-1))
            else:
                wfin = jnp.where(finite, cw[None, :], 0.0)
                out += (zf @ cw, jnp.sum(finite, axis=-1), jnp.sum(wfin, axis=-1))
        return out

    m, s, target, _, extra = eng.row_stats(x, local_idx, owned, axis_name, extra=sums)
    # lse = m + log Σ exp(x − m); 0 on rows without any finite logit (as single-device)
    lse = jnp.where(s == -jnp.inf, jnp.zeros_like(s), m + s)
    wy = w_f = smooth_h = k = None
    if cw is not None:
        wy, extra = extra[0], extra[1:]
    if smooth:
        sum_wx, k = extra[0], jnp.maximum(extra[1], 1.0)
        w_f = None if cw is None else extra[2]
        smooth_h = (k if w_f is None else w_f) * lse - sum_wx
    return lse, target, smooth_h, k, wy, w_f


def _row_loss(lse, target, smooth_h, k, eps, z, wy=None):
    """The per-row loss and its ∂/∂ε and ∂/∂z: :func:`jaxloss._numerics.sparse_ce_row`,
    w_y[(1 − ε)(lse − x_y) + z·lse²] + ε/K·Σ_finite w_c (lse − x_c) (w = 1 without class
    weights), the single-device (PyTorch) loss.

    ``eps`` / ``z`` ``None``: that term is absent (its coefficient is a concrete 0), as in the
    single-device loss: an all-``-inf`` row stays ``+inf`` rather than ``0 · inf``. Non-finite
    rows are not masked: that ``+inf`` and NaN propagate, and a row with a ``+inf`` logit is NaN
    (the single-device rule).
    """
    loss, d_eps, d_z = num.sparse_ce_row(
        lse - target, lse, w_y=wy, eps=eps, z_loss=z, smooth_h=smooth_h, k=k
    )
    # a +inf logit (lse = +inf, and only then): NaN for that row, as the single-device loss
    loss = loss * nan_where(lse == jnp.inf, loss.dtype)
    d_eps = jnp.zeros_like(loss) if d_eps is None else d_eps
    d_z = jnp.zeros_like(loss) if d_z is None else d_z
    return loss, d_eps, d_z


def _dlogits(x, lse, local_idx, owned, k, eps, z, g, wy=None, w_f=None, cw=None):
    """g·∂ℓ/∂x for the local slice (:func:`jaxloss._numerics.sparse_ce_grad_coefs`):
    g·(softmax·(w_y(1 − ε) + ε·W_f/K + 2z·w_y·lse) − w_y(1 − ε)·onehot − ε/K·w·[finite]).

    Local given the global ``lse`` and ``K``: one fused pass over ``x``; ``exp(x − lse)`` is 0 on
    masked (−inf) logits by itself, and the one-hot (the label on the shard that owns it) is an
    iota comparison, never an array. Non-finite rows give the single-device gradient: NaN rows
    NaN; a ``+inf`` logit NaN at that logit (``exp(inf − inf)``); an all-``-inf`` row
    ``−g(1 − ε)`` at the label.
    """
    coef, hot, unit = num.sparse_ce_grad_coefs(lse, g=g, w_y=wy, eps=eps, z_loss=z, w_f=w_f, k=k)
    p = jnp.exp(x - lse[:, None])
    is_label = (jnp.arange(x.shape[-1])[None, :] == local_idx[:, None]) & owned[:, None]
    exists = None if eps is None else jnp.isfinite(x)
    return num.sparse_ce_grad(
        p, coef, hot, unit, is_label, exists, None if cw is None else cw[None, :]
    )


def _row_cotangent(g, d):
    """``g · d`` per row, exactly 0 where ``g == 0`` (an ignored row's ∞ adds no 0 · ∞ = NaN)."""
    return jnp.where(g == 0, 0.0, g * d)


# ---------------------------------------------------------------------------------------------
# The vocabulary-parallel cross-entropy rule of the engine (jaxloss/_engine.py)
# ---------------------------------------------------------------------------------------------


class _VocabParallelCERule(eng.Rule):
    """Megatron's cross-entropy of a block of this device's classes, per row.

    xs = (global labels, ε per row, z per row); consts = (this device's class weights,) or ();
    params = (ε per row, z per row) (their cotangents come from ``finish``, on the global per-row
    residuals: no collective). Outputs: the loss (and, with class weights, ``w_y``, for the mean's
    normaliser). The block gradient is :func:`_dlogits`, local given the global ``lse``; the
    engine runs it on given logits (:func:`jaxloss._engine.logits_rows`) or chunk by chunk of
    ``hidden @ weight`` (:func:`jaxloss._engine.rows` / :func:`jaxloss._engine.total`, which
    all-reduce the hidden gradient; for ``total``, ``masked``: xs also carries ``valid``).
    """

    def __init__(self, smooth: bool, use_z: bool, weighted: bool = False, masked: bool = False):
        self.smooth, self.use_z, self.weighted = smooth, use_z, weighted
        # masked (the forward-gradient path, :func:`jaxloss._engine.total`): xs also carries
        # ``valid`` and a dropped row's loss is exactly 0 (its coefficient is 0; 0 · NaN would not)
        self.masked = masked
        self.key = (smooth, use_z, weighted, masked)

    def terms(self, eps, zl):
        """``(ε, z)`` with ``None`` for a term the rule does not have."""
        return (eps if self.smooth else None), (zl if self.use_z else None)

    def forward(self, head, ctx, z, ex, xs_c, consts, params):
        y, eps, zl = xs_c[:3]
        cw = consts[0] if self.weighted else None
        local_idx, owned = eng.local_tokens(y, z.shape[-1], head.axis)
        lse, target, smooth_h, k, wy, w_f = _row_stats(
            z, local_idx, owned, head.axis, self.smooth, cw
        )
        loss, d_eps, d_z = _row_loss(lse, target, smooth_h, k, *self.terms(eps, zl), wy)
        if self.masked:
            loss = jnp.where(xs_c[3], loss, jnp.zeros_like(loss))
        outs = (loss, wy) if self.weighted else (loss,)
        return outs, (lse, k, d_eps, d_z, wy, w_f)

    def backward(self, head, ctx, z, ex, xs_c, res_c, gs_c, consts, params):
        y, eps, zl = xs_c[:3]
        lse, k, _, _, wy, w_f = res_c
        cw = consts[0] if self.weighted else None
        local_idx, owned = eng.local_tokens(y, z.shape[-1], head.axis)
        dz = _dlogits(z, lse, local_idx, owned, k, *self.terms(eps, zl), gs_c[0], wy, w_f, cw)
        return dz, None

    def finish(self, head, ctx, xs, res, gs, consts, params):
        # ∂ℓ/∂ε = smooth − ce, ∂ℓ/∂z = lse²; only the rows' own g (no collective needed)
        eps, zl = params
        g, d_eps, d_z = gs[0], res[2], res[3]
        g_eps = _row_cotangent(g, d_eps) if self.smooth else jnp.zeros_like(eps)
        g_z = _row_cotangent(g, d_z) if self.use_z else jnp.zeros_like(zl)
        return g_eps, g_z


def _nan_out_of_range(rows, labels, valid, vocab):
    """Rows whose label is outside ``[0, vocab)`` and that count (``valid``) become NaN.

    The single-device rule: such a row's loss is NaN *and* so is its gradient. Multiplying by
    ``1 + (inf − inf)`` makes the row's cotangent NaN too, so the custom VJPs return a NaN logit
    row (and NaN ε / z contributions); on every other row the factor is exactly 1, and the NaN is
    created only on bad rows (valid input never makes one, even under ``jax_debug_nans``).
    """
    bad = valid & ((labels < 0) | (labels >= vocab))
    return rows * nan_where(bad, rows.dtype)


def _reduce(rows, valid, weights, reduction, batch_axis_name, wy=None):
    """Masked, weighted reduction of per-row losses; global over ``batch_axis_name`` if given.

    With class weights, ``"mean"`` divides by ``Σ weights·w_y`` (PyTorch's normaliser)."""
    w = valid.astype(rows.dtype)
    if weights is not None:
        w = w * jnp.broadcast_to(jnp.asarray(weights).astype(rows.dtype), rows.shape)
    # select, never multiply: ignored rows contribute exactly 0 whatever their value
    contrib = jnp.where(valid, w * rows, 0.0)
    if reduction == "none":
        return contrib
    total = jnp.sum(contrib)
    # differentiable in ``weights`` (Σ w·ℓ / Σ w), as the single-device reduction
    count = jnp.sum(w if wy is None else jnp.where(valid, w * wy, 0.0))
    if batch_axis_name is not None:
        total, count = lax.psum((total, count), batch_axis_name)
    if reduction == "sum":
        return total
    nonzero = count != 0
    # double where: nothing valid gives exactly 0 with a zero gradient, never 0/0
    return jnp.where(nonzero, total / jnp.where(nonzero, count, 1.0), 0.0)


def _maybe_nonzero(value) -> bool:
    """False only when ``value`` is known to be exactly 0 at trace time (its term is skipped)."""
    v = concrete_or_none(value)
    return v is None or bool(np.any(v != 0))


def _valid_rows(labels, ignore_index, where, shape):
    valid = jnp.ones(shape, bool)
    if ignore_index is not None:
        valid = valid & (labels != ignore_index)
    if where is not None:
        valid = valid & jnp.broadcast_to(jnp.asarray(where, bool), shape)
    return valid


def _wide_labels(labels):
    """Integer labels of at least 32 bits, so that global class ids and offsets never overflow."""
    labels = jnp.asarray(labels)
    return labels if jnp.iinfo(labels.dtype).bits >= 32 else labels.astype(jnp.int32)


def _check_options(name, rows_shape, ignore_index, label_smoothing, z_loss, weights, where):
    """The single-device checks of the shared options, against the loss shape ``rows_shape``."""
    check_ignore_index(name, ignore_index)
    check_scalar(name, "label_smoothing", label_smoothing)
    check_label_smoothing(name, label_smoothing)
    check_scalar(name, "z_loss", z_loss)
    check_nonnegative(name, "z_loss", z_loss)
    if weights is not None:
        check_broadcastable(name, "weights", weights, rows_shape)
    check_where(name, where, rows_shape)


def _check_logits_labels(name, logits, labels):
    """``logits`` floating ``[..., V]``, ``labels`` integer with the logits' shape minus V."""
    check_floating(name, "logits", logits)
    check_rank(name, "logits", logits, 1)
    check_integer(name, "labels", labels)
    shape = np.shape(logits)
    expected = tuple(shape[:-1])
    if np.shape(labels) != expected:
        raise ValueError(
            f"{name}: 'labels' must have the shape of 'logits' without the class axis "
            f"(axis={len(shape) - 1}), i.e. {expected}, got {np.shape(labels)}"
        )


def _class_weights(class_weights, dtype):
    """This device's class weights as a ``[V/n]`` array of the computation dtype, or ``None``."""
    if class_weights is None:
        return None
    return lax.stop_gradient(as_hyper(class_weights, dtype))


def _softcap(logit_softcap, dtype):
    """The softcap as a scalar of the computation dtype, or ``None``."""
    if logit_softcap is None:
        return None
    return as_hyper(logit_softcap, dtype)


def _vp_cross_entropy(
    logits, labels, *, axis_name, batch_axis_name, ignore_index, label_smoothing, z_loss,
    weights, where, reduction, logit_softcap=None, class_weights=None,
):  # fmt: skip
    """:func:`vocab_parallel_cross_entropy` after validation (inside ``shard_map``)."""
    logits = jnp.asarray(logits)
    labels = _wide_labels(labels)
    dtype = compute_dtype(logits)
    rows_shape = labels.shape
    smooth, use_z = _maybe_nonzero(label_smoothing), _maybe_nonzero(z_loss)
    eps = jnp.broadcast_to(as_hyper(label_smoothing, dtype), rows_shape)
    z = jnp.broadcast_to(as_hyper(z_loss, dtype), rows_shape)

    def flat(a):
        return a.reshape((-1,) + a.shape[len(rows_shape) :])

    y, eps, z = flat(labels), flat(eps), flat(z)
    cap = _softcap(logit_softcap, dtype)
    cw = _class_weights(class_weights, dtype)
    head = eng.Head(False, cap is not None, False, max(1, y.shape[0]), dtype, axis_name)
    outs = eng.logits_rows(
        head, _VocabParallelCERule(smooth, use_z, cw is not None), flat(logits), cap, None,
        (y, eps, z), () if cw is None else (cw,), (eps, z),
    )  # fmt: skip
    rows = outs[0].reshape(rows_shape)
    wy = None if cw is None else outs[1].reshape(rows_shape)
    valid = _valid_rows(labels, ignore_index, where, rows_shape)
    vocab = logits.shape[-1] * lax.axis_size(axis_name)
    rows = _nan_out_of_range(rows, labels, valid, vocab)
    return _reduce(rows, valid, weights, reduction, batch_axis_name, wy)


def vocab_parallel_cross_entropy(
    logits: ArrayLike,
    labels: ArrayLike,
    *,
    axis_name,
    batch_axis_name=None,
    ignore_index: int | None = None,
    label_smoothing: ArrayLike = 0.0,
    z_loss: ArrayLike = 0.0,
    logit_softcap: ArrayLike | None = None,
    class_weights: ArrayLike | None = None,
    weights: ArrayLike | None = None,
    where: ArrayLike | None = None,
    reduction: str = "mean",
) -> jax.Array:
    r"""Sparse softmax cross-entropy with the vocabulary split over mesh axis ``axis_name``.

    Call it inside :func:`jax.shard_map`. On a mesh with ``Auto`` axis types ``shard_map`` places
    its operands itself; on ``Explicit`` axes (``jax.make_mesh``'s default in recent JAX) pass
    operands already sharded as ``in_specs`` says (``jax.device_put`` with a ``NamedSharding``), or
    use :func:`sharded_cross_entropy`, which does that for you. Equal (to float32 rounding) to
    :func:`jaxloss.sparse_softmax_cross_entropy` on the gathered logits:

    .. math::
       \ell = (1 - \varepsilon)(\mathrm{lse}(x) - x_y)
              + \varepsilon\,(\mathrm{lse}(x) - \tfrac{1}{K}\textstyle\sum_{j\,\mathrm{finite}} x_j)
              + z\,\mathrm{lse}(x)^2

    with ``ε = label_smoothing``, ``z = z_loss``, ``K`` the number of finite logits of the row.

    Args:
      logits: this device's slice ``[..., V/n]`` of the logits; shard ``k`` of ``axis_name`` holds
        classes ``[k·V/n, (k+1)·V/n)``. ``-inf`` marks a masked class.
      labels: global class ids ``[...]`` (integers), replicated along ``axis_name``.
      axis_name: the mesh axis the vocabulary is split over.
      batch_axis_name: mesh axis (or tuple of axes) the batch is split over; with it ``"mean"`` and
        ``"sum"`` are global over the whole batch.
      ignore_index: labels equal to it contribute nothing to loss, gradient or normaliser.
      label_smoothing: ε in [0, 1], spread over the finite-logit classes.
      z_loss: coefficient of the ``lse²`` auxiliary term.
      logit_softcap: optional scalar ``cap > 0``: the loss is taken of ``cap·tanh(logits/cap)``
        (as :func:`jaxloss.linear_cross_entropy`'s; ``-inf`` stays ``-inf``; differentiable).
      class_weights: optional ``[V/n]``, this device's slice of the per-class weights ``w``
        (sharded like the vocabulary; no gradient): the loss is then
        ``w_y[(1 − ε)(lse − x_y) + z·lse²] + ε/K·Σ_finite w_c(lse − x_c)`` and ``"mean"`` divides
        by ``Σ weights·w_y``, as :func:`jaxloss.sparse_softmax_cross_entropy` (PyTorch).
      weights, where, reduction: as every jaxloss loss; ``"none"`` returns this device's rows.

    Returns:
      A float32 (float64 for float64 logits) scalar, or the per-row losses for ``"none"``.

    Communication: one ``psum`` over ``axis_name`` in the forward pass, of ``n × 3`` floats per
    row (``n × 5`` with label smoothing; ``n`` = the axis size: every shard's row max and sums);
    with ``batch_axis_name``, one ``psum`` of 2 floats over it.
    The backward pass needs no collective.

    Invalid input gives exactly the single-device values
    (:func:`jaxloss.sparse_softmax_cross_entropy` on the gathered logits), never a plausible
    number, in every reduction: a NaN logit makes its row's loss and gradient NaN; a ``+inf``
    logit gives NaN for its row (no defined softmax), its gradient NaN at that logit; a row
    whose logits are all ``-inf`` gives ``+inf`` (gradient ``-(1 − ε)`` at the label). A label
    outside ``[0, V)`` (global ``V``) that is not ``ignore_index``, on a row that counts (``where``
    True), gives a NaN loss *and* a NaN gradient for its row, whatever its weight; ``where=False``
    rows give 0 and an exactly-zero gradient. ``jaxloss.checked(vocab_parallel_cross_entropy)``
    reports such labels and NaN / ``+inf`` logits (inside ``shard_map``; wrap the program with
    :func:`jaxloss.checkify`).

    Raises:
      TypeError / ValueError: as the single-device loss, naming this function, for non-float
        logits, non-integer labels, a labels shape other than the logits' (this device's slice)
        without the class axis, a non-int ``ignore_index``, a non-boolean or non-broadcastable
        ``where``, non-broadcastable ``weights``, a non-scalar or out-of-range ``label_smoothing``
        / ``z_loss`` or an unknown ``reduction``.

    Examples:
      >>> import jax, jax.numpy as jnp
      >>> from jax.sharding import AxisType, PartitionSpec as P
      >>> from jaxloss.sharding import vocab_parallel_cross_entropy
      >>> mesh = jax.make_mesh((1,), ("model",), axis_types=(AxisType.Auto,))
      >>> logits = jnp.log(jnp.array([[0.7, 0.2, 0.1]]))
      >>> f = jax.jit(jax.shard_map(
      ...     lambda x, y: vocab_parallel_cross_entropy(x, y, axis_name="model"),
      ...     mesh=mesh, in_specs=(P(None, "model"), P()), out_specs=P()))
      >>> print(f"{float(f(logits, jnp.array([0]))):.4f}")
      0.3567
    """
    name = "vocab_parallel_cross_entropy"
    check_reduction(name, reduction)
    _check_logits_labels(name, logits, labels)
    _check_options(name, np.shape(labels), ignore_index, label_smoothing, z_loss, weights, where)
    _check_softcap(name, logit_softcap)
    check_class_weights(name, class_weights, np.shape(logits)[-1])
    return _vp_cross_entropy(
        logits,
        labels,
        axis_name=axis_name,
        batch_axis_name=batch_axis_name,
        ignore_index=ignore_index,
        label_smoothing=label_smoothing,
        z_loss=z_loss,
        weights=weights,
        where=where,
        reduction=reduction,
        logit_softcap=logit_softcap,
        class_weights=class_weights,
    )


# linear_cross_entropy's methods that the vocabulary-parallel engine path supports: both custom
# VJPs ("checkpoint" would differentiate eng.row_stats' collectives with JAX autodiff)
_VP_METHODS = ("auto", "forward_grad", "recompute")
_VP_UNSUPPORTED_METHODS = ("checkpoint",)


def _check_vp_method(name, method):
    if method in _VP_METHODS:
        return
    allowed = ", ".join(map(repr, _VP_METHODS))
    if isinstance(method, str) and method in _VP_UNSUPPORTED_METHODS:
        raise ValueError(
            f"{name}: 'method' must be one of {allowed} ({method!r} of "
            "jaxloss.linear_cross_entropy, JAX autodiff through the row statistics' all-reduces, "
            f"is not available with the vocabulary split over a mesh axis), got {method!r}"
        )
    raise ValueError(f"{name}: 'method' must be one of {allowed}, got {method!r}")


def _vp_reduction_coefs(y, valid, bad, weights, rows_shape, reduction, batch_axis_name, cw, head):
    """``d reduced / d loss_i`` of :func:`_reduce` (``"mean"`` / ``"sum"``), known before the
    losses: :func:`jaxloss._engine.reduction_coefs` with the mean's denominator ``Σ_valid
    weights·w_y`` global over ``batch_axis_name`` (``w_y`` gathered from the class-weight slices
    by one ``psum``), and NaN on a row that counts and whose label is out of range (its value and
    gradient are NaN, as the single-device loss)."""
    dtype = head.cdt
    tok_w = None
    if weights is not None:
        tok_w = jnp.broadcast_to(jnp.asarray(weights).astype(dtype), rows_shape).reshape(-1)
    denom_w = None
    if reduction == "mean" and cw is not None:
        local_idx, owned = eng.local_tokens(y, cw.shape[0], head.axis)
        wy = lax.psum(jnp.where(owned, cw[local_idx], jnp.zeros((), cw.dtype)), head.axis)
        denom_w = jnp.where(valid, wy, jnp.zeros_like(wy))  # a dropped row's w_y never counts
    coef = eng.reduction_coefs(
        valid, tok_w, reduction, dtype, denom_w=denom_w, batch_axis=batch_axis_name
    )
    # a row that counts with an out-of-range label: a NaN coefficient (whatever its weight), so
    # that the value and the row's gradient are NaN, as in the single-device loss
    return coef * nan_where(bad, dtype)


def _check_softcap(name, logit_softcap):
    if logit_softcap is not None:
        check_scalar(name, "logit_softcap", logit_softcap)
        val.check_positive(name, "logit_softcap", logit_softcap)


# ---------------------------------------------------------------------------------------------
# vocab-parallel linear cross-entropy: chunked over tokens, forward-gradient or recompute
# ---------------------------------------------------------------------------------------------


def vocab_parallel_linear_cross_entropy(
    hidden: ArrayLike,
    weight: ArrayLike,
    labels: ArrayLike,
    *,
    axis_name,
    batch_axis_name=None,
    ignore_index: int | None = None,
    label_smoothing: ArrayLike = 0.0,
    z_loss: ArrayLike = 0.0,
    logit_softcap: ArrayLike | None = None,
    class_weights: ArrayLike | None = None,
    chunk_size: int | None = None,
    weights: ArrayLike | None = None,
    where: ArrayLike | None = None,
    reduction: str = "mean",
    bias: ArrayLike | None = None,
    method: str = "auto",
) -> jax.Array:
    r"""Cross-entropy of ``hidden @ weight (+ bias)`` with ``weight`` split over the vocabulary.

    Call it inside :func:`jax.shard_map`: ``hidden`` ``[..., D]`` is replicated along ``axis_name``
    and ``weight`` is this device's ``[D, V/n]`` column block (shard ``k`` holds classes
    ``[k·V/n, (k+1)·V/n)``; ``bias`` its ``[V/n]`` slice). The loss is
    :func:`vocab_parallel_cross_entropy` of the logits
    :math:`z = \mathrm{cap}\cdot\tanh((hW + b)/\mathrm{cap})` (:math:`z = hW + b` without
    ``logit_softcap``, :math:`b = 0` without ``bias``):

    .. math::
       \ell = w_y\big[(1 - \varepsilon)(\mathrm{lse}(z) - z_y) + \lambda_z\,\mathrm{lse}(z)^2\big]
              + \tfrac{\varepsilon}{K}\textstyle\sum_{c\,\mathrm{finite}} w_c(\mathrm{lse}(z) - z_c)

    (``ε = label_smoothing``, ``λ_z = z_loss``, ``w = class_weights``, 1 without; ``K`` the number
    of finite logits of the row), equal (to rounding) to :func:`jaxloss.linear_cross_entropy` on
    the gathered ``weight`` and ``bias``. It is computed ``chunk_size`` tokens at a time so that
    no device ever holds its ``[tokens, V/n]`` logits (or their gradient).

    Args:
      hidden: ``[..., D]`` hidden states (float32 or bf16/fp16; matmuls accumulate in float32).
      weight: ``[D, V/n]`` this device's slice of the output projection.
      labels: global class ids ``[...]``.
      axis_name: the mesh axis the vocabulary is split over.
      batch_axis_name: as :func:`vocab_parallel_cross_entropy` (``"mean"`` / ``"sum"`` global).
      ignore_index: as :func:`vocab_parallel_cross_entropy`.
      label_smoothing: ε in [0, 1], spread over the finite-logit classes.
      z_loss: coefficient ``λ_z`` of the ``lse²`` auxiliary term.
      logit_softcap: optional scalar ``cap > 0`` applied to ``hidden @ weight + bias``.
      class_weights: optional ``[V/n]``, this device's slice of the class weights (no gradient).
      chunk_size: tokens per chunk (static; default ``min(tokens, 1024)``).
      weights: per-token weights broadcastable to ``labels.shape``.
      where: boolean mask broadcastable to ``labels.shape``; ``False`` drops the token.
      reduction: ``"mean"``, ``"sum"`` or ``"none"`` (``"none"``: this device's rows).
      bias: optional ``[V/n]``, this device's slice of the vocabulary bias ``b`` (sharded like
        ``weight``'s vocabulary axis, e.g. ``in_specs`` ``P("model")``); a ``-inf`` entry masks
        that class (no probability, no smoothing mass, zero gradient), also under the softcap.
        Its gradient, like ``weight``'s, is this device's slice, summed over the batch axis.
      method: ``"auto"`` (default), ``"forward_grad"`` or ``"recompute"``, the engine's two
        custom VJPs as in :func:`jaxloss.linear_cross_entropy` (see Notes); ``"checkpoint"``
        raises ``ValueError`` here (it would differentiate the row statistics' all-reduces with
        JAX autodiff; the engine runs them only under its custom VJPs).

    Returns:
      The reduced loss (float32, or float64 for float64 inputs), or per-row losses for ``"none"``.

    Notes:
      *Implementations* (``method``), with the vocabulary split: ``"forward_grad"`` (Liger-Kernel)
      computes each chunk's logit-gradient block in the forward pass from the reduction's
      per-row coefficients (``"mean"``: ``weights / Σ weights·w_y``, global over
      ``batch_axis_name``), accumulates this device's ``d weight`` / ``d bias`` slices and
      all-reduces ``d hidden`` (and the softcap's and hyperparameters' gradients) over
      ``axis_name`` at the end of the forward pass; the backward pass only scales them by the
      incoming cotangent (3 matmuls per chunk). It serves ``"mean"`` and ``"sum"``; with
      ``"none"`` it runs ``"recompute"``. ``"recompute"`` (Cut Cross-Entropy) keeps only the
      per-row statistics and recomputes each chunk of logits in the backward pass, which then
      all-reduces ``d hidden`` (4 matmuls per chunk). ``"auto"`` = ``"forward_grad"`` for
      ``"mean"`` / ``"sum"``, ``"recompute"`` for ``"none"``, as
      :func:`jaxloss.linear_cross_entropy`. Both give the same values and gradients (to
      rounding); ``"forward_grad"`` does its gradient work even when only the value is needed.

      *Communication* per chunk: forward, the one all-reduce of the vocabulary-parallel loss
      (``n × 3`` floats per token, ``n × 5`` with label smoothing); one all-reduce of the hidden
      gradient (``D`` floats per token) over ``axis_name``, as in Megatron-LM's column-parallel
      output layer, in the backward pass (``"recompute"``) or once at the end of the forward
      pass (``"forward_grad"``, which with class weights and ``"mean"`` also all-reduces
      ``w_y``, 1 float per token, up front).

    Invalid input gives the values of :func:`vocab_parallel_cross_entropy` on the logits
    ``hidden @ weight`` (see there): a NaN in a row of ``hidden`` makes that row's loss NaN (and,
    through the shared ``weight``, its gradient); a label outside ``[0, V)`` that is not
    ``ignore_index`` on a row that counts gives a NaN loss and NaN gradients (hidden row, weight),
    whatever its weight, with either method; a dropped row (``ignore_index``, ``where=False``)
    contributes exactly 0 to the value. ``jaxloss.checked`` reports them. The argument checks
    and messages are :func:`jaxloss.linear_cross_entropy`'s, on this device's arrays.

    Examples:
      >>> import jax, jax.numpy as jnp
      >>> from jax.sharding import AxisType, PartitionSpec as P
      >>> from jaxloss.sharding import vocab_parallel_linear_cross_entropy
      >>> mesh = jax.make_mesh((1,), ("model",), axis_types=(AxisType.Auto,))
      >>> h, w = jnp.ones((4, 3)), jnp.zeros((3, 5))
      >>> f = jax.jit(jax.shard_map(
      ...     lambda h, w, y: vocab_parallel_linear_cross_entropy(h, w, y, axis_name="model"),
      ...     mesh=mesh, in_specs=(P(), P(None, "model"), P()), out_specs=P()))
      >>> print(f"{float(f(h, w, jnp.array([0, 1, 2, 3]))):.4f}")  # uniform over 5 classes: log 5
      1.6094
      >>> b = jnp.array([0.0, 0.0, 0.0, 0.0, -jnp.inf])  # this device's bias slice; masks class 4
      >>> fb = jax.jit(jax.shard_map(
      ...     lambda h, w, b, y: vocab_parallel_linear_cross_entropy(
      ...         h, w, y, axis_name="model", bias=b, method="recompute"),
      ...     mesh=mesh, in_specs=(P(), P(None, "model"), P("model"), P()), out_specs=P()))
      >>> print(f"{float(fb(h, w, b, jnp.array([0, 1, 2, 3]))):.4f}")  # uniform over 4: log 4
      1.3863
    """
    name = "vocab_parallel_linear_cross_entropy"
    # the single-device checks (and messages) of linear_cross_entropy, on this device's arrays
    check_reduction(name, reduction)
    _check_vp_method(name, method)
    check_floating(name, "hidden", hidden)
    check_floating(name, "weight", weight)
    check_integer(name, "labels", labels)
    hidden, weight, labels = jnp.asarray(hidden), jnp.asarray(weight), _wide_labels(labels)
    if hidden.ndim < 1:
        raise ValueError(
            f"{name}: 'hidden' must have rank >= 1 ([..., hidden_dim]), got shape {hidden.shape}"
        )
    if weight.ndim != 2 or hidden.shape[-1] != weight.shape[0]:
        raise ValueError(
            f"{name}: 'weight' must have shape ({hidden.shape[-1]}, vocab/n) "
            f"([hidden_dim, this device's vocabulary slice]), got {weight.shape}"
        )
    if hidden.shape[:-1] != labels.shape:
        raise ValueError(
            f"{name}: 'labels' must have shape {hidden.shape[:-1]} (hidden's leading "
            f"shape), got {labels.shape}"
        )
    if chunk_size is not None and (
        isinstance(chunk_size, bool)
        or not isinstance(chunk_size, (int, np.integer))
        or chunk_size < 1
    ):
        raise ValueError(f"{name}: 'chunk_size' must be a positive int, got {chunk_size!r}")
    if bias is not None:
        bias = jnp.asarray(val.as_float_array(name, "bias", bias))
        if bias.shape != (weight.shape[-1],):
            raise ValueError(
                f"{name}: 'bias' must have shape ({weight.shape[-1]},) (this device's "
                f"vocabulary slice, as weight's last axis), got {bias.shape}"
            )
    rows_shape = labels.shape
    _check_options(name, rows_shape, ignore_index, label_smoothing, z_loss, weights, where)
    _check_softcap(name, logit_softcap)
    check_class_weights(name, class_weights, weight.shape[-1])
    io_dtype = jnp.promote_types(hidden.dtype, weight.dtype)
    hidden, weight = hidden.astype(io_dtype), weight.astype(io_dtype)
    dtype = compute_dtype(hidden)
    smooth, use_z = _maybe_nonzero(label_smoothing), _maybe_nonzero(z_loss)
    eps = jnp.broadcast_to(as_hyper(label_smoothing, dtype), rows_shape).reshape(-1)
    z = jnp.broadcast_to(as_hyper(z_loss, dtype), rows_shape).reshape(-1)
    y = labels.reshape(-1)
    n = y.shape[0]
    chunk, pad = eng.plan(n, chunk_size, 1024)
    cap = _softcap(logit_softcap, dtype)
    cw = _class_weights(class_weights, dtype)
    head = eng.Head(bias is not None, cap is not None, False, chunk, dtype, axis_name)
    eps, z = eng.pad_rows(eps, pad), eng.pad_rows(z, pad)
    hp = eng.pad_rows(hidden.reshape((-1, hidden.shape[-1])), pad)
    consts = () if cw is None else (cw,)
    valid = _valid_rows(labels, ignore_index, where, rows_shape)
    vocab = weight.shape[-1] * lax.axis_size(axis_name)
    # "auto": forward-gradient for "mean" / "sum", recompute for "none" (as linear_cross_entropy)
    if method == "auto":
        method = "recompute" if reduction == "none" else "forward_grad"
    if method == "forward_grad" and reduction != "none":
        # the engine's forward-gradient VJP: the reduction's coefficients are known up front, the
        # forward pass accumulates every gradient (all-reducing the hidden one over axis_name)
        vf = valid.reshape(-1)
        bad = vf & ((y < 0) | (y >= vocab))
        coef = _vp_reduction_coefs(
            y, vf, bad, weights, rows_shape, reduction, batch_axis_name, cw, head
        )
        coefs = (eng.pad_rows(coef, pad),)
        if cw is not None:  # the rule's second output, w_y, is not part of the loss
            coefs += (jnp.zeros_like(coefs[0]),)
        value = eng.total(
            head, _VocabParallelCERule(smooth, use_z, cw is not None, masked=True), hp, weight,
            bias, cap, None, (eng.pad_rows(y, pad), eps, z, eng.pad_rows(vf, pad, False)),
            consts, (eps, z), coefs,
        )  # fmt: skip
        if batch_axis_name is not None:
            value = lax.psum(value, batch_axis_name)
        return value
    # "recompute" (and "forward_grad" with "none", as linear_cross_entropy): the engine's
    # recompute custom VJP
    outs = eng.rows(
        head,
        _VocabParallelCERule(smooth, use_z, cw is not None),
        hp,
        weight,
        bias,
        cap,
        None,
        (eng.pad_rows(y, pad), eps, z),
        consts,
        (eps, z),
    )
    rows = outs[0][:n].reshape(rows_shape)
    wy = None if cw is None else outs[1][:n].reshape(rows_shape)
    rows = _nan_out_of_range(rows, labels, valid, vocab)
    return _reduce(rows, valid, weights, reduction, batch_axis_name, wy)


# ---------------------------------------------------------------------------------------------
# Token log-probabilities (API.md §7) on the engine, vocabulary split over a mesh axis
# ---------------------------------------------------------------------------------------------


def vocab_parallel_token_log_probs(
    logits: ArrayLike,
    tokens: ArrayLike,
    *,
    axis_name,
    temperature: ArrayLike = 1.0,
    return_entropy: bool = False,
) -> jax.Array | tuple[jax.Array, jax.Array]:
    r"""Log-probability of each token with the vocabulary split over mesh axis ``axis_name``.

    Call it inside :func:`jax.shard_map`; ``logits`` is this device's slice ``[..., V/n]`` (shard
    ``k`` holds classes ``[k·V/n, (k+1)·V/n)``), ``tokens`` are global ids. Equal (to rounding) to
    :func:`jaxloss.token_log_probs` of the gathered logits:

    .. math::
       \mathrm{out} = \frac{x_{\mathrm{tokens}}}{\tau} - \log \sum_c e^{x_c / \tau},
       \qquad H = -\sum_c p_c \log p_c = \log S - \frac{1}{S}\sum_c e^{z_c - m}(z_c - m),

    with :math:`z = x/\tau`, :math:`m = \max_c z_c` and :math:`S = \sum_c e^{z_c - m}`.

    Args:
      logits: this device's ``[..., V/n]`` slice; ``-inf`` marks a masked class.
      tokens: global token ids ``[...]`` (the logits' shape without the last axis), replicated
        along ``axis_name``.
      axis_name: the mesh axis the vocabulary is split over.
      temperature: :math:`\tau > 0` (scalar, may be traced; differentiable).
      return_entropy: also return :math:`H` per token.

    Returns:
      ``log_probs`` ``[...]`` in the computation dtype (float32 for half-precision logits), or
      ``(log_probs, entropy)``; replicated along ``axis_name``.

    Communication: the row statistics of the shared engine (:func:`jaxloss._engine.row_stats`):
    one ``psum`` over ``axis_name`` in the forward pass, gathering every shard's ``[row max,
    Σ exp, target logit (, entropy term)]`` (``n × 3`` or ``n × 4`` floats per token, ``n`` the
    axis size). The backward pass
    (a custom VJP on the same rule as :func:`jaxloss.linear_token_log_probs`) needs no collective
    for the logits (only ``temperature``'s scalar gradient is summed).

    Unchecked invalid input (the library's label rule): a token outside ``[0, V)`` (global ``V``)
    gives NaN (value and gradient); a token on a masked class gets ``-inf`` with a zero gradient.

    Examples:
      >>> import jax, jax.numpy as jnp
      >>> from jax.sharding import AxisType, PartitionSpec as P
      >>> from jaxloss.sharding import vocab_parallel_token_log_probs
      >>> mesh = jax.make_mesh((1,), ("model",), axis_types=(AxisType.Auto,))
      >>> logits = jnp.array([[1.0, 2.0, 0.5], [0.0, 0.0, -jnp.inf]])
      >>> f = jax.jit(jax.shard_map(
      ...     lambda x, y: vocab_parallel_token_log_probs(x, y, axis_name="model"),
      ...     mesh=mesh, in_specs=(P(None, "model"), P()), out_specs=P()))
      >>> print(f(logits, jnp.array([1, 0])).round(4))
      [-0.4644 -0.6931]
    """
    name = "vocab_parallel_token_log_probs"
    check_floating(name, "logits", logits)
    check_integer(name, "tokens", tokens)
    check_rank(name, "logits", logits, 1)
    x = jnp.asarray(logits)
    tokens = _wide_labels(tokens)
    if tokens.shape != x.shape[:-1]:
        raise ValueError(
            f"{name}: 'tokens' must have the shape of 'logits' without the last axis, "
            f"{x.shape[:-1]}, got {tokens.shape}"
        )
    val.check_positive(name, "temperature", temperature)
    return_entropy = val.check_bool_flag(name, "return_entropy", return_entropy)
    cdt = compute_dtype(x)
    x2 = as_compute(x, cdt).reshape(-1, x.shape[-1])
    y = tokens.reshape(-1)
    vocab = x.shape[-1] * lax.axis_size(axis_name)
    bad = (y < 0) | (y >= vocab)  # the library's label rule (token_log_probs' out_of_range_nan)
    tok = jnp.where(bad, 0, y).astype(jnp.int32)
    (tau,) = _scalar_hyper(name, cdt, temperature=temperature)
    has_tau = not _is_static_one(temperature)
    head = eng.Head(False, False, has_tau, max(1, y.shape[0]), cdt, axis_name)
    outs = eng.logits_rows(
        head, _TokenRule(return_entropy), x2, None, tau if has_tau else None, (tok, bad), (), ()
    )
    outs = tuple(o.reshape(tokens.shape) for o in outs)
    return outs if return_entropy else outs[0]


def vocab_parallel_linear_token_log_probs(
    hidden: ArrayLike,
    weight: ArrayLike,
    tokens: ArrayLike,
    *,
    axis_name,
    bias: ArrayLike | None = None,
    temperature: ArrayLike = 1.0,
    logit_softcap: ArrayLike | None = None,
    return_entropy: bool = False,
    chunk_size: int | None = None,
) -> jax.Array | tuple[jax.Array, jax.Array]:
    r"""Token log-probabilities of the head ``hidden @ weight (+ bias)``, vocabulary-parallel.

    Call it inside :func:`jax.shard_map`: ``hidden`` ``[..., D]`` is replicated along ``axis_name``
    and ``weight`` is this device's ``[D, V/n]`` column block (``bias`` its ``[V/n]`` slice).
    Equal (to rounding) to :func:`jaxloss.linear_token_log_probs` with the gathered weight: with
    :math:`x = \mathrm{cap}\cdot\tanh((hW + b)/\mathrm{cap})` (:math:`x = hW + b` without
    ``logit_softcap``) and :math:`\tau` = ``temperature``,

    .. math::
       \mathrm{out} = \frac{x_{\mathrm{tokens}}}{\tau} - \log \sum_c e^{x_c / \tau},
       \qquad H = -\sum_c p_c \log p_c, \quad p = \mathrm{softmax}(x / \tau),

    computed ``chunk_size`` tokens at a time by the same engine and rule
    (:mod:`jaxloss._engine`): no device ever holds its ``[tokens, V/n]`` logits.

    Args:
      hidden: ``[..., D]`` hidden states, replicated along ``axis_name``.
      weight: ``[D, V/n]`` this device's slice of the output projection.
      tokens: ``[...]`` global token ids (``hidden``'s leading shape).
      axis_name: the mesh axis the vocabulary is split over.
      bias: optional ``[V/n]`` slice; a ``-inf`` entry masks that class.
      temperature, logit_softcap, return_entropy, chunk_size: as
        :func:`jaxloss.linear_token_log_probs`.

    Returns:
      ``log_probs`` of shape ``tokens.shape``, or ``(log_probs, entropy)``; replicated along
      ``axis_name``.

    Communication per chunk: forward, one ``psum`` gathering every shard's ``[row max, Σ exp,
    target logit (, entropy term)]``; backward (recompute), none for the logit blocks, then
    one all-reduce of the hidden-state gradient (``D`` floats per token) over ``axis_name``, as in
    Megatron-LM's column-parallel output layer (plus the scalar ``τ`` / ``cap`` gradients).
    Gradients w.r.t. ``hidden``, ``weight``, ``bias``, ``temperature`` and ``logit_softcap`` for
    any cotangent on both outputs.

    Unchecked invalid input: as :func:`vocab_parallel_token_log_probs` (out-of-range token: NaN
    value and gradient; token on a masked class: ``-inf``, zero gradient).

    Examples:
      >>> import jax, jax.numpy as jnp
      >>> from jax.sharding import AxisType, PartitionSpec as P
      >>> from jaxloss.sharding import vocab_parallel_linear_token_log_probs
      >>> mesh = jax.make_mesh((1,), ("model",), axis_types=(AxisType.Auto,))
      >>> h, w = jnp.ones((4, 3)), jnp.zeros((3, 5))
      >>> f = jax.jit(jax.shard_map(
      ...     lambda h, w, y: vocab_parallel_linear_token_log_probs(h, w, y, axis_name="model"),
      ...     mesh=mesh, in_specs=(P(), P(None, "model"), P()), out_specs=P()))
      >>> print(f(h, w, jnp.array([0, 1, 2, 3])).round(4))  # uniform over 5 classes: -log 5
      [-1.6094 -1.6094 -1.6094 -1.6094]
    """
    return token_log_probs_core(
        "vocab_parallel_linear_token_log_probs",
        hidden,
        weight,
        tokens,
        bias=bias,
        temperature=temperature,
        logit_softcap=logit_softcap,
        return_entropy=return_entropy,
        chunk_size=chunk_size,
        axis_name=axis_name,
    )


# ---------------------------------------------------------------------------------------------
# Global arrays: place the shard_map for the user
# ---------------------------------------------------------------------------------------------


def sharded_cross_entropy(
    logits: ArrayLike,
    labels: ArrayLike,
    *,
    mesh: Mesh,
    vocab_axis,
    batch_axis=None,
    ignore_index: int | None = None,
    label_smoothing: ArrayLike = 0.0,
    z_loss: ArrayLike = 0.0,
    logit_softcap: ArrayLike | None = None,
    class_weights: ArrayLike | None = None,
    weights: ArrayLike | None = None,
    where: ArrayLike | None = None,
    reduction: str = "mean",
) -> jax.Array:
    r"""Vocabulary-parallel sparse cross-entropy of ordinary (global) arrays.

    Places the :func:`jax.shard_map` itself: ``logits`` ``[B, ..., V]`` are split as
    ``P(batch_axis, ..., vocab_axis)`` over ``mesh`` and ``labels`` ``[B, ...]`` as
    ``P(batch_axis, ...)``, then :func:`vocab_parallel_cross_entropy` runs on each shard. Works
    under ``jax.jit`` with ``NamedSharding``-annotated (or unannotated) arrays; ``V`` must divide by
    the size of ``vocab_axis`` and ``B`` by that of ``batch_axis``.

    Args:
      logits: global logits ``[B, ..., V]``.
      labels: global class ids ``[B, ...]``.
      mesh: the :class:`jax.sharding.Mesh`.
      vocab_axis: mesh axis name the vocabulary is split over.
      batch_axis: mesh axis name (or ``None``) the batch is split over.
      ignore_index, label_smoothing, z_loss, logit_softcap: as
        :func:`jaxloss.sparse_softmax_cross_entropy`.
      class_weights, weights, where, reduction: as :func:`jaxloss.sparse_softmax_cross_entropy`
        (``weights``/``where`` have ``labels``' shape; ``class_weights`` is the global ``[V]``,
        split like the vocabulary).

    Returns:
      The reduced loss, or ``[B, ...]`` per-token losses for ``"none"`` (sharded like ``labels``).

    Raises:
      TypeError / ValueError: the single-device checks and messages of
        :func:`jaxloss.sparse_softmax_cross_entropy` on the global shapes, naming this function;
        and a ``vocab_axis`` / ``batch_axis`` that is not an axis of ``mesh`` (or both the same
        axis), or a vocabulary / batch size that does not divide over its mesh axis.

    Invalid input (NaN / ``±inf`` logits, out-of-range labels) gives the single-device values and
    gradients: see :func:`vocab_parallel_cross_entropy`. ``jaxloss.checked(sharded_cross_entropy)``
    reports such labels and NaN / ``+inf`` logits, with global indices.

    Examples:
      >>> import jax, jax.numpy as jnp
      >>> from jaxloss.sharding import sharded_cross_entropy
      >>> mesh = jax.make_mesh((1, 1), ("data", "model"))
      >>> logits = jnp.log(jnp.array([[0.7, 0.2, 0.1], [0.1, 0.1, 0.8]]))
      >>> loss = sharded_cross_entropy(logits, jnp.array([0, 2]), mesh=mesh, vocab_axis="model",
      ...                              batch_axis="data")
      >>> print(f"{float(loss):.4f}")
      0.2899
    """
    name = "sharded_cross_entropy"
    check_reduction(name, reduction)
    _check_logits_labels(name, logits, labels)
    logits = jnp.asarray(logits)
    labels = jnp.asarray(labels)
    if logits.ndim < 2:
        raise ValueError(f"{name}: 'logits' must be [batch, ..., vocab], got shape {logits.shape}")
    rows = labels.shape
    _check_options(name, rows, ignore_index, label_smoothing, z_loss, weights, where)
    _check_softcap(name, logit_softcap)
    check_class_weights(name, class_weights, logits.shape[-1])
    n_vocab = _mesh_axis_size(name, "vocab_axis", mesh, vocab_axis)
    if batch_axis is not None:
        n_batch = _mesh_axis_size(name, "batch_axis", mesh, batch_axis)
        shared = set(_axis_tuple(vocab_axis)) & set(_axis_tuple(batch_axis))
        if shared:
            raise ValueError(
                f"{name}: 'vocab_axis' and 'batch_axis' must be different mesh axes, both use "
                f"{sorted(shared)!r}"
            )
        if logits.shape[0] % n_batch:
            raise ValueError(
                f"{name}: batch size {logits.shape[0]} does not divide over "
                f"{n_batch} devices of mesh axis {batch_axis!r}"
            )
    if logits.shape[-1] % n_vocab:
        raise ValueError(
            f"{name}: vocabulary size {logits.shape[-1]} does not divide over "
            f"{n_vocab} devices of mesh axis {vocab_axis!r}"
        )
    middle = (None,) * (logits.ndim - 2)
    logits_spec = P(batch_axis, *middle, vocab_axis)
    row_spec = P(batch_axis, *middle)
    dtype = compute_dtype(logits)
    ones = (
        jnp.ones(rows, dtype)
        if weights is None
        else jnp.broadcast_to(jnp.asarray(weights).astype(dtype), rows)
    )
    mask = jnp.ones(rows, bool) if where is None else jnp.broadcast_to(jnp.asarray(where), rows)
    smooth, use_z = _maybe_nonzero(label_smoothing), _maybe_nonzero(z_loss)
    eps = jnp.broadcast_to(as_hyper(label_smoothing, dtype), rows)
    zz = jnp.broadcast_to(as_hyper(z_loss, dtype), rows)

    def local(x, y, w, m, e, z, *opt):
        # validated above on the global arrays: straight to the computation
        opt = list(opt)
        cap = opt.pop(0) if logit_softcap is not None else None
        cw = opt.pop(0) if class_weights is not None else None
        return _vp_cross_entropy(
            x,
            y,
            axis_name=vocab_axis,
            batch_axis_name=batch_axis,
            ignore_index=ignore_index,
            label_smoothing=e if smooth else 0.0,
            z_loss=z if use_z else 0.0,
            weights=w,
            where=m,
            reduction=reduction,
            logit_softcap=cap,
            class_weights=cw,
        )

    out_spec = row_spec if reduction == "none" else P()
    specs = (logits_spec, row_spec, row_spec, row_spec, row_spec, row_spec)
    args = (logits, labels, ones, mask, eps, zz)
    if logit_softcap is not None:  # a scalar, replicated
        specs, args = specs + (P(),), args + (as_hyper(logit_softcap, dtype),)
    if class_weights is not None:  # [V], split like the vocabulary
        specs, args = specs + (P(vocab_axis),), args + (as_hyper(class_weights, dtype),)
    # jit: called eagerly, a bare shard_map would run (and compile) its body op by op (~20x slower)
    fn = jax.jit(jax.shard_map(local, mesh=mesh, in_specs=specs, out_specs=out_spec))
    explicit = any(t == AxisType.Explicit for t in getattr(mesh, "axis_types", ()))
    if explicit:
        # meshes with Explicit axis types (jax.make_mesh's default) need operands placed as the
        # shard_map expects; on Auto meshes shard_map reshards by itself
        args = tuple(
            jax.reshard(a, NamedSharding(mesh, s)) for a, s in zip(args, specs, strict=False)
        )
    return fn(*args)


def _axis_tuple(axis) -> tuple:
    return tuple(axis) if isinstance(axis, (tuple, list)) else (axis,)


def _mesh_axis_size(name, arg, mesh, axis) -> int:
    """The device count along mesh axis (or axes) ``axis``; a named error if not in ``mesh``."""
    names = getattr(mesh, "axis_names", None)
    if names is None:
        raise TypeError(f"{name}: 'mesh' must be a jax.sharding.Mesh, got {type(mesh).__name__}")
    size = 1
    for a in _axis_tuple(axis):
        if a not in names:
            raise ValueError(
                f"{name}: '{arg}'={axis!r} is not an axis of the mesh, whose axes are "
                f"{tuple(names)!r}"
            )
        size *= mesh.shape[a]
    return size
