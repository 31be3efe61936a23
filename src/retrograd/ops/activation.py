"""Activation functions with PyTorch's definitions, slopes at the kinks and names.

Softmax and log-softmax are primitives of their own because they work from shifted
logits, so that +-1e4 in float32 stays finite; each saves exactly what its VJP needs.
silu, elu/celu/selu (one primitive with PyTorch's scale and input_scale), hardtanh and
relu6, hardswish, hardsigmoid, mish, softsign and logsigmoid are primitives too (one pass
forward, PyTorch's slopes at the kinks); softmin is softmax(-x).
"""

from __future__ import annotations

import math
import warnings
from typing import Any

from .._backend import xp
from ..autograd.function import Function
from ..autograd.tensor import Tensor
from ._util import ensure_tensor, float_arg, pick_dim, reduce_dims
from .elementwise import _sigmoid


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

    def backward_graph(self, g, out):
        from .reduce import Sum

        return (out * (g - Sum.apply(g * out, axis=self.axis, keepdims=True)),)


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

    def backward_graph(self, g, out):
        from .elementwise import Exp
        from .reduce import Sum

        return (g - Exp.apply(out) * Sum.apply(g, axis=self.axis, keepdims=True),)


def softmax(x: Any, dim: int = -1, *, axis: int | None = None, dtype: Any = None) -> Tensor:
    """exp(x) / sum(exp(x)) along ``dim`` (``axis`` is an alias), shifted by the max.

    Example::

        >>> import retrograd as rg
        >>> rg.softmax(rg.tensor([0.0, 0.0]), dim=0).tolist()
        [0.5, 0.5]
    """
    x = _softmax_input(x, dtype)
    return Softmax.apply(x, axis=reduce_dims("softmax", pick_dim("softmax", dim, axis, -1), x.ndim))


def log_softmax(x: Any, dim: int = -1, *, axis: int | None = None, dtype: Any = None) -> Tensor:
    """log(softmax(x)) computed as x - logsumexp(x), finite for extreme logits.

    Example::

        >>> import retrograd as rg
        >>> rg.log_softmax(rg.tensor([1e4, -1e4])).tolist()
        [0.0, -20000.0]
    """
    x = _softmax_input(x, dtype)
    d = reduce_dims("log_softmax", pick_dim("log_softmax", dim, axis, -1), x.ndim)
    return LogSoftmax.apply(x, axis=d)


def _softmax_input(x: Any, dtype: Any) -> Tensor:
    x = float_arg(x)  # integers give the default float dtype, as in PyTorch
    if dtype is not None:
        from .elementwise import cast

        x = cast(x, dtype)
    return x


_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946
_SIXTH_F32 = float(xp.float32(1 / 6))


def _softplus(a: Any) -> Any:
    # log(1 + e^a) without overflow: max(a, 0) + log1p(e^-|a|).
    return xp.maximum(a, 0) + xp.log1p(xp.exp(-xp.abs(a)))


class Silu(Function):
    replay = "pure"

    def forward(self, a):
        self.a = a
        self.s = _sigmoid(a)
        return a * self.s

    def backward(self, g):
        s = self.s
        return (g * (s * (1 + self.a * (1 - s))),)

    def backward_graph(self, g, out):
        from .elementwise import Sigmoid

        a = self.parents[0]
        s = Sigmoid.apply(a)
        return (g * (s * (a * (1.0 - s) + 1.0)),)


class Elu(Function):
    """``scale * (x if x > 0 else alpha * (exp(x * input_scale) - 1))`` (ELU, CELU, SELU)."""

    replay = "pure"

    def forward(self, a, alpha=1.0, scale=1.0, input_scale=1.0):
        self.pos = a > 0
        self.c = (alpha, scale, input_scale)
        with xp.errstate(over="ignore"):
            self.e = xp.exp(xp.where(self.pos, 0, a) * input_scale)
        return xp.where(self.pos, a * scale, (self.e - 1) * (alpha * scale)).astype(a.dtype)

    def backward(self, g):
        alpha, scale, input_scale = self.c
        # NOTE: at x == 0 the negative branch's slope alpha * input_scale * scale, as torch.
        return (xp.where(self.pos, g * scale, g * self.e * (alpha * scale * input_scale)),)

    def backward_graph(self, g, out):
        from .elementwise import Exp, Where

        alpha, scale, input_scale = self.c
        a = self.parents[0]
        zero = Tensor._wrap(xp.zeros((), dtype=a.dtype), False, None)
        # exp of the negative part only, as in forward (no overflow on the other branch).
        e = Exp.apply(Where.apply(zero, a, cond=self.pos) * input_scale)
        return (Where.apply(g * scale, g * e * (alpha * scale * input_scale), cond=self.pos),)


class Hardtanh(Function):
    replay = "pure"

    def forward(self, a, min_val=-1.0, max_val=1.0):
        # NOTE: the slope is 1 strictly inside (min_val, max_val), 0 at the ends (torch).
        self.inside = (a > min_val) & (a < max_val)
        return xp.clip(a, min_val, max_val).astype(a.dtype, copy=False)

    def backward(self, g):
        return (g * self.inside,)

    def backward_graph(self, g, out):
        return (g * self.inside.astype(g.dtype),)


