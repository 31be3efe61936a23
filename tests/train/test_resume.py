"""Crash safety of fit: SIGKILL mid-epoch, then resume, gives bitwise the same weights."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import retrograd as rg

SCRIPT = textwrap.dedent(
    """
    import os, signal, sys
    import numpy as np
    import retrograd as rg

    ckpt, out, resume = sys.argv[1], sys.argv[2], sys.argv[3] == "1"
    kill_at = int(os.environ.get("KILL_AT_STEP", "0"))
    sig = getattr(signal, os.environ.get("KILL_SIGNAL", "SIGKILL"))

    class Killer(rg.train.Callback):
        def on_batch_end(self, ts, loss):
            if kill_at and ts.step == kill_at:
                os.kill(os.getpid(), sig)

    rng = np.random.default_rng(0)
    X = rng.standard_normal((200, 10)).astype(np.float32)
    y = (X[:, 0] + X[:, 1] > 0).astype(np.int64)
    rg.manual_seed(1)
    model = rg.nn.Sequential(rg.nn.Linear(10, 16), rg.nn.ReLU(), rg.nn.Dropout(0.3),
                             rg.nn.Linear(16, 2))
    opt = rg.optim.Adam(model.parameters(), lr=1e-2)
    sched = rg.optim.lr_scheduler.StepLR(opt, step_size=2, gamma=0.5)
    early = rg.train.EarlyStopping(monitor="val_loss", patience=50, restore_best_weights=True)
    rg.train.fit(model, rg.nn.CrossEntropyLoss(), opt, (X[:150], y[:150]),
                 val_data=(X[150:], y[150:]), epochs=6, batch_size=16, verbose=0,
                 scheduler=sched, callbacks=[Killer(), early], checkpoint_dir=ckpt,
                 resume=resume)
    np.savez(out, **model.state_dict())
    """
)


def _run(tmp_path, ckpt, out, resume, env_extra=None):
    script = tmp_path / "train.py"
    script.write_text(SCRIPT)
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", **(env_extra or {}))
    return subprocess.run(
        [sys.executable, str(script), str(ckpt), str(out), "1" if resume else "0"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def _assert_bitwise_equal(a_path, b_path):
    a, b = np.load(a_path), np.load(b_path)
    assert sorted(a.files) == sorted(b.files)
    for k in a.files:
        assert np.array_equal(a[k], b[k]), k


@pytest.mark.parametrize("kill_signal", ["SIGKILL", "SIGINT"])
def test_killed_run_resumes_bitwise(tmp_path, kill_signal):
    ref = tmp_path / "ref.npz"
    r = _run(tmp_path, tmp_path / "ckpt_ref", ref, resume=False)
    assert r.returncode == 0, r.stderr

    ckpt = tmp_path / "ckpt"
    out = tmp_path / "resumed.npz"
    # 150 samples / 16 = 10 steps per epoch: step 35 is the middle of epoch 4.
    r = _run(
        tmp_path,
        ckpt,
        out,
        resume=False,
        env_extra={"KILL_AT_STEP": "35", "KILL_SIGNAL": kill_signal},
    )
    assert r.returncode != 0
    assert not out.exists()
    if kill_signal == "SIGINT":
        assert "checkpoint saved" in r.stderr
    assert any(p.name.startswith("ckpt-") for p in ckpt.iterdir())
    assert not [p for p in ckpt.iterdir() if p.name.startswith(".")]  # no temp files left

    r = _run(tmp_path, ckpt, out, resume=True)
    assert r.returncode == 0, r.stderr
    _assert_bitwise_equal(ref, out)


def test_non_finite_loss_keeps_last_good_checkpoint(tmp_path):
    X = np.ones((8, 2), np.float32)
    y = np.ones((8, 1), np.float32)
    net = rg.nn.Linear(2, 1)

    class Poison(rg.train.Callback):
        def on_epoch_begin(self, ts):
            if ts.epoch == 2:  # two epochs done and checkpointed
                net.weight.data[...] = np.inf

    opt = rg.optim.SGD(net.parameters(), lr=0.01)
    with pytest.raises(rg.train.NonFiniteLossError, match="epoch 3"):
        rg.train.fit(
            net,
            rg.nn.MSELoss(),
            opt,
            (X, y),
            epochs=5,
            batch_size=4,
            verbose=0,
            callbacks=[Poison()],
            checkpoint_dir=tmp_path,
        )
    fresh = rg.nn.Linear(2, 1)
    state = rg.io.CheckpointManager(tmp_path).restore(model=fresh)
    assert state["train"]["epoch"] == 2
    # The saved weights are the good ones from before the poisoning.
    assert np.isfinite(fresh.weight.data).all()


def test_resume_of_finished_run_trains_no_more(tmp_path):
    X = np.random.default_rng(0).standard_normal((20, 3)).astype(np.float32)
    y = X.sum(axis=1, keepdims=True)
    net = rg.nn.Linear(3, 1)
    opt = rg.optim.SGD(net.parameters(), lr=0.05)
    h = rg.train.fit(
        net, rg.nn.MSELoss(), opt, (X, y), epochs=3, verbose=0, checkpoint_dir=tmp_path
    )
    w = net.weight.data.copy()
    h2 = rg.train.fit(
        net, rg.nn.MSELoss(), opt, (X, y), epochs=3, verbose=0, checkpoint_dir=tmp_path, resume=True
    )
    assert np.array_equal(net.weight.data, w)
    assert h2.epochs == h.epochs == 3


def test_clip_grad_norm_and_bad_options():
    X = np.ones((4, 2), np.float32)
    y = np.full((4, 1), 1e3, np.float32)
    net = rg.nn.Linear(2, 1)
    before = net.weight.data.copy()
    opt = rg.optim.SGD(net.parameters(), lr=1.0)
    rg.train.fit(
        net, rg.nn.MSELoss(), opt, (X, y), epochs=1, batch_size=None, verbose=0, clip_grad_norm=0.5
    )
    # One step of lr 1 with the total gradient norm clipped to 0.5 moves W by at most 0.5.
    assert np.linalg.norm(net.weight.data - before) <= 0.5 + 1e-6
    with pytest.raises(ValueError, match="clip_grad_norm"):
        rg.train.fit(net, rg.nn.MSELoss(), opt, (X, y), epochs=1, clip_grad_norm=-1)
    with pytest.raises(ValueError, match="resume=True needs checkpoint_dir"):
        rg.train.fit(net, rg.nn.MSELoss(), opt, (X, y), epochs=1, resume=True)


def test_detect_anomaly_option_names_the_op():
    X = np.ones((4, 2), np.float32)
    y = np.ones((4, 1), np.float32)

    class LogNet(rg.nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = rg.nn.Linear(2, 1)

        def forward(self, x):
            return (self.fc(x) * 0 - 1).log()

    net = LogNet()
    opt = rg.optim.SGD(net.parameters(), lr=0.1)
    with pytest.raises(rg.AnomalyError, match="Log"):
        rg.train.fit(net, rg.nn.MSELoss(), opt, (X, y), epochs=1, verbose=0, detect_anomaly=True)
    _ = signal  # imported for the SIGINT parametrisation above
