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
    capsys.readouterr()
    assert main(["demo", "--epochs", "0"]) == 2
    assert capsys.readouterr().err == "retrograd: error: demo: --epochs must be >= 1\n"
    with pytest.raises(SystemExit):
        main(["demo", "lstm"])  # not a kind: argparse's usage error
    with pytest.raises(SystemExit):
        main(["--version"])
    assert "retrograd" in capsys.readouterr().out


@pytest.mark.parametrize(
    "kind, words",
    [
        ("recurrent", "equilibrium network"),
        ("sequence", "LSTM with 64 units"),
        ("cnn", "conv 3x3 16"),
    ],
)
def test_demo_kinds_in_process_short(capsys, kind, words):
    # One epoch on a small training part: checks the wiring, not the accuracy.
    argv = ["demo", kind, "--epochs", "1", "--quiet", "--test-size", "0.8"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert f"demo {kind}: 8x8 digits, 359 train / 1438 test" in out and words in out
    m = re.search(r"test accuracy (0\.\d+|1\.0+) \((\d+)/1438\)", out)
    assert m and float(m.group(1)) > 0.2  # well above chance (0.1) after one epoch


@pytest.mark.slow
@pytest.mark.parametrize("kind, floor", [("recurrent", 0.95)])
def test_demo_kinds_full(kind, floor):
    # sequence (about 18 s) and cnn (about 25 s) are left to the short runs above, to keep
    # the CLI tests under a minute; docs/cli.md records their measured full results.
    proc = subprocess.run(
        [sys.executable, "-m", "retrograd", "demo", kind, "--quiet"],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    m = re.search(r"test accuracy (\d\.\d+) \((\d+)/450\)", proc.stdout)
    assert m and float(m.group(1)) >= floor, proc.stdout
