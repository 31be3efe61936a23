"""Tensor constructors: tensor, zeros, ones, randn, rand, arange, eye, full, *_like."""

from __future__ import annotations

from typing import Any

from .._backend import xp
from .._checks import resolve_dtype
from ..autograd.tensor import Tensor, get_default_dtype
from ..random import default_generator


def _shape(shape: tuple) -> tuple:
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = tuple(shape[0])
    for s in shape:
        if not isinstance(s, (int, xp.integer)) or s < 0:
            raise ValueError(f"shape must hold non-negative ints, got {shape}")
    return tuple(int(s) for s in shape)


def tensor(data: Any, requires_grad: bool = False, dtype: Any = None) -> Tensor:
    """Create a tensor from a number, a (nested) list or an ndarray.

    Python floats become float32 (the default dtype); NumPy arrays keep their dtype.

    Example::

        >>> import retrograd as rg
        >>> rg.tensor([1.0, 2.0]).dtype
        dtype('float32')
    """
    if isinstance(data, Tensor):
        data = data.data.copy()
    return Tensor(data, requires_grad=requires_grad, dtype=dtype)


def zeros(*shape: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """Tensor of zeros; ``dtype`` defaults to float32.

    Example::

        >>> import retrograd as rg
        >>> rg.zeros(2, 3).shape
        (2, 3)
    """
    return Tensor(xp.zeros(_shape(shape), dtype=resolve_dtype(dtype)), requires_grad=requires_grad)


def ones(*shape: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """Tensor of ones; ``dtype`` defaults to float32.

    Example::

        >>> import retrograd as rg
        >>> rg.ones(2).tolist()
        [1.0, 1.0]
    """
    return Tensor(xp.ones(_shape(shape), dtype=resolve_dtype(dtype)), requires_grad=requires_grad)


def full(shape: Any, fill_value: float, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """Tensor of ``shape`` filled with ``fill_value``.

    Example::

        >>> import retrograd as rg
        >>> rg.full((2,), 7.0).tolist()
        [7.0, 7.0]
    """
    shape = _shape(shape if isinstance(shape, tuple) else (shape,))
    data = xp.full(shape, fill_value, dtype=resolve_dtype(dtype))
    return Tensor(data, requires_grad=requires_grad)


def zeros_like(x: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """Zeros with ``x``'s shape and dtype (unless ``dtype`` is given).

    Example::

        >>> import retrograd as rg
        >>> rg.zeros_like(rg.ones(2, 2)).shape
        (2, 2)
    """
    arr = x.data if isinstance(x, Tensor) else xp.asarray(x)
    return Tensor(xp.zeros_like(arr, dtype=dtype), requires_grad=requires_grad)


def ones_like(x: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """Ones with ``x``'s shape and dtype (unless ``dtype`` is given).

    Example::

        >>> import retrograd as rg
        >>> rg.ones_like(rg.zeros(3)).tolist()
        [1.0, 1.0, 1.0]
    """
    arr = x.data if isinstance(x, Tensor) else xp.asarray(x)
    return Tensor(xp.ones_like(arr, dtype=dtype), requires_grad=requires_grad)


def randn(*shape: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """Standard normal samples from the global generator (see :func:`manual_seed`).

    Example::

        >>> import retrograd as rg
        >>> _ = rg.manual_seed(0); rg.randn(2, 3).dtype
        dtype('float32')
    """
    d = resolve_dtype(dtype)
    arr = default_generator().standard_normal(_shape(shape), dtype=d)
    return Tensor(arr, requires_grad=requires_grad)


def rand(*shape: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """Uniform [0, 1) samples from the global generator."""
    d = resolve_dtype(dtype)
    arr = default_generator().random(_shape(shape), dtype=d)
    return Tensor(arr, requires_grad=requires_grad)


def arange(start: float, stop: float | None = None, step: float = 1, dtype: Any = None) -> Tensor:
    """Evenly spaced values; integers give int64, floats the default dtype.

    Example::

        >>> import retrograd as rg
        >>> rg.arange(3).tolist()
        [0, 1, 2]
    """
    if stop is None:
        start, stop = 0, start
    if step == 0:
        raise ValueError("arange: step must not be 0")
    arr = xp.arange(start, stop, step)
    if dtype is not None:
        arr = arr.astype(dtype)
    elif arr.dtype.kind == "f":
        arr = arr.astype(get_default_dtype())
    return Tensor(arr)


def eye(n: int, m: int | None = None, dtype: Any = None) -> Tensor:
    """Identity matrix (``n`` x ``m``), float32 by default.

    Example::

        >>> import retrograd as rg
        >>> rg.eye(2).tolist()
        [[1.0, 0.0], [0.0, 1.0]]
    """
    return Tensor(xp.eye(n, m, dtype=resolve_dtype(dtype)))


__all__ = [
    "tensor", "zeros", "ones", "full", "zeros_like", "ones_like", "randn", "rand", "arange",
    "eye",
]  # fmt: skip
