"""``rg.onnx.load``: torch-exported Sequentials round-trip; unsupported graphs are listed;
damaged or hostile files raise ModelFileError before anything large is allocated."""

from __future__ import annotations

import os
import tracemalloc
import warnings

import numpy as np
import pytest
from onnx_helpers import onnx

import retrograd as rg
from retrograd import nn
from retrograd.cli.models import build_model
from retrograd.errors import ModelFileError
from retrograd.onnx import OnnxImportError

helper, TP, numpy_helper = onnx.helper, onnx.TensorProto, onnx.numpy_helper


def _torch_models(tn):
    return {
        "mlp": (
            tn.Sequential(
                tn.Linear(6, 16), tn.ReLU(), tn.Dropout(0.2), tn.Linear(16, 8), tn.Tanh(),
                tn.Linear(8, 8), tn.LeakyReLU(0.2), tn.Linear(8, 8), tn.Sigmoid(),
                tn.Linear(8, 3), tn.LogSoftmax(-1),
            ),
            (6,),
        ),
        "cnn": (
            tn.Sequential(
                tn.Conv2d(1, 4, 3, padding=1), tn.BatchNorm2d(4), tn.ReLU(), tn.MaxPool2d(2),
                tn.Conv2d(4, 6, 3, padding=1, stride=2, groups=2), tn.GELU(),
                tn.AvgPool2d(2, padding=1), tn.Flatten(), tn.Linear(54, 5), tn.Softmax(-1),
            ),
            (1, 16, 16),
        ),
        "cnn-gap-layernorm": (
            tn.Sequential(
                tn.Conv2d(3, 8, 3, dilation=2, bias=False), tn.BatchNorm2d(8), tn.ReLU(),
                tn.MaxPool2d(3, 2, 1), tn.AdaptiveAvgPool2d(1), tn.Flatten(), tn.LayerNorm(8),
                tn.Linear(8, 4), tn.BatchNorm1d(4), tn.ReLU(), tn.Linear(4, 2),
            ),
            (3, 12, 12),
        ),
    }  # fmt: skip


def _torch_export(torch, model, shape, path, opset):
    model.eval()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            model, (torch.randn(2, *shape),), str(path), dynamo=False, opset_version=opset,
            input_names=["x"], output_names=["y"], dynamic_axes={"x": {0: "n"}, "y": {0: "n"}},
        )  # fmt: skip


@pytest.mark.parametrize("opset", [13, 17, 20])
@pytest.mark.parametrize("name", ["mlp", "cnn", "cnn-gap-layernorm"])
def test_torch_sequential_round_trips(name, opset, torch, tmp_path):
    if name == "cnn-gap-layernorm" and opset < 17:
        pytest.skip("LayerNormalization is an opset 17 operator (torch decomposes it below)")
    torch.set_default_dtype(torch.float32)
    try:
        torch.manual_seed(0)
        model, shape = _torch_models(torch.nn)[name]
        for m in model.modules():  # non-trivial normalisation statistics
            if isinstance(m, (torch.nn.BatchNorm1d, torch.nn.BatchNorm2d)):
                m.running_mean.uniform_(-1, 1)
                m.running_var.uniform_(0.5, 2)
                m.weight.data.uniform_(0.5, 1.5)
        path = tmp_path / "t.onnx"
        _torch_export(torch, model, shape, path, opset)
        net = rg.onnx.load(path)
        assert not net.training
        for b in (1, 7, 64):
            x = torch.randn(b, *shape)
            with torch.no_grad():
                want = model(x).numpy()
            got = net(rg.tensor(x.numpy())).data
            assert got.dtype == np.float32
            np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
    finally:
        torch.set_default_dtype(torch.float64)


def test_loaded_model_is_trainable_with_torch_gradients(torch, tmp_path):
    torch.set_default_dtype(torch.float32)
    try:
        model, shape = _torch_models(torch.nn)["mlp"]
        path = tmp_path / "t.onnx"
        _torch_export(torch, model, shape, path, 17)
        net = rg.onnx.load(path)
        x = np.random.default_rng(0).standard_normal((5, 6)).astype(np.float32)
        y = np.array([0, 1, 2, 1, 0])
        tx = torch.tensor(x)
        torch.nn.functional.nll_loss(model(tx), torch.tensor(y)).backward()
        net.eval()
        loss = nn.NLLLoss()(net(rg.tensor(x)), rg.tensor(y)) if hasattr(nn, "NLLLoss") else None
        if loss is None:  # log-probabilities in, mean negative log-likelihood out
            out = net(rg.tensor(x))
            loss = -(out[np.arange(5), y]).mean()
        loss.backward()
        np.testing.assert_allclose(net[0].weight.grad, model[0].weight.grad.numpy(), atol=1e-5)
        assert all(p.requires_grad for p in net.parameters())
    finally:
        torch.set_default_dtype(torch.float64)


