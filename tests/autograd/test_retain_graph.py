"""A graph stays usable after backward: a second walk gives torch's retain_graph=True result.

retrograd never frees a graph's saved arrays during a walk (docs/conformance.md), so
``retain_graph`` changes nothing. These tests make sure that a second backward through
the same graph is never silently wrong: for every op case and the fused layers, two
walks accumulate exactly twice one walk, as PyTorch does with ``retain_graph=True``.
"""

from __future__ import annotations

import sys
import zlib
from pathlib import Path

import numpy as np
import pytest

import retrograd as rg
from retrograd.autograd.inplace import InplaceModificationError

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "ops"))
from op_cases import CASES  # noqa: E402


def _twice(out, leaves, u, **kw):
    out.backward(rg.tensor(u), **kw)
    once = [None if t.grad is None else np.array(t.grad, copy=True) for t in leaves]
    out.backward(rg.tensor(u), **kw)
    return once, [t.grad for t in leaves]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_second_backward_through_every_op_doubles_the_gradient(case):
    rng = np.random.default_rng(zlib.crc32(case.id.encode()))
    arrays = case.make(rng, np.float64)
    diff = case.differentiable(arrays)
    ins = [rg.tensor(a, requires_grad=d) for a, d in zip(arrays, diff)]
    out = case.fn(*ins)
    if not out.requires_grad:
        pytest.skip("no gradient to take")
    u = rng.standard_normal(out.shape)
    leaves = [t for t in ins if t.requires_grad]
    # retain_graph=False as torch would need it True: the argument changes nothing here.
    once, two = _twice(out, leaves, u, retain_graph=False)
    for a, b in zip(once, two):
        if a is not None:
            np.testing.assert_allclose(b, 2 * a, rtol=1e-13, atol=1e-300)


LAYERS = {
    "lstm": (lambda nn: nn.LSTM(3, 4, batch_first=True), (2, 5, 3), lambda y: y[0]),
    "gru": (lambda nn: nn.GRU(3, 4, num_layers=2), (5, 2, 3), lambda y: y[0]),
    "conv": (lambda nn: nn.Conv2d(2, 3, 3, padding=1, stride=2), (2, 2, 6, 6), lambda y: y),
    "attention": (
        lambda nn: nn.MultiheadAttention(4, 2, batch_first=True),
        (2, 3, 4),
        lambda y: y[0],
    ),  # fmt: skip
    "linear-ce": (lambda nn: nn.Linear(3, 5), (4, 3), lambda y: y),
}


@pytest.mark.parametrize("name", list(LAYERS))
def test_second_backward_through_layers_equals_torch_retain_graph(name, torch):
    make, shape, pick = LAYERS[name]
    ours, theirs = make(rg.nn), make(torch.nn).double()
    ours = ours.double() if hasattr(ours, "double") else ours
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    rng = np.random.default_rng(0)
    xn = rng.standard_normal(shape)
    x, tx = rg.tensor(xn, requires_grad=True), torch.tensor(xn, requires_grad=True)
    args = (x, x, x) if name == "attention" else (x,)
    targs = (tx, tx, tx) if name == "attention" else (tx,)
    y, ty = pick(ours(*args)), pick(theirs(*targs))
    if name == "linear-ce":
        labels = np.array([0, 4, 2, 1])
        y = rg.nn.functional.cross_entropy(y, rg.tensor(labels))
        ty = torch.nn.functional.cross_entropy(ty, torch.tensor(labels))
    u = rng.standard_normal(y.shape)
    for _ in range(2):
        y.backward(rg.tensor(u))
        ty.backward(torch.tensor(u), retain_graph=True)
    np.testing.assert_allclose(x.grad, tx.grad.numpy(), rtol=1e-10, atol=1e-12)
    got = dict(ours.named_parameters())
    for k, p in theirs.named_parameters():
        np.testing.assert_allclose(got[k].grad, p.grad.numpy(), rtol=1e-10, atol=1e-12, err_msg=k)


def test_second_backward_through_a_fixed_point_and_grad_after_backward():
    r = np.random.default_rng(1)
    w = rg.tensor(0.4 * r.standard_normal((3, 3)), requires_grad=True)
    x = rg.tensor(r.standard_normal((2, 3)), requires_grad=True)
    fp = rg.nn.FixedPoint(lambda h, x, w: (h @ w + x).tanh(), tol=1e-12)
    loss = (fp(x, w) ** 2).sum()
    loss.backward()
    once = w.grad.copy()
    loss.backward(retain_graph=False)
    np.testing.assert_allclose(w.grad, 2 * once, rtol=1e-12)
    (g,) = rg.autograd.grad(loss, w, retain_graph=False)
    np.testing.assert_allclose(g.data, once, rtol=1e-12)


def test_an_inplace_write_between_the_walks_is_refused():
    """What retain_graph protects against in torch (stale buffers) is caught here by the
    in-place checks: a saved array changed after the first walk raises, never silently."""
    x = rg.tensor([1.0, 2.0], requires_grad=True)
    y = x.exp()
    s = y.sum()
    s.backward()
    with rg.no_grad():
        y.mul_(2.0)
    with pytest.raises(InplaceModificationError, match="modified by mul_"):
        s.backward()
