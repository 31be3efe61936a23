"""Numba versions of the convolution and pooling kernels in ``_spatial_numpy.py``.

Same names, same results to the bit: each kernel does the twin's IEEE operations in the
twin's order per element, in one pass where the twin makes several (the pool's gradient
routing and its scatter into the col2im frame; the col2im's slab-adds, crop and
transpose). The matrix products stay NumPy calls, made exactly as the twin makes them.
Compiled on first use, cached on disk (``cache=True``).
"""

from __future__ import annotations

from typing import Any

import numba
import numpy as np

from . import _spatial_numpy

_jit = numba.njit(cache=True, nogil=True)


def _c_arrays(dtype: Any, *arrays: Any) -> bool:
    for a in arrays:
        if a.dtype != dtype or not a.flags.c_contiguous:
            return False
    return True


# ---------------------------------------------------------- bias + 2x2 max-pool + ReLU
@numba.njit(cache=True, nogil=True, inline="always")
def _max(a, b):  # pragma: no cover - compiled
    # np.maximum: NaN propagates (either side)
    return a if (a >= b or a != a) else b


@numba.njit(cache=True, nogil=True, inline="always")
def _pool_run(z, S, lo, n, b, b0, bstep, pooled, pos, t01, t23, tv):  # pragma: no cover
    # elements lo .. lo + n of every block; bias b[b0 + u * bstep] (bstep 0: one value).
    # Views, so that every index is a loop counter from 0 and LLVM vectorises the loop.
    zero = z.dtype.type(0)
    z0, z1 = z[lo : lo + n], z[S + lo : S + lo + n]
    z2, z3 = z[2 * S + lo : 2 * S + lo + n], z[3 * S + lo : 3 * S + lo + n]
    po, ps = pooled[lo : lo + n], pos[lo : lo + n]
    u01, u23, uv = t01[lo : lo + n], t23[lo : lo + n], tv[lo : lo + n]
    bv = b[b0:]
    for u in range(n):
        bias = bv[u * bstep]
        a0 = z0[u] + bias
        a1 = z1[u] + bias
        a2 = z2[u] + bias
        a3 = z3[u] + bias
        u01[u] = a1 > a0
        u23[u] = a3 > a2
        h0 = _max(a0, a1)
        h1 = _max(a2, a3)
        uv[u] = h1 > h0
        p = _max(h0, h1)
        # ReLU as np.maximum(p, 0) gives it: NaN stays NaN, -0 (and any p <= 0) becomes
        # +0; so a signed-zero tie inside the window cannot show in the output
        p = p if (p > zero or p != p) else zero
        po[u] = p
        ps[u] = p > zero


