"""FixedPoint / RecurrentNet: recurrent backprop (Almeida-Pineda) against exact solves."""

from __future__ import annotations

import json
import sys
import tracemalloc
import warnings

import numpy as np
import pytest

import retrograd as rg
from gradcheck_registry import covers

TIGHT = dict(tol=1e-14, backward_tol=1e-14, max_iter=2000, backward_max_iter=2000)


class TanhCell(rg.nn.Module):
    """F(h, x) = tanh(h W^T + x U^T + b): contracting when ||W|| * max|tanh'| < 1."""

    def __init__(self, n_in, n, w, dtype=np.float64, seed=0):
        super().__init__()
        r = np.random.default_rng(seed)
        self.w = rg.nn.Parameter(np.asarray(w, dtype=dtype))
        self.u = rg.nn.Parameter(r.standard_normal((n, n_in)).astype(dtype) * 0.5)
        self.b = rg.nn.Parameter(r.standard_normal(n).astype(dtype) * 0.1)

    def state_shape(self, x):
        return (x.shape[0], self.w.shape[0])

    def forward(self, h, x):
        return (h @ self.w.T + x @ self.u.T + self.b).tanh()


def _contracting_w(n, radius, seed=0, dtype=np.float64):
    w = np.random.default_rng(seed).standard_normal((n, n))
    return (w * radius / np.max(np.abs(np.linalg.eigvals(w)))).astype(dtype)


def _direct_grads(cell, x, h, g):
    """Exact gradients by the direct solve (I - J_b^T) z_b = g_b, J built with numpy."""
    w, u = cell.w.data, cell.u.data
    d = 1 - h * h  # tanh' at the fixed point
    z = np.empty_like(g)
    for b in range(h.shape[0]):
        jac = d[b][:, None] * w  # J_b = dF/dh = diag(1 - h^2) W
        z[b] = np.linalg.solve(np.eye(len(w)) - jac.T, g[b])
    dz = d * z
    return {"w": dz.T @ h, "u": dz.T @ x, "b": dz.sum(0), "x": dz @ u}


def _grads(cell, x):
    return {"w": cell.w.grad, "u": cell.u.grad, "b": cell.b.grad, "x": x.grad}


def _rel(a, b):
    return np.linalg.norm(a - b) / np.linalg.norm(b)


def _setup(rng, n_in=4, n=6, batch=3, radius=0.8, **kw):
    cell = TanhCell(n_in, n, _contracting_w(n, radius))
    fp = rg.nn.FixedPoint(cell, **{**TIGHT, **kw})
    x = rg.tensor(rng.standard_normal((batch, n_in)), requires_grad=True)
    c = rng.standard_normal((batch, n))
    return cell, fp, x, c


@pytest.mark.parametrize("method", ["rbp", "cg"])
def test_gradient_equals_direct_solve(rng, method):
    cell, fp, x, c = _setup(rng, backward=method)
    h = fp(x)
    (h * rg.tensor(c)).sum().backward()
    want = _direct_grads(cell, x.data, h.data, c)
    for k, v in _grads(cell, x).items():
        assert _rel(v, want[k]) < 1e-8, k
    st = fp.last_stats
    assert st["forward_converged"] and st["backward_converged"]
    assert st["backward_true_residual"] < 1e-10


def test_rbp_matches_central_finite_differences(rng):
    cell, fp, x, c = _setup(rng, n=4, batch=2)

    def loss():
        with rg.no_grad():
            return float((fp(x).data * c).sum())

    (fp(x) * rg.tensor(c)).sum().backward()
    eps = 1e-5
    for p in (cell.w, cell.u, cell.b):
        num = np.empty_like(p.data)
        flat, nflat = p.data.reshape(-1), num.reshape(-1)
        for i in range(flat.size):
            old = flat[i]
            flat[i] = old + eps
            lp = loss()
            flat[i] = old - eps
            lm = loss()
            flat[i] = old
            nflat[i] = (lp - lm) / (2 * eps)
        assert _rel(p.grad, num) < 1e-6


@pytest.mark.parametrize("damping", [1.0, 0.7])
def test_neumann_equals_bptt_from_fixed_point(rng, damping):
    k = 7
    cell, fp, x, c = _setup(rng, backward="neumann", backward_max_iter=k, damping=damping)
    h = fp(x)
    (h * rg.tensor(c)).sum().backward()
    ours = {n: v.copy() for n, v in _grads(cell, x).items()}
    assert fp.last_stats["backward_iterations"] == k
    # BPTT: k recorded damped steps starting from the (constant) fixed point.
    cell.zero_grad()
    x.grad = None
    s = rg.tensor(h.data.copy())
    for _ in range(k):
        s = (1 - damping) * s + damping * cell(s, x) if damping != 1.0 else cell(s, x)
    (s * rg.tensor(c)).sum().backward()
    for n, v in _grads(cell, x).items():
        assert _rel(ours[n], v) < 1e-10, n
    # and the truncation really is truncated: it differs from the exact gradient.
    want = _direct_grads(cell, x.data, h.data, c)
    assert _rel(ours["w"], want["w"]) > 1e-6


