"""In-place Tensor operations (``x.add_(y)``, ``x += y``, ``x.zero_()``, ``x.uniform_()``...).

One rule for all of them, PyTorch's:

- A leaf that requires grad cannot be modified in place while gradients are recorded
  (do it under ``rg.no_grad()``, as an optimizer does); nor can a view of one.
- With nothing to record (no_grad, or no tensor involved requires grad) the result is
  written into the tensor's array, so every view of that memory sees it.
- A tensor inside a graph gets the result as a new graph node: the Tensor object now
  stands for the result (Python references to it see the change), and the graph nodes
  recorded earlier keep the old value.
- A view inside a graph (``y[0]``, ``y[:, 1]``, ``y.t()``, ``y.view(...)``...; what
  PyTorch calls a view) writes through: its base gets the view's new values as a new
  graph node (PyTorch's ``CopySlices``), and every live view of that base, the written
  one included, is taken again from the new base, so values and gradients are PyTorch's.
  A direct write into a base refreshes its live views the same way.

Either way the write is recorded (:mod:`retrograd.autograd.inplace`), so a backward
through a node that read the old value raises instead of computing a wrong gradient.
New in-place methods are written with :func:`apply_inplace`.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from typing import Any

from .._backend import xp
from ..autograd.inplace import (
    ViewInfo,
    forget,
    mark_modified,
    mark_output_rebound,
    mark_rebound,
    root_array,
)
from ..autograd.mode import MODE, no_grad
from ..autograd.tensor import Tensor
from ..errors import ShapeError
from ..random import default_generator


# ------------------------------------------------------------------------------ views
def _take(steps: tuple, t: Tensor) -> Tensor:
    """Apply a view's primitives (``(cls, params)`` pairs) to a new base ``t``."""
    for cls, params in steps:
        t = cls.apply(t, **params)
    return t


def register_view(out: Tensor, x: Tensor, cls: Any, params: dict) -> None:
    """Note that ``out = cls.apply(x, **params)`` shares ``x``'s memory (a view primitive
    calls this); a view of a view is filed under the first base."""
    # This runs for every view op: the usual case (a view of a tensor that owns its
    # memory) is decided with a few attribute reads.
    xd = x._data
    step = ((cls, params),)
    if xd.base is None:
        if out._data.base is not xd and root_array(out._data) is not xd:
            return  # the primitive made a copy (advanced indexing, a reshape that copies)
        base = x
        out._view = (x, step, False, not MODE.grad_enabled)
    else:
        root = root_array(xd)
        if root_array(out._data) is not root:
            return
        info = getattr(x, "_view", None)
        if info is not None and info[1] is not None and root_array(info[0]._data) is root:
            base = info[0]
            out._view = (base, info[1] + step, info[2], info[3] or not MODE.grad_enabled)
        else:
            base = x
            out._view = (x, step, False, not MODE.grad_enabled)
    views = getattr(base, "_views", None)
    if views is None:
        base._views = [weakref.ref(out)]
    else:
        _add_view(views, out)


def mark_multi(views: tuple) -> tuple:
    """Mark the views a split/chunk/unbind returned together (PyTorch refuses in-place
    writes into them inside a graph)."""
    for v in views:
        info = getattr(v, "_view", None)
        if info is not None:
            v._view = (info[0], info[1], True, info[3])
    return views


def _add_view(views: list, view: Tensor) -> None:
    n = len(views)
    if n >= 32 and not n & (n - 1):  # at powers of two: amortized constant cost
        views[:] = [r for r in views if r() is not None]
    views.append(weakref.ref(view))


def _live_view(t: Tensor) -> ViewInfo | None:
    info = getattr(t, "_view", None)
    if info is None:
        return None
    if root_array(t._data) is not root_array(info[0]._data):
        t._view = None  # `t.data = ...` replaced the memory: no longer a view
        return None
    return info


def _snapshot(a: Any) -> Any:
    """``a`` as it is now, as an object no later in-place write rebinds (a leaf that
    requires grad stays itself: gradients must reach it)."""
    if isinstance(a, Tensor) and (a._ctx is not None or not a.requires_grad):
        return _snap(a)
    return a


def _snap(t: Tensor) -> Tensor:
    s = Tensor._wrap(t._data, t.requires_grad, t._ctx)
    forget(s)
    return s


