"""``retrograd train``: build a network from flags (or a TOML file), train it, save it."""

from __future__ import annotations

import argparse
import contextlib
import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..errors import DistributedError
from . import _holdout as H
from ._common import (
    DATA_HELP,
    DELIMITER_HELP,
    EXTRA_FORMAT,
    EXTRA_KEY,
    Formatter,
    UsageError,
    add_debug,
    info,
)

EPILOG = """\
examples:
  retrograd train --data digits --model mlp:64,64 --epochs 20 --out digits.safetensors
  retrograd train --data digits:train --model cnn --epochs 10 --plot curves.png
  retrograd train --data iris.csv --target species --model mlp:16 --activation tanh \\
      --optimizer sgd --lr 0.1 --momentum 0.9 --batch-size full --epochs 300
  retrograd train --data houses.csv --target price --task regress --metrics log.csv
  retrograd train --data wine.csv --target class --drop id --test-split 0.2
  retrograd train --data export.csv --delimiter ';' --missing mean --tensorboard runs/a
  retrograd train --data mnist:~/mnist --model lstm:128 --checkpoint-dir ckpt
  retrograd train --data mnist:~/mnist --checkpoint-dir ckpt --resume   # continue
  retrograd train --config run.toml --epochs 50          # flags override the file
  mpirun -n 4 retrograd train --data digits --distributed

config file (TOML): the same names as the flags, e.g.
  data = "digits"
  model = "mlp:128,64"
  activation = "tanh"
  epochs = 30
  batch-size = 32        # or batch_size; "full" for full-batch sweeps
  lr = 0.003
(keys may also sit in a [train] table)

The features are standardized with the training part's statistics; the model file keeps
them (and the class names, task, column names and feature count), so `retrograd evaluate`
and `retrograd predict` apply the same preprocessing and match CSV columns by name.
Defaults: mlp:100, up to 200 epochs, early stopping after 10 epochs without improvement
of the validation loss (the best epoch's weights are kept).
"""


# ------------------------------------------------------------------ converters
def _pos_int(name: str) -> Callable[[Any], int]:
    def conv(v: Any) -> int:
        try:
            f = float(v)
        except (TypeError, ValueError):
            raise UsageError(f"--{name}: expected a positive integer, got {v!r}") from None
        if isinstance(v, bool) or not math.isfinite(f) or f != int(f) or f < 1:
            raise UsageError(f"--{name}: expected a positive integer, got {v!r}")
        return int(v) if isinstance(v, int) else int(f)  # an int stays exact

    return conv


def _int(name: str, lo: int | None = None) -> Callable[[Any], int]:
    def conv(v: Any) -> int:
        try:
            n = int(str(v))
        except ValueError:
            raise UsageError(f"--{name}: expected an integer, got {v!r}") from None
        if lo is not None and n < lo:
            raise UsageError(f"--{name}: expected an integer >= {lo}, got {v!r}")
        return n

    return conv


def _float(name: str, lo: float | None = None, hi: float | None = None, lo_open=False):
    def conv(v: Any) -> float:
        try:
            f = float(v)
        except (TypeError, ValueError):
            raise UsageError(f"--{name}: expected a number, got {v!r}") from None
        if f != f or (lo is not None and (f < lo or (lo_open and f == lo))):
            raise UsageError(f"--{name}: must be {'>' if lo_open else '>='} {lo:g}, got {v!r}")
        if hi is not None and f > hi:
            raise UsageError(f"--{name}: must be <= {hi:g}, got {v!r}")
        return f

    return conv


def _choice(name: str, choices: tuple) -> Callable[[Any], str]:
    def conv(v: Any) -> str:
        s = str(v).strip().lower().replace("-", "_")
        if s not in choices:
            raise UsageError(f"--{name}: expected one of {', '.join(choices)}, got {v!r}")
        return s

    return conv


def _batch_size(v: Any) -> int | None:
    if str(v).strip().lower() == "full":
        return None
    return _pos_int("batch-size")(v)


def _str(v: Any) -> str:
    return os.path.expanduser(str(v))


def _fraction(name: str) -> Callable[[Any], float]:
    def conv(v: Any) -> float:
        f = _float(name, 0.0)(v)
        if f >= 1.0:
            raise UsageError(f"--{name}: must be in [0, 1), got {v!r}")
        return f

    return conv


