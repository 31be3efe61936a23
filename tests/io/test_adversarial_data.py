"""Hostile and degenerate data files: .npz, .npy, IDX and CSV.

Every loader (``rg.data`` and ``retrograd ... --data``) answers with a ValueError that
names the file, the value found and what was expected; never a raw NumPy message, and
never an allocation of what a header merely claims. The files are built here.
"""

from __future__ import annotations

import gzip
import io
import re
import struct
import zipfile

import numpy as np
import numpy.lib.format as npf
import pytest

import retrograd as rg
from retrograd.cli import EXIT_ERROR, EXIT_USAGE, main


def _cli_error(capsys, argv, code=EXIT_ERROR):
    """Run the command line; return its one error line (and check nothing else leaked)."""
    assert main(argv) == code
    err = capsys.readouterr().err
    assert "Traceback" not in err
    lines = [ln for ln in err.splitlines() if ln.startswith("retrograd: error:")]
    assert len(lines) == 1, err
    return lines[0]


def _npy_header(shape, descr="<f8"):
    b = io.BytesIO()
    npf.write_array_header_1_0(b, {"descr": descr, "fortran_order": False, "shape": shape})
    return b.getvalue()


# ------------------------------------------------------------------------- .npz
@pytest.mark.parametrize(
    ("arrays", "expected"),
    [
        ({"X": np.zeros((0, 4)), "y": np.zeros(0)}, r"X has 0 rows \(shape \(0, 4\)\)"),
        ({"X": np.zeros(0), "y": np.zeros(0)}, r"X has 0 rows \(shape \(0,\)\)"),
        ({"X": np.float32(3), "y": np.zeros(1)}, "X is a single number"),
        ({"X": np.ones((4, 0)), "y": np.arange(4)}, "0 features per row"),
        ({"X": np.ones((4, 2)), "y": np.arange(3)}, "X has 4 rows but y has 3"),
        ({"X": np.ones((4, 2)), "y": np.float32(1)}, "y is a single number"),
        ({"X": np.array(["a", "b"]), "y": np.arange(2)}, "X has dtype <U1, expected numbers"),
    ],
    ids=["0rows", "0rows-1d", "scalar-X", "0features", "rows-differ", "scalar-y", "text-X"],
)
@pytest.mark.parametrize("command", ["train", "evaluate", "predict"])
def test_degenerate_npz_names_the_file_and_the_value(
    tmp_path, capsys, arrays, expected, command, cli_model
):
    path = tmp_path / "data.npz"
    np.savez(path, **arrays)
    argv = {
        "train": ["train", "--data", str(path), "--epochs", "1", "--verbose", "0",
                  "--out", str(tmp_path / "m.safetensors")],
        "evaluate": ["evaluate", str(cli_model), "--data", str(path)],
        "predict": ["predict", str(cli_model), "--data", str(path)],
    }[command]  # fmt: skip
    line = _cli_error(capsys, argv)
    assert "data.npz" in line and re.search(expected, line), line


def test_text_labels_in_npz_are_classes(tmp_path):
    path = tmp_path / "data.npz"
    X = np.array([[0.0, 1], [1, 0], [0, 1.1], [1.2, 0]])
    np.savez(path, X=X, y=np.array(["cat", "dog", "cat", "dog"]))
    out = tmp_path / "m.safetensors"
    assert main(["train", "--data", str(path), "--epochs", "1", "--verbose", "0",
                 "--out", str(out)]) == 0  # fmt: skip
    _, extra = rg.load(out, with_extra=True)
    assert extra["cli"]["classes"] == ["cat", "dog"]
    assert main(["evaluate", str(out), "--data", str(path)]) == 0


