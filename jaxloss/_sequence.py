"""Sequence losses: connectionist temporal classification (CTC)."""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax
from jax.typing import ArrayLike

from . import _validation as val
from ._numerics import as_compute, compute_dtype, log_softmax
from ._reduction import apply_reduction
from ._validation import REDUCTIONS, check_reduction

_CTC_REDUCTIONS = REDUCTIONS + ("mean_per_label",)


def _logsumexp_stacked(*xs: jax.Array) -> jax.Array:
    """log Σ_i exp(x_i) element-wise over a few same-shape arrays; all ``-inf`` gives ``-inf``.

    Values and derivatives stay finite when some or all inputs are ``-inf`` (double where).
    """
    m = functools.reduce(jnp.maximum, xs)
    # logsumexp(x) = m + log Σ exp(x − m), with m := 0 where every input is −inf
    m = lax.stop_gradient(jnp.where(jnp.isfinite(m), m, jnp.zeros_like(m)))
    s = functools.reduce(jnp.add, [jnp.exp(x - m) for x in xs])
    # "no mass" rather than "s > 0": a NaN input (NaN s) propagates instead of giving −inf
    no_mass = s == 0
    return jnp.where(no_mass, -jnp.inf, m + jnp.log(jnp.where(no_mass, jnp.ones_like(s), s)))


@functools.partial(jax.jit, static_argnames=("blank_id", "with_alphas"))
def _ctc_log_likelihood(
    log_probs: jax.Array,
    frame_valid: jax.Array,
    labels: jax.Array,
    label_lengths: jax.Array,
    blank_id: int,
    with_alphas: bool = False,
    log_epsilon: jax.Array | None = None,
) -> jax.Array:
    """log P(labels | log_probs) per sequence by the CTC forward algorithm in log space.

    Args:
      log_probs: ``[B, T, K]`` normalised log-probabilities (``-inf`` allowed).
      frame_valid: ``[B, T]`` bool, ``False`` = padded frame (skipped: alpha is carried over).
      labels: ``[B, N]`` int, entries at ``n >= label_lengths[b]`` already replaced by the blank.
      label_lengths: ``[B]`` int.
      blank_id: the blank class.
      log_epsilon: ``None`` (exact: ``log 0 = -inf``), or the finite stand-in for ``log 0`` of
        optax's lattice (see :func:`ctc_loss`).

    Returns:
      ``[B]`` log-likelihoods, ``-inf`` where no alignment exists; with ``with_alphas`` also the
      ``[T, B, 2N + 1]`` lattice of log α after each frame.

    Jitted once per shape / dtype / blank, so eager calls do not re-trace the scan.
    """
    batch, _, num_classes = log_probs.shape
    num_labels = labels.shape[1]
    num_states = 2 * num_labels + 1
    dtype = log_probs.dtype
    neg_inf = jnp.asarray(-jnp.inf, dtype)

    # extended label sequence: blank, l1, blank, l2, ..., lN, blank
    ext = jnp.full((batch, num_states), blank_id, labels.dtype).at[:, 1::2].set(labels)
    # the skip s-2 -> s is allowed into a label state whose label differs from the previous label
    # (between repeated labels the path must pass through the blank)
    skip = jnp.zeros((batch, num_states), bool).at[:, 3::2].set(labels[:, 1:] != labels[:, :-1])

    in_range = (ext >= 0) & (ext < num_classes)
    safe_ext = jnp.where(in_range, ext, jnp.zeros_like(ext))
    emit = jnp.take_along_axis(log_probs, safe_ext[:, None, :], axis=2)  # [B, T, S]
    # out-of-range label ids are invalid input: they give NaN (see ctc_loss's notes)
    emit = jnp.where(in_range[:, None, :], emit, jnp.asarray(jnp.nan, dtype))

    # log 0 of the lattice: exact -inf, or optax's finite log_epsilon (unreachable start states,
    # forbidden skips between repeated labels)
    log_zero = neg_inf if log_epsilon is None else log_epsilon.astype(dtype)
    if log_epsilon is not None:
        # a skip into a label equal to the previous one is forbidden: it costs log_epsilon
        repeat = jnp.zeros((batch, num_states), bool)
        repeat = repeat.at[:, 3::2].set(labels[:, 1:] == labels[:, :-1])
        is_blank = (jnp.arange(num_states) % 2 == 0)[None, :]

    # alpha before the first frame: all mass on a virtual start that feeds states 0 and 1 exactly
    # like state 0 feeds states 0, 1 (state 2 is a blank, so no skip from it)
    alpha0 = jnp.full((batch, num_states), log_zero).at[:, 0].set(0)
    pad1 = jnp.full((batch, 1), neg_inf)
    pad2 = jnp.full((batch, 2), neg_inf)

    def step(alpha, xs):
        emit_t, valid_t = xs
        stay = alpha
        advance = jnp.concatenate([pad1, alpha[:, :-1]], axis=1)
        prev2 = jnp.concatenate([pad2, alpha[:, :-2]], axis=1)
        jump = jnp.where(skip, prev2, neg_inf)
        if log_epsilon is None:
            # α_t(s) = log[α_{t−1}(s) + α_{t−1}(s−1) + skip·α_{t−1}(s−2)] + log y_t(ext_s)
            new = _logsumexp_stacked(stay, advance, jump) + emit_t
        else:
            # optax's lattice: a forbidden skip costs ε = e^log_epsilon, and a blank state also
            # takes the label → blank step a second time at weight ε
            jump = jnp.where(repeat, prev2 + log_zero, jump)
            twice = jnp.where(is_blank, advance + log_zero, neg_inf)
            new = _logsumexp_stacked(stay, advance, jump, twice) + emit_t
        alpha = jnp.where(valid_t[:, None], new, alpha)
        return alpha, (alpha if with_alphas else None)

    xs = (jnp.swapaxes(emit, 0, 1), jnp.swapaxes(frame_valid, 0, 1))
    alpha, alphas = lax.scan(step, alpha0, xs)

    # a complete path ends in the last label state (2L − 1) or the trailing blank (2L)
    end_blank = jnp.take_along_axis(alpha, (2 * label_lengths)[:, None], axis=1)[:, 0]
    last_label = jnp.maximum(2 * label_lengths - 1, 0)
    end_label = jnp.take_along_axis(alpha, last_label[:, None], axis=1)[:, 0]
    end_label = jnp.where(label_lengths > 0, end_label, neg_inf)
    log_likelihood = _logsumexp_stacked(end_blank, end_label)
    return (log_likelihood, alphas) if with_alphas else log_likelihood