def _bptt(cell, x, steps, damping):
    """``steps`` recorded damped iterations of ``cell`` from zeros (plain engine BPTT)."""
    s = rg.zeros(x.shape[0], cell.w.shape[0], dtype=np.float64)
    for _ in range(steps):
        s = (1 - damping) * s + damping * cell(s, x)
    return s


def test_unrolled_equals_engine_bptt(rng):
    cell, fp, x, c = _setup(rng, backward="unrolled", tol=1e-10, damping=0.9, stop="batch")
    h = fp(x)
    (h * rg.tensor(c)).sum().backward()
    steps = fp.last_stats["forward_iterations"]
    ours = {n: v.copy() for n, v in _grads(cell, x).items()}
    cell.zero_grad()
    x.grad = None
    s = _bptt(cell, x, steps, 0.9)
    np.testing.assert_array_equal(s.data, h.data)
    (s * rg.tensor(c)).sum().backward()
    for n, v in _grads(cell, x).items():
        np.testing.assert_allclose(ours[n], v, rtol=1e-12, atol=1e-14, err_msg=n)
    # unrolled BPTT from zeros is close to (not equal to) the implicit gradient
    want = _direct_grads(cell, x.data, h.data, c)
    assert _rel(ours["w"], want["w"]) < 1e-6


def test_unrolled_per_sample_equals_bptt_of_each_sample_alone(rng):
    # stop="sample": each sample is frozen when it converges, and the recorded iteration
    # backpropagates through exactly its own steps, as if it had been relaxed alone.
    cell, fp, x, c = _setup(rng, batch=4, backward="unrolled", tol=1e-10, damping=0.9)
    x.data[0] *= 0.01  # a nearly linear sample: converges in fewer steps
    h = fp(x)
    (h * rg.tensor(c)).sum().backward()
    per_sample = fp.last_stats["forward_iterations_per_sample"]
    assert per_sample.min() < per_sample.max() == fp.last_stats["forward_iterations"]
    ours = {n: v.copy() for n, v in _grads(cell, x).items()}
    cell.zero_grad()
    x.grad = None
    for i, steps in enumerate(per_sample):
        s = _bptt(cell, x[i : i + 1], int(steps), 0.9)
        np.testing.assert_allclose(s.data[0], h.data[i], rtol=1e-13, atol=1e-15)
        (s * rg.tensor(c[i : i + 1])).sum().backward()
    for n, v in _grads(cell, x).items():
        np.testing.assert_allclose(ours[n], v, rtol=1e-11, atol=1e-14, err_msg=n)


