"""Sequence losses."""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from ._alias import bind


def ctc_loss(logits: ArrayLike, logit_paddings: ArrayLike, labels: ArrayLike, label_paddings: ArrayLike, *, blank_id: int = 0, weights: ArrayLike | None = None, where: ArrayLike | None = None, reduction: str = "mean") -> jax.Array:
    """TODO(stub): ctc_loss. Replaced by the family implementation."""
    raise NotImplementedError("ctc_loss is not implemented yet")


# Losses of this family, canonical names (the registry lists these).
LOSSES = (ctc_loss,)

# Every name `jaxloss.get` resolves for this family (case-insensitive), canonical names included.
ALIASES = {
    **{fn.__name__: fn for fn in LOSSES},
    "CTCLoss": ctc_loss,
    "ctc": ctc_loss,
}
