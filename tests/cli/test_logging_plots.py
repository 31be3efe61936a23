"""The metric loggers (retrograd.train.logging) and plots (retrograd.train.plots) the CLI
uses, tested directly."""

from __future__ import annotations

import csv
import json
import sys

import numpy as np
import pytest

import retrograd as rg
from retrograd.train.logging import CSVLogger, JSONLLogger, epoch_record, read_records


def _fit(callbacks, epochs=3, val=True):
    X = np.random.default_rng(0).normal(size=(40, 3)).astype(np.float32)
    y = (X[:, 0] > 0).astype(np.int64)
    rg.manual_seed(0)
    net = rg.nn.Linear(3, 2)
    opt = rg.optim.SGD(net.parameters(), lr=0.1)
    return rg.train.fit(net, rg.nn.CrossEntropyLoss(), opt, (X, y),
                        val_data=(X, y) if val else None, epochs=epochs, verbose=0,
                        callbacks=callbacks)  # fmt: skip


def test_jsonl_logger_one_record_per_epoch(tmp_path):
    path = tmp_path / "sub" / "m.jsonl"
    hist = _fit([JSONLLogger(path)])
    recs = [json.loads(line) for line in open(path)]
    assert [r["epoch"] for r in recs] == [1, 2, 3]
    assert list(recs[0]) == ["epoch", "loss", "accuracy", "val_loss", "val_accuracy", "lr",
                             "time"]  # fmt: skip
    assert [r["loss"] for r in recs] == pytest.approx(hist["loss"])
    assert all(r["time"] >= 0 and r["lr"] == 0.1 for r in recs)
    assert read_records(path) == recs


def test_csv_logger_header_and_rows(tmp_path):
    path = tmp_path / "m.csv"
    hist = _fit([CSVLogger(path)], val=False)
    rows = list(csv.DictReader(open(path)))
    assert list(rows[0]) == ["epoch", "loss", "accuracy", "lr", "time"]
    assert [int(r["epoch"]) for r in rows] == [1, 2, 3]
    assert [float(r["loss"]) for r in rows] == hist["loss"]  # repr keeps every digit
    assert read_records(path)[1]["epoch"] == 2


def test_logger_overwrites_or_appends(tmp_path):
    path = tmp_path / "m.jsonl"
    _fit([JSONLLogger(path)], epochs=2)
    _fit([JSONLLogger(path)], epochs=2)
    assert len(open(path).readlines()) == 2  # a new run starts a new file
    _fit([JSONLLogger(path, append=True)], epochs=2)
    assert [r["epoch"] for r in read_records(path)] == [1, 2, 1, 2]


def test_logger_on_resume_drops_records_after_checkpoint(tmp_path):
    path = tmp_path / "m.jsonl"
    path.write_text("".join(json.dumps({"epoch": e, "loss": 1.0}) + "\n" for e in (1, 2, 3)))
    logger = JSONLLogger(path)

    class State:
        epoch = 2

    logger.on_train_begin(State())
    State.epoch = 3
    logger.on_epoch_end(State(), {"loss": 0.5, "epoch_time": 0.1})
    logger.on_train_end(State())
    assert [(r["epoch"], r["loss"]) for r in read_records(path)] == [(1, 1.0), (2, 1.0),
                                                                     (3, 0.5)]  # fmt: skip


def test_epoch_record_nonfinite_is_null(tmp_path):
    rec = epoch_record(1, {"loss": float("nan"), "epoch_time": np.float64(0.5)})
    assert rec["time"] == 0.5 and isinstance(rec["time"], float)
    path = tmp_path / "m.jsonl"
    logger = JSONLLogger(path)

    class State:
        epoch = 0

    logger.on_train_begin(State())
    State.epoch = 1
    logger.on_epoch_end(State(), {"loss": float("inf"), "epoch_time": 0.1})
    logger.on_train_end(State())
    assert json.loads(open(path).read())["loss"] is None


def test_plot_history_sizes(tmp_path):
    mpimg = pytest.importorskip("matplotlib.image")
    from retrograd.train.plots import plot_confusion_matrix, plot_history

    hist = _fit([], epochs=4)
    p = plot_history(hist, tmp_path / "c.png")
    assert mpimg.imread(p).shape[:2] == (400, 800)
    p = plot_history({"loss": [1.0, 0.5]}, tmp_path / "l.png", figsize=(4, 3), dpi=50,
                     log_loss=True)  # fmt: skip
    assert mpimg.imread(p).shape[:2] == (150, 200)
    cm = np.array([[5, 1, 0], [0, 4, 2], [1, 0, 6]])
    p = plot_confusion_matrix(cm, tmp_path / "cm.png", class_names=["a", "b", "c"])
    img = mpimg.imread(p)
    assert img.shape[:2] == (500, 600) and img[..., :3].std() > 0.05  # not a blank image
    with pytest.raises(ValueError, match="square"):
        plot_confusion_matrix(np.ones((2, 3)), tmp_path / "x.png")
    with pytest.raises(ValueError, match="no 'loss'"):
        plot_history({}, tmp_path / "x.png")


def test_plots_without_matplotlib_say_so(tmp_path, monkeypatch):
    from retrograd.train import plots

    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    monkeypatch.setitem(sys.modules, "matplotlib.backends.backend_agg", None)
    with pytest.raises(ImportError, match=r"pip install 'retrograd\[plot\]'"):
        plots.plot_history({"loss": [1.0]}, tmp_path / "x.png")
    # The CLI turns it into one line before training starts.
    from retrograd.cli import main

    assert main(["train", "--data", "digits", "--plot", str(tmp_path / "c.png"),
                 "--out", str(tmp_path / "m.safetensors"), "--verbose", "0"]) == 1  # fmt: skip
    assert not (tmp_path / "m.safetensors").exists()
