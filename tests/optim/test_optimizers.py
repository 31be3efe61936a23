"""SGD, Adam, AdamW, RMSprop: trajectories equal PyTorch's; state dicts; validation."""

from __future__ import annotations

import numpy as np
import pytest

import retrograd as rg
from retrograd import nn, optim

CONFIGS = [
    ("SGD", {"lr": 0.1}),
    ("SGD", {"lr": 0.1, "momentum": 0.9}),
    ("SGD", {"lr": 0.05, "momentum": 0.8, "dampening": 0.5, "weight_decay": 0.01}),
    ("SGD", {"lr": 0.05, "momentum": 0.9, "nesterov": True}),
    ("SGD", {"lr": 0.05, "momentum": 0.9, "nesterov": True, "weight_decay": 0.1}),
    ("SGD", {"lr": 0.1, "weight_decay": 0.1}),
    ("Adam", {"lr": 0.01}),
    ("Adam", {"lr": 0.02, "betas": (0.8, 0.99), "eps": 1e-6, "weight_decay": 0.1}),
    ("Adam", {"lr": 0.01, "amsgrad": True, "weight_decay": 0.05}),
    ("AdamW", {"lr": 0.01}),
    ("AdamW", {"lr": 0.01, "weight_decay": 0.3, "amsgrad": True}),
    ("RMSprop", {"lr": 0.01}),
    ("RMSprop", {"lr": 0.01, "alpha": 0.9, "momentum": 0.5, "weight_decay": 0.01}),
    ("RMSprop", {"lr": 0.01, "centered": True}),
    ("RMSprop", {"lr": 0.005, "centered": True, "momentum": 0.9, "eps": 1e-6}),
    ("Adagrad", {"lr": 0.1}),
    (
        "Adagrad",
        {
            "lr": 0.1,
            "lr_decay": 0.05,
            "weight_decay": 0.01,
            "initial_accumulator_value": 0.1,
            "eps": 1e-8,
        },
    ),  # fmt: skip
    ("Adadelta", {"lr": 1.0}),
    ("Adadelta", {"lr": 0.5, "rho": 0.8, "eps": 1e-5, "weight_decay": 0.02}),
    ("Adamax", {"lr": 0.02}),
    ("Adamax", {"lr": 0.02, "betas": (0.8, 0.99), "eps": 1e-6, "weight_decay": 0.1}),
    ("NAdam", {"lr": 0.02}),
    ("NAdam", {"lr": 0.02, "betas": (0.8, 0.95), "weight_decay": 0.1, "momentum_decay": 0.01}),
    ("NAdam", {"lr": 0.02, "weight_decay": 0.1, "decoupled_weight_decay": True}),
    ("RAdam", {"lr": 0.02}),
    ("RAdam", {"lr": 0.02, "betas": (0.8, 0.9), "eps": 1e-6, "weight_decay": 0.1}),
    ("RAdam", {"lr": 0.02, "weight_decay": 0.1, "decoupled_weight_decay": True}),
]
# The newer rules are also followed for 20 steps (RAdam switches to its rectified step at
# step 6 with betas (0.9, 0.999), later with others).
NEWER = [c for c in CONFIGS if c[0] in ("Adagrad", "Adadelta", "Adamax", "NAdam", "RAdam")]


def _ids(c):
    name, kw = c
    return name + "-" + "-".join(f"{k}={v}" for k, v in kw.items())


class _Net(nn.Module):
    def __init__(self, dtype="float64"):
        super().__init__()
        self.fc1 = nn.Linear(3, 5, dtype=dtype)
        self.fc2 = nn.Linear(5, 2, dtype=dtype)
        self.unused = nn.Linear(2, 2, dtype=dtype)  # never gets a gradient

    def forward(self, x):
        return self.fc2(self.fc1(x).tanh())


def _torch_net(torch, net):
    tnn = torch.nn
    t = tnn.ModuleDict(
        {"fc1": tnn.Linear(3, 5), "fc2": tnn.Linear(5, 2), "unused": tnn.Linear(2, 2)}
    )
    t.load_state_dict({k: torch.tensor(v) for k, v in net.state_dict().items()})
    return t


def _data(rng):
    return rng.normal(size=(8, 3)), rng.normal(size=(8, 2))


def _rg_step(net, opt, x, y):
    opt.zero_grad()
    nn.MSELoss()(net(x), y).backward()
    opt.step()


