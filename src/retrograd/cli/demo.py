"""``retrograd demo``: small networks on the shipped 8x8 digits, end to end.

``static`` (default) is the classic feedforward network; ``recurrent`` an equilibrium
network trained by recurrent backpropagation; ``sequence`` an LSTM reading each digit row
by row; ``cnn`` a small convolutional network. Each finishes in well under a minute.
"""

from __future__ import annotations

import argparse
import time
from typing import Any

EPILOG = """\
examples:
  retrograd demo                     # static: 64-128-64-10 feedforward net, about 97-98%
  retrograd demo recurrent           # equilibrium net, recurrent backprop (Almeida-Pineda)
  retrograd demo sequence            # LSTM reads each digit as 8 rows of 8 pixels
  retrograd demo cnn --epochs 5      # two 3x3 convolutions and max-pooling
  retrograd demo --hidden 64 32 --epochs 10 --quiet
"""

KINDS = ("static", "recurrent", "sequence", "cnn")
# Per kind: default epochs and Adam(W) learning rate (chosen to finish in well under 60 s on
# a 2-core machine).
DEFAULTS = {"static": (30, 3e-3), "recurrent": (15, 3e-3), "sequence": (15, 1e-2), "cnn": (8, 2e-3)}


def register(sub: Any) -> None:
    from ._common import Formatter, add_debug

    p = sub.add_parser(
        "demo",
        help="train a small network on the shipped 8x8 digits and report test accuracy",
        description=(
            "Train a network by backpropagation on the 1,797 handwritten 8x8 digits shipped "
            "with retrograd (UCI optdigits, CC BY 4.0), then report the accuracy on a "
            "held-out stratified test split. No download needed. KIND: static (default) is "
            "the classic feedforward network (input layer 64, two hidden layers, output "
            "layer 10); recurrent an equilibrium network trained by recurrent "
            "backpropagation; sequence an LSTM reading the rows as time steps; cnn a small "
            "convolutional network."
        ),
        epilog=EPILOG,
        formatter_class=Formatter,
    )
    p.add_argument(
        "kind",
        nargs="?",
        default="static",
        choices=KINDS,
        metavar="KIND",
        help="static (default), recurrent, sequence or cnn",
    )
    p.add_argument(
        "--epochs",
        type=int,
        default=None,
        help="training epochs (default: static 30, recurrent 15, sequence 15, cnn 8)",
    )
    p.add_argument(
        "--hidden",
        type=int,
        nargs=2,
        default=(128, 64),
        metavar=("H1", "H2"),
        help="static: sizes of the two hidden layers (default 128 64)",
    )
    p.add_argument("--batch-size", type=int, default=32, help="mini-batch size (default 32)")
    p.add_argument(
        "--lr",
        type=float,
        default=None,
        help="learning rate (default: 3e-3; sequence 1e-2; cnn 2e-3)",
    )
    p.add_argument(
        "--test-size", type=float, default=0.25, help="fraction held out for testing (default 0.25)"
    )
    p.add_argument("--seed", type=int, default=0, help="seed for split, init, order (default 0)")
    p.add_argument("--quiet", "-q", action="store_true", help="no per-epoch progress output")
    add_debug(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import numpy as np

    import retrograd as rg

    from ._common import UsageError

    epochs_default, lr_default = DEFAULTS[args.kind]
    args.epochs = epochs_default if args.epochs is None else args.epochs
    args.lr = lr_default if args.lr is None else args.lr
    for name in ("epochs", "batch_size"):
        if getattr(args, name) < 1:
            raise UsageError(f"demo: --{name.replace('_', '-')} must be >= 1")
    if min(args.hidden) < 1:
        raise UsageError("demo: --hidden sizes must be >= 1")
    if not 0.0 < args.test_size < 1.0:
        raise UsageError("demo: --test-size must be in (0, 1)")
    if not args.lr > 0:
        raise UsageError("demo: --lr must be > 0")
    if args.kind != "static":
        return _run_other(args)

    t0 = time.perf_counter()
    X, y = rg.data.load_digits()
    X_tr, X_te, y_tr, y_te = rg.data.train_test_split(
        X, y, test_size=args.test_size, seed=args.seed, stratify=y
    )
    # Standardize with training statistics only (the +1 keeps near-constant border pixels
    # from being blown up).
    mu, sd = X_tr.mean(axis=0), X_tr.std(axis=0) + 1.0
    X_tr = ((X_tr - mu) / sd).astype(np.float32)
    X_te = ((X_te - mu) / sd).astype(np.float32)

    rg.manual_seed(args.seed)
    h1, h2 = args.hidden
    net = rg.nn.Sequential(
        rg.nn.Linear(64, h1), rg.nn.ReLU(),
        rg.nn.Linear(h1, h2), rg.nn.ReLU(),
        rg.nn.Linear(h2, 10),
    )  # fmt: skip
    opt = rg.optim.AdamW(net.parameters(), lr=args.lr, weight_decay=1e-2)
    sched = rg.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=args.epochs)
    # Label smoothing makes the test accuracy steadier across splits (measured: 12 seeds).
    loss_fn = rg.nn.CrossEntropyLoss(label_smoothing=0.1)
    print(
        f"retrograd {rg.__version__} demo: 8x8 digits, {len(X_tr)} train / {len(X_te)} test, "
        f"network 64-{h1}-{h2}-10 ({net.num_parameters()} weights), {args.epochs} epochs"
    )
    hist = rg.train.fit(
        net,
        loss_fn,
        opt,
        (X_tr, y_tr),
        epochs=args.epochs,
        batch_size=args.batch_size,
        seed=args.seed,
        scheduler=sched,
        verbose=0 if args.quiet else 1,
    )
    res = rg.train.evaluate(net, rg.nn.CrossEntropyLoss(), (X_te, y_te))
    pred = rg.train.predict(net, X_te).argmax(axis=1)
    cm = rg.train.confusion_matrix(y_te, pred, num_classes=10)
    elapsed = time.perf_counter() - t0
    print("confusion matrix (rows: true digit, columns: predicted):")
    for d, row in enumerate(cm):
        print(f"  {d}: " + " ".join(f"{v:3d}" for v in row))
    print(f"train accuracy {hist['accuracy'][-1]:.4f}")
    print(
        f"test accuracy {res['accuracy']:.4f} ({int(round(res['accuracy'] * len(y_te)))}/"
        f"{len(y_te)}), test loss {res['loss']:.4f}, total time {elapsed:.1f}s"
    )
    return 0


