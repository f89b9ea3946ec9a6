"""DPO on a tiny word-level language model trained on the Python standard library's source.

1. **SFT**: the tiny LM of ``_tiny_lm.py`` (embed the previous ``--context`` tokens, one tanh
   layer, a linear head) learns next-token prediction on stdlib ``.py`` text with
   ``linear_cross_entropy`` through ``jaxloss.train.fit``.
2. **Preference pairs** from the same text: a prompt is ``--context`` consecutive tokens; the
   *chosen* completion is the true continuation (``--min-completion`` to ``--completion``
   tokens, padded to ``--completion`` and masked), the *rejected* one the same tokens shuffled.
   Training pairs come from the first 90 % of the text, held-out pairs from the last 10 %.
3. **DPO**: the policy starts from the SFT model; the frozen reference is the SFT model (its
   sequence log-probabilities are computed once, before training). A sequence log-probability
   is ``jaxloss.token_log_probs`` of the completion tokens summed over the completion mask; the
   loss is ``jaxloss.dpo_loss``.

Per epoch it prints the training DPO loss, then on the held-out pairs: the mean reward margin
``β·Δ`` with ``Δ = (chosen − rejected) − (ref_chosen − ref_rejected)``, the reward accuracy
(fraction with ``Δ > 0``), and the mean implicit rewards ``β·(logπ − logπ_ref)`` of the chosen
and rejected completions. Epoch 0 is the SFT model itself (margin 0: policy = reference). The
margin grows mostly by pushing the rejected (shuffled) completions down; the chosen reward falls
too, more slowly, as is common with DPO.

    python examples/dpo_tiny_lm.py            # about a minute on a laptop CPU
    python examples/dpo_tiny_lm.py --smoke    # seconds: tiny vocabulary, model and data
"""

from __future__ import annotations

import argparse
import os
import sys

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx

import jaxloss

_HERE = os.path.dirname(os.path.abspath(__file__))
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)  # the shared corpus / model module next to this script
from _tiny_lm import encode, fit_lm, make, stdlib_tokens, windows  # noqa: E402


def preference_pairs(ids, n, context, length, min_length, rng):
    """``n`` pairs from ``ids``: ``(chosen [n, context + length], rejected, mask [n, length])``.

    The first ``context`` tokens are the prompt; ``mask`` marks the completion's real tokens
    (``min_length`` to ``length`` of them; the rest is padding, id 0). The rejected completion
    is a permutation of the chosen one's real tokens; pairs where that permutation changes
    nothing (e.g. all tokens equal) are redrawn.
    """
    span = context + length
    if len(ids) < span + 1:
        raise ValueError(f"dpo_tiny_lm: {len(ids)} tokens cannot hold a {span}-token pair")
    chosen, rejected, masks = [], [], []
    have = 0
    while have < n:
        m = 2 * (n - have)
        starts = rng.integers(0, len(ids) - span, size=m)
        seq = ids[starts[:, None] + np.arange(span)[None, :]]
        lengths = rng.integers(min_length, length + 1, size=m)
        mask = np.arange(length)[None, :] < lengths[:, None]
        comp = np.where(mask, seq[:, context:], 0).astype(np.int32)
        keys = np.where(mask, rng.random((m, length)), 2.0)  # padding sorts last: stays put
        shuffled = np.take_along_axis(comp, np.argsort(keys, axis=1), axis=1)
        keep = np.any(shuffled != comp, axis=1)
        prompt = seq[:, :context]
        chosen.append(np.concatenate([prompt, comp], axis=1)[keep])
        rejected.append(np.concatenate([prompt, shuffled], axis=1)[keep])
        masks.append(mask[keep])
        have += int(keep.sum())
    cat = lambda parts: np.concatenate(parts)[:n]  # noqa: E731
    return cat(chosen), cat(rejected), cat(masks)


def sequence_logps(model, seq, mask, context):
    """Sum over the completion mask of ``token_log_probs`` of each completion token, ``[B]``."""
    b, t = seq.shape
    n = t - context
    idx = jnp.arange(n)[:, None] + jnp.arange(context)[None, :]  # [n, context] sliding windows
    logits = model.logits(seq[:, idx].reshape(b * n, context)).reshape(b, n, -1)
    lp = jaxloss.token_log_probs(logits, seq[:, context:])
    return jnp.sum(jnp.where(mask, lp, jnp.zeros_like(lp)), axis=-1)