@val.declare_ranges(log_epsilon=val.Range(hi=0.0, hi_open=True))
def ctc_loss(
    logits: ArrayLike,
    logit_paddings: ArrayLike,
    labels: ArrayLike,
    label_paddings: ArrayLike,
    *,
    blank_id: int = 0,
    zero_infinity: bool = False,
    log_epsilon: ArrayLike | None = None,
    weights: ArrayLike | None = None,
    where: ArrayLike | None = None,
    reduction: str = "mean",
) -> jax.Array:
    r"""Connectionist temporal classification loss: per-sequence negative log-likelihood.

    .. math::
       \ell_b = \max\Bigl(0,\; -\log \sum_{\pi \in \mathcal{B}^{-1}(y_b)}
                \prod_{t} \mathrm{softmax}(\mathrm{logits}_{b,t})_{\pi_t}\Bigr),

    where :math:`\mathcal{B}` removes repeats then blanks, the product runs over the unpadded
    frames, and :math:`y_b` is the unpadded label sequence. Computed by the forward algorithm
    (Graves et al., 2006) in log space with :func:`jax.lax.scan` over time; a blank is required
    between repeated labels. Argument convention of ``optax.ctc_loss``.

    Args:
      logits: ``[B, T, K]`` unnormalised scores (``log_softmax`` is applied over ``K``; the
        blank is one of the ``K`` classes). ``-inf`` is allowed (a class that cannot be emitted).
      logit_paddings: ``[B, T]``, 1.0 (or ``True``; any non-zero value) marks a padded frame, 0.0
        a real one. Padded frames are skipped, so with right padding the input length is
        ``T − Σ_t paddings``.
      labels: ``[B, N]`` integer class ids in ``[0, K)``, not the blank, right-padded.
      label_paddings: ``[B, N]``, 1.0 (any non-zero value) marks a padded label; the padded
        entries of ``labels`` may hold any id. The target length is the number of
        non-padding entries ``L_b`` and the first ``L_b`` entries of ``labels[b]`` are used.
      blank_id: the blank class (static int).
      zero_infinity: if ``True``, impossible alignments give 0 (PyTorch's ``zero_infinity``)
        instead of ``+inf``.
      log_epsilon: ``None`` (default): the forward algorithm uses the exact ``log 0 = -inf``. A
        (traceable) number ``ε_log`` < 0 runs optax's lattice instead, where ``ε_log`` stands
        in for ``log 0``: every state but the start begins at ``ε_log``, a skip between two equal
        labels (forbidden: a blank must separate them) costs ``ε_log``, and each label → blank
        step is also taken a second time at weight ``e^ε_log``. An impossible alignment then has
        a large finite loss (about ``−k·ε_log`` for the fewest ``k`` forbidden steps, as
        ``optax.ctc_loss`` with the same ``log_epsilon``) and a finite gradient; for possible
        alignments and ``ε_log`` ≤ −40 the value equals the exact one (``e^ε_log`` underflows).
      weights: per-sequence weights broadcastable to ``[B]``; each multiplies ``ℓ_b``.
      where: boolean mask broadcastable to ``[B]``; ``False`` drops the sequence.
      reduction: ``"mean"`` (mean of the per-sequence losses, ``Σ w ℓ / Σ w``, as optax),
        ``"mean_per_label"`` (each ``ℓ_b`` divided by ``max(L_b, 1)``, then the mean: PyTorch's
        ``reduction="mean"``), ``"sum"`` or ``"none"``.

    Returns:
      A scalar, or ``[B]`` for ``"none"``, in the computation dtype (float32 for half inputs).

    Raises:
      ValueError: inputs of mismatched shapes, a ``blank_id`` out of range, an unknown
        ``reduction``, or a concrete ``log_epsilon`` ≥ 0 (it stands in for log 0) or not a scalar.
      TypeError: a ``blank_id`` that is not a static int, a ``zero_infinity`` that is not a bool,
        complex or non-numeric inputs.

    Traced hyperparameters are range-checked by ``jaxloss.checked`` only: a traced
    ``log_epsilon`` ≥ 0 is used as written (impossible states then outweigh possible ones).

    Examples:
      >>> import jax.numpy as jnp
      >>> import jaxloss
      >>> logits = jnp.log(jnp.array([[[0.6, 0.4], [0.3, 0.7], [0.5, 0.5]]]))  # blank = 0
      >>> labels = jnp.array([[1]])
      >>> loss = jaxloss.ctc_loss(logits, jnp.zeros((1, 3)), labels, jnp.zeros((1, 1)),
      ...                         reduction="none")
      >>> print(f"{float(loss[0]):.4f}")  # -log P("1"): paths 1__, 11_, 111, _1_, _11, __1
      0.1625

    References:
      Graves, Fernández, Gomez and Schmidhuber, `Connectionist temporal classification:
      labelling unsegmented sequence data with recurrent neural networks
      <https://dl.acm.org/doi/abs/10.1145/1143844.1143891>`_, 2006.

    Notes:
      - Impossible alignments (a target that needs more frames than the input has, counting one
        blank between each pair of repeated labels; or one whose only paths pass through ``-inf``
        logits) give ``+inf``, the exact ``-log 0``, as PyTorch does, but never NaN: their
        gradient is exactly 0, and a ``weights`` entry of 0 or ``where=False`` removes them
        (``0·inf`` is never formed). optax returns a large finite number instead (so does
        ``log_epsilon``, above). A ``"mean"`` over a batch containing one is ``+inf``; use
        ``zero_infinity=True`` (or ``where``) to train through such data.
        ``jaxloss.get("CTCLoss")`` is PyTorch's class (its argument layout, ``reduction="mean"``
        per target length).
      - The value is clamped at 0, so rounding never yields a negative loss. An empty target
        (``L_b = 0``) gives ``-Σ_t log softmax(logits_t)_blank``; an empty input with an empty
        target gives 0.
      - Gradients are JAX autodiff through the scan; they are finite for every valid input,
        including ``-inf`` logits.
      - Unchecked on invalid input: label ids outside ``[0, K)`` give NaN; a label equal to
        ``blank_id`` is treated as an ordinary symbol; non-right-padded ``label_paddings`` use the
        first ``L_b`` entries of the row. Padded frames may sit anywhere (each is skipped).
      - A ``+inf`` or NaN logit gives NaN for its sequence (``inf − inf`` in the log-softmax);
        ``checked`` reports it.
    """
    return _ctc(
        "ctc_loss",
        logits,
        logit_paddings,
        labels,
        label_paddings,
        blank_id,
        zero_infinity,
        log_epsilon,
        weights,
        where,
        reduction,
        with_alphas=False,
    )


