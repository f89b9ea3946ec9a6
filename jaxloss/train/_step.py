"""The guarded training step, evaluation, and the objective (loss, options, fused head, dtype)."""

from __future__ import annotations

import inspect
from typing import Callable, Mapping, Sequence

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from ._metrics import FusedOutputs, metric_total, resolve_metrics

__all__ = [
    "resolve_loss",
    "make_train_step",
    "make_pure_step",
    "make_pure_epoch",
    "make_pure_eval",
    "evaluate",
]


# --------------------------------------------------------------------------------------------
# the objective: loss + options + (fused head) + (compute dtype)
# --------------------------------------------------------------------------------------------


def resolve_loss(loss: str | Callable) -> Callable:
    """A loss callable from a callable or a registry name (``"mse"``, ``"CrossEntropyLoss"`` …)."""
    if isinstance(loss, str):
        from .._registry import get

        return get(loss)
    if not callable(loss):
        raise TypeError(
            f"jaxloss.train: 'loss' must be a callable or a registry name, got {loss!r}"
        )
    return loss


def loss_name(loss) -> str:
    if isinstance(loss, str):
        return loss
    return getattr(loss, "__name__", type(loss).__name__)


def merge_options(where: str, loss_kwargs: Mapping | None, extra: Mapping) -> dict:
    """One options API: ``loss_kwargs={...}`` and ``**options`` are the same thing."""
    if loss_kwargs is not None and not isinstance(loss_kwargs, Mapping):
        raise TypeError(f"jaxloss.{where}: 'loss_kwargs' must be a mapping, got {loss_kwargs!r}")
    merged = dict(loss_kwargs or {})
    both = set(merged) & set(extra)
    if both:
        raise TypeError(
            f"jaxloss.{where}: loss option(s) {sorted(both)} given both in loss_kwargs and as "
            "keywords"
        )
    merged.update(extra)
    return merged