_val_split = _fraction("val-split")


def _patience(v: Any) -> int | None:
    # 0 / off / none: no early stopping (N >= 1 stops after N epochs without improvement).
    if str(v).strip().lower() in ("0", "off", "none", "false"):
        return 0
    return _pos_int("patience")(v)


def _columns(v: Any) -> list:
    from ._table import split_columns

    return split_columns(v)


def _solver_options(v: Any) -> dict:
    """``"solver=broyden,broyden_m=10,backward=phantom"`` -> the validated options dict
    (names and checks from ``retrograd.nn.fixedpoint.SOLVER_OPTIONS``)."""
    from ..nn.fixedpoint import solver_options

    items = {}
    for part in str(v).split(","):
        key, eq, val = part.partition("=")
        key = key.strip().replace("-", "_")
        if not eq or not key:
            raise UsageError(
                f"--fixed-point: expected NAME=VALUE[,NAME=VALUE...] (e.g. "
                f"solver=anderson,backward=jfb), got {part.strip()!r}"
            )
        items[key] = _option_value(val.strip())
    try:
        full = solver_options("--fixed-point", items)
    except (TypeError, ValueError) as exc:
        raise UsageError(str(exc)) from None
    return {k: full[k] for k in items}


def _option_value(s: str) -> Any:
    """A NAME=VALUE value as the option wants it: an int, a float, a bool or a word."""
    low = s.lower()
    if low in ("true", "false"):
        return low == "true"
    for conv in (int, float):
        try:
            return conv(s)
        except ValueError:
            pass
    return s


def _delimiter(v: Any) -> str:
    from ..data.table import delimiter_arg

    try:
        return delimiter_arg(str(v))
    except ValueError as exc:
        raise UsageError(f"--{exc}") from None


LOSSES = ("cross_entropy", "gce", "sce", "mse", "l1", "huber")
# Classification losses that take integer class labels (robust ones included).
CLASS_LOSSES = ("cross_entropy", "gce", "sce")
OPTIMIZERS = ("adam", "adamw", "sgd", "rmsprop", "lbfgs")
DEFAULT_LR = {"adam": 1e-3, "adamw": 1e-3, "sgd": 0.1, "rmsprop": 1e-3, "lbfgs": 1.0}

