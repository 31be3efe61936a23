"""Bad input surfaces from fit as a clear error, not a NumPy traceback or a wrong answer."""

from __future__ import annotations

import numpy as np
import pytest

import retrograd as rg
from retrograd.train import NonFiniteLossError, fit


def _setup(n_out=3):
    rg.manual_seed(0)
    net = rg.nn.Sequential(rg.nn.Linear(2, 4), rg.nn.Tanh(), rg.nn.Linear(4, n_out))
    return net, rg.optim.SGD(net.parameters(), lr=0.1)


def _data(n=12):
    X = np.random.default_rng(0).normal(size=(n, 2)).astype(np.float32)
    return X, np.arange(n) % 3


def test_nan_in_features():
    X, y = _data()
    X[5, 0] = np.nan
    net, opt = _setup()
    with pytest.raises(ValueError, match=r"train_data: X contains 1 non-finite value.*NaN"):
        fit(net, rg.nn.CrossEntropyLoss(), opt, (X, y), epochs=1, verbose=0)
    with pytest.raises(ValueError, match=r"val_data: X contains"):
        fit(net, rg.nn.CrossEntropyLoss(), opt, _data(), val_data=(X, y), epochs=1, verbose=0)


def test_empty_dataset():
    net, opt = _setup()
    with pytest.raises(ValueError, match="empty"):
        fit(
            net,
            rg.nn.CrossEntropyLoss(),
            opt,
            (np.zeros((0, 2)), np.zeros(0, int)),
            epochs=1,
            verbose=0,
        )


@pytest.mark.parametrize("bs", [0, -3])
def test_bad_batch_size(bs):
    net, opt = _setup()
    with pytest.raises(ValueError, match="batch_size must be a positive int"):
        fit(net, rg.nn.CrossEntropyLoss(), opt, _data(), batch_size=bs, epochs=1, verbose=0)


def test_mismatched_lengths():
    X, y = _data()
    net, opt = _setup()
    with pytest.raises(
        ValueError,
        match=r"train_data: arrays must have the same number.*X=12, "
        r"y=11",
    ):
        fit(net, rg.nn.CrossEntropyLoss(), opt, (X, y[:-1]), epochs=1, verbose=0)


def test_label_outside_number_of_classes():
    X, y = _data()
    y[-1] = 7  # not in the last batch of epoch 1 only: caught before any step
    net, opt = _setup(n_out=3)
    before = [p.data.copy() for p in net.parameters()]
    with pytest.raises(ValueError, match=r"train_data contains class label 7.*outputs 3 class"):
        fit(net, rg.nn.CrossEntropyLoss(), opt, (X, y), epochs=1, batch_size=4, verbose=0)
    assert all(np.array_equal(a, p.data) for a, p in zip(before, net.parameters()))
    y[-1] = -1
    with pytest.raises(ValueError, match="class label -1"):
        fit(net, rg.nn.CrossEntropyLoss(), opt, (X, y), epochs=1, verbose=0)
    yv = np.full(12, 3)
    with pytest.raises(ValueError, match="val_data contains class label 3"):
        fit(net, rg.nn.CrossEntropyLoss(), opt, _data(), val_data=(X, yv), epochs=1, verbose=0)


def test_float_labels_for_cross_entropy():
    X, y = _data()
    net, opt = _setup()
    with pytest.raises(
        ValueError,
        match=r"float labels.*CrossEntropyLoss needs integer.*"
        r"astype\('int64'\)",
    ):
        fit(net, rg.nn.CrossEntropyLoss(), opt, (X, y.astype(np.float64)), epochs=1, verbose=0)


def test_shape_errors_name_epoch_and_step():
    X, _ = _data()
    net, opt = _setup(n_out=1)
    with pytest.raises(ValueError, match=r"fit \(epoch 1, step 1\): mse_loss: target has shape"):
        fit(net, rg.nn.MSELoss(), opt, (X, np.zeros((12, 2), np.float32)), epochs=1, verbose=0)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_non_finite_loss_stops_with_epoch_and_step():
    X, y = _data()
    X = X * 1e3
    net, opt = _setup(n_out=1)
    opt = rg.optim.SGD(net.parameters(), lr=1e6)
    with pytest.raises(NonFiniteLossError, match=r"loss became (nan|inf) at epoch \d+, step \d+"):
        fit(
            net,
            rg.nn.MSELoss(),
            opt,
            (X, y[:, None].astype(np.float32) * 1e3),
            epochs=50,
            batch_size=4,
            verbose=0,
        )


def test_bad_arguments():
    net, opt = _setup()
    data = _data()
    with pytest.raises(ValueError, match="epochs must be a positive int"):
        fit(net, rg.nn.CrossEntropyLoss(), opt, data, epochs=0)
    with pytest.raises(ValueError, match="needs a stopping callback"):
        fit(net, rg.nn.CrossEntropyLoss(), opt, data, epochs=None)
    with pytest.raises(TypeError, match="optimizer must have step"):
        fit(net, rg.nn.CrossEntropyLoss(), object(), data, epochs=1)
    with pytest.raises(TypeError, match=r"train_data must be an \(X, y\) tuple"):
        fit(net, rg.nn.CrossEntropyLoss(), opt, data[0], epochs=1)
    with pytest.raises(ValueError, match="unknown metric"):
        fit(net, rg.nn.CrossEntropyLoss(), opt, data, epochs=1, metrics=["f1"])
    with pytest.raises(ValueError, match="monitor='val_loss' is not logged"):
        fit(
            net,
            rg.nn.CrossEntropyLoss(),
            opt,
            data,
            epochs=1,
            verbose=0,
            callbacks=[rg.train.TargetLoss(0.1, monitor="val_loss")],
        )


def test_missing_targets():
    net, opt = _setup()
    with pytest.raises(ValueError, match="train_data has no targets"):
        fit(net, rg.nn.CrossEntropyLoss(), opt, (_data()[0],), epochs=1, verbose=0)
