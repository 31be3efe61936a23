"""Tensor: an ndarray plus what backward needs to know about where it came from."""

from __future__ import annotations

import builtins
import operator
import weakref
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Union, overload

import numpy as np
from numpy.typing import NDArray

from .._backend import xp
from .inplace import mark_modified

if TYPE_CHECKING:
    from .. import ops as _ops
    from ..ops.reduce import MaxMin
else:

    class _LazyOps:
        """Stands for ``retrograd.ops`` until first used, then replaces itself.

        The engine must not import the ops at import time (the ops import the engine);
        the first operator call binds the module global ``_ops`` to the real package, so
        from then on a method costs one module-attribute lookup more than the bare op.
        """

        def __getattr__(self, name: str) -> Any:
            global _ops
            from .. import ops

            _ops = ops
            return getattr(ops, name)

    _ops = _LazyOps()

# Type aliases for the public signatures. builtins.* because Tensor has methods named
# float, int, bool, sum, max, min and abs, which a checker would see inside the class.
Number = builtins.int | builtins.float | builtins.bool
#: What an op accepts where it wants a tensor: a Tensor, a Python number, an ndarray or
#: NumPy scalar, or a (nested) sequence of numbers.
TensorLike = Union["Tensor", Number, NDArray[Any], np.generic, Sequence[Any]]  # noqa: UP007
#: A dtype as NumPy takes it: np.float32, "float64", np.dtype(...), or None for the default.
DTypeLike = np.dtype[Any] | type | builtins.str | None
#: One axis, several, or None for all of them.
Axis = builtins.int | Sequence[builtins.int] | None
#: A shape given as one tuple/list or as separate ints (``reshape(2, 3)``/``reshape((2, 3))``).
ShapeArg = builtins.int | Sequence[builtins.int]

_get_data = operator.attrgetter("_data")
_DEFAULT_DTYPE = [xp.dtype(xp.float32)]
_engine_backward = None  # autograd.engine.backward, bound on first use


def _size(size: tuple) -> tuple:
    """A shape given as separate ints or as one sequence (``new_zeros(2, 3)``/``((2, 3))``)."""
    if len(size) == 1 and isinstance(size[0], (tuple, list)):
        size = tuple(size[0])
    if not all(isinstance(s, (builtins.int, np.integer)) and s >= 0 for s in size):
        raise ValueError(f"size must hold non-negative ints, got {size}")
    return tuple(builtins.int(s) for s in size)


def get_default_dtype() -> Any:
    """The dtype Python floats and lists of floats become (float32 unless changed)."""
    return _DEFAULT_DTYPE[0]


def set_default_dtype(dtype: DTypeLike) -> None:
    """Set the dtype Python floats become: ``float32`` (default) or ``float64``."""
    d = xp.dtype(dtype)
    if d not in (xp.float32, xp.float64):
        raise TypeError(f"set_default_dtype: dtype must be float32 or float64, got {d}")
    _DEFAULT_DTYPE[0] = d


def _to_array(data: Any, dtype: DTypeLike = None) -> NDArray[Any]:
    """Convert user data to an ndarray following PyTorch's rules for literals.

    Python floats (and nested lists holding any float) become the default dtype;
    Python ints and bools keep integer/bool dtypes; NumPy arrays keep their dtype.
    """
    if isinstance(data, Tensor):
        arr = data._data
    elif isinstance(data, xp.ndarray):
        arr = data
    elif isinstance(data, xp.generic):
        arr = xp.asarray(data)
    elif isinstance(data, (str, bytes)):
        raise TypeError(f"tensor: cannot make a tensor from a string ({data!r}): numbers only")
    else:
        try:
            arr = xp.asarray(data)
        except ValueError as e:
            raise ValueError(
                f"tensor: cannot convert {type(data).__name__} to an array: nested lists must "
                f"be rectangular ({e})"
            ) from None
        if arr.dtype == xp.float64 and dtype is None:
            arr = arr.astype(_DEFAULT_DTYPE[0])
    if arr.dtype.kind not in "biuf":
        raise TypeError(_refusal(arr.dtype, type(data).__name__))
    if dtype is not None:
        d = xp.dtype(dtype)
        if d.kind not in "biuf":
            raise TypeError(_refusal(d, type(data).__name__))
        arr = arr.astype(d, copy=False)
    return arr


def _refusal(dtype: Any, what: builtins.str) -> builtins.str:
    kind = {
        "c": "complex numbers (retrograd's gradients are real: split real and imaginary parts)",
        "O": "Python objects (ragged nested lists or non-numeric values)",
        "U": "strings",
        "S": "bytes",
    }.get(dtype.kind, f"dtype {dtype}")
    return (
        f"tensor: cannot convert {what} holding {kind} to a tensor: retrograd tensors hold "
        "bool, integer or floating-point numbers"
    )


#: Non-leaf tensors whose gradient backward keeps in .grad (Tensor.retain_grad), by id;
#: weak, so a tensor that goes away leaves it.
RETAINS_GRAD: weakref.WeakValueDictionary = weakref.WeakValueDictionary()


