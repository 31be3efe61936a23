"""``retrograd evaluate``: loss, accuracy, per-class report and confusion matrix."""

from __future__ import annotations

import argparse
import json
from typing import Any

from ._common import Formatter, add_debug, add_model_data_args

EPILOG = """\
examples:
  retrograd evaluate digits.safetensors --data digits:test
  retrograd evaluate digits.safetensors --data digits:test --plot cm.png
  retrograd evaluate iris.safetensors --data iris_test.csv --target species
  retrograd evaluate mnist.safetensors --data mnist:~/mnist      # the 10,000 test images
  retrograd evaluate houses.safetensors --data houses_test.csv --json report.json

The model file's stored preprocessing (feature means and standard deviations, class
names) is applied to the data before the forward pass. CSV columns are matched to the
training columns by name: their order does not matter, a missing training column is an
error, extra columns are ignored (with a note on standard error). A file without a header
is read by position when its width is that of the training file.
"""


# Beyond this many classes, no per-class report nor confusion matrix (classes**2 cells).
MAX_REPORT_CLASSES = 1000


def register(sub: Any) -> None:
    p = sub.add_parser(
        "evaluate",
        help="measure a saved model on data: loss, accuracy, per-class report",
        description=(
            "Evaluate a model saved by `retrograd train` on labelled data. Classifiers get "
            "the loss, the accuracy, precision/recall/F1 per class and the confusion "
            "matrix; regressors the mean squared and absolute errors and R^2, in the "
            "data's units."
        ),
        epilog=EPILOG,
        formatter_class=Formatter,
    )
    add_model_data_args(p, delimiter=True)
    p.add_argument("--plot", metavar="PNG", help="draw the confusion matrix to PNG")
    p.add_argument("--json", metavar="PATH", help="also write the results as JSON to PATH")
    add_debug(p)
    p.set_defaults(func=run)


def classification_report(cm: Any, classes: list) -> tuple:
    """(rows, summary) of precision, recall, F1 and support per class from ``cm``."""
    import numpy as np

    cm = np.asarray(cm, dtype=np.float64)
    tp = np.diag(cm)
    pred = cm.sum(axis=0)
    true = cm.sum(axis=1)
    prec = np.divide(tp, pred, out=np.zeros_like(tp), where=pred > 0)
    rec = np.divide(tp, true, out=np.zeros_like(tp), where=true > 0)
    f1 = np.divide(2 * prec * rec, prec + rec, out=np.zeros_like(tp), where=(prec + rec) > 0)
    rows = [
        {"class": c, "precision": float(p), "recall": float(r), "f1": float(f), "support": int(s)}
        for c, p, r, f, s in zip(classes, prec, rec, f1, true)
    ]
    w = true / max(true.sum(), 1.0)
    summary = {
        "macro avg": (float(prec.mean()), float(rec.mean()), float(f1.mean())),
        "weighted avg": (float(prec @ w), float(rec @ w), float(f1 @ w)),
    }
    return rows, summary


