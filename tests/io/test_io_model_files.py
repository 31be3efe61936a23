"""rg.save / rg.load round trips, the registry, load_state_dict_file and refusals."""

from __future__ import annotations

import numpy as np
import pytest
from io_helpers import assert_same_state, edit_metadata, split_safetensors

import retrograd as rg
from retrograd import nn
from retrograd.io import registry


def _mlp(dtype=None):
    net = nn.Sequential(nn.Linear(3, 5), nn.Tanh(), nn.Linear(5, 2))
    return net if dtype is None else net.to(dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_round_trip_bitwise_and_same_outputs(tmp_path, dtype):
    net = _mlp(dtype)
    path = tmp_path / "m.safetensors"
    returned = rg.save(net, path)
    assert returned == path and path.is_file()
    again = rg.load(path)
    assert type(again) is nn.Sequential
    assert_same_state(net, again)
    assert again[0].weight.dtype == dtype
    x = rg.tensor(np.random.default_rng(0).normal(size=(4, 3)).astype(dtype))
    np.testing.assert_array_equal(again(x).data, net(x).data)


def test_nested_sequential_bias_false_and_every_builtin_layer(tmp_path):
    net = nn.Sequential(
        nn.Flatten(1, -1),
        nn.Sequential(nn.Linear(6, 4, bias=False), nn.LeakyReLU(0.2), nn.Dropout(0.25)),
        nn.Sequential(nn.Linear(4, 4), nn.GELU("tanh"), nn.Softplus(2.0, 10.0)),
        nn.Sigmoid(),
        nn.ReLU(),
        nn.Identity(),
        nn.Linear(4, 3),
        nn.LogSoftmax(dim=1),
    )
    path = tmp_path / "deep.safetensors"
    rg.save(net, path)
    again = rg.load(path)
    assert repr(again) == repr(net)
    assert again[1][0].bias is None and "1.0.bias" not in again.state_dict()
    assert again[1][1].negative_slope == 0.2 and again[1][2].p == 0.25
    assert again[2][1].approximate == "tanh" and again[2][2].beta == 2.0
    assert again[7].dim == 1
    assert_same_state(net, again)
    net.eval()
    again.eval()
    x = rg.randn(2, 2, 3)
    np.testing.assert_array_equal(again(x).data, net(x).data)


def test_training_mode_and_named_sequential_children(tmp_path):
    net = nn.Sequential({"encoder": nn.Linear(2, 3), "act": nn.Tanh(), "head": nn.Linear(3, 1)})
    net.eval()
    rg.save(net, tmp_path / "n.safetensors")
    again = rg.load(tmp_path / "n.safetensors")
    assert list(again.state_dict()) == [
        "encoder.weight",
        "encoder.bias",
        "head.weight",
        "head.bias",
    ]
    assert again.training is False and all(not m.training for m in again.modules())


def test_module_list_and_single_layer(tmp_path):
    ml = nn.ModuleList([nn.Linear(2, 2), nn.Linear(2, 1)])
    rg.save(ml, tmp_path / "ml.safetensors")
    assert_same_state(ml, rg.load(tmp_path / "ml.safetensors"))
    lin = nn.Linear(7, 1)
    rg.save(lin, tmp_path / "l.safetensors")
    again = rg.load(tmp_path / "l.safetensors")
    assert (again.in_features, again.out_features) == (7, 1)
    assert_same_state(lin, again)


def test_file_layout_names_metadata_and_version(tmp_path):
    net = _mlp()
    path = rg.save(net, tmp_path / "m.safetensors")
    header, _ = split_safetensors(path.read_bytes())
    names = sorted(k for k in header if k != "__metadata__")
    assert names == sorted(net.state_dict())
    meta = header["__metadata__"]
    assert meta["format"] == "pt"
    import json

    body = json.loads(meta["retrograd"])
    assert body["kind"] == "model" and body["format_version"] == rg.io.FORMAT_VERSION
    assert body["retrograd_version"] == rg.__version__
    assert body["architecture"]["type"] == "Sequential"
    assert body["architecture"]["config"]["modules"][0] == {
        "module": {"type": "Linear", "config": {"in_features": 3, "out_features": 5, "bias": True}}
    }


def test_file_is_readable_by_the_reference_safetensors_reader(tmp_path):
    from safetensors.numpy import load_file

    net = _mlp(np.float64)
    path = rg.save(net, tmp_path / "m.safetensors")
    ref = load_file(str(path))
    for k, v in net.state_dict().items():
        np.testing.assert_array_equal(ref[k], v)
        assert ref[k].dtype == v.dtype


def test_buffers_round_trip_with_their_dtype(tmp_path):
    @rg.io.register_module
    class Counter(nn.Module):
        def __init__(self, n: int = 3):
            super().__init__()
            self.n = n
            self.lin = nn.Linear(n, n)
            self.register_buffer("running", np.arange(n, dtype=np.float64))
            self.register_buffer("count", np.array(7, dtype=np.int64))
            self.register_buffer("scratch", np.zeros(2), persistent=False)

        def get_config(self):
            return {"n": self.n}

        def forward(self, x):
            return self.lin(x)

    try:
        m = Counter(4)
        m.count = np.array(123456789012, dtype=np.int64)
        rg.save(m, tmp_path / "c.safetensors")
        again = rg.load(tmp_path / "c.safetensors")
        assert isinstance(again, Counter) and again.n == 4
        assert again.count.data.dtype == np.int64 and int(again.count.data) == 123456789012
        assert_same_state(m, again)
        assert "scratch" not in rg.io.load_state_dict_file(tmp_path / "c.safetensors")
    finally:
        rg.io.unregister_module("Counter")


class _Residual(nn.Module):
    """A user module that takes a Module and a list as constructor arguments."""

    def __init__(self, inner, scales, name="res"):
        super().__init__()
        self.inner, self.scales, self.name_ = inner, list(scales), name

    def get_config(self):
        return {"inner": self.inner, "scales": tuple(self.scales), "name": self.name_}

    def forward(self, x):
        return x * self.scales[0] + self.inner(x) * self.scales[1]


def test_custom_module_with_module_arguments(tmp_path):
    rg.io.register_module(_Residual)
    try:
        net = nn.Sequential(nn.Linear(2, 4), _Residual(nn.Sequential(nn.Linear(4, 4)), (0.5, 2)))
        rg.save(net, tmp_path / "r.safetensors")
        again = rg.load(tmp_path / "r.safetensors")
        assert isinstance(again[1], _Residual) and again[1].scales == [0.5, 2]
        assert again[1].name_ == "res"
        x = rg.randn(3, 2)
        np.testing.assert_array_equal(again(x).data, net(x).data)
    finally:
        rg.io.unregister_module("_Residual")
    with pytest.raises(rg.ModelFileError, match="unknown layer type '_Residual'"):
        rg.load(tmp_path / "r.safetensors")


def test_register_under_another_name_and_with_extractor(tmp_path):
    class Scale(nn.Module):
        def __init__(self, k: float):
            super().__init__()
            self.k = k

        def forward(self, x):
            return x * self.k

    with pytest.raises(ValueError, match="already taken"):
        rg.io.register_module(Scale, name="Linear")
    rg.io.register_module(Scale, name="MyScale", get_config=rg.io.attrs("k"))
    try:
        rg.save(nn.Sequential(Scale(3.0)), tmp_path / "s.safetensors")
        assert rg.load(tmp_path / "s.safetensors")[0].k == 3.0
        assert rg.io.registered_modules()["MyScale"] is Scale
    finally:
        rg.io.unregister_module("MyScale")
    with pytest.raises(ValueError, match="built-in"):
        rg.io.unregister_module("Linear")


def test_unregistered_or_unsaveable_modules_raise_clear_errors(tmp_path):
    class Unknown(nn.Module):
        def forward(self, x):
            return x

    with pytest.raises(TypeError, match="register_module"):
        rg.save(nn.Sequential(nn.Linear(2, 2), Unknown()), tmp_path / "u.safetensors")
    assert not (tmp_path / "u.safetensors").exists()

    class Needs(nn.Module):
        def __init__(self, width):
            super().__init__()

    rg.io.register_module(Needs)
    try:
        with pytest.raises(TypeError, match=r"requires \['width'\]"):
            rg.save(Needs(3), tmp_path / "n.safetensors")
    finally:
        rg.io.unregister_module("Needs")

    class BadConfig(nn.Module):
        def get_config(self):
            return {"f": object()}

    rg.io.register_module(BadConfig)
    try:
        with pytest.raises(TypeError, match="not a valid constructor argument"):
            rg.save(BadConfig(), tmp_path / "b.safetensors")
    finally:
        rg.io.unregister_module("BadConfig")

    with pytest.raises(TypeError, match="Module"):
        rg.save({"weight": np.ones(2)}, tmp_path / "d.safetensors")
    with pytest.raises(TypeError, match="Module subclass"):
        rg.io.register_module(int)


def test_subclass_of_builtin_is_not_saved_as_its_parent(tmp_path):
    class MyLinear(nn.Linear):
        def forward(self, x):
            return super().forward(x) * 2

    with pytest.raises(TypeError, match="MyLinear is not registered"):
        rg.save(MyLinear(2, 2), tmp_path / "x.safetensors")


def test_extra_payload(tmp_path):
    extra = {"classes": np.array([3, 5, 9]), "note": "digits", 1: [None, 2.5, float("nan")]}
    rg.save(_mlp(), tmp_path / "e.safetensors", extra=extra)
    model, got = rg.load(tmp_path / "e.safetensors", with_extra=True)
    assert isinstance(model, nn.Sequential)
    np.testing.assert_array_equal(got["classes"], [3, 5, 9])
    assert got["note"] == "digits" and got[1][:2] == [None, 2.5] and np.isnan(got[1][2])
    assert sorted(rg.io.load_state_dict_file(tmp_path / "e.safetensors")) == sorted(
        _mlp().state_dict()
    )


def test_load_state_dict_file_into_user_built_model(tmp_path):
    net = _mlp()
    rg.save(net, tmp_path / "m.safetensors")
    weights = rg.io.load_state_dict_file(tmp_path / "m.safetensors")
    assert set(weights) == set(net.state_dict())
    mine = _mlp()
    mine.load_state_dict(weights)
    assert_same_state(net, mine)
    # A plain safetensors file without retrograd metadata: weights load, rg.load refuses.
    from safetensors.numpy import save_file

    save_file({"weight": np.ones((2, 3), np.float32)}, str(tmp_path / "plain.safetensors"))
    assert rg.io.load_state_dict_file(tmp_path / "plain.safetensors")["weight"].shape == (2, 3)
    with pytest.raises(rg.ModelFileError, match="load_state_dict_file"):
        rg.load(tmp_path / "plain.safetensors")


def test_newer_format_version_and_wrong_kind_are_refused(tmp_path):
    path = rg.save(_mlp(), tmp_path / "m.safetensors")
    blob = path.read_bytes()

    def newer(meta):
        meta["format_version"] = 99
        return meta

    (tmp_path / "v.safetensors").write_bytes(edit_metadata(blob, newer))
    with pytest.raises(rg.ModelFileError, match="format version 99.*Upgrade"):
        rg.load(tmp_path / "v.safetensors")
    rg.save_checkpoint(tmp_path / "c.safetensors", model=_mlp())
    with pytest.raises(rg.ModelFileError, match="load_checkpoint"):
        rg.load(tmp_path / "c.safetensors")
    with pytest.raises(rg.ModelFileError, match=r"retrograd\.load\(\)"):
        rg.load_checkpoint(path, model=_mlp())


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda m: {**m, "architecture": {"type": "os.system", "config": {}}}, "unknown layer"),
        (
            lambda m: {
                **m,
                "architecture": {
                    "type": "Linear",
                    "config": {"in_features": "3", "out_features": 5},
                },
            },
            "in_features must be a positive int",
        ),
        (lambda m: {**m, "architecture": {"type": "Tanh", "config": {"x": 1}}}, "Tanh"),
        (lambda m: {**m, "architecture": {"type": "Tanh", "config": {"__class__": 1}}}, "Tanh"),
        (lambda m: {**m, "architecture": {"type": "Tanh", "config": {"a b": 1}}}, "identifier"),
        (lambda m: {**m, "architecture": {"type": "Tanh", "config": {"x": {"y": 1}}}}, "scalars"),
        (lambda m: {**m, "architecture": ["Linear"]}, "exactly 'type' and 'config'"),
        (lambda m: {k: v for k, v in m.items() if k != "architecture"}, "lacks"),
        (lambda m: {**m, "surprise": 1}, "unknown keys"),
        (lambda m: {**m, "training": "yes"}, "training"),
        (lambda m: [m], "expected object"),
        (lambda m: "{not json", "invalid JSON"),
        (lambda m: "[" * 100000 + "]" * 100000, "nested deeper"),
        (
            lambda m: {
                **m,
                "architecture": {
                    "type": "Linear",
                    "config": {"in_features": 10**6, "out_features": 10**6},
                },
            },
            "needs at least",
        ),
        (
            lambda m: {
                **m,
                "architecture": {"type": "Linear", "config": {"in_features": 5, "out_features": 3}},
            },
            "do not fit",
        ),
        (lambda m: {**m, "kind": 5}, "found kind"),
        (lambda m: {**m, "format_version": "1"}, "format_version"),
    ],
)
def test_tampered_architecture_raises_model_file_error(tmp_path, edit, message):
    path = rg.save(_mlp(), tmp_path / "m.safetensors")
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(edit_metadata(path.read_bytes(), edit))
    with pytest.raises(rg.ModelFileError, match=message):
        rg.load(bad)


