"""examples/lm_fused_head.py --smoke: a word-level LM on stdlib text, fused vs unfused head."""

from __future__ import annotations

import importlib.util
import os

import jax
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_lm_fused_head_smoke(capsys):
    path = os.path.join(ROOT, "examples", "lm_fused_head.py")
    if not os.path.exists(path):
        pytest.skip("needs the source tree")
    spec = importlib.util.spec_from_file_location("_example_lm_fused_head", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    with jax.numpy_dtype_promotion("standard"):  # optax.adam mixes a float and an int32 count
        assert mod.main(["--smoke"]) == 0
    out = capsys.readouterr().out
    assert "epoch 2: loss" in out and "| 512 |" in out
    losses = [float(line.split("loss ")[1].split(",")[0]) for line in out.splitlines()
              if line.strip().startswith("epoch")]  # fmt: skip
    assert losses[1] < losses[0]
