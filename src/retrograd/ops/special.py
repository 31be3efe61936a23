"""Special functions with PyTorch's names: erfc, erfinv, lgamma, digamma, xlogy, logit;
and the pointwise helpers hypot, fmax, fmin, nan_to_num, addcmul, addcdiv.

NumPy has none of them. Each uses SciPy's kernel when SciPy is installed (it is not a
dependency) and otherwise a NumPy implementation that agrees with it to a few ulps
(tests/ops/test_special.py compares both with SciPy and with torch):

- ``erfc``, ``lgamma``: the standard library's ``math.erfc``/``math.lgamma`` elementwise.
- ``erfinv``: Giles' single-precision approximation ("Approximating the erfinv function",
  2010) polished by two Newton steps on ``erf``.
- ``digamma``/``trigamma``: the recurrence ``psi(x) = psi(x + 1) - 1/x`` up to x >= 10,
  then the asymptotic series; the reflection formula below 0.
"""

from __future__ import annotations

import math
from typing import Any

from .._backend import xp
from ..autograd.function import Function
from ..autograd.tensor import Tensor
from ._util import ensure_tensor
from .elementwise import _erf, where
from .pointwise import _floating, _pair

_SQRT_PI_OVER_2 = math.sqrt(math.pi) / 2.0
_TWO_OVER_SQRT_PI = 2.0 / math.sqrt(math.pi)

_KERNELS: dict = {}


def _scipy(name: str) -> Any:
    """SciPy's ``scipy.special.<name>``, or None when SciPy is not installed."""
    if name not in _KERNELS:
        try:
            import scipy.special as sp

            _KERNELS[name] = getattr(sp, name)
        except ImportError:  # pragma: no cover - depends on the environment
            _KERNELS[name] = None
    return _KERNELS[name]


def _elementwise(fn: Any, a: Any) -> Any:
    return xp.frompyfunc(fn, 1, 1)(a).astype(a.dtype)


def _erfc(a: Any) -> Any:
    k = _scipy("erfc")
    return (k(a) if k is not None else _elementwise(math.erfc, a)).astype(a.dtype, copy=False)


def _lgamma_numpy(a: Any) -> Any:
    def lg(v: float) -> float:
        try:
            return math.lgamma(v)
        except ValueError:  # a pole (0, -1, -2, ...): +inf, as SciPy and torch
            return math.inf

    return _elementwise(lg, a)


def _lgamma(a: Any) -> Any:
    k = _scipy("gammaln")
    out = (k(a) if k is not None else _lgamma_numpy(a)).astype(a.dtype, copy=False)
    return xp.where(a == -xp.inf, xp.inf, out)  # torch: lgamma(-inf) = inf (SciPy: -inf)


def erfinv_numpy(a: Any) -> Any:
    """erfinv without SciPy (see the module docstring); inf at +-1, nan outside."""
    x = xp.asarray(a, dtype=xp.float64)
    with xp.errstate(divide="ignore", invalid="ignore"):
        w = -xp.log((1.0 - x) * (1.0 + x))
        small = w < 5.0
        ws = w - 2.5
        ps = 2.81022636e-08
        for c in (3.43273939e-07, -3.5233877e-06, -4.39150654e-06, 0.00021858087,
                  -0.00125372503, -0.00417768164, 0.246640727, 1.50140941):  # fmt: skip
            ps = c + ps * ws
        wl = xp.sqrt(xp.where(small, 5.0, w)) - 3.0
        pl = -0.000200214257
        for c in (0.000100950558, 0.00134934322, -0.00367342844, 0.00573950773,
                  -0.0076224613, 0.00943887047, 1.00167406, 2.83297682):  # fmt: skip
            pl = c + pl * wl
        y = xp.where(small, ps, pl) * x
        for _ in range(2):  # Newton on erf(y) = x: each step doubles the correct digits
            err = _erf(y) - x
            y = y - err / (_TWO_OVER_SQRT_PI * xp.exp(-y * y))
        y = xp.where(x == 1.0, xp.inf, xp.where(x == -1.0, -xp.inf, y))
        y = xp.where(xp.abs(x) > 1.0, xp.nan, y)
    return y.astype(xp.asarray(a).dtype)


def _erfinv(a: Any) -> Any:
    k = _scipy("erfinv")
    return (k(a) if k is not None else erfinv_numpy(a)).astype(a.dtype, copy=False)


