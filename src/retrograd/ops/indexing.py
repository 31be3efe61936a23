"""Indexing along a dimension: gather, scatter, scatter_add, scatter_reduce, index_select,
masked_select, take_along_dim, nonzero and one_hot, with PyTorch's rules.

Indices are int64 tensors (or arrays); every index is checked against the dimension it
indexes, so a bad index raises an error naming the op instead of reading or writing the
wrong element.
"""

from __future__ import annotations

from typing import Any

from .._backend import xp
from ..autograd.function import Function
from ..autograd.tensor import Tensor
from ._util import ensure_tensor

# ------------------------------------------------------------------------- helpers


def dim_arg(dim: Any, ndim: int, fn: str, arg: str = "dim") -> int:
    """``dim`` as a non-negative int; a 0-d tensor accepts 0 and -1, as in PyTorch."""
    if isinstance(dim, bool) or not isinstance(dim, (int, xp.integer)):
        raise TypeError(f"{fn}: {arg} must be an int, got {dim!r}")
    n = ndim if ndim > 0 else 1
    if not -n <= dim < n:
        raise IndexError(
            f"{fn}: {arg} {dim} is out of range for a tensor with {ndim} dimensions "
            f"(expected {-n} <= {arg} < {n})"
        )
    return int(dim) % n


def index_array(index: Any, fn: str, arg: str = "index") -> Any:
    """The int64 array of an index argument (a Tensor, ndarray or list)."""
    arr = index.data if isinstance(index, Tensor) else xp.asarray(index)
    if arr.dtype.kind not in "iu":
        raise TypeError(f"{fn}: {arg} must be an integer (int64) tensor, got dtype {arr.dtype}")
    return arr.astype(xp.int64, copy=False)


def _full_index(index: Any, dim: int) -> tuple:
    """Index tuple that picks ``a[i0, .., index[i], .., ik]`` for every position i of index."""
    out = []
    for k, n in enumerate(index.shape):
        if k == dim:
            out.append(index)
        else:
            shape = [1] * index.ndim
            shape[k] = n
            out.append(xp.arange(n).reshape(shape))
    return tuple(out)


def _check_along(x: Tensor, index: Any, dim: int, fn: str, src_shape: Any = None) -> None:
    if index.ndim != max(x.ndim, 1) and not (x.ndim == 0 and index.ndim == 0):
        raise ValueError(
            f"{fn}: index must have as many dimensions as input ({x.ndim}), got shape {index.shape}"
        )
    xs = x.shape if x.ndim else (1,)
    for k, n in enumerate(index.shape):
        if k != dim and n > xs[k]:
            raise ValueError(
                f"{fn}: index has shape {index.shape}, larger than input {x.shape} in "
                f"dimension {k} (only the gathered dimension {dim} may be larger)"
            )
        if src_shape is not None and n > src_shape[k]:
            raise ValueError(
                f"{fn}: index has shape {index.shape}, larger than src {tuple(src_shape)} in "
                f"dimension {k}"
            )
    if index.size:
        lo, hi = int(index.min()), int(index.max())
        if lo < 0 or hi >= xs[dim]:
            bad = lo if lo < 0 else hi
            raise IndexError(
                f"{fn}: index {bad} is out of bounds for dimension {dim} with size {xs[dim]}"
            )


def _src_slice(index: Any) -> tuple:
    return tuple(slice(0, n) for n in index.shape)


# ---------------------------------------------------------------------- primitives


class Gather(Function):
    """``out[i] = a[i with i[dim] replaced by index[i]]``; the VJP adds g back in place."""

    replay = "pure"

    def forward(self, a, index=None, dim=0, unique=False):
        self.shape, self.unique = a.shape, unique
        self.idx = _full_index(index, dim) if a.ndim else ()
        return a[self.idx] if a.ndim else a.copy()

    def backward(self, g):
        if not self.idx:
            return (g,)
        out = xp.zeros(self.shape, dtype=g.dtype)
        if self.unique:
            out[self.idx] = g  # a permutation (sort): no position repeats
        else:
            # NOTE: repeated indices must add up; plain `out[idx] += g` keeps one of them.
            xp.add.at(out, self.idx, g)
        return (out,)

    def backward_graph(self, g, out):
        from ._graph import scatter

        if not self.idx:
            return (g,)
        return (scatter(g, self.shape, self.idx, advanced=not self.unique),)


