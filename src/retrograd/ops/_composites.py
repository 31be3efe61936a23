"""Fused kernels rebuilt from plain primitives: what ``create_graph=True`` differentiates.

A fused primitive (linear+activation, the losses, convolution, pooling, normalisation,
the recurrent layers) keeps its fast first-order VJP. For a gradient of a gradient the
engine calls the primitive's ``composite`` method, which returns one of these functions
of the same inputs: the same values built from primitives that have second-order rules
(``backward_graph``), so the engine can differentiate the VJP again, to any order.
They are slower than the fused kernels (convolution becomes an index gather and a matrix
product, an LSTM one node per gate and step) and run only under ``create_graph``.

Arguments other than the tensors (geometry, masks, targets) are what the primitive's
forward saved; anything that depends on a differentiated input is recomputed here from
the tensors, never taken from the forward's arrays.
"""

from __future__ import annotations

from typing import Any

from .._backend import xp
from ..autograd.tensor import Tensor
from ._graph import const, reshape


def _swap(t: Tensor) -> Tensor:
    from .shape import Permute

    axes = list(range(t.ndim))
    axes[-1], axes[-2] = axes[-2], axes[-1]
    return Permute.apply(t, axes=tuple(axes))


def _act(z: Tensor, act: str) -> Tensor:
    from .elementwise import Relu, Sigmoid, Tanh

    return {"relu": Relu, "tanh": Tanh, "sigmoid": Sigmoid}[act].apply(z)


# --------------------------------------------------------------------------- linear


def linear(x: Tensor, w: Tensor, b: Tensor | None = None, act: str | None = None) -> Tensor:
    """``act(x @ w.T + b)``."""
    from .linalg import MatMul

    z = MatMul.apply(x, _swap(w))
    if b is not None:
        z = z + b
    return z if act is None else _act(z, act)


# --------------------------------------------------------------------------- losses


def _reduce(losses: Tensor, reduction: str, denom: float) -> Tensor:
    from .reduce import Sum

    if reduction == "none":
        return losses
    total = Sum.apply(losses, axis=None, keepdims=False)
    return total / denom if reduction == "mean" else total


def cross_entropy(z: Tensor, coef: Any, reduction: str, denom: float) -> Tensor:
    """``-sum_c coef[i, c] log_softmax(z)[i, c]``, reduced (coef constant)."""
    from .reduce import Sum

    lsm = _log_softmax(z, 1)
    losses = -Sum.apply(lsm * coef, axis=1, keepdims=False)
    return _reduce(losses, reduction, denom)


def _log_softmax(z: Tensor, axis: int) -> Tensor:
    from .reduce import LogSumExp

    return z - LogSumExp.apply(z, axis=axis, keepdims=True)


def bce_with_logits(z, y, weight, pos_weight, reduction) -> Tensor:
    from .elementwise import Softplus

    sp = Softplus.apply(-z, beta=1.0, threshold=float("inf"))  # log(1 + e^-z), stable
    if pos_weight is None:
        losses = (1.0 - y) * z + sp
    else:
        losses = (1.0 - y) * z + (y * (pos_weight - 1) + 1.0) * sp
    if weight is not None:
        losses = losses * weight
    return _reduce(losses, reduction, float(max(losses.data.size, 1)))


def mse(a: Tensor, b: Tensor, reduction: str) -> Tensor:
    d = a - b
    return _reduce(d * d, reduction, float(max(d.data.size, 1)))


# ------------------------------------------------------------------- convolution


