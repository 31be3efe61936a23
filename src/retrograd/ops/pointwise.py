"""Pointwise math beyond the arithmetic core, with PyTorch's names and gradients.

Trigonometric and hyperbolic functions, exponential and logarithm variants, erf,
rounding, remainders, ``atan2``/``copysign``/``logaddexp``/``lerp``, clamping with tensor
bounds, and the tests and logic that carry no gradient (``isnan``, ``isclose``,
``logical_*``, ``bitwise_*``). Each primitive's forward sits right above its VJP.
Integer inputs of a floating function become the default float dtype, as in PyTorch.
"""

from __future__ import annotations

import math
from typing import Any

from .._backend import xp
from ..autograd.function import Function, unbroadcast
from ..autograd.tensor import Tensor, get_default_dtype
from ._graph import sum_to
from ._util import as_tensor_like, binary_args, ensure_tensor
from .elementwise import Where, _erf, clip

_LN2 = math.log(2.0)
_LN10 = math.log(10.0)
_TWO_OVER_SQRT_PI = 2.0 / math.sqrt(math.pi)


def _floating(x: Any) -> Tensor:
    """A tensor for a floating function: integer and bool data become the default dtype."""
    x = ensure_tensor(x)
    if x.data.dtype.kind in "fc":
        return x
    return Tensor._wrap(x.data.astype(get_default_dtype()), False, None)


def _pair(a: Any, b: Any) -> tuple:
    """Tensors for a binary op; an integer side takes the floating side's dtype (PyTorch:
    int64 with float32 gives float32, where NumPy would give float64)."""
    a, b = binary_args(a, b)
    ka, kb = a.data.dtype.kind, b.data.dtype.kind
    if ka in "iub" and kb == "f":
        a = Tensor._wrap(a.data.astype(b.data.dtype), False, None)
    elif kb in "iub" and ka == "f":
        b = Tensor._wrap(b.data.astype(a.data.dtype), False, None)
    return a, b


def _floating_pair(a: Any, b: Any) -> tuple:
    a, b = _pair(a, b)
    if a.data.dtype.kind not in "fc" and b.data.dtype.kind not in "fc":
        a, b = _floating(a), _floating(b)
    return a, b


def _const(arr: Any) -> Tensor:
    return Tensor._wrap(arr, False, None)


# ------------------------------------------------------------------ unary primitives


def _sqrt(t: Tensor) -> Tensor:
    from .elementwise import Sqrt

    return Sqrt.apply(t)


def _zeros(shape: tuple, like: Tensor) -> Tensor:
    """A constant zero gradient (the second-order rule of a piecewise-constant op)."""
    return Tensor._wrap(xp.zeros(shape, dtype=like.dtype), False, None)


class Sin(Function):
    replay = "pure"

    def forward(self, a):
        self.a = a
        return xp.sin(a)

    def backward(self, g):
        return (g * xp.cos(self.a),)

    def backward_graph(self, g, out):
        return (g * Cos.apply(self.parents[0]),)


class Cos(Function):
    replay = "pure"

    def forward(self, a):
        self.a = a
        return xp.cos(a)

    def backward(self, g):
        return (-g * xp.sin(self.a),)

    def backward_graph(self, g, out):
        return (-g * Sin.apply(self.parents[0]),)


class Tan(Function):
    replay = "pure"

    def forward(self, a):
        self.out = xp.tan(a)
        return self.out

    def backward(self, g):
        return (g * (1 + self.out * self.out),)

    def backward_graph(self, g, out):
        return (g * (out * out + 1.0),)


class Asin(Function):
    replay = "pure"

    def forward(self, a):
        self.a = a
        return xp.arcsin(a)

    def backward(self, g):
        a = self.a
        with xp.errstate(divide="ignore", invalid="ignore"):
            return (g / xp.sqrt(1 - a * a),)

    def backward_graph(self, g, out):
        a = self.parents[0]
        return (g / _sqrt(1.0 - a * a),)


class Acos(Function):
    replay = "pure"

    def forward(self, a):
        self.a = a
        return xp.arccos(a)

    def backward(self, g):
        a = self.a
        with xp.errstate(divide="ignore", invalid="ignore"):
            return (-g / xp.sqrt(1 - a * a),)

    def backward_graph(self, g, out):
        a = self.parents[0]
        return (-g / _sqrt(1.0 - a * a),)


class Atan(Function):
    replay = "pure"

    def forward(self, a):
        self.a = a
        return xp.arctan(a)

    def backward(self, g):
        a = self.a
        return (g / (1 + a * a),)

    def backward_graph(self, g, out):
        a = self.parents[0]
        return (g / (a * a + 1.0),)


class Sinh(Function):
    replay = "pure"

    def forward(self, a):
        self.a = a
        return xp.sinh(a)

    def backward(self, g):
        return (g * xp.cosh(self.a),)

    def backward_graph(self, g, out):
        return (g * Cosh.apply(self.parents[0]),)


class Cosh(Function):
    replay = "pure"

    def forward(self, a):
        self.a = a
        return xp.cosh(a)

    def backward(self, g):
        return (g * xp.sinh(self.a),)

    def backward_graph(self, g, out):
        return (g * Sinh.apply(self.parents[0]),)


class Asinh(Function):
    replay = "pure"

    def forward(self, a):
        self.a = a
        return xp.arcsinh(a)

    def backward(self, g):
        a = self.a
        return (g / xp.sqrt(a * a + 1),)

    def backward_graph(self, g, out):
        a = self.parents[0]
        return (g / _sqrt(a * a + 1.0),)


