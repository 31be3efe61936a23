"""Convolution, pooling and normalisation primitives (NCHW layout, PyTorch's semantics).

Everything here is vectorised: convolution is im2col (a strided view of the padded input
copied once) followed by ONE matrix product per layer; its input gradient is col2im with
a loop over the kernel offsets only (``kh * kw`` vectorised slice-adds, never a loop over
pixels). Pooling walks the ``kh * kw`` window offsets as strided views of the input.
Batch and layer normalisation are fused primitives with analytic VJPs, which is both
faster and more accurate than differentiating the composite.

``ConvReluMaxPool2d`` runs conv (stride 1) -> ReLU -> 2x2 max-pool as one node, in a
layout made for the pool (see its docstring); ``nn.Sequential`` uses it for those three
modules in a row when it knows three-module fusions (``nn.module._FUSED_TRIPLES``).

Layout of the column matrix: ``(groups, C/groups * kh * kw, N * OH * OW)``. Viewed as
``(N, K, OH * OW)`` it gives the forward product straight in NCHW order, and as one
``(K, N * OH * OW)`` matrix it gives the weight gradient and the input-gradient columns
in one product each. That layout measured fastest of the three tried (see
docs/convolution.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .._backend import xp
from ..autograd.function import Function
from ..autograd.tensor import Tensor
from ._util import ensure_tensor

_as_strided = xp.lib.stride_tricks.as_strided


# ------------------------------------------------------------------------ helpers


def _pair(value: Any, name: str, who: str, minimum: int = 1) -> tuple:
    """Normalise an int-or-pair hyperparameter to a tuple of two Python ints."""
    if isinstance(value, (int, xp.integer)) and not isinstance(value, bool):
        pair = (int(value), int(value))
    elif (
        isinstance(value, (tuple, list))
        and len(value) == 2
        and all(isinstance(v, (int, xp.integer)) and not isinstance(v, bool) for v in value)
    ):
        pair = (int(value[0]), int(value[1]))
    else:
        raise ValueError(f"{who}: {name} must be an int or a pair of ints, got {value!r}")
    if min(pair) < minimum:
        raise ValueError(f"{who}: {name} must be >= {minimum}, got {value!r}")
    return pair


def _out_size(size: int, lo: int, hi: int, k: int, s: int, d: int, ceil: bool = False) -> int:
    """Output length of a sliding window (PyTorch's formula, with ceil_mode's rule)."""
    span = size + lo + hi - d * (k - 1) - 1
    if span < 0:
        return 0
    if not ceil:
        return span // s + 1
    out = -(-span // s) + 1
    # ceil_mode: the last window must start inside the input or the left padding.
    if (out - 1) * s >= size + lo:
        out -= 1
    return out


def _pad2d(x: Any, pads: tuple, value: float = 0.0) -> Any:
    """Pad the last two axes by ((top, bottom), (left, right)); no copy when all zero."""
    (t, b), (left, r) = pads
    if not (t or b or left or r):
        return x
    n, c, h, w = x.shape
    out = xp.full((n, c, h + t + b, w + left + r), value, dtype=x.dtype)
    out[:, :, t : t + h, left : left + w] = x
    return out


def _window(arr: Any, i: int, j: int, oh: int, ow: int, stride: tuple, dilation: tuple) -> Any:
    """The strided view of ``arr`` seen by kernel offset (i, j) at every output position."""
    sh, sw = stride
    y0, x0 = i * dilation[0], j * dilation[1]
    return arr[:, :, y0 : y0 + sh * (oh - 1) + 1 : sh, x0 : x0 + sw * (ow - 1) + 1 : sw]


def _im2col(
    xp_: Any, kh: int, kw: int, oh: int, ow: int, stride: tuple, dilation: tuple, groups: int
) -> Any:
    """Columns of the padded input, shape (groups, C/groups*kh*kw, N*oh*ow), one copy."""
    n, c = xp_.shape[:2]
    s_n, s_c, s_h, s_w = xp_.strides
    view = _as_strided(
        xp_,
        shape=(c, kh, kw, n, oh, ow),
        strides=(s_c, s_h * dilation[0], s_w * dilation[1], s_n, s_h * stride[0], s_w * stride[1]),
        writeable=False,
    )
    return view.reshape(groups, (c // groups) * kh * kw, n * oh * ow)


# ------------------------------------------------------------------ convolution


class Conv2d(Function):
    """2-D cross-correlation of x (N, C, H, W) with w (O, C/groups, kh, kw), plus bias."""

    def forward(
        self, x, w, b=None, stride=(1, 1), pads=((0, 0), (0, 0)), dilation=(1, 1), groups=1
    ):
        n, c, h, wd = x.shape
        o, cg, kh, kw = w.shape
        xp_ = _pad2d(x, pads)
        hp, wp = xp_.shape[2:]
        oh = (hp - dilation[0] * (kh - 1) - 1) // stride[0] + 1
        ow = (wp - dilation[1] * (kw - 1) - 1) // stride[1] + 1
        cols = _im2col(xp_, kh, kw, oh, ow, stride, dilation, groups)
        wmat = w.reshape(groups, o // groups, cg * kh * kw)
        if groups == 1 and cg * kh * kw >= 64:
            # One (O, K) @ (K, N*oh*ow) product and a transpose-copy to NCHW measured
            # 30-40% faster than the batched product below once K is large (K=144:
            # 0.55 vs 0.92 ms); for small K the copy costs what the product saves.
            out = xp.ascontiguousarray((wmat[0] @ cols[0]).reshape(o, n, oh * ow).swapaxes(0, 1))
        elif groups == 1:
            # One matrix product broadcast over the batch: the columns, viewed as
            # (N, K, oh*ow), give the output directly in NCHW order (no transpose copy).
            out = wmat[0] @ cols[0].reshape(-1, n, oh * ow).transpose(1, 0, 2)
        else:
            cols4 = cols.reshape(groups, -1, n, oh * ow).transpose(2, 0, 1, 3)
            out = (wmat @ cols4).reshape(n, o, oh * ow)
        if b is not None:
            out += b[:, None]
        self.cols, self.w = cols, w
        self.geom = (x.shape, xp_.shape, pads, stride, dilation, groups, oh, ow)
        return out.reshape(n, o, oh, ow)

    def backward(self, g):
        xshape, pshape, pads, stride, dilation, groups, oh, ow = self.geom
        w, cols = self.w, self.cols
        o, cg, kh, kw = w.shape
        n = xshape[0]
        k = cg * kh * kw
        # Small K (e.g. a first layer, K = 9): the weight gradient as N per-sample
        # products on the output as it is, summed, measured ~4x faster than one
        # (O, N*oh*ow) @ (N*oh*ow, K) product, whose tiny output OpenBLAS handles poorly
        # (and which first needs a transpose-copy of g).
        per_sample = groups == 1 and k < 64 and not (self.needs[0] and stride != (1, 1))
        g2 = None
        if not per_sample:
            # (N, O, oh, ow) -> (groups, O/groups, N*oh*ow): the layout of the columns.
            g2 = xp.ascontiguousarray(g.transpose(1, 0, 2, 3)).reshape(groups, o // groups, -1)
        gx = gw = gb = None
        if self.needs[0] and stride == (1, 1):
            gx = self._input_grad_stride1(g)
        elif self.needs[0]:
            wmat = w.reshape(groups, o // groups, cg * kh * kw)
            if groups == 1:
                dcols = wmat[0].T @ g2[0]
            else:
                dcols = wmat.transpose(0, 2, 1) @ g2
            dcols = dcols.reshape(cg * groups, kh, kw, n, oh, ow)
            # col2im: add each kernel offset's slab back into the padded input. Summing in
            # (C, N, H, W) order keeps every slab-add contiguous on the source side; one
            # transpose-copy at the end measured faster than adding transposed slabs.
            gxp = xp.zeros((pshape[1], n) + pshape[2:], dtype=g.dtype)
            for i in range(kh):
                for j in range(kw):
                    _window(gxp, i, j, oh, ow, stride, dilation)[...] += dcols[:, i, j]
            (t, _), (left, _) = pads
            gxp = gxp[:, :, t : t + xshape[2], left : left + xshape[3]]
            gx = xp.ascontiguousarray(gxp.transpose(1, 0, 2, 3))
        if self.needs[1]:
            if per_sample:
                cv = cols[0].reshape(k, n, oh * ow).transpose(1, 2, 0)
                gw = (g.reshape(n, o, oh * ow) @ cv).sum(axis=0).reshape(w.shape)
            elif groups == 1:
                # (cols @ g2.T).T, not g2 @ cols.T: the same product, packed better by
                # OpenBLAS: 0.89 vs 1.23 ms at O=32, K=144, N*oh*ow=7744.
                gw = (cols[0] @ g2[0].T).T.reshape(w.shape)
            else:
                gw = (g2 @ cols.transpose(0, 2, 1)).reshape(w.shape)
        if len(self.needs) > 2 and self.needs[2]:
            if g2 is None:
                gb = g.reshape(n, o, -1).sum(axis=2).sum(axis=0)
            else:
                gb = g2.reshape(o, -1).sum(axis=1)
        return gx, gw, gb

    def _input_grad_stride1(self, g):
        """col2im for stride 1: ``g`` zero-padded to the padded input's frame, then
        :func:`_col2im_stride1`."""
        xshape, pshape, pads, _, dilation, groups, oh, ow = self.geom
        o = self.w.shape[0]
        ge = xp.zeros((o, xshape[0]) + pshape[2:], dtype=g.dtype)
        ge[:, :, :oh, :ow] = g.transpose(1, 0, 2, 3)
        return _col2im_stride1(ge, self.w, xshape, pads, dilation, groups)


def _col2im_stride1(ge, w, xshape, pads, dilation, groups):
    """Input gradient of a stride-1 convolution as ``kh * kw`` flat, contiguous slab-adds.

    ``ge`` is the output gradient in (O, N, hp, wp) order, zero outside the (oh, ow)
    top-left corner of each (hp, wp) frame: the padded input's size, or (groups=1 only)
    a smaller frame when the gradient is zero on the last output rows/columns, at least
    ``(oh + dh*(kh-1), ow + dw*(kw-1))`` for the (oh, ow) corner that holds all nonzero
    entries; the input beyond the frame then gets gradient 0. The input-gradient
    columns are then laid out like the padded input itself: kernel offset (i, j) moves
    every entry by the same flat distance ``i*dh*wp + j*dw``. Each slab-add is one long
    contiguous add over (C, N*hp*wp) instead of a 4-D strided add with rows of ``ow``
    elements; the zero rows/columns of ``ge`` make entries that wrap across a row or image
    edge add nothing. The larger product (by hp*wp / (oh*ow)) measured cheaper than the
    strided adds it replaces.
    """
    o, cg, kh, kw = w.shape
    n = xshape[0]
    hp, wp = ge.shape[2:]
    c = cg * groups
    L = n * hp * wp
    wmat = w.reshape(groups, o // groups, cg * kh * kw)
    offs = [(i, j, i * dilation[0] * wp + j * dilation[1]) for i in range(kh) for j in range(kw)]
    if groups == 1:
        return _col2im_stride1_chunked(ge, wmat[0], xshape, pads, c, kh, kw, offs)
    dcols = wmat.transpose(0, 2, 1) @ ge.reshape(groups, o // groups, L)
    dcols = dcols.reshape(c, kh, kw, L)
    buf = dcols[:, 0, 0].copy()
    for i, j, off in offs[1:]:
        dst = buf[:, off:]
        xp.add(dst, dcols[:, i, j, : L - off], out=dst)
    gxp = buf.reshape(c, n, hp, wp)
    (t, _), (left, _) = pads
    gxp = gxp[:, :, t : t + xshape[2], left : left + xshape[3]]
    return xp.ascontiguousarray(gxp.transpose(1, 0, 2, 3))


#: Bytes of input-gradient columns that _col2im_stride1 computes and adds at a time.
_COL2IM_CHUNK_BYTES = 3 << 19


def _col2im_stride1_chunked(ge, wmat, xshape, pads, c, kh, kw, offs):
    """:func:`_col2im_stride1` for groups=1, a few images at a time.

    The columns of a chunk of images (~1.5 MiB) are computed into one reused buffer and
    slab-added at once, so they are still in cache for the adds; all columns at once
    (6 MiB for conv2 of the MNIST CNN) go to memory and back. Measured on the MNIST CNN
    training step (fused path): 5.8-5.9 ms with 1.5-2 MiB chunks, 6.1-6.4 ms with 0.5-1
    MiB or all at once, 6.3 ms with 4 MiB. Entries that a shift would carry across a
    chunk's end are the frame's zero margin, so each chunk's adds stay inside it.

    The products are one small matrix per image in one stacked ``matmul``, which ran on
    the calling thread here (process CPU time = wall time with OPENBLAS_NUM_THREADS=2):
    as fast as one long product on one thread, and no stall on a second BLAS thread that
    a busy machine is not running (the one long product: 1.4 ms median but 8 ms mean
    with 2 BLAS threads on 2 busy cores, vs 1.1 ms on one thread).
    """
    o, n, hp, wp = ge.shape
    f = hp * wp
    k = wmat.shape[1]
    wt = wmat.T
    gen = ge.reshape(o, n, f)
    per = max(1, min(n, _COL2IM_CHUNK_BYTES // (k * f * ge.itemsize)))
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


# ---------------------------------------------------------------------- pooling


class MaxPool2d(Function):
    """Window maximum; the gradient goes to the first arg-max in row-major window order.

    The forward pass is a chain of ``maximum`` over the ``kh * kw`` offset views (NaN
    propagates, as in PyTorch). The arg-max is found only in backward, offset by offset:
    an element receives the gradient when it equals the window's maximum and no earlier
    offset did, which is PyTorch's first-occurrence rule on ties (ReLU zeros tie often).
    """

    def forward(
        self, x, kernel=(2, 2), stride=(2, 2), pads=((0, 0), (0, 0)), dilation=(1, 1), out_hw=(1, 1)
    ):
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
        self.xp_, self.out = xp_, out
        self.geom = (x.shape, kernel, stride, pads, dilation, oh, ow)
        return out

    def _first_argmax_masks(self, g):
        """Yield (k, gradient slab of offset k) for every kernel offset, in order."""
        _, (kh, kw), stride, _, dilation, oh, ow = self.geom
        xp_, out = self.xp_, self.out
        n_off = kh * kw
        if xp.isfinite(g).all() and not xp.isnan(out).any():
            taken = None
            for k in range(n_off):
                eq = _window(xp_, k // kw, k % kw, oh, ow, stride, dilation) == out
                if taken is not None:
                    eq &= ~taken
                if k < n_off - 1:
                    taken = eq.copy() if taken is None else (taken | eq)
                # NOTE: g * mask, not where(): 3x faster; safe because g is finite here.
                yield k, eq
            return
        # Rare path (NaN in the input or a non-finite upstream gradient): PyTorch's exact
        # rule, where a later NaN replaces the running maximum, and where() so inf * 0
        # cannot turn into NaN.
        best = _window(xp_, 0, 0, oh, ow, stride, dilation).copy()
        idx = xp.zeros(best.shape, dtype=xp.int32)
        for k in range(1, n_off):
            v = _window(xp_, k // kw, k % kw, oh, ow, stride, dilation)
            upd = (v > best) | (v != v)
            xp.copyto(best, v, where=upd)
            xp.copyto(idx, k, where=upd)
        for k in range(n_off):
            yield k, idx == k

    def backward(self, g):
        xshape, (kh, kw), stride, pads, dilation, oh, ow = self.geom
        n, c, h, w = xshape
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
            for k, mask in self._first_argmax_masks(g):
                slab(mask, out=gx6[:, :, :, k // kw, :, k % kw])
            return (gx,)
        gxp = xp.zeros(self.xp_.shape, dtype=g.dtype)
        for k, mask in self._first_argmax_masks(g):
            _window(gxp, k // kw, k % kw, oh, ow, stride, dilation)[...] += slab(mask)
        (t, _), (left, _) = pads
        return (gxp[:, :, t : t + h, left : left + w],)


#: ConvReluMaxPool2d copies patches from a channels-last input from this many input
#: channels on (runs of kw * C contiguous values); below, straight from NCHW.
_ROWS_MIN_CHANNELS = 8


def _weight_grad_rows(dz, patches, chunks):
    """``dz.T @ patches`` for (L, O) output gradients and (L, K) patch rows.

    As ``chunks`` stacked products over row blocks, summed: 0.55-0.59 vs 0.70 ms for the
    one long product at O=32, K=144, L=6400 in 64 chunks (256 chunks: 0.68-0.74 ms), and
    on the calling thread like the other stacked products here.
    """
    o, k = dz.shape[1], patches.shape[1]
    dzb = dz.reshape(chunks, -1, o).transpose(0, 2, 1)
    return (dzb @ patches.reshape(chunks, -1, k)).sum(axis=0)


class ConvReluMaxPool2d(Function):
    """``max_pool2d(relu(conv2d(x, w, b)), 2)`` as one node: stride-1 conv, 2x2 pool.

    The same values and gradients as the three ops one after another (first arg-max in
    row-major window order, gradient 0 where the pooled value is <= 0), computed in a
    layout made for the pooling: the im2col patches are ordered (py, px, n, Y, X) for
    the conv output position (2Y + py, 2X + px), so the product holds each of the four
    window offsets as one contiguous block. The pool is then three ``maximum`` ops on
    long contiguous blocks instead of strided views, ReLU runs on the pooled quarter
    (relu and max commute), and the backward writes each offset's gradient block
    contiguously. Conv outputs that no window covers (odd sizes) are never computed:
    nothing downstream reads them.

    Two patch layouts: with few input channels (a first layer) the patches are copied
    straight from the NCHW input as (4N, C*kh*kw, ph*pw), one small product per block
    and sample, which gives the blocks in NCHW order; with more, the input is first made
    channels-last so that each patch row copies runs of ``kw * C`` contiguous values,
    and the patches are rows (4M, kh*kw*C) of one product (M = N*ph*pw; conv2 of the
    MNIST CNN: 0.24 vs 0.88 ms for the copy).

    Window ties: ``t01 = z1 > z0`` (the right of the top pair only when strictly
    larger), likewise ``t23`` for the bottom pair and ``tv`` between the two row maxima;
    this is the first maximum in row-major order, PyTorch's rule. A NaN in a window
    makes the pooled value NaN and relu's mask (``out > 0``) gives it gradient 0, as the
    unfused ops do, so the comparison bits never matter there.
    """

    def forward(self, x, w, b=None, pads=((0, 0), (0, 0)), dilation=(1, 1)):
        n, c, _, _ = x.shape
        o, _, kh, kw = w.shape
        xp_ = _pad2d(x, pads)
        hp, wp = xp_.shape[2:]
        oh = hp - dilation[0] * (kh - 1)
        ow = wp - dilation[1] * (kw - 1)
        ph, pw = oh // 2, ow // 2
        k = c * kh * kw
        m = n * ph * pw
        rows = c >= _ROWS_MIN_CHANNELS
        if rows:
            xt = xp.ascontiguousarray(xp_.transpose(0, 2, 3, 1))
            s_n, s_h, s_w, s_c = xt.strides
            view = _as_strided(
                xt,
                shape=(2, 2, n, ph, pw, kh, kw, c),
                strides=(s_h, s_w, s_n, 2 * s_h, 2 * s_w, s_h * dilation[0],
                         s_w * dilation[1], s_c),
                writeable=False,
            )  # fmt: skip
            patches = view.reshape(4 * m, k)
            # As N stacked row blocks: on the calling thread, as in the col2im (0.52 vs
            # 0.66 ms for the one product on one thread at conv2's size; the one product
            # took 8 ms with 2 BLAS threads on a busy 2-core machine).
            wr = w.transpose(2, 3, 1, 0).reshape(k, o)
            z = (patches.reshape(n, -1, k) @ wr).reshape(4 * m, o)
            if b is not None:
                z += b
        else:
            # One small product per (py, px, n) block, broadcast over the batch: the
            # blocks come out in NCHW order (no transposes), 0.155 vs 0.21 ms for one
            # (16, 9) @ (9, 4M) product on one thread, and on the calling thread (the
            # one product took 8 ms with 2 BLAS threads on a busy 2-core machine).
            s_n, s_c, s_h, s_w = xp_.strides
            view = _as_strided(
                xp_,
                shape=(2, 2, n, c, kh, kw, ph, pw),
                strides=(s_h, s_w, s_n, s_c, s_h * dilation[0], s_w * dilation[1],
                         2 * s_h, 2 * s_w),
                writeable=False,
            )  # fmt: skip
            patches = view.reshape(4 * n, k, ph * pw)
            z = w.reshape(o, k) @ patches
            if b is not None:
                z += b[:, None]
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
        self.pos = xp.greater(pooled, zero)
        self.bits = (t01, t23, tv)
        self.patches, self.w, self.rows = patches, w, rows
        self.geom = (x.shape, xp_.shape, pads, dilation, ph, pw)
        if rows:  # (n, ph, pw, o) -> NCHW
            return xp.ascontiguousarray(pooled.reshape(n, ph, pw, o).transpose(0, 3, 1, 2))
        return pooled.reshape(n, o, ph, pw)

    def backward(self, g):
        xshape, pshape, pads, dilation, ph, pw = self.geom
        w, patches, rows = self.w, self.patches, self.rows
        o, c, kh, kw = w.shape
        n = xshape[0]
        m = n * ph * pw
        t01, t23, tv = self.bits
        # ReLU's mask on the pooled values, g read in the layout of the blocks.
        gp = xp.empty(self.pos.shape, dtype=g.dtype)
        if rows:
            xp.multiply(g.transpose(0, 2, 3, 1), self.pos.reshape(n, ph, pw, o),
                        out=gp.reshape(n, ph, pw, o))  # fmt: skip
        else:
            xp.multiply(g, self.pos.reshape(g.shape), out=gp.reshape(g.shape))
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
        gx = gw = gb = None
        if self.needs[0]:
            # Back to an (O, N, hf, wf) frame for the stride-1 col2im; positions no
            # window covers (and the frame's margin) stay zero. Only the 2*ph x 2*pw
            # corner of the conv output has a gradient, so the frame stops the kernel's
            # extent past it: 12x12 instead of the padded input's 13x13 for conv2 of
            # the MNIST CNN (1.25 vs 1.41 ms for the col2im).
            frame = (
                min(pshape[2], 2 * ph + dilation[0] * (kh - 1)),
                min(pshape[3], 2 * pw + dilation[1] * (kw - 1)),
            )
            ge = xp.zeros((o, n) + frame, dtype=g.dtype)
            for py in range(2):
                for px in range(2):
                    if rows:
                        blk = dz[2 * py + px].reshape(n, ph, pw, o).transpose(3, 0, 1, 2)
                    else:
                        blk = dz[2 * py + px].reshape(n, o, ph, pw).transpose(1, 0, 2, 3)
                    ge[:, :, py : 2 * ph : 2, px : 2 * pw : 2] = blk
            gx = _col2im_stride1(ge, w, xshape, pads, dilation, 1)
        if self.needs[1]:
            if rows:
                gw = _weight_grad_rows(dz.reshape(4 * m, o), patches, n)
                gw = gw.reshape(o, kh, kw, c).transpose(0, 3, 1, 2).copy()
            else:
                # Per-block products, summed (the blocks' layout; fast for small K).
                gw = (dz.reshape(4 * n, o, -1) @ patches.transpose(0, 2, 1)).sum(axis=0)
                gw = gw.reshape(w.shape)
        if len(self.needs) > 2 and self.needs[2]:
            # Each window's gradient lands on one position, so the sum over the four
            # blocks is the sum of gp.
            if rows:
                gb = gp.reshape(m, o).sum(axis=0)
            else:
                gb = gp.reshape(n, o, -1).sum(axis=2).sum(axis=0)
        return gx, gw, gb


class AvgPool2d(Function):
    """Window mean; ``divisor`` (broadcastable to the output) is precomputed by the caller."""

    def forward(
        self, x, kernel=(2, 2), stride=(2, 2), pads=((0, 0), (0, 0)), out_hw=(1, 1), divisor=None
    ):
        kh, kw = kernel
        oh, ow = out_hw
        xp_ = _pad2d(x, pads)
        total = _window(xp_, 0, 0, oh, ow, stride, (1, 1)).copy()
        for k in range(1, kh * kw):
            total += _window(xp_, k // kw, k % kw, oh, ow, stride, (1, 1))
        self.geom = (x.shape, xp_.shape, kernel, stride, pads, oh, ow)
        self.divisor = divisor
        total /= divisor
        return total

    def backward(self, g):
        xshape, pshape, (kh, kw), stride, pads, oh, ow = self.geom
        gd = g / self.divisor
        gxp = xp.zeros(pshape, dtype=g.dtype)
        for k in range(kh * kw):
            _window(gxp, k // kw, k % kw, oh, ow, stride, (1, 1))[...] += gd
        (t, _), (left, _) = pads
        return (gxp[:, :, t : t + xshape[2], left : left + xshape[3]],)


def _adaptive_matrix(size: int, out: int, dtype: Any) -> Any:
    """Row i averages input [floor(i*size/out), ceil((i+1)*size/out)), PyTorch's bins."""
    m = xp.zeros((out, size), dtype=dtype)
    for i in range(out):
        lo = (i * size) // out
        hi = -(-((i + 1) * size) // out)
        m[i, lo:hi] = 1.0 / (hi - lo)
    return m


class AdaptiveAvgPool2d(Function):
    """Adaptive average pooling as two small matrix products: A_h @ x @ A_w^T."""

    def forward(self, x, out_hw=(1, 1)):
        h, w = x.shape[2:]
        oh, ow = out_hw
        self.xshape = x.shape
        if (oh, ow) == (1, 1):
            self.mats = None
            return x.mean(axis=(2, 3), keepdims=True)
        ah = _adaptive_matrix(h, oh, x.dtype)
        aw = _adaptive_matrix(w, ow, x.dtype)
        self.mats = (ah, aw)
        return ah @ (x @ aw.T)

    def backward(self, g):
        n, c, h, w = self.xshape
        if self.mats is None:
            scale = xp.asarray(1.0 / (h * w), dtype=g.dtype)
            return (xp.broadcast_to(g * scale, self.xshape).copy(),)
        ah, aw = self.mats
        return ((ah.T @ g) @ aw,)


# ---------------------------------------------------------------- normalisation


class BatchNorm(Function):
    """``(x - mean) / sqrt(var + eps) * weight + bias`` per channel (axis 1).

    ``mean``/``var`` come from the caller: the batch statistics in training (the VJP then
    differentiates through them) or the running estimates in evaluation (constants).
    ``weight``/``bias`` are optional trailing tensors, flagged by ``affine``.
    """

    def forward(self, x, *wb, mean=None, var=None, eps=1e-5, batch_stats=True, affine=False):
        bshape = (1, -1) + (1,) * (x.ndim - 2)
        invstd = 1.0 / xp.sqrt(var + xp.asarray(eps, dtype=var.dtype))
        xhat = (x - mean.reshape(bshape)) * invstd.reshape(bshape)
        self.xhat, self.invstd, self.batch_stats, self.affine = xhat, invstd, batch_stats, affine
        self.bshape = bshape
        self.weight = wb[0] if affine else None
        if not affine:
            return xhat
        return xhat * wb[0].reshape(bshape) + wb[1].reshape(bshape)

    def backward(self, g):
        xhat, invstd, bshape = self.xhat, self.invstd, self.bshape
        axes = (0,) + tuple(range(2, g.ndim))
        needs = self.needs
        gx = gw = gb = None
        want_w = self.affine and needs[1]
        gsum = g.sum(axis=axes) if (want_w or self.batch_stats or self.affine) else None
        gxhat_sum = (g * xhat).sum(axis=axes) if (want_w or self.batch_stats) else None
        if needs[0]:
            scale = invstd if self.weight is None else invstd * self.weight
            if self.batch_stats:
                m = g.size // g.shape[1]
                # d/dx of the normalised value, through the batch mean and variance:
                # invstd * (g - mean(g) - xhat * mean(g * xhat)) per channel.
                mg = (gsum / m).reshape(bshape)
                mgx = (gxhat_sum / m).reshape(bshape)
                gx = (g - mg - xhat * mgx) * scale.reshape(bshape)
            else:
                gx = g * scale.reshape(bshape)
        if self.affine:
            gw = gxhat_sum if needs[1] else None
            gb = gsum if needs[2] else None
            return gx, gw, gb
        return (gx,)


class LayerNorm(Function):
    """Normalise over the last ``nd`` axes, then scale by weight and shift by bias."""

    def forward(self, x, *wb, nd=1, eps=1e-5, has_weight=False, has_bias=False):
        axes = tuple(range(x.ndim - nd, x.ndim))
        mean = x.mean(axis=axes, keepdims=True)
        d = x - mean
        var = (d * d).mean(axis=axes, keepdims=True)
        invstd = 1.0 / xp.sqrt(var + xp.asarray(eps, dtype=x.dtype))
        xhat = d * invstd
        self.xhat, self.invstd, self.axes = xhat, invstd, axes
        self.has_weight, self.has_bias = has_weight, has_bias
        self.weight = wb[0] if has_weight else None
        out = xhat
        if has_weight:
            out = out * wb[0]
        if has_bias:
            out = out + wb[-1]
        return out

    def backward(self, g):
        xhat, invstd, axes, w = self.xhat, self.invstd, self.axes, self.weight
        needs = self.needs
        lead = tuple(range(g.ndim - len(axes)))
        grads = []
        if needs[0]:
            gxhat = g if w is None else g * w
            gx = (
                gxhat
                - gxhat.mean(axis=axes, keepdims=True)
                - xhat * (gxhat * xhat).mean(axis=axes, keepdims=True)
            ) * invstd
            grads.append(gx)
        else:
            grads.append(None)
        if self.has_weight:
            grads.append((g * xhat).sum(axis=lead) if needs[1] else None)
        if self.has_bias:
            grads.append(g.sum(axis=lead) if needs[-1] else None)
        return tuple(grads)


# ------------------------------------------------------------ public functions


def _check_nchw(x: Tensor, who: str, channels: int | None = None) -> tuple:
    """Accept (N, C, H, W) or unbatched (C, H, W); return the 4-D tensor and the flag."""
    expected = (
        "(N, C, H, W) or (C, H, W)"
        if channels is None
        else (f"(N, {channels}, H, W) or ({channels}, H, W)")
    )
    if x.ndim not in (3, 4):
        raise ValueError(f"{who}: input has shape {x.shape}, expected {expected}")
    if x.data.dtype.kind != "f":
        raise TypeError(f"{who}: input must be floating point, got dtype {x.data.dtype}")
    if channels is not None and x.shape[-3] != channels:
        raise ValueError(
            f"{who}: input has shape {x.shape} with {x.shape[-3]} channels, expected {expected}"
        )
    if x.ndim == 3:
        from .shape import reshape

        return reshape(x, (1,) + x.shape), True
    return x, False


def _unbatch(y: Tensor, unbatched: bool) -> Tensor:
    if not unbatched:
        return y
    from .shape import reshape

    return reshape(y, y.shape[1:])


def conv_padding(padding: Any, kernel: tuple, stride: tuple, dilation: tuple, who: str) -> tuple:
    """Resolve a padding spec (int, pair, 'same', 'valid') to ((top, bottom), (left, right))."""
    if isinstance(padding, str):
        if padding == "valid":
            return ((0, 0), (0, 0))
        if padding == "same":
            if stride != (1, 1):
                raise ValueError(f"{who}: padding='same' needs stride 1, got stride={stride}")
            pads = []
            for k, d in zip(kernel, dilation):
                total = d * (k - 1)
                # PyTorch puts the odd extra row/column at the bottom/right.
                pads.append((total // 2, total - total // 2))
            return tuple(pads)
        raise ValueError(
            f"{who}: padding must be an int, a pair, 'same' or 'valid', got {padding!r}"
        )
    ph, pw = _pair(padding, "padding", who, minimum=0)
    return ((ph, ph), (pw, pw))


def conv2d(
    input: Any,  # noqa: A002 - PyTorch's name
    weight: Any,
    bias: Any = None,
    stride: Any = 1,
    padding: Any = 0,
    dilation: Any = 1,
    groups: int = 1,
    *,
    _who: str = "conv2d",
) -> Tensor:
    """2-D convolution (cross-correlation, as PyTorch) of NCHW input with OIHW weight.

    ``padding`` is an int, a pair, ``'valid'`` (none) or ``'same'`` (stride 1 only).
    Unbatched (C, H, W) input is accepted and gives (O, OH, OW).

    Example::

        >>> import retrograd as rg
        >>> from retrograd.ops.conv import conv2d
        >>> conv2d(rg.ones(2, 3, 8, 8), rg.ones(4, 3, 3, 3), padding=1).shape
        (2, 4, 8, 8)
    """
    who = _who
    x, w = ensure_tensor(input), ensure_tensor(weight)
    if w.ndim != 4:
        raise ValueError(
            f"{who}: weight has shape {w.shape}, expected 4-D (out, in/groups, kh, kw)"
        )
    if not isinstance(groups, (int, xp.integer)) or isinstance(groups, bool) or groups < 1:
        raise ValueError(f"{who}: groups must be a positive int, got {groups!r}")
    o, cg, kh, kw = w.shape
    if o % groups:
        raise ValueError(f"{who}: out_channels {o} is not divisible by groups={groups}")
    stride_ = _pair(stride, "stride", who)
    dilation_ = _pair(dilation, "dilation", who)
    pads = conv_padding(padding, (kh, kw), stride_, dilation_, who)
    x, unbatched = _check_nchw(x, who, cg * groups)
    if x.data.dtype != w.data.dtype:
        raise TypeError(
            f"{who}: input dtype {x.data.dtype} differs from weight dtype {w.data.dtype}; "
            f"convert one of them (e.g. model.to('{x.data.dtype}'))"
        )
    hp = x.shape[2] + pads[0][0] + pads[0][1]
    wp = x.shape[3] + pads[1][0] + pads[1][1]
    ekh, ekw = dilation_[0] * (kh - 1) + 1, dilation_[1] * (kw - 1) + 1
    if ekh > hp or ekw > wp:
        raise ValueError(
            f"{who}: input has shape {tuple(input.shape)}, padded spatial size ({hp}, {wp}) is "
            f"smaller than the (dilated) kernel ({ekh}, {ekw}); expected H + padding >= {ekh} "
            f"and W + padding >= {ekw}"
        )
    if bias is None:
        y = Conv2d.apply(x, w, stride=stride_, pads=pads, dilation=dilation_, groups=int(groups))
    else:
        b = ensure_tensor(bias)
        if b.shape != (o,):
            raise ValueError(f"{who}: bias has shape {b.shape}, expected ({o},)")
        y = Conv2d.apply(x, w, b, stride=stride_, pads=pads, dilation=dilation_, groups=int(groups))
    return _unbatch(y, unbatched)


def _pool_geometry(
    x: Tensor, kernel_size: Any, stride: Any, padding: Any, dilation: Any, ceil_mode: bool, who: str
) -> tuple:
    kernel = _pair(kernel_size, "kernel_size", who)
    stride_ = (
        kernel
        if stride is None or (isinstance(stride, (list, tuple)) and not stride)
        else _pair(stride, "stride", who)
    )
    pad = _pair(padding, "padding", who, minimum=0)
    dil = _pair(dilation, "dilation", who)
    for p, k in zip(pad, kernel):
        if 2 * p > k:
            raise ValueError(f"{who}: padding {pad} must be at most half the kernel size {kernel}")
    h, w = x.shape[2:]
    oh = _out_size(h, pad[0], pad[0], kernel[0], stride_[0], dil[0], ceil_mode)
    ow = _out_size(w, pad[1], pad[1], kernel[1], stride_[1], dil[1], ceil_mode)
    if oh < 1 or ow < 1:
        raise ValueError(
            f"{who}: input has shape {x.shape}, too small for kernel {kernel} with padding "
            f"{pad} and dilation {dil}; expected H + 2*padding >= {dil[0] * (kernel[0] - 1) + 1} "
            f"and W + 2*padding >= {dil[1] * (kernel[1] - 1) + 1}"
        )
    # ceil_mode can need extra rows/columns on the bottom/right beyond the padding.
    extra_h = max(0, (oh - 1) * stride_[0] + dil[0] * (kernel[0] - 1) + 1 - (h + 2 * pad[0]))
    extra_w = max(0, (ow - 1) * stride_[1] + dil[1] * (kernel[1] - 1) + 1 - (w + 2 * pad[1]))
    pads = ((pad[0], pad[0] + extra_h), (pad[1], pad[1] + extra_w))
    return kernel, stride_, pad, dil, pads, (oh, ow)


def max_pool2d(
    input: Any,  # noqa: A002
    kernel_size: Any,
    stride: Any = None,
    padding: Any = 0,
    dilation: Any = 1,
    ceil_mode: bool = False,
    *,
    _who: str = "max_pool2d",
) -> Tensor:
    """Max pooling over (kh, kw) windows; ``stride`` defaults to the kernel size.

    Padding counts as -inf (never the maximum). The gradient flows to the first maximum
    of each window in row-major order (deterministic on ties).

    Example::

        >>> import retrograd as rg
        >>> from retrograd.ops.conv import max_pool2d
        >>> max_pool2d(rg.randn(1, 2, 6, 6), 2).shape
        (1, 2, 3, 3)
    """
    x, unbatched = _check_nchw(ensure_tensor(input), _who)
    kernel, stride_, _, dil, pads, out_hw = _pool_geometry(
        x, kernel_size, stride, padding, dilation, ceil_mode, _who
    )
    y = MaxPool2d.apply(x, kernel=kernel, stride=stride_, pads=pads, dilation=dil, out_hw=out_hw)
    return _unbatch(y, unbatched)


def avg_pool2d(
    input: Any,  # noqa: A002
    kernel_size: Any,
    stride: Any = None,
    padding: Any = 0,
    ceil_mode: bool = False,
    count_include_pad: bool = True,
    divisor_override: int | None = None,
    *,
    _who: str = "avg_pool2d",
) -> Tensor:
    """Average pooling; ``count_include_pad`` decides whether zero padding is averaged in.

    Example::

        >>> import retrograd as rg
        >>> from retrograd.ops.conv import avg_pool2d
        >>> avg_pool2d(rg.ones(1, 1, 4, 4), 2).data[0, 0]
        array([[1., 1.],
               [1., 1.]], dtype=float32)
    """
    x, unbatched = _check_nchw(ensure_tensor(input), _who)
    kernel, stride_, pad, _, pads, out_hw = _pool_geometry(
        x, kernel_size, stride, padding, 1, ceil_mode, _who
    )
    dt = x.data.dtype
    if divisor_override is not None:
        if not isinstance(divisor_override, (int, xp.integer)) or divisor_override <= 0:
            raise ValueError(
                f"{_who}: divisor_override must be a positive int, got {divisor_override!r}"
            )
        divisor = xp.asarray(divisor_override, dtype=dt)
    elif not ceil_mode and (count_include_pad or pad == (0, 0)):
        divisor = xp.asarray(kernel[0] * kernel[1], dtype=dt)
    else:
        # Count, per output, the window cells that are inside the input (or inside the
        # symmetric padding when count_include_pad): pool a mask of ones the same way.
        h, w = x.shape[2:]
        mask = xp.zeros((1, 1, h + pads[0][0] + pads[0][1], w + pads[1][0] + pads[1][1]), dt)
        if count_include_pad:
            mask[:, :, : h + 2 * pad[0], : w + 2 * pad[1]] = 1
        else:
            mask[:, :, pad[0] : pad[0] + h, pad[1] : pad[1] + w] = 1
        oh, ow = out_hw
        divisor = xp.zeros((1, 1, oh, ow), dt)
        for k in range(kernel[0] * kernel[1]):
            divisor += _window(mask, k // kernel[1], k % kernel[1], oh, ow, stride_, (1, 1))
    y = AvgPool2d.apply(x, kernel=kernel, stride=stride_, pads=pads, out_hw=out_hw, divisor=divisor)
    return _unbatch(y, unbatched)


def adaptive_avg_pool2d(
    input: Any,  # noqa: A002
    output_size: Any,
    *,
    _who: str = "adaptive_avg_pool2d",
) -> Tensor:
    """Average pooling to a fixed output size (PyTorch's bins); None keeps that axis.

    Example::

        >>> import retrograd as rg
        >>> from retrograd.ops.conv import adaptive_avg_pool2d
        >>> adaptive_avg_pool2d(rg.randn(2, 3, 7, 5), (3, 2)).shape
        (2, 3, 3, 2)
    """
    x, unbatched = _check_nchw(ensure_tensor(input), _who)
    if isinstance(output_size, (tuple, list)) and len(output_size) == 2:
        out = tuple(x.shape[2 + i] if s is None else s for i, s in enumerate(output_size))
    else:
        out = output_size
    oh, ow = _pair(out, "output_size", _who)
    y = AdaptiveAvgPool2d.apply(x, out_hw=(oh, ow))
    return _unbatch(y, unbatched)


def batch_norm(
    input: Any,  # noqa: A002
    running_mean: Any,
    running_var: Any,
    weight: Any = None,
    bias: Any = None,
    training: bool = False,
    momentum: float = 0.1,
    eps: float = 1e-5,
    *,
    _who: str = "batch_norm",
) -> Tensor:
    """Batch normalisation over axis 1 of (N, C) or (N, C, ...) input (PyTorch's rules).

    In training (or when no running statistics are given) the batch statistics are used
    and, when ``running_mean``/``running_var`` are given, they are updated in place:
    ``running = (1 - momentum) * running + momentum * batch`` with the unbiased batch
    variance. In evaluation the running estimates normalise the input.

    Example::

        >>> import retrograd as rg
        >>> from retrograd.ops.conv import batch_norm
        >>> y = batch_norm(rg.randn(8, 3), None, None, training=True)
        >>> [round(float(v), 4) + 0.0 for v in y.data.mean(axis=0)]
        [0.0, 0.0, 0.0]
    """
    x = ensure_tensor(input)
    if x.ndim < 2:
        raise ValueError(f"{_who}: input has shape {x.shape}, expected (N, C) or (N, C, ...)")
    c = x.shape[1]
    rm = running_mean.data if isinstance(running_mean, Tensor) else running_mean
    rv = running_var.data if isinstance(running_var, Tensor) else running_var
    for name, arr in (("running_mean", rm), ("running_var", rv)):
        if arr is not None and tuple(arr.shape) != (c,):
            raise ValueError(
                f"{_who}: {name} has shape {tuple(arr.shape)}, expected ({c},) for "
                f"input of shape {x.shape}"
            )
    affine = weight is not None or bias is not None
    tensors = [x]
    if affine:
        dt = x.data.dtype
        w = ensure_tensor(weight) if weight is not None else Tensor(xp.ones(c, dtype=dt))
        b = ensure_tensor(bias) if bias is not None else Tensor(xp.zeros(c, dtype=dt))
        for name, t in (("weight", w), ("bias", b)):
            if t.shape != (c,):
                raise ValueError(f"{_who}: {name} has shape {t.shape}, expected ({c},)")
        tensors += [w, b]
    data = x.data
    use_batch = training or rm is None or rv is None
    if use_batch:
        axes = (0,) + tuple(range(2, x.ndim))
        m = data.size // c
        if m <= 1 and training:
            raise ValueError(
                f"{_who}: expected more than 1 value per channel when training, got input of "
                f"shape {x.shape}"
            )
        mean = data.mean(axis=axes)
        d = data - mean.reshape((1, -1) + (1,) * (x.ndim - 2))
        var = (d * d).mean(axis=axes)
        if training and rm is not None:
            mom = float(momentum)
            rm *= 1.0 - mom
            rm += mom * mean.astype(rm.dtype, copy=False)
            unbiased = var * (m / (m - 1)) if m > 1 else var
            rv *= 1.0 - mom
            rv += mom * unbiased.astype(rv.dtype, copy=False)
    else:
        mean = rm.astype(data.dtype, copy=False)
        var = rv.astype(data.dtype, copy=False)
    return BatchNorm.apply(
        *tensors, mean=mean, var=var, eps=float(eps), batch_stats=use_batch, affine=affine
    )


def layer_norm(
    input: Any,  # noqa: A002
    normalized_shape: Sequence[int] | int,
    weight: Any = None,
    bias: Any = None,
    eps: float = 1e-5,
    *,
    _who: str = "layer_norm",
) -> Tensor:
    """Normalise over the trailing ``normalized_shape`` axes (Ba et al. 2016).

    Example::

        >>> import retrograd as rg
        >>> from retrograd.ops.conv import layer_norm
        >>> y = layer_norm(rg.randn(4, 6), 6)
        >>> bool(abs(y.data.mean(axis=1)).max() < 1e-5)
        True
    """
    x = ensure_tensor(input)
    shape = (
        (normalized_shape,)
        if isinstance(normalized_shape, (int, xp.integer))
        else tuple(normalized_shape)
    )
    nd = len(shape)
    if nd == 0 or x.ndim < nd or tuple(x.shape[x.ndim - nd :]) != shape:
        raise ValueError(
            f"{_who}: input has shape {x.shape}, expected (*, {', '.join(map(str, shape))})"
        )
    tensors = [x]
    for name, t in (("weight", weight), ("bias", bias)):
        if t is not None:
            t = ensure_tensor(t)
            if t.shape != shape:
                raise ValueError(f"{_who}: {name} has shape {t.shape}, expected {shape}")
            tensors.append(t)
    return LayerNorm.apply(
        *tensors, nd=nd, eps=float(eps), has_weight=weight is not None, has_bias=bias is not None
    )


def dropout2d(
    input: Any,  # noqa: A002
    p: float = 0.5,
    training: bool = True,
    generator: Any = None,
    *,
    _who: str = "dropout2d",
) -> Tensor:
    """Zero whole channels with probability ``p`` (scaling the rest by 1/(1-p)).

    (N, C, H, W) input drops channel maps per sample; unbatched (C, H, W) drops channels.

    Example::

        >>> import retrograd as rg
        >>> from retrograd.ops.conv import dropout2d
        >>> y = dropout2d(rg.ones(2, 8, 3, 3), 0.5)
        >>> sorted(set(y.data.reshape(-1).tolist()))
        [0.0, 2.0]
    """
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"{_who}: p must be in [0, 1], got {p}")
    x = ensure_tensor(input)
    if x.ndim not in (3, 4):
        raise ValueError(f"{_who}: input has shape {x.shape}, expected (N, C, H, W) or (C, H, W)")
    if not training or p == 0.0:
        return x
    from ..random import default_generator

    rng = generator or default_generator()
    mshape = x.shape[: x.ndim - 2] + (1, 1)
    if p == 1.0:
        mask = xp.zeros(mshape, dtype=x.data.dtype)
    else:
        keep = rng.random(mshape) >= p
        mask = keep.astype(x.data.dtype) * xp.asarray(1.0 / (1.0 - p), dtype=x.data.dtype)
    return x * Tensor._wrap(mask, False, None)


# ------------------------------------------------------ transposed and 1-D convolution


class ConvTranspose2d(Function):
    """Transposed 2-D convolution of x (N, Cin, H, W) with w (Cin, Cout/groups, kh, kw).

    The forward is the input gradient of a convolution: one product ``W^T X`` per group
    gives the columns, col2im adds each kernel offset's slab into a (Cout, N, ...) frame
    (``kh * kw`` vectorised slice-adds), and the padding is cropped off. The backward is
    that convolution itself: im2col of the padded output gradient, then one product for
    the input gradient and one for the weight gradient.
    """

    def forward(
        self, x, w, b=None, stride=(1, 1), padding=(0, 0), output_padding=(0, 0),
        dilation=(1, 1), groups=1,
    ):  # fmt: skip
        n, cin, h, wd = x.shape
        _, cog, kh, kw = w.shape
        g, cig, cout = groups, cin // groups, cog * groups
        (sh, sw), (ph, pw), (dh, dw) = stride, padding, dilation
        hout = (h - 1) * sh - 2 * ph + dh * (kh - 1) + output_padding[0] + 1
        wout = (wd - 1) * sw - 2 * pw + dw * (kw - 1) + output_padding[1] + 1
        xg = x.transpose(1, 0, 2, 3).reshape(g, cig, n * h * wd)
        wm = w.reshape(g, cig, cog * kh * kw)
        cols = (wm.transpose(0, 2, 1) @ xg).reshape(cout, kh, kw, n, h, wd)
        frame = xp.zeros((cout, n, hout + 2 * ph, wout + 2 * pw), dtype=x.dtype)
        for i in range(kh):
            for j in range(kw):
                _window(frame, i, j, h, wd, stride, dilation)[...] += cols[:, i, j]
        out = xp.ascontiguousarray(
            frame[:, :, ph : ph + hout, pw : pw + wout].transpose(1, 0, 2, 3)
        )
        if b is not None:
            out += b[:, None, None]
        self.x, self.w = x, w
        self.geom = (stride, padding, dilation, groups)
        return out

    def backward(self, g):
        x, w = self.x, self.w
        stride, (ph, pw), dilation, groups = self.geom
        n, cin, h, wd = x.shape
        _, cog, kh, kw = w.shape
        cig = cin // groups
        gp = _pad2d(g, ((ph, ph), (pw, pw)))
        # (groups, Cout/groups * kh * kw, N * H * W): what each input pixel fed, per offset.
        cols = _im2col(gp, kh, kw, h, wd, stride, dilation, groups)
        gx = gw = gb = None
        if self.needs[0]:
            wm = w.reshape(groups, cig, cog * kh * kw)
            gx = (wm @ cols).reshape(cin, n, h, wd).transpose(1, 0, 2, 3)
            gx = xp.ascontiguousarray(gx)
        if self.needs[1]:
            xg = x.transpose(1, 0, 2, 3).reshape(groups, cig, n * h * wd)
            gw = (xg @ cols.transpose(0, 2, 1)).reshape(w.shape)
        if len(self.needs) > 2 and self.needs[2]:
            gb = g.sum(axis=(0, 2, 3))
        return gx, gw, gb


def _transpose_geometry(
    x: Tensor, w: Tensor, stride: Any, padding: Any, output_padding: Any, dilation: Any,
    groups: Any, who: str,
) -> tuple:  # fmt: skip
    """Validated (stride, padding, output_padding, dilation, groups, output size)."""
    if w.ndim != 4:
        raise ValueError(
            f"{who}: weight has shape {w.shape}, expected 4-D (in, out/groups, kh, kw)"
        )
    if not isinstance(groups, (int, xp.integer)) or isinstance(groups, bool) or groups < 1:
        raise ValueError(f"{who}: groups must be a positive int, got {groups!r}")
    cin, cog, kh, kw = w.shape
    if cin % groups:
        raise ValueError(f"{who}: in_channels {cin} is not divisible by groups={groups}")
    stride_ = _pair(stride, "stride", who)
    padding_ = _pair(padding, "padding", who, minimum=0)
    outpad = _pair(output_padding, "output_padding", who, minimum=0)
    dilation_ = _pair(dilation, "dilation", who)
    for op, s, d in zip(outpad, stride_, dilation_):
        if op >= max(s, d):
            raise ValueError(
                f"{who}: output_padding {outpad} must be smaller than stride {stride_} or "
                f"dilation {dilation_} (in each dimension)"
            )
    if x.data.dtype != w.data.dtype:
        raise TypeError(
            f"{who}: input dtype {x.data.dtype} differs from weight dtype {w.data.dtype}"
        )
    h, wd = x.shape[2:]
    size = tuple(
        (n - 1) * s - 2 * p + d * (k - 1) + op + 1
        for n, s, p, d, k, op in zip((h, wd), stride_, padding_, dilation_, (kh, kw), outpad)
    )
    if min(size) < 1:
        raise ValueError(
            f"{who}: input of shape {tuple(x.shape)} gives an empty output {size} with "
            f"padding {padding_}; expected a positive output size"
        )
    return stride_, padding_, outpad, dilation_, int(groups), size


def conv_transpose2d(
    input: Any,  # noqa: A002 - PyTorch's name
    weight: Any,
    bias: Any = None,
    stride: Any = 1,
    padding: Any = 0,
    output_padding: Any = 0,
    groups: int = 1,
    dilation: Any = 1,
    *,
    _who: str = "conv_transpose2d",
) -> Tensor:
    """Transposed 2-D convolution ("deconvolution") of NCHW input with (in, out/g, kh, kw) weight.

    Output size per dimension: ``(n - 1) * stride - 2 * padding + dilation * (k - 1) +
    output_padding + 1``. Unbatched (C, H, W) input is accepted. PyTorch's argument order
    (``groups`` before ``dilation``).

    Example::

        >>> import retrograd as rg
        >>> from retrograd.ops.conv import conv_transpose2d
        >>> conv_transpose2d(rg.ones(2, 4, 5, 5), rg.ones(4, 3, 3, 3), stride=2).shape
        (2, 3, 11, 11)
    """
    who = _who
    x, w = ensure_tensor(input), ensure_tensor(weight)
    if w.ndim == 4:
        x, unbatched = _check_nchw(x, who, w.shape[0])
    else:
        unbatched = False
    stride_, padding_, outpad, dilation_, groups_, _ = _transpose_geometry(
        x, w, stride, padding, output_padding, dilation, groups, who
    )
    kw = dict(
        stride=stride_, padding=padding_, output_padding=outpad, dilation=dilation_,
        groups=groups_,
    )  # fmt: skip
    if bias is None:
        y = ConvTranspose2d.apply(x, w, **kw)
    else:
        b = ensure_tensor(bias)
        o = w.shape[1] * groups_
        if b.shape != (o,):
            raise ValueError(f"{who}: bias has shape {b.shape}, expected ({o},)")
        y = ConvTranspose2d.apply(x, w, b, **kw)
    return _unbatch(y, unbatched)


def _single(value: Any, name: str, who: str, minimum: int = 1) -> int:
    """A 1-D hyperparameter: an int or a 1-tuple."""
    if isinstance(value, (tuple, list)) and len(value) == 1:
        value = value[0]
    return _pair(value, name, who, minimum)[0]


def _as_2d(x: Tensor, who: str, channels: int) -> tuple:
    """(N, C, L) or unbatched (C, L) -> (N, C, 1, L); the flag says it was unbatched."""
    from .shape import reshape

    expected = f"(N, {channels}, L) or ({channels}, L)"
    if x.ndim not in (2, 3):
        raise ValueError(f"{who}: input has shape {x.shape}, expected {expected}")
    if x.shape[-2] != channels:
        raise ValueError(f"{who}: input has shape {x.shape} with {x.shape[-2]} channels, "
                         f"expected {expected}")  # fmt: skip
    unbatched = x.ndim == 2
    n = 1 if unbatched else x.shape[0]
    return reshape(x, (n, channels, 1, x.shape[-1])), unbatched


def _from_2d(y: Tensor, unbatched: bool) -> Tensor:
    from .shape import reshape

    n, c, _, length = y.shape
    return reshape(y, (c, length) if unbatched else (n, c, length))


def conv1d(
    input: Any,  # noqa: A002 - PyTorch's name
    weight: Any,
    bias: Any = None,
    stride: Any = 1,
    padding: Any = 0,
    dilation: Any = 1,
    groups: int = 1,
    *,
    _who: str = "conv1d",
) -> Tensor:
    """1-D convolution of (N, C, L) input with (out, in/groups, k) weight.

    ``padding`` is an int, ``'valid'`` or ``'same'`` (stride 1). Runs as a 2-D convolution
    with a height of 1 (same primitive, same gradients).

    Example::

        >>> import retrograd as rg
        >>> from retrograd.ops.conv import conv1d
        >>> conv1d(rg.ones(2, 3, 10), rg.ones(4, 3, 3), padding=1).shape
        (2, 4, 10)
    """
    from .shape import reshape

    who = _who
    x, w = ensure_tensor(input), ensure_tensor(weight)
    if w.ndim != 3:
        raise ValueError(f"{who}: weight has shape {w.shape}, expected 3-D (out, in/groups, k)")
    if not isinstance(groups, (int, xp.integer)) or isinstance(groups, bool) or groups < 1:
        raise ValueError(f"{who}: groups must be a positive int, got {groups!r}")
    x4, unbatched = _as_2d(x, who, w.shape[1] * int(groups))
    pad = padding if isinstance(padding, str) else (0, _single(padding, "padding", who, 0))
    y = conv2d(
        x4, reshape(w, (w.shape[0], w.shape[1], 1, w.shape[2])), bias,
        (1, _single(stride, "stride", who)), pad, (1, _single(dilation, "dilation", who)),
        groups, _who=who,
    )  # fmt: skip
    return _from_2d(y, unbatched)


def conv_transpose1d(
    input: Any,  # noqa: A002 - PyTorch's name
    weight: Any,
    bias: Any = None,
    stride: Any = 1,
    padding: Any = 0,
    output_padding: Any = 0,
    groups: int = 1,
    dilation: Any = 1,
    *,
    _who: str = "conv_transpose1d",
) -> Tensor:
    """Transposed 1-D convolution of (N, Cin, L) input with (in, out/groups, k) weight.

    Example::

        >>> import retrograd as rg
        >>> from retrograd.ops.conv import conv_transpose1d
        >>> conv_transpose1d(rg.ones(2, 4, 10), rg.ones(4, 3, 4), stride=2, padding=1).shape
        (2, 3, 20)
    """
    from .shape import reshape

    who = _who
    x, w = ensure_tensor(input), ensure_tensor(weight)
    if w.ndim != 3:
        raise ValueError(f"{who}: weight has shape {w.shape}, expected 3-D (in, out/groups, k)")
    x4, unbatched = _as_2d(x, who, w.shape[0])
    y = conv_transpose2d(
        x4, reshape(w, (w.shape[0], w.shape[1], 1, w.shape[2])), bias,
        (1, _single(stride, "stride", who)), (0, _single(padding, "padding", who, 0)),
        (0, _single(output_padding, "output_padding", who, 0)), groups,
        (1, _single(dilation, "dilation", who)), _who=who,
    )  # fmt: skip
    return _from_2d(y, unbatched)


__all__ = [
    "conv2d", "max_pool2d", "avg_pool2d", "adaptive_avg_pool2d", "batch_norm", "layer_norm",
    "dropout2d", "conv_padding", "conv1d", "conv_transpose1d", "conv_transpose2d",
]  # fmt: skip
