"""rg.optim.ClippedOptimizer: clips the joint gradient norm, forwards everything else."""

from __future__ import annotations

import numpy as np
import pytest

import retrograd as rg
from retrograd.optim import ClippedOptimizer


def test_clipped_optimizer_bounds_the_step():
    w = rg.nn.Parameter(rg.tensor(np.zeros(4, dtype=np.float32)))
    opt = ClippedOptimizer(rg.optim.SGD([w], lr=1.0), max_norm=0.5)
    w.grad = np.full(4, 10.0, dtype=np.float32)
    opt.step()
    np.testing.assert_allclose(np.linalg.norm(w.data), 0.5, rtol=1e-4)
    opt.zero_grad()
    assert w.grad is None or not np.any(w.grad)
    assert opt.param_groups[0]["lr"] == 1.0
    with pytest.raises(ValueError, match="max_norm must be > 0"):
        ClippedOptimizer(rg.optim.SGD([w], lr=1.0), 0.0)
