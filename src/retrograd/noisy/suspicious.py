"""Rank training samples by how badly a model fits their labels."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from .._backend import xp
from ._common import _class_labels, _standardize
from .inject import inject_label_noise
from .options import RobustOption, _train, default_model
from .trajectory import LossTrajectory, per_sample_loss


@dataclass
class SuspiciousSamples:
    """What :func:`suspicious_samples` found: ``indices`` of the ``top_k`` most suspicious
    samples (most suspicious first), their ``scores``, ``all_scores`` (one per sample),
    the ``method`` used and, for class labels, ``predicted``: the class each sample's
    scoring model chose (for "trajectory", the model after the last recorded epoch). Unpacks as
    ``indices, scores = suspicious_samples(...)``."""

    indices: Any
    scores: Any
    all_scores: Any
    method: str
    predicted: Any = None

    def __iter__(self) -> Any:
        return iter((self.indices, self.scores))

    def precision(self, truly_bad: Any) -> float:
        """Fraction of ``indices`` marked True in the boolean mask ``truly_bad``."""
        mask = xp.asarray(truly_bad, dtype=bool)
        return float(mask[self.indices].mean()) if len(self.indices) else float("nan")


_METHODS = ("auto", "oof", "trajectory", "loss")


def suspicious_samples(
    model: Any,
    data: tuple,
    top_k: int = 10,
    *,
    method: str = "auto",
    trajectory: LossTrajectory | None = None,
    folds: int = 4,
    epochs: int = 30,
    batch_size: int = 32,
    lr: float = 3e-3,
    seed: int = 0,
    option: str | RobustOption = "gce",
) -> SuspiciousSamples:
    """Rank the samples of ``data = (X, y)`` by how badly their labels are fitted, to find
    likely mislabelled samples and outliers: the ``top_k`` worst come first.

    ``model`` is either a trained Module or a factory ``model_fn(n_features, n_classes)``
    that builds a fresh, untrained one (e.g. :func:`default_model`). ``method``:

    - ``"trajectory"`` (the default for a factory, or for a Module given with its
      ``trajectory``; measured best, see ``docs/noisy-data.md``): each sample's
      cross-entropy averaged over the training epochs, recorded by a
      :class:`LossTrajectory`. Mislabelled samples are learned late, if ever, so their
      loss stays high for most of training. Pass the trajectory recorded while training
      ``model``, or give a factory: one model is then trained here (``epochs``,
      ``batch_size``, AdamW ``lr``, training recipe ``option``, default ``"gce"``,
      which fits wrong labels less readily than cross-entropy).
    - ``"oof"``: cross-validated out-of-fold loss. The data is cut into ``folds`` random
      parts and a fresh model trained on the other parts scores each one, so no sample
      is judged by a model that saw its (possibly wrong) label. Costs ``folds``
      trainings; on digits about one point less precise than "trajectory".
    - ``"loss"`` (the default for a trained Module without ``trajectory``): the final
      per-sample loss of ``model`` (a factory's model is trained once on all the data
      first). Weakest: a network that has memorized the wrong labels fits them too.

    Scores are cross-entropies (integer labels) or squared errors (float targets). Returns
    :class:`SuspiciousSamples` (``indices, scores = ...`` unpacks).

    Example::

        >>> import numpy as np, retrograd as rg
        >>> from retrograd.noisy import default_model
        >>> rng = np.random.default_rng(0)
        >>> X = rng.normal(size=(200, 2)).astype("float32"); y = (X[:, 0] > 0).astype(int)
        >>> y_noisy, flipped = rg.train.inject_label_noise(y, 0.05, 2, rng=0)
        >>> found = rg.train.suspicious_samples(default_model, (X, y_noisy), top_k=10,
        ...                                     epochs=20)
        >>> found.precision(flipped) >= 0.7
        True
    """
    from ..nn.module import Module
    from ..train.loop import predict

    fn = "suspicious_samples"
    if method not in _METHODS:
        raise ValueError(f"{fn}: method must be one of {_METHODS}, got {method!r}")
    if not isinstance(data, (tuple, list)) or len(data) != 2:
        raise TypeError(f"{fn}: data must be an (X, y) tuple, got {type(data).__name__}")
    X, y = (xp.asarray(a.data if hasattr(a, "data") and not isinstance(a, xp.ndarray) else a)
            for a in data)  # fmt: skip
    n = X.shape[0]
    if y.shape[0] != n:
        raise ValueError(f"{fn}: X has {n} samples but y has {y.shape[0]}")
    if isinstance(top_k, bool) or not isinstance(top_k, (int, xp.integer)) or not 0 < top_k <= n:
        raise ValueError(
            f"{fn}: top_k must be an int in 1..{n} (the number of samples), got {top_k!r}"
        )
    trained = isinstance(model, Module)
    if not trained and not callable(model):
        raise TypeError(
            f"{fn}: model must be a Module or a factory model_fn(n_features, n_classes)"
        )
    if method == "auto":
        method = "loss" if trained and trajectory is None else "trajectory"
    if method == "oof" and trained:
        raise TypeError(
            f"{fn}: method='oof' trains fresh models, so model must be a factory "
            "model_fn(n_features, n_classes), not a trained Module"
        )
    is_class = y.ndim == 1 and y.dtype.kind in "iu"
    n_classes = int(y.max()) + 1 if is_class else (y.shape[1] if y.ndim > 1 else 1)
    opt = RobustOption.parse(option)
    kw = dict(model_fn=_factory(model), epochs=epochs, batch_size=batch_size, lr=lr)
    predicted = None

    if method == "loss":
        net = model if trained else _train(opt, X, y, n_classes, seed=seed, **kw)
        out = predict(net, X)
        scores = per_sample_loss(out, y)
        predicted = out.argmax(axis=1) if is_class else None
    elif method == "trajectory":
        if trajectory is None:
            if trained:
                raise ValueError(
                    f"{fn}: method='trajectory' with a trained model needs the "
                    "LossTrajectory callback that recorded its training (trajectory=...)"
                )
            trajectory = LossTrajectory()
            _train(opt, X, y, n_classes, seed=seed, callbacks=[trajectory], **kw)
        scores = trajectory.mean_loss()
        predicted = trajectory.last_predicted
        if scores.shape[0] != n:
            raise ValueError(f"{fn}: the trajectory has {scores.shape[0]} samples but data has {n}")
    else:  # oof
        if isinstance(folds, bool) or not isinstance(folds, int) or not 2 <= folds <= n:
            raise ValueError(f"{fn}: folds must be an int in 2..{n}, got {folds!r}")
        perm = xp.random.default_rng(seed).permutation(n)
        scores = xp.empty(n, dtype=xp.float64)
        predicted = xp.zeros(n, dtype=xp.int64) if is_class else None
        for k, held in enumerate(xp.array_split(perm, folds)):
            keep = xp.ones(n, dtype=bool)
            keep[held] = False
            net = _train(opt, X[keep], y[keep], n_classes, seed=seed + k, **kw)
            out = predict(net, X[held])
            scores[held] = per_sample_loss(out, y[held])
            if predicted is not None:
                predicted[held] = out.argmax(axis=1)
    # Stable sort on -score: ties keep the data order (reproducible).
    order = xp.argsort(-scores, kind="stable")[:top_k]
    return SuspiciousSamples(order, scores[order], scores, method, predicted)


def _factory(model: Any) -> Callable | None:
    from ..nn.module import Module

    if isinstance(model, Module):
        return None

    def build(n_features: int, n_classes: int, dropout: float = 0.0) -> Any:
        if dropout:
            return model(n_features, n_classes, dropout=dropout)
        return model(n_features, n_classes)

    return build


def suspicious_precision(
    X: Any,
    y: Any,
    *,
    rate: float = 0.05,
    seeds: Iterable[int] = (0, 1, 2, 3, 4),
    method: str = "trajectory",
    model_fn: Callable | None = None,
    top_k: int | None = None,
    ks: Sequence[int] = (),
    standardize: bool = True,
    **kwargs: Any,
) -> dict:
    """How well :func:`suspicious_samples` finds planted label flips: for each seed, flip
    ``rate`` of the labels of ``(X, y)``, rank, and measure the precision of the top
    ``top_k`` (default: the number flipped, so precision = recall) at finding the flipped
    ones. Chance level is ``rate``. Returns ``{"precision": [...], "mean", "std", "rate",
    "top_k", "n_flipped", "method", "seconds", "precision_at"}`` where ``precision_at``
    maps each extra list length in ``ks`` to its per-seed precisions; ``kwargs`` go to
    :func:`suspicious_samples` (``epochs``, ``folds``, ``option``, ...).

    Example::

        >>> import numpy as np, retrograd as rg
        >>> rng = np.random.default_rng(0)
        >>> X = rng.normal(size=(200, 2)).astype("float32"); y = (X[:, 0] > 0).astype(int)
        >>> res = rg.noisy.suspicious_precision(X, y, rate=0.05, seeds=(0,), epochs=10)
        >>> res["n_flipped"], res["mean"] > 0.5
        (10, True)
    """
    X = xp.asarray(X)
    y = _class_labels(y, "suspicious_precision")
    if standardize:
        (X,) = _standardize(X.astype(xp.float32) if X.dtype.kind != "f" else X)
    n_classes = int(y.max()) + 1
    t0 = time.perf_counter()
    precisions = []
    n_flipped = int(round(rate * len(y)))
    if n_flipped == 0:
        raise ValueError(f"suspicious_precision: rate={rate} flips no label of {len(y)}")
    k = n_flipped if top_k is None else top_k
    ks = [int(v) for v in ks]
    at: dict = {v: [] for v in ks}
    for s in seeds:
        y_noisy, flipped = inject_label_noise(y, rate, n_classes, rng=1000 + s)
        found = suspicious_samples(
            model_fn or default_model, (X, y_noisy), k, method=method, seed=s, **kwargs
        )
        precisions.append(found.precision(flipped))
        order = xp.argsort(-found.all_scores, kind="stable")
        for v in ks:
            at[v].append(float(flipped[order[:v]].mean()))
    arr = xp.asarray(precisions)
    return {
        "precision": [float(p) for p in precisions],
        "mean": float(arr.mean()),
        "std": float(arr.std()),
        "rate": float(rate),
        "top_k": int(k),
        "n_flipped": n_flipped,
        "method": method,
        "option": str(kwargs.get("option", "gce")) if method != "loss" else None,
        "seconds": time.perf_counter() - t0,
        "precision_at": at,
    }
