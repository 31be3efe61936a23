"""MaxPool2d's kernels: the compiled forward/backward against the NumPy twin, bit for bit.

The twin's forward is a chain of np.maximum over the window offsets and its backward
finds the arg-max mask by mask; the compiled forward keeps each output's arg-max offset
and its backward is one pass. Signed zeros, NaN, infinities and ties are where they
could part ways, so the inputs are full of them.
"""

from __future__ import annotations

import numpy as np
import pytest

import retrograd as rg
from retrograd import kernels
from retrograd.kernels import _spatial_numpy as N
from retrograd.ops.pool import _pool_geometry

B = pytest.importorskip("retrograd.kernels._spatial_numba", reason="Numba is not installed")


@pytest.fixture
def always_compiled(monkeypatch):
    """The compiled kernels for every geometry, also where the twin runs by default."""
    monkeypatch.setattr(B, "_kernel_pays", lambda *geometry: True)


DTYPES = [np.float32, np.float64]

#: (kernel, stride, padding, dilation, ceil_mode): the 2x2 fast paths, overlapping
#: windows (stride < kernel), padding, dilation, ceil_mode's extra edge, odd sizes.
CONFIGS = [
    (2, None, 0, 1, False),
    (3, 2, 1, 1, False),
    (3, 1, 1, 1, False),
    ((2, 3), 1, 0, (2, 1), False),
    (3, 2, 0, 1, True),
    (2, None, 0, 1, True),
    ((1, 3), (1, 3), 0, 1, False),
    (3, 3, 1, 2, True),
    (1, 1, 0, 1, False),
    ((3, 2), (1, 2), (1, 1), (1, 3), False),
]


def _bits_equal(a, b):
    a, b = np.ascontiguousarray(a), np.ascontiguousarray(b)
    return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


def _geometry(shape, k, s, p, d, ceil):
    x = rg.tensor(np.zeros(shape))
    kernel, stride, _, dil, pads, out_hw = _pool_geometry(x, k, s, p, d, ceil, "test")
    return kernel, stride, pads, dil, out_hw


def _input(rng, shape, dtype, special):
    # integers: ties everywhere; a fifth of them -0 (a tie between +0 and -0 decides
    # the sign of the maximum)
    x = np.round(rng.standard_normal(shape) * 1.5).astype(dtype)
    x.flat[::5] = -0.0
    if special == "nan":
        x.flat[::13] = np.nan
        x.flat[3::29] = -np.nan  # a NaN with the sign bit: which NaN comes out shows
        x.flat[1::17] = -np.inf
    elif special == "-inf":
        x[..., :3] = -np.inf  # whole windows of -inf next to the -inf padding
    return x


def _grad(rng, shape, dtype, special):
    g = rng.standard_normal(shape).astype(dtype)
    g.flat[::4] = -0.0
    if special == "g-inf":
        g.flat[2::9] = np.inf
        g.flat[5::11] = -np.inf
        g.flat[7] = np.nan
    return g


def _both(x, g, kernel, stride, pads, dil, out_hw):
    with np.errstate(invalid="ignore"):
        o1, s1 = N.max_pool2d_fwd(x, kernel, stride, pads, dil, out_hw)
        o2, s2 = B.max_pool2d_fwd(x, kernel, stride, pads, dil, out_hw)
        g1 = N.max_pool2d_bwd(g, s1, x.shape, kernel, stride, pads, dil)
        g2 = B.max_pool2d_bwd(g, s2, x.shape, kernel, stride, pads, dil)
    return (o1, s1, g1), (o2, s2, g2)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("config", CONFIGS, ids=str)
@pytest.mark.parametrize("special", ["ties", "nan", "-inf", "g-inf"])
def test_max_pool_kernels_are_bitwise_the_twin(always_compiled, dtype, config, special):
    rng = np.random.default_rng(len(str(config)) + len(special))
    shape = (2, 3, 9, 8)
    kernel, stride, pads, dil, out_hw = _geometry(shape, *config)
    x = _input(rng, shape, dtype, special)
    g = _grad(rng, (2, 3, *out_hw), dtype, special)
    (o1, _, g1), (o2, s2, g2) = _both(x, g, kernel, stride, pads, dil, out_hw)
    assert isinstance(s2, np.ndarray) and s2.dtype == np.uint8  # the compiled path ran
    assert _bits_equal(o1, o2)
    assert _bits_equal(g1, g2)
    # the twin's backward on the compiled forward's state (kernels switched between
    # forward and backward) gives the same bits too
    with np.errstate(invalid="ignore"):
        g3 = N.max_pool2d_bwd(g, s2, x.shape, kernel, stride, pads, dil)
    assert _bits_equal(g1, g3)