def test_deeply_nested_architecture_is_refused_without_recursion(tmp_path):
    node = {"type": "Tanh", "config": {}}
    for _ in range(registry.MAX_CONFIG_DEPTH + 5):
        node = {"type": "Sequential", "config": {"names": ["0"], "modules": [{"module": node}]}}
    path = rg.save(nn.Tanh(), tmp_path / "t.safetensors")
    bad = tmp_path / "deep.safetensors"
    bad.write_bytes(edit_metadata(path.read_bytes(), lambda m: {**m, "architecture": node}))
    with pytest.raises(rg.ModelFileError, match="nested deeper"):
        rg.load(bad)


def test_weights_with_wrong_dtype_kind_are_refused(tmp_path):
    from io_helpers import join_safetensors

    path = rg.save(nn.Linear(2, 1), tmp_path / "m.safetensors")
    header, data = split_safetensors(path.read_bytes())
    header["bias"]["dtype"] = "I32"  # same byte length as F32
    (tmp_path / "i.safetensors").write_bytes(join_safetensors(header, data))
    with pytest.raises(rg.ModelFileError, match="dtype int32 in the file"):
        rg.load(tmp_path / "i.safetensors")


def test_missing_file_is_a_file_not_found_error(tmp_path):
    with pytest.raises(FileNotFoundError):
        rg.load(tmp_path / "nope.safetensors")
    with pytest.raises(rg.ModelFileError, match="directory"):
        rg.load(tmp_path)