class Acosh(Function):
    replay = "pure"

    def forward(self, a):
        self.a = a
        return xp.arccosh(a)

    def backward(self, g):
        a = self.a
        with xp.errstate(divide="ignore", invalid="ignore"):
            # NOTE: sqrt(a-1)*sqrt(a+1), not sqrt(a*a-1): the product loses digits near 1.
            return (g / (xp.sqrt(a - 1) * xp.sqrt(a + 1)),)

    def backward_graph(self, g, out):
        a = self.parents[0]
        return (g / (_sqrt(a - 1.0) * _sqrt(a + 1.0)),)


class Atanh(Function):
    replay = "pure"

    def forward(self, a):
        self.a = a
        return xp.arctanh(a)

    def backward(self, g):
        a = self.a
        with xp.errstate(divide="ignore"):
            return (g / (1 - a * a),)

    def backward_graph(self, g, out):
        a = self.parents[0]
        return (g / (1.0 - a * a),)


class Log2(Function):
    replay = "pure"

    def forward(self, a):
        self.a = a
        return xp.log2(a)

    def backward(self, g):
        return (g / (self.a * _LN2),)

    def backward_graph(self, g, out):
        return (g / (self.parents[0] * _LN2),)


class Log10(Function):
    replay = "pure"

    def forward(self, a):
        self.a = a
        return xp.log10(a)

    def backward(self, g):
        return (g / (self.a * _LN10),)

    def backward_graph(self, g, out):
        return (g / (self.parents[0] * _LN10),)


class Expm1(Function):
    replay = "pure"

    def forward(self, a):
        self.out = xp.expm1(a)
        return self.out

    def backward(self, g):
        return (g * (self.out + 1),)

    def backward_graph(self, g, out):
        return (g * (out + 1.0),)


class Exp2(Function):
    replay = "pure"

    def forward(self, a):
        self.out = xp.exp2(a)
        return self.out

    def backward(self, g):
        return (g * self.out * _LN2,)

    def backward_graph(self, g, out):
        return (g * out * _LN2,)


class Rsqrt(Function):
    replay = "pure"

    def forward(self, a):
        with xp.errstate(divide="ignore"):
            self.out = 1 / xp.sqrt(a)
        return self.out

    def backward(self, g):
        out = self.out
        return (-0.5 * g * out * out * out,)

    def backward_graph(self, g, out):
        return (g * out * out * out * -0.5,)


class Erf(Function):
    replay = "pure"

    def forward(self, a):
        self.a = a
        return _erf(a)

    def backward(self, g):
        a = self.a
        return (g * _TWO_OVER_SQRT_PI * xp.exp(-a * a),)

    def backward_graph(self, g, out):
        from .elementwise import Exp

        a = self.parents[0]
        return (g * Exp.apply(-(a * a)) * _TWO_OVER_SQRT_PI,)


_STEPS = {
    "sign": xp.sign,
    "floor": xp.floor,
    "ceil": xp.ceil,
    "trunc": xp.trunc,
    "round": xp.round,
}


class Step(Function):
    """sign, floor, ceil, trunc, round: piecewise constant, so the gradient is zero."""

    replay = "pure"

    def forward(self, a, fn="sign", decimals=0):
        self.shape = a.shape
        if fn == "round":
            return xp.round(a, decimals)
        return _STEPS[fn](a)

    def backward(self, g):
        # NOTE: zero, not None: PyTorch fills the gradient of these with zeros.
        return (xp.zeros(self.shape, dtype=g.dtype),)

    def backward_graph(self, g, out):
        return (_zeros(self.shape, g),)


# ----------------------------------------------------------------- binary primitives


class Atan2(Function):
    replay = "pure"

    def forward(self, a, b):
        self.a, self.b = a, b
        return xp.arctan2(a, b)

    def backward(self, g):
        a, b = self.a, self.b
        na, nb = self.needs
        with xp.errstate(divide="ignore", invalid="ignore"):
            r = g / (a * a + b * b)
        return (
            unbroadcast(r * b, a.shape) if na else None,
            unbroadcast(-r * a, b.shape) if nb else None,
        )

    def backward_graph(self, g, out):
        (a, b), (na, nb) = self.parents, self.needs
        r = g / (a * a + b * b)
        return (sum_to(r * b, a.shape) if na else None, sum_to(-r * a, b.shape) if nb else None)


class Copysign(Function):
    replay = "pure"

    def forward(self, a, b):
        self.a, self.bshape = a, b.shape
        self.out = xp.copysign(a, b)
        return self.out

    def backward(self, g):
        a, out = self.a, self.out
        na, nb = self.needs
        ga = gb = None
        if na:
            # +1 where the sign was kept, -1 where it flipped; 0 at a == 0 (PyTorch's rule).
            ratio = xp.where(a == 0, 0, xp.sign(out) * xp.sign(a)).astype(g.dtype, copy=False)
            ga = unbroadcast(g * ratio, a.shape)
        if nb:
            gb = xp.zeros(self.bshape, dtype=g.dtype)
        return ga, gb

    def backward_graph(self, g, out):
        a, out_ = self.a, self.out
        na, nb = self.needs
        ratio = xp.where(a == 0, 0, xp.sign(out_) * xp.sign(a)).astype(g.dtype, copy=False)
        return (
            sum_to(g * ratio, a.shape) if na else None,
            _zeros(self.bshape, g) if nb else None,
        )


class LogAddExp(Function):
    replay = "pure"

    def forward(self, a, b):
        self.a, self.b = a, b
        self.out = xp.logaddexp(a, b)
        return self.out

    def backward(self, g):
        a, b, out = self.a, self.b, self.out
        na, nb = self.needs
        with xp.errstate(invalid="ignore"):
            return (
                unbroadcast(g * xp.exp(a - out), a.shape) if na else None,
                unbroadcast(g * xp.exp(b - out), b.shape) if nb else None,
            )

    def backward_graph(self, g, out):
        from .elementwise import Exp

        (a, b), (na, nb) = self.parents, self.needs
        return (
            sum_to(g * Exp.apply(a - out), a.shape) if na else None,
            sum_to(g * Exp.apply(b - out), b.shape) if nb else None,
        )


