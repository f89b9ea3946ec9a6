"""Checkpoints of ``fit``: Orbax state + a JSON record, committed atomically, checked on resume.

Layout: ``<dir>/<epoch>/state`` (Orbax, synchronous ``StandardCheckpointHandler``) and
``<dir>/<epoch>/meta.json`` (history, the structure of the saved state, the training
configuration). A step is written under ``<dir>/.tmp-<epoch>-<pid>`` and renamed into place
when complete, so a step directory either is complete or was damaged afterwards; a damaged or
partial step (no ``meta.json``, unreadable JSON, missing keys, unreadable arrays) is skipped with
a warning and the newest complete step is used. Errors writing are raised at once, and the Orbax
checkpointer is closed on every path so no background thread keeps the process alive.
"""

from __future__ import annotations

import json
import os
import shutil
import warnings

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

FORMAT = 1

__all__ = ["CheckpointMismatchError", "Checkpointer", "state_spec", "compare"]


class CheckpointMismatchError(ValueError):
    """The checkpoint does not belong to this model / optimizer / training configuration."""


def _to_storable(state):
    """Pure dict of numpy arrays; typed PRNG keys become their key data."""
    pure = nnx.to_pure_dict(state)

    def conv(a):
        a = jnp.asarray(a)
        if jnp.issubdtype(a.dtype, jax.dtypes.prng_key):
            a = jax.random.key_data(a)
        return np.asarray(a)

    return jax.tree_util.tree_map(conv, pure)


def _from_storable(state, stored):
    template = nnx.to_pure_dict(state)

    def conv(t, s):
        t = jnp.asarray(t)
        if jnp.issubdtype(t.dtype, jax.dtypes.prng_key):
            return jax.random.wrap_key_data(jnp.asarray(s), impl=jax.random.key_impl(t))
        return jnp.asarray(s, dtype=t.dtype)

    restored = jax.tree_util.tree_map(conv, template, stored)
    state = jax.tree_util.tree_map(lambda a: a, state)
    nnx.replace_by_pure_dict(state, restored)
    return state


def state_spec(state) -> dict[str, list]:
    """``{path: [shape, dtype]}`` of every leaf (what resume compares)."""
    out = {}
    for path, leaf in jax.tree_util.tree_leaves_with_path(state):
        key = jax.tree_util.keystr(path, simple=True, separator=".")
        if key.endswith(".value"):
            key = key[: -len(".value")]
        out[key] = [list(np.shape(leaf)), str(jnp.asarray(leaf).dtype)]
    return out


def _fmt_spec(v):
    return "absent" if v is None else f"shape {tuple(v[0])} {v[1]}"


def compare(saved: dict, current: dict, what: str, limit: int = 6) -> list[str]:
    """Differences between two ``state_spec``-like or configuration dicts, as sentences."""
    diffs = []
    for k in sorted(set(saved) | set(current), key=str):
        a, b = saved.get(k), current.get(k)
        if a != b:
            if what in ("model", "optimizer state"):
                diffs.append(f"{what} '{k}': {_fmt_spec(a)} in the checkpoint, {_fmt_spec(b)} now")
            else:
                diffs.append(f"{k}: {a!r} in the checkpoint, {b!r} now")
    if len(diffs) > limit:
        diffs = diffs[:limit] + [f"... and {len(diffs) - limit} more"]
    return diffs


