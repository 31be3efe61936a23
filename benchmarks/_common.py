"""Helpers shared by the benchmark scripts: machine details, timing, memory, data.

Everything here imports only the standard library and NumPy at module level, so that
``benchmarks/run.py`` (and ``retrograd bench``) stay cheap to import. Peers (PyTorch,
scikit-learn) are imported inside the functions that need them.
"""

from __future__ import annotations

import gc
import os
import platform
import resource
import statistics
import sys
import time
import tracemalloc
from collections.abc import Callable, Sequence
from typing import Any

#: Environment variables that pin OpenBLAS to an older kernel; on this machine they slow
#: a current NumPy, so the benchmark subprocesses run without them (both together).
OPENBLAS_PINS = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")

#: Keys every result row carries (the smoke test checks them).
RESULT_KEYS = (
    "suite", "config", "description", "contender", "status", "note", "batch_size",
    "n_samples", "samples_per_s", "epoch_s_median", "epoch_s", "peak_mem_mib", "mem_method",
)  # fmt: skip


# ------------------------------------------------------------------ machine details


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _version(dist: str) -> str | None:
    # importlib.metadata reads the installed version without importing the package
    # (importing torch costs ~1.7 s and 200 MB).
    from importlib import metadata

    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def blas_info() -> list[dict]:
    """The BLAS libraries NumPy loaded and the kernel/threads each uses (threadpoolctl)."""
    import numpy as np  # noqa: F401 - loads the BLAS so threadpoolctl can see it

    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return []
    keep = ("user_api", "internal_api", "version", "architecture", "num_threads", "prefix")
    libs = [{k: lib.get(k) for k in keep + ("filepath",)} for lib in threadpool_info()]
    # NumPy's own library first: SciPy's or PyTorch's, loaded later, may come before it.
    mine = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(np.__file__))), "numpy")
    libs.sort(key=lambda lib: not str(lib.get("filepath") or "").startswith(mine))
    for lib in libs:
        lib.pop("filepath")
    return libs


def blas_threads() -> int:
    """Threads NumPy's BLAS uses; the thread count every contender gets."""
    for lib in blas_info():
        if lib.get("user_api") == "blas" and lib.get("num_threads"):
            return int(lib["num_threads"])
    return os.cpu_count() or 1


def numpy_blas_build() -> str | None:
    """The BLAS NumPy was built against, from ``numpy.show_config``."""
    import numpy as np

    try:
        cfg = np.show_config(mode="dicts")
        blas = cfg["Build Dependencies"]["blas"]
        return f"{blas.get('name')} {blas.get('version')}"
    except Exception:  # noqa: BLE001 - older NumPy has no mode="dicts"
        return None


def machine_info() -> dict:
    """CPU, cores, BLAS and versions: what a reader needs to compare numbers."""
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        usable = os.cpu_count()
    return {
        "cpu": _cpu_model(),
        "machine": platform.machine(),
        "logical_cpus": os.cpu_count(),
        "usable_cpus": usable,
        "os": platform.platform(),
        "python": platform.python_version(),
        "numpy": _version("numpy"),
        "numpy_blas_build": numpy_blas_build(),
        "blas_runtime": blas_info(),
        "retrograd": _version("retrograd"),
        "torch": _version("torch"),
        "scikit-learn": _version("scikit-learn"),
        "openblas_env": {k: os.environ.get(k) for k in OPENBLAS_PINS if k in os.environ},
        "load_average": load_average(),
    }


def load_average() -> list[float] | None:
    """1/5/15-minute load averages: other work on the machine skews every timing."""
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except (AttributeError, OSError):
        return None


def bench_env() -> tuple[dict, list[str]]:
    """The environment for benchmark subprocesses and the variables removed from it."""
    env = dict(os.environ)
    removed = [k for k in OPENBLAS_PINS if k in env]
    if removed:
        # Unset together: the pair selects an old kernel and cache size as one choice.
        for k in OPENBLAS_PINS:
            env.pop(k, None)
    return env, removed


# ------------------------------------------------------------------------- timing


def median(xs: Sequence[float]) -> float:
    return float(statistics.median(xs))


def time_alternating(
    epochs: dict[str, Callable[[], Any]], repeats: int, warmup: int = 1, settle: float = 0.2
) -> dict[str, list[float]]:
    """Time one epoch of each contender ``repeats`` times, interleaving the contenders.

    Round ``r`` runs every contender once, in an order rotated by ``r``, so slow drift of
    the machine (frequency, other load) lands on all of them alike and no contender
    always runs first. ``gc.collect()`` before each timed epoch gives everyone the same
    start; the collector stays on during the epoch, as in real training. A pause of
    ``settle`` seconds before each timed epoch lets the previous contender's BLAS/OpenMP
    worker threads, which spin for a while after their last call, go to sleep, so they
    do not steal a core from the next contender.
    """
    names = list(epochs)
    for _ in range(warmup):
        for name in names:
            epochs[name]()
    times: dict[str, list[float]] = {n: [] for n in names}
    for r in range(repeats):
        k = r % len(names)
        for name in names[k:] + names[:k]:
            fn = epochs[name]
            gc.collect()
            time.sleep(settle)
            t0 = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t0)
    return times


