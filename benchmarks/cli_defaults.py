"""`retrograd train` with its default options against scikit-learn's MLP defaults.

The question: does the command line, given only a CSV file, fit the common small tables as
well as MLPClassifier does with its defaults? Datasets shipped with scikit-learn (wine,
breast_cancer, digits: accuracy; diabetes: R^2), each split 75/25 (stratified for the
classifiers) with seeds 0-4 and written as train/test CSV files (feature names in the
header, the target last). retrograd: ``retrograd train --data train.csv --seed S`` (no
other flags; its validation split comes out of the training part), then ``retrograd
evaluate`` on test.csv. scikit-learn: StandardScaler + MLPClassifier(random_state=S)
(MLPRegressor in a TransformedTargetRegressor for diabetes: the CLI standardizes the
features, and a regression target, too), fitted on the same training rows.

Run ``python benchmarks/cli_defaults.py`` (``--seeds 0 1`` for fewer,
``--flags "--epochs 20"`` to try other options); prints a Markdown table of the mean and
range over the seeds, and the mean wall time of one ``retrograd train`` run.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import io
import json
import os
import shlex
import statistics
import tempfile
import time
import warnings
from typing import Any

DATASETS = ("wine", "breast_cancer", "digits", "diabetes")


def _write(path: str, names: list, X: Any, y: Any) -> None:
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow([*names, "target"])
        for row, t in zip(X.tolist(), y.tolist()):
            w.writerow([*(repr(float(v)) for v in row), t])


def _split(name: str, seed: int) -> tuple:
    from sklearn import datasets
    from sklearn.model_selection import train_test_split

    bunch = getattr(datasets, f"load_{name}")()
    X, y = bunch.data, bunch.target
    names = [str(n).replace(" ", "_") for n in getattr(bunch, "feature_names", [])]
    if len(names) != X.shape[1]:
        names = [f"x{i}" for i in range(X.shape[1])]
    strat = None if name == "diabetes" else y
    parts = train_test_split(X, y, test_size=0.25, random_state=seed, stratify=strat)
    return names, parts


def _sklearn_score(name: str, seed: int, parts: tuple) -> float:
    from sklearn.compose import TransformedTargetRegressor
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier, MLPRegressor
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X_tr, X_te, y_tr, y_te = parts
    if name == "diabetes":
        est = TransformedTargetRegressor(
            regressor=make_pipeline(StandardScaler(), MLPRegressor(random_state=seed)),
            transformer=StandardScaler(),
        )
    else:
        est = make_pipeline(StandardScaler(), MLPClassifier(random_state=seed))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est.fit(X_tr, y_tr)
    return float(est.score(X_te, y_te))


def _retrograd_score(name: str, seed: int, names: list, parts: tuple, flags: list) -> tuple:
    from retrograd.cli import main

    X_tr, X_te, y_tr, y_te = parts
    with tempfile.TemporaryDirectory() as d:
        train, test = os.path.join(d, "train.csv"), os.path.join(d, "test.csv")
        model, report = os.path.join(d, "m.safetensors"), os.path.join(d, "r.json")
        _write(train, names, X_tr, y_tr)
        _write(test, names, X_te, y_te)
        sink = io.StringIO()
        t0 = time.perf_counter()
        with contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
            rc = main(["train", "--data", train, "--seed", str(seed), "--out", model,
                       "--verbose", "0", *flags])  # fmt: skip
        wall = time.perf_counter() - t0
        if rc != 0:
            raise RuntimeError(f"retrograd train failed on {name}: {sink.getvalue()}")
        with contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
            rc = main(["evaluate", model, "--data", test, "--json", report])
        if rc != 0:
            raise RuntimeError(f"retrograd evaluate failed on {name}: {sink.getvalue()}")
        res = json.load(open(report))
        from retrograd.io import load

        epochs = load(model, with_extra=True)[1]["cli"]["epochs"]
    return float(res["r2"] if name == "diabetes" else res["accuracy"]), wall, int(epochs)


def run(seeds: tuple = (0, 1, 2, 3, 4), flags: tuple = (), datasets: tuple = DATASETS) -> list:
    """One row per dataset: scores per seed for both, retrograd's wall time and epochs."""
    from threadpoolctl import threadpool_limits

    rows = []
    with threadpool_limits(1):
        for name in datasets:
            ours, theirs, walls, epochs = [], [], [], []
            for seed in seeds:
                names, parts = _split(name, seed)
                score, wall, n_ep = _retrograd_score(name, seed, names, parts, list(flags))
                ours.append(score)
                walls.append(wall)
                epochs.append(n_ep)
                theirs.append(_sklearn_score(name, seed, parts))
            rows.append(
                {"dataset": name, "retrograd": ours, "sklearn": theirs, "wall": walls,
                 "epochs": epochs, "metric": "R^2" if name == "diabetes" else "accuracy"}
            )  # fmt: skip
    return rows


def _fmt(v: list) -> str:
    return f"{statistics.mean(v):.3f} ({min(v):.3f}-{max(v):.3f})"


def main(argv: list | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    p.add_argument("--flags", default="", help="extra retrograd train flags, one string")
    p.add_argument("--datasets", nargs="+", default=list(DATASETS))
    a = p.parse_args(argv)
    rows = run(tuple(a.seeds), tuple(shlex.split(a.flags)), tuple(a.datasets))
    print(f"seeds {a.seeds}; retrograd train flags: {a.flags or '(defaults)'}")
    print()
    print("| data set | metric | `retrograd train` defaults | MLP defaults (scikit-learn) "
          "| epochs run | train wall |")  # fmt: skip
    print("| --- | --- | --- | --- | --- | --- |")
    for r in rows:
        print(
            f"| {r['dataset']} | {r['metric']} | {_fmt(r['retrograd'])} | {_fmt(r['sklearn'])} "
            f"| {min(r['epochs'])}-{max(r['epochs'])} | {statistics.mean(r['wall']):.1f} s |"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