def _zip(path, members):
    with zipfile.ZipFile(path, "w") as z:
        for name, data in members.items():
            z.writestr(name, data)


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"hello, not a zip at all", r"not an \.npz archive: expected a zip file"),
        (b"", "not an .npz archive.*an empty file"),
        (None, r"a single \.npy array, not an \.npz archive"),
        ("giant", r"announces shape \(1000000000000,\).*holds 80 bytes"),
        ("object", "holds Python objects"),
        ("truncated", "not a readable .npz archive"),
        ("bitflip", "not a readable .npz archive.*CRC"),
        ("claims", "claims .* bytes from .* stored bytes"),
    ],
    ids=["text", "empty", "npy", "giant", "object", "truncated", "bitflip", "zip-size"],
)
def test_broken_npz_names_the_file_without_numpy_pickle_text(tmp_path, capsys, content, expected):
    path = tmp_path / "data.npz"
    good = io.BytesIO()
    np.savez(good, X=np.ones((5, 3)), y=np.arange(5))
    good = good.getvalue()
    if content is None:
        np.save(tmp_path / "a.npy", np.ones((3, 2)))
        path.write_bytes((tmp_path / "a.npy").read_bytes())
    elif content == "giant":
        _zip(path, {"X.npy": _npy_header((10**12,)) + b"\0" * 80, "y.npy": b""})
    elif content == "object":
        np.savez(path, X=np.array([{"a": 1}], dtype=object), y=np.zeros(1))
    elif content == "truncated":
        path.write_bytes(good[: len(good) // 2])
    elif content == "bitflip":
        blob = bytearray(good)
        blob[blob.index(b"\x93NUMPY") + 120] ^= 0xFF  # inside X's data
        path.write_bytes(bytes(blob))
    elif content == "claims":
        # A stored member whose directory entry claims far more than is stored.
        _zip(path, {"X.npy": _npy_header((4,)) + b"\0" * 32, "y.npy": b""})
        blob = bytearray(path.read_bytes())
        cd = blob.rindex(b"PK\x01\x02")  # central directory entry of the last member...
        cd = blob.index(b"PK\x01\x02")  # ...and of X.npy, the first
        blob[cd + 24 : cd + 28] = struct.pack("<I", 10**9)  # uncompressed size
        path.write_bytes(bytes(blob))
    else:
        path.write_bytes(content)
    with pytest.raises(ValueError, match=expected) as info:
        rg.data.load_npz(path)
    msg = str(info.value)
    assert "data.npz" in msg and "pickle" not in msg.replace("unpickling", "")
    line = _cli_error(
        capsys, ["train", "--data", str(path), "--out", str(tmp_path / "m.safetensors")]
    )
    assert "data.npz" in line and "allow_pickle" not in line


@pytest.mark.parametrize("member", ["notes.txt", "X.npy"])
def test_a_member_that_is_not_an_npy_array_is_named(tmp_path, member):
    path = tmp_path / "data.npz"
    body = {"X.npy": b"", "y.npy": b""}
    body[member] = b"plain text, not an array\n"
    with zipfile.ZipFile(path, "w") as z:
        for name, blob in body.items():
            z.writestr(name, blob if blob else _npy_bytes(np.arange(3.0)))
    with pytest.raises(ValueError, match=f"member '{member}' is not a .npy array") as info:
        rg.data.load_npz(path)
    assert "data.npz" in str(info.value) and "magic" not in str(info.value)


def _npy_bytes(a):
    buf = io.BytesIO()
    np.save(buf, a)
    return buf.getvalue()


def test_npy_given_as_data_says_to_use_npz(tmp_path, capsys):
    path = tmp_path / "arr.npy"
    np.save(path, np.ones((3, 2)))
    line = _cli_error(capsys, ["train", "--data", str(path)], code=EXIT_USAGE)
    assert "arr.npy" in line and "numpy.savez(path, X=X, y=y)" in line


# ------------------------------------------------------------------------- IDX
def _idx(code, dims, data=b""):
    return bytes([0, 0, code, len(dims)]) + b"".join(struct.pack(">I", d) for d in dims) + data


@pytest.mark.parametrize("compress", [False, True], ids=["plain", "gzip"])
@pytest.mark.parametrize(
    ("blob", "expected"),
    [
        # 65536**4 = 2**64: wrapped to 0 in int64 arithmetic, matching an empty data part.
        (_idx(0x08, [65536] * 4), r"\(65536, 65536, 65536, 65536\) are too large"),
        (_idx(0x0E, [2**31, 2**20], b"\0" * 100), r"has 100 data bytes.*\(truncated\)"),
        (_idx(0x08, [0, 2**32 - 1, 2**32 - 1, 2**32 - 1]), "too large for an array"),
        (_idx(0x08, [1000], b"\0" * 10), r"has 10 data bytes.*needs 1000"),
    ],
    ids=["wraps", "huge", "zero-and-huge", "exceeds"],
)
def test_idx_header_claiming_more_than_the_file_is_refused(tmp_path, blob, expected, compress):
    path = tmp_path / "train-images-idx3-ubyte"
    path.write_bytes(gzip.compress(blob) if compress else blob)
    with pytest.raises(ValueError, match=expected) as info:
        rg.data.load_idx(path)
    assert "train-images-idx3-ubyte" in str(info.value)


def test_idx_reads_no_more_than_the_header_announces(tmp_path, monkeypatch):
    from retrograd.data import idx

    asked = []
    real = idx._read

    def spy(fh, n, path):
        asked.append(n)
        return real(fh, n, path)

    monkeypatch.setattr(idx, "_read", spy)
    path = tmp_path / "labels"
    path.write_bytes(_idx(0x08, [3], b"\x01\x02\x03" + b"\0" * 10_000))
    with pytest.raises(ValueError, match="more than 3 data bytes.*trailing"):
        rg.data.load_idx(path)
    assert max(asked) == 4  # 3 announced bytes + 1 to see the trailing ones


def test_mnist_dir_with_zero_images_is_refused(tmp_path, capsys):
    (tmp_path / "train-images-idx3-ubyte").write_bytes(_idx(0x08, [0, 28, 28]))
    (tmp_path / "train-labels-idx1-ubyte").write_bytes(_idx(0x08, [0]))
    line = _cli_error(capsys, ["train", "--data", f"mnist:{tmp_path}", "--epochs", "1"])
    assert "shape (0, 28, 28)" in line and "at least one image" in line


# ------------------------------------------------------------------------- CSV
@pytest.mark.parametrize(
    ("text", "expected"),
    [("", "is empty"), ("\n\n  \n", "is empty"), ("a,b,y\n", "header but no data rows")],
    ids=["empty", "blank-lines", "header-only"],
)
def test_empty_csv_names_the_file(tmp_path, capsys, text, expected):
    path = tmp_path / "data.csv"
    path.write_text(text)
    with pytest.raises(ValueError, match=expected):
        rg.data.load_csv(path)
    line = _cli_error(capsys, ["train", "--data", str(path)])
    assert "data.csv" in line and expected in line


def test_csv_cell_over_the_csv_field_limit_names_the_file(tmp_path, capsys):
    path = tmp_path / "data.csv"
    path.write_text("a,b,y\n" + "1" * 200_000 + ",2,0\n3,4,1\n")
    with pytest.raises(ValueError, match=r"data\.csv.*cannot be read as CSV \(field larger"):
        rg.data.load_csv(path)
    line = _cli_error(capsys, ["train", "--data", str(path)])
    assert "data.csv" in line and "Error:" not in line


@pytest.mark.parametrize("cell", ["inf", "-inf", "1e400"])
@pytest.mark.parametrize("command", ["train", "evaluate", "predict"])
def test_infinite_csv_feature_names_the_file_and_column(tmp_path, capsys, cell, command):
    good = tmp_path / "good.csv"
    good.write_text("a,b,y\n" + "".join(f"{i},{i % 3},{i % 2}\n" for i in range(12)))
    model = tmp_path / "m.safetensors"
    argv = ["train", "--data", str(good), "--epochs", "1", "--verbose", "0", "--out", str(model)]
    assert main(argv) == 0
    bad = tmp_path / "bad.csv"
    bad.write_text(good.read_text().replace("\n5,2,1\n", f"\n5,{cell},1\n"))
    argv = {"train": ["train", "--data", str(bad), "--out", str(tmp_path / "o.safetensors")]}.get(
        command, [command, str(model), "--data", str(bad)]
    )
    line = _cli_error(capsys, argv)
    assert re.search(r"bad\.csv: 1 feature value\(s\) are -?inf \(the first in row 5, column 'b'\)",
                     line), line  # fmt: skip


def test_nan_in_npz_features_names_the_file(tmp_path, capsys):
    path = tmp_path / "data.npz"
    X = np.ones((6, 3))
    X[4, 2] = np.nan
    np.savez(path, X=X, y=np.arange(6) % 2)
    line = _cli_error(capsys, ["train", "--data", str(path)])
    assert "data.npz: 1 feature value(s) are nan (the first in row 4, column 2)" in line


def test_integer_targets_beyond_int64_precision_are_not_cast_to_garbage(tmp_path):
    path = tmp_path / "data.csv"
    path.write_text("a,y\n1,99999999999999999999999\n2,1\n3,inf\n")
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # NumPy's "invalid value encountered in cast"
        _, y = rg.data.load_csv(path)
    assert y.dtype.kind == "f" and y[0] == 1e23 and np.isinf(y[2])
    from retrograd.data.table import exact_integers

    assert exact_integers([1.0, -(2.0**53)]) and not exact_integers([2.0**53 + 2])
    assert not exact_integers([np.inf]) and not exact_integers([0.5])
