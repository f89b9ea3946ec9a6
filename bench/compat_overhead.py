"""What the compat skins cost: ``jaxloss.compat.optax`` (and Keras' dice / tversky) vs the
canonical loss each wraps.

For each pair, ``jax.jit(jax.value_and_grad(sum ∘ loss))`` is compiled for the same inputs; the
table reports the compiled HLO text size (``compiled.as_text()``) of the compat function over the
canonical one, and the median time of interleaved runs (compat, canonical, compat, ...) in this
process. The skin only converts conventions (argument order, defaults, unreduced output), so
both ratios should be 1 (HLO ±10%, time within noise).

Run from the repository root::

    python -m bench.compat_overhead            # default sizes
    python -m bench.compat_overhead --smoke    # tiny, seconds
"""

from __future__ import annotations

import argparse
import statistics
import time

import jax
import jax.numpy as jnp
import numpy as np

import jaxloss
from jaxloss.compat import keras as jk
from jaxloss.compat import optax as jo


def _sum(f):
    return lambda *a: jnp.sum(f(*a))


def cases(n: int, c: int):
    rng = np.random.default_rng(0)
    x = jnp.asarray(rng.normal(size=(n, c)), jnp.float32)
    y = jnp.asarray(rng.integers(0, c, n), jnp.int32)
    t = jax.nn.one_hot(y, c, dtype=jnp.float32)
    b = jnp.asarray(rng.random((n, c)) > 0.5, jnp.float32)
    p = jnp.asarray(rng.normal(size=(n, c)), jnp.float32)
    none = dict(reduction="none")
    # segmentation: [n/4, 4, c] logits / one-hot targets (classes last, one spatial axis)
    seg_x, seg_t = x.reshape(n // 4, 4, c), t.reshape(n // 4, 4, c)
    seg_p = jax.nn.sigmoid(seg_x)
    seg_b = jnp.asarray(rng.random((n // 4, 4, c)) > 0.5, jnp.float32)
    # CTC: [B, 16, c] logits, 4 labels per sequence (one padded), the last frame of row 0 padded
    b_ctc = max(n // 64, 2)
    ctc_x = jnp.asarray(rng.normal(size=(b_ctc, 16, c)), jnp.float32)
    ctc_xp = jnp.zeros((b_ctc, 16), jnp.float32).at[0, -1].set(1.0)
    ctc_l = jnp.asarray(rng.integers(1, c, (b_ctc, 4)), jnp.int32)
    ctc_lp = jnp.zeros((b_ctc, 4), jnp.float32).at[:, -1].set(1.0)
    mask = jnp.asarray(rng.random((n, c)) > 0.2)
    seg = dict(activation="softmax", axis=(1,), **none)
    return [
        (
            "softmax_cross_entropy",
            jo.softmax_cross_entropy,
            lambda a, b_: jaxloss.softmax_cross_entropy(a, b_, **none),
            (x, t),
        ),
        (
            "softmax_cross_entropy_with_integer_labels",
            jo.softmax_cross_entropy_with_integer_labels,
            lambda a, b_: jaxloss.sparse_softmax_cross_entropy(a, b_, **none),
            (x, y),
        ),
        (
            "sigmoid_binary_cross_entropy",
            jo.sigmoid_binary_cross_entropy,
            lambda a, b_: jaxloss.sigmoid_binary_cross_entropy(a, b_, **none),
            (x, b),
        ),
        (
            "sigmoid_focal_loss",
            jo.sigmoid_focal_loss,
            lambda a, b_: jaxloss.sigmoid_focal_loss(a, b_, alpha=None, **none),
            (x, b),
        ),
        (
            "poly_loss_cross_entropy",
            jo.poly_loss_cross_entropy,
            lambda a, b_: jaxloss.poly1_cross_entropy(a, b_, epsilon=2.0, **none),
            (x, t),
        ),
        (
            "huber_loss",
            jo.huber_loss,
            lambda a, b_: jaxloss.huber_loss(a, b_, **none),
            (x, p),
        ),
        (
            "cosine_distance",
            jo.cosine_distance,
            lambda a, b_: jaxloss.cosine_distance(a, b_, epsilon=0.0, **none),
            (x, p),
        ),
        (
            "multiclass_sparsemax_loss",
            jo.multiclass_sparsemax_loss,
            lambda a, b_: jaxloss.multiclass_sparsemax_loss(a, b_, **none),
            (x, y),
        ),
        (
            "l2_loss",
            jo.l2_loss,
            lambda a, b_: jaxloss.mean_squared_error(a, b_, weights=0.5, **none),
            (x, p),
        ),
        (
            "dice_loss",
            jo.dice_loss,
            lambda a, b_: jnp.mean(jaxloss.tversky_loss(a, b_, **seg), axis=-1),
            (seg_x, seg_t),
        ),
        (
            "multiclass_generalized_dice_loss",
            jo.multiclass_generalized_dice_loss,
            lambda a, b_: jnp.mean(
                jaxloss.tversky_loss(a, b_, class_weighting="inverse_square_frequency", **seg)
            ),
            (seg_x, seg_t),
        ),
        (
            "ctc_loss",
            jo.ctc_loss,
            lambda *a: jaxloss.ctc_loss(*a, log_epsilon=-1e5, **none),
            (ctc_x, ctc_xp, ctc_l, ctc_lp),
        ),
        (
            "smooth_labels (where)",
            lambda a, m: jo.smooth_labels(a, 0.1, where=m),
            lambda a, m: jaxloss.smooth_labels(a, 0.1, where=m),
            (t, mask),
        ),
        (
            "keras dice",
            lambda a, b_: jk.dice(b_, a, axis=(1, 2)),
            lambda a, b_: jaxloss.dice_loss(
                a, b_, smooth=1e-7, smooth_numerator=False, axis=(1, 2), **none
            ),
            (seg_p, seg_b),
        ),
        (
            "keras tversky",
            lambda a, b_: jk.tversky(b_, a, alpha=0.3, beta=0.7, axis=(1, 2)),
            lambda a, b_: jaxloss.tversky_loss(
                a, b_, alpha=0.3, beta=0.7, smooth=1e-7, smooth_numerator=False, axis=(1, 2), **none
            ),
            (seg_p, seg_b),
        ),
    ]


def _compile(f, args):
    g = jax.jit(jax.value_and_grad(_sum(f)))
    return g, g.lower(*args).compile()


def _time(g, args, reps: int) -> float:
    jax.block_until_ready(g(*args))
    t0 = time.perf_counter()
    for _ in range(reps):
        out = g(*args)
    jax.block_until_ready(out)
    return (time.perf_counter() - t0) / reps


def run(n: int, c: int, rounds: int, reps: int):
    rows = []
    for name, compat, canonical, args in cases(n, c):
        gc, cc = _compile(compat, args)
        gk, ck = _compile(canonical, args)
        hlo_c, hlo_k = len(cc.as_text()), len(ck.as_text())
        tc, tk = [], []
        for r in range(rounds):  # interleaved, alternating which one goes first
            if r % 2:
                tk.append(_time(gk, args, reps))
                tc.append(_time(gc, args, reps))
            else:
                tc.append(_time(gc, args, reps))
                tk.append(_time(gk, args, reps))
        mc, mk = statistics.median(tc), statistics.median(tk)
        rows.append((name, hlo_c, hlo_k, hlo_c / hlo_k, mc * 1e6, mk * 1e6, mc / mk))
    return rows


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--smoke", action="store_true")
    ap.add_argument("--n", type=int, default=4096)
    ap.add_argument("--c", type=int, default=128)
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--reps", type=int, default=20)
    a = ap.parse_args(argv)
    n, c, rounds, reps = (64, 16, 3, 3) if a.smoke else (a.n, a.c, a.rounds, a.reps)
    rows = run(n, c, rounds, reps)
    print(f"compat vs canonical, value_and_grad, [{n}, {c}] float32, {jax.devices()[0]}")
    head = f"{'loss':44s} {'HLO compat':>10s} {'canonical':>10s} {'ratio':>6s}"
    print(head + f" {'µs compat':>10s} {'canonical':>10s} {'ratio':>6s}")
    for name, hc, hk, hr, tc, tk, tr in rows:
        print(f"{name:44s} {hc:10d} {hk:10d} {hr:6.3f} {tc:10.1f} {tk:10.1f} {tr:6.3f}")
    return rows


if __name__ == "__main__":
    main()
