"""Resampling: ``interpolate`` (nearest, linear, bilinear) and pixel (un)shuffle.

No new primitives: ``interpolate`` gathers rows/columns with advanced indexing
(:class:`~retrograd.ops.shape.GetItem`, whose VJP scatter-adds) and blends them with the
weights PyTorch computes; pixel (un)shuffle is a reshape and a permutation. The source
positions follow PyTorch's ``area_pixel_compute_source_index`` and ``nearest_idx``: with
``scale_factor`` given the scale is ``1 / scale_factor`` (not ``in / out``) unless
``recompute_scale_factor=True``, exactly as PyTorch; nearest indices are computed in
float32 as PyTorch's CPU kernel does.
"""

from __future__ import annotations

import math
from typing import Any

from .._backend import xp
from ..autograd.tensor import Tensor
from ._util import ensure_tensor
from .shape import getitem, permute, reshape

_MODES = ("nearest", "nearest-exact", "linear", "bilinear")
_SPATIAL = {"linear": 1, "bilinear": 2}


def _scale(n_in: int, n_out: int, factor: float | None, align_corners: bool) -> float:
    if align_corners:
        return (n_in - 1) / (n_out - 1) if n_out > 1 else 0.0
    return 1.0 / factor if factor is not None else n_in / n_out


def _nearest_index(n_in: int, n_out: int, factor: float | None, exact: bool) -> Any:
    if n_in == n_out:
        return xp.arange(n_out)
    scale = xp.float32(1.0 / factor) if factor is not None else xp.float32(n_in) / xp.float32(n_out)
    dst = xp.arange(n_out, dtype=xp.float32)
    if exact:
        dst = dst + xp.float32(0.5)
    return xp.minimum(xp.floor(dst * scale).astype(xp.int64), n_in - 1)


def _linear_weights(n_in: int, n_out: int, factor: float | None, align: bool, dtype: Any):
    scale = _scale(n_in, n_out, factor, align)
    dst = xp.arange(n_out, dtype=xp.float64)
    src = dst * scale if align else xp.maximum((dst + 0.5) * scale - 0.5, 0.0)
    i0 = xp.minimum(src.astype(xp.int64), n_in - 1)
    i1 = xp.where(i0 < n_in - 1, i0 + 1, i0)
    l1 = (src - i0).astype(dtype)
    l0 = (1.0 - (src - i0)).astype(dtype)
    return i0, i1, l0, l1


def _take(x: Tensor, index: Any, axis: int) -> Tensor:
    return getitem(x, (slice(None),) * axis + (index,))


def _const(a: Any, axis: int, ndim: int) -> Tensor:
    shape = [1] * ndim
    shape[axis] = a.shape[0]
    return Tensor._wrap(a.reshape(shape), False, None)


def _out_sizes(x: Tensor, size: Any, scale_factor: Any, n: int, who: str) -> tuple:
    spatial = x.shape[2:]
    if (size is None) == (scale_factor is None):
        raise ValueError(f"{who}: give exactly one of size and scale_factor, got size={size!r}, "
                         f"scale_factor={scale_factor!r}")  # fmt: skip
    if size is not None:
        sizes = (size,) * n if isinstance(size, (int, xp.integer)) else tuple(size)
        if len(sizes) != n or not all(
            isinstance(s, (int, xp.integer)) and not isinstance(s, bool) and s > 0 for s in sizes
        ):
            raise ValueError(f"{who}: size must be a positive int or {n} of them for input "
                             f"{x.shape}, got {size!r}")  # fmt: skip
        return tuple(int(s) for s in sizes), (None,) * n
    factors = (scale_factor,) * n if isinstance(scale_factor, (int, float)) else tuple(scale_factor)
    if len(factors) != n or not all(
        isinstance(f, (int, float)) and not isinstance(f, bool) and math.isfinite(f) and f > 0
        for f in factors
    ):
        raise ValueError(f"{who}: scale_factor must be a positive number or {n} of them for "
                         f"input {x.shape}, got {scale_factor!r}")  # fmt: skip
    sizes = tuple(int(math.floor(s * float(f))) for s, f in zip(spatial, factors))
    if min(sizes) < 1:
        raise ValueError(f"{who}: scale_factor {scale_factor!r} gives an empty output for "
                         f"input {x.shape}")  # fmt: skip
    return sizes, tuple(float(f) for f in factors)


