"""Every compiled kernel against its NumPy twin: bitwise, or within 1e-6 / 1e-12 relative."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

from retrograd import kernels
from retrograd.kernels import _numpy as N

B = pytest.importorskip("retrograd.kernels._numba", reason="Numba is not installed")

SHAPES = [(1, 10), (2, 7), (16, 32), (300, 300), (3, 70000)]  # the last: parallel loops
PARALLEL_SHAPE = (3, 70000)


@pytest.fixture(autouse=True)
def _parallel_for_the_large_shape(request, monkeypatch):
    # The parallel loops start at PARALLEL_MIN elements (above the benchmarks' sizes):
    # lowered here so that the large test shape runs them.
    callspec = getattr(request.node, "callspec", None)
    if callspec is not None and callspec.params.get("shape") == PARALLEL_SHAPE:
        monkeypatch.setattr(B, "PARALLEL_MIN", 1000)


DTYPES = [np.float32, np.float64]
RTOL = {np.float32: 1e-6, np.float64: 1e-12}


def _bits_equal(a, b):
    a, b = np.ascontiguousarray(a), np.ascontiguousarray(b)
    return (
        a.dtype == b.dtype
        and a.shape == b.shape
        and np.array_equal(a.view(np.uint8), b.view(np.uint8))
    )


def _data(shape, dtype, seed=0, specials=True):
    rng = np.random.default_rng(seed)
    a = rng.standard_normal(shape).astype(dtype)
    if specials:
        a.flat[:5] = [np.nan, -0.0, 0.0, np.inf, -np.inf]
    return a


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("with_bias", [True, False])
def test_bias_relu_is_bitwise_numpy(shape, dtype, with_bias):
    z = _data(shape, dtype)
    b = _data(shape[1:], dtype, seed=1, specials=False) if with_bias else None
    want, got = N.bias_relu(z.copy(), b), B.bias_relu(z.copy(), b)
    assert _bits_equal(want, got)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES)
def test_relu_grad_bias_is_bitwise_numpy(shape, dtype):
    out = np.maximum(_data(shape, dtype, seed=2), 0)
    g = _data(shape, dtype, seed=3)  # inf and NaN gradients, -0
    with np.errstate(invalid="ignore"):
        want, got = N.relu_grad_bias(g, out), B.relu_grad_bias(g, out)
    assert _bits_equal(want[0], got[0]) and _bits_equal(want[1], got[1])


def _labels(shape, seed=4):
    m, c = shape
    t = np.random.default_rng(seed).integers(0, c, m)
    return np.arange(0, m * c, c) + t


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES[:4] + [(5, 3000)])
def test_softmax_xent_agrees_with_numpy(shape, dtype):
    z = _data(shape, dtype, seed=5, specials=False) * 4
    flat = _labels(shape)
    (p1, l1), (p2, l2) = N.softmax_xent(z, flat), B.softmax_xent(z, flat)
    assert p2.dtype == dtype and type(l2) is type(l1)
    # exp/log may differ by an ulp between NumPy's and LLVM's implementations
    np.testing.assert_allclose(p2, p1, rtol=RTOL[dtype], atol=0)
    np.testing.assert_allclose(l2, l1, rtol=RTOL[dtype], atol=0)


@pytest.mark.parametrize("dtype", DTYPES)
def test_softmax_xent_keeps_nan_and_extreme_logits(dtype):
    z = np.array([[1e4, -1e4, 0.0], [np.nan, 1.0, 2.0]], dtype=dtype)
    flat = np.array([1, 3 + 2])
    with np.errstate(invalid="ignore"):
        (p1, l1), (p2, l2) = N.softmax_xent(z, flat), B.softmax_xent(z, flat)
    np.testing.assert_array_equal(p1, p2)  # NaN where NaN, 1 and 0 where saturated
    assert np.isnan(l1) and np.isnan(l2)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES[:4])
def test_xent_grad_is_bitwise_numpy(shape, dtype):
    flat = _labels(shape)
    p = N.softmax_xent(_data(shape, dtype, seed=6, specials=False), flat)[0]
    scale = np.asarray(1.0 / shape[0], dtype=dtype)
    assert _bits_equal(N.xent_grad(p, flat, scale), B.xent_grad(p, flat, scale))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES[:4] + [(5, 3000)])
@pytest.mark.parametrize("impl", [N, B], ids=["numpy", "numba"])
def test_softmax_xent_grad_is_bitwise_the_two_kernels_it_fuses(shape, dtype, impl):
    # what makes a replay that fuses the loss and its VJP bitwise the eager step
    z = _data(shape, dtype, seed=22, specials=False) * 4
    flat = _labels(shape)
    scale = np.asarray(1.0 / shape[0], dtype=dtype)
    grad, total = impl.softmax_xent_grad(z, flat, scale)
    p, want_total = impl.softmax_xent(z, flat)
    assert _bits_equal(grad, impl.xent_grad(p, flat, scale))
    assert type(total) is type(want_total) and _bits_equal(total, want_total)
    if impl is B:  # and within an ulp of the NumPy twin
        g1, t1 = N.softmax_xent_grad(z, flat, scale)
        np.testing.assert_allclose(grad, g1, rtol=RTOL[dtype], atol=RTOL[dtype] * 1e-3)
        np.testing.assert_allclose(total, t1, rtol=RTOL[dtype])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES)
def test_sgd_momentum_is_bitwise_numpy(shape, dtype):
    data, grad, buf = (_data(shape, dtype, seed=s, specials=False) for s in (7, 8, 9))
    lr, m = np.asarray(0.01, dtype), np.asarray(0.9, dtype)
    d1, b1, d2, b2 = data.copy(), buf.copy(), data.copy(), buf.copy()
    N.sgd_momentum(d1, grad, b1, lr, m)
    B.sgd_momentum(d2, grad, b2, lr, m)
    assert _bits_equal(d1, d2) and _bits_equal(b1, b2)


ADAM_VARIANTS = {
    "adam": dict(wd=0.0, decoupled=False, ams=False),
    "adam-l2": dict(wd=0.01, decoupled=False, ams=False),
    "adamw-amsgrad": dict(wd=0.1, decoupled=True, ams=True),
    "adam-l2-amsgrad": dict(wd=0.01, decoupled=False, ams=True),
}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("variant", list(ADAM_VARIANTS))
def test_adam_is_bitwise_numpy(shape, dtype, variant):
    o = ADAM_VARIANTS[variant]
    data, grad, m = (_data(shape, dtype, seed=s, specials=False) for s in (10, 11, 12))
    v = np.abs(_data(shape, dtype, seed=13, specials=False))
    vmax = np.abs(_data(shape, dtype, seed=14, specials=False)) if o["ams"] else None
    grad.flat[:3] = [np.nan, np.inf, -0.0]  # special values go through the same way
    out = []
    for impl in (N, B):
        arrays = [a.copy() if a is not None else None for a in (data, m, v, vmax)]
        with np.errstate(invalid="ignore"):
            for step in (1, 2, 7):  # the bias corrections change with the step
                impl.adam(arrays[0], grad, arrays[1], arrays[2], arrays[3], step, 0.003,
                          0.9, 0.999, 1e-8, o["wd"], o["decoupled"])  # fmt: skip
        out.append(arrays)
    for a, b in zip(*out):
        assert (a is None and b is None) or _bits_equal(a, b)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize(
    "wd, momentum, centered",
    [(0.0, 0.0, False), (0.01, 0.9, True), (0.0, 0.5, False), (0.01, 0.0, True)],
)
def test_rmsprop_is_bitwise_numpy(shape, dtype, wd, momentum, centered):
    data, grad = (_data(shape, dtype, seed=s, specials=False) for s in (15, 16))
    v = np.abs(_data(shape, dtype, seed=17, specials=False))
    ga = _data(shape, dtype, seed=18, specials=False) * 0.1 if centered else None
    buf = _data(shape, dtype, seed=19, specials=False) if momentum else None
    grad.flat[:3] = [np.nan, np.inf, -0.0]
    out = []
    for impl in (N, B):
        arrays = [a.copy() if a is not None else None for a in (data, v, ga, buf)]
        with np.errstate(invalid="ignore"):
            for _ in range(3):
                impl.rmsprop(arrays[0], grad, arrays[1], arrays[2], arrays[3], 0.01, 0.99,
                             1e-8, wd, momentum)  # fmt: skip
        out.append(arrays)
    for a, b in zip(*out):
        assert (a is None and b is None) or _bits_equal(a, b)


def test_optimizer_kernels_give_nan_not_an_error_for_zero_over_zero():
    # eps=0 and a zero second moment: 0/0 is NaN in NumPy; Numba must not raise instead
    for impl in (N, B):
        d, m, v = np.ones(4, np.float32), np.zeros(4, np.float32), np.zeros(4, np.float32)
        with np.errstate(invalid="ignore", divide="ignore"):
            impl.adam(d, np.zeros(4, np.float32), m, v, None, 1, 0.1, 0.9, 0.999, 0.0, 0.0, False)
            assert np.isnan(d).all()
            d, v = np.ones(4, np.float32), np.zeros(4, np.float32)
            impl.rmsprop(d, np.zeros(4, np.float32), v, None, None, 0.1, 0.99, 0.0, 0.0, 0.0)
            assert np.isnan(d).all()


def test_optimizer_kernels_fall_back_on_mixed_dtypes_and_strided_arrays():
    g64 = _data((3, 4), np.float64, seed=20, specials=False)
    for make in (lambda a: a, lambda a: np.asfortranarray(a)):
        out = []
        for impl in (N, B):
            d = make(_data((3, 4), np.float32, seed=21, specials=False))
            m, v = np.zeros_like(d), np.zeros_like(d)
            impl.adam(d, g64, m, v, None, 1, 0.1, 0.9, 0.999, 1e-8, 0.0, False)
            out.append((d, m, v))
        for a, b in zip(*out):
            assert _bits_equal(a, b)


def test_kernels_fall_back_to_numpy_on_layouts_they_do_not_loop_over():
    z = _data((4, 6), np.float32, specials=False)
    zf = np.asfortranarray(z)  # not C-contiguous
    assert _bits_equal(B.bias_relu(zf.copy(order="F"), None), N.bias_relu(zf.copy(order="F"), None))
    g = _data((2, 3, 4), np.float64, specials=False)
    out = np.abs(g)
    for x, y in zip(B.relu_grad_bias(g, out), N.relu_grad_bias(g, out)):
        assert _bits_equal(x, y)


def test_bias_relu_with_a_bias_of_another_length_is_numpy_broadcasting_not_a_read_past_it():
    z = _data((3, 5), np.float32, specials=False)
    one = np.array([0.25], dtype=np.float32)  # broadcasts, as NumPy and torch do
    assert _bits_equal(B.bias_relu(z.copy(), one), N.bias_relu(z.copy(), one))
    short = np.zeros(2, dtype=np.float32)  # cannot broadcast: NumPy's error, no garbage
    with pytest.raises(ValueError):
        B.bias_relu(z.copy(), short)


def test_use_switches_what_K_runs_and_the_env_var_is_checked():
    try:
        kernels.use("numpy")
        assert kernels.backend() == "numpy" and kernels.K.bias_relu is N.bias_relu
        kernels.use("numba")
        assert kernels.backend() == "numba" and kernels.K.bias_relu is B.bias_relu
        with pytest.raises(ValueError, match="choice must be one of"):
            kernels.use("fast")
    finally:
        kernels.use("auto")
    code = "from retrograd.kernels import K; K.bias_relu"
    proc = subprocess.run(
        [sys.executable, "-c", code], env=dict(os.environ, RETROGRAD_KERNELS="cuda"),
        capture_output=True, text=True,
    )  # fmt: skip
    assert proc.returncode != 0 and "RETROGRAD_KERNELS is 'cuda'" in proc.stderr


def test_importing_retrograd_does_not_import_numba():
    code = "import sys, retrograd; print('numba' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_the_large_shape_runs_the_parallel_loops(monkeypatch):
    monkeypatch.setattr(B, "PARALLEL_MIN", 1000)
    calls = []
    real = B._sgd_momentum_parallel
    monkeypatch.setattr(B, "_sgd_momentum_parallel", lambda *a: calls.append(1) or real(*a))
    data, grad, buf = (_data(PARALLEL_SHAPE, np.float32, seed=s, specials=False) for s in (1, 2, 3))
    B.sgd_momentum(data, grad, buf, np.asarray(0.1, np.float32), np.asarray(0.9, np.float32))
    assert calls == [1]
