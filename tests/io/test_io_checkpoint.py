"""Checkpoints: exact resume with real optimizers/schedulers, rotation, latest pointer."""

from __future__ import annotations

import numpy as np
import pytest
from io_helpers import assert_same_state, edit_metadata

import retrograd as rg
from retrograd import nn


def _setup(opt_name):
    net = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Dropout(0.3), nn.Linear(8, 2))
    if opt_name == "sgd":
        opt = rg.optim.SGD(net.parameters(), lr=0.05, momentum=0.9, nesterov=True)
    else:
        opt = rg.optim.Adam(net.parameters(), lr=0.01)
    sched = rg.optim.lr_scheduler.StepLR(opt, step_size=2, gamma=0.5)
    return net, opt, sched


def _train(net, opt, sched, data, steps):
    x, y = data
    loss_fn = nn.MSELoss()
    for _ in range(steps):
        opt.zero_grad()
        loss = loss_fn(net(rg.tensor(x)), rg.tensor(y))  # dropout draws from the global RNG
        loss.backward()
        opt.step()
        sched.step()


@pytest.mark.parametrize("opt_name", ["sgd", "adam"])
def test_resume_is_bitwise_identical_to_uninterrupted_training(tmp_path, opt_name):
    rng = np.random.default_rng(0)
    data = (
        rng.normal(size=(16, 4)).astype(np.float32),
        rng.normal(size=(16, 2)).astype(np.float32),
    )

    rg.manual_seed(1)
    net, opt, sched = _setup(opt_name)
    _train(net, opt, sched, data, 3)
    path = rg.save_checkpoint(
        tmp_path / "ckpt-3.safetensors",
        model=net,
        optimizer=opt,
        scheduler=sched,
        state={"epoch": 3, "history": {"loss": [1.0, 0.5]}},
    )
    _train(net, opt, sched, data, 4)
    reference = net.state_dict()

    rg.manual_seed(999)  # a different process: different init and RNG position
    net2, opt2, sched2 = _setup(opt_name)
    state = rg.load_checkpoint(path, model=net2, optimizer=opt2, scheduler=sched2)
    assert state == {"epoch": 3, "history": {"loss": [1.0, 0.5]}}
    assert sched2.get_last_lr() == [0.05 * 0.5 if opt_name == "sgd" else 0.01 * 0.5]
    _train(net2, opt2, sched2, data, 4)
    for k, v in reference.items():
        np.testing.assert_array_equal(net2.state_dict()[k], v, err_msg=k)
    assert opt2.state_dict()["param_groups"] == opt.state_dict()["param_groups"]


def test_optimizer_state_survives_exactly(tmp_path):
    net, opt, sched = _setup("adam")
    _train(net, opt, sched, (np.ones((2, 4), np.float32), np.zeros((2, 2), np.float32)), 2)
    path = rg.save_checkpoint(tmp_path / "c.safetensors", model=net, optimizer=opt)
    net2, opt2, _ = _setup("adam")
    rg.load_checkpoint(path, model=net2, optimizer=opt2)
    a, b = opt.state_dict(), opt2.state_dict()
    assert a["param_groups"] == b["param_groups"]
    assert list(a["state"]) == list(b["state"]) and all(isinstance(k, int) for k in b["state"])
    for i in a["state"]:
        assert list(a["state"][i]) == list(b["state"][i])
        for k, v in a["state"][i].items():
            if isinstance(v, np.ndarray):
                assert v.dtype == b["state"][i][k].dtype
                np.testing.assert_array_equal(v, b["state"][i][k])
            else:
                assert v == b["state"][i][k] and type(v) is type(b["state"][i][k])
    assert_same_state(net, net2)


def test_rng_is_restored_unless_asked_not_to(tmp_path):
    rg.manual_seed(3)
    net = nn.Linear(2, 2)
    path = rg.save_checkpoint(tmp_path / "c.safetensors", model=net)
    expected = rg.randn(3).data
    rg.manual_seed(100)
    rg.load_checkpoint(path, model=net)
    np.testing.assert_array_equal(rg.randn(3).data, expected)
    rg.manual_seed(100)
    after_seed = rg.get_rng_state()
    rg.load_checkpoint(path, model=net, restore_rng=False)
    assert rg.get_rng_state() == after_seed


def test_float64_model_and_weights_follow_the_given_model(tmp_path):
    net = nn.Linear(3, 2).double()
    path = rg.save_checkpoint(tmp_path / "c.safetensors", model=net)
    net2 = nn.Linear(3, 2).double()
    rg.load_checkpoint(path, model=net2)
    assert_same_state(net, net2)
    assert rg.io.load_state_dict_file(path)["weight"].dtype == np.float64


