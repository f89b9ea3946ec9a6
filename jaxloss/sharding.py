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
   logit slice, ``softmax·(1 + 2·z_loss·lse) − (1 − ε)·onehot − ε/K·[finite]``, needs only local data
   plus ``lse``: the backward pass has **no collective** for the logits gradient.

With ``batch_axis_name``, ``"mean"`` is global — ``Σ w·ℓ / Σ w`` over every valid token of the
whole batch, exactly the single-device value — through one more all-reduce of two floats (the local
sum and the local count) over the batch axis.

Communication per token (float32 statistics, ``n`` vocabulary shards): forward, 4 bytes (row max) +
16 bytes (the four sums) all-reduced over the vocabulary axis; backward, nothing for
:func:`vocab_parallel_cross_entropy`. :func:`vocab_parallel_linear_cross_entropy` also all-reduces the
hidden-state gradient, ``D`` floats per token, in the backward pass (as Megatron's column-parallel
output layer does), since ``hidden`` is replicated along the vocabulary axis.
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

from ._numerics import as_hyper, compute_dtype
from ._validation import (
    check_floating,
    check_integer,
    check_label_smoothing,
    check_nonnegative,
    check_reduction,
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

    Returns ``lse`` (logsumexp over the whole vocabulary; ``-inf`` on rows with no finite logit),
    the target logit, and — only when ``smooth`` (label smoothing may be non-zero) — the mean of
    the finite logits and their count K (else zeros, never computed).

    No select touches an [R, V/n] array on the way into a reduction (XLA's CPU reduction fusion
    does not absorb selects, and would write the selected array out): ``exp(−inf − m) = 0`` masks
    itself, and the max is shifted by ``max(m, lowest)`` instead of ``where(isfinite(m), m, 0)``.
    """
    m = lax.pmax(jnp.max(x, axis=-1), axis_name)
    # equal to m on every row with a finite logit; finite (so exp(−inf − m) = 0) on all-masked rows
    m = lax.stop_gradient(jnp.maximum(m, jnp.finfo(x.dtype).min))
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
    has_mass = sumexp > 0
    # logsumexp(x) = m + log Σ exp(x − m); rows without any finite logit get −inf (and loss 0)
    lse = jnp.where(has_mass, m + jnp.log(jnp.where(has_mass, sumexp, 1.0)), -jnp.inf)
    mean_finite = sum_finite / jnp.maximum(n_finite, 1.0)
    return lse, target, mean_finite, n_finite


def _row_loss(lse, target, mean_finite, eps, z):
    """(1 − ε)(lse − x_y) + ε(lse − mean_finite x) + z·lse²; 0 on rows with no finite logit."""
    ok = jnp.isfinite(lse)
    lse0 = jnp.where(ok, lse, 0.0)
    ce = lse0 - target
    smooth = lse0 - mean_finite
    loss = (1.0 - eps) * ce + eps * smooth + z * lse0 * lse0
    return jnp.where(ok, loss, 0.0), ce, smooth, lse0


def _dlogits(x, lse, local_idx, owned, n_finite, eps, z, g, smooth):
    """g·∂ℓ/∂x for the local slice: g·(softmax·(1 + 2z·lse) − (1 − ε)·onehot − ε/K·[finite]).

    One fused pass over ``x``: ``exp(x − lse)`` is 0 on masked (−inf) logits by itself, and the
    one-hot is an iota comparison, never an array.
    """
    ok = jnp.isfinite(lse)
    lse0 = jnp.where(ok, lse, 0.0)
    scale = jnp.where(ok, g, 0.0)
    p = jnp.exp(x - lse0[:, None])
    hot = (jnp.arange(x.shape[-1])[None, :] == local_idx[:, None]) & owned[:, None]
    grad = p * (scale * (1.0 + 2.0 * z * lse0))[:, None] - jnp.where(
        hot, (scale * (1.0 - eps))[:, None], 0.0
    )
    if smooth:
        grad = grad - jnp.where(
            jnp.isfinite(x), (scale * eps / jnp.maximum(n_finite, 1.0))[:, None], 0.0
        )
    return grad


# ---------------------------------------------------------------------------------------------
# vocab-parallel cross-entropy on given logits: custom VJP, no collective in the backward pass
# ---------------------------------------------------------------------------------------------


@functools.partial(jax.custom_vjp, nondiff_argnums=(4, 5))
def _vp_rows(logits, labels, eps, z, axis_name, smooth):
    loss, _ = _vp_rows_fwd(logits, labels, eps, z, axis_name, smooth)
    return loss


def _vp_rows_fwd(logits, labels, eps, z, axis_name, smooth):
    x = logits.astype(eps.dtype)
    local_idx, owned = _local_label(labels, x.shape[-1], axis_name)
    lse, target, mean_finite, n_finite = _row_stats(x, local_idx, owned, axis_name, smooth)
    loss, ce, smoothed, lse0 = _row_loss(lse, target, mean_finite, eps, z)
    return loss, (logits, labels, lse, n_finite, eps, z, smoothed - ce, lse0 * lse0)


def _vp_rows_bwd(axis_name, smooth, res, g):
    logits, labels, lse, n_finite, eps, z, d_eps, d_z = res
    x = logits.astype(eps.dtype)
    local_idx, owned = _local_label(labels, x.shape[-1], axis_name)
    dx = _dlogits(x, lse, local_idx, owned, n_finite, eps, z, g, smooth).astype(logits.dtype)
    ok = jnp.isfinite(lse)
    # ∂ℓ/∂ε = smooth − ce, ∂ℓ/∂z = lse²; only the rows' own g (no collective needed)
    g_eps = _sum_to_vma(jnp.where(ok, g * d_eps, 0.0), eps)
    g_z = _sum_to_vma(jnp.where(ok, g * d_z, 0.0), z)
    return _sum_to_vma(dx, logits), None, g_eps, g_z


_vp_rows.defvjp(_vp_rows_fwd, _vp_rows_bwd)


def _reduce(name, rows, valid, weights, reduction, batch_axis_name):
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


def _hypers(name, dtype, label_smoothing, z_loss, rows_shape):
    check_label_smoothing(name, label_smoothing)
    check_nonnegative(name, "z_loss", z_loss)
    eps = jnp.broadcast_to(as_hyper(label_smoothing, dtype), rows_shape)
    z = jnp.broadcast_to(as_hyper(z_loss, dtype), rows_shape)
    return eps, z


def _may_smooth(label_smoothing) -> bool:
    """False only when label smoothing is known to be exactly 0 at trace time (skips its sums)."""
    v = concrete_or_none(label_smoothing)
    return v is None or bool(np.any(v != 0))


def _valid_rows(labels, ignore_index, where, shape):
    valid = jnp.ones(shape, bool)
    if ignore_index is not None:
        valid = valid & (labels != ignore_index)
    if where is not None:
        valid = valid & jnp.broadcast_to(jnp.asarray(where, bool), shape)
    return valid


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

    Labels outside ``[0, V)`` that are not ``ignore_index`` match no shard: their target logit is
    taken as 0 (unchecked behaviour; :func:`jaxloss.checked` reports them for the single-device loss).

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
    check_floating(name, "logits", logits)
    check_integer(name, "labels", labels)
    logits = jnp.asarray(logits)
    labels = jnp.asarray(labels)
    if logits.shape[:-1] != labels.shape:
        raise ValueError(
            f"{name}: 'labels' must have the logits' shape without the class axis, "
            f"got logits {logits.shape} and labels {labels.shape}"
        )
    dtype = compute_dtype(logits)
    rows_shape = labels.shape
    eps, z = _hypers(name, dtype, label_smoothing, z_loss, rows_shape)
    flat = lambda a: a.reshape((-1,) + a.shape[len(rows_shape) :])
    rows = _vp_rows(
        flat(logits), flat(labels), flat(eps), flat(z), axis_name, _may_smooth(label_smoothing)
    ).reshape(rows_shape)
    valid = _valid_rows(labels, ignore_index, where, rows_shape)
    return _reduce(name, rows, valid, weights, reduction, batch_axis_name)


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
    """``x`` marked as varying over every mesh axis any of ``refs`` varies over (inside shard_map)."""
    axes = set()
    for r in refs:
        axes |= _vma(r)
    axes -= _vma(x)
    return lax.pcast(x, tuple(sorted(axes)), to="varying") if axes else x


def _matmul(h, w, dtype):
    return jnp.matmul(h, w, preferred_element_type=dtype)


@functools.partial(jax.custom_vjp, nondiff_argnums=(5, 6, 7))
def _vp_linear_rows(hidden, weight, labels, eps, z, axis_name, chunk, smooth):
    return _vp_linear_fwd(hidden, weight, labels, eps, z, axis_name, chunk, smooth)[0]


def _vp_linear_fwd(hidden, weight, labels, eps, z, axis_name, chunk, smooth):
    n = hidden.shape[0]
    n_chunks = -(-n // chunk)
    dtype = eps.dtype
    vocab_local = weight.shape[-1]

    def body(_, xs):
        h, y, e, zz = xs
        x = _matmul(h, weight, dtype)  # [chunk, V/n] — the only logits ever held
        local_idx, owned = _local_label(y, vocab_local, axis_name)
        lse, target, mean_finite, n_finite = _row_stats(x, local_idx, owned, axis_name, smooth)
        loss, ce, smoothed, lse0 = _row_loss(lse, target, mean_finite, e, zz)
        return None, (loss, lse, n_finite, smoothed - ce, lse0 * lse0)

    xs = tuple(_chunks(a, n_chunks, chunk) for a in (hidden, labels, eps, z))
    _, outs = lax.scan(body, None, xs)
    loss, lse, n_finite, d_eps, d_z = (o.reshape(-1)[:n] for o in outs)
    return loss, (hidden, weight, labels, eps, z, lse, n_finite, d_eps, d_z)


def _vp_linear_bwd(axis_name, chunk, smooth, res, g):
    hidden, weight, labels, eps, z, lse, n_finite, d_eps, d_z = res
    n = hidden.shape[0]
    n_chunks = -(-n // chunk)
    dtype = eps.dtype
    vocab_local = weight.shape[-1]

    def body(dw, xs):
        h, y, e, zz, l, k, gg = xs
        x = _matmul(h, weight, dtype)  # recomputed chunk of logits
        local_idx, owned = _local_label(y, vocab_local, axis_name)
        dx = _dlogits(x, l, local_idx, owned, k, e, zz, gg, smooth)
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
    ok = jnp.isfinite(lse)
    return (
        _sum_to_vma(dh, hidden),
        _sum_to_vma(dw, weight).astype(weight.dtype),
        None,
        _sum_to_vma(jnp.where(ok, g * d_eps, 0.0), eps),
        _sum_to_vma(jnp.where(ok, g * d_z, 0.0), z),
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
    check_reduction(name, reduction)
    check_floating(name, "hidden", hidden)
    check_floating(name, "weight", weight)
    check_integer(name, "labels", labels)
    hidden, weight, labels = jnp.asarray(hidden), jnp.asarray(weight), jnp.asarray(labels)
    io_dtype = jnp.promote_types(hidden.dtype, weight.dtype)
    hidden, weight = hidden.astype(io_dtype), weight.astype(io_dtype)
    if weight.ndim != 2 or hidden.shape[-1] != weight.shape[0]:
        raise ValueError(
            f"{name}: 'weight' must be [hidden_dim, vocab/n] with hidden_dim = "
            f"hidden.shape[-1]; got hidden {hidden.shape} and weight {weight.shape}"
        )
    if hidden.shape[:-1] != labels.shape:
        raise ValueError(
            f"{name}: 'labels' must have hidden's shape without the feature axis, "
            f"got hidden {hidden.shape} and labels {labels.shape}"
        )
    dtype = compute_dtype(hidden)
    rows_shape = labels.shape
    n = max(1, labels.size)
    if chunk_size is not None and int(chunk_size) <= 0:
        raise ValueError(f"{name}: 'chunk_size' must be positive, got {chunk_size}")
    chunk = min(n, 1024 if chunk_size is None else int(chunk_size))
    eps, z = _hypers(name, dtype, label_smoothing, z_loss, rows_shape)
    h2 = hidden.reshape((-1, hidden.shape[-1]))
    rows = _vp_linear_rows(
        h2,
        weight,
        labels.reshape(-1),
        eps.reshape(-1),
        z.reshape(-1),
        axis_name,
        chunk,
        _may_smooth(label_smoothing),
    ).reshape(rows_shape)
    valid = _valid_rows(labels, ignore_index, where, rows_shape)
    return _reduce(name, rows, valid, weights, reduction, batch_axis_name)


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
    ``P(batch_axis, ...)``, then :func:`vocab_parallel_cross_entropy` runs on each shard. Works under
    ``jax.jit`` with ``NamedSharding``-annotated (or unannotated) arrays; ``V`` must divide by the
    size of ``vocab_axis`` and ``B`` by that of ``batch_axis``.

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
    logits = jnp.asarray(logits)
    labels = jnp.asarray(labels)
    if logits.ndim < 2:
        raise ValueError(f"{name}: 'logits' must be [batch, ..., vocab], got shape {logits.shape}")
    middle = (None,) * (logits.ndim - 2)
    logits_spec = P(batch_axis, *middle, vocab_axis)
    row_spec = P(batch_axis, *middle)
    if mesh.shape[vocab_axis] and logits.shape[-1] % mesh.shape[vocab_axis]:
        raise ValueError(
            f"{name}: vocabulary size {logits.shape[-1]} does not divide over "
            f"{mesh.shape[vocab_axis]} devices of mesh axis {vocab_axis!r}"
        )
    if batch_axis is not None and logits.shape[0] % mesh.shape[batch_axis]:
        raise ValueError(
            f"{name}: batch size {logits.shape[0]} does not divide over "
            f"{mesh.shape[batch_axis]} devices of mesh axis {batch_axis!r}"
        )
    dtype = compute_dtype(logits)
    rows = labels.shape
    ones = (
        jnp.ones(rows, dtype)
        if weights is None
        else jnp.broadcast_to(jnp.asarray(weights).astype(dtype), rows)
    )
    mask = (
        jnp.ones(rows, bool) if where is None else jnp.broadcast_to(jnp.asarray(where, bool), rows)
    )
    eps = jnp.broadcast_to(as_hyper(label_smoothing, dtype), rows)
    zz = jnp.broadcast_to(as_hyper(z_loss, dtype), rows)

    smooth = _may_smooth(label_smoothing)

    def local(x, y, w, m, e, z):
        return vocab_parallel_cross_entropy(
            x,
            y,
            axis_name=vocab_axis,
            batch_axis_name=batch_axis,
            ignore_index=ignore_index,
            label_smoothing=e if smooth else 0.0,
            z_loss=z,
            weights=w,
            where=m,
            reduction=reduction,
        )

    out_spec = row_spec if reduction == "none" else P()
    fn = jax.shard_map(
        local,
        mesh=mesh,
        in_specs=(logits_spec, row_spec, row_spec, row_spec, row_spec, row_spec),
        out_specs=out_spec,
    )
    check_label_smoothing(name, label_smoothing)
    check_nonnegative(name, "z_loss", z_loss)
    args = (logits, labels, ones, mask, eps, zz)
    specs = (logits_spec, row_spec, row_spec, row_spec, row_spec, row_spec)
    explicit = any(t == AxisType.Explicit for t in getattr(mesh, "axis_types", ()))
    if explicit:
        # meshes with Explicit axis types (jax.make_mesh's default) need operands placed as the
        # shard_map expects; on Auto meshes shard_map reshards by itself
        args = tuple(
            jax.reshard(a, NamedSharding(mesh, s)) for a, s in zip(args, specs, strict=False)
        )
    return fn(*args)
