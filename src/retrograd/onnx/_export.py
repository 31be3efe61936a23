"""``rg.onnx.export``: write a model as an ONNX graph, checked, atomically."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ._graph import ExportContext, OnnxExportError, Value, _onnx
from ._registry import lookup

__all__ = ["export", "DEFAULT_OPSET", "MIN_OPSET", "MAX_OPSET"]

#: The opset written by default: LayerNormalization exists (17) and every common
#: runtime (ONNX Runtime, TensorRT, OpenVINO, onnxruntime-web) reads it.
DEFAULT_OPSET = 17
#: The oldest opset the exporters target (Softmax over one axis, Squeeze/Unsqueeze axes
#: as inputs: both opset 13).
MIN_OPSET = 13
#: The newest opset the exporters were checked against with ONNX Runtime.
MAX_OPSET = 21
#: Protocol buffers cannot hold a message of 2 GiB or more.
MAX_BYTES = 2**31 - 1

_METADATA_ARCH = "retrograd_architecture"
_METADATA_VERSION = "retrograd_version"


def _check_opset(opset: Any) -> int:
    if opset is None:
        return DEFAULT_OPSET
    if not isinstance(opset, (int, np.integer)) or isinstance(opset, bool):
        raise TypeError(f"export: opset must be an int, got {type(opset).__name__} {opset!r}")
    if not MIN_OPSET <= opset <= MAX_OPSET:
        raise ValueError(
            f"export: opset {opset} is not supported; expected {MIN_OPSET} to {MAX_OPSET} "
            f"(default {DEFAULT_OPSET})"
        )
    return int(opset)


def _check_path(path: Any) -> Path:
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"export: path must be a str or PathLike, got {type(path).__name__}")
    p = Path(os.fspath(path))
    parent = p.parent if str(p.parent) else Path(".")
    if p.is_dir():
        raise IsADirectoryError(f"export: path {str(p)!r} is a directory, expected a file name")
    if not parent.is_dir():
        raise FileNotFoundError(f"export: directory {str(parent)!r} does not exist")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise PermissionError(f"export: directory {str(parent)!r} is not writable")
    return p


def _model_dtype(model: Any) -> Any:
    for t in list(model.parameters()) + list(model.buffers()):
        if t is not None and np.asarray(t.data).dtype.kind == "f":
            return np.asarray(t.data).dtype
    return None


def _as_examples(example_input: Any, model: Any) -> list:
    from ..autograd.tensor import Tensor

    items = list(example_input) if isinstance(example_input, (tuple, list)) else [example_input]
    if not items:
        raise ValueError("export: example_input is empty; pass a Tensor or array")
    want = _model_dtype(model)
    arrays = []
    for i, item in enumerate(items):
        what = "example_input" if len(items) == 1 else f"example_input[{i}]"
        if isinstance(item, Tensor):
            arr = np.asarray(item.data)
        elif isinstance(item, np.ndarray):
            arr = item
        else:
            raise TypeError(
                f"export: {what} must be a retrograd Tensor or a NumPy array, "
                f"got {type(item).__name__}"
            )
        if arr.dtype.kind in "iu":
            if arr.dtype.itemsize < 4:  # ONNX's Gather takes int32/int64 indices
                arr = arr.astype(np.int64)
        elif arr.dtype.kind != "f":
            raise TypeError(
                f"export: {what} has dtype {arr.dtype}; expected a floating dtype "
                f"({want or 'float32'}) or integer indices"
            )
        elif want is not None and arr.dtype != want:
            raise TypeError(
                f"export: {what} has dtype {arr.dtype} but the model's parameters are {want}; "
                f"pass the input as {want} (x.astype('{want}'))"
            )
        if arr.ndim == 0 or arr.shape[0] == 0:
            raise ValueError(
                f"export: {what} has shape {arr.shape}; expected at least one sample along axis 0"
            )
        if not np.all(np.isfinite(arr)):
            raise ValueError(f"export: {what} holds inf or NaN; pass finite example values")
        arrays.append(np.ascontiguousarray(arr))
    return arrays


def _names(given: Any, n: int, default: str, what: str) -> list:
    if given is None:
        return [default] if n == 1 else [f"{default}_{k}" for k in range(n)]
    names = [given] if isinstance(given, str) else list(given)
    if len(names) != n or not all(isinstance(s, str) and s for s in names):
        raise ValueError(f"export: {what} must be {n} non-empty strings, got {given!r}")
    if len(set(names)) != n:
        raise ValueError(f"export: {what} repeat a name: {names!r}")
    return names


def _axes_spec(dynamic_axes: Any, dynamic_batch: bool, names: list, shapes: list) -> dict:
    """{tensor name: {axis: symbolic name}} from dynamic_axes / dynamic_batch."""
    if dynamic_axes is None:
        if not dynamic_batch:
            return {}
        # One symbol says "the same size at run time" (ONNX Runtime plans buffers by it):
        # inputs whose axis 0 differs in the example (a time-major source and target) get
        # one symbol each.
        shared = len({s[0] for s in shapes}) == 1
        return {n: {0: "batch" if shared else f"{n}_dim0"} for n in names}
    if not isinstance(dynamic_axes, Mapping):
        raise TypeError(
            "export: dynamic_axes must map tensor names to {axis: name} or a list of axes, "
            f"got {type(dynamic_axes).__name__}"
        )
    spec: dict = {}
    for key, axes in dynamic_axes.items():
        if isinstance(axes, Mapping):
            items = list(axes.items())
        elif isinstance(axes, Sequence) and not isinstance(axes, str):
            items = [(a, f"{key}_dim{a}") for a in axes]
        else:
            raise TypeError(f"export: dynamic_axes[{key!r}] must be a dict or a list of axes")
        spec[key] = {}
        for a, sym in items:
            if not isinstance(a, (int, np.integer)) or isinstance(a, bool):
                raise TypeError(f"export: dynamic_axes[{key!r}]: axis {a!r} is not an int")
            if not isinstance(sym, str) or not sym:
                raise TypeError(f"export: dynamic_axes[{key!r}][{a}] must be a non-empty name")
            spec[key][int(a)] = sym
    return spec


def _flatten(v: Any) -> list:
    if v is None:
        return []
    if isinstance(v, Value):
        return [v]
    return [x for part in v for x in _flatten(part)]


def _value_info(name: str, arr_dtype: Any, shape: Any) -> Any:
    onnx = _onnx()
    elem = onnx.helper.np_dtype_to_tensor_dtype(np.dtype(arr_dtype))
    return onnx.helper.make_tensor_value_info(name, elem, shape)


def export(
    model: Any,
    example_input: Any,
    path: str | os.PathLike,
    *,
    opset: int | None = None,
    dynamic_batch: bool = True,
    dynamic_axes: Mapping[str, Any] | None = None,
    input_names: Sequence[str] | str | None = None,
    output_names: Sequence[str] | str | None = None,
    metadata: Mapping[str, str] | None = None,
) -> Path:
    """Write ``model`` as an ONNX file at ``path`` (atomically); returns the path.

    The model runs once in retrograd, in inference mode (``eval()``; its modes are
    restored afterwards), on ``example_input`` (a Tensor or array, or a tuple of them
    for a model with several inputs), and each layer is mapped onto ONNX operators.
    ``opset`` defaults to :data:`DEFAULT_OPSET`. With ``dynamic_batch`` (default) axis 0
    of every input is the symbolic ``batch`` (one symbol per input when their example sizes
    differ there); ``dynamic_axes`` (PyTorch's form,
    ``{"input": {0: "batch", 1: "time"}}`` or ``{"input": [0, 1]}``) replaces that rule.
    Input and output names default to ``input``/``output`` (``input_0``...). The graph
    passes ``onnx.checker.check_model(full_check=True)`` before it is written; its
    ``metadata_props`` hold the retrograd version, the architecture as JSON (the one
    ``rg.save`` writes, when the model's classes are registered) and ``metadata``.

    Raises :class:`OnnxExportError` for a layer without a mapping (naming it and listing
    the supported ones) or one that needs a newer opset; ValueError/TypeError for an
    example input the model rejects or of another dtype than its parameters.

    Example::

        >>> import tempfile, pathlib, retrograd as rg
        >>> net = rg.nn.Sequential(rg.nn.Linear(4, 8), rg.nn.ReLU(), rg.nn.Linear(8, 3))
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "net.onnx"
        >>> rg.onnx.export(net, rg.randn(1, 4), path).name
        'net.onnx'
    """
    from .._version import __version__
    from ..autograd.mode import no_grad
    from ..autograd.tensor import Tensor
    from ..nn.module import Module

    onnx = _onnx()
    if not isinstance(model, Module):
        raise TypeError(f"export: model must be a retrograd.nn.Module, got {type(model).__name__}")
    opset = _check_opset(opset)
    target = _check_path(path)
    arrays = _as_examples(example_input, model)
    in_names = _names(input_names, len(arrays), "input", "input_names")
    extra_meta = dict(metadata or {})
    if not all(isinstance(k, str) and isinstance(v, str) for k, v in extra_meta.items()):
        raise TypeError("export: metadata must map str keys to str values")

    modes = [(m, m.training) for m in model.modules()]
    model.eval()
    try:
        try:
            with no_grad():
                model(*[Tensor(a) for a in arrays])
        except (ValueError, TypeError) as e:
            shapes = ", ".join(f"{a.shape} {a.dtype}" for a in arrays)
            raise type(e)(f"export: the model rejects the example input ({shapes}): {e}") from e
        ctx = ExportContext(opset, lookup)
        inputs = []
        for name, arr in zip(in_names, arrays):
            ctx.reserve(name)
            inputs.append(Value(name, arr))
        outputs = _flatten(ctx.call(model, *inputs, name=""))
        out_names = _names(output_names, len(outputs), "output", "output_names")
        spec = _axes_spec(dynamic_axes, dynamic_batch, in_names, [a.shape for a in arrays])
        unknown = set(spec) - set(in_names) - set(out_names)
        if unknown:
            raise ValueError(
                f"export: dynamic_axes names {sorted(unknown)}, which are neither inputs "
                f"{in_names} nor outputs {out_names}"
            )
        _name_outputs(ctx, outputs, out_names, set(in_names))
        graph_inputs = []
        for name, arr in zip(in_names, arrays):
            dims: list = list(arr.shape)
            for a, sym in spec.get(name, {}).items():
                if not -arr.ndim <= a < arr.ndim:
                    raise ValueError(
                        f"export: dynamic_axes[{name!r}] names axis {a}, but the input has "
                        f"{arr.ndim} axes"
                    )
                dims[a % arr.ndim] = sym
            graph_inputs.append(_value_info(name, arr.dtype, dims))
        graph_outputs = [_value_info(n, v.dtype, None) for n, v in zip(out_names, outputs)]
        graph = onnx.helper.make_graph(
            ctx.nodes, "retrograd", graph_inputs, graph_outputs, ctx.initializers
        )
        opsets = [onnx.helper.make_opsetid("", opset)]
        proto = onnx.helper.make_model(
            graph,
            opset_imports=opsets,
            producer_name="retrograd",
            producer_version=__version__,
            ir_version=_ir_version(onnx, opset),
        )
        meta = {_METADATA_VERSION: __version__}
        arch = _architecture(model)
        if arch is not None:
            meta[_METADATA_ARCH] = arch
        meta.update(extra_meta)
        onnx.helper.set_model_props(proto, meta)
        proto = _with_output_shapes(onnx, proto, outputs, out_names, spec)
    finally:
        for m, mode in modes:
            m.training = mode
    try:
        onnx.checker.check_model(proto, full_check=True)
    except Exception as e:  # the exporters wrote an invalid graph: a bug, say so plainly
        raise OnnxExportError(
            f"export: the ONNX graph built for {type(model).__name__} fails onnx.checker "
            f"({type(e).__name__}: {e}); please report this as a retrograd bug"
        ) from e
    blob = proto.SerializeToString()
    if len(blob) > MAX_BYTES:
        raise OnnxExportError(
            f"export: the model serializes to {len(blob):,} bytes, over the 2 GiB limit of a "
            f"single ONNX file"
        )
    from ..io.atomic import atomic_write_bytes

    return atomic_write_bytes(target, blob)


def _ir_version(onnx: Any, opset: int) -> int:
    """The oldest IR version that carries ``opset`` (what runtimes read most widely)."""
    for ir_v, _ in sorted(
        ((row[1], row[2]) for row in onnx.helper.VERSION_TABLE if row[2] >= opset),
        key=lambda t: t[0],
    ):
        return max(int(ir_v), 8)
    return onnx.IR_VERSION  # pragma: no cover - a newer onnx than the table


def _architecture(model: Any) -> str | None:
    from ..io.registry import module_to_config

    try:
        return json.dumps(module_to_config(model), separators=(",", ":"))
    except (TypeError, ValueError):  # an unregistered custom class: no architecture record
        return None


def _name_outputs(ctx: ExportContext, outputs: list, names: list, input_names: set) -> None:
    """Give the graph outputs the wanted names: rename the producing node's output, or
    add an Identity when the value is a graph input, an initializer or already named."""
    inits = {t.name for t in ctx.initializers}
    renamed: dict = {}
    for i, (v, want) in enumerate(zip(outputs, names)):
        if want in input_names:
            raise ValueError(f"export: output name {want!r} is also an input name")
        ctx.reserve(want)
        src = v.name
        producer = next((n for n in ctx.nodes if src in n.output), None)
        if producer is None or src in inits or src in input_names or src in renamed:
            ctx.nodes.append(_onnx().helper.make_node("Identity", [src], [want]))
        else:
            producer.output[list(producer.output).index(src)] = want
            for node in ctx.nodes:
                _replace_input(node, src, want)
            renamed[src] = want
        outputs[i] = Value(want, v.example)


def _replace_input(node: Any, old: str, new: str) -> None:
    for k, name in enumerate(node.input):
        if name == old:
            node.input[k] = new
    for attr in node.attribute:
        if attr.g is not None and attr.HasField("g"):
            for sub in attr.g.node:
                _replace_input(sub, old, new)


def _with_output_shapes(onnx: Any, proto: Any, outputs: list, names: list, spec: dict) -> Any:
    """Output shapes from ONNX shape inference (symbolic where the graph is dynamic);
    dimensions inference leaves open are left open, the user's dynamic_axes win."""
    try:
        inferred = onnx.shape_inference.infer_shapes(proto, strict_mode=True, data_prop=True)
    except Exception as e:
        raise OnnxExportError(
            f"export: ONNX shape inference fails on the graph built ({type(e).__name__}: {e}); "
            f"please report this as a retrograd bug"
        ) from e
    by_name = {o.name: o for o in inferred.graph.output}
    for out, name, v in zip(proto.graph.output, names, outputs):
        got = by_name.get(name)
        tt = out.type.tensor_type
        if got is not None and got.type.tensor_type.HasField("shape"):
            tt.shape.CopyFrom(got.type.tensor_type.shape)
        else:
            tt.shape.dim.extend([onnx.TensorShapeProto.Dimension() for _ in range(v.ndim)])
        for a, sym in spec.get(name, {}).items():
            if -v.ndim <= a < v.ndim:
                d = tt.shape.dim[a % v.ndim]
                d.ClearField("dim_value")
                d.dim_param = sym
    return proto
