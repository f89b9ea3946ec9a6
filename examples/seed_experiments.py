"""The nine experiments of the Keras loss-function tutorial, reproduced with jaxloss + Flax NNX.

Source: "How to Choose Loss Functions When Training Deep Learning Neural Networks" (J. Brownlee,
Machine Learning Mastery; Keras 2.3 / TF 2.0). Same data (scikit-learn generators and seeds),
same model (one ReLU hidden layer, He-uniform init; Keras' default Glorot-uniform output layer,
zero biases), same optimiser (SGD, lr 0.01, momentum 0.9), same epochs (100 / 200 / 100) and
batch size (32, last batch partial, shuffled every epoch as Keras does), same metrics as Keras
computes them.

``--seeds N`` trains N seeds of every experiment in ONE vectorised program per experiment: the
whole training (a ``lax.scan`` over epochs of a ``lax.scan`` over mini-batches) is ``jax.vmap``-ed
over the initialisation / shuffling keys and jitted once.

Usage::

    python examples/seed_experiments.py --seeds 5                 # table + learning curves
    python examples/seed_experiments.py --seeds 5 --json out.json --no-plots

Two accuracy columns are printed for the classification runs:

* ``accuracy`` — what the tutorial's Keras reports: on a one-unit output, Keras' ``accuracy`` is
  ``binary_accuracy = mean(round(output) == target)``. For the sigmoid/BCE run that is the usual
  0.5 threshold; for the hinge runs (tanh output, targets in {-1, +1}) ``round(output)`` is -1, 0
  or +1, so an example only counts as correct when ``|output| > 0.5`` on the right side.
* ``decision`` — the accuracy of the decision rule: ``output > 0.5`` for sigmoid, ``sign(output)``
  for tanh, ``argmax`` for softmax (identical to ``accuracy`` for the multi-class runs).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx

import jaxloss
from jaxloss.train import make_pure_epoch, make_pure_eval, plot_history, sign_accuracy

# name, task, loss (registry name, Keras spelling), output activation, epochs, metric, published
EXPERIMENTS = [
    ("mse", "regression", "mse", "linear", 100, "mse", (0.000, 0.001)),
    ("msle", "regression", "msle", "linear", 100, "mse", (0.165, 0.184)),
    ("mae", "regression", "mae", "linear", 100, "mse", (0.002, 0.002)),
    ("bce", "circles", "binary_crossentropy", "sigmoid", 200, "accuracy", (0.836, 0.852)),
    ("hinge", "circles_pm1", "hinge", "tanh", 200, "accuracy", (0.792, 0.740)),
    ("squared_hinge", "circles_pm1", "squared_hinge", "tanh", 200, "accuracy", (0.682, 0.646)),
    ("cce", "blobs_onehot", "categorical_crossentropy", "softmax", 100, "accuracy", (0.840, 0.822)),
    (
        "scce",
        "blobs_sparse",
        "sparse_categorical_crossentropy",
        "softmax",
        100,
        "accuracy",
        (0.832, 0.818),
    ),
    (
        "kld",
        "blobs_onehot",
        "kullback_leibler_divergence",
        "softmax",
        100,
        "accuracy",
        (0.822, 0.822),
    ),
]
FAMILY = {
    "regression": "regression",
    "circles": "binary",
    "circles_pm1": "binary",
    "blobs_onehot": "multiclass",
    "blobs_sparse": "multiclass",
}


def load_data(task):
    """(train_x, train_y, test_x, test_y) as in the tutorial.

    The first 500 rows are the training set, the last 500 the test set.
    """
    from sklearn.datasets import make_blobs, make_circles, make_regression
    from sklearn.preprocessing import StandardScaler

    if task == "regression":
        X, y = make_regression(n_samples=1000, n_features=20, noise=0.1, random_state=1)
        X = StandardScaler().fit_transform(X)
        y = StandardScaler().fit_transform(y.reshape(len(y), 1))[:, 0]
        y = y[:, None].astype(np.float32)
    elif task.startswith("circles"):
        X, y = make_circles(n_samples=1000, noise=0.1, random_state=1)
        y = y.astype(np.float32)
        if task == "circles_pm1":
            y[np.where(y == 0)] = -1
        y = y[:, None]
    else:
        X, y = make_blobs(n_samples=1000, centers=3, n_features=2, cluster_std=2, random_state=2)
        y = np.eye(3, dtype=np.float32)[y] if task == "blobs_onehot" else y.astype(np.int32)
    X = X.astype(np.float32)
    n_train = 500
    return X[:n_train], y[:n_train], X[n_train:], y[n_train:]


class MLP(nnx.Module):
    """Dense(hidden, relu, he_uniform) -> Dense(out, activation) with Keras' default output init."""

    def __init__(self, n_in, n_hidden, n_out, activation, *, rngs):
        self.hidden = nnx.Linear(
            n_in,
            n_hidden,
            kernel_init=nnx.initializers.he_uniform(),
            bias_init=nnx.initializers.zeros_init(),
            rngs=rngs,
        )
        self.out = nnx.Linear(
            n_hidden,
            n_out,
            kernel_init=nnx.initializers.glorot_uniform(),
            bias_init=nnx.initializers.zeros_init(),
            rngs=rngs,
        )
        self.activation = activation

    def __call__(self, x):
        z = self.out(nnx.relu(self.hidden(x)))
        if self.activation == "sigmoid":
            return nnx.sigmoid(z)
        if self.activation == "tanh":
            return jnp.tanh(z)
        if self.activation == "softmax":
            return nnx.softmax(z, axis=-1)
        return z


