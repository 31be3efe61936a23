"""Checks of the metadata ``retrograd train`` stores in a model file (``extra["cli"]``).

The commands that read a model file back (summary, evaluate, predict, gradcheck, export)
index lists with it, format it as numbers and apply it to data; a file is untrusted
input, so every field they read is checked first: its type, its range, and its length
against the weights and the other fields. A bad field is a :class:`ModelFileError`
naming the file, the field, what it holds and what was expected; unknown fields are
ignored (a newer writer may add some).
"""

from __future__ import annotations

from typing import Any

from ..errors import ModelFileError
from ._common import EXTRA_FORMAT

TASKS = ("classify", "regress")
STANDARDIZE = ("feature", "global", "none")
MAX_COUNT = 2**31  # features, columns, rows: anything larger is not a real file's
_DISPLAY = ("data", "model_spec", "activation", "optimizer", "stop_reason", "target", "delimiter")


def _is_int(v: Any) -> bool:
    import numpy as np

    return isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_))


def _is_real(v: Any) -> bool:
    import numpy as np

    return _is_int(v) or isinstance(v, (float, np.floating))


def _shown(v: Any) -> str:
    import numpy as np

    if isinstance(v, np.ndarray):
        return f"an array of shape {v.shape} and dtype {v.dtype}"
    text = repr(v)
    text = text if len(text) <= 60 else text[:57] + "..."
    return f"{text} ({type(v).__name__})"


class _Checker:
    def __init__(self, path: str, meta: dict) -> None:
        self.path, self.meta = path, meta

    def fail(self, field: str, expected: str, got: Any = None, *, shown: str | None = None):
        what = shown if shown is not None else _shown(got)
        return ModelFileError(
            f"{self.path}: the metadata of retrograd train is damaged: field {field!r} holds "
            f"{what}; expected {expected}"
        )

    def has(self, field: str) -> bool:
        return self.meta.get(field) is not None

    def integer(self, field: str, lo: int = 0, hi: int = MAX_COUNT, optional: bool = True):
        v = self.meta.get(field)
        if v is None and optional:
            return None
        if not _is_int(v) or not lo <= int(v) <= hi:
            raise self.fail(field, f"an integer from {lo} to {hi}", v)
        self.meta[field] = int(v)
        return int(v)

    def choice(self, field: str, choices: tuple, default: Any = None) -> Any:
        v = self.meta.get(field, default)
        if v is None and default is None:
            return None
        if not isinstance(v, str) or v not in choices:
            raise self.fail(field, "one of " + ", ".join(repr(c) for c in choices), v)
        return v

    def text(self, field: str) -> None:
        v = self.meta.get(field)
        if v is not None and not isinstance(v, str):
            raise self.fail(field, "a string", v)

    def real(self, field: str, finite: bool = True) -> None:
        import math

        v = self.meta.get(field)
        if v is None:
            return
        if not _is_real(v) or (finite and not math.isfinite(float(v))):
            raise self.fail(field, "a finite number" if finite else "a number", v)

    def items(self, field: str, n: int | None, ok: Any, expected: str) -> list | None:
        """A list (or tuple) of ``n`` items (any length if None), each passing ``ok``."""
        v = self.meta.get(field)
        if v is None:
            return None
        if not isinstance(v, (list, tuple)):
            raise self.fail(field, f"a list of {expected}", v)
        if n is not None and len(v) != n:
            raise self.fail(field, f"{n} {expected}", shown=f"a list of {len(v)}")
        bad = next((i for i, x in enumerate(v) if not ok(x)), None)
        if bad is not None:
            raise self.fail(f"{field}[{bad}]", f"an item of a list of {expected}", v[bad])
        return list(v)

    def vector(self, field: str, n: int | None, positive: bool = False) -> Any:
        """A 1-D array of ``n`` finite numbers (> 0 with ``positive``), as float32."""
        import numpy as np

        v = self.meta.get(field)
        if v is None:
            return None
        ok_type = isinstance(v, np.ndarray) or (
            isinstance(v, (list, tuple)) and all(_is_real(x) for x in v)
        )
        arr = np.asarray(v) if ok_type else None
        if arr is None or arr.dtype.kind not in "fiu" or arr.ndim != 1:
            raise self.fail(field, f"a 1-D array of {n if n is not None else ''} numbers", v)
        if n is not None and arr.shape[0] != n:
            raise self.fail(field, f"{n} numbers (one per {self._per(field)})", arr)
        arr = arr.astype(np.float64)
        if not np.isfinite(arr).all() or (positive and not (arr > 0).all()):
            what = "finite numbers > 0" if positive else "finite numbers"
            raise self.fail(field, what, shown="non-finite" + (" or non-positive" if positive
                                                                else "") + " values")  # fmt: skip
        out = arr.astype(np.float32)
        if positive and not (out > 0).all():  # a positive float64 that underflows float32
            raise self.fail(field, "numbers > 0 in float32", shown="values that round to 0")
        self.meta[field] = out
        return out

    @staticmethod
    def _per(field: str) -> str:
        return "output" if field.startswith("target_") else "feature"


