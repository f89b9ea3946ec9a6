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
* the weight-gradient accumulation ``d weight += h_cᵀ @ d block`` in place, one ``[D, slice]``
  vocabulary piece at a time (:func:`add_weight_grad`), so that no second ``[D, V]`` buffer
  exists beside the accumulator;
* the two custom VJPs:

  - :func:`rows` (recompute, as Apple's Cut Cross-Entropy): the forward pass keeps only the
    rule's per-row residuals (e.g. the log-sum-exp); the backward pass recomputes each logit
    block and asks the rule for ``d block`` under any cotangent of the outputs. 4 matmuls.
  - :func:`total` (forward-gradient, as Liger-Kernel): for a scalar ``Σ_k Σ_i coef_k,i·out_k,i``
    whose coefficients are known up front (a ``"mean"`` / ``"sum"`` reduction) the forward pass
    also computes each block's gradient and accumulates ``d hidden``, ``d weight``, ``d bias``;
    the backward pass only scales them by the incoming cotangent. 3 matmuls.

  Both run inside ``jax.shard_map`` with the vocabulary split over ``Head.axis``: the gradients
  of what is replicated along it are all-reduced there (:func:`rows`: in the backward pass;
  :func:`total`: at the end of the forward pass).

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
    "transform",
    "vma",
    "pvary_to",
    "match_vma",
    "block_lse",
    "row_stats",
    "local_tokens",
    "logits_rows",
    "add_weight_grad",
    "weight_grad_slice",
    "reduction_coefs",
    "rows",
    "total",
]


class Head:
    """Static description of a logit block: bias / softcap / temperature present, chunk, dtype.

    Hashable, so that it can be a ``nondiff_argnum`` of the custom VJPs.

    ``axis``: the mesh axis the vocabulary is split over (inside ``jax.shard_map``), or ``None``.
    With it, a block holds this device's classes ``[k·V/n, (k+1)·V/n)`` only; rules combine their
    per-row statistics over the axis (:func:`row_stats`), and the custom VJPs all-reduce the
    gradients of what is replicated along it (``hidden``, ``cap``, ``τ``, the rule's params).
    """

    def __init__(self, has_bias: bool, cap: bool, tau: bool, chunk: int, cdt, axis=None):
        self.has_bias = bool(has_bias)
        self.cap = bool(cap)
        self.tau = bool(tau)
        self.chunk = int(chunk)
        self.cdt = jnp.dtype(cdt)
        self.axis = axis
        self.key = (self.has_bias, self.cap, self.tau, self.chunk, str(self.cdt), axis)

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
    return transform(head, raw, cap, tau)


def transform(head: Head, raw, cap, tau):
    """``softcap(raw) / τ`` (each if ``head`` has it) and what :func:`logit_block_vjp` needs."""
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


def local_tokens(tok, vocab_local: int, axis):
    """``(index into this device's block, owned)`` of global token ids ``tok`` (in range).

    Without ``axis`` the block is the whole vocabulary: ``(tok, None)``.
    """
    if axis is None:
        return tok, None
    offset = (lax.axis_index(axis) * vocab_local).astype(tok.dtype)
    local = tok - offset
    owned = (local >= 0) & (local < vocab_local)
    return jnp.where(owned, local, jnp.zeros_like(local)), owned


