"""Convolution, pooling and normalisation primitives (ops.conv, ops.pool, ops.normalization):
gradcheck, PyTorch parity, dtypes."""

from __future__ import annotations

from functools import partial

import numpy as np
import pytest

import retrograd as rg
from retrograd.autograd.function import PRIMITIVES
from retrograd.ops import conv as C
from retrograd.ops import normalization as N
from retrograd.ops import pool as P

#: The primitives of retrograd.ops.conv, .pool and .norm that this file gradchecks in float64 (the
#: meta-test's registry; test_every_conv_primitive_is_gradchecked keeps it honest).
GRADCHECKED = {
    "Conv2d", "MaxPool2d", "AvgPool2d", "AdaptiveAvgPool2d", "BatchNorm", "LayerNorm",
    "ConvReluMaxPool2d", "ConvTranspose2d",
}  # fmt: skip


def _t(a, grad=True):
    return rg.tensor(np.asarray(a), requires_grad=grad)


def _distinct(rng, shape):
    # Values 0.37 apart: finite differences never cross a max-pool tie.
    n = int(np.prod(shape))
    return ((rng.permutation(n) - n / 2) * 0.37 + 0.013).reshape(shape)


def test_every_conv_primitive_is_gradchecked():
    modules = {C.__name__, P.__name__, N.__name__}
    mine = {name for name, cls in PRIMITIVES.items() if cls.__module__ in modules}
    assert mine == GRADCHECKED


# ------------------------------------------------------------------------ gradcheck


def test_conv_transpose2d_gradcheck(rng):
    # More option combinations (and PyTorch parity) in tests/nn/test_conv_transpose.py.
    x, w, b = (
        rng.standard_normal((2, 4, 3, 3)),
        rng.standard_normal((4, 3, 2, 3)),
        rng.standard_normal(6),
    )
    f = partial(C.conv_transpose2d, stride=2, padding=1, output_padding=1, groups=2)
    assert rg.gradcheck(lambda x, w, b: f(x, w, b), [x, w, b])


