"""Elementwise primitives. Each forward sits right above its vector-Jacobian product."""

from __future__ import annotations

import math
from typing import Any

from .._backend import xp
from ..autograd.function import Function, unbroadcast
from ..autograd.tensor import Tensor
from ..random import default_generator
from ._graph import sum_to
from ._util import (
    as_tensor_like,
    binary_args,
    broadcast_error,
    ensure_tensor,
    float_arg,
)

# ----------------------------------------------------------------------- binary ops


class Add(Function):
    replay = "pure"

    def forward(self, a, b):
        self.shapes = (a.shape, b.shape)
        return a + b

    def backward(self, g):
        sa, sb = self.shapes
        na, nb = self.needs
        return (unbroadcast(g, sa) if na else None, unbroadcast(g, sb) if nb else None)

    def backward_graph(self, g, out):
        (a, b), (na, nb) = self.parents, self.needs
        return (sum_to(g, a.shape) if na else None, sum_to(g, b.shape) if nb else None)


class Sub(Function):
    replay = "pure"

    def forward(self, a, b):
        self.shapes = (a.shape, b.shape)
        return a - b

    def backward(self, g):
        sa, sb = self.shapes
        na, nb = self.needs
        return (unbroadcast(g, sa) if na else None, unbroadcast(-g, sb) if nb else None)

    def backward_graph(self, g, out):
        (a, b), (na, nb) = self.parents, self.needs
        return (sum_to(g, a.shape) if na else None, sum_to(-g, b.shape) if nb else None)


class Mul(Function):
    replay = "pure"

    def saved_inputs(self):
        na, nb = self.needs  # each input's gradient reads the other one
        return (nb, na)

    def forward(self, a, b):
        self.a, self.b = a, b
        return a * b

    def backward(self, g):
        a, b = self.a, self.b
        na, nb = self.needs
        return (
            unbroadcast(g * b, a.shape) if na else None,
            unbroadcast(g * a, b.shape) if nb else None,
        )

    def backward_graph(self, g, out):
        (a, b), (na, nb) = self.parents, self.needs
        return (sum_to(g * b, a.shape) if na else None, sum_to(g * a, b.shape) if nb else None)


class Div(Function):
    replay = "pure"

    def saved_inputs(self):
        na, nb = self.needs  # a's gradient reads b; b's reads both
        return (nb, na or nb)

    def forward(self, a, b):
        self.a, self.b = a, b
        return a / b

    def backward(self, g):
        a, b = self.a, self.b
        na, nb = self.needs
        gb = g / b
        return (
            unbroadcast(gb, a.shape) if na else None,
            unbroadcast(-gb * a / b, b.shape) if nb else None,
        )

    def backward_graph(self, g, out):
        (a, b), (na, nb) = self.parents, self.needs
        gb = g / b
        return (
            sum_to(gb, a.shape) if na else None,
            sum_to(-gb * a / b, b.shape) if nb else None,
        )