def test_module_to_config_and_back():
    node = rg.io.module_to_config(_mlp())
    assert node["type"] == "Sequential"
    rebuilt = rg.io.config_to_module(node)
    assert [type(m).__name__ for m in rebuilt] == ["Linear", "Tanh", "Linear"]


def _builtin_layers():
    """One instance of every layer family the registry knows (skips absent ones)."""
    makers = {
        "Conv2d": lambda: nn.Conv2d(2, 4, 3, stride=2, padding=1, bias=False),
        "MaxPool2d": lambda: nn.MaxPool2d(2),
        "AvgPool2d": lambda: nn.AvgPool2d(2),
        "AdaptiveAvgPool2d": lambda: nn.AdaptiveAvgPool2d(1),
        "BatchNorm1d": lambda: nn.BatchNorm1d(4),
        "BatchNorm2d": lambda: nn.BatchNorm2d(3, affine=False),
        "LayerNorm": lambda: nn.LayerNorm([2, 3]),
        "Dropout2d": lambda: nn.Dropout2d(0.3),
        "RNN": lambda: nn.RNN(3, 4, num_layers=2, nonlinearity="relu"),
        "LSTM": lambda: nn.LSTM(3, 4, num_layers=2, bidirectional=True),
        "GRU": lambda: nn.GRU(3, 4, batch_first=True, bias=False),
        "RNNCell": lambda: nn.RNNCell(3, 4),
        "LSTMCell": lambda: nn.LSTMCell(3, 4),
        "GRUCell": lambda: nn.GRUCell(3, 4),
        "RecurrentNet": lambda: nn.RecurrentNet(2, 3, 1),
        "Embedding": lambda: nn.Embedding(7, 3, padding_idx=1),
        "MultiheadAttention": lambda: nn.MultiheadAttention(4, 2, kdim=3, add_bias_kv=True),
        "TransformerEncoderLayer": lambda: nn.TransformerEncoderLayer(4, 2, 8, norm_first=True),
        "TransformerDecoderLayer": lambda: nn.TransformerDecoderLayer(4, 2, 8, bias=False),
        "TransformerEncoder": lambda: nn.TransformerEncoder(
            nn.TransformerEncoderLayer(4, 2, 8), 3, nn.LayerNorm(4)
        ),
        "TransformerDecoder": lambda: nn.TransformerDecoder(nn.TransformerDecoderLayer(4, 2, 8), 2),
        "Transformer": lambda: nn.Transformer(4, 2, 2, 1, 8),
    }
    return {k: v for k, v in makers.items() if hasattr(nn, k)}


