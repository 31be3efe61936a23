"""rg.io.save_state_dict: weights only, atomic, a plain safetensors file PyTorch reads."""

from __future__ import annotations

import numpy as np
import pytest

import retrograd as rg


def test_round_trip_and_torch_loads_it(torch, tmp_path):
    from safetensors.torch import load_file

    rg.manual_seed(0)
    net = rg.nn.Sequential(rg.nn.Linear(3, 4), rg.nn.Tanh(), rg.nn.Linear(4, 2))
    path = rg.io.save_state_dict(net.state_dict(), tmp_path / "w.safetensors")
    back = rg.io.load_state_dict_file(path)
    for k, v in net.state_dict().items():
        assert back[k].dtype == v.dtype
        np.testing.assert_array_equal(back[k], v)
    tnet = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Tanh(), torch.nn.Linear(4, 2))
    tnet.load_state_dict(load_file(str(path)), strict=True)
    x = np.random.default_rng(0).normal(size=(5, 3)).astype(np.float32)
    ours = net(rg.tensor(x)).data
    theirs = tnet.float()(torch.tensor(x)).detach().numpy()
    np.testing.assert_allclose(ours, theirs, atol=1e-6)
    # A fresh model takes the weights back.
    net2 = rg.nn.Sequential(rg.nn.Linear(3, 4), rg.nn.Tanh(), rg.nn.Linear(4, 2))
    net2.load_state_dict(back)
    np.testing.assert_array_equal(net2(rg.tensor(x)).data, ours)


def test_atomic_and_tensors_accepted(tmp_path, monkeypatch):
    path = tmp_path / "w.safetensors"
    rg.io.save_state_dict({"a": rg.ones(2, 3), "b": np.arange(4)}, path)
    before = path.read_bytes()

    def boom(*a, **k):
        raise OSError("disk full")

    monkeypatch.setattr("os.replace", boom)
    with pytest.raises(OSError, match="disk full"):
        rg.io.save_state_dict({"a": np.zeros(3)}, path)
    monkeypatch.undo()
    assert path.read_bytes() == before  # the old file is untouched
    assert sorted(p.name for p in tmp_path.iterdir()) == ["w.safetensors"]
    got = rg.io.load_state_dict_file(path)
    assert got["a"].shape == (2, 3) and got["b"].dtype == np.int64


def test_bad_input_and_the_hint_from_save(tmp_path):
    net = rg.nn.Linear(2, 2)
    with pytest.raises(TypeError, match=r"rg\.io\.save_state_dict\(state_dict, path\)"):
        rg.save(net.state_dict(), tmp_path / "x.safetensors")
    with pytest.raises(TypeError, match=r"got a Module; pass model\.state_dict\(\)"):
        rg.io.save_state_dict(net, tmp_path / "x.safetensors")
    with pytest.raises(TypeError, match="'s' has dtype <U1"):
        rg.io.save_state_dict({"s": np.array(["x"])}, tmp_path / "x.safetensors")
    with pytest.raises(TypeError, match="mapping of names to arrays, got list"):
        rg.io.save_state_dict([np.zeros(2)], tmp_path / "x.safetensors")
