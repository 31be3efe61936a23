"""Numba versions of the recurrent-cell kernels in ``_rnn_numpy.py`` (same names, results).

Each kernel does in one pass over the (rows, B) blocks what its twin does in several
NumPy calls, in the same IEEE operation order per element (no fused multiply-add: Numba
does not contract without ``fastmath``), so the results are bitwise the twin's. The
transcendental functions stay with NumPy (``np.tanh`` between the kernels): NumPy's
SIMD float32 tanh runs ~80x faster than the scalar libm call a Numba loop makes.

Loops over large blocks run their rows in parallel (``prange``) from ``PARALLEL_MIN``
elements; at the sizes of a usual recurrent step (H * B ~ 10^4) the serial loop wins.
Compiled on first use, cached on disk (``cache=True``).
"""

from __future__ import annotations

from typing import Any

import numba
import numpy as np

from . import _rnn_numpy

#: From this many elements (of the largest block a kernel walks), the parallel version.
PARALLEL_MIN = 1 << 20

_jit = numba.njit(cache=True, nogil=True)
_pjit = numba.njit(cache=True, nogil=True, parallel=True)
_inline = numba.njit(cache=True, nogil=True, inline="always")


def _c_arrays(dtype: Any, *arrays: Any) -> bool:
    """All of ``dtype`` and C-contiguous: the one layout compiled (unit-stride rows, so
    LLVM vectorises the loops; a strided view would get a slower specialisation)."""
    for a in arrays:
        if a.dtype != dtype or not a.flags.c_contiguous:
            return False
    return True


# ---------------------------------------------------------------------------- LSTM
@_inline
def _lstm_fwd_cell_rows(St, cp, cn, lo, hi):  # pragma: no cover - compiled
    H, B = cn.shape
    half = St.dtype.type(0.5)
    for r in range(lo, hi):
        for b in range(B):
            o = St[r, b] * half + half
            i = St[H + r, b] * half + half
            f = St[2 * H + r, b] * half + half
            St[r, b] = o
            St[H + r, b] = i
            St[2 * H + r, b] = f
            cn[r, b] = f * cp[r, b] + i * St[3 * H + r, b]


@_jit
def _lstm_fwd_cell_serial(St, cp, cn):  # pragma: no cover - compiled
    _lstm_fwd_cell_rows(St, cp, cn, 0, cn.shape[0])


@_pjit
def _lstm_fwd_cell_parallel(St, cp, cn):  # pragma: no cover - compiled
    for r in numba.prange(cn.shape[0]):
        _lstm_fwd_cell_rows(St, cp, cn, r, r + 1)


def lstm_fwd_cell(St: Any, cp: Any, cn: Any, scratch: Any) -> None:
    if not _c_arrays(St.dtype, St, cp, cn):
        _rnn_numpy.lstm_fwd_cell(St, cp, cn, scratch)
        return
    (_lstm_fwd_cell_parallel if St.size >= PARALLEL_MIN else _lstm_fwd_cell_serial)(St, cp, cn)


@_jit
def _lstm_fwd_out(o, tc, ht, Z, col):  # pragma: no cover - compiled
    H, B = ht.shape
    for r in range(H):
        for b in range(B):
            v = o[r, b] * tc[r, b]
            ht[r, b] = v
            Z[r, col, b] = v


def lstm_fwd_out(o: Any, tc: Any, ht: Any, Z: Any, col: int) -> None:
    if not _c_arrays(ht.dtype, o, tc, ht, Z):
        _rnn_numpy.lstm_fwd_out(o, tc, ht, Z, col)
        return
    _lstm_fwd_out(o, tc, ht, Z, col)


@_inline
def _lstm_bwd_factors_steps(Sc, TC, Cp, P, A, lo, hi):  # pragma: no cover - compiled
    _, H, B = TC.shape
    one = Sc.dtype.type(1)
    for j in range(lo, hi):
        for r in range(H):
            for b in range(B):
                o = Sc[j, r, b]
                i = Sc[j, H + r, b]
                f = Sc[j, 2 * H + r, b]
                g = Sc[j, 3 * H + r, b]
                tc = TC[j, r, b]
                # s - s*s is s (1 - s) as the twin rounds it; then times the other factor
                P[j, r, b] = (o - o * o) * tc
                P[j, H + r, b] = (i - i * i) * g
                P[j, 2 * H + r, b] = (f - f * f) * Cp[j, r, b]
                P[j, 3 * H + r, b] = (one - g * g) * i
                A[j, r, b] = (one - tc * tc) * o


