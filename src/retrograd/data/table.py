"""CSV files as tables of text cells: delimiter sniffing, header detection, checks.

:func:`read_csv_table` does the reading that :func:`retrograd.data.load_csv` and the
command line share: it finds the delimiter (``,`` ``;`` tab ``|``) when not told, decides
whether the first row is a header, refuses a header whose width differs from its rows
(the sign of a wrong delimiter or of decimal commas in a comma-separated file), and keeps
every cell as stripped text with its line number. Turning columns into numbers is left to
:meth:`CSVTable.numbers`, which accepts decimal commas when the delimiter is not a comma
and knows the usual spellings of a missing value.
"""

from __future__ import annotations

import csv
import os
import re
from dataclasses import dataclass
from typing import Any

from .._backend import xp

#: Delimiters tried, in order of preference on a tie.
DELIMITERS = (",", ";", "\t", "|")
#: Cells read as a missing value (compared case-insensitively, after stripping).
MISSING = frozenset({"", "na", "n/a", "nan", "null", "none", "?", "#n/a"})
_DECIMAL_COMMA = re.compile(r"^[+-]?\d*,\d+(?:[eE][+-]?\d+)?$")
_SNIFF_LINES = 50
_DELIMITER_NAMES = {"tab": "\t", "\\t": "\t", "comma": ",", "semicolon": ";", "pipe": "|"}


def is_missing(cell: str) -> bool:
    """True for an empty cell and the usual spellings of "no value" (NA, NaN, null, ?...)."""
    return cell.strip().lower() in MISSING


def exact_integers(values: Any) -> bool:
    """Whether float ``values`` are all whole numbers that int64 holds exactly (finite, at
    most 2**53 in magnitude): only then may they become int64 class labels (a larger or
    infinite value would be cast to a wrong integer)."""
    v = xp.asarray(values, dtype=xp.float64)
    return bool(xp.isfinite(v).all() and (v == xp.round(v)).all() and (xp.abs(v) <= 2**53).all())


def parse_number(cell: str, decimal_comma: bool = False) -> float | None:
    """The cell's value, or None when it is not a number (missing cells are not numbers)."""
    c = cell.strip()
    if c.lower() in MISSING:
        return None
    try:
        return float(c)
    except ValueError:
        pass
    if decimal_comma and _DECIMAL_COMMA.match(c):
        return float(c.replace(",", "."))
    return None


def delimiter_arg(value: str | None) -> str | None:
    """A delimiter as users write it (``;``, ``tab``, ``\\t``...); None means sniff."""
    if value is None:
        return None
    v = str(value)
    v = _DELIMITER_NAMES.get(v.lower(), v)
    if len(v) != 1 or v in "\"'\r\n":
        raise ValueError(
            f"delimiter: expected one character such as ',', ';', '|' or 'tab', got {value!r}"
        )
    return v


def _rows(lines: list[str], delimiter: str) -> list[list[str]]:
    return [r for r in csv.reader(lines, delimiter=delimiter) if r and any(c.strip() for c in r)]


def sniff_delimiter(lines: list[str]) -> str:
    """The delimiter among ``, ; tab |`` that splits ``lines`` most consistently.

    The winner gives every line (header included) the same number of columns, at least
    two; ties go to the one whose cells read as numbers more often (a ``;`` file with
    decimal commas), then to more columns, then to the order of :data:`DELIMITERS`.
    A one-column file gives ``,``.
    """
    best, best_score = ",", None
    for d in DELIMITERS:
        rows = _rows(lines, d)
        if not rows:
            continue
        widths = [len(r) for r in rows]
        body = widths[1:] or widths
        width = max(set(body), key=body.count)
        if width < 2:
            continue
        agree = sum(w == width for w in widths) / len(widths)
        cells = [c for r in rows[1:] or rows for c in r]
        numeric = sum(parse_number(c, d != ",") is not None for c in cells) / max(len(cells), 1)
        score = (agree == 1.0, agree, round(numeric, 2), width)
        if best_score is None or score > best_score:
            best, best_score = d, score
    return best