def _torch_step(torch, tnet, opt, x, y):
    opt.zero_grad()
    out = tnet.fc2(torch.tanh(tnet.fc1(torch.tensor(x))))
    torch.nn.functional.mse_loss(out, torch.tensor(y)).backward()
    opt.step()


def _assert_same(net, tnet, rtol=1e-10):
    t = dict(tnet.named_parameters())
    for name, p in net.named_parameters():
        np.testing.assert_allclose(
            p.data, t[name].detach().numpy(), rtol=rtol, atol=1e-13, err_msg=name
        )


@pytest.mark.parametrize("config", NEWER, ids=_ids)
def test_twenty_steps_of_the_newer_rules_match_torch(torch, rng, config):
    name, kw = config
    net = _Net()
    tnet = _torch_net(torch, net)
    opt = getattr(optim, name)(net.parameters(), **kw)
    topt = getattr(torch.optim, name)(tnet.parameters(), **kw)
    datas = [_data(rng) for _ in range(4)]
    for i in range(20):
        x, y = datas[i % 4]
        _rg_step(net, opt, x, y)
        _torch_step(torch, tnet, topt, x, y)
        _assert_same(net, tnet)
    ids = {id(p) for p in net.parameters()}
    assert all(id(p) in ids for p in opt.state)


@pytest.mark.parametrize("config", CONFIGS, ids=_ids)
def test_five_steps_match_torch(torch, rng, config):
    name, kw = config
    net = _Net()
    tnet = _torch_net(torch, net)
    opt = getattr(optim, name)(net.parameters(), **kw)
    topt = getattr(torch.optim, name)(tnet.parameters(), **kw)
    x, y = _data(rng)
    unused = net.unused.weight.data.copy()
    for _ in range(5):
        _rg_step(net, opt, x, y)
        _torch_step(torch, tnet, topt, x, y)
        _assert_same(net, tnet)
    np.testing.assert_array_equal(net.unused.weight.data, unused)  # grad None: skipped
    assert net.unused.weight not in opt.state


@pytest.mark.parametrize("name", ["SGD", "Adam", "RMSprop"])
def test_param_groups_with_own_options_match_torch(torch, rng, name):
    net = _Net()
    tnet = _torch_net(torch, net)
    extra = {"SGD": {"momentum": 0.9}, "Adam": {"betas": (0.5, 0.9)}, "RMSprop": {"momentum": 0.3}}[
        name
    ]

    def groups(m):  # torch's ModuleDict also gives its members as attributes
        return [{"params": m.fc1.parameters(), "lr": 0.02, **extra}, {"params": m.fc2.parameters()}]

    opt = getattr(optim, name)(groups(net), lr=0.1)
    topt = getattr(torch.optim, name)(groups(tnet), lr=0.1)
    assert [g["lr"] for g in opt.param_groups] == [0.02, 0.1]
    x, y = _data(rng)
    for _ in range(5):
        _rg_step(net, opt, x, y)
        _torch_step(torch, tnet, topt, x, y)
    _assert_same(net, tnet)


def _plain_only(v):
    if isinstance(v, dict):
        return all(isinstance(k, (int, str)) and _plain_only(x) for k, x in v.items())
    if isinstance(v, list):
        return all(_plain_only(x) for x in v)
    return v is None or isinstance(v, (bool, int, float, str, np.ndarray))


@pytest.mark.parametrize("config", CONFIGS[1::2], ids=_ids)
def test_state_dict_round_trip_continues_identically(rng, config):
    name, kw = config
    x, y = _data(rng)
    net = _Net()
    opt = getattr(optim, name)(net.parameters(), **kw)
    for _ in range(3):
        _rg_step(net, opt, x, y)
    sd = opt.state_dict()
    assert _plain_only(sd)
    # Simulate a file: string keys (as JSON would give) and fresh arrays.
    sd = {
        "state": {
            str(k): {n: (np.array(v) if isinstance(v, np.ndarray) else v) for n, v in s.items()}
            for k, s in sd["state"].items()
        },
        "param_groups": sd["param_groups"],
    }

    net2 = _Net()
    net2.load_state_dict(net.state_dict())
    opt2 = getattr(optim, name)(net2.parameters(), lr=123.0)
    opt2.load_state_dict(sd)
    assert opt2.param_groups[0]["lr"] == kw["lr"]
    for _ in range(3):
        _rg_step(net, opt, x, y)
        _rg_step(net2, opt2, x, y)
    for (n, p), (_, q) in zip(net.named_parameters(), net2.named_parameters()):
        np.testing.assert_array_equal(p.data, q.data, err_msg=n)


