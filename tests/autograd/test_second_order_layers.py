"""Second order through the fused kernels: gradgradcheck of each, Hessians against PyTorch.

Convolution, pooling, normalisation and the recurrent layers differentiate their VJP
through a composite of plain primitives (``composite``); these checks run it in float64.
The Hessians of small MLP, conv and LSTM losses must equal PyTorch's to 1e-8.
"""

from __future__ import annotations

import numpy as np
import pytest

import retrograd as rg
from gradcheck_registry import covers_second_order
from retrograd.autograd.function import PRIMITIVES
from retrograd.autograd.functional import hessian, hvp
from retrograd.nn import functional as F
from retrograd.ops import rnn as R


def _t(a, grad=True):
    return rg.tensor(np.asarray(a, dtype=np.float64), requires_grad=grad)


def _distinct(rng, shape):
    # Values 0.37 apart: finite differences never cross a max-pool tie.
    n = int(np.prod(shape))
    return ((rng.permutation(n) - n / 2) * 0.37 + 0.013).reshape(shape)


def _graph_has(out, name):
    stack, seen = [out], set()
    while stack:
        t = stack.pop()
        if id(t) in seen or t._ctx is None:
            continue
        seen.add(id(t))
        if type(t._ctx).__name__ == name:
            return True
        stack.extend(t._ctx.parents)
    return False


def _check(name, f, inputs):
    assert _graph_has(f(*inputs), name), f"{name} is not in the graph"
    assert rg.gradgradcheck(f, inputs) is True


# --------------------------------------------------------------------- gradgradcheck


