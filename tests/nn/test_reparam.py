"""rg.nn.utils.weight_norm / spectral_norm against torch's classic versions (copied state)."""

from __future__ import annotations

import numpy as np
import pytest

import retrograd as rg
from retrograd.autograd.gradcheck import gradcheck
from retrograd.nn.utils import (
    remove_spectral_norm,
    remove_weight_norm,
    spectral_norm,
    weight_norm,
)

torch = pytest.importorskip("torch")
tnn = torch.nn

TOL = {np.float64: 1e-10, np.float32: 1e-5}
TDT = {np.float64: torch.float64, np.float32: torch.float32}


def _pair(kind: str, dt: type) -> tuple:
    """The same layer in both libraries (retrograd gets torch's initial weights)."""
    if kind == "linear":
        t, r = tnn.Linear(5, 4), rg.nn.Linear(5, 4)
        x = np.random.default_rng(1).standard_normal((3, 5))
    elif kind == "conv":
        t, r = tnn.Conv2d(2, 3, 3, padding=1), rg.nn.Conv2d(2, 3, 3, padding=1)
        x = np.random.default_rng(1).standard_normal((2, 2, 5, 5))
    else:
        t = tnn.ConvTranspose2d(3, 2, 3)
        r = rg.nn.ConvTranspose2d(3, 2, 3)
        x = np.random.default_rng(1).standard_normal((2, 3, 4, 4))
    t = t.to(TDT[dt])
    r.load_state_dict(t.state_dict())
    r.to(dt)
    return t, r, x.astype(dt)


def _compare(t, r, x, dt, train: bool) -> None:
    t.train(train)
    r.train(train)
    tx = torch.tensor(x, requires_grad=True)
    rx = rg.tensor(x, requires_grad=True)
    ty, ry = t(tx), r(rx)
    tol = TOL[dt]
    np.testing.assert_allclose(ry.data, ty.detach().numpy(), rtol=tol, atol=tol)
    w = np.random.default_rng(2).standard_normal(ry.shape).astype(dt)
    (ty * torch.tensor(w)).sum().backward()
    (ry * rg.tensor(w)).sum().backward()
    np.testing.assert_allclose(rx.grad, tx.grad.numpy(), rtol=tol, atol=tol)
    tp = dict(t.named_parameters())
    for name, p in r.named_parameters():
        np.testing.assert_allclose(p.grad, tp[name].grad.numpy(), rtol=tol, atol=tol, err_msg=name)
    tsd = t.state_dict()
    for k, v in r.state_dict().items():
        np.testing.assert_allclose(v, tsd[k].numpy(), rtol=tol, atol=tol, err_msg=k)
    t.zero_grad()
    r.zero_grad()


@pytest.mark.filterwarnings("ignore::FutureWarning")
@pytest.mark.parametrize("dt", [np.float64, np.float32])
@pytest.mark.parametrize("kind", ["linear", "conv", "convT"])
@pytest.mark.parametrize("dim", [0, 1, None])
def test_weight_norm_matches_torch(kind, dim, dt):
    t, r, x = _pair(kind, dt)
    tnn.utils.weight_norm(t, dim=dim)
    weight_norm(r, dim=dim)
    assert list(r.state_dict()) == list(t.state_dict())
    r.load_state_dict(t.state_dict())
    for _ in range(2):
        _compare(t, r, x, dt, train=True)
    _compare(t, r, x, dt, train=False)


@pytest.mark.parametrize("dt", [np.float64, np.float32])
@pytest.mark.parametrize("kind", ["linear", "conv", "convT"])
@pytest.mark.parametrize("n_iter", [1, 3])
def test_spectral_norm_matches_torch_in_train_and_eval(kind, n_iter, dt):
    t, r, x = _pair(kind, dt)
    tnn.utils.spectral_norm(t, n_power_iterations=n_iter)
    spectral_norm(r, n_power_iterations=n_iter)
    assert list(r.state_dict()) == list(t.state_dict())
    r.load_state_dict(t.state_dict())  # torch's random u, v
    for _ in range(3):  # each training call updates u and v
        _compare(t, r, x, dt, train=True)
    u = r.weight_u.data.copy()
    for _ in range(2):  # eval: u and v stay
        _compare(t, r, x, dt, train=False)
    np.testing.assert_array_equal(r.weight_u.data, u)


