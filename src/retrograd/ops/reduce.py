"""Reductions: sum, mean, max, min, logsumexp (primitives) and var, std (composites).

Every reduction takes PyTorch's ``dim``/``keepdim`` and NumPy's ``axis``/``keepdims`` as
aliases. A 0-d tensor accepts dim 0 and -1, as in PyTorch.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from .._backend import xp
from .._warnings import warn_user
from ..autograd.function import Function
from ..autograd.tensor import Axis, Tensor, TensorLike
from ._graph import const, spread
from ._util import (
    add_reduce,
    ensure_tensor,
    expand_reduced,
    float_arg,
    pick_dim,
    pick_keepdim,
    reduce_dims,
)


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
        if a.size == 0:
            # NOTE: the mean over an empty dim is nan (PyTorch's value): 0 / 0, without
            # the warning NumPy's mean prints.
            with xp.errstate(invalid="ignore"):
                out = xp.asarray(add_reduce(a, axis=axis, keepdims=keepdims) / a.dtype.type(0))
            self.count = 0
            return out
        out = xp.asarray(a.mean(axis=axis, keepdims=keepdims))
        self.count = a.size // out.size
        return out

    def backward(self, g):
        g = expand_reduced(g, self.shape, self.axis, self.keepdims)
        if self.count == 0:  # an empty input: its gradient is empty too (or all zero)
            return (xp.zeros(self.shape, dtype=g.dtype),)
        return (xp.broadcast_to(g / self.count, self.shape),)

    def backward_graph(self, g, out):
        return (spread(g, self.shape, self.axis, self.keepdims) / float(self.count),)


class MaxDim(Function):
    """The values of ``max(dim)``/``min(dim)``: the gradient goes to the returned index only.

    (PyTorch's rule for ``max(dim)``; the full reduction ``max()`` and ``amax`` share the
    gradient among ties instead.)
    """

    replay = "pure"  # the index is chosen inside forward, from the array itself

    def forward(self, a, axis=0, keepdims=False, largest=True):
        self.shape, self.axis, self.keepdims = a.shape, axis, keepdims
        idx = a.argmax(axis=axis, keepdims=True) if largest else a.argmin(axis=axis, keepdims=True)
        self.idx = idx
        out = xp.take_along_axis(a, idx, axis=axis)
        return out if keepdims else out.squeeze(axis)

    def backward(self, g):
        g = g if self.keepdims else xp.expand_dims(g, self.axis)
        out = xp.zeros(self.shape, dtype=g.dtype)
        xp.put_along_axis(out, self.idx, g, axis=self.axis)
        return (out,)

    def backward_graph(self, g, out):
        # Linear in g: g spread along the axis, kept at the chosen index only (a constant
        # one-hot mask, locally constant in the input).
        mask = xp.zeros(self.shape, dtype=g.data.dtype)
        xp.put_along_axis(mask, self.idx, 1, axis=self.axis)
        return (spread(g, self.shape, self.axis, self.keepdims) * const(mask),)


class _TiesShare:
    """The gradient of a full-window ``max``/``min`` (``amax``/``amin``): ties share it
    evenly (PyTorch's amax/amin rule), so the routed gradient still sums to g. A mixin, not
    a primitive: :class:`Max` and :class:`Min` set ``self.a`` and ``self.out`` (kept dims)."""

    a: Any
    out: Any
    axis: Any
    keepdims: bool

    def backward(self, g):
        mask = self.a == self.out
        count = mask.sum(axis=self.axis, keepdims=True)
        g = expand_reduced(g, self.a.shape, self.axis, self.keepdims)
        return (mask * (g / count).astype(g.dtype, copy=False),)

    def backward_graph(self, g, out):
        # The tie mask is locally constant in the input.
        mask = self.a == self.out
        w = (mask / mask.sum(axis=self.axis, keepdims=True)).astype(g.dtype, copy=False)
        return (spread(g, self.a.shape, self.axis, self.keepdims) * w,)


class Max(_TiesShare, Function):
    replay = "pure"

    def forward(self, a, axis=None, keepdims=False):
        self.a, self.axis, self.keepdims = a, axis, keepdims
        self.out = xp.asarray(a.max(axis=axis, keepdims=True))
        return self.out if keepdims else _squeeze(self.out, axis)


class Min(_TiesShare, Function):
    replay = "pure"

    def forward(self, a, axis=None, keepdims=False):
        self.a, self.axis, self.keepdims = a, axis, keepdims
        self.out = xp.asarray(a.min(axis=axis, keepdims=True))
        return self.out if keepdims else _squeeze(self.out, axis)


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


class MaxMin(NamedTuple):
    """What ``max(dim)`` and ``min(dim)`` return, as in PyTorch: values and their indices."""

    values: Tensor
    indices: Tensor


def _reduce(cls, x, dim, keepdim, name):
    x = ensure_tensor(x)
    axis = None if dim is None else reduce_dims(name, dim, x._data.ndim)
    if (cls is Max or cls is Min) and x._data.size == 0:
        raise ValueError(f"{name}: cannot reduce an empty tensor (shape {x.shape})")
    return cls.apply(x, axis=axis, keepdims=keepdim)


def sum(  # noqa: A001
    x: TensorLike,
    dim: Axis = None,
    keepdim: bool = False,
    *,
    dtype: Any = None,
    axis: Axis = None,
    keepdims: bool | None = None,
) -> Tensor:
    """Sum over ``dim`` (all dims when None); ``axis``/``keepdims`` are aliases.

    Example::

        >>> import retrograd as rg
        >>> rg.tensor([[1.0, 2.0], [3.0, 4.0]]).sum(dim=0)
        tensor([4., 6.])
    """
    if dim is None and axis is None and keepdims is None and dtype is None:
        # x.sum(): the common case, without the argument juggling below
        return Sum.apply(x if isinstance(x, Tensor) else Tensor(x), keepdims=bool(keepdim))
    x = _with_dtype(x, dtype, "sum")
    return _reduce(
        Sum, x, pick_dim("sum", dim, axis), pick_keepdim("sum", keepdim, keepdims), "sum"
    )


def mean(
    x: TensorLike,
    dim: Axis = None,
    keepdim: bool = False,
    *,
    dtype: Any = None,
    axis: Axis = None,
    keepdims: bool | None = None,
) -> Tensor:
    """Arithmetic mean over ``dim``; the mean over an empty dim is nan, as in PyTorch.

    Example::

        >>> import retrograd as rg
        >>> rg.tensor([[1.0, 2.0], [3.0, 4.0]]).mean(dim=1).tolist()
        [1.5, 3.5]
    """
    x = ensure_tensor(x)
    if dtype is None and x.data.dtype.kind not in "fc":
        raise TypeError(
            f"mean: input dtype should be floating point, got {x.data.dtype} "
            "(pass dtype= or convert with .float())"
        )
    x = _with_dtype(x, dtype, "mean")
    d = pick_dim("mean", dim, axis)
    return _reduce(Mean, x, d, pick_keepdim("mean", keepdim, keepdims), "mean")


def _with_dtype(x: Any, dtype: Any, fn: str) -> Tensor:
    x = ensure_tensor(x)
    if dtype is None:
        return x
    from .elementwise import cast

    return cast(x, dtype)


def _max_min(cls, fn, x, dim, keepdim, axis, keepdims):
    x = ensure_tensor(x)
    keep = pick_keepdim(fn, keepdim, keepdims)
    if isinstance(dim, Tensor):
        # torch.max(a, b): the elementwise maximum.
        from .elementwise import maximum, minimum

        return (maximum if cls is Max else minimum)(x, dim)
    if axis is not None:
        # NumPy's spelling keeps NumPy's meaning: the values only (as amax/amin).
        return _reduce(cls, x, pick_dim(fn, dim, axis), keep, fn)
    if dim is None:
        return _reduce(cls, x, None, keep, fn)
    if not isinstance(dim, (int, xp.integer)) or isinstance(dim, bool):
        raise TypeError(f"{fn}: dim must be an int (use amax/amin for several dims), got {dim!r}")
    if x.data.size == 0:
        raise ValueError(f"{fn}: cannot reduce an empty tensor (shape {x.shape})")
    d = reduce_dims(fn, int(dim), x.ndim)
    if d is None:  # a 0-d tensor: the value itself (a copy in the graph), index 0
        return MaxMin(Max.apply(x, axis=None, keepdims=False), _zero_index())
    values = MaxDim.apply(x, axis=d, keepdims=keep, largest=cls is Max)
    arr = x.data.argmax(axis=d, keepdims=keep) if cls is Max else x.data.argmin(d, keepdims=keep)
    return MaxMin(values, Tensor._wrap(xp.asarray(arr, dtype=xp.int64), False, None))


def _zero_index() -> Tensor:
    return Tensor._wrap(xp.zeros((), dtype=xp.int64), False, None)


def max(  # noqa: A001
    x: TensorLike,
    dim: Any = None,
    keepdim: bool = False,
    *,
    axis: Axis = None,
    keepdims: bool | None = None,
) -> Any:
    """The maximum, PyTorch's three forms.

    ``max(x)``: the largest value (ties share the gradient evenly); ``max(x, dim)``: a
    ``(values, indices)`` named tuple, the gradient going to the returned index;
    ``max(x, other_tensor)``: the elementwise maximum. NumPy's ``axis=`` (int or tuple)
    gives the values only, as :func:`amax` does.

    Example::

        >>> import retrograd as rg
        >>> x = rg.tensor([[1.0, 5.0], [4.0, 3.0]])
        >>> x.max().item(), x.max(dim=0).values.tolist(), x.max(dim=1).indices.tolist()
        (5.0, [4.0, 5.0], [1, 0])
    """
    return _max_min(Max, "max", x, dim, keepdim, axis, keepdims)


def min(  # noqa: A001
    x: TensorLike,
    dim: Any = None,
    keepdim: bool = False,
    *,
    axis: Axis = None,
    keepdims: bool | None = None,
) -> Any:
    """The minimum: ``min(x)``, ``min(x, dim)`` -> (values, indices), ``min(x, other)``.

    Example::

        >>> import retrograd as rg
        >>> x = rg.tensor([[1.0, 5.0], [3.0, 4.0]])
        >>> x.min().item(), x.min(dim=1).values.tolist()
        (1.0, [1.0, 3.0])
    """
    return _max_min(Min, "min", x, dim, keepdim, axis, keepdims)


def amax(
    x: TensorLike,
    dim: Axis = (),
    keepdim: bool = False,
    *,
    axis: Axis = None,
    keepdims: bool | None = None,
) -> Tensor:
    """Maximum over ``dim`` (an int or a tuple; all dims by default); ties share the gradient.

    Example::

        >>> import retrograd as rg
        >>> rg.amax(rg.tensor([[1.0, 5.0], [3.0, 4.0]]), dim=0).tolist()
        [3.0, 5.0]
    """
    d = pick_dim("amax", None if dim == () else dim, axis)
    return _reduce(Max, x, d, pick_keepdim("amax", keepdim, keepdims), "amax")


def amin(
    x: TensorLike,
    dim: Axis = (),
    keepdim: bool = False,
    *,
    axis: Axis = None,
    keepdims: bool | None = None,
) -> Tensor:
    """Minimum over ``dim`` (an int or a tuple; all dims by default); ties share the gradient.

    Example::

        >>> import retrograd as rg
        >>> rg.amin(rg.tensor([[1.0, 5.0], [3.0, 4.0]]), dim=1).tolist()
        [1.0, 3.0]
    """
    d = pick_dim("amin", None if dim == () else dim, axis)
    return _reduce(Min, x, d, pick_keepdim("amin", keepdim, keepdims), "amin")


def argmax(
    x: TensorLike,
    dim: int | None = None,
    keepdim: bool = False,
    *,
    axis: int | None = None,
    keepdims: bool | None = None,
) -> Tensor:
    """Index of the largest value along ``dim`` (of the flattened tensor when None).

    Example::

        >>> import retrograd as rg
        >>> rg.argmax(rg.tensor([[1.0, 5.0], [4.0, 3.0]]), dim=1).tolist()
        [1, 0]
    """
    return _arg(
        x, "argmax", pick_dim("argmax", dim, axis), pick_keepdim("argmax", keepdim, keepdims)
    )


def argmin(
    x: TensorLike,
    dim: int | None = None,
    keepdim: bool = False,
    *,
    axis: int | None = None,
    keepdims: bool | None = None,
) -> Tensor:
    """Index of the smallest value along ``dim`` (of the flattened tensor when None).

    Example::

        >>> import retrograd as rg
        >>> rg.argmin(rg.tensor([[1.0, 5.0], [3.0, 4.0]]), dim=0).tolist()
        [0, 1]
    """
    return _arg(
        x, "argmin", pick_dim("argmin", dim, axis), pick_keepdim("argmin", keepdim, keepdims)
    )


def _arg(x: Any, fn: str, dim: Any, keep: bool) -> Tensor:
    x = ensure_tensor(x)
    if x.data.size == 0:
        raise ValueError(f"{fn}: cannot reduce an empty tensor (shape {x.shape})")
    if dim is not None and not isinstance(dim, (int, xp.integer)):
        raise TypeError(f"{fn}: dim must be an int or None, got {dim!r}")
    d = reduce_dims(fn, dim, x.ndim)
    a = x.data
    if d is None:
        out = a.argmax() if fn == "argmax" else a.argmin()
        if keep:  # PyTorch keeps every dim as size 1
            out = xp.reshape(out, (1,) * a.ndim)
    else:
        out = a.argmax(d, keepdims=keep) if fn == "argmax" else a.argmin(d, keepdims=keep)
    return Tensor._wrap(xp.asarray(out, dtype=xp.int64), False, None)


def logsumexp(
    x: TensorLike,
    dim: Axis = None,
    keepdim: bool = False,
    *,
    axis: Axis = None,
    keepdims: bool | None = None,
) -> Tensor:
    """log(sum(exp(x))) over ``dim``, computed without overflow.

    Example::

        >>> import retrograd as rg
        >>> rg.logsumexp(rg.tensor([1e4, -1e4])).item()  # no overflow to inf
        10000.0
    """
    d = pick_dim("logsumexp", dim, axis)
    x = float_arg(x)
    return _reduce(LogSumExp, x, d, pick_keepdim("logsumexp", keepdim, keepdims), "logsumexp")


def _correction(fn: str, unbiased: Any, correction: Any) -> float:
    if unbiased is not None:
        if correction is not None:
            raise TypeError(f"{fn}: got both unbiased and correction; pass one of them")
        return 1 if unbiased else 0
    return 1 if correction is None else correction


def var(
    x: TensorLike,
    dim: Axis = None,
    unbiased: bool | None = None,
    keepdim: bool = False,
    *,
    correction: float | None = None,
    axis: Axis = None,
    keepdims: bool | None = None,
) -> Tensor:
    """Variance over ``dim`` with Bessel's ``correction`` (1 by default, as PyTorch).

    With no more elements than ``correction`` the result is nan or inf (PyTorch's value)
    and a warning says so.

    Example::

        >>> import retrograd as rg
        >>> rg.ops.var(rg.tensor([1.0, 2.0, 3.0])).item()
        1.0
    """
    if isinstance(unbiased, (int, xp.integer)) and not isinstance(unbiased, bool):
        raise TypeError(f"var: unbiased must be a bool, got {unbiased!r} (keepdim is keyword-only)")
    x = ensure_tensor(x)
    c = _correction("var", unbiased, correction)
    keep = pick_keepdim("var", keepdim, keepdims)
    axis_n = reduce_dims("var", pick_dim("var", dim, axis), x.ndim)
    if axis_n is None:
        n = x.data.size
    elif isinstance(axis_n, int):
        n = x.shape[axis_n]
    else:
        n = 1
        for a in axis_n:
            n *= x.shape[a]
    d = x - mean(x, axis_n, keepdim=True)
    ss = sum(d * d, axis_n, keep)
    if n - c <= 0:
        warn_user(
            f"var/std: degrees of freedom <= 0 ({n} element(s) per reduction, "
            f"correction={c}): the result is nan or inf, as in PyTorch"
        )
        # 0/0 = nan and x/0 = inf, PyTorch's values, without NumPy's divide warnings.
        from .elementwise import Div

        zero = Tensor._wrap(xp.zeros((), dtype=ss.data.dtype), False, None)
        with xp.errstate(invalid="ignore", divide="ignore"):
            return Div.apply(ss, zero)
    return ss / (n - c)


def std(
    x: TensorLike,
    dim: Axis = None,
    unbiased: bool | None = None,
    keepdim: bool = False,
    *,
    correction: float | None = None,
    axis: Axis = None,
    keepdims: bool | None = None,
) -> Tensor:
    """Standard deviation over ``dim`` (square root of :func:`var`).

    Example::

        >>> import retrograd as rg
        >>> rg.ops.std(rg.tensor([1.0, 3.0]), correction=0).item()
        1.0
    """
    from .elementwise import sqrt

    v = var(x, dim, unbiased, keepdim, correction=correction, axis=axis, keepdims=keepdims)
    return sqrt(v)


__all__ = [
    "sum", "mean", "max", "min", "amax", "amin", "argmax", "argmin", "logsumexp", "var",
    "std", "MaxMin",
]  # fmt: skip
