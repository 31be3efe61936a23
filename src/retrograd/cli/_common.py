"""Pieces the subcommands share: errors, help formatting, data specs, preprocessing.

Only the standard library is imported at the top: ``retrograd --help`` imports every
subcommand module, and must stay cheap. NumPy and the rest of retrograd load inside the
functions that need them.
"""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import dataclass, field
from typing import Any

# The payload key in a model file's ``extra`` where the CLI keeps its preprocessing.
EXTRA_KEY = "cli"
EXTRA_FORMAT = 1
# Integer-like targets with at most this many distinct values are taken as class labels.
MAX_INFERRED_CLASSES = 20

DATA_HELP = (
    "digits (the shipped 8x8 digits; digits:train / digits:test = a fixed stratified "
    "75/25 split, seed 0), a .csv file (or any delimited text file; see --target), an .npz "
    "file (arrays X and y) or "
    "mnist:DIR (the four IDX files in DIR; mnist:DIR:train / mnist:DIR:test pick a part)"
)

DELIMITER_HELP = (
    "CSV column delimiter, e.g. ',' ';' '|' or tab (default: sniffed from the file; with a "
    "delimiter other than ',', decimal commas such as 1,5 read as numbers)"
)


class UsageError(Exception):
    """A mistake in the command line or config: exit status 2."""


class Formatter(argparse.RawDescriptionHelpFormatter):
    """Keeps the epilog's examples as written and shows defaults where they help."""

    def __init__(self, prog: str) -> None:
        super().__init__(prog, max_help_position=32, width=100)

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        # One-paragraph descriptions are wrapped; multi-line text (examples) kept as written.
        if "\n" not in text.strip():
            return argparse.HelpFormatter._fill_text(self, text, min(width, 92), indent)
        return super()._fill_text(text, width, indent)


MODEL_HELP = "a model file written by retrograd train"


def add_model_data_args(
    p: argparse.ArgumentParser,
    *,
    model: str | None = MODEL_HELP,
    data: bool = True,
    data_default: str | None = None,
    target_help: str = "CSV target column (default: as trained)",
    delimiter: bool = False,
) -> None:
    """The arguments the subcommands share: the MODEL file (``model``: its help, None for
    none), ``--data`` (required unless ``data_default``), ``--target`` and, for commands
    that read CSV files, ``--delimiter``."""
    if model is not None:
        p.add_argument("model", metavar="MODEL", help=model)
    if not data:
        return
    if data_default is None:
        p.add_argument("--data", required=True, metavar="DATA", help=DATA_HELP)
    else:
        p.add_argument(
            "--data", default=data_default, metavar="DATA",
            help=f"{DATA_HELP} (default {data_default})",
        )  # fmt: skip
    p.add_argument("--target", metavar="COLUMN", help=target_help)
    if delimiter:
        p.add_argument("--delimiter", metavar="CHAR", help=DELIMITER_HELP)


def add_debug(p: argparse.ArgumentParser) -> None:
    # SUPPRESS: the subcommand's flag must not reset `retrograd --debug CMD` to False.
    p.add_argument(
        "--debug",
        action="store_true",
        default=argparse.SUPPRESS,
        help="show the full traceback on errors",
    )


def info(msg: str = "", quiet: bool = False) -> None:
    if not quiet:
        print(msg, flush=True)


def warn(msg: str) -> None:
    print(f"retrograd: warning: {msg}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- data
@dataclass
class Data:
    """Rows of features (N, F) float32, optional targets, and what is known about them."""

    X: Any
    y: Any = None
    # Target labels as text when the file had text labels (``y`` then indexes them).
    label_names: list | None = None
    image_shape: tuple | None = None
    name: str = ""
    target: str | None = None
    feature_names: list | None = None
    notes: list = field(default_factory=list)
    # A CSV's layout as trained on (columns, target index, dropped columns, ...).
    layout: dict | None = None

    @property
    def n(self) -> int:
        return int(self.X.shape[0])

    @property
    def n_features(self) -> int:
        return int(self.X.shape[1])


def _split_digits(X: Any, y: Any, part: str) -> tuple:
    from ..data import train_test_split

    X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_size=0.25, seed=0, stratify=y)
    return (X_tr, y_tr) if part == "train" else (X_te, y_te)


