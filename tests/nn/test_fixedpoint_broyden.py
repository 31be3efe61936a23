"""FixedPoint(solver="broyden"): limited-memory Broyden against independent references."""

from __future__ import annotations

import numpy as np
import pytest
from test_fixedpoint import (
    TanhCell,
    _contracting_w,
    _direct_grads,
    _grads,
    _mixed_batch,
    _rel,
    _row_result,
    _slow_cell,
)

import retrograd as rg


def _dense_broyden(G, x, tol, m, max_iter=1000, restart=10.0):
    """Good Broyden on g(x) = G(x) - x for ONE vector, written independently: the full
    inverse-Jacobian estimate H (starting at -I, back to -I after m updates, and when
    ||g|| exceeds ``restart`` times its smallest so far), Sherman-Morrison update,
    stopping when ||G(x) - x|| <= tol ||G(x)|| and returning G(x)."""
    n = x.size
    H = -np.eye(n)
    updates, best, restarts = 0, np.inf, 0
    x_prev = g_prev = None
    for k in range(1, max_iter + 1):
        gx = G(x)
        g = gx - x
        if np.linalg.norm(g) <= tol * np.linalg.norm(gx):
            return gx, k, restarts
        if x_prev is not None:
            dx, dg = x - x_prev, g - g_prev
            if updates == m:
                H, updates = -np.eye(n), 0
            H = H + np.outer(dx - H @ dg, dx @ H) / (dx @ H @ dg)
            updates += 1
        if np.linalg.norm(g) > restart * best:
            H, restarts = -np.eye(n), restarts + 1
        best = min(best, np.linalg.norm(g))
        x_prev, g_prev = x, g
        x = x - H @ g
    raise AssertionError("the reference did not converge")


class _Counted(rg.nn.Module):
    """The cell, counting its evaluations."""

    def __init__(self, cell):
        super().__init__()
        self.cell, self.calls = cell, 0

    def forward(self, h, x):
        self.calls += 1
        return self.cell(h, x)


@pytest.mark.parametrize("m", [3, 50])
def test_broyden_equals_an_independent_dense_broyden(rng, m):
    cell = _slow_cell(n=12, radius=0.95)
    x = rng.standard_normal((3, 8))
    fp = rg.nn.FixedPoint(cell, tol=1e-10, max_iter=500, solver="broyden", broyden_m=m)
    h = fp(rg.tensor(x)).data
    its = fp.last_stats["forward_iterations_per_sample"]
    for b in range(3):
        xb = rg.tensor(x[b : b + 1])

        def G(v, xb=xb):
            return cell(rg.tensor(v[None]), xb).data[0]

        want, k, _ = _dense_broyden(G, np.zeros(12), 1e-10, m)
        assert its[b] == k
        np.testing.assert_allclose(h[b], want, rtol=1e-9, atol=1e-11)


def test_broyden_restarts_a_wandering_sample_like_the_reference():
    """W of spectral radius 1.2 (tanh's saturation makes the map contract at the fixed
    point): one sample's Broyden residual grows past 10x its best and restarts; the
    iterates still equal the dense reference's, which restarts by the same rule."""
    cell = TanhCell(8, 16, _contracting_w(16, 1.2, seed=5), seed=5)
    x = np.random.default_rng(5).standard_normal((4, 8)) * 1.5
    fp = rg.nn.FixedPoint(cell, tol=1e-10, max_iter=3000, solver="broyden")
    h = fp(rg.tensor(x)).data
    its = fp.last_stats["forward_iterations_per_sample"]
    plain = rg.nn.FixedPoint(cell, tol=1e-12, max_iter=3000)
    np.testing.assert_allclose(h, plain(rg.tensor(x)).data, rtol=0, atol=1e-8)
    restarted = 0
    for b in range(4):
        xb = rg.tensor(x[b : b + 1])

        def G(v, xb=xb):
            return cell(rg.tensor(v[None]), xb).data[0]

        want, k, restarts = _dense_broyden(G, np.zeros(16), 1e-10, 20)
        restarted += restarts
        assert its[b] == k
        np.testing.assert_allclose(h[b], want, rtol=1e-8, atol=1e-10)
    assert restarted > 0
    assert its.max() * 3 < plain.last_stats["forward_iterations"]


def test_broyden_finds_the_fixed_point_of_plain_iteration_at_1e_12(rng):
    cell = _slow_cell(n=16, radius=0.9)
    x = rg.tensor(rng.standard_normal((4, 8)))
    ref = rg.nn.FixedPoint(cell, tol=1e-14, max_iter=20000)
    want = ref(x).data
    # Independently of the solvers: the reference is a fixed point of F to 1e-12.
    assert np.abs(cell(rg.tensor(want), x).data - want).max() < 1e-12
    fp = rg.nn.FixedPoint(cell, tol=1e-12, max_iter=500, solver="broyden")
    got = fp(x).data
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-10)
    st = fp.last_stats
    assert st["forward_converged"] and st["forward_residual"] <= 1e-12
    assert st["forward_iterations"] * 2 < ref.last_stats["forward_iterations"]


