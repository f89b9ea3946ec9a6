"""Invalid input to the sharded losses: the single-device values, named errors, checked mode.

Issue 11: NaN / ±inf logits, NaN hidden rows and out-of-range labels must give the single-device
loss (never a silent 0), in every reduction, with the single-device gradients; bad arguments must
raise the single-device errors naming the public function and the global shapes; and
``jaxloss.checked`` must work on the sharded losses.

Not collected by the main test run (it keeps one device): ``tests/test_sharding.py``
runs this file in its own process with ``--xla_force_host_platform_device_count=8``. Few compiles:
one jitted function per option set evaluates every invalid-input case (same shapes).
"""

import functools

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
)

from .helpers import rng

B, V, D = 8, 16, 4  # 2 x 4 mesh: 4 rows and 4 classes per device
NAN, INF = float("nan"), float("inf")
OPTIONS = {
    "plain": dict(),
    # every term on; row 7 is ignored (and its logits are bad too: it must not matter)
    "all": dict(ignore_index=-100, label_smoothing=0.2, z_loss=1e-2),
}
REDUCTIONS = ("none", "mean", "sum")


def _mesh():
    if jax.device_count() < 8:
        pytest.skip("needs 8 host devices (run through tests/test_sharding.py)")
    return jax.make_mesh((2, 4), ("data", "model"), axis_types=(AxisType.Auto,) * 2)


def _base():
    r = rng(11)
    x = r.normal(size=(B, V)) * 2.0
    y = np.array([2, 2, 0, 5, 9, 1, 14, 3])
    w = r.uniform(0.5, 2.0, size=B)
    return x, y, w


def _cases():
    """(name, logits, labels, rows whose gradient must be NaN by the out-of-range label rule)."""
    x, y, _ = _base()
    out = []

    def case(name, xs=None, ys=None, bad=()):
        out.append((name, x if xs is None else xs, y if ys is None else ys, bad))

    a = x.copy()
    a[1, 13] = NAN  # label 2 lives on shard 0, the NaN on shard 3
    case("nan_logit_one_row", a)
    case("all_nan", np.full_like(x, NAN))
    a = x.copy()
    a[2, 9] = INF  # off the label
    case("posinf_logit", a)
    a = x.copy()
    a[3, 5] = INF  # at the label: inf - inf
    case("posinf_at_label", a)
    a = x.copy()
    a[4, :] = -INF
    case("all_neginf_row", a)
    a = x.copy()
    a[5, 8:] = -INF  # two whole shards masked: still finite
    case("neginf_two_shards", a)
    b = y.copy()
    b[0], b[6] = V, -1  # just past the end; negative (not wrapped, not ignore_index)
    case("out_of_range_label", ys=b, bad=(0, 6))
    return out


CASES = _cases()


@functools.cache
def _fns(opt):
    """(sharded, single-device) jitted: values for every reduction, gradients of mean and sum."""
    mesh = _mesh()
    opts = OPTIONS[opt]

    def run(loss):
        def f(x, y, w):
            vals = [loss(x, y, w, r) for r in REDUCTIONS]
            grads = [jax.grad(loss)(x, y, w, r) for r in ("mean", "sum")]
            return vals, grads

        return jax.jit(f)

    def sharded(x, y, w, r):
        return sharded_cross_entropy(
            x,
            y,
            mesh=mesh,
            vocab_axis="model",
            batch_axis="data",
            weights=w,
            reduction=r,
            **opts,
        )

    def single(x, y, w, r):
        return jaxloss.sparse_softmax_cross_entropy(x, y, weights=w, reduction=r, **opts)

    return run(sharded), run(single)


def _ignored(opt, x, y):
    """With ignore_index, row 7 is ignored and gets a NaN logit (it must change nothing)."""
    if "ignore_index" not in OPTIONS[opt]:
        return x, y
    x, y = x.copy(), y.copy()
    y[7] = -100
    x[7, 0] = NAN
    return x, y


def _assert_same(got, want, what):
    got, want = np.asarray(got), np.asarray(want)
    # identical non-finite pattern (NaN where NaN, ±inf where ±inf), close finite values
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want), err_msg=f"{what}: NaN pattern")
    np.testing.assert_array_equal(np.isposinf(got), np.isposinf(want), err_msg=f"{what}: +inf")
    np.testing.assert_array_equal(np.isneginf(got), np.isneginf(want), err_msg=f"{what}: -inf")
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12, equal_nan=True, err_msg=what)


