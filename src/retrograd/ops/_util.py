"""Helpers shared by the op modules: turning constants into tensors, normalising axes."""

from __future__ import annotations

import numbers
from typing import Any

from .._backend import xp
from ..autograd.tensor import Tensor, _to_array

# The ufuncs' own reductions: what ndarray.sum/.max call, minus their Python-level wrapper
# (~0.7 us a call, several per step of a small network). Same results to the bit (same
# dtype rules, same pairwise summation).
add_reduce = xp.add.reduce
max_reduce = xp.maximum.reduce


def as_tensor_like(value: Any, like: Tensor) -> Tensor:
    """Wrap a constant so that a Python scalar takes ``like``'s dtype (no upcasting)."""
    if isinstance(value, Tensor):
        return value
    if isinstance(value, numbers.Number) and not isinstance(value, bool):
        dt = like.data.dtype
        if dt.kind not in "fc" and isinstance(value, float):
            dt = _to_array(value).dtype
        return Tensor._wrap(xp.asarray(value, dtype=dt), False, None)
    return Tensor._wrap(_to_array(value), False, None)


def binary_args(a: Any, b: Any) -> tuple:
    if isinstance(a, Tensor):
        return a, as_tensor_like(b, a)
    if isinstance(b, Tensor):
        return as_tensor_like(a, b), b
    a = Tensor(a)
    return a, as_tensor_like(b, a)


def ensure_tensor(x: Any) -> Tensor:
    return x if isinstance(x, Tensor) else Tensor(x)


def norm_axis(axis: Any, ndim: int, what: str = "axis") -> Any:
    """Validate an axis argument (None, int or tuple) and make it non-negative."""
    if axis is None:
        return None
    single = isinstance(axis, (int, xp.integer))
    if not single and not isinstance(axis, (tuple, list)):
        raise TypeError(f"{what} must be an int or a tuple of ints, got {axis!r}")
    axes = (axis,) if single else tuple(axis)
    out = []
    for a in axes:
        if not isinstance(a, (int, xp.integer)) or isinstance(a, bool):
            raise TypeError(f"{what} must be an int or a tuple of ints, got {axis!r}")
        if not -ndim <= a < max(ndim, 1):
            raise ValueError(f"{what} {a} is out of range for a tensor with {ndim} dimensions")
        out.append(int(a) % max(ndim, 1))
    if len(set(out)) != len(out):
        raise ValueError(f"{what} {axis!r} repeats an axis")
    return out[0] if single else tuple(out)


def expand_reduced(g: Any, shape: tuple, axis: Any, keepdims: bool) -> Any:
    """Reshape the gradient of a reduction so that it broadcasts against the input."""
    if keepdims or axis is None:
        return g.reshape([1] * len(shape)) if axis is None and g.ndim == 0 else g
    axes = (axis,) if isinstance(axis, int) else axis
    return xp.expand_dims(g, axes)
