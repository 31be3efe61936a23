"""In-place modification detection (PyTorch's version counter), one test per write path.

Each path that modifies a tensor the graph needs between forward and backward must make
backward raise (PyTorch: "one of the variables needed for gradient computation has been
modified by an inplace operation") instead of returning a gradient for the new values.
"""

from __future__ import annotations

import numpy as np
import pytest

import retrograd as rg
from retrograd.autograd.inplace import InplaceModificationError

MSG = r"modified by an inplace operation.*modified by {}"


def _w():
    return rg.nn.Parameter(rg.tensor([1.0, 2.0, 3.0]))


def test_data_inplace_arithmetic_is_seen():
    w = _w()
    y = (w * w).sum()
    w.data *= 3
    with pytest.raises(InplaceModificationError, match=MSG.format(r"an in-place write to \.data")):
        y.backward()
    # a fresh forward after the write is fine, and its gradient is for the new values
    (w * w).sum().backward()
    np.testing.assert_allclose(w.grad, 2 * 3 * np.array([1.0, 2.0, 3.0]))


def test_error_is_a_runtime_error_naming_the_op():
    w = _w()
    y = (w * w).sum()
    w.data += 1
    with pytest.raises(RuntimeError, match=r"input 0 of Mul"):
        y.backward()


@pytest.mark.parametrize(
    "make",
    [
        lambda p: rg.optim.SGD(p, lr=0.1),
        lambda p: rg.optim.SGD(p, lr=0.1, momentum=0.9),
        lambda p: rg.optim.SGD(p, lr=0.1, momentum=0.9, weight_decay=0.1, nesterov=True),
        lambda p: rg.optim.Adam(p, lr=0.1),
        lambda p: rg.optim.AdamW(p, lr=0.1),
        lambda p: rg.optim.RMSprop(p, lr=0.1),
    ],
    ids=["sgd", "sgd-momentum", "sgd-nesterov", "adam", "adamw", "rmsprop"],
)
def test_optimizer_step_between_forward_and_backward(make):
    net = rg.nn.Linear(3, 2)
    opt = make(net.parameters())
    net(rg.ones(4, 3)).sum().backward()  # every parameter has a gradient
    y = net(rg.ones(4, 3)).sum()
    opt.step()
    name = type(opt).__name__
    with pytest.raises(InplaceModificationError, match=MSG.format(rf"{name}\.step")):
        y.backward()


def test_lbfgs_step_is_recorded():
    w = _w()
    opt = rg.optim.LBFGS([w], lr=0.1, max_iter=2)
    y = (w * w).sum()

    def closure():
        opt.zero_grad()
        loss = (w * w).sum()
        loss.backward()
        return loss

    opt.step(closure)
    with pytest.raises(InplaceModificationError, match=r"LBFGS\.step"):
        y.backward()


def test_normal_training_loop_is_not_flagged():
    net = rg.nn.Sequential(rg.nn.Linear(3, 4), rg.nn.ReLU(), rg.nn.Linear(4, 2))
    opt = rg.optim.SGD(net.parameters(), lr=0.1, momentum=0.9)
    for _ in range(3):
        opt.zero_grad()
        net(rg.ones(2, 3)).sum().backward()
        opt.step()


@pytest.mark.parametrize(
    "write, name",
    [
        (lambda t: t.add_(1.0), "add_"),
        (lambda t: t.sub_(1.0), "sub_"),
        (lambda t: t.mul_(2.0), "mul_"),
        (lambda t: t.div_(2.0), "div_"),
        (lambda t: t.pow_(2.0), "pow_"),
        (lambda t: t.clamp_(0.0, 1.0), "clamp_"),
        (lambda t: t.clip_(0.0, 1.0), "clip_"),
        (lambda t: t.relu_(), "relu_"),
        (lambda t: t.zero_(), "zero_"),
        (lambda t: t.fill_(2.0), "fill_"),
        (lambda t: t.copy_(rg.tensor([4.0, 5.0, 6.0])), "copy_"),
        (lambda t: t.uniform_(), "uniform_"),
        (lambda t: t.normal_(), "normal_"),
        (lambda t: t.__iadd__(1.0), "add_"),
        (lambda t: t.__isub__(1.0), "sub_"),
        (lambda t: t.__imul__(2.0), "mul_"),
        (lambda t: t.__itruediv__(2.0), "div_"),
    ],
)
def test_inplace_methods_on_a_leaf_under_no_grad(write, name):
    w = _w()
    before = w.data
    y = (w * w).sum()
    with rg.no_grad():
        out = write(w)
    assert out is w and w.data is before  # written into the same array, as in torch
    with pytest.raises(InplaceModificationError, match=MSG.format(name)):
        y.backward()