@pytest.mark.parametrize("spec", ["mlp:32,16", "cnn"])
def test_retrograd_export_round_trips(spec, tmp_path):
    model = build_model(spec, 64, 10)
    model.eval()
    path = rg.onnx.export(model, rg.randn(2, 64), tmp_path / "m.onnx")
    again = rg.onnx.load(path)
    x = rg.randn(7, 64)
    np.testing.assert_array_equal(again(x).data, model(x).data)
    assert again.state_dict().keys() == nn.Sequential(*again).state_dict().keys()


# ------------------------------------------------------------------ graphs that do not map
def _model(nodes, inits=(), inputs=None, outputs=None, opset=17):
    inputs = inputs or [helper.make_tensor_value_info("x", TP.FLOAT, ["n", 4])]
    outputs = outputs or [helper.make_tensor_value_info(nodes[-1].output[0], TP.FLOAT, None)]
    graph = helper.make_graph(nodes, "g", inputs, outputs, list(inits))
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])


def _save(model, path):
    path.write_bytes(model.SerializeToString())
    return path


def test_unsupported_nodes_are_all_listed(tmp_path):
    nodes = [
        helper.make_node("Relu", ["x"], ["a"]),
        helper.make_node("Abs", ["a"], ["b"], name="abs1"),
        helper.make_node("Cos", ["b"], ["c"], name="cos1"),
        helper.make_node("Custom", ["c"], ["d"], domain="evil.domain"),
    ]
    with pytest.raises(OnnxImportError) as e:
        rg.onnx.load(_save(_model(nodes), tmp_path / "m.onnx"))
    msg = str(e.value)
    assert "3 node(s)" in msg and "'abs1'" in msg and "'cos1'" in msg and "'Custom'" in msg


def test_branches_and_rnn_graphs_are_refused_with_the_reason(tmp_path):
    nodes = [
        helper.make_node("Relu", ["x"], ["a"]),
        helper.make_node("Tanh", ["x"], ["b"]),
        helper.make_node("Add", ["a", "b"], ["c"]),
    ]
    with pytest.raises(OnnxImportError, match="only chains"):
        rg.onnx.load(_save(_model(nodes), tmp_path / "b.onnx"))
    path = rg.onnx.export(build_model("lstm:8", 64, 10), rg.randn(2, 64), tmp_path / "l.onnx")
    with pytest.raises(OnnxImportError, match="'LSTM'"):
        rg.onnx.load(path)


def test_symbolic_feature_axis_is_refused(tmp_path):
    inputs = [helper.make_tensor_value_info("x", TP.FLOAT, ["n", "f"])]
    model = _model([helper.make_node("Relu", ["x"], ["y"])], inputs=inputs)
    with pytest.raises(OnnxImportError, match="symbolic or unknown axis 1"):
        rg.onnx.load(_save(model, tmp_path / "m.onnx"))


# ------------------------------------------------------------------ damaged / hostile files
def _linear_model(w, b, name_w="w"):
    nodes = [helper.make_node("Gemm", ["x", name_w, "b"], ["y"], transB=1)]
    return _model(nodes, [w, b])


