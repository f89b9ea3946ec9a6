"""Sharded-loss tests on 8 CPU host devices.

Not collected by the main test run (it keeps one device): ``tests/test_sharding.py`` runs this file
in its own process with ``--xla_force_host_platform_device_count=8``.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.sharding import AxisType, NamedSharding
from jax.sharding import PartitionSpec as P

import jaxloss
from jaxloss.sharding import (
    sharded_cross_entropy,
    vocab_parallel_cross_entropy,
    vocab_parallel_linear_cross_entropy,
)

from .helpers import assert_close, assert_finite, count_hlo_op, rng

MESHES = [(1, 8), (2, 4), (8, 1)]
B, T, V, D = 8, 3, 32, 6
OPTIONS = [
    dict(),
    dict(ignore_index=-100),
    dict(label_smoothing=0.1),
    dict(z_loss=1e-3),
    dict(ignore_index=-100, label_smoothing=0.2, z_loss=1e-2),
]


def _need_devices():
    if jax.device_count() < 8:
        pytest.skip("needs 8 host devices (run through tests/test_sharding.py)")


def _mesh(shape):
    _need_devices()
    return jax.make_mesh(shape, ("data", "model"), axis_types=(AxisType.Auto,) * 2)


def _data(seed=0, masked=True):
    r = rng(seed)
    x = r.normal(size=(B, T, V)) * 3.0
    y = r.integers(0, V, size=(B, T))
    if masked:
        x[..., 7] = -np.inf  # a masked vocabulary entry, never a label
        y = np.where(y == 7, 8, y)
    y[: B // 2] = -100  # every token of the first data shard(s) ignored
    return x, y


def _single(x, y, reduction="mean", weights=None, where=None, **opts):
    y = jnp.asarray(y)
    opts = dict(opts)
    if "ignore_index" not in opts:
        # without ignore_index the -100 labels would be invalid: mask them through `where`
        extra = y >= 0
        where = extra if where is None else where & extra
        y = jnp.where(extra, y, 0)
    return jaxloss.sparse_softmax_cross_entropy(
        jnp.asarray(x), y, reduction=reduction, weights=weights, where=where, **opts
    )


def _sharded_args(y, opts, where=None):
    """Labels and where for the sharded call with the same meaning as `_single`."""
    y = jnp.asarray(y)
    if "ignore_index" not in opts:
        extra = y >= 0
        where = extra if where is None else where & extra
        y = jnp.where(extra, y, 0)
    return y, where


# every option on the 2 x 4 mesh; the plain and the all-options case on the 1 x 8 and 8 x 1 meshes
CASES = [((2, 4), o) for o in OPTIONS] + [
    (s, o) for s in ((1, 8), (8, 1)) for o in (OPTIONS[0], OPTIONS[-1])
]


@pytest.mark.parametrize("shape,opts", CASES)
def test_sharded_cross_entropy_matches_single_device(shape, opts):
    mesh = _mesh(shape)
    x, y = _data()
    w = jnp.asarray(rng(1).uniform(0.5, 2.0, size=(B, T)))
    ys, where = _sharded_args(y, opts)

    for reduction in ("mean", "sum", "none"):

        def f(xx):
            return sharded_cross_entropy(
                xx,
                ys,
                mesh=mesh,
                vocab_axis="model",
                batch_axis="data",
                weights=w,
                where=where,
                reduction=reduction,
                **opts,
            )

        def g(xx):
            return _single(xx, y, reduction=reduction, weights=w, **opts)

        got = jax.jit(f)(jnp.asarray(x))
        assert_close(got, g(jnp.asarray(x)), rtol=1e-12, atol=1e-12)
        if reduction != "none":
            gs = jax.jit(jax.grad(f))(jnp.asarray(x))
            gr = jax.grad(g)(jnp.asarray(x))
            assert_finite(gs)
            assert_close(gs, gr, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("shape", MESHES)
def test_vocab_parallel_inside_shard_map_float32_and_all_ignored_shard(shape):
    mesh = _mesh(shape)
    x, y = _data(3)
    x32 = jnp.asarray(x, jnp.float32)

    def f(xx):
        fn = jax.shard_map(
            lambda a, b: vocab_parallel_cross_entropy(
                a,
                b,
                axis_name="model",
                batch_axis_name="data",
                ignore_index=-100,
                label_smoothing=0.1,
            ),
            mesh=mesh,
            in_specs=(P("data", None, "model"), P("data")),
            out_specs=P(),
        )
        return fn(xx, jnp.asarray(y))

    val, grad = jax.jit(jax.value_and_grad(f))(x32)
    ref = lambda xx: jaxloss.sparse_softmax_cross_entropy(
        xx, jnp.asarray(y), ignore_index=-100, label_smoothing=0.1
    )
    rval, rgrad = jax.value_and_grad(ref)(x32)
    assert val.dtype == jnp.float32 and grad.dtype == jnp.float32
    assert_close(val, rval, dtype=np.float32)
    assert_close(grad, rgrad, dtype=np.float32)


def test_bf16_logits_compute_in_float32():
    mesh = _mesh((2, 4))
    x, y = _data(4, masked=False)
    xb = jnp.asarray(x, jnp.bfloat16)
    f = lambda xx: sharded_cross_entropy(
        xx, jnp.asarray(y), mesh=mesh, vocab_axis="model", batch_axis="data", ignore_index=-100
    )
    val, grad = jax.jit(jax.value_and_grad(f))(xb)
    assert val.dtype == jnp.float32 and grad.dtype == jnp.bfloat16
    ref = lambda xx: _single(xx, y, ignore_index=-100)
    rval, rgrad = jax.value_and_grad(ref)(jnp.asarray(xb, jnp.float64))
    assert_close(val, rval, rtol=1e-5, atol=1e-6)
    assert_close(jnp.asarray(grad, jnp.float64), rgrad, rtol=1e-2, atol=1e-3)


@pytest.mark.parametrize("shape", MESHES)
@pytest.mark.parametrize(
    "opts", [dict(ignore_index=-100), dict(ignore_index=-100, label_smoothing=0.1, z_loss=1e-3)]
)
def test_linear_matches_single_device(shape, opts):
    mesh = _mesh(shape)
    r = rng(5)
    h = jnp.asarray(r.normal(size=(B * T, D)))
    W = jnp.asarray(r.normal(size=(D, V)) / 2)
    _, y = _data(5, masked=False)
    y = jnp.asarray(y.reshape(-1))

    def f(hh, ww):
        fn = jax.shard_map(
            lambda a, b, c: vocab_parallel_linear_cross_entropy(
                a, b, c, axis_name="model", batch_axis_name="data", chunk_size=5, **opts
            ),
            mesh=mesh,
            in_specs=(P("data"), P(None, "model"), P("data")),
            out_specs=P(),
        )
        return fn(hh, ww, y)

    def g(hh, ww):
        return jaxloss.sparse_softmax_cross_entropy(hh @ ww, y, **opts)

    val, grads = jax.jit(jax.value_and_grad(f, argnums=(0, 1)))(h, W)
    rval, rgrads = jax.value_and_grad(g, argnums=(0, 1))(h, W)
    assert_close(val, rval, rtol=1e-12, atol=1e-12)
    assert_close(grads[0], rgrads[0], rtol=1e-10, atol=1e-12)
    assert_close(grads[1], rgrads[1], rtol=1e-10, atol=1e-12)


def test_collectives_in_compiled_hlo():
    mesh = _mesh((2, 4))
    x, y = _data(6)
    x = jnp.asarray(x, jnp.float32)

    def fwd(xx, batch_axis):
        return sharded_cross_entropy(
            xx,
            jnp.asarray(y),
            mesh=mesh,
            vocab_axis="model",
            batch_axis=batch_axis,
            ignore_index=-100,
            label_smoothing=0.1,
        )

    for batch_axis, expected in (("data", 2), (None, 1)):
        f = lambda xx: fwd(xx, batch_axis)
        hlo_fwd = jax.jit(f).lower(x).compile().as_text()
        hlo_bwd = jax.jit(jax.value_and_grad(f)).lower(x).compile().as_text()
        # forward: one psum of every shard's row max and sums (+ the global mean's psum)
        assert count_hlo_op(hlo_fwd, "all-reduce") == expected, hlo_fwd
        # value_and_grad adds no collective: the logits gradient is purely local
        assert count_hlo_op(hlo_bwd, "all-reduce") == expected
        for hlo in (hlo_fwd, hlo_bwd):
            assert count_hlo_op(hlo, "all-gather") == 0
            assert count_hlo_op(hlo, "all-to-all") == 0


def test_vmap_over_label_smoothing_inside_shard_map():
    mesh = _mesh((2, 4))
    x, y = _data(7)
    eps = jnp.asarray([0.0, 0.1, 0.3])

    def inner(a, b, e):
        return jax.vmap(
            lambda ee: vocab_parallel_cross_entropy(
                a,
                b,
                axis_name="model",
                batch_axis_name="data",
                ignore_index=-100,
                label_smoothing=ee,
            )
        )(e)

    fn = jax.jit(
        jax.shard_map(
            inner, mesh=mesh, in_specs=(P("data", None, "model"), P("data"), P()), out_specs=P()
        )
    )
    got = fn(jnp.asarray(x), jnp.asarray(y), eps)
    want = [_single(jnp.asarray(x), y, ignore_index=-100, label_smoothing=e) for e in eps]
    assert_close(got, np.asarray(want), rtol=1e-12, atol=1e-12)


def test_named_sharding_inputs_and_explicit_mesh():
    _need_devices()
    mesh = jax.make_mesh((2, 4), ("data", "model"))  # default axis types (Explicit in new JAX)
    x, y = _data(8)
    xs = jax.device_put(jnp.asarray(x), NamedSharding(mesh, P("data", None, "model")))
    ys = jax.device_put(jnp.asarray(y), NamedSharding(mesh, P("data")))
    f = jax.jit(
        lambda a, b: sharded_cross_entropy(
            a, b, mesh=mesh, vocab_axis="model", batch_axis="data", ignore_index=-100
        )
    )
    assert_close(f(xs, ys), _single(jnp.asarray(x), y, ignore_index=-100), rtol=1e-12, atol=1e-12)


def test_errors():
    mesh = _mesh((2, 4))
    with pytest.raises(ValueError, match="sharded_cross_entropy: vocabulary size 30"):
        sharded_cross_entropy(jnp.zeros((8, 30)), jnp.zeros(8, int), mesh=mesh, vocab_axis="model")
    with pytest.raises(ValueError, match="sharded_cross_entropy: 'reduction'"):
        sharded_cross_entropy(
            jnp.zeros((8, 32)), jnp.zeros(8, int), mesh=mesh, vocab_axis="model", reduction="avg"
        )
    with pytest.raises(TypeError, match="vocab_parallel_cross_entropy: 'labels'"):
        jax.shard_map(
            lambda a, b: vocab_parallel_cross_entropy(a, b, axis_name="model"),
            mesh=mesh,
            in_specs=(P(None, "model"), P()),
            out_specs=P(),
        )(jnp.zeros((8, 32)), jnp.zeros(8))


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(pytest.main([__file__, "-q"]))
