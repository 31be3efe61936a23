"""The ops package's submodules never hide a function of the same name (``rg.ops.norm``
is the norm function, not the normalisation module)."""

from __future__ import annotations

import importlib
import pkgutil
import types

import retrograd.ops as ops


def test_no_submodule_shadows_an_exported_function():
    for info in pkgutil.iter_modules(ops.__path__):
        importlib.import_module(f"retrograd.ops.{info.name}")  # binds ops.<name>
    for info in pkgutil.iter_modules(ops.__path__):
        mod = importlib.import_module(f"retrograd.ops.{info.name}")
        for name in getattr(mod, "__all__", ()):
            value = getattr(ops, name, None)
            assert not isinstance(value, types.ModuleType), (
                f"rg.ops.{name} is the module {value.__name__}, not {mod.__name__}.{name}"
            )
