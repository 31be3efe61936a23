"""Tampered ``retrograd train`` metadata in model files, read back by the commands.

Every field of the metadata of real CLI-trained models is replaced by values of the wrong
type, out of range, of the wrong length, or removed; ``summary``, ``evaluate`` and
``predict`` must then either work or stop with one clean error line (exit 1) naming the
file: never a raw Python exception (IndexError, AttributeError, "invalid literal for
int()", ...) and never a traceback.
"""

from __future__ import annotations

import functools
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import retrograd as rg
from retrograd import cli
from retrograd.cli import EXIT_ERROR, EXIT_SIGINT, main

SRC = str(Path(rg.__file__).resolve().parents[1])

_DELETE = object()
# What a raw Python/NumPy error looks like once the CLI has printed it.
_RAW = re.compile(
    r"\b(IndexError|AttributeError|KeyError|TypeError|ZeroDivisionError|OverflowError|"
    r"MemoryError|RecursionError|UnboundLocalError|NameError|AssertionError|StopIteration)\b|"
    r"invalid literal|has no attribute|index out of range|not subscriptable|unhashable|"
    r"could not convert|unsupported operand|object is not|cannot reshape|operands could not"
)


@pytest.fixture(autouse=True)
def _fast(monkeypatch):
    # Hundreds of files are written and read here: their durability is tested elsewhere,
    # and one parser serves every command line (argparse parsers are reusable).
    monkeypatch.setattr("retrograd.io.atomic.os.fsync", lambda fd: None)
    monkeypatch.setattr(cli, "build_parser", functools.cache(cli.build_parser))


def _mutations(v):
    """(label, replacement) pairs for a field holding ``v``."""
    out = [
        ("missing", _DELETE), ("null", None), ("text", "x"), ("negative", -1),
        ("huge", 10**30), ("float", 2.5), ("nan", float("nan")), ("bool", True),
        ("empty list", []), ("object", {"k": 1}), ("mixed list", ["a", 1, None, 2.5]),
        ("nested", [[1, 2], [3]]),
    ]  # fmt: skip
    if isinstance(v, (list, tuple, np.ndarray)) and len(v):
        out += [("shorter", v[:-1]), ("longer", [*list(v), v[-1]])]
        if all(isinstance(x, str) for x in v):
            out += [("repeated", [v[0]] * len(v)), ("numbers", list(range(len(v))))]
    if isinstance(v, np.ndarray):
        out += [("nan array", np.full_like(v, np.nan)), ("2-D", v[None]),
                ("zeros", np.zeros_like(v)), ("bool array", v > 0)]  # fmt: skip
    if isinstance(v, int) and not isinstance(v, bool):
        out += [("zero", 0), ("plus one", v + 1), ("minus one", v - 1)]
    if isinstance(v, dict):
        out += [(f"{k} -> text", {**v, k: "x"}) for k in v]
    return out


@pytest.fixture(scope="module")
def csv_model(tmp_path_factory):
    """A classifier and a regressor trained on a small CSV with every layout option."""
    d = tmp_path_factory.mktemp("meta")
    rng = np.random.default_rng(0)
    rows = ["id,a,b,colour,label,price"]
    for i in range(40):
        a, b = rng.normal(size=2)
        colour = ["red", "green", "blue"][i % 3]
        a_cell = "" if i % 7 == 3 else f"{a:.3f}"
        rows.append(f"{i},{a_cell},{b:.3f},{colour},{'yes' if a + b > 0 else 'no'},{a - b:.3f}")
    data = d / "data.csv"
    data.write_text("\n".join(rows) + "\n")
    common = ["--data", str(data), "--one-hot", "colour", "--missing", "mean", "--epochs",
              "2", "--verbose", "0", "--model", "mlp:4", "--test-split", "0.2"]  # fmt: skip
    cls, reg = d / "cls.safetensors", d / "reg.safetensors"
    for target, drop, out in (("label", "id,price", cls), ("price", "id,label", reg)):
        argv = ["train", *common, "--target", target, "--drop", drop, "--out", str(out)]
        assert main(argv) == 0
    return data, cls, reg


def _fields(path):
    _, extra = rg.load(path, with_extra=True)
    return sorted(extra["cli"])