def test_garbage_and_truncated_files(tmp_path):
    p = tmp_path / "g.onnx"
    p.write_bytes(os.urandom(4096))
    with pytest.raises(ModelFileError):
        rg.onnx.load(p)
    good = rg.onnx.export(nn.Linear(4, 3), rg.randn(1, 4), tmp_path / "ok.onnx").read_bytes()
    p.write_bytes(good[: len(good) // 2])
    with pytest.raises(ModelFileError):
        rg.onnx.load(p)
    with pytest.raises(FileNotFoundError):
        rg.onnx.load(tmp_path / "nope.onnx")
    with pytest.raises(ModelFileError, match="max_bytes"):
        rg.onnx.load(tmp_path / "ok.onnx", max_bytes=100)


def _raw_tensor(name, dims, raw):
    t = TP()  # built by hand: onnx.helper refuses inconsistent tensors, a hostile file need not
    t.name, t.data_type, t.raw_data = name, TP.FLOAT, raw
    t.dims.extend(dims)
    return t


def test_huge_declared_initializer_is_refused_before_allocating(tmp_path):
    w = _raw_tensor("w", [3, 2**40], b"\0" * 48)
    b = numpy_helper.from_array(np.zeros(3, np.float32), "b")
    p = _save(_linear_model(w, b), tmp_path / "h.onnx")
    tracemalloc.start()
    try:
        with pytest.raises(ModelFileError, match="more than the file can hold"):
            rg.onnx.load(p)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 50 * 2**20
    # Declared and held sizes must agree even when small.
    w = _raw_tensor("w", [3, 4], b"\0" * 40)
    with pytest.raises(ModelFileError, match="holds 40 bytes"):
        rg.onnx.load(_save(_linear_model(w, b), tmp_path / "s.onnx"))
    w = _raw_tensor("w", [3, 4], b"")
    w.ClearField("raw_data")
    w.float_data.extend([0.0] * 5)
    with pytest.raises(ModelFileError, match="holds 5"):
        rg.onnx.load(_save(_linear_model(w, b), tmp_path / "t.onnx"))
    w = helper.make_tensor("w", TP.STRING, [1], [b"x"])
    with pytest.raises(ModelFileError, match="data type 8"):
        rg.onnx.load(_save(_linear_model(w, b), tmp_path / "u.onnx"))


def test_huge_declared_input_is_refused(tmp_path):
    inputs = [helper.make_tensor_value_info("x", TP.FLOAT, ["n", 100000, 100000])]
    model = _model([helper.make_node("Relu", ["x"], ["y"])], inputs=inputs)
    with pytest.raises(ModelFileError, match="elements per sample"):
        rg.onnx.load(_save(model, tmp_path / "m.onnx"))


def _external(path_text, length=48, offset=0):
    w = TP()
    w.name, w.data_type = "w", TP.FLOAT
    w.dims.extend([3, 4])
    w.data_location = TP.EXTERNAL
    for k, v in (("location", path_text), ("offset", str(offset)), ("length", str(length))):
        e = w.external_data.add()
        e.key, e.value = k, v
    return w


@pytest.mark.parametrize("where", ["../secret.bin", "/etc/passwd", "sub/../../secret.bin"])
def test_external_data_outside_the_directory_is_refused(where, tmp_path):
    d = tmp_path / "model"
    d.mkdir()
    (tmp_path / "secret.bin").write_bytes(b"\1" * 48)
    b = numpy_helper.from_array(np.zeros(3, np.float32), "b")
    p = _save(_linear_model(_external(where), b), d / "m.onnx")
    with pytest.raises(ModelFileError, match="external data"):
        rg.onnx.load(p)


@pytest.mark.skipif(os.name != "posix", reason="symlinks")
def test_external_data_symlink_out_of_the_directory_is_refused(tmp_path):
    d = tmp_path / "model"
    d.mkdir()
    (tmp_path / "secret.bin").write_bytes(b"\1" * 48)
    os.symlink(tmp_path / "secret.bin", d / "link.bin")
    b = numpy_helper.from_array(np.zeros(3, np.float32), "b")
    p = _save(_linear_model(_external("link.bin"), b), d / "m.onnx")
    with pytest.raises(ModelFileError, match="outside the model's directory"):
        rg.onnx.load(p)


def test_external_data_inside_the_directory_is_read_with_checks(tmp_path):
    w = np.arange(12, dtype=np.float32).reshape(3, 4)
    (tmp_path / "w.bin").write_bytes(b"\0" * 8 + w.tobytes())
    b = numpy_helper.from_array(np.ones(3, np.float32), "b")
    p = _save(_linear_model(_external("w.bin", offset=8), b), tmp_path / "m.onnx")
    net = rg.onnx.load(p)
    np.testing.assert_array_equal(net[0].weight.data, w)
    p = _save(_linear_model(_external("w.bin", offset=40), b), tmp_path / "m2.onnx")
    with pytest.raises(ModelFileError, match="which has 56"):
        rg.onnx.load(p)
    p = _save(_linear_model(_external("w.bin", length=4), b), tmp_path / "m3.onnx")
    with pytest.raises(ModelFileError, match="length 4"):
        rg.onnx.load(p)
    p = _save(_linear_model(_external("gone.bin"), b), tmp_path / "m4.onnx")
    with pytest.raises(ModelFileError, match="missing"):
        rg.onnx.load(p)


def test_nesting_bomb_is_refused(tmp_path):
    """Graphs nested in node attributes 200 deep: refused without a crash."""

    def varint(n):
        out = b""
        while True:
            byte, n = n & 0x7F, n >> 7
            out += bytes([byte | (0x80 if n else 0)])
            if not n:
                return out

    def field(num, payload):  # a length-delimited protobuf field
        return varint(num << 3 | 2) + varint(len(payload)) + payload

    # Written as raw protobuf: onnx.helper itself refuses to build such depth.
    node = field(4, b"If")
    for _ in range(200):
        attr = field(1, b"then_branch") + varint(20 << 3) + varint(5) + field(6, field(1, node))
        node = field(4, b"If") + field(1, b"x") + field(2, b"y") + field(5, attr)
    top = _model([helper.make_node("Relu", ["x"], ["y"])])
    top.graph.ClearField("node")
    p = tmp_path / "bomb.onnx"
    p.write_bytes(top.SerializeToString() + field(7, field(1, node)))
    with pytest.raises((ModelFileError, OnnxImportError)):
        rg.onnx.load(p)


def test_too_many_nodes(tmp_path, monkeypatch):
    import retrograd.onnx._load as L

    monkeypatch.setattr(L, "MAX_NODES", 3)
    nodes = [helper.make_node("Relu", ["x"], ["a"])]
    nodes += [helper.make_node("Relu", [f"{c}"], [f"{c}{c}"]) for c in ("a", "aa", "aaaa")]
    nodes[2].input[0], nodes[3].input[0] = "aa", "aaaa"
    nodes[1].output[0], nodes[2].output[0] = "aa", "aaaa"
    with pytest.raises(ModelFileError, match="4 nodes, more than 3"):
        rg.onnx.load(_save(_model(nodes), tmp_path / "m.onnx"))
