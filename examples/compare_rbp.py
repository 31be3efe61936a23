"""Compare the backward variants of rg.nn.FixedPoint on one model.

Model: h* = tanh(h* W^T + x U^T + b), float64, a batch of 64 inputs, 32 state units,
loss L = sum(c * h*). The recurrent matrix is random, scaled to spectral radius ``--radius``
(tanh' < 1 makes J = diag(1 - h*^2) W a little more contracting than that).

For each variant the table gives the relative error of dL/dW against the exact gradient
(per-sample Jacobians built in NumPy and (I - J^T) z = g solved with numpy.linalg.solve),
the backward iterations, the forward + backward wall time (best of 5) and the peak memory
traced by tracemalloc during forward + backward.

A variant that cannot converge reports its ConvergenceError instead of a number.

Run:  python examples/compare_rbp.py [--radius 0.9] [--spectrum random|negative]
                                    [--damping 1.0] [--backward-damping T]
"""

from __future__ import annotations

import os

# The matrices here are tiny (at most 128 x 128): BLAS threads cost more than they save
# (on a loaded 2-core machine, 6x the CPU time). Must be set before NumPy is imported.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import argparse  # noqa: E402
import time  # noqa: E402
import tracemalloc  # noqa: E402

import numpy as np  # noqa: E402

import retrograd as rg  # noqa: E402


class TanhCell(rg.nn.Module):
    def __init__(self, n_in: int, n: int, radius: float, spectrum: str, seed: int = 0) -> None:
        super().__init__()
        r = np.random.default_rng(seed)
        if spectrum == "random":
            w = r.standard_normal((n, n))
            w *= radius / np.max(np.abs(np.linalg.eigvals(w)))
        else:  # symmetric, eigenvalues in [-radius, -0.75 radius]: damping can tame it
            q, _ = np.linalg.qr(r.standard_normal((n, n)))
            w = (q * -np.linspace(0.75 * radius, radius, n)) @ q.T
        self.w = rg.nn.Parameter(w)
        self.u = rg.nn.Parameter(r.standard_normal((n, n_in)) / np.sqrt(n_in))
        self.b = rg.nn.Parameter(0.1 * r.standard_normal(n))

    def state_shape(self, x: rg.Tensor) -> tuple:
        return (x.shape[0], self.w.shape[0])

    def forward(self, h: rg.Tensor, x: rg.Tensor) -> rg.Tensor:
        return (h @ self.w.T + x @ self.u.T + self.b).tanh()


def exact_grad_w(cell: TanhCell, h: np.ndarray, c: np.ndarray) -> np.ndarray:
    d = 1 - h * h
    z = np.empty_like(c)
    eye = np.eye(h.shape[1])
    for b in range(h.shape[0]):
        z[b] = np.linalg.solve(eye - (d[b][:, None] * cell.w.data).T, c[b])
    return (d * z).T @ h


def run(cell, x, c, **kw):
    fp = rg.nn.FixedPoint(cell, **kw)
    cell.zero_grad()
    (fp(x) * c).sum().backward()
    return fp


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--radius", type=float, default=0.9)
    ap.add_argument(
        "--spectrum",
        default="random",
        choices=["random", "negative"],
        help="W random (scaled to --radius) or symmetric with eigenvalues in "
        "[-radius, -0.75 radius]",
    )
    ap.add_argument("--tol", type=float, default=1e-10)
    ap.add_argument("--damping", type=float, default=1.0, help="forward damping tau")
    ap.add_argument(
        "--backward-damping",
        type=float,
        default=None,
        help="adjoint damping (default: the forward damping)",
    )
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    n_in, n, batch = 16, 32, 64
    cell = TanhCell(n_in, n, args.radius, args.spectrum)
    x = rg.tensor(rng.standard_normal((batch, n_in)))
    c = rg.tensor(rng.standard_normal((batch, n)))
    common = dict(tol=args.tol, max_iter=5000, damping=args.damping,
                  backward_damping=args.backward_damping)  # fmt: skip
    variants = [
        ("rbp", dict(backward="rbp", backward_tol=args.tol, backward_max_iter=5000)),
        ("neumann K=10", dict(backward="neumann", backward_max_iter=10)),
        ("neumann K=50", dict(backward="neumann", backward_max_iter=50)),
        ("cg", dict(backward="cg", backward_tol=args.tol, backward_max_iter=5000)),
        ("unrolled (BPTT)", dict(backward="unrolled")),
    ]
    fp = rg.nn.FixedPoint(cell, estimate_spectral_radius=True, **common)
    with rg.no_grad():
        h = fp(x).data
    exact = exact_grad_w(cell, h, c.data)
    st = fp.last_stats
    damped = st.get("damped_spectral_radius")
    print(f"batch {batch}, {n} state units, float64, forward tol {args.tol:g} (relative), "
          f"damping {args.damping:g}, backward damping "
          f"{fp.backward_damping:g}; spectral radius of J at h*: {st['spectral_radius']:.3f}"
          + ("" if damped is None else f", of the damped map: {damped:.3f}")
          + f"; forward iterations: {st['forward_iterations']}")  # fmt: skip
    print(
        "\n| backward | rel. error of dL/dW | backward iterations | time fwd+bwd (ms) "
        "| peak memory fwd+bwd (KiB) |"
    )
    print("|---|---|---|---|---|")
    for name, kw in variants:
        times = []
        try:
            for _ in range(5):
                t0 = time.perf_counter()
                fp = run(cell, x, c, **common, **kw)
                times.append(time.perf_counter() - t0)
        except rg.ConvergenceError as e:
            print(f"| {name} | ConvergenceError: {str(e)[:70]}... | | | |")
            continue
        err = np.linalg.norm(cell.w.grad - exact) / np.linalg.norm(exact)
        tracemalloc.start()
        run(cell, x, c, **common, **kw)
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        print(f"| {name} | {err:.2e} | {fp.last_stats['backward_iterations']} | "
              f"{1e3 * min(times):.1f} | {peak / 1024:.0f} |")  # fmt: skip


if __name__ == "__main__":
    main()
