"""The fused engine's weight-gradient update, one vocabulary slice at a time (issue 13).

``_engine.add_weight_grad`` forms ``h_cᵀ @ dz`` in ``[D, slice]`` pieces so that no second
``[D, V]`` buffer exists beside the accumulator. At test sizes the default slice is the whole
vocabulary, so these tests force narrow (and ragged) slices and compare with float64 NumPy and
with the unfused loss.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxloss
from jaxloss import _engine as eng

D, V, C = 4, 10, 6


def _head():
    return eng.Head(False, False, False, C, jnp.float64)


@pytest.mark.parametrize("sl", [3, 5, 10])  # ragged (3 + 3 + 3 + 1), one piece + tail, whole
def test_add_weight_grad_matches_numpy(sl):
    rng = np.random.default_rng(0)
    dw, h_c, dz = rng.normal(size=(D, V)), rng.normal(size=(C, D)), rng.normal(size=(C, V))
    got = eng.add_weight_grad(_head(), jnp.asarray(dw), jnp.asarray(h_c), jnp.asarray(dz), sl)
    np.testing.assert_allclose(np.asarray(got), dw + h_c.T @ dz, rtol=1e-13, atol=1e-13)


def test_default_slice_bounds():
    # 8 Mi elements per piece: D = 512 gives 4096 columns; never wider than V, never below 128
    assert eng.weight_grad_slice(512, 32768) == 4096
    assert eng.weight_grad_slice(512, 1000) == 1000
    assert eng.weight_grad_slice(1 << 16, 128256) == 128


def test_sliced_update_inside_the_fused_losses(monkeypatch):
    """3-column pieces (ragged tail) in both custom VJPs equal the unfused gradients."""
    monkeypatch.setattr(eng, "WEIGHT_GRAD_SLICE_ELEMS", 3 * D)
    monkeypatch.setattr(eng, "WEIGHT_GRAD_MIN_COLS", 1)
    assert eng.weight_grad_slice(D, V) == 3
    k = jax.random.split(jax.random.key(3), 4)
    h = jax.random.normal(k[0], (9, D), jnp.float64)
    w = jax.random.normal(k[1], (D, V), jnp.float64)
    b = jax.random.normal(k[2], (V,), jnp.float64)
    y = jax.random.randint(k[3], (9,), 0, V)

    def unfused(h, w, b):
        return jaxloss.sparse_softmax_cross_entropy(h @ w + b[None, :], y, label_smoothing=0.1)

    def fused(method):
        def f(h, w, b):
            return jaxloss.linear_cross_entropy(
                h, w, y, bias=b, label_smoothing=0.1, chunk_size=4, method=method
            )

        return f

    @jax.jit  # one compilation for the three gradients
    def grads(h, w, b):
        return [
            jax.grad(f, argnums=(0, 1, 2))(h, w, b)
            for f in (unfused, fused("forward_grad"), fused("recompute"))
        ]

    want, *gots = grads(h, w, b)
    for got in gots:
        for g, e in zip(got, want, strict=True):
            np.testing.assert_allclose(np.asarray(g), np.asarray(e), rtol=1e-10, atol=1e-12)
