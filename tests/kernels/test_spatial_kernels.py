"""The convolution and pooling kernels against their NumPy twins: bitwise, alone and in use."""

from __future__ import annotations

import numpy as np
import pytest

import retrograd as rg
from retrograd import kernels
from retrograd.kernels import _spatial_numpy as N

B = pytest.importorskip("retrograd.kernels._spatial_numba", reason="Numba is not installed")

DTYPES = [np.float32, np.float64]


def _bits_equal(a, b):
    a, b = np.ascontiguousarray(a), np.ascontiguousarray(b)
    return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


def _pool_inputs(rng, n, o, ph, pw, dtype, special):
    g = rng.standard_normal((n, o, ph, pw)).astype(dtype)
    g.flat[::7] = -0.0  # signed zeros must come out as the twin makes them
    if special:
        g.flat[3] = np.inf
    size = n * o * ph * pw
    bits = [rng.uniform(0, 1, size) > p for p in (0.3, 0.5, 0.5, 0.5)]
    return g, *bits


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("rows", [True, False])
@pytest.mark.parametrize("with_bias", [True, False])
def test_relu_pool2_forward_is_bitwise_the_twin(dtype, rows, with_bias):
    rng = np.random.default_rng(4)
    n, o, L = 3, 5, 6
    shape = (4 * n * L, o) if rows else (4 * n, o, L)
    z = rng.standard_normal(shape).astype(dtype)
    z.flat[:40:3] = 0.0  # ties inside windows (ReLU zeros tie often)
    z.flat[1:40:5] = -0.0
    z.flat[7] = np.nan
    z.flat[11] = -np.inf
    b = rng.standard_normal(o).astype(dtype) if with_bias else None
    z1, z2 = z.copy(), z.copy()
    with np.errstate(invalid="ignore"):
        p1, pos1, bits1 = N.relu_pool2_fwd(z1, b, rows)
        p2, pos2, bits2 = B.relu_pool2_fwd(z2, b, rows)
    assert _bits_equal(p1, p2) and _bits_equal(pos1, pos2)
    for a, c in zip(bits1, bits2):
        assert _bits_equal(a, c)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("rows", [True, False])
@pytest.mark.parametrize("with_frame", [True, False])
@pytest.mark.parametrize("special", [False, True], ids=["finite", "inf"])
def test_relu_pool2_backward_is_bitwise_the_twin(dtype, rows, with_frame, special):
    n, o, ph, pw = 3, 5, 4, 3
    g, pos, t01, t23, tv = _pool_inputs(np.random.default_rng(0), n, o, ph, pw, dtype, special)
    frames = [np.zeros((o, n, 2 * ph + 1, 2 * pw + 2), dtype) if with_frame else None
              for _ in range(2)]  # fmt: skip
    with np.errstate(invalid="ignore"):
        gp1, dz1 = N.relu_pool2_bwd(g, pos, t01, t23, tv, rows, frames[0])
        gp2, dz2 = B.relu_pool2_bwd(g, pos, t01, t23, tv, rows, frames[1])
    assert _bits_equal(gp1, gp2) and _bits_equal(dz1, dz2)
    if with_frame:
        assert _bits_equal(frames[0], frames[1])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(
    "xshape, wshape, pads, dil, frame_cut",
    [
        ((2, 1, 6, 6), (3, 1, 3, 3), ((0, 0), (0, 0)), (1, 1), (0, 0)),
        ((5, 3, 7, 6), (4, 3, 3, 2), ((1, 1), (2, 2)), (2, 1), (0, 0)),
        ((4, 16, 13, 13), (8, 16, 3, 3), ((0, 0), (0, 0)), (1, 1), (1, 1)),  # fused: 12x12
        ((3, 2, 5, 9), (2, 2, 1, 4), ((1, 0), (0, 3)), (1, 2), (0, 1)),
    ],
)
@pytest.mark.parametrize("chunk_bytes", [1, 3 << 19])
def test_col2im_is_bitwise_the_twin(
    monkeypatch, dtype, xshape, wshape, pads, dil, frame_cut, chunk_bytes
):
    monkeypatch.setattr(N, "COL2IM_CHUNK_BYTES", chunk_bytes)  # one image per chunk, or all
    rng = np.random.default_rng(1)
    n, c, h, w = xshape
    o, _, kh, kw = wshape
    hp, wp = h + sum(pads[0]), w + sum(pads[1])
    oh, ow = hp - dil[0] * (kh - 1), wp - dil[1] * (kw - 1)
    hf, wf = hp - frame_cut[0], wp - frame_cut[1]
    ge = np.zeros((o, n, hf, wf), dtype)
    ge[:, :, : oh - frame_cut[0], : ow - frame_cut[1]] = rng.standard_normal(
        (o, n, oh - frame_cut[0], ow - frame_cut[1])
    )
    wmat = rng.standard_normal((o, c * kh * kw)).astype(dtype)
    got = B.col2im_stride1(ge, wmat, xshape, pads, kh, kw, dil)
    want = N.col2im_stride1(ge, wmat, xshape, pads, kh, kw, dil)
    assert _bits_equal(want, got)


