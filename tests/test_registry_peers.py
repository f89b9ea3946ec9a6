"""Every peer name of the registry against the library it names, on random inputs.

- ``get("torch:<name>")`` for every function and class of ``jaxloss.compat.torch`` vs PyTorch;
- ``get("keras:<name>")`` for every function and class of ``jaxloss.compat.keras`` vs Keras
  (JAX backend; Keras is a test-only dependency and the Keras part skips without it);
- ``get("optax:<name>")`` resolves to ``jaxloss.compat.optax`` where that module exists;
- unqualified PyTorch class names (``CrossEntropyLoss`` on ``[N, C, T]`` included) vs PyTorch;
- unqualified names spelled like a Keras function: equal to Keras' value, or listed in
  ``KERAS_NAME_COLLISIONS`` (the README's table of names whose unqualified meaning is jaxloss').
"""

from __future__ import annotations

import importlib
import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxloss
from jaxloss import _registry

from .helpers import cover_once_params

# Unqualified names spelled like a Keras loss whose unqualified meaning is jaxloss' (README,
# "Coming from optax / PyTorch / Keras"); "keras:<name>" gives Keras' values.
KERAS_NAME_COLLISIONS = {
    "kl_divergence": "jaxloss' KL takes log-predictions (PyTorch's meaning); Keras' takes "
    "probabilities (kl_divergence_from_probabilities, or keras:kl_divergence)",
    "binary_crossentropy": "log clamped at -100 (PyTorch) instead of Keras' clip of p at 1e-7",
    "binary_focal_crossentropy": "log clamped at -100 instead of Keras' clip of p at 1e-7",
    "categorical_crossentropy": "no renormalisation of the probabilities, log clamp at -100",
    "dice": "per-batch-row dice with smooth=1 (Keras: one value over all axes, ε=1e-7)",
    "tversky": "per-batch-row with smooth=1 (Keras: over all axes, ε=1e-7)",
    "cosine_similarity": "ε = 1e-8 on the norms (Keras 1e-7)",
}
# Unqualified PyTorch class names whose unqualified meaning is jaxloss' (README table): none, every
# unqualified PyTorch class name is PyTorch's class (KLDivLoss and CTCLoss included, issue 10)
TORCH_NAME_EXCEPTIONS: dict[str, str] = {}


# ----------------------------------------------------------------------------------------------
# PyTorch
# ----------------------------------------------------------------------------------------------


def _torch_cases():
    pytest.importorskip("torch")
    from tests import test_compat_torch as T

    first = {}
    for case in T.CASES:
        name = case.values[0]
        first.setdefault(name, case.values)
    return T, first


def test_every_torch_name_matches_pytorch():
    T, first = _torch_cases()
    torch = T.torch
    from jaxloss.compat import torch as JF

    checked, unqualified_checked = 0, set()
    for name in JF.__all__:
        is_class = name[0].isupper()
        fn_name = next(n for n in first if T._class_of(n) == name) if is_class else name
        _, args, diff, options = first[fn_name]
        t_fn, _, t_opts, j_opts = T._fns(fn_name, options)
        peer = jaxloss.get(f"torch:{name}")
        if is_class:
            t_loss = getattr(torch.nn, name)(**{k: T._to_torch(v) for k, v in t_opts.items()})
            t_call = t_loss
            j_call = lambda *a, peer=peer, o=j_opts: peer(
                *a, **{k: T._to_jax(v) for k, v in o.items()}
            )
        else:
            t_fn_f = getattr(T.F, name)
            t_call = lambda *a, f=t_fn_f, o=t_opts: f(
                *a, **{k: T._to_torch(v) for k, v in o.items()}
            )
            j_call = lambda *a, peer=peer, o=j_opts: peer(
                *a, **{k: T._to_jax(v) for k, v in o.items()}
            )
        if fn_name == "ctc_loss":
            t_base, j_base = t_call, j_call
            t_call = lambda x, *r, t_base=t_base: t_base(x.log_softmax(-1), *r)
            j_call = lambda x, *r, j_base=j_base: j_base(jax.nn.log_softmax(x, -1), *r)
        T.compare(t_call, j_call, args(3), diff, {}, {}, seed=3)
        checked += 1
        if is_class and name in _registry._TORCH_CLASSES:  # the unqualified name: PyTorch's too
            unqualified = jaxloss.get(name)
            j_unq = lambda *a, u=unqualified, o=j_opts: u(
                *a, **{k: T._to_jax(v) for k, v in o.items()}
            )
            if fn_name == "ctc_loss":
                j_unq = lambda x, *r, j_base=j_unq: j_base(jax.nn.log_softmax(x, -1), *r)
            T.compare(t_call, j_unq, args(3), diff, {}, {}, seed=3)
            unqualified_checked.add(name)
    assert checked == len(JF.__all__) == 42
    assert unqualified_checked == {"CrossEntropyLoss", "NLLLoss", "KLDivLoss", "CTCLoss"}


