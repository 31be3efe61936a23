"""A small convolutional network reads the shipped 8x8 handwritten digits.

Two 3x3 convolutions with batch normalisation, a max-pool, channel dropout and a
two-layer classifier, trained with Adam on a stratified 75/25 split (seed 0: 1347
training and 450 test images). The test set is never seen during training.

    python examples/cnn_digits.py            # 20 epochs
    python examples/cnn_digits.py --epochs 5 # a quick look
"""

from __future__ import annotations

import argparse
import time

import numpy as np

import retrograd as rg
from retrograd import nn


def build_model() -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(1, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(),
        nn.Conv2d(32, 64, 3, padding=1), nn.BatchNorm2d(64), nn.ReLU(),
        nn.MaxPool2d(2),  # 8x8 -> 4x4
        nn.Dropout2d(0.1),
        nn.Flatten(), nn.Linear(64 * 4 * 4, 128), nn.ReLU(), nn.Dropout(0.3),
        nn.Linear(128, 10),
    )  # fmt: skip


def accuracy(model: nn.Module, X: np.ndarray, y: np.ndarray) -> float:
    model.eval()
    with rg.no_grad():
        pred = model(rg.tensor(X)).data.argmax(axis=1)
    model.train()
    return float((pred == y).mean())


def main(epochs: int = 20, seed: int = 0) -> dict:
    rg.manual_seed(seed)
    X, y = rg.data.load_digits()  # (1797, 64) in 0..16, labels 0..9
    X = (X / np.float32(16.0)).astype(np.float32).reshape(-1, 1, 8, 8)
    X_tr, X_te, y_tr, y_te = rg.data.train_test_split(X, y, test_size=0.25, seed=seed, stratify=y)
    loader = rg.data.DataLoader(
        rg.data.ArrayDataset(X_tr, y_tr), batch_size=32, shuffle=True, seed=seed
    )
    model = build_model()
    opt = rg.optim.Adam(model.parameters(), lr=2e-3)
    sched = rg.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=epochs)
    loss_fn = nn.CrossEntropyLoss()
    t0 = time.perf_counter()
    for epoch in range(1, epochs + 1):
        total = 0.0
        for xb, yb in loader:
            opt.zero_grad()
            loss = loss_fn(model(xb), yb)
            loss.backward()
            opt.step()
            total += loss.item() * len(yb)
        sched.step()
        if epoch % 5 == 0 or epoch == epochs:
            print(
                f"epoch {epoch:3d}  loss {total / len(y_tr):.4f}  "
                f"test accuracy {accuracy(model, X_te, y_te):.4f}"
            )
    seconds = time.perf_counter() - t0
    acc = accuracy(model, X_te, y_te)
    n_wrong = int(round((1 - acc) * len(y_te)))
    print(
        f"test accuracy {acc:.4f} ({n_wrong} of {len(y_te)} wrong), "
        f"training time {seconds:.1f} s for {epochs} epochs"
    )
    return {"test_accuracy": acc, "train_seconds": seconds, "n_test": len(y_te)}


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args()
    main(a.epochs, a.seed)
