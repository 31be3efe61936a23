"""Reductions: sum, mean, max, min, logsumexp (primitives) and var, std (composites)."""

from __future__ import annotations

from typing import Any

from .._backend import xp
from ..autograd.function import Function
from ..autograd.tensor import Tensor
from ._graph import spread
from ._util import add_reduce, ensure_tensor, expand_reduced, norm_axis


class Sum(Function):
    replay = "pure"

    def forward(self, a, axis=None, keepdims=False):
        self.shape, self.axis, self.keepdims = a.shape, axis, keepdims
        return xp.asarray(add_reduce(a, axis=axis, keepdims=keepdims))

    def backward(self, g):
        g = expand_reduced(g, self.shape, self.axis, self.keepdims)
        return (xp.broadcast_to(g, self.shape),)

    def backward_graph(self, g, out):
        return (spread(g, self.shape, self.axis, self.keepdims),)


class Mean(Function):
    replay = "pure"

    def forward(self, a, axis=None, keepdims=False):
        self.shape, self.axis, self.keepdims = a.shape, axis, keepdims
        out = xp.asarray(a.mean(axis=axis, keepdims=keepdims))
        # NOTE: not max(out.size, 1): this module's own max() shadows the builtin.
        self.count = a.size // out.size if a.size else 0
        return out

    def backward(self, g):
        g = expand_reduced(g, self.shape, self.axis, self.keepdims)
        return (xp.broadcast_to(g / self.count, self.shape),)

    def backward_graph(self, g, out):
        return (spread(g, self.shape, self.axis, self.keepdims) / float(self.count),)


class Max(Function):
    replay = "pure"

    def forward(self, a, axis=None, keepdims=False):
        self.a, self.axis, self.keepdims = a, axis, keepdims
        self.out = xp.asarray(a.max(axis=axis, keepdims=True))
        return self.out if keepdims else _squeeze(self.out, axis)

    def backward(self, g):
        # NOTE: ties share the gradient evenly (PyTorch's amax/amin rule); the routed
        # gradient therefore still sums to g.
        mask = self.a == self.out
        count = mask.sum(axis=self.axis, keepdims=True)
        g = expand_reduced(g, self.a.shape, self.axis, self.keepdims)
        return (mask * (g / count).astype(g.dtype, copy=False),)

    def backward_graph(self, g, out):
        # The tie mask is locally constant in the input.
        mask = self.a == self.out
        w = (mask / mask.sum(axis=self.axis, keepdims=True)).astype(g.dtype, copy=False)
        return (spread(g, self.a.shape, self.axis, self.keepdims) * w,)


class Min(Function):
    replay = "pure"

    def forward(self, a, axis=None, keepdims=False):
        self.a, self.axis, self.keepdims = a, axis, keepdims
        self.out = xp.asarray(a.min(axis=axis, keepdims=True))
        return self.out if keepdims else _squeeze(self.out, axis)

    def backward(self, g):
        mask = self.a == self.out
        count = mask.sum(axis=self.axis, keepdims=True)
        g = expand_reduced(g, self.a.shape, self.axis, self.keepdims)
        return (mask * (g / count).astype(g.dtype, copy=False),)

    def backward_graph(self, g, out):
        mask = self.a == self.out
        w = (mask / mask.sum(axis=self.axis, keepdims=True)).astype(g.dtype, copy=False)
        return (spread(g, self.a.shape, self.axis, self.keepdims) * w,)


class LogSumExp(Function):
    replay = "pure"

    def forward(self, a, axis=None, keepdims=False):
        self.axis, self.keepdims, self.shape = axis, keepdims, a.shape
        m = a.max(axis=axis, keepdims=True)
        # An all -inf slice would give inf - inf = nan; shift by 0 there instead.
        m = xp.where(xp.isfinite(m), m, 0)
        e = xp.exp(a - m)
        s = e.sum(axis=axis, keepdims=True)
        with xp.errstate(invalid="ignore", divide="ignore"):
            # An all -inf slice: log(0) = -inf is the right value; its softmax is 0/0.
            self.softmax = e / s
            out = xp.log(s) + m
        return out if keepdims else _squeeze(out, axis)

    def backward(self, g):
        g = expand_reduced(g, self.shape, self.axis, self.keepdims)
        return (g * self.softmax,)

    def backward_graph(self, g, out):
        from .elementwise import exp

        a = self.parents[0]
        lse = spread(out, self.shape, self.axis, self.keepdims)
        return (spread(g, self.shape, self.axis, self.keepdims) * exp(a - lse),)


