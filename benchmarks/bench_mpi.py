"""Data-parallel scaling: throughput of 1 vs 2 MPI ranks on the 784-256-256-10 MLP.

Each rank uses one BLAS thread. A global batch of B samples is split across the ranks;
samples/s counts global samples. Scaling efficiency = (throughput_n / throughput_1) / n.

    python benchmarks/bench_mpi.py            # prints a markdown table
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

_WORKER = r"""
import json, sys, time
import numpy as np
import retrograd as rg
from retrograd import distributed as dist
from retrograd._malloc import tune

tune()  # what fit does when training starts

batch, steps, warm, out = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
rng = np.random.default_rng(0)
X = rng.standard_normal((batch * 8, 784)).astype(np.float32)
y = rng.integers(0, 10, batch * 8)
rg.manual_seed(0)
model = rg.nn.Sequential(rg.nn.Linear(784, 256), rg.nn.ReLU(), rg.nn.Linear(256, 256),
                         rg.nn.ReLU(), rg.nn.Linear(256, 10))
size = dist.world_size()
dist.broadcast_parameters(model)
opt = rg.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
if size > 1:
    opt = dist.DistributedOptimizer(opt)
loss_fn = rg.nn.CrossEntropyLoss()
times = []
for s in range(warm + steps):
    i = (s % 8) * batch
    xb, yb = X[i:i + batch], y[i:i + batch]
    xb, yb = dist.shard_batch(xb, yb)
    dist.get_comm().Barrier()
    t0 = time.perf_counter()
    opt.zero_grad()
    loss_fn(model(rg.tensor(xb)), rg.tensor(yb)).backward()
    opt.step()
    dist.get_comm().Barrier()
    if s >= warm:
        times.append(time.perf_counter() - t0)
if dist.rank() == 0:
    json.dump({"median_step_s": float(np.median(times))}, open(out, "w"))
"""


def _run(n: int, batch: int, steps: int, warm: int) -> float:
    mpirun = shutil.which("mpirun")
    with tempfile.TemporaryDirectory() as d:
        worker = os.path.join(d, "w.py")
        out = os.path.join(d, "out.json")
        with open(worker, "w") as f:
            f.write(_WORKER)
        env = dict(
            os.environ,
            OMP_NUM_THREADS="1",
            OPENBLAS_NUM_THREADS="1",
            MKL_NUM_THREADS="1",
            OMPI_ALLOW_RUN_AS_ROOT="1",
            OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
        )
        cmd = [mpirun, "-n", str(n), "--oversubscribe"]
        if os.geteuid() == 0:
            cmd.append("--allow-run-as-root")
        cmd += [sys.executable, worker, str(batch), str(steps), str(warm), out]
        subprocess.run(cmd, env=env, check=True, capture_output=True, text=True, timeout=600)
        with open(out) as f:
            return json.load(f)["median_step_s"]


def run(quick: bool = False) -> list:
    """Rows: ranks, batch, samples/s, speed-up and efficiency against 1 rank."""
    try:
        import mpi4py  # noqa: F401
    except ImportError:
        return [{"config": "mpi", "note": "skipped: mpi4py not installed"}]
    if shutil.which("mpirun") is None:
        return [{"config": "mpi", "note": "skipped: mpirun not found"}]
    steps, warm = (5, 2) if quick else (40, 5)
    rows = []
    for batch in (64,) if quick else (128, 512):
        base = None
        for n in (1, 2):
            t = min(_run(n, batch, steps, warm) for _ in range(1 if quick else 3))
            sps = batch / t
            base = base or sps
            rows.append(
                {
                    "config": f"MLP 784-256-256-10, global batch {batch}",
                    "ranks": n,
                    "samples_per_s": round(sps),
                    "speedup": round(sps / base, 2),
                    "efficiency": round(sps / base / n, 2),
                }
            )
    return rows


def markdown(rows: list) -> str:
    """The rows as the markdown table BENCHMARKS.md shows."""
    out = [
        "Synchronous data parallelism (`retrograd.distributed`): a global batch split across",
        "the ranks, one `Allreduce` of all gradients per step, one BLAS thread per rank;",
        "samples/s counts global samples (best of 3 runs of the median step time).",
        "",
        "| config | ranks | samples/s | speed-up | efficiency |",
        "|---|---|---|---|---|",
    ]
    for r in rows:
        if "note" in r:
            out.append(f"| {r['config']} | {r['note']} | | | |")
        else:
            out.append(
                f"| {r['config']} | {r['ranks']} | {r['samples_per_s']} | {r['speedup']}x "
                f"| {r['efficiency']:.0%} |"
            )
    return "\n".join(out)


def main() -> None:
    t0 = time.time()
    rows = run(quick="--quick" in sys.argv)
    print(markdown(rows))
    print(f"\n({time.time() - t0:.0f} s)")


if __name__ == "__main__":
    main()
