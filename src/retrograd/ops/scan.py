"""Scans along a dimension: cumsum, cumprod, cummax, cummin, logcumsumexp.

Integer and bool inputs of cumsum/cumprod accumulate in int64, as in PyTorch.
"""

from __future__ import annotations

from typing import Any

from .._backend import xp
from ..autograd.function import Function
from ..autograd.tensor import Tensor
from . import return_types as rt
from ._util import ensure_tensor
from .indexing import Gather, dim_arg


def _rev_cumsum(a: Any, axis: int) -> Any:
    return xp.flip(xp.cumsum(xp.flip(a, axis=axis), axis=axis), axis=axis)


class Cumsum(Function):
    replay = "pure"

    def forward(self, a, dim=0):
        self.dim = dim
        return xp.cumsum(a, axis=dim)

    def backward(self, g):
        # Input i reaches every output j >= i: the VJP is the reversed cumulative sum.
        return (_rev_cumsum(g, self.dim),)

    def backward_graph(self, g, out):
        from ._graph import rev_cumsum

        return (rev_cumsum(g, self.dim),)


class Cumprod(Function):
    replay = "pure"

    def forward(self, a, dim=0):
        self.a, self.dim = a, dim
        self.out = xp.cumprod(a, axis=dim)
        return self.out

    def backward(self, g):
        # d out_j / d a_i = prod_{k <= j, k != i} a_k (j >= i). Exact with zero factors:
        # before the first zero z of a slice it is out_j / a_i (only j < z contribute);
        # at z it is the cumulative product with a_z replaced by 1 (for j >= z); after z
        # every such product holds a_z = 0.
        a, out, d = self.a, self.out, self.dim
        zeros_so_far = xp.cumsum(a == 0, axis=d)
        before = zeros_so_far == 0
        if before.all():
            return (_rev_cumsum(g * out, d) / a,)
        first_zero = (a == 0) & (zeros_so_far == 1)
        safe = xp.where(before, a, 1)
        g_before = xp.where(before, _rev_cumsum(g * out * before, d) / safe, 0)
        out_without = xp.cumprod(xp.where(first_zero, 1, a), axis=d)
        g_zero = (g * out_without * (zeros_so_far >= 1)).sum(axis=d, keepdims=True)
        return ((g_before + xp.where(first_zero, g_zero, 0)).astype(g.dtype, copy=False),)

    def backward_graph(self, g, out):
        from ._graph import first_order_only_here, rev_cumsum

        if (self.a == 0).any():
            first_order_only_here("Cumprod", "where a factor is exactly zero")
        return (rev_cumsum(g * out, self.dim) / self.parents[0],)


class LogCumSumExp(Function):
    replay = "pure"

    def forward(self, a, dim=0):
        self.a, self.dim = a, dim
        self.out = xp.logaddexp.accumulate(a, axis=dim)
        return self.out

    def backward(self, g):
        # grad_i = sum_{j >= i} g_j exp(a_i - out_j), summed in log space for the positive
        # and the negative part of g separately, so that nothing overflows.
        a, out, d = self.a, self.out, self.dim

        def rev_lcse(v):
            return xp.flip(xp.logaddexp.accumulate(xp.flip(v, axis=d), axis=d), axis=d)

        with xp.errstate(divide="ignore", invalid="ignore"):
            pos = rev_lcse(xp.log(xp.maximum(g, 0)) - out)
            neg = rev_lcse(xp.log(xp.maximum(-g, 0)) - out)
            res = xp.exp(a + pos) - xp.exp(a + neg)
        return (res.astype(g.dtype, copy=False),)

    def backward_graph(self, g, out):
        from ._graph import rev_cumsum
        from .elementwise import Exp

        # sum_{j >= i} g_j exp(a_i - out_j), as exp(a_i - c) * sum g_j exp(c - out_j) with
        # one shift c per slice (the first output): finite while the slice's range is < ~700.
        a, d = self.parents[0], self.dim
        c = xp.take(self.out, [0], axis=d)
        return (Exp.apply(a - c) * rev_cumsum(g * Exp.apply(c - out), d),)