class Scatter(Function):
    """A copy of ``a`` with ``src`` written at the indexed places (the last write wins)."""

    replay = "pure"

    def forward(self, a, src, index=None, dim=0):
        self.idx = _full_index(index, dim)
        self.src_shape, self.sl = src.shape, _src_slice(index)
        out = a.copy()
        out[self.idx] = src[self.sl] if src.ndim else src
        return out

    def backward(self, g):
        na, ns = self.needs
        ga = gs = None
        if na:
            ga = g.copy()
            ga[self.idx] = 0
        if ns:
            # PyTorch's rule: src gets g gathered at its target (also for repeated targets).
            picked = g[self.idx]
            if len(self.src_shape) == 0:
                gs = picked.sum()
            else:
                gs = xp.zeros(self.src_shape, dtype=g.dtype)
                gs[self.sl] = picked
        return ga, gs

    def backward_graph(self, g, out):
        from ._graph import scatter
        from .reduce import Sum
        from .shape import GetItem

        na, ns = self.needs
        ga = gs = None
        if na:
            keep = xp.ones(g.shape, dtype=g.dtype)
            keep[self.idx] = 0
            ga = g * keep
        if ns:
            picked = GetItem.apply(g, index=self.idx)
            if len(self.src_shape) == 0:
                gs = Sum.apply(picked, axis=None, keepdims=False)
            else:
                gs = scatter(picked, self.src_shape, self.sl, advanced=False)
        return ga, gs


class ScatterReduce(Function):
    """scatter_add and scatter_reduce: src reduced into a copy of ``a`` at the indices."""

    replay = "pure"

    def forward(self, a, src, index=None, dim=0, reduce="sum", include_self=True):
        idx = _full_index(index, dim)
        s = src[_src_slice(index)]
        self.a, self.s, self.idx, self.reduce = a, s, idx, reduce
        self.src_shape, self.sl, self.include_self = src.shape, _src_slice(index), include_self
        hit = xp.zeros(a.shape, dtype=bool)
        hit[idx] = True
        self.hit = hit
        out = a.copy()
        if not include_self:
            ident = {"sum": 0, "mean": 0, "prod": 1, "amax": -xp.inf, "amin": xp.inf}[reduce]
            if a.dtype.kind in "iu" and reduce in ("amax", "amin"):
                info = xp.iinfo(a.dtype)
                ident = info.min if reduce == "amax" else info.max
            out[hit] = ident
        if reduce in ("sum", "mean"):
            xp.add.at(out, idx, s)
        elif reduce == "prod":
            xp.multiply.at(out, idx, s)
        elif reduce == "amax":
            xp.maximum.at(out, idx, s)
        else:
            xp.minimum.at(out, idx, s)
        if reduce == "mean":
            count = xp.zeros(a.shape, dtype=a.dtype)
            xp.add.at(count, idx, 1)
            count = count + (1 if include_self else 0)
            count[count == 0] = 1
            self.count = count
            out = out / count if a.dtype.kind == "f" else xp.floor_divide(out, count)
        self.out = out
        return out

    def backward(self, g):
        na, ns = self.needs
        idx, red, hit = self.idx, self.reduce, self.hit
        own = xp.ones(self.a.shape, dtype=bool) if self.include_self else ~hit
        if red == "sum":
            ga, gsrc = g * own, g[idx]
        elif red == "mean":
            gc = g / self.count
            ga, gsrc = xp.where(hit, gc, g) * own, gc[idx]
        elif red in ("amax", "amin"):
            out = self.out
            self_tie = (self.a == out) & own
            src_tie = self.s == out[idx]
            count = self_tie.astype(g.dtype)
            xp.add.at(count, idx, src_tie)
            count[count == 0] = 1
            gc = g / count
            ga, gsrc = gc * self_tie, gc[idx] * src_tie
        else:
            ga, gsrc = _scatter_prod_grads(self, g, own)
        gs = None
        if ns:
            gs = xp.zeros(self.src_shape, dtype=g.dtype)
            gs[self.sl] = gsrc
        return (ga if na else None), gs

    def backward_graph(self, g, out):
        from ._graph import first_order_only_here, scatter
        from .shape import GetItem

        na, ns = self.needs
        idx, red, hit = self.idx, self.reduce, self.hit
        dt = g.dtype
        own = xp.ones(self.a.shape, dtype=bool) if self.include_self else ~hit
        # Each rule is linear in g with weights locally constant in a and src.
        if red == "sum":
            wa, wsrc = own.astype(dt), None
        elif red == "mean":
            wa = xp.where(hit, 1 / self.count, 1).astype(dt) * own
            wsrc = (1 / self.count)[idx].astype(dt)
        elif red in ("amax", "amin"):
            self_tie = (self.a == self.out) & own
            src_tie = self.s == self.out[idx]
            count = self_tie.astype(dt)
            xp.add.at(count, idx, src_tie)
            count[count == 0] = 1
            wa, wsrc = self_tie / count, (src_tie / count[idx]).astype(dt)
        else:
            first_order_only_here("ScatterReduce", "with reduce='prod'")
        ga = gs = None
        if na:
            ga = g * wa
        if ns:
            gsrc = GetItem.apply(g, index=idx)
            if wsrc is not None:
                gsrc = gsrc * wsrc
            gs = scatter(gsrc, self.src_shape, self.sl, advanced=False)
        return ga, gs


