"""Moving data around with PyTorch's names: flip, roll, repeat, tile, repeat_interleave,
split, chunk, unbind, unflatten, unfold, narrow, select, movedim, diag, diagonal, tril,
triu, meshgrid, and ``F.pad`` with its constant/reflect/replicate/circular modes.

Most are composites of slicing, indexing and reshaping (their gradients come from those
primitives); roll, repeat, diag and diagonal are primitives of their own.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .._backend import xp
from ..autograd.function import Function
from ..autograd.tensor import Tensor
from ._util import ensure_tensor
from .indexing import dim_arg, index_array
from .inplace import mark_multi
from .shape import getitem, permute, reshape

# ---------------------------------------------------------------------- primitives


class Roll(Function):
    replay = "pure"

    def forward(self, a, shifts=(), axes=None):
        self.shifts, self.axes = shifts, axes
        return xp.roll(a, shifts, axis=axes)

    def backward(self, g):
        return (xp.roll(g, tuple(-s for s in self.shifts), axis=self.axes),)

    def backward_graph(self, g, out):
        return (Roll.apply(g, shifts=tuple(-s for s in self.shifts), axes=self.axes),)


class Repeat(Function):
    """``Tensor.repeat``: the whole tensor tiled ``reps`` times along each dimension."""

    replay = "pure"

    def forward(self, a, reps=()):
        self.shape = a.shape
        lead = len(reps) - a.ndim
        self.full = (1,) * lead + a.shape
        self.reps = reps
        return xp.tile(a.reshape(self.full), reps)

    def backward(self, g):
        # Split every dimension into (repetition, original) and sum the repetitions out.
        split = []
        for r, n in zip(self.reps, self.full):
            split += [r, n]
        g = g.reshape(split).sum(axis=tuple(range(0, len(split), 2)))
        return (g.reshape(self.shape),)

    def backward_graph(self, g, out):
        from ._graph import reshape as _reshape
        from .reduce import Sum

        split = []
        for r, n in zip(self.reps, self.full):
            split += [r, n]
        g = Sum.apply(_reshape(g, split), axis=tuple(range(0, len(split), 2)), keepdims=False)
        return (_reshape(g, self.shape),)


class Diag(Function):
    """A 1-D tensor placed on the ``offset`` diagonal of a square matrix."""

    replay = "pure"

    def forward(self, a, offset=0):
        self.offset = offset
        return xp.diag(a, offset)

    def backward(self, g):
        return (xp.diagonal(g, self.offset).copy(),)

    def backward_graph(self, g, out):
        return (Diagonal.apply(g, offset=self.offset, dim1=0, dim2=1),)


class Diagonal(Function):
    """The ``offset`` diagonal of the (dim1, dim2) planes, as a new last dimension."""

    replay = "pure"

    def forward(self, a, offset=0, dim1=0, dim2=1):
        self.shape, self.offset, self.dims = a.shape, offset, (dim1, dim2)
        return xp.diagonal(a, offset, dim1, dim2).copy()

    def backward(self, g):
        out = xp.zeros(self.shape, dtype=g.dtype)
        view = xp.moveaxis(out, self.dims, (-2, -1))
        n = g.shape[-1]
        rows = xp.arange(n) + max(-self.offset, 0)
        cols = xp.arange(n) + max(self.offset, 0)
        view[..., rows, cols] = g
        return (out,)

    def backward_graph(self, g, out):
        from ._graph import reshape as _reshape
        from ._graph import scatter

        n = 1
        for s in self.shape:
            n *= s
        flat = xp.arange(n).reshape(self.shape)
        index = xp.diagonal(flat, self.offset, *self.dims)
        return (_reshape(scatter(g, (n,), index), self.shape),)


# ------------------------------------------------------------------------- helpers


def _dim_list(dims: Any, ndim: int, fn: str, arg: str = "dims") -> tuple:
    items = dims if isinstance(dims, (tuple, list)) else (dims,)
    out = tuple(dim_arg(d, ndim, fn, arg) for d in items)
    if len(set(out)) != len(out):
        raise ValueError(f"{fn}: {arg} {dims!r} repeats a dimension")
    return out


def _int(v: Any, fn: str, arg: str, minimum: int | None = None) -> int:
    if isinstance(v, Tensor) and v.ndim == 0 and v.data.dtype.kind in "iu":
        v = int(v.item())
    if isinstance(v, bool) or not isinstance(v, (int, xp.integer)):
        raise TypeError(f"{fn}: {arg} must be an int, got {v!r}")
    if minimum is not None and v < minimum:
        raise ValueError(f"{fn}: {arg} must be >= {minimum}, got {v}")
    return int(v)


def _sizes(args: tuple) -> tuple:
    if len(args) == 1 and isinstance(args[0], (tuple, list)):
        return tuple(args[0])
    return tuple(args)


# ------------------------------------------------------------------ public functions


def flip(input: Any, dims: Any) -> Tensor:  # noqa: A002 - PyTorch's name
    """Reverse the order of the elements along ``dims`` (an int or a sequence).

    Example::

        >>> import retrograd as rg
        >>> rg.flip(rg.tensor([[1.0, 2.0], [3.0, 4.0]]), [1]).tolist()
        [[2.0, 1.0], [4.0, 3.0]]
    """
    x = ensure_tensor(input)
    ds = _dim_list(dims, x.ndim, "flip")
    rev = slice(None, None, -1)
    out = getitem(x, tuple(rev if d in ds else slice(None) for d in range(x.ndim)))
    # PyTorch's flip copies: the result does not share memory with the input.
    out._data, out._view = out._data.copy(), None
    return out


def fliplr(input: Any) -> Tensor:  # noqa: A002
    """Flip left-right: reverse dimension 1 (the input needs at least 2 dimensions).

    Example::

        >>> import retrograd as rg
        >>> rg.fliplr(rg.tensor([[1.0, 2.0]])).tolist()
        [[2.0, 1.0]]
    """
    x = ensure_tensor(input)
    if x.ndim < 2:
        raise ValueError(f"fliplr: input must have at least 2 dimensions, got shape {x.shape}")
    return flip(x, 1)


def flipud(input: Any) -> Tensor:  # noqa: A002
    """Flip up-down: reverse dimension 0 (the input needs at least 1 dimension).

    Example::

        >>> import retrograd as rg
        >>> rg.flipud(rg.tensor([1.0, 2.0])).tolist()
        [2.0, 1.0]
    """
    x = ensure_tensor(input)
    if x.ndim < 1:
        raise ValueError("flipud: input must have at least 1 dimension, got a 0-d tensor")
    return flip(x, 0)


def roll(input: Any, shifts: Any, dims: Any = None) -> Tensor:  # noqa: A002
    """Shift elements circularly by ``shifts`` along ``dims`` (the flattened tensor if None).

    Example::

        >>> import retrograd as rg
        >>> rg.roll(rg.tensor([1.0, 2.0, 3.0]), 1).tolist()
        [3.0, 1.0, 2.0]
    """
    x = ensure_tensor(input)
    sh = shifts if isinstance(shifts, (tuple, list)) else (shifts,)
    sh = tuple(_int(s, "roll", "shifts") for s in sh)
    if dims is None:
        if len(sh) != 1:
            raise ValueError(f"roll: without dims, shifts must be one int, got {shifts!r}")
        return Roll.apply(x, shifts=sh, axes=None)
    ds = dims if isinstance(dims, (tuple, list)) else (dims,)
    ds = tuple(dim_arg(d, x.ndim, "roll", "dims") for d in ds)
    if len(ds) != len(sh):
        raise ValueError(
            f"roll: shifts and dims must have the same length, got {shifts!r} and {dims!r}"
        )
    if x.ndim == 0:
        return getitem(x, ())
    return Roll.apply(x, shifts=sh, axes=ds)


def repeat(input: Any, *sizes: Any) -> Tensor:  # noqa: A002
    """``Tensor.repeat``: tile the tensor ``sizes[i]`` times along dimension i.

    ``sizes`` may have more entries than the tensor has dimensions (new leading ones).

    Example::

        >>> import retrograd as rg
        >>> rg.tensor([1.0, 2.0]).repeat(2, 2).tolist()
        [[1.0, 2.0, 1.0, 2.0], [1.0, 2.0, 1.0, 2.0]]
    """
    x = ensure_tensor(input)
    reps = tuple(_int(s, "repeat", "sizes", 0) for s in _sizes(sizes))
    if len(reps) < x.ndim:
        raise ValueError(
            f"repeat: sizes {reps} must have at least as many entries as the tensor has "
            f"dimensions ({x.ndim})"
        )
    return Repeat.apply(x, reps=reps)


def tile(input: Any, dims: Sequence[int]) -> Tensor:  # noqa: A002
    """Like :func:`repeat`, with missing leading entries of ``dims`` taken as 1.

    Example::

        >>> import retrograd as rg
        >>> rg.tile(rg.tensor([[1.0], [2.0]]), (2,)).tolist()
        [[1.0, 1.0], [2.0, 2.0]]
    """
    x = ensure_tensor(input)
    d = tuple(dims) if isinstance(dims, (tuple, list)) else (dims,)
    d = (1,) * (x.ndim - len(d)) + d
    return repeat(x, d)


def repeat_interleave(
    input: Any,  # noqa: A002
    repeats: Any,
    dim: int | None = None,
    *,
    output_size: int | None = None,
) -> Tensor:
    """Repeat each element ``repeats`` times (an int or one count per element) along ``dim``.

    Without ``dim`` the input is flattened first.

    Example::

        >>> import retrograd as rg
        >>> rg.repeat_interleave(rg.tensor([1.0, 2.0]), rg.tensor([1, 3])).tolist()
        [1.0, 2.0, 2.0, 2.0]
    """
    from .indexing import index_select

    x = ensure_tensor(input)
    if dim is None:
        x = reshape(x, (-1,))
        d = 0
    else:
        d = dim_arg(dim, x.ndim, "repeat_interleave")
        if x.ndim == 0:
            x = reshape(x, (1,))
    n = x.shape[d]
    if isinstance(repeats, (int, xp.integer)) and not isinstance(repeats, bool):
        reps = xp.full(n, _int(repeats, "repeat_interleave", "repeats", 0))
    else:
        reps = index_array(repeats, "repeat_interleave", "repeats").reshape(-1)
        if reps.size == 1:
            reps = xp.full(n, int(reps[0]))
        if reps.shape != (n,):
            raise ValueError(
                f"repeat_interleave: repeats must hold one count per element of dim {d} "
                f"({n}), got shape {reps.shape}"
            )
        if reps.size and int(reps.min()) < 0:
            raise ValueError(f"repeat_interleave: repeats must be >= 0, got {int(reps.min())}")
    idx = xp.repeat(xp.arange(n), reps)
    if output_size is not None and output_size != idx.size:
        raise ValueError(
            f"repeat_interleave: output_size={output_size} but the repeats sum to {idx.size}"
        )
    return index_select(x, d, idx)


def narrow(input: Any, dim: int, start: Any, length: int) -> Tensor:  # noqa: A002
    """The slice ``start:start + length`` of dimension ``dim`` (a view in PyTorch).

    Example::

        >>> import retrograd as rg
        >>> rg.narrow(rg.tensor([1.0, 2.0, 3.0, 4.0]), 0, 1, 2).tolist()
        [2.0, 3.0]
    """
    x = ensure_tensor(input)
    d = dim_arg(dim, x.ndim, "narrow")
    n = x.shape[d]
    s = _int(start, "narrow", "start")
    s = s + n if s < 0 else s
    ln = _int(length, "narrow", "length", 0)
    if not 0 <= s <= n or s + ln > n:
        raise ValueError(
            f"narrow: start {start} and length {length} exceed dimension {d} of size {n}"
        )
    return getitem(x, (slice(None),) * d + (slice(s, s + ln),))


def select(input: Any, dim: int, index: int) -> Tensor:  # noqa: A002
    """The entry ``index`` of dimension ``dim``, which is removed.

    Example::

        >>> import retrograd as rg
        >>> rg.select(rg.tensor([[1.0, 2.0], [3.0, 4.0]]), 1, 0).tolist()
        [1.0, 3.0]
    """
    x = ensure_tensor(input)
    d = dim_arg(dim, x.ndim, "select")
    n = x.shape[d]
    i = _int(index, "select", "index")
    if not -n <= i < n:
        raise IndexError(f"select: index {i} is out of range for dimension {d} of size {n}")
    return getitem(x, (slice(None),) * d + (i,))


def split(tensor: Any, split_size_or_sections: Any, dim: int = 0) -> tuple:
    """Split into pieces of ``split_size`` (the last may be smaller) or of the given sizes.

    Example::

        >>> import retrograd as rg
        >>> [p.tolist() for p in rg.split(rg.tensor([1.0, 2.0, 3.0]), 2)]
        [[1.0, 2.0], [3.0]]
    """
    x = ensure_tensor(tensor)
    d = dim_arg(dim, x.ndim, "split")
    if x.ndim == 0:
        raise ValueError("split: cannot split a 0-d tensor")
    n = x.shape[d]
    if isinstance(split_size_or_sections, (tuple, list)):
        sizes = [_int(s, "split", "split_size_or_sections", 0) for s in split_size_or_sections]
        if sum(sizes) != n:
            raise ValueError(
                f"split: sections {list(sizes)} must sum to the size of dim {d} ({n}), "
                f"got {sum(sizes)}"
            )
    else:
        size = _int(split_size_or_sections, "split", "split_size_or_sections", 0)
        if size == 0:
            if n:
                raise ValueError(f"split: split_size 0 cannot split dim {d} of size {n}")
            sizes = [0]
        else:
            sizes = [min(size, n - s) for s in range(0, n, size)] or [0]
    pieces, start = [], 0
    for s in sizes:
        pieces.append(getitem(x, (slice(None),) * d + (slice(start, start + s),)))
        start += s
    return mark_multi(tuple(pieces))


def chunk(input: Any, chunks: int, dim: int = 0) -> tuple:  # noqa: A002
    """Split into ``chunks`` pieces of ceil(n / chunks) (fewer if n is small), as torch.

    Example::

        >>> import retrograd as rg
        >>> [p.shape for p in rg.chunk(rg.ones(5), 3)]
        [(2,), (2,), (1,)]
    """
    x = ensure_tensor(input)
    c = _int(chunks, "chunk", "chunks", 1)
    d = dim_arg(dim, x.ndim, "chunk")
    if x.ndim == 0:
        raise ValueError("chunk: cannot chunk a 0-d tensor")
    n = x.shape[d]
    size = -(-n // c) if n else 0
    if size == 0:
        return tuple(split(x, [0] * c if n == 0 else [n], d))
    return split(x, size, d)


def unbind(input: Any, dim: int = 0) -> tuple:  # noqa: A002
    """The slices along ``dim``, with that dimension removed, as a tuple.

    Example::

        >>> import retrograd as rg
        >>> [t.tolist() for t in rg.unbind(rg.tensor([[1.0, 2.0], [3.0, 4.0]]), 1)]
        [[1.0, 3.0], [2.0, 4.0]]
    """
    x = ensure_tensor(input)
    if x.ndim == 0:
        raise ValueError("unbind: cannot unbind a 0-d tensor")
    d = dim_arg(dim, x.ndim, "unbind")
    return mark_multi(tuple(getitem(x, (slice(None),) * d + (i,)) for i in range(x.shape[d])))


def unflatten(input: Any, dim: int, sizes: Sequence[int]) -> Tensor:  # noqa: A002
    """Split dimension ``dim`` into ``sizes`` (one entry may be -1).

    Example::

        >>> import retrograd as rg
        >>> rg.unflatten(rg.ones(2, 6), 1, (2, 3)).shape
        (2, 2, 3)
    """
    x = ensure_tensor(input)
    d = dim_arg(dim, x.ndim, "unflatten")
    if x.ndim == 0:
        raise ValueError("unflatten: cannot unflatten a 0-d tensor")
    sz = [_int(s, "unflatten", "sizes") for s in sizes]
    if not sz:
        raise ValueError("unflatten: sizes must not be empty")
    n = x.shape[d]
    known = 1
    for s in sz:
        if s != -1:
            known *= s
    if (
        sz.count(-1) > 1
        or (sz.count(-1) == 0 and known != n)
        or (sz.count(-1) == 1 and (known == 0 or n % known))
    ):
        raise ValueError(
            f"unflatten: sizes {tuple(sz)} do not multiply to the size of dim {d} ({n})"
        )
    sz = [n // known if s == -1 else s for s in sz]
    return reshape(x, x.shape[:d] + tuple(sz) + x.shape[d + 1 :])


def movedim(input: Any, source: Any, destination: Any) -> Tensor:  # noqa: A002
    """Move dimensions ``source`` to positions ``destination`` (others keep their order).

    Example::

        >>> import retrograd as rg
        >>> rg.movedim(rg.ones(2, 3, 4), 0, -1).shape
        (3, 4, 2)
    """
    x = ensure_tensor(input)
    src = _dim_list(source, x.ndim, "movedim", "source")
    dst = _dim_list(destination, x.ndim, "movedim", "destination")
    if len(src) != len(dst):
        raise ValueError(
            f"movedim: source {source!r} and destination {destination!r} differ in length"
        )
    order = [d for d in range(x.ndim) if d not in src]
    for s, t in sorted(zip(dst, src)):
        order.insert(s, t)
    return permute(x, tuple(order)) if x.ndim else x


moveaxis = movedim


def swapaxes(input: Any, axis0: int, axis1: int) -> Tensor:  # noqa: A002
    """Swap two dimensions (``transpose`` under NumPy's name; ``swapdims`` also).

    Example::

        >>> import retrograd as rg
        >>> rg.swapaxes(rg.ones(2, 3), 0, 1).shape
        (3, 2)
    """
    from .shape import transpose

    x = ensure_tensor(input)
    a = dim_arg(axis0, x.ndim, "swapaxes", "axis0")
    b = dim_arg(axis1, x.ndim, "swapaxes", "axis1")
    return transpose(x, a, b) if x.ndim else x


swapdims = swapaxes


def unfold(input: Any, dimension: int, size: int, step: int) -> Tensor:  # noqa: A002
    """``Tensor.unfold``: windows of ``size`` every ``step`` along ``dimension``.

    The dimension becomes the window count and a new last dimension holds each window.

    Example::

        >>> import retrograd as rg
        >>> rg.arange(5.0).unfold(0, 2, 2).tolist()
        [[0.0, 1.0], [2.0, 3.0]]
    """
    x = ensure_tensor(input)
    d = dim_arg(dimension, x.ndim, "unfold", "dimension")
    n = x.shape[d] if x.ndim else 1
    size = _int(size, "unfold", "size", 0)
    step = _int(step, "unfold", "step", 1)
    if size > n:
        raise ValueError(f"unfold: size {size} exceeds the size of dimension {d} ({n})")
    if x.ndim == 0:
        return reshape(x, (1,)) if size == 1 else reshape(x, (0,))
    count = (n - size) // step + 1
    idx = xp.arange(count)[:, None] * step + xp.arange(size)[None, :]
    windows = getitem(x, (slice(None),) * d + (idx,))  # (..., count, size, ...)
    return movedim(windows, d + 1, -1)


def diag(input: Any, diagonal: int = 0) -> Tensor:  # noqa: A002
    """1-D input: a square matrix with it on the ``diagonal``; 2-D input: that diagonal.

    Example::

        >>> import retrograd as rg
        >>> rg.diag(rg.tensor([1.0, 2.0])).tolist()
        [[1.0, 0.0], [0.0, 2.0]]
    """
    x = ensure_tensor(input)
    k = _int(diagonal, "diag", "diagonal")
    if x.ndim == 1:
        return Diag.apply(x, offset=k)
    if x.ndim == 2:
        return Diagonal.apply(x, offset=k, dim1=0, dim2=1)
    raise ValueError(f"diag: input must be 1-D or 2-D, got shape {x.shape}")


def diagonal(input: Any, offset: int = 0, dim1: int = 0, dim2: int = 1) -> Tensor:  # noqa: A002
    """The ``offset`` diagonal of the (dim1, dim2) planes, appended as the last dimension.

    Example::

        >>> import retrograd as rg
        >>> rg.diagonal(rg.tensor([[1.0, 2.0], [3.0, 4.0]]), 1).tolist()
        [2.0]
    """
    x = ensure_tensor(input)
    if x.ndim < 2:
        raise ValueError(f"diagonal: input must have at least 2 dimensions, got shape {x.shape}")
    k = _int(offset, "diagonal", "offset")
    d1 = dim_arg(dim1, x.ndim, "diagonal", "dim1")
    d2 = dim_arg(dim2, x.ndim, "diagonal", "dim2")
    if d1 == d2:
        raise ValueError(f"diagonal: dim1 and dim2 must differ, got {dim1} and {dim2}")
    return Diagonal.apply(x, offset=k, dim1=d1, dim2=d2)


def _triangle(x: Any, k: Any, fn: str, lower: bool) -> Tensor:
    from .elementwise import Where

    x = ensure_tensor(x)
    if x.ndim < 2:
        raise ValueError(f"{fn}: input must have at least 2 dimensions, got shape {x.shape}")
    k = _int(k, fn, "diagonal")
    r, c = x.shape[-2:]
    keep = xp.tri(r, c, k, dtype=bool) if lower else ~xp.tri(r, c, k - 1, dtype=bool)
    zero = Tensor._wrap(xp.zeros((), dtype=x.data.dtype), False, None)
    # NOTE: where(), not x * mask: an inf above the diagonal must give 0, not nan.
    return Where.apply(x, zero, cond=keep)


def tril(input: Any, diagonal: int = 0) -> Tensor:  # noqa: A002
    """The lower triangle of the last two dimensions (on and below ``diagonal``); 0 above.

    Example::

        >>> import retrograd as rg
        >>> rg.tril(rg.ones(2, 2)).tolist()
        [[1.0, 0.0], [1.0, 1.0]]
    """
    return _triangle(input, diagonal, "tril", True)


def triu(input: Any, diagonal: int = 0) -> Tensor:  # noqa: A002
    """The upper triangle of the last two dimensions (on and above ``diagonal``); 0 below.

    Example::

        >>> import retrograd as rg
        >>> rg.triu(rg.ones(2, 2)).tolist()
        [[1.0, 1.0], [0.0, 1.0]]
    """
    return _triangle(input, diagonal, "triu", False)


def meshgrid(*tensors: Any, indexing: str = "ij") -> tuple:
    """Coordinate grids from 1-D tensors; ``indexing`` "ij" (matrix) or "xy" (Cartesian).

    Example::

        >>> import retrograd as rg
        >>> a, b = rg.meshgrid(rg.tensor([1.0, 2.0]), rg.tensor([3.0, 4.0, 5.0]))
        >>> a.shape, b.shape
        ((2, 3), (2, 3))
    """
    from .shape import expand

    if len(tensors) == 1 and isinstance(tensors[0], (tuple, list)):
        tensors = tuple(tensors[0])
    if indexing not in ("ij", "xy"):
        raise ValueError(f"meshgrid: indexing must be 'ij' or 'xy', got {indexing!r}")
    ts = [ensure_tensor(t) for t in tensors]
    for i, t in enumerate(ts):
        if t.ndim > 1:
            raise ValueError(f"meshgrid: tensor {i} must be 0-d or 1-D, got shape {t.shape}")
    ts = [reshape(t, (-1,)) for t in ts]
    if not ts:
        return ()
    n = len(ts)
    order = list(range(n))
    if indexing == "xy" and n >= 2:
        order[0], order[1] = 1, 0
    shape = tuple(ts[order[k]].shape[0] for k in range(n))
    out = []
    for i, t in enumerate(ts):
        pos = order.index(i)
        view = [1] * n
        view[pos] = t.shape[0]
        out.append(expand(reshape(t, tuple(view)), shape))
    return tuple(out)


# ----------------------------------------------------------------------- F.pad

_PAD_MODES = ("constant", "reflect", "replicate", "circular")


def _pad_index(n: int, lo: int, hi: int, mode: str, d: int) -> Any:
    """Source indices of the padded (or cropped) dimension under ``mode``."""
    pos = xp.arange(-lo, n + hi)
    if mode == "replicate":
        return xp.clip(pos, 0, n - 1)
    if mode == "circular":
        # PyTorch crops first, then wraps around what is left.
        start, kept = max(-lo, 0), n + min(lo, 0) + min(hi, 0)
        return start + xp.arange(-max(lo, 0), kept + max(hi, 0)) % kept
    period = 2 * (n - 1)  # reflect: mirror about the end elements, not repeating them
    m = pos % period if period else xp.zeros_like(pos)
    return xp.where(m < n, m, period - m)


def pad(input: Any, pad: Sequence[int], mode: str = "constant", value: Any = None) -> Tensor:  # noqa: A002
    """``F.pad``: ``pad`` = (left, right) of the last dim, then of the one before, ...

    Modes "constant" (fill ``value``, default 0), "reflect" (mirror without repeating the
    edge), "replicate" (repeat the edge) and "circular" (wrap around). Negative amounts
    crop. As in PyTorch, the non-constant modes pad at most the last 3 dimensions of a
    batched input, and reflect padding must be smaller than the dimension.

    Example::

        >>> import retrograd as rg
        >>> import retrograd.nn.functional as F
        >>> F.pad(rg.tensor([[1.0, 2.0, 3.0]]), (2, 1), mode="reflect").tolist()
        [[3.0, 2.0, 1.0, 2.0, 3.0, 2.0]]
    """
    from .shape import pad as _pad_constant

    x = ensure_tensor(input)
    if mode not in _PAD_MODES:
        raise ValueError(f"pad: mode must be one of {_PAD_MODES}, got {mode!r}")
    if isinstance(pad, (int, xp.integer)) or not isinstance(pad, (tuple, list)):
        raise TypeError(f"pad: pad must be a tuple of ints, got {pad!r}")
    amounts = [_int(p, "pad", "pad") for p in pad]
    if len(amounts) % 2 or len(amounts) // 2 > x.ndim:
        raise ValueError(
            f"pad: pad must have an even length of at most 2 * ndim ({2 * x.ndim}), got "
            f"{len(amounts)} values"
        )
    if mode != "constant":
        if value not in (None, 0, 0.0):
            raise ValueError(f"pad: value is only used by mode 'constant', got mode {mode!r}")
        if len(amounts) // 2 > 3 or x.ndim < len(amounts) // 2 + 1:
            raise ValueError(
                f"pad: mode {mode!r} pads the last 1-3 dimensions of a (batched) input with "
                f"one more leading dimension; got pad of {len(amounts)} values for shape "
                f"{x.shape}"
            )
    npad = len(amounts) // 2
    widths = [(0, 0)] * (x.ndim - npad) + [
        (amounts[2 * i], amounts[2 * i + 1]) for i in reversed(range(npad))
    ]
    for d, (lo, hi) in enumerate(widths):
        n = x.shape[d]
        if n + lo + hi < 0 or (mode != "constant" and (n + min(lo, 0) + min(hi, 0)) <= 0):
            raise ValueError(
                f"pad: padding ({lo}, {hi}) leaves nothing of dimension {d} of size {n}"
            )
        if mode == "reflect" and (lo >= n or hi >= n):
            raise ValueError(
                f"pad: reflect padding ({lo}, {hi}) must be smaller than the size of "
                f"dimension {d} ({n})"
            )
        if mode == "circular" and (lo > n or hi > n):
            raise ValueError(
                f"pad: circular padding ({lo}, {hi}) must not exceed the size of "
                f"dimension {d} ({n})"
            )
    if mode == "constant":
        # Crop the negative amounts by slicing, then pad the positive ones with the value.
        crop = tuple(slice(max(-lo, 0), x.shape[d] - max(-hi, 0)) for d, (lo, hi) in
                     enumerate(widths))  # fmt: skip
        if any(lo < 0 or hi < 0 for lo, hi in widths):
            x = getitem(x, crop)
        positive = tuple((max(lo, 0), max(hi, 0)) for lo, hi in widths)
        if not any(lo or hi for lo, hi in positive):
            return x
        fill = 0.0 if value is None else value
        return _pad_constant(x, positive, value=fill)
    for d, (lo, hi) in enumerate(widths):
        if lo or hi:
            idx = _pad_index(x.shape[d], lo, hi, mode, d)
            x = getitem(x, (slice(None),) * d + (idx,))
    return x


def _atleast(t: Tensor, n: int) -> Tensor:
    return t if t.ndim >= n else reshape(t, (1,) * (n - t.ndim) + t.shape)


def hstack(tensors: Sequence[Any]) -> Tensor:
    """Concatenate along dimension 1 (0 for 1-D tensors), as ``torch.hstack``.

    Example::

        >>> import retrograd as rg
        >>> rg.hstack([rg.ones(2), rg.zeros(1)]).tolist()
        [1.0, 1.0, 0.0]
    """
    from .shape import concatenate

    ts = [_atleast(ensure_tensor(t), 1) for t in _tensor_list(tensors, "hstack")]
    return concatenate(ts, 0 if ts[0].ndim == 1 else 1)


def vstack(tensors: Sequence[Any]) -> Tensor:
    """Stack rows: 1-D tensors become rows (1, n), then concatenate along dimension 0.

    Example::

        >>> import retrograd as rg
        >>> rg.vstack([rg.ones(2), rg.zeros(2)]).tolist()
        [[1.0, 1.0], [0.0, 0.0]]
    """
    from .shape import concatenate

    ts = [_atleast(ensure_tensor(t), 2) for t in _tensor_list(tensors, "vstack")]
    return concatenate(ts, 0)


def _tensor_list(tensors: Any, fn: str) -> list:
    if isinstance(tensors, Tensor) or not isinstance(tensors, (list, tuple)) or not tensors:
        raise TypeError(f"{fn}: expected a non-empty list or tuple of tensors, got {tensors!r}")
    return list(tensors)


def diff(
    input: Any,  # noqa: A002
    n: int = 1,
    dim: int = -1,
    prepend: Any = None,
    append: Any = None,
) -> Tensor:
    """The ``n``-th forward difference along ``dim`` (after adding ``prepend``/``append``).

    Example::

        >>> import retrograd as rg
        >>> rg.diff(rg.tensor([1.0, 4.0, 9.0, 16.0])).tolist()
        [3.0, 5.0, 7.0]
    """
    from .shape import concatenate

    x = ensure_tensor(input)
    if x.ndim == 0:
        raise ValueError("diff: expected at least a 1-dimensional tensor")
    d = dim_arg(dim, x.ndim, "diff")
    n = _int(n, "diff", "n", 0)
    parts = [ensure_tensor(p) for p in (prepend, x, append) if p is not None]
    if len(parts) > 1:
        x = concatenate(parts, d)
    for _ in range(n):
        m = x.shape[d]
        if m == 0:
            break
        hi = getitem(x, (slice(None),) * d + (slice(1, m),))
        lo = getitem(x, (slice(None),) * d + (slice(0, m - 1),))
        x = hi != lo if x.dtype.kind == "b" else hi - lo
    return x


def rot90(input: Any, k: int = 1, dims: Sequence[int] = (0, 1)) -> Tensor:  # noqa: A002
    """Rotate by 90 degrees ``k`` times in the plane of ``dims``, from the first axis
    towards the second (a copy, as in torch).

    Example::

        >>> import retrograd as rg
        >>> rg.rot90(rg.tensor([[1.0, 2.0], [3.0, 4.0]])).tolist()
        [[2.0, 4.0], [1.0, 3.0]]
    """
    from .shape import transpose

    x = ensure_tensor(input)
    if len(dims) != 2:
        raise ValueError(f"rot90: dims must name 2 dimensions, got {dims!r}")
    if x.ndim < 2:
        raise ValueError(f"rot90: expected at least 2 dimensions, got shape {x.shape}")
    d0, d1 = (dim_arg(d, x.ndim, "rot90") for d in dims)
    if d0 == d1:
        raise ValueError(f"rot90: dims must be different, got {dims!r}")
    k = _int(k, "rot90", "k") % 4
    if k == 1:
        return transpose(flip(x, [d1]), d0, d1)
    if k == 2:
        return flip(x, [d0, d1])
    if k == 3:
        return flip(transpose(x, d0, d1), [d1])
    return x.clone()


__all__ = [
    "flip", "fliplr", "flipud", "roll", "tile", "repeat_interleave", "narrow", "select",
    "split", "chunk", "unbind", "unflatten", "movedim", "moveaxis", "swapaxes", "swapdims",
    "diag", "diagonal", "tril", "triu", "meshgrid", "hstack", "vstack", "diff", "rot90",
]  # fmt: skip
