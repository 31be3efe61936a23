"""The whole-step MLP kernel: the op-by-op step's bits, or not used."""

from __future__ import annotations

import numpy as np
import pytest

import retrograd as rg
from retrograd import kernels

pytest.importorskip("numba")
from retrograd.kernels import _blas  # noqa: E402

pytestmark = pytest.mark.skipif(
    kernels.backend() != "numba" or _blas.library() is None or not _blas.library().ilp64,
    reason="the whole-step kernel needs the Numba kernels and NumPy's ILP64 OpenBLAS",
)


def _net(sizes, relu=True, final_relu=False):
    layers = []
    for k, (i, o) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(rg.nn.Linear(i, o))
        last = k == len(sizes) - 2
        if (relu and not last) or (last and final_relu):
            layers.append(rg.nn.ReLU())
    return rg.nn.Sequential(*layers)


def _opt(kind, params):
    if kind == "sgd":
        return rg.optim.SGD(params, lr=0.05, momentum=0.9)
    if kind == "plain":
        return rg.optim.SGD(params, lr=0.1)
    return rg.optim.Adam(params, lr=1e-2)


def _twins(build, dtype, opt):
    out = []
    for _ in range(2):
        rg.manual_seed(3)
        m = build()
        if dtype == np.float64:
            m = m.double()
        out.append((m, _opt(opt, m.parameters())))
    return out


def _eager(m, lf, opt, x, y):
    opt.zero_grad()
    loss = lf(m(rg.tensor(x)), rg.tensor(y))
    loss.backward()
    opt.step()
    return float(loss.data)


def _run(build, dtype, batch, opt="sgd", reduction="mean", n=48, classes=None, ytype=np.int64):
    (m1, o1), (m2, o2) = _twins(build, dtype, opt)
    d = m1[0].in_features
    classes = classes or list(m1.parameters())[-1].shape[0]
    rng = np.random.default_rng(batch)
    x = rng.standard_normal((n, d)).astype(dtype)
    y = rng.integers(0, classes, n).astype(ytype)
    lf = rg.nn.CrossEntropyLoss(reduction=reduction)
    step = rg.train.compile_step(m2, lf, o2)
    for _ in range(3):
        for i in range(0, n - batch + 1, batch):
            xb, yb = x[i : i + batch], y[i : i + batch]
            assert step(xb, yb) == _eager(m1, lf, o1, xb, yb)
        for p1, p2 in zip(m1.parameters(), m2.parameters()):
            assert p1.data.tobytes() == p2.data.tobytes()
            assert p1.grad.tobytes() == p2.grad.tobytes()
    return step


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("batch", [1, 2, 16])
@pytest.mark.parametrize(
    "sizes", [(64, 32, 32, 10), (5, 7, 3), (12, 2), (9, 16, 8, 6, 4), (30, 64, 64)]
)
def test_the_kernel_gives_the_op_by_op_bits(dtype, batch, sizes):
    step = _run(lambda: _net(sizes), dtype, batch)
    assert step.fused_replays == step.replays > 0


@pytest.mark.parametrize("opt", ["plain", "adam"])
@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_optimizers_and_reductions(opt, reduction):
    step = _run(lambda: _net((20, 16, 5)), np.float32, 4, opt=opt, reduction=reduction)
    assert step.fused_replays == step.replays > 0


def test_linear_layers_without_activation_and_a_final_relu():
    step = _run(lambda: _net((10, 8, 8, 4), relu=False), np.float32, 3)
    assert step.fused_replays == step.replays > 0
    step = _run(lambda: _net((10, 8, 4), final_relu=True), np.float32, 3)
    assert step.fused_replays == step.replays > 0


@pytest.mark.parametrize("ytype", [np.int32, np.uint8])
def test_label_dtypes(ytype):
    step = _run(lambda: _net((10, 8, 4)), np.float32, 5, ytype=ytype)
    assert step.fused_replays == step.replays > 0


@pytest.mark.parametrize("batch", [1, 8])
def test_flattened_image_batches(batch):
    def build():
        return rg.nn.Sequential(rg.nn.Flatten(), _net((64, 16, 10)))

    (m1, o1), (m2, o2) = _twins(build, np.float32, "sgd")
    rng = np.random.default_rng(0)
    x = rng.standard_normal((32, 1, 8, 8)).astype(np.float32)
    y = rng.integers(0, 10, 32)
    lf = rg.nn.CrossEntropyLoss()
    step = rg.train.compile_step(m2, lf, o2)
    for i in range(0, 32, batch):
        assert step(x[i : i + batch], y[i : i + batch]) == _eager(
            m1, lf, o1, x[i : i + batch], y[i : i + batch]
        )
    for p1, p2 in zip(m1.parameters(), m2.parameters()):
        assert p1.data.tobytes() == p2.data.tobytes()
    assert step.fused_replays == step.replays > 0