class Pow(Function):
    replay = "pure"
    output_saved = False  # PyTorch's pow saves its inputs

    def forward(self, a, b):
        self.a, self.b = a, b
        self.out = a**b
        return self.out

    def backward(self, g):
        a, b, out = self.a, self.b, self.out
        na, nb = self.needs
        ga = gb = None
        if na:
            # NOTE: b * a**(b-1) rather than b * out / a, which is 0/0 at a == 0; and 0
            # where b == 0 (PyTorch's rule), else 0 * 0**-1 would give NaN for x**0 at 0.
            with xp.errstate(divide="ignore", invalid="ignore"):
                d = b * a ** (b - 1)
            d = xp.where(b == 0, 0, d).astype(out.dtype, copy=False)
            ga = unbroadcast(g * d, a.shape)
        if nb:
            # d(a^b)/db = a^b log a. PyTorch's conventions: 0 where a == 0 and b >= 0,
            # NaN for a < 0 (a real power of a negative base has no real derivative).
            with xp.errstate(divide="ignore", invalid="ignore"):
                d = out * xp.log(a)
            d = xp.where((a == 0) & (b >= 0), 0, d).astype(out.dtype, copy=False)
            gb = unbroadcast(g * d, b.shape)
        return ga, gb

    def backward_graph(self, g, out):
        (a, b), (na, nb) = self.parents, self.needs
        ga = gb = None
        if na:
            with xp.errstate(divide="ignore", invalid="ignore"):
                d = b * a ** (b - 1)
            ga = sum_to(g * where(b.data == 0, 0.0, d), a.shape)
        if nb:
            # log(a) is taken of a where a == 0 is replaced by 1: the masked branch must
            # stay finite, or its zero gradient times inf would be NaN at second order.
            zero = (a.data == 0) & (b.data >= 0)
            with xp.errstate(divide="ignore", invalid="ignore"):
                d = out * log(where(zero, 1.0, a))
            gb = sum_to(g * where(zero, 0.0, d), b.shape)
        return ga, gb


class Maximum(Function):
    replay = "pure"

    def forward(self, a, b):
        self.a, self.b = a, b
        return xp.maximum(a, b)

    def backward(self, g):
        # NOTE: ties split the gradient evenly, as PyTorch does for maximum/minimum.
        a, b = self.a, self.b
        na, nb = self.needs
        wa = (a > b) + 0.5 * (a == b)
        wa = wa.astype(g.dtype, copy=False)
        return (
            unbroadcast(g * wa, a.shape) if na else None,
            unbroadcast(g * (1 - wa), b.shape) if nb else None,
        )

    def backward_graph(self, g, out):
        # The tie weights are locally constant in a and b.
        (a, b), (na, nb) = self.parents, self.needs
        wa = ((self.a > self.b) + 0.5 * (self.a == self.b)).astype(g.dtype, copy=False)
        return (
            sum_to(g * wa, a.shape) if na else None,
            sum_to(g * (1 - wa), b.shape) if nb else None,
        )


class Minimum(Function):
    replay = "pure"

    def forward(self, a, b):
        self.a, self.b = a, b
        return xp.minimum(a, b)

    def backward(self, g):
        a, b = self.a, self.b
        na, nb = self.needs
        wa = ((a < b) + 0.5 * (a == b)).astype(g.dtype, copy=False)
        return (
            unbroadcast(g * wa, a.shape) if na else None,
            unbroadcast(g * (1 - wa), b.shape) if nb else None,
        )

    def backward_graph(self, g, out):
        (a, b), (na, nb) = self.parents, self.needs
        wa = ((self.a < self.b) + 0.5 * (self.a == self.b)).astype(g.dtype, copy=False)
        return (
            sum_to(g * wa, a.shape) if na else None,
            sum_to(g * (1 - wa), b.shape) if nb else None,
        )


class Where(Function):
    replay = "pure"

    def forward(self, a, b, cond=None):
        self.cond = cond
        self.shapes = (a.shape, b.shape)
        return xp.where(cond, a, b)

    def backward(self, g):
        na, nb = self.needs
        zero = xp.zeros((), dtype=g.dtype)
        return (
            unbroadcast(xp.where(self.cond, g, zero), self.shapes[0]) if na else None,
            unbroadcast(xp.where(self.cond, zero, g), self.shapes[1]) if nb else None,
        )

    def backward_graph(self, g, out):
        na, nb = self.needs
        sa, sb = self.shapes
        return (
            sum_to(where(self.cond, g, 0.0), sa) if na else None,
            sum_to(where(self.cond, 0.0, g), sb) if nb else None,
        )


# ------------------------------------------------------------------------ unary ops


class Neg(Function):
    replay = "pure"

    def forward(self, a):
        return -a

    def backward(self, g):
        return (-g,)

    def backward_graph(self, g, out):
        return (-g,)


