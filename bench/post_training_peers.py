"""Fused jaxloss losses against peer implementations: PyTorch's ``linear_cross_entropy`` and TRL.

    PYTHONPATH=$PWD python bench/post_training_peers.py [--size N D V] [--reps 5]
        [--trl-site DIR] [--kd-size N D V] [--no-ce]

Cross-entropy (``--size``, default 4096 × 512 × 32768, float32), value and gradient w.r.t.
(hidden, weight), all in one process, ``--reps`` interleaved runs after one warm-up each:

* ``jaxloss.linear_cross_entropy``: ``jit(value_and_grad)``, compiled once;
* ``torch.nn.functional.linear_cross_entropy``, eager CPU: reference path (``options=None``) and
  chunked path (``options=LinearCrossEntropyOptions()``, its defaults: for float32 on CPU
  ``acc_policy="compact"``, chunk rows from ``chunking_method="aspect_ratio:2"``; and
  ``LinearCrossEntropyOptions(batch_chunk_size=128)``, jaxloss' default chunk), if present;
* unfused torch: ``F.cross_entropy(F.linear(h, w), y)``.

``torch.set_num_threads(2)`` (the machine's 2 cores; XLA uses its own pool of the same size).
Memory: jaxloss' ``compile().memory_analysis().temp_size_in_bytes``, and for every variant (jaxloss
included) the peak-RSS growth of one value+grad call in a fresh subprocess: the kernel's
high-water mark ``VmHWM`` (reset through ``/proc/self/clear_refs`` after one warm-up call) minus the
RSS before the measured call; it includes the gradients themselves
(N·D + V·D floats). (``ru_maxrss`` would not do: Linux carries it across fork + exec.)

TRL (``--trl-site``: a ``site-packages`` directory holding ``trl``, appended to ``sys.path`` so that
this process's torch is used; skipped when ``trl`` does not import): value agreement of
``jaxloss.distillation_loss`` with ``GKDTrainer.generalized_jsd_loss`` on random float64 logits for
β ∈ {0, 0.5, 1} and τ ∈ {1, 2} (with and without ``-100`` labels), and time of value + gradient
w.r.t. the student (hidden, weight) at ``--kd-size`` (default 2048 × 256 × 16384, float32, β 0.5,
τ 1, no labels): TRL (``F.linear`` heads + ``generalized_jsd_loss``, eager) against
``jaxloss.linear_distillation_loss`` (fused) and ``jaxloss.distillation_loss`` on ``h @ w``
(unfused), interleaved.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

import numpy as np

THREADS = 2
CHUNK = 128  # jaxloss' DEFAULT_CHUNK_SIZE, for a torch chunked run at the same chunk size


def _torch():
    import torch

    torch.set_num_threads(THREADS)
    return torch


def _ce_data(n, d, v, seed=0):
    rng = np.random.default_rng(seed)
    h = rng.standard_normal((n, d), dtype=np.float32)
    w = (rng.standard_normal((d, v), dtype=np.float32) * d**-0.5).astype(np.float32)
    y = rng.integers(0, v, size=(n,)).astype(np.int32)
    return h, w, y


# ----------------------------------------------------------------------------- cross-entropy


def _ce_variants(torch_available=True):
    names = ["jaxloss fused (jit)"]
    if torch_available:
        torch = _torch()
        F = torch.nn.functional
        if hasattr(F, "linear_cross_entropy"):
            names.append("torch linear_cross_entropy (options=None)")
            if hasattr(torch.nn, "LinearCrossEntropyOptions"):
                names.append("torch linear_cross_entropy (chunked, default options)")
                names.append(f"torch linear_cross_entropy (chunked, batch_chunk_size={CHUNK})")
        names.append("torch unfused (linear + cross_entropy)")
    return names


def _make_ce(name, h, w, y):
    """A zero-argument callable running value + grad (hidden, weight) once, blocking."""
    if name.startswith("jaxloss"):
        import jax

        import jaxloss

        fn = jax.jit(jax.value_and_grad(jaxloss.linear_cross_entropy, argnums=(0, 1)))
        args = (jax.device_put(h), jax.device_put(w), jax.device_put(y))
        compiled = fn.lower(*args).compile()
        return lambda: jax.block_until_ready(compiled(*args)), compiled

    torch = _torch()
    F = torch.nn.functional
    th = torch.from_numpy(h).requires_grad_(True)
    tw = torch.from_numpy(np.ascontiguousarray(w.T)).requires_grad_(True)  # [V, D]
    ty = torch.from_numpy(y.astype(np.int64))
    if "unfused" in name:

        def loss():
            return F.cross_entropy(F.linear(th, tw), ty)
    else:
        opts = None
        if "default options" in name:
            opts = torch.nn.LinearCrossEntropyOptions()
        elif "batch_chunk_size" in name:
            opts = torch.nn.LinearCrossEntropyOptions(batch_chunk_size=CHUNK)

        def loss():
            return F.linear_cross_entropy(th, tw, ty, options=opts)

    def run():
        value = loss()
        return value.detach(), torch.autograd.grad(value, (th, tw))

    return run, None


def _vm(key):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1]) / 1024  # KiB -> MiB
    raise RuntimeError(f"{key} not in /proc/self/status")


def _rss_worker(name, n, d, v):
    """Runs in a fresh subprocess: peak-RSS growth of one value+grad call.

    Peak RSS is the kernel's high-water mark ``VmHWM``, reset to the current RSS
    (``/proc/self/clear_refs``) after a warm-up call, just before the measured call. Not
    ``getrusage().ru_maxrss``: Linux keeps that across ``fork`` + ``exec``, so a child starts at
    its parent's peak and hides a smaller growth.
    """
    if not name.startswith("jaxloss"):
        _torch()
    h, w, y = _ce_data(n, d, v)
    run, _ = _make_ce(name, h, w, y)
    run()  # warm-up: one-time allocations and lazily loaded code are not counted
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")  # reset VmHWM to the current RSS
    before = _vm("VmRSS")
    run()
    print(json.dumps({"before": before, "growth": _vm("VmHWM") - before}))


def _rss_growth(name, n, d, v):
    cmd = [sys.executable, __file__, "--rss-worker", name, "--size", str(n), str(d), str(v)]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True, env=os.environ.copy())
    return json.loads(out.stdout.strip().splitlines()[-1])


def _fmt_runs(ts):
    return " ".join(f"{t:.2f}" for t in ts)


def _warm_and_time(runs, reps):
    """``(values, times)``: each run's loss value from one warm-up call (the agreement of the
    values at this size), then ``reps`` rounds of wall times, the runs interleaved."""
    values = {k: float(np.asarray(run()[0])) for k, run in runs.items()}
    times = {k: [] for k in runs}
    for _ in range(reps):
        for k, run in runs.items():
            t = time.perf_counter()
            run()
            times[k].append(time.perf_counter() - t)
    return values, times


def ce_section(n, d, v, reps):
    names = _ce_variants()
    h, w, y = _ce_data(n, d, v)
    runs, temp = {}, None
    for name in names:
        runs[name], compiled = _make_ce(name, h, w, y)
        if compiled is not None:
            temp = compiled.memory_analysis().temp_size_in_bytes / 2**20
    values, times = _warm_and_time(runs, reps)  # float32 values from the warm-up calls
    ref = np.median(times[names[0]])
    out = [
        f"### Cross-entropy, {n} × {d} × {v}, float32, value + grad (hidden, weight)\n",
        f"Median of {reps} interleaved runs after one warm-up each; torch {THREADS} threads.\n",
        "| variant | median (s) | ÷ jaxloss | runs (s) | loss value |",
        "|---|---|---|---|---|",
    ]
    for k in names:
        m = np.median(times[k])
        out.append(f"| {k} | {m:.2f} | {m / ref:.2f}× | {_fmt_runs(times[k])} | {values[k]:.6f} |")
    out += [
        "",
        "Memory (MiB): jaxloss `temp_size_in_bytes` = "
        f"{temp:.1f}. Peak-RSS growth of one value+grad call in a fresh subprocess "
        f"(gradients included: {(n * d + v * d) * 4 / 2**20:.0f} MiB):\n",
        "| variant | RSS before the call | peak-RSS growth |",
        "|---|---|---|",
    ]
    for k in names:
        r = _rss_growth(k, n, d, v)
        out.append(f"| {k} | {r['before']:.0f} | {r['growth']:.0f} |")
    return "\n".join(out)


# ----------------------------------------------------------------------------- TRL / GKD


def _import_trl(site):
    if site:
        sys.path.append(site)
    import importlib

    err = "no module"
    # TRL 1.x keeps GKD under trl.experimental; older releases under trl.trainer
    for module in ("trl.experimental.gkd.gkd_trainer", "trl.trainer.gkd_trainer"):
        try:
            gkd = importlib.import_module(module)
        except Exception as e:  # noqa: BLE001 - any import failure means "skip"
            err = f"{type(e).__name__}: {e}"
            continue
        import trl

        return gkd.GKDTrainer.generalized_jsd_loss, f"{trl.__version__} ({module})"
    return None, err


def trl_values(gjsd):
    import jax
    import jax.numpy as jnp

    import jaxloss

    torch = _torch()
    rng = np.random.default_rng(3)
    n, v = 64, 1000
    s = rng.standard_normal((n, v)) * 2.0
    t = rng.standard_normal((n, v)) * 2.0
    labels = rng.integers(0, v, size=(n,))
    labels[rng.random(n) < 0.25] = -100
    out = [
        f"### Value agreement with TRL `generalized_jsd_loss`, {n} × {v} random float64 logits\n",
        "| β | τ | labels | jaxloss | TRL | relative difference |",
        "|---|---|---|---|---|---|",
    ]
    worst = 0.0
    for beta in (0.0, 0.5, 1.0):
        for tau in (1.0, 2.0):
            for with_labels in (False, True):
                kw = {"labels": labels, "ignore_index": -100} if with_labels else {}
                with jax.enable_x64(True):
                    ours = float(
                        jaxloss.distillation_loss(
                            jnp.asarray(s), jnp.asarray(t), beta=beta, temperature=tau, **kw
                        )
                    )
                theirs = float(
                    gjsd(
                        torch.from_numpy(s),
                        torch.from_numpy(t),
                        labels=torch.from_numpy(labels) if with_labels else None,
                        beta=beta,
                        temperature=tau,
                    )
                )
                rel = abs(ours - theirs) / abs(theirs)
                worst = max(worst, rel)
                lab = "−100 on 25 %" if with_labels else "none"
                out.append(f"| {beta} | {tau} | {lab} | {ours:.12g} | {theirs:.12g} | {rel:.1e} |")
    out.append(f"\nMax relative difference: {worst:.1e}.")
    return "\n".join(out)


def trl_time(gjsd, n, d, v, reps):
    import jax

    import jaxloss

    torch = _torch()
    F = torch.nn.functional
    rng = np.random.default_rng(4)
    hs, ws, ht, wt = (
        rng.standard_normal(shape, dtype=np.float32) * scale
        for shape, scale in (((n, d), 1.0), ((d, v), d**-0.5), ((n, d), 1.0), ((d, v), d**-0.5))
    )
    ws, wt = ws.astype(np.float32), wt.astype(np.float32)

    def fused(hs, ws, ht, wt):
        return jaxloss.linear_distillation_loss(hs, ws, ht, wt, beta=0.5)

    def unfused(hs, ws, ht, wt):
        return jaxloss.distillation_loss(hs @ ws, ht @ wt, beta=0.5)

    args = tuple(jax.device_put(a) for a in (hs, ws, ht, wt))
    runs, temps = {}, {}
    for name, f in (("jaxloss fused (jit)", fused), ("jaxloss unfused (jit)", unfused)):
        c = jax.jit(jax.value_and_grad(f, argnums=(0, 1))).lower(*args).compile()
        temps[name] = c.memory_analysis().temp_size_in_bytes / 2**20
        runs[name] = lambda c=c: jax.block_until_ready(c(*args))

    ths = torch.from_numpy(hs).requires_grad_(True)
    tws = torch.from_numpy(np.ascontiguousarray(ws.T)).requires_grad_(True)
    tht = torch.from_numpy(ht)
    twt = torch.from_numpy(np.ascontiguousarray(wt.T))

    def trl_run():
        with torch.no_grad():
            teacher = F.linear(tht, twt)
        value = gjsd(F.linear(ths, tws), teacher, beta=0.5)
        return value.detach(), torch.autograd.grad(value, (ths, tws))

    runs["TRL generalized_jsd_loss (torch eager)"] = trl_run
    values, times = _warm_and_time(runs, reps)
    ref = np.median(times["jaxloss fused (jit)"])
    out = [
        f"### GKD distillation, {n} × {d} × {v}, float32, β 0.5, τ 1, value + grad (student)\n",
        f"Median of {reps} interleaved runs after one warm-up each; torch {THREADS} threads.\n",
        "| variant | median (s) | ÷ fused | runs (s) | loss value | temp (MiB) |",
        "|---|---|---|---|---|---|",
    ]
    for k in runs:
        m = np.median(times[k])
        tmp = f"{temps[k]:.1f}" if k in temps else "—"
        out.append(
            f"| {k} | {m:.2f} | {m / ref:.2f}× | {_fmt_runs(times[k])} | {values[k]:.6f} | {tmp} |"
        )
    return "\n".join(out)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--size", nargs=3, type=int, default=(4096, 512, 32768))
    p.add_argument("--reps", type=int, default=5)
    p.add_argument("--no-ce", action="store_true", help="skip the cross-entropy section")
    p.add_argument("--trl-site", default=None, help="site-packages directory holding trl")
    p.add_argument("--trl", action="store_true", help="run the TRL section (trl importable)")
    p.add_argument("--kd-size", nargs=3, type=int, default=(2048, 256, 16384))
    p.add_argument("--rss-worker", default=None, help=argparse.SUPPRESS)
    a = p.parse_args()
    if a.rss_worker:
        _rss_worker(a.rss_worker, *a.size)
        return
    if not a.no_ce:
        print(ce_section(*a.size, a.reps), flush=True)
        print()
    if a.trl or a.trl_site:
        gjsd, version = _import_trl(a.trl_site)
        if gjsd is None:
            print(f"TRL section skipped: trl does not import ({version}).")
            return
        print(f"TRL {version}\n", flush=True)
        print(trl_values(gjsd), flush=True)
        print()
        print(trl_time(gjsd, *a.kd_size, a.reps), flush=True)
    else:
        print("TRL section skipped (pass --trl or --trl-site DIR).")


if __name__ == "__main__":
    main()
