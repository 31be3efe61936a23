"""Recurrent backpropagation (Almeida 1987, Pineda 1987): fixed-point layers.

A :class:`FixedPoint` layer relaxes a state to ``h* = F(h*, x; theta)`` and
backpropagates through the fixed point *implicitly*, without storing the relaxation:

forward (no graph recorded)::

    h_{k+1} = (1 - tau) h_k + tau F(h_k, x)            until ||h_{k+1} - h_k|| <= tol

each sample (row of the batch axis) stopping, and freezing, on its own criterion, so
that its fixed point does not depend on the other samples of its batch;

backward, with ``J = dF/dh (h*)`` and ``g = dL/dh*`` (Almeida-Pineda)::

    (I - J^T) z = g      solved by   z <- (1 - tau) z + tau (J^T z + g)
    dL/dtheta = (dF/dtheta (h*))^T z,     dL/dx = (dF/dx (h*))^T z

Each ``J^T v`` is one vector-Jacobian product through ONE graph of ``F(h*, x)`` built at
the start of backward, so memory does not grow with the number of forward or backward
iterations. See docs/recurrent-backprop.md for the variants and when each is stable.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NamedTuple

from .. import ops
from .._backend import xp
from .._checks import check_choice, check_int, check_real, resolve_dtype
from .._warnings import warn_user
from ..autograd.engine import run_backward
from ..autograd.function import Function
from ..autograd.mode import enable_grad, no_grad
from ..autograd.tensor import Tensor, get_default_dtype
from ..errors import ConvergenceError
from . import functional as F
from . import init
from .layers import Linear
from .module import Module, Parameter

# ------------------------------------------------------------------ solver options
BACKWARDS = ("rbp", "neumann", "cg", "unrolled", "jfb", "phantom")
SOLVERS = ("iter", "anderson", "broyden")
TOL_MODES = ("relative", "absolute")
ON_NONCONVERGENCE = ("raise", "warn")
STOPS = ("sample", "batch")


def _nonneg(v: Any, name: str, who: str) -> float:
    return check_real(v, name, who, 0.0, expected="a finite number >= 0")


def _damping(v: Any, name: str, who: str) -> float:
    return check_real(v, name, who, 0.0, 1.0, lo_open=True, expected="in (0, 1]")


def _one_of(choices: tuple) -> Callable[[Any, str, str], Any]:
    return lambda v, name, who: check_choice(v, name, who, choices)


@dataclass(frozen=True)
class SolverOption:
    """One option of the fixed-point solver.

    ``check(value, name, who)`` validates and normalises a value; an option whose
    ``default`` is None and that ``follows`` another takes that option's value
    (``backward_tol`` is ``tol`` unless given). ``file_limit`` is the largest value a
    model file may ask for (``retrograd.io`` refuses more, before building the layer):
    every count that time or memory grows with needs one (a test checks).
    """

    default: Any
    check: Callable[[Any, str, str], Any]
    follows: str | None = None
    file_limit: int | None = None


# The bounds a model file may ask for (docs/model-files.md): with tol=0 every call runs
# max_iter steps, and Anderson keeps anderson_m past iterates of every row.
FILE_MAX_ITER = 100_000
FILE_MAX_ANDERSON_M = 100
FILE_MAX_BROYDEN_M = 1000  # 2 vectors per pair and row; 2n pairs solve a linear map of n


#: The fixed-point solver's options, declared once. :class:`FixedPoint` validates its
#: arguments with them, :class:`RecurrentNet` takes them as keyword arguments and records
#: them in its config, and ``retrograd.sklearn.FixedPointClassifier`` checks its
#: parameters against the same choices (its ``_SOLVER_PARAMS`` says which it exposes).
#: A new option goes here, into FixedPoint's signature and into the solver that reads it.
SOLVER_OPTIONS: dict[str, SolverOption] = {
    "tol": SolverOption(1e-6, _nonneg),
    "max_iter": SolverOption(500, check_int, file_limit=FILE_MAX_ITER),
    "damping": SolverOption(1.0, _damping),
    "tol_mode": SolverOption("relative", _one_of(TOL_MODES)),
    "backward": SolverOption("rbp", _one_of(BACKWARDS)),
    "backward_tol": SolverOption(None, _nonneg, follows="tol"),
    "backward_max_iter": SolverOption(
        None, check_int, follows="max_iter", file_limit=FILE_MAX_ITER
    ),
    "on_nonconvergence": SolverOption("raise", _one_of(ON_NONCONVERGENCE)),
    "backward_damping": SolverOption(None, _damping, follows="damping"),
    "estimate_spectral_radius": SolverOption(False, lambda v, name, who: bool(v)),
    "stop": SolverOption("sample", _one_of(STOPS)),
    "solver": SolverOption("iter", _one_of(SOLVERS)),
    "backward_solver": SolverOption(None, _one_of(SOLVERS), follows="solver"),
    "anderson_m": SolverOption(5, check_int, file_limit=FILE_MAX_ANDERSON_M),
    "anderson_beta": SolverOption(1.0, _damping),
    "anderson_lam": SolverOption(1e-8, _nonneg),
    "broyden_m": SolverOption(20, check_int, file_limit=FILE_MAX_BROYDEN_M),
}


def solver_options(who: str, values: dict) -> dict:
    """Every solver option, validated: ``values`` where given (None: the default).

    Example::

        >>> from retrograd.nn.fixedpoint import solver_options
        >>> o = solver_options("FixedPoint", {"tol": 1e-4})
        >>> o["tol"], o["backward_tol"], o["max_iter"]
        (0.0001, 0.0001, 500)
    """
    unknown = sorted(set(values) - set(SOLVER_OPTIONS))
    if unknown:
        raise TypeError(
            f"{who}: unexpected solver option(s) {unknown}; expected some of {list(SOLVER_OPTIONS)}"
        )
    out = {}
    for name, opt in SOLVER_OPTIONS.items():
        v = values.get(name)
        v = opt.default if v is None else v
        out[name] = None if v is None else opt.check(v, name, who)
    for name, opt in SOLVER_OPTIONS.items():
        if out[name] is None and opt.follows is not None:
            out[name] = out[opt.follows]
    return out


__all__ = [
    "FixedPoint", "FixedPointSolve", "RecurrentNet", "NormBoundedTanhCell", "EquilibriumClassifier",
    "SOLVER_OPTIONS", "SolverOption", "solver_options",
]  # fmt: skip

# Row-wise dot products (NumPy >= 2 has a fast one); both forms report FP errors.
_vecdot = getattr(xp, "vecdot", None) or (lambda a, b: (a * b).sum(axis=-1))


def _row_norms(a: Any, rows: int) -> Any:
    """Euclidean norms of the ``rows`` slices of ``a`` along axis 0, as a float64 array.

    Sums of squares accumulate in float64: a float32 sum over a long row loses digits.
    When a float64 square over- or underflows, each row is rescaled by its largest entry,
    so that a huge (diverging) or tiny state still has a finite norm: an overflowed norm
    would make the relative test inf <= inf pass. (Float32 squares can do neither in
    float64.) A row holding inf or NaN has an inf or NaN norm.
    """
    a = a.reshape(rows, -1 if a.size else 0)
    if a.dtype.itemsize <= 4:
        a = a.astype(xp.float64)
        return xp.sqrt(_vecdot(a, a))
    try:
        with xp.errstate(over="raise", under="raise"):
            return xp.sqrt(_vecdot(a, a))
    except FloatingPointError:
        m = xp.max(xp.abs(a), axis=1)
        ok = (m > 0) & (m < math.inf)
        b = a / xp.where(ok, m, 1.0)[:, None]
        with xp.errstate(over="ignore", under="ignore"):
            return xp.where(ok, m * xp.sqrt(_vecdot(b, b)), m)


def _norm(a: Any) -> float:
    """The Euclidean norm of the whole array (see :func:`_row_norms`)."""
    return float(_row_norms(a, 1)[0])


def _of_samples(n: int, rows: int, preposition: str) -> str:
    """``" for 3 of 64 samples"`` when rows stop separately, else ``""``."""
    return f" {preposition} {n} of {rows} samples" if rows > 1 else ""


class _Relaxation(NamedTuple):
    """The outcome of :func:`_relax_rows`: the final state and per-row statistics."""

    state: Any  # ndarray, or Tensor for the recorded (unrolled) iteration
    steps: int  # iterations run: the largest of ``iterations``
    iterations: Any  # per row: the iterations until it stopped
    residuals: Any  # per row: its last residual
    converged: Any  # per row: whether it reached the tolerance

    @property
    def failed(self) -> int:
        return int(self.converged.size - xp.count_nonzero(self.converged))

    @property
    def residual(self) -> float:
        return float(self.residuals.max(initial=0.0))

    def which(self) -> str:
        return _of_samples(self.failed, self.converged.size, "for")

    def summary(self, prefix: str) -> dict:
        """``last_stats`` entries: the worst row's figures, then the per-row arrays."""
        return {
            f"{prefix}_iterations": self.steps,
            f"{prefix}_residual": self.residual,
            f"{prefix}_converged": self.failed == 0,
            f"{prefix}_iterations_per_sample": self.iterations,
            f"{prefix}_converged_per_sample": self.converged,
        }


