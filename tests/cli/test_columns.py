"""CSV files as people have them: columns matched by name in evaluate/predict, delimiters,
decimal commas, headers that do not fit their rows, text columns, missing values."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest

import retrograd as rg
from retrograd.cli import main

NAMES = ["id", "width", "height", "colour", "label", "depth", "weight"]


def _rows(n: int, seed: int) -> list:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 5))
    # Every feature matters, with different scales, so a column swap changes the answers.
    score = X[:, 0] * 2 - X[:, 1] + 1.5 * X[:, 3] * X[:, 4] + X[:, 2]
    lab = np.where(score > 0.8, "high", np.where(score < -0.8, "low", "mid"))
    scales = [1.0, 10.0, 100.0, 0.1, 5.0]
    out = []
    for i in range(n):
        f = [round(float(X[i, k] * scales[k]), 5) for k in range(5)]
        out.append([i + 1, f[0], f[1], f[2], str(lab[i]), f[3], f[4]])
    return out


def write_csv(path, names, rows, sep=",", decimal=".", header=True):
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh, delimiter=sep, lineterminator="\n")
        if header:
            w.writerow(names)
        for r in rows:
            w.writerow([str(c).replace(".", decimal) if isinstance(c, float) else c for c in r])
    return path


def _permute(names, rows, order):
    return [names[j] for j in order], [[r[j] for j in order] for r in rows]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    d = tmp_path_factory.mktemp("columns")
    train = write_csv(d / "train.csv", NAMES, _rows(300, 0))
    test_rows = _rows(90, 1)
    test = write_csv(d / "test.csv", NAMES, test_rows)
    model = d / "m.safetensors"
    rc = main(["train", "--data", str(train), "--target", "label", "--model", "mlp:32",
               "--epochs", "40", "--lr", "0.01", "--out", str(model),
               "--verbose", "0"])  # fmt: skip
    assert rc == 0
    return d, model, test, test_rows


def _evaluate(model, data, tmp_path, capsys, *extra):
    out = tmp_path / "r.json"
    rc = main(["evaluate", str(model), "--data", str(data), "--json", str(out), *extra])
    captured = capsys.readouterr()
    return rc, (json.loads(out.read_text()) if rc == 0 else None), captured


def _predict(model, data, tmp_path, capsys, *extra):
    out = tmp_path / "p.csv"
    rc = main(["predict", str(model), "--data", str(data), "--out", str(out), *extra])
    captured = capsys.readouterr()
    return rc, (out.read_text() if rc == 0 else None), captured


def test_model_file_records_the_layout(trained):
    _, model, _, _ = trained
    meta = rg.load(model, with_extra=True)[1]["cli"]
    assert meta["feature_names"] == ["id", "width", "height", "colour", "depth", "weight"]
    assert meta["target"] == "label" and meta["target_index"] == 4
    assert meta["columns"] == NAMES and meta["n_columns"] == 7


def test_reordered_columns_give_the_same_answers(trained, tmp_path, capsys):
    d, model, test, rows = trained
    rc, base, _ = _evaluate(model, test, tmp_path, capsys)
    assert rc == 0 and base["accuracy"] > 0.6
    names, prow = _permute(NAMES, rows, [6, 4, 0, 3, 1, 5, 2])
    shuffled = write_csv(tmp_path / "shuffled.csv", names, prow)
    rc, res, cap = _evaluate(model, shuffled, tmp_path, capsys)
    assert rc == 0
    assert res["accuracy"] == base["accuracy"] and res["loss"] == base["loss"]
    assert "matched by name" in cap.err
    rc, p_base, _ = _predict(model, test, tmp_path, capsys)
    rc2, p_shuf, _ = _predict(model, shuffled, tmp_path, capsys)
    assert rc == rc2 == 0 and p_base == p_shuf


def test_a_missing_training_column_is_refused_by_name(trained, tmp_path, capsys):
    _, model, _, rows = trained
    names, prow = _permute(NAMES, rows, [0, 1, 2, 4, 6])  # no colour, no depth
    path = write_csv(tmp_path / "lacking.csv", names, prow)
    for cmd in (_evaluate, _predict):
        rc, _, cap = cmd(model, path, tmp_path, capsys)
        assert rc == 1
        assert "lacks column(s) the model was trained on: colour, depth" in cap.err


def test_extra_columns_are_ignored_with_a_note(trained, tmp_path, capsys):
    _, model, test, rows = trained
    rc, base, _ = _evaluate(model, test, tmp_path, capsys)
    path = write_csv(tmp_path / "extra.csv", ["notes", *NAMES, "batch"],
                     [["x", *r, 7] for r in rows])  # fmt: skip
    rc, res, cap = _evaluate(model, path, tmp_path, capsys)
    assert rc == 0 and res["loss"] == base["loss"]
    assert "ignoring column(s) not used in training: notes, batch" in cap.err
    rc, text, cap = _predict(model, path, tmp_path, capsys)
    assert rc == 0 and "notes, batch" in cap.err


def test_headerless_files_fall_back_to_position_with_a_note(trained, tmp_path, capsys):
    _, model, test, rows = trained
    rc, base, _ = _evaluate(model, test, tmp_path, capsys)
    path = write_csv(tmp_path / "nohdr.csv", NAMES, rows, header=False)
    rc, res, cap = _evaluate(model, path, tmp_path, capsys)
    assert rc == 0 and res["loss"] == base["loss"]
    assert "no header: columns taken by position, as in the training file" in cap.err
    # Features only (the training file's width less the target) is fine for predict...
    feats = write_csv(tmp_path / "feats.csv", NAMES, [r[:4] + r[5:] for r in rows], header=False)
    rc, p_feats, cap = _predict(model, feats, tmp_path, capsys)
    rc2, p_base, _ = _predict(model, test, tmp_path, capsys)
    assert rc == rc2 == 0 and p_feats == p_base and "taken as the features in order" in cap.err
    # ...but evaluate needs the target, and any other width cannot be placed.
    rc, _, cap = _evaluate(model, feats, tmp_path, capsys)
    assert rc == 1 and "needs the target column too" in cap.err
    narrow = write_csv(tmp_path / "narrow.csv", NAMES, [r[:5] for r in rows], header=False)
    rc, _, cap = _predict(model, narrow, tmp_path, capsys)
    assert rc == 1 and "5 columns, so they cannot be matched" in cap.err


def test_semicolon_and_decimal_comma_files(trained, tmp_path, capsys):
    _, model, test, rows = trained
    rc, base, _ = _evaluate(model, test, tmp_path, capsys)
    semi = write_csv(tmp_path / "semi.csv", NAMES, rows, sep=";", decimal=",")
    assert "," in semi.read_text().splitlines()[1]  # decimal commas really are there
    rc, res, _ = _evaluate(model, semi, tmp_path, capsys)
    assert rc == 0 and res["loss"] == base["loss"]
    rc, res, _ = _evaluate(model, semi, tmp_path, capsys, "--delimiter", ";")
    assert rc == 0 and res["loss"] == base["loss"]
    tab = write_csv(tmp_path / "tab.txt", NAMES, rows, sep="\t")
    rc, res, _ = _evaluate(model, tab, tmp_path, capsys, "--delimiter", "tab")
    assert rc == 0 and res["loss"] == base["loss"]
    # Unquoted decimal commas in a comma-separated file: the header is narrower than the
    # rows, and the file is refused instead of being read as twice as many columns.
    text = "\n".join(
        [",".join(NAMES)] + [",".join(str(c).replace(".", ",") for c in r) for r in rows]
    )
    bad = tmp_path / "decimal_comma.csv"
    bad.write_text(text + "\n")
    for argv in ([], ["--delimiter", ","]):
        rc, _, cap = _evaluate(model, bad, tmp_path, capsys, *argv)
        assert rc == 1 and "the header has 7 columns but the rows have" in cap.err
        assert "decimal commas" in cap.err


def test_training_on_a_semicolon_file_matches_the_comma_file(tmp_path, capsys):
    rows = _rows(120, 3)
    comma = write_csv(tmp_path / "c.csv", NAMES, rows)
    semi = write_csv(tmp_path / "s.csv", NAMES, rows, sep=";", decimal=",")
    outs = []
    for src in (comma, semi):
        out = tmp_path / (src.stem + ".safetensors")
        rc = main(["train", "--data", str(src), "--target", "label", "--epochs", "2",
                   "--out", str(out), "--verbose", "0"])  # fmt: skip
        assert rc == 0
        outs.append(rg.io.load_state_dict_file(out))
    for k in outs[0]:
        np.testing.assert_array_equal(outs[0][k], outs[1][k])


def test_text_feature_columns_are_refused_naming_them(tmp_path, capsys):
    rows = [r[:3] + ["red" if i % 2 else "blue"] + r[4:] for i, r in enumerate(_rows(40, 4))]
    path = write_csv(tmp_path / "text.csv", NAMES, rows)
    rc = main(["train", "--data", str(path), "--target", "label", "--out",
               str(tmp_path / "m.safetensors"), "--verbose", "0"])  # fmt: skip
    err = capsys.readouterr().err
    assert rc == 1 and "column(s) 'colour' ('blue')" in err and "hold text" in err


def test_missing_values_are_refused_with_the_choices(tmp_path, capsys):
    rows = _rows(60, 5)
    rows[3][2] = ""
    rows[7][5] = "NA"
    path = write_csv(tmp_path / "holes.csv", NAMES, rows)
    rc = main(["train", "--data", str(path), "--target", "label", "--out",
               str(tmp_path / "m.safetensors"), "--verbose", "0"])  # fmt: skip
    err = capsys.readouterr().err
    assert rc == 1 and "2 missing feature value(s) in 2 rows (columns 'height', 'depth')" in err
    assert "--missing drop" in err and "--missing mean" in err


def test_gradcheck_reads_csv_columns_by_name(trained, tmp_path, capsys):
    _, model, _, rows = trained
    names, prow = _permute(NAMES, rows, [6, 4, 0, 3, 1, 5, 2])
    shuffled = write_csv(tmp_path / "shuffled.csv", names, prow)
    assert main(["gradcheck", str(model), "--data", str(shuffled)]) == 0
    assert "passed" in capsys.readouterr().out
