"""torch's comparison functions, one-argument where, dtype names and clamp's dtype."""

import numpy as np
import pytest

import retrograd as rg

torch = pytest.importorskip("torch")

A = np.array([[1.0, -2.0, 3.0], [0.5, 2.0, -1.0]], np.float32)
B = np.array([2.0, -2.0, 1.0], np.float32)


@pytest.mark.parametrize(
    "name",
    ["eq", "ne", "lt", "le", "gt", "ge", "not_equal", "less", "less_equal", "greater",
     "greater_equal"],
)  # fmt: skip
@pytest.mark.parametrize("other", ["tensor", "scalar"])
def test_comparison_functions_match_torch(name, other):
    o = B if other == "tensor" else 2
    got = getattr(rg, name)(rg.tensor(A), rg.tensor(o) if other == "tensor" else o)
    want = getattr(torch, name)(torch.tensor(A), torch.tensor(o) if other == "tensor" else o)
    assert got.dtype == np.bool_
    np.testing.assert_array_equal(got.data, want.numpy())


def test_equal():
    assert rg.equal(rg.tensor(A), rg.tensor(A.copy()))
    assert not rg.equal(rg.tensor(A), rg.tensor(A[:1]))
    assert not rg.equal(rg.tensor(B), rg.tensor(B + 1))


def test_where_with_only_a_condition_is_nonzero_as_tuple():
    m = A > 0
    got = rg.where(rg.tensor(m))
    want = torch.where(torch.tensor(m))
    assert len(got) == len(want) == 2
    for g, w in zip(got, want):
        np.testing.assert_array_equal(g.data, w.numpy())
        assert g.dtype == np.int64
    with pytest.raises(TypeError, match="both a and b"):
        rg.where(rg.tensor(m), rg.tensor(A))


@pytest.mark.parametrize(
    "name", ["float16", "half", "double", "int8", "int16", "int32", "int64", "uint8", "short",
             "long", "bool", "int", "float"],
)  # fmt: skip
def test_dtype_names_are_torch_s(name):
    want = str(getattr(torch, name)).replace("torch.", "")
    assert np.dtype(getattr(rg, name)) == np.dtype(want)
    assert rg.zeros(2, dtype=getattr(rg, name)).dtype == np.dtype(want)


def test_star_import_keeps_the_builtins():
    ns: dict = {}
    exec("from retrograd import *", ns)
    assert "bool" not in ns and "int" not in ns and "float" not in ns


@pytest.mark.parametrize("bounds", [(-0.5, 2.5), (0.5, None), (None, 2.0), (0, 2)])
@pytest.mark.parametrize("dtype", [np.int64, np.int32, np.uint8])
def test_clamp_of_an_integer_tensor_takes_torch_s_dtype(bounds, dtype):
    x = np.array([0, 1, 5], dtype)
    lo, hi = bounds
    got = rg.tensor(x).clamp(lo, hi)
    old = torch.get_default_dtype()  # other tests may have changed torch's default
    torch.set_default_dtype(torch.float32)
    try:
        want = torch.tensor(x).clamp(lo, hi)
    finally:
        torch.set_default_dtype(old)
    assert str(got.dtype) == str(want.dtype).replace("torch.", "")
    np.testing.assert_array_equal(got.data, want.numpy())
