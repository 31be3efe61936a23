"""Adversarial model files: validated before allocating, bounded, never blocking.

Every hostile file is built here from a genuine one; none is shipped.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading

import numpy as np
import pytest
from io_helpers import edit_metadata, join_safetensors, split_safetensors

import retrograd as rg
from retrograd import _checks, nn
from retrograd.io import atomic, registry


def _save_blob(tmp_path, model, name="m.safetensors"):
    path = tmp_path / name
    rg.save(model, path)
    return path, path.read_bytes()


def _set_config(meta, key, value, where=lambda arch: arch):
    where(meta["architecture"])["config"][key] = value
    return meta


# --------------------------------------------------------------- architecture bounds
def test_sub_array_dtype_in_architecture_is_refused(tmp_path):
    path, blob = _save_blob(tmp_path, nn.Embedding(3, 2))
    path.write_bytes(edit_metadata(blob, lambda m: _set_config(m, "dtype", "(1000,)f4")))
    with pytest.raises(rg.ModelFileError, match=r"dtype '\(1000,\)f4' is not one of"):
        rg.load(path)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_supported_dtypes_still_load(tmp_path, dtype):
    path, _ = _save_blob(tmp_path, nn.Embedding(3, 2, dtype=dtype))
    assert rg.load(path).weight.data.dtype == np.dtype(dtype)


def test_every_builtin_layer_is_sized_before_construction():
    registry._load_builtins()
    unsized = [n for n, e in registry._BY_NAME.items() if e.builtin and e.numel is None]
    # A new layer: add a size estimate to registry._BUILTIN_NUMEL (or, if it allocates
    # no weights, its name to registry._WEIGHTLESS).
    assert unsized == [], f"layers without a size estimate in io/registry.py: {unsized}"


@pytest.mark.parametrize(
    "model",
    [
        nn.NormBoundedTanhCell(5),
        nn.EquilibriumClassifier(4, 5, 3),
        nn.SequenceClassifier(3, 4, 5, 2),
        nn.Linear(3, 2),
        nn.Embedding(7, 3),
    ],
    ids=lambda m: type(m).__name__,
)
def test_size_estimate_is_exact_for_layers_moved_from_the_cli(model):
    held = sum(int(np.asarray(v).size) for v in model.state_dict().values())
    assert registry.estimate_numel(registry.module_to_config(model), "m") == held


@pytest.mark.parametrize(
    ("model", "key"),
    [
        (nn.NormBoundedTanhCell(3), "hidden_size"),
        (nn.EquilibriumClassifier(2, 3, 2), "hidden_size"),
        (nn.SequenceClassifier(2, 2, 3, 2), "hidden_size"),
    ],
    ids=lambda x: type(x).__name__ if isinstance(x, nn.Module) else x,
)
def test_giant_cli_layer_is_refused_before_building(tmp_path, model, key):
    path, blob = _save_blob(tmp_path, model)
    path.write_bytes(edit_metadata(blob, lambda m: _set_config(m, key, 10**6)))
    with pytest.raises(rg.ModelFileError, match="needs at least"):
        rg.load(path)


def test_unbounded_fixed_point_iterations_are_refused(tmp_path):
    path, blob = _save_blob(tmp_path, nn.EquilibriumClassifier(2, 3, 2))

    def edit(meta):
        _set_config(meta, "tol", 0.0)
        return _set_config(meta, "max_iter", 10**9)

    path.write_bytes(edit_metadata(blob, edit))
    with pytest.raises(rg.ModelFileError, match=r"max_iter=1000000000 is more than"):
        rg.load(path)
    with pytest.raises(ValueError, match="max_iter=1000000000"):
        rg.save(nn.EquilibriumClassifier(2, 3, 2, tol=0.0, max_iter=10**9), path)


# ------------------------------------------------------------------- tensor shapes
def _add_giant_empty_tensor(blob, name):
    header, data = split_safetensors(blob)
    header[name] = {"dtype": "F32", "shape": [2**64, 0], "data_offsets": [len(data)] * 2}
    return join_safetensors(header, data)


def test_zero_size_tensor_with_giant_dimension_is_a_model_file_error(tmp_path):
    net = nn.Linear(2, 2)
    path, blob = _save_blob(tmp_path, net)
    path.write_bytes(_add_giant_empty_tensor(blob, "junk"))
    for load in (rg.load, rg.io.load_state_dict_file):
        with pytest.raises(rg.ModelFileError, match=r"m\.safetensors.*'junk'.*exceeds"):
            load(path)
    ckpt = tmp_path / "c.safetensors"
    rg.save_checkpoint(ckpt, model=net)
    ckpt.write_bytes(_add_giant_empty_tensor(ckpt.read_bytes(), "model.junk"))
    with pytest.raises(rg.ModelFileError, match=r"c\.safetensors.*'model\.junk'.*exceeds"):
        rg.load_checkpoint(ckpt, model=net)


# ------------------------------------------------------------------- file types
@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs named pipes")
def test_named_pipe_is_refused_without_blocking(tmp_path):
    fifo = tmp_path / "pipe.safetensors"
    os.mkfifo(fifo)
    outcome = []

    def target():
        try:
            rg.load(fifo)
        except Exception as e:  # noqa: BLE001 - recorded for the assertion below
            outcome.append(e)

    t = threading.Thread(target=target, daemon=True)
    t.start()
    t.join(10)
    if t.is_alive():  # release the blocked open() so the test run can go on
        os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
        t.join(5)
        pytest.fail("rg.load blocked on a named pipe")
    assert isinstance(outcome[0], rg.ModelFileError)
    assert "not a regular file" in str(outcome[0]) and "pipe.safetensors" in str(outcome[0])


# ------------------------------------------------------------------- temporaries
def _dead_pid():
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return p.pid


def test_stale_temporaries_of_dead_writers_are_removed_on_next_save(tmp_path):
    tag = atomic._HOST_TAG
    dead = tmp_path / f".ckpt-1.safetensors.rg-{tag}-{_dead_pid()}-abc123.tmp"
    alive = tmp_path / f".ckpt-2.safetensors.rg-{tag}-{os.getppid()}-abc123.tmp"
    other_host = tmp_path / f".ckpt-3.safetensors.rg-00000000-{_dead_pid()}-x.tmp"
    foreign = [tmp_path / ".model.safetensors.abcd1234.tmp", tmp_path / "notes.tmp"]
    for p in [dead, alive, other_host, *foreign]:
        p.write_bytes(b"x" * 10)
    if atomic._HOST_TAG == "00000000":  # pragma: no cover - astronomically unlikely
        other_host.unlink()
    rg.save(nn.Linear(2, 2), tmp_path / "model.safetensors")
    assert not dead.exists()
    assert alive.exists() and all(p.exists() for p in foreign)
    assert other_host.exists() or atomic._HOST_TAG == "00000000"


def test_temporary_of_a_killed_save_is_cleaned_by_the_next_one(tmp_path):
    target = tmp_path / "model.safetensors"
    code = (
        "import os, signal, retrograd as rg\n"
        "from retrograd.io import atomic\n"
        "atomic.os.replace = lambda *a: os.kill(os.getpid(), signal.SIGKILL)\n"
        f"rg.save(rg.nn.Linear(3, 3), {str(target)!r})\n"
    )
    env = dict(os.environ)
    r = subprocess.run([sys.executable, "-c", code], env=env, timeout=120)
    assert r.returncode == -9
    left = [p.name for p in tmp_path.iterdir()]
    assert len(left) == 1 and left[0].endswith(".tmp")
    rg.save(nn.Linear(3, 3), target)
    assert [p.name for p in tmp_path.iterdir()] == ["model.safetensors"]


def test_disk_full_names_the_file(tmp_path, monkeypatch):
    class Full:
        def __init__(self, fd, mode):
            os.close(fd)

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

        def write(self, data):
            raise OSError(28, "No space left on device")

    monkeypatch.setattr(atomic.os, "fdopen", Full)
    target = tmp_path / "model.safetensors"
    with pytest.raises(OSError, match=r"No space left on device.*model\.safetensors") as info:
        rg.save(nn.Linear(2, 2), target)
    assert info.value.errno == 28 and info.value.filename == str(target)
    assert list(tmp_path.iterdir()) == []


# ------------------------------------------------------------------- clear errors
def test_mse_loss_of_empty_tensors_is_nan_like_torch_without_warnings():
    import warnings

    torch = pytest.importorskip("torch")
    expected = torch.nn.MSELoss()(torch.zeros(0, 3), torch.zeros(0, 3)).item()
    x = rg.zeros(0, 3, requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        loss = nn.MSELoss()(x, rg.zeros(0, 3))
        loss.backward()
        assert nn.MSELoss(reduction="sum")(x, rg.zeros(0, 3)).item() == 0.0
    assert np.isnan(loss.item()) and np.isnan(expected)
    assert x.grad.shape == (0, 3)


def test_fit_with_an_optimizer_over_another_models_parameters_is_refused():
    a, b = nn.Linear(2, 1), nn.Linear(2, 1)
    data = (np.ones((4, 2), "float32"), np.ones((4, 1), "float32"))
    opt = rg.optim.SGD(b.parameters(), lr=0.1)
    with pytest.raises(ValueError, match="updates none of the model's 2 trainable"):
        rg.train.fit(a, nn.MSELoss(), opt, data, epochs=1, verbose=0)


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("a,b,y\n1,2,x\n".encode("utf-16"), "looks like UTF-16"),
        (b"\x00\x01\x02binary\x00", "NUL bytes"),
        (b"a,b\n\xff\xfe\xfa,1\n", "not a UTF-8 text file"),
    ],
    ids=["utf16", "nul", "latin"],
)
def test_non_utf8_csv_names_the_path(tmp_path, content, expected):
    from retrograd.data.table import read_csv_table

    path = tmp_path / "data.csv"
    path.write_bytes(content)
    with pytest.raises(ValueError, match=expected) as info:
        read_csv_table(path)
    assert "data.csv" in str(info.value)


@pytest.mark.parametrize(("groups", "kernel", "c_in"), [(1, 3, 1), (1, 5, 4), (2, 3, 4)])
def test_conv2d_on_an_empty_batch_works_like_linear(groups, kernel, c_in):
    torch = pytest.importorskip("torch")
    conv = nn.Conv2d(c_in, 4, kernel, groups=groups)
    x = rg.zeros(0, c_in, 7, 7, requires_grad=True)
    y = conv(x)
    ref = torch.nn.Conv2d(c_in, 4, kernel, groups=groups)(torch.zeros(0, c_in, 7, 7))
    assert y.shape == tuple(ref.shape)
    y.sum().backward()
    assert x.grad.shape == x.shape
    np.testing.assert_array_equal(np.asarray(conv.weight.grad.data), 0.0)
    np.testing.assert_array_equal(np.asarray(conv.bias.grad.data), 0.0)


# ------------------------------------------------------------ fixed-point solver options
def _fixed_point_blob(tmp_path):
    return _save_blob(tmp_path, nn.FixedPoint(nn.NormBoundedTanhCell(3), solver="anderson"))


def test_every_count_option_of_the_solver_declares_a_file_limit():
    from retrograd.nn.fixedpoint import SOLVER_OPTIONS

    counts = [
        name
        for name, opt in SOLVER_OPTIONS.items()
        if opt.check is _checks.check_int
        or (isinstance(opt.default, int) and not isinstance(opt.default, bool))
    ]
    # A new integer option (a memory size, an iteration count): give it file_limit=...
    # in SOLVER_OPTIONS, so that a model file cannot ask for unbounded time or memory.
    assert counts and all(SOLVER_OPTIONS[n].file_limit is not None for n in counts), counts
    assert set(counts) <= set(registry.file_limits())


@pytest.mark.parametrize("key", sorted(registry.file_limits()))
def test_solver_option_beyond_its_file_limit_is_refused(tmp_path, key):
    limit = registry.file_limits()[key]
    path, blob = _fixed_point_blob(tmp_path)
    for value in (limit + 1, float(10**9)):
        path.write_bytes(edit_metadata(blob, lambda m, v=value: _set_config(m, key, v)))
        with pytest.raises(rg.ModelFileError, match=rf"{key}={value} is more than.*\({limit}\)"):
            rg.load(path)
    path.write_bytes(edit_metadata(blob, lambda m: _set_config(m, key, limit)))
    assert getattr(rg.load(path), key) == limit  # the bound itself is allowed
    with pytest.raises(ValueError, match=rf"{key}={limit + 1} is more than"):
        rg.save(nn.FixedPoint(nn.NormBoundedTanhCell(3), **{key: limit + 1}), path)


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        ("tol", -1.0, "tol"),
        ("tol", "0", "tol"),
        ("damping", 0.0, "damping"),
        ("damping", 2.0, "damping"),
        ("anderson_beta", 1.5, "anderson_beta"),
        ("anderson_lam", -1e-3, "anderson_lam"),
        ("anderson_m", 0, "anderson_m"),
        ("anderson_m", "5", "anderson_m"),
        ("max_iter", -3, "max_iter"),
        ("backward_solver", "evil", "backward_solver"),
        ("backward", "rbp; rm -rf /", "backward"),
        ("solver", 7, "solver"),
    ],
)
def test_solver_option_of_the_wrong_type_or_range_is_a_model_file_error(
    tmp_path, key, value, expected
):
    path, blob = _fixed_point_blob(tmp_path)
    path.write_bytes(edit_metadata(blob, lambda m: _set_config(m, key, value)))
    with pytest.raises(rg.ModelFileError, match=rf"m\.safetensors.*{expected}") as info:
        rg.load(path)
    assert "Traceback" not in str(info.value)


# ------------------------------------------------------------------- checkpoints
@pytest.mark.parametrize(
    ("where", "value", "expected"),
    [
        ("step", "x", "state 'step' of parameter 0 must be an int >= 0, got 'x'"),
        ("step", -5, "state 'step' of parameter 0 must be an int >= 0"),
        ("params", "ab", "parameter group 0 must be a dict with a 'params' list"),
        ("params", [0, 0], "parameter index 0 repeats"),
        ("params", [0, "x"], r"a parameter group names parameter 'x'; expected an index"),
        ("exp_avg", 3.0, "state 'exp_avg' of parameter 0 must be an array"),
    ],
)
def test_tampered_optimizer_state_is_refused_before_training_resumes(
    tmp_path, where, value, expected
):
    import json

    net = nn.Linear(3, 2)
    opt = rg.optim.Adam(net.parameters(), lr=0.01)
    net(rg.randn(4, 3)).sum().backward()
    opt.step()
    path = tmp_path / "c.safetensors"
    rg.save_checkpoint(path, model=net, optimizer=opt)
    header, data = split_safetensors(path.read_bytes())
    meta = json.loads(header["__metadata__"]["retrograd"])
    state, groups = meta["optimizer"]["v"]
    if where == "params":
        groups[0]["v"][groups[0]["k"].index("params")] = value
    else:
        entry = state["v"][0]
        entry["v"][entry["k"].index(where)] = value
        if where == "exp_avg":  # its tensor is no longer referenced: drop it
            header, data = _drop_tensor(header, data, "optimizer.0")
    header["__metadata__"]["retrograd"] = json.dumps(meta)
    path.write_bytes(join_safetensors(header, data))
    net2 = nn.Linear(3, 2)
    opt2 = rg.optim.Adam(net2.parameters(), lr=0.01)
    with pytest.raises(rg.ModelFileError, match=expected):
        rg.load_checkpoint(path, model=net2, optimizer=opt2)


def _drop_tensor(header, data, name):
    """The file without tensor ``name`` (the others re-tiled in their order)."""
    kept, out, pos = {}, b"", 0
    entries = sorted(
        ((k, v) for k, v in header.items() if k not in ("__metadata__", name)),
        key=lambda kv: kv[1]["data_offsets"][0],
    )
    for k, v in entries:
        b, e = v["data_offsets"]
        out += data[b:e]
        kept[k] = {**v, "data_offsets": [pos, pos + e - b]}
        pos += e - b
    return {"__metadata__": header["__metadata__"], **kept}, out


@pytest.mark.parametrize(
    ("kind", "key", "value", "expected"),
    [
        ("cosine", "T_max", "x", "'T_max' must be an integer, got 'x'"),
        ("cosine", "last_epoch", 1e308, "'last_epoch' must be an integer"),
        ("cosine", "eta_min", None, "'eta_min' must be a finite number"),
        ("step", "_step_count", [1], "'_step_count' must be an integer"),
        ("step", "base_lrs", ["x"], "'base_lrs' must be a list of finite numbers"),
        ("plateau", "patience", "x", "'patience' must be an integer"),
        ("plateau", "mode", "sideways", r"'mode' must be one of \('min', 'max'\), got 'sideways'"),
        ("plateau", "step", 3, r"unknown entries \['step'\]"),  # would hide the method
    ],
)
def test_tampered_scheduler_state_is_refused_before_training_resumes(
    tmp_path, kind, key, value, expected
):
    from retrograd.optim import lr_scheduler as sched_mod

    def make():
        net = nn.Linear(3, 2)
        opt = rg.optim.SGD(net.parameters(), lr=0.1)
        sched = {
            "step": lambda: sched_mod.StepLR(opt, 2),
            "cosine": lambda: sched_mod.CosineAnnealingLR(opt, 10),
            "plateau": lambda: sched_mod.ReduceLROnPlateau(opt),
        }[kind]()
        return net, opt, sched

    net, opt, sched = make()
    path = tmp_path / "c.safetensors"
    rg.save_checkpoint(path, model=net, optimizer=opt, scheduler=sched)

    def edit(meta):
        enc = meta["scheduler"]
        if key in enc["k"]:
            enc["v"][enc["k"].index(key)] = value
        else:
            enc["k"].append(key)
            enc["v"].append(value)
        return meta

    path.write_bytes(edit_metadata(path.read_bytes(), edit))
    net2, opt2, sched2 = make()
    with pytest.raises(rg.ModelFileError, match=expected):
        rg.load_checkpoint(path, model=net2, optimizer=opt2, scheduler=sched2)
