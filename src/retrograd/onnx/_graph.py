"""The export context: a small ONNX graph builder that walks a model with its example values.

Every value of the graph travels as a :class:`Value`: its ONNX name plus the array
retrograd computes for it on the example input. Exporters therefore read shapes from
retrograd itself (no separate shape inference), and only the batch axis needs care:
an exporter must not bake the example's batch size into the graph (``Reshape`` with
``0`` copies a dimension, ``-1`` infers one).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import RetrogradError

__all__ = ["Value", "ExportContext", "OnnxExportError"]


class OnnxExportError(RetrogradError, ValueError):
    """A model cannot be written as ONNX: a layer without a mapping, an opset too old, ..."""


@dataclass(frozen=True)
class Value:
    """A tensor of the graph being built: its ONNX ``name`` and its example value.

    ``example`` is what retrograd computes for this tensor on the example input, so
    ``value.shape`` and ``value.dtype`` are known exactly while exporting (axis 0 of a
    dynamic-batch input is the example's batch size, and must not be relied upon).
    """

    name: str
    example: np.ndarray

    @property
    def shape(self) -> tuple:
        return tuple(self.example.shape)

    @property
    def dtype(self) -> np.dtype:
        return self.example.dtype

    @property
    def ndim(self) -> int:
        return self.example.ndim


def _onnx() -> Any:
    try:
        import onnx
    except ImportError:  # pragma: no cover - exercised only without the extra
        raise ImportError(
            "retrograd.onnx needs the onnx package: pip install 'retrograd[onnx]'"
        ) from None
    return onnx


class ExportContext:
    """What an exporter function receives: emit nodes, add weights, export children.

    An exporter is ``fn(ctx, module, *inputs) -> name or tuple of names`` where the
    inputs are :class:`Value` objects and the returned names follow the structure of
    the module's output (a tuple for an LSTM's ``(output, (h_n, c_n))``). Use
    :meth:`op` to add nodes, :meth:`weight`/:meth:`const` for initializers,
    :meth:`call` to export a child module, :meth:`require_opset` when the mapping
    needs a newer opset.
    """

    def __init__(self, opset: int, lookup: Callable[[Any], Any]) -> None:
        self.opset = int(opset)
        self._lookup = lookup
        self.nodes: list = []
        self.initializers: list = []
        self._names: set = set()
        self._path: list = []  # (name, module) from the root to the module being exported
        self.modules_seen: set = set()
        self._outputs: list = []  # retrograd's outputs of the modules being exported

    # -------------------------------------------------------------- names
    def fresh(self, hint: str) -> str:
        """A graph-wide unique tensor name starting with ``hint``."""
        base = hint.replace("/", ".") or "t"
        name, k = base, 1
        while name in self._names:
            name = f"{base}_{k}"
            k += 1
        self._names.add(name)
        return name

    def reserve(self, name: str) -> None:
        if name in self._names:
            raise OnnxExportError(f"export: the tensor name {name!r} is used twice")
        self._names.add(name)

    @property
    def where(self) -> str:
        """The module being exported, as ``path (Type)`` for messages."""
        if not self._path:
            return "model"
        path = ".".join(n for n, _ in self._path[1:] if n) or "model"
        return f"{path} ({type(self._path[-1][1]).__name__})"

    def _prefix(self) -> str:
        return ".".join(n for n, _ in self._path[1:] if n)

    # -------------------------------------------------------------- errors
    def fail(self, msg: str) -> OnnxExportError:
        """An OnnxExportError about the module being exported (raise it)."""
        return OnnxExportError(f"export: {self.where}: {msg}")

    def require_opset(self, minimum: int, why: str) -> None:
        """Refuse (naming the layer and ``minimum``) when the target opset is older."""
        if self.opset < minimum:
            raise self.fail(
                f"needs ONNX opset >= {minimum} ({why}); the export targets opset {self.opset}. "
                f"Pass opset={minimum} or newer"
            )

    # -------------------------------------------------------------- graph pieces
    def weight(self, array: Any, name: str) -> str:
        """Add ``array`` as an initializer named ``<module path>.<name>``; returns the name."""
        prefix = self._prefix()
        return self.const(array, f"{prefix}.{name}" if prefix else name)

    def const(self, array: Any, hint: str = "const") -> str:
        """Add ``array`` (kept exactly, dtype included) as an initializer; returns its name."""
        onnx = _onnx()
        arr = np.asarray(array)
        if not arr.flags.c_contiguous:  # (np.ascontiguousarray would make 0-d arrays 1-d)
            arr = arr.copy(order="C")
        name = self.fresh(hint)
        self.initializers.append(onnx.numpy_helper.from_array(arr, name))
        return name

    def scalar(self, value: float, like: Value | np.dtype) -> str:
        """A 0-d constant of the dtype of ``like``."""
        dt = like.dtype if isinstance(like, Value) else np.dtype(like)
        return self.const(np.asarray(value, dtype=dt), "scalar")

    def ints(self, values: Any, hint: str = "shape") -> str:
        """A 1-D int64 constant (shapes, axes, indices)."""
        return self.const(np.asarray(list(values), dtype=np.int64).reshape(-1), hint)

    def op(self, op_type: str, *inputs: Any, outputs: int = 1, hint: str = "", **attrs: Any):
        """Append one node; returns its output name (or a tuple when ``outputs > 1``).

        Inputs are names, :class:`Value` objects or ``""`` for an omitted optional input;
        attributes are passed to ``onnx.helper.make_node`` (None values are dropped).
        """
        onnx = _onnx()
        names = [i.name if isinstance(i, Value) else i for i in inputs]
        base = hint or f"{self._prefix() or 'model'}.{op_type}"
        outs = [self.fresh(base if outputs == 1 else f"{base}.{k}") for k in range(outputs)]
        attrs = {k: v for k, v in attrs.items() if v is not None}
        node = onnx.helper.make_node(op_type, names, outs, name=self.fresh(f"node.{base}"), **attrs)
        self.nodes.append(node)
        return outs[0] if outputs == 1 else tuple(outs)

    # Opset-dependent forms of a few ops, so exporters need not branch on the opset.
    def reduce(self, op_type: str, x: Any, axes: Any, keepdims: bool = True) -> str:
        """``Reduce*`` over ``axes`` (an attribute before opset 18, an input from 18)."""
        axes = [int(a) for a in axes]
        late = op_type in ("ReduceSum",) and self.opset >= 13 or self.opset >= 18
        if late:
            return self.op(op_type, x, self.ints(axes, "axes"), keepdims=int(keepdims))
        return self.op(op_type, x, axes=axes, keepdims=int(keepdims))

    def unsqueeze(self, x: Any, axes: Any) -> str:
        return self.op("Unsqueeze", x, self.ints(axes, "axes"))

    def squeeze(self, x: Any, axes: Any) -> str:
        return self.op("Squeeze", x, self.ints(axes, "axes"))

    def leading_dim(self, x: Any) -> str:
        """``[x.shape[0]]`` as a 1-D int64 tensor, read at run time (the batch size)."""
        if self.opset >= 15:
            return self.op("Shape", x, start=0, end=1)
        return self.op("Slice", self.op("Shape", x), self.ints([0]), self.ints([1]))

    def reshape(self, x: Any, shape: Any) -> str:
        """``Reshape``: 0 copies the input's dimension, -1 is inferred (one at most)."""
        return self.op("Reshape", x, self.ints(shape))

    # -------------------------------------------------------------- children
    def call(self, module: Any, *inputs: Any, name: str | None = None, **kwargs: Any) -> Any:
        """Export ``module`` applied to ``inputs`` (Values, or tuples of them).

        Returns Values shaped like the module's output (a Value, or nested tuples). The
        module runs once in retrograd on the example values, which gives the outputs'
        example values; ``name`` is its attribute name in the parent (found when omitted).
        """
        from ..autograd.mode import no_grad

        if name is None:
            parent = self._path[-1][1] if self._path else None
            mods = getattr(parent, "_modules", {}) if parent is not None else {}
            name = next((k for k, m in mods.items() if m is module), "")
        self._path.append((name, module))
        try:
            exporter = self._lookup(module, self)
            with no_grad():
                out = module(*_to_tensors(inputs), **_to_tensors(kwargs))
            self.modules_seen.add(type(module).__name__)
            self._outputs.append(out)
            try:
                names = exporter(self, module, *inputs, **kwargs)
            finally:
                self._outputs.pop()
            return _pair_up(names, out, self)
        finally:
            self._path.pop()

    @property
    def output_example(self) -> Any:
        """What retrograd's module (the one being exported) returns for the example:
        an ndarray, or nested tuples of them."""
        return _to_arrays(self._outputs[-1])

    @contextlib.contextmanager
    def subgraph(self) -> Iterator[list]:
        """Collect the nodes emitted inside the block (for a Loop body); initializers
        still go to the main graph, which the body reads from its outer scope."""
        saved = self.nodes
        self.nodes = []
        body = self.nodes
        try:
            yield body
        finally:
            self.nodes = saved


