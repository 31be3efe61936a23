"""Equilibrium (DEQ) classifier training: retrograd's fixed-point solvers against torchdeq.

The model, for every contender: ``z* = tanh(W z* + U x + b)`` solved for each sample of
a batch, a linear readout, mean softmax cross-entropy, Adam (lr ``LR``), batch 64,
float32, on the digits (1,437 training digits in 22 batches of 64, the last partial
batch dropped; 360 test digits). ``W`` is left free, so training drives the map towards
the edge of contraction and the solvers have real work to do. Every contender starts
from the same weights (drawn once with NumPy, copied in) and sees the same batches in
the same order; each stops every sample on its relative change
``||f(z) - z|| <= TOL ||f(z)||`` with at most ``MAX_ITER`` cell evaluations, in forward
and in the backward (adjoint) solve.

Contenders (``rg_contenders()``, ``TD_CONTENDERS``): retrograd's ``rg.nn.FixedPoint``
with each forward solver (``"iter"``, ``"anderson"``, ``"broyden"``: every name in
``retrograd.nn.fixedpoint.SOLVERS``) and exact
implicit gradients (``backward="rbp"``, the adjoint solved by the same solver), and the
approximate gradients ``backward="jfb"`` and ``"phantom"`` (5 steps); torchdeq's
``get_deq(ift=True)`` with its fixed-point iteration, its Anderson (defaults ``m=6``,
``lam=1e-4``, and ``lam=1e-8``) and its Broyden, the backward solved by the same solver.
Cell evaluations are counted inside the solvers (the largest per-sample count for
retrograd, which stops each sample on its own; the batch's count for torchdeq, which
runs until every sample meets the tolerance: the same number).

Timing: one process; the contenders alternate epoch by epoch, in an order rotated every
epoch, each epoch timed step by step (forward, loss, backward, Adam); the figure is the
median step over all epochs but the first. ``--threads`` BLAS threads for NumPy
(threadpoolctl) and ``torch.set_num_threads`` the same (default 2). A step whose adjoint
becomes non-finite raises in retrograd even under ``on_nonconvergence="warn"``: it is
skipped and counted ("failed").

Also measured, with ``--part train``:

- on the weights the plain-iteration contender reached at the end of
  training, the cell evaluations each retrograd solver needs to relative tol 1e-6
  (forward: slowest and mean sample over the 360 test digits; backward: one batch);
- for the jfb and phantom contenders, the cosine between their gradient of
  ``U, b, W`` and the exact one (rbp at tol 1e-6; CG when the adjoint relaxation
  diverges) on a fixed batch, at several epochs;

and with ``--part jacreg``: training with and without Jacobian regularization
(``rg.nn.utils.jacobian_regularization``, weights ``JR_WEIGHTS`` per sample), forward and
backward cell evaluations per epoch.

    python benchmarks/bench_deq.py                 # everything, markdown to stdout
    python benchmarks/bench_deq.py --quick         # smoke run (seconds)
    python benchmarks/bench_deq.py --hidden 64 256 --epochs 10 --part train --threads 1
    python benchmarks/bench_deq.py --hidden 64 256 --part jacreg --threads 1
    python benchmarks/bench_deq.py --json out.json     # then --render out.json

torchdeq is a benchmark-only dependency (``pip install torchdeq``; it needs PyTorch);
without it its contenders are reported as skipped. ``run(quick=False)`` returns one row per
hidden size and contender (the keys of ``_common.RESULT_KEYS`` plus the DEQ figures).
"""

from __future__ import annotations

import os

THREADS = 2  # for NumPy's BLAS (threadpoolctl) and torch alike; --threads changes it

import argparse  # noqa: E402
import gc  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _common as C  # noqa: E402

LR = 1e-3
BATCH = 64
TOL = 1e-4
MAX_ITER = 100
PHANTOM_K = 5
JR_WEIGHTS = (0.1, 1.0)  # weights of the per-sample ||J||_F^2 estimate in the loss
HIDDEN = (64, 256)
EPOCHS, QUICK_EPOCHS = 10, 2
JR_EPOCHS = 20
N_TEST = 360
VERBOSE = False  # progress on stderr (--verbose)