@_jit
def _lstm_bwd_factors_serial(Sc, TC, Cp, P, A):  # pragma: no cover - compiled
    _lstm_bwd_factors_steps(Sc, TC, Cp, P, A, 0, Sc.shape[0])


@_pjit
def _lstm_bwd_factors_parallel(Sc, TC, Cp, P, A):  # pragma: no cover - compiled
    for j in numba.prange(Sc.shape[0]):
        _lstm_bwd_factors_steps(Sc, TC, Cp, P, A, j, j + 1)


def lstm_bwd_factors(Sc: Any, TC: Any, Cp: Any, P: Any, A: Any) -> None:
    if not _c_arrays(Sc.dtype, Sc, TC, Cp, P, A):
        _rnn_numpy.lstm_bwd_factors(Sc, TC, Cp, P, A)
        return
    fn = _lstm_bwd_factors_parallel if P.size >= PARALLEL_MIN else _lstm_bwd_factors_serial
    fn(Sc, TC, Cp, P, A)


@_inline
def _lstm_bwd_step_rows(dh, gyt, has_gy, A, P, F, dc, G, j, dhbuf, lo, hi):  # pragma: no cover
    H, B = dc.shape
    for r in range(lo, hi):
        for b in range(B):
            d = dh[r, b] + gyt[r, b] if has_gy else dh[r, b]
            dhbuf[r, b] = d
            c = dc[r, b] + d * A[r, b]
            G[r, j, b] = d * P[r, b]
            G[H + r, j, b] = c * P[H + r, b]
            G[2 * H + r, j, b] = c * P[2 * H + r, b]
            G[3 * H + r, j, b] = c * P[3 * H + r, b]
            dc[r, b] = c * F[r, b]


@_jit
def _lstm_bwd_step_serial(dh, gyt, has_gy, A, P, F, dc, G, j, dhbuf):  # pragma: no cover
    _lstm_bwd_step_rows(dh, gyt, has_gy, A, P, F, dc, G, j, dhbuf, 0, dc.shape[0])


@_pjit
def _lstm_bwd_step_parallel(dh, gyt, has_gy, A, P, F, dc, G, j, dhbuf):  # pragma: no cover
    for r in numba.prange(dc.shape[0]):
        _lstm_bwd_step_rows(dh, gyt, has_gy, A, P, F, dc, G, j, dhbuf, r, r + 1)


def lstm_bwd_step(
    dh: Any,
    gyt: Any,
    A: Any,
    P: Any,
    F: Any,
    dc: Any,
    G: Any,
    j: int,
    dhbuf: Any,
    u: Any,
    keep: bool,
) -> Any:
    has_gy = gyt is not None
    if has_gy and gyt.dtype == dh.dtype:
        gyt = np.ascontiguousarray(gyt)  # (a transposed view in the layer; rare steps)
    if not _c_arrays(dh.dtype, dh, gyt if has_gy else dh, A, P, F, dc, G, dhbuf):
        return _rnn_numpy.lstm_bwd_step(dh, gyt, A, P, F, dc, G, j, dhbuf, u, keep)
    fn = _lstm_bwd_step_parallel if P.size * 2 >= PARALLEL_MIN else _lstm_bwd_step_serial
    # dh_t always lands in dhbuf (the same values the twin returns, wherever it keeps them)
    fn(dh, gyt if has_gy else dh, has_gy, A, P, F, dc, G, j, dhbuf)
    return dhbuf


# ----------------------------------------------------------------------------- GRU
@_inline
def _gru_fwd_gates_rows(rz, gh, bhn, has_b, xn, ghn, nt, lo, hi):  # pragma: no cover
    H, B = nt.shape
    half = rz.dtype.type(0.5)
    for r in range(lo, hi):
        for b in range(B):
            rv = rz[r, b] * half + half
            rz[r, b] = rv
            rz[H + r, b] = rz[H + r, b] * half + half
            g = gh[2 * H + r, b] + bhn[r, 0] if has_b else gh[2 * H + r, b]
            ghn[r, b] = g
            nt[r, b] = rv * g + xn[r, b]


@_jit
def _gru_fwd_gates_serial(rz, gh, bhn, has_b, xn, ghn, nt):  # pragma: no cover - compiled
    _gru_fwd_gates_rows(rz, gh, bhn, has_b, xn, ghn, nt, 0, nt.shape[0])


@_pjit
def _gru_fwd_gates_parallel(rz, gh, bhn, has_b, xn, ghn, nt):  # pragma: no cover - compiled
    for r in numba.prange(nt.shape[0]):
        _gru_fwd_gates_rows(rz, gh, bhn, has_b, xn, ghn, nt, r, r + 1)


