"""The registry: ``jaxloss.get(name)`` and ``jaxloss.list_losses()``.

Each loss family module declares ``LOSSES`` (its canonical functions) and ``ALIASES`` (every name
it answers to, canonical names included, with library-specific options bound by
:func:`jaxloss._alias.bind`). The registry only collects those tables.

Qualified names ``"optax:<name>"``, ``"torch:<name>"`` and ``"keras:<name>"`` resolve to the peer
namespaces ``jaxloss.compat.<lib>`` (API.md §6), adapted to jaxloss' prediction-first order. The
compat layer sits *above* the registry: it is imported lazily, inside :func:`get`, the first time a
qualified (or PyTorch-class) name is asked for, so importing the registry never imports compat.
"""

from __future__ import annotations

import difflib
import functools
import importlib
from typing import Callable

from . import (
    _binary,
    _classification,
    _cross_entropy,
    _distillation,
    _divergence,
    _metric,
    _policy,
    _preference,
    _ranking,
    _regression,
    _segmentation,
    _sequence,
    _sparsemax,
)

_FAMILIES = (
    _regression,
    _binary,
    _cross_entropy,
    _classification,
    _divergence,
    _segmentation,
    _metric,
    _sequence,
    _preference,
    _policy,
    _distillation,
    _sparsemax,
    _ranking,
)

_EXTRA: dict[str, Callable] = {}  # losses that live outside the family modules (e.g. linear CE)


_PEERS = ("optax", "torch", "keras")

# jaxloss-only options: a call using one of them stays on the canonical loss (class axis 1 unless
# ``axis`` is given); any other call is PyTorch's class, constructed with the options
_JAXLOSS_ONLY = frozenset({"axis", "class_weights", "z_loss", "logit_softcap", "weights", "where"})
# PyTorch loss classes whose unqualified name must carry PyTorch's semantics beyond the bound
# options of their family alias, each with its jaxloss-only options and what PyTorch's class does
# differently from the canonical loss
_TORCH_CLASSES = {
    "CrossEntropyLoss": (
        _JAXLOSS_ONLY,
        "class dimension 1, ``ignore_index=-100``, probability targets",
    ),
    "NLLLoss": (_JAXLOSS_ONLY, "class dimension 1, ``ignore_index=-100``"),
    "KLDivLoss": (
        frozenset({"axis", "log_targets", "weights", "where"}),
        'point-wise ``target·(log target − input)``; ``reduction="mean"`` over all elements, '
        '``"batchmean"``, ``log_target``',
    ),
    # PyTorch's argument layout (log_probs [T, N, C], targets, input_lengths, target_lengths) has
    # no jaxloss-only options: the canonical layout is ``ctc_loss`` / ``ctc``
    "CTCLoss": (
        frozenset(),
        "``(log_probs [T, N, C], targets, input_lengths, target_lengths)``, ``blank``, "
        '``reduction="mean"`` dividing each loss by its target length, ``zero_infinity``',
    ),
}


def _peer_module(lib: str):
    # lazy: compat is the layer above the registry (no import-time arrow back)
    module = f"jaxloss.compat.{lib}"
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as err:
        if err.name != module:
            raise
        raise ValueError(f"jaxloss.get: '{lib}:' names need {module}, which is missing") from err


@functools.lru_cache(maxsize=None)
def _torch_class_alias(name: str, fallback: Callable) -> Callable:
    """``get("CrossEntropyLoss")``: PyTorch's class semantics in full, jaxloss options kept."""
    jaxloss_only, semantics = _TORCH_CLASSES[name]
    canonical = getattr(fallback, "canonical", fallback).__name__

    def alias(input, target, *rest, **options):
        if jaxloss_only.intersection(options):
            options.setdefault("axis", 0 if len(getattr(input, "shape", ())) == 1 else 1)
            return fallback(input, target, *rest, **options)
        return getattr(_peer_module("torch"), name)(**options)(input, target, *rest)

    if jaxloss_only:  # the canonical loss's signature and metadata (calls may reach it)
        alias = functools.wraps(fallback)(alias)
        alias.canonical = getattr(fallback, "canonical", fallback)  # what jaxloss.checked checks
        alias.bound_options = dict(getattr(fallback, "bound_options", {}))
        rest = (
            f"; calls that use jaxloss-only options ({', '.join(sorted(jaxloss_only))}) run "
            f":func:`jaxloss.{canonical}` with the class axis 1 unless ``axis`` is given."
        )
    else:
        rest = f"; the canonical argument layout is :func:`jaxloss.{canonical}`."
    alias.__name__ = alias.__qualname__ = name
    alias.__doc__ = (
        f"PyTorch's ``torch.nn.{name}(**options)(input, target, ...)`` ({semantics}) computed by "
        ":mod:`jaxloss.compat.torch`" + rest
    )
    return alias


def _table() -> dict[str, tuple[str, Callable]]:
    table: dict[str, tuple[str, Callable]] = {}
    sources = [family.ALIASES for family in _FAMILIES] + [_EXTRA]
    for aliases in sources:
        for name, fn in aliases.items():
            key = name.lower()
            if key in table and table[key][1] is not fn:
                raise RuntimeError(f"jaxloss registry: the name {name!r} is bound twice")
            table[key] = (name, fn)
    for name in _TORCH_CLASSES:
        key = name.lower()
        if key in table:
            table[key] = (name, _torch_class_alias(name, table[key][1]))
    return table


