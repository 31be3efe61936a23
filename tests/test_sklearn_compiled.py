"""The estimators train through a replayed step: same numbers as the eager loop, faster."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

pytest.importorskip("sklearn")
from sklearn.exceptions import ConvergenceWarning  # noqa: E402

import retrograd.sklearn as rs  # noqa: E402


@pytest.fixture
def data():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((90, 6))
    y = (X[:, 0] + X[:, 1] * X[:, 2] > 0).astype(int) + (X[:, 3] > 1)
    return X, y


_REAL_COMPILED_STEP = rs._BaseBackprop._compiled_step


def _fit(est, X, y, monkeypatch, compiled: bool, **fit_kw):
    monkeypatch.setattr(rs, "_MIN_COMPILED_STEPS", 8 if compiled else 10**9)
    steps = []

    def spy(self, p, n):
        s = _REAL_COMPILED_STEP(self, p, n)
        steps.append(s)
        return s

    monkeypatch.setattr(rs._BaseBackprop, "_compiled_step", spy)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est.fit(X, y, **fit_kw)
    return est, steps


def _state(est):
    return {k: v.copy() for k, v in est.model_.state_dict().items()}


@pytest.mark.parametrize(
    "make",
    [
        lambda: rs.BackpropClassifier((16,), max_iter=15, batch_size=20, random_state=0),
        lambda: rs.BackpropClassifier(
            (16, 8), activation="tanh", optimizer="sgd", dropout=0.2, alpha=1e-2,
            batch_size=32, max_iter=12, random_state=1, dtype="float32",
        ),
        lambda: rs.BackpropClassifier(
            (8,), early_stopping=True, max_iter=12, batch_size=16, random_state=2,
            label_smoothing=0.1,
        ),
        lambda: rs.BackpropRegressor((12,), max_iter=15, batch_size=25, random_state=0),
    ],
)  # fmt: skip
def test_replayed_fit_equals_eager_fit(data, monkeypatch, make):
    X, y = data
    if isinstance(make(), rs.BackpropRegressor):
        y = X[:, 0] * 2.0 - X[:, 1]
    eager, steps_e = _fit(make(), X, y, monkeypatch, compiled=False)
    fast, steps_c = _fit(make(), X, y, monkeypatch, compiled=True)
    assert steps_e == [None]
    (step,) = steps_c
    assert step.replays > 10 and step.eager_reason is None
    assert fast.loss_curve_ == eager.loss_curve_
    a, b = _state(eager), _state(fast)
    assert a.keys() == b.keys()
    for k in a:
        np.testing.assert_array_equal(a[k], b[k], err_msg=k)


def test_weighted_batches_and_unreplayable_models_still_train(data, monkeypatch):
    X, y = data
    w = np.linspace(0.5, 2.0, len(y))
    est, (step,) = _fit(
        rs.BackpropClassifier((8,), max_iter=5, batch_size=30, random_state=0),
        X, y, monkeypatch, compiled=True, sample_weight=w,
    )  # fmt: skip
    assert step.replays == 0 and step.recordings == 0  # weighted batches take the closure
    gce, (step,) = _fit(
        rs.BackpropClassifier((8,), loss="gce", max_iter=5, batch_size=30, random_state=0),
        X, y, monkeypatch, compiled=True,
    )  # fmt: skip
    assert step.replays == 0 and "neither an input" in step.eager_reason
    assert np.isfinite(gce.loss_curve_).all() and gce.loss_curve_[-1] < gce.loss_curve_[0]


def test_few_steps_and_lbfgs_do_not_record(data, monkeypatch):
    X, y = data
    _, steps = _fit(
        rs.BackpropClassifier((8,), optimizer="lbfgs", max_iter=5, random_state=0),
        X, y, monkeypatch, compiled=True,
    )  # fmt: skip
    assert steps == [None]
    est = rs.BackpropClassifier((8,), batch_size=30, random_state=0)
    monkeypatch.setattr(rs, "_MIN_COMPILED_STEPS", 8)
    est.partial_fit(X, y, classes=np.unique(y))  # 3 steps: not worth a recording
    assert len(est.loss_curve_) == 1
