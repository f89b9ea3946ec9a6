"""Fused linear cross-entropy: the loss of ``hidden @ weight (+ bias)`` without the full logits.

The ``[tokens, vocab]`` logits of a language-model head are the largest tensor of a training step.
:func:`linear_cross_entropy` computes the sparse softmax cross-entropy of ``hidden @ weight`` in
chunks of ``chunk_size`` tokens (``lax.scan``), so at most one ``[chunk_size, vocab]`` block of
logits (and of their gradient) exists at a time. Three implementations share one formula:

* ``"forward_grad"`` (Liger-Kernel's technique): a ``jax.custom_vjp`` whose forward pass also
  computes the gradient block of every chunk and keeps ``d hidden`` and the accumulated
  ``d weight`` / ``d bias``; the backward pass only scales them by the incoming cotangent. Three
  matmuls in all (the same count as the unfused loss). Needs the reduction coefficients in the
  forward pass, so it serves ``reduction="mean"`` / ``"sum"``; ``"none"`` uses ``"recompute"``.
* ``"recompute"`` (Apple's Cut Cross-Entropy): a ``jax.custom_vjp`` that keeps only the per-token
  logsumexp and recomputes each logit block in the backward pass. Four matmuls.
* ``"checkpoint"``: plain JAX autodiff through ``lax.scan`` with ``jax.checkpoint`` per chunk. The
  only path with forward-mode (``jax.jvp``) and second-order derivatives; slower.

``method="auto"`` (the default) picks ``"forward_grad"`` for ``"mean"`` / ``"sum"`` and
``"recompute"`` for ``"none"``; this was chosen by measurement on CPU (``bench/RESULTS.md``).

The chunking, the scan, the logit block (bias, softcap) and both custom VJPs are those of the
shared engine (:mod:`jaxloss._engine`); this module is its cross-entropy rule (``_CERule``: per-row
statistics, loss and block gradient) plus the ``"checkpoint"`` path, which differentiates the same
per-row statistics with JAX.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax
from jax.typing import ArrayLike

from . import _engine as eng
from . import _numerics as num
from . import _validation as val
from ._numerics import as_hyper, class_sum_scale, compute_dtype, nan_where
from ._reduction import apply_reduction
from ._validation import (
    check_broadcastable,
    check_class_weights,
    check_reduction,
    concrete_or_none,
)

__all__ = ["linear_cross_entropy"]

_NAME = "linear_cross_entropy"
METHODS = ("auto", "forward_grad", "recompute", "checkpoint")
# Tokens per chunk when ``chunk_size=None``; chosen by measurement on CPU (bench/RESULTS.md).
DEFAULT_CHUNK_SIZE = 128


# --------------------------------------------------------------------------------------------
# The cross-entropy rule of the chunked engine (jaxloss/_engine.py): per-token statistics of one
# block of logits, the per-token loss and the block's gradient
# --------------------------------------------------------------------------------------------


class _Consts:
    """Per-call constants: K (existing classes), W_f = Σ_{c existing} w_c, masked class weights."""

    def __init__(self, head, w, b, cw):
        vocab = w.shape[1]
        self.cwv = None
        if head.has_bias:
            fin = jnp.isfinite(b)
            # K = 0 only when the bias masks every class (valid only for a batch with no valid
            # token); every Σ over existing classes is then empty, so K is read as 1, not 0/0
            self.k = jnp.maximum(jnp.sum(fin), 1).astype(head.cdt)
        else:
            fin = None
            self.k = jnp.asarray(vocab, head.cdt)
        # sums over classes are taken of h·(z − m) (overflow-free, exact): S is carried as h·S
        self.h = class_sum_scale(vocab, head.cdt)
        if cw is None:
            self.wf = self.k
        else:
            self.cwv = cw if fin is None else jnp.where(fin, cw, jnp.zeros_like(cw))
            self.wf = jnp.sum(self.cwv)


def _row_stats(smooth, z, y, consts):
    """Per-token logsumexp, target logit and (with smoothing) h·S of one block.

    S = Σ_c w_c (lse − z_c). Autodiff-safe (the ``"checkpoint"`` method differentiates it).
    """
    m, lse_m = eng.block_lse(z)
    lse = m + lse_m
    zy = jnp.take_along_axis(z, y[:, None], axis=1)[:, 0]
    sw = None
    if smooth:
        # Σ over existing (finite-logit) classes only: the masked vocabulary gets no smoothing mass
        h = consts.h
        zf = jnp.where(jnp.isfinite(z), z * h - m[:, None] * h, jnp.zeros_like(z))
        sw = _smoothing_sum(consts, lse_m, zf)
    return lse, zy, sw


def _smoothing_sum(consts, lse_m, zf):
    """h·S, S = Σ_c w_c (lse − z_c) = W_f·(lse − m) − Σ_c w_c (z_c − m), from ``zf`` = h·(z − m)
    (0 where masked; h = ``consts.h``, :func:`_numerics.class_sum_scale`: no overflow of z − m).

    Both terms are relative to the row max m, so a one-class row gives exactly 0 (not the rounding
    residue of W_f·lse − Σ w_c z_c, which the fuzzer caught slightly below 0)."""
    sum_zf = jnp.sum(zf, axis=1) if consts.cwv is None else zf @ consts.cwv
    return consts.wf * lse_m * consts.h - sum_zf


def _poison(x, valid, in_range):
    """``x`` per token; NaN on a kept token whose label is out of range (value and gradient)."""
    return x * nan_where(valid & ~in_range, x.dtype)


def _ce_row(rule, lse, zy, sw, cwy, eps, zl, consts):
    """:func:`jaxloss._numerics.sparse_ce_row` of one block's statistics (terms the rule has)."""
    eps, zl = rule.terms(eps, zl)
    return num.sparse_ce_row(
        lse - zy, lse, w_y=cwy, eps=eps, z_loss=zl, smooth_h=sw, k=consts.k, h=consts.h
    )


