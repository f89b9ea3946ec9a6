"""``jaxloss.linear_cross_entropy`` against PyTorch's ``torch.nn.functional.linear_cross_entropy``.

PyTorch CPU (float64) is the independent oracle: values and gradients w.r.t. hidden, weight and
bias, for the default call, ``ignore_index``, ``label_smoothing``, class weights (torch
``weight=``, jaxloss ``class_weights=``), a bias and the three reductions, against both torch's
reference path (``options=None``) and, where it applies (no label smoothing), its chunked path
(``options=LinearCrossEntropyOptions(...)``).

Layout: torch's ``linear_weight`` is ``[V, D]`` (``nn.Linear``); jaxloss' ``weight`` is
``[D, V]``, so torch gets ``w.T`` and its weight gradient is compared transposed.

Not compared: class weights *together with* label smoothing. The two libraries define that
combination differently (torch weights the smoothing term of class ``j`` by ``weight[j]``;
jaxloss multiplies the token's whole loss by ``class_weights[y]``, as documented).
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxloss

from . import helpers

torch = helpers.torch_or_skip()
F = torch.nn.functional
if not hasattr(F, "linear_cross_entropy"):
    pytest.skip("torch.nn.functional.linear_cross_entropy is absent", allow_module_level=True)
LCEOptions = getattr(torch.nn, "LinearCrossEntropyOptions", None)

N, D, V = 10, 6, 13  # 10 tokens with chunk_size 4: the last chunk is padded
IGN = -100
CHUNK = 4
RTOL, ATOL = 1e-12, 1e-13


def _data(seed=0):
    rng = np.random.default_rng(seed)
    return {
        "h": rng.normal(size=(N, D)),
        "w": rng.normal(size=(D, V)) / np.sqrt(D),
        "b": rng.normal(size=(V,)),
        "cw": rng.uniform(0.2, 2.0, size=(V,)),
        "y": rng.integers(0, V, size=(N,)),
        "ct": rng.normal(size=(N,)),  # cotangent of the reduction="none" output
    }


def _objective(loss, reduction, ct):
    return loss if reduction != "none" else jnp.sum(ct * loss)


@functools.partial(jax.jit, static_argnames="reduction")
def _jax_default(h, w, y, ct, reduction):
    """The plain call (no options): value and gradients w.r.t. hidden and weight."""

    def f(h, w):
        loss = jaxloss.linear_cross_entropy(h, w, y, reduction=reduction)
        return _objective(loss, reduction, ct), loss

    (_, loss), grads = jax.value_and_grad(f, argnums=(0, 1), has_aux=True)(h, w)
    return loss, grads


@functools.partial(jax.jit, static_argnames="reduction")
def _jax_full(h, w, b, y, cw, eps, ct, reduction):
    """Every option passed (a zero bias / unit class weights / ε = 0 stand for "absent")."""

    def f(h, w, b):
        loss = jaxloss.linear_cross_entropy(
            h,
            w,
            y,
            bias=b,
            ignore_index=IGN,
            label_smoothing=eps,
            class_weights=cw,
            reduction=reduction,
            chunk_size=CHUNK,
        )
        return _objective(loss, reduction, ct), loss

    (_, loss), grads = jax.value_and_grad(f, argnums=(0, 1, 2), has_aux=True)(h, w, b)
    return loss, grads


def _torch(d, reduction, *, bias, ignore, eps, cw, options):
    """Value and gradients (hidden, weight [D, V], bias) from torch, float64."""
    h = torch.tensor(d["h"], requires_grad=True)
    wt = torch.tensor(d["w"].T.copy(), requires_grad=True)  # [V, D]
    b = torch.tensor(d["b"], requires_grad=True) if bias else None
    y = torch.tensor(d["y"], dtype=torch.int64)
    kwargs = {"reduction": reduction, "label_smoothing": eps, "options": options}
    if ignore:
        kwargs["ignore_index"] = IGN
    if cw:
        kwargs["weight"] = torch.tensor(d["cw"])
    loss = F.linear_cross_entropy(h, wt, y, linear_bias=b, **kwargs)
    obj = loss if reduction != "none" else (torch.tensor(d["ct"]) * loss).sum()
    obj.backward()
    gb = b.grad.numpy() if bias else None
    return loss.detach().numpy(), h.grad.numpy(), wt.grad.numpy().T, gb


def _close(got, want, what):
    np.testing.assert_allclose(np.asarray(got), want, rtol=RTOL, atol=ATOL, err_msg=what)


def _compare(d, reduction, got, *, bias, ignore, eps, cw):
    variants = [None]
    if LCEOptions is not None and eps == 0.0:
        # torch's chunked path: 3 rows per chunk (4 chunks) and its default ("auto") chunking
        variants += [LCEOptions(batch_chunk_size=3), LCEOptions()]
    loss, grads = got
    for options in variants:
        tag = f"torch options={options}"
        t_loss, t_gh, t_gw, t_gb = _torch(
            d, reduction, bias=bias, ignore=ignore, eps=eps, cw=cw, options=options
        )
        _close(loss, t_loss, f"value, {tag}")
        _close(grads[0], t_gh, f"d hidden, {tag}")
        _close(grads[1], t_gw, f"d weight, {tag}")
        if bias:
            _close(grads[2], t_gb, f"d bias, {tag}")


REDUCTIONS = ("mean", "sum", "none")

# name -> (bias, ignore_index, label_smoothing, class_weights)
CONFIGS = {
    "ignore_index": (False, True, 0.0, False),
    "label_smoothing": (False, False, 0.1, False),
    "class_weights": (False, False, 0.0, True),
    "bias": (True, False, 0.0, False),
    "ignore+smoothing+bias": (True, True, 0.2, False),
    "ignore+class_weights+bias": (True, True, 0.0, True),
}


def test_default_matches_torch():
    """The plain call (default chunk size, no options), ``"mean"``."""
    d = _data(1)
    got = _jax_default(d["h"], d["w"], d["y"], d["ct"], reduction="mean")
    _compare(d, "mean", got, bias=False, ignore=False, eps=0.0, cw=False)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("config", list(CONFIGS))
def test_options_match_torch(config, reduction):
    bias, ignore, eps, cw = CONFIGS[config]
    d = _data(2)
    if ignore:
        d["y"][[0, 5, 9]] = IGN  # includes the padded last chunk
    got = _jax_full(
        d["h"],
        d["w"],
        d["b"] if bias else np.zeros(V),
        d["y"],
        d["cw"] if cw else np.ones(V),
        np.float64(eps),
        d["ct"],
        reduction=reduction,
    )
    _compare(d, reduction, got, bias=bias, ignore=ignore, eps=eps, cw=cw)


@pytest.mark.slow
@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_random_grid_matches_torch(seed, reduction):
    """More draws of the widest combinations (same compiled functions as above)."""
    for config in ("ignore+smoothing+bias", "ignore+class_weights+bias"):
        bias, ignore, eps, cw = CONFIGS[config]
        d = _data(100 + seed)
        d["h"] *= 3.0  # sharper softmax
        d["y"][np.random.default_rng(seed).random(N) < 0.3] = IGN
        if np.all(d["y"] == IGN):
            d["y"][0] = 0  # torch's "mean" is 0 / 0 = NaN when every token is ignored
        got = _jax_full(
            d["h"], d["w"], d["b"], d["y"], d["cw"] if cw else np.ones(V), np.float64(eps),
            d["ct"], reduction=reduction,
        )  # fmt: skip
        _compare(d, reduction, got, bias=bias, ignore=ignore, eps=eps, cw=cw)
