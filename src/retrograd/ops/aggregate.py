"""More reductions with PyTorch's signatures: prod, any, all, var_mean, std_mean, norm.

``prod`` and the vector norms are primitives (exact gradients where factors are zero or
norms vanish); ``var_mean``/``std_mean`` are composites of the core reductions.
"""

from __future__ import annotations

import math
from typing import Any

from .._backend import xp
from ..autograd.function import Function
from ..autograd.tensor import Tensor
from ._util import ensure_tensor, expand_reduced, norm_axis


def _dims(dim: Any, ndim: int, fn: str) -> Any:
    """None, an int or a tuple of ints, validated; a 0-d tensor accepts 0 and -1."""
    if ndim == 0 and dim is not None:
        items = dim if isinstance(dim, (tuple, list)) else (dim,)
        for d in items:
            if isinstance(d, bool) or not isinstance(d, (int, xp.integer)) or d not in (0, -1):
                raise IndexError(f"{fn}: dim {dim!r} is out of range for a 0-d tensor")
        return None
    if isinstance(dim, (tuple, list)) and len(dim) == 0:
        return None
    return norm_axis(dim, ndim, f"{fn}: dim")


class Prod(Function):
    replay = "pure"

    def forward(self, a, axis=None, keepdims=False):
        self.a, self.axis, self.keepdims = a, axis, keepdims
        self.out = xp.prod(a, axis=axis, keepdims=True)
        return self.out if keepdims else _squeeze(self.out, axis)

    def backward(self, g):
        # d prod / d a_i = product of the other factors: out / a_i when no factor is zero,
        # the product of the non-zero factors for the only zero, else 0 (exact, no 0/0).
        a, out, ax = self.a, self.out, self.axis
        g = expand_reduced(g, a.shape, ax, self.keepdims)
        is_zero = a == 0
        if not is_zero.any():
            return (g * (out / a),)
        zeros = is_zero.sum(axis=ax, keepdims=True)
        nz_prod = xp.prod(xp.where(is_zero, 1, a), axis=ax, keepdims=True)
        with xp.errstate(divide="ignore", invalid="ignore"):
            others = xp.where(
                is_zero, xp.where(zeros == 1, nz_prod, 0), xp.where(zeros == 0, out / a, 0)
            )
        return ((g * others).astype(g.dtype, copy=False),)

    def backward_graph(self, g, out):
        from ._graph import first_order_only_here, spread

        if (self.a == 0).any():
            first_order_only_here("Prod", "where a factor is exactly zero")
        a = self.parents[0]
        shape = self.a.shape
        o = spread(out, shape, self.axis, self.keepdims)
        return (spread(g, shape, self.axis, self.keepdims) * o / a,)


def _squeeze(arr: Any, axis: Any) -> Any:
    return arr.reshape(()) if axis is None else arr.squeeze(axis=axis)


