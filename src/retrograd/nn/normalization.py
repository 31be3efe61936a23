"""Normalisation layers (PyTorch's names, arguments, parameter names and buffers); the
primitives behind them live in :mod:`retrograd.ops.normalization`.

Every layer has ``get_config()``, the JSON-able constructor arguments that rebuild it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .._backend import xp
from .._checks import positive_int, resolve_dtype
from ..autograd.inplace import mark_modified
from ..autograd.tensor import Tensor, get_default_dtype
from ..ops.normalization import batch_norm, group_norm, instance_norm, layer_norm
from . import init
from .module import Module, Parameter


class _BatchNorm(Module):
    _dims: tuple = ()
    _expected: str = ""

    def __init__(
        self,
        num_features: int,
        eps: float = 1e-5,
        momentum: float | None = 0.1,
        affine: bool = True,
        track_running_stats: bool = True,
        dtype: Any = None,
    ) -> None:
        super().__init__()
        who = type(self).__name__
        self.num_features = positive_int(num_features, "num_features", who)
        if not eps > 0:
            raise ValueError(f"{who}: eps must be > 0, got {eps!r}")
        if momentum is not None and not 0.0 <= momentum <= 1.0:
            raise ValueError(f"{who}: momentum must be in [0, 1] or None, got {momentum!r}")
        self.eps = float(eps)
        self.momentum = None if momentum is None else float(momentum)
        self.affine = bool(affine)
        self.track_running_stats = bool(track_running_stats)
        dt = resolve_dtype(dtype)
        c = self.num_features
        if self.affine:
            self.weight = Parameter(xp.ones(c, dtype=dt))
            self.bias = Parameter(xp.zeros(c, dtype=dt))
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)
        if self.track_running_stats:
            self.register_buffer("running_mean", xp.zeros(c, dtype=dt))
            self.register_buffer("running_var", xp.ones(c, dtype=dt))
            self.register_buffer("num_batches_tracked", xp.zeros((), dtype=xp.int64))
        else:
            self.register_buffer("running_mean", None)
            self.register_buffer("running_var", None)
            self.register_buffer("num_batches_tracked", None)

    def reset_running_stats(self) -> None:
        if self.track_running_stats:
            for buf, value in (
                (self.running_mean, 0),
                (self.running_var, 1),
                (self.num_batches_tracked, 0),
            ):
                buf.data[...] = value
                mark_modified(buf.data, "reset_running_stats", buf)  # eval graphs read them

    def reset_parameters(self) -> None:
        self.reset_running_stats()
        if self.affine:
            init.ones_(self.weight)
            init.zeros_(self.bias)

    def _name(self) -> str:
        return f"{type(self).__name__}({self.num_features})"

    def forward(self, x: Any) -> Tensor:
        x = x if isinstance(x, Tensor) else Tensor(x)
        if x.ndim not in self._dims or x.shape[1] != self.num_features:
            raise ValueError(
                f"{self._name()}: input has shape {x.shape}, expected "
                f"{self._expected.format(c=self.num_features)}"
            )
        momentum = 0.0 if self.momentum is None else self.momentum
        if self.training and self.track_running_stats:
            self.num_batches_tracked.data += 1
            if self.momentum is None:  # cumulative moving average, as PyTorch
                momentum = 1.0 / float(self.num_batches_tracked.data)
        use_running = not self.training and self.track_running_stats
        return batch_norm(
            x,
            self.running_mean if (self.training or use_running) else None,
            self.running_var if (self.training or use_running) else None,
            self.weight,
            self.bias,
            training=self.training or not self.track_running_stats,
            momentum=momentum,
            eps=self.eps,
            _who=self._name(),
        )

    def extra_repr(self) -> str:
        return (
            f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, "
            f"affine={self.affine}, track_running_stats={self.track_running_stats}"
        )

    def get_config(self) -> dict:
        dt = (
            self.weight.data.dtype
            if self.affine
            else (self.running_mean.data.dtype if self.track_running_stats else get_default_dtype())
        )
        return {
            "num_features": self.num_features,
            "eps": self.eps,
            "momentum": self.momentum,
            "affine": self.affine,
            "track_running_stats": self.track_running_stats,
            "dtype": str(dt),
        }


class BatchNorm1d(_BatchNorm):
    """Batch normalisation of (N, C) or (N, C, L) input (Ioffe & Szegedy 2015).

    Example::

        >>> import retrograd as rg
        >>> bn = rg.nn.BatchNorm1d(4)
        >>> bn(rg.randn(8, 4)).shape, sorted(bn.state_dict())
        ((8, 4), ['bias', 'num_batches_tracked', 'running_mean', 'running_var', 'weight'])
    """

    _dims = (2, 3)
    _expected = "(N, {c}) or (N, {c}, L)"


class BatchNorm2d(_BatchNorm):
    """Batch normalisation of (N, C, H, W) input, per channel over N, H and W.

    Example::

        >>> import retrograd as rg
        >>> rg.nn.BatchNorm2d(3)(rg.randn(2, 3, 4, 4)).shape
        (2, 3, 4, 4)
    """

    _dims = (4,)
    _expected = "(N, {c}, H, W)"


class LayerNorm(Module):
    """Normalise over the trailing ``normalized_shape`` axes, then scale and shift.

    Example::

        >>> import retrograd as rg
        >>> ln = rg.nn.LayerNorm(8)
        >>> ln(rg.randn(2, 5, 8)).shape, ln.weight.shape
        ((2, 5, 8), (8,))
    """

    def __init__(
        self,
        normalized_shape: int | Sequence[int],
        eps: float = 1e-5,
        elementwise_affine: bool = True,
        bias: bool = True,
        dtype: Any = None,
    ) -> None:
        super().__init__()
        shape = (
            (normalized_shape,)
            if isinstance(normalized_shape, (int, xp.integer))
            else tuple(normalized_shape)
        )
        if not shape or not all(
            isinstance(s, (int, xp.integer)) and not isinstance(s, bool) and s > 0 for s in shape
        ):
            raise ValueError(
                f"LayerNorm: normalized_shape must be a positive int or a tuple of "
                f"them, got {normalized_shape!r}"
            )
        if not eps > 0:
            raise ValueError(f"LayerNorm: eps must be > 0, got {eps!r}")
        self.normalized_shape = tuple(int(s) for s in shape)
        self.eps = float(eps)
        self.elementwise_affine = bool(elementwise_affine)
        dt = resolve_dtype(dtype)
        if self.elementwise_affine:
            self.weight = Parameter(xp.ones(self.normalized_shape, dtype=dt))
            if bias:
                self.bias = Parameter(xp.zeros(self.normalized_shape, dtype=dt))
            else:
                self.register_parameter("bias", None)
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)
        self._dtype = dt

    capture_safe = True

    def forward(self, x: Any) -> Tensor:
        return layer_norm(
            x,
            self.normalized_shape,
            self.weight,
            self.bias,
            self.eps,
            _who=f"LayerNorm({self.normalized_shape})",
        )

    def extra_repr(self) -> str:
        return (
            f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.elementwise_affine}"
        )

    def get_config(self) -> dict:
        return {
            "normalized_shape": list(self.normalized_shape),
            "eps": self.eps,
            "elementwise_affine": self.elementwise_affine,
            "bias": self.bias is not None or not self.elementwise_affine,
            "dtype": str(self._dtype),
        }


class GroupNorm(Module):
    """Normalise groups of channels of (N, C, *) input; per-channel weight and bias.

    Example::

        >>> import retrograd as rg
        >>> gn = rg.nn.GroupNorm(2, 6)
        >>> gn(rg.randn(4, 6, 5, 5)).shape, gn.weight.shape
        ((4, 6, 5, 5), (6,))
    """

    def __init__(
        self, num_groups: int, num_channels: int, eps: float = 1e-5, affine: bool = True,
        dtype: Any = None,
    ) -> None:  # fmt: skip
        super().__init__()
        who = "GroupNorm"
        self.num_groups = positive_int(num_groups, "num_groups", who)
        self.num_channels = positive_int(num_channels, "num_channels", who)
        if self.num_channels % self.num_groups:
            raise ValueError(f"{who}: num_channels={num_channels} must be divisible by "
                             f"num_groups={num_groups}")  # fmt: skip
        self.eps = float(eps)
        self.affine = bool(affine)
        dt = resolve_dtype(dtype)
        if self.affine:
            self.weight = Parameter(xp.ones((self.num_channels,), dtype=dt))
            self.bias = Parameter(xp.zeros((self.num_channels,), dtype=dt))
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)

    capture_safe = True

    def forward(self, x: Any) -> Tensor:
        who = f"GroupNorm({self.extra_repr()})"
        t = x if isinstance(x, Tensor) else Tensor(x)
        if t.ndim < 2 or t.shape[1] != self.num_channels:
            raise ValueError(f"{who}: input has shape {t.shape}, expected (N, "
                             f"{self.num_channels}, *)")  # fmt: skip
        return group_norm(t, self.num_groups, self.weight, self.bias, self.eps, _who=who)

    def extra_repr(self) -> str:
        return f"{self.num_groups}, {self.num_channels}, eps={self.eps}, affine={self.affine}"

    def get_config(self) -> dict:
        dt = self.weight.data.dtype if self.weight is not None else get_default_dtype()
        return {"num_groups": self.num_groups, "num_channels": self.num_channels,
                "eps": self.eps, "affine": self.affine, "dtype": str(dt)}  # fmt: skip


class InstanceNorm2d(Module):
    """Normalise each channel of each (C, H, W) image over its pixels (PyTorch's defaults:
    no affine, no running statistics).

    Example::

        >>> import retrograd as rg
        >>> rg.nn.InstanceNorm2d(3)(rg.randn(2, 3, 8, 8)).shape
        (2, 3, 8, 8)
    """

    def __init__(
        self, num_features: int, eps: float = 1e-5, momentum: float = 0.1, affine: bool = False,
        track_running_stats: bool = False, dtype: Any = None,
    ) -> None:  # fmt: skip
        super().__init__()
        who = "InstanceNorm2d"
        self.num_features = positive_int(num_features, "num_features", who)
        self.eps, self.momentum = float(eps), float(momentum)
        self.affine, self.track_running_stats = bool(affine), bool(track_running_stats)
        dt = resolve_dtype(dtype)
        c = self.num_features
        if self.affine:
            self.weight = Parameter(xp.ones((c,), dtype=dt))
            self.bias = Parameter(xp.zeros((c,), dtype=dt))
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)
        if self.track_running_stats:
            self.register_buffer("running_mean", xp.zeros((c,), dtype=dt))
            self.register_buffer("running_var", xp.ones((c,), dtype=dt))
            self.register_buffer("num_batches_tracked", xp.zeros((), dtype=xp.int64))
        self._dtype = dt

    def forward(self, x: Any) -> Tensor:
        who = f"InstanceNorm2d({self.extra_repr()})"
        t = x if isinstance(x, Tensor) else Tensor(x)
        if t.ndim not in (3, 4):
            raise ValueError(f"{who}: input has shape {t.shape}, expected (N, C, H, W) or "
                             f"(C, H, W)")  # fmt: skip
        unbatched = t.ndim == 3
        if unbatched:
            t = t.reshape((1,) + t.shape)
        if (self.affine or self.track_running_stats) and t.shape[1] != self.num_features:
            raise ValueError(f"{who}: input has {t.shape[1]} channels, expected "
                             f"{self.num_features}")  # fmt: skip
        use_input_stats = self.training or not self.track_running_stats
        rm = self.running_mean if self.track_running_stats else None
        rv = self.running_var if self.track_running_stats else None
        y = instance_norm(t, rm, rv, self.weight, self.bias, use_input_stats, self.momentum,
                          self.eps, _who=who)  # fmt: skip
        return y.reshape(y.shape[1:]) if unbatched else y

    def extra_repr(self) -> str:
        return (
            f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, "
            f"affine={self.affine}, track_running_stats={self.track_running_stats}"
        )

    def get_config(self) -> dict:
        return {"num_features": self.num_features, "eps": self.eps, "momentum": self.momentum,
                "affine": self.affine, "track_running_stats": self.track_running_stats,
                "dtype": str(xp.dtype(self._dtype))}  # fmt: skip


__all__ = [
    "BatchNorm1d", "BatchNorm2d", "LayerNorm", "GroupNorm", "InstanceNorm2d", "batch_norm",
    "layer_norm", "group_norm", "instance_norm",
]  # fmt: skip
