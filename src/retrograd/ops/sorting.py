"""Sorting and order statistics: sort, argsort, msort, topk, kthvalue, median, mode; and
the non-differentiable unique, bincount, searchsorted.

The values are gathered from the input by the chosen indices (the :class:`Gather`
primitive), so each value's gradient flows back to the element it came from. Results
that torch returns as ``(values, indices)`` are the named tuples of
:mod:`retrograd.ops.return_types`.
"""

from __future__ import annotations

from typing import Any

from .._backend import xp
from ..autograd.tensor import Tensor
from . import return_types as rt
from ._util import ensure_tensor
from .indexing import Gather, dim_arg


def _indices(arr: Any) -> Tensor:
    return Tensor._wrap(xp.asarray(arr, dtype=xp.int64), False, None)


def _argsort(a: Any, dim: int, descending: bool) -> Any:
    """Stable argsort; descending keeps equal elements in their original order (as torch).

    NaN counts as larger than every number, as in PyTorch (NumPy already sorts it last).
    """
    if not descending:
        return xp.argsort(a, axis=dim, kind="stable")
    n = a.shape[dim]
    rev = xp.flip(a, axis=dim)
    return n - 1 - xp.flip(xp.argsort(rev, axis=dim, kind="stable"), axis=dim)


def _prepare(input: Any, dim: Any, fn: str) -> tuple:  # noqa: A002
    x = ensure_tensor(input)
    if x.data.dtype.kind == "c":
        raise TypeError(f"{fn}: complex tensors cannot be ordered")
    d = dim_arg(dim, x.ndim, fn)
    return x, d


def _take(x: Tensor, idx: Any, d: int, unique: bool) -> Tensor:
    if x.ndim == 0:
        return Gather.apply(x, index=idx.reshape(()), dim=0)
    return Gather.apply(x, index=idx, dim=d, unique=unique)


def _squeeze_dim(t: Tensor, d: int, keepdim: bool) -> Tensor:
    from .shape import reshape

    if keepdim or t.ndim == 0:
        return t
    return reshape(t, t.shape[:d] + t.shape[d + 1 :])


def sort(
    input: Any,  # noqa: A002 - PyTorch's name
    dim: int = -1,
    descending: bool = False,
    stable: bool = False,
) -> rt.sort:
    """Sort along ``dim``: a named tuple (values, indices). NaN sorts as the largest value.

    The sort is always stable (``stable`` is accepted for PyTorch's signature); the
    gradient of each value goes to the element it came from.

    Example::

        >>> import retrograd as rg
        >>> values, indices = rg.sort(rg.tensor([3.0, 1.0, 2.0]), descending=True)
        >>> values.tolist(), indices.tolist()
        ([3.0, 2.0, 1.0], [0, 2, 1])
    """
    x, d = _prepare(input, dim, "sort")
    if x.ndim == 0:
        return rt.sort(_take(x, xp.zeros((), xp.int64), 0, True), _indices(0))
    idx = _argsort(x.data, d, bool(descending))
    return rt.sort(_take(x, idx, d, True), _indices(idx))


def argsort(
    input: Any,  # noqa: A002
    dim: int = -1,
    descending: bool = False,
    stable: bool = False,
) -> Tensor:
    """The int64 indices that sort ``input`` along ``dim`` (stable; no gradient).

    Example::

        >>> import retrograd as rg
        >>> rg.argsort(rg.tensor([3.0, 1.0, 2.0])).tolist()
        [1, 2, 0]
    """
    x, d = _prepare(input, dim, "argsort")
    if x.ndim == 0:
        return _indices(0)
    return _indices(_argsort(x.data, d, bool(descending)))


def msort(input: Any) -> Tensor:  # noqa: A002
    """The input sorted along its first dimension (values only).

    Example::

        >>> import retrograd as rg
        >>> rg.msort(rg.tensor([[2.0, 1.0], [1.0, 3.0]])).tolist()
        [[1.0, 1.0], [2.0, 3.0]]
    """
    return sort(input, dim=0).values


def _check_k(k: Any, n: int, fn: str, lo: int) -> int:
    if isinstance(k, bool) or not isinstance(k, (int, xp.integer)):
        raise TypeError(f"{fn}: k must be an int, got {k!r}")
    if not lo <= k <= n:
        raise ValueError(f"{fn}: k must be in [{lo}, {n}] for a dimension of size {n}, got {k}")
    return int(k)


def topk(
    input: Any,  # noqa: A002
    k: int,
    dim: int = -1,
    largest: bool = True,
    sorted: bool = True,  # noqa: A002 - PyTorch's name
) -> rt.topk:
    """The ``k`` largest (or smallest) elements along ``dim``: (values, indices).

    Example::

        >>> import retrograd as rg
        >>> rg.topk(rg.tensor([1.0, 5.0, 3.0, 4.0]), 2).values.tolist()
        [5.0, 4.0]
    """
    x, d = _prepare(input, dim, "topk")
    n = x.shape[d] if x.ndim else 1
    k = _check_k(k, n, "topk", 0)
    if x.ndim == 0:
        from .shape import reshape

        v, i = topk(reshape(x, (1,)), k, 0, largest, sorted)
        return rt.topk(reshape(v, ()), _indices(i.data.reshape(()))) if k else rt.topk(v, i)
    idx = xp.take(_argsort(x.data, d, bool(largest)), xp.arange(k), axis=d)
    return rt.topk(_take(x, idx, d, True), _indices(idx))


