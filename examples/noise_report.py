"""Noisy data on the shipped 8x8 digits: the measurements of docs/noisy-data.md.

    python examples/noise_report.py                  # the doc's run (~2-3 min on 2 cores)
    python examples/noise_report.py --quick          # a 20-second smoke run

1. Test accuracy under 0/10/20/40 % flipped training labels (test labels clean) and under
   Gaussian input noise of 0/0.5/1 feature std (train and test inputs), for plain
   cross-entropy and each robust option, mean ± std over --seeds (rg.noisy.noise_report).
2. How well rg.noisy.suspicious_samples finds mislabelled samples: 5 % of all labels
   flipped at random, precision of the top-k list (k = number flipped) over
   --suspicious-seeds, for each ranking method.

Prints Markdown; --plot writes the accuracy curves as a PNG (needs matplotlib).
"""

from __future__ import annotations

import os

# These networks are tiny: BLAS threads only contend with each other (and, on a shared
# machine, with other jobs). Must be set before NumPy is imported.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import argparse  # noqa: E402
import time  # noqa: E402

import retrograd as rg  # noqa: E402
from retrograd.noisy import DEFAULT_LOSSES, suspicious_precision  # noqa: E402

# (method, training recipe of the scoring models) compared for the ranking.
RANKINGS = [("trajectory", "gce"), ("trajectory", "ce"), ("oof", "gce"), ("oof", "ce"),
            ("loss", "ce")]  # fmt: skip


def _ints(text: str) -> list:
    return [int(v) for v in text.split(",") if v.strip()]


def memorization(X, y, seeds: list, epochs: int) -> None:
    """How many flipped training labels does the trained network reproduce?"""
    import numpy as np

    from retrograd.noisy import default_model

    print(f"## Flipped training labels the final network fits ({epochs} epochs, seeds {seeds})\n")
    print("| loss | labels flipped | predicts the wrong label (%) | predicts the true one (%) |")
    print("|---|---:|---:|---:|")
    for rate in (0.05, 0.4):
        for name, loss_fn in (("ce", rg.nn.CrossEntropyLoss),
                              ("gce", rg.nn.GeneralizedCrossEntropyLoss)):  # fmt: skip
            wrong, true = [], []
            for seed in seeds:
                X_tr, _, y_tr, _ = rg.data.train_test_split(
                    X, y, test_size=0.25, seed=seed, stratify=y
                )
                sd = X_tr.std(axis=0)
                X_tr = ((X_tr - X_tr.mean(axis=0)) / np.where(sd > 0, sd, 1)).astype("float32")
                gen = np.random.default_rng([seed, 1, int(rate * 1e6)])  # as noise_report
                y_noisy, flipped = rg.train.inject_label_noise(y_tr, rate, 10, rng=gen)
                rg.manual_seed(seed)
                net = default_model(64, 10)
                opt = rg.optim.AdamW(net.parameters(), lr=3e-3, weight_decay=0.0)
                rg.train.fit(net, loss_fn(), opt, (X_tr, y_noisy), epochs=epochs,
                             batch_size=32, seed=seed, verbose=0, metrics=None)  # fmt: skip
                pred = rg.train.predict(net, X_tr[flipped]).argmax(axis=1)
                wrong.append((pred == y_noisy[flipped]).mean())
                true.append((pred == y_tr[flipped]).mean())
            w = f"{100 * np.mean(wrong):.1f} ± {100 * np.std(wrong):.1f}"
            t = f"{100 * np.mean(true):.1f} ± {100 * np.std(true):.1f}"
            print(f"| {name} | {rate:.0%} | {w} | {t} |", flush=True)
    print()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--epochs", type=int, default=30)
    ap.add_argument("--seeds", default="0,1,2", help="seeds of the accuracy tables")
    ap.add_argument("--suspicious-seeds", default="0,1,2,3,4")
    ap.add_argument("--rate", type=float, default=0.05, help="labels flipped for the ranking")
    ap.add_argument("--plot", default=None, help="PNG path for the accuracy curves")
    ap.add_argument("--quick", action="store_true", help="1 seed, 5 epochs, 2 options")
    ap.add_argument("--verbose", "-v", action="store_true", help="a line per training run")
    args = ap.parse_args()
    losses, seeds, sus_seeds, epochs = DEFAULT_LOSSES, _ints(args.seeds), None, args.epochs
    sus_seeds = _ints(args.suspicious_seeds)
    if args.quick:
        losses, seeds, sus_seeds, epochs = ("ce", "gce"), [0], [0], 5

    X, y = rg.data.load_digits()
    t0 = time.perf_counter()
    report = rg.noisy.noise_report(
        X,
        y,
        losses=losses,
        label_noise=(0.0, 0.1, 0.2, 0.4),
        input_noise=(0.0, 0.5, 1.0),
        epochs=epochs,
        seeds=seeds,
        plot=args.plot,
        data_name="digits",
        progress=print if args.verbose else None,
    )
    s = report.settings
    print(
        f"## digits: {s['n_samples']} samples ({1 - s['test_size']:.0%} train / "
        f"{s['test_size']:.0%} test, stratified), 64-64-10 ReLU MLP, AdamW lr {s['lr']}, "
        f"batch {s['batch_size']}, {epochs} epochs, seeds {seeds}\n"
    )
    print(report.to_markdown())
    print(f"({report.seconds:.0f} s for {len(losses)} options x "
          f"{len(report.label_noise) + len(report.input_noise) - 1} noise settings x "
          f"{len(seeds)} seed(s))\n")  # fmt: skip

    print(
        f"## Suspicious-sample ranking: {args.rate:.0%} of the 1797 labels flipped, "
        f"precision of the top k (k = number flipped), seeds {sus_seeds}, {epochs} epochs\n"
    )
    print("| method | scoring models trained with | precision (%) | per seed | time (s) |")
    print("|---|---|---:|---|---:|")
    rankings = RANKINGS[:1] if args.quick else RANKINGS
    for method, option in rankings:
        res = suspicious_precision(
            X, y, rate=args.rate, seeds=sus_seeds, method=method, option=option, epochs=epochs
        )
        per = ", ".join(f"{100 * p:.1f}" for p in res["precision"])
        print(
            f"| {method} | {option} | {100 * res['mean']:.1f} ± {100 * res['std']:.1f} | "
            f"{per} | {res['seconds']:.1f} |",
            flush=True,
        )
    print(f"\nchance level {100 * args.rate:.0f} %; k = {res['top_k']}\n")
    if not args.quick:
        memorization(X, y, seeds, epochs)
    print(f"total time {time.perf_counter() - t0:.0f} s")
    if args.plot:
        print(f"plot written to {args.plot}")


if __name__ == "__main__":
    main()
