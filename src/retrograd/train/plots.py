"""Pictures of a training run: loss and accuracy curves, the confusion matrix (PNG).

matplotlib is imported only when a plot is drawn (``pip install 'retrograd[plot]'``);
without it a plot function raises ImportError with a one-line message saying so. The
figures are drawn on matplotlib's Agg canvas without pyplot, so no window opens, no global
figure state is touched and it works on a machine without a display.

Example::

    >>> import tempfile, os
    >>> from retrograd.train.plots import plot_history
    >>> path = os.path.join(tempfile.mkdtemp(), "curves.png")
    >>> _ = plot_history({"loss": [1.0, 0.5, 0.3], "val_loss": [1.1, 0.7, 0.6]}, path)
    >>> os.path.getsize(path) > 0
    True
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

__all__ = ["plot_history", "plot_confusion_matrix", "MATPLOTLIB_MISSING"]

MATPLOTLIB_MISSING = (
    "plotting needs matplotlib, which is not installed: pip install 'retrograd[plot]' "
    "(or pip install matplotlib)"
)


def _figure(figsize: tuple, dpi: int) -> Any:
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        raise ImportError(MATPLOTLIB_MISSING) from None
    fig = Figure(figsize=figsize, dpi=dpi)
    FigureCanvasAgg(fig)
    return fig


def _series(history: Any) -> dict:
    data = getattr(history, "history", history)
    if not isinstance(data, dict):
        raise TypeError(
            f"plot_history: history must be a History or a dict of lists, got "
            f"{type(history).__name__}"
        )
    return data


def _clean(values: Any) -> tuple:
    xs, ys = [], []
    for i, v in enumerate(values or []):
        if v is not None:
            xs.append(i + 1)
            ys.append(float(v))
    return xs, ys


def plot_history(
    history: Any,
    path: str | os.PathLike,
    *,
    figsize: tuple = (8.0, 4.0),
    dpi: int = 100,
    title: str | None = None,
    log_loss: bool = False,
) -> Path:
    """Draw the loss (and accuracy, when logged) per epoch, train and validation, to a PNG.

    ``history`` is a :class:`~retrograd.train.History` or a dict of per-epoch lists
    (``loss``, ``val_loss``, ``accuracy``, ``val_accuracy``). With accuracy there are two
    panels side by side, else one. The image is ``figsize * dpi`` pixels (800x400 by
    default). ``log_loss`` puts the loss on a log scale. Returns the path written.

    Example::

        >>> import tempfile, os
        >>> p = os.path.join(tempfile.mkdtemp(), "c.png")
        >>> plot_history({"loss": [0.9, 0.4], "accuracy": [0.6, 0.9]}, p).name
        'c.png'
    """
    data = _series(history)
    if not data.get("loss"):
        raise ValueError("plot_history: the history has no 'loss' values to plot")
    fig = _figure(figsize, dpi)
    panels = [("loss", "loss")]
    if any(v is not None for v in data.get("accuracy", []) or []):
        panels.append(("accuracy", "accuracy"))
    axes = [fig.add_subplot(1, len(panels), i + 1) for i in range(len(panels))]
    for ax, (key, label) in zip(axes, panels):
        for name, style, what in ((key, "-", "train"), (f"val_{key}", "--", "validation")):
            xs, ys = _clean(data.get(name))
            if xs:
                ax.plot(xs, ys, style, marker="o" if len(xs) <= 20 else None, ms=3, label=what)
        ax.set_xlabel("epoch")
        ax.set_ylabel(label)
        if key == "loss" and log_loss:
            ax.set_yscale("log")
        ax.grid(True, alpha=0.3)
        ax.legend(loc="best", fontsize="small")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return _save(fig, path, dpi)


def plot_confusion_matrix(
    cm: Any,
    path: str | os.PathLike,
    *,
    class_names: Any = None,
    figsize: tuple = (6.0, 5.0),
    dpi: int = 100,
    title: str | None = "confusion matrix",
) -> Path:
    """Draw a confusion matrix (rows: true class, columns: predicted) as a PNG image.

    Each cell shows its count when there are at most 20 classes; the colour is the count
    as a fraction of its row (the recall of that class), so rare classes stay visible.
    Returns the path written.

    Example::

        >>> import numpy as np, tempfile, os
        >>> p = os.path.join(tempfile.mkdtemp(), "cm.png")
        >>> plot_confusion_matrix(np.array([[5, 1], [0, 4]]), p, class_names=["a", "b"]).name
        'cm.png'
    """
    import numpy as np

    m = np.asarray(cm)
    if m.ndim != 2 or m.shape[0] != m.shape[1]:
        raise ValueError(f"plot_confusion_matrix: cm must be a square matrix, got shape {m.shape}")
    k = m.shape[0]
    names = [str(i) for i in range(k)] if class_names is None else [str(c) for c in class_names]
    if len(names) != k:
        raise ValueError(f"plot_confusion_matrix: {len(names)} class names for a {k}x{k} matrix")
    rows = m.sum(axis=1, keepdims=True)
    frac = np.divide(m, rows, out=np.zeros(m.shape, dtype=float), where=rows > 0)
    fig = _figure(figsize, dpi)
    ax = fig.add_subplot(1, 1, 1)
    im = ax.imshow(frac, cmap="Blues", vmin=0.0, vmax=1.0)
    fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04, label="fraction of true class")
    ax.set_xticks(range(k))
    ax.set_yticks(range(k))
    ax.set_xticklabels(names, rotation=45 if max(map(len, names)) > 3 else 0)
    ax.set_yticklabels(names)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    if k <= 20:
        for i in range(k):
            for j in range(k):
                ax.text(
                    j, i, str(int(m[i, j])), ha="center", va="center", fontsize=8,
                    color="white" if frac[i, j] > 0.5 else "black",
                )  # fmt: skip
    if title:
        ax.set_title(title)
    fig.tight_layout()
    return _save(fig, path, dpi)


def _save(fig: Any, path: str | os.PathLike, dpi: int) -> Path:
    out = Path(os.fspath(path))
    if out.parent and not out.parent.exists():
        out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=dpi, format="png")
    return out