def gru_fwd_gates(rz: Any, gh: Any, bhn: Any, xn: Any, ghn: Any, nt: Any) -> None:
    dt = rz.dtype
    if not _c_arrays(dt, rz, gh, xn, ghn, nt) or (
        bhn is not None and (bhn.ndim != 2 or not _c_arrays(dt, bhn))
    ):
        _rnn_numpy.gru_fwd_gates(rz, gh, bhn, xn, ghn, nt)
        return
    has_b = bhn is not None
    fn = _gru_fwd_gates_parallel if gh.size >= PARALLEL_MIN else _gru_fwd_gates_serial
    fn(rz, gh, bhn if has_b else gh, has_b, xn, ghn, nt)


@_jit
def _gru_fwd_out(hp, nt, z, hn):  # pragma: no cover - compiled
    H, B = hn.shape
    for r in range(H):
        for b in range(B):
            n = nt[r, b]
            hn[r, b] = (hp[r, b] - n) * z[r, b] + n


def gru_fwd_out(hp: Any, nt: Any, z: Any, hn: Any) -> None:
    if not _c_arrays(hp.dtype, hp, nt, z, hn):
        _rnn_numpy.gru_fwd_out(hp, nt, z, hn)
        return
    _gru_fwd_out(hp, nt, z, hn)


@_inline
def _gru_bwd_step_rows(
    dh, gyt, has_gy, r_, z_, nt, ghn, hp, validt, has_v, dht, a, Et, lo, hi
):  # pragma: no cover - compiled
    H, B = z_.shape
    one = z_.dtype.type(1)
    zero = z_.dtype.type(0)
    for row in range(lo, hi):
        for b in range(B):
            d = dh[row, b] + gyt[row, b] if has_gy else dh[row, b]
            dht[row, b] = d
            z = z_[row, b]
            r = r_[row, b]
            n = nt[row, b]
            omz = one - z
            dan = ((one - n * n) * omz) * d
            dar = dan * (((one - r) * r) * ghn[row, b])
            daz = (((hp[row, b] - n) * d) * omz) * z
            dnr = dan * r
            direct = d * z
            if has_v:
                v = validt[0, b]
                dan *= v
                dar *= v
                daz *= v
                dnr *= v
                if v == zero:
                    direct = d
            Et[row, b] = dan
            Et[H + row, b] = dar
            Et[2 * H + row, b] = daz
            Et[3 * H + row, b] = dnr
            a[row, b] = direct


@_jit
def _gru_bwd_step_serial(
    dh, gyt, has_gy, r_, z_, nt, ghn, hp, validt, has_v, dht, a, Et
):  # pragma: no cover - compiled
    _gru_bwd_step_rows(
        dh, gyt, has_gy, r_, z_, nt, ghn, hp, validt, has_v, dht, a, Et, 0, z_.shape[0]
    )


@_pjit
def _gru_bwd_step_parallel(
    dh, gyt, has_gy, r_, z_, nt, ghn, hp, validt, has_v, dht, a, Et
):  # pragma: no cover - compiled
    for row in numba.prange(z_.shape[0]):
        _gru_bwd_step_rows(
            dh, gyt, has_gy, r_, z_, nt, ghn, hp, validt, has_v, dht, a, Et, row, row + 1
        )


def gru_bwd_step(
    dh: Any,
    gyt: Any,
    r: Any,
    z: Any,
    nt: Any,
    ghn: Any,
    hp: Any,
    validt: Any,
    dht: Any,
    a: Any,
    omz: Any,
    Et: Any,
) -> None:
    dt = dh.dtype
    if gyt is not None and gyt.dtype == dt:
        gyt = np.ascontiguousarray(gyt)  # (a transposed view in the layer; rare steps)
    if (
        not _c_arrays(dt, dh, r, z, nt, ghn, hp, dht, a, Et)
        or (gyt is not None and not _c_arrays(dt, gyt))
        or (validt is not None and (validt.ndim != 2 or not _c_arrays(dt, validt)))
    ):
        _rnn_numpy.gru_bwd_step(dh, gyt, r, z, nt, ghn, hp, validt, dht, a, omz, Et)
        return
    has_gy, has_v = gyt is not None, validt is not None
    fn = _gru_bwd_step_parallel if Et.size >= PARALLEL_MIN else _gru_bwd_step_serial
    fn(dh, gyt if has_gy else dh, has_gy, r, z, nt, ghn, hp, validt if has_v else dh, has_v,
       dht, a, Et)  # fmt: skip


__all__ = list(_rnn_numpy.__all__)