def decision_accuracy(activation):
    """The decision rule's accuracy: p > 0.5 (sigmoid), sign (tanh), argmax (softmax)."""
    if activation == "tanh":
        return sign_accuracy
    if activation == "sigmoid":
        return lambda out, t: jnp.mean(((out > 0.5) == (t > 0.5)).astype(jnp.float32))
    return None


def run_experiment(exp, seeds, *, epochs=None, lr=0.01, momentum=0.9, batch_size=32):
    """Trains ``len(seeds)`` models of one experiment in one jitted, vmapped program."""
    name, task, loss, activation, n_epochs, metric, _ = exp
    epochs = n_epochs if epochs is None else epochs
    xtr, ytr, xte, yte = load_data(task)
    n_in, n_out = xtr.shape[1], (1 if ytr.ndim == 1 or ytr.shape[1] == 1 else ytr.shape[1])
    if task == "blobs_sparse":
        n_out = 3
    n_hidden = 25 if task == "regression" else 50
    metrics = [metric]
    dec = decision_accuracy(activation)
    if dec is not None:
        metrics.append(("decision", dec))
    tx = optax.sgd(lr, momentum=momentum)

    def make(key):
        model = MLP(n_in, n_hidden, n_out, activation, rngs=nnx.Rngs(params=key))
        return model, nnx.Optimizer(model, tx, wrt=nnx.Param)

    graphdef, _ = nnx.split(nnx.eval_shape(lambda: make(jax.random.PRNGKey(0))))
    epoch_fn = make_pure_epoch(
        graphdef, loss, num_examples=len(xtr), batch_size=batch_size, metrics=metrics
    )
    eval_fn = make_pure_eval(graphdef, loss, metrics=metrics)
    xtr, ytr, xte, yte = map(jnp.asarray, (xtr, ytr, xte, yte))

    def train_one(key):
        k_init, k_shuffle = jax.random.split(key)
        state = nnx.state(make(k_init))

        def body(state, ep):
            state, tr = epoch_fn(state, xtr, ytr, jax.random.fold_in(k_shuffle, ep))
            va = eval_fn(state, xte, yte)
            return state, (tr, va)

        state, (tr_hist, va_hist) = jax.lax.scan(body, state, jnp.arange(epochs))
        return eval_fn(state, xtr, ytr), eval_fn(state, xte, yte), tr_hist, va_hist

    keys = jnp.stack([jax.random.PRNGKey(s) for s in seeds])
    t0 = time.perf_counter()
    program = jax.jit(jax.vmap(train_one)).lower(keys).compile()
    t1 = time.perf_counter()
    out = jax.block_until_ready(program(keys))
    t2 = time.perf_counter()
    final_train, final_test, tr_hist, va_hist = jax.tree_util.tree_map(np.asarray, out)
    curves = {k: v for k, v in tr_hist.items() if k != "skipped"}
    curves.update({f"val_{k}": v for k, v in va_hist.items()})
    fn = jaxloss.get(loss)
    canonical = getattr(fn, "canonical", fn).__name__
    return {
        "experiment": name,
        "loss": canonical,
        "loss_name": loss,
        "metric": metric,
        "train": final_train,
        "test": final_test,
        "curves": curves,
        "skipped": int(tr_hist["skipped"].sum()),
        "compile_seconds": t1 - t0,
        "run_seconds": t2 - t1,
    }


