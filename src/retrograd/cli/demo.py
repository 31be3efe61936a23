"""``retrograd demo``: the classic network on the shipped 8x8 digits, end to end."""

from __future__ import annotations

import argparse
import time
from typing import Any


def register(sub: Any) -> None:
    p = sub.add_parser(
        "demo",
        help="train a 64-128-64-10 network on the shipped 8x8 digits and report test accuracy",
        description=(
            "Train the classic feedforward network (input layer 64, two hidden layers, output "
            "layer 10) by backpropagation on the 1,797 handwritten 8x8 digits shipped with "
            "retrograd (UCI optdigits, CC BY 4.0), then report the accuracy on a held-out "
            "stratified test split. No download needed."
        ),
    )
    p.add_argument("--epochs", type=int, default=30, help="training epochs (default 30)")
    p.add_argument(
        "--hidden",
        type=int,
        nargs=2,
        default=(128, 64),
        metavar=("H1", "H2"),
        help="sizes of the two hidden layers (default 128 64)",
    )
    p.add_argument("--batch-size", type=int, default=32, help="mini-batch size (default 32)")
    p.add_argument("--lr", type=float, default=3e-3, help="AdamW learning rate (default 3e-3)")
    p.add_argument(
        "--test-size", type=float, default=0.25, help="fraction held out for testing (default 0.25)"
    )
    p.add_argument("--seed", type=int, default=0, help="seed for split, init, order (default 0)")
    p.add_argument("--quiet", "-q", action="store_true", help="no per-epoch progress output")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import numpy as np

    import retrograd as rg

    for name in ("epochs", "batch_size"):
        if getattr(args, name) < 1:
            raise SystemExit(f"retrograd demo: --{name.replace('_', '-')} must be >= 1")
    if min(args.hidden) < 1:
        raise SystemExit("retrograd demo: --hidden sizes must be >= 1")
    if not 0.0 < args.test_size < 1.0:
        raise SystemExit("retrograd demo: --test-size must be in (0, 1)")

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
