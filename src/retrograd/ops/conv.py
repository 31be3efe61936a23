"""Convolution primitives (NCHW layout, PyTorch's semantics).

Everything here is vectorised: convolution is im2col (a strided view of the padded input
copied once) followed by ONE matrix product per layer; its input gradient is col2im with
a loop over the kernel offsets only (``kh * kw`` vectorised slice-adds, never a loop over
pixels). Pooling (:mod:`retrograd.ops.pool`) and normalisation
(:mod:`retrograd.ops.normalization`) have their own modules; the geometry they share with
convolution is in ``ops/_spatial.py``.

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

from typing import Any

from .._backend import xp
from .._checks import int_pair, positive_int
from ..autograd.function import Function
from ..autograd.tensor import Tensor
from ..kernels import K as _K
from . import _composites
from ._spatial import _as_2d, _as_strided, _check_nchw, _from_2d, _pad2d, _single, _unbatch, _window
from ._util import ensure_tensor

# ------------------------------------------------------------------------ helpers


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

    replay = "pure"

    def forward(
        self, x, w, b=None, stride=(1, 1), pads=((0, 0), (0, 0)), dilation=(1, 1), groups=1
    ):
        n, c, h, wd = x.shape
        o, cg, kh, kw = w.shape
        xp_ = _pad2d(x, pads)
        hp, wp = xp_.shape[2:]
        oh = (hp - dilation[0] * (kh - 1) - 1) // stride[0] + 1
        ow = (wp - dilation[1] * (kw - 1) - 1) // stride[1] + 1
        self.geom = (x.shape, xp_.shape, pads, stride, dilation, groups, oh, ow)
        self.w = w
        if n == 0:
            # An empty batch (as Linear takes one): an empty output; gradients are zeros.
            self.cols = None
            return xp.zeros((0, o, oh, ow), dtype=x.dtype)
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
        if xshape[0] == 0:
            gb = xp.zeros(w.shape[0], w.dtype) if len(self.needs) > 2 and self.needs[2] else None
            gx = xp.zeros(xshape, w.dtype) if self.needs[0] else None
            return gx, (xp.zeros_like(w) if self.needs[1] else None), gb
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
            # col2im: each kernel offset's slab added back into the padded input
            gx = _K.col2im(dcols, pshape, xshape, pads, stride, dilation, g.dtype)
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

    def composite(self, x, w, b=None):
        _, _, pads, stride, dilation, groups, _, _ = self.geom
        return _composites.conv2d(x, w, b, stride, pads, dilation, groups)


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
        # a few images at a time, the columns of each chunk summed while in cache
        return _K.col2im_stride1(ge, wmat[0], xshape, pads, kh, kw, dilation)
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


# --------------------------------------------------- fused conv -> ReLU -> max-pool


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

    replay = "pure"

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
        # bias, the pool over the four blocks and ReLU on the pooled quarter (relu and max
        # commute); the window bits and ReLU's mask are kept for the backward
        pooled, self.pos, self.bits = _K.relu_pool2_fwd(z, b, rows)
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
        ge = None
        if self.needs[0]:
            # The input gradient needs the conv output's gradient in an (O, N, hf, wf)
            # frame for the stride-1 col2im; positions no window covers (and the frame's
            # margin) stay zero. Only the 2*ph x 2*pw corner of the conv output has a
            # gradient, so the frame stops the kernel's extent past it: 12x12 instead of
            # the padded input's 13x13 for conv2 of the MNIST CNN (1.25 vs 1.41 ms for
            # the col2im).
            frame = (
                min(pshape[2], 2 * ph + dilation[0] * (kh - 1)),
                min(pshape[3], 2 * pw + dilation[1] * (kw - 1)),
            )
            ge = xp.zeros((o, n) + frame, dtype=g.dtype)
        # ReLU's mask on the pooled values (gp, in the layout of the blocks), each
        # window's gradient routed to its arg-max (dz, the four blocks) and, with ge,
        # the blocks scattered into the frame.
        gp, dz = _K.relu_pool2_bwd(g, self.pos, t01, t23, tv, rows, ge)
        gx = gw = gb = None
        if ge is not None:
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

    def composite(self, x, w, b=None):
        _, _, pads, dilation, _, _ = self.geom
        return _composites.conv_relu_max_pool2d(x, w, b, pads, dilation)


# ------------------------------------------------------------ public functions


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
    ph, pw = int_pair(padding, "padding", who, minimum=0)
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
    positive_int(groups, "groups", who)
    o, cg, kh, kw = w.shape
    if o % groups:
        raise ValueError(f"{who}: out_channels {o} is not divisible by groups={groups}")
    stride_ = int_pair(stride, "stride", who)
    dilation_ = int_pair(dilation, "dilation", who)
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

    replay = "pure"

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
        self.out_hw = (hout, wout)  # for the composite (create_graph) only
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

    def composite(self, x, w, b=None):
        stride, padding, dilation, groups = self.geom
        return _composites.conv_transpose2d(x, w, b, stride, padding, dilation, groups, self.out_hw)


def _transpose_geometry(
    x: Tensor, w: Tensor, stride: Any, padding: Any, output_padding: Any, dilation: Any,
    groups: Any, who: str,
) -> tuple:  # fmt: skip
    """Validated (stride, padding, output_padding, dilation, groups, output size)."""
    if w.ndim != 4:
        raise ValueError(
            f"{who}: weight has shape {w.shape}, expected 4-D (in, out/groups, kh, kw)"
        )
    positive_int(groups, "groups", who)
    cin, cog, kh, kw = w.shape
    if cin % groups:
        raise ValueError(f"{who}: in_channels {cin} is not divisible by groups={groups}")
    stride_ = int_pair(stride, "stride", who)
    padding_ = int_pair(padding, "padding", who, minimum=0)
    outpad = int_pair(output_padding, "output_padding", who, minimum=0)
    dilation_ = int_pair(dilation, "dilation", who)
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
    positive_int(groups, "groups", who)
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
    "conv2d", "dropout2d", "conv_padding", "conv1d", "conv_transpose1d", "conv_transpose2d",
]  # fmt: skip