# name -> (default, converter, metavar, help). Flags and config keys share these names.
OPTIONS: dict = {
    "data": (None, _str, "DATA", DATA_HELP),
    "target": (None, str, "COLUMN", "CSV target column, by name or index (default: the last)"),
    "drop": (None, _columns, "COL[,COL...]", "CSV columns to leave out (ids, leakage), by "
             "name or index"),
    "one_hot": (None, _columns, "COL[,COL...]", "CSV text columns to encode as one 0/1 "
                "feature per category (auto: every text feature column); a missing cell or "
                "a category unseen in training gives all 0"),
    "delimiter": (None, _delimiter, "CHAR", DELIMITER_HELP),
    "missing": ("error", _choice("missing", ("error", "drop", "mean")), "POLICY",
                "missing CSV cells (empty, NA, NaN, ?...): error (default: refuse, counting "
                "them), drop (leave those rows out), mean (fill in the training means; "
                "evaluate and predict do the same)"),
    "task": (None, _choice("task", ("classify", "regress")), "{classify,regress}",
             "default: classify for text labels or integer-like targets with at most 20 "
             "distinct values, else regress"),
    "model": ("mlp:100", str, "SPEC", "mlp:H1,H2,... | cnn[:C1,C2] | lstm:H | fixedpoint:H "
              "(default mlp:100)"),
    "fixed_point": (None, _solver_options, "NAME=VALUE[,...]",
                    "solver options of a fixedpoint model, e.g. solver=anderson (or broyden, "
                    "iter), backward=jfb (rbp, neumann, cg, phantom), backward_solver, "
                    "anderson_m, broyden_m, tol, max_iter, damping (see "
                    "docs/recurrent-backprop.md); saved in the model file"),
    "activation": ("relu", _choice("activation", ("relu", "tanh", "sigmoid", "gelu",
                   "leaky_relu")), "NAME", "hidden activation of mlp: relu (default), tanh, "
                   "sigmoid, gelu, leaky_relu"),
    "standardize": ("auto", _choice("standardize", ("auto", "feature", "global", "none")),
                    "MODE", "feature scaling from the training part: per feature, global "
                    "(one mean/std, used for images), none; default auto"),
    "loss": (None, _choice("loss", LOSSES), "NAME",
             "cross_entropy (classify default), gce / sce (bounded losses, robust to "
             "mislabelled samples), mse (regress default; with classify: one-hot "
             "targets), l1, huber (robust to outliers)"),
    "label_smoothing": (0.0, _float("label-smoothing", 0.0, 1.0), "EPS",
                        "label smoothing of cross_entropy (default 0)"),
    "clip_grad_norm": (None, _float("clip-grad-norm", 0.0, lo_open=True), "NORM",
                       "rescale gradients to at most this total norm before each step"),
    "dropout": (0.0, _float("dropout", 0.0, 1.0), "P",
                "dropout after each hidden layer of mlp (default 0)"),
    "optimizer": ("adam", _choice("optimizer", OPTIMIZERS), "NAME",
                  "adam (default), adamw, sgd, rmsprop, lbfgs"),
    "lr": (None, _float("lr", 0.0, lo_open=True), "LR",
           "learning rate (default: 0.1 for sgd, 1 for lbfgs, else 0.001)"),
    "momentum": (0.0, _float("momentum", 0.0, 1.0), "M", "momentum of sgd/rmsprop (default 0)"),
    "weight_decay": (0.0, _float("weight-decay", 0.0), "WD", "L2 weight decay (default 0)"),
    "batch_size": (32, _batch_size, "N|full", "mini-batch size: 1 online, N, or full "
                   "(whole training set per step); default 32"),
    "epochs": (200, _pos_int("epochs"), "N", "maximum number of epochs (default 200; early "
               "stopping usually ends training sooner)"),
    "seed": (0, _int("seed", 0), "N", "seed for the split, initial weights and order (default 0)"),
    "test_split": (0.0, _fraction("test-split"), "FRAC", "fraction held out as a test part, "
                   "stratified for classes, seeded by --seed; evaluated once at the end "
                   "with the kept weights (default 0: none)"),
    "val_split": (0.1, _val_split, "FRAC", "fraction of the training rows held out for "
                  "validation (early stopping), stratified for classes; 0 for none "
                  "(default 0.1)"),
    "patience": (10, _patience, "N", "early stopping: stop after N epochs in a row without "
                 "improvement of val_loss (loss without validation) and keep the best "
                 "epoch's weights; 0 or off: train all --epochs (default 10)"),
    "target_loss": (None, _float("target-loss", 0.0), "LOSS",
                    "stop once the training loss is <= LOSS"),
    "target_accuracy": (None, _float("target-accuracy", 0.0, 1.0), "ACC",
                        "stop once the training accuracy is >= ACC"),
    "checkpoint_dir": (None, _str, "DIR", "save a checkpoint every epoch into DIR (Ctrl-C "
                       "saves one too)"),
    "keep_last": (None, _pos_int("keep-last"), "N", "keep only the last N checkpoints"),
    "out": ("model.safetensors", _str, "PATH", "where to save the trained model "
            "(default model.safetensors)"),
    "metrics": (None, _str, "PATH", "write one record per epoch to PATH (.jsonl or .csv)"),
    "plot": (None, _str, "PNG", "draw loss/accuracy curves (train and validation) to PNG"),
    "tensorboard": (None, _str, "DIR", "write TensorBoard event files to DIR (scalars per "
                    "epoch and every 10 steps, learning rate, curves; needs tensorboardX)"),
    "verbose": (1, _choice("verbose", ("0", "1", "2")), "{0,1,2}",
                "0 silent, 1 progress bar on a terminal (a line per epoch otherwise), "
                "2 a line per epoch (default 1)"),
}  # fmt: skip
FLAGS = {
    "resume": "continue from the latest checkpoint in --checkpoint-dir",
    "distributed": "data-parallel over MPI ranks (run under mpirun -n N)",
}


