"""retrograd.sklearn: scikit-learn's own estimator checks, and the estimators' behaviour."""

from __future__ import annotations

import subprocess
import sys
import warnings

import numpy as np
import pytest

pytest.importorskip("sklearn")

from sklearn.base import clone  # noqa: E402
from sklearn.datasets import load_iris, make_classification, make_regression  # noqa: E402
from sklearn.exceptions import ConvergenceWarning  # noqa: E402
from sklearn.model_selection import GridSearchCV, KFold, cross_val_score  # noqa: E402
from sklearn.neural_network import MLPClassifier  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402
from sklearn.utils.estimator_checks import (  # noqa: E402
    check_sample_weight_equivalence_on_dense_data,
    parametrize_with_checks,
)

import retrograd as rg  # noqa: E402
from retrograd.sklearn import (  # noqa: E402
    BackpropClassifier,
    BackpropRegressor,
    FixedPointClassifier,
)


@pytest.fixture(autouse=True, scope="module")
def _one_blas_thread():
    # Small matrices: a multithreaded BLAS on a busy 2-core machine is ~20x slower.
    threadpoolctl = pytest.importorskip("threadpoolctl")
    with threadpoolctl.threadpool_limits(1):
        yield


@parametrize_with_checks(
    [
        BackpropClassifier(random_state=0),
        BackpropRegressor(random_state=0),
        FixedPointClassifier(random_state=0),
    ]
)
def test_sklearn_estimator_checks(estimator, check):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        check(estimator)


def test_fixed_point_sample_weight_equivalence_at_loose_relax_tol():
    # Each sample's relaxation (forward and adjoint) stops on its own residual, so a row's
    # fixed point does not depend on the other rows of its batch: a fit on repeated rows
    # equals the fit on weighted rows (to the check's rtol=1e-7) even at a loose relax_tol,
    # not only at the default one of the estimator checks above. Under the old whole-batch
    # rule (stop="batch") it failed at the default relax_tol=1e-4 and passed only at 1e-10.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        check_sample_weight_equivalence_on_dense_data(
            "FixedPointClassifier", FixedPointClassifier(random_state=0, relax_tol=1e-2)
        )


# ------------------------------------------------------------------------ helpers
@pytest.fixture(scope="module")
def iris():
    X, y = load_iris(return_X_y=True)
    return StandardScaler().fit_transform(X), y


@pytest.fixture(scope="module")
def reg_data():
    X, y = make_regression(n_samples=120, n_features=5, noise=5.0, random_state=0)
    return X, (y - y.mean()) / y.std()


