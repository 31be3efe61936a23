"""`retrograd export` on every kind of model `retrograd train` builds, run by ONNX Runtime
on raw rows: the same outputs as retrograd on the rows the CLI standardizes."""

from __future__ import annotations

import json

import numpy as np
import pytest

import retrograd as rg
from retrograd.cli import main

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    d = tmp_path_factory.mktemp("export")
    files = {}
    for spec in ("mlp:16", "cnn:4,8", "lstm:8", "fixedpoint:8"):
        out = d / f"{spec.split(':')[0]}.safetensors"
        rc = main(["train", "--data", "digits:test", "--model", spec, "--epochs", "1",
                   "--out", str(out), "--verbose", "0"])  # fmt: skip
        assert rc == 0
        files[spec.split(":")[0]] = out
    return d, files


def _session(path):
    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    return ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])


@pytest.mark.parametrize("kind", ["mlp", "cnn", "lstm", "fixedpoint"])
def test_export_every_cli_model(kind, trained, capsys):
    from retrograd.cli import _common as C

    d, files = trained
    out = d / f"{kind}.onnx"
    assert main(["export", str(files[kind]), "--onnx", str(out), "--verify"]) == 0
    text = capsys.readouterr().out
    assert "raw features" in text and "verified with ONNX Runtime" in text
    proto = onnx.load(str(out))
    onnx.checker.check_model(proto, full_check=True)
    props = {p.key: p.value for p in proto.metadata_props}
    assert json.loads(props["retrograd_classes"]) == [str(i) for i in range(10)]
    model, meta = C.load_model(str(files[kind]))
    arch = json.loads(props["retrograd_architecture"])
    assert arch == rg.io.module_to_config(model)
    X, _ = rg.data.load_digits()
    sess = _session(out)
    for rows in (X[:1], X[3:10], X[100:164]):
        raw = rows.astype(np.float32)
        want = rg.train.predict(model, C.apply_standardize(
            raw, np.asarray(meta["feature_mean"]), np.asarray(meta["feature_std"])))  # fmt: skip
        got = sess.run(None, {"input": raw})[0]
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


def test_export_options_and_errors(trained, tmp_path, capsys):
    _, files = trained
    out = tmp_path / "bare.onnx"
    assert main(["export", str(files["mlp"]), "--onnx", str(out), "--opset", "13",
                 "--no-standardize"]) == 0  # fmt: skip
    proto = onnx.load(str(out))
    assert proto.opset_import[0].version == 13
    assert [n.op_type for n in proto.graph.node][:1] == ["Gemm"]  # no Sub/Div in front
    capsys.readouterr()
    assert main(["export", str(tmp_path / "nope.safetensors"), "--onnx", str(out)]) == 1
    assert "no such model file" in capsys.readouterr().err
    assert main(["export", str(files["mlp"]), "--onnx", str(out), "--opset", "9"]) == 1
    assert "opset 9 is not supported" in capsys.readouterr().err
    assert main(["export", str(files["mlp"]), "--onnx", str(out), "--input-shape", "a,b"]) == 2
    assert main(["export", str(files["mlp"]), "--onnx", str(tmp_path / "x" / "m.onnx")]) == 1
    assert "does not exist" in capsys.readouterr().err


def test_export_a_model_saved_by_rg_save_needs_the_input_shape(tmp_path, capsys):
    net = rg.nn.Sequential(rg.nn.Conv2d(1, 2, 3), rg.nn.Flatten(), rg.nn.Linear(2 * 4 * 4, 3))
    path = rg.save(net, tmp_path / "net.safetensors")
    out = tmp_path / "net.onnx"
    assert main(["export", str(path), "--onnx", str(out)]) == 2
    assert "--input-shape" in capsys.readouterr().err
    assert main(["export", str(path), "--onnx", str(out), "--input-shape", "1,6,6",
                 "--verify"]) == 0  # fmt: skip
    assert "(batch, 1, 6, 6)" in capsys.readouterr().out
