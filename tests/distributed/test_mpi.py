"""Data-parallel training over real MPI processes (skipped without mpi4py or mpirun)."""

from __future__ import annotations

import os
import shutil
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


def mpirun(n, *args, timeout=120):
    cmd = [MPIRUN, "-n", str(n), "--oversubscribe"]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        cmd.append("--allow-run-as-root")
    cmd += [sys.executable, *map(str, args)]
    return subprocess.run(cmd, env=mpi_env(), capture_output=True, text=True, timeout=timeout)


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
