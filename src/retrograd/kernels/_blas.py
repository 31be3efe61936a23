"""NumPy's own BLAS, called directly: the library ``np.dot`` calls, found and opened once.

A compiled kernel that calls the very ``cblas_sgemm``/``cblas_sgemv`` NumPy calls, with
the arguments NumPy would pass, gets NumPy's bits; a Numba kernel can call these
functions (ctypes function pointers) without going back to Python between products.
Only OpenBLAS builds are recognised (the NumPy wheels bundle ``scipy-openblas``); with
any other BLAS :func:`library` returns None and callers keep NumPy's ``dot``.

OpenBLAS >= 0.3.27 also has ``openblas_set_num_threads_local``, used by :func:`one_thread`
to run a burst of small products on the calling thread. Its count is the calling
thread's own only in OpenMP builds; in pthreads builds (NumPy's wheels) it is the
process's (measured: another thread's products meanwhile also ran on one thread), so
:func:`one_thread` counts the threads inside it and restores the count when the last
one leaves.

Nothing here is imported by ``import retrograd``; it is loaded with the kernels.
"""

from __future__ import annotations

import contextlib
import ctypes
import glob
import os
import sys
import threading
from collections.abc import Iterator
from typing import Any

import numpy as np

#: CBLAS enum values (cblas.h).
ROW_MAJOR, COL_MAJOR, NO_TRANS, TRANS = 101, 102, 111, 112

_state: dict = {"done": False, "lib": None}


def _candidates() -> list:
    """Paths of shared libraries that may be NumPy's OpenBLAS, most likely first."""
    here = os.path.dirname(np.__file__)
    found = []
    for pattern in (
        os.path.join(here, os.pardir, "numpy.libs", "*openblas*"),  # manylinux, Windows
        os.path.join(here, ".dylibs", "*openblas*"),  # macOS wheels
    ):
        found += sorted(glob.glob(pattern))
    if sys.platform.startswith("linux"):
        # Any OpenBLAS already mapped into this process (NumPy built against a system
        # or conda OpenBLAS loads it when imported).
        try:
            with open("/proc/self/maps") as f:
                for line in f:
                    path = line.rsplit(None, 1)[-1]
                    if "openblas" in os.path.basename(path).lower() and path not in found:
                        found.append(path)
        except OSError:
            pass
    return found


class Library:
    """The BLAS entry points of one opened OpenBLAS (ctypes functions, typed)."""

    def __init__(self, path: str, cdll: Any, prefix: str, suffix: str) -> None:
        self.path = path
        self.ilp64 = suffix.startswith("64")
        integer = ctypes.c_int64 if self.ilp64 else ctypes.c_int32
        enum, vp = ctypes.c_int, ctypes.c_void_p

        def fn(name: str, restype: Any, *argtypes: Any) -> Any:
            f = getattr(cdll, prefix + name + suffix)
            f.restype, f.argtypes = restype, list(argtypes)
            return f

        self.integer = integer
        for ch, real in (("s", ctypes.c_float), ("d", ctypes.c_double)):
            # (order, transA, transB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc)
            gemm = fn(
                f"cblas_{ch}gemm", None, enum, enum, enum, integer, integer, integer, real,
                vp, integer, vp, integer, real, vp, integer,
            )  # fmt: skip
            # (order, trans, M, N, alpha, A, lda, X, incX, beta, Y, incY)
            gemv = fn(
                f"cblas_{ch}gemv", None, enum, enum, integer, integer, real, vp, integer,
                vp, integer, real, vp, integer,
            )  # fmt: skip
            setattr(self, f"{ch}gemm", gemm)
            setattr(self, f"{ch}gemv", gemv)
        self.set_threads_local = self.global_threads = None
        local = getattr(cdll, "openblas_set_num_threads_local", None)
        if local is not None:
            # (n) sets the count and returns the count it had (its own, or the global
            # one when it had none); 0 removes the count set, back to the global one.
            local.restype, local.argtypes = ctypes.c_int, [ctypes.c_int]
            self.set_threads_local = local
            with contextlib.suppress(ValueError):
                self.global_threads = ctypes.c_int.in_dll(cdll, "blas_num_threads")
        #: () -> the count in effect for the calling thread (reads, sets nothing).
        self.get_threads = getattr(cdll, prefix + "openblas_get_num_threads" + suffix, None)
        if self.get_threads is not None:
            self.get_threads.restype, self.get_threads.argtypes = ctypes.c_int, []
        # 0 sequential, 1 pthreads, 2 OpenMP: only OpenMP's count is per thread (an ICV).
        parallel = getattr(cdll, prefix + "openblas_get_parallel" + suffix, None)
        if parallel is not None:
            parallel.restype, parallel.argtypes = ctypes.c_int, []
        self.per_thread_count = parallel is not None and parallel() == 2


