"""Convolution, pooling and normalisation primitives (NCHW layout, PyTorch's semantics).

Everything here is vectorised: convolution is im2col (a strided view of the padded input
copied once) followed by ONE matrix product per layer; its input gradient is col2im with
a loop over the kernel offsets only (``kh * kw`` vectorised slice-adds, never a loop over
pixels). Pooling walks the ``kh * kw`` window offsets as strided views of the input.
Batch and layer normalisation are fused primitives with analytic VJPs, which is both
faster and more accurate than differentiating the composite.

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
                gw = (g2[0] @ cols[0].T).reshape(w.shape)
            else:
                gw = (g2 @ cols.transpose(0, 2, 1)).reshape(w.shape)
        if len(self.needs) > 2 and self.needs[2]:
            if g2 is None:
                gb = g.reshape(n, o, -1).sum(axis=2).sum(axis=0)
            else:
                gb = g2.reshape(o, -1).sum(axis=1)
        return gx, gw, gb

    def _input_grad_stride1(self, g):
        """col2im for stride 1 as ``kh * kw`` flat, contiguous slab-adds.

        The output gradient is zero-padded to the padded input's size (hp, wp), so the
        input-gradient columns are laid out like the padded input itself: kernel offset
        (i, j) then moves every entry by the same flat distance ``i*dh*wp + j*dw``. Each
        slab-add is one long contiguous add over (C, N*hp*wp) instead of a 4-D strided add
        with rows of ``ow`` elements; the padded rows/columns of the gradient are zero, so
        entries that wrap across a row or image edge add nothing. The larger product
        (by hp*wp / (oh*ow)) measured cheaper than the strided adds it replaces.
        """
        xshape, pshape, pads, _, dilation, groups, oh, ow = self.geom
        w = self.w
        o, cg, kh, kw = w.shape
        n = xshape[0]
        hp, wp = pshape[2:]
        c = cg * groups
        ge = xp.zeros((o, n, hp, wp), dtype=g.dtype)
        ge[:, :, :oh, :ow] = g.transpose(1, 0, 2, 3)
        L = n * hp * wp
        wmat = w.reshape(groups, o // groups, cg * kh * kw)
        if groups == 1:
            dcols = wmat[0].T @ ge.reshape(o, L)
        else:
            dcols = wmat.transpose(0, 2, 1) @ ge.reshape(groups, o // groups, L)
        dcols = dcols.reshape(c, kh, kw, L)
        buf = dcols[:, 0, 0].copy()
        for i in range(kh):
            for j in range(kw):
                off = i * dilation[0] * wp + j * dilation[1]
                if off:
                    dst = buf[:, off:]
                    xp.add(dst, dcols[:, i, j, : L - off], out=dst)
        gxp = buf.reshape(c, n, hp, wp)
        (t, _), (left, _) = pads
        gxp = gxp[:, :, t : t + xshape[2], left : left + xshape[3]]
        return xp.ascontiguousarray(gxp.transpose(1, 0, 2, 3))


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


__all__ = [
    "conv2d", "max_pool2d", "avg_pool2d", "adaptive_avg_pool2d", "batch_norm", "layer_norm",
    "dropout2d", "conv_padding",
]  # fmt: skip