def _psi_series(x: Any, order: int) -> Any:
    """digamma (order 0) or trigamma (order 1) for x >= 10: the asymptotic series."""
    inv = 1.0 / x
    inv2 = inv * inv
    if order == 0:
        # psi(x) ~ ln x - 1/(2x) - sum B_2k / (2k x^2k)
        s = inv2 * (1 / 12 - inv2 * (1 / 120 - inv2 * (1 / 252 - inv2 * (1 / 240 - inv2 / 132))))
        return xp.log(x) - 0.5 * inv - s
    # psi'(x) ~ 1/x + 1/(2x^2) + sum B_2k / x^(2k+1)
    s = inv2 * inv * (1 / 6 - inv2 * (1 / 30 - inv2 * (1 / 42 - inv2 * (1 / 30 - inv2 * 5 / 66))))
    return inv + 0.5 * inv2 + s


def polygamma_numpy(a: Any, order: int) -> Any:
    """digamma (``order=0``) or trigamma (``order=1``) without SciPy. At the poles
    digamma is -inf at +0 (+inf at -0) and nan at negative integers, trigamma +inf, as
    SciPy and torch."""
    x = xp.asarray(a, dtype=xp.float64)
    out = xp.empty_like(x)
    neg = x < 0.5
    # Reflection: psi(1 - x) - psi(x) = pi cot(pi x); psi1(1 - x) + psi1(x) = pi^2 / sin^2.
    y = xp.where(neg, 1.0 - x, x)
    acc = xp.zeros_like(y)
    with xp.errstate(divide="ignore", invalid="ignore"):
        while True:
            low = y < 10.0
            if not low.any():
                break
            acc = acc + xp.where(low, 1.0 / y if order == 0 else 1.0 / (y * y), 0.0)
            y = xp.where(low, y + 1.0, y)
        val = _psi_series(y, order) - acc if order == 0 else _psi_series(y, order) + acc
        if neg.any():
            s = xp.sin(math.pi * x)
            if order == 0:
                refl = val - math.pi * xp.cos(math.pi * x) / s
            else:
                refl = math.pi**2 / (s * s) - val
            val = xp.where(neg, refl, val)
        pole = (x <= 0) & (x == xp.floor(x))
        if order == 0:
            val = xp.where(x == 0, xp.copysign(xp.inf, -x), val)  # psi(+-0) = -+inf
            val = xp.where(pole & (x != 0), xp.nan, val)
        else:
            val = xp.where(pole, xp.inf, val)
    out[...] = val
    return out.astype(xp.asarray(a).dtype)


def _digamma(a: Any) -> Any:
    k = _scipy("psi")
    return (k(a) if k is not None else polygamma_numpy(a, 0)).astype(a.dtype, copy=False)


def _trigamma(a: Any) -> Any:
    k = _scipy("polygamma")
    if k is not None:
        return k(1, a).astype(a.dtype, copy=False)
    return polygamma_numpy(a, 1)


# ---------------------------------------------------------------------- primitives


class Erfc(Function):
    replay = "pure"

    def forward(self, a):
        self.a = a
        return _erfc(a)

    def backward(self, g):
        a = self.a
        return (g * (-_TWO_OVER_SQRT_PI) * xp.exp(-a * a),)

    def backward_graph(self, g, out):
        from .elementwise import Exp

        a = self.parents[0]
        return (g * Exp.apply(-(a * a)) * (-_TWO_OVER_SQRT_PI),)


class Erfinv(Function):
    replay = "pure"

    def forward(self, a):
        self.out = _erfinv(a)
        return self.out

    def backward(self, g):
        # d/dx erfinv(x) = sqrt(pi)/2 * exp(erfinv(x)^2)
        return (g * _SQRT_PI_OVER_2 * xp.exp(self.out * self.out),)

    def backward_graph(self, g, out):
        from .elementwise import Exp

        return (g * Exp.apply(out * out) * _SQRT_PI_OVER_2,)


class Lgamma(Function):
    replay = "pure"

    def forward(self, a):
        self.a = a
        return _lgamma(a)

    def backward(self, g):
        return (g * _digamma(self.a),)

    def backward_graph(self, g, out):
        return (g * Digamma.apply(self.parents[0]),)


class Digamma(Function):
    replay = "pure"
    second_order = False
    second_order_reason = "the derivative of trigamma (polygamma of order 2) is not provided"

    def forward(self, a):
        self.a = a
        return _digamma(a)

    def backward(self, g):
        return (g * _trigamma(self.a),)


