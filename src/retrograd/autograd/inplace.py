"""In-place modification detection: PyTorch's version counter, kept off the hot path.

A graph node (``Function``) remembers the global modification count at the time it was
recorded (``ctx._epoch``). Every in-place write retrograd can see (in-place Tensor
methods, optimizer steps, ``t.data = ...``/``t.data *= ...``, ``load_state_dict``)
calls :func:`mark_modified`, which bumps the global count and notes the array's memory
(its root ndarray, so views share the record, as torch's views share a counter) with
the name of the operation. ``backward`` compares, per node, the node's count with the
global one: equal (nothing was modified since the node was recorded, the usual case)
costs one comparison; otherwise the node's inputs and output are looked up and a
modified one raises :class:`InplaceModificationError` naming both operations.

Not seen: writes into an ndarray by NumPy itself (``t.data[0] = 1``,
``np.copyto(t.data, ...)``, writes into ``t.numpy()``); docs/conformance.md says so.
"""

from __future__ import annotations

import weakref
from typing import Any

from .._backend import xp
from ..errors import RetrogradError
from .mode import MODE

_ndarray = xp.ndarray

#: id(root ndarray) -> (modification count, what modified it). Ids of arrays that died
#: can be reused by new ones; that is harmless: the record's count is older than any
#: graph node that reads the new array, so the comparison never flags it.
_MODIFIED: dict = {}
_MAX_RECORDS = 1 << 16


class InplaceModificationError(RetrogradError, RuntimeError):
    """A tensor the graph needs was modified in place between forward and backward."""


#: How a view was taken from its base, stored on the view as ``t._view``, a plain tuple
#: ``(base, steps, multi, no_grad)`` (built for every view op, so no class): ``steps``,
#: the view primitives (``(cls, params)`` pairs) that take it again from a new value of
#: the base, or None for an alias made by ``detach()`` (shares memory, no graph link);
#: ``multi``: one of several views returned together (split, chunk, unbind); ``no_grad``:
#: taken while gradients were not recorded. retrograd.ops.inplace uses it.
ViewInfo = tuple


def root_array(arr: Any) -> Any:
    """The ndarray that owns ``arr``'s memory (``arr`` itself when it is not a view)."""
    base = arr.base
    while base.__class__ is _ndarray:
        arr = base
        base = arr.base
    return arr


