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