def _damped(fn: Callable, tau: float) -> Callable:
    """The step ``h -> (1 - tau) h + tau fn(h)`` (for arrays and tensors alike)."""
    if tau == 1.0:
        return fn
    return lambda h: (1 - tau) * h + tau * fn(h)


def _relax_rows(
    step: Callable,
    h: Any,
    rows: int,
    tol: float,
    relative: bool,
    max_iter: int,
    nonfinite: Callable[[int, str], str],
    fixed_steps: bool = False,
    accelerate: Callable[[Any, Any, Any], Any] | None = None,
    record: Callable[[Any], None] | None = None,
) -> _Relaxation:
    """Iterate ``h <- step(h)``, stopping each of the ``rows`` slices of ``h`` on its own.

    ``step`` maps the whole state (all rows at once). Row i stops, and is frozen from then
    on, once ``||step(h)_i - h_i|| <= tol`` (times ``||step(h)_i||`` when ``relative``);
    the loop ends when every row has stopped or after ``max_iter`` steps. ``rows=1`` is
    the whole-array rule. ``fixed_steps`` runs exactly ``max_iter`` steps, and a row's
    residual is then its last change over its first (a truncated series: converged while
    its terms do not grow). ``h`` may be a Tensor (the recorded iteration): rows are then
    frozen with the differentiable ``where``. A moving row that becomes non-finite raises
    a ConvergenceError with the message ``nonfinite(iteration, " in 2 of 64 samples")``.

    ``accelerate(h, new, active)`` (arrays only) returns the next iterate of the rows still
    moving from the current one and its image ``new = step(h)`` (Anderson mixing); the
    stopping test is unchanged (on ``step(h) - h``), and a stopping row takes ``step(h)``.
    ``record(h)`` (if given) receives the state after each iteration (the trajectory).
    """
    traced = isinstance(h, Tensor)
    row_shape = (rows,) + (1,) * (h.ndim - 1)
    ones = xp.ones(rows)
    active = xp.ones(rows, dtype=bool)
    n_active = rows
    # Per row, recorded when it stops; rows that never stop run all max_iter iterations.
    iterations = xp.full(rows, max_iter)
    stop_diff, stop_scale = xp.zeros(rows), xp.ones(rows)
    first = None
    k = 0
    for k in range(1, max_iter + 1):
        new = step(h)
        cur, old = (new.data, h.data) if traced else (new, h)
        diff = _row_norms(cur - old, rows)
        scale = _row_norms(cur, rows) if relative else ones
        # A cheap test of all rows first (NaN propagates through max), then row by row.
        if not (math.isfinite(diff.max(initial=0.0)) and math.isfinite(scale.max(initial=0.0))):
            # A finite norm means a finite row (NaN and inf propagate into the norm), and
            # a row whose norm overflows float64 is diverging, not converging.
            bad = xp.count_nonzero(active & ~(xp.isfinite(diff) & xp.isfinite(scale)))
            if bad:
                raise ConvergenceError(nonfinite(k, _of_samples(bad, rows, "in")))
        prev = h
        if n_active == rows:
            h = new
        else:  # the rows that have stopped stay frozen
            h = (ops.where if traced else xp.where)(active.reshape(row_shape), new, h)
        if fixed_steps:
            first = diff if first is None else first
            continue
        stopping = active > (diff > tol * scale)  # active and within tolerance
        n_stop = xp.count_nonzero(stopping)
        if n_stop:
            iterations[stopping] = k
            stop_diff[stopping] = diff[stopping]
            stop_scale[stopping] = scale[stopping]
            # A new array, not in place: the unrolled graph keeps the old mask for backward.
            active = active ^ stopping
            n_active -= int(n_stop)
        if n_active and accelerate is not None:
            h = xp.where(active.reshape(row_shape), accelerate(prev, new, active), h)
        if record is not None:
            record(h)
        if not n_active:
            break
    # Rows still active when the loop ended report their last step.
    last_diff = xp.where(active, diff, stop_diff)
    last_scale = xp.where(active, scale, stop_scale)
    with xp.errstate(divide="ignore", invalid="ignore"):
        if fixed_steps:
            residuals = xp.where(first > 0, last_diff / first, 0.0)
            converged = residuals <= 1.0
        else:
            residuals = xp.where(last_scale > 0, last_diff / last_scale, last_diff)
            converged = ~active
    return _Relaxation(h, k, iterations, residuals, converged)


class _Restarts:
    """Per row: the smallest residual norm so far, and which rows must restart (those
    whose residual exceeds ``factor`` times it)."""

    def __init__(self, rows: int, factor: float) -> None:
        self.best = xp.full(rows, math.inf)
        self.factor = factor

    def __call__(self, f: Any) -> Any:
        r = xp.sqrt(_vecdot(f, f))
        with xp.errstate(invalid="ignore"):
            reset = r > self.factor * self.best
        self.best = xp.fmin(self.best, r)
        return reset


#: A Broyden row whose residual exceeds this many times its smallest so far forgets its
#: pairs (see _Broyden). Chosen on digits equilibrium models with a free W (hidden 64,
#: tol 1e-6): without it a few samples wandered for hundreds of steps where the plain
#: iteration converged; 2-5 restarted too often on others.
_BROYDEN_RESTART = 10.0
#: The same for Anderson (see _Anderson): chosen on the same models, where without it
#: Anderson never converged for a few samples; 1.5 and 5 or more failed on some.
_ANDERSON_RESTART = 2.0


