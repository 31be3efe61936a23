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
