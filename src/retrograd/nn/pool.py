"""Pooling layers (PyTorch's names, arguments and layouts); the primitives behind them
live in :mod:`retrograd.ops.pool`.

Every layer has ``get_config()``, the JSON-able constructor arguments that rebuild it.
"""

from __future__ import annotations

from typing import Any

from .._backend import xp
from .._checks import int_pair, positive_int
from ..autograd.tensor import Tensor
from ..ops._spatial import _single
from ..ops.maxpool import (
    adaptive_max_pool2d,
    max_pool1d_with_indices,
    max_pool2d_with_indices,
)
from ..ops.pool import (
    adaptive_avg_pool1d,
    adaptive_avg_pool2d,
    avg_pool1d,
    avg_pool2d,
    max_pool1d,
    max_pool2d,
)
from .module import Module


class _Pool(Module):
    """Shared by the pools: kernel_size, stride (default: the kernel size) and padding
    (at most half the kernel) checked at construction, not at the first batch; pairs for
    the 2-D pools, ints (or 1-tuples) for the 1-D ones (``_pair = False``)."""

    _pair = True

    def _args(self, kernel_size: Any, stride: Any, padding: Any) -> None:
        who = type(self).__name__
        one: Any = int_pair if self._pair else _single
        self.kernel_size = one(kernel_size, "kernel_size", who)
        self.stride = self.kernel_size if stride is None else one(stride, "stride", who)
        self.padding = one(padding, "padding", who, 0)
        if self._pair:
            pads = list(zip(self.padding, self.kernel_size))
        else:
            pads = [(self.padding, self.kernel_size)]
        if any(2 * p > k for p, k in pads):
            raise ValueError(
                f"{who}: padding {self.padding} must be at most half the kernel size "
                f"{self.kernel_size}"
            )

    def _name(self) -> str:
        return f"{type(self).__name__}({self.extra_repr()})"


class MaxPool2d(_Pool):
    """Max pooling; ``stride`` defaults to ``kernel_size``; padding counts as -inf.

    Example::

        >>> import retrograd as rg
        >>> rg.nn.MaxPool2d(2)(rg.randn(1, 3, 8, 8)).shape
        (1, 3, 4, 4)
    """

    def __init__(
        self,
        kernel_size: Any,
        stride: Any = None,
        padding: Any = 0,
        dilation: Any = 1,
        return_indices: bool = False,
        ceil_mode: bool = False,
    ) -> None:
        super().__init__()
        self._args(kernel_size, stride, padding)
        self.dilation = int_pair(dilation, "dilation", "MaxPool2d")
        self.ceil_mode = bool(ceil_mode)
        self.return_indices = bool(return_indices)

    # With return_indices=True the indices are made outside the recorded ops: a compiled
    # step whose later ops read them is refused (they are neither an input, a parameter
    # nor a buffer) and runs eagerly, so no stale indices are replayed.
    capture_safe = True

    def forward(self, x: Any) -> Any:
        if self.return_indices:
            return max_pool2d_with_indices(
                x, self.kernel_size, self.stride, self.padding, self.dilation, self.ceil_mode,
                _who=self._name(),
            )  # fmt: skip
        return max_pool2d(
            x,
            self.kernel_size,
            self.stride,
            self.padding,
            self.dilation,
            self.ceil_mode,
            _who=self._name(),
        )

    def extra_repr(self) -> str:
        return (
            f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}, "
            f"dilation={self.dilation}, ceil_mode={self.ceil_mode}"
        )

    def get_config(self) -> dict:
        return {
            "kernel_size": list(self.kernel_size),
            "stride": list(self.stride),
            "padding": list(self.padding),
            "dilation": list(self.dilation),
            "ceil_mode": self.ceil_mode,
            "return_indices": self.return_indices,
        }