@pytest.mark.parametrize("dtype", DTYPES)
def test_signed_zero_ties_come_out_as_the_twin_makes_them(always_compiled, dtype):
    # np.maximum(+0, -0) is -0 and np.maximum(-0, +0) is +0: the later value wins a
    # tie; the gradient goes to the first of the tied zeros
    x = np.array([[[[0.0, -0.0, -0.0, 0.0], [-0.0, -0.0, 0.0, 0.0]]]], dtype)
    kernel, stride, pads, dil, out_hw = _geometry(x.shape, 2, None, 0, 1, False)
    g = np.array([[[[-2.0, 3.0]]]], dtype)
    (o1, _, g1), (o2, _, g2) = _both(x, g, kernel, stride, pads, dil, out_hw)
    assert _bits_equal(o1, o2) and _bits_equal(g1, g2)
    assert np.signbit(o2).tolist() == [[[[True, False]]]]
    # -2 * 0 is -0 where the gradient does not go: the twin's g * mask
    assert g2.tolist() == [[[[-2.0, 0.0, 3.0, 0.0], [0.0, 0.0, 0.0, 0.0]]]]
    assert np.signbit(g2[0, 0, 0, 1]) and not np.signbit(g2[0, 0, 0, 3])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(
    "config, size, windows, terms",
    [
        # 3x3 stride 1: all 9 windows around the centre (the phase-plane backward)
        (
            (3, 1, 1, 1, False),
            5,
            [(y, x) for y in range(1, 4) for x in range(1, 4)],
            [1e8, -1.0, 3e-8, 0.7, -1e8, 1.3, 2e-3, 5.0, -7e7],
        ),
        # 3x3 stride 2: the 4 windows that share element (2, 2) (the scatter)
        ((3, 2, 0, 1, False), 7, [(0, 0), (0, 1), (1, 0), (1, 1)], [1e8, 3e-8, -1e8, 0.7]),
    ],  # fmt: skip
    ids=["stride1", "stride2"],
)
def test_overlapping_windows_add_in_the_twins_order(always_compiled, dtype, config, size,
                                                    windows, terms):  # fmt: skip
    # Every listed window's maximum is the same element c, which receives their
    # gradients: values spread over many magnitudes, so another order of the additions
    # would round differently (checked below: the reversed order differs).
    x = np.zeros((1, 1, size, size), dtype)
    c = size // 2 if config[1] == 1 else 2
    x[0, 0, c, c] = 1.0
    kernel, stride, pads, dil, out_hw = _geometry(x.shape, *config)
    g = np.zeros((1, 1, *out_hw), dtype)
    for (y, xx), t in zip(windows, terms):
        g[0, 0, y, xx] = t
    (_, _, g1), (_, _, g2) = _both(x, g, kernel, stride, pads, dil, out_hw)
    assert _bits_equal(g1, g2)
    # the twin adds offset 0's slab first: the last of the windows (row-major) first
    ordered = [g[0, 0, y, xx] for y, xx in windows][::-1]
    fold = dtype(0)
    for t in ordered:
        fold = dtype(fold + t)
    back = dtype(0)
    for t in ordered[::-1]:
        back = dtype(back + t)
    assert fold != back  # the order matters for these terms
    assert g2[0, 0, c, c] == fold


def test_windows_of_more_than_256_elements_keep_int32_offsets(always_compiled):
    rng = np.random.default_rng(5)
    x = _input(rng, (1, 2, 18, 17), np.float64, "ties")
    kernel, stride, pads, dil, out_hw = _geometry(x.shape, (17, 16), 1, 0, 1, False)
    g = _grad(rng, (1, 2, *out_hw), np.float64, "ties")
    (o1, _, g1), (o2, s2, g2) = _both(x, g, kernel, stride, pads, dil, out_hw)
    assert s2.dtype == np.int32 and s2.max() < 17 * 16
    assert _bits_equal(o1, o2) and _bits_equal(g1, g2)


