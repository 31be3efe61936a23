"""Fixed-point correction: intermediate solver states and their weighted loss."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from test_fixedpoint import TanhCell, _contracting_w, _grads, _mixed_batch, _rel

import retrograd as rg
from retrograd.nn.utils import fixed_point_correction_loss, fixed_point_correction_weights


def test_weights_grow_geometrically_to_one():
    w = fixed_point_correction_weights(4, 0.8)
    np.testing.assert_allclose(w, [0.512, 0.64, 0.8, 1.0], rtol=1e-15)
    assert sum(w) == pytest.approx((1 - 0.8**4) / (1 - 0.8), rel=1e-14)
    assert all(a < b for a, b in zip(w, w[1:]))
    assert fixed_point_correction_weights(1) == [1.0]
    assert fixed_point_correction_weights(3, 1.0) == [1.0, 1.0, 1.0]


@pytest.mark.parametrize(
    "kwargs, exc, match",
    [
        ({"n_states": 0}, ValueError, "n_states must be an int >= 1, got 0"),
        ({"n_states": 2, "gamma": 0.0}, ValueError, r"gamma must be in \(0, 1\], got 0.0"),
        ({"n_states": 2, "gamma": 1.5}, ValueError, "gamma must be in"),
    ],
)
def test_bad_weights(kwargs, exc, match):
    with pytest.raises(exc, match=match):
        fixed_point_correction_weights(**kwargs)


def test_bad_loss_arguments():
    h = rg.ones(2, 3)
    with pytest.raises(TypeError, match="states must be a non-empty list of Tensors"):
        fixed_point_correction_loss(h, h, rg.nn.functional.mse_loss)
    with pytest.raises(TypeError, match="states must be a non-empty list"):
        fixed_point_correction_loss([], h, rg.nn.functional.mse_loss)
    with pytest.raises(TypeError, match="loss_fn must be callable"):
        fixed_point_correction_loss([h], h, "mse")
    with pytest.raises(ValueError, match="FixedPoint: n_states must be an int >= 1, got 0"):
        rg.nn.FixedPoint(lambda h, x: x)(h, n_states=0)


def _iterates(cell, x, steps):
    """The plain iteration's states h_1..h_steps from zeros, computed independently."""
    h = np.zeros((x.shape[0], cell.w.shape[0]))
    out = []
    for _ in range(steps):
        with rg.no_grad():
            h = cell(rg.tensor(h), rg.tensor(x)).data
        out.append(h)
    return out