def interpolate(
    input: Any,  # noqa: A002 - PyTorch's name
    size: Any = None,
    scale_factor: Any = None,
    mode: str = "nearest",
    align_corners: bool | None = None,
    recompute_scale_factor: bool | None = None,
    antialias: bool = False,
) -> Tensor:
    """Resize (N, C, L) or (N, C, H, W) input to ``size`` or by ``scale_factor``.

    ``mode``: ``"nearest"`` (PyTorch's, which picks ``floor(dst * scale)``),
    ``"nearest-exact"``, ``"linear"`` (3-D input) or ``"bilinear"`` (4-D input).
    ``align_corners`` (linear modes only) maps the corner pixels' centres onto each
    other.

    Example::

        >>> import retrograd as rg
        >>> x = rg.tensor([[[0.0, 1.0, 2.0]]])
        >>> rg.nn.functional.interpolate(x, scale_factor=2, mode="linear").tolist()
        [[[0.0, 0.25, 0.75, 1.25, 1.75, 2.0]]]
    """
    who = "interpolate"
    x = ensure_tensor(input)
    if mode not in _MODES:
        raise ValueError(f"{who}: mode must be one of {_MODES}, got {mode!r}")
    if antialias:
        raise ValueError(f"{who}: antialias=True is not supported")
    if x.data.dtype.kind != "f":
        raise TypeError(f"{who}: input must be floating point, got dtype {x.data.dtype}")
    n = _SPATIAL.get(mode, x.ndim - 2)
    if x.ndim != n + 2 or n not in (1, 2):
        want = {1: "3-D (N, C, L)", 2: "4-D (N, C, H, W)"}.get(_SPATIAL.get(mode, 0),
                                                               "3-D or 4-D")  # fmt: skip
        raise ValueError(f"{who}: mode {mode!r} needs {want} input, got shape {x.shape}")
    linear = mode in _SPATIAL
    if align_corners is not None and not linear:
        raise ValueError(f"{who}: align_corners only applies to the linear modes, got "
                         f"align_corners={align_corners!r} with mode {mode!r}")  # fmt: skip
    sizes, factors = _out_sizes(x, size, scale_factor, n, who)
    if recompute_scale_factor:
        factors = (None,) * n
    # Last axis first: the blend then matches PyTorch's order, h0 * (w0 * a + w1 * b) + ...
    for k in reversed(range(n)):
        axis = 2 + k
        n_in = x.shape[axis]
        if linear:
            i0, i1, l0, l1 = _linear_weights(n_in, sizes[k], factors[k], bool(align_corners),
                                             x.data.dtype)  # fmt: skip
            x = _take(x, i0, axis) * _const(l0, axis, x.ndim) + _take(x, i1, axis) * _const(
                l1, axis, x.ndim
            )
        else:
            idx = _nearest_index(n_in, sizes[k], factors[k], mode == "nearest-exact")
            if not (idx.shape[0] == n_in and (idx == xp.arange(n_in)).all()):
                x = _take(x, idx, axis)
    return x


def _shuffle_args(x: Any, factor: Any, who: str) -> tuple:
    x = ensure_tensor(x)
    if not isinstance(factor, (int, xp.integer)) or isinstance(factor, bool) or factor < 1:
        raise ValueError(f"{who}: the factor must be a positive int, got {factor!r}")
    if x.ndim < 3:
        raise ValueError(f"{who}: input has shape {x.shape}, expected (*, C, H, W)")
    return x, int(factor)


def pixel_shuffle(input: Any, upscale_factor: int) -> Tensor:  # noqa: A002
    """(*, C * r^2, H, W) -> (*, C, H * r, W * r), PyTorch's element order.

    Example::

        >>> import retrograd as rg
        >>> rg.nn.functional.pixel_shuffle(rg.zeros(1, 8, 3, 3), 2).shape
        (1, 2, 6, 6)
    """
    x, r = _shuffle_args(input, upscale_factor, "pixel_shuffle")
    *lead, c, h, w = x.shape
    if c % (r * r):
        raise ValueError(f"pixel_shuffle: input has {c} channels (shape {x.shape}), expected a "
                         f"multiple of upscale_factor**2 = {r * r}")  # fmt: skip
    k = len(lead)
    y = reshape(x, (*lead, c // (r * r), r, r, h, w))
    y = permute(y, tuple(range(k + 1)) + (k + 3, k + 1, k + 4, k + 2))
    return reshape(y, (*lead, c // (r * r), h * r, w * r))


def pixel_unshuffle(input: Any, downscale_factor: int) -> Tensor:  # noqa: A002
    """(*, C, H * r, W * r) -> (*, C * r^2, H, W): the inverse of :func:`pixel_shuffle`.

    Example::

        >>> import retrograd as rg
        >>> rg.nn.functional.pixel_unshuffle(rg.zeros(1, 2, 6, 6), 2).shape
        (1, 8, 3, 3)
    """
    x, r = _shuffle_args(input, downscale_factor, "pixel_unshuffle")
    *lead, c, h, w = x.shape
    if h % r or w % r:
        raise ValueError(f"pixel_unshuffle: input has shape {x.shape}, expected H and W "
                         f"divisible by downscale_factor={r}")  # fmt: skip
    k = len(lead)
    y = reshape(x, (*lead, c, h // r, r, w // r, r))
    y = permute(y, tuple(range(k + 1)) + (k + 2, k + 4, k + 1, k + 3))
    return reshape(y, (*lead, c * r * r, h // r, w // r))