@pytest.mark.parametrize("name", sorted(_builtin_layers()))
def test_other_builtin_layers_round_trip(tmp_path, name):
    layer = _builtin_layers()[name]()
    path = rg.save(layer, tmp_path / f"{name}.safetensors")
    again = rg.load(path)
    assert type(again) is type(layer)
    assert_same_state(layer, again)
    assert repr(again) == repr(layer)
    # The pre-allocation estimate must never exceed what the layer really holds.
    node = rg.io.module_to_config(layer)
    held = sum(v.size for v in layer.state_dict().values())
    assert registry.estimate_numel(node, "test") <= held


@pytest.mark.parametrize(
    "node",
    [
        {
            "type": "Conv2d",
            "config": {"in_channels": 10**5, "out_channels": 10**5, "kernel_size": 3},
        },
        {"type": "LSTM", "config": {"input_size": 10**6, "hidden_size": 10**6}},
        {"type": "BatchNorm1d", "config": {"num_features": 10**12}},
        {"type": "Linear", "config": {"in_features": 10**9, "out_features": 10**9}},
        {"type": "Embedding", "config": {"num_embeddings": 10**9, "embedding_dim": 10**3}},
        {"type": "MultiheadAttention", "config": {"embed_dim": 10**6, "num_heads": 1}},
        {
            "type": "TransformerEncoder",
            "config": {
                "encoder_layer": {
                    "module": {
                        "type": "TransformerEncoderLayer",
                        "config": {"d_model": 4, "nhead": 2, "dim_feedforward": 8},
                    }
                },
                "num_layers": 10**9,
            },
        },
    ],
)
def test_absurd_architectures_are_refused_before_allocating(tmp_path, node):
    if node["type"] not in rg.io.registered_modules():
        pytest.skip(f"{node['type']} not in retrograd.nn yet")
    path = rg.save(nn.Linear(2, 2), tmp_path / "m.safetensors")
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(edit_metadata(path.read_bytes(), lambda m: {**m, "architecture": node}))
    with pytest.raises(rg.ModelFileError, match="needs at least"):
        rg.load(bad)


