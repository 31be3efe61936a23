"""rg.linalg and the matrix composites: the cases the op table cannot hold (singular
matrices, errors, torch's shape rules). Smooth values and gradients are in the op table."""

from __future__ import annotations

import numpy as np
import pytest

import retrograd as rg
from gradcheck_registry import covers

torch = pytest.importorskip("torch")


@covers("Det")
def test_det_gradient_of_singular_matrices_is_the_adjugate():
    # torch 2.13 returns zeros for a rank n-1 matrix; the derivative is adj(A)^T, nonzero
    # (docs/conformance.md): checked against finite differences.
    for a in ([[1.0, 2.0], [2.0, 4.0]], [[0.0, 0.0, 0.0], [1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]):
        x = rg.tensor(a, dtype=rg.float64, requires_grad=True)
        assert rg.gradcheck(rg.det, [x])
        rg.det(x).backward()
        assert np.abs(x.grad).max() > 0.5
    x = rg.tensor([[1.0, 2.0], [2.0, 4.0]], dtype=rg.float64, requires_grad=True)
    rg.det(x).backward()
    np.testing.assert_allclose(x.grad, [[4.0, -2.0], [-2.0, 1.0]], atol=1e-12)
    z = rg.zeros((3, 3), dtype=rg.float64, requires_grad=True)
    rg.det(z).backward()
    assert np.all(z.grad == 0)  # rank 1 or less: adj(A) = 0


def test_singular_and_badly_shaped_inputs_raise():
    with pytest.raises(ValueError, match="singular"):
        rg.linalg.inv(rg.zeros(2, 2))
    with pytest.raises(ValueError, match="singular"):
        rg.linalg.solve(rg.zeros(2, 2), rg.ones(2))
    with pytest.raises(ValueError, match=r"square matrices.*\(2, 3\)"):
        rg.linalg.det(rg.ones(2, 3))
    with pytest.raises(ValueError, match="does not fit"):
        rg.linalg.solve(rg.eye(3), rg.ones(2))
    with pytest.raises(TypeError, match="floating-point"):
        rg.linalg.inv(rg.tensor([[1, 0], [0, 1]]))
    with pytest.raises(ValueError, match="ord must be"):
        rg.linalg.matrix_norm(rg.ones(2, 2), 3)
    with pytest.raises(ValueError, match="size 3"):
        rg.cross(rg.ones(2), rg.ones(2))
    with pytest.raises(ValueError, match="tensordot"):
        rg.tensordot(rg.ones(2, 3), rg.ones(4, 3), dims=([1], [0]))
    with pytest.raises(ValueError, match="addmm"):
        rg.addmm(rg.ones(3), rg.ones(2, 2), rg.ones(2, 2))
    with pytest.raises(ValueError, match="cdist"):
        rg.cdist(rg.ones(2, 3), rg.ones(2, 4))


def test_solve_vector_rule_follows_torch():
    rng = np.random.default_rng(0)
    a = rng.standard_normal((2, 3, 3)) + 3 * np.eye(3)
    for b in (rng.standard_normal((2, 3)), rng.standard_normal(3), rng.standard_normal((3, 2))):
        ours = rg.linalg.solve(rg.tensor(a), rg.tensor(b))
        theirs = torch.linalg.solve(torch.tensor(a), torch.tensor(b))
        assert ours.shape == tuple(theirs.shape)
        np.testing.assert_allclose(ours.data, theirs.numpy(), rtol=1e-10)


def test_addmm_with_beta_zero_ignores_nan_input():
    out = rg.addmm(rg.full((2, 2), float("nan")), rg.eye(2), rg.eye(2), beta=0)
    assert out.tolist() == [[1.0, 0.0], [0.0, 1.0]]


def test_cdist_gradient_at_zero_distance_is_zero_as_torch():
    p = [[0.0, 0.0], [1.0, 2.0]]
    x = rg.tensor(p, dtype=rg.float64, requires_grad=True)
    xt = torch.tensor(p, dtype=torch.float64, requires_grad=True)
    rg.cdist(x, x.detach()).sum().backward()
    torch.cdist(xt, xt.detach()).sum().backward()
    np.testing.assert_allclose(x.grad, xt.grad.numpy())
    assert np.all(np.isfinite(x.grad))


def test_linalg_namespace_and_norm_dispatch():
    for name in rg.linalg.__all__:
        assert callable(getattr(rg.linalg, name))
    a = rg.tensor([[1.0, -2.0], [3.0, 4.0]], dtype=rg.float64)
    at = torch.tensor(a.data)
    for kw in ({}, {"ord": "fro"}, {"ord": "nuc"}, {"ord": 2}, {"ord": -1}, {"dim": 0},
               {"ord": 1, "dim": (1, 0)}):  # fmt: skip
        np.testing.assert_allclose(
            rg.linalg.norm(a, **kw).data, torch.linalg.norm(at, **kw).numpy(), rtol=1e-12
        )
    assert rg.linalg.matmul is rg.matmul