class Remainder(Function):
    """``a - b * q`` with ``q`` = floor(a / b) (``%``, Python's sign) or trunc(a / b) (fmod)."""

    replay = "pure"

    def forward(self, a, b, mode="floor"):
        self.a, self.b, self.mode = a, b, mode
        return xp.remainder(a, b) if mode == "floor" else xp.fmod(a, b)

    def backward(self, g):
        a, b = self.a, self.b
        na, nb = self.needs
        gb = None
        if nb:
            with xp.errstate(divide="ignore", invalid="ignore"):
                q = xp.floor_divide(a, b) if self.mode == "floor" else xp.trunc(a / b)
            gb = unbroadcast(-g * q, b.shape)
        return (unbroadcast(g, a.shape) if na else None, gb)

    def backward_graph(self, g, out):
        a, b = self.a, self.b
        na, nb = self.needs
        gb = None
        if nb:
            # The quotient is piecewise constant in a and b.
            with xp.errstate(divide="ignore", invalid="ignore"):
                q = xp.floor_divide(a, b) if self.mode == "floor" else xp.trunc(a / b)
            gb = sum_to(-g * q, b.shape)
        return (sum_to(g, a.shape) if na else None, gb)


class RoundedDiv(Function):
    """``a / b`` rounded toward zero ("trunc") or down ("floor"): zero gradient."""

    replay = "pure"

    def forward(self, a, b, mode="floor"):
        self.shapes = (a.shape, b.shape)
        if mode == "floor":
            return xp.floor_divide(a, b)
        if a.dtype.kind in "iu" and b.dtype.kind in "iu":
            # Integer truncation without a trip through floats (exact for large ints).
            q = xp.floor_divide(a, b)
            return q + ((q < 0) & (q * b != a))
        return xp.trunc(a / b)

    def backward(self, g):
        na, nb = self.needs
        return (
            xp.zeros(self.shapes[0], dtype=g.dtype) if na else None,
            xp.zeros(self.shapes[1], dtype=g.dtype) if nb else None,
        )

    def backward_graph(self, g, out):
        na, nb = self.needs
        sa, sb = self.shapes
        return (_zeros(sa, g) if na else None, _zeros(sb, g) if nb else None)


class Lerp(Function):
    replay = "pure"

    def forward(self, start, end, weight):
        self.shapes = (start.shape, end.shape, weight.shape)
        self.diff, self.weight = end - start, weight
        # PyTorch's formula: from the nearer end, so lerp(a, b, 1) is exactly b.
        return xp.where(
            xp.abs(weight) < 0.5, start + weight * self.diff, end - self.diff * (1 - weight)
        )

    def backward(self, g):
        w, d = self.weight, self.diff
        ns, ne, nw = self.needs
        ss, se, sw = self.shapes
        return (
            unbroadcast(g * (1 - w), ss) if ns else None,
            unbroadcast(g * w, se) if ne else None,
            unbroadcast(g * d, sw) if nw else None,
        )

    def backward_graph(self, g, out):
        start, end, w = self.parents
        ns, ne, nw = self.needs
        return (
            sum_to(g * (1.0 - w), start.shape) if ns else None,
            sum_to(g * w, end.shape) if ne else None,
            sum_to(g * (end - start), w.shape) if nw else None,
        )


class ClampTensor(Function):
    """clamp(x, min, max) with tensor bounds: the gradient goes to whichever is chosen."""

    replay = "pure"

    def forward(self, a, lo, hi):
        self.a, self.lo, self.hi = a, lo, hi
        return xp.minimum(xp.maximum(a, lo), hi)

    def backward(self, g):
        a, lo, hi = self.a, self.lo, self.hi
        na, nlo, nhi = self.needs
        zero = xp.zeros((), dtype=g.dtype)
        # PyTorch's rule: x where lo <= x <= hi (ends included); lo where x < lo <= hi;
        # hi where max(x, lo) > hi (so hi wins when lo > hi).
        return (
            unbroadcast(xp.where((a >= lo) & (a <= hi), g, zero), a.shape) if na else None,
            unbroadcast(xp.where((a < lo) & (lo <= hi), g, zero), lo.shape) if nlo else None,
            unbroadcast(xp.where(xp.maximum(a, lo) > hi, g, zero), hi.shape) if nhi else None,
        )

    def backward_graph(self, g, out):
        a, lo, hi = self.a, self.lo, self.hi
        na, nlo, nhi = self.needs
        dt = g.dtype
        return (
            sum_to(g * ((a >= lo) & (a <= hi)).astype(dt), a.shape) if na else None,
            sum_to(g * ((a < lo) & (lo <= hi)).astype(dt), lo.shape) if nlo else None,
            sum_to(g * (xp.maximum(a, lo) > hi).astype(dt), hi.shape) if nhi else None,
        )


# ------------------------------------------------------------------ public functions


def sin(input: Any) -> Tensor:  # noqa: A002 - PyTorch's name
    """Elementwise sine (radians).

    Example::

        >>> import retrograd as rg
        >>> rg.sin(rg.tensor([0.0])).tolist()
        [0.0]
    """
    return Sin.apply(_floating(input))


def cos(input: Any) -> Tensor:  # noqa: A002
    """Elementwise cosine (radians).

    Example::

        >>> import retrograd as rg
        >>> rg.cos(rg.tensor([0.0])).tolist()
        [1.0]
    """
    return Cos.apply(_floating(input))


def tan(input: Any) -> Tensor:  # noqa: A002
    """Elementwise tangent (radians).

    Example::

        >>> import retrograd as rg
        >>> rg.tan(rg.tensor([0.0])).tolist()
        [0.0]
    """
    return Tan.apply(_floating(input))


