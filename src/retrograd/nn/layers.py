"""Feedforward layers: Linear, activations, Flatten, Dropout, Identity."""

from __future__ import annotations

import math
from typing import Any

from .._backend import xp
from .._checks import positive_int, resolve_dtype
from ..autograd.tensor import Tensor
from ..ops import elementwise as _elementwise
from ..ops.linalg import Linear as _LinearFn
from ..ops.linalg import LinearAct as _LinearActFn
from . import functional as F
from . import init
from .module import _FUSED_PAIRS, Module, Parameter


class Linear(Module):
    """``y = x W^T + b``: weight (out_features, in_features), bias (out_features,).

    The bias is a weight like any other (from an always-on unit); ``bias=False`` drops it.

    Example::

        >>> import retrograd as rg
        >>> layer = rg.nn.Linear(3, 2)
        >>> layer.weight.shape, layer.bias.shape
        ((2, 3), (2,))
    """

    def __init__(
        self, in_features: int, out_features: int, bias: bool = True, dtype: Any = None
    ) -> None:
        super().__init__()
        for name, v in (("in_features", in_features), ("out_features", out_features)):
            positive_int(v, name, "Linear")
        self.in_features = int(in_features)
        self.out_features = int(out_features)
        self._wshape = (self.out_features, self.in_features)
        dt = resolve_dtype(dtype)
        self.weight = Parameter(xp.empty((self.out_features, self.in_features), dtype=dt))
        if bias:
            self.bias = Parameter(xp.empty((self.out_features,), dtype=dt))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        init.default_linear_init_(self.weight, self.bias)

    capture_safe = True

    def forward(self, x: Any) -> Tensor:
        # Parameters are read from _parameters directly (self.weight goes through the
        # Python-level Module.__getattr__): this runs once per layer per step.
        params = self._parameters
        w, b = params["weight"], params["bias"]
        if not isinstance(x, Tensor):
            # Raw arrays (often float64 from NumPy) take the layer's dtype, so a float32
            # network is not silently run in float64.
            x = Tensor(x, dtype=w.data.dtype)
        shape = x.data.shape
        if not shape or shape[-1] != self.in_features:
            raise ValueError(
                f"Linear({self.in_features}, {self.out_features}): input has shape {x.shape}, "
                f"expected (..., {self.in_features})"
            )
        if b is not None and w.data.shape == self._wshape and b.data.shape == self._wshape[:1]:
            # The shapes F.linear would check are those the layer was built with.
            return _LinearFn.apply(x, w, b)
        return F.linear(x, w, b)

    def extra_repr(self) -> str:
        return (
            f"in_features={self.in_features}, out_features={self.out_features}, "
            f"bias={self.bias is not None}"
        )


class _Activation(Module):
    _fn = None
    _prim = None  # the primitive _fn applies to a Tensor, when it is just one

    capture_safe = True

    def forward(self, x: Any) -> Tensor:
        prim = type(self)._prim
        if prim is not None and isinstance(x, Tensor):
            return prim.apply(x)  # what _fn does for a Tensor, minus two calls
        return type(self)._fn(x)


class ReLU(_Activation):
    _fn = staticmethod(F.relu)
    _prim = _elementwise.Relu


class Tanh(_Activation):
    _fn = staticmethod(F.tanh)
    _prim = _elementwise.Tanh


class Sigmoid(_Activation):
    _fn = staticmethod(F.sigmoid)
    _prim = _elementwise.Sigmoid


def _fused_linear_act(lin: Linear, act: Module, x: Any) -> Tensor | None:
    """``act(lin(x))`` as one LinearAct node (what Sequential runs), None if not plain.

    Only for a Tensor input of a float dtype whose last dimension fits, and parameters of
    the shapes the layer was built with; anything else returns None so that the two
    modules run one by one and raise their usual errors.
    """
    if not isinstance(x, Tensor):
        return None
    xd = x.data
    shape = xd.shape
    params = lin._parameters
    w, b = params["weight"], params["bias"]
    if (
        not shape
        or shape[-1] != lin.in_features
        or xd.dtype.kind != "f"
        or w.data.shape != lin._wshape
        or (b is not None and b.data.shape != lin._wshape[:1])
    ):
        return None
    act_name = _FUSABLE_ACTS[type(act)]
    if b is None:
        return _LinearActFn.apply(x, w, act=act_name)
    return _LinearActFn.apply(x, w, b, act=act_name)


class Identity(Module):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__()

    capture_safe = True

    def forward(self, x: Any) -> Any:
        return x


class LeakyReLU(Module):
    def __init__(self, negative_slope: float = 0.01) -> None:
        super().__init__()
        self.negative_slope = float(negative_slope)

    capture_safe = True

    def forward(self, x: Any) -> Tensor:
        return F.leaky_relu(x, self.negative_slope)

    def extra_repr(self) -> str:
        return f"negative_slope={self.negative_slope}"


class GELU(Module):
    def __init__(self, approximate: str = "none") -> None:
        super().__init__()
        if approximate not in ("none", "tanh"):
            raise ValueError(f"GELU: approximate must be 'none' or 'tanh', got {approximate!r}")
        self.approximate = approximate

    capture_safe = True

    def forward(self, x: Any) -> Tensor:
        return F.gelu(x, approximate=self.approximate)

    def extra_repr(self) -> str:
        return f"approximate={self.approximate!r}"


class Softplus(Module):
    def __init__(self, beta: float = 1.0, threshold: float = 20.0) -> None:
        super().__init__()
        self.beta, self.threshold = float(beta), float(threshold)

    capture_safe = True

    def forward(self, x: Any) -> Tensor:
        return F.softplus(x, self.beta, self.threshold)