class VectorNorm(Function):
    """(sum |a|^p)^(1/p) over ``axis``; p may be inf, -inf, 0, 1, 2 or any other number."""

    replay = "pure"

    def forward(self, a, ord=2.0, axis=None, keepdims=False):  # noqa: A002
        self.a, self.ord, self.axis, self.keepdims = a, ord, axis, keepdims
        m = xp.abs(a)
        if ord == 2:
            out = xp.sqrt((a * a).sum(axis=axis, keepdims=True))
        elif ord == 1:
            out = m.sum(axis=axis, keepdims=True)
        elif ord == math.inf:
            out = m.max(axis=axis, keepdims=True)
        elif ord == -math.inf:
            out = m.min(axis=axis, keepdims=True)
        elif ord == 0:
            out = (m != 0).sum(axis=axis, keepdims=True).astype(a.dtype)
        else:
            with xp.errstate(divide="ignore"):
                out = (m**ord).sum(axis=axis, keepdims=True) ** (1.0 / ord)
        self.out = xp.asarray(out, dtype=a.dtype)
        return self.out if keepdims else _squeeze(self.out, axis)

    def backward(self, g):
        a, out, p = self.a, self.out, self.ord
        g = expand_reduced(g, a.shape, self.axis, self.keepdims)
        sign = xp.sign(a)
        with xp.errstate(divide="ignore", invalid="ignore"):
            if p == 2:
                # NOTE: 0 where the norm is 0 (PyTorch's subgradient), not 0/0.
                d = xp.where(out == 0, 0, a / out)
            elif p == 1:
                d = sign
            elif p in (math.inf, -math.inf):
                tie = xp.abs(a) == out
                count = tie.sum(axis=self.axis, keepdims=True)
                d = sign * tie / count
            elif p == 0:
                d = xp.zeros_like(a)
            else:
                m = xp.abs(a)
                d = xp.where(out == 0, 0, sign * m ** (p - 1) / out ** (p - 1))
        return ((g * d).astype(g.dtype, copy=False),)

    def backward_graph(self, g, out):
        from ._graph import const, spread
        from .elementwise import Abs, Where

        a, p = self.parents[0], self.ord
        shape, ax, kd = self.a.shape, self.axis, self.keepdims
        g = spread(g, shape, ax, kd)
        if p == 1:
            return (g * xp.sign(self.a),)
        if p == 0:
            return (g * 0.0,)
        if p in (math.inf, -math.inf):
            tie = xp.abs(self.a) == self.out
            w = xp.sign(self.a) * tie / tie.sum(axis=ax, keepdims=True)
            return (g * w.astype(g.dtype),)
        zero = self.out == 0  # the subgradient 0 there (PyTorch's), kept finite
        o = Where.apply(const(xp.ones((), dtype=g.dtype)), spread(out, shape, ax, kd),
                        cond=xp.broadcast_to(zero, shape))  # fmt: skip
        if p == 2:
            d = a / o
        else:
            d = Abs.apply(a) ** (p - 1) * xp.sign(self.a) / o ** (p - 1)
        return (g * (d * ~xp.broadcast_to(zero, shape)),)


# ------------------------------------------------------------------ public functions


def prod(input: Any, dim: int | None = None, keepdim: bool = False, *, dtype: Any = None) -> Tensor:  # noqa: A002,E501
    """Product of the elements (over ``dim`` when given); integers multiply in int64.

    The gradient is exact also where factors are zero.

    Example::

        >>> import retrograd as rg
        >>> rg.prod(rg.tensor([[1.0, 2.0], [3.0, 4.0]]), dim=1).tolist()
        [2.0, 12.0]
    """
    x = ensure_tensor(input)
    if dim is not None and (isinstance(dim, bool) or not isinstance(dim, (int, xp.integer))):
        raise TypeError(f"prod: dim must be an int or None, got {dim!r}")
    axis = _dims(dim, x.ndim, "prod")
    if dtype is not None:
        from .elementwise import cast

        x = cast(x, dtype)
    elif x.data.dtype.kind in "iub":
        x = Tensor._wrap(x.data.astype(xp.int64), False, None)
    return Prod.apply(x, axis=axis, keepdims=bool(keepdim) and dim is not None)


def _bool_reduce(fn: str, ufunc: Any, input: Any, dim: Any, keepdim: bool) -> Tensor:  # noqa: A002
    x = ensure_tensor(input)
    axis = _dims(dim, x.ndim, fn)
    out = ufunc(x.data, axis=axis, keepdims=bool(keepdim))
    return Tensor._wrap(xp.asarray(out, dtype=bool), False, None)


def any(input: Any, dim: Any = None, keepdim: bool = False) -> Tensor:  # noqa: A001,A002
    """True where any element (over ``dim``) is non-zero; a bool tensor.

    Example::

        >>> import retrograd as rg
        >>> rg.any(rg.tensor([[0.0, 1.0], [0.0, 0.0]]), dim=1).tolist()
        [True, False]
    """
    return _bool_reduce("any", xp.any, input, dim, keepdim)


