"""Checked mode: runtime input checks that turn bad input into a clear error (API.md §5).

Under ``jax.jit`` a label of 1000 for 10 classes, or a probability of 1.5, cannot raise by itself:
the losses' documented unchecked behaviour applies. ``jaxloss.checked(loss)`` adds the checks of
:data:`SPECS` through :mod:`jax.experimental.checkify` and raises :class:`LossInputError` naming the
loss, the argument, an offending value and its index.

Two ways to use it:

* ``jaxloss.checked(loss)(*args, **kwargs)`` on concrete (eager or jit-produced) arrays: the call
  compiles the loss together with its checks and raises :class:`LossInputError` if one fails.
* Inside your own jitted program (a train step), call the checked loss as usual and wrap the program
  with :func:`checkify` (or ``jax.experimental.checkify.checkify``): there the checks are
  ``checkify.debug_check`` calls, free when the program is not checkified, and reported by the
  wrapped program when it is.

Entries masked out by ``where=False`` and labels equal to ``ignore_index`` are not checked: they are
valid padding.

Hyperparameters (``label_smoothing``, ``delta``, ``margin``, ``temperature``, ...) are checked by
the losses themselves against the ranges each declares once (``jaxloss._validation.RANGES``): a
concrete out-of-range value raises ``ValueError`` in the plain call, and a traced one (a jitted or
vmapped sweep) is a ``debug_check`` that checked mode reports as :class:`LossInputError` with the
loss, the argument and the offending value. A checked loss therefore rejects everything the plain
loss rejects: trace-time errors propagate unchanged, range errors of concrete hyperparameters
(which the checked call traces) come back as :class:`LossInputError`, itself a ``ValueError``.
"""

from __future__ import annotations

import functools
import inspect
from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np
from jax.experimental import checkify as _checkify

from . import _validation as _val

__all__ = ["LossInputError", "checked", "checkify", "SPECS"]


class LossInputError(ValueError):
    """A runtime input check of :func:`jaxloss.checked` failed (subclass of ``ValueError``)."""


# Options that select shapes or modes: compiled as static arguments of the checked function.
_STATIC = frozenset(
    {
        "axis",
        "reduction",
        "ignore_index",
        "log_input",
        "full",
        "zero_infinity",
        "method",
        "log_targets",
        "swap",
        "blank_id",
        "chunk_size",
        "class_axis",
        "squared",
        "num_classes",
        "p",
        "return_entropy",
        "loss_type",
        "smooth_numerator",
        "activation",
        "class_weighting",
    }
)


# ---------------------------------------------------------------------------------------------
# Individual checks: each takes (loss name, bound arguments) and emits checkify.debug_check calls.
# ---------------------------------------------------------------------------------------------


def _mask_for(args, shape, axis=None):
    """The ``where`` mask broadcast to ``shape`` (inserting the class axis), or None."""
    where = args.get("where")
    if where is None:
        return None
    where = jnp.asarray(where)
    if axis is not None and where.ndim == len(shape) - 1:
        where = jnp.expand_dims(where, axis)
    try:
        if np.broadcast_shapes(where.shape, shape) != tuple(shape):
            return None
    except ValueError:
        return None
    return jnp.broadcast_to(where, shape)


# one debug_check naming the first offending value and its index (shared with the hyperparameter
# range checks of _validation)
_report = _val.report


def finite(arg, allow_neg_inf=False, allow_inf=False, mask_arg=None):
    """``arg`` has no NaN, and no ±inf unless allowed (masked logits are ``-inf``); None is skipped.

    ``mask_arg`` names an argument of ``arg``'s shape whose zero / ``False`` entries are padding
    (GRPO's completion mask): those entries are not checked.
    """

    def check(name, args):
        x = args.get(arg)
        if x is None:
            return
        x = jnp.asarray(x)
        if not jnp.issubdtype(x.dtype, jnp.inexact):
            return
        bad = jnp.isnan(x)
        if not allow_inf:
            bad = bad | jnp.isposinf(x)
            if not allow_neg_inf:
                bad = bad | jnp.isneginf(x)
        mask = _mask_for(args, x.shape)
        if mask is not None:
            bad = bad & mask
        pad = None if mask_arg is None else args.get(mask_arg)
        if pad is not None and jnp.shape(pad) == x.shape:
            pad = jnp.asarray(pad)
            bad = bad & (pad if pad.dtype == jnp.bool_ else pad != 0)
        what = (
            "must not be NaN"
            if allow_inf
            else "must not be NaN or +inf"
            if allow_neg_inf
            else "must be finite (no NaN or inf)"
        )
        _report(name, arg, bad, x, what)

    return check


