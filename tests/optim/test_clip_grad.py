"""rg.nn.utils: gradient clipping and parameter vectors, against PyTorch."""

from __future__ import annotations

import numpy as np
import pytest

import retrograd as rg
from retrograd import nn


def _params_with_grads(rng, torch, scale):
    shapes = [(3, 4), (4,), (2, 2)]
    grads = [rng.normal(size=s) * scale for s in shapes]
    ps = [nn.Parameter(np.zeros(s)) for s in shapes]
    tps = [torch.zeros(s, requires_grad=True) for s in shapes]
    for p, tp, g in zip(ps, tps, grads):
        p.grad = g.copy()
        tp.grad = torch.tensor(g)
    return ps, tps


@pytest.mark.parametrize("norm_type", [2.0, 1.0, 3.0, float("inf")])
@pytest.mark.parametrize("scale", [0.01, 10.0])  # below and above max_norm
def test_clip_grad_norm_matches_torch(torch, rng, norm_type, scale):
    ps, tps = _params_with_grads(rng, torch, scale)
    extra = nn.Parameter(np.ones(3))  # no grad: skipped
    total = rg.nn.utils.clip_grad_norm_(ps + [extra], max_norm=1.0, norm_type=norm_type)
    ttotal = torch.nn.utils.clip_grad_norm_(tps, max_norm=1.0, norm_type=norm_type)
    assert isinstance(total, float)
    assert total == pytest.approx(ttotal.item(), rel=1e-12)
    for p, tp in zip(ps, tps):
        np.testing.assert_allclose(p.grad, tp.grad.numpy(), rtol=1e-12)
    assert extra.grad is None


def test_clip_grad_norm_float32_and_single_tensor():
    w = nn.Parameter(rg.tensor([3.0, 4.0]))
    w.grad = np.array([3.0, 4.0], dtype=np.float32)
    assert rg.nn.utils.clip_grad_norm_(w, 0.5) == pytest.approx(5.0)
    assert w.grad.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(w.grad), 0.5, rtol=1e-5)
    assert rg.nn.utils.clip_grad_norm_([nn.Parameter(rg.zeros(2))], 1.0) == 0.0


def test_clip_grad_norm_nonfinite():
    w = nn.Parameter(rg.zeros(2))
    w.grad = np.array([np.inf, 1.0], dtype=np.float32)
    with pytest.raises(RuntimeError, match="total norm of order 2.0 .* inf"):
        rg.nn.utils.clip_grad_norm_([w], 1.0, error_if_nonfinite=True)
    with pytest.raises(ValueError, match="max_norm must be >= 0, got -1"):
        rg.nn.utils.clip_grad_norm_([w], -1)


def test_clip_grad_value_matches_torch(torch, rng):
    ps, tps = _params_with_grads(rng, torch, 2.0)
    rg.nn.utils.clip_grad_value_(ps, 0.7)
    torch.nn.utils.clip_grad_value_(tps, 0.7)
    for p, tp in zip(ps, tps):
        np.testing.assert_array_equal(p.grad, tp.grad.numpy())
    with pytest.raises(ValueError, match="clip_value must be >= 0"):
        rg.nn.utils.clip_grad_value_(ps, -1.0)


def test_parameters_vector_round_trip(torch):
    net = nn.Sequential(nn.Linear(3, 4, dtype="float64"), nn.Linear(4, 2, dtype="float64"))
    tnet = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Linear(4, 2))
    tnet.load_state_dict({k: torch.tensor(v) for k, v in net.state_dict().items()})
    vec = rg.nn.utils.parameters_to_vector(net.parameters())
    np.testing.assert_array_equal(
        vec.data, torch.nn.utils.parameters_to_vector(tnet.parameters()).detach().numpy()
    )
    rg.nn.utils.vector_to_parameters(vec * 2.0, net.parameters())
    np.testing.assert_array_equal(net[1].bias.data, 2 * tnet[1].bias.detach().numpy())
    with pytest.raises(ValueError, match="vec has 3 elements, the parameters have 26"):
        rg.nn.utils.vector_to_parameters(np.zeros(3), net.parameters())