@pytest.mark.parametrize("radius", [0.9, 1.5])
def test_broyden_solves_a_linear_map_within_2n_steps(radius):
    """On F(h) = h A^T + b good Broyden terminates within 2n steps (Gay 1979; n + 1 is
    not guaranteed, random maps take the full 2n), i.e. 2n + 1 cell evaluations, and it
    solves a map that is not contracting (radius 1.5, where iteration diverges)."""
    n = 8
    r = np.random.default_rng(0)
    A = r.standard_normal((n, n))
    A *= radius / np.max(np.abs(np.linalg.eigvals(A)))
    b = r.standard_normal((3, n))
    fp = rg.nn.FixedPoint(lambda h, x: h @ rg.tensor(A.T) + x, tol=1e-11, max_iter=100,
                          solver="broyden", broyden_m=2 * n)  # fmt: skip
    h = fp(rg.tensor(b)).data
    want = np.linalg.solve(np.eye(n) - A, b.T).T
    np.testing.assert_allclose(h, want, rtol=0, atol=1e-9)
    assert fp.last_stats["forward_iterations_per_sample"].max() <= 2 * n + 1


@pytest.mark.parametrize("solver", ["broyden", "iter"])
def test_broyden_backward_solver_gives_the_exact_gradient(rng, solver):
    cell = TanhCell(4, 6, _contracting_w(6, 0.9))
    fp = rg.nn.FixedPoint(cell, tol=1e-12, max_iter=2000, solver=solver,
                          backward_solver="broyden")  # fmt: skip
    x = rg.tensor(rng.standard_normal((3, 4)), requires_grad=True)
    c = rng.standard_normal((3, 6))
    h = fp(x)
    (h * rg.tensor(c)).sum().backward()
    want = _direct_grads(cell, x.data, h.data, c)
    for k, v in _grads(cell, x).items():
        assert _rel(v, want[k]) < 1e-9, k
    assert fp.last_stats["backward_true_residual"] < 1e-10


def test_broyden_accelerates_forward_and_backward_on_a_slow_cell(rng):
    cell = _slow_cell(n=32, radius=0.99)
    x = rg.tensor(0.1 * rng.standard_normal((4, 8)))
    c = rg.tensor(rng.standard_normal((4, 32)))
    out = {}
    for solver in ("iter", "broyden"):
        counted = _Counted(cell)
        fp = rg.nn.FixedPoint(counted, tol=1e-8, max_iter=5000, solver=solver,
                              h0=np.zeros((4, 32)))  # fmt: skip
        cell.zero_grad()
        h = fp(x)
        assert counted.calls == fp.last_stats["forward_iterations"]
        (h * c).sum().backward()
        st = fp.last_stats
        out[solver] = (st["forward_iterations"], st["backward_iterations"], cell.w.grad.copy())
        assert st["backward_true_residual"] < 1e-6
    assert out["broyden"][0] * 2 < out["iter"][0] and out["broyden"][1] * 2 < out["iter"][1]
    assert _rel(out["broyden"][2], out["iter"][2]) < 1e-5


@pytest.mark.parametrize("m", [4, 20])
def test_broyden_sample_alone_equals_sample_in_batch(rng, m):
    """One hard sample does not change the easy samples' results or iteration counts."""
    cell = TanhCell(4, 6, _contracting_w(6, 0.95))
    x_all = _mixed_batch(rng)
    c = rng.standard_normal((5, 6))
    fp = rg.nn.FixedPoint(cell, tol=1e-9, max_iter=2000, solver="broyden", broyden_m=m)
    for i in range(5):
        h1, its1, g1 = _row_result(cell, fp, x_all, c, i, alone=True)
        hb, itsb, gb = _row_result(cell, fp, x_all, c, i, alone=False)
        np.testing.assert_allclose(hb, h1, rtol=1e-10, atol=1e-12)
        assert itsb == its1
        for n in g1:
            np.testing.assert_allclose(gb[n], g1[n], rtol=1e-8, atol=1e-11, err_msg=n)
    fp(rg.tensor(x_all))
    its = fp.last_stats["forward_iterations_per_sample"]
    assert its.min() < its.max()


def test_broyden_gradcheck():
    r = np.random.default_rng(5)
    fp = rg.nn.FixedPoint(lambda h, x, w: (h @ w + x).tanh(), solver="broyden",
                          tol=1e-13, backward_tol=1e-13, broyden_m=6)  # fmt: skip
    x = rg.tensor(_mixed_batch(r, n_in=3), requires_grad=True)
    w = rg.tensor(_contracting_w(3, 0.9, seed=1), requires_grad=True)
    assert rg.gradcheck(lambda x, w: fp(x, w) ** 2, [x, w])


def test_broyden_options_round_trip_through_model_files(tmp_path):
    net = rg.nn.RecurrentNet(3, 4, 2, solver="broyden", broyden_m=7, backward_solver="iter")
    y = net(rg.ones(2, 3))
    rg.save(net, tmp_path / "n.safetensors")
    s = rg.load(tmp_path / "n.safetensors").solver
    assert (s.solver, s.broyden_m, s.backward_solver) == ("broyden", 7, "iter")
    np.testing.assert_allclose(rg.load(tmp_path / "n.safetensors")(rg.ones(2, 3)).data, y.data,
                               rtol=1e-6)  # fmt: skip