def row_stats(z, idx, owned=None, axis=None, entropy: bool = False, extra=None):
    """Per-row statistics of a block ``z`` ``[R, V']``: ``(m, s, target, H)``, global over ``axis``.

    ``logsumexp(z) = m + s`` (``m`` the row max, 0 on a row without a finite logit, ``s = log S``,
    ``S = Σ exp(z − m)``, ``−inf`` on a row without mass), ``target = z[idx]`` and, with
    ``entropy``, ``H = −Σ p log p = s − T/S`` with ``T = Σ_finite exp(z − m)·(z − m)`` (0 on a row
    without mass; ``None`` otherwise) — the conventions of
    :func:`jaxloss._numerics.shifted_logsumexp`.

    With the vocabulary split over mesh axis ``axis`` (Megatron-LM's algorithm, one collective):
    device ``i`` of the ``n`` along ``axis`` computes its local statistics relative to its *own*
    row max ``m_i`` (``c_i = m_i``, or 0 where ``m_i`` is not finite): ``S_i = Σ exp(z − c_i)``,
    ``target_i`` (0 on shards that do not own ``idx``, ``owned`` False), ``T_i``, and writes
    ``[m_i, S_i, target_i, T_i, extras_i]`` into its slot ``i`` of an ``[n, k, R]`` array of
    zeros. **One** ``psum`` of that array (an all-gather expressed as a single all-reduce; exact,
    since every slot is one device's values plus zeros) gives every device all the local
    statistics, which it merges: ``m = max_i m_i`` (0 where not finite, as the single-device
    ``m``), ``S = Σ_i f_i·S_i`` and ``T = Σ_i f_i·(T_i + (c_i − m)·S_i)`` with
    ``f_i = exp(c_i − m)`` (``f_i = 0`` for a shard whose row is all ``−inf``; the ``(c_i − m)``
    term is dropped where ``c_i = m``), target and extras summed. The payload is ``n·k`` floats
    per row instead of ``k`` (plus one all-reduce of the max): one collective latency per pass
    instead of two. A NaN or ``+inf`` logit anywhere gives the single-device ``m = 0`` and a
    NaN / ``+inf`` ``S``. No autodiff runs through this (callers are custom VJPs).

    ``extra``: optional ``f(z) -> tuple`` of further local per-row sums that do not depend on the
    shift (e.g. label smoothing's Σ_finite z and K), summed over ``axis`` in the same ``psum``;
    returned as a fifth element.
    """
    raw = jnp.max(z, axis=1)
    m = jnp.where(jnp.isfinite(raw), raw, jnp.zeros_like(raw))
    d = z - m[:, None]
    e = jnp.exp(d)
    big_s = jnp.sum(e, axis=1)
    target = jnp.take_along_axis(z, idx[:, None], axis=1)[:, 0]
    if owned is not None:
        target = jnp.where(owned, target, jnp.zeros_like(target))
    stats = [big_s, target]
    if entropy:
        present = jnp.isfinite(d)
        stats.append(jnp.sum(jnp.where(present, e * jnp.where(present, d, 0), 0), axis=1))
    n_base = len(stats)
    if extra is not None:
        stats.extend(a.astype(z.dtype) for a in extra(z))
    if axis is not None:
        m, stats = _merge_over_axis(raw, stats, axis, entropy)
    big_s, target = stats[0], stats[1]
    no_mass = big_s == 0
    safe_s = jnp.where(no_mass, jnp.ones_like(big_s), big_s)
    s = jnp.where(no_mass, -jnp.inf, jnp.log(safe_s))
    ent = None
    if entropy:
        ent = jnp.where(no_mass, jnp.zeros_like(s), s - stats[2] / safe_s)
    if extra is not None:
        return m, s, target, ent, tuple(stats[n_base:])
    return m, s, target, ent


def _merge_over_axis(raw, stats, axis, entropy: bool):
    """``(m, [S, target(, T), extras...])`` over ``axis`` from each device's local row max ``raw``
    and its local ``stats`` relative to its shift ``c = raw`` (0 where not finite): one
    ``psum`` of an ``[n, k, R]`` array holding each device's values in its own slot (see
    :func:`row_stats`)."""
    n = lax.axis_size(axis)
    me = lax.axis_index(axis)
    local = jnp.stack([raw, *stats])  # [k, R]
    slot = lax.broadcasted_iota(me.dtype, (n, 1, 1), 0) == me
    # select, never multiply: a NaN / ±inf statistic reaches the other devices unchanged
    every = lax.psum(jnp.where(slot, local[None], jnp.zeros((), local.dtype)), axis)
    raws, parts = every[:, 0], every[:, 1:]  # [n, R], [n, k - 1, R]
    top = jnp.max(raws, axis=0)
    m = jnp.where(jnp.isfinite(top), top, jnp.zeros_like(top))
    shifts = jnp.where(jnp.isfinite(raws), raws, jnp.zeros_like(raws))
    delta = shifts - m[None]
    # a shard whose row is all −inf has S_i = T_i = 0 (and shift 0, whose exp(−m) may overflow)
    f = jnp.where(raws == -jnp.inf, jnp.zeros_like(delta), jnp.exp(delta))
    big_s = jnp.sum(f * parts[:, 0], axis=0)
    merged = [big_s, jnp.sum(parts[:, 1], axis=0)]
    if entropy:
        big_t, s_i = parts[:, 2], parts[:, 0]
        # Σ exp(z − m)(z − m) = f_i·(T_i + (c_i − m)·S_i); the term is absent where c_i = m
        # (also where S_i = +inf: a +inf logit makes m = 0 = c_i on its shard)
        moved = jnp.where(delta == 0, jnp.zeros_like(s_i), delta * s_i)
        merged.append(jnp.sum(f * (big_t + moved), axis=0))
    merged.extend(jnp.sum(parts[:, 2 + int(entropy) :], axis=0))
    return m, merged


