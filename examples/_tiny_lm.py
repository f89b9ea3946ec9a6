"""Shared pieces of the tiny word-level language-model examples.

The corpus is the Python standard library's own ``.py`` files (always on the machine): words and
punctuation become tokens, the ``vocab - 1`` most frequent are kept and the rest map to ``<unk>``
(id 0). The model embeds the previous ``context`` tokens, mixes them with one tanh layer and
predicts the next token with ``head``. Used by ``lm_fused_head.py``, ``dpo_tiny_lm.py`` and
``distill_tiny_lm.py``; the scripts put this folder on ``sys.path`` to import it.
"""

from __future__ import annotations

import collections
import glob
import os
import re

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
        raise RuntimeError(f"tiny LM examples: found only {len(out)} tokens of text under {root}")
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

    def logits(self, tokens):
        """``[N, vocab]`` next-token logits, whichever way ``__call__`` is set up."""
        out = self(tokens)
        return self.head(out) if self.fused else out


def make(vocab, dim, context, fused, lr, seed=0):
    model = LM(vocab, dim, context, fused=fused, rngs=nnx.Rngs(seed))
    return model, nnx.Optimizer(model, optax.adam(lr), wrt=nnx.Param)


def fit_lm(model, opt, x, y, *, split, epochs, batch_size, validate=True):
    """Train a fused model (``linear_cross_entropy`` on ``head``) and print one line per epoch."""
    hist = train.fit(
        model,
        opt,
        (x[:split], y[:split]),
        loss="linear_cross_entropy",
        head="head",
        metrics=["token_accuracy"],
        validation_data=(x[split:], y[split:]) if validate else None,
        epochs=epochs,
        batch_size=batch_size,
        progress=False,
    )
    for e in hist.epoch:
        line = (
            f"  epoch {e + 1}: loss {hist['loss'][e]:.3f}, token accuracy "
            f"{hist['token_accuracy'][e]:.3f}"
        )
        if validate:
            line += (
                f"; validation loss {hist['val_loss'][e]:.3f}, token accuracy "
                f"{hist['val_token_accuracy'][e]:.3f}"
            )
        print(line, flush=True)
    return hist
