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

    def f(variant, hh, ww, bb, tw, hp, yy):
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
        out = fn(hh, ww, bb, yy, tw, hp, *extra)
        return _cotangent(out, reduction), out

    def g(reduction, hh, ww, bb, tw, hp, yy):
        out = jaxloss.linear_cross_entropy(
            hh, ww, yy, bias=bb, weights=tw, class_weights=cw, where=where,
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

        return jax.jit(run)

    reductions = sorted({r for _, r in variants})  # the reference once per reduction
    run_f, run_g = value_and_grads(f, variants), value_and_grads(g, reductions)

    def check(hh, tw, yy, valid_input=True, nan_pattern_only=False):
        got_all = run_f(hh, w, b, tw, hyper, yy)
        ref_all = dict(zip(reductions, run_g(hh, w, b, tw, hyper, yy), strict=True))
        for (_, reduction), ((val, out), grads) in zip(variants, got_all, strict=True):
            (rval, rout), rgrads = ref_all[reduction]
            pairs = [(val, rval), (out, rout)]
            pairs += list(zip(jax.tree.leaves(grads), jax.tree.leaves(rgrads), strict=True))
            for k, (a, r) in enumerate(pairs):
                if nan_pattern_only:
                    np.testing.assert_array_equal(np.isnan(a), np.isnan(r))
                else:  # assert_allclose: NaN exactly where the reference has NaN
                    assert_close(a, r, rtol=1e-12 if k < 2 else 1e-10, atol=1e-12)
            if valid_input:
                # the masked class: zero gradient for its weight column and bias entry
                assert float(jnp.max(jnp.abs(grads[1][:, MASKED]))) == 0.0
                assert float(grads[2][MASKED]) == 0.0
        return got_all

    got_all = check(h, tok_w, y)
    for (val, _), grads in got_all:
        assert_finite((val, grads))
    # the two custom VJPs agree with each other (same reduction: the same loss)
    (val0, _), grads0 = got_all[0]
    (val1, _), grads1 = got_all[1]
    if variants[0][1] == variants[1][1]:
        assert_close(val0, val1, rtol=1e-12, atol=1e-12)
        for a, c in zip(jax.tree.leaves(grads0), jax.tree.leaves(grads1), strict=True):
            assert_close(a, c, rtol=1e-10, atol=1e-12)

    # invalid input, same compiled functions: a counted label >= V (weight 0: no hiding) and one
    # < 0 give NaN values and NaN gradient rows exactly where the single-device loss has them
    # (NaN pattern only: the finite gradient entries of such a batch are not meaningful; with
    # class weights and "mean" they differ, the single-device normaliser reading class 0's weight
    # for an out-of-range label, the vocabulary-parallel one 0)
    kept = [i for i in range(N) if int(y[i]) != -100 and (where is None or bool(where[i]))]
    i, j = kept[0], kept[-1]
    got_all = check(h, tok_w.at[i].set(0.0), y.at[i].set(V + 3).at[j].set(-2), False, True)
    for (val, _), grads in got_all:
        assert np.isnan(float(val))
        np.testing.assert_array_equal(np.flatnonzero(np.isnan(grads[0]).any(axis=1)), [i, j])
    # a NaN hidden state on an ignored row: the single-device values (the value stays finite)
    assert int(y[2]) == -100
    got_all = check(h.at[2].set(jnp.nan), tok_w, y, False)
    for (val, _), _ in got_all:
        assert np.isfinite(float(val))


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
