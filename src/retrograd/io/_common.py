"""Pieces shared by model files and checkpoints: the metadata envelope and weight loading."""

from __future__ import annotations

import json
from typing import Any

import numpy as np

from .._version import __version__
from ..errors import ModelFileError
from .safetensors_format import strict_json_loads

FORMAT_VERSION = 1
META_KEY = "retrograd"  # the one __metadata__ entry holding retrograd's JSON


def make_metadata(kind: str, body: dict) -> dict[str, str]:
    """The ``__metadata__`` dict: ``format=pt`` (PyTorch names/layouts) + one JSON string."""
    envelope = {
        "kind": kind,
        "format_version": FORMAT_VERSION,
        "retrograd_version": __version__,
        **body,
    }
    text = json.dumps(envelope, allow_nan=False, separators=(",", ":"), ensure_ascii=True)
    return {"format": "pt", META_KEY: text}


def parse_metadata(metadata: dict, kind: str, required: dict[str, Any], what: str) -> dict:
    """Validate the envelope; ``required`` maps each body key to a type check (or None)."""
    if META_KEY not in metadata:
        raise ModelFileError(
            f"{what}: no {META_KEY!r} entry in the safetensors metadata, so the architecture "
            f"is unknown (not written by retrograd?); load the weights alone with "
            f"retrograd.io.load_state_dict_file()"
        )
    meta = strict_json_loads(metadata[META_KEY], f"{what} metadata")
    if not isinstance(meta, dict):
        raise ModelFileError(f"{what}: metadata is a JSON {type(meta).__name__}, expected object")
    got_kind = meta.get("kind")
    if got_kind != kind:
        hint = {
            "checkpoint": "; it is a checkpoint: use retrograd.load_checkpoint()",
            "model": "; it is a model file: use retrograd.load()",
        }.get(got_kind if isinstance(got_kind, str) else "", "")
        raise ModelFileError(
            f"{what}: expected a retrograd {kind} file, found kind {str(got_kind)[:40]!r}{hint}"
        )
    version = meta.get("format_version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise ModelFileError(f"{what}: invalid format_version {str(version)[:40]!r}")
    if version > FORMAT_VERSION:
        raise ModelFileError(
            f"{what}: written in format version {version} by retrograd "
            f"{str(meta.get('retrograd_version'))[:40]}; this retrograd ({__version__}) reads "
            f"format {FORMAT_VERSION}. Upgrade retrograd to load it"
        )
    if not isinstance(meta.get("retrograd_version"), str):
        raise ModelFileError(f"{what}: 'retrograd_version' must be a string")
    expected = {"kind", "format_version", "retrograd_version", *required}
    unknown = sorted(set(meta) - expected)
    missing = sorted(set(expected) - set(meta))
    if unknown or missing:
        raise ModelFileError(
            f"{what}: metadata has unknown keys {unknown[:10]} and lacks {missing}"
        )
    for key, check in required.items():
        if check is not None and not check(meta[key]):
            raise ModelFileError(f"{what}: metadata entry {key!r} has an invalid value")
    return meta


def state_targets(model: Any) -> dict:
    """``{state_dict name: Tensor}`` for parameters and persistent buffers, in order."""
    out = {}
    for mname, mod in model.named_modules():
        for n, p in mod._parameters.items():
            if p is not None:
                out[f"{mname}.{n}" if mname else n] = p
        for n, b in mod._buffers.items():
            if b is not None and n not in mod._non_persistent:
                out[f"{mname}.{n}" if mname else n] = b
    return out


def _kind(dt: np.dtype) -> str:
    return {"f": "float", "i": "int", "u": "int", "b": "bool"}.get(dt.kind, dt.kind)


def check_state(model: Any, arrays: dict[str, np.ndarray], what: str) -> dict:
    """Check names, shapes and dtype kinds of ``arrays`` against ``model``; no mutation."""
    targets = state_targets(model)
    missing = [k for k in targets if k not in arrays]
    unexpected = [k for k in arrays if k not in targets]
    if missing or unexpected:
        raise ModelFileError(
            f"{what}: the weights do not fit {type(model).__name__}: missing "
            f"{missing[:10]}{'...' if len(missing) > 10 else ''}, unexpected "
            f"{unexpected[:10]}{'...' if len(unexpected) > 10 else ''}"
        )
    for k, t in targets.items():
        arr = arrays[k]
        if arr.shape != t.data.shape:
            raise ModelFileError(
                f"{what}: {k!r} has shape {arr.shape} in the file but {t.data.shape} in the model"
            )
        if _kind(arr.dtype) != _kind(t.data.dtype):
            raise ModelFileError(
                f"{what}: {k!r} has dtype {arr.dtype} in the file but {t.data.dtype} in the model"
            )
    return targets


def assign_state(targets: dict, arrays: dict[str, np.ndarray], keep_file_dtype: bool) -> None:
    """Put checked arrays in (after :func:`check_state`, so this cannot fail half-way).

    With ``keep_file_dtype`` the arrays themselves are used: they must be fresh copies
    owned by nobody else (as :func:`read_safetensors` returns them).
    """
    for k, t in targets.items():
        arr = arrays[k]
        if keep_file_dtype:
            t.data = arr
        else:
            t.data = arr.astype(t.data.dtype, copy=True)
        t.grad = None


def is_bool(v: Any) -> bool:
    return isinstance(v, bool)


def is_opt_str(v: Any) -> bool:
    return v is None or isinstance(v, str)