@pytest.mark.parametrize("opt", list(OPTIONS))
def test_invalid_logits_and_labels_give_the_single_device_values(opt):
    f, ref = _fns(opt)
    _, _, w = _base()
    for name, x, y, bad in CASES:
        x, y = _ignored(opt, x, y)
        vals, grads = f(x, y, w)
        rvals, rgrads = ref(x, y, w)
        for r, got, want in zip(REDUCTIONS, vals, rvals, strict=True):
            _assert_same(got, want, f"{name} {opt} {r}")
        for r, got, want in zip(("mean", "sum"), grads, rgrads, strict=True):
            want = np.array(want)
            # the out-of-range label rule (notes/label_rule.md): the row's whole gradient is NaN
            want[list(bad)] = NAN
            _assert_same(got, want, f"{name} {opt} grad of {r}")
        if name != "all_nan":
            # the bad row is the only non-finite one (rows 0 and 6 are out of range there)
            finite_rows = np.isfinite(np.asarray(vals[0]))
            assert finite_rows.sum() >= B - 2 - ("ignore_index" in OPTIONS[opt]), name


def test_non_finite_values_are_not_zero():
    """The issue's cases by name: the loss was 0 where the single device gives NaN / +inf.

    (A +inf logit now gives NaN wherever it is, single-device and sharded alike.)"""
    f, _ = _fns("plain")
    _, _, w = _base()
    got = {name: [np.asarray(v) for v in f(x, y, w)[0]] for name, x, y, _ in CASES}
    assert np.isnan(got["nan_logit_one_row"][0][1]) and np.isnan(got["nan_logit_one_row"][1])
    assert np.isnan(got["all_nan"][1]) and np.isnan(got["all_nan"][2])
    # a +inf logit: NaN for its row wherever it is (no defined softmax), as single-device
    assert np.isnan(got["posinf_logit"][0][2]) and np.isnan(got["posinf_logit"][1])
    assert np.isnan(got["posinf_at_label"][0][3])
    assert np.isposinf(got["all_neginf_row"][0][4]) and np.isposinf(got["all_neginf_row"][2])
    assert np.isnan(got["out_of_range_label"][0][[0, 6]]).all()


def test_out_of_range_label_where_and_weights():
    """where=False wins (value 0, gradient exactly 0); a zero weight does not rescue (NaN)."""
    mesh = _mesh()
    x, y, _ = _base()
    y = y.copy()
    y[0], y[6] = V, -1
    where = np.ones(B, bool)
    where[0] = False
    w = np.ones(B)
    w[6] = 0.0

    def loss(xx, r):
        return sharded_cross_entropy(
            xx, y, mesh=mesh, vocab_axis="model", batch_axis="data", weights=w, where=where,
            reduction=r,
        )  # fmt: skip

    rows = jax.jit(functools.partial(loss, r="none"))(x)
    assert rows[0] == 0.0 and np.isnan(rows[6])
    assert np.isfinite(np.delete(np.asarray(rows), 6)).all()
    g = np.asarray(jax.jit(jax.grad(functools.partial(loss, r="sum")))(x))
    assert (g[0] == 0.0).all() and np.isnan(g[6]).all()
    assert np.isfinite(np.delete(g, 6, axis=0)).all()


def test_linear_nan_hidden_and_out_of_range_label():
    mesh = _mesh()
    r = rng(12)
    h0 = r.normal(size=(B, D))
    W = r.normal(size=(D, V)) / 2
    y0 = np.array([2, -100, 0, 5, 9, 1, 14, 3])
    opts = dict(ignore_index=-100, label_smoothing=0.1, z_loss=1e-3)

    def sharded(h, w, y, red):
        fn = jax.shard_map(
            lambda a, b, c: vocab_parallel_linear_cross_entropy(
                a,
                b,
                c,
                axis_name="model",
                batch_axis_name="data",
                chunk_size=3,
                reduction=red,
                **opts,
            ),  # fmt: skip
            mesh=mesh,
            in_specs=(P("data"), P(None, "model"), P("data")),
            out_specs=P("data") if red == "none" else P(),
        )
        return fn(h, w, y)

    def single(h, w, y, red):
        return jaxloss.sparse_softmax_cross_entropy(h @ w, y, reduction=red, **opts)

    def both(loss):
        def f(h, w, y):
            vals = [loss(h, w, y, red) for red in REDUCTIONS]
            return vals, jax.grad(loss, argnums=(0, 1))(h, w, y, "mean")

        return jax.jit(f)

    f, ref = both(sharded), both(single)
    h = h0.copy()
    h[3, 1] = NAN
    y = y0.copy()
    y[6] = V + 3
    for name, hh, yy, bad in (("nan_hidden", h, y0, ()), ("out_of_range", h0, y, (6,))):
        (vals, (dh, dw)), (rvals, (rdh, rdw)) = f(hh, W, yy), ref(hh, W, yy)
        for red, got, want in zip(REDUCTIONS, vals, rvals, strict=True):
            _assert_same(got, want, f"linear {name} {red}")
        rdh = np.array(rdh)
        rdh[list(bad)] = NAN
        if bad:
            rdw = np.full_like(rdw, NAN)  # the NaN row reaches every weight
        _assert_same(dh, rdh, f"linear {name} d hidden")
        _assert_same(dw, rdw, f"linear {name} d weight")
    assert np.isnan(vals[0][6]) and np.isnan(vals[1])


