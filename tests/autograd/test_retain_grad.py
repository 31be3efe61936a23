"""Tensor.retain_grad and in-place fills inside a graph, against torch."""

import numpy as np
import pytest

import retrograd as rg

torch = pytest.importorskip("torch")


def test_retain_grad_keeps_a_non_leaf_gradient_and_accumulates():
    got = []
    for lib in (rg, torch):
        x = lib.tensor(np.array([1.0, 2.0, -1.0], np.float32), requires_grad=True)
        y = x * 2
        y.retain_grad()
        z = y.tanh()
        z.retain_grad()
        (y * z).sum().backward(retain_graph=True)
        (y * z).sum().backward()
        got.append([np.asarray(t.grad if lib is rg else t.grad.numpy()) for t in (x, y, z)])
        assert y.retains_grad and not x.retains_grad
    for a, b in zip(*got):
        np.testing.assert_allclose(a, b, rtol=1e-6)
        assert a.dtype == b.dtype


def test_retain_grad_on_the_root_and_without_requires_grad():
    x = rg.tensor([3.0], requires_grad=True)
    y = x * x
    y.retain_grad()
    y.backward(rg.tensor([2.0]))
    assert y.grad.tolist() == [2.0] and x.grad.tolist() == [12.0]
    other = (x * 3).sum()  # not retained: no .grad
    other.backward()
    assert other.grad is None
    with pytest.raises(RuntimeError, match="requires_grad=False"):
        rg.ones(2).retain_grad()


@pytest.mark.parametrize("op", ["zero_", "fill_"])
def test_fill_inside_a_graph_still_requires_grad_with_a_zero_gradient(op):
    got = []
    for lib in (rg, torch):
        x = lib.tensor([1.0, 2.0], requires_grad=True)
        y = x * 2
        getattr(y, op)(*([] if op == "zero_" else [3.0]))
        assert y.requires_grad
        (y * x).sum().backward()
        got.append(np.asarray(x.grad if lib is rg else x.grad.numpy()))
    np.testing.assert_allclose(got[0], got[1])
