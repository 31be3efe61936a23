"""Convolution (1-D, 2-D, transposed) and channel dropout layers (PyTorch's names,
arguments and layouts).

The stateless forms (``conv2d``, ``conv1d``, ...) are importable from here as well; the
primitives behind them live in :mod:`retrograd.ops.conv`. Pooling layers are in
:mod:`retrograd.nn.pool`, normalisation layers in
:mod:`retrograd.nn.normalization`.

Every layer has ``get_config()``, the JSON-able constructor arguments that rebuild it.

``Conv2d`` (stride 1) -> ``ReLU`` -> ``MaxPool2d(2)`` in an ``nn.Sequential`` runs as one
fused node (:class:`retrograd.ops.conv.ConvReluMaxPool2d`, same results) when the
container supports three-module fusions; see ``_fused_conv_relu_pool``.
"""

from __future__ import annotations

from typing import Any

from .._backend import xp
from .._checks import int_pair, positive_int, resolve_dtype
from ..autograd.tensor import Tensor
from ..ops.conv import (
    ConvReluMaxPool2d as _ConvReluMaxPool2dFn,
)
from ..ops.conv import conv1d, conv2d, conv_padding, conv_transpose1d, conv_transpose2d, dropout2d
from ..ops.movement import pad as _pad
from . import init
from . import module as _module
from .layers import ReLU
from .module import Module, Parameter
from .pool import MaxPool2d