def _value_check(arg, invalid, what, class_axis=False, logits_with=None):
    """A check that reports every unmasked entry of ``arg`` where ``invalid(x)`` holds.

    ``logits_with`` names an option (``activation``) that, when set, makes ``arg`` logits: then
    only NaN is reported.
    """

    def check(name, args):
        x = jnp.asarray(args[arg])
        logits = logits_with is not None and args.get(logits_with) is not None
        bad = jnp.isnan(x) if logits else invalid(x)
        mask = _mask_for(args, x.shape, axis=args.get("axis") if class_axis else None)
        if mask is not None:
            bad = bad & mask
        _report(name, arg, bad, x, "must not be NaN" if logits else what)

    return check


def in_unit_interval(arg, logits_with=None):
    """Probabilities (or binary / soft targets) in [0, 1]; NaN fails too. With ``logits_with``
    set in the call (segmentation's ``activation``), ``arg`` holds logits: only NaN fails."""
    return _value_check(
        arg,
        lambda x: ~((x >= 0) & (x <= 1)),
        "must be in [0, 1]",
        class_axis=True,
        logits_with=logits_with,
    )


def plus_minus_one(arg):
    """Targets of the hinge / ranking family in {-1, +1}."""
    return _value_check(arg, lambda x: ~((x == 1) | (x == -1)), "must be -1 or +1")


def zero_or_one(arg):
    """Targets in {0, 1} (siamese contrastive loss)."""
    return _value_check(arg, lambda x: ~((x == 0) | (x == 1)), "must be 0 or 1")


def hinge_targets_keras(arg):
    """Keras' hinge targets: all in {0, 1} (converted to ±1 by the alias), or each in {-1, +1}."""

    def check(name, args):
        x = jnp.asarray(args[arg])
        mask = _mask_for(args, x.shape)
        binary = (x == 0) | (x == 1)
        if mask is not None:
            binary = binary | ~mask
        bad = ~jnp.all(binary) & ~((x == 1) | (x == -1))
        if mask is not None:
            bad = bad & mask
        _report(name, arg, bad, x, "must be -1 or +1 (or all targets 0 or 1)")

    return check


def nonnegative(arg, class_axis=False):
    """``arg >= 0`` (NaN fails too); entries with ``where=False`` are not checked."""

    def check(name, args):
        x = jnp.asarray(args[arg])
        bad = ~(x >= 0)
        mask = _mask_for(args, x.shape, axis=args.get("axis") if class_axis else None)
        if mask is not None:
            bad = bad & mask
        _report(name, arg, bad, x, "must be non-negative")

    return check


def nonpositive(arg):
    """Log-probabilities: ``arg <= 0`` (``-inf`` included); entries with ``where=False`` skipped.

    NaN is left to :func:`finite` (its message names the NaN).
    """
    return _value_check(arg, lambda x: x > 0, "must be <= 0 (a log-probability)")


def completion_mask(arg="mask"):
    """GRPO's completion mask: booleans, or numbers that are each 0 or 1 (a 0.5 would silently
    weight the token, a NaN poison the normaliser)."""

    def check(name, args):
        x = jnp.asarray(args[arg])
        if x.dtype == jnp.bool_:
            return
        bad = ~((x == 0) | (x == 1))
        mask = _mask_for(args, x.shape)
        if mask is not None:
            bad = bad & mask
        _report(name, arg, bad, x, "must be 0 or 1")

    return check


def class_labels(arg="labels", logits="logits", axis_arg="axis", num_classes=None):
    """Integer labels in [0, C) unless equal to ``ignore_index``; C from ``logits``' class axis."""

    def check(name, args):
        if args.get(arg) is None:  # optional labels (linear_distillation_loss)
            return
        labels = jnp.asarray(args[arg])
        if num_classes is not None:
            c = num_classes(args)
        else:
            ref = jnp.asarray(args[logits])
            c = ref.shape[args.get(axis_arg, -1) if axis_arg else -1]
        bad = (labels < 0) | (labels >= c)
        ignore = args.get("ignore_index")
        if ignore is not None:
            bad = bad & (labels != ignore)
        mask = _mask_for(args, labels.shape)
        if mask is not None:
            bad = bad & mask
        what = f"must be a class id in [0, {c})" + (
            f" or ignore_index={ignore}" if ignore is not None else ""
        )
        _report(name, arg, bad, labels, what)

    return check


