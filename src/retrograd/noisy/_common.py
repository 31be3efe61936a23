"""Shared helpers of the noisy-data toolkit: generators, rates, labels, scaling."""

from __future__ import annotations

from typing import Any

from .._backend import xp
from .._checks import check_number
from ..random import default_generator


def _as_rng(rng: Any, fn: str) -> Any:
    """None: retrograd's global generator; an int: a fresh seeded one; a Generator: itself."""
    if rng is None:
        return default_generator()
    if isinstance(rng, xp.random.Generator):
        return rng
    if isinstance(rng, (int, xp.integer)) and not isinstance(rng, bool) and rng >= 0:
        return xp.random.default_rng(int(rng))
    raise TypeError(
        f"{fn}: rng must be None, a non-negative int seed or a numpy Generator, got {rng!r}"
    )


def _check_rate(rate: Any, name: str, fn: str, hi: float | None = 1.0) -> float:
    # A rate is in [0, hi] (a plain ">= 0" when unbounded); TypeError for a non-number.
    expected = None if hi is not None else "in >= 0"
    return check_number(rate, name, fn, lo=0.0, hi=hi, expected=expected)


def _class_labels(y: Any, fn: str) -> Any:
    y = xp.asarray(y.data if hasattr(y, "data") and not isinstance(y, xp.ndarray) else y)
    if y.ndim != 1 or y.dtype.kind not in "iu":
        raise ValueError(
            f"{fn}: y must be a 1-D array of integer class labels, got shape {y.shape} and "
            f"dtype {y.dtype}"
        )
    if y.size and int(y.min()) < 0:
        raise ValueError(f"{fn}: y contains the negative label {int(y.min())}")
    return y


def _accuracy(model: Any, X: Any, y: Any) -> float:
    from ..train.loop import predict

    return float((predict(model, X).argmax(axis=1) == y).mean())


def _standardize(X_tr: Any, *others: Any) -> list:
    # Training statistics only; constant features are centred, not scaled.
    mu = X_tr.mean(axis=0)
    sd = X_tr.std(axis=0)
    sd = xp.where(sd > 0, sd, 1.0)
    return [((a - mu) / sd).astype(X_tr.dtype) for a in (X_tr, *others)]
