"""nn.Sequential runs Linear + ReLU/Tanh/Sigmoid as one LinearAct node: same results."""

from __future__ import annotations

import numpy as np
import pytest

import retrograd as rg
from retrograd.ops.linalg import LinearAct


def _one_by_one(net, x):
    for m in net:
        x = m(x)
    return x


def _grads(net, x, y, fused):
    net.zero_grad()
    out = net(x) if fused else _one_by_one(net, x)
    rg.nn.CrossEntropyLoss()(out, y).backward()
    return out.data.copy(), [p.grad.copy() for p in net.parameters()]


@pytest.mark.parametrize("act", [rg.nn.ReLU, rg.nn.Tanh, rg.nn.Sigmoid])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_fused_equals_unfused_to_the_bit(act, dtype):
    net = rg.nn.Sequential(rg.nn.Linear(5, 4), act(), rg.nn.Linear(4, 3)).to(dtype)
    x = rg.tensor(np.random.default_rng(0).standard_normal((6, 5)).astype(dtype))
    y = rg.tensor(np.array([0, 1, 2, 0, 1, 2]))
    out_f, g_f = _grads(net, x, y, fused=True)
    out_u, g_u = _grads(net, x, y, fused=False)
    assert out_f.dtype == dtype
    assert np.array_equal(out_f, out_u)
    for a, b in zip(g_f, g_u):
        assert a.dtype == dtype and np.array_equal(a, b)


def test_the_pair_becomes_one_node():
    net = rg.nn.Sequential(rg.nn.Linear(3, 2), rg.nn.ReLU())
    out = net(rg.ones(4, 3))
    assert isinstance(out.grad_fn, LinearAct)
    assert isinstance(_one_by_one(net, rg.ones(4, 3)).grad_fn, rg.ops.elementwise.Relu)


def test_subclasses_are_not_fused():
    class MyReLU(rg.nn.ReLU):
        def forward(self, x):
            return super().forward(x) * 2.0

    net = rg.nn.Sequential(rg.nn.Linear(3, 2), MyReLU())
    x = rg.tensor(np.ones((1, 3), np.float32))
    assert np.array_equal(net(x).data, _one_by_one(net, x).data)
    assert not isinstance(net(x).grad_fn, LinearAct)


def test_bad_input_raises_the_linear_error():
    net = rg.nn.Sequential(rg.nn.Linear(3, 2), rg.nn.ReLU())
    with pytest.raises(ValueError, match=r"Linear\(3, 2\).*\(4, 5\)"):
        net(rg.ones(4, 5))


def test_raw_array_and_bias_free_layers_still_work():
    net = rg.nn.Sequential(rg.nn.Linear(3, 2, bias=False), rg.nn.Tanh())
    x = np.ones((2, 3))  # float64 array into a float32 layer: cast by Linear, not fused
    out = net(x)
    assert out.dtype == np.float32
    assert np.array_equal(out.data, _one_by_one(net, x).data)
    assert isinstance(net(rg.tensor(x, dtype="float32")).grad_fn, LinearAct)
