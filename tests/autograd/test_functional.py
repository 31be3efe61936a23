"""The functional API: rg.grad, rg.value_and_grad, rg.vjp."""

from __future__ import annotations

import numpy as np
import pytest

import retrograd as rg


def test_grad_of_a_scalar_function():
    x = np.array([0.5, -1.0, 2.0])
    g = rg.grad(lambda t: (t.tanh() * t).sum())(x)
    expected = np.tanh(x) + x * (1 - np.tanh(x) ** 2)
    np.testing.assert_allclose(g, expected, rtol=1e-12)
    assert isinstance(g, np.ndarray) and g.dtype == np.float64


def test_grad_argnums_and_value_and_grad():
    def f(a, b, scale):
        return ((a @ b) * scale).sum()

    a = np.array([[1.0, 2.0], [3.0, 4.0]])
    b = np.array([[0.5], [-1.0]])
    value, (ga, gb) = rg.value_and_grad(f, argnums=(0, 1))(a, b, 3.0)
    assert isinstance(value, rg.Tensor) and not value.requires_grad
    assert value.item() == pytest.approx(((a @ b) * 3.0).sum())
    np.testing.assert_allclose(ga, 3.0 * np.ones((2, 1)) @ b.T)
    np.testing.assert_allclose(gb, 3.0 * a.T @ np.ones((2, 1)))
    np.testing.assert_allclose(rg.grad(f, argnums=1)(a, b, 3.0), gb)


def test_grad_returns_tensors_for_tensor_arguments_and_leaves_them_untouched():
    x = rg.tensor(np.array([1.0, 2.0]), requires_grad=True)
    g = rg.grad(lambda t: (t * t).sum())(x)
    assert isinstance(g, rg.Tensor)
    np.testing.assert_array_equal(g.data, [2.0, 4.0])
    assert x.grad is None


def test_grad_results_are_owned_writable_arrays_in_the_input_dtype():
    f = lambda a, b: (a + b).sum()  # Add hands one broadcast view to both inputs
    ga, gb = rg.grad(f, argnums=(0, 1))(np.ones(3, np.float32), np.ones(3, np.float32))
    assert ga.dtype == gb.dtype == np.float32
    assert ga.flags.writeable and gb.flags.writeable
    assert not np.shares_memory(ga, gb)


def test_grad_of_an_unused_argument_is_zero():
    g = rg.grad(lambda a, b: (rg.tensor(a) * 2.0).sum(), argnums=1)(np.ones(2), np.ones(3))
    np.testing.assert_array_equal(g, np.zeros(3))


def test_grad_works_inside_no_grad():
    with rg.no_grad():
        g = rg.grad(lambda t: (t * t).sum())(np.array([3.0]))
    np.testing.assert_array_equal(g, [6.0])


def test_grad_errors():
    with pytest.raises(ValueError, match="one-element"):
        rg.grad(lambda t: t * 2.0)(np.ones(3))
    with pytest.raises(TypeError, match="must return a Tensor"):
        rg.grad(lambda t: 1.0)(np.ones(3))
    with pytest.raises(TypeError, match="floating point"):
        rg.grad(lambda t: t.sum())(np.arange(3))
    with pytest.raises(ValueError, match="argnums 2"):
        rg.grad(lambda a, b: a.sum(), argnums=2)(np.ones(1), np.ones(1))


def test_vjp_matches_the_jacobian(torch):
    x = np.array([[0.2, -0.4, 1.5], [1.0, 0.3, -2.0]])
    w = np.array([[1.0, 2.0], [0.5, -1.0], [0.0, 3.0]])
    out, back = rg.vjp(lambda a, b: (a @ b).sigmoid(), x, w)
    ct = np.array([[1.0, -2.0], [0.5, 0.25]])
    gx, gw = back(ct)
    tx = torch.tensor(x, requires_grad=True)
    tw = torch.tensor(w, requires_grad=True)
    ty = (tx @ tw).sigmoid()
    ty.backward(torch.tensor(ct))
    np.testing.assert_allclose(out.data, ty.detach().numpy(), rtol=1e-12)
    np.testing.assert_allclose(gx, tx.grad.numpy(), rtol=1e-12)
    np.testing.assert_allclose(gw, tw.grad.numpy(), rtol=1e-12)
    # The function can be pulled back again with another cotangent, independently.
    gx2, _ = back(2 * ct)
    np.testing.assert_allclose(gx2, 2 * gx, rtol=1e-12)
    with pytest.raises(ValueError, match="cotangent has shape"):
        back(np.ones(3))
