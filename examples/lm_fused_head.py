"""A small word-level language model trained with a fused LM head through ``jaxloss.train.fit``.

The text is the Python standard library's own source files (always on the machine). Words and
punctuation become tokens; the ``vocab - 1`` most frequent are kept, the rest map to ``<unk>``.
The model embeds the previous ``--context`` tokens, mixes them with one dense layer, and predicts
the next token. Two models share the same parameters:

* **fused**: ``model(tokens)`` returns the hidden state; ``fit(..., loss="linear_cross_entropy",
  head="head")`` computes the cross-entropy of ``hidden @ head.kernel + head.bias`` chunk by
  chunk, never holding the ``[tokens, vocab]`` logits or their gradient;
* **unfused**: ``model(tokens)`` returns the logits and the loss is
  ``sparse_softmax_cross_entropy``.

The script trains the fused model for a few epochs (loss and token accuracy per epoch), then
compares one training step of each at the given vocabulary sizes: median step time and the
temporary memory XLA allocates for the compiled step (``memory_analysis().temp_size_in_bytes``).

    python examples/lm_fused_head.py                 # vocabularies 8192 and 32768
    python examples/lm_fused_head.py --smoke         # seconds: tiny vocabulary and model
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from jaxloss import train

_HERE = os.path.dirname(os.path.abspath(__file__))
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)  # the shared corpus / model module next to this script
from _tiny_lm import encode, fit_lm, make, stdlib_tokens, windows  # noqa: E402


def compare_step(vocab, dim, context, tokens, reps):
    """Median step time (ms) and temporary memory (MiB) of the fused and unfused training step."""
    r = np.random.default_rng(0)
    x = jnp.asarray(r.integers(0, vocab, size=(tokens, context)), jnp.int32)
    y = jnp.asarray(r.integers(0, vocab, size=(tokens,)), jnp.int32)
    out = {}
    for fused in (True, False):
        model, opt = make(vocab, dim, context, fused, 1e-3)
        graphdef, state = nnx.split((model, opt))
        if fused:
            step = train.make_pure_step(graphdef, "linear_cross_entropy", head="head")
        else:
            step = train.make_pure_step(graphdef, "sparse_softmax_cross_entropy")
        compiled = jax.jit(step).lower(state, (x, y)).compile()
        mem = compiled.memory_analysis()
        temp = getattr(mem, "temp_size_in_bytes", float("nan")) if mem is not None else np.nan
        s, logs = compiled(state, (x, y))
        jax.block_until_ready(logs)
        times = []
        for _ in range(reps):
            t0 = time.perf_counter()
            s, logs = compiled(s, (x, y))
            jax.block_until_ready(logs)
            times.append(time.perf_counter() - t0)
        out["fused" if fused else "unfused"] = {
            "step_ms": 1e3 * statistics.median(times),
            "temp_mib": temp / 2**20,
            "loss": float(logs["loss"]),
        }
    return out


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--smoke", action="store_true", help="tiny settings (runs in seconds)")
    p.add_argument("--vocab", type=int, default=8192, help="vocabulary of the training run")
    p.add_argument("--compare-vocabs", default="8192,32768", help="vocabularies of the comparison")
    p.add_argument("--dim", type=int, default=64)
    p.add_argument("--context", type=int, default=4)
    p.add_argument("--text-tokens", type=int, default=200_000)
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--batch-size", type=int, default=256)
    p.add_argument("--step-tokens", type=int, default=1024, help="tokens per compared step")
    p.add_argument("--reps", type=int, default=5)
    args = p.parse_args(argv)
    if args.smoke:
        args.vocab, args.compare_vocabs, args.dim = 512, "512", 16
        args.text_tokens, args.epochs, args.batch_size = 6000, 2, 256
        args.step_tokens, args.reps = 256, 2
    try:
        vocabs = [int(v) for v in args.compare_vocabs.split(",") if v.strip()]
    except ValueError:
        p.error(f"--compare-vocabs must be comma-separated integers, got {args.compare_vocabs!r}")
    for name in ("vocab", "dim", "context", "text_tokens", "epochs", "batch_size", "step_tokens"):
        if getattr(args, name) < 1:
            p.error(f"--{name.replace('_', '-')} must be >= 1")
    if args.reps < 1 or any(v < 2 for v in vocabs):
        p.error("--reps must be >= 1 and vocabularies >= 2")

    ids = encode(stdlib_tokens(args.text_tokens), args.vocab)
    x, y = windows(ids, args.context)
    split = int(0.9 * len(x))
    print(
        f"jax {jax.__version__} on {jax.devices()[0].platform}: {len(ids)} tokens of stdlib "
        f"source, vocab {args.vocab}, {split} training windows",
        flush=True,
    )
    model, opt = make(args.vocab, args.dim, args.context, True, 3e-3)
    fit_lm(model, opt, x, y, split=split, epochs=args.epochs, batch_size=args.batch_size)
    print(
        f"\none training step, {args.step_tokens} tokens, hidden {args.dim}",
        f"(median of {args.reps}):",
    )
    print("| vocab | fused ms | unfused ms | fused temp MiB | unfused temp MiB |")
    print("|---|---|---|---|---|")
    rows = []
    for v in vocabs:
        c = compare_step(v, args.dim, args.context, args.step_tokens, args.reps)
        rows.append((v, c))
        f, u = c["fused"], c["unfused"]
        print(
            f"| {v} | {f['step_ms']:.1f} | {u['step_ms']:.1f} | {f['temp_mib']:.1f} | "
            f"{u['temp_mib']:.1f} |",
            flush=True,
        )
        np.testing.assert_allclose(f["loss"], u["loss"], rtol=2e-3)  # same model, same loss
    return 0


if __name__ == "__main__":
    sys.exit(main())