def register(sub: Any) -> None:
    p = sub.add_parser(
        "train",
        help="train a network on digits, a CSV, an .npz or MNIST files and save it",
        description=(
            "Train a network by backpropagation and save it (architecture, weights and the "
            "preprocessing) to a safetensors model file."
        ),
        epilog=EPILOG,
        formatter_class=Formatter,
    )
    p.add_argument("--config", metavar="TOML", help="read options from a TOML file first")
    for name, (_default, _conv, metavar, help_) in OPTIONS.items():
        p.add_argument("--" + name.replace("_", "-"), dest=name, metavar=metavar, help=help_)
    for name, help_ in FLAGS.items():
        p.add_argument("--" + name, dest=name, action="store_true", default=None, help=help_)
    add_debug(p)
    p.set_defaults(func=run)


# ------------------------------------------------------------------ config merge
def _read_config(path: str) -> dict:
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        try:
            import tomli as tomllib  # type: ignore[no-redef]
        except ModuleNotFoundError:
            raise UsageError("--config needs Python 3.11+ (tomllib) or the tomli package") from None
    path = os.path.expanduser(path)
    if not os.path.isfile(path):
        raise UsageError(f"--config: no such file: {path!r}")
    with open(path, "rb") as fh:
        try:
            doc = tomllib.load(fh)
        except tomllib.TOMLDecodeError as exc:
            raise UsageError(f"--config {path!r}: not valid TOML ({exc})") from None
    table = dict(doc.get("train", {})) if isinstance(doc.get("train"), dict) else {}
    table.update({k: v for k, v in doc.items() if k != "train"})
    known = set(OPTIONS) | set(FLAGS)
    out = {}
    for k, v in table.items():
        key = k.replace("-", "_")
        if key not in known:
            raise UsageError(
                f"--config {path!r}: unknown key {k!r}; known keys: "
                + ", ".join(sorted(n.replace("_", "-") for n in known))
            )
        out[key] = v
    return out


def resolve(args: argparse.Namespace) -> dict:
    """The effective options: defaults, then the config file, then the flags."""
    cfg = _read_config(args.config) if getattr(args, "config", None) else {}
    opts: dict = {}
    for name, (default, conv, _m, _h) in OPTIONS.items():
        v = getattr(args, name, None)
        if v is None:
            v = cfg.get(name)
        opts[name] = conv(v) if v is not None else default
    for name in FLAGS:
        v = getattr(args, name, None)
        opts[name] = bool(cfg.get(name, False) if v is None else v)
    opts["verbose"] = int(opts["verbose"])
    return opts


# ------------------------------------------------------------------ building blocks
def make_loss(name: str, label_smoothing: float = 0.0) -> Any:
    from .. import nn

    if name == "cross_entropy":
        return nn.CrossEntropyLoss(label_smoothing=label_smoothing)
    return {
        "gce": nn.GeneralizedCrossEntropyLoss,
        "sce": nn.SymmetricCrossEntropyLoss,
        "mse": nn.MSELoss,
        "l1": nn.L1Loss,
        "huber": nn.HuberLoss,
    }[name]()


def make_optimizer(name: str, params: Any, lr: float, momentum: float, wd: float) -> Any:
    from .. import optim

    if name == "sgd":
        return optim.SGD(params, lr=lr, momentum=momentum, weight_decay=wd)
    if name == "adam":
        return optim.Adam(params, lr=lr, weight_decay=wd)
    if name == "adamw":
        return optim.AdamW(params, lr=lr, weight_decay=wd if wd else 1e-2)
    if name == "rmsprop":
        return optim.RMSprop(params, lr=lr, momentum=momentum, weight_decay=wd)
    if wd:
        raise UsageError("--weight-decay is not supported with --optimizer lbfgs")
    return optim.LBFGS(params, lr=lr)


def _has_matplotlib() -> bool:
    import importlib.util

    return importlib.util.find_spec("matplotlib") is not None


def _is_root(distributed: bool) -> bool:
    if not distributed:
        return True
    from .. import distributed as dist

    return dist.is_root() if dist.is_available() else True


def _all_ranks(distributed: bool, stage: str) -> Any:
    """``distributed.fail_together(stage)`` under MPI, else nothing."""
    from .. import distributed as dist

    if not distributed or not dist.is_available():
        return contextlib.nullcontext()
    return dist.fail_together(stage)