def _check_options(fn: Callable, name: str, options: Mapping, n_positional: int) -> None:
    """Unknown loss options fail when the step is built, naming the loss and its options."""
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):  # builtins, some callables: nothing to check against
        return
    params = list(sig.parameters.values())
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params):
        return
    positional = [
        p
        for p in params
        if p.kind in (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    ]
    reserved = {p.name for p in positional[:n_positional]}
    accepted = {
        p.name
        for p in params
        if p.kind in (inspect.Parameter.KEYWORD_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
        and p.name not in reserved
    }
    unknown = [k for k in options if k not in accepted]
    if unknown:
        raise TypeError(
            f"jaxloss.train: loss {name!r} has no option(s) {unknown}; its options are "
            f"{sorted(accepted)}"
        )


def _cast_floats(tree, dtype):
    def cast(a):
        a = jnp.asarray(a)
        return a.astype(dtype) if jnp.issubdtype(a.dtype, jnp.floating) else a

    return jax.tree_util.tree_map(cast, tree)


def _get_path(obj, path: str):
    for part in path.split("."):
        obj = obj[int(part)] if part.isdigit() else getattr(obj, part)
    return obj


class Objective:
    """The loss of a training run: ``loss(model(x), y, **options)`` or, with a fused head,
    ``loss(hidden, weight, y, bias=bias, **options)`` where ``model(x)`` returns ``hidden``."""

    def __init__(
        self,
        loss,
        options: Mapping | None = None,
        *,
        head=None,
        compute_dtype=None,
        where: str = "train",
        check_options: bool = True,
    ):
        self.loss_fn = resolve_loss(loss)
        self.name = loss_name(loss)
        self.options = dict(options or {})
        if head is not None and not (isinstance(head, str) or callable(head)):
            raise TypeError(
                f"jaxloss.{where}: 'head' must be an attribute path ('lm_head') or a callable "
                f"model -> weight or (weight, bias), got {head!r}"
            )
        self.head = head
        self.compute_dtype = None if compute_dtype is None else jnp.dtype(compute_dtype)
        if self.compute_dtype is not None and not jnp.issubdtype(self.compute_dtype, jnp.floating):
            raise ValueError(
                f"jaxloss.{where}: 'compute_dtype' must be a float dtype, got {compute_dtype!r}"
            )
        if check_options:
            _check_options(self.loss_fn, self.name, self.options, 3 if head is not None else 2)

    def key(self):
        """A hashable identity (for compile caches)."""
        return (self.loss_fn, _freeze(self.options), self.head, self.compute_dtype)

    def fingerprint(self) -> dict:
        """What a checkpoint records about the objective (compared on resume)."""
        return {
            "loss": self.name,
            "loss_options": {k: _describe(v) for k, v in sorted(self.options.items())},
            "head": None if self.head is None else _describe(self.head),
            "compute_dtype": None if self.compute_dtype is None else self.compute_dtype.name,
        }

    def outputs(self, model, x):
        """``model(x)``, in ``compute_dtype`` if set; a :class:`FusedOutputs` with a fused head."""
        if self.compute_dtype is None:
            out = model(x)
            params = None
        else:
            graphdef, params, rest = nnx.split(model, nnx.Param, ...)
            low = nnx.merge(graphdef, _cast_floats(params, self.compute_dtype), rest)
            out = low(_cast_floats(x, self.compute_dtype))
            # batch statistics / RNG counters advanced by the low-precision copy, in their dtypes
            new_rest = nnx.state(low, nnx.Not(nnx.Param))
            old_rest = nnx.state(model, nnx.Not(nnx.Param))
            nnx.update(
                model,
                jax.tree_util.tree_map(
                    lambda n, o: jnp.asarray(n).astype(jnp.asarray(o).dtype), new_rest, old_rest
                ),
            )
            model = low
        if self.head is None:
            return out
        h = self.head
        if isinstance(h, str):
            mod = _get_path(model, h)
            if isinstance(mod, nnx.Module):
                weight = mod.kernel[...]
                b = getattr(mod, "bias", None)
                bias = None if b is None else b[...]
            else:
                weight, bias = mod[...], None
        else:
            got = h(model)
            weight, bias = got if isinstance(got, tuple) else (got, None)
        return FusedOutputs(out, jnp.asarray(weight), None if bias is None else jnp.asarray(bias))

    def value(self, outputs, y, w=None):
        kw = dict(self.options)
        if w is not None:
            kw["weights"] = w
        if isinstance(outputs, FusedOutputs):
            if outputs.bias is not None:
                kw["bias"] = outputs.bias
            loss = self.loss_fn(outputs.hidden, outputs.weight, y, **kw)
        else:
            if self.compute_dtype is not None:
                outputs = _cast_floats(outputs, jnp.float32)
            loss = self.loss_fn(outputs, y, **kw)
        return jnp.asarray(loss)


def _freeze(v):
    if isinstance(v, Mapping):
        return tuple(sorted((k, _freeze(x)) for k, x in v.items()))
    if isinstance(v, (list, tuple)):
        return tuple(_freeze(x) for x in v)
    if isinstance(v, (np.ndarray, jax.Array)):
        a = np.asarray(v)
        return ("array", a.shape, a.dtype.str, a.tobytes())
    try:
        hash(v)
    except TypeError:
        return ("id", id(v))
    return v


def _describe(v):
    """A JSON-able description of an option value (for the run's fingerprint)."""
    if v is None or isinstance(v, (bool, int, float, str)):
        return v
    if isinstance(v, (np.ndarray, jax.Array, np.generic)):
        a = np.asarray(v)
        return a.tolist() if a.size <= 64 else f"array{a.shape}:{a.dtype}:{hash(a.tobytes())}"
    if isinstance(v, (list, tuple)):
        return [_describe(x) for x in v]
    if isinstance(v, Mapping):
        return {str(k): _describe(x) for k, x in v.items()}
    if callable(v):
        return getattr(v, "__qualname__", getattr(v, "__name__", repr(v)))
    return repr(v)


# --------------------------------------------------------------------------------------------
# batches, the guard
# --------------------------------------------------------------------------------------------


def unpack(batch):
    if isinstance(batch, Mapping):
        x = batch["inputs"] if "inputs" in batch else batch["x"]
        y = batch["targets"] if "targets" in batch else batch["y"]
        return x, y, batch.get("weights", batch.get("sample_weight"))
    if isinstance(batch, (tuple, list)):
        if len(batch) == 2:
            return batch[0], batch[1], None
        if len(batch) == 3:
            return batch[0], batch[1], batch[2]
    raise ValueError(
        "jaxloss.train: a batch is (inputs, targets[, weights]) or a dict with inputs/targets"
    )


def batch_size_of(x) -> int:
    return int(jax.tree_util.tree_leaves(x)[0].shape[0])


def _max_min(a, b):
    return jnp.maximum(a[0], b[0]), jnp.minimum(a[1], b[1])


def _all_finite(*trees) -> jax.Array:
    """Whether every float leaf of ``trees`` is finite: ``max < inf`` and ``min > -inf`` of the
    leaves (XLA's max / min propagate NaN, so a NaN anywhere makes both comparisons false).

    Exact (no arithmetic on the values, so no false alarm from overflow) and cheap to compile,
    which is what decides a small training step's compile time on XLA:CPU, where each kernel
    costs ~10 ms: the arrays of each dtype are concatenated and reduced by ONE variadic max/min
    reduction, which XLA:CPU emits as one kernel (a ``sum(x * 0)`` of the same concatenation
    became a multiply, a reduce-window and a reduce; XLA splits the reduction of a concatenation
    into one per leaf unless an ``optimization_barrier`` stands between them, kept here so it
    stays one kernel). Scalars (the loss) are checked in the elementwise predicate. Complex
    leaves count their real and imaginary parts.
    """
    arrays, ok = {}, jnp.asarray(True)
    for leaf in jax.tree_util.tree_leaves(trees):
        if not jnp.issubdtype(leaf.dtype, jnp.inexact):
            continue
        for part in (jnp.real(leaf), jnp.imag(leaf)) if jnp.iscomplexobj(leaf) else (leaf,):
            if part.ndim == 0:
                ok = ok & jnp.isfinite(part)
            else:
                arrays.setdefault(part.dtype, []).append(jnp.ravel(part))
    for dtype, parts in arrays.items():
        flat = jax.lax.optimization_barrier(jnp.concatenate(parts))
        inf = np.asarray(np.inf, dtype)
        hi, lo = jax.lax.reduce((flat, flat), (-inf, inf), _max_min, (0,))
        ok = ok & (hi < inf) & (lo > -inf)  # finite <=> max < inf, min > -inf
    return ok


def _select(pred, new, old):
    """``new`` if ``pred`` else ``old``, as one ``lax.cond`` (a per-leaf ``where`` compiles one
    kernel per leaf; under ``vmap`` the cond becomes that select anyway)."""
    return jax.lax.cond(pred, lambda: new, lambda: old)


def check_metrics(metric_fns, obj: Objective, where: str):
    if obj.head is not None:
        bad = [n for n, f in metric_fns if not getattr(f, "fused", False)]
        if bad:
            raise ValueError(
                f"jaxloss.{where}: metric(s) {bad} need logits, which a fused head never builds; "
                "use 'token_accuracy' / top_k_accuracy(k), or a metric with fused = True that "
                "accepts FusedOutputs"
            )


def core_step(graphdef, state, batch, obj: Objective, metric_fns):
    """One guarded update on a pure ``nnx.split((model, optimizer))`` state.

    Returns ``(state, raw)`` where ``raw`` maps ``"loss"`` and each metric to a ``(total, count)``
    pair for this batch and ``"ok"`` says whether the update was applied. If the loss, any
    gradient, or any leaf of the resulting state (parameters, batch statistics, optimizer moments
    …) is not finite, the returned state is the input state, every leaf of it (RNG counters and
    step counts included).
    """
    old = jax.tree_util.tree_map(lambda a: a, state)  # merge may reuse the input's Variables
    model, optimizer = nnx.merge(graphdef, state)
    x, y, w = unpack(batch)

    def objective(m):
        out = obj.outputs(m, x)
        return obj.value(out, y, w), out

    (loss, out), grads = nnx.value_and_grad(objective, has_aux=True)(model)
    optimizer.update(model, grads)  # discarded below unless everything is finite
    new = nnx.state((model, optimizer))
    ok = _all_finite(loss, grads, new)
    final = _select(ok, new, old)
    n = batch_size_of(x)
    raw = {"loss": (loss.astype(jnp.float32) * n, jnp.asarray(n, jnp.float32))}
    out = jax.lax.stop_gradient(out)
    for name, fn in metric_fns:
        raw[name] = metric_total(fn, out, y, n)
    raw["ok"] = ok
    return final, raw


def batch_logs(raw) -> dict:
    logs = {}
    for k, v in raw.items():
        if k != "ok":
            logs[k] = v[0] / v[1]
    logs["skipped"] = (~raw["ok"]).astype(jnp.int32)
    return logs


def empty_acc(names) -> jax.Array:
    """An epoch accumulator: ONE float32 vector ``[total, count] per name, skipped, batches]``.

    One vector (not a dict of scalars) so that each step updates it with one fused add: every
    extra scalar output is a kernel of its own, and kernels are what XLA:CPU's compile time of a
    small training step is made of.
    """
    return jnp.zeros((2 * len(names) + 2,), jnp.float32)


def accumulate(acc, raw) -> jax.Array:
    """``acc`` plus this batch's totals and counts (those of a skipped batch count as 0);
    ``raw`` (from :func:`core_step`) lists the loss, then the metrics, in ``empty_acc``'s order."""
    ok = raw["ok"]
    parts = []
    for k, v in raw.items():
        if k != "ok":
            parts += [jnp.where(ok, v[0], 0.0), jnp.where(ok, v[1], 0.0)]
    parts += [(~ok).astype(jnp.float32), jnp.ones((), jnp.float32)]
    return acc + jnp.stack(parts)


def acc_counts(acc) -> tuple[int, int]:
    """``(skipped, batches)`` of a (host) epoch accumulator, as Python ints."""
    return int(acc[-2]), int(acc[-1])


def finish(acc, names) -> dict:
    """Epoch means from an accumulator (NaN for a quantity with no applied batch); NumPy in,
    NumPy out (no device dispatch), so ``fit`` reads an epoch with one transfer."""
    xp = np if isinstance(acc, np.ndarray) else jnp
    out = {}
    for i, k in enumerate(names):
        t, c = acc[..., 2 * i], acc[..., 2 * i + 1]
        out[k] = xp.where(c > 0, t / xp.maximum(c, 1e-30), xp.nan)
    out["skipped"] = acc[..., -2].astype(xp.int32)
    return out


def eval_raw(graphdef, state, batch, obj: Objective, metric_fns):
    """Loss and metric totals of the model in inference mode (``model.eval()`` on a copy).

    ``graphdef`` / ``state`` are those of the model or of ``(model, optimizer)``.
    """
    merged = nnx.merge(graphdef, state)
    model = merged[0] if isinstance(merged, tuple) else merged
    model.eval()  # a fresh object inside the trace: the caller's model keeps its mode
    x, y, w = unpack(batch)
    out = obj.outputs(model, x)
    n = batch_size_of(x)
    raw = {"loss": (obj.value(out, y, w).astype(jnp.float32) * n, jnp.asarray(n, jnp.float32))}
    for name, fn in metric_fns:
        raw[name] = metric_total(fn, out, y, n)
    return raw


# --------------------------------------------------------------------------------------------
# public step builders
# --------------------------------------------------------------------------------------------


def make_train_step(
    loss: str | Callable,
    *,
    metrics: Sequence = (),
    check: bool = False,
    head=None,
    compute_dtype=None,
    loss_kwargs: Mapping | None = None,
    **options,
) -> Callable:
    """A jitted training step ``step(model, optimizer, batch) -> dict`` for a jaxloss loss.

    The step computes ``loss(model(inputs), targets, **options)`` and its gradient with
    ``nnx.value_and_grad`` and applies ``optimizer.update(model, grads)`` for an
    ``nnx.Optimizer(model, tx, wrt=nnx.Param)``. If the loss, any gradient entry, or any leaf of
    the state the update would produce (parameters, batch statistics, optimizer moments) is NaN or
    infinite, *all* state of the model and the optimizer (RNG counters and step count included)
    is left exactly as it was and the returned ``skipped`` is 1, so one bad batch never corrupts
    the model.

    Args:
      loss: a callable ``loss(outputs, targets, **kw)`` or a registry name (``"mse"``,
        ``"binary_crossentropy"``, ``"CrossEntropyLoss"`` …).
      metrics: names (:func:`jaxloss.train.list_metrics`) or callables
        ``metric(outputs, targets)`` evaluated on the batch outputs (before the update).
      check: run the loss in checked mode (:func:`jaxloss.checked`) inside the jitted step: a
        batch with invalid values (labels out of range, probabilities outside [0, 1], NaN inputs,
        …) raises :class:`jaxloss.LossInputError` naming the loss, argument, value and index, and
        the model and optimizer are left untouched. ``loss`` must then be a jaxloss loss or name.
      head: a fused language-model head: ``model(inputs)`` returns hidden states and the loss is
        ``loss(hidden, weight, targets, bias=bias, **options)`` (e.g.
        ``"linear_cross_entropy"``) with ``weight`` ``[D, V]`` taken from the module at this
        attribute path (an ``nnx.Linear``: its kernel and bias) or returned by a callable
        ``head(model) -> weight | (weight, bias)``.
      compute_dtype: e.g. ``jnp.bfloat16``: the forward and backward pass run on parameters and
        float inputs cast to this dtype; the parameters (master copy), the gradients and the
        optimizer state stay in their own dtype (float32) and the loss is computed in float32.
      loss_kwargs: loss options as a mapping (the same as passing them as keywords).
      **options: options passed to the loss (``label_smoothing=0.1`` …); arrays are fine. An
        option the loss does not take is a ``TypeError`` here, naming the loss.

    Returns:
      ``step(model, optimizer, batch)`` returning ``{"loss", "skipped", <metrics>}`` as arrays.

    Examples:
      >>> import jax.numpy as jnp, optax
      >>> from flax import nnx
      >>> from jaxloss.train import make_train_step
      >>> model = nnx.Linear(2, 1, rngs=nnx.Rngs(0))
      >>> opt = nnx.Optimizer(model, optax.sgd(0.1), wrt=nnx.Param)
      >>> sq = lambda p, t: jnp.mean((p - t) ** 2)
      >>> step = make_train_step(sq)
      >>> x, y = jnp.ones((4, 2), jnp.float32), jnp.zeros((4, 1), jnp.float32)
      >>> first = float(step(model, opt, (x, y))["loss"])
      >>> second = float(step(model, opt, (x, y))["loss"])
      >>> second < first
      True
    """
    options = merge_options("make_train_step", loss_kwargs, options)
    obj = Objective(loss, options, head=head, compute_dtype=compute_dtype, where="make_train_step")
    metric_fns = resolve_metrics(metrics)
    check_metrics(metric_fns, obj, "make_train_step")
    if check:
        return _checked_step(obj, metric_fns)

    @nnx.jit
    def step(model, optimizer, batch):
        graphdef, state = nnx.split((model, optimizer))
        new, raw = core_step(graphdef, state, batch, obj, metric_fns)
        nnx.update((model, optimizer), new)
        return batch_logs(raw)

    return step


def _checked_step(obj: Objective, metric_fns) -> Callable:
    """``make_train_step(..., check=True)``: the pure step under jit + checkify, applied in place.

    The checks of the checked loss are ``checkify.debug_check``s inside the traced step; running
    the pure step through ``checkify`` surfaces them, and the new state is written back only when
    no check failed.
    """
    from .._checked import checked, checkify

    checked_obj = Objective(
        checked(obj.loss_fn),
        obj.options,
        head=obj.head,
        compute_dtype=obj.compute_dtype,
        check_options=False,
    )
    compiled: dict = {}

    def step(model, optimizer, batch):
        graphdef, state = nnx.split((model, optimizer))
        fn = compiled.get(graphdef)
        if fn is None:

            def pure(state, batch):
                new, raw = core_step(graphdef, state, batch, checked_obj, metric_fns)
                return new, batch_logs(raw)

            fn = compiled[graphdef] = checkify(jax.jit(pure))
        new_state, logs = fn(state, batch)  # raises LossInputError before anything is written
        nnx.update((model, optimizer), new_state)
        return logs

    return step


# --------------------------------------------------------------------------------------------
# functional epoch / evaluation (shared with the vectorised examples)
# --------------------------------------------------------------------------------------------


def make_pure_step(
    graphdef, loss, *, metrics=(), head=None, compute_dtype=None, loss_kwargs=None, **options
):
    """``step(state, batch) -> (state, logs)`` on ``nnx.split((model, optimizer))`` states.

    The pure form of :func:`make_train_step`, for ``jax.vmap`` / ``lax.scan`` (vectorised seeds
    and sweeps). Not jitted: the caller jits the program it builds.
    """
    obj = Objective(
        loss,
        merge_options("make_pure_step", loss_kwargs, options),
        head=head,
        compute_dtype=compute_dtype,
    )
    metric_fns = resolve_metrics(metrics)
    check_metrics(metric_fns, obj, "make_pure_step")

    def step(state, batch):
        new, raw = core_step(graphdef, state, batch, obj, metric_fns)
        return new, batch_logs(raw)

    return step


def scan_epoch(graphdef, obj, metric_fns, *, num_examples, batch_size, shuffle):
    """``epoch(state, x, y, w, key) -> (state, acc)``: full batches in a ``lax.scan``."""
    n_full, rem = divmod(num_examples, batch_size)
    names = ["loss"] + [n for n, _ in metric_fns]

    def epoch(state, x, y, w, key):
        idx = jax.random.permutation(key, num_examples) if shuffle else jnp.arange(num_examples)
        take = lambda a: None if a is None else jnp.take(a, idx, axis=0)  # noqa: E731
        xs, ys, ws = (
            jax.tree_util.tree_map(lambda a: jnp.take(a, idx, axis=0), x),
            take(y),
            take(w),
        )
        acc = empty_acc(names)

        def batch_at(start, size):
            sl = lambda a: jax.lax.dynamic_slice_in_dim(a, start, size, axis=0)  # noqa: E731
            xb = jax.tree_util.tree_map(sl, xs)
            return (xb, sl(ys)) if ws is None else (xb, sl(ys), sl(ws))

        def body(carry, i):
            state, acc = carry
            state, raw = core_step(
                graphdef, state, batch_at(i * batch_size, batch_size), obj, metric_fns
            )
            return (state, accumulate(acc, raw)), None

        if n_full:
            (state, acc), _ = jax.lax.scan(body, (state, acc), jnp.arange(n_full))
        if rem:
            state, raw = core_step(
                graphdef, state, batch_at(n_full * batch_size, rem), obj, metric_fns
            )
            acc = accumulate(acc, raw)
        return state, acc

    return epoch


def make_pure_epoch(
    graphdef,
    loss,
    *,
    num_examples,
    batch_size=32,
    shuffle=True,
    metrics=(),
    head=None,
    compute_dtype=None,
    loss_kwargs=None,
    **options,
):
    """``epoch(state, x, y, key) -> (state, logs)``: one Keras epoch as a pure function.

    Shuffles with ``jax.random.permutation(key, num_examples)`` when ``shuffle``, runs the full
    batches in a ``lax.scan`` and the last partial batch (if any) as one more step, like Keras.
    ``logs`` holds the batch-size-weighted mean of the loss and metrics over the batches that
    were applied (Keras' running average) and ``skipped``, the number of skipped batches.
    """
    obj = Objective(
        loss,
        merge_options("make_pure_epoch", loss_kwargs, options),
        head=head,
        compute_dtype=compute_dtype,
    )
    metric_fns = resolve_metrics(metrics)
    check_metrics(metric_fns, obj, "make_pure_epoch")
    names = ["loss"] + [n for n, _ in metric_fns]
    inner = scan_epoch(
        graphdef, obj, metric_fns, num_examples=num_examples, batch_size=batch_size, shuffle=shuffle
    )

    def epoch(state, x, y, key):
        state, acc = inner(state, x, y, None, key)
        return state, finish(acc, names)

    return epoch


def make_pure_eval(
    graphdef, loss, *, metrics=(), head=None, compute_dtype=None, loss_kwargs=None, **options
):
    """``evaluate(state, x, y) -> logs``: loss and metrics on a whole data set, inference mode.

    ``graphdef`` / ``state`` come from ``nnx.split((model, optimizer))`` or ``nnx.split(model)``.
    """
    obj = Objective(
        loss,
        merge_options("make_pure_eval", loss_kwargs, options),
        head=head,
        compute_dtype=compute_dtype,
    )
    metric_fns = resolve_metrics(metrics)
    check_metrics(metric_fns, obj, "make_pure_eval")

    def evaluate(state, x, y):
        raw = eval_raw(graphdef, state, (x, y), obj, metric_fns)
        return {k: t / c for k, (t, c) in raw.items()}

    return evaluate


_EVAL_CACHE: dict = {}


def _eval_fn(graphdef, obj: Objective, metric_fns):
    key = (graphdef, obj.key(), metric_fns)
    fn = _EVAL_CACHE.get(key)
    if fn is None:
        if len(_EVAL_CACHE) > 64:
            _EVAL_CACHE.clear()

        def run(state, batch):
            return eval_raw(graphdef, state, batch, obj, metric_fns)

        fn = _EVAL_CACHE[key] = jax.jit(run)
    return fn


def evaluate_state(
    graphdef, state, data, obj, metric_fns, *, batch_size=None
) -> dict[str, jax.Array]:
    """Loss and metric means over ``data`` (arrays, in batches of ``batch_size``), on device."""
    fn = _eval_fn(graphdef, obj, metric_fns)
    x, y, w = unpack(data)
    x = jax.tree_util.tree_map(jnp.asarray, x)
    y = jnp.asarray(y)
    w = None if w is None else jnp.asarray(w)
    n = batch_size_of(x)
    size = n if batch_size is None else int(batch_size)
    totals = None
    for start in range(0, n, size):
        sl = lambda a, start=start: a[start : start + size]  # noqa: E731
        xb = jax.tree_util.tree_map(sl, x)
        batch = (xb, sl(y)) if w is None else (xb, sl(y), sl(w))
        raw = fn(state, batch)
        totals = (
            raw
            if totals is None
            else {k: (totals[k][0] + v[0], totals[k][1] + v[1]) for k, v in raw.items()}
        )
    return {k: t / c for k, (t, c) in totals.items()}


def evaluate(
    model,
    data,
    *,
    loss,
    metrics=(),
    batch_size: int | None = None,
    head=None,
    compute_dtype=None,
    loss_kwargs: Mapping | None = None,
    **options,
) -> dict[str, float]:
    """Loss and metrics of ``model`` on ``data = (inputs, targets[, weights])`` (Keras).

    The model runs in inference mode (``model.eval()`` on a copy: Dropout off, BatchNorm running
    statistics); the caller's model keeps its mode. The program is compiled once per
    (model structure, loss, options, metrics, batch shape) and reused by later calls.
    ``batch_size`` evaluates in batches (the last one partial; each quantity is the
    example-weighted mean of the batch means, exact for mean-reduced losses). Loss options are
    given as for :func:`make_train_step`.
    """
    options = merge_options("evaluate", loss_kwargs, options)
    obj = Objective(loss, options, head=head, compute_dtype=compute_dtype, where="evaluate")
    metric_fns = resolve_metrics(metrics)
    check_metrics(metric_fns, obj, "evaluate")
    if batch_size is not None and (not isinstance(batch_size, int) or batch_size < 1):
        raise ValueError(f"jaxloss.evaluate: 'batch_size' must be an int >= 1, got {batch_size!r}")
    graphdef, state = nnx.split(model)
    logs = evaluate_state(graphdef, state, data, obj, metric_fns, batch_size=batch_size)
    return {k: float(v) for k, v in logs.items()}
