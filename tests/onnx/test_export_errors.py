"""Export's bad input: clear errors naming what is wrong, no file written."""

from __future__ import annotations

import os

import numpy as np
import pytest
from onnx_helpers import onnx  # noqa: F401 - skips without onnx

import retrograd as rg
from retrograd import nn
from retrograd.onnx import OnnxExportError


class Custom(nn.Module):
    def forward(self, x):
        return x * 2


def test_unmapped_layer_is_named_and_supported_ones_listed(tmp_path):
    net = nn.Sequential(nn.Linear(3, 3), Custom())
    with pytest.raises(OnnxExportError) as e:
        rg.onnx.export(net, rg.randn(2, 3), tmp_path / "m.onnx")
    msg = str(e.value)
    assert "1 (Custom)" in msg and "Custom" in msg and "register_exporter" in msg
    assert "Linear" in msg and "LSTM" in msg and "Conv2d" in msg  # the supported list
    assert not os.listdir(tmp_path)  # nothing written, no temporary file left


def test_failed_export_leaves_an_existing_file_alone(tmp_path):
    target = tmp_path / "m.onnx"
    target.write_bytes(b"old")
    with pytest.raises(OnnxExportError):
        rg.onnx.export(Custom(), rg.randn(2, 3), target)
    assert target.read_bytes() == b"old" and os.listdir(tmp_path) == ["m.onnx"]


def test_custom_exporter_registration(tmp_path):
    from onnx_helpers import export_and_check

    class Scale(nn.Module):
        def forward(self, x):
            return x * 3.0

    @rg.onnx.register_exporter(Scale)
    def _export(ctx, module, x):
        return ctx.op("Mul", x, ctx.scalar(3.0, x))

    try:
        assert "Scale" in rg.onnx.supported_layers()
        export_and_check(nn.Sequential(nn.Linear(3, 4), Scale()), (3,), tmp_path)
    finally:
        rg.onnx.unregister_exporter(Scale)
    assert "Scale" not in rg.onnx.supported_layers()
    with pytest.raises(TypeError, match="Module subclass"):
        rg.onnx.register_exporter(int)


def test_a_subclass_of_a_builtin_layer_is_not_taken_for_it(tmp_path):
    class MyLinear(nn.Linear):
        def forward(self, x):
            return super().forward(x) * 2

    with pytest.raises(OnnxExportError, match="MyLinear"):
        rg.onnx.export(MyLinear(3, 2), rg.randn(2, 3), tmp_path / "m.onnx")


def test_wrong_example_shape(tmp_path):
    with pytest.raises(ValueError, match=r"example input.*\(2, 5\).*Linear\(4, 3\)"):
        rg.onnx.export(nn.Linear(4, 3), rg.randn(2, 5), tmp_path / "m.onnx")
    conv = nn.Conv2d(1, 2, 3)
    with pytest.raises(ValueError, match="example input"):
        rg.onnx.export(conv, rg.randn(2, 3, 8, 8), tmp_path / "m.onnx")


@pytest.mark.parametrize(
    "x, err, match",
    [
        (np.zeros((2, 4)), TypeError, "float64 but the model's parameters are float32"),
        (np.zeros((2, 4), dtype=np.int64), OnnxExportError, "input has dtype int64"),
        (np.zeros((2, 4), dtype=bool), TypeError, "integer indices"),
        (np.zeros((0, 4), dtype=np.float32), ValueError, "at least one sample"),
        (np.full((2, 4), np.nan, dtype=np.float32), ValueError, "inf or NaN"),
        ([[1.0, 2.0, 3.0, 4.0]], TypeError, "Tensor or a NumPy array, got list"),
        ((), ValueError, "empty"),
    ],
)
def test_bad_example_input(x, err, match, tmp_path):
    with pytest.raises(err, match=match):
        rg.onnx.export(nn.Linear(4, 3), x, tmp_path / "m.onnx")


def test_opset_checks(tmp_path):
    with pytest.raises(ValueError, match=r"opset 11 is not supported; expected 13 to"):
        rg.onnx.export(nn.Linear(4, 3), rg.randn(1, 4), tmp_path / "m.onnx", opset=11)
    with pytest.raises(TypeError, match="opset must be an int"):
        rg.onnx.export(nn.Linear(4, 3), rg.randn(1, 4), tmp_path / "m.onnx", opset="17")
    net = nn.Sequential(nn.Linear(4, 4), nn.LayerNorm(4))
    with pytest.raises(OnnxExportError, match=r"1 \(LayerNorm\): needs ONNX opset >= 17"):
        rg.onnx.export(net, rg.randn(1, 4), tmp_path / "m.onnx", opset=16)
    rg.onnx.export(net, rg.randn(1, 4), tmp_path / "m.onnx", opset=17)


def test_unwritable_paths(tmp_path):
    net = nn.Linear(4, 3)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        rg.onnx.export(net, rg.randn(1, 4), tmp_path / "missing" / "m.onnx")
    with pytest.raises(IsADirectoryError, match="is a directory"):
        rg.onnx.export(net, rg.randn(1, 4), tmp_path)
    with pytest.raises(TypeError, match="path must be"):
        rg.onnx.export(net, rg.randn(1, 4), 3)


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root writes anywhere")
def test_read_only_directory(tmp_path):
    d = tmp_path / "ro"
    d.mkdir()
    d.chmod(0o500)
    try:
        with pytest.raises(PermissionError, match="not writable"):
            rg.onnx.export(nn.Linear(4, 3), rg.randn(1, 4), d / "m.onnx")
    finally:
        d.chmod(0o700)


def test_names_and_axes_checks(tmp_path):
    net, x, p = nn.Linear(4, 3), rg.randn(1, 4), tmp_path / "m.onnx"
    with pytest.raises(ValueError, match="output_names must be 1"):
        rg.onnx.export(net, x, p, output_names=["a", "b"])
    with pytest.raises(ValueError, match="also an input name"):
        rg.onnx.export(net, x, p, input_names="x", output_names="x")
    with pytest.raises(ValueError, match="neither inputs"):
        rg.onnx.export(net, x, p, dynamic_axes={"nope": [0]})
    with pytest.raises(ValueError, match="names axis 5"):
        rg.onnx.export(net, x, p, dynamic_axes={"input": [5]})
    with pytest.raises(TypeError, match="model must be"):
        rg.onnx.export(lambda x: x, x, p)
    with pytest.raises(TypeError, match="metadata"):
        rg.onnx.export(net, x, p, metadata={"a": 1})


def test_layers_that_cannot_be_exported_say_why(tmp_path):
    p = tmp_path / "m.onnx"
    pool = nn.AvgPool2d(3, 1, 1, divisor_override=2)
    with pytest.raises(OnnxExportError, match="divisor_override with padding"):
        rg.onnx.export(pool, rg.randn(1, 1, 4, 4), p)
    fp = nn.FixedPoint(lambda h, x: (h * 0.5 + x).tanh())
    with pytest.raises(OnnxExportError, match="cell is a plain function"):
        rg.onnx.export(fp, rg.randn(2, 3), p)
    conv = nn.Conv2d(1, 2, 3)
    with pytest.raises(OnnxExportError, match=r"batched \(N, C, H, W\)"):
        rg.onnx.export(conv, rg.randn(1, 6, 6), p, dynamic_batch=False)
