"""Exact, pickle-free serialisation of nested Python state (optimizer, scheduler, RNG...).

:func:`encode_nested` turns a structure of dicts, lists, tuples, Python scalars, NumPy
arrays and NumPy scalars into (a) a JSON-able value and (b) a dict of arrays that go into
the safetensors tensors under generated keys. :func:`decode_nested` inverts it exactly:

- ``None``, ``bool``, ``int`` (any size: PCG64 states hold 128-bit ints), ``str`` and
  finite ``float`` are JSON as they are; ``inf``, ``-inf`` and ``nan`` are tagged.
- lists stay JSON arrays; every other container is a tagged JSON object, so a user dict
  whose keys happen to look like tags is never misread:

  ================================  ==============================================
  ``{"t": "dict", "k": [..], "v": [..]}``   a dict; keys are encoded values, so ``1``
                                            and ``"1"`` stay different keys, order kept
  ``{"t": "tuple", "v": [..]}``             a tuple
  ``{"t": "float", "v": "nan"}``            a non-finite float (``inf``/``-inf``/``nan``)
  ``{"t": "array", "key": "..."}``          an ndarray stored as a tensor
  ``{"t": "scalar", "key": "..."}``         a NumPy scalar (stored as a 0-d tensor)
  ``{"t": "tensor", "key": "...", "rg": b}``  a ``retrograd.Tensor`` (``rg``: requires_grad)
  ================================  ==============================================

Decoding validates every node and raises :class:`~retrograd.errors.ModelFileError` on
anything else; nothing named in the data is ever imported or called.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..errors import ModelFileError

__all__ = ["encode_nested", "decode_nested", "MAX_NESTING"]

MAX_NESTING = 48  # containers inside containers; each costs up to two JSON levels

_NONFINITE = {"inf": math.inf, "-inf": -math.inf, "nan": math.nan}


class _Encoder:
    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self.arrays: dict[str, np.ndarray] = {}

    def _store(self, arr: np.ndarray, where: str) -> str:
        if arr.dtype.kind not in "biuf" or arr.dtype.itemsize > 8:
            raise TypeError(
                f"encode: {where} is an array of dtype {arr.dtype}; only bool, int, uint "
                f"and float arrays can be stored"
            )
        key = f"{self.prefix}{len(self.arrays)}"
        self.arrays[key] = arr
        return key

    def encode(self, obj: Any, where: str, depth: int, active: set) -> Any:
        if depth > MAX_NESTING:
            raise ValueError(f"encode: {where} is nested deeper than {MAX_NESTING} levels")
        if isinstance(obj, np.generic):  # before float: np.float64 subclasses float
            return {"t": "scalar", "key": self._store(np.asarray(obj), where)}
        if obj is None or isinstance(obj, (bool, str)):
            return obj
        if isinstance(obj, int):
            return int(obj)  # int subclasses (IntEnum) become plain ints
        if isinstance(obj, float):
            if math.isfinite(obj):
                return float(obj)
            return {"t": "float", "v": "nan" if math.isnan(obj) else ("inf" if obj > 0 else "-inf")}
        if isinstance(obj, np.ndarray):
            return {"t": "array", "key": self._store(obj, where)}
        from ..autograd.tensor import Tensor

        if isinstance(obj, Tensor):
            key = self._store(obj.data, where)
            return {"t": "tensor", "key": key, "rg": bool(obj.requires_grad)}
        if isinstance(obj, (list, tuple, dict)):
            if id(obj) in active:
                raise ValueError(f"encode: {where} contains itself (a reference cycle)")
            active.add(id(obj))
            try:
                if isinstance(obj, dict):
                    keys, values = [], []
                    for k, v in obj.items():
                        plain = k is None or isinstance(k, (bool, int, float, str, tuple))
                        if not plain or isinstance(k, np.generic):
                            raise TypeError(
                                f"encode: {where} has a key of type {type(k).__name__}; "
                                f"keys must be Python str, int, float, bool, None or tuples of them"
                            )
                        keys.append(self.encode(k, f"{where}[key {k!r}]", depth + 1, active))
                        values.append(self.encode(v, f"{where}[{k!r}]", depth + 1, active))
                    return {"t": "dict", "k": keys, "v": values}
                items = [
                    self.encode(v, f"{where}[{i}]", depth + 1, active) for i, v in enumerate(obj)
                ]
                return items if isinstance(obj, list) else {"t": "tuple", "v": items}
            finally:
                active.discard(id(obj))
        raise TypeError(
            f"encode: {where} is a {type(obj).__module__}.{type(obj).__qualname__}; only None, "
            f"bool, int, float, str, list, tuple, dict, NumPy arrays/scalars and Tensors can be "
            f"saved (no pickle)"
        )


def encode_nested(obj: Any, prefix: str, name: str = "state") -> tuple[Any, dict[str, np.ndarray]]:
    """Encode ``obj`` into ``(json_value, arrays)``; array keys start with ``prefix``.

    Raises TypeError/ValueError naming the offending path (``state['history'][3]``).

    Example::

        >>> import numpy as np
        >>> from retrograd.io.nested import encode_nested, decode_nested
        >>> js, arrays = encode_nested({1: np.ones(2), "1": float("inf")}, "s/")
        >>> decode_nested(js, arrays, "example")
        {1: array([1., 1.]), '1': inf}
    """
    enc = _Encoder(prefix)
    return enc.encode(obj, name, 0, set()), enc.arrays


class _Decoder:
    def __init__(self, arrays: dict[str, np.ndarray], what: str) -> None:
        self.arrays = arrays
        self.what = what
        self.used: set[str] = set()

    def fail(self, where: str, msg: str) -> ModelFileError:
        return ModelFileError(f"{self.what}: {where}: {msg}")

    def _array(self, node: dict, where: str) -> np.ndarray:
        key = node.get("key")
        if not isinstance(key, str) or key not in self.arrays:
            raise self.fail(where, f"refers to a tensor {str(key)[:60]!r} the file lacks")
        if key in self.used:
            raise self.fail(where, f"tensor {key!r} is referenced twice")
        self.used.add(key)
        return self.arrays[key]

    def decode(self, node: Any, where: str, depth: int) -> Any:
        if depth > MAX_NESTING:
            raise self.fail(where, f"nested deeper than {MAX_NESTING} levels")
        if node is None or isinstance(node, (bool, int, str)):
            return node
        if isinstance(node, float):
            if not math.isfinite(node):
                raise self.fail(where, "non-finite float literal")
            return node
        if isinstance(node, list):
            return [self.decode(v, f"{where}[{i}]", depth + 1) for i, v in enumerate(node)]
        if not isinstance(node, dict):
            raise self.fail(where, f"unexpected JSON value of type {type(node).__name__}")
        tag = node.get("t")
        expected_keys = {
            "dict": {"t", "k", "v"},
            "tuple": {"t", "v"},
            "float": {"t", "v"},
            "array": {"t", "key"},
            "scalar": {"t", "key"},
            "tensor": {"t", "key", "rg"},
        }.get(tag if isinstance(tag, str) else "")
        if expected_keys is None:
            raise self.fail(where, f"unknown node tag {str(tag)[:40]!r}")
        if set(node) != expected_keys:
            raise self.fail(
                where, f"a {tag!r} node must have exactly the keys {sorted(expected_keys)}"
            )
        if tag == "dict":
            keys, values = node["k"], node["v"]
            if not isinstance(keys, list) or not isinstance(values, list):
                raise self.fail(where, "dict keys and values must be lists")
            if len(keys) != len(values):
                raise self.fail(where, f"{len(keys)} keys but {len(values)} values")
            out: dict = {}
            for i, (k, v) in enumerate(zip(keys, values)):
                key = self.decode(k, f"{where}[key {i}]", depth + 1)
                try:
                    hash(key)
                except TypeError:
                    raise self.fail(where, f"key {i} is not hashable") from None
                if isinstance(key, (np.generic, np.ndarray)) or key in out:
                    raise self.fail(where, f"key {i} is invalid or repeated")
                out[key] = self.decode(v, f"{where}[{key!r}]", depth + 1)
            return out
        if tag == "tuple":
            if not isinstance(node["v"], list):
                raise self.fail(where, "tuple items must be a list")
            return tuple(
                self.decode(v, f"{where}[{i}]", depth + 1) for i, v in enumerate(node["v"])
            )
        if tag == "float":
            if not isinstance(node["v"], str) or node["v"] not in _NONFINITE:
                raise self.fail(where, f"bad non-finite float {str(node['v'])[:20]!r}")
            return _NONFINITE[node["v"]]
        arr = self._array(node, where)
        if tag == "array":
            return arr
        if tag == "scalar":
            if arr.ndim != 0:
                raise self.fail(where, f"a scalar must be a 0-d tensor, got shape {arr.shape}")
            return arr[()]
        if not isinstance(node["rg"], bool):
            raise self.fail(where, "'rg' (requires_grad) must be a bool")
        from ..autograd.tensor import Tensor

        return Tensor(arr, requires_grad=node["rg"] and arr.dtype.kind == "f")


def decode_nested(
    node: Any, arrays: dict[str, np.ndarray], what: str, name: str = "state", strict: bool = True
) -> Any:
    """Invert :func:`encode_nested`; any malformation raises ModelFileError naming ``what``.

    With ``strict`` every array in ``arrays`` must be referenced exactly once.
    """
    decoder = _Decoder(arrays, what)
    try:
        out = decoder.decode(node, name, 0)
    except RecursionError:
        raise ModelFileError(f"{what}: {name} is nested too deeply") from None
    if strict and len(decoder.used) != len(arrays):
        stray = sorted(set(arrays) - decoder.used)[:5]
        raise ModelFileError(f"{what}: tensors {stray} belong to no part of {name}")
    return out