def _run_mutated(tmp_path, capsys, source, data, field, label, value):
    model, extra = rg.load(source, with_extra=True)
    meta = dict(extra["cli"])
    if value is _DELETE:
        del meta[field]
    else:
        meta[field] = value
    path = tmp_path / "tampered.safetensors"
    rg.save(model, path, extra={"cli": meta})
    refused = False
    for argv in (
        ["summary", str(path)],
        ["evaluate", str(path), "--data", str(data)],
        ["predict", str(path), "--data", str(data)],
    ):
        if argv[0] != "summary" and refused:
            # The three commands read the metadata through one check (tested below);
            # a file it refuses needs no second and third run here.
            break
        rc = main(argv)
        cap = capsys.readouterr()
        where = f"{field} = {label}: retrograd {argv[0]} (exit {rc})\n{cap.err}"
        assert rc in (0, EXIT_ERROR), where
        assert "Traceback" not in cap.err + cap.out, where
        if rc == EXIT_ERROR:
            errors = [ln for ln in cap.err.splitlines() if ln.startswith("retrograd: error:")]
            assert len(errors) == 1, where
            assert not _RAW.search(errors[0]), where
            assert "tampered.safetensors" in errors[0] or str(data) in errors[0], where
            if "metadata" in errors[0]:  # this field, or another that disagrees with it
                assert re.search(r"field '\w+[^ ]*' holds .*; expected ", errors[0]), where
                refused = True


def _cases():
    return ["cls", "reg", "digits"]


@pytest.mark.parametrize("which", _cases())
def test_every_tampered_metadata_field_gives_a_clean_error(
    tmp_path, capsys, which, csv_model, cli_model
):
    data, cls, reg = csv_model
    source = {"cls": cls, "reg": reg, "digits": cli_model}[which]
    data = "digits:test" if which == "digits" else data
    _, extra = rg.load(source, with_extra=True)
    fields = sorted(extra["cli"])
    assert len(fields) >= 20
    for field in fields:
        for label, value in _mutations(extra["cli"][field]):
            _run_mutated(tmp_path, capsys, source, data, field, label, value)


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        ("classes", ["yes"], r"field 'classes' holds 1; expected 2 class names"),
        ("classes", "yes,no", r"field 'classes' holds 'yes,no' \(str\); expected a list"),
        ("n_features", "5", r"field 'n_features' holds '5' \(str\); expected an integer"),
        ("n_features", 4, r"field 'n_features' holds 4 \(int\); expected the model's input"),
        ("feature_std", np.zeros(5, np.float32), r"'feature_std' .*expected finite numbers > 0"),
        ("feature_mean", np.zeros(3, np.float32), r"'feature_mean' .*expected 5 numbers"),
        ("source_index", [1, 2, 9, 3, 3], r"'source_index\[2\]' holds 9"),
        ("target_index", 10**30, r"'target_index' holds 1000000000000000000000000000000"),
        ("task", "dance", r"'task' holds 'dance' \(str\); expected one of 'classify'"),
        ("format", 99, r"'format' holds 99 \(int\); expected at most 1"),
        ("history", {"loss": ["x"]}, r"'history.loss' holds \['x'\]"),
    ],
)
def test_tampered_field_is_a_model_file_error_naming_it(
    tmp_path, csv_model, field, value, expected
):
    from retrograd.cli import _common as C

    _, cls, _ = csv_model
    model, extra = rg.load(cls, with_extra=True)
    path = tmp_path / "m.safetensors"
    rg.save(model, path, extra={"cli": {**extra["cli"], field: value}})
    with pytest.raises(rg.ModelFileError, match=expected) as info:
        C.load_model(str(path))
    assert str(path) in str(info.value)


def test_metadata_that_is_not_an_object_is_refused(tmp_path, capsys, csv_model):
    _, cls, _ = csv_model
    model, _ = rg.load(cls, with_extra=True)
    path = tmp_path / "m.safetensors"
    rg.save(model, path, extra={"cli": [1, 2, 3]})
    assert main(["summary", str(path)]) == EXIT_ERROR
    assert "metadata of retrograd train is damaged" in capsys.readouterr().err