def _ctc(
    name,
    logits,
    logit_paddings,
    labels,
    label_paddings,
    blank_id,
    zero_infinity,
    log_epsilon,
    weights,
    where,
    reduction,
    *,
    with_alphas: bool,
):
    """ctc_loss (reduced), and with ``with_alphas`` also the ``[T, B, 2N + 1]`` log-α lattice."""
    check_reduction(name, reduction, _CTC_REDUCTIONS)
    zero_infinity = val.check_bool_flag(name, "zero_infinity", zero_infinity)
    logits = val.as_real_array(name, "logits", logits)
    logit_paddings = val.as_real_array(name, "logit_paddings", logit_paddings)
    labels = val.as_integer_array(name, "labels", labels)
    label_paddings = val.as_real_array(name, "label_paddings", label_paddings)
    if jnp.ndim(logits) != 3:
        raise ValueError(
            f"{name}: 'logits' must have shape [batch, time, classes], got {jnp.shape(logits)}"
        )
    batch, frames, num_classes = jnp.shape(logits)
    if jnp.shape(logit_paddings) != (batch, frames):
        raise ValueError(
            f"{name}: 'logit_paddings' must have shape {(batch, frames)} (logits' [batch, "
            f"time]), got {jnp.shape(logit_paddings)}"
        )
    if jnp.ndim(labels) != 2 or jnp.shape(labels)[0] != batch:
        raise ValueError(
            f"{name}: 'labels' must have shape [batch={batch}, max_label_length], "
            f"got {jnp.shape(labels)}"
        )
    if jnp.shape(label_paddings) != jnp.shape(labels):
        raise ValueError(
            f"{name}: 'label_paddings' must have the shape of 'labels' {jnp.shape(labels)}, "
            f"got {jnp.shape(label_paddings)}"
        )
    if isinstance(blank_id, bool) or not isinstance(blank_id, (int, np.integer)):
        raise TypeError(f"{name}: 'blank_id' must be a static int, got {type(blank_id).__name__}")
    if not 0 <= blank_id < num_classes:
        raise ValueError(f"{name}: 'blank_id'={blank_id} is out of range for {num_classes} classes")
    if log_epsilon is not None:
        # one declared range (ctc_loss's) serves both entry points; the message names the caller
        val.check_range(name, "log_epsilon", log_epsilon, val.RANGES["ctc_loss"]["log_epsilon"])
        if jnp.ndim(log_epsilon) != 0:
            raise ValueError(
                f"{name}: 'log_epsilon' must be a scalar, got shape {jnp.shape(log_epsilon)}"
            )

    dtype = compute_dtype(logits)
    log_probs = log_softmax(as_compute(logits, dtype), axis=-1)
    frame_valid = jnp.asarray(logit_paddings) == 0
    labels = jnp.asarray(labels)
    label_valid = jnp.asarray(label_paddings) == 0
    label_lengths = jnp.sum(label_valid, axis=1, dtype=jnp.int32)
    # padded label entries become the blank, so arbitrary padding ids never reach the gather
    labels = jnp.where(label_valid, labels, jnp.asarray(blank_id, labels.dtype))

    log_likelihood = _ctc_log_likelihood(
        log_probs,
        frame_valid,
        labels,
        label_lengths,
        blank_id=int(blank_id),
        with_alphas=with_alphas,
        log_epsilon=None if log_epsilon is None else jnp.asarray(log_epsilon, dtype),
    )
    if with_alphas:
        log_likelihood, alphas = log_likelihood
    # clamp at 0: −log P ≥ 0, rounding never makes it negative; −(−inf) = +inf stays +inf
    values = jnp.maximum(-log_likelihood, jnp.zeros_like(log_likelihood))
    if zero_infinity:
        values = jnp.where(jnp.isinf(values), jnp.zeros_like(values), values)
    if weights is not None:
        w = jnp.broadcast_to(val.check_weights(name, weights, (batch,)), (batch,))
        # a zero weight must remove an infinite loss, not form 0·inf = NaN
        values = jnp.where(w == 0, jnp.zeros_like(values), values)
    if reduction == "mean_per_label":
        # PyTorch's "mean": ℓ_b / max(L_b, 1), then the mean over sequences
        values = values / jnp.maximum(label_lengths, 1).astype(dtype)
        reduction = "mean"
    reduced = apply_reduction(name, values, weights, where, reduction)
    return (reduced, alphas) if with_alphas else reduced


