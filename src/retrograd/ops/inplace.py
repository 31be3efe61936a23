"""In-place Tensor operations (``x.add_(y)``, ``x += y``, ``x.zero_()``, ``x.uniform_()``...).

One rule for all of them, PyTorch's:

- A leaf that requires grad cannot be modified in place while gradients are recorded
  (do it under ``rg.no_grad()``, as an optimizer does).
- With nothing to record (no_grad, or no tensor involved requires grad) the result is
  written into the tensor's array, so every view of that memory sees it.
- A tensor inside a graph gets the result as a new graph node: the Tensor object now
  stands for the result (Python references to it see the change), and the graph nodes
  recorded earlier keep the old value.

Either way the write is recorded (:mod:`retrograd.autograd.inplace`), so a backward
through a node that read the old value raises instead of computing a wrong gradient.
New in-place methods are written with :func:`apply_inplace`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .._backend import xp
from ..autograd.inplace import mark_modified, mark_rebound
from ..autograd.mode import MODE, no_grad
from ..autograd.tensor import Tensor
from ..errors import ShapeError
from ..random import default_generator


def apply_inplace(self: Tensor, name: str, fn: Callable[..., Tensor], *args: Any) -> Tensor:
    """Make ``self`` hold ``fn(self, *args)`` in place, under the rules above; returns self."""
    if not isinstance(self, Tensor):
        raise TypeError(f"{name}: expected a Tensor, got {type(self).__name__}")
    recording = MODE.grad_enabled and (
        self.requires_grad or any(isinstance(a, Tensor) and a.requires_grad for a in args)
    )
    if recording and self.requires_grad and self._ctx is None:
        raise RuntimeError(
            f"{name}: a leaf Variable that requires grad is being used in an in-place "
            "operation (wrap it in `with rg.no_grad():`, as optimizers do)"
        )
    if recording:
        old = Tensor._wrap(self._data, self.requires_grad, self._ctx)
        out = fn(old, *args)
        _check_result(self, out, name)
        if out._data.dtype != self._data.dtype:
            out = out.astype(self._data.dtype)
        # The old array is not written to (nodes that saved it stay right); the Tensor
        # object is rebound, so nodes that read it before are flagged.
        mark_rebound(self, name)
        if out._ctx is not None:
            out._ctx._epoch = MODE.version  # the new node reads the value before the write
        self._data, self._ctx, self.requires_grad = out._data, out._ctx, out.requires_grad
        return self
    with no_grad():
        out = fn(self, *args)
    _check_result(self, out, name)
    arr = self._data
    if not xp.can_cast(out._data.dtype, arr.dtype, "same_kind"):
        raise TypeError(
            f"{name}: result type {out._data.dtype} can't be cast to the tensor's dtype "
            f"{arr.dtype} in place"
        )
    xp.copyto(arr, out._data, casting="same_kind")
    mark_modified(arr, name, self)
    return self


def _check_result(self: Tensor, out: Tensor, name: str) -> None:
    if out._data.shape != self._data.shape:
        raise ShapeError(
            f"{name}: the result has shape {out._data.shape}, which does not fit the tensor's "
            f"shape {self._data.shape} in place"
        )


def _constant(self: Tensor, arr: Any) -> Callable[[Tensor], Tensor]:
    """An ``fn`` for :func:`apply_inplace` whose result is ``arr`` (fill, random draws)."""
    arr = xp.broadcast_to(xp.asarray(arr, dtype=self._data.dtype), self._data.shape)

    def fn(old: Tensor) -> Tensor:
        if not old.requires_grad:
            return Tensor._wrap(arr, False, None)
        from .elementwise import where

        # Inside a graph the result still requires grad, with a zero gradient to the old
        # value, as in PyTorch (so `y.zero_(); y.sum().backward()` works).
        return where(xp.zeros(arr.shape, dtype=bool), old, Tensor._wrap(arr, False, None))

    return fn


def fill_(self: Tensor, value: Any) -> Tensor:
    """Fill with ``value`` in place.

    Example::

        >>> import retrograd as rg
        >>> rg.zeros(2).fill_(3.0).tolist()
        [3.0, 3.0]
    """
    v = value.item() if isinstance(value, Tensor) else value
    return apply_inplace(self, "fill_", _constant(self, v))


def zero_(self: Tensor) -> Tensor:
    """Fill with zeros in place.

    Example::

        >>> import retrograd as rg
        >>> rg.ones(2).zero_().tolist()
        [0.0, 0.0]
    """
    return apply_inplace(self, "zero_", _constant(self, 0))


def copy_(self: Tensor, src: Any) -> Tensor:
    """Copy ``src`` (broadcast to this shape) into this tensor in place; the gradient
    flows to ``src``, as in PyTorch.

    Example::

        >>> import retrograd as rg
        >>> rg.zeros(2).copy_(rg.tensor([1.0, 2.0])).tolist()
        [1.0, 2.0]
    """
    from .elementwise import cast
    from .shape import expand

    def fn(_old: Tensor, s: Any) -> Tensor:
        s = s if isinstance(s, Tensor) else Tensor(xp.asarray(s))
        s = cast(s, self._data.dtype)
        return s if s._data.shape == self._data.shape else expand(s, self._data.shape)

    return apply_inplace(self, "copy_", fn, src)


def setitem(self: Tensor, index: Any, value: Any) -> Tensor:
    """``x[index] = value`` in place, with PyTorch's indexing rules (the same places as
    ``x[index]`` reads, ``value`` broadcast to that shape and cast to ``x``'s dtype); the
    gradient flows to the places not written and to ``value``.

    Example::

        >>> import retrograd as rg
        >>> x = rg.zeros(2, 3)
        >>> x[0, [0, 2]] = 5.0
        >>> x.tolist()
        [[5.0, 0.0, 5.0], [0.0, 0.0, 0.0]]
    """
    from .creation import zeros
    from .elementwise import cast, where
    from .indexing import scatter_add
    from .shape import expand, getitem, reshape

    shape = self._data.shape
    n = int(xp.prod(shape, dtype=xp.int64)) if shape else 1
    # The flat positions x[index] reads, in PyTorch's order: one rule for basic, advanced
    # and mixed indices, shared with getitem.
    pos = getitem(Tensor(xp.arange(n).reshape(shape)), index).data
    # NOTE: where an index repeats, the last write wins (as NumPy; PyTorch: unspecified).
    src = xp.full(n, -1, dtype=xp.int64)
    src[pos.reshape(-1)] = xp.arange(pos.size)
    written = src >= 0
    mask = written.reshape(shape)
    flat = Tensor(pos.reshape(-1))
    dup = int(written.sum()) != pos.size
    take = xp.where(written, src, 0).reshape(shape)

    def fn(old: Tensor, v: Any) -> Tensor:
        v = v if isinstance(v, Tensor) else Tensor(xp.asarray(v))
        v = cast(v, old._data.dtype)
        lead = 0  # torch drops leading size-1 dims of a value with more dims than needed
        while v.ndim - lead > len(pos.shape) and v.shape[lead] == 1:
            lead += 1
        if lead:
            v = reshape(v, v.shape[lead:])
        try:
            vb = reshape(expand(v, pos.shape) if v.shape != pos.shape else v, -1)
        except ValueError as e:
            raise ShapeError(
                f"setitem: value of shape {v.shape} does not broadcast to the indexed "
                f"shape {pos.shape}"
            ) from e
        if not pos.size:
            return old
        placed = getitem(vb, take)
        if dup:
            # Every occurrence of a repeated place gets that place's gradient, as in
            # PyTorch: the value is the last write, the gradient comes through a sum.
            summed = reshape(scatter_add(zeros(n, dtype=vb.dtype), 0, flat, vb), shape)
            placed = placed.detach() + (summed - summed.detach())
        return where(mask, placed, old)

    return apply_inplace(self, "setitem", fn, value)


def uniform_(self: Tensor, a: float = 0.0, b: float = 1.0, *, generator: Any = None) -> Tensor:
    """Fill in place with uniform samples from [a, b) (the global generator by default).

    Example::

        >>> import retrograd as rg
        >>> x = rg.zeros(1000).uniform_(-1.0, 1.0)
        >>> bool((x.data >= -1).all() and (x.data < 1).all())
        True
    """
    gen = default_generator() if generator is None else generator
    arr = gen.uniform(a, b, self._data.shape)
    return apply_inplace(self, "uniform_", _constant(self, arr))


def normal_(self: Tensor, mean: float = 0.0, std: float = 1.0, *, generator: Any = None) -> Tensor:
    """Fill in place with normal samples (the global generator by default).

    Example::

        >>> import retrograd as rg
        >>> rg.zeros(3).normal_(0.0, 0.01).shape
        (3,)
    """
    if std < 0:
        raise ValueError(f"normal_: std must be >= 0, got {std}")
    gen = default_generator() if generator is None else generator
    arr = gen.normal(mean, std, self._data.shape)
    return apply_inplace(self, "normal_", _constant(self, arr))


__all__ = ["apply_inplace", "fill_", "zero_", "copy_", "setitem", "uniform_", "normal_"]