_MNIST_NAMES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}


def _find_idx(directory: str, stem: str) -> str:
    for name in (
        stem,
        stem + ".gz",
        stem.replace("-idx", ".idx"),
        stem.replace("-idx", ".idx") + ".gz",
    ):
        p = os.path.join(directory, name)
        if os.path.isfile(p):
            return p
    raise FileNotFoundError(
        f"mnist:{directory}: no file {stem} (or {stem}.gz) there; expected the four MNIST IDX "
        "files train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte, "
        "t10k-labels-idx1-ubyte (optionally .gz)"
    )


def _load_mnist_dir(directory: str, part: str) -> tuple:
    from ..data import load_idx

    if not os.path.isdir(directory):
        raise FileNotFoundError(f"mnist:{directory}: no such directory")
    img_name, lab_name = _MNIST_NAMES[part]
    X = load_idx(_find_idx(directory, img_name))
    y = load_idx(_find_idx(directory, lab_name))
    if X.ndim != 3 or y.ndim != 1 or X.shape[0] != y.shape[0]:
        raise ValueError(
            f"mnist:{directory}: {part} images have shape {X.shape} and labels {y.shape}; "
            "expected (N, H, W) images and (N,) labels"
        )
    if X.shape[0] == 0 or X[0].size == 0:
        raise ValueError(
            f"mnist:{directory}: {part} images have shape {X.shape}; expected at least one "
            "image of at least one pixel"
        )
    return X, y.astype("int64")


def load_data(spec: str, *args: Any, **kwargs: Any) -> Data:
    """Load the data a ``--data`` value names (see :func:`read_data`), refusing infinite
    feature values (and NaN outside a CSV, whose empty cells have their own policy) with
    the file, row and column: a model's outputs for them would be NaN."""
    import numpy as np

    d = read_data(spec, *args, **kwargs)
    X = np.asarray(d.X)
    table = not (spec.split(":")[0] in ("digits", "mnist") or spec.lower().endswith(".npz"))
    bad = np.isinf(X) if table else ~np.isfinite(X)
    if bad.any():
        i, j = (int(k) for k in np.argwhere(bad)[0])
        col = repr(d.feature_names[j]) if d.feature_names else str(j)
        raise ValueError(
            f"{d.name}: {int(bad.sum())} feature value(s) are {X[i, j]} (the first in row {i}, "
            f"column {col}); expected finite numbers"
        )
    return d


