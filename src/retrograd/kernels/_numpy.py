"""The NumPy twins: what each kernel computes, written as the ops compute it without Numba.

Each function here is the reference for the function of the same name in ``_numba.py``.
"""

from __future__ import annotations

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


def sgd_momentum(data: Any, grad: Any, buf: Any, lr: Any, momentum: Any) -> None:
    """``buf = momentum * buf + grad; data -= lr * buf`` in place (0-d lr, momentum)."""
    buf *= momentum
    buf += grad
    data -= lr * buf


__all__ = ["bias_relu", "relu_grad_bias", "softmax_xent", "xent_grad", "sgd_momentum"]
