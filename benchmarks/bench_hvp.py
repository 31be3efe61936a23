"""Gradient vs Hessian-vector product (create_graph) on a small MLP: retrograd and PyTorch.

One gradient and one HVP (``grad`` with ``create_graph=True``, then the gradient of
``<g, v>``) of a tanh MLP's cross-entropy loss, float64, each timed in blocks of
``--number`` calls, the four contenders alternating, medians over ``--blocks`` blocks.
PyTorch is optional (skipped when absent). Run with one BLAS thread::

    OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 python benchmarks/bench_hvp.py
"""

from __future__ import annotations

import argparse
import statistics
import time


def _retrograd(x, y, params, vs):
    import retrograd as rg
    from retrograd.nn import functional as F

    xt = rg.tensor(x)
    ps = [rg.tensor(p, requires_grad=True) for p in params]
    vt = [rg.tensor(v) for v in vs]

    def loss():
        h = F.linear(xt, ps[0], ps[1]).tanh()
        return F.cross_entropy(F.linear(h, ps[2], ps[3]), y)

    def grad():
        return rg.autograd.grad(loss(), ps)

    def hvp():
        gs = rg.autograd.grad(loss(), ps, create_graph=True)
        return rg.autograd.grad(sum((g * v).sum() for g, v in zip(gs, vt)), ps)

    return grad, hvp


def _torch(x, y, params, vs):
    import torch

    torch.set_num_threads(1)
    xt, yt = torch.tensor(x), torch.tensor(y)
    ps = [torch.tensor(p, requires_grad=True) for p in params]
    vt = [torch.tensor(v) for v in vs]
    F = torch.nn.functional

    def loss():
        return F.cross_entropy(F.linear(F.linear(xt, ps[0], ps[1]).tanh(), ps[2], ps[3]), yt)

    def grad():
        return torch.autograd.grad(loss(), ps)

    def hvp():
        gs = torch.autograd.grad(loss(), ps, create_graph=True)
        return torch.autograd.grad(sum((g * v).sum() for g, v in zip(gs, vt)), ps)

    return grad, hvp


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--blocks", type=int, default=15)
    ap.add_argument("--number", type=int, default=50)
    args = ap.parse_args(argv)

    import numpy as np

    rng = np.random.default_rng(0)
    x = rng.standard_normal((args.batch, 64))
    y = rng.integers(0, 10, args.batch)
    params = [rng.standard_normal(s) * 0.1 for s in [(32, 64), (32,), (10, 32), (10,)]]
    vs = [rng.standard_normal(p.shape) for p in params]
    contenders = {}
    g, h = _retrograd(x, y, params, vs)
    contenders["retrograd gradient"], contenders["retrograd hvp"] = g, h
    try:
        g, h = _torch(x, y, params, vs)
        contenders["torch gradient"], contenders["torch hvp"] = g, h
    except ImportError:
        print("torch not installed: its rows are skipped")
    times: dict = {k: [] for k in contenders}
    for _ in range(args.blocks):
        for name, fn in contenders.items():
            t0 = time.perf_counter()
            for _ in range(args.number):
                fn()
            times[name].append((time.perf_counter() - t0) / args.number * 1e3)
    print(f"MLP 64-32-10 tanh, batch {args.batch}, float64: ms per call (median of {args.blocks})")
    for name, ts in times.items():
        print(f"  {name:20s} {statistics.median(ts):8.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