def _quiet_fit(est, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return est.fit(*args, **kwargs)


# ------------------------------------------------------------ import and packaging
def test_import_retrograd_does_not_import_sklearn():
    code = "import sys, retrograd; assert 'sklearn' not in sys.modules; print('ok')"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"


def test_lazy_attribute_is_the_module():
    import retrograd.sklearn as mod

    assert rg.sklearn is mod


# ---------------------------------------------------------------- hyperparameters
BAD_PARAMS = [
    ("hidden_layer_sizes", (10, 0)),
    ("hidden_layer_sizes", "wide"),
    ("activation", "swish"),
    ("loss", "hinge"),
    ("optimizer", "adagrad"),
    ("learning_rate", 0.0),
    ("momentum", 1.5),
    ("batch_size", 0),
    ("batch_size", "half"),
    ("max_iter", 0),
    ("tol", -1.0),
    ("n_iter_no_change", 0),
    ("validation_fraction", 1.0),
    ("target_loss", "low"),
    ("alpha", -0.1),
    ("dropout", 1.0),
    ("label_smoothing", 1.0),
    ("class_weight", "uniform"),
    ("dtype", "float16"),
    ("early_stopping", "yes"),
]


@pytest.mark.parametrize(("name", "value"), BAD_PARAMS)
def test_invalid_hyperparameter_is_named_in_fit(iris, name, value):
    X, y = iris
    est = BackpropClassifier(**{name: value})  # __init__ stores, never validates
    assert est.get_params()[name] is value
    with pytest.raises(ValueError, match=rf"BackpropClassifier: {name} must be .*got "):
        est.fit(X, y)


@pytest.mark.parametrize(
    ("est", "name"),
    [
        (BackpropRegressor(loss="cross_entropy"), "loss"),
        (BackpropRegressor(huber_delta=0.0), "huber_delta"),
        (FixedPointClassifier(activation="relu"), "activation"),
        (FixedPointClassifier(contraction=1.0), "contraction"),
        (FixedPointClassifier(damping=0.0), "damping"),
        (FixedPointClassifier(backward="magic"), "backward"),
        (FixedPointClassifier(n_units=0), "n_units"),
    ],
)
def test_invalid_hyperparameter_other_estimators(iris, est, name):
    X, y = iris
    with pytest.raises(ValueError, match=rf"{type(est).__name__}: {name} must be"):
        est.fit(X, y)


# --------------------------------------------------------------- classification
def test_classifier_attributes_and_probabilities(iris):
    X, y = iris
    clf = BackpropClassifier((16,), learning_rate=0.01, max_iter=60, random_state=0)
    _quiet_fit(clf, X, y)
    assert clf.score(X, y) > 0.9
    np.testing.assert_array_equal(clf.classes_, [0, 1, 2])
    assert clf.n_features_in_ == 4
    assert clf.n_iter_ == len(clf.loss_curve_) <= 60
    assert clf.best_loss_ == min(clf.loss_curve_)
    assert clf.stop_reason_ in ("max_iter", "no_improvement")
    assert clf.validation_scores_ is None and clf.validation_loss_curve_ is None
    proba = clf.predict_proba(X)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    np.testing.assert_allclose(np.log(proba), clf.predict_log_proba(X), atol=1e-10)
    np.testing.assert_array_equal(clf.predict(X), proba.argmax(axis=1))
    assert isinstance(clf.model_, rg.nn.Sequential)


def test_binary_string_labels_decision_function(iris):
    X, y = iris
    labels = np.where(y == 0, "setosa", "other")
    clf = BackpropClassifier((8,), learning_rate=0.01, max_iter=30, random_state=0)
    _quiet_fit(clf, X, labels)
    d = clf.decision_function(X)
    assert d.shape == (len(X),)
    np.testing.assert_array_equal(clf.predict(X), clf.classes_[(d > 0).astype(int)])
    assert clf.score(X, labels) > 0.95


def test_convergence_warning_when_max_iter_is_hit(iris):
    X, y = iris
    clf = BackpropClassifier((8,), max_iter=3, random_state=0)
    with pytest.warns(ConvergenceWarning, match="maximum iterations \\(3\\)"):
        clf.fit(X, y)
    assert clf.stop_reason_ == "max_iter" and clf.n_iter_ == 3


def test_target_loss_stops_training(iris):
    X, y = iris
    clf = BackpropClassifier((16,), learning_rate=0.05, target_loss=0.3, random_state=0)
    clf.fit(X, y)
    assert clf.stop_reason_ == "target_loss"
    assert clf.loss_curve_[-1] <= 0.3 < min(clf.loss_curve_[:-1])


def test_early_stopping_records_validation_and_keeps_best(iris):
    X, y = iris
    clf = BackpropClassifier(
        (16,), learning_rate=0.01, early_stopping=True, n_iter_no_change=3, random_state=0
    )
    _quiet_fit(clf, X, y)
    assert len(clf.validation_scores_) == len(clf.validation_loss_curve_) == clf.n_iter_
    assert clf.best_validation_score_ == max(clf.validation_scores_)
    assert clf.stop_reason_ in ("early_stopping", "max_iter")
    with pytest.raises(ValueError, match="partial_fit does not support early_stopping"):
        clf.partial_fit(X, y)


@pytest.mark.parametrize("optimizer", ["sgd", "adam", "adamw", "rmsprop", "lbfgs"])
def test_every_optimizer_learns(iris, optimizer):
    X, y = iris
    lr = 0.1 if optimizer == "sgd" else 0.01
    clf = BackpropClassifier((10,), optimizer=optimizer, learning_rate=lr, max_iter=40)
    _quiet_fit(clf.set_params(random_state=0), X, y)
    assert clf.loss_curve_[-1] < 0.5 * clf.loss_curve_[0]
    assert clf.score(X, y) > 0.85
    if optimizer == "lbfgs":  # full batch, quasi-Newton: far lower than one epoch of SGD
        assert clf.loss_curve_[-1] < 0.1


@pytest.mark.parametrize("batch_size", [1, 16, "full", "auto", 10_000])
def test_batch_sizes(iris, batch_size):
    X, y = iris
    clf = BackpropClassifier((8,), batch_size=batch_size, learning_rate=0.01, max_iter=5)
    _quiet_fit(clf.set_params(random_state=0), X, y)
    assert clf.n_iter_ == 5 and np.isfinite(clf.loss_curve_).all()


@pytest.mark.parametrize(
    ("loss", "extra"), [("gce", {}), ("cross_entropy", {"label_smoothing": 0.1})]
)
def test_robust_classification_losses(iris, loss, extra):
    X, y = iris
    rng = np.random.default_rng(0)
    noisy = y.copy()
    flip = rng.random(len(y)) < 0.2  # 20% label noise
    noisy[flip] = rng.integers(0, 3, flip.sum())
    clf = BackpropClassifier((16,), loss=loss, learning_rate=0.01, max_iter=100, **extra)
    _quiet_fit(clf.set_params(random_state=0), X, noisy)
    assert clf.score(X, y) > 0.85  # scored against the clean labels


def test_class_weight_balanced_and_dict_shift_predictions():
    X, y = make_classification(
        n_samples=200, n_features=4, weights=[0.9, 0.1], random_state=0, class_sep=0.5
    )
    kw = dict(hidden_layer_sizes=(8,), learning_rate=0.01, max_iter=40, random_state=0)
    plain = _quiet_fit(BackpropClassifier(**kw), X, y)
    balanced = _quiet_fit(BackpropClassifier(class_weight="balanced", **kw), X, y)
    heavy = _quiet_fit(BackpropClassifier(class_weight={0: 1.0, 1: 9.0}, **kw), X, y)
    n_plain = (plain.predict(X) == 1).sum()
    assert (balanced.predict(X) == 1).sum() > n_plain
    assert (heavy.predict(X) == 1).sum() > n_plain
    with pytest.raises(ValueError, match="class_weight='balanced' is not supported"):
        BackpropClassifier(class_weight="balanced").partial_fit(X, y, classes=[0, 1])


def test_sample_weight_zero_equals_dropping_rows(iris):
    X, y = iris
    w = np.ones(len(y))
    w[::3] = 0.0
    kw = dict(hidden_layer_sizes=(8,), batch_size="full", max_iter=20, random_state=0)
    a = _quiet_fit(BackpropClassifier(**kw), X, y, sample_weight=w)
    b = _quiet_fit(BackpropClassifier(**kw), X[w > 0], y[w > 0])
    np.testing.assert_allclose(a.predict_proba(X), b.predict_proba(X), rtol=1e-9)


def test_partial_fit_classes_and_continuation(iris):
    X, y = iris
    clf = BackpropClassifier((8,), learning_rate=0.05, random_state=0)
    with pytest.raises(ValueError, match="classes must be passed on the first call"):
        clf.partial_fit(X, y)
    clf.partial_fit(X[y < 2], y[y < 2], classes=[0, 1, 2])
    np.testing.assert_array_equal(clf.classes_, [0, 1, 2])
    for _ in range(30):
        clf.partial_fit(X, y)
    assert clf.n_iter_ == 31 and clf.stop_reason_ == "partial_fit"
    assert clf.loss_curve_[-1] < clf.loss_curve_[1]
    assert clf.score(X, y) > 0.8
    with pytest.raises(ValueError, match="not in classes_"):
        clf.partial_fit(X[:3], np.array([0, 1, 7]))
    with pytest.raises(ValueError, match="X has 3 features"):
        clf.partial_fit(X[:, :3], y)


def test_warm_start_continues(iris):
    X, y = iris
    clf = BackpropClassifier((8,), max_iter=5, warm_start=True, random_state=0)
    _quiet_fit(clf, X, y)
    model = clf.model_
    _quiet_fit(clf, X, y)
    assert clf.model_ is model and clf.n_iter_ == 10 and len(clf.loss_curve_) == 10


def test_single_class_is_refused(iris):
    X, _ = iris
    with pytest.raises(ValueError, match="one class"):
        BackpropClassifier().fit(X, np.zeros(len(X)))
    with pytest.raises(ValueError, match="multilabel"):
        BackpropClassifier().fit(X, np.eye(2)[np.arange(len(X)) % 2].astype(int))


def test_same_seed_same_model_and_global_rng_untouched(iris):
    X, y = iris
    rg.manual_seed(123)
    before = rg.get_rng_state()
    a = _quiet_fit(BackpropClassifier((8,), dropout=0.2, max_iter=5, random_state=7), X, y)
    assert rg.get_rng_state() == before  # fit draws from its own stream
    b = _quiet_fit(BackpropClassifier((8,), dropout=0.2, max_iter=5, random_state=7), X, y)
    np.testing.assert_array_equal(a.predict_proba(X), b.predict_proba(X))
    c = _quiet_fit(BackpropClassifier((8,), dropout=0.2, max_iter=5, random_state=8), X, y)
    assert not np.array_equal(a.predict_proba(X), c.predict_proba(X))


# -------------------------------------------------------------------- regression
@pytest.mark.parametrize("loss", ["squared_error", "absolute_error", "huber"])
def test_regressor_losses(reg_data, loss):
    X, y = reg_data
    reg = BackpropRegressor((32,), loss=loss, learning_rate=0.01, max_iter=100, random_state=0)
    _quiet_fit(reg, X, y)
    assert reg.score(X, y) > 0.9
    assert reg.predict(X).shape == (len(X),)


def test_regressor_two_dimensional_y(reg_data):
    X, y = reg_data
    Y = np.stack([y, -2 * y], axis=1)
    reg = _quiet_fit(BackpropRegressor((32,), learning_rate=0.01, max_iter=100), X, Y)
    assert reg.n_outputs_ == 2 and reg.predict(X).shape == (len(X), 2)
    assert reg.score(X, Y) > 0.9
    col = _quiet_fit(BackpropRegressor((4,), max_iter=2), X, y[:, None])
    assert col.predict(X).shape == (len(X), 1)
    with pytest.raises(ValueError, match="y has 1 outputs"):
        reg.partial_fit(X, y)


def test_regressor_partial_fit_and_squared_error_scale(reg_data):
    X, y = reg_data
    # A tiny step leaves the weights where they were, so the recorded loss can be recomputed.
    reg = BackpropRegressor((), optimizer="sgd", learning_rate=1e-12, batch_size="full", alpha=0)
    reg.partial_fit(X, y)
    assert reg.n_iter_ == 1 and reg.stop_reason_ == "partial_fit"
    # squared_error is MLPRegressor's 0.5 * mean((y - f)^2), so learning rates carry over.
    np.testing.assert_allclose(reg.loss_curve_[0], 0.5 * np.mean((reg.predict(X) - y) ** 2))
    reg.partial_fit(X, y)
    assert reg.n_iter_ == 2 and len(reg.loss_curve_) == 2


# ------------------------------------------------------------------ dtypes
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize(
    "make", [BackpropClassifier, BackpropRegressor, FixedPointClassifier], ids=lambda c: c.__name__
)
def test_dtypes(iris, dtype, make):
    X, y = iris
    target = y if make is not BackpropRegressor else X[:, 0] + y
    est = make(max_iter=30, random_state=0, dtype=dtype, learning_rate=0.01)
    _quiet_fit(est, X.astype(np.float64), target)
    assert all(p.dtype == np.dtype(dtype) for p in est.model_.parameters())
    out = est.predict_proba(X) if hasattr(est, "predict_proba") else est.predict(X)
    assert out.dtype == np.dtype(dtype)
    assert est.score(X, target) > 0.8


# ------------------------------------------------------- sklearn compositions
def test_pipeline_grid_search_cross_val(iris):
    X, y = load_iris(return_X_y=True)
    pipe = make_pipeline(
        StandardScaler(), BackpropClassifier((8,), learning_rate=0.01, random_state=0)
    )
    grid = GridSearchCV(pipe, {"backpropclassifier__max_iter": [2, 60]}, cv=3, error_score="raise")
    _quiet_fit(grid, X, y)
    assert grid.best_params_ == {"backpropclassifier__max_iter": 60}
    assert grid.best_score_ > 0.85
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        scores = cross_val_score(
            make_pipeline(
                StandardScaler(), BackpropRegressor((8,), learning_rate=0.01, random_state=0)
            ),
            X[:, :3],
            X[:, 3],
            cv=KFold(3, shuffle=True, random_state=0),
        )
    assert scores.shape == (3,) and scores.min() > 0.5


def test_clone_copies_params_not_fit(iris):
    X, y = iris
    clf = _quiet_fit(BackpropClassifier((8,), max_iter=3, random_state=0), X, y)
    twin = clone(clf)
    assert twin.get_params() == clf.get_params()
    assert not hasattr(twin, "model_")


# ----------------------------------------------------------- model files
def test_trained_model_is_a_saveable_module(iris, tmp_path):
    X, y = iris
    clf = _quiet_fit(BackpropClassifier((8,), max_iter=10, random_state=0), X, y)
    path = tmp_path / "clf.safetensors"
    rg.save(clf.model_, path)
    net = rg.load(path)
    np.testing.assert_allclose(net(rg.tensor(X)).data, clf.decision_function(X), rtol=1e-12)


# ----------------------------------------------------------- fixed-point net
def test_fixed_point_classifier_learns_and_stays_contracting(iris, tmp_path):
    X, y = iris
    clf = FixedPointClassifier(n_units=12, max_iter=100, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # no relaxation failure anywhere
        _quiet_fit(clf, X, y)
    assert clf.score(X, y) > 0.9
    assert clf.n_relaxation_failures_ == 0
    net = clf.model_[0]
    assert isinstance(net, rg.nn.RecurrentNet)
    assert np.linalg.norm(net.weight.data, 2) * 0.25 <= 0.9 + 1e-12
    path = tmp_path / "fp.safetensors"
    rg.save(clf.model_, path)
    loaded = rg.load(path)
    # The loaded net relaxes as the estimator predicts (same tolerance, per-sample stops).
    np.testing.assert_allclose(loaded(rg.tensor(X)).data, clf.decision_function(X), atol=1e-12)


def test_fixed_point_without_contraction_reports_failures(iris):
    X, y = iris
    clf = FixedPointClassifier(
        n_units=12, activation="tanh", contraction=None, relax_max_iter=2, max_iter=3
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        clf.set_params(random_state=0).fit(X, y)
    summary = [w for w in caught if "relaxations did not reach relax_tol" in str(w.message)]
    assert len(summary) == 1 and summary[0].category is ConvergenceWarning
    assert summary[0].filename == __file__  # attributed to the caller of fit, not retrograd
    assert not any(w.category is RuntimeWarning for w in caught)  # one summary, no flood
    assert clf.n_relaxation_failures_ > 0


# ------------------------------------------------------------- vs scikit-learn
def test_matches_mlp_classifier_on_same_hyperparameters(iris):
    X, y = iris
    kw = dict(hidden_layer_sizes=(16,), alpha=1e-4, batch_size=32, max_iter=50, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ours = BackpropClassifier(learning_rate=0.01, **kw).fit(X, y).score(X, y)
        theirs = MLPClassifier(learning_rate_init=0.01, **kw).fit(X, y).score(X, y)
    assert ours >= theirs - 0.03
