"""Pooling primitives (NCHW layout, PyTorch's semantics).

Pooling walks the ``kh * kw`` window offsets as strided views of the input (never a
loop over pixels).
"""

from __future__ import annotations

from typing import Any

from .._backend import xp
from .._checks import int_pair
from ..autograd.function import Function
from ..autograd.tensor import Tensor
from ..kernels import K
from . import _composites
from ._spatial import (
    _as_2d,
    _check_nchw,
    _from_2d,
    _out_size,
    _pad2d,
    _single,
    _unbatch,
    _window,
)
from ._util import ensure_tensor


class MaxPool2d(Function):
    """Window maximum; the gradient goes to the first arg-max in row-major window order.

    The kernels ``K.max_pool2d_fwd``/``K.max_pool2d_bwd`` do the work. The NumPy twin's
    forward is a chain of ``maximum`` over the ``kh * kw`` offset views (NaN propagates,
    as in PyTorch) and its backward finds the arg-max offset by offset; the compiled
    forward keeps each output's arg-max offset (one byte per output for windows of up
    to 256 elements) and its backward is one pass. Either way an element receives the
    gradient when it is its window's first maximum in row-major order (PyTorch's rule
    on ties, which ReLU zeros make common; the last NaN when the window holds one).
    """

    output_saved = False  # PyTorch saves the indices, not the output

    replay = "pure"

    def forward(
        self, x, kernel=(2, 2), stride=(2, 2), pads=((0, 0), (0, 0)), dilation=(1, 1), out_hw=(1, 1)
    ):
        out, self.state = K.max_pool2d_fwd(x, kernel, stride, pads, dilation, out_hw)
        self.geom = (x.shape, kernel, stride, pads, dilation, *out_hw)
        return out

    def backward(self, g):
        xshape, kernel, stride, pads, dilation, _, _ = self.geom
        return (K.max_pool2d_bwd(g, self.state, xshape, kernel, stride, pads, dilation),)

    def composite(self, x):
        _, kernel, stride, pads, dilation, oh, ow = self.geom
        return _composites.max_pool2d(x, kernel, stride, pads, dilation, (oh, ow))