def _memory(backward, n_iter):
    """(numpy bytes held after forward, peak bytes traced during backward)."""
    rng = np.random.default_rng(1234)
    n, batch = 64, 32
    q, _ = np.linalg.qr(rng.standard_normal((n, n)))
    w = rg.tensor(0.995 * q, requires_grad=True)  # slow contraction: never converges exactly
    x = rg.tensor(0.01 * rng.standard_normal((batch, n)), requires_grad=True)
    fp = rg.nn.FixedPoint(
        lambda h, x, w: (h @ w + x).tanh(),
        tol=0.0,
        max_iter=n_iter,
        backward=backward,
        backward_max_iter=30,
        on_nonconvergence="warn",
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        tracemalloc.start()
        try:
            h = fp(x, w)
            # NumPy's own allocations only: the interpreter's free lists (tuples, dicts)
            # grow with any loop up to a fixed cap and would blur a small measurement.
            only_numpy = [tracemalloc.DomainFilter(True, np.lib.tracemalloc_domain)]
            snap = tracemalloc.take_snapshot().filter_traces(only_numpy)
            held = sum(st.size for st in snap.statistics("filename"))
            tracemalloc.reset_peak()
            base = tracemalloc.get_traced_memory()[0]
            h.sum().backward()
            peak = tracemalloc.get_traced_memory()[1] - base
        finally:
            tracemalloc.stop()
    assert fp.last_stats["forward_iterations"] == n_iter
    assert np.isfinite(w.grad).all()
    return held, peak


def test_memory_does_not_grow_with_iterations():
    (held_small, peak_small), (held_large, peak_large) = _memory("rbp", 10), _memory("rbp", 1000)
    assert held_large == held_small  # just h*: nothing of the relaxation is kept
    assert abs(peak_large - peak_small) < 0.1 * peak_small, (peak_small, peak_large)
    (u_held_small, u_peak_small), (u_held_large, u_peak_large) = (
        _memory("unrolled", 10),
        _memory("unrolled", 1000),
    )
    assert u_held_large > 20 * u_held_small and u_held_large > 20 * held_large
    assert u_peak_large > 2 * u_peak_small


def _non_contracting(rng, n=5, batch=2):
    q, _ = np.linalg.qr(rng.standard_normal((n, n)))
    w = (q * -np.linspace(1.5, 2.0, n)) @ q.T  # symmetric, eigenvalues in [-2, -1.5]
    cell = TanhCell(3, n, w)
    cell.b.data *= 0.1
    x = rg.tensor(0.05 * rng.standard_normal((batch, 3)), requires_grad=True)
    return cell, x, rng.standard_normal((batch, n))


def test_damped_solve_of_non_contracting_map(rng):
    cell, x, c = _non_contracting(rng)
    # Undamped, the forward relaxation oscillates: a ConvergenceError, not garbage.
    with pytest.raises(rg.ConvergenceError, match="iterations"):
        rg.nn.FixedPoint(cell, max_iter=200)(x)
    fp = rg.nn.FixedPoint(cell, damping=0.4, estimate_spectral_radius=True, **TIGHT)
    h = fp(x)
    assert fp.last_stats["spectral_radius"] > 1.2
    assert fp.last_stats["damped_spectral_radius"] < 0.5
    (h * rg.tensor(c)).sum().backward()
    want = _direct_grads(cell, x.data, h.data, c)
    for k, v in _grads(cell, x).items():
        assert _rel(v, want[k]) < 1e-8, k
    # Plain undamped RBP in backward cannot converge there.
    cell.zero_grad()
    bad = rg.nn.FixedPoint(
        cell, damping=0.4, backward_damping=1.0, tol=1e-12, backward_max_iter=300
    )
    with pytest.raises(rg.ConvergenceError, match=r"backward \(rbp\).*300 iterations"):
        (bad(x) * rg.tensor(c)).sum().backward()
    assert cell.w.grad is None  # nothing half-computed was written
    # Nor can an undamped Neumann series: it grows, and is refused rather than returned.
    neu = rg.nn.FixedPoint(
        cell, damping=0.4, backward_damping=1.0, tol=1e-12, backward="neumann",
        backward_max_iter=20,
    )  # fmt: skip
    with pytest.raises(rg.ConvergenceError, match="Neumann series is growing"):
        (neu(x) * rg.tensor(c)).sum().backward()
    # CG on the normal equations does not need contraction.
    cg = rg.nn.FixedPoint(cell, damping=0.4, backward="cg", **TIGHT)
    x.grad = None
    (cg(x) * rg.tensor(c)).sum().backward()
    assert _rel(cell.w.grad, want["w"]) < 1e-8


@covers("FixedPointSolve")
@pytest.mark.parametrize("method", ["rbp", "cg"])
def test_gradcheck_fixed_point(rng, method):
    fp = rg.nn.FixedPoint(
        lambda h, x, w, b: (h @ w + x + b).sigmoid(), backward=method, tol=1e-13, backward_tol=1e-13
    )
    x = rg.tensor(rng.standard_normal((2, 3)), requires_grad=True)
    w = rg.tensor(rng.standard_normal((3, 3)), requires_grad=True)
    b = rg.tensor(rng.standard_normal(3), requires_grad=True)
    assert rg.gradcheck(lambda x, w, b: fp(x, w, b) ** 2, [x, w, b])


def _mixed_batch(rng, n_in=4):
    """Rows that relax at very different speeds: saturated rows (|x| large, tanh' ~ 0)
    contract fast, nearly linear ones (|x| small) at about the spectral radius of W."""
    scales = np.array([5.0, 0.01, 3.0, 0.02, 0.5])[:, None]
    return scales * rng.standard_normal((5, n_in))


def _row_result(cell, fp, x_all, c, i, alone):
    """Row i's output, its forward and backward step counts and its gradients, relaxed
    alone or inside the batch ``x_all`` (where only row i enters the loss, so that the
    parameter gradients are its own)."""
    x_np, j = (x_all[i : i + 1], 0) if alone else (x_all, i)
    cell.zero_grad()
    x = rg.tensor(x_np.copy(), requires_grad=True)
    weight = np.zeros((len(x_np), c.shape[1]))
    weight[j] = c[i]
    h = fp(x)
    (h * rg.tensor(weight)).sum().backward()
    steps = []
    for key in ("forward_iterations_per_sample", "backward_iterations_per_sample"):
        per_row = fp.last_stats[key]  # a single entry under stop="batch"
        steps.append(int(per_row[j if per_row.size > 1 else 0]))
    grads = {n: v.copy() for n, v in _grads(cell, x).items()}
    grads["x"] = grads["x"][j]
    return h.data[j].copy(), steps, grads


@pytest.mark.parametrize("backward", ["rbp", "unrolled"])
def test_sample_result_does_not_depend_on_its_batch(rng, backward):
    cell = TanhCell(4, 6, _contracting_w(6, 0.95))
    x_all = _mixed_batch(rng)
    c = rng.standard_normal((5, 6))
    per_sample = rg.nn.FixedPoint(cell, tol=1e-6, max_iter=2000, backward=backward)
    for i in range(5):
        h1, its1, g1 = _row_result(cell, per_sample, x_all, c, i, alone=True)
        hb, itsb, gb = _row_result(cell, per_sample, x_all, c, i, alone=False)
        np.testing.assert_allclose(hb, h1, rtol=1e-12, atol=1e-14)
        assert itsb == its1  # the same trajectory: the same number of steps
        for n in g1:
            np.testing.assert_allclose(gb[n], g1[n], rtol=1e-10, atol=1e-13, err_msg=n)
    # The easy and the hard rows really took different numbers of steps...
    per_sample(rg.tensor(x_all))
    its = per_sample.last_stats["forward_iterations_per_sample"]
    assert its.shape == (5,) and its[1] > 2 * its[0]
    assert per_sample.last_stats["forward_iterations"] == its.max()
    # ... and under the whole-batch rule a fast row is relaxed further in the batch (until
    # the slow rows converge) than alone: its output and gradients change.
    whole = rg.nn.FixedPoint(cell, tol=1e-6, max_iter=2000, backward=backward, stop="batch")
    h1, _, g1 = _row_result(cell, whole, x_all, c, 4, alone=True)
    hb, _, gb = _row_result(cell, whole, x_all, c, 4, alone=False)
    assert np.abs(hb - h1).max() > 1e-9
    assert _rel(gb["w"], g1["w"]) > 1e-9


def test_backward_stops_per_sample(rng):
    cell = TanhCell(4, 6, _contracting_w(6, 0.95))
    fp = rg.nn.FixedPoint(cell, tol=1e-11)
    x = rg.tensor(_mixed_batch(rng), requires_grad=True)
    c = rng.standard_normal((5, 6))
    h = fp(x)
    (h * rg.tensor(c)).sum().backward()
    st = fp.last_stats
    bwd = st["backward_iterations_per_sample"]
    assert bwd.shape == (5,) and bwd[1] > 2 * bwd[0] and st["backward_iterations"] == bwd.max()
    assert st["forward_converged_per_sample"].all() and st["backward_converged_per_sample"].all()
    assert st["backward_residual"] <= 1e-11
    # Rows frozen early (their own tolerance met) still get the exact implicit gradient.
    want = _direct_grads(cell, x.data, h.data, c)
    for k, v in _grads(cell, x).items():
        assert _rel(v, want[k]) < 1e-8, k


@pytest.mark.parametrize("method", ["rbp", "unrolled"])
def test_gradcheck_with_rows_frozen_at_different_steps(rng, method):
    fp = rg.nn.FixedPoint(
        lambda h, x, w: (h @ w + x).tanh(), backward=method, tol=1e-13, backward_tol=1e-13
    )
    x = rg.tensor(_mixed_batch(rng, n_in=3), requires_grad=True)
    w = rg.tensor(_contracting_w(3, 0.9, seed=1), requires_grad=True)
    assert rg.gradcheck(lambda x, w: fp(x, w) ** 2, [x, w])
    its = fp.last_stats["forward_iterations_per_sample"]
    assert its.min() < its.max()


def test_stop_in_config_repr_and_model_files(tmp_path):
    net = rg.nn.RecurrentNet(3, 2, 1, stop="batch")
    assert net.solver.stop == "batch" and "stop='batch'" in repr(net)
    cfg = net.get_config()
    assert cfg["stop"] == "batch"
    again = rg.load(rg.save(net, tmp_path / "net.safetensors"))
    assert again.solver.stop == "batch"
    # A config saved before the option existed rebuilds with the default rule.
    del cfg["stop"]
    assert rg.nn.RecurrentNet(**cfg).solver.stop == "sample"
    cell = TanhCell(2, 3, np.eye(3) * 0.5)
    fp = rg.nn.FixedPoint(**rg.nn.FixedPoint(cell, stop="batch").get_config())
    assert fp.stop == "batch" and fp.cell is cell
    json.dumps(rg.nn.FixedPoint(lambda h, x: x, stop="batch").get_config())


def test_float32_stays_float32():
    x = rg.randn(5, 4)
    net = rg.nn.RecurrentNet(4, 6, 3, activation="tanh")
    y = net(x)
    assert y.dtype == np.float32
    rg.nn.functional.mse_loss(y, rg.zeros(5, 3)).backward()
    for p in net.parameters():
        assert p.grad.dtype == np.float32 and np.isfinite(p.grad).all()
    for method in ("cg", "neumann", "unrolled"):
        w = rg.tensor(np.eye(4, dtype=np.float32) * 0.3, requires_grad=True)
        fp = rg.nn.FixedPoint(
            lambda h, x, w: (h @ w + x).tanh(), backward=method, backward_max_iter=50
        )
        h = fp(x, w)
        assert h.dtype == np.float32
        h.sum().backward()
        assert w.grad.dtype == np.float32 and np.isfinite(w.grad).all()


def test_float32_gradient_close_to_float64(rng):
    cell64, fp64, x64, c = _setup(rng)
    (fp64(x64) * rg.tensor(c)).sum().backward()
    cell32 = TanhCell(4, 6, cell64.w.data, dtype=np.float32)
    fp32 = rg.nn.FixedPoint(cell32, tol=1e-6)
    x32 = rg.tensor(x64.data.astype(np.float32), requires_grad=True)
    (fp32(x32) * rg.tensor(c.astype(np.float32))).sum().backward()
    assert cell32.w.grad.dtype == np.float32
    assert _rel(cell32.w.grad.astype(np.float64), cell64.w.grad) < 1e-4


def test_nonconvergence_raises_or_warns_but_never_passes_nonfinite():
    x = rg.ones(2, 3, dtype=np.float64)
    slow = rg.nn.FixedPoint(lambda h, x: (h * 0.99 + x).tanh(), max_iter=3)
    with pytest.raises(rg.ConvergenceError, match=r"after 3 iterations.*residual"):
        slow(x)
    warn = rg.nn.FixedPoint(
        lambda h, x: (h * 0.99 + x).tanh(), max_iter=3, on_nonconvergence="warn"
    )
    with pytest.warns(RuntimeWarning, match="after 3 iterations"):
        h = warn(x)
    assert warn.last_stats["forward_converged"] is False and np.isfinite(h.data).all()
    # Per sample: a row at its fixed point (x = 0 -> h* = 0) stops, the other does not.
    mixed = rg.tensor(np.array([[0.0, 0.0, 0.0], [1.0, 1.0, 1.0]]))
    with pytest.raises(rg.ConvergenceError, match=r"no fixed point for 1 of 2 samples after 3"):
        slow(mixed)
    with pytest.warns(RuntimeWarning, match="for 1 of 2 samples"):
        warn(mixed)
    np.testing.assert_array_equal(warn.last_stats["forward_iterations_per_sample"], [1, 3])
    np.testing.assert_array_equal(warn.last_stats["forward_converged_per_sample"], [True, False])
    blowup = rg.nn.FixedPoint(lambda h, x: h * 3.0 + x, max_iter=5000, on_nonconvergence="warn")
    # (The cell's own h * 3 may overflow to inf on the last step: NumPy's warning, not ours.)
    with pytest.raises(rg.ConvergenceError, match="non-finite"), np.errstate(over="ignore"):
        blowup(x)


def test_spectral_radius_estimate():
    a = np.diag([0.2, -0.7, 0.5])
    fp = rg.nn.FixedPoint(lambda h, x, a: h @ a + x)
    x = rg.ones(2, 3, dtype=np.float64)
    assert fp.spectral_radius(x, rg.tensor(a)) == pytest.approx(0.7, rel=1e-6)
    # a rotation-scaling: a complex pair of modulus 0.9
    t = 0.6
    rot = 0.9 * np.array([[np.cos(t), -np.sin(t)], [np.sin(t), np.cos(t)]])
    fp2 = rg.nn.FixedPoint(lambda h, x, a: h @ a + x)
    assert fp2.spectral_radius(rg.ones(1, 2, dtype=np.float64), rg.tensor(rot)) == pytest.approx(
        0.9, rel=1e-3
    )


def test_captured_tensor_needing_grad_is_an_error():
    w = rg.tensor(np.eye(2) * 0.5, requires_grad=True)
    fp = rg.nn.FixedPoint(lambda h, x: (h @ w + x).tanh())
    h = fp(rg.tensor(np.ones((1, 2)), requires_grad=True))
    with pytest.raises(ValueError, match="passed as an argument"):
        h.sum().backward()


def test_recurrent_net_mask_config_and_training():
    n_in, n_hid, n_out = 3, 4, 2
    mask = np.ones((6, 6), dtype=int)
    mask[0, 1] = mask[5, 5] = 0
    net = rg.nn.RecurrentNet(n_in, n_hid, n_out, connectivity=mask, dtype=np.float64, tol=1e-10)
    assert net.weight.data[0, 1] == 0
    x = rg.tensor(np.random.default_rng(0).standard_normal((8, n_in)))
    y, state = net(x, return_state=True)
    assert y.shape == (8, 2) and state.shape == (8, 6)
    np.testing.assert_array_equal(y.data, state.data[:, 4:])
    # the state is a fixed point of s = sigmoid(W s + W_in x + b)
    s = state.data
    pre = s @ (net.weight.data * mask).T + x.data @ net.weight_in.data.T + net.bias.data
    np.testing.assert_allclose(s, 1 / (1 + np.exp(-pre)), atol=1e-9)
    y.sum().backward()
    assert net.weight.grad[0, 1] == 0 and net.weight.grad[5, 5] == 0
    assert np.abs(net.weight.grad).sum() > 0
    cfg = net.get_config()
    json.dumps(cfg)
    twin = rg.nn.RecurrentNet(**cfg)
    twin.load_state_dict(net.state_dict())
    np.testing.assert_array_equal(twin(x).data, y.data)
    json.dumps(rg.nn.FixedPoint(lambda h, x: x, h0=np.zeros(2)).get_config())
    # training lowers the loss
    target = rg.tensor(np.random.default_rng(1).uniform(0.2, 0.8, (8, 2)))
    losses = []
    for _ in range(30):
        net.zero_grad()
        loss = rg.nn.functional.mse_loss(net(x), target)
        loss.backward()
        for p in net.parameters():
            p.data -= 2.0 * p.grad
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0]