def test_large_batches_and_layers_take_the_same_products():
    step = _run(lambda: _net((100, 300, 10)), np.float32, 128, n=256)
    assert step.fused_replays == step.replays > 0


@pytest.mark.parametrize(
    "build",
    [
        lambda: rg.nn.Sequential(rg.nn.Linear(6, 8), rg.nn.Tanh(), rg.nn.Linear(8, 3)),
        lambda: rg.nn.Sequential(rg.nn.Linear(6, 1)),  # one output unit
        lambda: rg.nn.Sequential(rg.nn.Linear(1, 8), rg.nn.ReLU(), rg.nn.Linear(8, 3)),
        lambda: rg.nn.Sequential(rg.nn.Linear(6, 8, bias=False), rg.nn.ReLU(), rg.nn.Linear(8, 3)),
        lambda: rg.nn.Sequential(rg.nn.Linear(6, 100)),  # more classes than the loss kernel
    ],
)
def test_other_networks_replay_op_by_op(build):
    (m1, o1), (m2, o2) = _twins(build, np.float32, "sgd")
    d = m1[0].in_features
    classes = m1(rg.zeros(1, d)).shape[1]
    rng = np.random.default_rng(0)
    x = rng.standard_normal((8, d)).astype(np.float32)
    y = rng.integers(0, classes, 8)
    lf = rg.nn.CrossEntropyLoss()
    step = rg.train.compile_step(m2, lf, o2)
    for _ in range(3):
        assert step(x, y) == _eager(m1, lf, o1, x, y)
    assert step.replays == 2 and step.fused_replays == 0


def test_batches_the_kernel_does_not_take_go_op_by_op():
    (m1, o1), (m2, o2) = _twins(lambda: _net((6, 8, 3)), np.float32, "sgd")
    rng = np.random.default_rng(0)
    x = rng.standard_normal((8, 6)).astype(np.float32)
    y = rng.integers(0, 3, 8)
    lf = rg.nn.CrossEntropyLoss()
    step = rg.train.compile_step(m2, lf, o2)
    assert step(x, y) == _eager(m1, lf, o1, x, y)
    assert step(x, y) == _eager(m1, lf, o1, x, y)
    assert step.fused_replays == 1
    xf = np.asfortranarray(x)  # same shape and dtype, another memory order
    assert step(xf, y) == _eager(m1, lf, o1, xf, y)
    assert step.fused_replays == 1 and step.replays == 2
    # a parameter given a float64 array keeps its shape: the step must not mix types
    for m in (m1, m2):
        m[0].weight.data = m[0].weight.data.astype(np.float64)
    assert step(x, y) == _eager(m1, lf, o1, x, y)
    for p1, p2 in zip(m1.parameters(), m2.parameters()):
        assert p1.data.tobytes() == p2.data.tobytes() and p1.data.dtype == p2.data.dtype


def test_bad_labels_raise_and_change_nothing():
    net = _net((6, 8, 3))
    step = rg.train.compile_step(net, rg.nn.CrossEntropyLoss(), rg.optim.SGD(net.parameters(), 0.1))
    x = np.ones((4, 6), np.float32)
    y = np.array([0, 1, 2, 0])
    step(x, y)
    step(x, y)
    assert step.fused_replays == 1
    before = [p.data.copy() for p in net.parameters()]
    for bad in (3, -1):
        yb = y.copy()
        yb[2] = bad
        with pytest.raises(ValueError, match=f"class {bad}"):
            step(x, yb)
        for b, p in zip(before, net.parameters()):
            np.testing.assert_array_equal(b, p.data)


def test_gradients_accumulate_into_existing_grads_like_backward():
    (m1, _), (m2, _) = _twins(lambda: _net((6, 8, 3)), np.float32, "sgd")
    lf = rg.nn.CrossEntropyLoss()
    step = rg.train.compile_step(m2, lf)
    rng = np.random.default_rng(1)
    x = rng.standard_normal((5, 6)).astype(np.float32)
    y = rng.integers(0, 3, 5)
    for _ in range(3):  # no zero_grad: gradients add up, as repeated backward calls do
        out, loss = step.forward_backward(x, y)
        ref = lf(m1(rg.tensor(x)), rg.tensor(y))
        ref.backward()
        assert loss.item() == ref.item()
    for p1, p2 in zip(m1.parameters(), m2.parameters()):
        assert p1.grad.tobytes() == p2.grad.tobytes()
    assert step.fused_replays == 2


