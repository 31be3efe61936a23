"""Pointwise ops beyond the op table: integer and bool inputs, no-gradient ops, bad input."""

from __future__ import annotations

import numpy as np
import pytest

import retrograd as rg
from retrograd import ops as R

INTS = np.array([-7, -3, 0, 2, 5, 9])
DIVISORS = np.array([2, -2, 3, -4, 3, 2])


@pytest.mark.parametrize("name", ["sin", "exp2", "rsqrt", "erf", "log2", "atan"])
def test_floating_functions_of_integers_give_the_default_dtype(name, torch):
    x = np.array([1, 2, 4])
    out = getattr(rg, name)(rg.tensor(x))
    ref = getattr(torch, name)(torch.tensor(x))
    assert out.dtype == np.float32 and str(ref.dtype) == "torch.float64"  # torch fixture: f64
    np.testing.assert_allclose(out.data, ref.numpy(), rtol=1e-6)


@pytest.mark.parametrize(
    "ours, theirs",
    [
        (lambda a, b: a // b, lambda a, b: a // b),
        (lambda a, b: a % b, lambda a, b: a % b),
        (R.fmod, lambda a, b: a.fmod(b)),
        (
            lambda a, b: rg.div(a, b, rounding_mode="trunc"),
            lambda a, b: a.div(b, rounding_mode="trunc"),
        ),  # fmt: skip
        (
            lambda a, b: rg.div(a, b, rounding_mode="floor"),
            lambda a, b: a.div(b, rounding_mode="floor"),
        ),  # fmt: skip
        (lambda a, b: rg.div(a, b), lambda a, b: a.div(b)),
        (lambda a, b: a & b, lambda a, b: a & b),
        (lambda a, b: a | b, lambda a, b: a | b),
        (lambda a, b: a ^ b, lambda a, b: a ^ b),
        (lambda a, b: 7 // a, lambda a, b: 7 // a),
        (lambda a, b: 7 % b, lambda a, b: 7 % b),
    ],
)
def test_integer_arithmetic_matches_torch(ours, theirs, torch):
    nz = INTS.copy()
    nz[nz == 0] = 1
    out = ours(rg.tensor(nz), rg.tensor(DIVISORS))
    ref = theirs(torch.tensor(nz), torch.tensor(DIVISORS))
    np.testing.assert_allclose(out.data, ref.numpy(), rtol=1e-7)
    assert (out.dtype.kind == "f") == ref.dtype.is_floating_point


@pytest.mark.parametrize(
    "fn", ["copysign", "remainder", "fmod", "floor_divide", "true_divide", "mul", "add", "pow"]
)
def test_integer_tensor_with_float_takes_the_float_dtype(fn, torch):
    # PyTorch: int64 with float32 gives float32 (NumPy would give float64).
    a = np.array([-3, 2, 5])
    for other in (2.5, np.array([1.5, -2.0, 0.5], dtype=np.float32)):
        t_other = torch.tensor(other) if isinstance(other, np.ndarray) else other
        ours = getattr(rg, fn)(rg.tensor(a), rg.tensor(other) if t_other is not other else other)
        theirs = getattr(torch, fn)(torch.tensor(a), t_other)
        # A Python float gives the default dtype (the fixture sets torch's to float64).
        expected = torch.get_default_dtype() if t_other is other else torch.float32
        assert ours.dtype == np.float32 and theirs.dtype == expected
        np.testing.assert_allclose(ours.data, theirs.numpy(), rtol=1e-6)


def test_integer_functions_that_keep_integers(torch):
    x = rg.tensor(INTS)
    for name in ("floor", "ceil", "trunc", "round", "sign"):
        out = getattr(rg, name)(x)
        np.testing.assert_array_equal(out.data, getattr(torch, name)(torch.tensor(INTS)).numpy())
        assert out.dtype == INTS.dtype


def test_integer_division_by_zero_raises():
    with pytest.raises(ZeroDivisionError, match="floor_divide"):
        rg.tensor([1, 2]) // rg.tensor([1, 0])
    with pytest.raises(ZeroDivisionError, match="remainder"):
        rg.tensor([1, 2]) % 0


def test_float_remainder_and_division_by_zero_follow_ieee(torch):
    a = np.array([1.0, -1.0, 0.0])
    for ours, theirs in [
        (lambda x: x % 0.0, lambda x: x % 0.0),
        (lambda x: x // 0.0, lambda x: x // 0.0),
        (lambda x: R.fmod(x, 0.0), lambda x: x.fmod(0.0)),
    ]:
        with np.errstate(all="ignore"):
            out = ours(rg.tensor(a)).data
        np.testing.assert_array_equal(out, theirs(torch.tensor(a)).numpy())


def test_tests_and_logic_match_torch(torch):
    a = np.array([1.0, np.nan, np.inf, -np.inf, 0.0, 1.0 + 1e-7])
    b = np.array([1.0, np.nan, np.inf, 1.0, 1e-9, 1.0])
    ta, tb = torch.tensor(a), torch.tensor(b)
    x, y = rg.tensor(a), rg.tensor(b)
    for name in ("isnan", "isinf", "isfinite", "isposinf", "isneginf", "logical_not"):
        np.testing.assert_array_equal(getattr(rg, name)(x).data, getattr(torch, name)(ta).numpy())
    for name in ("logical_and", "logical_or", "logical_xor"):
        np.testing.assert_array_equal(
            getattr(rg, name)(x, y).data, getattr(torch, name)(ta, tb).numpy()
        )
    for kw in ({}, {"equal_nan": True}, {"rtol": 0.0, "atol": 1e-8}):
        np.testing.assert_array_equal(rg.isclose(x, y, **kw).data, torch.isclose(ta, tb, **kw))
    assert rg.allclose(x[:1], y[:1]) is True
    m = rg.tensor([True, False])
    assert (~m).tolist() == [False, True]
    assert (~rg.tensor([0, 5])).tolist() == (~torch.tensor([0, 5])).tolist()
    assert (m & True).tolist() == [True, False]


def test_zero_gradient_ops_give_zeros_not_none():
    x = rg.tensor([0.3, 1.7], requires_grad=True)
    y = rg.tensor([2.0, 2.0], requires_grad=True)
    (rg.floor(x) + rg.copysign(x, y) + rg.div(x, y, rounding_mode="floor")).sum().backward()
    np.testing.assert_array_equal(y.grad, [0.0, 0.0])
    np.testing.assert_array_equal(x.grad, [1.0, 1.0])


def test_clamp_tensor_bounds_gradient_rules(torch):
    # Ties and crossed bounds (min > max): who gets the gradient, checked against torch.
    x = np.array([0.0, 1.0, 2.0, 3.0, 1.0])
    lo = np.array([1.0, 1.0, 2.5, 2.5, 1.0])
    hi = np.array([2.0, 0.5, 2.0, 3.0, 1.0])
    ours = [rg.tensor(v, requires_grad=True) for v in (x, lo, hi)]
    theirs = [torch.tensor(v, requires_grad=True) for v in (x, lo, hi)]
    rg.clamp(*ours).sum().backward()
    torch.clamp(*theirs).sum().backward()
    for o, t in zip(ours, theirs):
        np.testing.assert_array_equal(o.grad, t.grad.numpy())


def test_masked_fill_value_tensor_gets_the_gradient(torch):
    x = rg.tensor([1.0, 2.0, 3.0], requires_grad=True)
    v = rg.tensor(0.5, requires_grad=True)
    rg.masked_fill(x, x > 1.5, v).sum().backward()
    assert v.grad == 2.0
    assert x.masked_fill(rg.tensor([True, False, False]), 0.0).tolist() == [0.0, 2.0, 3.0]


BAD = [
    ("div-mode", lambda: rg.div(rg.ones(2), 2.0, rounding_mode="up"), ValueError,
     r"div: rounding_mode must be None, 'trunc' or 'floor', got 'up'"),
    ("bitwise-float", lambda: rg.ones(2) & rg.ones(2), TypeError,
     r"bitwise_and: input must be an integer or bool tensor, got dtype float32"),
    ("invert-float", lambda: ~rg.ones(2), TypeError, r"bitwise_not: input must be an integer"),
    ("round-decimals", lambda: rg.round(rg.ones(2), decimals=1.5), TypeError,
     r"round: decimals must be an int, got 1.5"),
    ("floor-bool", lambda: rg.floor(rg.tensor([True])), TypeError, r"floor: not defined"),
    ("masked_fill-dtype", lambda: rg.masked_fill(rg.ones(2), rg.ones(2), 0.0), TypeError,
     r"masked_fill: mask must be a bool tensor, got dtype float32"),
    ("masked_fill-shape", lambda: rg.masked_fill(rg.ones(2), rg.tensor([[True]] * 3), 0.0),
     ValueError, r"masked_fill: mask of shape \(3, 1\) does not broadcast to the input"),
    ("masked_fill-value", lambda: rg.masked_fill(rg.ones(2), rg.ones(2) > 0, rg.ones(2)),
     ValueError, r"masked_fill: value must be a number or a 0-d tensor, got shape \(2,\)"),
    ("clamp-shape", lambda: rg.clamp(rg.ones(2), rg.ones(3)), ValueError,
     r"clamp: min has shape \(3,\), which does not broadcast with the input's shape \(2,\)"),
    ("isclose-rtol", lambda: rg.isclose(rg.ones(2), rg.ones(2), rtol=-1), ValueError,
     r"isclose: rtol must be a non-negative number, got -1"),
    ("lerp-dtype", lambda: rg.lerp(rg.ones(2), rg.ones(2, dtype="float64"), 0.5), TypeError,
     r"lerp: input and end must have the same dtype"),
]  # fmt: skip


@pytest.mark.parametrize("call, exc, pattern", [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_bad_input_raises_a_clear_error(call, exc, pattern):
    with pytest.raises(exc, match=pattern):
        call()
