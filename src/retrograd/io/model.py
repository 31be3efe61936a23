"""``rg.save`` / ``rg.load``: a whole model (architecture + weights) in one safetensors file."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ModelFileError
from ._common import (
    META_KEY,
    assign_state,
    check_state,
    is_bool,
    make_metadata,
    parse_metadata,
)
from .atomic import atomic_write_bytes
from .nested import decode_nested, encode_nested
from .registry import config_to_module, estimate_numel, module_to_config
from .safetensors_format import encode_safetensors, read_safetensors, strict_json_loads

__all__ = ["save", "load", "load_state_dict_file", "save_state_dict"]

EXTRA_PREFIX = "__extra__."  # tensors of the optional ``extra`` payload


def save(model: Any, path: str | os.PathLike, *, extra: Any = None) -> Path:
    """Save ``model`` (architecture and weights) to a safetensors file, atomically.

    Tensors are stored under their ``state_dict`` names (PyTorch's names and layouts), the
    architecture as JSON in the header. Every class in the model must be registered
    (all built-in layers are; see :func:`retrograd.io.register_module`). ``extra`` is an
    optional nested structure (dicts, lists, scalars, arrays) stored alongside, returned
    by ``load(path, with_extra=True)``; its arrays are tensors named ``__extra__.<n>``.

    Example::

        >>> import tempfile, pathlib, retrograd as rg
        >>> net = rg.nn.Sequential(rg.nn.Linear(3, 4), rg.nn.Tanh(), rg.nn.Linear(4, 1))
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "net.safetensors"
        >>> _ = rg.save(net, path)
        >>> again = rg.load(path)
        >>> bool((again[0].weight.data == net[0].weight.data).all())
        True
    """
    from ..nn.module import Module

    if not isinstance(model, Module):
        hint = ""
        if isinstance(model, dict):
            hint = (
                "; to save a state_dict (weights only), use rg.io.save_state_dict(state_dict, path)"
            )
        raise TypeError(
            f"save: model must be a retrograd.nn.Module, got {type(model).__name__}{hint}"
        )
    architecture = module_to_config(model)
    tensors = dict(model.state_dict())
    clash = [k for k in tensors if k.startswith(EXTRA_PREFIX)]
    if clash:
        raise ValueError(f"save: state_dict names {clash} use the reserved prefix {EXTRA_PREFIX!r}")
    extra_json, extra_arrays = encode_nested(extra, EXTRA_PREFIX, "extra")
    tensors.update(extra_arrays)
    body = {"architecture": architecture, "training": bool(model.training), "extra": extra_json}
    blob = encode_safetensors(tensors, make_metadata("model", body))
    return atomic_write_bytes(path, blob)


def load(path: str | os.PathLike, *, with_extra: bool = False) -> Any:
    """Rebuild a model saved by :func:`save`; with ``with_extra``, return ``(model, extra)``.

    Safe on untrusted files: the file is validated in full before anything is built, the
    architecture is rebuilt only from registered classes (never importing or calling
    anything the file names), sizes are checked against the file before allocating, and
    every problem raises :class:`retrograd.ModelFileError`. Weights keep the dtype they
    were saved with; the model comes back in the train/eval mode it was saved in.

    Example::

        >>> import tempfile, pathlib, retrograd as rg
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "lin.safetensors"
        >>> _ = rg.save(rg.nn.Linear(2, 3), path)
        >>> rg.load(path)
        Linear(in_features=2, out_features=3, bias=True)
    """
    path = Path(os.fspath(path))
    what = f"model file {str(path)!r}"
    tensors, metadata = read_safetensors(path)
    meta = parse_metadata(
        metadata, "model", {"architecture": None, "training": is_bool, "extra": None}, what
    )
    extra_arrays = {k: v for k, v in tensors.items() if k.startswith(EXTRA_PREFIX)}
    weights = {k: v for k, v in tensors.items() if not k.startswith(EXTRA_PREFIX)}
    extra = decode_nested(meta["extra"], extra_arrays, what, "extra")
    # Refuse an architecture that announces more elements than the file holds before
    # constructing (and so allocating) anything.
    announced = estimate_numel(meta["architecture"], what)
    held = sum(int(a.size) for a in weights.values())
    if announced > held:
        raise ModelFileError(
            f"{what}: the architecture needs at least {announced} weights but the file holds {held}"
        )
    model = config_to_module(meta["architecture"], what)
    targets = check_state(model, weights, what)
    assign_state(targets, weights, keep_file_dtype=True)
    model.train(meta["training"])
    return (model, extra) if with_extra else model


def load_state_dict_file(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """The weights of a model file or checkpoint as ``{state_dict name: ndarray}``.

    Works on any safetensors file (also one written by PyTorch), so weights can go into a
    model you build yourself: ``model.load_state_dict(load_state_dict_file(path))``. For a
    retrograd checkpoint, the model's weights are returned (without optimizer state); for
    a retrograd model file, without the ``extra`` tensors. Raises ModelFileError on a
    malformed file.

    Example::

        >>> import tempfile, pathlib, retrograd as rg
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "lin.safetensors"
        >>> _ = rg.save(rg.nn.Linear(2, 3), path)
        >>> sorted(rg.io.load_state_dict_file(path))
        ['bias', 'weight']
    """
    path = Path(os.fspath(path))
    tensors, metadata = read_safetensors(path)
    kind = None
    if META_KEY in metadata:
        meta = strict_json_loads(metadata[META_KEY], f"safetensors file {str(path)!r} metadata")
        kind = meta.get("kind") if isinstance(meta, dict) else None
    if kind == "checkpoint":
        from .checkpoint import MODEL_PREFIX

        n = len(MODEL_PREFIX)
        return {k[n:]: v for k, v in tensors.items() if k.startswith(MODEL_PREFIX)}
    if kind == "model":
        return {k: v for k, v in tensors.items() if not k.startswith(EXTRA_PREFIX)}
    return tensors


def save_state_dict(
    state_dict: Any, path: str | os.PathLike, *, metadata: dict[str, str] | None = None
) -> Path:
    """Save weights only (``{name: array}``, e.g. ``model.state_dict()``) to a plain
    safetensors file, atomically; returns the path.

    The file holds no architecture: load it into a model you build with
    ``model.load_state_dict(rg.io.load_state_dict_file(path))``, or in PyTorch with
    ``safetensors.torch.load_file(path)`` (the names and layouts are PyTorch's).
    ``metadata`` is an optional ``{str: str}`` dict stored in the header (``format`` is
    set to ``"pt"``, as PyTorch's writer does, unless given). Arrays and Tensors are
    accepted; each is stored with its own dtype.

    Example::

        >>> import tempfile, pathlib, retrograd as rg
        >>> net = rg.nn.Linear(3, 2)
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "weights.safetensors"
        >>> _ = rg.io.save_state_dict(net.state_dict(), path)
        >>> w = rg.io.load_state_dict_file(path)
        >>> sorted(w), bool((w["weight"] == net.weight.data).all())
        (['bias', 'weight'], True)
    """
    from ..nn.module import Module

    if isinstance(state_dict, Module):
        raise TypeError(
            "save_state_dict: got a Module; pass model.state_dict(), or save the whole "
            "model with rg.save(model, path)"
        )
    if not hasattr(state_dict, "items"):
        raise TypeError(
            "save_state_dict: state_dict must be a mapping of names to arrays, got "
            f"{type(state_dict).__name__}"
        )
    tensors = {}
    for name, value in state_dict.items():
        if not isinstance(name, str) or not name:
            raise TypeError(f"save_state_dict: names must be non-empty strings, got {name!r}")
        arr = getattr(value, "data", value) if not isinstance(value, np.ndarray) else value
        arr = np.asarray(arr)
        if arr.dtype.kind not in "biuf":
            raise TypeError(
                f"save_state_dict: {name!r} has dtype {arr.dtype}, expected numbers or bools"
            )
        tensors[name] = arr
    meta = {"format": "pt"}
    if metadata is not None:
        if not all(isinstance(k, str) and isinstance(v, str) for k, v in metadata.items()):
            raise TypeError("save_state_dict: metadata must map str to str")
        meta.update(metadata)
    if META_KEY in meta:
        raise ValueError(f"save_state_dict: the metadata key {META_KEY!r} is reserved")
    return atomic_write_bytes(path, encode_safetensors(tensors, meta))
