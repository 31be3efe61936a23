"""Activation layers beyond the classic ones: SiLU, ELU, CELU, SELU, ReLU6, Hardtanh,
Hardswish, Hardsigmoid, Mish, Softsign, LogSigmoid, Softmin (PyTorch's names and
arguments). Each forward is one call into the functional form; ``get_config`` makes them
savable with ``rg.save``/``rg.load``.
"""

from __future__ import annotations

from typing import Any

from ..autograd.tensor import Tensor
from ..ops import activation as A
from .module import Module


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


__all__ = [
    "SiLU", "ELU", "CELU", "SELU", "ReLU6", "Hardtanh", "Hardswish", "Hardsigmoid", "Mish",
    "Softsign", "LogSigmoid", "Softmin",
]  # fmt: skip