def make_fns(graphdef, context, beta, loss_type):
    """Jitted DPO ``step(state, batch)`` and ``logps(state, chosen, rejected, mask)``.

    ``step`` returns ``(state, logs)``; ``logps`` the policy's ``(chosen_logps, rejected_logps)``.
    """

    def both(model, chosen, rejected, mask):
        lp = sequence_logps(
            model,
            jnp.concatenate([chosen, rejected]),
            jnp.concatenate([mask, mask]),
            context,
        )
        return jnp.split(lp, 2)

    def step(state, batch):
        chosen, rejected, mask, ref_c, ref_r = batch
        model, opt = nnx.merge(graphdef, state)

        def objective(m):
            c, r = both(m, chosen, rejected, mask)
            loss = jaxloss.dpo_loss(c, r, ref_c, ref_r, beta=beta, loss_type=loss_type)
            return loss, (c, r)

        (loss, (c, r)), grads = nnx.value_and_grad(objective, has_aux=True)(model)
        opt.update(model, grads)
        delta = (c - r) - (ref_c - ref_r)
        logs = {"loss": loss, "margin": beta * jnp.mean(delta), "accuracy": jnp.mean(delta > 0)}
        return nnx.state((model, opt)), logs

    def logps(state, chosen, rejected, mask):
        model, _ = nnx.merge(graphdef, state)
        return both(model, chosen, rejected, mask)

    return jax.jit(step), jax.jit(logps)


def batched_logps(logps, state, pairs, batch):
    """Policy log-probs of all ``pairs`` (chosen, rejected) in batches of ``batch`` pairs.

    The last batch is padded (wrapping around) so that every call has one shape: one compile.
    """
    n = len(pairs[0])
    out_c, out_r = [], []
    for i in range(0, n, batch):
        rows = np.arange(i, i + batch) % n
        c, r = logps(state, *(a[rows] for a in pairs))
        out_c.append(np.asarray(c))
        out_r.append(np.asarray(r))
    return np.concatenate(out_c)[:n], np.concatenate(out_r)[:n]


