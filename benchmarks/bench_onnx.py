"""Inference: retrograd (NumPy) vs the same model exported to ONNX and run by ONNX Runtime.

    OPENBLAS_NUM_THREADS=1 python benchmarks/bench_onnx.py          # the table in docs/deploy.md
    python benchmarks/bench_onnx.py --quick                          # smoke run (seconds)

Four models on the 8x8 digits: the demo MLP (64-128-64-10), the digits CNN of
examples/cnn_digits.py, the command line's LSTM classifier (lstm:64) and equilibrium
classifier (fixedpoint:64). For batches of 1 and 64 the two contenders alternate, round
by round, each timing a block of calls; the figure is the median time per call. Both run
on one thread (ONNX Runtime's intra-op pool set to 1; set OPENBLAS_NUM_THREADS=1 for
NumPy). File sizes: the retrograd model file (rg.save) and the ONNX file.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent


def _models() -> dict:
    import retrograd as rg
    from retrograd.cli.models import build_model

    spec = importlib.util.spec_from_file_location(
        "cnn_digits", HERE.parent / "examples" / "cnn_digits.py"
    )
    ex = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(ex)
    nn = rg.nn
    return {
        "MLP 64-128-64-10": (
            nn.Sequential(
                nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 64), nn.ReLU(), nn.Linear(64, 10)
            ),
            (64,),
        ),  # fmt: skip
        "CNN (examples/cnn_digits.py)": (ex.build_model(), (1, 8, 8)),
        "LSTM classifier (lstm:64)": (build_model("lstm:64", 64, 10), (64,)),
        "equilibrium (fixedpoint:64)": (build_model("fixedpoint:64", 64, 10), (64,)),
    }


def _time(fn, calls: int) -> float:
    t0 = time.perf_counter()
    for _ in range(calls):
        fn()
    return (time.perf_counter() - t0) / calls


def run(quick: bool = False) -> list:
    import onnxruntime as ort

    import retrograd as rg

    rg.manual_seed(0)
    X, _ = rg.data.load_digits()
    X = ((X - X.mean(0)) / (X.std(0) + 1.0)).astype(np.float32)
    rounds, budget = (2, 0.02) if quick else (15, 0.25)
    rows = []
    with tempfile.TemporaryDirectory() as d:
        for name, (model, shape) in _models().items():
            model.eval()
            st = rg.save(model, Path(d) / "m.safetensors").stat().st_size
            path = rg.onnx.export(model, rg.tensor(X[:2].reshape(2, *shape)), Path(d) / "m.onnx")
            opts = ort.SessionOptions()
            opts.intra_op_num_threads = 1
            opts.inter_op_num_threads = 1
            sess = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
            for batch in (1, 64):
                x = X[:batch].reshape(batch, *shape)
                xt = rg.tensor(x)

                def ours(xt=xt, model=model):
                    with rg.no_grad():
                        return model(xt)

                def theirs(x=x, sess=sess):
                    return sess.run(None, {"input": x})

                diff = float(np.abs(ours().data - theirs()[0]).max())
                # Calls per block: about `budget` seconds for the slower contender.
                calls = max(1, int(budget / max(_time(ours, 3), _time(theirs, 3))))
                t_rg, t_ort = [], []
                for _ in range(rounds):
                    t_rg.append(_time(ours, calls))
                    t_ort.append(_time(theirs, calls))
                rows.append({
                    "model": name, "batch": batch, "retrograd_us": 1e6 * statistics.median(t_rg),
                    "ort_us": 1e6 * statistics.median(t_ort), "max_diff": diff,
                    "safetensors_bytes": st, "onnx_bytes": path.stat().st_size,
                })  # fmt: skip
    return rows


def main() -> None:
    import onnxruntime as ort

    import retrograd as rg

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true")
    args = p.parse_args()
    load0 = os.getloadavg()
    rows = run(args.quick)
    load1 = os.getloadavg()
    print(f"retrograd {rg.__version__}, ONNX Runtime {ort.__version__}, NumPy {np.__version__}; "
          f"load average {load0[0]:.2f} before, {load1[0]:.2f} after; "
          f"OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS', 'unset')}\n")  # fmt: skip
    print("| model | batch | retrograd (µs/call) | ONNX Runtime (µs/call) | ratio | "
          "max abs diff | .safetensors | .onnx |")  # fmt: skip
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(
            f"| {r['model']} | {r['batch']} | {r['retrograd_us']:.0f} | {r['ort_us']:.0f} | "
            f"{r['retrograd_us'] / r['ort_us']:.1f}x | {r['max_diff']:.1e} | "
            f"{r['safetensors_bytes'] / 1024:.0f} KiB | {r['onnx_bytes'] / 1024:.0f} KiB |"
        )


if __name__ == "__main__":
    main()