def test_symmetric_net_uses_symmetric_weights():
    net = rg.nn.RecurrentNet(2, 3, 2, symmetric=True, connectivity=1 - np.eye(5), dtype=np.float64)
    w = net.effective_weight().data
    np.testing.assert_array_equal(w, w.T)
    assert np.all(np.diag(w) == 0)
    net(rg.tensor(np.ones((1, 2)))).sum().backward()
    assert net.weight.grad.shape == (5, 5)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"damping": 0.0}, "damping"),
        ({"damping": 1.5}, "damping"),
        ({"backward": "newton"}, "backward"),
        ({"tol_mode": "rel"}, "tol_mode"),
        ({"max_iter": 0}, "max_iter"),
        ({"tol": -1.0}, "tol"),
        ({"on_nonconvergence": "ignore"}, "on_nonconvergence"),
        ({"stop": "row"}, r"stop must be one of \['sample', 'batch'\], got 'row'"),
    ],
)
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        rg.nn.FixedPoint(lambda h, x: x, **kwargs)


def test_bad_shapes():
    fp = rg.nn.FixedPoint(lambda h, x: x.sum(axis=1))
    with pytest.raises(ValueError, match="same shape"):
        fp(rg.ones(2, 3))
    with pytest.raises(ValueError, match=r"expected \(batch, 3\)"):
        rg.nn.RecurrentNet(3, 2, 1)(rg.ones(2, 4))
    with pytest.raises(ValueError, match="connectivity"):
        rg.nn.RecurrentNet(3, 2, 1, connectivity=np.ones((2, 2)))