def run(args: argparse.Namespace) -> int:
    import numpy as np

    import retrograd as rg

    from . import _common as C
    from ._table import note
    from .train import CLASS_LOSSES, make_loss

    model, meta = C.load_model(args.model)
    task = meta.get("task", "classify")
    d = C.load_data(
        args.data, args.target, default_part="test", meta=meta, delimiter=args.delimiter
    )
    for msg in d.notes:
        note(msg)
    if d.y is None:
        raise ValueError(f"{d.name}: no targets to evaluate against")
    X = C.prepare_inputs(d, meta)
    out = C.run_model(model, X, "evaluate")
    results: dict = {"model": args.model, "data": d.name, "rows": d.n, "task": task}
    print(
        f"{args.model}: {type(model).__name__} ({meta.get('model_spec', '?')}), {task}; "
        f"data {d.name}: {d.n} rows"
    )
    if task == "classify":
        classes = list(meta.get("classes") or [str(i) for i in range(out.shape[1])])
        y = C.encode_classes(d, classes)
        loss_name = meta.get("loss", "cross_entropy")
        target_arr = y if loss_name in CLASS_LOSSES else C.one_hot(y, len(classes), out.dtype)
        with rg.no_grad():
            loss = float(make_loss(loss_name)(rg.tensor(out), rg.tensor(target_arr)).item())
        pred = out.argmax(axis=1)
        acc = float((pred == y).mean())
        print(f"loss {loss:.4f} ({loss_name})  accuracy {acc:.4f} ({int((pred == y).sum())}/{d.n})")
        results.update(loss=loss, loss_name=loss_name, accuracy=acc, classes=classes)
        if len(classes) > MAX_REPORT_CLASSES:
            # The matrix has classes**2 cells: a file can name a million classes.
            print(
                f"({len(classes)} classes: no per-class report or confusion matrix beyond "
                f"{MAX_REPORT_CLASSES})"
            )
            _write_json(args.json, results)
            return 0
        cm = rg.train.confusion_matrix(y, pred, num_classes=len(classes))
        rows, summary = classification_report(cm, classes)
        print()
        table = [
            [
                r["class"],
                f"{r['precision']:.4f}",
                f"{r['recall']:.4f}",
                f"{r['f1']:.4f}",
                r["support"],
            ]
            for r in rows
        ]
        for name, (p, r, f) in summary.items():
            table.append([name, f"{p:.4f}", f"{r:.4f}", f"{f:.4f}", d.n])
        print(C.fmt_table(table, ["class", "precision", "recall", "f1-score", "support"]))
        print()
        print("confusion matrix (rows: true class, columns: predicted):")
        width = max(3, len(str(int(cm.max()))), max(len(c) for c in classes))
        print(" " * (max(len(c) for c in classes) + 2) + " ".join(c.rjust(width) for c in classes))
        pad = max(len(c) for c in classes)
        for c, row in zip(classes, cm):
            print(f"{c.rjust(pad)}: " + " ".join(str(int(v)).rjust(width) for v in row))
        results.update(report=rows, confusion_matrix=cm.tolist())
        if args.plot:
            from ..train.plots import plot_confusion_matrix

            plot_confusion_matrix(
                cm,
                args.plot,
                class_names=classes,
                title=f"{meta.get('model_spec', 'model')} on {d.name}: accuracy {acc:.4f}",
            )
            print(f"wrote confusion matrix to {args.plot}")
    else:
        y = np.asarray(d.y, dtype=np.float64).reshape(d.n, -1)
        mean = np.asarray(meta.get("target_mean", np.zeros(y.shape[1])), np.float64)
        std = np.asarray(meta.get("target_std", np.ones(y.shape[1])), np.float64)
        pred = out.astype(np.float64) * std + mean
        if pred.shape != y.shape:
            raise ValueError(
                f"{d.name}: targets have shape {y.shape[1:]} per row, the model "
                f"predicts {pred.shape[1:]}"
            )
        err = pred - y
        mse = float((err**2).mean())
        mae = float(np.abs(err).mean())
        ss_tot = float(((y - y.mean(axis=0)) ** 2).sum())
        r2 = 1.0 - float((err**2).sum()) / ss_tot if ss_tot > 0 else float("nan")
        print(f"mse {mse:.6g}  rmse {mse**0.5:.6g}  mae {mae:.6g}  r2 {r2:.4f}")
        results.update(mse=mse, rmse=mse**0.5, mae=mae, r2=r2)
        if args.plot:
            print("(--plot draws a confusion matrix, which a regression model does not have)")
    _write_json(args.json, results)
    return 0


def _write_json(path: str | None, results: dict) -> None:
    if path:
        with open(path, "w", encoding="utf-8") as fh:
            json.dump(results, fh, indent=2)
        print(f"wrote results to {path}")
