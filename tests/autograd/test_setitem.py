"""``x[index] = value`` against torch: values, dtypes, gradients and in-place rules."""

import numpy as np
import pytest

import retrograd as rg

torch = pytest.importorskip("torch")

R = np.random.RandomState(0)
X = R.randn(2, 3, 4).astype(np.float32)

CASES = [
    ((0,), (3, 4)),
    ((slice(None), 1), (2, 4)),
    ((Ellipsis, -1), ()),
    (([0, 1], slice(None), [1, 2]), (2, 3)),
    ((0, slice(None), [1, 2]), (3, 2)),  # torch's order: (3, 2), NumPy's: (2, 3)
    ((slice(None), [0, 2]), (4,)),
    (([1, 1, 0],), (3, 4)),  # a repeated place: every occurrence gets its gradient
    ((X > 0,), ()),
    ((slice(1, None), None, 0), (1, 1, 4)),
    ((1, 2), (1, 1, 4)),  # leading ones in the value are dropped, as torch
]


def _index(lib, index):
    return tuple(lib.tensor(i) if isinstance(i, np.ndarray) else i for i in index)


@pytest.mark.parametrize("index, vshape", CASES)
def test_setitem_matches_torch(index, vshape):
    v = np.asarray(R.randn(*vshape), dtype=np.float32)
    outs = []
    for lib in (rg, torch):
        x = lib.tensor(X.copy(), requires_grad=True)
        val = lib.tensor(v.copy(), requires_grad=True)
        y = x * 2
        y[_index(lib, index)] = val * 3
        (y * lib.tensor(X)).sum().backward()
        outs.append([np.asarray(t.detach().numpy()) for t in (y,)] + [x.grad, val.grad])
    (ry, rgx, rgv), (ty, tgx, tgv) = outs
    np.testing.assert_allclose(ry, ty, rtol=1e-6)
    np.testing.assert_allclose(rgx, tgx.numpy(), rtol=1e-6)
    np.testing.assert_allclose(rgv, tgv.numpy(), rtol=1e-5, atol=1e-6)


def test_setitem_casts_to_the_tensor_dtype_and_writes_in_place():
    i = rg.tensor([[1, 2], [3, 4]])
    arr = i.data
    i[i > 2] = 0
    i[0, 0] = 3.7  # cast, as torch
    assert i.dtype == np.int64 and i.tolist() == [[3, 2], [0, 0]]
    assert arr is i.data  # no graph: written into the array
    s = rg.tensor(1.0)
    s[...] = 3
    assert s.item() == 3.0 and s.dtype == np.float32


def test_setitem_on_a_leaf_that_requires_grad():
    w = rg.zeros(3, requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf Variable"):
        w[0] = 1.0
    with rg.no_grad():
        w[1] = 2.0
    assert w.tolist() == [0.0, 2.0, 0.0] and w.grad is None


def test_setitem_after_use_is_detected():
    x = rg.tensor([1.0, 2.0], requires_grad=True)
    y = x * 2
    z = (y * y).sum()
    y[0] = 5.0
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        z.backward()


def test_setitem_value_that_does_not_broadcast():
    x = rg.zeros(2, 3)
    with pytest.raises(ValueError, match="setitem"):
        x[0] = rg.ones(2)