# ------------------------------------------------------------------ public functions


def erfc(input: Any) -> Tensor:  # noqa: A002 - PyTorch's name
    """Complementary error function ``1 - erf(x)``, accurate where erf is close to 1.

    Example::

        >>> import retrograd as rg
        >>> round(rg.erfc(rg.tensor([0.0])).item(), 6)
        1.0
    """
    return Erfc.apply(_floating(input))


def erfinv(input: Any) -> Tensor:  # noqa: A002
    """Inverse error function on [-1, 1] (+-inf at +-1, nan outside).

    Example::

        >>> import retrograd as rg
        >>> round(rg.erfinv(rg.tensor([0.5])).item(), 5)
        0.47694
    """
    return Erfinv.apply(_floating(input))


def lgamma(input: Any) -> Tensor:  # noqa: A002
    """Natural log of the absolute value of the gamma function.

    Example::

        >>> import retrograd as rg
        >>> round(rg.lgamma(rg.tensor([5.0])).item(), 4)  # log(4!)
        3.1781
    """
    return Lgamma.apply(_floating(input))


def digamma(input: Any) -> Tensor:  # noqa: A002
    """The logarithmic derivative of the gamma function, psi(x) (first-order
    differentiable: its gradient is trigamma).

    Example::

        >>> import retrograd as rg
        >>> round(rg.digamma(rg.tensor([1.0])).item(), 5)  # -Euler's constant
        -0.57722
    """
    return Digamma.apply(_floating(input))


def xlogy(input: Any, other: Any) -> Tensor:  # noqa: A002
    """``input * log(other)``, 0 where ``input`` is 0 (unless ``other`` is nan), as torch.

    Example::

        >>> import retrograd as rg
        >>> rg.xlogy(rg.tensor([0.0, 2.0]), rg.tensor([0.0, 1.0])).tolist()
        [0.0, 0.0]
    """
    from .elementwise import log

    x, y = _pair(input, other)
    x, y = _floating(x), _floating(y)
    if x.dtype != y.dtype:
        dt = xp.promote_types(x.dtype, y.dtype)
        x, y = x.astype(dt), y.astype(dt)
    with xp.errstate(divide="ignore", invalid="ignore"):
        out = x * log(y)
        # x * log(y) is already 0 where x is 0, except at y = 0 or inf (0 * inf); the
        # gradients elsewhere are torch's, log(y) and x / y, also where x is 0.
        fix = (x.data == 0) & ((y.data == 0) | xp.isinf(y.data))
        if not fix.any():
            return out
        return where(fix, Tensor._wrap(xp.zeros((), dtype=x.dtype), False, None), out)


def logit(input: Any, eps: float | None = None) -> Tensor:  # noqa: A002
    """``log(p / (1 - p))``; with ``eps``, ``p`` is first clamped to [eps, 1 - eps] (the
    gradient is then 0 outside that range, as torch).

    Example::

        >>> import retrograd as rg
        >>> rg.logit(rg.tensor([0.5])).tolist()
        [0.0]
    """
    from .elementwise import clip, log

    x = _floating(input)
    if eps is not None:
        x = clip(x, eps, 1.0 - eps)
    with xp.errstate(divide="ignore", invalid="ignore"):
        return log(x / (1 - x))


class Hypot(Function):
    replay = "pure"

    def forward(self, a, b):
        self.a, self.b = a, b
        self.out = xp.hypot(a, b)
        return self.out

    def backward(self, g):
        from ..autograd.function import unbroadcast

        a, b, out = self.a, self.b, self.out
        na, nb = self.needs
        with xp.errstate(divide="ignore", invalid="ignore"):
            # NOTE: 0/0 at the origin gives nan, as torch's grad * x / result.
            gq = g / out
        return (
            unbroadcast(gq * a, a.shape) if na else None,
            unbroadcast(gq * b, b.shape) if nb else None,
        )

    def backward_graph(self, g, out):
        from ._graph import sum_to

        (a, b), (na, nb) = self.parents, self.needs
        gq = g / out
        return (sum_to(gq * a, a.shape) if na else None, sum_to(gq * b, b.shape) if nb else None)


def hypot(input: Any, other: Any) -> Tensor:  # noqa: A002
    """``sqrt(input**2 + other**2)`` without overflow.

    Example::

        >>> import retrograd as rg
        >>> rg.hypot(rg.tensor([3.0]), rg.tensor([4.0])).tolist()
        [5.0]
    """
    from .pointwise import _floating_pair

    return Hypot.apply(*_floating_pair(input, other))


