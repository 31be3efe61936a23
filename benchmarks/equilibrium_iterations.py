"""Iteration counts of the fixed-point solvers, and the approximate gradients' cosines.

Trains the digits equilibrium classifier ``h* = tanh(W h* + U x + b)`` (hidden 64 by
default, ``||W||_F`` bounded by ``--max-norm``, Adam, batch 64, float32, exact RBP gradients, plain
iteration) and after each epoch, on the same weights and the 360 test digits, counts:

- the forward iterations (cell evaluations) of ``solver="iter"``, ``"anderson"`` and
  ``"broyden"`` at ``tol`` (largest over the samples, and mean per sample);
- the backward (adjoint) iterations of the same ``backward_solver`` on one batch (largest
  and mean per sample);
- the cosine between the exact gradient (``backward="rbp"``) of the loss with respect to
  the parameters before the fixed point (``U``, ``b``, ``W``) and the approximate ones
  (``"jfb"``; ``"phantom"`` with 5 undamped steps).

    python benchmarks/equilibrium_iterations.py [--hidden 64] [--epochs 5] [--tol 1e-6]
        [--max-norm 0.9] [--lr 1e-2]
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse  # noqa: E402

import numpy as np  # noqa: E402

import retrograd as rg  # noqa: E402
from retrograd.nn.fixedpoint import EquilibriumClassifier  # noqa: E402


def _upstream(model: EquilibriumClassifier) -> list:
    return [model.inject.weight, model.inject.bias, model.fixed_point.cell.weight]


def _grad(model, fp, x, y, backward: str, **kw) -> np.ndarray:
    saved = {k: getattr(fp, k) for k in ("backward", *kw)}
    for k, v in {"backward": backward, **kw}.items():
        setattr(fp, k, v)
    model.zero_grad()
    rg.nn.functional.cross_entropy(model(x), y).backward()
    for k, v in saved.items():
        setattr(fp, k, v)
    return np.concatenate([p.grad.ravel().astype(np.float64) for p in _upstream(model)])


def _cos(a: np.ndarray, b: np.ndarray) -> float:
    return float(a @ b / np.linalg.norm(a) / np.linalg.norm(b))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--hidden", type=int, default=64)
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--tol", type=float, default=1e-6)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--max-norm", type=float, default=0.9, help="bound on ||W||_F (1e9: free)")
    ap.add_argument("--lr", type=float, default=1e-2, help="Adam's learning rate")
    a = ap.parse_args()
    rg.manual_seed(a.seed)
    X, y = rg.data.load_digits()
    X = (X / 16.0).astype(np.float32)
    perm = np.random.default_rng(a.seed).permutation(len(X))
    te, tr = perm[:360], perm[360:]
    model = EquilibriumClassifier(64, a.hidden, 10, a.max_norm, tol=a.tol, max_iter=1000)
    fp = model.fixed_point
    fp.on_nonconvergence = "warn"  # counts at max_iter are reported, not fatal
    opt = rg.optim.Adam(model.parameters(), lr=a.lr)
    xt = rg.tensor(X[te])
    xb, yb = rg.tensor(X[tr[:64]]), rg.tensor(y[tr[:64]])
    print(
        f"hidden {a.hidden}, tol {a.tol:g}, max_norm {a.max_norm:g}, lr {a.lr:g}, float32, "
        "batch 64; "
        "iterations = cell evaluations"
    )
    solvers = ("iter", "anderson", "broyden")
    print(
        "epoch | "
        + " | ".join(f"fwd {s} max/mean" for s in solvers)
        + " | "
        + " | ".join(f"bwd {s} max/mean" for s in solvers)
        + " | cos jfb | cos phantom5 | test acc"
    )
    totals = dict.fromkeys(solvers, 0.0)
    rng = np.random.default_rng(a.seed)
    for epoch in range(a.epochs + 1):
        if epoch:
            model.train()
            order = rng.permutation(tr)
            for i in range(0, len(order), 64):
                idx = order[i : i + 64]
                opt.zero_grad()
                loss = rg.nn.functional.cross_entropy(model(rg.tensor(X[idx])), rg.tensor(y[idx]))
                loss.backward()
                opt.step()
        model.eval()
        row = []
        for solver in solvers:
            fp.solver = fp.backward_solver = solver
            with rg.no_grad():
                logits = model(xt)
            st = fp.last_stats
            per = st["forward_iterations_per_sample"]
            row.append(f"{st['forward_iterations']}/{per.mean():.1f}")
            totals[solver] += per.mean()
            acc = float((logits.data.argmax(1) == y[te]).mean())
        for solver in solvers:
            fp.solver = fp.backward_solver = solver
            _grad(model, fp, xb, yb, "rbp")
            per = fp.last_stats["backward_iterations_per_sample"]
            row.append(f"{fp.last_stats['backward_iterations']}/{per.mean():.1f}")
            totals[solver] += per.mean()
        fp.solver = fp.backward_solver = "iter"
        exact = _grad(model, fp, xb, yb, "rbp", tol=1e-7, backward_tol=1e-7)
        row.append(f"{_cos(_grad(model, fp, xb, yb, 'jfb'), exact):.3f}")
        row.append(f"{_cos(_grad(model, fp, xb, yb, 'phantom', backward_max_iter=5), exact):.3f}")
        print(f"{epoch:5d} | " + " | ".join(row) + f" | {acc:.3f}")
    # Mean cell evaluations per sample, forward (test digits) + backward (one batch),
    # summed over the epochs: the plain iteration's over each solver's.
    print(
        "cell evaluations per sample, fwd + bwd, all epochs: "
        + ", ".join(f"{s} {totals[s]:.1f}" for s in solvers)
        + "; iter / solver: "
        + ", ".join(f"{s} {totals['iter'] / totals[s]:.2f}x" for s in solvers[1:])
    )


if __name__ == "__main__":
    main()