def _multilabel_targets(name, args):
    """multilabel_margin_loss: class ids in [0, C) before the first negative entry."""
    labels = jnp.moveaxis(jnp.asarray(args["labels"]), args.get("axis", -1), -1)
    c = jnp.shape(args["scores"])[args.get("axis", -1)]
    listed = jnp.cumprod((labels >= 0).astype(jnp.int32), axis=-1) > 0
    _report(name, "labels", listed & (labels >= c), labels, f"must be a class id in [0, {c}) or -1")


def _ctc_checks(name, args):
    """CTC labels are class ids other than the blank, and fit in the unpadded frames.

    Mirrors ``ctc_loss``: a non-zero padding marks padding; a sequence of ``L`` labels with ``r``
    adjacent repeats needs at least ``L + r`` frames (a blank must separate each repeat).
    """
    logits = jnp.asarray(args["logits"])
    labels = jnp.asarray(args["labels"])
    k = logits.shape[-1]
    label_valid = jnp.asarray(args["label_paddings"]) == 0
    bad = (labels < 0) | (labels >= k) | (labels == args.get("blank_id", 0))
    _report(
        name,
        "labels",
        bad & label_valid,
        labels,
        f"must be a class id in [0, {k}) other than blank_id",
    )
    frames = jnp.sum(jnp.asarray(args["logit_paddings"]) == 0, axis=-1)
    length = jnp.sum(label_valid, axis=-1)
    position = jnp.arange(labels.shape[-1])
    repeat = (labels[..., 1:] == labels[..., :-1]) & (position[None, 1:] < length[:, None])
    needed = length + jnp.sum(repeat, axis=-1)
    _report(
        name,
        "labels",
        needed > frames,
        needed,
        "needs more frames than the unpadded logits have (label length + adjacent repeats "
        "> logit length)",
    )


def _lce_classes(args):
    return jnp.shape(args["weight"])[-1]


_F = finite  # short aliases for the table below
_LOGITS = finite("logits", allow_neg_inf=True)