def _nan_aware(input: Any, other: Any, fn: str, take_first: Any) -> Tensor:
    from .elementwise import Where

    a, b = _pair(input, other)
    try:
        shape = xp.broadcast_shapes(a.shape, b.shape)
    except ValueError:
        raise ValueError(
            f"{fn}: shapes {a.shape} and {b.shape} do not broadcast (each dimension must be "
            "equal, or 1 in one of them)"
        ) from None
    with xp.errstate(invalid="ignore"):
        cond = take_first(a.data, b.data) | xp.isnan(b.data)
    return Where.apply(a, b, cond=xp.broadcast_to(cond, shape))


def fmax(input: Any, other: Any) -> Tensor:  # noqa: A002
    """Elementwise maximum that ignores NaN (NaN only where both are NaN); the gradient
    goes to ``input`` on ties, as torch.

    Example::

        >>> import retrograd as rg
        >>> rg.fmax(rg.tensor([1.0, float("nan")]), rg.tensor([2.0, 0.5])).tolist()
        [2.0, 0.5]
    """
    return _nan_aware(input, other, "fmax", xp.greater_equal)


def fmin(input: Any, other: Any) -> Tensor:  # noqa: A002
    """Elementwise minimum that ignores NaN (NaN only where both are NaN); the gradient
    goes to ``input`` on ties, as torch.

    Example::

        >>> import retrograd as rg
        >>> rg.fmin(rg.tensor([1.0, float("nan")]), rg.tensor([2.0, 0.5])).tolist()
        [1.0, 0.5]
    """
    return _nan_aware(input, other, "fmin", xp.less_equal)


def nan_to_num(
    input: Any,  # noqa: A002
    nan: float = 0.0,
    posinf: float | None = None,
    neginf: float | None = None,
) -> Tensor:
    """NaN, +inf and -inf replaced by ``nan``, ``posinf`` and ``neginf`` (by default 0 and
    the dtype's largest and lowest finite values); they get a zero gradient.

    Example::

        >>> import retrograd as rg
        >>> rg.nan_to_num(rg.tensor([float("nan"), 1.0]), nan=-1.0).tolist()
        [-1.0, 1.0]
    """
    from .elementwise import Where

    x = ensure_tensor(input)
    d = x.data
    if d.dtype.kind != "f":
        return Tensor._wrap(d.copy(), False, None)
    fill = xp.nan_to_num(d, nan=nan, posinf=posinf, neginf=neginf)
    return Where.apply(x, Tensor._wrap(fill, False, None), cond=xp.isfinite(d))


def addcmul(input: Any, tensor1: Any, tensor2: Any, *, value: float = 1) -> Tensor:  # noqa: A002
    """``input + value * tensor1 * tensor2``.

    Example::

        >>> import retrograd as rg
        >>> a, b = rg.tensor([1.0, 2.0]), rg.tensor([3.0, 4.0])
        >>> rg.addcmul(rg.ones(2), a, b, value=0.5).tolist()
        [2.5, 5.0]
    """
    prod = tensor1 * tensor2 if isinstance(tensor1, Tensor) else Tensor(tensor1) * tensor2
    return input + (prod if value == 1 else prod * value)


def addcdiv(input: Any, tensor1: Any, tensor2: Any, *, value: float = 1) -> Tensor:  # noqa: A002
    """``input + value * tensor1 / tensor2``.

    Example::

        >>> import retrograd as rg
        >>> a, b = rg.tensor([1.0, 2.0]), rg.tensor([4.0, 4.0])
        >>> rg.addcdiv(rg.ones(2), a, b, value=2).tolist()
        [1.5, 2.0]
    """
    t1 = tensor1 if isinstance(tensor1, Tensor) else Tensor(tensor1)
    if t1.dtype.kind != "f" and (not isinstance(tensor2, Tensor) or tensor2.dtype.kind != "f"):
        raise TypeError(
            "addcdiv: integer division with addcdiv is not supported (got integer tensor1 "
            "and tensor2); use true division (/) instead"
        )
    q = t1 / tensor2
    return input + (q if value == 1 else q * value)


__all__ = [
    "erfc", "erfinv", "lgamma", "digamma", "xlogy", "logit", "hypot", "fmax", "fmin",
    "nan_to_num", "addcmul", "addcdiv",
]  # fmt: skip