@functools.lru_cache(maxsize=None)
def _qualified(lib: str, name: str) -> Callable:
    """``"lib:name"``: the peer's loss in jaxloss' order ``(predictions, targets, ...)``."""
    module = _peer_module(lib)
    obj = getattr(module, name, None)
    if obj is None or name.startswith("_") or name not in getattr(module, "__all__", (name,)):
        known = list(getattr(module, "__all__", ()))
        close = difflib.get_close_matches(name, known, n=5, cutoff=0.5)
        hint = ", ".join(repr(c) for c in close) if close else "none"
        raise ValueError(
            f"jaxloss.get: jaxloss.compat.{lib} has no loss {name!r}; closest matches: {hint}"
        )
    if lib == "keras":
        if isinstance(obj, type):

            def peer(y_pred, y_true, sample_weight=None, **options):
                return obj(**options)(y_true, y_pred, sample_weight=sample_weight)

        else:

            def peer(y_pred, y_true, *args, **options):
                return obj(y_true, y_pred, *args, **options)

    elif lib == "torch" and isinstance(obj, type):  # torch.nn classes: construct, then call

        def peer(input, target, *rest, **options):
            return obj(**options)(input, target, *rest)

    else:  # torch.nn.functional and optax are prediction-first already
        return obj
    peer.__name__ = peer.__qualname__ = f"{lib}:{name}"
    peer.__doc__ = f"``jaxloss.compat.{lib}.{name}`` in jaxloss' prediction-first order" + (
        " (Keras' ``(y_true, y_pred)`` swapped)." if lib == "keras" else "."
    )
    peer.peer = obj
    return peer


def register(name: str, fn: Callable) -> None:
    """Adds a loss outside the family modules to the registry (used by optional modules)."""
    _EXTRA[name] = fn


def list_losses(*, aliases: bool = False) -> list[str]:
    """Sorted canonical loss names; with ``aliases=True``, every name :func:`get` resolves.

    Examples:
      >>> import jaxloss
      >>> "huber_loss" in jaxloss.list_losses()
      True
      >>> "CrossEntropyLoss" in jaxloss.list_losses(aliases=True)
      True
    """
    if aliases:
        return sorted((name for name, _ in _table().values()), key=str.lower)
    names = {fn.__name__ for family in _FAMILIES for fn in family.LOSSES}
    names.update(n for n, fn in _EXTRA.items() if fn.__name__ == n)
    return sorted(names)


def get(name: str) -> Callable:
    """The loss called ``name``: a canonical name or any alias of API.md §2, case-insensitive;
    or a qualified peer name ``"optax:<name>"``, ``"torch:<name>"``, ``"keras:<name>"``.

    Aliases carry the semantics and defaults of the library the name comes from, e.g.
    ``get("CrossEntropyLoss")`` is PyTorch's class (class dimension 1, ``ignore_index=-100``,
    probability targets) and ``get("poisson")`` binds Keras' ``log_input=False, epsilon=1e-7``.
    Where a peer's name is spelled like a jaxloss loss of other meaning (``kl_divergence``,
    ``cosine_similarity``, ``dice``, ...), the unqualified name is jaxloss' and the peer's loss is
    reached qualified (README, "Coming from optax / PyTorch / Keras").

    Qualified names return the peer's loss from :mod:`jaxloss.compat` with exactly the peer's
    values, in jaxloss' order ``(predictions, targets, **peer_options)``: a PyTorch class name is
    constructed with the options and called; a Keras function gets ``(y_true, y_pred)`` swapped
    back and a Keras class is constructed with the options and called with
    ``sample_weight=``. Names after the colon are case-sensitive.

    Raises:
      ValueError: for an unknown name, listing the closest known names.

    Examples:
      >>> import jaxloss
      >>> jaxloss.get("MSELoss") is jaxloss.mean_squared_error
      True
      >>> import jax.numpy as jnp
      >>> y_true, y_pred = jnp.array([[0.0, 1.0]]), jnp.array([[0.4, 0.6]])
      >>> print(jaxloss.get("keras:mean_squared_error")(y_pred, y_true))
      [0.16]
      >>> jaxloss.get("hubr")
      Traceback (most recent call last):
      ...
      ValueError: jaxloss.get: unknown loss 'hubr'; closest matches: ...
    """
    if not isinstance(name, str):
        raise TypeError(f"jaxloss.get: 'name' must be a string, got {type(name).__name__}")
    lib, sep, peer_name = name.partition(":")
    if sep:
        if lib.lower() not in _PEERS:
            raise ValueError(
                f"jaxloss.get: unknown library {lib!r} in {name!r}; qualified names are "
                + ", ".join(f"'{p}:<name>'" for p in _PEERS)
            )
        return _qualified(lib.lower(), peer_name)
    table = _table()
    hit = table.get(name.lower())
    if hit is not None:
        return hit[1]
    known = [n for n, _ in table.values()]
    close = difflib.get_close_matches(name, known, n=5, cutoff=0.5)
    if not close:
        lowered = {n.lower(): n for n in known}
        close = [
            lowered[c]
            for c in difflib.get_close_matches(name.lower(), list(lowered), n=5, cutoff=0.4)
        ]
    hint = ", ".join(repr(c) for c in close) if close else "none; see jaxloss.list_losses()"
    raise ValueError(f"jaxloss.get: unknown loss {name!r}; closest matches: {hint}")
