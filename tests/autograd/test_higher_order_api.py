"""rg.autograd.grad (tensor form), backward(create_graph, inputs), autograd.functional.

Values are compared with PyTorch (float64); errors with what a PyTorch user expects.
"""

from __future__ import annotations

import numpy as np
import pytest

import retrograd as rg
from retrograd.autograd import functional as AF


def _t(a, grad=True):
    return rg.tensor(np.asarray(a, dtype=np.float64), requires_grad=grad)


# ------------------------------------------------------------------ autograd.grad


def test_grad_tensor_form_returns_a_tuple_and_leaves_grad_alone():
    x = _t([1.0, 2.0, 3.0])
    y = (x * x).sum()
    out = rg.autograd.grad(y, x)
    assert isinstance(out, tuple) and len(out) == 1
    assert isinstance(out[0], rg.Tensor) and not out[0].requires_grad
    assert out[0].tolist() == [2.0, 4.0, 6.0]
    assert x.grad is None


def test_grad_any_order_matches_torch(torch):
    a = np.array([0.3, -1.2, 0.7])
    x = _t(a)
    tx = torch.tensor(a, requires_grad=True)
    y = (x.tanh() * x.exp()).sum()
    ty = (tx.tanh() * tx.exp()).sum()
    g, tg = y, ty
    for order in range(1, 5):
        (g,) = rg.autograd.grad(g.sum(), x, create_graph=True)
        (tg,) = torch.autograd.grad(tg.sum(), tx, create_graph=True)
        np.testing.assert_allclose(
            g.data, tg.detach().numpy(), rtol=1e-12, err_msg=f"order {order}"
        )


def test_grad_several_outputs_inputs_and_grad_outputs(torch):
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((2, 3)), rng.standard_normal(3)
    u, v = rng.standard_normal((2, 3)), rng.standard_normal(())
    x, w = _t(a), _t(b)
    tx, tw = torch.tensor(a, requires_grad=True), torch.tensor(b, requires_grad=True)
    outs = [(x * w).tanh(), (x @ w).sum()]
    touts = [(tx * tw).tanh(), (tx @ tw).sum()]
    got = rg.autograd.grad(outs, [x, w], [u, rg.tensor(v)])
    ref = torch.autograd.grad(touts, [tx, tw], [torch.tensor(u), torch.tensor(v)])
    for g, r in zip(got, ref):
        np.testing.assert_allclose(g.data, r.numpy(), rtol=1e-12)


def test_grad_non_leaf_input_is_the_total_derivative(torch):
    x = _t([0.5, 2.0])
    h = x * x
    y = (h * x).sum()  # y = x^3; dy/dh holding x fixed = x
    tx = torch.tensor([0.5, 2.0], dtype=torch.float64, requires_grad=True)
    th = tx * tx
    ty = (th * tx).sum()
    np.testing.assert_allclose(
        rg.autograd.grad(y, h)[0].data, torch.autograd.grad(ty, th)[0].numpy()
    )


def test_grad_unused_input_raises_unless_allowed():
    x, z = _t([1.0]), _t([2.0])
    y = (x * 3).sum()
    with pytest.raises(RuntimeError, match="allow_unused"):
        rg.autograd.grad(y, [x, z])
    gx, gz = rg.autograd.grad(y, [x, z], allow_unused=True)
    assert gz is None and gx.tolist() == [3.0]
    gx, gz = rg.autograd.grad(y, [x, z], materialize_grads=True)
    assert gz.tolist() == [0.0]


def test_grad_bad_arguments():
    x = _t([1.0, 2.0])
    with pytest.raises(RuntimeError, match="does not require grad"):
        rg.autograd.grad(rg.tensor([1.0]).sum(), x)
    with pytest.raises(RuntimeError, match="one-element"):
        rg.autograd.grad(x * 2, x)
    with pytest.raises(ValueError, match="shape"):
        rg.autograd.grad(x * 2, x, np.ones(3))
    with pytest.raises(ValueError, match="grad_outputs"):
        rg.autograd.grad([x.sum()], x, [None, None])
    with pytest.raises(TypeError, match="inputs"):
        rg.autograd.grad(x.sum(), [np.ones(2)])
    with pytest.raises(RuntimeError, match="inputs does not require grad"):
        rg.autograd.grad(x.sum() + rg.tensor([1.0]).sum(), rg.tensor([1.0]))


def test_grad_is_grads_batched_matches_a_loop():
    x = _t([1.0, 2.0])
    y = x * x * x
    vs = np.array([[1.0, 0.0], [0.0, 1.0], [2.0, 1.0]])
    (batched,) = rg.autograd.grad(y, x, rg.tensor(vs), is_grads_batched=True)
    rows = [rg.autograd.grad(y, x, v)[0].data for v in vs]
    np.testing.assert_allclose(batched.data, np.stack(rows))