class Conv2d(Module):
    """2-D convolution over (N, C, H, W) input: weight (out, in/groups, kh, kw), bias (out,).

    ``kernel_size``, ``stride``, ``padding`` and ``dilation`` take an int or a pair;
    ``padding`` also takes ``'valid'`` and ``'same'`` (stride 1). Weights start as in
    PyTorch: kaiming_uniform(a=sqrt(5)), bias U(-1/sqrt(fan_in), 1/sqrt(fan_in)).
    Unbatched (C, H, W) input is accepted, as in PyTorch.

    Example::

        >>> import retrograd as rg
        >>> conv = rg.nn.Conv2d(1, 16, 3, padding=1)
        >>> conv.weight.shape, conv(rg.randn(4, 1, 28, 28)).shape
        ((16, 1, 3, 3), (4, 16, 28, 28))
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: Any,
        stride: Any = 1,
        padding: Any = 0,
        dilation: Any = 1,
        groups: int = 1,
        bias: bool = True,
        padding_mode: str = "zeros",
        dtype: Any = None,
    ) -> None:
        super().__init__()
        who = "Conv2d"
        self.in_channels = positive_int(in_channels, "in_channels", who)
        self.out_channels = positive_int(out_channels, "out_channels", who)
        self.groups = positive_int(groups, "groups", who)
        self.kernel_size = int_pair(kernel_size, "kernel_size", who)
        self.stride = int_pair(stride, "stride", who)
        self.dilation = int_pair(dilation, "dilation", who)
        modes = ("zeros", "reflect", "replicate", "circular")
        if padding_mode not in modes:
            raise ValueError(f"{who}: padding_mode must be one of {modes}, got {padding_mode!r}")
        self.padding_mode = padding_mode
        if isinstance(padding, str):
            conv_padding(padding, self.kernel_size, self.stride, self.dilation, who)
            self.padding = padding
        else:
            self.padding = int_pair(padding, "padding", who, minimum=0)
        if self.in_channels % self.groups or self.out_channels % self.groups:
            raise ValueError(
                f"{who}: groups={self.groups} must divide in_channels={self.in_channels} and "
                f"out_channels={self.out_channels}"
            )
        dt = resolve_dtype(dtype)
        kh, kw = self.kernel_size
        shape = (self.out_channels, self.in_channels // self.groups, kh, kw)
        self.weight = Parameter(xp.empty(shape, dtype=dt))
        if bias:
            self.bias = Parameter(xp.empty((self.out_channels,), dtype=dt))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        init.default_linear_init_(self.weight, self.bias)

    capture_safe = True

    def forward(self, x: Any) -> Tensor:
        padding = self.padding
        if self.padding_mode != "zeros":
            # As torch: pad with the mode first, then convolve without padding.
            (pt, pb), (pl, pr) = conv_padding(
                padding, self.kernel_size, self.stride, self.dilation, "Conv2d"
            )
            if pt or pb or pl or pr:
                x = _pad(x, (pl, pr, pt, pb), mode=self.padding_mode)
            padding = (0, 0)
        return conv2d(
            x,
            self.weight,
            self.bias,
            self.stride,
            padding,
            self.dilation,
            self.groups,
            _who=self._name(),
        )

    def _name(self) -> str:
        return f"Conv2d({self.extra_repr()})"

    def extra_repr(self) -> str:
        s = (
            f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
            f"stride={self.stride}"
        )
        if self.padding not in ((0, 0), "valid"):
            s += f", padding={self.padding!r}"
        if self.dilation != (1, 1):
            s += f", dilation={self.dilation}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        if self.bias is None:
            s += ", bias=False"
        if self.padding_mode != "zeros":
            s += f", padding_mode={self.padding_mode!r}"
        return s

    def get_config(self) -> dict:
        return {
            "in_channels": self.in_channels,
            "out_channels": self.out_channels,
            "kernel_size": list(self.kernel_size),
            "stride": list(self.stride),
            "padding": self.padding if isinstance(self.padding, str) else list(self.padding),
            "dilation": list(self.dilation),
            "groups": self.groups,
            "bias": self.bias is not None,
            "padding_mode": self.padding_mode,
            "dtype": str(self.weight.data.dtype),
        }


def _conv_args(self: Any, who: str, in_channels: Any, out_channels: Any, groups: Any) -> None:
    self.in_channels = positive_int(in_channels, "in_channels", who)
    self.out_channels = positive_int(out_channels, "out_channels", who)
    self.groups = positive_int(groups, "groups", who)
    if self.in_channels % self.groups or self.out_channels % self.groups:
        raise ValueError(
            f"{who}: groups={self.groups} must divide in_channels={self.in_channels} and "
            f"out_channels={self.out_channels}"
        )


def _tuple_n(value: Any, n: int, name: str, who: str, minimum: int = 1) -> tuple:
    """An int or n ints, as a tuple of n Python ints (1-D layers take an int or a 1-tuple)."""
    if n == 2:
        return int_pair(value, name, who, minimum)
    if isinstance(value, (tuple, list)) and len(value) == 1:
        value = value[0]
    return (int_pair(value, name, who, minimum)[0],)


class Conv1d(Module):
    """1-D convolution over (N, C, L) input: weight (out, in/groups, k), bias (out,).

    ``padding`` takes an int, ``'valid'`` or ``'same'`` (stride 1). Weights start as in
    PyTorch (kaiming_uniform(a=sqrt(5)), bias U(+-1/sqrt(fan_in))). Unbatched (C, L)
    input is accepted.

    Example::

        >>> import retrograd as rg
        >>> conv = rg.nn.Conv1d(3, 8, 5, padding=2)
        >>> conv.weight.shape, conv(rg.randn(4, 3, 50)).shape
        ((8, 3, 5), (4, 8, 50))
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: Any,
        stride: Any = 1,
        padding: Any = 0,
        dilation: Any = 1,
        groups: int = 1,
        bias: bool = True,
        padding_mode: str = "zeros",
        dtype: Any = None,
    ) -> None:
        super().__init__()
        who = "Conv1d"
        _conv_args(self, who, in_channels, out_channels, groups)
        self.kernel_size = _tuple_n(kernel_size, 1, "kernel_size", who)
        self.stride = _tuple_n(stride, 1, "stride", who)
        self.dilation = _tuple_n(dilation, 1, "dilation", who)
        if padding_mode != "zeros":
            raise ValueError(f"{who}: only padding_mode='zeros' is supported, got {padding_mode!r}")
        self.padding_mode = padding_mode
        if isinstance(padding, str):
            conv_padding(padding, (1,) + self.kernel_size, (1,) + self.stride,
                         (1,) + self.dilation, who)  # fmt: skip
            self.padding = padding
        else:
            self.padding = _tuple_n(padding, 1, "padding", who, minimum=0)
        dt = resolve_dtype(dtype)
        shape = (self.out_channels, self.in_channels // self.groups, self.kernel_size[0])
        self.weight = Parameter(xp.empty(shape, dtype=dt))
        if bias:
            self.bias = Parameter(xp.empty((self.out_channels,), dtype=dt))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        init.default_linear_init_(self.weight, self.bias)

    capture_safe = True

    def forward(self, x: Any) -> Tensor:
        padding = self.padding if isinstance(self.padding, str) else self.padding[0]
        return conv1d(
            x, self.weight, self.bias, self.stride[0], padding, self.dilation[0], self.groups,
            _who=f"Conv1d({self.extra_repr()})",
        )  # fmt: skip

    def extra_repr(self) -> str:
        s = (
            f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
            f"stride={self.stride}"
        )
        if self.padding not in ((0,), "valid"):
            s += f", padding={self.padding!r}"
        if self.dilation != (1,):
            s += f", dilation={self.dilation}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        if self.bias is None:
            s += ", bias=False"
        return s

    def get_config(self) -> dict:
        return {
            "in_channels": self.in_channels,
            "out_channels": self.out_channels,
            "kernel_size": list(self.kernel_size),
            "stride": list(self.stride),
            "padding": self.padding if isinstance(self.padding, str) else list(self.padding),
            "dilation": list(self.dilation),
            "groups": self.groups,
            "bias": self.bias is not None,
            "padding_mode": self.padding_mode,
            "dtype": str(self.weight.data.dtype),
        }


class _ConvTransposeNd(Module):
    """Shared by ConvTranspose1d/2d: weight (in, out/groups, *k), bias (out,)."""

    _n = 2

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: Any,
        stride: Any = 1,
        padding: Any = 0,
        output_padding: Any = 0,
        groups: int = 1,
        bias: bool = True,
        dilation: Any = 1,
        padding_mode: str = "zeros",
        dtype: Any = None,
    ) -> None:
        super().__init__()
        who, n = type(self).__name__, self._n
        _conv_args(self, who, in_channels, out_channels, groups)
        self.kernel_size = _tuple_n(kernel_size, n, "kernel_size", who)
        self.stride = _tuple_n(stride, n, "stride", who)
        self.padding = _tuple_n(padding, n, "padding", who, minimum=0)
        self.output_padding = _tuple_n(output_padding, n, "output_padding", who, minimum=0)
        self.dilation = _tuple_n(dilation, n, "dilation", who)
        for op, s, d in zip(self.output_padding, self.stride, self.dilation):
            if op >= max(s, d):
                raise ValueError(
                    f"{who}: output_padding {self.output_padding} must be smaller than stride "
                    f"{self.stride} or dilation {self.dilation}"
                )
        if padding_mode != "zeros":
            raise ValueError(f"{who}: only padding_mode='zeros' is supported, got {padding_mode!r}")
        self.padding_mode = padding_mode
        dt = resolve_dtype(dtype)
        shape = (self.in_channels, self.out_channels // self.groups) + self.kernel_size
        self.weight = Parameter(xp.empty(shape, dtype=dt))
        if bias:
            self.bias = Parameter(xp.empty((self.out_channels,), dtype=dt))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        # PyTorch's law: fan_in from weight.shape[1] * prod(kernel) (out/groups * k).
        init.default_linear_init_(self.weight, self.bias)

    def _output_padding(self, x: Any, output_size: Any) -> tuple:
        """PyTorch's rule: the output_padding that gives ``output_size`` (else the layer's)."""
        if output_size is None:
            return self.output_padding
        who, n = type(self).__name__, self._n
        size = list(output_size.shape if hasattr(output_size, "shape") else output_size)
        if len(size) == n + 2:
            size = size[2:]
        if len(size) != n:
            raise ValueError(f"{who}: output_size must have {n} or {n + 2} elements, got "
                             f"{output_size!r}")  # fmt: skip
        spatial = tuple(x.shape[-n:])
        pads = []
        for i in range(n):
            lo = ((spatial[i] - 1) * self.stride[i] - 2 * self.padding[i]
                  + self.dilation[i] * (self.kernel_size[i] - 1) + 1)  # fmt: skip
            hi = lo + self.stride[i] - 1
            if not lo <= size[i] <= hi:
                raise ValueError(
                    f"{who}: requested an output size of {tuple(size)}, but valid sizes range "
                    f"from {lo} to {hi} in dimension {i} (for an input of {spatial})"
                )
            pads.append(int(size[i]) - lo)
        return tuple(pads)

    capture_safe = True

    def extra_repr(self) -> str:
        s = (
            f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
            f"stride={self.stride}"
        )
        zero = (0,) * self._n
        if self.padding != zero:
            s += f", padding={self.padding}"
        if self.output_padding != zero:
            s += f", output_padding={self.output_padding}"
        if self.dilation != (1,) * self._n:
            s += f", dilation={self.dilation}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        if self.bias is None:
            s += ", bias=False"
        return s

    def get_config(self) -> dict:
        return {
            "in_channels": self.in_channels,
            "out_channels": self.out_channels,
            "kernel_size": list(self.kernel_size),
            "stride": list(self.stride),
            "padding": list(self.padding),
            "output_padding": list(self.output_padding),
            "groups": self.groups,
            "bias": self.bias is not None,
            "dilation": list(self.dilation),
            "padding_mode": self.padding_mode,
            "dtype": str(self.weight.data.dtype),
        }


class ConvTranspose2d(_ConvTransposeNd):
    """Transposed 2-D convolution ("deconvolution"): upsamples (N, C, H, W) feature maps.

    Weight (in, out/groups, kh, kw), bias (out,), PyTorch's layout and init. Output size
    ``(H - 1) * stride - 2 * padding + dilation * (k - 1) + output_padding + 1``;
    ``forward(x, output_size=...)`` picks the output_padding for a wanted size.

    Example::

        >>> import retrograd as rg
        >>> up = rg.nn.ConvTranspose2d(16, 8, 4, stride=2, padding=1)
        >>> up.weight.shape, up(rg.randn(2, 16, 7, 7)).shape
        ((16, 8, 4, 4), (2, 8, 14, 14))
    """

    _n = 2

    capture_safe = True

    def forward(self, input: Any, output_size: Any = None) -> Tensor:  # noqa: A002
        return conv_transpose2d(
            input, self.weight, self.bias, self.stride, self.padding,
            self._output_padding(input, output_size), self.groups, self.dilation,
            _who=f"ConvTranspose2d({self.extra_repr()})",
        )  # fmt: skip


class ConvTranspose1d(_ConvTransposeNd):
    """Transposed 1-D convolution over (N, C, L): weight (in, out/groups, k), bias (out,).

    Example::

        >>> import retrograd as rg
        >>> rg.nn.ConvTranspose1d(4, 2, 4, stride=2, padding=1)(rg.randn(3, 4, 10)).shape
        (3, 2, 20)
    """

    _n = 1

    capture_safe = True

    def forward(self, input: Any, output_size: Any = None) -> Tensor:  # noqa: A002
        return conv_transpose1d(
            input, self.weight, self.bias, self.stride[0], self.padding[0],
            self._output_padding(input, output_size)[0], self.groups, self.dilation[0],
            _who=f"ConvTranspose1d({self.extra_repr()})",
        )  # fmt: skip


class Dropout2d(Module):
    """Zero whole channels with probability ``p`` in training (Tompson et al. 2015).

    Example::

        >>> import retrograd as rg
        >>> rg.nn.Dropout2d(0.5).eval()(rg.ones(1, 4, 2, 2)).shape
        (1, 4, 2, 2)
    """

    def __init__(self, p: float = 0.5) -> None:
        super().__init__()
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"Dropout2d: p must be in [0, 1], got {p}")
        self.p = float(p)

    def forward(self, x: Any) -> Tensor:
        return dropout2d(x, self.p, self.training, _who=f"Dropout2d(p={self.p})")

    def extra_repr(self) -> str:
        return f"p={self.p}"

    def get_config(self) -> dict:
        return {"p": self.p}