def _windows(shape: tuple, kernel: tuple, stride: tuple, dilation: tuple, out_hw: tuple) -> Any:
    """Flat indices into an (N, C, Hp, Wp) array: (N, C, oh, ow, kh * kw) windows."""
    n, c, hp, wp = shape
    kh, kw = kernel
    oh, ow = out_hw
    ni = xp.arange(n).reshape(n, 1, 1, 1, 1, 1)
    ci = xp.arange(c).reshape(1, c, 1, 1, 1, 1)
    yi = (xp.arange(oh) * stride[0]).reshape(1, 1, oh, 1, 1, 1) + (
        xp.arange(kh) * dilation[0]
    ).reshape(1, 1, 1, 1, kh, 1)
    xi = (xp.arange(ow) * stride[1]).reshape(1, 1, 1, ow, 1, 1) + (
        xp.arange(kw) * dilation[1]
    ).reshape(1, 1, 1, 1, 1, kw)
    flat = ((ni * c + ci) * hp + yi) * wp + xi
    return flat.reshape(n, c, oh, ow, kh * kw)


def _padded_flat(x: Tensor, pads: tuple, value: float = 0.0) -> Tensor:
    from .shape import Pad

    (t, b), (left, r) = pads
    if t or b or left or r:
        x = Pad.apply(x, pad_width=((0, 0), (0, 0), (t, b), (left, r)), value=value)
    return x, reshape(x, (-1,))


