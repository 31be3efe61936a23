"""rg.autograd.functional on small MLP, conv and LSTM models against PyTorch (float64, 1e-8).

``jvp`` is computed by the double-VJP trick (docs/higher-order.md); these checks compare
its products, and ``hvp``/``vhp``, with ``torch.autograd.functional`` on the outputs and
the losses of the three kinds of network, with respect to their parameters.
"""

from __future__ import annotations

import numpy as np
import pytest

import retrograd as rg
from retrograd.autograd import functional as AF
from retrograd.nn import functional as F
from retrograd.ops import rnn as R

RTOL, ATOL = 1e-8, 1e-10


def _t(a, grad=False):
    return rg.tensor(np.asarray(a, dtype=np.float64), requires_grad=grad)


def _mlp(torch):
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((5, 3)), rng.integers(0, 3, 5)
    shapes = [(4, 3), (4,), (3, 4), (3,)]
    tf = torch.nn.functional

    def out(w1, b1, w2, b2):
        return F.linear(F.linear(_t(x), w1, b1).tanh(), w2, b2)

    def tout(w1, b1, w2, b2):
        return tf.linear(torch.tanh(tf.linear(torch.tensor(x), w1, b1)), w2, b2)

    return shapes, out, tout, y


def _conv(torch):
    rng = np.random.default_rng(1)
    x, y = rng.standard_normal((2, 1, 6, 6)), rng.integers(0, 3, 2)
    shapes = [(2, 1, 3, 3), (2,), (3, 8), (3,)]
    tf = torch.nn.functional

    def out(w, b, v, c):
        h = F.max_pool2d(F.relu(F.conv2d(_t(x), w, b, padding=1)), 3, 2)
        return F.linear(h.reshape(2, -1), v, c)

    def tout(w, b, v, c):
        h = tf.max_pool2d(tf.relu(tf.conv2d(torch.tensor(x), w, b, padding=1)), 3, 2)
        return tf.linear(h.reshape(2, -1), v, c)

    return shapes, out, tout, y


def _lstm(torch):
    rng = np.random.default_rng(2)
    T, B, n_in, H = 4, 2, 2, 3
    x, y = rng.standard_normal((T, B, n_in)), rng.integers(0, 3, B)
    shapes = [(4 * H, n_in), (4 * H, H), (4 * H,), (4 * H,), (3, H)]
    zeros = np.zeros((B, H))
    lstm = torch.nn.LSTM(n_in, H, dtype=torch.float64)

    def out(w_ih, w_hh, b_ih, b_hh, v):
        _, h, _ = R.lstm_layer(_t(x), zeros, zeros, w_ih, w_hh, b_ih, b_hh)
        return F.linear(h, v)

    def tout(w_ih, w_hh, b_ih, b_hh, v):
        p = {"weight_ih_l0": w_ih, "weight_hh_l0": w_hh, "bias_ih_l0": b_ih, "bias_hh_l0": b_hh}
        _, (h, _) = torch.func.functional_call(lstm, p, (torch.tensor(x),))
        return h[0] @ v.T

    return shapes, out, tout, y


MODELS = {"mlp": _mlp, "conv": _conv, "lstm": _lstm}


def _close(ours, theirs):
    ours = ours if isinstance(ours, tuple) else (ours,)
    theirs = theirs if isinstance(theirs, tuple) else (theirs,)
    assert len(ours) == len(theirs)
    for a, b in zip(ours, theirs):
        assert a.shape == tuple(b.shape)
        np.testing.assert_allclose(a.data, b.detach().numpy(), rtol=RTOL, atol=ATOL)


def _setup(name, torch):
    shapes, out, tout, y = MODELS[name](torch)
    rng = np.random.default_rng(10)
    params = [rng.standard_normal(s) * 0.5 for s in shapes]
    vs = [rng.standard_normal(s) for s in shapes]

    def loss(*p):
        return F.cross_entropy(out(*p), rg.tensor(y))

    def tloss(*p):
        return torch.nn.functional.cross_entropy(tout(*p), torch.tensor(y))

    ours_p = tuple(_t(p) for p in params)
    theirs_p = tuple(torch.tensor(p) for p in params)
    ours_v = tuple(_t(v) for v in vs)
    theirs_v = tuple(torch.tensor(v) for v in vs)
    return (out, loss, ours_p, ours_v), (tout, tloss, theirs_p, theirs_v)


@pytest.mark.parametrize("name", list(MODELS))
def test_jvp_of_outputs_and_loss_equals_torch(name, torch):
    (out, loss, p, v), (tout, tloss, tp, tv) = _setup(name, torch)
    for f, tf in ((out, tout), (loss, tloss)):
        value, tangent = AF.jvp(f, p, v)
        tvalue, ttangent = torch.autograd.functional.jvp(tf, tp, tv)
        _close(value, tvalue)
        _close(tangent, ttangent)


@pytest.mark.parametrize("name", list(MODELS))
def test_hvp_and_vhp_of_the_loss_equal_torch(name, torch):
    (_, loss, p, v), (_, tloss, tp, tv) = _setup(name, torch)
    for ours_fn, theirs_fn in ((AF.hvp, torch.autograd.functional.hvp),
                               (AF.vhp, torch.autograd.functional.vhp)):  # fmt: skip
        value, prod = ours_fn(loss, p, v)
        tvalue, tprod = theirs_fn(tloss, tp, tv)
        _close(value, tvalue)
        _close(prod, tprod)


@pytest.mark.parametrize("name", ["conv", "lstm"])
def test_hessian_of_the_loss_equals_torch(name, torch):
    (_, loss, p, _), (_, tloss, tp, _) = _setup(name, torch)
    ours = AF.hessian(loss, p)
    theirs = torch.autograd.functional.hessian(tloss, tp)
    for row, trow in zip(ours, theirs):
        for h, th in zip(row, trow):
            np.testing.assert_allclose(h.data, th.numpy(), rtol=RTOL, atol=ATOL)


@pytest.mark.parametrize("name", list(MODELS))
def test_jvp_equals_the_jacobian_times_v(name, torch):
    """Independently of torch: J v from the full Jacobian (reverse-mode rows)."""
    (out, _, p, v), _ = _setup(name, torch)
    _, tangent = AF.jvp(out, p, v)
    jac = AF.jacobian(out, p)
    want = sum(
        np.tensordot(j.data, vi.data, axes=vi.ndim) for j, vi in zip(jac, v)
    )  # fmt: skip
    np.testing.assert_allclose(tangent.data, want, rtol=1e-10, atol=1e-12)
