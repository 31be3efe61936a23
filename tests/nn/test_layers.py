"""Feedforward layers: shapes, values and gradients against PyTorch, bad input."""

from __future__ import annotations

import numpy as np
import pytest

import retrograd as rg
from retrograd import nn

ACTIVATIONS = [
    (lambda: nn.ReLU(), "ReLU()"),
    (lambda: nn.Tanh(), "Tanh()"),
    (lambda: nn.Sigmoid(), "Sigmoid()"),
    (lambda: nn.LeakyReLU(0.1), "LeakyReLU(negative_slope=0.1)"),
    (lambda: nn.GELU(), "GELU()"),
    (lambda: nn.GELU("tanh"), "GELU(approximate='tanh')"),
    (lambda: nn.Softmax(dim=1), "Softmax(dim=1)"),
    (lambda: nn.LogSoftmax(dim=-1), "LogSoftmax(dim=-1)"),
    (lambda: nn.Identity(), "Identity()"),
]


@pytest.mark.parametrize("make,torch_expr", ACTIVATIONS, ids=[e for _, e in ACTIVATIONS])
def test_activation_matches_torch(torch, rng, make, torch_expr):
    x_np = rng.normal(size=(4, 5)) * 2
    x_np[0, 0] = 0.0
    layer = make()
    tlayer = eval("torch.nn." + torch_expr)
    x = rg.tensor(x_np, requires_grad=True)
    xt = torch.tensor(x_np, requires_grad=True)
    y, yt = layer(x), tlayer(xt)
    np.testing.assert_allclose(y.data, yt.detach().numpy(), rtol=1e-10, atol=1e-12)
    g = rng.normal(size=y.shape)
    y.backward(g)
    yt.backward(torch.tensor(g))
    np.testing.assert_allclose(x.grad, xt.grad.numpy(), rtol=1e-10, atol=1e-12)


def test_linear_matches_torch_with_and_without_bias(torch, rng):
    for bias in (True, False):
        lin = nn.Linear(3, 2, bias=bias, dtype="float64")
        tlin = torch.nn.Linear(3, 2, bias=bias)
        tlin.load_state_dict({k: torch.tensor(v) for k, v in lin.state_dict().items()})
        x_np = rng.normal(size=(2, 4, 3))  # extra leading dims are batch dims
        x = rg.tensor(x_np, requires_grad=True)
        xt = torch.tensor(x_np, requires_grad=True)
        (lin(x) ** 2).sum().backward()
        (tlin(xt) ** 2).sum().backward()
        np.testing.assert_allclose(x.grad, xt.grad.numpy(), rtol=1e-10)
        np.testing.assert_allclose(lin.weight.grad, tlin.weight.grad.numpy(), rtol=1e-10)
        if bias:
            np.testing.assert_allclose(lin.bias.grad, tlin.bias.grad.numpy(), rtol=1e-10)
        else:
            assert lin.bias is None and [n for n, _ in lin.named_parameters()] == ["weight"]


def test_linear_layout_and_dtype():
    lin = nn.Linear(3, 2)
    assert lin.weight.shape == (2, 3) and lin.bias.shape == (2,)
    assert lin.weight.dtype == np.float32
    out = lin(rg.ones(5, 3))
    out.sum().backward()
    assert out.dtype == np.float32 and lin.weight.grad.dtype == np.float32
    assert repr(lin) == "Linear(in_features=3, out_features=2, bias=True)"


def test_linear_wrong_width_names_layer_shape_and_width():
    lin = nn.Linear(4, 2)
    with pytest.raises(
        ValueError,
        match=r"Linear\(4, 2\): input has shape \(8, 3\), "
        r"expected \(\.\.\., 4\)",
    ):
        lin(rg.zeros(8, 3))
    with pytest.raises(ValueError, match=r"shape \(\)"):
        lin(rg.tensor(1.0))


@pytest.mark.parametrize("bad", [0, -3, 2.5, True, "4"])
def test_linear_bad_sizes(bad):
    with pytest.raises(ValueError, match="in_features must be a positive int"):
        nn.Linear(bad, 2)


def test_flatten_matches_torch(torch, rng):
    x = rng.normal(size=(2, 3, 4, 5))
    for args in [(), (0,), (1, 2), (2, -1)]:
        y = nn.Flatten(*args)(rg.tensor(x))
        yt = torch.nn.Flatten(*args)(torch.tensor(x))
        assert y.shape == tuple(yt.shape)
        np.testing.assert_array_equal(y.data, yt.numpy())


def test_dropout_train_and_eval(rng):
    drop = nn.Dropout(0.25)
    x = rg.ones(200, 50, requires_grad=True)
    y = drop(x)
    kept = y.data != 0
    assert 0.7 < kept.mean() < 0.8
    np.testing.assert_allclose(y.data[kept], 1 / 0.75, rtol=1e-6)
    y.sum().backward()
    np.testing.assert_array_equal(x.grad != 0, kept)  # the gradient takes the same mask
    drop.eval()
    assert drop(x) is x
    assert (nn.Dropout(1.0)(x).data == 0).all()
    with pytest.raises(ValueError, match="p must be in"):
        nn.Dropout(1.5)


def test_dropout_is_reproducible_under_manual_seed():
    drop = nn.Dropout(0.5)
    rg.manual_seed(3)
    a = drop(rg.ones(10, 10)).data
    rg.manual_seed(3)
    b = drop(rg.ones(10, 10)).data
    np.testing.assert_array_equal(a, b)


def test_gelu_bad_approximate():
    with pytest.raises(ValueError, match="approximate must be 'none' or 'tanh', got 'fast'"):
        nn.GELU("fast")


def test_sequential_indexing_and_append():
    net = nn.Sequential(nn.Linear(2, 3), nn.ReLU())
    net.append(nn.Linear(3, 1))
    assert len(net) == 3 and isinstance(net[-1], nn.Linear)
    assert isinstance(net[:2], nn.Sequential) and len(net[:2]) == 2
    assert net(rg.ones(4, 2)).shape == (4, 1)
    assert [n for n, _ in net.named_parameters()][-1] == "2.bias"


def test_linear_casts_raw_arrays_to_its_dtype():
    lin = nn.Linear(3, 2)
    assert lin(np.ones((4, 3))).dtype == np.float32  # float64 NumPy data
    assert lin(np.ones((4, 3), dtype=np.int64)).dtype == np.float32
    assert lin([[1.0, 2.0, 3.0]]).shape == (1, 2)
