"""``rg.onnx.load``: rebuild a trainable retrograd model from an ONNX graph that maps.

The file is untrusted: it is parsed with a size limit, every tensor's declared size is
checked against the bytes that hold it before anything is allocated, external data must
lie inside the file's own directory, and nothing in the file is executed (nodes are only
matched against a fixed table of retrograd layers). What maps today: a chain of nodes
from one input to one output (what ``torch.onnx.export`` writes for an ``nn.Sequential``
of Linear, Conv2d, pooling, normalisation and activation layers, and what
:func:`retrograd.onnx.export` writes for such models).
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ModelFileError, RetrogradError
from ._graph import _onnx

__all__ = ["load", "OnnxImportError", "MAX_FILE_BYTES", "MAX_NODES", "MAX_INPUT_ELEMENTS"]

MAX_FILE_BYTES = 2**31 - 1  # a protobuf message cannot be larger
MAX_NODES = 10_000
MAX_INPUT_ELEMENTS = 2**24  # per sample: the shape check runs one sample through the layers

_DTYPES = {1: np.dtype("<f4"), 11: np.dtype("<f8"), 7: np.dtype("<i8"), 6: np.dtype("<i4")}
_TYPED_FIELD = {1: "float_data", 11: "double_data", 7: "int64_data", 6: "int32_data"}


class OnnxImportError(RetrogradError, ValueError):
    """An ONNX graph is sound but does not map onto retrograd layers (lists every node)."""


# ------------------------------------------------------------------------ tensors
class _Reader:
    """Reads TensorProtos of one file safely (sizes checked before allocating)."""

    def __init__(self, path: Path, what: str, budget: int) -> None:
        self.path = path
        self.what = what
        self.budget = budget  # bytes of tensor data the file may still produce

    def fail(self, msg: str) -> ModelFileError:
        return ModelFileError(f"{self.what}: {msg}")

    def array(self, t: Any, where: str) -> np.ndarray:
        dtype = _DTYPES.get(t.data_type)
        if dtype is None:
            raise self.fail(
                f"{where}: tensor {t.name[:80]!r} has ONNX data type {t.data_type}; "
                f"float32, float64, int32 and int64 are read"
            )
        dims = [int(d) for d in t.dims]
        if len(dims) > 32 or any(d < 0 for d in dims):
            raise self.fail(f"{where}: tensor {t.name[:80]!r} has invalid dims {dims[:8]}")
        n = math.prod(dims)  # a Python int: no overflow
        nbytes = n * dtype.itemsize
        if t.data_location != 1 and nbytes > self.budget:
            raise self.fail(
                f"{where}: tensor {t.name[:80]!r} declares {n:,} elements ({nbytes:,} bytes), "
                f"more than the file can hold"
            )
        if t.data_location == 1:  # EXTERNAL: bounded by the external file's size
            return (
                np.frombuffer(self._external(t, nbytes, where), dtype=dtype)
                .astype(dtype.newbyteorder("="))
                .reshape(dims)
            )
        if t.HasField("raw_data"):
            raw = t.raw_data
        else:
            field = getattr(t, _TYPED_FIELD[t.data_type])
            if len(field) != n:
                raise self.fail(
                    f"{where}: tensor {t.name[:80]!r} declares {n} elements but holds {len(field)}"
                )
            self.budget -= nbytes
            return np.asarray(field, dtype=dtype.newbyteorder("=")).reshape(dims)
        if len(raw) != nbytes:
            raise self.fail(
                f"{where}: tensor {t.name[:80]!r} declares {n} elements ({nbytes} bytes) but "
                f"holds {len(raw)} bytes"
            )
        self.budget -= nbytes
        return np.frombuffer(raw, dtype=dtype).astype(dtype.newbyteorder("=")).reshape(dims)

    def _external(self, t: Any, nbytes: int, where: str) -> bytes:
        info = {e.key: e.value for e in t.external_data}
        loc = info.get("location", "")
        name = f"tensor {t.name[:80]!r}"
        if not loc or os.path.isabs(loc) or ".." in Path(loc).parts or "\0" in loc:
            raise self.fail(
                f"{where}: {name} refers to external data {loc[:200]!r}: only files inside the "
                f"model's directory are read"
            )
        base = self.path.parent.resolve()
        target = (base / loc).resolve()
        try:
            target.relative_to(base)
        except ValueError:
            raise self.fail(
                f"{where}: {name} refers to external data {loc[:200]!r}, which resolves "
                f"outside the model's directory"
            ) from None
        try:
            offset = int(info.get("offset", "0"))
            length = int(info["length"]) if "length" in info else nbytes
        except ValueError:
            raise self.fail(f"{where}: {name} has a non-integer external offset/length") from None
        if offset < 0 or length != nbytes:
            raise self.fail(
                f"{where}: {name} declares {nbytes} bytes but its external data entry says "
                f"offset {offset}, length {length}"
            )
        if not target.is_file():
            raise self.fail(f"{where}: {name}: external data file {loc[:200]!r} is missing")
        size = target.stat().st_size
        if offset + nbytes > size:
            raise self.fail(
                f"{where}: {name} needs bytes {offset}..{offset + nbytes} of {loc[:200]!r}, "
                f"which has {size}"
            )
        with open(target, "rb") as f:
            f.seek(offset)
            data = f.read(nbytes)
        if len(data) != nbytes:
            raise self.fail(f"{where}: {name}: external data file {loc[:200]!r} is truncated")
        return data


# ------------------------------------------------------------------------ the graph
def _attrs(node: Any, reader: _Reader, where: str) -> dict:
    onnx = _onnx()
    out: dict = {}
    for a in node.attribute:
        kind = a.type
        A = onnx.AttributeProto
        if kind == A.FLOAT:
            out[a.name] = float(a.f)
        elif kind == A.INT:
            out[a.name] = int(a.i)
        elif kind == A.STRING:
            out[a.name] = a.s.decode("utf-8", "replace")
        elif kind == A.INTS:
            out[a.name] = [int(v) for v in a.ints]
        elif kind == A.FLOATS:
            out[a.name] = [float(v) for v in a.floats]
        elif kind == A.TENSOR:
            out[a.name] = reader.array(a.t, f"{where} attribute {a.name!r}")
        elif kind in (A.GRAPH, A.GRAPHS):
            out[a.name] = _Subgraph()
        else:
            out[a.name] = None
    return out


class _Subgraph:
    """Marks a control-flow attribute (Loop/If/Scan bodies are not imported)."""


class _Unsupported(Exception):
    pass


class _Builder:
    """Matches the nodes of a chain onto layers, tracking one sample's shape."""

    def __init__(self, consts: dict, dtype: Any, shape: tuple) -> None:
        self.consts = consts
        self.dtype = dtype
        self.shape = shape  # current value's shape, batch axis included (batch 1)
        self.layers: list = []
        self.example: Any = None
        self.opset = 0

    def const(self, name: str, what: str) -> np.ndarray:
        if name not in self.consts:
            raise _Unsupported(f"its {what} {name[:60]!r} is computed, not a constant")
        return self.consts[name]

    def add(self, layer: Any, state: dict | None = None) -> None:
        from ..autograd.mode import no_grad
        from ..autograd.tensor import Tensor

        if state:
            own = dict(layer.named_parameters())
            own.update(layer.named_buffers())
            for k, v in state.items():
                if own[k].shape != v.shape:
                    raise _Unsupported(f"its {k} has shape {v.shape}, expected {own[k].shape}")
                own[k].data[...] = v
        layer.eval()
        try:
            with no_grad():
                out = layer(Tensor(self.example))
        except (ValueError, TypeError) as e:
            raise _Unsupported(f"the layer {layer!r} rejects its input: {e}") from None
        self.example = np.asarray(out.data)
        self.shape = self.example.shape
        self.layers.append(layer)


