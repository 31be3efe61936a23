"""Whole models, briefly trained, exported and run by ONNX Runtime on random inputs and on
the real digits: the demo MLP, the digits CNN (examples/cnn_digits.py and the command
line's), an LSTM classifier and the equilibrium (fixed-point) classifier."""

from __future__ import annotations

import importlib.util
import os

import numpy as np
import pytest
from onnx_helpers import BATCHES, assert_matches, onnx, random_inputs

import retrograd as rg
from retrograd import nn
from retrograd.cli.models import build_model

EXAMPLES = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(__file__))), "examples")


def _example(name):
    spec = importlib.util.spec_from_file_location(f"_example_{name}", f"{EXAMPLES}/{name}.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="module")
def digits():
    X, y = rg.data.load_digits()
    X = X.astype(np.float64)
    X = ((X - X.mean(axis=0)) / (X.std(axis=0) + 1.0)).astype(np.float32)
    return X, y


def _train(model, X, y, steps=15, lr=3e-3):
    """A few Adam steps, so the weights (and BatchNorm statistics) are not the initial ones."""
    opt = rg.optim.Adam(model.parameters(), lr=lr)
    loss_fn = nn.CrossEntropyLoss()
    rng = np.random.default_rng(0)
    model.train()
    for _ in range(steps):
        idx = rng.choice(len(X), 32, replace=False)
        opt.zero_grad()
        loss_fn(model(rg.tensor(X[idx])), rg.tensor(y[idx])).backward()
        opt.step()
    model.eval()
    return model


def _real_batches(X, shape):
    rows = [X[:1], X[100:107], X[500:564]]
    return [r.reshape((len(r), *shape)) for r in rows]


def _demo_mlp():
    return nn.Sequential(
        nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 64), nn.ReLU(), nn.Linear(64, 10)
    )


MODELS = {
    "demo-mlp": (_demo_mlp, (64,)),
    "cnn_digits-example": (lambda: _example("cnn_digits").build_model(), (1, 8, 8)),
    "cli-cnn": (lambda: build_model("cnn", 64, 10), (64,)),
    "cli-lstm": (lambda: build_model("lstm:32", 64, 10), (64,)),
    "lstm-bidirectional": (
        lambda: _LSTMClassifier(),
        (8, 8),
    ),
    "cli-fixedpoint": (lambda: build_model("fixedpoint:32", 64, 10), (64,)),
    "cli-mlp-gelu-dropout": (
        lambda: build_model("mlp:32,16", 64, 10, activation="gelu", dropout=0.2),
        (64,),
    ),
}


class _LSTMClassifier(nn.Module):
    """A two-layer bidirectional LSTM over the 8 rows of a digit, then a linear head."""

    def __init__(self):
        super().__init__()
        self.lstm = nn.LSTM(8, 16, num_layers=2, batch_first=True, bidirectional=True)
        self.head = nn.Linear(32, 10)

    def forward(self, x):
        out, (h, c) = self.lstm(x)
        return self.head(out[:, -1])


@rg.onnx.register_exporter(_LSTMClassifier)
def _export_lstm_classifier(ctx, m, x):
    out, _ = ctx.call(m.lstm, x)
    last = ctx.op("Gather", out, ctx.const(np.asarray(-1, dtype=np.int64)), axis=1)
    return ctx.call(m.head, rg.onnx.Value(last, out.example[:, -1])).name


@pytest.mark.parametrize("name", list(MODELS))
def test_model_matches_onnx_runtime(name, digits, tmp_path):
    make, shape = MODELS[name]
    X, y = digits
    model = _train(make(), X.reshape((len(X), *shape)), y)
    path = rg.onnx.export(model, rg.tensor(X[:2].reshape((2, *shape))), tmp_path / "m.onnx")
    onnx.checker.check_model(onnx.load(str(path)), full_check=True)
    assert_matches(model, path, random_inputs(shape, BATCHES))
    assert_matches(model, path, _real_batches(X, shape))


def test_metadata_props(tmp_path):
    model = build_model("fixedpoint:8", 64, 10)
    path = rg.onnx.export(model, rg.randn(1, 64), tmp_path / "m.onnx", metadata={"k": "v"})
    props = {p.key: p.value for p in onnx.load(str(path)).metadata_props}
    assert props["retrograd_version"] == rg.__version__
    assert props["k"] == "v"
    import json

    arch = json.loads(props["retrograd_architecture"])
    assert arch == rg.io.module_to_config(model)
    # The architecture rebuilds the model (with fresh weights) through the registry.
    assert type(rg.io.config_to_module(arch)).__name__ == "EquilibriumClassifier"


def test_fixed_point_loop_iterates_like_retrograd(tmp_path):
    """The exported Loop stops on the layer's tolerance: a looser tol gives the same
    (looser) answer in both, not a fixed number of unrolled steps."""
    for tol in (1e-2, 1e-6):
        model = build_model("fixedpoint:16", 64, 10)
        model.fixed_point.tol = tol
        path = rg.onnx.export(model, rg.randn(2, 64), tmp_path / f"fp{tol}.onnx")
        graph = onnx.load(str(path)).graph
        assert "Loop" in [n.op_type for n in graph.node]
        assert_matches(model, path, random_inputs((64,), BATCHES, seed=3))


def test_benchmark_smoke():
    """benchmarks/bench_onnx.py runs (quick mode) and its two contenders agree."""
    spec = importlib.util.spec_from_file_location(
        "_bench_onnx", os.path.join(os.path.dirname(EXAMPLES), "benchmarks", "bench_onnx.py")
    )
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    rows = bench.run(quick=True)
    assert len(rows) == 8 and all(r["max_diff"] < 1e-5 for r in rows)
    assert all(r["retrograd_us"] > 0 and r["ort_us"] > 0 for r in rows)
