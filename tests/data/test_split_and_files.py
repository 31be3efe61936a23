"""train_test_split, the shipped digits and the NPZ/CSV loaders."""

from __future__ import annotations

import numpy as np
import pytest

import retrograd as rg
from retrograd.data import load_csv, load_digits, load_npz, train_test_split


def test_split_sizes_and_disjoint():
    X = np.arange(40).reshape(20, 2)
    y = np.arange(20)
    X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_size=0.25, seed=0)
    assert X_tr.shape == (15, 2) and X_te.shape == (5, 2)
    assert sorted(np.concatenate([y_tr, y_te]).tolist()) == list(range(20))
    assert np.array_equal(X_tr[:, 0] // 2, y_tr)  # rows stay paired
    again = train_test_split(X, y, test_size=0.25, seed=0)
    assert np.array_equal(again[3], y_te)
    assert train_test_split(X, y, test_size=3, shuffle=False)[3].tolist() == [17, 18, 19]


def test_stratified_split_keeps_proportions():
    y = np.array([0] * 60 + [1] * 30 + [2] * 10)
    X = np.arange(100)[:, None]
    _, _, y_tr, y_te = train_test_split(X, y, test_size=0.2, seed=1, stratify=y)
    assert np.bincount(y_te).tolist() == [12, 6, 2]
    assert np.bincount(y_tr).tolist() == [48, 24, 8]


def test_split_errors():
    with pytest.raises(ValueError, match="same number of samples"):
        train_test_split(np.zeros((5, 2)), np.zeros(4))
    with pytest.raises(ValueError, match=r"in \(0, 1\)"):
        train_test_split(np.zeros((5, 2)), test_size=1.5)
    with pytest.raises(ValueError, match="only 1 sample"):
        y = np.array([0, 0, 0, 1])
        train_test_split(np.zeros((4, 1)), y, test_size=0.5, stratify=y)


def test_load_digits_shipped():
    X, y = load_digits()
    assert X.shape == (1797, 64) and X.dtype == np.float32
    assert y.shape == (1797,) and y.dtype == np.int64
    assert X.min() == 0 and X.max() == 16
    assert np.bincount(y).tolist() == [178, 182, 177, 183, 181, 182, 181, 179, 174, 180]


def test_load_digits_matches_sklearn():
    sk = pytest.importorskip("sklearn.datasets")
    ref = sk.load_digits()
    X, y = load_digits(dtype="float64")
    assert np.array_equal(X, ref.data) and np.array_equal(y, ref.target)


def test_license_file_ships():
    from importlib import resources

    text = resources.files("retrograd.data").joinpath("DIGITS_LICENSE.txt").read_text()
    assert "CC BY 4.0" in text and "Alpaydin" in text


def test_load_npz(tmp_path):
    p = tmp_path / "d.npz"
    np.savez(p, X=np.ones((3, 2)), y=np.arange(3))
    d = load_npz(p)
    assert set(d) == {"X", "y"}
    X, y = load_npz(p, keys=("X", "y"))
    assert X.shape == (3, 2) and y.tolist() == [0, 1, 2]
    with pytest.raises(ValueError, match=r"no array\(s\) \['z'\]"):
        load_npz(p, keys=("z",))
    obj = tmp_path / "o.npz"
    np.savez(obj, a=np.array([{"x": 1}], dtype=object))
    with pytest.raises(ValueError, match="holds Python objects"):
        load_npz(obj)
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"not a zip")
    with pytest.raises(ValueError, match=r"not an \.npz archive"):
        load_npz(bad)
    with pytest.raises(FileNotFoundError):
        load_npz(tmp_path / "missing.npz")


def test_load_csv(tmp_path):
    p = tmp_path / "d.csv"
    p.write_text("id,a,b,label\n1,0.5,2,setosa\n2,1.5,3,virginica\n3,2,4,setosa\n")
    X, y, classes = load_csv(p, target="label", skip_columns=["id"], return_classes=True)
    assert X.dtype == np.float32 and X.tolist() == [[0.5, 2], [1.5, 3], [2, 4]]
    assert y.tolist() == [0, 1, 0] and classes == ["setosa", "virginica"]
    q = tmp_path / "n.csv"
    q.write_text("1,2,0\n3,4,1\n")
    X, y = load_csv(q)  # no header detected, last column the target
    assert y.dtype == np.int64 and y.tolist() == [0, 1] and X.shape == (2, 2)
    r = tmp_path / "r.csv"
    r.write_text("x,t\n1,0.25\n2,0.5\n")
    assert load_csv(r, target="t")[1].dtype == np.float32


def test_load_csv_errors(tmp_path):
    p = tmp_path / "bad.csv"
    p.write_text("a,b,label\n1,2,0\n3,,1\n")
    with pytest.raises(ValueError, match=r"1 missing value\(s\), the first at line 3, column 'b'"):
        load_csv(p, target="label")
    X, y = load_csv(p, target="label", missing="nan")
    assert np.isnan(X[1, 1]) and y.tolist() == [0, 1]
    t = tmp_path / "text.csv"
    t.write_text("a,b,label\n1,2,0\n3,red,1\n")
    with pytest.raises(ValueError, match=r"line 3, column 'b': 'red' is not a number"):
        load_csv(t, target="label")
    with pytest.raises(ValueError, match="is not a column"):
        load_csv(p, target="nope")
    q = tmp_path / "ragged.csv"
    q.write_text("1,2,3\n1,2\n")
    with pytest.raises(ValueError, match="line 2 has 2 columns"):
        load_csv(q)
    e = tmp_path / "empty.csv"
    e.write_text("")
    with pytest.raises(ValueError, match="empty"):
        load_csv(e)
    # NaN is a missing value: refused by default; kept as NaN on request, and then the
    # dataset refuses it, naming X.
    n = tmp_path / "nan.csv"
    n.write_text("1,nan,0\n3,4,1\n")
    with pytest.raises(ValueError, match="1 missing value"):
        load_csv(n)
    X, y = load_csv(n, missing="nan")
    with pytest.raises(ValueError, match="X contains 1 non-finite"):
        rg.data.ArrayDataset(X, y)