def _match_gemm(b: _Builder, node: Any, at: dict, rest: list) -> int:
    from .. import nn

    if at.get("alpha", 1.0) != 1.0 or at.get("beta", 1.0) != 1.0 or at.get("transA", 0):
        raise _Unsupported("alpha/beta != 1 or transA=1")
    w = b.const(node.input[1], "weight")
    w = w if at.get("transB", 0) else w.T
    if w.ndim != 2:
        raise _Unsupported(f"its weight has shape {w.shape}")
    out_f, in_f = w.shape
    bias = None
    if len(node.input) > 2 and node.input[2]:
        bias = b.const(node.input[2], "bias")
        if bias.size != out_f:
            raise _Unsupported(f"its bias has shape {bias.shape}, expected ({out_f},)")
        bias = bias.reshape(out_f)
    layer = nn.Linear(in_f, out_f, bias=bias is not None, dtype=b.dtype)
    b.add(layer, {"weight": w, **({"bias": bias} if bias is not None else {})})
    return 1


def _match_matmul(b: _Builder, node: Any, at: dict, rest: list) -> int:
    from .. import nn

    w = b.const(node.input[1], "weight")
    if w.ndim != 2:
        raise _Unsupported(f"its weight has shape {w.shape}")
    in_f, out_f = w.shape
    bias, used = None, 1
    nxt = rest[0] if rest else None
    if nxt is not None and nxt.op_type == "Add" and node.output[0] in nxt.input:
        other = [i for i in nxt.input if i != node.output[0]]
        if len(other) == 1 and other[0] in b.consts and b.consts[other[0]].size == out_f:
            bias, used = b.consts[other[0]].reshape(out_f), 2
    layer = nn.Linear(in_f, out_f, bias=bias is not None, dtype=b.dtype)
    b.add(layer, {"weight": np.ascontiguousarray(w.T), **({"bias": bias} if used == 2 else {})})
    return used


