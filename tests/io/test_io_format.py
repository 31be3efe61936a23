"""The strict safetensors reader against hand-crafted malformed and hostile files."""

from __future__ import annotations

import json
import struct

import numpy as np
import pytest
from io_helpers import join_safetensors, split_safetensors

import retrograd as rg
from retrograd.io.safetensors_format import (
    MAX_HEADER_BYTES,
    encode_safetensors,
    read_safetensors,
    read_safetensors_header,
)


def _valid_blob():
    tensors = {
        "a": np.arange(6, dtype=np.float32).reshape(2, 3),
        "b": np.array([1, -2], dtype=np.int64),
        "c": np.zeros((0, 4), dtype=np.float64),
        "d": np.array([True, False, True]),
        "e": np.array(2.5, dtype=np.float16),
    }
    return tensors, encode_safetensors(tensors, {"note": "x"})


def test_reader_agrees_with_reference_reader(tmp_path):
    from safetensors.numpy import load

    tensors, blob = _valid_blob()
    path = tmp_path / "ok.safetensors"
    path.write_bytes(blob)
    got, meta = read_safetensors(path)
    ref = load(blob)
    assert meta == {"note": "x"}
    assert set(got) == set(ref) == set(tensors)
    for k in tensors:
        assert got[k].dtype == ref[k].dtype == tensors[k].dtype
        np.testing.assert_array_equal(got[k], ref[k])
        np.testing.assert_array_equal(got[k], tensors[k])
        assert got[k].flags.writeable and got[k].flags.c_contiguous
    shapes, _ = read_safetensors_header(path)
    assert shapes["a"] == ("F32", (2, 3)) and shapes["e"] == ("F16", ())


def test_non_contiguous_and_big_endian_arrays_are_written_correctly(tmp_path):
    # The reference writer copies raw memory; views must be normalised first.
    t = np.arange(12.0).reshape(3, 4)
    tensors = {"t": t.T, "s": t[:, ::2], "be": np.arange(3, dtype=">i4")}
    path = tmp_path / "v.safetensors"
    path.write_bytes(encode_safetensors(tensors, {}))
    got, _ = read_safetensors(path)
    np.testing.assert_array_equal(got["t"], t.T)
    np.testing.assert_array_equal(got["s"], t[:, ::2])
    np.testing.assert_array_equal(got["be"], [0, 1, 2])


def test_unsupported_arrays_are_refused_at_write():
    with pytest.raises(TypeError, match="dtype"):
        encode_safetensors({"o": np.array(["a"], dtype=object)}, {})
    with pytest.raises(TypeError, match="dtype"):
        encode_safetensors({"c": np.ones(2, np.complex64)}, {})
    with pytest.raises(ValueError, match="reserved"):
        encode_safetensors({"__metadata__": np.ones(2)}, {})


def _header_edit(fn):
    _, blob = _valid_blob()
    header, data = split_safetensors(blob)
    out = fn(header, data)
    return out if isinstance(out, bytes) else join_safetensors(*out)


HOSTILE = {
    "empty file": lambda h, d: b"",
    "short file": lambda h, d: b"\x01\x02\x03",
    "header longer than file": lambda h, d: struct.pack("<Q", 10**6) + b"{}",
    "header length 2**64-1": lambda h, d: b"\xff" * 8 + b"{}",
    "header over the cap": lambda h, d: struct.pack("<Q", MAX_HEADER_BYTES + 1) + b"{}",
    "truncated data": lambda h, d: join_safetensors(h, d)[:-5],
    "trailing bytes": lambda h, d: (h, d + b"\x00" * 8),
    "not json": lambda h, d: struct.pack("<Q", 5) + b"{abc}" + d,
    "not utf-8": lambda h, d: struct.pack("<Q", 4) + b'{"\xff"' + d,
    "header is a list": lambda h, d: struct.pack("<Q", 2) + b"[]",
    "header is a number": lambda h, d: struct.pack("<Q", 2) + b"12",
    "duplicate keys": lambda h, d: (
        struct.pack("<Q", 60)
        + b'{"a":{"dtype":"U8","shape":[],"data_offsets":[0,1]},"a":1} '
        + b"\x00"
    ),
    "NaN literal": lambda h, d: struct.pack("<Q", 18) + b'{"x": NaN, "y": 1}',
    "deep nesting": lambda h, d: struct.pack("<Q", 200002) + b"[" * 100001 + b"]" * 100001,
    "metadata not str": lambda h, d: ({**h, "__metadata__": {"k": 1}}, d),
    "metadata a list": lambda h, d: ({**h, "__metadata__": ["k"]}, d),
    "unknown dtype": lambda h, d: ({**h, "a": {**h["a"], "dtype": "F128"}}, d),
    "bfloat16": lambda h, d: ({**h, "a": {**h["a"], "dtype": "BF16", "shape": [2, 6]}}, d),
    "dtype not str": lambda h, d: ({**h, "a": {**h["a"], "dtype": 4}}, d),
    "shape negative": lambda h, d: ({**h, "a": {**h["a"], "shape": [-2, -3]}}, d),
    "shape float": lambda h, d: ({**h, "a": {**h["a"], "shape": [2.0, 3]}}, d),
    "shape bool": lambda h, d: ({**h, "a": {**h["a"], "shape": [True, 6]}}, d),
    "shape absurd": lambda h, d: ({**h, "a": {**h["a"], "shape": [2**62, 2**62, 0, 2**40]}}, d),
    "shape huge": lambda h, d: ({**h, "a": {**h["a"], "shape": [2**40, 2**40]}}, d),
    "too many dims": lambda h, d: ({**h, "a": {**h["a"], "shape": [1] * 40 + [6]}}, d),
    "shape mismatch": lambda h, d: ({**h, "a": {**h["a"], "shape": [3, 3]}}, d),
    "offsets reversed": lambda h, d: ({**h, "a": {**h["a"], "data_offsets": [24, 0]}}, d),
    "offsets past end": lambda h, d: (
        {**h, "a": {**h["a"], "data_offsets": [10**9, 10**9 + 24]}},
        d,
    ),
    "offsets negative": lambda h, d: ({**h, "a": {**h["a"], "data_offsets": [-24, 0]}}, d),
    "offsets wrong arity": lambda h, d: ({**h, "a": {**h["a"], "data_offsets": [0]}}, d),
    "extra entry key": lambda h, d: ({**h, "a": {**h["a"], "exec": "rm -rf /"}}, d),
    "entry not object": lambda h, d: ({**h, "a": "tensor"}, d),
}


