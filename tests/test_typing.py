"""Type checkers see the Tensor surface: user code type-checks clean with mypy and pyright.

``tests/typing/user_script.py`` holds the README's examples and everyday code (operators,
methods, nn modules, optimizers, fit). It is run here too, so it stays real code. A second,
deliberately wrong script must draw errors, so a checker that sees Tensor as ``Any`` (or
does not run at all) fails the test instead of passing it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src"
SCRIPT = ROOT / "tests" / "typing" / "user_script.py"

BAD = """\
import retrograd as rg

x = rg.tensor([1.0, 2.0])
x.no_such_method()
s: str = (x * x).sum()
"""


def _mypy(path: Path, tmp_path: Path) -> subprocess.CompletedProcess:
    pytest.importorskip("mypy")
    env = dict(os.environ, MYPYPATH=str(SRC))
    cache = str(tmp_path / "mypy_cache")
    cmd = [sys.executable, "-m", "mypy", "--follow-imports=silent", "--no-incremental",
           "--cache-dir", cache, "--no-error-summary", str(path)]  # fmt: skip
    return subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=tmp_path)


def _pyright(path: Path, tmp_path: Path) -> subprocess.CompletedProcess:
    pytest.importorskip("pyright")
    # extraPaths puts this checkout's src ahead of any installed copy of the package.
    config = {"extraPaths": [str(SRC)], "include": [path.name], "pythonVersion": "3.11"}
    (path.parent / "pyrightconfig.json").write_text(json.dumps(config))
    cmd = [sys.executable, "-m", "pyright", "-p", str(path.parent / "pyrightconfig.json")]
    return subprocess.run(cmd, capture_output=True, text=True, cwd=path.parent)


def _copy(tmp_path: Path, text: str, name: str) -> Path:
    d = tmp_path / name.removesuffix(".py")
    d.mkdir()
    p = d / name
    p.write_text(text)
    return p


def test_user_script_runs():
    import importlib.util

    spec = importlib.util.spec_from_file_location("typing_user_script", SCRIPT)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    assert mod.first_graph() > 0
    mod.everyday_tensor_code()
    mod.training()


def test_mypy_clean_on_user_code(tmp_path):
    r = _mypy(SCRIPT, tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr


def test_pyright_clean_on_user_code(tmp_path):
    p = _copy(tmp_path, SCRIPT.read_text(), "user_script.py")
    r = _pyright(p, tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "0 errors" in r.stdout


def test_checkers_see_tensor_errors(tmp_path):
    # The checks above can fail: a wrong method and a wrong return type are both caught.
    p = _copy(tmp_path, BAD, "bad.py")
    r = _mypy(p, tmp_path)
    assert r.returncode == 1
    assert '"Tensor" has no attribute "no_such_method"' in r.stdout, r.stdout
    assert 'has type "Tensor", variable has type "str"' in r.stdout, r.stdout
    r = _pyright(p, tmp_path)
    assert r.returncode == 1
    assert "no_such_method" in r.stdout and "2 errors" in r.stdout, r.stdout
