"""Helpers shared by the op modules: turning constants into tensors, normalising axes."""

from __future__ import annotations

from typing import Any

from .._backend import xp
from ..autograd.tensor import Tensor, _to_array, get_default_dtype
from ..errors import ShapeError

# The ufuncs' own reductions: what ndarray.sum/.max call, minus their Python-level wrapper
# (~0.7 us a call, several per step of a small network). Same results to the bit (same
# dtype rules, same pairwise summation).
add_reduce = xp.add.reduce
max_reduce = xp.maximum.reduce


# ------------------------------------------------------------------ type promotion
# PyTorch's rules, in one place for every elementwise op. Operands fall in three
# priority groups: tensors with dims, 0-d tensors, and Python/NumPy scalars ("wrapped
# numbers": a float counts as the default dtype, an int as int64, a bool as bool). A
# lower group changes the result only when its category (bool < integer < floating) is
# higher: float32 tensor * 2.5 stays float32, float32 (3,) + float64 0-d stays float32,
# int tensor + 0.5 is the default float dtype, float32 + float64 tensors give float64.

_CAST = None  # elementwise.cast, bound on first use (elementwise imports this module)


def _promote2(x: Any, y: Any) -> Any:
    """torch.promote_types for bool/integer/floating dtypes."""
    if x is None:
        return y
    if y is None or x == y:
        return x
    xf, yf = x.kind == "f", y.kind == "f"
    if xf and yf:
        return x if x.itemsize >= y.itemsize else y
    if xf or yf:
        return x if xf else y  # an integer with a float: the float (int64 + float32: float32)
    return xp.promote_types(x, y)


def _combine(higher: Any, lower: Any) -> Any:
    """torch's combine_categories: ``lower`` counts only if its category is higher."""
    if higher is None:
        return lower
    if lower is None or higher.kind == "f":
        return higher
    if higher.kind == "b" or lower.kind == "f":
        return _promote2(higher, lower)
    return higher


def scalar_dtype(v: Any, fn: str = "operand") -> Any:
    """The dtype a Python or NumPy scalar counts as in promotion."""
    if isinstance(v, (bool, xp.bool_)):
        return xp.dtype(bool)
    if isinstance(v, (int, xp.integer)):
        return xp.dtype(xp.int64)
    if isinstance(v, (float, xp.floating)):
        return get_default_dtype()
    raise TypeError(f"{fn}: unsupported operand {v!r} of type {type(v).__name__}")


def result_dtype(*operands: Any) -> Any:
    """The dtype PyTorch gives an elementwise op on ``operands`` (Tensors or scalars)."""
    dim = zero = wrapped = None
    for o in operands:
        if isinstance(o, Tensor):
            d = o._data
            if d.ndim:
                dim = _promote2(dim, d.dtype)
            else:
                zero = _promote2(zero, d.dtype)
        elif o is not None:
            wrapped = _promote2(wrapped, scalar_dtype(o))
    return _combine(dim, _combine(zero, wrapped))


def to_dtype(t: Tensor, dtype: Any) -> Tensor:
    """``t`` converted to ``dtype`` through the Cast op (recorded, so replays see it)."""
    if t._data.dtype == dtype:
        return t
    global _CAST
    if _CAST is None:
        from .elementwise import cast as _CAST
    return _CAST(t, dtype)


def _is_scalar(v: Any) -> bool:
    return isinstance(v, (int, float, xp.generic)) and not isinstance(v, xp.ndarray)


def _scalar_tensor(v: Any, dtype: Any) -> Tensor:
    if isinstance(v, xp.generic):
        v = v.item()
    if dtype.kind in "iu" and isinstance(v, int) and not isinstance(v, bool):
        info = xp.iinfo(dtype)
        if not info.min <= v <= info.max:
            # wraps around, as PyTorch does (uint8 tensor + -1 adds 255)
            return Tensor._wrap(xp.asarray(v, dtype=xp.int64).astype(dtype), False, None)
    return Tensor._wrap(xp.asarray(v, dtype=dtype), False, None)


def as_tensor_like(value: Any, like: Tensor) -> Tensor:
    """Wrap a constant for an op with ``like``: a Python scalar is a "wrapped number".

    (The result dtype is :func:`result_dtype`'s; ``like`` itself is not converted here,
    see :func:`binary_args`.)
    """
    if isinstance(value, Tensor):
        return value
    if _is_scalar(value):
        return _scalar_tensor(value, result_dtype(like, value))
    return Tensor._wrap(_to_array(value), False, None)


