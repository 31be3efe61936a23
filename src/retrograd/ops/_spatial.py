"""Geometry shared by the NCHW ops (convolution, pooling): argument pairs, output sizes,
padding, strided window views and the batched/unbatched input check."""

from __future__ import annotations

from typing import Any

from .._backend import xp
from .._checks import int_pair
from ..autograd.tensor import Tensor

_as_strided = xp.lib.stride_tricks.as_strided


def _out_size(size: int, lo: int, hi: int, k: int, s: int, d: int, ceil: bool = False) -> int:
    """Output length of a sliding window (PyTorch's formula, with ceil_mode's rule)."""
    span = size + lo + hi - d * (k - 1) - 1
    if span < 0:
        return 0
    if not ceil:
        return span // s + 1
    out = -(-span // s) + 1
    # ceil_mode: the last window must start inside the input or the left padding.
    if (out - 1) * s >= size + lo:
        out -= 1
    return out


def _pad2d(x: Any, pads: tuple, value: float = 0.0) -> Any:
    """Pad the last two axes by ((top, bottom), (left, right)); no copy when all zero."""
    (t, b), (left, r) = pads
    if not (t or b or left or r):
        return x
    n, c, h, w = x.shape
    out = xp.full((n, c, h + t + b, w + left + r), value, dtype=x.dtype)
    out[:, :, t : t + h, left : left + w] = x
    return out


def _window(arr: Any, i: int, j: int, oh: int, ow: int, stride: tuple, dilation: tuple) -> Any:
    """The strided view of ``arr`` seen by kernel offset (i, j) at every output position."""
    sh, sw = stride
    y0, x0 = i * dilation[0], j * dilation[1]
    return arr[:, :, y0 : y0 + sh * (oh - 1) + 1 : sh, x0 : x0 + sw * (ow - 1) + 1 : sw]


def _check_nchw(x: Tensor, who: str, channels: int | None = None) -> tuple:
    """Accept (N, C, H, W) or unbatched (C, H, W); return the 4-D tensor and the flag."""
    expected = (
        "(N, C, H, W) or (C, H, W)"
        if channels is None
        else (f"(N, {channels}, H, W) or ({channels}, H, W)")
    )
    if x.ndim not in (3, 4):
        raise ValueError(f"{who}: input has shape {x.shape}, expected {expected}")
    if x.data.dtype.kind != "f":
        raise TypeError(f"{who}: input must be floating point, got dtype {x.data.dtype}")
    if channels is not None and x.shape[-3] != channels:
        raise ValueError(
            f"{who}: input has shape {x.shape} with {x.shape[-3]} channels, expected {expected}"
        )
    if x.ndim == 3:
        from .shape import reshape

        return reshape(x, (1,) + x.shape), True
    return x, False


def _unbatch(y: Tensor, unbatched: bool) -> Tensor:
    if not unbatched:
        return y
    from .shape import reshape

    return reshape(y, y.shape[1:])


def _single(value: Any, name: str, who: str, minimum: int = 1) -> int:
    """A 1-D hyperparameter: an int or a 1-tuple."""
    if isinstance(value, (tuple, list)) and len(value) == 1:
        value = value[0]
    return int_pair(value, name, who, minimum)[0]


def _as_2d(x: Tensor, who: str, channels: int | None = None) -> tuple:
    """(N, C, L) or unbatched (C, L) -> (N, C, 1, L); the flag says it was unbatched.

    1-D convolution and pooling run as their 2-D forms on a height of 1."""
    from .shape import reshape

    c = "C" if channels is None else channels
    expected = f"(N, {c}, L) or ({c}, L)"
    if x.ndim not in (2, 3):
        raise ValueError(f"{who}: input has shape {x.shape}, expected {expected}")
    if x.data.dtype.kind != "f":
        raise TypeError(f"{who}: input must be floating point, got dtype {x.data.dtype}")
    channels = x.shape[-2] if channels is None else channels
    if x.shape[-2] != channels:
        raise ValueError(f"{who}: input has shape {x.shape} with {x.shape[-2]} channels, "
                         f"expected {expected}")  # fmt: skip
    unbatched = x.ndim == 2
    n = 1 if unbatched else x.shape[0]
    return reshape(x, (n, channels, 1, x.shape[-1])), unbatched


def _from_2d(y: Tensor, unbatched: bool) -> Tensor:
    from .shape import reshape

    n, c, _, length = y.shape
    return reshape(y, (c, length) if unbatched else (n, c, length))