class Tensor:
    """An n-dimensional array that records the operations made on it for backward.

    ``data`` is the ndarray; ``grad`` is an ndarray of the same shape and dtype (or
    None) filled by :meth:`backward`. Gradients accumulate across backward calls until
    zeroed, as in PyTorch.

    Example::

        >>> import retrograd as rg
        >>> x = rg.tensor([1.0, 2.0, 3.0], requires_grad=True)
        >>> (x * x).sum().backward()
        >>> x.grad
        array([2., 4., 6.], dtype=float32)
    """

    # _view, _views, _history: set only where in-place writes and views meet (read with
    # getattr): how a view was taken from its base, the base's live views, and the earlier
    # values of a tensor rebound by in-place writes inside a graph (autograd.inplace).
    __slots__ = (
        "_data",
        "grad",
        "requires_grad",
        "_ctx",
        "name",
        "_view",
        "_views",
        "_history",
        "__weakref__",
    )
    _data: NDArray[Any]
    grad: NDArray[Any] | None
    requires_grad: builtins.bool
    name: builtins.str | None
    # Make ``ndarray <op> Tensor`` defer to the Tensor's reflected operator.
    __array_priority__ = 1000.0

    def __init__(
        self, data: TensorLike, requires_grad: builtins.bool = False, dtype: DTypeLike = None
    ) -> None:
        arr = _to_array(data, dtype)
        if requires_grad and arr.dtype.kind != "f":
            raise TypeError(
                f"tensor: only floating-point tensors can require gradients, got dtype {arr.dtype}"
            )
        self._data = arr
        self.grad = None
        self.requires_grad = bool(requires_grad)
        self._ctx = None
        self.name = None

    @classmethod
    def _wrap(cls, data: NDArray[Any], requires_grad: builtins.bool, ctx: Any) -> Tensor:
        # Fast constructor used by every op: no conversion, no validation.
        t = cls.__new__(cls)
        t._data = data
        t.grad = None
        t.requires_grad = requires_grad
        t._ctx = ctx
        t.name = None
        return t

    # ----------------------------------------------------------------- properties
    def _set_data(self, value: NDArray[Any]) -> None:
        if value is self._data:
            # ``t.data *= 3`` and friends: an in-place write through the attribute.
            mark_modified(value, "an in-place write to .data")
        elif not isinstance(value, xp.ndarray):
            raise TypeError(f"Tensor.data must be an ndarray, got {type(value).__name__}")
        elif value.dtype.kind not in "biuf":
            raise TypeError(_refusal(value.dtype, "an ndarray").replace("tensor:", "Tensor.data:"))
        self._data = value

    #: The ndarray (shares memory). Read at C speed; assigning it, and in-place
    #: arithmetic on it (``t.data *= 3``), is seen by the in-place modification check.
    data = property(_get_data, _set_data)

    @property
    def shape(self) -> tuple[builtins.int, ...]:
        return self.data.shape

    @property
    def dtype(self) -> np.dtype[Any]:
        return self.data.dtype

    @property
    def ndim(self) -> builtins.int:
        return self.data.ndim

    @property
    def is_leaf(self) -> builtins.bool:
        """True for tensors created by the user rather than by an op that records grad."""
        return self._ctx is None

    @property
    def grad_fn(self) -> Any:
        """The Function that created this tensor (None for leaves)."""
        return self._ctx

    def __len__(self) -> builtins.int:
        if self.data.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return len(self.data)

    def numpy(self) -> NDArray[Any]:
        """The underlying ndarray (shares memory; detach semantics)."""
        return self.data

    def __array__(self, dtype: Any = None, copy: Any = None) -> NDArray[Any]:
        if dtype is not None:
            return self.data.astype(dtype, copy=False)
        return self.data

    def item(self) -> Number:
        if self.data.size != 1:
            from ..errors import ShapeError

            raise ShapeError(
                f"item: only one-element tensors can be converted, got shape {self.data.shape}"
            )
        return self.data.item()  # type: ignore[no-any-return]

    def tolist(self) -> Any:
        return self.data.tolist()

    def detach(self) -> Tensor:
        """A new leaf tensor sharing data with this one, cut from the graph."""
        t = Tensor._wrap(self.data, False, None)
        t._view = (self, None, False, False)  # an alias (autograd.inplace.ViewInfo)
        return t

    def requires_grad_(self, requires_grad: builtins.bool = True) -> Tensor:
        if requires_grad and self.data.dtype.kind != "f":
            raise TypeError(
                f"requires_grad_: only floating-point tensors can require gradients, "
                f"got dtype {self.data.dtype}"
            )
        if not self.is_leaf and not requires_grad:
            raise RuntimeError("requires_grad_: cannot turn off requires_grad of a non-leaf tensor")
        self.requires_grad = bool(requires_grad)
        return self

    def retain_grad(self) -> None:
        """Keep this non-leaf tensor's gradient in ``.grad`` on ``backward()`` (leaves
        always keep theirs), as in PyTorch. Not filled by ``create_graph=True`` or
        ``inputs=`` backward passes.

        Example::

            >>> import retrograd as rg
            >>> x = rg.tensor([1.0, 2.0], requires_grad=True)
            >>> y = x * 2
            >>> y.retain_grad()
            >>> (y * y).sum().backward()
            >>> y.grad.tolist()
            [4.0, 8.0]
        """
        if not self.requires_grad:
            raise RuntimeError(
                "retain_grad: can't retain_grad on a tensor that has requires_grad=False"
            )
        if self._ctx is not None:
            RETAINS_GRAD[id(self)] = self

    @property
    def retains_grad(self) -> builtins.bool:
        """True when :meth:`retain_grad` was called on this non-leaf tensor."""
        return RETAINS_GRAD.get(id(self)) is self

    def zero_grad_(self) -> None:
        self.grad = None

    def backward(
        self,
        gradient: TensorLike | None = None,
        retain_graph: bool | None = None,
        create_graph: bool = False,
        inputs: Tensor | Sequence[Tensor] | None = None,
    ) -> None:
        """Backpropagate from this tensor, accumulating into the ``.grad`` of leaves.

        ``gradient`` defaults to 1 for a one-element tensor and must be given (same
        shape) otherwise. The graph is kept, so calling backward again accumulates again
        (``retain_graph`` is accepted for PyTorch compatibility and changes nothing).
        ``inputs`` (a tensor or a sequence) limits accumulation to those tensors.
        ``create_graph=True`` records the backward pass itself: ``.grad`` then holds a
        Tensor with a graph (as in PyTorch) that can be differentiated again.

        Example::

            >>> import retrograd as rg
            >>> x = rg.tensor([2.0], requires_grad=True)
            >>> (x ** 3).sum().backward(create_graph=True)
            >>> g = x.grad  # 3 x**2, a Tensor with a graph
            >>> x.grad = None
            >>> g.sum().backward()
            >>> x.grad  # 6 x
            array([12.], dtype=float32)
        """
        # Imported once, not per call: a function-level import costs microseconds each
        # training step (the engine imports this module, so it cannot be imported at top).
        global _engine_backward
        if _engine_backward is None:
            from .engine import backward as _engine_backward
        _engine_backward(self, gradient, retain_graph, create_graph, inputs)

    def __repr__(self) -> builtins.str:
        body = xp.array2string(self.data, separator=", ", prefix="tensor(")
        extra = ""
        if self.data.dtype != _DEFAULT_DTYPE[0] and self.data.dtype.kind == "f":
            extra += f", dtype={self.data.dtype}"
        if self._ctx is not None:
            extra += f", grad_fn={type(self._ctx).__name__}"
        elif self.requires_grad:
            extra += ", requires_grad=True"
        return f"tensor({body}{extra})"

    # Tensors hash by identity (they are used as dict keys by optimizers), while == is
    # elementwise as in NumPy and PyTorch.
    __hash__ = object.__hash__

    def __bool__(self) -> builtins.bool:
        if self.data.size != 1:
            raise ValueError(
                f"The truth value of a tensor with shape {self.data.shape} is ambiguous"
            )
        return bool(self.data)

    def __float__(self) -> builtins.float:
        return float(self.item())

    def __int__(self) -> builtins.int:
        return int(self.item())

    def __index__(self) -> builtins.int:
        if self.data.dtype.kind not in "iub":
            raise TypeError("only integer tensors can be used as an index")
        return int(self.item())

    # ------------------------------------------------------------------ operators
    # Each operator is one call into retrograd.ops (bound lazily: the engine does not
    # import the ops). The op functions carry the docstrings and examples.
    def __add__(self, other: TensorLike) -> Tensor:
        return _ops.add(self, other)

    def __radd__(self, other: TensorLike) -> Tensor:
        return _ops.add(other, self)

    def __sub__(self, other: TensorLike) -> Tensor:
        return _ops.sub(self, other)

    def __rsub__(self, other: TensorLike) -> Tensor:
        return _ops.sub(other, self)

    def __mul__(self, other: TensorLike) -> Tensor:
        return _ops.mul(self, other)

    def __rmul__(self, other: TensorLike) -> Tensor:
        return _ops.mul(other, self)

    def __truediv__(self, other: TensorLike) -> Tensor:
        return _ops.div(self, other)

    def __rtruediv__(self, other: TensorLike) -> Tensor:
        return _ops.div(other, self)

    def __pow__(self, other: TensorLike) -> Tensor:
        return _ops.pow(self, other)

    def __rpow__(self, other: TensorLike) -> Tensor:
        return _ops.pow(other, self)

    def __matmul__(self, other: TensorLike) -> Tensor:
        return _ops.matmul(self, other)

    def __rmatmul__(self, other: TensorLike) -> Tensor:
        return _ops.matmul(other, self)

    def __neg__(self) -> Tensor:
        return _ops.neg(self)

    def __pos__(self) -> Tensor:
        return self

    def __abs__(self) -> Tensor:
        return _ops.abs(self)

    def __getitem__(self, index: Any) -> Tensor:
        return _ops.getitem(self, index)

    def __setitem__(self, index: Any, value: TensorLike) -> None:
        _ops.setitem(self, index, value)

    # Comparisons give boolean tensors without a gradient.
    def __lt__(self, other: TensorLike) -> Tensor:
        return Tensor._wrap(self.data < _data(other), False, None)

    def __le__(self, other: TensorLike) -> Tensor:
        return Tensor._wrap(self.data <= _data(other), False, None)

    def __gt__(self, other: TensorLike) -> Tensor:
        return Tensor._wrap(self.data > _data(other), False, None)

    def __ge__(self, other: TensorLike) -> Tensor:
        return Tensor._wrap(self.data >= _data(other), False, None)

    def __eq__(self, other: object) -> Tensor:  # type: ignore[override]
        return Tensor._wrap(xp.asarray(self.data == _data(other)), False, None)

    def __ne__(self, other: object) -> Tensor:  # type: ignore[override]
        return Tensor._wrap(xp.asarray(self.data != _data(other)), False, None)

    # Method forms of the comparisons, as torch has them.
    def eq(self, other: TensorLike) -> Tensor:
        return self.__eq__(other)

    def ne(self, other: TensorLike) -> Tensor:
        return self.__ne__(other)

    def lt(self, other: TensorLike) -> Tensor:
        return self.__lt__(other)

    def le(self, other: TensorLike) -> Tensor:
        return self.__le__(other)

    def gt(self, other: TensorLike) -> Tensor:
        return self.__gt__(other)

    def ge(self, other: TensorLike) -> Tensor:
        return self.__ge__(other)

    def broadcast_to(self, *shape: ShapeArg) -> Tensor:
        return _ops.expand(self, *shape)

    def detach_(self) -> Tensor:
        """Cut this tensor from the graph in place (it becomes a leaf)."""
        self._ctx = None
        self.requires_grad = False
        return self

    # ------------------------------------------------------------------ in place
    # PyTorch's rules (see retrograd.ops.inplace): refused on a leaf that requires grad
    # while recording; written into the array under no_grad; a new graph node otherwise.
    def __iadd__(self, other: TensorLike) -> Tensor:
        return _ops.apply_inplace(self, "add_", _ops.add, other)

    def __isub__(self, other: TensorLike) -> Tensor:
        return _ops.apply_inplace(self, "sub_", _ops.sub, other)

    def __imul__(self, other: TensorLike) -> Tensor:
        return _ops.apply_inplace(self, "mul_", _ops.mul, other)

    def __itruediv__(self, other: TensorLike) -> Tensor:
        return _ops.apply_inplace(self, "div_", _ops.div, other)

    def __ipow__(self, other: TensorLike) -> Tensor:
        return _ops.apply_inplace(self, "pow_", _ops.pow, other)

    def add_(self, other: TensorLike, *, alpha: Number = 1) -> Tensor:
        if alpha != 1:
            return _ops.apply_inplace(self, "add_", lambda a, b: a + b * alpha, other)
        return _ops.apply_inplace(self, "add_", _ops.add, other)

    def sub_(self, other: TensorLike, *, alpha: Number = 1) -> Tensor:
        if alpha != 1:
            return _ops.apply_inplace(self, "sub_", lambda a, b: a - b * alpha, other)
        return _ops.apply_inplace(self, "sub_", _ops.sub, other)

    def mul_(self, other: TensorLike) -> Tensor:
        return _ops.apply_inplace(self, "mul_", _ops.mul, other)

    def div_(self, other: TensorLike) -> Tensor:
        return _ops.apply_inplace(self, "div_", _ops.div, other)

    def pow_(self, other: TensorLike) -> Tensor:
        return _ops.apply_inplace(self, "pow_", _ops.pow, other)

    def clamp_(self, min: TensorLike | None = None, max: TensorLike | None = None) -> Tensor:  # noqa: A002
        return _ops.apply_inplace(self, "clamp_", _ops.clip, min, max)

    def clip_(self, min: TensorLike | None = None, max: TensorLike | None = None) -> Tensor:  # noqa: A002
        return _ops.apply_inplace(self, "clip_", _ops.clip, min, max)

    def relu_(self) -> Tensor:
        return _ops.apply_inplace(self, "relu_", _ops.relu)

    def zero_(self) -> Tensor:
        return _ops.zero_(self)

    def fill_(self, value: TensorLike) -> Tensor:
        return _ops.fill_(self, value)

    def copy_(self, src: TensorLike) -> Tensor:
        return _ops.copy_(self, src)

    def uniform_(
        self, a: builtins.float = 0.0, b: builtins.float = 1.0, *, generator: Any = None
    ) -> Tensor:
        return _ops.uniform_(self, a, b, generator=generator)

    def normal_(
        self, mean: builtins.float = 0.0, std: builtins.float = 1.0, *, generator: Any = None
    ) -> Tensor:
        return _ops.normal_(self, mean, std, generator=generator)

    # -------------------------------------------------------------- elementwise
    def exp(self) -> Tensor:
        return _ops.exp(self)

    def log(self) -> Tensor:
        return _ops.log(self)

    def log1p(self) -> Tensor:
        return _ops.log1p(self)

    def sqrt(self) -> Tensor:
        return _ops.sqrt(self)

    def abs(self) -> Tensor:
        return _ops.abs(self)

    def tanh(self) -> Tensor:
        return _ops.tanh(self)

    def sigmoid(self) -> Tensor:
        return _ops.sigmoid(self)

    def relu(self) -> Tensor:
        return _ops.relu(self)

    def leaky_relu(self, negative_slope: builtins.float = 0.01) -> Tensor:
        return _ops.leaky_relu(self, negative_slope)

    def gelu(self, approximate: builtins.str = "none") -> Tensor:
        return _ops.gelu(self, approximate)

    def softplus(self, beta: builtins.float = 1.0, threshold: builtins.float = 20.0) -> Tensor:
        return _ops.softplus(self, beta, threshold)

    def clip(self, min: TensorLike | None = None, max: TensorLike | None = None) -> Tensor:  # noqa: A002
        return _ops.clamp(self, min, max)

    def clamp(self, min: TensorLike | None = None, max: TensorLike | None = None) -> Tensor:  # noqa: A002
        return _ops.clamp(self, min, max)

    def maximum(self, other: TensorLike) -> Tensor:
        return _ops.maximum(self, other)

    def minimum(self, other: TensorLike) -> Tensor:
        return _ops.minimum(self, other)

    def matmul(self, other: TensorLike) -> Tensor:
        return _ops.matmul(self, other)

    def softmax(self, dim: builtins.int = -1, *, axis: builtins.int | None = None) -> Tensor:
        return _ops.softmax(self, dim, axis=axis)

    def log_softmax(self, dim: builtins.int = -1, *, axis: builtins.int | None = None) -> Tensor:
        return _ops.log_softmax(self, dim, axis=axis)

    # --------------------------------------------------------------- reductions
    # PyTorch's dim/keepdim, with NumPy's axis/keepdims accepted as aliases.
    def sum(
        self,
        dim: Axis = None,
        keepdim: builtins.bool = False,
        *,
        dtype: DTypeLike = None,
        axis: Axis = None,
        keepdims: builtins.bool | None = None,
    ) -> Tensor:
        return _ops.sum(self, dim, keepdim, dtype=dtype, axis=axis, keepdims=keepdims)

    def mean(
        self,
        dim: Axis = None,
        keepdim: builtins.bool = False,
        *,
        dtype: DTypeLike = None,
        axis: Axis = None,
        keepdims: builtins.bool | None = None,
    ) -> Tensor:
        return _ops.mean(self, dim, keepdim, dtype=dtype, axis=axis, keepdims=keepdims)

    @overload
    def max(self) -> Tensor: ...
    @overload
    def max(self, dim: builtins.int, keepdim: builtins.bool = False) -> MaxMin: ...
    @overload
    def max(self, dim: Tensor) -> Tensor: ...
    @overload
    def max(self, *, axis: Axis, keepdims: builtins.bool | None = None) -> Tensor: ...
    def max(
        self,
        dim: Any = None,
        keepdim: builtins.bool = False,
        *,
        axis: Axis = None,
        keepdims: builtins.bool | None = None,
    ) -> Any:
        return _ops.max(self, dim, keepdim, axis=axis, keepdims=keepdims)

    @overload
    def min(self) -> Tensor: ...
    @overload
    def min(self, dim: builtins.int, keepdim: builtins.bool = False) -> MaxMin: ...
    @overload
    def min(self, dim: Tensor) -> Tensor: ...
    @overload
    def min(self, *, axis: Axis, keepdims: builtins.bool | None = None) -> Tensor: ...
    def min(
        self,
        dim: Any = None,
        keepdim: builtins.bool = False,
        *,
        axis: Axis = None,
        keepdims: builtins.bool | None = None,
    ) -> Any:
        return _ops.min(self, dim, keepdim, axis=axis, keepdims=keepdims)

    def amax(
        self,
        dim: Axis = (),
        keepdim: builtins.bool = False,
        *,
        axis: Axis = None,
        keepdims: builtins.bool | None = None,
    ) -> Tensor:
        return _ops.amax(self, dim, keepdim, axis=axis, keepdims=keepdims)

    def amin(
        self,
        dim: Axis = (),
        keepdim: builtins.bool = False,
        *,
        axis: Axis = None,
        keepdims: builtins.bool | None = None,
    ) -> Tensor:
        return _ops.amin(self, dim, keepdim, axis=axis, keepdims=keepdims)

    def argmax(
        self,
        dim: builtins.int | None = None,
        keepdim: builtins.bool = False,
        *,
        axis: builtins.int | None = None,
        keepdims: builtins.bool | None = None,
    ) -> Tensor:
        return _ops.argmax(self, dim, keepdim, axis=axis, keepdims=keepdims)

    def argmin(
        self,
        dim: builtins.int | None = None,
        keepdim: builtins.bool = False,
        *,
        axis: builtins.int | None = None,
        keepdims: builtins.bool | None = None,
    ) -> Tensor:
        return _ops.argmin(self, dim, keepdim, axis=axis, keepdims=keepdims)

    def logsumexp(
        self,
        dim: Axis = None,
        keepdim: builtins.bool = False,
        *,
        axis: Axis = None,
        keepdims: builtins.bool | None = None,
    ) -> Tensor:
        return _ops.logsumexp(self, dim, keepdim, axis=axis, keepdims=keepdims)

    def var(
        self,
        dim: Axis = None,
        unbiased: builtins.bool | None = None,
        keepdim: builtins.bool = False,
        *,
        correction: builtins.float | None = None,
        axis: Axis = None,
        keepdims: builtins.bool | None = None,
    ) -> Tensor:
        return _ops.var(
            self, dim, unbiased, keepdim, correction=correction, axis=axis, keepdims=keepdims
        )

    def std(
        self,
        dim: Axis = None,
        unbiased: builtins.bool | None = None,
        keepdim: builtins.bool = False,
        *,
        correction: builtins.float | None = None,
        axis: Axis = None,
        keepdims: builtins.bool | None = None,
    ) -> Tensor:
        return _ops.std(
            self, dim, unbiased, keepdim, correction=correction, axis=axis, keepdims=keepdims
        )

    # -------------------------------------------------------------------- shape
    @overload
    def size(self) -> tuple[builtins.int, ...]: ...
    @overload
    def size(self, dim: builtins.int) -> builtins.int: ...
    def size(self, dim: builtins.int | None = None) -> Any:
        """The shape as a tuple, or the length of dimension ``dim`` (PyTorch's ``size``).

        Example::

            >>> import retrograd as rg
            >>> x = rg.zeros(2, 3)
            >>> x.size(), x.size(1), x.size(-1)
            ((2, 3), 3, 3)
        """
        shape = self.data.shape
        if dim is None:
            return shape
        n = len(shape)
        if not isinstance(dim, builtins.int) or not -n <= dim < n:
            raise IndexError(f"size: dim {dim!r} is out of range for a tensor of shape {shape}")
        return shape[dim]

    def numel(self) -> builtins.int:
        """The number of elements."""
        return self.data.size

    def dim(self) -> builtins.int:
        """The number of dimensions (``ndim``)."""
        return self.data.ndim

    def reshape(self, *shape: ShapeArg) -> Tensor:
        return _ops.reshape(self, *shape)

    def view(self, *shape: ShapeArg) -> Tensor:
        out = _ops.reshape(self, *shape)
        # A view is a new tensor even when the shape is the same, as in PyTorch.
        return _ops.shape.Reshape.apply(self, shape=self.shape) if out is self else out

    def view_as(self, other: Tensor) -> Tensor:
        return self.view(other.shape)

    def reshape_as(self, other: Tensor) -> Tensor:
        return _ops.reshape(self, other.shape)

    def expand(self, *shape: ShapeArg) -> Tensor:
        return _ops.expand(self, *shape)

    def expand_as(self, other: Tensor) -> Tensor:
        return _ops.expand(self, other.shape)

    def squeeze(self, dim: Axis = None, *, axis: Axis = None) -> Tensor:
        return _ops.squeeze(self, dim, axis=axis)

    def unsqueeze(
        self, dim: builtins.int | None = None, *, axis: builtins.int | None = None
    ) -> Tensor:
        return _ops.unsqueeze(self, dim, axis=axis)

    def flatten(self, start_dim: builtins.int = 0, end_dim: builtins.int = -1) -> Tensor:
        return _ops.flatten(self, start_dim, end_dim)

    def pad(self, pad_width: Any, value: builtins.float = 0.0) -> Tensor:
        return _ops.pad(self, pad_width, value)

    def permute(self, *dims: ShapeArg) -> Tensor:
        return _ops.permute(self, *dims)

    def transpose(
        self, dim0: builtins.int | None = None, dim1: builtins.int | None = None
    ) -> Tensor:
        return _ops.transpose(self, dim0, dim1)

    def t(self) -> Tensor:
        """Transpose of a tensor of at most 2 dims (PyTorch's ``t``)."""
        if self.data.ndim > 2:
            raise ValueError(f"t: expects a tensor with <= 2 dims, got shape {self.data.shape}")
        return _ops.transpose(self) if self.data.ndim == 2 else self

    @property
    def T(self) -> Tensor:
        return _ops.permute(self, tuple(reversed(range(self.data.ndim))))

    @property
    def mT(self) -> Tensor:
        return _ops.transpose(self, -2, -1)

    def contiguous(self) -> Tensor:
        """This tensor (NumPy arrays need no layout change for retrograd's ops)."""
        return self

    def clone(self) -> Tensor:
        """A copy with its own memory, still in the graph (gradients flow through it)."""
        return _ops.clone(self)

    # ------------------------------------------------------------ dtypes, devices
    def astype(self, dtype: DTypeLike) -> Tensor:
        return _ops.cast(self, dtype)

    def float(self) -> Tensor:
        return _ops.cast(self, "float32")

    def double(self) -> Tensor:
        return _ops.cast(self, "float64")

    # ------------------------------------------------------- pointwise math and logic
    # (retrograd.ops.pointwise; tests and logic return bool tensors without gradient)
    def sin(self) -> Tensor:
        return _ops.sin(self)

    def cos(self) -> Tensor:
        return _ops.cos(self)

    def tan(self) -> Tensor:
        return _ops.tan(self)

    def asin(self) -> Tensor:
        return _ops.asin(self)

    def acos(self) -> Tensor:
        return _ops.acos(self)

    def atan(self) -> Tensor:
        return _ops.atan(self)

    def sinh(self) -> Tensor:
        return _ops.sinh(self)

    def cosh(self) -> Tensor:
        return _ops.cosh(self)

    def asinh(self) -> Tensor:
        return _ops.asinh(self)

    def acosh(self) -> Tensor:
        return _ops.acosh(self)

    def atanh(self) -> Tensor:
        return _ops.atanh(self)

    def log2(self) -> Tensor:
        return _ops.log2(self)

    def log10(self) -> Tensor:
        return _ops.log10(self)

    def expm1(self) -> Tensor:
        return _ops.expm1(self)

    def exp2(self) -> Tensor:
        return _ops.exp2(self)

    def rsqrt(self) -> Tensor:
        return _ops.rsqrt(self)

    def erf(self) -> Tensor:
        return _ops.erf(self)

    def erfc(self) -> Tensor:
        return _ops.erfc(self)

    def erfinv(self) -> Tensor:
        return _ops.erfinv(self)

    def lgamma(self) -> Tensor:
        return _ops.lgamma(self)

    def digamma(self) -> Tensor:
        return _ops.digamma(self)

    def logit(self, eps: builtins.float | None = None) -> Tensor:
        return _ops.logit(self, eps)

    def xlogy(self, other: TensorLike) -> Tensor:
        return _ops.xlogy(self, other)

    def hypot(self, other: TensorLike) -> Tensor:
        return _ops.hypot(self, other)

    def fmax(self, other: TensorLike) -> Tensor:
        return _ops.fmax(self, other)

    def fmin(self, other: TensorLike) -> Tensor:
        return _ops.fmin(self, other)

    def nan_to_num(
        self,
        nan: builtins.float = 0.0,
        posinf: builtins.float | None = None,
        neginf: builtins.float | None = None,
    ) -> Tensor:
        return _ops.nan_to_num(self, nan, posinf, neginf)

    def nan_to_num_(
        self,
        nan: builtins.float = 0.0,
        posinf: builtins.float | None = None,
        neginf: builtins.float | None = None,
    ) -> Tensor:
        return _ops.apply_inplace(
            self, "nan_to_num_", lambda a: _ops.nan_to_num(a, nan, posinf, neginf)
        )

    def addcmul(self, tensor1: TensorLike, tensor2: TensorLike, *, value: Number = 1) -> Tensor:
        return _ops.addcmul(self, tensor1, tensor2, value=value)

    def addcmul_(self, tensor1: TensorLike, tensor2: TensorLike, *, value: Number = 1) -> Tensor:
        return _ops.apply_inplace(
            self, "addcmul_", lambda a, b, c: _ops.addcmul(a, b, c, value=value), tensor1, tensor2
        )

    def addcdiv(self, tensor1: TensorLike, tensor2: TensorLike, *, value: Number = 1) -> Tensor:
        return _ops.addcdiv(self, tensor1, tensor2, value=value)

    def addcdiv_(self, tensor1: TensorLike, tensor2: TensorLike, *, value: Number = 1) -> Tensor:
        return _ops.apply_inplace(
            self, "addcdiv_", lambda a, b, c: _ops.addcdiv(a, b, c, value=value), tensor1, tensor2
        )

    def new_zeros(self, *size: ShapeArg, dtype: DTypeLike = None,
                  requires_grad: builtins.bool = False) -> Tensor:  # fmt: skip
        """Zeros of ``size``, in this tensor's dtype unless ``dtype`` is given."""
        return self.new_full(_size(size), 0, dtype=dtype, requires_grad=requires_grad)

    def new_ones(self, *size: ShapeArg, dtype: DTypeLike = None,
                 requires_grad: builtins.bool = False) -> Tensor:  # fmt: skip
        """Ones of ``size``, in this tensor's dtype unless ``dtype`` is given."""
        return self.new_full(_size(size), 1, dtype=dtype, requires_grad=requires_grad)

    def new_empty(self, *size: ShapeArg, dtype: DTypeLike = None,
                  requires_grad: builtins.bool = False) -> Tensor:  # fmt: skip
        """An uninitialized tensor of ``size`` (zeros here), in this tensor's dtype."""
        return self.new_full(_size(size), 0, dtype=dtype, requires_grad=requires_grad)

    def new_full(self, size: ShapeArg, fill_value: Number, *, dtype: DTypeLike = None,
                 requires_grad: builtins.bool = False) -> Tensor:  # fmt: skip
        """``fill_value`` everywhere in ``size``, in this tensor's dtype unless ``dtype``."""
        d = self.data.dtype if dtype is None else xp.dtype(dtype)
        shape = _size((size,))
        return Tensor(xp.full(shape, fill_value, dtype=d), requires_grad=requires_grad)

    def new_tensor(self, data: TensorLike, *, dtype: DTypeLike = None,
                   requires_grad: builtins.bool = False) -> Tensor:  # fmt: skip
        """A copy of ``data`` as a tensor, in this tensor's dtype unless ``dtype``."""
        d = self.data.dtype if dtype is None else xp.dtype(dtype)
        arr = xp.array(data.data if isinstance(data, Tensor) else data, dtype=d)
        return Tensor(arr, requires_grad=requires_grad)

    def index_add(self, dim: builtins.int, index: TensorLike, source: TensorLike, *,
                  alpha: Number = 1) -> Tensor:  # fmt: skip
        return _ops.index_add(self, dim, index, source, alpha=alpha)

    def index_add_(self, dim: builtins.int, index: TensorLike, source: TensorLike, *,
                   alpha: Number = 1) -> Tensor:  # fmt: skip
        return _ops.apply_inplace(
            self, "index_add_", lambda a, s: _ops.index_add(a, dim, index, s, alpha=alpha), source
        )

    def diff(self, n: builtins.int = 1, dim: builtins.int = -1, prepend: Any = None,
             append: Any = None) -> Tensor:  # fmt: skip
        return _ops.diff(self, n, dim, prepend, append)

    def rot90(self, k: builtins.int = 1, dims: Sequence[builtins.int] = (0, 1)) -> Tensor:
        return _ops.rot90(self, k, dims)

    def unique(
        self,
        sorted: builtins.bool = True,  # noqa: A002 - PyTorch's name
        return_inverse: builtins.bool = False,
        return_counts: builtins.bool = False,
        dim: builtins.int | None = None,
    ) -> Any:
        return _ops.unique(self, sorted, return_inverse, return_counts, dim)

    def bincount(self, weights: Any = None, minlength: builtins.int = 0) -> Tensor:
        return _ops.bincount(self, weights, minlength)

    def bernoulli(self, *, generator: Any = None) -> Tensor:
        return _ops.bernoulli(self, generator=generator)

    def bernoulli_(self, p: Any = 0.5, *, generator: Any = None) -> Tensor:
        """Fill in place with 0/1 draws, 1 with probability ``p`` (a number or a tensor)."""
        prob = p.data if isinstance(p, Tensor) else p
        probs = xp.broadcast_to(xp.asarray(prob, dtype=xp.float64), self.shape)
        draws = _ops.bernoulli(Tensor(probs), generator=generator)
        return _ops.copy_(self, draws)

    def multinomial(self, num_samples: builtins.int, replacement: builtins.bool = False, *,
                    generator: Any = None) -> Tensor:  # fmt: skip
        return _ops.multinomial(self, num_samples, replacement, generator=generator)

    def det(self) -> Tensor:
        return _ops.det(self)

    def inverse(self) -> Tensor:
        return _ops.matrix.inv(self)

    def addmm(
        self, mat1: TensorLike, mat2: TensorLike, *, beta: Number = 1, alpha: Number = 1
    ) -> Tensor:
        return _ops.addmm(self, mat1, mat2, beta=beta, alpha=alpha)

    def cross(self, other: TensorLike, dim: builtins.int | None = None) -> Tensor:
        return _ops.cross(self, other, dim)

    def nansum(
        self, dim: Axis = None, keepdim: builtins.bool = False, *, dtype: DTypeLike = None
    ) -> Tensor:
        return _ops.nansum(self, dim, keepdim, dtype=dtype)

    def nanmean(
        self, dim: Axis = None, keepdim: builtins.bool = False, *, dtype: DTypeLike = None
    ) -> Tensor:
        return _ops.nanmean(self, dim, keepdim, dtype=dtype)

    def sign(self) -> Tensor:
        return _ops.sign(self)

    def floor(self) -> Tensor:
        return _ops.floor(self)

    def ceil(self) -> Tensor:
        return _ops.ceil(self)

    def trunc(self) -> Tensor:
        return _ops.trunc(self)

    def fix(self) -> Tensor:
        return _ops.fix(self)

    def isnan(self) -> Tensor:
        return _ops.isnan(self)

    def isinf(self) -> Tensor:
        return _ops.isinf(self)

    def isposinf(self) -> Tensor:
        return _ops.isposinf(self)

    def isneginf(self) -> Tensor:
        return _ops.isneginf(self)

    def isfinite(self) -> Tensor:
        return _ops.isfinite(self)

    def logical_not(self) -> Tensor:
        return _ops.logical_not(self)

    def bitwise_not(self) -> Tensor:
        return _ops.bitwise_not(self)

    def atan2(self, other: TensorLike) -> Tensor:
        return _ops.atan2(self, other)

    def arctan2(self, other: TensorLike) -> Tensor:
        return _ops.arctan2(self, other)

    def copysign(self, other: TensorLike) -> Tensor:
        return _ops.copysign(self, other)

    def logaddexp(self, other: TensorLike) -> Tensor:
        return _ops.logaddexp(self, other)

    def remainder(self, other: TensorLike) -> Tensor:
        return _ops.remainder(self, other)

    def fmod(self, other: TensorLike) -> Tensor:
        return _ops.fmod(self, other)

    def floor_divide(self, other: TensorLike) -> Tensor:
        return _ops.floor_divide(self, other)

    def logical_and(self, other: TensorLike) -> Tensor:
        return _ops.logical_and(self, other)

    def logical_or(self, other: TensorLike) -> Tensor:
        return _ops.logical_or(self, other)

    def logical_xor(self, other: TensorLike) -> Tensor:
        return _ops.logical_xor(self, other)

    def bitwise_and(self, other: TensorLike) -> Tensor:
        return _ops.bitwise_and(self, other)

    def bitwise_or(self, other: TensorLike) -> Tensor:
        return _ops.bitwise_or(self, other)

    def bitwise_xor(self, other: TensorLike) -> Tensor:
        return _ops.bitwise_xor(self, other)

    def round(self, decimals: builtins.int = 0) -> Tensor:
        return _ops.round(self, decimals)

    def div(self, other: TensorLike, *, rounding_mode: builtins.str | None = None) -> Tensor:
        return _ops.pointwise.div(self, other, rounding_mode=rounding_mode)

    def divide(self, other: TensorLike, *, rounding_mode: builtins.str | None = None) -> Tensor:
        return _ops.pointwise.div(self, other, rounding_mode=rounding_mode)

    def true_divide(self, other: TensorLike) -> Tensor:
        return _ops.pointwise.div(self, other)

    def add(self, other: TensorLike, *, alpha: Number = 1) -> Tensor:
        return _ops.pointwise.add(self, other, alpha=alpha)

    def sub(self, other: TensorLike, *, alpha: Number = 1) -> Tensor:
        return _ops.pointwise.sub(self, other, alpha=alpha)

    def subtract(self, other: TensorLike, *, alpha: Number = 1) -> Tensor:
        return _ops.pointwise.sub(self, other, alpha=alpha)

    def mul(self, other: TensorLike) -> Tensor:
        return _ops.mul(self, other)

    def multiply(self, other: TensorLike) -> Tensor:
        return _ops.mul(self, other)

    def neg(self) -> Tensor:
        return _ops.neg(self)

    def negative(self) -> Tensor:
        return _ops.neg(self)

    def pow(self, exponent: TensorLike) -> Tensor:
        return _ops.pow(self, exponent)

    def square(self) -> Tensor:
        return _ops.square(self)

    def reciprocal(self) -> Tensor:
        return _ops.reciprocal(self)

    def lerp(self, end: TensorLike, weight: TensorLike) -> Tensor:
        return _ops.lerp(self, end, weight)

    def clamp_min(self, min: TensorLike) -> Tensor:  # noqa: A002
        return _ops.clamp_min(self, min)

    def clamp_max(self, max: TensorLike) -> Tensor:  # noqa: A002
        return _ops.clamp_max(self, max)

    def masked_fill(self, mask: TensorLike, value: TensorLike) -> Tensor:
        return _ops.masked_fill(self, mask, value)

    def where(self, condition: TensorLike, other: TensorLike) -> Tensor:
        # PyTorch's x.where(condition, y): x where condition holds, else y.
        return _ops.where(condition, self, other)

    def isclose(
        self,
        other: TensorLike,
        rtol: builtins.float = 1e-05,
        atol: builtins.float = 1e-08,
        equal_nan: builtins.bool = False,
    ) -> Tensor:
        return _ops.isclose(self, other, rtol, atol, equal_nan)

    def allclose(
        self,
        other: TensorLike,
        rtol: builtins.float = 1e-05,
        atol: builtins.float = 1e-08,
        equal_nan: builtins.bool = False,
    ) -> builtins.bool:
        return _ops.allclose(self, other, rtol, atol, equal_nan)

    def __floordiv__(self, other: TensorLike) -> Tensor:
        return _ops.floor_divide(self, other)

    def __rfloordiv__(self, other: TensorLike) -> Tensor:
        return _ops.floor_divide(other, self)

    def __mod__(self, other: TensorLike) -> Tensor:
        return _ops.remainder(self, other)

    def __rmod__(self, other: TensorLike) -> Tensor:
        return _ops.remainder(other, self)

    def __and__(self, other: TensorLike) -> Tensor:
        return _ops.bitwise_and(self, other)

    def __rand__(self, other: TensorLike) -> Tensor:
        return _ops.bitwise_and(other, self)

    def __or__(self, other: TensorLike) -> Tensor:
        return _ops.bitwise_or(self, other)

    def __ror__(self, other: TensorLike) -> Tensor:
        return _ops.bitwise_or(other, self)

    def __xor__(self, other: TensorLike) -> Tensor:
        return _ops.bitwise_xor(self, other)

    def __rxor__(self, other: TensorLike) -> Tensor:
        return _ops.bitwise_xor(other, self)

    def __invert__(self) -> Tensor:
        return _ops.bitwise_not(self)

    # ----------------------------------- reductions, scans, sorting, indexing, movement
    # (retrograd.ops.aggregate, scan, sorting, indexing, movement; see those functions)
    def prod(
        self,
        dim: builtins.int | None = None,
        keepdim: builtins.bool = False,
        *,
        dtype: DTypeLike = None,
    ) -> Tensor:
        return _ops.prod(self, dim, keepdim, dtype=dtype)

    def any(self, dim: Axis = None, keepdim: builtins.bool = False) -> Tensor:
        return _ops.any(self, dim, keepdim)

    def all(self, dim: Axis = None, keepdim: builtins.bool = False) -> Tensor:
        return _ops.all(self, dim, keepdim)

    def norm(
        self,
        p: Any = "fro",
        dim: Axis = None,
        keepdim: builtins.bool = False,
        dtype: DTypeLike = None,
    ) -> Tensor:
        return _ops.norm(self, p, dim, keepdim, dtype)

    def cumsum(self, dim: builtins.int, *, dtype: DTypeLike = None) -> Tensor:
        return _ops.cumsum(self, dim, dtype=dtype)

    def cumprod(self, dim: builtins.int, *, dtype: DTypeLike = None) -> Tensor:
        return _ops.cumprod(self, dim, dtype=dtype)

    def cummax(self, dim: builtins.int) -> Any:
        return _ops.cummax(self, dim)

    def cummin(self, dim: builtins.int) -> Any:
        return _ops.cummin(self, dim)

    def logcumsumexp(self, dim: builtins.int) -> Tensor:
        return _ops.logcumsumexp(self, dim)

    def sort(
        self,
        dim: builtins.int = -1,
        descending: builtins.bool = False,
        stable: builtins.bool = False,
    ) -> Any:
        return _ops.sort(self, dim, descending, stable)

    def argsort(
        self,
        dim: builtins.int = -1,
        descending: builtins.bool = False,
        stable: builtins.bool = False,
    ) -> Tensor:
        return _ops.argsort(self, dim, descending, stable)

    def msort(self) -> Tensor:
        return _ops.msort(self)

    def topk(
        self,
        k: builtins.int,
        dim: builtins.int = -1,
        largest: builtins.bool = True,
        sorted: builtins.bool = True,  # noqa: A002
    ) -> Any:
        return _ops.topk(self, k, dim, largest, sorted)

    def kthvalue(
        self, k: builtins.int, dim: builtins.int = -1, keepdim: builtins.bool = False
    ) -> Any:
        return _ops.kthvalue(self, k, dim, keepdim)

    def median(self, dim: builtins.int | None = None, keepdim: builtins.bool = False) -> Any:
        return _ops.median(self, dim, keepdim)

    def mode(self, dim: builtins.int = -1, keepdim: builtins.bool = False) -> Any:
        return _ops.mode(self, dim, keepdim)

    def gather(self, dim: builtins.int, index: TensorLike) -> Tensor:
        return _ops.gather(self, dim, index)

    def take_along_dim(self, indices: TensorLike, dim: builtins.int | None = None) -> Tensor:
        return _ops.take_along_dim(self, indices, dim)

    def scatter(
        self,
        dim: builtins.int,
        index: TensorLike,
        src: TensorLike | None = None,
        value: TensorLike | None = None,
        *,
        reduce: builtins.str | None = None,
    ) -> Tensor:
        return _ops.scatter(self, dim, index, src, value, reduce=reduce)

    def scatter_add(self, dim: builtins.int, index: TensorLike, src: TensorLike) -> Tensor:
        return _ops.scatter_add(self, dim, index, src)

    def scatter_reduce(
        self,
        dim: builtins.int,
        index: TensorLike,
        src: TensorLike,
        reduce: builtins.str,
        *,
        include_self: builtins.bool = True,
    ) -> Tensor:
        return _ops.scatter_reduce(self, dim, index, src, reduce, include_self=include_self)

    def index_select(self, dim: builtins.int, index: TensorLike) -> Tensor:
        return _ops.index_select(self, dim, index)

    def masked_select(self, mask: TensorLike) -> Tensor:
        return _ops.masked_select(self, mask)

    def nonzero(self, *, as_tuple: builtins.bool = False) -> Any:
        return _ops.nonzero(self, as_tuple=as_tuple)

    def argwhere(self) -> Tensor:
        return _ops.argwhere(self)

    def flip(self, *args: ShapeArg, dims: ShapeArg | None = None) -> Tensor:
        # x.flip(0), x.flip(0, 1), x.flip([0, 1]) and x.flip(dims=[0]) as in PyTorch.
        if dims is None:
            dims = args[0] if len(args) == 1 else args
        return _ops.flip(self, dims)

    def fliplr(self) -> Tensor:
        return _ops.fliplr(self)

    def flipud(self) -> Tensor:
        return _ops.flipud(self)

    def roll(self, shifts: ShapeArg, dims: ShapeArg | None = None) -> Tensor:
        return _ops.roll(self, shifts, dims)

    def repeat(self, *sizes: ShapeArg) -> Tensor:
        return _ops.movement.repeat(self, *sizes)

    def tile(self, *args: ShapeArg, dims: ShapeArg | None = None) -> Tensor:
        if dims is None:
            dims = args[0] if len(args) == 1 else args
        return _ops.tile(self, dims)

    def repeat_interleave(
        self,
        repeats: TensorLike,
        dim: builtins.int | None = None,
        *,
        output_size: builtins.int | None = None,
    ) -> Tensor:
        return _ops.repeat_interleave(self, repeats, dim, output_size=output_size)

    def narrow(self, dim: builtins.int, start: builtins.int, length: builtins.int) -> Tensor:
        return _ops.narrow(self, dim, start, length)

    def select(self, dim: builtins.int, index: builtins.int) -> Tensor:
        return _ops.select(self, dim, index)

    def split(self, split_size: ShapeArg, dim: builtins.int = 0) -> tuple[Tensor, ...]:
        return _ops.split(self, split_size, dim)

    def chunk(self, chunks: builtins.int, dim: builtins.int = 0) -> tuple[Tensor, ...]:
        return _ops.chunk(self, chunks, dim)

    def unbind(self, dim: builtins.int = 0) -> tuple[Tensor, ...]:
        return _ops.unbind(self, dim)

    def unflatten(self, dim: builtins.int, sizes: Sequence[builtins.int]) -> Tensor:
        return _ops.unflatten(self, dim, sizes)

    def unfold(self, dimension: builtins.int, size: builtins.int, step: builtins.int) -> Tensor:
        return _ops.movement.unfold(self, dimension, size, step)

    def movedim(self, source: ShapeArg, destination: ShapeArg) -> Tensor:
        return _ops.movedim(self, source, destination)

    def moveaxis(self, source: ShapeArg, destination: ShapeArg) -> Tensor:
        return _ops.movedim(self, source, destination)

    def swapaxes(self, axis0: builtins.int, axis1: builtins.int) -> Tensor:
        return _ops.swapaxes(self, axis0, axis1)

    def swapdims(self, dim0: builtins.int, dim1: builtins.int) -> Tensor:
        return _ops.swapaxes(self, dim0, dim1)

    def diag(self, diagonal: builtins.int = 0) -> Tensor:
        return _ops.diag(self, diagonal)

    def diagonal(
        self, offset: builtins.int = 0, dim1: builtins.int = 0, dim2: builtins.int = 1
    ) -> Tensor:
        return _ops.diagonal(self, offset, dim1, dim2)

    def tril(self, diagonal: builtins.int = 0) -> Tensor:
        return _ops.tril(self, diagonal)

    def triu(self, diagonal: builtins.int = 0) -> Tensor:
        return _ops.triu(self, diagonal)

    def dot(self, other: TensorLike) -> Tensor:
        return _ops.dot(self, other)

    def mm(self, mat2: TensorLike) -> Tensor:
        return _ops.mm(self, mat2)

    def bmm(self, mat2: TensorLike) -> Tensor:
        return _ops.bmm(self, mat2)

    def mv(self, vec: TensorLike) -> Tensor:
        return _ops.mv(self, vec)

    def outer(self, vec2: TensorLike) -> Tensor:
        return _ops.outer(self, vec2)

    def inner(self, other: TensorLike) -> Tensor:
        return _ops.inner(self, other)

    def trace(self) -> Tensor:
        return _ops.trace(self)

    def half(self) -> Tensor:
        return _ops.cast(self, "float16")

    def long(self) -> Tensor:
        return _ops.cast(self, "int64")

    def int(self) -> Tensor:
        return _ops.cast(self, "int32")

    def bool(self) -> Tensor:
        return _ops.cast(self, "bool")

    def type_as(self, other: Tensor) -> Tensor:
        """This tensor converted to ``other``'s dtype."""
        return _ops.cast(self, other.data.dtype)

    def to(self, *args: Any, **kwargs: Any) -> Tensor:
        """PyTorch's ``to``: ``to(dtype)``, ``to("cpu")``, ``to(other)``, ``to(device, dtype)``.

        retrograd computes on the CPU only, so the device must be ``"cpu"`` (or None).

        Example::

            >>> import retrograd as rg
            >>> rg.tensor([1, 2]).to("cpu", dtype="float64").dtype
            dtype('float64')
        """
        return _ops.to(self, *args, **kwargs)

    def cpu(self) -> Tensor:
        """This tensor (retrograd's tensors live in host memory)."""
        return self

    @property
    def device(self) -> builtins.str:
        """Always ``"cpu"``."""
        return "cpu"

    @property
    def is_cuda(self) -> builtins.bool:
        return False


def _data(x: Any) -> Any:
    return x.data if isinstance(x, Tensor) else x