class AvgPool2d(_Pool):
    """Average pooling; ``count_include_pad`` averages the zero padding in (PyTorch default).

    Example::

        >>> import retrograd as rg
        >>> rg.nn.AvgPool2d(2)(rg.ones(1, 1, 4, 4)).shape
        (1, 1, 2, 2)
    """

    def __init__(
        self,
        kernel_size: Any,
        stride: Any = None,
        padding: Any = 0,
        ceil_mode: bool = False,
        count_include_pad: bool = True,
        divisor_override: int | None = None,
    ) -> None:
        super().__init__()
        self._args(kernel_size, stride, padding)
        self.ceil_mode = bool(ceil_mode)
        self.count_include_pad = bool(count_include_pad)
        if divisor_override is not None:
            divisor_override = positive_int(divisor_override, "divisor_override", "AvgPool2d")
        self.divisor_override = divisor_override

    capture_safe = True

    def forward(self, x: Any) -> Tensor:
        return avg_pool2d(
            x,
            self.kernel_size,
            self.stride,
            self.padding,
            self.ceil_mode,
            self.count_include_pad,
            self.divisor_override,
            _who=self._name(),
        )

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"

    def get_config(self) -> dict:
        return {
            "kernel_size": list(self.kernel_size),
            "stride": list(self.stride),
            "padding": list(self.padding),
            "ceil_mode": self.ceil_mode,
            "count_include_pad": self.count_include_pad,
            "divisor_override": self.divisor_override,
        }


class AdaptiveAvgPool2d(Module):
    """Average pooling to a fixed output size (int, pair, None entries keep the input size).

    Example::

        >>> import retrograd as rg
        >>> rg.nn.AdaptiveAvgPool2d(1)(rg.randn(2, 8, 5, 5)).shape
        (2, 8, 1, 1)
    """

    def __init__(self, output_size: Any) -> None:
        super().__init__()
        if isinstance(output_size, (tuple, list)):
            if len(output_size) != 2 or not all(
                s is None or (isinstance(s, (int, xp.integer)) and s > 0) for s in output_size
            ):
                raise ValueError(
                    f"AdaptiveAvgPool2d: output_size must be a positive int or a "
                    f"pair of positive ints/None, got {output_size!r}"
                )
            self.output_size = tuple(None if s is None else int(s) for s in output_size)
        else:
            self.output_size = positive_int(output_size, "output_size", "AdaptiveAvgPool2d")

    capture_safe = True

    def forward(self, x: Any) -> Tensor:
        return adaptive_avg_pool2d(
            x, self.output_size, _who=f"AdaptiveAvgPool2d(output_size={self.output_size})"
        )

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}"

    def get_config(self) -> dict:
        o = self.output_size
        return {"output_size": list(o) if isinstance(o, tuple) else o}


class _Pool1d(_Pool):
    """Shared by the 1-D pools: int (or 1-tuple) arguments."""

    _pair = False


class MaxPool1d(_Pool1d):
    """Max pooling over (N, C, L); ``stride`` defaults to ``kernel_size``.

    Example::

        >>> import retrograd as rg
        >>> rg.nn.MaxPool1d(2)(rg.randn(4, 3, 10)).shape
        (4, 3, 5)
    """

    def __init__(
        self,
        kernel_size: Any,
        stride: Any = None,
        padding: Any = 0,
        dilation: Any = 1,
        return_indices: bool = False,
        ceil_mode: bool = False,
    ) -> None:
        super().__init__()
        self._args(kernel_size, stride, padding)
        self.dilation = _single(dilation, "dilation", "MaxPool1d")
        self.ceil_mode = bool(ceil_mode)
        self.return_indices = bool(return_indices)

    # With return_indices=True the indices are made outside the recorded ops: a compiled
    # step whose later ops read them is refused (they are neither an input, a parameter
    # nor a buffer) and runs eagerly, so no stale indices are replayed.
    capture_safe = True

    def forward(self, x: Any) -> Any:
        if self.return_indices:
            return max_pool1d_with_indices(
                x, self.kernel_size, self.stride, self.padding, self.dilation, self.ceil_mode,
                _who=self._name(),
            )  # fmt: skip
        return max_pool1d(x, self.kernel_size, self.stride, self.padding, self.dilation,
                          self.ceil_mode, _who=self._name())  # fmt: skip

    def extra_repr(self) -> str:
        return (f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}, "
                f"dilation={self.dilation}, ceil_mode={self.ceil_mode}")  # fmt: skip

    def get_config(self) -> dict:
        return {"kernel_size": self.kernel_size, "stride": self.stride, "padding": self.padding,
                "dilation": self.dilation, "ceil_mode": self.ceil_mode,
                "return_indices": self.return_indices}  # fmt: skip


