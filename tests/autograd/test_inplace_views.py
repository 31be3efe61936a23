"""In-place writes into views inside a graph write through to the base, as in PyTorch.

Each scenario runs the same code on retrograd and on torch (float64) and compares the
values and the gradients; the regression cases follow PyTorch's own autograd tests
(``test_inplace_on_view_*``), and the base's gradient after in-place writes into its
views is checked against finite differences with ``rg.gradcheck``.
"""

from __future__ import annotations

import numpy as np
import pytest

import retrograd as rg
from retrograd.autograd.inplace import InplaceModificationError

torch = pytest.importorskip("torch")

X = [[1.0, -2.0, 3.0], [4.0, 5.0, -6.0], [0.5, 1.5, 2.5]]
W = [0.5, -1.0, 2.0]


def _run(lib, code):
    ns = {
        "L": lib,
        "x": lib.tensor(X, dtype=lib.float64, requires_grad=True),
        "w": lib.tensor(W, dtype=lib.float64, requires_grad=True),
    }
    exec(code, ns)
    out = ns["out"]
    (out * out).sum().backward()
    grads = [None if ns[k].grad is None else np.asarray(ns[k].grad) for k in ("x", "w")]
    return np.asarray(out.detach().numpy() if lib is torch else out.data), grads


SCENARIOS = {
    "select_mul_": "y = x * 2; y[0].mul_(3); out = y",
    "column_add_": "y = x * 2; v = y[:, 1]; v.add_(w); out = y",
    "getitem_iadd": "y = x * 2; y[0] += 1; out = y",
    "getitem_iadd_reads_same": "y = x * 2; y[0] += y[1]; out = y",
    "advanced_iadd": "y = x * 1; y[:, [0, 2]] += w[:2]; out = y",
    "mask_setitem": "y = x * 1; y[y > 2] = 0.5; out = y",
    "setitem_on_view": "y = x * 1; y[1][0] = w[2]; y.t()[2, 0] = w[1] * 3; out = y",
    "view_of_view": "y = x * 1; y.narrow(1, 1, 2).narrow(0, 0, 2).mul_(w[:2]); out = y",
    "transpose_view": "y = x.clone(); y.t()[0].clamp_(max=2); out = y",
    "reshape_view": "y = x.clone(); y.view(-1)[1:4].zero_(); out = y",
    "unsqueeze_view": "y = x * 1; y.unsqueeze(0)[0, 1].fill_(7); out = y",
    "copy_into_view": "y = x * 1; y[2].copy_(w * 5); out = y",
    "sibling_view_sees_write": "y = x * 1; a = y[0]; b = y[0]; a.mul_(w); out = b",
    "base_write_refreshes_view": "y = x * 1; v = y[:, 2]; y.mul_(2); out = v",
    "twice": "y = x * 1; y[0].mul_(w); y[0].mul_(w); y[:, 0] -= 1; out = y",
    "base_without_grad": "y = L.zeros(3, 3, dtype=L.float64); y[1].add_(w); out = y * x",
    "select_then_relu_": "y = x * 1; y.select(1, 2).relu_(); out = y",
    "inplace_arg_is_view": "y = x * 1; y[1].add_(y[0]); out = y",
}


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_writes_into_views_match_torch(name):
    code = SCENARIOS[name]
    got, grads = _run(rg, code)
    want, want_grads = _run(torch, code)
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)
    for g, wg in zip(grads, want_grads):
        if wg is None:
            assert g is None or not np.any(g)
        else:
            np.testing.assert_allclose(g, wg, rtol=1e-12, atol=1e-12)


# ------------------------------------------------ PyTorch's test_inplace_on_view_* cases
def test_view_backprop_base():
    root = rg.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    x = root.clone()
    x.narrow(0, 0, 1).mul_(2)
    x.sum().backward()
    assert root.grad.tolist() == [[2, 2], [1, 1]]


def test_view_backprop_view_of_view():
    root = rg.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    x = root.clone()
    v1 = x.narrow(0, 0, 1)
    v2 = x.narrow(0, 0, 1)
    v1.mul_(2)
    v2.sum().backward()
    assert root.grad.tolist() == [[2, 2], [0, 0]]


def test_view_of_view():
    root = rg.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    x = root.clone()
    v2 = x.narrow(0, 0, 1).narrow(1, 1, 1)
    v2.mul_(2)
    x.sum().backward()
    assert root.grad.tolist() == [[1, 2], [1, 1]]