# ---------------------------------------------------------------------------------------------
# Argument checks: the single-device errors, naming the function called, with global shapes
# ---------------------------------------------------------------------------------------------


def _error(fn):
    try:
        fn()
    except (TypeError, ValueError) as e:
        return type(e), str(e)
    raise AssertionError("no error raised")


BAD_ARGUMENTS = {
    "float where": dict(where=np.ones(B)),
    "float ignore_index": dict(ignore_index=-100.0),
    "bool ignore_index": dict(ignore_index=True),
    "weights shape": dict(weights=np.ones(3)),
    "where shape": dict(where=np.ones(3, bool)),
    "labels shape": dict(labels=np.zeros(4, int)),
    "float labels": dict(labels=np.zeros(B)),
    "integer logits": dict(logits=np.zeros((B, V), int)),
    "label_smoothing range": dict(label_smoothing=1.5),
    "label_smoothing shape": dict(label_smoothing=np.full(B, 0.1)),
    "z_loss sign": dict(z_loss=-1.0),
    "reduction": dict(reduction="avg"),
}


@pytest.mark.parametrize("case", list(BAD_ARGUMENTS))
def test_sharded_errors_are_the_single_device_errors(case):
    mesh = _mesh()
    x, y, _ = _base()
    kw = {**dict(logits=x, labels=y), **BAD_ARGUMENTS[case]}
    want = _error(lambda: jaxloss.sparse_softmax_cross_entropy(**kw))
    got = _error(
        lambda: sharded_cross_entropy(**kw, mesh=mesh, vocab_axis="model", batch_axis="data")
    )
    name = "sparse_softmax_cross_entropy"
    assert want[1].startswith(name + ": "), want
    assert got == (want[0], want[1].replace(name, "sharded_cross_entropy", 1))


def test_mesh_axis_errors():
    mesh = _mesh()
    x, y, _ = _base()
    ce = functools.partial(sharded_cross_entropy, x, y, mesh=mesh)
    with pytest.raises(ValueError, match=r"sharded_cross_entropy: 'vocab_axis'='modle' is not an"):
        ce(vocab_axis="modle")
    with pytest.raises(ValueError, match=r"sharded_cross_entropy: 'batch_axis'='dat' is not an"):
        ce(vocab_axis="model", batch_axis="dat")
    with pytest.raises(ValueError, match="'vocab_axis' and 'batch_axis' must be different"):
        ce(vocab_axis="model", batch_axis="model")
    with pytest.raises(ValueError, match="sharded_cross_entropy: vocabulary size 30 does not"):
        sharded_cross_entropy(np.zeros((B, 30)), y, mesh=mesh, vocab_axis="model")
    with pytest.raises(TypeError, match="sharded_cross_entropy: 'mesh' must be a"):
        sharded_cross_entropy(x, y, mesh=None, vocab_axis="model")


