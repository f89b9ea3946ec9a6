"""A vectorised hyperparameter sweep: focal gamma x label smoothing x learning rate, ONE program.

The tutorial's three-blob problem (``make_blobs(n_samples=1000, centers=3, n_features=2,
cluster_std=2, random_state=2)``, first 500 rows train, last 500 test) is trained with
``jaxloss.categorical_focal_loss`` on softmax outputs against label-smoothed one-hot targets, with
SGD (momentum 0.9) whose learning rate lives in ``optax.inject_hyperparams`` state. Every
configuration of the grid (4 gammas x 4 smoothings x 4 learning rates = 64 by default) trains the
same initial model on the same shuffles, and the whole grid is one ``jax.jit(jax.vmap(train))``.

Usage::

    python examples/sweep.py                # 64 configurations, best config, heatmap, timing
    python examples/sweep.py --verify       # + re-train 2 sampled configs one at a time, compare
    python examples/sweep.py --no-loop      # skip the one-at-a-time timing baseline

The script times the vectorised program against a loop over the same configurations through one
compiled single-configuration program, in the same run, and compares their results.

On float32 rounding: the vectorised program and the single-configuration program run different
(batched vs unbatched) XLA kernels, so their float32 results differ in the last bits. For most
configurations that stays at rounding level after 20 epochs (median max-|param diff| ~1e-6), but
with the larger learning rates a few trajectories amplify it (a ReLU unit or a probability clip
switching on a rounding difference) and end visibly apart. ``--x64`` runs everything in float64,
where all 64 configurations agree to ~1e-11: the difference is rounding, not vectorisation.
"""

from __future__ import annotations

import argparse
import os
import sys

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx

import jaxloss
from jaxloss.sweep import best, grid, run_loop, run_vectorised, set_hyperparam
from jaxloss.train import categorical_accuracy, make_pure_epoch

GAMMAS = (0.0, 1.0, 2.0, 4.0)
SMOOTHINGS = (0.0, 0.05, 0.1, 0.2)
LEARNING_RATES = (0.001, 0.003, 0.01, 0.03)


def load_blobs(dtype=np.float32):
    from sklearn.datasets import make_blobs

    X, y = make_blobs(n_samples=1000, centers=3, n_features=2, cluster_std=2, random_state=2)
    X = X.astype(dtype)
    Y = np.eye(3, dtype=dtype)[y]
    return X[:500], Y[:500], X[500:], Y[500:]


class MLP(nnx.Module):
    def __init__(self, rngs, dtype=jnp.float32):
        self.hidden = nnx.Linear(
            2,
            50,
            kernel_init=nnx.initializers.he_uniform(),
            rngs=rngs,
            dtype=dtype,
            param_dtype=dtype,
        )
        self.out = nnx.Linear(50, 3, rngs=rngs, dtype=dtype, param_dtype=dtype)

    def __call__(self, x):
        return nnx.softmax(self.out(nnx.relu(self.hidden(x))), axis=-1)


def make_train(epochs: int, seed: int = 0, batch_size: int = 32, dtype=np.float32):
    """``train(config) -> {"test_accuracy", "test_loss", "train_loss", "params"}`` (pure)."""
    xtr, ytr, xte, yte = map(jnp.asarray, load_blobs(dtype))
    tx = optax.inject_hyperparams(optax.sgd, hyperparam_dtype=jnp.float32)(
        learning_rate=0.01, momentum=0.9
    )

    def make():
        model = MLP(nnx.Rngs(params=jax.random.PRNGKey(seed)), dtype=dtype)
        return model, nnx.Optimizer(model, tx, wrt=nnx.Param)

    graphdef, _ = nnx.split(nnx.eval_shape(make))
    shuffle_key = jax.random.PRNGKey(seed + 1)

    def train(config):
        gamma, smoothing = config["gamma"], config["label_smoothing"]

        def loss(probs, targets):
            return jaxloss.categorical_focal_loss(
                probs, jaxloss.smooth_labels(targets, smoothing), gamma=gamma
            )

        model, opt = make()
        set_hyperparam(opt, "learning_rate", config["learning_rate"])
        state = nnx.state((model, opt))
        epoch_fn = make_pure_epoch(graphdef, loss, num_examples=xtr.shape[0], batch_size=batch_size)

        def body(state, ep):
            state, logs = epoch_fn(state, xtr, ytr, jax.random.fold_in(shuffle_key, ep))
            return state, logs["loss"]

        state, train_losses = jax.lax.scan(body, state, jnp.arange(epochs))
        model, _ = nnx.merge(graphdef, state)
        out = model(xte)
        return {
            "test_accuracy": categorical_accuracy(out, yte),
            "test_cross_entropy": jaxloss.categorical_cross_entropy(out, yte),
            "train_loss": train_losses[-1],
            "params": nnx.state(model, nnx.Param),
        }

    return train


def _fmt(cfg):
    return "{" + ", ".join(f"{k}={float(v):.4g}" for k, v in cfg.items()) + "}"