class AvgPool1d(_Pool1d):
    """Average pooling over (N, C, L); ``count_include_pad`` as PyTorch.

    Example::

        >>> import retrograd as rg
        >>> rg.nn.AvgPool1d(3, stride=2, padding=1)(rg.randn(4, 3, 10)).shape
        (4, 3, 5)
    """

    def __init__(
        self,
        kernel_size: Any,
        stride: Any = None,
        padding: Any = 0,
        ceil_mode: bool = False,
        count_include_pad: bool = True,
    ) -> None:
        super().__init__()
        self._args(kernel_size, stride, padding)
        self.ceil_mode = bool(ceil_mode)
        self.count_include_pad = bool(count_include_pad)

    capture_safe = True

    def forward(self, x: Any) -> Tensor:
        return avg_pool1d(x, self.kernel_size, self.stride, self.padding, self.ceil_mode,
                          self.count_include_pad, _who=self._name())  # fmt: skip

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"

    def get_config(self) -> dict:
        return {
            "kernel_size": self.kernel_size,
            "stride": self.stride,
            "padding": self.padding,
            "ceil_mode": self.ceil_mode,
            "count_include_pad": self.count_include_pad,
        }


class AdaptiveMaxPool2d(Module):
    """Max pooling to a fixed output size (int, pair, None entries keep the input size);
    ``return_indices=True`` also returns the int64 indices, as torch.

    Example::

        >>> import retrograd as rg
        >>> rg.nn.AdaptiveMaxPool2d((2, None))(rg.randn(2, 8, 5, 5)).shape
        (2, 8, 2, 5)
    """

    def __init__(self, output_size: Any, return_indices: bool = False) -> None:
        super().__init__()
        self.output_size = AdaptiveAvgPool2d(output_size).output_size
        self.return_indices = bool(return_indices)

    def forward(self, x: Any) -> Any:
        return adaptive_max_pool2d(
            x, self.output_size, self.return_indices,
            _who=f"AdaptiveMaxPool2d(output_size={self.output_size})",
        )  # fmt: skip

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}"

    def get_config(self) -> dict:
        o = self.output_size
        return {
            "output_size": list(o) if isinstance(o, tuple) else o,
            "return_indices": self.return_indices,
        }


class AdaptiveAvgPool1d(Module):
    """Average pooling of (N, C, L) to ``output_size`` positions.

    Example::

        >>> import retrograd as rg
        >>> rg.nn.AdaptiveAvgPool1d(1)(rg.randn(4, 3, 10)).shape
        (4, 3, 1)
    """

    def __init__(self, output_size: Any) -> None:
        super().__init__()
        self.output_size = _single(output_size, "output_size", "AdaptiveAvgPool1d")

    capture_safe = True

    def forward(self, x: Any) -> Tensor:
        return adaptive_avg_pool1d(x, self.output_size,
                                   _who=f"AdaptiveAvgPool1d({self.output_size})")  # fmt: skip

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}"

    def get_config(self) -> dict:
        return {"output_size": self.output_size}


__all__ = [
    "AdaptiveMaxPool2d",
    "MaxPool1d",
    "AvgPool1d",
    "AdaptiveAvgPool1d",
    "max_pool1d",
    "avg_pool1d",
    "adaptive_avg_pool1d",
    "MaxPool2d",
    "AvgPool2d",
    "AdaptiveAvgPool2d",
    "max_pool2d",
    "avg_pool2d",
    "adaptive_avg_pool2d",
]