def reduction_coefs(valid, tok_w, reduction: str, dtype, denom_w=None, batch_axis=None):
    """``d reduced / d loss_i`` of a ``"mean"`` / ``"sum"`` reduction (exactly 0 on dropped rows).

    ``"sum"``: ``weights_i``; ``"mean"``: ``weights_i / Σ_valid weights·denom_w`` (``denom_w``:
    e.g. the target class weights of a class-weighted cross-entropy), all 0 when nothing is valid.
    With ``batch_axis`` (inside ``jax.shard_map``, rows split over that mesh axis) the mean's
    denominator is summed over it too: the global mean over the whole batch.
    """
    num = jnp.ones(valid.shape, dtype) if tok_w is None else tok_w
    num = jnp.where(valid, num, jnp.zeros_like(num))
    if reduction == "sum":
        return num
    denom = jnp.sum(num if denom_w is None else num * denom_w)
    if batch_axis is not None:
        denom = lax.psum(denom, batch_axis)
    nonzero = denom != 0
    # double where: nothing valid gives coefficients (and loss, gradients) of exactly 0
    return jnp.where(
        nonzero, num / jnp.where(nonzero, denom, jnp.ones_like(denom)), jnp.zeros_like(num)
    )


# Elements of one ``[D, slice]`` piece of a chunk's weight gradient (8 MiB in float32), and the
# fewest columns of a piece (a wide hidden dimension still gets matmuls of a useful width).
WEIGHT_GRAD_SLICE_ELEMS = 1 << 21
WEIGHT_GRAD_MIN_COLS = 128