def summarise(res, published):
    m = res["metric"]
    row = {
        "experiment": res["experiment"],
        "loss": res["loss"],
        "metric": m,
        "train_mean": float(np.mean(res["train"][m])),
        "train_std": float(np.std(res["train"][m])),
        "test_mean": float(np.mean(res["test"][m])),
        "test_std": float(np.std(res["test"][m])),
        "published_train": published[0],
        "published_test": published[1],
        "skipped_batches": res["skipped"],
        "compile_seconds": res["compile_seconds"],
        "run_seconds": res["run_seconds"],
    }
    if "decision" in res["train"]:
        row.update(
            {
                "decision_train_mean": float(np.mean(res["train"]["decision"])),
                "decision_train_std": float(np.std(res["train"]["decision"])),
                "decision_test_mean": float(np.mean(res["test"]["decision"])),
                "decision_test_std": float(np.std(res["test"]["decision"])),
            }
        )
    return row


def format_table(rows, n_seeds):
    head = (
        f"{'experiment':<14}{'jaxloss loss':<34}{'metric':<9}{'train (mean±std)':>18}"
        f"{'test (mean±std)':>18}{'published':>15}{'decision train':>16}{'decision test':>16}"
    )
    lines = [f"{n_seeds} seeds per experiment", head, "-" * len(head)]
    for r in rows:
        dec = (
            f"{r['decision_train_mean']:>10.3f}±{r['decision_train_std']:.3f}"
            f"{r['decision_test_mean']:>10.3f}±{r['decision_test_std']:.3f}"
            if "decision_test_mean" in r
            else ""
        )
        lines.append(
            f"{r['experiment']:<14}{r['loss']:<34}{r['metric']:<9}"
            f"{r['train_mean']:>11.3f}±{r['train_std']:.3f}{r['test_mean']:>11.3f}±{r['test_std']:.3f}"
            f"{r['published_train']:>9.3f}/{r['published_test']:.3f}{dec}"
        )
    return "\n".join(lines)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--seeds", type=int, default=5, help="seeds per experiment (vmapped)")
    p.add_argument("--json", default=None, help="write one row per experiment to this path")
    p.add_argument("--no-plots", action="store_true", help="skip the learning-curve PNGs")
    p.add_argument(
        "--out",
        default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "out"),
        help="folder of the PNGs (default examples/out/)",
    )
    p.add_argument("--only", default=None, help="comma-separated experiment names (default all)")
    p.add_argument("--epochs", type=int, default=None, help="override the epochs (quick runs)")
    args = p.parse_args(argv)

    chosen = EXPERIMENTS
    if args.only:
        names = set(args.only.split(","))
        unknown = names - {e[0] for e in EXPERIMENTS}
        if unknown:
            p.error(f"unknown experiments {sorted(unknown)}; known: {[e[0] for e in EXPERIMENTS]}")
        chosen = [e for e in EXPERIMENTS if e[0] in names]
    seeds = list(range(args.seeds))
    print(
        f"jax {jax.__version__} on {jax.devices()[0].platform}: {len(chosen)} experiments x "
        f"{len(seeds)} seeds",
        flush=True,
    )
    t_all = time.perf_counter()
    rows = []
    for exp in chosen:
        res = run_experiment(exp, seeds, epochs=args.epochs)
        row = summarise(res, exp[6])
        rows.append(row)
        print(
            f"  {exp[0]:<14} compile {row['compile_seconds']:5.1f} s, "
            f"run {row['run_seconds']:5.1f} s "
            f"({len(seeds)} seeds), "
            f"test {row['metric']} {row['test_mean']:.3f}±{row['test_std']:.3f} "
            f"(published {exp[6][1]:.3f})",
            flush=True,
        )
        if not args.no_plots:
            path = os.path.join(args.out, f"{exp[0]}.png")
            plot_history(
                res["curves"],
                path,
                metric=exp[5],
                title=f"{exp[0]}: {row['loss']} ({len(seeds)} seeds, mean and min-max)",
            )
    total = time.perf_counter() - t_all
    compile_total = sum(r["compile_seconds"] for r in rows)
    run_total = sum(r["run_seconds"] for r in rows)
    print()
    print(format_table(rows, len(seeds)))
    print(
        f"\ntotal {total:.1f} s on {jax.devices()[0].platform} (compile {compile_total:.1f} s, "
        f"training {run_total:.1f} s, data and plots the rest); "
        f"{sum(r['skipped_batches'] for r in rows)} batches skipped by the non-finite guard"
    )
    if args.json:
        os.makedirs(os.path.dirname(os.path.abspath(args.json)), exist_ok=True)
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
