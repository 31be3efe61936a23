"""kernels._blas.one_thread: one BLAS thread inside, the count back after, from any thread."""

from __future__ import annotations

import threading

import pytest

from retrograd.kernels import _blas

lib = _blas.openblas()
pytestmark = pytest.mark.skipif(
    lib is None or lib.set_threads_local is None or lib.get_threads is None,
    reason="no OpenBLAS with openblas_set_num_threads_local here",
)


def _needs_two():
    if lib.get_threads() < 2:
        pytest.skip("OpenBLAS runs one thread: nothing to tell apart")


def test_inside_one_thread_and_back_after_even_on_error():
    _needs_two()
    before = lib.get_threads()
    with _blas.one_thread():
        assert lib.get_threads() == 1
    assert lib.get_threads() == before
    with pytest.raises(KeyError), _blas.one_thread():
        raise KeyError("inside")
    assert lib.get_threads() == before


def test_threads_leaving_in_any_order_give_the_count_back_once_all_are_out():
    # A enters, B enters, A leaves (B still inside), B leaves. In pthreads builds the
    # count is the process's: restoring per thread would hand B's "previous" (1) back
    # last and leave the process on one thread.
    _needs_two()
    before = lib.get_threads()
    steps = {k: threading.Event() for k in ("a_in", "b_in", "a_out", "b_go")}
    seen = {}

    def a():
        with _blas.one_thread():
            steps["a_in"].set()
            steps["b_in"].wait(5)
        steps["a_out"].set()

    def b():
        steps["a_in"].wait(5)
        with _blas.one_thread():
            steps["b_in"].set()
            steps["a_out"].wait(5)
            seen["b after a left"] = lib.get_threads()

    threads = [threading.Thread(target=f) for f in (a, b)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert all(steps[k].is_set() for k in ("a_in", "b_in", "a_out"))
    assert seen["b after a left"] == 1  # B's block still runs on one thread
    assert lib.get_threads() == before
