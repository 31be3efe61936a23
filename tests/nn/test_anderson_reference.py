"""Anderson mixing of FixedPoint against a direct, row-by-row implementation."""

from __future__ import annotations

import numpy as np
import pytest

from retrograd.nn.fixedpoint import _Anderson


def _reference(xs: list, gs: list, beta: float, lam: float) -> np.ndarray:
    """One row: the last len(xs) pairs, alpha from the regularised Gram matrix directly."""
    X, G = np.array(xs), np.array(gs)
    R = G - X
    H = R @ R.T
    n = len(xs)
    s = np.trace(H) / n
    w = np.linalg.solve(H + lam * (s if s > 0 else 1.0) * np.eye(n), np.ones(n))
    alpha = w / w.sum()
    return alpha @ (beta * G + (1 - beta) * X)


@pytest.mark.parametrize("beta", [1.0, 0.6])
@pytest.mark.parametrize("m", [1, 3, 5])
def test_iterates_equal_a_direct_implementation(beta, m):
    rng = np.random.default_rng(3)
    rows, d = 4, 7
    W = rng.standard_normal((d, d)) * 0.9 / np.sqrt(d)
    U = rng.standard_normal((rows, d))
    acc = _Anderson(rows, m, beta, 1e-8)
    h = np.zeros((rows, d))
    ref = h.copy()
    hist: list = [([], []) for _ in range(rows)]
    active = np.ones(rows, dtype=bool)
    for _ in range(20):  # more steps than m: the history window slides
        h = acc(h, np.tanh(h @ W.T + U), active)
        g_ref = np.tanh(ref @ W.T + U)
        nxt = np.empty_like(ref)
        for r in range(rows):
            xs, gs = hist[r]
            xs.append(ref[r].copy())
            gs.append(g_ref[r].copy())
            del xs[:-m], gs[:-m]
            nxt[r] = _reference(xs, gs, beta, 1e-8)
        ref = nxt
        np.testing.assert_allclose(h, ref, rtol=0, atol=1e-12)
