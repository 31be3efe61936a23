"""Softmax and log-softmax: primitives of their own because they work from shifted
logits, so that +-1e4 in float32 stays finite; each saves exactly what its VJP needs."""

from __future__ import annotations

from typing import Any

from .._backend import xp
from ..autograd.function import Function
from ..autograd.tensor import Tensor
from ._util import ensure_tensor, norm_axis


class Softmax(Function):
    replay = "pure"

    def forward(self, a, axis=-1):
        self.axis = axis
        e = xp.exp(a - a.max(axis=axis, keepdims=True))
        self.out = e / e.sum(axis=axis, keepdims=True)
        return self.out

    def backward(self, g):
        out = self.out
        return (out * (g - (g * out).sum(axis=self.axis, keepdims=True)),)


class LogSoftmax(Function):
    replay = "pure"

    def forward(self, a, axis=-1):
        self.axis = axis
        s = a - a.max(axis=axis, keepdims=True)
        self.out = s - xp.log(xp.exp(s).sum(axis=axis, keepdims=True))
        return self.out

    def backward(self, g):
        p = xp.exp(self.out)
        return (g - p * g.sum(axis=self.axis, keepdims=True),)


def softmax(x: Any, axis: int = -1) -> Tensor:
    """exp(x) / sum(exp(x)) along ``axis``, shifted by the max for stability.

    Example::

        >>> import retrograd as rg
        >>> rg.softmax(rg.tensor([0.0, 0.0])).tolist()
        [0.5, 0.5]
    """
    x = ensure_tensor(x)
    return Softmax.apply(x, axis=norm_axis(axis, x.ndim, "softmax: axis"))


def log_softmax(x: Any, axis: int = -1) -> Tensor:
    """log(softmax(x)) computed as x - logsumexp(x), finite for extreme logits.

    Example::

        >>> import retrograd as rg
        >>> rg.log_softmax(rg.tensor([1e4, -1e4])).tolist()
        [0.0, -20000.0]
    """
    x = ensure_tensor(x)
    return LogSoftmax.apply(x, axis=norm_axis(axis, x.ndim, "log_softmax: axis"))


__all__ = ["softmax", "log_softmax"]
