"""A convolutional autoencoder of the shipped 8x8 digits, decoding with ConvTranspose2d.

Encoder: two stride-2 3x3 convolutions, 8x8 -> 4x4 -> 2x2 with 4 channels: a code of 16
numbers per image (a quarter of the 64 pixels). Decoder: two stride-2 transposed
convolutions (kernel 4, padding 1), 2x2 -> 4x4 -> 8x8, and a sigmoid. Trained with Adam on
the mean squared error of the pixels (scaled to [0, 1]) on a 75/25 split of the digits;
the report compares the test reconstruction error with two references on the same split:
predicting the mean training image, and PCA with the same 16 numbers per image.

    python examples/conv_autoencoder.py                # ~30 s; writes a PNG if matplotlib
    python examples/conv_autoencoder.py --png out.png
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # small matrices, busy machine

import argparse  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

import retrograd as rg  # noqa: E402
from retrograd import nn  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_PNG = os.path.join(os.path.dirname(HERE), "docs", "img", "conv-autoencoder.png")


def build_model() -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(1, 16, 3, stride=2, padding=1), nn.ReLU(),  # 8x8 -> 4x4
        nn.Conv2d(16, 4, 3, stride=2, padding=1), nn.ReLU(),  # -> 2x2 x 4: the code
        nn.ConvTranspose2d(4, 16, 4, stride=2, padding=1), nn.ReLU(),  # -> 4x4
        nn.ConvTranspose2d(16, 1, 4, stride=2, padding=1), nn.Sigmoid(),  # -> 8x8
    )  # fmt: skip


def pca_mse(X_tr: np.ndarray, X_te: np.ndarray, k: int) -> float:
    """Test MSE of the best rank-k linear code fitted on the training images."""
    a, b = X_tr.reshape(len(X_tr), -1), X_te.reshape(len(X_te), -1)
    mean = a.mean(axis=0)
    _, _, vt = np.linalg.svd(a - mean, full_matrices=False)
    basis = vt[:k]
    rec = (b - mean) @ basis.T @ basis + mean
    return float(((rec - b) ** 2).mean())


def save_png(path: str, originals: np.ndarray, recon: np.ndarray) -> bool:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    n = len(originals)
    fig, axes = plt.subplots(2, n, figsize=(n * 0.8, 1.9))
    for i in range(n):
        for row, img in ((0, originals[i]), (1, recon[i])):
            ax = axes[row, i]
            ax.imshow(img.reshape(8, 8), cmap="gray_r", vmin=0, vmax=1)
            ax.set_xticks([])
            ax.set_yticks([])
    axes[0, 0].set_ylabel("test", fontsize=8)
    axes[1, 0].set_ylabel("decoded", fontsize=8)
    fig.tight_layout(pad=0.2)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    tmp = path + ".tmp.png"
    fig.savefig(tmp, dpi=100)
    plt.close(fig)
    os.replace(tmp, path)
    return True


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--epochs", type=int, default=150)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--png", default=DEFAULT_PNG, help="where to write the picture ('' = none)")
    a = p.parse_args(argv)

    rg.manual_seed(a.seed)
    X, y = rg.data.load_digits()
    X = (X / np.float32(16.0)).astype(np.float32).reshape(-1, 1, 8, 8)
    X_tr, X_te, _, _ = rg.data.train_test_split(X, y, test_size=0.25, seed=a.seed, stratify=y)
    model = build_model()
    opt = rg.optim.Adam(model.parameters(), lr=3e-3)
    t0 = time.perf_counter()
    hist = rg.train.fit(
        model, nn.MSELoss(), opt, (X_tr, X_tr), epochs=a.epochs, batch_size=32, seed=a.seed,
        verbose=False,
    )  # fmt: skip
    seconds = time.perf_counter() - t0
    model.eval()
    with rg.no_grad():
        rec = model(rg.tensor(X_te)).data
    mse = float(((rec - X_te) ** 2).mean())
    mean_mse = float(((X_tr.mean(axis=0) - X_te) ** 2).mean())
    pca = pca_mse(X_tr, X_te, 16)
    print(f"{len(X_tr)} training and {len(X_te)} test digits; code: 16 numbers per image")
    print(f"training loss {hist.history['loss'][0]:.4f} -> {hist.history['loss'][-1]:.4f} "
          f"in {a.epochs} epochs ({seconds:.1f} s)")  # fmt: skip
    print(f"test reconstruction MSE: autoencoder {mse:.4f}, PCA (16 components) {pca:.4f}, "
          f"mean image {mean_mse:.4f}")  # fmt: skip
    wrote = bool(a.png) and save_png(a.png, X_te[:10], rec[:10])
    if wrote:
        print(f"wrote {a.png}")
    return {"mse": mse, "pca_mse": pca, "mean_mse": mean_mse, "seconds": seconds,
            "png": a.png if wrote else None}  # fmt: skip


if __name__ == "__main__":
    main()
