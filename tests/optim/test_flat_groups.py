"""Flat updates of small groups (SGD, Adam, RMSprop): the per-parameter loop, to the bit."""

from __future__ import annotations

import numpy as np
import pytest

import retrograd as rg
from retrograd.optim import optimizer as optimizer_module


def _net(seed=0, dtype=np.float32):
    rg.manual_seed(seed)
    net = rg.nn.Sequential(rg.nn.Linear(5, 7), rg.nn.Tanh(), rg.nn.Linear(7, 3))
    return net.to(dtype)


def _train(net, opt, steps, sched=None, skip_grad_at=None):
    rng = np.random.default_rng(1)
    lf = rg.nn.CrossEntropyLoss()
    for i in range(steps):
        x = rng.standard_normal((4, 5)).astype(net[0].weight.data.dtype)
        y = rng.integers(0, 3, 4)
        opt.zero_grad()
        lf(net(rg.tensor(x)), rg.tensor(y)).backward()
        if skip_grad_at == i:
            net[2].bias.grad = None  # a parameter without a gradient this step
        opt.step()
        if sched is not None:
            sched.step()


@pytest.fixture
def loop_only(monkeypatch):
    """SGD with the flat path switched off: the reference per-parameter loop."""

    def use(flag):
        monkeypatch.setattr(optimizer_module, "FLAT_MAX_ELEMENTS", -1 if not flag else 1 << 16)

    return use


OPTIMIZERS = {
    "sgd": lambda p: rg.optim.SGD(p, lr=0.1, momentum=0.9),
    "adam": lambda p: rg.optim.Adam(p, lr=0.05),
    "adam-l2-amsgrad": lambda p: rg.optim.Adam(p, lr=0.05, weight_decay=0.01, amsgrad=True),
    "adamw": lambda p: rg.optim.AdamW(p, lr=0.05, weight_decay=0.1),
    "rmsprop": lambda p: rg.optim.RMSprop(p, lr=0.01),
    "rmsprop-all": lambda p: rg.optim.RMSprop(
        p, lr=0.01, weight_decay=0.01, momentum=0.9, centered=True
    ),
}


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("with_sched", [False, True])
@pytest.mark.parametrize("which", list(OPTIMIZERS))
def test_flat_update_equals_the_loop_bitwise(loop_only, dtype, with_sched, which):
    results = []
    for flat in (True, False):
        loop_only(flat)
        net = _net(dtype=dtype)
        opt = OPTIMIZERS[which](net.parameters())
        sched = rg.optim.lr_scheduler.StepLR(opt, step_size=3, gamma=0.5) if with_sched else None
        # A missing gradient at step 6: Adam's per-parameter step counts then differ and
        # it keeps the loop from there; SGD flattens again at step 7.
        skip = None if which in ("adam", "rmsprop") else 6
        _train(net, opt, 10, sched, skip_grad_at=skip)
        results.append(net)
        if flat:
            # the flat path did run: the parameters are views of one array
            assert all(p.data.base is not None for p in net.parameters())
            assert len({id(p.data.base) for p in net.parameters()}) == 1
        assert all(p.data.dtype == dtype for p in net.parameters())
    for a, b in zip(results[0].parameters(), results[1].parameters()):
        np.testing.assert_array_equal(a.data, b.data)


def test_state_dict_round_trip_resumes_bitwise():
    net_a = _net()
    opt_a = rg.optim.SGD(net_a.parameters(), lr=0.05, momentum=0.9)
    _train(net_a, opt_a, 5)
    # (a model's state_dict shares the parameters' memory, as PyTorch's does: copy it)
    saved_model = {k: v.copy() for k, v in net_a.state_dict().items()}
    saved_opt = opt_a.state_dict()
    bufs = [v["momentum_buffer"] for v in saved_opt["state"].values()]
    assert len(bufs) == 4 and all(b.base is None for b in bufs)  # copies, not views
    _train(net_a, opt_a, 5)

    net_b = _net(seed=3)
    net_b.load_state_dict(saved_model)
    opt_b = rg.optim.SGD(net_b.parameters(), lr=0.05, momentum=0.9)
    _train(net_b, opt_b, 2)  # build a flat layout, then replace the state under it
    net_b.load_state_dict(saved_model)
    opt_b.load_state_dict(saved_opt)
    _train(net_b, opt_b, 5)
    for a, b in zip(net_a.parameters(), net_b.parameters()):
        np.testing.assert_array_equal(a.data, b.data)


def test_replaced_parameter_arrays_are_seen():
    net = _net()
    opt = rg.optim.SGD(net.parameters(), lr=0.1, momentum=0.9)
    _train(net, opt, 2)
    new = np.zeros_like(net[0].weight.data)
    net[0].weight.data = new  # a user assignment: the flat layout must be rebuilt
    _train(net, opt, 1)
    # The user holds `new`, so the group is not moved into a new flat array: the step
    # updates the assigned array itself (PyTorch: .data shares storage with the param).
    assert net[0].weight.data is new
    assert not np.array_equal(new, np.zeros_like(new))
    w0 = net[0].weight.data
    _train(net, opt, 1)
    assert net[0].weight.data is w0


@pytest.mark.parametrize("which", list(OPTIMIZERS))
def test_array_taken_from_p_data_follows_the_parameter(which):
    # torch: .data shares storage, so an array taken before step() sees every update.
    net = _net()
    before = [p.data for p in net.parameters()]  # taken before the optimizer exists
    opt = OPTIMIZERS[which](net.parameters())
    after = [p.data for p in net.parameters()]  # taken after, before the first step
    _train(net, opt, 3)
    for p, a, b in zip(net.parameters(), before, after):
        assert p.data is a and p.data is b
    # Built before anyone held the arrays, the group is laid out flat at construction
    # and the arrays a user takes afterwards are the views every step updates.
    net2 = _net()
    opt2 = OPTIMIZERS[which](net2.parameters())
    views = [p.data for p in net2.parameters()]
    assert all(v.base is not None for v in views)
    first = views[0].copy()
    _train(net2, opt2, 3)
    assert all(p.data is v for p, v in zip(net2.parameters(), views))
    assert not np.array_equal(views[0], first)


def test_large_or_mixed_groups_use_the_loop():
    rg.manual_seed(0)
    big = rg.nn.Linear(300, 300)  # 90,300 elements: above the flat limit
    opt = rg.optim.SGD(big.parameters(), lr=0.1, momentum=0.9)
    w0 = big.weight.data
    big(rg.randn(2, 300)).sum().backward()
    opt.step()
    assert big.weight.data is w0 and w0.base is None
    a = rg.nn.Parameter(np.ones(3, np.float32))
    b = rg.nn.Parameter(np.ones(3, np.float64))
    opt = rg.optim.SGD([a, b], lr=0.5, momentum=0.5)
    for _ in range(2):
        (a.sum() * 2 + b.sum()).backward()
        opt.step()
        opt.zero_grad()
    assert a.data.base is None and b.data.dtype == np.float64
    np.testing.assert_allclose(a.data, 1 - 0.5 * 2 * (1 + 1.5), rtol=1e-6)