def _looks_like_header(rows: list[list[str]], decimal_comma: bool) -> bool:
    """The first row is a header when one of its cells is text above a column of numbers,
    or when every row is text (nothing to compare with)."""
    first, body = rows[0], rows[1:]
    if not any(parse_number(c, decimal_comma) is None and not is_missing(c) for c in first):
        return False
    if not body:
        return True
    for j, c in enumerate(first):
        if parse_number(c, decimal_comma) is not None or is_missing(c):
            continue
        col = [r[j] for r in body if j < len(r)]
        if any(parse_number(v, decimal_comma) is not None for v in col) and all(
            parse_number(v, decimal_comma) is not None or is_missing(v) for v in col
        ):
            return True
    # Text only above text columns (e.g. a label column): a header when nothing in the
    # first row is a number, otherwise a data row with text labels.
    return all(parse_number(c, decimal_comma) is None for c in first)


@dataclass
class CSVTable:
    """A CSV file's cells as text: ``names`` (the header, or None), ``rows``, the
    ``delimiter`` used and each row's line number in the file (``lines``)."""

    path: str
    names: list[str] | None
    rows: list[list[str]]
    delimiter: str
    lines: list[int]

    @property
    def width(self) -> int:
        return len(self.rows[0]) if self.rows else len(self.names or [])

    @property
    def decimal_comma(self) -> bool:
        return self.delimiter != ","

    def label(self, j: int) -> str:
        """How messages name column ``j``: its header name, else its index."""
        return repr(self.names[j]) if self.names else str(j)

    def index(self, column: int | str, what: str = "column") -> int:
        """The position of ``column`` (a header name, or an index; negative from the end)."""
        if isinstance(column, str):
            if self.names is None:
                raise ValueError(
                    f"{what}={column!r} is a column name but {self.path!r} has no header; "
                    "pass a column index"
                )
            if column not in self.names:
                raise ValueError(
                    f"{what}={column!r} is not a column of {self.path!r}; columns are {self.names}"
                )
            return self.names.index(column)
        w = self.width
        if isinstance(column, bool) or not -w <= int(column) < w:
            raise ValueError(f"{what}={column!r} is out of range for {w} columns of {self.path!r}")
        return int(column) % w

    def column(self, j: int) -> list[str]:
        return [r[j] for r in self.rows]

    def is_numeric(self, j: int) -> bool:
        """True when every cell of column ``j`` is a number or missing."""
        dc = self.decimal_comma
        return all(parse_number(c, dc) is not None or is_missing(c) for c in self.column(j))

    def numbers(self, columns: list[int], missing: str = "error") -> Any:
        """Columns as a float64 array (N, len(columns)).

        A text cell raises a ValueError naming its line and column. Missing cells
        (:data:`MISSING`) raise too with ``missing="error"``, naming how many there are
        and where the first is; ``missing="nan"`` makes them NaN.
        """
        if missing not in ("error", "nan"):
            raise ValueError(f"missing: expected 'error' or 'nan', got {missing!r}")
        try:
            # Fast path: NumPy parses plain numbers (and "nan", which is missing anyway).
            out = xp.array([[r[j] for j in columns] for r in self.rows], dtype=xp.float64)
        except ValueError:
            pass
        else:
            holes = xp.isnan(out)
            if missing == "nan" or not holes.any():
                return out
        dc = self.decimal_comma
        out = xp.empty((len(self.rows), len(columns)), dtype=xp.float64)
        n_missing, first_missing = 0, None
        for i, r in enumerate(self.rows):
            for k, j in enumerate(columns):
                v = parse_number(r[j], dc)
                if v is None:
                    if not is_missing(r[j]):
                        raise ValueError(
                            f"{self.path!r} line {self.lines[i]}, column {self.label(j)}: "
                            f"{r[j]!r} is not a number (a text cell in a feature column; "
                            "leave the column out or encode it as numbers)"
                        )
                    n_missing += 1
                    first_missing = first_missing or (self.lines[i], j, r[j])
                    v = float("nan")
                out[i, k] = v
        if n_missing and missing == "error":
            line, j, cell = first_missing
            raise ValueError(
                f"{self.path!r}: {n_missing} missing value(s), the first at line {line}, "
                f"column {self.label(j)} ({cell!r} is not a number)"
            )
        return out


