"""One SGD training step of a small CNN on MNIST-shaped input: retrograd against PyTorch.

The network: conv 3x3 1->16, ReLU, max-pool 2, conv 3x3 16->32, ReLU, max-pool 2,
flatten, linear 800->10; input (64, 1, 28, 28) float32. One step is forward, mean
softmax cross-entropy, backward and a plain SGD update (lr 0.01). Both contenders start
from the same weights and train on the same batches in the same order; PyTorch gets as
many threads as NumPy's BLAS (``torch.set_num_threads``). The contenders alternate (see
``_common.time_alternating``); a timed repetition is ``STEPS`` steps, and the median of
the repetitions after a warm-up is reported.

    python benchmarks/bench_cnn.py            # markdown table
    python benchmarks/bench_cnn.py --json out.json

``run(quick=False)`` returns one row per contender (the keys of ``_common.RESULT_KEYS``
plus ``step_ms_median``, ``speed_vs_pytorch``, the same two in process CPU time, and
``final_loss``, which must agree between contenders: they did the same work).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _common as C  # noqa: E402

LR = 0.01
BATCH = 64
N_BATCHES = 4  # distinct batches cycled through, so the steps do not see one batch only
STEPS, QUICK_STEPS = 10, 2
REPEATS, QUICK_REPEATS = 7, 5
CONTENDERS = ("retrograd", "pytorch")
DESCRIPTION = (
    "CNN conv3x3(1->16)-ReLU-maxpool2-conv3x3(16->32)-ReLU-maxpool2-linear(800->10), "
    "batch 64 x 1x28x28 float32, one SGD step (forward, CE loss, backward, update)"
)


def threads() -> int:
    """Threads for both contenders: NumPy's BLAS count (OPENBLAS_NUM_THREADS if set)."""
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS"):
        if os.environ.get(var, "").isdigit():
            return int(os.environ[var])
    return C.blas_threads()


def set_malloc_top_pad(mib: int) -> bool:
    """glibc ``mallopt(M_TOP_PAD, mib MiB)`` for this process (both contenders alike).

    Keeps freed heap memory mapped, so the next step's arrays reuse pages instead of
    faulting fresh ones in; see docs/convolution.md for why this matters here.
    """
    import ctypes

    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return False
    m_top_pad = -2
    return bool(libc.mallopt(m_top_pad, int(mib) << 20))


class Skip(Exception):
    """A contender that cannot run here, with the reason."""


def make_data(seed: int = 0) -> list:
    import numpy as np

    rng = np.random.default_rng(seed)
    return [
        (rng.random((BATCH, 1, 28, 28), dtype=np.float32),
         rng.integers(0, 10, BATCH).astype(np.int64))
        for _ in range(N_BATCHES)
    ]  # fmt: skip


def init_weights(seed: int = 0) -> dict:
    """PyTorch's default init law for every layer, drawn once for both contenders."""
    import numpy as np

    rng = np.random.default_rng(seed)

    def uniform(fan_in: int, shape: tuple) -> Any:
        b = 1.0 / np.sqrt(fan_in)
        return rng.uniform(-b, b, shape).astype(np.float32)

    return {
        "0.weight": uniform(9, (16, 1, 3, 3)), "0.bias": uniform(9, (16,)),
        "3.weight": uniform(144, (32, 16, 3, 3)), "3.bias": uniform(144, (32,)),
        "7.weight": uniform(800, (10, 800)), "7.bias": uniform(800, (10,)),
    }  # fmt: skip


def build_retrograd(weights: dict, data: list, steps: int) -> Any:
    try:
        import retrograd as rg
        from retrograd._malloc import tune

        tune()  # what fit does when training starts (retrograd/_malloc.py)
        nn = rg.nn
        rg.optim.SGD  # noqa: B018 - written separately; check it is there
        nn.Conv2d  # noqa: B018
    except Exception as e:  # noqa: BLE001
        raise Skip(f"retrograd.nn/optim unavailable: {type(e).__name__}: {e}") from e
    model = nn.Sequential(
        nn.Conv2d(1, 16, 3), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 3), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(800, 10),
    )  # fmt: skip
    model.load_state_dict(weights)
    loss_fn = nn.CrossEntropyLoss()
    opt = rg.optim.SGD(model.parameters(), lr=LR)
    batches = [(rg.tensor(x), rg.tensor(y)) for x, y in data]
    return C.step_runner(model, loss_fn, opt, batches, steps)


def build_pytorch(weights: dict, data: list, steps: int) -> Any:
    try:
        import torch
    except ImportError as e:
        raise Skip("PyTorch is not installed") from e
    torch.set_num_threads(threads())
    nn = torch.nn
    model = nn.Sequential(
        nn.Conv2d(1, 16, 3), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 3), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(800, 10),
    ).float()  # fmt: skip
    model.load_state_dict({k: torch.from_numpy(v.copy()) for k, v in weights.items()})
    loss_fn = nn.CrossEntropyLoss()
    opt = torch.optim.SGD(model.parameters(), lr=LR)
    batches = [(torch.from_numpy(x), torch.from_numpy(y)) for x, y in data]
    return C.step_runner(model, loss_fn, opt, batches, steps)


BUILDERS = {"retrograd": build_retrograd, "pytorch": build_pytorch}


