"""Argument checks shared by the whole package (layers, ops, optimizers, estimators, io).

Every check raises ``ValueError`` (or ``TypeError`` where the kind of value is wrong)
with one message shape: ``"{who}: {name} must be {expected}, got {value!r}"``, naming the
function or class, the argument, what was expected and the value received. Each returns
the value normalised (a Python ``int``/``float``), so callers write
``self.n = check_int(n, "n", "Layer")``.

Example::

    >>> from retrograd._checks import check_int
    >>> check_int(3, "hidden_size", "RNN")
    3
    >>> check_int(0, "hidden_size", "RNN")
    Traceback (most recent call last):
    ...
    ValueError: RNN: hidden_size must be an int >= 1, got 0
"""

from __future__ import annotations

import math
import numbers
from typing import Any, NoReturn

from ._backend import xp

REDUCTIONS = ("mean", "sum", "none")


def fail(who: str, name: str, value: Any, expected: str, error: type = ValueError) -> NoReturn:
    """Raise ``error("{who}: {name} must be {expected}, got {value!r}")``."""
    raise error(f"{who}: {name} must be {expected}, got {value!r}")


def is_int(v: Any) -> bool:
    """A Python or NumPy integer, not a bool."""
    return isinstance(v, numbers.Integral) and not isinstance(v, bool)


def is_real(v: Any) -> bool:
    """A finite Python or NumPy real number, not a bool."""
    return isinstance(v, numbers.Real) and not isinstance(v, bool) and math.isfinite(v)


def interval(
    lo: float | None, hi: float | None, lo_open: bool = False, hi_open: bool = False
) -> str:
    """``"[0, 1)"``-style text for a range; ``None`` bounds read as -inf / inf."""
    left, right = "(" if lo_open else "[", ")" if hi_open else "]"
    lo_s = "-inf" if lo is None else f"{lo:g}"
    hi_s = "inf" if hi is None else f"{hi:g}"
    return f"{left}{lo_s}, {hi_s}{right}"


def in_interval(
    v: float, lo: float | None, hi: float | None, lo_open: bool = False, hi_open: bool = False
) -> bool:
    """Whether ``v`` lies in the range (False for NaN)."""
    ok = not math.isnan(v)
    if lo is not None:
        ok = ok and (v > lo if lo_open else v >= lo)
    if hi is not None:
        ok = ok and (v < hi if hi_open else v <= hi)
    return ok


def check_int(value: Any, name: str, who: str, lo: int = 1, expected: str | None = None) -> int:
    """An int (not a bool) ``>= lo``; ValueError otherwise."""
    if not is_int(value) or value < lo:
        fail(who, name, value, expected or f"an int >= {lo}")
    return int(value)


def positive_int(value: Any, name: str, who: str) -> int:
    """An int (not a bool) ``> 0``; ValueError ("... must be a positive int ...") otherwise."""
    return check_int(value, name, who, 1, "a positive int")


def check_real(
    value: Any,
    name: str,
    who: str,
    lo: float | None = None,
    hi: float | None = None,
    lo_open: bool = False,
    hi_open: bool = False,
    expected: str | None = None,
    *,
    finite: bool = True,
) -> float:
    """A real number (not a bool) in the range: finite, ValueError otherwise. With
    ``finite=False`` infinities pass (NaN does not) and a non-number is a TypeError."""
    iv = interval(lo, hi, lo_open, hi_open)
    if not finite and (isinstance(value, bool) or not isinstance(value, numbers.Real)):
        fail(who, name, value, "a number", TypeError)
    if not ((not finite or is_real(value)) and in_interval(value, lo, hi, lo_open, hi_open)):
        fail(who, name, value, expected or (f"a real number in {iv}" if finite else f"in {iv}"))
    return float(value)


def check_number(value: Any, name: str, who: str, **bounds: Any) -> float:
    """:func:`check_real` with ``finite=False``: TypeError for a non-number (or a bool),
    ValueError ("... must be in [lo, hi] ...") when out of range or NaN."""
    return check_real(value, name, who, finite=False, **bounds)


def check_choice(value: Any, name: str, who: str, choices: tuple, strict: bool = False) -> Any:
    """One of ``choices`` (compared with ``==``; ``strict``: and a ``str``); ValueError
    naming them otherwise."""
    if (strict and not isinstance(value, str)) or value not in choices:
        fail(who, name, value, f"one of {list(choices)}")
    return value


def check_reduction(reduction: Any, who: str) -> str:
    """A loss's ``reduction``: one of ``"mean"``, ``"sum"``, ``"none"``."""
    if reduction not in REDUCTIONS:
        raise ValueError(f"{who}: reduction must be one of {REDUCTIONS}, got {reduction!r}")
    return reduction


def int_pair(value: Any, name: str, who: str, minimum: int = 1) -> tuple:
    """An int or a pair of ints (each ``>= minimum``), as a tuple of two Python ints."""
    if is_int(value):
        pair = (int(value), int(value))
    elif isinstance(value, (tuple, list)) and len(value) == 2 and all(map(is_int, value)):
        pair = (int(value[0]), int(value[1]))
    else:
        raise ValueError(f"{who}: {name} must be an int or a pair of ints, got {value!r}")
    if min(pair) < minimum:
        raise ValueError(f"{who}: {name} must be >= {minimum}, got {value!r}")
    return pair


def resolve_dtype(dtype: Any) -> Any:
    """The default dtype (float32 unless changed) for ``None``, else ``numpy.dtype(dtype)``."""
    if dtype is None:
        from .autograd.tensor import get_default_dtype

        return get_default_dtype()
    return xp.dtype(dtype)