def test_unqualified_torch_class_names_are_pytorch():
    T, first = _torch_cases()
    torch = T.torch
    names = {n.lower(): n for n in jaxloss.list_losses(aliases=True)}
    tested = set()
    for fn_name, (_, args, diff, _options) in first.items():
        cls = T._class_of(fn_name)
        if cls.lower() not in names or cls in TORCH_NAME_EXCEPTIONS:
            continue
        loss = jaxloss.get(cls)
        t_fn = getattr(torch.nn, cls)()
        fn = loss
        if fn_name == "ctc_loss":  # logits in, PyTorch's log_probs [T, N, C] to both
            t_fn = lambda x, *r, t_loss=t_fn: t_loss(x.log_softmax(-1), *r)
            fn = lambda x, *r, loss=loss: loss(jax.nn.log_softmax(x, -1), *r)
        T.compare(t_fn, fn, args(4), diff, {}, {}, seed=4)
        tested.add(cls)
    assert {"CrossEntropyLoss", "NLLLoss", "MSELoss", "BCELoss", "KLDivLoss", "CTCLoss"} <= tested
    assert set(TORCH_NAME_EXCEPTIONS) <= {names.get(n.lower()) for n in TORCH_NAME_EXCEPTIONS}


@pytest.mark.parametrize("name", ["CrossEntropyLoss", "NLLLoss"])
def test_unqualified_class_names_use_class_dimension_1(name):
    torch = pytest.importorskip("torch")
    r = np.random.default_rng(0)
    x = r.standard_normal((3, 4, 5))
    if name == "NLLLoss":
        x = x - np.log(np.exp(x).sum(axis=1, keepdims=True))
    y = r.integers(0, 4, (3, 5))
    y[0, 0] = -100
    want = getattr(torch.nn, name)(label_smoothing=0.1) if name == "CrossEntropyLoss" else None
    want = want or getattr(torch.nn, name)()
    t = float(want(torch.tensor(x), torch.tensor(y)))
    opts = {"label_smoothing": 0.1} if name == "CrossEntropyLoss" else {}
    got = float(jaxloss.get(name)(jnp.asarray(x), jnp.asarray(y), **opts))
    np.testing.assert_allclose(got, t, rtol=1e-10)
    # probability targets (CrossEntropyLoss only)
    if name == "CrossEntropyLoss":
        p = np.exp(x) / np.exp(x).sum(axis=1, keepdims=True)
        t = float(torch.nn.CrossEntropyLoss()(torch.tensor(x), torch.tensor(p)))
        got = float(jaxloss.get(name)(jnp.asarray(x), jnp.asarray(p)))
        np.testing.assert_allclose(got, t, rtol=1e-10)
    # jaxloss options keep the canonical loss, still on the class dimension 1
    w = np.ones(4)
    got = jaxloss.get(name)(jnp.asarray(x), jnp.asarray(y), class_weights=jnp.asarray(w))
    np.testing.assert_allclose(
        float(got), float(getattr(torch.nn, name)()(torch.tensor(x), torch.tensor(y))), rtol=1e-10
    )