def test_spectral_norm_bounds_the_largest_singular_value():
    rg.manual_seed(0)
    lin = spectral_norm(rg.nn.Linear(6, 5).double(), n_power_iterations=5)
    for _ in range(10):
        lin(rg.ones(1, 6, dtype=np.float64))
    assert abs(np.linalg.norm(lin.weight.data, 2) - 1.0) < 1e-8


@pytest.mark.filterwarnings("ignore::FutureWarning")
def test_remove_matches_torch():
    for apply, remove, tapply, tremove in [
        (weight_norm, remove_weight_norm, tnn.utils.weight_norm, tnn.utils.remove_weight_norm),
        (
            spectral_norm,
            remove_spectral_norm,
            tnn.utils.spectral_norm,
            tnn.utils.remove_spectral_norm,
        ),
    ]:
        t, r, x = _pair("linear", np.float64)
        tapply(t)
        apply(r)
        r.load_state_dict(t.state_dict())
        _compare(t, r, x, np.float64, train=True)
        tremove(t)
        remove(r)
        assert list(r.state_dict()) == list(t.state_dict()) == ["bias", "weight"]
        _compare(t, r, x, np.float64, train=True)
        assert not r.__dict__["_forward_pre_hooks"]


@pytest.mark.parametrize("which", ["weight_norm", "spectral_norm"])
def test_gradcheck_float64_composite(which):
    rg.manual_seed(0)
    lin = rg.nn.Linear(4, 3).double()
    (weight_norm if which == "weight_norm" else spectral_norm)(lin)
    lin.eval()  # fixed u, v: a deterministic function of the parameters
    params = list(lin.parameters())
    x = np.random.default_rng(0).standard_normal((2, 4))

    # Route the inputs through the module's own parameters.
    inputs = [rg.tensor(p.data.copy(), requires_grad=True) for p in params]

    def g(*ts):
        saved = {n: lin._parameters[n] for n in lin._parameters}
        try:
            for n, t_ in zip(saved, ts, strict=True):
                lin._parameters[n] = t_
            return lin(rg.tensor(x))
        finally:
            lin._parameters.update(saved)

    assert gradcheck(g, inputs, mode="full")


def test_bad_input_names_the_argument():
    lin = rg.nn.Linear(2, 2)
    with pytest.raises(ValueError, match=r"name='wieght'.*\['weight', 'bias'\]"):
        weight_norm(lin, name="wieght")
    with pytest.raises(ValueError, match="name='nope'"):
        spectral_norm(lin, name="nope")
    with pytest.raises(ValueError, match="n_power_iterations must be >= 1, got n_power_iter"):
        spectral_norm(lin, n_power_iterations=0)
    with pytest.raises(TypeError, match="n_power_iterations must be an int"):
        spectral_norm(lin, n_power_iterations=1.5)
    with pytest.raises(ValueError, match="dim must be an int"):
        weight_norm(lin, dim=2)
    with pytest.raises(ValueError, match="eps must be"):
        spectral_norm(lin, eps=-1.0)
    weight_norm(lin)
    with pytest.raises(RuntimeError, match="already reparametrized by weight_norm"):
        spectral_norm(lin)
    with pytest.raises(ValueError, match="spectral_norm of 'weight' not found"):
        remove_spectral_norm(lin)
    assert list(lin.state_dict()) == ["bias", "weight_g", "weight_v"]


def test_save_refuses_with_a_clear_message(tmp_path):
    net = rg.nn.Sequential(rg.nn.Linear(3, 4), rg.nn.Tanh(), rg.nn.Linear(4, 2))
    spectral_norm(net[0])
    with pytest.raises(TypeError, match=r"reparametrized by spectral_norm.*remove_spectral_norm"):
        rg.save(net, tmp_path / "m.rg")
    assert not (tmp_path / "m.rg").exists()
    remove_spectral_norm(net[0])
    rg.save(net, tmp_path / "m.rg")
    back = rg.load(tmp_path / "m.rg")
    x = rg.ones(2, 3)
    np.testing.assert_array_equal(back(x).data, net(x).data)