@pytest.mark.parametrize("command", ["summary", "evaluate", "predict", "gradcheck", "export"])
def test_every_command_checks_the_metadata(tmp_path, capsys, csv_model, command):
    data, cls, _ = csv_model
    model, extra = rg.load(cls, with_extra=True)
    path = tmp_path / "m.safetensors"
    rg.save(model, path, extra={"cli": {**extra["cli"], "classes": ["yes"]}})
    argv = {
        "summary": ["summary", str(path)],
        "export": ["export", str(path), "--onnx", str(tmp_path / "m.onnx")],
    }.get(command, [command, str(path), "--data", str(data)])
    assert main(argv) == EXIT_ERROR
    err = capsys.readouterr().err
    assert "field 'classes' holds 1; expected 2 class names" in err, err


# ------------------------------------------------- fixed-point models: bounded commands
@pytest.fixture(scope="module")
def slow_model(tmp_path_factory):
    """A CLI-trained equilibrium model, then saved with tol=0 and the largest max_iter a
    file may hold: every call runs 100 000 relaxation steps per batch."""
    d = tmp_path_factory.mktemp("slow")
    fast = d / "fast.safetensors"
    argv = ["train", "--data", "digits", "--model", "fixedpoint:8", "--epochs", "1",
            "--verbose", "0", "--out", str(fast)]  # fmt: skip
    assert main(argv) == 0
    model, extra = rg.load(fast, with_extra=True)
    model.fixed_point.tol, model.fixed_point.max_iter = 0.0, 100_000
    slow = d / "slow.safetensors"
    rg.save(model, slow, extra=extra)
    return fast, slow


def test_summary_runs_one_relaxation_step_of_a_fixed_point_model(capsys, monkeypatch, slow_model):
    calls = []
    cell_forward = rg.nn.NormBoundedTanhCell.forward

    def counted(self, *args, **kwargs):
        calls.append(1)
        return cell_forward(self, *args, **kwargs)

    monkeypatch.setattr(rg.nn.NormBoundedTanhCell, "forward", counted)
    assert main(["summary", str(slow_model[1])]) == 0  # tol=0, max_iter=100 000, "raise"
    out = capsys.readouterr().out
    assert "fixed_point         FixedPoint             (1, 8)" in out, out
    assert "output (1, 10)" in out and "traced with one relaxation step" in out
    assert len(calls) <= 2, len(calls)


