"""``retrograd export``: write a saved model as an ONNX graph (for ONNX Runtime & co.)."""

from __future__ import annotations

import argparse
from typing import Any

from ._common import Formatter, UsageError, add_debug, add_model_data_args, info

EPILOG = """\
examples:
  retrograd export digits.safetensors --onnx digits.onnx
  retrograd export digits.safetensors --onnx digits.onnx --opset 13 --verify
  retrograd export net.safetensors --onnx net.onnx --input-shape 1,28,28

A model trained by `retrograd train` takes raw feature rows: its standardization is part
of the graph (--no-standardize leaves it out, for rows you standardize yourself). Other
model files need --input-shape (the shape of one sample). Axis 0 (the batch) is dynamic.
"""


def register(sub: Any) -> None:
    p = sub.add_parser(
        "export",
        help="write a saved model as an ONNX file (ONNX Runtime, TensorRT, OpenVINO...)",
        description="Export a model file (rg.save / retrograd train) to ONNX.",
        epilog=EPILOG,
        formatter_class=Formatter,
    )
    add_model_data_args(p, model="a model file (rg.save / retrograd train)", data=False)
    p.add_argument("--onnx", required=True, metavar="OUT", help="the ONNX file to write")
    p.add_argument(
        "--opset", type=int, metavar="N", help="ONNX opset to target (default: retrograd's, 17)"
    )
    p.add_argument(
        "--input-shape",
        metavar="D1,D2,...",
        help="shape of one input sample (default: the feature count the file records)",
    )
    p.add_argument(
        "--no-standardize",
        action="store_true",
        help="leave the training-time standardization out of the graph",
    )
    p.add_argument(
        "--verify",
        action="store_true",
        help="run the ONNX file with ONNX Runtime and compare with retrograd (needs onnxruntime)",
    )
    add_debug(p)
    p.set_defaults(func=run)


def _sample_shape(text: str | None, meta: dict) -> tuple:
    if text:
        try:
            dims = tuple(int(s) for s in text.replace("x", ",").split(",") if s.strip())
        except ValueError:
            dims = ()
        if not dims or any(d < 1 for d in dims):
            raise UsageError(f"--input-shape {text!r}: expected positive integers like 1,28,28")
        return dims
    n = meta.get("n_features")
    if isinstance(n, int) and n > 0:
        return (n,)
    raise UsageError(
        "the model file does not record its input width (it was not saved by retrograd "
        "train); pass --input-shape, e.g. --input-shape 64 or --input-shape 1,28,28"
    )


def run(args: argparse.Namespace) -> int:
    import json

    import numpy as np

    import retrograd as rg

    from . import _common as C

    model, meta = C.load_model(args.model)
    shape = _sample_shape(args.input_shape, meta)
    dtype = next((p.data.dtype for p in model.parameters()), np.dtype(np.float32))
    x = np.random.default_rng(0).standard_normal((2, *shape)).astype(dtype)
    mean, std = meta.get("feature_mean"), meta.get("feature_std")
    standardize = mean is not None and std is not None and not args.no_standardize
    net = model
    extra = {}
    if standardize:
        net = _Standardized(model, np.asarray(mean, dtype), np.asarray(std, dtype))
        from ..onnx._export import _architecture

        arch = _architecture(model)
        if arch is not None:
            extra["retrograd_architecture"] = arch
        extra["retrograd_input"] = "raw features; standardized inside the graph"
    if meta.get("classes"):
        extra["retrograd_classes"] = json.dumps([str(c) for c in meta["classes"]])
    if meta.get("task"):
        extra["retrograd_task"] = str(meta["task"])
    path = rg.onnx.export(net, rg.tensor(x), args.onnx, opset=args.opset, metadata=extra)
    size = path.stat().st_size
    opset = args.opset or rg.onnx.DEFAULT_OPSET
    info(
        f"wrote {path} ({size:,} bytes, opset {opset}): input 'input' (batch, "
        f"{', '.join(map(str, shape))}) {dtype}"
        + (" raw features" if standardize else "")
        + ", output 'output'"
    )
    if args.verify:
        _verify(net, path, shape, dtype)
    return 0


def _verify(net: Any, path: Any, shape: tuple, dtype: Any) -> None:
    import numpy as np

    import retrograd as rg

    try:
        import onnxruntime as ort
    except ImportError:
        raise UsageError("--verify needs onnxruntime: pip install onnxruntime") from None
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    net.eval()
    worst = 0.0
    for batch in (1, 7, 64):
        x = np.random.default_rng(batch).standard_normal((batch, *shape)).astype(dtype)
        with rg.no_grad():
            want = net(rg.tensor(x)).data
        got = sess.run(None, {"input": x})[0]
        worst = max(worst, float(np.abs(got - want).max()))
    info(f"verified with ONNX Runtime {ort.__version__}: max |difference| {worst:.3g} "
         f"over batches of 1, 7 and 64")  # fmt: skip
    if not worst <= 1e-4:
        raise RuntimeError(f"ONNX Runtime's outputs differ from retrograd's by {worst:.3g}")


def _standardized_class() -> type:
    from .. import nn
    from ..onnx import register_exporter

    class Standardized(nn.Module):
        """``model((x - mean) / std)``: a CLI model with its input standardization."""

        def __init__(self, model: Any, mean: Any, std: Any) -> None:
            super().__init__()
            self.model = model
            self.register_buffer("mean", mean)
            self.register_buffer("std", std)

        def forward(self, x: Any) -> Any:
            return self.model((x - self.mean) / self.std)

    @register_exporter(Standardized)
    def _export(ctx: Any, m: Any, x: Any) -> Any:
        from ..onnx import Value

        scaled = ctx.op(
            "Div",
            ctx.op("Sub", x, ctx.weight(m.mean.data, "mean")),
            ctx.weight(m.std.data, "std"),
        )
        example = (x.example - m.mean.data) / m.std.data
        return ctx.call(m.model, Value(scaled, example), name="").name

    return Standardized


_CLASS: list = []


def _Standardized(model: Any, mean: Any, std: Any) -> Any:
    if not _CLASS:
        _CLASS.append(_standardized_class())
    return _CLASS[0](model, mean, std)