def rg_contenders() -> dict[str, dict]:
    """retrograd's contenders: FixedPoint options. A new forward solver is added here."""
    from retrograd.nn.fixedpoint import SOLVERS

    out = {f"retrograd {s}": {"solver": s} for s in SOLVERS}  # "iter", "anderson", ...
    out["retrograd anderson+jfb"] = {"solver": "anderson", "backward": "jfb"}
    out["retrograd anderson+phantom5"] = {
        "solver": "anderson",
        "backward": "phantom",
        "backward_max_iter": PHANTOM_K,
    }
    return out


#: torchdeq's contenders: forward solver, backward solver, extra solver arguments.
TD_CONTENDERS = {
    "torchdeq fixed-point": ("fixed_point_iter", "fixed_point_iter", {}),
    "torchdeq anderson (lam 1e-4)": ("anderson", "anderson", {}),
    "torchdeq anderson (lam 1e-8)": ("anderson", "anderson", {"lam": 1e-8}),
    "torchdeq broyden": ("broyden", "broyden", {}),
}


class Skip(Exception):
    """A contender that cannot run here, with the reason."""


# ----------------------------------------------------------------------- data, weights
def load_data(seed: int = 0) -> tuple:
    """(train X, train y, test X, test y): digits / 16, float32, a fixed 360-digit test set."""
    X, y, _ = C.digits_data()
    perm = np.random.default_rng(seed).permutation(len(X))
    te, tr = perm[:N_TEST], perm[N_TEST:]
    return X[tr], y[tr].astype(np.int64), X[te], y[te].astype(np.int64)


def epoch_batches(X: Any, y: Any, epoch: int, seed: int = 0) -> list:
    """The batches of one epoch: a shuffle fixed by (seed, epoch), full batches only."""
    order = np.random.default_rng([seed, epoch]).permutation(len(X))
    n = len(X) // BATCH * BATCH
    return [(X[order[i : i + BATCH]], y[order[i : i + BATCH]]) for i in range(0, n, BATCH)]


def init_weights(hidden: int, seed: int = 0) -> dict:
    """Float32 U, b (PyTorch's Linear law), W (entries U(+-0.5/sqrt(h))), readout."""
    rng = np.random.default_rng(seed)

    def unif(bound, *shape):
        return rng.uniform(-bound, bound, shape).astype(np.float32)

    a, r = 1 / np.sqrt(64), 1 / np.sqrt(hidden)
    return {
        "U": unif(a, hidden, 64),
        "b": unif(a, hidden),
        "W": unif(0.5 * r, hidden, hidden),
        "R": unif(r, 10, hidden),
        "c": unif(r, 10),
    }


