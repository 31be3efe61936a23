"""Numerical verification of gradients (and gradients of gradients) by finite differences."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from .._backend import xp
from ..errors import GradcheckError
from .engine import grad as _grad
from .engine import run_backward
from .mode import enable_grad, no_grad
from .tensor import Tensor

#: Inputs with at most this many elements (and outputs with at most this many) get the
#: full Jacobian compared; larger ones are checked through random projections.
FULL_JACOBIAN_LIMIT = 256


def _prepare(inputs: Any, check_dtype: bool) -> list:
    if not isinstance(inputs, (tuple, list)):
        inputs = (inputs,)
    out = []
    for i, x in enumerate(inputs):
        if isinstance(x, xp.floating):
            x = xp.asarray(x)  # a NumPy float scalar is checked like a 0-d array
        if isinstance(x, Tensor) or isinstance(x, xp.ndarray):
            arr = x.data if isinstance(x, Tensor) else x
            wants = x.requires_grad if isinstance(x, Tensor) else arr.dtype.kind == "f"
            if wants and check_dtype and arr.dtype != xp.float64:
                raise TypeError(
                    f"gradcheck: input {i} has dtype {arr.dtype}; finite differences need "
                    "float64 (pass check_dtype=False to check lower precision anyway)"
                )
            out.append(Tensor(arr.copy(), requires_grad=bool(wants)))
        else:
            out.append(x)
    return out


def _evaluate(f: Callable, args: list) -> Any:
    with no_grad():
        y = f(*args)
    return (y.data if isinstance(y, Tensor) else xp.asarray(y)).astype(xp.float64)


def _analytic_vjp(f: Callable, args: list, v: Any) -> list:
    with enable_grad():
        y = f(*args)
    if not isinstance(y, Tensor):
        raise TypeError(f"gradcheck: f must return a Tensor, got {type(y).__name__}")
    tensors = [a for a in args if isinstance(a, Tensor) and a.requires_grad]
    if not y.requires_grad:
        return [xp.zeros_like(t.data) for t in tensors]
    gs = run_backward(y, v.astype(y.data.dtype), tuple(tensors))
    return [xp.zeros_like(t.data) if g is None else g for t, g in zip(tensors, gs)]


def gradcheck(
    f: Callable,
    inputs: Sequence[Any],
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
    *,
    mode: str = "auto",
    n_projections: int = 8,
    seed: int = 0,
    check_dtype: bool = True,
    names: Sequence[str] | None = None,
) -> bool:
    """Compare the engine's gradients of ``f`` with central finite differences.

    ``inputs`` are Tensors (checked when ``requires_grad``), float ndarrays (checked),
    or anything else (passed through). ``mode="full"`` compares the whole Jacobian,
    one column per perturbed element and one row per output element;
    ``mode="projection"`` compares ``v^T J u`` for random directions ``u, v``;
    ``"auto"`` takes full for small inputs and outputs. Returns True, or raises
    :class:`retrograd.GradcheckError` naming the input and its worst element.

    Example::

        >>> import numpy as np, retrograd as rg
        >>> x = rg.tensor(np.random.rand(3, 4), requires_grad=True)
        >>> rg.gradcheck(lambda x: (x.exp() * x).sum(axis=1), [x])
        True
    """
    args = _prepare(inputs, check_dtype)
    checked = [i for i, a in enumerate(args) if isinstance(a, Tensor) and a.requires_grad]
    if not checked:
        raise ValueError("gradcheck: no input requires a gradient")
    names = list(names) if names is not None else [f"input {i}" for i in range(len(args))]
    y0 = _evaluate(f, args)
    n_out = y0.size
    n_in = max(args[i].data.size for i in checked)
    if mode == "auto":
        small = n_in <= FULL_JACOBIAN_LIMIT and n_out <= FULL_JACOBIAN_LIMIT
        mode = "full" if small else "projection"
    if mode not in ("full", "projection"):
        raise ValueError(f"gradcheck: mode must be 'auto', 'full' or 'projection', got {mode!r}")
    rng = xp.random.default_rng(seed)

    for k, i in enumerate(checked):
        x = args[i]
        flat = x.data.reshape(-1)

        def perturbed(idx_or_dir, sign, x=x, flat=flat):
            saved = flat.copy()
            if isinstance(idx_or_dir, int):
                flat[idx_or_dir] += sign * eps
            else:
                flat += sign * eps * idx_or_dir
            try:
                return _evaluate(f, args)
            finally:
                flat[...] = saved

        if mode == "full":
            numeric = xp.empty((n_out, flat.size))
            for j in range(flat.size):
                numeric[:, j] = (perturbed(j, 1) - perturbed(j, -1)).reshape(-1) / (2 * eps)
            analytic = xp.empty_like(numeric)
            for r in range(n_out):
                v = xp.zeros(n_out)
                v[r] = 1.0
                analytic[r] = _analytic_vjp(f, args, v.reshape(y0.shape))[k].reshape(-1)
            _compare(
                analytic,
                numeric,
                atol,
                rtol,
                names[i],
                x.data.shape,
                per="jacobian",
                out_shape=y0.shape,
            )
        else:
            for _ in range(n_projections):
                v = rng.standard_normal(y0.shape)
                u = rng.standard_normal(flat.size)
                num = float(((perturbed(u, 1) - perturbed(u, -1)) * v).sum() / (2 * eps))
                g = _analytic_vjp(f, args, v)[k].reshape(-1).astype(xp.float64)
                ana = float(g @ u)
                if abs(ana - num) > atol + rtol * abs(num) or not xp.isfinite(ana):
                    # Locate the culprit: compare v^T J element by element (one pair of
                    # evaluations per element, paid only on failure).
                    numeric = xp.empty((1, flat.size))
                    for j in range(flat.size):
                        d = perturbed(j, 1) - perturbed(j, -1)
                        numeric[0, j] = (d * v).sum() / (2 * eps)
                    _compare(g[None, :], numeric, atol, rtol, names[i], x.data.shape, per="vjp")
                    _compare(
                        xp.array([ana]),
                        xp.array([num]),
                        atol,
                        rtol,
                        names[i],
                        x.data.shape,
                        per="projection",
                    )
    return True


def gradgradcheck(
    f: Callable,
    inputs: Sequence[Any],
    grad_outputs: Sequence[Any] | None = None,
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
    *,
    mode: str = "auto",
    n_projections: int = 8,
    seed: int = 0,
    check_dtype: bool = True,
) -> bool:
    """Check second derivatives: :func:`gradcheck` of the first derivative of ``f``.

    The first derivative is ``rg.autograd.grad(f(*inputs), inputs, grad_outputs,
    create_graph=True)`` (flattened and concatenated); it is checked against finite
    differences with respect to both ``inputs`` and ``grad_outputs``. ``grad_outputs``
    defaults to random float64 cotangents (from ``seed``), like PyTorch's. ``f`` returns
    a Tensor or a tuple of Tensors. Returns True or raises
    :class:`retrograd.GradcheckError` (inputs are named "input i", cotangents
    "grad_output j").

    Example::

        >>> import numpy as np, retrograd as rg
        >>> x = rg.tensor(np.random.rand(3), requires_grad=True)
        >>> rg.gradgradcheck(lambda x: (x.exp() * x).sum(), [x])
        True
    """
    args = _prepare(inputs, check_dtype)
    diff = [i for i, a in enumerate(args) if isinstance(a, Tensor) and a.requires_grad]
    if not diff:
        raise ValueError("gradgradcheck: no input requires a gradient")
    with enable_grad():
        y = f(*args)
    ys = y if isinstance(y, (tuple, list)) else (y,)
    for k, t in enumerate(ys):
        if not isinstance(t, Tensor):
            raise TypeError(f"gradgradcheck: output {k} of f is a {type(t).__name__}, not a Tensor")
    if grad_outputs is None:
        rng = xp.random.default_rng(seed)
        gos = [rng.standard_normal(t.data.shape).astype(t.data.dtype) for t in ys]
    else:
        gos = list(grad_outputs)
        if len(gos) != len(ys):
            raise ValueError(
                f"gradgradcheck: got {len(gos)} grad_outputs for {len(ys)} outputs of f"
            )
    n = len(args)
    tuple_out = isinstance(y, (tuple, list))

    def first_derivative(*all_args):
        from ..ops.shape import concatenate, reshape

        xs, cts = all_args[:n], all_args[n:]
        with enable_grad():
            out = f(*xs)
            outs = list(out) if tuple_out else [out]
            wrt = [xs[i] for i in diff]
            gs = _grad(outs, wrt, list(cts), create_graph=True, materialize_grads=True)
            return concatenate([reshape(g, (-1,)) for g in gs])

    names = [f"input {i}" for i in range(n)] + [f"grad_output {j}" for j in range(len(gos))]
    return gradcheck(
        first_derivative,
        list(args) + gos,
        eps,
        atol,
        rtol,
        mode=mode,
        n_projections=n_projections,
        seed=seed,
        check_dtype=check_dtype,
        names=names,
    )


def _compare(analytic, numeric, atol, rtol, name, shape, per, out_shape=()):
    err = xp.abs(analytic - numeric)
    tol = atol + rtol * xp.abs(numeric)
    bad = err > tol
    if bad.any() or not xp.isfinite(analytic).all():
        excess = xp.where(xp.isfinite(err), err - tol, xp.inf)
        worst = int(xp.argmax(excess))
        if per == "jacobian":
            r, c = divmod(worst, analytic.shape[1])
            index = tuple(int(i) for i in xp.unravel_index(c, shape))
            out_index = tuple(int(i) for i in xp.unravel_index(r, out_shape))
            where = f"output element {out_index}, {name} element {index}"
        elif per == "vjp":
            index = tuple(int(i) for i in xp.unravel_index(worst, shape))
            where = f"{name} element {index} (random projection of the output)"
        else:
            where = f"random projection of {name} (shape {shape})"
        a = analytic.reshape(-1)[worst]
        n = numeric.reshape(-1)[worst]
        raise GradcheckError(
            f"gradcheck failed for {name}: at {where} the analytic gradient is {a:.10g} but "
            f"finite differences give {n:.10g} (abs err {abs(a - n):.3g}, allowed "
            f"{atol:g} + {rtol:g}*|numeric|)"
        )
