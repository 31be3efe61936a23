"""Classification metrics on NumPy arrays (or Tensors): accuracy and the confusion matrix."""

from __future__ import annotations

from typing import Any

from .._backend import xp


def _arr(x: Any) -> Any:
    return x.data if hasattr(x, "data") and not isinstance(x, xp.ndarray) else xp.asarray(x)


def predicted_classes(output: Any, threshold: float = 0.5) -> Any:
    """Class indices from model outputs: argmax over the last axis of (N, C>1) scores, or
    ``output > threshold`` for a single output unit (N,) or (N, 1)."""
    out = _arr(output)
    if out.ndim >= 2 and out.shape[-1] > 1:
        return out.argmax(axis=-1)
    return (out.reshape(out.shape[0], -1)[:, 0] > threshold).astype(xp.int64)


def accuracy(output: Any, target: Any, threshold: float = 0.5) -> float:
    """Fraction of samples whose predicted class equals the target.

    ``output`` holds class scores (N, C) (logits or probabilities: argmax is taken) or one
    output unit (N,) / (N, 1) thresholded at ``threshold`` (0.5 for a sigmoid; use 0 for
    logits). ``target`` holds class indices (N,), or one-hot rows of ``output``'s shape.

    Example::

        >>> import numpy as np
        >>> from retrograd.train.metrics import accuracy
        >>> accuracy(np.array([[2.0, 1.0], [0.0, 3.0], [1.0, 0.0]]), np.array([0, 1, 1]))
        0.6666666666666666
    """
    out, t = _arr(output), _arr(target)
    if out.shape[0] != t.shape[0]:
        raise ValueError(f"accuracy: output has {out.shape[0]} samples, target has {t.shape[0]}")
    if out.shape[0] == 0:
        raise ValueError("accuracy: no samples")
    pred = predicted_classes(out, threshold)
    if t.ndim >= 2 and t.shape == out.shape and out.shape[-1] > 1:
        t = t.argmax(axis=-1)
    elif t.ndim >= 2:
        t = t.reshape(t.shape[0], -1)[:, 0]
    if t.dtype.kind == "f":
        t = (t > threshold).astype(xp.int64) if out.ndim < 2 or out.shape[-1] == 1 else t
    # count_nonzero / n: the value .mean() gives (an exact count over n), a few us sooner
    # on the small batches that fit scores one by one.
    hits = pred == t
    return int(xp.count_nonzero(hits)) / hits.size


def confusion_matrix(y_true: Any, y_pred: Any, num_classes: int | None = None) -> Any:
    """``C[i, j]`` = number of samples of true class ``i`` predicted as class ``j``.

    ``y_pred`` may be class indices (N,) or class scores (N, C) (argmax is taken). The size
    is ``num_classes`` or one more than the largest label seen.

    Example::

        >>> import numpy as np
        >>> from retrograd.train.metrics import confusion_matrix
        >>> confusion_matrix(np.array([0, 1, 1, 2]), np.array([0, 1, 2, 2]))
        array([[1, 0, 0],
               [0, 1, 1],
               [0, 0, 1]])
    """
    t = _arr(y_true)
    p = _arr(y_pred)
    if p.ndim == 2:
        p = predicted_classes(p)
    t = t.reshape(-1)
    p = p.reshape(-1)
    if t.shape != p.shape:
        raise ValueError(f"confusion_matrix: y_true has {t.size} labels, y_pred has {p.size}")
    for name, a in (("y_true", t), ("y_pred", p)):
        if a.dtype.kind not in "iub":
            if a.dtype.kind == "f" and a.size and bool((a == xp.round(a)).all()):
                continue
            raise ValueError(
                f"confusion_matrix: {name} must hold integer class labels, got dtype {a.dtype}"
            )
    t = t.astype(xp.int64)
    p = p.astype(xp.int64)
    if t.size and min(int(t.min()), int(p.min())) < 0:
        raise ValueError("confusion_matrix: labels must be >= 0")
    k = int(max(int(t.max(initial=-1)), int(p.max(initial=-1))) + 1)
    if num_classes is not None:
        if k > num_classes:
            raise ValueError(
                f"confusion_matrix: found label {k - 1}, expected labels < num_classes="
                f"{num_classes}"
            )
        k = int(num_classes)
    return xp.bincount(t * k + p, minlength=k * k).reshape(k, k)


METRICS = {"accuracy": accuracy}

__all__ = ["accuracy", "confusion_matrix", "predicted_classes"]