# ----------------------------------------------------------------------- retrograd
class RgDEQ:
    """retrograd's model and training step."""

    def __init__(self, hidden: int, w: dict, jr_weight: float = 0.0, **options: Any) -> None:
        import retrograd as rg

        self.rg = rg
        nn = rg.nn

        class Cell(nn.Module):
            def __init__(self) -> None:
                super().__init__()
                self.weight = nn.Parameter(w["W"].copy())

            def forward(self, h, u):
                return nn.functional.linear(h, self.weight, None).add(u).tanh()

        class Model(nn.Module):
            def __init__(self) -> None:
                super().__init__()
                self.inject = nn.Linear(64, hidden)
                self.fp = nn.FixedPoint(
                    Cell(), tol=TOL, max_iter=MAX_ITER, on_nonconvergence="warn", **options
                )
                self.readout = nn.Linear(hidden, 10)

        m = Model()
        m.inject.weight.data[...] = w["U"]
        m.inject.bias.data[...] = w["b"]
        m.readout.weight.data[...] = w["R"]
        m.readout.bias.data[...] = w["c"]
        self.model, self.jr_weight = m, jr_weight
        self.failed = 0  # steps whose adjoint became non-finite (skipped)
        self.opt = rg.optim.Adam(m.parameters(), lr=LR)

    def step(self, xb: Any, yb: Any) -> tuple:
        rg, m = self.rg, self.model
        self.opt.zero_grad()
        u = m.inject(rg.tensor(xb))
        h = m.fp(u)
        loss = rg.nn.functional.cross_entropy(m.readout(h), rg.tensor(yb))
        if self.jr_weight:
            hz = h.detach().requires_grad_()
            jr = rg.nn.utils.jacobian_regularization(m.fp.cell(hz, u), hz)
            loss = loss + (self.jr_weight / len(xb)) * jr
        try:
            loss.backward()
        except rg.ConvergenceError:  # a non-finite adjoint (raised even under "warn")
            self.failed += 1  # the step is skipped, counted as capped
            st = m.fp.last_stats
            return st["forward_iterations"], m.fp.backward_max_iter, True
        self.opt.step()
        st = m.fp.last_stats
        capped = not (st["forward_converged"] and st.get("backward_converged", True))
        return st["forward_iterations"], st["backward_iterations"], capped

    def accuracy(self, X: Any, y: Any) -> float:
        m = self.model
        with self.rg.no_grad():
            logits = m.readout(m.fp(m.inject(self.rg.tensor(X))))
        return float((logits.data.argmax(1) == y).mean())

    def upstream_grad(self, xb: Any, yb: Any, **options: Any) -> np.ndarray:
        """The loss gradient of U, b, W with the FixedPoint options changed for one step."""
        rg, m = self.rg, self.model
        fp = m.fp
        saved = {k: getattr(fp, k) for k in options}
        for k, v in options.items():
            setattr(fp, k, v)
        try:
            for p in m.parameters():
                p.grad = None
            loss = rg.nn.functional.cross_entropy(
                m.readout(m.fp(m.inject(rg.tensor(xb)))), rg.tensor(yb)
            )
            loss.backward()
        finally:
            for k, v in saved.items():
                setattr(fp, k, v)
        ps = [m.inject.weight, m.inject.bias, fp.cell.weight]
        return np.concatenate([np.asarray(p.grad, np.float64).ravel() for p in ps])


# ----------------------------------------------------------------------- torchdeq
_TD_COUNTS: dict = {}


def _counting_solver(key: str, base: Any, fixed: dict) -> Any:
    """A torchdeq solver that counts its cell evaluations in ``_TD_COUNTS[key]``."""

    def solver(func, x0, **kw):
        def f(*a, **k):
            _TD_COUNTS[key] += 1
            return func(*a, **k)

        return base(f, x0, **{**kw, **fixed})

    return solver


class TdDEQ:
    """torchdeq's model (``get_deq(ift=True)``) and training step."""

    def __init__(self, name: str, hidden: int, w: dict) -> None:
        try:
            import torch
            from torchdeq import get_deq
            from torchdeq.solver import get_solver, register_solver
        except Exception as e:  # ImportError, or torchdeq failing against this torch
            raise Skip(
                f"torchdeq not importable ({type(e).__name__}: {e}); pip install torchdeq"
            ) from e
        torch.set_num_threads(THREADS)
        f_solver, b_solver, extra = TD_CONTENDERS[name]
        self.fkey, self.bkey = f"bench-{name}-f", f"bench-{name}-b"
        register_solver(self.fkey, _counting_solver(self.fkey, get_solver(f_solver), extra))
        register_solver(self.bkey, _counting_solver(self.bkey, get_solver(b_solver), extra))
        _TD_COUNTS[self.fkey] = _TD_COUNTS[self.bkey] = 0
        self.torch = torch
        nn = torch.nn
        m = nn.Module()
        f32 = {"dtype": torch.float32}  # whatever torch's default dtype was set to
        m.inject, m.W, m.readout = (
            nn.Linear(64, hidden, **f32),
            nn.Linear(hidden, hidden, False, **f32),
            nn.Linear(hidden, 10, **f32),
        )
        with torch.no_grad():
            for p, k in (
                (m.inject.weight, "U"),
                (m.inject.bias, "b"),
                (m.W.weight, "W"),
                (m.readout.weight, "R"),
                (m.readout.bias, "c"),
            ):
                p.copy_(torch.from_numpy(w[k]))
        m.deq = get_deq(
            ift=True,
            f_solver=self.fkey,
            b_solver=self.bkey,
            f_max_iter=MAX_ITER,
            b_max_iter=MAX_ITER,
            f_tol=TOL,
            b_tol=TOL,
            f_stop_mode="rel",
            b_stop_mode="rel",
        )
        self.model = m
        self.opt = torch.optim.Adam(m.parameters(), lr=LR)

    def _forward(self, x: Any) -> Any:
        m, torch = self.model, self.torch
        u = m.inject(x)
        z_out, _ = m.deq(lambda z: torch.tanh(m.W(z) + u), torch.zeros_like(u))
        return m.readout(z_out[-1])

    def step(self, xb: Any, yb: Any) -> tuple:
        torch = self.torch
        self.model.train()
        _TD_COUNTS[self.fkey] = _TD_COUNTS[self.bkey] = 0
        self.opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(
            self._forward(torch.from_numpy(xb)), torch.from_numpy(yb)
        )
        loss.backward()
        self.opt.step()
        f, b = _TD_COUNTS[self.fkey], _TD_COUNTS[self.bkey]
        return f, b, f >= MAX_ITER or b >= MAX_ITER

    def accuracy(self, X: Any, y: Any) -> float:
        torch = self.torch
        self.model.eval()
        with torch.no_grad():
            logits = self._forward(torch.from_numpy(X))
        self.model.train()
        return float((logits.numpy().argmax(1) == y).mean())