def test_nonconvergence_warning_points_at_the_callers_line():
    fp = rg.nn.FixedPoint(lambda h, x: h * 0.99 + x, max_iter=3, on_nonconvergence="warn")
    with pytest.warns(RuntimeWarning, match="no fixed point") as record:
        line = sys._getframe().f_lineno + 1
        fp(rg.ones(2, 3))
    assert (record[0].filename, record[0].lineno) == (__file__, line)


# ---------------------------------------------------------- solver options, declared once
def test_fixed_point_signature_defaults_are_the_declared_ones():
    import inspect

    from retrograd.nn.fixedpoint import SOLVER_OPTIONS

    params = inspect.signature(rg.nn.FixedPoint).parameters
    assert {k: params[k].default for k in SOLVER_OPTIONS} == {
        k: o.default for k, o in SOLVER_OPTIONS.items()
    }
    fp = rg.nn.FixedPoint(lambda h, x: x)
    for name, opt in SOLVER_OPTIONS.items():
        want = opt.default if opt.follows is None else getattr(fp, opt.follows)
        assert getattr(fp, name) == want


def test_recurrent_net_takes_every_solver_option_and_round_trips_it(tmp_path):
    net = rg.nn.RecurrentNet(3, 2, 1, backward="cg", tol=1e-7, backward_damping=0.5, stop="batch")
    s = net.solver
    assert (s.backward, s.tol, s.backward_damping, s.stop) == ("cg", 1e-7, 0.5, "batch")
    cfg = net.get_config()
    assert cfg["backward_damping"] == 0.5 and "estimate_spectral_radius" not in cfg
    rg.save(net, tmp_path / "n.safetensors")
    back = rg.load(tmp_path / "n.safetensors")
    assert back.solver.backward_damping == 0.5 and back.solver.stop == "batch"
    # A net that does not use the newer options records the same keys as before.
    plain = rg.nn.RecurrentNet(3, 2, 1).get_config()
    assert set(plain) == {
        "n_in", "n_hidden", "n_out", "activation", "connectivity", "symmetric", "tol",
        "max_iter", "damping", "tol_mode", "backward", "backward_tol", "backward_max_iter",
        "on_nonconvergence", "dtype", "stop",
    }  # fmt: skip
    with pytest.raises(TypeError, match=r"RecurrentNet: unexpected solver option\(s\) \['tols'\]"):
        rg.nn.RecurrentNet(3, 2, 1, tols=1e-3)
    with pytest.raises(ValueError, match="RecurrentNet: damping must be in"):
        rg.nn.RecurrentNet(3, 2, 1, damping=2.0)


