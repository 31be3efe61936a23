"""CSV files for the commands: which columns are features, which the target, and how a
file given to ``evaluate`` / ``predict`` lines up with the one the model was trained on.

Training records the file's layout in the model file (``feature_names``, ``target``,
``columns``, ``target_index``, ``dropped``); later files are matched to it by column
name, so a reordered file gives the same answers, a file lacking a training column is
refused naming it, and extra columns are ignored with a note. Position is used only when
names cannot be: a file without a header (or a model trained on one), of the width of
the training file or of its feature columns alone, again with a note.
"""

from __future__ import annotations

import re
import sys
from typing import Any

from ._common import Data, UsageError

MISSING_POLICIES = ("error", "drop", "mean")
# One-hot encoding beyond this many categories is refused (an id or free text, likely).
MAX_CATEGORIES = 100
_DECIMAL_COMMA = re.compile(r"^[+-]?\d*,\d+$")
_ID_NAME = re.compile(r"^(id|index|idx|row|rowid|row_id|unnamed: ?0|.*[_ ]id)$", re.IGNORECASE)


def note(msg: str) -> None:
    """A remark about the input on standard error (stdout may be the predictions)."""
    print(f"retrograd: note: {msg}", file=sys.stderr, flush=True)


def _shown(names: list, limit: int = 8) -> str:
    s = ", ".join(str(n) for n in names[:limit])
    return s + (f" ... ({len(names)} in all)" if len(names) > limit else "")


def column_arg(value: Any) -> int | str:
    """A column as given on the command line: an integer is an index, else a name."""
    s = str(value).strip()
    return int(s) if re.fullmatch(r"[+-]?\d+", s) else s


def split_columns(value: Any) -> list:
    """``--drop a,b`` (or a TOML list) as a list of names and indices."""
    if value is None:
        return []
    items = value if isinstance(value, (list, tuple)) else str(value).split(",")
    return [column_arg(v) for v in items if str(v).strip()]


def _target_values(table: Any, t: int, rows: list) -> tuple:
    """(y, label_names): numbers (int64 when all integral) or text labels as indices."""
    import numpy as np

    from ..data.table import exact_integers, parse_number

    raw = [table.rows[i][t] for i in rows]
    values = [parse_number(c, table.decimal_comma) for c in raw]
    if all(v is not None for v in values):
        y = np.array(values, dtype=np.float64)
        if exact_integers(y):
            y = y.astype(np.int64)
        return y, None
    names = sorted(set(raw))
    lookup = {c: i for i, c in enumerate(names)}
    return np.array([lookup[c] for c in raw], dtype=np.int64), names


def _refuse_text_columns(table: Any, cols: list, drop_flag: bool) -> None:
    text = [j for j in cols if not table.is_numeric(j)]
    if not text:
        return
    from ..data.table import is_missing, parse_number

    examples = []
    for j in text[:4]:
        cell = next(
            c
            for c in table.column(j)
            if parse_number(c, table.decimal_comma) is None and not is_missing(c)
        )
        examples.append(f"{table.label(j)} ({cell!r})")
    names = ",".join(table.names[j] if table.names else str(j) for j in text)
    fix = (
        f"leave them out with --drop {names}, or encode them with --one-hot {names}"
        if drop_flag
        else "leave them out of the file"
    )
    fix += " (or make one the target with --target)"
    if any(_DECIMAL_COMMA.match(e.rsplit("(", 1)[-1].strip("')")) for e in examples):
        fix = (
            "these look like decimal commas, which a comma-separated file cannot hold as "
            "numbers: save it with decimal points or with ';' between columns"
        )
    raise ValueError(
        f"{table.path}: column(s) {', '.join(examples)}{' ...' if len(text) > 4 else ''} "
        f"hold text, but features must be numbers; {fix}"
    )


def _features(table: Any, feats: list, drop_flag: bool) -> Any:
    """The feature columns as float64, missing cells NaN; text columns refused by name."""
    try:
        return table.numbers(feats, missing="nan")
    except ValueError:
        _refuse_text_columns(table, feats, drop_flag)
        raise


def _missing_rows(X: Any) -> Any:
    import numpy as np

    return np.isnan(X).any(axis=1)


def _id_like(table: Any, j: int, X_col: Any) -> bool:
    """An id or row-number column: named like one, or the integers 0..N-1 / 1..N in order."""
    import numpy as np

    if table.names and _ID_NAME.match(table.names[j] or "unnamed: 0"):
        return True
    v = X_col
    if len(v) < 10 or np.isnan(v).any() or not (v == np.round(v)).all():
        return False
    d = np.diff(v)
    return bool((d == 1).all() and v[0] in (0, 1))


