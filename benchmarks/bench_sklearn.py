"""retrograd.sklearn against scikit-learn's MLPClassifier/MLPRegressor, same hyperparameters.

Datasets shipped with scikit-learn: digits, breast_cancer and wine (classification,
accuracy) and diabetes (regression, R^2), each split 75/25 (stratified for classifiers)
with several seeds; inputs standardised (StandardScaler inside the pipeline, fitted on the
training part only), and for diabetes the target too (TransformedTargetRegressor), for
every contender alike. Both libraries get MLP's defaults: hidden_layer_sizes=(100,),
relu, adam, learning rate 1e-3, batch_size min(200, n), max_iter=200, alpha=1e-4,
tol=1e-4, n_iter_no_change=10, and the same random_state per seed. BLAS is held to one
thread for everyone (threadpoolctl): the matrices are small, and on a shared machine a
multithreaded BLAS mostly measures contention.

Run ``python benchmarks/bench_sklearn.py`` (add ``--quick`` for 2 seeds); ``run()``
returns the rows as a list of dicts.
"""

from __future__ import annotations

import argparse
import statistics
import time
import warnings
from typing import Any

DATASETS = ("digits", "breast_cancer", "wine", "diabetes")
SEEDS_FULL = (0, 1, 2, 3, 4)
SEEDS_QUICK = (0, 1)


def _load(name: str) -> tuple[Any, Any]:
    from sklearn import datasets

    return getattr(datasets, f"load_{name}")(return_X_y=True)


def _contenders(task: str) -> dict:
    """name -> factory(seed) of an unfitted estimator (before scaling)."""
    from sklearn.neural_network import MLPClassifier, MLPRegressor

    from retrograd.sklearn import BackpropClassifier, BackpropRegressor, FixedPointClassifier

    if task == "classification":
        return {
            "sklearn MLPClassifier": lambda s: MLPClassifier(random_state=s),
            "retrograd BackpropClassifier": lambda s: BackpropClassifier(random_state=s),
            "retrograd BackpropClassifier float32": lambda s: BackpropClassifier(
                random_state=s, dtype="float32"
            ),
            # Not the same model: Pineda's recurrent net (32 units) + a linear read-out.
            "retrograd FixedPointClassifier": lambda s: FixedPointClassifier(random_state=s),
        }
    return {
        "sklearn MLPRegressor": lambda s: MLPRegressor(random_state=s),
        "retrograd BackpropRegressor": lambda s: BackpropRegressor(random_state=s),
        "retrograd BackpropRegressor float32": lambda s: BackpropRegressor(
            random_state=s, dtype="float32"
        ),
    }


def _pipeline(est: Any, task: str) -> Any:
    from sklearn.compose import TransformedTargetRegressor
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    if task == "regression":
        est = TransformedTargetRegressor(regressor=est, transformer=StandardScaler())
    return make_pipeline(StandardScaler(), est)


def _n_iter(pipe: Any) -> int:
    est = pipe[-1]
    est = getattr(est, "regressor_", est)
    return int(est.n_iter_)


def run(quick: bool = False) -> list[dict]:
    """Fit every contender on every dataset and seed; one row per (dataset, contender)."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.model_selection import train_test_split
    from threadpoolctl import threadpool_limits

    seeds = SEEDS_QUICK if quick else SEEDS_FULL
    rows = []
    with threadpool_limits(1), warnings.catch_warnings():
        # max_iter=200 is hit on some datasets by both libraries alike; the n_iter column
        # shows it.
        warnings.simplefilter("ignore", ConvergenceWarning)
        for name in DATASETS:
            X, y = _load(name)
            task = "regression" if name == "diabetes" else "classification"
            for contender, make in _contenders(task).items():
                scores, times, iters = [], [], []
                for seed in seeds:
                    X_tr, X_te, y_tr, y_te = train_test_split(
                        X,
                        y,
                        test_size=0.25,
                        random_state=seed,
                        stratify=y if task == "classification" else None,
                    )
                    pipe = _pipeline(make(seed), task)
                    t0 = time.perf_counter()
                    pipe.fit(X_tr, y_tr)
                    times.append(time.perf_counter() - t0)
                    scores.append(float(pipe.score(X_te, y_te)))
                    iters.append(_n_iter(pipe))
                rows.append(
                    {
                        "dataset": name,
                        "task": task,
                        "metric": "R^2" if task == "regression" else "accuracy",
                        "contender": contender,
                        "n_train": int(X_tr.shape[0]),
                        "n_test": int(X_te.shape[0]),
                        "n_features": int(X.shape[1]),
                        "seeds": list(seeds),
                        "scores": scores,
                        "score_mean": statistics.fmean(scores),
                        "score_std": statistics.pstdev(scores),
                        "fit_s": times,
                        "fit_s_median": statistics.median(times),
                        "n_iter_mean": statistics.fmean(iters),
                    }
                )
    return rows


def markdown(rows: list[dict]) -> str:
    lines = [
        "| dataset | contender | held-out score (mean ± std) | fit time (median) | epochs (mean) |",
        "|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['dataset']} ({r['n_train']}/{r['n_test']}) | {r['contender']} | "
            f"{r['metric']} {r['score_mean']:.4f} ± {r['score_std']:.4f} | "
            f"{r['fit_s_median']:.3f} s | {r['n_iter_mean']:.1f} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2 seeds instead of 5")
    args = parser.parse_args()
    rows = run(quick=args.quick)
    print(markdown(rows))


if __name__ == "__main__":
    main()