# ------------------------------------------------------------------ the command
def run(args: argparse.Namespace) -> int:
    o = resolve(args)
    try:
        return train(o)
    except DistributedError as exc:
        # Raised by every rank together (their configurations differ...): rank 0's copy
        # of the message is enough; the others exit with the same status, silently.
        if getattr(exc, "collective", False) and not _is_root(o["distributed"]):
            from . import EXIT_ERROR

            return EXIT_ERROR
        raise


def train(o: dict) -> int:
    """Run ``retrograd train`` with the resolved options ``o`` (see :func:`resolve`)."""
    import retrograd as rg

    t_start = time.perf_counter()
    root = _is_root(o["distributed"])
    verbose = o["verbose"] if root else 0
    # Under MPI a rank whose data (or output directory...) fails must not leave the others
    # waiting for it: every rank learns of it here and stops, with the reason.
    with _all_ranks(o["distributed"], "loading the data and building the model"):
        _check_outputs(o)
        prep = _prepare_data(o)
        rg.manual_seed(o["seed"])
        model, opt, loss_fn, lr = _build(o, prep)
        callbacks, early = _callbacks(o, prep, root)
    _announce(o, prep, model, lr, verbose == 0)
    hist, interrupt = _fit(o, prep, model, opt, loss_fn, callbacks, verbose, root)
    if not root:
        return 0
    if interrupt is not None:
        # Keep the work done: the epochs completed (and the step in progress, which the
        # loop finished before stopping), marked as interrupted in the file's metadata.
        prep.meta["interrupted"] = True
        hist.stop_reason = f"interrupted: {interrupt}"
    _save_and_report(o, prep, model, hist, early, time.perf_counter() - t_start, verbose == 0)
    if interrupt is not None:
        raise KeyboardInterrupt(
            f"{interrupt}; the model trained so far was saved to {o['out']}, marked as "
            f"interrupted in its metadata (with --checkpoint-dir DIR, --resume continues "
            f"a run exactly)"
        )
    return 0


# ------------------------------------------------------------------ stages
@dataclass
class _Prepared:
    """The training data as the network sees it, and what the model file records."""

    name: str
    task: str
    loss_name: str
    n_rows: int
    n_features: int
    n_out: int
    X: Any
    y: Any
    X_val: Any
    y_val: Any
    meta: dict
    X_test: Any = None
    y_test: Any = None


def _check_outputs(o: dict) -> None:
    """Refuse, before any work, options that could only fail after training."""
    if o["resume"] and not o["checkpoint_dir"]:
        raise UsageError("--resume needs --checkpoint-dir (where the checkpoints are)")
    for opt_name in ("metrics", "plot", "out"):
        path = o[opt_name]
        parent = os.path.dirname(path) if path else ""
        if parent and not os.path.isdir(parent):
            raise UsageError(f"--{opt_name} {path!r}: the directory {parent!r} does not exist")
    if o["plot"] is not None:
        try:
            import matplotlib  # noqa: F401 - fail now, not after training
        except ImportError:
            from ..train.plots import MATPLOTLIB_MISSING

            raise RuntimeError("--plot: " + MATPLOTLIB_MISSING) from None
    if o["tensorboard"] is not None:
        from ..train.tensorboard import _writer_class

        _writer_class()  # fail now (no tensorboardX), not after loading the data