def all(input: Any, dim: Any = None, keepdim: bool = False) -> Tensor:  # noqa: A001,A002
    """True where every element (over ``dim``) is non-zero; a bool tensor.

    Example::

        >>> import retrograd as rg
        >>> rg.all(rg.tensor([[1.0, 1.0], [0.0, 1.0]]), dim=1).tolist()
        [True, False]
    """
    return _bool_reduce("all", xp.all, input, dim, keepdim)


def _moments(fn: str, input: Any, dim: Any, correction: Any, keepdim: bool, unbiased: Any) -> tuple:  # noqa: A002,E501
    from .reduce import mean, var

    x = ensure_tensor(input)
    if unbiased is not None:
        correction = 1 if unbiased else 0
    corr = 1 if correction is None else correction
    axis = _dims(dim, x.ndim, fn)
    return var(x, axis, keepdim=bool(keepdim), correction=corr), mean(x, axis, bool(keepdim))


def var_mean(
    input: Any,  # noqa: A002
    dim: Any = None,
    *,
    correction: Any = None,
    keepdim: bool = False,
    unbiased: bool | None = None,
) -> tuple:
    """(variance, mean) over ``dim``, with Bessel's ``correction`` (1 by default).

    Example::

        >>> import retrograd as rg
        >>> v, m = rg.var_mean(rg.tensor([1.0, 2.0, 3.0]))
        >>> v.item(), m.item()
        (1.0, 2.0)
    """
    return _moments("var_mean", input, dim, correction, keepdim, unbiased)


def std_mean(
    input: Any,  # noqa: A002
    dim: Any = None,
    *,
    correction: Any = None,
    keepdim: bool = False,
    unbiased: bool | None = None,
) -> tuple:
    """(standard deviation, mean) over ``dim``, with Bessel's ``correction``.

    Example::

        >>> import retrograd as rg
        >>> s, m = rg.std_mean(rg.tensor([1.0, 3.0]), correction=0)
        >>> s.item(), m.item()
        (1.0, 2.0)
    """
    from .elementwise import sqrt

    v, m = _moments("std_mean", input, dim, correction, keepdim, unbiased)
    return sqrt(v), m


def _ord(p: Any, fn: str) -> float:
    if isinstance(p, bool) or not isinstance(p, (int, float, xp.integer, xp.floating)):
        raise ValueError(f"{fn}: ord must be a number (or 'fro' for norm), got {p!r}")
    return float(p)


def vector_norm(
    x: Any,
    ord: Any = 2,  # noqa: A002 - PyTorch's name
    dim: Any = None,
    keepdim: bool = False,
    *,
    dtype: Any = None,
) -> Tensor:
    """The vector ``ord``-norm over ``dim`` (all elements when None): inf, -inf, 0, p > 0.

    Example::

        >>> import retrograd as rg
        >>> rg.ops.vector_norm(rg.tensor([3.0, -4.0])).item()
        5.0
    """
    t = ensure_tensor(x)
    p = _ord(ord, "vector_norm")
    if dtype is not None:
        from .elementwise import cast

        t = cast(t, dtype)
    elif t.data.dtype.kind not in "fc":
        raise TypeError(
            f"vector_norm: expected a floating-point tensor, got dtype {t.data.dtype} "
            "(pass dtype= to convert)"
        )
    axis = _dims(dim, t.ndim, "vector_norm")
    if axis is None and t.data.size == 0 and p < 0:
        raise ValueError("vector_norm: a negative ord over an empty tensor is undefined")
    return VectorNorm.apply(t, ord=p, axis=axis, keepdims=bool(keepdim))