class _Anderson:
    """Anderson acceleration (type II, Walker & Ni 2011) with one set of mixing
    coefficients per row, so that each sample's iterates are those it would have alone.

    For each row, with the last ``m`` iterates ``x_i`` and their images ``g_i = G(x_i)``
    and residuals ``f_i = g_i - x_i``, the coefficients ``alpha`` minimise
    ``||sum_i alpha_i f_i||`` subject to ``sum_i alpha_i = 1``: ``alpha`` is proportional to
    ``(H + lam s I)^-1 1`` with ``H`` the Gram matrix of the ``f_i`` and ``s`` its mean
    diagonal (the regularisation follows the residuals' scale as they shrink). The next
    iterate is ``sum_i alpha_i (beta g_i + (1 - beta) x_i)``. Computed in float64.

    A row whose residual ``||f||`` exceeds ``_ANDERSON_RESTART`` (2) times its smallest
    so far forgets its history (only the newest pair counts: the plain, beta-mixed step),
    since type-II Anderson without a safeguard can wander on a nonlinear map.
    """

    def __init__(
        self, rows: int, m: int, beta: float, lam: float, restart: float = math.inf
    ) -> None:
        self.rows, self.m, self.beta, self.lam = rows, m, beta, lam
        self.start = xp.zeros(rows, dtype=int)  # per row: its first pair that counts
        self.restarts = _Restarts(rows, restart)
        self.k = 0  # pairs seen; pair k sits in slot k % m of the ring buffers
        self.X = self.G = self.R = self.H = None
        self.eye = [xp.eye(n) for n in range(m + 1)]
        self.ones = xp.ones((rows, m, 1))

    def __call__(self, h: Any, new: Any, active: Any) -> Any:
        # Ring buffers and the Gram matrix are updated in place: each call adds one
        # residual's inner products (stacking the history and rebuilding H every step
        # cost several times a cell evaluation).
        rows, m, beta = self.rows, self.m, self.beta
        x, g = h.reshape(rows, -1), new.reshape(rows, -1)
        if self.X is None:
            shape = (rows, m, x.shape[1])
            self.X, self.G, self.R = (xp.empty(shape) for _ in range(3))
            self.H = xp.zeros((rows, m, m))
        i = self.k % m
        self.k += 1
        n = min(self.k, m)
        X, G, R = self.X, self.G, self.R
        X[:, i], G[:, i] = x, g
        xp.subtract(G[:, i], X[:, i], out=R[:, i])
        with xp.errstate(all="ignore"):
            col = xp.matmul(R[:, :n], R[:, i, :, None])[..., 0]
        self.H[:, i, :n] = col
        self.H[:, :n, i] = col
        reset = self.restarts(R[:, i])
        self.start[reset] = self.k - 1
        # Slot j holds pair k-1 - ((i - j) mod m); a row counts the pairs since its start.
        pair_index = self.k - 1 - (i - xp.arange(n)) % m
        keep = pair_index[None, :] >= self.start[:, None]  # (rows, n)
        if n == 1 or not keep.sum(axis=1).max() > 1:
            mixed = beta * G[:, i] + (1 - beta) * X[:, i]
            return mixed.reshape(h.shape).astype(h.dtype, copy=False)
        with xp.errstate(all="ignore"):
            H = self.H[:, :n, :n]  # per-row Gram matrices (rows, n, n)
            partial = not keep.all()
            if partial:
                # Pairs before a row's restart: their rows and columns of its Gram matrix
                # become the identity's and their right-hand side 0, so alpha_j = 0.
                H = xp.where(keep[:, :, None] & keep[:, None, :], H, 0.0)
            s = H.diagonal(axis1=1, axis2=2).sum(axis=1) / keep.sum(axis=1)
            reg = self.lam * xp.where(s > 0, s, 1.0)
            if partial:
                H = H + xp.where(keep, reg[:, None], 1.0)[:, :, None] * self.eye[n]
                rhs = keep.astype(xp.float64)[..., None]
            else:
                H = H + reg[:, None, None] * self.eye[n]
                rhs = self.ones[:, :n]
            try:
                w = xp.linalg.solve(H, rhs)[..., 0]
            except xp.linalg.LinAlgError:
                w = xp.zeros((rows, n))
                w[:, i] = 1.0
            alpha = w / w.sum(axis=1, keepdims=True)
            # A singular or non-finite row falls back to the plain (beta-mixed) step.
            bad = ~xp.isfinite(alpha).all(axis=1)
            if bad.any():
                alpha[bad] = 0.0
                alpha[bad, i] = 1.0
            mixed = xp.matmul(alpha[:, None, :], G[:, :n])[:, 0]
            if beta != 1.0:
                mixed = beta * mixed + (1 - beta) * xp.matmul(alpha[:, None, :], X[:, :n])[:, 0]
        return mixed.reshape(h.shape).astype(h.dtype, copy=False)


class _Broyden:
    """Limited-memory ("good") Broyden's method on ``g(x) = G(x) - x = 0``, one low-rank
    inverse-Jacobian estimate per row, so that each sample's iterates are those it would
    have alone (as in the DEQ and torchdeq solvers, without a line search).

    The estimate of ``(dg/dx)^-1`` is ``B = -I + sum_i u_i v_i^T`` (``B = -I`` makes the
    first step the plain iteration ``x + g(x) = G(x)``); the step is ``x <- x - B g(x)``.
    After each step, with ``dx`` and ``dg`` the changes of ``x`` and ``g``, Broyden's
    inverse update ``B <- B + (dx - B dg) (dx^T B) / (dx^T B dg)`` adds one pair
    ``(u, v)``; once ``m`` pairs are stored the estimate restarts from ``-I`` (DEQ and
    torchdeq overwrite the oldest pair instead, which leaves the newer pairs, computed
    against it, inconsistent: on slow tanh cells that diverged where restarting does not).
    A row whose denominator vanishes skips the update; a row whose step is not finite, or
    whose residual ``||g(x)||`` exceeds ``_BROYDEN_RESTART`` (10) times its smallest so
    far (Broyden without a line search can wander off on a nonlinear map), takes the
    plain step and forgets its pairs. Computed in float64.
    """

    def __init__(self, rows: int, m: int, restart: float = math.inf) -> None:
        self.rows, self.m = rows, m
        self.us: Any = None  # (rows, m, d)
        self.vs: Any = None
        self.count = 0  # pairs written so far (the ring index is count % m)
        self.prev: tuple | None = None  # (x, g) of the previous call
        self.restarts = _Restarts(rows, restart)

    def _matvec(self, a: Any) -> Any:
        """``B a`` per row."""
        out = -a
        if self.count:
            out = out + xp.einsum("rmd,rm->rd", self.us, xp.einsum("rmd,rd->rm", self.vs, a))
        return out

    def _rmatvec(self, a: Any) -> Any:
        """``a^T B`` per row."""
        out = -a
        if self.count:
            out = out + xp.einsum("rmd,rm->rd", self.vs, xp.einsum("rmd,rd->rm", self.us, a))
        return out

    def __call__(self, h: Any, new: Any, active: Any) -> Any:
        rows = self.rows
        x = h.reshape(rows, -1).astype(xp.float64)
        g = new.reshape(rows, -1).astype(xp.float64) - x
        with xp.errstate(all="ignore"):
            if self.prev is not None:
                dx, dg = x - self.prev[0], g - self.prev[1]
                if self.count == self.m:  # memory full: start again from B = -I
                    self.us[:] = 0.0
                    self.vs[:] = 0.0
                    self.count = 0
                v = self._rmatvec(dx)
                denom = _vecdot(v, dg)
                u = dx - self._matvec(dg)
                ok = xp.isfinite(denom) & (xp.abs(denom) > 1e-30 * _vecdot(v, v) ** 0.5 *
                                           _vecdot(dg, dg) ** 0.5)  # fmt: skip
                ok &= xp.isfinite(u).all(axis=1) & xp.isfinite(v).all(axis=1)
                u = xp.where(ok[:, None], u / xp.where(ok, denom, 1.0)[:, None], 0.0)
                v = xp.where(ok[:, None], v, 0.0)
                if self.us is None:
                    d = x.shape[1]
                    self.us = xp.zeros((rows, self.m, d))
                    self.vs = xp.zeros((rows, self.m, d))
                self.us[:, self.count], self.vs[:, self.count] = u, v
                self.count += 1
            reset = self.restarts(g)
            if reset.any() and self.us is not None:
                self.us[reset] = 0.0
                self.vs[reset] = 0.0
            self.prev = (x, g)
            nxt = x - self._matvec(g)
            bad = ~xp.isfinite(nxt).all(axis=1)
            if bad.any():  # fall back to the plain step and start that row afresh
                nxt[bad] = x[bad] + g[bad]
                if self.us is not None:
                    self.us[bad] = 0.0
                    self.vs[bad] = 0.0
        return nxt.reshape(h.shape).astype(h.dtype, copy=False)