def mark_modified(arr: Any, what: str, tensor: Any = None) -> None:
    """Record that ``arr`` (an ndarray) was modified in place by ``what``.

    ``tensor``: the Tensor modified, when the write may also have rebound it to a new
    array (an in-place op inside a graph): nodes that read that Tensor see the record.
    """
    MODE.version += 1
    rec = _MODIFIED
    entry = (MODE.version, what)
    rec[id(root_array(arr))] = entry
    if tensor is not None:
        rec[id(tensor)] = entry
    if len(rec) > _MAX_RECORDS:
        # Forget the oldest half. A record is needed only while a graph recorded before
        # the write is still waiting for backward.
        for k in list(rec)[: _MAX_RECORDS // 2]:
            del rec[k]


def mark_rebound(tensor: Any, what: str, old: Any = None) -> None:
    """Record that the Tensor object ``tensor`` now stands for a new value (its old array
    is untouched): graph nodes that read the Tensor before see the record.

    ``old``: a Tensor holding the value (array and graph node) ``tensor`` had until now.
    Graph nodes recorded earlier that read ``tensor`` are pointed at it when backward
    reaches them (:func:`relink`), so they differentiate the value they read, as in
    PyTorch. It is held weakly: the caller keeps it alive as long as it is needed (it is
    an input of the node that made the new value)."""
    MODE.version += 1
    _MODIFIED[id(tensor)] = (MODE.version, what)
    if old is not None:
        hist = getattr(tensor, "_history", None)
        if hist is None:
            tensor._history = hist = []
        n = len(hist)
        if n >= 32 and not n & (n - 1):  # at powers of two: amortized constant cost
            hist[:] = [h for h in hist if h[1]() is not None]
        hist.append((MODE.version, weakref.ref(old)))


def forget(obj: Any) -> None:
    """Drop a record left under ``obj``'s id by a dead object. Called for each snapshot
    Tensor an in-place write makes: it is a new object holding an older graph node than
    such a record, so the record would be misread as a write into it."""
    _MODIFIED.pop(id(obj), None)


def relink(ctx: Any) -> None:
    """Point the inputs of graph node ``ctx`` that were rebound by in-place writes after
    ``ctx`` was recorded back to the values ``ctx`` read (see :func:`mark_rebound`).
    An input whose earlier value is gone stays as it is; :func:`check_unmodified` then
    raises for it."""
    epoch = ctx._epoch
    parents = ctx.parents
    new = None
    for i, p in enumerate(parents):
        hist = getattr(p, "_history", None)
        if not hist or hist[-1][0] <= epoch:
            continue
        for version, ref in hist:
            if version > epoch:
                s = ref()
                # PyTorch raises when a node saved the tensor for its backward (its
                # version counter); so does retrograd, when the node saved the array.
                if s is not None and not _saved_input(ctx, i, s):
                    if new is None:
                        new = list(parents)
                    new[i] = s
                break
    if new is not None:
        ctx.parents = tuple(new)


def _saved_input(ctx: Any, i: int, old: Any) -> bool:
    """Whether node ``ctx`` saved its input ``i`` (whose value is ``old``) for backward."""
    saved = getattr(ctx, "saved_inputs", None)
    if saved is not None:
        return bool(saved()[i])
    root = root_array(old._data)
    return any(v.__class__ is _ndarray and root_array(v) is root for v in ctx.__dict__.values())


def mark_output_rebound(old: Any, what: str) -> None:
    """The value ``old`` (a Tensor) was replaced by an in-place write: if the node that
    made it saved it for backward (``out``), that backward now raises, as PyTorch's
    version counter makes it."""
    ctx = old._ctx
    if ctx is None or not type(ctx).output_saved:
        return
    out = getattr(ctx, "out", None)
    if out.__class__ is _ndarray and root_array(out) is root_array(old._data):
        ctx._out_written = what


def mark_many(roots: list, what: str) -> None:
    """:func:`mark_modified` for arrays already reduced to their roots (optimizer steps)."""
    MODE.version += 1
    rec = (MODE.version, what)
    for r in roots:
        _MODIFIED[id(r)] = rec


def check_unmodified(t: Any, ctx: Any) -> None:
    """Raise if ``ctx``'s inputs or its output ``t`` were modified after ``ctx`` ran."""
    epoch = ctx._epoch
    get = _MODIFIED.get
    written = getattr(ctx, "_out_written", None)
    if written is not None:
        _raise(t, f"the output of {type(ctx).__name__} (saved for its backward)", written)
    for i, p in enumerate(ctx.parents):
        _check(p, epoch, get, f"input {i} of {type(ctx).__name__}")
    _check(t, epoch, get, f"the output of {type(ctx).__name__}")
    # Arrays the node saved for its VJP that are not its inputs (a layer's buffers passed
    # as keywords, such as BatchNorm's running statistics in eval mode).
    for v in getattr(ctx, "__dict__", {}).values():
        if v.__class__ is _ndarray:
            rec = get(id(root_array(v)))
            if rec is not None and rec[0] > epoch:
                _raise_array(v, f"an array saved by {type(ctx).__name__}", rec[1])


def _check(t: Any, epoch: int, get: Any, role: str) -> None:
    for key in (id(root_array(t._data)), id(t)):
        rec = get(key)
        if rec is not None and rec[0] > epoch:
            _raise(t, role, rec[1])


def _raise(t: Any, role: str, what: str) -> None:
    _raise_array(t._data, role, what)


def _raise_array(d: Any, role: str, what: str) -> None:
    raise InplaceModificationError(
        "one of the variables needed for gradient computation has been modified by an "
        f"inplace operation: {role} (a {d.dtype} tensor of shape {d.shape}) was modified by "
        f"{what} after the graph recorded it. Call backward() before modifying it, or "
        "compute the forward pass again."
    )