def weight_grad_slice(d: int, v: int) -> int:
    """Vocabulary columns per piece of the weight-gradient update (:func:`add_weight_grad`)."""
    cols = max(WEIGHT_GRAD_MIN_COLS, WEIGHT_GRAD_SLICE_ELEMS // max(d, 1))
    return max(1, min(v, cols))


def add_weight_grad(head: Head, dw, h_c, dzm, sl: int | None = None):
    """``dw + h_cᵀ @ dzm``, the ``[D, V]`` product formed one vocabulary slice at a time.

    XLA does not fuse the accumulation into the matmul: a whole ``h_cᵀ @ dzm`` would be a second
    ``[D, V]`` buffer beside the accumulator (the largest temporary of the fused losses, 64 MiB at
    D = 512, V = 32768). A ``fori_loop`` over ``[D, sl]`` slices (``sl`` columns, default
    :func:`weight_grad_slice`) adds each slice in place while it is still in cache; a ragged last
    slice is one more static step.
    """
    d, v = dw.shape
    sl = weight_grad_slice(d, v) if sl is None else max(1, min(int(sl), v))
    dims = (((0,), (0,)), ((), ()))

    def piece(dz_s):
        return lax.dot_general(h_c, dz_s, dims, preferred_element_type=head.cdt)

    if sl == v:
        return dw + piece(dzm)

    def body(k, acc):
        start = k * sl
        dz_s = lax.dynamic_slice_in_dim(dzm, start, sl, axis=1)
        cur = lax.dynamic_slice_in_dim(acc, start, sl, axis=1)
        return lax.dynamic_update_slice_in_dim(acc, cur + piece(dz_s), start, axis=1)

    full = v // sl
    dw = lax.fori_loop(0, full, body, dw)
    start = full * sl
    if start == v:
        return dw
    tail = dw[:, start:] + piece(dzm[:, start:])
    return lax.dynamic_update_slice_in_dim(dw, tail, start, axis=1)


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
    dzm = dz.astype(h_c.dtype)
    dh_c = lax.dot_general(dzm, w, (((1,), (1,)), ((), ())), preferred_element_type=head.cdt)
    dh_c = dh_c.astype(h_c.dtype)
    dw = add_weight_grad(head, dw, h_c, dzm)
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
# Mesh axes (inside jax.shard_map): replicated inputs get all-reduced gradients
# --------------------------------------------------------------------------------------------


def vma(x) -> set:
    """The manual mesh axes ``x`` varies over inside ``shard_map`` (empty outside, or ``None``)."""
    if x is None:
        return set()
    aval = jax.typeof(x)
    mat = getattr(aval, "mat", None)  # jax >= 0.9 keeps it as aval.mat.varying
    return set(getattr(mat, "varying", None) or getattr(aval, "vma", None) or ())


def _tree_vma(tree) -> set:
    out = set()
    for leaf in jax.tree.leaves(tree):
        out |= vma(leaf)
    return out


def pvary_to(x, axes: set):
    """``x`` marked as varying over ``axes`` too (a scan carry must vary like its updates)."""
    extra = tuple(sorted(set(axes) - vma(x)))
    return lax.pcast(x, extra, to="varying") if extra else x


def match_vma(ct, primal):
    """Cotangent ``ct`` of ``primal``: summed over the mesh axes it varies over and ``primal`` does
    not (a value replicated over a data axis gets every shard's contribution), marked varying over
    those ``primal`` varies over and it does not."""
    if ct is None or primal is None:
        return ct
    extra = tuple(sorted(vma(ct) - vma(primal)))
    if extra:
        ct = lax.psum(ct, extra)
    return pvary_to(ct, vma(primal))


def _psum_axis(head, x):
    """All-reduce over the vocabulary axis of a gradient whose primal is replicated along it."""
    if head.axis is None or x is None or not jax.tree.leaves(x):
        return x
    return lax.psum(x, head.axis)


def _block_param_cotangents(head, block_dp, dp, params):
    """The params' cotangents summed over the blocks (``dp``, the scan's running sum), all-reduced
    over the vocabulary axis; fresh zeros when the rule gave none per block (``block_dp``): the
    running sum is typed as varying over every mesh axis, and ``finish``'s global contribution
    added to it would then be summed over the vocabulary axis once more (×n) by ``match_vma``."""
    if not any(block_dp):
        return jax.tree.map(jnp.zeros_like, params)
    return _psum_axis(head, dp)


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

    block_dp = []  # whether the rule's backward gives per-block param cotangents (trace time)

    def body(carry, inp):
        h_c, xs_c, res_c, gs_c = inp
        z, aux = logit_block(head, h_c, w, b, cap, tau)
        ex = rule.prepare(head, ctx, xs_c, consts)
        dz, dp_c = rule.backward(head, ctx, z, ex, xs_c, res_c, gs_c, consts, params)
        block_dp.append(dp_c is not None)
        return _grad_step(head, carry, h_c, z, aux, w, dz, dp_c, cap, tau)

    # inside shard_map the carry must vary over the mesh axes its updates vary over
    axes = _tree_vma((h, w, b, cap, tau, xs, consts, params, res, gs))
    carry0 = jax.tree.map(lambda x: pvary_to(x, axes), _zeros_carry(head, w, params))
    (dw, db, dcap, dtau, dp), dh = lax.scan(body, carry0, chunks((h, xs, res, gs), head.chunk))
    # hidden, cap, τ and params are replicated along the vocabulary axis: sum every shard's part
    # of what the blocks gave (``finish`` works on the global per-row residuals: no sum)
    dh = _psum_axis(head, dh)
    dp = _block_param_cotangents(head, block_dp, dp, params)
    dp = _param_cotangents(rule, head, ctx, xs, res, gs, consts, params, dp)
    dcap = _psum_axis(head, dcap) if head.cap else dcap
    dtau = _psum_axis(head, dtau) if head.tau else dtau
    return (
        match_vma(dh.reshape(h.shape), h),
        match_vma(dw.astype(w.dtype), w),
        match_vma(db.astype(b.dtype), b) if head.has_bias else None,
        match_vma(_opt_grad(head.cap, dcap, cap), cap),
        match_vma(_opt_grad(head.tau, dtau, tau), tau),
        jax.tree.map(_zero_cotangent, xs),
        jax.tree.map(_zero_cotangent, consts),
        jax.tree.map(lambda d, p: match_vma(d.astype(jnp.result_type(p)), p), dp, params),
    )


rows.defvjp(_rows_fwd, _rows_bwd)


# --------------------------------------------------------------------------------------------
# Logits given: the same rules on a block that already exists (one custom VJP, no matmul)
# --------------------------------------------------------------------------------------------


@functools.partial(jax.custom_vjp, nondiff_argnums=(0, 1))
def logits_rows(head, rule, x, cap, tau, xs, consts, params):
    """The rule's per-row outputs on given logits ``x`` ``[n, V']`` (softcap, then ``τ``).

    For the logits-level forms (e.g. the vocabulary-parallel token log-probs): the rule's
    ``forward`` / ``backward`` and the block pull-back of :func:`rows`, on one block of all rows.
    """
    return _logits_rows_fwd(head, rule, x, cap, tau, xs, consts, params)[0]


def _logits_rows_fwd(head, rule, x, cap, tau, xs, consts, params):
    ctx = rule.context(head, None, None, consts, params)
    z, _ = transform(head, x.astype(head.cdt), cap, tau)
    ex = rule.prepare(head, ctx, xs, consts)
    outs, res = rule.forward(head, ctx, z, ex, xs, consts, params)
    return outs, (x, cap, tau, xs, consts, params, res)


def _logits_rows_bwd(head, rule, saved, gs):
    x, cap, tau, xs, consts, params, res = saved
    ctx = rule.context(head, None, None, consts, params)
    gs = tuple(g.astype(head.cdt) for g in gs)
    z, aux = transform(head, x.astype(head.cdt), cap, tau)
    ex = rule.prepare(head, ctx, xs, consts)
    dz, dp = rule.backward(head, ctx, z, ex, xs, res, gs, consts, params)
    dx, dcap, dtau = logit_block_vjp(head, z, aux, dz, cap, tau)
    # the block's parts are summed over the vocabulary axis; ``finish``'s are global already
    dcap, dtau = _psum_axis(head, dcap), _psum_axis(head, dtau)
    dp = jax.tree.map(jnp.zeros_like, params) if dp is None else _psum_axis(head, tuple(dp))
    dp = _param_cotangents(rule, head, ctx, xs, res, gs, consts, params, dp)
    return (
        match_vma(dx.astype(x.dtype), x),
        match_vma(_opt_grad(head.cap, dcap, cap), cap),
        match_vma(_opt_grad(head.tau, dtau, tau), tau),
        jax.tree.map(_zero_cotangent, xs),
        jax.tree.map(_zero_cotangent, consts),
        jax.tree.map(lambda d, p: match_vma(d.astype(jnp.result_type(p)), p), dp, params),
    )


logits_rows.defvjp(_logits_rows_fwd, _logits_rows_bwd)


# --------------------------------------------------------------------------------------------
# Forward-gradient: scalar Σ_k Σ_i coef_k,i·out_k,i, its gradient computed in the forward pass
# --------------------------------------------------------------------------------------------


def _total_scan(head, rule, h, w, b, cap, tau, xs, consts, params, coefs):
    ctx = rule.context(head, w, b, consts, params)
    block_dp = []  # whether the rule's forward_backward gives per-block param cotangents

    def body(carry, inp):
        h_c, xs_c, coefs_c = inp
        z, aux = logit_block(head, h_c, w, b, cap, tau)
        ex = rule.prepare(head, ctx, xs_c, consts)
        outs, res_c, dz, dp_c = rule.forward_backward(
            head, ctx, z, ex, xs_c, coefs_c, consts, params
        )
        block_dp.append(dp_c is not None)
        carry, dh_c = _grad_step(head, carry, h_c, z, aux, w, dz, dp_c, cap, tau)
        return carry, (outs, res_c, dh_c)

    # inside shard_map the running sums start out alike on every device but their updates differ
    # (e.g. this device's weight-gradient slice): the carry must vary like them from the start
    axes = _tree_vma((h, w, b, cap, tau, xs, consts, params, coefs))
    carry0 = jax.tree.map(lambda x: pvary_to(x, axes), _zeros_carry(head, w, params))
    (dw, db, dcap, dtau, dp), (outs, res, dh) = lax.scan(
        body, carry0, chunks((h, xs, coefs), head.chunk)
    )
    outs, res = _unchunk(outs), _unchunk(res)
    # rules give exactly 0 on dropped rows, whose coefficients are exactly 0 too
    value = sum(jnp.sum(c * o) for c, o in zip(coefs, outs, strict=True))
    # hidden, cap, τ and params are replicated along the vocabulary axis: sum every shard's part
    # of what the blocks gave, as the recompute backward pass does (``finish``: global, no sum)
    dh = _psum_axis(head, dh)
    dp = _block_param_cotangents(head, block_dp, dp, params)
    dp = _param_cotangents(rule, head, ctx, xs, res, coefs, consts, params, dp)
    dcap = _psum_axis(head, dcap) if head.cap else dcap
    dtau = _psum_axis(head, dtau) if head.tau else dtau
    return value, (dh.reshape(h.shape), dw, db, dcap, dtau, dp, outs)


def _vma_ref(x):
    """A stand-in for ``x`` in the residuals that carries only its mesh-axis type (no memory)."""
    if x is None:
        return None
    x = jnp.asarray(x)
    return x[:0] if x.ndim else x


@functools.partial(jax.custom_vjp, nondiff_argnums=(0, 1))
def total(head, rule, h, w, b, cap, tau, xs, consts, params, coefs):
    """``Σ_k Σ_i coefs[k]_i · outs[k]_i`` of the rule's outputs (``coefs``: constants of the
    reduction, e.g. :func:`reduction_coefs`), gradient work done in the forward pass.

    With ``head.axis`` (inside ``jax.shard_map``) the value is this device's (rows local, the
    vocabulary global); the forward pass all-reduces the gradients of ``hidden``, ``cap``, ``τ``
    and the block part of the params' over the axis, as the recompute backward pass does, and
    each cotangent comes back typed as its primal varies over the mesh axes."""
    return _total_scan(head, rule, h, w, b, cap, tau, xs, consts, params, coefs)[0]


def _total_fwd(head, rule, h, w, b, cap, tau, xs, consts, params, coefs):
    value, res = _total_scan(head, rule, h, w, b, cap, tau, xs, consts, params, coefs)
    refs = jax.tree.map(_vma_ref, (h, w, b, params, coefs))
    return value, (res, refs, cap, tau, xs, consts)


def _total_bwd(head, rule, saved, ct):
    (dh, dw, db, dcap, dtau, dp, outs), refs, cap, tau, xs, consts = saved
    h, w, b, params, coefs = refs
    ct = ct.astype(head.cdt)
    # the forward pass computed d(Σ coef·out); the backward pass only scales by the cotangent
    # (``match_vma``: inside shard_map, each cotangent typed as its primal varies)
    return (
        match_vma((dh.astype(head.cdt) * ct).astype(dh.dtype), h),
        match_vma((dw * ct).astype(w.dtype), w),
        match_vma((db * ct).astype(b.dtype), b) if head.has_bias else None,
        match_vma(_opt_grad(head.cap, dcap * ct, cap), cap),
        match_vma(_opt_grad(head.tau, dtau * ct, tau), tau),
        jax.tree.map(_zero_cotangent, xs),
        jax.tree.map(_zero_cotangent, consts),
        jax.tree.map(
            lambda d, p: match_vma((d * ct.astype(d.dtype)).astype(jnp.result_type(p)), p),
            dp,
            params,
        ),
        # a kept row whose output is NaN (invalid input) gets a NaN coefficient derivative too
        tuple(
            match_vma((o * ct).astype(jnp.result_type(c)), c)
            for o, c in zip(outs, coefs, strict=True)
        ),
    )


total.defvjp(_total_fwd, _total_bwd)
