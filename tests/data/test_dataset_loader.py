"""ArrayDataset/TensorDataset validation and the DataLoader's batching and resumability."""

from __future__ import annotations

import json

import numpy as np
import pytest

import retrograd as rg
from retrograd.data import ArrayDataset, DataLoader, TensorDataset


def _xy(n=10, d=3):
    return np.arange(n * d, dtype=np.float64).reshape(n, d), np.arange(n) % 3


def test_array_dataset_dtypes():
    X, y = _xy()
    ds = ArrayDataset(X.astype(np.uint8), y.astype(np.int32))
    assert ds.X.dtype == np.float32 and ds.y.dtype == np.int64
    assert len(ds) == 10 and ds[3][0].tolist() == [9.0, 10.0, 11.0]
    reg = ArrayDataset(X, X[:, :1], dtype="float64")
    assert reg.X.dtype == np.float64 and reg.y.dtype == np.float64


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_nonfinite_features_raise_naming_argument(bad):
    X, y = _xy()
    X[4, 1] = bad
    with pytest.raises(ValueError, match=r"ArrayDataset: X contains 1 non-finite.*\(4, 1\)"):
        ArrayDataset(X, y)
    with pytest.raises(ValueError, match=r"mydata: tensors\[0\]"):
        TensorDataset(X, y, name="mydata")


def test_float64_overflow_to_float32_is_caught():
    X = np.full((3, 2), 1e300)
    with pytest.raises(ValueError, match="after conversion"):
        ArrayDataset(X)


def test_empty_and_mismatched():
    with pytest.raises(ValueError, match="empty"):
        ArrayDataset(np.zeros((0, 3)), np.zeros(0, dtype=int))
    with pytest.raises(ValueError, match=r"same number of samples.*X=5, y=4"):
        ArrayDataset(np.zeros((5, 3)), np.zeros(4, dtype=int))
    with pytest.raises(TypeError, match="y must be numeric"):
        ArrayDataset(np.zeros((2, 3)), np.array(["a", "b"]))


@pytest.mark.parametrize("bs", [0, -1, 2.5, True])
def test_bad_batch_size(bs):
    with pytest.raises(ValueError, match="batch_size must be a positive int"):
        DataLoader(ArrayDataset(*_xy()), batch_size=bs)


def test_batching_modes_cover_every_sample_once():
    X, y = _xy(10)
    ds = ArrayDataset(X, y)
    online = list(DataLoader(ds, batch_size=1))
    assert len(online) == 10 and all(xb.shape == (1, 3) for xb, _ in online)
    mini = list(DataLoader(ds, batch_size=4))
    assert [xb.shape[0] for xb, _ in mini] == [4, 4, 2]
    assert len(DataLoader(ds, batch_size=4)) == 3
    assert [xb.shape[0] for xb, _ in DataLoader(ds, batch_size=4, drop_last=True)] == [4, 4]
    full = list(DataLoader(ds, batch_size=None, shuffle=True))
    assert len(full) == 1 and full[0][0].shape == (10, 3)
    assert full[0][1].dtype == np.int64 and full[0][0].dtype == np.float32
    loader = DataLoader(ds, batch_size=3, shuffle=True, seed=1)
    seen = np.concatenate([yb.data for _, yb in loader])
    rows = np.concatenate([xb.data[:, 0] for xb, _ in loader])
    assert sorted(seen.tolist()) == sorted(y.tolist())
    assert sorted(rows.tolist()) == sorted(X[:, 0].tolist())


def test_shuffle_is_seeded_and_changes_per_epoch():
    ds = ArrayDataset(*_xy(50))
    a = DataLoader(ds, batch_size=50, shuffle=True, seed=7)
    b = DataLoader(ds, batch_size=50, shuffle=True, seed=7)
    e1a, e2a = [next(iter(a))[1].data.copy() for _ in range(2)]
    e1b = next(iter(b))[1].data
    assert np.array_equal(e1a, e1b) and not np.array_equal(e1a, e2a)
    rg.manual_seed(3)
    c1 = next(iter(DataLoader(ds, batch_size=50, shuffle=True)))[1].data
    rg.manual_seed(3)
    c2 = next(iter(DataLoader(ds, batch_size=50, shuffle=True)))[1].data
    assert np.array_equal(c1, c2)


def test_state_dict_resumes_exactly_mid_epoch_and_is_json():
    ds = ArrayDataset(*_xy(23))
    ref = DataLoader(ds, batch_size=4, shuffle=True, seed=11)
    expected = [yb.data.tolist() for _ in range(3) for _, yb in ref]

    run = DataLoader(ds, batch_size=4, shuffle=True, seed=11)
    got = [yb.data.tolist() for _, yb in run]  # epoch 1
    it = iter(run)
    got += [next(it)[1].data.tolist() for _ in range(2)]  # 2 batches into epoch 2
    state = json.loads(json.dumps(run.state_dict()))
    resumed = DataLoader(ds, batch_size=4, shuffle=True, seed=999)
    resumed.load_state_dict(state)
    got += [yb.data.tolist() for _, yb in resumed]  # rest of epoch 2
    got += [yb.data.tolist() for _, yb in resumed]  # epoch 3
    assert got == expected


def test_generic_dataset_is_collated():
    class Squares(rg.data.Dataset):
        def __len__(self):
            return 5

        def __getitem__(self, i):
            return np.array([i, i * i], dtype=np.float32), i

    batches = list(DataLoader(Squares(), batch_size=2))
    assert batches[1][0].data.tolist() == [[2, 4], [3, 9]]
    assert batches[2][1].data.tolist() == [4]


def test_loader_rejects_bad_arguments():
    with pytest.raises(TypeError, match="must be a Dataset"):
        DataLoader(42)
    with pytest.raises(ValueError, match="drop_last"):
        DataLoader(ArrayDataset(*_xy(3)), batch_size=5, drop_last=True)
    with pytest.raises(ValueError, match="malformed"):
        DataLoader(ArrayDataset(*_xy(3))).load_state_dict({"nope": 1})
