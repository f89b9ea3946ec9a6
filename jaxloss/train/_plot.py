"""``plot_history``: the learning-curve PNG (loss on top, a metric below; train and validation)."""

from __future__ import annotations

import os

import numpy as np

from ._fit import History

__all__ = ["plot_history"]


def _curve(ax, values, label):
    v = np.asarray(values, dtype=np.float64)
    if v.ndim == 2:  # [seeds, epochs]: mean line and min-max band
        epochs = np.arange(1, v.shape[1] + 1)
        (line,) = ax.plot(epochs, v.mean(0), label=label)
        ax.fill_between(epochs, v.min(0), v.max(0), color=line.get_color(), alpha=0.2, lw=0)
    else:
        ax.plot(np.arange(1, v.shape[0] + 1), v, label=label)


def plot_history(
    history,
    path,
    *,
    metric: str | None = None,
    title: str | None = None,
    validation_label: str = "validation",
) -> str:
    """Writes the tutorial's learning-curve figure as PNG: loss on top, ``metric`` below.

    Args:
      history: a :class:`History` or a mapping ``name -> values`` (values per epoch, or
        ``[seeds, epochs]`` arrays, drawn as the seed mean with a min–max band).
      path: where to write the PNG (folders are created).
      metric: the metric of the lower panel; default the first key that is neither a loss nor
        ``skipped``; no lower panel when there is none.
      title: optional figure title.
      validation_label: legend label of the ``val_*`` curves (``"validation"``; pass ``"test"``
        when the held-out data is a test set, as in the Keras tutorial).

    Returns:
      ``path``.
    """
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    h = history.history if isinstance(history, History) else dict(history)
    if metric is None:
        cands = [
            k
            for k in h
            if not k.startswith("val_") and k not in ("loss", "skipped", "lr", "epoch_seconds")
        ]
        metric = cands[0] if cands else None
    panels = [("loss", "Loss")] + ([(metric, metric)] if metric else [])
    fig, axes = plt.subplots(len(panels), 1, figsize=(6.4, 2.6 * len(panels) + 0.4), squeeze=False)
    for ax, (key, label) in zip(axes[:, 0], panels, strict=False):
        if key in h:
            _curve(ax, h[key], "train")
        if f"val_{key}" in h:
            _curve(ax, h[f"val_{key}"], validation_label)
        ax.set_title(label)
        ax.legend()
    axes[-1, 0].set_xlabel("epoch")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    os.makedirs(os.path.dirname(os.path.abspath(os.fspath(path))), exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return os.fspath(path)
