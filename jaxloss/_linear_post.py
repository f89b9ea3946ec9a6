"""Fused post-training quantities of a language-model head (API.md §7), on the chunked engine.

:func:`linear_token_log_probs` and :func:`linear_distillation_loss` are
:func:`jaxloss.token_log_probs` and :func:`jaxloss.distillation_loss` of the logits
``hidden @ weight (+ bias)``, computed by :mod:`jaxloss._engine` one ``[chunk, vocab]`` block at a
time, so the ``[tokens, vocab]`` logits never exist. Each is a small rule on the engine; the
per-row formulas are the engine's row statistics (``_engine.row_stats``, also vocabulary-parallel)
and the logits-level ones (``_numerics.log_softmax``, ``_distillation.generalized_jsd``), applied
to a block.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax
from jax.typing import ArrayLike

from . import _engine as eng
from . import _validation as val
from ._distillation import beta_mode, generalized_jsd, log_mixture
from ._numerics import (
    as_hyper,
    compute_dtype,
    divide_logits,
    log_softmax,
    log_softmax_given_lse,
    nan_where,
)
from ._reduction import apply_reduction
from ._validation import check_broadcastable, check_reduction, concrete_or_none

__all__ = ["linear_token_log_probs", "linear_distillation_loss"]

# Tokens per chunk when ``chunk_size=None`` (as linear_cross_entropy's measured default).
DEFAULT_CHUNK_SIZE = 128


# --------------------------------------------------------------------------------------------
# Shared argument handling
# --------------------------------------------------------------------------------------------


def _check_head(name, hidden_arg, hidden, weight_arg, weight, bias_arg, bias, vocab=None):
    """``(hidden, weight, bias)`` as arrays, ``weight`` ``[D, V]`` for ``hidden`` ``[..., D]``."""
    hidden = jnp.asarray(val.as_float_array(name, hidden_arg, hidden))
    weight = jnp.asarray(val.as_float_array(name, weight_arg, weight))
    if hidden.ndim < 1:
        raise ValueError(
            f"{name}: '{hidden_arg}' must have rank >= 1 ([..., hidden_dim]), got shape "
            f"{hidden.shape}"
        )
    if weight.ndim != 2 or weight.shape[0] != hidden.shape[-1]:
        raise ValueError(
            f"{name}: '{weight_arg}' must have shape ({hidden.shape[-1]}, vocab) "
            f"([hidden_dim, vocab]), got {weight.shape}"
        )
    if vocab is not None and weight.shape[1] != vocab:
        raise ValueError(
            f"{name}: '{weight_arg}' must have the student's vocabulary size {vocab}, got "
            f"{weight.shape[1]}"
        )
    val.check_nonempty_axis(name, weight_arg, weight.shape, 1, "classes (vocabulary)")
    if bias is not None:
        bias = jnp.asarray(val.as_float_array(name, bias_arg, bias))
        if bias.shape != (weight.shape[1],):
            raise ValueError(
                f"{name}: '{bias_arg}' must have shape ({weight.shape[1]},), got {bias.shape}"
            )
    return hidden, weight, bias


def _check_chunk(name, chunk_size):
    if chunk_size is not None and (
        isinstance(chunk_size, bool)
        or not isinstance(chunk_size, (int, np.integer))
        or chunk_size < 1
    ):
        raise ValueError(f"{name}: 'chunk_size' must be a positive int, got {chunk_size!r}")


def _scalar_hyper(name, dtype, **values):
    out = []
    for arg, value in values.items():
        x = as_hyper(value, dtype)
        if x.ndim:
            raise ValueError(f"{name}: '{arg}' must be a scalar (use jax.vmap to sweep it)")
        out.append(x)
    return out


def _is_static_zero(value) -> bool:
    v = concrete_or_none(value)
    return v is not None and v.shape == () and float(v) == 0.0


def _is_static_one(value) -> bool:
    v = concrete_or_none(value)
    return v is not None and v.shape == () and float(v) == 1.0


def _matmul_operands(hidden, weight, bias):
    """Rows ``[N, D]`` and weight in one matmul dtype; the computation dtype (f32 for halves)."""
    mm_dtype = jnp.promote_types(hidden.dtype, weight.dtype)
    cdt = compute_dtype(jnp.zeros((), mm_dtype))
    h2 = hidden.reshape(-1, hidden.shape[-1]).astype(mm_dtype)
    return h2, weight.astype(mm_dtype), bias, cdt


# --------------------------------------------------------------------------------------------
# Token log-probabilities
# --------------------------------------------------------------------------------------------


class _TokenRule(eng.Rule):
    """log p(token) (and the entropy) of each row of a block; residuals lse, log p(token) (and H).

    xs = (global tokens clipped into range, out-of-range flag). With p = softmax(z),
    log p = z − lse: d log p_y/dz = e_y − p and dH/dz = −p·(log p + H) (0 on masked classes).
    The row statistics are :func:`jaxloss._engine.row_stats`, so the same rule serves a block of
    the whole vocabulary and, with ``head.axis``, this device's slice of it (vocabulary-parallel:
    one ``psum`` of every shard's ``[row max, Σ exp, target logit, entropy term]`` per block).
    """

    def __init__(self, entropy: bool):
        self.entropy = entropy
        self.key = (entropy,)

    def forward(self, head, ctx, z, ex, xs_c, consts, params):
        tok, bad = xs_c
        idx, owned = eng.local_tokens(tok, z.shape[1], head.axis)
        m, s, target, ent = eng.row_stats(z, idx, owned, head.axis, self.entropy)
        lse = m + s
        # a token on a masked class (target −inf) has log p = −inf, also on a row without mass
        out = jnp.where(target == -jnp.inf, -jnp.inf, target - lse)
        out = out * nan_where(bad, out.dtype)
        if not self.entropy:
            return (out,), (lse, out)
        return (out, ent), (lse, out, ent)

    def backward(self, head, ctx, z, ex, xs_c, res_c, gs_c, consts, params):
        tok, bad = xs_c
        lse, out = res_c[0], res_c[1]
        idx, owned = eng.local_tokens(tok, z.shape[1], head.axis)
        # a row without a finite logit (padding under a fully masking bias) has lse = −inf
        lse = jnp.where(lse == -jnp.inf, jnp.zeros_like(lse), lse)
        logp = log_softmax_given_lse(z, lse[:, None])
        present = logp != -jnp.inf
        p = jnp.exp(logp)
        # a token on a masked class has log p = −inf, a constant: no gradient (as token_log_probs)
        g1 = gs_c[0] * nan_where(bad, z.dtype)
        g1 = jnp.where(out == -jnp.inf, jnp.zeros_like(g1), g1)
        hot = lax.broadcasted_iota(idx.dtype, z.shape, 1) == idx[:, None]
        if owned is not None:
            hot = hot & owned[:, None]
        dz = jnp.where(hot, g1[:, None], jnp.zeros((), z.dtype)) - p * g1[:, None]
        if self.entropy:
            ent, g2 = res_c[2], gs_c[1]
            lp = jnp.where(present, logp, jnp.zeros_like(logp))
            dz = dz - jnp.where(present, p * (lp + ent[:, None]), 0.0) * g2[:, None]
        # masked classes get exactly 0, also on a NaN row (an out-of-range token), as
        # token_log_probs (and as logit_block_vjp requires)
        return jnp.where(present, dz, jnp.zeros_like(dz)), None


def linear_token_log_probs(
    hidden: ArrayLike,
    weight: ArrayLike,
    tokens: ArrayLike,
    *,
    bias: ArrayLike | None = None,
    temperature: ArrayLike = 1.0,
    logit_softcap: ArrayLike | None = None,
    return_entropy: bool = False,
    chunk_size: int | None = None,
) -> jax.Array | tuple[jax.Array, jax.Array]:
    r"""Log-probability of each token under the head ``hidden @ weight (+ bias)``, fused.

    With :math:`x = \mathrm{cap}\cdot\tanh((hW + b)/\mathrm{cap})` (:math:`x = hW + b` without
    ``logit_softcap``) and :math:`\tau` = ``temperature``:

    .. math::
       \mathrm{out} = \frac{x_{\mathrm{tokens}}}{\tau} - \log \sum_c e^{x_c / \tau},
       \qquad H = -\sum_c p_c \log p_c, \quad p = \mathrm{softmax}(x / \tau),

    i.e. :func:`jaxloss.token_log_probs` of those logits, computed ``chunk_size`` tokens at a time
    (:mod:`jaxloss._engine`): temporary memory O(chunk · V + N), the ``[N, V]`` logits never exist.

    Args:
      hidden: ``[..., D]`` float activations.
      weight: ``[D, V]`` output projection (``[hidden_dim, vocab]``).
      tokens: ``[...]`` integer token ids (``hidden``'s leading shape).
      bias: optional ``[V]``; a ``-inf`` entry masks that class (also under ``logit_softcap``).
      temperature: :math:`\tau > 0` (may be traced; differentiable).
      logit_softcap: optional ``cap > 0`` applied before the temperature (differentiable).
      return_entropy: also return :math:`H` per token.
      chunk_size: static tokens per chunk (default 128); the token count is padded to a multiple.

    Returns:
      ``log_probs`` of shape ``tokens.shape`` (float32 for bf16 / fp16 inputs, else the inputs'
      dtype), or ``(log_probs, entropy)``.

    Gradients w.r.t. ``hidden``, ``weight``, ``bias``, ``temperature`` and ``logit_softcap`` are
    exact for any cotangent on both outputs: a ``jax.custom_vjp`` that keeps the per-token
    log-sum-exp (and entropy) and recomputes each logit block in the backward pass (reverse mode
    only; ``jax.jvp`` raises).

    Examples:
      >>> import jax, jax.numpy as jnp
      >>> import jaxloss
      >>> h = jax.random.normal(jax.random.key(0), (6, 4))
      >>> w = jax.random.normal(jax.random.key(1), (4, 10))
      >>> y = jnp.array([1, 2, 3, 4, 5, 6])
      >>> fused = jaxloss.linear_token_log_probs(h, w, y, chunk_size=4)
      >>> print(bool(jnp.allclose(fused, jaxloss.token_log_probs(h @ w, y))))
      True
      >>> lp, ent = jaxloss.linear_token_log_probs(h, w, y, temperature=2.0, return_entropy=True)
      >>> print(lp.shape, ent.shape)
      (6,) (6,)

    Notes:
      Unchecked invalid input (the library's label rule): a token outside ``[0, V)`` gives NaN
      for its log-probability and a NaN gradient (its entropy stays finite). A token on a masked
      (``-inf``) class gets ``-inf`` with a zero gradient. Matmuls run in the inputs' dtype with
      float32 (or float64) accumulation; the softmax math is in that computation dtype.
    """
    return token_log_probs_core(
        "linear_token_log_probs",
        hidden,
        weight,
        tokens,
        bias=bias,
        temperature=temperature,
        logit_softcap=logit_softcap,
        return_entropy=return_entropy,
        chunk_size=chunk_size,
    )


def token_log_probs_core(
    name, hidden, weight, tokens, *, bias, temperature, logit_softcap, return_entropy,
    chunk_size, axis_name=None,
):  # fmt: skip
    """:func:`linear_token_log_probs` (checks and computation); with ``axis_name`` ``weight`` /
    ``bias`` are this device's vocabulary slice (``jaxloss.sharding``, inside ``shard_map``)."""
    hidden, weight, bias = _check_head(name, "hidden", hidden, "weight", weight, "bias", bias)
    tokens = jnp.asarray(val.as_integer_array(name, "tokens", tokens))
    if tokens.shape != hidden.shape[:-1]:
        raise ValueError(
            f"{name}: 'tokens' must have shape {hidden.shape[:-1]} (hidden's leading shape), "
            f"got {tokens.shape}"
        )
    val.check_positive(name, "temperature", temperature)
    if logit_softcap is not None:
        val.check_positive(name, "logit_softcap", logit_softcap)
    _check_chunk(name, chunk_size)
    return_entropy = val.check_bool_flag(name, "return_entropy", return_entropy)

    h2, w, b, cdt = _matmul_operands(hidden, weight, bias)
    vocab = w.shape[1] * (1 if axis_name is None else lax.axis_size(axis_name))
    y = tokens.reshape(-1)
    n = y.shape[0]
    (tau,) = _scalar_hyper(name, cdt, temperature=temperature)
    has_tau = not _is_static_one(temperature)
    cap = None
    if logit_softcap is not None:
        (cap,) = _scalar_hyper(name, cdt, logit_softcap=logit_softcap)
    chunk, pad = eng.plan(n, chunk_size, DEFAULT_CHUNK_SIZE)
    head = eng.Head(b is not None, cap is not None, has_tau, chunk, cdt, axis_name)
    bad = (y < 0) | (y >= vocab)  # the library's label rule (token_log_probs' out_of_range_nan)
    tok = jnp.where(bad, 0, y).astype(jnp.int32)
    xs = (eng.pad_rows(tok, pad, 0), eng.pad_rows(bad, pad, False))
    outs = eng.rows(
        head,
        _TokenRule(return_entropy),
        eng.pad_rows(h2, pad),
        w,
        b,
        cap,
        tau if has_tau else None,
        xs,
        (),
        (),
    )
    outs = tuple(o[:n].reshape(tokens.shape) for o in outs)
    return outs if return_entropy else outs[0]


# --------------------------------------------------------------------------------------------
# Distillation
# --------------------------------------------------------------------------------------------


class _DistillRule(eng.AutodiffRule):
    """generalized_jsd(student block / τ, teacher block / τ) + hard_weight · CE(student block, y).

    xs = (teacher hidden, labels in range, valid, in_range); consts = (teacher weight, bias);
    params = (β, τ, hard_weight). The teacher's block is computed once per chunk (``prepare``)
    and gets no gradient; the student's block gradient is ``jax.vjp`` of this formula.
    """

    def __init__(self, teacher_head: eng.Head, hard: bool, mode: str | None, manual: bool):
        self.teacher = teacher_head
        self.hard = hard
        self.mode = mode  # static β branch (distillation.beta_mode), None when β is traced
        # closed-form block gradient (β and τ concrete: they get no gradient)
        self.manual = manual and mode is not None
        self.key = (teacher_head.key, hard, mode, self.manual)

    def prepare(self, head, ctx, xs_c, consts):
        tw, tb = consts
        zt, _ = eng.logit_block(self.teacher, xs_c[0], tw, tb, None, None)
        return lax.stop_gradient(zt.astype(head.cdt))

    def values(self, head, z, ex, xs_c, consts, params):
        _, y, valid, in_range = xs_c
        beta, tau, hw = params
        log_ps = log_softmax(divide_logits(z, tau), axis=1)
        log_pt = log_softmax(divide_logits(ex, tau), axis=1)
        v = generalized_jsd(log_ps, log_pt, beta, 1, self.mode)
        if self.hard:
            ce = -jnp.take_along_axis(log_softmax(z, axis=1), y[:, None], axis=1)[:, 0]
            # out-of-range labels are invalid input: NaN value and gradient (library rule)
            v = v + hw * (ce * nan_where(valid & ~in_range, ce.dtype))
        # double where: a dropped row's value may be inf (a one-sided masked class)
        return (jnp.where(valid, v, jnp.zeros_like(v)),)

    def _manual(self, head, z, ex, xs_c, gs_c, params):
        """Values and the closed-form block gradient (the derivative of ``values``).

        With s = z/τ, log p_s = log_softmax(s) and L the divergence as a function of log p_s
        (``g_k = ∂L/∂ log p_s,k``), ∂L/∂s_j = g_j − p_s,j Σ_k g_k, where over the classes that
        ``_kl_log`` keeps: forward KL g = −p_t; reverse KL g = p_s(log p_s − log p_t + 1);
        mixture g = (1 − β) p_s (log p_s − log M). Hard term: hard_weight·(softmax(z) − e_y).
        """
        _, y, valid, in_range = xs_c
        beta, tau, hw = params
        log_ps = log_softmax(divide_logits(z, tau), axis=1)
        log_pt = log_softmax(divide_logits(ex, tau), axis=1)
        v = generalized_jsd(log_ps, log_pt, beta, 1, self.mode)
        g = jnp.where(valid, gs_c[0], jnp.zeros_like(gs_c[0]))
        ps = jnp.exp(log_ps)
        present = log_ps != -jnp.inf
        zero = jnp.zeros((), z.dtype)
        if self.mode == "forward":
            gk = -jnp.where(present & (log_pt != -jnp.inf), jnp.exp(log_pt), zero)
        else:
            ref = log_pt if self.mode == "reverse" else log_mixture(log_ps, log_pt, beta)
            ok = present & (ref != -jnp.inf)
            d = jnp.where(ok, log_ps, zero) - jnp.where(ok, ref, zero)
            gk = (
                jnp.where(ok, ps * (d + 1), zero) if self.mode == "reverse" else (1 - beta) * ps * d
            )
        ds = gk - ps * jnp.sum(gk, axis=1, keepdims=True)
        dz = ds * (g / tau)[:, None]
        dhw = jnp.zeros_like(hw)
        if self.hard:
            lp1 = log_softmax(z, axis=1)
            ce = -jnp.take_along_axis(lp1, y[:, None], axis=1)[:, 0]
            poison = nan_where(valid & ~in_range, ce.dtype)
            v = v + hw * (ce * poison)
            gp = g * poison
            onehot = lax.broadcasted_iota(y.dtype, z.shape, 1) == y[:, None]
            dz = dz + (hw * gp)[:, None] * (jnp.exp(lp1) - jnp.where(onehot, 1.0, zero))
            dhw = jnp.sum(jnp.where(valid, gp * ce, zero)).astype(hw.dtype)
        outs = (jnp.where(valid, v, jnp.zeros_like(v)),)
        return outs, dz, (jnp.zeros_like(beta), jnp.zeros_like(tau), dhw)

    def backward(self, head, ctx, z, ex, xs_c, res_c, gs_c, consts, params):
        if not self.manual:
            return super().backward(head, ctx, z, ex, xs_c, res_c, gs_c, consts, params)
        _, dz, dp = self._manual(head, z, ex, xs_c, gs_c, params)
        return dz, dp

    def forward_backward(self, head, ctx, z, ex, xs_c, gs_c, consts, params):
        if not self.manual:
            return super().forward_backward(head, ctx, z, ex, xs_c, gs_c, consts, params)
        outs, dz, dp = self._manual(head, z, ex, xs_c, gs_c, params)
        return outs, (), dz, dp


@val.declare_ranges(beta=val.UNIT_INTERVAL, temperature=val.POSITIVE, hard_weight=val.NONNEGATIVE)
def linear_distillation_loss(
    student_hidden: ArrayLike,
    student_weight: ArrayLike,
    teacher_hidden: ArrayLike,
    teacher_weight: ArrayLike,
    labels: ArrayLike | None = None,
    *,
    student_bias: ArrayLike | None = None,
    teacher_bias: ArrayLike | None = None,
    beta: ArrayLike = 0.5,
    temperature: ArrayLike = 1.0,
    hard_weight: ArrayLike = 0.0,
    ignore_index: int | None = None,
    chunk_size: int | None = None,
    weights: ArrayLike | None = None,
    where: ArrayLike | None = None,
    reduction: str = "mean",
) -> jax.Array:
    r"""GKD distillation of two language-model heads plus a hard-label term, fused.

    With student logits :math:`s = h_s W_s + b_s`, teacher logits :math:`t = h_t W_t + b_t`,
    :math:`P_s = \mathrm{softmax}(s/\tau)`, :math:`P_t = \mathrm{softmax}(t/\tau)` and
    :math:`\mathrm{JSD}_\beta` the generalized Jensen–Shannon divergence of
    :func:`jaxloss.distillation_loss` (β = 0: KL(P_t ‖ P_s), β = 1: KL(P_s ‖ P_t), otherwise
    β·KL(P_t ‖ M) + (1 − β)·KL(P_s ‖ M), M = β·P_t + (1 − β)·P_s), each token's loss is

    .. math::
       \ell_i = \mathrm{JSD}_\beta(P_{t,i} \,\|\, P_{s,i})
              + \lambda_{\mathrm{hard}}\,\big(\mathrm{logsumexp}(s_i) - s_{i,y_i}\big)

    with :math:`\lambda_{\mathrm{hard}}` = ``hard_weight`` (the cross-entropy uses the student's
    logits at temperature 1). Computed ``chunk_size`` tokens at a time (:mod:`jaxloss._engine`):
    neither model's ``[N, V]`` logits exist. The teacher gets no gradient (its inputs receive
    zero cotangents); gradients flow to the student's hidden states, weight and bias and to
    ``beta``, ``temperature``, ``hard_weight`` and ``weights``.

    Args:
      student_hidden: ``[..., D_s]`` student activations.
      student_weight: ``[D_s, V]`` student output projection.
      teacher_hidden: ``[..., D_t]`` teacher activations (same leading shape).
      teacher_weight: ``[D_t, V]`` teacher output projection (same vocabulary).
      labels: optional ``[...]`` integer labels: the hard term's targets and the
        ``ignore_index`` positions; required when ``hard_weight`` is not 0.
      student_bias, teacher_bias: optional ``[V]`` biases; ``-inf`` masks a class.
      beta: β in [0, 1] (may be traced).
      temperature: τ > 0 for the divergence (may be traced).
      hard_weight: weight ≥ 0 of the hard cross-entropy (may be traced).
      ignore_index: static int; with ``labels``, tokens with this label are dropped.
      chunk_size: static tokens per chunk (default 128).
      weights: per-token weights broadcastable to the token shape.
      where: boolean mask of the token shape; ``False`` drops the token.
      reduction: ``"mean"`` (Σ w·ℓ / Σ w over valid tokens), ``"sum"`` or ``"none"``.

    Returns:
      A scalar, or ``[...]`` for ``"none"``; float32 for half-precision inputs.

    Raises:
      ValueError: a concrete ``beta`` outside [0, 1], ``temperature`` ≤ 0 or ``hard_weight`` < 0;
        mismatched shapes or vocabularies; ``hard_weight`` given without ``labels``.

    Traced hyperparameters are range-checked by ``jaxloss.checked`` only. A traced ``beta``
    outside [0, 1] or ``temperature`` ≤ 0 gives what :func:`distillation_loss` gives for it (NaN
    where the mixture has a negative weight; NaN / inf at ``temperature`` = 0); a traced
    ``hard_weight`` < 0 subtracts the cross-entropy term, so the loss rewards wrong labels.

    Examples:
      >>> import jax, jax.numpy as jnp
      >>> import jaxloss
      >>> k = jax.random.split(jax.random.key(0), 4)
      >>> hs, ws = jax.random.normal(k[0], (6, 4)), jax.random.normal(k[1], (4, 10))
      >>> ht, wt = jax.random.normal(k[2], (6, 8)), jax.random.normal(k[3], (8, 10))
      >>> fused = jaxloss.linear_distillation_loss(hs, ws, ht, wt, chunk_size=4)
      >>> print(bool(jnp.allclose(fused, jaxloss.distillation_loss(hs @ ws, ht @ wt))))
      True

    Notes:
      *Implementation.* ``"mean"`` / ``"sum"`` use the engine's forward-gradient path (the
      student's block gradient is computed in the forward pass, the teacher's block once per
      chunk); ``"none"`` keeps no residual and recomputes both blocks in the backward pass. The
      block gradient is ``jax.vjp`` of the logits-level formula on one ``[chunk, V]`` block.
      Reverse mode only (``jax.jvp`` raises).

      *Unchecked invalid input.* With a non-zero ``hard_weight``, a kept token whose label is
      outside ``[0, V)`` gives NaN (value and gradient), the library's label rule.
    """
    name = "linear_distillation_loss"
    hs, ws, bs = _check_head(
        name, "student_hidden", student_hidden, "student_weight", student_weight,
        "student_bias", student_bias,
    )  # fmt: skip
    vocab = ws.shape[1]
    ht, wt, bt = _check_head(
        name, "teacher_hidden", teacher_hidden, "teacher_weight", teacher_weight,
        "teacher_bias", teacher_bias, vocab=vocab,
    )  # fmt: skip
    batch_shape = hs.shape[:-1]
    if ht.shape[:-1] != batch_shape:
        raise ValueError(
            f"{name}: 'teacher_hidden' must have the leading shape {batch_shape} of "
            f"'student_hidden', got {ht.shape[:-1]}"
        )
    check_reduction(name, reduction)
    _check_chunk(name, chunk_size)
    if ignore_index is not None and (
        isinstance(ignore_index, bool) or not isinstance(ignore_index, (int, np.integer))
    ):
        raise TypeError(f"{name}: 'ignore_index' must be an int or None, got {ignore_index!r}")
    val.check_ranges(name, beta=beta, temperature=temperature, hard_weight=hard_weight)
    hard = not _is_static_zero(hard_weight)
    if labels is not None:
        labels = jnp.asarray(val.as_integer_array(name, "labels", labels))
        if labels.shape != batch_shape:
            raise ValueError(
                f"{name}: 'labels' must have shape {batch_shape} (the hidden states' leading "
                f"shape), got {labels.shape}"
            )
    elif hard:
        raise ValueError(f"{name}: 'hard_weight' needs 'labels' (the hard cross-entropy targets)")
    if weights is not None:
        weights = val.check_weights(name, weights, batch_shape)
    if where is not None:
        check_broadcastable(name, "where", where, batch_shape)
        if jnp.result_type(where) != jnp.bool_:
            raise TypeError(
                f"{name}: 'where' must be a boolean mask, got dtype {jnp.result_type(where)}"
            )

    h2, w, b, cdt = _matmul_operands(hs, ws, bs)
    t_mm = jnp.promote_types(ht.dtype, wt.dtype)
    t2 = lax.stop_gradient(ht.reshape(-1, ht.shape[-1]).astype(t_mm))
    wt = lax.stop_gradient(wt.astype(t_mm))
    bt = None if bt is None else lax.stop_gradient(bt)
    n = h2.shape[0]
    beta_, tau, hw = _scalar_hyper(
        name, cdt, beta=beta, temperature=temperature, hard_weight=hard_weight
    )

    valid = jnp.ones((n,), bool)
    if labels is not None:
        y = labels.reshape(-1)
        if ignore_index is not None:
            valid = y != ignore_index
        in_range = (y >= 0) & (y < vocab)
        ys = jnp.where(in_range, y, 0).astype(jnp.int32)
    else:
        in_range = jnp.ones((n,), bool)
        ys = jnp.zeros((n,), jnp.int32)
    if where is not None:
        valid = valid & jnp.broadcast_to(jnp.asarray(where), batch_shape).reshape(-1)

    chunk, pad = eng.plan(n, chunk_size, DEFAULT_CHUNK_SIZE)
    head = eng.Head(b is not None, False, False, chunk, cdt)
    t_head = eng.Head(bt is not None, False, False, chunk, compute_dtype(jnp.zeros((), t_mm)))
    # β and τ concrete: nothing differentiates them here, the closed-form block gradient serves
    manual = concrete_or_none(temperature) is not None
    rule = _DistillRule(t_head, hard, beta_mode(beta), manual)
    xs = (
        eng.pad_rows(t2, pad),
        eng.pad_rows(ys, pad, 0),
        eng.pad_rows(valid, pad, False),
        eng.pad_rows(in_range, pad, True),
    )
    args = (head, rule, eng.pad_rows(h2, pad), w, b, None, None, xs, (wt, bt), (beta_, tau, hw))
    if reduction != "none":
        tok_w = (
            None
            if weights is None
            else jnp.broadcast_to(jnp.asarray(weights).astype(cdt), batch_shape).reshape(-1)
        )
        coef = eng.reduction_coefs(valid, tok_w, reduction, cdt)
        return eng.total(*args, (eng.pad_rows(coef, pad, 0),))
    (rows,) = eng.rows(*args)
    return apply_reduction(
        name, rows[:n].reshape(batch_shape), weights, valid.reshape(batch_shape), reduction
    )


from . import _registry  # noqa: E402  (the registry imports no module that imports this one)

_registry.register("linear_distillation_loss", linear_distillation_loss)