def asin(input: Any) -> Tensor:  # noqa: A002
    """Elementwise arcsine; nan outside [-1, 1], as PyTorch.

    Example::

        >>> import retrograd as rg
        >>> rg.asin(rg.tensor([0.0])).tolist()
        [0.0]
    """
    return Asin.apply(_floating(input))


def acos(input: Any) -> Tensor:  # noqa: A002
    """Elementwise arccosine; nan outside [-1, 1].

    Example::

        >>> import retrograd as rg
        >>> rg.acos(rg.tensor([1.0])).tolist()
        [0.0]
    """
    return Acos.apply(_floating(input))


def atan(input: Any) -> Tensor:  # noqa: A002
    """Elementwise arctangent.

    Example::

        >>> import retrograd as rg
        >>> rg.atan(rg.tensor([0.0])).tolist()
        [0.0]
    """
    return Atan.apply(_floating(input))


def sinh(input: Any) -> Tensor:  # noqa: A002
    """Elementwise hyperbolic sine.

    Example::

        >>> import retrograd as rg
        >>> rg.sinh(rg.tensor([0.0])).tolist()
        [0.0]
    """
    return Sinh.apply(_floating(input))


def cosh(input: Any) -> Tensor:  # noqa: A002
    """Elementwise hyperbolic cosine.

    Example::

        >>> import retrograd as rg
        >>> rg.cosh(rg.tensor([0.0])).tolist()
        [1.0]
    """
    return Cosh.apply(_floating(input))


def asinh(input: Any) -> Tensor:  # noqa: A002
    """Elementwise inverse hyperbolic sine.

    Example::

        >>> import retrograd as rg
        >>> rg.asinh(rg.tensor([0.0])).tolist()
        [0.0]
    """
    return Asinh.apply(_floating(input))


def acosh(input: Any) -> Tensor:  # noqa: A002
    """Elementwise inverse hyperbolic cosine; nan below 1.

    Example::

        >>> import retrograd as rg
        >>> rg.acosh(rg.tensor([1.0])).tolist()
        [0.0]
    """
    return Acosh.apply(_floating(input))


def atanh(input: Any) -> Tensor:  # noqa: A002
    """Elementwise inverse hyperbolic tangent; +-inf at +-1, nan outside.

    Example::

        >>> import retrograd as rg
        >>> rg.atanh(rg.tensor([0.0])).tolist()
        [0.0]
    """
    return Atanh.apply(_floating(input))


def log2(input: Any) -> Tensor:  # noqa: A002
    """Elementwise base-2 logarithm.

    Example::

        >>> import retrograd as rg
        >>> rg.log2(rg.tensor([8.0])).tolist()
        [3.0]
    """
    return Log2.apply(_floating(input))


def log10(input: Any) -> Tensor:  # noqa: A002
    """Elementwise base-10 logarithm.

    Example::

        >>> import retrograd as rg
        >>> rg.log10(rg.tensor([1.0, 10.0])).tolist()
        [0.0, 1.0]
    """
    return Log10.apply(_floating(input))


def expm1(input: Any) -> Tensor:  # noqa: A002
    """Elementwise exp(x) - 1, accurate for small x.

    Example::

        >>> import retrograd as rg
        >>> rg.expm1(rg.tensor([0.0])).tolist()
        [0.0]
    """
    return Expm1.apply(_floating(input))


def exp2(input: Any) -> Tensor:  # noqa: A002
    """Elementwise 2**x.

    Example::

        >>> import retrograd as rg
        >>> rg.exp2(rg.tensor([3.0])).tolist()
        [8.0]
    """
    return Exp2.apply(_floating(input))


def rsqrt(input: Any) -> Tensor:  # noqa: A002
    """Elementwise 1 / sqrt(x) (inf at 0, nan below).

    Example::

        >>> import retrograd as rg
        >>> rg.rsqrt(rg.tensor([4.0])).tolist()
        [0.5]
    """
    return Rsqrt.apply(_floating(input))


def erf(input: Any) -> Tensor:  # noqa: A002
    """Elementwise error function.

    Example::

        >>> import retrograd as rg
        >>> rg.erf(rg.tensor([0.0])).tolist()
        [0.0]
    """
    return Erf.apply(_floating(input))


def _step(x: Any, fn: str, decimals: int = 0) -> Tensor:
    x = ensure_tensor(x)
    if x.data.dtype.kind == "b":
        raise TypeError(f"{fn}: not defined for bool tensors (got dtype bool)")
    if x.data.dtype.kind in "iu" and fn != "sign" and decimals >= 0:
        return x  # integers are already whole numbers (PyTorch returns them unchanged)
    return Step.apply(x, fn=fn, decimals=decimals)


def sign(input: Any) -> Tensor:  # noqa: A002
    """-1, 0 or 1 by the sign of each element; zero gradient.

    Example::

        >>> import retrograd as rg
        >>> rg.sign(rg.tensor([-2.0, 0.0, 3.0])).tolist()
        [-1.0, 0.0, 1.0]
    """
    return _step(input, "sign")


def floor(input: Any) -> Tensor:  # noqa: A002
    """Round down to a whole number; zero gradient.

    Example::

        >>> import retrograd as rg
        >>> rg.floor(rg.tensor([-1.5, 1.5])).tolist()
        [-2.0, 1.0]
    """
    return _step(input, "floor")


def ceil(input: Any) -> Tensor:  # noqa: A002
    """Round up to a whole number; zero gradient.

    Example::

        >>> import retrograd as rg
        >>> rg.ceil(rg.tensor([-1.5, 1.5])).tolist()
        [-1.0, 2.0]
    """
    return _step(input, "ceil")


def trunc(input: Any) -> Tensor:  # noqa: A002
    """Round toward zero; zero gradient (``fix`` is the same function).

    Example::

        >>> import retrograd as rg
        >>> rg.trunc(rg.tensor([-1.5, 1.5])).tolist()
        [-1.0, 1.0]
    """
    return _step(input, "trunc")