def _prepare_data(o: dict) -> _Prepared:
    """Load the data, encode the targets for the task, split, standardize."""
    from . import _common as C

    d = C.load_data(
        o["data"], o["target"], default_part="train", delimiter=o["delimiter"],
        drop=o["drop"] or (), missing=o["missing"], one_hot=o["one_hot"] or (),
    )  # fmt: skip
    if (o["drop"] or o["delimiter"] or o["one_hot"]) and d.layout is None:
        raise UsageError("--drop, --one-hot and --delimiter apply to CSV data only")
    if o["verbose"] and _is_root(o["distributed"]):
        from ._table import note

        for msg in d.notes:
            note(msg)
    if d.y is None:
        raise ValueError(f"{d.name}: no targets to train on")
    task = o["task"] or C.infer_task(d)
    loss_name = o["loss"] or ("cross_entropy" if task == "classify" else "mse")
    meta: dict = {
        "format": EXTRA_FORMAT, "task": task, "n_features": d.n_features,
        "data": d.name, "target": d.target, "model_spec": o["model"],
        "activation": o["activation"], "loss": loss_name,
        "image_shape": list(d.image_shape) if d.image_shape else None,
        "feature_names": d.feature_names,
    }  # fmt: skip
    if d.layout:
        meta.update(d.layout)
    if task == "classify":
        y, y_fit, n_out = _class_targets(d, loss_name, meta)
    else:
        y, y_fit, n_out = _regression_targets(d, loss_name, meta)
    # The test part first (never seen in training, nor by any statistic), then the
    # validation part from the rest; then statistics of the training part only.
    X, y, y_fit, X_test, y_test = _test_split(o, d, task, y, y_fit)
    if task != "classify":
        y_fit, y_test = _standardize_targets(y_fit, y_test, meta)
    X, X_val, y_fit, y_val = _split(o, X, task, y, y_fit, n_out)
    if o["missing"] == "mean":
        fill = H.fill_values(X)
        meta["fill_values"] = fill
        X, X_val, X_test = H.fill(X, fill), H.fill(X_val, fill), H.fill(X_test, fill)
    mode = o["standardize"]
    if mode == "auto":
        mode = "global" if d.image_shape else "feature"
    mean, std = C.standardizer(X, mode)
    meta.update(standardize=mode, feature_mean=mean, feature_std=std)
    X = C.apply_standardize(X, mean, std)
    if X_val is not None:
        X_val = C.apply_standardize(X_val, mean, std)
    if X_test is not None:
        X_test = C.apply_standardize(X_test, mean, std)
    return _Prepared(
        d.name, task, loss_name, d.n, d.n_features, n_out, X, y_fit, X_val, y_val, meta,
        X_test, y_test,
    )  # fmt: skip


def _test_split(o: dict, d: Any, task: str, y: Any, y_fit: Any) -> tuple:
    """(X, y, y_fit, X_test, y_test): the --test-split part held out (stratified, seeded)."""
    if o["test_split"] <= 0:
        return d.X, y, y_fit, None, None
    labels = y if task == "classify" else None
    keep, held = H.split_rows(d.n, o["test_split"], o["seed"], labels, "--test-split")
    return d.X[keep], y[keep], y_fit[keep], d.X[held], y_fit[held]


def _standardize_targets(y_fit: Any, y_test: Any, meta: dict) -> tuple:
    """Regression targets standardized with the training rows' statistics."""
    import numpy as np

    y_mean, y_std = y_fit.mean(axis=0), y_fit.std(axis=0)
    y_std = np.where(y_std > 0, y_std, 1.0)
    meta["target_mean"] = y_mean.astype(np.float32)
    meta["target_std"] = y_std.astype(np.float32)
    # Standardized targets keep the loss near 1 whatever their units (prices, ...).
    y_fit = ((y_fit - y_mean) / y_std).astype(np.float32)
    if y_test is not None:
        y_test = ((y_test - y_mean) / y_std).astype(np.float32)
    return y_fit, y_test


def _class_targets(d: Any, loss_name: str, meta: dict) -> tuple:
    """(class indices, what the loss is fed, number of classes)."""

    from . import _common as C

    classes = C.sort_class_names(set(C.raw_labels(d)))
    if len(classes) < 2:
        raise ValueError(f"{d.name}: only one class ({classes[0]}) in the targets")
    y = C.encode_classes(d, classes)
    n_out = len(classes)
    meta["classes"] = classes
    if loss_name in CLASS_LOSSES:
        return y, y, n_out
    if loss_name == "mse":
        return y, C.one_hot(y, n_out), n_out
    raise UsageError(
        f"--loss {loss_name} is for regression; classify uses cross_entropy, gce, sce or mse"
    )


def _regression_targets(d: Any, loss_name: str, meta: dict) -> tuple:
    """(targets, standardized targets for the loss, number of outputs)."""
    import numpy as np

    if d.label_names is not None:
        raise UsageError(f"{d.name}: text labels cannot be regressed; use --task classify")
    if loss_name in CLASS_LOSSES:
        raise UsageError(f"--loss {loss_name} needs --task classify")
    y = np.asarray(d.y, dtype=np.float64)
    y = y.reshape(len(y), -1)
    # Standardized later, with the statistics of the rows left after --test-split.
    return y, y, y.shape[1]


