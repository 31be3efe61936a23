"""Data-parallel training over real MPI processes (skipped without mpi4py or mpirun)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("mpi4py")
MPIRUN = shutil.which("mpirun") or shutil.which("mpiexec")
pytestmark = pytest.mark.skipif(MPIRUN is None, reason="mpirun not installed")

WORKER = Path(__file__).with_name("_worker.py")


def mpi_env():
    env = dict(os.environ)
    env.update(
        OMPI_ALLOW_RUN_AS_ROOT="1",
        OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
        OMP_NUM_THREADS="1",
        OPENBLAS_NUM_THREADS="1",
        OMPI_MCA_rmaps_base_oversubscribe="1",
        PRTE_MCA_rmaps_default_mapping_policy=":oversubscribe",
    )
    return env


def launch(ranks, timeout=120, env=None):
    """Run an MPI job: ``ranks`` is ``(n, argv)`` or a list of argvs, one per rank (MPMD).

    On timeout the whole process group (mpirun and its ranks) is killed, so a job that
    hangs fails the test instead of hanging the suite. Returns (CompletedProcess, seconds).
    """
    cmd = [MPIRUN, "--oversubscribe"]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        cmd.append("--allow-run-as-root")
    if isinstance(ranks, tuple):
        n, argv = ranks
        cmd += ["-n", str(n), *map(str, argv)]
    else:
        for i, argv in enumerate(ranks):
            cmd += ([":"] if i else []) + ["-n", "1", *map(str, argv)]
    start = time.monotonic()
    proc = subprocess.Popen(
        cmd, env={**mpi_env(), **(env or {})}, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True, start_new_session=True,
    )  # fmt: skip
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        pytest.fail(f"the MPI job hung (killed after {timeout} s):\n{out}\n{err}")
    done = subprocess.CompletedProcess(cmd, proc.returncode, out, err)
    return done, time.monotonic() - start


def mpirun(n, *args, timeout=120):
    return launch((n, [sys.executable, *args]), timeout=timeout)[0]


def _single_vs_two_ranks(tmp_path, single_mode, ranks_mode, steps):
    """Train once in one process and once on 2 MPI ranks; return both saved .npz files."""
    ref = tmp_path / "single.npz"
    r = subprocess.run(
        [sys.executable, str(WORKER), single_mode, str(ref), str(steps)],
        env=mpi_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 0, r.stderr
    out = tmp_path / "ddp.npz"
    r = mpirun(2, WORKER, ranks_mode, out, steps)
    assert r.returncode == 0, r.stdout + r.stderr
    a, b = np.load(ref), np.load(out)
    assert sorted(a.files) == sorted(b.files)
    return a, b


def test_two_ranks_match_single_process(tmp_path):
    a, b = _single_vs_two_ranks(tmp_path, "single", "ddp", 20)
    for k in a.files:
        np.testing.assert_allclose(b[k], a[k], rtol=1e-12, atol=1e-14, err_msg=k)


def test_killed_rank_makes_job_fail_quickly(tmp_path):
    start = time.monotonic()
    r = mpirun(2, WORKER, "crash", tmp_path / "x.npz", 10_000, timeout=90)
    elapsed = time.monotonic() - start
    assert r.returncode != 0
    assert elapsed < 90


def test_fit_distributed_matches_single_process(tmp_path):
    a, b = _single_vs_two_ranks(tmp_path, "fit_single", "fit_ddp", 3)
    for k in a.files:
        # The epoch loss is averaged across ranks, so it equals the single-process value.
        np.testing.assert_allclose(b[k], a[k], rtol=1e-12, atol=1e-14, err_msg=k)


# ------------------------------------------------------------------ abort, never hang
FAILURES = Path(__file__).with_name("_failures.py")
HANG = 60  # seconds: far above what any of these jobs needs, so only a hang reaches it


def failing_job(mode, tmp_path, **env):
    r, elapsed = launch((2, [sys.executable, FAILURES, mode, tmp_path / "w"]), HANG, env)
    return r, r.stdout + r.stderr, elapsed


def test_a_normal_run_exits_0_with_the_same_weights_on_every_rank(tmp_path):
    r, text, _ = failing_job("ok", tmp_path)
    assert r.returncode == 0, text
    w0, w1 = np.load(tmp_path / "w.0.npz"), np.load(tmp_path / "w.1.npz")
    assert sorted(w0.files) == sorted(w1.files) and w0.files
    for k in w0.files:  # ranks seeded differently: equal only through the broadcast
        np.testing.assert_array_equal(w0[k], w1[k], err_msg=k)


@pytest.mark.parametrize(
    "mode, code, expected",
    [
        # The script catches rank 1's error around fit and ends normally.
        ("catch", None, ["rank 1 left training early: ValueError",
                         "rank 1's callback failed"]),
        ("sysexit", None, ["rank 1 left training early: sys.exit(0)"]),
        ("keyboard", 130, ["rank 1 left training early: KeyboardInterrupt"]),
        # Rank 1's data fails before fit; its script returns without training.
        ("skip", None, ["rank 1 left training early: its process ended",
                        "rank 0 was waiting for it"]),
        # Rank 1 ends after a complete run; rank 0 alone starts a second one.
        ("after", None, ["rank 1 left training early: its process ended"]),
        ("batch", None, ["disagree on the run's configuration",
                         "batch_size: rank 0 16, rank 1 32"]),
        ("stop", None, ["disagree on stopping after epoch 1",
                        "rank 0 goes on, rank 1 stops (rank 1 had enough)"]),
    ],
)  # fmt: skip
def test_a_rank_leaving_early_ends_the_job(tmp_path, mode, code, expected):
    r, text, _ = failing_job(mode, tmp_path)
    assert r.returncode != 0, text
    if code is not None:
        assert r.returncode == code, text
    for line in expected:
        assert line in text, text


def test_a_rank_stuck_elsewhere_ends_the_job_after_the_time_limit(tmp_path):
    # Rank 1 sleeps 60 s inside a step; rank 0 gives up after 2.
    r, text, elapsed = failing_job("stuck", tmp_path, RETROGRAD_MPI_TIMEOUT="2")
    assert r.returncode != 0, text
    assert "rank 0 waited 2 s in the gradient allreduce of a step" in text, text
    assert "RETROGRAD_MPI_TIMEOUT" in text
    assert elapsed < 45, elapsed


def _cli(*args):
    return [sys.executable, "-m", "retrograd", "train", "--model", "mlp:8", "--distributed",
            "--verbose", "0", *args]  # fmt: skip


@pytest.mark.parametrize(
    "rank1, expected",
    [
        (["--data", "{missing}"], ["no such file", "rank 1 failed while loading the data"]),
        (["--epochs", "3"], ["disagree on the run's configuration", "epochs: rank 0 2, rank 1 3"]),
        (["--model", "mlp:12"], ["disagree on the run's configuration", "model parameters:",
                                 '[8, 64]', '[12, 64]']),
    ],
)  # fmt: skip
def test_cli_ranks_that_differ_all_exit_non_zero(tmp_path, rank1, expected):
    missing = str(tmp_path / "missing.csv")
    base = ["--data", "digits", "--epochs", "2", "--out", str(tmp_path / "m.safetensors")]
    rank1 = [a.replace("{missing}", missing) for a in rank1]
    r, _ = launch([_cli(*base), _cli(*base, *rank1)], HANG)
    text = r.stdout + r.stderr
    assert r.returncode != 0, text
    for line in expected:
        assert line in text, text
    assert not (tmp_path / "m.safetensors").exists()


CLI_RANK = Path(__file__).with_name("_cli_rank.py")


@pytest.mark.parametrize(
    "mode, rank1_says",
    [
        ("error", "rank 1 left training early: ValueError: fit (epoch 1, step 4): rank 1 broke"),
        ("sigint", "rank 1 left training early: KeyboardInterrupt"),
    ],
)
def test_cli_the_other_ranks_say_who_aborted_the_job(tmp_path, mode, rank1_says):
    # Rank 1 aborts at its third step; Open MPI ends rank 0 with SIGTERM, which
    # `retrograd train` handles like Ctrl-C: rank 0 must not blame itself for it.
    base = ["--data", "digits", "--epochs", "50", "--out", str(tmp_path / "m.safetensors")]
    rank1 = [sys.executable, CLI_RANK, mode, *_cli(*base)[3:]]
    r, _ = launch([_cli(*base), rank1], HANG)
    text = r.stdout + r.stderr
    assert r.returncode != 0, text
    assert rank1_says in text, text
    assert "rank 0 left training early" not in text, text
    assert "rank 0 stopped: terminated (SIGTERM) by the MPI runtime after rank 1 aborted" in text
    assert not (tmp_path / "m.safetensors").exists()


def test_cli_ctrl_c_on_rank_1_alone_stops_every_rank_with_a_checkpoint(tmp_path):
    # Only rank 0 writes checkpoints: rank 1's Ctrl-C travels with the next step's
    # gradients, every rank stops after that step, rank 0 saves, nobody aborts.
    ck, out = tmp_path / "ck", tmp_path / "m.safetensors"
    base = ["--data", "digits", "--epochs", "3", "--out", str(out), "--checkpoint-dir", str(ck)]
    rank1 = [sys.executable, CLI_RANK, "sigint", *_cli(*base)[3:]]
    r, _ = launch([_cli(*base), rank1], HANG)
    text = r.stdout + r.stderr
    assert r.returncode == 130, text
    assert "checkpoint saved to" in text and "--resume" in text, text
    assert "left training early" not in text and "MPI_ABORT" not in text, text
    assert (ck / "latest").exists() and not out.exists()
    # The run goes on from there on both ranks and ends normally.
    r, _ = launch((2, _cli(*base, "--resume")), HANG)
    assert r.returncode == 0, r.stdout + r.stderr
    assert out.exists()