fix = trunc


def round(input: Any, decimals: int = 0) -> Tensor:  # noqa: A001,A002 - mirrors torch.round
    """Round half to even (to ``decimals`` places); zero gradient.

    Example::

        >>> import retrograd as rg
        >>> rg.round(rg.tensor([0.5, 1.5, 2.25]), decimals=0).tolist()
        [0.0, 2.0, 2.0]
    """
    if isinstance(decimals, bool) or not isinstance(decimals, (int, xp.integer)):
        raise TypeError(f"round: decimals must be an int, got {decimals!r}")
    return _step(input, "round", int(decimals))


def atan2(input: Any, other: Any) -> Tensor:  # noqa: A002
    """Elementwise arctangent of input / other, in the quadrant of (other, input).

    Example::

        >>> import retrograd as rg
        >>> f"{rg.atan2(rg.tensor([1.0]), rg.tensor([-1.0])).item():.4f}"
        '2.3562'
    """
    return Atan2.apply(*_floating_pair(input, other))


arctan2 = atan2


def copysign(input: Any, other: Any) -> Tensor:  # noqa: A002
    """|input| with the sign of ``other``; ``other`` gets a zero gradient.

    Example::

        >>> import retrograd as rg
        >>> rg.copysign(rg.tensor([1.0, 2.0]), rg.tensor([-1.0, 1.0])).tolist()
        [-1.0, 2.0]
    """
    return Copysign.apply(*_floating_pair(input, other))


def logaddexp(input: Any, other: Any) -> Tensor:  # noqa: A002
    """log(exp(input) + exp(other)) without overflow.

    Example::

        >>> import retrograd as rg
        >>> rg.logaddexp(rg.tensor([1000.0]), rg.tensor([1000.0])).item() > 1000
        True
    """
    return LogAddExp.apply(*_floating_pair(input, other))


def _check_int_divisor(a: Tensor, b: Tensor, fn: str) -> None:
    if a.data.dtype.kind in "iub" and b.data.dtype.kind in "iub" and not b.data.all():
        raise ZeroDivisionError(f"{fn}: integer division by zero (other holds a 0)")


def remainder(input: Any, other: Any) -> Tensor:  # noqa: A002
    """``input % other`` with the sign of ``other`` (Python's rule; ``fmod`` truncates).

    Example::

        >>> import retrograd as rg
        >>> rg.remainder(rg.tensor([-3.0, 3.0]), 2.0).tolist()
        [1.0, 1.0]
    """
    a, b = _pair(input, other)
    _check_int_divisor(a, b, "remainder")
    return Remainder.apply(a, b, mode="floor")


def fmod(input: Any, other: Any) -> Tensor:  # noqa: A002
    """C's ``fmod``: the remainder has the sign of ``input``.

    Example::

        >>> import retrograd as rg
        >>> rg.fmod(rg.tensor([-3.0, 3.0]), 2.0).tolist()
        [-1.0, 1.0]
    """
    a, b = _pair(input, other)
    _check_int_divisor(a, b, "fmod")
    return Remainder.apply(a, b, mode="trunc")


def floor_divide(input: Any, other: Any) -> Tensor:  # noqa: A002
    """``input // other``: the quotient rounded down (integers stay integers).

    Example::

        >>> import retrograd as rg
        >>> (rg.tensor([5, -5]) // 2).tolist()
        [2, -3]
    """
    a, b = _pair(input, other)
    _check_int_divisor(a, b, "floor_divide")
    return RoundedDiv.apply(a, b, mode="floor")


def div(input: Any, other: Any, *, rounding_mode: str | None = None) -> Tensor:  # noqa: A002
    """``input / other``; ``rounding_mode`` None (true division), "trunc" or "floor".

    True division of integers gives the default float dtype, as in PyTorch; the rounded
    modes keep integers integer and have a zero gradient.

    Example::

        >>> import retrograd as rg
        >>> rg.div(rg.tensor([-7.0, 7.0]), 2.0, rounding_mode="trunc").tolist()
        [-3.0, 3.0]
    """
    if rounding_mode is None:
        from .elementwise import div as _true_div

        return _true_div(*_floating_pair(input, other))
    if rounding_mode not in ("trunc", "floor"):
        raise ValueError(
            f"div: rounding_mode must be None, 'trunc' or 'floor', got {rounding_mode!r}"
        )
    a, b = _pair(input, other)
    _check_int_divisor(a, b, "div")
    return RoundedDiv.apply(a, b, mode=rounding_mode)


divide = div


def true_divide(input: Any, other: Any) -> Tensor:  # noqa: A002
    """``input / other`` (same as ``div`` without a rounding mode).

    Example::

        >>> import retrograd as rg
        >>> rg.true_divide(rg.tensor([1.0]), 4.0).tolist()
        [0.25]
    """
    return div(input, other)


def lerp(input: Any, end: Any, weight: Any) -> Tensor:  # noqa: A002
    """``input + weight * (end - input)``; ``weight`` a number or a tensor.

    Example::

        >>> import retrograd as rg
        >>> rg.lerp(rg.tensor([0.0, 1.0]), rg.tensor([10.0, 3.0]), 0.5).tolist()
        [5.0, 2.0]
    """
    if isinstance(input, Tensor) and isinstance(end, Tensor) and input.data.dtype != end.data.dtype:
        # PyTorch refuses mixed dtypes here (checked before binary_args promotes them)
        raise TypeError(
            f"lerp: input and end must have the same dtype, got {input.dtype} and {end.dtype}"
        )
    start, end = _floating_pair(input, end)
    w = as_tensor_like(weight, start)
    if w.data.dtype.kind not in "f":
        w = _const(w.data.astype(start.data.dtype))
    return Lerp.apply(start, end, w)