def _split(o: dict, X: Any, task: str, y: Any, y_fit: Any, n_out: int) -> tuple:
    """(X, X_val, y_fit, y_val): the validation part held out (stratified for classes)."""
    import numpy as np

    import retrograd as rg

    if o["val_split"] <= 0:
        return X, None, y_fit, None
    n = len(X)
    n_val = int(np.ceil(o["val_split"] * n))
    if n_val < 1 or n - n_val < 1:
        raise ValueError(f"--val-split {o['val_split']}: {n} rows are too few to split")
    strat = None
    if task == "classify":
        counts = np.bincount(y, minlength=n_out)
        if counts.min() >= 2 and n_val >= n_out:
            strat = y
    return rg.data.train_test_split(X, y_fit, test_size=n_val, seed=o["seed"], stratify=strat)


def _build(o: dict, prep: _Prepared) -> tuple:
    """(model, optimizer, loss function, learning rate)."""
    from .models import build_model

    image_shape = prep.meta["image_shape"]
    try:
        model = build_model(
            o["model"], prep.n_features, prep.n_out, o["activation"], image_shape,
            dropout=o["dropout"], solver=o["fixed_point"],
        )  # fmt: skip
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    lr = o["lr"] if o["lr"] is not None else DEFAULT_LR[o["optimizer"]]
    opt = make_optimizer(o["optimizer"], model.parameters(), lr, o["momentum"], o["weight_decay"])
    if o["label_smoothing"] and prep.loss_name != "cross_entropy":
        raise UsageError("--label-smoothing applies to --loss cross_entropy only")
    loss_fn = make_loss(prep.loss_name, o["label_smoothing"])
    prep.meta.update(optimizer=o["optimizer"], lr=lr, batch_size=o["batch_size"], seed=o["seed"])
    return model, opt, loss_fn, lr


def _callbacks(o: dict, prep: _Prepared, root: bool) -> tuple:
    """(callbacks, the EarlyStopping among them or None)."""
    import retrograd as rg

    callbacks: list = []
    early = None
    if o["patience"]:
        monitor = "val_loss" if prep.X_val is not None else "loss"
        early = rg.train.EarlyStopping(monitor, patience=o["patience"], restore_best_weights=True)
        callbacks.append(early)
    if o["target_loss"] is not None:
        callbacks.append(rg.train.TargetLoss(o["target_loss"]))
    if o["target_accuracy"] is not None:
        if prep.task != "classify":
            raise UsageError("--target-accuracy needs a classification task")
        callbacks.append(rg.train.TargetAccuracy(o["target_accuracy"]))
    if o["metrics"] and root:
        logger = rg.train.CSVLogger if o["metrics"].endswith(".csv") else rg.train.JSONLLogger
        callbacks.append(logger(o["metrics"]))
    if o["tensorboard"] and root:
        callbacks.append(rg.train.TensorBoard(o["tensorboard"], update_freq=10,
                                              figures=_has_matplotlib()))  # fmt: skip
    return callbacks, early


def _announce(o: dict, prep: _Prepared, model: Any, lr: float, quiet: bool) -> None:
    import retrograd as rg

    n_out, bs = prep.n_out, o["batch_size"]
    n_val = 0 if prep.X_val is None else len(prep.X_val)
    info(
        f"retrograd {rg.__version__} train: {prep.name}, {prep.n_rows} rows x "
        f"{prep.n_features} features, "
        + (
            f"{n_out} classes"
            if prep.task == "classify"
            else f"regression ({n_out} output{'s' if n_out > 1 else ''})"
        )
        + f"; {len(prep.X)} train / {n_val} validation"
        + (f" / {len(prep.X_test)} test" if prep.X_test is not None else ""),
        quiet,
    )
    info(
        f"model {o['model']} ({type(model).__name__}, {model.num_parameters():,} parameters), "
        f"loss {prep.loss_name}, {o['optimizer']} lr {lr:g}, batch "
        f"{'full' if bs is None else bs}, up to {o['epochs']} epochs",
        quiet,
    )


