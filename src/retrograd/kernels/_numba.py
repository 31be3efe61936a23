"""The Numba versions of the kernels in ``_numpy.py`` (same names, same results).

Imported only when a kernel is first used (see ``retrograd.kernels``). Each compiled
function is cached on disk by Numba (``cache=True``), so a new process loads it instead
of compiling it again. Elementwise work over large arrays runs in parallel (``prange``
over rows); small arrays take the serial loop, where starting threads would cost more
than the work.
"""

from __future__ import annotations

import math
from typing import Any

import numba
import numpy as np

#: From this many elements on, the elementwise kernels run their parallel version.
PARALLEL_MIN = 1 << 20
#: Elements per task of the parallel optimizer updates.
CHUNK = 1 << 14

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
    if (
        z.ndim != 2
        or not z.flags.c_contiguous
        or (b is not None and (b.dtype != z.dtype or b.shape != z.shape[1:]))
    ):
        # (a bias of another dtype: NumPy adds in the wider type, then rounds; a bias of
        # another length, e.g. a parameter replaced between replays: the loop would read
        # past its end, NumPy broadcasts it or says why not)
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


@_jit
def _softmax_xent_grad(z, flat, scale, grad):  # pragma: no cover - compiled
    # _softmax_xent then _xent_grad, row by row: the same float operations in the same
    # order (p rounded to the dtype before 1 is subtracted), without storing p.
    n, c = z.shape
    one = z.dtype.type(1)
    total = 0.0
    for i in range(n):
        row = z[i]
        out = grad[i]
        m = row[0]
        for j in range(1, c):
            v = row[j]
            if v > m or v != v:
                m = v
        acc = 0.0
        for j in range(c):
            e = np.exp(row[j] - m)
            out[j] = e
            acc += e
        se = z.dtype.type(acc)
        t = flat[i] - i * c
        for j in range(c):
            v = out[j] / se
            if j == t:
                v = v - one
            out[j] = v * scale
        total += np.log(se) - (row[t] - m)
    return total


def softmax_xent_grad(z: Any, flat: Any, scale: Any) -> tuple:
    if z.ndim != 2 or not z.flags.c_contiguous or z.shape[0] == 0 or z.shape[1] > XENT_MAX_CLASSES:
        # what the two kernels do on their own here (each may take its NumPy twin)
        p, total = softmax_xent(z, flat)
        return xent_grad(p, flat, scale), total
    grad = np.empty_like(z)
    total = _softmax_xent_grad(z, flat, z.dtype.type(scale), grad)
    return grad, z.dtype.type(total)


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


# ------------------------------------------------------------ Adam, AdamW, RMSprop
# NOTE: error_model="numpy": a 0/0 (eps=0 and a zero second moment) gives NaN as in
# NumPy, instead of Numba's default ZeroDivisionError. Each line below is one NumPy call
# of the twin, element by element: the same roundings in the same order (no FMA: Numba
# does not contract a * b + c without fastmath), so the results are bitwise the twin's.
_ejit = numba.njit(cache=True, nogil=True, error_model="numpy")
_epjit = numba.njit(cache=True, nogil=True, parallel=True, error_model="numpy")
_einline = numba.njit(cache=True, nogil=True, inline="always", error_model="numpy")


@_einline
def _adam_range(data, grad, m, v, vmax, c, mode, ams, lo, hi):  # pragma: no cover - compiled
    # c: 1 - beta1, beta2, 1 - beta2, sqrt(bias2), eps, lr / bias1, wd or 1 - lr * wd
    # NOTE: the loop is here, not in a helper called per element: each call with array
    # arguments pays reference counting (~60 ns), 50x the arithmetic of an element.
    for i in range(lo, hi):
        d = data[i]
        g = grad[i]
        if mode == 2:  # AdamW: data *= 1 - lr * wd
            d = d * c[6]
        elif mode == 1:  # L2: g = data * wd; g += grad
            g = d * c[6]
            g = g + grad[i]
        t = g - m[i]
        t = t * c[0]
        mi = m[i] + t
        m[i] = mi
        vi = v[i] * c[1]
        t = g * g
        t = t * c[2]
        vi = vi + t
        v[i] = vi
        if ams:
            a = vmax[i]
            if not (a >= vi or a != a):  # np.maximum(vmax, v): NaN wins, ties keep vmax
                a = vi
            vmax[i] = a
            s = np.sqrt(a)
        else:
            s = np.sqrt(vi)
        s = s / c[3]
        s = s + c[4]
        s = mi / s
        s = s * c[5]
        data[i] = d - s


@_ejit
def _adam_serial(data, grad, m, v, vmax, c, mode, ams):  # pragma: no cover - compiled
    _adam_range(data, grad, m, v, vmax, c, mode, ams, 0, data.shape[0])