def test_grad_function_form_stays_reachable():
    f = lambda t: (t * t).sum()  # noqa: E731
    np.testing.assert_allclose(rg.grad(f)(np.array([1.0, 2.0])), [2.0, 4.0])
    np.testing.assert_allclose(rg.autograd.grad(f, 0)(np.array([3.0])), [6.0])
    np.testing.assert_allclose(rg.func.grad(f)(np.array([3.0])), [6.0])
    g = rg.func.grad(lambda a, b: (a * b).sum(), argnums=1)
    np.testing.assert_allclose(g(np.array([2.0]), np.array([5.0])), [2.0])


# --------------------------------------------------------- backward(create_graph)


def test_backward_create_graph_gives_a_grad_with_a_graph(torch):
    x = _t([1.5, -0.5])
    (x.tanh() ** 3).sum().backward(create_graph=True)
    assert isinstance(x.grad, rg.Tensor) and x.grad.requires_grad
    g = x.grad
    x.grad = None
    (g * g).sum().backward()

    tx = torch.tensor([1.5, -0.5], dtype=torch.float64, requires_grad=True)
    (tx.tanh() ** 3).sum().backward(create_graph=True)
    tg = tx.grad
    tx.grad = None
    (tg * tg).sum().backward()
    np.testing.assert_allclose(x.grad, tx.grad.numpy(), rtol=1e-12)


def test_backward_create_graph_accumulates_like_torch(torch):
    x = _t([0.5, 2.0])
    (x**3).sum().backward(create_graph=True)
    (x**2).sum().backward(create_graph=True)
    tx = torch.tensor([0.5, 2.0], dtype=torch.float64, requires_grad=True)
    (tx**3).sum().backward(create_graph=True)
    (tx**2).sum().backward(create_graph=True)
    np.testing.assert_allclose(x.grad.data, tx.grad.detach().numpy())
    (h,) = rg.autograd.grad(x.grad.sum(), x)
    (th,) = torch.autograd.grad(tx.grad.sum(), tx)
    np.testing.assert_allclose(h.data, th.numpy())


def test_backward_inputs_limits_accumulation():
    x, w = _t([1.0, 2.0]), _t([3.0, 4.0])
    (x * w).sum().backward(inputs=[w])
    assert x.grad is None
    assert w.grad.tolist() == [1.0, 2.0]
    (x * w).sum().backward(inputs=x)
    assert x.grad.tolist() == [3.0, 4.0]


def test_backward_retain_graph_is_accepted_and_backward_can_run_again():
    x = _t([2.0])
    y = (x * x).sum()
    y.backward(retain_graph=False)
    y.backward()
    assert x.grad.tolist() == [8.0]


@pytest.mark.parametrize("name", ["SGD", "Adam", "AdamW", "RMSprop"])
def test_optimizer_step_after_create_graph_backward_uses_the_values(name, torch):
    a, c = np.array([1.0, -2.0]), np.array([0.5])
    w, v = rg.nn.Parameter(a.copy()), rg.nn.Parameter(c.copy())
    opt = getattr(rg.optim, name)([w, v], lr=0.1)
    tw = torch.tensor(a, requires_grad=True)
    tv = torch.tensor(c, requires_grad=True)
    topt = getattr(torch.optim, name)([tw, tv], lr=0.1)
    for _ in range(2):
        opt.zero_grad()
        ((w**2).sum() + (v**3).sum()).backward(create_graph=True)
        opt.step()
        topt.zero_grad()
        ((tw**2).sum() + (tv**3).sum()).backward(create_graph=True)
        topt.step()
    assert type(w.data) is np.ndarray and type(w.grad) is np.ndarray
    np.testing.assert_allclose(w.data, tw.detach().numpy(), rtol=1e-12)
    np.testing.assert_allclose(v.data, tv.detach().numpy(), rtol=1e-12)


# ------------------------------------------------------------ autograd.functional


