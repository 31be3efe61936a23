"""NumPy twins of the convolution and pooling kernels (see ``_spatial_numba.py``).

The code ``ops/conv.py`` ran inline before the kernels existed, moved here unchanged: the
reference the compiled namesakes must match bit for bit.
"""

from __future__ import annotations

from typing import Any

from .._backend import xp
from ..ops._spatial import _as_strided, _pad2d, _window


def relu_pool2_fwd(z: Any, b: Any, rows: bool) -> tuple:
    """Bias, 2x2 max-pool and ReLU of ``ConvReluMaxPool2d``'s conv output, in block order.

    ``z`` holds the four window offsets' blocks: (4M, O) when ``rows`` (block order
    (n, ph, pw, o)), else (4N, O, ph*pw) (block order (n, o, ph, pw)); the bias ``b``
    (O,) or None is added in place. Returns ``(pooled, pos, (t01, t23, tv))``, flat in
    block order: ``relu(max of the window)``, ReLU's mask ``pooled > 0`` and the window
    bits: ``t01 = z1 > z0`` (the right of the top pair only when strictly larger),
    ``t23`` likewise, ``tv`` bottom row over top; the first maximum in row-major order,
    PyTorch's rule.
    """
    if b is not None:
        z += b if rows else b[:, None]
    blocks = z.reshape(4, -1)
    z0, z1, z2, z3 = blocks[0], blocks[1], blocks[2], blocks[3]
    t01 = xp.greater(z1, z0)
    t23 = xp.greater(z3, z2)
    h0 = xp.maximum(z0, z1)
    h1 = xp.maximum(z2, z3)
    tv = xp.greater(h1, h0)
    pooled = xp.maximum(h0, h1, out=h0)
    zero = xp.zeros((), dtype=pooled.dtype)
    xp.maximum(pooled, zero, out=pooled)
    return pooled, xp.greater(pooled, zero), (t01, t23, tv)


def relu_pool2_bwd(g: Any, pos: Any, t01: Any, t23: Any, tv: Any, rows: bool, ge: Any) -> tuple:
    """Backward of ReLU -> 2x2 max-pool in ``ConvReluMaxPool2d``'s block layout.

    ``g`` (n, o, ph, pw) is the pooled output's gradient; ``pos`` (ReLU's mask) and the
    window bits ``t01``, ``t23``, ``tv`` are flat, in the block order: (n, ph, pw, o)
    when ``rows``, else (n, o, ph, pw). Returns ``(gp, dz)``: the masked gradient in
    block order and ``dz`` (4, size), each window's gradient routed to its arg-max
    (offset ``2 * py + px``). With ``ge`` (o, n, hf, wf), zeros, the four blocks are
    also written into it at the conv-output positions ``(2Y + py, 2X + px)``: the
    frame the stride-1 col2im takes.
    """
    n, o, ph, pw = g.shape
    gp = xp.empty(pos.shape, dtype=g.dtype)
    if rows:
        xp.multiply(g.transpose(0, 2, 3, 1), pos.reshape(n, ph, pw, o),
                    out=gp.reshape(n, ph, pw, o))  # fmt: skip
    else:
        xp.multiply(g, pos.reshape(g.shape), out=gp.reshape(g.shape))
    dz = xp.empty((4, gp.size), dtype=g.dtype)
    d0, d1, d2, d3 = dz[0], dz[1], dz[2], dz[3]
    # Route each window's gradient to its arg-max: bottom/top row by tv, then
    # right/left in that row; ``a - a * t`` is ``a`` where t is 0 and exactly 0
    # where it is 1. A non-finite gradient would turn those zeros into NaN
    # (inf * 0): where() keeps them 0 on that rare path.
    if xp.isfinite(gp).all():
        xp.multiply(gp, tv, out=d2)
        xp.subtract(gp, d2, out=d0)
        xp.multiply(d0, t01, out=d1)
        xp.subtract(d0, d1, out=d0)
        xp.multiply(d2, t23, out=d3)
        xp.subtract(d2, d3, out=d2)
    else:
        zero = xp.zeros((), dtype=g.dtype)
        top = xp.where(tv, zero, gp)
        bot = xp.where(tv, gp, zero)
        d0[...] = xp.where(t01, zero, top)
        d1[...] = xp.where(t01, top, zero)
        d2[...] = xp.where(t23, zero, bot)
        d3[...] = xp.where(t23, bot, zero)
    if ge is not None:
        for py in range(2):
            for px in range(2):
                if rows:
                    blk = dz[2 * py + px].reshape(n, ph, pw, o).transpose(3, 0, 1, 2)
                else:
                    blk = dz[2 * py + px].reshape(n, o, ph, pw).transpose(1, 0, 2, 3)
                ge[:, :, py : 2 * ph : 2, px : 2 * pw : 2] = blk
    return gp, dz


#: Bytes of input-gradient columns that col2im_stride1 computes and adds at a time.
COL2IM_CHUNK_BYTES = 3 << 19