def _row_loss(rule, lse, zy, sw, cwy, valid, in_range, eps, zl, consts):
    """w_y[(1−ε)(lse − z_y) + z_loss·lse²] + (ε/K) Σ_c w_c (lse − z_c): the library's one
    per-row formula, :func:`jaxloss._numerics.sparse_ce_row` (the (ε/K) term is PyTorch's)."""
    # double where: a dropped token's statistics may be ±inf (a padding row of a fully masked
    # vocabulary has lse = z_y = −inf); zeroed before the arithmetic, no NaN reaches a derivative
    lse, zy = (jnp.where(valid, a, jnp.zeros_like(a)) for a in (lse, zy))
    sw = None if sw is None else jnp.where(valid, sw, jnp.zeros_like(sw))
    main, _, _ = _ce_row(rule, lse, zy, sw, cwy, eps, zl, consts)
    # out-of-range labels are invalid input: nan, as sparse_softmax_cross_entropy; a product, so
    # that under autodiff ("checkpoint") the token's gradient is NaN too
    main = _poison(main, valid, in_range)
    return jnp.where(valid, main, jnp.zeros_like(main))


def _grad_block(rule, z, y, cwy, valid, in_range, g, lse, eps, zl, consts):
    """d(Σ_i g_i·loss_i)/d z (final logits) of one chunk
    (:func:`jaxloss._numerics.sparse_ce_grad_coefs`)."""
    # dropped tokens: 0; a kept token with an out-of-range label: NaN (its loss is NaN)
    g = jnp.where(valid, _poison(g, valid, in_range), jnp.zeros_like(g))
    # a row without a finite logit (a padding token when the bias masks the whole vocabulary; its
    # g is 0) has lse = −inf: 0·lse and exp(−inf − (−inf)) would be NaN, so lse is read as 0 there
    lse = jnp.where(lse == -jnp.inf, jnp.zeros_like(lse), lse)
    eps, zl = rule.terms(eps, zl)
    w_f = None if cwy is None else consts.wf
    coef, hot, unit = num.sparse_ce_grad_coefs(
        lse, g=g, w_y=cwy, eps=eps, z_loss=zl, w_f=w_f, k=consts.k
    )
    p = jnp.exp(z - lse[:, None])
    onehot = lax.broadcasted_iota(y.dtype, z.shape, 1) == y[:, None]
    exists = None if eps is None else jnp.isfinite(z)
    cw = None if consts.cwv is None else consts.cwv[None, :]
    return num.sparse_ce_grad(p, coef, hot, unit, onehot, exists, cw)