class FixedPointSolve(Function):
    """The fixed-point primitive: forward relaxes, backward solves the adjoint system.

    Parents are ``(x, *extras, *params)``: the cell's input, the extra tensors passed to
    the cell and the cell's own parameters, so the engine routes a gradient to each.
    Use it through :class:`FixedPoint`; ``solver`` is that layer.
    """

    second_order = False
    second_order_reason = (
        "its VJP is an iterative adjoint solve at the fixed point (implicit function "
        "theorem); a second derivative would need the derivative of that solve"
    )
    # never: forward runs the cell's ops itself, as many times as it takes
    replay = "never"

    def forward(self, x, *arrays, solver, n_extra, stats, h0, record=None, state=None):
        self.solver = solver
        self.stats = stats
        self.n_extra = n_extra
        self.x = x
        self.extras = arrays[:n_extra]
        if state is not None:
            # An intermediate state of a relaxation already run (fixed-point correction):
            # the backward treats it as the fixed point (the implicit gradient at it).
            self.h = state
            return state
        x_t = Tensor._wrap(x, False, None)
        extras_t = [Tensor._wrap(a, False, None) for a in self.extras]
        with no_grad():
            self.h = solver._relax(x_t, extras_t, h0, stats, record)
        return self.h

    def backward(self, g):
        return self.solver._adjoint(self, g)


