"""`retrograd train / evaluate / predict / summary / gradcheck` end to end.

Most tests call ``main(argv)`` in-process (fast); a few run ``python -m retrograd`` in a
subprocess where the process boundary matters (help, import cost, Ctrl-C, exit codes).
"""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

import retrograd as rg
from retrograd.cli import main

mpimg = pytest.importorskip("matplotlib.image")


def _run(*argv):
    return subprocess.run(
        [sys.executable, "-m", "retrograd", *argv], capture_output=True, text=True, timeout=120
    )


@pytest.fixture(scope="module")
def digits_model(tmp_path_factory):
    """One small digits model, trained once for the tests that read it."""
    d = tmp_path_factory.mktemp("digits")
    out = d / "digits.safetensors"
    rc = main([
        "train", "--data", "digits:train", "--model", "mlp:32", "--epochs", "6",
        "--out", str(out), "--metrics", str(d / "m.jsonl"), "--plot", str(d / "curves.png"),
        "--verbose", "2", "--lr", "0.003",
    ])  # fmt: skip
    assert rc == 0
    return d, out


def test_train_writes_model_metrics_and_plot(digits_model):
    d, out = digits_model
    model, extra = rg.load(out, with_extra=True)
    meta = extra["cli"]
    assert meta["task"] == "classify" and meta["n_features"] == 64
    assert meta["classes"] == [str(i) for i in range(10)]
    assert meta["feature_mean"].shape == (64,) and meta["standardize"] == "global"
    assert meta["epochs"] == 6 and len(meta["history"]["loss"]) == 6
    recs = [json.loads(line) for line in open(d / "m.jsonl")]
    assert [r["epoch"] for r in recs] == [1, 2, 3, 4, 5, 6]
    for key in ("loss", "accuracy", "val_loss", "val_accuracy", "lr", "time"):
        assert all(isinstance(r[key], float) for r in recs), key
    assert recs[-1]["loss"] < recs[0]["loss"]
    img = mpimg.imread(d / "curves.png")
    assert img.shape[:2] == (400, 800)


def test_train_output_lines(digits_model, capsys, tmp_path):
    rc = main(["train", "--data", "digits", "--model", "mlp:8", "--epochs", "2",
               "--out", str(tmp_path / "a.safetensors"), "--verbose", "2"])  # fmt: skip
    out = capsys.readouterr().out
    assert rc == 0
    assert "1797 rows x 64 features, 10 classes; 1617 train / 180 validation" in out
    assert "epoch 1/2 - loss" in out and "epoch 2/2" in out
    assert "saved model to" in out
    # --verbose 0: nothing on stdout at all.
    rc = main(["train", "--data", "digits", "--model", "mlp:8", "--epochs", "1",
               "--out", str(tmp_path / "b.safetensors"), "--verbose", "0"])  # fmt: skip
    assert rc == 0 and capsys.readouterr().out == ""


def test_evaluate_report_and_confusion_plot(digits_model, capsys):
    d, out = digits_model
    rc = main(["evaluate", str(out), "--data", "digits:test", "--plot", str(d / "cm.png"),
               "--json", str(d / "r.json")])  # fmt: skip
    text = capsys.readouterr().out
    assert rc == 0
    res = json.load(open(d / "r.json"))
    assert res["rows"] == 450 and 0.85 < res["accuracy"] <= 1.0
    cm = np.array(res["confusion_matrix"])
    assert cm.shape == (10, 10) and cm.sum() == 450
    assert abs(np.trace(cm) / 450 - res["accuracy"]) < 1e-9
    assert f"accuracy {res['accuracy']:.4f} ({np.trace(cm)}/450)" in text
    assert "precision" in text and "macro avg" in text and "confusion matrix" in text
    # The per-class recall equals the confusion matrix's row-normalised diagonal.
    recall = [r["recall"] for r in res["report"]]
    np.testing.assert_allclose(recall, np.diag(cm) / cm.sum(axis=1))
    img = mpimg.imread(d / "cm.png")
    assert img.shape[:2] == (500, 600)


