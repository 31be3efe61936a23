"""`retrograd train` options for tables: --drop, --test-split, --delimiter, --missing,
--patience, the defaults, --tensorboard."""

from __future__ import annotations

import csv
import json
import math

import numpy as np
import pytest
from test_columns import NAMES, _rows, write_csv

import retrograd as rg
from retrograd.cli import _holdout, main


def _train(argv, capsys):
    rc = main(["train", "--verbose", "2", *argv])
    cap = capsys.readouterr()
    return rc, cap.out, cap.err


def test_drop_leaves_columns_out_and_evaluate_ignores_them(tmp_path, capsys):
    path = write_csv(tmp_path / "t.csv", NAMES, _rows(200, 0))
    out = tmp_path / "m.safetensors"
    rc, text, err = _train(["--data", str(path), "--target", "label", "--drop", "id,colour",
                            "--epochs", "3", "--out", str(out)], capsys)  # fmt: skip
    assert rc == 0, err
    assert "200 rows x 4 features, 3 classes" in text
    meta = rg.load(out, with_extra=True)[1]["cli"]
    assert meta["feature_names"] == ["width", "height", "depth", "weight"]
    assert meta["dropped"] == ["id", "colour"]
    assert main(["evaluate", str(out), "--data", str(path)]) == 0
    assert "ignoring column(s) dropped in training: id, colour" in capsys.readouterr().err
    # By index too; a name that is not a column is a usage error naming the columns.
    rc, text, _ = _train(["--data", str(path), "--target", "4", "--drop", "0", "--epochs",
                          "1", "--out", str(out)], capsys)  # fmt: skip
    assert rc == 0 and "200 rows x 5 features" in text
    rc, _, err = _train(["--data", str(path), "--target", "label", "--drop", "ids",
                         "--out", str(out)], capsys)  # fmt: skip
    assert rc == 2 and "--drop='ids' is not a column" in err
    rc, _, err = _train(["--data", str(path), "--target", "label", "--drop", "label",
                         "--out", str(out)], capsys)  # fmt: skip
    assert rc == 2 and "is the target" in err
    rc, _, err = _train(["--data", "digits", "--drop", "3", "--out", str(out)], capsys)
    assert rc == 2 and "CSV data only" in err


def test_id_columns_get_a_note(tmp_path, capsys):
    path = write_csv(tmp_path / "t.csv", NAMES, _rows(60, 0))
    rc, _, err = _train(["--data", str(path), "--target", "label", "--epochs", "1",
                         "--out", str(tmp_path / "m.safetensors")], capsys)  # fmt: skip
    assert rc == 0 and "column 'id' looks like a row id" in err and "--drop id" in err
    # pandas' to_csv: an unnamed index column 0..N-1 first; --drop by index then.
    names = ["", *NAMES[1:]]
    path = write_csv(tmp_path / "p.csv", names, [[i, *r[1:]] for i, r in enumerate(_rows(60, 0))])
    rc, _, err = _train(["--data", str(path), "--target", "label", "--epochs", "1",
                         "--out", str(tmp_path / "m.safetensors")], capsys)  # fmt: skip
    assert rc == 0 and "column '' looks like a row id" in err and "--drop 0" in err