class Exp(Function):
    replay = "pure"

    def forward(self, a):
        self.out = xp.exp(a)
        return self.out

    def backward(self, g):
        return (g * self.out,)

    def backward_graph(self, g, out):
        return (g * out,)


class Log(Function):
    replay = "pure"

    def forward(self, a):
        self.a = a
        return xp.log(a)

    def backward(self, g):
        return (g / self.a,)

    def backward_graph(self, g, out):
        return (g / self.parents[0],)


class Log1p(Function):
    replay = "pure"

    def forward(self, a):
        self.a = a
        return xp.log1p(a)

    def backward(self, g):
        return (g / (1 + self.a),)

    def backward_graph(self, g, out):
        return (g / (self.parents[0] + 1.0),)


class Sqrt(Function):
    replay = "pure"

    def forward(self, a):
        self.out = xp.sqrt(a)
        return self.out

    def backward(self, g):
        return (g / (2 * self.out),)

    def backward_graph(self, g, out):
        return (g / (out * 2.0),)


class Abs(Function):
    replay = "pure"

    def forward(self, a):
        self.a = a
        return xp.abs(a)

    def backward(self, g):
        # NOTE: sign(0) = 0, PyTorch's subgradient choice at the kink.
        return (g * xp.sign(self.a),)

    def backward_graph(self, g, out):
        return (g * xp.sign(self.a),)


class Tanh(Function):
    replay = "pure"

    def forward(self, a):
        self.out = xp.tanh(a)
        return self.out

    def backward(self, g):
        out = self.out
        return (g * (1 - out * out),)

    def backward_graph(self, g, out):
        return (g * (1.0 - out * out),)


def _sigmoid(a):
    # Stable for large |a|: exp never sees a positive argument.
    e = xp.exp(-xp.abs(a))
    return xp.where(a >= 0, 1 / (1 + e), e / (1 + e)).astype(a.dtype, copy=False)


class Sigmoid(Function):
    replay = "pure"

    def forward(self, a):
        self.out = _sigmoid(a)
        return self.out

    def backward(self, g):
        out = self.out
        return (g * out * (1 - out),)

    def backward_graph(self, g, out):
        return (g * out * (1.0 - out),)


_FLOAT_ZEROS: dict = {}  # dtype -> 0-d zero: a NumPy op with it skips scalar conversion


class Dropout(Function):
    """Inverted dropout with the mask drawn inside the op, from the global generator.

    Drawing here rather than in the caller keeps a recorded step replayable
    (``train.compile_step`` runs forward again, which draws a new mask). The numbers are
    those of ``x * mask`` with ``mask = (u >= p) / (1 - p)``, ``u`` uniform float32 draws
    of the global generator (the one :func:`retrograd.manual_seed` replaces).
    """

    replay = "pure"

    def forward(self, x, p=0.5):
        keep = default_generator().random(x.shape, dtype=xp.float32) >= p
        mask = keep.astype(x.dtype) * xp.asarray(1.0 / (1.0 - p), dtype=x.dtype)
        self.mask = mask
        return x * mask

    def backward(self, g):
        return (g * self.mask,)

    def backward_graph(self, g, out):
        return (g * self.mask,)


class Relu(Function):
    replay = "pure"

    def forward(self, a):
        zero = 0
        if a.dtype.kind == "f":
            # A 0-d zero of a's dtype gives what the Python 0 gives, ~0.5 us sooner.
            zero = _FLOAT_ZEROS.get(a.dtype)
            if zero is None:
                zero = _FLOAT_ZEROS[a.dtype] = xp.zeros((), dtype=a.dtype)
        out = xp.maximum(a, zero)
        self.out = out
        self.zero = zero
        return out

    def backward(self, g):
        # NOTE: gradient 0 at exactly 0, as PyTorch (written as maximum(x, 0) with the
        # generic Maximum VJP, the gradient at 0 would be halved).
        return (g * (self.out > self.zero),)

    def backward_graph(self, g, out):
        return (g * (self.out > self.zero),)