def held_out_row(epoch, loss, c, r, ref_c, ref_r, beta):
    delta = (c - r) - (ref_c - ref_r)
    row = {
        "epoch": epoch,
        "train_loss": loss,
        "margin": float(beta * delta.mean()),
        "accuracy": float((delta > 0).mean()),
        "chosen_reward": float(beta * (c - ref_c).mean()),
        "rejected_reward": float(beta * (r - ref_r).mean()),
        "prefers_chosen": float((c > r).mean()),
    }
    loss_s = "      -" if loss is None else f"{loss:7.4f}"
    print(
        f"| {epoch:5d} | {loss_s} | {row['margin']:8.4f} | {row['accuracy']:8.3f} | "
        f"{row['chosen_reward']:+8.4f} | {row['rejected_reward']:+8.4f} | "
        f"{row['prefers_chosen']:8.3f} |",
        flush=True,
    )
    return row


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--smoke", action="store_true", help="tiny settings (runs in seconds)")
    p.add_argument("--vocab", type=int, default=2048)
    p.add_argument("--dim", type=int, default=64)
    p.add_argument("--context", type=int, default=4, help="prompt length = model context")
    p.add_argument("--text-tokens", type=int, default=200_000)
    p.add_argument("--sft-epochs", type=int, default=2)
    p.add_argument("--sft-batch-size", type=int, default=256)
    p.add_argument("--completion", type=int, default=12, help="max completion tokens")
    p.add_argument("--min-completion", type=int, default=6)
    p.add_argument("--pairs", type=int, default=4096, help="training preference pairs")
    p.add_argument("--held-out-pairs", type=int, default=1024)
    p.add_argument("--epochs", type=int, default=4, help="DPO epochs over the pairs")
    p.add_argument("--batch-size", type=int, default=64, help="pairs per DPO step")
    p.add_argument("--lr", type=float, default=1e-3, help="DPO learning rate (Adam)")
    p.add_argument("--beta", type=float, default=0.1)
    p.add_argument("--loss-type", default="sigmoid", choices=["sigmoid", "hinge", "ipo"])
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    if args.smoke:
        args.vocab, args.dim, args.text_tokens, args.sft_epochs = 512, 16, 8000, 1
        args.pairs, args.held_out_pairs, args.epochs, args.batch_size = 256, 128, 3, 32
        args.lr = 3e-3
    for name in (
        "vocab",
        "dim",
        "context",
        "text_tokens",
        "sft_epochs",
        "sft_batch_size",
        "completion",
        "min_completion",
        "pairs",
        "held_out_pairs",
        "epochs",
        "batch_size",
    ):
        if getattr(args, name) < 1:
            p.error(f"--{name.replace('_', '-')} must be >= 1")
    if args.vocab < 2:
        p.error("--vocab must be >= 2")
    if args.min_completion < 2 or args.min_completion > args.completion:
        p.error("--min-completion must be >= 2 (a shuffle needs two tokens) and <= --completion")
    if not args.beta > 0 or not args.lr > 0:
        p.error("--beta and --lr must be > 0")

    ids = encode(stdlib_tokens(args.text_tokens), args.vocab)
    x, y = windows(ids, args.context)
    split = int(0.9 * len(x)) // args.sft_batch_size * args.sft_batch_size  # one batch shape
    if split < 1:
        p.error("--text-tokens is too small for one SFT batch")
    print(
        f"jax {jax.__version__} on {jax.devices()[0].platform}: {len(ids)} tokens of stdlib "
        f"source, vocab {args.vocab}, hidden {args.dim}, context {args.context}",
        flush=True,
    )
    print(f"SFT ({split} training windows, linear_cross_entropy):", flush=True)
    model, opt = make(args.vocab, args.dim, args.context, True, 3e-3, seed=args.seed)
    fit_lm(
        model,
        opt,
        x,
        y,
        split=split,
        epochs=args.sft_epochs,
        batch_size=args.sft_batch_size,
        validate=not args.smoke,
    )

    rng = np.random.default_rng(args.seed)
    cut = split + args.context  # training pairs never see held-out text
    train_pairs = preference_pairs(
        ids[:cut], args.pairs, args.context, args.completion, args.min_completion, rng
    )
    eval_pairs = preference_pairs(
        ids[cut:], args.held_out_pairs, args.context, args.completion, args.min_completion, rng
    )
    opt = nnx.Optimizer(model, optax.adam(args.lr), wrt=nnx.Param)  # fresh moments for DPO
    graphdef, state = nnx.split((model, opt))
    step, logps = make_fns(graphdef, args.context, args.beta, args.loss_type)
    eval_batch = max(args.batch_size, 256)
    # The frozen reference = the SFT model: its log-probs are fixed, so compute them once.
    ref_train = batched_logps(logps, state, train_pairs, eval_batch)
    ref_eval = batched_logps(logps, state, eval_pairs, eval_batch)
    print(
        f"\nDPO ({args.loss_type}, beta {args.beta}): {args.pairs} training pairs, "
        f"{args.held_out_pairs} held-out pairs; rejected = chosen continuation shuffled; "
        f"{args.batch_size} pairs per step"
    )
    print(
        "held-out: margin = mean beta*Delta, accuracy = fraction Delta > 0, rewards = mean "
        "beta*(logp - ref_logp), prefers = fraction logp(chosen) > logp(rejected)"
    )
    print("| epoch | train loss | margin | accuracy | chosen reward | rejected reward | prefers |")
    print("|---|---|---|---|---|---|---|")
    rows = [held_out_row(0, None, *ref_eval, *ref_eval, args.beta)]
    steps_per_epoch = args.pairs // args.batch_size
    if steps_per_epoch < 1:
        p.error("--pairs must be >= --batch-size")
    for epoch in range(1, args.epochs + 1):
        order = rng.permutation(args.pairs)
        losses = []
        for s in range(steps_per_epoch):
            i = order[s * args.batch_size : (s + 1) * args.batch_size]
            batch = tuple(a[i] for a in train_pairs) + (ref_train[0][i], ref_train[1][i])
            state, logs = step(state, batch)
            losses.append(logs["loss"])
        loss = float(np.mean(jax.device_get(losses)))
        c, r = batched_logps(logps, state, eval_pairs, eval_batch)
        rows.append(held_out_row(epoch, loss, c, r, *ref_eval, args.beta))
    first, last = rows[0], rows[-1]
    print(
        f"held-out reward margin {first['margin']:.4f} -> {last['margin']:.4f}, "
        f"reward accuracy {first['accuracy']:.3f} -> {last['accuracy']:.3f}; the model prefers "
        f"the true continuation in {first['prefers_chosen']:.1%} of held-out pairs after SFT, "
        f"{last['prefers_chosen']:.1%} after DPO"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