def test_unregistered_models_can_be_checkpointed(tmp_path):
    class Custom(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(2, 1)

    m = Custom()
    path = rg.save_checkpoint(tmp_path / "c.safetensors", model=m, state={"s": 1})
    m2 = Custom()
    assert rg.load_checkpoint(path, model=m2) == {"s": 1}
    assert_same_state(m, m2)


def test_mismatches_raise_model_file_error_and_leave_the_model_alone(tmp_path):
    net, opt, sched = _setup("sgd")
    path = rg.save_checkpoint(tmp_path / "c.safetensors", model=net, optimizer=opt)
    other = nn.Sequential(nn.Linear(4, 3), nn.Tanh(), nn.Dropout(0.3), nn.Linear(3, 2))
    before = {k: v.copy() for k, v in other.state_dict().items()}
    with pytest.raises(rg.ModelFileError, match="shape"):
        rg.load_checkpoint(path, model=other)
    with pytest.raises(rg.ModelFileError, match="missing"):
        rg.load_checkpoint(path, model=nn.Linear(4, 2))
    net2, opt2, sched2 = _setup("sgd")
    with pytest.raises(rg.ModelFileError, match="no scheduler state"):
        rg.load_checkpoint(path, model=net2, optimizer=opt2, scheduler=sched2)
    adam = rg.optim.Adam(net2.parameters())
    with pytest.raises(rg.ModelFileError, match="from SGD, not Adam"):
        rg.load_checkpoint(path, model=net2, optimizer=adam)
    one_param = rg.optim.SGD(list(net2.parameters())[:1], lr=0.1)
    snapshot = {k: v.copy() for k, v in net2.state_dict().items()}
    with pytest.raises(rg.ModelFileError, match="does not fit SGD"):
        rg.load_checkpoint(path, model=net2, optimizer=one_param)
    for k, v in snapshot.items():  # the optimizer failed first: weights untouched
        np.testing.assert_array_equal(net2.state_dict()[k], v)
    for k, v in before.items():
        np.testing.assert_array_equal(other.state_dict()[k], v)


def test_tampered_checkpoint_metadata(tmp_path):
    net = nn.Linear(2, 2)
    path = rg.save_checkpoint(tmp_path / "c.safetensors", model=net, state={"a": np.ones(2)})
    blob = path.read_bytes()
    cases = {
        "unknown node tag": lambda m: {**m, "state": {"t": "os.system", "v": "ls"}},
        "lacks": lambda m: {**m, "state": {"t": "array", "key": "state.99"}},
        "invalid value": lambda m: {**m, "step": "three"},
        "unknown keys": lambda m: {**m, "more": 1},
        "belong to no part of state": lambda m: {**m, "state": None},
        "invalid RNG": lambda m: {**m, "rng": {"t": "dict", "k": ["x"], "v": [1]}},
    }
    for message, fn in cases.items():
        bad = tmp_path / "bad.safetensors"
        bad.write_bytes(edit_metadata(blob, fn))
        with pytest.raises(rg.ModelFileError, match=message):
            rg.load_checkpoint(bad, model=net)


def test_manager_keeps_last_n_and_the_best(tmp_path):
    net = nn.Linear(2, 1)
    mgr = rg.io.CheckpointManager(tmp_path, keep_last=2, keep_best=("val_loss", "min"))
    losses = {1: 0.9, 2: 0.3, 3: 0.5, 4: 0.6, 5: 0.7}
    for step, loss in losses.items():
        p = mgr.save(step, model=net, state={"step": step}, metrics={"val_loss": loss})
        assert p.name == f"ckpt-{step}.safetensors"
    names = [p.name for p in mgr.checkpoints()]
    assert names == ["ckpt-2.safetensors", "ckpt-4.safetensors", "ckpt-5.safetensors"]
    assert mgr.best().name == "ckpt-2.safetensors"
    assert mgr.latest().name == "ckpt-5.safetensors"
    assert (tmp_path / "latest").read_text() == "ckpt-5.safetensors\n"
    assert rg.io.latest_checkpoint(tmp_path).name == "ckpt-5.safetensors"
    assert mgr.restore(model=net) == {"step": 5}
    # A new manager (a resumed process) sees the same best, read from the file headers.
    mgr2 = rg.io.CheckpointManager(tmp_path, keep_last=1, keep_best=("val_loss", "min"))
    mgr2.save(6, model=net, state={"step": 6, "val_loss": 0.4})
    assert [p.name for p in mgr2.checkpoints()] == ["ckpt-2.safetensors", "ckpt-6.safetensors"]


def test_manager_max_mode_and_keep_everything(tmp_path):
    net = nn.Linear(2, 1)
    mgr = rg.io.CheckpointManager(tmp_path / "run", keep_last=None, keep_best=("acc", "max"))
    for step, acc in enumerate([0.1, 0.8, float("nan"), 0.8, 0.2]):
        mgr.save(step, model=net, state={"acc": acc})
    assert len(mgr.checkpoints()) == 5
    assert mgr.best().name == "ckpt-1.safetensors"  # earliest of the tied best; NaN ignored


def test_save_checkpoint_with_rotation_arguments(tmp_path):
    net = nn.Linear(2, 1)
    for step in range(5):
        rg.save_checkpoint(
            tmp_path / f"ckpt-{step}.safetensors",
            model=net,
            state={"loss": 5 - step if step != 1 else 0.0},
            keep_last=2,
            keep_best=("loss", "min"),
        )
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["ckpt-1.safetensors", "ckpt-3.safetensors", "ckpt-4.safetensors", "latest"]
    with pytest.raises(ValueError, match="keep_best"):
        rg.save_checkpoint(tmp_path / "x.safetensors", model=net, keep_best=("loss", "up"))
    with pytest.raises(ValueError, match="must be a key of state"):
        rg.save_checkpoint(tmp_path / "x.safetensors", model=net, keep_best=("loss", "min"))
    with pytest.raises(ValueError, match="keep_last"):
        rg.save_checkpoint(tmp_path / "x.safetensors", model=net, keep_last=0)


def test_latest_checkpoint_fallbacks(tmp_path):
    assert rg.io.latest_checkpoint(tmp_path) is None
    assert rg.io.latest_checkpoint(tmp_path / "missing") is None
    net = nn.Linear(2, 1)
    mgr = rg.io.CheckpointManager(tmp_path, keep_last=None)
    mgr.save(5, model=net)
    mgr.save(12, model=net)
    (tmp_path / "latest").unlink()  # e.g. a crash between checkpoint and pointer
    assert rg.io.latest_checkpoint(tmp_path).name == "ckpt-12.safetensors"
    for bad in ("../../etc/passwd", ".hidden", "nonexistent.safetensors", "\xff"):
        (tmp_path / "latest").write_text(bad + "\n")
        assert rg.io.latest_checkpoint(tmp_path).name == "ckpt-12.safetensors"
    (tmp_path / "latest").write_text("ckpt-5.safetensors\n")
    assert rg.io.latest_checkpoint(tmp_path).name == "ckpt-5.safetensors"


def test_restore_skips_a_corrupt_latest_with_a_warning(tmp_path):
    net = nn.Linear(2, 1)
    mgr = rg.io.CheckpointManager(tmp_path, keep_last=3)
    assert mgr.restore(model=net) is None
    mgr.save(1, model=net, state={"step": 1})
    mgr.save(2, model=net, state={"step": 2})
    p = tmp_path / "ckpt-2.safetensors"
    p.write_bytes(p.read_bytes()[:-3])
    with pytest.warns(UserWarning, match="skipping unreadable checkpoint"):
        assert mgr.restore(model=net) == {"step": 1}
    (tmp_path / "ckpt-1.safetensors").write_bytes(b"garbage")
    with pytest.raises(rg.ModelFileError, match="no readable checkpoint"):
        with pytest.warns(UserWarning):
            mgr.restore(model=net)


def test_manager_argument_validation(tmp_path):
    with pytest.raises(ValueError, match="prefix"):
        rg.io.CheckpointManager(tmp_path, prefix="../x")
    mgr = rg.io.CheckpointManager(tmp_path, keep_best=("loss", "min"))
    with pytest.raises(ValueError, match="step"):
        mgr.save(-1, model=nn.Linear(1, 1), state={"loss": 1.0})
    with pytest.raises(ValueError, match="monitors 'loss'"):
        mgr.save(1, model=nn.Linear(1, 1), state={})


def test_resume_with_a_changed_model_says_what_to_do(tmp_path):
    mgr = rg.io.CheckpointManager(tmp_path)
    mgr.save(1, model=nn.Linear(2, 1), state={})
    with pytest.warns(UserWarning):
        with pytest.raises(rg.ModelFileError, match="do not fit.*start afresh.*new checkpoint"):
            mgr.restore(model=nn.Sequential(nn.Linear(2, 3), nn.Linear(3, 1)))