def _bound(v: Any, x: Tensor) -> Tensor | None:
    if v is None:
        return None
    return as_tensor_like(v, x)


def clamp(input: Any, min: Any = None, max: Any = None) -> Tensor:  # noqa: A001,A002
    """Clamp into [min, max]; the bounds may be numbers or tensors (broadcast).

    With tensor bounds the gradient goes to the input where min <= x <= max, to ``min``
    where it was chosen, to ``max`` where it was chosen (``max`` wins when min > max).

    Example::

        >>> import retrograd as rg
        >>> x = rg.tensor([-2.0, 0.5, 2.0])
        >>> rg.clamp(x, min=rg.tensor([-1.0, 1.0, 0.0]), max=1.0).tolist()
        [-1.0, 1.0, 1.0]
    """
    x = ensure_tensor(input)
    if not isinstance(min, Tensor) and not isinstance(max, Tensor):
        return clip(x, min, max)
    if min is None and max is None:  # pragma: no cover - handled above
        raise ValueError("clamp: at least one of min and max must be given")
    dt = x.data.dtype
    lo = _bound(min, x)
    hi = _bound(max, x)
    if lo is None:
        lo = _const(xp.asarray(-xp.inf if dt.kind == "f" else xp.iinfo(dt).min, dtype=dt))
    if hi is None:
        hi = _const(xp.asarray(xp.inf if dt.kind == "f" else xp.iinfo(dt).max, dtype=dt))
    for name, t in (("min", lo), ("max", hi)):
        try:
            xp.broadcast_shapes(t.shape, x.shape)
        except ValueError:
            raise ValueError(
                f"clamp: {name} has shape {t.shape}, which does not broadcast with the "
                f"input's shape {x.shape}"
            ) from None
    return ClampTensor.apply(x, lo, hi)


def clamp_min(input: Any, min: Any) -> Tensor:  # noqa: A001,A002
    """``clamp(input, min=min)``.

    Example::

        >>> import retrograd as rg
        >>> rg.clamp_min(rg.tensor([-1.0, 2.0]), 0.0).tolist()
        [0.0, 2.0]
    """
    return clamp(input, min=min)


def clamp_max(input: Any, max: Any) -> Tensor:  # noqa: A001,A002
    """``clamp(input, max=max)``.

    Example::

        >>> import retrograd as rg
        >>> rg.clamp_max(rg.tensor([-1.0, 2.0]), 0.0).tolist()
        [-1.0, 0.0]
    """
    return clamp(input, max=max)


def masked_fill(input: Any, mask: Any, value: Any) -> Tensor:  # noqa: A002
    """``value`` where the boolean ``mask`` (broadcast to the input) is true, else input.

    A 0-d tensor ``value`` receives the gradient of the filled places.

    Example::

        >>> import retrograd as rg
        >>> x = rg.tensor([1.0, 2.0, 3.0])
        >>> rg.masked_fill(x, x > 1.5, 0.0).tolist()
        [1.0, 0.0, 0.0]
    """
    x = ensure_tensor(input)
    m = mask.data if isinstance(mask, Tensor) else xp.asarray(mask)
    if m.dtype != bool:
        raise TypeError(f"masked_fill: mask must be a bool tensor, got dtype {m.dtype}")
    try:
        ok = xp.broadcast_shapes(m.shape, x.shape) == x.shape
    except ValueError:
        ok = False
    if not ok:
        raise ValueError(
            f"masked_fill: mask of shape {m.shape} does not broadcast to the input's "
            f"shape {x.shape}"
        )
    if isinstance(value, Tensor) and value.ndim != 0:
        raise ValueError(
            f"masked_fill: value must be a number or a 0-d tensor, got shape {value.shape}"
        )
    v = as_tensor_like(value, x)
    if v.data.dtype != x.data.dtype:
        v = _const(v.data.astype(x.data.dtype)) if not v.requires_grad else v
    return Where.apply(v, x, cond=m)


# ------------------------------------------- torch's arithmetic names (alpha=, aliases)
# (retrograd itself exports add/sub/mul/neg/pow from here; retrograd.ops keeps the plain
# operators that Tensor's + - * ** call)


def add(input: Any, other: Any, *, alpha: Any = 1) -> Tensor:  # noqa: A002
    """``input + alpha * other``.

    Example::

        >>> import retrograd as rg
        >>> rg.add(rg.tensor([1.0, 2.0]), rg.tensor([1.0, 1.0]), alpha=2).tolist()
        [3.0, 4.0]
    """
    from .elementwise import add as _add

    a, b = _pair(input, other)
    return _add(a, b if alpha == 1 else b * alpha)


def sub(input: Any, other: Any, *, alpha: Any = 1) -> Tensor:  # noqa: A002
    """``input - alpha * other`` (``subtract`` is the same function).

    Example::

        >>> import retrograd as rg
        >>> rg.sub(rg.tensor([3.0]), rg.tensor([1.0]), alpha=2).tolist()
        [1.0]
    """
    from .elementwise import sub as _sub

    a, b = _pair(input, other)
    return _sub(a, b if alpha == 1 else b * alpha)


subtract = sub


def mul(input: Any, other: Any) -> Tensor:  # noqa: A002
    """``input * other`` (``multiply`` is the same function).

    Example::

        >>> import retrograd as rg
        >>> rg.mul(rg.tensor([3.0]), 2.0).tolist()
        [6.0]
    """
    from .elementwise import mul as _mul

    return _mul(*_pair(input, other))


multiply = mul


def neg(input: Any) -> Tensor:  # noqa: A002
    """``-input`` (``negative`` is the same function).

    Example::

        >>> import retrograd as rg
        >>> rg.neg(rg.tensor([3.0])).tolist()
        [-3.0]
    """
    from .elementwise import neg as _neg

    return _neg(input)


negative = neg


