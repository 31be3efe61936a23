"""The glibc malloc tuning applied at import (see retrograd/_malloc.py)."""

import subprocess
import sys

import pytest

from retrograd import _malloc


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc only")
def test_tuning_is_applied_once_and_idempotent():
    first = _malloc.tune()
    assert _malloc.tune() == first
    assert _malloc.applied == first


def test_env_var_turns_tuning_off():
    code = "import retrograd._malloc as m, retrograd; print(m.applied)"
    out = subprocess.run(
        [sys.executable, "-c", code],
        env={"RETROGRAD_MALLOC_TUNING": "0", "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert out == "False"
