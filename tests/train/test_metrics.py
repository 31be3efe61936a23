"""accuracy and confusion_matrix, checked against scikit-learn."""

from __future__ import annotations

import numpy as np
import pytest

from retrograd.train.metrics import accuracy, confusion_matrix


def test_accuracy_forms():
    logits = np.array([[2.0, 1.0], [0.0, 3.0], [1.0, 0.0], [0.0, 1.0]])
    assert accuracy(logits, np.array([0, 1, 1, 1])) == 0.75
    assert accuracy(logits, np.eye(2)[[0, 1, 1, 1]]) == 0.75  # one-hot targets
    probs = np.array([[0.9], [0.2], [0.6]])
    assert accuracy(probs, np.array([[1.0], [0.0], [0.0]])) == pytest.approx(2 / 3)
    assert accuracy(np.array([1.5, -2.0]), np.array([1, 0]), threshold=0.0) == 1.0
    with pytest.raises(ValueError, match="4 samples, target has 3"):
        accuracy(logits, np.array([0, 1, 1]))


def test_confusion_matrix_matches_sklearn(rng):
    skm = pytest.importorskip("sklearn.metrics")
    t = rng.integers(0, 5, 200)
    p = rng.integers(0, 5, 200)
    np.testing.assert_array_equal(
        confusion_matrix(t, p, num_classes=5), skm.confusion_matrix(t, p, labels=range(5))
    )
    scores = np.eye(5)[p] + 0.01
    np.testing.assert_array_equal(confusion_matrix(t, scores, 5), confusion_matrix(t, p, 5))
    assert confusion_matrix(t, p, 5).sum() == 200


def test_confusion_matrix_errors():
    with pytest.raises(ValueError, match="num_classes=2"):
        confusion_matrix(np.array([0, 2]), np.array([0, 1]), num_classes=2)
    with pytest.raises(ValueError, match="integer class labels"):
        confusion_matrix(np.array([0.5]), np.array([0]))