def _scatter_prod_grads(fn: ScatterReduce, g: Any, own: Any) -> tuple:
    """Gradient of a scattered product that stays exact when factors are zero.

    Each output is a product of its own factors (``a`` when included, plus the src values
    sent to it); the derivative by one factor is the product of the others: out / factor
    when no factor is zero, the product of the non-zero factors for the only zero, else 0.
    """
    a, s, idx = fn.a, fn.s, fn.idx
    a_own = xp.where(own, a, 1)
    zeros = (a_own == 0).astype(xp.int64)
    xp.add.at(zeros, idx, (s == 0).astype(xp.int64))
    nz_prod = xp.where(a_own == 0, 1, a_own).astype(g.dtype)
    xp.multiply.at(nz_prod, idx, xp.where(s == 0, 1, s))

    def others(v, z, p):
        with xp.errstate(divide="ignore", invalid="ignore"):
            safe = xp.where(v == 0, 1, v)
            return xp.where(v == 0, xp.where(z == 1, p, 0), xp.where(z == 0, p / safe, 0))

    ga = g * others(a_own, zeros, nz_prod) * own
    gsrc = g[idx] * others(s, zeros[idx], nz_prod[idx])
    return ga, gsrc


# ------------------------------------------------------------------ public functions


def gather(input: Any, dim: int, index: Any) -> Tensor:  # noqa: A002 - PyTorch's name
    """``out[i][j] = input[index[i][j]][j]`` for dim 0 (and so on): values along ``dim``.

    ``index`` is an int64 tensor with the input's number of dimensions, no larger than the
    input except along ``dim``; the result has its shape. Repeated indices add up in the
    gradient.

    Example::

        >>> import retrograd as rg
        >>> x = rg.tensor([[1.0, 2.0], [3.0, 4.0]])
        >>> rg.gather(x, 1, rg.tensor([[1, 1], [0, 1]])).tolist()
        [[2.0, 2.0], [3.0, 4.0]]
    """
    x = ensure_tensor(input)
    d = dim_arg(dim, x.ndim, "gather")
    idx = index_array(index, "gather")
    _check_along(x, idx, d, "gather")
    if x.ndim == 0:
        return Gather.apply(x, index=idx, dim=0)
    return Gather.apply(x, index=idx, dim=d)


