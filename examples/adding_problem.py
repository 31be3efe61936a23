"""The adding problem (Hochreiter & Schmidhuber 1997) at length 50, solved by an LSTM.

Each input step carries a random number in [0, 1) and a marker; exactly two steps are
marked, one in each half of the sequence. The target is the sum of the two marked
numbers, read from the LSTM's last output. Always answering 1 gives a mean squared error
of 1/6 = 0.167; a network that has learned to remember both numbers across up to 50
steps does far better.

    python examples/adding_problem.py            # about 30 s
    python examples/adding_problem.py --steps 300 --length 20   # a quick look
"""

from __future__ import annotations

import os

# The matrices here are small (batch 64, hidden 64): a second BLAS thread only adds
# synchronisation, and on a busy machine OpenBLAS threads spin waiting for each other.
# Set before NumPy loads its BLAS; an explicit setting in the environment wins.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

import retrograd as rg  # noqa: E402


def make_batch(rng: np.random.Generator, batch: int, length: int) -> tuple:
    """Inputs (length, batch, 2) float32 and targets (batch, 1)."""
    values = rng.random((length, batch)).astype(np.float32)
    marks = np.zeros((length, batch), dtype=np.float32)
    half = length // 2
    first = rng.integers(0, half, batch)
    second = rng.integers(half, length, batch)
    cols = np.arange(batch)
    marks[first, cols] = 1.0
    marks[second, cols] = 1.0
    x = np.stack([values, marks], axis=-1)
    y = (values[first, cols] + values[second, cols])[:, None]
    return x, y


class Adder(rg.nn.Module):
    def __init__(self, hidden: int) -> None:
        super().__init__()
        self.lstm = rg.nn.LSTM(2, hidden)
        self.head = rg.nn.Linear(hidden, 1)

    def forward(self, x: rg.Tensor) -> rg.Tensor:
        out, _ = self.lstm(x)
        return self.head(out[-1])


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--length", type=int, default=50)
    p.add_argument("--hidden", type=int, default=64)
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--steps", type=int, default=1500)
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args(argv)

    rg.manual_seed(a.seed)
    rng = np.random.default_rng(a.seed)
    model = Adder(a.hidden)
    opt = rg.optim.Adam(model.parameters(), lr=a.lr)
    loss_fn = rg.nn.MSELoss()
    x_test, y_test = make_batch(np.random.default_rng(a.seed + 1), 1000, a.length)
    baseline = float(np.mean((y_test - 1.0) ** 2))

    t0 = time.perf_counter()
    for step in range(1, a.steps + 1):
        x, y = make_batch(rng, a.batch, a.length)
        loss = loss_fn(model(rg.tensor(x)), rg.tensor(y))
        opt.zero_grad()
        loss.backward()
        # Exploding gradients are the classic failure of BPTT; clipping keeps steps sane.
        rg.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        if step % 250 == 0 or step == a.steps:
            with rg.no_grad():
                test = float(loss_fn(model(rg.tensor(x_test)), rg.tensor(y_test)).item())
            print(
                f"step {step:5d}  train MSE {loss.item():.5f}  test MSE {test:.5f}  "
                f"({time.perf_counter() - t0:.1f} s)"
            )
    print(
        f"test MSE {test:.5f} on 1000 sequences of length {a.length}; always answering 1 "
        f"gives {baseline:.5f}"
    )
    return {"test_mse": test, "baseline_mse": baseline, "seconds": time.perf_counter() - t0}


if __name__ == "__main__":
    main()