def test_functional_against_torch(torch):
    rng = np.random.default_rng(1)
    a, b = rng.standard_normal((3, 2)), rng.standard_normal((3, 2))
    v_out, v_in = rng.standard_normal(2), (rng.standard_normal((3, 2)), rng.standard_normal((3, 2)))
    ours_in = (_t(a, False), _t(b, False))
    th_in = (torch.tensor(a), torch.tensor(b))
    f = lambda x, y: (x.tanh() * y).sum(axis=0)  # noqa: E731
    tf = lambda x, y: (x.tanh() * y).sum(0)  # noqa: E731
    s = lambda x, y: (x.tanh() * y * y).sum()  # noqa: E731
    ts = s

    def close(o, t):
        if isinstance(o, tuple):
            assert isinstance(t, tuple) and len(o) == len(t)
            for a_, b_ in zip(o, t):
                close(a_, b_)
        else:
            assert o.shape == tuple(t.shape)
            np.testing.assert_allclose(o.data, t.detach().numpy(), rtol=1e-10, atol=1e-12)

    close(AF.jacobian(f, ours_in), torch.autograd.functional.jacobian(tf, th_in))
    close(AF.jacobian(lambda x: f(x, ours_in[1]), ours_in[0]), torch.autograd.functional.jacobian(
        lambda x: tf(x, th_in[1]), th_in[0]))  # fmt: skip
    close(AF.hessian(s, ours_in), torch.autograd.functional.hessian(ts, th_in))
    close(AF.vjp(f, ours_in, _t(v_out, False)),
          torch.autograd.functional.vjp(tf, th_in, torch.tensor(v_out)))  # fmt: skip
    vin = tuple(_t(v, False) for v in v_in)
    tvin = tuple(map(torch.tensor, v_in))
    close(AF.jvp(f, ours_in, vin), torch.autograd.functional.jvp(tf, th_in, tvin))
    close(AF.vhp(s, ours_in, vin), torch.autograd.functional.vhp(ts, th_in, tvin))
    close(AF.hvp(s, ours_in, vin), torch.autograd.functional.hvp(ts, th_in, tvin))


def test_functional_create_graph_keeps_the_link_to_the_inputs(torch):
    x = _t([0.5, 1.5])
    h = AF.hessian(lambda t: (t**4).sum(), x, create_graph=True)
    assert h.requires_grad
    (g,) = rg.autograd.grad(h.sum(), x)  # d/dx sum(12 x^2 on the diagonal) = 24 x
    np.testing.assert_allclose(g.data, [12.0, 36.0])
    h0 = AF.hessian(lambda t: (t**4).sum(), x)
    assert not h0.requires_grad


def test_functional_strict_and_errors():
    x = _t([1.0, 2.0], False)
    const = lambda t: rg.tensor([1.0, 2.0], dtype="float64")  # noqa: E731
    with pytest.raises(RuntimeError, match="strict"):
        AF.jacobian(const, x, strict=True)
    np.testing.assert_allclose(AF.jacobian(const, x).data, np.zeros((2, 2)))
    with pytest.raises(RuntimeError, match="single element"):
        AF.hessian(lambda t: t * 2, x)
    with pytest.raises(RuntimeError, match="v can only be None"):
        AF.vjp(lambda t: t * 2, x)
    with pytest.raises(RuntimeError, match="shape"):
        AF.jvp(lambda t: t * 2, x, _t([1.0, 2.0, 3.0], False))
    with pytest.raises(TypeError, match="Tensor or a tuple"):
        AF.jacobian(lambda t: t, [x])
    with pytest.raises(ValueError, match="strategy"):
        AF.jacobian(lambda t: t, x, strategy="sideways")


# ------------------------------------------------------------------ gradgradcheck


def test_gradgradcheck_catches_a_wrong_second_order_rule(monkeypatch):
    from retrograd.ops.elementwise import Tanh

    monkeypatch.setattr(Tanh, "backward_graph", lambda self, g, out: (g * (1.0 - out * out.data),))
    x = _t(np.array([0.3, -0.8]))
    assert rg.gradcheck(lambda t: t.tanh().sum(), [x])  # first order is still right
    with pytest.raises(rg.GradcheckError):
        rg.gradgradcheck(lambda t: t.tanh(), [x])


def test_gradgradcheck_with_tuple_outputs_and_given_grad_outputs():
    x = _t(np.array([0.3, -0.8]))
    f = lambda t: (t.exp(), (t * t).sum())  # noqa: E731
    assert rg.gradgradcheck(f, [x], [np.array([1.0, 2.0]), np.array(0.5)])


def test_a_recorded_create_graph_walk_is_never_replayed():
    from retrograd.autograd.recording import replay_refusal

    x = _t([1.0, 2.0])
    with rg.autograd.record() as calls:
        (g,) = rg.autograd.grad((x**3).sum(), x, create_graph=True)
        (g * g).sum()
    refusals = [replay_refusal(c.fn) for c in calls]
    assert any(r and "CreateGraphWalk" in r for r in refusals)
    with rg.autograd.record() as calls:
        rg.autograd.grad((x**3).sum(), x)
    assert not any(replay_refusal(c.fn) for c in calls)


def test_grad_clipping_after_create_graph_backward_clips_the_values():
    w = rg.nn.Parameter(np.array([3.0, 4.0]))
    (w**2).sum().backward(create_graph=True)
    assert rg.nn.utils.clip_grad_norm_([w], 1.0) == pytest.approx(10.0)
    np.testing.assert_allclose(w.grad, [0.6, 0.8], rtol=1e-6)
    v = rg.nn.Parameter(np.array([3.0, -4.0]))
    (v**2).sum().backward(create_graph=True)
    rg.nn.utils.clip_grad_value_([v], 1.0)
    np.testing.assert_allclose(v.grad, [1.0, -1.0])