def test_fixed_point_classifier_accounts_for_every_solver_option():
    pytest.importorskip("sklearn")
    from retrograd import sklearn as rsk
    from retrograd.nn.fixedpoint import SOLVER_OPTIONS

    covered = (
        list(rsk._SOLVER_PARAMS.values()) + list(rsk._SOLVER_FIXED) + list(rsk._SOLVER_DEFAULTS)
    )
    assert sorted(covered) == sorted(SOLVER_OPTIONS)
    params = rsk.FixedPointClassifier().get_params()
    assert set(rsk._SOLVER_PARAMS) <= set(params)


# ------------------------------------------------- approximate gradients: jfb, phantom
def test_jfb_is_the_parameter_vjp_of_g_at_the_fixed_point(rng):
    cell, fp, x, c = _setup(rng, backward="jfb")
    h = fp(x)
    (h * rg.tensor(c)).sum().backward()
    # Independently: (dF/dtheta (h*))^T g with h* held constant, through the engine.
    x2 = rg.tensor(x.data.copy(), requires_grad=True)
    ref = TanhCell(4, 6, cell.w.data.copy())
    ref.load_state_dict(cell.state_dict())
    (ref(rg.tensor(h.data), x2) * rg.tensor(c)).sum().backward()
    want = {"w": ref.w.grad, "u": ref.u.grad, "b": ref.b.grad, "x": x2.grad}
    for k, v in _grads(cell, x).items():
        np.testing.assert_allclose(v, want[k], rtol=1e-12, atol=1e-14, err_msg=k)
    exact = _direct_grads(cell, x.data, h.data, c)
    assert _rel(cell.w.grad, exact["w"]) > 1e-3  # an approximation, not the exact gradient
    assert fp.last_stats["backward_iterations"] == 0


