"""Differentiable helpers for the second-order rules (``backward_graph``) of primitives.

Each is the Tensor twin of an ndarray helper the first-order VJPs use: ``sum_to`` of
``unbroadcast``, ``spread`` of ``expand_reduced`` + ``broadcast_to``. They build graph
nodes, so they only run under ``create_graph=True`` (see ``retrograd.autograd.engine``).
Imports are local: the op modules that use these helpers are the ones they import.
"""

from __future__ import annotations

from typing import Any

from ..autograd.tensor import Tensor


def sum_to(g: Tensor, shape: tuple) -> Tensor:
    """Sum ``g`` down to ``shape`` (the VJP of broadcasting), recorded."""
    if g.shape == tuple(shape):
        return g
    from .reduce import Sum

    nd = g.ndim - len(shape)
    if nd:
        g = Sum.apply(g, axis=tuple(range(nd)), keepdims=False)
    axes = tuple(i for i, n in enumerate(shape) if n == 1 and g.shape[i] != 1)
    if axes:
        g = Sum.apply(g, axis=axes, keepdims=True)
    return g


def reshape(g: Tensor, shape: tuple) -> Tensor:
    from .shape import Reshape

    shape = tuple(shape)
    return g if g.shape == shape else Reshape.apply(g, shape=shape)


def spread(g: Tensor, shape: tuple, axis: Any, keepdims: bool) -> Tensor:
    """The VJP of a sum over ``axis``: ``g`` broadcast back to the input's ``shape``."""
    from .shape import Expand

    if axis is None:
        kshape = (1,) * len(shape)
    elif keepdims:
        kshape = g.shape
    else:
        axes = (axis,) if isinstance(axis, int) else axis
        kshape = tuple(1 if i in axes else n for i, n in enumerate(shape))
    g = reshape(g, kshape)
    return g if g.shape == tuple(shape) else Expand.apply(g, shape=tuple(shape))


def const(arr: Any) -> Tensor:
    """An array as a constant Tensor (no gradient flows into it)."""
    return Tensor._wrap(arr, False, None)


def flip(g: Tensor, axis: int) -> Tensor:
    from .shape import GetItem

    index = [slice(None)] * g.ndim
    index[axis] = slice(None, None, -1)
    return GetItem.apply(g, index=tuple(index))


def rev_cumsum(g: Tensor, axis: int) -> Tensor:
    """``sum_{j >= i} g_j`` along ``axis`` (the VJP of a cumulative sum), recorded."""
    from .scan import Cumsum

    return flip(Cumsum.apply(flip(g, axis), dim=axis), axis)


def scatter(g: Tensor, shape: tuple, index: Any, advanced: bool = True) -> Tensor:
    """Zeros of ``shape`` with ``g`` added at ``index`` (repeats add up), recorded."""
    from .shape import IndexAdd

    return IndexAdd.apply(g, shape=tuple(shape), index=index, advanced=advanced)


def first_order_only_here(name: str, why: str) -> None:
    """Raise for an input on which a primitive has no second-order rule (not silently)."""
    from ..errors import SecondOrderError

    raise SecondOrderError(f"create_graph=True: the primitive {name} is first-order only {why}")
