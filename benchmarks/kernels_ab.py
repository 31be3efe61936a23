"""With and without the compiled kernels, alternating in one process: RNN and CNN steps.

The benchmark training steps of ``bench_rnn.py`` (LSTM, GRU) and ``bench_cnn.py``, and
single layers' forward and backward (``LAYERS``: max-pools, a stride-2 conv), run
twice each, once on the NumPy twins (``retrograd.kernels.use("numpy")``, what an install
without the ``[fast]`` extra runs) and once on the Numba kernels, switched before every
timed repetition; the median over the repetitions of the per-step time is reported, and
the ratio. The recurrent and convolution kernels compute the twins' bits (tests/kernels),
so the LSTM and GRU losses agree exactly; the CNN's loss (softmax cross-entropy, whose
``exp``/``log`` may differ by an ulp) drifts apart by ~1e-7 relative over the steps.

    python benchmarks/kernels_ab.py                # BLAS as configured
    python benchmarks/kernels_ab.py --threads 1    # one BLAS thread
    python benchmarks/kernels_ab.py --only pool    # the rows whose name contains this

Needs Numba (``pip install retrograd[fast]``).
"""

from __future__ import annotations

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _common as C  # noqa: E402

STEPS = 5
#: Single layers, forward and backward on one float32 input: (name, input shape, layer).
#: The max-pools are ones no conv before them fuses with; the conv has stride 2 (its
#: input gradient is the strided col2im).
LAYERS = [
    ("MaxPool2d(2)", (64, 32, 28, 28), lambda nn: nn.MaxPool2d(2)),
    ("MaxPool2d(3, 2, 1)", (32, 64, 56, 56), lambda nn: nn.MaxPool2d(3, 2, 1)),
    ("MaxPool2d(3, 1, 1)", (64, 32, 28, 28), lambda nn: nn.MaxPool2d(3, 1, 1)),
    ("Conv2d(32, 32, 3, stride=2, padding=1)", (64, 32, 28, 28),
     lambda nn: nn.Conv2d(32, 32, 3, stride=2, padding=1)),
]  # fmt: skip


class _Layer:
    """One layer's forward and backward (upstream gradient ones) as a "step"."""

    @staticmethod
    def init_weights(*pre: object) -> None:
        return None

    @staticmethod
    def make_data() -> None:
        return None

    @staticmethod
    def build_retrograd(shape, make, weights, data, steps):  # type: ignore[no-untyped-def]
        import numpy as np

        import retrograd as rg

        rng = np.random.default_rng(0)
        relu_out = np.maximum(rng.standard_normal(shape), 0)  # many tied zeros
        x = rg.tensor(relu_out.astype(np.float32), requires_grad=True)
        rg.manual_seed(0)
        layer = make(rg.nn)
        info: dict = {}

        def fn() -> None:
            for _ in range(steps):
                x.grad = None
                layer.zero_grad()
                y = layer(x)
                y.backward(rg.ones(*y.shape))
            info["loss"] = float(x.grad.sum()) + float(y.data.sum())

        return fn, info


def run(repeats: int = 15, only: str | None = None) -> list[dict]:
    import bench_cnn
    import bench_rnn

    from retrograd import kernels

    kernels.use("numba")  # fails here, with the reason, when Numba is missing
    rows = []
    cases = [(cell, bench_rnn, (cell,)) for cell in bench_rnn.CELLS]
    cases.append(("CNN", bench_cnn, ()))
    cases += [(f"{name} fwd+bwd {shape}", _Layer, (shape, make)) for name, shape, make in LAYERS]
    cases = [c for c in cases if only is None or only.lower() in c[0].lower()]
    for name, mod, pre in cases:
        weights = mod.init_weights(*pre)
        data = mod.make_data()
        fns = {c: mod.build_retrograd(*pre, weights, data, STEPS) for c in ("numpy", "numba")}
        ts: dict = {c: [] for c in fns}
        for i in range(repeats + 2):  # two warm-up rounds (compilation, caches)
            order = ("numpy", "numba") if i % 2 == 0 else ("numba", "numpy")
            for c in order:
                kernels.use(c)
                t0 = time.perf_counter()
                fns[c][0]()
                if i >= 2:
                    ts[c].append((time.perf_counter() - t0) / STEPS)
        kernels.use("auto")
        med = {c: C.median(v) for c, v in ts.items()}
        rows.append({
            "model": name, "numpy_ms": 1e3 * med["numpy"], "numba_ms": 1e3 * med["numba"],
            "speedup": med["numpy"] / med["numba"],
            "losses": {c: fns[c][1]["loss"] for c in fns},
        })  # fmt: skip
    return rows


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--threads", type=int, default=None, help="BLAS threads (threadpoolctl)")
    p.add_argument("--repeats", type=int, default=15)
    p.add_argument("--only", default=None, help="run the rows whose name contains this")
    a = p.parse_args(argv)
    if a.threads is not None:
        import numpy  # noqa: F401 - load the BLAS first: threadpoolctl limits loaded libraries
        from threadpoolctl import threadpool_limits

        threadpool_limits(limits=a.threads, user_api="blas")
    load0 = C.load_average()
    rows = run(a.repeats, a.only)
    print(f"{C.blas_threads()} BLAS thread(s); load average before {load0}, after "
          f"{C.load_average()}")  # fmt: skip
    print("\n| step | NumPy twins ms | Numba kernels ms | speed-up | loss, rel. difference |")
    print("|---|---:|---:|---:|---:|")
    for r in rows:
        a, b = r["losses"]["numpy"], r["losses"]["numba"]
        print(f"| {r['model']} | {r['numpy_ms']:.2f} | {r['numba_ms']:.2f} | "
              f"{r['speedup']:.2f}x | {abs(a - b) / abs(a):.1e} |")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
