"""Callbacks of :func:`jaxloss.train.fit` (Keras style).

A callback subclasses :class:`Callback` and overrides any of ``on_train_begin()``,
``on_epoch_begin(epoch)``, ``on_epoch_end(epoch, logs)`` and ``on_train_end()``. ``fit`` sets
``callback.trainer`` (a :class:`Trainer`) before ``on_train_begin``: it exposes the current
``model`` and ``optimizer`` (fresh objects holding the current state), the pure ``state``
(assignable), the ``history``, and ``stop_training`` (set it to end training after this epoch).
``logs`` in ``on_epoch_end`` is a dict of floats; entries a callback adds are recorded in the
history.
"""

from __future__ import annotations

import math
import time
from typing import Callable

import jax
import numpy as np
from flax import nnx

__all__ = [
    "Callback",
    "Trainer",
    "LambdaCallback",
    "EarlyStopping",
    "LearningRateLogger",
    "TimeLogger",
]


class Trainer:
    """What callbacks see of a running :func:`fit`."""

    def __init__(self, graphdef, state, history):
        self.graphdef = graphdef
        self.state = state
        self.history = history
        self.stop_training = False
        self.epoch = None

    @property
    def model(self):
        return nnx.merge(self.graphdef, self.state)[0]

    @property
    def optimizer(self):
        return nnx.merge(self.graphdef, self.state)[1]


class Callback:
    """Base class: every hook does nothing."""

    trainer: Trainer | None = None

    def on_train_begin(self) -> None:
        pass

    def on_epoch_begin(self, epoch: int) -> None:
        pass

    def on_epoch_end(self, epoch: int, logs: dict) -> None:
        pass

    def on_train_end(self) -> None:
        pass


class LambdaCallback(Callback):
    """A callback from functions: ``LambdaCallback(on_epoch_end=lambda epoch, logs: ...)``."""

    def __init__(
        self,
        *,
        on_train_begin: Callable | None = None,
        on_epoch_begin: Callable | None = None,
        on_epoch_end: Callable | None = None,
        on_train_end: Callable | None = None,
    ):
        self._f = dict(
            train_begin=on_train_begin,
            epoch_begin=on_epoch_begin,
            epoch_end=on_epoch_end,
            train_end=on_train_end,
        )

    def on_train_begin(self):
        if self._f["train_begin"]:
            self._f["train_begin"]()

    def on_epoch_begin(self, epoch):
        if self._f["epoch_begin"]:
            self._f["epoch_begin"](epoch)

    def on_epoch_end(self, epoch, logs):
        if self._f["epoch_end"]:
            self._f["epoch_end"](epoch, logs)

    def on_train_end(self):
        if self._f["train_end"]:
            self._f["train_end"]()


class EarlyStopping(Callback):
    """Stops when ``monitor`` has not improved by more than ``min_delta`` for ``patience`` epochs.

    ``mode`` is ``"min"``, ``"max"`` or ``"auto"`` (``"max"`` for names containing ``acc``).
    With ``restore_best_weights`` the state (model and optimizer) of the best epoch is restored
    when training ends. A missing or NaN ``monitor`` value never counts as an improvement.
    """

    def __init__(
        self,
        monitor: str = "val_loss",
        *,
        patience: int = 0,
        min_delta: float = 0.0,
        mode: str = "auto",
        restore_best_weights: bool = False,
    ):
        if mode not in ("auto", "min", "max"):
            raise ValueError(f"EarlyStopping: mode must be 'auto', 'min' or 'max', got {mode!r}")
        if not isinstance(patience, int) or patience < 0:
            raise ValueError(f"EarlyStopping: patience must be an int >= 0, got {patience!r}")
        self.monitor = monitor
        self.patience = patience
        self.min_delta = abs(float(min_delta))
        if mode == "auto":
            mode = "max" if "acc" in monitor else "min"
        self.mode = mode
        self.restore_best_weights = restore_best_weights

    def on_train_begin(self):
        self.best = math.inf if self.mode == "min" else -math.inf
        self.best_epoch = None
        self.best_state = None
        self.wait = 0
        self.stopped_epoch = None

    def _better(self, v):
        if v is None or not math.isfinite(v):
            return False
        if self.mode == "min":
            return v < self.best - self.min_delta
        return v > self.best + self.min_delta

    def on_epoch_end(self, epoch, logs):
        v = logs.get(self.monitor)
        if self._better(v):
            self.best, self.best_epoch, self.wait = v, epoch, 0
            if self.restore_best_weights:
                self.best_state = jax.tree_util.tree_map(lambda a: a.copy(), self.trainer.state)
            return
        self.wait += 1
        if self.wait > self.patience:
            self.trainer.stop_training = True
            self.stopped_epoch = epoch

    def on_train_end(self):
        if self.restore_best_weights and self.best_state is not None:
            self.trainer.state = self.best_state


class LearningRateLogger(Callback):
    """Adds ``logs["lr"]``: ``schedule(step)`` if a schedule is given, else the
    ``learning_rate`` of an optimizer built with ``optax.inject_hyperparams``."""

    def __init__(self, schedule: Callable | None = None, *, key: str = "lr"):
        self.schedule = schedule
        self.key = key

    def on_epoch_end(self, epoch, logs):
        opt = self.trainer.optimizer
        if self.schedule is not None:
            logs[self.key] = float(self.schedule(int(opt.step[...])))
            return
        found = _find_hyperparam(nnx.state(opt), "learning_rate")
        if found is None:
            raise ValueError(
                "LearningRateLogger: the optimizer has no 'learning_rate' hyperparameter; build it "
                "with optax.inject_hyperparams or pass schedule="
            )
        logs[self.key] = float(np.asarray(found))


def _find_hyperparam(state, name):
    for path, leaf in jax.tree_util.tree_leaves_with_path(state):
        keys = [getattr(p, "key", getattr(p, "name", None)) for p in path]
        if "hyperparams" in keys and name in keys:
            return leaf
    return None


class TimeLogger(Callback):
    """Adds ``logs["epoch_seconds"]``, the wall time of the epoch (training and validation)."""

    def __init__(self, *, key: str = "epoch_seconds"):
        self.key = key

    def on_epoch_begin(self, epoch):
        self._t0 = time.perf_counter()

    def on_epoch_end(self, epoch, logs):
        logs[self.key] = time.perf_counter() - self._t0
