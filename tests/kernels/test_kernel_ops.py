"""The ops that call kernels give the NumPy twins' results with Numba, and replay bitwise."""

from __future__ import annotations

import numpy as np
import pytest

import retrograd as rg
from retrograd import kernels

pytest.importorskip("numba", reason="Numba is not installed")


def _train(choice, dtype, steps=4, batch=16, compiled=True):
    kernels.use(choice)
    try:
        rng = np.random.default_rng(0)
        x = rng.standard_normal((batch * steps, 12)).astype(dtype)
        y = rng.integers(0, 5, batch * steps)
        rg.manual_seed(0)
        net = rg.nn.Sequential(
            rg.nn.Linear(12, 16), rg.nn.ReLU(), rg.nn.Linear(16, 16), rg.nn.ReLU(),
            rg.nn.Linear(16, 5),
        )  # fmt: skip
        net.to(dtype) if dtype == np.float64 else None
        opt = rg.optim.SGD(net.parameters(), lr=0.1, momentum=0.9)
        lf = rg.nn.CrossEntropyLoss()
        step = rg.train.compile_step(net, lf, opt)
        losses = []
        for i in range(steps):
            xb, yb = x[i * batch : (i + 1) * batch], y[i * batch : (i + 1) * batch]
            if compiled:
                losses.append(step(xb, yb))
            else:
                opt.zero_grad()
                loss = lf(net(rg.tensor(xb)), rg.tensor(yb))
                loss.backward()
                opt.step()
                losses.append(float(loss.data))
        return losses, [p.data.copy() for p in net.parameters()], step
    finally:
        kernels.use("auto")


@pytest.mark.parametrize("dtype, rtol", [(np.float32, 1e-5), (np.float64, 1e-12)])
def test_training_with_the_kernels_agrees_with_the_numpy_twins(dtype, rtol):
    l1, p1, _ = _train("numpy", dtype)
    l2, p2, step = _train("numba", dtype)
    assert step.replays == 3
    # softmax's exp and sums may differ by an ulp; everything else is bitwise
    np.testing.assert_allclose(l2, l1, rtol=rtol)
    for a, b in zip(p1, p2):
        assert a.dtype == b.dtype == dtype
        np.testing.assert_allclose(b, a, rtol=rtol, atol=rtol * 1e-2)


@pytest.mark.parametrize("choice", ["numpy", "numba"])
def test_the_replay_is_bitwise_the_eager_step_with_either_kernels(choice):
    l1, p1, _ = _train(choice, np.float32, compiled=False)
    l2, p2, step = _train(choice, np.float32, compiled=True)
    assert l1 == l2 and step.replays == 3
    for a, b in zip(p1, p2):
        np.testing.assert_array_equal(a, b)


def test_online_learning_gives_the_same_bias_gradient_either_way():
    # batch 1: the bias gradient is the row itself (-0 stays -0), in both versions
    grads = []
    for choice in ("numpy", "numba"):
        kernels.use(choice)
        try:
            rg.manual_seed(0)
            lin = rg.nn.Sequential(rg.nn.Linear(3, 4), rg.nn.ReLU(), rg.nn.Linear(4, 2))
            out = lin(rg.tensor(np.array([[1.0, -2.0, 0.5]], np.float32)))
            out.sum().backward()
            grads.append([p.grad.copy() for p in lin.parameters()])
        finally:
            kernels.use("auto")
    for a, b in zip(*grads):
        assert np.array_equal(a.view(np.uint32), b.view(np.uint32))


OPTIMIZERS = {
    "adam": lambda p: rg.optim.Adam(p, lr=0.01),
    "adamw-amsgrad": lambda p: rg.optim.AdamW(p, lr=0.01, weight_decay=0.1, amsgrad=True),
    "rmsprop-centered-momentum": lambda p: rg.optim.RMSprop(
        p, lr=0.01, weight_decay=0.01, momentum=0.9, centered=True
    ),
}


@pytest.mark.parametrize("wide", [False, True])  # 3,000 / 90,000 parameters: flat / per array
@pytest.mark.parametrize("which", list(OPTIMIZERS))
def test_adam_and_rmsprop_train_bitwise_the_same_with_either_kernels(which, wide):
    params = []
    for choice in ("numpy", "numba"):
        kernels.use(choice)
        try:
            rng = np.random.default_rng(0)
            rg.manual_seed(0)
            h = 1200 if wide else 40
            net = rg.nn.Sequential(rg.nn.Linear(64, h), rg.nn.ReLU(), rg.nn.Linear(h, 10))
            opt = OPTIMIZERS[which](net.parameters())
            # MSE: no softmax (whose exp may differ by an ulp), so every step is bitwise
            step = rg.train.compile_step(net, rg.nn.MSELoss(), opt)
            for _ in range(4):
                y = rng.standard_normal((8, 10)).astype(np.float32)
                step(rng.standard_normal((8, 64)).astype(np.float32), y)
            params.append([p.data.copy() for p in net.parameters()])
            # the large net takes the per-parameter loop, the small one the flat group
            assert all((p.data.base is None) == wide for p in net.parameters())
        finally:
            kernels.use("auto")
    for a, b in zip(*params):
        assert np.array_equal(a.view(np.uint32), b.view(np.uint32))
