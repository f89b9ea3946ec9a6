"""Smoke test of the benchmark suite (bench/run.py): tiny shapes, one timed run per case.

The real benchmarks are not tests (they time things); this only checks that the suite runs end to
end, reports every column, writes its JSON and PNG, and turns a failing loss into "n/a".
"""

from __future__ import annotations

import json
import os

import pytest


def test_bench_suite_smoke(tmp_path):
    run = pytest.importorskip("bench.run")
    result = run.main(
        ["--smoke", "--reps", "1", "--only", "sparse,linear,sweep", "--out", str(tmp_path)]
    )
    rows = {r["loss"]: r for r in result["rows"]}
    assert {"sparse_softmax_cross_entropy", "linear_cross_entropy"} <= set(rows)
    for row in rows.values():
        assert row["optax_ms"] is not None and row["optax_ms"] > 0
        assert row["jaxloss_ms"] is not None or row["jaxloss_error"]
    assert result["copy_gbs"] > 0
    assert os.path.getsize(tmp_path / "ce_vocab.png") > 1000
    with open(tmp_path / "results.json") as fh:
        assert json.load(fh)["size"] == "smoke"
    assert "| loss" in result["table"]


def test_failing_loss_is_reported_not_raised():
    run = pytest.importorskip("bench.run")
    import jax.numpy as jnp

    def stub(x):
        raise NotImplementedError("stub")

    impl = run._jax_impl("jaxloss", stub, (jnp.ones((2, 2)),))
    assert impl.run is None and "not implemented" in impl.error
    row_table = run.format_table(
        [
            dict(
                loss="x",
                shape="2x2",
                dtype="float32",
                jaxloss_ms=None,
                optax_ms=1.0,
                torch_ms=None,
                ratio=None,
                jaxloss_temp_bytes=None,
                optax_temp_bytes=None,
                jaxloss_compile_s=None,
                optax_compile_s=None,
            )
        ]
    )
    assert "n/a" in row_table


@pytest.mark.slow
def test_bench_suite_quick_every_case(tmp_path):
    """The benchmark runs (exhaustive tier): every case of the suite at its --quick size."""
    run = pytest.importorskip("bench.run")
    result = run.main(["--quick", "--reps", "3", "--out", str(tmp_path)])
    assert result["rows"]
    for row in result["rows"]:
        assert row["optax_ms"] is None or row["optax_ms"] > 0
        assert row["jaxloss_ms"] is not None or row["jaxloss_error"], row
    assert result["copy_gbs"] > 0
    with open(tmp_path / "results.json") as fh:
        assert json.load(fh)["size"] == "quick"