@covers_second_order("Conv2d")
@pytest.mark.parametrize(
    "stride,padding,dilation,groups", [(1, 0, 1, 1), (2, 1, 1, 1), ((1, 2), 1, (2, 1), 2)]
)
def test_conv2d(rng, stride, padding, dilation, groups):
    x = _t(rng.standard_normal((1, 2, 5, 4)))
    w = _t(rng.standard_normal((2, 2 // groups, 3, 2)))
    b = _t(rng.standard_normal(2))
    f = lambda x, w, b: F.conv2d(x, w, b, stride, padding, dilation, groups)  # noqa: E731
    _check("Conv2d", f, [x, w, b])


@covers_second_order("MaxPool2d")
@pytest.mark.parametrize("kernel,stride,padding", [(2, None, 0), (3, 2, 1)])
def test_max_pool2d(rng, kernel, stride, padding):
    x = _t(_distinct(rng, (1, 2, 5, 5)))
    # Times x: the pool alone is linear almost everywhere (zero second derivative).
    f = lambda x: F.max_pool2d(x * x, kernel, stride, padding)  # noqa: E731
    _check("MaxPool2d", f, [x])


@covers_second_order("AvgPool2d")
def test_avg_pool2d(rng):
    x = _t(rng.standard_normal((1, 2, 5, 4)))
    f = lambda x: F.avg_pool2d(x * x, 3, 2, 1, count_include_pad=False)  # noqa: E731
    _check("AvgPool2d", f, [x])


@covers_second_order("AdaptiveAvgPool2d")
@pytest.mark.parametrize("size", [1, (2, 3)])
def test_adaptive_avg_pool2d(rng, size):
    x = _t(rng.standard_normal((1, 2, 4, 5)))
    _check("AdaptiveAvgPool2d", lambda x: F.adaptive_avg_pool2d(x * x, size), [x])


@covers_second_order("ConvReluMaxPool2d")
def test_conv_relu_max_pool2d(rng):
    x = _t(_distinct(rng, (1, 2, 5, 5)) / 3)
    w, b = _t(rng.standard_normal((2, 2, 2, 2))), _t(rng.standard_normal(2))
    fused = PRIMITIVES["ConvReluMaxPool2d"]
    f = lambda x, w, b: fused.apply(x, w, b, pads=((1, 0), (0, 1)), dilation=(1, 1))  # noqa: E731
    _check("ConvReluMaxPool2d", f, [x, w, b])


@covers_second_order("BatchNorm")
@pytest.mark.parametrize("training", [True, False])
def test_batch_norm(rng, training):
    x = _t(rng.standard_normal((4, 2, 3)))
    w, b = _t(rng.uniform(0.5, 2, 2)), _t(rng.standard_normal(2))
    rm, rv = rng.standard_normal(2), rng.uniform(0.5, 2, 2)

    def f(x, w, b):
        return F.batch_norm(x, rm.copy(), rv.copy(), w, b, training=training)

    _check("BatchNorm", f, [x, w, b])


@covers_second_order("LayerNorm")
def test_layer_norm(rng):
    x = _t(rng.standard_normal((3, 2, 3)))
    w, b = _t(rng.uniform(0.5, 2, (2, 3))), _t(rng.standard_normal((2, 3)))
    _check("LayerNorm", lambda x, w, b: F.layer_norm(x, (2, 3), w, b), [x, w, b])


def _rnn_arrays(rng, kind):
    g = {"rnn": 1, "lstm": 4, "gru": 3}[kind]
    T, B, n_in, H = 3, 2, 2, 2
    arrs = [rng.standard_normal((T, B, n_in)), rng.standard_normal((B, H))]
    if kind == "lstm":
        arrs.append(rng.standard_normal((B, H)))
    arrs += [rng.standard_normal((g * H, n_in)) * 0.8, rng.standard_normal((g * H, H)) * 0.8]
    arrs += [rng.standard_normal(g * H) * 0.5, rng.standard_normal(g * H) * 0.5]
    return [_t(a) for a in arrs]


@covers_second_order("RNNLayer", "LSTMLayer", "GRULayer")
@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
@pytest.mark.parametrize("kw", [{}, {"reverse": True, "lengths": [3, 1]}])
def test_recurrent_layers(rng, kind, kw):
    fn = {"rnn": R.rnn_layer, "lstm": R.lstm_layer, "gru": R.gru_layer}[kind]

    def f(*ts):
        return rg.concatenate([o.reshape(-1) for o in fn(*ts, **kw)])

    name = {"rnn": "RNNLayer", "lstm": "LSTMLayer", "gru": "GRULayer"}[kind]
    _check(name, f, _rnn_arrays(rng, kind))


@covers_second_order("GeluGrad")
def test_gelu_slope_primitive(rng):
    x = _t(rng.standard_normal(5))
    _check("GeluGrad", lambda x: rg.autograd.grad(F.gelu(x).sum(), x, create_graph=True)[0], [x])


@covers_second_order("IndexAdd")
def test_index_add_primitive(rng):
    x = _t(rng.standard_normal(5))
    idx = np.array([0, 2, 2, 4])

    def f(x):
        (g,) = rg.autograd.grad((x[idx] ** 3).sum(), x, create_graph=True)
        return g

    _check("IndexAdd", f, [x])


# --------------------------------------------------------- Hessians against PyTorch


def _compare_hessians(ours, theirs):
    for i, (row, trow) in enumerate(zip(ours, theirs)):
        for j, (h, th) in enumerate(zip(row, trow)):
            np.testing.assert_allclose(
                h.data, th.numpy(), rtol=1e-8, atol=1e-10, err_msg=f"Hessian block ({i}, {j})"
            )


@pytest.mark.parametrize("act", ["tanh", "relu", "sigmoid"])
def test_mlp_hessian_equals_torch(rng, torch, act):
    x = rng.standard_normal((5, 3))
    y = rng.integers(0, 3, 5)
    params = [rng.standard_normal(s) for s in [(4, 3), (4,), (3, 4), (3,)]]
    fused = PRIMITIVES["LinearAct"]

    def loss(w1, b1, w2, b2):
        h = fused.apply(rg.tensor(x), w1, b1, act=act)
        return F.cross_entropy(F.linear(h, w2, b2), y)

    def tloss(w1, b1, w2, b2):
        h = getattr(torch, act)(torch.nn.functional.linear(torch.tensor(x), w1, b1))
        return torch.nn.functional.cross_entropy(
            torch.nn.functional.linear(h, w2, b2), torch.tensor(y)
        )

    ours = hessian(loss, tuple(_t(p) for p in params))
    theirs = torch.autograd.functional.hessian(tloss, tuple(torch.tensor(p) for p in params))
    _compare_hessians(ours, theirs)


def test_conv_hessian_equals_torch(rng, torch):
    x = rng.standard_normal((2, 1, 6, 6))
    y = rng.integers(0, 3, 2)
    params = [rng.standard_normal(s) * 0.5 for s in [(2, 1, 3, 3), (2,), (3, 8), (3,)]]
    tf = torch.nn.functional

    def loss(w, b, v, c):
        h = F.max_pool2d(F.relu(F.conv2d(rg.tensor(x), w, b, padding=1)), 3, 2)
        return F.cross_entropy(F.linear(h.reshape(2, -1), v, c), y)

    def tloss(w, b, v, c):
        h = tf.max_pool2d(tf.relu(tf.conv2d(torch.tensor(x), w, b, padding=1)), 3, 2)
        return tf.cross_entropy(tf.linear(h.reshape(2, -1), v, c), torch.tensor(y))

    ours = hessian(loss, tuple(_t(p) for p in params))
    theirs = torch.autograd.functional.hessian(tloss, tuple(torch.tensor(p) for p in params))
    _compare_hessians(ours, theirs)


def test_lstm_hessian_and_hvp_equal_torch(rng, torch):
    T, B, n_in, H = 4, 2, 2, 3
    x = rng.standard_normal((T, B, n_in))
    target = rng.standard_normal((B, 1))
    params = [rng.standard_normal(s) * 0.5 for s in [(4 * H, n_in), (4 * H, H), (4 * H,),
                                                     (4 * H,), (1, H)]]  # fmt: skip
    zeros = np.zeros((B, H))

    def loss(w_ih, w_hh, b_ih, b_hh, v):
        _, h, _ = R.lstm_layer(rg.tensor(x), zeros, zeros, w_ih, w_hh, b_ih, b_hh)
        return F.mse_loss(F.linear(h, v), rg.tensor(target))

    lstm = torch.nn.LSTM(n_in, H, dtype=torch.float64)

    def tloss(w_ih, w_hh, b_ih, b_hh, v):
        p = {"weight_ih_l0": w_ih, "weight_hh_l0": w_hh, "bias_ih_l0": b_ih, "bias_hh_l0": b_hh}
        _, (h, _) = torch.func.functional_call(lstm, p, (torch.tensor(x),))
        return torch.nn.functional.mse_loss(h[0] @ v.T, torch.tensor(target))

    ours = hessian(loss, tuple(_t(p) for p in params))
    tparams = tuple(torch.tensor(p) for p in params)
    theirs = torch.autograd.functional.hessian(tloss, tparams)
    _compare_hessians(ours, theirs)

    vs = [rng.standard_normal(p.shape) for p in params]
    _, ours_hv = hvp(loss, tuple(_t(p) for p in params), tuple(_t(v, False) for v in vs))
    _, theirs_hv = torch.autograd.functional.hvp(tloss, tparams, tuple(map(torch.tensor, vs)))
    for a, b in zip(ours_hv, theirs_hv):
        np.testing.assert_allclose(a.data, b.numpy(), rtol=1e-8, atol=1e-10)


# ------------------------------------------------------------------ first order only


def test_create_graph_through_a_first_order_only_primitive_raises_naming_it():
    class OnlyOnce(rg.Function):
        second_order = False
        second_order_reason = "a test primitive"

        def forward(self, a):
            return a * 2

        def backward(self, g):
            return (g * 2,)

    x = _t([1.0, 2.0])
    y = (OnlyOnce.apply(x) ** 2).sum()
    with pytest.raises(rg.errors.SecondOrderError, match="OnlyOnce is first-order only"):
        rg.autograd.grad(y, x, create_graph=True)
    # First order is untouched.
    assert rg.autograd.grad(y, x)[0].tolist() == [8.0, 16.0]


def test_fixed_point_layer_is_declared_first_order_only(rng):
    class Cell(rg.nn.Module):
        def __init__(self):
            super().__init__()
            self.w = rg.nn.Parameter(rng.standard_normal((3, 3)) * 0.2)

        def state_shape(self, x):
            return x.shape

        def forward(self, h, x):
            return (h @ self.w.T + x).tanh()

    layer = rg.nn.FixedPoint(Cell())
    x = rg.tensor(rng.standard_normal((2, 3)) * 0.1)
    out = layer(x).sum()
    with pytest.raises(rg.errors.SecondOrderError, match="FixedPointSolve"):
        rg.autograd.grad(out, list(layer.parameters()), create_graph=True)


@covers_second_order("Embedding", "EmbeddingBackward")
def test_embedding(rng):
    w = _t(rng.standard_normal((4, 3)))
    idx = rg.tensor(np.array([[0, 1, 1], [3, 1, 0]]))
    _check("Embedding", lambda w: F.embedding(idx, w, padding_idx=2) ** 2, [w])


def test_embedding_padding_and_frequency_scaling_at_second_order_match_torch(rng, torch):
    # These options change the gradient on purpose (it is not a derivative any more), so
    # finite differences cannot check them: compare with PyTorch's double backward. Its
    # second derivative is the exact derivative of the scaled first derivative (6 w u on
    # the rows looked up, here), and so is ours.
    a = rng.standard_normal((4, 3))
    idx = np.array([[0, 1, 1], [3, 1, 0]])
    u = rng.standard_normal((4, 3))
    kw = {"padding_idx": 1, "scale_grad_by_freq": True}
    w = _t(a)
    (g,) = rg.autograd.grad((F.embedding(rg.tensor(idx), w, **kw) ** 3).sum(), w, create_graph=True)
    (h,) = rg.autograd.grad((g * rg.tensor(u)).sum(), w)
    tw = torch.tensor(a, requires_grad=True)
    emb = torch.nn.functional.embedding(torch.tensor(idx), tw, **kw)
    (tg,) = torch.autograd.grad((emb**3).sum(), tw, create_graph=True)
    (th,) = torch.autograd.grad((tg * torch.tensor(u)).sum(), tw)
    np.testing.assert_allclose(g.data, tg.detach().numpy(), rtol=1e-12)
    np.testing.assert_allclose(h.data, th.numpy(), rtol=1e-12)
    used = np.isin(np.arange(4), idx) & (np.arange(4) != 1)
    np.testing.assert_allclose(h.data, np.where(used[:, None], 6 * a * u, 0.0), rtol=1e-12)


@covers_second_order("ConvTranspose2d")
@pytest.mark.parametrize(
    "stride,padding,output_padding,groups,dilation",
    [(1, 0, 0, 1, 1), (2, 1, 1, 1, 1), ((2, 1), (0, 1), (1, 0), 2, (1, 2))],
)
def test_conv_transpose2d(rng, stride, padding, output_padding, groups, dilation):
    x = _t(rng.standard_normal((1, 2, 3, 3)))
    w = _t(rng.standard_normal((2, 4 // groups, 2, 3)))
    b = _t(rng.standard_normal(4 // groups * groups))

    def f(x, w, b):
        return F.conv_transpose2d(x, w, b, stride, padding, output_padding, groups, dilation)

    _check("ConvTranspose2d", f, [x, w, b])