def read_training_csv(
    path: str,
    target: Any = None,
    delimiter: str | None = None,
    drop: Any = (),
    missing: str = "error",
    one_hot: Any = (),
) -> Data:
    """The training data of a CSV: target (name or index, default the last column), the
    other columns as features except ``drop``; missing cells handled by ``missing``
    ("error" refuses, "drop" leaves out the rows, "mean" keeps NaN for the caller to fill
    in with the training means; rows without a target are left out unless "error").
    ``one_hot`` columns (or "auto": every text feature column) become one 0/1 feature per
    category seen in training (a missing cell: all 0)."""
    import numpy as np

    from ..data.table import is_missing, read_csv_table

    if missing not in MISSING_POLICIES:
        choices = ", ".join(MISSING_POLICIES)
        raise UsageError(f"--missing: expected one of {choices}, got {missing!r}")
    table = read_csv_table(path, delimiter=delimiter, what="--data")
    try:
        t = table.index(column_arg(-1 if target is None else target), "--target")
        dropped = sorted({table.index(c, "--drop") for c in split_columns(drop)})
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    if t in dropped:
        raise UsageError(f"--drop: column {table.label(t)} is the target (--target)")
    feats = [j for j in range(table.width) if j != t and j not in dropped]
    if not feats:
        raise UsageError(f"{path}: no feature columns left after --target and --drop")
    cat_cols = _one_hot_columns(table, one_hot, feats, t)
    all_feats = feats
    feats = [j for j in feats if j not in cat_cols]
    X = _features(table, feats, drop_flag=True) if feats else np.empty((len(table.rows), 0))
    notes: list = []
    empty = [k for k in range(len(feats)) if np.isnan(X[:, k]).all()]
    if empty:
        # A column without a single value carries nothing; leave it out (evaluate and
        # predict ignore it as a dropped column).
        notes.append(
            "left out column(s) without any value: "
            + ", ".join(table.label(feats[k]) for k in empty)
        )
        dropped = sorted(dropped + [feats[k] for k in empty])
        feats = [j for k, j in enumerate(feats) if k not in empty]
        X = np.delete(X, empty, axis=1)
        if not feats and not cat_cols:
            raise UsageError(f"{path}: no feature columns left after --target and --drop")
    keep = np.ones(len(table.rows), dtype=bool)
    no_target = np.array([is_missing(r[t]) for r in table.rows], dtype=bool)
    holes = _missing_rows(X)
    if (no_target.any() or holes.any()) and missing == "error":
        parts = []
        if holes.any():
            cols = [table.label(feats[k]) for k in np.flatnonzero(np.isnan(X).any(axis=0))]
            parts.append(
                f"{int(np.isnan(X).sum())} missing feature value(s) in {int(holes.sum())} rows "
                f"(columns {_shown(cols)})"
            )
        if no_target.any():
            parts.append(f"{int(no_target.sum())} rows without a target")
        raise ValueError(
            f"{path}: {' and '.join(parts)}; choose what to do with --missing drop (leave "
            "those rows out) or --missing mean (fill in the training means; rows without a "
            "target are left out)"
        )
    if no_target.any():
        keep &= ~no_target
        notes.append(f"left out {int(no_target.sum())} rows without a target")
    if missing == "drop" and (holes & keep).any():
        notes.append(f"left out {int((holes & keep).sum())} rows with missing values")
        keep &= ~holes
    elif missing == "mean" and holes.any():
        notes.append(
            f"{int(np.isnan(X[keep]).sum())} missing values will be filled in with the "
            "training means"
        )
    rows = np.flatnonzero(keep).tolist()
    if len(rows) < 2:
        raise ValueError(f"{path}: fewer than 2 rows left to train on")
    X = X[rows]
    y, label_names = _target_values(table, t, rows)
    names = table.names
    for k, j in enumerate(feats):
        if _id_like(table, j, X[:, k]):
            notes.append(
                f"column {table.label(j)} looks like a row id; if it is one, leave it out "
                f"with --drop {names[j] if names and names[j] else j}"
            )
    layout = {
        "columns": list(names) if names else None,
        "n_columns": table.width,
        "target_index": t,
        "dropped": [names[j] if names else j for j in dropped],
        "dropped_index": dropped,
        "delimiter": table.delimiter,
        "missing": missing,
    }
    feature_names = [names[j] for j in feats] if names else None
    if cat_cols:
        X, feature_names = _expand_one_hot(table, all_feats, feats, cat_cols, X, rows, layout)
    d = Data(
        X.astype(np.float32), y, label_names, None, path,
        names[t] if names else str(t), feature_names, notes,
    )  # fmt: skip
    d.layout = layout
    return d


