"""rg.nn.utils.jacobian_regularization: the Hutchinson estimate of ||J||_F^2."""

from __future__ import annotations

import numpy as np
import pytest

import retrograd as rg
from retrograd.autograd.functional import jacobian
from retrograd.nn.utils import jacobian_regularization


def _setup(rng, batch=3, n=4):
    w = rg.tensor(rng.standard_normal((n, n)) * 0.5, requires_grad=True)
    h = rg.tensor(rng.standard_normal((batch, n)), requires_grad=True)
    return w, h


def _exact(w, h):
    """||J||_F^2 of h -> tanh(h W^T) over the whole batch, from the full Jacobian."""
    j = jacobian(lambda t: (t @ w.detach().T).tanh(), h.detach())
    return float((j.data**2).sum())


def test_estimate_converges_to_the_squared_frobenius_norm_summed_over_the_batch(rng):
    w, h = _setup(rng)
    rg.manual_seed(0)
    est = jacobian_regularization((h @ w.T).tanh(), h, n_vectors=4000).item()
    exact = _exact(w, h)
    # Per-sample norms are summed: the batch of 3 gives 3x a per-sample average.
    assert abs(est - exact) < 0.05 * exact


def test_exact_for_an_orthogonal_map_with_one_vector_in_expectation(rng):
    # f = h Q^T with Q orthogonal: ||v^T J||^2 = ||v||^2, whose mean is B * n exactly.
    q, _ = np.linalg.qr(rng.standard_normal((4, 4)))
    h = rg.tensor(rng.standard_normal((2, 4)), requires_grad=True)
    rg.manual_seed(1)
    est = jacobian_regularization(h @ rg.tensor(q.T), h, n_vectors=3)
    rg.manual_seed(1)
    vs = [rg.random.default_generator().standard_normal((2, 4)) for _ in range(3)]
    np.testing.assert_allclose(est.item(), np.mean([(v**2).sum() for v in vs]), rtol=1e-12)


def test_reproducible_under_manual_seed_and_differentiable(rng):
    w, h = _setup(rng)

    def reg(w):
        rg.manual_seed(7)
        with rg.enable_grad():  # gradcheck evaluates under no_grad
            return jacobian_regularization((h @ w.T).tanh(), h, n_vectors=2)

    assert reg(w).item() == reg(w).item()
    r = reg(w)
    r.backward()
    assert w.grad is not None and np.isfinite(w.grad).all()
    # With the draws fixed the estimate is a smooth function of W: check its gradient.
    assert rg.gradcheck(reg, [w.detach().numpy().copy()])


def test_bad_input():
    h = rg.tensor(np.ones((2, 3)))
    with pytest.raises(ValueError, match="h .* does not require grad"):
        jacobian_regularization(h * 2, h)
    h = rg.tensor(np.ones((2, 3)), requires_grad=True)
    with pytest.raises(ValueError, match="n_vectors"):
        jacobian_regularization(h * 2, h, n_vectors=0)
    with pytest.raises(TypeError, match="f_out"):
        jacobian_regularization(np.ones(3), h)
    with rg.no_grad():
        out = h * 2
    with pytest.raises(ValueError, match="f_out"):
        jacobian_regularization(out, h)