@pytest.mark.parametrize("backward", ["rbp", "unrolled"])
def test_states_are_the_iterates_evenly_spaced_per_sample(rng, backward):
    cell = TanhCell(4, 6, _contracting_w(6, 0.9))
    x = _mixed_batch(rng)
    fp = rg.nn.FixedPoint(cell, tol=1e-10, max_iter=500, backward=backward)
    states = fp(rg.tensor(x), n_states=3)
    n = fp.last_stats["forward_iterations_per_sample"]
    assert len(states) == 3 and n.min() < n.max()
    its = _iterates(cell, x, int(n.max()))
    for j, s in enumerate(states, start=1):
        for b in range(5):
            t = -(-j * int(n[b]) // 3)  # ceil(j n / 3)
            np.testing.assert_array_equal(s.data[b], its[t - 1][b])
    # The last state is the fixed point the layer returns without n_states.
    np.testing.assert_array_equal(states[-1].data, fp(rg.tensor(x)).data)
    per = fp.last_stats["forward_iterations_per_sample"]
    np.testing.assert_array_equal(per, n)


def _implicit_grads_at(cell, x, h, c):
    """(dF/dtheta (h))^T (I - J(h)^T)^-1 c per sample, J = dF/dh at h (not a fixed point)."""
    w, u = cell.w.data, cell.u.data
    f = np.tanh(h @ w.T + x @ u.T + cell.b.data)
    d = 1 - f * f
    z = np.empty_like(c)
    for b in range(h.shape[0]):
        z[b] = np.linalg.solve(np.eye(len(w)) - (d[b][:, None] * w).T, c[b])
    dz = d * z
    return {"w": dz.T @ h, "u": dz.T @ x, "b": dz.sum(0), "x": dz @ u}


@pytest.mark.parametrize("solver", ["iter", "broyden"])
def test_intermediate_state_gets_the_implicit_gradient_at_that_state(rng, solver):
    cell = TanhCell(4, 6, _contracting_w(6, 0.9))
    fp = rg.nn.FixedPoint(cell, tol=1e-10, backward_tol=1e-13, max_iter=500, solver=solver)
    x = rg.tensor(rng.standard_normal((3, 4)), requires_grad=True)
    c = rng.standard_normal((3, 6))
    states = fp(x, n_states=4)
    h1 = states[0].data.copy()
    assert np.abs(h1 - states[-1].data).max() > 1e-3  # really an intermediate state
    (states[0] * rg.tensor(c)).sum().backward()
    want = _implicit_grads_at(cell, x.data, h1, c)
    for k, v in _grads(cell, x).items():
        assert _rel(v, want[k]) < 1e-9, k
    inter = fp.last_stats["intermediate"][0]
    assert inter["backward_converged"] and inter["backward_true_residual"] < 1e-10


def test_correction_loss_is_the_weighted_sum_and_the_last_term_is_exact(rng):
    cell = TanhCell(4, 6, _contracting_w(6, 0.9))
    fp = rg.nn.FixedPoint(cell, tol=1e-12, backward_tol=1e-13, max_iter=500)
    x = rg.tensor(rng.standard_normal((3, 4)), requires_grad=True)
    target = rg.tensor(rng.standard_normal((3, 6)))
    mse = rg.nn.functional.mse_loss
    states = fp(x, n_states=3)
    loss = fixed_point_correction_loss(states, target, mse, gamma=0.5)
    want = sum(w * float(mse(s, target).data) for w, s in zip([0.25, 0.5, 1.0], states))
    assert float(loss.data) == pytest.approx(want, rel=1e-14)
    loss.backward()
    total = {k: v.copy() for k, v in _grads(cell, x).items()}
    # The sum of each state's own gradient, weighted.
    acc = dict.fromkeys(total, 0.0)
    for w, j in zip([0.25, 0.5, 1.0], range(3)):
        cell.zero_grad()
        x.grad = None
        (mse(fp(x, n_states=3)[j], target) * w).backward()
        acc = {k: acc[k] + v for k, v in _grads(cell, x).items()}
    for k in total:
        np.testing.assert_allclose(total[k], acc[k], rtol=1e-12, atol=1e-15, err_msg=k)


@pytest.mark.parametrize("stop", ["sample", "batch"])
def test_gradcheck_through_intermediate_states_unrolled(rng, stop):
    """Under backward="unrolled" the states are recorded iterates: their gradient is the
    exact derivative, checked against finite differences in float64 (tol=0 runs exactly
    max_iter steps, so the spacing does not move with the perturbation)."""
    fp = rg.nn.FixedPoint(lambda h, x, w: (h @ w + x).tanh(), backward="unrolled", tol=0.0,
                          max_iter=7, on_nonconvergence="warn", stop=stop)  # fmt: skip
    x = rg.tensor(rng.standard_normal((2, 3)), requires_grad=True)
    w = rg.tensor(_contracting_w(3, 0.9, seed=1), requires_grad=True)
    target = rg.tensor(rng.standard_normal((2, 3)))

    def f(x, w):
        states = fp(x, w, n_states=3)
        return fixed_point_correction_loss(states, target, rg.nn.functional.mse_loss)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        assert rg.gradcheck(f, [x, w])
        picked = [d["forward_iterations_per_sample"] for d in fp.last_stats["intermediate"]]
    assert [p.tolist() for p in picked] in ([[3, 3], [5, 5]], [[3], [5]])


def test_jfb_state_is_the_parameter_vjp_at_that_state(rng):
    """Each state uses the layer's backward at that state: jfb's is (dF/dtheta(h_j))^T g."""
    cell = TanhCell(4, 6, _contracting_w(6, 0.9))
    fp = rg.nn.FixedPoint(cell, tol=1e-10, max_iter=500, backward="jfb")
    x = rg.tensor(rng.standard_normal((3, 4)), requires_grad=True)
    c = rng.standard_normal((3, 6))
    states = fp(x, n_states=2)
    (states[0] * rg.tensor(c)).sum().backward()
    got = {k: v.copy() for k, v in _grads(cell, x).items()}
    cell.zero_grad()
    x2 = rg.tensor(x.data.copy(), requires_grad=True)
    (cell(rg.tensor(states[0].data), x2) * rg.tensor(c)).sum().backward()
    for k, v in {"w": cell.w.grad, "u": cell.u.grad, "b": cell.b.grad, "x": x2.grad}.items():
        np.testing.assert_allclose(got[k], v, rtol=1e-12, atol=1e-15, err_msg=k)