def _fit(
    o: dict, prep: _Prepared, model: Any, opt: Any, loss_fn: Any, callbacks: list,
    verbose: int, root: bool,
) -> tuple[Any, KeyboardInterrupt | None]:  # fmt: skip
    """rg.train.fit with the command line's options: ``(History, None)``, or on Ctrl-C /
    SIGTERM without ``--checkpoint-dir`` the epochs completed and the interruption."""
    import retrograd as rg

    from . import _common as C

    checkpoint = None
    if o["checkpoint_dir"]:
        keep = {} if o["keep_last"] is None else {"keep_last": o["keep_last"]}
        checkpoint = rg.train.Checkpointing(o["checkpoint_dir"], resume=o["resume"], **keep)
    try:
        hist = rg.train.fit(
            model,
            loss_fn,
            opt,
            (prep.X, prep.y),
            val_data=None if prep.X_val is None else (prep.X_val, prep.y_val),
            epochs=o["epochs"],
            batch_size=o["batch_size"],
            seed=o["seed"],
            callbacks=callbacks,
            verbose=verbose,
            checkpoint=checkpoint,
            step=rg.train.StepOptions(
                clip_grad_norm=o["clip_grad_norm"], distributed=o["distributed"]
            ),
        )
    except KeyboardInterrupt as exc:
        if o["checkpoint_dir"]:
            if root:
                C.warn(f"interrupted: checkpoint in {o['checkpoint_dir']}; continue with --resume")
            raise
        history = getattr(exc, "history", None)
        if history is None:  # a second Ctrl-C, or a run that cannot stop at a step's end
            raise KeyboardInterrupt(
                f"training stopped at once; nothing was saved to {o['out']} (interrupt once "
                f"to keep the model trained so far; --checkpoint-dir DIR keeps every epoch)"
            ) from None
        return history, exc
    return hist, None


def _save_and_report(
    o: dict, prep: _Prepared, model: Any, hist: Any, early: Any, elapsed: float, quiet: bool
) -> None:
    """Save the model file (with the CLI's metadata) and print the summary lines."""
    import retrograd as rg

    meta = prep.meta
    meta["history"] = {
        k: [float("nan") if v is None else float(v) for v in vals]
        for k, vals in hist.history.items()
    }
    meta["epochs"] = hist.epochs
    meta["stop_reason"] = hist.stop_reason
    model.eval()
    if early is not None and early.best_epoch is not None:
        meta["best_epoch"] = early.best_epoch
    test_report = None
    if prep.X_test is not None:
        loss_fn = make_loss(prep.loss_name, o["label_smoothing"])
        test_report = H.test_report(model, loss_fn, prep.X_test, prep.y_test, prep.task, meta)
        meta["test"] = test_report
    path = rg.save(model, o["out"], extra={EXTRA_KEY: meta})
    last = {k: v[-1] for k, v in hist.history.items() if v and v[-1] is not None}
    shown = [
        f"{k} {last[k]:.4f}" for k in ("loss", "accuracy", "val_loss", "val_accuracy") if k in last
    ]
    info(
        f"trained {hist.epochs} epochs in {elapsed:.1f}s ({hist.stop_reason}): " + ", ".join(shown),
        quiet,
    )
    if early is not None and early.best_epoch not in (None, hist.epochs):
        info(f"kept the weights of epoch {early.best_epoch} (best {early.monitor} "
             f"{early.best:.4f})", quiet)  # fmt: skip
    if test_report is not None:
        at = early.best_epoch if early is not None and early.best_epoch else hist.epochs
        val = {k: v[at - 1] for k, v in hist.history.items() if k.startswith("val_") and v}
        shown_val = ", ".join(f"{k[4:]} {v:.4f}" for k, v in val.items() if v is not None)
        info(
            f"test part ({test_report['rows']} rows, weights of epoch {at}): "
            + H.describe(test_report)
            + (f"; validation at that epoch: {shown_val}" if shown_val else ""),
            quiet,
        )
    if prep.task == "regress":
        info(
            "(regression losses are on standardized targets; `retrograd evaluate` reports "
            "them in the data's units)",
            quiet,
        )
    info(f"saved model to {path}", quiet)
    if o["metrics"]:
        if test_report is not None:
            H.append_to_metrics(o["metrics"], test_report, meta.get("best_epoch"))
        info(f"wrote {hist.epochs} metric records to {o['metrics']}", quiet)
    if o["plot"]:
        from ..train.plots import plot_history

        plot_history(hist, o["plot"], title=f"{o['model']} on {prep.name}")
        info(f"wrote curves to {o['plot']}", quiet)
