"""`retrograd demo` end to end, in a subprocess as a user would run it."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from retrograd.cli import main


@pytest.mark.slow
def test_demo_reaches_97_percent():
    # The full default demo (30 epochs, about 2-3 s here) through `python -m retrograd`.
    proc = subprocess.run(
        [sys.executable, "-m", "retrograd", "demo"], capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stderr
    m = re.search(r"test accuracy (\d\.\d+) \((\d+)/450\)", proc.stdout)
    assert m, proc.stdout
    assert float(m.group(1)) >= 0.97
    assert "epoch 30/30" in proc.stdout and "confusion matrix" in proc.stdout


def test_demo_in_process_short(capsys):
    assert main(["demo", "--epochs", "2", "--hidden", "16", "8", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "network 64-16-8-10" in out and re.search(r"test accuracy 0\.\d+", out)
    assert "epoch 1/" not in out  # --quiet


def test_cli_usage_errors(capsys):
    assert main([]) == 2
    with pytest.raises(SystemExit, match="--epochs must be >= 1"):
        main(["demo", "--epochs", "0"])
    with pytest.raises(SystemExit):
        main(["--version"])
    assert "retrograd" in capsys.readouterr().out
