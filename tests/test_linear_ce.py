"""Tests of the fused linear cross-entropy (jaxloss/_linear_ce.py).

Every implementation (``forward_grad`` / ``recompute`` / ``checkpoint``) is checked against a plain
float64 NumPy reference of the unfused loss (values) and ``jax.grad`` of a plain unfused ``jnp``
re-implementation (gradients w.r.t. hidden, weight, bias and the hyperparameters).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxloss
from jaxloss._linear_ce import linear_cross_entropy as lce_impl

from . import helpers

METHODS = ("forward_grad", "recompute", "checkpoint")
IGN = -100


def lce(*args, **kwargs):
    # the public function once exported, the module's function before that
    fn = getattr(jaxloss, "linear_cross_entropy", lce_impl)
    return fn(*args, **kwargs)


# ------------------------------------------------------------------ references (float64, unfused)


def ref_np(
    h,
    w,
    y,
    *,
    bias=None,
    ignore_index=None,
    label_smoothing=0.0,
    class_weights=None,
    z_loss=0.0,
    logit_softcap=None,
    weights=None,
    where=None,
    reduction="mean",
):
    h = np.asarray(h, np.float64)
    w = np.asarray(w, np.float64)
    y = np.asarray(y)
    z = h.reshape(-1, h.shape[-1]) @ w
    if bias is not None:
        z = z + np.asarray(bias, np.float64)
    finite = np.isfinite(z)
    if logit_softcap is not None:
        z = np.where(
            finite, logit_softcap * np.tanh(np.where(finite, z, 0.0) / logit_softcap), -np.inf
        )
    m = np.max(np.where(finite, z, -np.inf), axis=1, keepdims=True)
    lse = (
        m
        + np.log(
            np.sum(
                np.where(finite, np.exp(np.where(finite, z, 0.0) - m), 0.0), axis=1, keepdims=True
            )
        )
    )[:, 0]
    yf = y.reshape(-1)
    valid = np.ones(yf.shape, bool) if ignore_index is None else yf != ignore_index
    yc = np.where(valid, yf, 0)
    zy = z[np.arange(len(yf)), yc]
    k = finite.sum(axis=1)
    cwv = np.ones(w.shape[1]) if class_weights is None else np.asarray(class_weights, np.float64)
    # PyTorch: the smoothing term weights each class c by w_c; the rest is multiplied by w_y
    smooth = (
        np.where(finite, cwv[None, :] * (lse[:, None] - np.where(finite, z, 0.0)), 0.0).sum(axis=1)
        / k
    )
    eps = label_smoothing
    cw = cwv[yc]
    rows = cw * ((1 - eps) * (lse - zy) + z_loss * lse**2) + eps * smooth
    rows = np.where(valid, rows, 0.0)
    shape = y.shape
    mask = valid.reshape(shape)
    if where is not None:
        mask = mask & np.broadcast_to(np.asarray(where), shape)
    tok_w = (
        np.ones(shape)
        if weights is None
        else np.broadcast_to(np.asarray(weights, np.float64), shape)
    )
    return helpers.reduce_ref(
        rows.reshape(shape), tok_w, mask, reduction, normalizer=(cw.reshape(shape) * tok_w)
    )


def ref_jnp(
    h,
    w,
    bias,
    y,
    eps,
    zl,
    cap,
    *,
    ignore_index=None,
    class_weights=None,
    weights=None,
    where=None,
    reduction="mean",
):
    """Plain unfused jnp version (differentiable) used for reference gradients."""
    z = h.reshape(-1, h.shape[-1]) @ w
    if bias is not None:
        z = z + bias[None, :]
    if cap is not None:
        z = cap * jnp.tanh(z / cap)
    lse = jax.nn.logsumexp(z, axis=-1)
    yf = y.reshape(-1)
    valid = jnp.ones(yf.shape, bool) if ignore_index is None else yf != ignore_index
    yc = jnp.where(valid, yf, 0)
    zy = jnp.take_along_axis(z, yc[:, None], axis=1)[:, 0]
    cwv = jnp.ones(z.shape[-1], z.dtype) if class_weights is None else jnp.asarray(class_weights)
    cw = cwv[yc]
    smooth = jnp.mean(cwv[None, :] * (lse[:, None] - z), axis=-1)
    rows = cw * ((1 - eps) * (lse - zy) + zl * lse * lse) + eps * smooth
    tok_w = (
        jnp.ones(yf.shape, z.dtype)
        if weights is None
        else jnp.broadcast_to(weights, y.shape).reshape(-1)
    )
    mask = valid if where is None else valid & jnp.broadcast_to(where, y.shape).reshape(-1)
    num = jnp.where(mask, rows * tok_w, 0.0)
    if reduction == "none":
        return num.reshape(y.shape)
    if reduction == "sum":
        return jnp.sum(num)
    return jnp.sum(num) / jnp.sum(jnp.where(mask, cw * tok_w, 0.0))


def make(seed, lead=(13,), d=6, v=11, ignore=True):
    r = helpers.rng(seed)
    h = r.normal(size=lead + (d,))
    w = r.normal(size=(d, v)) * 0.7
    b = r.normal(size=(v,))
    y = r.integers(0, v, size=lead)
    if ignore:
        y.reshape(-1)[::5] = IGN
    return h, w, b, y


# ------------------------------------------------------------------ values and gradients

OPTION_SETS = [
    dict(),
    dict(bias=True, ignore_index=IGN),
    dict(ignore_index=IGN, label_smoothing=0.2, z_loss=1e-2),
    dict(bias=True, ignore_index=IGN, class_weights=True, logit_softcap=2.5),
    dict(
        bias=True,
        ignore_index=IGN,
        label_smoothing=0.1,
        class_weights=True,
        z_loss=1e-3,
        logit_softcap=4.0,
        weights=True,
        where=True,
    ),
]


def _options(opts, h, b, y, v, seed=1):
    r = helpers.rng(seed)
    kw = dict(opts)
    if kw.pop("bias", False):
        kw["bias"] = b
    if kw.pop("class_weights", False):
        kw["class_weights"] = r.uniform(0.2, 2.0, size=v)
    if kw.pop("weights", False):
        kw["weights"] = r.uniform(0.0, 2.0, size=y.shape)
    if kw.pop("where", False):
        kw["where"] = r.uniform(size=y.shape) > 0.3
    return kw


# Default tier: every option set on the default method, and all options at once on the other two;
# the rest of the grid in the slow tier.
_LAST = len(OPTION_SETS) - 1


@pytest.mark.parametrize(
    "method,opt_i",
    helpers.tiered(
        [
            (m, i)
            for m in METHODS
            for i in range(len(OPTION_SETS))
            if m != "checkpoint" or i in (0, _LAST)
        ],
        default=[("forward_grad", i) for i in range(len(OPTION_SETS))]
        + [("recompute", _LAST), ("checkpoint", _LAST)],
    ),
)
def test_value_and_grad_match_unfused(method, opt_i):
    lead = (13,) if opt_i % 2 == 0 else (3, 5)  # two shapes; 13 and 15 tokens do not divide chunk 4
    (
        h,
        w,
        b,
        y,
    ) = make(opt_i, lead=lead, ignore=("ignore_index" in OPTION_SETS[opt_i]))
    kw = _options(OPTION_SETS[opt_i], h, b, y, w.shape[1])
    for reduction in ("mean", "sum", "none"):
        got = lce(
            jnp.asarray(h),
            jnp.asarray(w),
            jnp.asarray(y),
            chunk_size=4,
            method=method,
            reduction=reduction,
            **{
                k: (jnp.asarray(v) if not isinstance(v, (int, float)) else v) for k, v in kw.items()
            },
        )
        helpers.assert_close(got, ref_np(h, w, y, reduction=reduction, **kw), err_msg=reduction)

    eps = kw.pop("label_smoothing", 0.0)
    zl = kw.pop("z_loss", 0.0)
    cap = kw.pop("logit_softcap", None)
    has_bias = "bias" in kw
    bias = kw.pop("bias", b)
    ignore_index = kw.pop("ignore_index", None)
    kw = {k: jnp.asarray(v) for k, v in kw.items()}
    yj = jnp.asarray(y)

    def fused(h, w, bias, eps, zl, cap):
        return lce(
            h,
            w,
            yj,
            bias=bias if has_bias else None,
            ignore_index=ignore_index,
            label_smoothing=eps,
            z_loss=zl,
            logit_softcap=cap,
            chunk_size=4,
            method=method,
            **kw,
        )

    def unfused(h, w, bias, eps, zl, cap):
        return ref_jnp(
            h, w, bias if has_bias else None, yj, eps, zl, cap, ignore_index=ignore_index, **kw
        )

    args = (
        jnp.asarray(h),
        jnp.asarray(w),
        jnp.asarray(bias),
        jnp.asarray(eps),
        jnp.asarray(zl),
        None if cap is None else jnp.asarray(cap),
    )
    argnums = (0, 1, 2, 3, 4) + ((5,) if cap is not None else ())
    g = jax.jit(jax.grad(fused, argnums=argnums))(*args)
    g_ref = jax.jit(jax.grad(unfused, argnums=argnums))(*args)
    for name, a, e in zip(
        ("hidden", "weight", "bias", "label_smoothing", "z_loss", "softcap"), g, g_ref, strict=False
    ):
        helpers.assert_close(a, e, err_msg=name)


def test_default_path_jit_and_chunking():
    h, w, b, y = make(7, lead=(37,), d=8, v=19)
    kw = dict(bias=jnp.asarray(b), ignore_index=IGN, label_smoothing=0.1)
    f = jax.jit(jax.value_and_grad(lambda h, w: lce(h, w, jnp.asarray(y), **kw), argnums=(0, 1)))
    v, (gh, gw) = f(jnp.asarray(h), jnp.asarray(w))
    helpers.assert_close(v, ref_np(h, w, y, bias=b, ignore_index=IGN, label_smoothing=0.1))
    for chunk in (5, 64):  # 37 tokens: padded chunks; chunk 64 > 37 tokens: one chunk
        v2, (gh2, gw2) = jax.value_and_grad(
            lambda h, w: lce(h, w, jnp.asarray(y), chunk_size=chunk, **kw), argnums=(0, 1)
        )(jnp.asarray(h), jnp.asarray(w))
        helpers.assert_close(v2, v)
        helpers.assert_close(gh2, gh)
        helpers.assert_close(gw2, gw)


def test_against_sparse_softmax_cross_entropy():
    """Same value and gradients as the unfused public loss on ``hidden @ weight + bias``."""
    h, w, b, y = make(3, lead=(2, 7), d=5, v=9)
    kw = dict(
        ignore_index=IGN,
        label_smoothing=0.1,
        z_loss=1e-3,
        logit_softcap=3.0,
        class_weights=jnp.asarray(helpers.rng(5).uniform(0.5, 2.0, 9)),
    )
    yj = jnp.asarray(y)
    try:
        jaxloss.sparse_softmax_cross_entropy(jnp.zeros((2, 3)), jnp.zeros((2,), jnp.int32))
    except NotImplementedError:
        pytest.skip("sparse_softmax_cross_entropy not implemented yet")

    def unfused(h, w, b):
        return jaxloss.sparse_softmax_cross_entropy(h @ w + b[None, None, :], yj, **kw)

    def fused(h, w, b):
        return lce(h, w, yj, bias=b, chunk_size=4, **kw)

    args = tuple(jnp.asarray(a) for a in (h, w, b))
    v, g = jax.jit(jax.value_and_grad(fused, argnums=(0, 1, 2)))(*args)
    v_ref, g_ref = jax.jit(jax.value_and_grad(unfused, argnums=(0, 1, 2)))(*args)
    helpers.assert_close(v, v_ref)
    for a, e in zip(g, g_ref, strict=False):
        helpers.assert_close(a, e)


def test_against_torch():
    torch = helpers.torch_or_skip()
    h, w, b, y = make(11, lead=(21,), d=6, v=10)
    cw = helpers.rng(2).uniform(0.5, 2.0, 10)
    for kw, tkw in [
        (dict(ignore_index=IGN), dict(ignore_index=IGN)),
        (
            dict(ignore_index=IGN, label_smoothing=0.3, class_weights=cw),
            dict(ignore_index=IGN, label_smoothing=0.3),
        ),
        (
            dict(ignore_index=IGN, class_weights=cw, reduction="sum"),
            dict(ignore_index=IGN, reduction="sum"),
        ),
    ]:
        th, tw, tb = (helpers.to_torch(a, torch).requires_grad_() for a in (h, w, b))
        logits = th @ tw + tb
        ty = helpers.to_torch(y, torch).long()
        weight_t = helpers.to_torch(cw, torch) if "class_weights" in kw else None
        out = torch.nn.functional.cross_entropy(logits, ty, weight=weight_t, **tkw)
        out.backward()
        yj = jnp.asarray(ty.numpy())
        kwj = {k: (jnp.asarray(v) if isinstance(v, np.ndarray) else v) for k, v in kw.items()}
        v, g = jax.value_and_grad(
            lambda h, w, b: lce(h, w, yj, bias=b, chunk_size=8, **kwj), argnums=(0, 1, 2)
        )(*(jnp.asarray(a) for a in (h, w, b)))
        helpers.assert_close(v, out.detach().numpy(), err_msg=str(kw))
        for a, t in zip(g, (th, tw, tb), strict=False):
            helpers.assert_close(a, t.grad.numpy(), err_msg=str(kw))


# ------------------------------------------------------------------ edge cases


# every method's value and gradient are compared with the unfused loss above; the all-ignored edge
# runs on the default method in the default tier, on all three in the exhaustive tier
@pytest.mark.parametrize("method", helpers.tiered([(m,) for m in METHODS], [("forward_grad",)]))
def test_all_ignored_is_exactly_zero(method):
    h, w, b, _ = make(2, lead=(6,))
    y = jnp.full((6,), IGN)
    for reduction in ("mean", "sum", "none"):
        f = lambda h, w, b: jnp.sum(
            lce(
                h,
                w,
                y,
                bias=b,
                ignore_index=IGN,
                z_loss=0.1,
                label_smoothing=0.1,
                chunk_size=4,
                method=method,
                reduction=reduction,
            )
        )
        v, g = jax.value_and_grad(f, argnums=(0, 1, 2))(*(jnp.asarray(a) for a in (h, w, b)))
        assert float(v) == 0.0
        for a in g:
            assert np.all(np.asarray(a) == 0.0)
    # where all False, "none" gives exact zeros
    out = lce(
        jnp.asarray(h),
        jnp.asarray(w),
        jnp.zeros((6,), jnp.int32),
        where=jnp.zeros((6,), bool),
        reduction="none",
        method=method,
    )
    assert np.all(np.asarray(out) == 0.0)


@pytest.mark.parametrize("method", METHODS)
def test_masked_vocabulary_and_large_logits(method):
    h, w, b, y = make(4, lead=(9,), ignore=False)
    b = b.copy()
    b[[2, 7]] = -np.inf
    y = np.where(np.isin(y, [2, 7]), 0, y)
    w = w * 500.0  # logits of order 1e3..1e4
    for cap in (None, 30.0):
        kw = dict(bias=b, label_smoothing=0.2, z_loss=1e-4, logit_softcap=cap)
        with helpers.debug_nans():
            v, g = jax.value_and_grad(
                lambda h, w, b: lce(
                    h, w, jnp.asarray(y), chunk_size=4, method=method, **{**kw, "bias": b}
                ),
                argnums=(0, 1, 2),
            )(*(jnp.asarray(a) for a in (h, w, b)))
        helpers.assert_finite((v, g))
        helpers.assert_close(v, ref_np(h, w, y, **kw), rtol=1e-9)
        assert np.all(np.asarray(g[2])[[2, 7]] == 0.0)


def test_bf16_inputs():
    h, w, b, y = make(6, lead=(2, 9), d=16, v=40)
    hb, wb, bb = (jnp.asarray(a, jnp.bfloat16) for a in (h, w, b))
    # float64 reference on the same rounded values
    h64, w64, b64 = (np.asarray(a.astype(jnp.float32), np.float64) for a in (hb, wb, bb))
    yj = jnp.asarray(y)
    for method in ("forward_grad", "recompute"):
        f = lambda h, w, b: lce(
            h,
            w,
            yj,
            bias=b,
            ignore_index=IGN,
            label_smoothing=0.1,
            z_loss=1e-3,
            chunk_size=8,
            method=method,
        )
        v, g = jax.jit(jax.value_and_grad(f, argnums=(0, 1, 2)))(hb, wb, bb)
        assert v.dtype == jnp.float32
        assert [a.dtype for a in g] == [jnp.bfloat16] * 3
        helpers.assert_close(
            v,
            ref_np(h64, w64, y, bias=b64, ignore_index=IGN, label_smoothing=0.1, z_loss=1e-3),
            rtol=2e-5,
            atol=2e-6,
        )
        g_ref = jax.jit(
            jax.grad(
                lambda h, w, b: ref_jnp(h, w, b, yj, 0.1, 1e-3, None, ignore_index=IGN),
                argnums=(0, 1, 2),
            )
        )(*(jnp.asarray(a) for a in (h64, w64, b64)))
        for a, e in zip(g, g_ref, strict=False):
            e = np.asarray(e)
            # bf16 output rounding (2^-8 relative) plus the bf16 logit-gradient block in the matmul
            err = np.linalg.norm(np.asarray(a, np.float64) - e) / np.linalg.norm(e)
            assert err < 1e-2, err


def test_float32_matches_float64_within_rounding():
    h, w, b, y = make(8, lead=(33,), d=12, v=50)
    f32 = lce(
        jnp.asarray(h, jnp.float32),
        jnp.asarray(w, jnp.float32),
        jnp.asarray(y),
        bias=jnp.asarray(b, jnp.float32),
        ignore_index=IGN,
        chunk_size=8,
    )
    assert f32.dtype == jnp.float32
    helpers.assert_close(
        f32,
        ref_np(
            h.astype(np.float32),
            w.astype(np.float32),
            y,
            bias=b.astype(np.float32),
            ignore_index=IGN,
        ),
        dtype=np.float32,
    )


# ------------------------------------------------------------------ transformations


def test_checkpoint_method_supports_jvp_and_second_order():
    h, w, b, y = make(9, lead=(5,), d=3, v=4, ignore=False)
    yj = jnp.asarray(y)
    f = lambda h, w: lce(
        h,
        w,
        yj,
        label_smoothing=0.1,
        z_loss=1e-2,
        logit_softcap=3.0,
        chunk_size=2,
        method="checkpoint",
    )
    helpers.grads_f64(f, (h, w), order=1, modes=("fwd",))  # jvp against finite differences
    g = lambda h, w: ref_jnp(h, w, None, yj, 0.1, 1e-2, 3.0)
    hess = jax.jit(jax.hessian(f, argnums=(0, 1)))(jnp.asarray(h), jnp.asarray(w))
    hess_ref = jax.jit(jax.hessian(g, argnums=(0, 1)))(jnp.asarray(h), jnp.asarray(w))
    for a, e in zip(
        jax.tree_util.tree_leaves(hess), jax.tree_util.tree_leaves(hess_ref), strict=False
    ):
        helpers.assert_close(a, e, rtol=1e-8, atol=1e-10)


@pytest.mark.parametrize("method", METHODS)
def test_out_of_range_label_gives_nan(method):
    h, w, b, y = make(13, lead=(6,), ignore=False)
    y[2] = w.shape[1]  # invalid, not ignore_index
    out = lce(
        jnp.asarray(h),
        jnp.asarray(w),
        jnp.asarray(y),
        ignore_index=IGN,
        chunk_size=4,
        method=method,
        reduction="none",
    )
    assert np.isnan(np.asarray(out)[2])
    assert np.all(np.isfinite(np.delete(np.asarray(out), 2)))


def test_fast_path_is_reverse_only():
    h, w, b, y = make(10, lead=(5,), ignore=False)
    f = lambda h: lce(h, jnp.asarray(w), jnp.asarray(y))
    with pytest.raises(TypeError, match="custom_vjp"):
        jax.jvp(f, (jnp.asarray(h),), (jnp.ones_like(jnp.asarray(h)),))


def test_vmap_over_batch_and_hyperparameters():
    h, w, b, y = make(12, lead=(3, 6), d=4, v=7, ignore=False)
    hj, wj, yj = jnp.asarray(h), jnp.asarray(w), jnp.asarray(y)
    got = jax.vmap(lambda hh, yy: lce(hh, wj, yy, chunk_size=4))(hj, yj)
    one = jax.jit(lambda hh, yy: lce(hh, wj, yy, chunk_size=4))  # one compile for the loop
    want = jnp.stack([one(hj[i], yj[i]) for i in range(3)])
    helpers.assert_close(got, want)
    eps = jnp.asarray([0.0, 0.1, 0.5])
    got = jax.jit(jax.vmap(lambda e: lce(hj, wj, yj, label_smoothing=e, z_loss=e / 10)))(eps)
    want = [ref_np(h, w, y, label_smoothing=float(e), z_loss=float(e) / 10) for e in eps]
    helpers.assert_close(got, np.asarray(want))
    g = jax.vmap(jax.grad(lambda e: lce(hj, wj, yj, label_smoothing=e)))(eps)
    g_one = jax.jit(jax.grad(lambda e: ref_jnp(hj, wj, None, yj, e, 0.0, None)))
    g_loop = [g_one(e) for e in eps]
    helpers.assert_close(g, jnp.stack(g_loop))


def test_temp_memory_is_bounded():
    """The compiled forward+backward holds no [tokens, vocab] buffer (memory_analysis)."""
    n, d, v = 1024, 32, 4096
    h = jax.ShapeDtypeStruct((n, d), jnp.float32)
    w = jax.ShapeDtypeStruct((d, v), jnp.float32)
    y = jax.ShapeDtypeStruct((n,), jnp.int32)

    def temp(f):
        return (
            jax.jit(jax.value_and_grad(f, argnums=(0, 1)))
            .lower(h, w, y)
            .compile()
            .memory_analysis()
            .temp_size_in_bytes
        )

    unfused = temp(
        lambda h, w, y: jnp.mean(
            jax.nn.logsumexp(h @ w, axis=-1) - jnp.take_along_axis(h @ w, y[:, None], axis=1)[:, 0]
        )
    )
    logits_bytes = n * v * 4
    assert unfused >= logits_bytes
    for method in ("forward_grad", "recompute"):
        fused = temp(lambda h, w, y: lce(h, w, y, chunk_size=64, method=method))
        # at most a few [chunk, vocab] blocks plus the [D, V] weight-gradient accumulator
        assert fused <= 4 * 64 * v * 4 + 2 * d * v * 4 + 4 * n * d * 4, (method, fused)
        assert fused * 4 < unfused


# ------------------------------------------------------------------ errors and registry


def test_trace_time_errors():
    h = jnp.zeros((4, 3))
    w = jnp.zeros((3, 5))
    y = jnp.zeros((4,), jnp.int32)
    with pytest.raises(ValueError, match="linear_cross_entropy: 'weight'"):
        lce(h, jnp.zeros((4, 5)), y)
    with pytest.raises(ValueError, match="linear_cross_entropy: 'labels'"):
        lce(h, w, jnp.zeros((3,), jnp.int32))
    with pytest.raises(TypeError, match="linear_cross_entropy: 'labels'"):
        lce(h, w, jnp.zeros((4,)))
    with pytest.raises(ValueError, match="linear_cross_entropy: 'bias'"):
        lce(h, w, y, bias=jnp.zeros((4,)))
    with pytest.raises(ValueError, match="linear_cross_entropy: 'class_weights'"):
        lce(h, w, y, class_weights=jnp.ones((4,)))
    with pytest.raises(ValueError, match="linear_cross_entropy: 'label_smoothing'"):
        lce(h, w, y, label_smoothing=1.5)
    with pytest.raises(ValueError, match="linear_cross_entropy: 'z_loss'"):
        lce(h, w, y, z_loss=-1.0)
    with pytest.raises(ValueError, match="linear_cross_entropy: 'logit_softcap'"):
        lce(h, w, y, logit_softcap=0.0)
    with pytest.raises(ValueError, match="linear_cross_entropy: 'reduction'"):
        lce(h, w, y, reduction="avg")
    with pytest.raises(ValueError, match="linear_cross_entropy: 'chunk_size'"):
        lce(h, w, y, chunk_size=0)
    with pytest.raises(ValueError, match="linear_cross_entropy: 'method'"):
        lce(h, w, y, method="fast")
    with pytest.raises(ValueError, match="linear_cross_entropy: 'weights'"):
        lce(h, w, y, weights=jnp.ones((5,)))


def test_registry():
    if not hasattr(jaxloss, "linear_cross_entropy"):
        pytest.skip("not exported yet")
    assert jaxloss.get("linear_cross_entropy") is jaxloss.linear_cross_entropy
    assert "linear_cross_entropy" in jaxloss.list_losses()