def test_predict_matches_model(digits_model, tmp_path, capsys):
    d, out = digits_model
    preds = tmp_path / "p.csv"
    assert main(["predict", str(out), "--data", "digits:test", "--out", str(preds)]) == 0
    rows = list(csv.reader(open(preds)))
    assert rows[0] == ["prediction"] + [f"prob_{i}" for i in range(10)]
    assert len(rows) == 451
    probs = np.array([[float(v) for v in r[1:]] for r in rows[1:]])
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-4)
    # Same answer as loading the model and applying the stored preprocessing by hand.
    model, extra = rg.load(out, with_extra=True)
    meta = extra["cli"]
    X_tr, X_te, y_tr, y_te = rg.data.train_test_split(
        *rg.data.load_digits(), test_size=0.25, seed=0, stratify=rg.data.load_digits()[1]
    )
    Xs = ((X_te - meta["feature_mean"]) / meta["feature_std"]).astype(np.float32)
    expect = rg.train.predict(model, Xs).argmax(axis=1)
    assert [int(r[0]) for r in rows[1:]] == expect.tolist()
    # Without --out the CSV goes to stdout.
    capsys.readouterr()
    assert main(["predict", str(out), "--data", "digits:test"]) == 0
    assert capsys.readouterr().out.splitlines()[1:4] == [",".join(r) for r in rows[1:4]]


def test_summary_table(digits_model, capsys):
    _, out = digits_model
    assert main(["summary", str(out)]) == 0
    text = capsys.readouterr().out
    assert "Linear" in text and "(1, 32)" in text and "(1, 10)" in text
    assert "total parameters: 2,410" in text  # 64*32+32 + 32*10+10
    assert "10 classes" in text and "standardize (global)" in text


def test_gradcheck_passes_and_fails(digits_model, capsys, monkeypatch):
    _, out = digits_model
    rc = main(["gradcheck", str(out), "--data", "digits", "--samples", "3",
               "--max-elements", "16"])  # fmt: skip
    text = capsys.readouterr().out
    assert rc == 0, text
    assert "passed: all 2 layers" in text
    # A broken backward must be caught: make Linear's weight gradient wrong.
    from retrograd.cli import gradcheck as gc

    real = gc.check_parameters

    def corrupted(model, *a, **k):
        res = real(model, *a, **k)
        return [(n, c, 0.5, 0.1, False) if n == "2.weight" else (n, c, r, e, ok)
                for n, c, r, e, ok in res]  # fmt: skip

    monkeypatch.setattr(gc, "check_parameters", corrupted)
    rc = main(["gradcheck", str(out), "--data", "digits", "--samples", "2",
               "--max-elements", "4"])  # fmt: skip
    text = capsys.readouterr().out
    assert rc == 3 and "FAILED: 1 of 2 layers (2)" in text  # its own status, not 1


