"""Small data files the CLI tests train on, written fresh into a temporary directory."""

from __future__ import annotations

import gzip
import struct

import numpy as np
import pytest


def write_idx(path, arr: np.ndarray) -> None:
    """Write ``arr`` (uint8) as an IDX file, gzip-compressed when ``path`` ends in .gz."""
    arr = np.ascontiguousarray(arr, dtype=np.uint8)
    head = bytes([0, 0, 0x08, arr.ndim]) + b"".join(struct.pack(">I", s) for s in arr.shape)
    data = head + arr.tobytes()
    if str(path).endswith(".gz"):
        data = gzip.compress(data)
    with open(path, "wb") as fh:
        fh.write(data)


@pytest.fixture(scope="session")
def mnist_dir(tmp_path_factory):
    """A fake MNIST folder: 28x28 images of 3 classes, each class a bright bar in its place."""
    root = tmp_path_factory.mktemp("mnist")
    rng = np.random.default_rng(0)
    for part, n in (("train", 120), ("t10k", 45)):
        y = np.arange(n) % 3
        X = (rng.random((n, 28, 28)) * 40).astype(np.uint8)
        for k in range(3):
            X[y == k, k * 9 : k * 9 + 6, 4:24] = 250
        write_idx(root / f"{part}-images-idx3-ubyte.gz", X)
        write_idx(root / f"{part}-labels-idx1-ubyte", y.astype(np.uint8))
    return root


@pytest.fixture(scope="session")
def csv_files(tmp_path_factory):
    """A classification CSV with text labels, a regression CSV and a features-only CSV."""
    root = tmp_path_factory.mktemp("csv")
    rng = np.random.default_rng(1)
    n = 240
    X = rng.normal(size=(n, 4))
    lab = np.where(X[:, 0] + X[:, 1] > 0.3, "yes", np.where(X[:, 2] > 0, "maybe", "no"))
    value = 3 * X[:, 0] - 2 * X[:, 1] + 0.5 * X[:, 2] + 100.0

    def write(name, header, rows):
        with open(root / name, "w") as fh:
            fh.write(",".join(header) + "\n")
            for r in rows:
                fh.write(",".join(str(c) for c in r) + "\n")
        return root / name

    feats = [[f"{v:.5f}" for v in x] for x in X]
    paths = {
        "cls": write("cls.csv", ["a", "b", "c", "d", "answer"],
                     [f + [lab_] for f, lab_ in zip(feats, lab)]),
        "reg": write("reg.csv", ["a", "b", "c", "d", "price"],
                     [f + [f"{v:.5f}"] for f, v in zip(feats, value)]),
        "new": write("new.csv", ["a", "b", "c", "d"], feats[:7]),
    }  # fmt: skip
    return paths
