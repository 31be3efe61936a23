"""Max pooling's indices (``return_indices=True``) and adaptive max pooling.

The indices are PyTorch's: for each output, the flat position ``h * W + w`` in its
(H, W) input plane of the window's first maximum in row-major order (NaN counts as the
maximum, as in PyTorch). Adaptive max pooling gathers the input at those indices, so its
gradient goes to exactly that element, as PyTorch's does.
"""

from __future__ import annotations

from typing import Any

from .._backend import xp
from .._checks import int_pair
from ..autograd.tensor import Tensor
from ._spatial import _check_nchw, _pad2d, _unbatch, _window
from ._util import ensure_tensor
from .pool import _pool_geometry, max_pool2d


def _first_max(values: list, positions: list) -> Any:
    """Index of the first maximum (NaN first) over candidate slabs of equal shape."""
    best, idx = values[0].copy(), positions[0].copy()
    for v, p in zip(values[1:], positions[1:]):
        take = (v > best) | (xp.isnan(v) & ~xp.isnan(best))
        best = xp.where(take, v, best)
        idx = xp.where(take, p, idx)
    return idx


def max_pool2d_indices(
    x: Tensor, kernel_size: Any, stride: Any, padding: Any, dilation: Any, ceil_mode: bool,
    who: str,
) -> Tensor:  # fmt: skip
    """The int64 indices of :func:`retrograd.ops.pool.max_pool2d`'s maxima (4-D input)."""
    kernel, stride_, _, dil, pads, (oh, ow) = _pool_geometry(
        x, kernel_size, stride, padding, dilation, ceil_mode, who
    )
    n, c, h, w = x.shape
    vals = _pad2d(x.data, pads, -xp.inf)
    pos = _pad2d(xp.broadcast_to(xp.arange(h * w).reshape(h, w), (1, 1, h, w)).astype(float),
                 pads, -1.0)  # fmt: skip
    kh, kw = kernel
    cands = [_window(vals, k // kw, k % kw, oh, ow, stride_, dil) for k in range(kh * kw)]
    where = [_window(pos, k // kw, k % kw, oh, ow, stride_, dil) for k in range(kh * kw)]
    where = [xp.broadcast_to(p, v.shape) for p, v in zip(where, cands)]
    return Tensor._wrap(_first_max(cands, where).astype(xp.int64), False, None)


def max_pool2d_with_indices(
    input: Any,  # noqa: A002 - PyTorch's name
    kernel_size: Any,
    stride: Any = None,
    padding: Any = 0,
    dilation: Any = 1,
    ceil_mode: bool = False,
    *,
    _who: str = "max_pool2d",
) -> tuple:
    """``(values, indices)`` of max pooling (``F.max_pool2d(..., return_indices=True)``)."""
    x, unbatched = _check_nchw(ensure_tensor(input), _who)
    out = max_pool2d(x, kernel_size, stride, padding, dilation, ceil_mode, _who=_who)
    idx = max_pool2d_indices(x, kernel_size, stride, padding, dilation, ceil_mode, _who)
    return _unbatch(out, unbatched), _unbatch(idx, unbatched)


def max_pool1d_with_indices(
    input: Any,  # noqa: A002
    kernel_size: Any,
    stride: Any = None,
    padding: Any = 0,
    dilation: Any = 1,
    ceil_mode: bool = False,
    *,
    _who: str = "max_pool1d",
) -> tuple:
    """``(values, indices)`` of 1-D max pooling over (N, C, L) or (C, L) input."""
    from ._spatial import _single
    from .shape import reshape

    x = ensure_tensor(input)
    if x.ndim not in (2, 3):
        raise ValueError(f"{_who}: expected (N, C, L) or (C, L) input, got shape {x.shape}")
    k = _single(kernel_size, "kernel_size", _who)
    s = k if stride is None else _single(stride, "stride", _who)
    p = _single(padding, "padding", _who, 0)
    d = _single(dilation, "dilation", _who)
    x4 = reshape(x, x.shape[:-1] + (1, x.shape[-1]))
    v, i = max_pool2d_with_indices(x4, (1, k), (1, s), (0, p), (1, d), ceil_mode, _who=_who)
    return reshape(v, v.shape[:-2] + v.shape[-1:]), reshape(i, i.shape[:-2] + i.shape[-1:])


def _bins(n: int, m: int) -> list:
    """PyTorch's adaptive bins: [floor(i n / m), ceil((i + 1) n / m)) for i < m."""
    return [((i * n) // m, -((-(i + 1) * n) // m)) for i in range(m)]


def adaptive_max_pool2d(
    input: Any,  # noqa: A002
    output_size: Any,
    return_indices: bool = False,
    *,
    _who: str = "adaptive_max_pool2d",
) -> Any:
    """Max pooling to a fixed output size with PyTorch's bins (None keeps that axis); the
    gradient goes to each bin's first maximum.

    Example::

        >>> import retrograd as rg
        >>> F = rg.nn.functional
        >>> F.adaptive_max_pool2d(rg.arange(16.0).reshape(1, 1, 4, 4), 2).tolist()
        [[[[5.0, 7.0], [13.0, 15.0]]]]
    """
    from .indexing import gather
    from .shape import reshape

    x, unbatched = _check_nchw(ensure_tensor(input), _who)
    n, c, h, w = x.shape
    if isinstance(output_size, (tuple, list)) and len(output_size) == 2:
        out = tuple(x.shape[2 + i] if s is None else s for i, s in enumerate(output_size))
    else:
        out = output_size
    oh, ow = int_pair(out, "output_size", _who)
    if h == 0 or w == 0:
        raise ValueError(f"{_who}: input of shape {x.shape} has an empty spatial dimension")
    a = x.data
    flat = xp.empty((n, c, oh, ow), dtype=xp.int64)
    for i, (h0, h1) in enumerate(_bins(h, oh)):
        for j, (w0, w1) in enumerate(_bins(w, ow)):
            win = a[:, :, h0:h1, w0:w1].reshape(n, c, -1)
            # np.argmax: the first maximum, NaN first, as PyTorch
            k = xp.argmax(win, axis=-1)
            flat[:, :, i, j] = (h0 + k // (w1 - w0)) * w + (w0 + k % (w1 - w0))
    idx = Tensor._wrap(flat, False, None)
    values = reshape(gather(reshape(x, (n, c, h * w)), 2, reshape(idx, (n, c, oh * ow))),
                     (n, c, oh, ow))  # fmt: skip
    values = _unbatch(values, unbatched)
    if return_indices:
        return values, _unbatch(idx, unbatched)
    return values


__all__: list = []