def read_data(
    spec: str,
    target: str | None = None,
    default_part: str = "all",
    require_target: bool = True,
    target_hint: str | None = None,
    n_features_hint: int | None = None,
    *,
    meta: dict | None = None,
    delimiter: str | None = None,
    drop: Any = (),
    missing: str = "error",
    one_hot: Any = (),
) -> Data:
    """The data a ``--data`` value names (see :data:`DATA_HELP`), as read.

    ``default_part``: which part of MNIST to use when the spec does not say ("train" for
    training, "test" for evaluation); plain ``digits`` always means all 1797 rows.
    ``target``: the CSV target column (name or index; default: the last column).
    ``require_target=False`` (predict) also accepts files without targets.
    A CSV given with the model's ``meta`` (evaluate, predict) is matched to the training
    columns by name (see :mod:`retrograd.cli._table`); without it (train) its columns are
    the target, the ``drop``ped ones and the features; ``delimiter`` None sniffs it,
    ``missing`` is the policy for empty cells (error, drop, mean).
    ``target_hint`` and ``n_features_hint`` are accepted for older callers and unused.
    """
    import numpy as np

    from .. import data as rgdata
    from ..data.table import exact_integers

    if not spec:
        raise UsageError("--data is required (" + DATA_HELP + ")")
    head, _, rest = spec.partition(":")
    if head == "digits":
        part = rest or "all"
        if part not in ("all", "train", "test"):
            raise UsageError(f"--data {spec!r}: expected digits, digits:train or digits:test")
        X, y = rgdata.load_digits()
        if part != "all":
            X, y = _split_digits(X, y, part)
        return Data(X.astype(np.float32), y, None, (8, 8), spec)
    if head == "mnist":
        directory, part = rest, "train" if default_part == "all" else default_part
        for p in ("train", "test"):
            if rest.endswith(":" + p):
                directory, part = rest[: -len(p) - 1], p
        if not directory:
            raise UsageError("--data mnist:DIR needs the directory holding the IDX files")
        X, y = _load_mnist_dir(directory, part)
        shape = tuple(int(s) for s in X.shape[1:])
        X = X.reshape(X.shape[0], -1).astype(np.float32)
        return Data(X, y, None, shape, spec)
    lower = spec.lower()
    if lower.endswith(".npy"):
        raise UsageError(
            f"--data {spec!r}: a .npy file holds one array; save features and targets "
            "together as an .npz file: numpy.savez(path, X=X, y=y)"
        )
    if lower.endswith(".npz"):
        arrays = rgdata.load_npz(spec)
        xkey = next((k for k in ("X", "x", "features", "data") if k in arrays), None)
        if xkey is None:
            raise ValueError(
                f"--data {spec!r}: no array named X in the file (it holds {list(arrays)})"
            )
        X = np.asarray(arrays[xkey])
        ykey = next((k for k in ("y", "Y", "target", "targets", "labels") if k in arrays), None)
        y = None if ykey is None else np.asarray(arrays[ykey])
        if y is None and require_target:
            raise ValueError(f"--data {spec!r}: no target array named y (it holds {list(arrays)})")
        _check_npz_arrays(spec, xkey, X, ykey, y)
        shape = tuple(int(s) for s in X.shape[1:]) if X.ndim == 3 else None
        if X.ndim == 1:
            X = X[:, None]
        X = X.reshape(X.shape[0], -1)
        label_names = None
        if y is not None and y.dtype.kind == "U":
            # Text labels (e.g. "setosa"): class indices in sorted order, as from a CSV.
            label_names, y = np.unique(y, return_inverse=True)
            label_names, y = [str(c) for c in label_names], y.astype(np.int64)
        if y is not None and y.dtype.kind == "f" and y.ndim == 1 and exact_integers(y):
            y = y.astype(np.int64)
        return Data(X.astype(np.float32), y, label_names, shape, spec)
    # Any other existing file is read as delimited text (UCI's .data files, .dat, ...).
    if lower.endswith((".csv", ".tsv", ".txt")) or (
        os.path.isfile(spec) and not lower.endswith((".gz", ".zip", ".safetensors"))
    ):
        from . import _table

        if meta is not None:
            return _table.read_model_csv(spec, meta, target, delimiter, require_target)
        return _table.read_training_csv(spec, target, delimiter, drop, missing, one_hot)
    if os.path.isdir(spec):
        raise UsageError(f"--data {spec!r} is a directory; for MNIST IDX files use mnist:{spec}")
    raise UsageError(f"--data {spec!r}: unknown data; expected {DATA_HELP}")


def _check_npz_arrays(spec: str, xkey: str, X: Any, ykey: str | None, y: Any) -> None:
    """Rows of numbers, as many targets as rows: a ValueError naming the file otherwise."""
    where = f"--data {spec!r}"
    if X.ndim == 0:
        raise ValueError(f"{where}: {xkey} is a single number; expected an array of rows")
    if X.dtype.kind not in "fiub":
        raise ValueError(f"{where}: {xkey} has dtype {X.dtype}, expected numbers")
    if X.shape[0] == 0:
        raise ValueError(f"{where}: {xkey} has 0 rows (shape {X.shape}); expected at least one")
    if X.ndim > 1 and X[0].size == 0:
        raise ValueError(
            f"{where}: {xkey} has shape {X.shape}, 0 features per row; expected at least one"
        )
    if y is None:
        return
    if y.ndim == 0:
        raise ValueError(f"{where}: {ykey} is a single number; expected one target per row")
    if y.dtype.kind not in "fiubU":
        raise ValueError(f"{where}: {ykey} has dtype {y.dtype}, expected numbers or labels")
    if y.dtype.kind == "U" and y.ndim != 1:
        raise ValueError(
            f"{where}: {ykey} holds text of shape {y.shape}; expected one label per row"
        )
    if y.shape[0] != X.shape[0]:
        raise ValueError(
            f"{where}: {xkey} has {X.shape[0]} rows but {ykey} has {y.shape[0]}; expected "
            "one target per row"
        )


