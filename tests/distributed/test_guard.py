"""The parts of the abort-never-hang machinery that need no MPI job (mpirun tests are in
test_mpi.py): the time limit's settings, causes and exit codes, disagreement messages."""

from __future__ import annotations

import os
import signal

import pytest

from retrograd import DistributedError
from retrograd.distributed import _guard


@pytest.fixture(autouse=True)
def _fresh_timeout(monkeypatch):
    monkeypatch.setattr(_guard._S, "timeout_set", False)
    monkeypatch.setattr(_guard._S, "timeout_override", None)
    monkeypatch.delenv(_guard.TIMEOUT_ENV, raising=False)


def test_timeout_default_environment_and_setter(monkeypatch):
    assert _guard.get_timeout() == 600.0
    monkeypatch.setenv("RETROGRAD_MPI_TIMEOUT", "2.5")
    assert _guard.get_timeout() == 2.5
    monkeypatch.setenv("RETROGRAD_MPI_TIMEOUT", "0")
    assert _guard.get_timeout() is None
    _guard.set_timeout(7)
    assert _guard.get_timeout() == 7.0  # the setter wins over the environment
    _guard.set_timeout(None)
    assert _guard.get_timeout() is None


@pytest.mark.parametrize("raw", ["soon", "-1", "nan", "inf"])
def test_a_malformed_timeout_variable_is_refused(monkeypatch, raw):
    monkeypatch.setenv("RETROGRAD_MPI_TIMEOUT", raw)
    with pytest.raises(ValueError, match=f"RETROGRAD_MPI_TIMEOUT={raw!r}"):
        _guard.get_timeout()


@pytest.mark.parametrize("bad", [0, -3, True, "10", float("nan")])
def test_set_timeout_refuses_non_positive_or_non_numbers(bad):
    with pytest.raises(ValueError, match="set_timeout: seconds"):
        _guard.set_timeout(bad)


def test_causes_and_exit_codes():
    assert _guard.describe(ValueError("bad  data\n here")) == "ValueError: bad data here"
    assert _guard.describe(SystemExit(0)) == "sys.exit(0)"
    assert "KeyboardInterrupt" in _guard.describe(KeyboardInterrupt())
    assert _guard.exit_code(ValueError()) == 1
    assert _guard.exit_code(SystemExit(0)) == 1  # leaving early never exits 0
    assert _guard.exit_code(SystemExit(None)) == 1
    assert _guard.exit_code(SystemExit(3)) == 3
    assert _guard.exit_code(SystemExit("message")) == 1
    assert _guard.exit_code(KeyboardInterrupt()) == 130


@pytest.mark.skipif(os.name != "posix", reason="POSIX signals")
def test_sigterm_from_the_cli_is_told_apart_from_ctrl_c():
    from retrograd.cli import _TermAsInterrupt

    term = _TermAsInterrupt()
    with pytest.raises(KeyboardInterrupt) as info, term:
        os.kill(os.getpid(), signal.SIGTERM)
        for _ in range(1000):  # Python runs the handler between bytecodes
            pass
    assert term.received
    assert _guard.describe(info.value) == "terminated (SIGTERM)"
    assert _guard.exit_code(info.value) == 143
    assert "Ctrl-C" in _guard.describe(KeyboardInterrupt())


def test_disagreements_list_each_ranks_value():
    a = {"epochs": 2, "batch_size": 32, "model parameters": [["w", [8, 4], "float32"]]}
    b = {"epochs": 3, "batch_size": 32, "model parameters": [["w", [12, 4], "float32"]]}
    lines = _guard.disagreements([a, b])
    assert lines[0] == "epochs: rank 0 2, rank 1 3"
    assert lines[1].startswith("model parameters: rank 0 1 tensors, 32 values")
    assert "[12, 4]" in lines[1] and "48 values" in lines[1]
    assert len(lines) == 2  # batch_size agrees: not listed
    assert _guard.disagreements([a, dict(a)]) == []


def test_collective_errors_are_distributed_errors():
    err = _guard.collective_error("ranks disagree")
    assert isinstance(err, DistributedError) and isinstance(err, RuntimeError)
    assert err.collective


class _OneRank:
    def Get_size(self):
        return 1


def test_fail_together_on_one_process_just_runs_the_block(monkeypatch):
    # No MPI is started in the test process: a one-rank communicator, then no mpi4py.
    from retrograd import distributed as dist

    ran = []
    with _guard.fail_together("loading the data", _OneRank()):
        ran.append(1)
    with pytest.raises(OSError, match="no data"):
        with _guard.fail_together("loading the data", _OneRank()):
            raise OSError("no data")
    monkeypatch.setattr(dist, "is_available", lambda: False)
    with dist.fail_together("loading the data"):
        ran.append(2)
    assert ran == [1, 2]
