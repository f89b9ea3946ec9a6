"""Training with jaxloss losses in Flax NNX + Optax (API.md §3).

Entry points:

* :func:`make_train_step` — a jitted ``step(model, optimizer, batch) -> dict`` built on
  ``nnx.value_and_grad`` and ``nnx.Optimizer(model, tx, wrt=nnx.Param)``. A batch whose loss,
  gradient or resulting state (parameters, batch statistics, optimizer moments) is not finite
  leaves *all* model and optimizer state untouched and reports ``skipped = 1``.
* :func:`fit` — Keras-like training loop: shuffled mini-batches (32 by default, the last batch
  partial as in Keras) or any iterable of batches, per-step or scanned execution, per-epoch train
  / validation loss and metrics in a :class:`History` (validation in inference mode), callbacks,
  a progress bar, optional Orbax checkpoints each epoch that a re-run resumes from exactly — after
  checking that model, optimizer and configuration match.
* :func:`evaluate` — loss and metrics in inference mode, compiled once.
* :func:`plot_history` — the learning-curve PNG (loss on top, metric below, train and validation).

The same code runs on CPU, GPU and TPU: nothing here names a device.

Batches are ``(inputs, targets)`` or ``(inputs, targets, weights)`` tuples, or dicts with keys
``inputs``/``x``, ``targets``/``y`` and optionally ``weights``. The loss is called as
``loss(model(inputs), targets, **options)`` (plus ``weights=`` when the batch has weights), or
``loss(hidden, weight, targets, bias=..., **options)`` with a fused head (``head=``). Loss
options are passed the same way everywhere: as keywords, or as ``loss_kwargs={...}``; an option
the loss does not take is a ``TypeError`` when the step is built.

Metrics come from a registry separate from the losses (:func:`list_metrics`,
:func:`register_metric`): ``"accuracy"`` (Keras' choice: one output unit -> ``binary_accuracy``,
integer labels -> ``sparse_categorical_accuracy``, otherwise ``categorical_accuracy``),
``"binary_accuracy"`` (Keras: ``mean(round(output) == target)``; with a tanh output and targets
in {-1, +1} this only counts ``|output| > 0.5``), ``"sign_accuracy"`` (``sign`` agreement, the
natural accuracy for ±1 targets), ``"categorical_accuracy"``, ``"sparse_categorical_accuracy"``,
``"token_accuracy"`` (ignores ``-100`` padding labels), ``"top_5_accuracy"`` (and
:func:`top_k_accuracy`), ``"mse"``, ``"mae"``. A loss of the catalog is usable as a metric by its
exact name.
"""

from ._callbacks import (
    Callback,
    EarlyStopping,
    LambdaCallback,
    LearningRateLogger,
    TimeLogger,
    Trainer,
)
from ._checkpoint import CheckpointMismatchError
from ._fit import History, fit
from ._metrics import (
    FusedOutputs,
    binary_accuracy_keras,
    categorical_accuracy,
    get_metric,
    keras_accuracy,
    list_metrics,
    mae_metric,
    mse_metric,
    register_metric,
    resolve_metrics,
    sign_accuracy,
    sparse_categorical_accuracy,
    token_accuracy,
    top_k_accuracy,
)
from ._plot import plot_history
from ._step import (
    evaluate,
    make_pure_epoch,
    make_pure_eval,
    make_pure_step,
    make_train_step,
    resolve_loss,
)

__all__ = [
    "History",
    "make_train_step",
    "fit",
    "evaluate",
    "plot_history",
    "resolve_loss",
    "resolve_metrics",
    "make_pure_step",
    "make_pure_epoch",
    "make_pure_eval",
    "keras_accuracy",
    "binary_accuracy_keras",
    "sign_accuracy",
    "categorical_accuracy",
    "sparse_categorical_accuracy",
    "token_accuracy",
    "top_k_accuracy",
    "mse_metric",
    "mae_metric",
    "FusedOutputs",
    "register_metric",
    "get_metric",
    "list_metrics",
    "Callback",
    "Trainer",
    "LambdaCallback",
    "EarlyStopping",
    "LearningRateLogger",
    "TimeLogger",
    "CheckpointMismatchError",
]
