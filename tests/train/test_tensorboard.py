"""rg.train.TensorBoard: event files read back with TensorBoard's own reader."""

from __future__ import annotations

import numpy as np
import pytest

import retrograd as rg

pytest.importorskip("tensorboardX")
ea_mod = pytest.importorskip("tensorboard.backend.event_processing.event_accumulator")


def read_run(path):
    """Everything TensorBoard would show of one run directory."""
    acc = ea_mod.EventAccumulator(
        str(path), size_guidance={"scalars": 0, "histograms": 0, "images": 0}
    )
    acc.Reload()
    return acc


def _data(n=96, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 4)).astype(np.float32)
    y = (X[:, 0] + X[:, 1] > 0).astype(np.int64)
    return X, y


def _fit(tb, epochs=3, **kw):
    rg.manual_seed(0)
    net = rg.nn.Sequential(rg.nn.Linear(4, 8), rg.nn.Tanh(), rg.nn.Linear(8, 2))
    opt = rg.optim.SGD(net.parameters(), lr=0.1)
    sched = rg.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)
    X, y = _data()
    h = rg.train.fit(net, rg.nn.CrossEntropyLoss(), opt, (X[:64], y[:64]),
                     val_data=(X[64:], y[64:]), epochs=epochs, batch_size=16, verbose=0,
                     scheduler=sched, callbacks=[tb], **kw)  # fmt: skip
    return net, h


def test_scalars_per_epoch_and_step_match_the_history(tmp_path):
    tb = rg.train.TensorBoard(tmp_path, update_freq=2, figures=False)
    _, h = _fit(tb)
    train, val = read_run(tmp_path / "train"), read_run(tmp_path / "validation")
    tags = train.Tags()["scalars"]
    assert {"epoch_loss", "epoch_accuracy", "epoch_learning_rate", "batch_loss"} <= set(tags)
    assert set(val.Tags()["scalars"]) == {"epoch_loss", "epoch_accuracy"}
    loss = train.Scalars("epoch_loss")
    assert [e.step for e in loss] == [1, 2, 3]
    np.testing.assert_allclose([e.value for e in loss], h["loss"], rtol=1e-6)
    np.testing.assert_allclose([e.value for e in val.Scalars("epoch_loss")], h["val_loss"],
                               rtol=1e-6)  # fmt: skip
    lr = [e.value for e in train.Scalars("epoch_learning_rate")]
    np.testing.assert_allclose(lr, h["lr"], rtol=1e-6)
    # 4 steps per epoch, every 2nd logged: steps 2, 4, ..., 12.
    assert [e.step for e in train.Scalars("batch_loss")] == [2, 4, 6, 8, 10, 12]


def test_histograms_and_the_curves_figure(tmp_path):
    pytest.importorskip("matplotlib")
    tb = rg.train.TensorBoard(tmp_path, histograms=2, figure_every=2)
    net, _ = _fit(tb, epochs=4)
    train = read_run(tmp_path / "train")
    hist_tags = set(train.Tags()["histograms"])
    names = [n for n, _ in net.named_parameters()]
    assert hist_tags == {f"weights/{n}" for n in names} | {f"gradients/{n}" for n in names}
    w = train.Histograms("weights/0.weight")
    assert [e.step for e in w] == [2, 4]
    last = w[-1].histogram_value
    assert last.num == net[0].weight.data.size
    w0 = net[0].weight.data
    np.testing.assert_allclose([last.min, last.max], [w0.min(), w0.max()], rtol=1e-6)
    images = train.Images("curves")
    assert [e.step for e in images] == [2, 4]
    assert (images[-1].width, images[-1].height) == (800, 400)
    assert images[-1].encoded_image_string[:8] == b"\x89PNG\r\n\x1a\n"


def test_argument_checks_and_missing_package(tmp_path, monkeypatch):
    with pytest.raises(ValueError, match="update_freq must be 'epoch' or a positive int"):
        rg.train.TensorBoard(tmp_path, update_freq=0)
    with pytest.raises(ValueError, match="histograms must be a bool or an int"):
        rg.train.TensorBoard(tmp_path, histograms=-1)
    import sys

    monkeypatch.setitem(sys.modules, "tensorboardX", None)
    with pytest.raises(ImportError, match=r"pip install 'retrograd\[tensorboard\]'"):
        _fit(rg.train.TensorBoard(tmp_path, figures=False), epochs=1)