@_jit
def _relu_pool2_fwd(z, b, rows, o, L, pooled, pos, t01, t23, tv):  # pragma: no cover
    S = pooled.shape[0]
    if rows:
        for r in range(S // o):
            _pool_run(z, S, r * o, o, b, 0, 1, pooled, pos, t01, t23, tv)
    else:
        for blk in range(S // L):
            _pool_run(z, S, blk * L, L, b, blk % o, 0, pooled, pos, t01, t23, tv)


def relu_pool2_fwd(z: Any, b: Any, rows: bool) -> tuple:
    if not _c_arrays(z.dtype, z) or (b is not None and not _c_arrays(z.dtype, b)):
        return _spatial_numpy.relu_pool2_fwd(z, b, rows)
    o = z.shape[1]
    S = z.size // 4
    L = 1 if rows else z.shape[2]
    pooled = np.empty(S, dtype=z.dtype)
    pos, t01, t23, tv = (np.empty(S, dtype=bool) for _ in range(4))
    # no bias: zeros (x + 0 is x, but -0 + 0 is +0: only ReLU's output sees it, as +0)
    b = np.zeros(o, dtype=z.dtype) if b is None else b
    _relu_pool2_fwd(z.reshape(-1), b, bool(rows), o, L, pooled, pos, t01, t23, tv)
    return pooled, pos, (t01, t23, tv)


# --------------------------------------------------------- ReLU -> 2x2 max-pool backward
@numba.njit(cache=True, nogil=True, inline="always")
def _block_index(nn, oc, y, x, o, ph, pw, rows):  # pragma: no cover - compiled
    # flat position of pooled element (nn, oc, y, x) in the block order
    if rows:
        return ((nn * ph + y) * pw + x) * o + oc
    return ((nn * o + oc) * ph + y) * pw + x


@_jit
def _relu_pool2_bwd(g, pos, t01, t23, tv, rows, gp, dz, ge, has_ge):  # pragma: no cover
    n, o, ph, pw = g.shape
    L = ph * pw
    one = g.dtype.type(1)
    zero = g.dtype.type(0)
    gf = g.reshape(-1)
    size = gf.shape[0]
    # gp = g * mask is all finite exactly when g is (inf * 0 and NaN * x are NaN);
    # v - v is NaN for inf and NaN, +0 else: a branch-free check LLVM vectorises.
    chk = zero
    for i in range(size):
        v = gf[i]
        chk += v - v
    finite = chk == zero
    if rows:
        for nn in range(n):
            for oc in range(o):
                src = g[nn, oc].reshape(-1)
                for u in range(L):
                    e = (nn * L + u) * o + oc
                    gp[e] = src[u] * (one if pos[e] else zero)
    else:
        for i in range(size):
            gp[i] = gf[i] * (one if pos[i] else zero)
    d0v, d1v, d2v, d3v = dz[0], dz[1], dz[2], dz[3]
    for e in range(size):
        a = gp[e]
        if finite:
            # the twin's a - a * t arithmetic (signed zeros included)
            d2 = a * (one if tv[e] else zero)
            d0 = a - d2
            d1 = d0 * (one if t01[e] else zero)
            d0 = d0 - d1
            d3 = d2 * (one if t23[e] else zero)
            d2 = d2 - d3
        else:
            top = zero if tv[e] else a
            bot = a if tv[e] else zero
            d0 = zero if t01[e] else top
            d1 = top if t01[e] else zero
            d2 = zero if t23[e] else bot
            d3 = bot if t23[e] else zero
        d0v[e] = d0
        d1v[e] = d1
        d2v[e] = d2
        d3v[e] = d3
    if has_ge:
        for nn in range(n):
            for oc in range(o):
                for y in range(ph):
                    for x in range(pw):
                        e = _block_index(nn, oc, y, x, o, ph, pw, rows)
                        ge[oc, nn, 2 * y, 2 * x] = d0v[e]
                        ge[oc, nn, 2 * y, 2 * x + 1] = d1v[e]
                        ge[oc, nn, 2 * y + 1, 2 * x] = d2v[e]
                        ge[oc, nn, 2 * y + 1, 2 * x + 1] = d3v[e]


def relu_pool2_bwd(g: Any, pos: Any, t01: Any, t23: Any, tv: Any, rows: bool, ge: Any) -> tuple:
    if (
        g.ndim != 4
        or not _c_arrays(g.dtype, g)
        or not _c_arrays(np.dtype(bool), pos, t01, t23, tv)
        or (ge is not None and not _c_arrays(g.dtype, ge))
    ):
        return _spatial_numpy.relu_pool2_bwd(g, pos, t01, t23, tv, rows, ge)
    gp = np.empty(pos.shape, dtype=g.dtype)
    dz = np.empty((4, gp.size), dtype=g.dtype)
    has_ge = ge is not None
    _relu_pool2_bwd(g, pos, t01, t23, tv, bool(rows), gp, dz, ge if has_ge else g, has_ge)
    return gp, dz


# ---------------------------------------------------------------------- col2im, stride 1
@_jit
def _col2im_gather(d, offs, n0, nc, hp, wp, t, left, gx):  # pragma: no cover - compiled
    # gx[n0 + q, c] = the cropped frame of image q: the twin's running sum at each frame
    # position p (flat within the chunk), offset 0's column first, then each later
    # offset whose shift reaches p, in order. An image's plane is summed in a small
    # buffer (in L1) with the offset loop outside, so the inner loop is a contiguous
    # add LLVM vectorises, then its rows are written straight into gx (NCHW).
    c, nk, _ = d.shape
    h, wd = gx.shape[2], gx.shape[3]
    hv = min(h, hp - t)
    wv = min(wd, wp - left)
    f = hp * wp
    plane = np.empty(f, dtype=d.dtype)
    for cc in range(c):
        for q in range(nc):
            start = q * f
            src = d[cc, 0, start : start + f]
            for u in range(f):
                plane[u] = src[u]
            for m in range(1, nk):
                # NOTE: views, so that every index is a loop counter from 0 (no negative-
                # index wraparound check, which would keep LLVM from vectorising)
                lo = max(offs[m] - start, 0)
                dst = plane[lo:]
                src = d[cc, m, start + lo - offs[m] : start + f - offs[m]]
                for u in range(dst.shape[0]):
                    dst[u] += src[u]
            for y in range(hv):
                r0 = (t + y) * wp + left
                row = gx[n0 + q, cc, y]
                src = plane[r0 : r0 + wv]
                for x in range(wv):
                    row[x] = src[x]


def col2im_stride1(ge: Any, wmat: Any, xshape: tuple, pads: tuple, kh: int, kw: int, dil: tuple):
    if not _c_arrays(ge.dtype, ge) or wmat.dtype != ge.dtype:
        return _spatial_numpy.col2im_stride1(ge, wmat, xshape, pads, kh, kw, dil)
    o, n, hp, wp = ge.shape
    k = wmat.shape[1]
    c = k // (kh * kw)
    f = hp * wp
    offs = np.array([i * dil[0] * wp + j * dil[1] for i in range(kh) for j in range(kw)])
    (t, _), (left, _) = pads
    h, wd = xshape[2:]
    # the chunks and products exactly as the twin makes them (the same bits)
    wt = wmat.T
    gen = ge.reshape(o, n, f)
    per = max(1, min(n, _spatial_numpy.COL2IM_CHUNK_BYTES // (k * f * ge.itemsize)))
    flat = np.empty(k * per * f, dtype=ge.dtype)
    full = t + h <= hp and left + wd <= wp
    gx = (np.empty if full else np.zeros)((n, c, h, wd), dtype=ge.dtype)
    for n0 in range(0, n, per):
        nc = min(per, n - n0)
        lc = nc * f
        d = flat[: k * lc].reshape(k, nc, f)
        np.matmul(wt, gen[:, n0 : n0 + nc].transpose(1, 0, 2), out=d.transpose(1, 0, 2))
        _col2im_gather(d.reshape(c, kh * kw, lc), offs, n0, nc, hp, wp, t, left, gx)
    return gx


# ------------------------------------------------------------------- generic max-pool
_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))


@numba.njit(cache=True, nogil=True, inline="always")
def _fold(m, best, v, k):  # pragma: no cover - compiled
    # One window element v at offset k: the arg-max is the twin backward's (the first
    # maximum, or the last NaN: v > m | v is NaN), the running value np.maximum(m, v)
    # (m when m > v or m is NaN, else v: a tie takes the later value, which decides
    # the sign of a zero maximum). Selects, no branches.
    best = k if ((v > m) | (v != v)) else best
    m = m if ((m > v) | (m != m)) else v
    return m, best


@numba.njit(cache=True, nogil=True, inline="always")
def _phase_layout(oh, ow, dy, dx, sh, sw):  # pragma: no cover - compiled
    # The stride-phase planes (see _max_pool_fwd): the padded extent the windows reach
    # (hp, wp), a phase plane's size (hq, wq), the frame's length and each offset's
    # phase and shift in it.
    nk = dy.shape[0]
    hp = (oh - 1) * sh + dy[nk - 1] + 1
    wp = (ow - 1) * sw + dx[nk - 1] + 1
    hq = (hp + sh - 1) // sh
    wq = (wp + sw - 1) // sw
    k_ph = (dy % sh) * sw + dx % sw
    k_off = (dy // sh) * wq + dx // sw
    return hp, wp, hq, wq, (oh - 1) * wq + ow, k_ph, k_off


@numba.njit(cache=True, nogil=True, inline="always")
def _phase_copy(plane, ph, hv, wv, sh, sw, pt, pl, wq, into):  # pragma: no cover
    # rows < hv, columns < wv of an (H, W) plane into its phase planes (into), or back
    for y in range(hv):
        c, rq = (pt + y) % sh, (pt + y) // sh
        for a in range(sw):
            x0 = (a - pl) % sw  # the first column of phase a
            if x0 >= wv:
                continue
            j0 = (pl + x0) // sw
            cnt = (wv - x0 + sw - 1) // sw
            q = ph[c * sw + a, rq * wq + j0 : rq * wq + j0 + cnt]
            r = plane[y, x0::sw]
            if into:
                for j in range(cnt):
                    q[j] = r[j]
            else:
                for j in range(cnt):
                    r[j] = q[j]


@_jit
def _max_pool_fwd(x, dy, dx, sh, sw, pt, pl, out, idx):  # pragma: no cover - compiled
    # Each plane of x (P, H, W) is split, with the -inf padding, into sh * sw phase
    # planes (padded rows c, c + sh, ... and columns a, a + sw, ...; space-to-depth), in
    # which every window offset is a plain shift: output (oy, ox) reads phase
    # (dy % sh, dx % sw) at (oy + dy // sh, ox + dx // sw). So each offset is one long
    # contiguous pass over a frame of the outputs (row pitch wq, the columns past ow
    # unused) that LLVM vectorises, offsets in the twin's (row-major) order. Each
    # element is folded in as _fold does; a padding cell is the twin's -inf.
    h, w = x.shape[1], x.shape[2]
    oh, ow = out.shape[1], out.shape[2]
    nk = dy.shape[0]
    hp, wp, hq, wq, n, k_ph, k_off = _phase_layout(oh, ow, dy, dx, sh, sw)
    ninf = x.dtype.type(-np.inf)
    ph = np.full((sh * sw, hq * wq), ninf, dtype=x.dtype)  # borders stay -inf
    fm = np.empty(n, dtype=x.dtype)
    fb = np.empty(n, dtype=idx.dtype)
    hv = min(h, hp - pt)  # input rows and columns some window reaches
    wv = min(w, wp - pl)
    for p in range(x.shape[0]):
        _phase_copy(x[p], ph, hv, wv, sh, sw, pt, pl, wq, True)
        for u in range(n):
            fm[u] = ninf
            fb[u] = 0
        for k in range(nk):
            src = ph[k_ph[k], k_off[k] : k_off[k] + n]
            kk = fb.dtype.type(k)
            for u in range(n):
                # _fold, written out over the arrays
                v = src[u]
                m = fm[u]
                fb[u] = kk if ((v > m) | (v != v)) else fb[u]
                fm[u] = m if ((m > v) | (m != m)) else v
        for oy in range(oh):
            orow, irow = out[p, oy], idx[p, oy]
            sm, sb = fm[oy * wq : oy * wq + ow], fb[oy * wq : oy * wq + ow]
            for u in range(ow):
                orow[u] = sm[u]
                irow[u] = sb[u]


@_jit
def _max_pool2x2_fwd(x, p0, p1, out, idx):  # pragma: no cover - compiled
    # 2x2 windows, stride 2, no padding or dilation (the common pool): _max_pool_fwd
    # with the window unrolled (m = -inf folded with the first element gives it).
    oh, ow = out.shape[1], out.shape[2]
    for p in range(p0, p1):
        for oy in range(oh):
            r0, r1 = x[p, 2 * oy], x[p, 2 * oy + 1]
            orow, irow = out[p, oy], idx[p, oy]
            for u in range(ow):
                m, best = _fold(r0[2 * u], 0, r0[2 * u + 1], 1)
                m, best = _fold(m, best, r1[2 * u], 2)
                m, best = _fold(m, best, r1[2 * u + 1], 3)
                orow[u] = m
                irow[u] = best


@_jit
def _all_finite(g):  # pragma: no cover - compiled
    # v - v is NaN for inf and NaN, +0 else: a branch-free check LLVM vectorises
    gf = g.reshape(-1)
    chk = g.dtype.type(0)
    for i in range(gf.shape[0]):
        v = gf[i]
        chk += v - v
    return chk == 0


@_jit
def _max_pool_bwd_disjoint(g, idx, p0, p1, kh, kw, finite, gx):  # pragma: no cover
    # stride = kernel, no padding or dilation: every covered input element is written
    # once, as the twin writes it: g * 1 or g * 0 (a zero with g's sign) when g is
    # finite, else g or +0; rows and columns no window covers get 0.
    oh, ow = g.shape[1], g.shape[2]
    h, w = gx.shape[1], gx.shape[2]
    one = g.dtype.type(1)
    zero = g.dtype.type(0)
    for p in range(p0, p1):
        for oy in range(oh):
            grow, irow = g[p, oy], idx[p, oy]
            for i in range(kh):
                row = gx[p, oy * kh + i]
                if kh == 2 and kw == 2:  # the common pool, unrolled
                    r0 = row[0::2]
                    r1 = row[1::2]
                    if finite:
                        for u in range(ow):
                            b = irow[u] - 2 * i
                            gv = grow[u]
                            r0[u] = gv * (one if b == 0 else zero)
                            r1[u] = gv * (one if b == 1 else zero)
                    else:
                        for u in range(ow):
                            b = irow[u] - 2 * i
                            gv = grow[u]
                            r0[u] = gv if b == 0 else zero
                            r1[u] = gv if b == 1 else zero
                else:
                    for u in range(ow):
                        gv = grow[u]
                        b = irow[u] - i * kw
                        for j in range(kw):
                            if finite:
                                row[u * kw + j] = gv * (one if j == b else zero)
                            else:
                                row[u * kw + j] = gv if j == b else zero
                for col in range(ow * kw, w):
                    row[col] = zero
        for r in range(oh * kh, h):
            for col in range(w):
                gx[p, r, col] = zero


@_jit
def _max_pool_bwd_scatter(g, idx, p0, p1, dy, dx, sh, sw, pt, pl, gx):  # pragma: no cover
    # Overlapping windows (or padding, dilation): gx (zeros) += g at each window's
    # arg-max. The twin adds offset k's slab for k = 0, 1, ...; walking the windows
    # backwards in row-major order adds, at every input element, in that same order
    # (a later window reaches an element through an earlier offset). The twin's other
    # terms are zeros, which change no sum: the same sums, bit for bit.
    oh, ow = g.shape[1], g.shape[2]
    h, w = gx.shape[1], gx.shape[2]
    for p in range(p0, p1):
        gs, ids, gxs = g[p], idx[p], gx[p]
        for oy in range(oh - 1, -1, -1):
            for ox in range(ow - 1, -1, -1):
                k = ids[oy, ox]
                r = oy * sh - pt + dy[k]
                c = ox * sw - pl + dx[k]
                if 0 <= r < h and 0 <= c < w:
                    gxs[r, c] += gs[oy, ox]


@_jit
def _max_pool_bwd_phases(g, idx, dy, dx, sh, sw, pt, pl, gx):  # pragma: no cover - compiled
    # Overlapping windows as _max_pool_bwd_scatter, in _max_pool_fwd's stride-phase
    # planes: offset by offset in the twin's order, one contiguous pass over the frame
    # of the outputs adds g where the arg-max is that offset and +0 elsewhere (a zero
    # changes no sum here: the planes start at +0, so a sum is never -0), which LLVM
    # vectorises; then the planes are cropped into gx. Each element gets the twin's
    # sums in the twin's order. The frame's unused columns hold g = +0 and no offset.
    h, w = gx.shape[1], gx.shape[2]
    oh, ow = g.shape[1], g.shape[2]
    nk = dy.shape[0]
    hp, wp, hq, wq, n, k_ph, k_off = _phase_layout(oh, ow, dy, dx, sh, sw)
    zero = g.dtype.type(0)
    ph = np.empty((sh * sw, hq * wq), dtype=g.dtype)
    phf = ph.reshape(-1)
    gf = np.zeros(n, dtype=g.dtype)
    fb = np.full(n, nk, dtype=np.int64)
    hv = min(h, hp - pt)
    wv = min(w, wp - pl)
    for p in range(g.shape[0]):
        for u in range(phf.shape[0]):
            phf[u] = zero
        for oy in range(oh):
            gs, ids = g[p, oy], idx[p, oy]
            dg, db = gf[oy * wq : oy * wq + ow], fb[oy * wq : oy * wq + ow]
            for u in range(ow):
                dg[u] = gs[u]
                db[u] = ids[u]
        for k in range(nk):
            dst = ph[k_ph[k], k_off[k] : k_off[k] + n]
            for u in range(n):
                dst[u] += gf[u] if fb[u] == k else zero
        _phase_copy(gx[p], ph, hv, wv, sh, sw, pt, pl, wq, False)
        for y in range(h):  # what no window reaches
            for x in range(wv if y < hv else 0, w):
                gx[p, y, x] = zero


def _offsets(kernel: tuple, dilation: tuple) -> tuple:
    kh, kw = kernel
    k = np.arange(kh * kw)
    return (k // kw) * dilation[0], (k % kw) * dilation[1]


def _kernel_pays(kernel: tuple, stride: tuple, pads: tuple, dilation: tuple) -> bool:
    """Whether the compiled forward + backward measured faster than the twin's here.

    Forward and backward together (docs/speed.md; one thread, float32): 2x2 windows at
    stride 2, 1.9x; windows that overlap or are padded or dilated, 1.07-8.6x (the
    twin's backward adds the offsets' slabs into zeros, the kernel adds each gradient
    once). Not the other windows that do not overlap (3x3 stride 3: 0.72x; the twin
    writes each offset's slab once), nor 1x1 windows (not measured).
    """
    kh, kw = kernel
    plain = dilation == (1, 1) and pads == ((0, 0), (0, 0))
    if kernel == (2, 2) and stride == (2, 2) and plain:
        return True
    return kh * kw > 1 and not (stride == kernel and plain)


def max_pool2d_fwd(x: Any, kernel: tuple, stride: tuple, pads: tuple, dilation: tuple,
                   out_hw: tuple) -> tuple:  # fmt: skip
    if (
        x.ndim != 4
        or x.dtype not in _FLOATS
        or not x.flags.c_contiguous
        or not _kernel_pays(kernel, stride, pads, dilation)
    ):
        return _spatial_numpy.max_pool2d_fwd(x, kernel, stride, pads, dilation, out_hw)
    n, c, h, w = x.shape
    oh, ow = out_hw
    nk = kernel[0] * kernel[1]
    out = np.empty((n * c, oh, ow), dtype=x.dtype)
    idx = np.empty((n * c, oh, ow), dtype=np.uint8 if nk <= 256 else np.int32)
    dy, dx = _offsets(kernel, dilation)
    (pt, _), (pl, _) = pads
    if kernel == (2, 2) and stride == (2, 2) and dilation == (1, 1) and pads == ((0, 0), (0, 0)):
        _max_pool2x2_fwd(x.reshape(n * c, h, w), 0, n * c, out, idx)
    else:
        _max_pool_fwd(x.reshape(n * c, h, w), dy, dx, *stride, pt, pl, out, idx)
    return out.reshape(n, c, oh, ow), idx.reshape(n, c, oh, ow)


def max_pool2d_bwd(g: Any, state: Any, xshape: tuple, kernel: tuple, stride: tuple,
                   pads: tuple, dilation: tuple) -> Any:  # fmt: skip
    if isinstance(state, tuple) or g.dtype not in _FLOATS or g.shape != state.shape:
        return _spatial_numpy.max_pool2d_bwd(g, state, xshape, kernel, stride, pads, dilation)
    n, c, h, w = xshape
    _, _, oh, ow = g.shape
    g3 = np.ascontiguousarray(g).reshape(n * c, oh, ow)
    idx = state.reshape(n * c, oh, ow)
    kh, kw = kernel
    if stride == (kh, kw) and dilation == (1, 1) and pads == ((0, 0), (0, 0)):
        gx = np.empty((n * c, h, w), dtype=g.dtype)
        _max_pool_bwd_disjoint(g3, idx, 0, n * c, kh, kw, _all_finite(g3), gx)
    elif stride[0] * stride[1] <= 2 and kh * kw <= 64:
        # measured faster than the scatter for these (docs/speed.md): stride 1 (3x3:
        # 2.4 vs 5.4 ms), 1-D stride 2 (0.8 vs 2.8 ms); not for 2x2 strides (3x3 stride
        # 2: 6.5 vs 6.0 ms) nor 272-element windows (an offset's pass per element)
        gx = np.empty((n * c, h, w), dtype=g.dtype)
        dy, dx = _offsets(kernel, dilation)
        (pt, _), (pl, _) = pads
        _max_pool_bwd_phases(g3, idx, dy, dx, *stride, pt, pl, gx)
    else:
        gx = np.zeros((n * c, h, w), dtype=g.dtype)
        dy, dx = _offsets(kernel, dilation)
        (pt, _), (pl, _) = pads
        _max_pool_bwd_scatter(g3, idx, 0, n * c, dy, dx, *stride, pt, pl, gx)
    return gx.reshape(n, c, h, w)


# ------------------------------------------------------------------- col2im, strided
@_jit
def _col2im(d, hp, wp, sh, sw, dh, dw, t, left, gx):  # pragma: no cover - compiled
    # One (image, channel) plane at a time, in a padded buffer that stays in cache: the
    # twin's slab-adds into zeros, offset by offset in row-major order (the same sums
    # at every element), then the crop written straight into gx (NCHW): no full-size
    # zeros, no transpose-copy.
    c, kh, kw, n, oh, ow = d.shape
    h, w = gx.shape[2], gx.shape[3]
    plane = np.empty((hp, wp), dtype=d.dtype)
    zero = d.dtype.type(0)
    for cc in range(c):
        for nn in range(n):
            for y in range(hp):
                for x in range(wp):
                    plane[y, x] = zero
            for i in range(kh):
                for j in range(kw):
                    for oy in range(oh):
                        src = d[cc, i, j, nn, oy]
                        dst = plane[oy * sh + i * dh, j * dw :: sw]
                        for ox in range(ow):
                            dst[ox] += src[ox]
            for y in range(h):
                src = plane[t + y, left : left + w]
                dst = gx[nn, cc, y]
                for x in range(w):
                    dst[x] = src[x]


def col2im(dcols: Any, pshape: tuple, xshape: tuple, pads: tuple, stride: tuple,
           dilation: tuple, dtype: Any) -> Any:  # fmt: skip
    if (
        dcols.ndim != 6
        or dcols.dtype not in _FLOATS
        or dcols.dtype != dtype
        or not dcols.flags.c_contiguous
    ):
        return _spatial_numpy.col2im(dcols, pshape, xshape, pads, stride, dilation, dtype)
    gx = np.empty(tuple(xshape), dtype=dcols.dtype)
    (t, _), (left, _) = pads
    _col2im(dcols, pshape[2], pshape[3], *stride, *dilation, t, left, gx)
    return gx


__all__ = list(_spatial_numpy.__all__)