@pytest.mark.parametrize(
    "stride,padding,dilation,groups",
    [(1, 0, 1, 1), (2, 1, 1, 1), ((1, 2), (2, 0), (2, 1), 1), (1, 1, 1, 2), (2, "same", 1, 1)],
)
def test_gradcheck_conv2d(rng, stride, padding, dilation, groups):
    if padding == "same":
        stride = 1
    x = _t(rng.standard_normal((2, 2, 5, 5)))
    w = _t(rng.standard_normal((2, 2 // groups, 3, 2)))
    b = _t(rng.standard_normal(2))
    f = lambda x, w, b: C.conv2d(x, w, b, stride, padding, dilation, groups)
    assert rg.gradcheck(f, [x, w, b])


def test_gradcheck_conv2d_without_bias(rng):
    x, w = _t(rng.standard_normal((1, 3, 4, 4))), _t(rng.standard_normal((2, 3, 2, 2)))
    assert rg.gradcheck(lambda x, w: C.conv2d(x, w, padding=1), [x, w])


@pytest.mark.parametrize(
    "kernel,stride,padding,dilation,ceil",
    [(2, None, 0, 1, False), (3, 2, 1, 1, False), ((2, 3), 1, 0, (2, 1), False),
     (3, 2, 0, 1, True), (2, None, 0, 1, True)],
)  # fmt: skip
def test_gradcheck_max_pool2d(rng, kernel, stride, padding, dilation, ceil):
    x = _t(_distinct(rng, (2, 2, 7, 7)))
    f = lambda x: P.max_pool2d(x, kernel, stride, padding, dilation, ceil)
    assert rg.gradcheck(f, [x])


@pytest.mark.parametrize(
    "kernel,stride,padding,ceil,include",
    [(2, None, 0, False, True), (3, 2, 1, False, True), (3, 2, 1, False, False),
     ((3, 2), (2, 1), (1, 0), True, False)],
)  # fmt: skip
def test_gradcheck_avg_pool2d(rng, kernel, stride, padding, ceil, include):
    x = _t(rng.standard_normal((2, 2, 6, 7)))
    f = lambda x: P.avg_pool2d(x, kernel, stride, padding, ceil, include)
    assert rg.gradcheck(f, [x])


@pytest.mark.parametrize("size", [1, (3, 2), (4, None)])
def test_gradcheck_adaptive_avg_pool2d(rng, size):
    x = _t(rng.standard_normal((2, 2, 7, 5)))
    assert rg.gradcheck(lambda x: P.adaptive_avg_pool2d(x, size), [x])


@pytest.mark.parametrize("shape", [(6, 3), (4, 3, 5), (3, 2, 3, 3)])
@pytest.mark.parametrize("training", [True, False])
def test_gradcheck_batch_norm(rng, shape, training):
    c = shape[1]
    x = _t(rng.standard_normal(shape))
    w, b = _t(rng.uniform(0.5, 2, c)), _t(rng.standard_normal(c))
    rm, rv = rng.standard_normal(c), rng.uniform(0.5, 2, c)

    def f(x, w, b):
        # Fresh copies: the training-mode call updates the running statistics in place.
        return N.batch_norm(x, rm.copy(), rv.copy(), w, b, training=training)

    assert rg.gradcheck(f, [x, w, b])
    assert rg.gradcheck(lambda x: N.batch_norm(x, rm.copy(), rv.copy(), training=training), [x])


@pytest.mark.parametrize("affine", ["both", "weight", "none"])
def test_gradcheck_layer_norm(rng, affine):
    x = _t(rng.standard_normal((3, 2, 4)))
    w, b = _t(rng.uniform(0.5, 2, (2, 4))), _t(rng.standard_normal((2, 4)))
    if affine == "both":
        assert rg.gradcheck(lambda x, w, b: N.layer_norm(x, (2, 4), w, b), [x, w, b])
    elif affine == "weight":
        assert rg.gradcheck(lambda x, w: N.layer_norm(x, (2, 4), w), [x, w])
    else:
        assert rg.gradcheck(lambda x: N.layer_norm(x, 4), [x])


def test_gradcheck_catches_a_wrong_conv_vjp(rng, monkeypatch):
    # The checks above can fail: break the VJP and gradcheck must object.
    orig = C.Conv2d.backward
    monkeypatch.setattr(C.Conv2d, "backward", lambda self, g: tuple(
        None if r is None else r * 1.01 for r in orig(self, g)))  # fmt: skip
    x, w = _t(rng.standard_normal((1, 1, 4, 4))), _t(rng.standard_normal((1, 1, 2, 2)))
    with pytest.raises(rg.GradcheckError):
        rg.gradcheck(lambda x, w: C.conv2d(x, w), [x, w])


# ------------------------------------------------------------------ PyTorch parity


def _compare(torch, r_fn, t_fn, arrays, rng, tol=1e-10):
    tin = [torch.tensor(a, requires_grad=True) for a in arrays]
    rin = [_t(a) for a in arrays]
    ty, ry = t_fn(*tin), r_fn(*rin)
    assert ry.shape == tuple(ty.shape)
    np.testing.assert_allclose(ry.data, ty.detach().numpy(), rtol=0, atol=tol)
    gy = rng.standard_normal(ry.shape)
    ty.backward(torch.tensor(gy))
    ry.backward(gy)
    for r, t in zip(rin, tin):
        np.testing.assert_allclose(r.grad, t.grad.numpy(), rtol=0, atol=tol)


def test_conv2d_matches_torch_random_configs(torch, rng):
    for _ in range(40):
        groups = int(rng.choice([1, 2, 3]))
        cg, og = int(rng.integers(1, 3)), int(rng.integers(1, 3))
        k = (int(rng.integers(1, 4)), int(rng.integers(1, 4)))
        s = (int(rng.integers(1, 3)), int(rng.integers(1, 3)))
        d = (int(rng.integers(1, 3)), int(rng.integers(1, 3)))
        p = (int(rng.integers(0, 3)), int(rng.integers(0, 3)))
        n, h, w = int(rng.integers(1, 3)), int(rng.integers(5, 9)), int(rng.integers(5, 9))
        arrays = [
            rng.standard_normal((n, groups * cg, h, w)),
            rng.standard_normal((groups * og, cg) + k),
            rng.standard_normal(groups * og),
        ]
        kw = dict(stride=s, padding=p, dilation=d, groups=groups)
        _compare(torch, partial(C.conv2d, **kw), partial(torch.nn.functional.conv2d, **kw),
                 arrays, rng)  # fmt: skip


@pytest.mark.parametrize("kernel,dilation", [((3, 3), (1, 1)), ((2, 4), (2, 1)), ((4, 4), (1, 3))])
def test_conv2d_same_padding_matches_torch(torch, rng, kernel, dilation):
    arrays = [rng.standard_normal((2, 3, 7, 8)), rng.standard_normal((4, 3) + kernel)]
    _compare(
        torch,
        lambda x, w: C.conv2d(x, w, padding="same", dilation=dilation),
        lambda x, w: torch.nn.functional.conv2d(x, w, padding="same", dilation=dilation),
        arrays, rng,
    )  # fmt: skip


def test_pools_match_torch_random_configs_with_ties(torch, rng):
    F = torch.nn.functional
    checked = 0
    for _ in range(60):
        k = (int(rng.integers(1, 4)), int(rng.integers(1, 4)))
        s = (int(rng.integers(1, 4)), int(rng.integers(1, 4)))
        d = (int(rng.integers(1, 3)), int(rng.integers(1, 3)))
        p = (int(rng.integers(0, k[0] // 2 + 1)), int(rng.integers(0, k[1] // 2 + 1)))
        ceil, include = bool(rng.integers(0, 2)), bool(rng.integers(0, 2))
        # Rounded to one decimal: many ties, so the first-arg-max rule is exercised.
        x = np.round(rng.standard_normal((2, 2, int(rng.integers(6, 10)), 7)), 1)
        try:
            F.max_pool2d(torch.tensor(x), k, s, p, d, ceil_mode=ceil)
        except RuntimeError:
            continue  # a configuration PyTorch itself rejects (output size 0)
        kw = dict(kernel_size=k, stride=s, padding=p, ceil_mode=ceil)
        _compare(torch, partial(P.max_pool2d, dilation=d, **kw),
                 partial(F.max_pool2d, dilation=d, **kw), [x], rng)  # fmt: skip
        kw["count_include_pad"] = include
        _compare(torch, partial(P.avg_pool2d, **kw), partial(F.avg_pool2d, **kw), [x], rng)
        checked += 1
    assert checked >= 30


def test_avg_pool2d_divisor_override_matches_torch(torch, rng):
    x = rng.standard_normal((1, 2, 6, 6))
    _compare(
        torch,
        lambda x: P.avg_pool2d(x, 3, 2, 1, divisor_override=5),
        lambda x: torch.nn.functional.avg_pool2d(x, 3, 2, 1, divisor_override=5),
        [x],
        rng,
    )


@pytest.mark.parametrize("size", [1, (3, 2), (5, None), (2, 4), (7, 5)])
def test_adaptive_avg_pool2d_matches_torch(torch, rng, size):
    _compare(
        torch,
        lambda x: P.adaptive_avg_pool2d(x, size),
        lambda x: torch.nn.functional.adaptive_avg_pool2d(x, size),
        [rng.standard_normal((2, 3, 7, 5))],
        rng,
    )


@pytest.mark.parametrize("shape", [(8, 3), (4, 3, 5), (2, 3, 4, 4)])
def test_batch_norm_training_matches_torch_with_running_stats(torch, rng, shape):
    c = shape[1]
    x, w, b = rng.standard_normal(shape) * 3 + 1, rng.standard_normal(c), rng.standard_normal(c)
    rm, rv = np.zeros(c), np.ones(c)
    trm, trv = torch.zeros(c), torch.ones(c)
    _compare(torch, lambda x, w, b: N.batch_norm(x, rm, rv, w, b, True, 0.3, 1e-3),
             lambda x, w, b: torch.nn.functional.batch_norm(x, trm, trv, w, b, True, 0.3, 1e-3),
             [x, w, b], rng)  # fmt: skip
    np.testing.assert_allclose(rm, trm.numpy(), atol=1e-12)
    np.testing.assert_allclose(rv, trv.numpy(), atol=1e-12)  # unbiased variance, as torch


def test_batch_norm_eval_matches_torch(torch, rng):
    rm, rv = rng.standard_normal(3), rng.uniform(0.5, 2, 3)
    _compare(torch, lambda x, w, b: N.batch_norm(x, rm, rv, w, b, False),
             lambda x, w, b: torch.nn.functional.batch_norm(
                 x, torch.tensor(rm), torch.tensor(rv), w, b, False),
             [rng.standard_normal((4, 3, 2, 2)), rng.standard_normal(3),
              rng.standard_normal(3)], rng)  # fmt: skip


@pytest.mark.parametrize("nshape", [(5,), (3, 5)])
def test_layer_norm_matches_torch(torch, rng, nshape):
    x = rng.standard_normal((2, 3, 5)) * 2 + 1
    w, b = rng.standard_normal(nshape), rng.standard_normal(nshape)
    _compare(torch, lambda x, w, b: N.layer_norm(x, nshape, w, b, 1e-4),
             lambda x, w, b: torch.nn.functional.layer_norm(x, nshape, w, b, 1e-4),
             [x, w, b], rng)  # fmt: skip


# ------------------------------------------------------------- semantics and dtypes


def test_max_pool_ties_route_to_first_in_row_major_order():
    x = _t(np.ones((1, 1, 2, 2)))
    P.max_pool2d(x, 2).sum().backward()
    assert x.grad.tolist() == [[[[1.0, 0.0], [0.0, 0.0]]]]
    x = _t(np.array([[[[0.0, 2.0, 2.0], [2.0, 1.0, 0.0], [0.0, 0.0, 0.0]]]]))
    P.max_pool2d(x, 2, stride=1).sum().backward()  # overlapping windows: general path
    # Windows' first maxima: (0,1), (0,1), (1,0), (1,1).
    assert x.grad.tolist() == [[[[0.0, 2.0, 0.0], [1.0, 1.0, 0.0], [0.0, 0.0, 0.0]]]]


def test_max_pool_propagates_nan():
    x = np.zeros((1, 1, 2, 4))
    x[0, 0, 1, 1] = np.nan
    assert np.isnan(P.max_pool2d(_t(x, False), 2).data[0, 0, 0, 0])


def test_non_overlapping_max_pool_crops_odd_sizes(rng):
    x = _t(_distinct(rng, (2, 3, 7, 5)))
    y = P.max_pool2d(x, 2)
    assert y.shape == (2, 3, 3, 2)
    y.sum().backward()
    assert x.grad[:, :, 6, :].sum() == 0 and x.grad[:, :, :, 4].sum() == 0
    assert x.grad.sum() == y.data.size


FLOAT32_CASES = [
    ("conv2d", lambda x, w: C.conv2d(x, w, stride=2, padding=1)),
    ("conv2d_groups", lambda x, w: C.conv2d(x, w[:, :2], groups=2)),
    ("max_pool", lambda x, w: P.max_pool2d(x, 2) * w.sum()),
    ("max_pool_overlap", lambda x, w: P.max_pool2d(x, 3, 1, 1) * w.sum()),
    ("avg_pool", lambda x, w: P.avg_pool2d(x, 3, 2, 1, count_include_pad=False) * w.sum()),
    ("adaptive", lambda x, w: P.adaptive_avg_pool2d(x, (2, 3)) * w.sum()),
    ("adaptive1", lambda x, w: P.adaptive_avg_pool2d(x, 1) * w.sum()),
    ("batch_norm", lambda x, w: N.batch_norm(x, np.zeros(4, np.float32), np.ones(4, np.float32),
                                            w[:, 0, 0, 0], w[:, 1, 0, 0], True)),
    ("layer_norm", lambda x, w: N.layer_norm(x, (6, 6), w[0, 0].sum() * rg.ones(6, 6))),
    ("dropout2d", lambda x, w: C.dropout2d(x, 0.5) * w.sum()),
]  # fmt: skip


@pytest.mark.parametrize("name,fn", FLOAT32_CASES, ids=[c[0] for c in FLOAT32_CASES])
def test_float32_stays_float32(rng, name, fn):
    x = _t(rng.standard_normal((2, 4, 6, 6)).astype(np.float32))
    w = _t(rng.standard_normal((4, 4, 3, 3)).astype(np.float32))
    y = fn(x, w)
    assert y.dtype == np.float32
    y.sum().backward()
    assert x.grad.dtype == np.float32 and w.grad.dtype == np.float32


def test_unbatched_input_like_torch(rng):
    x, w = rng.standard_normal((3, 6, 6)), rng.standard_normal((2, 3, 3, 3))
    y = C.conv2d(x, w, padding=1)
    assert y.shape == (2, 6, 6)
    np.testing.assert_allclose(y.data, C.conv2d(x[None], w, padding=1).data[0])
    assert P.max_pool2d(x, 2).shape == (3, 3, 3)
    assert P.avg_pool2d(x, 2).shape == (3, 3, 3)
    assert P.adaptive_avg_pool2d(x, 2).shape == (3, 2, 2)


def test_dropout2d_drops_whole_channels():
    rg.manual_seed(3)
    y = C.dropout2d(rg.ones(4, 16, 3, 3), 0.25).data
    per_channel = y.reshape(4, 16, -1)
    assert (per_channel.min(axis=2) == per_channel.max(axis=2)).all()
    assert set(np.unique(y).tolist()) == {0.0, np.float32(1 / 0.75)}
    assert C.dropout2d(rg.ones(2, 3, 2, 2), 0.5, training=False).data.sum() == 24
    assert C.dropout2d(rg.ones(2, 3, 2, 2), 1.0).data.sum() == 0


@pytest.mark.parametrize(
    "call,match",
    [
        (lambda: C.conv2d(rg.ones(1, 3, 5, 5), rg.ones(2, 2, 3, 3)), r"\(1, 3, 5, 5\).*\(N, 2"),
        (lambda: C.conv2d(rg.ones(3, 5), rg.ones(2, 3, 3, 3)), r"\(3, 5\)"),
        (lambda: C.conv2d(rg.ones(1, 1, 2, 2), rg.ones(1, 1, 3, 3)), "smaller than"),
        (lambda: C.conv2d(rg.ones(1, 1, 5, 5), rg.ones(1, 1, 3, 3), stride=0), "stride"),
        (lambda: C.conv2d(rg.ones(1, 4, 5, 5), rg.ones(3, 2, 3, 3), groups=2), "divisible"),
        (
            lambda: C.conv2d(rg.ones(1, 1, 5, 5), rg.ones(1, 1, 3, 3), stride=2, padding="same"),
            "same",
        ),  # fmt: skip
        (lambda: C.conv2d(rg.ones(1, 1, 5, 5), rg.ones(2, 1, 3, 3), rg.ones(3)), "bias"),
        (lambda: P.max_pool2d(rg.ones(1, 1, 2, 2), 3), "too small"),
        (lambda: P.max_pool2d(rg.ones(1, 1, 6, 6), 2, padding=2), "half"),
        (lambda: N.layer_norm(rg.ones(2, 3), 4), r"\(\*, 4\)"),
        (lambda: N.batch_norm(rg.ones(1, 3), None, None, training=True), "more than 1"),
        (lambda: C.dropout2d(rg.ones(2, 3), 0.5), r"\(2, 3\)"),
    ],
)
def test_bad_input_raises_value_error(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_dtype_mismatch_raises_type_error():
    x = rg.tensor(np.ones((1, 1, 4, 4)))
    with pytest.raises(TypeError, match="float64.*float32"):
        C.conv2d(x, rg.ones(1, 1, 3, 3))


# ------------------------------------------------ fused conv -> ReLU -> 2x2 max-pool

#: (input shape, weight shape, pads, dilation): the channels-first column layout (C < 8)
#: and the channels-last patch-row layout (C >= 8), odd and even conv output sizes.
FUSED_CASES = [
    ((2, 2, 6, 7), (3, 2, 3, 3), ((0, 0), (0, 0)), (1, 1)),
    ((2, 1, 7, 8), (2, 1, 2, 3), ((1, 1), (0, 2)), (2, 1)),
    ((2, 8, 6, 7), (3, 8, 3, 3), ((0, 0), (0, 0)), (1, 1)),
    ((1, 9, 7, 6), (2, 9, 2, 2), ((1, 0), (1, 1)), (1, 2)),
]


def _fused(x, w, b=None, pads=((0, 0), (0, 0)), dilation=(1, 1)):
    args = (x, w) if b is None else (x, w, b)
    return C.ConvReluMaxPool2d.apply(*args, pads=pads, dilation=dilation)


def _unfused_torch(torch, x, w, b, pads, dilation):
    F = torch.nn.functional
    (t, bo), (left, r) = pads
    return F.max_pool2d(F.relu(F.conv2d(F.pad(x, (left, r, t, bo)), w, b, dilation=dilation)), 2)


@pytest.mark.parametrize("xs,ws,pads,dil", FUSED_CASES)
def test_gradcheck_conv_relu_max_pool(rng, xs, ws, pads, dil):
    x, w = _t(_distinct(rng, xs) / 10), _t(rng.standard_normal(ws))
    b = _t(rng.standard_normal(ws[0]))
    assert rg.gradcheck(lambda x, w, b: _fused(x, w, b, pads, dil), [x, w, b])
    assert rg.gradcheck(lambda x, w: _fused(x, w, None, pads, dil), [x, w])


@pytest.mark.parametrize("xs,ws,pads,dil", FUSED_CASES)
@pytest.mark.parametrize("ties", [False, True])
def test_conv_relu_max_pool_matches_torch(torch, rng, xs, ws, pads, dil, ties):
    arrays = [rng.standard_normal(xs), rng.standard_normal(ws), rng.standard_normal(ws[0])]
    if ties:
        # Integer-valued inputs and weights: exact conv outputs that tie often (in a
        # window, and at 0 for the ReLU), so the first-arg-max rule is exercised.
        arrays = [np.round(a * 1.5) for a in arrays]
    _compare(torch, lambda x, w, b: _fused(x, w, b, pads, dil),
             lambda x, w, b: _unfused_torch(torch, x, w, b, pads, dil), arrays, rng)  # fmt: skip


def test_conv_relu_max_pool_ties_and_zeros_route_like_torch(torch):
    # Every conv output of a window equal (first position wins), and windows <= 0
    # (gradient 0, as relu's), in both layouts.
    for c in (1, 8):
        x = np.ones((1, c, 5, 5))
        x[0, :, 3:, :] = -1.0
        w, b = np.ones((2, c, 2, 2)), np.array([0.0, -4.0 * c])
        _compare(torch, lambda x, w, b: _fused(x, w, b),
                 lambda x, w, b: _unfused_torch(torch, x, w, b, ((0, 0), (0, 0)), (1, 1)),
                 [x, w, b], np.random.default_rng(0))  # fmt: skip


@pytest.mark.parametrize("c", [2, 8])
def test_conv_relu_max_pool_float32_and_input_without_grad(rng, c):
    x = rg.tensor(rng.standard_normal((3, c, 8, 9)).astype(np.float32))
    w = _t(rng.standard_normal((4, c, 3, 3)).astype(np.float32))
    b = _t(rng.standard_normal(4).astype(np.float32))
    y = _fused(x, w, b)
    assert y.dtype == np.float32 and y.shape == (3, 4, 3, 3)
    y.backward(np.ones(y.shape, np.float32))
    assert x.grad is None and w.grad.dtype == np.float32 and b.grad.dtype == np.float32
    ref_w, ref_b = _t(w.data), _t(b.data)
    P.max_pool2d(rg.relu(C.conv2d(x, ref_w, ref_b)), 2).sum().backward()
    np.testing.assert_allclose(y.data, P.max_pool2d(rg.relu(C.conv2d(x, w, b)), 2).data,
                               rtol=1e-5, atol=1e-5)  # fmt: skip
    np.testing.assert_allclose(w.grad, ref_w.grad, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(b.grad, ref_b.grad, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("c", [1, 8])
def test_conv_relu_max_pool_non_finite_like_the_unfused_ops(rng, c):
    # A NaN input and an inf upstream gradient: the same values and gradients (NaN where
    # the unfused ops give NaN) as conv2d -> relu -> max_pool2d one by one.
    xa = rng.standard_normal((2, c, 6, 6))
    xa[0, 0, 1, 2] = np.nan
    wa, ba = rng.standard_normal((3, c, 3, 3)), rng.standard_normal(3)
    outs = []
    for fused in (True, False):
        x, w, b = _t(xa), _t(wa), _t(ba)
        y = _fused(x, w, b) if fused else P.max_pool2d(rg.relu(C.conv2d(x, w, b)), 2)
        g = np.ones(y.shape)
        g[1, 2, 0, 1] = np.inf
        y.backward(g)
        outs.append([y.data, x.grad, w.grad, b.grad])
    for a, b_ in zip(*outs):
        np.testing.assert_allclose(a, b_, rtol=1e-12, atol=1e-12, equal_nan=True)
    assert np.isnan(outs[0][0]).any() and np.isinf(outs[0][3]).any()


def test_nn_fused_conv_relu_pool_equals_the_three_modules(torch, rng):
    from retrograd.nn import conv as nc

    conv, relu, pool = rg.nn.Conv2d(3, 4, 3, padding=1), rg.nn.ReLU(), rg.nn.MaxPool2d(2)
    x = rg.tensor(rng.standard_normal((2, 3, 7, 6)).astype(np.float32))
    y = nc._fused_conv_relu_pool(conv, relu, pool, x)
    assert type(y._ctx).__name__ == "ConvReluMaxPool2d"
    y.sum().backward()
    grads = [p.grad.copy() for p in conv.parameters()]
    conv.zero_grad()
    ref = pool(relu(conv(x)))
    ref.sum().backward()
    np.testing.assert_allclose(y.data, ref.data, rtol=1e-6, atol=1e-6)
    for g, p in zip(grads, conv.parameters()):
        np.testing.assert_allclose(g, p.grad, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize(
    "conv_kw,pool_kw,shape",
    [
        (dict(stride=2), {}, (1, 2, 8, 8)),
        (dict(groups=2), {}, (1, 2, 8, 8)),
        ({}, dict(kernel_size=3), (1, 2, 8, 8)),
        ({}, dict(kernel_size=2, stride=1), (1, 2, 8, 8)),
        ({}, dict(kernel_size=2, padding=1), (1, 2, 8, 8)),
        ({}, dict(kernel_size=2, ceil_mode=True), (1, 2, 8, 8)),
        ({}, dict(kernel_size=2, dilation=2), (1, 2, 8, 8)),
        ({}, {}, (2, 8, 8)),  # unbatched
        ({}, {}, (1, 2, 3, 8)),  # conv output 1 row high
        ({}, {}, (1, 3, 8, 8)),  # wrong channel count: the modules raise their error
    ],
)
def test_nn_fused_conv_relu_pool_declines_other_cases(conv_kw, pool_kw, shape):
    from retrograd.nn import conv as nc

    conv = rg.nn.Conv2d(2, 2, 3, **conv_kw)
    pool = rg.nn.MaxPool2d(**{"kernel_size": 2, **pool_kw})
    assert nc._fused_conv_relu_pool(conv, rg.nn.ReLU(), pool, rg.ones(*shape)) is None
    assert nc._fused_conv_relu_pool(conv, rg.nn.ReLU(), pool, np.ones(shape)) is None


def test_cnn_sequential_matches_torch(torch, rng):
    # The MNIST benchmark's network (fused into two nodes when nn.Sequential knows
    # three-module fusions, module by module otherwise): PyTorch's values and gradients.
    nn, tnn = rg.nn, torch.nn
    layers = lambda m: m.Sequential(
        m.Conv2d(1, 4, 3), m.ReLU(), m.MaxPool2d(2), m.Conv2d(4, 8, 3), m.ReLU(),
        m.MaxPool2d(2), m.Flatten(), m.Linear(8 * 2 * 2, 3),
    )  # fmt: skip
    net, tnet = layers(nn).to("float64"), layers(tnn)
    tnet.load_state_dict({k: torch.tensor(np.asarray(v)) for k, v in net.state_dict().items()})
    x = np.round(rng.standard_normal((3, 1, 14, 14)), 1)  # ties in the pools
    y = rg.tensor(rng.integers(0, 3, 3))
    nn.CrossEntropyLoss()(net(rg.tensor(x)), y).backward()
    tnn.CrossEntropyLoss()(tnet(torch.tensor(x)), torch.tensor(y.data)).backward()
    tgrads = dict(tnet.named_parameters())
    for name, p in net.named_parameters():
        np.testing.assert_allclose(p.grad, tgrads[name].grad.numpy(), rtol=0, atol=1e-10)


def test_sequential_runs_conv_relu_pool_as_one_node_when_it_fuses_triples():
    from retrograd.nn import conv as nc
    from retrograd.nn import module

    triples = getattr(module, "_FUSED_TRIPLES", None)
    if triples is None:
        pytest.skip("nn.Sequential has no three-module fusions (nn.module._FUSED_TRIPLES)")
    nn = rg.nn
    assert triples[(nn.Conv2d, nn.ReLU, nn.MaxPool2d)] is nc._fused_conv_relu_pool
    net = nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten())
    y = net(rg.randn(2, 1, 8, 8))
    assert y.shape == (2, 18)
    assert type(y._ctx.parents[0]._ctx).__name__ == "ConvReluMaxPool2d"


@pytest.mark.parametrize("chunk_bytes", [1, 30000])
def test_chunked_col2im_matches_torch(torch, rng, monkeypatch, chunk_bytes):
    # One image per chunk (and a few per chunk): the slab-adds must stay inside each
    # chunk, for the plain conv and the fused node (whose frame is smaller).
    from retrograd.kernels import _spatial_numpy

    monkeypatch.setattr(_spatial_numpy, "COL2IM_CHUNK_BYTES", chunk_bytes)
    x, w = rng.standard_normal((5, 3, 7, 6)), rng.standard_normal((4, 3, 3, 2))
    kw = dict(padding=(1, 2), dilation=(2, 1))
    _compare(torch, partial(C.conv2d, **kw), partial(torch.nn.functional.conv2d, **kw),
             [x, w], rng)  # fmt: skip
    b = rng.standard_normal(4)
    pads = ((1, 1), (2, 2))
    _compare(torch, lambda x, w, b: _fused(x, w, b, pads, (2, 1)),
             lambda x, w, b: _unfused_torch(torch, x, w, b, pads, (2, 1)),
             [x, w, b], rng)  # fmt: skip
