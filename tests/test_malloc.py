"""The glibc malloc tuning (see retrograd/_malloc.py): applied when training starts,
never by ``import retrograd``, and opt-out through RETROGRAD_MALLOC_TUNING=0."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from retrograd import _malloc

SRC = str(Path(__file__).resolve().parents[1] / "src")

# Records every shared library the process opens through ctypes (mallopt is reached
# through ctypes.CDLL("libc.so.6")), then runs the code under test.
_SPY = """
import ctypes, sys
opened = []
_CDLL = ctypes.CDLL
class _Spy(_CDLL):
    def __init__(self, name, *a, **k):
        opened.append(name)
        super().__init__(name, *a, **k)
ctypes.CDLL = _Spy
"""


def _run(code: str, **env: str) -> str:
    full_env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PYTHONPATH": SRC, **env}
    return subprocess.run(
        [sys.executable, "-c", _SPY + code],
        env=full_env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc only")
def test_tuning_is_applied_once_and_idempotent():
    first = _malloc.tune()
    assert _malloc.tune() == first
    assert _malloc.applied == first


def test_import_leaves_malloc_untouched():
    code = (
        "import retrograd as rg, retrograd._malloc as m\n"
        "rg.nn, rg.optim, rg.train, rg.data\n"  # the lazy submodules too
        "print(m.applied, 'libc.so.6' in opened)"
    )
    assert _run(code) == "False False"


_FIT = (
    "import numpy as np, retrograd as rg, retrograd._malloc as m\n"
    "net = rg.nn.Linear(2, 1)\n"
    "rg.train.fit(net, rg.nn.MSELoss(), rg.optim.SGD(net.parameters(), lr=0.1),\n"
    "             (np.ones((4, 2), np.float32), np.ones((4, 1), np.float32)), epochs=1,\n"
    "             verbose=0)\n"
    "print(m.applied, 'libc.so.6' in opened)"
)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc only")
def test_fit_applies_the_tuning():
    assert _run(_FIT) == "True True"


def test_env_var_turns_tuning_off():
    assert _run(_FIT, RETROGRAD_MALLOC_TUNING="0") == "False False"
