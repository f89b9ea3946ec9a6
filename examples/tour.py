"""A short tour of the catalog: the regression losses and their gradients, drawn as PNG.

MSE, MAE, Huber (delta = 1) and log-cosh as functions of the residual ``r = prediction - target``
(top) and their derivatives ``d loss / d prediction`` from ``jax.grad`` (bottom): MSE grows
quadratically and its gradient without bound; MAE has a constant-size gradient (and a kink at 0);
Huber and log-cosh are quadratic near 0 and linear far away, so their gradients saturate at ±1.
The script also prints a few registry look-ups and a sample of losses from other families.

Usage::

    python examples/tour.py                   # writes examples/out/tour_regression.png
    python examples/tour.py --no-plots
"""

from __future__ import annotations

import argparse
import os
import sys

import jax
import jax.numpy as jnp
import numpy as np

import jaxloss

CURVES = ("mse", "mae", "huber", "log_cosh")


def curves(names=CURVES, lo=-3.0, hi=3.0, num=601):
    """Residuals, per-element losses and their gradients for each registry name."""
    r = jnp.linspace(lo, hi, num, dtype=jnp.float32)
    targets = jnp.zeros_like(r)
    out = {}
    for name in names:
        fn = jaxloss.get(name)
        values = fn(r, targets, reduction="none")
        grads = jax.vmap(jax.grad(lambda p, f=fn: f(p, jnp.zeros_like(p), reduction="sum")))(r)
        out[name] = (np.asarray(values), np.asarray(grads))
    return np.asarray(r), out


def plot(path, names=CURVES):
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    r, data = curves(names)
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(6.4, 6.4), sharex=True)
    for name, (v, g) in data.items():
        label = jaxloss.get(name).__name__
        top.plot(r, v, label=label)
        bottom.plot(r, g, label=label)
    top.set_ylim(-0.1, 4.6)
    top.set_title("loss(r)")
    bottom.set_ylim(-3.2, 3.2)
    bottom.set_title("d loss / d prediction (jax.grad)")
    bottom.set_xlabel("residual r = prediction - target")
    for ax in (top, bottom):
        ax.axhline(0, color="k", lw=0.5)
        ax.legend()
    fig.tight_layout()
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--no-plots", action="store_true")
    p.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "out"))
    args = p.parse_args(argv)

    print(f"{len(jaxloss.list_losses())} losses, {len(jaxloss.list_losses(aliases=True))} names")
    for alias in (
        "mse",
        "MSELoss",
        "CrossEntropyLoss",
        "binary_crossentropy",
        "kullback_leibler_divergence",
    ):
        fn = jaxloss.get(alias)
        print(
            f"  {'get(' + repr(alias) + ')':40} -> {getattr(fn, 'canonical', fn).__name__}"
            + (f" with {fn.bound_options}" if hasattr(fn, "bound_options") else "")
        )
    r, data = curves()
    print("\nresidual    " + "".join(f"{n:>12}" for n in CURVES) + "   (loss / gradient)")
    for x in (-3.0, -1.0, -0.1, 0.5, 2.0):
        i = int(np.argmin(np.abs(r - x)))
        print(
            f"{r[i]:8.2f}    "
            + "".join(f"{data[n][0][i]:6.3f}/{data[n][1][i]:5.2f}" for n in CURVES)
        )

    logits = jnp.asarray([[2.0, -1.0, 0.5], [0.1, 0.2, 3.0]], jnp.float32)
    labels = jnp.asarray([0, 2], jnp.int32)
    print("\nclassification on 2 examples, 3 classes:")
    for name, kw in (
        ("CrossEntropyLoss", {}),
        ("CrossEntropyLoss", {"label_smoothing": 0.1}),
        ("softmax_focal_loss", {"gamma": 2.0}),
        ("multiclass_hinge_loss", {}),
    ):
        try:
            v = jaxloss.get(name)(logits, labels, **kw)
            print(f"  {name:24} {kw!s:26} {float(v):.4f}")
        except NotImplementedError:
            print(f"  {name:24} (not implemented yet)")
    if not args.no_plots:
        print("\nwrote", plot(os.path.join(args.out, "tour_regression.png")))
    return 0


if __name__ == "__main__":
    sys.exit(main())
