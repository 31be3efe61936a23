"""ONNX export and import: deploy retrograd models anywhere ONNX runs, bring ONNX in.

- :func:`export` writes a model as an ONNX graph (``pip install 'retrograd[onnx]'``);
  ``retrograd export MODEL.safetensors --onnx OUT.onnx`` does it from the command line.
- :func:`load` rebuilds a trainable retrograd model from an ONNX graph whose nodes map
  onto retrograd layers (e.g. what ``torch.onnx.export`` writes for an ``nn.Sequential``).
- :func:`register_exporter` teaches :func:`export` your own layers;
  :func:`supported_layers` lists what it knows.

The ``onnx`` package is imported on first use, not with ``retrograd``. See docs/deploy.md.

Example::

    >>> import tempfile, pathlib, retrograd as rg
    >>> net = rg.nn.Sequential(rg.nn.Linear(4, 8), rg.nn.Tanh(), rg.nn.Linear(8, 2))
    >>> path = rg.onnx.export(net, rg.randn(1, 4), pathlib.Path(tempfile.mkdtemp()) / "n.onnx")
    >>> again = rg.onnx.load(path)
    >>> x = rg.randn(5, 4)
    >>> bool(abs(again(x).data - net(x).data).max() < 1e-6)
    True
"""

from ._export import DEFAULT_OPSET, MAX_OPSET, MIN_OPSET, export
from ._graph import ExportContext, OnnxExportError, Value
from ._load import OnnxImportError, load
from ._registry import register_exporter, supported_layers, unregister_exporter

__all__ = [
    "export", "load", "register_exporter", "unregister_exporter", "supported_layers",
    "ExportContext", "Value", "OnnxExportError", "OnnxImportError", "DEFAULT_OPSET",
    "MIN_OPSET", "MAX_OPSET",
]  # fmt: skip