@pytest.mark.filterwarnings("ignore::FutureWarning")
def test_sequential_does_not_fuse_a_reparametrized_layer():
    # Linear+Tanh is fused in a Sequential; the fused path must not bypass the hook.
    t = tnn.Sequential(tnn.Linear(3, 4), tnn.Tanh()).double()
    r = rg.nn.Sequential(rg.nn.Linear(3, 4), rg.nn.Tanh()).double()
    tnn.utils.weight_norm(t[0])
    weight_norm(r[0])
    r.load_state_dict(t.state_dict())
    with torch.no_grad():
        t[0].weight_g.mul_(3.0)
    r[0].weight_g.data *= 3.0
    x = np.random.default_rng(0).standard_normal((2, 3))
    np.testing.assert_allclose(
        r(rg.tensor(x)).data, t(torch.tensor(x)).detach().numpy(), rtol=1e-12, atol=1e-12
    )


@pytest.mark.parametrize("which", ["weight_norm", "spectral_norm"])
def test_compiled_step_matches_eager(which):
    from retrograd.train.compiled import compile_step

    def build():
        rg.manual_seed(0)
        net = rg.nn.Sequential(rg.nn.Linear(3, 8), rg.nn.Tanh(), rg.nn.Linear(8, 2))
        (weight_norm if which == "weight_norm" else spectral_norm)(net[0])
        return net, rg.optim.SGD(net.parameters(), lr=0.1)

    loss_fn = rg.nn.MSELoss()
    rng = np.random.default_rng(0)
    batches = [(rng.standard_normal((4, 3)), rng.standard_normal((4, 2))) for _ in range(5)]
    net_e, opt_e = build()
    eager = []
    for x, y in batches:
        opt_e.zero_grad()
        loss = loss_fn(net_e(rg.tensor(x, dtype=np.float32)), rg.tensor(y, dtype=np.float32))
        loss.backward()
        opt_e.step()
        eager.append(loss.item())
    net_c, opt_c = build()
    step = compile_step(net_c, loss_fn, opt_c)
    compiled = [step(x.astype(np.float32), y.astype(np.float32)) for x, y in batches]
    np.testing.assert_allclose(compiled, eager, rtol=1e-6)
    for (n, a), (_, b) in zip(net_c.state_dict().items(), net_e.state_dict().items()):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7, err_msg=n)
    if which == "spectral_norm":
        assert step.replays == 0 and "not capture_safe" in step.eager_reason
    else:
        assert step.replays > 0


@pytest.mark.parametrize("which", ["weight_norm", "spectral_norm"])
def test_fixed_point_gradient_reaches_the_reparametrized_parameters(which):
    # The equilibrium layer's implicit gradient re-runs the cell, hook included.
    class Cell(rg.nn.Module):
        def __init__(self):
            super().__init__()
            self.W = rg.nn.Linear(3, 3)
            self.U = rg.nn.Linear(3, 3)

        def forward(self, h, x):
            return (self.W(h) + self.U(x)).tanh()

    rg.manual_seed(0)
    cell = Cell().double()
    (weight_norm if which == "weight_norm" else spectral_norm)(cell.W)
    cell.eval()  # u, v fixed, so the map is a function of the parameters
    fp = rg.nn.FixedPoint(cell, tol=1e-13, max_iter=2000, backward_tol=1e-13)
    x = rg.tensor(np.random.default_rng(0).standard_normal((2, 3)))
    fp(x).sum().backward()
    p = cell.W._parameters["weight_v" if which == "weight_norm" else "weight_orig"]
    fd = np.zeros_like(p.data)
    for idx in np.ndindex(p.data.shape):
        old = p.data[idx]
        vals = []
        for step in (1e-6, -1e-6):
            p.data[idx] = old + step
            with rg.no_grad():
                vals.append(fp(x).sum().item())
        p.data[idx] = old
        fd[idx] = (vals[0] - vals[1]) / 2e-6
    np.testing.assert_allclose(p.grad, fd, atol=1e-7)