class AvgPool2d(Function):
    """Window mean; ``divisor`` (broadcastable to the output) is precomputed by the caller."""

    replay = "pure"

    def forward(
        self, x, kernel=(2, 2), stride=(2, 2), pads=((0, 0), (0, 0)), out_hw=(1, 1), divisor=None
    ):
        kh, kw = kernel
        oh, ow = out_hw
        xp_ = _pad2d(x, pads)
        total = _window(xp_, 0, 0, oh, ow, stride, (1, 1)).copy()
        for k in range(1, kh * kw):
            total += _window(xp_, k // kw, k % kw, oh, ow, stride, (1, 1))
        self.geom = (x.shape, xp_.shape, kernel, stride, pads, oh, ow)
        self.divisor = divisor
        total /= divisor
        return total

    def backward(self, g):
        xshape, pshape, (kh, kw), stride, pads, oh, ow = self.geom
        gd = g / self.divisor
        gxp = xp.zeros(pshape, dtype=g.dtype)
        for k in range(kh * kw):
            _window(gxp, k // kw, k % kw, oh, ow, stride, (1, 1))[...] += gd
        (t, _), (left, _) = pads
        return (gxp[:, :, t : t + xshape[2], left : left + xshape[3]],)

    def composite(self, x):
        _, _, kernel, stride, pads, oh, ow = self.geom
        return _composites.avg_pool2d(x, kernel, stride, pads, (oh, ow), self.divisor)


def _adaptive_matrix(size: int, out: int, dtype: Any) -> Any:
    """Row i averages input [floor(i*size/out), ceil((i+1)*size/out)), PyTorch's bins."""
    m = xp.zeros((out, size), dtype=dtype)
    for i in range(out):
        lo = (i * size) // out
        hi = -(-((i + 1) * size) // out)
        m[i, lo:hi] = 1.0 / (hi - lo)
    return m


class AdaptiveAvgPool2d(Function):
    """Adaptive average pooling as two small matrix products: A_h @ x @ A_w^T."""

    replay = "pure"

    def forward(self, x, out_hw=(1, 1)):
        h, w = x.shape[2:]
        oh, ow = out_hw
        self.xshape = x.shape
        if (oh, ow) == (1, 1):
            self.mats = None
            return x.mean(axis=(2, 3), keepdims=True)
        ah = _adaptive_matrix(h, oh, x.dtype)
        aw = _adaptive_matrix(w, ow, x.dtype)
        self.mats = (ah, aw)
        return ah @ (x @ aw.T)

    def backward(self, g):
        n, c, h, w = self.xshape
        if self.mats is None:
            scale = xp.asarray(1.0 / (h * w), dtype=g.dtype)
            return (xp.broadcast_to(g * scale, self.xshape).copy(),)
        ah, aw = self.mats
        return ((ah.T @ g) @ aw,)

    def composite(self, x):
        return _composites.adaptive_avg_pool2d(x, self.mats)


def _pool_geometry(
    x: Tensor, kernel_size: Any, stride: Any, padding: Any, dilation: Any, ceil_mode: bool, who: str
) -> tuple:
    kernel = int_pair(kernel_size, "kernel_size", who)
    stride_ = (
        kernel
        if stride is None or (isinstance(stride, (list, tuple)) and not stride)
        else int_pair(stride, "stride", who)
    )
    pad = int_pair(padding, "padding", who, minimum=0)
    dil = int_pair(dilation, "dilation", who)
    for p, k in zip(pad, kernel):
        if 2 * p > k:
            raise ValueError(f"{who}: padding {pad} must be at most half the kernel size {kernel}")
    h, w = x.shape[2:]
    oh = _out_size(h, pad[0], pad[0], kernel[0], stride_[0], dil[0], ceil_mode)
    ow = _out_size(w, pad[1], pad[1], kernel[1], stride_[1], dil[1], ceil_mode)
    if oh < 1 or ow < 1:
        raise ValueError(
            f"{who}: input has shape {x.shape}, too small for kernel {kernel} with padding "
            f"{pad} and dilation {dil}; expected H + 2*padding >= {dil[0] * (kernel[0] - 1) + 1} "
            f"and W + 2*padding >= {dil[1] * (kernel[1] - 1) + 1}"
        )
    # ceil_mode can need extra rows/columns on the bottom/right beyond the padding.
    extra_h = max(0, (oh - 1) * stride_[0] + dil[0] * (kernel[0] - 1) + 1 - (h + 2 * pad[0]))
    extra_w = max(0, (ow - 1) * stride_[1] + dil[1] * (kernel[1] - 1) + 1 - (w + 2 * pad[1]))
    pads = ((pad[0], pad[0] + extra_h), (pad[1], pad[1] + extra_w))
    return kernel, stride_, pad, dil, pads, (oh, ow)


def max_pool2d(
    input: Any,  # noqa: A002
    kernel_size: Any,
    stride: Any = None,
    padding: Any = 0,
    dilation: Any = 1,
    ceil_mode: bool = False,
    *,
    _who: str = "max_pool2d",
) -> Tensor:
    """Max pooling over (kh, kw) windows; ``stride`` defaults to the kernel size.

    Padding counts as -inf (never the maximum). The gradient flows to the first maximum
    of each window in row-major order (deterministic on ties).

    Example::

        >>> import retrograd as rg
        >>> from retrograd.ops.pool import max_pool2d
        >>> max_pool2d(rg.randn(1, 2, 6, 6), 2).shape
        (1, 2, 3, 3)
    """
    x, unbatched = _check_nchw(ensure_tensor(input), _who)
    kernel, stride_, _, dil, pads, out_hw = _pool_geometry(
        x, kernel_size, stride, padding, dilation, ceil_mode, _who
    )
    y = MaxPool2d.apply(x, kernel=kernel, stride=stride_, pads=pads, dilation=dil, out_hw=out_hw)
    return _unbatch(y, unbatched)


def avg_pool2d(
    input: Any,  # noqa: A002
    kernel_size: Any,
    stride: Any = None,
    padding: Any = 0,
    ceil_mode: bool = False,
    count_include_pad: bool = True,
    divisor_override: int | None = None,
    *,
    _who: str = "avg_pool2d",
) -> Tensor:
    """Average pooling; ``count_include_pad`` decides whether zero padding is averaged in.

    Example::

        >>> import retrograd as rg
        >>> from retrograd.ops.pool import avg_pool2d
        >>> avg_pool2d(rg.ones(1, 1, 4, 4), 2).data[0, 0]
        array([[1., 1.],
               [1., 1.]], dtype=float32)
    """
    x, unbatched = _check_nchw(ensure_tensor(input), _who)
    kernel, stride_, pad, _, pads, out_hw = _pool_geometry(
        x, kernel_size, stride, padding, 1, ceil_mode, _who
    )
    dt = x.data.dtype
    if divisor_override is not None:
        if not isinstance(divisor_override, (int, xp.integer)) or divisor_override <= 0:
            raise ValueError(
                f"{_who}: divisor_override must be a positive int, got {divisor_override!r}"
            )
        divisor = xp.asarray(divisor_override, dtype=dt)
    elif not ceil_mode and (count_include_pad or pad == (0, 0)):
        divisor = xp.asarray(kernel[0] * kernel[1], dtype=dt)
    else:
        # Count, per output, the window cells that are inside the input (or inside the
        # symmetric padding when count_include_pad): pool a mask of ones the same way.
        h, w = x.shape[2:]
        mask = xp.zeros((1, 1, h + pads[0][0] + pads[0][1], w + pads[1][0] + pads[1][1]), dt)
        if count_include_pad:
            mask[:, :, : h + 2 * pad[0], : w + 2 * pad[1]] = 1
        else:
            mask[:, :, pad[0] : pad[0] + h, pad[1] : pad[1] + w] = 1
        oh, ow = out_hw
        divisor = xp.zeros((1, 1, oh, ow), dt)
        for k in range(kernel[0] * kernel[1]):
            divisor += _window(mask, k // kernel[1], k % kernel[1], oh, ow, stride_, (1, 1))
    y = AvgPool2d.apply(x, kernel=kernel, stride=stride_, pads=pads, out_hw=out_hw, divisor=divisor)
    return _unbatch(y, unbatched)


def adaptive_avg_pool2d(
    input: Any,  # noqa: A002
    output_size: Any,
    *,
    _who: str = "adaptive_avg_pool2d",
) -> Tensor:
    """Average pooling to a fixed output size (PyTorch's bins); None keeps that axis.

    Example::

        >>> import retrograd as rg
        >>> from retrograd.ops.pool import adaptive_avg_pool2d
        >>> adaptive_avg_pool2d(rg.randn(2, 3, 7, 5), (3, 2)).shape
        (2, 3, 3, 2)
    """
    x, unbatched = _check_nchw(ensure_tensor(input), _who)
    if isinstance(output_size, (tuple, list)) and len(output_size) == 2:
        out = tuple(x.shape[2 + i] if s is None else s for i, s in enumerate(output_size))
    else:
        out = output_size
    oh, ow = int_pair(out, "output_size", _who)
    y = AdaptiveAvgPool2d.apply(x, out_hw=(oh, ow))
    return _unbatch(y, unbatched)


# ------------------------------------------------------------------------ 1-D pooling


def max_pool1d(
    input: Any,  # noqa: A002 - PyTorch's name
    kernel_size: Any,
    stride: Any = None,
    padding: Any = 0,
    dilation: Any = 1,
    ceil_mode: bool = False,
    return_indices: bool = False,
    *,
    _who: str = "max_pool1d",
) -> Tensor:
    """Max pooling over the last axis of (N, C, L) input (a 2-D pool of height 1).

    Example::

        >>> import retrograd as rg
        >>> rg.nn.functional.max_pool1d(rg.tensor([[[1.0, 3.0, 2.0, 0.0]]]), 2).tolist()
        [[[3.0, 2.0]]]
    """
    who = _who
    if return_indices:
        raise ValueError(f"{who}: return_indices=True is not supported")
    x4, unbatched = _as_2d(ensure_tensor(input), who)
    k = _single(kernel_size, "kernel_size", who)
    s = k if stride is None else _single(stride, "stride", who)
    y = max_pool2d(
        x4, (1, k), (1, s), (0, _single(padding, "padding", who, 0)),
        (1, _single(dilation, "dilation", who)), ceil_mode, _who=who,
    )  # fmt: skip
    return _from_2d(y, unbatched)


def avg_pool1d(
    input: Any,  # noqa: A002 - PyTorch's name
    kernel_size: Any,
    stride: Any = None,
    padding: Any = 0,
    ceil_mode: bool = False,
    count_include_pad: bool = True,
    *,
    _who: str = "avg_pool1d",
) -> Tensor:
    """Average pooling over the last axis of (N, C, L) input (a 2-D pool of height 1).

    Example::

        >>> import retrograd as rg
        >>> rg.nn.functional.avg_pool1d(rg.tensor([[[1.0, 3.0, 2.0, 0.0]]]), 2).tolist()
        [[[2.0, 1.0]]]
    """
    who = _who
    x4, unbatched = _as_2d(ensure_tensor(input), who)
    k = _single(kernel_size, "kernel_size", who)
    s = k if stride is None else _single(stride, "stride", who)
    y = avg_pool2d(
        x4, (1, k), (1, s), (0, _single(padding, "padding", who, 0)), ceil_mode,
        count_include_pad, _who=who,
    )  # fmt: skip
    return _from_2d(y, unbatched)


def adaptive_avg_pool1d(
    input: Any,  # noqa: A002 - PyTorch's name
    output_size: Any,
    *,
    _who: str = "adaptive_avg_pool1d",
) -> Tensor:
    """Average pooling of (N, C, L) input to ``output_size`` positions (PyTorch's windows).

    Example::

        >>> import retrograd as rg
        >>> rg.nn.functional.adaptive_avg_pool1d(rg.ones(2, 3, 10), 4).shape
        (2, 3, 4)
    """
    who = _who
    x4, unbatched = _as_2d(ensure_tensor(input), who)
    y = adaptive_avg_pool2d(x4, (1, _single(output_size, "output_size", who)), _who=who)
    return _from_2d(y, unbatched)


__all__ = [
    "max_pool2d", "avg_pool2d", "adaptive_avg_pool2d", "max_pool1d", "avg_pool1d",
    "adaptive_avg_pool1d",
]  # fmt: skip
