"""Binding aliases to canonical losses (used by each family's ``ALIASES`` table)."""

from __future__ import annotations

import functools
from typing import Callable


def bind(fn: Callable, name: str, **options) -> Callable:
    """``fn`` with ``options`` fixed as defaults, named ``name``.

    An alias carries the semantics and defaults of the library its name comes from (API.md §1,
    fine print); where that needs fixed options, they are bound here. Callers may still override a
    bound option by passing it explicitly.
    """
    if not options:
        return fn

    @functools.wraps(fn)
    def aliased(*args, **kwargs):
        return fn(*args, **{**options, **kwargs})

    aliased.__name__ = aliased.__qualname__ = name
    opts = ", ".join(f"{k}={v!r}" for k, v in options.items())
    aliased.__doc__ = f"Alias of :func:`jaxloss.{fn.__name__}` with ``{opts}`` bound."
    aliased.canonical = fn
    aliased.bound_options = dict(options)
    return aliased