def take_along_dim(input: Any, indices: Any, dim: int | None = None) -> Tensor:  # noqa: A002
    """Values at ``indices`` along ``dim`` (of the flattened input when ``dim`` is None).

    Unlike :func:`gather`, the input and the indices broadcast against each other in
    every dimension but ``dim``.

    Example::

        >>> import retrograd as rg
        >>> x = rg.tensor([[10.0, 30.0, 20.0], [60.0, 40.0, 50.0]])
        >>> rg.take_along_dim(x, x.argsort(dim=1)[:, :1], dim=1).tolist()
        [[10.0], [40.0]]
    """
    from .shape import expand, reshape

    x = ensure_tensor(input)
    idx = index_array(indices, "take_along_dim", "indices")
    if dim is None:
        x = reshape(x, (-1,))
        idx = idx.reshape(-1)
        d = 0
    else:
        d = dim_arg(dim, x.ndim, "take_along_dim")
        if idx.ndim != x.ndim:
            raise ValueError(
                f"take_along_dim: indices must have as many dimensions as input ({x.ndim}), "
                f"got shape {idx.shape}"
            )
        xs, js = list(x.shape), list(idx.shape)
        try:
            shape = list(xp.broadcast_shapes(tuple(xs[:d] + [1] + xs[d + 1 :]),
                                             tuple(js[:d] + [1] + js[d + 1 :])))  # fmt: skip
        except ValueError:
            raise ValueError(
                f"take_along_dim: input {x.shape} and indices {idx.shape} do not broadcast "
                f"outside dim {d}"
            ) from None
        xshape = tuple(shape[:d] + [xs[d]] + shape[d + 1 :])
        if xshape != x.shape:
            x = expand(x, xshape)
        idx = xp.broadcast_to(idx, tuple(shape[:d] + [js[d]] + shape[d + 1 :]))
    idx = xp.where(idx < 0, idx + x.shape[d], idx) if idx.size else idx
    _check_along(x, idx, d, "take_along_dim")
    return Gather.apply(x, index=idx, dim=d)


def _scatter_src(x: Tensor, src: Any, value: Any, fn: str) -> Tensor:
    if (src is None) == (value is None):
        raise ValueError(f"{fn}: give exactly one of src (a tensor) and value (a number)")
    if src is None:
        src = value
    if isinstance(src, Tensor):
        if src.data.dtype != x.data.dtype:
            raise TypeError(f"{fn}: src must have the input's dtype {x.dtype}, got {src.dtype}")
        return src
    return Tensor._wrap(xp.asarray(src, dtype=x.data.dtype), False, None)


def scatter(
    input: Any,  # noqa: A002
    dim: int,
    index: Any,
    src: Any = None,
    value: Any = None,
    *,
    reduce: str | None = None,
) -> Tensor:
    """A copy of ``input`` with ``src[i]`` (or ``value``) written at ``index[i]`` along dim.

    Where an index repeats, one of the writes wins (PyTorch leaves which unspecified).
    ``reduce="add"``/``"multiply"`` are the older spellings of :func:`scatter_reduce`.

    Example::

        >>> import retrograd as rg
        >>> rg.scatter(rg.zeros(2, 3), 1, rg.tensor([[2], [0]]), value=1.0).tolist()
        [[0.0, 0.0, 1.0], [1.0, 0.0, 0.0]]
    """
    x = ensure_tensor(input)
    s = _scatter_src(x, src, value, "scatter")
    if reduce is not None:
        modes = {"add": "sum", "multiply": "prod"}
        if reduce not in modes:
            raise ValueError(f"scatter: reduce must be 'add' or 'multiply', got {reduce!r}")
        if s.ndim == 0:
            s = Tensor._wrap(xp.broadcast_to(s.data, index_array(index, "scatter").shape),
                             False, None)  # fmt: skip
        return scatter_reduce(x, dim, index, s, modes[reduce])
    d = dim_arg(dim, x.ndim, "scatter")
    idx = index_array(index, "scatter")
    _check_along(x, idx, d, "scatter", s.shape if s.ndim else None)
    return Scatter.apply(x, s, index=idx, dim=d)


def scatter_add(input: Any, dim: int, index: Any, src: Any) -> Tensor:  # noqa: A002
    """A copy of ``input`` with ``src[i]`` added at ``index[i]`` along ``dim`` (repeats add).

    Example::

        >>> import retrograd as rg
        >>> rg.scatter_add(rg.zeros(3), 0, rg.tensor([0, 2, 0]), rg.ones(3)).tolist()
        [2.0, 0.0, 1.0]
    """
    return scatter_reduce(input, dim, index, src, "sum")


_REDUCES = ("sum", "prod", "mean", "amax", "amin")