@_epjit
def _adam_parallel(data, grad, m, v, vmax, c, mode, ams):  # pragma: no cover - compiled
    n = data.shape[0]
    for k in numba.prange((n + CHUNK - 1) // CHUNK):
        _adam_range(data, grad, m, v, vmax, c, mode, ams, k * CHUNK, min(n, (k + 1) * CHUNK))


def _flat_views(arrays: tuple) -> tuple | None:
    """The arrays as 1-D views when all are C-contiguous float32/float64 of one shape."""
    first = arrays[0]
    dt, shape = first.dtype, first.shape
    if dt not in _FLOATS:
        return None
    for a in arrays:
        if a.dtype != dt or a.shape != shape or not a.flags.c_contiguous:
            return None
    return tuple(a.reshape(-1) for a in arrays)


_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))
#: Stand-ins for the buffers a variant does not use (never indexed). Empty arrays, not
#: another argument: LLVM vectorises a loop only when it can rule out that its arrays
#: overlap, and two arguments that are one array (10x slower) fail that check.
_NONE = {dt: np.empty(0, dt) for dt in _FLOATS}


def adam(
    data: Any, grad: Any, m: Any, v: Any, vmax: Any, step: int, lr: float, beta1: float,
    beta2: float, eps: float, wd: float, decoupled: bool,
) -> None:  # fmt: skip
    flat = _flat_views((data, grad, m, v) if vmax is None else (data, grad, m, v, vmax))
    if flat is None:
        from . import _numpy

        _numpy.adam(data, grad, m, v, vmax, step, lr, beta1, beta2, eps, wd, decoupled)
        return
    bias1 = 1.0 - beta1**step
    bias2_sqrt = math.sqrt(1.0 - beta2**step)
    mode = 0 if wd == 0.0 else (2 if decoupled else 1)
    # each constant rounded to the dtype once, as NumPy rounds a Python float it meets
    c = np.array(
        [1.0 - beta1, beta2, 1.0 - beta2, bias2_sqrt, eps, lr / bias1,
         (1.0 - lr * wd) if decoupled else wd],
        dtype=data.dtype,
    )  # fmt: skip
    ams = vmax is not None
    fn = _adam_parallel if data.size >= PARALLEL_MIN else _adam_serial
    fn(flat[0], flat[1], flat[2], flat[3], flat[4] if ams else _NONE[data.dtype], c, mode, ams)


@_einline
def _rmsprop_range(data, grad, v, ga, buf, c, wd_on, centered, mom_on, lo, hi):  # pragma: no cover
    # c: wd, alpha, 1 - alpha, eps, momentum, lr (the loop here: see _adam_range)
    for i in range(lo, hi):
        d = data[i]
        g = grad[i]
        if wd_on:
            g = d * c[0]
            g = g + grad[i]
        vi = v[i] * c[1]
        t = g * g
        t = t * c[2]
        vi = vi + t
        v[i] = vi
        if centered:
            a = ga[i]
            t = g - a
            t = t * c[2]
            a = a + t
            ga[i] = a
            t = a * a
            t = vi - t
            t = np.sqrt(t)
        else:
            t = np.sqrt(vi)
        t = t + c[3]
        t = g / t
        if mom_on:
            b = buf[i] * c[4]
            b = b + t
            buf[i] = b
            t = b * c[5]
        else:
            t = t * c[5]
        data[i] = d - t


@_ejit
def _rmsprop_serial(data, grad, v, ga, buf, c, wd_on, centered, mom_on):  # pragma: no cover
    _rmsprop_range(data, grad, v, ga, buf, c, wd_on, centered, mom_on, 0, data.shape[0])


@_epjit
def _rmsprop_parallel(data, grad, v, ga, buf, c, wd_on, centered, mom_on):  # pragma: no cover
    n = data.shape[0]
    for k in numba.prange((n + CHUNK - 1) // CHUNK):
        lo, hi = k * CHUNK, min(n, (k + 1) * CHUNK)
        _rmsprop_range(data, grad, v, ga, buf, c, wd_on, centered, mom_on, lo, hi)


def rmsprop(
    data: Any, grad: Any, v: Any, grad_avg: Any, buf: Any, lr: float, alpha: float,
    eps: float, wd: float, momentum: float,
) -> None:  # fmt: skip
    arrays = (data, grad, v) + tuple(a for a in (grad_avg, buf) if a is not None)
    flat = _flat_views(arrays)
    if flat is None:
        from . import _numpy

        _numpy.rmsprop(data, grad, v, grad_avg, buf, lr, alpha, eps, wd, momentum)
        return
    c = np.array([wd, alpha, 1.0 - alpha, eps, momentum, lr], dtype=data.dtype)
    d, g, vv = flat[:3]
    rest = list(flat[3:])
    ga = rest.pop(0) if grad_avg is not None else _NONE[data.dtype]
    bf = rest.pop(0) if buf is not None else _NONE[data.dtype]
    fn = _rmsprop_parallel if data.size >= PARALLEL_MIN else _rmsprop_serial
    fn(d, g, vv, ga, bf, c, wd != 0.0, grad_avg is not None, buf is not None)


__all__ = [
    "bias_relu", "relu_grad_bias", "softmax_xent", "xent_grad", "softmax_xent_grad",
    "sgd_momentum", "adam", "rmsprop",
]  # fmt: skip
