"""The solver options on EquilibriumClassifier (CLI models) and FixedPointClassifier."""

from __future__ import annotations

import numpy as np
import pytest

import retrograd as rg
from retrograd.nn import EquilibriumClassifier


def test_equilibrium_classifier_takes_and_saves_solver_options(tmp_path):
    m = EquilibriumClassifier(8, 5, 3, solver="anderson", anderson_m=3, backward="phantom",
                              backward_max_iter=4, backward_solver="broyden")  # fmt: skip
    fp = m.fixed_point
    assert (fp.solver, fp.anderson_m, fp.backward, fp.backward_max_iter) == (
        "anderson", 3, "phantom", 4,
    )  # fmt: skip
    x = rg.randn(4, 8)
    y = m(x).data
    rg.save(m, tmp_path / "m.safetensors")
    back = rg.load(tmp_path / "m.safetensors")
    assert back.get_config() == m.get_config()
    assert back.fixed_point.backward_solver == "broyden"
    np.testing.assert_array_equal(back(x).data, y)
    # A model that uses none of them records the same keys as before.
    assert set(EquilibriumClassifier(8, 5, 3).get_config()) == {
        "in_features", "hidden_size", "out_features", "max_norm", "tol", "max_iter",
    }  # fmt: skip


@pytest.mark.parametrize(
    "kwargs, exc, match",
    [
        ({"solver": "newton"}, ValueError, "EquilibriumClassifier: solver must be one of"),
        ({"broyden_m": 0}, ValueError, "EquilibriumClassifier: broyden_m must be an int >= 1"),
        ({"tol": -1.0}, ValueError, "EquilibriumClassifier: tol must be"),
        ({"solvr": "iter"}, TypeError, r"EquilibriumClassifier: unexpected solver option"),
    ],
)
def test_equilibrium_classifier_bad_options(kwargs, exc, match):
    with pytest.raises(exc, match=match):
        EquilibriumClassifier(8, 5, 3, **kwargs)


def test_fixed_point_classifier_solver_parameters():
    pytest.importorskip("sklearn")
    from sklearn.base import clone
    from sklearn.datasets import load_iris

    from retrograd.sklearn import FixedPointClassifier

    X, y = load_iris(return_X_y=True)
    clf = FixedPointClassifier(n_units=6, max_iter=3, relax_solver="broyden", broyden_m=4,
                               backward="phantom", backward_max_iter=3, random_state=0)  # fmt: skip
    assert clone(clf).get_params()["relax_solver"] == "broyden"
    with pytest.warns(Warning):
        clf.fit(X, y)
    s = clf.model_[0].solver
    assert (s.solver, s.backward_solver, s.broyden_m, s.backward, s.backward_max_iter) == (
        "broyden", "broyden", 4, "phantom", 3,
    )  # fmt: skip
    assert s.backward_damping == s.damping == 1.0  # None follows damping
    assert FixedPointClassifier().get_params()["relax_solver"] == "iter"
    for kwargs, match in (
        ({"relax_solver": "x"}, "FixedPointClassifier: relax_solver must be one of"),
        ({"broyden_m": 0}, "FixedPointClassifier: broyden_m must be an int >= 1, got 0"),
        ({"backward_damping": 2.0}, "FixedPointClassifier: backward_damping must be in"),
        ({"anderson_lam": -1.0}, "FixedPointClassifier: anderson_lam"),
    ):
        with pytest.raises(ValueError, match=match):
            FixedPointClassifier(**kwargs).fit(X, y)
