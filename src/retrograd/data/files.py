"""Data sets and file formats: the shipped digits, NPZ and CSV files."""

from __future__ import annotations

import os
from importlib import resources
from typing import Any

from .._backend import xp
from .._checks import resolve_dtype


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
    dt = resolve_dtype(dtype)
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
    delimiter: str | None = None,
    header: bool | None = None,
    dtype: Any = None,
    skip_columns: Any = (),
    return_classes: bool = False,
    missing: str = "error",
) -> tuple:
    """Features and targets from a CSV file: ``X, y = load_csv(path, target="label")``.

    ``target`` is the column holding the targets, by name (needs a header) or index
    (negative counts from the end); None returns only ``X``. ``delimiter=None`` sniffs
    it among ``, ; tab |``; ``header=None`` detects a header row (text above columns of
    numbers). A header wider or narrower than its rows is refused (a wrong delimiter, or
    decimal commas in a comma-separated file). With a delimiter other than ``,``, decimal
    commas (``1,5``) read as numbers. Feature columns must be numeric: a text cell raises
    a ValueError naming the line and column. Missing cells (empty, ``NA``, ``NaN``,
    ``null``, ``?``...) raise a ValueError counting them with ``missing="error"``; with
    ``missing="nan"`` they become NaN (rows with a missing target are then dropped).
    Targets that are all integers become int64 class labels, other numbers float
    targets, and text labels (e.g. "setosa") class indices in sorted order;
    ``return_classes=True`` also returns the class names. ``skip_columns`` (names or
    indices) are dropped (ids, ...).

    Example::

        >>> import retrograd as rg, tempfile, os
        >>> p = os.path.join(tempfile.mkdtemp(), "d.csv")
        >>> _ = open(p, "w").write("a,b,label\\n1,2,cat\\n3,4,dog\\n")
        >>> X, y, classes = rg.data.load_csv(p, target="label", return_classes=True)
        >>> X.tolist(), y.tolist(), classes
        ([[1.0, 2.0], [3.0, 4.0]], [0, 1], ['cat', 'dog'])
    """
    from .table import is_missing, parse_number, read_csv_table

    dt = resolve_dtype(dtype)
    table = read_csv_table(path, delimiter=delimiter, header=header, what="load_csv")
    try:
        t = None if target is None else table.index(target, "target")
        skip = {table.index(c, "skip_columns") for c in skip_columns}
    except ValueError as exc:
        raise ValueError(f"load_csv: {exc}") from None
    feat_cols = [j for j in range(table.width) if j != t and j not in skip]
    if not feat_cols:
        raise ValueError(f"load_csv: {table.path!r} has no feature columns left")
    keep = None
    if t is not None and missing == "nan":
        keep = [i for i, r in enumerate(table.rows) if not is_missing(r[t])]
        if len(keep) < len(table.rows):
            table.rows = [table.rows[i] for i in keep]
            table.lines = [table.lines[i] for i in keep]
    try:
        X = table.numbers(feat_cols, missing=missing).astype(dt)
    except ValueError as exc:
        raise ValueError(f"load_csv: {exc}") from None
    if t is None:
        return X
    raw = table.column(t)
    classes = None
    holes = [table.lines[i] for i, c in enumerate(raw) if is_missing(c)]
    if holes:
        raise ValueError(
            f"load_csv: {table.path!r}: {len(holes)} missing target value(s) in column "
            f"{table.label(t)}, the first at line {holes[0]}"
        )
    values = [parse_number(c, table.decimal_comma) for c in raw]
    if all(v is not None for v in values):
        vals = xp.array(values, dtype=xp.float64)
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
