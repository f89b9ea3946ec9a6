"""Vocabulary-parallel token log-probs (issue 13) on 8 CPU host devices.

Not collected by the main test run (it keeps one device): ``tests/test_sharding.py``
runs this file in its own process with ``--xla_force_host_platform_device_count=8``. Few compiles:
one jitted function per form and mesh returns the outputs and the gradients for a random
cotangent; the single-device references (float64) are jitted once and shared by the meshes.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.sharding import AxisType
from jax.sharding import PartitionSpec as P

import jaxloss
from jaxloss.sharding import (
    sharded_cross_entropy,
    vocab_parallel_cross_entropy,
    vocab_parallel_linear_cross_entropy,
    vocab_parallel_linear_token_log_probs,
    vocab_parallel_token_log_probs,
)

from .helpers import assert_close, count_hlo_op, rng

MESHES = [(1, 8), (2, 4), (8, 1)]  # (data, model): vocabulary over "model", batch over "data"
B, T, V, D = 8, 2, 32, 6
MASKED = 7  # a masked class (−inf logit / bias); one token sits on it
TAU, CAP = 1.7, 4.0


def _mesh(shape):
    if jax.device_count() < 8:
        pytest.skip("needs 8 host devices (run through tests/test_sharding.py)")
    return jax.make_mesh(shape, ("data", "model"), axis_types=(AxisType.Auto,) * 2)


def _data(seed=0):
    r = rng(seed)
    x = r.normal(size=(B, T, V)) * 3.0
    x[..., MASKED] = -np.inf
    y = r.integers(0, V, size=(B, T))
    y = np.where(y == MASKED, MASKED + 1, y)
    y[1, 0] = MASKED  # a token on a masked class: −inf, zero gradient
    y[2, 1] = V - 1  # last class (last shard)
    ct = r.normal(size=(2, B, T))
    h = r.normal(size=(B, T, D))
    w = r.normal(size=(D, V))
    b = r.normal(size=(V,)) * 0.5
    b[MASKED] = -np.inf
    return x, y, ct, h, w, b


def _bad(y):
    """Out-of-range tokens (global ids): just past the end and negative."""
    y = y.copy()
    y[0, 1], y[5, 0] = V, -1
    return y


# --- single-device references (the public single-device functions, float64) ------------------


@jax.jit
def _ref_logits(x, y, ct, tau):
    def f(x, tau):
        lp, ent = jaxloss.token_log_probs(x, y, temperature=tau, return_entropy=True)
        return jnp.sum(ct[0] * jnp.where(lp == -jnp.inf, 0.0, lp)) + jnp.sum(ct[1] * ent), (
            lp,
            ent,
        )

    (_, outs), grads = jax.value_and_grad(f, argnums=(0, 1), has_aux=True)(x, tau)
    return outs, grads


@jax.jit
def _ref_linear(h, w, b, y, ct, tau, cap):
    def f(h, w, b, tau, cap):
        lp, ent = jaxloss.linear_token_log_probs(
            h, w, y, bias=b, temperature=tau, logit_softcap=cap, return_entropy=True
        )
        return jnp.sum(ct[0] * jnp.where(lp == -jnp.inf, 0.0, lp)) + jnp.sum(ct[1] * ent), (
            lp,
            ent,
        )

    (_, outs), grads = jax.value_and_grad(f, argnums=(0, 1, 2, 3, 4), has_aux=True)(
        h, w, b, tau, cap
    )
    return outs, grads


# --- sharded forms ------------------------------------------------------------------------------


def _vp_logits(mesh):
    def local(x, y, tau):
        return vocab_parallel_token_log_probs(
            x, y, axis_name="model", temperature=tau, return_entropy=True
        )

    fn = jax.shard_map(
        local,
        mesh=mesh,
        in_specs=(P("data", None, "model"), P("data"), P()),
        out_specs=(P("data"), P("data")),
    )

    @jax.jit
    def run(x, y, ct, tau):
        outs, pull = jax.vjp(lambda x, tau: fn(x, y, tau), x, tau)
        # the reference masks the −inf output of a token on a masked class out of its sum
        g0 = jnp.where(outs[0] == -jnp.inf, 0.0, ct[0])
        return outs, pull((g0, ct[1]))

    return run


def _vp_linear(mesh, chunk_size=3):
    def local(h, w, b, y, tau, cap):
        return vocab_parallel_linear_token_log_probs(
            h,
            w,
            y,
            axis_name="model",
            bias=b,
            temperature=tau,
            logit_softcap=cap,
            return_entropy=True,
            chunk_size=chunk_size,
        )

    fn = jax.shard_map(
        local,
        mesh=mesh,
        in_specs=(P("data"), P(None, "model"), P("model"), P("data"), P(), P()),
        out_specs=(P("data"), P("data")),
    )

    @jax.jit
    def run(h, w, b, y, ct, tau, cap):
        outs, pull = jax.vjp(lambda *a: fn(a[0], a[1], a[2], y, a[3], a[4]), h, w, b, tau, cap)
        g0 = jnp.where(outs[0] == -jnp.inf, 0.0, ct[0])
        return outs, pull((g0, ct[1]))

    return run


@pytest.mark.parametrize("shape", MESHES)
def test_vocab_parallel_token_log_probs_equal_single_device(shape):
    mesh = _mesh(shape)
    x, y, ct, h, w, b = _data(1)
    x, ct, tau = jnp.asarray(x), jnp.asarray(ct), jnp.asarray(TAU)
    run = _vp_logits(mesh)
    for tokens in (y, _bad(y)):
        (lp, ent), (dx, dtau) = run(x, jnp.asarray(tokens), ct, tau)
        (rlp, rent), (rdx, rdtau) = _ref_logits(x, jnp.asarray(tokens), ct, tau)
        assert_close(lp, rlp, rtol=1e-12, atol=1e-12)
        assert_close(ent, rent, rtol=1e-12, atol=1e-12)
        assert_close(dx, rdx, rtol=1e-10, atol=1e-12)
        # (row [1, 0]'s gradient is the entropy's only: the token's −inf is a constant)
        assert np.isneginf(lp[1, 0]) and np.all(dx[..., MASKED] == 0)
        if tokens is y:
            assert np.all(np.isfinite(np.asarray(lp)[np.arange(B) != 1]))
            assert_close(dtau, rdtau, rtol=1e-10, atol=1e-12)
        else:
            # the library's label rule: NaN value and gradient on exactly the bad rows
            bad = (tokens < 0) | (tokens >= V)
            assert np.all(np.isnan(np.asarray(lp)[bad]))
            live = np.arange(V) != MASKED  # masked classes keep an exact 0 gradient
            assert np.all(np.isnan(np.asarray(dx)[bad][:, live]))
            assert np.all(np.isfinite(np.asarray(ent)))
            ok = ~bad & (tokens != MASKED)
            assert np.all(np.isfinite(np.asarray(lp)[ok]))
            assert np.all(np.isfinite(np.asarray(dx)[~bad]))


@pytest.mark.parametrize("shape", MESHES)
def test_vocab_parallel_linear_token_log_probs_equal_single_device(shape):
    mesh = _mesh(shape)
    x, y, ct, h, w, b = _data(2)
    args = tuple(jnp.asarray(a) for a in (h, w, b))
    hyp = (jnp.asarray(TAU), jnp.asarray(CAP))
    ct = jnp.asarray(ct)
    run = _vp_linear(mesh)
    (lp, ent), grads = run(*args, jnp.asarray(y), ct, *hyp)
    (rlp, rent), rgrads = _ref_linear(*args, jnp.asarray(y), ct, *hyp)
    assert_close(lp, rlp, rtol=1e-12, atol=1e-12)
    assert_close(ent, rent, rtol=1e-12, atol=1e-12)
    assert np.isneginf(lp[1, 0])
    for name, g, rg in zip(("hidden", "weight", "bias", "tau", "cap"), grads, rgrads, strict=True):
        assert np.all(np.isfinite(np.asarray(g))), name
        assert_close(g, rg, rtol=1e-10, atol=1e-12, err_msg=name)
    assert np.all(np.asarray(grads[1])[:, MASKED] == 0) and grads[2][MASKED] == 0
    # out-of-range tokens (same compiled function): NaN value and hidden-gradient rows
    yb = _bad(y)
    bad = (yb < 0) | (yb >= V)
    (lp, ent), grads = run(*args, jnp.asarray(yb), ct, *hyp)
    (rlp, rent), _ = _ref_linear(*args, jnp.asarray(yb), ct, *hyp)
    assert_close(lp, rlp, rtol=1e-12, atol=1e-12)
    assert np.all(np.isnan(np.asarray(lp)[bad])) and np.all(np.isfinite(np.asarray(ent)))
    assert np.all(np.isnan(np.asarray(grads[0])[bad]))
    assert np.all(np.isfinite(np.asarray(grads[0])[~bad]))


def test_one_all_reduce_of_row_statistics():
    mesh = _mesh((2, 4))
    x, y, ct, h, w, b = _data(3)
    y = jnp.asarray(y)
    x32 = jnp.asarray(x, jnp.float32)
    hw = tuple(jnp.asarray(a, jnp.float32) for a in (h, w, b))

    def logits_fwd(xx):
        return jax.shard_map(
            lambda a, t: vocab_parallel_token_log_probs(a, t, axis_name="model", temperature=2.0),
            mesh=mesh,
            in_specs=(P("data", None, "model"), P("data")),
            out_specs=P("data"),
        )(xx, y)

    def linear_fwd(hh, ww, bb):
        return jax.shard_map(
            lambda a, c, d, t: vocab_parallel_linear_token_log_probs(
                a, c, t, axis_name="model", bias=d, return_entropy=True, chunk_size=4
            ),
            mesh=mesh,
            in_specs=(P("data"), P(None, "model"), P("model"), P("data")),
            out_specs=(P("data"), P("data")),
        )(hh, ww, bb, y)

    hlo = jax.jit(logits_fwd).lower(x32).compile().as_text()
    # one psum gathering every shard's [row max, Σ exp, target logit] (no pmax)
    assert count_hlo_op(hlo, "all-reduce") == 1, hlo
    hlo = jax.jit(jax.grad(lambda xx: jnp.sum(logits_fwd(xx)))).lower(x32).compile().as_text()
    # the logits gradient is purely local: still the forward's one
    assert count_hlo_op(hlo, "all-reduce") == 1, hlo
    hlo = jax.jit(linear_fwd).lower(*hw).compile().as_text()
    # inside the chunk loop: one psum of every shard's [max, Σ exp, target logit, entropy term]
    assert count_hlo_op(hlo, "all-reduce") == 1, hlo
    for op in ("all-gather", "all-to-all"):
        assert count_hlo_op(hlo, op) == 0
    loss = lambda *a: sum(jnp.sum(o) for o in linear_fwd(*a))
    hlo = jax.jit(jax.grad(loss, argnums=(0, 1, 2))).lower(*hw).compile().as_text()
    # backward (recompute): no collective for the row statistics or the logit blocks; the
    # gradients of what is replicated: hidden over "model", weight and bias over "data"
    assert count_hlo_op(hlo, "all-reduce") == 3, hlo
    for op in ("all-gather", "all-to-all"):
        assert count_hlo_op(hlo, op) == 0


def test_one_all_reduce_merge_is_exact_across_scales_and_a_tuple_axis():
    """The single all-reduce carries each shard's sums relative to its *own* row max, merged on
    every device: shard scales hundreds apart (float64 exp(±800) over- / underflows), a row whose
    finite logits are all near −1000 beside fully masked shards (their shift 0 is far above the
    row max), a row with one finite logit, and the vocabulary split over both mesh axes (a tuple
    axis name, 8 shards of 4 classes) equal the single device."""
    mesh = _mesh((2, 4))
    r = rng(5)
    x = r.normal(size=(4, 32)) * 2.0
    x[0] += np.repeat([-800.0, -400.0, 0.0, 300.0, 700.0, 650.0, -50.0, 20.0], 4)
    x[1] = r.normal(size=32) - 1000.0
    x[1, 8:16] = -np.inf
    x[3, :] = -np.inf
    x[3, 21] = 5.0
    y = jnp.asarray([18, 30, 0, 21])
    fn = jax.jit(
        jax.shard_map(
            lambda a, t: vocab_parallel_token_log_probs(
                a, t, axis_name=("data", "model"), return_entropy=True
            ),
            mesh=mesh,
            in_specs=(P(None, ("data", "model")), P()),
            out_specs=(P(), P()),
        )
    )
    lp, ent = fn(jnp.asarray(x), y)
    rlp, rent = jax.jit(jaxloss.token_log_probs, static_argnames="return_entropy")(
        jnp.asarray(x), y, return_entropy=True
    )
    assert np.all(np.isfinite(np.asarray(lp))) and np.all(np.isfinite(np.asarray(ent)))
    assert_close(lp, rlp, rtol=1e-12, atol=1e-12)
    assert_close(ent, rent, rtol=1e-12, atol=1e-12)


def _value_and_grads(f, args):
    """``jit(value_and_grad(f))`` with respect to every argument."""
    return jax.jit(jax.value_and_grad(f, argnums=tuple(range(len(args)))))(*args)


def _assert_value_and_grads(got, want):
    assert_close(got[0], want[0], rtol=1e-12, atol=1e-12)
    for g, rg in zip(got[1], want[1], strict=True):
        assert_close(g, rg, rtol=1e-10, atol=1e-12)


def test_vocab_parallel_cross_entropy_softcap_and_class_weights_equal_single_device():
    """Issue 13 item 4: ``logit_softcap`` and ``class_weights`` in both vocabulary-parallel
    cross-entropies (values and gradients w.r.t. logits / hidden / weight / cap, on a 2 x 4 mesh
    with a global mean, whose normaliser is Σ w_y), against the single-device losses."""
    mesh = _mesh((2, 4))
    x, y, _, h, w, _ = _data(4)
    y = np.where(y == MASKED, 0, y)
    y[0, 0] = -100  # ignored
    y = jnp.asarray(y)
    cw = jnp.asarray(rng(5).uniform(0.2, 3.0, size=V))
    opts = dict(ignore_index=-100, label_smoothing=0.1, z_loss=1e-3)

    def vp(xx, cap):
        return jax.shard_map(
            lambda a, t, c, k: vocab_parallel_cross_entropy(
                a, t, axis_name="model", batch_axis_name="data", logit_softcap=c,
                class_weights=k, **opts,
            ),
            mesh=mesh,
            in_specs=(P("data", None, "model"), P("data"), P(), P("model")),
            out_specs=P(),
        )(xx, y, cap, cw)  # fmt: skip

    def ref(xx, cap):
        masked = xx == -jnp.inf  # double where: no NaN d/dcap from the masked entries
        capped = jnp.where(masked, -jnp.inf, cap * jnp.tanh(jnp.where(masked, 0.0, xx) / cap))
        return jaxloss.sparse_softmax_cross_entropy(capped, y, class_weights=cw, **opts)

    args = (jnp.asarray(x), jnp.asarray(CAP))
    want = _value_and_grads(ref, args)
    _assert_value_and_grads(_value_and_grads(vp, args), want)

    def vp_lin(hh, ww, cap):
        return jax.shard_map(
            lambda a, b, t, c, k: vocab_parallel_linear_cross_entropy(
                a, b, t, axis_name="model", batch_axis_name="data", logit_softcap=c,
                class_weights=k, chunk_size=3, **opts,
            ),
            mesh=mesh,
            in_specs=(P("data"), P(None, "model"), P("data"), P(), P("model")),
            out_specs=P(),
        )(hh, ww, y, cap, cw)  # fmt: skip

    def ref_lin(hh, ww, cap):
        return jaxloss.linear_cross_entropy(hh, ww, y, logit_softcap=cap, class_weights=cw, **opts)

    args_lin = (jnp.asarray(h), jnp.asarray(w), jnp.asarray(CAP))
    _assert_value_and_grads(_value_and_grads(vp_lin, args_lin), _value_and_grads(ref_lin, args_lin))

    # the global-array form places the shard_map itself (class_weights split like the vocabulary)
    def sharded(xx, cap):
        return sharded_cross_entropy(
            xx, y, mesh=mesh, vocab_axis="model", batch_axis="data", logit_softcap=cap,
            class_weights=cw, **opts,
        )  # fmt: skip

    _assert_value_and_grads(_value_and_grads(sharded, args), want)  # the same reference