def run(quick: bool = False, repeats: int | None = None, top_pad_mib: int = 0) -> list[dict]:
    """Time both contenders (alternating); one row per contender.

    ``top_pad_mib`` > 0 first sets glibc's M_TOP_PAD for the whole process (recorded in
    the rows' ``config`` and ``note``).
    """
    config = "cnn-mnist-b64"
    note = ""
    if top_pad_mib:
        if not set_malloc_top_pad(top_pad_mib):
            raise RuntimeError("mallopt(M_TOP_PAD) is not available (not glibc?)")
        config += f"-toppad{top_pad_mib}"
        note = f"glibc M_TOP_PAD={top_pad_mib} MiB for both contenders; "
    steps = QUICK_STEPS if quick else STEPS
    repeats = repeats or (QUICK_REPEATS if quick else REPEATS)
    data, weights = make_data(), init_weights()
    rows, fns, states = {}, {}, {}
    for c in CONTENDERS:
        rows[c] = {
            "suite": "cnn", "config": config, "description": DESCRIPTION,
            "contender": c, "status": "ok", "note": note, "batch_size": BATCH,
            "n_samples": BATCH * steps, "samples_per_s": None, "epoch_s_median": None,
            "epoch_s": [], "peak_mem_mib": None, "mem_method": None, "steps_per_rep": steps,
            "step_ms_median": None, "speed_vs_pytorch": None, "final_loss": None,
            "cpu_ms_per_step_median": None, "cpu_speed_vs_pytorch": None,
            "threads": threads(),
        }  # fmt: skip
        try:
            fns[c], states[c] = BUILDERS[c](weights, data, steps)
        except Skip as e:
            rows[c].update(status="skipped", note=str(e))
        except Exception as e:  # noqa: BLE001 - report, do not abort the other contender
            rows[c].update(status="failed", note=f"{type(e).__name__}: {e}")
    times, cpu = _time_alternating(fns, repeats)
    for c, ts in times.items():
        med = C.median(ts)
        rows[c].update(
            epoch_s=ts,
            epoch_s_median=med,
            samples_per_s=BATCH * steps / med,
            step_ms_median=1e3 * med / steps,
            cpu_ms_per_step_median=1e3 * C.median(cpu[c]) / steps,
            final_loss=states[c]["loss"],
        )
        if c == "retrograd":
            rows[c]["peak_mem_mib"] = C.traced_peak_mib(fns[c])
            rows[c]["mem_method"] = "tracemalloc peak over one timed repetition"
        else:
            rows[c]["note"] += "memory: tracemalloc cannot see PyTorch's allocator"
    if "pytorch" in times:
        ref = rows["pytorch"]["epoch_s_median"]
        for c in times:
            rows[c]["speed_vs_pytorch"] = ref / rows[c]["epoch_s_median"]
            rows[c]["cpu_speed_vs_pytorch"] = (
                rows["pytorch"]["cpu_ms_per_step_median"] / rows[c]["cpu_ms_per_step_median"]
            )
    return [rows[c] for c in CONTENDERS]


def _time_alternating(fns: dict, repeats: int) -> tuple:
    """``_common.time_alternating``'s schedule, recording process CPU time as well.

    On a shared machine the wall clock also counts time the process waited for a core;
    the CPU time does not (it still counts BLAS threads spinning), so both are reported.
    """
    import gc
    import time

    names = list(fns)
    for name in names:
        fns[name]()
    wall: dict = {n: [] for n in names}
    cpu: dict = {n: [] for n in names}
    for r in range(repeats):
        k = r % len(names)
        for name in names[k:] + names[:k]:
            gc.collect()
            t0, c0 = time.perf_counter(), time.process_time()
            fns[name]()
            wall[name].append(time.perf_counter() - t0)
            cpu[name].append(time.process_time() - c0)
    return wall, cpu


def markdown(rows: list[dict]) -> str:
    lines = [
        f"{DESCRIPTION}; {rows[0]['threads']} thread(s); {rows[0]['config']}",
        "",
        "| contender | status | wall ms/step | samples/s | speed vs PyTorch (wall) "
        "| CPU ms/step | speed vs PyTorch (CPU) | loss after |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        if r["status"] != "ok":
            lines.append(f"| {r['contender']} | {r['status']}: {r['note']} | | | | | | |")
            continue
        lines.append(
            f"| {r['contender']} | ok | {r['step_ms_median']:.2f} | {r['samples_per_s']:.0f} | "
            f"{r['speed_vs_pytorch'] or float('nan'):.2f}x | {r['cpu_ms_per_step_median']:.2f} | "
            f"{r.get('cpu_speed_vs_pytorch') or float('nan'):.2f}x | {r['final_loss']:.5f} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true")
    p.add_argument("--repeats", type=int, default=None)
    p.add_argument("--json", metavar="PATH", help="also write the rows here")
    p.add_argument(
        "--top-pad",
        type=int,
        default=0,
        metavar="MIB",
        help="set glibc M_TOP_PAD to MIB MiB first (both contenders)",
    )
    a = p.parse_args(argv)
    rows = run(a.quick, a.repeats, a.top_pad)
    print(markdown(rows))
    if a.json:
        with open(a.json, "w", encoding="utf-8") as fh:
            fh.write(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