# ----------------------------------------------------------------------- training
def make_contender(name: str, hidden: int, w: dict) -> Any:
    rgs = rg_contenders()
    if name in rgs:
        return RgDEQ(hidden, w, **rgs[name])
    return TdDEQ(name, hidden, w)


def train(
    trainers: dict, data: tuple, epochs: int, on_epoch: Any = None, settle: float = 0.05
) -> dict:
    """Train every contender ``epochs`` epochs, alternating epoch by epoch (order rotated).

    Returns per contender: step times (s) and (forward, backward, capped) per step, by epoch.
    """
    Xtr, ytr = data[0], data[1]
    names = list(trainers)
    log = {n: {"times": [], "iters": []} for n in names}
    for epoch in range(epochs):
        batches = epoch_batches(Xtr, ytr, epoch)
        k = epoch % len(names)
        for n in names[k:] + names[:k]:
            t, times, iters = trainers[n], [], []
            gc.collect()
            time.sleep(settle)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)  # capped solves are counted
                for xb, yb in batches:
                    t0 = time.perf_counter()
                    its = t.step(xb, yb)
                    times.append(time.perf_counter() - t0)
                    iters.append(its)
            log[n]["times"].append(times)
            log[n]["iters"].append(iters)
            if VERBOSE:
                print(
                    f"  epoch {epoch + 1} {n}: {1e3 * C.median(times):.1f} ms/step, "
                    f"evals {np.mean([s[0] for s in iters]):.1f} / "
                    f"{np.mean([s[1] for s in iters]):.1f}",
                    file=sys.stderr,
                    flush=True,
                )
        if on_epoch is not None:
            on_epoch(epoch + 1)
    return log