def test_test_split_is_stratified_seeded_reported_and_logged(tmp_path, capsys):
    rows = _rows(250, 1)
    path = write_csv(tmp_path / "t.csv", NAMES, rows)
    runs = []
    for k, metrics in enumerate(("m.jsonl", "m.csv", "again.jsonl")):
        out = tmp_path / f"m{k}.safetensors"
        rc, text, err = _train(["--data", str(path), "--target", "label", "--drop", "id",
                                "--test-split", "0.2", "--epochs", "30", "--out", str(out),
                                "--metrics", str(tmp_path / metrics), "--seed", "3"],
                               capsys)  # fmt: skip
        assert rc == 0, err
        runs.append((text, rg.load(out, with_extra=True)[1]["cli"]))
    text, meta = runs[0]
    # 250 rows: 50 test; 200 left: 20 validation, 180 train.
    assert "180 train / 20 validation / 50 test" in text
    rep = meta["test"]
    assert rep["rows"] == 50 and 0 <= rep["accuracy"] <= 1
    line = next(ln for ln in text.splitlines() if ln.startswith("test part"))
    assert f"accuracy {rep['accuracy']:.4f}" in line and "validation at that epoch" in line
    assert runs[2][1]["test"] == rep  # same seed, same split, same result
    jsonl = [json.loads(x) for x in open(tmp_path / "m.jsonl")]
    assert jsonl[-1]["epoch"] == "test" and jsonl[-1]["accuracy"] == rep["accuracy"]
    assert jsonl[-1]["weights_of_epoch"] == meta.get("best_epoch", meta["epochs"])
    last = list(csv.DictReader(open(tmp_path / "m.csv")))[-1]
    assert last["epoch"] == "test" and float(last["accuracy"]) == rep["accuracy"]
    assert main(["summary", str(tmp_path / "m0.safetensors")]) == 0
    text = capsys.readouterr().out
    assert f"held-out test part (50 rows): loss {rep['loss']:.4f}" in text
    assert "columns: target 'label'; features width, height" in text and "dropped id" in text
    # The reported figures are those `retrograd evaluate` gives on the held-out rows.
    labels = np.array([r[4] for r in rows])
    y = np.searchsorted(sorted(set(labels)), labels)
    keep, held = _holdout.split_rows(len(rows), 0.2, 3, y, "--test-split")
    held_csv = write_csv(tmp_path / "held.csv", NAMES, [rows[i] for i in held])
    assert main(["evaluate", str(tmp_path / "m0.safetensors"), "--data", str(held_csv),
                 "--json", str(tmp_path / "r.json")]) == 0  # fmt: skip
    res = json.loads((tmp_path / "r.json").read_text())
    assert res["accuracy"] == rep["accuracy"]
    assert math.isclose(res["loss"], rep["loss"], rel_tol=1e-5)
    # Stratified: each class keeps its share (to within one row).
    for c in range(3):
        share = (y == c).mean() * 50
        assert abs((y[held] == c).sum() - share) <= 1


def test_test_split_for_regression_reports_r2_in_data_units(csv_files, tmp_path, capsys):
    out = tmp_path / "r.safetensors"
    rc, text, err = _train(["--data", str(csv_files["reg"]), "--target", "price",
                            "--test-split", "0.25", "--out", str(out)], capsys)  # fmt: skip
    assert rc == 0, err
    rep = rg.load(out, with_extra=True)[1]["cli"]["test"]
    assert rep["rows"] == 60 and rep["r2"] > 0.9 and rep["rmse"] > 0
    assert f"r2 {rep['r2']:.4f}" in text


def test_split_fractions_are_checked(tmp_path, capsys):
    for argv, msg in ((["--test-split", "1"], "--test-split: must be in [0, 1)"),
                      (["--test-split", "-0.1"], "--test-split: must be >= 0")):  # fmt: skip
        rc, _, err = _train(["--data", "digits", *argv], capsys)
        assert rc == 2 and msg in err


def test_patience_counts_epochs_without_improvement(tmp_path, capsys):
    out = tmp_path / "m.safetensors"
    # A tiny validation part and a large learning rate: val_loss soon stops improving.
    rc, text, _ = _train(["--data", "digits", "--model", "mlp:32", "--lr", "0.05",
                          "--patience", "3", "--epochs", "100", "--out", str(out)],
                         capsys)  # fmt: skip
    assert rc == 0
    meta = rg.load(out, with_extra=True)[1]["cli"]
    assert meta["stop_reason"].startswith("early_stopping: val_loss did not improve for 3 ")
    assert meta["epochs"] == meta["best_epoch"] + 3
    vl = meta["history"]["val_loss"]
    assert min(vl) == vl[meta["best_epoch"] - 1] and all(v >= min(vl) for v in vl[-3:])
    # off: every epoch runs.
    rc, _, _ = _train(["--data", "digits", "--model", "mlp:8", "--patience", "off",
                       "--epochs", "4", "--out", str(out)], capsys)  # fmt: skip
    meta = rg.load(out, with_extra=True)[1]["cli"]
    assert rc == 0 and meta["epochs"] == 4 and "best_epoch" not in meta


def test_defaults_early_stopping_on(tmp_path, capsys):
    out = tmp_path / "m.safetensors"
    path = write_csv(tmp_path / "t.csv", NAMES, _rows(150, 2))
    rc, text, _ = _train(["--data", str(path), "--target", "label", "--out", str(out)], capsys)
    assert rc == 0
    assert "model mlp:100 (Sequential" in text and "up to 200 epochs" in text
    meta = rg.load(out, with_extra=True)[1]["cli"]
    assert meta["best_epoch"] >= 1
    if meta["epochs"] < 200:
        assert meta["stop_reason"].startswith("early_stopping")
        assert meta["epochs"] == meta["best_epoch"] + 10


