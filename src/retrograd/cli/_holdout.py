"""``retrograd train``'s held-out parts: the test split, missing-value filling, the test
report (printed next to validation, stored in the model file, appended to the metrics)."""

from __future__ import annotations

from typing import Any


def split_rows(n: int, frac: float, seed: int, labels: Any, what: str) -> tuple:
    """(kept, held-out) row indices: ``ceil(frac * n)`` rows held out, stratified by
    ``labels`` (class indices) when every class has at least 2 rows and the held-out part
    has room for each class; else a plain seeded shuffle."""
    import numpy as np

    from ..data import train_test_split

    n_out = int(np.ceil(frac * n))
    if n_out < 1 or n - n_out < 2:
        raise ValueError(f"{what} {frac:g}: {n} rows are too few to split")
    strat = None
    if labels is not None:
        counts = np.bincount(labels)
        counts = counts[counts > 0]
        if counts.min() >= 2 and n_out >= len(counts) and n - n_out >= len(counts):
            strat = labels
    idx = np.arange(n)
    keep, held = train_test_split(idx, test_size=n_out, seed=seed, stratify=strat)
    return keep, held


def fill_values(X: Any) -> Any:
    """Per-feature means of the training rows, ignoring missing (NaN) cells; 0 for a
    column with no value at all."""
    import numpy as np

    X = np.asarray(X, dtype=np.float64)
    has = ~np.isnan(X)
    counts = has.sum(axis=0)
    sums = np.where(has, X, 0.0).sum(axis=0)
    return np.where(counts > 0, sums / np.maximum(counts, 1), 0.0).astype(np.float32)


def fill(X: Any, values: Any) -> Any:
    import numpy as np

    if X is None:
        return None
    return np.where(np.isnan(X), values, X).astype(np.float32)


def test_report(model: Any, loss_fn: Any, X: Any, y_fit: Any, task: str, meta: dict) -> dict:
    """Loss (as in training) and accuracy, or R^2 / RMSE / MAE in the data's units."""
    import numpy as np

    from .. import tensor
    from ..autograd.mode import no_grad
    from ..train import predict

    out = predict(model, X)
    with no_grad():
        loss = float(loss_fn(tensor(out), tensor(y_fit)).item())
    rep: dict = {"rows": int(len(X)), "loss": loss}
    if task == "classify":
        y = y_fit if y_fit.ndim == 1 else y_fit.argmax(axis=1)
        rep["accuracy"] = float((out.argmax(axis=1) == y).mean())
    else:
        mean = np.asarray(meta["target_mean"], np.float64)
        std = np.asarray(meta["target_std"], np.float64)
        pred = out.astype(np.float64) * std + mean
        y = np.asarray(y_fit, np.float64).reshape(pred.shape) * std + mean
        err = pred - y
        ss_tot = float(((y - y.mean(axis=0)) ** 2).sum())
        rep["r2"] = 1.0 - float((err**2).sum()) / ss_tot if ss_tot > 0 else float("nan")
        rep["rmse"] = float(np.sqrt((err**2).mean()))
        rep["mae"] = float(np.abs(err).mean())
    return rep


def describe(rep: dict) -> str:
    keys = ("loss", "accuracy", "r2", "rmse", "mae")
    return ", ".join(f"{k} {rep[k]:.4f}" for k in keys if k in rep)


def append_to_metrics(path: str, rep: dict, best_epoch: int | None) -> None:
    """One more record after the epochs: ``{"epoch": "test", "loss": ..., ...}``.

    In a CSV file the row fills the columns that exist (``loss``, ``accuracy``); a JSONL
    record keeps every key (``rows``, ``r2``, ``weights_of_epoch``...).
    """
    import csv
    import json

    rec = {"epoch": "test", **rep}
    if best_epoch is not None:
        rec["weights_of_epoch"] = best_epoch
    if path.endswith(".csv"):
        with open(path, newline="", encoding="utf-8") as fh:
            fields = next(csv.reader(fh), None)
        if not fields:
            return
        with open(path, "a", newline="", encoding="utf-8") as fh:
            w = csv.DictWriter(fh, fieldnames=fields, extrasaction="ignore", lineterminator="\n")
            w.writerow({k: ("" if rec.get(k) is None else rec.get(k)) for k in fields})
    else:
        with open(path, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(rec) + "\n")
