"""Run the docstring examples of the package as tests (``python -m pytest`` collects src/).

Every module of ``retrograd`` is collected as a doctest module. A module whose examples
need an optional dependency (scikit-learn, ONNX, mpi4py, matplotlib, TensorBoard) is
skipped when that dependency is not installed; CI installs them all, so there they run.
This file is not part of the installed package (only ``src/retrograd`` is).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
from _pytest.doctest import DoctestModule

PACKAGE = Path(__file__).resolve().parent / "retrograd"

#: Path below src/retrograd (a file or a folder) -> the modules its examples need.
OPTIONAL = {
    "sklearn.py": ("sklearn",),
    "onnx": ("onnx", "onnxruntime"),
    "cli/export.py": ("onnx",),
    "distributed": ("mpi4py",),
    "train/plots.py": ("matplotlib",),
    "train/tensorboard.py": ("tensorboardX",),
}
#: Modules that must not be imported by the collector: running ``python -m retrograd``.
NEVER = ("__main__.py",)


def _missing(rel: str) -> list:
    needed = [
        dep
        for key, deps in OPTIONAL.items()
        if rel == key or rel.startswith(key.rstrip("/") + "/")
        for dep in deps
    ]
    return [d for d in needed if importlib.util.find_spec(d) is None]


def pytest_collect_file(file_path: Path, parent: pytest.Collector):
    if file_path.suffix != ".py" or file_path.name == "conftest.py":
        return None
    try:
        rel = file_path.resolve().relative_to(PACKAGE).as_posix()
    except ValueError:
        return None
    if rel.endswith(NEVER) or _missing(rel):
        return None
    return DoctestModule.from_parent(parent, path=file_path)
