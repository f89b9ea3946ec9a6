"""Fused vs unfused LM-head post-training losses: temporary memory and time, in one process.

    PYTHONPATH=$PWD python bench/post_training.py [--time N D V] [--reps 5] [--no-time]

For token log-probs (with entropy, random cotangents on both outputs), GKD distillation (β = 0.5,
hard_weight 0.5, teacher of the same width) and cross-entropy, ``jit(value_and_grad)`` w.r.t.
(hidden, weight), float32:

* temporary memory from ``compile().memory_analysis().temp_size_in_bytes`` at 4096 × 512 × 32768
  and (compile only) at 8192 × 4096 × 128256 (Llama-3 vocabulary);
* time: per quantity, median of ``--reps`` interleaved fused / unfused runs (after one warm-up
  call each) at ``--time``, wall and process CPU time.

Fused: ``jaxloss.linear_token_log_probs`` / ``linear_distillation_loss`` / ``linear_cross_entropy``
(default chunk 128). Unfused: the logits-level jaxloss functions on ``hidden @ weight``.
"""

from __future__ import annotations

import argparse
import time

import jax
import jax.numpy as jnp
import numpy as np

import jaxloss


def _problem(n, d, v, concrete):
    if not concrete:
        s = jax.ShapeDtypeStruct
        return (
            s((n, d), jnp.float32),
            s((d, v), jnp.float32),
            s((n, d), jnp.float32),
            s((d, v), jnp.float32),
            s((n,), jnp.int32),
            s((n,), jnp.float32),
        )
    k = jax.random.split(jax.random.key(0), 6)
    return (
        jax.random.normal(k[0], (n, d)),
        jax.random.normal(k[1], (d, v)) * d**-0.5,
        jax.random.normal(k[2], (n, d)),
        jax.random.normal(k[3], (d, v)) * d**-0.5,
        jax.random.randint(k[4], (n,), 0, v),
        jax.random.normal(k[5], (n,)),
    )


def _cases():
    def tlp_fused(h, w, ht, wt, y, ct):
        lp, ent = jaxloss.linear_token_log_probs(h, w, y, return_entropy=True)
        return jnp.sum(ct * lp) + jnp.sum(ct * ent)

    def tlp_unfused(h, w, ht, wt, y, ct):
        lp, ent = jaxloss.token_log_probs(h @ w, y, return_entropy=True)
        return jnp.sum(ct * lp) + jnp.sum(ct * ent)

    def kd_fused(h, w, ht, wt, y, ct):
        return jaxloss.linear_distillation_loss(h, w, ht, wt, y, hard_weight=0.5)

    def kd_unfused(h, w, ht, wt, y, ct):
        zs = h @ w
        soft = jaxloss.distillation_loss(zs, ht @ wt)
        return soft + 0.5 * jaxloss.sparse_softmax_cross_entropy(zs, y)

    def ce_fused(h, w, ht, wt, y, ct):
        return jaxloss.linear_cross_entropy(h, w, y)

    def ce_unfused(h, w, ht, wt, y, ct):
        return jaxloss.sparse_softmax_cross_entropy(h @ w, y)

    return {
        "token_log_probs (+entropy, random cotangent)": (tlp_fused, tlp_unfused),
        "distillation (β 0.5, hard 0.5)": (kd_fused, kd_unfused),
        "cross-entropy": (ce_fused, ce_unfused),
    }


def _vg(f):
    return jax.jit(jax.value_and_grad(f, argnums=(0, 1)))


def memory_table(n, d, v):
    args = _problem(n, d, v, concrete=False)
    rows = []
    for name, (fused, unfused) in _cases().items():
        mib = [
            _vg(f).lower(*args).compile().memory_analysis().temp_size_in_bytes / 2**20
            for f in (fused, unfused)
        ]
        rows.append(f"| {name} | {mib[0]:.1f} | {mib[1]:.1f} | {mib[1] / mib[0]:.1f}× |")
    head = f"Temporary memory, {n} × {d} × {v} (MiB, compile only)\n\n"
    head += "| quantity | fused | unfused | unfused / fused |\n|---|---|---|---|\n"
    return head + "\n".join(rows)


def time_table(n, d, v, reps):
    """Per quantity: one warm-up call of each form, then ``reps`` interleaved fused / unfused runs.

    Each pair is timed on its own (not interleaved with the other quantities): run right after
    the unfused distillation (8.4 GiB of temporaries), the fused cross-entropy measured 1.2× its
    unfused form, and 0.96× when timed on its own (2026-12-07). Wall and process CPU time (both
    cores) are kept: the machine is shared, so the CPU time shows the work when the wall time
    shows the load.
    """
    args = _problem(n, d, v, concrete=True)
    lines = [
        f"Time, {n} × {d} × {v}, median of {reps} interleaved runs (s; wall, and process CPU)\n",
        "| quantity | fused | unfused | fused / unfused | CPU fused / unfused (s) "
        "| runs fused / unfused (wall) |",
        "|---|---|---|---|---|---|",
    ]
    for name, (fused, unfused) in _cases().items():
        fns = {"fused": _vg(fused), "unfused": _vg(unfused)}
        for fn in fns.values():
            jax.block_until_ready(fn(*args))
        wall = {k: [] for k in fns}
        cpu = {k: [] for k in fns}
        for _ in range(reps):
            for k, fn in fns.items():
                t, c = time.perf_counter(), time.process_time()
                jax.block_until_ready(fn(*args))
                wall[k].append(time.perf_counter() - t)
                cpu[k].append(time.process_time() - c)
        del fns
        tf, tu = np.median(wall["fused"]), np.median(wall["unfused"])
        cf, cu = np.median(cpu["fused"]), np.median(cpu["unfused"])
        runs = " ".join(f"{t:.2f}" for t in wall["fused"])
        runs += " / " + " ".join(f"{t:.2f}" for t in wall["unfused"])
        lines.append(
            f"| {name} | {tf:.2f} | {tu:.2f} | {tf / tu:.2f}× | {cf:.2f} / {cu:.2f} "
            f"({cf / cu:.2f}×) | {runs} |"
        )
    return "\n".join(lines)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--time", nargs=3, type=int, default=(4096, 512, 32768))
    p.add_argument("--reps", type=int, default=5)
    p.add_argument("--no-time", action="store_true")
    a = p.parse_args()
    print(memory_table(4096, 512, 32768), flush=True)
    print()
    print(memory_table(8192, 4096, 128256), flush=True)
    if not a.no_time:
        print()
        print(time_table(*a.time, a.reps), flush=True)


if __name__ == "__main__":
    main()