def model_widths(model: Any) -> tuple:
    """(input width, output width) of a CLI-built model where they can be read off."""
    import math

    from ..nn import EquilibriumClassifier, InputReshape, Linear, SequenceClassifier

    n_in = n_out = None
    if isinstance(model, EquilibriumClassifier):
        n_in = model.in_features
    elif isinstance(model, SequenceClassifier):
        n_in = model.seq_len * model.input_size
    else:
        for m in model.modules():
            if isinstance(m, Linear):
                n_in = m.in_features
                break
            if isinstance(m, InputReshape):
                n_in = math.prod(m.shape)
                break
            if m._parameters:
                break
    for m in model.modules():
        if isinstance(m, Linear):
            n_out = m.out_features
    return n_in, n_out


def validate_meta(path: str, meta: Any, model: Any) -> dict:
    """``meta`` checked field by field against ``model``; returns it (arrays as float32).

    Raises :class:`ModelFileError` naming ``path`` and the first bad field.
    """
    from ._table import MISSING_POLICIES
    from .train import CLASS_LOSSES, LOSSES

    if not isinstance(meta, dict):
        raise ModelFileError(
            f"{path}: the metadata of retrograd train is damaged: it holds {_shown(meta)}; "
            "expected an object of fields"
        )
    # A null field is an absent one (readers then take their defaults, as for old files).
    meta = {k: v for k, v in meta.items() if v is not None}
    c = _Checker(path, meta)
    fmt = c.integer("format", 0, 10**6)
    if fmt is not None and fmt > EXTRA_FORMAT:
        raise c.fail("format", f"at most {EXTRA_FORMAT} (a newer retrograd wrote it: upgrade)", fmt)
    task = c.choice("task", TASKS, default="classify")
    loss = c.choice("loss", LOSSES)
    wrong = CLASS_LOSSES if task == "regress" else tuple(set(LOSSES) - {*CLASS_LOSSES, "mse"})
    if loss in wrong:
        raise c.fail("loss", f"a {task} loss for task {task!r}", loss)
    for field in _DISPLAY:
        c.text(field)
    c.choice("standardize", STANDARDIZE)
    c.choice("missing", MISSING_POLICIES)
    n_in, n_out = model_widths(model)
    F = c.integer("n_features", 1)
    if F is not None and n_in is not None and F != n_in:
        raise c.fail("n_features", f"the model's input width {n_in}", F)
    if F is None and (c.has("feature_mean") or c.has("feature_names") or c.has("sources")):
        raise c.fail("n_features", "the feature count (other fields depend on it)", None)
    _check_layout(c, F)
    for field in ("feature_mean", "fill_values"):
        c.vector(field, F)
    if c.meta.get("missing") == "mean" and not c.has("fill_values"):
        raise c.fail("fill_values", "the training means (the missing policy is 'mean')", None)
    c.vector("feature_std", F, positive=True)
    if c.has("feature_mean") != c.has("feature_std"):
        raise c.fail("feature_std" if c.has("feature_mean") else "feature_mean",
                     "both feature_mean and feature_std, or neither", None)  # fmt: skip
    if task == "classify":
        classes = c.items("classes", None, lambda x: isinstance(x, str), "class names")
        if classes is not None:
            if len(classes) < 1 or len(set(classes)) != len(classes):
                raise c.fail("classes", "distinct class names", classes)
            if n_out is not None and len(classes) != n_out:
                raise c.fail("classes", f"{n_out} class names (the model's outputs)",
                             shown=f"{len(classes)}")  # fmt: skip
    else:
        c.vector("target_mean", n_out)
        c.vector("target_std", n_out, positive=True)
        if c.has("target_mean") != c.has("target_std"):
            raise c.fail("target_std" if c.has("target_mean") else "target_mean",
                         "both target_mean and target_std, or neither", None)  # fmt: skip
    _check_training(c)
    return meta