def norm(
    input: Any,  # noqa: A002
    p: Any = "fro",
    dim: Any = None,
    keepdim: bool = False,
    dtype: Any = None,
) -> Tensor:
    """``torch.norm``: the vector p-norm over ``dim`` ("fro" is the 2-norm of all entries).

    The matrix norms of ``torch.linalg.matrix_norm`` ("nuc", spectral) are not provided.

    Example::

        >>> import retrograd as rg
        >>> rg.norm(rg.tensor([[3.0, 0.0], [0.0, 4.0]])).item()
        5.0
    """
    if p == "fro":
        p = 2
    elif isinstance(p, str):
        raise ValueError(f"norm: p must be a number or 'fro', got {p!r} ('nuc' is not provided)")
    return vector_norm(input, p, dim, keepdim, dtype=dtype)


def normalize(
    input: Any,  # noqa: A002
    p: float = 2.0,
    dim: int = 1,
    eps: float = 1e-12,
) -> Tensor:
    """``input / max(||input||_p, eps)`` along ``dim`` (``F.normalize``).

    Example::

        >>> import retrograd as rg
        >>> import retrograd.nn.functional as F
        >>> F.normalize(rg.tensor([[3.0, 4.0]])).tolist()
        [[0.6000000238418579, 0.800000011920929]]
    """
    from .elementwise import clip

    x = ensure_tensor(input)
    if isinstance(eps, bool) or not isinstance(eps, (int, float)) or eps < 0:
        raise ValueError(f"normalize: eps must be a non-negative number, got {eps!r}")
    n = vector_norm(x, p, dim, keepdim=True)
    return x / clip(n, min=eps)


class NanToZero(Function):
    """NaN entries replaced by 0; the gradient is multiplied by the not-NaN mask (so an
    inf gradient gives NaN there, as torch's nansum/nanmean backward)."""

    replay = "pure"

    def forward(self, a):
        self.keep = ~xp.isnan(a)
        return xp.where(self.keep, a, xp.zeros((), dtype=a.dtype))

    def backward(self, g):
        return (g * self.keep,)

    def backward_graph(self, g, out):
        return (g * Tensor._wrap(self.keep.astype(g.dtype), False, None),)


def _nan_zeroed(x: Any) -> tuple:
    x = ensure_tensor(x)
    if x.data.dtype.kind != "f":
        return x, None
    z = NanToZero.apply(x)
    return z, ~z._ctx.keep if z._ctx is not None else xp.isnan(x.data)


def nansum(
    input: Any,  # noqa: A002 - PyTorch's name
    dim: Any = None,
    keepdim: bool = False,
    *,
    dtype: Any = None,
) -> Tensor:
    """Sum treating NaN as 0 (NaN entries get a zero gradient).

    Example::

        >>> import retrograd as rg
        >>> rg.nansum(rg.tensor([1.0, float("nan"), 2.0])).item()
        3.0
    """
    from .reduce import sum as _sum

    z, _ = _nan_zeroed(input)
    return _sum(z, dim, keepdim, dtype=dtype)


def nanmean(
    input: Any,  # noqa: A002
    dim: Any = None,
    keepdim: bool = False,
    *,
    dtype: Any = None,
) -> Tensor:
    """Mean over the entries that are not NaN (NaN where all are NaN).

    Example::

        >>> import retrograd as rg
        >>> rg.nanmean(rg.tensor([1.0, float("nan"), 2.0])).item()
        1.5
    """
    from .reduce import sum as _sum

    x = ensure_tensor(input)
    if dtype is None and x.data.dtype.kind != "f":
        raise TypeError(
            f"nanmean: input dtype should be floating point, got {x.data.dtype} "
            "(pass dtype= or convert with .float())"
        )
    if dtype is not None:
        x = x.astype(dtype)
    z, nan = _nan_zeroed(x)
    count = _sum(Tensor._wrap((~nan).astype(x.data.dtype), False, None), dim, keepdim)
    with xp.errstate(invalid="ignore", divide="ignore"):
        return _sum(z, dim, keepdim) / count


__all__ = [
    "prod", "any", "all", "var_mean", "std_mean", "norm", "vector_norm", "nansum", "nanmean",
]  # fmt: skip
