"""Fuzzing: mutated model files and checkpoints load correctly or raise ModelFileError.

Hypothesis mutates valid files (bit flips anywhere or in the header, truncations,
spliced-in bytes, deletions, structured edits of the header and metadata JSON) and
asserts that loading either returns a well-formed result or raises ModelFileError —
never another exception, a crash or a hang. Bounded: 400 examples per test by default
(a few seconds).
"""

from __future__ import annotations

import json
import os
import struct
from datetime import timedelta

import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

import retrograd as rg
from retrograd import nn

# RETROGRAD_FUZZ_EXAMPLES=20000 runs a longer campaign; the default keeps the suite fast.
FUZZ = settings(
    max_examples=int(os.environ.get("RETROGRAD_FUZZ_EXAMPLES", "400")),
    deadline=timedelta(seconds=60),
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    database=None,
)


def _model():
    return nn.Sequential(
        nn.Linear(3, 4),
        nn.Sequential(nn.LeakyReLU(0.1), nn.Dropout(0.2), nn.Linear(4, 2, bias=False)),
        nn.Softmax(dim=-1),
    )


@pytest.fixture(scope="module")
def model_blob(tmp_path_factory):
    path = tmp_path_factory.mktemp("fuzz") / "model.safetensors"
    rg.save(_model(), path, extra={"classes": np.arange(2), 3: "x"})
    return path.read_bytes()


@pytest.fixture(scope="module")
def checkpoint_blob(tmp_path_factory):
    path = tmp_path_factory.mktemp("fuzz") / "ckpt.safetensors"
    net = nn.Sequential(nn.Linear(2, 3), nn.Tanh(), nn.Linear(3, 1))
    opt = rg.optim.Adam(net.parameters(), lr=0.01)
    sched = rg.optim.lr_scheduler.StepLR(opt, step_size=1)
    net(rg.ones(1, 2)).sum().backward()
    opt.step()
    sched.step()
    rg.save_checkpoint(
        path,
        model=net,
        optimizer=opt,
        scheduler=sched,
        state={"epoch": 1, "hist": [0.5, float("nan")], 7: np.ones(2)},
    )
    return path.read_bytes()


# --------------------------------------------------------------- mutations
_json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False)
    | st.text(max_size=6)
    | st.sampled_from(["Linear", "Sequential", "F64", "BF16", "array", "dict", "t", "key"]),
    lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=4), c, max_size=3),
    max_leaves=6,
)


def _paths(obj, prefix=()):
    """Every path (tuple of keys/indices) into a parsed JSON value."""
    yield prefix
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield from _paths(v, prefix + (k,))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            yield from _paths(v, prefix + (i,))


def _edit_json(obj, data):
    """Replace or delete one node of a JSON value, chosen by hypothesis."""
    paths = list(_paths(obj))
    path = data.draw(st.sampled_from(paths[1:] if len(paths) > 1 else paths))
    if not path:
        return data.draw(_json_values)
    parent = obj
    for k in path[:-1]:
        parent = parent[k]
    if data.draw(st.booleans()) and isinstance(parent, dict):
        del parent[path[-1]]
    else:
        parent[path[-1]] = data.draw(_json_values)
    return obj


def _split(blob):
    (n,) = struct.unpack("<Q", blob[:8])
    return n, blob[8 : 8 + n], blob[8 + n :]


def _structure(blob: bytes):
    """``(n, header dict, metadata dict or None, rest)``, or None once the blob is broken."""
    try:
        n, header, rest = _split(blob)
        parsed = json.loads(header)
        meta = json.loads(parsed["__metadata__"]["retrograd"])
        return n, parsed, meta, rest
    except Exception:  # an earlier mutation broke it: only byte-level mutations apply
        return None