def conv2d(x, w, b, stride, pads, dilation, groups) -> Tensor:
    """Cross-correlation as a gather of the windows and one batched matrix product."""
    from .linalg import MatMul
    from .shape import GetItem, Permute

    o, cg, kh, kw = w.shape
    n = x.shape[0]
    xpad, flat = _padded_flat(x, pads)
    hp, wp = xpad.shape[2:]
    oh = (hp - dilation[0] * (kh - 1) - 1) // stride[0] + 1
    ow = (wp - dilation[1] * (kw - 1) - 1) // stride[1] + 1
    idx = _windows(xpad.shape, (kh, kw), stride, dilation, (oh, ow))  # (N, C, oh, ow, K)
    # -> (N, groups, oh*ow, Cg*kh*kw), the channel-major order of w's rows.
    idx = idx.reshape(n, groups, cg, oh * ow, kh * kw).transpose(0, 1, 3, 2, 4)
    cols = GetItem.apply(flat, index=idx.reshape(n, groups, oh * ow, cg * kh * kw))
    wmat = reshape(w, (groups, o // groups, cg * kh * kw))
    out = MatMul.apply(cols, _swap(wmat))  # (N, groups, oh*ow, O/groups)
    out = Permute.apply(out, axes=(0, 1, 3, 2))
    out = reshape(out, (n, o, oh, ow))
    if b is not None:
        out = out + reshape(b, (o, 1, 1))
    return out


def max_pool2d(x, kernel, stride, pads, dilation, out_hw) -> Tensor:
    """The window maximum as a gather of each window's first arg-max (PyTorch's rule)."""
    from .shape import GetItem

    xpad, flat = _padded_flat(x, pads, -float("inf"))
    idx = _windows(xpad.shape, kernel, stride, dilation, out_hw)
    vals = flat.data[idx]
    # The first maximum in row-major window order; a NaN wins (it propagates).
    first = xp.argmax(xp.where(xp.isnan(vals), xp.inf, vals), axis=-1)
    pick = xp.take_along_axis(idx, first[..., None], axis=-1)[..., 0]
    return GetItem.apply(flat, index=pick)


def avg_pool2d(x, kernel, stride, pads, out_hw, divisor) -> Tensor:
    from .reduce import Sum
    from .shape import GetItem

    xpad, flat = _padded_flat(x, pads)
    idx = _windows(xpad.shape, kernel, stride, (1, 1), out_hw)
    total = Sum.apply(GetItem.apply(flat, index=idx), axis=4, keepdims=False)
    return total / const(xp.asarray(divisor, dtype=x.data.dtype))


def adaptive_avg_pool2d(x, mats) -> Tensor:
    from .linalg import MatMul
    from .reduce import Mean

    if mats is None:
        return Mean.apply(x, axis=(2, 3), keepdims=True)
    ah, aw = mats
    return MatMul.apply(const(ah), MatMul.apply(x, const(xp.ascontiguousarray(aw.T))))


def conv_relu_max_pool2d(x, w, b, pads, dilation) -> Tensor:
    from .elementwise import Relu

    z = Relu.apply(conv2d(x, w, b, (1, 1), pads, dilation, 1))
    ph, pw = z.shape[2] // 2, z.shape[3] // 2
    return max_pool2d(z, (2, 2), (2, 2), ((0, 0), (0, 0)), (1, 1), (ph, pw))


# ------------------------------------------------------------------- normalisation


def batch_norm(x, wb, eps, batch_stats, mean, var) -> Tensor:
    from .elementwise import Sqrt
    from .reduce import Mean

    axes = (0,) + tuple(range(2, x.ndim))
    bshape = (1, -1) + (1,) * (x.ndim - 2)
    if batch_stats:
        mu = Mean.apply(x, axis=axes, keepdims=True)
        d = x - mu
        v = Mean.apply(d * d, axis=axes, keepdims=True)  # biased, as normalisation uses
        xhat = d / Sqrt.apply(v + eps)
    else:
        invstd = 1.0 / xp.sqrt(var + xp.asarray(eps, dtype=var.dtype))
        xhat = (x - const(mean.reshape(bshape))) * const(invstd.reshape(bshape))
    if not wb:
        return xhat
    c = x.shape[1]
    shape = (1, c) + (1,) * (x.ndim - 2)
    return xhat * reshape(wb[0], shape) + reshape(wb[1], shape)


def layer_norm(x, wb, nd, eps, has_weight, has_bias) -> Tensor:
    from .elementwise import Sqrt
    from .reduce import Mean

    axes = tuple(range(x.ndim - nd, x.ndim))
    mu = Mean.apply(x, axis=axes, keepdims=True)
    d = x - mu
    v = Mean.apply(d * d, axis=axes, keepdims=True)
    out = d / Sqrt.apply(v + eps)
    if has_weight:
        out = out * wb[0]
    if has_bias:
        out = out + wb[-1]
    return out


# ----------------------------------------------------------------------- recurrent


def _steps(T: int, reverse: bool) -> range:
    return range(T - 1, -1, -1) if reverse else range(T)


def _finish(outs: list, finals: list, pad: Any) -> Tensor:
    from .elementwise import Where
    from .shape import Concatenate

    rows = []
    for t, h in enumerate(outs):
        if pad is not None:
            # Padded steps output zeros (their state is carried, not emitted).
            h = Where.apply(const(xp.zeros((), dtype=h.data.dtype)), h, cond=pad[t])
        rows.append(reshape(h, (1,) + h.shape))
    rows += [reshape(s, (1,) + s.shape) for s in finals]
    return Concatenate.apply(*rows, axis=0)


def _hold(new: Tensor, old: Tensor, pad: Any, t: int) -> Tensor:
    """``old`` where step t is padding, else ``new``."""
    from .elementwise import Where

    if pad is None:
        return new
    return Where.apply(old, new, cond=pad[t])


def _project(x: Tensor, w_ih: Tensor, b_ih: Any) -> Tensor:
    from .linalg import MatMul

    a = MatMul.apply(x, _swap(w_ih))  # (T, B, G*H)
    return a if b_ih is None else a + b_ih


def rnn(x, h0, w_ih, w_hh, b_ih, b_hh, relu, reverse, pad) -> Tensor:
    from .elementwise import Relu, Tanh
    from .linalg import MatMul

    T = x.shape[0]
    a = _project(x, w_ih, b_ih)
    whh = _swap(w_hh)
    h = h0
    outs: list = [None] * T
    for t in _steps(T, reverse):
        z = a[t] + MatMul.apply(h, whh)
        if b_hh is not None:
            z = z + b_hh
        h = _hold(Relu.apply(z) if relu else Tanh.apply(z), h, pad, t)
        outs[t] = h
    return _finish(outs, [h], pad)


def lstm(x, h0, c0, w_ih, w_hh, b_ih, b_hh, reverse, pad) -> Tensor:
    from .elementwise import Sigmoid, Tanh
    from .linalg import MatMul

    T = x.shape[0]
    H = h0.shape[1]
    a = _project(x, w_ih, b_ih)
    whh = _swap(w_hh)
    h, c = h0, c0
    outs: list = [None] * T
    for t in _steps(T, reverse):
        z = a[t] + MatMul.apply(h, whh)
        if b_hh is not None:
            z = z + b_hh
        i = Sigmoid.apply(z[:, :H])
        f = Sigmoid.apply(z[:, H : 2 * H])
        g = Tanh.apply(z[:, 2 * H : 3 * H])
        o = Sigmoid.apply(z[:, 3 * H :])
        cn = f * c + i * g
        hn = o * Tanh.apply(cn)
        h, c = _hold(hn, h, pad, t), _hold(cn, c, pad, t)
        outs[t] = h
    return _finish(outs, [h, c], pad)


def gru(x, h0, w_ih, w_hh, b_ih, b_hh, reverse, pad) -> Tensor:
    from .elementwise import Sigmoid, Tanh
    from .linalg import MatMul

    T = x.shape[0]
    H = h0.shape[1]
    a = _project(x, w_ih, b_ih)
    whh = _swap(w_hh)
    h = h0
    outs: list = [None] * T
    for t in _steps(T, reverse):
        gh = MatMul.apply(h, whh)
        if b_hh is not None:
            gh = gh + b_hh
        at = a[t]
        r = Sigmoid.apply(at[:, :H] + gh[:, :H])
        zg = Sigmoid.apply(at[:, H : 2 * H] + gh[:, H : 2 * H])
        n = Tanh.apply(at[:, 2 * H :] + r * gh[:, 2 * H :])
        h = _hold(n + zg * (h - n), h, pad, t)
        outs[t] = h
    return _finish(outs, [h], pad)


def conv_transpose2d(x, w, b, stride, padding, dilation, groups, out_hw) -> Tensor:
    """Transposed convolution as a product and a scatter-add of the columns."""
    from .linalg import MatMul
    from .shape import GetItem, IndexAdd, Permute

    n, cin, h, wd = x.shape
    _, cog, kh, kw = w.shape
    cig, cout = cin // groups, cog * groups
    (sh, sw), (ph, pw), (dh, dw) = stride, padding, dilation
    hout, wout = out_hw
    hf, wf = hout + 2 * ph, wout + 2 * pw
    xs = reshape(x, (n, groups, cig, h * wd))
    wt = Permute.apply(reshape(w, (groups, cig, cog * kh * kw)), axes=(0, 2, 1))
    cols = MatMul.apply(wt, xs)  # (N, groups, Cout/groups * kh * kw, H * W)
    ni = xp.arange(n).reshape(n, 1, 1, 1, 1, 1, 1)
    co = (xp.arange(groups)[:, None] * cog + xp.arange(cog)).reshape(1, groups, cog, 1, 1, 1, 1)
    yi = (xp.arange(kh) * dh).reshape(1, 1, 1, kh, 1, 1, 1) + (xp.arange(h) * sh).reshape(
        1, 1, 1, 1, 1, h, 1
    )
    xi = (xp.arange(kw) * dw).reshape(1, 1, 1, 1, kw, 1, 1) + (xp.arange(wd) * sw).reshape(
        1, 1, 1, 1, 1, 1, wd
    )
    idx = ((ni * cout + co) * hf + yi) * wf + xi
    idx = idx.reshape(n, groups, cog * kh * kw, h * wd)
    frame = IndexAdd.apply(cols, shape=(n * cout * hf * wf,), index=idx, advanced=True)
    frame = reshape(frame, (n, cout, hf, wf))
    out = GetItem.apply(
        frame, index=(slice(None), slice(None), slice(ph, ph + hout), slice(pw, pw + wout))
    )
    if b is not None:
        out = out + reshape(b, (cout, 1, 1))
    return out
