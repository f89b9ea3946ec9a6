"""Distil a larger word-level LM into a smaller one, with full logits and with a fused head.

The corpus, the model and the teacher's training are those of ``_tiny_lm.py``: stdlib ``.py``
text, a model that embeds the previous ``--context`` tokens, one tanh layer and a linear head.

1. **Teacher** (hidden ``--teacher-dim``) trained briefly on the text with
   ``linear_cross_entropy``.
2. **Student** (hidden ``--dim``) trained twice from the same initial parameters on the same
   batches, against the frozen teacher:

   * **unfused**: both heads' ``[tokens, vocab]`` logits are formed and the loss is
     ``jaxloss.distillation_loss(student_logits, teacher_logits)`` (the generalized Jensen–Shannon
     divergence of GKD), plus ``--hard-weight`` × ``sparse_softmax_cross_entropy`` of the
     student against the next token;
   * **fused**: ``jaxloss.linear_distillation_loss(student_hidden, student_kernel,
     teacher_hidden, teacher_kernel, labels, ...)`` — the same loss, both heads fused and
     chunked over tokens, so neither model's ``[tokens, vocab]`` logits (nor their gradient)
     ever exist.

It prints both loss curves (they agree to float32 round-off; the largest difference is
printed), the held-out token accuracy of teacher and student, and per path the median step time
(steps after compilation) and the temporary memory XLA allocates for the compiled step
(``jax.jit(step).lower(...).compile().memory_analysis().temp_size_in_bytes``).

    python examples/distill_tiny_lm.py            # vocabulary 8192, a minute or two on CPU
    python examples/distill_tiny_lm.py --smoke    # seconds: tiny vocabulary, models and data
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

import jaxloss

_HERE = os.path.dirname(os.path.abspath(__file__))
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)  # the shared corpus / model module next to this script
from _tiny_lm import encode, fit_lm, make, stdlib_tokens, windows  # noqa: E402


def distill_value(student, x, teacher_hidden, teacher_head, y, *, fused, opts):
    """The distillation loss of ``student`` on ``x`` against the teacher's head outputs."""
    hidden = student(x)  # [N, dim]: the student is built with fused=True (returns the hidden)
    weight, bias = student.head.kernel[...], student.head.bias[...]
    t_weight, t_bias = teacher_head
    if fused:
        return jaxloss.linear_distillation_loss(
            hidden,
            weight,
            teacher_hidden,
            t_weight,
            y,
            student_bias=bias,
            teacher_bias=t_bias,
            beta=opts["beta"],
            temperature=opts["temperature"],
            hard_weight=opts["hard_weight"],
            chunk_size=opts["chunk_size"],
        )
    s_logits = hidden @ weight + bias[None, :]  # [N, vocab]
    t_logits = teacher_hidden @ t_weight + t_bias[None, :]  # [N, vocab]
    loss = jaxloss.distillation_loss(
        s_logits, t_logits, beta=opts["beta"], temperature=opts["temperature"]
    )
    if opts["hard_weight"]:
        loss = loss + opts["hard_weight"] * jaxloss.sparse_softmax_cross_entropy(s_logits, y)
    return loss


def teacher_outputs(teacher, x):
    """The frozen teacher's hidden states and head ``(kernel, bias)``, without gradient."""
    out = (teacher(x), (teacher.head.kernel[...], teacher.head.bias[...]))
    return jax.lax.stop_gradient(out)


def make_step(graphdef, teacher_graphdef, *, fused, opts):
    """``step(state, teacher_state, x, y) -> (state, loss)`` on ``nnx.split((student, opt))``."""

    def step(state, teacher_state, x, y):
        student, opt = nnx.merge(graphdef, state)
        t_hidden, t_head = teacher_outputs(nnx.merge(teacher_graphdef, teacher_state), x)
        loss, grads = nnx.value_and_grad(
            lambda m: distill_value(m, x, t_hidden, t_head, y, fused=fused, opts=opts)
        )(student)
        opt.update(student, grads)
        return nnx.state((student, opt)), loss

    return step