def scatter_reduce(
    input: Any,  # noqa: A002
    dim: int,
    index: Any,
    src: Any,
    reduce: str,
    *,
    include_self: bool = True,
) -> Tensor:
    """Reduce ``src`` into a copy of ``input`` at ``index`` along ``dim``.

    ``reduce`` is "sum", "prod", "mean", "amax" or "amin"; with ``include_self=False`` the
    input's own values at the written places take no part. Gradients follow PyTorch:
    ties of amax/amin share the gradient evenly; prod is exact with zero factors.

    Example::

        >>> import retrograd as rg
        >>> x = rg.tensor([1.0, 5.0])
        >>> rg.scatter_reduce(x, 0, rg.tensor([0, 0, 1]), rg.tensor([4.0, 2.0, 3.0]),
        ...                   "amax").tolist()
        [4.0, 5.0]
    """
    x = ensure_tensor(input)
    if reduce not in _REDUCES:
        raise ValueError(f"scatter_reduce: reduce must be one of {_REDUCES}, got {reduce!r}")
    s = ensure_tensor(src)
    if s.data.dtype != x.data.dtype:
        raise TypeError(f"scatter_reduce: src must have the input's dtype {x.dtype}, got {s.dtype}")
    if s.ndim != x.ndim:
        raise ValueError(
            f"scatter_reduce: src must have as many dimensions as input ({x.ndim}), got "
            f"shape {s.shape}"
        )
    d = dim_arg(dim, x.ndim, "scatter_reduce")
    idx = index_array(index, "scatter_reduce")
    _check_along(x, idx, d, "scatter_reduce", s.shape)
    return ScatterReduce.apply(
        x, s, index=idx, dim=d, reduce=reduce, include_self=bool(include_self)
    )


def index_select(input: Any, dim: int, index: Any) -> Tensor:  # noqa: A002
    """The entries ``index`` (1-D, int64) of dimension ``dim``, in that order.

    Example::

        >>> import retrograd as rg
        >>> x = rg.tensor([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])
        >>> rg.index_select(x, 0, rg.tensor([2, 0])).tolist()
        [[5.0, 6.0], [1.0, 2.0]]
    """
    from .shape import getitem

    x = ensure_tensor(input)
    d = dim_arg(dim, x.ndim, "index_select")
    idx = index_array(index, "index_select")
    if idx.ndim > 1:
        raise ValueError(f"index_select: index must be 0-d or 1-D, got shape {idx.shape}")
    idx = idx.reshape(-1)
    n = x.shape[d] if x.ndim else 1
    if idx.size and (int(idx.min()) < -n or int(idx.max()) >= n):
        bad = int(idx.min()) if int(idx.min()) < -n else int(idx.max())
        raise IndexError(f"index_select: index {bad} is out of range for size {n} of dim {d}")
    if x.ndim == 0:
        from .shape import reshape

        return reshape(x, (1,))[idx].reshape(()) if idx.size == 1 else reshape(x, (1,))[idx]
    return getitem(x, (slice(None),) * d + (idx,))


def masked_select(input: Any, mask: Any) -> Tensor:  # noqa: A002
    """The elements where the boolean ``mask`` is true, as a 1-D tensor (both broadcast).

    Example::

        >>> import retrograd as rg
        >>> x = rg.tensor([[1.0, -2.0], [3.0, -4.0]])
        >>> rg.masked_select(x, x > 0).tolist()
        [1.0, 3.0]
    """
    from .shape import expand, getitem

    x = ensure_tensor(input)
    m = mask.data if isinstance(mask, Tensor) else xp.asarray(mask)
    if m.dtype != bool:
        raise TypeError(f"masked_select: mask must be a bool tensor, got dtype {m.dtype}")
    try:
        shape = xp.broadcast_shapes(x.shape, m.shape)
    except ValueError:
        raise ValueError(
            f"masked_select: mask of shape {m.shape} does not broadcast with the input's "
            f"shape {x.shape}"
        ) from None
    if x.shape != shape:
        x = expand(x, shape)
    return getitem(x, xp.broadcast_to(m, shape))


def nonzero(input: Any, *, as_tuple: bool = False) -> Any:  # noqa: A002
    """Indices of the non-zero elements: an (n, ndim) int64 tensor, or one per dimension.

    Example::

        >>> import retrograd as rg
        >>> rg.nonzero(rg.tensor([[0.0, 1.0], [2.0, 0.0]])).tolist()
        [[0, 1], [1, 0]]
    """
    a = input.data if isinstance(input, Tensor) else xp.asarray(input)
    if as_tuple:
        if a.ndim == 0:
            return (Tensor._wrap(xp.arange(int(a != 0), dtype=xp.int64), False, None),)
        return tuple(Tensor._wrap(i.astype(xp.int64), False, None) for i in xp.nonzero(a))
    return Tensor._wrap(xp.argwhere(a).astype(xp.int64), False, None)


