"""``jaxloss.train.fit`` against a hand-written ``nnx.jit`` per-batch loop, in one process.

Workloads: the digits CNN (scikit-learn ``load_digits``, 8x8 images, 10 classes, batch 32) and
the Keras-tutorial MLPs of examples/seed_experiments.py (2-50-1 and 2-50-3, 500 examples, batch
32). For each: steady-state epoch time (median of interleaved epochs after a warm-up epoch) of

* ``plain``: the loop a Flax user writes: ``@nnx.jit def train_step(model, optimizer, x, y)``
  with ``nnx.value_and_grad`` and ``optimizer.update``, batches sliced from device arrays
  permuted once per epoch (the last batch partial, like fit);
* ``plain_jax``: the faster hand-written loop, ``jax.jit`` of a pure step on ``nnx.split``
  state (no per-call graph traversal);
* ``fit``: ``jaxloss.train.fit`` with ``execution="step"``, ``"scan"`` and ``"auto"``;

and the compile time of one step (``lower().compile()`` of the jitted step: the plain one and the
guarded one ``fit`` uses). Ratios are fit / plain. Run: ``python bench/fit_speed.py [--epochs N]``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx

import jaxloss
from jaxloss import train


class CNN(nnx.Module):
    def __init__(self, rngs):
        self.c1 = nnx.Conv(1, 16, (3, 3), rngs=rngs)
        self.c2 = nnx.Conv(16, 32, (3, 3), rngs=rngs)
        self.fc = nnx.Linear(4 * 4 * 32, 10, rngs=rngs)

    def __call__(self, x):
        x = nnx.relu(self.c1(x))
        x = nnx.relu(self.c2(x))
        x = nnx.avg_pool(x, (2, 2), strides=(2, 2))
        return self.fc(x.reshape(x.shape[0], -1))


class MLP(nnx.Module):
    def __init__(self, n_in, n_out, rngs):
        self.l1 = nnx.Linear(n_in, 50, rngs=rngs)
        self.l2 = nnx.Linear(50, n_out, rngs=rngs)

    def __call__(self, x):
        return self.l2(nnx.relu(self.l1(x)))


def digits():
    from sklearn.datasets import load_digits

    d = load_digits()
    x = (d.images / 16.0).astype(np.float32)[..., None]
    return x, d.target.astype(np.int32)


def workloads():
    r = np.random.default_rng(0)
    xd, yd = digits()
    x2 = r.normal(size=(500, 2)).astype(np.float32)
    yreg = (x2 @ np.asarray([[1.0], [-0.5]], np.float32)).astype(np.float32)
    ycls = r.integers(0, 3, size=500).astype(np.int32)
    sce = jaxloss.sparse_softmax_cross_entropy
    return [
        ("digits CNN", lambda: CNN(nnx.Rngs(0)), xd, yd, sce),
        ("tutorial MLP 2-50-1 (mse)", lambda: MLP(2, 1, nnx.Rngs(0)), x2, yreg,
         jaxloss.mean_squared_error),
        ("tutorial MLP 2-50-3 (scce)", lambda: MLP(2, 3, nnx.Rngs(0)), x2, ycls, sce),
    ]  # fmt: skip


def plain_runner(make, x, y, loss_fn, batch_size, tx):
    model = make()
    opt = nnx.Optimizer(model, tx, wrt=nnx.Param)

    @nnx.jit
    def train_step(model, optimizer, xb, yb):
        def objective(m):
            return loss_fn(m(xb), yb)

        loss, grads = nnx.value_and_grad(objective)(model)
        optimizer.update(model, grads)
        return loss

    xj, yj = jnp.asarray(x), jnp.asarray(y)
    n = len(x)
    key = jax.random.PRNGKey(0)

    def run(epochs):
        times = []
        for ep in range(epochs):
            t0 = time.perf_counter()
            idx = jax.random.permutation(jax.random.fold_in(key, ep), n)
            xs, ys = xj[idx], yj[idx]
            loss = None
            for i in range(0, n, batch_size):
                loss = train_step(model, opt, xs[i : i + batch_size], ys[i : i + batch_size])
            float(loss)  # the epoch's result on the host, as fit reports it
            times.append(time.perf_counter() - t0)
        return times

    return run


def plain_jax_runner(make, x, y, loss_fn, batch_size, tx):
    """The faster hand-written loop: ``jax.jit`` of a pure step on ``nnx.split`` state."""
    model = make()
    opt = nnx.Optimizer(model, tx, wrt=nnx.Param)
    graphdef, state = nnx.split((model, opt))

    @jax.jit
    def train_step(state, xb, yb):
        m, o = nnx.merge(graphdef, state)
        loss, grads = nnx.value_and_grad(lambda mm: loss_fn(mm(xb), yb))(m)
        o.update(m, grads)
        return nnx.state((m, o)), loss

    xj, yj = jnp.asarray(x), jnp.asarray(y)
    n = len(x)
    key = jax.random.PRNGKey(0)
    box = [state]

    def run(epochs):
        times = []
        for ep in range(epochs):
            t0 = time.perf_counter()
            idx = jax.random.permutation(jax.random.fold_in(key, ep), n)
            xs, ys = xj[idx], yj[idx]
            loss = None
            for i in range(0, n, batch_size):
                box[0], loss = train_step(box[0], xs[i : i + batch_size], ys[i : i + batch_size])
            float(loss)
            times.append(time.perf_counter() - t0)
        return times

    return run


def fit_runner(make, x, y, loss_fn, batch_size, tx, execution):
    model = make()
    opt = nnx.Optimizer(model, tx, wrt=nnx.Param)

    def run(epochs):
        h = train.fit(
            model, opt, (x, y), loss=loss_fn, epochs=epochs, batch_size=batch_size,
            progress=False, execution=execution, callbacks=[train.TimeLogger()],
        )  # fmt: skip
        return h["epoch_seconds"]

    return run


def compile_seconds(make, x, y, loss_fn, batch_size, tx):
    """``lower().compile()`` of the plain step and of fit's guarded step, fresh each."""
    from jaxloss.train import _fit, _step

    model = make()
    opt = nnx.Optimizer(model, tx, wrt=nnx.Param)
    graphdef, state = nnx.split((model, opt))
    xb, yb = jnp.asarray(x[:batch_size]), jnp.asarray(y[:batch_size])

    def plain(state, xb, yb):
        m, o = nnx.merge(graphdef, state)
        loss, grads = nnx.value_and_grad(lambda mm: loss_fn(mm(xb), yb))(m)
        o.update(m, grads)
        return nnx.state((m, o)), loss

    t0 = time.perf_counter()
    jax.jit(plain).lower(state, xb, yb).compile()
    t_plain = time.perf_counter() - t0
    obj = _step.Objective(loss_fn)
    leaves, treedef = jax.tree_util.tree_flatten(state)
    _fit._CACHE.clear()
    step = _fit._leaf_step("slice", graphdef, treedef, obj, ())
    acc = _step.empty_acc(["loss"])
    t0 = time.perf_counter()
    step.lower(leaves, acc, jnp.asarray(x), jnp.asarray(y), None, 0, batch_size).compile()
    t_fit = time.perf_counter() - t0
    return t_plain, t_fit


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--epochs", type=int, default=7, help="timed epochs per runner (median)")
    p.add_argument("--rounds", type=int, default=2, help="interleaved blocks of epochs")
    p.add_argument("--compile-reps", type=int, default=3)
    p.add_argument(
        "--compile-only", action="store_true", help="only the step compile times (no epochs)"
    )
    p.add_argument("--only", default=None, help="substring of a workload name")
    p.add_argument("--json", default=None)
    args = p.parse_args(argv)
    if min(args.epochs, args.compile_reps, args.rounds) < 1:
        p.error("--epochs, --rounds and --compile-reps must be >= 1")
    tx = optax.sgd(0.01, momentum=0.9)
    rows = []
    print(
        f"jax {jax.__version__} on {jax.devices()[0].platform}, {os.cpu_count()} CPUs", flush=True
    )
    for name, make, x, y, loss_fn in workloads():
        if args.only and args.only not in name:
            continue
        bs = 32
        if args.compile_only:
            comp = [compile_seconds(make, x, y, loss_fn, bs, tx) for _ in range(args.compile_reps)]
            c_plain = statistics.median(c[0] for c in comp)
            c_fit = statistics.median(c[1] for c in comp)
            ratio = statistics.median(c[1] / c[0] for c in comp)
            ms = {"plain": 1e3 * c_plain, "fit": 1e3 * c_fit}
            rows.append({"workload": name, "compile_ms": ms, "compile_ratio": c_fit / c_plain})
            rows[-1]["median_pair_ratio"] = ratio
            print(
                f"{name:30} step compile ms plain {1e3 * c_plain:.0f}, fit {1e3 * c_fit:.0f} "
                f"(x{c_fit / c_plain:.2f}; median of per-rep ratios x{ratio:.2f})",
                flush=True,
            )
            continue
        runners = {"plain": plain_runner(make, x, y, loss_fn, bs, tx)}
        runners["plain_jax"] = plain_jax_runner(make, x, y, loss_fn, bs, tx)
        for ex in ("step", "scan", "auto"):
            runners[f"fit/{ex}"] = fit_runner(make, x, y, loss_fn, bs, tx, ex)
        times = {k: [] for k in runners}
        for _ in range(args.rounds):  # interleaved blocks; each block's first epoch is dropped
            for k, r in runners.items():
                times[k].extend(r(args.epochs + 1)[1:])
        med = {k: statistics.median(v) for k, v in times.items()}
        comp = [compile_seconds(make, x, y, loss_fn, bs, tx) for _ in range(args.compile_reps)]
        c_plain = statistics.median(c[0] for c in comp)
        c_fit = statistics.median(c[1] for c in comp)
        row = {
            "workload": name,
            "examples": len(x),
            "batch_size": bs,
            "epoch_ms": {k: 1e3 * v for k, v in med.items()},
            "ratio": {k: med[k] / med["plain"] for k in med if k != "plain"},
            "ratio_vs_plain_jax": {
                k: med[k] / med["plain_jax"] for k in med if k.startswith("fit")
            },
            "compile_ms": {"plain": 1e3 * c_plain, "fit": 1e3 * c_fit},
            "compile_ratio": c_fit / c_plain,
        }
        rows.append(row)
        print(
            f"{name:30} epoch ms: "
            + ", ".join(f"{k} {v:.1f}" for k, v in row["epoch_ms"].items())
            + " | fit/plain: "
            + ", ".join(f"{k} {v:.2f}" for k, v in row["ratio"].items())
            + " | fit/plain_jax: "
            + ", ".join(f"{k[4:]} {v:.2f}" for k, v in row["ratio_vs_plain_jax"].items())
            + f" | step compile ms plain {1e3 * c_plain:.0f}, fit {1e3 * c_fit:.0f} "
            f"(x{row['compile_ratio']:.2f})",
            flush=True,
        )
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(rows, fh, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