def test_cli_layers_load_without_importing_the_cli(tmp_path):
    # A fresh interpreter that never imports retrograd.cli: rg.load finds the CLI's layers
    # (they live in retrograd.nn) and does not import the command line to do so.
    import subprocess
    import sys

    from retrograd.cli.models import build_model

    path = tmp_path / "cli_models.safetensors"
    models = [build_model(spec, 64, 3) for spec in ("cnn:2,2", "lstm:4", "fixedpoint:4")]
    rg.save(nn.Sequential(*models), path)
    code = (
        "import sys, retrograd as rg; m = rg.load(sys.argv[1]); "
        "assert not any(k.startswith('retrograd.cli') for k in sys.modules); "
        "print(len(list(m.parameters())))"
    )
    out = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert int(out.stdout) == len(list(nn.Sequential(*models).parameters()))


def test_cli_layers_are_registered_nn_layers_under_their_names():
    import retrograd.cli.models as cli_models

    names = ("InputReshape", "SequenceClassifier", "NormBoundedTanhCell", "EquilibriumClassifier")
    registered = rg.io.registered_modules()
    for name in names:
        assert registered[name] is getattr(nn, name) is getattr(cli_models, name)
        assert getattr(nn, name).__module__.startswith("retrograd.nn.")


def test_io_never_imports_the_cli():
    from pathlib import Path

    io_dir = Path(rg.io.__file__).parent
    for path in io_dir.glob("*.py"):
        text = path.read_text()
        assert "retrograd.cli" not in text and "from ..cli" not in text, path.name
