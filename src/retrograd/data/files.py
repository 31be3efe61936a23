"""Data sets and file formats: the shipped digits, NPZ and CSV files."""

from __future__ import annotations

import csv
import os
from importlib import resources
from typing import Any

from .._backend import xp
from ..autograd.tensor import get_default_dtype


def load_digits(dtype: Any = None) -> tuple:
    """The 8x8 handwritten digits shipped with retrograd: ``X`` (1797, 64), ``y`` (1797,).

    UCI "Optical Recognition of Handwritten Digits" (Alpaydin & Kaynak, 1998; CC BY 4.0),
    the copy scikit-learn distributes. ``X`` holds pixel counts 0..16 as ``dtype``
    (default float32; divide by 16 to scale to [0, 1]); ``y`` the digit 0..9 as int64.
    No download and no scikit-learn needed. See ``DIGITS_LICENSE.txt`` next to the data.

    Example::

        >>> import retrograd as rg
        >>> X, y = rg.data.load_digits()
        >>> X.shape, y.shape, int(X.max()), sorted(set(y.tolist()))[-1]
        ((1797, 64), (1797,), 16, 9)
    """
    dt = get_default_dtype() if dtype is None else xp.dtype(dtype)
    ref = resources.files("retrograd.data").joinpath("digits.npz")
    with ref.open("rb") as fh, xp.load(fh, allow_pickle=False) as npz:
        X = npz["X"].astype(dt)
        y = npz["y"].astype(xp.int64)
    return X, y


def load_npz(path: str | os.PathLike, keys: Any = None) -> Any:
    """Arrays from a ``.npz`` file (never unpickles objects).

    With ``keys=None`` returns a dict of every array; with a sequence of names returns a
    tuple of those arrays, e.g. ``X, y = load_npz(path, keys=("X", "y"))``.

    Example::

        >>> import numpy as np, retrograd as rg, tempfile, os
        >>> p = os.path.join(tempfile.mkdtemp(), "d.npz")
        >>> np.savez(p, X=np.ones((2, 3)), y=np.arange(2))
        >>> X, y = rg.data.load_npz(p, keys=("X", "y")); X.shape
        (2, 3)
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"load_npz: no such file: {path!r}")
    try:
        with xp.load(path, allow_pickle=False) as npz:
            if not hasattr(npz, "files"):
                raise ValueError("a single .npy array, not an .npz archive")
            names = list(npz.files)
            if keys is None:
                return {k: npz[k] for k in names}
            if isinstance(keys, str):
                keys = (keys,)
            missing = [k for k in keys if k not in names]
            if missing:
                raise KeyError(missing)
            return tuple(npz[k] for k in keys)
    except KeyError as exc:
        raise ValueError(
            f"load_npz: {path!r} has no array(s) {exc.args[0]}; it holds {names}"
        ) from None
    except (ValueError, OSError, EOFError) as exc:
        raise ValueError(
            f"load_npz: cannot read {path!r} as a .npz archive of numeric arrays ({exc})"
        ) from None


def load_csv(
    path: str | os.PathLike,
    target: int | str | None = -1,
    delimiter: str = ",",
    header: bool | None = None,
    dtype: Any = None,
    skip_columns: Any = (),
    return_classes: bool = False,
) -> tuple:
    """Features and targets from a CSV file: ``X, y = load_csv(path, target="label")``.

    ``target`` is the column holding the targets, by name (needs a header) or index
    (negative counts from the end); None returns only ``X``. ``header=None`` detects a
    header row (any non-numeric cell in the first row). Feature columns must be numeric;
    an empty or non-numeric cell raises a ValueError naming the row and column. Targets
    that are all integers become int64 class labels, other numbers float targets, and text
    labels (e.g. "setosa") class indices in sorted order; ``return_classes=True`` also
    returns the class names. ``skip_columns`` (names or indices) are dropped (ids, ...).

    Example::

        >>> import retrograd as rg, tempfile, os
        >>> p = os.path.join(tempfile.mkdtemp(), "d.csv")
        >>> _ = open(p, "w").write("a,b,label\\n1,2,cat\\n3,4,dog\\n")
        >>> X, y, classes = rg.data.load_csv(p, target="label", return_classes=True)
        >>> X.tolist(), y.tolist(), classes
        ([[1.0, 2.0], [3.0, 4.0]], [0, 1], ['cat', 'dog'])
    """
    path = os.fspath(path)
    dt = get_default_dtype() if dtype is None else xp.dtype(dtype)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"load_csv: no such file: {path!r}")
    with open(path, newline="", encoding="utf-8-sig") as fh:
        rows = [r for r in csv.reader(fh, delimiter=delimiter) if r and any(c.strip() for c in r)]
    if not rows:
        raise ValueError(f"load_csv: {path!r} is empty")
    if header is None:
        header = any(not _is_number(c) for c in rows[0])
    names = [c.strip() for c in rows[0]] if header else None
    body = rows[1:] if header else rows
    if not body:
        raise ValueError(f"load_csv: {path!r} has a header but no data rows")
    width = len(body[0])
    first_line = 2 if header else 1
    for i, r in enumerate(body):
        if len(r) != width:
            raise ValueError(
                f"load_csv: {path!r} line {i + first_line} has {len(r)} columns, expected "
                f"{width} (as in the first data row)"
            )

    def col_index(c: int | str, what: str) -> int:
        if isinstance(c, str):
            if names is None:
                raise ValueError(
                    f"load_csv: {what}={c!r} is a column name but the file has no "
                    "header; pass a column index"
                )
            if c not in names:
                raise ValueError(f"load_csv: {what}={c!r} is not a column; columns are {names}")
            return names.index(c)
        if not -width <= int(c) < width:
            raise ValueError(f"load_csv: {what}={c} is out of range for {width} columns")
        return int(c) % width

    t = None if target is None else col_index(target, "target")
    skip = {col_index(c, "skip_columns") for c in skip_columns}
    feat_cols = [j for j in range(width) if j != t and j not in skip]
    if not feat_cols:
        raise ValueError(f"load_csv: {path!r} has no feature columns left")
    cells = [[r[j] for j in feat_cols] for r in body]
    try:
        X = xp.array(cells, dtype=xp.float64)
    except ValueError:
        for i, r in enumerate(cells):
            for k, c in enumerate(r):
                if not _is_number(c):
                    col = names[feat_cols[k]] if names else feat_cols[k]
                    raise ValueError(
                        f"load_csv: {path!r} line {i + first_line}, column {col!r}: "
                        f"{c!r} is not a number (empty or text cell in a feature column)"
                    ) from None
        raise
    X = X.astype(dt)
    if t is None:
        return X
    raw = [r[t].strip() for r in body]
    classes = None
    if all(_is_number(c) for c in raw):
        vals = xp.array(raw, dtype=xp.float64)
        y = vals.astype(xp.int64) if bool((vals == xp.round(vals)).all()) else vals.astype(dt)
    else:
        classes = sorted(set(raw))
        lookup = {c: i for i, c in enumerate(classes)}
        y = xp.array([lookup[c] for c in raw], dtype=xp.int64)
    if return_classes:
        return X, y, classes
    return X, y


def _is_number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True
