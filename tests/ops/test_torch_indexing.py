"""Indexing with PyTorch's semantics where it differs from NumPy, forward and gradient.

PyTorch applies integers as basic indexing before the advanced (array) indices; NumPy
counts an integer as an advanced index, so ``x[0, :, [1, 2]]`` on a (2, 3, 4) tensor
is (3, 2) in torch and (2, 3) in NumPy.
"""

from __future__ import annotations

import numpy as np
import pytest

import retrograd as rg

torch = pytest.importorskip("torch")


@pytest.fixture(autouse=True)
def _torch_default_float32():
    # Other tests may leave torch's default dtype at float64; compare with torch's default.
    old = torch.get_default_dtype()
    torch.set_default_dtype(torch.float32)
    yield
    torch.set_default_dtype(old)


MASK = [[True, False, True, False]] * 3
CASES = [
    "[0, :, [1, 2]]",
    "[None, 0, :, [1, 2]]",
    "[0, :, T([[1], [2]])]",
    "[T(1), :, [1, 2]]",
    "[0, ..., [1, 2]]",
    "[[1, 0], ..., 2]",
    "[1, [True, False, True]]",
    "[0, :, [1, 2], None]",
    "[0, [[0, 1], [1, 2]], 1:3]",
    "[0, M]",
    # where the two agree, kept as regression cases
    "[[0, 1], :, 0]",
    "[:, 0, [1, 2]]",
    "[0, [1, 2], [0, 3]]",
    "[[0, 1], 0, [1, 2]]",
    "[[0, 1], 1:, [2, 3]]",
    "[:, [0, 1], None, [1, 2]]",
    "[1, [0, 2], 1]",
    "[[0, 0, 1]]",  # repeated rows: their gradients add up
    "[:, [2, 2, 0], [3, 3, 3]]",
    "[1:, ::2, -1]",
]


@pytest.mark.parametrize("case", CASES)
def test_indexing_matches_torch_with_gradients(case):
    arr = np.arange(24.0).reshape(2, 3, 4) / 7
    x = rg.tensor(arr, requires_grad=True)
    xt = torch.tensor(arr, requires_grad=True)
    env_rg = {"x": x, "T": rg.tensor, "M": rg.tensor(np.array(MASK))}
    env_t = {"x": xt, "T": torch.tensor, "M": torch.tensor(MASK)}
    y = eval("x" + case, env_rg)  # noqa: S307 - fixed test expressions
    yt = eval("x" + case, env_t)  # noqa: S307
    assert y.shape == tuple(yt.shape), (case, y.shape, tuple(yt.shape))
    np.testing.assert_allclose(y.data, yt.detach().numpy())
    w = np.linspace(0.5, 2.0, y.numel()).reshape(y.shape)
    (y * rg.tensor(w)).sum().backward()
    (yt * torch.tensor(w)).sum().backward()
    np.testing.assert_allclose(x.grad, xt.grad.numpy())


def test_the_issue_example():
    assert rg.zeros(2, 3, 4)[0, :, [1, 2]].shape == (3, 2)
