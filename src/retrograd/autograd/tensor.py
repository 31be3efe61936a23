"""Tensor: an ndarray plus what backward needs to know about where it came from."""

from __future__ import annotations

import numbers
from typing import Any

from .._backend import xp

_DEFAULT_DTYPE = [xp.dtype(xp.float32)]
_engine_backward = None  # autograd.engine.backward, bound on first use


def get_default_dtype() -> Any:
    """The dtype Python floats and lists of floats become (float32 unless changed)."""
    return _DEFAULT_DTYPE[0]


def set_default_dtype(dtype: Any) -> None:
    """Set the dtype Python floats become: ``float32`` (default) or ``float64``."""
    d = xp.dtype(dtype)
    if d not in (xp.float32, xp.float64):
        raise TypeError(f"set_default_dtype: dtype must be float32 or float64, got {d}")
    _DEFAULT_DTYPE[0] = d


def _to_array(data: Any, dtype: Any = None) -> Any:
    """Convert user data to an ndarray following PyTorch's rules for literals.

    Python floats (and nested lists holding any float) become the default dtype;
    Python ints and bools keep integer/bool dtypes; NumPy arrays keep their dtype.
    """
    if isinstance(data, Tensor):
        arr = data.data
    elif isinstance(data, xp.ndarray):
        arr = data
    elif isinstance(data, xp.generic):
        arr = xp.asarray(data)
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
        elif arr.dtype.kind == "O":
            raise TypeError(
                f"tensor: cannot convert {type(data).__name__} to a numeric array "
                "(ragged nested lists or non-numeric objects)"
            )
    if dtype is not None:
        arr = arr.astype(xp.dtype(dtype), copy=False)
    return arr


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

    __slots__ = ("data", "grad", "requires_grad", "_ctx", "name", "__weakref__")
    # Make ``ndarray <op> Tensor`` defer to the Tensor's reflected operator.
    __array_priority__ = 1000.0

    def __init__(self, data: Any, requires_grad: bool = False, dtype: Any = None) -> None:
        arr = _to_array(data, dtype)
        if requires_grad and arr.dtype.kind not in "fc":
            raise TypeError(
                f"tensor: only floating-point tensors can require gradients, got dtype {arr.dtype}"
            )
        self.data = arr
        self.grad = None
        self.requires_grad = bool(requires_grad)
        self._ctx = None
        self.name = None

    @classmethod
    def _wrap(cls, data: Any, requires_grad: bool, ctx: Any) -> Tensor:
        # Fast constructor used by every op: no conversion, no validation.
        t = cls.__new__(cls)
        t.data = data
        t.grad = None
        t.requires_grad = requires_grad
        t._ctx = ctx
        t.name = None
        return t

    # ----------------------------------------------------------------- properties
    @property
    def shape(self) -> tuple:
        return self.data.shape

    @property
    def dtype(self) -> Any:
        return self.data.dtype

    @property
    def ndim(self) -> int:
        return self.data.ndim

    @property
    def size(self) -> int:
        return self.data.size

    @property
    def is_leaf(self) -> bool:
        """True for tensors created by the user rather than by an op that records grad."""
        return self._ctx is None

    @property
    def grad_fn(self) -> Any:
        """The Function that created this tensor (None for leaves)."""
        return self._ctx

    def __len__(self) -> int:
        if self.data.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return len(self.data)

    def numpy(self) -> Any:
        """The underlying ndarray (shares memory; detach semantics)."""
        return self.data

    def __array__(self, dtype=None, copy=None):
        if dtype is not None:
            return self.data.astype(dtype, copy=False)
        return self.data

    def item(self) -> numbers.Number:
        if self.data.size != 1:
            raise ValueError(
                f"item: only one-element tensors can be converted, got shape {self.data.shape}"
            )
        return self.data.item()

    def tolist(self) -> Any:
        return self.data.tolist()

    def detach(self) -> Tensor:
        """A new leaf tensor sharing data with this one, cut from the graph."""
        return Tensor._wrap(self.data, False, None)

    def requires_grad_(self, requires_grad: bool = True) -> Tensor:
        if requires_grad and self.data.dtype.kind not in "fc":
            raise TypeError(
                f"requires_grad_: only floating-point tensors can require gradients, "
                f"got dtype {self.data.dtype}"
            )
        if not self.is_leaf and not requires_grad:
            raise RuntimeError("requires_grad_: cannot turn off requires_grad of a non-leaf tensor")
        self.requires_grad = bool(requires_grad)
        return self

    def zero_grad_(self) -> None:
        self.grad = None

    def backward(self, grad: Any = None) -> None:
        """Backpropagate from this tensor, accumulating into the ``.grad`` of leaves.

        ``grad`` defaults to 1 for a one-element tensor and must be given (same shape)
        otherwise. The graph is kept, so calling backward again accumulates again.
        """
        # Imported once, not per call: a function-level import costs microseconds each
        # training step (the engine imports this module, so it cannot be imported at top).
        global _engine_backward
        if _engine_backward is None:
            from .engine import backward as _engine_backward
        _engine_backward(self, grad)

    def __repr__(self) -> str:
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

    def __bool__(self) -> bool:
        if self.data.size != 1:
            raise ValueError(
                f"The truth value of a tensor with shape {self.data.shape} is ambiguous"
            )
        return bool(self.data)

    def __float__(self) -> float:
        return float(self.item())

    def __int__(self) -> int:
        return int(self.item())

    def __index__(self) -> int:
        if self.data.dtype.kind not in "iub":
            raise TypeError("only integer tensors can be used as an index")
        return int(self.item())
