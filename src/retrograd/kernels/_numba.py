"""The Numba versions of the kernels in ``_numpy.py`` (same names, same results).

Imported only when a kernel is first used (see ``retrograd.kernels``). Each compiled
function is cached on disk by Numba (``cache=True``), so a new process loads it instead
of compiling it again. Elementwise work over large arrays runs in parallel (``prange``
over rows); small arrays take the serial loop, where starting threads would cost more
than the work.
"""

from __future__ import annotations

from typing import Any

import numba
import numpy as np

#: From this many elements on, the elementwise kernels run their parallel version.
PARALLEL_MIN = 1 << 20

_jit = numba.njit(cache=True, nogil=True)
_pjit = numba.njit(cache=True, nogil=True, parallel=True)


# ------------------------------------------------------------------- bias + ReLU
def _bias_relu_rows(z, b, lo, hi):  # pragma: no cover - compiled
    zero = z.dtype.type(0)
    for i in range(lo, hi):
        row = z[i]
        for j in range(row.shape[0]):
            v = row[j] + b[j]
            # NaN stays NaN, -0 becomes +0: what np.maximum(v, 0) gives
            row[j] = v if (v > zero or v != v) else zero


def _relu_rows(z, lo, hi):  # pragma: no cover - compiled
    zero = z.dtype.type(0)
    for i in range(lo, hi):
        row = z[i]
        for j in range(row.shape[0]):
            v = row[j]
            row[j] = v if (v > zero or v != v) else zero


_bias_relu_rows_c = numba.njit(cache=True, nogil=True, inline="always")(_bias_relu_rows)
_relu_rows_c = numba.njit(cache=True, nogil=True, inline="always")(_relu_rows)


@_jit
def _bias_relu_serial(z, b):  # pragma: no cover - compiled
    _bias_relu_rows_c(z, b, 0, z.shape[0])


@_pjit
def _bias_relu_parallel(z, b):  # pragma: no cover - compiled
    for i in numba.prange(z.shape[0]):
        _bias_relu_rows_c(z, b, i, i + 1)


@_jit
def _relu_serial(z):  # pragma: no cover - compiled
    _relu_rows_c(z, 0, z.shape[0])


@_pjit
def _relu_parallel(z):  # pragma: no cover - compiled
    for i in numba.prange(z.shape[0]):
        _relu_rows_c(z, i, i + 1)


def bias_relu(z: Any, b: Any) -> Any:
    if z.ndim != 2 or not z.flags.c_contiguous or (b is not None and b.dtype != z.dtype):
        # (a bias of another dtype: NumPy adds in the wider type, then rounds)
        from . import _numpy

        return _numpy.bias_relu(z, b)
    big = z.size >= PARALLEL_MIN
    if b is None:
        (_relu_parallel if big else _relu_serial)(z)
    else:
        (_bias_relu_parallel if big else _bias_relu_serial)(z, b)
    return z


# ------------------------------------------------- ReLU gradient + bias gradient
@_jit
def _relu_grad_bias_serial(g, out, gm, gb):  # pragma: no cover - compiled
    zero = out.dtype.type(0)
    one = g.dtype.type(1)
    n, c = g.shape
    for j in range(c):
        gb[j] = zero
    for i in range(n):
        for j in range(c):
            # NOTE: g * 1 or g * 0 (not a branch), so inf/NaN gradients give NaN and
            # negative ones -0, as g * (out > 0) does.
            v = g[i, j] * (one if out[i, j] > zero else zero)
            gm[i, j] = v
            # row by row from +0, the order of add.reduce (one row: the row itself)
            gb[j] = v if n == 1 else gb[j] + v


@_pjit
def _relu_grad_bias_parallel(g, out, gm, gb):  # pragma: no cover - compiled
    zero = out.dtype.type(0)
    one = g.dtype.type(1)
    n, c = g.shape
    for i in numba.prange(n):
        for j in range(c):
            gm[i, j] = g[i, j] * (one if out[i, j] > zero else zero)
    # column sums, each over the rows in order (columns split between the threads)
    for j in numba.prange(c):
        acc = zero
        for i in range(n):
            acc += gm[i, j]
        gb[j] = gm[0, j] if n == 1 else acc


