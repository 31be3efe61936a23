"""The engine: graph recording, the iterative walk, accumulation, aliasing, registration."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest

import retrograd as rg
from retrograd.autograd.engine import toposort
from retrograd.autograd.function import PRIMITIVES, Function, unbroadcast


def test_chain_of_100000_ops_backpropagates():
    # The walk is iterative: a recursive one would hit Python's recursion limit long before.
    x = rg.tensor(np.array([1.0, -2.0]), requires_grad=True)
    y = x
    for _ in range(50_000):
        y = (y * 1.0001) + 0.5
    assert y._ctx is not None
    y.sum().backward()
    np.testing.assert_allclose(x.grad, [1.0001**50_000] * 2, rtol=1e-9)


def test_gradients_are_released_as_the_walk_goes():
    # 400 ops on an 80 kB array: holding every intermediate gradient would need 32 MB;
    # popping each once used keeps only the walk's frontier alive.
    x = rg.tensor(np.ones(10_000), requires_grad=True)
    y = x
    for _ in range(400):
        y = -y
    loss = y.sum()
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        loss.backward()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert x.grad[0] == 1.0
    assert peak - base < 20 * x.data.nbytes


def test_backward_twice_accumulates_like_torch(torch):
    a = np.array([[0.5, -1.0], [2.0, 0.25]])
    x = rg.tensor(a, requires_grad=True)
    w = rg.tensor(a.T.copy(), requires_grad=True)
    loss = ((x @ w).tanh() * x).sum()
    loss.backward()
    loss.backward()

    tx = torch.tensor(a, requires_grad=True)
    tw = torch.tensor(a.T.copy(), requires_grad=True)
    tl = ((tx @ tw).tanh() * tx).sum()
    tl.backward(retain_graph=True)
    tl.backward()
    np.testing.assert_allclose(x.grad, tx.grad.numpy(), rtol=1e-12)
    np.testing.assert_allclose(w.grad, tw.grad.numpy(), rtol=1e-12)

    x.zero_grad_()
    loss.backward()
    np.testing.assert_allclose(x.grad * 2, tx.grad.numpy(), rtol=1e-12)


def test_shared_subexpressions_sum_their_gradients():
    x = rg.tensor(np.array([1.0, 2.0, 3.0]), requires_grad=True)
    h = x * x  # used twice below
    (h + h * x + x).sum().backward()
    np.testing.assert_allclose(x.grad, 2 * x.data + 3 * x.data**2 + 1)


def test_leaf_gradients_never_alias_each_other_or_the_cotangent():
    x = rg.tensor(np.zeros(3), requires_grad=True)
    y = rg.tensor(np.zeros(3), requires_grad=True)
    (x + y).sum().backward()  # Add hands the same array to both parents
    assert not np.shares_memory(x.grad, y.grad)
    x.grad += 5.0
    np.testing.assert_array_equal(y.grad, [1.0, 1.0, 1.0])
    (x + y).sum().backward()
    np.testing.assert_array_equal(x.grad, [7.0, 7.0, 7.0])
    np.testing.assert_array_equal(y.grad, [2.0, 2.0, 2.0])

    leaf = rg.tensor(np.zeros(2), requires_grad=True)
    g = np.array([1.0, 2.0])
    leaf.backward(g)
    g[:] = 100.0
    np.testing.assert_array_equal(leaf.grad, [1.0, 2.0])


def test_grad_has_the_data_shape_dtype_and_is_writable():
    x = rg.tensor(np.ones((2, 3), np.float32), requires_grad=True)
    (x.sum(axis=0) * 2.0).sum().backward()  # Sum's VJP is a read-only broadcast view
    assert x.grad.shape == (2, 3) and x.grad.dtype == np.float32
    assert x.grad.flags.writeable
    np.testing.assert_array_equal(x.grad, np.full((2, 3), 2.0, np.float32))


def test_requires_grad_propagates_and_leaves_are_leaves():
    a = rg.tensor([1.0, 2.0], requires_grad=True)
    b = rg.tensor([3.0, 4.0])
    c = a * b
    d = b * b
    assert c.requires_grad and not c.is_leaf and type(c.grad_fn).__name__ == "Mul"
    assert not d.requires_grad and d.is_leaf and d.grad_fn is None
    assert a.is_leaf and a.grad_fn is None
    c.sum().backward()
    assert c.grad is None  # non-leaf tensors keep no gradient, as in PyTorch
    np.testing.assert_array_equal(a.grad, b.data)
    assert b.grad is None


def test_detach_cuts_the_graph_and_shares_data():
    x = rg.tensor([1.0, 2.0], requires_grad=True)
    y = x * 3.0
    d = y.detach()
    assert not d.requires_grad and d.is_leaf
    assert np.shares_memory(d.data, y.data)
    (x * d).sum().backward()
    np.testing.assert_array_equal(x.grad, [3.0, 6.0])  # no path through d


def test_no_grad_results_do_not_require_grad():
    x = rg.tensor([1.0], requires_grad=True)
    with rg.no_grad():
        y = x * 2.0
    assert not y.requires_grad and y.grad_fn is None
    with pytest.raises(RuntimeError, match="does not require grad"):
        y.backward()


def test_backward_needs_a_gradient_for_non_scalar_outputs():
    x = rg.tensor([1.0, 2.0], requires_grad=True)
    y = x * 2.0
    with pytest.raises(RuntimeError, match="one-element"):
        y.backward()
    with pytest.raises(ValueError, match=r"shape \(3,\).*\(2,\)"):
        y.backward(np.ones(3))
    y.backward(rg.tensor([1.0, -1.0]))
    np.testing.assert_array_equal(x.grad, [2.0, -2.0])


def test_backward_from_a_leaf_sets_its_grad():
    x = rg.tensor(np.array(3.0), requires_grad=True)
    x.backward()
    assert x.grad == 1.0


def test_toposort_orders_consumers_before_producers():
    x = rg.tensor([1.0], requires_grad=True)
    a = x * 2.0
    b = a + x
    c = b * a
    order = toposort(c)
    assert order[0] is c
    pos = {id(t): i for i, t in enumerate(order)}
    assert pos[id(c)] < pos[id(b)] < pos[id(a)]
    assert all(t._ctx is not None for t in order)


@pytest.mark.parametrize(
    "gshape, shape",
    [((3, 4), (3, 4)), ((3, 4), (4,)), ((3, 4), (1, 4)), ((2, 3, 4), (3, 1)), ((2, 3), ())],
)
def test_unbroadcast_sums_broadcast_axes(gshape, shape):
    g = np.arange(np.prod(gshape), dtype=float).reshape(gshape)
    out = unbroadcast(g, shape)
    assert out.shape == shape
    expected = np.sum(g) if shape == () else None
    if expected is not None:
        assert out == expected
    # The sum over all axes is preserved: broadcasting copies, its VJP adds.
    assert np.isclose(out.sum(), g.sum())


def test_missing_vjp_raises_not_implemented_naming_the_op():
    class NoVJP(Function):
        def forward(self, a):
            return a * 2

    try:
        x = rg.tensor([1.0], requires_grad=True)
        y = NoVJP.apply(x)
        with pytest.raises(NotImplementedError, match="NoVJP"):
            y.sum().backward()
    finally:
        PRIMITIVES.pop("NoVJP", None)


def test_every_op_registers_as_a_primitive():
    for name in ("Add", "MatMul", "Sum", "GetItem", "Linear", "CrossEntropy", "LogSoftmax"):
        assert PRIMITIVES[name].__module__.startswith("retrograd.ops.")


def test_duplicate_primitive_names_inside_the_package_are_rejected():
    type("DupProbe", (Function,), {"__module__": "retrograd._probe_a"})
    try:
        with pytest.raises(TypeError, match="DupProbe.*unique"):
            type("DupProbe", (Function,), {"__module__": "retrograd._probe_b"})
        # The same class defined again (a module reload) simply replaces the entry.
        again = type("DupProbe", (Function,), {"__module__": "retrograd._probe_a"})
        assert PRIMITIVES["DupProbe"] is again
    finally:
        PRIMITIVES.pop("DupProbe", None)


def test_outside_classes_never_shadow_a_library_primitive():
    class Add(Function):  # same name as the library's Add
        def forward(self, a, b):
            return a - b

    key = f"{Add.__module__}.{Add.__qualname__}"
    try:
        assert PRIMITIVES["Add"].__module__ == "retrograd.ops.elementwise"
        assert PRIMITIVES[key] is Add
        assert (rg.tensor([1.0]) + rg.tensor([2.0])).item() == 3.0
    finally:
        PRIMITIVES.pop(key, None)


def test_ndarray_on_the_left_defers_to_the_tensor():
    x = rg.tensor(np.array([1.0, 2.0]), requires_grad=True)
    y = np.array([3.0, 4.0]) * x + np.ones(2)
    assert isinstance(y, rg.Tensor) and y.requires_grad
    y.sum().backward()
    np.testing.assert_array_equal(x.grad, [3.0, 4.0])


def test_comparisons_give_tensors_without_gradient():
    x = rg.tensor([1.0, 2.0, 3.0], requires_grad=True)
    m = x > 1.5
    assert isinstance(m, rg.Tensor) and m.dtype == bool and not m.requires_grad
    np.testing.assert_array_equal(m.data, [False, True, True])


def test_grad_of_a_0d_leaf_is_a_0d_ndarray():
    # NumPy hands back scalars (np.float32) for 0-d results; .grad must stay an ndarray
    # of the leaf's shape and dtype, so that in-place accumulation works as on any array.
    for f in (lambda x: x * x, lambda x: (x * 3).sum(), lambda x: x.exp()):
        x = rg.tensor(2.0, requires_grad=True)
        f(x).backward()
        assert type(x.grad) is np.ndarray and x.grad.shape == () and x.grad.dtype == np.float32
        f(x).backward()
        assert type(x.grad) is np.ndarray
    y = rg.tensor(1.5, requires_grad=True) * 2
    y.retain_grad()
    (y * y).backward()
    assert type(y.grad) is np.ndarray and y.grad.shape == ()
