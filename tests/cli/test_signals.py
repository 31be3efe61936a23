"""`retrograd train` under Ctrl-C / SIGTERM (real subprocesses), exit codes, flag spelling."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import retrograd as rg
from retrograd.cli import EXIT_SIGINT, EXIT_SIGTERM, EXIT_USAGE, build_parser, main

SRC = str(Path(rg.__file__).resolve().parents[1])
pytestmark = pytest.mark.skipif(os.name != "posix", reason="POSIX signals")


def _start_training(tmp_path: Path, *extra: str) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=SRC + os.pathsep + os.environ.get("PYTHONPATH", ""))
    cmd = [sys.executable, "-m", "retrograd", "train", "--data", "digits", "--model",
           "mlp:16", "--epochs", "100000", "--patience", "0", "--verbose", "2",
           "--out", str(tmp_path / "m.safetensors"), *extra]  # fmt: skip
    log = open(tmp_path.parent / f"{tmp_path.name}.out", "w+")  # noqa: SIM115
    proc = subprocess.Popen(
        cmd, env=env, cwd=tmp_path, stdout=log, stderr=subprocess.PIPE, text=True
    )
    proc.log = log  # type: ignore[attr-defined]
    return proc


def _interrupt_when(proc: subprocess.Popen, sig: int, ready) -> tuple[int, str]:
    """Send ``sig`` once ``ready()`` holds (training under way); ``(status, stderr)``."""
    deadline = time.monotonic() + 120
    while not ready() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert proc.poll() is None and ready(), proc.stderr.read()
    proc.send_signal(sig)
    try:
        _, err = proc.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        pytest.fail("train did not stop within 60 s of the signal")
    proc.log.close()
    return proc.returncode, err


def _epochs_printed(proc: subprocess.Popen, n: int):
    def ready() -> bool:
        proc.log.seek(0)
        return sum(line.startswith("epoch") for line in proc.log.read().splitlines()) >= n

    return ready


@pytest.mark.parametrize(("sig", "code"), [(signal.SIGINT, EXIT_SIGINT),
                                           (signal.SIGTERM, EXIT_SIGTERM)])  # fmt: skip
def test_interrupted_train_saves_the_model_so_far(tmp_path, sig, code):
    proc = _start_training(tmp_path)
    rc, err = _interrupt_when(proc, sig, _epochs_printed(proc, 2))
    assert rc == code, err
    path = tmp_path / "m.safetensors"
    assert "saved to" in err and str(path) in err and "interrupted" in err, err
    model, extra = rg.load(path, with_extra=True)
    meta = extra["retrograd_cli"] if "retrograd_cli" in extra else next(iter(extra.values()))
    assert meta["interrupted"] is True
    assert meta["epochs"] >= 2 and meta["stop_reason"].startswith("interrupted")
    assert all(np.isfinite(v).all() for v in model.state_dict().values())
    assert [p.name for p in tmp_path.iterdir()] == ["m.safetensors"]  # no temporaries
    # The file is usable as any other.
    assert main(["evaluate", str(path), "--data", "digits:test"]) == 0


def test_sigterm_with_checkpoint_dir_saves_a_checkpoint(tmp_path):
    proc = _start_training(tmp_path, "--checkpoint-dir", str(tmp_path / "ck"))
    rc, err = _interrupt_when(proc, signal.SIGTERM, (tmp_path / "ck" / "latest").exists)
    assert rc == EXIT_SIGTERM, err
    assert "--resume" in err and "terminated" in err
    assert rg.io.latest_checkpoint(tmp_path / "ck") is not None


def test_abbreviated_flags_are_refused(capsys):
    with pytest.raises(SystemExit) as info:
        build_parser().parse_args(["train", "--dropo", "0.5"])  # not taken as --dropout
    assert info.value.code == EXIT_USAGE
    assert "--dropo" in capsys.readouterr().err


def test_missing_output_directory_is_a_usage_error_for_train_and_predict(tmp_path):
    out = str(tmp_path / "nope" / "x")
    assert main(["train", "--data", "digits", "--epochs", "1", "--out", out]) == EXIT_USAGE
    model = tmp_path / "m.safetensors"
    assert main(["train", "--data", "digits", "--epochs", "1", "--out", str(model),
                 "--verbose", "0"]) == 0  # fmt: skip
    assert main(["predict", str(model), "--data", "digits:test", "--out", out]) == EXIT_USAGE
