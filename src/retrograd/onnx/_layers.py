"""Exporters of the feedforward, convolution, pooling and normalisation layers of rg.nn.

Each function maps one layer, in inference mode, onto ONNX operators with the same
arithmetic; weights are written in the layer's own layout wherever ONNX accepts it
(Linear's (out, in) weight through ``Gemm(transB=1)``, Conv2d's OIHW weight as is), so
initializer names are the layer's ``state_dict`` names.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ._graph import ExportContext, Value
from ._registry import builtin


def _arr(t: Any) -> np.ndarray:
    return np.asarray(t.data)


# ----------------------------------------------------------------------- containers
@builtin("Sequential")
def _sequential(ctx: ExportContext, m: Any, x: Any) -> Any:
    v = x
    for name, child in m._modules.items():
        if child is not None:
            v = ctx.call(child, v, name=name)
    return _names(v)


def _names(v: Any) -> Any:
    if isinstance(v, Value):
        return v.name
    return tuple(_names(p) for p in v)


# ----------------------------------------------------------------------- linear
@builtin("Linear")
def _linear(ctx: ExportContext, m: Any, x: Value) -> str:
    w = _arr(m.weight)
    _check_float(ctx, x, w)
    b = None if m.bias is None else _arr(m.bias)
    if x.ndim == 2:
        # Gemm takes the (out, in) weight as stored (transB): names stay the state_dict's.
        args = [x, ctx.weight(w, "weight")] + ([ctx.weight(b, "bias")] if b is not None else [])
        return ctx.op("Gemm", *args, transB=1)
    y = ctx.op("MatMul", x, ctx.weight(np.ascontiguousarray(w.T), "weight_t"))
    return y if b is None else ctx.op("Add", y, ctx.weight(b, "bias"))


# ----------------------------------------------------------------------- pass-through
@builtin("Identity", "Dropout", "Dropout2d")
def _identity(ctx: ExportContext, m: Any, x: Value) -> str:
    # Dropout is the identity in inference, which is what an exported graph runs.
    return x.name


# ----------------------------------------------------------------------- activations
@builtin("ReLU")
def _relu(ctx: ExportContext, m: Any, x: Value) -> str:
    return ctx.op("Relu", x)


@builtin("Tanh")
def _tanh(ctx: ExportContext, m: Any, x: Value) -> str:
    return ctx.op("Tanh", x)


@builtin("Sigmoid")
def _sigmoid(ctx: ExportContext, m: Any, x: Value) -> str:
    return ctx.op("Sigmoid", x)


@builtin("LeakyReLU")
def _leaky_relu(ctx: ExportContext, m: Any, x: Value) -> str:
    return ctx.op("LeakyRelu", x, alpha=float(m.negative_slope))


@builtin("GELU")
def _gelu(ctx: ExportContext, m: Any, x: Value) -> str:
    if ctx.opset >= 20:
        return ctx.op("Gelu", x, approximate=m.approximate)
    half = ctx.op("Mul", x, ctx.scalar(0.5, x))
    if m.approximate == "tanh":
        # 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))
        cube = ctx.op("Mul", ctx.op("Mul", x, x), x)
        inner = ctx.op("Add", x, ctx.op("Mul", cube, ctx.scalar(0.044715, x)))
        t = ctx.op("Tanh", ctx.op("Mul", inner, ctx.scalar(math.sqrt(2.0 / math.pi), x)))
    else:
        # 0.5 x (1 + erf(x / sqrt(2)))
        t = ctx.op("Erf", ctx.op("Mul", x, ctx.scalar(1.0 / math.sqrt(2.0), x)))
    return ctx.op("Mul", half, ctx.op("Add", t, ctx.scalar(1.0, x)))


@builtin("Softplus")
def _softplus(ctx: ExportContext, m: Any, x: Value) -> str:
    # PyTorch's: log(1 + exp(beta x)) / beta, and x itself where beta x > threshold.
    bx = ctx.op("Mul", x, ctx.scalar(m.beta, x))
    soft = ctx.op("Div", ctx.op("Softplus", bx), ctx.scalar(m.beta, x))
    return ctx.op("Where", ctx.op("Greater", bx, ctx.scalar(m.threshold, x)), x, soft)


@builtin("Softmax", "LogSoftmax")
def _softmax(ctx: ExportContext, m: Any, x: Value) -> str:
    if m.dim is None:
        raise ctx.fail("dim=None (an implicit axis) has no ONNX equivalent; set dim")
    op = "LogSoftmax" if type(m).__name__ == "LogSoftmax" else "Softmax"
    return ctx.op(op, x, axis=int(m.dim))


@builtin("Flatten")
def _flatten(ctx: ExportContext, m: Any, x: Value) -> str:
    nd = max(x.ndim, 1)
    start, end = m.start_dim % nd, m.end_dim % nd
    if start == 1 and end == nd - 1:
        return ctx.op("Flatten", x, axis=1)
    if start >= end:
        return x.name
    # Dimensions before start_dim are copied (0), the flattened block inferred (-1), and
    # those after end_dim are known from the example (they are not the batch axis).
    shape = [0] * start + [-1] + list(x.shape[end + 1 :])
    return ctx.reshape(x, shape)


# ----------------------------------------------------------------------- convolution
def _check_4d(ctx: ExportContext, x: Value) -> None:
    if x.ndim != 4:
        raise ctx.fail(
            f"input has shape {x.shape}; export handles batched (N, C, H, W) input only "
            f"(add the batch axis)"
        )


@builtin("Conv2d")
def _conv2d(ctx: ExportContext, m: Any, x: Value) -> str:
    from ..ops.conv import conv_padding

    _check_4d(ctx, x)
    _check_float(ctx, x, _arr(m.weight))
    if getattr(m, "padding_mode", "zeros") != "zeros":
        raise ctx.fail(
            f"padding_mode={m.padding_mode!r} is not exported (only 'zeros' maps to ONNX Conv)"
        )
    (pt, pb), (pl, pr) = conv_padding(m.padding, m.kernel_size, m.stride, m.dilation, "Conv2d")
    args = [x, ctx.weight(_arr(m.weight), "weight")]
    if m.bias is not None:
        args.append(ctx.weight(_arr(m.bias), "bias"))
    return ctx.op(
        "Conv",
        *args,
        kernel_shape=list(m.kernel_size),
        strides=list(m.stride),
        pads=[pt, pl, pb, pr],
        dilations=list(m.dilation),
        group=int(m.groups),
    )


@builtin("MaxPool2d")
def _max_pool2d(ctx: ExportContext, m: Any, x: Value) -> str:
    _check_4d(ctx, x)
    if getattr(m, "return_indices", False):
        raise ctx.fail("return_indices=True is not exported (the layer returns a pair)")
    ph, pw = m.padding
    return ctx.op(
        "MaxPool",
        x,
        kernel_shape=list(m.kernel_size),
        strides=list(m.stride),
        pads=[ph, pw, ph, pw],
        dilations=list(m.dilation),
        ceil_mode=int(m.ceil_mode),
    )


@builtin("AvgPool2d")
def _avg_pool2d(ctx: ExportContext, m: Any, x: Value) -> str:
    _check_4d(ctx, x)
    ph, pw = m.padding
    kh, kw = m.kernel_size
    if m.divisor_override is not None and (m.ceil_mode or (ph, pw) != (0, 0)):
        raise ctx.fail(
            "divisor_override with padding or ceil_mode has no ONNX equivalent (AveragePool "
            "divides by the window size)"
        )
    y = ctx.op(
        "AveragePool",
        x,
        kernel_shape=[kh, kw],
        strides=list(m.stride),
        pads=[ph, pw, ph, pw],
        ceil_mode=int(m.ceil_mode),
        count_include_pad=int(m.count_include_pad),
    )
    if m.divisor_override is not None:
        # Unpadded windows all hold kh*kw elements: sum / d = mean * (kh*kw / d).
        y = ctx.op("Mul", y, ctx.scalar(kh * kw / m.divisor_override, x))
    return y


def _adaptive_matrix(n_in: int, n_out: int, dtype: Any) -> np.ndarray:
    """(n_out, n_in) averaging matrix of adaptive pooling along one axis (PyTorch's bins)."""
    p = np.zeros((n_out, n_in), dtype=np.float64)
    for i in range(n_out):
        lo = (i * n_in) // n_out
        hi = -((-(i + 1) * n_in) // n_out)
        p[i, lo:hi] = 1.0 / (hi - lo)
    return p.astype(dtype)


@builtin("AdaptiveAvgPool2d")
def _adaptive_avg_pool2d(ctx: ExportContext, m: Any, x: Value) -> str:
    _check_4d(ctx, x)
    h, w = x.shape[2:]
    o = m.output_size
    oh, ow = (o, o) if isinstance(o, int) else o
    oh, ow = h if oh is None else oh, w if ow is None else ow
    if (oh, ow) == (1, 1):
        return ctx.op("GlobalAveragePool", x)
    if h % oh == 0 and w % ow == 0:
        k = [h // oh, w // ow]
        return ctx.op("AveragePool", x, kernel_shape=k, strides=k)
    # Uneven bins: adaptive average pooling is separable, out = P_h @ x @ P_w^T.
    ph = ctx.weight(_adaptive_matrix(h, oh, x.dtype), "pool_rows")
    pw = ctx.weight(_adaptive_matrix(w, ow, x.dtype).T.copy(), "pool_cols")
    return ctx.op("MatMul", ctx.op("MatMul", ph, x), pw)


# ----------------------------------------------------------------------- normalisation
@builtin("BatchNorm1d", "BatchNorm2d")
def _batch_norm(ctx: ExportContext, m: Any, x: Value) -> str:
    c = m.num_features
    dt = x.dtype
    scale = _arr(m.weight) if m.affine else np.ones(c, dtype=dt)
    bias = _arr(m.bias) if m.affine else np.zeros(c, dtype=dt)
    if m.track_running_stats:
        return ctx.op(
            "BatchNormalization",
            x,
            ctx.weight(scale, "weight"),
            ctx.weight(bias, "bias"),
            ctx.weight(_arr(m.running_mean), "running_mean"),
            ctx.weight(_arr(m.running_var), "running_var"),
            epsilon=float(m.eps),
        )
    # Without running statistics the layer normalises by the batch's own, in inference too.
    axes = [0] + list(range(2, x.ndim))
    mean = ctx.reduce("ReduceMean", x, axes)
    centred = ctx.op("Sub", x, mean)
    var = ctx.reduce("ReduceMean", ctx.op("Mul", centred, centred), axes)
    std = ctx.op("Sqrt", ctx.op("Add", var, ctx.scalar(m.eps, x)))
    shape = [1, c] + [1] * (x.ndim - 2)
    y = ctx.op("Div", centred, std)
    y = ctx.op("Mul", y, ctx.weight(scale.reshape(shape), "weight"))
    return ctx.op("Add", y, ctx.weight(bias.reshape(shape), "bias"))


@builtin("LayerNorm")
def _layer_norm(ctx: ExportContext, m: Any, x: Value) -> str:
    ctx.require_opset(17, "ONNX LayerNormalization")
    shape = tuple(m.normalized_shape)
    scale = _arr(m.weight) if m.weight is not None else np.ones(shape, dtype=x.dtype)
    args = [x, ctx.weight(scale, "weight")]
    if m.bias is not None:
        args.append(ctx.weight(_arr(m.bias), "bias"))
    return ctx.op("LayerNormalization", *args, axis=-len(shape), epsilon=float(m.eps))


# ----------------------------------------------------------------------- 1-D and transposed
def _check_float(ctx: ExportContext, x: Value, w: np.ndarray) -> None:
    if x.dtype != w.dtype:
        raise ctx.fail(f"input has dtype {x.dtype}, expected {w.dtype} like the weights")


@builtin("Conv1d")
def _conv1d(ctx: ExportContext, m: Any, x: Value) -> str:
    from ..ops.conv import conv_padding

    if x.ndim != 3:
        raise ctx.fail(f"input has shape {x.shape}; export handles batched (N, C, L) input only")
    w = _arr(m.weight)
    _check_float(ctx, x, w)
    pad = m.padding if isinstance(m.padding, str) else (0,) + tuple(m.padding)
    _, (lo, hi) = conv_padding(pad, (1,) + m.kernel_size, (1,) + m.stride, (1,) + m.dilation,
                               "Conv1d")  # fmt: skip
    args = [x, ctx.weight(w, "weight")]
    if m.bias is not None:
        args.append(ctx.weight(_arr(m.bias), "bias"))
    return ctx.op(
        "Conv", *args, kernel_shape=list(m.kernel_size), strides=list(m.stride), pads=[lo, hi],
        dilations=list(m.dilation), group=int(m.groups),
    )  # fmt: skip


@builtin("ConvTranspose1d", "ConvTranspose2d")
def _conv_transpose(ctx: ExportContext, m: Any, x: Value, output_size: Any = None) -> str:
    from ..autograd.tensor import Tensor

    n = m._n
    if x.ndim != n + 2:
        raise ctx.fail(f"input has shape {x.shape}; export handles batched input only")
    w = _arr(m.weight)
    _check_float(ctx, x, w)
    out_pad = m._output_padding(Tensor(x.example), output_size)
    args = [x, ctx.weight(w, "weight")]
    if m.bias is not None:
        args.append(ctx.weight(_arr(m.bias), "bias"))
    return ctx.op(
        "ConvTranspose", *args, kernel_shape=list(m.kernel_size), strides=list(m.stride),
        pads=list(m.padding) * 2, output_padding=list(out_pad), dilations=list(m.dilation),
        group=int(m.groups),
    )  # fmt: skip


# ----------------------------------------------------------------------- resampling
@builtin("PixelShuffle", "PixelUnshuffle")
def _pixel_shuffle(ctx: ExportContext, m: Any, x: Value) -> str:
    if x.ndim != 4:
        raise ctx.fail(f"input has shape {x.shape}; export handles (N, C, H, W) input only")
    _, c, h, w = x.shape
    if type(m).__name__ == "PixelShuffle":
        r = m.upscale_factor
        # PyTorch's channel order is ONNX's DepthToSpace "CRD".
        return ctx.op("DepthToSpace", x, blocksize=r, mode="CRD")
    r = m.downscale_factor
    # (N, C, H/r, r, W/r, r) -> (N, C, r, r, H/r, W/r): PyTorch's order, which is not
    # ONNX SpaceToDepth's (that one puts the block offsets before the channels).
    y = ctx.reshape(x, [0, c, h // r, r, w // r, r])
    y = ctx.op("Transpose", y, perm=[0, 1, 3, 5, 2, 4])
    return ctx.reshape(y, [0, c * r * r, h // r, w // r])


@builtin("Upsample", "UpsamplingNearest2d", "UpsamplingBilinear2d")
def _upsample(ctx: ExportContext, m: Any, x: Value) -> str:
    # The spatial sizes are fixed by the example, so the source rows/columns and blend
    # weights of every output position are computed here, by retrograd's own rules, and
    # the graph gathers and blends them: the same arithmetic, whatever the mode.
    from ..ops import resample as R

    n = x.ndim - 2
    if n < 1:
        raise ctx.fail(f"input has shape {x.shape}, expected (N, C, ...)")
    sizes, factors = R._out_sizes(_Shape(x.shape), m.size, m.scale_factor, n, ctx.where)
    if m.recompute_scale_factor:
        factors = (None,) * n
    y = x.name
    for k in reversed(range(n)):
        axis = 2 + k
        n_in = x.shape[axis]
        if m.mode in R._SPATIAL:
            i0, i1, l0, l1 = R._linear_weights(n_in, sizes[k], factors[k], bool(m.align_corners),
                                               x.dtype)  # fmt: skip
            shape = [1] * x.ndim
            shape[axis] = sizes[k]
            a = ctx.op("Gather", y, ctx.ints(i0, "index"), axis=axis)
            b = ctx.op("Gather", y, ctx.ints(i1, "index"), axis=axis)
            y = ctx.op(
                "Add",
                ctx.op("Mul", a, ctx.const(l0.reshape(shape), "weight")),
                ctx.op("Mul", b, ctx.const(l1.reshape(shape), "weight")),
            )
        else:
            idx = R._nearest_index(n_in, sizes[k], factors[k], m.mode == "nearest-exact")
            if not (idx.shape[0] == n_in and (idx == np.arange(n_in)).all()):
                y = ctx.op("Gather", y, ctx.ints(idx, "index"), axis=axis)
    return y


class _Shape:
    """Stands for a tensor where only ``.shape`` is read."""

    def __init__(self, shape: tuple) -> None:
        self.shape = shape


# ----------------------------------------------------------------------- embedding
@builtin("Embedding")
def _embedding(ctx: ExportContext, m: Any, x: Value) -> str:
    if m.max_norm is not None:
        raise ctx.fail(
            "max_norm renormalises the looked-up rows of the weight in place, which a graph "
            "cannot do; apply the renormalisation to the weight and export with max_norm=None"
        )
    if x.dtype.kind not in "iu":
        raise ctx.fail(f"input has dtype {x.dtype}; expected integer indices")
    return ctx.op("Gather", ctx.weight(_arr(m.weight), "weight"), x, axis=0)


# ----------------------------------------------------------------------- more activations
@builtin("SiLU")
def _silu(ctx: ExportContext, m: Any, x: Value) -> str:
    return ctx.op("Mul", x, ctx.op("Sigmoid", x))


@builtin("ELU")
def _elu(ctx: ExportContext, m: Any, x: Value) -> str:
    return ctx.op("Elu", x, alpha=float(m.alpha))


@builtin("CELU")
def _celu(ctx: ExportContext, m: Any, x: Value) -> str:
    return ctx.op("Celu", x, alpha=float(m.alpha))


@builtin("SELU")
def _selu(ctx: ExportContext, m: Any, x: Value) -> str:
    # PyTorch's constants (ONNX's defaults are these, rounded to float32).
    return ctx.op("Selu", x, alpha=1.6732632423543772, gamma=1.0507009873554805)


@builtin("ReLU6", "Hardtanh")
def _clip(ctx: ExportContext, m: Any, x: Value) -> str:
    lo, hi = (0.0, 6.0) if type(m).__name__ == "ReLU6" else (m.min_val, m.max_val)
    return ctx.op("Clip", x, ctx.scalar(lo, x), ctx.scalar(hi, x))


@builtin("Hardswish")
def _hardswish(ctx: ExportContext, m: Any, x: Value) -> str:
    ctx.require_opset(14, "ONNX HardSwish")
    return ctx.op("HardSwish", x)


@builtin("Hardsigmoid")
def _hardsigmoid(ctx: ExportContext, m: Any, x: Value) -> str:
    return ctx.op("HardSigmoid", x, alpha=1.0 / 6.0, beta=0.5)


@builtin("Mish")
def _mish(ctx: ExportContext, m: Any, x: Value) -> str:
    return ctx.op("Mul", x, ctx.op("Tanh", ctx.op("Softplus", x)))


@builtin("Softsign")
def _softsign(ctx: ExportContext, m: Any, x: Value) -> str:
    return ctx.op("Softsign", x)


@builtin("LogSigmoid")
def _log_sigmoid(ctx: ExportContext, m: Any, x: Value) -> str:
    # min(x, 0) - log(1 + exp(-|x|)): finite for every x (log(1 + exp(-x)) overflows).
    tail = ctx.op("Log", ctx.op("Add", ctx.scalar(1.0, x), ctx.op("Exp", ctx.op("Neg", ctx.op(
        "Abs", x)))))  # fmt: skip
    return ctx.op("Sub", ctx.op("Min", x, ctx.scalar(0.0, x)), tail)


@builtin("Softmin")
def _softmin(ctx: ExportContext, m: Any, x: Value) -> str:
    if m.dim is None:
        raise ctx.fail("dim=None (an implicit axis) has no ONNX equivalent; set dim")
    return ctx.op("Softmax", ctx.op("Neg", x), axis=int(m.dim))


# ----------------------------------------------------------------------- 1-D pools
def _check_3d(ctx: ExportContext, x: Value) -> None:
    if x.ndim != 3:
        raise ctx.fail(f"input has shape {x.shape}; export handles batched (N, C, L) input only")


def _one(v: Any) -> int:
    return int(v[0]) if isinstance(v, (tuple, list)) else int(v)


@builtin("MaxPool1d")
def _max_pool1d(ctx: ExportContext, m: Any, x: Value) -> str:
    if getattr(m, "return_indices", False):
        raise ctx.fail("return_indices=True is not exported (the layer returns a pair)")
    _check_3d(ctx, x)
    p = _one(m.padding)
    return ctx.op(
        "MaxPool", x, kernel_shape=[_one(m.kernel_size)], strides=[_one(m.stride)], pads=[p, p],
        dilations=[_one(m.dilation)], ceil_mode=int(m.ceil_mode),
    )  # fmt: skip


@builtin("AvgPool1d")
def _avg_pool1d(ctx: ExportContext, m: Any, x: Value) -> str:
    _check_3d(ctx, x)
    p = _one(m.padding)
    return ctx.op(
        "AveragePool", x, kernel_shape=[_one(m.kernel_size)], strides=[_one(m.stride)],
        pads=[p, p], ceil_mode=int(m.ceil_mode), count_include_pad=int(m.count_include_pad),
    )  # fmt: skip


@builtin("AdaptiveAvgPool1d")
def _adaptive_avg_pool1d(ctx: ExportContext, m: Any, x: Value) -> str:
    _check_3d(ctx, x)
    n_in = x.shape[2]
    out = n_in if m.output_size is None else _one(m.output_size)
    if out == 1:
        return ctx.op("GlobalAveragePool", x)
    pool = ctx.weight(_adaptive_matrix(n_in, out, x.dtype).T.copy(), "pool")
    return ctx.op("MatMul", x, pool)


# ----------------------------------------------------------------------- group/instance norm
@builtin("GroupNorm")
def _group_norm(ctx: ExportContext, m: Any, x: Value) -> str:
    if x.ndim < 2:
        raise ctx.fail(f"input has shape {x.shape}, expected (N, C, *)")
    c = m.num_channels
    groups = ctx.reshape(x, [0, m.num_groups, -1])
    mean = ctx.reduce("ReduceMean", groups, [2])
    centred = ctx.op("Sub", groups, mean)
    var = ctx.reduce("ReduceMean", ctx.op("Mul", centred, centred), [2])
    y = ctx.op("Div", centred, ctx.op("Sqrt", ctx.op("Add", var, ctx.scalar(m.eps, x))))
    y = ctx.op("Reshape", y, ctx.op("Shape", x))
    if not m.affine:
        return y
    shape = [c] + [1] * (x.ndim - 2)
    y = ctx.op("Mul", y, ctx.weight(_arr(m.weight).reshape(shape), "weight"))
    return ctx.op("Add", y, ctx.weight(_arr(m.bias).reshape(shape), "bias"))


@builtin("InstanceNorm2d")
def _instance_norm2d(ctx: ExportContext, m: Any, x: Value) -> str:
    _check_4d(ctx, x)
    c = x.shape[1]
    scale = _arr(m.weight) if m.affine else np.ones(c, dtype=x.dtype)
    bias = _arr(m.bias) if m.affine else np.zeros(c, dtype=x.dtype)
    if m.track_running_stats:  # inference uses the running statistics, as BatchNorm does
        return ctx.op(
            "BatchNormalization", x, ctx.weight(scale, "weight"), ctx.weight(bias, "bias"),
            ctx.weight(_arr(m.running_mean), "running_mean"),
            ctx.weight(_arr(m.running_var), "running_var"), epsilon=float(m.eps),
        )  # fmt: skip
    return ctx.op(
        "InstanceNormalization", x, ctx.weight(scale, "weight"), ctx.weight(bias, "bias"),
        epsilon=float(m.eps),
    )  # fmt: skip