# Per canonical loss: the runtime checks of API.md §5.
SPECS: dict[str, tuple[Callable, ...]] = {
    # regression
    **{
        n: (_F("predictions"), _F("targets"))
        for n in (
            "mean_squared_error",
            "mean_absolute_error",
            "root_mean_squared_error",
            "mean_squared_logarithmic_error",
            "mean_absolute_percentage_error",
            "huber_loss",
            "smooth_l1_loss",
            "log_cosh",
            "quantile_loss",
            "poisson_nll_loss",
        )
    },
    "gaussian_nll_loss": (_F("mean"), _F("targets"), _F("variance"), nonnegative("variance")),
    # binary
    "binary_cross_entropy": (in_unit_interval("probabilities"), in_unit_interval("targets")),
    "binary_focal_loss": (in_unit_interval("probabilities"), in_unit_interval("targets")),
    "sigmoid_binary_cross_entropy": (_F("logits", allow_inf=True), in_unit_interval("targets")),
    "sigmoid_focal_loss": (_F("logits", allow_inf=True), in_unit_interval("targets")),
    "hinge_loss": (_F("scores"), plus_minus_one("targets")),
    "squared_hinge_loss": (_F("scores"), plus_minus_one("targets")),
    "soft_margin_loss": (_F("scores", allow_inf=True), plus_minus_one("targets")),
    "multilabel_soft_margin_loss": (_F("logits", allow_inf=True), in_unit_interval("targets")),
    # cross-entropy
    "softmax_cross_entropy": (_LOGITS, in_unit_interval("targets")),
    "sparse_softmax_cross_entropy": (_LOGITS, class_labels()),
    "categorical_cross_entropy": (in_unit_interval("probabilities"), in_unit_interval("targets")),
    "sparse_categorical_cross_entropy": (
        in_unit_interval("probabilities"),
        class_labels(logits="probabilities"),
    ),
    "nll_loss": (
        _F("log_probabilities", allow_neg_inf=True),
        class_labels(logits="log_probabilities"),
    ),
    "z_loss": (_LOGITS,),
    # other multi-class
    "softmax_focal_loss": (_LOGITS, class_labels()),
    "categorical_focal_loss": (in_unit_interval("probabilities"), in_unit_interval("targets")),
    "poly1_cross_entropy": (_LOGITS, class_labels()),
    "multiclass_hinge_loss": (_F("scores"), class_labels(logits="scores")),
    "multi_margin_loss": (_F("scores"), class_labels(logits="scores")),
    "multilabel_margin_loss": (_F("scores"), _multilabel_targets),
    "generalized_cross_entropy": (
        in_unit_interval("probabilities"),
        class_labels(logits="probabilities"),
    ),
    # divergences
    # a negative target gives NaN (t·log t): reported, with NaN and inf (finite)
    "kl_divergence": (
        _F("log_predictions", allow_neg_inf=True),
        _F("targets", allow_neg_inf=True),
        nonnegative("targets", class_axis=True),
    ),
    "kl_divergence_from_probabilities": (
        in_unit_interval("predictions"),
        in_unit_interval("targets"),
    ),
    "js_divergence": (_F("log_predictions", allow_neg_inf=True), in_unit_interval("targets")),
    # segmentation
    **{
        n: (in_unit_interval("probabilities", "activation"), in_unit_interval("targets"))
        for n in ("dice_loss", "tversky_loss", "jaccard_loss")
    },
    "generalized_dice_loss": (in_unit_interval("probabilities"), in_unit_interval("targets")),
    # metric learning and ranking
    "cosine_distance": (_F("predictions"), _F("targets")),
    "cosine_similarity_loss": (_F("predictions"), _F("targets")),
    "cosine_embedding_loss": (_F("x1"), _F("x2"), plus_minus_one("targets")),
    "triplet_margin_loss": (_F("anchor"), _F("positive"), _F("negative")),
    "triplet_margin_with_distance_loss": (_F("anchor"), _F("positive"), _F("negative")),
    "circle_loss": (_F("embeddings"),),
    "margin_ranking_loss": (_F("x1"), _F("x2"), plus_minus_one("targets")),
    "hinge_embedding_loss": (_F("distances"), plus_minus_one("targets")),
    "contrastive_loss": (_F("distances"), nonnegative("distances"), zero_or_one("targets")),
    "ntxent_loss": (_F("embeddings"),),
    # sequence
    "ctc_loss": (_F("logits", allow_neg_inf=True), _ctc_checks),
    # optax-parity losses
    "perceptron_loss": (_F("scores"), plus_minus_one("targets")),
    "multiclass_perceptron_loss": (_F("scores"), class_labels(logits="scores")),
    "sparsemax_loss": (_F("logits", allow_inf=True), in_unit_interval("targets")),
    "multiclass_sparsemax_loss": (_F("scores"), class_labels(logits="scores")),
    "generalized_kl_divergence": (
        _F("log_predictions", allow_neg_inf=True),
        _F("targets"),
        nonnegative("targets"),
    ),
    "ranking_softmax_loss": (_F("scores"), _F("relevance"), nonnegative("relevance")),
    # compat wrappers behind registry aliases whose semantics differ from their canonical loss
    "hinge": (_F("scores"), hinge_targets_keras("targets")),
    "squared_hinge": (_F("scores"), hinge_targets_keras("targets")),
    "categorical_hinge": (_F("scores"), in_unit_interval("targets")),
    "categorical_focal_crossentropy": (
        in_unit_interval("probabilities"),
        in_unit_interval("targets"),
    ),
    # post-training (API.md §7): sequence / token log-probs may be -inf (an impossible sequence)
    # and +inf only through invalid input; NaN is what the checks report
    "dpo_loss": tuple(
        _F(a, allow_inf=True)
        for a in ("chosen_logps", "rejected_logps", "ref_chosen_logps", "ref_rejected_logps")
    ),
    "simpo_loss": (_F("chosen_logps", allow_inf=True), _F("rejected_logps", allow_inf=True)),
    # log(1 - e^x) of a log-probability x > 0 is NaN: reported
    "orpo_loss": (
        _F("chosen_logps", allow_inf=True),
        _F("rejected_logps", allow_inf=True),
        nonpositive("chosen_logps"),
        nonpositive("rejected_logps"),
    ),
    "kto_loss": (_F("logps", allow_inf=True), _F("ref_logps", allow_inf=True)),
    "grpo_loss": (
        _F("logps", allow_inf=True, mask_arg="mask"),
        _F("old_logps", allow_inf=True, mask_arg="mask"),
        _F("advantages", allow_inf=True),
        _F("ref_logps", allow_inf=True, mask_arg="mask"),
        completion_mask("mask"),
    ),
    "distillation_loss": (
        _F("student_logits", allow_neg_inf=True),
        _F("teacher_logits", allow_neg_inf=True),
    ),
    # large vocabulary
    "linear_cross_entropy": (
        _F("hidden"),
        _F("weight"),
        _F("bias"),
        class_labels(num_classes=_lce_classes),
    ),
    "linear_distillation_loss": (
        _F("student_hidden"),
        _F("student_weight"),
        _F("student_bias", allow_neg_inf=True),  # -inf masks a class
        _F("teacher_hidden"),
        _F("teacher_weight"),
        _F("teacher_bias", allow_neg_inf=True),
        class_labels(num_classes=lambda args: jnp.shape(args["student_weight"])[-1]),
    ),
}