def _one_hot_columns(table: Any, one_hot: Any, feats: list, t: int) -> list:
    """The file columns to one-hot encode (``--one-hot``), checked."""
    items = split_columns(one_hot)
    if not items:
        return []
    if items == ["auto"] and (table.names is None or "auto" not in table.names):
        return [j for j in feats if not table.is_numeric(j)]
    try:
        cols = sorted({table.index(c, "--one-hot") for c in items})
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    for j in cols:
        if j not in feats:
            what = "the target" if j == t else "dropped (--drop)"
            raise UsageError(f"--one-hot: column {table.label(j)} is {what}")
    return cols


def _expand_one_hot(
    table: Any, all_feats: list, num_feats: list, cat_cols: list, X_num: Any, rows: list,
    layout: dict,
) -> tuple:  # fmt: skip
    """The features in file order, each one-hot column as one 0/1 column per category
    (sorted) seen in the training rows; records the encoding in ``layout``."""

    from ..data.table import is_missing

    names = table.names
    sources: list = []
    for j in all_feats:
        if j in cat_cols:
            cats = sorted({table.rows[i][j] for i in rows if not is_missing(table.rows[i][j])})
            if len(cats) > MAX_CATEGORIES:
                raise UsageError(
                    f"--one-hot: column {table.label(j)} has {len(cats)} distinct values "
                    f"(more than {MAX_CATEGORIES}): an id or free text? leave it out with "
                    "--drop"
                )
            sources += [(j, c) for c in cats]
        elif j in num_feats:
            sources.append((j, None))
    label = (lambda j: names[j]) if names else (lambda j: j)  # noqa: E731
    layout["sources"] = [[label(j), c] for j, c in sources]
    layout["source_index"] = [j for j, _ in sources]
    sub = _SubTable(table, rows)
    X = assemble(sub, [j for j, _ in sources], [c for _, c in sources], X_num=(num_feats, X_num))
    feature_names = (
        [f"{names[j]}={c}" if c is not None else names[j] for j, c in sources] if (names) else None
    )
    return X, feature_names


class _SubTable:
    """Some rows of a CSVTable (what :func:`assemble` reads)."""

    def __init__(self, table: Any, rows: list) -> None:
        self.rows = [table.rows[i] for i in rows]


def assemble(table: Any, cols: list, cats: list, X_num: Any = None, drop_flag=False) -> Any:
    """Features from file columns ``cols``: a number, or (``cats[k]`` not None) 1.0 where
    the cell equals that category. ``X_num`` = (columns, values) already parsed."""
    import numpy as np

    n = len(table.rows)
    X = np.zeros((n, len(cols)), dtype=np.float64)
    num = [k for k, c in enumerate(cats) if c is None]
    if num:
        if X_num is not None:
            done_cols, values = X_num
            for k in num:
                X[:, k] = values[:, done_cols.index(cols[k])]
        else:
            uniq = list(dict.fromkeys(cols[k] for k in num))
            values = _features(table, uniq, drop_flag)
            for k in num:
                X[:, k] = values[:, uniq.index(cols[k])]
    for k, c in enumerate(cats):
        if c is not None:
            j = cols[k]
            X[:, k] = [1.0 if r[j] == c else 0.0 for r in table.rows]
    return X


def _positional(table: Any, meta: dict, require_target: bool, why: str) -> tuple:
    """(feature columns, target column or None, note) for a file matched by position."""
    F = int(meta["n_features"])
    W = meta.get("n_columns")
    t_idx = meta.get("target_index")
    dropped = list(meta.get("dropped_index") or [])
    trained = meta.get("feature_names")
    order = f" ({_shown(trained)})" if trained else ""
    src = meta.get("source_index")
    if src is not None:
        # One-hot columns: several features come from one file column.
        if W is not None and table.width == int(W):
            msg = f"{why}: columns taken by position, as in the training file"
            return list(src), t_idx, msg
        uniq = list(dict.fromkeys(src))
        if table.width == len(uniq) and not require_target:
            msg = f"{why}: the {len(uniq)} columns taken as the feature columns in order"
            return [uniq.index(j) for j in src], None, msg
        F = len(uniq)
    elif W is not None and t_idx is not None and table.width == int(W):
        feats = [j for j in range(table.width) if j != t_idx and j not in dropped]
        return feats, t_idx, f"{why}: columns taken by position, as in the training file{order}"
    if table.width == F:
        if require_target:
            raise ValueError(
                f"{table.path}: {table.width} columns, the model's {F} features only; "
                f"evaluate needs the target column too (the training file had {W} columns)"
            )
        return list(range(F)), None, f"{why}: the {F} columns taken as the features in order{order}"
    if W is None and t_idx is None and table.width == F + 1:
        # A model without a recorded layout (older files): the target last, as by default.
        return list(range(F)), F, f"{why}: the first {F} columns taken as the features"
    expected = f"{F} (features only)" + (f" or {W} (as the training file)" if W else "")
    raise ValueError(
        f"{table.path}: {why} and {table.width} columns, so they cannot be matched to the "
        f"model's features by name; expected {expected} columns"
    )


