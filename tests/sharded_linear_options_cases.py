"""vocab_parallel_linear_cross_entropy's ``bias`` and ``method`` (issue 13) on 8 CPU host devices.

Not collected by the main test run (it keeps one device): ``tests/test_sharding.py`` runs this file
in its own process with ``--xla_force_host_platform_device_count=8``. The reference is
:func:`jaxloss.linear_cross_entropy` on the gathered ``weight`` / ``bias`` (single device,
float64); one jitted ``value_and_grad`` per mesh and option set.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.sharding import AxisType
from jax.sharding import PartitionSpec as P

import jaxloss
from jaxloss.sharding import vocab_parallel_linear_cross_entropy

from .helpers import assert_close, assert_finite, rng

N, V, D = 24, 32, 6
MASKED = 7  # a class the bias masks (-inf), never a label


def _mesh(shape):
    if jax.device_count() < 8:
        pytest.skip("needs 8 host devices (run through tests/test_sharding.py)")
    return jax.make_mesh(shape, ("data", "model"), axis_types=(AxisType.Auto,) * 2)


def _data(seed):
    r = rng(seed)
    h = jnp.asarray(r.normal(size=(N, D)))
    w = jnp.asarray(r.normal(size=(D, V)) / 2)
    b = r.normal(size=(V,))
    b[MASKED] = -np.inf
    y = r.integers(0, V, size=(N,))
    y = np.where(y == MASKED, MASKED + 1, y)
    y[:5] = -100  # ignored tokens, all on the first data shard(s)
    return h, w, jnp.asarray(b), jnp.asarray(y)


# (mesh, [(method, reduction), ...], options): every mesh, every accepted method (the recompute
# and forward-gradient custom VJPs, compared with each other and with the reference), the options
# that read the bias (smoothing's finite-class sum, z-loss, softcap, class weights); the variants of
# a case are compiled together, one jitted value_and_grad per case
CASES = [
    (
        (2, 4),
        [("recompute", "mean"), ("forward_grad", "mean")],
        dict(label_smoothing=0.1, z_loss=1e-3, logit_softcap=4.0, class_weights=True),
    ),
    (
        (1, 8),
        [("auto", "none"), ("forward_grad", "mean")],
        dict(label_smoothing=0.2, logit_softcap=3.0, class_weights=True, where=True),
    ),
    ((8, 1), [("auto", "sum"), ("recompute", "sum")], dict(z_loss=1e-2)),
]


HYPER = ("label_smoothing", "z_loss", "logit_softcap")


def _cotangent(out, reduction):
    # a fixed cotangent for "none", so that the gradient sees every row differently
    return out if reduction != "none" else jnp.sum(out * jnp.arange(1.0, N + 1))


@pytest.mark.parametrize("shape,variants,opts", CASES)
def test_bias_and_method_match_single_device(shape, variants, opts):
    mesh = _mesh(shape)
    h, w, b, y = _data(sum(shape) + len(opts))
    opts = dict(opts, ignore_index=-100)
    cw = None
    if opts.pop("class_weights", False):
        cw = jnp.asarray(rng(9).uniform(0.5, 2.0, size=(V,)))
    if opts.pop("where", False):
        opts["where"] = jnp.asarray(rng(11).uniform(size=(N,)) < 0.8)
    tok_w = jnp.asarray(rng(10).uniform(0.5, 2.0, size=(N,)))
    extra, extra_specs = ((cw,), (P("model"),)) if cw is not None else ((), ())
    where = opts.pop("where", None)
    if where is not None:
        extra, extra_specs = extra + (where,), extra_specs + (P("data"),)
    # the hyperparameters are differentiated too (replicated scalars)
    hyper = {k: jnp.asarray(opts.pop(k)) for k in HYPER if k in opts}

    def f(variant, hh, ww, bb, tw, hp):
        method, reduction = variant

        def local(hh, ww, bb, yy, tw, hp, *e):
            c = e[0] if cw is not None else None
            m = e[-1] if where is not None else None
            return vocab_parallel_linear_cross_entropy(
                hh, ww, yy, axis_name="model", batch_axis_name="data", bias=bb, weights=tw,
                class_weights=c, where=m, chunk_size=2, reduction=reduction, method=method,
                **opts, **hp,
            )  # fmt: skip

        fn = jax.shard_map(
            local,
            mesh=mesh,
            in_specs=(P("data"), P(None, "model"), P("model"), P("data"), P("data"), P())
            + extra_specs,
            out_specs=P("data") if reduction == "none" else P(),
        )
        out = fn(hh, ww, bb, y, tw, hp, *extra)
        return _cotangent(out, reduction), out

    def g(reduction, hh, ww, bb, tw, hp):
        out = jaxloss.linear_cross_entropy(
            hh, ww, y, bias=bb, weights=tw, class_weights=cw, where=where,
            reduction=reduction, **opts, **hp,
        )  # fmt: skip
        return _cotangent(out, reduction), out

    def value_and_grads(fun, keys):
        # one value_and_grad per key (w.r.t. hidden, weight, bias, the token weights and the
        # hyperparameters), all in one jitted function
        def run(*args):
            return [
                jax.value_and_grad(
                    lambda *a, k=k: fun(k, *a), argnums=(0, 1, 2, 3, 4), has_aux=True
                )(*args)
                for k in keys
            ]

        return jax.jit(run)(h, w, b, tok_w, hyper)

    reductions = sorted({r for _, r in variants})  # the reference once per reduction
    got_all = value_and_grads(f, variants)
    ref_all = dict(zip(reductions, value_and_grads(g, reductions), strict=True))
    for (_, reduction), ((val, out), grads) in zip(variants, got_all, strict=True):
        (rval, rout), rgrads = ref_all[reduction]
        assert_close(val, rval, rtol=1e-12, atol=1e-12)
        assert_close(out, rout, rtol=1e-12, atol=1e-12)
        for got, ref in zip(jax.tree.leaves(grads), jax.tree.leaves(rgrads), strict=True):
            assert_finite(got[jnp.isfinite(ref)])
            assert_close(got, ref, rtol=1e-10, atol=1e-12)
        # the masked class: zero gradient for its weight column and bias entry
        assert float(jnp.max(jnp.abs(grads[1][:, MASKED]))) == 0.0
        assert float(grads[2][MASKED]) == 0.0
    # the two custom VJPs agree with each other (same reduction: the same loss)
    (val0, _), grads0 = got_all[0]
    (val1, _), grads1 = got_all[1]
    if variants[0][1] == variants[1][1]:
        assert_close(val0, val1, rtol=1e-12, atol=1e-12)
        for a, c in zip(jax.tree.leaves(grads0), jax.tree.leaves(grads1), strict=True):
            assert_close(a, c, rtol=1e-10, atol=1e-12)


def _trace(**kw):
    mesh = _mesh((2, 4))
    h, w, b, y = _data(0)
    fn = jax.shard_map(
        lambda hh, ww, bb, yy: vocab_parallel_linear_cross_entropy(
            hh, ww, yy, axis_name="model", bias=bb, ignore_index=-100, **kw
        ),
        mesh=mesh,
        in_specs=(P(), P(None, "model"), P("model"), P()),
        out_specs=P(),
    )
    return jax.eval_shape(fn, h, w, b, y)


@pytest.mark.parametrize("method", ["checkpoint", "fused", None])
def test_invalid_method_raises(method):
    with pytest.raises(ValueError, match=r"vocab_parallel_linear_cross_entropy: 'method'") as e:
        _trace(method=method)
    assert "'auto', 'forward_grad', 'recompute'" in str(e.value)
    if method == "checkpoint":
        assert "vocabulary split over a mesh axis" in str(e.value)


def test_forward_grad_invalid_rows_match_single_device():
    # (1) a counted row with a label >= V (weight 0: no hiding) and one < 0: NaN value, NaN
    # gradient rows exactly where the single-device loss has them; (2) an ignored row with a NaN
    # hidden state: the single-device value (finite: the forward-gradient rule drops the row)
    mesh = _mesh((2, 4))
    h, w, b, y = _data(3)
    tok_w = jnp.ones((N,)).at[7].set(0.0)
    fn = jax.shard_map(
        lambda hh, ww, bb, yy, tw: vocab_parallel_linear_cross_entropy(
            hh, ww, yy, axis_name="model", batch_axis_name="data", bias=bb, weights=tw,
            ignore_index=-100, chunk_size=4, method="forward_grad",
        ),
        mesh=mesh,
        in_specs=(P("data"), P(None, "model"), P("model"), P("data"), P("data")),
        out_specs=P(),
    )  # fmt: skip
    f = jax.jit(jax.value_and_grad(lambda hh, ww, bb, yy: fn(hh, ww, bb, yy, tok_w), (0, 1, 2)))
    g = jax.jit(
        jax.value_and_grad(
            lambda hh, ww, bb, yy: jaxloss.linear_cross_entropy(
                hh, ww, yy, bias=bb, weights=tok_w, ignore_index=-100, chunk_size=4
            ),
            (0, 1, 2),
        )
    )

    def check(hh, yy):
        got, ref = f(hh, w, b, yy), g(hh, w, b, yy)
        assert_close(got[0], ref[0], rtol=1e-12, atol=1e-12)  # NaN == NaN for assert_close
        for a, r in zip(got[1], ref[1], strict=True):
            np.testing.assert_array_equal(np.isnan(a), np.isnan(r))
            assert_close(a, r, rtol=1e-10, atol=1e-12)
        return got

    got = check(h, y.at[7].set(V + 3).at[20].set(-2))
    assert np.isnan(float(got[0]))
    bad_rows = np.isnan(np.asarray(got[1][0])).any(axis=1)
    np.testing.assert_array_equal(np.flatnonzero(bad_rows), [7, 20])  # only their d hidden rows

    assert int(y[2]) == -100  # row 2 is ignored
    got = check(h.at[2].set(jnp.nan), y)
    assert np.isfinite(float(got[0]))


def test_bias_shape_and_dtype_errors():
    mesh = _mesh((2, 4))
    h, w, _, y = _data(0)

    def trace(bias, spec):
        fn = jax.shard_map(
            lambda hh, ww, bb, yy: vocab_parallel_linear_cross_entropy(
                hh, ww, yy, axis_name="model", bias=bb, ignore_index=-100
            ),
            mesh=mesh,
            in_specs=(P(), P(None, "model"), spec, P()),
            out_specs=P(),
        )
        return jax.eval_shape(fn, h, w, bias, y)

    # a [V] bias replicated along the axis is not this device's [V/4] slice
    with pytest.raises(ValueError, match=r"vocab_parallel_linear_cross_entropy: 'bias' must have"):
        trace(jnp.zeros((V,)), P())
    with pytest.raises(TypeError, match=r"vocab_parallel_linear_cross_entropy: 'bias'"):
        trace(jnp.zeros((V,), jnp.int32), P("model"))