def plot_heatmap(acc, path):
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    acc = np.asarray(acc).reshape(len(GAMMAS), len(SMOOTHINGS), len(LEARNING_RATES))
    fig, axes = plt.subplots(
        1, len(LEARNING_RATES), figsize=(3.2 * len(LEARNING_RATES), 3.4), sharey=True
    )
    lo, hi = float(np.nanmin(acc)), float(np.nanmax(acc))
    for k, ax in enumerate(axes):
        im = ax.imshow(acc[:, :, k], vmin=lo, vmax=hi, cmap="viridis", origin="lower")
        for i in range(len(GAMMAS)):
            for j in range(len(SMOOTHINGS)):
                ax.text(
                    j, i, f"{acc[i, j, k]:.3f}", ha="center", va="center", fontsize=7, color="w"
                )
        ax.set_xticks(range(len(SMOOTHINGS)), [str(s) for s in SMOOTHINGS])
        ax.set_yticks(range(len(GAMMAS)), [str(g) for g in GAMMAS])
        ax.set_xlabel("label_smoothing")
        ax.set_title(f"lr = {LEARNING_RATES[k]}")
    axes[0].set_ylabel("focal gamma")
    fig.colorbar(im, ax=list(axes), shrink=0.8, label="test accuracy")
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    fig.savefig(path, dpi=100, bbox_inches="tight")
    plt.close(fig)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument(
        "--verify",
        action="store_true",
        help="re-train 2 sampled configurations one at a time and compare (exit 1 if not equal)",
    )
    p.add_argument("--no-plots", action="store_true")
    p.add_argument("--no-loop", action="store_true", help="skip the one-at-a-time timing loop")
    p.add_argument("--small", action="store_true", help="a 2x2x2 grid (tests)")
    p.add_argument(
        "--x64",
        action="store_true",
        help="train in float64 (separates vectorisation errors from float32 rounding)",
    )
    p.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "out"))
    args = p.parse_args(argv)

    global GAMMAS, SMOOTHINGS, LEARNING_RATES
    if args.small:
        GAMMAS, SMOOTHINGS, LEARNING_RATES = GAMMAS[::2], SMOOTHINGS[::2], LEARNING_RATES[1::2]
    if args.x64:
        jax.config.update("jax_enable_x64", True)
    dtype = np.float64 if args.x64 else np.float32
    configs = grid(
        gamma=GAMMAS, label_smoothing=SMOOTHINGS, learning_rate=LEARNING_RATES, dtype=dtype
    )
    n = len(configs["gamma"])
    train = make_train(args.epochs, dtype=dtype)
    platform = jax.devices()[0].platform
    print(
        f"jax {jax.__version__} on {platform}: {n} configurations x {args.epochs} epochs "
        f"({np.dtype(dtype).name})",
        flush=True,
    )

    vec = run_vectorised(train, configs)
    acc = vec.results["test_accuracy"]
    print(
        f"vectorised : compile {vec.compile_seconds:6.2f} s, run {vec.run_seconds:6.2f} s, "
        f"total {vec.total_seconds:6.2f} s",
        flush=True,
    )
    i, cfg = best(acc, configs, mode="max")
    print(
        f"best: {_fmt(cfg)} -> test accuracy {acc[i]:.3f}, test cross-entropy "
        f"{vec.results['test_cross_entropy'][i]:.4f}"
    )

    status = 0
    if not args.no_loop:
        loop = run_loop(train, configs)
        print(
            f"one at a time: compile {loop.compile_seconds:6.2f} s, run {loop.run_seconds:6.2f} s, "
            f"total {loop.total_seconds:6.2f} s",
            flush=True,
        )
        print(
            f"speed-up (run) {loop.run_seconds / vec.run_seconds:.1f}x, "
            f"(compile + run) {loop.total_seconds / vec.total_seconds:.1f}x"
        )
        diff = np.max(np.abs(loop.results["test_accuracy"] - acc))
        pdiff = np.zeros(n)
        for la, lb in zip(
            jax.tree_util.tree_leaves(loop.results["params"]),
            jax.tree_util.tree_leaves(vec.results["params"]),
            strict=False,
        ):
            pdiff = np.maximum(pdiff, np.abs(np.asarray(la) - np.asarray(lb)).reshape(n, -1).max(1))
        print(
            f"loop vs vectorised over all {n} configs: max |accuracy diff| {diff:.3g}, "
            f"param diff median {np.median(pdiff):.2e} max {pdiff.max():.2e} "
            f"({int((pdiff > 1e-5).sum())} configs > 1e-5)"
        )

    if args.verify:
        # float32 rounding (a few ulp of O(1) weights); float64 rounding in --x64 mode
        tol = dict(rtol=1e-9, atol=1e-10) if args.x64 else dict(rtol=1e-5, atol=1e-6)
        picks = sorted(np.random.default_rng(0).choice(n, size=2, replace=False).tolist())
        one = run_loop(train, configs, indices=picks)
        for row, k in enumerate(picks):
            ok = True
            for name in ("test_accuracy", "test_cross_entropy", "train_loss"):
                a, b = np.asarray(one.results[name][row]), np.asarray(vec.results[name][k])
                ok &= bool(np.allclose(a, b, **tol))
            for la, lb in zip(
                jax.tree_util.tree_leaves(one.results["params"]),
                jax.tree_util.tree_leaves(vec.results["params"]),
                strict=False,
            ):
                ok &= bool(np.allclose(np.asarray(la[row]), np.asarray(lb[k]), **tol))
            dp = max(
                float(np.max(np.abs(np.asarray(la[row]) - np.asarray(lb[k]))))
                for la, lb in zip(
                    jax.tree_util.tree_leaves(one.results["params"]),
                    jax.tree_util.tree_leaves(vec.results["params"]),
                    strict=False,
                )
            )
            print(
                f"verify config {k} {_fmt({c: v[k] for c, v in configs.items()})}: "
                f"max |param diff| {dp:.2e} -> {'OK' if ok else 'MISMATCH'}"
            )
            status |= 0 if ok else 1

    if not args.no_plots:
        path = os.path.join(args.out, "sweep_heatmap.png")
        plot_heatmap(acc, path)
        print(f"heatmap: {path}")
    return status


if __name__ == "__main__":
    sys.exit(main())
