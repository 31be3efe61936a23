"""Module, Parameter, containers, state dicts (moved to and from PyTorch) and gradcheck."""

from __future__ import annotations

import numpy as np
import pytest

import retrograd as rg
from retrograd import nn


def _mlp(dtype="float64"):
    return nn.Sequential(
        nn.Linear(4, 8, dtype=dtype),
        nn.Tanh(),
        nn.Linear(8, 6, dtype=dtype),
        nn.ReLU(),
        nn.Linear(6, 3, bias=False, dtype=dtype),
    )


def _torch_mlp(torch):
    tnn = torch.nn
    torch.manual_seed(0)  # (the same weights every run: a failure can be reproduced)
    return tnn.Sequential(
        tnn.Linear(4, 8), tnn.Tanh(), tnn.Linear(8, 6), tnn.ReLU(), tnn.Linear(6, 3, bias=False)
    )


def _grads_match(torch, net, tnet, x, y):
    loss = nn.CrossEntropyLoss()(net(x), y)
    loss.backward()
    tloss = torch.nn.CrossEntropyLoss()(tnet(torch.tensor(x)), torch.tensor(y))
    tloss.backward()
    np.testing.assert_allclose(loss.item(), tloss.item(), rtol=1e-12, atol=1e-14)
    tgrads = {k: p.grad.numpy() for k, p in tnet.named_parameters()}
    grads = {k: p.grad for k, p in net.named_parameters()}
    assert grads.keys() == tgrads.keys()
    for k in grads:
        np.testing.assert_allclose(grads[k], tgrads[k], rtol=1e-10, atol=1e-12, err_msg=k)


def test_state_dict_moves_from_torch_unchanged(torch, rng):
    tnet, net = _torch_mlp(torch), _mlp()
    sd = tnet.state_dict()
    assert list(net.state_dict()) == list(sd)
    for k, v in net.state_dict().items():
        assert v.shape == tuple(sd[k].shape), k
    assert net.load_state_dict(sd) == ([], [])  # torch tensors are accepted as they are
    x, y = rng.normal(size=(7, 4)), np.array([0, 1, 2, 0, 1, 2, 2])
    # (atol: an output near 0 is a difference of rounding between two summation orders)
    np.testing.assert_allclose(
        net(x).data, tnet(torch.tensor(x)).detach().numpy(), rtol=1e-12, atol=1e-14
    )
    _grads_match(torch, net, tnet, x, y)


def test_state_dict_moves_to_torch_unchanged(torch, rng):
    net, tnet = _mlp(), _torch_mlp(torch)
    tnet.load_state_dict({k: torch.tensor(v) for k, v in net.state_dict().items()})
    x, y = rng.normal(size=(5, 4)), np.array([2, 1, 0, 0, 1])
    np.testing.assert_allclose(
        net(x).data, tnet(torch.tensor(x)).detach().numpy(), rtol=1e-12, atol=1e-14
    )
    _grads_match(torch, net, tnet, x, y)


def test_named_parameters_order_is_depth_first_like_torch(torch):
    net = nn.Sequential(nn.Sequential(nn.Linear(2, 3)), nn.Linear(3, 2))
    tnet = torch.nn.Sequential(torch.nn.Sequential(torch.nn.Linear(2, 3)), torch.nn.Linear(3, 2))
    assert [n for n, _ in net.named_parameters()] == [n for n, _ in tnet.named_parameters()]
    assert [n for n, _ in net.named_modules()] == [n for n, _ in tnet.named_modules()]


class _Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.hidden = nn.Linear(3, 4)
        self.blocks = nn.ModuleList([nn.Linear(4, 4), nn.Linear(4, 4)])
        self.out = nn.Linear(4, 1)
        self.register_buffer("scale", np.ones(1))
        self.drop = nn.Dropout(0.5)

    def forward(self, x):
        h = self.hidden(x).tanh()
        for b in self.blocks:
            h = b(h).relu()
        return self.out(self.drop(h)) * self.scale


def test_module_registration_and_traversal():
    net = _Net()
    names = [n for n, _ in net.named_parameters()]
    assert names == [
        "hidden.weight",
        "hidden.bias",
        "blocks.0.weight",
        "blocks.0.bias",
        "blocks.1.weight",
        "blocks.1.bias",
        "out.weight",
        "out.bias",
    ]
    assert len(list(net.parameters())) == 8
    assert net.num_parameters() == 3 * 4 + 4 + 2 * (16 + 4) + 4 + 1
    assert [type(c).__name__ for c in net.children()] == [
        "Linear",
        "ModuleList",
        "Linear",
        "Dropout",
    ]
    assert "scale" in net.state_dict() and "scale" not in dict(net.named_parameters())
    assert len(net.blocks[0:1]) == 1


def test_train_eval_propagate():
    net = _Net()
    assert net.training and net.drop.training
    assert net.eval() is net
    assert not net.training and not net.drop.training and not net.blocks[1].training
    net.train()
    assert net.drop.training


def test_zero_grad_and_requires_grad():
    net = _Net()
    net(rg.ones(2, 3)).sum().backward()
    assert all(p.grad is not None for p in net.parameters())
    net.zero_grad(set_to_none=False)
    assert all(not p.grad.any() for p in net.parameters())
    net.zero_grad()
    assert all(p.grad is None for p in net.parameters())
    net.requires_grad_(False)
    assert not any(p.requires_grad for p in net.parameters())