class LeakyRelu(Function):
    replay = "pure"

    def forward(self, a, negative_slope=0.01):
        self.pos = a > 0
        self.slope = negative_slope
        return xp.where(self.pos, a, a * xp.asarray(negative_slope, dtype=a.dtype))

    def backward(self, g):
        return (xp.where(self.pos, g, g * xp.asarray(self.slope, dtype=g.dtype)),)

    def backward_graph(self, g, out):
        return (where(self.pos, g, g * self.slope),)


_ERF = None


def _erf(x):
    """Error function: SciPy's when installed, else math.erf elementwise (exact, slower)."""
    global _ERF
    if _ERF is None:
        try:
            from scipy.special import erf as _scipy_erf

            _ERF = _scipy_erf
        except ImportError:  # pragma: no cover - depends on the environment
            vec = xp.frompyfunc(math.erf, 1, 1)
            _ERF = lambda z: vec(z).astype(z.dtype)  # noqa: E731
    return _ERF(x).astype(x.dtype, copy=False)


class Gelu(Function):
    replay = "pure"

    def forward(self, a, approximate="none"):
        self.a = a
        self.approximate = approximate
        if approximate == "tanh":
            c = math.sqrt(2 / math.pi)
            self.t = xp.tanh(c * (a + 0.044715 * a**3))
            return 0.5 * a * (1 + self.t)
        self.cdf = 0.5 * (1 + _erf(a / math.sqrt(2)))
        return a * self.cdf

    def backward(self, g):
        a = self.a
        if self.approximate == "tanh":
            c = math.sqrt(2 / math.pi)
            t = self.t
            dinner = c * (1 + 3 * 0.044715 * a * a)
            return (g * (0.5 * (1 + t) + 0.5 * a * (1 - t * t) * dinner),)
        pdf = xp.exp(-0.5 * a * a) / math.sqrt(2 * math.pi)
        return (g * (self.cdf + a * pdf).astype(a.dtype, copy=False),)

    def backward_graph(self, g, out):
        a = self.parents[0]
        if self.approximate == "tanh":
            c = math.sqrt(2 / math.pi)
            t = tanh((a + a * a * a * 0.044715) * c)
            dinner = (a * a * (3 * 0.044715) + 1.0) * c
            return (g * ((t + 1.0) * 0.5 + a * (1.0 - t * t) * dinner * 0.5),)
        return (g * GeluGrad.apply(a),)


class GeluGrad(Function):
    """d gelu(a) / da = Phi(a) + a phi(a): the exact GELU's slope as a primitive, so that
    ``create_graph`` can differentiate it again (its own slope is phi(a) (2 - a^2))."""

    replay = "pure"

    def forward(self, a):
        self.a = a
        pdf = xp.exp(-0.5 * a * a) / math.sqrt(2 * math.pi)
        return (0.5 * (1 + _erf(a / math.sqrt(2))) + a * pdf).astype(a.dtype, copy=False)

    def backward(self, g):
        a = self.a
        pdf = xp.exp(-0.5 * a * a) / math.sqrt(2 * math.pi)
        return (g * (pdf * (2 - a * a)).astype(a.dtype, copy=False),)

    def backward_graph(self, g, out):
        a = self.parents[0]
        return (g * exp(a * a * -0.5) * (1 / math.sqrt(2 * math.pi)) * (2.0 - a * a),)


class Softplus(Function):
    replay = "pure"

    def forward(self, a, beta=1.0, threshold=20.0):
        self.a, self.beta, self.threshold = a, beta, threshold
        z = a * beta
        # PyTorch's form: linear above the threshold, log1p(exp) below, written stably.
        soft = (xp.maximum(z, 0) + xp.log1p(xp.exp(-xp.abs(z)))) / beta
        return xp.where(z > threshold, a, soft).astype(a.dtype, copy=False)

    def backward(self, g):
        z = self.a * self.beta
        return (xp.where(z > self.threshold, g, g * _sigmoid(z)),)

    def backward_graph(self, g, out):
        a = self.parents[0]
        return (where(self.a * self.beta > self.threshold, g, g * sigmoid(a * self.beta)),)


