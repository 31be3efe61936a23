"""Strict reading and writing of the safetensors container.

Layout of a safetensors file::

    [8 bytes]  N, the header length, unsigned 64-bit little-endian
    [N bytes]  UTF-8 JSON object (padded with spaces):
               {"__metadata__": {str: str, ...},
                "<tensor name>": {"dtype": "F32", "shape": [2, 3], "data_offsets": [b, e]},
                ...}
    [rest]     the tensor bytes, little-endian, C order; offsets count from here

Writing goes through the ``safetensors`` package (the reference implementation), so the
files load anywhere safetensors does. Reading is done here, in full, before a single
tensor is materialised: the header length, the JSON, every dtype, shape and offset are
checked against the size of the file, so a truncated or hostile file raises
:class:`~retrograd.errors.ModelFileError` instead of crashing, hanging or asking for an
absurd allocation. Nothing is ever allocated beyond the size of the file itself.
"""

from __future__ import annotations

import json
import math
import os
import stat
import struct
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ModelFileError

__all__ = [
    "DTYPES",
    "MAX_HEADER_BYTES",
    "MAX_TENSORS",
    "MAX_NDIM",
    "MAX_JSON_DEPTH",
    "encode_safetensors",
    "read_safetensors",
    "read_safetensors_header",
    "strict_json_loads",
]

# safetensors dtype code -> NumPy dtype (explicitly little-endian). BF16 and the FP8
# codes have no NumPy dtype, so they are refused rather than reinterpreted.
DTYPES: dict[str, np.dtype] = {
    "BOOL": np.dtype("|b1"),
    "U8": np.dtype("|u1"),
    "I8": np.dtype("|i1"),
    "U16": np.dtype("<u2"),
    "I16": np.dtype("<i2"),
    "F16": np.dtype("<f2"),
    "U32": np.dtype("<u4"),
    "I32": np.dtype("<i4"),
    "F32": np.dtype("<f4"),
    "U64": np.dtype("<u8"),
    "I64": np.dtype("<i8"),
    "F64": np.dtype("<f8"),
}
_CODE_OF = {(dt.kind, dt.itemsize): code for code, dt in DTYPES.items()}

MAX_HEADER_BYTES = 100_000_000  # the same cap as the reference (Rust) implementation
MAX_TENSORS = 1_000_000
MAX_NDIM = 32  # NumPy itself stops at 64
MAX_ELEMENTS = 2**62  # below NumPy's intp limit on the product of dimensions
MAX_JSON_DEPTH = 128  # nesting of JSON objects/arrays in the header and metadata


def _fail(what: str, msg: str) -> ModelFileError:
    return ModelFileError(f"{what}: {msg}")


# ----------------------------------------------------------------------------- JSON
def _reject_constant(name: str) -> Any:
    raise ValueError(f"non-standard JSON constant {name}")


def _no_duplicates(pairs: list) -> dict:
    out = {}
    for k, v in pairs:
        if k in out:
            raise ValueError(f"duplicate key {k!r}")
        out[k] = v
    return out


