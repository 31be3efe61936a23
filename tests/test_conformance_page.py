"""docs/conformance.md's name tables are generated from the code and cannot drift."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

HERE = Path(__file__).resolve().parent


def _generator():
    spec = importlib.util.spec_from_file_location("conformance_page", HERE / "conformance_page.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_page_tables_match_the_code():
    gen = _generator()
    names = gen.torch_names()
    page = gen.PAGE.read_text()
    expected = gen.render(page, names)
    assert page == expected, (
        "docs/conformance.md is out of date: run `python tests/conformance_page.py`"
    )


def test_saved_torch_names_match_the_installed_torch():
    gen = _generator()
    saved = json.loads(gen.NAMES.read_text())
    assert saved == gen.torch_names(), (
        "tests/conformance_torch_names.json is out of date: run `python tests/conformance_page.py`"
    )


def test_the_tables_see_what_exists():
    gen = _generator()
    names = {"torch_version": "x", "tensor": ["sum", "no_such"], "torch": ["cat"],
             "functional": ["softmax", "no_such_f"], "modules": ["Linear"]}  # fmt: skip
    text = gen.tables(names)
    assert "### Tensor methods and attributes: 1 of 2" in text
    assert "### torch.nn.functional: 1 of 2" in text
    assert "### torch.nn layers and losses: 1 of 1" in text
    assert "`no_such`" in text.split("Not available:")[1]