# ------------------------------------------------------------------------- memory


def step_runner(model: Any, loss_fn: Any, opt: Any, batches: list, steps: int) -> tuple:
    """``(run_steps, state)``: run_steps() trains ``steps`` SGD steps on the next batches.

    The same code drives retrograd and PyTorch (their APIs agree); ``state`` holds the
    batch position, the last loss and the objects, for the memory probes.
    """
    state = {"i": 0, "loss": None, "model": model, "batches": batches, "loss_fn": loss_fn}

    def run_steps() -> None:
        for _ in range(steps):
            x, y = batches[state["i"] % len(batches)]
            state["i"] += 1
            opt.zero_grad()
            loss = loss_fn(model(x), y)
            loss.backward()
            opt.step()
            state["loss"] = loss.item()

    return run_steps, state


def traced_peak_mib(fn: Callable[[], Any]) -> float:
    """Peak bytes allocated through Python's allocators while ``fn`` runs, in MiB.

    NumPy reports its data buffers to tracemalloc, so for NumPy-based code this is the
    peak of arrays (and Python objects) alive at once above what existed before.
    It cannot see memory that C++ libraries (PyTorch) allocate themselves.
    """
    gc.collect()
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        base = tracemalloc.get_traced_memory()[0]
        fn()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return (peak - base) / 2**20


def maxrss_mib() -> float:
    """This process's peak resident set size so far, in MiB (Linux reports KiB)."""
    r = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return r / 2**20 if sys.platform == "darwin" else r / 1024


# --------------------------------------------------------------------------- data


def synthetic_classification(n: int, d: int, classes: int, seed: int = 0) -> tuple:
    """Float32 inputs in [0, 1] with some class structure, int64 labels (MNIST-shaped)."""
    import numpy as np

    rng = np.random.default_rng(seed)
    y = rng.integers(0, classes, size=n).astype(np.int64)
    centers = rng.random((classes, d), dtype=np.float32)
    X = 0.5 * centers[y] + 0.5 * rng.random((n, d), dtype=np.float32)
    return X.astype(np.float32, copy=False), y


def digits_data(limit: int | None = None) -> tuple:
    """The digits set (1797 x 64, scaled to [0, 1]); synthetic data of that shape if absent."""
    import numpy as np

    try:
        import retrograd as rg

        X, y = rg.data.load_digits()
        X = (X / np.float32(16.0)).astype(np.float32)
        source = "rg.data.load_digits() / 16"
    except Exception:  # noqa: BLE001 - the data module may be missing or broken
        X, y = synthetic_classification(1797, 64, 10, seed=1)
        source = "synthetic 1797x64 (rg.data.load_digits unavailable)"
    if limit is not None:
        X, y = X[:limit], y[:limit]
    return np.ascontiguousarray(X), y, source


def make_batches(X: Any, y: Any, batch_size: int, seed: int = 0) -> list[tuple]:
    """One fixed shuffled order cut into contiguous float32/int64 batches.

    Every contender trains on exactly these arrays in exactly this order; the last,
    smaller batch is dropped so every step has the same shape.
    """
    import numpy as np

    order = np.random.default_rng(seed).permutation(len(X))
    Xs = np.ascontiguousarray(X[order], dtype=np.float32)
    ys = np.ascontiguousarray(y[order], dtype=np.int64)
    n = (len(Xs) // batch_size) * batch_size
    return [(Xs[i : i + batch_size], ys[i : i + batch_size]) for i in range(0, n, batch_size)]


def init_params(sizes: Sequence[int], seed: int = 0) -> list[tuple]:
    """Float32 (weight (out, in), bias (out,)) pairs, PyTorch's default Linear init law.

    U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for both, drawn once and copied into every
    contender so all start from the same point.
    """
    import numpy as np

    rng = np.random.default_rng(seed)
    out = []
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
        bound = 1.0 / np.sqrt(fan_in)
        w = rng.uniform(-bound, bound, (fan_out, fan_in)).astype(np.float32)
        b = rng.uniform(-bound, bound, (fan_out,)).astype(np.float32)
        out.append((w, b))
    return out


def mlp_loss(params: Sequence[tuple], X: Any, y: Any) -> float:
    """Mean softmax cross-entropy of a ReLU MLP, in float64 (the cross-check of runs)."""
    import numpy as np

    a = X.astype(np.float64)
    for i, (w, b) in enumerate(params):
        a = a @ w.astype(np.float64).T + b.astype(np.float64)
        if i < len(params) - 1:
            a = np.maximum(a, 0)
    a = a - a.max(axis=1, keepdims=True)
    logp = a - np.log(np.exp(a).sum(axis=1, keepdims=True))
    return float(-logp[np.arange(len(y)), y].mean())