def test_repr_is_readable():
    r = repr(_Net())
    assert r.startswith("_Net(\n  (hidden): Linear(in_features=3, out_features=4, bias=True)")
    assert "(blocks): ModuleList(\n    (0): Linear(in_features=4, out_features=4, bias=True)" in r
    assert "(drop): Dropout(p=0.5)" in r
    assert "Parameter containing" in repr(nn.Linear(1, 1).weight)


def test_assigning_none_and_wrong_types():
    lin = nn.Linear(2, 2)
    lin.bias = None
    assert [n for n, _ in lin.named_parameters()] == ["weight"]
    assert lin(rg.ones(1, 2)).shape == (1, 2)
    with pytest.raises(TypeError, match="parameter 'weight'"):
        lin.weight = np.zeros((2, 2))
    with pytest.raises(TypeError, match="argument 1 is int"):
        nn.Sequential(nn.Linear(1, 1), 3)
    with pytest.raises(TypeError, match="ModuleList: item 0 is str"):
        nn.ModuleList(["a"])

    class NoInit(nn.Module):
        def __init__(self):
            self.w = 1

    with pytest.raises(AttributeError, match="super"):
        NoInit()


def test_load_state_dict_round_trip_copies_in_place():
    a, b = _Net(), _Net()
    w = b.hidden.weight.data
    assert b.load_state_dict(a.state_dict()) == ([], [])
    assert b.hidden.weight.data is w  # same array, new values
    np.testing.assert_array_equal(w, a.hidden.weight.data)
    a.hidden.weight.data[0, 0] += 1.0
    assert w[0, 0] != a.hidden.weight.data[0, 0]  # a copy, not shared


def test_load_state_dict_from_other_architecture_names_keys_and_shapes():
    net = _mlp()
    other = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 6))
    with pytest.raises(ValueError) as e:
        net.load_state_dict(other.state_dict())
    msg = str(e.value)
    assert "missing keys '4.weight' (3, 6)" in msg and "another architecture" in msg

    bigger = nn.Sequential(
        nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 6), nn.ReLU(), nn.Linear(6, 3), nn.Linear(3, 1)
    )
    with pytest.raises(ValueError, match=r"unexpected keys '4.bias' \(3,\), '5.weight' \(1, 3\)"):
        net.load_state_dict(bigger.state_dict())

    wide = nn.Sequential(
        nn.Linear(5, 8), nn.Tanh(), nn.Linear(8, 6), nn.ReLU(), nn.Linear(6, 3, bias=False)
    )
    before = net[0].weight.data.copy()
    with pytest.raises(
        ValueError,
        match=r"'0.weight': state_dict shape \(8, 5\), model shape "
        r"\(8, 4\)",
    ):
        net.load_state_dict(wide.state_dict())
    np.testing.assert_array_equal(net[0].weight.data, before)  # nothing half-loaded

    missing, unexpected = net.load_state_dict(
        bigger.state_dict() | {"x": np.zeros(1)}, strict=False
    )
    assert missing == [] and unexpected == ["4.bias", "5.weight", "5.bias", "x"]
    with pytest.raises(TypeError, match="mapping"):
        net.load_state_dict([1, 2])


def test_load_state_dict_casts_to_model_dtype():
    net32 = nn.Linear(2, 3)
    net32.load_state_dict(nn.Linear(2, 3, dtype="float64").state_dict())
    assert net32.weight.dtype == np.float32


def test_to_double_and_float():
    net = _Net()
    net.double()
    assert all(p.dtype == np.float64 for p in net.parameters())
    assert net(np.ones((2, 3))).dtype == np.float64
    net.float()
    assert all(p.dtype == np.float32 for p in net.parameters())


# ------------------------------------------------------------------ check_module_grads


def test_check_module_grads_passes_on_float32_model_and_leaves_it_alone(rng):
    net = nn.Sequential(nn.Linear(3, 5), nn.Tanh(), nn.Dropout(0.3), nn.Linear(5, 2))
    x = rng.normal(size=(6, 3)).astype(np.float32)
    state = rg.get_rng_state()
    assert rg.check_module_grads(net, nn.CrossEntropyLoss(), x, np.array([0, 1, 1, 0, 1, 0]))
    assert all(p.dtype == np.float32 and p.grad is None for p in net.parameters())
    assert rg.get_rng_state() == state


def test_check_module_grads_samples_large_parameters(rng):
    net = nn.Sequential(nn.Linear(30, 20), nn.Sigmoid(), nn.Linear(20, 2))
    x, y = rng.normal(size=(4, 30)), rng.normal(size=(4, 2))
    assert rg.check_module_grads(net, nn.MSELoss(), x, y, max_elements=20)


def test_check_module_grads_names_parameter_and_element(rng):
    class Wrong(nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = nn.Linear(2, 2)
            self.gain = nn.Parameter(np.array([1.5, 0.5]))

        def forward(self, x):
            # The loss depends on gain**2, but backprop only sees gain once.
            h = self.lin(x)
            return h * self.gain * rg.tensor(self.gain.data)

    with pytest.raises(
        rg.GradcheckError,
        match=r"parameter 'gain' \(shape \(2,\)\): at element "
        r"\(\d,\)",
    ):
        rg.check_module_grads(
            Wrong(), nn.MSELoss(), rng.normal(size=(3, 2)), rng.normal(size=(3, 2))
        )


def test_check_module_grads_bad_arguments(rng):
    with pytest.raises(TypeError, match="must be a Module"):
        rg.check_module_grads(lambda x: x, nn.MSELoss(), np.ones(2), np.ones(2))
    with pytest.raises(ValueError, match="one-element"):
        rg.check_module_grads(
            nn.Linear(2, 2), nn.MSELoss(reduction="none"), np.ones((1, 2)), np.ones((1, 2))
        )