def test_view_non_contiguous():
    root = rg.ones((2, 3, 2)).select(2, 1).t().requires_grad_(True)
    x = root.clone()
    v2 = x.narrow(0, 0, 1).narrow(1, 1, 1)
    v2.mul_(2)
    x.sum().backward()
    assert root.grad.tolist() == [[1, 2], [1, 1], [1, 1]]


def test_view_gradcheck():
    rng = np.random.default_rng(0)
    a = rg.tensor(rng.standard_normal((4, 4)), requires_grad=True)
    b = rg.tensor(rng.standard_normal((2, 2)), requires_grad=True)

    def func(root, b):
        x = root.clone()
        x.narrow(1, 2, 2).narrow(0, 1, 2).mul_(b)
        x.narrow(1, 0, 2).narrow(0, 1, 2).mul_(b)
        return x

    assert rg.gradcheck(func, [a, b])


def test_view_makes_base_require_grad():
    rng = np.random.default_rng(1)
    a = rg.tensor(rng.standard_normal((4, 4)))
    b = rg.tensor(rng.standard_normal((4, 2)), requires_grad=True)

    def func(root, b):
        x = root.clone()
        x.narrow(1, 2, 2).mul_(b)
        return x

    x = a.clone()
    assert not x.requires_grad
    x.narrow(1, 2, 2).mul_(b)
    assert x.requires_grad
    assert rg.gradcheck(func, [a, b])


def test_view_backprop_view():
    a = rg.tensor([2.0, 5.0])
    b = rg.tensor([3.0], requires_grad=True)
    res = a.narrow(0, 1, 1).mul_(b)
    res.sum().backward()
    assert b.grad.tolist() == [5]
    assert a.grad is None
    assert a.tolist() == [2.0, 15.0]


def test_view_modify_base():
    r = rg.tensor([1.0], dtype=rg.float64, requires_grad=True)

    def fn(r):
        x = rg.ones(5, dtype=rg.float64)
        v = x.select(0, 1)
        x.add_(r)  # v now depends on r through the write into its base
        return v

    x = rg.ones(5, dtype=rg.float64)
    v = x.select(0, 1)
    assert not v.requires_grad and v.grad_fn is None
    x.add_(r)
    assert v.requires_grad and v.item() == 2.0
    assert rg.gradcheck(fn, [r])


def test_view_then_no_grad():
    a = rg.ones((3, 1), dtype=rg.float64, requires_grad=True)
    b = a * 2
    c = b.view_as(b)
    c[0][0] = 3
    c.sum().backward()
    assert a.grad.tolist() == [[0.0], [2.0], [2.0]]
    assert b.tolist() == [[3.0], [2.0], [2.0]]


def test_gradcheck_setitem_with_tensors_on_views():
    rng = np.random.default_rng(2)
    x = rg.tensor(rng.standard_normal((3, 4)), requires_grad=True)
    v = rg.tensor(rng.standard_normal(2), requires_grad=True)

    def func(x, v):
        y = x * 1.5
        y[1][1:3] = v * v  # setitem into a view of y
        y.t()[0] += y[:, 2]  # a write reading the tensor it writes into
        y[:, [3, 0]] *= v
        return y

    assert rg.gradcheck(func, [x, v])


# --------------------------------------------------------------------- PyTorch's errors
def test_view_of_a_leaf_is_refused():
    x = rg.zeros(1, requires_grad=True)
    y = x.view_as(x)
    with pytest.raises(RuntimeError, match="a view of a leaf Variable that requires grad"):
        y.add_(1)
    with rg.no_grad():
        x[0].add_(1)  # allowed without recording, as initializers do
    assert x.tolist() == [1.0]


def test_multiple_output_views_are_refused():
    y = rg.ones(4, requires_grad=True) * 2
    for parts in (y.split(2), y.chunk(2), y.unbind(0)):
        with pytest.raises(RuntimeError, match="returns multiple views"):
            parts[0].add_(1)
    with rg.no_grad():
        y.split(2)[0].add_(1)
    assert y.tolist() == [3.0, 3.0, 2.0, 2.0]