def kthvalue(
    input: Any,  # noqa: A002
    k: int,
    dim: int = -1,
    keepdim: bool = False,
) -> rt.kthvalue:
    """The ``k``-th smallest element (1-based) along ``dim``: (values, indices).

    Example::

        >>> import retrograd as rg
        >>> rg.kthvalue(rg.tensor([4.0, 1.0, 3.0]), 2).values.item()
        3.0
    """
    x, d = _prepare(input, dim, "kthvalue")
    n = x.shape[d] if x.ndim else 1
    k = _check_k(k, n, "kthvalue", 1)
    if x.ndim == 0:
        return rt.kthvalue(_take(x, xp.zeros((), xp.int64), 0, True), _indices(0))
    idx = xp.take(_argsort(x.data, d, False), [k - 1], axis=d)
    values = _squeeze_dim(_take(x, idx, d, True), d, keepdim)
    return rt.kthvalue(values, _indices(idx if keepdim else xp.squeeze(idx, d)))


def _median_index(a: Any, d: int) -> Any:
    """Index of the lower median along ``d`` (of the first NaN where a slice holds one)."""
    n = a.shape[d]
    if n == 0:
        raise ValueError(f"median: cannot take the median of an empty dimension (shape {a.shape})")
    idx = xp.take(xp.argsort(a, axis=d, kind="stable"), [(n - 1) // 2], axis=d)
    if a.dtype.kind == "f":
        nan = xp.isnan(a)
        has = nan.any(axis=d, keepdims=True)
        if has.any():
            first = xp.argmax(nan, axis=d, keepdims=True)
            idx = xp.where(has, first, idx)
    return idx


def median(input: Any, dim: int | None = None, keepdim: bool = False) -> Any:  # noqa: A002
    """The lower median (no averaging, as PyTorch); NaN if the slice holds a NaN.

    Without ``dim``: a 0-d tensor, the median of all elements. With ``dim``: a named
    tuple (values, indices).

    Example::

        >>> import retrograd as rg
        >>> rg.median(rg.tensor([4.0, 1.0, 3.0, 2.0])).item()
        2.0
    """
    x = ensure_tensor(input)
    if dim is None:
        from .shape import reshape

        flat = reshape(x, (-1,))
        if flat.shape[0] == 0:
            raise ValueError("median: cannot take the median of an empty tensor")
        idx = _median_index(flat.data, 0)
        return reshape(_take(flat, idx, 0, True), ())
    x, d = _prepare(x, dim, "median")
    if x.ndim == 0:
        return rt.median(_take(x, xp.zeros((), xp.int64), 0, True), _indices(0))
    idx = _median_index(x.data, d)
    values = _squeeze_dim(_take(x, idx, d, True), d, keepdim)
    return rt.median(values, _indices(idx if keepdim else xp.squeeze(idx, d)))


def mode(input: Any, dim: int = -1, keepdim: bool = False) -> rt.mode:  # noqa: A002
    """The most frequent value along ``dim`` (the smallest among equally frequent ones).

    Returns (values, indices); the index is that of the value's last occurrence, as
    PyTorch's CPU kernel gives.

    Example::

        >>> import retrograd as rg
        >>> rg.mode(rg.tensor([2.0, 1.0, 2.0, 1.0, 3.0])).values.item()
        1.0
    """
    x, d = _prepare(input, dim, "mode")
    if x.ndim == 0:
        return rt.mode(_take(x, xp.zeros((), xp.int64), 0, True), _indices(0))
    a = xp.moveaxis(x.data, d, -1)
    n = a.shape[-1]
    if n == 0:
        raise ValueError(f"mode: cannot take the mode of an empty dimension (shape {x.shape})")
    order = xp.argsort(a, axis=-1, kind="stable")
    s = xp.take_along_axis(a, order, axis=-1)
    # Run lengths in the sorted slice: the first longest run is the smallest modal value.
    new = xp.ones(s.shape, dtype=bool)
    new[..., 1:] = s[..., 1:] != s[..., :-1]
    start = xp.maximum.accumulate(xp.where(new, xp.arange(n), 0), axis=-1)
    length = xp.arange(n) - start + 1
    best = xp.argmax(length, axis=-1)[..., None]  # end of the first longest run
    value = xp.take_along_axis(s, best, axis=-1)
    last = n - 1 - xp.argmax(xp.flip(a == value, axis=-1), axis=-1)[..., None]
    idx = xp.moveaxis(last, -1, d)
    values = _squeeze_dim(_take(x, idx, d, False), d, keepdim)
    return rt.mode(values, _indices(idx if keepdim else xp.squeeze(idx, d)))


def unique(
    input: Any,  # noqa: A002
    sorted: bool = True,  # noqa: A002 - PyTorch's name
    return_inverse: bool = False,
    return_counts: bool = False,
    dim: int | None = None,
) -> Any:
    """The distinct values (sorted), with the inverse indices and counts on request, as
    ``torch.unique`` (``dim`` picks distinct slices). Not differentiable.

    Example::

        >>> import retrograd as rg
        >>> out, inv = rg.unique(rg.tensor([3, 1, 3, 2]), return_inverse=True)
        >>> out.tolist(), inv.tolist()
        ([1, 2, 3], [2, 0, 2, 1])
    """
    x = ensure_tensor(input)
    a = x.data
    if dim is None:
        vals, inv, counts = xp.unique(a.reshape(-1), return_inverse=True, return_counts=True)
        inv = inv.reshape(a.shape)
    else:
        d = dim_arg(dim, a.ndim, "unique")
        moved = xp.moveaxis(a, d, 0)
        vals, inv, counts = xp.unique(moved.reshape(moved.shape[0], -1) if moved.size
                                      else moved.reshape(moved.shape[0], 0), axis=0,
                                      return_inverse=True, return_counts=True)  # fmt: skip
        vals = xp.moveaxis(vals.reshape((-1,) + moved.shape[1:]), 0, d)
        inv = inv.reshape(-1)
    out = Tensor._wrap(xp.ascontiguousarray(vals), False, None)
    extra = []
    if return_inverse:
        extra.append(_indices(inv))
    if return_counts:
        extra.append(_indices(counts))
    return (out, *extra) if extra else out


def bincount(input: Any, weights: Any = None, minlength: int = 0) -> Tensor:  # noqa: A002
    """How many times each non-negative integer occurs in the 1-D ``input`` (int64), or
    the summed ``weights`` (in the weights' float dtype). Not differentiable.

    Example::

        >>> import retrograd as rg
        >>> rg.bincount(rg.tensor([0, 2, 2])).tolist()
        [1, 0, 2]
    """
    x = ensure_tensor(input)
    a = x.data
    if a.ndim != 1 or a.dtype.kind not in "iub":
        raise ValueError(
            f"bincount: input must be a 1-D tensor of non-negative integers, got dtype "
            f"{a.dtype} and shape {a.shape}"
        )
    if a.size and int(a.min()) < 0:
        raise ValueError(f"bincount: input must be non-negative, got {int(a.min())}")
    if minlength < 0:
        raise ValueError(f"bincount: minlength must be >= 0, got {minlength}")
    if weights is None:
        return _indices(xp.bincount(a, minlength=minlength))
    w = ensure_tensor(weights).data
    if w.shape != a.shape:
        raise ValueError(f"bincount: weights of shape {w.shape} must match input {a.shape}")
    out = xp.bincount(a, weights=w, minlength=minlength)
    return Tensor._wrap(out.astype(w.dtype if w.dtype.kind == "f" else xp.float64), False, None)


def searchsorted(
    sorted_sequence: Any,
    input: Any,  # noqa: A002
    *,
    out_int32: bool = False,
    right: bool = False,
    side: str | None = None,
    sorter: Any = None,
) -> Tensor:
    """Indices where ``input`` would be inserted to keep ``sorted_sequence`` sorted along
    its last dimension (1-D, or one row per leading index of ``input``), as torch.

    Example::

        >>> import retrograd as rg
        >>> rg.searchsorted(rg.tensor([1.0, 3.0, 5.0]), rg.tensor([3.0, 6.0])).tolist()
        [1, 3]
    """
    seq = ensure_tensor(sorted_sequence).data
    v = input.data if isinstance(input, Tensor) else xp.asarray(input)
    if side is not None:
        if side not in ("left", "right"):
            raise ValueError(f"searchsorted: side must be 'left' or 'right', got {side!r}")
        if right and side == "left":
            raise ValueError("searchsorted: side='left' contradicts right=True")
        right = side == "right"
    how = "right" if right else "left"
    order = None if sorter is None else ensure_tensor(sorter).data
    dt = xp.int32 if out_int32 else xp.int64
    if seq.ndim == 1:
        return Tensor._wrap(xp.searchsorted(seq, v, side=how, sorter=order).astype(dt), False, None)
    if v.ndim == 0 or seq.shape[:-1] != v.shape[:-1]:
        raise ValueError(
            f"searchsorted: a sorted_sequence of shape {seq.shape} needs input with the same "
            f"leading dimensions {seq.shape[:-1]}, got {v.shape}"
        )
    s2, v2 = seq.reshape(-1, seq.shape[-1]), v.reshape(-1, v.shape[-1])
    o2 = None if order is None else order.reshape(-1, seq.shape[-1])
    rows = [xp.searchsorted(s2[i], v2[i], side=how, sorter=None if o2 is None else o2[i])
            for i in range(s2.shape[0])]  # fmt: skip
    out = xp.stack(rows).reshape(v.shape) if rows else xp.zeros(v.shape, dtype=xp.int64)
    return Tensor._wrap(out.astype(dt), False, None)


__all__ = ["sort", "argsort", "msort", "topk", "kthvalue", "median", "mode", "unique",
           "bincount", "searchsorted"]  # fmt: skip