class Hardswish(Function):
    replay = "pure"

    def forward(self, a):
        self.a = a
        return a * xp.clip(a + 3, 0, 6) / 6

    def backward(self, g):
        a = self.a
        # PyTorch's slope: 0 up to -3, x/3 + 1/2 between, 1 from 3 on.
        return (g * xp.where(a <= -3, 0, xp.where(a < 3, a / 3 + 0.5, 1)).astype(g.dtype),)

    def backward_graph(self, g, out):
        a = self.parents[0]
        mid = ((self.a > -3) & (self.a < 3)).astype(g.dtype)
        return (g * (a * (1 / 3) + 0.5) * mid + g * (self.a >= 3).astype(g.dtype),)


class Hardsigmoid(Function):
    replay = "pure"

    def forward(self, a):
        self.inside = (a > -3) & (a < 3)
        return xp.clip(a + 3, 0, 6) / 6

    def backward(self, g):
        # NOTE: PyTorch's slope is 1/6 rounded to float32 (also for float64 tensors).
        return (g * self.inside * _SIXTH_F32,)

    def backward_graph(self, g, out):
        return (g * (self.inside * _SIXTH_F32).astype(g.dtype),)


class Mish(Function):
    replay = "pure"

    def forward(self, a):
        self.a = a
        self.t = xp.tanh(_softplus(a))
        return a * self.t

    def backward(self, g):
        a, t = self.a, self.t
        return (g * (t + a * _sigmoid(a) * (1 - t * t)),)

    def backward_graph(self, g, out):
        from .elementwise import Sigmoid, Softplus, Tanh

        a = self.parents[0]
        t = Tanh.apply(Softplus.apply(a, beta=1.0, threshold=float("inf")))
        return (g * (t + a * Sigmoid.apply(a) * (1.0 - t * t)),)


class Softsign(Function):
    replay = "pure"

    def forward(self, a):
        self.d = 1 + xp.abs(a)
        return a / self.d

    def backward(self, g):
        return (g / (self.d * self.d),)

    def backward_graph(self, g, out):
        from .elementwise import Abs

        d = Abs.apply(self.parents[0]) + 1.0
        return (g / (d * d),)


class LogSigmoid(Function):
    replay = "pure"

    def forward(self, a):
        self.a = a
        return -_softplus(-a)

    def backward(self, g):
        return (g * _sigmoid(-self.a),)

    def backward_graph(self, g, out):
        from .elementwise import Neg, Sigmoid

        return (g * Sigmoid.apply(Neg.apply(self.parents[0])),)


# ------------------------------------------------------------------ public functions


def _float_input(x: Any, fn: str) -> Tensor:
    x = ensure_tensor(x)
    if x.data.dtype.kind != "f":
        raise TypeError(f"{fn}: expected a floating-point tensor, got dtype {x.data.dtype}")
    return x


def _number(v: Any, fn: str, name: str) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float, xp.integer, xp.floating)):
        raise TypeError(f"{fn}: {name} must be a number, got {v!r}")
    if not math.isfinite(v):
        raise ValueError(f"{fn}: {name} must be finite, got {v!r}")
    return float(v)


def silu(input: Any, inplace: bool = False) -> Tensor:  # noqa: A002 - PyTorch's name
    """x * sigmoid(x) (also called swish).

    Example::

        >>> import retrograd as rg
        >>> import retrograd.nn.functional as F
        >>> F.silu(rg.tensor([0.0])).tolist()
        [0.0]
    """
    return Silu.apply(_float_input(input, "silu"))


def elu(input: Any, alpha: float = 1.0, inplace: bool = False) -> Tensor:  # noqa: A002
    """x for x > 0, alpha * (exp(x) - 1) otherwise.

    Example::

        >>> import retrograd as rg
        >>> import retrograd.nn.functional as F
        >>> F.elu(rg.tensor([1.0, 0.0])).tolist()
        [1.0, 0.0]
    """
    a = _number(alpha, "elu", "alpha")
    return Elu.apply(_float_input(input, "elu"), alpha=a)


def celu(input: Any, alpha: float = 1.0, inplace: bool = False) -> Tensor:  # noqa: A002
    """max(0, x) + min(0, alpha * (exp(x / alpha) - 1)); alpha must not be 0.

    Example::

        >>> import retrograd as rg
        >>> rg.celu(rg.tensor([2.0])).tolist()
        [2.0]
    """
    a = _number(alpha, "celu", "alpha")
    if a == 0:
        raise ValueError("celu: alpha must not be 0, got 0.0")
    return Elu.apply(_float_input(input, "celu"), alpha=a, input_scale=1.0 / a)


def selu(input: Any, inplace: bool = False) -> Tensor:  # noqa: A002
    """scale * elu(x, alpha) with the self-normalising constants of Klambauer et al. 2017.

    Example::

        >>> import retrograd as rg
        >>> rg.selu(rg.tensor([0.0])).tolist()
        [0.0]
    """
    return Elu.apply(_float_input(input, "selu"), alpha=_SELU_ALPHA, scale=_SELU_SCALE)


