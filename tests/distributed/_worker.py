"""Run under mpirun by test_mpi.py (or alone for the single-process reference).

usage: _worker.py MODE OUT [STEPS]
  MODE=ddp     each rank trains on its shard of every batch through DistributedOptimizer
  MODE=single  one process trains on the full batches (the reference)
  MODE=crash   rank 1 is killed with SIGKILL after a few steps
"""

import os
import signal
import sys

import numpy as np

import retrograd as rg
from retrograd import distributed as dist


def make_data():
    rng = np.random.default_rng(7)
    X = rng.standard_normal((256, 20))
    y = (X[:, :3].sum(axis=1) > 0).astype(np.int64) + (X[:, 3] > 1).astype(np.int64)
    return X, y


def make_model(seed):
    rg.manual_seed(seed)
    return rg.nn.Sequential(
        rg.nn.Linear(20, 16, dtype="float64"), rg.nn.Tanh(), rg.nn.Linear(16, 3, dtype="float64")
    )


def batches(n, batch_size, seed):
    order = np.random.default_rng(seed).permutation(n)
    for i in range(0, n, batch_size):
        yield order[i : i + batch_size]


def main():
    mode, out = sys.argv[1], sys.argv[2]
    steps = int(sys.argv[3]) if len(sys.argv) > 3 else 20
    X, y = make_data()
    loss_fn = rg.nn.CrossEntropyLoss()
    if mode.startswith("fit_"):
        # The same through rg.train.fit: distributed=True shards each batch by rank.
        model = make_model(dist.rank() if mode == "fit_ddp" else 0)
        opt = rg.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
        h = rg.train.fit(
            model,
            loss_fn,
            opt,
            (X, y),
            epochs=steps,
            batch_size=32,
            seed=3,
            verbose=0,
            distributed=(mode == "fit_ddp"),
        )
        if mode == "fit_single" or dist.rank() == 0:
            np.savez(out, loss=np.array(h["loss"]), **model.state_dict())
        return
    if mode == "single":
        model = make_model(0)
        opt = rg.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    else:
        dist.install_excepthook()
        # Differently seeded ranks: the broadcast must make them agree.
        model = make_model(dist.rank())
        dist.broadcast_parameters(model)
        opt = dist.DistributedOptimizer(rg.optim.SGD(model.parameters(), lr=0.1, momentum=0.9))
    step = 0
    while step < steps:
        for idx in batches(len(X), 32, seed=step):
            xb, yb = X[idx], y[idx]
            if mode != "single":
                xb, yb = dist.shard_batch(xb, yb)
            opt.zero_grad()
            loss = loss_fn(model(rg.tensor(xb)), rg.tensor(yb))
            loss.backward()
            opt.step()
            step += 1
            if mode == "crash" and step == 5 and dist.rank() == 1:
                os.kill(os.getpid(), signal.SIGKILL)
            if step >= steps:
                break
    if mode == "single" or dist.rank() == 0:
        np.savez(out, **{k: v for k, v in model.state_dict().items()})
    if mode != "single":
        calls = opt.averager.calls
        assert calls == steps, (calls, steps)  # one Allreduce per step (one dtype)


if __name__ == "__main__":
    main()
