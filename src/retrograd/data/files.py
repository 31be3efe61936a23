"""Data sets and file formats: the shipped digits, NPZ and CSV files."""

from __future__ import annotations

import os
import zipfile
import zlib
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
    _check_zip_magic(path)
    names: list = []
    try:
        with xp.load(path, allow_pickle=False) as npz:
            names = list(npz.files)
            if keys is None:
                keys = names
                wanted: Any = None
            else:
                wanted = (keys,) if isinstance(keys, str) else tuple(keys)
                missing = [k for k in wanted if k not in names]
                if missing:
                    raise KeyError(missing)
                keys = wanted
            arrays = {}
            for k in keys:
                _check_member(path, npz.zip, k)
                arrays[k] = npz[k]
    except KeyError as exc:
        raise ValueError(
            f"load_npz: {path!r} has no array(s) {exc.args[0]}; it holds {names}"
        ) from None
    except _NpzError:
        raise
    except (ValueError, OSError, EOFError, zipfile.BadZipFile, zlib.error) as exc:
        why = " ".join(str(exc).split())
        if "pickle" in why.lower() or "object arrays" in why.lower():
            why = "an array of Python objects, which would need unpickling (refused)"
        raise _NpzError(
            f"load_npz: {path!r} is not a readable .npz archive of numeric arrays: {why}"
        ) from None
    return arrays if wanted is None else tuple(arrays[k] for k in wanted)


class _NpzError(ValueError):
    """Already names the file and the problem."""


_ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")
_NPY_MAGIC = b"\x93NUMPY"


def _check_zip_magic(path: str) -> None:
    # NumPy reads anything that is not a zip or .npy file as a pickle and then refuses it
    # with a message about pickles; say what the file is instead.
    with open(path, "rb") as fh:
        head = fh.read(8)
    if head.startswith(_NPY_MAGIC):
        raise _NpzError(
            f"load_npz: {path!r} is a single .npy array, not an .npz archive; save the arrays "
            "together with numpy.savez(path, X=X, y=y)"
        )
    if not head.startswith(_ZIP_MAGIC):
        what = "an empty file" if not head else f"a file starting with bytes {head[:4]!r}"
        raise _NpzError(
            f"load_npz: {path!r} is not an .npz archive: expected a zip file of .npy arrays "
            f"(numpy.savez), got {what}"
        )


def _check_member(path: str, archive: Any, key: str) -> None:
    """Refuse a member whose .npy header announces more data than the member holds.

    NumPy allocates the announced shape before reading (a 200-byte member could ask for
    terabytes); the check reads only the header.
    """
    import numpy.lib.format as npf

    name = key if key in archive.namelist() else key + ".npy"
    info = archive.getinfo(name)
    size = info.file_size
    # The sizes in a zip's directory are the file's word too: a stored member is as long
    # as it says, and deflate cannot expand more than 1032-fold, so what is allocated stays
    # within a bounded multiple of the bytes on disk.
    limit = info.compress_size * (1 if info.compress_type == zipfile.ZIP_STORED else 1032)
    if info.compress_size > os.path.getsize(path) or size > limit + 1024:
        raise _NpzError(
            f"load_npz: {path!r}: array {key!r} claims {size:,} bytes from "
            f"{info.compress_size:,} stored bytes; the archive is corrupt or tampered with"
        )
    with archive.open(name) as fh:
        try:
            version = npf.read_magic(fh)
        except ValueError:
            raise _NpzError(
                f"load_npz: {path!r}: member {name!r} is not a .npy array (it lacks NumPy's "
                "array header); expected numeric arrays saved with numpy.savez"
            ) from None
        if version == (1, 0):
            shape, _, dtype = npf.read_array_header_1_0(fh)
        elif version == (2, 0):
            shape, _, dtype = npf.read_array_header_2_0(fh)
        else:
            return  # (3, 0): NumPy's own reader checks it
        start = fh.tell()
    if dtype.hasobject:
        raise _NpzError(
            f"load_npz: {path!r}: array {key!r} holds Python objects ({dtype}), which would "
            "need unpickling (refused); expected numeric arrays"
        )
    count = 1
    for s in shape:
        count *= int(s)
    need = count * dtype.itemsize
    if need != size - start:
        raise _NpzError(
            f"load_npz: {path!r}: array {key!r} announces shape {tuple(shape)} of {dtype} "
            f"({need:,} bytes) but the archive holds {size - start:,} bytes of it"
        )


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
    from .table import exact_integers, is_missing, parse_number, read_csv_table

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
        y = vals.astype(xp.int64) if exact_integers(vals) else vals.astype(dt)
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
