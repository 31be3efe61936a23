"""Matrix products."""

from __future__ import annotations

from typing import Any

from .._backend import xp
from ..autograd.function import Function, unbroadcast
from ..autograd.tensor import Tensor
from ._graph import reshape, sum_to
from ._util import binary_args


def _swap(t: Tensor) -> Tensor:
    """``t`` with its last two axes swapped, recorded."""
    from .shape import Permute

    axes = list(range(t.ndim))
    axes[-1], axes[-2] = axes[-2], axes[-1]
    return Permute.apply(t, axes=tuple(axes))


class MatMul(Function):
    def forward(self, a, b):
        self.a, self.b = a, b
        return a @ b

    def backward(self, g):
        a, b = self.a, self.b
        na, nb = self.needs
        # Promote 1-D operands as matmul does, so one rule covers every case.
        a2 = a[None, :] if a.ndim == 1 else a
        b2 = b[:, None] if b.ndim == 1 else b
        if a.ndim == 1 and b.ndim == 1:
            g = g.reshape(1, 1)  # the dot product's scalar output
        elif a.ndim == 1:
            g = xp.expand_dims(g, -2)
        elif b.ndim == 1:
            g = xp.expand_dims(g, -1)
        ga = gb = None
        if na:
            ga = g @ xp.swapaxes(b2, -1, -2)
            ga = unbroadcast(ga, a2.shape).reshape(a.shape)
        if nb:
            gb = xp.swapaxes(a2, -1, -2) @ g
            gb = unbroadcast(gb, b2.shape).reshape(b.shape)
        return ga, gb

    def backward_graph(self, g, out):
        (a, b), (na, nb) = self.parents, self.needs
        a2 = reshape(a, (1, a.shape[0])) if a.ndim == 1 else a
        b2 = reshape(b, (b.shape[0], 1)) if b.ndim == 1 else b
        if a.ndim == 1 and b.ndim == 1:
            g = reshape(g, (1, 1))
        elif a.ndim == 1:
            g = reshape(g, g.shape[:-1] + (1,) + g.shape[-1:])
        elif b.ndim == 1:
            g = reshape(g, g.shape + (1,))
        ga = gb = None
        if na:
            ga = reshape(sum_to(MatMul.apply(g, _swap(b2)), a2.shape), a.shape)
        if nb:
            gb = reshape(sum_to(MatMul.apply(_swap(a2), g), b2.shape), b.shape)
        return ga, gb


def matmul(a: Any, b: Any) -> Tensor:
    """Matrix product with NumPy's rules (1-D operands, batch dimensions broadcast).

    Example::

        >>> import retrograd as rg
        >>> (rg.ones(2, 3) @ rg.ones(3)).shape
        (2,)
    """
    a, b = binary_args(a, b)
    if a.ndim == 0 or b.ndim == 0:
        raise ValueError(f"matmul: operands must have at least 1 dim, got {a.shape} and {b.shape}")
    ka = a.shape[-1]
    kb = b.shape[0] if b.ndim == 1 else b.shape[-2]
    if ka != kb:
        raise ValueError(f"matmul: inner dimensions differ: {a.shape} @ {b.shape} ({ka} != {kb})")
    batch_a, batch_b = a.shape[:-2], b.shape[:-2]
    try:
        xp.broadcast_shapes(batch_a, batch_b)
    except ValueError:
        raise ValueError(
            f"matmul: batch dimensions {batch_a} and {batch_b} of {a.shape} @ {b.shape} "
            "do not broadcast"
        ) from None
    return MatMul.apply(a, b)


__all__ = ["matmul"]
