"""optax' own loss tests, run against ``jaxloss.compat.optax``.

The test files ship in the installed optax wheel (``optax/losses/*_test.py``). They are copied
into a temporary directory at run time (optax' code is never committed here), the lines
``from optax.losses import _X`` are rewritten to ``from jaxloss.compat import optax as _X`` —
nothing else changes — and pytest runs them in a subprocess with optax' own environment (no
x64, no strict promotion: this repository's conftest is not in that directory).

Default tier: a fast subset (the smaller files plus a selection of the classification tests).
Slow tier: every test of every file (optax 0.2.8: 178 tests, 177 in the six files the issue
names plus one in ``_fenchel_young_test.py``).
"""

from __future__ import annotations

import os
import pathlib
import re
import subprocess
import sys

import pytest

optax = pytest.importorskip("optax")
pytest.importorskip("absl.testing")

ROOT = pathlib.Path(__file__).resolve().parents[1]
LOSSES_DIR = pathlib.Path(optax.__file__).parent / "losses"
FILES = (
    "_classification_test.py",
    "_fenchel_young_test.py",
    "_ranking_test.py",
    "_regression_test.py",
    "_segmentation_test.py",
    "_self_supervised_test.py",
    "_smoothing_test.py",
)
EXPECTED = {  # optax 0.2.8 test counts per file (run against optax itself: 178 pass)
    "_classification_test.py": 109,
    "_fenchel_young_test.py": 1,
    "_ranking_test.py": 13,
    "_regression_test.py": 23,
    "_segmentation_test.py": 26,
    "_self_supervised_test.py": 4,
    "_smoothing_test.py": 2,
}
IMPORT = re.compile(r"^from optax\.losses import (_\w+)[ \t]*$", re.M)


def _rewrite(src: str) -> tuple[str, int]:
    return IMPORT.subn(r"from jaxloss.compat import optax as \1", src)


def _prepare(tmp_path: pathlib.Path, files) -> pathlib.Path:
    for name in files:
        src = (LOSSES_DIR / name).read_text()
        out, n = _rewrite(src)
        assert n >= 1, f"{name}: no 'from optax.losses import _X' line to rewrite"
        assert "from optax.losses import" not in out
        (tmp_path / name).write_text(out)
    return tmp_path


def _run(tmp_path, files, *selectors):
    """pytest on the rewritten copies in a clean subprocess; returns (passed, failed, output)."""
    d = _prepare(tmp_path, files)
    env = {k: v for k, v in os.environ.items() if not k.startswith("JAX_")}
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    env["JAX_PLATFORMS"] = "cpu"
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"]
    cmd += ["--rootdir", str(d), "-o", "addopts=", *(selectors or (str(d),))]
    r = subprocess.run(cmd, cwd=d, env=env, capture_output=True, text=True, timeout=1800)
    out = r.stdout + r.stderr
    passed = int(m.group(1)) if (m := re.search(r"(\d+) passed", out)) else 0
    failed = int(m.group(1)) if (m := re.search(r"(\d+) failed", out)) else 0
    errors = int(m.group(1)) if (m := re.search(r"(\d+) error", out)) else 0
    return passed, failed + errors, out


def test_rewrite_touches_only_the_import_lines():
    for name in FILES:
        src = (LOSSES_DIR / name).read_text()
        out, n = _rewrite(src)
        diff = [(a, b) for a, b in zip(src.splitlines(), out.splitlines(), strict=True) if a != b]
        assert len(diff) == n >= 1
        assert all(a.startswith("from optax.losses import _") for a, _ in diff)


# the fast subset: one or a few tests of each loss family (every file but segmentation's)
FAST_FILES = (
    "_fenchel_young_test.py",
    "_regression_test.py",
    "_self_supervised_test.py",
    "_smoothing_test.py",
    "_classification_test.py",
    "_ranking_test.py",
)
FAST = (
    "_fenchel_young_test",
    "_smoothing_test",
    "_self_supervised_test",
    "CosineDistanceTest and batched",
    "HuberLossTest",
    "SoftmaxCrossEntropyTest and per_logit",
    "PolyLossTest and batched and 0",
    "HingeTest and batched_multi",
    "SparsemaxTest",
    "PerceptronTest and batched",
    "GeneralizedKLDivergenceTest and deprecated",
    "SigmoidFocalLossTest and extreme",
    "RankingLossesTest and (with_where or weighted)",
)


def test_optax_loss_tests_fast_subset(tmp_path):
    expr = " or ".join(f"({e})" for e in FAST)
    passed, failed, out = _run(tmp_path, FAST_FILES, str(tmp_path), "-k", expr)
    assert failed == 0 and passed >= 15, out[-4000:]


@pytest.mark.slow
def test_optax_loss_tests_all_pass(tmp_path):
    passed, failed, out = _run(tmp_path, FILES)
    assert failed == 0, out[-6000:]
    assert passed == sum(EXPECTED.values()) == 178, out[-3000:]


def test_compat_compiles_to_the_canonical_hlo():
    """The skin adds nothing to the compiled program: HLO text size within ±10% of the canonical."""
    from bench import compat_overhead

    for name, *_, ratio, _tc, _tk, _tr in compat_overhead.run(16, 4, rounds=1, reps=1):
        assert 0.9 <= ratio <= 1.1, (name, ratio)