class Clip(Function):
    replay = "pure"

    def forward(self, a, lo=None, hi=None):
        self.a, self.lo, self.hi = a, lo, hi
        return xp.clip(a, lo, hi)

    def backward(self, g):
        a = self.a
        mask = xp.ones(a.shape, dtype=bool)
        if self.lo is not None:
            mask &= a >= self.lo
        if self.hi is not None:
            mask &= a <= self.hi
        return (g * mask,)

    def backward_graph(self, g, out):
        a = self.a
        mask = xp.ones(a.shape, dtype=bool)
        if self.lo is not None:
            mask &= a >= self.lo
        if self.hi is not None:
            mask &= a <= self.hi
        return (g * mask,)


class Clone(Function):
    replay = "pure"

    def forward(self, a):
        return a.copy()

    def backward(self, g):
        return (g,)

    def backward_graph(self, g, out):
        return (g,)


class Cast(Function):
    replay = "pure"

    def forward(self, a, dtype=None):
        self.src = a.dtype
        return a.astype(dtype)

    def backward(self, g):
        return (g.astype(self.src),)

    def backward_graph(self, g, out):
        return (Cast.apply(g, dtype=self.src),)


# -------------------------------------------------------------------- public functions


def add(a: Any, b: Any) -> Tensor:
    """Elementwise ``a + b`` with broadcasting.

    Example::

        >>> import retrograd as rg
        >>> (rg.tensor([1.0, 2.0]) + 1.0).tolist()
        [2.0, 3.0]
    """
    a, b = binary_args(a, b)
    try:
        return Add.apply(a, b)
    except ValueError as e:
        raise broadcast_error("add", a, b, e) from None


def sub(a: Any, b: Any) -> Tensor:
    """Elementwise ``a - b`` with broadcasting.

    Example::

        >>> import retrograd as rg
        >>> (rg.tensor([[1.0], [2.0]]) - rg.tensor([1.0, 0.0])).tolist()
        [[0.0, 1.0], [1.0, 2.0]]
    """
    a, b = binary_args(a, b)
    try:
        return Sub.apply(a, b)
    except ValueError as e:
        raise broadcast_error("sub", a, b, e) from None


def mul(a: Any, b: Any) -> Tensor:
    """Elementwise ``a * b`` with broadcasting.

    Example::

        >>> import retrograd as rg
        >>> (rg.tensor([1.0, 2.0]) * rg.tensor([3.0, 4.0])).tolist()
        [3.0, 8.0]
    """
    a, b = binary_args(a, b)
    try:
        return Mul.apply(a, b)
    except ValueError as e:
        raise broadcast_error("mul", a, b, e) from None


def div(a: Any, b: Any) -> Tensor:
    """Elementwise ``a / b`` with broadcasting.

    Example::

        >>> import retrograd as rg
        >>> (rg.tensor([1.0, 3.0]) / 2.0).tolist()
        [0.5, 1.5]
    """
    if not _floating(a) and not _floating(b):
        # int / int true-divides in the default float dtype, as in PyTorch.
        a, b = _to_float(a), _to_float(b)
    a, b = binary_args(a, b)
    try:
        return Div.apply(a, b)
    except ValueError as e:
        raise broadcast_error("div", a, b, e) from None


def _floating(x: Any) -> bool:
    if isinstance(x, Tensor):
        return x._data.dtype.kind == "f"
    if isinstance(x, (bool, int, xp.integer, xp.bool_)):
        return False
    if isinstance(x, (float, xp.floating)):
        return True
    return xp.asarray(x).dtype.kind == "f"