def test_vocab_parallel_errors_name_the_function_inside_shard_map():
    mesh = _mesh()
    x, y, w = _base()

    def call(fn, *args):
        return jax.shard_map(
            fn, mesh=mesh, in_specs=(P("data", "model"), P("data")), out_specs=P()
        )(*args)

    vp = functools.partial(vocab_parallel_cross_entropy, axis_name="model", batch_axis_name="data")
    with pytest.raises(TypeError, match="vocab_parallel_cross_entropy: 'where' must be a boolean"):
        call(lambda a, b: vp(a, b, where=jnp.ones(b.shape)), x, y)
    with pytest.raises(TypeError, match="vocab_parallel_cross_entropy: 'ignore_index' must be"):
        call(lambda a, b: vp(a, b, ignore_index=-100.0), x, y)
    with pytest.raises(ValueError, match=r"vocab_parallel_cross_entropy: 'weights' of shape \(3,"):
        call(lambda a, b: vp(a, b, weights=jnp.ones(3)), x, y)

    h, W = np.zeros((B, D)), np.zeros((D, V))
    lin = functools.partial(vocab_parallel_linear_cross_entropy, axis_name="model")
    call3 = lambda fn: jax.shard_map(  # noqa: E731
        fn, mesh=mesh, in_specs=(P("data"), P(None, "model"), P("data")), out_specs=P()
    )(h, W, y)
    with pytest.raises(TypeError, match="vocab_parallel_linear_cross_entropy: 'where' must be"):
        call3(lambda a, b, c: lin(a, b, c, where=jnp.ones(c.shape)))
    with pytest.raises(ValueError, match="vocab_parallel_linear_cross_entropy: 'chunk_size'"):
        call3(lambda a, b, c: lin(a, b, c, chunk_size=0))


# ---------------------------------------------------------------------------------------------
# Checked mode
# ---------------------------------------------------------------------------------------------


def test_checked_sharded_cross_entropy():
    mesh = _mesh()
    x, y, _ = _base()
    ce = jaxloss.checked(sharded_cross_entropy)
    kw = dict(mesh=mesh, vocab_axis="model", batch_axis="data", ignore_index=-100)
    np.testing.assert_allclose(
        ce(x, y, **kw), sharded_cross_entropy(x, y, **kw), rtol=1e-12, atol=0
    )
    bad = y.copy()
    bad[5] = 1000
    bad[2] = -100  # ignored: fine
    with pytest.raises(
        jaxloss.LossInputError,
        match=r"sharded_cross_entropy: 'labels' must be a class id in \[0, 16\) or "
        r"ignore_index=-100; got 1000 at index \[5\]",
    ):
        ce(x, bad, **kw)
    xn = x.copy()
    xn[6, 11] = NAN
    with pytest.raises(
        jaxloss.LossInputError,
        match=r"sharded_cross_entropy: 'logits' must not be NaN or \+inf; got nan at index "
        r"\[ ?6 11\]$",
    ):
        ce(xn, y, **kw)


def test_checked_vocab_parallel_inside_shard_map():
    mesh = _mesh()
    x, y, _ = _base()
    vp = jaxloss.checked(vocab_parallel_cross_entropy)
    step = jax.jit(
        jax.shard_map(
            lambda a, b: vp(a, b, axis_name="model", batch_axis_name="data"),
            mesh=mesh,
            in_specs=(P("data", "model"), P("data")),
            out_specs=P(),
        )
    )
    checked_step = jaxloss.checkify(step)
    np.testing.assert_allclose(checked_step(x, y), step(x, y), rtol=1e-12, atol=0)
    bad = y.copy()
    bad[1] = V  # global class count, not the shard's 4
    with pytest.raises(
        jaxloss.LossInputError,
        match=r"vocab_parallel_cross_entropy: 'labels' must be a class id in \[0, 16\)",
    ):
        checked_step(x, bad)

    lin = jaxloss.checked(vocab_parallel_linear_cross_entropy)
    lin_step = jaxloss.checkify(
        jax.jit(
            jax.shard_map(
                lambda a, b, c: lin(a, b, c, axis_name="model", batch_axis_name="data"),
                mesh=mesh,
                in_specs=(P("data"), P(None, "model"), P("data")),
                out_specs=P(),
            )
        )
    )
    h, W = rng(13).normal(size=(B, D)), rng(14).normal(size=(D, V))
    assert np.isfinite(lin_step(h, W, y))
    with pytest.raises(
        jaxloss.LossInputError,
        match=r"vocab_parallel_linear_cross_entropy: 'labels' must be a class id in \[0, 16\)",
    ):
        lin_step(h, W, bad)
    h[2, 1] = NAN
    with pytest.raises(
        jaxloss.LossInputError,
        match=r"vocab_parallel_linear_cross_entropy: 'hidden' must be finite",
    ):
        lin_step(h, W, y)


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(pytest.main([__file__, "-q"]))