def compare(
    hidden: int, epochs: int, data: tuple, names: list | None = None, cos_epochs: tuple = ()
) -> tuple[list[dict], list[dict], Any]:
    """The side-by-side training run: (rows, cosine rows, the plain-iteration trainer)."""
    w = init_weights(hidden)
    names = names or [*rg_contenders(), *TD_CONTENDERS]
    trainers, skipped = {}, {}
    for n in names:
        try:
            trainers[n] = make_contender(n, hidden, w)
        except Skip as e:
            skipped[n] = str(e)
    Xtr, ytr, Xte, yte = data
    cos_rows: list[dict] = []
    xc, yc = Xtr[:BATCH], ytr[:BATCH]

    def cosines(epoch: int) -> None:
        if epoch not in cos_epochs:
            return
        for n, t in trainers.items():
            opts = rg_contenders().get(n, {})
            if opts.get("backward") not in ("jfb", "phantom"):
                continue
            tight = {"tol": 1e-6, "max_iter": 1000}
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                exact, method = None, "rbp"
                try:
                    exact = t.upstream_grad(
                        xc,
                        yc,
                        backward="rbp",
                        backward_solver="iter",
                        backward_tol=1e-6,
                        backward_max_iter=1000,
                        **tight,
                    )
                except t.rg.ConvergenceError:
                    pass  # the adjoint relaxation diverges (J^T not contracting) ...
                if exact is None or not t.model.fp.last_stats.get("backward_converged"):
                    method = "cg"  # ... CG on the normal equations needs no contraction
                    exact = t.upstream_grad(
                        xc, yc, backward="cg", backward_tol=1e-6, backward_max_iter=1000, **tight
                    )
                approx = t.upstream_grad(xc, yc, **tight)
            cos = float(exact @ approx / np.linalg.norm(exact) / np.linalg.norm(approx))
            cos_rows.append(
                {"hidden": hidden, "contender": n, "epoch": epoch, "cosine": cos, "exact": method}
            )

    cosines(0)
    log = train(trainers, data, epochs, on_epoch=cosines)
    rows = []
    for n in names:
        desc = (
            f"DEQ z* = tanh(W z* + U x + b), hidden {hidden}, digits, batch {BATCH}, "
            f"Adam lr {LR:g}, float32, rel tol {TOL:g}, max {MAX_ITER} evaluations"
        )
        row = {
            "suite": "deq",
            "config": f"deq-h{hidden}",
            "description": desc,
            "contender": n,
            "status": "ok",
            "note": "",
            "batch_size": BATCH,
            "n_samples": None,
            "samples_per_s": None,
            "epoch_s_median": None,
            "epoch_s": [],
            "peak_mem_mib": None,
            "mem_method": None,
            "hidden": hidden,
            "epochs": epochs,
            "threads": THREADS,
        }
        if n in skipped:
            row.update(status="skipped", note=skipped[n])
            rows.append(row)
            continue
        lg = log[n]
        timed = [s for ep in lg["times"][1:] or lg["times"] for s in ep]
        last = lg["iters"][-1]
        steps = [s for ep in lg["iters"] for s in ep]
        step_s = C.median(timed)
        row.update(
            step_ms_median=1e3 * step_s,
            samples_per_s=BATCH / step_s,
            epoch_s=[float(sum(ep)) for ep in lg["times"]],
            epoch_s_median=C.median([sum(ep) for ep in lg["times"]]),
            n_samples=len(steps) * BATCH,
            fwd_last_epoch=float(np.mean([s[0] for s in last])),
            bwd_last_epoch=float(np.mean([s[1] for s in last])),
            fwd_first_epoch=float(np.mean([s[0] for s in lg["iters"][0]])),
            capped_steps=int(sum(s[2] for s in steps)),
            failed_steps=getattr(trainers[n], "failed", 0),
            steps=len(steps),
            test_acc=trainers[n].accuracy(Xte, yte),
            train_acc=trainers[n].accuracy(Xtr, ytr),
        )
        rows.append(row)
    return rows, cos_rows, trainers.get("retrograd iter")


def iteration_counts(t: Any, hidden: int, data: tuple, tol: float = 1e-6) -> list[dict]:
    """Cell evaluations of each retrograd solver to ``tol`` on trainer ``t``'s weights."""
    from retrograd.nn.fixedpoint import SOLVERS

    rg, m = t.rg, t.model
    fp = m.fp
    Xtr, ytr, Xte, _ = data
    out = []
    saved = {k: getattr(fp, k) for k in ("tol", "max_iter", "solver", "backward_solver")}
    try:
        fp.tol, fp.max_iter = tol, 2000
        fp.backward_tol, fp.backward_max_iter = tol, 2000
        for s in SOLVERS:
            fp.solver = fp.backward_solver = s
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                with rg.no_grad():
                    m.fp(m.inject(rg.tensor(Xte)))
                st = dict(fp.last_stats)
                t.upstream_grad(Xtr[:BATCH], ytr[:BATCH])
                bst = fp.last_stats
            out.append(
                {
                    "hidden": hidden,
                    "solver": s,
                    "tol": tol,
                    "fwd_max": int(st["forward_iterations"]),
                    "fwd_mean": float(np.mean(st["forward_iterations_per_sample"])),
                    "fwd_converged": bool(st["forward_converged"]),
                    "bwd": int(bst["backward_iterations"]),
                    "bwd_converged": bool(bst["backward_converged"]),
                }
            )
    finally:
        for k, v in saved.items():
            setattr(fp, k, v)
        fp.backward_tol, fp.backward_max_iter = fp.tol, fp.max_iter
    return out