def col2im_stride1(ge: Any, wmat: Any, xshape: tuple, pads: tuple, kh: int, kw: int, dil: tuple):
    """Input gradient (N, C, H, W) of a stride-1, groups=1 convolution, a few images at a time.

    ``ge`` (O, N, hf, wf) is the output gradient zero-padded to a frame (see
    ``ops.conv._col2im_stride1``), ``wmat`` the (O, C*kh*kw) weights. In the frame's
    flat layout kernel offset (i, j) moves every entry by ``i*dh*wf + j*dw``, so the
    columns of a chunk of images (``wmat.T @ ge``) are summed by ``kh * kw`` flat,
    contiguous slab-adds, offset (0, 0) first, then the others in row-major order.

    The columns of a chunk (~1.5 MiB) are computed into one reused buffer and added at
    once, so they are still in cache for the adds; all columns at once (6 MiB for conv2
    of the MNIST CNN) go to memory and back. Measured on the MNIST CNN training step
    (fused path): 5.8-5.9 ms with 1.5-2 MiB chunks, 6.1-6.4 ms with 0.5-1 MiB or all at
    once, 6.3 ms with 4 MiB. Entries that a shift would carry across a chunk's end are
    the frame's zero margin, so each chunk's adds stay inside it.

    The products are one small matrix per image in one stacked ``matmul``, which ran on
    the calling thread here (process CPU time = wall time with OPENBLAS_NUM_THREADS=2):
    as fast as one long product on one thread, and no stall on a second BLAS thread that
    a busy machine is not running (the one long product: 1.4 ms median but 8 ms mean
    with 2 BLAS threads on 2 busy cores, vs 1.1 ms on one thread).
    """
    o, n, hp, wp = ge.shape
    c = wmat.shape[1] // (kh * kw)
    offs = [(i, j, i * dil[0] * wp + j * dil[1]) for i in range(kh) for j in range(kw)]
    f = hp * wp
    k = wmat.shape[1]
    wt = wmat.T
    gen = ge.reshape(o, n, f)
    per = max(1, min(n, COL2IM_CHUNK_BYTES // (k * f * ge.itemsize)))
    flat = xp.empty(k * per * f, dtype=ge.dtype)
    buf = xp.empty((c, n * f), dtype=ge.dtype)
    for n0 in range(0, n, per):
        nc = min(per, n - n0)
        lc = nc * f
        d = flat[: k * lc].reshape(k, nc, f)
        xp.matmul(wt, gen[:, n0 : n0 + nc].transpose(1, 0, 2), out=d.transpose(1, 0, 2))
        d = d.reshape(c, kh, kw, lc)
        blk = buf[:, n0 * f : n0 * f + lc]
        blk[...] = d[:, 0, 0]
        for i, j, off in offs[1:]:
            dst = blk[:, off:]
            xp.add(dst, d[:, i, j, : lc - off], out=dst)
    gxp = buf.reshape(c, n, hp, wp)
    (t, _), (left, _) = pads
    h, wd = xshape[2:]
    gxp = gxp[:, :, t : t + h, left : left + wd]
    if gxp.shape[2:] == (h, wd):
        return xp.ascontiguousarray(gxp.transpose(1, 0, 2, 3))
    # A frame smaller than the padded input (see ConvReluMaxPool2d.backward): the rows
    # and columns past it get no gradient.
    gx = xp.zeros((n, c, h, wd), dtype=ge.dtype)
    gx[:, :, : gxp.shape[2], : gxp.shape[3]] = gxp.transpose(1, 0, 2, 3)
    return gx


# ------------------------------------------------------------------- generic max-pool
def max_pool2d_fwd(x: Any, kernel: tuple, stride: tuple, pads: tuple, dilation: tuple,
                   out_hw: tuple) -> tuple:  # fmt: skip
    """``MaxPool2d``'s forward: ``(out, state)``, ``state`` what the backward needs.

    A chain of ``maximum`` over the ``kh * kw`` offset views of the input padded with
    -inf (NaN propagates, as in PyTorch); ``state`` is ``(padded input, out)``: the
    arg-max is found only in backward. The compiled namesake returns the same ``out``
    and, as ``state``, each output's arg-max offset (an integer array) instead.
    """
    kh, kw = kernel
    oh, ow = out_hw
    xp_ = _pad2d(x, pads, -xp.inf)
    views = [_window(xp_, k // kw, k % kw, oh, ow, stride, dilation) for k in range(kh * kw)]
    if len(views) == 1:
        out = views[0].copy()
    else:
        out = xp.maximum(views[0], views[1])
        for v in views[2:]:
            xp.maximum(out, v, out=out)
    return out, (xp_, out)


def _first_argmax_masks(state: Any, g: Any, kernel: tuple, stride: tuple, dilation: tuple):
    """Yield (k, mask of the outputs whose gradient goes to offset k) for every offset.

    The arg-max is the window's first maximum in row-major order (PyTorch's rule on
    ties, which ReLU zeros make common), or its last NaN when it holds one. ``state``
    is the forward's: ``(padded input, out)``, or the compiled forward's arg-max
    offsets (an integer array; a backend switched between forward and backward).
    """
    kh, kw = kernel
    n_off = kh * kw
    if not isinstance(state, tuple):
        for k in range(n_off):
            yield k, state == k
        return
    xp_, out = state
    oh, ow = out.shape[2:]
    if xp.isfinite(g).all() and not xp.isnan(out).any():
        # an element receives the gradient when it equals the window's maximum and no
        # earlier offset did
        taken = None
        for k in range(n_off):
            eq = _window(xp_, k // kw, k % kw, oh, ow, stride, dilation) == out
            if taken is not None:
                eq &= ~taken
            if k < n_off - 1:
                taken = eq.copy() if taken is None else (taken | eq)
            yield k, eq
        return
    # Rare path (NaN in the input or a non-finite upstream gradient): PyTorch's exact
    # rule, where a later NaN replaces the running maximum.
    best = _window(xp_, 0, 0, oh, ow, stride, dilation).copy()
    idx = xp.zeros(best.shape, dtype=xp.int32)
    for k in range(1, n_off):
        v = _window(xp_, k // kw, k % kw, oh, ow, stride, dilation)
        upd = (v > best) | (v != v)
        xp.copyto(best, v, where=upd)
        xp.copyto(idx, k, where=upd)
    for k in range(n_off):
        yield k, idx == k


def max_pool2d_bwd(g: Any, state: Any, xshape: tuple, kernel: tuple, stride: tuple,
                   pads: tuple, dilation: tuple) -> Any:  # fmt: skip
    """``MaxPool2d``'s input gradient: each output's ``g`` goes to its window's arg-max.

    ``g * mask`` per offset when ``g`` is finite (3x faster than where(); a non-argmax
    element gets ``g * 0``, a zero with g's sign), else ``where(mask, g, 0)`` so that
    inf * 0 cannot turn into NaN. Non-overlapping windows (stride = kernel, no padding
    or dilation) write each offset's slab once; otherwise the slabs are added, offset
    by offset in row-major order, into zeros.
    """
    kh, kw = kernel
    n, c, h, w = xshape
    oh, ow = g.shape[2:]
    safe = xp.isfinite(g).all()
    zero = xp.zeros((), dtype=g.dtype)

    def slab(mask, out=None):
        if safe:
            return xp.multiply(g, mask, out=out)
        res = xp.where(mask, g, zero)
        if out is None:
            return res
        out[...] = res
        return out

    masks = _first_argmax_masks(state, g, kernel, stride, dilation)
    if stride == (kh, kw) and dilation == (1, 1) and pads == ((0, 0), (0, 0)):
        # Non-overlapping windows: each offset's slab of the (N, C, oh, kh, ow, kw)
        # gradient is written once, then a reshape gives (N, C, H, W).
        gx = xp.empty((n, c, h, w), dtype=g.dtype)
        if h != oh * kh:
            gx[:, :, oh * kh :] = 0  # rows and columns no window covers
        if w != ow * kw:
            gx[:, :, :, ow * kw :] = 0
        # A 6-D view (N, C, oh, kh, ow, kw) of gx: each offset's slab is written in place.
        s_n, s_c, s_h, s_w = gx.strides
        gx6 = _as_strided(gx, (n, c, oh, kh, ow, kw), (s_n, s_c, s_h * kh, s_h, s_w * kw, s_w))
        for k, mask in masks:
            slab(mask, out=gx6[:, :, :, k // kw, :, k % kw])
        return gx
    (t, b), (left, r) = pads
    gxp = xp.zeros((n, c, h + t + b, w + left + r), dtype=g.dtype)
    for k, mask in masks:
        _window(gxp, k // kw, k % kw, oh, ow, stride, dilation)[...] += slab(mask)
    return gxp[:, :, t : t + h, left : left + w]


# ------------------------------------------------------------------- col2im, strided
def col2im(dcols: Any, pshape: tuple, xshape: tuple, pads: tuple, stride: tuple,
           dilation: tuple, dtype: Any) -> Any:  # fmt: skip
    """``Conv2d``'s input gradient (N, C, H, W) from its column gradient (any stride).

    ``dcols`` (C, kh, kw, N, oh, ow): each kernel offset's slab is added into zeros of
    the padded input (C, N, Hp, Wp) of ``dtype`` (the output gradient's), offset by
    offset in row-major order (summing in (C, N, H, W) order keeps every slab-add
    contiguous on the source side; one transpose-copy at the end measured faster than
    adding transposed slabs); then the padding is cropped and the result made NCHW.
    """
    c, kh, kw, n, oh, ow = dcols.shape
    gxp = xp.zeros((pshape[1], n) + tuple(pshape[2:]), dtype=dtype)
    for i in range(kh):
        for j in range(kw):
            _window(gxp, i, j, oh, ow, stride, dilation)[...] += dcols[:, i, j]
    (t, _), (left, _) = pads
    gxp = gxp[:, :, t : t + xshape[2], left : left + xshape[3]]
    return xp.ascontiguousarray(gxp.transpose(1, 0, 2, 3))


__all__ = ["relu_pool2_fwd", "relu_pool2_bwd", "col2im_stride1", "max_pool2d_fwd",
           "max_pool2d_bwd", "col2im"]  # fmt: skip
