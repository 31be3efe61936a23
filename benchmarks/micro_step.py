"""Microseconds per training step on the digits network: eager, compiled, NumPy limit.

A finer look than ``run.py`` at where the small-batch time goes, in one process: the
eager loop, the compiled step (``rg.train.compile_step``, what ``fit`` runs; with the
``[fast]`` extra its whole-step kernel), the same step replayed op by op, the compiled
step's forward+backward and optimizer step alone, and the hand-written NumPy
loop of ``bench_mlp.build_numpy``; each timed in blocks of ``--steps`` steps, the
contenders alternating, medians over ``--blocks`` blocks. Run it with one BLAS thread for
steadier numbers::

    OPENBLAS_NUM_THREADS=1 python benchmarks/micro_step.py --batch 1
    OPENBLAS_NUM_THREADS=1 python benchmarks/micro_step.py --batch 16
"""

from __future__ import annotations

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--blocks", type=int, default=25)
    ap.add_argument("--steps", type=int, default=200)
    args = ap.parse_args(argv)

    import bench_mlp
    import numpy as np

    import retrograd as rg
    from retrograd._malloc import tune

    tune()  # what fit does when training starts (retrograd/_malloc.py)
    rng = np.random.default_rng(0)
    x = rng.random((args.batch, 64), dtype=np.float32)
    y = rng.integers(0, 10, args.batch)
    rg.manual_seed(0)
    net = rg.nn.Sequential(
        rg.nn.Linear(64, 32), rg.nn.ReLU(), rg.nn.Linear(32, 32), rg.nn.ReLU(), rg.nn.Linear(32, 10)
    )
    init = [(net[i].weight.data.copy(), net[i].bias.data.copy()) for i in (0, 2, 4)]
    opt = rg.optim.SGD(net.parameters(), lr=0.01, momentum=0.9)
    loss_fn = rg.nn.CrossEntropyLoss()
    xt, yt = rg.tensor(x), rg.tensor(y)
    step = rg.train.compile_step(net, loss_fn, opt)
    op_by_op = rg.train.compile_step(net, loss_fn, opt)
    op_by_op.whole_step_kernel = False  # (what runs without the [fast] extra's kernel)

    def eager() -> None:
        opt.zero_grad()
        loss_fn(net(xt), yt).backward()
        opt.step()

    numpy_epoch, _ = bench_mlp.build_numpy(init, [(x, y)], 1)
    fns = {
        "eager loop": eager,
        "compiled step": lambda: step(xt, yt),
        "  op by op": lambda: op_by_op(xt, yt),
        "  forward+backward": lambda: step.run(xt, yt),
        "  optimizer step": opt.step,
        "NumPy limit": numpy_epoch,
    }
    for f in fns.values():
        for _ in range(100):
            f()
    times: dict = {k: [] for k in fns}
    for _ in range(args.blocks):
        for name, f in fns.items():
            t = time.perf_counter()
            for _ in range(args.steps):
                f()
            times[name].append((time.perf_counter() - t) / args.steps * 1e6)
    print(f"digits MLP 64-32-32-10, batch {args.batch}: us per step (median of {args.blocks})")
    for name, ts in times.items():
        print(f"  {name:20s} {np.median(ts):7.1f}")
    print(f"  (whole-step kernel replays: {step.fused_replays})")
    if step.eager_reason is not None:
        print(f"note: the compiled step ran eagerly: {step.eager_reason}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