def _check_layout(c: _Checker, F: int | None) -> None:
    """A CSV's layout: column names, target and dropped columns, one-hot sources."""
    import math

    def name(x: Any) -> bool:
        return isinstance(x, str) or _is_int(x)

    def optional_text(x: Any) -> bool:
        return x is None or isinstance(x, str)

    shape = c.items("image_shape", None, lambda x: _is_int(x) and 1 <= x <= MAX_COUNT,
                    "positive sizes")  # fmt: skip
    if shape is not None and (len(shape) not in (2, 3) or (F and math.prod(shape) != F)):
        raise c.fail("image_shape", f"2 or 3 sizes whose product is n_features ({F})", shape)
    c.items("feature_names", F, lambda x: isinstance(x, str), "feature names")
    W = c.integer("n_columns", 1)
    c.items("columns", W, optional_text, "column names")
    t = c.integer("target_index", 0, (W - 1) if W else MAX_COUNT)
    c.items("dropped", None, name, "column names or indices")
    in_file = (lambda x: _is_int(x) and 0 <= x < W) if W else (lambda x: _is_int(x) and x >= 0)
    dropped = c.items("dropped_index", None, in_file, "column indices")
    if dropped and t is not None and t in dropped:
        raise c.fail("dropped_index", f"columns other than the target ({t})", dropped)
    sources = c.items(
        "sources", F,
        lambda s: isinstance(s, (list, tuple)) and len(s) == 2 and name(s[0])
        and optional_text(s[1]),
        "[column, category or null] pairs",
    )  # fmt: skip
    src = c.items("source_index", F, in_file, "column indices")
    if (sources is None) != (src is None):
        raise c.fail("source_index" if sources is not None else "sources",
                     "both sources and source_index, or neither", None)  # fmt: skip
    if src is not None and t is not None and t in src:
        raise c.fail("source_index", f"columns other than the target ({t})", src)


def _check_training(c: _Checker) -> None:
    """What summary prints about the run: numbers it formats, counts it compares."""
    c.real("lr")
    c.integer("batch_size", 1)
    c.integer("seed", -(2**63), 2**64)
    epochs = c.integer("epochs", 0)
    c.integer("best_epoch", 0, epochs if epochs is not None else MAX_COUNT)
    v = c.meta.get("interrupted")
    if v is not None and not isinstance(v, bool):
        raise c.fail("interrupted", "true or false", v)
    hist = c.meta.get("history")
    if hist is not None:
        if not isinstance(hist, dict) or not all(isinstance(k, str) for k in hist):
            raise c.fail("history", "an object of lists of numbers", hist)
        for k, vals in hist.items():
            if not isinstance(vals, (list, tuple)) or not all(_is_real(x) for x in vals):
                raise c.fail(f"history.{k[:40]}", "a list of numbers", vals)
    test = c.meta.get("test")
    if test is not None:
        if not isinstance(test, dict):
            raise c.fail("test", "an object (the test part's report)", test)
        rows = test.get("rows")
        if rows is not None and (not _is_int(rows) or not 0 <= rows <= MAX_COUNT):
            raise c.fail("test.rows", "a row count", rows)
        for k in ("loss", "accuracy", "r2", "rmse", "mae"):
            if k in test and not _is_real(test[k]):
                raise c.fail(f"test.{k}", "a number", test[k])
