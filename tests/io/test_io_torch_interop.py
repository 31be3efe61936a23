"""Files written by rg.save load into the equivalent PyTorch model (and back)."""

from __future__ import annotations

import numpy as np
from io_helpers import assert_loads_in_torch

import retrograd as rg
from retrograd import nn


def test_mlp_float64_loads_into_torch_with_same_outputs(torch, tmp_path):
    net = nn.Sequential(
        nn.Linear(5, 8), nn.Tanh(), nn.Linear(8, 8, bias=False), nn.ReLU(), nn.Linear(8, 3)
    ).double()
    tnet = torch.nn.Sequential(
        torch.nn.Linear(5, 8),
        torch.nn.Tanh(),
        torch.nn.Linear(8, 8, bias=False),
        torch.nn.ReLU(),
        torch.nn.Linear(8, 3),
    ).double()
    x = np.random.default_rng(0).normal(size=(6, 5))
    assert_loads_in_torch(torch, net, tnet, x, tmp_path, atol=1e-12)


def test_mlp_float32_with_nested_sequential_and_dropout(torch, tmp_path):
    net = nn.Sequential(
        nn.Linear(4, 6),
        nn.Sequential(nn.Sigmoid(), nn.Dropout(0.5)),
        nn.Linear(6, 2),
        nn.LogSoftmax(dim=-1),
    )
    tnet = torch.nn.Sequential(
        torch.nn.Linear(4, 6),
        torch.nn.Sequential(torch.nn.Sigmoid(), torch.nn.Dropout(0.5)),
        torch.nn.Linear(6, 2),
        torch.nn.LogSoftmax(dim=-1),
    ).float()
    x = np.random.default_rng(1).normal(size=(3, 4)).astype(np.float32)
    assert_loads_in_torch(torch, net, tnet, x, tmp_path, atol=1e-5)
    # The stored dtype is what PyTorch sees.
    from safetensors.torch import load_file

    assert load_file(str(tmp_path / "interop.safetensors"))["0.weight"].dtype == torch.float32


def test_torch_written_file_loads_with_load_state_dict_file(torch, tmp_path):
    from safetensors.torch import save_file

    tlin = torch.nn.Linear(3, 2).double()
    save_file(tlin.state_dict(), str(tmp_path / "t.safetensors"))
    lin = nn.Linear(3, 2).double()
    lin.load_state_dict(rg.io.load_state_dict_file(tmp_path / "t.safetensors"))
    x = np.arange(6.0).reshape(2, 3)
    with torch.no_grad():
        expected = tlin(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(lin(rg.tensor(x)).data, expected, atol=1e-12)