def test_state_dict_is_a_snapshot(rng):
    net = _Net()
    opt = optim.SGD(net.parameters(), lr=0.1, momentum=0.9)
    x, y = _data(rng)
    _rg_step(net, opt, x, y)
    sd = opt.state_dict()
    saved = sd["state"][0]["momentum_buffer"].copy()
    _rg_step(net, opt, x, y)
    np.testing.assert_array_equal(sd["state"][0]["momentum_buffer"], saved)
    assert sd["param_groups"][0]["params"] == [0, 1, 2, 3, 4, 5]


def test_load_state_dict_mismatches():
    net = _Net()
    opt = optim.Adam(net.parameters())
    net(np.ones((1, 3))).sum().backward()
    opt.step()
    sd = opt.state_dict()
    with pytest.raises(ValueError, match="2 parameters in the state but 6"):
        optim.Adam(net.parameters()).load_state_dict(
            {"state": {}, "param_groups": [dict(sd["param_groups"][0], params=[0, 1])]}
        )
    with pytest.raises(ValueError, match="1 parameter groups, this optimizer has 2"):
        optim.Adam(
            [{"params": net.fc1.parameters()}, {"params": net.fc2.parameters()}]
        ).load_state_dict(sd)
    bad = {
        "state": {0: dict(sd["state"][0], exp_avg=np.zeros((9, 9)))},
        "param_groups": sd["param_groups"],
    }
    with pytest.raises(
        ValueError,
        match=r"'exp_avg' of parameter 0 has shape \(9, 9\), but the "
        r"parameter has shape \(5, 3\)",
    ):
        optim.Adam(net.parameters()).load_state_dict(bad)


@pytest.mark.parametrize("config", CONFIGS, ids=_ids)
def test_float32_parameters_stay_float32(rng, config):
    name, kw = config
    net = _Net("float32")
    opt = getattr(optim, name)(net.parameters(), **kw)
    x = rng.normal(size=(4, 3)).astype(np.float32)
    y = rng.normal(size=(4, 2)).astype(np.float32)
    for _ in range(2):
        _rg_step(net, opt, x, y)
    for p in net.parameters():
        assert p.data.dtype == np.float32
        for v in opt.state.get(p, {}).values():
            if isinstance(v, np.ndarray):
                assert v.dtype == np.float32


def test_updates_are_in_place(rng):
    net = _Net()
    arrays = [p.data for p in net.parameters()]
    for cls in (optim.SGD, optim.Adam, optim.AdamW, optim.RMSprop, optim.Adagrad,
                optim.Adadelta, optim.Adamax, optim.NAdam, optim.RAdam):  # fmt: skip
        opt = cls(net.parameters(), lr=0.01)
        _rg_step(net, opt, *_data(rng))
    assert all(p.data is a for p, a in zip(net.parameters(), arrays))


def test_zero_grad():
    net = _Net()
    opt = optim.SGD(net.parameters(), lr=0.1)
    net(np.ones((1, 3))).sum().backward()
    opt.zero_grad(set_to_none=False)
    assert all(p.grad is None or not p.grad.any() for p in net.parameters())
    assert net.fc1.weight.grad is not None
    opt.zero_grad()
    assert all(p.grad is None for p in net.parameters())


def test_step_with_closure_returns_loss(rng):
    net = _Net()
    opt = optim.SGD(net.parameters(), lr=0.1)
    x, y = _data(rng)

    def closure():
        opt.zero_grad()
        loss = nn.MSELoss()(net(x), y)
        loss.backward()
        return loss

    loss = opt.step(closure)
    assert isinstance(loss, rg.Tensor) and loss.item() > 0


def test_1986_momentum_rule():
    # Rumelhart, Hinton & Williams: dw(t) = -eps dE/dw + alpha dw(t-1).
    w = nn.Parameter(np.array([1.0]))
    opt = optim.SGD([w], lr=0.5, momentum=0.9)
    prev, dws = w.data.copy(), []
    for _ in range(3):
        opt.zero_grad()
        (w * w * 0.5).sum().backward()
        g = w.grad.copy()
        opt.step()
        dws.append((w.data - prev)[0])
        prev = w.data.copy()
        if len(dws) > 1:
            assert dws[-1] == pytest.approx(-0.5 * g[0] + 0.9 * dws[-2])