def binary_args(a: Any, b: Any) -> tuple:
    """Two operands as Tensors of the dtype PyTorch's promotion gives them."""
    if isinstance(a, Tensor):
        if isinstance(b, Tensor):
            if a._data.dtype is b._data.dtype:  # the hot path: nothing to do
                return a, b
        elif (b.__class__ is float or b.__class__ is int) and a._data.dtype.kind == "f":
            # A float tensor with a Python number: the tensor's dtype (no upcasting).
            return a, Tensor._wrap(xp.asarray(b, dtype=a._data.dtype), False, None)
        elif _is_scalar(b):
            dt = result_dtype(a, b)
            return to_dtype(a, dt), _scalar_tensor(b, dt)
        else:
            b = Tensor._wrap(_to_array(b), False, None)
    elif isinstance(b, Tensor):
        if (a.__class__ is float or a.__class__ is int) and b._data.dtype.kind == "f":
            return Tensor._wrap(xp.asarray(a, dtype=b._data.dtype), False, None), b
        if _is_scalar(a):
            dt = result_dtype(b, a)
            return _scalar_tensor(a, dt), to_dtype(b, dt)
        a = Tensor._wrap(_to_array(a), False, None)
    else:
        a = Tensor(a)
        if _is_scalar(b):
            dt = result_dtype(a, b)
            return to_dtype(a, dt), _scalar_tensor(b, dt)
        b = Tensor(b)
    dt = result_dtype(a, b)
    return to_dtype(a, dt), to_dtype(b, dt)


def float_arg(x: Any) -> Tensor:
    """``x`` as a Tensor, integer and bool tensors converted to the default float dtype
    (PyTorch's rule for exp, log, sqrt, sigmoid, ... on integers)."""
    if not isinstance(x, Tensor):
        x = Tensor(x)
    if x._data.dtype.kind != "f":
        return to_dtype(x, get_default_dtype())
    return x


def broadcast_error(fn: str, a: Tensor, b: Tensor, err: Exception) -> Exception:
    """A ShapeError naming ``fn`` and both shapes when they do not broadcast, else ``err``."""
    try:
        xp.broadcast_shapes(a._data.shape, b._data.shape)
    except ValueError:
        return ShapeError(
            f"{fn}: shapes {a._data.shape} and {b._data.shape} do not broadcast (each "
            "dimension must be equal, or 1 in one of them)"
        )
    return err


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
        if not -max(ndim, 1) <= a < max(ndim, 1):  # a 0-d tensor takes 0 and -1
            raise ValueError(f"{what} {a} is out of range for a tensor with {ndim} dimensions")
        out.append(int(a) % max(ndim, 1))
    if len(set(out)) != len(out):
        raise ValueError(f"{what} {axis!r} repeats an axis")
    return out[0] if single else tuple(out)


def pick_dim(fn: str, dim: Any, axis: Any, default: Any = None) -> Any:
    """PyTorch's ``dim`` with NumPy's ``axis`` accepted as an alias (as torch accepts it).

    ``default`` is the signature's default for ``dim``: ``axis`` overrides it.
    """
    if axis is None:
        return dim
    if dim is not None and dim != default:
        raise TypeError(f"{fn}: got both dim={dim!r} and axis={axis!r}; pass one of them")
    return axis


def pick_keepdim(fn: str, keepdim: Any, keepdims: Any) -> bool:
    """PyTorch's ``keepdim`` with NumPy's ``keepdims`` accepted as an alias."""
    if keepdims is None:
        return bool(keepdim)
    if keepdim:
        raise TypeError(f"{fn}: got both keepdim and keepdims; pass one of them")
    return bool(keepdims)


def reduce_dims(fn: str, dim: Any, ndim: int) -> Any:
    """Normalise a reduction's ``dim`` for an ``ndim``-d tensor; None means all dims.

    A 0-d tensor accepts dim 0 and -1 (and tuples of them), as in PyTorch: reducing its
    only "dimension" reduces everything, so the result is None.
    """
    axis = norm_axis(dim, ndim, f"{fn}: dim")
    if ndim == 0:
        return None
    return axis


def expand_reduced(g: Any, shape: tuple, axis: Any, keepdims: bool) -> Any:
    """Reshape the gradient of a reduction so that it broadcasts against the input."""
    if keepdims or axis is None:
        return g.reshape([1] * len(shape)) if axis is None and g.ndim == 0 else g
    axes = (axis,) if isinstance(axis, int) else axis
    return xp.expand_dims(g, axes)