def test_gradcheck_detects_a_wrong_gradient():
    # The checker itself (no monkeypatching): a layer whose backward is wrong fails.
    from retrograd.cli.gradcheck import check_parameters

    class Bad(rg.Function):
        def forward(self, x):
            return x * 2

        def backward(self, g):
            return (g * 3,)  # wrong on purpose

    class Net(rg.nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = rg.nn.Linear(3, 2)

        def forward(self, x):
            return Bad.apply(self.lin(x))

    x = np.random.default_rng(0).normal(size=(4, 3))
    res = check_parameters(Net(), rg.nn.CrossEntropyLoss(), x, np.array([0, 1, 1, 0]),
                           1e-6, 1e-5, 1e-3, None, 0)  # fmt: skip
    assert [ok for *_, ok in res] == [False, False]
    assert min(rel for _, _, rel, _, _ in res) > 0.1


def test_csv_text_labels_round_trip(csv_files, tmp_path, capsys):
    out = tmp_path / "cls.safetensors"
    rc = main(["train", "--data", str(csv_files["cls"]), "--target", "answer", "--model",
               "mlp:16", "--activation", "tanh", "--epochs", "25", "--out", str(out),
               "--verbose", "0"])  # fmt: skip
    assert rc == 0
    meta = rg.load(out, with_extra=True)[1]["cli"]
    assert meta["classes"] == ["maybe", "no", "yes"] and meta["target"] == "answer"
    assert meta["standardize"] == "feature"
    assert main(["evaluate", str(out), "--data", str(csv_files["cls"])]) == 0
    acc = float(capsys.readouterr().out.split("accuracy ")[1].split()[0])
    assert acc > 0.8
    # Features-only file, and the training file (its target column is dropped).
    p1, p2 = tmp_path / "p1.csv", tmp_path / "p2.csv"
    assert main(["predict", str(out), "--data", str(csv_files["new"]), "--out", str(p1)]) == 0
    assert main(["predict", str(out), "--data", str(csv_files["cls"]), "--out", str(p2)]) == 0
    r1, r2 = list(csv.reader(open(p1))), list(csv.reader(open(p2)))
    assert r1[0] == ["prediction", "prob_maybe", "prob_no", "prob_yes"]
    assert len(r1) == 8 and r1[1:] == r2[1:8]
    assert {r[0] for r in r2[1:]} <= {"maybe", "no", "yes"}


def test_csv_regression_in_data_units(csv_files, tmp_path, capsys):
    out = tmp_path / "reg.safetensors"
    log = tmp_path / "log.csv"
    rc = main(["train", "--data", str(csv_files["reg"]), "--target", "price", "--epochs", "60",
               "--out", str(out), "--metrics", str(log), "--verbose", "0",
               "--lr", "0.01", "--patience", "off"])  # fmt: skip
    assert rc == 0
    meta = rg.load(out, with_extra=True)[1]["cli"]
    assert meta["task"] == "regress" and meta["loss"] == "mse"
    rows = list(csv.DictReader(open(log)))
    assert len(rows) == 60 and list(rows[0]) == ["epoch", "loss", "val_loss", "lr", "time"]
    assert main(["evaluate", str(out), "--data", str(csv_files["reg"])]) == 0
    text = capsys.readouterr().out
    r2 = float(text.split("r2 ")[1].split()[0])
    assert r2 > 0.95
    p = tmp_path / "p.csv"
    assert main(["predict", str(out), "--data", str(csv_files["new"]), "--out", str(p)]) == 0
    vals = [float(r[0]) for r in list(csv.reader(open(p)))[1:]]
    # Predictions come back in the target's units (around 100), not standardized.
    assert len(vals) == 7 and all(85 < v < 115 for v in vals)


def test_npz_and_full_batch_sgd(tmp_path, capsys):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(150, 3)).astype(np.float32)
    y = (X[:, 0] > 0).astype(np.int64)
    np.savez(tmp_path / "d.npz", X=X, y=y)
    out = tmp_path / "n.safetensors"
    rc = main(["train", "--data", str(tmp_path / "d.npz"), "--batch-size", "full",
               "--optimizer", "sgd", "--momentum", "0.9", "--epochs", "40", "--out", str(out),
               "--verbose", "0", "--target-accuracy", "0.97"])  # fmt: skip
    assert rc == 0
    meta = rg.load(out, with_extra=True)[1]["cli"]
    assert meta["batch_size"] is None and meta["optimizer"] == "sgd"
    assert meta["stop_reason"].startswith(("target_accuracy", "max_epochs"))
    assert main(["evaluate", str(out), "--data", str(tmp_path / "d.npz")]) == 0
    assert float(capsys.readouterr().out.split("accuracy ")[1].split()[0]) > 0.9


@pytest.mark.parametrize("spec", ["cnn:4,8", "lstm:8", "fixedpoint:8"])
def test_mnist_idx_models(mnist_dir, tmp_path, capsys, spec):
    out = tmp_path / "m.safetensors"
    rc = main(["train", "--data", f"mnist:{mnist_dir}", "--model", spec, "--epochs", "2",
               "--out", str(out), "--verbose", "0", "--lr", "0.01"])  # fmt: skip
    assert rc == 0
    meta = rg.load(out, with_extra=True)[1]["cli"]
    assert meta["n_features"] == 784 and meta["image_shape"] == [28, 28]
    assert main(["evaluate", str(out), "--data", f"mnist:{mnist_dir}"]) == 0
    text = capsys.readouterr().out
    assert "data mnist:" in text and ": 45 rows" in text  # the t10k part by default
    assert main(["summary", str(out)]) == 0
    text = capsys.readouterr().out
    expect = {"cnn:4,8": "(1, 1, 28, 28)", "lstm:8": "(1, 28, 8)", "fixedpoint:8": "(1, 8)"}
    assert expect[spec] in text


