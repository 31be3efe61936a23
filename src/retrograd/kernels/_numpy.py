"""The NumPy twins: what each kernel computes, written as the ops compute it without Numba.

Each function here is the reference for the function of the same name in ``_numba.py``.
"""

from __future__ import annotations

import math
from typing import Any

from .._backend import xp

_add_reduce = xp.add.reduce
_max_reduce = xp.maximum.reduce
_ZEROS: dict = {}  # dtype -> 0-d zero (a NumPy op with it skips the scalar conversion)


def _zero(dtype: Any) -> Any:
    zero = _ZEROS.get(dtype)
    if zero is None:
        zero = _ZEROS[dtype] = xp.zeros((), dtype=dtype)
    return zero


def bias_relu(z: Any, b: Any) -> Any:
    """``relu(z + b)`` written into ``z`` (a fresh 2-D product); ``b`` may be None."""
    if b is not None:
        z += b
    # NOTE: maximum keeps NaN (a NaN input must not become 0) and gives +0 for -0.
    return xp.maximum(z, _zero(z.dtype), out=z)


def relu_grad_bias(g: Any, out: Any) -> tuple:
    """``(g * (out > 0), its sum over rows)``: the ReLU VJP and the next bias gradient.

    One row (online learning): the sum is that row, copied (as Linear's VJP does).
    """
    gm = g * (out > _zero(out.dtype))
    return gm, (gm[0].copy() if gm.shape[0] == 1 else _add_reduce(gm, axis=0))


def softmax_xent(z: Any, flat: Any) -> tuple:
    """Softmax cross-entropy of (m, c) logits at flat label positions ``i * c + t_i``.

    Returns ``(p, total)``: the probabilities (a new array) and the summed loss, each
    sample's ``-log p[i, t_i]`` taken as ``lse_i - s[i, t_i]`` from the shifted logits.
    """
    s = z - _max_reduce(z, axis=1, keepdims=True)
    e = xp.exp(s)
    se = _add_reduce(e, axis=1, keepdims=True)
    lse = xp.log(se)
    e /= se
    losses = lse[:, 0] - s.reshape(-1).take(flat)
    return e, _add_reduce(losses)


def xent_grad(p: Any, flat: Any, scale: Any) -> Any:
    """``(p - onehot) * scale`` as a new array; ``scale`` a 0-d array of p's dtype."""
    grad = p.copy()
    grad.reshape(-1)[flat] -= 1
    grad *= scale
    return grad


def softmax_xent_grad(z: Any, flat: Any, scale: Any) -> tuple:
    """:func:`softmax_xent` then :func:`xent_grad`: ``((p - onehot) * scale, total)``.

    The loss and its gradient in one call, for a compiled step whose backward starts at
    this loss (same numbers as the two calls; the probabilities are not kept).
    """
    p, total = softmax_xent(z, flat)
    return xent_grad(p, flat, scale), total


def sgd_momentum(data: Any, grad: Any, buf: Any, lr: Any, momentum: Any) -> None:
    """``buf = momentum * buf + grad; data -= lr * buf`` in place (0-d lr, momentum)."""
    buf *= momentum
    buf += grad
    data -= lr * buf


def adam(
    data: Any, grad: Any, m: Any, v: Any, vmax: Any, step: int, lr: float, beta1: float,
    beta2: float, eps: float, wd: float, decoupled: bool,
) -> None:  # fmt: skip
    """One Adam/AdamW step of ``data`` in place (PyTorch's formulas); ``vmax`` for AMSGrad.

    ``m``, ``v`` (and ``vmax``) are updated in place; ``wd`` is L2 (added to the gradient)
    or, with ``decoupled``, AdamW's ``data *= 1 - lr * wd``. The scalars are Python floats,
    each rounded to the arrays' dtype where it meets them (NumPy's weak scalars).
    """
    if wd != 0.0:
        if decoupled:
            data *= 1.0 - lr * wd
        else:
            g = xp.multiply(data, wd, dtype=data.dtype)
            g += grad
            grad = g
    # One scratch array serves every temporary below.
    tmp = xp.subtract(grad, m, dtype=data.dtype)
    tmp *= 1.0 - beta1
    m += tmp  # m = lerp(m, grad, 1 - beta1)
    v *= beta2
    xp.multiply(grad, grad, out=tmp)
    tmp *= 1.0 - beta2
    v += tmp
    bias1 = 1.0 - beta1**step
    bias2_sqrt = math.sqrt(1.0 - beta2**step)
    if vmax is not None:
        xp.maximum(vmax, v, out=vmax)
        xp.sqrt(vmax, out=tmp)
    else:
        xp.sqrt(v, out=tmp)
    tmp /= bias2_sqrt
    tmp += eps
    xp.divide(m, tmp, out=tmp)
    tmp *= lr / bias1
    data -= tmp


def rmsprop(
    data: Any, grad: Any, v: Any, grad_avg: Any, buf: Any, lr: float, alpha: float,
    eps: float, wd: float, momentum: float,
) -> None:  # fmt: skip
    """One RMSprop step of ``data`` in place (PyTorch's formulas).

    ``v`` is the running mean square, ``grad_avg`` the running mean (centered; else None),
    ``buf`` the momentum buffer (``momentum > 0``; else None), all updated in place.
    """
    if wd != 0.0:
        g = xp.multiply(data, wd, dtype=data.dtype)
        g += grad
        grad = g
    v *= alpha
    tmp = xp.multiply(grad, grad, dtype=data.dtype)
    tmp *= 1.0 - alpha
    v += tmp
    if grad_avg is not None:
        xp.subtract(grad, grad_avg, out=tmp)
        tmp *= 1.0 - alpha
        grad_avg += tmp  # lerp(grad_avg, grad, 1 - alpha)
        xp.multiply(grad_avg, grad_avg, out=tmp)
        xp.subtract(v, tmp, out=tmp)
        xp.sqrt(tmp, out=tmp)
    else:
        xp.sqrt(v, out=tmp)
    tmp += eps
    xp.divide(grad, tmp, out=tmp)
    if buf is not None:
        buf *= momentum
        buf += tmp
        xp.multiply(buf, lr, out=tmp)
    else:
        tmp *= lr
    data -= tmp


__all__ = [
    "bias_relu", "relu_grad_bias", "softmax_xent", "xent_grad", "softmax_xent_grad",
    "sgd_momentum", "adam", "rmsprop",
]  # fmt: skip
