"""L-BFGS against PyTorch's on small full-batch problems."""

from __future__ import annotations

import numpy as np
import pytest

import retrograd as rg
from retrograd import nn, optim


@pytest.fixture
def torch(torch):
    # Many tiny ops: torch's thread pool only adds contention on a small, busy machine.
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield torch
    torch.set_num_threads(n)


def _problem(rng):
    x = rng.normal(size=(20, 3))
    y = np.tanh(x @ np.array([[1.0], [-2.0], [0.5]])) + 0.1 * rng.normal(size=(20, 1))
    return x, y


def _pair(torch):
    net = nn.Sequential(
        nn.Linear(3, 4, dtype="float64"), nn.Tanh(), nn.Linear(4, 1, dtype="float64")
    )
    tnet = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Tanh(), torch.nn.Linear(4, 1))
    tnet.load_state_dict({k: torch.tensor(v) for k, v in net.state_dict().items()})
    return net, tnet


def _run(torch, rng, steps, **kw):
    x, y = _problem(rng)
    net, tnet = _pair(torch)
    opt = optim.LBFGS(net.parameters(), **kw)
    topt = torch.optim.LBFGS(tnet.parameters(), **kw)
    xt, yt = torch.tensor(x), torch.tensor(y)

    def closure():
        opt.zero_grad()
        loss = nn.MSELoss()(net(x), y)
        loss.backward()
        return loss

    def tclosure():
        topt.zero_grad()
        loss = torch.nn.functional.mse_loss(tnet(xt), yt)
        loss.backward()
        return loss

    for _ in range(steps):
        loss = opt.step(closure)
        tloss = topt.step(tclosure)
        np.testing.assert_allclose(float(loss), tloss.item(), rtol=1e-9)
    t = dict(tnet.named_parameters())
    for name, p in net.named_parameters():
        np.testing.assert_allclose(
            p.data, t[name].detach().numpy(), rtol=1e-8, atol=1e-10, err_msg=name
        )
    st, tst = opt.state[net[0].weight], topt.state[tnet[0].weight]
    assert st["func_evals"] == tst["func_evals"] and st["n_iter"] == tst["n_iter"]
    return opt, net, closure


def test_lbfgs_fixed_step_matches_torch(torch, rng):
    _run(torch, rng, steps=2, lr=0.5, max_iter=10)


def test_lbfgs_strong_wolfe_matches_torch(torch, rng):
    opt, net, closure = _run(
        torch, rng, steps=2, line_search_fn="strong_wolfe", max_iter=15, history_size=5
    )
    assert closure().item() < 0.05  # and it actually fits


def test_lbfgs_converges_on_quadratic():
    a = np.array([[3.0, 1.0], [1.0, 2.0]])
    b = np.array([1.0, -1.0])
    w = nn.Parameter(np.zeros(2))
    opt = optim.LBFGS(
        [w], line_search_fn="strong_wolfe", tolerance_grad=1e-12, tolerance_change=1e-15
    )

    def closure():
        opt.zero_grad()
        loss = 0.5 * (w @ rg.tensor(a) @ w) - (w * rg.tensor(b)).sum()
        loss.backward()
        return loss

    opt.step(closure)
    np.testing.assert_allclose(w.data, np.linalg.solve(a, b), rtol=1e-8)


def test_lbfgs_state_dict_round_trip(rng):
    x, y = _problem(rng)
    nets = []
    for _ in range(2):
        rg.manual_seed(0)
        nets.append(
            nn.Sequential(
                nn.Linear(3, 4, dtype="float64"), nn.Tanh(), nn.Linear(4, 1, dtype="float64")
            )
        )

    def make_closure(net, opt):
        def closure():
            opt.zero_grad()
            loss = nn.MSELoss()(net(x), y)
            loss.backward()
            return loss

        return closure

    opt1 = optim.LBFGS(nets[0].parameters(), max_iter=4, history_size=3)
    opt1.step(make_closure(nets[0], opt1))
    nets[1].load_state_dict(nets[0].state_dict())
    opt2 = optim.LBFGS(nets[1].parameters(), max_iter=4, history_size=3)
    opt2.load_state_dict(opt1.state_dict())
    for _ in range(2):
        opt1.step(make_closure(nets[0], opt1))
        opt2.step(make_closure(nets[1], opt2))
    for p, q in zip(nets[0].parameters(), nets[1].parameters()):
        np.testing.assert_array_equal(p.data, q.data)


def test_lbfgs_needs_closure_and_one_group():
    lin = nn.Linear(2, 1)
    with pytest.raises(ValueError, match="closure"):
        optim.LBFGS(lin.parameters()).step()
    with pytest.raises(ValueError, match="parameter groups are not supported"):
        optim.LBFGS([{"params": [lin.weight]}, {"params": [lin.bias]}])