def test_config_file_and_flag_override(tmp_path, capsys):
    cfg = tmp_path / "run.toml"
    cfg.write_text('data = "digits"\nmodel = "mlp:8"\nepochs = 5\n[train]\nbatch-size = 64\n'
                   'lr = 0.01\nval_split = 0.2\n')  # fmt: skip
    out = tmp_path / "c.safetensors"
    rc = main(["train", "--config", str(cfg), "--epochs", "2", "--out", str(out),
               "--verbose", "0"])  # fmt: skip
    assert rc == 0
    meta = rg.load(out, with_extra=True)[1]["cli"]
    assert meta["epochs"] == 2  # the flag wins
    assert meta["batch_size"] == 64 and meta["lr"] == 0.01 and meta["model_spec"] == "mlp:8"
    bad = tmp_path / "bad.toml"
    bad.write_text("epoch = 3\n")
    assert main(["train", "--config", str(bad)]) == 2
    assert "unknown key 'epoch'" in capsys.readouterr().err


def test_checkpoint_resume_continues(tmp_path):
    ck, log = tmp_path / "ck", tmp_path / "m.jsonl"
    base = [
        "train",
        "--data",
        "digits",
        "--model",
        "mlp:8",
        "--checkpoint-dir",
        str(ck),
        "--out",
        str(tmp_path / "r.safetensors"),
        "--metrics",
        str(log),
        "--verbose",
        "0",
    ]
    assert main(base + ["--epochs", "2"]) == 0
    assert any(p.name.startswith("ckpt") for p in ck.iterdir())
    assert main(base + ["--epochs", "4", "--resume"]) == 0
    assert [json.loads(line)["epoch"] for line in open(log)] == [1, 2, 3, 4]
    # Same weights as four epochs straight through.
    straight = tmp_path / "s.safetensors"
    assert main(["train", "--data", "digits", "--model", "mlp:8", "--epochs", "4",
                 "--out", str(straight), "--verbose", "0"]) == 0  # fmt: skip
    a, b = rg.load(tmp_path / "r.safetensors"), rg.load(straight)
    for (k, v), (_, w) in zip(a.state_dict().items(), b.state_dict().items()):
        np.testing.assert_array_equal(v, w, err_msg=k)


@pytest.mark.parametrize(
    "argv, code, message",
    [
        (["train", "--data", "digits", "--epochs", "0"], 2, "--epochs: expected a positive"),
        (["train", "--data", "digits", "--model", "rnn:3"], 2, "unknown kind 'rnn'"),
        (["train", "--data", "digits", "--batch-size", "zero"], 2, "--batch-size"),
        (["train", "--data", "digits", "--resume"], 2, "--resume needs --checkpoint-dir"),
        (["train", "--data", "nowhere.csv"], 1, "no such file"),
        (["train", "--data", "digits", "--model", "cnn", "--task", "regress",
          "--loss", "cross_entropy"], 2, "needs --task classify"),
        (["train", "--data", "weird.xyz"], 2, "unknown data"),
        (["evaluate", "missing.safetensors", "--data", "digits"], 1, "no such model file"),
    ],
)  # fmt: skip
def test_errors_are_one_line(argv, code, message, capsys):
    assert main(argv) == code
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("retrograd: error: ") and message in err[0]


