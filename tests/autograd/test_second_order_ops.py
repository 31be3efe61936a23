"""Second order for every case of the op table: gradgradcheck and PyTorch's double backward.

For each case (tests/ops/op_cases.py) in float64: ``rg.gradgradcheck`` (finite
differences of the create_graph first derivative, with respect to the inputs and the
cotangent), and the second-order product ``d/dx <u^T J(x), w>`` compared with PyTorch's.
"""

from __future__ import annotations

import contextlib
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest

import retrograd as rg
from gradcheck_registry import GRADGRADCHECKED

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "ops"))
from op_cases import CASES  # noqa: E402


def _has_rule(name: str) -> bool:
    cls = rg.autograd.PRIMITIVES[name]
    return cls.second_order and (
        getattr(cls, "backward_graph", None) is not None or getattr(cls, "composite", None)
    )


# Cases whose ops are declared first-order only are left out (the meta-test lists those).
SECOND = [c for c in CASES if all(_has_rule(n) for n in c.covers)]
SECOND_IDS = [c.id for c in SECOND]
# Cases built on ties (max/min of equal values): the slope there is a convention and the
# first derivative is discontinuous, so only the PyTorch comparison applies.
AT_TIES = {"max-ties", "min-ties-all"}
# PyTorch has no double backward for these ("derivative for aten::hardsigmoid_backward is
# not implemented", "... '_cdist_backward' is not implemented"): gradgradcheck alone
# checks them.
NO_TORCH_DOUBLE_BACKWARD = {"hardsigmoid", "cdist", "cdist-p1-batched", "cdist-p3"}
GRADGRADCHECKED.update(name for c in SECOND for name in c.covers)


def _rng(case) -> np.random.Generator:
    return np.random.default_rng(zlib.crc32(case.id.encode()) + 1)


@contextlib.contextmanager
def _declared_limits():
    """A few rules stop at inputs they do not cover (e.g. prod with a zero factor): they
    must say so with SecondOrderError, which is the behaviour checked here."""
    try:
        yield
    except rg.errors.SecondOrderError as e:
        assert "first-order only" in str(e)
        pytest.skip(f"declared limit: {e}")


@pytest.mark.parametrize("case", SECOND, ids=SECOND_IDS)
def test_gradgradcheck_float64(case):
    arrays = case.make(_rng(case), np.float64)
    diff = case.differentiable(arrays)
    inputs = [a if d else rg.tensor(a) for a, d in zip(arrays, diff)]
    kw = {k: v for k, v in case.gradcheck_kwargs.items() if k in ("eps", "atol", "rtol")}
    if case.id in AT_TIES:
        pytest.skip("the first derivative jumps at a tie: finite differences cannot check it")
    with _declared_limits():
        assert rg.gradgradcheck(case.fn, inputs, **kw) is True


@pytest.mark.parametrize("case", SECOND, ids=SECOND_IDS)
def test_double_backward_matches_torch(case, torch):
    if case.id in NO_TORCH_DOUBLE_BACKWARD:
        pytest.skip("PyTorch does not differentiate this op twice")
    rng = _rng(case)
    arrays = case.make(rng, np.float64)
    diff = case.differentiable(arrays)
    ours = [rg.tensor(a, requires_grad=d) for a, d in zip(arrays, diff)]
    theirs = [torch.tensor(a, requires_grad=d) for a, d in zip(arrays, diff)]
    out = case.fn(*ours)
    ref = case.torch_fn(torch, *theirs)
    u = rng.standard_normal(out.shape)
    wrt = [t for t, d in zip(ours, diff) if d]
    twrt = [t for t, d in zip(theirs, diff) if d]
    with _declared_limits():
        g1 = rg.autograd.grad(out, wrt, rg.tensor(u), create_graph=True, allow_unused=True)
    t1 = torch.autograd.grad(ref, twrt, torch.tensor(u), create_graph=True, allow_unused=True)
    ws = [rng.standard_normal(t.shape) for t in wrt]
    s = sum((g * rg.tensor(w)).sum() for g, w in zip(g1, ws) if g is not None)
    ts = sum((g * torch.tensor(w)).sum() for g, w in zip(t1, ws) if g is not None)
    # A result that is linear in the inputs has no graph (here or in torch): zero.
    if isinstance(s, rg.Tensor) and s.requires_grad:
        g2 = [g.data for g in rg.autograd.grad(s, wrt, allow_unused=True, materialize_grads=True)]
    else:
        g2 = [np.zeros(t.shape) for t in wrt]
    if isinstance(ts, torch.Tensor) and ts.requires_grad:
        t2 = [
            g.numpy(force=True)
            for g in torch.autograd.grad(ts, twrt, allow_unused=True, materialize_grads=True)
        ]
    else:
        t2 = [np.zeros(t.shape) for t in wrt]
    for i, (a, b) in enumerate(zip(g2, t2)):
        np.testing.assert_allclose(
            a, b, rtol=1e-7, atol=1e-10, err_msg=f"second derivative, input {i}"
        )