def _json_depth(obj: Any) -> int:
    """Nesting depth of a parsed JSON value, computed without recursion."""
    deepest, stack = 0, [(obj, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, (dict, list)):
            deepest = max(deepest, depth)
            if depth > MAX_JSON_DEPTH:
                return depth
            children = node.values() if isinstance(node, dict) else node
            stack.extend((c, depth + 1) for c in children)
    return deepest


def strict_json_loads(text: str | bytes, what: str) -> Any:
    """Parse JSON strictly: no NaN/Infinity literals, no duplicate keys, bounded nesting.

    Every failure, including a RecursionError from absurdly deep nesting, becomes a
    ModelFileError naming ``what``.
    """
    try:
        if isinstance(text, (bytes, bytearray)):
            text = bytes(text).decode("utf-8")
        obj = json.loads(text, parse_constant=_reject_constant, object_pairs_hook=_no_duplicates)
    except RecursionError:
        raise _fail(what, f"JSON nested deeper than {MAX_JSON_DEPTH} levels") from None
    except (ValueError, TypeError) as e:  # JSONDecodeError and UnicodeDecodeError included
        raise _fail(what, f"invalid JSON ({e})") from None
    if _json_depth(obj) > MAX_JSON_DEPTH:
        raise _fail(what, f"JSON nested deeper than {MAX_JSON_DEPTH} levels")
    return obj


# ---------------------------------------------------------------------------- write
def _normalise(name: str, arr: Any) -> np.ndarray:
    if not isinstance(name, str):
        raise TypeError(f"safetensors: tensor names must be str, got {type(name).__name__}")
    if name == "__metadata__":
        raise ValueError("safetensors: '__metadata__' is reserved and cannot name a tensor")
    if not isinstance(arr, np.ndarray):
        raise TypeError(f"safetensors: tensor {name!r} is a {type(arr).__name__}, not ndarray")
    if (arr.dtype.kind, arr.dtype.itemsize) not in _CODE_OF:
        raise TypeError(
            f"safetensors: tensor {name!r} has dtype {arr.dtype}, expected one of bool, "
            f"(u)int8/16/32/64, float16/32/64"
        )
    # The reference writer copies raw memory from the data pointer: a transposed or
    # strided view would be written scrambled, so force C order and little-endian here.
    # (np.ascontiguousarray would also turn a 0-d array into shape (1,).)
    return np.asarray(arr, dtype=arr.dtype.newbyteorder("<"), order="C")


def encode_safetensors(tensors: Mapping[str, np.ndarray], metadata: Mapping[str, str]) -> bytes:
    """Serialise ``tensors`` and string ``metadata`` to safetensors bytes.

    Example::

        >>> import numpy as np
        >>> from retrograd.io.safetensors_format import encode_safetensors
        >>> blob = encode_safetensors({"w": np.ones(2, np.float32)}, {"note": "hi"})
        >>> blob[8:9]
        b'{'
    """
    import safetensors.numpy

    for k, v in metadata.items():
        if not isinstance(k, str) or not isinstance(v, str):
            raise TypeError("safetensors: metadata keys and values must be str")
    arrays = {name: _normalise(name, arr) for name, arr in tensors.items()}
    return safetensors.numpy.save(arrays, metadata=dict(metadata))


# ----------------------------------------------------------------------------- read
def _as_int(x: Any) -> int | None:
    return x if isinstance(x, int) and not isinstance(x, bool) else None


def _validate_entry(name: str, entry: Any, data_len: int, what: str) -> tuple:
    if not isinstance(entry, dict) or set(entry) != {"dtype", "shape", "data_offsets"}:
        raise _fail(
            what,
            f"tensor {name!r}: entry must be an object with exactly 'dtype', "
            f"'shape' and 'data_offsets'",
        )
    code, shape, offsets = entry["dtype"], entry["shape"], entry["data_offsets"]
    if not isinstance(code, str) or code not in DTYPES:
        raise _fail(
            what,
            f"tensor {name!r}: unknown dtype {str(code)[:40]!r}, expected one of {sorted(DTYPES)}",
        )
    if not isinstance(shape, list) or len(shape) > MAX_NDIM:
        raise _fail(what, f"tensor {name!r}: shape must be a list of at most {MAX_NDIM} ints")
    dims = [_as_int(d) for d in shape]
    if any(d is None or d < 0 for d in dims):
        raise _fail(
            what,
            f"tensor {name!r}: shape {str(shape)[:80]} has a non-integer or negative dimension",
        )
    if not isinstance(offsets, list) or len(offsets) != 2:
        raise _fail(what, f"tensor {name!r}: data_offsets must be [begin, end]")
    begin, end = _as_int(offsets[0]), _as_int(offsets[1])
    if begin is None or end is None or not 0 <= begin <= end <= data_len:
        raise _fail(
            what,
            f"tensor {name!r}: data_offsets {str(offsets)[:80]} outside the "
            f"{data_len} data bytes of the file",
        )
    itemsize = DTYPES[code].itemsize
    # Python ints cannot overflow, and end - begin <= file size bounds what this accepts.
    if math.prod(dims) * itemsize != end - begin:
        raise _fail(
            what,
            f"tensor {name!r}: shape {dims} of {code} needs "
            f"{math.prod(dims) * itemsize} bytes but data_offsets span "
            f"{end - begin}",
        )
    # A zero-size tensor passes the byte count above whatever its other dimensions are;
    # NumPy cannot represent dimensions whose product (zeros left out) overflows.
    if math.prod(max(d, 1) for d in dims) > MAX_ELEMENTS:
        raise _fail(
            what,
            f"tensor {name!r}: shape {str(shape)[:80]} has dimensions whose product exceeds "
            f"{MAX_ELEMENTS} (the most an array can index)",
        )
    return code, tuple(dims), begin, end


def _parse_header(header_bytes: bytes, data_len: int, what: str) -> tuple[dict, dict]:
    if not header_bytes.startswith(b"{"):
        raise _fail(what, "the header does not start with '{' (not a safetensors file?)")
    header = strict_json_loads(header_bytes, what + " header")
    if not isinstance(header, dict):
        raise _fail(what, f"the header is a JSON {type(header).__name__}, expected an object")
    metadata = header.pop("__metadata__", None)
    if metadata is None:
        metadata = {}
    if not isinstance(metadata, dict) or not all(isinstance(v, str) for v in metadata.values()):
        raise _fail(what, "'__metadata__' must be an object of string values")
    if len(header) > MAX_TENSORS:
        raise _fail(what, f"{len(header)} tensors, more than the limit of {MAX_TENSORS}")
    entries = {name: _validate_entry(name, e, data_len, what) for name, e in header.items()}
    # The tensors must tile the data section exactly: no gaps, no overlap, no trailer.
    expected = 0
    for name, (_, _, begin, end) in sorted(entries.items(), key=lambda kv: kv[1][2:]):
        if begin != expected:
            kind = "overlaps the previous tensor" if begin < expected else "leaves a gap"
            raise _fail(what, f"tensor {name!r} at byte {begin} {kind} (expected {expected})")
        expected = end
    if expected != data_len:
        raise _fail(what, f"the tensors cover {expected} bytes but the data section has {data_len}")
    return entries, metadata


def _open_header(f: Any, size: int, what: str) -> tuple[dict, dict, int]:
    if size < 8:
        raise _fail(what, f"file is {size} bytes long, too short for a safetensors header")
    (n,) = struct.unpack("<Q", f.read(8))
    if n < 2 or n > MAX_HEADER_BYTES:
        raise _fail(what, f"header length {n} is outside [2, {MAX_HEADER_BYTES}]")
    if 8 + n > size:
        raise _fail(
            what, f"header length {n} runs past the end of the {size}-byte file (truncated?)"
        )
    header_bytes = f.read(n)
    if len(header_bytes) != n:
        raise _fail(what, "file shrank while being read")
    data_len = size - 8 - n
    entries, metadata = _parse_header(header_bytes, data_len, what)
    return entries, metadata, data_len


def _describe(path: Path) -> str:
    return f"safetensors file {str(path)!r}"


def _open_regular(path: Path, what: str) -> Any:
    """Open ``path`` for reading only if it is a regular file.

    A named pipe would block ``open`` forever and a device could stream without end, so
    the type is checked first (without following into the file), and again on the opened
    descriptor in case the path was swapped in between.
    """
    st = os.stat(path)  # a missing file: FileNotFoundError naming it, as open() would
    if stat.S_ISDIR(st.st_mode):
        raise _fail(what, "is a directory")
    if not stat.S_ISREG(st.st_mode):
        raise _fail(what, "is not a regular file (a pipe, socket or device?)")
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    f = os.fdopen(fd, "rb")
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        f.close()
        raise _fail(what, "is not a regular file (a pipe, socket or device?)")
    return f


def read_safetensors_header(path: str | os.PathLike) -> tuple[dict, dict]:
    """Validate a file's header and return ``({name: (dtype, shape)}, metadata)``.

    Reads only the header bytes, so it is cheap on large files.
    """
    path = Path(os.fspath(path))
    what = _describe(path)
    with _open_regular(path, what) as f:
        size = os.fstat(f.fileno()).st_size
        entries, metadata, _ = _open_header(f, size, what)
    return {k: (code, shape) for k, (code, shape, _, _) in entries.items()}, metadata


def read_safetensors(path: str | os.PathLike) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """Read and fully validate a safetensors file: ``(tensors, metadata)``.

    Tensors come back as writable, native-byte-order NumPy arrays in file order.
    Any malformation raises :class:`~retrograd.errors.ModelFileError`; a missing file
    raises ``FileNotFoundError`` as usual.

    Example::

        >>> import numpy as np, tempfile, pathlib
        >>> from retrograd.io import atomic_write_bytes
        >>> from retrograd.io.safetensors_format import encode_safetensors, read_safetensors
        >>> p = pathlib.Path(tempfile.mkdtemp()) / "t.safetensors"
        >>> _ = atomic_write_bytes(p, encode_safetensors({"w": np.arange(3.0)}, {}))
        >>> read_safetensors(p)[0]["w"]
        array([0., 1., 2.])
    """
    path = Path(os.fspath(path))
    what = _describe(path)
    with _open_regular(path, what) as f:
        size = os.fstat(f.fileno()).st_size
        entries, metadata, data_len = _open_header(f, size, what)
        data = f.read(data_len)
    if len(data) != data_len:
        raise _fail(what, "file shrank while being read")
    tensors: dict[str, np.ndarray] = {}
    for name, (code, shape, begin, end) in entries.items():
        dt = DTYPES[code]
        flat = np.frombuffer(data, dtype=dt, count=(end - begin) // dt.itemsize, offset=begin)
        if code == "BOOL" and flat.size and flat.view(np.uint8).max() > 1:
            raise _fail(what, f"tensor {name!r}: BOOL bytes other than 0 and 1")
        tensors[name] = flat.reshape(shape).astype(dt.newbyteorder("="), copy=True)
    return tensors, metadata
