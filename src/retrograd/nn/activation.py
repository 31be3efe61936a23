"""Activation layers beyond the classic ones: SiLU, ELU, CELU, SELU, ReLU6, Hardtanh,
Hardswish, Hardsigmoid, Mish, Softsign, LogSigmoid, Softmin, PReLU, GLU (PyTorch's names
and arguments). Each forward is one call into the functional form; ``get_config`` makes them
savable with ``rg.save``/``rg.load``.
"""

from __future__ import annotations

from typing import Any

from .._backend import xp
from .._checks import positive_int, resolve_dtype
from ..autograd.tensor import Tensor
from ..ops import activation as A
from . import functional as F
from .module import Module, Parameter


class _Elementwise(Module):
    """An activation without arguments (``inplace`` is accepted and ignored)."""

    _fn: Any = None
    capture_safe = True

    def __init__(self, inplace: bool = False) -> None:
        super().__init__()

    def forward(self, input: Any) -> Tensor:  # noqa: A002 - PyTorch's name
        return type(self)._fn(input)

    def get_config(self) -> dict:
        return {}


class SiLU(_Elementwise):
    """x * sigmoid(x).

    Example::

        >>> import retrograd as rg
        >>> rg.nn.SiLU()(rg.tensor([0.0])).tolist()
        [0.0]
    """

    _fn = staticmethod(A.silu)


class SELU(_Elementwise):
    """Scaled ELU with the self-normalising constants.

    Example::

        >>> import retrograd as rg
        >>> rg.nn.SELU()(rg.tensor([0.0])).tolist()
        [0.0]
    """

    _fn = staticmethod(A.selu)


class ReLU6(_Elementwise):
    """min(max(x, 0), 6).

    Example::

        >>> import retrograd as rg
        >>> rg.nn.ReLU6()(rg.tensor([-1.0, 7.0])).tolist()
        [0.0, 6.0]
    """

    _fn = staticmethod(A.relu6)


class Hardswish(_Elementwise):
    """x * relu6(x + 3) / 6.

    Example::

        >>> import retrograd as rg
        >>> rg.nn.Hardswish()(rg.tensor([4.0])).tolist()
        [4.0]
    """

    _fn = staticmethod(A.hardswish)


class Hardsigmoid(_Elementwise):
    """relu6(x + 3) / 6.

    Example::

        >>> import retrograd as rg
        >>> rg.nn.Hardsigmoid()(rg.tensor([0.0])).tolist()
        [0.5]
    """

    _fn = staticmethod(A.hardsigmoid)


class Mish(_Elementwise):
    """x * tanh(softplus(x)).

    Example::

        >>> import retrograd as rg
        >>> rg.nn.Mish()(rg.tensor([0.0])).tolist()
        [0.0]
    """

    _fn = staticmethod(A.mish)


class Softsign(Module):
    """x / (1 + |x|).

    Example::

        >>> import retrograd as rg
        >>> rg.nn.Softsign()(rg.tensor([1.0])).tolist()
        [0.5]
    """

    capture_safe = True

    def forward(self, input: Any) -> Tensor:  # noqa: A002
        return A.softsign(input)

    def get_config(self) -> dict:
        return {}


class LogSigmoid(Module):
    """log(sigmoid(x)).

    Example::

        >>> import retrograd as rg
        >>> rg.nn.LogSigmoid()(rg.tensor([-1000.0])).tolist()
        [-1000.0]
    """

    capture_safe = True

    def forward(self, input: Any) -> Tensor:  # noqa: A002
        return A.logsigmoid(input)

    def get_config(self) -> dict:
        return {}


class ELU(Module):
    """x for x > 0, alpha * (exp(x) - 1) otherwise.

    Example::

        >>> import retrograd as rg
        >>> rg.nn.ELU(alpha=0.5)(rg.tensor([1.0])).tolist()
        [1.0]
    """

    capture_safe = True

    def __init__(self, alpha: float = 1.0, inplace: bool = False) -> None:
        super().__init__()
        self.alpha = A._number(alpha, "ELU", "alpha")

    def forward(self, input: Any) -> Tensor:  # noqa: A002
        return A.elu(input, self.alpha)

    def extra_repr(self) -> str:
        return f"alpha={self.alpha}"

    def get_config(self) -> dict:
        return {"alpha": self.alpha}