def test_missing_values_drop_and_mean(tmp_path, capsys):
    rows = _rows(120, 6)
    for i in (3, 10, 17):
        rows[i][2] = ""
    rows[20][4] = ""  # no target
    path = write_csv(tmp_path / "holes.csv", NAMES, rows)
    out = tmp_path / "m.safetensors"
    rc, text, err = _train(["--data", str(path), "--target", "label", "--drop", "id",
                            "--missing", "drop", "--epochs", "2", "--out", str(out)],
                           capsys)  # fmt: skip
    assert rc == 0 and "116 rows" in text
    assert "left out 1 rows without a target" in err and "left out 3 rows" in err
    rc, text, err = _train(["--data", str(path), "--target", "label", "--drop", "id",
                            "--missing", "mean", "--epochs", "2", "--out", str(out)],
                           capsys)  # fmt: skip
    assert rc == 0 and "119 rows" in text and "3 missing values will be filled" in err
    meta = rg.load(out, with_extra=True)[1]["cli"]
    assert meta["missing"] == "mean" and np.isfinite(meta["fill_values"]).all()
    # predict fills the same cells with the stored training means.
    filled = [list(r) for r in rows[:5]]
    filled[3][2] = float(meta["fill_values"][1])
    a = tmp_path / "a.csv"
    b = tmp_path / "b.csv"
    main(["predict", str(out), "--data", str(write_csv(tmp_path / "h.csv", NAMES, rows[:5])),
          "--out", str(a)])  # fmt: skip
    main(["predict", str(out), "--data", str(write_csv(tmp_path / "f.csv", NAMES, filled)),
          "--out", str(b)])  # fmt: skip
    assert "filled in with the training means" in capsys.readouterr().err
    assert a.read_text() == b.read_text()


def test_a_column_without_values_is_left_out(tmp_path, capsys):
    rows = [r[:3] + [""] + r[4:] for r in _rows(80, 8)]  # colour: all empty
    path = write_csv(tmp_path / "e.csv", NAMES, rows)
    out = tmp_path / "m.safetensors"
    rc, text, err = _train(["--data", str(path), "--target", "label", "--drop", "id",
                            "--epochs", "1", "--out", str(out)], capsys)  # fmt: skip
    assert rc == 0 and "80 rows x 4 features" in text
    assert "left out column(s) without any value: 'colour'" in err
    meta = rg.load(out, with_extra=True)[1]["cli"]
    assert meta["dropped"] == ["id", "colour"] and "colour" not in meta["feature_names"]
    assert main(["evaluate", str(out), "--data", str(path)]) == 0


def test_train_on_a_semicolon_file_with_text_labels_in_the_middle(tmp_path, capsys):
    path = write_csv(tmp_path / "s.data", NAMES, _rows(100, 7), sep=";", decimal=",")
    out = tmp_path / "m.safetensors"
    rc, text, err = _train(["--data", str(path), "--target", "label", "--drop", "id",
                            "--delimiter", ";", "--epochs", "2", "--out", str(out)],
                           capsys)  # fmt: skip
    assert rc == 0, err
    meta = rg.load(out, with_extra=True)[1]["cli"]
    assert meta["classes"] == ["high", "low", "mid"] and meta["delimiter"] == ";"
    rc, _, err = _train(["--data", str(path), "--delimiter", ";;"], capsys)
    assert rc == 2 and "--delimiter: expected one character" in err


def test_cli_train_writes_event_files(tmp_path, capsys):
    pytest.importorskip("tensorboardX")
    ea_mod = pytest.importorskip("tensorboard.backend.event_processing.event_accumulator")
    logdir = tmp_path / "tb"
    rc = main(["train", "--data", "digits", "--model", "mlp:8", "--epochs", "2",
               "--verbose", "0", "--out", str(tmp_path / "m.safetensors"),
               "--tensorboard", str(logdir)])  # fmt: skip
    assert rc == 0
    acc = ea_mod.EventAccumulator(str(logdir / "train"), size_guidance={"scalars": 0})
    acc.Reload()
    assert [e.step for e in acc.Scalars("epoch_loss")] == [1, 2]
    assert {"batch_loss", "epoch_learning_rate"} <= set(acc.Tags()["scalars"])
    if __import__("importlib").util.find_spec("matplotlib"):
        assert "curves" in acc.Tags()["images"]


def _coloured(n, seed):
    """_rows with the colour column as text (the label depends on it)."""
    out = []
    for r in _rows(n, seed):
        colour = "red" if r[3] > 50 else ("blue" if r[3] < -50 else "green")
        out.append(r[:3] + [colour] + r[4:])
    return out