def _conv_padding(at: dict, kernel: list, stride: list, dilation: list) -> Any:
    auto = at.get("auto_pad", "NOTSET")
    pads = at.get("pads", [0, 0, 0, 0])
    if auto == "VALID":
        return 0
    if auto in ("SAME_UPPER", "SAME_LOWER"):
        if stride != [1, 1]:
            raise _Unsupported(f"auto_pad={auto} with stride {stride}")
        pads = []
        for k, d in zip(kernel, dilation):
            total = d * (k - 1)
            lo = total // 2 if auto == "SAME_UPPER" else total - total // 2
            pads.append((lo, total - lo))
        pads = [pads[0][0], pads[1][0], pads[0][1], pads[1][1]]
    if len(pads) != 4:
        raise _Unsupported(f"pads {pads} (2-D only)")
    pt, pl, pb, pr = pads
    if (pt, pl) == (pb, pr):
        return [pt, pl]
    same = [(d * (k - 1)) // 2 for k, d in zip(kernel, dilation)]
    rest = [d * (k - 1) - s for k, d, s in zip(kernel, dilation, same)]
    if stride == [1, 1] and [pt, pl] == same and [pb, pr] == rest:
        return "same"
    raise _Unsupported(f"asymmetric pads {pads}")


def _match_conv(b: _Builder, node: Any, at: dict, rest: list) -> int:
    from .. import nn

    w = b.const(node.input[1], "weight")
    if w.ndim != 4:
        raise _Unsupported(f"its weight has shape {w.shape} (Conv2d only)")
    kernel = at.get("kernel_shape", list(w.shape[2:]))
    stride = at.get("strides", [1, 1])
    dilation = at.get("dilations", [1, 1])
    groups = at.get("group", 1)
    padding = _conv_padding(at, kernel, stride, dilation)
    bias = b.const(node.input[2], "bias") if len(node.input) > 2 and node.input[2] else None
    layer = nn.Conv2d(
        w.shape[1] * groups, w.shape[0], kernel, stride=stride, padding=padding,
        dilation=dilation, groups=groups, bias=bias is not None, dtype=b.dtype,
    )  # fmt: skip
    b.add(layer, {"weight": w, **({"bias": bias} if bias is not None else {})})
    return 1


def _pool_pads(at: dict) -> list:
    if at.get("auto_pad", "NOTSET") not in ("NOTSET", "VALID"):
        raise _Unsupported(f"auto_pad={at['auto_pad']}")
    pads = at.get("pads", [0, 0, 0, 0])
    if len(pads) != 4 or pads[:2] != pads[2:]:
        raise _Unsupported(f"pads {pads} (symmetric 2-D pads only)")
    return pads[:2]


def _match_maxpool(b: _Builder, node: Any, at: dict, rest: list) -> int:
    from .. import nn

    if len(node.output) > 1 and node.output[1]:
        raise _Unsupported("its Indices output is used")
    k = at.get("kernel_shape")
    if not k or len(k) != 2:
        raise _Unsupported(f"kernel_shape {k} (2-D only)")
    layer = nn.MaxPool2d(
        k, stride=at.get("strides", [1, 1]), padding=_pool_pads(at),
        dilation=at.get("dilations", [1, 1]), ceil_mode=bool(at.get("ceil_mode", 0)),
    )  # fmt: skip
    b.add(layer)
    return 1


def _match_avgpool(b: _Builder, node: Any, at: dict, rest: list) -> int:
    from .. import nn

    k = at.get("kernel_shape")
    if not k or len(k) != 2:
        raise _Unsupported(f"kernel_shape {k} (2-D only)")
    if at.get("dilations", [1, 1]) != [1, 1]:
        raise _Unsupported("dilations")
    layer = nn.AvgPool2d(
        k, stride=at.get("strides", [1, 1]), padding=_pool_pads(at),
        ceil_mode=bool(at.get("ceil_mode", 0)),
        count_include_pad=bool(at.get("count_include_pad", 0)),
    )  # fmt: skip
    b.add(layer)
    return 1


def _match_batchnorm(b: _Builder, node: Any, at: dict, rest: list) -> int:
    from .. import nn

    if at.get("training_mode", 0) or any(o for o in node.output[1:]):
        raise _Unsupported("training mode")
    scale, bias, mean, var = (b.const(n, w) for n, w in zip(
        node.input[1:5], ("scale", "bias", "mean", "var")))  # fmt: skip
    c = scale.size
    rank = len(b.shape)
    cls = nn.BatchNorm2d if rank == 4 else nn.BatchNorm1d if rank in (2, 3) else None
    if cls is None:
        raise _Unsupported(f"input of rank {rank}")
    layer = cls(c, eps=at.get("epsilon", 1e-5), momentum=round(1.0 - at.get("momentum", 0.9), 12),
                dtype=b.dtype)  # fmt: skip
    b.add(layer, {"weight": scale.reshape(c), "bias": bias.reshape(c),
                  "running_mean": mean.reshape(c), "running_var": var.reshape(c)})  # fmt: skip
    return 1


def _match_layernorm(b: _Builder, node: Any, at: dict, rest: list) -> int:
    from .. import nn

    if any(o for o in node.output[1:]):
        raise _Unsupported("its mean/inv_std outputs are used")
    axis = at.get("axis", -1) % len(b.shape)
    shape = tuple(b.shape[axis:])
    if axis == 0:
        raise _Unsupported("normalising over the batch axis")
    scale = b.const(node.input[1], "scale")
    bias = b.const(node.input[2], "bias") if len(node.input) > 2 and node.input[2] else None
    layer = nn.LayerNorm(shape, eps=at.get("epsilon", 1e-5), bias=bias is not None,
                         dtype=b.dtype)  # fmt: skip
    state = {"weight": np.broadcast_to(scale, shape)}
    if bias is not None:
        state["bias"] = np.broadcast_to(bias, shape)
    b.add(layer, state)
    return 1


def _match_flatten(b: _Builder, node: Any, at: dict, rest: list) -> int:
    from .. import nn

    if at.get("axis", 1) != 1:
        raise _Unsupported(f"axis={at.get('axis')} (axis 1 only)")
    b.add(nn.Flatten())
    return 1


def _match_reshape(b: _Builder, node: Any, at: dict, rest: list) -> int:
    from .. import nn

    target = [int(v) for v in b.const(node.input[1], "shape").reshape(-1)]
    per_sample = math.prod(b.shape[1:])
    if len(target) == 2 and target[0] in (0, -1, 1) and target[1] in (-1, per_sample):
        if target[0] == 1 and target[1] == -1:
            raise _Unsupported(f"shape {target} fixes the batch size to 1")
        b.add(nn.Flatten())
        return 1
    if target and target[0] == 0 and -1 not in target[1:] and len(b.shape) == 2:
        if math.prod(target[1:]) == per_sample:
            from ..nn import InputReshape

            b.add(InputReshape(target[1:]))
            return 1
    raise _Unsupported(f"shape {target} for an input of shape (batch, *{list(b.shape[1:])})")


def _simple(make: Callable[[dict], Any]) -> Callable:
    def match(b: _Builder, node: Any, at: dict, rest: list) -> int:
        b.add(make(at))
        return 1

    return match


def _nn() -> Any:
    from .. import nn

    return nn


_MATCHERS: dict = {
    "Gemm": _match_gemm,
    "MatMul": _match_matmul,
    "Conv": _match_conv,
    "MaxPool": _match_maxpool,
    "AveragePool": _match_avgpool,
    "BatchNormalization": _match_batchnorm,
    "LayerNormalization": _match_layernorm,
    "Flatten": _match_flatten,
    "Reshape": _match_reshape,
    "Relu": _simple(lambda at: _nn().ReLU()),
    "Tanh": _simple(lambda at: _nn().Tanh()),
    "Sigmoid": _simple(lambda at: _nn().Sigmoid()),
    "LeakyRelu": _simple(lambda at: _nn().LeakyReLU(at.get("alpha", 0.01))),
    "Gelu": _simple(lambda at: _nn().GELU(at.get("approximate", "none"))),
    "Softplus": _simple(lambda at: _nn().Softplus()),
    "GlobalAveragePool": _simple(lambda at: _nn().AdaptiveAvgPool2d(1)),
    "Identity": _simple(lambda at: _nn().Identity()),
}


def _match_dropout(b: _Builder, node: Any, at: dict, rest: list) -> int:
    ratio = 0.5
    if len(node.input) > 1 and node.input[1]:
        ratio = float(b.const(node.input[1], "ratio").reshape(-1)[0])
    if len(node.output) > 1 and node.output[1]:
        raise _Unsupported("its mask output is used")
    b.add(_nn().Dropout(ratio))
    return 1


def _match_softmax(log: bool) -> Callable:
    def match(b: _Builder, node: Any, at: dict, rest: list) -> int:
        axis = at.get("axis", -1 if b.opset >= 13 else 1)
        rank = len(b.shape)
        if b.opset < 13 and axis % rank != rank - 1:
            raise _Unsupported(f"opset {b.opset} Softmax over axes {axis}.. (coerced to 2-D)")
        b.add(_nn().LogSoftmax(axis) if log else _nn().Softmax(axis))
        return 1

    return match


def _match_gelu_erf(b: _Builder, node: Any, at: dict, rest: list) -> int:
    """torch's GELU below opset 20: x * 0.5 * (1 + erf(x / sqrt(2))) as five nodes."""
    x = node.input[0]
    ops = [n.op_type for n in rest[:4]]
    if ops != ["Erf", "Add", "Mul", "Mul"]:
        raise _Unsupported("Div is imported only as part of GELU's erf form")
    erf, add, mul1, mul2 = rest[:4]

    def const_of(n: Any, other: str) -> Any:
        names = [i for i in n.input if i != other]
        return b.consts.get(names[0]) if len(names) == 1 else None

    c_div = const_of(node, x)
    c_add = const_of(add, erf.output[0])
    ok = (
        c_div is not None and np.allclose(c_div, np.sqrt(2.0))
        and erf.input[0] == node.output[0]
        and c_add is not None and np.allclose(c_add, 1.0)
        and sorted(mul1.input) == sorted([x, add.output[0]])
        and const_of(mul2, mul1.output[0]) is not None
        and np.allclose(const_of(mul2, mul1.output[0]), 0.5)
    )  # fmt: skip
    if not ok:
        raise _Unsupported("Div is imported only as part of GELU's erf form")
    b.add(_nn().GELU())
    return 5


_MATCHERS.update(
    {"Div": _match_gelu_erf, "Dropout": _match_dropout, "Softmax": _match_softmax(False),
     "LogSoftmax": _match_softmax(True)}
)  # fmt: skip


# ------------------------------------------------------------------------ entry point
def load(path: str | os.PathLike, *, max_bytes: int = MAX_FILE_BYTES) -> Any:
    """Rebuild a trainable model from the ONNX file ``path`` (an ``nn.Sequential``).

    The graph must be a chain from one float input to one output whose nodes map onto
    retrograd layers: ``Gemm``/``MatMul`` (+``Add``) -> Linear, ``Conv`` -> Conv2d,
    ``MaxPool``/``AveragePool``/``GlobalAveragePool``, ``BatchNormalization``,
    ``LayerNormalization``, ``Flatten``/``Reshape``, ``Dropout``, the activations and
    ``Softmax``/``LogSoftmax`` — what ``torch.onnx.export`` writes for an
    ``nn.Sequential`` of those layers. Weights are copied into the layers' parameters
    (PyTorch layouts); the model is returned in ``eval()`` mode (call ``train()`` to
    fine-tune). Nodes that do not map are all listed in one :class:`OnnxImportError`.

    Safe on untrusted files: at most ``max_bytes`` are read, each tensor's declared size
    is checked against the bytes present before allocating, external data is read only
    from inside the file's directory, and nothing is executed. A damaged or hostile file
    raises :class:`retrograd.ModelFileError`.

    Example::

        >>> import tempfile, pathlib, retrograd as rg
        >>> net = rg.nn.Sequential(rg.nn.Linear(3, 4), rg.nn.ReLU(), rg.nn.Linear(4, 2))
        >>> path = rg.onnx.export(net, rg.randn(1, 3), pathlib.Path(tempfile.mkdtemp()) / "n.onnx")
        >>> rg.onnx.load(path)[0]
        Linear(in_features=3, out_features=4, bias=True)
    """
    from ..nn.module import Sequential

    onnx = _onnx()
    p = Path(os.fspath(path))
    what = f"ONNX file {str(p)!r}"
    if not p.is_file():
        raise FileNotFoundError(f"onnx.load: no such file: {str(p)!r}")
    size = p.stat().st_size
    if size > max_bytes:
        raise ModelFileError(f"{what}: {size:,} bytes, more than max_bytes={max_bytes:,}")
    with open(p, "rb") as f:
        # read(n) allocates n bytes up front: ask for the size stat gave, not max_bytes.
        data = f.read(size)
        if f.read(1):
            raise ModelFileError(f"{what}: the file grew while being read")
    proto = onnx.ModelProto()
    try:
        proto.ParseFromString(data)
    except Exception as e:  # DecodeError, RecursionError (nesting bombs), ...
        raise ModelFileError(f"{what}: not a valid ONNX protobuf ({type(e).__name__})") from None
    del data
    g = proto.graph
    opset = next((o.version for o in proto.opset_import if o.domain in ("", "ai.onnx")), None)
    if opset is None:
        raise ModelFileError(f"{what}: no opset of the default ONNX domain is imported")
    if len(g.node) > MAX_NODES:
        raise ModelFileError(f"{what}: {len(g.node)} nodes, more than {MAX_NODES}")
    # Tensor data held in the file decodes to at most 8 bytes per byte (int64 varints);
    # external data is bounded by each external file's size (checked per tensor).
    reader = _Reader(p, what, budget=8 * size + 2**20)
    consts: dict = {}
    for t in g.initializer:
        if len(consts) > MAX_NODES:
            raise ModelFileError(f"{what}: more than {MAX_NODES} initializers")
        consts[t.name] = reader.array(t, "initializer")
    if len(g.sparse_initializer):
        raise OnnxImportError(f"{what}: sparse initializers are not supported")
    inputs = [i for i in g.input if i.name not in consts]
    if len(inputs) != 1 or len(g.output) != 1:
        raise OnnxImportError(
            f"{what}: the graph has {len(inputs)} inputs and {len(g.output)} outputs; "
            f"a chain from one input to one output is imported"
        )
    dtype, shape = _input_spec(inputs[0], what)
    return _build(g, consts, reader, dtype, shape, opset, what, Sequential)


def _input_spec(inp: Any, what: str) -> tuple:
    tt = inp.type.tensor_type
    dtype = _DTYPES.get(tt.elem_type)
    if dtype is None or dtype.kind != "f":
        raise OnnxImportError(
            f"{what}: input {inp.name[:60]!r} has element type {tt.elem_type}; float32 or "
            f"float64 inputs are imported"
        )
    if not tt.HasField("shape") or len(tt.shape.dim) == 0:
        raise OnnxImportError(f"{what}: input {inp.name[:60]!r} has no declared shape")
    dims = []
    for k, d in enumerate(tt.shape.dim):
        if k == 0:
            dims.append(1)  # the batch axis: one sample is enough to check shapes
        elif d.HasField("dim_value") and d.dim_value > 0:
            dims.append(int(d.dim_value))
        else:
            raise OnnxImportError(
                f"{what}: input {inp.name[:60]!r} has a symbolic or unknown axis {k}; only "
                f"the batch axis (0) may vary"
            )
    if math.prod(dims) > MAX_INPUT_ELEMENTS:
        raise ModelFileError(
            f"{what}: input {inp.name[:60]!r} of shape {dims} has more than "
            f"{MAX_INPUT_ELEMENTS:,} elements per sample"
        )
    return dtype.newbyteorder("="), tuple(dims)


def _build(g: Any, consts: dict, reader: _Reader, dtype: Any, shape: tuple, opset: int,
           what: str, Sequential: Any) -> Any:  # fmt: skip
    b = _Builder(consts, dtype, shape)
    b.opset = opset
    b.example = np.random.default_rng(0).standard_normal(shape).astype(dtype)
    nodes = list(g.node)
    problems: list = []
    # Constant nodes only feed shapes and parameters.
    for k, node in enumerate(nodes):
        if node.op_type == "Constant" and node.domain in ("", "ai.onnx"):
            where = f"node {k} ({node.name[:60] or 'Constant'})"
            at = _attrs(node, reader, where)
            if len(node.output) == 1 and isinstance(at.get("value"), np.ndarray):
                consts[node.output[0]] = at["value"]
            else:
                problems.append(f"{where}: Constant without a tensor 'value'")
    chain = [n for n in nodes if n.op_type != "Constant"]
    current = next(i.name for i in g.input if i.name not in consts)
    k = 0
    broken = False
    while k < len(chain):
        node = chain[k]
        where = f"{node.op_type} node {node.name[:60]!r}" if node.name else node.op_type
        at = _attrs(node, reader, where)
        matcher = _MATCHERS.get(node.op_type) if node.domain in ("", "ai.onnx") else None
        used = 1
        if matcher is None:
            problems.append(f"{where}: no retrograd layer for the op {node.op_type!r}")
            broken = True
        elif any(isinstance(v, _Subgraph) for v in at.values()):
            problems.append(f"{where}: control flow (subgraph attributes) is not imported")
            broken = True
        elif not node.input or node.input[0] != current:
            problems.append(
                f"{where}: its input is not the previous node's output (only chains import)"
            )
            broken = True
        elif broken:
            pass  # shapes are unknown after a node that did not map: just list the ops
        else:
            try:
                used = matcher(b, node, at, chain[k + 1 :])
            except _Unsupported as e:
                problems.append(f"{where}: {e}")
                broken = True
        current = chain[k + used - 1].output[0] if chain[k + used - 1].output else current
        k += used
    if not problems and current != g.output[0].name:
        problems.append(f"the graph output {g.output[0].name[:60]!r} is not the chain's end")
    if problems:
        raise OnnxImportError(
            f"{what}: {len(problems)} node(s) do not map onto retrograd layers:\n  "
            + "\n  ".join(problems)
        )
    model = Sequential(*b.layers)
    model.eval()
    return model
