"""The Dropout primitive: mask drawn inside the op, from the global generator."""

from __future__ import annotations

import numpy as np
import pytest

import retrograd as rg
from gradcheck_registry import covers
from retrograd.ops.elementwise import Dropout


@covers("Dropout")
def test_gradcheck_with_a_fixed_mask():
    x = rg.tensor(np.random.default_rng(0).standard_normal((4, 5)), requires_grad=True)

    def f(x):
        rg.manual_seed(7)  # the same mask at every evaluation gradcheck makes
        return Dropout.apply(x, p=0.3) ** 2

    assert rg.gradcheck(f, [x])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_values_are_the_documented_mask(dtype):
    x = np.random.default_rng(1).standard_normal((6, 7)).astype(dtype)
    rg.manual_seed(3)
    t = rg.tensor(x, requires_grad=True)
    y = rg.nn.functional.dropout(t, 0.25, training=True)
    u = np.random.default_rng(3).random(x.shape, dtype=np.float32)
    mask = (u >= 0.25).astype(dtype) * np.asarray(1 / 0.75, dtype=dtype)
    assert type(y.grad_fn).__name__ == "Dropout" and y.dtype == dtype
    np.testing.assert_array_equal(y.data, x * mask)
    y.sum().backward()
    np.testing.assert_array_equal(t.grad, mask)


def test_an_explicit_generator_is_used_as_given():
    x = rg.ones(1000)
    a = rg.nn.functional.dropout(x, 0.5, generator=np.random.default_rng(0))
    b = rg.nn.functional.dropout(x, 0.5, generator=np.random.default_rng(0))
    np.testing.assert_array_equal(a.data, b.data)
    assert 300 < int((a.data == 0).sum()) < 700