def pow(input: Any, exponent: Any) -> Tensor:  # noqa: A001,A002 - mirrors torch.pow
    """``input ** exponent``.

    Example::

        >>> import retrograd as rg
        >>> rg.pow(rg.tensor([3.0]), 2).tolist()
        [9.0]
    """
    from .elementwise import pow as _pow

    return _pow(*_pair(input, exponent))


def square(input: Any) -> Tensor:  # noqa: A002
    """``input * input``.

    Example::

        >>> import retrograd as rg
        >>> rg.square(rg.tensor([-3.0])).tolist()
        [9.0]
    """
    x = ensure_tensor(input)
    return x * x


def reciprocal(input: Any) -> Tensor:  # noqa: A002
    """``1 / input`` (integers give the default float dtype).

    Example::

        >>> import retrograd as rg
        >>> rg.reciprocal(rg.tensor([4.0])).tolist()
        [0.25]
    """
    x = _floating(input)
    from .elementwise import div as _div

    return _div(as_tensor_like(1.0, x), x)


# --------------------------------------------------------- tests and logic (no gradient)


def _nograd(arr: Any) -> Tensor:
    return Tensor._wrap(xp.asarray(arr), False, None)


def _data(x: Any) -> Any:
    return x.data if isinstance(x, Tensor) else xp.asarray(x)


def isnan(input: Any) -> Tensor:  # noqa: A002
    """True where the element is NaN.

    Example::

        >>> import retrograd as rg
        >>> rg.isnan(rg.tensor([1.0, float("nan")])).tolist()
        [False, True]
    """
    return _nograd(xp.isnan(_data(input)))


def isinf(input: Any) -> Tensor:  # noqa: A002
    """True where the element is +inf or -inf.

    Example::

        >>> import retrograd as rg
        >>> rg.isinf(rg.tensor([1.0, float("-inf")])).tolist()
        [False, True]
    """
    return _nograd(xp.isinf(_data(input)))


def isposinf(input: Any) -> Tensor:  # noqa: A002
    """True where the element is +inf.

    Example::

        >>> import retrograd as rg
        >>> rg.isposinf(rg.tensor([float("inf"), float("-inf")])).tolist()
        [True, False]
    """
    return _nograd(xp.isposinf(_data(input)))


def isneginf(input: Any) -> Tensor:  # noqa: A002
    """True where the element is -inf.

    Example::

        >>> import retrograd as rg
        >>> rg.isneginf(rg.tensor([float("inf"), float("-inf")])).tolist()
        [False, True]
    """
    return _nograd(xp.isneginf(_data(input)))


def isfinite(input: Any) -> Tensor:  # noqa: A002
    """True where the element is neither inf nor NaN.

    Example::

        >>> import retrograd as rg
        >>> rg.isfinite(rg.tensor([1.0, float("inf")])).tolist()
        [True, False]
    """
    return _nograd(xp.isfinite(_data(input)))


def _close_args(input: Any, other: Any, fn: str, rtol: float, atol: float) -> tuple:
    a, b = _data(input), _data(other)
    for name, v in (("rtol", rtol), ("atol", atol)):
        if isinstance(v, bool) or not isinstance(v, (int, float)) or v < 0:
            raise ValueError(f"{fn}: {name} must be a non-negative number, got {v!r}")
    try:
        xp.broadcast_shapes(a.shape, b.shape)
    except ValueError:
        raise ValueError(
            f"{fn}: input of shape {a.shape} and other of shape {b.shape} do not broadcast"
        ) from None
    return a, b


def isclose(
    input: Any,  # noqa: A002
    other: Any,
    rtol: float = 1e-05,
    atol: float = 1e-08,
    equal_nan: bool = False,
) -> Tensor:
    """True where |input - other| <= atol + rtol * |other| (elementwise).

    Example::

        >>> import retrograd as rg
        >>> rg.isclose(rg.tensor([1.0, 1.1]), rg.tensor([1.0, 1.0])).tolist()
        [True, False]
    """
    a, b = _close_args(input, other, "isclose", rtol, atol)
    return _nograd(xp.isclose(a, b, rtol=rtol, atol=atol, equal_nan=bool(equal_nan)))


def allclose(
    input: Any,  # noqa: A002
    other: Any,
    rtol: float = 1e-05,
    atol: float = 1e-08,
    equal_nan: bool = False,
) -> bool:
    """True when every element is close (see :func:`isclose`); a Python bool.

    Example::

        >>> import retrograd as rg
        >>> rg.allclose(rg.tensor([1.0, 2.0]), rg.tensor([1.0, 2.0 + 1e-9]))
        True
    """
    a, b = _close_args(input, other, "allclose", rtol, atol)
    return bool(xp.allclose(a, b, rtol=rtol, atol=atol, equal_nan=bool(equal_nan)))


def logical_and(input: Any, other: Any) -> Tensor:  # noqa: A002
    """Elementwise AND of the truth values (nonzero is true); a bool tensor.

    Example::

        >>> import retrograd as rg
        >>> rg.logical_and(rg.tensor([True, True]), rg.tensor([1.0, 0.0])).tolist()
        [True, False]
    """
    return _nograd(xp.logical_and(_data(input), _data(other)))


def logical_or(input: Any, other: Any) -> Tensor:  # noqa: A002
    """Elementwise OR of the truth values; a bool tensor.

    Example::

        >>> import retrograd as rg
        >>> rg.logical_or(rg.tensor([False, False]), rg.tensor([1, 0])).tolist()
        [True, False]
    """
    return _nograd(xp.logical_or(_data(input), _data(other)))


def logical_xor(input: Any, other: Any) -> Tensor:  # noqa: A002
    """Elementwise XOR of the truth values; a bool tensor.

    Example::

        >>> import retrograd as rg
        >>> rg.logical_xor(rg.tensor([True, True]), rg.tensor([True, False])).tolist()
        [False, True]
    """
    return _nograd(xp.logical_xor(_data(input), _data(other)))


