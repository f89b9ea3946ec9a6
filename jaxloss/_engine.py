"""One chunked engine for every per-token quantity of a language-model head (API.md §7).

The ``[tokens, vocab]`` logits of ``hidden @ weight (+ bias)`` are never formed: tokens are cut
into chunks of ``chunk`` rows and a ``lax.scan`` computes one ``[chunk, vocab]`` logit block at a
time. What a loss computes from a block is a small *rule* (:class:`Rule`); this module owns
everything else, once:

* chunking and padding of the token axis (:func:`plan`, :func:`pad_rows`, :func:`chunks`);
* the logit block (:func:`logit_block`): matmul in the operands' dtype with accumulation in the
  computation dtype, bias (``-inf`` entries mask classes), logit softcap ``cap·tanh(x/cap)`` and
  temperature ``x/τ`` (in that order), and its pull-back (:func:`logit_block_vjp`: ``d raw``,
  ``d cap``, ``d τ``);
* the per-row log-sum-exp of a block (:func:`block_lse`, the shifted core of
  :func:`jaxloss._numerics.shifted_logsumexp`);
* the two custom VJPs:

  - :func:`rows` (recompute, as Apple's Cut Cross-Entropy): the forward pass keeps only the
    rule's per-row residuals (e.g. the log-sum-exp); the backward pass recomputes each logit
    block and asks the rule for ``d block`` under any cotangent of the outputs. 4 matmuls.
  - :func:`total` (forward-gradient, as Liger-Kernel): for a scalar ``Σ_k Σ_i coef_k,i·out_k,i``
    whose coefficients are known up front (a ``"mean"`` / ``"sum"`` reduction) the forward pass
    also computes each block's gradient and accumulates ``d hidden``, ``d weight``, ``d bias``;
    the backward pass only scales them by the incoming cotangent. 3 matmuls.

A rule is a hashable object with four methods (see :class:`Rule`); the logit block's own
parameters (``cap``, ``τ``) and the matmuls are the engine's, so a rule only maps a block of final
logits to per-row outputs and back. :class:`AutodiffRule` derives ``backward`` from ``forward``
with ``jax.vjp`` on the block (used where the per-row formula is long and already lives at the
logits level, e.g. the generalized Jensen–Shannon divergence).
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from ._numerics import shifted_logsumexp

__all__ = [
    "Head",
    "Rule",
    "AutodiffRule",
    "plan",
    "pad_rows",
    "chunks",
    "logit_block",
    "logit_block_vjp",
    "block_lse",
    "matmul_grads",
    "reduction_coefs",
    "rows",
    "total",
]


class Head:
    """Static description of a logit block: bias / softcap / temperature present, chunk, dtype.

    Hashable, so that it can be a ``nondiff_argnum`` of the custom VJPs.
    """

    def __init__(self, has_bias: bool, cap: bool, tau: bool, chunk: int, cdt):
        self.has_bias = bool(has_bias)
        self.cap = bool(cap)
        self.tau = bool(tau)
        self.chunk = int(chunk)
        self.cdt = jnp.dtype(cdt)
        self.key = (self.has_bias, self.cap, self.tau, self.chunk, str(self.cdt))

    def __hash__(self):
        return hash(self.key)

    def __eq__(self, other):
        return isinstance(other, Head) and self.key == other.key


# --------------------------------------------------------------------------------------------
# Chunking
# --------------------------------------------------------------------------------------------


def plan(n: int, chunk_size: int | None, default: int) -> tuple[int, int]:
    """``(chunk, pad)``: rows per chunk (at most ``n``, at least 1) and padding rows to add."""
    chunk = default if chunk_size is None else int(chunk_size)
    chunk = max(1, min(chunk, n))
    padded = -(-n // chunk) * chunk if n else chunk
    return chunk, padded - n


def pad_rows(x, pad: int, value=0):
    """``x`` (or ``None``) with ``pad`` rows of ``value`` appended along axis 0."""
    if x is None or not pad:
        return x
    widths = ((0, pad),) + ((0, 0),) * (x.ndim - 1)
    return jnp.pad(x, widths, constant_values=value)


def chunks(tree, chunk: int):
    """Every array of ``tree`` (``None`` leaves kept) reshaped to ``[n // chunk, chunk, ...]``."""
    return jax.tree.map(lambda x: x.reshape((x.shape[0] // chunk, chunk) + x.shape[1:]), tree)


def _unchunk(tree):
    return jax.tree.map(lambda x: x.reshape((-1,) + x.shape[2:]), tree)


def _float0(x):
    return np.zeros(x.shape, jax.dtypes.float0)


def _zero_cotangent(x):
    """The cotangent of an input that gets no gradient: float0 for int / bool, 0 otherwise."""
    if x is None:
        return None
    if jnp.issubdtype(x.dtype, jnp.integer) or x.dtype == jnp.bool_:
        return _float0(x)
    return jnp.zeros_like(x)


# --------------------------------------------------------------------------------------------
# The logit block and its pull-back
# --------------------------------------------------------------------------------------------


def logit_block(head: Head, h_c, w, b, cap, tau):
    """Final logits of one chunk, ``softcap(h_c @ w + b) / τ``, and what the pull-back needs.

    Masked vocabulary: a ``-inf`` bias entry marks a class that does not exist; it stays ``-inf``
    through the softcap (``cap·tanh(−inf/cap)`` would otherwise make it a finite ``−cap``).
    """
    # matmul in the operands' dtype (bf16 stays bf16), accumulation in the computation dtype
    raw = lax.dot_general(h_c, w, (((1,), (0,)), ((), ())), preferred_element_type=head.cdt)
    if head.has_bias:
        raw = raw + b.astype(head.cdt)[None, :]
    aux = None
    z = raw
    if head.cap:
        finite = jnp.isfinite(raw)
        # softcap: z = cap·tanh(raw/cap); dz/draw = 1 − tanh², dz/dcap = tanh − (raw/cap)(1 − tanh²)
        t = jnp.tanh(jnp.where(finite, raw, jnp.zeros_like(raw)) / cap)
        z = jnp.where(finite, cap * t, -jnp.inf)
        aux = (t, raw, finite)
    if head.tau:
        z = z / tau
    return z, aux


def logit_block_vjp(head: Head, z, aux, dz, cap, tau):
    """``dz`` (w.r.t. the final logits) pulled back: ``(d raw, d cap, d τ)`` (``None`` if absent).

    ``dz`` must be 0 on ``-inf`` logits (masked classes), as every rule's block gradient is.
    """
    dtau = None
    if head.tau:
        # z = x/τ: dz/dτ = −z/τ, dz/dx = 1/τ; masked classes (z = −inf, dz = 0) contribute 0
        zf = jnp.where(jnp.isfinite(z), z, jnp.zeros_like(z))
        dtau = -jnp.sum(dz * zf) / tau
        dz = dz / tau
    dcap = None
    if head.cap:
        t, raw, finite = aux
        dz = jnp.where(finite, dz, jnp.zeros_like(dz))
        r = jnp.where(finite, raw, jnp.zeros_like(raw)) / cap
        one_minus_t2 = 1 - t * t
        dcap = jnp.sum(dz * (t - r * one_minus_t2))
        dz = dz * one_minus_t2
    return dz, dcap, dtau


def block_lse(z):
    """``(m, s)`` per row of a block, ``logsumexp(z) = m + s`` (m = row max, s ∈ [0, log V]).

    Kept apart so that sums relative to the max (smoothing, entropy) stay exact for huge logits.
    A row without a finite logit has ``m = 0`` and ``s = −inf``.
    """
    m, s = shifted_logsumexp(z, axis=1)
    return m[:, 0], s[:, 0]


def matmul_grads(head: Head, h_c, w, dz):
    """``(d hidden block, d weight contribution)`` of ``dz``.

    Matmuls in the operands' dtype, f32+ accumulation.
    """
    dzm = dz.astype(h_c.dtype)
    dh_c = lax.dot_general(dzm, w, (((1,), (1,)), ((), ())), preferred_element_type=head.cdt)
    dw_c = lax.dot_general(h_c, dzm, (((0,), (0,)), ((), ())), preferred_element_type=head.cdt)
    return dh_c.astype(h_c.dtype), dw_c


def reduction_coefs(valid, tok_w, reduction: str, dtype, denom_w=None):
    """``d reduced / d loss_i`` of a ``"mean"`` / ``"sum"`` reduction (exactly 0 on dropped rows).

    ``"sum"``: ``weights_i``; ``"mean"``: ``weights_i / Σ_valid weights·denom_w`` (``denom_w``:
    e.g. the target class weights of a class-weighted cross-entropy), all 0 when nothing is valid.
    """
    num = jnp.ones(valid.shape, dtype) if tok_w is None else tok_w
    num = jnp.where(valid, num, jnp.zeros_like(num))
    if reduction == "sum":
        return num
    denom = jnp.sum(num if denom_w is None else num * denom_w)
    nonzero = denom != 0
    # double where: nothing valid gives coefficients (and loss, gradients) of exactly 0
    return jnp.where(
        nonzero, num / jnp.where(nonzero, denom, jnp.ones_like(denom)), jnp.zeros_like(num)
    )


# --------------------------------------------------------------------------------------------
# Rules
# --------------------------------------------------------------------------------------------


class Rule:
    """What a loss computes from a block of final logits ``z`` (``[chunk, V]``).

    ``xs``: per-row inputs (a tuple of ``[n, ...]`` arrays, chunked with the tokens; no gradient);
    ``consts``: whole arrays without gradient (e.g. class weights, a teacher's weight);
    ``params``: a tuple of differentiable arrays (hyperparameters); their cotangents come from
    ``backward`` (summed over chunks) plus ``finish``. Subclasses must be hashable (static).
    """

    key: tuple = ()

    def __hash__(self):
        return hash((type(self).__name__,) + tuple(self.key))

    def __eq__(self, other):
        return type(self) is type(other) and self.key == other.key

    def context(self, head, w, b, consts, params):
        """Per-call values shared by all chunks (computed once per pass)."""
        return None

    def prepare(self, head, ctx, xs_c, consts):
        """Per-chunk values computed once and passed to ``forward`` and ``backward`` as ``ex``
        (e.g. a teacher's logit block, which the forward-gradient path then computes once)."""
        return None

    def forward(self, head, ctx, z, ex, xs_c, consts, params):
        """``(outs, res)``: per-row outputs (a tuple) and per-row residuals (a tuple)."""
        raise NotImplementedError

    def backward(self, head, ctx, z, ex, xs_c, res_c, gs_c, consts, params):
        """``(dz, dparams)``: ``d(Σ_k Σ_i g_k,i·out_k,i)/dz`` (0 on ``-inf`` logits) and this
        chunk's contribution to the params' cotangents (a tuple like ``params``, or ``None``)."""
        raise NotImplementedError

    def forward_backward(self, head, ctx, z, ex, xs_c, gs_c, consts, params):
        """``(outs, res, dz, dparams)`` of one chunk (the forward-gradient path); override where
        the two share work."""
        outs, res_c = self.forward(head, ctx, z, ex, xs_c, consts, params)
        dz, dp_c = self.backward(head, ctx, z, ex, xs_c, res_c, gs_c, consts, params)
        return outs, res_c, dz, dp_c

    def finish(self, head, ctx, xs, res, gs, consts, params):
        """Cotangents of ``params`` from the whole-batch residuals (added to ``backward``'s)."""
        return None


class AutodiffRule(Rule):
    """A rule whose ``backward`` is ``jax.vjp`` of ``values`` on the block (no residuals).

    Subclasses define ``values(head, z, ex, xs_c, consts, params) -> outs`` with autodiff-safe
    (double-where) numerics; ``params`` get their cotangents through the same ``vjp``.
    """

    def values(self, head, z, ex, xs_c, consts, params):
        raise NotImplementedError

    def forward(self, head, ctx, z, ex, xs_c, consts, params):
        return self.values(head, z, ex, xs_c, consts, params), ()

    def backward(self, head, ctx, z, ex, xs_c, res_c, gs_c, consts, params):
        _, pull = jax.vjp(lambda z_, p_: self.values(head, z_, ex, xs_c, consts, p_), z, params)
        return pull(tuple(gs_c))

    def forward_backward(self, head, ctx, z, ex, xs_c, gs_c, consts, params):
        outs, pull = jax.vjp(lambda z_, p_: self.values(head, z_, ex, xs_c, consts, p_), z, params)
        dz, dp_c = pull(tuple(gs_c))
        return outs, (), dz, dp_c


# --------------------------------------------------------------------------------------------
# Shared scan bodies
# --------------------------------------------------------------------------------------------


def _zeros_carry(head, w, params):
    return (
        jnp.zeros(w.shape, head.cdt),
        jnp.zeros((w.shape[1],), head.cdt),
        jnp.zeros((), head.cdt),
        jnp.zeros((), head.cdt),
        jax.tree.map(jnp.zeros_like, params),
    )


def _grad_step(head, carry, h_c, z, aux, w, dz, dp_c, cap, tau):
    """One chunk's block gradient ``dz`` → block pull-back → matmuls; accumulates the carry."""
    dw, db, dcap, dtau, dp = carry
    dz, dcap_c, dtau_c = logit_block_vjp(head, z, aux, dz, cap, tau)
    dh_c, dw_c = matmul_grads(head, h_c, w, dz)
    dw = dw + dw_c
    if head.has_bias:
        db = db + jnp.sum(dz, axis=0)
    if head.cap:
        dcap = dcap + dcap_c
    if head.tau:
        dtau = dtau + dtau_c
    if dp_c is not None:
        dp = jax.tree.map(lambda a, c: a + c.astype(a.dtype), dp, dp_c)
    return (dw, db, dcap, dtau, dp), dh_c


def _param_cotangents(rule, head, ctx, xs, res, gs, consts, params, dp):
    extra = rule.finish(head, ctx, xs, res, gs, consts, params)
    if extra is not None:
        dp = jax.tree.map(lambda a, c: a + c.astype(a.dtype), dp, tuple(extra))
    return dp


def _opt_grad(flag, value, ref):
    return value.astype(jnp.result_type(ref)) if flag else None


# --------------------------------------------------------------------------------------------
# Recompute: per-row outputs, any cotangent; the backward pass recomputes the logit blocks
# --------------------------------------------------------------------------------------------


def _rows_scan(head, rule, h, w, b, cap, tau, xs, consts, params):
    ctx = rule.context(head, w, b, consts, params)

    def body(_, inp):
        h_c, xs_c = inp
        z, _aux = logit_block(head, h_c, w, b, cap, tau)
        ex = rule.prepare(head, ctx, xs_c, consts)
        return None, rule.forward(head, ctx, z, ex, xs_c, consts, params)

    _, (outs, res) = lax.scan(body, None, chunks((h, xs), head.chunk))
    return _unchunk(outs), _unchunk(res)


@functools.partial(jax.custom_vjp, nondiff_argnums=(0, 1))
def rows(head, rule, h, w, b, cap, tau, xs, consts, params):
    """The rule's per-row outputs (a tuple of ``[n]`` arrays; ``n`` a multiple of the chunk).

    Differentiable w.r.t. ``h``, ``w``, ``b``, ``cap``, ``τ`` and ``params`` for any cotangent;
    residuals: the inputs and the rule's per-row residuals only.
    """
    return _rows_scan(head, rule, h, w, b, cap, tau, xs, consts, params)[0]


def _rows_fwd(head, rule, h, w, b, cap, tau, xs, consts, params):
    outs, res = _rows_scan(head, rule, h, w, b, cap, tau, xs, consts, params)
    return outs, (h, w, b, cap, tau, xs, consts, params, res)


def _rows_bwd(head, rule, saved, gs):
    h, w, b, cap, tau, xs, consts, params, res = saved
    ctx = rule.context(head, w, b, consts, params)
    gs = tuple(g.astype(head.cdt) for g in gs)

    def body(carry, inp):
        h_c, xs_c, res_c, gs_c = inp
        z, aux = logit_block(head, h_c, w, b, cap, tau)
        ex = rule.prepare(head, ctx, xs_c, consts)
        dz, dp_c = rule.backward(head, ctx, z, ex, xs_c, res_c, gs_c, consts, params)
        return _grad_step(head, carry, h_c, z, aux, w, dz, dp_c, cap, tau)

    (dw, db, dcap, dtau, dp), dh = lax.scan(
        body, _zeros_carry(head, w, params), chunks((h, xs, res, gs), head.chunk)
    )
    dp = _param_cotangents(rule, head, ctx, xs, res, gs, consts, params, dp)
    return (
        dh.reshape(h.shape),
        dw.astype(w.dtype),
        db.astype(b.dtype) if head.has_bias else None,
        _opt_grad(head.cap, dcap, cap),
        _opt_grad(head.tau, dtau, tau),
        jax.tree.map(_zero_cotangent, xs),
        jax.tree.map(_zero_cotangent, consts),
        jax.tree.map(lambda d, p: d.astype(jnp.result_type(p)), dp, params),
    )


rows.defvjp(_rows_fwd, _rows_bwd)


# --------------------------------------------------------------------------------------------
# Forward-gradient: scalar Σ_k Σ_i coef_k,i·out_k,i, its gradient computed in the forward pass
# --------------------------------------------------------------------------------------------


def _total_scan(head, rule, h, w, b, cap, tau, xs, consts, params, coefs):
    ctx = rule.context(head, w, b, consts, params)

    def body(carry, inp):
        h_c, xs_c, coefs_c = inp
        z, aux = logit_block(head, h_c, w, b, cap, tau)
        ex = rule.prepare(head, ctx, xs_c, consts)
        outs, res_c, dz, dp_c = rule.forward_backward(
            head, ctx, z, ex, xs_c, coefs_c, consts, params
        )
        carry, dh_c = _grad_step(head, carry, h_c, z, aux, w, dz, dp_c, cap, tau)
        return carry, (outs, res_c, dh_c)

    (dw, db, dcap, dtau, dp), (outs, res, dh) = lax.scan(
        body, _zeros_carry(head, w, params), chunks((h, xs, coefs), head.chunk)
    )
    outs, res = _unchunk(outs), _unchunk(res)
    # rules give exactly 0 on dropped rows, whose coefficients are exactly 0 too
    value = sum(jnp.sum(c * o) for c, o in zip(coefs, outs, strict=True))
    dp = _param_cotangents(rule, head, ctx, xs, res, coefs, consts, params, dp)
    return value, (dh.reshape(h.shape), dw, db, dcap, dtau, dp, outs)


@functools.partial(jax.custom_vjp, nondiff_argnums=(0, 1))
def total(head, rule, h, w, b, cap, tau, xs, consts, params, coefs):
    """``Σ_k Σ_i coefs[k]_i · outs[k]_i`` of the rule's outputs (``coefs``: constants of the
    reduction, e.g. :func:`reduction_coefs`), gradient work done in the forward pass."""
    return _total_scan(head, rule, h, w, b, cap, tau, xs, consts, params, coefs)[0]


def _total_fwd(head, rule, h, w, b, cap, tau, xs, consts, params, coefs):
    value, res = _total_scan(head, rule, h, w, b, cap, tau, xs, consts, params, coefs)
    return value, (res, w, b, cap, tau, xs, consts, params)


def _total_bwd(head, rule, saved, ct):
    (dh, dw, db, dcap, dtau, dp, outs), w, b, cap, tau, xs, consts, params = saved
    ct = ct.astype(head.cdt)
    # the forward pass computed d(Σ coef·out); the backward pass only scales by the cotangent
    return (
        (dh.astype(head.cdt) * ct).astype(dh.dtype),
        (dw * ct).astype(w.dtype),
        (db * ct).astype(b.dtype) if head.has_bias else None,
        _opt_grad(head.cap, dcap * ct, cap),
        _opt_grad(head.tau, dtau * ct, tau),
        jax.tree.map(_zero_cotangent, xs),
        jax.tree.map(_zero_cotangent, consts),
        jax.tree.map(lambda d, p: (d * ct.astype(d.dtype)).astype(jnp.result_type(p)), dp, params),
        # a kept row whose output is NaN (invalid input) gets a NaN coefficient derivative too
        tuple(o * ct for o in outs),
    )


total.defvjp(_total_fwd, _total_bwd)