class FixedPoint(Module):
    """Equilibrium layer: returns ``h*`` with ``h* = F(h*, x)``, trained by recurrent backprop.

    ``cell(h, x, *args)`` computes ``F``: a Module (its parameters get gradients) or a
    function of tensors (pass the tensors it needs as ``*args`` of the call so they get
    gradients). Calling ``layer(x, *args)`` relaxes ``h`` from ``h0`` (zeros shaped like
    ``x`` by default, or ``cell.state_shape(x)`` when the cell defines it) with
    ``h <- (1 - damping) h + damping F(h, x)`` under ``no_grad`` until the change is at most
    ``tol`` (times ``||h||`` when ``tol_mode="relative"``), then backward solves
    ``(I - J^T) z = dL/dh*`` by the method named in ``backward``.

    ``stop`` says whose change is measured. ``"sample"`` (default): each sample (a slice
    along axis 0 of a state with ndim >= 2; a 1-D state is one sample) stops on its own
    change and is frozen from then on, in forward, in the "rbp" adjoint relaxation and in
    "unrolled"; the cell still sees the whole batch every step. A sample's fixed point,
    iterations and gradient are then those it would have alone. ``"batch"``: the whole
    state stops on its total change (for states whose axis 0 is not a batch axis).
    "neumann" always runs exactly ``backward_max_iter`` terms, and "cg" (one system for
    the whole batch) stops on the batch residual. The backward methods:

    - ``"rbp"``: Almeida-Pineda damped adjoint relaxation (default);
    - ``"neumann"``: exactly ``backward_max_iter`` terms of the Neumann series of the
      damped map (truncated; equals BPTT over that many steps started at ``h*``);
    - ``"cg"``: conjugate gradient on the normal equations ``(I-J)(I-J^T) z = (I-J) g``
      (converges whenever ``I - J`` is invertible, contracting or not; builds each
      sample's Jacobian block with one VJP per state unit, so it suits small states);
    - ``"unrolled"``: records the forward iterations and backpropagates through them
      (BPTT; memory grows with the iterations; for comparison).

    Two approximate gradients solve no adjoint system (they are cheaper, and biased):

    - ``"jfb"``: Jacobian-free backprop (Fung et al. 2022), the identity in place of
      ``(I - J^T)^-1``: ``dL/dtheta = (dF/dtheta (h*))^T dL/dh*``;
    - ``"phantom"``: phantom gradient (Geng et al. 2021), backprop through
      ``backward_max_iter`` recorded steps ``h <- (1 - tau) h + tau F(h)`` from ``h*``
      with ``tau = backward_damping``; it tends to the exact gradient as the number of
      steps grows (memory grows with it).

    ``solver`` picks the forward method: ``"iter"`` (the damped iteration above) or
    ``"anderson"`` (Anderson acceleration of the damped map, with memory ``anderson_m``,
    mixing ``anderson_beta`` and a regularisation ``anderson_lam`` relative to the mean
    diagonal of each sample's Gram matrix of residuals). Anderson mixes each sample with
    its own coefficients and keeps the same stopping test and statistics, so a sample's
    fixed point still does not depend on its batch. ``"broyden"`` is limited-memory good
    Broyden (no line search) on ``G(h) - h = 0``, one inverse-Jacobian estimate of at most
    ``broyden_m`` rank-one pairs per sample, restarted from ``-I`` when full; same stopping
    test, statistics and batch independence. ``backward_solver`` (default: the same as
    ``solver``) accelerates the "rbp" adjoint relaxation likewise.

    Fixed-point correction (Bai et al. 2022): ``layer(x, n_states=k)`` returns a list of
    ``k`` states evenly spaced along each sample's solve (after ``ceil(j n / k)`` of its
    ``n`` iterations, ``j = 1..k``), the last being ``h*`` itself. Each intermediate state
    is differentiated by ``backward`` evaluated at it, as if it were the fixed point (one
    adjoint solve each; under "unrolled" the recorded iterates, exactly);
    ``rg.nn.utils.fixed_point_correction_loss`` weights their losses. Every iterate is kept
    until the solve ends. ``last_stats["intermediate"]`` holds each state's per-sample
    iteration and, after backward, its backward statistics.

    After each call ``last_stats`` holds iterations, residuals and converged flags (the
    backward ones are filled in when backward runs): the largest iteration count and
    residual over the samples, whether all converged, and per sample
    ``forward_iterations_per_sample`` and ``forward_converged_per_sample`` (likewise
    ``backward_*``; one entry when the rule is whole-batch). Not converging raises
    :class:`retrograd.ConvergenceError` naming how many samples did not converge
    (``on_nonconvergence="warn"`` warns instead); a non-finite state or adjoint always
    raises.

    Example::

        >>> import numpy as np, retrograd as rg
        >>> W = rg.tensor(0.3 * np.eye(3), requires_grad=True)
        >>> fp = rg.nn.FixedPoint(lambda h, x, W: (h @ W + x).tanh())
        >>> h = fp(rg.ones(2, 3), W)
        >>> h.sum().backward()
        >>> W.grad.shape, fp.last_stats["forward_converged"]
        ((3, 3), True)
    """

    def __init__(
        self,
        cell: Callable[..., Tensor],
        tol: float = 1e-6,
        max_iter: int = 500,
        damping: float = 1.0,
        tol_mode: str = "relative",
        backward: str = "rbp",
        backward_tol: float | None = None,
        backward_max_iter: int | None = None,
        on_nonconvergence: str = "raise",
        h0: Any = None,
        backward_damping: float | None = None,
        estimate_spectral_radius: bool = False,
        stop: str = "sample",
        solver: str = "iter",
        backward_solver: str | None = None,
        anderson_m: int = 5,
        anderson_beta: float = 1.0,
        anderson_lam: float = 1e-8,
        broyden_m: int = 20,
    ) -> None:
        super().__init__()
        if not callable(cell):
            raise TypeError(f"FixedPoint: cell must be a Module or callable, got {type(cell)}")
        if isinstance(cell, Module):
            self.cell = cell
        else:
            object.__setattr__(self, "cell", cell)
        args = locals()
        options = solver_options("FixedPoint", {k: args[k] for k in SOLVER_OPTIONS})
        for name, value in options.items():
            setattr(self, name, value)
        if self.backward == "unrolled" and self.solver != "iter":
            raise ValueError(
                f"FixedPoint: backward='unrolled' records the plain iteration; got "
                f"solver={self.solver!r}, expected solver='iter' with backward='unrolled'"
            )
        self.h0 = h0
        self.last_stats: dict = {}

    # ---------------------------------------------------------------- config
    def get_config(self) -> dict:
        """The JSON-able constructor arguments; the cell is stored as the Module itself.

        Model files (``rg.save``) record a Module cell through the layer registry, so a
        custom cell class must be registered (``@rg.io.register_module``). A plain
        function cell cannot be rebuilt from a file: it is recorded as None and the
        owner of the layer (e.g. :class:`RecurrentNet`) recreates it.
        """
        cell = self.cell
        cell_cfg = cell if isinstance(cell, Module) else None
        h0 = self.h0
        if isinstance(h0, Tensor):
            h0 = h0.data
        if isinstance(h0, xp.ndarray):
            h0 = h0.tolist()
        elif h0 is not None:
            raise ValueError(
                f"FixedPoint.get_config: h0 of type {type(h0).__name__} is not JSON-able; "
                "use None or an array"
            )
        return {"cell": cell_cfg, **{k: getattr(self, k) for k in SOLVER_OPTIONS}, "h0": h0}

    def extra_repr(self) -> str:
        return (
            f"tol={self.tol:g}, max_iter={self.max_iter}, damping={self.damping:g}, "
            f"backward={self.backward!r}, stop={self.stop!r}"
        )

    # ---------------------------------------------------------------- forward
    def _params(self) -> list:
        return list(self.cell.parameters()) if isinstance(self.cell, Module) else []

    def forward(self, x: Any, *args: Any, h0: Any = None, n_states: int | None = None) -> Any:
        x = x if isinstance(x, Tensor) else Tensor(x)
        extras = [a if isinstance(a, Tensor) else Tensor(a) for a in args]
        h0 = self._initial_state(x, self.h0 if h0 is None else h0)
        stats = {"backward": self.backward, "damping": self.damping}
        self.last_stats = stats
        k = None if n_states is None else check_int(n_states, "n_states", "FixedPoint")
        trajectory: list | None = None if k is None else []
        record = None if trajectory is None else trajectory.append
        if self.backward == "unrolled":
            h = self._unrolled(x, extras, h0, stats, record)
        else:
            params = self._params()
            h = FixedPointSolve.apply(
                x, *extras, *params, solver=self, n_extra=len(extras), stats=stats, h0=h0,
                record=record,
            )  # fmt: skip
        if trajectory is None:
            return h
        return self._states(h, trajectory, k, x, extras, stats)

    def _states(self, h: Tensor, trajectory: list, k: int, x: Tensor, extras: list,
                stats: dict) -> list:  # fmt: skip
        """``k`` states evenly spaced along each sample's trajectory, the last being h*.

        A sample that stopped after ``n`` iterations contributes its state after
        ``ceil(j n / k)`` iterations to state ``j = 1..k``. Under "unrolled" they are the
        recorded iterates themselves; otherwise each is a FixedPointSolve node at that
        state, so its gradient is the layer's backward evaluated there (the implicit
        gradient as if it were the fixed point, Bai et al. 2022).
        """
        n = stats["forward_iterations_per_sample"]
        rows = n.size
        traced = self.backward == "unrolled"
        row_shape = (rows,) + (1,) * (h.ndim - 1)
        params = self._params()
        out: list = []
        per_state: list = []
        stats["intermediate"] = per_state
        for j in range(1, k):
            t = (j * n + k - 1) // k  # per row, in 1..n
            if rows == 1:
                pick = trajectory[int(t[0]) - 1]
            else:
                pick = trajectory[int(t[0]) - 1]
                for u in xp.unique(t):
                    mask = (t == u).reshape(row_shape)
                    src = trajectory[int(u) - 1]
                    pick = ops.where(mask, src, pick) if traced else xp.where(mask, src, pick)
            own = {"forward_iterations_per_sample": t}
            per_state.append(own)
            if traced:
                out.append(pick)
                continue
            out.append(FixedPointSolve.apply(
                x, *extras, *params, solver=self, n_extra=len(extras), stats=own, h0=None,
                state=xp.array(pick, copy=True),
            ))  # fmt: skip
        out.append(h)
        return out

    def _initial_state(self, x: Tensor, h0: Any) -> Any:
        if h0 is None:
            shape_fn = getattr(self.cell, "state_shape", None)
            shape = tuple(shape_fn(x)) if callable(shape_fn) else x.shape
            dt = x.dtype if x.dtype.kind == "f" else get_default_dtype()
            return xp.zeros(shape, dtype=dt)
        if callable(h0) and not isinstance(h0, Tensor):
            h0 = h0(x)
        arr = h0.data if isinstance(h0, Tensor) else xp.asarray(h0)
        if arr.dtype.kind != "f":
            raise TypeError(f"FixedPoint: h0 must be floating point, got dtype {arr.dtype}")
        return arr.copy()

    def _cell_data(self, h: Any, x: Tensor, extras: list) -> Any:
        out = self.cell(Tensor._wrap(h, False, None), x, *extras)
        if not isinstance(out, Tensor):
            raise TypeError(f"FixedPoint: cell must return a Tensor, got {type(out).__name__}")
        if out.shape != h.shape:
            raise ValueError(
                f"FixedPoint: cell(h, x) returned shape {out.shape} for a state of shape "
                f"{h.shape}; F must map the state to a state of the same shape (pass h0 or "
                "define cell.state_shape(x) when the state is not shaped like x)"
            )
        return out.data

    def _rows(self, shape: tuple) -> int:
        """How many rows of the state stop separately: the batch size, or 1."""
        return shape[0] if self.stop == "sample" and len(shape) >= 2 else 1

    def _relax(self, x: Tensor, extras: list, h: Any, stats: dict, record: Any = None) -> Any:
        """Damped fixed-point iteration without a graph; returns h* (an ndarray)."""
        run = self._relax_forward(
            lambda h: self._cell_data(h, x, extras), h, stats, "forward", record
        )
        if self.estimate_spectral_radius:
            stats.update(self._spectral_stats(run.state, x, extras))
        return run.state

    def _unrolled(
        self, x: Tensor, extras: list, h0: Any, stats: dict, record: Any = None
    ) -> Tensor:
        """BPTT: the same iteration, recorded, so backward walks every step."""
        h = Tensor._wrap(h0, False, None)
        run = self._relax_forward(
            lambda h: self.cell(h, x, *extras), h, stats, "forward (unrolled)", record
        )
        stats.update(run.summary("backward"))  # backward replays exactly these steps
        if self.estimate_spectral_radius:
            with no_grad():
                stats.update(self._spectral_stats(run.state.data, x, extras))
        return run.state

    def _relax_forward(
        self, cell: Callable, h: Any, stats: dict, where: str, record: Any = None
    ) -> _Relaxation:
        """Relax ``h <- (1 - damping) h + damping cell(h)``; record it in ``stats``."""

        def nonfinite(k: int, which: str) -> str:
            return (
                f"FixedPoint {where}: the state became non-finite (inf/NaN) at iteration "
                f"{k}{which}; the relaxation diverges (damping={self.damping:g}). Use "
                "damping < 1 or make the cell contracting (smaller recurrent weights)"
            )

        rows = self._rows(h.shape)
        traced = isinstance(h, Tensor)
        run = _relax_rows(
            _damped(cell, self.damping), h, rows, self.tol,
            self.tol_mode == "relative", self.max_iter, nonfinite,
            accelerate=None if traced else self._accelerator(self.solver, rows, restart=True),
            record=record,
        )  # fmt: skip
        stats.update(run.summary("forward"))
        if run.failed:
            largest = "largest " if run.converged.size > 1 else ""
            self._nonconverged(
                f"FixedPoint {where}: no fixed point{run.which()} after {run.steps} "
                f"iterations (max_iter); {largest}{self.tol_mode} residual {run.residual:.3g} "
                f"> tol {self.tol:g}. Raise max_iter, use damping < 1, or make the cell "
                "contracting"
            )
        return run

    def _accelerator(self, solver: str, rows: int, restart: bool) -> _Anderson | _Broyden | None:
        # Restarts guard the forward (nonlinear) solve; in the linear adjoint solve they
        # only got in the way (a restarted Broyden adjoint diverged on a free-W model
        # where the unrestarted one converged in 20 steps).
        if solver == "anderson":
            factor = _ANDERSON_RESTART if restart else math.inf
            return _Anderson(rows, self.anderson_m, self.anderson_beta, self.anderson_lam, factor)
        if solver == "broyden":
            return _Broyden(rows, self.broyden_m, _BROYDEN_RESTART if restart else math.inf)
        return None

    def _nonconverged(self, msg: str) -> None:
        if self.on_nonconvergence == "raise":
            raise ConvergenceError(msg)
        warn_user(msg, RuntimeWarning)

    # --------------------------------------------------------------- backward
    def _state_graph(self, h: Any, x: Any, extras: list) -> tuple:
        """One graph of F(h, x) in which only h requires grad: its VJP is v -> J^T v."""
        params = self._params()
        saved = [p.requires_grad for p in params]
        h_leaf = Tensor._wrap(h, True, None)
        x_c = x if isinstance(x, Tensor) else Tensor._wrap(x, False, None)
        ex_c = [e if isinstance(e, Tensor) else Tensor._wrap(e, False, None) for e in extras]
        try:
            # Parameters are switched off while this graph is recorded so that each of the
            # many VJPs below walks only the path to h, not the parameter branches.
            for p in params:
                p.requires_grad = False
            with enable_grad():
                f = self.cell(h_leaf, x_c, *ex_c)
        finally:
            for p, r in zip(params, saved):
                p.requires_grad = r
        if not isinstance(f, Tensor) or f.shape != h.shape:
            raise ValueError(
                f"FixedPoint: cell must return a Tensor of the state's shape {h.shape}"
            )
        if not f.requires_grad:  # F does not depend on h: J = 0
            return lambda v: xp.zeros_like(h)
        hinputs = (h_leaf,)

        def jt(v):
            out = run_backward(f, v.astype(f.data.dtype, copy=False), hinputs)[0]
            return xp.zeros_like(h) if out is None else out

        return jt

    def _adjoint(self, node: FixedPointSolve, g: Any) -> tuple:
        stats = node.stats
        h, n_extra = node.h, node.n_extra
        g = g.astype(h.dtype, copy=False)
        method = self.backward
        if method in ("jfb", "phantom"):
            return self._approximate(node, g)
        jt = self._state_graph(h, node.x, list(node.extras))
        run = self._solve_cg(jt, g) if method == "cg" else self._solve_relax(jt, g)
        z = run.state
        if not math.isfinite(_norm(z)):
            raise ConvergenceError(
                f"FixedPoint backward ({method}): the adjoint is non-finite (inf/NaN) after "
                f"{run.steps} iterations; I - J^T is singular or ill-conditioned at h*"
            )
        true_res = _norm(z - jt(z) - g) / max(_norm(g), 1e-300)
        stats.update(run.summary("backward"), backward_true_residual=true_res)
        if run.failed and method == "neumann":
            self._nonconverged(
                f"FixedPoint backward (neumann): the Neumann series is growing{run.which()}, "
                f"its term {run.steps} is {run.residual:.3g} times its first: J^T is not "
                f"contracting at h* for backward_damping={self.backward_damping:g}; the "
                "truncated sum would be garbage. Use a smaller damping or backward='cg'"
            )
        elif run.failed:
            largest = "largest " if run.converged.size > 1 else ""
            self._nonconverged(
                f"FixedPoint backward ({method}): the adjoint solve (I - J^T) z = g did not "
                f"converge{run.which()} in {run.steps} iterations; {largest}residual "
                f"{run.residual:.3g} > backward_tol {self.backward_tol:g}. At h* the damped "
                f"J^T (backward_damping={self.backward_damping:g}) is not contracting, or "
                "contracts too slowly: use the damping that made the forward converge, raise "
                "backward_max_iter, or use backward='neumann' (truncated) or 'cg'"
            )
        return self._param_vjp(node, z, n_extra)

    def _approximate(self, node: FixedPointSolve, g: Any) -> tuple:
        """The approximate gradients: "jfb" and "phantom" (no adjoint system is solved).

        "jfb" (Jacobian-free backprop, Fung et al. 2022) puts the identity in place of
        ``(I - J^T)^-1``: ``dL/dtheta = (dF/dtheta (h*))^T g``. "phantom" (Geng et al.
        2021) records ``k = backward_max_iter`` damped steps
        ``h <- (1 - tau) h + tau F(h)`` from ``h*`` (held constant, ``tau =
        backward_damping``) and backpropagates ``g`` through them; as ``k`` grows it
        tends to the exact gradient when the damped ``J`` contracts. Memory grows with
        ``k``.
        """
        stats = node.stats
        if self.backward == "jfb":
            stats.update(_Relaxation(g, 0, xp.zeros(1, int), xp.zeros(1), xp.ones(1, bool))
                         .summary("backward"))  # fmt: skip
            return self._param_vjp(node, g, node.n_extra)
        needs = node.needs
        n_extra = node.n_extra
        x_leaf = Tensor._wrap(node.x, needs[0], None)
        ex_leaves = [Tensor._wrap(a, needs[1 + i], None) for i, a in enumerate(node.extras)]
        params = list(node.parents[1 + n_extra :])
        step = _damped(lambda h: self.cell(h, x_leaf, *ex_leaves), self.backward_damping)
        k = self.backward_max_iter
        with enable_grad():
            h = Tensor._wrap(node.h, False, None)
            for _ in range(k):
                h = step(h)
        wanted = (x_leaf, *ex_leaves, *params)
        _check_no_captured(h, wanted)
        res = _norm(h.data - node.h) / max(_norm(node.h), 1e-300)
        stats.update(_Relaxation(None, k, xp.full(1, k), xp.full(1, res), xp.ones(1, bool))
                     .summary("backward"))  # fmt: skip
        if not h.requires_grad:
            return tuple(None for _ in wanted)
        grads = run_backward(h, g.astype(h.data.dtype, copy=False), wanted)
        return tuple(
            None if not need else (xp.zeros_like(t.data) if gr is None else gr)
            for t, gr, need in zip(wanted, grads, needs)
        )

    def _param_vjp(self, node: FixedPointSolve, z: Any, n_extra: int) -> tuple:
        """``(dF/d(x, extras, params))^T z`` through one graph built at h*."""
        needs = node.needs
        x_leaf = Tensor._wrap(node.x, needs[0], None)
        ex_leaves = [Tensor._wrap(a, needs[1 + i], None) for i, a in enumerate(node.extras)]
        params = list(node.parents[1 + n_extra :])
        with enable_grad():
            f = self.cell(Tensor._wrap(node.h, False, None), x_leaf, *ex_leaves)
        wanted = (x_leaf, *ex_leaves, *params)
        _check_no_captured(f, wanted)
        if not f.requires_grad:
            return tuple(None for _ in wanted)
        grads = run_backward(f, z.astype(f.data.dtype, copy=False), wanted)
        out = []
        for t, gr, need in zip(wanted, grads, needs):
            out.append(None if not need else (xp.zeros_like(t.data) if gr is None else gr))
        return tuple(out)

    def _solve_relax(self, jt: Callable, g: Any) -> _Relaxation:
        """z <- (1 - tau) z + tau (J^T z + g), stopped like the forward relaxation ("rbp",
        from z = g), or exactly backward_max_iter Neumann terms ("neumann", from z = 0)."""
        tau = self.backward_damping
        neumann = self.backward == "neumann"

        def nonfinite(k: int, which: str) -> str:
            return (
                f"FixedPoint backward ({self.backward}): the adjoint became non-finite "
                f"(inf/NaN) at iteration {k}{which}: J^T is not contracting at h* for "
                f"backward_damping={tau:g}; use damping < 1 or backward='cg'"
            )

        rows = self._rows(g.shape)
        return _relax_rows(
            _damped(lambda z: jt(z) + g, tau), xp.zeros_like(g) if neumann else g,
            rows, self.backward_tol, self.tol_mode == "relative",
            self.backward_max_iter, nonfinite, fixed_steps=neumann,
            accelerate=None if neumann else self._accelerator(self.backward_solver, rows, False),
        )  # fmt: skip

    def _solve_cg(self, jt: Callable, g: Any) -> _Relaxation:
        """CG on the normal equations (I - J)(I - J^T) z = (I - J) g.

        J v is needed as well as J^T v. Reverse mode gives only J^T v, so each sample's
        Jacobian block is materialised exactly from one batched VJP per state unit (row
        j of every block is J^T e_j) and checked against a random VJP; a cell that mixes
        samples falls back to the full Jacobian (one VJP per state element). CG's step
        sizes are inner products over the whole batch, so it stops on the batch residual
        whatever ``stop`` is.
        """
        J = _jacobian_blocks(jt, g.shape, g.dtype)

        def jt_b(v):
            return xp.einsum("bij,bi->bj", J, v.reshape(J.shape[0], -1)).reshape(g.shape)

        def j_b(v):
            return xp.einsum("bij,bj->bi", J, v.reshape(J.shape[0], -1)).reshape(g.shape)

        def normal_op(v):
            w = v - jt_b(v)
            return w - j_b(w)

        b = g - j_b(g)
        z = xp.zeros_like(g)
        r = b.copy()
        p = r.copy()
        rr = float(xp.sum(r * r, dtype=xp.float64))
        bnorm = max(math.sqrt(rr), 1e-300)
        res = math.sqrt(rr) / bnorm
        tol = self.backward_tol if self.tol_mode == "relative" else self.backward_tol / bnorm
        k = 0
        while res > tol and k < self.backward_max_iter:
            k += 1
            ap = normal_op(p)
            pap = float(xp.sum(p * ap, dtype=xp.float64))
            if pap <= 0 or not math.isfinite(pap):
                break  # exact solution reached (or I - J singular): stop, residual decides
            alpha = rr / pap
            z = z + alpha * p
            r = r - alpha * ap
            rr_new = float(xp.sum(r * r, dtype=xp.float64))
            res = math.sqrt(rr_new) / bnorm
            p = r + (rr_new / rr) * p
            rr = rr_new
        # One system for the whole batch: a single row of statistics.
        return _Relaxation(
            z.astype(g.dtype, copy=False), k, xp.full(1, k), xp.full(1, res), xp.full(1, res <= tol)
        )

    # ------------------------------------------------------------ diagnostics
    def _spectral_stats(self, h: Any, x: Tensor, extras: list, n_iter: int = 100) -> dict:
        jt = self._state_graph(h, x, extras)
        out = {"spectral_radius": _power_iteration(jt, h, n_iter)}
        tau = self.damping
        if tau != 1.0:
            out["damped_spectral_radius"] = _power_iteration(
                lambda v: (1 - tau) * v + tau * jt(v), h, n_iter
            )
        return out

    def spectral_radius(self, x: Any, *args: Any, h: Any = None, n_iter: int = 100) -> float:
        """Estimate the spectral radius of ``J = dF/dh`` at the fixed point for input ``x``.

        Power iteration with VJPs (``J^T`` has the spectrum of ``J``); the growth rate is
        averaged over the second half of the iterations, so a complex dominant pair is
        handled. ``h`` defaults to the fixed point solved here. The forward relaxation
        converges for damping ``tau`` when the damped map's radius ``< 1``; with ``rho`` the
        radius of J, undamped RBP needs ``rho < 1``.

        Example::

            >>> import numpy as np, retrograd as rg
            >>> fp = rg.nn.FixedPoint(lambda h, x: h * 0.5 + x)
            >>> round(fp.spectral_radius(rg.ones(3)), 6)
            0.5
        """
        x = x if isinstance(x, Tensor) else Tensor(x)
        extras = [a if isinstance(a, Tensor) else Tensor(a) for a in args]
        with no_grad():
            if h is None:
                stats: dict = {}
                h = self._relax(x, extras, self._initial_state(x, self.h0), stats)
            else:
                h = (h.data if isinstance(h, Tensor) else xp.asarray(h)).copy()
            return _power_iteration(self._state_graph(h, x, extras), h, n_iter)