def test_a_recording_onto_existing_gradients_is_not_checked_so_not_fused():
    # The check compares the kernel's gradients with the recording's; when the recording
    # added to gradients already there, its own are not known: op by op, as before.
    (m1, _), (m2, _) = _twins(lambda: _net((6, 8, 3)), np.float32, "sgd")
    lf = rg.nn.CrossEntropyLoss()
    x = np.ones((5, 6), np.float32)
    y = np.array([0, 1, 2, 0, 1])
    for m in (m1, m2):
        lf(m(rg.tensor(x)), rg.tensor(y)).backward()
    step = rg.train.compile_step(m2, lf)
    for _ in range(3):
        step.forward_backward(x, y)
        lf(m1(rg.tensor(x)), rg.tensor(y)).backward()
    for p1, p2 in zip(m1.parameters(), m2.parameters()):
        assert p1.grad.tobytes() == p2.grad.tobytes()
    assert step.replays == 2 and step.fused_replays == 0


def test_each_gradient_is_a_new_array():
    net = _net((6, 8, 3))
    opt = rg.optim.SGD(net.parameters(), lr=0.1)
    step = rg.train.compile_step(net, rg.nn.CrossEntropyLoss(), opt)
    x = np.ones((4, 6), np.float32)
    y = np.array([0, 1, 2, 0])
    step(x, y)
    step(x, y)
    kept = [p.grad for p in net.parameters()]
    copies = [g.copy() for g in kept]
    step(x, y)
    assert step.fused_replays == 2
    for g, c, p in zip(kept, copies, net.parameters()):
        assert p.grad is not g
        np.testing.assert_array_equal(g, c)  # an old .grad is never written again


def test_fit_with_the_kernel_is_the_eager_fit(monkeypatch):
    from retrograd.train import compiled

    made = []
    real = compiled.CompiledStep.__init__

    def spy(self, *a, **k):
        real(self, *a, **k)
        made.append(self)

    monkeypatch.setattr(compiled.CompiledStep, "__init__", spy)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((70, 8)).astype(np.float32)  # (the last batch is short)
    y = rng.integers(0, 3, 70)
    results = []
    for flag in (True, False):
        rg.manual_seed(0)
        net = _net((8, 16, 3))
        opt = rg.optim.SGD(net.parameters(), lr=0.1, momentum=0.9)
        h = rg.train.fit(net, rg.nn.CrossEntropyLoss(), opt, (x, y), epochs=3, batch_size=16,
                         seed=1, verbose=0, compile_step=flag)  # fmt: skip
        results.append(([p.data.tobytes() for p in net.parameters()], h["loss"]))
    assert results[0] == results[1]
    assert made and sum(s.fused_replays for s in made) > 0


def test_the_kernel_can_be_switched_off():
    (m1, o1), (m2, o2) = _twins(lambda: _net((6, 8, 3)), np.float32, "sgd")
    lf = rg.nn.CrossEntropyLoss()
    x = np.ones((4, 6), np.float32)
    y = np.array([0, 1, 2, 0])
    on, off = rg.train.compile_step(m1, lf, o1), rg.train.compile_step(m2, lf, o2)
    off.whole_step_kernel = False
    for _ in range(3):
        assert on(x, y) == off(x, y)
    assert on.fused_replays == 2 and off.fused_replays == 0 and off.replays == 2
    on.whole_step_kernel = False  # holds from the next step: the recording is redone
    for _ in range(2):
        assert on(x, y) == off(x, y)
    assert on.fused_replays == 2 and on.recordings == 2
    with pytest.raises(TypeError, match="whole_step_kernel"):
        on.whole_step_kernel = "no"


def test_read_only_batches_and_a_failing_kernel(monkeypatch):
    (m1, o1), (m2, o2) = _twins(lambda: _net((6, 8, 3)), np.float32, "sgd")
    lf = rg.nn.CrossEntropyLoss()
    rng = np.random.default_rng(2)
    x = rng.standard_normal((4, 6)).astype(np.float32)
    y = rng.integers(0, 3, 4)
    x.setflags(write=False)
    y.setflags(write=False)
    step = rg.train.compile_step(m2, lf, o2)
    for _ in range(3):
        assert step(x, y) == _eager(m1, lf, o1, x, y)
    assert step.fused_replays == 2
    # A kernel that fails (it never should) leaves the step to the op-by-op replay.
    from retrograd.kernels import _mlp_numba

    def broken(*args):
        raise RuntimeError("kernel failure")

    (prog,) = step._programs.values()
    monkeypatch.setitem(prog.__globals__, "STEP", broken)
    for _ in range(2):
        assert step(x, y) == _eager(m1, lf, o1, x, y)
    assert step.fused_replays == 2 and step.replays == 4
    for p1, p2 in zip(m1.parameters(), m2.parameters()):
        assert p1.data.tobytes() == p2.data.tobytes()
    assert _mlp_numba.mlp_step is not broken
