"""read_csv_table: delimiter sniffing, header detection, width checks, decimal commas."""

from __future__ import annotations

import numpy as np
import pytest

from retrograd.data import load_csv
from retrograd.data.table import read_csv_table, sniff_delimiter


@pytest.mark.parametrize(
    "text, delim",
    [
        ("a,b,c\n1.5,2,x\n3,4,y\n", ","),
        ("a;b;c\n1,5;2;x\n3;4,25;y\n", ";"),
        ("a\tb\tc\n1.5\t2\tx\n", "\t"),
        ("a|b|c\n1|2|3\n", "|"),
        ("1,5;2,5\n3,5;4,5\n", ";"),  # header-less decimal commas: cells read as numbers
        ("x\n1\n2\n", ","),  # one column
    ],
)
def test_sniffing(tmp_path, text, delim):
    assert sniff_delimiter(text.splitlines(keepends=True)) == delim
    p = tmp_path / "f.csv"
    p.write_text(text)
    assert read_csv_table(p).delimiter == delim


def test_header_detection(tmp_path):
    p = tmp_path / "f.csv"
    p.write_text("1,2,cat\n3,4,dog\n")  # text labels, no header
    assert read_csv_table(p).names is None
    p.write_text("a,b,label\n1,2,cat\n")
    assert read_csv_table(p).names == ["a", "b", "label"]
    p.write_text("a,b,label\n,2,cat\n3,NA,dog\n")  # missing cells are not text
    t = read_csv_table(p)
    assert t.names == ["a", "b", "label"]
    assert np.isnan(t.numbers([0, 1], missing="nan")).sum() == 2


def test_header_of_another_width_is_refused(tmp_path):
    p = tmp_path / "f.csv"
    p.write_text("a,b,label\n1,5,2,5,0\n3,5,4,5,1\n")
    with pytest.raises(ValueError, match="header has 3 columns but the rows have 5.*decimal comm"):
        read_csv_table(p)
    with pytest.raises(ValueError, match="header has 3 columns but the rows have 5"):
        load_csv(p)
    p.write_text("a,b,c,d\n1,2,3\n")
    with pytest.raises(ValueError, match="header has 4 columns but the rows have 3"):
        read_csv_table(p)
    p.write_text("a,a,b\n1,2,3\n")
    with pytest.raises(ValueError, match=r"names columns \['a'\] more than once"):
        read_csv_table(p)


def test_load_csv_reads_semicolon_decimal_comma_files(tmp_path):
    p = tmp_path / "f.csv"
    p.write_text("id;x;y;label\n1;1,5;-2,25;a\n2;3;4,5e1;b\n")
    X, y, classes = load_csv(p, target="label", skip_columns=["id"], return_classes=True)
    assert X.tolist() == [[1.5, -2.25], [3.0, 45.0]] and classes == ["a", "b"]
    with pytest.raises(ValueError, match="delimiter"):
        load_csv(p, delimiter=";;")


def test_trailing_delimiters_and_unnamed_index_columns(tmp_path):
    p = tmp_path / "f.csv"
    p.write_text("a,b,label,\n1,2,x,\n3,4,y,\n")  # a spreadsheet's trailing commas
    t = read_csv_table(p)
    assert t.names == ["a", "b", "label"] and t.rows == [["1", "2", "x"], ["3", "4", "y"]]
    p.write_text(",a,label\n0,1.5,x\n1,2.5,y\n")  # pandas' unnamed index column stays
    assert read_csv_table(p).names == ["", "a", "label"]


def test_numbers_fast_and_slow_paths_agree(tmp_path):
    p = tmp_path / "f.csv"
    p.write_text("a;b\n1;2,5\nNA;4\n")
    t = read_csv_table(p)
    assert np.isnan(t.numbers([0], missing="nan")[1, 0])
    assert t.numbers([1]).tolist() == [[2.5], [4.0]]
    with pytest.raises(ValueError, match="1 missing value"):
        t.numbers([0])