class Softmax(Module):
    def __init__(self, dim: int = -1) -> None:
        super().__init__()
        self.dim = dim

    capture_safe = True

    def forward(self, x: Any) -> Tensor:
        return F.softmax(x, dim=self.dim)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


class LogSoftmax(Softmax):
    capture_safe = True

    def forward(self, x: Any) -> Tensor:
        return F.log_softmax(x, dim=self.dim)


class Flatten(Module):
    def __init__(self, start_dim: int = 1, end_dim: int = -1) -> None:
        super().__init__()
        self.start_dim, self.end_dim = start_dim, end_dim

    capture_safe = True

    def forward(self, x: Any) -> Tensor:
        return F.flatten(x, self.start_dim, self.end_dim)


class Dropout(Module):
    """Zero each element with probability ``p`` in training, scaling the rest by 1/(1-p)."""

    def __init__(self, p: float = 0.5) -> None:
        super().__init__()
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"Dropout: p must be in [0, 1], got {p}")
        self.p = float(p)

    capture_safe = True

    def forward(self, x: Any) -> Tensor:
        return F.dropout(x, self.p, self.training)

    def extra_repr(self) -> str:
        return f"p={self.p}"


class Unflatten(Module):
    """Split dimension ``dim`` into ``unflattened_size`` (the inverse of Flatten).

    Example::

        >>> import retrograd as rg
        >>> rg.nn.Unflatten(1, (2, 3))(rg.ones(4, 6)).shape
        (4, 2, 3)
    """

    capture_safe = True

    def __init__(self, dim: int, unflattened_size: Any) -> None:
        super().__init__()
        if not isinstance(unflattened_size, (tuple, list)) or not all(
            isinstance(s, int) and (s > 0 or s == -1) for s in unflattened_size
        ):
            raise TypeError(
                "Unflatten: unflattened_size must be a tuple of positive ints (one may be -1), "
                f"got {unflattened_size!r}"
            )
        self.dim, self.unflattened_size = int(dim), tuple(unflattened_size)

    def forward(self, input: Any) -> Tensor:  # noqa: A002
        from ..ops.movement import unflatten

        return unflatten(input, self.dim, self.unflattened_size)

    def extra_repr(self) -> str:
        return f"dim={self.dim}, unflattened_size={self.unflattened_size}"

    def get_config(self) -> dict:
        return {"dim": self.dim, "unflattened_size": list(self.unflattened_size)}


class Unfold(Module):
    """Sliding blocks to columns, ``F.unfold`` as a layer.

    Example::

        >>> import retrograd as rg
        >>> rg.nn.Unfold(kernel_size=2)(rg.ones(1, 3, 4, 4)).shape
        (1, 12, 9)
    """

    capture_safe = True

    def __init__(self, kernel_size: Any, dilation: Any = 1, padding: Any = 0,
                 stride: Any = 1) -> None:  # fmt: skip
        super().__init__()
        self.kernel_size, self.dilation = kernel_size, dilation
        self.padding, self.stride = padding, stride

    def forward(self, input: Any) -> Tensor:  # noqa: A002
        return F.unfold(input, self.kernel_size, self.dilation, self.padding, self.stride)

    def get_config(self) -> dict:
        return {k: getattr(self, k) for k in ("kernel_size", "dilation", "padding", "stride")}


class Fold(Module):
    """Columns summed back into an image, ``F.fold`` as a layer.

    Example::

        >>> import retrograd as rg
        >>> rg.nn.Fold((4, 4), 2)(rg.ones(1, 12, 9)).shape
        (1, 3, 4, 4)
    """

    capture_safe = True

    def __init__(self, output_size: Any, kernel_size: Any, dilation: Any = 1, padding: Any = 0,
                 stride: Any = 1) -> None:  # fmt: skip
        super().__init__()
        self.output_size, self.kernel_size, self.dilation = output_size, kernel_size, dilation
        self.padding, self.stride = padding, stride

    def forward(self, input: Any) -> Tensor:  # noqa: A002
        return F.fold(
            input, self.output_size, self.kernel_size, self.dilation, self.padding, self.stride
        )

    def get_config(self) -> dict:
        keys = ("output_size", "kernel_size", "dilation", "padding", "stride")
        return {k: getattr(self, k) for k in keys}


__all__ = [
    "Linear", "ReLU", "Tanh", "Sigmoid", "Identity", "LeakyReLU", "GELU", "Softplus",
    "Softmax", "LogSoftmax", "Flatten", "Dropout", "InputReshape", "Unflatten", "Unfold",
    "Fold",
]  # fmt: skip


_FUSABLE_ACTS = {ReLU: "relu", Tanh: "tanh", Sigmoid: "sigmoid"}
for _act in _FUSABLE_ACTS:
    _FUSED_PAIRS[(Linear, _act)] = _fused_linear_act


class InputReshape(Module):
    """Reshape each flat row to ``shape``: ``(N, prod(shape)) -> (N, *shape)``.

    Example::

        >>> import retrograd as rg
        >>> InputReshape([1, 8, 8])(rg.zeros(3, 64)).shape
        (3, 1, 8, 8)
    """

    def __init__(self, shape: Any) -> None:
        super().__init__()
        self.shape = [int(s) for s in shape]

    def get_config(self) -> dict:
        return {"shape": list(self.shape)}

    def extra_repr(self) -> str:
        return f"shape={tuple(self.shape)}"

    def forward(self, x: Any) -> Tensor:
        x = x if isinstance(x, Tensor) else Tensor(x)
        want = math.prod(self.shape)
        if x.ndim != 2 or x.shape[1] != want:
            raise ValueError(
                f"InputReshape({tuple(self.shape)}): input has shape {x.shape}, expected "
                f"(batch, {want})"
            )
        return x.reshape(x.shape[0], *self.shape)
