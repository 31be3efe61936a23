"""``F.unfold`` (im2col: sliding blocks to columns) and ``F.fold`` (columns summed back
into an image), PyTorch's layouts, as compositions of indexing primitives: unfold gathers
with an advanced index, fold scatter-adds with the same index (each is the other's
gradient)."""

from __future__ import annotations

from typing import Any

from .._backend import xp
from .._checks import int_pair
from ..autograd.tensor import Tensor
from ..errors import ShapeError
from ._util import ensure_tensor


def _blocks(hw: tuple, kernel: tuple, dilation: tuple, padding: tuple, stride: tuple,
            who: str) -> tuple:  # fmt: skip
    """Row and column index arrays (kh * kw, L) into the padded image, and (oh, ow)."""
    (h, w), (kh, kw), (dh, dw), (ph, pw), (sh, sw) = hw, kernel, dilation, padding, stride
    oh = (h + 2 * ph - dh * (kh - 1) - 1) // sh + 1
    ow = (w + 2 * pw - dw * (kw - 1) - 1) // sw + 1
    if oh < 1 or ow < 1:
        raise ShapeError(
            f"{who}: a spatial size of {(h, w)} with padding {padding} is too small for "
            f"kernel {kernel} with dilation {dilation}"
        )
    ki, kj = xp.divmod(xp.arange(kh * kw), kw)
    oi, oj = xp.divmod(xp.arange(oh * ow), ow)
    rows = (ki * dh)[:, None] + (oi * sh)[None, :]
    cols = (kj * dw)[:, None] + (oj * sw)[None, :]
    return rows, cols, (oh, ow)


def _geometry(kernel_size: Any, dilation: Any, padding: Any, stride: Any, who: str) -> tuple:
    return (
        int_pair(kernel_size, "kernel_size", who),
        int_pair(dilation, "dilation", who),
        int_pair(padding, "padding", who, minimum=0),
        int_pair(stride, "stride", who),
    )


def unfold(
    input: Any,  # noqa: A002 - PyTorch's name
    kernel_size: Any,
    dilation: Any = 1,
    padding: Any = 0,
    stride: Any = 1,
) -> Tensor:
    """Sliding (kh, kw) blocks of (N, C, H, W) input as columns: (N, C * kh * kw, L).

    Example::

        >>> import retrograd as rg
        >>> rg.nn.functional.unfold(rg.ones(1, 2, 3, 3), 2).shape
        (1, 8, 4)
    """
    from .movement import pad
    from .shape import getitem, reshape

    who = "unfold"
    x = ensure_tensor(input)
    unbatched = x.ndim == 3
    if x.ndim not in (3, 4):
        raise ShapeError(f"{who}: expected (N, C, H, W) or (C, H, W) input, got shape {x.shape}")
    if unbatched:
        x = reshape(x, (1,) + x.shape)
    kernel, dil, padn, strd = _geometry(kernel_size, dilation, padding, stride, who)
    n, c, h, w = x.shape
    rows, cols, _ = _blocks((h, w), kernel, dil, padn, strd, who)
    if padn != (0, 0):
        x = pad(x, (padn[1], padn[1], padn[0], padn[0]))
    cols_ = getitem(x, (slice(None), slice(None), rows, cols))  # (N, C, kh*kw, L)
    out = reshape(cols_, (n, c * rows.shape[0], rows.shape[1]))
    return reshape(out, out.shape[1:]) if unbatched else out


def fold(
    input: Any,  # noqa: A002
    output_size: Any,
    kernel_size: Any,
    dilation: Any = 1,
    padding: Any = 0,
    stride: Any = 1,
) -> Tensor:
    """Sum columns (N, C * kh * kw, L) back into an (N, C, H, W) image (overlaps add up),
    the adjoint of :func:`unfold`.

    Example::

        >>> import retrograd as rg
        >>> F = rg.nn.functional
        >>> F.fold(F.unfold(rg.ones(1, 1, 3, 3), 2), (3, 3), 2)[0, 0].tolist()
        [[1.0, 2.0, 1.0], [2.0, 4.0, 2.0], [1.0, 2.0, 1.0]]
    """
    from .shape import GetItem, IndexAdd, reshape

    who = "fold"
    x = ensure_tensor(input)
    unbatched = x.ndim == 2
    if x.ndim not in (2, 3):
        raise ShapeError(f"{who}: expected (N, C*kh*kw, L) or (C*kh*kw, L) input, got {x.shape}")
    if unbatched:
        x = reshape(x, (1,) + x.shape)
    kernel, dil, padn, strd = _geometry(kernel_size, dilation, padding, stride, who)
    h, w = int_pair(output_size, "output_size", who)
    rows, cols, (oh, ow) = _blocks((h, w), kernel, dil, padn, strd, who)
    n, ck, length = x.shape
    k = kernel[0] * kernel[1]
    if ck % k:
        raise ShapeError(
            f"{who}: dimension 1 of the input ({ck}) must be divisible by the kernel's "
            f"{kernel[0]} * {kernel[1]} = {k}"
        )
    if length != oh * ow:
        raise ShapeError(
            f"{who}: the input has {length} blocks, but output_size {(h, w)} with these "
            f"kernel, dilation, padding and stride gives {oh} * {ow} = {oh * ow}"
        )
    c = ck // k
    cols_ = reshape(x, (n, c, k, length))
    hp, wp = h + 2 * padn[0], w + 2 * padn[1]
    index = (slice(None), slice(None), rows, cols)
    img = IndexAdd.apply(cols_, shape=(n, c, hp, wp), index=index, advanced=True)
    if padn != (0, 0):
        img = GetItem.apply(
            img, index=(slice(None), slice(None), slice(padn[0], padn[0] + h),
                        slice(padn[1], padn[1] + w))
        )  # fmt: skip
    return reshape(img, img.shape[1:]) if unbatched else img


__all__: list = []