def _to_float(x: Any) -> Any:
    if isinstance(x, (bool, int, xp.integer, xp.bool_)):
        return float(x)
    return float_arg(x)


def pow(a: Any, b: Any) -> Tensor:  # noqa: A001 - mirrors torch.pow
    """Elementwise ``a ** b`` with broadcasting.

    Example::

        >>> import retrograd as rg
        >>> (rg.tensor([2.0, 3.0]) ** 2).tolist()
        [4.0, 9.0]
    """
    a, b = binary_args(a, b)
    try:
        return Pow.apply(a, b)
    except ValueError as e:
        raise broadcast_error("pow", a, b, e) from None


def maximum(a: Any, b: Any) -> Tensor:
    """Elementwise maximum; ties share the gradient equally.

    Example::

        >>> import retrograd as rg
        >>> rg.maximum(rg.tensor([1.0, -1.0]), 0.0).tolist()
        [1.0, 0.0]
    """
    a, b = binary_args(a, b)
    try:
        return Maximum.apply(a, b)
    except ValueError as e:
        raise broadcast_error("maximum", a, b, e) from None


def minimum(a: Any, b: Any) -> Tensor:
    """Elementwise minimum; ties share the gradient equally.

    Example::

        >>> import retrograd as rg
        >>> rg.minimum(rg.tensor([1.0, -1.0]), 0.0).tolist()
        [0.0, -1.0]
    """
    a, b = binary_args(a, b)
    try:
        return Minimum.apply(a, b)
    except ValueError as e:
        raise broadcast_error("minimum", a, b, e) from None


def where(cond: Any, a: Any = None, b: Any = None) -> Any:
    """``a`` where ``cond`` is true, else ``b`` (gradient flows to the chosen side).
    ``where(cond)`` alone is ``nonzero(cond, as_tuple=True)``, as in PyTorch.

    Example::

        >>> import retrograd as rg
        >>> x = rg.tensor([-1.0, 2.0])
        >>> rg.where(x > 0, x, 0.0)
        tensor([0., 2.])
        >>> rg.where(x > 0)[0].tolist()
        [1]
    """
    if a is None and b is None:
        from .indexing import nonzero

        return nonzero(cond, as_tuple=True)
    if a is None or b is None:
        raise TypeError("where: give both a and b, or neither (for the indices of cond)")
    c = cond.data if isinstance(cond, Tensor) else xp.asarray(cond)
    if c.dtype != bool:
        raise TypeError(f"where: cond must be a boolean tensor, got dtype {c.dtype}")
    a, b = binary_args(a, b)
    try:
        return Where.apply(a, b, cond=c)
    except ValueError as e:
        raise broadcast_error("where", a, Tensor._wrap(c, False, None), e) from None


def neg(x: Any) -> Tensor:
    """Elementwise ``-x``.

    Example::

        >>> import retrograd as rg
        >>> rg.ops.neg(rg.tensor([1.0, -2.0])).tolist()
        [-1.0, 2.0]
    """
    return Neg.apply(ensure_tensor(x))


def exp(x: Any) -> Tensor:
    """Elementwise e**x.

    Example::

        >>> import retrograd as rg
        >>> rg.exp(rg.tensor([0.0])).tolist()
        [1.0]
    """
    return Exp.apply(float_arg(x))


def log(x: Any) -> Tensor:
    """Elementwise natural logarithm.

    Example::

        >>> import retrograd as rg
        >>> rg.log(rg.tensor([1.0])).tolist()
        [0.0]
    """
    return Log.apply(float_arg(x))


def log1p(x: Any) -> Tensor:
    """Elementwise log(1 + x), accurate for small x.

    Example::

        >>> import retrograd as rg
        >>> rg.log1p(rg.tensor([0.0])).tolist()
        [0.0]
    """
    return Log1p.apply(float_arg(x))


