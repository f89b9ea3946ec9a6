"""Cross-entropy with the vocabulary (and the batch) split over a JAX mesh (API.md §4).

Everything here is plain JAX: :func:`jax.shard_map`, :mod:`jax.sharding` meshes and the
collectives :func:`jax.lax.pmax` / :func:`jax.lax.psum`. There is no distribution layer of our own,
so the same code runs on CPU test meshes (``--xla_force_host_platform_device_count``), one or many
GPUs, and multi-host TPU slices (``jax.distributed.initialize()`` plus a global mesh).

The vocabulary-parallel algorithm is Megatron-LM's. Device ``k`` of the ``axis_name`` axis holds the
classes ``[k·V/n, (k+1)·V/n)`` of every row:

1. ``m = pmax(max_j x_j)`` — one all-reduce of one float per row (the row max, for stability);
2. ``psum([Σ exp(x_j − m), x_y, Σ_finite x_j, #finite])`` — one all-reduce of four floats per row,
   carrying the sum of exponentials, the target logit (only the shard that owns the label
   contributes), and the two sums label smoothing needs;
3. ``lse = m + log Σ exp`` and the loss are then known on every shard. The gradient of the local
   logit slice, ``softmax·(1 + 2·z_loss·lse) − (1 − ε)·onehot − ε/K·[finite]``, needs only local
   data plus ``lse``: the backward pass has **no collective** for the logits gradient.

With ``batch_axis_name``, ``"mean"`` is global — ``Σ w·ℓ / Σ w`` over every valid token of the
whole batch, exactly the single-device value — through one more all-reduce of two floats (the local
sum and the local count) over the batch axis.

Communication per token (float32 statistics, ``n`` vocabulary shards): forward, 4 bytes (row max) +
16 bytes (the four sums) all-reduced over the vocabulary axis; backward, nothing for
:func:`vocab_parallel_cross_entropy`. :func:`vocab_parallel_linear_cross_entropy` also all-reduces
the hidden-state gradient, ``D`` floats per token, in the backward pass (as Megatron's
column-parallel output layer does), since ``hidden`` is replicated along the vocabulary axis.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax
from jax.sharding import AxisType, Mesh, NamedSharding
from jax.sharding import PartitionSpec as P
from jax.typing import ArrayLike

from ._numerics import as_hyper, compute_dtype, nan_where
from ._validation import (
    check_broadcastable,
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
]


# ---------------------------------------------------------------------------------------------
# Per-row statistics over a vocabulary split along `axis_name`
# ---------------------------------------------------------------------------------------------


def _local_label(labels, vocab_local, axis_name):
    """(index into the local slice, whether this shard owns the label)."""
    offset = lax.axis_index(axis_name) * vocab_local
    local = labels - offset.astype(labels.dtype)
    owned = (local >= 0) & (local < vocab_local)
    return jnp.where(owned, local, 0), owned


def _row_stats(x, local_idx, owned, axis_name, smooth):
    """Global per-row statistics of logits ``x`` [R, V/n] (float32 or float64).

    Returns ``lse`` (logsumexp over the whole vocabulary), the target logit, and — only when
    ``smooth`` (label smoothing may be non-zero) — the mean of the finite logits and their count K
    (else zeros, never computed). Non-finite rows follow the single-device loss exactly: ``lse`` is
    0 on a row with no finite logit (all ``-inf``; its loss is then ``+inf`` through the target
    logit), ``+inf`` on a row with a ``+inf`` logit, and NaN on a row with a NaN logit.

    No select touches an [R, V/n] array on the way into a reduction (XLA's CPU reduction fusion
    does not absorb selects, and would write the selected array out): ``exp(−inf − m) = 0`` masks
    itself, and the max is clipped to the finite floats instead of selected.
    """
    m = lax.stop_gradient(lax.pmax(jnp.max(x, axis=-1), axis_name))
    finfo = jnp.finfo(x.dtype)
    # the shift: m clipped to the finite floats. Equal to m on every row whose max is finite; on
    # an all-(−inf) row finite (so exp(−inf − m) = 0 and Σ = 0); on a row with a +inf logit the
    # largest float (exp(inf − max) = inf, so lse = +inf, not inf − inf); NaN stays NaN (max and
    # min propagate it, and a NaN logit makes its shard's Σ NaN whatever the shift)
    m = jnp.minimum(jnp.maximum(m, finfo.min), finfo.max)
    sumexp = jnp.sum(jnp.exp(x - m[:, None]), axis=-1)
    picked = jnp.take_along_axis(x, local_idx[:, None], axis=-1)[:, 0]
    target = jnp.where(owned, picked, 0.0)
    if smooth:
        finite = jnp.isfinite(x)
        sum_finite = jnp.sum(jnp.where(finite, x, 0.0), axis=-1)
        n_finite = jnp.sum(finite, axis=-1).astype(x.dtype)
        sumexp, target, sum_finite, n_finite = lax.psum(
            (sumexp, target, sum_finite, n_finite), axis_name
        )
    else:
        sumexp, target = lax.psum((sumexp, target), axis_name)
        sum_finite = n_finite = jnp.zeros_like(sumexp)
    # lse = m + log Σ exp(x − m); 0 on rows without any finite logit (Σ = 0, as single-device).
    # "Σ == 0", not "Σ > 0": a NaN Σ must stay NaN. log(0) = −inf in the unused branch is harmless
    # (no autodiff runs through this: both callers are custom VJPs)
    lse = jnp.where(sumexp == 0, 0.0, m + jnp.log(sumexp))
    mean_finite = sum_finite / jnp.maximum(n_finite, 1.0)
    return lse, target, mean_finite, n_finite


def _row_loss(lse, target, mean_finite, eps, z, smooth, use_z):
    """(1 − ε)(lse − x_y) + ε(lse − mean_finite x) + z·lse², and its ∂/∂ε and ∂/∂z.

    The ε terms are there only when ``smooth`` and the z term only when ``use_z`` (each False only
    when its coefficient is a concrete 0), as in the single-device loss: an all-``-inf`` row stays
    ``+inf`` rather than ``0 · inf``. Non-finite rows are not masked: that ``+inf`` and NaN
    propagate, and a row with a ``+inf`` logit is NaN (the single-device rule).
    """
    ce = lse - target
    loss = ce
    d_eps = jnp.zeros_like(ce)
    if smooth:
        smoothed = lse - mean_finite
        loss = (1.0 - eps) * ce + eps * smoothed
        d_eps = smoothed - ce
    d_z = lse * lse
    if use_z:
        loss = loss + z * d_z
    # a +inf logit (lse = +inf, and only then): NaN for that row, as the single-device loss
    loss = loss * nan_where(lse == jnp.inf, loss.dtype)
    return loss, d_eps, d_z


def _dlogits(x, lse, local_idx, owned, n_finite, eps, z, g, smooth, use_z):
    """g·∂ℓ/∂x for the local slice: g·(softmax·(1 + 2z·lse) − (1 − ε)·onehot − ε/K·[finite]).

    One fused pass over ``x``: ``exp(x − lse)`` is 0 on masked (−inf) logits by itself, and the
    one-hot is an iota comparison, never an array. Non-finite rows give the single-device
    gradient: NaN rows NaN; a ``+inf`` logit NaN at that logit (``exp(inf − inf)``); an all-``-inf``
    row ``−g(1 − ε)`` at the label.
    """
    p = jnp.exp(x - lse[:, None])
    coef = g * (1.0 + 2.0 * z * lse) if use_z else g
    hot_scale = g * (1.0 - eps) if smooth else g
    hot = (jnp.arange(x.shape[-1])[None, :] == local_idx[:, None]) & owned[:, None]
    grad = p * coef[:, None] - jnp.where(hot, hot_scale[:, None], 0.0)
    if smooth:
        grad = grad - jnp.where(
            jnp.isfinite(x), (g * eps / jnp.maximum(n_finite, 1.0))[:, None], 0.0
        )
    return grad


def _row_cotangent(g, d):
    """``g · d`` per row, exactly 0 where ``g == 0`` (an ignored row's ∞ adds no 0 · ∞ = NaN)."""
    return jnp.where(g == 0, 0.0, g * d)


# ---------------------------------------------------------------------------------------------
# vocab-parallel cross-entropy on given logits: custom VJP, no collective in the backward pass
# ---------------------------------------------------------------------------------------------


@functools.partial(jax.custom_vjp, nondiff_argnums=(4, 5, 6))
def _vp_rows(logits, labels, eps, z, axis_name, smooth, use_z):
    loss, _ = _vp_rows_fwd(logits, labels, eps, z, axis_name, smooth, use_z)
    return loss


def _vp_rows_fwd(logits, labels, eps, z, axis_name, smooth, use_z):
    x = logits.astype(eps.dtype)
    local_idx, owned = _local_label(labels, x.shape[-1], axis_name)
    lse, target, mean_finite, n_finite = _row_stats(x, local_idx, owned, axis_name, smooth)
    loss, d_eps, d_z = _row_loss(lse, target, mean_finite, eps, z, smooth, use_z)
    return loss, (logits, labels, lse, n_finite, eps, z, d_eps, d_z)


def _vp_rows_bwd(axis_name, smooth, use_z, res, g):
    logits, labels, lse, n_finite, eps, z, d_eps, d_z = res
    x = logits.astype(eps.dtype)
    local_idx, owned = _local_label(labels, x.shape[-1], axis_name)
    dx = _dlogits(x, lse, local_idx, owned, n_finite, eps, z, g, smooth, use_z)
    # ∂ℓ/∂ε = smooth − ce, ∂ℓ/∂z = lse²; only the rows' own g (no collective needed)
    g_eps = _row_cotangent(g, d_eps) if smooth else jnp.zeros_like(eps)
    g_z = _row_cotangent(g, d_z) if use_z else jnp.zeros_like(z)
    return (
        _sum_to_vma(dx.astype(logits.dtype), logits),
        None,
        _sum_to_vma(g_eps, eps),
        _sum_to_vma(g_z, z),
    )


_vp_rows.defvjp(_vp_rows_fwd, _vp_rows_bwd)


def _nan_out_of_range(rows, labels, valid, vocab):
    """Rows whose label is outside ``[0, vocab)`` and that count (``valid``) become NaN.

    The single-device rule: such a row's loss is NaN *and* so is its gradient. Multiplying by
    ``1 + (inf − inf)`` makes the row's cotangent NaN too, so the custom VJPs return a NaN logit
    row (and NaN ε / z contributions); on every other row the factor is exactly 1, and the NaN is
    created only on bad rows (valid input never makes one, even under ``jax_debug_nans``).
    """
    bad = valid & ((labels < 0) | (labels >= vocab))
    return rows * nan_where(bad, rows.dtype)


def _reduce(rows, valid, weights, reduction, batch_axis_name):
    """Masked, weighted reduction of per-row losses; global over ``batch_axis_name`` if given."""
    w = valid.astype(rows.dtype)
    if weights is not None:
        w = w * jnp.broadcast_to(jnp.asarray(weights).astype(rows.dtype), rows.shape)
    # select, never multiply: ignored rows contribute exactly 0 whatever their value
    contrib = jnp.where(valid, w * rows, 0.0)
    if reduction == "none":
        return contrib
    total = jnp.sum(contrib)
    count = lax.stop_gradient(jnp.sum(w))
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
    shape = jnp.shape(logits)
    expected = tuple(shape[:-1])
    if jnp.shape(labels) != expected:
        raise ValueError(
            f"{name}: 'labels' must have the shape of 'logits' without the class axis "
            f"(axis={len(shape) - 1}), i.e. {expected}, got {jnp.shape(labels)}"
        )


def _vp_cross_entropy(
    logits, labels, *, axis_name, batch_axis_name, ignore_index, label_smoothing, z_loss,
    weights, where, reduction,
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

    rows = _vp_rows(
        flat(logits), flat(labels), flat(eps), flat(z), axis_name, smooth, use_z
    ).reshape(rows_shape)
    valid = _valid_rows(labels, ignore_index, where, rows_shape)
    vocab = logits.shape[-1] * lax.axis_size(axis_name)
    rows = _nan_out_of_range(rows, labels, valid, vocab)
    return _reduce(rows, valid, weights, reduction, batch_axis_name)


def vocab_parallel_cross_entropy(
    logits: ArrayLike,
    labels: ArrayLike,
    *,
    axis_name,
    batch_axis_name=None,
    ignore_index: int | None = None,
    label_smoothing: ArrayLike = 0.0,
    z_loss: ArrayLike = 0.0,
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
      weights, where, reduction: as every jaxloss loss; ``"none"`` returns this device's rows.

    Returns:
      A float32 (float64 for float64 logits) scalar, or the per-row losses for ``"none"``.

    Communication: one ``pmax`` (1 float per row) and one ``psum`` (4 floats per row) over
    ``axis_name`` in the forward pass; with ``batch_axis_name``, one ``psum`` of 2 floats over it.
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
      >>> f = jax.shard_map(lambda x, y: vocab_parallel_cross_entropy(x, y, axis_name="model"),
      ...                   mesh=mesh, in_specs=(P(None, "model"), P()), out_specs=P())
      >>> print(f"{float(f(logits, jnp.array([0]))):.4f}")
      0.3567
    """
    name = "vocab_parallel_cross_entropy"
    check_reduction(name, reduction)
    _check_logits_labels(name, logits, labels)
    _check_options(name, jnp.shape(labels), ignore_index, label_smoothing, z_loss, weights, where)
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
    )


# ---------------------------------------------------------------------------------------------
# vocab-parallel linear cross-entropy: chunked over tokens, recompute in the backward pass
# ---------------------------------------------------------------------------------------------


def _chunks(a, n_chunks, chunk):
    pad = n_chunks * chunk - a.shape[0]
    a = jnp.pad(a, [(0, pad)] + [(0, 0)] * (a.ndim - 1))
    return a.reshape((n_chunks, chunk) + a.shape[1:])


def _vma(x) -> set:
    """The manual mesh axes ``x`` varies over inside shard_map (empty outside)."""
    aval = jax.typeof(x)
    mat = getattr(aval, "mat", None)  # jax >= 0.9 keeps it as aval.mat.varying
    return set(getattr(mat, "varying", None) or getattr(aval, "vma", None) or ())


def _sum_to_vma(ct, primal):
    """Cotangent ``ct`` summed over the mesh axes it varies over but its primal does not.

    A value invariant along a mesh axis (weights replicated over the data axis, say) receives the
    sum of every shard's contribution — the data-parallel gradient all-reduce.
    """
    extra = _vma(ct) - _vma(primal)
    return lax.psum(ct, tuple(sorted(extra))) if extra else ct


def _pvary_like(x, *refs):
    """``x`` marked as varying over every mesh axis any of ``refs`` varies over.

    For use inside shard_map.
    """
    axes = set()
    for r in refs:
        axes |= _vma(r)
    axes -= _vma(x)
    return lax.pcast(x, tuple(sorted(axes)), to="varying") if axes else x


def _matmul(h, w, dtype):
    return jnp.matmul(h, w, preferred_element_type=dtype)


@functools.partial(jax.custom_vjp, nondiff_argnums=(5, 6, 7, 8))
def _vp_linear_rows(hidden, weight, labels, eps, z, axis_name, chunk, smooth, use_z):
    return _vp_linear_fwd(hidden, weight, labels, eps, z, axis_name, chunk, smooth, use_z)[0]


def _vp_linear_fwd(hidden, weight, labels, eps, z, axis_name, chunk, smooth, use_z):
    n = hidden.shape[0]
    n_chunks = -(-n // chunk)
    dtype = eps.dtype
    vocab_local = weight.shape[-1]

    def body(_, xs):
        h, y, e, zz = xs
        x = _matmul(h, weight, dtype)  # [chunk, V/n] — the only logits ever held
        local_idx, owned = _local_label(y, vocab_local, axis_name)
        lse, target, mean_finite, n_finite = _row_stats(x, local_idx, owned, axis_name, smooth)
        loss, d_eps, d_z = _row_loss(lse, target, mean_finite, e, zz, smooth, use_z)
        return None, (loss, lse, n_finite, d_eps, d_z)

    xs = tuple(_chunks(a, n_chunks, chunk) for a in (hidden, labels, eps, z))
    _, outs = lax.scan(body, None, xs)
    loss, lse, n_finite, d_eps, d_z = (o.reshape(-1)[:n] for o in outs)
    return loss, (hidden, weight, labels, eps, z, lse, n_finite, d_eps, d_z)


def _vp_linear_bwd(axis_name, chunk, smooth, use_z, res, g):
    hidden, weight, labels, eps, z, lse, n_finite, d_eps, d_z = res
    n = hidden.shape[0]
    n_chunks = -(-n // chunk)
    dtype = eps.dtype
    vocab_local = weight.shape[-1]

    def body(dw, xs):
        h, y, e, zz, lse_c, k, gg = xs
        x = _matmul(h, weight, dtype)  # recomputed chunk of logits
        local_idx, owned = _local_label(y, vocab_local, axis_name)
        dx = _dlogits(x, lse_c, local_idx, owned, k, e, zz, gg, smooth, use_z)
        # hidden is replicated along axis_name: its gradient sums every shard's contribution
        dh = lax.psum(_matmul(dx.astype(weight.dtype), weight.T, dtype), axis_name)
        dw = dw + _matmul(h.T, dx.astype(h.dtype), dtype)
        return dw, dh

    xs = tuple(_chunks(a, n_chunks, chunk) for a in (hidden, labels, eps, z, lse, n_finite, g))
    # inside shard_map the accumulator must vary over the same mesh axes as its updates
    dw0 = _pvary_like(jnp.zeros(weight.shape, dtype), hidden, weight, g)
    # padded rows have g = 0, so they add nothing to dw
    dw, dh = lax.scan(body, dw0, xs)
    dh = dh.reshape((-1, hidden.shape[-1]))[:n].astype(hidden.dtype)
    g_eps = _row_cotangent(g, d_eps) if smooth else jnp.zeros_like(eps)
    g_z = _row_cotangent(g, d_z) if use_z else jnp.zeros_like(z)
    return (
        _sum_to_vma(dh, hidden),
        _sum_to_vma(dw, weight).astype(weight.dtype),
        None,
        _sum_to_vma(g_eps, eps),
        _sum_to_vma(g_z, z),
    )


_vp_linear_rows.defvjp(_vp_linear_fwd, _vp_linear_bwd)


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
    chunk_size: int | None = None,
    weights: ArrayLike | None = None,
    where: ArrayLike | None = None,
    reduction: str = "mean",
) -> jax.Array:
    r"""Cross-entropy of ``hidden @ weight`` with ``weight`` split over the vocabulary, fused.

    Call it inside :func:`jax.shard_map`: ``hidden`` ``[..., D]`` is replicated along ``axis_name``
    and ``weight`` is this device's ``[D, V/n]`` column block (shard ``k`` holds classes
    ``[k·V/n, (k+1)·V/n)``). The loss is :func:`vocab_parallel_cross_entropy` of the logits
    ``hidden @ weight``, computed ``chunk_size`` tokens at a time so that no device ever holds its
    ``[tokens, V/n]`` logits (or their gradient): the backward pass recomputes each chunk of logits
    from the stored per-row logsumexp.

    Args:
      hidden: ``[..., D]`` hidden states (float32 or bf16/fp16; matmuls accumulate in float32).
      weight: ``[D, V/n]`` this device's slice of the output projection.
      labels: global class ids ``[...]``.
      axis_name, batch_axis_name, ignore_index, label_smoothing, z_loss, weights, where, reduction:
        as :func:`vocab_parallel_cross_entropy`.
      chunk_size: tokens per chunk (static; default ``min(tokens, 1024)``).

    Returns:
      The reduced loss (float32, or float64 for float64 inputs), or per-row losses for ``"none"``.

    Communication per chunk: forward, the two all-reduces of the vocabulary-parallel loss
    (5 floats per token); backward, one all-reduce of the hidden gradient (``D`` floats per token)
    over ``axis_name``, as in Megatron-LM's column-parallel output layer.

    Invalid input gives the values of :func:`vocab_parallel_cross_entropy` on the logits
    ``hidden @ weight`` (see there): a NaN in a row of ``hidden`` makes that row's loss NaN (and,
    through the shared ``weight``, its gradient); a label outside ``[0, V)`` that is not
    ``ignore_index`` on a row that counts gives a NaN loss and NaN gradients (hidden row, weight).
    ``jaxloss.checked`` reports them. The argument checks and messages are
    :func:`jaxloss.linear_cross_entropy`'s, on this device's arrays.

    Examples:
      >>> import jax, jax.numpy as jnp
      >>> from jax.sharding import AxisType, PartitionSpec as P
      >>> from jaxloss.sharding import vocab_parallel_linear_cross_entropy
      >>> mesh = jax.make_mesh((1,), ("model",), axis_types=(AxisType.Auto,))
      >>> h, w = jnp.ones((4, 3)), jnp.zeros((3, 5))
      >>> f = jax.shard_map(
      ...     lambda h, w, y: vocab_parallel_linear_cross_entropy(h, w, y, axis_name="model"),
      ...     mesh=mesh, in_specs=(P(), P(None, "model"), P()), out_specs=P())
      >>> print(f"{float(f(h, w, jnp.array([0, 1, 2, 3]))):.4f}")  # uniform over 5 classes: log 5
      1.6094
    """
    name = "vocab_parallel_linear_cross_entropy"
    # the single-device checks (and messages) of linear_cross_entropy, on this device's arrays
    check_reduction(name, reduction)
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
    rows_shape = labels.shape
    _check_options(name, rows_shape, ignore_index, label_smoothing, z_loss, weights, where)
    io_dtype = jnp.promote_types(hidden.dtype, weight.dtype)
    hidden, weight = hidden.astype(io_dtype), weight.astype(io_dtype)
    dtype = compute_dtype(hidden)
    n = max(1, labels.size)
    chunk = min(n, 1024 if chunk_size is None else int(chunk_size))
    smooth, use_z = _maybe_nonzero(label_smoothing), _maybe_nonzero(z_loss)
    eps = jnp.broadcast_to(as_hyper(label_smoothing, dtype), rows_shape)
    z = jnp.broadcast_to(as_hyper(z_loss, dtype), rows_shape)
    h2 = hidden.reshape((-1, hidden.shape[-1]))
    rows = _vp_linear_rows(
        h2,
        weight,
        labels.reshape(-1),
        eps.reshape(-1),
        z.reshape(-1),
        axis_name,
        chunk,
        smooth,
        use_z,
    ).reshape(rows_shape)
    valid = _valid_rows(labels, ignore_index, where, rows_shape)
    rows = _nan_out_of_range(rows, labels, valid, weight.shape[-1] * lax.axis_size(axis_name))
    return _reduce(rows, valid, weights, reduction, batch_axis_name)


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
      ignore_index, label_smoothing, z_loss, weights, where, reduction: as
        :func:`jaxloss.sparse_softmax_cross_entropy` (``weights``/``where`` have ``labels``' shape).

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

    def local(x, y, w, m, e, z):
        # validated above on the global arrays: straight to the computation
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
        )

    out_spec = row_spec if reduction == "none" else P()
    specs = (logits_spec, row_spec, row_spec, row_spec, row_spec, row_spec)
    # jit: called eagerly, a bare shard_map would run (and compile) its body op by op (~20x slower)
    fn = jax.jit(jax.shard_map(local, mesh=mesh, in_specs=specs, out_specs=out_spec))
    args = (logits, labels, ones, mask, eps, zz)
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