def _to_tensors(obj: Any) -> Any:
    from ..autograd.tensor import Tensor

    if isinstance(obj, Value):
        return Tensor(obj.example)
    if isinstance(obj, tuple):
        return tuple(_to_tensors(o) for o in obj)
    if isinstance(obj, list):
        return [_to_tensors(o) for o in obj]
    if isinstance(obj, dict):
        return {k: _to_tensors(v) for k, v in obj.items()}
    return obj


def _to_arrays(obj: Any) -> Any:
    from ..autograd.tensor import Tensor

    if isinstance(obj, Tensor):
        return np.asarray(obj.data)
    if isinstance(obj, (tuple, list)):
        return tuple(_to_arrays(o) for o in obj)
    return obj


def _pair_up(names: Any, out: Any, ctx: ExportContext) -> Any:
    """Zip the exporter's output names with the module's outputs (same nesting)."""
    from ..autograd.tensor import Tensor

    if out is None:  # an output the module leaves out (attention weights not asked for)
        return None
    if isinstance(out, Tensor):
        if not isinstance(names, str):
            raise ctx.fail(f"the exporter returned {type(names).__name__}, expected one name")
        return Value(names, np.asarray(out.data))
    if isinstance(out, (tuple, list)):
        if not isinstance(names, (tuple, list)) or len(names) != len(out):
            raise ctx.fail(
                f"the exporter returned {names!r} for an output of {len(out)} parts; return a "
                f"tuple of names shaped like the module's output"
            )
        return tuple(_pair_up(n, o, ctx) for n, o in zip(names, out))
    raise ctx.fail(
        f"the module returned a {type(out).__name__}; only Tensors and tuples of them export"
    )