def _rebind(t: Tensor, out: Tensor, name: str, old: Tensor) -> None:
    """Make the Tensor object ``t`` stand for ``out`` (a new value and graph node);
    ``old`` holds its value until now and must be kept alive by ``out``'s graph."""
    # The old array is not written to (nodes that saved it stay right); the Tensor
    # object is rebound, and nodes that read it before are pointed at ``old``.
    mark_rebound(t, name, old)
    mark_output_rebound(old, name)
    if out._ctx is not None:
        out._ctx._epoch = MODE.version  # the new node reads the value before the write
    t._data, t._ctx, t.requires_grad = out._data, out._ctx, out.requires_grad


def _refresh_views(base: Tensor, name: str) -> None:
    """Take every live view of ``base`` again from its new value (PyTorch's views share
    the memory and get their history regenerated)."""
    refs = getattr(base, "_views", None)
    if not refs:
        return
    snap = _snap(base)
    live = []
    for r in refs:
        v = r()
        info = None if v is None else getattr(v, "_view", None)
        if info is None or info[0] is not base:
            continue
        live.append(r)
        out = _take(info[1], snap)
        old = _snap(v)
        if out._ctx is not None:
            out._ctx._prev = old  # kept alive with the view's new graph (see _rebind)
        _rebind(v, out, name, old)
    base._views = live


def _overlap_check(t: Tensor, name: str) -> None:
    d = t._data
    if 0 in d.strides and any(s == 0 and n > 1 for s, n in zip(d.strides, d.shape)):
        raise RuntimeError(
            f"{name}: unsupported operation: more than one element of the written-to tensor "
            "refers to a single memory location (an expanded tensor). Please clone() the "
            "tensor before performing the operation."
        )


def apply_inplace(self: Tensor, name: str, fn: Callable[..., Tensor], *args: Any) -> Tensor:
    """Make ``self`` hold ``fn(self, *args)`` in place, under the rules above; returns self."""
    if not isinstance(self, Tensor):
        raise TypeError(f"{name}: expected a Tensor, got {type(self).__name__}")
    view = _live_view(self)
    grad_on = MODE.grad_enabled
    recording = grad_on and (
        self.requires_grad or any(isinstance(a, Tensor) and a.requires_grad for a in args)
    )
    if view is not None and grad_on:
        _check_view_write(self, view, name, recording)
    if recording:
        # Arguments are read as they are now: a later write into one of them, or into
        # the tensor one views, must not change what this write computed.
        args = tuple(map(_snapshot, args))
        if view is not None:
            return _write_through(self, view, name, fn, args)
        if self.requires_grad and self._ctx is None:
            raise RuntimeError(
                f"{name}: a leaf Variable that requires grad is being used in an in-place "
                "operation (wrap it in `with rg.no_grad():`, as optimizers do)"
            )
        old = _snap(self)
        out = _result(self, fn(old, *args), name)
        if out._ctx is not None:
            out._ctx._prev = old  # in case fn did not read it (fill_, copy_)
        _rebind(self, out, name, old)
        _refresh_views(self, name)
        return self
    _overlap_check(self, name)
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


def _check_view_write(self: Tensor, view: ViewInfo, name: str, recording: bool) -> None:
    """PyTorch's refusals for in-place writes into views while gradients are on."""
    base, steps, multi, made_without_grad = view
    if steps is None:
        if recording:
            raise RuntimeError(
                f"{name}: this tensor shares memory with another one (it came from "
                "detach()) and the in-place operation records gradients; retrograd cannot "
                "write it through to the other tensor. Use clone() instead of detach(), or "
                "an out-of-place operation."
            )
        return
    if made_without_grad and base.requires_grad:
        raise RuntimeError(
            f"{name}: A view was created in no_grad mode and is being modified inplace with "
            "grad mode enabled. Given that this use case is ambiguous and error-prone, it is "
            "forbidden. Move both the view and the in-place operation inside the no_grad "
            "block, or both outside."
        )
    if not recording:
        return
    if multi:
        raise RuntimeError(
            f"{name}: this tensor is a view and is being modified inplace. This view is the "
            "output of a function that returns multiple views (split, chunk, unbind). Such "
            "functions do not allow the output views to be modified inplace. You should "
            "replace the inplace operation by an out-of-place one."
        )
    if base.requires_grad and base._ctx is None:
        raise RuntimeError(
            f"{name}: a view of a leaf Variable that requires grad is being used in an "
            "in-place operation (modify it under `with rg.no_grad():`, as initializers do)"
        )
    _overlap_check(self, name)