def jacreg(hidden: int, epochs: int, data: tuple) -> list[dict]:
    """Forward/backward evaluations per epoch, trained with and without Jacobian reg."""
    w = init_weights(hidden)
    trainers = {"without": RgDEQ(hidden, w, solver="iter")}
    for jw in JR_WEIGHTS:
        trainers[f"weight {jw:g}"] = RgDEQ(hidden, w, jr_weight=jw, solver="iter")
    Xte, yte = data[2], data[3]
    accs: dict = {n: [] for n in trainers}

    def acc(epoch: int) -> None:
        for n, t in trainers.items():
            accs[n].append(t.accuracy(Xte, yte))

    log = train(trainers, data, epochs, on_epoch=acc)
    rows = []
    for n, lg in log.items():
        for e, iters in enumerate(lg["iters"]):
            rows.append(
                {
                    "hidden": hidden,
                    "training": n,
                    "epoch": e + 1,
                    "fwd_mean": float(np.mean([s[0] for s in iters])),
                    "fwd_max": int(max(s[0] for s in iters)),
                    "bwd_mean": float(np.mean([s[1] for s in iters])),
                    "capped": int(sum(s[2] for s in iters)),
                    "step_ms": 1e3 * C.median(lg["times"][e]),
                    "test_acc": accs[n][e],
                }
            )
    return rows