def _scan_input(input: Any, dim: Any, fn: str, dtype: Any = None) -> tuple:  # noqa: A002
    x = ensure_tensor(input)
    d = dim_arg(dim, x.ndim, fn)
    if dtype is not None:
        from .elementwise import cast

        x = cast(x, dtype)
    elif x.data.dtype.kind in "iub" and fn in ("cumsum", "cumprod"):
        x = Tensor._wrap(x.data.astype(xp.int64), False, None)
    if x.ndim == 0:
        from .shape import reshape

        return reshape(x, (1,)), 0, True
    return x, d, False


def _scan(cls: type, input: Any, dim: Any, fn: str, dtype: Any = None) -> Tensor:  # noqa: A002
    x, d, was_0d = _scan_input(input, dim, fn, dtype)
    out = cls.apply(x, dim=d)
    if was_0d:
        from .shape import reshape

        return reshape(out, ())
    return out


def cumsum(input: Any, dim: int, *, dtype: Any = None) -> Tensor:  # noqa: A002
    """Cumulative sum along ``dim`` (integers accumulate in int64).

    Example::

        >>> import retrograd as rg
        >>> rg.cumsum(rg.tensor([1.0, 2.0, 3.0]), dim=0).tolist()
        [1.0, 3.0, 6.0]
    """
    return _scan(Cumsum, input, dim, "cumsum", dtype)


def cumprod(input: Any, dim: int, *, dtype: Any = None) -> Tensor:  # noqa: A002
    """Cumulative product along ``dim``; the gradient is exact where factors are zero.

    Example::

        >>> import retrograd as rg
        >>> rg.cumprod(rg.tensor([1.0, 2.0, 3.0]), dim=0).tolist()
        [1.0, 2.0, 6.0]
    """
    return _scan(Cumprod, input, dim, "cumprod", dtype)


def logcumsumexp(input: Any, dim: int) -> Tensor:  # noqa: A002
    """log(cumsum(exp(input))) along ``dim``, without overflow.

    Example::

        >>> import retrograd as rg
        >>> rg.logcumsumexp(rg.tensor([1000.0, 1000.0]), dim=0).tolist()[1] > 1000
        True
    """
    x = ensure_tensor(input)
    if x.data.dtype.kind not in "fc":
        from .pointwise import _floating

        x = _floating(x)
    return _scan(LogCumSumExp, x, dim, "logcumsumexp")


def _cum_extreme(input: Any, dim: Any, fn: str, ufunc: Any) -> tuple:  # noqa: A002
    x = ensure_tensor(input)
    d = dim_arg(dim, x.ndim, fn)
    if x.ndim == 0:
        return _take_scalar(x), Tensor._wrap(xp.zeros((), xp.int64), False, None)
    a = x.data
    run = ufunc.accumulate(a, axis=d)
    # The index of the last element equal to the running extreme (ties take the later
    # one, as PyTorch's >=); a NaN takes over and keeps its own index.
    hit = a == run
    if a.dtype.kind == "f":
        hit |= xp.isnan(a)
    shape = [1] * a.ndim
    shape[d] = a.shape[d]
    pos = xp.where(hit, xp.arange(a.shape[d]).reshape(shape), 0)
    idx = xp.maximum.accumulate(pos, axis=d).astype(xp.int64)
    values = Gather.apply(x, index=idx, dim=d)
    return values, Tensor._wrap(idx, False, None)


def _take_scalar(x: Tensor) -> Tensor:
    return Gather.apply(x, index=xp.zeros((), xp.int64), dim=0)


def cummax(input: Any, dim: int) -> rt.cummax:  # noqa: A002
    """Running maximum along ``dim`` and where it was attained: (values, indices).

    Example::

        >>> import retrograd as rg
        >>> values, indices = rg.cummax(rg.tensor([1.0, 3.0, 2.0]), dim=0)
        >>> values.tolist(), indices.tolist()
        ([1.0, 3.0, 3.0], [0, 1, 1])
    """
    return rt.cummax(*_cum_extreme(input, dim, "cummax", xp.maximum))


def cummin(input: Any, dim: int) -> rt.cummin:  # noqa: A002
    """Running minimum along ``dim`` and where it was attained: (values, indices).

    Example::

        >>> import retrograd as rg
        >>> rg.cummin(rg.tensor([3.0, 1.0, 2.0]), dim=0).values.tolist()
        [3.0, 1.0, 1.0]
    """
    return rt.cummin(*_cum_extreme(input, dim, "cummin", xp.minimum))


__all__ = ["cumsum", "cumprod", "logcumsumexp", "cummax", "cummin"]