def sqrt(x: Any) -> Tensor:
    """Elementwise square root (its slope at 0 is inf, as in PyTorch).

    Example::

        >>> import retrograd as rg
        >>> rg.sqrt(rg.tensor([4.0])).tolist()
        [2.0]
    """
    return Sqrt.apply(float_arg(x))


def abs(x: Any) -> Tensor:  # noqa: A001 - mirrors torch.abs
    """Elementwise absolute value; gradient sign(x), 0 at 0.

    Example::

        >>> import retrograd as rg
        >>> rg.abs(rg.tensor([-2.0, 3.0])).tolist()
        [2.0, 3.0]
    """
    return Abs.apply(ensure_tensor(x))


def tanh(x: Any) -> Tensor:
    """Elementwise hyperbolic tangent.

    Example::

        >>> import retrograd as rg
        >>> rg.tanh(rg.tensor([0.0])).tolist()
        [0.0]
    """
    return Tanh.apply(float_arg(x))


def sigmoid(x: Any) -> Tensor:
    """Logistic sigmoid 1 / (1 + e**-x), stable for large |x|.

    Example::

        >>> import retrograd as rg
        >>> rg.sigmoid(rg.tensor([0.0, 1e4])).tolist()
        [0.5, 1.0]
    """
    return Sigmoid.apply(float_arg(x))


def relu(x: Any) -> Tensor:
    """max(x, 0) with gradient 0 at 0.

    Example::

        >>> import retrograd as rg
        >>> rg.relu(rg.tensor([-1.0, 2.0])).tolist()
        [0.0, 2.0]
    """
    return Relu.apply(ensure_tensor(x))


def leaky_relu(x: Any, negative_slope: float = 0.01) -> Tensor:
    """``x`` where positive, else ``negative_slope * x`` (slope used at 0).

    Example::

        >>> import retrograd as rg
        >>> rg.ops.leaky_relu(rg.tensor([-1.0, 2.0]), 0.5).tolist()
        [-0.5, 2.0]
    """
    return LeakyRelu.apply(ensure_tensor(x), negative_slope=float(negative_slope))


def gelu(x: Any, approximate: str = "none") -> Tensor:
    """Gaussian error linear unit, exact (erf) or ``approximate="tanh"``.

    Example::

        >>> import retrograd as rg
        >>> rg.gelu(rg.tensor([0.0])).tolist()
        [0.0]
    """
    if approximate not in ("none", "tanh"):
        raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")
    return Gelu.apply(float_arg(x), approximate=approximate)


def softplus(x: Any, beta: float = 1.0, threshold: float = 20.0) -> Tensor:
    """log(1 + exp(beta x)) / beta, linear above ``threshold`` (PyTorch's definition).

    Example::

        >>> import retrograd as rg
        >>> rg.softplus(rg.tensor([0.0, 30.0])).tolist()[1]
        30.0
    """
    if beta <= 0:
        raise ValueError(f"softplus: beta must be > 0, got {beta}")
    return Softplus.apply(float_arg(x), beta=float(beta), threshold=float(threshold))


def clip(x: Any, min: Any = None, max: Any = None) -> Tensor:  # noqa: A002
    """Clamp to [min, max]; the gradient passes where the input lies inside (ends included).

    With ``min > max`` every element becomes ``max`` (PyTorch's rule).

    Example::

        >>> import retrograd as rg
        >>> rg.clip(rg.tensor([-2.0, 0.5, 2.0]), -1.0, 1.0).tolist()
        [-1.0, 0.5, 1.0]
    """
    if min is None and max is None:
        raise ValueError("clip: at least one of min and max must be given")
    # NumPy scalars (np.float64(0.5)) would upcast a float32 input; Python numbers do not.
    min = min.item() if isinstance(min, (xp.generic, xp.ndarray)) else min  # noqa: A001
    max = max.item() if isinstance(max, (xp.generic, xp.ndarray)) else max  # noqa: A001
    x = ensure_tensor(x)
    if x._data.dtype.kind in "biu" and any(isinstance(v, float) for v in (min, max)):
        x = float_arg(x)  # a float bound on an integer tensor: the default float (torch)
    # min > max is allowed: every element becomes max, as in PyTorch (and NumPy).
    return Clip.apply(x, lo=min, hi=max)