def hardtanh(
    input: Any,  # noqa: A002
    min_val: float = -1.0,
    max_val: float = 1.0,
    inplace: bool = False,
) -> Tensor:
    """Clamp to [min_val, max_val] with slope 1 strictly inside, 0 at and beyond the ends.

    Example::

        >>> import retrograd as rg
        >>> import retrograd.nn.functional as F
        >>> F.hardtanh(rg.tensor([-2.0, 0.5, 2.0])).tolist()
        [-1.0, 0.5, 1.0]
    """
    lo = _number(min_val, "hardtanh", "min_val")
    hi = _number(max_val, "hardtanh", "max_val")
    if lo > hi:
        raise ValueError(f"hardtanh: min_val ({lo}) must not exceed max_val ({hi})")
    return Hardtanh.apply(_float_input(input, "hardtanh"), min_val=lo, max_val=hi)


def relu6(input: Any, inplace: bool = False) -> Tensor:  # noqa: A002
    """min(max(x, 0), 6) (hardtanh on [0, 6]).

    Example::

        >>> import retrograd as rg
        >>> import retrograd.nn.functional as F
        >>> F.relu6(rg.tensor([-1.0, 3.0, 9.0])).tolist()
        [0.0, 3.0, 6.0]
    """
    return Hardtanh.apply(_float_input(input, "relu6"), min_val=0.0, max_val=6.0)


def hardswish(input: Any, inplace: bool = False) -> Tensor:  # noqa: A002
    """x * relu6(x + 3) / 6 (MobileNetV3).

    Example::

        >>> import retrograd as rg
        >>> import retrograd.nn.functional as F
        >>> F.hardswish(rg.tensor([-4.0, 0.0, 4.0])).tolist()
        [-0.0, 0.0, 4.0]
    """
    return Hardswish.apply(_float_input(input, "hardswish"))


def hardsigmoid(input: Any, inplace: bool = False) -> Tensor:  # noqa: A002
    """relu6(x + 3) / 6: 0 below -3, 1 above 3, linear between.

    Example::

        >>> import retrograd as rg
        >>> import retrograd.nn.functional as F
        >>> F.hardsigmoid(rg.tensor([-4.0, 0.0, 4.0])).tolist()
        [0.0, 0.5, 1.0]
    """
    return Hardsigmoid.apply(_float_input(input, "hardsigmoid"))


def mish(input: Any, inplace: bool = False) -> Tensor:  # noqa: A002
    """x * tanh(softplus(x)) (Misra 2019).

    Example::

        >>> import retrograd as rg
        >>> import retrograd.nn.functional as F
        >>> F.mish(rg.tensor([0.0])).tolist()
        [0.0]
    """
    return Mish.apply(_float_input(input, "mish"))


def softsign(input: Any) -> Tensor:  # noqa: A002
    """x / (1 + |x|).

    Example::

        >>> import retrograd as rg
        >>> import retrograd.nn.functional as F
        >>> F.softsign(rg.tensor([1.0, -3.0])).tolist()
        [0.5, -0.75]
    """
    return Softsign.apply(_float_input(input, "softsign"))


def logsigmoid(input: Any) -> Tensor:  # noqa: A002
    """log(sigmoid(x)), finite for large negative x.

    Example::

        >>> import retrograd as rg
        >>> import retrograd.nn.functional as F
        >>> F.logsigmoid(rg.tensor([-1000.0])).tolist()
        [-1000.0]
    """
    return LogSigmoid.apply(_float_input(input, "logsigmoid"))


def implicit_softmax_dim(ndim: int, fn: str) -> int:
    """PyTorch's legacy choice when ``dim`` is not given (with its deprecation warning)."""
    warnings.warn(
        f"{fn}: implicit dimension choice is deprecated; pass dim= (PyTorch's rule used: "
        "dim 0 for 0-, 1- and 3-d input, else 1)",
        UserWarning,
        stacklevel=3,
    )
    return 0 if ndim in (0, 1, 3) else 1


def softmin(input: Any, dim: int | None = None, dtype: Any = None) -> Tensor:  # noqa: A002
    """softmax(-x) along ``dim``: weights that favour the smallest entries.

    Example::

        >>> import retrograd as rg
        >>> import retrograd.nn.functional as F
        >>> F.softmin(rg.tensor([0.0, 0.0]), dim=0).tolist()
        [0.5, 0.5]
    """
    from .elementwise import cast, neg

    x = ensure_tensor(input)
    if dtype is not None:
        x = cast(x, dtype)
    d = implicit_softmax_dim(x.ndim, "softmin") if dim is None else dim
    return softmax(neg(x), d)


__all__ = [
    "softmax", "log_softmax", "silu", "elu", "celu", "selu", "hardtanh", "relu6", "hardswish",
    "hardsigmoid", "mish", "softsign", "logsigmoid", "softmin",
]  # fmt: skip