class Checkpointer:
    """Saves and restores ``(state, meta)`` per epoch under ``directory``; keeps ``max_to_keep``."""

    def __init__(self, directory, *, max_to_keep: int = 2):
        import orbax.checkpoint as ocp

        self.dir = os.path.abspath(os.fspath(directory))
        self.max_to_keep = max_to_keep
        try:
            os.makedirs(self.dir, exist_ok=True)
            probe = os.path.join(self.dir, f".write-test-{os.getpid()}")
            with open(probe, "w") as fh:
                fh.write("ok")
            os.remove(probe)
        except OSError as e:
            raise type(e)(
                e.errno, f"jaxloss.fit: cannot write checkpoints to {self.dir!r}: {e.strerror}"
            ) from e
        self._ocp = ocp
        self._ckptr = ocp.Checkpointer(ocp.StandardCheckpointHandler())

    # ---- listing ------------------------------------------------------------------------------

    def steps(self) -> list[int]:
        out = []
        for name in os.listdir(self.dir):
            if name.isdigit() and os.path.isdir(os.path.join(self.dir, name)):
                out.append(int(name))
        return sorted(out)

    def clear(self) -> None:
        for s in self.steps():
            shutil.rmtree(os.path.join(self.dir, str(s)))

    # ---- save ---------------------------------------------------------------------------------

    def save(self, epoch: int, state, meta: dict) -> None:
        final = os.path.join(self.dir, str(epoch))
        tmp = os.path.join(self.dir, f".tmp-{epoch}-{os.getpid()}")
        if os.path.exists(tmp):
            shutil.rmtree(tmp)
        os.makedirs(tmp)
        self._ckptr.save(
            os.path.join(tmp, "state"), args=self._ocp.args.StandardSave(_to_storable(state))
        )
        with open(os.path.join(tmp, "meta.json"), "w") as fh:
            json.dump({**meta, "format": FORMAT, "epoch": int(epoch)}, fh)
            fh.flush()
            os.fsync(fh.fileno())
        if os.path.exists(final):
            shutil.rmtree(final)
        os.replace(tmp, final)
        steps = self.steps()
        # newer steps than the one just saved were damaged (resume skipped them) or belong to a
        # run this one replaced; older ones beyond max_to_keep are retired
        stale = [s for s in steps if s > epoch] + [s for s in steps if s <= epoch][
            : -self.max_to_keep
        ]
        for s in stale:
            shutil.rmtree(os.path.join(self.dir, str(s)), ignore_errors=True)

    # ---- restore ------------------------------------------------------------------------------

    def read_meta(self, step: int) -> dict:
        path = os.path.join(self.dir, str(step), "meta.json")
        if not os.path.exists(path):
            raise ValueError("no meta.json (an incomplete or foreign step directory)")
        with open(path) as fh:
            meta = json.load(fh)  # JSONDecodeError is a ValueError
        if not isinstance(meta, dict):
            raise ValueError("meta.json does not hold an object")
        missing = {"format", "epoch", "history", "spec", "config"} - set(meta)
        if missing:
            raise ValueError(f"meta.json lacks {sorted(missing)}")
        if meta["format"] != FORMAT or meta["epoch"] != step:
            raise ValueError(f"meta.json is for format {meta['format']}, epoch {meta['epoch']}")
        return meta

    def read_state(self, step: int, state):
        target = _to_storable(state)
        abstract = jax.tree_util.tree_map(self._ocp.utils.to_shape_dtype_struct, target)
        got = self._ckptr.restore(
            os.path.join(self.dir, str(step), "state"),
            args=self._ocp.args.StandardRestore(abstract),
        )
        return _from_storable(state, got)

    def latest_valid(self, check, state):
        """``(step, state, meta)`` of the newest complete step, or ``None`` if there is none.

        ``check(meta)`` raises :class:`CheckpointMismatchError` for a checkpoint of another
        model or configuration (that is an error, not a reason to fall back). Damaged steps are
        skipped with a warning; a permission error is raised.
        """
        for step in reversed(self.steps()):
            try:
                meta = self.read_meta(step)
            except PermissionError:
                raise
            except (OSError, ValueError, KeyError, TypeError) as e:
                self._warn(step, e)
                continue
            check(meta)
            try:
                restored = self.read_state(step, state)
            except PermissionError:
                raise
            except Exception as e:  # noqa: BLE001 — any unreadable array store means a damaged step
                self._warn(step, e)
                continue
            return step, restored, meta
        return None

    def _warn(self, step, err):
        msg = str(err).splitlines()[0] if str(err) else type(err).__name__
        warnings.warn(
            f"jaxloss.fit: checkpoint step {step} in {self.dir!r} is incomplete or damaged "
            f"({type(err).__name__}: {msg[:200]}); falling back to an earlier step",
            RuntimeWarning,
            stacklevel=4,
        )

    def close(self) -> None:
        self._ckptr.close()
