"""Bounded classification losses (GCE, SCE): values, gradients, dtypes and errors.

Values and input gradients are checked in float64 against a torch re-implementation of
the same formula (torch has neither loss built in) and by finite differences.
"""

from __future__ import annotations

import numpy as np
import pytest

import retrograd as rg
import retrograd.nn.functional as F

REDUCTIONS = ["mean", "sum", "none"]


def _torch_reduce(x, reduction):
    return x.mean() if reduction == "mean" else x.sum() if reduction == "sum" else x


def _torch_gce(torch, z, y, q, reduction):
    p_y = torch.softmax(z, dim=1).gather(1, y[:, None])[:, 0]
    return _torch_reduce((1 - p_y**q) / q, reduction)


def _torch_sce(torch, z, y, alpha, beta, A, reduction):
    ce = torch.nn.functional.cross_entropy(z, y, reduction="none")
    p = torch.softmax(z, dim=1)
    # RCE = -sum_k p_k log(onehot_k) with log 0 := A, log 1 = 0.
    log_label = torch.full_like(p, A).scatter(1, y[:, None], 0.0)
    rce = -(p * log_label).sum(dim=1)
    return _torch_reduce(alpha * ce + beta * rce, reduction)


def _compare(torch, ours, theirs, z_np, y_np):
    z = rg.tensor(z_np, requires_grad=True)
    zt = torch.tensor(z_np, requires_grad=True)
    yt = torch.tensor(y_np)
    out, out_t = ours(z, y_np), theirs(zt, yt)
    assert out.shape == tuple(out_t.shape)
    np.testing.assert_allclose(out.data, out_t.detach().numpy(), rtol=1e-10, atol=1e-12)
    g = np.linspace(0.5, 1.5, out.numel()).reshape(out.shape)
    out.backward(g)
    out_t.backward(torch.tensor(g))
    np.testing.assert_allclose(z.grad, zt.grad.numpy(), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("q", [0.7, 1.0, 0.1])
def test_gce_matches_torch_formula(torch, rng, reduction, q):
    z, y = rng.normal(size=(6, 4)) * 3, rng.integers(0, 4, 6)
    _compare(
        torch,
        lambda a, t: rg.nn.GeneralizedCrossEntropyLoss(q=q, reduction=reduction)(a, t),
        lambda a, t: _torch_gce(torch, a, t, q, reduction),
        z,
        y,
    )


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("alpha,beta,A", [(0.1, 1.0, -4.0), (1.0, 0.5, -9.0), (0.0, 1.0, -2.0)])
def test_sce_matches_torch_formula(torch, rng, reduction, alpha, beta, A):
    z, y = rng.normal(size=(5, 3)) * 3, rng.integers(0, 3, 5)
    _compare(
        torch,
        lambda a, t: rg.nn.SymmetricCrossEntropyLoss(alpha, beta, A, reduction)(a, t),
        lambda a, t: _torch_sce(torch, a, t, alpha, beta, A, reduction),
        z,
        y,
    )


@pytest.mark.parametrize(
    "fn",
    [
        lambda z, y: F.generalized_cross_entropy(z, y, q=0.7, reduction="none"),
        lambda z, y: F.symmetric_cross_entropy(z, y, 0.1, 1.0, -4.0, reduction="none"),
    ],
    ids=["gce", "sce"],
)
def test_gradcheck_float64(rng, fn):
    z = rg.tensor(rng.normal(size=(4, 5)), requires_grad=True)
    y = rng.integers(0, 5, 4)
    assert rg.gradcheck(lambda a: fn(a, y), [z])


def test_known_values_and_limits(rng):
    z = rng.normal(size=(8, 4))
    y = rng.integers(0, 4, 8)
    p = np.exp(z - z.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    p_y = p[np.arange(8), y]
    # q = 1: the mean absolute error of the probabilities, 1 - p_y.
    gce1 = F.generalized_cross_entropy(rg.tensor(z), y, q=1.0, reduction="none").data
    np.testing.assert_allclose(gce1, 1 - p_y, rtol=1e-12)
    # q -> 0: cross-entropy.
    gce0 = F.generalized_cross_entropy(rg.tensor(z), y, q=1e-6, reduction="none").data
    np.testing.assert_allclose(gce0, -np.log(p_y), rtol=1e-4)
    # alpha = 1, beta = 0: plain cross-entropy.
    sce = F.symmetric_cross_entropy(rg.tensor(z), y, 1.0, 0.0, reduction="none").data
    ce = F.cross_entropy(rg.tensor(z), rg.tensor(y), reduction="none").data
    np.testing.assert_allclose(sce, ce, rtol=1e-12)


def test_bounded_where_cross_entropy_is_not():
    # A confidently "wrong" label: CE is huge, GCE stays below 1/q and RCE below -A.
    z = rg.tensor(np.array([[50.0, -50.0]]))
    y = np.array([1])
    assert F.cross_entropy(z, rg.tensor(y)).item() > 99
    assert F.generalized_cross_entropy(z, y, q=0.7).item() <= 1 / 0.7
    assert F.symmetric_cross_entropy(z, y, alpha=0.0, beta=1.0).item() <= 4.0 + 1e-12


@pytest.mark.parametrize(
    "loss", [rg.nn.GeneralizedCrossEntropyLoss(), rg.nn.SymmetricCrossEntropyLoss()]
)
def test_float32_stays_float32(rng, loss):
    z = rg.tensor(rng.normal(size=(3, 4)).astype(np.float32), requires_grad=True)
    out = loss(z, np.array([0, 3, 1]))
    assert out.dtype == np.float32
    out.backward()
    assert z.grad.dtype == np.float32
    assert np.isfinite(z.grad).all()


def test_extreme_logits_are_finite():
    z = rg.tensor(np.array([[1e4, -1e4, 0.0]]), requires_grad=True)
    for loss in (rg.nn.GeneralizedCrossEntropyLoss(), rg.nn.SymmetricCrossEntropyLoss()):
        z.grad = None
        out = loss(z, np.array([1]))
        out.backward()
        assert np.isfinite(out.item()) and np.isfinite(z.grad).all()


def test_trains_a_network():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(120, 2)).astype(np.float32)
    y = (X[:, 0] + X[:, 1] > 0).astype(np.int64)
    for loss in (rg.nn.GeneralizedCrossEntropyLoss(), rg.nn.SymmetricCrossEntropyLoss()):
        rg.manual_seed(0)
        net = rg.nn.Sequential(rg.nn.Linear(2, 8), rg.nn.ReLU(), rg.nn.Linear(8, 2))
        opt = rg.optim.Adam(net.parameters(), lr=0.05)
        h = rg.train.fit(net, loss, opt, (X, y), epochs=20, batch_size=32, verbose=0)
        assert h["accuracy"][-1] > 0.9


@pytest.mark.parametrize(
    "call,match",
    [
        (lambda: rg.nn.GeneralizedCrossEntropyLoss(q=0.0), "q must be in"),
        (lambda: rg.nn.GeneralizedCrossEntropyLoss(q=1.5), "q must be in"),
        (lambda: rg.nn.SymmetricCrossEntropyLoss(alpha=-1), "alpha must be >= 0"),
        (lambda: rg.nn.SymmetricCrossEntropyLoss(A=1.0), "A must be a negative"),
        (lambda: rg.nn.GeneralizedCrossEntropyLoss(reduction="avg"), "reduction"),
        (
            lambda: F.generalized_cross_entropy(rg.zeros(2, 3), np.array([0, 3])),
            "class 3, expected labels in 0..2",
        ),
        (
            lambda: F.generalized_cross_entropy(rg.zeros(2, 3), np.array([0.0, 1.0])),
            "integer class indices",
        ),
        (lambda: F.symmetric_cross_entropy(rg.zeros(3), np.array([0])), r"\(N, C\) logits"),
        (lambda: F.symmetric_cross_entropy(rg.zeros(2, 3), np.array([0])), "1 labels for 2"),
    ],
)
def test_errors_name_the_argument(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_exported():
    assert rg.nn.GeneralizedCrossEntropyLoss is not None
    assert "SymmetricCrossEntropyLoss" in rg.nn.losses.__all__
    assert callable(rg.nn.functional.generalized_cross_entropy)
