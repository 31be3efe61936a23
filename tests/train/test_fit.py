"""fit / evaluate / predict: data forms, stopping rules, errors, progress and state."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest

import retrograd as rg
from retrograd.train import (
    AllWithinTolerance,
    Callback,
    EarlyStopping,
    History,
    MaxEpochs,
    ProgressBar,
    TargetAccuracy,
    TargetLoss,
    evaluate,
    fit,
    predict,
)


def _blobs(n=120, seed=0):
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 3
    centers = np.array([[2.0, 0.0], [-2.0, 1.0], [0.0, -2.5]])
    X = centers[y] + rng.normal(0, 0.5, (n, 2))
    return X.astype(np.float32), y


def _net(seed=0):
    rg.manual_seed(seed)
    return rg.nn.Sequential(rg.nn.Linear(2, 16), rg.nn.Tanh(), rg.nn.Linear(16, 3))


def _fit(data, **kw):
    net = _net()
    opt = rg.optim.SGD(net.parameters(), lr=0.1, momentum=0.9)
    kw.setdefault("verbose", 0)
    return net, fit(net, rg.nn.CrossEntropyLoss(), opt, data, **kw)


def test_fit_learns_and_records_history():
    X, y = _blobs()
    net, h = _fit((X, y), val_data=_blobs(60, seed=1), epochs=15, batch_size=16, seed=0)
    assert isinstance(h, History) and h.epochs == 15
    assert h.stop_reason.startswith("max_epochs")
    assert h["loss"][-1] < h["loss"][0]
    assert h["accuracy"][-1] > 0.95 and h["val_accuracy"][-1] > 0.95
    assert len(h["epoch_time"]) == 15 and all(t >= 0 for t in h["epoch_time"])
    assert h.steps == 15 * 8
    res = evaluate(net, rg.nn.CrossEntropyLoss(), _blobs(60, seed=1))
    assert res["accuracy"] == pytest.approx(h["val_accuracy"][-1])
    out = predict(net, X)
    assert out.shape == (120, 3) and isinstance(out, np.ndarray)
    assert rg.train.accuracy(out, y) == pytest.approx(
        evaluate(net, rg.nn.CrossEntropyLoss(), (X, y))["accuracy"]
    )
    assert json.loads(json.dumps(h.to_dict()))["epochs"] == 15


def test_train_data_forms_give_identical_runs():
    X, y = _blobs()
    _, h1 = _fit((X, y), epochs=3, batch_size=10, seed=5)
    _, h2 = _fit(rg.data.ArrayDataset(X, y), epochs=3, batch_size=10, seed=5)
    loader = rg.data.DataLoader(rg.data.ArrayDataset(X, y), batch_size=10, shuffle=True, seed=5)
    _, h3 = _fit(loader, epochs=3)
    assert h1["loss"] == h2["loss"] == h3["loss"]


def test_online_and_full_batch():
    X, y = _blobs(30)
    _, online = _fit((X, y), epochs=2, batch_size=1)
    assert online.steps == 60
    _, full = _fit((X, y), epochs=4, batch_size=None)
    assert full.steps == 4


def test_matches_a_hand_written_loop():
    X, y = _blobs(40)
    net, h = _fit((X, y), epochs=3, batch_size=None)
    ref = _net()
    opt = rg.optim.SGD(ref.parameters(), lr=0.1, momentum=0.9)
    losses = []
    for _ in range(3):
        opt.zero_grad()
        loss = rg.nn.CrossEntropyLoss()(ref(rg.tensor(X)), rg.tensor(y))
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert h["loss"] == pytest.approx(losses, rel=1e-6)
    for a, b in zip(net.parameters(), ref.parameters()):
        np.testing.assert_allclose(a.data, b.data, rtol=1e-6)


def test_target_loss_and_accuracy_stop():
    X, y = _blobs()
    _, h = _fit((X, y), epochs=200, batch_size=None, callbacks=[TargetAccuracy(1.0)])
    assert h.stop_reason.startswith("target_accuracy") and h["accuracy"][-1] == 1.0
    assert h.epochs < 200
    _, h = _fit((X, y), epochs=None, batch_size=None, callbacks=[TargetLoss(0.2)])
    assert h.stop_reason.startswith("target_loss") and h["loss"][-1] <= 0.2
    assert all(v > 0.2 for v in h["loss"][:-1])


def test_all_within_tolerance_xor():
    X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], np.float64)
    Y = np.array([[0], [1], [1], [0]], np.float64)
    rg.manual_seed(1)
    net = rg.nn.Sequential(
        rg.nn.Linear(2, 4, dtype="float64"),
        rg.nn.Tanh(),
        rg.nn.Linear(4, 1, dtype="float64"),
        rg.nn.Sigmoid(),
    )
    opt = rg.optim.SGD(net.parameters(), lr=0.5, momentum=0.9)
    h = fit(
        net,
        rg.nn.MSELoss(reduction="sum"),
        opt,
        (X, Y),
        epochs=3000,
        batch_size=None,
        callbacks=[AllWithinTolerance(0.2, after_update=True)],
        verbose=0,
    )
    assert h.stop_reason.startswith("all_within_tolerance")
    assert h["max_abs_error"][-1] <= 0.2 and h["max_abs_error"][-2] > 0.2
    assert np.abs(predict(net, X) - Y).max() <= 0.2


def test_early_stopping_restores_best_weights():
    X, y = _blobs()
    Xv, yv = _blobs(60, seed=1)
    yv_noisy = (yv + 1) % 3  # validation labels that get worse as training goes on
    es = EarlyStopping(monitor="val_loss", patience=2, restore_best_weights=True)
    net, h = _fit((X, y), val_data=(Xv, yv_noisy), epochs=50, batch_size=None, callbacks=[es])
    assert h.stop_reason.startswith("early_stopping") and h.epochs < 50
    best_epoch, best = h.best("val_loss")
    # patience=2: stops at the 2nd epoch in a row without improvement (as Keras).
    assert es.best_epoch == best_epoch and h.epochs == best_epoch + 2
    assert "did not improve for 2 epochs" in h.stop_reason
    now = evaluate(net, rg.nn.CrossEntropyLoss(), (Xv, yv_noisy))["loss"]
    assert now == pytest.approx(best, rel=1e-5)
    st = json.loads(json.dumps(es.state_dict()))
    es2 = EarlyStopping(patience=2)
    es2.load_state_dict(st)
    assert es2.best == es.best and es2.wait == es.wait
    assert set(es.array_state()) == {"0.weight", "0.bias", "2.weight", "2.bias"}


def test_early_stopping_needs_validation():
    with pytest.raises(ValueError, match="needs validation data"):
        _fit(_blobs(), epochs=2, callbacks=[EarlyStopping()])


def test_callback_events_and_state_roundtrip():
    events = []

    class Spy(Callback):
        def on_train_begin(self, state):
            events.append("begin")

        def on_batch_end(self, state, loss):
            events.append("batch")

        def on_epoch_end(self, state, logs):
            events.append(("epoch", state.epoch, round(logs["loss"], 6)))

        def on_train_end(self, state):
            events.append("end")

    X, y = _blobs(20)
    _fit((X, y), epochs=2, batch_size=10, callbacks=[Spy()])
    assert events[0] == "begin" and events[-1] == "end"
    assert events.count("batch") == 4 and [e[1] for e in events if isinstance(e, tuple)] == [1, 2]


def test_train_state_resume_is_exact():
    X, y = _blobs()
    net_a, h_a = _fit((X, y), epochs=6, batch_size=16, seed=3)

    # Run 3 epochs, capture everything, continue in a fresh model/optimizer/loader.
    net = _net()
    opt = rg.optim.SGD(net.parameters(), lr=0.1, momentum=0.9)
    grab = {}

    class Grab(Callback):
        def on_epoch_end(self, state, logs):
            if state.epoch == 3:
                grab["ts"] = state

    fit(
        net,
        rg.nn.CrossEntropyLoss(),
        opt,
        (X, y),
        epochs=3,
        batch_size=16,
        seed=3,
        verbose=0,
        callbacks=[Grab()],
    )
    saved = json.loads(json.dumps(grab["ts"].state_dict()))
    model_sd = {k: v.copy() for k, v in net.state_dict().items()}
    opt_sd = opt.state_dict()

    net2 = _net(seed=42)
    net2.load_state_dict(model_sd)
    opt2 = rg.optim.SGD(net2.parameters(), lr=0.1, momentum=0.9)
    opt2.load_state_dict(opt_sd)
    h_b = fit(
        net2,
        rg.nn.CrossEntropyLoss(),
        opt2,
        (X, y),
        epochs=6,
        batch_size=16,
        seed=999,
        verbose=0,
        state=saved,
        callbacks=[Grab()],
    )
    assert h_b.epochs == 6 and h_b["loss"] == pytest.approx(h_a["loss"], rel=1e-6)
    for a, b in zip(net_a.parameters(), net2.parameters()):
        np.testing.assert_allclose(a.data, b.data, rtol=1e-6)


def test_progress_lines_and_silence(capsys):
    X, y = _blobs(20)
    _fit((X, y), epochs=3, batch_size=10, verbose=2)
    out = capsys.readouterr().out
    assert out.count("epoch ") == 3 and "loss" in out and "stopped: max_epochs" in out
    _fit((X, y), epochs=3, batch_size=10, verbose=0)
    assert capsys.readouterr().out == ""


def test_progress_bar_on_a_terminal():
    class TTY(io.StringIO):
        def isatty(self):
            return True

    stream = TTY()
    X, y = _blobs(40)
    _fit((X, y), epochs=3, batch_size=10, callbacks=[ProgressBar(stream=stream)])
    text = stream.getvalue()
    assert "12/12" in text and "loss" in text and "epoch 3" in text


def test_line_progress_is_thinned_for_many_epochs():
    stream = io.StringIO()
    X, y = _blobs(10)
    _fit((X, y), epochs=100, batch_size=None, callbacks=[ProgressBar("lines", stream, 10)])
    lines = stream.getvalue().splitlines()
    assert 10 <= len(lines) <= 13 and lines[0].startswith("epoch   1/100")


def test_scheduler_is_stepped_per_epoch():
    X, y = _blobs(20)
    net = _net()
    opt = rg.optim.SGD(net.parameters(), lr=0.1)
    sched = rg.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)
    h = fit(net, rg.nn.CrossEntropyLoss(), opt, (X, y), epochs=3, verbose=0, scheduler=sched)
    assert h["lr"] == pytest.approx([0.1, 0.05, 0.025])


def test_max_epochs_callback():
    _, h = _fit(_blobs(20), epochs=None, callbacks=[MaxEpochs(2)])
    assert h.epochs == 2 and h.stop_reason.startswith("max_epochs")


@pytest.mark.parametrize("patience", [0, 1, 3])
def test_early_stopping_patience_counts_epochs_without_improvement(patience):
    class Scripted(rg.train.Callback):
        # Feeds the monitor a fixed series: best at epoch 2, never better afterwards.
        def on_epoch_end(self, state, logs):
            logs["score"] = [5.0, 1.0, 2.0, 3.0, 1.0, 4.0, 6.0, 7.0][state.epoch - 1]

    es = EarlyStopping(monitor="score", patience=patience)
    _, h = _fit(_blobs(), epochs=8, callbacks=[Scripted(), es])
    assert es.best_epoch == 2
    assert h.epochs == 2 + max(patience, 1)


# --------------------------------------------------------- capabilities, not class names
def test_fit_reads_optimizer_and_scheduler_capabilities_not_class_names():
    # Subclasses keep their parent's behaviour in fit: an LBFGS subclass is given a
    # closure, a ReduceLROnPlateau subclass the monitored loss.
    class MyLBFGS(rg.optim.LBFGS):
        pass

    class MyPlateau(rg.optim.lr_scheduler.ReduceLROnPlateau):
        seen: list = []

        def step(self, metrics):
            self.seen.append(metrics)
            super().step(metrics)

    assert MyLBFGS.needs_closure and not rg.optim.SGD.needs_closure
    assert MyPlateau.steps_on_metric and not rg.optim.lr_scheduler.StepLR.steps_on_metric
    rg.manual_seed(0)
    X = np.linspace(-1, 1, 32, dtype=np.float64).reshape(-1, 1)
    net = rg.nn.Linear(1, 1, dtype="float64")
    opt = MyLBFGS(net.parameters(), lr=1.0)
    hist = rg.train.fit(net, rg.nn.MSELoss(), opt, (X, 3 * X), epochs=3, batch_size=None,
                        verbose=0, scheduler=MyPlateau(opt))  # fmt: skip
    assert hist["loss"][-1] < 1e-6
    assert MyPlateau.seen == hist["loss"]
    with pytest.raises(TypeError, match="MyLBFGS re-evaluates its closure"):
        rg.optim.ClippedOptimizer(opt, 1.0)


# ------------------------------------------------------------------ grouped options
def test_grouped_options_equal_the_flat_keywords(tmp_path):
    from retrograd.train import Checkpointing, StepOptions

    X = np.linspace(-1, 1, 24, dtype=np.float32).reshape(-1, 2)
    y = X.sum(axis=1, keepdims=True)

    def run(**kw):
        rg.manual_seed(0)
        net = rg.nn.Linear(2, 1)
        opt = rg.optim.SGD(net.parameters(), lr=0.1)
        h = rg.train.fit(net, rg.nn.MSELoss(), opt, (X, y), epochs=3, batch_size=4, seed=0,
                         verbose=0, **kw)  # fmt: skip
        return h["loss"], net.weight.data.copy()

    flat = run(checkpoint_dir=tmp_path / "a", keep_last=1, clip_grad_norm=0.5,
               compile_step=False)  # fmt: skip
    grouped = run(checkpoint=Checkpointing(tmp_path / "b", keep_last=1),
                  step=StepOptions(clip_grad_norm=0.5, compile=False))  # fmt: skip
    assert flat[0] == grouped[0] and np.array_equal(flat[1], grouped[1])
    assert len(list((tmp_path / "a").iterdir())) == len(list((tmp_path / "b").iterdir()))
    with pytest.raises(TypeError, match="pass step= or clip_grad_norm=, not both"):
        run(step=StepOptions(), clip_grad_norm=1.0)
    with pytest.raises(TypeError, match="unexpected keyword argument 'clip_norm'"):
        run(clip_norm=1.0)
    with pytest.raises(ValueError, match="resume=True needs checkpoint_dir"):
        run(resume=True)