# ----------------------------------------------------------------------------------------------
# Keras
# ----------------------------------------------------------------------------------------------


def _keras():
    if "keras" not in globals().get("_KERAS_CACHE", {}):
        os.environ.setdefault("KERAS_BACKEND", "jax")
        keras = pytest.importorskip("keras")
        if keras.backend.backend() != "jax":
            pytest.skip("Keras is configured with a non-JAX backend")
        globals()["_KERAS_CACHE"] = {"keras": keras}
    return globals()["_KERAS_CACHE"]["keras"]


def _live(fn, *args, **kwargs):
    """A live Keras call: Keras itself is not written for strict dtype / rank promotion."""
    with jax.numpy_dtype_promotion("standard"), jax.numpy_rank_promotion("allow"):
        return np.asarray(fn(*args, **kwargs))


def _onehot(r, n, c):
    return np.eye(c)[r.integers(0, c, n)]


def _simplex(r, shape):
    p = r.uniform(0.05, 1.0, shape)
    return p / p.sum(-1, keepdims=True)


def _keras_inputs(fn_name, seed=0):
    """(y_true, y_pred, extra kwargs) for a Keras function name."""
    r = np.random.default_rng(seed)
    s = (4, 3)
    if fn_name in (
        "mean_squared_error",
        "mean_absolute_error",
        "mean_absolute_percentage_error",
        "mean_squared_logarithmic_error",
        "huber",
        "log_cosh",
        "poisson",
    ):
        return r.uniform(0.1, 2, s), r.uniform(0.1, 2, s), {}
    if fn_name in ("hinge", "squared_hinge"):
        return (r.uniform(size=s) < 0.5) * 1.0, r.standard_normal(s), {}
    if fn_name == "categorical_hinge":
        return _onehot(r, 4, 3), r.standard_normal(s), {}
    if fn_name == "cosine_similarity":
        return r.standard_normal(s), r.standard_normal(s), {}
    if fn_name == "kl_divergence":
        return _simplex(r, s), _simplex(r, s), {}
    if fn_name in ("categorical_crossentropy", "categorical_focal_crossentropy"):
        return _simplex(r, s), _simplex(r, s), {}
    if fn_name == "sparse_categorical_crossentropy":
        return r.integers(0, 3, 4), _simplex(r, s), {}
    if fn_name in ("binary_crossentropy", "binary_focal_crossentropy"):
        return r.uniform(0, 1, s), r.uniform(0.05, 0.95, s), {}
    if fn_name == "categorical_generalized_cross_entropy":
        return r.integers(0, 3, 4), _simplex(r, s), {"q": 0.7}
    if fn_name == "ctc":
        labels = r.integers(1, 4, (2, 3))
        labels[1, 2] = 0
        return labels, r.standard_normal((2, 6, 4)), {}
    if fn_name in ("dice", "tversky"):
        return (r.uniform(size=(2, 4, 4)) < 0.5) * 1.0, r.uniform(0, 1, (2, 4, 4)), {}
    if fn_name == "circle":
        e = r.standard_normal((6, 4))
        return np.array([0, 0, 1, 1, 2, 2]), e / np.linalg.norm(e, axis=-1, keepdims=True), {}
    raise KeyError(fn_name)


