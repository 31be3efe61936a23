"""Associative memory: a symmetric (Hopfield-style) recurrent net completes 8x8 digits.

Scaled-down version of the associative-memory experiment of Liao et al. 2018, "Reviving
and Improving Recurrent Back-Propagation". Digits are binarised (pixel > 8 is "on"); half
of each image's "on" pixels are removed and the corrupted image is clamped as the external
input of a fully recurrent network with symmetric weights and no self-connections
(rg.nn.RecurrentNet(symmetric=True)). The 64 output units' states at the fixed point
are the completed image. Training uses recurrent backprop (Almeida-Pineda) on the squared
error of the completed image; a fresh corruption is drawn every epoch.

Completion quality is measured on held-out digits (corruptions drawn with a fixed seed):
pixel accuracy, recall of the removed pixels, and the IoU of the "on" pixels with the true
image, against two baselines: the corrupted input itself and the mean training image.

Run:  python examples/associative_memory.py [--epochs 30] [--hidden 64] [--seed 0]
"""

from __future__ import annotations

import os

# The matrices here are tiny (at most 128 x 128): BLAS threads cost more than they save
# (on a loaded 2-core machine, 6x the CPU time). Must be set before NumPy is imported.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import argparse  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

import retrograd as rg  # noqa: E402


def corrupt(images: np.ndarray, rng: np.random.Generator, frac: float = 0.5) -> np.ndarray:
    """Turn off ``frac`` of each image's on-pixels (chosen at random)."""
    out = images.copy()
    for row in out:
        on = np.flatnonzero(row)
        row[rng.choice(on, size=int(round(frac * len(on))), replace=False)] = 0
    return out


def quality(pred: np.ndarray, full: np.ndarray, corrupted: np.ndarray) -> dict:
    """Pixel accuracy, recall of removed pixels, false-on rate and IoU of the on-pixels."""
    removed = (full == 1) & (corrupted == 0)
    inter = ((pred == 1) & (full == 1)).sum(axis=1)
    union = ((pred == 1) | (full == 1)).sum(axis=1)
    return {
        "pixel_acc": float((pred == full).mean()),
        "removed_recall": float(pred[removed].mean()),
        "false_on": float(pred[full == 0].mean()),
        "iou": float((inter / np.maximum(union, 1)).mean()),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--epochs", type=int, default=30)
    ap.add_argument("--hidden", type=int, default=64)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--lr", type=float, default=1e-2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--backward", default="neumann", choices=["rbp", "neumann", "cg"])
    ap.add_argument("--neumann-k", type=int, default=20)
    args = ap.parse_args()

    rg.manual_seed(args.seed)
    X, y = rg.data.load_digits()
    B = (X > 8).astype(np.float32)  # binary 8x8 patterns
    B_tr, B_te = rg.data.train_test_split(B, test_size=0.25, seed=args.seed, stratify=y)
    n_units = args.hidden + 64
    net = rg.nn.RecurrentNet(
        64, args.hidden, 64, activation="sigmoid", symmetric=True,
        connectivity=1 - np.eye(n_units), tol=1e-5, max_iter=2000, damping=0.5,
        backward=args.backward, backward_max_iter=args.neumann_k if args.backward == "neumann"
        else 1000,
    )  # fmt: skip
    opt = rg.optim.Adam(net.parameters(), lr=args.lr)
    rng = np.random.default_rng(args.seed)
    C_te = corrupt(B_te, np.random.default_rng(12345))
    t0 = time.perf_counter()
    for epoch in range(1, args.epochs + 1):
        C_tr = corrupt(B_tr, rng)
        order = rng.permutation(len(B_tr))
        total, fwd, bwd, steps = 0.0, 0, 0, 0
        for i in range(0, len(order), args.batch_size):
            idx = order[i : i + args.batch_size]
            opt.zero_grad()
            out = net(rg.tensor(C_tr[idx]))
            loss = rg.nn.functional.mse_loss(out, rg.tensor(B_tr[idx]))
            loss.backward()
            opt.step()
            total += loss.item() * len(idx)
            fwd += net.last_stats["forward_iterations"]
            bwd += net.last_stats["backward_iterations"]
            steps += 1
        if epoch == 1 or epoch % 5 == 0:
            print(
                f"epoch {epoch:3d}  mse {total / len(B_tr):.4f}  "
                f"mean iterations fwd {fwd / steps:.1f} bwd {bwd / steps:.1f}"
            )
    elapsed = time.perf_counter() - t0

    with rg.no_grad():
        completed = (net(rg.tensor(C_te)).data > 0.5).astype(np.float32)
    mean_img = (B_tr.mean(axis=0, keepdims=True) > 0.5).astype(np.float32)
    rows = [
        ("corrupted input (baseline)", quality(C_te, B_te, C_te)),
        ("mean training image (baseline)", quality(np.repeat(mean_img, len(B_te), 0), B_te,
                                                   C_te)),
        ("recurrent net, fixed point", quality(completed, B_te, C_te)),
    ]  # fmt: skip
    on_frac = float(B.mean())
    print(f"\n{len(B_te)} held-out digits, {on_frac:.1%} of pixels on, half of them removed")
    print("| completion | pixel accuracy | removed pixels restored | false 'on' | IoU |")
    print("|---|---|---|---|---|")
    for name, q in rows:
        print(
            f"| {name} | {q['pixel_acc']:.4f} | {q['removed_recall']:.4f} | "
            f"{q['false_on']:.4f} | {q['iou']:.4f} |"
        )
    print(f"\ntraining time {elapsed:.1f} s, fixed-point converged: "
          f"{net.last_stats['forward_converged']}")  # fmt: skip


if __name__ == "__main__":
    main()