def _fused_conv_relu_pool(conv: Conv2d, relu: Module, pool: MaxPool2d, x: Any) -> Tensor | None:
    """``pool(relu(conv(x)))`` as one ConvReluMaxPool2d node, or None if not the plain case.

    The plain case: a batched float (N, C, H, W) Tensor of the conv's dtype, a stride-1,
    ungrouped conv whose parameters keep their shapes, and a 2x2 max-pool with stride 2,
    no padding, no dilation, no ceil_mode, on a conv output of at least 2x2. Anything
    else returns None so that the three modules run one by one (and raise their usual
    errors). Same values and gradients as the three modules, ties included.
    """
    if not isinstance(x, Tensor):
        return None
    xd = x.data
    w, b = conv._parameters["weight"], conv._parameters["bias"]
    wd = w.data
    kh, kw = conv.kernel_size
    if (
        xd.ndim != 4
        or xd.shape[1] != conv.in_channels
        or xd.dtype.kind != "f"
        or xd.dtype != wd.dtype
        or conv.groups != 1
        or conv.stride != (1, 1)
        or conv.padding_mode != "zeros"
        or wd.shape != (conv.out_channels, conv.in_channels, kh, kw)
        or (b is not None and b.data.shape != (conv.out_channels,))
        or pool.kernel_size != (2, 2)
        or pool.stride != (2, 2)
        or pool.padding != (0, 0)
        or pool.dilation != (1, 1)
        or pool.ceil_mode
        or pool.return_indices
    ):
        return None
    pads = conv_padding(conv.padding, conv.kernel_size, conv.stride, conv.dilation, "Conv2d")
    dh, dw = conv.dilation
    oh = xd.shape[2] + pads[0][0] + pads[0][1] - dh * (kh - 1)
    ow = xd.shape[3] + pads[1][0] + pads[1][1] - dw * (kw - 1)
    if oh < 2 or ow < 2:
        return None
    if b is None:
        return _ConvReluMaxPool2dFn.apply(x, w, pads=pads, dilation=conv.dilation)
    return _ConvReluMaxPool2dFn.apply(x, w, b, pads=pads, dilation=conv.dilation)


# nn.Sequential runs Conv2d -> ReLU -> MaxPool2d as one node.
_module._FUSED_TRIPLES[(Conv2d, ReLU, MaxPool2d)] = _fused_conv_relu_pool


__all__ = [
    "Conv1d", "Conv2d", "ConvTranspose1d", "ConvTranspose2d", "Dropout2d", "conv1d", "conv2d",
    "conv_transpose1d", "conv_transpose2d", "dropout2d",
]  # fmt: skip