def _hyper_grads(rule, head, g, lse, zy, sw, cwy, valid, eps, zl, consts):
    """d(Σ g_i loss_i)/dε and /d z_loss from the per-token statistics."""

    def valid_sum(x):  # drop invalid rows by a select, not g = 0: their statistics may be ±inf
        return jnp.sum(jnp.where(valid, g * x, jnp.zeros_like(x)))

    _, d_eps, d_z = _ce_row(rule, lse, zy, sw, cwy, eps, zl, consts)
    deps = valid_sum(d_eps) if rule.smooth else jnp.zeros((), head.cdt)
    dzl = valid_sum(d_z) if rule.zloss else jnp.zeros((), head.cdt)
    return deps.astype(jnp.result_type(eps)), dzl.astype(jnp.result_type(zl))


class _CERule(eng.Rule):
    """Sparse softmax cross-entropy with smoothing, z-loss and class weights, per token.

    xs = (labels, w_y or None, valid, in_range); consts = (class weights or None,);
    params = (ε, z_loss); residuals (lse, z_y, h·S or None).
    """

    def __init__(self, smooth: bool, zloss: bool):
        self.smooth = smooth  # label smoothing term present
        self.zloss = zloss  # z-loss term present
        self.key = (smooth, zloss)

    def terms(self, eps, zl):
        """``(ε, z_loss)`` with ``None`` for a term the rule does not have."""
        return (eps if self.smooth else None), (zl if self.zloss else None)

    def context(self, head, w, b, consts, params):
        return _Consts(head, w, b, consts[0])

    def forward(self, head, ctx, z, ex, xs_c, consts, params):
        y, cwy, valid, in_range = xs_c
        eps, zl = params
        lse, zy, sw = _row_stats(self.smooth, z, y, ctx)
        loss = _row_loss(self, lse, zy, sw, cwy, valid, in_range, eps, zl, ctx)
        return (loss,), (lse, zy, sw)

    def backward(self, head, ctx, z, ex, xs_c, res_c, gs_c, consts, params):
        y, cwy, valid, in_range = xs_c
        eps, zl = params
        dz = _grad_block(self, z, y, cwy, valid, in_range, gs_c[0], res_c[0], eps, zl, ctx)
        return dz, None

    def finish(self, head, ctx, xs, res, gs, consts, params):
        _, cwy, valid, in_range = xs
        lse, zy, sw = res
        g = _poison(gs[0], valid, in_range)
        return _hyper_grads(self, head, g, lse, zy, sw, cwy, valid, *params, ctx)


# --------------------------------------------------------------------------------------------
# Checkpoint: plain autodiff (supports jvp and higher order), rematerialised per chunk
# --------------------------------------------------------------------------------------------


def _rows_checkpoint(head, rule, h, w, b, cap, xs, cw, eps, zl):
    consts = _Consts(head, w, b, cw)

    @jax.checkpoint
    def chunk_loss(h_c, xs_c, w, b, eps, zl, cap):
        y_c, cwy_c, v_c, r_c = xs_c
        z, _ = eng.logit_block(head, h_c, w, b, cap, None)
        # the same per-token statistics as the custom-VJP paths, differentiated by JAX
        lse, zy, sw = _row_stats(rule.smooth, z, y_c, consts)
        return _row_loss(rule, lse, zy, sw, cwy_c, v_c, r_c, eps, zl, consts)

    def body(_, inp):
        h_c, xs_c = inp
        return None, chunk_loss(h_c, xs_c, w, b, eps, zl, cap)

    _, loss = lax.scan(body, None, eng.chunks((h, xs), head.chunk))
    return loss.reshape(-1)