@pytest.mark.parametrize("damping", [1.0, 0.7])
def test_phantom_tends_to_the_exact_gradient_as_k_grows(rng, damping):
    errs = []
    for k in (1, 5, 200):
        cell, fp, x, c = _setup(rng, backward="phantom", backward_max_iter=k,
                                backward_damping=damping)  # fmt: skip
        h = fp(x)
        (h * rg.tensor(c)).sum().backward()
        exact = _direct_grads(cell, x.data, h.data, c)
        errs.append(max(_rel(v, exact[n]) for n, v in _grads(cell, x).items()))
        assert fp.last_stats["backward_iterations"] == k
    assert errs[0] > errs[1] > errs[2] and errs[2] < 1e-8


def test_phantom_one_undamped_step_is_jfb(rng):
    out = []
    for kw in ({"backward": "jfb"}, {"backward": "phantom", "backward_max_iter": 1}):
        cell, fp, x, c = _setup(np.random.default_rng(3), **kw)
        (fp(x) * rg.tensor(c)).sum().backward()
        out.append(_grads(cell, x))
    for k in out[0]:
        np.testing.assert_allclose(out[1][k], out[0][k], rtol=1e-10, atol=1e-13, err_msg=k)


def test_approximate_gradients_point_the_right_way(rng):
    cell, fp, x, c = _setup(rng, radius=0.9, backward="jfb")
    h = fp(x)
    (h * rg.tensor(c)).sum().backward()
    exact = _direct_grads(cell, x.data, h.data, c)["w"].ravel()
    g = cell.w.grad.ravel()
    assert g @ exact / np.linalg.norm(g) / np.linalg.norm(exact) > 0.1


# ------------------------------------------------------------- Anderson acceleration
def _slow_cell(n=16, radius=0.97, seed=0):
    return TanhCell(8, n, _contracting_w(n, radius, seed=seed), seed=seed)


def test_anderson_finds_the_plain_fixed_point_and_gradient(rng):
    cell = _slow_cell(radius=0.9)
    x = rng.standard_normal((4, 8))
    c = rng.standard_normal((4, 16))
    res = {}
    for solver in ("iter", "anderson"):
        fp = rg.nn.FixedPoint(cell, tol=1e-10, max_iter=5000, solver=solver)
        xt = rg.tensor(x, requires_grad=True)
        cell.zero_grad()
        h = fp(xt)
        (h * rg.tensor(c)).sum().backward()
        res[solver] = (h.data.copy(), {k: np.copy(v) for k, v in _grads(cell, xt).items()})
        assert fp.last_stats["forward_converged"] and fp.last_stats["backward_converged"]
    np.testing.assert_allclose(res["anderson"][0], res["iter"][0], rtol=0, atol=1e-8)
    for k in res["iter"][1]:
        np.testing.assert_allclose(res["anderson"][1][k], res["iter"][1][k], rtol=1e-6,
                                   atol=1e-8, err_msg=k)  # fmt: skip
    # Independently: h* is a fixed point of F to the tolerance.
    hs = res["anderson"][0]
    f = cell(rg.tensor(hs), rg.tensor(x)).data
    assert np.abs(f - hs).max() < 1e-8


