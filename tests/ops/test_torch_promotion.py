"""PyTorch's type promotion for elementwise ops, and the refusal of non-numeric data.

Each case builds the same operands in retrograd and torch 2.13 and compares the result's
dtype and values; gradients come back in each input's own dtype.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

import retrograd as rg

torch = pytest.importorskip("torch")


@pytest.fixture(autouse=True)
def _torch_default_float32():
    # Other tests may leave torch's default dtype at float64; compare with torch's default.
    old = torch.get_default_dtype()
    torch.set_default_dtype(torch.float32)
    yield
    torch.set_default_dtype(old)


DTYPES = ["bool", "uint8", "int32", "int64", "float32", "float64"]
SCALARS = [True, 2, -1, 0.5, np.float64(0.25), np.int32(3)]
OPS = {
    "add": (lambda a, b: a + b, lambda a, b: a + b),
    "sub": (lambda a, b: a - b, lambda a, b: a - b),
    "mul": (lambda a, b: a * b, lambda a, b: a * b),
    "div": (lambda a, b: a / b, lambda a, b: a / b),
    "maximum": (rg.maximum, torch.maximum),
    "where": (
        lambda a, b: rg.where(rg.tensor([True, False, True]), a, b),
        lambda a, b: torch.where(torch.tensor([True, False, True]), a, b),
    ),
}


def _operand(dt, zero_d, lib):
    vals = (
        np.array(1 if dt == "bool" else 3)
        if zero_d
        else np.array([1, 0, 1] if dt == "bool" else [3, 1, 2])
    )
    arr = vals.astype(dt)
    return rg.tensor(arr) if lib == "rg" else torch.from_numpy(arr.copy())


def _torch_dtype_name(t):
    return str(t.dtype).replace("torch.", "")


def _skip(op, da, db):
    # torch refuses these (sub on bools, maximum/where with a bool mixed in raise or
    # differ only by refusing); retrograd promotes them, see docs/conformance.md
    return op == "sub" and "bool" in (da, db)


@pytest.mark.parametrize("op", list(OPS))
@pytest.mark.parametrize("da, db", list(itertools.product(DTYPES, DTYPES)))
@pytest.mark.parametrize("zero_d", [(False, False), (False, True), (True, False)])
def test_tensor_tensor_promotion(op, da, db, zero_d):
    if _skip(op, da, db):
        pytest.skip("torch refuses subtraction on bool tensors")
    f_rg, f_t = OPS[op]
    b_t = None
    try:
        b_t = f_t(_operand(da, zero_d[0], "t"), _operand(db, zero_d[1], "t"))
    except RuntimeError:
        pytest.skip("torch refuses this combination")
    r = f_rg(_operand(da, zero_d[0], "rg"), _operand(db, zero_d[1], "rg"))
    assert str(r.dtype) == _torch_dtype_name(b_t), (op, da, db, zero_d)
    np.testing.assert_allclose(r.data.astype(float), b_t.numpy().astype(float), rtol=1e-6)


@pytest.mark.parametrize("op", ["add", "sub", "mul", "div"])
@pytest.mark.parametrize("dt", DTYPES)
@pytest.mark.parametrize("scalar", SCALARS, ids=[repr(s) for s in SCALARS])
@pytest.mark.parametrize("scalar_first", [False, True])
def test_tensor_scalar_promotion(op, dt, scalar, scalar_first):
    if dt == "bool" and op == "sub":
        pytest.skip("torch refuses subtraction on bool tensors")
    f_rg, f_t = OPS[op]
    args_rg = (_operand(dt, False, "rg"), scalar)
    args_t = (_operand(dt, False, "t"), scalar.item() if isinstance(scalar, np.generic) else scalar)
    if scalar_first:
        args_rg, args_t = args_rg[::-1], args_t[::-1]
    try:
        b_t = f_t(*args_t)
    except RuntimeError:
        pytest.skip("torch refuses this combination")
    r = f_rg(*args_rg)
    assert str(r.dtype) == _torch_dtype_name(b_t), (op, dt, scalar)
    np.testing.assert_allclose(r.data.astype(float), b_t.numpy().astype(float), rtol=1e-6)


@pytest.mark.parametrize("dt", ["bool", "uint8", "int32", "int64"])
@pytest.mark.parametrize(
    "name", ["exp", "log", "sqrt", "tanh", "sigmoid", "log1p", "softmax", "log_softmax"]
)
def test_float_ops_on_integers_give_the_default_dtype(name, dt):
    arr = np.array([1, 2, 3]).astype(dt)
    r = getattr(rg.tensor(arr), name)()
    t = getattr(
        torch.tensor(arr).float() if name in ("softmax", "log_softmax") else torch.tensor(arr), name
    )(*([0] if name in ("softmax", "log_softmax") else []))
    assert r.dtype == np.float32 and str(t.dtype) == "torch.float32"
    np.testing.assert_allclose(r.data, t.numpy(), rtol=1e-6)


def test_the_issue_examples():
    assert (rg.tensor([1, 2]) / 2).dtype == np.float32
    assert (rg.tensor([1, 2]) + 0.5).dtype == np.float32
    assert rg.tensor(2).exp().dtype == np.float32
    assert (rg.ones(2) / rg.tensor([1, 2])).dtype == np.float32
    assert (rg.tensor([3, 4]) / rg.tensor([2, 2])).tolist() == [1.5, 2.0]
    images = rg.tensor(np.full((1, 1, 4, 4), 255, np.uint8)) / 255
    assert images.dtype == np.float32
    w = rg.ones(2, 1, 3, 3)
    assert rg.nn.functional.conv2d(images, w).dtype == np.float32
    rg.set_default_dtype("float64")
    try:
        assert (rg.tensor([1, 2]) / 2).dtype == np.float64
        assert (rg.ones(2, dtype="float32") * 0.5).dtype == np.float32
    finally:
        rg.set_default_dtype("float32")


def test_mixed_precision_gradients_come_back_in_each_inputs_dtype():
    a = rg.tensor([1.0, 2.0], requires_grad=True)
    b = rg.tensor([3.0, 4.0], dtype="float64", requires_grad=True)
    y = a * b
    assert y.dtype == np.float64
    y.sum().backward()
    assert a.grad.dtype == np.float32 and b.grad.dtype == np.float64
    np.testing.assert_array_equal(a.grad, [3.0, 4.0])


def test_integer_inplace_refuses_a_float_result():
    x = rg.tensor([1, 2])
    with pytest.raises(TypeError, match=r"can't be cast"):
        x += 0.5


@pytest.mark.parametrize(
    "bad",
    [
        "abc",
        ["1", "2"],
        [b"x"],
        np.array(["a"]),
        np.array([1 + 2j]),
        [1 + 1j],
        [object()],
        np.array([1, "a"], dtype=object),
    ],  # fmt: skip
    ids=[
        "str",
        "str-list",
        "bytes",
        "str-array",
        "complex-array",
        "complex-list",
        "object",
        "object-array",
    ],  # fmt: skip
)
def test_non_numeric_data_is_refused(bad):
    with pytest.raises(TypeError, match=r"tensor: cannot (convert|make)"):
        rg.tensor(bad)
    with pytest.raises(TypeError):
        rg.tensor(bad, requires_grad=True)


def test_layers_refuse_complex_and_strings():
    lin = rg.nn.Linear(2, 1)
    with pytest.raises(TypeError, match=r"complex"):
        lin(np.ones((1, 2), dtype=complex))
    with pytest.raises(TypeError, match=r"strings"):
        lin(np.array([["a", "b"]]))
    with pytest.raises(TypeError):
        rg.zeros(2).astype("complex64")
    t = rg.zeros(2)
    with pytest.raises(TypeError, match=r"complex"):
        t.data = np.ones(2, dtype=complex)