_KERAS_CLASS_FN = {
    "BinaryCrossentropy": "binary_crossentropy",
    "BinaryFocalCrossentropy": "binary_focal_crossentropy",
    "CTC": "ctc",
    "CategoricalCrossentropy": "categorical_crossentropy",
    "CategoricalFocalCrossentropy": "categorical_focal_crossentropy",
    "CategoricalGeneralizedCrossEntropy": "categorical_generalized_cross_entropy",
    "CategoricalHinge": "categorical_hinge",
    "Circle": "circle",
    "CosineSimilarity": "cosine_similarity",
    "Dice": "dice",
    "Hinge": "hinge",
    "Huber": "huber",
    "KLDivergence": "kl_divergence",
    "LogCosh": "log_cosh",
    "MeanAbsoluteError": "mean_absolute_error",
    "MeanAbsolutePercentageError": "mean_absolute_percentage_error",
    "MeanSquaredError": "mean_squared_error",
    "MeanSquaredLogarithmicError": "mean_squared_logarithmic_error",
    "Poisson": "poisson",
    "SparseCategoricalCrossentropy": "sparse_categorical_crossentropy",
    "SquaredHinge": "squared_hinge",
    "Tversky": "tversky",
}


def _keras_edge_inputs(fn_name):
    """Inputs at the edges where conventions part: p of exactly 0 / 1, unnormalised
    probabilities, a tiny vector."""
    y_true, y_pred, extra = _keras_inputs(fn_name, seed=5)
    y_pred = np.array(y_pred)
    if fn_name in ("binary_crossentropy", "binary_focal_crossentropy"):
        y_true = np.round(y_true)
        y_pred[0, 0], y_pred[1, 0] = 1.0 - y_true[0, 0], y_true[1, 0]
    elif fn_name in ("categorical_crossentropy", "categorical_focal_crossentropy", "kl_divergence"):
        y_pred = 2.0 * y_pred
        y_pred[0] = [0.0, 1.0, 1.0]
    elif fn_name == "cosine_similarity":
        y_pred[0] = 3e-8 * np.array([1.0, 2.0, 2.0])
    return y_true, y_pred, extra


def _keras_options(name):
    """Non-default options, so that they are exercised (Tversky: alpha ≠ beta)."""
    return {
        "tversky": {"alpha": 0.3, "beta": 0.7},
        "Tversky": {"alpha": 0.3, "beta": 0.7},
        "huber": {"delta": 0.5},
        "Huber": {"delta": 0.5},
        "BinaryFocalCrossentropy": {"apply_class_balancing": True, "label_smoothing": 0.1},
        "CategoricalCrossentropy": {"label_smoothing": 0.1},
        "Circle": {"gamma": 4.0},
        "circle": {"gamma": 4.0},
    }.get(name, {})


def _live_keras_options(name, options):
    # Keras 3.15.1 swaps Tversky's alpha and beta (fixed upstream, keras-team/keras#23333)
    if name.lower() == "tversky":
        options = {**options, "alpha": options["beta"], "beta": options["alpha"]}
    return options


# Default tier: each Keras loss once (as a class where it has one: that also checks sample_weight)
# and one plain-function name; every name in the slow tier.
_KERAS_NAMES = sorted(
    (n for n in importlib.import_module("jaxloss.compat.keras").__all__ if n != "Loss"),
    key=lambda n: not n[0].isupper(),
)
_KERAS_NAME_PARAMS = cover_once_params(
    [pytest.param(n, id=n) for n in _KERAS_NAMES],
    lambda p: {_KERAS_CLASS_FN.get(p.values[0], p.values[0]), p.values[0][0].isupper()},
)


@pytest.mark.parametrize("name", _KERAS_NAME_PARAMS)
def test_every_keras_name_matches_keras(name):
    keras = _keras()
    is_class = name[0].isupper()
    fn_name = _KERAS_CLASS_FN[name] if is_class else name
    y_true, y_pred, extra = _keras_inputs(fn_name, seed=1)
    options = {**extra, **_keras_options(name)}
    live_options = _live_keras_options(name, options)
    peer = jaxloss.get(f"keras:{name}")
    if is_class:
        sw = np.linspace(0.5, 1.5, y_pred.shape[0])
        want = _live(getattr(keras.losses, name)(**live_options), y_true, y_pred, sample_weight=sw)
        got = peer(
            jnp.asarray(y_pred), jnp.asarray(y_true), sample_weight=jnp.asarray(sw), **options
        )
        tol = {"rtol": 2e-5, "atol": 2e-6}  # both float32 (Keras' floatx)
    else:
        want = _live(getattr(keras.losses, name), y_true, y_pred, **live_options)
        got = peer(jnp.asarray(y_pred), jnp.asarray(y_true), **options)
        tol = {"rtol": 2e-5, "atol": 2e-6}
    want = np.asarray(want)
    assert np.shape(got) == want.shape
    np.testing.assert_allclose(np.asarray(got, np.float64), want, **tol)