@pytest.mark.parametrize("config", CONFIGS, ids=str)
def test_saved_offsets_are_torchs_indices(always_compiled, torch, config):
    # torch's return_indices, in flat (h * W + w) positions: the same arg-max rule,
    # ties and NaN included
    rng = np.random.default_rng(6)
    x = _input(rng, (2, 3, 9, 8), np.float64, "nan")
    kernel, stride, pads, dil, out_hw = _geometry(x.shape, *config)
    _, idx = B.max_pool2d_fwd(x, kernel, stride, pads, dil, out_hw)
    k, s, p, d, ceil = config
    _, want = torch.nn.functional.max_pool2d(
        torch.tensor(x), k, s, p, d, ceil_mode=ceil, return_indices=True
    )
    oy, ox = np.meshgrid(np.arange(out_hw[0]), np.arange(out_hw[1]), indexing="ij")
    r = oy * stride[0] - pads[0][0] + (idx // kernel[1]) * dil[0]
    c = ox * stride[1] - pads[1][0] + (idx % kernel[1]) * dil[1]
    np.testing.assert_array_equal(r * x.shape[3] + c, want.numpy())


def _layer_run(choice, dtype, config, special):
    kernels.use(choice)
    try:
        rng = np.random.default_rng(7)
        x = rg.tensor(_input(rng, (3, 4, 10, 9), dtype, special), requires_grad=True)
        y = rg.nn.functional.max_pool2d(x, *config)
        g = _grad(rng, y.shape, dtype, "g-inf" if special == "nan" else "ties")
        with np.errstate(invalid="ignore"):
            (y * rg.tensor(g)).sum().backward()
        return y.data.copy(), x.grad.copy()
    finally:
        kernels.use("auto")


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("config", CONFIGS[:4], ids=str)
@pytest.mark.parametrize("special", ["ties", "nan"])
def test_max_pool2d_is_bitwise_the_same_either_way(dtype, config, special):
    for a, b in zip(_layer_run("numpy", dtype, config, special),
                    _layer_run("numba", dtype, config, special)):  # fmt: skip
        assert _bits_equal(a, b)


@pytest.mark.parametrize("config", [(2, None, 0, 1, False), (3, 2, 1, 1, False)], ids=str)
def test_max_pool2d_matches_torch_with_ties(torch, config):
    rng = np.random.default_rng(8)
    x = np.round(rng.standard_normal((2, 3, 9, 8)), 0)  # many ties
    g = rng.standard_normal((2, 3, *_geometry(x.shape, *config)[4]))
    kernels.use("numba")
    try:
        xt = rg.tensor(x, requires_grad=True)
        y = rg.nn.functional.max_pool2d(xt, *config)
        (y * rg.tensor(g)).sum().backward()
    finally:
        kernels.use("auto")
    tx = torch.tensor(x, requires_grad=True)
    ty = torch.nn.functional.max_pool2d(tx, *config[:4], ceil_mode=config[4])
    (ty * torch.tensor(g)).sum().backward()
    np.testing.assert_array_equal(y.data, ty.detach().numpy())
    if config[1] is None:  # non-overlapping: one gradient per element, exactly torch's
        np.testing.assert_array_equal(xt.grad, tx.grad.numpy())
    else:  # torch adds an element's gradients in another order: an ulp apart at most
        np.testing.assert_allclose(xt.grad, tx.grad.numpy(), rtol=1e-15, atol=1e-15)


def test_geometries_where_the_kernels_did_not_pay_take_the_twin():
    # measured slower there (see _kernel_pays): non-overlapping windows but 2x2
    for config, compiled in [((2, None, 0, 1, False), True), ((3, 2, 1, 1, False), True),
                             ((2, 1, 0, 1, False), True), ((3, 3, 0, 1, False), False),
                             (((1, 3), 1, (0, 1), 1, False), True),
                             (((1, 2), 1, 0, 1, False), True),
                             (((1, 2), (1, 2), 0, 1, False), False)]:  # fmt: skip
        kernel, stride, pads, dil, out_hw = _geometry((1, 1, 9, 9), *config)
        _, state = B.max_pool2d_fwd(np.ones((1, 1, 9, 9)), kernel, stride, pads, dil, out_hw)
        assert isinstance(state, np.ndarray) == compiled, config


def test_other_layouts_and_dtypes_take_the_twin():
    rng = np.random.default_rng(9)
    x = _input(rng, (2, 3, 8, 8), np.float32, "ties")
    args = _geometry(x.shape, 2, None, 0, 1, False)
    kernel, stride, pads, dil, out_hw = args
    xt = x.transpose(0, 1, 3, 2)  # not C-contiguous
    (o1, _, _), (o2, s2, _) = _both(xt, np.ones((2, 3, 4, 4), np.float32), *args)
    assert isinstance(s2, tuple) and _bits_equal(o1, o2)
    x16 = x.astype(np.float16)
    o, s = B.max_pool2d_fwd(x16, kernel, stride, pads, dil, out_hw)
    assert isinstance(s, tuple) and o.dtype == np.float16


def test_compiled_step_replays_a_generic_max_pool_bitwise():
    def build():
        return rg.nn.Sequential(
            rg.nn.Conv2d(2, 3, 3, padding=1), rg.nn.Tanh(), rg.nn.MaxPool2d(3, 2, 1),
            rg.nn.Flatten(), rg.nn.Linear(3 * 4 * 4, 4),
        )  # fmt: skip

    rng = np.random.default_rng(10)
    x = rng.standard_normal((5, 2, 8, 8)).astype(np.float32)
    y = rng.integers(0, 4, 5)
    models = []
    for _ in range(2):
        rg.manual_seed(0)
        m = build()
        models.append((m, rg.optim.SGD(m.parameters(), lr=0.05, momentum=0.9)))
    (m1, o1), (m2, o2) = models
    lf = rg.nn.CrossEntropyLoss()
    step = rg.train.compile_step(m2, lf, o2)
    for _ in range(3):
        o1.zero_grad()
        loss = lf(m1(rg.tensor(x)), rg.tensor(y))
        loss.backward()
        o1.step()
        assert step(x, y) == float(loss.data)
    for p1, p2 in zip(m1.parameters(), m2.parameters()):
        assert _bits_equal(p1.data, p2.data)
    assert step.replays == 2