def test_one_hot_text_columns_everywhere(tmp_path, capsys):
    rows = _coloured(240, 9)
    path = write_csv(tmp_path / "t.csv", NAMES, rows)
    out = tmp_path / "m.safetensors"
    rc, text, err = _train(["--data", str(path), "--target", "label", "--drop", "id",
                            "--one-hot", "colour", "--epochs", "30", "--lr", "0.01",
                            "--out", str(out)], capsys)  # fmt: skip
    assert rc == 0, err
    assert "240 rows x 7 features" in text
    meta = rg.load(out, with_extra=True)[1]["cli"]
    assert meta["feature_names"] == ["width", "height", "colour=blue", "colour=green",
                                     "colour=red", "depth", "weight"]  # fmt: skip
    assert [s for s, _ in meta["sources"]] == ["width", "height", "colour", "colour", "colour",
                                               "depth", "weight"]  # fmt: skip
    test_rows = _coloured(60, 10)
    test = write_csv(tmp_path / "test.csv", NAMES, test_rows)
    r1, r2 = tmp_path / "r1.json", tmp_path / "r2.json"
    assert main(["evaluate", str(out), "--data", str(test), "--json", str(r1)]) == 0
    base = json.loads(r1.read_text())
    assert base["accuracy"] > 0.5
    # Reordered columns: the same figures.
    order = [6, 4, 3, 0, 1, 5, 2]
    shuffled = write_csv(tmp_path / "s.csv", [NAMES[j] for j in order],
                         [[r[j] for j in order] for r in test_rows])  # fmt: skip
    assert main(["evaluate", str(out), "--data", str(shuffled), "--json", str(r2)]) == 0
    assert json.loads(r2.read_text())["loss"] == base["loss"]
    # Header-less, the training file's width: by position, the same figures.
    nohdr = write_csv(tmp_path / "n.csv", NAMES, test_rows, header=False)
    assert main(["evaluate", str(out), "--data", str(nohdr), "--json", str(r2)]) == 0
    assert json.loads(r2.read_text())["loss"] == base["loss"]
    # Header-less feature columns only (predict): by position, the same predictions.
    feats = [[r[1], r[2], r[3], r[5], r[6]] for r in test_rows]
    f_csv = write_csv(tmp_path / "f.csv", NAMES, feats, header=False)
    p1, p2 = tmp_path / "p1.csv", tmp_path / "p2.csv"
    assert main(["predict", str(out), "--data", str(test), "--out", str(p1)]) == 0
    assert main(["predict", str(out), "--data", str(f_csv), "--out", str(p2)]) == 0
    assert p1.read_text() == p2.read_text()
    capsys.readouterr()
    # An unseen category: a note, all indicators 0; a missing column: refused by name.
    odd = [r[:3] + ["purple" if i == 0 else r[3]] + r[4:] for i, r in enumerate(test_rows)]
    assert main(["predict", str(out), "--data", str(write_csv(tmp_path / "o.csv", NAMES, odd)),
                 "--out", str(tmp_path / "p.csv")]) == 0  # fmt: skip
    assert "1 rows of column 'colour' hold categories not seen in training" in (
        capsys.readouterr().err
    )
    lacking = write_csv(
        tmp_path / "l.csv", NAMES[:3] + NAMES[4:], [r[:3] + r[4:] for r in test_rows]
    )
    assert main(["evaluate", str(out), "--data", str(lacking)]) == 1
    assert "lacks column(s) the model was trained on: colour" in capsys.readouterr().err


def test_one_hot_auto_and_errors(tmp_path, capsys):
    rows = _coloured(80, 11)
    path = write_csv(tmp_path / "t.csv", NAMES, rows)
    out = tmp_path / "m.safetensors"
    rc, text, err = _train(["--data", str(path), "--target", "label", "--one-hot", "auto",
                            "--epochs", "1", "--out", str(out)], capsys)  # fmt: skip
    assert rc == 0 and "80 rows x 8 features" in text  # id, 4 numbers, 3 colours
    rc, _, err = _train(["--data", str(path), "--target", "label", "--one-hot", "label",
                         "--out", str(out)], capsys)  # fmt: skip
    assert rc == 2 and "--one-hot: column 'label' is the target" in err
    rc, _, err = _train(["--data", str(path), "--target", "label", "--out", str(out)], capsys)
    assert rc == 1 and "--one-hot colour" in err
    many = [r[:3] + [f"c{i}"] + r[4:] for i, r in enumerate(_rows(150, 12))]
    path = write_csv(tmp_path / "many.csv", NAMES, many)
    rc, _, err = _train(["--data", str(path), "--target", "label", "--one-hot", "colour",
                         "--out", str(out)], capsys)  # fmt: skip
    assert rc == 2 and "has 150 distinct values" in err
