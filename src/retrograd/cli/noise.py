"""``retrograd noise``: how label and input noise hurt training, and which options help.

Example::

    $ retrograd noise --data digits --losses ce,gce,ce+dropout --label-noise 0,0.2,0.4 \\
          --epochs 30 --plot noise.png --suspicious 10
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

_PROG = "retrograd noise"


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register the ``noise`` subcommand on an argparse ``subparsers`` object."""
    from ..noisy import DEFAULT_LOSSES
    from ._common import Formatter, add_model_data_args

    p = subparsers.add_parser(
        "noise",
        formatter_class=Formatter,
        help="measure test accuracy under label/input noise for plain and robust training",
        description=(
            "Train the same network on copies of a data set with training labels flipped to "
            "another class (test labels stay clean) and with Gaussian input noise, for plain "
            "cross-entropy and robust options, and print test accuracy against noise level. "
            "Options: ce, label_smoothing[=eps], gce[=q], sce, mae, joined with +clip[=norm], "
            "+weight_decay[=wd], +dropout[=p] (e.g. gce+clip=0.5)."
        ),
    )
    add_model_data_args(
        p, model=None, data_default="digits",
        target_help="CSV column of the class labels (default: the last)",
    )  # fmt: skip
    p.add_argument(
        "--losses",
        default=",".join(DEFAULT_LOSSES),
        help=f"comma-separated training options (default {','.join(DEFAULT_LOSSES)})",
    )
    p.add_argument(
        "--label-noise",
        default="0,0.1,0.2,0.4",
        help="fractions of training labels to flip (default 0,0.1,0.2,0.4; 'none' to skip)",
    )
    p.add_argument(
        "--input-noise",
        default="0,0.5,1",
        help="input noise std in units of feature std (default 0,0.5,1; 'none' to skip)",
    )
    p.add_argument("--epochs", type=int, default=30, help="epochs per training run (default 30)")
    p.add_argument("--batch-size", type=int, default=32, help="mini-batch size (default 32)")
    p.add_argument("--lr", type=float, default=3e-3, help="AdamW learning rate (default 3e-3)")
    p.add_argument("--seeds", default="0", help="comma-separated seeds to average (default 0)")
    p.add_argument("--test-size", type=float, default=0.25, help="test fraction (default 0.25)")
    p.add_argument("--plot", metavar="PNG", help="write a plot of the tables (needs matplotlib)")
    p.add_argument(
        "--suspicious",
        type=int,
        metavar="K",
        help=(
            "also rank training samples by their mean loss over training (a GCE-trained "
            "model): list the K most suspicious of the data as given, and measure on "
            "copies with --suspicious-rate of the labels flipped how many of the "
            "top-ranked are flipped ones"
        ),
    )
    p.add_argument(
        "--suspicious-rate",
        type=float,
        default=0.05,
        help="fraction of labels flipped to measure the ranking's precision (default 0.05)",
    )
    p.add_argument("--json", metavar="PATH", help="also write the full results as JSON")
    p.add_argument("--quiet", "-q", action="store_true", help="no line per training run")
    p.set_defaults(func=run)
    return p


def _usage(msg: str) -> Exception:
    # A command-line mistake: `retrograd` prints one line and exits with status 2.
    from ._common import UsageError

    return UsageError(f"noise: {msg}")


def _floats(text: str, name: str) -> list:
    if text.strip().lower() in ("", "none"):
        return []
    try:
        return [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise _usage(f"--{name} must be comma-separated numbers, got {text!r}") from None


def run(args: argparse.Namespace) -> int:
    """Run ``retrograd noise`` with parsed arguments; returns the exit status."""
    import numpy as np

    import retrograd as rg
    from retrograd.noisy import RobustOption, default_model, suspicious_precision

    from ._common import load_data

    for name in ("epochs", "batch_size"):
        if getattr(args, name) < 1:
            raise _usage(f"--{name.replace('_', '-')} must be >= 1")
    if not 0.0 < args.test_size < 1.0:
        raise _usage(f"--test-size must be in (0, 1), got {args.test_size}")
    if args.suspicious is not None and args.suspicious < 1:
        raise _usage(f"--suspicious must be >= 1, got {args.suspicious}")
    if not 0.0 < args.suspicious_rate < 1.0:
        raise _usage(f"--suspicious-rate must be in (0, 1), got {args.suspicious_rate}")
    losses = [s.strip() for s in args.losses.split(",") if s.strip()]
    try:
        for s in losses:
            RobustOption.parse(s)
        seeds = [int(s) for s in args.seeds.split(",") if s.strip()]
    except (ValueError, TypeError) as exc:
        raise _usage(str(exc)) from None
    label_noise = _floats(args.label_noise, "label-noise")
    input_noise = _floats(args.input_noise, "input-noise")
    d = load_data(args.data, target=args.target)
    X, y, name = d.X, np.asarray(d.y), args.data
    if y.ndim != 1 or y.dtype.kind not in "iu":
        raise ValueError(
            f"noise: --data {name!r} needs integer class labels, got targets of shape "
            f"{y.shape} and dtype {y.dtype}"
        )

    t0 = time.perf_counter()
    print(
        f"{_PROG}: {name}, {X.shape[0]} samples, {X.shape[1]} features, "
        f"{int(y.max()) + 1} classes; {args.epochs} epochs, seeds {seeds}",
        flush=True,
    )
    progress = None if args.quiet else (lambda line: print("  " + line, flush=True))
    report = rg.noisy.noise_report(
        X,
        y,
        losses=losses,
        label_noise=label_noise,
        input_noise=input_noise,
        epochs=args.epochs,
        batch_size=args.batch_size,
        lr=args.lr,
        seeds=seeds,
        test_size=args.test_size,
        plot=args.plot,
        data_name=name,
        progress=progress,
    )

    listing = []
    if args.suspicious is not None:
        k = args.suspicious
        kw = dict(epochs=args.epochs, batch_size=args.batch_size, lr=args.lr)
        report.suspicious = suspicious_precision(
            X, y, rate=args.suspicious_rate, seeds=seeds, ks=(k,), **kw
        )
        # The data as given may hold real label errors: show the top K for inspection.
        (Xs,) = rg.noisy._common._standardize(np.asarray(X, dtype=np.float32))
        found = rg.noisy.suspicious_samples(default_model, (Xs, y), k, seed=seeds[0], **kw)
        listing = [
            (int(i), int(y[i]), int(found.predicted[i]), float(sc))
            for i, sc in zip(found.indices, found.scores)
        ]

    print()
    print(report.to_markdown(), end="")
    if args.suspicious is not None:
        s = report.suspicious
        p_at = np.asarray(s["precision_at"][args.suspicious])
        print(
            f"precision of the top {args.suspicious}: {100 * p_at.mean():.1f} ± "
            f"{100 * p_at.std():.1f} %"
        )
        print(f"\nthe {args.suspicious} most suspicious samples of {name} as given:")
        print("| index | label | model's class | mean loss over training |")
        print("|---:|---:|---:|---:|")
        for i, lab, pred, sc in listing:
            print(f"| {i} | {lab} | {pred} | {sc:.3f} |")
    if args.plot:
        print(f"\nplot written to {args.plot}")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(report.to_dict(), fh, indent=1)
        print(f"results written to {args.json}")
    print(f"total time {time.perf_counter() - t0:.1f}s", file=sys.stderr)
    return 0