def make_eval(graphdef, teacher_graphdef, opts):
    """Jitted held-out totals: distillation loss, student and teacher correct next tokens."""

    @jax.jit
    def evaluate(state, teacher_state, x, y):
        student, _ = nnx.merge(graphdef, state)
        teacher = nnx.merge(teacher_graphdef, teacher_state)
        s_logits, t_logits = student.logits(x), teacher.logits(x)
        loss = jaxloss.distillation_loss(
            s_logits,
            t_logits,
            beta=opts["beta"],
            temperature=opts["temperature"],
            reduction="sum",
        )
        correct = lambda z: jnp.sum(jnp.argmax(z, axis=-1) == y)  # noqa: E731
        return loss, correct(s_logits), correct(t_logits)

    def run(state, teacher_state, x, y, batch):
        tot = np.zeros(3)
        n = len(x) // batch * batch
        for i in range(0, n, batch):
            out = evaluate(state, teacher_state, x[i : i + batch], y[i : i + batch])
            tot += np.asarray([float(v) for v in out])
        return tot / n

    return run


def train_path(step, state, teacher_state, x, y, order):
    """Compile ``step``, run it over the batches ``order`` [steps, batch]; losses, times, memory."""
    xb, yb = jnp.asarray(x[order[0]]), jnp.asarray(y[order[0]])
    compiled = jax.jit(step).lower(state, teacher_state, xb, yb).compile()
    mem = compiled.memory_analysis()
    temp = getattr(mem, "temp_size_in_bytes", float("nan")) if mem is not None else float("nan")
    losses, times = [], []
    for idx in order:
        xb, yb = jnp.asarray(x[idx]), jnp.asarray(y[idx])
        t0 = time.perf_counter()
        state, loss = compiled(state, teacher_state, xb, yb)
        jax.block_until_ready(loss)
        times.append(time.perf_counter() - t0)
        losses.append(float(loss))
    steady = times[1:] if len(times) > 1 else times  # the first run also allocates
    return state, np.asarray(losses), 1e3 * statistics.median(steady), temp / 2**20


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--smoke", action="store_true", help="tiny settings (runs in seconds)")
    p.add_argument("--vocab", type=int, default=8192)
    p.add_argument("--teacher-dim", type=int, default=128)
    p.add_argument("--dim", type=int, default=32, help="the student's hidden size")
    p.add_argument("--context", type=int, default=4)
    p.add_argument("--text-tokens", type=int, default=100_000)
    p.add_argument("--teacher-epochs", type=int, default=1)
    p.add_argument("--teacher-batch-size", type=int, default=256)
    p.add_argument("--steps", type=int, default=60, help="distillation steps per path")
    p.add_argument("--batch-size", type=int, default=512, help="tokens per distillation step")
    p.add_argument("--lr", type=float, default=1e-2, help="the student's learning rate (Adam)")
    p.add_argument("--beta", type=float, default=0.5, help="GKD beta in [0, 1]")
    p.add_argument("--temperature", type=float, default=1.0)
    p.add_argument("--hard-weight", type=float, default=0.0, help="weight of the label CE")
    p.add_argument("--chunk-size", type=int, default=None, help="fused path (default: auto)")
    p.add_argument("--eval-tokens", type=int, default=4096, help="held-out tokens evaluated")
    p.add_argument("--log-every", type=int, default=10)
    p.add_argument("--paths", default="both", choices=["both", "fused", "unfused"])
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    if args.smoke:
        args.vocab, args.teacher_dim, args.dim, args.text_tokens = 512, 32, 16, 8000
        args.teacher_epochs, args.steps, args.batch_size = 1, 6, 256
        args.eval_tokens, args.log_every = 512, 1
    for name in (
        "vocab",
        "teacher_dim",
        "dim",
        "context",
        "text_tokens",
        "teacher_epochs",
        "teacher_batch_size",
        "steps",
        "batch_size",
        "eval_tokens",
        "log_every",
    ):
        if getattr(args, name) < 1:
            p.error(f"--{name.replace('_', '-')} must be >= 1")
    if args.vocab < 2:
        p.error("--vocab must be >= 2")
    if not 0.0 <= args.beta <= 1.0:
        p.error("--beta must be in [0, 1]")
    if not args.temperature > 0 or not args.lr > 0 or args.hard_weight < 0:
        p.error("--temperature and --lr must be > 0, --hard-weight >= 0")
    if args.chunk_size is not None and args.chunk_size < 1:
        p.error("--chunk-size must be >= 1")
    paths = ["unfused", "fused"] if args.paths == "both" else [args.paths]
    if "fused" in paths and not hasattr(jaxloss, "linear_distillation_loss"):
        p.error("this jaxloss has no linear_distillation_loss; run with --paths unfused")

    ids = encode(stdlib_tokens(args.text_tokens), args.vocab)
    x, y = windows(ids, args.context)
    split = int(0.9 * len(x)) // args.teacher_batch_size * args.teacher_batch_size
    if split < args.batch_size or len(x) - split < 1:
        p.error("--text-tokens is too small for these batch sizes")
    print(
        f"jax {jax.__version__} on {jax.devices()[0].platform}: {len(ids)} tokens of stdlib "
        f"source, vocab {args.vocab}, context {args.context}",
        flush=True,
    )
    print(f"teacher (hidden {args.teacher_dim}), linear_cross_entropy:", flush=True)
    teacher, t_opt = make(args.vocab, args.teacher_dim, args.context, True, 3e-3, seed=args.seed)
    fit_lm(
        teacher,
        t_opt,
        x,
        y,
        split=split,
        epochs=args.teacher_epochs,
        batch_size=args.teacher_batch_size,
        validate=not args.smoke,
    )
    teacher_graphdef, teacher_state = nnx.split(teacher)

    opts = {
        "beta": args.beta,
        "temperature": args.temperature,
        "hard_weight": args.hard_weight,
        "chunk_size": args.chunk_size,
    }
    rng = np.random.default_rng(args.seed)
    order = np.stack([rng.choice(split, args.batch_size, replace=False) for _ in range(args.steps)])
    x_eval, y_eval = x[split:][: args.eval_tokens], y[split:][: args.eval_tokens]
    eval_batch = min(args.batch_size, len(x_eval))
    results = {}
    for path in paths:
        student, opt = make(args.vocab, args.dim, args.context, True, args.lr, seed=args.seed + 1)
        graphdef, state = nnx.split((student, opt))
        if not results:
            evaluate = make_eval(graphdef, teacher_graphdef, opts)
            before = evaluate(state, teacher_state, x_eval, y_eval, eval_batch)
        step = make_step(graphdef, teacher_graphdef, fused=path == "fused", opts=opts)
        state, losses, ms, temp = train_path(step, state, teacher_state, x, y, order)
        after = evaluate(state, teacher_state, x_eval, y_eval, eval_batch)
        results[path] = {"losses": losses, "ms": ms, "temp_mib": temp, "after": after}

    print(
        f"\nstudent (hidden {args.dim}): {args.steps} steps of {args.batch_size} tokens, GKD "
        f"beta {args.beta}, temperature {args.temperature}, hard weight {args.hard_weight}; "
        "same initial parameters and batches for every path"
    )
    print("| step | " + " | ".join(f"{q} loss" for q in paths) + " |")
    print("|---|" + "---|" * len(paths))
    for i in range(args.steps):
        if i % args.log_every == 0 or i == args.steps - 1:
            vals = " | ".join(f"{results[q]['losses'][i]:.6f}" for q in paths)
            print(f"| {i + 1} | {vals} |")
    print(
        f"held-out ({len(x_eval) // eval_batch * eval_batch} tokens): teacher token accuracy "
        f"{before[2]:.3f}; student token accuracy {before[1]:.3f} -> "
        f"{results[paths[-1]]['after'][1]:.3f}, distillation loss {before[0]:.4f} -> "
        f"{results[paths[-1]]['after'][0]:.4f}"
    )
    logits_mib = args.batch_size * args.vocab * 4 / 2**20
    print(f"\none step, {args.batch_size} tokens (one [tokens, vocab] f32 array: "
          f"{logits_mib:.1f} MiB):")  # fmt: skip
    print("| path | median step ms | temp MiB |")
    print("|---|---|---|")
    for q in paths:
        print(f"| {q} | {results[q]['ms']:.1f} | {results[q]['temp_mib']:.1f} |")
    if len(paths) == 2:
        u, f = results["unfused"], results["fused"]
        diff = np.abs(f["losses"] - u["losses"])
        print(
            f"max |fused - unfused| loss over {args.steps} steps: {diff.max():.3g} "
            f"(relative {np.max(diff / np.abs(u['losses'])):.3g}); fused / unfused: "
            f"step time {f['ms'] / u['ms']:.2f}x, temporary memory "
            f"{f['temp_mib'] / u['temp_mib']:.3f}x"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
