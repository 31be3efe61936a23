"""The commands on model files they did not write, or that went bad."""

from __future__ import annotations

import numpy as np

import retrograd as rg
from retrograd.cli import main
from retrograd.io.safetensors_format import encode_safetensors


def _train(tmp_path, capsys):
    out = tmp_path / "m.safetensors"
    rc = main(["train", "--data", "digits", "--model", "mlp:8", "--epochs", "1",
               "--out", str(out), "--verbose", "0"])  # fmt: skip
    assert rc == 0
    capsys.readouterr()
    return out


def test_summary_lists_the_tensors_of_a_foreign_file(tmp_path, capsys):
    # What safetensors.torch.save_file writes: tensors and {"format": "pt"}, no architecture.
    tensors = {
        "enc.weight": np.zeros((8, 4), np.float32),
        "enc.bias": np.zeros(8, np.float32),
        "steps": np.zeros((), np.int64),
        "head.weight": np.ones((3, 8), np.float64),
    }
    path = tmp_path / "foreign.safetensors"
    path.write_bytes(encode_safetensors(tensors, {"format": "pt"}))
    assert main(["summary", str(path)]) == 0
    out = capsys.readouterr().out
    assert "4 tensors" in out and "not written by retrograd" in out
    assert "enc.weight   float32  (8, 4)" in out and "head.weight  float64  (3, 8)" in out
    assert "total parameters: 65 (float32 40, float64 24, int64 1)" in out
    assert "metadata: format='pt'" in out


def test_summary_of_a_model_with_an_unregistered_layer(tmp_path, capsys):
    @rg.io.register_module(name="TestSummaryDoubler")
    class Doubler(rg.nn.Module):
        def __init__(self):
            super().__init__()
            self.scale = rg.nn.Parameter(rg.ones(3).data)

        def forward(self, x):
            return x * self.scale

    path = tmp_path / "custom.safetensors"
    rg.save(rg.nn.Sequential(rg.nn.Linear(2, 3), Doubler()), path)
    rg.io.unregister_module("TestSummaryDoubler")
    assert main(["summary", str(path)]) == 0
    out = capsys.readouterr().out
    assert "the model cannot be rebuilt" in out and "TestSummaryDoubler" in out
    assert "1.scale" in out and "total parameters: 12 (float32 12)" in out
    # A damaged file is still an error.
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(path.read_bytes()[:-5])
    assert main(["summary", str(bad)]) == 1


def test_nan_weights_are_refused_by_evaluate_and_predict(tmp_path, capsys):
    out = _train(tmp_path, capsys)
    model, extra = rg.load(out, with_extra=True)
    model[0].weight.data[0, 3] = np.nan
    model[2].bias.data[1] = np.inf
    rg.save(model, out, extra=extra)
    for argv in (["evaluate", str(out), "--data", "digits"],
                 ["predict", str(out), "--data", "digits", "--out", str(tmp_path / "p.csv")],
                 ["gradcheck", str(out), "--data", "digits"]):  # fmt: skip
        assert main(argv) == 1
        err = capsys.readouterr().err
        assert "NaN or Inf values (0.weight: 1, 2.bias: 1)" in err, argv
    assert not (tmp_path / "p.csv").exists()
    assert main(["summary", str(out)]) == 0
    assert "WARNING: NaN or Inf in the weights" in capsys.readouterr().out
