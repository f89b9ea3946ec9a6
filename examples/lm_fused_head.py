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
import collections
import glob
import os
import re
import statistics
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx

from jaxloss import train

_WORD = re.compile(r"[A-Za-z_]+|\d+|[^\sA-Za-z_\d]")


def stdlib_tokens(max_tokens: int) -> list[str]:
    """Word / punctuation tokens of the standard library's ``.py`` files (sorted, deterministic)."""
    root = os.path.dirname(os.__file__)
    out: list[str] = []
    for path in sorted(glob.glob(os.path.join(root, "*.py"))):
        try:
            with open(path, encoding="utf-8") as fh:
                out.extend(_WORD.findall(fh.read()))
        except (OSError, UnicodeDecodeError):
            continue
        if len(out) >= max_tokens:
            break
    if len(out) < 1000:
        raise RuntimeError(f"lm_fused_head: found only {len(out)} tokens of text under {root}")
    return out[:max_tokens]


def encode(words: list[str], vocab: int) -> np.ndarray:
    counts = collections.Counter(words)
    ids = {w: i + 1 for i, (w, _) in enumerate(counts.most_common(vocab - 1))}  # 0 = <unk>
    return np.asarray([ids.get(w, 0) for w in words], np.int32)


def windows(ids: np.ndarray, context: int):
    """``(inputs [N, context], labels [N])``: each token predicted from the ``context`` before."""
    n = len(ids) - context
    idx = np.arange(n)[:, None] + np.arange(context)[None, :]
    return ids[idx], ids[context:]


class LM(nnx.Module):
    """Embed the context, one tanh layer, then ``head`` (skipped when ``fused``)."""

    def __init__(self, vocab, dim, context, *, fused, rngs):
        self.embed = nnx.Embed(vocab, dim, rngs=rngs)
        self.mix = nnx.Linear(context * dim, dim, rngs=rngs)
        self.head = nnx.Linear(dim, vocab, rngs=rngs)
        self.fused = fused

    def __call__(self, tokens):
        e = self.embed(tokens)
        h = nnx.tanh(self.mix(e.reshape(e.shape[0], -1)))
        return h if self.fused else self.head(h)


def make(vocab, dim, context, fused, lr):
    model = LM(vocab, dim, context, fused=fused, rngs=nnx.Rngs(0))
    return model, nnx.Optimizer(model, optax.adam(lr), wrt=nnx.Param)


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
    hist = train.fit(
        model,
        opt,
        (x[:split], y[:split]),
        loss="linear_cross_entropy",
        head="head",
        metrics=["token_accuracy"],
        validation_data=(x[split:], y[split:]),
        epochs=args.epochs,
        batch_size=args.batch_size,
        progress=False,
    )
    for e in hist.epoch:
        print(
            f"  epoch {e + 1}: loss {hist['loss'][e]:.3f}, token accuracy "
            f"{hist['token_accuracy'][e]:.3f}; validation loss {hist['val_loss'][e]:.3f}, "
            f"token accuracy {hist['val_token_accuracy'][e]:.3f}",
            flush=True,
        )
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