# Per-token utilities that are not losses (not in the registry, no reduction): tested in
# tests/test_robustness_posttraining.py rather than tests/test_unchecked.py.
UTILITY_SPECS: dict[str, tuple[Callable, ...]] = {
    # a token outside [0, V) gives NaN (value and gradient): reported, like a class label
    "token_log_probs": (
        _F("logits", allow_neg_inf=True),
        class_labels(arg="tokens", logits="logits"),
    ),
}


# Vocabulary-parallel losses (jaxloss.sharding). Labels are global class ids, so C is the global
# vocabulary: the logits' last axis for sharded_cross_entropy (global arrays); inside shard_map,
# this device's slice times the size of the mesh axis `axis_name`.
def _vocab_parallel_classes(arg):
    def classes(args):
        return jnp.shape(args[arg])[-1] * jax.lax.axis_size(args["axis_name"])

    return classes


# Kept apart from SPECS (whose every entry has a single-device case in tests/test_unchecked.py):
# these are tested on an 8-device mesh in tests/sharded_robustness_cases.py.
VOCAB_PARALLEL_SPECS: dict[str, tuple[Callable, ...]] = {
    "sharded_cross_entropy": (_LOGITS, class_labels()),
    "vocab_parallel_cross_entropy": (
        _LOGITS,
        class_labels(num_classes=_vocab_parallel_classes("logits")),
    ),
    "vocab_parallel_linear_cross_entropy": (
        _F("hidden"),
        _F("weight"),
        class_labels(num_classes=_vocab_parallel_classes("weight")),
    ),
}
# the mesh and its axis names select the computation: static arguments
_STATIC = _STATIC | {"mesh", "vocab_axis", "batch_axis", "axis_name", "batch_axis_name"}


def _canonical(loss_fn: Callable) -> tuple[Callable, dict]:
    """The canonical loss behind ``loss_fn`` (an ``_alias.bind`` alias) and its bound options."""
    bound = {}
    fn = loss_fn
    while hasattr(fn, "canonical"):
        bound = {**fn.bound_options, **bound}
        fn = fn.canonical
    return fn, bound


def _run_checks(name, signature, checks, bound, args, kwargs):
    ba = signature.bind(*args, **{**bound, **kwargs})
    ba.apply_defaults()
    for check in checks:
        check(name, ba.arguments)


def _has_tracer(tree) -> bool:
    return any(isinstance(leaf, jax.core.Tracer) for leaf in jax.tree_util.tree_leaves(tree))


def _message(err) -> str | None:
    """``err.get()``, also when checks inside and outside a ``shard_map`` are mixed.

    checkify's ``Error.get`` indexes every check with the batch index of the first one: with a
    mapped (per-device) check and an unmapped one (a hyperparameter range checked before the
    ``shard_map``) in one error it fails with an ``IndexError``. The checks are read in groups of
    one batch shape, the unmapped ones first.
    """
    preds = err._pred
    shapes = {np.shape(p) for p in preds.values()}
    if len(shapes) <= 1:
        return err.get()
    for shape in sorted(shapes, key=len):  # () first
        keep = [e for e, p in preds.items() if np.shape(p) == shape]
        part = type(err)(
            {e: preds[e] for e in keep},
            {e: err._code[e] for e in keep},
            err._metadata,
            {e: err._payload[e] for e in keep},
        )
        msg = part.get()
        if msg is not None:
            return msg
    return None


