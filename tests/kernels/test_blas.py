"""retrograd.kernels._blas: NumPy's OpenBLAS called directly gives np.dot's bits."""

from __future__ import annotations

import ctypes

import numpy as np
import pytest

from retrograd.kernels import _blas

lib = _blas.library()
pytestmark = pytest.mark.skipif(lib is None, reason="NumPy's BLAS is not an OpenBLAS found here")


def _ptr(a: np.ndarray) -> int:
    return a.ctypes.data_as(ctypes.c_void_p)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("m,k,n", [(2, 3, 4), (16, 64, 32), (128, 784, 256), (5, 7, 2)])
def test_gemm_is_np_dot(dtype, m, k, n):
    rng = np.random.default_rng(m * k + n)
    a = rng.standard_normal((m, k)).astype(dtype)
    w = rng.standard_normal((n, k)).astype(dtype)  # a layer's (out, in) weight
    gemm = lib.sgemm if dtype == np.float32 else lib.dgemm
    out = np.empty((m, n), dtype)
    # np.dot(a, w.T): w.T is Fortran-ordered, which NumPy passes as a transposed operand
    gemm(_blas.ROW_MAJOR, _blas.NO_TRANS, _blas.TRANS, m, n, k, 1.0, _ptr(a), k, _ptr(w), k,
         0.0, _ptr(out), n)  # fmt: skip
    assert np.array_equal(out, np.dot(a, w.T))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_gemv_is_np_dot_of_a_row(dtype):
    rng = np.random.default_rng(1)
    x = rng.standard_normal((1, 64)).astype(dtype)
    w = rng.standard_normal((32, 64)).astype(dtype)
    gemv = lib.sgemv if dtype == np.float32 else lib.dgemv
    out = np.empty((1, 32), dtype)
    gemv(_blas.COL_MAJOR, _blas.TRANS, 64, 32, 1.0, _ptr(w), 64, _ptr(x), 1, 0.0, _ptr(out), 1)
    assert np.array_equal(out, np.dot(x, w.T))


def test_one_thread_is_local_and_restored():
    if lib.set_threads_local is None:
        pytest.skip("this OpenBLAS has no per-thread thread count")
    before = lib.set_threads_local(0)  # no count of its own; returns the effective one
    with _blas.one_thread():
        assert lib.set_threads_local(1) == 1  # inside: this thread runs one BLAS thread
    assert lib.set_threads_local(0) == before  # after: the count it had
