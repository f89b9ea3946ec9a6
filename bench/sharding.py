"""Sharded cross-entropy overhead and per-device memory on 8 host CPU devices.

    python bench/sharding.py [--quick] [--json PATH]

Compares, in one process, forward+backward of

* ``sharded_cross_entropy`` (vocabulary over ``model``, batch over ``data``) against the
  single-device ``jaxloss.sparse_softmax_cross_entropy`` on the same logits, and
* ``vocab_parallel_linear_cross_entropy`` against the single-device fused
  ``jaxloss.linear_cross_entropy`` (when present) and the unfused ``h @ W`` loss,

reporting median times of interleaved runs and the per-device temporary memory from
``compiled.memory_analysis()``. The 8 host devices share this machine's cores, so this measures
the overhead of the sharded program, not a speed-up.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

if "jax" not in sys.modules:
    os.environ["XLA_FLAGS"] = (
        os.environ.get("XLA_FLAGS", "") + " --xla_force_host_platform_device_count=8"
    ).strip()

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import AxisType
from jax.sharding import PartitionSpec as P

import jaxloss
from jaxloss.sharding import sharded_cross_entropy, vocab_parallel_linear_cross_entropy


def _mesh(shape):
    n = shape[0] * shape[1]
    return jax.make_mesh(
        shape, ("data", "model"), axis_types=(AxisType.Auto,) * 2, devices=jax.devices()[:n]
    )


def _compile(fn, *args):
    t0 = time.perf_counter()
    c = jax.jit(fn).lower(*args).compile()
    return c, time.perf_counter() - t0


def _time_interleaved(compiled: dict, args: dict, repeats: int) -> dict:
    for name, c in compiled.items():  # warm-up
        jax.block_until_ready(c(*args[name]))
    times = {k: [] for k in compiled}
    for _ in range(repeats):
        for name, c in compiled.items():
            t0 = time.perf_counter()
            jax.block_until_ready(c(*args[name]))
            times[name].append(time.perf_counter() - t0)
    return {k: float(np.median(v)) for k, v in times.items()}


def bench_logits(tokens, vocab, repeats):
    r = np.random.default_rng(0)
    x = jnp.asarray(r.normal(size=(tokens, vocab)), jnp.float32)
    y = jnp.asarray(r.integers(0, vocab, size=tokens))
    single = lambda xx: jaxloss.sparse_softmax_cross_entropy(xx, y)
    fns = {"1 device": single}
    for shape in ((1, 8), (2, 4)):
        mesh = _mesh(shape)
        fns[f"{shape[0]}x{shape[1]} mesh"] = (
            lambda m: (
                lambda xx: sharded_cross_entropy(
                    xx, y, mesh=m, vocab_axis="model", batch_axis="data"
                )
            )
        )(mesh)
    compiled, rows = {}, {}
    for name, f in fns.items():
        c, ct = _compile(jax.value_and_grad(f), x)
        compiled[name] = c
        rows[name] = {
            "compile_s": ct,
            "temp_bytes_per_device": c.memory_analysis().temp_size_in_bytes,
        }
    t = _time_interleaved(compiled, {k: (x,) for k in compiled}, repeats)
    for k in rows:
        rows[k]["time_s"] = t[k]
        rows[k]["ratio_vs_1_device"] = t[k] / t["1 device"]
    return rows


def bench_linear(tokens, hidden, vocab, repeats):
    r = np.random.default_rng(1)
    h = jnp.asarray(r.normal(size=(tokens, hidden)), jnp.float32)
    w = jnp.asarray(r.normal(size=(hidden, vocab)) / np.sqrt(hidden), jnp.float32)
    y = jnp.asarray(r.integers(0, vocab, size=tokens))
    fns = {"1 device, unfused h@W": lambda hh, ww: jaxloss.sparse_softmax_cross_entropy(hh @ ww, y)}
    if hasattr(jaxloss, "linear_cross_entropy"):
        fns["1 device, fused"] = lambda hh, ww: jaxloss.linear_cross_entropy(hh, ww, y)
    for shape in ((1, 8), (2, 4)):
        mesh = _mesh(shape)
        fns[f"{shape[0]}x{shape[1]} mesh, fused"] = (
            lambda m: (
                lambda hh, ww: jax.shard_map(
                    lambda a, b, c: vocab_parallel_linear_cross_entropy(
                        a, b, c, axis_name="model", batch_axis_name="data", chunk_size=1024
                    ),
                    mesh=m,
                    in_specs=(P("data"), P(None, "model"), P("data")),
                    out_specs=P(),
                )(hh, ww, y)
            )
        )(mesh)
    compiled, rows = {}, {}
    for name, f in fns.items():
        c, ct = _compile(jax.value_and_grad(f, argnums=(0, 1)), h, w)
        compiled[name] = c
        rows[name] = {
            "compile_s": ct,
            "temp_bytes_per_device": c.memory_analysis().temp_size_in_bytes,
        }
    t = _time_interleaved(compiled, {k: (h, w) for k in compiled}, repeats)
    base = "1 device, fused" if "1 device, fused" in t else "1 device, unfused h@W"
    for k in rows:
        rows[k]["time_s"] = t[k]
        rows[k]["ratio_vs_single_fused"] = t[k] / t[base]
    return rows


def _print(title, rows, ratio_key):
    print(f"\n{title}")
    print(
        f"  {'program':<24} {'time (ms)':>10} {'ratio':>7} "
        f"{'temp MiB/device':>16} {'compile s':>10}"
    )
    for k, v in rows.items():
        print(
            f"  {k:<24} {v['time_s'] * 1e3:10.1f} {v[ratio_key]:7.2f} "
            f"{v['temp_bytes_per_device'] / 2**20:16.2f} {v['compile_s']:10.2f}"
        )


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true", help="small shapes (seconds)")
    p.add_argument("--repeats", type=int, default=7)
    p.add_argument("--json", default=None)
    a = p.parse_args(argv)
    if jax.device_count() < 8:
        raise SystemExit("needs 8 host devices; run this file directly")
    tokens, vocab, hidden = (512, 4096, 64) if a.quick else (4096, 32768, 128)
    print(
        f"device: {jax.devices()[0].device_kind} x{jax.device_count()} (host devices share "
        f"{os.cpu_count()} cores); jax {jax.__version__}; float32; median of {a.repeats}"
    )
    logits = bench_logits(tokens, vocab, a.repeats)
    _print(f"sparse cross-entropy fwd+bwd, {tokens} x {vocab}", logits, "ratio_vs_1_device")
    linear = bench_linear(tokens, hidden, vocab, a.repeats)
    _print(
        f"linear cross-entropy fwd+bwd, {tokens} x {hidden} x {vocab}",
        linear,
        "ratio_vs_single_fused",
    )
    if a.json:
        with open(a.json, "w") as f:
            json.dump(
                {
                    "jax": jax.__version__,
                    "tokens": tokens,
                    "vocab": vocab,
                    "hidden": hidden,
                    "logits": logits,
                    "linear": linear,
                },
                f,
                indent=2,
            )


if __name__ == "__main__":
    main()