# ----------------------------------------------------------------- targets, tasks
def raw_labels(d: Data) -> list:
    """The targets of classification data as strings (what the class names are made of)."""
    import numpy as np

    y = np.asarray(d.y)
    if d.label_names is not None:
        return [d.label_names[int(i)] for i in y.reshape(-1)]
    if y.dtype.kind == "f":
        return [repr(float(v)) if v != round(v) else str(int(v)) for v in y.reshape(-1)]
    return [str(v) for v in y.reshape(-1).tolist()]


def infer_task(d: Data) -> str:
    """classify for text labels or integer-like 1-D targets with few distinct values."""
    import numpy as np

    if d.label_names is not None:
        return "classify"
    y = np.asarray(d.y)
    if y.ndim != 1:
        return "regress"
    integral = y.dtype.kind in "iub" or bool((y == np.round(y)).all())
    return "classify" if integral and len(np.unique(y)) <= MAX_INFERRED_CLASSES else "regress"


def sort_class_names(names: set) -> list:
    """Numeric names in numeric order, then the rest alphabetically."""

    def key(s: str) -> tuple:
        try:
            return (0, float(s), s)
        except ValueError:
            return (1, 0.0, s)

    return sorted(names, key=key)


def encode_classes(d: Data, classes: list) -> Any:
    """Class indices of ``d``'s labels in the model's ``classes`` list."""
    import numpy as np

    lookup = {c: i for i, c in enumerate(classes)}
    raw = raw_labels(d)
    unknown = sorted({r for r in raw if r not in lookup})
    if unknown:
        shown = ", ".join(unknown[:5]) + (" ..." if len(unknown) > 5 else "")
        raise ValueError(f"{d.name}: labels {shown} are not among the model's classes {classes}")
    return np.array([lookup[r] for r in raw], dtype=np.int64)


# ----------------------------------------------------------------- preprocessing
def standardizer(X: Any, mode: str) -> tuple:
    """(mean, std) arrays of length F from training rows: per ``feature``, one ``global``
    value for every feature (images), or ``none`` (0 and 1)."""
    import numpy as np

    X64 = np.asarray(X, dtype=np.float64)
    F = X64.shape[1]
    if mode == "none":
        return np.zeros(F, np.float32), np.ones(F, np.float32)
    if mode == "global":
        mu = np.full(F, X64.mean())
        sd = np.full(F, X64.std())
    elif mode == "feature":
        mu, sd = X64.mean(axis=0), X64.std(axis=0)
    else:
        raise UsageError(f"--standardize {mode!r}: expected auto, feature, global or none")
    # Constant features carry no information: leave them at 0 instead of dividing by 0.
    sd = np.where(sd > 1e-12 * max(1.0, float(np.abs(mu).max(initial=0.0))), sd, 1.0)
    return mu.astype(np.float32), sd.astype(np.float32)


def apply_standardize(X: Any, mean: Any, std: Any) -> Any:
    import numpy as np

    return ((np.asarray(X, np.float32) - mean) / std).astype(np.float32)


# ----------------------------------------------------------------- model files
def load_model(path: str, check_finite: bool = True) -> tuple:
    """(model, cli_extra) from a model file.

    With ``check_finite`` a file whose weights hold NaN or Inf is refused (a ValueError
    naming the tensors): its outputs would be NaN, reported as if they were results.
    """
    from ..io import load

    if not os.path.isfile(path):
        raise FileNotFoundError(f"no such model file: {path!r}")
    model, extra = load(path, with_extra=True)
    meta = cli_metadata(path, extra, model)
    if check_finite:
        bad = nonfinite_tensors(model)
        if bad:
            raise ValueError(
                f"{path}: the weights hold NaN or Inf values ({_shown_counts(bad)}); the "
                "model cannot give meaningful outputs (training probably diverged: retrain "
                "with a lower --lr or --clip-grad-norm)"
            )
    return model, meta


def cli_metadata(path: str, extra: Any, model: Any) -> dict:
    """The metadata ``retrograd train`` stored in a model file's ``extra``, checked
    against the model (a ModelFileError naming the field if damaged); {} for none."""
    if not isinstance(extra, dict) or extra.get(EXTRA_KEY) is None:
        return {}
    from ._meta import validate_meta

    return validate_meta(path, extra[EXTRA_KEY], model)


