"""Run under mpirun -n 2 by test_mpi_failures.py: ways a rank can leave training early.

usage: _failures.py MODE OUT
Each mode trains a small model with rg.train.fit(distributed=True); rank 1 misbehaves.
"""

import sys
import time

import numpy as np

import retrograd as rg
from retrograd import distributed as dist


class OnRank1(rg.train.Callback):
    """Does ``action(ts)`` on rank 1 only, at the end of its ``step``-th batch."""

    def __init__(self, action, step=3):
        self.action, self.step = action, step

    def on_batch_end(self, ts, loss):
        if dist.rank() == 1 and ts.step == self.step:
            self.action(ts)


def boom(ts):
    raise ValueError("rank 1's callback failed")


def interrupt(ts):
    raise KeyboardInterrupt


def stuck(ts):
    time.sleep(60)


class StopRank1(rg.train.Callback):
    def on_epoch_end(self, ts, logs):
        if dist.rank() == 1:
            ts.stop("rank 1 had enough")


def data():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((96, 6))
    return X, (X[:, 0] > 0).astype(np.int64)


def model(hidden=8):
    rg.manual_seed(dist.rank())  # different on purpose: the broadcast makes them agree
    return rg.nn.Sequential(
        rg.nn.Linear(6, hidden, dtype="float64"), rg.nn.Tanh(),
        rg.nn.Linear(hidden, 2, dtype="float64"),
    )  # fmt: skip


def train(epochs=2, batch_size=16, hidden=8, callbacks=()):
    net = model(hidden)
    opt = rg.optim.SGD(net.parameters(), lr=0.1)
    rg.train.fit(net, rg.nn.CrossEntropyLoss(), opt, data(), epochs=epochs,
                 batch_size=batch_size, seed=1, verbose=0, callbacks=list(callbacks),
                 distributed=True)  # fmt: skip
    return net


def main():
    mode, out = sys.argv[1], sys.argv[2]
    r = dist.rank()
    if mode == "ok":
        net = train()
        np.savez(f"{out}.{r}.npz", **net.state_dict())
    elif mode == "catch":  # the script catches rank 1's error and ends normally
        try:
            train(callbacks=[OnRank1(boom)])
        except ValueError as exc:
            print(f"rank {r} caught {exc}", flush=True)
    elif mode == "sysexit":
        train(callbacks=[OnRank1(lambda ts: sys.exit(0))])
    elif mode == "keyboard":
        train(callbacks=[OnRank1(interrupt)])
    elif mode == "skip":  # rank 1's data fails before fit; it returns without training
        if r == 1:
            try:
                raise OSError("rank 1 could not read its data")
            except OSError as exc:
                print(f"rank 1: {exc}", flush=True)
                return
        train()
    elif mode == "after":  # rank 1 ends after the first run; rank 0 starts a second one
        train()
        if r == 0:
            train()
    elif mode == "epochs":
        train(epochs=2 + r)
    elif mode == "batch":
        train(batch_size=16 * (1 + r))
    elif mode == "shape":
        train(hidden=8 + 4 * r)
    elif mode == "stop":
        train(epochs=5, callbacks=[StopRank1()])
    elif mode == "stuck":
        train(callbacks=[OnRank1(stuck)])
    else:
        raise SystemExit(f"unknown mode {mode}")


if __name__ == "__main__":
    main()