def ctc_loss_with_forward_probs(
    logits: ArrayLike,
    logit_paddings: ArrayLike,
    labels: ArrayLike,
    label_paddings: ArrayLike,
    *,
    blank_id: int = 0,
    zero_infinity: bool = False,
    log_epsilon: ArrayLike | None = None,
    weights: ArrayLike | None = None,
    where: ArrayLike | None = None,
    reduction: str = "mean",
) -> tuple[jax.Array, jax.Array, jax.Array]:
    r""":func:`ctc_loss` and the CTC forward variables (log α) of the same forward pass.

    With the blank-extended label sequence :math:`(\phi, y_1, \phi, y_2, \dots, y_N, \phi)`,
    :math:`\alpha_t(s)` is the probability of all alignment prefixes of frames :math:`1..t` that
    end in state :math:`s` (Graves et al., 2006). They are returned split into the blank states
    and the label states, in optax's layout:

    .. math::
       \mathrm{log\_alpha\_blank}[t, b, n] = \log \alpha_t(2n) \ (n = 0..N), \qquad
       \mathrm{log\_alpha\_label}[t, b, n] = \log \alpha_t(2n + 1) \ (n = 0..N - 1),

    except at the last frame, where the blank entry :math:`n \ge 1` holds the probability of
    having emitted exactly :math:`n` labels, :math:`\alpha_T(2n) + \alpha_T(2n - 1)`, so that
    ``log_alpha_blank[-1, b, L_b] = −loss_b``. Padded frames carry the previous α over.

    Args:
      logits: as :func:`ctc_loss` (so are ``logit_paddings``, ``labels``, ``label_paddings``,
        ``blank_id``, ``zero_infinity``, ``log_epsilon``, ``weights``, ``where`` and
        ``reduction``).

    Returns:
      ``(loss, log_alpha_blank, log_alpha_label)``: the loss as :func:`ctc_loss` returns it
      (scalar, or ``[B]`` for ``"none"``), and the ``[T, B, N + 1]`` and ``[T, B, N]`` log-α in
      the computation dtype; ``-inf`` marks an unreachable state (exact; with ``log_epsilon``,
      optax's multiples of it).

    Raises:
      ValueError: as :func:`ctc_loss`, e.g. a concrete ``log_epsilon`` ≥ 0.
      TypeError: as :func:`ctc_loss`.

    A traced ``log_epsilon`` ≥ 0 is used as written (``jaxloss.checked`` covers :func:`ctc_loss`).

    Examples:
      >>> import jax.numpy as jnp
      >>> import jaxloss
      >>> logits = jnp.log(jnp.array([[[0.6, 0.4], [0.3, 0.7], [0.5, 0.5]]]))  # blank = 0
      >>> labels, pads = jnp.array([[1]]), jnp.zeros((1, 1))
      >>> loss, blank, label = jaxloss.ctc_loss_with_forward_probs(
      ...     logits, jnp.zeros((1, 3)), labels, pads, reduction="none")
      >>> print(loss.round(4), blank.shape, label.shape)
      [0.1625] (3, 1, 2) (3, 1, 1)
      >>> print(jnp.exp(blank[-1, 0]).round(4))  # P(0 labels), P(1 label)
      [0.09 0.85]

    References:
      Graves et al., `Connectionist temporal classification
      <https://dl.acm.org/doi/abs/10.1145/1143844.1143891>`_, ICML 2006; optax
      ``ctc_loss_with_forward_probs``.

    Notes:
      One forward pass serves the loss and the lattice; gradients flow through both. States past
      a sequence's label length use the blank in place of the padded labels.
    """
    loss, alphas = _ctc(
        "ctc_loss_with_forward_probs",
        logits,
        logit_paddings,
        labels,
        label_paddings,
        blank_id,
        zero_infinity,
        log_epsilon,
        weights,
        where,
        reduction,
        with_alphas=True,
    )
    blank, label = alphas[:, :, 0::2], alphas[:, :, 1::2]
    # last frame: blank entry n ≥ 1 also takes the paths ending in label n (emitted n labels)
    last = jnp.concatenate(
        [blank[-1, :, :1], _logsumexp_stacked(blank[-1, :, 1:], label[-1])], axis=-1
    )
    return loss, blank.at[-1].set(last), label


# Losses of this family, canonical names (the registry lists these).
LOSSES = (ctc_loss,)

# Every name `jaxloss.get` resolves for this family (case-insensitive), canonical names included.
ALIASES = {
    **{fn.__name__: fn for fn in LOSSES},
    # the registry replaces this entry by PyTorch's class (its argument layout, blank, reduction
    # "mean" per target length, zero_infinity) computed by jaxloss.compat.torch
    "CTCLoss": ctc_loss,
    "ctc": ctc_loss,
}
