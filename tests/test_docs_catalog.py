"""The generated documentation covers the registry; the wheel's CLI degrades cleanly.

The catalog page, the alias table, the API reference and README.md's catalog table are generated
by docs/gen_catalog.py; after adding a loss run ``python docs/gen_catalog.py``.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys

import jaxloss

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _gen():
    spec = importlib.util.spec_from_file_location(
        "gen_catalog", os.path.join(ROOT, "docs", "gen_catalog.py")
    )
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("gen_catalog", module)  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_catalog_has_an_entry_for_every_canonical_loss():
    gen = _gen()
    entries, others = gen.collect()
    text = gen.catalog_markdown(entries, others)
    names = jaxloss.list_losses()
    assert [e.name for e in entries] == names
    for e in entries:
        assert f"({gen._anchor(e.name)})=\n### `{e.name}`" in text, e.name
        assert e.summary, f"{e.name}: no summary line in its docstring"
        assert e.formula, f"{e.name}: no '.. math::' block in its docstring"
        for arg, description in e.inputs:
            assert description, f"{e.name}: input {arg!r} is not described under Args"


def test_every_alias_is_listed_once_with_its_bound_options():
    gen = _gen()
    entries, others = gen.collect()
    listed = [a.name for e in entries for a in e.aliases] + [a.name for a in others]
    canonical = set(jaxloss.list_losses())
    expected = [n for n in jaxloss.list_losses(aliases=True) if n not in canonical and ":" not in n]
    assert sorted(listed) == sorted(expected)
    by_name = {a.name: (e.name, a) for e in entries for a in e.aliases}
    target, alias = by_name["CrossEntropyLoss"]
    assert target == "sparse_softmax_cross_entropy"
    assert alias.options == {"ignore_index": -100}
    table = gen.aliases_markdown(entries, others)
    assert "| `CrossEntropyLoss` |" in table and "`ignore_index=-100`" in table


def test_api_reference_documents_every_public_function():
    gen = _gen()
    entries, _ = gen.collect()
    text = gen.api_markdown(entries)
    public = [n for n in dir(jaxloss) if not n.startswith("_") and callable(getattr(jaxloss, n))]
    for name in public:
        assert f":: jaxloss.{name}\n" in text, name
    for module in map(importlib.import_module, ("jaxloss.sharding", "jaxloss.train")):
        for name in module.__all__:
            assert f":: {module.__name__}.{name}" in text, f"{module.__name__}.{name}"


def test_readme_catalog_table_is_up_to_date(capsys):
    assert _gen().main(["--check"]) == 0, capsys.readouterr().out


def test_source_tree_commands_say_so_in_one_line_without_the_source_tree(
    tmp_path, monkeypatch, capsys
):
    from jaxloss import cli

    monkeypatch.setattr(cli, "_repo_root", lambda: str(tmp_path))  # as from an installed wheel
    for command in ("demo", "tour", "sweep", "bench"):
        assert cli.main([command, "--seeds", "1"]) == 2
        captured = capsys.readouterr()
        assert captured.out == ""
        lines = captured.err.splitlines()
        assert len(lines) == 1 and "needs the source tree" in lines[0], captured.err


def test_a_missing_examples_dependency_is_one_line_not_a_traceback(tmp_path, monkeypatch, capsys):
    from jaxloss import cli

    (tmp_path / "examples").mkdir()
    (tmp_path / "examples" / "tour.py").write_text("import jaxloss_no_such_module\n")
    monkeypatch.setattr(cli, "_repo_root", lambda: str(tmp_path))
    assert cli.main(["tour"]) == 2
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1 and "'jaxloss_no_such_module'" in lines[0] and "[examples]" in lines[0]
