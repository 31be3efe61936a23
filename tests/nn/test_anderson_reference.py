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
    acc = _Anderson(rows, m, beta, 1e-8, restart=2.0)
    h = np.zeros((rows, d))
    ref = h.copy()
    hist: list = [([], []) for _ in range(rows)]
    best = np.full(rows, np.inf)
    active = np.ones(rows, dtype=bool)
    for _ in range(20):  # more steps than m: the history window slides
        h = acc(h, np.tanh(h @ W.T + U), active)
        g_ref = np.tanh(ref @ W.T + U)
        nxt = np.empty_like(ref)
        for r in range(rows):
            xs, gs = hist[r]
            f = np.linalg.norm(g_ref[r] - ref[r])
            if f > 2.0 * best[r]:  # the restart rule: forget the history
                xs.clear(), gs.clear()
            best[r] = min(best[r], f)
            xs.append(ref[r].copy())
            gs.append(g_ref[r].copy())
            del xs[:-m], gs[:-m]
            nxt[r] = _reference(xs, gs, beta, 1e-8)
        ref = nxt
        np.testing.assert_allclose(h, ref, rtol=0, atol=1e-12)


def test_a_wandering_sample_restarts_like_the_reference():
    """A W of spectral radius 1.2 (tanh's saturation makes the map contract at the fixed
    point): one sample's residual exceeds twice its best and its history is dropped; the
    iterates and iteration counts still equal a direct implementation of the same rule."""
    from test_fixedpoint import TanhCell, _contracting_w

    import retrograd as rg

    cell = TanhCell(8, 16, _contracting_w(16, 1.2, seed=5), seed=5)
    x = np.random.default_rng(5).standard_normal((4, 8)) * 1.5
    fp = rg.nn.FixedPoint(cell, tol=1e-10, max_iter=3000, solver="anderson")
    h = fp(rg.tensor(x)).data
    its = fp.last_stats["forward_iterations_per_sample"]
    restarts = 0
    for r in range(4):
        v, xs, gs, best = np.zeros(16), [], [], np.inf
        for k in range(1, 3001):  # noqa: B007 (read after the loop)
            g = cell(rg.tensor(v[None]), rg.tensor(x[r : r + 1])).data[0]
            f = np.linalg.norm(g - v)
            if f <= 1e-10 * np.linalg.norm(g):
                break
            if f > 2.0 * best:
                xs.clear(), gs.clear()
                restarts += 1
            best = min(best, f)
            xs.append(v), gs.append(g)
            del xs[:-5], gs[:-5]
            v = _reference(xs, gs, 1.0, 1e-8)
        assert its[r] == k
        np.testing.assert_allclose(h[r], g, rtol=1e-8, atol=1e-10)
    assert restarts > 0
