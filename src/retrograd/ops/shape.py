"""Shape and indexing primitives: reshape, permute, expand, concatenate, pad, getitem."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .._backend import xp
from ..autograd.function import Function
from ..autograd.tensor import Tensor
from ..errors import ShapeError
from ._graph import sum_to
from ._util import ensure_tensor, norm_axis, pick_dim
from .inplace import register_view

_ndarray = xp.ndarray


class _ViewOp:
    """Mixin for a primitive whose result may share the input's memory (a view in
    PyTorch): the result remembers how it was taken, so an in-place write into it inside
    a graph reaches its base (see :mod:`retrograd.ops.inplace`)."""

    @classmethod
    def apply(cls, *tensors: Tensor, **params: Any) -> Tensor:
        out = Function.apply.__func__(cls, *tensors, **params)  # type: ignore[attr-defined]
        if out._data.base is not None:
            register_view(out, tensors[0], cls, params)
        return out


class Reshape(_ViewOp, Function):
    replay = "pure"

    def forward(self, a, shape=None):
        self.shape = a.shape
        return a.reshape(shape)

    def backward(self, g):
        return (g.reshape(self.shape),)

    def backward_graph(self, g, out):
        return (Reshape.apply(g, shape=self.shape),)


class Permute(_ViewOp, Function):
    replay = "pure"

    def forward(self, a, axes=None):
        self.axes = axes
        return a.transpose(axes)

    def backward(self, g):
        return (g.transpose(xp.argsort(self.axes)),)

    def backward_graph(self, g, out):
        return (Permute.apply(g, axes=tuple(int(i) for i in xp.argsort(self.axes))),)


class Expand(_ViewOp, Function):
    replay = "pure"

    def forward(self, a, shape=None):
        self.shape = a.shape
        return xp.broadcast_to(a, shape)

    def backward(self, g):
        from ..autograd.function import unbroadcast

        return (unbroadcast(g, self.shape),)

    def backward_graph(self, g, out):
        return (sum_to(g, self.shape),)


class Concatenate(Function):
    replay = "pure"

    def forward(self, *arrays, axis=0):
        self.axis = axis
        self.splits = xp.cumsum([a.shape[axis] for a in arrays])[:-1]
        return xp.concatenate(arrays, axis=axis)

    def backward(self, g):
        parts = xp.split(g, self.splits, axis=self.axis)
        return tuple(p if need else None for p, need in zip(parts, self.needs))

    def backward_graph(self, g, out):
        bounds = [0, *(int(s) for s in self.splits), g.shape[self.axis]]
        grads = []
        for k, need in enumerate(self.needs):
            index = [slice(None)] * g.ndim
            index[self.axis] = slice(bounds[k], bounds[k + 1])
            grads.append(GetItem.apply(g, index=tuple(index)) if need else None)
        return tuple(grads)


class Pad(Function):
    replay = "pure"

    def forward(self, a, pad_width=None, value=0.0):
        self.slices = tuple(slice(lo, lo + n) for (lo, _), n in zip(pad_width, a.shape))
        return xp.pad(a, pad_width, mode="constant", constant_values=value)

    def backward(self, g):
        return (g[self.slices],)

    def backward_graph(self, g, out):
        return (GetItem.apply(g, index=self.slices),)


class GetItem(_ViewOp, Function):
    replay = "pure"

    def forward(self, a, index=None):
        self.shape, self.dtype, self.index = a.shape, a.dtype, index
        self.advanced = _is_advanced(index)
        out = a[index]
        if out.__class__ is not _ndarray and not self.advanced:
            # NumPy gives a scalar copy for a full integer index; PyTorch a 0-d view.
            out = a[(*index, ...) if isinstance(index, tuple) else (index, ...)]
        return out

    def backward(self, g):
        out = xp.zeros(self.shape, dtype=g.dtype)
        if self.advanced:
            # NOTE: repeated integer indices must add up; plain `out[idx] += g` keeps only
            # one of them, np.add.at accumulates every occurrence.
            xp.add.at(out, self.index, g)
        else:
            out[self.index] = g
        return (out,)

    def backward_graph(self, g, out):
        return (IndexAdd.apply(g, shape=self.shape, index=self.index, advanced=self.advanced),)


class IndexAdd(Function):
    """Zeros of ``shape`` with ``g`` added at ``index``: GetItem's VJP as a primitive, so
    that ``create_graph`` can differentiate it (its own VJP is GetItem again)."""

    replay = "pure"

    def forward(self, g, shape=None, index=None, advanced=False):
        self.index = index
        out = xp.zeros(shape, dtype=g.dtype)
        if advanced:
            xp.add.at(out, index, g)  # repeated indices add up
        else:
            out[index] = g
        return out

    def backward(self, gg):
        return (gg[self.index],)

    def backward_graph(self, gg, out):
        return (GetItem.apply(gg, index=self.index),)


def _is_advanced(index) -> bool:
    items = index if isinstance(index, tuple) else (index,)
    for it in items:
        if isinstance(it, (list, xp.ndarray)):
            return True
    return False


def _normalize_index(index):
    """Replace Tensors inside an index by their arrays; keep everything else."""
    if isinstance(index, Tensor):
        return index.data
    if isinstance(index, tuple):
        return tuple(i.data if isinstance(i, Tensor) else i for i in index)
    return index


# -------------------------------------------------------------------- public functions


def reshape(x: Any, *shape: Any) -> Tensor:
    """A tensor with the same data and a new shape (one dimension may be -1).

    Example::

        >>> import retrograd as rg
        >>> rg.ones(2, 3).reshape(3, -1).shape
        (3, 2)
    """
    x = ensure_tensor(x)
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = tuple(shape[0])
    known, unknown = 1, 0
    try:
        for s in shape:
            if int(s) == -1:
                unknown += 1
            elif int(s) < 0:
                raise ValueError
            else:
                known *= int(s)
    except (TypeError, ValueError):
        known, unknown = -1, 0
    ok = (unknown == 0 and known == x.data.size) or (
        unknown == 1 and known > 0 and x.data.size % known == 0
    )
    if not ok:
        raise ShapeError(
            f"reshape: cannot reshape a tensor of shape {x.shape} ({x.data.size} elements) "
            f"into shape {tuple(shape)}"
        )
    if tuple(shape) == x.shape:
        return x
    return Reshape.apply(x, shape=tuple(int(s) for s in shape))


def permute(x: Any, *axes: Any) -> Tensor:
    """Reorder the dimensions: ``axes`` is a permutation of ``range(ndim)``.

    Example::

        >>> import retrograd as rg
        >>> rg.ones(2, 3, 4).permute(2, 0, 1).shape
        (4, 2, 3)
    """
    x = ensure_tensor(x)
    if len(axes) == 1 and isinstance(axes[0], (tuple, list)):
        axes = tuple(axes[0])
    ok = len(axes) == x.ndim and all(
        isinstance(a, (int, xp.integer)) and -x.ndim <= a < x.ndim for a in axes
    )
    if not ok or sorted(int(a) % x.ndim for a in axes) != list(range(x.ndim)):
        raise ValueError(f"permute: {axes} is not a permutation of the {x.ndim} dims of {x.shape}")
    return Permute.apply(x, axes=tuple(int(a) % x.ndim for a in axes))


def transpose(x: Any, dim0: int | None = None, dim1: int | None = None) -> Tensor:
    """Swap dimensions ``dim0`` and ``dim1``; with neither given, reverse all (as NumPy).

    Example::

        >>> import retrograd as rg
        >>> rg.ops.transpose(rg.zeros(2, 3, 4), 0, 2).shape
        (4, 3, 2)
    """
    x = ensure_tensor(x)
    if dim0 is None and dim1 is None:
        return permute(x, tuple(reversed(range(x.ndim))))
    if dim0 is None or dim1 is None:
        raise ValueError(f"transpose: give both dim0 and dim1 (or neither), got {dim0}, {dim1}")
    d0 = norm_axis(dim0, x.ndim, "transpose: dim0")
    d1 = norm_axis(dim1, x.ndim, "transpose: dim1")
    axes = list(range(x.ndim))
    axes[d0], axes[d1] = axes[d1], axes[d0]
    return Permute.apply(x, axes=tuple(axes))


def expand(x: Any, *shape: Any) -> Tensor:
    """Broadcast to ``shape`` without copying (-1 keeps a dimension).

    Example::

        >>> import retrograd as rg
        >>> rg.ones(3, 1).expand(2, 3, 4).shape
        (2, 3, 4)
    """
    x = ensure_tensor(x)
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = tuple(shape[0])
    lead = len(shape) - x.ndim
    if lead < 0:
        raise ShapeError(f"expand: cannot expand shape {x.shape} to fewer dims {shape}")
    if any(s == -1 for s in shape[:lead]):
        raise ValueError(f"expand: -1 is not allowed for the new leading dims of {shape}")
    full = tuple(x.shape[i - lead] if s == -1 else int(s) for i, s in enumerate(shape))
    try:
        xp.broadcast_shapes(x.shape, full)
        if xp.broadcast_shapes(x.shape, full) != full:
            raise ValueError
    except ValueError:
        raise ShapeError(f"expand: cannot broadcast shape {x.shape} to {shape}") from None
    return Expand.apply(x, shape=full)


def broadcast_to(x: Any, shape: Sequence[int]) -> Tensor:
    """Broadcast to ``shape`` (the same as :func:`expand`).

    Example::

        >>> import retrograd as rg
        >>> rg.ops.broadcast_to(rg.ones(3), (2, 3)).shape
        (2, 3)
    """
    return expand(x, tuple(shape))


def squeeze(x: Any, dim: Any = None, *, axis: Any = None) -> Tensor:
    """Remove dimensions of size 1 (only ``dim``, an int or a tuple, when given).

    Example::

        >>> import retrograd as rg
        >>> rg.ones(1, 3, 1).squeeze().shape
        (3,)
    """
    x = ensure_tensor(x)
    dim = pick_dim("squeeze", dim, axis)
    if dim is None:
        return reshape(x, tuple(s for s in x.shape if s != 1))
    axes = norm_axis(dim, x.ndim, "squeeze: dim")
    if x.ndim == 0:
        return x
    axes = (axes,) if isinstance(axes, int) else axes
    return reshape(x, tuple(s for i, s in enumerate(x.shape) if not (i in axes and s == 1)))


def unsqueeze(x: Any, dim: int | None = None, *, axis: int | None = None) -> Tensor:
    """Insert a dimension of size 1 at ``dim``.

    Example::

        >>> import retrograd as rg
        >>> rg.ones(3).unsqueeze(0).shape
        (1, 3)
    """
    x = ensure_tensor(x)
    dim = pick_dim("unsqueeze", dim, axis)
    if dim is None:
        raise TypeError("unsqueeze: missing the dim argument")
    a = norm_axis(dim, x.ndim + 1, "unsqueeze: dim")
    shape = list(x.shape)
    shape.insert(a, 1)
    return reshape(x, tuple(shape))


def flatten(x: Any, start_dim: int = 0, end_dim: int = -1) -> Tensor:
    """Merge dimensions ``start_dim..end_dim`` into one.

    Example::

        >>> import retrograd as rg
        >>> rg.ones(2, 3, 4).flatten(1).shape
        (2, 12)
    """
    x = ensure_tensor(x)
    if x.ndim == 0:
        return reshape(x, (1,))
    s = norm_axis(start_dim, x.ndim, "flatten: start_dim")
    e = norm_axis(end_dim, x.ndim, "flatten: end_dim")
    if s > e:
        raise ValueError(f"flatten: start_dim {start_dim} comes after end_dim {end_dim}")
    n = 1
    for d in x.shape[s : e + 1]:
        n *= d
    return reshape(x, x.shape[:s] + (n,) + x.shape[e + 1 :])


def concatenate(tensors: Sequence[Any], dim: int = 0, *, axis: int | None = None) -> Tensor:
    """Join tensors along an existing ``dim`` (``axis`` is an alias).

    Example::

        >>> import retrograd as rg
        >>> rg.cat([rg.ones(2, 1), rg.zeros(2, 3)], dim=1).shape
        (2, 4)
    """
    ts = [ensure_tensor(t) for t in tensors]
    if not ts:
        raise ValueError("cat: need at least one tensor")
    dim = pick_dim("cat", dim, axis, 0)
    nd = ts[0].ndim
    if nd == 0:
        raise ShapeError("cat: 0-d tensors cannot be concatenated (use stack)")
    ax = norm_axis(dim, nd, "cat: dim")
    for i, t in enumerate(ts):
        if t.ndim != nd or any(
            a != b for d, (a, b) in enumerate(zip(t.shape, ts[0].shape)) if d != ax
        ):
            raise ShapeError(
                f"cat: tensor {i} has shape {t.shape}, incompatible with "
                f"{ts[0].shape} along dim {dim}"
            )
    return Concatenate.apply(*ts, axis=ax)


cat = concatenate
concat = concatenate


def stack(tensors: Sequence[Any], dim: int = 0, *, axis: int | None = None) -> Tensor:
    """Join tensors of equal shape along a new ``dim`` (``axis`` is an alias).

    Example::

        >>> import retrograd as rg
        >>> rg.stack([rg.ones(3), rg.zeros(3)], dim=1).shape
        (3, 2)
    """
    ts = [ensure_tensor(t) for t in tensors]
    if not ts:
        raise ValueError("stack: need at least one tensor")
    dim = pick_dim("stack", dim, axis, 0)
    for i, t in enumerate(ts):
        if t.shape != ts[0].shape:
            raise ShapeError(f"stack: tensor {i} has shape {t.shape}, expected {ts[0].shape}")
    a = norm_axis(dim, ts[0].ndim + 1, "stack: dim")
    return concatenate([unsqueeze(t, a) for t in ts], a)


def pad(x: Any, pad_width: Any, value: float = 0.0) -> Tensor:
    """Constant padding; ``pad_width`` as NumPy's: ((before, after), ...) per dimension.

    Example::

        >>> import retrograd as rg
        >>> rg.pad(rg.ones(2), ((1, 2),)).tolist()
        [0.0, 1.0, 1.0, 0.0, 0.0]
    """
    x = ensure_tensor(x)
    pw = xp.broadcast_to(xp.asarray(pad_width, dtype=int), (x.ndim, 2))
    if (pw < 0).any():
        raise ValueError(f"pad: pad_width must be non-negative, got {pad_width}")
    return Pad.apply(x, pad_width=tuple(map(tuple, pw.tolist())), value=value)


def getitem(x: Any, index: Any) -> Tensor:
    """``x[index]`` with PyTorch's semantics: basic slicing and integer/boolean arrays
    (repeated indices add up in the gradient).

    Where PyTorch and NumPy differ, PyTorch's rule holds: integers are applied first, as
    basic indexing, so ``x[0, :, [1, 2]]`` on a (2, 3, 4) tensor is (3, 2) (NumPy: (2, 3)).

    Example::

        >>> import retrograd as rg
        >>> rg.tensor([1.0, 2.0, 3.0])[[0, 0, 2]].tolist()
        [1.0, 1.0, 3.0]
        >>> rg.zeros(2, 3, 4)[0, :, [1, 2]].shape
        (3, 2)
    """
    x = ensure_tensor(x)
    index = _normalize_index(index)
    try:
        split = None if index.__class__ is not tuple else _torch_order(index, x._data.ndim)
        if split is not None:
            return GetItem.apply(GetItem.apply(x, index=split[0]), index=split[1])
        return GetItem.apply(x, index=index)
    except IndexError as e:
        raise IndexError(
            f"index {index!r} is invalid for a tensor of shape {x.shape}: {e}"
        ) from None


def _is_int(it: Any) -> bool:
    if isinstance(it, (int, xp.integer)) and not isinstance(it, (bool, xp.bool_)):
        return True
    return isinstance(it, xp.ndarray) and it.ndim == 0 and it.dtype.kind in "iu"


def _is_array(it: Any) -> bool:
    return isinstance(it, list) or (isinstance(it, xp.ndarray) and it.ndim > 0)


def _torch_order(index: Any, ndim: int) -> tuple | None:
    """Split an index mixing integers and arrays into (basic part, advanced part).

    PyTorch applies integers as basic indexing (the dimension goes away) before the
    advanced indices, while NumPy counts an integer as an advanced index, which moves
    the advanced result dimensions to the front when a slice separates them. Returns
    None when the two agree (no integer, or no array, in the index).
    """
    if index.__class__ is not tuple:
        return None  # a single index cannot mix the two
    has_int = has_array = False
    for it in index:  # one cheap pass: this runs on every x[...]
        c = it.__class__
        if c is slice or it is None or it is Ellipsis:
            continue
        if c is int or _is_int(it):
            has_int = True
        elif c is list or _is_array(it):
            has_array = True
    if not (has_int and has_array):
        return None
    items = index
    consumed = sum(_dims_used(it) for it in items if it is not Ellipsis)
    basic, arrays, out_dim = [], [], 0
    for it in items:
        if it is Ellipsis:
            n = max(ndim - consumed, 0)
            basic.extend([slice(None)] * n)
            out_dim += n
        elif it is None:
            basic.append(None)
            out_dim += 1
        elif _is_int(it):
            basic.append(it)
        elif _is_array(it):
            arr = xp.asarray(it)
            k = arr.ndim if arr.dtype == bool else 1
            basic.extend([slice(None)] * k)
            arrays.append((out_dim, k, arr))
            out_dim += k
        else:  # a slice
            basic.append(it)
            out_dim += 1
    if not any(it is Ellipsis for it in items):
        out_dim += max(ndim - consumed, 0)  # the dims after the last index stay
    advanced: list = [slice(None)] * out_dim
    for pos, k, arr in reversed(arrays):
        advanced[pos : pos + k] = [arr]
    return tuple(basic), tuple(advanced)


def _dims_used(it: Any) -> int:
    if it is None:
        return 0
    if isinstance(it, xp.ndarray) and it.dtype == bool:
        return it.ndim
    if isinstance(it, list):
        arr = xp.asarray(it)
        return arr.ndim if arr.dtype == bool else 1
    return 1


__all__ = [
    "reshape", "permute", "transpose", "expand", "broadcast_to", "squeeze", "unsqueeze",
    "flatten", "concatenate", "cat", "concat", "stack", "pad", "getitem",
]  # fmt: skip