def test_inplace_on_a_leaf_requiring_grad_is_refused_while_recording():
    w = _w()
    with pytest.raises(RuntimeError, match=r"leaf Variable that requires grad"):
        w += 1
    with pytest.raises(RuntimeError, match=r"leaf Variable that requires grad"):
        w.zero_()


def test_inplace_on_a_graph_tensor_matches_torch():
    torch = pytest.importorskip("torch")
    x = rg.tensor([1.0, 2.0], requires_grad=True)
    h = x * 2
    h += 1  # a new graph node; earlier nodes keep the old value
    h.mul_(x)
    (h * h).sum().backward()
    xt = torch.tensor([1.0, 2.0], requires_grad=True)
    ht = xt * 2
    ht += 1
    ht.mul_(xt)
    (ht * ht).sum().backward()
    np.testing.assert_allclose(x.grad, xt.grad.numpy(), rtol=1e-6)
    np.testing.assert_allclose(h.data, ht.detach().numpy(), rtol=1e-6)


def test_inplace_on_a_graph_tensor_read_earlier_raises():
    x = rg.tensor([1.0, 2.0], requires_grad=True)
    h = x * 2
    z = h * h  # reads h
    h += 1
    with pytest.raises(InplaceModificationError, match=r"input 0 of Mul.*add_"):
        z.sum().backward()


def test_inplace_into_a_saved_output_under_no_grad_raises():
    x = rg.tensor([1.0, 2.0], requires_grad=True)
    z = x.exp()  # saves its output
    with rg.no_grad():
        z.add_(1.0)
    with pytest.raises(InplaceModificationError, match=r"the output of Exp"):
        z.sum().backward()


def test_views_share_the_record():
    w = rg.nn.Parameter(rg.tensor([[1.0, 2.0], [3.0, 4.0]]))
    y = (w * w).sum()
    v = w.detach()  # shares memory, as torch's detach
    with rg.no_grad():
        v.mul_(2.0)
    with pytest.raises(InplaceModificationError):
        y.backward()


def test_load_state_dict_and_init_and_vector_to_parameters_are_seen():
    net = rg.nn.Linear(2, 2)
    sd = {k: v.copy() for k, v in net.state_dict().items()}
    for write in (
        lambda: net.load_state_dict(sd),
        lambda: rg.nn.init.uniform_(net.weight, -1, 1),
        lambda: rg.nn.init.constant_(net.weight, 0.5),
        lambda: rg.nn.utils.vector_to_parameters(
            rg.nn.utils.parameters_to_vector(net.parameters()), net.parameters()
        ),
    ):
        y = net(rg.ones(1, 2)).sum()
        write()
        with pytest.raises(InplaceModificationError):
            y.backward()


def test_inplace_result_dtype_and_shape_rules():
    i = rg.tensor([1, 2])
    with pytest.raises(TypeError, match=r"can't be cast"):
        i += 0.5
    x = rg.zeros(3)
    with pytest.raises(rg.ShapeError, match=r"does not fit"):
        x.add_(rg.ones(2, 3))


def test_compiled_step_still_replays_bitwise():
    def run(compiled):
        rg.manual_seed(0)
        net = rg.nn.Sequential(rg.nn.Linear(4, 8), rg.nn.ReLU(), rg.nn.Linear(8, 3))
        opt = rg.optim.SGD(net.parameters(), lr=0.1, momentum=0.9)
        lf = rg.nn.CrossEntropyLoss()
        x, y = np.ones((5, 4), np.float32), np.array([0, 1, 2, 0, 1])
        step = rg.train.compile_step(net, lf, opt)
        for _ in range(4):
            if compiled:
                step(x, y)
            else:
                opt.zero_grad()
                lf(net(rg.tensor(x)), rg.tensor(y)).backward()
                opt.step()
        return [p.data.copy() for p in net.parameters()], step

    eager, _ = run(False)
    comp, step = run(True)
    assert step.replays == 3 and step.eager_reason is None
    for a, b in zip(eager, comp):
        np.testing.assert_array_equal(a, b)


def test_an_array_saved_by_a_node_is_checked_too():
    # where() keeps its condition as a saved array, not as a graph input: overwriting the
    # condition tensor before backward would route the gradient by the new mask.
    x = rg.tensor([1.0, -2.0, 3.0], requires_grad=True)
    cond = x > 0
    y = rg.where(cond, x, 0.0).sum()
    with rg.no_grad():
        cond.fill_(True)
    with pytest.raises(InplaceModificationError, match=r"an array saved by Where.*fill_"):
        y.backward()
