"""Train/test splits (scikit-learn's argument names and return order)."""

from __future__ import annotations

import math
from typing import Any

from .._backend import xp
from ..random import default_generator
from .dataset import _as_ndarray


def _n_test(test_size: Any, n: int) -> int:
    if isinstance(test_size, bool) or not isinstance(
        test_size, (int, float, xp.integer, xp.floating)
    ):
        raise TypeError(f"train_test_split: test_size must be a float or int, got {test_size!r}")
    if isinstance(test_size, (float, xp.floating)):
        if not 0.0 < test_size < 1.0:
            raise ValueError(
                f"train_test_split: a float test_size must be in (0, 1), got {test_size}"
            )
        n_test = math.ceil(float(test_size) * n)
    else:
        n_test = int(test_size)
    if not 0 < n_test < n:
        raise ValueError(
            f"train_test_split: test_size={test_size!r} gives {n_test} test samples out of {n}; "
            "both the train and the test part need at least one sample"
        )
    return n_test


def train_test_split(
    *arrays: Any,
    test_size: float | int = 0.25,
    seed: int | None = None,
    shuffle: bool = True,
    stratify: Any = None,
) -> list:
    """Split arrays into random train and test parts: ``X_tr, X_te, y_tr, y_te = ...``.

    ``test_size`` is a fraction in (0, 1) (rounded up, as in scikit-learn) or a count.
    ``stratify`` (an array of class labels, usually ``y``) keeps the class proportions in
    both parts. ``seed`` makes the split reproducible; None draws from retrograd's
    global generator (see :func:`rg.manual_seed`). Arrays keep their type and dtype.

    Example::

        >>> import numpy as np, retrograd as rg
        >>> X, y = np.arange(20).reshape(10, 2), np.arange(10) % 2
        >>> X_tr, X_te, y_tr, y_te = rg.data.train_test_split(X, y, test_size=0.2, seed=0)
        >>> X_tr.shape, X_te.shape
        ((8, 2), (2, 2))
    """
    if not arrays:
        raise ValueError("train_test_split: at least one array is required")
    arrs = [_as_ndarray(a, f"train_test_split: arrays[{i}]") for i, a in enumerate(arrays)]
    n = arrs[0].shape[0] if arrs[0].ndim else 0
    for i, a in enumerate(arrs):
        if a.ndim == 0 or a.shape[0] != n:
            lens = [x.shape[0] if x.ndim else "scalar" for x in arrs]
            raise ValueError(
                f"train_test_split: all arrays need the same number of samples, got {lens}"
                f" (arrays[{i}] differs)"
            )
    if n < 2:
        raise ValueError(f"train_test_split: need at least 2 samples to split, got {n}")
    n_test = _n_test(test_size, n)
    gen = default_generator() if seed is None else xp.random.default_rng(seed)

    if stratify is not None:
        if not shuffle:
            raise ValueError("train_test_split: stratify requires shuffle=True")
        labels = _as_ndarray(stratify, "train_test_split: stratify")
        if labels.shape[:1] != (n,):
            raise ValueError(
                f"train_test_split: stratify has shape {labels.shape}, expected ({n},)"
            )
        test_idx = _stratified_test_indices(labels, n_test, gen)
        mask = xp.zeros(n, dtype=bool)
        mask[test_idx] = True
        train_idx = gen.permutation(xp.flatnonzero(~mask))
        test_idx = gen.permutation(test_idx)
    elif shuffle:
        perm = gen.permutation(n)
        test_idx, train_idx = perm[:n_test], perm[n_test:]
    else:
        train_idx, test_idx = xp.arange(n - n_test), xp.arange(n - n_test, n)

    out = []
    for original, a in zip(arrays, arrs):
        for idx in (train_idx, test_idx):
            part = a[idx]
            out.append(type(original)(part) if _is_tensor(original) else part)
    return out


def _is_tensor(x: Any) -> bool:
    from ..autograd.tensor import Tensor

    return isinstance(x, Tensor)


def _stratified_test_indices(labels: Any, n_test: int, gen: Any) -> Any:
    classes, inverse, counts = xp.unique(labels, return_inverse=True, return_counts=True)
    inverse = inverse.reshape(-1)
    if counts.min() < 2:
        bad = classes[int(counts.argmin())]
        raise ValueError(
            f"train_test_split: class {bad!r} in stratify has only {int(counts.min())} sample; "
            "each class needs at least 2 to appear in both parts"
        )
    n = labels.shape[0]
    if n_test < len(classes) or n - n_test < len(classes):
        raise ValueError(
            f"train_test_split: with stratify, both parts need at least one sample per class "
            f"({len(classes)} classes), got {n_test} test and {n - n_test} train samples"
        )
    # Largest-remainder allocation: per-class test counts proportional to class size,
    # summing exactly to n_test, each at least 1 and leaving at least 1 for training.
    exact = counts * (n_test / n)
    alloc = xp.clip(xp.floor(exact).astype(int), 1, counts - 1)
    rest = n_test - int(alloc.sum())
    order = xp.argsort(-(exact - xp.floor(exact)), kind="stable")
    i = 0
    while rest != 0 and i < 4 * len(classes):
        c = order[i % len(classes)]
        if rest > 0 and alloc[c] < counts[c] - 1:
            alloc[c] += 1
            rest -= 1
        elif rest < 0 and alloc[c] > 1:
            alloc[c] -= 1
            rest += 1
        i += 1
    picks = []
    for c in range(len(classes)):
        members = xp.flatnonzero(inverse == c)
        picks.append(gen.choice(members, size=int(alloc[c]), replace=False))
    return xp.concatenate(picks)
