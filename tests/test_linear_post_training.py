"""Fused post-training on the chunked engine: linear_token_log_probs, linear_distillation_loss.

References are float64 NumPy written plainly (softmax, entropy, generalized JSD, cross-entropy
of ``h @ W + b``) and the unfused logits-level functions of jaxloss. Sizes are small and shared
(one compile per function); the memory checks compile at N=512, D=64, V=4096.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.test_util import check_grads

import jaxloss

N, D, DT, V, CHUNK = 13, 5, 7, 11, 4  # 13 tokens: three chunks of 4 and one padded chunk
MASKED = 3  # a class masked by a -inf bias in the masked cases


def _data(dtype=np.float32, seed=0):
    rng = np.random.default_rng(seed)
    h = rng.normal(size=(N, D)).astype(dtype)
    w = rng.normal(size=(D, V)).astype(dtype)
    b = rng.normal(size=(V,)).astype(dtype)
    ht = rng.normal(size=(N, DT)).astype(dtype)
    wt = rng.normal(size=(DT, V)).astype(dtype)
    bt = rng.normal(size=(V,)).astype(dtype)
    y = rng.integers(0, V, size=(N,))
    y[y == MASKED] = MASKED + 1
    ct1 = rng.normal(size=(N,))
    ct2 = rng.normal(size=(N,))
    return h, w, b, ht, wt, bt, y, ct1, ct2


# ---------------------------------------------------------------- float64 NumPy references


def np_logits(h, w, b=None, cap=None, tau=1.0):
    z = np.asarray(h, np.float64) @ np.asarray(w, np.float64)
    if b is not None:
        z = z + np.asarray(b, np.float64)
    if cap is not None:
        with np.errstate(invalid="ignore"):
            z = np.where(np.isfinite(z), cap * np.tanh(z / cap), -np.inf)
    return z / tau


def np_log_softmax(z):
    m = np.max(np.where(np.isfinite(z), z, -np.inf), axis=-1, keepdims=True)
    lse = m + np.log(np.sum(np.exp(z - m), axis=-1, keepdims=True))
    return np.where(np.isfinite(z), z - lse, -np.inf)


def np_token(z, y):
    lp = np_log_softmax(z)
    p = np.exp(lp)
    ent = -np.sum(np.where(p > 0, p * np.where(p > 0, lp, 0.0), 0.0), axis=-1)
    return lp[np.arange(len(y)), y], ent


def np_kl(lp, lq):
    p = np.exp(lp)
    return np.sum(np.where(p > 0, p * (np.where(p > 0, lp, 0) - np.where(p > 0, lq, 0)), 0), -1)


def np_gjsd(zs, zt, beta, tau):
    ls, lt = np_log_softmax(zs / tau), np_log_softmax(zt / tau)
    if beta == 0:
        return np_kl(lt, ls)
    if beta == 1:
        return np_kl(ls, lt)
    with np.errstate(divide="ignore"):
        lm = np.log(beta * np.exp(lt) + (1 - beta) * np.exp(ls))
    return beta * np_kl(lt, lm) + (1 - beta) * np_kl(ls, lm)


def np_ce(z, y):
    return -np_log_softmax(z)[np.arange(len(y)), y]


def _close(got, want, rtol=1e-6):
    got, want = np.asarray(got, np.float64), np.asarray(want, np.float64)
    scale = np.max(np.abs(want[np.isfinite(want)]), initial=1.0)
    np.testing.assert_allclose(got, want, rtol=rtol, atol=rtol * scale)


# ---------------------------------------------------------------- linear_token_log_probs


def _fused_tlp(h, w, y, b, tau, cap, entropy=True):
    return jaxloss.linear_token_log_probs(
        h,
        w,
        y,
        bias=b,
        temperature=tau,
        logit_softcap=cap,
        return_entropy=entropy,
        chunk_size=CHUNK,
    )


_tlp = jax.jit(_fused_tlp, static_argnames="entropy")


def test_token_log_probs_values_against_float64_numpy():
    h, w, b, _, _, _, y, _, _ = _data()
    for tau, cap in ((1.0, None), (1.7, 4.0)):
        lp, ent = _tlp(h, w, y, b, tau, cap)
        assert lp.dtype == jnp.float32 and lp.shape == (N,)
        want_lp, want_ent = np_token(np_logits(h, w, b, cap, tau), y)
        _close(lp, want_lp)
        _close(ent, want_ent)
        # equal to the unfused logits-level function
        z = jnp.asarray(np_logits(h, w, b, cap).astype(np.float32))
        ref_lp, ref_ent = jaxloss.token_log_probs(z, y, temperature=tau, return_entropy=True)
        _close(lp, ref_lp, rtol=2e-6)
        _close(ent, ref_ent, rtol=2e-6)


def test_token_log_probs_leading_shape_and_no_entropy():
    h, w, _, _, _, _, y, _, _ = _data()
    h3 = h[:12].reshape(3, 4, D)
    lp = jaxloss.linear_token_log_probs(h3, w, y[:12].reshape(3, 4), chunk_size=5)
    assert lp.shape == (3, 4)
    _close(lp.reshape(-1), np_token(np_logits(h[:12], w), y[:12])[0])


def _unfused_tlp(h, w, b, tau, cap, y):
    z = h @ w + b[None, :]
    z = cap * jnp.tanh(z / cap)
    return jaxloss.token_log_probs(z, y, temperature=tau, return_entropy=True)


@pytest.mark.parametrize("with_f32", [False, pytest.param(True, marks=pytest.mark.slow)])
def test_token_log_probs_gradients_any_cotangent_against_unfused_float64(with_f32):
    h, w, b, _, _, _, y, ct1, ct2 = (jnp.asarray(a) for a in _data(np.float64))

    def scalar(f):
        def g(h, w, b, tau, cap):
            lp, ent = f(h, w, b, tau, cap)
            return jnp.sum(ct1.astype(lp.dtype) * lp) + jnp.sum(ct2.astype(lp.dtype) * ent)

        return g

    fused = scalar(lambda h, w, b, tau, cap: _fused_tlp(h, w, y, b, tau, cap))
    unfused = scalar(lambda h, w, b, tau, cap: _unfused_tlp(h, w, b, tau, cap, y))
    args = (h, w, b, jnp.float64(1.7), jnp.float64(4.0))
    got = jax.jit(jax.grad(fused, argnums=(0, 1, 2, 3, 4)))(*args)
    want = jax.grad(unfused, argnums=(0, 1, 2, 3, 4))(*args)
    for g, r in zip(got, want, strict=True):
        np.testing.assert_allclose(g, r, rtol=1e-10, atol=1e-12)

    if with_f32:
        # float32 inputs against the float64 gradient
        args32 = tuple(a.astype(jnp.float32) for a in args)
        got32 = jax.jit(jax.grad(fused, argnums=(0, 1, 2)))(*args32)
        for g, r in zip(got32, want[:3], strict=True):
            assert g.dtype == jnp.float32
            np.testing.assert_allclose(g, r, rtol=2e-5, atol=2e-5 * float(jnp.max(jnp.abs(r))))


@pytest.mark.slow
def test_token_log_probs_check_grads():
    h, w, b, _, _, _, y, _, _ = (jnp.asarray(a) for a in _data(np.float64))

    def f(h, w, b):
        lp, ent = _fused_tlp(h, w, y, b, 1.3, 3.0)
        return lp, ent

    check_grads(f, (h, w, b), order=1, modes=("rev",))


def test_token_log_probs_masked_classes_are_finite():
    h, w, b, _, _, _, y, ct1, ct2 = _data()
    b = b.copy()
    b[MASKED] = -np.inf
    y_on_masked = y.copy()
    y_on_masked[0] = MASKED

    def f(h, w, b, tau, cap):
        lp, ent = _fused_tlp(h, w, y_on_masked, b, tau, cap)
        c1, c2 = ct1.astype(np.float32), ct2.astype(np.float32)
        return jnp.sum(jnp.where(jnp.isfinite(lp), lp * c1, 0.0)) + jnp.sum(ent * c2), (lp, ent)

    (_, (lp, ent)), grads = jax.jit(jax.value_and_grad(f, argnums=(0, 1, 2, 3, 4), has_aux=True))(
        h, w, b, 1.5, 2.0
    )
    # a token on the masked class: -inf with no gradient; every other value finite
    assert lp[0] == -np.inf and np.all(np.isfinite(lp[1:])) and np.all(np.isfinite(ent))
    for g in grads:
        assert np.all(np.isfinite(g))
    assert grads[2][MASKED] == 0
    want_lp, want_ent = np_token(np_logits(h, w, b, 2.0, 1.5), y_on_masked)
    _close(lp[1:], want_lp[1:])
    _close(ent, want_ent)


def test_token_log_probs_bf16_inputs_computed_in_float32():
    h, w, b, _, _, _, y, ct1, ct2 = _data()
    hb, wb, bb = (jnp.asarray(a, jnp.bfloat16) for a in (h, w, b))

    def f(h, w, b):
        lp, ent = _fused_tlp(h, w, y, b, 1.0, None)
        return jnp.sum(ct1.astype(np.float32) * lp) + jnp.sum(ct2.astype(np.float32) * ent)

    lp, ent = _tlp(hb, wb, y, bb, 1.0, None)
    assert lp.dtype == jnp.float32 and ent.dtype == jnp.float32
    # the bf16 values, exactly represented, in float64: only the f32 math differs
    want_lp, want_ent = np_token(np_logits(*(np.asarray(a, np.float64) for a in (hb, wb, bb))), y)
    _close(lp, want_lp)
    _close(ent, want_ent)
    grads = jax.grad(f, argnums=(0, 1, 2))(hb, wb, bb)
    assert all(g.dtype == jnp.bfloat16 for g in grads)


def test_token_log_probs_out_of_range_token_is_nan():
    h, w, b, _, _, _, y, _, _ = _data()
    bad = y.copy()
    bad[5] = V  # out of range

    def f(h):
        return jnp.sum(_fused_tlp(h, w, bad, b, 1.0, None, entropy=False))

    lp = _tlp(h, w, bad, b, 1.0, None, entropy=False)
    assert np.isnan(lp[5]) and np.all(np.isfinite(np.delete(np.asarray(lp), 5)))
    g = jax.grad(f)(h)
    assert np.all(np.isnan(g[5])) and np.all(np.isfinite(np.delete(np.asarray(g), 5, axis=0)))


# ---------------------------------------------------------------- linear_distillation_loss


def _fused_distill(hs, ws, bs, ht, wt, bt, y, beta, tau, hw, weights=None, reduction="mean"):
    return jaxloss.linear_distillation_loss(
        hs,
        ws,
        ht,
        wt,
        y,
        student_bias=bs,
        teacher_bias=bt,
        beta=beta,
        temperature=tau,
        hard_weight=hw,
        ignore_index=-100,
        chunk_size=CHUNK,
        weights=weights,
        reduction=reduction,
    )


_distill = jax.jit(_fused_distill, static_argnames="reduction")


def _np_distill_rows(hs, ws, bs, ht, wt, bt, y, beta, tau, hw):
    zs, zt = np_logits(hs, ws, bs), np_logits(ht, wt, bt)
    keep = y != -100
    rows = np_gjsd(zs, zt, beta, tau) + hw * np_ce(zs, np.where(keep, y, 0))
    return np.where(keep, rows, 0.0), keep


def test_distillation_values_against_float64_numpy_and_unfused():
    hs, ws, bs, ht, wt, bt, y, _, ct = _data()
    y = y.copy()
    y[[2, 7]] = -100
    wts = np.abs(ct).astype(np.float32)
    for beta in (0.0, 0.4, 1.0):
        rows_ref, keep = _np_distill_rows(hs, ws, bs, ht, wt, bt, y, beta, 2.0, 0.3)
        rows = _distill(hs, ws, bs, ht, wt, bt, y, beta, 2.0, 0.3, reduction="none")
        assert rows.shape == (N,) and rows.dtype == jnp.float32
        _close(rows, rows_ref)
        _close(_distill(hs, ws, bs, ht, wt, bt, y, beta, 2.0, 0.3), rows_ref.sum() / keep.sum())
        got = _distill(hs, ws, bs, ht, wt, bt, y, beta, 2.0, 0.3, weights=wts, reduction="sum")
        _close(got, np.sum(wts * rows_ref))
        # the unfused logits-level loss (hard_weight 0)
        zs = jnp.asarray(np_logits(hs, ws, bs).astype(np.float32))
        zt = jnp.asarray(np_logits(ht, wt, bt).astype(np.float32))
        want = jaxloss.distillation_loss(
            zs, zt, beta=beta, temperature=2.0, labels=y, ignore_index=-100
        )
        _close(_distill(hs, ws, bs, ht, wt, bt, y, beta, 2.0, 0.0), want, rtol=2e-6)


def _unfused_distill(hs, ws, bs, ht, wt, bt, y, beta, tau, hw, reduction):
    zs, zt = hs @ ws + bs[None, :], ht @ wt + bt[None, :]
    kw = dict(ignore_index=-100, reduction=reduction)
    soft = jaxloss.distillation_loss(zs, zt, beta=beta, temperature=tau, labels=y, **kw)
    return soft + hw * jaxloss.sparse_softmax_cross_entropy(zs, y, **kw)


@pytest.mark.parametrize("reduction", ["mean", pytest.param("none", marks=pytest.mark.slow)])
def test_distillation_gradients_against_unfused_float64(reduction):
    hs, ws, bs, ht, wt, bt, y, ct, _ = (jnp.asarray(a) for a in _data(np.float64))
    y = y.at[4].set(-100)
    bs = bs.at[MASKED].set(-jnp.inf)  # a class masked in both heads
    bt = bt.at[MASKED].set(-jnp.inf)

    def scalar(f):
        def g(hs, ws, bs, ht, wt, bt, beta, tau, hw):
            out = f(hs, ws, bs, ht, wt, bt, y, beta, tau, hw, reduction=reduction)
            return jnp.sum(out * ct) if reduction == "none" else out

        return g

    argnums = tuple(range(9))
    args = (hs, ws, bs, ht, wt, bt, jnp.float64(0.3), jnp.float64(1.5), jnp.float64(0.7))
    got = jax.jit(jax.grad(scalar(_fused_distill), argnums))(*args)
    want = jax.grad(scalar(_unfused_distill), argnums)(*args)
    for i, (g, r) in enumerate(zip(got, want, strict=True)):
        if i in (3, 4, 5):  # the teacher gets no gradient
            assert np.all(g == 0)
            continue
        assert np.all(np.isfinite(g))
        np.testing.assert_allclose(g, r, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize(
    "beta",
    [0.3, pytest.param(0.0, marks=pytest.mark.slow), pytest.param(1.0, marks=pytest.mark.slow)],
)
def test_distillation_closed_form_gradients_static_beta_against_unfused_float64(beta):
    """Concrete β and τ select the closed-form block gradient (no jax.vjp on the block)."""
    hs, ws, bs, ht, wt, bt, y, _, _ = (jnp.asarray(a) for a in _data(np.float64))
    y = y.at[4].set(-100)
    bs = bs.at[MASKED].set(-jnp.inf)
    bt = bt.at[MASKED].set(-jnp.inf)
    wts = jnp.linspace(0.5, 2.0, N)

    def loss(f, hs, ws, bs, hw):
        return f(hs, ws, bs, ht, wt, bt, y, beta, 1.5, hw, reduction="none") @ wts

    argnums = (1, 2, 3, 4)
    args = (hs, ws, bs, jnp.float64(0.7))
    got = jax.grad(loss, argnums)(_fused_distill, *args)
    want = jax.grad(loss, argnums)(_unfused_distill, *args)
    for g, r in zip(got, want, strict=True):
        assert np.all(np.isfinite(g))
        np.testing.assert_allclose(g, r, rtol=1e-9, atol=1e-12)


@pytest.mark.slow
def test_distillation_check_grads_and_beta_ends():
    hs, ws, bs, ht, wt, bt, y, _, _ = (jnp.asarray(a) for a in _data(np.float64))

    def f(hs, ws, bs, tau, hw):
        return _fused_distill(hs, ws, bs, ht, wt, bt, y, 0.5, tau, hw)

    check_grads(f, (hs, ws, bs, 1.3, 0.4), order=1, modes=("rev",))
    # β = 0 and β = 1 are the two KLs, with finite gradients
    for beta in (0.0, 1.0):
        g = jax.grad(
            lambda hs, b=beta: _fused_distill(
                hs, ws, bs, ht, wt, bt, y, b, 1.0, 0.0, reduction="sum"
            )
        )(hs)
        assert np.all(np.isfinite(g))


def test_distillation_masked_classes_bf16_and_empty_mask():
    hs, ws, bs, ht, wt, bt, y, _, _ = _data()
    bs, bt = bs.copy(), bt.copy()
    bs[MASKED] = bt[MASKED] = -np.inf
    args = tuple(jnp.asarray(a, jnp.bfloat16) for a in (hs, ws, bs, ht, wt, bt))

    def f(hs, ws, bs):
        return _fused_distill(hs, ws, bs, *args[3:], y, 0.5, 2.0, 0.5)

    value, grads = jax.value_and_grad(f, argnums=(0, 1, 2))(*args[:3])
    assert value.dtype == jnp.float32 and np.isfinite(value)
    assert all(
        g.dtype == jnp.bfloat16 and np.all(np.isfinite(np.asarray(g, np.float32))) for g in grads
    )
    rows, keep = _np_distill_rows(*(np.asarray(a, np.float64) for a in args), y, 0.5, 2.0, 0.5)
    _close(value, rows.sum() / keep.sum())
    # nothing valid: exactly 0 with zero gradients
    none_valid = np.full((N,), -100)
    v0, g0 = jax.value_and_grad(
        lambda hs: _fused_distill(hs, ws, None, ht, wt, None, none_valid, 0.5, 1.0, 1.0)
    )(hs)
    assert v0 == 0 and np.all(g0 == 0)


def test_distillation_errors():
    hs, ws, _, ht, wt, _, y, _, _ = _data()
    name = "linear_distillation_loss"
    with pytest.raises(ValueError, match=f"{name}.*labels"):
        jaxloss.linear_distillation_loss(hs, ws, ht, wt, hard_weight=1.0)
    with pytest.raises(ValueError, match=f"{name}.*teacher_weight"):
        jaxloss.linear_distillation_loss(hs, ws, ht, wt[:, :5])
    with pytest.raises(ValueError, match=f"{name}.*beta"):
        jaxloss.linear_distillation_loss(hs, ws, ht, wt, beta=1.5)
    with pytest.raises(ValueError, match="linear_token_log_probs.*tokens"):
        jaxloss.linear_token_log_probs(hs, ws, y[:3])


# ---------------------------------------------------------------- temporary memory


def _temp_bytes(f, *args):
    return jax.jit(f).lower(*args).compile().memory_analysis().temp_size_in_bytes


def test_fused_temporary_memory_is_a_tenth_of_unfused():
    n, d, v, chunk = 512, 64, 4096, 64
    rng = np.random.default_rng(0)
    h = jnp.asarray(rng.normal(size=(n, d)), jnp.float32)
    w = jnp.asarray(rng.normal(size=(d, v)) * 0.1, jnp.float32)
    ht = jnp.asarray(rng.normal(size=(n, d)), jnp.float32)
    y = jnp.asarray(rng.integers(0, v, size=(n,)))
    ct = jnp.asarray(rng.normal(size=(n,)), jnp.float32)

    def tlp_fused(h, w):
        lp, ent = jaxloss.linear_token_log_probs(h, w, y, return_entropy=True, chunk_size=chunk)
        return jnp.sum(ct * lp) + jnp.sum(ct * ent)

    def tlp_unfused(h, w):
        lp, ent = jaxloss.token_log_probs(h @ w, y, return_entropy=True)
        return jnp.sum(ct * lp) + jnp.sum(ct * ent)

    def kd_fused(h, w):
        return jaxloss.linear_distillation_loss(h, w, ht, w, y, hard_weight=0.5, chunk_size=chunk)

    def kd_unfused(h, w):
        zs = h @ w
        soft = jaxloss.distillation_loss(zs, ht @ w)
        return soft + 0.5 * jaxloss.sparse_softmax_cross_entropy(zs, y)

    vg = lambda f: jax.value_and_grad(f, argnums=(0, 1))  # noqa: E731
    for fused, unfused in ((tlp_fused, tlp_unfused), (kd_fused, kd_unfused)):
        f_bytes = _temp_bytes(vg(fused), h, w)
        u_bytes = _temp_bytes(vg(unfused), h, w)
        assert f_bytes * 10 <= u_bytes, (fused.__name__, f_bytes, u_bytes)
