"""Linear's products use ``np.dot``: for 2-D operands the same bits as ``@``."""

from __future__ import annotations

import numpy as np
import pytest

import retrograd as rg

SHAPES = [(1, 64, 32), (1, 32, 10), (3, 5, 7), (16, 64, 32), (40, 300, 200), (128, 784, 256)]


def _bits(a):
    return np.ascontiguousarray(a).view(np.uint8)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("m, k, n", SHAPES)
def test_dot_gives_the_bits_of_matmul_for_linears_products(m, k, n, dtype):
    rng = np.random.default_rng(m * k + n)
    x = rng.standard_normal((m, k)).astype(dtype)
    w = rng.standard_normal((n, k)).astype(dtype)
    g = rng.standard_normal((m, n)).astype(dtype)
    xs = rng.standard_normal((k, m)).astype(dtype).T  # a transposed (strided) input
    for a, b in [(x, w.T), (g, w), (g.T, x), (xs, w.T), (g.T, xs)]:
        assert np.array_equal(_bits(np.dot(a, b)), _bits(a @ b))


@pytest.mark.parametrize("batch", [1, 7])
def test_linear_forward_and_vjp_equal_the_matmul_formulas(batch):
    rng = np.random.default_rng(batch)
    x = rg.tensor(rng.standard_normal((batch, 6)).astype(np.float32), requires_grad=True)
    lin = rg.nn.Linear(6, 4)
    out = lin(x)
    w, b = lin.weight.data, lin.bias.data
    assert np.array_equal(_bits(out.data), _bits(x.data @ w.T + b))
    g = rng.standard_normal((batch, 4)).astype(np.float32)
    out.backward(rg.tensor(g))
    assert np.array_equal(_bits(x.grad), _bits(g @ w))
    assert np.array_equal(_bits(lin.weight.grad), _bits(g.T @ x.data))