def relu_grad_bias(g: Any, out: Any) -> tuple:
    if g.ndim != 2 or g.dtype != out.dtype or not g.flags.c_contiguous or g.shape[0] == 0:
        from . import _numpy

        return _numpy.relu_grad_bias(g, out)
    gm = np.empty_like(g)
    gb = np.empty(g.shape[1], dtype=g.dtype)
    fn = _relu_grad_bias_parallel if g.size >= PARALLEL_MIN else _relu_grad_bias_serial
    fn(g, out, gm, gb)
    return gm, gb


# ------------------------------------------------------ softmax cross-entropy
@_jit
def _softmax_xent(z, flat, p):  # pragma: no cover - compiled
    # NOTE: the sums accumulate in float64 and are rounded once: NumPy sums pairwise,
    # a plain float32 loop would drift from it by ~sqrt(n) ulps (1e-6 at 300 classes).
    n, c = z.shape
    total = 0.0
    for i in range(n):
        row = z[i]
        m = row[0]
        for j in range(1, c):
            v = row[j]
            if v > m or v != v:  # NaN propagates, as maximum.reduce
                m = v
        acc = 0.0
        for j in range(c):
            e = np.exp(row[j] - m)
            p[i, j] = e
            acc += e
        se = z.dtype.type(acc)
        for j in range(c):
            p[i, j] /= se
        t = flat[i] - i * c
        total += np.log(se) - (row[t] - m)
    return total


#: Rows longer than this take the NumPy twin: its vectorised exp beats the scalar one.
XENT_MAX_CLASSES = 64


def softmax_xent(z: Any, flat: Any) -> tuple:
    if z.ndim != 2 or not z.flags.c_contiguous or z.shape[0] == 0 or z.shape[1] > XENT_MAX_CLASSES:
        from . import _numpy

        return _numpy.softmax_xent(z, flat)
    p = np.empty_like(z)
    total = _softmax_xent(z, flat, p)
    return p, z.dtype.type(total)


@_jit
def _xent_grad(p, flat, scale, grad):  # pragma: no cover - compiled
    n, c = p.shape
    one = p.dtype.type(1)
    for i in range(n):
        t = flat[i] - i * c
        for j in range(c):
            v = p[i, j]
            if j == t:
                v = v - one
            grad[i, j] = v * scale


def xent_grad(p: Any, flat: Any, scale: Any) -> Any:
    if p.ndim != 2 or not p.flags.c_contiguous:
        from . import _numpy

        return _numpy.xent_grad(p, flat, scale)
    grad = np.empty_like(p)
    _xent_grad(p, flat, p.dtype.type(scale), grad)
    return grad


# ---------------------------------------------------------------- SGD momentum
@_jit
def _sgd_momentum_serial(data, grad, buf, lr, momentum):  # pragma: no cover - compiled
    lr_, m = lr[()], momentum[()]
    for i in range(data.shape[0]):
        b = buf[i] * m + grad[i]  # two roundings, as buf *= m; buf += g
        buf[i] = b
        data[i] -= lr_ * b


@_pjit
def _sgd_momentum_parallel(data, grad, buf, lr, momentum):  # pragma: no cover - compiled
    lr_, m = lr[()], momentum[()]
    for i in numba.prange(data.shape[0]):
        b = buf[i] * m + grad[i]
        buf[i] = b
        data[i] -= lr_ * b


def sgd_momentum(data: Any, grad: Any, buf: Any, lr: Any, momentum: Any) -> None:
    dt = data.dtype
    if (
        data.ndim != 1
        or grad.dtype != dt
        or buf.dtype != dt
        or lr.dtype != dt
        or momentum.dtype != dt
        or not (data.flags.c_contiguous and grad.flags.c_contiguous and buf.flags.c_contiguous)
        or not data.shape == grad.shape == buf.shape
    ):
        if data.ndim != 1 and data.flags.c_contiguous and grad.flags.c_contiguous:
            data, grad = data.reshape(-1), grad.reshape(-1)
            if buf.flags.c_contiguous and buf.size == data.size:
                return sgd_momentum(data, grad, buf.reshape(-1), lr, momentum)
        from . import _numpy

        _numpy.sgd_momentum(data, grad, buf, lr, momentum)
        return
    fn = _sgd_momentum_parallel if data.shape[0] >= PARALLEL_MIN else _sgd_momentum_serial
    fn(data, grad, buf, lr, momentum)


__all__ = ["bias_relu", "relu_grad_bias", "softmax_xent", "xent_grad", "sgd_momentum"]