class CELU(ELU):
    """max(0, x) + min(0, alpha * (exp(x / alpha) - 1)).

    Example::

        >>> import retrograd as rg
        >>> rg.nn.CELU()(rg.tensor([2.0])).tolist()
        [2.0]
    """

    capture_safe = True

    def __init__(self, alpha: float = 1.0, inplace: bool = False) -> None:
        super().__init__(alpha)
        if self.alpha == 0:
            raise ValueError("CELU: alpha must not be 0, got 0.0")

    def forward(self, input: Any) -> Tensor:  # noqa: A002
        return A.celu(input, self.alpha)


class Hardtanh(Module):
    """Clamp to [min_val, max_val].

    Example::

        >>> import retrograd as rg
        >>> rg.nn.Hardtanh(-2.0, 2.0)(rg.tensor([-3.0, 1.0])).tolist()
        [-2.0, 1.0]
    """

    capture_safe = True

    def __init__(self, min_val: float = -1.0, max_val: float = 1.0, inplace: bool = False) -> None:
        super().__init__()
        self.min_val = A._number(min_val, "Hardtanh", "min_val")
        self.max_val = A._number(max_val, "Hardtanh", "max_val")
        if self.min_val > self.max_val:
            raise ValueError(
                f"Hardtanh: min_val ({self.min_val}) must not exceed max_val ({self.max_val})"
            )

    def forward(self, input: Any) -> Tensor:  # noqa: A002
        return A.hardtanh(input, self.min_val, self.max_val)

    def extra_repr(self) -> str:
        return f"min_val={self.min_val}, max_val={self.max_val}"

    def get_config(self) -> dict:
        return {"min_val": self.min_val, "max_val": self.max_val}


class Softmin(Module):
    """softmax(-x) along ``dim``.

    Example::

        >>> import retrograd as rg
        >>> rg.nn.Softmin(dim=0)(rg.tensor([0.0, 0.0])).tolist()
        [0.5, 0.5]
    """

    capture_safe = True

    def __init__(self, dim: int | None = None) -> None:
        super().__init__()
        self.dim = dim

    def forward(self, input: Any) -> Tensor:  # noqa: A002
        return A.softmin(input, self.dim)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"

    def get_config(self) -> dict:
        return {"dim": self.dim}


class PReLU(Module):
    """``x`` where positive, else ``weight * x``, with a learned slope: one shared
    (``num_parameters=1``) or one per channel (dimension 1), starting at ``init``.

    Example::

        >>> import retrograd as rg
        >>> m = rg.nn.PReLU()
        >>> m.weight.shape, m(rg.tensor([-4.0, 1.0])).tolist()
        ((1,), [-1.0, 1.0])
    """

    def __init__(self, num_parameters: int = 1, init: float = 0.25, dtype: Any = None) -> None:
        super().__init__()
        self.num_parameters = positive_int(num_parameters, "num_parameters", "PReLU")
        self.init = float(init)
        self.weight = Parameter(xp.full((self.num_parameters,), self.init, resolve_dtype(dtype)))

    def reset_parameters(self) -> None:
        from . import init

        init.constant_(self.weight, self.init)

    def forward(self, input: Any) -> Tensor:  # noqa: A002
        return F.prelu(input, self.weight)

    def extra_repr(self) -> str:
        return f"num_parameters={self.num_parameters}"

    def get_config(self) -> dict:
        return {
            "num_parameters": self.num_parameters,
            "init": self.init,
            "dtype": str(self.weight.data.dtype),
        }


class GLU(Module):
    """Gated linear unit over ``dim``: ``a * sigmoid(b)`` for its two halves.

    Example::

        >>> import retrograd as rg
        >>> rg.nn.GLU()(rg.ones(2, 6)).shape
        (2, 3)
    """

    capture_safe = True

    def __init__(self, dim: int = -1) -> None:
        super().__init__()
        self.dim = int(dim)

    def forward(self, input: Any) -> Tensor:  # noqa: A002
        return F.glu(input, self.dim)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"

    def get_config(self) -> dict:
        return {"dim": self.dim}


__all__ = [
    "SiLU", "ELU", "CELU", "SELU", "ReLU6", "Hardtanh", "Hardswish", "Hardsigmoid", "Mish",
    "Softsign", "LogSigmoid", "Softmin", "PReLU", "GLU",
]  # fmt: skip
