"""Vectorised hyperparameter sweeps: a whole grid of trainings as ONE jitted, vmapped program.

jaxloss hyperparameters (``gamma``, ``label_smoothing``, ``delta`` …) are arrays and may be traced,
and ``optax.inject_hyperparams`` keeps the optimiser's (learning rate, momentum …) in its state, so
a training run written as a pure function ``train(config) -> results`` of a dict of scalars can be
``jax.vmap``-ed over a grid of configurations. This module holds the small pieces around that:

* :func:`grid` — the Cartesian product of named axes as flat arrays (one entry per configuration);
* :func:`run_vectorised` — ``jax.jit(jax.vmap(train))(configs)``, timed;
* :func:`run_loop` — the same configurations one at a time through one compiled ``jax.jit(train)``
  (the baseline the vectorised run is compared with, and the ``--verify`` path);
* :func:`set_hyperparam` — write a (traced) value into an ``nnx.Optimizer`` built with
  ``optax.inject_hyperparams``;
* :func:`best` — the best configuration by a metric.

Example:
  >>> import jax.numpy as jnp
  >>> from jaxloss.sweep import grid, run_vectorised, best
  >>> configs = grid(a=[0.0, 1.0], b=[1.0, 2.0, 3.0])
  >>> len(configs["a"])
  6
  >>> res = run_vectorised(lambda c: {"score": (c["a"] - 1.0) ** 2 + c["b"]}, configs)
  >>> i, cfg = best(res.results["score"], configs, mode="min")
  >>> print(cfg)
  {'a': 1.0, 'b': 1.0}
"""

from __future__ import annotations

import dataclasses
import itertools
import time
from typing import Any, Callable, Mapping, Sequence

import jax
import jax.numpy as jnp
import numpy as np

__all__ = ["grid", "SweepResult", "run_vectorised", "run_loop", "select", "set_hyperparam", "best"]


def grid(dtype=np.float32, **axes: Sequence) -> dict[str, np.ndarray]:
    """Cartesian product of the named axes, flattened: ``{name: array of n_configs values}``.

    Configurations are ordered row-major in the order the axes are given (the last axis varies
    fastest), so ``result.reshape(len(a), len(b), ...)`` recovers the grid.
    """
    names = list(axes)
    if not names:
        raise ValueError("jaxloss.sweep.grid: give at least one named axis, e.g. grid(lr=[0.1])")
    empty = [n for n in names if len(list(axes[n])) == 0]
    if empty:
        raise ValueError(f"jaxloss.sweep.grid: axes {empty} have no values")
    rows = list(itertools.product(*(list(axes[n]) for n in names)))
    return {n: np.asarray([r[i] for r in rows], dtype=dtype) for i, n in enumerate(names)}


def select(configs: Mapping[str, Any], index: int) -> dict[str, Any]:
    """The ``index``-th configuration as a dict of 0-d arrays."""
    return {k: np.asarray(v)[index] for k, v in configs.items()}


@dataclasses.dataclass
class SweepResult:
    """Results (a pytree with a leading configuration axis) and timings in seconds."""

    results: Any
    compile_seconds: float
    run_seconds: float

    @property
    def total_seconds(self) -> float:
        return self.compile_seconds + self.run_seconds


def run_vectorised(train: Callable, configs: Mapping[str, Any]) -> SweepResult:
    """Runs ``train`` on every configuration as one ``jax.jit(jax.vmap(train))`` program."""
    configs = {k: jnp.asarray(v) for k, v in configs.items()}
    t0 = time.perf_counter()
    compiled = jax.jit(jax.vmap(train)).lower(configs).compile()
    t1 = time.perf_counter()
    out = jax.block_until_ready(compiled(configs))
    t2 = time.perf_counter()
    return SweepResult(jax.tree_util.tree_map(np.asarray, out), t1 - t0, t2 - t1)


def run_loop(
    train: Callable, configs: Mapping[str, Any], indices: Sequence[int] | None = None
) -> SweepResult:
    """Runs ``train`` one configuration at a time through one compiled ``jax.jit(train)``.

    ``indices`` restricts the loop to some configurations (results are stacked in that order).
    """
    n = len(next(iter(configs.values())))
    indices = list(range(n)) if indices is None else list(indices)
    if not indices or any(not 0 <= int(i) < n for i in indices):
        raise ValueError(
            f"jaxloss.sweep.run_loop: indices must be a non-empty list in [0, {n}), got {indices}"
        )
    first = {k: jnp.asarray(v) for k, v in select(configs, indices[0]).items()}
    t0 = time.perf_counter()
    compiled = jax.jit(train).lower(first).compile()
    t1 = time.perf_counter()
    outs = []
    for i in indices:
        cfg = {k: jnp.asarray(v) for k, v in select(configs, i).items()}
        outs.append(jax.block_until_ready(compiled(cfg)))
    t2 = time.perf_counter()
    stacked = jax.tree_util.tree_map(lambda *xs: np.stack([np.asarray(x) for x in xs]), *outs)
    return SweepResult(stacked, t1 - t0, t2 - t1)


def set_hyperparam(optimizer, name: str, value) -> None:
    """Sets hyperparameter ``name`` of an ``nnx.Optimizer`` built with ``optax.inject_hyperparams``.

    ``value`` may be traced (inside ``jax.vmap``); it is cast to the stored dtype.
    """
    hp = optimizer.opt_state.hyperparams
    if name not in hp:
        raise KeyError(
            f"jaxloss.sweep.set_hyperparam: no hyperparameter {name!r}; have {sorted(hp)}"
        )
    var = hp[name]
    current = (
        var[...]
        if hasattr(var, "__getitem__") and not isinstance(var, (np.ndarray, jax.Array))
        else var
    )
    new = jnp.asarray(value, dtype=jnp.asarray(current).dtype)
    if isinstance(var, (np.ndarray, jax.Array)):
        hp[name] = new
    else:
        var[...] = new


def best(
    metric_values, configs: Mapping[str, Any], *, mode: str = "max"
) -> tuple[int, dict[str, float]]:
    """Index and configuration (as floats) with the best ``metric_values`` (NaN never wins)."""
    v = np.asarray(metric_values, dtype=np.float64)
    if mode not in ("max", "min"):
        raise ValueError(f"jaxloss.sweep.best: mode must be 'max' or 'min', got {mode!r}")
    v = np.where(np.isnan(v), -np.inf if mode == "max" else np.inf, v)
    i = int(np.argmax(v) if mode == "max" else np.argmin(v))
    return i, {k: float(np.asarray(c)[i]) for k, c in configs.items()}