def test_expanded_view_is_refused():
    y = rg.ones(3, requires_grad=True) * 2
    e = y[None].expand(2, 3)
    with pytest.raises(RuntimeError, match="more than one element"):
        e.add_(1)
    with rg.no_grad(), pytest.raises(RuntimeError, match="more than one element"):
        rg.zeros(1).expand(3).add_(1)


def test_view_made_under_no_grad_is_refused_with_grad_on():
    y = rg.ones(3, requires_grad=True) * 2
    with rg.no_grad():
        v = y[0:2]
    with pytest.raises(RuntimeError, match="created in no_grad mode"):
        v.mul_(2)


def test_detached_alias_with_a_recorded_write_is_refused():
    y = rg.ones(3, requires_grad=True) * 2
    d = y.detach()
    with pytest.raises(RuntimeError, match="detach"):
        d.add_(rg.ones(3, requires_grad=True))
    d.add_(1)  # nothing to record: written into the shared memory, as torch
    assert y.tolist() == [3.0, 3.0, 3.0]


def test_flip_is_a_copy_as_in_torch():
    y = rg.ones(3, requires_grad=True) * 2
    f = y.flip(0)
    f.add_(1)
    with rg.no_grad():
        f.add_(1)
    assert y.tolist() == [2.0, 2.0, 2.0]


# ---------------------------------------------------- version counter (saved tensors)
def test_saved_input_modified_through_a_view_raises():
    x = rg.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = x * 2
    z = y * y  # Mul saves y for its backward
    y[0].mul_(2)
    with pytest.raises(InplaceModificationError, match="modified by an inplace operation"):
        z.sum().backward()


def test_saved_output_modified_through_a_view_raises():
    x = rg.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = x.exp()  # Exp saves its output
    y[0].mul_(2)
    with pytest.raises(InplaceModificationError, match="the output of Exp"):
        y.sum().backward()


def test_torch_test_inplace():
    # PyTorch's test_autograd.test_inplace: Add does not need its inputs, Mul does.
    x = rg.ones((5, 5), requires_grad=True)
    y = rg.tensor(np.full((5, 5), 4.0, dtype=np.float32), requires_grad=True)
    z = x * y
    q = z + y
    w = z * y
    z.add_(2)
    q.backward(rg.ones((5, 5)), retain_graph=True)
    assert np.all(y.grad == 2) and np.all(x.grad == 4)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        w.backward(rg.ones((5, 5)))


def test_unsaved_input_modified_later_is_fine():
    x = rg.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = x * 2
    z = y * 3 + y[1]  # reads y, saves nothing of it
    y[0] += 10
    (z.sum() + y.sum()).backward()
    xt = torch.tensor([1.0, 2.0, 3.0], requires_grad=True)
    yt = xt * 2
    zt = yt * 3 + yt[1]
    yt[0] += 10
    (zt.sum() + yt.sum()).backward()
    np.testing.assert_allclose(x.grad, xt.grad.numpy())


# ----------------------------------------- fill_/zero_/copy_ inside a graph: zeros, not None
FILLS = [
    "y.zero_()",
    "y.fill_(2.0)",
    "y.fill_(w[0])",
    "y.copy_(w)",
    "y.copy_(w[1])",
    "y[1:].copy_(w[1:])",
    "y.t().zero_()",
    "y[:] = w",
    "y.uniform_()",
    "z = y + w; z.zero_(); y = z",
]


@pytest.mark.parametrize("op", FILLS)
def test_fill_zero_copy_give_zero_gradients_as_torch(op):
    def run(lib):
        x = lib.tensor([1.0, 2.0, 3.0], dtype=lib.float64, requires_grad=True)
        w = lib.tensor([4.0, 5.0, 6.0], dtype=lib.float64, requires_grad=True)
        ns = {"x": x, "w": w, "y": x * 2}
        exec(op, ns)
        (ns["y"] * 3).sum().backward()
        return [None if t.grad is None else np.asarray(t.grad) for t in (x, w)], ns["y"]

    grads, y = run(rg)
    want, yt = run(torch)
    assert y.requires_grad == yt.requires_grad
    for g, wg in zip(grads, want):
        assert (g is None) == (wg is None)
        if wg is not None:
            np.testing.assert_array_equal(g, wg)


def test_fill_with_a_tensor_value_needs_0_dims():
    y = rg.ones(3, requires_grad=True) * 2
    with pytest.raises(ValueError, match="0-dimensional"):
        y.fill_(rg.ones(3))
