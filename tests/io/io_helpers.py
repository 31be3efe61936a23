"""Helpers shared by the io tests and reusable by other layers' interop tests.

Import from another test directory with ``from tests.io.io_helpers import ...`` (run
pytest from the repository root) or copy the three lines you need.
"""

from __future__ import annotations

import json
import struct
from pathlib import Path
from typing import Any

import numpy as np

import retrograd as rg


def split_safetensors(blob: bytes) -> tuple[dict, bytes]:
    """``(header dict, data bytes)`` of a safetensors blob (no validation: for tests)."""
    (n,) = struct.unpack("<Q", blob[:8])
    return json.loads(blob[8 : 8 + n]), blob[8 + n :]


def join_safetensors(header: dict, data: bytes) -> bytes:
    """Inverse of :func:`split_safetensors` (lets tests craft hostile files)."""
    text = json.dumps(header).encode()
    return struct.pack("<Q", len(text)) + text + data


def edit_metadata(blob: bytes, fn: Any) -> bytes:
    """Apply ``fn`` to the parsed retrograd metadata JSON and re-encode the file."""
    header, data = split_safetensors(blob)
    meta = json.loads(header["__metadata__"]["retrograd"])
    meta = fn(meta)
    header["__metadata__"]["retrograd"] = meta if isinstance(meta, str) else json.dumps(meta)
    return join_safetensors(header, data)


def assert_same_state(a: Any, b: Any) -> None:
    """Two modules have bitwise-equal state_dicts (names, dtypes, values)."""
    sa, sb = a.state_dict(), b.state_dict()
    assert list(sa) == list(sb)
    for k in sa:
        assert sa[k].dtype == sb[k].dtype, k
        assert sa[k].shape == sb[k].shape, k
        np.testing.assert_array_equal(sa[k], sb[k], err_msg=k)


def assert_loads_in_torch(
    torch: Any, model: Any, torch_model: Any, x: np.ndarray, tmp_path: Path, atol: float = 1e-6
) -> None:
    """Save ``model`` with ``rg.save``; load it into ``torch_model``; compare outputs.

    The file is read with ``safetensors.torch.load_file`` and loaded with
    ``load_state_dict(strict=True)``, so names, shapes and layouts must be PyTorch's.
    ``x`` is a NumPy input; both models are put in eval mode. Also checks the way back:
    weights saved by PyTorch load into a fresh copy of ``model``.
    """
    from safetensors.torch import load_file, save_file

    path = tmp_path / "interop.safetensors"
    rg.save(model, path)
    state = load_file(str(path))
    torch_model.load_state_dict(state, strict=True)
    model.eval()
    torch_model.eval()
    with torch.no_grad():
        expected = torch_model(torch.from_numpy(x)).numpy()
    got = model(rg.tensor(x)).data
    assert got.shape == expected.shape
    np.testing.assert_allclose(got, expected, atol=atol, rtol=1e-5)

    back = tmp_path / "from_torch.safetensors"
    save_file({k: v.contiguous() for k, v in torch_model.state_dict().items()}, str(back))
    fresh = rg.load(path)
    for p in fresh.parameters():
        p.data = np.zeros_like(p.data)
    fresh.load_state_dict(rg.io.load_state_dict_file(back))
    fresh.eval()
    np.testing.assert_allclose(fresh(rg.tensor(x)).data, expected, atol=atol, rtol=1e-5)
