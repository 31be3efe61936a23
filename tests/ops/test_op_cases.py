"""Every case of op_cases.py: float64 gradcheck, PyTorch forward and VJP, float32 dtypes."""

from __future__ import annotations

import zlib

import numpy as np
import pytest
from op_cases import CASES, IDS

import retrograd as rg
from gradcheck_registry import GRADCHECKED
from retrograd.autograd.function import PRIMITIVES

# Each case below goes through rg.gradcheck in float64: tell the meta-test what they cover.
GRADCHECKED.update(name for c in CASES for name in c.covers)

# The primitives this table must cover: those of the op modules it was written with. Ops
# added in their own modules later (conv, rnn, ...) register cases in their own tests.
TABLE_MODULES = {
    "retrograd.ops.elementwise",
    "retrograd.ops.reduce",
    "retrograd.ops.shape",
    "retrograd.ops.linalg",
    "retrograd.ops.activation",
    "retrograd.ops.losses",
    "retrograd.ops.pointwise",
    "retrograd.ops.attention",
    "retrograd.ops.aggregate",
    "retrograd.ops.scan",
    "retrograd.ops.sorting",
    "retrograd.ops.indexing",
    "retrograd.ops.movement",
    "retrograd.ops.einsum",
}


def _rng(case) -> np.random.Generator:
    return np.random.default_rng(zlib.crc32(case.id.encode()))


def _tensors(case, arrays: list) -> list:
    diff = case.differentiable(arrays)
    return [rg.tensor(a, requires_grad=d) for a, d in zip(arrays, diff)]


def _graph_primitives(out: rg.Tensor) -> set:
    names, stack, seen = set(), [out], set()
    while stack:
        t = stack.pop()
        if id(t) in seen or t._ctx is None:
            continue
        seen.add(id(t))
        names.add(type(t._ctx).__name__)
        stack.extend(t._ctx.parents)
    return names


def test_table_covers_every_primitive_of_the_op_modules():
    ours = {n for n, c in PRIMITIVES.items() if c.__module__ in TABLE_MODULES}
    covered = {n for c in CASES for n in c.covers}
    assert ours, "no primitives found: did the op modules move?"
    assert ours - covered == set(), f"op primitives without a case: {sorted(ours - covered)}"


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_case_graph_contains_the_primitives_it_claims(case):
    out = case.fn(*_tensors(case, case.make(_rng(case), np.float64)))
    missing = set(case.covers) - _graph_primitives(out)
    assert not missing, f"{case.id} claims {sorted(missing)} but its graph has none"


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_gradcheck_float64(case):
    arrays = case.make(_rng(case), np.float64)
    diff = case.differentiable(arrays)
    # Differentiated inputs go in as float64 arrays; the rest as constant tensors.
    inputs = [a if d else rg.tensor(a) for a, d in zip(arrays, diff)]
    assert rg.gradcheck(case.fn, inputs, **case.gradcheck_kwargs) is True


def _compare_with_torch(case, torch, dtype, rtol, atol, grad_rtol, grad_atol):
    rng = _rng(case)
    arrays = case.make(rng, dtype)
    diff = case.differentiable(arrays)
    ours = _tensors(case, arrays)
    theirs = [torch.tensor(a, requires_grad=d) for a, d in zip(arrays, diff)]
    out = case.fn(*ours)
    ref = case.torch_fn(torch, *theirs)
    assert out.shape == tuple(ref.shape)
    assert out.dtype == dtype
    assert str(ref.dtype) == f"torch.{np.dtype(dtype).name}"
    np.testing.assert_allclose(out.data, ref.detach().numpy(), rtol=rtol, atol=atol)

    cotangent = rng.standard_normal(out.shape).astype(dtype)
    out.backward(cotangent)
    ref.backward(torch.tensor(cotangent))
    for i, (t, r, d) in enumerate(zip(ours, theirs, diff)):
        if not d:
            continue
        assert t.grad is not None, f"input {i} got no gradient"
        assert t.grad.shape == t.shape
        np.testing.assert_allclose(
            t.grad, r.grad.numpy(), rtol=grad_rtol, atol=grad_atol, err_msg=f"gradient of input {i}"
        )


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_forward_and_vjp_match_torch(case, torch):
    _compare_with_torch(case, torch, np.float64, 1e-7, 1e-12, 1e-7, 1e-12)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_float32_forward_and_vjp_match_torch(case, torch):
    # Both sides compute in float32: float32 tolerances (a few ulps, more for gradients).
    _compare_with_torch(case, torch, np.float32, 2e-5, 2e-6, 2e-4, 2e-5)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_float32_stays_float32(case):
    rng = _rng(case)
    arrays = case.make(rng, np.float32)
    ours = _tensors(case, arrays)
    out = case.fn(*ours)
    assert out.dtype == np.float32, f"forward gave {out.dtype}"
    out.backward(rng.standard_normal(out.shape).astype(np.float32))
    for i, (t, d) in enumerate(zip(ours, case.differentiable(arrays))):
        if d:
            assert t.grad.dtype == np.float32, f"gradient of input {i} is {t.grad.dtype}"
            assert t.grad.shape == t.shape
            assert np.isfinite(t.grad).all()