def _overlap(h, d):
    # Make b overlap a by moving its window back into a's bytes.
    a0, a1 = h["a"]["data_offsets"]
    b0, b1 = h["b"]["data_offsets"]
    h = dict(h)
    h["b"] = {**h["b"], "data_offsets": [a0, a0 + (b1 - b0)]}
    return h, d


def _gap(h, d):
    h = {k: v for k, v in h.items() if k != "b"}
    return h, d


HOSTILE["overlapping offsets"] = _overlap
HOSTILE["gap between tensors"] = _gap


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_hostile_files_raise_model_file_error(tmp_path, case):
    path = tmp_path / "bad.safetensors"
    path.write_bytes(_header_edit(HOSTILE[case]))
    with pytest.raises(rg.ModelFileError):
        read_safetensors(path)
    with pytest.raises(rg.ModelFileError):
        rg.load(path)
    with pytest.raises(rg.ModelFileError):
        rg.io.load_state_dict_file(path)
    with pytest.raises(rg.ModelFileError):
        rg.load_checkpoint(path, model=rg.nn.Linear(2, 2))


def test_error_messages_name_the_problem(tmp_path):
    path = tmp_path / "bad.safetensors"
    path.write_bytes(struct.pack("<Q", 10**6) + b"{}")
    with pytest.raises(rg.ModelFileError, match="truncated"):
        read_safetensors(path)
    path.write_bytes(_header_edit(HOSTILE["unknown dtype"]))
    with pytest.raises(rg.ModelFileError, match="unknown dtype 'F128'"):
        read_safetensors(path)
    header = {
        "x": {"dtype": "U8", "shape": [8], "data_offsets": [0, 8]},
        "y": {"dtype": "U8", "shape": [8], "data_offsets": [4, 12]},
    }
    path.write_bytes(join_safetensors(header, bytes(12)))
    with pytest.raises(rg.ModelFileError, match="'y' at byte 4 overlaps"):
        read_safetensors(path)
    path.write_bytes(_header_edit(HOSTILE["shape absurd"]))
    with pytest.raises(rg.ModelFileError, match="needs .* bytes"):
        read_safetensors(path)


def test_model_file_error_is_a_value_error():
    assert issubclass(rg.ModelFileError, ValueError)
    assert rg.io.ModelFileError is rg.ModelFileError


def test_bool_tensor_with_invalid_bytes_is_refused(tmp_path):
    header = {"x": {"dtype": "BOOL", "shape": [2], "data_offsets": [0, 2]}}
    path = tmp_path / "b.safetensors"
    path.write_bytes(join_safetensors(header, b"\x01\x07"))
    with pytest.raises(rg.ModelFileError, match="BOOL"):
        read_safetensors(path)


def test_many_zero_size_tensors_at_one_offset_are_fine(tmp_path):
    header = {f"z{i}": {"dtype": "F32", "shape": [0], "data_offsets": [0, 0]} for i in range(5)}
    header["w"] = {"dtype": "U8", "shape": [1], "data_offsets": [0, 1]}
    path = tmp_path / "z.safetensors"
    path.write_bytes(join_safetensors(header, b"\x09"))
    got, _ = read_safetensors(path)
    assert got["w"].tolist() == [9] and got["z3"].shape == (0,)


def test_padding_spaces_after_the_json_are_accepted(tmp_path):
    text = json.dumps({"w": {"dtype": "U8", "shape": [1], "data_offsets": [0, 1]}}) + "     "
    path = tmp_path / "p.safetensors"
    path.write_bytes(struct.pack("<Q", len(text)) + text.encode() + b"\x05")
    assert read_safetensors(path)[0]["w"].tolist() == [5]
