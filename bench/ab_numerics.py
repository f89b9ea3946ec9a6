"""Same-process A/B of the issue-11 numerics fixes: old package (a git-archive copy, importable as
``jaxloss_old``; PYTHONPATH must hold its parent) vs this checkout. Prints per case the temporary
memory of ``jit(value_and_grad)`` and the median over interleaved rounds of old time / new time.

  git archive 5bbe6e0 jaxloss | tar -x -C /tmp/oldpkg
  mv /tmp/oldpkg/jaxloss /tmp/oldpkg/jaxloss_old
  PYTHONPATH=$PWD:/tmp/oldpkg python bench/ab_numerics.py [rounds] [name,substrings]
"""

import sys
import time

import jax
import jax.numpy as jnp
import jaxloss_old as old
import numpy as np

import jaxloss as new

ROUNDS = int(sys.argv[1]) if len(sys.argv) > 1 else 7
k = jax.random.split(jax.random.key(0), 8)
N, C = 2048, 8192
x = jax.random.normal(k[0], (N, C), jnp.float32) * 3
y = jax.random.randint(k[1], (N,), 0, C)
t = jax.nn.softmax(jax.random.normal(k[2], (N, C)))
A = jax.random.normal(k[3], (4096, 256), jnp.float32)
B = jax.random.normal(k[4], (4096, 256), jnp.float32)
Cn = jax.random.normal(k[5], (4096, 256), jnp.float32)
E = jax.random.normal(k[6], (512, 128), jnp.float32)
lab = jnp.arange(512) // 2
tgt = jnp.where(jnp.arange(4096) % 2 == 0, 1, -1)
H = jax.random.normal(k[7], (1024, 256), jnp.float32)
W = jax.random.normal(k[0], (256, 8192), jnp.float32) * 0.05
yl = jax.random.randint(k[1], (1024,), 0, 8192)
X1 = jax.random.normal(k[2], (1 << 20,), jnp.float32) * 4
T1 = (jax.random.uniform(k[3], (1 << 20,)) > 0.5).astype(jnp.float32)

CASES = {
    "sparse_ce plain": (lambda m: lambda a: m.sparse_softmax_cross_entropy(a, y), x),
    "sparse_ce smoothing": (
        lambda m: lambda a: m.sparse_softmax_cross_entropy(a, y, label_smoothing=0.1),
        x,
    ),
    "softmax_ce dense": (lambda m: lambda a: m.softmax_cross_entropy(a, t), x),
    "linear_ce fwd_grad": (lambda m: lambda h: m.linear_cross_entropy(h, W, yl), H),
    # second operands are arguments (a closed-over array is a constant XLA may fold)
    "cosine_distance": (lambda m: lambda a, b: m.cosine_distance(a, b), (A, B)),
    "cosine_embedding": (lambda m: lambda a, b: m.cosine_embedding_loss(a, b, tgt), (A, B)),
    "triplet p=2": (lambda m: lambda a, b, c: m.triplet_margin_loss(a, b, c), (A, B, Cn)),
    "ntxent": (lambda m: lambda e: m.ntxent_loss(e, lab), E),
    "rmse": (lambda m: lambda a, b: m.root_mean_squared_error(a, b), (A, B)),
    "sigmoid_focal g=0.5": (
        lambda m: lambda a, t: m.sigmoid_focal_loss(a, t, gamma=0.5),
        (X1, T1),
    ),
    "sigmoid_focal g=2": (lambda m: lambda a, t: m.sigmoid_focal_loss(a, t), (X1, T1)),
}


def timed(f, a):
    t0 = time.perf_counter()
    jax.block_until_ready(f(*a))
    return time.perf_counter() - t0


ONLY = sys.argv[2].split(",") if len(sys.argv) > 2 else None
for name, (mk, arg) in CASES.items():
    if ONLY and not any(o in name for o in ONLY):
        continue
    arg = arg if isinstance(arg, tuple) else (arg,)
    fo = jax.jit(jax.value_and_grad(mk(old)))
    fn = jax.jit(jax.value_and_grad(mk(new)))
    mem = [f.lower(*arg).compile().memory_analysis().temp_size_in_bytes / 2**20 for f in (fo, fn)]
    vo, vn = fo(*arg)[0], fn(*arg)[0]
    for _ in range(2):
        timed(fo, arg), timed(fn, arg)
    ratios, to_s, tn_s = [], [], []
    for _ in range(ROUNDS):
        to, tn = timed(fo, arg), timed(fn, arg)
        to_s.append(to), tn_s.append(tn), ratios.append(to / tn)
    print(
        f"{name:22s} temp old {mem[0]:7.2f} MiB new {mem[1]:7.2f} MiB | "
        f"old {np.median(to_s) * 1e3:7.2f} ms new {np.median(tn_s) * 1e3:7.2f} ms | "
        f"old/new median {np.median(ratios):.2f} [{min(ratios):.2f}..{max(ratios):.2f}] | "
        f"value rel diff {abs(float(vo) - float(vn)) / max(abs(float(vo)), 1e-30):.1e}",
        flush=True,
    )
