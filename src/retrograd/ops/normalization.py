"""Batch and layer normalisation primitives (PyTorch's semantics); group and instance
normalisation built on them.

Both are single primitives with analytic VJPs, which is both faster and more accurate
than differentiating the composite.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .._backend import xp
from ..autograd.function import Function
from ..autograd.tensor import Tensor
from . import _composites
from ._util import ensure_tensor


class BatchNorm(Function):
    """``(x - mean) / sqrt(var + eps) * weight + bias`` per channel (axis 1).

    ``mean``/``var`` come from the caller: the batch statistics in training (the VJP then
    differentiates through them) or the running estimates in evaluation (constants).
    ``weight``/``bias`` are optional trailing tensors, flagged by ``affine``.
    """

    # never: the caller passes the batch's mean and variance as keywords
    replay = "never"

    def forward(self, x, *wb, mean=None, var=None, eps=1e-5, batch_stats=True, affine=False):
        bshape = (1, -1) + (1,) * (x.ndim - 2)
        invstd = 1.0 / xp.sqrt(var + xp.asarray(eps, dtype=var.dtype))
        xhat = (x - mean.reshape(bshape)) * invstd.reshape(bshape)
        self.xhat, self.invstd, self.batch_stats, self.affine = xhat, invstd, batch_stats, affine
        self.stats = (mean, var, eps)  # for the composite (create_graph) only
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

    def composite(self, x, *wb):
        mean, var, eps = self.stats
        return _composites.batch_norm(x, wb, eps, self.batch_stats, mean, var)


class LayerNorm(Function):
    """Normalise over the last ``nd`` axes, then scale by weight and shift by bias."""

    replay = "pure"

    def forward(self, x, *wb, nd=1, eps=1e-5, has_weight=False, has_bias=False):
        axes = tuple(range(x.ndim - nd, x.ndim))
        mean = x.mean(axis=axes, keepdims=True)
        d = x - mean
        var = (d * d).mean(axis=axes, keepdims=True)
        invstd = 1.0 / xp.sqrt(var + xp.asarray(eps, dtype=x.dtype))
        xhat = d * invstd
        self.xhat, self.invstd, self.axes = xhat, invstd, axes
        self.norm_args = (nd, eps)  # for the composite (create_graph) only
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

    def composite(self, x, *wb):
        nd, eps = self.norm_args
        return _composites.layer_norm(x, wb, nd, eps, self.has_weight, self.has_bias)


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
        >>> from retrograd.ops.normalization import batch_norm
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
        >>> from retrograd.ops.normalization import layer_norm
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


def group_norm(
    input: Any,  # noqa: A002 - PyTorch's name
    num_groups: int,
    weight: Any = None,
    bias: Any = None,
    eps: float = 1e-5,
    *,
    _who: str = "group_norm",
) -> Tensor:
    """Normalise (N, C, *) input over each group of ``C / num_groups`` channels (and all
    positions), then scale and shift per channel (PyTorch's GroupNorm).

    Runs as :class:`LayerNorm` (one fused node) on an (N, G, C/G * ...) view, then the
    per-channel affine.

    Example::

        >>> import retrograd as rg
        >>> y = rg.nn.functional.group_norm(rg.randn(2, 6, 4, 4), 3)
        >>> round(float(y.data[0, :2].mean()), 6) == 0.0
        True
    """
    from .shape import reshape

    who = _who
    x = ensure_tensor(input)
    if x.ndim < 2:
        raise ValueError(f"{who}: input has shape {x.shape}, expected (N, C, *)")
    if x.data.dtype.kind != "f":
        raise TypeError(f"{who}: input must be floating point, got dtype {x.data.dtype}")
    n, c = x.shape[:2]
    if (
        not isinstance(num_groups, (int, xp.integer))
        or isinstance(num_groups, bool)
        or (num_groups < 1 or c % num_groups)
    ):
        raise ValueError(f"{who}: num_groups={num_groups!r} must be a positive int dividing the "
                         f"{c} channels of input {x.shape}")  # fmt: skip
    if not (isinstance(eps, (int, float)) and eps >= 0):
        raise ValueError(f"{who}: eps must be a non-negative number, got {eps!r}")
    g = int(num_groups)
    flat = reshape(x, (n, g, -1))
    y = reshape(layer_norm(flat, (flat.shape[-1],), eps=eps), x.shape)
    affine_shape = (c,) + (1,) * (x.ndim - 2)
    for name, p in (("weight", weight), ("bias", bias)):
        if p is not None and tuple(ensure_tensor(p).shape) != (c,):
            raise ValueError(f"{who}: {name} has shape {ensure_tensor(p).shape}, expected ({c},)")
    if weight is not None:
        y = y * reshape(ensure_tensor(weight), affine_shape)
    if bias is not None:
        y = y + reshape(ensure_tensor(bias), affine_shape)
    return y


def instance_norm(
    input: Any,  # noqa: A002 - PyTorch's name
    running_mean: Any = None,
    running_var: Any = None,
    weight: Any = None,
    bias: Any = None,
    use_input_stats: bool = True,
    momentum: float = 0.1,
    eps: float = 1e-5,
    *,
    _who: str = "instance_norm",
) -> Tensor:
    """Normalise each channel of each sample over its positions (PyTorch's instance norm).

    With ``use_input_stats`` (training, or no running statistics) the statistics are the
    sample's own, and ``running_mean``/``running_var`` (if given) are updated in place
    with the batch average of them (unbiased variance), as PyTorch does; otherwise the
    running statistics normalise (evaluation with ``track_running_stats``).

    Example::

        >>> import retrograd as rg
        >>> rg.nn.functional.instance_norm(rg.randn(2, 3, 5, 5)).shape
        (2, 3, 5, 5)
    """
    who = _who
    x = ensure_tensor(input)
    if x.ndim < 3:
        raise ValueError(f"{who}: input has shape {x.shape}, expected (N, C, *) with positions")
    c = x.shape[1]
    if not use_input_stats:
        if running_mean is None or running_var is None:
            raise ValueError(f"{who}: use_input_stats=False needs running_mean and running_var")
        return batch_norm(x, running_mean, running_var, weight, bias, training=False, eps=eps)
    if running_mean is not None and running_var is not None:
        d = x.data
        axes = tuple(range(2, d.ndim))
        m = d.shape[2:]
        count = 1
        for s in m:
            count *= s
        mean = d.mean(axis=axes).mean(axis=0)
        var = d.var(axis=axes, ddof=1 if count > 1 else 0).mean(axis=0)
        for buf, new in ((running_mean, mean), (running_var, var)):
            arr = buf.data if isinstance(buf, Tensor) else buf
            arr *= 1.0 - momentum
            arr += momentum * new.astype(arr.dtype)
    return group_norm(x, c, weight, bias, eps, _who=who)


__all__ = ["batch_norm", "layer_norm", "group_norm", "instance_norm"]