def read_model_csv(
    path: str,
    meta: dict,
    target: Any = None,
    delimiter: str | None = None,
    require_target: bool = True,
) -> Data:
    """Rows of a CSV arranged as the model's training features (``evaluate``/``predict``).

    Columns are matched by name when both the file and the model have names; the
    target column (``target``, default the trained one) is read when ``require_target``
    and ignored otherwise. Notes on standard error say what was ignored or assumed.
    """
    import numpy as np

    from ..data.table import read_csv_table

    table = read_csv_table(path, delimiter=delimiter, what="--data")
    trained = meta.get("feature_names")
    tname = meta.get("target")
    sources = meta.get("sources")
    cats = [c for _, c in sources] if sources else None
    t: int | None = None
    if target is not None:
        try:
            t = table.index(column_arg(target), "--target")
        except ValueError as exc:
            raise UsageError(str(exc)) from None
    if meta.get("n_features") is None:
        # Not written by `retrograd train`: no layout to match; the target last by default.
        if t is None and require_target:
            t = table.width - 1
        feats = [j for j in range(table.width) if j != t]
        notes: list = []
    elif table.names is not None and trained:
        names = table.names
        if t is None and tname in names:
            t = names.index(tname)
        if t is None and require_target:
            raise ValueError(
                f"{path}: no column {tname!r} (the target the model was trained on); name "
                "the target column with --target"
            )
        wanted = [s for s, _ in sources] if sources else trained
        lacking = list(dict.fromkeys(n for n in wanted if n not in names or names.index(n) == t))
        if lacking:
            raise ValueError(
                f"{path}: lacks column(s) the model was trained on: {_shown(lacking, 12)} "
                f"(the file has: {_shown(names, 12)})"
            )
        feats = [names.index(n) for n in wanted]
        extra = [n for j, n in enumerate(names) if j not in feats and j != t]
        notes = []
        if extra:
            dropped = set(meta.get("dropped") or [])
            known = [n for n in extra if n in dropped]
            other = [n for n in extra if n not in dropped]
            if other:
                notes.append(f"ignoring column(s) not used in training: {_shown(other)}")
            if known:
                notes.append(f"ignoring column(s) dropped in training: {_shown(known)}")
        if list(dict.fromkeys(feats)) != sorted(set(feats)):
            notes.append("columns matched by name (their order differs from the training file)")
    else:
        why = "no header" if table.names is None else "the model records no column names"
        if table.names is None and not trained and meta.get("columns") is None:
            why = "no header (nor had the training file)"
        feats, t_pos, msg = _positional(table, meta, require_target, why)
        t = t if t is not None else t_pos
        if not require_target and t is not None and t in feats:
            t = None
        notes = [msg] if not (table.names is None and not trained) else []
    if require_target and t is None:
        raise ValueError(f"{path}: no target column to evaluate against; name it with --target")
    if cats is not None:
        X = assemble(table, feats, cats)
        notes += _unseen_categories(table, feats, cats)
    else:
        X = _features(table, feats, drop_flag=False)
    y = labels = None
    rows = list(range(len(table.rows)))
    if require_target:
        from ..data.table import is_missing

        no_target = [i for i in rows if is_missing(table.rows[i][t])]
        if no_target:
            notes.append(f"left out {len(no_target)} rows without a target")
            rows = [i for i in rows if not is_missing(table.rows[i][t])]
            X = X[rows]
        y, labels = _target_values(table, t, rows)
    holes = _missing_rows(X)
    if holes.any():
        if meta.get("missing") == "mean":
            notes.append(
                f"{int(np.isnan(X).sum())} missing values filled in with the training means"
            )
        elif require_target and meta.get("missing") == "drop":
            notes.append(f"left out {int(holes.sum())} rows with missing values")
            X, y = X[~holes], y[~holes]
        else:
            raise ValueError(
                f"{path}: {int(holes.sum())} rows have missing feature values, and the model "
                "was trained without filling them in (retrain with --missing mean to have "
                "them filled in with the training means)"
            )
    tn = (table.names[t] if table.names else str(t)) if t is not None else None
    d = Data(X.astype(np.float32), y, labels, None, path, tn, trained, notes)
    return d


def _unseen_categories(table: Any, cols: list, cats: list) -> list:
    """Notes on one-hot columns holding categories the training rows did not have."""
    from ..data.table import is_missing

    seen: dict = {}
    for j, c in zip(cols, cats):
        if c is not None:
            seen.setdefault(j, set()).add(c)
    notes = []
    for j, known in seen.items():
        new = [r[j] for r in table.rows if not is_missing(r[j]) and r[j] not in known]
        if new:
            notes.append(
                f"{len(new)} rows of column {table.label(j)} hold categories not seen in "
                f"training (e.g. {new[0]!r}): all their one-hot features are 0"
            )
    return notes