# --------------------------------------------------------------------------------------------
# Public function
# --------------------------------------------------------------------------------------------


def _is_static_zero(value) -> bool:
    v = concrete_or_none(value)
    return v is not None and v.shape == () and float(v) == 0.0


@val.declare_ranges(
    label_smoothing=val.UNIT_INTERVAL,
    z_loss=val.NONNEGATIVE,
    logit_softcap=val.POSITIVE,
    class_weights=val.REAL,
)
def linear_cross_entropy(
    hidden: ArrayLike,
    weight: ArrayLike,
    labels: ArrayLike,
    *,
    bias: ArrayLike | None = None,
    ignore_index: int | None = None,
    label_smoothing: ArrayLike = 0.0,
    class_weights: ArrayLike | None = None,
    z_loss: ArrayLike = 0.0,
    logit_softcap: ArrayLike | None = None,
    chunk_size: int | None = None,
    weights: ArrayLike | None = None,
    where: ArrayLike | None = None,
    reduction: str = "mean",
    method: str = "auto",
) -> jax.Array:
    r"""Sparse softmax cross-entropy of ``hidden @ weight (+ bias)``, never holding the full logits.

    With logits :math:`z = \mathrm{cap}\cdot\tanh((h W + b)/\mathrm{cap})` (or :math:`hW + b`
    without ``logit_softcap``), ``lse = logsumexp(z)`` and ``K`` existing (finite-logit) classes,
    each token's loss is

    .. math::
       \ell_i = w_{y_i}\Big[(1-\varepsilon)(\mathrm{lse}_i - z_{i,y_i})
              + \varepsilon\big(\mathrm{lse}_i - \tfrac{1}{K}\textstyle\sum_j z_{ij}\big)
              + \lambda_z\,\mathrm{lse}_i^2\Big]

    with ``ε = label_smoothing``, ``λ_z = z_loss`` and ``w = class_weights`` (1 without). This is
    exactly :func:`jaxloss.sparse_softmax_cross_entropy` applied to ``hidden @ weight + bias``
    (same options, same reductions), computed ``chunk_size`` tokens at a time so that only one
    ``[chunk_size, vocab]`` block of logits and of their gradient exists at once.

    Args:
      hidden: ``[..., D]`` float activations (the last hidden state).
      weight: ``[D, V]`` output projection (note: ``[hidden_dim, vocab]``, the transpose of a
        PyTorch ``nn.Linear`` weight).
      labels: ``[...]`` integer class ids in ``[0, V)`` (same leading shape as ``hidden``).
      bias: optional ``[V]`` bias. A ``-inf`` entry masks that class out of the vocabulary (no
        probability, no smoothing mass, zero gradient), also under ``logit_softcap``.
      ignore_index: static int; tokens with this label contribute nothing to the loss, the
        gradient or the normaliser.
      label_smoothing: ``ε`` in ``[0, 1]``, spread uniformly over the ``K`` existing classes.
      class_weights: ``[V]`` weights; token ``i``'s whole loss (smoothing and z-loss included) is
        multiplied by ``class_weights[labels_i]`` and ``"mean"`` divides by
        :math:`\sum_i \mathrm{weights}_i\, w_{y_i}` over valid tokens (PyTorch's normaliser).
      z_loss: coefficient of the auxiliary :math:`\mathrm{lse}^2` term (PaLM).
      logit_softcap: optional ``cap > 0`` (Gemma 2): logits become ``cap·tanh(logits/cap)``.
      chunk_size: static tokens per chunk (default ``DEFAULT_CHUNK_SIZE``, chosen by measurement).
        A token count that is not a multiple is padded with masked tokens.
      weights: per-token weights broadcastable to ``labels.shape``.
      where: boolean mask broadcastable to ``labels.shape``; ``False`` drops the token.
      reduction: ``"mean"``, ``"sum"`` or ``"none"``.
      method: ``"auto"`` (default), ``"forward_grad"``, ``"recompute"`` or ``"checkpoint"``; see
        Notes.

    Returns:
      A scalar for ``"mean"`` / ``"sum"``, ``[...]`` (``labels.shape``) for ``"none"``, in
      float32 for bf16 / fp16 inputs and in the inputs' dtype for float32 / float64. Gradients
      come back in the dtypes of ``hidden``, ``weight`` and ``bias``.

    Raises:
      ValueError: a concrete ``label_smoothing`` outside [0, 1], ``z_loss`` < 0, ``logit_softcap`` ≤
        0 or a NaN in ``class_weights`` (or a hyperparameter that does not broadcast to the loss
        shape).
      TypeError: complex or non-numeric inputs or hyperparameters (Python lists are converted).

    Traced hyperparameters are range-checked by ``jaxloss.checked`` only. As in
    :func:`sparse_softmax_cross_entropy`: a traced ``label_smoothing`` outside [0, 1] or ``z_loss``
    < 0 gives a finite value that may be negative, a traced ``logit_softcap`` < 0 acts as
    ``|cap|`` and 0 makes every logit 0 (a uniform prediction), a NaN class weight gives NaN.

    Examples:
      >>> import jax, jax.numpy as jnp
      >>> from jaxloss import linear_cross_entropy
      >>> h = jax.random.normal(jax.random.key(0), (6, 4))
      >>> w = jax.random.normal(jax.random.key(1), (4, 10))
      >>> y = jnp.array([1, 2, 3, 4, 5, 6])
      >>> fused = linear_cross_entropy(h, w, y, chunk_size=4)
      >>> unfused = jnp.mean(jax.nn.logsumexp(h @ w, axis=-1) - (h @ w)[jnp.arange(6), y])
      >>> print(bool(jnp.allclose(fused, unfused)))
      True
      >>> g_h, g_w = jax.grad(linear_cross_entropy, argnums=(0, 1))(h, w, y)
      >>> print(g_h.shape, g_w.shape)
      (6, 4) (4, 10)

    Notes:
      *Implementations* (``method``). ``"forward_grad"`` (Liger-Kernel) computes the gradient
      block of each chunk during the forward pass and accumulates ``d weight`` / ``d bias``; the
      backward pass only multiplies by the incoming cotangent (3 matmuls, as many as the
      unfused loss). It needs the per-token reduction coefficients up front, so it serves
      ``"mean"`` and ``"sum"``. ``"recompute"`` (Cut Cross-Entropy) stores the per-token
      logsumexp only and recomputes each logit block in the backward pass (4 matmuls; the least
      memory when no gradient is taken). ``"auto"`` = ``"forward_grad"`` for ``"mean"`` /
      ``"sum"``, ``"recompute"`` for ``"none"`` — measured on CPU, see ``bench/RESULTS.md``.
      ``"forward_grad"`` does its gradient work even when only the value is needed; use
      ``"recompute"`` for evaluation-only calls.

      *Derivatives.* The fast paths are ``jax.custom_vjp`` rules: reverse mode only.
      ``jax.jvp``, ``jax.jacfwd`` and ``jax.hessian`` of them raise JAX's ``TypeError`` ("can't
      apply forward-mode autodiff (jvp) to a custom_vjp function"). ``method="checkpoint"`` is
      plain autodiff through ``lax.scan`` with per-chunk rematerialisation: it supports ``jvp``
      and second order at the same memory bound, at a higher cost. Gradients flow to ``hidden``,
      ``weight``, ``bias``, ``weights``, ``label_smoothing``, ``z_loss`` and ``logit_softcap``;
      ``class_weights`` are treated as constants (no gradient) on every path.

      *Measured on the 2-core CPU* (float32, 4096 tokens × 512 × 32768, ``jit(value_and_grad)``
      w.r.t. hidden and weight; ``bench/RESULTS.md``): temporary memory 32 MiB
      (``chunk_size=128``: a ``[chunk, V]`` logit block and its gradient; the weight gradient is
      accumulated in place, one ``[D, slice]`` piece at a time) against 512 MiB for the unfused
      jaxloss loss and 1024 MiB for the unfused optax loss (65 MiB at ``chunk_size`` 256, 17 MiB
      at 64), and ``"forward_grad"`` at ``chunk_size`` 128 was the fastest variant, faster than
      the unfused loss, while ``"recompute"`` (one more matmul) was slower than both. Hence the
      defaults.

      *Numerics.* Matmuls run in the inputs' dtype with accumulation in the computation dtype
      (``preferred_element_type``: float32 for bf16 / fp16); the softmax math is in that dtype.
      In the gradient matmuls of bf16 inputs the logit-gradient block is rounded to bf16 (as in
      Liger-Kernel and Cut Cross-Entropy), an error comparable to the bf16 rounding of the
      returned gradients.

      *Unchecked invalid input.* A label outside ``[0, V)`` that is not ``ignore_index`` gives a
      ``nan`` loss for that token and a ``nan`` gradient (as
      :func:`sparse_softmax_cross_entropy`): its ``d hidden`` row and, through it, ``d weight``,
      ``d bias`` and the hyperparameter gradients are NaN — never a finite number; ``weights``
      of 0 do not hide it (0 · NaN), ``where=False`` or ``ignore_index`` drop it (exact 0).
      A NaN or infinite ``hidden`` entry gives NaN for its token; a NaN in ``weight`` or ``bias``
      gives NaN for every token.

    References:
      Hsu et al., *Liger Kernel: Efficient Triton Kernels for LLM Training*, 2024.
      Wijmans et al., *Cut Your Losses in Large-Vocabulary Language Models*, ICLR 2025.
    """
    # ---- trace-time validation
    hidden = val.as_float_array(_NAME, "hidden", hidden)
    weight = val.as_float_array(_NAME, "weight", weight)
    labels = val.as_integer_array(_NAME, "labels", labels)
    check_reduction(_NAME, reduction)
    if method not in METHODS:
        raise ValueError(
            f"{_NAME}: 'method' must be one of {', '.join(map(repr, METHODS))}, got {method!r}"
        )
    hidden = jnp.asarray(hidden)
    weight = jnp.asarray(weight)
    labels = jnp.asarray(labels)
    if hidden.ndim < 1:
        raise ValueError(
            f"{_NAME}: 'hidden' must have rank >= 1 ([..., hidden_dim]), got shape {hidden.shape}"
        )
    if weight.ndim != 2 or weight.shape[0] != hidden.shape[-1]:
        raise ValueError(
            f"{_NAME}: 'weight' must have shape ({hidden.shape[-1]}, vocab) "
            f"([hidden_dim, vocab]), got {weight.shape}"
        )
    if labels.shape != hidden.shape[:-1]:
        raise ValueError(
            f"{_NAME}: 'labels' must have shape {hidden.shape[:-1]} (hidden's leading "
            f"shape), got {labels.shape}"
        )
    vocab = weight.shape[1]
    val.check_nonempty_axis(_NAME, "weight", weight.shape, 1, "classes (vocabulary)")
    if bias is not None:
        bias = val.as_float_array(_NAME, "bias", bias)
        if bias.shape != (vocab,):
            raise ValueError(f"{_NAME}: 'bias' must have shape ({vocab},), got {bias.shape}")
    check_class_weights(_NAME, class_weights, vocab)
    val.check_ranges(
        _NAME,
        label_smoothing=label_smoothing,
        z_loss=z_loss,
        logit_softcap=logit_softcap,
        class_weights=class_weights,
    )
    if chunk_size is not None and (
        isinstance(chunk_size, bool)
        or not isinstance(chunk_size, (int, np.integer))
        or chunk_size < 1
    ):
        raise ValueError(f"{_NAME}: 'chunk_size' must be a positive int, got {chunk_size!r}")
    if ignore_index is not None and (
        isinstance(ignore_index, bool) or not isinstance(ignore_index, (int, np.integer))
    ):
        raise TypeError(f"{_NAME}: 'ignore_index' must be an int or None, got {ignore_index!r}")
    batch_shape = labels.shape
    if weights is not None:
        weights = val.check_weights(_NAME, weights, batch_shape)
    if where is not None:
        check_broadcastable(_NAME, "where", where, batch_shape)
        if jnp.result_type(where) != jnp.bool_:
            raise TypeError(
                f"{_NAME}: 'where' must be a boolean mask, got dtype {jnp.result_type(where)}"
            )

    # ---- dtypes: matmul operands share one dtype; loss math in the computation dtype
    mm_dtype = jnp.promote_types(hidden.dtype, weight.dtype)
    cdt = compute_dtype(jnp.zeros((), mm_dtype))
    h2 = hidden.reshape(-1, hidden.shape[-1]).astype(mm_dtype)
    w = weight.astype(mm_dtype)
    y = labels.reshape(-1)
    n = y.shape[0]

    valid = jnp.ones((n,), bool) if ignore_index is None else (y != ignore_index)
    if where is not None:
        valid = valid & jnp.broadcast_to(jnp.asarray(where), batch_shape).reshape(-1)

    smooth = not _is_static_zero(label_smoothing)
    zloss = not _is_static_zero(z_loss)
    eps = as_hyper(label_smoothing, cdt)
    zl = as_hyper(z_loss, cdt)
    cap = None if logit_softcap is None else as_hyper(logit_softcap, cdt)
    if eps.ndim or zl.ndim or (cap is not None and cap.ndim):
        raise ValueError(
            f"{_NAME}: 'label_smoothing', 'z_loss' and 'logit_softcap' must be scalars "
            "(use jax.vmap to sweep them)"
        )

    chunk, pad = eng.plan(n, chunk_size, DEFAULT_CHUNK_SIZE)
    head = eng.Head(bias is not None, cap is not None, False, chunk, cdt)
    rule = _CERule(smooth, zloss)

    # labels: an out-of-range label (not ignore_index) reads class 0 and gives a nan loss
    in_range = (y >= 0) & (y < vocab)
    ys = jnp.where(in_range, y, 0).astype(jnp.int32)
    cw = cwy = None
    if class_weights is not None:
        # class weights are constants here: no gradient flows to them (documented)
        cw = lax.stop_gradient(jnp.asarray(class_weights).astype(cdt))
        cwy = cw[ys]
    tok_w = (
        None
        if weights is None
        else jnp.broadcast_to(jnp.asarray(weights).astype(cdt), batch_shape).reshape(-1)
    )

    hp = eng.pad_rows(h2, pad)
    xs = (
        eng.pad_rows(ys, pad, 0),
        eng.pad_rows(cwy, pad, 0),
        eng.pad_rows(valid, pad, False),
        eng.pad_rows(in_range, pad, True),
    )
    cw_k = cw if smooth else None  # the kernel needs the whole vector only for the smoothing sum

    if method == "auto":
        method = "recompute" if reduction == "none" else "forward_grad"
    if method == "forward_grad" and reduction == "none":
        method = "recompute"

    if method == "forward_grad":
        # d reduced / d loss_i: weights_i / Σ_valid weights·w_y for "mean", weights_i for "sum"
        coef = eng.reduction_coefs(valid, tok_w, reduction, cdt, denom_w=cwy)
        coefs = (eng.pad_rows(coef, pad, 0),)
        return eng.total(head, rule, hp, w, bias, cap, None, xs, (cw_k,), (eps, zl), coefs)

    if method == "recompute":
        (rows,) = eng.rows(head, rule, hp, w, bias, cap, None, xs, (cw_k,), (eps, zl))
    else:
        rows = _rows_checkpoint(head, rule, hp, w, bias, cap, xs, cw_k, eps, zl)
    rows = rows[:n] if pad else rows
    normalizer = None
    if cwy is not None:
        normalizer = (cwy if tok_w is None else tok_w * cwy).reshape(batch_shape)
    return apply_reduction(
        _NAME,
        rows.reshape(batch_shape),
        weights,
        valid.reshape(batch_shape),
        reduction,
        normalizer=normalizer,
    )


from . import _registry  # noqa: E402  (the registry imports no module that imports this one)

_registry.register(_NAME, linear_cross_entropy)