# ----------------------------------------------------------------------- validation

BAD = [
    (optim.SGD, {"lr": -0.1}, "SGD: lr must be in \\[0, inf\\], got -0.1"),
    (optim.SGD, {"lr": 0.1, "momentum": 1.0}, "momentum must be in \\[0, 1\\), got 1.0"),
    (optim.SGD, {"lr": 0.1, "momentum": -0.5}, "momentum must be in"),
    (optim.SGD, {"lr": 0.1, "nesterov": True}, "nesterov=True needs momentum > 0"),
    (optim.SGD, {"lr": 0.1, "momentum": 0.9, "dampening": 0.1, "nesterov": True}, "dampening == 0"),
    (optim.SGD, {"lr": 0.1, "weight_decay": -1}, "weight_decay must be in"),
    (optim.SGD, {"lr": float("nan")}, "lr must be in"),
    (optim.Adam, {"lr": -1e-3}, "Adam: lr must be in"),
    (optim.Adam, {"betas": (0.9, 1.0)}, "betas\\[1\\] must be in \\[0, 1\\), got 1.0"),
    (optim.Adam, {"betas": (-0.1, 0.9)}, "betas\\[0\\] must be in"),
    (optim.Adam, {"betas": 0.9}, "betas must be a pair"),
    (optim.Adam, {"eps": -1.0}, "eps must be in"),
    (optim.AdamW, {"weight_decay": -0.1}, "AdamW: weight_decay must be in"),
    (optim.RMSprop, {"alpha": 1.5}, "RMSprop: alpha must be in \\[0, 1\\], got 1.5"),
    (optim.RMSprop, {"momentum": 1.0}, "momentum must be in"),
    (optim.Adagrad, {"lr_decay": -0.1}, "Adagrad: lr_decay must be in"),
    (optim.Adagrad, {"initial_accumulator_value": -1.0}, "initial_accumulator_value"),
    (optim.Adadelta, {"rho": 1.5}, "Adadelta: rho must be in \\[0, 1\\], got 1.5"),
    (optim.Adamax, {"betas": (0.9, 1.0)}, "Adamax: betas\\[1\\] must be in"),
    (optim.NAdam, {"momentum_decay": -1.0}, "NAdam: momentum_decay must be in"),
    (optim.RAdam, {"betas": 0.9}, "RAdam: betas must be a pair"),
    (optim.LBFGS, {"lr": -1.0}, "LBFGS: lr must be in"),
    (optim.LBFGS, {"history_size": 0}, "history_size must be a positive int, got 0"),
    (
        optim.LBFGS,
        {"line_search_fn": "armijo"},
        "line_search_fn must be None or 'strong_wolfe', got 'armijo'",
    ),
]


@pytest.mark.parametrize("cls,kw,msg", BAD, ids=[f"{c.__name__}-{m[:20]}" for c, _, m in BAD])
def test_bad_hyperparameters_raise_naming_argument(cls, kw, msg):
    with pytest.raises(ValueError, match=msg):
        cls(nn.Linear(2, 1).parameters(), **kw)


def test_bad_hyperparameter_in_a_group():
    lin = nn.Linear(2, 1)
    with pytest.raises(ValueError, match="lr must be in .* got -1"):
        optim.SGD([{"params": [lin.weight]}, {"params": [lin.bias], "lr": -1}], lr=0.1)
    with pytest.raises(TypeError, match="lr must be a number, got '0.1'"):
        optim.SGD(lin.parameters(), lr="0.1")


def test_bad_params():
    lin = nn.Linear(2, 1)
    with pytest.raises(ValueError, match="empty parameter list"):
        optim.SGD([], lr=0.1)
    with pytest.raises(TypeError, match="single Tensor"):
        optim.SGD(lin.weight, lr=0.1)
    with pytest.raises(TypeError, match="param 1 of the group is a ndarray"):
        optim.SGD([lin.weight, np.zeros(2)], lr=0.1)
    with pytest.raises(ValueError, match="more than one parameter group"):
        optim.SGD([{"params": [lin.weight]}, {"params": [lin.weight]}], lr=0.1)
    with pytest.raises(ValueError, match="non-leaf"):
        optim.SGD([lin.weight * 2], lr=0.1)