def read_csv_table(
    path: str | os.PathLike,
    delimiter: str | None = None,
    header: bool | None = None,
    what: str = "read_csv_table",
) -> CSVTable:
    """Read a CSV file into a :class:`CSVTable` (cells as stripped text).

    ``delimiter=None`` sniffs it among ``, ; tab |`` (:func:`sniff_delimiter`);
    ``header=None`` detects a header row (text above columns of numbers). A header whose
    width differs from the rows' is refused, as are rows of differing widths, naming the
    line. Blank lines are skipped; a UTF-8 byte-order mark is ignored.

    Example::

        >>> import tempfile, os
        >>> from retrograd.data.table import read_csv_table
        >>> p = os.path.join(tempfile.mkdtemp(), "d.csv")
        >>> _ = open(p, "w").write("a;b;label\\n1,5;2;cat\\n3;4,25;dog\\n")
        >>> t = read_csv_table(p)
        >>> t.delimiter, t.names, t.numbers([0, 1]).tolist()
        (';', ['a', 'b', 'label'], [[1.5, 2.0], [3.0, 4.25]])
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{what}: no such file: {path!r}")
    delimiter = delimiter_arg(delimiter)
    with open(path, "rb") as fh:
        raw = fh.read()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        utf16 = raw[:2] in (b"\xff\xfe", b"\xfe\xff")
        raise ValueError(
            f"{what}: {path!r} is not a UTF-8 text file (byte {e.start}: "
            f"{raw[e.start : e.start + 1]!r}); expected a CSV in UTF-8"
            + ("; it looks like UTF-16: save it again as UTF-8" if utf16 else "")
        ) from None
    if "\x00" in text:
        raise ValueError(f"{what}: {path!r} holds NUL bytes, so it is binary, not a CSV text file")
    lines = text.splitlines(keepends=True)
    rows, line_nos = [], []
    reader = None
    try:
        if delimiter is None:
            sample = [ln for ln in lines[: 4 * _SNIFF_LINES] if ln.strip()][:_SNIFF_LINES]
            delimiter = sniff_delimiter(sample)
        reader = csv.reader(lines, delimiter=delimiter)
        for r in reader:
            if r and any(c.strip() for c in r):
                rows.append([c.strip() for c in r])
                line_nos.append(reader.line_num)
    except csv.Error as e:  # e.g. a cell over the csv module's field size limit
        where = f" line {reader.line_num}" if reader is not None else ""
        raise ValueError(
            f"{what}: {path!r}{where} cannot be read as CSV ({e}); expected a delimited text "
            "file of short cells"
        ) from None
    if not rows:
        raise ValueError(f"{what}: {path!r} is empty")
    decimal_comma = delimiter != ","
    if header is None:
        header = _looks_like_header(rows, decimal_comma)
    names = rows[0] if header else None
    body, body_lines = (rows[1:], line_nos[1:]) if header else (rows, line_nos)
    if not body:
        raise ValueError(f"{what}: {path!r} has a header but no data rows")
    width = len(body[0])
    if names is not None and len(names) != width:
        shown = "tab" if delimiter == "\t" else repr(delimiter)
        hint = (
            "decimal commas in a comma-separated file split every number in two; save the "
            "file with decimal points, or with ';' between columns"
            if len(names) < width and delimiter == ","
            else "the delimiter may be wrong; pass the right one"
        )
        raise ValueError(
            f"{what}: {path!r}: the header has {len(names)} columns but the rows have {width} "
            f"(delimiter {shown}); {hint}"
        )
    for r, ln in zip(body, body_lines):
        if len(r) != width:
            raise ValueError(
                f"{what}: {path!r} line {ln} has {len(r)} columns, expected {width} (as in "
                "the first data row)"
            )
    # Columns with neither a name nor a value (a delimiter at the end of every line, as
    # spreadsheets export) carry nothing: leave them out.
    empty = [
        j for j in range(width) if (names is None or not names[j]) and all(not r[j] for r in body)
    ]
    if empty:
        keep = [j for j in range(width) if j not in empty]
        body = [[r[j] for j in keep] for r in body]
        names = None if names is None else [names[j] for j in keep]
    if names is not None:
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise ValueError(f"{what}: {path!r}: the header names columns {dup} more than once")
    return CSVTable(path, names, body, delimiter, body_lines)


__all__ = ["CSVTable", "read_csv_table", "sniff_delimiter", "is_missing", "parse_number"]