def _open(path: str) -> Library | None:
    try:
        cdll = ctypes.CDLL(path)
    except OSError:
        return None
    for prefix in ("scipy_", ""):
        for suffix in ("64_", ""):
            if hasattr(cdll, f"{prefix}cblas_sgemm{suffix}"):
                if not suffix and "USE64BITINT" in _config(cdll, prefix, suffix):
                    continue  # 64-bit integers without the suffix: not what we declare
                return Library(path, cdll, prefix, suffix)
    return None


def _config(cdll: Any, prefix: str, suffix: str) -> str:
    get = getattr(cdll, f"{prefix}openblas_get_config{suffix}", None)
    if get is None:
        return ""
    get.restype = ctypes.c_char_p
    return (get() or b"").decode("ascii", "replace")


def library() -> Library | None:
    """NumPy's OpenBLAS, opened, or None when it cannot be found (then use ``np.dot``).

    The first candidate found is taken; whether it really is the library ``np.dot``
    calls is for the caller to confirm (the compiled training step compares its first
    results with NumPy's, bit for bit, before it relies on them).
    """
    if not _state["done"]:
        _state["done"] = True
        if os.environ.get("RETROGRAD_KERNELS", "").strip().lower() != "numpy":
            for path in _candidates():
                lib = _open(path)
                if lib is not None:
                    _state["lib"] = lib
                    break
    return _state["lib"]


def openblas() -> Library | None:
    """NumPy's OpenBLAS whatever ``RETROGRAD_KERNELS`` says, or None (for :func:`one_thread`).

    ``RETROGRAD_KERNELS=numpy`` keeps the kernels off NumPy's BLAS (:func:`library` is
    None); a thread count is not a kernel, so :func:`one_thread` acts either way.
    """
    if "any" not in _state:
        lib = library()
        for path in [] if lib is not None else _candidates():
            lib = _open(path)
            if lib is not None:
                break
        _state["any"] = lib
    return _state["any"]


_shared = {"lock": threading.Lock(), "inside": 0, "previous": 0}


def _restore(lib: Library, previous: int) -> None:
    # Back to no count set when none was (or the global one's value), else the count set.
    glob_ = lib.global_threads
    lib.set_threads_local(0 if glob_ is None or previous == glob_.value else previous)


@contextlib.contextmanager
def one_thread() -> Iterator[None]:
    """Run the BLAS calls of the block on the calling thread: one BLAS thread.

    For bursts of small products (a recurrent layer's steps), where a second BLAS thread
    that the scheduler is not running makes each product wait. In OpenMP builds of
    OpenBLAS the count is this thread's own; in pthreads builds (NumPy's wheels) it is
    the process's, so BLAS calls other threads make meanwhile also run on one thread,
    and the count comes back when the last thread inside leaves. Without
    ``openblas_set_num_threads_local`` (another BLAS, an OpenBLAS older than 0.3.27)
    this does nothing.
    """
    lib = openblas()
    if lib is None or lib.set_threads_local is None:
        yield
        return
    if lib.per_thread_count:
        previous = lib.set_threads_local(1)
        try:
            yield
        finally:
            _restore(lib, previous)
        return
    with _shared["lock"]:
        if _shared["inside"] == 0:
            _shared["previous"] = lib.set_threads_local(1)
        _shared["inside"] += 1
    try:
        yield
    finally:
        with _shared["lock"]:
            _shared["inside"] -= 1
            if _shared["inside"] == 0:
                _restore(lib, _shared["previous"])


__all__ = [
    "COL_MAJOR", "NO_TRANS", "ROW_MAJOR", "TRANS", "Library", "library", "one_thread", "openblas",
]  # fmt: skip
