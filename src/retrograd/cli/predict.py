"""``retrograd predict``: a saved model's predictions for new rows, as CSV."""

from __future__ import annotations

import argparse
import csv
import io
import os
import sys
from typing import Any

from ._common import Formatter, add_debug, add_model_data_args

EPILOG = """\
examples:
  retrograd predict digits.safetensors --data digits:test --out preds.csv
  retrograd predict iris.safetensors --data new_flowers.csv          # CSV to stdout
  retrograd predict houses.safetensors --data houses_new.csv --out prices.csv

Output columns: classifiers write `prediction` (the class name) and `prob_<class>` for
every class (softmax of the outputs); regressors write `prediction` (or `prediction_<k>`
for several outputs) in the data's units. CSV columns are matched to the training
columns by name (any order; extra columns, the target among them, are ignored with a note
on standard error; a missing one is an error). A file without a header is read by
position when it has the width of the training file or of its feature columns.
"""


def register(sub: Any) -> None:
    p = sub.add_parser(
        "predict",
        help="predict classes (with probabilities) or values for new data",
        description="Run a model saved by `retrograd train` on new rows and write a CSV.",
        epilog=EPILOG,
        formatter_class=Formatter,
    )
    add_model_data_args(p, target_help="a CSV column to ignore (the targets)", delimiter=True)
    p.add_argument("--out", metavar="CSV", help="write here (default: standard output)")
    p.add_argument(
        "--digits",
        type=int,
        default=6,
        metavar="N",
        help="significant digits of probabilities and values (default 6)",
    )
    add_debug(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import numpy as np

    from . import _common as C
    from ._table import note

    if args.out:
        # The same class of mistake as `train --out` into a missing directory: usage (2),
        # found before any work.
        parent = os.path.dirname(args.out)
        if parent and not os.path.isdir(parent):
            raise C.UsageError(f"--out {args.out!r}: the directory {parent!r} does not exist")
    model, meta = C.load_model(args.model)
    task = meta.get("task", "classify")
    d = C.load_data(
        args.data,
        args.target,
        default_part="test",
        require_target=False,
        meta=meta,
        delimiter=args.delimiter,
    )
    for msg in d.notes:
        note(msg)
    X = C.prepare_inputs(d, meta)
    out = C.run_model(model, X, "predict")
    g = f"{{:.{max(1, args.digits)}g}}"
    if task == "classify":
        classes = list(meta.get("classes") or [str(i) for i in range(out.shape[1])])
        if meta.get("loss", "cross_entropy") == "cross_entropy":
            probs = C.softmax(out)
        else:
            probs = np.clip(out.astype(np.float64), 0.0, None)
            probs = probs / np.maximum(probs.sum(axis=1, keepdims=True), 1e-12)
        header = ["prediction"] + [f"prob_{c}" for c in classes]
        pred = out.argmax(axis=1)
        rows = ([classes[k]] + [g.format(v) for v in p] for k, p in zip(pred, probs))
    else:
        mean = np.asarray(meta.get("target_mean", np.zeros(out.shape[1])), np.float64)
        std = np.asarray(meta.get("target_std", np.ones(out.shape[1])), np.float64)
        vals = out.astype(np.float64) * std + mean
        k = vals.shape[1]
        header = ["prediction"] if k == 1 else [f"prediction_{i}" for i in range(k)]
        rows = ([g.format(v) for v in r] for r in vals)
    fh = io.StringIO() if args.out else sys.stdout
    w = csv.writer(fh, lineterminator="\n")
    w.writerow(header)
    w.writerows(rows)
    if args.out:
        from ..io import atomic_write_text

        atomic_write_text(args.out, fh.getvalue())
    if args.out:
        print(f"wrote {d.n} predictions to {args.out}")
    return 0
