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


# (mesh, method, reduction, options): every mesh, both accepted methods, the options that read the
# bias (smoothing's finite-class sum, z-loss, softcap, class weights)
CASES = [
    (
        (2, 4),
        "recompute",
        "mean",
        dict(label_smoothing=0.1, z_loss=1e-3, logit_softcap=4.0, class_weights=True),
    ),
    ((1, 8), "auto", "none", dict(label_smoothing=0.2, logit_softcap=3.0, class_weights=True)),
    ((8, 1), "auto", "sum", dict(z_loss=1e-2)),
]


@pytest.mark.parametrize("shape,method,reduction,opts", CASES)
def test_bias_and_method_match_single_device(shape, method, reduction, opts):
    mesh = _mesh(shape)
    h, w, b, y = _data(sum(shape) + len(opts))
    opts = dict(opts, ignore_index=-100)
    cw = None
    if opts.pop("class_weights", False):
        cw = jnp.asarray(rng(9).uniform(0.5, 2.0, size=(V,)))
    tok_w = jnp.asarray(rng(10).uniform(0.5, 2.0, size=(N,)))
    out_spec = P("data") if reduction == "none" else P()

    def local(hh, ww, bb, yy, tw, *c):
        return vocab_parallel_linear_cross_entropy(
            hh, ww, yy, axis_name="model", batch_axis_name="data", bias=bb, weights=tw,
            class_weights=c[0] if c else None, chunk_size=2, reduction=reduction,
            method=method, **opts,
        )  # fmt: skip

    extra, extra_specs = ((cw,), (P("model"),)) if cw is not None else ((), ())

    def f(hh, ww, bb):
        fn = jax.shard_map(
            local,
            mesh=mesh,
            in_specs=(P("data"), P(None, "model"), P("model"), P("data"), P("data")) + extra_specs,
            out_specs=out_spec,
        )
        out = fn(hh, ww, bb, y, tok_w, *extra)
        # a fixed cotangent for "none", so that the gradient sees every row differently
        return out if reduction != "none" else jnp.sum(out * jnp.arange(1.0, N + 1)), out

    def g(hh, ww, bb):
        out = jaxloss.linear_cross_entropy(
            hh, ww, y, bias=bb, weights=tok_w, class_weights=cw, reduction=reduction, **opts
        )
        return out if reduction != "none" else jnp.sum(out * jnp.arange(1.0, N + 1)), out

    (val, out), grads = jax.jit(jax.value_and_grad(f, argnums=(0, 1, 2), has_aux=True))(h, w, b)
    (rval, rout), rgrads = jax.jit(jax.value_and_grad(g, argnums=(0, 1, 2), has_aux=True))(h, w, b)
    assert_close(val, rval, rtol=1e-12, atol=1e-12)
    assert_close(out, rout, rtol=1e-12, atol=1e-12)
    for got, ref in zip(grads, rgrads, strict=True):
        assert_finite(got[jnp.isfinite(ref)])
        assert_close(got, ref, rtol=1e-10, atol=1e-12)
    # the masked class: zero gradient for its weight column and bias entry
    assert float(jnp.max(jnp.abs(grads[1][:, MASKED]))) == 0.0
    assert float(grads[2][MASKED]) == 0.0


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


@pytest.mark.parametrize("method", ["forward_grad", "checkpoint", "fused", None])
def test_invalid_method_raises(method):
    with pytest.raises(ValueError, match=r"vocab_parallel_linear_cross_entropy: 'method'") as e:
        _trace(method=method)
    assert "'auto', 'recompute'" in str(e.value)
    if method in ("forward_grad", "checkpoint"):
        assert "vocabulary split over a mesh axis" in str(e.value)


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
