"""rg.gradcheck itself: both modes pass correct VJPs and catch, and locate, wrong ones."""

from __future__ import annotations

import numpy as np
import pytest

import retrograd as rg
from retrograd.autograd.function import Function


class BrokenSquare(Function):
    """x**2 whose VJP is wrong at flat element 2 only (defined here, so the meta-test
    ignores it: its module is not part of the retrograd package)."""

    def forward(self, a):
        self.a = a
        return a * a

    def backward(self, g):
        grad = 2 * self.a * g
        grad.reshape(-1)[2] += g.reshape(-1)[2]  # d/dx_2 claimed as 2 x_2 + 1
        return (grad,)


def broken_square(x):
    return BrokenSquare.apply(x)


def test_full_jacobian_mode_passes_a_correct_vjp():
    x = np.random.default_rng(0).standard_normal((3, 4))
    w = np.random.default_rng(1).standard_normal((4, 2))
    assert rg.gradcheck(lambda a, b: (a @ b).tanh(), [x, w], mode="full") is True


def test_projection_mode_passes_a_correct_vjp():
    x = np.random.default_rng(0).standard_normal((20, 30))
    assert rg.gradcheck(lambda a: a.softmax(axis=1) * a, [x], mode="projection") is True


def test_auto_mode_handles_large_inputs():
    x = np.random.default_rng(0).standard_normal(400)  # above the full-Jacobian limit
    assert rg.gradcheck(lambda a: (a.exp() * a).sum(), [x]) is True


def test_full_mode_names_the_input_and_the_worst_element():
    c = np.ones((2, 3))
    x = np.random.default_rng(0).uniform(1, 2, (2, 3))
    with pytest.raises(rg.GradcheckError) as info:
        rg.gradcheck(lambda k, a: k * broken_square(a), [rg.tensor(c), x], mode="full")
    msg = str(info.value)
    assert "input 1" in msg
    # Flat element 2 of a (2, 3) input is (0, 2); its own output element is the same.
    assert "input 1 element (0, 2)" in msg and "output element (0, 2)" in msg


def test_projection_mode_also_locates_the_worst_element():
    x = np.random.default_rng(0).uniform(1, 2, (3, 100))
    with pytest.raises(rg.GradcheckError, match=r"weights element \(0, 2\)"):
        rg.gradcheck(broken_square, [x], mode="projection", names=["weights"])


def test_gradcheck_error_is_an_assertion_error():
    assert issubclass(rg.GradcheckError, AssertionError)
    assert issubclass(rg.GradcheckError, rg.RetrogradError)


def test_refuses_float32_unless_told_otherwise():
    x32 = np.ones(3, np.float32)
    with pytest.raises(TypeError, match="float64"):
        rg.gradcheck(lambda a: a * 2.0, [x32])
    with pytest.raises(TypeError, match="float64"):
        rg.gradcheck(lambda a: a * 2.0, [rg.tensor(x32, requires_grad=True)])
    assert rg.gradcheck(lambda a: a * 2.0, [x32], eps=1e-2, check_dtype=False)


def test_constants_pass_through_and_inputs_are_not_modified():
    x = np.array([1.0, 2.0])
    before = x.copy()
    assert rg.gradcheck(lambda a, p, s: (a**p) * s, [x, 3.0, rg.tensor(np.ones(2))])
    np.testing.assert_array_equal(x, before)


def test_argument_errors():
    with pytest.raises(ValueError, match="no input requires a gradient"):
        rg.gradcheck(lambda a: a * 2.0, [rg.tensor(np.ones(2))])
    with pytest.raises(ValueError, match="mode must be"):
        rg.gradcheck(lambda a: a * 2.0, [np.ones(2)], mode="exact")


def test_numpy_float_scalars_are_checked():
    assert rg.gradcheck(lambda a: a.exp(), [np.float64(0.5)])
