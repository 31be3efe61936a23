"""Soft-target cross-entropy gives the probability target a gradient, as in PyTorch."""

from __future__ import annotations

import numpy as np
import pytest

import retrograd as rg

torch = pytest.importorskip("torch")


@pytest.mark.parametrize("shape", [(4, 3), (3,), (2, 3, 2, 2)])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("label_smoothing", [0.0, 0.2])
@pytest.mark.parametrize("weighted", [False, True])
def test_target_gradient_matches_torch(shape, reduction, label_smoothing, weighted):
    rng = np.random.default_rng(0)
    z = rng.standard_normal(shape)
    q = rng.random(shape)
    q /= q.sum(axis=0 if len(shape) == 1 else 1, keepdims=True)
    w = np.array([1.0, 2.0, 0.5]) if weighted else None
    a, b = rg.tensor(z, requires_grad=True), rg.tensor(q, requires_grad=True)
    at, bt = torch.tensor(z, requires_grad=True), torch.tensor(q, requires_grad=True)
    loss = rg.nn.functional.cross_entropy(
        a, b, weight=w, reduction=reduction, label_smoothing=label_smoothing
    )
    loss_t = torch.nn.functional.cross_entropy(
        at, bt, weight=None if w is None else torch.tensor(w), reduction=reduction,
        label_smoothing=label_smoothing,
    )  # fmt: skip
    g = np.linspace(0.5, 1.5, loss.numel()).reshape(loss.shape)
    (loss * rg.tensor(g)).sum().backward()
    (loss_t * torch.tensor(g)).sum().backward()
    np.testing.assert_allclose(loss.data, loss_t.detach().numpy(), rtol=1e-10)
    np.testing.assert_allclose(a.grad, at.grad.numpy(), rtol=1e-10, atol=1e-12)
    assert b.grad is not None
    np.testing.assert_allclose(b.grad, bt.grad.numpy(), rtol=1e-10, atol=1e-12)


def test_module_form_and_gradcheck():
    rng = np.random.default_rng(1)
    z = rg.tensor(rng.standard_normal((3, 4)), requires_grad=True)
    q = rg.tensor(rng.dirichlet(np.ones(4), 3), requires_grad=True)
    assert rg.gradcheck(lambda z, q: rg.nn.CrossEntropyLoss()(z, q), [z, q])
