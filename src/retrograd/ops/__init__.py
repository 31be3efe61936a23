"""Differentiable primitives and the composites built from them.

Importing this package also gives :class:`~retrograd.Tensor` its operators and methods,
so the engine (``retrograd.autograd``) stays free of any knowledge of the ops.
"""

from __future__ import annotations

from ..autograd.tensor import Tensor
from . import elementwise, fused, reduce, shape
from .creation import *  # noqa: F403
from .elementwise import *  # noqa: F403
from .elementwise import add, as_tensor_like, cast, clip, div, mul, neg, sub
from .fused import *  # noqa: F403
from .linalg import *  # noqa: F403
from .linalg import matmul
from .reduce import *  # noqa: F403
from .reduce import max as _max
from .reduce import min as _min
from .reduce import sum as _sum
from .shape import *  # noqa: F403
from .shape import getitem, permute, reshape, transpose


def _rsub(a, b):
    return sub(b, a)


def _rdiv(a, b):
    return div(b, a)


def _rpow(a, b):
    return elementwise.pow(as_tensor_like(b, a), a)


def _rmatmul(a, b):
    return matmul(b, a)


def _cmp(op):
    def method(self, other):
        o = other.data if isinstance(other, Tensor) else other
        return Tensor._wrap(op(self.data, o), False, None)

    return method


def _install() -> None:
    import operator as _op

    T = Tensor
    T.__add__ = add
    T.__radd__ = add
    T.__sub__ = sub
    T.__rsub__ = _rsub
    T.__mul__ = mul
    T.__rmul__ = mul
    T.__truediv__ = div
    T.__rtruediv__ = _rdiv
    T.__pow__ = elementwise.pow
    T.__rpow__ = _rpow
    T.__matmul__ = matmul
    T.__rmatmul__ = _rmatmul
    T.__neg__ = neg
    T.__pos__ = lambda self: self
    T.__abs__ = elementwise.abs
    T.__getitem__ = getitem
    T.__lt__ = _cmp(_op.lt)
    T.__le__ = _cmp(_op.le)
    T.__gt__ = _cmp(_op.gt)
    T.__ge__ = _cmp(_op.ge)
    T.__eq__ = _cmp(_op.eq)
    T.__ne__ = _cmp(_op.ne)

    for name in (
        "exp",
        "log",
        "log1p",
        "sqrt",
        "abs",
        "tanh",
        "sigmoid",
        "relu",
        "leaky_relu",
        "gelu",
        "softplus",
        "clip",
        "maximum",
        "minimum",
    ):
        setattr(T, name, getattr(elementwise, name))
    for name in ("mean", "logsumexp", "var", "std"):
        setattr(T, name, getattr(reduce, name))
    T.sum = _sum
    T.max = _max
    T.min = _min
    for name in ("expand", "squeeze", "unsqueeze", "flatten", "pad"):
        setattr(T, name, getattr(shape, name))
    T.permute = permute
    T.transpose = transpose
    T.matmul = matmul
    T.softmax = fused.softmax
    T.log_softmax = fused.log_softmax
    T.clamp = clip
    T.astype = cast
    T.float = lambda self: cast(self, "float32")
    T.double = lambda self: cast(self, "float64")

    def _reshape(self, *shape):
        return reshape(self, *shape)

    T.reshape = _reshape
    T.view = _reshape
    T.T = property(lambda self: permute(self, tuple(reversed(range(self.ndim)))))
    T.mT = property(lambda self: transpose(self, -2, -1))
    T.argmax = lambda self, axis=None, keepdims=False: Tensor(
        self.data.argmax(axis=axis, keepdims=keepdims)
    )
    T.argmin = lambda self, axis=None, keepdims=False: Tensor(
        self.data.argmin(axis=axis, keepdims=keepdims)
    )


_install()