def test_debug_shows_traceback_and_bad_file(tmp_path, capsys):
    junk = tmp_path / "junk.safetensors"
    junk.write_bytes(b"not a model")
    assert main(["summary", str(junk)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert main(["--debug", "summary", str(junk)]) == 1
    err = capsys.readouterr().err
    assert "Traceback" in err and err.strip().splitlines()[-1].startswith("retrograd: error:")


def test_help_lists_everything_with_examples_and_stays_light():
    proc = _run("--help")
    assert proc.returncode == 0
    for cmd in ("train", "evaluate", "predict", "summary", "gradcheck", "demo", "bench"):
        assert cmd in proc.stdout
    assert "examples:" in proc.stdout
    for cmd in ("train", "evaluate", "predict", "summary", "gradcheck", "demo", "bench"):
        sub = _run(cmd, "--help")
        assert sub.returncode == 0 and "examples:" in sub.stdout, cmd
        assert f"retrograd {cmd}" in sub.stdout
    code = (
        "import sys; from retrograd.cli import build_parser; build_parser().format_help(); "
        "print(sorted(m for m in ('matplotlib', 'sklearn', 'torch') if m in sys.modules))"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.stdout.strip() == "[]", proc.stderr


def test_subprocess_exit_codes(tmp_path):
    proc = _run("train", "--data", "digits", "--epochs", "-3")
    assert proc.returncode == 2 and proc.stderr.startswith("retrograd: error: --epochs")
    proc = _run("predict", str(tmp_path / "none.safetensors"), "--data", "digits")
    assert proc.returncode == 1 and proc.stderr.count("\n") == 1
    proc = _run()
    assert proc.returncode == 2 and "usage:" in proc.stderr


def test_ctrl_c_saves_checkpoint_and_exits_130(tmp_path):
    ck = tmp_path / "ck"
    proc = subprocess.Popen(
        [sys.executable, "-m", "retrograd", "train", "--data", "digits", "--model", "mlp:16",
         "--epochs", "100000", "--batch-size", "1", "--checkpoint-dir", str(ck),
         "--out", str(tmp_path / "x.safetensors"), "--verbose", "2"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    # Wait for the first epoch line (the loop is running), then interrupt.
    deadline = time.monotonic() + 60
    line = ""
    while time.monotonic() < deadline and not line.startswith("epoch"):
        line = proc.stdout.readline()
    assert line.startswith("epoch"), "training never started"
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "interrupted" in err and "--resume" in err
    assert any(p.name.startswith("ckpt") for p in ck.iterdir())
    assert not os.path.exists(tmp_path / "x.safetensors")


def test_distributed_two_ranks(tmp_path):
    import shutil

    pytest.importorskip("mpi4py")
    mpirun = shutil.which("mpirun") or shutil.which("mpiexec")
    if mpirun is None:
        pytest.skip("mpirun not installed")
    env = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
               OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")  # fmt: skip
    cmd = [mpirun, "-n", "2", "--oversubscribe"]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        cmd.append("--allow-run-as-root")
    out = tmp_path / "d.safetensors"
    cmd += [sys.executable, "-m", "retrograd", "train", "--data", "digits", "--model", "mlp:8",
            "--epochs", "2", "--distributed", "--out", str(out),
            "--metrics", str(tmp_path / "m.jsonl")]  # fmt: skip
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    # Only rank 0 talks and writes; at the default --verbose 1, lines (mpirun relays a
    # progress bar as a blank line).
    assert proc.stdout.count("saved model to") == 1
    assert proc.stdout.count("epoch 1/2 - loss") == 1
    assert proc.stdout.count("epoch 2/2") == 1
    assert len(open(tmp_path / "m.jsonl").readlines()) == 2
    assert rg.load(out, with_extra=True)[1]["cli"]["epochs"] == 2


def test_optional_subcommand_missing_is_skipped(monkeypatch):
    import retrograd.cli as cli

    monkeypatch.setattr(cli, "SUBCOMMANDS", cli.SUBCOMMANDS + ("not_written_yet",))
    monkeypatch.setattr(cli, "OPTIONAL_SUBCOMMANDS", ("noise", "not_written_yet"))
    parser = cli.build_parser()
    sub = next(
        a for a in parser._actions if isinstance(a, __import__("argparse")._SubParsersAction)
    )
    assert "train" in sub.choices and "not_written_yet" not in sub.choices
    # noise (add_parser + run) goes through the adapter when its module is there.
    if "noise" in sub.choices:
        assert sub.choices["noise"].get_default("func") is not None


def test_train_with_robust_options_then_evaluate(tmp_path):
    """The noisy-data options (bounded loss, clipping, dropout) are reachable from the CLI."""
    from retrograd.cli import main

    out = tmp_path / "m.safetensors"
    rc = main(
        [
            "train",
            "--data",
            "digits:train",
            "--model",
            "mlp:32",
            "--loss",
            "gce",
            "--clip-grad-norm",
            "1.0",
            "--dropout",
            "0.1",
            "--epochs",
            "3",
            "--verbose",
            "0",
            "--out",
            str(out),
        ]
    )
    assert rc == 0 and out.exists()
    model = rg.load(out)
    assert any(type(m).__name__ == "Dropout" for m in model.modules())
    assert main(["evaluate", str(out), "--data", "digits:test"]) == 0
    assert (
        main(
            [
                "train",
                "--data",
                "digits",
                "--loss",
                "sce",
                "--label-smoothing",
                "0.1",
                "--epochs",
                "1",
                "--verbose",
                "0",
                "--out",
                str(out),
            ]
        )
        == 2
    )