def _fused_run(choice, dtype, channels):
    kernels.use(choice)
    try:
        rng = np.random.default_rng(2)
        rg.manual_seed(0)
        net = rg.nn.Sequential(
            rg.nn.Conv2d(channels, 8, 3, padding=1), rg.nn.ReLU(), rg.nn.MaxPool2d(2),
            rg.nn.Flatten(),
        )  # fmt: skip
        net.to(dtype) if dtype == np.float64 else None
        x = rg.tensor(rng.standard_normal((3, channels, 9, 8)).astype(dtype), requires_grad=True)
        y = net(x)
        assert type(y._ctx.parents[0]._ctx).__name__ == "ConvReluMaxPool2d"
        (y * y).sum().backward()
        return [y.data.copy(), x.grad.copy()] + [p.grad.copy() for p in net.parameters()]
    finally:
        kernels.use("auto")


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("channels", [1, 8])  # both patch layouts of the fused node
def test_fused_conv_relu_pool_is_bitwise_the_same_either_way(dtype, channels):
    for a, b in zip(_fused_run("numpy", dtype, channels), _fused_run("numba", dtype, channels)):
        assert _bits_equal(a, b)


def test_kernels_fall_back_to_the_twins_on_other_layouts():
    rng = np.random.default_rng(3)
    g, pos, t01, t23, tv = _pool_inputs(rng, 2, 3, 2, 2, np.float32, False)
    gf = np.asfortranarray(g)
    for a, b in zip(N.relu_pool2_bwd(gf, pos, t01, t23, tv, False, None),
                    B.relu_pool2_bwd(gf, pos, t01, t23, tv, False, None)):  # fmt: skip
        assert _bits_equal(a, b)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(
    "xshape, k, stride, pads, dil",
    [
        ((3, 4, 9, 9), (3, 3), (2, 2), ((1, 1), (1, 1)), (1, 1)),
        ((2, 3, 10, 7), (3, 2), (2, 3), ((0, 0), (2, 2)), (2, 1)),
        ((2, 5, 8, 8), (1, 1), (2, 2), ((0, 0), (0, 0)), (1, 1)),
        ((1, 2, 11, 12), (4, 3), (3, 2), ((2, 1), (1, 0)), (1, 2)),  # uneven padding
    ],
)
def test_strided_col2im_is_bitwise_the_twin(dtype, xshape, k, stride, pads, dil):
    rng = np.random.default_rng(11)
    n, c, h, w = xshape
    pshape = (n, c, h + sum(pads[0]), w + sum(pads[1]))
    oh = (pshape[2] - dil[0] * (k[0] - 1) - 1) // stride[0] + 1
    ow = (pshape[3] - dil[1] * (k[1] - 1) - 1) // stride[1] + 1
    # magnitudes far apart: an element's sums round differently in another order
    d = rng.standard_normal((c, *k, n, oh, ow)) * 10.0 ** rng.integers(-6, 7, (1, *k, 1, 1, 1))
    d = d.astype(dtype)
    d.flat[::5] = -0.0
    want = N.col2im(d, pshape, xshape, pads, stride, dil, dtype)
    got = B.col2im(d, pshape, xshape, pads, stride, dil, dtype)
    assert got.flags.c_contiguous and _bits_equal(want, got)


@pytest.mark.parametrize("dtype", DTYPES)
def test_strided_conv2d_input_gradient_is_bitwise_the_same_either_way(dtype):
    grads = []
    for choice in ("numpy", "numba"):
        kernels.use(choice)
        try:
            rng = np.random.default_rng(12)
            rg.manual_seed(0)
            conv = rg.nn.Conv2d(3, 4, 3, stride=2, padding=1)
            conv.to(dtype) if dtype == np.float64 else None
            x = rg.tensor(rng.standard_normal((2, 3, 9, 8)).astype(dtype), requires_grad=True)
            y = conv(x)
            (y * y).sum().backward()
            grads.append(x.grad.copy())
        finally:
            kernels.use("auto")
    assert _bits_equal(*grads)
