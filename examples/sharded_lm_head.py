"""A language-model head trained with the vocabulary and the batch split over a 2 x 4 CPU mesh.

    python examples/sharded_lm_head.py            # 8 host CPU devices, set up by the script

The output layer ``W [D, V]`` of a small LM head is split over the ``model`` axis (each device
holds V/4 classes) and the tokens over the ``data`` axis. Training uses
``jaxloss.sharding.vocab_parallel_linear_cross_entropy`` inside ``jax.shard_map``; the same model
is trained on one device with the unfused ``jaxloss.sparse_softmax_cross_entropy(h @ W, y)``. The
script prints both loss curves (they agree to float32 rounding) and the per-device temporary
memory of one forward+backward step as the vocabulary is split over 1, 2, 4 and 8 devices.
"""

from __future__ import annotations

import argparse
import os
import sys

if "jax" not in sys.modules:  # must be set before JAX starts
    os.environ["XLA_FLAGS"] = (
        os.environ.get("XLA_FLAGS", "") + " --xla_force_host_platform_device_count=8"
    ).strip()

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import AxisType
from jax.sharding import PartitionSpec as P

import jaxloss
from jaxloss.sharding import vocab_parallel_linear_cross_entropy


def make_data(tokens, hidden, vocab, seed=0):
    """Features of a frozen body and next-token labels drawn from a hidden linear teacher."""
    r = np.random.default_rng(seed)
    h = r.normal(size=(tokens, hidden)).astype(np.float32)
    teacher = r.normal(size=(hidden, vocab)).astype(np.float32) * 0.5
    logits = h @ teacher
    g = r.gumbel(size=logits.shape).astype(np.float32)
    y = np.argmax(logits + g, axis=-1).astype(np.int32)
    return jnp.asarray(h), jnp.asarray(y)


def sharded_loss_fn(mesh, chunk_size):
    def loss(h, w, y):
        fn = jax.shard_map(
            lambda hh, ww, yy: vocab_parallel_linear_cross_entropy(
                hh, ww, yy, axis_name="model", batch_axis_name="data", chunk_size=chunk_size
            ),
            mesh=mesh,
            in_specs=(P("data"), P(None, "model"), P("data")),
            out_specs=P(),
        )
        return fn(h, w, y)

    return loss


def single_loss(h, w, y):
    return jaxloss.sparse_softmax_cross_entropy(h @ w, y)


def train(loss, h, y, w0, steps, lr):
    step = jax.jit(
        lambda w: (lambda v, g: (v, w - lr * g))(*jax.value_and_grad(loss, argnums=1)(h, w, y))
    )
    curve, w = [], w0
    for _ in range(steps):
        v, w = step(w)
        curve.append(float(v))
    return np.asarray(curve)


def temp_bytes(fn, *args):
    compiled = jax.jit(jax.value_and_grad(fn, argnums=1)).lower(*args).compile()
    return compiled.memory_analysis().temp_size_in_bytes


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--tokens", type=int, default=2048)
    p.add_argument("--hidden", type=int, default=64)
    p.add_argument("--vocab", type=int, default=4096)
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--lr", type=float, default=4.0)
    p.add_argument("--chunk-size", type=int, default=256)
    args = p.parse_args(argv)
    if jax.device_count() < 8:
        raise SystemExit("needs 8 devices: run this script directly (it sets XLA_FLAGS itself)")

    h, y = make_data(args.tokens, args.hidden, args.vocab)
    w0 = jnp.zeros((args.hidden, args.vocab), jnp.float32)
    mesh = jax.make_mesh((2, 4), ("data", "model"), axis_types=(AxisType.Auto,) * 2)
    sharded = train(sharded_loss_fn(mesh, args.chunk_size), h, y, w0, args.steps, args.lr)
    single = train(single_loss, h, y, w0, args.steps, args.lr)
    print(f"{'step':>4}  {'2x4 mesh':>10}  {'1 device':>10}")
    for i in range(0, args.steps, max(1, args.steps // 10)):
        print(f"{i:4d}  {sharded[i]:10.6f}  {single[i]:10.6f}")
    diff = float(np.max(np.abs(sharded - single)))
    print(f"max |sharded - single| over {args.steps} steps: {diff:.2e}")

    print(
        f"\nper-device temporary memory of one forward+backward step "
        f"({args.tokens} tokens x {args.hidden} hidden x {args.vocab} vocab, float32):"
    )
    unfused = temp_bytes(single_loss, h, w0, y)
    print(f"  1 device, unfused logits        : {unfused / 2**20:8.2f} MiB")
    rows = []
    for n in (1, 2, 4, 8):
        m = jax.make_mesh(
            (1, n), ("data", "model"), axis_types=(AxisType.Auto,) * 2, devices=jax.devices()[:n]
        )
        b = temp_bytes(sharded_loss_fn(m, args.chunk_size), h, w0, y)
        rows.append((n, b))
        print(f"  vocab over {n} device(s), fused   : {b / 2**20:8.2f} MiB")
    ok = diff < 1e-4 and rows[-1][1] < rows[0][1]
    print(
        "\nloss curves agree and per-device memory drops with the mesh size" if ok else "\nMISMATCH"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