def _optax_cases():
    import numpy as np

    rng = np.random.default_rng(0)
    f32 = np.float32
    x = rng.normal(size=(4, 5)).astype(f32)
    x2 = rng.normal(size=(4, 5)).astype(f32)
    y = rng.integers(0, 5, 4).astype(np.int32)
    t = rng.dirichlet(np.ones(5), 4).astype(f32)
    b = (rng.random((4, 5)) > 0.5).astype(f32)
    pm = np.where(b > 0, 1.0, -1.0).astype(f32)
    m = rng.random((4, 5)) > 0.3
    lp = np.log(rng.dirichlet(np.ones(5), 4)).astype(f32)
    seg = rng.normal(size=(2, 6, 6, 3)).astype(f32)
    seg_t = np.eye(3, dtype=f32)[rng.integers(0, 3, (2, 6, 6))]
    ctc_x = rng.normal(size=(2, 7, 4)).astype(f32)
    ctc_l = np.array([[1, 2, 0], [3, 3, 1]], np.int32)
    ctc_lp = np.array([[0, 0, 1], [0, 0, 0]], f32)
    ctc_xp = np.array([[0] * 7, [0] * 6 + [1]], f32)
    return [
        ("sigmoid_binary_cross_entropy", (x, b), {}),
        ("sigmoid_focal_loss", (x, b), {}),
        ("sigmoid_focal_loss", (x, b), {"alpha": 0.3, "gamma": 1.5}),
        ("hinge_loss", (x, pm), {}),
        ("perceptron_loss", (x, pm), {}),
        ("sparsemax_loss", (x, b), {}),
        ("multiclass_sparsemax_loss", (x, y), {}),
        ("multiclass_hinge_loss", (x, y), {}),
        ("multiclass_perceptron_loss", (x, y), {}),
        ("safe_softmax_cross_entropy", (x, t), {}),
        ("softmax_cross_entropy", (x, t), {}),
        ("softmax_cross_entropy", (x, t), {"where": m}),
        ("softmax_cross_entropy", (x, t), {"axis": None}),
        ("softmax_cross_entropy_with_integer_labels", (x, y), {}),
        ("softmax_cross_entropy_with_integer_labels", (x.T, y), {"axis": 0}),
        ("poly_loss_cross_entropy", (x, t), {}),
        ("poly_loss_cross_entropy", (x, t), {"epsilon": -0.5, "where": m}),
        ("kl_divergence", (lp, t), {}),
        ("kl_divergence", (lp, t), {"where": m}),
        ("kl_divergence_with_log_targets", (lp, np.log(t)), {}),
        ("generalized_kl_divergence", (x, t), {"where": m}),
        ("ctc_loss", (ctc_x, ctc_xp, ctc_l, ctc_lp), {}),
        ("ranking_softmax_loss", (x, b), {}),
        ("ranking_softmax_loss", (x, b), {"where": m, "weights": t, "reduce_fn": None}),
        ("ranking_softmax_loss", (x, b), {"reduce_fn": jnp_sum()}),
        ("squared_error", (x, x2), {}),
        ("l2_loss", (x,), {}),
        ("huber_loss", (x * 3, x2), {"delta": 0.5}),
        ("log_cosh", (x * 30, x2), {}),
        ("cosine_similarity", (x, x2), {"epsilon": 1e-3, "where": m}),
        ("cosine_distance", (x, x2), {"axis": 0}),
        ("dice_loss", (seg, seg_t), {}),
        ("dice_loss", (seg, seg_t), {"alpha": 0.7, "beta": 0.3, "reduction": "none"}),
        ("dice_loss", (seg, seg_t), {"class_weights": np.array([1.0, 2.0, 0.5], f32)}),
        ("multiclass_generalized_dice_loss", (seg, seg_t), {"ignore_background": True}),
        ("binary_dice_loss", (seg[..., 0], seg_t[..., 0]), {}),
        ("ntxent", (x, np.array([0, 0, 1, 1])), {}),
        ("triplet_margin_loss", (x, x2, x * 2), {"eps": 1e-2}),
        ("smooth_labels", (t, 0.1), {}),
        ("smooth_labels", (t, 0.2), {"axis": (0, 1)}),
    ]


def jnp_sum():
    import jax.numpy as jnp

    return jnp.sum


@pytest.mark.slow
def test_compat_values_equal_optax_values():
    """Each name against optax itself on float32 inputs (standard promotion, as optax runs)."""
    import jax
    import numpy as np
    import optax.losses as ol

    from jaxloss.compat import optax as jo

    with jax.numpy_dtype_promotion("standard"), jax.numpy_rank_promotion("allow"):
        for name, args, kw in _optax_cases():
            ours = getattr(jo, name)(*args, **kw)
            theirs = getattr(ol, name)(*args, **kw)
            assert ours.shape == theirs.shape, (name, kw)
            np.testing.assert_allclose(
                np.asarray(ours), np.asarray(theirs), rtol=2e-5, atol=2e-6, err_msg=f"{name} {kw}"
            )
        # the forward variables: the states that are reachable agree
        loss, blank, lab = jo.ctc_loss_with_forward_probs(*_optax_cases()[21][1])
        oloss, oblank, olab = ol.ctc_loss_with_forward_probs(*_optax_cases()[21][1])
        np.testing.assert_allclose(np.asarray(loss), np.asarray(oloss), rtol=2e-5)
        ok = np.isfinite(np.asarray(blank)) & (np.asarray(oblank) > -1e4)
        np.testing.assert_allclose(np.asarray(blank)[ok], np.asarray(oblank)[ok], rtol=2e-5)