# ----------------------------------------------------------------------- report
def run(
    quick: bool = False,
    hidden: tuple = HIDDEN,
    epochs: int | None = None,
    parts: tuple = ("train", "jacreg"),
    names: list | None = None,
) -> list[dict]:
    """Every measurement; returns the comparison rows (the others ride along in ``extra``)."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(THREADS):
        return _run(quick, hidden, epochs, parts, names)


def _run(quick: bool, hidden: tuple, epochs: int | None, parts: tuple, names: list | None):
    data = load_data()
    if quick:
        data = (data[0][: 4 * BATCH], data[1][: 4 * BATCH], data[2][:64], data[3][:64])
    epochs = epochs or (QUICK_EPOCHS if quick else EPOCHS)
    rows: list[dict] = []
    extra: dict = {
        "iters": [], "cosines": [], "jacreg": [], "load": [C.load_average()], "threads": THREADS,
    }  # fmt: skip
    for h in hidden:
        if "train" in parts:
            cos_at = (0, 1, epochs) if quick else (0, 1, epochs // 2, epochs)
            r, cos, plain = compare(h, epochs, data, names, cos_epochs=cos_at)
            rows += r
            extra["cosines"] += cos
            if plain is not None:
                extra["iters"] += iteration_counts(plain, h, data)
            extra["load"].append(C.load_average())
    if "jacreg" in parts:
        for h in hidden[:1] if quick else hidden:
            extra["jacreg"] += jacreg(h, QUICK_EPOCHS if quick else JR_EPOCHS, data)
            extra["load"].append(C.load_average())
    if rows:
        rows[0]["extra"] = extra
    else:
        rows.append(
            {
                "suite": "deq",
                "config": "-",
                "contender": "-",
                "status": "skipped",
                "note": "no training part run",
                "extra": extra,
            }
        )
    return rows


def _f(v: Any, fmt: str = ".1f") -> str:
    return "-" if v is None else format(v, fmt)


def _by(rows: list, name: str) -> dict | None:
    return next((r for r in rows if r["contender"] == name), None)


def summary_lines(ok: list[dict], slack: float = 0.02) -> list[str]:
    """The targets' comparisons, for the rows of one hidden size that ran.

    torchdeq's best: its fastest configuration among those within ``slack`` of its best
    test accuracy (one that trains well); retrograd's best: its fastest configuration with
    at least that test accuracy. Also the same algorithm on both sides (fixed-point
    iteration + implicit gradient).
    """
    td = [r for r in ok if r["contender"].startswith("torchdeq")]
    rg = [r for r in ok if r["contender"].startswith("retrograd")]
    out = []
    if td and rg:
        top = max(r["test_acc"] for r in td)
        td_best = min((r for r in td if r["test_acc"] >= top - slack),
                      key=lambda r: r["step_ms_median"])  # fmt: skip
        good = [r for r in rg if r["test_acc"] >= td_best["test_acc"]]
        if good:
            rg_best = min(good, key=lambda r: r["step_ms_median"])
            out.append(
                f"torchdeq's best (its fastest within {slack:g} of its best test accuracy): "
                f"{td_best['contender']}, {td_best['step_ms_median']:.1f} ms/step, test acc "
                f"{td_best['test_acc']:.3f}; retrograd's fastest at equal or better accuracy: "
                f"{rg_best['contender']}, {rg_best['step_ms_median']:.1f} ms/step, test acc "
                f"{rg_best['test_acc']:.3f}: "
                f"**{td_best['step_ms_median'] / rg_best['step_ms_median']:.2f}x** faster per step."
            )
        else:
            out.append(f"No retrograd configuration reached {td_best['contender']}'s accuracy.")
    a, b = _by(rg, "retrograd iter"), _by(td, "torchdeq fixed-point")
    if a and b:
        out.append(
            f"Same algorithm (fixed-point iteration, implicit gradient): retrograd "
            f"{b['step_ms_median'] / a['step_ms_median']:.2f}x faster per step."
        )
    return [" ".join(out)] if out else []


def markdown(rows: list[dict]) -> str:
    extra = next((r["extra"] for r in rows if "extra" in r), {})
    load = extra.get("load") or []
    threads = extra.get("threads") or next((r["threads"] for r in rows if "threads" in r), "?")
    out = [
        f"Digits DEQ classifier `z* = tanh(W z* + U x + b)` (free `W`), batch {BATCH}, Adam "
        f"lr {LR:g}, float32, same initial weights and batches for all, per-sample relative "
        f"stop at {TOL:g}, at most {MAX_ITER} cell evaluations forward and backward, "
        f"{threads} thread(s), contenders alternating epoch by epoch; ms/step is the median "
        "step after the first epoch; evaluations are per step (slowest sample), mean over the "
        "last epoch. Load average (1/5/15 min) during the run: "
        + " -> ".join(str(x) for x in load if x)
        + ".",
        "",
    ]
    train_rows = [r for r in rows if r.get("hidden")]
    for h in sorted({r["hidden"] for r in train_rows}):
        rs = [r for r in train_rows if r["hidden"] == h]
        ok = [r for r in rs if r["status"] == "ok"]
        rg_best = min(
            (r for r in ok if r["contender"].startswith("retrograd")),
            key=lambda r: r["step_ms_median"],
            default=None,
        )
        epochs = rs[0].get("epochs")
        out += [
            f"Hidden {h}, {epochs} epochs:",
            "",
            "| contender | ms / step | vs fastest retrograd | fwd evals (epoch 1 -> last) "
            "| bwd evals (last) | capped steps | test acc | train acc |",
            "|---|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for r in rs:
            if r["status"] != "ok":
                out.append(f"| {r['contender']} | {r['status']}: {r['note']} |||||||")
                continue
            failed = f" ({r['failed_steps']} failed)" if r.get("failed_steps") else ""
            ratio = r["step_ms_median"] / rg_best["step_ms_median"] if rg_best else None
            out.append(
                f"| {r['contender']} | {r['step_ms_median']:.1f} | {_f(ratio, '.2f')}x | "
                f"{r['fwd_first_epoch']:.1f} -> {r['fwd_last_epoch']:.1f} | "
                f"{r['bwd_last_epoch']:.1f} | {r['capped_steps']}/{r['steps']}"
                f"{failed} | "
                f"{r['test_acc']:.3f} | {r['train_acc']:.3f} |"
            )
        out += [""] + summary_lines(ok)
        out.append("")
    its = extra.get("iters") or []
    if its:
        out += [
            "Cell evaluations to relative tol 1e-6 on the weights `retrograd iter` reached at "
            "the end of training (forward: 360 test digits, slowest / mean sample; backward: "
            "one batch of 64, slowest sample):",
            "",
            "| hidden | solver | forward max / mean | vs iter | backward | vs iter |",
            "|---|---|---:|---:|---:|---:|",
        ]
        base = {r["hidden"]: r for r in its if r["solver"] == "iter"}
        for r in its:
            b = base.get(r["hidden"])
            fr = b["fwd_max"] / r["fwd_max"] if b else None
            br = b["bwd"] / r["bwd"] if b and r["bwd"] else None
            nc = "" if r["fwd_converged"] and r["bwd_converged"] else " (not converged)"
            out.append(
                f"| {r['hidden']} | {r['solver']}{nc} | {r['fwd_max']} / {r['fwd_mean']:.1f} | "
                f"{_f(fr, '.2f')}x | {r['bwd']} | {_f(br, '.2f')}x |"
            )
        out.append("")
    cos = extra.get("cosines") or []
    if cos:
        epochs = sorted({c["epoch"] for c in cos})
        out += [
            "Cosine between the approximate gradient of `U, b, W` and the exact one (rbp, "
            "tol 1e-6; (cg): by CG where the adjoint relaxation diverges), on a fixed batch, "
            "on each contender's own weights during its training:",
            "",
            "| hidden | contender | " + " | ".join(f"epoch {e}" for e in epochs) + " |",
            "|---|---|" + "---:|" * len(epochs),
        ]
        keys = sorted({(c["hidden"], c["contender"]) for c in cos})
        for h, n in keys:
            got = {
                c["epoch"]: _f(c["cosine"], ".3f") + (" (cg)" if c.get("exact") == "cg" else "")
                for c in cos
                if (c["hidden"], c["contender"]) == (h, n)
            }
            out.append(f"| {h} | {n} | " + " | ".join(got.get(e, "-") for e in epochs) + " |")
        out.append("")
    jr = extra.get("jacreg") or []
    if jr:
        out += [
            "Jacobian regularization (`retrograd iter`, the loss plus a weight times the "
            "per-sample Hutchinson estimate of `||J||_F^2`, one vector), forward / backward "
            "cell evaluations per step (mean over the epoch; slowest sample), test accuracy:",
            "",
        ]
        for h in sorted({r["hidden"] for r in jr}):
            rs = [r for r in jr if r["hidden"] == h]
            names = list(dict.fromkeys(r["training"] for r in rs))
            out += [
                f"| hidden {h}: epoch | "
                + " | ".join(f"{n}: fwd / bwd, acc" for n in names)
                + " |",
                "|---:|" + "---|" * len(names),
            ]
            for e in sorted({r["epoch"] for r in rs}):
                cells = []
                for n in names:
                    r = next(x for x in rs if x["training"] == n and x["epoch"] == e)
                    cap = f" ({r['capped']} capped)" if r["capped"] else ""
                    cells.append(
                        f"{r['fwd_mean']:.1f} / {r['bwd_mean']:.1f}{cap}, {r['test_acc']:.3f}"
                    )
                out.append(f"| {e} | " + " | ".join(cells) + " |")
            out.append("")
    return "\n".join(out).rstrip() + "\n"


def main(argv: list[str] | None = None) -> int:
    global VERBOSE, LR, THREADS, JR_WEIGHTS
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="smoke run (seconds)")
    ap.add_argument("--hidden", type=int, nargs="+", default=list(HIDDEN))
    ap.add_argument("--epochs", type=int, default=None)
    ap.add_argument("--part", nargs="+", default=["train", "jacreg"], choices=["train", "jacreg"])
    ap.add_argument("--json", metavar="PATH", help="write the raw rows here")
    ap.add_argument("--contenders", nargs="+", help="only these (names as in the table)")
    ap.add_argument("--lr", type=float, default=LR)
    ap.add_argument("--verbose", action="store_true", help="progress on stderr")
    ap.add_argument("--threads", type=int, default=THREADS, help="BLAS and torch threads")
    ap.add_argument("--jr-weights", type=float, nargs="+", default=list(JR_WEIGHTS))
    ap.add_argument("--render", metavar="JSON", help="re-render a saved --json, no runs")
    a = ap.parse_args(argv)
    if a.render:
        with open(a.render, encoding="utf-8") as fh:
            print(markdown(json.load(fh)))
        return 0
    VERBOSE, LR, THREADS, JR_WEIGHTS = a.verbose, a.lr, a.threads, tuple(a.jr_weights)
    t0 = time.perf_counter()
    rows = run(a.quick, tuple(a.hidden), a.epochs, tuple(a.part), a.contenders)
    if a.json:
        with open(a.json + ".tmp", "w", encoding="utf-8") as fh:
            json.dump(rows, fh, indent=1, default=float)
        os.replace(a.json + ".tmp", a.json)
    print(markdown(rows))
    print(f"({time.perf_counter() - t0:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