def _mutate(blob: bytes, data) -> bytes:
    if not blob:
        return data.draw(st.binary(max_size=16))
    kinds = ["flip", "header_flip", "truncate", "splice", "delete", "length"]
    structure = _structure(blob)
    if structure is not None:
        kinds += ["header_json", "metadata_json"] * 2
    kind = data.draw(st.sampled_from(kinds))
    n = struct.unpack("<Q", blob[:8])[0] if len(blob) >= 8 else 0
    if kind == "flip":
        bit = data.draw(st.integers(0, len(blob) * 8 - 1))
        out = bytearray(blob)
        out[bit // 8] ^= 1 << (bit % 8)
        return bytes(out)
    if kind == "header_flip":
        bit = data.draw(st.integers(0, min(8 + n, len(blob)) * 8 - 1))
        out = bytearray(blob)
        out[bit // 8] ^= 1 << (bit % 8)
        return bytes(out)
    if kind == "truncate":
        return blob[: data.draw(st.integers(0, len(blob) - 1))]
    if kind in ("splice", "delete"):
        start = data.draw(st.integers(0, len(blob)))
        stop = data.draw(st.integers(start, min(len(blob), start + 64)))
        new = b"" if kind == "delete" else data.draw(st.binary(max_size=32))
        return blob[:start] + new + blob[stop:]
    if kind == "length":
        value = data.draw(st.integers(0, 2**64 - 1) | st.integers(max(0, n - 16), n + 16))
        return struct.pack("<Q", value) + blob[8:]
    n, parsed, meta, rest = structure
    if kind == "header_json":
        parsed = _edit_json(parsed, data)
    else:
        parsed["__metadata__"]["retrograd"] = json.dumps(_edit_json(meta, data))
    text = json.dumps(parsed).encode()
    keep_length = data.draw(st.booleans()) and len(text) != n
    return struct.pack("<Q", n if keep_length else len(text)) + text + rest


def _mutated(blob, data):
    out = blob
    for _ in range(data.draw(st.integers(1, 3))):
        out = _mutate(out, data)
    return out


# ------------------------------------------------------------------- tests
@FUZZ
@given(data=st.data())
def test_fuzzed_model_files_load_or_raise_model_file_error(tmp_path, model_blob, data):
    path = tmp_path / "fuzzed.safetensors"
    path.write_bytes(_mutated(model_blob, data))
    try:
        model, extra = rg.load(path, with_extra=True)
    except rg.ModelFileError:
        event("refused")
    else:
        event("loaded")
        assert isinstance(model, nn.Module)
        state = model.state_dict()
        weights = rg.io.load_state_dict_file(path)
        assert sorted(state) == sorted(weights)
        for k, v in state.items():
            assert isinstance(v, np.ndarray) and v.shape == weights[k].shape
            assert v.dtype.kind == "f"
    for loader in (rg.io.load_state_dict_file, rg.io.safetensors_format.read_safetensors_header):
        try:
            loader(path)
        except rg.ModelFileError:
            pass


@FUZZ
@given(data=st.data())
def test_fuzzed_checkpoints_load_or_raise_model_file_error(tmp_path, checkpoint_blob, data):
    path = tmp_path / "fuzzed.safetensors"
    path.write_bytes(_mutated(checkpoint_blob, data))
    net = nn.Sequential(nn.Linear(2, 3), nn.Tanh(), nn.Linear(3, 1))
    opt = rg.optim.Adam(net.parameters(), lr=0.01)
    sched = rg.optim.lr_scheduler.StepLR(opt, step_size=1)
    try:
        state = rg.load_checkpoint(path, model=net, optimizer=opt, scheduler=sched)
    except rg.ModelFileError:
        event("refused")
        return
    event("loaded")
    # Loaded: the model has the right shapes; state decoded into plain Python/NumPy.
    assert [p.data.shape for p in net.parameters()] == [(3, 2), (3,), (1, 3), (1,)]
    assert state is None or isinstance(state, (dict, list, tuple, int, float, str, bool))


def test_fuzz_inputs_are_valid_before_mutation(tmp_path, model_blob, checkpoint_blob):
    # Guard: the unmutated files load, so the fuzz tests exercise real parsing paths.
    (tmp_path / "m.safetensors").write_bytes(model_blob)
    (tmp_path / "c.safetensors").write_bytes(checkpoint_blob)
    assert isinstance(rg.load(tmp_path / "m.safetensors"), nn.Sequential)
    net = nn.Sequential(nn.Linear(2, 3), nn.Tanh(), nn.Linear(3, 1))
    state = rg.load_checkpoint(tmp_path / "c.safetensors", model=net)
    assert state["epoch"] == 1 and np.isnan(state["hist"][1])