def logical_not(input: Any) -> Tensor:  # noqa: A002
    """Elementwise NOT of the truth values; a bool tensor.

    Example::

        >>> import retrograd as rg
        >>> rg.logical_not(rg.tensor([0.0, 2.0])).tolist()
        [True, False]
    """
    return _nograd(xp.logical_not(_data(input)))


def _integral(x: Any, fn: str, arg: str) -> Any:
    d = _data(x)
    if d.dtype.kind not in "iub":
        raise TypeError(f"{fn}: {arg} must be an integer or bool tensor, got dtype {d.dtype}")
    return d


def _bitwise(ufunc: Any, fn: str, input: Any, other: Any) -> Tensor:  # noqa: A002
    if isinstance(input, Tensor) or not isinstance(other, Tensor):
        a = _integral(input, fn, "input")
        b = other if isinstance(other, (bool, int)) else _integral(other, fn, "other")
    else:
        b = _integral(other, fn, "other")
        a = input if isinstance(input, (bool, int)) else _integral(input, fn, "input")
    return _nograd(ufunc(a, b))


def bitwise_and(input: Any, other: Any) -> Tensor:  # noqa: A002
    """Elementwise bitwise AND of integer or bool tensors (``&``).

    Example::

        >>> import retrograd as rg
        >>> (rg.tensor([12, 10]) & rg.tensor([10, 6])).tolist()
        [8, 2]
    """
    return _bitwise(xp.bitwise_and, "bitwise_and", input, other)


def bitwise_or(input: Any, other: Any) -> Tensor:  # noqa: A002
    """Elementwise bitwise OR of integer or bool tensors (``|``).

    Example::

        >>> import retrograd as rg
        >>> (rg.tensor([True, False]) | rg.tensor([False, False])).tolist()
        [True, False]
    """
    return _bitwise(xp.bitwise_or, "bitwise_or", input, other)


def bitwise_xor(input: Any, other: Any) -> Tensor:  # noqa: A002
    """Elementwise bitwise XOR of integer or bool tensors (``^``).

    Example::

        >>> import retrograd as rg
        >>> (rg.tensor([12]) ^ rg.tensor([10])).tolist()
        [6]
    """
    return _bitwise(xp.bitwise_xor, "bitwise_xor", input, other)


def bitwise_not(input: Any) -> Tensor:  # noqa: A002
    """Elementwise bitwise NOT (``~``); logical NOT for bool tensors.

    Example::

        >>> import retrograd as rg
        >>> (~rg.tensor([True, False])).tolist()
        [False, True]
    """
    return _nograd(xp.invert(_integral(input, "bitwise_not", "input")))


def _compare(name: str, method: str, alias: str | None = None) -> Any:
    def fn(input: Any, other: Any) -> Tensor:  # noqa: A002 - PyTorch's name
        return getattr(ensure_tensor(input), method)(other)

    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = f"""Elementwise ``input {_CMP_SYMBOLS[method]} other`` (broadcast), a bool tensor
    ({"torch." + name}{"" if alias is None else ", alias " + alias}).

    Example::

        >>> import retrograd as rg
        >>> rg.{name}(rg.tensor([1.0, 2.0, 3.0]), 2).tolist()
        {[bool(getattr(v, method)(2.0)) for v in (1.0, 2.0, 3.0)]}
    """
    return fn


_CMP_SYMBOLS = {"__eq__": "==", "__ne__": "!=", "__lt__": "<", "__le__": "<=", "__gt__": ">",
                "__ge__": ">="}  # fmt: skip
eq = _compare("eq", "__eq__")
ne = _compare("ne", "__ne__", "not_equal")
lt = _compare("lt", "__lt__", "less")
le = _compare("le", "__le__", "less_equal")
gt = _compare("gt", "__gt__", "greater")
ge = _compare("ge", "__ge__", "greater_equal")
not_equal, less, less_equal, greater, greater_equal = ne, lt, le, gt, ge


def equal(input: Any, other: Any) -> bool:  # noqa: A002 - PyTorch's name
    """True when both tensors have the same shape and elements (torch.equal).

    Example::

        >>> import retrograd as rg
        >>> rg.equal(rg.tensor([1, 2]), rg.tensor([1, 2])), rg.equal(rg.ones(2), rg.ones(3))
        (True, False)
    """
    a, b = ensure_tensor(input).data, ensure_tensor(other).data
    return a.shape == b.shape and bool((a == b).all())


__all__ = [
    "sin", "cos", "tan", "asin", "acos", "atan", "sinh", "cosh", "asinh", "acosh", "atanh",
    "log2", "log10", "expm1", "exp2", "rsqrt", "erf", "sign", "floor", "ceil", "trunc", "fix",
    "round", "atan2", "arctan2", "copysign", "logaddexp", "remainder", "fmod", "floor_divide",
    "lerp", "square", "reciprocal", "clamp", "clamp_min", "clamp_max", "masked_fill",
    "isnan", "isinf", "isposinf", "isneginf", "isfinite", "isclose", "allclose",
    "logical_and", "logical_or", "logical_xor", "logical_not", "bitwise_and", "bitwise_or",
    "bitwise_xor", "bitwise_not", "eq", "ne", "lt", "le", "gt", "ge", "not_equal", "less",
    "less_equal", "greater", "greater_equal", "equal",
]  # fmt: skip
# div/divide/true_divide (torch's, with rounding_mode) and add/sub/mul/neg/pow (alpha=,
# aliases) are exported by retrograd itself; retrograd.ops keeps the plain operators.
TORCH_ARITHMETIC = [
    "div", "divide", "true_divide", "add", "sub", "subtract", "mul", "multiply", "neg",
    "negative", "pow",
]  # fmt: skip