def test_unqualified_keras_spelled_names_equal_keras_or_are_documented():
    keras = _keras()
    registry = {n.lower(): n for n in jaxloss.list_losses(aliases=True)}
    differ, same = set(), set()
    for fn_name in sorted(
        {n for n in importlib.import_module("jaxloss.compat.keras").__all__ if n[0].islower()}
    ):
        if fn_name not in registry:
            continue
        for y_true, y_pred, extra in (_keras_inputs(fn_name, 2), _keras_edge_inputs(fn_name)):
            if extra or fn_name in ("ctc", "circle", "sparse_categorical_crossentropy"):
                break  # signatures that are not (predictions, targets) in jaxloss
            want = float(np.mean(_live(getattr(keras.losses, fn_name), y_true, y_pred)))
            got = float(jaxloss.get(fn_name)(jnp.asarray(y_pred), jnp.asarray(y_true)))
            if not np.isclose(got, want, rtol=1e-5, atol=1e-7):
                differ.add(fn_name)
        else:
            if fn_name not in differ:
                same.add(fn_name)
    assert differ == set(KERAS_NAME_COLLISIONS), (differ, same)
    assert same  # most Keras-spelled aliases do carry Keras' values


# ----------------------------------------------------------------------------------------------
# optax and the registry's own behaviour
# ----------------------------------------------------------------------------------------------


def test_optax_names_resolve_to_compat_optax():
    try:
        compat_optax = importlib.import_module("jaxloss.compat.optax")
    except ImportError:
        pytest.skip("jaxloss.compat.optax is not in this tree")
    import optax

    names = [n for n in getattr(compat_optax, "__all__", ()) if not n.startswith("_")]
    assert names
    for name in names:
        assert jaxloss.get(f"optax:{name}") is getattr(compat_optax, name)
    r = np.random.default_rng(0)
    logits, labels = r.standard_normal((4, 5)), _simplex(r, (4, 5))
    if "softmax_cross_entropy" in names:
        np.testing.assert_allclose(
            jaxloss.get("optax:softmax_cross_entropy")(jnp.asarray(logits), jnp.asarray(labels)),
            optax.losses.softmax_cross_entropy(jnp.asarray(logits), jnp.asarray(labels)),
            rtol=1e-12,
        )


def test_qualified_name_errors():
    with pytest.raises(ValueError, match="unknown library 'jax'"):
        jaxloss.get("jax:mse")
    with pytest.raises(ValueError, match="jaxloss.compat.torch has no loss 'cross_entropyy'"):
        jaxloss.get("torch:cross_entropyy")
    with pytest.raises(ValueError, match="no loss '_reduction'"):
        jaxloss.get("torch:_reduction")


def test_registry_does_not_import_compat_at_import_time():
    import subprocess
    import sys

    code = (
        "import sys, jaxloss; "
        "assert 'jaxloss.compat.torch' not in sys.modules; "
        "jaxloss.get('mse'); assert 'jaxloss.compat.torch' not in sys.modules; "
        "jaxloss.get('torch:mse_loss'); assert 'jaxloss.compat.torch' in sys.modules"
    )
    env = {**os.environ, "PYTHONPATH": os.getcwd()}
    subprocess.run([sys.executable, "-c", code], check=True, env=env)
