"""examples/dpo_tiny_lm.py and distill_tiny_lm.py --smoke: post-training on stdlib text."""

from __future__ import annotations

import importlib.util
import os

import jax
import numpy as np
import pytest

import jaxloss

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _load(name):
    path = os.path.join(ROOT, "examples", f"{name}.py")
    if not os.path.exists(path):
        pytest.skip("needs the source tree")
    spec = importlib.util.spec_from_file_location(f"_example_{name}", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _table(out):
    """Rows ``| a | b | ... |`` of the printed table whose first cell is an integer."""
    rows = []
    for line in out.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if line.startswith("|") and cells[0].isdigit():
            rows.append(cells)
    return rows


def test_dpo_tiny_lm_smoke(capsys):
    mod = _load("dpo_tiny_lm")
    with jax.numpy_dtype_promotion("standard"):  # optax.adam mixes a float and an int32 count
        assert mod.main(["--smoke"]) == 0
    rows = _table(capsys.readouterr().out)
    # | epoch | train loss | margin | accuracy | chosen reward | rejected reward | prefers |
    assert [int(r[0]) for r in rows] == [0, 1, 2, 3]
    margins = [float(r[2]) for r in rows]
    accuracy = [float(r[3]) for r in rows]
    losses = [float(r[1]) for r in rows[1:]]
    assert margins[0] == 0.0 and accuracy[0] == 0.0  # policy = reference before DPO
    assert all(b > a for a, b in zip(margins[:-1], margins[1:], strict=True)), (
        margins
    )  # the margin grows
    assert accuracy[-1] > 0.6, accuracy
    assert losses[-1] < losses[0] < 0.6932, losses  # below log 2, the loss at margin 0


def test_dpo_tiny_lm_rejects_bad_args():
    mod = _load("dpo_tiny_lm")
    with pytest.raises(SystemExit) as e:
        mod.main(["--min-completion", "1"])
    assert e.value.code == 2


def test_distill_tiny_lm_smoke(capsys):
    """The student's loss curve, unfused (full logits) and fused: equal to float32 round-off."""
    mod = _load("distill_tiny_lm")
    fused = hasattr(jaxloss, "linear_distillation_loss")
    argv = ["--smoke", "--hard-weight", "0.5"] + ([] if fused else ["--paths", "unfused"])
    with jax.numpy_dtype_promotion("standard"):  # optax.adam mixes a float and an int32 count
        assert mod.main(argv) == 0
    out = capsys.readouterr().out
    rows = _table(out)  # | step | unfused loss | fused loss |
    assert [int(r[0]) for r in rows] == [1, 2, 3, 4, 5, 6]
    unfused = np.asarray([float(r[1]) for r in rows])
    assert unfused[-1] < unfused[0]
    assert "| unfused |" in out and "temp MiB" in out
    if not fused:
        pytest.skip("fused path: this jaxloss has no linear_distillation_loss yet")
    fused_losses = np.asarray([float(r[2]) for r in rows])
    np.testing.assert_allclose(fused_losses, unfused, rtol=1e-5)
    assert "max |fused - unfused| loss" in out
    temp = {
        line.split("|")[1].strip(): float(line.split("|")[3])
        for line in out.splitlines()
        if line.startswith(("| fused |", "| unfused |"))
    }
    assert temp["fused"] < temp["unfused"], temp  # no [tokens, vocab] logits in the fused step


def test_distill_tiny_lm_rejects_bad_args():
    mod = _load("distill_tiny_lm")
    with pytest.raises(SystemExit) as e:
        mod.main(["--beta", "1.5"])
    assert e.value.code == 2
