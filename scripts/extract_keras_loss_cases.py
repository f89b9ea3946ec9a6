"""Extracts the numeric cases of Keras' own ``keras/src/losses/losses_test.py`` into a data file.

Runs Keras' test module (JAX backend) under pytest with this file as a plugin: every call of a
Keras loss (class instance or function) is recorded with its constructor options and inputs, and
every ``assertAllClose`` / ``assertAlmostEqual`` whose ``actual`` is a recorded loss output links
that call to the expected number the test asserts. The result, ``tests/data/keras_loss_cases.json``,
holds only inputs, options and the expected numbers; ``tests/test_compat_keras.py`` (our own test
code) replays them against ``jaxloss.compat.keras``.

Usage (Keras 3.15 installed):
  KERAS_BACKEND=jax PYTHONPATH=scripts python -m pytest -q -p extract_keras_loss_cases \\
      <site-packages>/keras/src/losses/losses_test.py
"""

from __future__ import annotations

import json
import os
import pathlib
import threading

import numpy as np

OUT = pathlib.Path(__file__).resolve().parents[1] / "tests" / "data" / "keras_loss_cases.json"
_state = threading.local()
_calls: list[dict] = []
_cases: list[dict] = []


def _arr(x):
    if x is None:
        return None
    a = np.asarray(x)
    return {"dtype": str(a.dtype), "value": a.tolist()}


def _jsonable(v):
    if isinstance(v, (bool, int, float, str)) or v is None:
        return v
    if isinstance(v, (list, tuple)):
        return [_jsonable(x) for x in v]
    a = np.asarray(v)
    return a.item() if a.ndim == 0 else a.tolist()


def _test_id():
    return os.environ.get("PYTEST_CURRENT_TEST", "?").split(" ")[0].split("::", 1)[-1]


def pytest_configure(config):
    from keras.src.losses import loss as loss_mod
    from keras.src.losses import losses as L
    from keras.src.testing import test_case

    classes = [
        c
        for c in vars(L).values()
        if isinstance(c, type)
        and issubclass(c, L.LossFunctionWrapper)
        and c is not L.LossFunctionWrapper
    ]
    for cls in classes:
        orig_init = cls.__init__

        def init(self, *args, __orig=orig_init, **kwargs):
            self._rec_ctor = (
                [_jsonable(a) for a in args],
                {k: _jsonable(v) for k, v in kwargs.items()},
            )
            __orig(self, *args, **kwargs)

        cls.__init__ = init

    orig_call = loss_mod.Loss.__call__

    def call(self, y_true, y_pred, sample_weight=None):
        _state.depth = getattr(_state, "depth", 0) + 1
        try:
            out = orig_call(self, y_true, y_pred, sample_weight=sample_weight)
        finally:
            _state.depth -= 1
        args, kwargs = getattr(self, "_rec_ctor", ([], {}))
        _calls.append(
            {
                "kind": "class",
                "name": type(self).__name__,
                "args": args,
                "kwargs": kwargs,
                "y_true": _arr(y_true),
                "y_pred": _arr(y_pred),
                "sample_weight": _arr(sample_weight),
                "out": out,
            }
        )
        return out

    loss_mod.Loss.__call__ = call

    functions = [
        n
        for n, f in vars(L).items()
        if callable(f)
        and not isinstance(f, type)
        and getattr(f, "__module__", "") == L.__name__
        and n not in ("convert_binary_labels_to_hinge", "build_pos_neg_masks")
        and not n.startswith("_")
    ]
    for n in functions:
        fn = getattr(L, n)

        def wrapped(y_true, y_pred, *args, __fn=fn, __n=n, **kwargs):
            nested = getattr(_state, "depth", 0) > 0
            out = __fn(y_true, y_pred, *args, **kwargs)
            if not nested:
                _calls.append(
                    {
                        "kind": "function",
                        "name": __n,
                        "args": [_jsonable(a) for a in args],
                        "kwargs": {k: _jsonable(v) for k, v in kwargs.items()},
                        "y_true": _arr(y_true),
                        "y_pred": _arr(y_pred),
                        "sample_weight": None,
                        "out": out,
                    }
                )
            return out

        setattr(L, n, wrapped)

    def link(actual, desired, tol):
        a = np.asarray(actual)
        for call in reversed(_calls):
            out = np.asarray(call["out"])
            if out.shape == a.shape and np.array_equal(out, a, equal_nan=True):
                case = {k: v for k, v in call.items() if k != "out"}
                case["test"] = _test_id()
                case["expected"] = _jsonable(desired)
                case["keras_value"] = _jsonable(out)
                case["tolerance"] = tol
                _cases.append(case)
                return

    orig_close = test_case.TestCase.assertAllClose
    orig_almost = test_case.TestCase.assertAlmostEqual

    def assert_all_close(self, actual, desired, atol=1e-6, rtol=1e-6, *a, **k):
        link(actual, desired, {"atol": atol, "rtol": rtol})
        return orig_close(self, actual, desired, atol, rtol, *a, **k)

    def assert_almost_equal(self, actual, desired, decimal=3, *a, **k):
        link(actual, desired, {"decimal": decimal})
        return orig_almost(self, actual, desired, decimal, *a, **k)

    test_case.TestCase.assertAllClose = assert_all_close
    test_case.TestCase.assertAlmostEqual = assert_almost_equal


def pytest_unconfigure(config):
    import keras

    OUT.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "source": "keras/src/losses/losses_test.py (Keras %s, JAX backend)" % keras.__version__,
        "cases": _cases,
    }
    OUT.write_text(json.dumps(payload, indent=None, separators=(",", ":")) + "\n")
    print(f"\n{len(_cases)} numeric cases written to {OUT}")