def _write_through(self: Tensor, view: ViewInfo, name: str, fn: Any, args: tuple) -> Tensor:
    """The in-place write into a view inside a graph: the base gets the new values."""
    base, steps = view[0], view[1]
    old_base = _snap(base)
    new = _result(self, fn(_take(steps, old_base), *args), name)
    shape = base._data.shape
    with no_grad():  # the flat position in the base of each element of the view
        pos = _take(steps, Tensor._wrap(xp.arange(base._data.size).reshape(shape), False, None))
    mask, src, _ = _placement(shape, pos._data)
    _rebind(base, _put(old_base, new, mask, src), name, old_base)
    _refresh_views(base, name)  # the written view among them
    return self


def _result(self: Tensor, out: Tensor, name: str) -> Tensor:
    _check_result(self, out, name)
    if out._data.dtype != self._data.dtype:
        out = out.astype(self._data.dtype)
    return out


def _placement(shape: tuple, pos: Any) -> tuple:
    """Where values of ``pos``'s shape land in a tensor of ``shape`` (``pos``: the flat
    position of each value): the mask of places written, for each place the value that
    lands there, and whether a place is written more than once."""
    n = int(xp.prod(shape, dtype=xp.int64)) if shape else 1
    # NOTE: where a place repeats, the last write wins (as NumPy; PyTorch: unspecified).
    src = xp.full(n, -1, dtype=xp.int64)
    src[pos.reshape(-1)] = xp.arange(pos.size)
    written = src >= 0
    dup = int(written.sum()) != pos.size
    return written.reshape(shape), xp.where(written, src, 0).reshape(shape), dup


def _put(old: Tensor, values: Tensor, mask: Any, src: Any) -> Tensor:
    """``old`` with ``values`` (flattened) written at the places of :func:`_placement`."""
    from .elementwise import where
    from .shape import getitem, reshape

    return where(mask, getitem(reshape(values, -1), src), old)


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
    if isinstance(value, Tensor):
        if value.ndim != 0:
            raise ValueError(
                f"fill_: only a 0-dimensional value tensor is supported, got shape {value.shape}"
            )
        # As PyTorch: the gradient of a tensor value is the sum over the filled places.
        return apply_inplace(self, "fill_", _copy_fn(self), value)
    return apply_inplace(self, "fill_", _constant(self, value))


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
    return apply_inplace(self, "copy_", _copy_fn(self), src)


def _copy_fn(self: Tensor) -> Callable[[Tensor, Any], Tensor]:
    """An ``fn`` for :func:`apply_inplace` whose result is ``src`` broadcast to this shape."""
    from .elementwise import cast, where
    from .shape import expand

    def fn(old: Tensor, s: Any) -> Tensor:
        s = s if isinstance(s, Tensor) else Tensor(xp.asarray(s))
        s = cast(s, self._data.dtype)
        s = s if s._data.shape == self._data.shape else expand(s, self._data.shape)
        if not (old.requires_grad or s.requires_grad):
            return s
        # A new node with both inputs: the old value gets a zero gradient (PyTorch gives
        # the tensors it came from zeros, not None) and ``src`` its gradient.
        return where(xp.zeros(self._data.shape, dtype=bool), old, s)

    return fn


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
    mask, take, dup = _placement(shape, pos)
    flat = Tensor(pos.reshape(-1))

    def fn(old: Tensor, v: Any) -> Tensor:
        v = v if isinstance(v, Tensor) else Tensor(xp.asarray(v))
        v = cast(v, old._data.dtype)
        lead = 0  # torch drops leading size-1 dims of a value with more dims than needed
        while v.ndim - lead > len(pos.shape) and v.shape[lead] == 1:
            lead += 1
        if lead:
            v = reshape(v, v.shape[lead:])
        try:
            vb = expand(v, pos.shape) if v.shape != pos.shape else v
        except ValueError as e:
            raise ShapeError(
                f"setitem: value of shape {v.shape} does not broadcast to the indexed "
                f"shape {pos.shape}"
            ) from e
        if not pos.size:
            return old
        if dup:
            # Every occurrence of a repeated place gets that place's gradient, as in
            # PyTorch: the value is the last write, the gradient comes through a sum.
            vf = reshape(vb, -1)
            summed = reshape(scatter_add(zeros(n, dtype=vf.dtype), 0, flat, vf), shape)
            placed = getitem(vf, take).detach() + (summed - summed.detach())
            return where(mask, placed, old)
        return _put(old, vb, mask, take)

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