def nonfinite_tensors(model: Any) -> dict:
    """{state_dict name: count of NaN/Inf elements} for the tensors that have any."""
    import numpy as np

    out = {}
    for name, arr in model.state_dict().items():
        a = np.asarray(arr)
        if a.dtype.kind in "fc":
            n = int(a.size - np.isfinite(a).sum())
            if n:
                out[name] = n
    return out


def _shown_counts(bad: dict) -> str:
    items = [f"{k}: {v}" for k, v in list(bad.items())[:5]]
    return ", ".join(items) + (f", ... ({len(bad)} tensors)" if len(bad) > 5 else "")


def prepare_inputs(d: Data, meta: dict) -> Any:
    """Standardize ``d.X`` with the model's stored statistics, checking the width."""
    import numpy as np

    F = meta.get("n_features")
    if F is not None and d.n_features != int(F):
        raise ValueError(
            f"{d.name}: rows have {d.n_features} features but the model was trained on {F}"
        )
    X = np.asarray(d.X, np.float32)
    fill = meta.get("fill_values")
    if fill is not None:
        # --missing mean: empty cells take the training means (stored in the file).
        X = np.where(np.isnan(X), np.asarray(fill, np.float32), X).astype(np.float32)
    mean, std = meta.get("feature_mean"), meta.get("feature_std")
    if mean is None or std is None:
        return X
    return apply_standardize(X, np.asarray(mean), np.asarray(std))


# Rows per batch when a fixed-point model is run with progress (evaluate, predict).
ITERATIVE_BATCH = 64


def run_model(model: Any, X: Any, what: str) -> Any:
    """``rg.train.predict(model, X)``; for a model that relaxes to a fixed point (whose
    calls can take up to ``max_iter`` steps each) in batches with a progress bar on
    standard error, and Ctrl-C ends it with a message saying how far it got."""
    import sys

    from ..nn.fixedpoint import FixedPoint, RecurrentNet
    from ..train import predict

    solvers = [m for m in model.modules() if isinstance(m, (FixedPoint, RecurrentNet))]
    if not solvers:
        return predict(model, X)
    import numpy as np
    from tqdm.auto import tqdm

    n = len(X)
    # Rows stop one by one (stop="sample"), so batches give the rows' own answers; a
    # layer that stops the batch as a whole keeps predict's chunks.
    per_row = all(getattr(m, "stop", "sample") == "sample" for m in solvers)
    size = ITERATIVE_BATCH if per_row else max(n, 1)
    outs: list = []
    bar = tqdm(total=n, desc=what, unit="row", file=sys.stderr, dynamic_ncols=True,
               mininterval=0.5, leave=False)  # fmt: skip
    try:
        for start in range(0, n, size):
            outs.append(predict(model, X[start : start + size]))
            bar.update(len(outs[-1]))
    except KeyboardInterrupt:
        raise KeyboardInterrupt(
            f"{what} stopped after {sum(len(o) for o in outs)} of {n} rows; nothing was written"
        ) from None
    finally:
        bar.close()
    return outs[0] if len(outs) == 1 else np.concatenate(outs)


def one_hot(y: Any, k: int, dtype: Any = "float32") -> Any:
    """Rows of ``k`` zeros with a 1 at each label (memory of the rows, not ``k * k``)."""
    import numpy as np

    y = np.asarray(y, dtype=np.int64).reshape(-1)
    out = np.zeros((len(y), int(k)), dtype=dtype)
    out[np.arange(len(y)), y] = 1
    return out


def softmax(z: Any) -> Any:
    import numpy as np

    z = np.asarray(z, dtype=np.float64)
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def fmt_table(rows: list, header: list, align: str | None = None) -> str:
    """A plain text table; ``align`` one char per column, ``l`` or ``r``."""
    cells = [[str(c) for c in header]] + [[str(c) for c in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    align = align or "l" + "r" * (len(header) - 1)
    out = []
    for k, r in enumerate(cells):
        parts = [c.ljust(w) if a == "l" else c.rjust(w) for c, w, a in zip(r, widths, align)]
        out.append("  ".join(parts).rstrip())
        if k == 0:
            out.append("  ".join("-" * w for w in widths))
    return "\n".join(out)