def _squeeze(arr, axis):
    if axis is None:
        return arr.reshape(())
    return arr.squeeze(axis=axis)


def _reduce(cls, x, axis, keepdims, name):
    x = ensure_tensor(x)
    axis = norm_axis(axis, x.ndim, f"{name}: axis")
    if cls in (Max, Min) and x.data.size == 0:
        raise ValueError(f"{name}: cannot reduce an empty tensor (shape {x.shape})")
    return cls.apply(x, axis=axis, keepdims=bool(keepdims))


def sum(x: Any, axis: Any = None, keepdims: bool = False) -> Tensor:  # noqa: A001
    """Sum over ``axis`` (all axes when None).

    Example::

        >>> import retrograd as rg
        >>> rg.tensor([[1.0, 2.0], [3.0, 4.0]]).sum(axis=0)
        tensor([4., 6.])
    """
    return _reduce(Sum, x, axis, keepdims, "sum")


def mean(x: Any, axis: Any = None, keepdims: bool = False) -> Tensor:
    """Arithmetic mean over ``axis``.

    Example::

        >>> import retrograd as rg
        >>> rg.tensor([[1.0, 2.0], [3.0, 4.0]]).mean(axis=1).tolist()
        [1.5, 3.5]
    """
    x = ensure_tensor(x)
    if x.data.size == 0:
        raise ValueError(f"mean: cannot average an empty tensor (shape {x.shape})")
    return _reduce(Mean, x, axis, keepdims, "mean")


def max(x: Any, axis: Any = None, keepdims: bool = False) -> Tensor:  # noqa: A001
    """Maximum over ``axis``; ties share the gradient evenly.

    Example::

        >>> import retrograd as rg
        >>> rg.tensor([[1.0, 5.0], [3.0, 4.0]]).max(axis=0).tolist()
        [3.0, 5.0]
    """
    return _reduce(Max, x, axis, keepdims, "max")


def min(x: Any, axis: Any = None, keepdims: bool = False) -> Tensor:  # noqa: A001
    """Minimum over ``axis``; ties share the gradient evenly.

    Example::

        >>> import retrograd as rg
        >>> rg.tensor([[1.0, 5.0], [3.0, 4.0]]).min().item()
        1.0
    """
    return _reduce(Min, x, axis, keepdims, "min")


def logsumexp(x: Any, axis: Any = None, keepdims: bool = False) -> Tensor:
    """log(sum(exp(x))) over ``axis``, computed without overflow.

    Example::

        >>> import retrograd as rg
        >>> rg.logsumexp(rg.tensor([1e4, -1e4])).item()  # no overflow to inf
        10000.0
    """
    return _reduce(LogSumExp, x, axis, keepdims, "logsumexp")


def var(x: Any, axis: Any = None, keepdims: bool = False, correction: int = 1) -> Tensor:
    """Variance over ``axis`` with Bessel's ``correction`` (1 by default, as PyTorch).

    Example::

        >>> import retrograd as rg
        >>> rg.ops.var(rg.tensor([1.0, 2.0, 3.0])).item()
        1.0
    """
    x = ensure_tensor(x)
    axis_n = norm_axis(axis, x.ndim, "var: axis")
    if axis_n is None:
        n = x.data.size
    elif isinstance(axis_n, int):
        n = x.shape[axis_n]
    else:
        n = 1
        for a in axis_n:
            n *= x.shape[a]
    if n - correction <= 0:
        raise ValueError(
            f"var: need more than {correction} element(s) per reduction with "
            f"correction={correction}, got {n}"
        )
    d = x - mean(x, axis_n, keepdims=True)
    return sum(d * d, axis_n, keepdims) / (n - correction)


def std(x: Any, axis: Any = None, keepdims: bool = False, correction: int = 1) -> Tensor:
    """Standard deviation over ``axis`` (square root of :func:`var`).

    Example::

        >>> import retrograd as rg
        >>> rg.ops.std(rg.tensor([1.0, 3.0]), correction=0).item()
        1.0
    """
    from .elementwise import sqrt

    return sqrt(var(x, axis, keepdims, correction))


__all__ = ["sum", "mean", "max", "min", "logsumexp", "var", "std"]