def _raise(err) -> None:
    msg = _message(err)
    if msg is not None:
        msg = msg.replace(" (`check` failed)", "")
        # an error raised before a shard_map is threaded through it and comes back once per
        # device ("at mapped index k: <the same message>"): report it once
        lines = {line.split(": ", 1)[-1] for line in msg.splitlines()}
        if len(lines) == 1 and msg.startswith("at mapped index "):
            msg = lines.pop()
        raise LossInputError(msg)


def checked(loss_fn: Callable | str) -> Callable:
    """``loss_fn`` with the runtime input checks of API.md §5.

    The checks cover labels, probabilities, ±1 targets and NaN/inf. The returned function has the
    same signature. Called on concrete arrays it compiles the loss
    with its checks (``jax.jit`` of ``checkify``) and raises :class:`LossInputError` — a
    ``ValueError`` — naming the loss, the argument, the first offending value and its index.
    Called inside your own ``jax.jit`` / ``grad`` / ``vmap``, the checks are
    ``checkify.debug_check``: wrap the outer program with :func:`jaxloss.checkify` to have them
    reported (without it they cost nothing and the unchecked behaviour applies).

    Args:
      loss_fn: a jaxloss loss, one of its registry aliases, or a registry name.

    Returns:
      The checked loss.

    Examples:
      >>> import jax.numpy as jnp
      >>> import jaxloss
      >>> ce = jaxloss.checked(jaxloss.sparse_softmax_cross_entropy)
      >>> ce(jnp.zeros((2, 10)), jnp.array([3, 1000]))
      Traceback (most recent call last):
      ...
      jaxloss._checked.LossInputError: sparse_softmax_cross_entropy: 'labels' must be a class id
      in [0, 10); got 1000 at index [1]
    """
    if isinstance(loss_fn, str):
        from ._registry import get

        loss_fn = get(loss_fn)
    specs = {**SPECS, **UTILITY_SPECS, **VOCAB_PARALLEL_SPECS}
    if getattr(loss_fn, "__name__", None) in specs:
        # a canonical loss, or a compat wrapper with checks of its own (Keras' hinge, ...)
        fn, bound = loss_fn, {}
    else:
        fn, bound = _canonical(loss_fn)
    name = fn.__name__
    if name not in specs:
        raise ValueError(f"jaxloss.checked: no runtime checks are defined for {name!r}")
    checks = specs[name]
    signature = inspect.signature(fn)
    target = loss_fn
    statics = tuple(p for p in signature.parameters if p in _STATIC)

    def body(*args, **kwargs):
        # the loss first: its trace-time errors (types, shapes, flags) name the problem better
        # than a runtime check tripping over the same input
        out = target(*args, **kwargs)
        _run_checks(name, signature, checks, bound, args, kwargs)
        return out

    compiled = jax.jit(
        _checkify.checkify(body, errors=_checkify.user_checks), static_argnames=statics
    )

    @functools.wraps(target)
    def wrapper(*args, **kwargs):
        if _has_tracer((args, kwargs)):
            return body(*args, **kwargs)
        err, out = compiled(*args, **kwargs)
        _raise(err)
        return out

    wrapper.__wrapped_loss__ = target
    return wrapper


def checkify(fn: Callable) -> Callable:
    """Wraps a program (e.g. a jitted train step) so the checks of checked losses inside it raise.

    ``checkify(step)(*args)`` runs ``step`` under ``jax.experimental.checkify`` (user checks only)
    and raises :class:`LossInputError` if any check of a :func:`checked` loss failed; otherwise it
    returns ``step``'s result. Jit it as a whole: ``jax.jit(jaxloss.checkify(step))`` is *not* the
    recipe (raising needs the error value outside the trace); use
    ``jaxloss.checkify(jax.jit(step))``.

    Examples:
      >>> import jax, jax.numpy as jnp
      >>> import jaxloss
      >>> bce = jaxloss.checked(jaxloss.binary_cross_entropy)
      >>> step = jax.jit(lambda p, t: jax.grad(lambda q: bce(q, t))(p))
      >>> jaxloss.checkify(step)(jnp.array([0.2, 1.5]), jnp.array([0.0, 1.0]))
      Traceback (most recent call last):
      ...
      jaxloss._checked.LossInputError: binary_cross_entropy: 'probabilities' must be in [0, 1];
      got 1.5 at index [1]
    """
    wrapped = _checkify.checkify(fn, errors=_checkify.user_checks)

    @functools.wraps(fn)
    def run(*args, **kwargs):
        err, out = wrapped(*args, **kwargs)
        _raise(err)
        return out

    return run
