"""Controlled, reproducible corruption of a data set: label flips and input noise."""

from __future__ import annotations

from typing import Any

from .._backend import xp
from ._common import _as_rng, _check_rate, _class_labels


def inject_label_noise(y: Any, rate: float, n_classes: int | None = None, rng: Any = None) -> tuple:
    """Flip ``round(rate * len(y))`` labels, chosen at random, each to a *different* class
    drawn uniformly from the other ``n_classes - 1``; returns ``(y_noisy, flipped)``.

    ``y`` is (N,) integer labels (not modified); ``n_classes`` defaults to ``y.max() + 1``;
    ``rng`` is None (retrograd's global generator), an int seed or a numpy Generator.
    ``flipped`` is a boolean mask of the changed labels, so ``flipped.mean()`` is exactly
    the requested rate (up to rounding) and ``y_noisy[flipped] != y[flipped]`` everywhere.

    Example::

        >>> import numpy as np, retrograd as rg
        >>> y = np.zeros(10, dtype=np.int64)
        >>> y_noisy, flipped = rg.train.inject_label_noise(y, 0.3, n_classes=3, rng=1)
        >>> int(flipped.sum()), sorted(set(y_noisy[flipped].tolist())) <= [1, 2]
        (3, True)
    """
    fn = "inject_label_noise"
    y = _class_labels(y, fn)
    r = _check_rate(rate, "rate", fn)
    if n_classes is None:
        n_classes = int(y.max()) + 1 if y.size else 0
    if isinstance(n_classes, bool) or not isinstance(n_classes, (int, xp.integer)):
        raise TypeError(f"{fn}: n_classes must be an int, got {n_classes!r}")
    if n_classes < 2:
        raise ValueError(f"{fn}: n_classes must be >= 2 to flip a label, got {n_classes}")
    if y.size and int(y.max()) >= n_classes:
        raise ValueError(
            f"{fn}: y contains label {int(y.max())}, expected labels in 0..{n_classes - 1}"
        )
    gen = _as_rng(rng, fn)
    n = y.shape[0]
    n_flip = int(round(r * n))
    idx = gen.choice(n, size=n_flip, replace=False)
    # Adding 1..C-1 modulo C gives every *other* class with equal probability.
    shift = gen.integers(1, n_classes, size=n_flip)
    y_noisy = y.copy()
    y_noisy[idx] = (y[idx] + shift) % n_classes
    flipped = xp.zeros(n, dtype=bool)
    flipped[idx] = True
    return y_noisy, flipped


def inject_input_noise(X: Any, scale: float, rng: Any = None, *, std: Any = None) -> Any:
    """``X`` plus Gaussian noise whose standard deviation is ``scale`` times each feature's
    standard deviation (a copy; float dtypes kept, integer inputs become float32).

    ``std`` gives the per-feature standard deviations to use (e.g. those of the training
    split, to corrupt a test split the same way); by default they are ``X.std(axis=0)``.
    Constant features (std 0) get no noise. ``rng`` as in :func:`inject_label_noise`.

    Example::

        >>> import numpy as np, retrograd as rg
        >>> X = np.random.default_rng(0).normal(0, 3, size=(20000, 2))
        >>> Xn = rg.train.inject_input_noise(X, 0.5, rng=0)
        >>> round(float((Xn - X).std() / X.std()), 1)
        0.5
    """
    fn = "inject_input_noise"
    X = xp.asarray(X.data if hasattr(X, "data") and not isinstance(X, xp.ndarray) else X)
    if X.ndim < 1 or X.dtype.kind not in "fiu":
        raise ValueError(f"{fn}: X must be a numeric array of samples, got shape {X.shape}")
    s = _check_rate(scale, "scale", fn, hi=None)
    if X.dtype.kind != "f":
        X = X.astype(xp.float32)
    if std is None:
        std = X.std(axis=0)
    std = xp.asarray(std, dtype=X.dtype)
    if std.shape != X.shape[1:]:
        raise ValueError(
            f"{fn}: std has shape {std.shape}, expected one value per feature {X.shape[1:]}"
        )
    if s == 0:
        return X.copy()
    gen = _as_rng(rng, fn)
    noise = gen.standard_normal(X.shape).astype(X.dtype)
    return X + noise * (std * xp.asarray(s, dtype=X.dtype))