def test_anderson_needs_fewer_cell_evaluations_on_a_slow_cell(rng):
    cell = _slow_cell(n=32, radius=0.99)
    x = rg.tensor(0.1 * rng.standard_normal((8, 8)))  # small: tanh stays near its slope 1
    its = {}
    for solver in ("iter", "anderson"):
        calls = [0]

        def counted(h, x, _c=calls):
            _c[0] += 1
            return cell(h, x)

        fp = rg.nn.FixedPoint(counted, tol=1e-8, max_iter=5000, solver=solver,
                              h0=np.zeros((8, 32)))  # fmt: skip
        fp(x)
        its[solver] = calls[0]
        assert fp.last_stats["forward_converged"]
        assert calls[0] == fp.last_stats["forward_iterations"]
    assert its["anderson"] * 2 < its["iter"], its


def test_anderson_sample_alone_equals_sample_in_batch(rng):
    cell = _slow_cell(radius=0.95)
    x = rng.standard_normal((5, 8)) * np.array([[0.1], [3.0], [1.0], [0.01], [2.0]])
    c = rng.standard_normal((5, 16))
    fp = rg.nn.FixedPoint(cell, tol=1e-9, max_iter=3000, solver="anderson")
    xb = rg.tensor(x, requires_grad=True)
    cell.zero_grad()
    hb = fp(xb)
    (hb * rg.tensor(c)).sum().backward()
    its_b = fp.last_stats["forward_iterations_per_sample"].copy()
    gx_b = xb.grad.copy()
    assert len(set(its_b.tolist())) > 1  # the rows stop at different steps
    for i in range(5):
        xi = rg.tensor(x[i : i + 1], requires_grad=True)
        hi = fp(xi)
        (hi * rg.tensor(c[i : i + 1])).sum().backward()
        np.testing.assert_allclose(hi.data[0], hb.data[i], rtol=1e-10, atol=1e-12)
        assert fp.last_stats["forward_iterations"] == its_b[i]
        np.testing.assert_allclose(xi.grad[0], gx_b[i], rtol=1e-8, atol=1e-10)


def test_anderson_backward_solver_follows_and_accelerates(rng):
    cell = _slow_cell(n=32, radius=0.99)
    x = rg.tensor(0.1 * rng.standard_normal((4, 8)))
    c = rg.tensor(rng.standard_normal((4, 32)))
    back = {}
    for bs in ("iter", "anderson"):
        fp = rg.nn.FixedPoint(cell, tol=1e-8, max_iter=5000, solver="anderson",
                              backward_solver=bs)  # fmt: skip
        cell.zero_grad()
        (fp(x) * c).sum().backward()
        back[bs] = (fp.last_stats["backward_iterations"], cell.w.grad.copy())
        assert fp.last_stats["backward_true_residual"] < 1e-6
    assert back["anderson"][0] * 2 < back["iter"][0]
    assert _rel(back["anderson"][1], back["iter"][1]) < 1e-5
    assert rg.nn.FixedPoint(cell, solver="anderson").backward_solver == "anderson"


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"solver": "newton"}, r"solver must be one of \[.iter., .anderson., .broyden.\]"),
        ({"backward_solver": "x"}, "backward_solver must be one of"),
        ({"anderson_m": 0}, "anderson_m must be an int >= 1, got 0"),
        ({"anderson_beta": 0.0}, "anderson_beta"),
        ({"anderson_lam": -1.0}, "anderson_lam"),
        ({"backward": "phantoms"}, "backward must be one of"),
        ({"solver": "anderson", "backward": "unrolled"}, "backward='unrolled'"),
        ({"broyden_m": 0}, "broyden_m must be an int >= 1, got 0"),
        ({"broyden_m": 2.5}, "broyden_m must be an int >= 1, got 2.5"),
        ({"solver": "broyden", "backward": "unrolled"}, "backward='unrolled'"),
    ],
)
def test_bad_solver_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        rg.nn.FixedPoint(lambda h, x: x, **kwargs)


def test_new_solver_options_round_trip_through_model_files(tmp_path):
    net = rg.nn.RecurrentNet(
        3,
        4,
        2,
        solver="anderson",
        anderson_m=3,
        anderson_beta=0.8,
        anderson_lam=1e-6,
        backward="phantom",
        backward_max_iter=7,
    )
    y = net(rg.ones(2, 3))
    rg.save(net, tmp_path / "n.safetensors")
    back = rg.load(tmp_path / "n.safetensors")
    s = back.solver
    assert (s.solver, s.backward_solver, s.anderson_m, s.anderson_beta, s.anderson_lam) == (
        "anderson",
        "anderson",
        3,
        0.8,
        1e-6,
    )
    assert (s.backward, s.backward_max_iter) == ("phantom", 7)
    np.testing.assert_allclose(back(rg.ones(2, 3)).data, y.data, rtol=1e-6)