def cast(x: Any, dtype: Any) -> Tensor:
    """Convert to ``dtype``; the gradient is converted back to the source dtype.

    Example::

        >>> import retrograd as rg
        >>> rg.ops.cast(rg.tensor([1.0]), "float64").dtype
        dtype('float64')
    """
    x = ensure_tensor(x)
    dtype = _check_dtype(dtype, "cast")
    if x.data.dtype == dtype:
        return x
    if dtype.kind not in "biuf":
        raise TypeError(f"cast: retrograd tensors hold bool, integer or float data, not {dtype}")
    if x.requires_grad and dtype.kind != "f":
        # Integer results carry no gradient.
        return Tensor._wrap(x.data.astype(dtype), False, None)
    return Cast.apply(x, dtype=dtype)


def clone(x: Any) -> Tensor:
    """A copy with its own memory; gradients flow through it unchanged.

    Example::

        >>> import retrograd as rg
        >>> x = rg.tensor([1.0, 2.0], requires_grad=True)
        >>> y = x.clone()
        >>> y.data is x.data, y.requires_grad
        (False, True)
    """
    return Clone.apply(ensure_tensor(x))


def to(x: Any, *args: Any, **kwargs: Any) -> Tensor:
    """PyTorch's ``Tensor.to``: a dtype, the device ``"cpu"``, or another tensor's dtype.

    Accepts ``to(dtype)``, ``to(device)``, ``to(device, dtype)``, ``to(other)`` and the
    keywords ``dtype``, ``device``, ``copy`` and ``non_blocking`` (ignored). retrograd
    computes on the CPU, so any other device is refused.

    Example::

        >>> import retrograd as rg
        >>> rg.tensor([1.0]).to("cpu") is not None
        True
    """
    x = ensure_tensor(x)
    dtype = kwargs.pop("dtype", None)
    device = kwargs.pop("device", None)
    copy = bool(kwargs.pop("copy", False))
    kwargs.pop("non_blocking", None)
    kwargs.pop("memory_format", None)
    if kwargs:
        raise TypeError(f"to: unexpected keyword argument(s) {sorted(kwargs)}")
    for a in args:
        if isinstance(a, Tensor):
            dtype = a.data.dtype
        elif _is_device(a):
            device = a
        elif dtype is None and a is not None:
            dtype = a
        elif a is not None:
            raise TypeError(f"to: unexpected argument {a!r}")
    if device is not None:
        name = str(getattr(device, "type", device))
        if name.split(":")[0] != "cpu":
            raise ValueError(
                f"to: device {device!r} is not available: retrograd computes on the CPU only"
            )
    out = x if dtype is None else cast(x, _check_dtype(dtype, "to"))
    return clone(out) if copy and out is x else out


def _is_device(a: Any) -> bool:
    if isinstance(a, str):
        return a.split(":")[0] in ("cpu", "cuda", "mps", "meta", "xpu") or a.startswith("cuda")
    return type(a).__name__ == "device"


def _check_dtype(dtype: Any, fn: str) -> Any:
    try:
        return xp.dtype(dtype)
    except TypeError:
        raise TypeError(f"{fn}: {dtype!r} is not a dtype") from None


__all__ = [
    "add", "sub", "mul", "div", "pow", "maximum", "minimum", "where", "neg", "exp", "log",
    "log1p", "sqrt", "abs", "tanh", "sigmoid", "relu", "leaky_relu", "gelu", "softplus",
    "clip", "cast", "as_tensor_like", "clone", "to",
]  # fmt: skip