def argwhere(input: Any) -> Tensor:  # noqa: A002
    """``nonzero(input)``: an (n, ndim) int64 tensor of the non-zero positions.

    Example::

        >>> import retrograd as rg
        >>> rg.argwhere(rg.tensor([0, 3, 0, 5])).tolist()
        [[1], [3]]
    """
    return nonzero(input)


def one_hot(tensor: Any, num_classes: int = -1) -> Tensor:
    """int64 one-hot encoding: a new last dimension of ``num_classes`` (max + 1 when -1).

    Example::

        >>> import retrograd as rg
        >>> import retrograd.nn.functional as F
        >>> F.one_hot(rg.tensor([0, 2]), 3).tolist()
        [[1, 0, 0], [0, 0, 1]]
    """
    t = tensor.data if isinstance(tensor, Tensor) else xp.asarray(tensor)
    if t.dtype.kind not in "iu":
        raise TypeError(f"one_hot: tensor must hold int64 class indices, got dtype {t.dtype}")
    if isinstance(num_classes, bool) or not isinstance(num_classes, (int, xp.integer)):
        raise TypeError(f"one_hot: num_classes must be an int, got {num_classes!r}")
    if t.size and int(t.min()) < 0:
        raise ValueError(f"one_hot: class values must be non-negative, got {int(t.min())}")
    if num_classes == -1:
        if not t.size:
            raise ValueError("one_hot: cannot infer num_classes from an empty tensor")
        num_classes = int(t.max()) + 1
    elif num_classes < 1 and not (num_classes == 0 and t.size == 0):
        raise ValueError(f"one_hot: num_classes must be positive or -1, got {num_classes}")
    elif t.size and int(t.max()) >= num_classes:
        raise ValueError(
            f"one_hot: class values must be smaller than num_classes={num_classes}, got "
            f"{int(t.max())}"
        )
    out = (t[..., None] == xp.arange(int(num_classes))).astype(xp.int64)
    return Tensor._wrap(out, False, None)


def index_add(
    input: Any,  # noqa: A002
    dim: int,
    index: Any,
    source: Any,
    *,
    alpha: float = 1,
) -> Tensor:
    """A copy of ``input`` with ``alpha * source`` added at the entries ``index`` (1-D) of
    dimension ``dim`` (repeated indices add up).

    Example::

        >>> import retrograd as rg
        >>> rg.index_add(rg.zeros(3, 2), 0, rg.tensor([0, 2, 0]), rg.ones(3, 2)).tolist()
        [[2.0, 2.0], [0.0, 0.0], [1.0, 1.0]]
    """
    from .shape import reshape

    x = ensure_tensor(input)
    src = ensure_tensor(source)
    d = dim_arg(dim, x.ndim, "index_add")
    idx = index_array(index, "index_add")
    if idx.ndim > 1:
        raise ValueError(f"index_add: index must be 0-d or 1-D, got shape {idx.shape}")
    idx = idx.reshape(-1)
    want = x.shape[:d] + (idx.size,) + x.shape[d + 1 :] if x.ndim else (idx.size,)
    if src.ndim == 0 and idx.size == 1 and x.ndim <= 1:
        src = reshape(src, want)
    if tuple(src.shape) != tuple(want):
        raise ValueError(
            f"index_add: source must have shape {want} (input's with dim {d} of size "
            f"{idx.size}), got {src.shape}"
        )
    n = x.shape[d] if x.ndim else 1
    if idx.size and (int(idx.min()) < 0 or int(idx.max()) >= n):
        # As torch: no negative indices here (index_select takes them).
        bad = int(idx.min()) if int(idx.min()) < 0 else int(idx.max())
        raise IndexError(f"index_add: index {bad} is out of range for size {n} of dim {d}")
    shape = [1] * max(x.ndim, 1)
    shape[d] = idx.size
    full = Tensor(xp.broadcast_to(idx.reshape(shape), src.shape).copy())
    if alpha != 1:
        src = src * alpha
    if x.ndim == 0:
        return reshape(scatter_add(reshape(x, (1,)), 0, full, src), ())
    return scatter_add(x, d, full, src)


__all__ = [
    "gather", "take_along_dim", "scatter", "scatter_add", "scatter_reduce", "index_select",
    "masked_select", "nonzero", "argwhere", "index_add",
]  # fmt: skip
