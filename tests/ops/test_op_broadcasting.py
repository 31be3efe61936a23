"""Hypothesis-generated shapes for the broadcasting binary ops, against PyTorch."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import mutually_broadcastable_shapes

import retrograd as rg
from retrograd import ops as R

BINARY = {
    "add": (lambda a, b: a + b, lambda t, a, b: a + b),
    "sub": (lambda a, b: a - b, lambda t, a, b: a - b),
    "mul": (lambda a, b: a * b, lambda t, a, b: a * b),
    "div": (lambda a, b: a / b, lambda t, a, b: a / b),
    "pow": (lambda a, b: a**b, lambda t, a, b: a**b),
    "maximum": (R.maximum, lambda t, a, b: t.maximum(a, b)),
    "minimum": (R.minimum, lambda t, a, b: t.minimum(a, b)),
    "where": (
        lambda a, b: R.where(a > b, a * 2.0, b),
        lambda t, a, b: t.where(a > b, a * 2.0, b),
    ),
}

SHAPES = mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=4, max_side=3)


def _operands(seed, shapes, op):
    rng = np.random.default_rng(seed)
    a = rng.standard_normal(shapes.input_shapes[0])
    b = rng.standard_normal(shapes.input_shapes[1])
    if op in ("div", "pow"):
        b = np.abs(b) + 0.5  # away from division by zero
    if op == "pow":
        a = np.abs(a) + 0.5  # real powers need a positive base
    return np.asarray(a), np.asarray(b), rng


@pytest.mark.parametrize("op", sorted(BINARY))
@settings(max_examples=25, deadline=None)
@given(shapes=SHAPES, seed=st.integers(0, 2**32 - 1))
def test_broadcasting_matches_torch(op, shapes, seed, torch):
    fn, tfn = BINARY[op]
    a, b, rng = _operands(seed, shapes, op)
    ta = rg.tensor(a, requires_grad=True)
    tb = rg.tensor(b, requires_grad=True)
    out = fn(ta, tb)
    assert out.shape == shapes.result_shape
    pa = torch.tensor(a, requires_grad=True)
    pb = torch.tensor(b, requires_grad=True)
    ref = tfn(torch, pa, pb)
    np.testing.assert_allclose(out.data, ref.detach().numpy(), rtol=1e-7, atol=1e-12)
    ct = np.asarray(rng.standard_normal(out.shape))
    out.backward(ct)
    ref.backward(torch.tensor(ct))
    assert ta.grad.shape == a.shape and tb.grad.shape == b.shape
    np.testing.assert_allclose(ta.grad, pa.grad.numpy(), rtol=1e-7, atol=1e-12)
    np.testing.assert_allclose(tb.grad, pb.grad.numpy(), rtol=1e-7, atol=1e-12)


@settings(max_examples=15, deadline=None)
@given(shapes=SHAPES, seed=st.integers(0, 2**32 - 1))
def test_broadcast_mul_gradchecks(shapes, seed):
    a, b, _ = _operands(seed, shapes, "mul")
    assert rg.gradcheck(lambda x, y: (x * y).tanh(), [a, b])


@settings(max_examples=15, deadline=None)
@given(shapes=SHAPES, seed=st.integers(0, 2**32 - 1))
def test_broadcasting_keeps_float32(shapes, seed):
    a, b, _ = _operands(seed, shapes, "div")
    ta = rg.tensor(a.astype(np.float32), requires_grad=True)
    tb = rg.tensor(b.astype(np.float32), requires_grad=True)
    out = (ta * tb - ta / tb + 1.5) ** 2.0
    assert out.dtype == np.float32
    out.sum().backward()
    assert ta.grad.dtype == np.float32 and tb.grad.dtype == np.float32