def test_summary_of_a_slow_fixed_point_file_ends_promptly_in_a_subprocess(slow_model):
    env = dict(os.environ, PYTHONPATH=SRC + os.pathsep + os.environ.get("PYTHONPATH", ""))
    # 100 000 steps of tol=0 relaxation take seconds to minutes; one step, milliseconds.
    r = subprocess.run(
        [sys.executable, "-m", "retrograd", "summary", str(slow_model[1])],
        env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert "traced with one relaxation step" in r.stdout and "Traceback" not in r.stderr


def test_summary_does_not_build_a_giant_dummy_batch(tmp_path, capsys, monkeypatch):
    # A sequence model's weights do not grow with its length: a file can claim any.
    model = rg.nn.SequenceClassifier(10**7, 2, 3, 2)
    path = tmp_path / "long.safetensors"
    rg.save(model, path, extra={"cli": {"format": 1, "task": "classify", "n_features": 2 * 10**7}})
    monkeypatch.setattr(rg.nn.SequenceClassifier, "forward", lambda *a: 1 / 0)
    assert main(["summary", str(path)]) == 0
    assert "dummy batch of 1 x 20000000 would be over 10,000,000 values" in capsys.readouterr().out


def test_fixed_point_evaluate_gives_the_answers_of_predict_with_progress(capsys, slow_model):
    from retrograd.cli import _common as C

    model, _ = rg.load(slow_model[0], with_extra=True)
    X = rg.data.load_digits()[0][:150] / 16
    np.testing.assert_allclose(
        C.run_model(model, X, "evaluate"), rg.train.predict(model, X), rtol=1e-5, atol=1e-6
    )
    assert "evaluate:" in capsys.readouterr().err  # the bar, on standard error
    assert main(["evaluate", str(slow_model[0]), "--data", "digits:test"]) == 0
    assert "0/450" in capsys.readouterr().err


@pytest.mark.skipif(not hasattr(signal, "SIGINT") or sys.platform == "win32", reason="POSIX")
@pytest.mark.parametrize("command", ["evaluate", "predict"])
def test_slow_fixed_point_run_stops_cleanly_on_ctrl_c(tmp_path, slow_model, command):
    env = dict(os.environ, PYTHONPATH=SRC + os.pathsep + os.environ.get("PYTHONPATH", ""))
    err_path = tmp_path / "stderr"
    with open(err_path, "w+") as err:
        proc = subprocess.Popen(
            [sys.executable, "-m", "retrograd", command, str(slow_model[1]), "--data",
             "digits:test"],
            env=env, stdout=subprocess.DEVNULL, stderr=err, text=True,
        )  # fmt: skip
        deadline = time.monotonic() + 120
        while "row" not in err_path.read_text() and time.monotonic() < deadline:
            assert proc.poll() is None, err_path.read_text()
            time.sleep(0.05)
        assert "0/450" in err_path.read_text()  # progress is shown before the first batch
        proc.send_signal(signal.SIGINT)
        try:
            rc = proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            pytest.fail(f"{command} did not stop within 60 s of Ctrl-C")
    text = err_path.read_text()
    assert rc == EXIT_SIGINT, text
    assert f"retrograd: interrupted: {command} stopped after 0 of 450 rows" in text, text
    assert "Traceback" not in text


# ------------------------------------------------------------- odd numbers on the command line
@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["train", "--data", "digits", "--epochs", "1e400"], "--epochs: expected a positive"),
        (["train", "--data", "digits", "--epochs", "nan"], "--epochs: expected a positive"),
        (["train", "--data", "digits", "--batch-size", "inf"], "--batch-size: expected a"),
        (["train", "--data", "digits", "--patience", "1e400"], "--patience: expected a"),
        (["train", "--data", "digits", "--seed", "-1"], "--seed: expected an integer >= 0"),
        (["summary", "MODEL", "--batch", "-5"], "--batch: expected a positive integer"),
        (["summary", "MODEL", "--features", "0"], "--features: expected a positive integer"),
        (["gradcheck", "MODEL", "--data", "digits", "--eps", "nan"], "--eps: expected a finite"),
        (["gradcheck", "MODEL", "--data", "digits", "--atol", "-1"], "--atol: expected a finite"),
    ],
)
def test_odd_numeric_options_are_usage_errors_naming_the_flag(
    tmp_path, capsys, cli_model, argv, expected
):
    argv = [str(cli_model) if a == "MODEL" else a for a in argv]
    argv += ["--out", str(tmp_path / "m.safetensors")] if argv[0] == "train" else []
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert expected in err and not _RAW.search(err) and "Traceback" not in err, err


# ------------------------------------------------------------------- sizes from a file
def test_many_classes_do_not_build_a_classes_squared_matrix(tmp_path, capsys, monkeypatch):
    from retrograd.cli import evaluate

    k = evaluate.MAX_REPORT_CLASSES + 1
    model = rg.nn.Sequential(rg.nn.Linear(2, k))
    meta = {"format": 1, "task": "classify", "n_features": 2, "loss": "mse",
            "classes": [str(i) for i in range(k)]}  # fmt: skip
    path = tmp_path / "wide.safetensors"
    rg.save(model, path, extra={"cli": meta})
    data = tmp_path / "d.npz"
    np.savez(data, X=np.ones((3, 2)), y=np.array([0, 5, k - 1]))
    monkeypatch.setattr(rg.train, "confusion_matrix", lambda *a, **k: 1 / 0)
    monkeypatch.setattr(np, "eye", lambda *a, **k: 1 / 0)  # no k x k one-hot table either
    assert main(["evaluate", str(path), "--data", str(data)]) == 0
    out = capsys.readouterr().out
    assert f"({k} classes: no per-class report or confusion matrix beyond" in out


@pytest.mark.parametrize("loss", ["gce", "sce", "mse"])
def test_gradcheck_of_a_model_trained_with_any_class_loss(tmp_path, loss):
    out = tmp_path / "m.safetensors"
    argv = ["train", "--data", "digits", "--model", "mlp:4", "--loss", loss, "--epochs", "1",
            "--verbose", "0", "--out", str(out)]  # fmt: skip
    assert main(argv) == 0
    assert main(["gradcheck", str(out), "--data", "digits", "--samples", "2"]) == 0
