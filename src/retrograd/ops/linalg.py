"""Matrix products, and ``linear`` (matmul and bias, optionally an activation, as one
node: fewer graph nodes, and the activation overwrites the fresh product in place)."""

from __future__ import annotations

from typing import Any

from .._backend import xp
from ..autograd.function import Function, unbroadcast
from ..autograd.tensor import Tensor
from ..errors import ShapeError
from ..kernels import K
from . import _composites
from ._graph import reshape, sum_to
from ._util import add_reduce, binary_args, ensure_tensor
from .elementwise import _FLOAT_ZEROS, _sigmoid


def _swap(t: Tensor) -> Tensor:
    """``t`` with its last two axes swapped, recorded."""
    from .shape import Permute

    axes = list(range(t.ndim))
    axes[-1], axes[-2] = axes[-2], axes[-1]
    return Permute.apply(t, axes=tuple(axes))


class MatMul(Function):
    replay = "pure"

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
        raise ShapeError(f"matmul: operands must have at least 1 dim, got {a.shape} and {b.shape}")
    ka = a.shape[-1]
    kb = b.shape[0] if b.ndim == 1 else b.shape[-2]
    if ka != kb:
        raise ShapeError(f"matmul: inner dimensions differ: {a.shape} @ {b.shape} ({ka} != {kb})")
    batch_a, batch_b = a.shape[:-2], b.shape[:-2]
    try:
        xp.broadcast_shapes(batch_a, batch_b)
    except ValueError:
        raise ShapeError(
            f"matmul: batch dimensions {batch_a} and {batch_b} of {a.shape} @ {b.shape} "
            "do not broadcast"
        ) from None
    return MatMul.apply(a, b)


#: ``np.dot``: for 2-D operands the same BLAS call as ``@`` (the same bits; checked by
#: tests/ops/test_linalg_dot.py), but a plain function call instead of the ``matmul``
#: gufunc's dispatch, 0.2-0.3 us less on the small products of online learning.
_dot = xp.dot


class Linear(Function):
    replay = "pure"

    def forward(self, x, w, b=None):
        self.x, self.w = x, w
        if x.ndim == 2:
            out = _dot(x, w.T)
        else:
            out = (x.reshape(-1, x.shape[-1]) @ w.T).reshape(x.shape[:-1] + (w.shape[0],))
        if b is not None:
            out += b
        return out

    def backward(self, g):
        return self._vjp(g, None)

    def _vjp(self, g, gb):
        """The VJP; ``gb``, when not None, is the bias gradient already summed."""
        x, w = self.x, self.w
        needs = self.needs
        if g.ndim != 2:
            g = g.reshape(-1, g.shape[-1])
        gx = gw = None
        if not (len(needs) > 2 and needs[2]):
            gb = None
        if needs[0]:
            gx = _dot(g, w)
            if x.ndim != 2:
                gx = gx.reshape(x.shape)
        if g.shape[0] == 1:
            # Online learning (one sample): the weight gradient is an outer product and
            # the bias gradient the row itself. Each element is one product / the same
            # number, so this is bitwise what matmul and sum give, a few us sooner.
            if needs[1]:
                gw = g.T * (x if x.ndim == 2 else x.reshape(1, -1))
            if len(needs) > 2 and needs[2] and gb is None:
                gb = g[0].copy()
            return (gx, gw, gb)
        if needs[1]:
            x2 = x if x.ndim == 2 else x.reshape(-1, x.shape[-1])
            gw = _dot(g.T, x2)
        if len(needs) > 2 and needs[2] and gb is None:
            gb = add_reduce(g, axis=0)
        return (gx, gw, gb)

    def composite(self, x, w, b=None):
        return _composites.linear(x, w, b)


class LinearAct(Linear):
    """``act(x @ w.T + b)`` as one node, ``act`` one of ``relu``, ``tanh``, ``sigmoid``.

    The ops and their VJPs are exactly those of Linear followed by Relu/Tanh/Sigmoid
    (same results to the bit); one node instead of two halves the graph bookkeeping, and
    the activation overwrites the fresh linear output instead of allocating another
    array. ``nn.Sequential`` uses it for a Linear layer directly followed by ReLU, Tanh
    or Sigmoid.
    """

    replay = "pure"

    def forward(self, x, w, b=None, act="relu"):
        if act == "relu" and x.ndim == 2:
            # Linear's forward and the ReLU in one kernel: the bias add and the maximum
            # in one pass over the fresh product (the same operations, element by element).
            self.x, self.w, self.act = x, w, act
            out = self.out = K.bias_relu(_dot(x, w.T), b)
            self.zero = _float_zero(out.dtype)
            return out
        z = Linear.forward(self, x, w, b)
        self.act = act
        if act == "relu":
            zero = _float_zero(z.dtype)
            out = xp.maximum(z, zero, out=z)
            self.zero = zero
        elif act == "tanh":
            out = xp.tanh(z, out=z)
        elif act == "sigmoid":
            out = _sigmoid(z)
        else:
            raise ValueError(f"LinearAct: act must be relu, tanh or sigmoid, got {act!r}")
        self.out = out
        return out

    def backward(self, g):
        out, act = self.out, self.act
        if act == "relu":
            if g.ndim == 2 and len(self.needs) > 2 and self.needs[2]:
                # ReLU's VJP and the bias gradient's column sums in one pass.
                g, gb = K.relu_grad_bias(g, out)
                return Linear._vjp(self, g, gb)
            g = g * (out > self.zero)
        elif act == "tanh":
            g = g * (1 - out * out)
        else:
            g = g * out * (1 - out)
        return Linear.backward(self, g)

    def composite(self, x, w, b=None):
        return _composites.linear(x, w, b, self.act)


def _float_zero(dtype: Any) -> Any:
    zero = _FLOAT_ZEROS.get(dtype)
    if zero is None:
        zero = _FLOAT_ZEROS[dtype] = xp.zeros((), dtype=dtype)
    return zero


def linear(x: Any, weight: Any, bias: Any = None) -> Tensor:
    """``x @ weight.T + bias`` as one node; ``weight`` is (out_features, in_features).

    Example::

        >>> import retrograd as rg
        >>> rg.ops.linear(rg.ones(4, 3), rg.ones(2, 3), rg.zeros(2)).shape
        (4, 2)
    """
    x, weight = ensure_tensor(x), ensure_tensor(weight)
    if weight.ndim != 2:
        raise ValueError(f"linear: weight must be 2-D (out, in), got shape {weight.shape}")
    if x.ndim == 0 or x.shape[-1] != weight.shape[1]:
        raise ValueError(
            f"linear: input has shape {x.shape}, expected last dimension {weight.shape[1]} "
            f"(in_features)"
        )
    if bias is None:
        return Linear.apply(x, weight)
    bias = ensure_tensor(bias)
    if bias.shape != (weight.shape[0],):
        raise ValueError(f"linear: bias has shape {bias.shape}, expected ({weight.shape[0]},)")
    return Linear.apply(x, weight, bias)


__all__ = ["matmul", "linear"]
