"""The matrix products alone: a ceiling on any MLP step that makes them, in samples/s.

One training step of the 784-256-256-10 MLP makes eight products (three forward; the
three weight gradients and the two hidden-layer input gradients backward). This script
times just those eight products on float32 arrays of the benchmark's shapes, written
into preallocated outputs, with NumPy's BLAS as configured, and prints the step time and
the samples/s no implementation making them can exceed (before any bias, activation,
loss or weight update). The benchmark's ``products`` contender (``bench_mlp.py``) does
the same inside the side-by-side alternation; this script is the quick look.

    python benchmarks/gemm_floor.py            # batch 128 and 512
    python benchmarks/gemm_floor.py --batch 32 --repeats 500
"""

from __future__ import annotations

import argparse
import time

SIZES = (784, 256, 256, 10)


def products_ms(batch: int, repeats: int = 200, seed: int = 0) -> float:
    """Median milliseconds of the eight products of one step at ``batch``."""
    import numpy as np

    rng = np.random.default_rng(seed)
    f = np.float32
    n0, n1, n2, n3 = SIZES
    x = rng.random((batch, n0), dtype=f)
    w1, w2, w3 = (rng.random((o, i), dtype=f) for i, o in zip(SIZES[:-1], SIZES[1:]))
    h1, h2 = rng.random((batch, n1), dtype=f), rng.random((batch, n2), dtype=f)
    d3, d2, d1 = (rng.random((batch, n), dtype=f) for n in (n3, n2, n1))
    # (a, b, preallocated output): the products write into buffers, as a step that owned
    # all its memory would; no allocation or first-touch page faults are timed.
    pairs = [
        (x, w1.T), (h1, w2.T), (h2, w3.T),  # forward
        (d3.T, h2), (d3, w3), (d2.T, h1), (d2, w2), (d1.T, x),  # backward (no input grad)
    ]  # fmt: skip
    work = [(a, b, np.empty((a.shape[0], b.shape[1]), dtype=f)) for a, b in pairs]

    def step() -> None:
        for a, b, out in work:
            np.matmul(a, b, out=out)

    times = []
    for _ in range(repeats + 5):
        t0 = time.perf_counter()
        step()
        times.append(time.perf_counter() - t0)
    return float(np.median(times[5:])) * 1e3


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batch", type=int, action="append", help="batch size (repeatable)")
    ap.add_argument("--repeats", type=int, default=200)
    args = ap.parse_args(argv)
    for b in args.batch or [128, 512]:
        ms = products_ms(b, args.repeats)
        rate = b / ms * 1e3
        print(f"batch {b}: eight products {ms:.3f} ms per step -> at most {rate:,.0f} samples/s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