def _run_other(args: argparse.Namespace) -> int:
    """recurrent, sequence and cnn: built by the same code as `retrograd train --model`."""
    import numpy as np

    import retrograd as rg

    from .models import build_model

    t0 = time.perf_counter()
    X, y = rg.data.load_digits()
    X_tr, X_te, y_tr, y_te = rg.data.train_test_split(
        X, y, test_size=args.test_size, seed=args.seed, stratify=y
    )
    # Images: one mean and standard deviation for all pixels (keeps the spatial structure).
    mu, sd = float(X_tr.mean()), float(X_tr.std())
    X_tr = ((X_tr - mu) / sd).astype(np.float32)
    X_te = ((X_te - mu) / sd).astype(np.float32)
    rg.manual_seed(args.seed)
    spec, what = {
        "recurrent": (
            "fixedpoint:64",
            "equilibrium network h = tanh(W h + U x + b), 64 "
            "units, recurrent backprop (Almeida-Pineda)",
        ),
        "sequence": ("lstm:64", "LSTM with 64 units reading 8 rows of 8 pixels"),
        "cnn": ("cnn:16,32", "conv 3x3 16 - pool - conv 3x3 32 - pool - 64 - 10"),
    }[args.kind]
    net = build_model(spec, 64, 10, image_shape=(8, 8))
    opt = rg.optim.Adam(net.parameters(), lr=args.lr)
    sched = rg.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=args.epochs)
    loss_fn = rg.nn.CrossEntropyLoss()
    print(
        f"retrograd {rg.__version__} demo {args.kind}: 8x8 digits, {len(X_tr)} train / "
        f"{len(X_te)} test; {what} ({net.num_parameters()} weights), {args.epochs} epochs"
    )
    hist = rg.train.fit(
        net,
        loss_fn,
        opt,
        (X_tr, y_tr),
        epochs=args.epochs,
        batch_size=args.batch_size,
        seed=args.seed,
        scheduler=sched,
        verbose=0 if args.quiet else 1,
    )
    res = rg.train.evaluate(net, loss_fn, (X_te, y_te))
    elapsed = time.perf_counter() - t0
    if args.kind == "recurrent":
        st = net.fixed_point.last_stats
        print(f"the test set's relaxation converged in {st.get('forward_iterations')} iterations")
    print(f"train accuracy {hist['accuracy'][-1]:.4f}")
    print(
        f"test accuracy {res['accuracy']:.4f} ({int(round(res['accuracy'] * len(y_te)))}/"
        f"{len(y_te)}), test loss {res['loss']:.4f}, total time {elapsed:.1f}s"
    )
    return 0