def _power_iteration(op: Callable, like: Any, n_iter: int) -> float:
    rng = xp.random.default_rng(0)  # private generator: diagnostics never move the user's RNG
    v = rng.standard_normal(like.shape).astype(like.dtype)
    v /= _norm(v)
    logs = []
    for _ in range(n_iter):
        w = op(v)
        n = _norm(w)
        if n == 0.0 or not math.isfinite(n):
            return 0.0 if n == 0.0 else math.inf
        logs.append(math.log(n))
        v = w / n
    tail = logs[len(logs) // 2 :]
    return math.exp(sum(tail) / len(tail))


def _jacobian_blocks(jt: Callable, shape: tuple, dtype: Any) -> Any:
    """Per-sample Jacobian blocks ``J[b] = dF_b/dh_b`` (B, n, n) from VJPs, verified."""
    batch = shape[0] if len(shape) >= 2 else 1
    n = int(math.prod(shape)) // batch
    J = xp.empty((batch, n, n), dtype=dtype)
    e = xp.zeros((batch, n), dtype=dtype)
    for j in range(n):
        e[:, j] = 1
        J[:, j, :] = jt(e.reshape(shape)).reshape(batch, n)
        e[:, j] = 0
    if batch > 1:
        # A cell that couples samples (batch statistics) breaks the block structure:
        # verify on a random probe and fall back to the exact full Jacobian.
        u = xp.random.default_rng(1).standard_normal((batch, n)).astype(dtype)
        want = jt(u.reshape(shape)).reshape(batch, n)
        got = xp.einsum("bij,bi->bj", J, u)
        tol = 1e-4 if dtype == xp.float32 else 1e-10
        if _norm(want - got) > tol * max(_norm(want), 1.0):
            size = batch * n
            full = xp.empty((1, size, size), dtype=dtype)
            e1 = xp.zeros(size, dtype=dtype)
            for j in range(size):
                e1[j] = 1
                full[0, j, :] = jt(e1.reshape(shape)).reshape(-1)
                e1[j] = 0
            return full
    return J


def _check_no_captured(f: Tensor, wanted: tuple) -> None:
    """Raise when F reads a tensor needing grad that is neither a parameter nor an argument.

    Such a tensor (captured by a closure) would silently get no gradient through the
    implicit backward.
    """
    known = {id(t) for t in wanted}
    stack = [f]
    seen = set()
    while stack:
        t = stack.pop()
        if id(t) in seen or id(t) in known:
            continue
        seen.add(id(t))
        if t._ctx is None:
            if t.requires_grad:
                raise ValueError(
                    f"FixedPoint: the cell reads a tensor of shape {t.shape} that requires grad "
                    "but is neither a parameter of the cell (Module) nor passed as an argument; "
                    "it would get no gradient. Call layer(x, that_tensor) and take it as an "
                    "argument of the cell: cell(h, x, that_tensor)"
                )
            continue
        stack.extend(p for p in t._ctx.parents if p.requires_grad)


# ----------------------------------------------------------------------- RecurrentNet
_ACTIVATIONS = {"sigmoid": F.sigmoid, "tanh": F.tanh}


#: The solver options a RecurrentNet's config always records (the others only when set,
#: so files of nets that do not use them keep their keys).
_RECORDED = (
    "tol", "max_iter", "damping", "tol_mode", "backward", "backward_tol", "backward_max_iter",
    "on_nonconvergence", "stop",
)  # fmt: skip


def _set(solver: FixedPoint, name: str) -> bool:
    """Whether ``solver``'s option differs from what it is when not given."""
    opt = SOLVER_OPTIONS[name]
    unset = opt.default if opt.follows is None else getattr(solver, opt.follows)
    return getattr(solver, name) != unset


class RecurrentNet(Module):
    """Pineda's fully recurrent network, trained by recurrent backpropagation.

    ``N = n_hidden + n_out`` units, each of which may connect to every other (and itself)
    through ``weight`` (N, N), row i holding unit i's incoming weights; ``connectivity``
    (an (N, N) 0/1 mask) removes connections. The input is clamped as external input to
    every unit through ``weight_in`` (N, n_in), every unit has a bias, and the state
    relaxes to ``s* = f(W s* + W_in x + b)``. The output is the last ``n_out`` units' state
    at the fixed point. ``symmetric=True`` uses ``(W + W^T) / 2`` (a Hopfield-style net,
    which always has an energy function). The solver's options (``tol``, ``max_iter``,
    ``damping``, ``backward``, ... : :data:`SOLVER_OPTIONS`) are keyword arguments, passed
    to :class:`FixedPoint`.

    Example::

        >>> import retrograd as rg
        >>> net = rg.nn.RecurrentNet(4, 6, 2)
        >>> y = net(rg.randn(5, 4))
        >>> y.shape, net.last_stats["forward_converged"]
        ((5, 2), True)
    """

    def __init__(
        self,
        n_in: int,
        n_hidden: int,
        n_out: int,
        activation: str = "sigmoid",
        connectivity: Any = None,
        symmetric: bool = False,
        dtype: Any = None,
        **solver: Any,
    ) -> None:
        super().__init__()
        for name, v, lo in (("n_in", n_in, 1), ("n_hidden", n_hidden, 0), ("n_out", n_out, 1)):
            check_int(v, name, "RecurrentNet", lo)
        check_choice(activation, "activation", "RecurrentNet", tuple(sorted(_ACTIVATIONS)))
        self.n_in, self.n_hidden, self.n_out = int(n_in), int(n_hidden), int(n_out)
        self.activation = activation
        self.symmetric = bool(symmetric)
        n = self.n_hidden + self.n_out
        dt = resolve_dtype(dtype)
        if connectivity is None:
            mask = None
        else:
            mask = xp.asarray(connectivity)
            if mask.shape != (n, n) or not xp.isin(mask, (0, 1)).all():
                raise ValueError(
                    f"RecurrentNet: connectivity must be an ({n}, {n}) mask of 0/1 "
                    f"(n_hidden + n_out units), got shape {mask.shape}"
                )
            if self.symmetric and not (mask == mask.T).all():
                raise ValueError("RecurrentNet: symmetric=True needs a symmetric connectivity")
            mask = mask.astype(dt)
        self.register_buffer("mask", mask)
        self.weight = Parameter(xp.empty((n, n), dtype=dt))
        self.weight_in = Parameter(xp.empty((n, self.n_in), dtype=dt))
        self.bias = Parameter(xp.empty((n,), dtype=dt))
        solver_options("RecurrentNet", solver)  # refuse unknown names, naming this class
        self.solver = FixedPoint(self._cell, **solver)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        n = self.weight.shape[0]
        # Entries U(-1/sqrt(N), 1/sqrt(N)) give a recurrent matrix of spectral radius about
        # 1/sqrt(3); with |f'| <= 1 the relaxation starts out contracting.
        bound = 1.0 / math.sqrt(n)
        init.uniform_(self.weight, -bound, bound)
        if self.mask is not None:
            self.weight.data *= self.mask.data
        init.default_linear_init_(self.weight_in, self.bias)

    def _cell(self, h: Tensor, drive: Tensor, w: Tensor) -> Tensor:
        return _ACTIVATIONS[self.activation](F.linear(h, w) + drive)

    def effective_weight(self) -> Tensor:
        """The recurrent matrix the dynamics use (masked, symmetrised when asked)."""
        w = self.weight
        if self.symmetric:
            w = (w + w.T) * 0.5
        if self.mask is not None:
            w = w * self.mask
        return w

    def forward(self, x: Any, return_state: bool = False) -> Any:
        x = x if isinstance(x, Tensor) else Tensor(x)
        if x.ndim not in (1, 2) or x.shape[-1] != self.n_in:
            raise ValueError(
                f"RecurrentNet({self.n_in}, {self.n_hidden}, {self.n_out}): input has shape "
                f"{x.shape}, expected (batch, {self.n_in}) or ({self.n_in},)"
            )
        # The external input is constant during the relaxation: compute it once, outside.
        drive = F.linear(x, self.weight_in, self.bias)
        state = self.solver(drive, self.effective_weight())
        out = state[..., self.n_hidden :]
        return (out, state) if return_state else out

    @property
    def last_stats(self) -> dict:
        """The statistics of the last relaxation (see :class:`FixedPoint`)."""
        return self.solver.last_stats

    def get_config(self) -> dict:
        """The JSON-able constructor arguments."""
        s = self.solver
        return {
            "n_in": self.n_in, "n_hidden": self.n_hidden, "n_out": self.n_out,
            "activation": self.activation,
            "connectivity": None if self.mask is None else self.mask.data.astype(int).tolist(),
            "symmetric": self.symmetric, "dtype": str(self.weight.dtype),
            **{k: getattr(s, k) for k in SOLVER_OPTIONS if k in _RECORDED or _set(s, k)},
        }  # fmt: skip

    def extra_repr(self) -> str:
        return (
            f"n_in={self.n_in}, n_hidden={self.n_hidden}, n_out={self.n_out}, "
            f"activation={self.activation!r}, symmetric={self.symmetric}"
        )


# ------------------------------------------------------------------------- validation
class NormBoundedTanhCell(Module):
    """``F(h, u) = tanh(h W^T + u)`` with ``W = V * min(1, max_norm / ||V||_F)``.

    The Frobenius norm bounds the spectral norm and ``|tanh'| <= 1``, so ``F`` is a
    contraction with factor at most ``max_norm`` whatever training does to ``V``: the
    forward and the adjoint relaxations of :class:`~retrograd.nn.FixedPoint` always
    converge (left free, Adam drives the spectral radius towards 1 and the relaxations
    slow down until they hit ``max_iter``; see examples/fixedpoint_digits.py).
    """

    def __init__(self, hidden_size: int, max_norm: float = 0.9) -> None:
        super().__init__()
        self.hidden_size = int(hidden_size)
        self.max_norm = float(max_norm)
        n = self.hidden_size
        self.weight = Parameter(xp.zeros((n, n), dtype=xp.float32))
        init.uniform_(self.weight, -0.5 / math.sqrt(n), 0.5 / math.sqrt(n))

    def get_config(self) -> dict:
        return {"hidden_size": self.hidden_size, "max_norm": self.max_norm}

    def recurrent_weight(self) -> Tensor:
        v = self.weight
        norm = (v * v).sum().sqrt()
        one = ops.tensor(xp.ones((), dtype=v.dtype))
        return v * ops.minimum(one, self.max_norm / norm)

    def forward(self, h: Tensor, u: Tensor) -> Tensor:
        return (h @ self.recurrent_weight().T + u).tanh()


class EquilibriumClassifier(Module):
    """Linear input injection, a tanh state relaxed to its fixed point (trained by the
    Almeida-Pineda recurrent backpropagation of :class:`~retrograd.nn.FixedPoint`), and a
    linear readout.

    The other solver options (``solver``, ``backward``, ``backward_solver``,
    ``anderson_m``, ``broyden_m``, ...: :data:`SOLVER_OPTIONS`) are keyword arguments
    passed to the FixedPoint; the config records those that differ from their defaults,
    so model files keep them.

    Example::

        >>> import retrograd as rg
        >>> EquilibriumClassifier(64, 16, 10)(rg.randn(4, 64)).shape
        (4, 10)
        >>> EquilibriumClassifier(64, 16, 10, solver="broyden").get_config()["solver"]
        'broyden'
    """

    def __init__(
        self,
        in_features: int,
        hidden_size: int,
        out_features: int,
        max_norm: float = 0.9,
        tol: float = 1e-5,
        max_iter: int = 200,
        **solver: Any,
    ) -> None:
        super().__init__()
        self.in_features, self.hidden_size = int(in_features), int(hidden_size)
        self.out_features = int(out_features)
        # Refuse unknown or bad options naming this class (the FixedPoint would say
        # "FixedPoint"), before any weight is allocated.
        solver_options("EquilibriumClassifier", {"tol": tol, "max_iter": max_iter, **solver})
        self.inject = Linear(self.in_features, self.hidden_size)
        self.fixed_point = FixedPoint(
            NormBoundedTanhCell(self.hidden_size, max_norm), tol=tol, max_iter=max_iter, **solver
        )
        self.readout = Linear(self.hidden_size, self.out_features)

    def get_config(self) -> dict:
        fp = self.fixed_point
        return {
            "in_features": self.in_features, "hidden_size": self.hidden_size,
            "out_features": self.out_features, "max_norm": fp.cell.max_norm,
            "tol": fp.tol, "max_iter": fp.max_iter,
            **{k: getattr(fp, k) for k in SOLVER_OPTIONS
               if k not in ("tol", "max_iter") and _set(fp, k)},
        }  # fmt: skip

    def forward(self, x: Any) -> Tensor:
        return self.readout(self.fixed_point(self.inject(x)))
