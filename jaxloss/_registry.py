"""The registry: ``jaxloss.get(name)`` and ``jaxloss.list_losses()``.

Each loss family module declares ``LOSSES`` (its canonical functions) and ``ALIASES`` (every name
it answers to, canonical names included, with library-specific options bound by
:func:`jaxloss._alias.bind`). The registry only collects those tables.
"""

from __future__ import annotations

import difflib
from typing import Callable

from . import (
    _binary,
    _classification,
    _cross_entropy,
    _divergence,
    _metric,
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
    _sparsemax,
    _ranking,
)

_EXTRA: dict[str, Callable] = {}  # losses that live outside the family modules (e.g. linear CE)


def _table() -> dict[str, tuple[str, Callable]]:
    table: dict[str, tuple[str, Callable]] = {}
    sources = [family.ALIASES for family in _FAMILIES] + [_EXTRA]
    for aliases in sources:
        for name, fn in aliases.items():
            key = name.lower()
            if key in table and table[key][1] is not fn:
                raise RuntimeError(f"jaxloss registry: the name {name!r} is bound twice")
            table[key] = (name, fn)
    return table


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
    """The loss called ``name``: a canonical name or any alias of API.md §2, case-insensitive.

    Aliases carry the semantics and defaults of the library the name comes from, e.g.
    ``get("CrossEntropyLoss")`` binds PyTorch's ``ignore_index=-100`` and ``get("poisson")`` Keras'
    ``log_input=False, epsilon=1e-7``.

    Raises:
      ValueError: for an unknown name, listing the closest known names.

    Examples:
      >>> import jaxloss
      >>> jaxloss.get("MSELoss") is jaxloss.mean_squared_error
      True
      >>> jaxloss.get("hubr")
      Traceback (most recent call last):
      ...
      ValueError: jaxloss.get: unknown loss 'hubr'; closest matches: ...
    """
    if not isinstance(name, str):
        raise TypeError(f"jaxloss.get: 'name' must be a string, got {type(name).__name__}")
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
